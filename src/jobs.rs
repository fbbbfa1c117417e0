//! Background jobs, each a `run_once(state, now)` step plus a loop that stops with the server.
//! Today: pruning the calendar change log (sync tokens older than the kept log answer
//! `valid-sync-token` and clients resynchronise).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::DbError;
use crate::state::AppState;

/// Prunes the calendar change log once; returns the number of entries removed.
pub async fn prune_change_log(state: &AppState, now: DateTime<Utc>) -> Result<usize, DbError> {
    let days = state.config.calendar.change_log_days;
    state.db.write(move |tx| Ok(crate::calendar::changes::prune(tx, now, days)?)).await
}

/// Runs the jobs until `shutdown` completes.
pub async fn run_until_stopped(state: AppState, shutdown: impl std::future::Future<Output = ()>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {
                match prune_change_log(&state, state.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "calendar change log pruned"),
                    Err(e) => tracing::error!(error.message = %e, "calendar change log pruning failed"),
                }
            }
        }
    }
}
