//! The language of a request: the remembered choice (a cookie set by the language switch), then
//! `Accept-Language`, then the configured default (see [`crate::i18n::Lang::negotiate`]).

use axum::http::{HeaderMap, header};

use super::cookies;
use crate::i18n::Lang;

/// The cookie that remembers a chosen language.
pub const LANG_COOKIE: &str = "jmb_lang";

/// The language of a request with these headers.
pub fn negotiate(headers: &HeaderMap, default: Lang) -> Lang {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Lang::negotiate(cookies::get(headers, LANG_COOKIE).as_deref(), accept, default)
}
