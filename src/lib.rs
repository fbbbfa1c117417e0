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
//! * **core**: `booking`, `directory`, `events`, `users`, `calendar`, `mail`, `outbox`, `identity`, `i18n`,
//!   `jobs`, `legacy`, `metrics`, `presence`, `retention`, `room_warnings` — decide, store, react; never names
//!   axum or the edge;
//! * **leaves**: `db`, `ics`, `jitsi`, `config`, `clock`, `secrets`, `telemetry`, `conditional`, `mailer`,
//!   `backup`, `prosody`, `xmpp`, and `caldav` (the protocol, over a backend trait the core implements).

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
/// The organisation's LDAP directory: identity, editors, aliases, lists and groups, completion.
pub mod directory;
/// Booking changes as events, and the hooks that react to them inside the same transaction.
pub mod events;
/// Languages and message catalogues.
pub mod i18n;
/// Who a signed-in person is, and who may book.
pub mod identity;
/// Background jobs.
pub mod jobs;
/// `jmb import-legacy`: the original JMB's database brought in, old links kept.
pub mod legacy;
/// Mails: invitations, updates, cancellations, confirmations, answers, reminders.
pub mod mail;
/// Prometheus metrics: requests, bookings, joins, answers, feeds, CalDAV, mails, reminders.
pub mod metrics;
/// The outbox: every mail queued with the change that causes it, sent by a worker.
pub mod outbox;
/// Presence from Prosody's event_sync webhooks: who was in each meeting, and for how long.
pub mod presence;
/// Retention: meetings and their tracking removed after `database.retention_days` (`jmb purge`).
pub mod retention;
/// Warnings posted into a meeting's chat room before it ends (`[xmpp]`).
pub mod room_warnings;
/// Users, their feed secrets and calendar passwords.
pub mod users;

// ---- leaves ----
/// `jmb backup`: online copies of the database.
pub mod backup;
/// Read-only CalDAV server over a calendar backend.
pub mod cache;
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
/// Mail transports: SMTP, sendmail, or the demo mailbox.
pub mod mailer;
/// Prosody's host configuration: `app_id` and `app_secret` read from it.
pub mod prosody;
/// Random identifiers and signing keys.
pub mod secrets;
/// Logging and request spans.
pub mod telemetry;
/// Test helpers (linear-growth checks); tests only.
#[cfg(test)]
pub(crate) mod testkit;
/// A minimal XMPP client: join a room without history, post one message, leave.
pub mod xmpp;

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

/// How connections are served: the limits that keep slow, idle or numerous clients from taking the
/// process's file descriptors (see `server.header_read_timeout_seconds` and `server.max_connections`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A client must send a request's complete headers within this time, counted from the opening
    /// of the connection or from the end of the previous answer: hyper starts the same timer when a
    /// kept-alive connection goes idle, so this is also the idle keep-alive timeout.
    pub header_read_timeout: std::time::Duration,
    /// Connections served at once; the accept loop waits for one to close before taking another, so
    /// further clients wait in the kernel's listen queue instead of costing a file descriptor each.
    pub max_connections: usize,
}

impl ConnectionLimits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            header_read_timeout: std::time::Duration::from_secs(config.server.header_read_timeout_seconds),
            max_connections: config.server.max_connections.max(1),
        }
    }
}

/// Serves `state` on `listener` until `shutdown` completes; requests in flight are finished first.
/// The background jobs run meanwhile and stop with the server.
pub async fn run(
    state: AppState,
    listener: Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = app::router(state.clone());
    let limits = ConnectionLimits::from_config(&state.config);
    let (stop_jobs, jobs_stopped) = tokio::sync::oneshot::channel::<()>();
    let jobs = tokio::spawn(jobs::run_until_stopped(app::job_deps(&state), async {
        let _ = jobs_stopped.await;
    }));
    serve(listener, app, limits, shutdown).await;
    let _ = stop_jobs.send(());
    let _ = jobs.await;
    Ok(())
}

/// The accept loop: one task per connection, at most `limits.max_connections` at once, HTTP/1.1 with
/// the header-read (and idle) timeout. HTTP/2 is not offered: jmb sits behind a proxy that speaks
/// HTTP/1.1 to it, and an HTTP/2 connection would escape the header-read timer. On `shutdown`, the
/// listener closes, every connection finishes its request in flight (idle ones close at once), and
/// this returns when all are done.
async fn serve(
    listener: Listener,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    // Connections hold a receiver of each: `stop` tells them to finish, `done` closes when they have.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let (done, all_done) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let (io, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                on_accept_error(e).await;
                continue;
            }
        };
        let app = app.clone();
        let (stopping, all_done) = (stopping.clone(), all_done.clone());
        tokio::spawn(async move {
            match io {
                Stream::Tcp(io) => serve_connection(io, peer, app, limits, stopping).await,
                #[cfg(unix)]
                Stream::Unix(io) => serve_connection(io, peer, app, limits, stopping).await,
            }
            drop((slot, all_done));
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(all_done);
    done.closed().await;
}

/// An accepted connection.
enum Stream {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<(Stream, Peer)> {
        match self {
            Listener::Tcp(l) => l.accept().await.map(|(s, addr)| (Stream::Tcp(s), Peer::Tcp(addr))),
            #[cfg(unix)]
            Listener::Unix(l) => l.accept().await.map(|(s, _)| (Stream::Unix(s), Peer::Unix)),
        }
    }
}

/// A failed `accept`: a client that gave up is skipped; anything else (out of file descriptors,
/// above all) is logged and waited out for a second rather than retried in a tight loop.
async fn on_accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted) {
        return;
    }
    tracing::error!(error.message = %e, "accepting a connection failed; retrying in a second");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}

/// Serves one connection until the client leaves, a timeout cuts it, or `stopping` turns true (then
/// the request in flight is finished first).
async fn serve_connection<S>(
    io: S,
    peer: Peer,
    app: axum::Router,
    limits: ConnectionLimits,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tower::ServiceExt;
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        app.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut stop_requested = *stopping.borrow();
    if stop_requested {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    // Header timeouts, clients that hang up: routine, not errors of jmb.
                    tracing::debug!(error.message = %e, "connection ended");
                }
                break;
            }
            changed = stopping.changed(), if !stop_requested => {
                stop_requested = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
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
