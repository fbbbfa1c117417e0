//! Errors of page handlers, rendered as plain pages in the caller's language.
//!
//! A handler returns [`PageError`]; its response carries the error as an extension, and the
//! [`render_error_pages`] middleware, which knows the request's language and the state, turns it into
//! the page. Internal errors are logged once here and never shown.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Chrome, MessagePage, html};
use crate::booking::service::BookingError;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub enum PageError {
    NotFound(&'static str),
    Gone(Option<String>),
    Forbidden { message: &'static str, args: Vec<(&'static str, String)> },
    Unauthorized,
    Conflict(&'static str),
    BadRequest(String),
    Csrf,
    Internal(String),
}

impl PageError {
    pub fn forbidden(message: &'static str) -> Self {
        PageError::Forbidden { message, args: Vec::new() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Gone(_) => StatusCode::GONE,
            PageError::Forbidden { .. } | PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::Unauthorized => StatusCode::UNAUTHORIZED,
            PageError::Conflict(_) => StatusCode::CONFLICT,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<BookingError> for PageError {
    fn from(e: BookingError) -> Self {
        match e {
            BookingError::NotFound => PageError::NotFound("error-meeting-not-found"),
            BookingError::Forbidden(_) => PageError::forbidden("error-not-owner"),
            BookingError::Conflict("meeting-started") => PageError::Conflict("error-meeting-started"),
            BookingError::Conflict("owner-answers") => PageError::Conflict("error-owner-answers"),
            BookingError::Conflict(_) => PageError::Conflict("error-no-free-identifier"),
            BookingError::Ended => PageError::Gone(None),
            BookingError::Db(e) => PageError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut resp = self.status().into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Turns [`PageError`] responses into pages.
pub async fn render_error_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let tr = state.tr(req.headers());
    let here = req.uri().path().to_string();
    let mut resp = next.run(req).await;
    let Some(err) = resp.extensions_mut().remove::<PageError>() else {
        return resp;
    };
    let (title, text) = match &err {
        PageError::NotFound(m) => (tr.t("error-not-found-title"), tr.t(m)),
        PageError::Gone(Some(subject)) => {
            (tr.t("error-gone-title"), tr.ta("error-gone", &[("subject", subject.clone())]))
        }
        PageError::Gone(None) => (tr.t("error-gone-title"), tr.t("error-gone-plain")),
        PageError::Forbidden { message, args } => {
            let args: Vec<(&str, String)> = args.iter().map(|(k, v)| (*k, v.clone())).collect();
            (tr.t("error-forbidden-title"), tr.ta(message, &args))
        }
        PageError::Csrf => (tr.t("error-forbidden-title"), tr.t("error-csrf")),
        PageError::Unauthorized => (tr.t("error-unauthorized-title"), tr.t("error-unauthorized")),
        PageError::Conflict(m) => (tr.t("error-conflict-title"), tr.t(m)),
        PageError::BadRequest(detail) => {
            (tr.t("error-bad-request-title"), tr.ta("error-bad-request", &[("detail", detail.clone())]))
        }
        PageError::Internal(detail) => {
            tracing::error!(error.message = %detail, path = %here, "internal error");
            (tr.t("error-internal-title"), tr.t("error-internal"))
        }
    };
    let page = MessagePage {
        chrome: Chrome::new(&state, tr, title, None, String::new(), &here),
        paragraphs: vec![text],
        link: Some(("/meetings".to_string(), tr.t("error-back-home"))),
        refresh_seconds: None,
    };
    let status = resp.status();
    let mut rendered = html(status, &page);
    // Keep headers the handler set (cookies, for instance).
    for (k, v) in resp.headers() {
        if k != axum::http::header::CONTENT_TYPE && k != axum::http::header::CONTENT_LENGTH {
            rendered.headers_mut().append(k.clone(), v.clone());
        }
    }
    rendered
}
