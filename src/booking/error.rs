//! Why a booking operation was refused: one closed enum, each variant with its HTTP status and the
//! catalogue message that explains it. The edges (pages, API) map it without looking at strings.

use crate::db::DbError;
use crate::events::{HookError, Refusal};

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// No such meeting, or one the caller has no part in (strangers learn nothing, not even that it
    /// exists), or an unknown personal link.
    #[error("no such meeting")]
    NotFound,
    /// The caller is invited but does not own the meeting.
    #[error("only the owner may do this")]
    NotOwner,
    /// Only editors book meetings.
    #[error("only editors may book meetings")]
    NotEditor,
    /// Only editors book, and the directory that says who is one did not answer.
    #[error("the directory did not answer: cannot tell whether the caller may book")]
    EditorUndecided,
    /// Editing and deleting stop at the start.
    #[error("the meeting has started")]
    Started,
    /// The meeting is over; carries its subject for the page that says so.
    #[error("the meeting has ended")]
    Ended { subject: String },
    /// The owner is implicitly accepted and does not answer.
    #[error("the owner does not answer their own meeting")]
    OwnerAnswers,
    /// The owner's bookings already caused `max` mails to invitees within the last hour
    /// (`mail.max_invitations_per_owner_per_hour`): an institution's relay must not become a spam cannon.
    #[error("too many invitations this hour (at most {max})")]
    TooManyInvitations { max: u32 },
    /// The person booked as many meetings in the last hour as allowed; a slot frees after
    /// `retry_after_seconds`.
    #[error("{max} meetings booked in the last hour")]
    TooManyBookings { max: u32, retry_after_seconds: u64 },
    /// Random identifiers kept colliding (astronomically unlikely).
    #[error("no free identifier")]
    NoFreeIdentifier,
    #[error(transparent)]
    Store(#[from] DbError),
}

impl BookingError {
    /// The HTTP status the edges answer with.
    pub fn status(&self) -> u16 {
        match self {
            BookingError::NotFound => 404,
            BookingError::NotOwner | BookingError::NotEditor => 403,
            BookingError::Started | BookingError::OwnerAnswers => 409,
            BookingError::Ended { .. } => 410,
            BookingError::TooManyInvitations { .. } => 429,
            BookingError::TooManyBookings { .. } => 429,
            BookingError::NoFreeIdentifier | BookingError::EditorUndecided => 503,
            BookingError::Store(_) => 500,
        }
    }

    /// The catalogue message shown to people (see `locales/`).
    pub fn message_id(&self) -> &'static str {
        match self {
            BookingError::NotFound => "error-meeting-not-found",
            BookingError::NotOwner => "error-not-owner",
            BookingError::NotEditor => "error-not-editor",
            BookingError::EditorUndecided => "error-editor-undecided",
            BookingError::Started => "error-meeting-started",
            BookingError::Ended { .. } => "error-gone",
            BookingError::OwnerAnswers => "error-owner-answers",
            BookingError::TooManyInvitations { .. } => "error-too-many-invitations",
            BookingError::TooManyBookings { .. } => "error-too-many-bookings",
            BookingError::NoFreeIdentifier => "error-no-free-identifier",
            BookingError::Store(_) => "error-internal",
        }
    }

    /// Values for the message.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            BookingError::Ended { subject } => vec![("subject", subject.clone())],
            BookingError::TooManyInvitations { max } => vec![("max", max.to_string())],
            BookingError::TooManyBookings { max, retry_after_seconds } => {
                vec![("max", max.to_string()), ("minutes", retry_after_seconds.div_ceil(60).max(1).to_string())]
            }
            _ => Vec::new(),
        }
    }

    /// For a refusal that passes with time (a rate limit), the seconds after which the same request
    /// may succeed: the edges send it as `Retry-After`, whatever the variant.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            BookingError::TooManyBookings { retry_after_seconds, .. } => Some(*retry_after_seconds),
            // The count is over the last hour: an hour at most frees the whole allowance.
            BookingError::TooManyInvitations { .. } => Some(3600),
            _ => None,
        }
    }

    /// Whether this is a failure of jmb rather than a refusal (logged once by the edge).
    pub fn is_internal(&self) -> bool {
        matches!(self, BookingError::Store(_))
    }
}

impl From<rusqlite::Error> for BookingError {
    fn from(e: rusqlite::Error) -> Self {
        BookingError::Store(DbError::Sqlite(e))
    }
}

impl From<HookError> for BookingError {
    fn from(e: HookError) -> Self {
        match e {
            HookError::Store(e) => e.into(),
            HookError::Refused(Refusal::TooManyInvitations { max }) => BookingError::TooManyInvitations { max },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_a_status_and_a_message() {
        let all = [
            BookingError::NotFound,
            BookingError::NotOwner,
            BookingError::NotEditor,
            BookingError::EditorUndecided,
            BookingError::Started,
            BookingError::Ended { subject: "x".into() },
            BookingError::OwnerAnswers,
            BookingError::TooManyInvitations { max: 500 },
            BookingError::NoFreeIdentifier,
            BookingError::TooManyBookings { max: 100, retry_after_seconds: 61 },
        ];
        for e in &all {
            assert!((400..600).contains(&e.status()), "{e:?}");
            assert!(!e.is_internal(), "{e:?}");
            let fr = crate::i18n::Tr::new(crate::i18n::Lang::Fr, chrono_tz::Europe::Paris);
            let text = fr.ta(e.message_id(), &e.args());
            assert!(!text.is_empty() && !text.contains(e.message_id()), "{e:?}: {text}");
        }
        assert_eq!(BookingError::Ended { subject: "Réunion".into() }.args(), vec![("subject", "Réunion".to_string())]);
        let limited = BookingError::TooManyBookings { max: 100, retry_after_seconds: 61 };
        assert_eq!(limited.retry_after_seconds(), Some(61));
        assert_eq!(limited.args()[1], ("minutes", "2".to_string()));
        assert_eq!(BookingError::NotFound.retry_after_seconds(), None);
    }
}
