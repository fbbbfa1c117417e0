//! The JSON API under `/api/v1`: meetings (create, list, get, update, delete), answers, and the OpenAPI
//! document. Same sign-in and editor rules as the pages, same validation ([`crate::booking::rules`]);
//! errors are RFC 9457 problem documents in the caller's language.
//!
//! Cross-site requests cannot reach it with a browser's ambient credentials: writes require a JSON
//! body (`Content-Type: application/json`, which a cross-site form cannot send without a CORS
//! preflight that jmb never grants) or the DELETE method (likewise).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::SignedIn;
use crate::booking::BookingError;
use crate::booking::model::{Answer, Attendee, MeetingDetails, Note, PartStat, Phase, Role};
use crate::booking::rules::{self, FieldErrors, RawMeeting, RawStart};
use crate::i18n::Tr;
use crate::state::AppState;
use crate::web::problem::Problem;

/// Every API route, as (method, path template) pairs; the OpenAPI document must list exactly these.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/meetings"),
    ("post", "/api/v1/meetings"),
    ("get", "/api/v1/meetings/{id}"),
    ("put", "/api/v1/meetings/{id}"),
    ("delete", "/api/v1/meetings/{id}"),
    ("post", "/api/v1/meetings/{id}/answer"),
    ("get", "/api/v1/directory/search"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/me", get(me))
        .route("/api/v1/meetings", get(list).post(create))
        .route("/api/v1/meetings/{id}", get(show).put(update).delete(remove))
        .route("/api/v1/meetings/{id}/answer", post(answer))
        .route("/api/v1/directory/search", get(directory_search))
        .fallback(not_found)
}

pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    let mut resp = OPENAPI.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

async fn not_found(headers: HeaderMap, State(state): State<AppState>) -> Response {
    Problem::new(StatusCode::NOT_FOUND, state.tr(&headers).t("error-not-found")).into_response()
}

/// An API error, rendered as a problem document in the caller's language.
pub struct ApiError {
    tr: Tr,
    kind: ApiErrorKind,
}

enum ApiErrorKind {
    Booking(BookingError),
    Validation(FieldErrors),
    BadBody(String),
    TooLarge,
    /// Completion asked too often (`directory::SEARCHES_PER_MINUTE`): 429 with `Retry-After`.
    TooManySearches {
        retry_after_seconds: u64,
    },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let tr = self.tr;
        match self.kind {
            ApiErrorKind::Validation(errors) => {
                let mut p = Problem::new(StatusCode::BAD_REQUEST, tr.t("error-validation"))
                    .with_type("/api/v1/problems/validation");
                p.title = tr.t("error-validation-title");
                for (field, e) in errors.0 {
                    p.errors.entry(field.name().to_string()).or_default().push(tr.ta(e.message_id(), &e.args()));
                }
                p.into_response()
            }
            ApiErrorKind::BadBody(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, tr.ta("error-bad-request", &[("detail", detail)])).into_response()
            }
            ApiErrorKind::TooLarge => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                tr.ta("error-bad-request", &[("detail", "body too large".into())]),
            )
            .into_response(),
            ApiErrorKind::TooManySearches { retry_after_seconds } => {
                let max = crate::directory::SEARCHES_PER_MINUTE.to_string();
                let mut resp =
                    Problem::new(StatusCode::TOO_MANY_REQUESTS, tr.ta("error-too-many-searches", &[("max", max)]))
                        .into_response();
                crate::web::set_retry_after(&mut resp, Some(retry_after_seconds));
                resp
            }
            ApiErrorKind::Booking(e) => {
                if e.is_internal() {
                    tracing::error!(error.message = %e, "API request failed");
                }
                let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut resp = Problem::new(status, tr.ta(e.message_id(), &e.args())).into_response();
                crate::web::set_retry_after(&mut resp, e.retry_after_seconds());
                resp
            }
        }
    }
}

/// The request's translations, for errors.
struct Lang(Tr);

impl axum::extract::FromRequestParts<AppState> for Lang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Lang(state.tr(&parts.headers)))
    }
}

fn err(tr: Tr, e: impl Into<ApiErrorKind>) -> ApiError {
    ApiError { tr, kind: e.into() }
}

impl From<BookingError> for ApiErrorKind {
    fn from(e: BookingError) -> Self {
        ApiErrorKind::Booking(e)
    }
}

impl From<FieldErrors> for ApiErrorKind {
    fn from(e: FieldErrors) -> Self {
        ApiErrorKind::Validation(e)
    }
}

/// A JSON body whose rejections (wrong content type, bad JSON, invalid UTF-8) become problem documents.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let tr = state.tr(req.headers());
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => {
                let detail = match &rejection {
                    JsonRejection::MissingJsonContentType(_) => "expected Content-Type: application/json".to_string(),
                    other => other.body_text(),
                };
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    return Err(ApiError { tr, kind: ApiErrorKind::TooLarge });
                }
                Err(ApiError { tr, kind: ApiErrorKind::BadBody(detail) })
            }
        }
    }
}

/// A path parameter; one that cannot be decoded (invalid UTF-8) names no meeting: 404 problem.
pub struct ApiPath<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<AppState> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(_) => Err(err(state.tr(&parts.headers), BookingError::NotFound)),
        }
    }
}

// ---- representations ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingInput {
    #[serde(default)]
    pub subject: String,
    /// RFC 3339 instant.
    #[serde(default)]
    pub start: String,
    /// Minutes.
    #[serde(default)]
    pub duration: Option<serde_json::Value>,
    #[serde(default)]
    pub moderators: Vec<String>,
    #[serde(default)]
    pub guests: Vec<String>,
}

impl MeetingInput {
    fn into_raw(self) -> RawMeeting {
        let duration = match self.duration {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s,
            Some(other) => other.to_string(),
        };
        RawMeeting {
            subject: self.subject,
            start: RawStart::Rfc3339(self.start),
            duration,
            moderators: self.moderators,
            guests: self.guests,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AttendeeView {
    pub mail: String,
    pub name: String,
    pub role: Role,
    pub partstat: PartStat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_join: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_join: Option<DateTime<Utc>>,
    /// Personal links are shown to their holder and to the owner only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rsvp_url: Option<String>,
    /// Minutes in the meeting (Prosody's event_sync): the owner's view of one meeting, with
    /// `[presence]` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes_present: Option<i64>,
    /// The note left with the answer (`""`: none), shown to its writer and to the owner only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Someone in the meeting's room nobody invited (an anonymous guest, another token holder).
#[derive(Debug, Serialize)]
pub struct NotInvitedView {
    /// What their token said; empty for anonymous guests.
    pub name: String,
    pub mail: String,
    pub minutes_present: i64,
}

#[derive(Debug, Serialize)]
pub struct MeetingView {
    pub id: String,
    pub uid: String,
    pub subject: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub duration: u32,
    pub room: String,
    pub sequence: u32,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// The caller's role and answer.
    pub role: Role,
    pub partstat: PartStat,
    pub state: &'static str,
    /// Where the caller joins: their personal link, or the token route for owners.
    pub join_url: String,
    pub attendees: Vec<AttendeeView>,
    /// The owner's view of one meeting, with `[presence]` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_invited: Option<Vec<NotInvitedView>>,
}

fn view(state: &AppState, d: &MeetingDetails, viewer: &SignedIn, now: DateTime<Utc>) -> Option<MeetingView> {
    let me = &viewer.identity;
    let is_owner = d.is_owned_by(me);
    let mine: &Attendee = d.row_of(me)?;
    let m = &d.meeting;
    let limits = &state.config.booking;
    let meeting_state =
        Phase::of(m, mine.role, limits.highlight_owner_minutes, limits.highlight_guest_minutes, now).as_str();
    let join_url = if mine.role == Role::Owner {
        state.url(&format!("/m/{}", m.room))
    } else {
        state.url(&format!("/j/{}", mine.token))
    };
    let attendees = d
        .attendees
        .iter()
        .map(|a| {
            let links = is_owner || a.id == mine.id;
            AttendeeView {
                mail: a.mail.clone(),
                name: a.name.clone(),
                role: a.role,
                partstat: a.partstat,
                join_count: is_owner.then_some(a.join_count),
                first_join: if is_owner { a.first_join } else { None },
                last_join: if is_owner { a.last_join } else { None },
                join_url: links.then(|| state.url(&format!("/j/{}", a.token))),
                rsvp_url: links.then(|| state.url(&format!("/rsvp/{}", a.token))),
                minutes_present: None,
                note: links.then(|| a.note.clone()),
            }
        })
        .collect();
    Some(MeetingView {
        id: m.id.clone(),
        uid: m.ical_uid.clone(),
        subject: m.subject.clone(),
        start: m.start,
        end: m.end(),
        duration: m.duration_min,
        room: m.room.clone(),
        sequence: m.sequence,
        created: m.created,
        updated: m.updated,
        role: mine.role,
        partstat: mine.partstat,
        state: meeting_state,
        join_url,
        attendees,
        not_invited: None,
    })
}

// ---- handlers ----

#[derive(Serialize)]
struct MeView {
    uid: String,
    mail: String,
    name: String,
    editor: bool,
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

#[derive(Serialize)]
struct SearchView {
    /// False when no directory is configured or it did not answer: no completion, no alias checks.
    available: bool,
    results: Vec<PersonView>,
}

#[derive(Serialize)]
struct PersonView {
    name: String,
    mail: String,
}

/// `GET /api/v1/directory/search?q=`: address completion for the booking form, for editors only; the
/// text from 2 to 100 characters, at most `directory.completion_results` people, at most
/// [`crate::directory::SEARCHES_PER_MINUTE`] requests a minute per user (then 429).
async fn directory_search(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    user.ensure_editor().map_err(|e| err(tr, e))?;
    let Query(q) = query.map_err(|e| ApiError { tr, kind: ApiErrorKind::BadBody(e.body_text()) })?;
    let text = q.q.trim();
    let chars = text.chars().count();
    use crate::directory::{MAX_SEARCH_CHARS, MIN_SEARCH_CHARS};
    if !(MIN_SEARCH_CHARS..=MAX_SEARCH_CHARS).contains(&chars) || text.chars().any(char::is_control) {
        return Err(ApiError {
            tr,
            kind: ApiErrorKind::BadBody(format!(
                "q must have {MIN_SEARCH_CHARS} to {MAX_SEARCH_CHARS} characters, without control characters"
            )),
        });
    }
    let view = if state.directory.enabled() {
        if let Err(retry_after_seconds) = state.directory.take_search_quota(&user.identity.uid) {
            tracing::info!(uid = %user.identity.uid, "directory completion asked too often");
            return Err(ApiError { tr, kind: ApiErrorKind::TooManySearches { retry_after_seconds } });
        }
        match state.directory.search(text).await {
            Ok(people) => SearchView {
                available: true,
                results: people.into_iter().map(|p| PersonView { name: p.name, mail: p.mail }).collect(),
            },
            Err(_) => SearchView { available: false, results: Vec::new() },
        }
    } else {
        SearchView { available: false, results: Vec::new() }
    };
    let mut resp = Json(view).into_response();
    // People's names and addresses: not for shared caches, nor kept by the browser.
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(resp)
}

async fn me(user: SignedIn) -> Json<MeView> {
    Json(MeView { uid: user.identity.uid, mail: user.identity.mail, name: user.identity.name, editor: user.is_editor })
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    page: Option<u32>,
}

#[derive(Serialize)]
struct ListView {
    meetings: Vec<MeetingView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u32>,
}

const PAGE_SIZE: u32 = 50;

async fn list(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListView>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError { tr, kind: ApiErrorKind::BadBody(e.body_text()) })?;
    let now = state.clock.now();
    let archived = match q.scope.as_deref() {
        None | Some("upcoming") => false,
        Some("archived") => true,
        Some(other) => {
            return Err(ApiError {
                tr,
                kind: ApiErrorKind::BadBody(format!("unknown scope {other:?}: use upcoming or archived")),
            });
        }
    };
    let page = q.page.unwrap_or(0).min(100_000);
    let (rows, total) = if archived {
        let days = state.config.booking.archive_days;
        let (rows, total) =
            state.bookings.archived(&user.identity, now, days, page, PAGE_SIZE).await.map_err(|e| err(tr, e))?;
        (rows, Some(total))
    } else {
        (state.bookings.upcoming(&user.identity, now).await.map_err(|e| err(tr, e))?, None)
    };
    let meetings = rows.iter().filter_map(|l| view(&state, &l.details, &user, now)).collect();
    Ok(Json(ListView { meetings, total }))
}

async fn show(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MeetingView>, ApiError> {
    // Someone with no role in the meeting learns nothing, not even that it exists.
    let d = state.bookings.visible(&user.identity, &id).await.map_err(|e| err(tr, e))?;
    let now = state.clock.now();
    let mut v = view(&state, &d, &user, now).ok_or_else(|| err(tr, BookingError::NotFound))?;
    // Presence, for the owner as on the tracking page.
    if let Some(presence) = &state.presence
        && d.is_owned_by(&user.identity)
    {
        let report = presence.report(&d.meeting, now).await.map_err(|e| err(tr, BookingError::Store(e)))?;
        for (view, a) in v.attendees.iter_mut().zip(&d.attendees) {
            view.minutes_present = Some(report.of(a.id).minutes());
        }
        v.not_invited = Some(
            report
                .unknown
                .iter()
                .map(|u| NotInvitedView {
                    name: u.name.clone(),
                    mail: u.mail.clone(),
                    minutes_present: u.attendance.minutes(),
                })
                .collect(),
        );
    }
    Ok(Json(v))
}

async fn create(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    ApiJson(input): ApiJson<MeetingInput>,
) -> Result<Response, ApiError> {
    if let Err(e) = user.ensure_editor() {
        // Refused before validation: a non-editor learns nothing from validation messages.
        tracing::info!(target: "audit", uid = %user.identity.uid, decision = "DENIED", reason = %e, "create meeting: not an editor");
        return Err(err(tr, e));
    }
    let now = state.clock.now();
    let valid = validate(&state, &user, input, now).await.map_err(|e| err(tr, e))?;
    let d = state.bookings.create(&user.actor(), valid, now).await.map_err(|e| audited(tr, "new", "", &user, e))?;
    tracing::info!(target: "audit", action = "new", meeting = %d.meeting.id, room = %d.meeting.room, uid = %user.identity.uid, "booking");
    let body = view(&state, &d, &user, now).ok_or_else(|| err(tr, BookingError::NotFound))?;
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/meetings/{}", d.meeting.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// The shared validation, after the directory's aliases, lists and groups (see
/// [`crate::directory::DirectoryService::validate`]).
async fn validate(
    state: &AppState,
    user: &SignedIn,
    input: MeetingInput,
    now: DateTime<Utc>,
) -> Result<rules::ValidMeeting, FieldErrors> {
    state.directory.validate(&input.into_raw(), rules::Context::new(&state.config, now, &user.identity.mail)).await
}

async fn update(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<MeetingInput>,
) -> Result<Json<MeetingView>, ApiError> {
    let now = state.clock.now();
    // Ownership, editor right and time window first: a stranger learns nothing from validation messages.
    state.bookings.editable(&user.actor(), &id, now).await.map_err(|e| audited(tr, "edit", &id, &user, e))?;
    let valid = validate(&state, &user, input, now).await.map_err(|e| err(tr, e))?;
    let outcome =
        state.bookings.update(&user.actor(), &id, valid, now).await.map_err(|e| audited(tr, "edit", &id, &user, e))?;
    tracing::info!(target: "audit", action = "edit", meeting = %id, room = %outcome.details.meeting.room, uid = %user.identity.uid,
        added = outcome.added.len(), removed = outcome.removed.len(), "booking");
    view(&state, &outcome.details, &user, now).map(Json).ok_or_else(|| err(tr, BookingError::NotFound))
}

async fn remove(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let d = state
        .bookings
        .delete(&user.actor(), &id, state.clock.now())
        .await
        .map_err(|e| audited(tr, "del", &id, &user, e))?;
    tracing::info!(target: "audit", action = "del", meeting = %id, room = %d.meeting.room, uid = %user.identity.uid, "booking");
    Ok(StatusCode::NO_CONTENT)
}

/// An API error for a core refusal, with an audit line when someone reached for a meeting that is not
/// theirs to change.
fn audited(tr: Tr, action: &'static str, meeting: &str, user: &SignedIn, e: BookingError) -> ApiError {
    // Not an editor because the directory did not answer: say that, not "your account may not".
    let e = match e {
        BookingError::NotEditor if user.editor_undecided => BookingError::EditorUndecided,
        e => e,
    };
    if matches!(e, BookingError::NotFound | BookingError::NotOwner | BookingError::NotEditor) {
        tracing::info!(target: "audit", action, meeting, uid = %user.identity.uid, reason = %e, decision = "DENIED", "booking");
    }
    err(tr, e)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerInput {
    answer: String,
    /// The note for the organiser: absent keeps the stored one, `""` removes it.
    #[serde(default)]
    note: Option<String>,
}

async fn answer(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<AnswerInput>,
) -> Result<Json<MeetingView>, ApiError> {
    let answer = Answer::parse(&input.answer).ok_or_else(|| ApiError {
        tr,
        kind: ApiErrorKind::BadBody("answer must be \"accept\", \"tentative\" or \"decline\"".into()),
    })?;
    let note = input.note.as_deref().map(Note::parse).transpose().map_err(|_| ApiError {
        tr,
        kind: ApiErrorKind::BadBody(format!("note must be at most {} characters", Note::MAX_CHARS)),
    })?;
    let now = state.clock.now();
    let outcome = state.bookings.answer_as(&user.identity, &id, answer, note, now).await.map_err(|e| err(tr, e))?;
    tracing::info!(target: "audit", route = "/api/v1/answer", room = %outcome.meeting.room, who = %user.identity.mail,
        answer = outcome.attendee.partstat.as_ical(), decision = "ALLOWED");
    let d = state.bookings.visible(&user.identity, &id).await.map_err(|e| err(tr, e))?;
    view(&state, &d, &user, now).map(Json).ok_or_else(|| err(tr, BookingError::NotFound))
}

#[cfg(test)]
mod tests {
    //! Property-based tests of the API's JSON input: any JSON value (or bytes) is read as a
    //! [`MeetingInput`] or refused, and what is read validates or gives field errors, never a panic;
    //! the time to read and validate grows linearly with the body.
    use proptest::prelude::*;
    use proptest::test_runner::FileFailurePersistence;
    use serde_json::{Value, json};

    use super::*;
    use crate::config::BookingConfig;

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            Just(json!(90)),
            Just(json!("2026-12-05T09:00:00Z")),
            Just(json!("a@b.org")),
            "[\\PC]{0,30}".prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(3, 30, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// An object with the input's field names, each holding any value.
    fn input_like() -> impl Strategy<Value = Value> {
        (value(), value(), value(), value(), value()).prop_map(|(subject, start, duration, moderators, guests)| {
            json!({ "subject": subject, "start": start, "duration": duration, "moderators": moderators, "guests": guests })
        })
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

    /// What the API does with a body: read it, then validate it.
    fn read_and_validate(body: &[u8], limits: &BookingConfig) -> Option<Result<rules::ValidMeeting, FieldErrors>> {
        let input: MeetingInput = serde_json::from_slice(body).ok()?;
        Some(rules::validate(&input.into_raw(), &context(limits)))
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_json_is_read_and_validated_without_a_panic(v in prop_oneof![input_like(), value()]) {
            let limits = BookingConfig::default();
            let body = serde_json::to_vec(&v).unwrap();
            if let Some(Ok(valid)) = read_and_validate(&body, &limits) {
                prop_assert!(!valid.subject.is_empty() && !valid.guests.is_empty());
                prop_assert!(valid.guests.len() <= limits.max_guests && valid.moderators.len() <= limits.max_moderators);
            }
        }

        #[test]
        fn any_bytes_are_refused_or_read(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = read_and_validate(&bytes, &BookingConfig::default());
        }
    }

    #[test]
    fn reading_and_validating_time_is_linear() {
        let limits = BookingConfig::default();
        crate::testkit::assert_linear("JSON input + validation", 1_000, |n| {
            let body = serde_json::to_vec(&json!({
                "subject": "Réunion « budget » ; ".repeat(n),
                "start": "2026-12-05T09:00:00Z",
                "duration": 90,
                "guests": vec!["not an address"; n],
            }))
            .unwrap();
            read_and_validate(&body, &limits).unwrap().unwrap_err().0.len()
        });
    }
}
