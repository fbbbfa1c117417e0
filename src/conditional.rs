//! Conditional GET (RFC 9110 §13) and HTTP dates, in one place for every cacheable answer: the
//! iCal feed, CalDAV objects and calendars, and the embedded static assets.
//!
//! `If-None-Match` wins over `If-Modified-Since` when both are sent (§13.2.2); entity tags are
//! compared weakly, as §13.1.2 prescribes for GET; dates are read in all three formats HTTP allows
//! (the `httpdate` crate) and written as IMF-fixdate.

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, header};

/// An HTTP date (RFC 9110 §5.6.7 IMF-fixdate), e.g. `Sat, 05 Dec 2026 09:00:00 GMT`.
pub fn http_date(t: DateTime<Utc>) -> String {
    let secs = u64::try_from(t.timestamp()).unwrap_or(0);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// Reads an HTTP date in any of the three formats RFC 9110 accepts.
pub fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)
}

/// Whether a GET or HEAD with these request headers may be answered 304 for a representation with
/// this strong `etag` (quoted) and `last_modified` date.
pub fn not_modified(headers: &HeaderMap, etag: &str, last_modified: Option<DateTime<Utc>>) -> bool {
    let mut tags = headers.get_all(header::IF_NONE_MATCH).iter().peekable();
    if tags.peek().is_some() {
        let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
        let etag = bare(etag);
        return tags
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim() == "*" || bare(t) == etag);
    }
    let (Some(since), Some(modified)) =
        (headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()).and_then(parse_http_date), last_modified)
    else {
        return false;
    };
    modified.timestamp() <= since.timestamp()
}

/// Sets `ETag` and, when known, `Last-Modified` on a response.
pub fn set_validators(headers: &mut HeaderMap, etag: &str, last_modified: Option<DateTime<Utc>>) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    if let Some(t) = last_modified
        && let Ok(v) = HeaderValue::from_str(&http_date(t))
    {
        headers.insert(header::LAST_MODIFIED, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn dates_round_trip_in_every_format() {
        let t = at("2026-12-05T09:00:00Z");
        assert_eq!(http_date(t), "Sat, 05 Dec 2026 09:00:00 GMT");
        assert_eq!(parse_http_date("Sat, 05 Dec 2026 09:00:00 GMT"), Some(t));
        assert_eq!(parse_http_date("Saturday, 05-Dec-26 09:00:00 GMT"), Some(t), "RFC 850");
        assert_eq!(parse_http_date("Sat Dec  5 09:00:00 2026"), Some(t), "asctime");
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn entity_tags_win_over_dates() {
        let lm = Some(at("2026-12-05T09:00:00Z"));
        assert!(not_modified(&headers(&[("if-none-match", "\"a\"")]), "\"a\"", lm));
        assert!(not_modified(&headers(&[("if-none-match", "W/\"a\", \"b\"")]), "\"a\"", lm));
        assert!(not_modified(&headers(&[("if-none-match", "*")]), "\"a\"", lm));
        assert!(!not_modified(&headers(&[("if-none-match", "\"b\"")]), "\"a\"", lm));
        // A stale tag with a recent date is still modified: the tag decides.
        let both = headers(&[("if-none-match", "\"old\""), ("if-modified-since", "Sun, 06 Dec 2026 00:00:00 GMT")]);
        assert!(!not_modified(&both, "\"a\"", lm));
        assert!(not_modified(&headers(&[("if-modified-since", "Sat, 05 Dec 2026 09:00:00 GMT")]), "\"a\"", lm));
        assert!(!not_modified(&headers(&[("if-modified-since", "Sat, 05 Dec 2026 08:59:59 GMT")]), "\"a\"", lm));
        assert!(!not_modified(&headers(&[("if-modified-since", "garbage")]), "\"a\"", lm));
        assert!(!not_modified(&headers(&[("if-modified-since", "Sat, 05 Dec 2026 09:00:00 GMT")]), "\"a\"", None));
        assert!(!not_modified(&HeaderMap::new(), "\"a\"", lm));
    }
}
