//! The per-user iCal feed (the edge): `GET /ical/{token}.ics` and the original's `GET /ical.cgi?{hash}`.
//! The secret in the URL is the only credential (Google, Outlook and Nextcloud subscriptions cannot
//! send any). Strong ETag and Last-Modified (when the calendar last changed, so it never goes
//! backwards) with 304 answers; 404 for an unknown secret, 410 for one the user replaced (Thunderbird
//! then stops polling it).

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::calendar::store::FeedLookup;
use crate::conditional;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/ical/{file}", get(by_path)).route("/ical.cgi", get(legacy))
}

async fn by_path(State(state): State<AppState>, headers: HeaderMap, Path(file): Path<String>) -> Response {
    let token = file.strip_suffix(".ics").unwrap_or(&file);
    serve(&state, &headers, token).await
}

async fn legacy(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    serve(&state, &headers, q.as_deref().unwrap_or_default()).await
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

async fn serve(state: &AppState, headers: &HeaderMap, token: &str) -> Response {
    if token.is_empty() || token.len() > 128 {
        return plain(StatusCode::NOT_FOUND, "unknown calendar\n");
    }
    let snapshot = match state.calendars.feed(token).await {
        Ok(FeedLookup::Calendar(snapshot)) => snapshot,
        Ok(FeedLookup::Revoked) => return plain(StatusCode::GONE, "this calendar address was replaced\n"),
        Ok(FeedLookup::Unknown) => return plain(StatusCode::NOT_FOUND, "unknown calendar\n"),
        Err(e) => {
            tracing::error!(error.message = %e, "feed failed");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
        }
    };
    let last_modified = Some(snapshot.last_modified);
    let mut resp = if conditional::not_modified(headers, &snapshot.feed_etag, last_modified) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        snapshot.feed.clone().into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline; filename=\"jmb.ics\""));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    conditional::set_validators(h, &snapshot.feed_etag, last_modified);
    resp
}
