//! Time changes calendars too: when an alarm's trigger passes, its `VALARM` leaves the event (clients
//! mishandle alarms in the past), and when a meeting ends more than `calendar.past_days` ago it leaves
//! the calendar. Both change what CalDAV serves, so both must move the calendar's version and change
//! log, or clients holding a sync token would never fetch the new bytes.
//!
//! [`run_once`] records every such instant between the last run and `now` in the change log (the
//! progress is kept in `job_state`, so a restart neither misses nor repeats one); [`next_due`] says when
//! the next one falls, so the job sleeps until then instead of polling.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, params};

use super::changes;
use crate::booking::repo;
use crate::config::CalendarConfig;

const JOB: &str = "calendar-clock";

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn window(config: &CalendarConfig) -> i64 {
    i64::from(config.past_days) * 86_400
}

/// Ids of the meetings with an instant in `(after, until]`: an alarm trigger or a window exit.
fn due_between(
    conn: &Connection,
    config: &CalendarConfig,
    after: i64,
    until: i64,
) -> rusqlite::Result<BTreeSet<String>> {
    let mut ids = BTreeSet::new();
    let mut by_start = conn.prepare_cached("SELECT id FROM meetings WHERE start_at > ?1 AND start_at <= ?2")?;
    let offsets: BTreeSet<i64> = config.alarm_minutes.iter().map(|m| i64::from(*m) * 60).collect();
    for offset in offsets {
        // start - offset in (after, until]  ⇔  start in (after + offset, until + offset]
        for id in by_start.query_map(params![after + offset, until + offset], |r| r.get::<_, String>(0))? {
            ids.insert(id?);
        }
    }
    let mut by_end = conn.prepare_cached("SELECT id FROM meetings WHERE end_at > ?1 AND end_at <= ?2")?;
    let w = window(config);
    for id in by_end.query_map(params![after - w, until - w], |r| r.get::<_, String>(0))? {
        ids.insert(id?);
    }
    Ok(ids)
}

/// The next instant after `after` at which some calendar changes by itself, if any.
pub fn next_due(
    conn: &Connection,
    config: &CalendarConfig,
    after: DateTime<Utc>,
) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let after = ts(after);
    let mut next: Option<i64> = None;
    let mut first_start = conn.prepare_cached("SELECT MIN(start_at) FROM meetings WHERE start_at > ?1")?;
    for minutes in &config.alarm_minutes {
        let offset = i64::from(*minutes) * 60;
        let start: Option<i64> = first_start.query_row([after + offset], |r| r.get(0))?;
        if let Some(s) = start {
            next = Some(next.map_or(s - offset, |n| n.min(s - offset)));
        }
    }
    let w = window(config);
    let end: Option<i64> =
        crate::db::one(conn, "SELECT MIN(end_at) FROM meetings WHERE end_at > ?1", [after - w], |r| r.get(0))?;
    if let Some(e) = end {
        next = Some(next.map_or(e + w, |n| n.min(e + w)));
    }
    Ok(next.and_then(|t| DateTime::from_timestamp(t, 0)))
}

/// Up to when instants were recorded; `None` before the first run.
pub fn last_run(conn: &Connection) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let last = crate::db::job_value(conn, JOB)?;
    Ok(last.and_then(|t| DateTime::from_timestamp(t, 0)))
}

/// Records every alarm passing and window exit since the last run, up to `now`, in the change log of
/// the calendars concerned. Returns how many meetings were touched. The first run only notes `now`.
pub fn run_once(tx: &Transaction<'_>, config: &CalendarConfig, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    let last = crate::db::job_value(tx, JOB)?;
    let now_ts = ts(now);
    crate::db::exec(
        tx,
        "INSERT INTO job_state (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value)",
        params![JOB, now_ts],
    )?;
    let Some(last) = last.filter(|l| *l < now_ts) else { return Ok(0) };
    let ids = due_between(tx, config, last, now_ts)?;
    for id in &ids {
        if let Some(d) = repo::details_by_id(tx, id)? {
            changes::touch_meeting(tx, &[&d], now)?;
        }
    }
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::model::{Meeting, PartStat, Role};
    use crate::events::Hooks;
    use crate::identity::Identity;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn setup() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "foreign_keys", "ON").unwrap();
        crate::db::migrate::apply(&mut c).unwrap();
        let tx = c.transaction().unwrap();
        let who = Identity { uid: "alice".into(), mail: "alice@x.org".into(), name: String::new() };
        crate::users::remember(&tx, &who, at("2026-12-01T00:00:00Z"), &Hooks::default()).unwrap();
        let m = Meeting {
            id: "meeting00000000001".into(),
            ical_uid: "m1@h".into(),
            room: "abcdefghijklmnop".into(),
            subject: "s".into(),
            start: at("2026-12-05T09:00:00Z"),
            duration_min: 60,
            owner_uid: "alice".into(),
            created: at("2026-12-01T00:00:00Z"),
            updated: at("2026-12-01T00:00:00Z"),
            sequence: 0,
        };
        repo::insert_meeting(&tx, &m).unwrap();
        let a = repo::NewAttendee {
            meeting_id: &m.id,
            role: Role::Owner,
            mail: "alice@x.org",
            name: "",
            token: "owner-token-000000000000",
            partstat: PartStat::Accepted,
        };
        repo::insert_attendee(&tx, &a, m.created).unwrap();
        tx.commit().unwrap();
        c
    }

    fn config() -> CalendarConfig {
        CalendarConfig { alarm_minutes: vec![60, 10], past_days: 2, ..CalendarConfig::default() }
    }

    #[test]
    fn alarms_and_window_exits_move_the_calendar_once() {
        let mut c = setup();
        let cfg = config();
        assert_eq!(next_due(&c, &cfg, at("2026-12-02T00:00:00Z")).unwrap(), Some(at("2026-12-05T08:00:00Z")));
        assert_eq!(next_due(&c, &cfg, at("2026-12-05T08:00:00Z")).unwrap(), Some(at("2026-12-05T08:50:00Z")));
        assert_eq!(next_due(&c, &cfg, at("2026-12-05T08:50:00Z")).unwrap(), Some(at("2026-12-07T10:00:00Z")));
        assert_eq!(next_due(&c, &cfg, at("2026-12-07T10:00:00Z")).unwrap(), None);

        let mut run = |now: &str| {
            let tx = c.transaction().unwrap();
            let n = run_once(&tx, &cfg, at(now)).unwrap();
            tx.commit().unwrap();
            n
        };
        assert_eq!(run("2026-12-02T00:00:00Z"), 0, "the first run only notes the time");
        assert_eq!(run("2026-12-05T07:59:59Z"), 0);
        assert_eq!(run("2026-12-05T08:00:00Z"), 1, "the one-hour alarm passed");
        assert_eq!(run("2026-12-05T08:00:00Z"), 0, "never twice");
        assert_eq!(run("2026-12-05T08:49:00Z"), 0);
        // jmb was down across the ten-minute alarm: recorded on the next run.
        assert_eq!(run("2026-12-06T00:00:00Z"), 1);
        assert_eq!(run("2026-12-07T10:00:00Z"), 1, "left the two-day window");
        assert_eq!(changes::version(&c, "alice").unwrap().ctag, 3);
    }
}
