//! The booking form (`/meetings/new`, `/meetings/{id}/edit`), the delete confirmation
//! (`/meetings/{id}/delete`) and the inline answer from the list (`POST /meetings/{id}/answer`).
//!
//! Every POST checks the CSRF token first and changes nothing without it (403). Validation is
//! [`rules::validate`], shared with the API: on errors the form comes back as typed, each message next
//! to its field, with status 400. The booking rules (only editors create; only the owner edits or
//! deletes, and only before the start; a meeting that is not the caller's does not exist for them)
//! are the service's ([`crate::booking::Bookings`]); this module only shows their answer. After a
//! successful POST the browser is sent (303) back to the list with a fixed notice word.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{audited, role_label};
use crate::auth::SignedIn;
use crate::booking::model::{Answer, MeetingDetails, Role};
use crate::booking::rules::{self, Field, FieldErrors, RawMeeting, RawStart};
use crate::i18n::Tr;
use crate::state::AppState;
use crate::web::csrf::{CarriesCsrf, CheckedForm, CsrfToken};
use crate::web::{Chrome, PageError, PagePath, html};

/// The form as posted. Every field defaults to empty so a missing one is a validation error, not a
/// rejected request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MeetingForm {
    pub csrf: String,
    pub subject: String,
    pub date: String,
    pub time: String,
    pub duration: String,
    pub moderators: String,
    pub guests: String,
}

/// One input with its value as typed and its messages.
pub struct FieldView {
    pub value: String,
    pub errors: Vec<String>,
}

impl FieldView {
    fn new(value: String, field: Field, errors: &FieldErrors, tr: &Tr) -> Self {
        let errors = errors.for_field(field).map(|e| tr.ta(e.message_id(), &e.args())).collect();
        Self { value, errors }
    }
    /// The field's errors that `keep` selects.
    fn only(
        value: String,
        field: Field,
        errors: &FieldErrors,
        tr: &Tr,
        keep: impl Fn(&rules::FieldError) -> bool,
    ) -> Self {
        let errors = errors.for_field(field).filter(|e| keep(e)).map(|e| tr.ta(e.message_id(), &e.args())).collect();
        Self { value, errors }
    }
    pub fn invalid(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// The duration choices: min..=max on the step.
pub struct DurationOption {
    pub minutes: u32,
    pub label: String,
}

#[derive(Template)]
#[template(path = "meeting_form.html")]
pub struct FormPage {
    pub chrome: Chrome,
    pub action: String,
    pub editing: bool,
    pub meeting_id: String,
    /// The address of the room (edit) or a note that it is generated (new).
    pub room_url: Option<String>,
    pub subject: FieldView,
    pub date: FieldView,
    pub time: FieldView,
    pub duration: FieldView,
    pub moderators: FieldView,
    pub guests: FieldView,
    pub durations: Vec<DurationOption>,
    pub duration_custom: bool,
    pub start_step_seconds: u32,
    pub max_moderators: usize,
    pub max_guests: usize,
    pub max_subject: usize,
    /// Summary of every error, each linking to its field.
    pub summary: Vec<(String, String)>,
    /// Who hears about a change of date or time (edit only).
    pub notified: Vec<String>,
    /// The display time zone, for the hint under the date.
    pub zone: String,
    /// Why a valid form was not booked now (the hourly limit), shown above it.
    pub refusal: Option<String>,
    /// The directory answers: the completion widget is offered (shown by the script only).
    pub completion: bool,
    /// The directory does not answer: the form says completion and alias checks are unavailable.
    pub directory_down: bool,
}

impl FormPage {
    /// With what the directory's state means for the form.
    pub fn with_directory(mut self, status: crate::directory::Status) -> Self {
        self.completion = status == crate::directory::Status::Up;
        self.directory_down = status == crate::directory::Status::Down;
        self
    }

    pub fn field_id(name: &str) -> String {
        format!("f-{name}")
    }
}

/// Next start on the step, strictly after `now` (the original's `floor(now/900)×900 + 900`).
pub fn default_start(now: DateTime<Utc>, step_minutes: u32) -> DateTime<Utc> {
    let step = i64::from(step_minutes.max(1)) * 60;
    let next = (now.timestamp().div_euclid(step) + 1) * step;
    DateTime::from_timestamp(next, 0).unwrap_or(now)
}

fn durations(state: &AppState, tr: &Tr) -> Vec<DurationOption> {
    let b = &state.config.booking;
    (b.min_duration_minutes..=b.max_duration_minutes)
        .step_by(b.duration_step_minutes.max(1) as usize)
        .map(|minutes| DurationOption { minutes, label: duration_label(tr, minutes) })
        .collect()
}

/// `90` → `1 h 30` (catalogue formats).
pub fn duration_label(tr: &Tr, minutes: u32) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => tr.ta("minutes", &[("count", m.to_string())]),
        (h, 0) => tr.ta("duration-hours", &[("hours", h.to_string())]),
        (h, m) => tr.ta("duration-hours-minutes", &[("hours", h.to_string()), ("minutes", format!("{m:02}"))]),
    }
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    state: &AppState,
    tr: Tr,
    user: &SignedIn,
    csrf: &CsrfToken,
    form: MeetingForm,
    errors: &FieldErrors,
    existing: Option<&MeetingDetails>,
) -> FormPage {
    let (title, action, here) = match existing {
        Some(d) => (
            tr.t("form-edit-title"),
            format!("/meetings/{}/edit", d.meeting.id),
            format!("/meetings/{}/edit", d.meeting.id),
        ),
        None => (tr.t("form-new-title"), "/meetings/new".to_string(), "/meetings/new".to_string()),
    };
    let summary = errors
        .0
        .iter()
        .map(|(f, e)| {
            let target = match (f, e) {
                (Field::Start, rules::FieldError::StartNotOnStep { .. }) => "time",
                (Field::Start, _) => "date",
                _ => f.name(),
            };
            (format!("#{}", FormPage::field_id(target)), tr.ta(e.message_id(), &e.args()))
        })
        .collect();
    let durations = durations(state, &tr);
    let duration_custom = !durations.iter().any(|d| d.minutes.to_string() == form.duration.trim());
    let b = &state.config.booking;
    FormPage {
        chrome: Chrome::new(state, tr, title, Some(&user.identity), csrf, &here),
        action,
        editing: existing.is_some(),
        meeting_id: existing.map(|d| d.meeting.id.clone()).unwrap_or_default(),
        room_url: existing.map(|d| state.jitsi.room_url(&d.meeting.room)),
        subject: FieldView::new(form.subject, Field::Subject, errors, &tr),
        // A time off the step is the time field's error; the others about the start (no such date,
        // in the past) are the date's.
        date: FieldView::only(form.date, Field::Start, errors, &tr, |e| {
            !matches!(e, rules::FieldError::StartNotOnStep { .. })
        }),
        time: FieldView::only(form.time, Field::Start, errors, &tr, |e| {
            matches!(e, rules::FieldError::StartNotOnStep { .. })
        }),
        duration: FieldView::new(form.duration, Field::Duration, errors, &tr),
        moderators: FieldView::new(form.moderators, Field::Moderators, errors, &tr),
        guests: FieldView::new(form.guests, Field::Guests, errors, &tr),
        durations,
        duration_custom,
        start_step_seconds: b.start_step_minutes * 60,
        max_moderators: b.max_moderators,
        max_guests: b.max_guests,
        max_subject: b.max_subject_chars,
        summary,
        notified: existing
            .map(|d| {
                d.attendees
                    .iter()
                    .filter(|a| a.role != Role::Owner)
                    .map(|a| if a.name.is_empty() { a.mail.clone() } else { format!("{} <{}>", a.name, a.mail) })
                    .collect()
            })
            .unwrap_or_default(),
        zone: state.config.server.display_time_zone.clone(),
        refusal: None,
        completion: false,
        directory_down: false,
    }
}

fn raw(form: &MeetingForm) -> RawMeeting {
    RawMeeting {
        subject: form.subject.clone(),
        start: RawStart::Local { date: form.date.clone(), time: form.time.clone() },
        duration: form.duration.clone(),
        moderators: vec![form.moderators.clone()],
        guests: vec![form.guests.clone()],
    }
}

/// The shared validation, after the directory's aliases, lists and groups (see
/// [`crate::directory::DirectoryService::validate`]).
async fn validate(
    state: &AppState,
    user: &SignedIn,
    form: &MeetingForm,
    now: DateTime<Utc>,
) -> Result<rules::ValidMeeting, FieldErrors> {
    state.directory.validate(&raw(form), rules::Context::new(&state.config, now, &user.identity.mail)).await
}

fn ensure_editor(user: &SignedIn) -> Result<(), PageError> {
    audited("new", "", user, user.ensure_editor())
}

/// The form again, as typed, with why a limit refused it: the refusal's status (429) and `Retry-After`.
fn refused(mut page: FormPage, tr: &Tr, e: &crate::booking::BookingError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    page.refusal = Some(tr.ta(e.message_id(), &e.args()));
    let mut resp = html(status, &page);
    crate::web::set_retry_after(&mut resp, e.retry_after_seconds());
    resp
}

fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

#[derive(serde::Deserialize)]
pub struct NewQuery {
    /// "Duplicate": the id of one of the user's meetings whose subject, duration and people prefill
    /// the form (the date and time stay the next free step: a copy is for another day).
    from: Option<String>,
}

/// `GET /meetings/new`: the empty form with the original's defaults, or a copy of a meeting of the
/// user's (`?from={id}`; someone else's is refused as the edit page refuses it).
pub async fn new_form(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    query: Result<Query<NewQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    ensure_editor(&user)?;
    let tr = state.tr(&headers);
    let tz = state.config.display_tz();
    let start = default_start(state.clock.now(), state.config.booking.start_step_minutes).with_timezone(&tz);
    let mut form = MeetingForm {
        subject: tr.t("form-default-subject"),
        date: start.format("%Y-%m-%d").to_string(),
        time: start.format("%H:%M").to_string(),
        duration: state.config.booking.default_duration_minutes.to_string(),
        ..MeetingForm::default()
    };
    if let Some(from) = query.ok().and_then(|Query(q)| q.from).filter(|f| !f.is_empty()) {
        let d = audited("duplicate", &from, &user, state.bookings.owned(&user.actor(), &from).await)?;
        let copy = form_from(&d, tz);
        form = MeetingForm {
            subject: copy.subject,
            duration: copy.duration,
            moderators: copy.moderators,
            guests: copy.guests,
            ..form
        };
    }
    Ok(html(
        StatusCode::OK,
        &form_page(&state, tr, &user, &csrf, form, &FieldErrors::default(), None)
            .with_directory(state.directory.status().await),
    ))
}

/// `POST /meetings/new`: creates, or shows the form again with the errors (400).
pub async fn create(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    CheckedForm(form): CheckedForm<MeetingForm>,
) -> Result<Response, PageError> {
    ensure_editor(&user)?;
    let tr = state.tr(&headers);
    let now = state.clock.now();
    match validate(&state, &user, &form, now).await {
        Err(errors) => Ok(html(
            StatusCode::BAD_REQUEST,
            &form_page(&state, tr, &user, &csrf, form, &errors, None).with_directory(state.directory.status().await),
        )),
        Ok(valid) => match state.bookings.create(&user.actor(), valid, now).await {
            // A refusal that passes with time (an hourly limit): the form comes back as typed, with
            // the message and `Retry-After`, so nothing typed is lost.
            Err(e) if e.retry_after_seconds().is_some() => {
                let page = form_page(&state, tr, &user, &csrf, form, &FieldErrors::default(), None)
                    .with_directory(state.directory.status().await);
                Ok(refused(page, &tr, &e))
            }
            result => {
                let d = audited("new", "", &user, result)?;
                tracing::info!(target: "audit", action = "new", meeting = %d.meeting.id, room = %d.meeting.room, uid = %user.identity.uid, "booking");
                Ok(see_other("/meetings?done=created"))
            }
        },
    }
}

/// One address as the form shows it: `Name <address>`, the name quoted (with `\` and `"` escaped) when
/// it holds a separator, so that [`rules::split_address_list`] reads it back as one entry with the
/// same name, quotes included.
pub fn address_line(name: &str, mail: &str) -> String {
    if name.is_empty() {
        mail.to_string()
    } else if name.contains([',', ';', '<', '>', '@', '"', '\n', '\r']) {
        format!("\"{}\" <{mail}>", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        format!("{name} <{mail}>")
    }
}

/// The form filled from what is stored, one address per line.
fn form_from(d: &MeetingDetails, tz: chrono_tz::Tz) -> MeetingForm {
    let start = d.meeting.start.with_timezone(&tz);
    let list = |role: Role| d.with_role(role).map(|a| address_line(&a.name, &a.mail)).collect::<Vec<_>>().join("\n");
    MeetingForm {
        csrf: String::new(),
        subject: d.meeting.subject.clone(),
        date: start.format("%Y-%m-%d").to_string(),
        time: start.format("%H:%M").to_string(),
        duration: d.meeting.duration_min.to_string(),
        moderators: list(Role::Moderator),
        guests: list(Role::Guest),
    }
}

/// `GET /meetings/{id}/edit`.
pub async fn edit_form(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    PagePath(id): PagePath<String>,
) -> Result<Response, PageError> {
    let d = audited("edit", &id, &user, state.bookings.editable(&user.actor(), &id, state.clock.now()).await)?;
    let tr = state.tr(&headers);
    let form = form_from(&d, state.config.display_tz());
    Ok(html(
        StatusCode::OK,
        &form_page(&state, tr, &user, &csrf, form, &FieldErrors::default(), Some(&d))
            .with_directory(state.directory.status().await),
    ))
}

/// `POST /meetings/{id}/edit`.
pub async fn update(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    PagePath(id): PagePath<String>,
    CheckedForm(form): CheckedForm<MeetingForm>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    // Ownership and the time window first: someone else learns nothing from validation messages.
    let d = audited("edit", &id, &user, state.bookings.editable(&user.actor(), &id, now).await)?;
    let tr = state.tr(&headers);
    match validate(&state, &user, &form, now).await {
        Err(errors) => Ok(html(
            StatusCode::BAD_REQUEST,
            &form_page(&state, tr, &user, &csrf, form, &errors, Some(&d))
                .with_directory(state.directory.status().await),
        )),
        Ok(valid) => {
            let outcome = match state.bookings.update(&user.actor(), &id, valid, now).await {
                Err(e) if e.retry_after_seconds().is_some() => {
                    let page = form_page(&state, tr, &user, &csrf, form, &FieldErrors::default(), Some(&d))
                        .with_directory(state.directory.status().await);
                    return Ok(refused(page, &tr, &e));
                }
                result => audited("edit", &id, &user, result)?,
            };
            tracing::info!(target: "audit", action = "edit", meeting = %id, room = %outcome.details.meeting.room, uid = %user.identity.uid,
                added = outcome.added.len(), removed = outcome.removed.len(), significant = outcome.significant, "booking");
            // A change of date, time, duration or subject is announced to every attendee: say so.
            Ok(see_other(if outcome.significant { "/meetings?done=moved" } else { "/meetings?done=updated" }))
        }
    }
}

#[derive(Template)]
#[template(path = "meeting_delete.html")]
pub struct DeletePage {
    pub chrome: Chrome,
    pub action: String,
    pub subject: String,
    pub when: String,
    pub duration: String,
    /// (name or address, role) of everyone who hears about the cancellation.
    pub notified: Vec<(String, String)>,
}

/// `GET /meetings/{id}/delete`: the confirmation page (works without JavaScript).
pub async fn delete_confirm(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    PagePath(id): PagePath<String>,
) -> Result<Response, PageError> {
    let d = audited("del", &id, &user, state.bookings.deletable(&user.actor(), &id, state.clock.now()).await)?;
    let tr = state.tr(&headers);
    let page = DeletePage {
        chrome: Chrome::new(
            &state,
            tr,
            tr.t("delete-title"),
            Some(&user.identity),
            &csrf,
            &format!("/meetings/{id}/delete"),
        ),
        action: format!("/meetings/{id}/delete"),
        subject: d.meeting.subject.clone(),
        when: tr.when(d.meeting.start, d.meeting.end()),
        duration: duration_label(&tr, d.meeting.duration_min),
        notified: d
            .attendees
            .iter()
            .filter(|a| a.role != Role::Owner)
            .map(|a| {
                (
                    if a.name.is_empty() { a.mail.clone() } else { format!("{} <{}>", a.name, a.mail) },
                    role_label(&tr, a.role),
                )
            })
            .collect(),
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfOnly {
    pub csrf: String,
}

/// `POST /meetings/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    user: SignedIn,
    PagePath(id): PagePath<String>,
    CheckedForm(_): CheckedForm<CsrfOnly>,
) -> Result<Response, PageError> {
    let deleted = audited("del", &id, &user, state.bookings.delete(&user.actor(), &id, state.clock.now()).await)?;
    tracing::info!(target: "audit", action = "del", meeting = %id, room = %deleted.meeting.room, uid = %user.identity.uid, "booking");
    Ok(see_other("/meetings?done=deleted"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AnswerForm {
    pub csrf: String,
    pub answer: String,
}

/// `POST /meetings/{id}/answer`: accept, answer tentatively or decline from the list.
pub async fn answer(
    State(state): State<AppState>,
    user: SignedIn,
    PagePath(id): PagePath<String>,
    CheckedForm(form): CheckedForm<AnswerForm>,
) -> Result<Response, PageError> {
    let answer = Answer::parse(&form.answer)
        .ok_or_else(|| PageError::BadRequest("answer must be accept, tentative or decline".into()))?;
    let now = state.clock.now();
    // Not invited: the same page as an unknown meeting.
    let outcome = state.bookings.answer_as(&user.identity, &id, answer, None, now).await?;
    tracing::info!(target: "audit", route = "/meetings/answer", room = %outcome.meeting.room, who = %user.identity.mail,
        answer = outcome.attendee.partstat.as_ical(), decision = "ALLOWED");
    Ok(see_other(match answer {
        Answer::Accept => "/meetings?done=accepted",
        Answer::Tentative => "/meetings?done=tentative",
        Answer::Decline => "/meetings?done=declined",
    }))
}

impl CarriesCsrf for MeetingForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CarriesCsrf for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CarriesCsrf for AnswerForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lines_read_back() {
        for (name, mail) in
            [("", "a@x.org"), ("Jean Dupont", "j@x.org"), ("Durand, Anne", "a@x.org"), ("A \"B\" <C>; D", "d@x.org")]
        {
            let line = address_line(name, mail);
            let parsed = rules::split_address_list(&line);
            assert_eq!(parsed.len(), 1, "{line}");
            assert_eq!(parsed[0].1, mail, "{line}");
        }
        assert_eq!(rules::split_address_list(&address_line("Durand, Anne", "a@x.org"))[0].0, "Durand, Anne");
        for name in ["Ëxt \"Mod\"", "A \"B\" <C>; D", "back\\slash, \"quoted\\\"\"", "\"x\""] {
            let line = address_line(name, "m@x.org");
            assert_eq!(rules::split_address_list(&line), vec![(name.to_string(), "m@x.org".to_string())], "{line}");
        }
    }

    mod properties {
        //! Property-based tests of the booking form: arbitrary bodies go through axum's form
        //! extractor and [`rules::validate`] without a panic, and whatever validates keeps every rule;
        //! the form's address lines read back as the names and addresses they were written from; the
        //! time to read and validate a form grows linearly with its size.
        use axum::extract::FromRequest;
        use proptest::prelude::*;
        use proptest::test_runner::FileFailurePersistence;

        use super::super::*;
        use crate::config::BookingConfig;

        fn hostile(max: usize) -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    3 => prop::sample::select(vec![
                        '"', '<', '>', '@', ',', ';', ' ', '\n', '\r', '\t', '\\', '%', '&', '=', '+', '\u{0}', 'é', '😀',
                    ]),
                    3 => prop::char::range('a', 'z'),
                    2 => prop::char::range('0', '9'),
                    1 => any::<char>(),
                ],
                0..max,
            )
            .prop_map(String::from_iter)
        }

        fn mail() -> impl Strategy<Value = String> {
            ("[a-z][a-z0-9]{0,10}", "[a-z]{1,10}", "[a-z]{2,6}").prop_map(|(l, d, t)| format!("{l}@{d}.{t}"))
        }

        /// A body as a browser would post it (urlencoded), or raw bytes that are not one.
        fn body() -> impl Strategy<Value = Vec<u8>> {
            let fields = (
                hostile(60),
                prop_oneof![Just("2026-12-05".to_string()), Just("05/12/2026".to_string()), hostile(12)],
                prop_oneof![Just("10:00".to_string()), Just("10:07".to_string()), hostile(8)],
                prop_oneof![
                    Just("90".to_string()),
                    Just("-30".to_string()),
                    Just("99999999999999999999".to_string()),
                    hostile(6)
                ],
                prop_oneof![prop::collection::vec(mail(), 0..4).prop_map(|m| m.join(", ")), hostile(80)],
                prop_oneof![prop::collection::vec(mail(), 0..60).prop_map(|m| m.join("\n")), hostile(200)],
            )
                .prop_map(|(subject, date, time, duration, moderators, guests)| {
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs([
                            ("csrf", "x"),
                            ("subject", &subject),
                            ("date", &date),
                            ("time", &time),
                            ("duration", &duration),
                            ("moderators", &moderators),
                            ("guests", &guests),
                        ])
                        .finish()
                        .into_bytes()
                });
            prop_oneof![4 => fields, 1 => prop::collection::vec(any::<u8>(), 0..200)]
        }

        fn parse(body: Vec<u8>) -> Option<MeetingForm> {
            let req = axum::http::Request::post("/meetings/new")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(axum::Form::<MeetingForm>::from_request(req, &())).ok().map(|axum::Form(f)| f)
        }

        fn context(limits: &BookingConfig) -> rules::Context<'_> {
            rules::Context {
                limits,
                now: "2026-12-01T08:00:00Z".parse().unwrap(),
                tz: chrono_tz::Europe::Paris,
                owner_mail: "owner@example.org",
                resolution: None,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
                ..ProptestConfig::default()
            })]

            #[test]
            fn any_form_is_read_and_validated_without_a_panic(body in body()) {
                let limits = BookingConfig::default();
                let Some(form) = parse(body) else { return Ok(()) };
                match rules::validate(&raw(&form), &context(&limits)) {
                    Ok(v) => {
                        prop_assert!(!v.subject.is_empty() && v.subject.chars().count() <= limits.max_subject_chars);
                        prop_assert!(!v.subject.chars().any(char::is_control));
                        prop_assert!(v.duration_min >= limits.min_duration_minutes && v.duration_min <= limits.max_duration_minutes);
                        prop_assert_eq!(v.duration_min % limits.duration_step_minutes, 0);
                        prop_assert!(!v.guests.is_empty() && v.guests.len() <= limits.max_guests);
                        prop_assert!(v.moderators.len() <= limits.max_moderators);
                        prop_assert!(v.guests.iter().chain(&v.moderators).all(|i| i.mail.as_str() != "owner@example.org"));
                    }
                    Err(errors) => prop_assert!(!errors.is_empty()),
                }
            }

            /// The edit form writes each invitee as an address line; reading the lines back gives the
            /// same addresses and names (names as stored: without control characters, trimmed).
            #[test]
            fn address_lines_read_back_as_written(
                people in prop::collection::vec((hostile(40), mail()), 1..10),
            ) {
                let text = people.iter().map(|(n, m)| address_line(n, m)).collect::<Vec<_>>().join("\n");
                let got = rules::split_address_list(&text);
                let want: Vec<(String, String)> = people
                    .iter()
                    .map(|(n, m)| {
                        let clean: String = n.chars().filter(|c| !c.is_control()).collect();
                        (clean.chars().take(120).collect::<String>().trim().to_string(), m.clone())
                    })
                    .collect();
                prop_assert_eq!(got, want, "{}", text);
            }
        }

        #[test]
        fn reading_and_validating_time_is_linear() {
            let limits = BookingConfig::default();
            // A growing subject and growing invalid lists (refused by length, then counted).
            crate::testkit::assert_linear("form extraction + validation", 2_000, |n| {
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([
                        ("subject", "Réunion d'équipe ; « budget » ".repeat(n)),
                        ("date", "2026-12-05".into()),
                        ("time", "10:00".into()),
                        ("duration", "90".into()),
                        ("guests", "a@b ".repeat(n)),
                    ])
                    .finish();
                let form = parse(body.into_bytes()).unwrap();
                rules::validate(&raw(&form), &context(&limits)).unwrap_err().0.len()
            });
        }
    }

    #[test]
    fn default_start_is_the_next_step() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(default_start(at("2026-12-01T08:00:00Z"), 15), at("2026-12-01T08:15:00Z"));
        assert_eq!(default_start(at("2026-12-01T08:14:59Z"), 15), at("2026-12-01T08:15:00Z"));
        assert_eq!(default_start(at("2026-12-01T23:50:00Z"), 15), at("2026-12-02T00:00:00Z"));
    }
}
