//! Where a cold calendar's time goes (`bench/site.sh` prints it before the load runs): for a sample of
//! the users of a seeded store (`examples/seed_site.rs`), each stage of rendering a calendar from
//! nothing, timed on its own, one user after the other on one thread, as `CalendarStore` does it:
//!
//! * `read`: the store read (the user's version and address, and their meetings with every attendee);
//! * `render`: [`CalendarStore::render_cold`] on those rows (mapping each meeting to the viewer's event,
//!   writing iCalendar, ETags, object index), what a feed or CalDAV request waits for on a cache miss.
//!
//! Run: `cargo run --release --example calendar_stages -- DB USERS.tsv [SAMPLE]`

use std::time::{Duration, Instant};

use anyhow::Context;
use jmb::calendar::store::CalendarStore;

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
    for uid in uids.iter().step_by(step).take(sample) {
        let t = Instant::now();
        let rows = CalendarStore::read_cold(&conn, &config, uid, now).context("read")?;
        let t2 = Instant::now();
        let snapshot = CalendarStore::render_cold(&config, uid, rows, now);
        let t3 = Instant::now();
        read += t2 - t;
        render += t3 - t2;
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
    println!("  read   {:8.0} µs per calendar, {:6.1} µs per event", per(read), per_event(read));
    println!("  render {:8.0} µs per calendar, {:6.1} µs per event", per(render), per_event(render));
    Ok(())
}
