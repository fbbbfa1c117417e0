//! The demo mailbox (`/mailbox`): with the embedded default (`mail.transport = "mailbox"`, demo
//! sign-in), mails stay in the store, and this page shows the newest hundred, written as the outbox
//! would send them, each with its links
//! clickable, so someone trying jmb sees the invitations and can follow a guest's links. Each mail can
//! also be downloaded (`/mailbox/{id}.eml`) and opened in a mail program, calendar invitation included.
//! The routes exist only in demo mode: mails carry personal links.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::SignedIn;
use crate::auth::extract::AuthRejection;
use crate::outbox::{self, Composer};
use crate::state::AppState;
use crate::web::csrf::CsrfToken;
use crate::web::{Chrome, PageError, html};

/// How many of the newest mails the page shows.
const SHOWN: u32 = 100;

/// A piece of a mail's text: plain, or a link.
pub enum Segment {
    Text(String),
    Link(String),
}

pub struct MailView {
    pub id: i64,
    pub subject: String,
    pub to: String,
    pub kind: String,
    pub when: String,
    pub lines: Vec<Vec<Segment>>,
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    chrome: Chrome,
    mails: Vec<MailView>,
}

/// Splits a line into text and `http(s)://` links (a link ends at whitespace).
pub fn segments(line: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = ["http://", "https://"].iter().filter_map(|p| rest.find(p)).min() {
        if i > 0 {
            out.push(Segment::Text(rest[..i].to_string()));
        }
        let end = rest[i..].find(char::is_whitespace).map_or(rest.len(), |e| i + e);
        out.push(Segment::Link(rest[i..end].to_string()));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest.to_string()));
    }
    out
}

/// `GET /mailbox`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    csrf: CsrfToken,
    user: Result<SignedIn, AuthRejection>,
) -> Result<Response, PageError> {
    let tr = state.tr(&headers);
    // The newest mails, each written as it is (or was) sent.
    let rows = state
        .db
        .read(|c| {
            let entries = outbox::list(c, false, SHOWN)?;
            entries
                .into_iter()
                .map(|e| Ok((outbox::letter(c, e.id)?, e)))
                .collect::<Result<Vec<_>, crate::db::DbError>>()
        })
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let mails = rows
        .into_iter()
        .map(|(letter, e)| {
            let text = letter
                .map(|l| state.mail.compose(&l).map(|c| c.text))
                .unwrap_or_else(|| Err("gone".into()))
                .unwrap_or_else(|err| format!("({err})"));
            MailView {
                id: e.id,
                subject: e.subject,
                to: e.recipients.join(", "),
                kind: format!(
                    "{} ({})",
                    tr.t(&format!("mailbox-kind-{}", e.kind)),
                    tr.t(&format!("mailbox-status-{}", e.status))
                ),
                when: tr.datetime(e.created_at),
                lines: text.lines().map(segments).collect(),
            }
        })
        .collect();
    let page = MailboxPage {
        chrome: Chrome::new(
            &state,
            tr,
            tr.t("mailbox-title"),
            user.ok().as_ref().map(|u| &u.identity),
            &csrf,
            "/mailbox",
        ),
        mails,
    };
    let mut resp = html(StatusCode::OK, &page);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `GET /mailbox/{id}.eml`: the message as sent.
pub async fn eml(State(state): State<AppState>, Path(file): Path<String>) -> Result<Response, PageError> {
    let id: i64 =
        file.strip_suffix(".eml").and_then(|n| n.parse().ok()).ok_or(PageError::not_found("error-not-found"))?;
    let letter = state
        .db
        .read(move |c| Ok::<_, crate::db::DbError>(outbox::letter(c, id)?))
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?
        .ok_or(PageError::not_found("error-not-found"))?;
    let message = state.mail.compose(&letter).map_err(PageError::Internal)?.message;
    let mut resp = message.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("message/rfc822"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"jmb-mail-{id}.eml\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_in_text() {
        let s = segments("Join: https://meet.example.org/j/abc and http://x.org/y.");
        let kinds: Vec<String> = s
            .iter()
            .map(|s| match s {
                Segment::Text(t) => format!("T({t})"),
                Segment::Link(l) => format!("L({l})"),
            })
            .collect();
        assert_eq!(kinds, ["T(Join: )", "L(https://meet.example.org/j/abc)", "T( and )", "L(http://x.org/y.)"]);
        assert!(matches!(segments("plain").as_slice(), [Segment::Text(_)]));
    }
}
