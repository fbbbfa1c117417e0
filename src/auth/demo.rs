//! Demo sign-in: a page to pick one of the configured demo users, for trying jmb out. The choice is a
//! session: a random token in an HttpOnly cookie, known to this process ([`DemoSessions`]), so that
//! signing out ends it for good (a stolen cookie stops working too). The configuration refuses this
//! mode on non-loopback addresses.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::sessions::DemoSessions;
use super::{AuthError, IdentityProvider, Peer};
use crate::clock::Clock;
use crate::config::DemoUser;
use crate::identity::{BoxFuture, Identity};
use crate::state::AppState;
use crate::web::csrf::{CarriesCsrf, CheckedForm, CsrfToken};
use crate::web::{Chrome, PageError, cookies, html, safe_next};

pub const SESSION_COOKIE: &str = "jmb_session";
const SESSION_SECONDS: i64 = super::sessions::SESSION_SECONDS;
pub struct DemoProvider {
    pub users: Vec<DemoUser>,
    pub sessions: Arc<DemoSessions>,
    pub clock: Arc<dyn Clock>,
}

impl DemoProvider {
    fn read(&self, headers: &HeaderMap) -> Result<Identity, AuthError> {
        let token = cookies::get(headers, SESSION_COOKIE).ok_or(AuthError::Anonymous)?;
        let uid = self.sessions.uid(&token, self.clock.now().timestamp()).ok_or(AuthError::Anonymous)?;
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
        let editor = state.editors.is_editor(&id).await.unwrap_or(false);
        users.push(LoginUser { uid: u.uid.clone(), name: u.name.clone(), mail: u.mail.clone(), editor });
    }
    let page = LoginPage {
        chrome: Chrome::new(&state, tr, tr.t("login-title"), None, &csrf, "/login"),
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
    let value = state.demo_sessions.open(&form.uid, state.clock.now().timestamp());
    tracing::info!(target: "audit", uid = %form.uid, "demo sign-in");
    let mut resp = Redirect::to(&safe_next(form.next.as_deref())).into_response();
    cookies::set(resp.headers_mut(), SESSION_COOKIE, &value, state.config.public_is_https(), Some(SESSION_SECONDS));
    Ok(resp)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// Signs out: the session ends on the server, not only in this browser.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, PageError> {
    if let Some(token) = cookies::get(&headers, SESSION_COOKIE) {
        state.demo_sessions.close(&token);
    }
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
