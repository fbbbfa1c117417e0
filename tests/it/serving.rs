//! Serving under stress and faults: the health check tells a store that cannot write; slow and idle
//! connections are cut; the number of connections is bounded.

use std::time::Duration;

use crate::common::*;

/// Polls `f` every 100 ms until it returns true, for at most `limit`.
pub async fn eventually(limit: Duration, mut f: impl AsyncFnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        if f().await {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A lock kept by another process (a stuck backup, a second jmb) makes every booking fail: the health
/// check says so, and says ok again once the lock is gone.
#[tokio::test]
async fn healthz_reports_a_store_that_cannot_write() {
    let app = TestApp::spawn_with(|c| c.database.busy_timeout_ms = 200).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let other = rusqlite::Connection::open(&app.state.config.database.path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let healthz = async || {
        let r = app.get("/healthz").await;
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let mut seen = (0, String::new());
    let failed = eventually(Duration::from_secs(5), async || {
        seen = healthz().await;
        seen.0 == 503
    })
    .await;
    assert!(failed, "while another process holds the write lock: {seen:?}");
    assert!(seen.1.contains("cannot write"), "{seen:?}");
    // Reads still work meanwhile: the store answers, it only cannot write.
    assert_eq!(app.get_as("/api/v1/meetings", "jdupont").await.status(), 200);
    other.execute_batch("ROLLBACK").unwrap();
    assert!(eventually(Duration::from_secs(5), async || healthz().await.0 == 200).await, "ok again");
    app.stop().await;
}
