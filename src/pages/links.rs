//! The routes behind the links people receive: `/m/{room}` (signed-in owners and internal moderators,
//! and the private room; Jitsi's `tokenAuthUrl` points here), `/j/{token}` (personal join link, no
//! sign-in) and `/rsvp/{token}` (answer page; the answer changes only on POST, so mail scanners that
//! follow links change nothing). Every allow and deny is logged as an audit line.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::{partstat_class, partstat_label, role_label};
use crate::auth::SignedIn;
use crate::booking::BookingError;
use crate::booking::model::{
    Answer, Attendee, Meeting, MeetingDetails, Note, NoteTooLong, PartStat, Role, name_from_mail,
};
use crate::i18n::Tr;
use crate::jitsi::TokenUser;
use crate::state::AppState;
use crate::web::csrf::{CarriesCsrf, CsrfToken, LenientForm};
use crate::web::{Chrome, LocalTime, PageError, PagePath, html};

/// Characters of an address kept as they are in a `mailto:` link (RFC 6068): every other one is
/// percent-encoded, so that `?`, `&`, `=` or `%`, valid in a local part, cannot add header fields.
const MAILTO_ADDRESS: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'@').remove(b'.').remove(b'-').remove(b'_').remove(b'+').remove(b'~');

/// A `302 Found` to `location` (Jitsi and browsers follow it with GET).
pub fn found(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn audit_deny(route: &'static str, room: &str, who: &str, reason: &str) {
    tracing::info!(target: "audit", route, room, who, reason, decision = "DENIED");
}

fn audit_allow(route: &'static str, room: &str, who: &str, what: &str) {
    tracing::info!(target: "audit", route, room, who, what, decision = "ALLOWED");
}

/// The page shown when a link is used before its window opens: when the meeting is and when the link
/// opens, in the visitor's zone (script) or the site's, named. It does not reload itself (no
/// `<meta http-equiv="refresh">`, which takes the page away from a screen-reader user, WCAG 2.2.1):
/// with JavaScript a countdown turns the reload link into a "join now" button when the time comes;
/// without, the reload link is there.
#[derive(Template)]
#[template(path = "too_early.html")]
struct TooEarlyPage {
    chrome: Chrome,
    intro: String,
    when: LocalTime,
    opens: LocalTime,
    here: String,
}

fn too_early(
    state: &AppState,
    tr: Tr,
    csrf: &CsrfToken,
    meeting: &Meeting,
    opens: DateTime<Utc>,
    here: &str,
    home: Option<String>,
) -> Response {
    let mut chrome = Chrome::new(state, tr, tr.t("join-too-early-title"), None, csrf, here);
    chrome.home = home;
    let page = TooEarlyPage {
        chrome,
        intro: tr.ta("join-too-early-intro", &[("subject", meeting.subject.clone())]),
        when: LocalTime::range(&tr, meeting.start, meeting.end()),
        opens: LocalTime::instant(&tr, opens),
        here: here.to_string(),
    };
    html(StatusCode::OK, &page)
}

/// `GET /m/{room}`: a moderator token for the signed-in owner or internal moderator, or the private room.
pub async fn moderator_entry(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    PagePath(room): PagePath<String>,
) -> Result<Response, PageError> {
    enter_room(&state, &user, &headers, &csrf, &room, "/m").await
}

pub(crate) async fn enter_room(
    state: &AppState,
    user: &SignedIn,
    headers: &HeaderMap,
    csrf: &CsrfToken,
    room: &str,
    route: &'static str,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let room = room.trim().to_lowercase();
    let me = &user.identity;
    let found_meeting = state.bookings.by_room(&room).await?;
    let Some(MeetingDetails { meeting, attendees }) = found_meeting else {
        // Not a booked room: only the user's own private room, for editors.
        if room == me.uid && user.is_editor {
            let token = state.jitsi.moderator_token(&room, &token_user(me), now, state.jitsi.signed_in_lifetime);
            state.bookings.record_private_room_use(&me.uid, now).await?;
            audit_allow(route, &room, &me.uid, "private room");
            return Ok(found(&state.jitsi.room_url_with_token(&room, &token)));
        }
        audit_deny(route, &room, &me.uid, if room == me.uid { "not an editor" } else { "not the private room owner" });
        if room == me.uid {
            return Err(PageError::forbidden("error-not-editor"));
        }
        return Err(PageError::forbidden_with("error-not-private-owner", vec![("room", room)]));
    };
    if meeting.has_ended(now) {
        audit_deny(route, &room, &me.uid, "meeting ended");
        return Err(BookingError::Ended { subject: meeting.subject }.into());
    }
    let mine: Option<&Attendee> = attendees.iter().find(|a| {
        (a.role == Role::Owner && (meeting.owner_uid == me.uid || a.mail == me.mail))
            || (a.role == Role::Moderator && a.mail == me.mail)
    });
    let Some(mine) = mine else {
        audit_deny(route, &room, &me.uid, "neither owner nor moderator");
        return Err(PageError::forbidden_with("error-not-host", vec![("room", room)]));
    };
    let opens = meeting.start - Duration::minutes(i64::from(state.config.jitsi.moderator_join_early_minutes));
    if now < opens {
        audit_deny(route, &room, &me.uid, "too early");
        let here = format!("/m/{}", crate::jitsi::room_segment(&room));
        return Ok(too_early(state, state.tr(headers), csrf, &meeting, opens, &here, Some("/meetings".into())));
    }
    let token = state.jitsi.moderator_token(&room, &token_user(me), now, state.jitsi.signed_in_lifetime);
    state.bookings.record_join(mine.id, now).await?;
    audit_allow(route, &room, &me.uid, mine.role.as_str());
    Ok(found(&state.jitsi.room_url_with_token(&room, &token)))
}

fn token_user(me: &crate::identity::Identity) -> TokenUser {
    TokenUser { id: me.uid.clone(), name: me.name.clone(), email: me.mail.clone() }
}

/// `GET /j/{token}`: the personal join link.
pub async fn personal_join(
    State(state): State<AppState>,
    headers: HeaderMap,
    csrf: CsrfToken,
    PagePath(token): PagePath<String>,
) -> Result<Response, PageError> {
    join_with_token(&state, &headers, &csrf, &token, "/j").await
}

pub(crate) async fn join_with_token(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &CsrfToken,
    token: &str,
    route: &'static str,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let Some((meeting, attendee)) = state.bookings.by_token(token).await? else {
        audit_deny(route, "", "unknown token", "unknown token");
        return Err(PageError::not_found("error-not-found"));
    };
    let who = attendee.mail.as_str();
    if meeting.has_ended(now) {
        audit_deny(route, &meeting.room, who, "meeting ended");
        return Err(BookingError::Ended { subject: meeting.subject }.into());
    }
    let early = if attendee.role.is_host() {
        state.config.jitsi.moderator_join_early_minutes
    } else {
        state.config.jitsi.guest_join_early_minutes
    };
    let opens = meeting.start - Duration::minutes(i64::from(early));
    if now < opens {
        audit_deny(route, &meeting.room, who, "too early");
        let home = Some(format!("/rsvp/{token}"));
        return Ok(too_early(state, state.tr(headers), csrf, &meeting, opens, &format!("/j/{token}"), home));
    }
    // Internal: the address's domain is the organisation's, or the directory knows it.
    let internal = attendee.role == Role::Moderator && state.directory.is_internal(&attendee.mail).await;
    match attendee.role {
        Role::Guest => {
            state.bookings.record_join(attendee.id, now).await?;
            audit_allow(route, &meeting.room, who, "guest");
            Ok(found(&state.jitsi.room_url(&meeting.room)))
        }
        // Owners and internal moderators sign in; the token route counts their join.
        Role::Owner => {
            audit_allow(route, &meeting.room, who, "owner, via sign-in");
            Ok(found(&format!("/m/{}", meeting.room)))
        }
        Role::Moderator if internal => {
            audit_allow(route, &meeting.room, who, "internal moderator, via sign-in");
            Ok(found(&format!("/m/{}", meeting.room)))
        }
        Role::Moderator => {
            let name = if attendee.name.is_empty() { name_from_mail(&attendee.mail) } else { attendee.name.clone() };
            let user = TokenUser { id: attendee.stable_id(), name, email: attendee.mail.clone() };
            let jwt = state.jitsi.moderator_token(&meeting.room, &user, now, state.jitsi.external_lifetime);
            state.bookings.record_join(attendee.id, now).await?;
            audit_allow(route, &meeting.room, who, "external moderator");
            Ok(found(&state.jitsi.room_url_with_token(&meeting.room, &jwt)))
        }
    }
}

/// Where the join button stands on the answer page.
enum JoinState {
    /// Not open yet: when it opens.
    Opens(LocalTime),
    /// Open, the meeting not started.
    Open,
    Running,
}

/// One answer button; `primary` is the one the page suggests (the link followed, or the answer a
/// stale form meant).
struct AnswerButton {
    value: &'static str,
    label: String,
    primary: bool,
}

#[derive(Template)]
#[template(path = "rsvp.html")]
struct RsvpPage {
    chrome: Chrome,
    intro: String,
    subject: String,
    organiser_name: String,
    organiser_mail: String,
    mailto: String,
    when: LocalTime,
    duration: String,
    role: String,
    answer: String,
    answer_class: &'static str,
    answered: bool,
    note: String,
    suggested: Option<String>,
    /// Confirmation paragraphs after a POST (focused and announced).
    recorded: Vec<String>,
    csrf_expired: bool,
    note_value: String,
    note_error: Option<String>,
    note_max: usize,
    buttons: Vec<AnswerButton>,
    finished: bool,
    is_owner: bool,
    action: String,
    join_url: String,
    join: JoinState,
    ics_url: String,
    google_url: String,
    outlook_url: String,
}

#[derive(Deserialize)]
pub struct RsvpQuery {
    answer: Option<String>,
}

/// What a POST left for the answer page to say.
#[derive(Default)]
struct Posted {
    /// The answer that was recorded, and whether the note changed.
    recorded: Option<(PartStat, bool)>,
    /// The form's token was stale: nothing recorded, this answer to confirm.
    expired: Option<Answer>,
    /// The note as typed, why it was refused, and the answer it came with (highlighted again).
    note_refused: Option<(String, String, Answer)>,
}

/// `YYYYMMDDTHHMMSSZ`, as Google's calendar template wants its dates.
fn compact_utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// "Add to Google Calendar": Google's documented event template link.
fn google_link(subject: &str, start: DateTime<Utc>, end: DateTime<Utc>, details: &str, location: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("action", "TEMPLATE")
        .append_pair("text", subject)
        .append_pair("dates", &format!("{}/{}", compact_utc(start), compact_utc(end)))
        .append_pair("details", details)
        .append_pair("location", location)
        .finish();
    format!("https://calendar.google.com/calendar/render?{q}")
}

/// "Add to Outlook.com": Outlook on the web's compose deep link.
fn outlook_link(subject: &str, start: DateTime<Utc>, end: DateTime<Utc>, details: &str, location: &str) -> String {
    let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("path", "/calendar/action/compose")
        .append_pair("rru", "addevent")
        .append_pair("subject", subject)
        .append_pair("startdt", &iso(start))
        .append_pair("enddt", &iso(end))
        .append_pair("body", details)
        .append_pair("location", location)
        .finish();
    format!("https://outlook.live.com/calendar/0/deeplink/compose?{q}")
}

async fn rsvp_page(
    state: &AppState,
    tr: Tr,
    token: &str,
    csrf: &CsrfToken,
    suggested: Option<Answer>,
    posted: Posted,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let (details, attendee) = match state.bookings.by_token_with_attendees(token).await {
        Err(BookingError::NotFound) => {
            audit_deny("/rsvp", "", "unknown token", "unknown token");
            return Err(PageError::not_found("error-not-found"));
        }
        other => other?,
    };
    let (organiser_name, organiser_mail) = details
        .owner()
        .map(|o| (if o.name.is_empty() { o.mail.clone() } else { o.name.clone() }, o.mail.clone()))
        .unwrap_or_default();
    let meeting = &details.meeting;
    let base = state.config.public_base();
    let join_url = format!("/j/{token}");
    let description = tr.ta(
        "ical-description",
        &[("url", format!("{base}{join_url}")), ("rsvp", crate::calendar::event::answer_url(base, &attendee))],
    );
    let early = if attendee.role.is_host() {
        state.config.jitsi.moderator_join_early_minutes
    } else {
        state.config.jitsi.guest_join_early_minutes
    };
    let opens = meeting.start - Duration::minutes(i64::from(early));
    let join = if now < opens {
        JoinState::Opens(LocalTime::instant(&tr, opens))
    } else if now < meeting.start {
        JoinState::Open
    } else {
        JoinState::Running
    };
    let highlighted = posted.expired.or(posted.note_refused.as_ref().map(|r| r.2)).or(suggested);
    let buttons =
        [(Answer::Accept, "rsvp-accept"), (Answer::Tentative, "rsvp-tentative"), (Answer::Decline, "rsvp-decline")]
            .into_iter()
            .map(|(a, label)| AnswerButton {
                value: a.as_str(),
                label: tr.t(label),
                // Without a suggestion, accepting is the usual answer to an invitation.
                primary: highlighted.map_or(a == Answer::Accept, |h| h == a),
            })
            .collect();
    let mut recorded = Vec::new();
    if let Some((p, note_changed)) = posted.recorded {
        recorded.push(tr.t(match p {
            PartStat::Accepted => "rsvp-recorded-accepted",
            PartStat::Tentative => "rsvp-recorded-tentative",
            _ => "rsvp-recorded-declined",
        }));
        if note_changed && !attendee.note.is_empty() {
            recorded.push(tr.t("rsvp-note-recorded"));
        }
        recorded.push(tr.t("rsvp-close-tab"));
    }
    let (note_value, note_error) = match posted.note_refused {
        Some((typed, why, _)) => (typed, Some(why)),
        None => (attendee.note.clone(), None),
    };
    let mailto_subject: String = form_urlencoded::byte_serialize(meeting.subject.as_bytes()).collect();
    let mut chrome = Chrome::new(state, tr, tr.t("rsvp-title"), None, csrf, &format!("/rsvp/{token}"));
    chrome.home = Some(format!("/rsvp/{token}"));
    let page = RsvpPage {
        chrome,
        intro: tr.ta("rsvp-intro", &[("organiser", organiser_name.clone())]),
        subject: meeting.subject.clone(),
        mailto: format!(
            "mailto:{}?subject={}",
            percent_encoding::utf8_percent_encode(&organiser_mail, MAILTO_ADDRESS),
            mailto_subject.replace('+', "%20")
        ),
        organiser_name,
        organiser_mail,
        when: LocalTime::range(&tr, meeting.start, meeting.end()),
        duration: super::form::duration_label(&tr, meeting.duration_min),
        role: role_label(&tr, attendee.role),
        answer: partstat_label(&tr, attendee.partstat),
        answer_class: partstat_class(attendee.partstat),
        answered: attendee.partstat != PartStat::NeedsAction,
        note: attendee.note.clone(),
        suggested: suggested
            .filter(|_| posted.expired.is_none())
            .map(|a| tr.ta("rsvp-suggested", &[("answer", a.as_str().to_string())])),
        recorded,
        csrf_expired: posted.expired.is_some(),
        note_value,
        note_error,
        note_max: Note::MAX_CHARS,
        buttons,
        finished: meeting.has_ended(now),
        is_owner: attendee.role == Role::Owner,
        action: format!("/rsvp/{token}"),
        google_url: google_link(
            &meeting.subject,
            meeting.start,
            meeting.end(),
            &description,
            &format!("{base}{join_url}"),
        ),
        outlook_url: outlook_link(
            &meeting.subject,
            meeting.start,
            meeting.end(),
            &description,
            &format!("{base}{join_url}"),
        ),
        ics_url: format!("/rsvp/{token}/invitation.ics"),
        join_url,
        join,
    };
    let status = if posted.expired.is_some() {
        // Nothing was recorded: the status says so; the page says what to do.
        StatusCode::FORBIDDEN
    } else if page.note_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(html(status, &page))
}

/// `GET /rsvp/{token}`: the meeting, the answer buttons, the calendar links, the join button.
/// Changes nothing; `?answer=decline` (the links in the mails) only highlights a button.
pub async fn rsvp_show(
    State(state): State<AppState>,
    headers: HeaderMap,
    csrf: CsrfToken,
    PagePath(token): PagePath<String>,
    Query(q): Query<RsvpQuery>,
) -> Result<Response, PageError> {
    let suggested = q.answer.as_deref().and_then(Answer::parse);
    rsvp_page(&state, state.tr(&headers), &token, &csrf, suggested, Posted::default()).await
}

#[derive(Deserialize)]
pub struct RsvpForm {
    answer: String,
    /// Absent: the stored note is kept (forms without the field, the mails' buttons).
    note: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// `POST /rsvp/{token}`: records the answer and the note. A stale token (the tab restored after the
/// cookie went) records nothing and shows the page again, fresh, with that answer to confirm.
pub async fn rsvp_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    csrf: CsrfToken,
    PagePath(token): PagePath<String>,
    LenientForm { form, csrf_ok }: LenientForm<RsvpForm>,
) -> Result<Response, PageError> {
    let answer = Answer::parse(&form.answer)
        .ok_or_else(|| PageError::BadRequest("answer must be accept, tentative or decline".into()))?;
    let tr = state.tr(&headers);
    if !csrf_ok {
        audit_deny("/rsvp", "", "token holder", "stale form, shown again");
        let posted = Posted { expired: Some(answer), ..Posted::default() };
        return rsvp_page(&state, tr, &token, &csrf, None, posted).await;
    }
    let note = match form.note.as_deref().map(Note::parse).transpose() {
        Ok(note) => note,
        Err(NoteTooLong) => {
            let why = tr.ta("rsvp-note-too-long", &[("max", Note::MAX_CHARS.to_string())]);
            let posted =
                Posted { note_refused: Some((form.note.unwrap_or_default(), why, answer)), ..Posted::default() };
            return rsvp_page(&state, tr, &token, &csrf, None, posted).await;
        }
    };
    let now = state.clock.now();
    match state.bookings.answer_by_token_with_note(&token, answer, note, now).await {
        Ok(outcome) => {
            tracing::info!(target: "audit", route = "/rsvp", room = %outcome.meeting.room, who = %outcome.attendee.mail,
                answer = outcome.attendee.partstat.as_ical(), changed = outcome.changed, decision = "ALLOWED");
            let posted =
                Posted { recorded: Some((outcome.attendee.partstat, outcome.note_changed)), ..Posted::default() };
            rsvp_page(&state, tr, &token, &csrf, None, posted).await
        }
        Err(e) => {
            audit_deny("/rsvp", "", "token holder", &e.to_string());
            Err(e.into())
        }
    }
}

impl CarriesCsrf for RsvpForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `GET /rsvp/{token}/invitation.ics`: the meeting as this invitee sees it (their join link, their
/// answer), as a calendar file to open in any calendar program. The same mapping as the feed and the
/// invitation mails ([`crate::calendar::event::for_viewer`]); changes nothing.
pub async fn rsvp_ics(
    State(state): State<AppState>,
    headers: HeaderMap,
    PagePath(token): PagePath<String>,
) -> Result<Response, PageError> {
    let (details, mine) = match state.bookings.by_token_with_attendees(&token).await {
        Err(BookingError::NotFound) => {
            audit_deny("/rsvp", "", "unknown token", "unknown token");
            return Err(PageError::not_found("error-not-found"));
        }
        other => other?,
    };
    let now = state.clock.now();
    let viewing = crate::calendar::event::Viewing {
        base_url: state.config.public_base(),
        tr: state.tr(&headers),
        alarm_minutes: &state.config.calendar.alarm_minutes,
        now,
    };
    let event = crate::calendar::event::for_viewer(&details, &mine, &viewing);
    let body = crate::ics::render_resource(&state.config.calendar_prodid(), &event, now);
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"invitation.ics\""));
    // It holds the personal links: no shared cache keeps it.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[cfg(test)]
mod mailto_tests {
    use super::MAILTO_ADDRESS;

    #[test]
    fn an_address_cannot_add_fields_to_a_mailto_link() {
        let encoded = percent_encoding::utf8_percent_encode("a?cc=x&b%c@y.example.org", MAILTO_ADDRESS).to_string();
        assert_eq!(encoded, "a%3Fcc%3Dx%26b%25c@y.example.org");
        let plain = percent_encoding::utf8_percent_encode("jean.dupont+x@example.org", MAILTO_ADDRESS).to_string();
        assert_eq!(plain, "jean.dupont+x@example.org");
    }
}
