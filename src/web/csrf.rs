//! CSRF protection for every state-changing form: a random per-browser seed in an HttpOnly cookie, and
//! in each form an HMAC of that seed *and of the signed-in identity* under the server key. A forged
//! cross-site post cannot read the cookie, so it cannot produce the token; a cookie and token pair taken
//! from one account (a sibling subdomain can plant a cookie) is worthless for another, because the
//! token names the account. On https the cookie is `__Host-jmb_csrf`: `Secure`, `Path=/`, no `Domain`,
//! which browsers refuse to let any other host set. SameSite=Lax is a further line of defence.
//!
//! Which identity a form is bound to is whatever the request posting it will carry: the signed-in
//! user on signed-in pages, nobody on public ones (the proxy strips identity headers there). The
//! language switch is a browser preference posted to a public path: its token is bound to the browser
//! only ([`Binding::Browser`]), on every page.

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use super::cookies;
use crate::state::AppState;
use crate::web::PageError;

const PURPOSE: &str = "csrf";

/// The name of the seed cookie: `__Host-` on https, where browsers enforce what the prefix promises.
pub fn cookie_name(https: bool) -> &'static str {
    if https { "__Host-jmb_csrf" } else { "jmb_csrf" }
}

/// The browser's CSRF seed for this request, when it is being set on this very response.
#[derive(Debug, Clone)]
struct Seed(String);

/// What a form's token is bound to besides the browser's seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The identity the request carries (none on public pages).
    Identity,
    /// The browser only: the language switch, posted to a public path from every page.
    Browser,
}

/// The tokens for the forms of a page: `form` for the page's own forms (bound to the identity the
/// request carries), `lang` for the language switch in the layout.
#[derive(Debug, Clone)]
pub struct CsrfToken {
    pub form: String,
    pub lang: String,
}

impl FromRequestParts<AppState> for CsrfToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let seed = seed_of(parts, state);
        let uid = bound_uid(parts, state).await;
        Ok(CsrfToken { form: token(state, &seed, Some(&uid)), lang: token(state, &seed, None) })
    }
}

/// A form that carries a CSRF token in a field.
pub trait CarriesCsrf {
    fn csrf(&self) -> &str;
    /// What the token is bound to.
    const BINDING: Binding = Binding::Identity;
}

/// A form body whose CSRF token was checked: 413 when the body is too large, 400 when it cannot be
/// read, 403 (logged) when the token is missing or wrong, in which case nothing is changed. Every
/// refusal is a page in the request's language.
pub struct CheckedForm<T>(pub T);

impl<T> FromRequest<AppState> for CheckedForm<T>
where
    T: serde::de::DeserializeOwned + CarriesCsrf + Send,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (form, valid) = read_form::<T>(req, state).await?;
        if !valid {
            return Err(PageError::Csrf);
        }
        Ok(CheckedForm(form))
    }
}

/// A form body whose CSRF token was checked but not enforced: the handler gets the form and whether
/// the token was good, and must change nothing when it was not. For the answer page, where a phone
/// restoring a tab days later posts a token whose cookie is gone: rather than "access denied", the
/// page comes back with a fresh token and the intended answer to confirm. 413 and 400 as
/// [`CheckedForm`].
pub struct LenientForm<T> {
    pub form: T,
    pub csrf_ok: bool,
}

impl<T> FromRequest<AppState> for LenientForm<T>
where
    T: serde::de::DeserializeOwned + CarriesCsrf + Send,
{
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (form, csrf_ok) = read_form::<T>(req, state).await?;
        Ok(LenientForm { form, csrf_ok })
    }
}

/// Reads a form body and checks its token (a refusal is logged).
async fn read_form<T>(req: Request, state: &AppState) -> Result<(T, bool), PageError>
where
    T: serde::de::DeserializeOwned + CarriesCsrf + Send,
{
    let (parts, body) = req.into_parts();
    let seed = cookies::get(&parts.headers, cookie_name(state.config.public_is_https()));
    let uid = match T::BINDING {
        Binding::Identity => Some(bound_uid(&parts, state).await),
        Binding::Browser => None,
    };
    let path = parts.uri.path().to_string();
    let req = Request::from_parts(parts, body);
    let Form(form) = Form::<T>::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            PageError::TooLarge
        } else {
            PageError::BadRequest(e.body_text())
        }
    })?;
    let valid = seed
        .filter(|s| s.len() >= 16)
        .is_some_and(|seed| state.keys.verify(PURPOSE, &message(&seed, uid.as_deref()), form.csrf()));
    if !valid {
        tracing::info!(target: "audit", path = %crate::telemetry::redact_path(&path), decision = "DENIED", "form refused: bad CSRF token");
    }
    Ok((form, valid))
}

/// The uid a form posted with this request is bound to: the signed-in user's, or empty.
async fn bound_uid(parts: &Parts, state: &AppState) -> String {
    let peer = crate::auth::peer_of(parts);
    state.identity.identify(parts, peer).await.map(|who| who.uid).unwrap_or_default()
}

/// The seed of this request: the one set on this response (a first visit), else the cookie's.
fn seed_of(parts: &Parts, state: &AppState) -> String {
    parts
        .extensions
        .get::<Seed>()
        .map(|s| s.0.clone())
        .or_else(|| cookies::get(&parts.headers, cookie_name(state.config.public_is_https())))
        .unwrap_or_default()
}

/// What is signed: the seed (URL-safe base64, so without `|`), then the uid for an identity-bound
/// token. A browser-bound token has no `|` at all, so the two kinds never coincide.
fn message(seed: &str, uid: Option<&str>) -> String {
    match uid {
        Some(uid) => format!("{seed}|{uid}"),
        None => seed.to_string(),
    }
}

/// The token for `seed`, bound to `uid` (`Some("")`: nobody signed in) or to the browser only (`None`).
pub fn token(state: &AppState, seed: &str, uid: Option<&str>) -> String {
    state.keys.sign(PURPOSE, &message(seed, uid))
}

/// The language switch's token for a page answered to `req`, computed before the handler runs (error
/// pages: their layout has no other form).
pub fn browser_token(req: &Request, state: &AppState) -> String {
    let seed = req
        .extensions()
        .get::<Seed>()
        .map(|s| s.0.clone())
        .or_else(|| cookies::get(req.headers(), cookie_name(state.config.public_is_https())))
        .unwrap_or_default();
    token(state, &seed, None)
}

/// Ensures every browser has a CSRF seed cookie.
pub async fn ensure_cookie(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // Calendar clients, the API and Prosody's webhooks never post forms: no cookie for them.
    if super::is_not_a_page(req.uri().path()) {
        return next.run(req).await;
    }
    let name = cookie_name(state.config.public_is_https());
    let existing = cookies::get(req.headers(), name).filter(|s| s.len() >= 16 && s.len() <= 64);
    let fresh = existing.is_none().then(crate::secrets::token);
    if let Some(seed) = &fresh {
        req.extensions_mut().insert(Seed(seed.clone()));
    }
    let mut resp = next.run(req).await;
    if let Some(seed) = fresh {
        cookies::set(resp.headers_mut(), name, &seed, state.config.public_is_https(), None);
    }
    resp
}
