//! The calendar change log, the one owner of the `calendar_state` and `calendar_changes` tables. Every
//! change to what a user's calendar shows bumps that calendar's version (`ctag`), records which object
//! changed at which version (what `sync-collection` reads back) and when (the feed's Last-Modified).
//!
//! What changes a calendar:
//! * booking changes and answers, through [`ChangeLog`], a hook run inside the booking's transaction,
//!   so a calendar version never runs ahead of the data;
//! * a user's address changing, which resets their log (every sync token becomes invalid);
//! * time: an alarm passing (its `VALARM` leaves the object) or a meeting leaving the `past_days`
//!   window (the object leaves the calendar). [`crate::calendar::clock`] records those at their time.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::booking::model::MeetingDetails;
use crate::events::{Change, Hook, HookError};
use crate::users;

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// The hook that keeps the log in step with bookings.
pub struct ChangeLog;

impl Hook for ChangeLog {
    fn name(&self) -> &'static str {
        "calendar-change-log"
    }

    fn on_change(&self, tx: &Transaction<'_>, change: &Change<'_>, now: DateTime<Utc>) -> Result<(), HookError> {
        match change {
            Change::Created { meeting } | Change::Deleted { meeting } | Change::Answered { meeting, .. } => {
                touch_meeting(tx, &[meeting], now)?;
            }
            // Removed attendees lose the object, added ones gain it, the others see it change.
            Change::Updated { before, after, .. } => touch_meeting(tx, &[before, after], now)?,
            Change::UserAddressChanged { uid, .. } => reset(tx, uid, now)?,
            // Neither is in the calendar.
            Change::Joined { .. } | Change::NoteChanged { .. } => {}
        }
        Ok(())
    }
}

/// Records a change of a meeting (as it is in each of `versions`) in the calendar of everyone it
/// concerns: its owner and every attendee who is a user.
pub fn touch_meeting(conn: &Connection, versions: &[&MeetingDetails], now: DateTime<Utc>) -> rusqlite::Result<()> {
    let Some(first) = versions.first() else { return Ok(()) };
    let mails = versions.iter().flat_map(|d| d.attendees.iter().map(|a| a.mail.as_str()));
    let mut uids = users::uids_by_mails(conn, mails)?;
    for d in versions {
        if users::exists(conn, &d.meeting.owner_uid)? {
            uids.insert(d.meeting.owner_uid.clone());
        }
    }
    touch(conn, &uids, &crate::ics::object_name_for_uid(&first.meeting.ical_uid), now)
}

/// Records that `object_name` changed (or disappeared) in each of these users' calendars.
pub fn touch(
    conn: &Connection,
    uids: &BTreeSet<String>,
    object_name: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let mut bump = conn.prepare_cached(
        "INSERT INTO calendar_state (uid, ctag, changed_at) VALUES (?1, 1, ?2)
         ON CONFLICT (uid) DO UPDATE SET ctag = ctag + 1, changed_at = MAX(changed_at, excluded.changed_at)
         RETURNING ctag",
    )?;
    let mut log = conn
        .prepare_cached("INSERT INTO calendar_changes (uid, object_name, ctag, changed_at) VALUES (?1, ?2, ?3, ?4)")?;
    for uid in uids {
        let ctag: i64 = bump.query_row(params![uid, ts(now)], |r| r.get(0))?;
        log.execute(params![uid, object_name, ctag, ts(now)])?;
    }
    Ok(())
}

/// Invalidates every sync token of a user (their calendar's content changed wholesale): the next sync
/// starts over.
pub fn reset(conn: &Connection, uid: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    crate::db::exec(
        conn,
        "INSERT INTO calendar_state (uid, ctag, oldest_ctag, changed_at) VALUES (?1, 1, 1, ?2)
         ON CONFLICT (uid) DO UPDATE SET ctag = ctag + 1, oldest_ctag = ctag + 1,
                                         changed_at = MAX(changed_at, excluded.changed_at)",
        params![uid, ts(now)],
    )?;
    Ok(())
}

/// A calendar's version, the oldest token still answerable, and when its content last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Version {
    pub ctag: i64,
    pub oldest: i64,
    pub changed_at: Option<DateTime<Utc>>,
}

pub fn version(conn: &Connection, uid: &str) -> rusqlite::Result<Version> {
    // Read on every CalDAV request: the statement is prepared once per connection.
    Ok(conn
        .prepare_cached("SELECT ctag, oldest_ctag, changed_at FROM calendar_state WHERE uid = ?1")?
        .query_row([uid], |r| {
            Ok(Version {
                ctag: r.get(0)?,
                oldest: r.get(1)?,
                changed_at: DateTime::from_timestamp(r.get(2)?, 0).filter(|t| t.timestamp() > 0),
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// The objects changed after version `since` up to version `until` (inclusive), each with the version
/// of its latest change in that range, oldest first; at most `limit` of them (all with `None`). The
/// version of the last one returned covers exactly the ones returned: every other object's latest
/// change in the range is later.
pub fn changed_between(
    conn: &Connection,
    uid: &str,
    since: i64,
    until: i64,
    limit: Option<usize>,
) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT object_name, MAX(ctag) AS last FROM calendar_changes WHERE uid = ?1 AND ctag > ?2 AND ctag <= ?3
         GROUP BY object_name ORDER BY last LIMIT ?4",
    )?;
    // SQLite reads a negative LIMIT as no limit.
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let names = stmt.query_map(params![uid, since, until, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
    names.collect()
}

/// Drops log entries older than `days`; tokens from before the oldest kept entry become invalid.
pub fn prune(conn: &Connection, now: DateTime<Utc>, days: u32) -> rusqlite::Result<usize> {
    let cutoff = ts(now - Duration::days(i64::from(days)));
    crate::db::exec(
        conn,
        "UPDATE calendar_state SET oldest_ctag = (
             SELECT MAX(c.ctag) FROM calendar_changes c WHERE c.uid = calendar_state.uid AND c.changed_at < ?1)
         WHERE EXISTS (SELECT 1 FROM calendar_changes c WHERE c.uid = calendar_state.uid AND c.changed_at < ?1)",
        [cutoff],
    )?;
    crate::db::exec(conn, "DELETE FROM calendar_changes WHERE changed_at < ?1", [cutoff])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Hooks;
    use crate::identity::Identity;

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate::apply(&mut c).unwrap();
        {
            let tx = c.transaction().unwrap();
            for (uid, mail) in [("alice", "alice@x.org"), ("bob", "bob@x.org")] {
                let who = Identity { uid: uid.into(), mail: mail.into(), name: String::new() };
                users::remember(&tx, &who, Utc::now(), &Hooks::default()).unwrap();
            }
            tx.commit().unwrap();
        }
        c
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn log_and_versions() {
        let c = conn();
        let t0: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let users = set(&["alice", "bob"]);
        touch(&c, &users, "m1.ics", t0).unwrap();
        touch(&c, &users, "m2.ics", t0).unwrap();
        touch(&c, &users, "m1.ics", t0 + Duration::days(10)).unwrap();
        let v = version(&c, "bob").unwrap();
        assert_eq!((v.ctag, v.oldest, v.changed_at), (3, 0, Some(t0 + Duration::days(10))));
        // m1 changed at 1 and 3: it counts at 3, after m2.
        let all = changed_between(&c, "bob", 0, 3, None).unwrap();
        assert_eq!(all, [("m2.ics".to_string(), 2), ("m1.ics".to_string(), 3)]);
        let until_2 = changed_between(&c, "bob", 0, 2, None).unwrap();
        assert_eq!(until_2, [("m1.ics".to_string(), 1), ("m2.ics".to_string(), 2)]);
        assert_eq!(changed_between(&c, "bob", 2, 3, None).unwrap(), [("m1.ics".to_string(), 3)]);
        assert!(changed_between(&c, "bob", 3, 3, None).unwrap().is_empty());
        assert_eq!(changed_between(&c, "bob", 0, 3, Some(1)).unwrap(), [("m2.ics".to_string(), 2)]);
        assert!(changed_between(&c, "bob", 0, 3, Some(0)).unwrap().is_empty());
        assert_eq!(version(&c, "nobody").unwrap(), Version::default());

        assert_eq!(prune(&c, t0 + Duration::days(5), 1).unwrap(), 4);
        assert_eq!(version(&c, "bob").unwrap().oldest, 2, "tokens before version 2 are gone");
        reset(&c, "bob", t0 + Duration::days(11)).unwrap();
        let v = version(&c, "bob").unwrap();
        assert_eq!((v.ctag, v.oldest, v.changed_at), (4, 4, Some(t0 + Duration::days(11))));
        // changed_at never goes backwards.
        touch(&c, &set(&["bob"]), "m3.ics", t0).unwrap();
        assert_eq!(version(&c, "bob").unwrap().changed_at, Some(t0 + Duration::days(11)));
    }
}
