//! Errors of page handlers, rendered as plain pages in the caller's language.
//!
//! A handler returns [`PageError`]; its response carries the error as an extension, and the
//! [`render_error_pages`] middleware, which knows the request's language and the state, turns it into
//! the page. Refusals of the core ([`BookingError`]) keep their own status and message. Internal errors
//! are logged once here (with personal tokens redacted from the path) and never shown.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Chrome, MessagePage, html};
use crate::booking::BookingError;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub enum PageError {
    /// A refusal with its status and catalogue message (404, 403, 409, 410, 429…), and for a
    /// refusal that passes with time, when to try again (sent as `Retry-After`).
    Refused {
        status: StatusCode,
        message: &'static str,
        args: Vec<(&'static str, String)>,
        /// For a refusal that passes with time (429): sent as `Retry-After`.
        retry_after: Option<u64>,
    },
    Unauthorized,
    BadRequest(String),
    /// A form body past the size limit (413).
    TooLarge,
    Csrf,
    Internal(String),
}

impl PageError {
    pub fn refused(status: StatusCode, message: &'static str) -> Self {
        PageError::Refused { status, message, args: Vec::new(), retry_after: None }
    }

    pub fn not_found(message: &'static str) -> Self {
        Self::refused(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden(message: &'static str) -> Self {
        Self::refused(StatusCode::FORBIDDEN, message)
    }

    pub fn forbidden_with(message: &'static str, args: Vec<(&'static str, String)>) -> Self {
        PageError::Refused { status: StatusCode::FORBIDDEN, message, args, retry_after: None }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            PageError::Refused { status, .. } => *status,
            PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::Unauthorized => StatusCode::UNAUTHORIZED,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<BookingError> for PageError {
    fn from(e: BookingError) -> Self {
        if e.is_internal() {
            return PageError::Internal(e.to_string());
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        PageError::Refused { status, message: e.message_id(), args: e.args(), retry_after: e.retry_after_seconds() }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut resp = self.status().into_response();
        if let PageError::Refused { retry_after, .. } = &self {
            super::set_retry_after(&mut resp, *retry_after);
        }
        resp.extensions_mut().insert(self);
        resp
    }
}

/// The page title for a refusal's status.
fn title_id(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "error-not-found-title",
        StatusCode::GONE => "error-gone-title",
        StatusCode::FORBIDDEN => "error-forbidden-title",
        StatusCode::CONFLICT => "error-conflict-title",
        StatusCode::BAD_REQUEST => "error-bad-request-title",
        StatusCode::PAYLOAD_TOO_LARGE => "error-too-large-title",
        StatusCode::TOO_MANY_REQUESTS => "error-too-many-title",
        _ => "error-internal-title",
    }
}

/// Where an error page sends its reader, so that no one is left at a dead end: a signed-in user to
/// their list; a guest who came through a personal link (`/j/{token}`, `/rsvp/{token}`) that still
/// names an invitation to its answer page; anyone else nowhere (the page says where the way in is:
/// the invitation mail), never to a sign-in page a guest cannot pass.
async fn way_on(state: &AppState, tr: &crate::i18n::Tr, signed_in: bool, path: &str) -> Option<(String, String)> {
    if signed_in {
        return Some(("/meetings".to_string(), tr.t("error-back-home")));
    }
    let rest = path.strip_prefix("/j/").or_else(|| path.strip_prefix("/rsvp/"))?;
    let token = rest.split('/').next().filter(|t| !t.is_empty() && t.len() <= 128)?;
    match state.bookings.by_token(token).await {
        Ok(Some(_)) => Some((format!("/rsvp/{token}"), tr.t("error-back-answer"))),
        _ => None,
    }
}

/// Turns [`PageError`] responses into pages.
pub async fn render_error_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Calendar clients, the feed, the API and webhooks answer in their own formats, never with pages.
    if super::is_not_a_page(req.uri().path()) {
        let mut resp = next.run(req).await;
        if resp.extensions_mut().remove::<PageError>().is_some() {
            // Only the site's fallback gets here (an unknown `/ical…` or `/prosody/…` path): a short text.
            let status = resp.status();
            return (status, status.canonical_reason().unwrap_or("error")).into_response();
        }
        return resp;
    }
    let here = req.uri().path().to_string();
    // Kept to build the page (language, the language switch's form token, whether the caller is signed
    // in) only when one is due: a request that succeeds pays for these copies, not for the rest.
    let (headers, extensions) = (req.headers().clone(), req.extensions().clone());
    let mut resp = next.run(req).await;
    let Some(err) = resp.extensions_mut().remove::<PageError>() else {
        return resp;
    };
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.headers = headers;
    parts.extensions = extensions;
    let asked = Request::from_parts(parts, axum::body::Body::empty());
    let tr = state.tr(asked.headers());
    // The layout of an error page has one form, the language switch (no user is shown).
    let lang_token = super::csrf::browser_token(&asked, &state);
    let csrf = super::csrf::CsrfToken { form: lang_token.clone(), lang: lang_token };
    let (parts, _) = asked.into_parts();
    let signed_in = state.identity.identify(&parts, crate::auth::peer_of(&parts)).await.is_ok();
    let way_on = way_on(&state, &tr, signed_in, &here).await;
    let (title, text) = match &err {
        PageError::Refused { status, message, args, .. } => (tr.t(title_id(*status)), tr.ta(message, args)),
        PageError::Csrf => (tr.t("error-forbidden-title"), tr.t("error-csrf")),
        PageError::Unauthorized => (tr.t("error-unauthorized-title"), tr.t("error-unauthorized")),
        PageError::BadRequest(detail) => {
            (tr.t("error-bad-request-title"), tr.ta("error-bad-request", &[("detail", detail.clone())]))
        }
        PageError::TooLarge => (tr.t("error-too-large-title"), tr.t("error-too-large")),
        PageError::Internal(detail) => {
            let path = crate::telemetry::redact_path(&here);
            tracing::error!(error.message = %detail, %path, "internal error");
            (tr.t("error-internal-title"), tr.t("error-internal"))
        }
    };
    let mut chrome = Chrome::new(&state, tr, title, None, &csrf, &here);
    chrome.home = way_on.as_ref().map(|(href, _)| href.clone());
    let mut paragraphs = vec![text];
    if way_on.is_none() {
        paragraphs.push(tr.t("error-guest-hint"));
    }
    let page = MessagePage { chrome, paragraphs, link: way_on };
    let status = resp.status();
    let mut rendered = html(status, &page);
    if let PageError::Refused { retry_after: Some(seconds), .. } = &err
        && let Ok(v) = axum::http::HeaderValue::from_str(&seconds.to_string())
    {
        rendered.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    // Keep headers the handler set (cookies, for instance).
    for (k, v) in resp.headers() {
        if k != axum::http::header::CONTENT_TYPE && k != axum::http::header::CONTENT_LENGTH {
            rendered.headers_mut().append(k.clone(), v.clone());
        }
    }
    rendered
}
