//! Warnings posted into a meeting's chat room before it ends (`[xmpp]`): "the meeting ends in N
//! minutes" at each of `xmpp.warn_minutes` (by default 15, 5 and 0 minutes before the end), "the
//! meeting is over" at the end. This module alone owns the `room_warnings` table.
//!
//! * Scheduling is a hook ([`WarningScheduler`]), as for mail reminders: when a meeting is booked, or
//!   its end moves, its warning rows are written in the same transaction, only for offsets still in
//!   the future; deleting the meeting drops them (cascade). Private rooms are not booked meetings and
//!   get none.
//! * Sending is the job's ([`Sender::run_due`], driven by [`crate::jobs`]): a due warning is first
//!   *claimed* in a committed write (its next attempt pushed past the send's timeout, so neither a
//!   second process nor a restart posts it meanwhile), then posted through a [`RoomNotifier`] outside
//!   any transaction, then marked done: `sent`, or `not-running` when the room does not exist (nobody
//!   joined: the notifier never creates one). A transient failure (Prosody down, a timeout) is retried
//!   with a doubling delay until `xmpp.give_up_after_end_minutes` after the end, then marked `failed`
//!   and logged. A claim takes at most [`PARALLEL_POSTS`] warnings, so none waits in this process's
//!   queue past its lease. Once the message has been written to the server the warning is never
//!   retried: if the echo does not come back (a timeout, a dropped connection) it is recorded as
//!   `sent` with the reason in `last_error` (at most once rather than twice in the room). The only
//!   duplicate left is a crash between writing the message and the commit of `sent`.
//! * Turning `[xmpp]` on for a site with meetings already booked, or changing `warn_minutes`: at start
//!   the job schedules the missing future warnings of meetings not yet over ([`backfill`]), never
//!   re-posting one already done, and drops the pending warnings of offsets no longer configured
//!   ([`drop_unconfigured`]); those already done stay on record.
//! * If several offsets of one meeting are due at once (jmb or Prosody was down), only the latest is
//!   posted; the earlier ones are marked `missed`.
//! * The text is in the owner's language (the one they chose in jmb, else the site's default), with
//!   the minutes really left, counted as the original did (the time 5 seconds earlier, whole minutes).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, Transaction, params};

use crate::booking::repo;
use crate::config::{Config, ConfigError, NotifierKind, XmppConfig};
use crate::db::{Db, DbError};
use crate::events::{Change, Hook, HookError};
use crate::i18n::{Lang, Tr};
use crate::identity::BoxFuture;

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_ts(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

// ---- scheduling ----

/// The hook that schedules warnings.
pub struct WarningScheduler {
    minutes: Vec<u32>,
}

impl WarningScheduler {
    pub fn new(minutes: Vec<u32>) -> Self {
        Self { minutes }
    }
}

impl Hook for WarningScheduler {
    fn name(&self) -> &'static str {
        "room-warnings"
    }

    fn on_change(&self, tx: &Transaction<'_>, change: &Change<'_>, now: DateTime<Utc>) -> Result<(), HookError> {
        match change {
            Change::Created { meeting } => {
                schedule(tx, &meeting.meeting.id, meeting.meeting.end(), &self.minutes, now)?
            }
            Change::Updated { before, after, .. } if before.meeting.end() != after.meeting.end() => {
                schedule(tx, &after.meeting.id, after.meeting.end(), &self.minutes, now)?
            }
            _ => {}
        }
        Ok(())
    }
}

/// (Re)writes the warnings of a meeting ending at `end`: every offset still in the future is due at its
/// time (a warning already posted for an earlier end is posted again for the new one); warnings not
/// yet posted for offsets now past are dropped.
pub fn schedule(
    tx: &Transaction<'_>,
    meeting_id: &str,
    end: DateTime<Utc>,
    minutes: &[u32],
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    crate::db::exec(tx, "DELETE FROM room_warnings WHERE meeting_id = ?1 AND done_at IS NULL", [meeting_id])?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO room_warnings (meeting_id, minutes_before, due_at, next_attempt_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (meeting_id, minutes_before) DO UPDATE SET due_at = excluded.due_at,
             next_attempt_at = excluded.due_at, attempts = 0, last_error = NULL, done_at = NULL, outcome = NULL",
    )?;
    for m in minutes {
        let due = end - Duration::minutes(i64::from(*m));
        if due > now {
            upsert.execute(params![meeting_id, m, ts(due)])?;
        }
    }
    Ok(())
}

/// Adds the warnings missing for meetings not over at `now` (booked before `[xmpp]` was turned on, or
/// before an offset was added to `warn_minutes`): every offset still in the future without a row gets
/// one. Pending rows of meetings moved while `[xmpp]` was off (no hook kept them in step) are moved
/// with their meeting, or dropped if their new time has passed; rows done are left as they are. Running
/// it again changes nothing. Returns how many were added.
pub fn backfill(tx: &Transaction<'_>, minutes: &[u32], now: DateTime<Utc>) -> rusqlite::Result<usize> {
    const DUE_NOW: &str =
        "(SELECT m.end_at FROM meetings m WHERE m.id = room_warnings.meeting_id) - minutes_before * 60";
    crate::db::exec(
        tx,
        &format!("DELETE FROM room_warnings WHERE done_at IS NULL AND due_at <> {DUE_NOW} AND {DUE_NOW} <= ?1"),
        [ts(now)],
    )?;
    crate::db::exec(
        tx,
        &format!(
            "UPDATE room_warnings SET due_at = {DUE_NOW}, next_attempt_at = {DUE_NOW}, attempts = 0, last_error = NULL
             WHERE done_at IS NULL AND due_at <> {DUE_NOW}"
        ),
        [],
    )?;
    let mut added = 0;
    for (meeting_id, end) in repo::ending_after(tx, now)? {
        for m in minutes {
            let due = end - Duration::minutes(i64::from(*m));
            if due > now {
                added += crate::db::exec(
                    tx,
                    "INSERT OR IGNORE INTO room_warnings (meeting_id, minutes_before, due_at, next_attempt_at)
                     VALUES (?1, ?2, ?3, ?3)",
                    params![meeting_id, m, ts(due)],
                )?;
            }
        }
    }
    Ok(added)
}

/// Where [`follow_configuration`] notes the offsets it last followed (`job_state`).
const FOLLOWED: &str = "warning-offsets";

/// Brings the warnings in line with `minutes` (`xmpp.warn_minutes`) if they changed since the last time
/// (or `[xmpp]` was off meanwhile, see [`forget_followed`]): [`backfill`], then [`drop_unconfigured`].
/// Returns (added, dropped).
pub fn follow_configuration(
    tx: &Transaction<'_>,
    minutes: &[u32],
    now: DateTime<Utc>,
) -> rusqlite::Result<(usize, usize)> {
    crate::db::follow_offsets(tx, FOLLOWED, minutes, || {
        Ok((backfill(tx, minutes, now)?, drop_unconfigured(tx, minutes)?))
    })
}

/// Makes the next [`follow_configuration`] run whatever the offsets: `[xmpp]` is off (meetings booked
/// meanwhile get no warnings) or meetings were imported.
pub fn forget_followed(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    crate::db::set_job_value(tx, FOLLOWED, None)
}

/// Drops the warnings still pending at offsets not in `minutes` (removed from `warn_minutes`, or
/// imported from the original at an offset this site does not use): the configuration says which
/// warnings are posted. Warnings already done are kept. Returns how many were dropped.
pub fn drop_unconfigured(tx: &Transaction<'_>, minutes: &[u32]) -> rusqlite::Result<usize> {
    crate::db::exec(
        tx,
        "DELETE FROM room_warnings WHERE done_at IS NULL
           AND minutes_before NOT IN (SELECT value FROM json_each(?1))",
        [crate::db::json_numbers(minutes)],
    )
}

/// A chat reminder still pending in the original JMB (`jmb import-legacy`). Returns whether it was
/// added (an existing row for the same meeting and offset is left as it is).
pub fn import_pending(
    tx: &Transaction<'_>,
    meeting_id: &str,
    minutes_before: u32,
    due: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    Ok(crate::db::exec(
        tx,
        "INSERT OR IGNORE INTO room_warnings (meeting_id, minutes_before, due_at, next_attempt_at) VALUES (?1, ?2, ?3, ?3)",
        params![meeting_id, minutes_before, ts(due)],
    )? > 0)
}

/// When the job has something to do next (a warning due, or a retry).
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let t: Option<i64> =
        crate::db::one(conn, "SELECT MIN(next_attempt_at) FROM room_warnings WHERE done_at IS NULL", [], |r| r.get(0))?;
    Ok(t.map(from_ts))
}

/// Warnings by outcome (`pending` for those not done), for the metrics.
pub fn counts(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(outcome, 'pending'), COUNT(*) FROM room_warnings GROUP BY COALESCE(outcome, 'pending')",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// One warning a sender has claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub meeting_id: String,
    pub room: String,
    pub minutes_before: u32,
    pub end: DateTime<Utc>,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// The owner's chosen language, if any.
    pub lang: Option<Lang>,
}

/// Claims the warnings to post at `now`: per meeting, the latest due offset (earlier ones are marked
/// `missed`), unless it waits for a retry; meetings past `end + give_up` have their due warnings
/// marked `failed` (tried) or `missed` (never tried). A claimed warning's next attempt moves to
/// `now + lease`: if this process dies while posting, it is tried again after that. At most `limit`
/// are claimed (those the caller posts at once, within the lease); the others stay due for the next
/// claim.
pub fn claim_due(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    lease: Duration,
    give_up: Duration,
    limit: usize,
) -> rusqlite::Result<Vec<Claimed>> {
    type Row = (i64, String, u32, i64, u32);
    let due: Vec<Row> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, meeting_id, minutes_before, next_attempt_at, attempts FROM room_warnings
             WHERE done_at IS NULL AND due_at <= ?1 AND meeting_id IN
                 (SELECT meeting_id FROM room_warnings WHERE done_at IS NULL AND next_attempt_at <= ?1)
             ORDER BY meeting_id, minutes_before",
        )?;
        let rows = stmt.query_map([ts(now)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut by_meeting: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for row in due {
        by_meeting.entry(row.1.clone()).or_default().push(row);
    }
    let done = |id: i64, outcome: &str| {
        crate::db::exec(
            tx,
            "UPDATE room_warnings SET done_at = ?2, outcome = ?3 WHERE id = ?1",
            params![id, ts(now), outcome],
        )
    };
    let mut claimed = Vec::new();
    for (meeting_id, rows) in by_meeting {
        if claimed.len() >= limit {
            break;
        }
        let Some(meeting) = repo::meeting_by_id(tx, &meeting_id)? else {
            // Cannot happen with the foreign key; never leave a row that would be due forever.
            for (id, ..) in &rows {
                done(*id, "missed")?;
            }
            continue;
        };
        // Sorted by offset: the first is the latest warning, the one still worth posting.
        let (latest, earlier) = rows.split_first().expect("grouped rows are never empty");
        for (id, ..) in earlier {
            done(*id, "missed")?;
        }
        let (id, _, minutes_before, next_attempt, attempts) = latest.clone();
        if now > meeting.end() + give_up {
            tracing::warn!(meeting = %meeting_id, minutes_before, attempts, "room warning given up: the meeting is over");
            done(id, if attempts > 0 { "failed" } else { "missed" })?;
            continue;
        }
        if next_attempt > ts(now) {
            continue; // waiting for its retry
        }
        crate::db::exec(
            tx,
            "UPDATE room_warnings SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1",
            params![id, ts(now + lease)],
        )?;
        let lang = crate::users::lang_of(tx, &meeting.owner_uid)?;
        claimed.push(Claimed {
            id,
            meeting_id,
            room: meeting.room.clone(),
            minutes_before,
            end: meeting.end(),
            attempts: attempts + 1,
            lang,
        });
    }
    Ok(claimed)
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Sent,
    /// The message was written but its echo never came: recorded as `sent`, never retried.
    Unconfirmed {
        error: String,
    },
    NotRunning,
    /// Try again after `retry_in`, unless the meeting is over by then.
    Transient {
        error: String,
        retry_in: Duration,
    },
    /// Trying again would not help.
    Refused {
        error: String,
    },
}

/// Records the end of an attempt at `warning` (see [`claim_due`]).
pub fn record(
    tx: &Transaction<'_>,
    warning: &Claimed,
    attempt: &Attempt,
    now: DateTime<Utc>,
    give_up: Duration,
) -> rusqlite::Result<()> {
    // What the server said is kept for operators, within reason.
    let short = |e: &str| -> String { e.chars().take(300).collect() };
    let (outcome, error) = match attempt {
        Attempt::Sent => ("sent", None),
        Attempt::Unconfirmed { error } => ("sent", Some(short(&format!("not confirmed: {error}")))),
        Attempt::NotRunning => ("not-running", None),
        Attempt::Refused { error } => ("failed", Some(short(error))),
        Attempt::Transient { error, retry_in } => {
            if now + *retry_in <= warning.end + give_up {
                crate::db::exec(
                    tx,
                    "UPDATE room_warnings SET next_attempt_at = ?2, last_error = ?3 WHERE id = ?1 AND done_at IS NULL",
                    params![warning.id, ts(now + *retry_in), short(error)],
                )?;
                return Ok(());
            }
            ("failed", Some(short(error)))
        }
    };
    crate::db::exec(
        tx,
        "UPDATE room_warnings SET done_at = ?2, outcome = ?3, last_error = COALESCE(?4, last_error)
         WHERE id = ?1 AND done_at IS NULL",
        params![warning.id, ts(now), outcome, error],
    )?;
    Ok(())
}

/// The warning's text at `now`: the minutes left, counted from 5 seconds earlier (a warning posted a
/// few seconds after its time still says "15"), or "over" at and after the end.
pub fn text(tr: &Tr, end: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (end - (now - Duration::seconds(5))).num_seconds().div_euclid(60);
    match minutes {
        ..=0 => tr.t("chat-meeting-over"),
        1 => tr.t("chat-meeting-ends-in-one-minute"),
        _ => tr.ta("chat-meeting-ends-in", &[("minutes", minutes.to_string())]),
    }
}

// ---- notifiers ----

/// What became of a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// The message was written to the server, but whether the room got it is unknown (no echo before
    /// the timeout, connection lost): it must not be posted again.
    Unconfirmed(String),
    /// The room does not exist (the meeting is not running): skipped.
    NotRunning,
}

/// Why a post failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("{0}")]
    Transient(String),
    #[error("{0}")]
    Refused(String),
}

/// Posts a line into a meeting's room.
pub trait RoomNotifier: Send + Sync {
    fn name(&self) -> &'static str;
    fn post<'a>(&'a self, room: &'a str, text: &'a str) -> BoxFuture<'a, Result<Delivery, NotifyError>>;
}

/// Posts through the XMPP bot ([`crate::xmpp`]).
pub struct XmppNotifier(pub crate::xmpp::Client);

impl RoomNotifier for XmppNotifier {
    fn name(&self) -> &'static str {
        "xmpp"
    }

    fn post<'a>(&'a self, room: &'a str, text: &'a str) -> BoxFuture<'a, Result<Delivery, NotifyError>> {
        Box::pin(async move {
            match self.0.post(room, text).await {
                Ok(crate::xmpp::Posted::Sent) => Ok(Delivery::Sent),
                Ok(crate::xmpp::Posted::Unconfirmed(e)) => Ok(Delivery::Unconfirmed(e)),
                Ok(crate::xmpp::Posted::NotRunning) => Ok(Delivery::NotRunning),
                Err(crate::xmpp::XmppError::Transient(e)) => Err(NotifyError::Transient(e)),
                Err(crate::xmpp::XmppError::Refused(e)) => Err(NotifyError::Refused(e)),
            }
        })
    }
}

/// Writes each warning to the log (the embedded demo; trials without Prosody).
pub struct LogNotifier;

impl RoomNotifier for LogNotifier {
    fn name(&self) -> &'static str {
        "log"
    }

    fn post<'a>(&'a self, room: &'a str, text: &'a str) -> BoxFuture<'a, Result<Delivery, NotifyError>> {
        Box::pin(async move {
            tracing::info!(room, text, "room warning (xmpp.notifier = \"log\")");
            Ok(Delivery::Sent)
        })
    }
}

// ---- the sender ----

/// Posts due warnings: the notifier and the timings of `[xmpp]`.
pub struct Sender {
    pub notifier: Arc<dyn RoomNotifier>,
    pub minutes: Vec<u32>,
    pub default_lang: Lang,
    pub tz: chrono_tz::Tz,
    /// Longest a post may take; a claim lasts a little longer.
    pub timeout: std::time::Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub give_up: Duration,
}

/// Posts at most this many warnings at once (many meetings end on the hour); one claim takes no more.
pub const PARALLEL_POSTS: usize = 8;

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub sent: usize,
    pub not_running: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl Sender {
    /// The sender `[xmpp]` asks for; `None` without the section.
    pub fn from_config(config: &Config) -> Result<Option<Arc<Self>>, ConfigError> {
        let Some(x) = &config.xmpp else { return Ok(None) };
        let notifier: Arc<dyn RoomNotifier> = match x.notifier {
            NotifierKind::Log => Arc::new(LogNotifier),
            NotifierKind::Xmpp => Arc::new(XmppNotifier(crate::xmpp::Client::from_config(x)?)),
        };
        Ok(Some(Arc::new(Self::new(notifier, x, config))))
    }

    pub fn new(notifier: Arc<dyn RoomNotifier>, x: &XmppConfig, config: &Config) -> Self {
        Self {
            notifier,
            minutes: x.warn_minutes.clone(),
            default_lang: Lang::parse(&config.server.default_language).unwrap_or(Lang::Fr),
            tz: config.display_tz(),
            timeout: std::time::Duration::from_secs(x.timeout_seconds),
            retry_initial: Duration::seconds(x.retry_initial_seconds as i64),
            retry_max: Duration::seconds(x.retry_max_seconds as i64),
            give_up: Duration::minutes(i64::from(x.give_up_after_end_minutes)),
        }
    }

    /// The hook that schedules this sender's warnings.
    pub fn scheduler(&self) -> WarningScheduler {
        WarningScheduler::new(self.minutes.clone())
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1i32.checked_shl(attempts.saturating_sub(1).min(20)).unwrap_or(i32::MAX);
        (self.retry_initial * factor).min(self.retry_max)
    }

    /// Claims, posts and records the warnings due at `now`, at most [`PARALLEL_POSTS`] (the job
    /// runs again while some are due). The clock is read again for each post's text and record.
    pub async fn run_due(
        self: &Arc<Self>,
        db: &Db,
        clock: &Arc<dyn crate::clock::Clock>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, DbError> {
        let lease = Duration::from_std(self.timeout).unwrap_or(Duration::seconds(10)) + Duration::seconds(5);
        let give_up = self.give_up;
        let claimed = db.write(move |tx| Ok::<_, DbError>(claim_due(tx, now, lease, give_up, PARALLEL_POSTS)?)).await?;
        let mut outcome = Outcome::default();
        let slots = Arc::new(tokio::sync::Semaphore::new(PARALLEL_POSTS));
        let mut posts = tokio::task::JoinSet::new();
        for warning in claimed {
            let (this, db, clock, slots) = (self.clone(), db.clone(), clock.clone(), slots.clone());
            posts.spawn(async move {
                let _slot = slots.acquire_owned().await;
                this.post_one(&db, &clock, warning).await
            });
        }
        while let Some(done) = posts.join_next().await {
            match done {
                Ok(Ok(Attempt::Sent | Attempt::Unconfirmed { .. })) => outcome.sent += 1,
                Ok(Ok(Attempt::NotRunning)) => outcome.not_running += 1,
                Ok(Ok(Attempt::Transient { .. })) => outcome.retrying += 1,
                Ok(Ok(Attempt::Refused { .. })) => outcome.failed += 1,
                Ok(Err(e)) => tracing::error!(error.message = %e, "room warning: cannot record the outcome"),
                Err(e) => tracing::error!(error.message = %e, "room warning: post task failed"),
            }
        }
        Ok(outcome)
    }

    async fn post_one(&self, db: &Db, clock: &Arc<dyn crate::clock::Clock>, w: Claimed) -> Result<Attempt, DbError> {
        let tr = Tr::new(w.lang.unwrap_or(self.default_lang), self.tz);
        let text = text(&tr, w.end, clock.now());
        // The notifier bounds itself; this outer bound guards against one that does not.
        let result =
            tokio::time::timeout(self.timeout + std::time::Duration::from_secs(1), self.notifier.post(&w.room, &text))
                .await
                .unwrap_or_else(|_| Err(NotifyError::Transient("timed out".into())));
        let attempt = match result {
            Ok(Delivery::Sent) => {
                tracing::info!(meeting = %w.meeting_id, minutes_before = w.minutes_before, notifier = self.notifier.name(), "room warning posted");
                Attempt::Sent
            }
            Ok(Delivery::Unconfirmed(error)) => {
                tracing::warn!(meeting = %w.meeting_id, minutes_before = w.minutes_before, error.message = %error,
                    "room warning written but not confirmed; not posted again");
                Attempt::Unconfirmed { error }
            }
            Ok(Delivery::NotRunning) => {
                tracing::info!(meeting = %w.meeting_id, minutes_before = w.minutes_before, "room not running, skipped");
                Attempt::NotRunning
            }
            Err(NotifyError::Transient(error)) => {
                let retry_in = self.backoff(w.attempts);
                tracing::warn!(meeting = %w.meeting_id, minutes_before = w.minutes_before, attempts = w.attempts,
                    retry_in_seconds = retry_in.num_seconds(), error.message = %error, "room warning failed, will retry");
                Attempt::Transient { error, retry_in }
            }
            Err(NotifyError::Refused(error)) => {
                tracing::error!(meeting = %w.meeting_id, minutes_before = w.minutes_before, error.message = %error, "room warning refused");
                Attempt::Refused { error }
            }
        };
        let now = clock.now();
        let give_up = self.give_up;
        let recorded = attempt.clone();
        db.write(move |tx| Ok::<_, DbError>(record(tx, &w, &recorded, now, give_up)?)).await?;
        Ok(attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::model::{Attendee, Meeting, MeetingDetails, PartStat, Role};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn details(id: &str, start: &str, minutes: u32) -> MeetingDetails {
        let meeting = Meeting {
            id: id.into(),
            ical_uid: format!("{id}@test"),
            room: format!("{id}roomabcdefgh"),
            subject: "Weekly".into(),
            start: at(start),
            duration_min: minutes,
            owner_uid: "jdupont".into(),
            created: at("2030-01-01T00:00:00Z"),
            updated: at("2030-01-01T00:00:00Z"),
            sequence: 0,
        };
        let owner = Attendee {
            id: 0,
            meeting_id: id.into(),
            role: Role::Owner,
            mail: "jean.dupont@example.org".into(),
            name: "Jean Dupont".into(),
            token: format!("tok{id}"),
            partstat: PartStat::Accepted,
            answered_at: None,
            join_count: 0,
            first_join: None,
            last_join: None,
            note: String::new(),
        };
        MeetingDetails { meeting, attendees: vec![owner] }
    }

    fn store() -> (crate::db::tempdir::TempDirGuard, Connection) {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let path = dir.path().join("w.sqlite3");
        drop(Db::open(&path, std::time::Duration::from_secs(1), 1).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        (dir, conn)
    }

    fn book(conn: &mut Connection, d: &MeetingDetails, now: DateTime<Utc>) {
        let tx = conn.transaction().unwrap();
        repo::insert_meeting(&tx, &d.meeting).unwrap();
        WarningScheduler::new(vec![15, 5, 0]).on_change(&tx, &Change::Created { meeting: d }, now).unwrap();
        tx.commit().unwrap();
    }

    fn pending(conn: &Connection, id: &str) -> Vec<(u32, DateTime<Utc>)> {
        let mut stmt = conn
            .prepare("SELECT minutes_before, due_at FROM room_warnings WHERE meeting_id = ?1 AND done_at IS NULL ORDER BY due_at")
            .unwrap();
        stmt.query_map([id], |r| Ok((r.get(0)?, from_ts(r.get(1)?)))).unwrap().map(Result::unwrap).collect()
    }

    fn outcomes(conn: &Connection, id: &str) -> Vec<(u32, Option<String>)> {
        let mut stmt = conn
            .prepare("SELECT minutes_before, outcome FROM room_warnings WHERE meeting_id = ?1 ORDER BY minutes_before")
            .unwrap();
        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    }

    const LEASE: Duration = Duration::seconds(15);
    const GIVE_UP: Duration = Duration::minutes(5);

    fn claim(conn: &mut Connection, now: DateTime<Utc>) -> Vec<Claimed> {
        let tx = conn.transaction().unwrap();
        let c = claim_due(&tx, now, LEASE, GIVE_UP, PARALLEL_POSTS).unwrap();
        tx.commit().unwrap();
        c
    }

    fn finish(conn: &mut Connection, w: &Claimed, a: Attempt, now: DateTime<Utc>) {
        let tx = conn.transaction().unwrap();
        record(&tx, w, &a, now, GIVE_UP).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn offsets_in_the_past_are_skipped_and_a_moved_meeting_is_rescheduled() {
        let (_dir, mut conn) = store();
        let d = details("meeting1", "2030-05-01T10:00:00Z", 60);
        // Booked at 10:50: the 15-minute warning (10:45) is already past.
        book(&mut conn, &d, at("2030-05-01T10:50:00Z"));
        assert_eq!(pending(&conn, "meeting1"), vec![(5, at("2030-05-01T10:55:00Z")), (0, at("2030-05-01T11:00:00Z"))]);
        // Moved to end at 12:30: all three again, from the new end.
        let mut moved = d.clone();
        moved.meeting.duration_min = 150;
        let tx = conn.transaction().unwrap();
        let change = Change::Updated { before: &d, after: &moved, added: &[], removed: &[], significant: true };
        WarningScheduler::new(vec![15, 5, 0]).on_change(&tx, &change, at("2030-05-01T10:51:00Z")).unwrap();
        tx.commit().unwrap();
        assert_eq!(
            pending(&conn, "meeting1"),
            vec![(15, at("2030-05-01T12:15:00Z")), (5, at("2030-05-01T12:25:00Z")), (0, at("2030-05-01T12:30:00Z"))]
        );
        assert_eq!(next_due(&conn).unwrap(), Some(at("2030-05-01T12:15:00Z")));
    }

    #[test]
    fn a_cancelled_meeting_has_none() {
        let (_dir, mut conn) = store();
        let d = details("meeting2", "2030-05-01T10:00:00Z", 60);
        book(&mut conn, &d, at("2030-05-01T09:00:00Z"));
        assert_eq!(pending(&conn, "meeting2").len(), 3);
        let tx = conn.transaction().unwrap();
        repo::delete_meeting(&tx, "meeting2").unwrap();
        tx.commit().unwrap();
        assert!(pending(&conn, "meeting2").is_empty());
        assert_eq!(next_due(&conn).unwrap(), None);
        assert!(claim(&mut conn, at("2030-05-01T11:00:00Z")).is_empty());
    }

    #[test]
    fn each_warning_fires_once_across_restarts_and_retries_until_the_end() {
        let (dir, mut conn) = store();
        let d = details("meeting3", "2030-05-01T10:00:00Z", 60);
        book(&mut conn, &d, at("2030-05-01T09:00:00Z"));
        assert!(claim(&mut conn, at("2030-05-01T10:44:59Z")).is_empty(), "not yet due");
        let first = claim(&mut conn, at("2030-05-01T10:45:00Z"));
        assert_eq!(first.len(), 1);
        assert_eq!(
            (first[0].minutes_before, first[0].attempts, first[0].room.as_str()),
            (15, 1, "meeting3roomabcdefgh")
        );
        // Claimed: a second sender (or this one after a restart) does not take it during the lease.
        assert!(claim(&mut conn, at("2030-05-01T10:45:05Z")).is_empty());
        finish(&mut conn, &first[0], Attempt::Sent, at("2030-05-01T10:45:01Z"));
        // A "restart": a new connection to the same store finds nothing more to post for 15.
        drop(conn);
        let mut conn = Connection::open(dir.path().join("w.sqlite3")).unwrap();
        assert!(claim(&mut conn, at("2030-05-01T10:50:00Z")).is_empty());
        // The 5-minute warning fails (Prosody down) and is retried.
        let five = claim(&mut conn, at("2030-05-01T10:55:00Z"));
        assert_eq!(five[0].minutes_before, 5);
        let down = Attempt::Transient { error: "connection refused".into(), retry_in: Duration::seconds(20) };
        finish(&mut conn, &five[0], down, at("2030-05-01T10:55:01Z"));
        assert!(claim(&mut conn, at("2030-05-01T10:55:10Z")).is_empty(), "backing off");
        let again = claim(&mut conn, at("2030-05-01T10:55:21Z"));
        assert_eq!((again[0].minutes_before, again[0].attempts), (5, 2));
        finish(&mut conn, &again[0], Attempt::Sent, at("2030-05-01T10:55:22Z"));
        // The end: the room is gone (nobody left) — skipped, done.
        let end = claim(&mut conn, at("2030-05-01T11:00:00Z"));
        finish(&mut conn, &end[0], Attempt::NotRunning, at("2030-05-01T11:00:01Z"));
        assert_eq!(
            outcomes(&conn, "meeting3"),
            vec![(0, Some("not-running".into())), (5, Some("sent".into())), (15, Some("sent".into()))]
        );
        assert_eq!(next_due(&conn).unwrap(), None);
    }

    #[test]
    fn late_warnings_are_superseded_and_retries_stop_after_the_end() {
        let (_dir, mut conn) = store();
        let d = details("meeting4", "2030-05-01T10:00:00Z", 60);
        book(&mut conn, &d, at("2030-05-01T09:00:00Z"));
        // jmb was down from 10:40 to 10:56: only the 5-minute warning is posted.
        let c = claim(&mut conn, at("2030-05-01T10:56:00Z"));
        assert_eq!(c.iter().map(|w| w.minutes_before).collect::<Vec<_>>(), vec![5]);
        // It keeps failing: retries stop once the next would fall after end + give-up.
        let failing = Attempt::Transient { error: "down".into(), retry_in: Duration::minutes(10) };
        finish(&mut conn, &c[0], failing, at("2030-05-01T10:56:01Z"));
        assert_eq!(outcomes(&conn, "meeting4")[1], (5, Some("failed".into())));
        assert_eq!(outcomes(&conn, "meeting4")[2], (15, Some("missed".into())));
        // The end warning, never posted because jmb came back too late, is missed, not posted.
        assert!(claim(&mut conn, at("2030-05-01T11:05:01Z")).is_empty());
        assert_eq!(outcomes(&conn, "meeting4")[0], (0, Some("missed".into())));
    }

    #[test]
    fn a_claim_takes_no_more_than_it_posts_at_once() {
        let (_dir, mut conn) = store();
        for i in 0..3 {
            book(
                &mut conn,
                &details(&format!("meetingmany{i}"), "2030-05-01T10:00:00Z", 60),
                at("2030-05-01T09:00:00Z"),
            );
        }
        let now = at("2030-05-01T10:45:00Z");
        let tx = conn.transaction().unwrap();
        let first = claim_due(&tx, now, LEASE, GIVE_UP, 2).unwrap();
        tx.commit().unwrap();
        assert_eq!(first.len(), 2);
        // The third stays due for the next claim instead of waiting out its lease in a queue.
        let second = claim(&mut conn, now);
        assert_eq!(second.iter().map(|w| w.meeting_id.as_str()).collect::<Vec<_>>(), vec!["meetingmany2"]);
    }

    #[test]
    fn an_unconfirmed_post_is_never_retried() {
        let (_dir, mut conn) = store();
        book(&mut conn, &details("meeting5", "2030-05-01T10:00:00Z", 60), at("2030-05-01T09:00:00Z"));
        let c = claim(&mut conn, at("2030-05-01T10:45:00Z"));
        let lost = Attempt::Unconfirmed { error: "no answer within 10 s".into() };
        finish(&mut conn, &c[0], lost, at("2030-05-01T10:45:10Z"));
        assert!(claim(&mut conn, at("2030-05-01T10:46:00Z")).is_empty());
        assert_eq!(outcomes(&conn, "meeting5")[2], (15, Some("sent".into())));
        let error: String = conn
            .query_row(
                "SELECT last_error FROM room_warnings WHERE meeting_id = 'meeting5' AND minutes_before = 15",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(error, "not confirmed: no answer within 10 s");
    }

    #[test]
    fn meetings_booked_before_get_their_warnings_once() {
        let (_dir, mut conn) = store();
        // Booked while [xmpp] was off: no rows. One already over, one running, one tomorrow.
        for (id, start) in [
            ("meetpast", "2030-05-01T08:00:00Z"),
            ("meetnow1", "2030-05-01T10:00:00Z"),
            ("meetlater", "2030-05-02T10:00:00Z"),
        ] {
            let tx = conn.transaction().unwrap();
            repo::insert_meeting(&tx, &details(id, start, 60).meeting).unwrap();
            tx.commit().unwrap();
        }
        let backfill_at = |conn: &mut Connection, minutes: &[u32], now: &str| {
            let tx = conn.transaction().unwrap();
            let n = backfill(&tx, minutes, at(now)).unwrap();
            tx.commit().unwrap();
            n
        };
        assert_eq!(backfill_at(&mut conn, &[15, 5, 0], "2030-05-01T10:50:00Z"), 2 + 3);
        assert!(pending(&conn, "meetpast").is_empty());
        assert_eq!(pending(&conn, "meetnow1"), vec![(5, at("2030-05-01T10:55:00Z")), (0, at("2030-05-01T11:00:00Z"))]);
        assert_eq!(pending(&conn, "meetlater").len(), 3);
        // A restart changes nothing; a warning already posted is not scheduled again.
        let c = claim(&mut conn, at("2030-05-01T10:55:00Z"));
        finish(&mut conn, &c[0], Attempt::Sent, at("2030-05-01T10:55:01Z"));
        assert_eq!(backfill_at(&mut conn, &[15, 5, 0], "2030-05-01T10:56:00Z"), 0);
        assert_eq!(pending(&conn, "meetnow1"), vec![(0, at("2030-05-01T11:00:00Z"))]);
        // An offset added to warn_minutes is scheduled for the meetings still to come.
        assert_eq!(backfill_at(&mut conn, &[30, 15, 5, 0], "2030-05-01T10:57:00Z"), 1);
        assert_eq!(pending(&conn, "meetlater")[0], (30, at("2030-05-02T10:30:00Z")));
        // Offsets removed: their pending warnings go, the one already posted stays on record.
        let tx = conn.transaction().unwrap();
        assert_eq!(drop_unconfigured(&tx, &[30, 0]).unwrap(), 2);
        assert_eq!(drop_unconfigured(&tx, &[30, 0]).unwrap(), 0, "again: nothing more");
        tx.commit().unwrap();
        let later: Vec<u32> = pending(&conn, "meetlater").into_iter().map(|(m, _)| m).collect();
        assert_eq!(later, vec![30, 0]);
        assert_eq!(outcomes(&conn, "meetnow1"), vec![(0, None), (5, Some("sent".into()))]);
        // At start: the same offsets are not looked at again, unless [xmpp] was off meanwhile (meetings
        // booked then have no warnings).
        let tx = conn.transaction().unwrap();
        let now = at("2030-05-01T10:57:00Z");
        assert_eq!(follow_configuration(&tx, &[30, 0], now).unwrap(), (0, 0));
        tx.execute("DELETE FROM room_warnings WHERE meeting_id = 'meetlater'", []).unwrap();
        assert_eq!(follow_configuration(&tx, &[0, 30], now).unwrap(), (0, 0), "unchanged: not looked at");
        forget_followed(&tx).unwrap();
        assert_eq!(follow_configuration(&tx, &[0, 30], now).unwrap(), (2, 0), "after [xmpp] was off");
        tx.commit().unwrap();
    }

    #[test]
    fn warnings_of_meetings_moved_while_off_move_with_them() {
        let (_dir, mut conn) = store();
        book(&mut conn, &details("meetlater", "2030-05-02T10:00:00Z", 60), at("2030-05-01T09:00:00Z"));
        book(&mut conn, &details("meetsooner", "2030-05-02T10:00:00Z", 60), at("2030-05-01T09:00:00Z"));
        // [xmpp] off: moved without the hook. One a day later, one to end at 10:52 today.
        conn.execute_batch(
            "UPDATE meetings SET start_at = start_at + 86400, end_at = end_at + 86400 WHERE id = 'meetlater';
             UPDATE meetings SET start_at = 1903863120 - 3600, end_at = 1903863120 WHERE id = 'meetsooner';",
        )
        .unwrap();
        assert_eq!(from_ts(1903863120), at("2030-05-01T10:52:00Z"));
        let tx = conn.transaction().unwrap();
        assert_eq!(backfill(&tx, &[15, 5, 0], at("2030-05-01T10:50:00Z")).unwrap(), 0, "none missing");
        tx.commit().unwrap();
        let later: Vec<DateTime<Utc>> = pending(&conn, "meetlater").into_iter().map(|(_, t)| t).collect();
        assert_eq!(later, ["2030-05-03T10:45:00Z", "2030-05-03T10:55:00Z", "2030-05-03T11:00:00Z"].map(at));
        // Its 15- and 5-minute warnings (10:37, 10:47) are past: dropped, not posted late.
        assert_eq!(pending(&conn, "meetsooner"), vec![(0, at("2030-05-01T10:52:00Z"))]);
        // A warning due but not yet posted at start (its meeting not moved) is left for the job.
        let tx = conn.transaction().unwrap();
        assert_eq!(backfill(&tx, &[15, 5, 0], at("2030-05-01T10:53:00Z")).unwrap(), 0);
        tx.commit().unwrap();
        assert_eq!(pending(&conn, "meetsooner").len(), 1);
    }

    #[test]
    fn texts_count_the_minutes_really_left() {
        let end = at("2030-05-01T11:00:00Z");
        let fr = Tr::new(Lang::Fr, chrono_tz::Europe::Paris);
        let en = Tr::new(Lang::En, chrono_tz::Europe::Paris);
        assert_eq!(text(&fr, end, at("2030-05-01T10:45:03Z")), "La réunion se termine dans 15 minutes ...");
        assert_eq!(text(&fr, end, at("2030-05-01T10:46:00Z")), "La réunion se termine dans 14 minutes ...");
        assert_eq!(text(&en, end, at("2030-05-01T10:55:00Z")), "The meeting ends in 5 minutes...");
        assert_eq!(text(&fr, end, at("2030-05-01T10:59:00Z")), "La réunion se termine dans 1 minute ...");
        assert_eq!(text(&fr, end, at("2030-05-01T10:59:58Z")), "La réunion est terminée !!");
        assert_eq!(text(&en, end, at("2030-05-01T11:02:00Z")), "The meeting is over!");
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let config = Config::default();
        let x = XmppConfig { retry_initial_seconds: 10, retry_max_seconds: 60, ..XmppConfig::default() };
        let s = Sender::new(Arc::new(LogNotifier), &x, &config);
        let secs: Vec<i64> = (1..=6).map(|a| s.backoff(a).num_seconds()).collect();
        assert_eq!(secs, vec![10, 20, 40, 60, 60, 60]);
        assert_eq!(s.backoff(1000).num_seconds(), 60);
    }
}
