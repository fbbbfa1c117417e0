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

/// A raw connection to the test server.
async fn connect(app: &TestApp) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(app.addr).await.unwrap()
}

/// Reads until the server closes the connection; `None` when it is still open after `limit`.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read_all).await.ok().map(|_| got)
}

/// A client that sends its headers slowly (a byte every 200 ms, as slowloris does) or not at all is
/// disconnected after `server.header_read_timeout_seconds`; so is a kept-alive connection left idle.
/// Before, such connections stayed open for ever and a few hundred exhausted the file descriptors.
#[tokio::test]
async fn slow_and_idle_connections_are_cut() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_with(|c| c.server.header_read_timeout_seconds = 1).await;

    // Silent after connecting.
    let mut silent = connect(&app).await;
    // Trickling a request's headers.
    let mut slow = connect(&app).await;
    let trickle = async {
        for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if slow.write_all(&[*b]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    };
    let cut_while_trickling = tokio::time::timeout(Duration::from_secs(15), trickle).await;
    assert_eq!(cut_while_trickling, Ok(true), "the trickling client is cut before it finishes its headers");
    assert!(closed_within(&mut silent, Duration::from_secs(10)).await.is_some(), "the silent client is cut");

    // A kept-alive connection: one request answered, then idle until the server closes it.
    let mut kept = connect(&app).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answer = closed_within(&mut kept, Duration::from_secs(10)).await.expect("closed when idle");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    app.stop().await;
}

/// At most `server.max_connections` connections are served at once: a further one waits (in the
/// listen queue, costing no file descriptor in jmb) until one closes, then gets its answer.
#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_with(|c| {
        c.server.max_connections = 2;
        c.server.header_read_timeout_seconds = 60;
    })
    .await;
    let first = connect(&app).await;
    let mut second = connect(&app).await;
    // The second connection is being served: it answers.
    second.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut third = connect(&app).await;
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    assert!(
        closed_within(&mut third, Duration::from_millis(1500)).await.is_none(),
        "two connections are open: the third is not served yet"
    );
    drop(first);
    let answer = closed_within(&mut third, Duration::from_secs(10)).await.expect("served once a slot is free");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    drop(second);
    app.stop().await;
}

/// Paths answered in their own formats (feed, CalDAV, webhooks) get no HTML page even when nothing
/// there answers: a short text with the status; page paths keep their page.
#[tokio::test]
async fn unknown_paths_outside_the_pages_answer_404_in_plain_text() {
    let app = TestApp::spawn().await;
    for path in ["/icalendar", "/prosody/whatever", "/.well-known/nothing"] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 404, "{path}");
        let body = r.text().await.unwrap();
        assert_eq!(body, "Not Found", "{path}");
    }
    let r = app.get("/nothing-here").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("<html"), "a page path still gets its page");
    app.stop().await;
}
