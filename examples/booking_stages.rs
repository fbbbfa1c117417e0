//! What a booking costs the store (`bench/site.sh` prints it before the booking run): on a copy of a
//! seeded site (`examples/seed_site.rs`), bookings with 20 guests (5 of them users of the site, as
//! `bench/site-book.lua` makes them) through the booking service with every hook of the server, with
//! no HTTP and no mail worker, so that the figures are the writer's alone:
//!
//! * one at a time: each booking is a transaction of its own (what one client waits for);
//! * eight at a time: they share transactions (group commit, each in a savepoint), as under load.
//!
//! Reported per booking in CPU time of the process (Linux `/proc/self/stat`, so other work on the
//! machine does not count; 10 ms ticks, hence a thousand bookings or more), in wall time, and in bytes
//! and calls written (`/proc/self/io`: almost all of it the log, two calls per page, and the database
//! file through the checkpoints; the last checkpoint of a run may land in the next figure).
//! The writer is one thread, so the one-at-a-time CPU figure bounds how many bookings per second one
//! store can take.
//!
//! Run: `cargo run --release --example booking_stages -- DB USERS.tsv [BOOKINGS]`

use std::time::{Duration, Instant};

use anyhow::Context;
use jmb::booking::model::MailAddress;
use jmb::booking::rules::{Invitee, ValidMeeting};
use jmb::identity::{Actor, Identity};

/// The binary's allocator (`src/main.rs`), so that the figures are the server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, users, ..] = args.as_slice() else {
        anyhow::bail!("usage: booking_stages DB USERS.tsv [BOOKINGS]");
    };
    let bookings: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let site_users = std::fs::read_to_string(users)?.lines().count();
    let config = jmb::config::Config::from_toml(&format!(
        r#"
[server]
public_url = "http://127.0.0.1:1"
secret = "booking-stages-secret-0123456789abcdef"
[database]
path = "{db}"
[jitsi]
base_url = "https://meet.example.org"
app_secret = "bench-secret-0123456789abcdef0123456789ab"
[auth]
mode = "trusted-header"
editors = "everyone"
[mail]
internal_domains = ["example.org"]
transport = "mailbox"
"#
    ))
    .context("configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let state = jmb::app::build_default_state(config)?;
        // The server's checkpoints: without them the log only grows, and each commit extends a file
        // instead of writing over one.
        tokio::spawn(jmb::jobs::run_checkpoints(state.db.clone()));
        let start = chrono::DurationRound::duration_trunc(
            chrono::Utc::now() + chrono::Duration::days(3),
            chrono::Duration::hours(1),
        )?;
        let mut counter = 0usize;
        for (label, parallel) in [("one at a time", 1usize), ("eight at a time", 8)] {
            let (cpu_before, io_before, t) = (cpu(), written(), Instant::now());
            let mut left = bookings;
            while left > 0 {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..parallel.min(left) {
                    counter += 1;
                    let (actor, valid) = booking(counter, site_users, start);
                    let state = state.clone();
                    // The server's clock (whole seconds), as the API passes it.
                    set.spawn(async move { state.bookings.create(&actor, valid, state.clock.now()).await });
                }
                while let Some(done) = set.join_next().await {
                    done?.map_err(|e| anyhow::anyhow!("booking refused: {e}"))?;
                }
                left -= parallel.min(left);
            }
            let (wall, cpu, io) = (t.elapsed(), cpu() - cpu_before, written());
            let io = (io.0.saturating_sub(io_before.0), io.1.saturating_sub(io_before.1));
            let per = |d: Duration| d.as_secs_f64() * 1e3 / bookings as f64;
            println!(
                "{label:>16}: {:.2} ms CPU, {:.2} ms wall, {:.0} KiB in {:.0} write calls per booking ({:.0}/s)",
                per(cpu),
                per(wall),
                io.0 as f64 / 1024.0 / bookings as f64,
                io.1 as f64 / bookings as f64,
                bookings as f64 / wall.as_secs_f64(),
            );
        }
        anyhow::Ok(())
    })
}

/// The `n`th booking as `bench/site-book.lua` makes it: a different organiser each time, 5 guests who
/// are users of the site and 15 from outside.
fn booking(n: usize, users: usize, start: chrono::DateTime<chrono::Utc>) -> (Actor, ValidMeeting) {
    let owner = (n * 7919) % users;
    let uid = format!("user{owner:05}");
    let actor = Actor {
        identity: Identity { mail: format!("{uid}@example.org"), name: format!("Prenom{owner} Nom-{owner}"), uid },
        is_editor: true,
    };
    let mut guests: Vec<Invitee> =
        (1..=5).map(|k| invitee(&format!("user{:05}@example.org", (owner + k * 131) % users), "")).collect();
    guests
        .extend((1..=15).map(|k| invitee(&format!("guest{k}.{}@partner.example.net", n % 50), &format!("Invité {k}"))));
    let valid =
        ValidMeeting { subject: format!("Charge {n}"), start, duration_min: 30, moderators: Vec::new(), guests };
    (actor, valid)
}

fn invitee(mail: &str, name: &str) -> Invitee {
    Invitee { mail: MailAddress::parse(mail).expect("a valid address"), name: name.to_string() }
}

/// CPU time of this process, from `/proc/self/stat` (user and system, in clock ticks): it counts the
/// threads that ended meanwhile too (tokio's blocking pool, where writes run), and no other process.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // Linux reports these in USER_HZ, 100 per second on every architecture jmb is built for.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Bytes and write calls this process handed to the kernel (`/proc/self/io`: `wchar`, `syscw`, which
/// count pipes and wake-ups too, a few bytes each): the log and, through the checkpoints that run
/// meanwhile, the database file.
fn written() -> (u64, u64) {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        io.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0)
    };
    (field("wchar:"), field("syscw:"))
}
