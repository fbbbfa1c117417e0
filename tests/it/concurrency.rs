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

/// Writes never starve reads: with the runtime `jmb serve` uses (`jmb::runtime`: its cap on blocking
/// threads included), `/healthz` and a feed keep answering while the writer is held inside a
/// transaction and 200 bookings queue behind it. Before writes queued on an async lock, each waiting
/// booking held one of the few blocking threads and reads queued behind all of them.
///
/// Asserted on the mechanism, not on timings (a loaded machine stretches every latency): the store's
/// writer is blocked until the test lets it go, so every read that answers meanwhile provably did not
/// wait for a write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_answer_while_bookings_wait_for_the_writer() {
    let dir = jmb::db::tempdir::TempDirGuard::new().unwrap();
    let mut config = base_config(&dir);
    // One person books the whole burst: above the default hourly limit, which is not under test here.
    config.booking.max_bookings_per_hour = 1000;
    let runtime = jmb::runtime(&config).unwrap();
    let state = jmb::app::build_default_state(config).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_state = state.clone();
    let server = std::thread::spawn(move || {
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            jmb::run(server_state, jmb::Listener::Tcp(listener), async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        })
    });
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    let (status, _) = app_book(&client, &base, "jdupont", meeting_body()).await;
    assert_eq!(status, 201);
    let user = state.users.get("jdupont").await.unwrap().unwrap();
    let feed = format!("{base}/ical/{}.ics", user.feed_token.unwrap());
    let reader = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
    assert_eq!(reader.get(&feed).send().await.unwrap().status(), 200);

    // Hold the writer inside a transaction until released.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (holding, held) = tokio::sync::oneshot::channel::<()>();
    let db = state.db.clone();
    let holder = tokio::spawn(async move {
        db.write(move |_tx| -> Result<(), jmb::db::DbError> {
            let _ = holding.send(());
            let _ = released.recv_timeout(std::time::Duration::from_secs(60));
            Ok(())
        })
        .await
    });
    held.await.unwrap();

    let book = |i: usize| {
        let client = client.clone();
        let base = base.clone();
        let body = serde_json::json!({
            "subject": format!("Burst {i}"),
            "start": "2026-12-05T09:00:00Z",
            "duration": 60,
            "guests": ["guest.one@example.com", "guest.two@example.com"]
        });
        async move { app_book(&client, &base, "mmartin", body).await.0 }
    };
    let burst: Vec<_> = (1..=200).map(|i| tokio::spawn(book(i))).collect();
    // Let the burst reach the store and queue there.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut reads = 0;
    for _ in 0..20 {
        for url in [format!("{base}/healthz"), feed.clone()] {
            let status = tokio::time::timeout(std::time::Duration::from_secs(30), reader.get(&url).send())
                .await
                .unwrap_or_else(|_| panic!("{url} did not answer while the writer was held"))
                .unwrap()
                .status();
            assert_eq!(status, 200, "{url}");
            reads += 1;
        }
    }
    assert!(!burst.iter().any(|t| t.is_finished()), "no booking can finish while the writer is held");
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    for t in burst {
        assert_eq!(t.await.unwrap(), 201);
    }
    assert_eq!(reads, 40);
    assert_eq!(
        state
            .db
            .read(|c| c
                .query_row("SELECT COUNT(*) FROM meetings", [], |r| r.get::<_, i64>(0))
                .map_err(jmb::db::DbError::from))
            .await
            .unwrap(),
        201
    );
    let _ = stop.send(());
    server.join().unwrap();
}

async fn app_book(client: &reqwest::Client, base: &str, uid: &str, body: serde_json::Value) -> (u16, String) {
    let resp =
        client.post(format!("{base}/api/v1/meetings")).headers(TestApp::as_user(uid)).json(&body).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}
