//! Meetings, invitations and answers, below the HTTP edge: the domain model, the validation rules
//! shared by every edge, the store queries (the one owner of the meetings and attendees tables), the
//! operations that decide and commit changes, and their errors.

pub mod error;
pub mod model;
pub mod repo;
pub mod rules;
pub mod service;

pub use error::BookingError;
pub use service::{Bookings, Lists};
