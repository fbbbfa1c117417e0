//! Seeds a site-sized store for `bench/site.sh`: USERS signed-in users and MEETINGS meetings of six
//! internal people each (owner, a moderator, four guests), so that every user is in MEETINGS × 6 ÷ USERS
//! meetings (60 at 10 000 users and 100 000 meetings), spread from 20 days ago to 60 days ahead (all in
//! the calendar window of the default 30 past days), with a mix of answers, each meeting's stored
//! event lines (what the booking hook `calendar::renderings::Renderer` writes) and its reminders still to
//! come.
//!
//! It writes through jmb's own store functions (`booking::repo`, `users`, the migrations), not the API
//! and not hand-written SQL, so it follows the schema as it changes, and it seeds 100 000 meetings in
//! seconds where the API would take minutes. One transaction; the database must not exist yet.
//!
//! Run: `cargo run --release --example seed_site -- DB USERS MEETINGS OUT.tsv`
//! OUT.tsv gets one line per user: `uid<TAB>mail<TAB>feed token<TAB>calendar password`.

use std::io::Write as _;

use anyhow::{Context, bail};
use chrono::{Duration, DurationRound, Utc};
use jmb::booking::model::{Meeting, PartStat, Role};
use jmb::booking::repo::{self, NewAttendee};
use jmb::events::Hooks;
use jmb::identity::Identity;
use jmb::users;

/// People per meeting, the owner included.
const PEOPLE: usize = 6;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, users_arg, meetings_arg, out] = args.as_slice() else {
        bail!("usage: seed_site DB USERS MEETINGS OUT.tsv");
    };
    let user_count: usize = users_arg.parse().context("USERS")?;
    let meeting_count: usize = meetings_arg.parse().context("MEETINGS")?;
    if user_count < PEOPLE {
        bail!("at least {PEOPLE} users");
    }
    if std::path::Path::new(db).exists() {
        bail!("{db} exists: the seeder only fills a new database");
    }
    let mut conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A bulk load: a large page cache and no syncs until the end (a failed seed is simply redone).
    conn.pragma_update(None, "cache_size", -262_144)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    jmb::db::migrate::apply(&mut conn)?;

    let now = Utc::now().duration_trunc(Duration::minutes(15))?;
    let tx = conn.transaction()?;
    let hooks = Hooks::new(Vec::new());
    let mut out = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut mails = Vec::with_capacity(user_count);
    for n in 0..user_count {
        let who = Identity {
            uid: format!("user{n:05}"),
            mail: format!("user{n:05}@example.org"),
            name: format!("Prenom{n} Nom-{n}"),
        };
        users::remember(&tx, &who, now, &hooks).map_err(|e| anyhow::anyhow!("{e}"))?;
        let feed = users::get(&tx, &who.uid)?.and_then(|u| u.feed_token).context("feed token")?;
        let password = users::new_calendar_password(&tx, &who.uid, now)?;
        writeln!(out, "{}\t{}\t{}\t{}", who.uid, who.mail, feed, password)?;
        mails.push(who.mail);
    }

    // Meeting i has as owner user i mod USERS and, as the others, the users at fixed distinct offsets
    // from it: each user is owner of MEETINGS/USERS meetings and holds each other place as often.
    let stride = user_count / PEOPLE;
    let reminder_minutes = jmb::config::Config::default().mail.reminder_minutes;
    let window_minutes = 80 * 24 * 60;
    let first = now - Duration::days(20);
    for i in 0..meeting_count {
        let id = jmb::secrets::meeting_id();
        let offset = (i * window_minutes / meeting_count.max(1)) as i64;
        let start = first + Duration::minutes(offset - offset % 15 + 8 * 60);
        let owner = i % user_count;
        let meeting = Meeting {
            ical_uid: format!("{id}@bench.example.org"),
            id: id.clone(),
            room: jmb::secrets::room_name(),
            subject: format!("Réunion de suivi n°{i} — équipe {}, \"projet\"; lot {}", owner % 97, i % 7),
            start,
            duration_min: 30 * (1 + (i % 4) as u32),
            owner_uid: format!("user{owner:05}"),
            created: now - Duration::days(30),
            updated: now - Duration::days(30),
            sequence: (i % 3) as u32,
        };
        repo::insert_meeting(&tx, &meeting)?;
        // Its reminders still to come, as the booking hook `mail::reminders::ReminderScheduler` writes
        // them with the default offsets.
        jmb::mail::reminders::schedule(&tx, &id, start, &reminder_minutes, now)?;
        for k in 0..PEOPLE {
            let person = (owner + k * stride) % user_count;
            let (role, partstat) = match k {
                0 => (Role::Owner, PartStat::Accepted),
                1 => (Role::Moderator, PartStat::Accepted),
                _ => (
                    Role::Guest,
                    [PartStat::NeedsAction, PartStat::Accepted, PartStat::Tentative, PartStat::Declined][(i + k) % 4],
                ),
            };
            let token = jmb::secrets::token();
            let name = format!("Prenom{person} Nom-{person}");
            let attendee =
                NewAttendee { meeting_id: &id, role, mail: &mails[person], name: &name, token: &token, partstat };
            let row = repo::insert_attendee(&tx, &attendee, meeting.created)?;
            if partstat != PartStat::NeedsAction && role != Role::Owner {
                repo::set_partstat(&tx, row, partstat, meeting.created + Duration::days(1))?;
            }
        }
    }
    // What the booking hook stores with each meeting: the event lines every viewer sees alike.
    let rendered = jmb::calendar::renderings::backfill_all(&tx, first - Duration::days(1))?;
    anyhow::ensure!(rendered == meeting_count, "rendered {rendered} of {meeting_count} meetings");
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    out.flush()?;
    Ok(())
}
