//! Retention (GDPR): meetings that ended before a cut-off are removed with everything recorded about
//! them — attendees, answers, join counts, reminders, and the mails sent or given up on — and so are
//! private-room counters not used since. Off by default; `database.retention_days` runs it hourly,
//! `jmb purge --older-than DAYS` once. Calendars are told (change log), so CalDAV clients drop the
//! removed meetings instead of keeping stale copies.

use chrono::{DateTime, Utc};
use rusqlite::Transaction;

use crate::booking::repo;

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub meetings: usize,
    pub attendees: usize,
    pub mails: usize,
    pub private_rooms: usize,
}

impl Purged {
    pub fn is_empty(&self) -> bool {
        *self == Purged::default()
    }
}

impl std::fmt::Display for Purged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} meeting(s), {} attendee row(s), {} mail(s), {} private-room counter(s)",
            self.meetings, self.attendees, self.mails, self.private_rooms
        )
    }
}

/// Meetings are removed in batches of this many (each is also told to the calendars).
const BATCH: u32 = 500;

/// Removes what is older than `before` (meetings by their end, mails by when they were queued,
/// private rooms by their last use), inside `tx`.
pub fn purge(tx: &Transaction<'_>, before: DateTime<Utc>, now: DateTime<Utc>) -> rusqlite::Result<Purged> {
    let mut out = Purged::default();
    loop {
        let ids = repo::ended_before(tx, before, BATCH)?;
        if ids.is_empty() {
            break;
        }
        for id in ids {
            if let Some(details) = repo::details_by_id(tx, &id)? {
                crate::calendar::changes::touch_meeting(tx, &[&details], now)?;
                out.attendees += details.attendees.len();
            }
            // Attendees and reminders go with it (ON DELETE CASCADE).
            if repo::delete_meeting(tx, &id)? {
                out.meetings += 1;
            }
        }
    }
    out.mails = crate::outbox::prune_done(tx, before)?;
    out.private_rooms = repo::delete_private_rooms_unused_since(tx, before)?;
    Ok(out)
}

/// The cut-off for `days` of retention at `now`.
pub fn cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now - chrono::Duration::days(i64::from(days))
}
