//! `GET /metrics` and the request instrumentation (the edge of [`crate::metrics`]): the request's
//! peer, forwarding headers and bearer token are read here and judged by
//! [`crate::metrics::ScrapeAccess`]. Refused scrapers get the same 404 as any unknown path, so the
//! endpoint is not even disclosed.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::Peer;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::web::PageError;

/// Headers that only a proxy adds.
const PROXY_HEADERS: &[&str] =
    &["forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "via"];

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>, req: Request) -> Result<Response, PageError> {
    let (parts, _) = req.into_parts();
    let peer = match crate::auth::peer_of(&parts) {
        Peer::Tcp(addr) => Some(addr.ip()),
        Peer::Unix => None,
    };
    // A reverse proxy adds one of these (Apache's mod_proxy the X-Forwarded-* ones, nginx what its
    // configuration sets, usually X-Forwarded-For or X-Real-IP): a request it relayed is public,
    // whatever its peer address.
    let proxied = PROXY_HEADERS.iter().any(|h| parts.headers.contains_key(*h));
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !state.metrics_access.allows(peer, proxied, bearer) {
        tracing::debug!("metrics refused to a peer that is neither local, allowed nor holding the token");
        return Err(PageError::not_found("error-not-found"));
    }
    let metrics = state.metrics.clone();
    let now = state.clock.now();
    let text = state
        .db
        .read(move |conn| {
            metrics.refresh_from_store(conn, now).map_err(crate::db::DbError::from)?;
            Ok::<_, crate::db::DbError>(metrics.render())
        })
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE), (header::CACHE_CONTROL, "no-store")],
        text,
    )
        .into_response())
}

/// Counts every request by route template, method and status, with its latency.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let route = route.as_deref().unwrap_or("unmatched");
    metrics.observe_request(route, &method, resp.status().as_u16(), started.elapsed());
    resp
}
