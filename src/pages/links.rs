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
use crate::booking::model::{Answer, Attendee, Meeting, MeetingDetails, PartStat, Role, name_from_mail};
use crate::i18n::Tr;
use crate::identity::is_internal;
use crate::jitsi::TokenUser;
use crate::state::AppState;
use crate::web::csrf::{CarriesCsrf, CheckedForm, CsrfToken};
use crate::web::{Chrome, MessagePage, PageError, PagePath, html};

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

/// The page shown when a link is used before its window opens.
fn too_early(
    state: &AppState,
    tr: Tr,
    csrf: &CsrfToken,
    meeting: &Meeting,
    opens: DateTime<Utc>,
    here: &str,
) -> Response {
    let page = MessagePage {
        chrome: Chrome::new(state, tr, tr.t("join-too-early-title"), None, csrf, here),
        paragraphs: vec![tr.ta(
            "join-too-early",
            &[("subject", meeting.subject.clone()), ("start", tr.datetime(meeting.start)), ("opens", tr.time(opens))],
        )],
        link: Some((here.to_string(), tr.t("join-refresh"))),
        refresh_seconds: Some(60),
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
        return Ok(too_early(state, state.tr(headers), csrf, &meeting, opens, &here));
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
        return Ok(too_early(state, state.tr(headers), csrf, &meeting, opens, &format!("/j/{token}")));
    }
    let internal = is_internal(&attendee.mail, &state.config.mail.internal_domains);
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

#[derive(Template)]
#[template(path = "rsvp.html")]
struct RsvpPage {
    chrome: Chrome,
    subject: String,
    organiser: String,
    date: String,
    time: String,
    duration: String,
    role: String,
    answer: String,
    answer_class: &'static str,
    suggested: Option<String>,
    recorded: Option<String>,
    finished: bool,
    is_owner: bool,
    action: String,
    join_url: String,
}

#[derive(Deserialize)]
pub struct RsvpQuery {
    answer: Option<String>,
}

async fn rsvp_page(
    state: &AppState,
    tr: Tr,
    token: &str,
    csrf: &CsrfToken,
    suggested: Option<Answer>,
    recorded: Option<PartStat>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let (details, attendee) = match state.bookings.by_token_with_attendees(token).await {
        Err(BookingError::NotFound) => {
            audit_deny("/rsvp", "", "unknown token", "unknown token");
            return Err(PageError::not_found("error-not-found"));
        }
        other => other?,
    };
    let organiser = details
        .owner()
        .map(|o| if o.name.is_empty() { o.mail.clone() } else { format!("{} <{}>", o.name, o.mail) })
        .unwrap_or_default();
    let meeting = details.meeting;
    let page = RsvpPage {
        chrome: Chrome::new(state, tr, tr.t("rsvp-title"), None, csrf, &format!("/rsvp/{token}")),
        subject: meeting.subject.clone(),
        organiser,
        date: tr.date(meeting.start),
        time: tr.time(meeting.start),
        duration: tr.ta("minutes", &[("count", meeting.duration_min.to_string())]),
        role: role_label(&tr, attendee.role),
        answer: partstat_label(&tr, attendee.partstat),
        answer_class: partstat_class(attendee.partstat),
        suggested: suggested.map(|a| tr.ta("rsvp-suggested", &[("answer", a.as_str().to_string())])),
        recorded: recorded.map(|p| {
            tr.t(match p {
                PartStat::Accepted => "rsvp-recorded-accepted",
                PartStat::Tentative => "rsvp-recorded-tentative",
                _ => "rsvp-recorded-declined",
            })
        }),
        finished: meeting.has_ended(now),
        is_owner: attendee.role == Role::Owner,
        action: format!("/rsvp/{token}"),
        join_url: format!("/j/{token}"),
    };
    Ok(html(StatusCode::OK, &page))
}

/// `GET /rsvp/{token}`: the meeting and the two answer buttons. Changes nothing.
pub async fn rsvp_show(
    State(state): State<AppState>,
    headers: HeaderMap,
    csrf: CsrfToken,
    PagePath(token): PagePath<String>,
    Query(q): Query<RsvpQuery>,
) -> Result<Response, PageError> {
    let suggested = q.answer.as_deref().and_then(Answer::parse);
    rsvp_page(&state, state.tr(&headers), &token, &csrf, suggested, None).await
}

#[derive(Deserialize)]
pub struct RsvpForm {
    answer: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /rsvp/{token}`: records the answer.
pub async fn rsvp_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    csrf: CsrfToken,
    PagePath(token): PagePath<String>,
    CheckedForm(form): CheckedForm<RsvpForm>,
) -> Result<Response, PageError> {
    let answer = Answer::parse(&form.answer)
        .ok_or_else(|| PageError::BadRequest("answer must be accept, tentative or decline".into()))?;
    let now = state.clock.now();
    match state.bookings.answer_by_token(&token, answer, now).await {
        Ok(outcome) => {
            tracing::info!(target: "audit", route = "/rsvp", room = %outcome.meeting.room, who = %outcome.attendee.mail,
                answer = outcome.attendee.partstat.as_ical(), changed = outcome.changed, decision = "ALLOWED");
            rsvp_page(&state, state.tr(&headers), &token, &csrf, None, Some(outcome.attendee.partstat)).await
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
