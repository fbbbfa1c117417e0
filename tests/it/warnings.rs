//! End-of-meeting chat warnings (`[xmpp]`) through the whole application: scheduled with bookings made
//! over the API, moved with them, gone with them, posted once by the job (here to the log; the real
//! Prosody is in tests/interop/test_xmpp_warnings.py). Without `[xmpp]`, nothing at all.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jmb::identity::BoxFuture;
use jmb::room_warnings::{Delivery, NotifyError, RoomNotifier, Sender};

use reqwest::Method;
use serde_json::json;

use crate::common::{TestApp, meeting_body};

async fn wait_for(app: &TestApp, sql: &'static str, want: i64) {
    for _ in 0..100 {
        if app.count(sql).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{sql}: expected {want}, got {}", app.count(sql).await);
}

#[tokio::test]
async fn without_xmpp_nothing_is_scheduled() {
    let app = TestApp::spawn().await;
    assert!(app.state.warnings.is_none());
    app.book("jdupont", meeting_body()).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM room_warnings").await, 0);
    app.stop().await;
}

/// A notifier that records every post (room, text): a warning posted twice shows here, whatever the
/// table says.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, String)>>);

impl RoomNotifier for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn post<'a>(&'a self, room: &'a str, text: &'a str) -> BoxFuture<'a, Result<Delivery, NotifyError>> {
        self.0.lock().unwrap().push((room.to_string(), text.to_string()));
        Box::pin(async { Ok(Delivery::Sent) })
    }
}

#[tokio::test]
async fn warnings_follow_the_booking_and_fire_once() {
    let recorder = Arc::new(Recorder::default());
    let notifier: Arc<dyn RoomNotifier> = recorder.clone();
    let app = TestApp::spawn_with_state(
        |c| c.xmpp = Some(jmb::config::XmppConfig { notifier: jmb::config::NotifierKind::Log, ..Default::default() }),
        |state| {
            // The job and the runs below post through the recorder.
            let x = state.config.xmpp.clone().unwrap();
            state.warnings = Some(Arc::new(Sender::new(notifier, &x, &state.config)));
        },
    )
    .await;
    // 09:00 for 90 minutes: warnings at 10:15, 10:25 and 10:30.
    let m = app.book("jdupont", meeting_body()).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM room_warnings WHERE done_at IS NULL").await, 3);
    // Shortened to 60 minutes: the warnings follow the new end.
    let mut body = meeting_body();
    body["duration"] = json!(60);
    let (status, _) =
        app.api(Method::PUT, &format!("/api/v1/meetings/{}", m["id"].as_str().unwrap()), "jdupont", Some(body)).await;
    assert_eq!(status, 200);
    let end = "2026-12-05T10:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap().timestamp();
    assert_eq!(app.count("SELECT MAX(due_at) FROM room_warnings WHERE done_at IS NULL").await, end);

    // A meeting deleted before it starts takes its warnings with it.
    let mut other = meeting_body();
    other["start"] = json!("2026-12-06T09:00:00Z");
    let other = app.book("jdupont", other).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM room_warnings").await, 6);
    let path = format!("/api/v1/meetings/{}", other["id"].as_str().unwrap());
    let (status, _) = app.api(Method::DELETE, &path, "jdupont", None).await;
    assert_eq!(status, 204);
    assert_eq!(app.count("SELECT COUNT(*) FROM room_warnings").await, 3);

    // At 09:45 the 15-minute warning goes out, once, however often the job runs.
    app.set_now("2026-12-05T09:45:00Z");
    let warnings = app.state.warnings.clone().unwrap();
    let clock: std::sync::Arc<dyn jmb::clock::Clock> = app.clock.clone();
    let now = clock.now();
    for _ in 0..3 {
        warnings.run_due(&app.state.db, &clock, now).await.unwrap();
    }
    wait_for(&app, "SELECT COUNT(*) FROM room_warnings WHERE outcome = 'sent'", 1).await;
    wait_for(&app, "SELECT COUNT(*) FROM room_warnings WHERE done_at IS NULL", 2).await;
    // The job may also have run meanwhile: still one post in the room.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let posts = recorder.0.lock().unwrap().clone();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].0, m["room"].as_str().unwrap());
    assert!(posts[0].1.contains("15"), "{posts:?}");

    app.stop().await;
}
