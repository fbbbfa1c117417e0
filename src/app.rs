//! Builds the application: state from configuration, and the router that merges every feature's routes
//! and adds the shared layers (tracing, timeout, body limit, security headers, CSRF cookie, error pages).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, middleware};
use serde::Deserialize;
use tower_http::timeout::TimeoutLayer;

use crate::calendar::store::CalendarStore;
use crate::clock::{Clock, SystemClock};
use crate::config::{AuthMode, Config};
use crate::db::Db;
use crate::identity::demo::{self, DemoProvider};
use crate::identity::proxy::TrustedHeaderProvider;
use crate::identity::{IdentityProvider, StaticEditors};
use crate::jitsi::Jitsi;
use crate::secrets::{Keys, load_or_create_secret};
use crate::state::AppState;
use crate::web::i18n::{LANG_COOKIE, Lang};
use crate::web::{PageError, assets, csrf, error, security};

/// Builds the state: opens (and migrates) the store, loads secrets, picks the sign-in mode.
pub fn build_state(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let db = Db::open(
        &config.database.path,
        Duration::from_millis(config.database.busy_timeout_ms),
        config.database.read_connections,
    )?;
    let secret = if !config.server.secret.is_empty() {
        config.server.secret.expose().as_bytes().to_vec()
    } else {
        let path = config.server.secret_file.clone().unwrap_or_else(|| config.data_dir().join("secret.key"));
        load_or_create_secret(&path).map_err(|e| anyhow::anyhow!("server secret {}: {e}", path.display()))?
    };
    let keys = Keys::new(&secret);
    let identity: Arc<dyn IdentityProvider> = match config.auth.mode {
        AuthMode::TrustedHeader => Arc::new(TrustedHeaderProvider::from_config(&config.auth)),
        AuthMode::Demo => Arc::new(DemoProvider { users: config.auth.demo_users.clone(), keys: keys.clone() }),
    };
    let editors = Arc::new(StaticEditors::from_config(&config.auth.editors));
    let jitsi = Arc::new(Jitsi::from_config(&config)?);
    let config = Arc::new(config);
    let calendars = Arc::new(CalendarStore::new(db.clone(), config.clone(), clock.clone()));
    Ok(AppState { config, db, identity, editors, jitsi, clock, keys, calendars })
}

/// The default state: system clock.
pub fn build_default_state(config: Config) -> anyhow::Result<AppState> {
    build_state(config, Arc::new(SystemClock))
}

/// Request bodies above this are refused with 413 (forms and JSON are small).
pub const BODY_LIMIT: usize = 256 * 1024;

pub fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .merge(crate::booking::router())
        .merge(crate::calendar::router())
        .route("/healthz", get(healthz))
        .route("/lang", post(set_language))
        .route("/assets/{name}", get(assets::serve));
    if state.config.auth.mode == AuthMode::Demo {
        app = app.route("/login", get(demo::login_page).post(demo::login_submit)).route("/logout", post(demo::logout));
    }
    let timeout = Duration::from_secs(state.config.server.request_timeout_seconds);
    let dav = crate::calendar::dav_router(&state);
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
        .layer(crate::telemetry::trace_layer())
}

async fn fallback() -> PageError {
    PageError::NotFound("error-not-found")
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error.message = %e, "health check: store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

#[derive(Deserialize)]
struct LangForm {
    lang: String,
    next: Option<String>,
}

/// Remembers the chosen language in a cookie (a browser preference, no server state).
async fn set_language(State(state): State<AppState>, Form(form): Form<LangForm>) -> Result<Response, PageError> {
    let lang = Lang::parse(&form.lang).ok_or_else(|| PageError::BadRequest("language must be fr or en".into()))?;
    let mut resp = Redirect::to(&demo::safe_next(form.next.as_deref())).into_response();
    let cookie = csrf::cookie_header(LANG_COOKIE, lang.code(), state.config.public_is_https(), Some(365 * 86400));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}
