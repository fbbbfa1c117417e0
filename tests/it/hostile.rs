//! Hostile input: quotes, markup, huge and binary strings, odd addresses, other people's ids and
//! tokens. Each gets a clear 4xx and nothing stored is lost or corrupted.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn awkward_subjects_are_stored_verbatim_and_escaped_on_pages() {
    let app = TestApp::spawn().await;
    for subject in
        ["Réunion de l'équipe", "\"quoted\" ; DROP TABLE meetings; --", "<script>alert(1)</script>", "C++ & Rust, 100%"]
    {
        let mut body = meeting_body();
        body["subject"] = json!(subject);
        let m = app.book("jdupont", body).await;
        assert_eq!(m["subject"], subject);
        let rsvp = path_of(attendee(&m, "guest.two@example.com")["rsvp_url"].as_str().unwrap());
        let html = app.get(&rsvp).await.text().await.unwrap();
        assert!(!html.contains("<script>alert"), "markup is escaped");
    }
    let home = app.get_as("/", "jdupont").await.text().await.unwrap();
    assert!(home.contains("alert(1)") && !home.contains("<script>alert"), "listed, escaped");
    assert_eq!(app.count("SELECT COUNT(*) FROM meetings").await, 4);
    app.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_4xx_and_change_nothing() {
    let app = TestApp::spawn().await;
    let m = app.book("jdupont", meeting_body()).await;
    let id = m["id"].as_str().unwrap();
    let path = format!("/api/v1/meetings/{id}");
    let h = TestApp::as_user("jdupont");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("10 kB subject", serde_json::to_vec(&json!({"subject": "x".repeat(10_000), "start": "2026-12-05T09:00:00Z", "duration": 90, "guests": ["g@x.org"]})).unwrap(), "application/json"),
        ("NUL byte", serde_json::to_vec(&json!({"subject": "a\u{0}b", "start": "2026-12-05T09:00:00Z", "duration": 90, "guests": ["g@x.org"]})).unwrap(), "application/json"),
        ("invalid UTF-8", b"{\"subject\": \"\xff\xfe\", \"start\": \"2026-12-05T09:00:00Z\", \"duration\": 90, \"guests\": [\"g@x.org\"]}".to_vec(), "application/json"),
        ("not JSON", b"subject=x".to_vec(), "application/json"),
        ("form content type", b"subject=x".to_vec(), "application/x-www-form-urlencoded"),
        ("unknown field", serde_json::to_vec(&json!({"subject": "x", "room": "chosenbyclient", "start": "2026-12-05T09:00:00Z", "duration": 90, "guests": ["g@x.org"]})).unwrap(), "application/json"),
        ("address in both roles", serde_json::to_vec(&json!({"subject": "x", "start": "2026-12-05T09:00:00Z", "duration": 90, "moderators": ["a@x.org"], "guests": ["A@X.org"]})).unwrap(), "application/json"),
        ("bad address", serde_json::to_vec(&json!({"subject": "x", "start": "2026-12-05T09:00:00Z", "duration": 90, "guests": ["a@x..org"]})).unwrap(), "application/json"),
        ("240 kB guest list", serde_json::to_vec(&json!({"subject": "x", "start": "2026-12-05T09:00:00Z", "duration": 90, "guests": ["a ".repeat(120_000)]})).unwrap(), "application/json"),
        ("20 000 guest entries", serde_json::to_vec(&json!({"subject": "x", "start": "2026-12-05T09:00:00Z", "duration": 90, "guests": vec!["a"; 20_000]})).unwrap(), "application/json"),
        ("duration as text", serde_json::to_vec(&json!({"subject": "x", "start": "2026-12-05T09:00:00Z", "duration": "ninety", "guests": ["g@x.org"]})).unwrap(), "application/json"),
    ];
    for (what, body, ctype) in cases {
        for method in [Method::POST, Method::PUT] {
            let url = if method == Method::POST { app.url("/api/v1/meetings") } else { app.url(&path) };
            let resp = app
                .client
                .request(method.clone(), url)
                .headers(h.clone())
                .header("content-type", ctype)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            assert!((400..500).contains(&status), "{what} {method}: {status} {text}");
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|p| p["detail"].is_string()),
                "{what}: a problem document, got {text}"
            );
        }
    }
    // A body past the limit: 413.
    let huge = vec![b' '; 1024 * 1024];
    let resp = app
        .client
        .post(app.url("/api/v1/meetings"))
        .headers(h.clone())
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    let (_, after) = app.api(Method::GET, &path, "jdupont", None).await;
    assert_eq!(after["subject"], m["subject"]);
    assert_eq!(after["start"], m["start"]);
    assert_eq!(after["attendees"], m["attendees"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM meetings").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn addresses_plus_duplicates_and_the_owner() {
    let app = TestApp::spawn().await;
    let m = app
        .book(
            "jdupont",
            json!({
                "subject": "x", "start": "2026-12-05T09:00:00Z", "duration": 30,
                "moderators": ["Jean.Dupont@example.org", "mod+tag@Example.net"],
                "guests": ["g+1@x.org", "G+1@X.ORG", "\"Dupont, Jean\" <jean.dupont@example.org>", "other@x.org"]
            }),
        )
        .await;
    let mails: Vec<&str> = m["attendees"].as_array().unwrap().iter().map(|a| a["mail"].as_str().unwrap()).collect();
    assert_eq!(
        mails,
        ["jean.dupont@example.org", "mod+tag@example.net", "g+1@x.org", "other@x.org"],
        "owner implicit, duplicates merged, lower-cased"
    );
    app.stop().await;
}

#[tokio::test]
async fn other_peoples_ids_and_tokens() {
    let app = TestApp::spawn().await;
    let a = app.book("jdupont", meeting_body()).await;
    let mut body = meeting_body();
    body["guests"] = json!(["someone@example.com"]);
    body["moderators"] = json!([]);
    let b = app.book("mmartin", body).await;
    let b_id = b["id"].as_str().unwrap();
    // jdupont cannot read, edit, delete or answer mmartin's meeting by id.
    for (method, suffix, body) in [
        (Method::GET, "", None),
        (Method::PUT, "", Some(meeting_body())),
        (Method::DELETE, "", None),
        (Method::POST, "/answer", Some(json!({"answer": "accept"}))),
    ] {
        let (s, _) = app.api(method.clone(), &format!("/api/v1/meetings/{b_id}{suffix}"), "jdupont", body).await;
        assert_eq!(s, 404, "{method} {suffix}");
    }
    // A room name of someone else's meeting gives no token.
    app.set_now("2026-12-05T09:00:00Z");
    assert_eq!(app.get_as(&format!("/m/{}", b["room"].as_str().unwrap()), "jdupont").await.status(), 403);
    // A token that looks like another's (one character off) is unknown.
    let t = path_of(attendee(&a, "guest.two@example.com")["join_url"].as_str().unwrap());
    let mut forged = t.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(app.get(&forged).await.status(), 404);
    let (_, still) = app.api(Method::GET, &format!("/api/v1/meetings/{b_id}"), "mmartin", None).await;
    assert_eq!(still["attendees"], b["attendees"]);
    app.stop().await;
}

/// A 240 kB guest field is refused before it is read, with one message (the old parser spent two
/// seconds of a worker thread on it, and three in parallel made `/healthz` wait seconds).
#[tokio::test]
async fn an_overlong_guest_list_is_refused_unread() {
    let app = TestApp::spawn().await;
    for guests in [json!(["a ".repeat(120_000)]), json!(vec!["a"; 20_000])] {
        let mut body = meeting_body();
        body["guests"] = guests;
        let (status, problem) = app.api(Method::POST, "/api/v1/meetings", "jdupont", Some(body)).await;
        assert_eq!(status, 400);
        let messages = problem["errors"]["guests"].as_array().unwrap();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].as_str().unwrap().contains("26112"), "{messages:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM meetings").await, 0);
    app.stop().await;
}
