//! Logging with `tracing`: an `EnvFilter` (`RUST_LOG`, default `info`), request spans that record the
//! method and the matched route but never the query string or the path's secrets (personal tokens sit
//! in paths and queries), and audit events under the `audit` target.

use axum::extract::MatchedPath;
use axum::http::Request;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=info,hyper_util=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(true).try_init();
}

type MakeSpan = fn(&Request<axum::body::Body>) -> tracing::Span;

/// Spans name the route template (`/j/{token}`), not the concrete path.
pub fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, MakeSpan> {
    let make_span: MakeSpan = |req| {
        let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "-".into());
        tracing::info_span!("request", method = %req.method(), route = %route)
    };
    TraceLayer::new_for_http().make_span_with(make_span).on_response(DefaultOnResponse::new().level(Level::DEBUG))
}

/// A path fit for logs: the segment after `/j/`, `/rsvp/` or `/ical/` is a personal secret.
pub fn redact_path(path: &str) -> String {
    for prefix in ["/j/", "/rsvp/", "/ical/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            return format!("{prefix}…{tail}");
        }
    }
    path.to_string()
}
