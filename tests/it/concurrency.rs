//! Fifty bookings at once: no SQLITE_BUSY reaches a user, all fifty are stored.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_bookings() {
    let app = TestApp::spawn().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = app.url("/api/v1/meetings");
        let who = if i % 2 == 0 { "jdupont" } else { "mmartin" };
        let mut body = meeting_body();
        body["subject"] = serde_json::json!(format!("Concurrent {i}"));
        tasks.spawn(async move {
            let resp = client.post(url).headers(TestApp::as_user(who)).json(&body).send().await.unwrap();
            resp.status().as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM meetings").await, 50);
    assert_eq!(app.count("SELECT COUNT(DISTINCT room) FROM meetings").await, 50);
    // jdupont books with 6 attendees; for mmartin the listed moderator is herself, so 5.
    assert_eq!(app.count("SELECT COUNT(*) FROM attendees").await, 25 * 6 + 25 * 5);
    app.stop().await;
}
