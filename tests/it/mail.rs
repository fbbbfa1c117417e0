//! Mail, end to end against a real SMTP server on loopback (aiosmtpd): who gets what on create, edit,
//! answer and delete; headers, envelope, MIME structure and iTIP parts; hostile values; reminders with
//! a clock the test controls (once, never to decliners, not after a restart, not for a moved date);
//! the per-owner limit; an SMTP outage.

use jmb::clock::Clock;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;
use crate::smtp::{Received, SmtpSink, free_port, subjects};

async fn app_with_sink(sink_port: u16, tweak: impl FnOnce(&mut jmb::config::Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.mail.transport = jmb::config::MailTransportKind::Smtp;
        c.mail.smtp_url = format!("smtp://127.0.0.1:{sink_port}");
        c.mail.smtp_timeout_seconds = 5;
        c.mail.retry_initial_seconds = 1;
        tweak(c);
    })
    .await
}

fn to(mails: &[Received], rcpt: &str) -> Vec<usize> {
    mails.iter().enumerate().filter(|(_, m)| m.rcpt() == rcpt).map(|(i, _)| i).collect()
}

fn one<'a>(mails: &'a [Received], rcpt: &str) -> &'a Received {
    let found = to(mails, rcpt);
    assert_eq!(found.len(), 1, "{rcpt}: {:?}", subjects(mails));
    &mails[found[0]]
}

/// iCalendar text unfolded, whatever its line ends (the sink stores Maildir files with LF).
fn unfold(ics: &str) -> String {
    ics.replace("\r\n", "\n").replace("\n ", "")
}

/// The value of an iCalendar property (first line, unfolded).
fn prop(ics: &str, name: &str) -> String {
    let unfolded = unfold(ics);
    unfolded
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .or_else(|| l.strip_prefix(&format!("{name};")).map(|r| r.split_once(':').map_or("", |x| x.1)))
        })
        .unwrap_or_default()
        .to_string()
}

fn attendees_of(ics: &str) -> Vec<String> {
    unfold(ics)
        .lines()
        .filter(|l| l.starts_with("ATTENDEE"))
        .map(|l| l.rsplit_once("mailto:").map(|(_, m)| m.to_string()).unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn create_edit_answer_delete_send_the_right_mails() {
    let sink = SmtpSink::start();
    let app = app_with_sink(sink.port, |_| {}).await;
    let m = app.book("jdupont", meeting_body()).await;
    let uid = m["uid"].as_str().unwrap().to_string();
    let tokens: Vec<(String, String)> = m["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["role"] != "owner")
        .map(|a| (a["mail"].as_str().unwrap().to_string(), path_of(a["join_url"].as_str().unwrap())))
        .collect();
    let mails = sink.wait_for(6).await;
    assert_eq!(mails.len(), 6, "the owner and five invitees: {:?}", subjects(&mails));

    // The owner's copy: a confirmation with the start link, iTIP PUBLISH without attendees.
    let owner = one(&mails, "jean.dupont@example.org");
    assert_eq!(owner.subject(), "Réservation visioconférence : Réunion de l'équipe");
    let (ics, method) = owner.calendar().expect("a calendar part");
    assert_eq!((method.as_str(), prop(&ics, "METHOD").as_str()), ("PUBLISH", "PUBLISH"));
    assert!(attendees_of(&ics).is_empty());
    assert!(owner.text().contains(&format!("https://meet.example.org/m/{}", m["room"].as_str().unwrap())));

    for (mail, join) in &tokens {
        let msg = one(&mails, mail);
        // Headers: the same for every mail.
        assert_eq!(msg.header("X-MailFrom"), "noreply@meet.example.org", "envelope sender");
        let parsed = msg.parsed();
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!((from.name(), from.address()), (Some("Jitsi Meet"), Some("noreply@meet.example.org")));
        let reply = parsed.reply_to().unwrap().first().unwrap();
        assert_eq!(reply.address(), Some("jean.dupont@example.org"), "replies reach the organiser");
        assert_eq!(parsed.to().unwrap().first().unwrap().address(), Some(mail.as_str()));
        assert_eq!(msg.header("Auto-Submitted"), "auto-generated");
        assert!(parsed.message_id().unwrap().ends_with("@meet.example.org"), "{:?}", parsed.message_id());
        assert_eq!(msg.subject(), "Invitation visioconférence : Réunion de l'équipe");
        assert_eq!(msg.header("Content-Language"), "fr");
        // Structure: text, HTML and the calendar part as alternatives, and the same bytes attached.
        let structure = msg.structure();
        for t in
            ["multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/calendar", "application/ics"]
        {
            assert!(structure.contains(&t.to_string()), "{mail}: {structure:?}");
        }
        let (ics, method) = msg.calendar().unwrap();
        assert_eq!(method, "REQUEST");
        // (The sink stores Maildir files with LF line ends: compare modulo those.)
        let attached = msg.attachment_ics().unwrap();
        assert_eq!(attached.replace("\r\n", "\n"), ics.replace("\r\n", "\n"), "the attachment is the same iTIP object");
        assert_eq!(prop(&ics, "METHOD"), "REQUEST");
        assert_eq!(prop(&ics, "UID"), uid, "the meeting's UID, as in the feed and CalDAV");
        assert_eq!(prop(&ics, "SEQUENCE"), "0");
        assert_eq!(attendees_of(&ics), std::slice::from_ref(mail), "only the recipient is an attendee: {ics:?}");
        // Their own links, nobody else's.
        let text = msg.text();
        let html = msg.html();
        assert!(text.contains(&format!("https://meet.example.org{join}")), "{mail}: {text}");
        assert!(html.contains(&format!("https://meet.example.org{join}")));
        assert!(ics.contains(&format!("https://meet.example.org{join}")));
        let rsvp = join.replace("/j/", "/rsvp/");
        assert!(text.contains(&format!("{rsvp}?answer=accept")) && text.contains(&format!("{rsvp}?answer=decline")));
        for (other, other_join) in &tokens {
            if other != mail {
                let secret = other_join.trim_start_matches("/j/");
                assert!(!String::from_utf8_lossy(&msg.raw).contains(secret), "{mail}'s mail holds {other}'s link");
            }
        }
        // The internal footer for the organisation's addresses only.
        let internal = mail.ends_with("@example.org");
        assert_eq!(text.contains("https://meet.example.org/meetings"), internal, "{mail}");
    }
    let moderator = one(&mails, "ext.mod@partner.net");
    assert!(moderator.text().contains("animer"), "moderators are told they moderate");

    // Edit: the date moves, a guest is removed, one is added.
    let id = m["id"].as_str().unwrap();
    let mut body = meeting_body();
    body["start"] = json!("2026-12-07T09:00:00Z");
    body["guests"] = json!(["guest.one+jmb@example.com", "paul.visiteur@example.org", "newcomer@example.net"]);
    let (s, _) = app.api(Method::PUT, &format!("/api/v1/meetings/{id}"), "jdupont", Some(body)).await;
    assert_eq!(s, 200);
    // The owner, four updates, one invitation, one cancellation.
    let mails = sink.wait_for(6 + 7).await;
    let new = &mails[6..];
    assert_eq!(new.len(), 7, "{:?}", subjects(new));
    assert_eq!(
        one(new, "jean.dupont@example.org").subject(),
        "Réservation visioconférence (mise à jour) : Réunion de l'équipe"
    );
    for kept in
        ["marie.martin@example.org", "ext.mod@partner.net", "guest.one+jmb@example.com", "paul.visiteur@example.org"]
    {
        let msg = one(new, kept);
        assert_eq!(msg.subject(), "Invitation visioconférence (mise à jour) : Réunion de l'équipe");
        let (ics, _) = msg.calendar().unwrap();
        assert_eq!((prop(&ics, "UID"), prop(&ics, "SEQUENCE")), (uid.clone(), "1".to_string()));
        assert_eq!(prop(&ics, "DTSTART"), "20261207T090000Z");
        assert!(msg.text().contains("lundi 7 décembre 2026"), "{}", msg.text());
    }
    assert_eq!(one(new, "newcomer@example.net").subject(), "Invitation visioconférence : Réunion de l'équipe");
    // The removed guest: a cancellation of the meeting as they knew it (the old date), for them alone.
    let gone = one(new, "guest.two@example.com");
    assert_eq!(gone.subject(), "Invitation visioconférence annulée : Réunion de l'équipe");
    let (ics, method) = gone.calendar().unwrap();
    assert_eq!((method.as_str(), prop(&ics, "STATUS").as_str()), ("CANCEL", "CANCELLED"));
    assert_eq!(attendees_of(&ics), ["guest.two@example.com"]);
    assert_eq!((prop(&ics, "SEQUENCE"), prop(&ics, "DTSTART")), ("1".to_string(), "20261205T090000Z".to_string()));
    assert!(gone.text().contains("samedi 5 décembre 2026") && gone.text().contains("retiré"), "{}", gone.text());

    // A change of nothing that matters (the same booking again) tells only the owner.
    let (_, now_m) = app.api(Method::GET, &format!("/api/v1/meetings/{id}"), "jdupont", None).await;
    let mut same = meeting_body();
    same["start"] = json!("2026-12-07T09:00:00Z");
    same["guests"] = json!(["guest.one+jmb@example.com", "paul.visiteur@example.org", "newcomer@example.net"]);
    let (s, _) = app.api(Method::PUT, &format!("/api/v1/meetings/{id}"), "jdupont", Some(same)).await;
    assert_eq!(s, 200);
    let mails = sink.wait_for(14).await;
    assert_eq!(mails.len(), 14, "{:?}", subjects(&mails));
    assert_eq!(mails[13].rcpt(), "jean.dupont@example.org");
    assert_eq!(now_m["sequence"], 1);

    // An answer: the organiser is told.
    let (s, _) = app
        .api(Method::POST, &format!("/api/v1/meetings/{id}/answer"), "visitor", Some(json!({"answer": "tentative"})))
        .await;
    assert_eq!(s, 200);
    let mails = sink.wait_for(15).await;
    let told = &mails[14];
    assert_eq!(told.rcpt(), "jean.dupont@example.org");
    assert!(told.subject().starts_with("Réponse de Paul Visiteur"), "{}", told.subject());
    assert!(told.text().contains("« peut-être »"), "{}", told.text());
    assert!(told.calendar().is_none());

    // Delete: the owner and every attendee left, each a cancellation at the next sequence.
    let (s, _) = app.api(Method::DELETE, &format!("/api/v1/meetings/{id}"), "jdupont", None).await;
    assert_eq!(s, 204);
    let mails = sink.wait_for(15 + 6).await;
    let last = &mails[15..];
    assert_eq!(last.len(), 6, "{:?}", subjects(last));
    for m in last.iter().filter(|m| m.rcpt() != "jean.dupont@example.org") {
        let (ics, method) = m.calendar().unwrap();
        assert_eq!(
            (method.as_str(), prop(&ics, "STATUS").as_str(), prop(&ics, "SEQUENCE").as_str()),
            ("CANCEL", "CANCELLED", "2")
        );
        assert_eq!(attendees_of(&ics), [m.rcpt()]);
    }
    let owner = one(last, "jean.dupont@example.org");
    assert_eq!(owner.subject(), "Réservation visioconférence annulée : Réunion de l'équipe");
    app.stop().await;
}

/// Subjects, names and addresses a user typed never break a header, and HTML is escaped.
#[tokio::test]
async fn hostile_values_stay_inside_their_headers() {
    let sink = SmtpSink::start();
    let app = app_with_sink(sink.port, |c| c.booking.max_subject_chars = 200).await;
    let subject: String = format!("<script>alert(1)</script> =?utf-8?q?Bcc:_evil@x.org?= {}", "é".repeat(200))
        .chars()
        .take(200)
        .collect();
    let body = json!({
        "subject": subject,
        "start": "2026-12-05T09:00:00Z",
        "duration": 60,
        "guests": ["\"=?utf-8?b?QmNjOiBldmlsQHgub3Jn?= <script>\" <odd@example.net>", "\"Zoë \\\"Z\\\" Núñez\" <zoe@partner.net>"]
    });
    app.book("jdupont", body).await;
    let mails = sink.wait_for(3).await;
    for m in &mails {
        assert!(m.subject().ends_with(&subject), "{:?} vs {subject:?}", m.subject());
        let raw = String::from_utf8_lossy(&m.raw);
        let head = raw.split("\r\n\r\n").next().unwrap();
        assert!(!head.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "no injected header: {head}");
        assert!(head.lines().all(|l| l.len() <= 998), "RFC 5322 line length");
        let html = m.html();
        assert!(!html.contains("<script>"), "HTML escaped: {html}");
        assert!(html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"), "{html}");
    }
    let odd = one(&mails, "odd@example.net");
    let name = odd.parsed().to().unwrap().first().unwrap().name().unwrap().to_string();
    assert_eq!(name, "=?utf-8?b?QmNjOiBldmlsQHgub3Jn?= <script>", "the name as typed, not decoded twice");
    let zoe = one(&mails, "zoe@partner.net");
    assert!(zoe.parsed().to().unwrap().first().unwrap().name().unwrap().contains("Núñez"));
    app.stop().await;
}

/// Reminders with a clock the test moves: once, never to someone who declined, not again after a
/// restart, not for a date the meeting left, and dropped when jmb was down past the start.
#[tokio::test]
async fn reminders_fire_once_at_their_time() {
    let sink = SmtpSink::start();
    let app = app_with_sink(sink.port, |c| c.mail.reminder_minutes = vec![10080, 1440, 60]).await;
    let m = app.book("jdupont", meeting_body()).await; // 2026-12-05 09:00, booked 2026-12-01 08:00
    let id = m["id"].as_str().unwrap().to_string();
    let (s, _) = app
        .api(Method::POST, &format!("/api/v1/meetings/{id}/answer"), "visitor", Some(json!({"answer": "decline"})))
        .await;
    assert_eq!(s, 200);
    let before = sink.wait_for(7).await.len(); // 6 invitations + 1 answer
    let count = |table: &'static str| app.count(table);
    assert_eq!(
        count("SELECT COUNT(*) FROM reminders WHERE done_at IS NULL").await,
        2,
        "the one-week reminder was already past"
    );

    let deps = jmb::app::job_deps(&app.state);
    let due = |t: &str| {
        app.set_now(t);
        let deps = deps.clone();
        let now = app.clock.now();
        async move { jmb::jobs::send_due_reminders(&deps, now).await.unwrap() }
    };
    assert_eq!(due("2026-12-04T08:59:59Z").await.sent, 0, "not yet");
    let o = due("2026-12-04T09:00:00Z").await;
    assert_eq!((o.sent, o.mails), (1, 5), "the owner and four attendees, not the one who declined");
    let mails = sink.wait_for(before + 5).await;
    let reminders = &mails[before..];
    assert!(to(reminders, "paul.visiteur@example.org").is_empty(), "{:?}", subjects(reminders));
    let owner = one(reminders, "jean.dupont@example.org");
    assert_eq!(owner.subject(), "Rappel : vous organisez une visioconférence : Réunion de l'équipe");
    assert!(
        owner.text().contains("Déclinée") && owner.text().contains("paul.visiteur@example.org"),
        "{}",
        owner.text()
    );
    assert_eq!(
        one(reminders, "guest.one+jmb@example.com").subject(),
        "Rappel : vous participez à une visioconférence : Réunion de l'équipe"
    );
    assert_eq!(
        one(reminders, "ext.mod@partner.net").subject(),
        "Rappel : vous animez une visioconférence : Réunion de l'équipe"
    );
    assert_eq!(due("2026-12-04T09:00:05Z").await.sent, 0, "once");

    // Another process on the same store (a restart) sends nothing again.
    let restarted = jmb::app::build_state((*app.state.config).clone(), app.clock.clone()).unwrap();
    let o = jmb::jobs::send_due_reminders(&jmb::app::job_deps(&restarted), app.clock.now()).await.unwrap();
    assert_eq!(o.sent, 0);

    // The meeting moves a day later: the old one-hour reminder never fires, the new one does.
    app.set_now("2026-12-04T10:00:00Z");
    let mut moved = meeting_body();
    moved["start"] = json!("2026-12-06T09:00:00Z");
    let (s, _) = app.api(Method::PUT, &format!("/api/v1/meetings/{id}"), "jdupont", Some(moved)).await;
    assert_eq!(s, 200);
    let after_move = sink.wait_for(before + 5 + 6).await.len();
    assert_eq!(due("2026-12-05T08:00:00Z").await.sent, 0, "the old date's reminder is gone");
    assert_eq!(due("2026-12-05T09:00:00Z").await.sent, 1, "the 24-hour reminder of the new date");
    let _ = sink.wait_for(after_move + 5).await;
    // jmb down from before the one-hour reminder until after the start: dropped, not sent late.
    let o = due("2026-12-06T09:30:00Z").await;
    assert_eq!((o.sent, o.missed), (0, 1));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.mails().len(), after_move + 5, "{:?}", subjects(&sink.mails()));
    app.stop().await;
}

#[tokio::test]
async fn one_owner_cannot_send_more_than_the_hourly_limit() {
    let sink = SmtpSink::start();
    let app = app_with_sink(sink.port, |c| {
        (c.booking.max_guests, c.booking.max_moderators) = (3, 2);
        c.mail.max_invitations_per_owner_per_hour = 7;
    })
    .await;
    app.book("jdupont", meeting_body()).await; // five invitations
    let resp = app
        .client
        .post(app.url("/api/v1/meetings"))
        .headers(TestApp::as_user("jdupont"))
        .json(&meeting_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3600");
    let problem: Value = resp.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("7 invitations"), "{problem}");
    assert_eq!(app.count("SELECT COUNT(*) FROM meetings").await, 1, "nothing of the refused booking is stored");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 6);
    // Over the limit, the owner can still call a meeting off (its cancellations count, never refuse).
    let first = app.api(Method::GET, "/api/v1/meetings", "jdupont", None).await.1;
    let id = first["meetings"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = app.api(Method::DELETE, &format!("/api/v1/meetings/{id}"), "jdupont", None).await;
    assert_eq!(s, 204);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'cancellation'").await, 5);
    // Another owner is not affected; an hour later the first one books again.
    app.book("mmartin", meeting_body()).await;
    app.set_now("2026-12-01T09:00:01Z");
    app.book("jdupont", meeting_body()).await;
    app.stop().await;
}

/// The mail server is down for a while: bookings go on, and once it is back every mail arrives once.
#[tokio::test]
async fn an_smtp_outage_delays_mails_without_losing_or_doubling_them() {
    let port = free_port();
    let app = app_with_sink(port, |_| {}).await;
    let m = app.book("jdupont", meeting_body()).await;
    assert_eq!(m["attendees"].as_array().unwrap().len(), 6, "booked while the server is down");
    // Wait until the worker tried and scheduled a retry.
    for _ in 0..100 {
        if app.count("SELECT COUNT(*) FROM outbox WHERE attempts > 0 AND status = 'pending'").await == 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE attempts > 0 AND status = 'pending'").await, 6);
    let sink = SmtpSink::start_on(port);
    app.set_now("2026-12-01T08:00:02Z");
    // Any write wakes the worker; another booking does.
    app.book("mmartin", meeting_body()).await;
    // Six for the first booking, five for mmartin's (she is its owner, not a moderator).
    let mails = sink.wait_for(11).await;
    assert_eq!(mails.len(), 11, "{:?}", subjects(&mails));
    let mut ids: Vec<String> = mails.iter().map(|m| m.parsed().message_id().unwrap().to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 11, "each mail once");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE status <> 'sent'").await, 0);
    app.stop().await;
}

/// Mails carry personal links: behind a real sign-in, even with mails kept in the store, no page shows them.
#[tokio::test]
async fn the_mailbox_pages_exist_only_for_the_demo() {
    let app = TestApp::spawn().await;
    app.book("jdupont", meeting_body()).await;
    assert!(app.count("SELECT COUNT(*) FROM outbox").await > 0);
    for path in ["/mailbox", "/mailbox/1.eml"] {
        assert_eq!(app.get_as(path, "jdupont").await.status(), 404, "{path}");
    }
    app.stop().await;
}

/// The reminder job runs by itself: it sleeps until the next reminder is due and wakes on any commit,
/// so a reminder goes out without anything calling it, once.
#[tokio::test]
async fn the_reminder_job_sends_due_reminders_by_itself() {
    let sink = SmtpSink::start();
    let app = app_with_sink(sink.port, |c| c.mail.reminder_minutes = vec![60]).await;
    let m = app.book("jdupont", meeting_body()).await; // 2026-12-05 09:00
    let before = sink.wait_for(6).await.len();
    // The clock jumps to the due time; a commit (an answer) wakes the job, which reads the new time.
    app.set_now("2026-12-05T08:00:00Z");
    let id = m["id"].as_str().unwrap();
    let (s, _) = app
        .api(Method::POST, &format!("/api/v1/meetings/{id}/answer"), "visitor", Some(json!({"answer": "accept"})))
        .await;
    assert_eq!(s, 200);
    // Six reminders (the owner and five invitees) and the answer to the organiser.
    let mails = sink.wait_for(before + 7).await;
    let reminders = mails[before..].iter().filter(|m| m.subject().starts_with("Rappel")).count();
    assert_eq!(reminders, 6, "{:?}", subjects(&mails[before..]));
    assert_eq!(app.count("SELECT COUNT(*) FROM reminders WHERE outcome = 'sent'").await, 1);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.mails().len(), before + 7, "once");
    app.stop().await;
}

/// `tls=required` and a server without STARTTLS: nothing is sent in clear; the mails wait, saying why.
#[tokio::test]
async fn starttls_required_but_not_offered_sends_nothing() {
    let sink = SmtpSink::start();
    let app =
        app_with_sink(sink.port, |c| c.mail.smtp_url = format!("smtp://127.0.0.1:{}?tls=required", sink.port)).await;
    app.book("jdupont", meeting_body()).await;
    for _ in 0..100 {
        if app.count("SELECT COUNT(*) FROM outbox WHERE last_error LIKE '%STARTTLS%'").await > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(app.count("SELECT COUNT(*) FROM outbox WHERE last_error LIKE '%does not offer STARTTLS%'").await > 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await, 6, "kept, to retry");
    assert!(sink.mails().is_empty());
    app.stop().await;
}

/// Someone flipping their answer does not flood the organiser: three answer mails an hour about them.
#[tokio::test]
async fn answer_mails_about_one_attendee_are_capped() {
    let app = TestApp::spawn().await;
    let m = app.book("jdupont", meeting_body()).await;
    let id = m["id"].as_str().unwrap();
    for answer in ["accept", "decline", "accept", "decline", "accept", "tentative"] {
        let (s, body) = app
            .api(Method::POST, &format!("/api/v1/meetings/{id}/answer"), "visitor", Some(json!({"answer": answer})))
            .await;
        assert_eq!(s, 200, "{body}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'answer'").await, 3);
    let (_, now) = app.api(Method::GET, &format!("/api/v1/meetings/{id}"), "jdupont", None).await;
    assert_eq!(attendee(&now, "paul.visiteur@example.org")["partstat"], "TENTATIVE", "every answer is recorded");
    app.set_now("2026-12-01T09:00:01Z");
    let (s, _) = app
        .api(Method::POST, &format!("/api/v1/meetings/{id}/answer"), "visitor", Some(json!({"answer": "accept"})))
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'answer'").await, 4, "an hour later, mailed again");
    app.stop().await;
}

/// Notes rewritten again and again are capped like answers, but never keep a changed answer from being
/// told: a decline after three note edits is mailed.
#[tokio::test]
async fn note_edits_never_use_up_the_answer_mails() {
    let app = TestApp::spawn().await;
    let m = app.book("jdupont", meeting_body()).await;
    let url = format!("/api/v1/meetings/{}/answer", m["id"].as_str().unwrap());
    let answer = |answer: &'static str, note: &'static str| {
        let app = &app;
        let url = url.clone();
        async move {
            let (s, body) = app.api(Method::POST, &url, "visitor", Some(json!({"answer": answer, "note": note}))).await;
            assert_eq!(s, 200, "{body}");
        }
    };
    answer("accept", "").await;
    for note in ["En retard", "Très en retard", "Finalement à l'heure", "Ou pas"] {
        answer("accept", note).await;
    }
    let notes = "SELECT COUNT(*) FROM outbox WHERE kind = 'answer' AND json_extract(notice, '$.what.note') IS NOT NULL";
    assert_eq!(app.count(notes).await, 2, "the answer and two notes: three mails this hour");
    answer("decline", "Ou pas").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'answer'").await, 4, "the decline is told");
    let kinds = "SELECT group_concat(json_extract(notice, '$.what.note'), ',') FROM outbox WHERE kind = 'answer'";
    let edits: String =
        app.state.db.read(move |c| c.query_row(kinds, [], |r| r.get(0)).map_err(jmb::db::DbError::from)).await.unwrap();
    assert_eq!(edits, "left,changed");
    app.stop().await;
}

/// The reminder schedule follows `mail.reminder_minutes` at start: a reminder still pending at an
/// offset no longer configured is dropped, one sent stays on record, an offset added is scheduled.
#[tokio::test]
async fn reminders_follow_the_configured_offsets_at_start() {
    let app = TestApp::spawn_with_state(
        |c| c.mail.reminder_minutes = vec![60],
        |state| {
            // What a former configuration (10080 and 10 minutes) left in the store.
            let conn = rusqlite::Connection::open(&state.config.database.path).unwrap();
            conn.execute_batch(
                "INSERT INTO meetings (id, ical_uid, room, subject, start_at, duration_min, end_at, owner_uid,
                                       created_at, updated_at)
                 VALUES ('meeting00001', 'meeting00001@test', 'roomroomroomroom', 'Point', 1796547600, 60,
                         1796551200, 'jdupont', 1796112000, 1796112000);
                 INSERT INTO reminders (meeting_id, minutes_before, due_at, done_at, outcome)
                 VALUES ('meeting00001', 10080, 1795942800, 1795942800, 'sent'),
                        ('meeting00001', 10, 1796547000, NULL, NULL);",
            )
            .unwrap();
        },
    )
    .await;
    for _ in 0..100 {
        if app.count("SELECT COUNT(*) FROM reminders WHERE meeting_id = 'meeting00001' AND minutes_before = 60").await
            == 1
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM reminders WHERE meeting_id = 'meeting00001' AND minutes_before = 60 AND due_at = 1796544000").await, 1, "added");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM reminders WHERE meeting_id = 'meeting00001' AND minutes_before = 10").await,
        0,
        "dropped"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM reminders WHERE meeting_id = 'meeting00001' AND minutes_before = 10080 AND outcome = 'sent'").await, 1, "kept");
    app.stop().await;
}
