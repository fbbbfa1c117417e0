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
/// shows this one again. Sent by the browser to `/calendar` only (not to the rest of the site, Jitsi's
/// paths included), never cross-site, and signed with the user's uid and its expiry, so a planted or
/// copied cookie shows nothing after five minutes; deleted after one display.
const ONCE_COOKIE: &str = "jmb_calpw";
const ONCE_PATH: &str = "/calendar";
const ONCE_PURPOSE: &str = "calendar-password-once";
const ONCE_SECONDS: i64 = 300;

/// `expiry.password.signature`, the signature over the uid, the expiry and the password.
fn once_value(state: &AppState, uid: &str, password: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let expiry = now.timestamp() + ONCE_SECONDS;
    let sig = state.keys.sign(ONCE_PURPOSE, &format!("{uid}|{expiry}|{password}"));
    format!("{expiry}.{password}.{sig}")
}

/// The password a [`once_value`] carries, if it is this user's and not expired.
fn once_password(state: &AppState, uid: &str, value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let (expiry, rest) = value.split_once('.')?;
    let (password, sig) = rest.rsplit_once('.')?;
    let fresh = expiry.parse::<i64>().ok().is_some_and(|e| e >= now.timestamp() && e <= now.timestamp() + ONCE_SECONDS);
    (fresh && state.keys.verify(ONCE_PURPOSE, &format!("{uid}|{expiry}|{password}"), sig)).then(|| password.to_string())
}

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
    let carried = cookies::get(&headers, ONCE_COOKIE);
    let password = carried.as_deref().and_then(|v| once_password(&state, &user.identity.uid, v, state.clock.now()));
    let notice = match done.as_deref() {
        Some("password") if password.is_some() => Some(tr.t("calendar-password-new")),
        Some("feed") => Some(tr.t("calendar-feed-replaced")),
        _ => None,
    };
    let mut resp = render(&state, &user, &headers, &csrf, password, notice).await?;
    if carried.is_some() {
        cookies::set_for_page(resp.headers_mut(), ONCE_COOKIE, "", state.config.public_is_https(), 0, ONCE_PATH);
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
    let value = once_value(&state, &user.identity.uid, &password, state.clock.now());
    let mut resp = Redirect::to("/calendar?done=password").into_response();
    cookies::set_for_page(
        resp.headers_mut(),
        ONCE_COOKIE,
        &value,
        state.config.public_is_https(),
        ONCE_SECONDS,
        ONCE_PATH,
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
