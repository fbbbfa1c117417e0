//! Background jobs, each a step taking `now` explicitly plus a loop that stops with the server:
//! * pruning the calendar change log (hourly; sync tokens older than the kept log answer
//!   `valid-sync-token` and clients resynchronise);
//! * the calendar clock ([`crate::calendar::clock`]): it sleeps until the next alarm trigger or
//!   window exit, and wakes early when a committed write may have brought an earlier one.
//!
//! Jobs take their dependencies explicitly (store, configuration, clock), never the HTTP state.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::calendar::{changes, clock};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Db, DbError};

/// What the jobs need.
#[derive(Clone)]
pub struct JobDeps {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
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

async fn run_calendar_clock(deps: JobDeps) {
    let mut commits = deps.db.subscribe_commits();
    loop {
        let now = deps.clock.now();
        let wait = match calendar_clock_due(&deps, now).await {
            Ok(Some(due)) if due <= now => {
                match advance_calendar_clock(&deps, now).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(meetings = n, "calendar clock: alarms passed or meetings left the window"),
                    Err(e) => tracing::error!(error.message = %e, "calendar clock failed"),
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

async fn run_pruning(deps: JobDeps) {
    let mut tick = tokio::time::interval(MAX_SLEEP);
    loop {
        tick.tick().await;
        match prune_change_log(&deps, deps.clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "calendar change log pruned"),
            Err(e) => tracing::error!(error.message = %e, "calendar change log pruning failed"),
        }
    }
}

/// Runs every job until `shutdown` completes.
pub async fn run_until_stopped(deps: JobDeps, shutdown: impl Future<Output = ()>) {
    tokio::select! {
        _ = shutdown => {}
        _ = run_pruning(deps.clone()) => {}
        _ = run_calendar_clock(deps) => {}
    }
}
