//! The HTML side shared by every page (the edge): the layout's data, template rendering, cookies, the
//! request's language, CSRF protection, security headers, error pages and embedded static assets.

pub mod assets;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod event_sync;
pub mod lang;
pub mod metrics;
pub mod problem;
pub mod security;

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::i18n::{self, Tr};
use crate::identity::Identity;
use crate::state::AppState;

pub use error::PageError;

/// What the layout needs on every page.
pub struct Chrome {
    pub tr: Tr,
    pub site: String,
    pub logo: Option<String>,
    pub title: String,
    /// Display name of the signed-in user, if any.
    pub user: Option<String>,
    /// CSRF token for the page's forms and the layout's sign-out (bound to the signed-in user).
    pub csrf: String,
    /// CSRF token of the language switch (bound to the browser only; see `web::csrf`).
    pub csrf_lang: String,
    pub demo: bool,
    /// The demo mailbox (`/mailbox`) exists: demo sign-in with mails kept in the store.
    pub mailbox: bool,
    /// Path of the current page, so the language switch comes back to it.
    pub here: String,
    /// Where the site name leads: the list for a signed-in user; for a guest, their answer page when
    /// the page knows it (set by that page), else nowhere (a guest has no use for a sign-in page).
    pub home: Option<String>,
}

impl Chrome {
    pub fn new(
        state: &AppState,
        tr: Tr,
        title: String,
        user: Option<&Identity>,
        csrf: &csrf::CsrfToken,
        here: &str,
    ) -> Self {
        Self {
            tr,
            site: state.config.server.site_name.clone(),
            logo: state.config.server.logo_url.clone(),
            title,
            user: user.map(|u| u.name.clone()),
            csrf: csrf.form.clone(),
            csrf_lang: csrf.lang.clone(),
            demo: state.config.auth.mode == crate::config::AuthMode::Demo,
            mailbox: state.config.auth.mode == crate::config::AuthMode::Demo
                && state.config.mail.transport == crate::config::MailTransportKind::Mailbox,
            here: here.to_string(),
            home: user.map(|_| "/meetings".to_string()),
        }
    }

    pub fn footer(&self) -> String {
        self.tr.ta("footer-sovereign", &[("site", self.site.clone())])
    }

    pub fn other_lang(&self) -> &'static str {
        match self.tr.lang {
            i18n::Lang::Fr => "en",
            i18n::Lang::En => "fr",
        }
    }
}

/// Paths answered in their own formats (CalDAV, the feed, the JSON API, Prosody's webhooks), never with
/// pages or forms: they get no CSRF cookie and no error page.
pub fn is_not_a_page(path: &str) -> bool {
    ["/dav", "/.well-known", "/ical", "/api/", "/prosody/"].iter().any(|p| path.starts_with(p))
}

/// Renders a template as an HTML response.
pub fn html<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => {
            let mut resp = (status, body).into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            resp
        }
        Err(e) => {
            tracing::error!(error.message = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A path parameter of a page. One that cannot be decoded (a token with invalid UTF-8, say) names
/// nothing jmb has: the answer is the 404 page in the request's language, not axum's plain-text 400.
pub struct PagePath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for PagePath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, PageError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PagePath(value)),
            Err(e) => {
                tracing::debug!(error.message = %e.body_text(), "undecodable path parameter");
                Err(PageError::not_found("error-not-found"))
            }
        }
    }
}

/// Where to send a browser after a form (`next`): a path on this site, never another origin.
///
/// `next` is resolved as a browser resolves a `Location` (WHATWG URL parsing: tabs and newlines
/// dropped, `\` read as `/`, dot segments removed) against a placeholder origin; whatever leaves that
/// origin, or whose path would start with `//` (read as another host), gives `/`. The result is the
/// serialised path and query: percent-encoded, so always a valid header value. (`/%09/evil.example/x`
/// used to redirect to `/\t/evil.example/x`, which browsers follow off-site; `/%00x` answered 500.)
pub fn safe_next(next: Option<&str>) -> String {
    const BASE: &str = "http://jmb.invalid/";
    let home = || "/".to_string();
    let Some(next) = next.filter(|n| n.starts_with('/')) else { return home() };
    let Ok(base) = url::Url::parse(BASE) else { return home() };
    let Ok(url) = base.join(next) else { return home() };
    if url.origin() != base.origin() || url.path().starts_with("//") || !url.path().starts_with('/') {
        return home();
    }
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// Adds `Retry-After` (seconds) for a refusal that passes with time.
pub fn set_retry_after(resp: &mut Response, seconds: Option<u64>) {
    if let Some(s) = seconds {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
}

/// A generic page: a title, paragraphs and an optional link.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub chrome: Chrome,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
}

/// A time as a page shows it (`templates/time.html`): in the site's zone, with the weekday and the
/// zone named, so it reads right without JavaScript; `jmb.js` rewrites it into the visitor's own zone
/// (from the browser) and then shows the site's time beside it.
#[derive(Debug, Clone)]
pub struct LocalTime {
    /// RFC 3339 in UTC, for `<time datetime>` and the browser.
    pub iso: String,
    /// The end of a range, RFC 3339 in UTC.
    pub end_iso: Option<String>,
    /// The site zone's IANA name.
    pub zone: String,
    /// The text in the site's zone.
    pub text: String,
    /// "organiser's time: …", shown by the script when the visitor's zone differs.
    pub site_label: String,
    /// The word between date and time for an instant (`à`, `at`), for the script.
    pub at: String,
}

impl LocalTime {
    fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// A meeting's start and end: `mardi 2 décembre 2026, 14:00 – 15:30 (Europe/Paris)`.
    pub fn range(tr: &Tr, start: chrono::DateTime<chrono::Utc>, end: chrono::DateTime<chrono::Utc>) -> Self {
        let text = tr.when(start, end);
        Self {
            iso: Self::iso(start),
            end_iso: Some(Self::iso(end)),
            zone: tr.tz.name().to_string(),
            site_label: tr.ta("time-site-zone", &[("when", text.clone())]),
            text,
            at: tr.t("fmt-at"),
        }
    }

    /// One instant: `mardi 2 décembre 2026 à 13:55 (Europe/Paris)`.
    pub fn instant(tr: &Tr, t: chrono::DateTime<chrono::Utc>) -> Self {
        let text = tr.long_datetime(t);
        Self {
            iso: Self::iso(t),
            end_iso: None,
            zone: tr.tz.name().to_string(),
            site_label: tr.ta("time-site-zone", &[("when", text.clone())]),
            text,
            at: tr.t("fmt-at"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        for (next, expected) in [
            (Some("/meetings"), "/meetings"),
            (Some("/meetings?archives=2"), "/meetings?archives=2"),
            (Some("/m/x y"), "/m/x%20y"),
            (Some("/a/../b"), "/b"),
            (Some("/\t/evil.example/x"), "/"),
            (Some("/\n/evil.example"), "/"),
            (Some("//evil.example"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("/.//evil.example"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("javascript:alert(1)"), "/"),
            (Some("evil.example"), "/"),
            (Some("/\0x"), "/%00x"),
            (Some("/\r\nSet-Cookie: x"), "/Set-Cookie:%20x"),
            (None, "/"),
        ] {
            let got = safe_next(next);
            assert_eq!(got, expected, "{next:?}");
            assert!(HeaderValue::from_str(&got).is_ok(), "{got:?} is a valid header value");
        }
    }
}
