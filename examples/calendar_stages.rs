//! Where a cold calendar's time goes (`bench/site.sh` prints it before the load runs): for a sample of
//! the users of a seeded store (`examples/seed_site.rs`), each stage of rendering a calendar from
//! nothing, timed on its own, one user after the other on one thread, as `CalendarStore` does it:
//!
//! * `read`: the store read (the user's version and address, and per event their own invitation and the
//!   meeting's stored shared lines);
//! * `render`: [`CalendarStore::render_cold`] on those rows (adding the viewer's lines to each event's
//!   shared ones, ETags, object index), what a feed or CalDAV request waits for on a cache miss.
//!
//! Each stage is reported in CPU time of the thread (Linux `schedstat`, so that other work on the
//! machine does not count) and in wall time.
//!
//! Run: `cargo run --release --example calendar_stages -- DB USERS.tsv [SAMPLE]`

use std::time::{Duration, Instant};

use anyhow::Context;
use jmb::calendar::store::CalendarStore;

/// The binary's allocator (`src/main.rs`), so that the figures are the server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, users, ..] = args.as_slice() else {
        anyhow::bail!("usage: calendar_stages DB USERS.tsv [SAMPLE]");
    };
    let sample: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(500);
    let uids: Vec<String> =
        std::fs::read_to_string(users)?.lines().filter_map(|l| l.split('\t').next().map(str::to_string)).collect();
    let step = (uids.len() / sample.max(1)).max(1);
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let config = jmb::config::Config::default();
    let now = chrono::Utc::now();
    let (mut read, mut render, mut events, mut bytes, mut n) = (Duration::ZERO, Duration::ZERO, 0, 0, 0);
    let (mut read_cpu, mut render_cpu) = (Duration::ZERO, Duration::ZERO);
    for uid in uids.iter().step_by(step).take(sample) {
        let (t, c) = (Instant::now(), cpu());
        let rows = CalendarStore::read_cold(&conn, &config, uid, now).context("read")?;
        let (t2, c2) = (Instant::now(), cpu());
        let snapshot = CalendarStore::render_cold(&config, rows, now);
        let (t3, c3) = (Instant::now(), cpu());
        read += t2 - t;
        render += t3 - t2;
        read_cpu += c2 - c;
        render_cpu += c3 - c2;
        events += snapshot.objects.len();
        bytes += snapshot.feed.len();
        n += 1;
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    let per_event = |d: Duration| d.as_secs_f64() * 1e6 / events.max(1) as f64;
    println!(
        "{n} calendars, {:.0} events and {:.0} KiB each on average",
        events as f64 / n.max(1) as f64,
        bytes as f64 / 1024.0 / n.max(1) as f64
    );
    for (stage, cpu, wall) in [("read", read_cpu, read), ("render", render_cpu, render)] {
        println!(
            "  {stage:<6} {:6.0} µs CPU per calendar ({:5.1} µs per event), {:6.0} µs wall",
            per(cpu),
            per_event(cpu),
            per(wall)
        );
    }
    Ok(())
}

/// CPU time of this thread so far (the first field of `/proc/thread-self/schedstat`, in ns).
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(stat.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0))
}
