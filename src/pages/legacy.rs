//! The original JMB's URLs, which sit in mailboxes and calendars: `/token.cgi?room=`, `/join.cgi?id=`,
//! `/invitation.cgi?accept&id=` (now a confirmation page: no change on GET), `/booking.cgi?…` and
//! `/close.cgi`. Their query shape is the original's: a bare action word before the first `&`, then
//! `key=value` items.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::links;
use crate::auth::SignedIn;
use crate::state::AppState;
use crate::web::csrf::CsrfToken;
use crate::web::{PageError, cookies};

/// Set on jmb's own pages so `/close.cgi` can send UI users back to their list.
pub const UI_COOKIE: &str = "jmb_ui";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/token.cgi", get(token_cgi))
        .route("/join.cgi", get(join_cgi))
        .route("/invitation.cgi", get(invitation_cgi))
        .route("/booking.cgi", get(booking_cgi).post(booking_cgi_post))
        .route("/close.cgi", get(close))
        .route("/close", get(close))
}

/// A legacy query: the bare action word, then `key=value` items.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LegacyQuery {
    pub action: Option<String>,
    pub params: Vec<(String, String)>,
}

impl LegacyQuery {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut q = LegacyQuery::default();
        for (i, item) in raw.unwrap_or_default().split('&').enumerate() {
            if item.is_empty() {
                continue;
            }
            match item.split_once('=') {
                Some(_) => {
                    if let Some((k, v)) = form_urlencoded::parse(item.as_bytes()).next() {
                        q.params.push((k.into_owned(), v.into_owned()));
                    }
                }
                None if i == 0 => q.action = Some(item.to_string()),
                None => {}
            }
        }
        q
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }
}

async fn token_cgi(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    let q = LegacyQuery::parse(q.as_deref());
    let room = q.get("room").ok_or_else(|| PageError::BadRequest("room is missing".into()))?;
    links::enter_room(&state, &user, &headers, &csrf, room, "/token.cgi").await
}

async fn join_cgi(
    State(state): State<AppState>,
    headers: HeaderMap,
    csrf: CsrfToken,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    let q = LegacyQuery::parse(q.as_deref());
    let token = q.get("id").ok_or(PageError::not_found("error-not-found"))?;
    links::join_with_token(&state, &headers, &csrf, token, "/join.cgi").await
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn invitation_cgi(RawQuery(q): RawQuery) -> Result<Response, PageError> {
    let q = LegacyQuery::parse(q.as_deref());
    let token = q.get("id").ok_or(PageError::not_found("error-not-found"))?;
    let suggestion = match q.action.as_deref() {
        Some("accept") => "?answer=accept",
        Some("decline") => "?answer=decline",
        _ => "",
    };
    Ok(Redirect::to(&format!("/rsvp/{}{suggestion}", encode(token))).into_response())
}

/// `/booking.cgi?<action>&id=…`: the list, the forms and the attendee page, at their new addresses.
async fn booking_cgi(RawQuery(q): RawQuery) -> Response {
    let q = LegacyQuery::parse(q.as_deref());
    let target = match (q.action.as_deref(), q.get("id")) {
        (Some("new"), _) => "/meetings/new".to_string(),
        (Some("edit"), Some(id)) => format!("/meetings/{}/edit", encode(id)),
        (Some("attendees"), Some(id)) => format!("/meetings/{}/attendees", encode(id)),
        _ => "/meetings".to_string(),
    };
    Redirect::to(&target).into_response()
}

/// Old forms posted here; nothing is changed, the user lands on the list.
async fn booking_cgi_post() -> Response {
    Redirect::to("/meetings").into_response()
}

/// After a call Jitsi sends people to `/`, which the proxy points here: UI users go back to their
/// list, everyone else to the configured page. (The original decided on the Referer; jmb does not.)
async fn close(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let from_ui = cookies::get(&headers, UI_COOKIE).is_some();
    let target = match (&state.config.server.close_redirect, from_ui) {
        (Some(url), false) if !url.is_empty() => url.clone(),
        // The list lives at `/meetings` too: behind the Jitsi vhost, `/` itself points to `/close.cgi`.
        _ => "/meetings".to_string(),
    };
    Redirect::to(&target).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_query_shapes() {
        let q = LegacyQuery::parse(Some("accept&id=AbC123"));
        assert_eq!(q.action.as_deref(), Some("accept"));
        assert_eq!(q.get("id"), Some("AbC123"));
        let q = LegacyQuery::parse(Some("room=abcdefghijklmnop"));
        assert_eq!(q.action, None);
        assert_eq!(q.get("room"), Some("abcdefghijklmnop"));
        let q = LegacyQuery::parse(Some("edit&id=1708712345123456789&x"));
        assert_eq!(q.action.as_deref(), Some("edit"));
        assert_eq!(q.get("id"), Some("1708712345123456789"));
        assert_eq!(LegacyQuery::parse(None), LegacyQuery::default());
        assert_eq!(LegacyQuery::parse(Some("id=")).get("id"), None);
    }
}
