//! The outbox: every mail jmb sends is a row here, written in the same transaction as the change that
//! causes it (a booking that fails sends nothing; one that succeeds never loses its mails). A worker
//! hands due rows to the mail system ([`crate::mailer`]) over pooled connections, retries temporary failures with growing delays, and keeps permanent ones as `failed`
//! (`jmb outbox` lists them, `jmb outbox retry` requeues them). This module alone owns the `outbox`
//! and `outbox_snapshots` tables.
//!
//! A row holds what to write, not the written mail: a notice and a snapshot of the meeting as the change
//! left it (one per change, shared by its mails). The worker has each mail written ([`Composer`]) just
//! before handing it over, so a booking pays for a few small inserts, not for composing its mails.
//!
//! **Sent once.** After the server accepts a message, its id is appended to a hand-over journal (a
//! file named after the database: one `write(2)`, unaffected by database locks) before the row is marked
//! sent in the store, in batches; a worker starting up applies the journal first. A process killed
//! between the server's acceptance and the journal write (microseconds) sends that mail again. SMTP
//! itself leaves one more window (RFC 1047): if the connection breaks after the message's final `.` and
//! before the server's reply, nobody can know whether the server took it, and it is sent again. The
//! reply is awaited for up to ten minutes (RFC 5321's limit), so a slow server is not taken for a lost one. Only one process sends at a time: the worker holds a lock on a file beside
//! the database ([`SendLock`]), which the system drops when the process ends.
//!
//! The worker sleeps until the next row is due and wakes when a write commits (a booking queued mail).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::clock::Clock;
use crate::db::{Db, DbError};
use crate::mailer::{SendError, Transport};

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_ts(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// What a mail is, for listings and the per-owner limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Invitation,
    Update,
    Cancellation,
    OwnerCreated,
    OwnerUpdated,
    OwnerDeleted,
    Answer,
    Reminder,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Invitation => "invitation",
            MailKind::Update => "update",
            MailKind::Cancellation => "cancellation",
            MailKind::OwnerCreated => "owner-created",
            MailKind::OwnerUpdated => "owner-updated",
            MailKind::OwnerDeleted => "owner-deleted",
            MailKind::Answer => "answer",
            MailKind::Reminder => "reminder",
        }
    }

    /// Mails to invitees caused by an owner's booking: what the per-owner limit counts.
    pub fn is_to_invitees(self) -> bool {
        matches!(self, MailKind::Invitation | MailKind::Update | MailKind::Cancellation)
    }
}

/// A mail to queue: who gets what about which snapshot; the worker writes it (see [`Composer`]).
#[derive(Debug, Clone)]
pub struct NewMail {
    pub kind: MailKind,
    pub meeting_id: Option<String>,
    pub owner_uid: Option<String>,
    pub message_id: String,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub subject: String,
    /// From [`save_snapshot`], in the same transaction.
    pub snapshot_id: i64,
    /// The attendee row the mail is about.
    pub about_attendee: Option<i64>,
    /// What to write (the mail module's format, opaque here).
    pub notice: String,
}

/// What the worker needs to write one mail.
#[derive(Debug, Clone)]
pub struct Letter {
    pub message_id: String,
    /// When the change happened: the mail's `Date` and its calendar part's `DTSTAMP`.
    pub created_at: DateTime<Utc>,
    pub notice: String,
    /// Shared by the mails of one change (read once per batch).
    pub snapshot: Arc<str>,
}

/// A written mail.
#[derive(Debug, Clone)]
pub struct Composed {
    /// The plain-text body (the demo mailbox shows it).
    pub text: String,
    /// The RFC 5322 message, as handed to the server.
    pub message: Vec<u8>,
}

/// Writes mails from their notices (the mail module implements it; the outbox only stores and sends).
pub trait Composer: Send + Sync {
    /// `Err` when the notice cannot become a mail (an unreadable row): it is kept as failed.
    fn compose(&self, letter: &Letter) -> Result<Composed, String>;
}

/// Stores the meeting (JSON) that the mails of one change describe; returns its id for [`NewMail`].
pub fn save_snapshot(tx: &Transaction<'_>, meeting_json: &str) -> rusqlite::Result<i64> {
    crate::db::exec(tx, "INSERT INTO outbox_snapshots (meeting) VALUES (?1)", [meeting_json])?;
    Ok(tx.last_insert_rowid())
}

/// Queues a mail, due at once.
pub fn enqueue(tx: &Transaction<'_>, mail: &NewMail, now: DateTime<Utc>) -> rusqlite::Result<i64> {
    crate::db::exec(
        tx,
        "INSERT INTO outbox (kind, meeting_id, owner_uid, message_id, envelope_from, recipients, subject,
                             snapshot_id, notice, about_attendee, created_at, queued_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?11)",
        params![
            mail.kind.as_str(),
            mail.meeting_id,
            mail.owner_uid,
            mail.message_id,
            mail.envelope_from,
            mail.recipients.join("\n"),
            mail.subject,
            mail.snapshot_id,
            mail.notice,
            mail.about_attendee,
            ts(now)
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Mails to invitees that `owner_uid`'s bookings queued since `since`.
pub fn invitee_mails_since(conn: &Connection, owner_uid: &str, since: DateTime<Utc>) -> rusqlite::Result<u32> {
    crate::db::one(
        conn,
        "SELECT COUNT(*) FROM outbox WHERE owner_uid = ?1 AND created_at > ?2
           AND kind IN ('invitation', 'update', 'cancellation')",
        params![owner_uid, ts(since)],
        |r| r.get(0),
    )
}

/// Answer mails about `attendee` queued since `since`: those about a changed answer, and, `with_notes`,
/// those about a note changed alone too.
pub fn answer_mails_since(
    conn: &Connection,
    attendee: i64,
    since: DateTime<Utc>,
    with_notes: bool,
) -> rusqlite::Result<u32> {
    // The partial index finds the few rows; the notice says which were about a note alone.
    crate::db::one(
        conn,
        "SELECT COUNT(*) FROM outbox WHERE kind = 'answer' AND about_attendee = ?1 AND created_at > ?2
           AND (?3 OR json_extract(notice, '$.what.note') IS NULL)",
        params![attendee, ts(since), with_notes],
        |r| r.get(0),
    )
}

/// A row to send.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub letter: Letter,
    pub attempts: u32,
    /// When it was queued, or requeued by `jmb outbox retry`: the give-up time counts from there.
    pub queued_at: DateTime<Utc>,
}

/// The pending rows due at `now` (`?1`), oldest first, at most `?2`.
const DUE: &str = "SELECT o.id, o.envelope_from, o.recipients, o.attempts, o.created_at, o.message_id, o.notice,
                          o.snapshot_id, o.queued_at
                   FROM outbox o INDEXED BY outbox_due
                   WHERE o.status = 'pending' AND o.next_attempt_at <= ?1 ORDER BY o.next_attempt_at, o.id LIMIT ?2";

/// When the next pending row is due: the first entry of the partial index (see [`due`]), not a pass
/// over every pending row.
const NEXT_DUE: &str = "SELECT next_attempt_at FROM outbox INDEXED BY outbox_due WHERE status = 'pending'
                        ORDER BY next_attempt_at LIMIT 1";

/// The pending rows due at `now`, oldest first, at most `limit`.
pub fn due(conn: &Connection, now: DateTime<Utc>, limit: u32) -> rusqlite::Result<Vec<Pending>> {
    // The snapshot is read once per change, not once per mail: a booking's twenty mails share one, and
    // reading it with each row was the worker's main cost. The index is named: left to itself, SQLite
    // prefers `outbox_by_status` (an equality beats a range) and sorts every pending row, whereas the
    // partial index hands out the first `limit` in order (`due_mails_are_read_in_index_order`).
    let mut stmt = conn.prepare_cached(DUE)?;
    let mut snapshot = conn.prepare_cached("SELECT meeting FROM outbox_snapshots WHERE id = ?1")?;
    let mut snapshots: HashMap<i64, Arc<str>> = HashMap::new();
    let mut rows = stmt.query(params![ts(now), limit])?;
    let mut due = Vec::new();
    while let Some(r) = rows.next()? {
        let snapshot_id: i64 = r.get(7)?;
        let meeting = match snapshots.get(&snapshot_id) {
            Some(meeting) => meeting.clone(),
            None => {
                // Like the join this replaces: a row whose snapshot is gone is not due.
                let Some(meeting) = snapshot.query_row([snapshot_id], |s| s.get::<_, String>(0)).optional()? else {
                    continue;
                };
                snapshots.entry(snapshot_id).or_insert_with(|| meeting.into()).clone()
            }
        };
        let recipients: String = r.get(2)?;
        due.push(Pending {
            id: r.get(0)?,
            envelope_from: r.get(1)?,
            recipients: recipients.lines().map(str::to_string).collect(),
            attempts: r.get(3)?,
            queued_at: from_ts(r.get(8)?),
            letter: Letter {
                message_id: r.get(5)?,
                created_at: from_ts(r.get(4)?),
                notice: r.get(6)?,
                snapshot: meeting,
            },
        });
    }
    Ok(due)
}

/// When the next pending row is due.
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let t: Option<i64> = crate::db::one(conn, NEXT_DUE, [], |r| r.get(0)).optional()?;
    Ok(t.map(from_ts))
}

/// Marks rows as handed over (rows already sent are left alone: the journal may repeat them).
pub fn mark_sent(tx: &Transaction<'_>, ids: &[i64], now: DateTime<Utc>) -> rusqlite::Result<usize> {
    let mut stmt = tx.prepare_cached(
        "UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL
         WHERE id = ?1 AND status <> 'sent'",
    )?;
    let mut n = 0;
    for id in ids {
        n += stmt.execute(params![id, ts(now)])?;
    }
    Ok(n)
}

/// Schedules another attempt.
pub fn mark_retry(tx: &Transaction<'_>, id: i64, at: DateTime<Utc>, error: &str) -> rusqlite::Result<()> {
    crate::db::exec(
        tx,
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1 AND status = 'pending'",
        params![id, ts(at), error],
    )?;
    Ok(())
}

/// Keeps a row as failed, with the reason.
pub fn mark_failed(tx: &Transaction<'_>, id: i64, error: &str) -> rusqlite::Result<()> {
    crate::db::exec(
        tx,
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1 AND status = 'pending'",
        params![id, error],
    )?;
    Ok(())
}

/// Requeues failed (and pending) rows: one by id, or all. Returns how many.
pub fn retry(tx: &Transaction<'_>, id: Option<i64>, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    crate::db::exec(
        tx,
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?2, queued_at = ?2, last_error = NULL
         WHERE status IN ('failed', 'pending') AND (?1 IS NULL OR id = ?1)",
        params![id, ts(now)],
    )
}

/// Removes sent mails queued before `before`, then the snapshots no mail points at any more.
pub fn prune_sent(tx: &Transaction<'_>, before: DateTime<Utc>) -> rusqlite::Result<usize> {
    let n = crate::db::exec(tx, "DELETE FROM outbox WHERE status = 'sent' AND created_at < ?1", [ts(before)])?;
    crate::db::exec(
        tx,
        "DELETE FROM outbox_snapshots WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.snapshot_id = outbox_snapshots.id)",
        [],
    )?;
    Ok(n)
}

/// Removes mails no longer in flight (sent or failed) queued before `before`, with the snapshots only
/// they used: the retention purge (`database.retention_days`, `jmb purge`). Returns how many.
pub fn prune_done(tx: &Transaction<'_>, before: DateTime<Utc>) -> rusqlite::Result<usize> {
    let n =
        crate::db::exec(tx, "DELETE FROM outbox WHERE status IN ('sent', 'failed') AND created_at < ?1", [ts(before)])?;
    crate::db::exec(
        tx,
        "DELETE FROM outbox_snapshots WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.snapshot_id = outbox_snapshots.id)",
        [],
    )?;
    Ok(n)
}

/// How many mails the outbox holds in each status (`pending`, `sent`, `failed`), for the metrics.
pub fn counts_by_status(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached("SELECT status, COUNT(*) FROM outbox GROUP BY status")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// A row as listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub message_id: String,
}

/// The newest rows, or only those not sent yet.
pub fn list(conn: &Connection, unsent_only: bool, limit: u32) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, status, recipients, subject, created_at, attempts, next_attempt_at, last_error, message_id
         FROM outbox WHERE (?1 = 0 OR status <> 'sent') ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![unsent_only, limit], |r| {
        let recipients: String = r.get(3)?;
        Ok(Entry {
            id: r.get(0)?,
            kind: r.get(1)?,
            status: r.get(2)?,
            recipients: recipients.lines().map(str::to_string).collect(),
            subject: r.get(4)?,
            created_at: from_ts(r.get(5)?),
            attempts: r.get(6)?,
            next_attempt_at: from_ts(r.get(7)?),
            last_error: r.get(8)?,
            message_id: r.get(9)?,
        })
    })?;
    rows.collect()
}

/// What it takes to write the mail of row `id` (the demo mailbox shows it).
pub fn letter(conn: &Connection, id: i64) -> rusqlite::Result<Option<Letter>> {
    crate::db::one(
        conn,
        "SELECT o.message_id, o.created_at, o.notice, s.meeting
         FROM outbox o JOIN outbox_snapshots s ON s.id = o.snapshot_id WHERE o.id = ?1",
        [id],
        |r| {
            Ok(Letter {
                message_id: r.get(0)?,
                created_at: from_ts(r.get(1)?),
                notice: r.get(2)?,
                snapshot: r.get::<_, String>(3)?.into(),
            })
        },
    )
    .optional()
}

// ---- one sender at a time ----

/// Only one process sends at a time: the one holding an exclusive lock on a file beside the database
/// (`outbox.lock`). The system drops the lock when its process ends, however it ends, so a server
/// restarted after a crash sends at once; a lease row in the store would make it wait for the dead
/// process's lease to run out. Processes sharing one SQLite file share one machine, so a file lock
/// reaches all of them. Uses `File::try_lock` (flock(2) on Linux).
pub struct SendLock {
    path: PathBuf,
    held: std::sync::Mutex<Option<std::fs::File>>,
}

impl SendLock {
    pub fn new(path: PathBuf) -> Self {
        Self { path, held: std::sync::Mutex::new(None) }
    }

    /// Takes the lock if it is free; `true` while this process holds it.
    pub fn try_hold(&self) -> std::io::Result<bool> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.is_some() {
            return Ok(true);
        }
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&self.path)?;
        match file.try_lock() {
            Ok(()) => {
                *held = Some(file);
                Ok(true)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Lets another process take over at once (closing the file drops the lock).
    pub fn release(&self) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

// ---- the hand-over journal ----

/// Ids of rows the server accepted, appended one per line as soon as it did. Applied to the store in
/// batches, then emptied.
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Records that the server accepted row `id`.
    pub fn append(&self, id: i64) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        f.write_all(format!("{id}\n").as_bytes())
    }

    /// The ids recorded (a torn last line is ignored: it was never a complete record).
    pub fn read(&self) -> std::io::Result<Vec<i64>> {
        match std::fs::read_to_string(&self.path) {
            // Only complete lines: a torn "123" could otherwise read as row 12.
            Ok(text) => Ok(text.split_inclusive('\n').filter_map(|l| l.strip_suffix('\n')?.parse().ok()).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Empties the journal once its ids are in the store.
    pub fn clear(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

// ---- the worker ----

/// How temporary failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    /// After this long since the mail was queued, a failure is final.
    pub give_up_after: chrono::Duration,
}

impl RetryPolicy {
    /// The delay before attempt `attempts + 1`: `initial`, doubled each time, at most `max`.
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.min(30));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// The mail server could not be reached: the pass stopped there.
    pub unreachable: bool,
}

/// How often a process that does not send looks whether the sender went away.
const STANDBY_POLL: Duration = Duration::from_secs(30);
/// Longest sleep between two passes (a safety net: commits and due times wake the worker).
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Rows read per batch; their outcomes are recorded in one write (the journal covers the meantime).
const BATCH: u32 = 128;
/// Mails handed over at once (the SMTP transport keeps as many connections).
const IN_FLIGHT: usize = 4;

/// Sends the outbox.
pub struct Worker {
    pub db: Db,
    pub transport: Arc<dyn Transport>,
    /// Writes each mail just before it is sent.
    pub composer: Arc<dyn Composer>,
    pub clock: Arc<dyn Clock>,
    pub retry: RetryPolicy,
    pub journal: Journal,
    pub lock: SendLock,
    /// Passes in a row that found the server unreachable (the back-off grows with them).
    pub unreachable_passes: std::sync::atomic::AtomicU32,
}

impl Worker {
    /// Applies hand-overs recorded by a previous run (or a killed process).
    pub async fn apply_journal(&self, now: DateTime<Utc>) -> Result<usize, DbError> {
        let ids = self.journal.read().map_err(|e| DbError::Task(format!("outbox journal: {e}")))?;
        if ids.is_empty() {
            return Ok(0);
        }
        let n = self.db.write(move |tx| Ok::<_, DbError>(mark_sent(tx, &ids, now)?)).await?;
        self.journal.clear().map_err(|e| DbError::Task(format!("outbox journal: {e}")))?;
        Ok(n)
    }

    /// Sends every row due at `now` (in batches, each batch's outcome recorded before the next).
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<Outcome, DbError> {
        self.apply_journal(now).await?;
        let mut total = Outcome::default();
        loop {
            let batch = self.db.read(move |c| Ok::<_, DbError>(due(c, now, BATCH)?)).await?;
            if batch.is_empty() {
                return Ok(total);
            }
            let outcome = self.send_batch(batch, now).await?;
            total.sent += outcome.sent;
            total.retried += outcome.retried;
            total.failed += outcome.failed;
            if outcome.unreachable {
                total.unreachable = true;
                return Ok(total);
            }
        }
    }

    async fn send_batch(&self, batch: Vec<Pending>, now: DateTime<Utc>) -> Result<Outcome, DbError> {
        let mut in_flight = tokio::task::JoinSet::new();
        let mut rows = batch.into_iter();
        let mut results = Vec::new();
        let mut unreachable = false;
        loop {
            // Once the server is unreachable, the rows not started stay as they are for the next pass.
            while !unreachable && in_flight.len() < IN_FLIGHT {
                let Some(row) = rows.next() else { break };
                let transport = self.transport.clone();
                let composer = self.composer.clone();
                in_flight.spawn(async move {
                    if !transport.delivers() {
                        return (row, Ok(()));
                    }
                    let r = match composer.compose(&row.letter) {
                        Ok(mail) => transport.send(&row.envelope_from, &row.recipients, &mail.message).await,
                        Err(e) => Err(SendError::Permanent(format!("the mail could not be written: {e}"))),
                    };
                    (row, r)
                });
            }
            let Some(joined) = in_flight.join_next().await else { break };
            let (row, result) = joined.map_err(|e| DbError::Task(e.to_string()))?;
            unreachable |= matches!(result, Err(SendError::Unreachable(_)));
            if result.is_ok() {
                // Recorded before anything else: a crash from here on does not send it again.
                if let Err(e) = self.journal.append(row.id) {
                    tracing::error!(error.message = %e, path = %self.journal.path().display(), "outbox journal not written");
                }
            }
            results.push((row, result));
        }
        let retry = self.retry;
        // Outcomes are dated when known (a slow batch may have started minutes ago).
        let now = now.max(self.clock.now());
        let outcome = self
            .db
            .write(move |tx| {
                let mut outcome = Outcome { unreachable, ..Outcome::default() };
                let sent: Vec<i64> = results.iter().filter(|(_, r)| r.is_ok()).map(|(row, _)| row.id).collect();
                outcome.sent = mark_sent(tx, &sent, now)?;
                for (row, result) in &results {
                    match result {
                        Ok(()) => {}
                        Err(SendError::Transient(e) | SendError::Unreachable(e))
                            if now - row.queued_at < retry.give_up_after =>
                        {
                            let delay = chrono::Duration::from_std(retry.delay(row.attempts)).unwrap_or_default();
                            tracing::warn!(mail = row.id, attempts = row.attempts + 1, error.message = %e, "mail not sent, will retry");
                            mark_retry(tx, row.id, now + delay, e)?;
                            outcome.retried += 1;
                        }
                        Err(e) => {
                            tracing::error!(mail = row.id, error.message = %e, "mail not sent, kept as failed");
                            mark_failed(tx, row.id, &e.to_string())?;
                            outcome.failed += 1;
                        }
                    }
                }
                Ok::<_, DbError>(outcome)
            })
            .await?;
        self.journal.clear().map_err(|e| DbError::Task(format!("outbox journal: {e}")))?;
        Ok(outcome)
    }

    /// Sends until `shutdown`: sleeps until the next row is due, wakes when a write commits.
    pub async fn run_until_stopped(self, shutdown: impl std::future::Future<Output = ()>) {
        tracing::info!(transport = self.transport.name(), "outbox worker started");
        let mut commits = self.db.subscribe_commits();
        tokio::pin!(shutdown);
        loop {
            let now = self.clock.now();
            let wait = match self.pass(now).await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::error!(error.message = %e, "outbox worker failed; trying again in a minute");
                    Duration::from_secs(60)
                }
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(wait) => {}
                changed = commits.changed() => if changed.is_err() { break },
            }
        }
        self.lock.release();
    }

    /// One turn of the loop: send what is due, say how long to sleep.
    async fn pass(&self, now: DateTime<Utc>) -> Result<Duration, DbError> {
        match self.lock.try_hold() {
            Ok(true) => {}
            // Another process sends; look again in a while in case it stopped.
            Ok(false) => return Ok(STANDBY_POLL),
            Err(e) => return Err(DbError::Task(format!("outbox lock {}: {e}", self.lock.path.display()))),
        }
        let outcome = self.run_once(now).await?;
        if outcome != Outcome::default() {
            tracing::debug!(?outcome, "outbox pass");
        }
        if outcome.unreachable {
            // Every due row would fail the same way: wait as for a retry, longer each time.
            let passes = self.unreachable_passes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(self.retry.delay(passes).min(MAX_SLEEP));
        }
        self.unreachable_passes.store(0, std::sync::atomic::Ordering::Relaxed);
        let next = self.db.read(|c| Ok::<_, DbError>(next_due(c)?)).await?;
        Ok(next.map_or(MAX_SLEEP, |t| (t - now).to_std().unwrap_or(Duration::ZERO).min(MAX_SLEEP)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::mailer::BoxFuture;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn mail(n: u32) -> NewMail {
        NewMail {
            kind: MailKind::Invitation,
            meeting_id: Some("m1".into()),
            owner_uid: Some("jdupont".into()),
            message_id: format!("<{n}@h>"),
            envelope_from: "noreply@example.org".into(),
            recipients: vec![format!("g{n}@x.org")],
            subject: format!("s{n}"),
            // Every test stores one snapshot first (id 1).
            snapshot_id: 1,
            about_attendee: None,
            notice: format!("s{n}"),
        }
    }

    /// Stores the snapshot the test mails point at.
    fn snapshot(tx: &Transaction<'_>) -> i64 {
        save_snapshot(tx, r#"{"meeting":"m1"}"#).unwrap()
    }

    /// Writes `Subject: <notice>`; a notice "unreadable" cannot be written.
    struct Echo;

    impl Composer for Echo {
        fn compose(&self, l: &Letter) -> Result<Composed, String> {
            if l.notice == "unreadable" {
                return Err("no such notice".into());
            }
            assert_eq!(&*l.snapshot, r#"{"meeting":"m1"}"#);
            Ok(Composed { text: "body".into(), message: format!("Subject: {}\r\n\r\nbody\r\n", l.notice).into_bytes() })
        }
    }

    /// A transport that answers from a script and records what it accepted.
    struct Scripted {
        fail: Mutex<Vec<Option<SendError>>>,
        accepted: Mutex<Vec<Vec<String>>>,
    }

    impl Transport for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }
        fn send<'a>(&'a self, _: &'a str, to: &'a [String], _: &'a [u8]) -> BoxFuture<'a, Result<(), SendError>> {
            let next = self.fail.lock().unwrap().pop().flatten();
            if next.is_none() {
                self.accepted.lock().unwrap().push(to.to_vec());
            }
            Box::pin(async move { next.map_or(Ok(()), Err) })
        }
    }

    async fn worker(fail: Vec<Option<SendError>>) -> (Worker, crate::db::tempdir::TempDirGuard, Arc<Scripted>) {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), Duration::from_secs(5), 1).unwrap();
        let scripted = Arc::new(Scripted { fail: Mutex::new(fail), accepted: Mutex::new(Vec::new()) });
        let worker = Worker {
            db,
            transport: scripted.clone(),
            composer: Arc::new(Echo),
            clock: Arc::new(crate::clock::FixedClock::new(at("2026-12-01T08:00:00Z"))),
            retry: RetryPolicy {
                initial: Duration::from_secs(60),
                max: Duration::from_secs(600),
                give_up_after: chrono::Duration::hours(1),
            },
            journal: Journal::new(dir.path().join("outbox.handover")),
            lock: SendLock::new(dir.path().join("outbox.lock")),
            unreachable_passes: Default::default(),
        };
        (worker, dir, scripted)
    }

    async fn queue(w: &Worker, n: u32, now: DateTime<Utc>) {
        w.db.write(move |tx| {
            snapshot(tx);
            for i in 0..n {
                enqueue(tx, &mail(i), now)?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    }

    async fn statuses(w: &Worker) -> Vec<(String, u32)> {
        let mut l = w.db.read(|c| Ok::<_, DbError>(list(c, false, 100)?)).await.unwrap();
        l.sort_by_key(|e| e.id);
        l.into_iter().map(|e| (e.status, e.attempts)).collect()
    }

    #[tokio::test]
    async fn sends_retries_with_growing_delays_then_gives_up() {
        let t0 = at("2026-12-01T08:00:00Z");
        // Scripts are popped from the end: first attempt fails (transient), the others succeed.
        let (w, _dir, accepted) = worker(vec![None, None, Some(SendError::Transient("busy".into()))]).await;
        queue(&w, 3, t0).await;
        let o = w.run_once(t0).await.unwrap();
        assert_eq!(o, Outcome { sent: 2, retried: 1, failed: 0, unreachable: false });
        assert_eq!(accepted.accepted.lock().unwrap().len(), 2);
        let next = w.db.read(|c| Ok::<_, DbError>(next_due(c)?)).await.unwrap();
        assert_eq!(next, Some(t0 + chrono::Duration::seconds(60)));
        assert_eq!(w.run_once(t0 + chrono::Duration::seconds(59)).await.unwrap(), Outcome::default(), "not due yet");
        assert_eq!(w.run_once(t0 + chrono::Duration::seconds(60)).await.unwrap().sent, 1);
        assert_eq!(
            statuses(&w).await,
            [("sent".into(), 2), ("sent".into(), 1), ("sent".into(), 1)],
            "the first failed once"
        );

        assert_eq!(w.retry.delay(0), Duration::from_secs(60));
        assert_eq!(w.retry.delay(3), Duration::from_secs(480));
        assert_eq!(w.retry.delay(9), Duration::from_secs(600), "capped");

        // A permanent failure is kept at once; a temporary one past the give-up time too.
        let (w, _dir, _) = worker(vec![Some(SendError::Permanent("550 no such user".into()))]).await;
        queue(&w, 1, t0).await;
        assert_eq!(w.run_once(t0).await.unwrap().failed, 1);
        let (w, _dir, _) = worker(vec![Some(SendError::Transient("down".into()))]).await;
        queue(&w, 1, t0).await;
        assert_eq!(w.run_once(t0 + chrono::Duration::hours(2)).await.unwrap().failed, 1);
        let failed = w.db.read(|c| Ok::<_, DbError>(list(c, true, 10)?)).await.unwrap();
        assert_eq!(failed[0].last_error.as_deref(), Some("temporary failure: down"));
        // `jmb outbox retry` puts it back.
        assert_eq!(w.db.write(move |tx| Ok::<_, DbError>(retry(tx, None, t0)?)).await.unwrap(), 1);

        // A row that cannot be written is kept as failed, never handed over.
        let (w, _dir, accepted) = worker(vec![]).await;
        w.db.write(move |tx| {
            snapshot(tx);
            let mut bad = mail(1);
            bad.notice = "unreadable".into();
            enqueue(tx, &bad, t0)?;
            enqueue(tx, &mail(2), t0)?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
        assert_eq!(w.run_once(t0).await.unwrap(), Outcome { sent: 1, retried: 0, failed: 1, unreachable: false });
        assert_eq!(*accepted.accepted.lock().unwrap(), [["g2@x.org".to_string()]]);
        let failed = w.db.read(|c| Ok::<_, DbError>(list(c, true, 10)?)).await.unwrap();
        assert_eq!(
            failed[0].last_error.as_deref(),
            Some("permanent failure: the mail could not be written: no such notice")
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_stops_the_pass_and_leaves_the_rest_alone() {
        let t0 = at("2026-12-01T08:00:00Z");
        let down = || Some(SendError::Unreachable("connection refused".into()));
        // Scripts are popped from the end: every attempt finds the server down.
        let (w, _dir, accepted) = worker(vec![down(), down(), down(), down(), down(), down()]).await;
        queue(&w, 10, t0).await;
        let o = w.run_once(t0).await.unwrap();
        assert!(o.unreachable && o.sent == 0 && o.failed == 0, "{o:?}");
        assert!(o.retried <= IN_FLIGHT, "only the mails already started were tried: {o:?}");
        let tried = statuses(&w).await.iter().filter(|(_, a)| *a > 0).count();
        assert_eq!(tried, o.retried);
        assert!(accepted.accepted.lock().unwrap().is_empty());
        // The worker waits as for a retry, longer each pass.
        assert_eq!(w.pass(t0).await.unwrap(), Duration::from_secs(60));
        assert_eq!(w.unreachable_passes.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_requeued_mail_gets_the_whole_give_up_time_again() {
        let t0 = at("2026-12-01T08:00:00Z");
        let busy = || Some(SendError::Transient("451 greylisted".into()));
        let (w, _dir, _) = worker(vec![None, busy(), busy()]).await;
        queue(&w, 1, t0).await;
        // Two days of failures: kept as failed.
        let later = t0 + chrono::Duration::hours(48);
        assert_eq!(w.run_once(later).await.unwrap().failed, 1);
        // `jmb outbox retry`; the first attempt meets a greylisting server: it waits, it is not failed again.
        w.db.write(move |tx| Ok::<_, DbError>(retry(tx, None, later)?)).await.unwrap();
        assert_eq!(w.run_once(later).await.unwrap().retried, 1);
        assert_eq!(w.run_once(later + chrono::Duration::seconds(60)).await.unwrap().sent, 1);
    }

    #[tokio::test]
    async fn the_journal_keeps_accepted_mails_from_being_sent_twice() {
        let t0 = at("2026-12-01T08:00:00Z");
        let (w, _dir, accepted) = worker(vec![]).await;
        queue(&w, 2, t0).await;
        // A previous process had row 1 accepted, then died before the store knew.
        w.journal.append(1).unwrap();
        std::fs::write(w.journal.path(), "1\n2").unwrap();
        std::fs::OpenOptions::new().append(true).open(w.journal.path()).unwrap().write_all(b"\n3").unwrap();
        assert_eq!(w.journal.read().unwrap(), [1, 2], "the torn last record (\"3\", maybe of \"31\") is ignored");
        let o = w.run_once(t0).await.unwrap();
        assert_eq!(o.sent, 0, "rows 1 and 2 were applied from the journal, not sent");
        assert!(accepted.accepted.lock().unwrap().is_empty());
        assert_eq!(statuses(&w).await, [("sent".into(), 1), ("sent".into(), 1)]);
        assert!(w.journal.read().unwrap().is_empty(), "emptied once applied");
    }

    #[tokio::test]
    async fn one_process_sends_at_a_time() {
        let (w, dir, _) = worker(vec![]).await;
        assert!(w.lock.try_hold().unwrap());
        assert!(w.lock.try_hold().unwrap(), "held again by its holder");
        // Another open file description (as another process has) is refused while the first holds it.
        let other = SendLock::new(dir.path().join("outbox.lock"));
        assert!(!other.try_hold().unwrap());
        w.lock.release();
        assert!(other.try_hold().unwrap(), "taken over once released");
        assert!(!w.lock.try_hold().unwrap());
    }

    #[test]
    fn invitee_mails_are_counted_per_owner_and_hour() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate::apply(&mut c).unwrap();
        let tx = c.transaction().unwrap();
        let t0 = at("2026-12-01T08:00:00Z");
        snapshot(&tx);
        for i in 0..3 {
            enqueue(&tx, &mail(i), t0).unwrap();
        }
        let mut owner_copy = mail(9);
        owner_copy.kind = MailKind::OwnerCreated;
        enqueue(&tx, &owner_copy, t0).unwrap();
        assert_eq!(invitee_mails_since(&tx, "jdupont", t0 - chrono::Duration::hours(1)).unwrap(), 3);
        assert_eq!(invitee_mails_since(&tx, "jdupont", t0).unwrap(), 0);
        assert_eq!(invitee_mails_since(&tx, "other", t0 - chrono::Duration::hours(1)).unwrap(), 0);
        assert!(enqueue(&tx, &mail(0), t0).is_err(), "one row per Message-ID");
    }

    /// The worker's look-ups read the pending rows through their partial index, in order, whatever the
    /// other indexes and however many rows are pending: no sort of every pending row on each pass.
    #[test]
    fn due_mails_are_read_in_index_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate::apply(&mut conn).unwrap();
        for (what, sql) in [("due", DUE), ("next_due", NEXT_DUE)] {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let params: Vec<&dyn rusqlite::ToSql> =
                (0..stmt.parameter_count()).map(|_| &0 as &dyn rusqlite::ToSql).collect();
            let plan: Vec<String> =
                stmt.query_map(params.as_slice(), |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
            assert_eq!(plan.len(), 1, "{what}: {plan:#?}");
            // One step (no sort), through the partial index: it holds only pending rows, in order, so even
            // a `SCAN` of it stops at the `LIMIT`.
            assert!(plan[0].contains("INDEX outbox_due"), "{what}: {plan:#?}");
        }
    }

    #[test]
    fn pruning_removes_sent_rows_and_the_snapshots_left_alone() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "foreign_keys", "ON").unwrap();
        crate::db::migrate::apply(&mut c).unwrap();
        let tx = c.transaction().unwrap();
        let t0 = at("2026-12-01T08:00:00Z");
        let (s1, s2) = (snapshot(&tx), snapshot(&tx));
        let a = enqueue(&tx, &NewMail { snapshot_id: s1, ..mail(1) }, t0).unwrap();
        let b = enqueue(&tx, &NewMail { snapshot_id: s2, ..mail(2) }, t0).unwrap();
        let c2 = enqueue(&tx, &NewMail { snapshot_id: s2, ..mail(3) }, t0).unwrap();
        let l = letter(&tx, a).unwrap().unwrap();
        assert_eq!((l.message_id.as_str(), l.notice.as_str(), l.created_at), ("<1@h>", "s1", t0));
        mark_sent(&tx, &[a, b], t0).unwrap();
        assert_eq!(prune_sent(&tx, t0 + chrono::Duration::days(1)).unwrap(), 2, "the sent ones only");
        assert!(letter(&tx, a).unwrap().is_none() && letter(&tx, b).unwrap().is_none());
        assert!(letter(&tx, c2).unwrap().is_some(), "a pending mail keeps its snapshot");
        let snapshots: Vec<i64> = tx
            .prepare("SELECT id FROM outbox_snapshots")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(snapshots, [s2]);
    }
}
