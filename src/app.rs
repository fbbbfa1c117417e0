//! Builds the application (the edge's root): the core's services from configuration, with the hooks
//! that react to booking changes registered here (one line each), and the router that merges every
//! feature's routes and adds the shared layers (tracing, timeout, body limit, security headers, CSRF
//! cookie, error pages).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_http::timeout::TimeoutLayer;

use crate::auth::demo::{self, DemoProvider};
use crate::auth::proxy::TrustedHeaderProvider;
use crate::auth::sessions::DemoSessions;
use crate::auth::{IdentityProvider, SignedIn};
use crate::booking::Bookings;
use crate::calendar::changes::ChangeLog;
use crate::calendar::store::CalendarStore;
use crate::clock::{Clock, SystemClock};
use crate::config::{AuthMode, Config, EditorKeyword, EditorPolicy};
use crate::db::Db;
use crate::directory::{DirectoryEditors, DirectoryService};
use crate::events::{Hook, Hooks};
use crate::i18n::Lang;
use crate::identity::StaticEditors;
use crate::jitsi::Jitsi;
use crate::mail::MailSettings;
use crate::mail::notify::MailNotifier;
use crate::mail::reminders::ReminderScheduler;
use crate::secrets::{Keys, load_or_create_secret};
use crate::state::AppState;
use crate::users::Users;
use crate::web::csrf::{Binding, CarriesCsrf, CheckedForm};
use crate::web::lang::LANG_COOKIE;
use crate::web::{PageError, assets, cookies, csrf, error, security};

/// The reactions to booking changes, in the order they run inside each booking's transaction.
pub fn hooks(mail: &Arc<MailSettings>) -> Hooks {
    Hooks::new(hook_list(mail))
}

fn hook_list(mail: &Arc<MailSettings>) -> Vec<Arc<dyn Hook>> {
    vec![
        // Calendar versions and the sync-collection log.
        Arc::new(ChangeLog),
        // Each meeting's event lines shared by all its viewers, for the calendars.
        Arc::new(crate::calendar::renderings::Renderer),
        // Invitations, updates, cancellations, confirmations, answers: queued in the outbox.
        Arc::new(MailNotifier::new(mail.clone())),
        // Reminder rows before each meeting.
        Arc::new(ReminderScheduler::new(mail.reminder_minutes.clone())),
    ]
}

/// Builds the state: opens (and migrates) the store, loads secrets, picks the sign-in mode, wires the
/// core's services with the hooks.
pub fn build_state(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let db = Db::open(
        &config.database.path,
        Duration::from_millis(config.database.busy_timeout_ms),
        config.database.read_connections,
    )?;
    let secret = if !config.server.secret.is_empty() {
        config.server.secret.expose().as_bytes().to_vec()
    } else {
        let path = config.server_secret_path();
        load_or_create_secret(&path).map_err(|e| anyhow::anyhow!("server secret {}: {e}", path.display()))?
    };
    let keys = Keys::new(&secret);
    let demo_sessions = Arc::new(DemoSessions::default());
    let directory = Arc::new(DirectoryService::from_config(&config)?);
    let identity: Arc<dyn IdentityProvider> = match config.auth.mode {
        AuthMode::TrustedHeader => {
            Arc::new(TrustedHeaderProvider::from_config(&config.auth).with_directory(directory.clone()))
        }
        AuthMode::Demo => Arc::new(DemoProvider {
            users: config.auth.demo_users.clone(),
            sessions: demo_sessions.clone(),
            clock: clock.clone(),
        }),
    };
    let editors: Arc<dyn crate::identity::EditorPolicy> = match config.auth.editors {
        EditorPolicy::Keyword(EditorKeyword::Directory) => Arc::new(DirectoryEditors(directory.clone())),
        ref policy => Arc::new(StaticEditors::from_config(policy)),
    };
    let jitsi = Arc::new(Jitsi::from_config(&config)?);
    let mail = Arc::new(MailSettings::from_config(&config)?.with_directory(directory.clone()));
    let mailer = crate::mailer::from_config(&config)?;
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let metrics_access = Arc::new(crate::metrics::ScrapeAccess::from_config(&config)?);
    let presence = crate::presence::Presence::from_config(db.clone(), &config)?;
    let mut hook_list = hook_list(&mail);
    // End-of-meeting warnings (`[xmpp]`): rows written with each booking, posted by a job.
    let warnings = crate::room_warnings::Sender::from_config(&config)?;
    if let Some(w) = &warnings {
        hook_list.push(Arc::new(w.scheduler()));
        tracing::info!(notifier = w.notifier.name(), minutes = ?w.minutes, "room warnings before the end of meetings");
    }
    // Bookings, joins and answers for `/metrics`.
    hook_list.push(Arc::new(crate::metrics::MetricsHook(metrics.clone())));
    let hooks = Hooks::new(hook_list);
    tracing::debug!(hooks = ?hooks, "booking hooks");
    let bookings = Bookings::new(db.clone(), hooks.clone(), config.public_host())
        .with_hourly_limit(config.booking.max_bookings_per_hour)
        .with_start_grace(config.booking.start_grace());
    let users = Users::new(db.clone(), hooks);
    let config = Arc::new(config);
    let calendars = Arc::new(CalendarStore::new(db.clone(), config.clone(), clock.clone()));
    Ok(AppState::new(crate::state::Services {
        config,
        db,
        bookings,
        users,
        calendars,
        identity,
        editors,
        directory,
        jitsi,
        clock,
        keys,
        mail,
        mailer,
        demo_sessions,
        metrics,
        metrics_access,
        presence,
        warnings,
    }))
}

/// The default state: system clock.
pub fn build_default_state(config: Config) -> anyhow::Result<AppState> {
    build_state(config, Arc::new(SystemClock))
}

/// What the background jobs need from the state.
pub fn job_deps(state: &AppState) -> crate::jobs::JobDeps {
    crate::jobs::JobDeps {
        db: state.db.clone(),
        config: state.config.clone(),
        clock: state.clock.clone(),
        mail: state.mail.clone(),
        transport: state.mailer.clone(),
        warnings: state.warnings.clone(),
    }
}

/// Request bodies above this are refused with 413 (forms and JSON are small).
pub const BODY_LIMIT: usize = 256 * 1024;

pub fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .merge(crate::pages::router())
        .merge(crate::feed::router())
        .route("/healthz", get(healthz))
        .route("/metrics", get(crate::web::metrics::scrape))
        .route("/lang", post(set_language))
        .route("/assets/{name}", get(assets::serve));
    if state.config.auth.mode == AuthMode::Demo {
        app = app.route("/login", get(demo::login_page).post(demo::login_submit)).route("/logout", post(demo::logout));
        // Mails carry personal links: the page that shows them all exists for the demo only.
        if state.config.mail.transport == crate::config::MailTransportKind::Mailbox {
            app = app
                .route("/mailbox", get(crate::pages::mailbox::page))
                .route("/mailbox/{file}", get(crate::pages::mailbox::eml));
        }
    }
    // Prosody's event_sync webhooks: not routed at all without `[presence]`.
    if state.presence.is_some() {
        app = app.merge(crate::web::event_sync::router());
    }
    let timeout = Duration::from_secs(state.config.server.request_timeout_seconds);
    let dav = dav_router(&state);
    app.merge(crate::api::router())
        .fallback(fallback)
        .with_state(state.clone())
        // CalDAV has its own state and answers every method on its paths (and PROPFIND on `/`).
        .merge(dav)
        .layer(middleware::from_fn_with_state(state.clone(), error::render_error_pages))
        .layer(middleware::from_fn_with_state(state.clone(), csrf::ensure_cookie))
        .layer(middleware::from_fn(security::headers))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        // Per route (after routing), so the route template is known.
        .layer(middleware::from_fn_with_state(state.metrics.clone(), crate::web::metrics::track))
        .layer(crate::telemetry::trace_layer())
}

/// The CalDAV server over the calendar store.
fn dav_router(state: &AppState) -> Router {
    let config = &state.config;
    let dav = crate::caldav::DavConfig {
        calendar_name: config.calendar_name(),
        calendar_description: if config.calendar.description.is_empty() {
            config.calendar_name()
        } else {
            config.calendar.description.clone()
        },
        color: config.calendar.color.clone(),
        sync_token_prefix: format!("{}/ns/sync/", config.public_base()),
        prodid: config.calendar_prodid(),
        max_answer_bytes: crate::caldav::DEFAULT_MAX_ANSWER_BYTES,
        answer_cache_bytes: config.calendar.answer_cache_bytes(),
    };
    crate::caldav::router(state.calendars.clone() as Arc<dyn crate::caldav::CalendarBackend>, Arc::new(dav))
        .layer(middleware::from_fn(calendar_request))
}

/// Each CalDAV request reads the user's calendar from the store at most once (see
/// [`crate::calendar::store::request_scope`]).
async fn calendar_request(req: axum::extract::Request, next: middleware::Next) -> axum::response::Response {
    crate::calendar::store::request_scope(next.run(req)).await
}

async fn fallback() -> PageError {
    PageError::not_found("error-not-found")
}

/// `200 ok` while the store answers reads and can commit a write; `503` otherwise (a database that
/// became read-only, a full disk, a lock held elsewhere: every booking would fail).
async fn healthz(State(state): State<AppState>) -> Response {
    if let Err(e) = state.db.ping().await {
        tracing::error!(error.message = %e, "health check: store does not answer");
        return (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response();
    }
    match state.db.check_writable().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error.message = %e, "health check: store cannot write");
            (StatusCode::SERVICE_UNAVAILABLE, "store cannot write\n").into_response()
        }
    }
}

#[derive(Deserialize)]
struct LangForm {
    lang: String,
    next: Option<String>,
    #[serde(default)]
    csrf: String,
}

impl CarriesCsrf for LangForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
    // A browser preference, switched from every page (signed-in or not) and posted to a public path,
    // where the proxy strips identity headers.
    const BINDING: Binding = Binding::Browser;
}

/// Remembers the chosen language in a cookie, and for a signed-in user in the store (their mails). A
/// form like any other: without the CSRF token, nothing is set.
async fn set_language(
    State(state): State<AppState>,
    user: Result<SignedIn, crate::auth::extract::AuthRejection>,
    CheckedForm(form): CheckedForm<LangForm>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(&form.lang).ok_or_else(|| PageError::BadRequest("language must be fr or en".into()))?;
    // A signed-in user's choice also decides the language of the mails jmb sends them.
    if let Ok(user) = user {
        state.users.set_lang(&user.identity, lang, state.clock.now()).await?;
    }
    let mut resp = Redirect::to(&crate::web::safe_next(form.next.as_deref())).into_response();
    cookies::set(resp.headers_mut(), LANG_COOKIE, lang.code(), state.config.public_is_https(), Some(365 * 86400));
    Ok(resp)
}
