//! Static assets (stylesheet, script, logo), embedded in the binary and served with a content hash
//! ETag, so jmb needs no CDN and no files beside the binary.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset { name: "jmb.css", mime: "text/css; charset=utf-8", body: include_bytes!("../../static/jmb.css") },
    Asset { name: "jmb.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../../static/jmb.js") },
    Asset { name: "logo.svg", mime: "image/svg+xml", body: include_bytes!("../../static/logo.svg") },
];

pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(asset.body))[..16]);
    let mut resp = if crate::conditional::not_modified(&headers, &etag, None) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut resp = asset.body.into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
        resp
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    crate::conditional::set_validators(h, &etag, None);
    resp
}
