//! Booking changes as events. [`crate::booking::service`] and [`crate::users`] describe every change
//! they commit as a [`Change`] and hand it to each registered [`Hook`] **inside the same transaction**,
//! before the commit: a hook writes its own rows (the calendar change log, later outbox, reminder and
//! warning rows) and nothing else. If a hook fails, the change is rolled back with everything the
//! other hooks wrote, so a booking and its consequences are stored together or not at all. Sending
//! mail, posting chat warnings and the like happen later, in workers that read those rows.
//!
//! A new reaction to bookings is a new module with a `Hook` implementation, registered with one line
//! where the application is built (`app::build_state`); the service does not change.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::Transaction;

use crate::booking::model::{Attendee, Meeting, MeetingDetails, PartStat};

/// What changed. Borrowed views of the rows as they are after the change (and before, for updates).
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// A meeting was booked; `meeting` holds every attendee with their personal token.
    Created { meeting: &'a MeetingDetails },
    /// A meeting was rewritten.
    Updated {
        before: &'a MeetingDetails,
        after: &'a MeetingDetails,
        /// Invitations created by this update (rows of `after`).
        added: &'a [Attendee],
        /// Invitations removed by this update (rows of `before`, gone from the store).
        removed: &'a [Attendee],
        /// Start, duration or subject changed: every remaining attendee must hear about it.
        significant: bool,
    },
    /// A meeting was deleted; `meeting` is what was stored just before.
    Deleted { meeting: &'a MeetingDetails },
    /// An invitee answered (accept, tentative, decline); `meeting` is after the answer.
    Answered { meeting: &'a MeetingDetails, attendee: &'a Attendee, previous: PartStat },
    /// An invitee changed the note left for the organiser (or removed it) without changing their answer;
    /// `attendee` holds the new note.
    NoteChanged { meeting: &'a MeetingDetails, attendee: &'a Attendee, had_note: bool },
    /// Someone used their way into the room (personal link, or signed-in host entry).
    Joined { meeting: &'a Meeting, attendee: &'a Attendee },
    /// A signed-in user's primary address changed: the meetings their calendar shows changed wholesale.
    UserAddressChanged { uid: &'a str, old_mail: &'a str, new_mail: &'a str },
}

impl Change<'_> {
    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Created { .. } => "created",
            Change::Updated { .. } => "updated",
            Change::Deleted { .. } => "deleted",
            Change::Answered { .. } => "answered",
            Change::NoteChanged { .. } => "note-changed",
            Change::Joined { .. } => "joined",
            Change::UserAddressChanged { .. } => "user-address-changed",
        }
    }
}

/// Why a hook could not record its consequence of a change; the change is rolled back.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(transparent)]
    Store(#[from] rusqlite::Error),
    /// The hook refuses the change, for a reason the person who asked for it is told.
    #[error("refused: {0:?}")]
    Refused(Refusal),
}

/// Why a capability refuses a booking change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The owner's bookings already caused `max` mails to invitees within the last hour.
    TooManyInvitations { max: u32 },
}

/// A reaction to changes, run inside the changing transaction.
pub trait Hook: Send + Sync {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// Records what this capability needs about `change`. Must only write its own tables.
    fn on_change(&self, tx: &Transaction<'_>, change: &Change<'_>, now: DateTime<Utc>) -> Result<(), HookError>;
}

/// The registered hooks, in registration order. Cheap to clone.
#[derive(Clone, Default)]
pub struct Hooks(Arc<[Arc<dyn Hook>]>);

impl Hooks {
    pub fn new(hooks: Vec<Arc<dyn Hook>>) -> Self {
        Hooks(hooks.into())
    }

    /// Hands `change` to every hook, stopping at the first failure (the caller's transaction then
    /// rolls back).
    pub fn emit(&self, tx: &Transaction<'_>, change: &Change<'_>, now: DateTime<Utc>) -> Result<(), HookError> {
        for hook in self.0.iter() {
            hook.on_change(tx, change, now).inspect_err(|e| {
                tracing::error!(hook = hook.name(), change = change.kind(), error.message = %e, "hook failed");
            })?;
        }
        Ok(())
    }

    /// Names of the registered hooks (for the start-up log).
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|h| h.name()).collect()
    }
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}
