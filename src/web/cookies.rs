//! Every cookie jmb reads or sets goes through here, so they all carry the same attributes: `Path=/`,
//! `HttpOnly`, `SameSite=Lax`, and `Secure` when jmb is served over https. Built and parsed with the
//! `cookie` crate.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};

/// The value of cookie `name` in a request, if present.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// Appends a `Set-Cookie` for `name`: a session cookie without `max_age_seconds`, removed with `Some(0)`.
pub fn set(headers: &mut HeaderMap, name: &str, value: &str, secure: bool, max_age_seconds: Option<i64>) {
    set_at(headers, name, value, secure, max_age_seconds, "/", SameSite::Lax);
}

/// [`set`] for a cookie only one page needs: sent by the browser for `path` and below, and never with
/// a request started from another site.
pub fn set_for_page(headers: &mut HeaderMap, name: &str, value: &str, secure: bool, max_age_seconds: i64, path: &str) {
    set_at(headers, name, value, secure, Some(max_age_seconds), path, SameSite::Strict);
}

fn set_at(
    headers: &mut HeaderMap,
    name: &str,
    value: &str,
    secure: bool,
    max_age_seconds: Option<i64>,
    path: &str,
    same_site: SameSite,
) {
    let mut c = Cookie::build((name, value)).path(path.to_string()).http_only(true).same_site(same_site).secure(secure);
    if let Some(age) = max_age_seconds {
        c = c.max_age(cookie::time::Duration::seconds(age));
    }
    if let Ok(v) = HeaderValue::from_str(&c.build().to_string()) {
        headers.append(header::SET_COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_and_write() {
        let mut req = HeaderMap::new();
        req.append(header::COOKIE, HeaderValue::from_static("a=b; jmb_lang=fr"));
        req.append(header::COOKIE, HeaderValue::from_static("other=1"));
        assert_eq!(get(&req, "jmb_lang").as_deref(), Some("fr"));
        assert_eq!(get(&req, "other").as_deref(), Some("1"));
        assert_eq!(get(&req, "missing"), None);

        let mut resp = HeaderMap::new();
        set(&mut resp, "jmb_lang", "en", true, Some(3600));
        set(&mut resp, "jmb_csrf", "seed", false, None);
        let all: Vec<&str> = resp.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(all.len(), 2);
        for part in ["jmb_lang=en", "Path=/", "HttpOnly", "SameSite=Lax", "Secure", "Max-Age=3600"] {
            assert!(all[0].contains(part), "{part} in {}", all[0]);
        }
        assert!(!all[1].contains("Secure") && !all[1].contains("Max-Age"), "{}", all[1]);
    }
}
