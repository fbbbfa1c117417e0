//! Meetings, invitations and answers: the domain model, validation rules, the store queries, the
//! booking operations, the booking pages (list, form, attendee tracking), the personal-link routes and
//! the legacy CGI URLs.

pub mod attendees;
pub mod home;
pub mod legacy;
pub mod links;
pub mod model;
pub mod pages;
pub mod repo;
pub mod rules;
pub mod service;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/meetings", get(home::home))
        .route("/meetings/new", get(pages::new_form).post(pages::create))
        .route("/meetings/{id}/edit", get(pages::edit_form).post(pages::update))
        .route("/meetings/{id}/delete", get(pages::delete_confirm).post(pages::delete))
        .route("/meetings/{id}/answer", post(pages::answer))
        .route("/meetings/{id}/attendees", get(attendees::page))
        .route("/meetings/{id}/attendees.csv", get(attendees::export))
        .route("/m/{room}", get(links::moderator_entry))
        .route("/j/{token}", get(links::personal_join))
        .route("/rsvp/{token}", get(links::rsvp_show).post(links::rsvp_submit))
        .merge(legacy::router())
}
