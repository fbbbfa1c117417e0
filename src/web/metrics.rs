//! `GET /metrics` and the request instrumentation (the edge of [`crate::metrics`]).
//!
//! Who may read the metrics: a peer on this machine that did not come through a proxy (loopback TCP
//! or the unix socket, without `X-Forwarded-For`/`Forwarded`: the reverse proxy adds those, so a
//! public request relayed by nginx or Apache never counts as local), a peer whose address is in
//! `metrics.allow`, or a request with `Authorization: Bearer <metrics.token_file>`. Everyone else gets
//! the same 404 as any unknown path, so the endpoint is not even disclosed.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use crate::auth::Peer;
use crate::config::{Config, ConfigError};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::web::PageError;

/// Who may scrape.
pub struct MetricsAccess {
    allow: Vec<IpNet>,
    token: Option<String>,
}

impl MetricsAccess {
    /// Reads `metrics.token_file` (at least 32 bytes, like every secret of jmb).
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let token = match &config.metrics.token_file {
            Some(path) => Some(read_token(path)?),
            None => None,
        };
        Ok(Self { allow: config.metrics.allow.clone(), token })
    }

    /// Whether a request from `peer` with `headers` may read the metrics.
    pub fn allows(&self, peer: Peer, headers: &HeaderMap) -> bool {
        let proxied = headers.contains_key("x-forwarded-for") || headers.contains_key(header::FORWARDED);
        let local = match peer {
            Peer::Tcp(addr) => addr.ip().is_loopback(),
            Peer::Unix => true,
        };
        if local && !proxied {
            return true;
        }
        if let Peer::Tcp(addr) = peer
            && self.allow.iter().any(|net| net.contains(&addr.ip()))
        {
            return true;
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match (&self.token, given) {
            (Some(want), Some(given)) => bool::from(subtle::ConstantTimeEq::ct_eq(want.as_bytes(), given.as_bytes())),
            _ => false,
        }
    }
}

fn read_token(path: &Path) -> Result<String, ConfigError> {
    let secret = crate::config::read_secret_file("metrics.token_file", path)?;
    crate::config::check_secret_strength("metrics.token_file", &secret)?;
    Ok(secret.expose().trim().to_string())
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>, req: Request) -> Result<Response, PageError> {
    let (parts, _) = req.into_parts();
    if !state.metrics_access.allows(crate::auth::peer_of(&parts), &parts.headers) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_scrape() {
        let access = MetricsAccess { allow: vec!["192.0.2.7/32".parse().unwrap()], token: Some("t".repeat(32)) };
        let peer = |ip: &str| Peer::Tcp(std::net::SocketAddr::new(ip.parse().unwrap(), 4000));
        let none = HeaderMap::new();
        let mut proxied = HeaderMap::new();
        proxied.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        let mut bearer = HeaderMap::new();
        bearer.insert(header::AUTHORIZATION, format!("Bearer {}", "t".repeat(32)).parse().unwrap());
        let mut wrong = HeaderMap::new();
        wrong.insert(header::AUTHORIZATION, "Bearer nope".parse().unwrap());

        assert!(access.allows(peer("127.0.0.1"), &none));
        assert!(access.allows(peer("::1"), &none));
        assert!(access.allows(Peer::Unix, &none));
        assert!(!access.allows(peer("127.0.0.1"), &proxied), "relayed by the proxy: public");
        assert!(!access.allows(Peer::Unix, &proxied));
        assert!(access.allows(peer("192.0.2.7"), &none), "a configured scraper");
        assert!(!access.allows(peer("192.0.2.8"), &none));
        assert!(access.allows(peer("198.51.100.1"), &bearer));
        assert!(access.allows(peer("127.0.0.1"), &{
            let mut h = proxied.clone();
            h.extend(bearer.clone());
            h
        }));
        assert!(!access.allows(peer("198.51.100.1"), &wrong));
        let no_token = MetricsAccess { allow: vec![], token: None };
        assert!(!no_token.allows(peer("198.51.100.1"), &bearer));
    }
}
