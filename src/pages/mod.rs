//! The HTML pages (the edge): the signed-in user's list, the booking form, the delete confirmation,
//! attendee tracking, the calendar access page, the routes behind the links people receive (`/m/`,
//! `/j/`, `/rsvp/`) and the original JMB's CGI URLs. Handlers parse input into domain types, call one
//! operation of the core ([`crate::booking::Bookings`], [`crate::users::Users`]) and render a template;
//! they never run SQL and never decide a booking rule themselves.

pub mod attendees;
pub mod calendar;
pub mod form;
pub mod home;
pub mod legacy;
pub mod links;
pub mod mailbox;

use axum::Router;
use axum::routing::{get, post};

use crate::auth::SignedIn;
use crate::booking::BookingError;
use crate::booking::model::{PartStat, Role};
use crate::i18n::Tr;
use crate::state::AppState;
use crate::web::PageError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/meetings", get(home::home))
        .route("/meetings/new", get(form::new_form).post(form::create))
        .route("/meetings/{id}/edit", get(form::edit_form).post(form::update))
        .route("/meetings/{id}/delete", get(form::delete_confirm).post(form::delete))
        .route("/meetings/{id}/answer", post(form::answer))
        .route("/meetings/{id}/attendees", get(attendees::page))
        .route("/meetings/{id}/attendees.csv", get(attendees::export))
        .route("/m/{room}", get(links::moderator_entry))
        .route("/j/{token}", get(links::personal_join))
        .route("/rsvp/{token}", get(links::rsvp_show).post(links::rsvp_submit))
        .route("/rsvp/{token}/invitation.ics", get(links::rsvp_ics))
        .route("/calendar", get(calendar::page))
        .route("/calendar/password", post(calendar::new_password))
        .route("/calendar/feed", post(calendar::replace_feed))
        .merge(legacy::router())
}

/// Maps a core refusal to a page, with an audit line when someone reached for a meeting that is not
/// theirs to change.
pub(crate) fn audited<T>(
    action: &'static str,
    meeting: &str,
    user: &SignedIn,
    result: Result<T, BookingError>,
) -> Result<T, PageError> {
    result.map_err(|e| {
        // Not an editor because the directory did not answer: say that, not "your account may not".
        let e = match e {
            BookingError::NotEditor if user.editor_undecided => BookingError::EditorUndecided,
            e => e,
        };
        if matches!(e, BookingError::NotFound | BookingError::NotOwner | BookingError::NotEditor) {
            tracing::info!(target: "audit", action, meeting, uid = %user.identity.uid, reason = %e, decision = "DENIED", "booking");
        }
        e.into()
    })
}

pub fn role_label(tr: &Tr, role: Role) -> String {
    tr.t(match role {
        Role::Owner => "role-owner",
        Role::Moderator => "role-moderator",
        Role::Guest => "role-guest",
    })
}

pub fn partstat_label(tr: &Tr, p: PartStat) -> String {
    tr.t(match p {
        PartStat::NeedsAction => "partstat-needs-action",
        PartStat::Accepted => "partstat-accepted",
        PartStat::Tentative => "partstat-tentative",
        PartStat::Declined => "partstat-declined",
    })
}

pub fn partstat_class(p: PartStat) -> &'static str {
    match p {
        PartStat::NeedsAction => "needs-action",
        PartStat::Accepted => "accepted",
        PartStat::Tentative => "tentative",
        PartStat::Declined => "declined",
    }
}
