//! Prosody's event_sync webhooks (the edge of [`crate::presence`]): `POST /prosody/events/room/created`,
//! `…/room/destroyed`, `…/occupant/joined` and `…/occupant/left`, routed only with `[presence]`.
//!
//! Who may call: a peer on this machine (loopback, the unix socket), one of `presence.allow` or of
//! `auth.trusted_proxies` (decided by [`crate::auth::Peer::is_in`], as for identity headers), **and** holding the
//! bearer secret (`Authorization: Bearer …`, compared in constant time). Otherwise 403 (401 without any
//! `Authorization`); nothing is read from the body first.
//!
//! Answers are short and never a 500 for anything a caller sends: a body that is not a JSON object is
//! 400, a body above [`BODY_LIMIT`] 413, an unknown room 200 (accepted, ignored). Prosody retries on
//! 5xx only, so the one 5xx is 503 with `Retry-After` when the store cannot take the write within
//! [`WRITE_WAIT`] (busy, or failing): recording is idempotent, so the retry never counts twice.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::presence::{Event, Kind, Outcome};
use crate::state::AppState;

/// Largest body read: a destroyed room lists every occupant it had (about 200 bytes each, more with
/// `include_user_info`), so a few thousand fit.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// How long a webhook waits for the store before answering 503 (Prosody gives up after 20 s).
pub const WRITE_WAIT: Duration = Duration::from_secs(5);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/prosody/events/room/created", post(|s, r| handle(Kind::RoomCreated, s, r)))
        .route("/prosody/events/room/destroyed", post(|s, r| handle(Kind::RoomDestroyed, s, r)))
        .route("/prosody/events/occupant/joined", post(|s, r| handle(Kind::OccupantJoined, s, r)))
        .route("/prosody/events/occupant/left", post(|s, r| handle(Kind::OccupantLeft, s, r)))
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn refused(status: StatusCode, reason: &str) -> Response {
    answer(status, serde_json::json!({ "error": reason }))
}

async fn handle(kind: Kind, State(state): State<AppState>, req: Request) -> Response {
    let Some(presence) = state.presence.clone() else {
        return refused(StatusCode::NOT_FOUND, "not found");
    };
    let (parts, body) = req.into_parts();
    let peer = crate::auth::peer_of(&parts);
    let allowed =
        peer.is_local() || peer.is_in(&state.config.presence.allow) || peer.is_in(&state.config.auth.trusted_proxies);
    if !allowed {
        tracing::warn!(target: "audit", event = kind.as_str(), ?peer, decision = "DENIED", "event_sync from an address that is not allowed");
        return refused(StatusCode::FORBIDDEN, "address not allowed");
    }
    let bearer = parts.headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or_default().trim());
    match bearer {
        None => {
            let mut resp = refused(StatusCode::UNAUTHORIZED, "bearer token required");
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return resp;
        }
        Some(value) => {
            let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim);
            if !token.is_some_and(|t| presence.bearer_matches(t)) {
                tracing::warn!(target: "audit", event = kind.as_str(), ?peer, decision = "DENIED", "event_sync with a wrong bearer token");
                return refused(StatusCode::FORBIDDEN, "wrong bearer token");
            }
        }
    }
    let bytes = match axum::body::to_bytes(Body::new(body), BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!(error.message = %e, "event_sync body refused");
            return refused(StatusCode::PAYLOAD_TOO_LARGE, "body too large or unreadable");
        }
    };
    let event = match Event::parse(kind, &bytes) {
        Ok(e) => e,
        Err(e) => return refused(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let now = state.clock.now();
    match tokio::time::timeout(WRITE_WAIT, presence.record(event, now)).await {
        Ok(Ok(Outcome::Recorded { stays })) => {
            tracing::debug!(event = kind.as_str(), stays, "presence recorded");
            answer(StatusCode::OK, serde_json::json!({ "recorded": stays }))
        }
        Ok(Ok(Outcome::Ignored(why))) => {
            tracing::debug!(event = kind.as_str(), reason = why.as_str(), "presence event ignored");
            answer(StatusCode::OK, serde_json::json!({ "ignored": why.as_str() }))
        }
        Ok(Err(e)) => {
            tracing::error!(event = kind.as_str(), error.message = %e, "presence not recorded; Prosody will retry");
            unavailable()
        }
        Err(_) => {
            tracing::warn!(event = kind.as_str(), "store busy: presence not recorded in time; Prosody will retry");
            unavailable()
        }
    }
}

/// 503 with `Retry-After`: Prosody retries (after its `api_retry_delay`), and recording is idempotent.
fn unavailable() -> Response {
    let mut resp = refused(StatusCode::SERVICE_UNAVAILABLE, "store busy, retry");
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}
