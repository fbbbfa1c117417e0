//! CSRF protection for every state-changing form: a random per-browser value in an HttpOnly cookie, and
//! in each form an HMAC of that value under the server key. A forged cross-site post cannot read the
//! cookie, so it cannot produce the token. The cookie is SameSite=Lax as a second line of defence.

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use super::cookies;
use crate::state::AppState;
use crate::web::PageError;

pub const CSRF_COOKIE: &str = "jmb_csrf";
const PURPOSE: &str = "csrf";

/// The browser's CSRF seed for this request (from its cookie, or new).
#[derive(Debug, Clone)]
struct Seed(String);

/// Gives handlers the token to put in their forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl FromRequestParts<AppState> for CsrfToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let seed = parts.extensions.get::<Seed>().map(|s| s.0.clone());
        Ok(CsrfToken(token_for(state, &parts.headers, seed.as_deref())))
    }
}

/// A form that carries a CSRF token in a field.
pub trait CarriesCsrf {
    fn csrf(&self) -> &str;
}

/// A form body whose CSRF token was checked: 400 when the body cannot be read, 403 (logged) when the
/// token is missing or wrong, in which case nothing is changed.
pub struct CheckedForm<T>(pub T);

impl<T> FromRequest<AppState> for CheckedForm<T>
where
    T: serde::de::DeserializeOwned + CarriesCsrf + Send,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let path = req.uri().path().to_string();
        let Form(form) = Form::<T>::from_request(req, state).await.map_err(|e| PageError::BadRequest(e.body_text()))?;
        if !verify(state, &headers, form.csrf()) {
            tracing::info!(target: "audit", path = %crate::telemetry::redact_path(&path), decision = "DENIED", "form refused: bad CSRF token");
            return Err(PageError::Csrf);
        }
        Ok(CheckedForm(form))
    }
}

/// The token for forms on a page answered with these request headers (`fresh_seed`: the seed cookie
/// set on this very response, when the browser had none).
pub fn token_for(state: &AppState, headers: &HeaderMap, fresh_seed: Option<&str>) -> String {
    let seed = fresh_seed.map(str::to_string).or_else(|| cookies::get(headers, CSRF_COOKIE)).unwrap_or_default();
    state.keys.sign(PURPOSE, &seed)
}

/// Checks a submitted token against the request's cookie.
pub fn verify(state: &AppState, headers: &HeaderMap, submitted: &str) -> bool {
    match cookies::get(headers, CSRF_COOKIE) {
        Some(seed) if seed.len() >= 16 => state.keys.verify(PURPOSE, &seed, submitted),
        _ => false,
    }
}

/// Ensures every browser has a CSRF seed cookie.
pub async fn ensure_cookie(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // Calendar clients and the API never post forms: no cookie for them.
    if ["/dav", "/.well-known", "/ical", "/api/"].iter().any(|p| path.starts_with(p)) {
        return next.run(req).await;
    }
    let existing = cookies::get(req.headers(), CSRF_COOKIE).filter(|s| s.len() >= 16 && s.len() <= 64);
    let fresh = existing.is_none().then(crate::secrets::token);
    if let Some(seed) = &fresh {
        req.extensions_mut().insert(Seed(seed.clone()));
    }
    let mut resp = next.run(req).await;
    if let Some(seed) = fresh {
        cookies::set(resp.headers_mut(), CSRF_COOKIE, &seed, state.config.public_is_https(), None);
    }
    resp
}
