//! jmb: meeting booking for Jitsi Meet.
//!
//! Authenticated users (behind the organisation's single sign-on) book Jitsi meetings and invite people
//! as guests or moderators; every invitee gets a personal link to join and to answer. This crate is
//! the whole server; `main.rs` only parses the command line.

/// The JSON API under `/api/v1` and its OpenAPI document.
pub mod api;
/// Builds the state and the router.
pub mod app;
/// Meetings, invitations, answers, personal links and the legacy URLs.
pub mod booking;
/// Read-only CalDAV server over a calendar backend.
pub mod caldav;
/// Per-user iCal feed, CalDAV backend and change log.
pub mod calendar;
/// Command-line interface (`serve`, `check-config`, `migrate`).
pub mod cli;
/// Time source.
pub mod clock;
/// Configuration file and environment overrides.
pub mod config;
/// The SQLite store gateway and migrations.
pub mod db;
/// The only iCalendar writer (feed, CalDAV, later mails).
pub mod ics;
/// Who is calling: sign-in modes and the editor policy.
pub mod identity;
/// Jitsi tokens and room URLs.
pub mod jitsi;
/// Background jobs.
pub mod jobs;
/// Random identifiers and signing keys.
pub mod secrets;
/// Application state.
pub mod state;
/// Logging and request spans.
pub mod telemetry;
/// HTML pages: catalogues, templates, CSRF, security headers, static assets.
pub mod web;

use std::future::Future;

use crate::identity::Peer;
use crate::state::AppState;

/// A bound listener: TCP, or a unix socket.
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
}

/// Serves `state` on `listener` until `shutdown` completes; requests in flight are finished first.
pub async fn run(
    state: AppState,
    listener: Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = app::router(state.clone());
    let (stop_jobs, jobs_stopped) = tokio::sync::oneshot::channel::<()>();
    let jobs = tokio::spawn(jobs::run_until_stopped(state, async {
        let _ = jobs_stopped.await;
    }));
    match listener {
        Listener::Tcp(l) => {
            axum::serve(l, app.into_make_service_with_connect_info::<Peer>()).with_graceful_shutdown(shutdown).await?;
        }
        #[cfg(unix)]
        Listener::Unix(l) => {
            axum::serve(l, app.into_make_service_with_connect_info::<Peer>()).with_graceful_shutdown(shutdown).await?;
        }
    }
    let _ = stop_jobs.send(());
    let _ = jobs.await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
