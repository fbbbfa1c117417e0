//! Demo sign-in: a page to pick one of the configured demo users, for trying jmb out. The choice is
//! kept in a signed, HttpOnly cookie. The configuration refuses this mode on non-loopback addresses.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{AuthError, IdentityProvider, Peer};
use crate::clock::Clock;
use crate::config::DemoUser;
use crate::identity::{BoxFuture, Identity};
use crate::secrets::Keys;
use crate::state::AppState;
use crate::web::csrf::{CarriesCsrf, CheckedForm, CsrfToken};
use crate::web::{Chrome, PageError, cookies, html, safe_next};

pub const SESSION_COOKIE: &str = "jmb_session";
const PURPOSE: &str = "demo-session";
const SESSION_SECONDS: i64 = 12 * 3600;

pub struct DemoProvider {
    pub users: Vec<DemoUser>,
    pub keys: Keys,
    pub clock: Arc<dyn Clock>,
}

impl DemoProvider {
    /// The cookie value for `uid`, valid until `expires` (Unix seconds).
    pub fn session_value(keys: &Keys, uid: &str, expires: i64) -> String {
        let payload = format!("{uid}.{expires}");
        let sig = keys.sign(PURPOSE, &payload);
        format!("{payload}.{sig}")
    }

    fn read(&self, headers: &HeaderMap) -> Result<Identity, AuthError> {
        let value = cookies::get(headers, SESSION_COOKIE).ok_or(AuthError::Anonymous)?;
        let mut it = value.rsplitn(2, '.');
        let (sig, payload) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
        if !self.keys.verify(PURPOSE, payload, sig) {
            return Err(AuthError::Anonymous);
        }
        let (uid, expires) = payload.rsplit_once('.').ok_or(AuthError::Anonymous)?;
        let expires: i64 = expires.parse().map_err(|_| AuthError::Anonymous)?;
        if expires < self.clock.now().timestamp() {
            return Err(AuthError::Anonymous);
        }
        let user = self.users.iter().find(|u| u.uid == uid).ok_or(AuthError::Anonymous)?;
        Ok(Identity { uid: user.uid.clone(), mail: user.mail.to_lowercase(), name: user.name.clone() })
    }
}

impl IdentityProvider for DemoProvider {
    fn identify<'a>(&'a self, parts: &'a Parts, _peer: Peer) -> BoxFuture<'a, Result<Identity, AuthError>> {
        let result = self.read(&parts.headers);
        Box::pin(async move { result })
    }

    fn login_url(&self, next: &str) -> Option<String> {
        let encoded: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
        Some(format!("/login?next={encoded}"))
    }
}

pub struct LoginUser {
    pub uid: String,
    pub name: String,
    pub mail: String,
    pub editor: bool,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    users: Vec<LoginUser>,
    next: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    csrf: CsrfToken,
    Query(q): Query<NextQuery>,
) -> Response {
    let tr = state.tr(&headers);
    let mut users = Vec::new();
    for u in &state.config.auth.demo_users {
        let id = Identity { uid: u.uid.clone(), mail: u.mail.clone(), name: u.name.clone() };
        let editor = state.editors.is_editor(&id).await;
        users.push(LoginUser { uid: u.uid.clone(), name: u.name.clone(), mail: u.mail.clone(), editor });
    }
    let page = LoginPage {
        chrome: Chrome::new(&state, tr, tr.t("login-title"), None, csrf.0, "/login"),
        users,
        next: safe_next(q.next.as_deref()),
    };
    html(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct LoginForm {
    uid: String,
    csrf: String,
    next: Option<String>,
}

pub async fn login_submit(
    State(state): State<AppState>,
    CheckedForm(form): CheckedForm<LoginForm>,
) -> Result<Response, PageError> {
    if !state.config.auth.demo_users.iter().any(|u| u.uid == form.uid) {
        return Err(PageError::BadRequest("unknown demo user".into()));
    }
    let expires = state.clock.now().timestamp() + SESSION_SECONDS;
    let value = DemoProvider::session_value(&state.keys, &form.uid, expires);
    tracing::info!(target: "audit", uid = %form.uid, "demo sign-in");
    let mut resp = Redirect::to(&safe_next(form.next.as_deref())).into_response();
    cookies::set(resp.headers_mut(), SESSION_COOKIE, &value, state.config.public_is_https(), Some(SESSION_SECONDS));
    Ok(resp)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, PageError> {
    let mut resp = Redirect::to("/login").into_response();
    cookies::set(resp.headers_mut(), SESSION_COOKIE, "", state.config.public_is_https(), Some(0));
    Ok(resp)
}

impl CarriesCsrf for LoginForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CarriesCsrf for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}
