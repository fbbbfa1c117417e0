//! The calendar access page (`/calendar`): the feed address (https and webcal), the CalDAV address and
//! user name, a button that generates a new calendar password (shown once, stored as a SHA-256 hash;
//! the previous one stops working) and one that replaces the feed secret (the old address answers 410).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::SignedIn;
use crate::state::AppState;
use crate::web::csrf::{CarriesCsrf, CheckedForm, CsrfToken};
use crate::web::{Chrome, PageError, cookies, html};

/// The addresses shown to a user.
pub struct CalendarLinks {
    pub feed_https: String,
    pub feed_webcal: String,
    pub dav_url: String,
    pub dav_user: String,
    pub has_password: bool,
}

/// Reads (creating the user row if needed) the user's calendar addresses.
pub async fn links_for(state: &AppState, user: &SignedIn) -> Result<CalendarLinks, PageError> {
    state.users.remember(&user.identity, state.clock.now()).await?;
    let row = state.users.get(&user.identity.uid).await?;
    let token = row.as_ref().and_then(|u| u.feed_token.clone()).unwrap_or_default();
    let feed_https = state.url(&format!("/ical/{token}.ics"));
    let feed_webcal = feed_https.replacen("https://", "webcal://", 1).replacen("http://", "webcal://", 1);
    Ok(CalendarLinks {
        feed_https,
        feed_webcal,
        dav_url: state.url("/dav/"),
        dav_user: user.identity.uid.clone(),
        has_password: row.is_some_and(|u| u.has_calendar_password),
    })
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    links: CalendarLinks,
    new_password: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct CalendarQuery {
    /// What the previous POST did: `password` or `feed` (other words are ignored).
    done: Option<String>,
}

/// The cookie that carries a new calendar password from the POST that made it to the one page that
/// shows it (POST, redirect, show once): a reload of that page neither mints another password nor
/// shows this one again. Signed with the user's uid, so a planted cookie shows nothing; `__Host-` on
/// https; gone after one display or five minutes.
fn once_cookie(state: &AppState) -> &'static str {
    if state.config.public_is_https() { "__Host-jmb_calpw" } else { "jmb_calpw" }
}

const ONCE_PURPOSE: &str = "calendar-password-once";

/// `GET /calendar`: the addresses; once after a new password, that password.
pub async fn page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    query: Result<axum::extract::Query<CalendarQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let tr = state.tr(&headers);
    let done = query.ok().and_then(|q| q.0.done);
    let carried = cookies::get(&headers, once_cookie(&state));
    let password = carried.as_deref().and_then(|v| v.split_once('.')).and_then(|(password, sig)| {
        state.keys.verify(ONCE_PURPOSE, &format!("{}|{password}", user.identity.uid), sig).then(|| password.to_string())
    });
    let notice = match done.as_deref() {
        Some("password") if password.is_some() => Some(tr.t("calendar-password-new")),
        Some("feed") => Some(tr.t("calendar-feed-replaced")),
        _ => None,
    };
    let mut resp = render(&state, &user, &headers, &csrf, password, notice).await?;
    if carried.is_some() {
        cookies::set(resp.headers_mut(), once_cookie(&state), "", state.config.public_is_https(), Some(0));
    }
    resp.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn render(
    state: &AppState,
    user: &SignedIn,
    headers: &HeaderMap,
    csrf: &CsrfToken,
    new_password: Option<String>,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let tr = state.tr(headers);
    let links = links_for(state, user).await?;
    let page = CalendarPage {
        chrome: Chrome::new(state, tr, tr.t("calendar-title"), Some(&user.identity), csrf, "/calendar"),
        links,
        new_password,
        notice,
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Generates a new calendar password and stores its hash; the page it redirects to shows it once.
pub async fn new_password(
    State(state): State<AppState>,
    user: SignedIn,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, PageError> {
    let password = state.users.new_calendar_password(&user.identity, state.clock.now()).await?;
    tracing::info!(target: "audit", uid = %user.identity.uid, "calendar password replaced");
    let sig = state.keys.sign(ONCE_PURPOSE, &format!("{}|{password}", user.identity.uid));
    let mut resp = Redirect::to("/calendar?done=password").into_response();
    cookies::set(
        resp.headers_mut(),
        once_cookie(&state),
        &format!("{password}.{sig}"),
        state.config.public_is_https(),
        Some(300),
    );
    Ok(resp)
}

/// Replaces the feed secret; the old address answers 410 from now on.
pub async fn replace_feed(
    State(state): State<AppState>,
    user: SignedIn,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, PageError> {
    state.users.replace_feed_token(&user.identity, state.clock.now()).await?;
    tracing::info!(target: "audit", uid = %user.identity.uid, "feed address replaced");
    Ok(Redirect::to("/calendar?done=feed").into_response())
}

impl CarriesCsrf for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
