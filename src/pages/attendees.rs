//! Attendee tracking for the owner: `GET /meetings/{id}/attendees` (page) and
//! `GET /meetings/{id}/attendees.csv` (export). Each attendee with role, answer, number of joins, first
//! and last join, plus totals. Works for archived meetings too. Others get 403 without seeing anything
//! of the meeting; an unknown id 404.
//!
//! With `[presence]` (Prosody's event_sync), both also show the minutes each attendee was actually in
//! the meeting, beside the link clicks, and the participants nobody invited (anonymous guests, other
//! token holders); without it they are exactly as before.
//!
//! The CSV is RFC 4180 (every cell quoted, quotes doubled, CRLF line ends), UTF-8, and guarded against
//! formula injection: a cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading
//! apostrophe so spreadsheets show it as text.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::form::duration_label;
use super::home::ListState;
use super::{audited, partstat_class, partstat_label, role_label};
use crate::auth::SignedIn;
use crate::booking::model::{MeetingDetails, PartStat, Role};
use crate::i18n::Tr;
use crate::presence::Report;
use crate::state::AppState;
use crate::web::csrf::CsrfToken;
use crate::web::{Chrome, PageError, PagePath, html};

pub struct AttendeeRow {
    pub name: String,
    pub mail: String,
    pub role: String,
    pub answer: String,
    pub answer_class: &'static str,
    pub joins: u32,
    pub first_join: String,
    pub last_join: String,
    /// The personal answer page, for the owner to pass on again.
    pub rsvp_url: Option<String>,
    /// The note the invitee left with their answer (empty: none).
    pub note: String,
    /// Minutes present (with `[presence]`), and whether they are in the meeting now.
    pub minutes: Option<i64>,
    pub here_now: bool,
}

/// A participant nobody invited, as the page shows them.
pub struct UnknownRow {
    pub label: String,
    pub mail: String,
    pub minutes: i64,
    pub here_now: bool,
}

/// Counts over the invitees (the owner is not invited) and joins over everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub invited: usize,
    pub accepted: usize,
    pub tentative: usize,
    pub declined: usize,
    pub no_answer: usize,
    pub joined: usize,
    pub joins: u32,
}

/// What the page and the export show of presence (with `[presence]`).
pub struct PresenceView {
    /// Attendees who were in the meeting at least a moment.
    pub present: usize,
    pub unknown: Vec<UnknownRow>,
}

/// The presence report of a meeting, or `None` without `[presence]`.
async fn presence_report(state: &AppState, d: &MeetingDetails) -> Result<Option<Report>, PageError> {
    match &state.presence {
        None => Ok(None),
        Some(p) => {
            p.report(&d.meeting, state.clock.now()).await.map(Some).map_err(|e| PageError::Internal(e.to_string()))
        }
    }
}

/// Labels for participants nobody invited: what their token said, else "anonymous guest N".
fn unknown_rows(tr: &Tr, report: &Report) -> Vec<UnknownRow> {
    let mut anonymous = 0;
    report
        .unknown
        .iter()
        .map(|u| {
            let label = if !u.name.is_empty() {
                u.name.clone()
            } else if !u.mail.is_empty() {
                u.mail.clone()
            } else {
                anonymous += 1;
                let id = if u.anonymous { "presence-anonymous" } else { "presence-unnamed" };
                tr.ta(id, &[("n", anonymous.to_string())])
            };
            UnknownRow { label, mail: u.mail.clone(), minutes: u.attendance.minutes(), here_now: u.attendance.here_now }
        })
        .collect()
}

impl Totals {
    pub fn of(d: &MeetingDetails) -> Self {
        let invitees = || d.attendees.iter().filter(|a| a.role != Role::Owner);
        Totals {
            invited: invitees().count(),
            accepted: invitees().filter(|a| a.partstat == PartStat::Accepted).count(),
            tentative: invitees().filter(|a| a.partstat == PartStat::Tentative).count(),
            declined: invitees().filter(|a| a.partstat == PartStat::Declined).count(),
            no_answer: invitees().filter(|a| a.partstat == PartStat::NeedsAction).count(),
            joined: d.attendees.iter().filter(|a| a.join_count > 0).count(),
            joins: d.attendees.iter().map(|a| a.join_count).sum(),
        }
    }
}

#[derive(Template)]
#[template(path = "attendees.html")]
pub struct AttendeesPage {
    pub chrome: Chrome,
    pub id: String,
    pub subject: String,
    pub when: crate::web::LocalTime,
    pub duration: String,
    pub state: &'static str,
    pub state_label: String,
    pub rows: Vec<AttendeeRow>,
    pub totals: Totals,
    pub can_edit: bool,
    /// "Copy the invitation": subject, time, organiser and the room, ready to paste.
    pub invitation_text: String,
    /// Presence (with `[presence]`).
    pub presence: Option<PresenceView>,
}

fn when(tr: &Tr, t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| tr.datetime(t)).unwrap_or_else(|| "-".into())
}

/// `GET /meetings/{id}/attendees`.
pub async fn page(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    PagePath(id): PagePath<String>,
) -> Result<Response, PageError> {
    let d = audited("attendees", &id, &user, state.bookings.owned(&user.actor(), &id).await)?;
    let tr = state.tr(&headers);
    let now = state.clock.now();
    let m = &d.meeting;
    let list_state = ListState::of(m, Role::Owner, &state.config.booking, now);
    let finished = m.has_ended(now);
    let report = presence_report(&state, &d).await?;
    let rows = d
        .attendees
        .iter()
        .map(|a| AttendeeRow {
            minutes: report.as_ref().map(|r| r.of(a.id).minutes()),
            here_now: report.as_ref().is_some_and(|r| r.of(a.id).here_now),
            name: a.name.clone(),
            mail: a.mail.clone(),
            role: role_label(&tr, a.role),
            answer: if a.role == Role::Owner { "-".into() } else { partstat_label(&tr, a.partstat) },
            answer_class: if a.role == Role::Owner { "" } else { partstat_class(a.partstat) },
            joins: a.join_count,
            first_join: when(&tr, a.first_join),
            last_join: when(&tr, a.last_join),
            rsvp_url: (a.role != Role::Owner && !finished).then(|| state.url(&format!("/rsvp/{}", a.token))),
            note: a.note.clone(),
        })
        .collect();
    let page = AttendeesPage {
        chrome: Chrome::new(
            &state,
            tr,
            tr.t("attendees-title"),
            Some(&user.identity),
            &csrf,
            &format!("/meetings/{id}/attendees"),
        ),
        id: m.id.clone(),
        subject: m.subject.clone(),
        when: crate::web::LocalTime::range(&tr, m.start, m.end()),
        duration: duration_label(&tr, m.duration_min),
        state: list_state.class(),
        state_label: list_state.label(&tr),
        totals: Totals::of(&d),
        rows,
        can_edit: user.is_editor && m.editable(now, state.config.booking.start_grace()),
        invitation_text: invitation_text(&state, &tr, &d),
        presence: report.as_ref().map(|r| PresenceView {
            present: d.attendees.iter().filter(|a| r.of(a.id).seconds > 0).count(),
            unknown: unknown_rows(&tr, r),
        }),
    };
    Ok(html(StatusCode::OK, &page))
}

/// The invitation as a text to paste elsewhere: the subject, the time with its zone, the organiser,
/// the room's address (guests wait there for a moderator: no personal link is needed to enter).
fn invitation_text(state: &AppState, tr: &Tr, d: &MeetingDetails) -> String {
    let m = &d.meeting;
    let organiser =
        d.owner().map(|o| if o.name.is_empty() { o.mail.clone() } else { o.name.clone() }).unwrap_or_default();
    [
        tr.ta("attendees-invitation-intro", &[("subject", m.subject.clone())]),
        tr.when(m.start, m.end()),
        tr.ta("attendees-invitation-organiser", &[("organiser", organiser)]),
        tr.ta("attendees-invitation-join", &[("url", state.jitsi.room_url(&m.room))]),
        tr.t("attendees-invitation-lobby"),
    ]
    .join("\n")
}

/// One CSV cell: neutralised if a spreadsheet would read it as a formula, then quoted.
pub fn csv_cell(value: &str) -> String {
    let guarded =
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_string() };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

/// The export, in the caller's language, as spreadsheets of that language open it: a UTF-8 byte-order
/// mark (without it Excel reads the accents as Windows-1252), and the list separator of the language
/// (`;` in French, where `,` is the decimal comma and Excel splits on `;`; `,` in English).
///
/// With a presence report, a column of minutes present follows the link clicks, and the participants
/// nobody invited follow the attendees (role "not invited").
pub fn csv(tr: &Tr, d: &MeetingDetails, presence: Option<&Report>) -> String {
    let sep = match tr.lang {
        crate::i18n::Lang::Fr => ";",
        crate::i18n::Lang::En => ",",
    };
    let mut out = String::from("\u{feff}");
    let mut line = |cells: Vec<String>| {
        out.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(sep));
        out.push_str("\r\n");
    };
    let mut header =
        vec!["csv-name", "csv-mail", "csv-role", "csv-answer", "csv-joins", "csv-first-join", "csv-last-join"];
    if presence.is_some() {
        header.push("csv-minutes");
    }
    header.push("csv-note");
    line(header.iter().map(|k| tr.t(k)).collect());
    for a in &d.attendees {
        let mut cells = vec![
            a.name.clone(),
            a.mail.clone(),
            role_label(tr, a.role),
            if a.role == Role::Owner { String::new() } else { partstat_label(tr, a.partstat) },
            a.join_count.to_string(),
            a.first_join.map(|t| tr.datetime(t)).unwrap_or_default(),
            a.last_join.map(|t| tr.datetime(t)).unwrap_or_default(),
        ];
        if let Some(r) = presence {
            cells.push(r.of(a.id).minutes().to_string());
        }
        cells.push(a.note.clone());
        line(cells);
    }
    if let Some(r) = presence {
        for u in unknown_rows(tr, r) {
            let role = tr.t("presence-not-invited");
            let empty = String::new;
            line(vec![u.label, u.mail, role, empty(), empty(), empty(), empty(), u.minutes.to_string(), empty()]);
        }
    }
    out
}

/// `GET /meetings/{id}/attendees.csv`.
pub async fn export(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    PagePath(id): PagePath<String>,
) -> Result<Response, PageError> {
    let d = audited("attendees", &id, &user, state.bookings.owned(&user.actor(), &id).await)?;
    let tr = state.tr(&headers);
    let report = presence_report(&state, &d).await?;
    let mut resp = csv(&tr, &d, report.as_ref()).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // A name that says what it holds: `participants-2026-12-05-point-d-equipe.csv`. The subject is
    // reduced to ASCII letters and digits, so the header value is always valid.
    let day = d.meeting.start.with_timezone(&tr.tz).format("%Y-%m-%d");
    let name = format!("{}-{day}-{}.csv", tr.t("csv-file-prefix"), slug(&d.meeting.subject));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// A file-name part from a subject: lower-case ASCII letters and digits, accents dropped to their
/// letter, anything else one `-`; at most 40 characters; `meeting` when nothing is left.
pub fn slug(subject: &str) -> String {
    let mut out = String::new();
    for c in subject.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'à' | 'â' | 'ä' | 'á' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ç' => 'c',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "meeting".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_say_what_they_hold() {
        assert_eq!(slug("Point d'équipe"), "point-d-equipe");
        assert_eq!(slug("  ## "), "meeting");
        assert!(slug(&"a".repeat(100)).len() <= 40);
    }

    #[test]
    fn cells_are_quoted_and_guarded() {
        assert_eq!(csv_cell("plain"), "\"plain\"");
        assert_eq!(csv_cell("say \"hi\", ok"), "\"say \"\"hi\"\", ok\"");
        for f in ["=1+1", "+33", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_cell(f).starts_with("\"'"), "{f:?}");
        }
        assert_eq!(csv_cell("a=b"), "\"a=b\"");
        assert_eq!(csv_cell("ligne\nsuivante"), "\"ligne\nsuivante\"");
    }
}
