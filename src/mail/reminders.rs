//! Reminders before a meeting, at the configured offsets (`mail.reminder_minutes`, by default one week,
//! 24 hours, one hour and ten minutes before the start). This module alone owns the `reminders` table.
//!
//! * Scheduling is a hook: when a meeting is booked or moved, its reminder rows are written in the
//!   same transaction, only for offsets still in the future; deleting the meeting drops them (cascade).
//! * [`run_due`] sends what is due: the owner's reminder lists who accepted, answered "maybe", declined
//!   or did not answer; each moderator and guest gets theirs, unless they declined. A reminder is
//!   marked done in the transaction that queues its mails, so it fires once, whatever restarts.
//! * If several offsets of one meeting are due at once (jmb was down), only the latest is sent; a
//!   reminder whose meeting already started is dropped, never sent late.
//! * Changing `mail.reminder_minutes`: at start the job schedules the reminders missing for meetings not
//!   yet started, at offsets still in the future ([`backfill`]; one already sent is not scheduled
//!   again), and drops those still pending at offsets no longer configured ([`drop_unconfigured`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, Transaction, params};

use super::compose::MailSettings;
use super::letters::{Notice, What};
use super::notify::{Planned, queue, recipient};
use crate::booking::model::{PartStat, Role};
use crate::booking::repo;
use crate::events::{Change, Hook, HookError};

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// The hook that schedules reminders.
pub struct ReminderScheduler {
    minutes: Vec<u32>,
}

impl ReminderScheduler {
    pub fn new(minutes: Vec<u32>) -> Self {
        Self { minutes }
    }
}

impl Hook for ReminderScheduler {
    fn name(&self) -> &'static str {
        "reminders"
    }

    fn on_change(&self, tx: &Transaction<'_>, change: &Change<'_>, now: DateTime<Utc>) -> Result<(), HookError> {
        match change {
            Change::Created { meeting } => {
                schedule(tx, &meeting.meeting.id, meeting.meeting.start, &self.minutes, now)?
            }
            Change::Updated { before, after, .. } if before.meeting.start != after.meeting.start => {
                schedule(tx, &after.meeting.id, after.meeting.start, &self.minutes, now)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// (Re)writes the reminders of a meeting starting at `start`: every offset still in the future is due
/// at its time (a reminder already sent for an earlier date fires again for the new one); reminders not
/// yet sent for offsets now past are dropped.
pub fn schedule(
    tx: &Transaction<'_>,
    meeting_id: &str,
    start: DateTime<Utc>,
    minutes: &[u32],
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    crate::db::exec(tx, "DELETE FROM reminders WHERE meeting_id = ?1 AND done_at IS NULL", [meeting_id])?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO reminders (meeting_id, minutes_before, due_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (meeting_id, minutes_before) DO UPDATE SET due_at = excluded.due_at, done_at = NULL, outcome = NULL",
    )?;
    for m in minutes {
        let due = start - Duration::minutes(i64::from(*m));
        if due > now {
            upsert.execute(params![meeting_id, m, ts(due)])?;
        }
    }
    Ok(())
}

/// Where [`follow_configuration`] notes the offsets it last followed (`job_state`).
const FOLLOWED: &str = "reminder-offsets";

/// Brings the schedule in line with `minutes` (`mail.reminder_minutes`) if they changed since the last
/// time (or never were followed): [`backfill`], then [`drop_unconfigured`]. Unchanged offsets cost one
/// read, not a pass over every meeting to come at each start. Returns (added, dropped).
pub fn follow_configuration(
    tx: &Transaction<'_>,
    minutes: &[u32],
    now: DateTime<Utc>,
) -> rusqlite::Result<(usize, usize)> {
    crate::db::follow_offsets(tx, FOLLOWED, minutes, || {
        Ok((backfill(tx, minutes, now)?, drop_unconfigured(tx, minutes)?))
    })
}

/// Makes the next [`follow_configuration`] run whatever the offsets (meetings were imported).
pub fn forget_followed(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    crate::db::set_job_value(tx, FOLLOWED, None)
}

/// Adds the reminders missing for meetings not started at `now` (an offset added to the
/// configuration): every offset still in the future without a row gets one. Rows already there
/// (pending, sent or missed) are left as they are, so running it again changes nothing. Returns how
/// many were added.
pub fn backfill(tx: &Transaction<'_>, minutes: &[u32], now: DateTime<Utc>) -> rusqlite::Result<usize> {
    let mut added = 0;
    for (meeting_id, start) in repo::starting_after(tx, now)? {
        for m in minutes {
            let due = start - Duration::minutes(i64::from(*m));
            if due > now {
                added += crate::db::exec(
                    tx,
                    "INSERT OR IGNORE INTO reminders (meeting_id, minutes_before, due_at) VALUES (?1, ?2, ?3)",
                    params![meeting_id, m, ts(due)],
                )?;
            }
        }
    }
    Ok(added)
}

/// Drops the reminders still pending at offsets not in `minutes` (removed from the configuration, or
/// imported from the original at an offset this site does not use). Sent and missed ones are kept.
/// Returns how many were dropped.
pub fn drop_unconfigured(tx: &Transaction<'_>, minutes: &[u32]) -> rusqlite::Result<usize> {
    crate::db::exec(
        tx,
        "DELETE FROM reminders WHERE done_at IS NULL AND minutes_before NOT IN (SELECT value FROM json_each(?1))",
        [crate::db::json_numbers(minutes)],
    )
}

/// A reminder still pending in the original JMB (`jmb import-legacy`). Returns whether it was added
/// (an existing row for the same meeting and offset is left as it is).
pub fn import_pending(
    tx: &Transaction<'_>,
    meeting_id: &str,
    minutes_before: u32,
    due: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    Ok(crate::db::exec(
        tx,
        "INSERT OR IGNORE INTO reminders (meeting_id, minutes_before, due_at) VALUES (?1, ?2, ?3)",
        params![meeting_id, minutes_before, ts(due)],
    )? > 0)
}

/// Reminders as the metrics show them: dropped because they could not be sent in time (`missed`),
/// and still pending although due more than `grace` ago (`late`: the job is behind or stopped).
pub fn lateness(conn: &Connection, now: DateTime<Utc>, grace: Duration) -> rusqlite::Result<(i64, i64)> {
    crate::db::one(
        conn,
        "SELECT (SELECT COUNT(*) FROM reminders WHERE outcome = 'missed'),
                (SELECT COUNT(*) FROM reminders WHERE done_at IS NULL AND due_at < ?1)",
        [ts(now - grace)],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// When the next reminder is due.
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let t: Option<i64> =
        crate::db::one(conn, "SELECT MIN(due_at) FROM reminders WHERE done_at IS NULL", [], |r| r.get(0))?;
    Ok(t.and_then(|t| DateTime::from_timestamp(t, 0)))
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Reminders sent (each to the owner and every attendee who did not decline).
    pub sent: usize,
    /// Reminders dropped: the meeting had started, or a later offset of it was due too.
    pub missed: usize,
    /// Mails queued.
    pub mails: usize,
}

/// Sends every reminder due at `now` (see the module docs), inside `tx`.
pub fn run_due(tx: &Transaction<'_>, s: &MailSettings, now: DateTime<Utc>) -> rusqlite::Result<Outcome> {
    let due: Vec<(i64, String, u32)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, meeting_id, minutes_before FROM reminders WHERE done_at IS NULL AND due_at <= ?1 ORDER BY due_at",
        )?;
        let rows = stmt.query_map([ts(now)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut by_meeting: BTreeMap<String, Vec<(i64, u32)>> = BTreeMap::new();
    for (id, meeting, minutes) in due {
        by_meeting.entry(meeting).or_default().push((id, minutes));
    }
    let mut outcome = Outcome::default();
    for (meeting_id, mut reminders) in by_meeting {
        // The latest offset (closest to the start) is the one worth sending.
        reminders.sort_by_key(|(_, minutes)| *minutes);
        let details = repo::details_by_id(tx, &meeting_id)?;
        for (i, (id, _)) in reminders.iter().enumerate() {
            let send = i == 0 && details.as_ref().is_some_and(|d| now < d.meeting.start);
            if send && let Some(d) = &details {
                // The owner, and every invitee who did not decline.
                let mut planned = Vec::new();
                for a in d.attendees.iter().filter(|a| a.partstat != PartStat::Declined || a.role == Role::Owner) {
                    let to = recipient(tx, s, a)?;
                    planned
                        .push(Planned { meeting: d, notice: Notice { to, what: What::Reminder { attendee: a.id } } });
                }
                outcome.mails += queue(tx, s, &planned, None, now)?;
                outcome.sent += 1;
            } else {
                outcome.missed += 1;
            }
            crate::db::exec(
                tx,
                "UPDATE reminders SET done_at = ?2, outcome = ?3 WHERE id = ?1",
                params![id, ts(now), if send { "sent" } else { "missed" }],
            )?;
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::model::Meeting;
    use crate::db::Db;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn pending(conn: &rusqlite::Connection, id: &str) -> Vec<u32> {
        let mut stmt = conn
            .prepare("SELECT minutes_before FROM reminders WHERE meeting_id = ?1 AND done_at IS NULL ORDER BY due_at")
            .unwrap();
        stmt.query_map([id], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn the_schedule_follows_the_configured_offsets() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let path = dir.path().join("r.sqlite3");
        drop(Db::open(&path, std::time::Duration::from_secs(1), 1).unwrap());
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        let now = at("2030-05-01T10:00:00Z");
        let tx = conn.transaction().unwrap();
        for (id, start) in [("meetsoon1", "2030-05-01T10:30:00Z"), ("meetlater", "2030-05-09T10:00:00Z")] {
            let meeting = Meeting {
                id: id.into(),
                ical_uid: format!("{id}@test"),
                room: format!("{id}roomabcdefgh"),
                subject: "Weekly".into(),
                start: at(start),
                duration_min: 60,
                owner_uid: "jdupont".into(),
                created: now,
                updated: now,
                sequence: 0,
            };
            repo::insert_meeting(&tx, &meeting).unwrap();
            schedule(&tx, id, meeting.start, &[1440, 10], now).unwrap();
        }
        // One reminder already sent stays on record whatever the offsets become.
        tx.execute("UPDATE reminders SET done_at = 1, outcome = 'sent' WHERE meeting_id = 'meetlater' AND minutes_before = 1440", [])
            .unwrap();
        // 60 added: scheduled where it is still to come (not half an hour before a start); the 1440
        // already sent is not scheduled again.
        assert_eq!(backfill(&tx, &[1440, 60, 10], now).unwrap(), 1);
        assert_eq!(backfill(&tx, &[1440, 60, 10], now).unwrap(), 0, "again: nothing more");
        assert_eq!(pending(&tx, "meetlater"), vec![60, 10]);
        assert_eq!(pending(&tx, "meetsoon1"), vec![10]);
        // 10 removed: its pending reminders go; the sent one stays.
        assert_eq!(drop_unconfigured(&tx, &[1440, 60]).unwrap(), 2);
        assert_eq!(pending(&tx, "meetlater"), vec![60]);
        assert!(pending(&tx, "meetsoon1").is_empty());
        let sent: i64 =
            tx.query_row("SELECT COUNT(*) FROM reminders WHERE outcome = 'sent'", [], |r| r.get(0)).unwrap();
        assert_eq!(sent, 1);
        // At start: offsets never followed are followed; the same ones again (in another order) cost
        // nothing; changed ones are followed again.
        assert_eq!(follow_configuration(&tx, &[1440, 60], now).unwrap(), (0, 0), "already in line");
        assert_eq!(follow_configuration(&tx, &[60, 1440, 60], now).unwrap(), (0, 0), "the same offsets");
        assert_eq!(follow_configuration(&tx, &[1440, 30], now).unwrap(), (1, 1), "30 added, 60 dropped");
        assert_eq!(pending(&tx, "meetlater"), vec![30]);
        tx.execute("DELETE FROM reminders WHERE meeting_id = 'meetlater' AND minutes_before = 30", []).unwrap();
        assert_eq!(follow_configuration(&tx, &[30, 1440], now).unwrap(), (0, 0), "unchanged: not looked at again");
        assert!(pending(&tx, "meetlater").is_empty());
    }
}
