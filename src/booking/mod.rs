//! Meetings, invitations and answers: the domain model, validation rules, the store queries, the
//! booking operations, the personal-link routes and the legacy CGI URLs.

pub mod home;
pub mod legacy;
pub mod links;
pub mod model;
pub mod repo;
pub mod rules;
pub mod service;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/meetings", get(home::home))
        .route("/m/{room}", get(links::moderator_entry))
        .route("/j/{token}", get(links::personal_join))
        .route("/rsvp/{token}", get(links::rsvp_show).post(links::rsvp_submit))
        .merge(legacy::router())
}
