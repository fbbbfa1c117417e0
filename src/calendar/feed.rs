//! The per-user iCal feed: `GET /ical/{token}.ics` and the original's `GET /ical.cgi?{hash}`. The secret
//! in the URL is the only credential (Google, Outlook and Nextcloud subscriptions cannot send any).
//! Strong ETag and Last-Modified with 304 answers; 404 for an unknown secret, 410 for one the user
//! replaced (Thunderbird then stops polling it).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::store::FeedLookup;
use crate::state::AppState;

pub async fn by_path(State(state): State<AppState>, headers: HeaderMap, Path(file): Path<String>) -> Response {
    let token = file.strip_suffix(".ics").unwrap_or(&file);
    serve(&state, &headers, token).await
}

pub async fn legacy(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
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
    let last_modified = httpdate(snapshot.last_modified);
    let not_modified = match headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(inm) => inm.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == snapshot.feed_etag
        }),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(&v.replace("GMT", "+0000")).ok())
            .is_some_and(|since| snapshot.last_modified.timestamp() <= since.timestamp()),
    };
    let mut resp =
        if not_modified { StatusCode::NOT_MODIFIED.into_response() } else { snapshot.feed.clone().into_response() };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline; filename=\"jmb.ics\""));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    if let Ok(v) = HeaderValue::from_str(&snapshot.feed_etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&last_modified) {
        h.insert(header::LAST_MODIFIED, v);
    }
    resp
}

/// An HTTP date (RFC 9110 IMF-fixdate).
fn httpdate(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
