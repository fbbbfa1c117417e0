//! The calendar access page (`/calendar`): the feed address (https and webcal), the CalDAV address and
//! user name, a button that generates a new calendar password (shown once, stored as a SHA-256 hash;
//! the previous one stops working) and one that replaces the feed secret (the old address answers 410).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::auth::SignedIn;
use crate::state::AppState;
use crate::web::csrf::{CarriesCsrf, CheckedForm, CsrfToken};
use crate::web::{Chrome, PageError, html};

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

pub async fn page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    render(&state, &user, &headers, &csrf, None, None).await
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

/// Generates a new calendar password, shows it once, stores its hash.
pub async fn new_password(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, PageError> {
    let password = state.users.new_calendar_password(&user.identity, state.clock.now()).await?;
    tracing::info!(target: "audit", uid = %user.identity.uid, "calendar password replaced");
    let tr = state.tr(&headers);
    render(&state, &user, &headers, &csrf, Some(password), Some(tr.t("calendar-password-new"))).await
}

/// Replaces the feed secret; the old address answers 410 from now on.
pub async fn replace_feed(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, PageError> {
    state.users.replace_feed_token(&user.identity, state.clock.now()).await?;
    tracing::info!(target: "audit", uid = %user.identity.uid, "feed address replaced");
    let tr = state.tr(&headers);
    render(&state, &user, &headers, &csrf, None, Some(tr.t("calendar-feed-replaced"))).await
}

impl CarriesCsrf for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
