//! Presence from Prosody's event_sync component: recorded event sequences (as the component sends them,
//! see protocols.md §6 and `mod_event_sync_component.lua`) posted to a running jmb, then the tracking
//! page, its CSV and the list read back. Joins, leaves, reconnections, breakout moves, a destroyed room
//! with occupants still in it, events out of order and twice, wrong callers and bad bodies: the right
//! minutes, and never a 5xx.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::*;

const ES_SECRET: &str = "event-sync-bearer-0123456789abcdef0123456789";

async fn presence_app() -> TestApp {
    TestApp::spawn_with(|c| c.presence.secret = jmb::config::Secret::new(ES_SECRET)).await
}

/// 2026-12-05 at `h:m` UTC, in Unix seconds (the meeting of `meeting_body` runs 09:00–10:30).
fn at(h: u32, m: u32) -> i64 {
    Utc.with_ymd_and_hms(2026, 12, 5, h, m, 0).unwrap().timestamp()
}

fn iso(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0).unwrap().to_rfc3339()
}

/// One occupant as event_sync describes it: `id`, `email` and `name` only with a token.
#[derive(Clone)]
struct Occ {
    jid: String,
    id: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

impl Occ {
    fn token(jid: &str, id: &str, email: &str, name: &str) -> Self {
        Occ { jid: jid.into(), id: Some(id.into()), email: Some(email.into()), name: Some(name.into()) }
    }
    fn anonymous(jid: &str) -> Self {
        Occ { jid: jid.into(), id: None, email: None, name: None }
    }
    fn json(&self, joined: i64, left: Option<i64>) -> Value {
        let mut o = json!({ "occupant_jid": self.jid, "joined_at": joined });
        if let Some(l) = left {
            o["left_at"] = json!(l);
        }
        for (k, v) in [("id", &self.id), ("email", &self.email), ("name", &self.name)] {
            if let Some(v) = v {
                o[k] = json!(v);
            }
        }
        o
    }
}

/// The fields every event_sync payload carries; a breakout room names its main room.
fn room_fields(room: &str, breakout: Option<&str>) -> Value {
    let mut v = json!({
        "room_name": room,
        "room_jid": format!("{room}@conference.meet.example.org"),
        "is_breakout": breakout.is_some(),
    });
    if let Some(b) = breakout {
        v["breakout_room_id"] = json!(b);
    }
    v
}

fn joined(room: &str, breakout: Option<&str>, o: &Occ, t: i64) -> (&'static str, Value) {
    let mut v = room_fields(room, breakout);
    v["event_name"] = json!("muc-occupant-joined");
    v["active_occupants_count"] = json!(2);
    v["occupant"] = o.json(t, None);
    ("occupant/joined", v)
}

fn left(room: &str, breakout: Option<&str>, o: &Occ, joined_at: i64, t: i64) -> (&'static str, Value) {
    let mut v = room_fields(room, breakout);
    v["event_name"] = json!("muc-occupant-left");
    v["active_occupants_count"] = json!(1);
    v["occupant"] = o.json(joined_at, Some(t));
    v["occupant"]["total_dominant_speaker_time"] = json!(1234);
    ("occupant/left", v)
}

fn created(room: &str, t: i64) -> (&'static str, Value) {
    let mut v = room_fields(room, None);
    v["event_name"] = json!("muc-room-created");
    v["created_at"] = json!(t);
    ("room/created", v)
}

fn destroyed(room: &str, breakout: Option<&str>, t: i64, occupants: Vec<Value>) -> (&'static str, Value) {
    let mut v = room_fields(room, breakout);
    v["event_name"] = json!("muc-room-destroyed");
    v["destroyed_at"] = json!(t);
    v["all_occupants"] = Value::Array(occupants);
    ("room/destroyed", v)
}

/// Posts a raw body as Prosody does; returns the status and the JSON answer.
async fn post_raw(app: &TestApp, what: &str, body: Vec<u8>, auth: Option<&str>) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(&format!("/prosody/events/{what}")))
        .header("Content-Type", "application/json")
        .header("User-Agent", "Prosody (0.12.3; posix)")
        .body(body);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Posts each event (with the right bearer) and checks it was accepted.
async fn send(app: &TestApp, events: &[(&'static str, Value)]) {
    for (what, body) in events {
        let (status, answer) =
            post_raw(app, what, body.to_string().into_bytes(), Some(&format!("Bearer {ES_SECRET}"))).await;
        assert_eq!(status, 200, "{what} {body}: {answer}");
    }
}

/// Minutes present by address (attendees) or label (participants not invited), from the CSV export
/// (French: `;` between quoted cells, minutes in the eighth column).
async fn csv_minutes(app: &TestApp, id: &str) -> Vec<(String, String, String, String)> {
    let resp = app.get_as(&format!("/meetings/{id}/attendees.csv"), "jdupont").await;
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    let body = body.strip_prefix('\u{feff}').expect("a UTF-8 byte-order mark");
    let mut lines = body.split("\r\n").filter(|l| !l.is_empty());
    let header = lines.next().unwrap();
    assert_eq!(
        header,
        "\"Participant\";\"Adresse\";\"Rôle\";\"Réponse\";\"Connexions\";\"Première connexion\";\"Dernière connexion\";\"Minutes de présence\";\"Mot du participant\""
    );
    lines
        .map(|l| {
            let inner = l.strip_prefix('"').and_then(|l| l.strip_suffix('"')).unwrap_or_else(|| panic!("{l}"));
            let cells: Vec<String> = inner.split("\";\"").map(str::to_string).collect();
            assert_eq!(cells.len(), 9, "{l}");
            (cells[0].clone(), cells[1].clone(), cells[2].clone(), cells[7].clone())
        })
        .collect()
}

fn minutes_of<'a>(rows: &'a [(String, String, String, String)], who: &str) -> &'a str {
    rows.iter()
        .find(|(name, mail, _, _)| mail == who || name == who)
        .map(|r| r.3.as_str())
        .unwrap_or_else(|| panic!("no row for {who} in {rows:?}"))
}

struct Booked {
    id: String,
    room: String,
    ext_attendee: i64,
}

async fn book(app: &TestApp) -> Booked {
    let m = app.book("jdupont", meeting_body()).await;
    let id = m["id"].as_str().unwrap().to_string();
    let room = m["room"].as_str().unwrap().to_string();
    let d = app.state.bookings.by_room(&room).await.unwrap().unwrap();
    let ext_attendee = d.attendees.iter().find(|a| a.mail == "ext.mod@partner.net").unwrap().id;
    Booked { id, room, ext_attendee }
}

/// A whole meeting as Prosody reports it, events in the order they may arrive: the owner on two
/// devices, an internal moderator through a breakout room and back, an external moderator whose leave
/// arrives before their join, an anonymous guest still there when the room is destroyed, every join
/// sent twice (a retry), a guest who reconnects, and the list's count while it runs.
#[tokio::test]
async fn a_recorded_meeting_gives_the_right_minutes() {
    let app = presence_app().await;
    let b = book(&app).await;
    let room = b.room.as_str();
    let owner = Occ::token("0f1e@meet.example.org/laptop", "jdupont", "jean.dupont@example.org", "Jean Dupont");
    let owner_phone = Occ::token("77aa@meet.example.org/phone", "jdupont", "jean.dupont@example.org", "Jean Dupont");
    let marie = Occ::token("19c3@meet.example.org/OWhl8jSh", "mmartin", "marie.martin@example.org", "Marie Martin");
    let ext = Occ::token(
        "5d2b@meet.example.org/x1",
        &format!("jmb-attendee-{}", b.ext_attendee),
        "ext.mod@partner.net",
        "Ext Mod",
    );
    let anon = Occ::anonymous("d4e8c1@guest.meet.example.org/a1b2");
    let anon_again = Occ::anonymous("d4e8c1@guest.meet.example.org/c3d4");
    let breakout = "3f0e7a2c-5b8d-4c1e-9a6f-0d2b4e6f8a1c";

    // Up to 09:30.
    let first = vec![
        created(room, at(8, 55)),
        joined(room, None, &owner, at(8, 55)),
        joined(room, None, &owner, at(8, 55)),
        joined(room, None, &marie, at(9, 0)),
        // The external moderator's leave (09:02–09:32) overtakes their join.
        left(room, None, &ext, at(9, 2), at(9, 32)),
        joined(room, None, &ext, at(9, 2)),
        joined(room, None, &ext, at(9, 2)),
        joined(room, None, &anon, at(9, 5)),
        joined(room, None, &owner_phone, at(9, 10)),
        // The guest's connection drops and comes back (a new resource).
        left(room, None, &anon, at(9, 5), at(9, 15)),
        joined(room, None, &anon_again, at(9, 16)),
        // Marie goes to a breakout room.
        left(room, None, &marie, at(9, 0), at(9, 20)),
        joined(room, Some(breakout), &marie, at(9, 20)),
        joined(room, Some(breakout), &marie, at(9, 20)),
    ];
    send(&app, &first).await;
    app.set_now(&iso(at(9, 30)));
    let list = app.get_as("/meetings", "jdupont").await.text().await.unwrap();
    // Owner (twice connected), Marie (in the breakout room), the guest; the external moderator's leave
    // at 09:32 is already known.
    assert!(list.contains("3 personnes dans la réunion"), "{list}");
    let list = app.get_as("/meetings", "mmartin").await.text().await.unwrap();
    assert!(list.contains("3 personnes dans la réunion"), "a moderator's list too");

    // 09:30 onwards: Marie back from the breakout room, leaves at 10:00; the owner's phone leaves; the
    // breakout room, then the room, are destroyed with occupants still listed.
    let rest = vec![
        left(room, Some(breakout), &marie, at(9, 20), at(9, 40)),
        joined(room, None, &marie, at(9, 40)),
        destroyed(room, Some(breakout), at(9, 41), vec![marie.json(at(9, 20), Some(at(9, 40)))]),
        left(room, None, &owner_phone, at(9, 10), at(9, 50)),
        left(room, None, &marie, at(9, 40), at(10, 0)),
        destroyed(
            room,
            None,
            at(10, 30),
            vec![
                owner.json(at(8, 55), None),
                owner_phone.json(at(9, 10), Some(at(9, 50))),
                marie.json(at(9, 40), Some(at(10, 0))),
                ext.json(at(9, 2), Some(at(9, 32))),
                anon.json(at(9, 5), Some(at(9, 15))),
                anon_again.json(at(9, 16), None),
            ],
        ),
    ];
    send(&app, &rest).await;
    // The whole sequence again, as retries: nothing changes.
    send(&app, &first).await;
    send(&app, &rest).await;

    app.set_now("2026-12-05T11:00:00Z");
    let rows = csv_minutes(&app, &b.id).await;
    assert_eq!(minutes_of(&rows, "jean.dupont@example.org"), "95", "08:55–10:30 over two devices");
    assert_eq!(minutes_of(&rows, "marie.martin@example.org"), "60", "09:00–10:00 through a breakout room");
    assert_eq!(minutes_of(&rows, "ext.mod@partner.net"), "30");
    assert_eq!(minutes_of(&rows, "guest.two@example.com"), "0");
    // The anonymous guest: 09:05–09:15 and 09:16–10:30, but one connection's bare JID: one participant.
    let unknown: Vec<_> = rows.iter().filter(|r| r.2 == "Non invité").collect();
    assert_eq!(unknown.len(), 1, "{rows:?}");
    assert_eq!((unknown[0].0.as_str(), unknown[0].3.as_str()), ("Invité anonyme 1", "84"));
    assert_eq!(app.count("SELECT COUNT(*) FROM presence_sessions").await, 8, "each stay once");

    let page = app.get_as(&format!("/meetings/{}/attendees", b.id), "jdupont").await.text().await.unwrap();
    assert!(page.contains("<li id=\"totals-present\"><strong>3</strong> présents dans la réunion</li>"), "{page}");
    assert!(page.contains("Participants non invités") && page.contains("Invité anonyme 1"), "{page}");
    // After the meeting, the list no longer counts.
    let list = app.get_as("/meetings", "jdupont").await.text().await.unwrap();
    assert!(!list.contains("dans la réunion"), "{list}");

    // Retention removes presence with the meeting.
    let purged = jmb::retention::purge(&app.state.db, "2027-01-01T00:00:00Z".parse().unwrap(), Utc::now()).await;
    assert_eq!(purged.unwrap().meetings, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM presence_sessions").await, 0);
    app.stop().await;
}

/// Only the destroyed room arrives (every join and leave lost): its list is enough; stays still open
/// end at the destruction; a late leave moves an end earlier, never later; a room used the next day is
/// not this meeting.
#[tokio::test]
async fn a_destroyed_room_fills_in_and_closes() {
    let app = presence_app().await;
    let b = book(&app).await;
    let room = b.room.as_str();
    let marie = Occ::token("19c3@meet.example.org/r", "mmartin", "marie.martin@example.org", "Marie Martin");
    let stranger = Occ::token("aa11@meet.example.org/r", "someone", "someone@example.org", "Someone Else");
    let anon = Occ::anonymous("0b0b@guest.meet.example.org/r");
    send(&app, &[joined(room, None, &anon, at(9, 0))]).await;
    send(
        &app,
        &[destroyed(
            room,
            None,
            at(10, 0),
            vec![marie.json(at(9, 10), None), stranger.json(at(9, 30), Some(at(9, 45)))],
        )],
    )
    .await;
    // A late leave, later than the destruction: ignored; earlier: taken.
    send(&app, &[left(room, None, &marie, at(9, 10), at(10, 20))]).await;
    send(&app, &[left(room, None, &marie, at(9, 10), at(9, 55))]).await;
    // The next day someone opens the room: not this meeting.
    let (status, answer) = post_raw(
        &app,
        "occupant/joined",
        joined(room, None, &anon, at(9, 0) + 86_400).1.to_string().into_bytes(),
        Some(&format!("Bearer {ES_SECRET}")),
    )
    .await;
    assert_eq!((status, answer["ignored"].as_str()), (200, Some("outside the meeting's time")));

    app.set_now("2026-12-06T12:00:00Z");
    let rows = csv_minutes(&app, &b.id).await;
    assert_eq!(minutes_of(&rows, "marie.martin@example.org"), "45");
    assert_eq!(minutes_of(&rows, "Someone Else"), "15", "a token holder nobody invited, by name");
    assert_eq!(minutes_of(&rows, "Invité anonyme 1"), "60", "open until the room was destroyed");
    // The API's view of the meeting shows the same to the owner, and nothing of it to a moderator.
    let path = format!("/api/v1/meetings/{}", b.id);
    let (status, v) = app.api(reqwest::Method::GET, &path, "jdupont", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(attendee(&v, "marie.martin@example.org")["minutes_present"], 45);
    assert_eq!(attendee(&v, "guest.two@example.com")["minutes_present"], 0);
    let not_invited = v["not_invited"].as_array().unwrap();
    assert_eq!(not_invited.len(), 2);
    assert_eq!((&not_invited[0]["name"], &not_invited[0]["minutes_present"]), (&json!(""), &json!(60)));
    assert_eq!(
        (&not_invited[1]["mail"], &not_invited[1]["minutes_present"]),
        (&json!("someone@example.org"), &json!(15))
    );
    let (_, v) = app.api(reqwest::Method::GET, &path, "mmartin", None).await;
    assert!(
        attendee(&v, "marie.martin@example.org").get("minutes_present").is_none() && v.get("not_invited").is_none()
    );
    app.stop().await;
}

/// The `[xmpp]` bot posting its warnings and a recorder listed in `presence.ignore_jids` are service
/// accounts: their joins, leaves and their place in a destroyed room's list are accepted and not
/// counted (they used to show as anonymous guests).
#[tokio::test]
async fn the_warning_bot_and_listed_service_accounts_are_not_counted() {
    let app = TestApp::spawn_with(|c| {
        c.presence.secret = jmb::config::Secret::new(ES_SECRET);
        c.presence.ignore_jids = vec!["@recorder.meet.example.org".into()];
        c.xmpp = Some(jmb::config::XmppConfig {
            notifier: jmb::config::NotifierKind::Log,
            jid: "jmb-bot@auth.meet.example.org".into(),
            muc_domain: "conference.meet.example.org".into(),
            ..Default::default()
        });
    })
    .await;
    let b = book(&app).await;
    let room = b.room.as_str();
    let bot = Occ::anonymous("jmb-bot@auth.meet.example.org/jmb-1f2e");
    let jibri = Occ::anonymous("jibri-3@recorder.meet.example.org/r");
    let anon = Occ::anonymous("0b0b@guest.meet.example.org/r");
    for o in [&bot, &jibri] {
        for (what, body) in [joined(room, None, o, at(9, 15)), left(room, None, o, at(9, 15), at(9, 16))] {
            let (status, answer) =
                post_raw(&app, what, body.to_string().into_bytes(), Some(&format!("Bearer {ES_SECRET}"))).await;
            assert_eq!((status, answer["ignored"].as_str()), (200, Some("service account")), "{what}");
        }
    }
    send(&app, &[joined(room, None, &anon, at(9, 0))]).await;
    send(&app, &[destroyed(room, None, at(10, 0), vec![bot.json(at(9, 20), None), jibri.json(at(9, 0), None)])]).await;
    app.set_now("2026-12-06T12:00:00Z");
    let (status, v) = app.api(reqwest::Method::GET, &format!("/api/v1/meetings/{}", b.id), "jdupont", None).await;
    assert_eq!(status, 200, "{v}");
    let not_invited = v["not_invited"].as_array().unwrap();
    assert_eq!(not_invited.len(), 1, "only the guest: {not_invited:?}");
    assert_eq!(not_invited[0]["minutes_present"], 60);
    app.stop().await;
}

/// The bearer token and the caller's address are checked before anything is read; refused calls
/// record nothing.
#[tokio::test]
async fn wrong_callers_are_refused() {
    let app = presence_app().await;
    let b = book(&app).await;
    let anon = Occ::anonymous("0b0b@guest.meet.example.org/r");
    let body = joined(&b.room, None, &anon, at(9, 0)).1.to_string().into_bytes();
    for (auth, status) in [
        (None, 401),
        (Some("Bearer wrong-secret-0123456789abcdef0123456789".to_string()), 403),
        (Some(format!("Bearer {ES_SECRET}x")), 403),
        (Some(format!("Basic {ES_SECRET}")), 403),
        (Some("Bearer ".to_string()), 403),
    ] {
        let (got, answer) = post_raw(&app, "occupant/joined", body.clone(), auth.as_deref()).await;
        assert_eq!(got, status, "{auth:?}: {answer}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM presence_sessions").await, 0);

    // From an address that is neither local, nor allowed, nor a trusted proxy: 403 even with the token.
    let router = jmb::app::router(app.state.clone());
    let call = |peer: &str| {
        let mut req = axum::http::Request::post("/prosody/events/occupant/joined")
            .header("Authorization", format!("Bearer {ES_SECRET}"))
            .body(axum::body::Body::from(body.clone()))
            .unwrap();
        req.extensions_mut().insert(axum::extract::ConnectInfo(jmb::auth::Peer::Tcp(peer.parse().unwrap())));
        router.clone().oneshot(req)
    };
    assert_eq!(call("192.0.2.7:4000").await.unwrap().status(), 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM presence_sessions").await, 0);
    assert_eq!(call("[::ffff:127.0.0.1]:4000").await.unwrap().status(), 200, "IPv4-mapped loopback");
    app.stop().await;

    // Prosody on another machine, once allowed.
    let app = TestApp::spawn_with(|c| {
        c.presence.secret = jmb::config::Secret::new(ES_SECRET);
        c.presence.allow = vec!["192.0.2.0/28".parse().unwrap()];
    })
    .await;
    let b = book(&app).await;
    let body = joined(&b.room, None, &anon, at(9, 0)).1.to_string();
    let mut req = axum::http::Request::post("/prosody/events/occupant/joined")
        .header("Authorization", format!("Bearer {ES_SECRET}"))
        .body(axum::body::Body::from(body))
        .unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(jmb::auth::Peer::Tcp("192.0.2.7:4000".parse().unwrap())));
    assert_eq!(jmb::app::router(app.state.clone()).oneshot(req).await.unwrap().status(), 200);
    assert_eq!(app.count("SELECT COUNT(*) FROM presence_sessions").await, 1);
    app.stop().await;
}

/// Whatever the body, a clear 4xx or an accepted-and-ignored 200: never a 5xx.
#[tokio::test]
async fn bad_bodies_are_4xx_and_unknown_rooms_are_accepted() {
    let app = presence_app().await;
    let b = book(&app).await;
    let auth = format!("Bearer {ES_SECRET}");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("occupant/joined", b"{\"room_name\":".to_vec(), 400),
        ("occupant/joined", b"".to_vec(), 400),
        ("occupant/joined", b"[1,2,3]".to_vec(), 400),
        ("room/destroyed", b"null".to_vec(), 400),
        ("occupant/left", vec![0xff, 0xfe, 0x00], 400),
        ("occupant/joined", vec![b' '; 2 * 1024 * 1024], 413),
        // Accepted and ignored: no room, an unknown room, a private room, odd field types, no occupant.
        ("occupant/joined", b"{}".to_vec(), 200),
        ("occupant/joined", json!({"room_name": "nosuchroomatall", "occupant": {"occupant_jid": "a@b/c"}}).to_string().into_bytes(), 200),
        ("occupant/joined", json!({"room_name": "jdupont", "occupant": {"occupant_jid": "a@b/c"}}).to_string().into_bytes(), 200),
        ("occupant/joined", json!({"room_name": b.room, "occupant": {"occupant_jid": 7, "joined_at": "soon"}}).to_string().into_bytes(), 200),
        ("occupant/left", json!({"room_name": b.room, "occupant": null}).to_string().into_bytes(), 200),
        ("room/destroyed", json!({"room_name": b.room, "all_occupants": "everyone", "destroyed_at": -1}).to_string().into_bytes(), 200),
        ("room/created", json!({"room_jid": format!("[acme]{}@conference.meet.example.org", b.room), "created_at": 1.5e9}).to_string().into_bytes(), 200),
        (
            "occupant/joined",
            json!({"room_name": b.room, "occupant": {"occupant_jid": "x@y/z", "joined_at": at(9, 0), "left_at": at(8, 0),
                   "name": "=HYPERLINK(\"http://evil\")", "id": {"nested": true}, "email": "<script>@x"}})
            .to_string()
            .into_bytes(),
            200,
        ),
    ];
    for (what, body, status) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(120)]).to_string();
        let (got, answer) = post_raw(&app, what, body, Some(&auth)).await;
        assert_eq!(got, status, "{what} {shown}: {answer}");
    }
    // A large destroyed room (4 000 occupants, about 390 KB: above the site's form limit, below the
    // webhooks' own) is taken whole.
    let many: Vec<Value> = (0..4000)
        .map(|i| Occ::anonymous(&format!("{i:08}@guest.meet.example.org/r")).json(at(9, 0), Some(at(9, 1))))
        .collect();
    let body = destroyed(&b.room, None, at(10, 30), many).1.to_string().into_bytes();
    assert!(body.len() > jmb::app::BODY_LIMIT, "{}", body.len());
    let (status, answer) = post_raw(&app, "room/destroyed", body, Some(&auth)).await;
    assert_eq!((status, answer["recorded"].as_u64()), (200, Some(4000)), "{answer}");
    app.set_now("2026-12-05T11:00:00Z");
    let rows = csv_minutes(&app, &b.id).await;
    assert_eq!(rows.iter().filter(|r| r.0.starts_with("Invité anonyme")).count(), 4000);
    assert_eq!(minutes_of(&rows, "Invité anonyme 4000"), "1");
    // A stay ending before it began is a stay of no length; hostile names are escaped and guarded.
    let hostile = rows.iter().find(|r| r.2 == "Non invité").expect("the odd occupant is listed");
    assert!(hostile.0.starts_with("'="), "guarded against formulas: {hostile:?}");
    let page = app.get_as(&format!("/meetings/{}/attendees", b.id), "jdupont").await.text().await.unwrap();
    assert!(!page.contains("<script>@x"), "escaped");
    // Unknown paths under the prefix are 404, other methods 405: never 5xx.
    assert_eq!(post_raw(&app, "room/renamed", b"{}".to_vec(), Some(&auth)).await.0, 404);
    let resp = app.get("/prosody/events/room/created").await;
    assert_eq!(resp.status(), 405);
    app.stop().await;
}

/// Without `[presence]` nothing changes: the routes do not exist, the export has no presence column.
#[tokio::test]
async fn without_presence_nothing_changes() {
    let app = TestApp::spawn().await;
    let b = book(&app).await;
    let body = joined(&b.room, None, &Occ::anonymous("a@b/c"), at(9, 0)).1.to_string().into_bytes();
    let (status, _) = post_raw(&app, "occupant/joined", body, Some(&format!("Bearer {ES_SECRET}"))).await;
    assert_eq!(status, 404);
    let csv = app.get_as(&format!("/meetings/{}/attendees.csv", b.id), "jdupont").await.text().await.unwrap();
    assert!(!csv.contains("Minutes"), "{csv}");
    app.set_now("2026-12-05T09:30:00Z");
    let list = app.get_as("/meetings", "jdupont").await.text().await.unwrap();
    assert!(!list.contains("dans la réunion"), "{list}");
    let page = app.get_as(&format!("/meetings/{}/attendees", b.id), "jdupont").await.text().await.unwrap();
    assert!(!page.contains("totals-present"));
    app.stop().await;
}

/// `[presence]` keys without a secret are refused with the key named; a short secret too.
#[test]
fn presence_configuration_is_checked() {
    let base = "[jitsi]\napp_secret = \"0123456789abcdef0123456789abcdef\"\n";
    let err = jmb::config::Config::from_toml(&format!("{base}[presence]\nallow = [\"192.0.2.1/32\"]\n")).unwrap_err();
    assert!(err.to_string().contains("presence.secret_file"), "{err}");
    let err = jmb::config::Config::from_toml(&format!("{base}[presence]\nsecret = \"short\"\n")).unwrap_err();
    assert!(err.to_string().contains("presence.secret"), "{err}");
    let ok = jmb::config::Config::from_toml(&format!("{base}[presence]\nsecret = \"{ES_SECRET}\"\n")).unwrap();
    assert!(ok.presence_enabled());
    for bad in ["jibri", "jibri@recorder.x/res", "a@b@c", "@"] {
        let toml = format!("{base}[presence]\nsecret = \"{ES_SECRET}\"\nignore_jids = [\"{bad}\"]\n");
        let err = jmb::config::Config::from_toml(&toml).unwrap_err();
        assert!(err.to_string().contains("presence.ignore_jids"), "{bad}: {err}");
    }
    let toml =
        format!("{base}[presence]\nsecret = \"{ES_SECRET}\"\nignore_jids = [\"@recorder.x\", \"jigasi@auth.x\"]\n");
    assert_eq!(jmb::config::Config::from_toml(&toml).unwrap().presence.ignore_jids.len(), 2);
    assert!(!jmb::config::Config::from_toml(base).unwrap().presence_enabled());
}

/// The list's "N in the meeting" is an extra: when presence cannot be read, the list is still shown,
/// without the counts.
#[tokio::test]
async fn the_list_is_shown_without_counts_when_presence_cannot_be_read() {
    let app = presence_app().await;
    let b = book(&app).await;
    send(&app, &[joined(&b.room, None, &Occ::anonymous("a@guest.meet.example.org/r"), at(9, 0))]).await;
    app.set_now("2026-12-05T09:15:00Z");
    let list = app.get_as("/meetings", "jdupont").await.text().await.unwrap();
    assert!(list.contains("1 personne dans la réunion"), "{list}");
    app.state
        .db
        .write(|tx| -> Result<(), jmb::db::DbError> {
            tx.execute_batch("DROP TABLE presence_sessions")?;
            Ok(())
        })
        .await
        .unwrap();
    let resp = app.get_as("/meetings", "jdupont").await;
    assert_eq!(resp.status(), 200);
    let list = resp.text().await.unwrap();
    assert!(list.contains("équipe"), "the meeting is listed: {list}");
    assert!(!list.contains("dans la réunion"), "{list}");
    app.stop().await;
}

/// A store that cannot take the write in time (the writer held by a long transaction) is answered 503
/// with `Retry-After`, which Prosody retries; the retry records the stay once.
#[tokio::test]
async fn a_busy_store_is_answered_503_and_the_retry_counts_once() {
    let app = presence_app().await;
    let b = book(&app).await;
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (holding, held) = tokio::sync::oneshot::channel::<()>();
    let db = app.state.db.clone();
    let holder = tokio::spawn(async move {
        db.write(move |_tx| -> Result<(), jmb::db::DbError> {
            let _ = holding.send(());
            let _ = released.recv_timeout(std::time::Duration::from_secs(60));
            Ok(())
        })
        .await
    });
    held.await.unwrap();
    let body = joined(&b.room, None, &Occ::anonymous("a@guest.meet.example.org/r"), at(9, 0)).1.to_string();
    let auth = format!("Bearer {ES_SECRET}");
    let started = std::time::Instant::now();
    let resp = app
        .client
        .post(app.url("/prosody/events/occupant/joined"))
        .header("Authorization", &auth)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "answered before Prosody's 20 s timeout");
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    for expected in [1, 0] {
        let (status, answer) = post_raw(&app, "occupant/joined", body.clone().into_bytes(), Some(&auth)).await;
        assert_eq!((status, answer["recorded"].as_u64()), (200, Some(expected)), "{answer}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM presence_sessions").await, 1);
    app.stop().await;
}
