//! Calendar access: every meeting is a calendar event, and each user sees theirs, with every
//! attendee's answer, in a per-user iCal feed and a read-only CalDAV calendar.
//!
//! * [`changes`] keeps the change log behind `getctag` and `sync-collection`: the booking operations
//!   call it inside their own transactions, so a calendar version never runs ahead of the data.
//! * [`store`] renders a user's calendar (through [`crate::ics`]) and keeps the result in memory until
//!   that user's version changes or a time-dependent part (a passing alarm, the past-days window)
//!   expires; it implements [`crate::caldav::CalendarBackend`].
//! * [`feed`] serves `/ical/{token}.ics` and the legacy `/ical.cgi?{hash}`.
//! * [`access`] is the page where users find their addresses, generate a CalDAV password and replace
//!   the feed secret.

pub mod access;
pub mod changes;
pub mod feed;
pub mod store;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Routes of the feed and the access page (CalDAV itself is [`crate::caldav::router`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ical/{file}", get(feed::by_path))
        .route("/ical.cgi", get(feed::legacy))
        .route("/calendar", get(access::page))
        .route("/calendar/password", post(access::new_password))
        .route("/calendar/feed", post(access::replace_feed))
}

/// The CalDAV router, bound to the store.
pub fn dav_router(state: &AppState) -> Router {
    let config = &state.config;
    let dav = crate::caldav::DavConfig {
        calendar_name: config.calendar_name(),
        calendar_description: if config.calendar.description.is_empty() {
            config.calendar_name()
        } else {
            config.calendar.description.clone()
        },
        color: config.calendar.color.clone(),
        sync_token_prefix: format!("{}/ns/sync/", config.public_base()),
        // As the calendar objects' own PRODID (see `store::render`).
        prodid: format!(
            "-//{}//jmb//{}",
            config.server.site_name.replace("//", "/"),
            crate::web::i18n::Lang::parse(&config.server.default_language)
                .unwrap_or(crate::web::i18n::Lang::Fr)
                .code()
                .to_uppercase()
        ),
        max_answer_bytes: crate::caldav::DEFAULT_MAX_ANSWER_BYTES,
    };
    crate::caldav::router(state.calendars.clone() as Arc<dyn crate::caldav::CalendarBackend>, Arc::new(dav))
}
