//! The original JMB's URLs keep working.

use crate::common::*;

#[tokio::test]
async fn legacy_urls() {
    let app = TestApp::spawn().await;
    let m = app.book("jdupont", meeting_body()).await;
    let room = m["room"].as_str().unwrap();
    app.set_now("2026-12-05T09:00:00Z");

    // token.cgi: the same gate as /m/{room}.
    let resp = app.get_as(&format!("/token.cgi?room={room}"), "jdupont").await;
    assert_eq!(resp.status(), 302);
    assert_eq!(decode_jwt(&jwt_of(&location(&resp)))["room"], room);
    assert_eq!(app.get_as(&format!("/token.cgi?room={room}"), "visitor").await.status(), 403);
    assert_eq!(app.get_as("/token.cgi", "jdupont").await.status(), 400);

    // join.cgi?id=: the personal link.
    let guest = path_of(attendee(&m, "guest.one+jmb@example.com")["join_url"].as_str().unwrap());
    let token = guest.trim_start_matches("/j/");
    let resp = app.get(&format!("/join.cgi?id={token}")).await;
    assert_eq!(location(&resp), format!("https://meet.example.org/{room}"));
    assert_eq!(app.get("/join.cgi?id=nope").await.status(), 404);
    assert_eq!(app.get("/join.cgi").await.status(), 404);

    // invitation.cgi: to the RSVP page, never a change on GET.
    let resp = app.get(&format!("/invitation.cgi?decline&id={token}")).await;
    assert_eq!(location(&resp), format!("/rsvp/{token}?answer=decline"));

    // booking.cgi: to the new pages.
    for (q, to) in [
        ("", "/meetings".to_string()),
        ("?list", "/meetings".to_string()),
        ("?new", "/meetings/new".to_string()),
        ("?edit&id=1708712345123456789", "/meetings/1708712345123456789/edit".to_string()),
        ("?attendees&id=abc", "/meetings/abc/attendees".to_string()),
    ] {
        let resp = app.get(&format!("/booking.cgi{q}")).await;
        assert_eq!(location(&resp), to, "{q}");
    }
    // close.cgi: UI users back to the list, others to the configured page.
    assert_eq!(location(&app.get("/close.cgi").await), "/meetings");
    app.stop().await;

    let app = TestApp::spawn_with(|c| c.server.close_redirect = Some("https://www.example.org/".into())).await;
    assert_eq!(location(&app.get("/close.cgi").await), "https://www.example.org/");
    let resp = app.client.get(app.url("/close.cgi")).header("cookie", "jmb_ui=1").send().await.unwrap();
    assert_eq!(location(&resp), "/meetings");
    app.stop().await;
}
