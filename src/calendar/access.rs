//! The calendar access page (`/calendar`): the feed address (https and webcal), the CalDAV address and
//! user name, a button that generates a new calendar password (shown once, stored as a SHA-256 hash;
//! the previous one stops working) and one that replaces the feed secret (the old address answers 410).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rusqlite::OptionalExtension;
use serde::Deserialize;

use super::changes;
use super::store::password_hash;
use crate::booking::service::{self, BookingError};
use crate::db::DbError;
use crate::identity::SignedIn;
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
    service::remember_user(&state.db, &user.identity, state.clock.now()).await?;
    let uid = user.identity.uid.clone();
    let (token, has_password) = state
        .db
        .read(move |c| -> Result<_, DbError> {
            Ok(c.query_row("SELECT feed_token, dav_password_hash IS NOT NULL FROM users WHERE uid = ?1", [&uid], |r| {
                Ok((r.get::<_, Option<String>>(0)?, r.get::<_, bool>(1)?))
            })
            .optional()?)
        })
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?
        .map(|(t, p)| (t.unwrap_or_default(), p))
        .unwrap_or_default();
    let feed_https = state.url(&format!("/ical/{token}.ics"));
    let feed_webcal = feed_https.replacen("https://", "webcal://", 1).replacen("http://", "webcal://", 1);
    Ok(CalendarLinks {
        feed_https,
        feed_webcal,
        dav_url: state.url("/dav/"),
        dav_user: user.identity.uid.clone(),
        has_password,
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
    render(&state, &user, &headers, csrf.0, None, None).await
}

async fn render(
    state: &AppState,
    user: &SignedIn,
    headers: &HeaderMap,
    csrf: String,
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
    service::remember_user(&state.db, &user.identity, state.clock.now()).await?;
    let password = crate::secrets::token();
    let hash = password_hash(&password);
    let uid = user.identity.uid.clone();
    state
        .db
        .write(move |tx| -> Result<_, BookingError> {
            tx.execute("UPDATE users SET dav_password_hash = ?2 WHERE uid = ?1", [&uid, &hash])?;
            Ok(())
        })
        .await?;
    state.calendars.forget_password(&user.identity.uid);
    tracing::info!(target: "audit", uid = %user.identity.uid, "calendar password replaced");
    let tr = state.tr(&headers);
    render(&state, &user, &headers, csrf.0, Some(password), Some(tr.t("calendar-password-new"))).await
}

/// Replaces the feed secret; the old address answers 410 from now on.
pub async fn replace_feed(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    service::remember_user(&state.db, &user.identity, now).await?;
    let uid = user.identity.uid.clone();
    let token = crate::secrets::token();
    state
        .db
        .write(move |tx| -> Result<_, BookingError> {
            let old: Option<String> =
                tx.query_row("SELECT feed_token FROM users WHERE uid = ?1", [&uid], |r| r.get(0))?;
            if let Some(old) = old {
                tx.execute(
                    "INSERT OR IGNORE INTO revoked_feed_tokens (token, revoked_at) VALUES (?1, ?2)",
                    rusqlite::params![old, crate::booking::repo::ts(now)],
                )?;
            }
            tx.execute("UPDATE users SET feed_token = ?2 WHERE uid = ?1", [&uid, &token])?;
            changes::reset(tx, &uid)?;
            Ok(())
        })
        .await?;
    tracing::info!(target: "audit", uid = %user.identity.uid, "feed address replaced");
    let tr = state.tr(&headers);
    render(&state, &user, &headers, csrf.0, None, Some(tr.t("calendar-feed-replaced"))).await
}

impl CarriesCsrf for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
