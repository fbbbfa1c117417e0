//! The JSON API under `/api/v1`: meetings (create, list, get, update, delete), answers, and the OpenAPI
//! document. Same sign-in and editor rules as the pages, same validation ([`crate::booking::rules`]);
//! errors are RFC 9457 problem documents in the caller's language.
//!
//! Cross-site requests cannot reach it with a browser's ambient credentials: writes require a JSON
//! body (`Content-Type: application/json`, which a cross-site form cannot send without a CORS
//! preflight that jmb never grants) or the DELETE method (likewise).

pub mod problem;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::booking::model::{Answer, Attendee, MeetingDetails, PartStat, Role};
use crate::booking::repo::{self, Scope};
use crate::booking::rules::{self, FieldErrors, RawMeeting, RawStart};
use crate::booking::service::{self, BookingError};
use crate::identity::SignedIn;
use crate::state::AppState;
use crate::web::i18n::Tr;
use problem::Problem;

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
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/me", get(me))
        .route("/api/v1/meetings", get(list).post(create))
        .route("/api/v1/meetings/{id}", get(show).put(update).delete(remove))
        .route("/api/v1/meetings/{id}/answer", post(answer))
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
    NotEditor,
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
            ApiErrorKind::NotEditor => Problem::new(StatusCode::FORBIDDEN, tr.t("error-not-editor")).into_response(),
            ApiErrorKind::Booking(e) => {
                let (status, id) = match &e {
                    BookingError::NotFound => (StatusCode::NOT_FOUND, "error-meeting-not-found"),
                    BookingError::Forbidden(_) => (StatusCode::FORBIDDEN, "error-not-owner"),
                    BookingError::Conflict("meeting-started") => (StatusCode::CONFLICT, "error-meeting-started"),
                    BookingError::Conflict("owner-answers") => (StatusCode::CONFLICT, "error-owner-answers"),
                    BookingError::Conflict(_) => (StatusCode::CONFLICT, "error-no-free-identifier"),
                    BookingError::Ended => (StatusCode::GONE, "error-gone-plain"),
                    BookingError::Db(err) => {
                        tracing::error!(error.message = %err, "API request failed");
                        (StatusCode::INTERNAL_SERVER_ERROR, "error-internal")
                    }
                };
                Problem::new(status, tr.t(id)).into_response()
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
}

fn view(state: &AppState, d: &MeetingDetails, viewer: &SignedIn, now: DateTime<Utc>) -> Option<MeetingView> {
    let me = &viewer.identity;
    let is_owner = service::is_owner(&d.meeting, me);
    let mine: &Attendee = if is_owner { d.owner()? } else { d.attendee_by_mail(&me.mail)? };
    let early = if mine.role.is_host() {
        state.config.booking.highlight_owner_minutes
    } else {
        state.config.booking.highlight_guest_minutes
    };
    let m = &d.meeting;
    let meeting_state = if m.has_ended(now) {
        "finished"
    } else if m.has_started(now) {
        "ongoing"
    } else if now >= m.start - Duration::minutes(i64::from(early)) {
        "joinable"
    } else {
        "planned"
    };
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
    let (uid, mail) = (user.identity.uid.clone(), user.identity.mail.clone());
    let since = now - Duration::days(i64::from(state.config.booking.archive_days));
    let page = q.page.unwrap_or(0).min(100_000);
    let (rows, total) = state
        .db
        .read(move |c| -> Result<_, BookingError> {
            if archived {
                let scope = Scope::Archived { now, since, limit: PAGE_SIZE, offset: page * PAGE_SIZE };
                Ok((
                    repo::list_for_user(c, &uid, &mail, scope)?,
                    Some(repo::count_archived(c, &uid, &mail, now, since)?),
                ))
            } else {
                Ok((repo::list_for_user(c, &uid, &mail, Scope::Upcoming { now })?, None))
            }
        })
        .await
        .map_err(|e| err(tr, e))?;
    let meetings = rows.iter().filter_map(|l| view(&state, &l.details, &user, now)).collect();
    Ok(Json(ListView { meetings, total }))
}

async fn show(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    Path(id): Path<String>,
) -> Result<Json<MeetingView>, ApiError> {
    let d = service::get(&state.db, &id).await.map_err(|e| err(tr, e))?;
    // Someone with no role in the meeting learns nothing, not even that it exists.
    view(&state, &d, &user, state.clock.now()).map(Json).ok_or_else(|| err(tr, BookingError::NotFound))
}

async fn create(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    ApiJson(input): ApiJson<MeetingInput>,
) -> Result<Response, ApiError> {
    if !user.is_editor {
        tracing::info!(target: "audit", uid = %user.identity.uid, decision = "DENIED", "create meeting: not an editor");
        return Err(ApiError { tr, kind: ApiErrorKind::NotEditor });
    }
    let now = state.clock.now();
    let valid = validate(&state, &user, input, now).map_err(|e| err(tr, e))?;
    let d = service::create(&state.db, &user.identity, valid, now, &state.config.public_host())
        .await
        .map_err(|e| err(tr, e))?;
    tracing::info!(target: "audit", action = "new", meeting = %d.meeting.id, room = %d.meeting.room, uid = %user.identity.uid, "booking");
    let body = view(&state, &d, &user, now).ok_or_else(|| err(tr, BookingError::NotFound))?;
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/meetings/{}", d.meeting.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

fn validate(
    state: &AppState,
    user: &SignedIn,
    input: MeetingInput,
    now: DateTime<Utc>,
) -> Result<rules::ValidMeeting, FieldErrors> {
    rules::validate(&input.into_raw(), &rules::Context::new(&state.config, now, &user.identity.mail))
}

async fn update(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<MeetingInput>,
) -> Result<Json<MeetingView>, ApiError> {
    let now = state.clock.now();
    // Ownership first: a stranger learns nothing from validation messages.
    ensure_owner(&state, tr, &user, &id, "edit").await?;
    if !user.is_editor {
        return Err(ApiError { tr, kind: ApiErrorKind::NotEditor });
    }
    let valid = validate(&state, &user, input, now).map_err(|e| err(tr, e))?;
    let outcome = service::update(&state.db, &user.identity, &id, valid, now).await.map_err(|e| err(tr, e))?;
    tracing::info!(target: "audit", action = "edit", meeting = %id, room = %outcome.details.meeting.room, uid = %user.identity.uid,
        added = outcome.added.len(), removed = outcome.removed.len(), "booking");
    view(&state, &outcome.details, &user, now).map(Json).ok_or_else(|| err(tr, BookingError::NotFound))
}

async fn remove(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    ensure_owner(&state, tr, &user, &id, "del").await?;
    let d = service::delete(&state.db, &user.identity, &id, state.clock.now()).await.map_err(|e| err(tr, e))?;
    tracing::info!(target: "audit", action = "del", meeting = %id, room = %d.meeting.room, uid = %user.identity.uid, "booking");
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses a meeting the caller does not own: 403 for an invitee, 404 for a stranger (who must not
/// learn that it exists). Audited.
async fn ensure_owner(
    state: &AppState,
    tr: Tr,
    user: &SignedIn,
    id: &str,
    action: &'static str,
) -> Result<(), ApiError> {
    let existing = service::get(&state.db, id).await.map_err(|e| err(tr, e))?;
    if service::is_owner(&existing.meeting, &user.identity) {
        return Ok(());
    }
    tracing::info!(target: "audit", action, meeting = %id, uid = %user.identity.uid, decision = "DENIED", "booking");
    let visible = existing.attendee_by_mail(&user.identity.mail).is_some();
    Err(err(tr, if visible { BookingError::Forbidden("not-owner") } else { BookingError::NotFound }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerInput {
    answer: String,
}

async fn answer(
    State(state): State<AppState>,
    Lang(tr): Lang,
    user: SignedIn,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AnswerInput>,
) -> Result<Json<MeetingView>, ApiError> {
    let answer = Answer::parse(&input.answer).ok_or_else(|| ApiError {
        tr,
        kind: ApiErrorKind::BadBody("answer must be \"accept\" or \"decline\"".into()),
    })?;
    let now = state.clock.now();
    let outcome = service::answer_as_user(&state.db, &user.identity, &id, answer, now).await.map_err(|e| err(tr, e))?;
    tracing::info!(target: "audit", route = "/api/v1/answer", room = %outcome.meeting.room, who = %user.identity.mail,
        answer = outcome.attendee.partstat.as_ical(), decision = "ALLOWED");
    let d = service::get(&state.db, &id).await.map_err(|e| err(tr, e))?;
    view(&state, &d, &user, now).map(Json).ok_or_else(|| err(tr, BookingError::NotFound))
}
