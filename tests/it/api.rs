//! The JSON API through the trusted proxy headers: create, list, get, edit, delete, answer; the
//! sign-in and editor rules; the untrusted-peer refusal.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn create_list_edit_delete() {
    let app = TestApp::spawn().await;
    let m = app.book("jdupont", meeting_body()).await;
    let id = m["id"].as_str().unwrap().to_string();
    assert_eq!(m["role"], "owner");
    assert_eq!(m["partstat"], "ACCEPTED");
    assert_eq!(m["subject"], "Réunion de l'équipe");
    assert_eq!(m["duration"], 90);
    assert_eq!(m["end"], "2026-12-05T10:30:00Z");
    assert_eq!(m["state"], "planned");
    let room = m["room"].as_str().unwrap();
    assert!(room.len() >= 16 && room.chars().all(|c| c.is_ascii_lowercase()), "{room}");
    assert_eq!(m["uid"], format!("{id}@meet.example.org"));
    assert_eq!(m["attendees"].as_array().unwrap().len(), 6, "owner + 2 moderators + 3 guests");
    assert_eq!(attendee(&m, "ext.mod@partner.net")["name"], "Ext Mod");
    assert_eq!(attendee(&m, "guest.one+jmb@example.com")["role"], "guest");

    // Listed for the owner and for an invitee, with each one's own role.
    let (s, list) = app.api(Method::GET, "/api/v1/meetings", "jdupont", None).await;
    assert_eq!(s, 200);
    assert_eq!(list["meetings"][0]["id"], id.as_str());
    let (_, list) = app.api(Method::GET, "/api/v1/meetings", "visitor", None).await;
    assert_eq!(list["meetings"][0]["role"], "guest");
    // An invitee sees only their own personal link.
    let mine = attendee(&list["meetings"][0], "paul.visiteur@example.org");
    assert!(mine["join_url"].is_string());
    assert!(attendee(&list["meetings"][0], "guest.two@example.com").get("join_url").is_none());

    // Edit: drop a guest, move a moderator to guests, change the time.
    let mut body = meeting_body();
    body["start"] = json!("2026-12-06T13:30:00Z");
    body["moderators"] = json!(["marie.martin@example.org"]);
    body["guests"] = json!(["guest.one+jmb@example.com", "ext.mod@partner.net", "new.guest@example.net"]);
    let (s, edited) = app.api(Method::PUT, &format!("/api/v1/meetings/{id}"), "jdupont", Some(body)).await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(edited["start"], "2026-12-06T13:30:00Z");
    assert_eq!(edited["sequence"], 1);
    assert_eq!(edited["room"], m["room"], "the room survives an edit");
    assert_eq!(attendee(&edited, "ext.mod@partner.net")["role"], "guest");
    assert_eq!(
        attendee(&edited, "ext.mod@partner.net")["join_url"],
        attendee(&m, "ext.mod@partner.net")["join_url"],
        "a role change keeps the personal link"
    );
    let mails: Vec<&str> =
        edited["attendees"].as_array().unwrap().iter().map(|a| a["mail"].as_str().unwrap()).collect();
    assert!(!mails.contains(&"guest.two@example.com") && !mails.contains(&"paul.visiteur@example.org"));
    assert!(mails.contains(&"new.guest@example.net"));
    // The removed guest's link no longer works.
    let old = path_of(attendee(&m, "guest.two@example.com")["join_url"].as_str().unwrap());
    assert_eq!(app.get(&old).await.status(), 404);

    let (s, _) = app.api(Method::DELETE, &format!("/api/v1/meetings/{id}"), "jdupont", None).await;
    assert_eq!(s, 204);
    let (s, _) = app.api(Method::GET, &format!("/api/v1/meetings/{id}"), "jdupont", None).await;
    assert_eq!(s, 404);
    assert_eq!(app.count("SELECT COUNT(*) FROM attendees").await, 0, "attendees deleted with the meeting");
    app.stop().await;
}

#[tokio::test]
async fn only_the_owner_edits_and_deletes() {
    let app = TestApp::spawn().await;
    let m = app.book("jdupont", meeting_body()).await;
    let id = m["id"].as_str().unwrap();
    // An invitee who is an editor: 403. A stranger: 404 (the meeting's existence is not revealed).
    let (s, p) = app.api(Method::PUT, &format!("/api/v1/meetings/{id}"), "mmartin", Some(meeting_body())).await;
    assert_eq!(s, 403, "{p}");
    assert_eq!(p["status"], 403);
    let (s, _) = app.api(Method::DELETE, &format!("/api/v1/meetings/{id}"), "mmartin", None).await;
    assert_eq!(s, 403);
    let (s, _) = app.api(Method::DELETE, &format!("/api/v1/meetings/{id}"), "stranger", None).await;
    assert_eq!(s, 404);
    let (s, _) = app.api(Method::GET, &format!("/api/v1/meetings/{id}"), "stranger", None).await;
    assert_eq!(s, 404);
    let (_, still) = app.api(Method::GET, &format!("/api/v1/meetings/{id}"), "jdupont", None).await;
    assert_eq!(still["sequence"], 0);
    assert_eq!(still["attendees"].as_array().unwrap().len(), 6);
    app.stop().await;
}

#[tokio::test]
async fn non_editors_are_invitees_only() {
    let app = TestApp::spawn().await;
    let (s, p) = app.api(Method::POST, "/api/v1/meetings", "visitor", Some(meeting_body())).await;
    assert_eq!(s, 403);
    assert!(p["detail"].as_str().unwrap().contains("réserver"), "French by default: {p}");
    let (_, me) = app.api(Method::GET, "/api/v1/me", "visitor", None).await;
    assert_eq!(me["editor"], false);
    // …but answer and list what they are invited to.
    let m = app.book("jdupont", meeting_body()).await;
    let id = m["id"].as_str().unwrap();
    let (s, v) = app
        .api(Method::POST, &format!("/api/v1/meetings/{id}/answer"), "visitor", Some(json!({"answer": "accept"})))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["partstat"], "ACCEPTED");
    // A note with the answer: read back by its writer and the owner, never by other invitees; one
    // too long is refused (400) and changes nothing.
    let answer_url = format!("/api/v1/meetings/{id}/answer");
    let (s, v) = app
        .api(Method::POST, &answer_url, "visitor", Some(json!({"answer": "accept", "note": " Un peu en retard "})))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(attendee(&v, "paul.visiteur@example.org")["note"], "Un peu en retard");
    assert!(attendee(&v, "marie.martin@example.org").get("note").is_none(), "{v}");
    let (_, owner_view) = app.api(Method::GET, &format!("/api/v1/meetings/{id}"), "jdupont", None).await;
    assert_eq!(attendee(&owner_view, "paul.visiteur@example.org")["note"], "Un peu en retard");
    assert_eq!(attendee(&owner_view, "marie.martin@example.org")["note"], "");
    let (_, other_view) = app.api(Method::GET, &format!("/api/v1/meetings/{id}"), "mmartin", None).await;
    assert!(attendee(&other_view, "paul.visiteur@example.org").get("note").is_none(), "{other_view}");
    let long = "x".repeat(501);
    let (s, p) = app.api(Method::POST, &answer_url, "visitor", Some(json!({"answer": "decline", "note": long}))).await;
    assert_eq!(s, 400, "{p}");
    let (_, v) = app.api(Method::GET, &format!("/api/v1/meetings/{id}"), "visitor", None).await;
    assert_eq!(
        (v["partstat"].as_str(), attendee(&v, "paul.visiteur@example.org")["note"].as_str()),
        (Some("ACCEPTED"), Some("Un peu en retard"))
    );
    // An empty note removes it; the organiser's answer mail says so rather than repeating the answer.
    let (s, v) = app.api(Method::POST, &answer_url, "visitor", Some(json!({"answer": "accept", "note": " "}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(attendee(&v, "paul.visiteur@example.org")["note"], "");
    // (The pages test reads the rendered mails; here, the notices queued: answer, note added, note removed.)
    let notes_only = app
        .count("SELECT count(*) FROM outbox WHERE kind = 'answer' AND json_extract(notice, '$.what.note') IS NOT NULL")
        .await;
    assert_eq!((app.count("SELECT count(*) FROM outbox WHERE kind = 'answer'").await, notes_only), (3, 2));
    let (s, _) = app
        .api(Method::POST, &format!("/api/v1/meetings/{id}/answer"), "jdupont", Some(json!({"answer": "decline"})))
        .await;
    assert_eq!(s, 409, "the owner does not answer");
    let (s, _) = app
        .api(Method::POST, &format!("/api/v1/meetings/{id}/answer"), "stranger", Some(json!({"answer": "accept"})))
        .await;
    assert_eq!(s, 404);
    app.stop().await;
}

#[tokio::test]
async fn validation_problems_name_each_field() {
    let app = TestApp::spawn().await;
    let body = json!({
        "subject": "", "start": "2026-11-30T09:00:00Z", "duration": 45,
        "moderators": ["a@x.org", "b@x.org", "c@x.org"], "guests": []
    });
    let resp = app
        .client
        .post(app.url("/api/v1/meetings"))
        .headers(TestApp::as_user("jdupont"))
        .header("Accept-Language", "en")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let p: serde_json::Value = resp.json().await.unwrap();
    for field in ["subject", "start", "duration", "moderators", "guests"] {
        assert!(p["errors"][field].as_array().is_some_and(|a| !a.is_empty()), "{field}: {p}");
    }
    assert_eq!(p["errors"]["moderators"][0], "You listed 3 moderators (the maximum is 2).");
    assert_eq!(app.count("SELECT COUNT(*) FROM meetings").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn edits_after_the_start_are_refused() {
    let app = TestApp::spawn().await;
    let m = app.book("jdupont", meeting_body()).await;
    let id = m["id"].as_str().unwrap();
    app.set_now("2026-12-05T09:30:00Z");
    let mut body = meeting_body();
    body["start"] = json!("2026-12-07T09:00:00Z");
    let (s, _) = app.api(Method::PUT, &format!("/api/v1/meetings/{id}"), "jdupont", Some(body.clone())).await;
    assert_eq!(s, 409);
    // Deleting follows the same rule as editing (the user guide says so, and the pages always did):
    // a meeting that started stays, and is archived once it ends.
    let (s, p) = app.api(Method::DELETE, &format!("/api/v1/meetings/{id}"), "jdupont", None).await;
    assert_eq!(s, 409, "{p}");
    app.set_now("2026-12-05T11:00:00Z");
    let (s, _) = app.api(Method::PUT, &format!("/api/v1/meetings/{id}"), "jdupont", Some(body)).await;
    assert_eq!(s, 410);
    let (s, p) = app.api(Method::DELETE, &format!("/api/v1/meetings/{id}"), "jdupont", None).await;
    assert_eq!(s, 410, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("Réunion de l'équipe"), "{p}");
    assert_eq!(app.count("SELECT COUNT(*) FROM meetings").await, 1);
    let (s, _) = app
        .api(Method::POST, &format!("/api/v1/meetings/{id}/answer"), "visitor", Some(json!({"answer": "accept"})))
        .await;
    assert_eq!(s, 410);
    // Archived, still visible.
    let (_, list) = app.api(Method::GET, "/api/v1/meetings?scope=archived", "jdupont", None).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["meetings"][0]["state"], "finished");
    let (s, _) = app.api(Method::GET, "/api/v1/meetings?scope=bogus", "jdupont", None).await;
    assert_eq!(s, 400);
    app.stop().await;
}

#[tokio::test]
async fn headers_from_an_untrusted_peer_are_refused() {
    // Only 192.0.2.0/24 may set identity headers; the test client connects from 127.0.0.1.
    let app = TestApp::spawn_with(|c| c.auth.trusted_proxies = vec!["192.0.2.0/24".parse().unwrap()]).await;
    let (s, p) = app.api(Method::POST, "/api/v1/meetings", "jdupont", Some(meeting_body())).await;
    assert_eq!(s, 403, "{p}");
    let resp = app.get_as("/", "jdupont").await;
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("authentification autoris"));
    assert_eq!(app.count("SELECT COUNT(*) FROM meetings").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn missing_identity_is_401_and_health_answers() {
    let app = TestApp::spawn().await;
    let resp = app.get("/api/v1/meetings").await;
    assert_eq!(resp.status(), 401);
    let resp = app.get("/healthz").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok\n");
    app.stop().await;
}

/// One person books at most `booking.max_bookings_per_hour` meetings in an hour (400 a second went
/// through before): then 429 with `Retry-After`, from the API and from the form, which keeps what was
/// typed.
#[tokio::test]
async fn bookings_per_hour_are_limited_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.booking.max_bookings_per_hour = 2).await;
    app.book("jdupont", meeting_body()).await;
    app.set_now("2026-12-01T08:20:00Z");
    app.book("jdupont", meeting_body()).await;
    app.set_now("2026-12-01T08:30:00Z");
    let resp = app
        .client
        .post(app.url("/api/v1/meetings"))
        .headers(TestApp::as_user("jdupont"))
        .header("accept-language", "en")
        .json(&meeting_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1800", "until the first booking is an hour old");
    let problem: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(problem["status"], 429);
    assert!(problem["detail"].as_str().unwrap().contains("Try again in 30 min"), "{problem}");

    // The booking form: the page comes back with what was typed, the message and Retry-After.
    let (cookie, csrf, _) = form_page(&app, "/meetings/new", "jdupont").await;
    let resp = app
        .client
        .post(app.url("/meetings/new"))
        .headers(TestApp::as_user("jdupont"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("subject", "Typed subject, kept"),
            ("date", "2026-12-05"),
            ("time", "10:00"),
            ("duration", "60"),
            ("moderators", ""),
            ("guests", "someone@example.net"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1800");
    let html = resp.text().await.unwrap();
    assert!(html.contains("id=\"form-refusal\"") && html.contains("Réessayez dans 30 min"), "{html}");
    assert!(html.contains("value=\"Typed subject, kept\"") && html.contains(">someone@example.net</textarea>"));

    // Someone else books meanwhile; an hour after the first booking, jdupont can again.
    let mut body = meeting_body();
    body["moderators"] = json!([]);
    app.book("mmartin", body).await;
    app.set_now("2026-12-01T09:00:00Z");
    app.book("jdupont", meeting_body()).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM meetings").await, 4);
    app.stop().await;
}

/// An id that cannot be decoded is an unknown meeting: a 404 problem, not axum's plain-text 400.
#[tokio::test]
async fn undecodable_ids_are_unknown_meetings() {
    let app = TestApp::spawn().await;
    for method in [Method::GET, Method::DELETE] {
        let (status, problem) = app.api(method.clone(), "/api/v1/meetings/%FF%FE", "jdupont", None).await;
        assert_eq!(status, 404, "{method}");
        assert_eq!(problem["status"], 404, "{method}: {problem}");
    }
    app.stop().await;
}
