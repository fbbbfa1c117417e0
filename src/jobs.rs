//! Background jobs, each a step taking `now` explicitly plus a loop that stops with the server:
//! * the outbox worker ([`crate::outbox::Worker`]): sends queued mails;
//! * reminders ([`crate::mail::reminders`]): sleeps until the next one is due; at start, brings the
//!   schedule in line with `mail.reminder_minutes` (offsets added or removed since);
//! * room warnings ([`crate::room_warnings`], with `[xmpp]`): sleeps until the next warning or retry
//!   is due, posts each in its own task, bounded by `xmpp.timeout_seconds`; at start, schedules
//!   the missing warnings of meetings booked before ([`crate::room_warnings::backfill`]) and drops
//!   those of offsets removed from `warn_minutes`;
//! * the calendar clock ([`crate::calendar::clock`]): sleeps until the next alarm trigger or
//!   window exit;
//! * filling in (at start, then hourly) the stored event lines of meetings that have none
//!   ([`crate::calendar::renderings::backfill`]: meetings of a former release or an import);
//! * pruning (hourly): the calendar change log (sync tokens older than the kept log answer
//!   `valid-sync-token` and clients resynchronise), sent mails past `mail.keep_sent_days`, and, when
//!   `database.retention_days` is set, meetings and their tracking past it ([`crate::retention`]).
//!
//! The sleeping jobs wake early when a committed write may have brought an earlier instant. Jobs take
//! their dependencies explicitly (store, configuration, clock, mail), never the HTTP state.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::calendar::{changes, clock, renderings};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::mail::{MailSettings, reminders};
use crate::mailer::Transport;
use crate::outbox;

/// What the jobs need.
#[derive(Clone)]
pub struct JobDeps {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub mail: Arc<MailSettings>,
    pub transport: Arc<dyn Transport>,
    /// End-of-meeting chat warnings, when `[xmpp]` is configured.
    pub warnings: Option<Arc<crate::room_warnings::Sender>>,
}

impl JobDeps {
    /// The outbox worker of this process.
    pub fn outbox_worker(&self) -> outbox::Worker {
        let m = &self.config.mail;
        outbox::Worker {
            db: self.db.clone(),
            transport: self.transport.clone(),
            composer: self.mail.clone(),
            clock: self.clock.clone(),
            retry: outbox::RetryPolicy {
                initial: Duration::from_secs(m.retry_initial_seconds),
                max: Duration::from_secs(m.retry_max_seconds),
                give_up_after: chrono::Duration::hours(i64::from(m.give_up_after_hours)),
            },
            journal: outbox::Journal::new(beside_database(&self.config, ".outbox-handover")),
            lock: outbox::SendLock::new(beside_database(&self.config, ".outbox-lock")),
            unreachable_passes: Default::default(),
        }
    }
}

/// A file named after the database (`jmb.sqlite3` → `jmb.sqlite3.outbox-lock`), as SQLite names its
/// `-wal`: two databases in one folder never share the outbox's lock or journal.
fn beside_database(config: &Config, suffix: &str) -> std::path::PathBuf {
    let mut name = config.database.path.clone().into_os_string();
    name.push(suffix);
    name.into()
}

/// Sends the reminders due at `now` (see [`reminders::run_due`]).
pub async fn send_due_reminders(deps: &JobDeps, now: DateTime<Utc>) -> Result<reminders::Outcome, DbError> {
    let settings = deps.mail.clone();
    deps.db.write(move |tx| Ok(reminders::run_due(tx, &settings, now)?)).await
}

async fn run_reminders(deps: JobDeps) {
    // Meetings to come get the reminders of offsets added to the configuration; those of offsets
    // removed since are dropped.
    let (minutes, clock) = (deps.mail.reminder_minutes.clone(), deps.clock.clone());
    // The time is read once the write has its turn: a booking committed meanwhile has its own.
    let follow = move |tx: &rusqlite::Transaction<'_>| -> Result<(usize, usize), DbError> {
        Ok(reminders::follow_configuration(tx, &minutes, clock.now())?)
    };
    match deps.db.write(follow).await {
        Ok((0, 0)) => {}
        Ok((added, dropped)) => tracing::info!(added, dropped, "reminders brought in line with mail.reminder_minutes"),
        Err(e) => tracing::error!(error.message = %e, "reminders: cannot follow mail.reminder_minutes"),
    }
    let mut commits = deps.db.subscribe_commits();
    loop {
        let now = deps.clock.now();
        let wait = match deps.db.read(|c| Ok::<_, DbError>(reminders::next_due(c)?)).await {
            Ok(Some(due)) if due <= now => {
                match send_due_reminders(&deps, now).await {
                    Ok(o) if o.sent + o.missed > 0 => {
                        tracing::info!(sent = o.sent, missed = o.missed, mails = o.mails, "reminders")
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(error.message = %e, "reminders failed");
                        tokio::time::sleep(Duration::from_secs(10)).await;
                    }
                }
                continue;
            }
            Ok(Some(due)) => (due - now).to_std().unwrap_or(Duration::ZERO).min(MAX_SLEEP),
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::error!(error.message = %e, "reminders: cannot read the schedule");
                Duration::from_secs(60)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = commits.changed() => if changed.is_err() { break },
        }
    }
}

/// Waits until the clock is set by hand (test clocks), or forever.
async fn clock_jump(jumps: &mut Option<tokio::sync::watch::Receiver<i64>>) {
    let Some(r) = jumps else { return std::future::pending().await };
    if r.changed().await.is_err() {
        // The clock is gone: it will not jump again.
        *jumps = None;
        std::future::pending::<()>().await
    }
}

async fn run_room_warnings(deps: JobDeps) {
    let Some(sender) = deps.warnings.clone() else {
        // Meetings booked from now on get no warnings: the next start with `[xmpp]` schedules them.
        if let Err(e) = deps.db.write(|tx| Ok::<_, DbError>(crate::room_warnings::forget_followed(tx)?)).await {
            tracing::error!(error.message = %e, "room warnings: cannot note that [xmpp] is off");
        }
        return std::future::pending().await;
    };
    // Meetings booked before `[xmpp]` was on (or before an offset was added) get their warnings;
    // those of offsets removed since are dropped.
    let (minutes, clock) = (sender.minutes.clone(), deps.clock.clone());
    let follow = move |tx: &rusqlite::Transaction<'_>| -> Result<(usize, usize), DbError> {
        Ok(crate::room_warnings::follow_configuration(tx, &minutes, clock.now())?)
    };
    match deps.db.write(follow).await {
        Ok((0, 0)) => {}
        Ok((added, dropped)) => tracing::info!(added, dropped, "room warnings brought in line with xmpp.warn_minutes"),
        Err(e) => tracing::error!(error.message = %e, "room warnings: cannot follow xmpp.warn_minutes"),
    }
    let mut commits = deps.db.subscribe_commits();
    let mut jumps = deps.clock.jumps();
    loop {
        let now = deps.clock.now();
        let wait = match deps.db.read(|c| Ok::<_, DbError>(crate::room_warnings::next_due(c)?)).await {
            Ok(Some(due)) if due <= now => {
                match sender.run_due(&deps.db, &deps.clock, now).await {
                    Ok(o) if o != Default::default() => tracing::debug!(?o, "room warnings"),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(error.message = %e, "room warnings failed");
                        tokio::time::sleep(Duration::from_secs(10)).await;
                    }
                }
                continue;
            }
            Ok(Some(due)) => (due - now).to_std().unwrap_or(Duration::ZERO).min(MAX_SLEEP),
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::error!(error.message = %e, "room warnings: cannot read the schedule");
                Duration::from_secs(60)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = commits.changed() => if changed.is_err() { break },
            _ = clock_jump(&mut jumps) => {}
        }
    }
}

/// Removes sent mails older than `mail.keep_sent_days`.
pub async fn prune_sent_mails(deps: &JobDeps, now: DateTime<Utc>) -> Result<usize, DbError> {
    let before = now - chrono::Duration::days(i64::from(deps.config.mail.keep_sent_days));
    deps.db.write(move |tx| Ok(outbox::prune_sent(tx, before)?)).await
}

/// Removes meetings and their tracking past `database.retention_days` (nothing when it is 0).
pub async fn purge_expired(deps: &JobDeps, now: DateTime<Utc>) -> Result<crate::retention::Purged, DbError> {
    let days = deps.config.database.retention_days;
    if days == 0 {
        return Ok(crate::retention::Purged::default());
    }
    let before = crate::retention::cutoff(now, days);
    crate::retention::purge(&deps.db, before, now).await
}

/// Prunes the calendar change log once; returns the number of entries removed.
pub async fn prune_change_log(deps: &JobDeps, now: DateTime<Utc>) -> Result<usize, DbError> {
    let days = deps.config.calendar.change_log_days;
    deps.db.write(move |tx| Ok(changes::prune(tx, now, days)?)).await
}

/// Records in the change log every alarm passing and window exit up to `now`; returns how many
/// meetings were touched.
pub async fn advance_calendar_clock(deps: &JobDeps, now: DateTime<Utc>) -> Result<usize, DbError> {
    let config = deps.config.clone();
    deps.db.write(move |tx| Ok(clock::run_once(tx, &config.calendar, now)?)).await
}

/// When the calendar clock has something to record next: `Ok(None)` when nothing is scheduled, and
/// an instant at or before `now` when it is overdue (or has never run).
async fn calendar_clock_due(deps: &JobDeps, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, DbError> {
    let config = deps.config.clone();
    deps.db
        .read(move |c| {
            let Some(last) = clock::last_run(c)? else { return Ok(Some(now)) };
            Ok(clock::next_due(c, &config.calendar, last)?)
        })
        .await
}

/// The longest a job sleeps: it wakes to re-check at least this often.
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// How long after a write the log is checkpointed: a burst of writes shares one checkpoint.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(250);

/// Checkpoints SQLite's write-ahead log shortly after writes, so that no commit pays for it (bookings
/// wait only for a moment each time the log has grown by a few megabytes, see
/// [`crate::db::Db::checkpoint`]). Public for the benchmarks, which write as the server does.
pub async fn run_checkpoints(db: Db) {
    let mut commits = db.subscribe_commits();
    while commits.changed().await.is_ok() {
        tokio::time::sleep(CHECKPOINT_DELAY).await;
        commits.borrow_and_update();
        if let Err(e) = db.checkpoint().await {
            tracing::warn!(error.message = %e, "checkpoint failed; SQLite checkpoints at commit if the log grows");
        }
    }
}

async fn run_calendar_clock(deps: JobDeps) {
    let mut commits = deps.db.subscribe_commits();
    loop {
        let now = deps.clock.now();
        let wait = match calendar_clock_due(&deps, now).await {
            Ok(Some(due)) if due <= now => {
                match advance_calendar_clock(&deps, now).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(meetings = n, "calendar clock: alarms passed or meetings left the window"),
                    Err(e) => {
                        // The store cannot write (locked by another process, disk full): retrying at once
                        // would hold the writer in a loop, and `/healthz` would take it for a busy writer.
                        tracing::error!(error.message = %e, "calendar clock failed");
                        tokio::time::sleep(Duration::from_secs(10)).await;
                    }
                }
                continue;
            }
            Ok(Some(due)) => (due - now).to_std().unwrap_or(Duration::ZERO).min(MAX_SLEEP),
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::error!(error.message = %e, "calendar clock: cannot read its schedule");
                Duration::from_secs(60)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            // A booking may have brought an earlier instant: look again.
            changed = commits.changed() => if changed.is_err() { break },
        }
    }
}

/// Renders the shared event lines of every meeting still in calendars that has none (or an older
/// format), one committed batch at a time so bookings never wait long behind it; returns how many.
pub async fn fill_event_renderings(deps: &JobDeps, now: DateTime<Utc>) -> Result<usize, DbError> {
    const BATCH: usize = 500;
    let since = now - chrono::Duration::days(i64::from(deps.config.calendar.past_days));
    let (mut after, mut rendered) = (String::new(), 0);
    loop {
        let batch = deps.db.write(move |tx| Ok::<_, DbError>(renderings::backfill(tx, since, &after, BATCH)?)).await?;
        rendered += batch.rendered;
        if batch.looked < BATCH {
            return Ok(rendered);
        }
        after = batch.last;
    }
}

async fn run_pruning(deps: JobDeps) {
    let mut tick = tokio::time::interval(MAX_SLEEP);
    loop {
        tick.tick().await;
        match fill_event_renderings(&deps, deps.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(meetings = n, "calendar: stored the shared event lines of meetings that had none"),
            Err(e) => tracing::error!(error.message = %e, "calendar: filling in stored event lines failed"),
        }
        let config = deps.config.clone();
        match tokio::task::spawn_blocking(move || crate::calendar::disk::sweep_for(&config)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(removed = n, "calendar: expired renderings removed from disk"),
            Ok(Err(e)) => tracing::warn!(error.message = %e, "calendar: sweeping the renderings on disk failed"),
            Err(e) => tracing::error!(error.message = %e, "calendar: sweeping the renderings on disk failed"),
        }
        match prune_change_log(&deps, deps.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "calendar change log pruned"),
            Err(e) => tracing::error!(error.message = %e, "calendar change log pruning failed"),
        }
        match prune_sent_mails(&deps, deps.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "sent mails pruned"),
            Err(e) => tracing::error!(error.message = %e, "sent mails pruning failed"),
        }
        match purge_expired(&deps, deps.clock.now()).await {
            Ok(p) if p.is_empty() => {}
            Ok(p) => tracing::info!(
                meetings = p.meetings,
                attendees = p.attendees,
                mails = p.mails,
                private_rooms = p.private_rooms,
                days = deps.config.database.retention_days,
                "retention: removed what ended more than database.retention_days ago"
            ),
            Err(e) => tracing::error!(error.message = %e, "retention purge failed"),
        }
    }
}

/// Runs every job until `shutdown` completes. The outbox worker is stopped last, after finishing the
/// mail it is sending, and lets another process send.
pub async fn run_until_stopped(deps: JobDeps, shutdown: impl Future<Output = ()>) {
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(deps.outbox_worker().run_until_stopped(async {
        let _ = worker_stopped.await;
    }));
    tokio::select! {
        _ = shutdown => {}
        _ = run_pruning(deps.clone()) => {}
        _ = run_calendar_clock(deps.clone()) => {}
        _ = run_checkpoints(deps.db.clone()) => {}
        _ = run_room_warnings(deps.clone()) => {}
        _ = run_reminders(deps) => {}
    }
    let _ = stop_worker.send(());
    let _ = worker.await;
}
