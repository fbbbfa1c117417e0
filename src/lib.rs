//! jmb: meeting booking for Jitsi Meet.
//!
//! Authenticated users (behind the organisation's single sign-on) book Jitsi meetings and invite people
//! as guests or moderators; every invitee gets a personal link to join and to answer. This crate is
//! the whole server; `main.rs` only parses the command line.
//!
//! Three layers, arrows only downwards (`docs/architecture.md` draws them from the code, and a test
//! fails when a core module reaches up):
//! * **edge**: `cli`, `app`, `state`, `auth`, `web`, `pages`, `feed`, `api` — parse input into domain
//!   types, call one core operation, render;
//! * **core**: `booking`, `events`, `users`, `calendar`, `identity`, `i18n`, `jobs` — decide, store,
//!   react; never names axum or the edge;
//! * **leaves**: `db`, `ics`, `jitsi`, `config`, `clock`, `secrets`, `telemetry`, `conditional`, and
//!   `caldav` (the protocol, over a backend trait the core implements).

// ---- edge ----
/// The JSON API under `/api/v1` and its OpenAPI document.
pub mod api;
/// Builds the state and the router; registers the booking hooks.
pub mod app;
/// Sign-in over HTTP: trusted proxy headers, demo sign-in, the `SignedIn` extractor.
pub mod auth;
/// Command-line interface (`serve`, `check-config`, `migrate`).
pub mod cli;
/// The iCal feed route.
pub mod feed;
/// The HTML pages and the routes behind personal links and legacy URLs.
pub mod pages;
/// Application state (edge only).
pub mod state;
/// What every page shares: layout data, cookies, language, CSRF, security headers, error pages, assets.
pub mod web;

// ---- core ----
/// Meetings, invitations and answers: model, rules, store queries, operations, errors.
pub mod booking;
/// Calendars: the viewer's event, the change log, the calendar clock, the rendered calendar store.
pub mod calendar;
/// Booking changes as events, and the hooks that react to them inside the same transaction.
pub mod events;
/// Languages and message catalogues.
pub mod i18n;
/// Who a signed-in person is, and who may book.
pub mod identity;
/// Background jobs.
pub mod jobs;
/// Users, their feed secrets and calendar passwords.
pub mod users;

// ---- leaves ----
/// Read-only CalDAV server over a calendar backend.
pub mod caldav;
/// Time source.
pub mod clock;
/// Conditional GET and HTTP dates.
pub mod conditional;
/// Configuration file and environment overrides.
pub mod config;
/// The SQLite store gateway and migrations.
pub mod db;
/// The only iCalendar writer (feed, CalDAV, mails).
pub mod ics;
/// Jitsi tokens and room URLs.
pub mod jitsi;
/// Random identifiers and signing keys.
pub mod secrets;
/// Logging and request spans.
pub mod telemetry;
/// Test helpers (linear-growth checks); tests only.
#[cfg(test)]
pub(crate) mod testkit;

use std::future::Future;

use crate::auth::Peer;
use crate::config::Config;
use crate::state::AppState;

/// A bound listener: TCP, or a unix socket.
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
}

/// The runtime `jmb serve` runs on. Blocking threads only ever wait for a database connection (readers
/// plus the writer, and writes queue before taking one), so more of them than that only add stacks and
/// allocator arenas.
pub fn runtime(config: &Config) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(config.database.read_connections + 4)
        .build()
}

/// Serves `state` on `listener` until `shutdown` completes; requests in flight are finished first.
/// The background jobs run meanwhile and stop with the server.
pub async fn run(
    state: AppState,
    listener: Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = app::router(state.clone());
    let (stop_jobs, jobs_stopped) = tokio::sync::oneshot::channel::<()>();
    let jobs = tokio::spawn(jobs::run_until_stopped(app::job_deps(&state), async {
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

/// Files jmb keeps open besides connections: the database and its WAL and shared-memory files for
/// every connection, the listener, logs, with room to spare.
const FILES_BESIDES_CONNECTIONS: u64 = 64;

/// A warning when this process may open too few files for `max_connections` connections (Linux:
/// read from `/proc/self/limits`; elsewhere nothing is said). Past the limit, accepting fails and
/// every client waits, which is what `server.max_connections` exists to prevent.
pub fn open_files_warning(max_connections: usize) -> Option<String> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    // "Max open files            1024                 4096                 files"
    let soft: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    let needed = max_connections as u64 + FILES_BESIDES_CONNECTIONS;
    (soft < needed).then(|| {
        format!(
            "the open-file limit is {soft}, below server.max_connections + {FILES_BESIDES_CONNECTIONS} = {needed}: raise LimitNOFILE= in the systemd unit or lower server.max_connections"
        )
    })
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled: a SIGTERM arriving as soon as the port accepts connections must already
/// mean a graceful stop. Call it inside the runtime, before binding.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::terminate()).ok(), signal(SignalKind::interrupt()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = term => {},
                _ = int => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
