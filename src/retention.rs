//! Retention (GDPR): meetings that ended before a cut-off are removed with everything recorded about
//! them — attendees, answers, join counts, presence, reminders, and the mails sent or given up on — and
//! so are private-room counters not used since. Off by default; `database.retention_days` runs it hourly,
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

impl std::ops::AddAssign for Purged {
    fn add_assign(&mut self, other: Purged) {
        self.meetings += other.meetings;
        self.attendees += other.attendees;
        self.mails += other.mails;
        self.private_rooms += other.private_rooms;
    }
}

/// Meetings removed per batch (each is also told to the calendars).
const BATCH: u32 = 500;

/// One batch of a purge of what is older than `before` (meetings by their end, mails by when they were
/// queued, private rooms by their last use), inside `tx`: at most [`BATCH`] meetings, then, once no
/// meeting is left, the mails and private-room counters. Returns what it removed and whether the purge
/// is complete. Callers commit each batch in its own transaction ([`purge`]), so the first purge of a
/// large store never holds the writer (and every booking behind it) for long.
pub fn purge_batch(
    tx: &Transaction<'_>,
    before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> rusqlite::Result<(Purged, bool)> {
    let mut out = Purged::default();
    let ids = repo::ended_before(tx, before, BATCH)?;
    if ids.is_empty() {
        out.mails = crate::outbox::prune_done(tx, before)?;
        out.private_rooms = repo::delete_private_rooms_unused_since(tx, before)?;
        return Ok((out, true));
    }
    for id in ids {
        if let Some(details) = repo::details_by_id(tx, &id)? {
            crate::calendar::changes::touch_meeting(tx, &[&details], now)?;
            out.attendees += details.attendees.len();
        }
        // Attendees, reminders and presence go with it (ON DELETE CASCADE).
        if repo::delete_meeting(tx, &id)? {
            out.meetings += 1;
        }
    }
    Ok((out, false))
}

/// A whole purge through `db`, one committed transaction per batch.
pub async fn purge(
    db: &crate::db::Db,
    before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Purged, crate::db::DbError> {
    let mut total = Purged::default();
    loop {
        let (batch, done) = db.write(move |tx| Ok::<_, crate::db::DbError>(purge_batch(tx, before, now)?)).await?;
        total += batch;
        if done {
            return Ok(total);
        }
    }
}

/// The cut-off for `days` of retention at `now`.
pub fn cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now - chrono::Duration::days(i64::from(days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::model::{Meeting, PartStat, Role};
    use crate::booking::repo::NewAttendee;
    use crate::db::{Db, DbError};

    /// A purge larger than a batch removes exactly the meetings that ended before the cut-off, over
    /// several committed batches, with their attendees.
    #[tokio::test]
    async fn a_purge_larger_than_a_batch_removes_exactly_what_is_older() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), std::time::Duration::from_secs(5), 1).unwrap();
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let old = (2 * BATCH + 3) as usize;
        db.write(move |tx| {
            for i in 0..old + 1 {
                // The last one ends after the cut-off.
                let start = if i == old { now } else { now - chrono::Duration::days(400) };
                let id = format!("meeting{i:013}");
                let m = Meeting {
                    ical_uid: format!("{id}@h"),
                    id: id.clone(),
                    room: crate::secrets::room_name(),
                    subject: "s".into(),
                    start,
                    duration_min: 60,
                    owner_uid: "owner".into(),
                    created: start,
                    updated: start,
                    sequence: 0,
                };
                repo::insert_meeting(tx, &m)?;
                let token = format!("token-{i:016}");
                let owner = NewAttendee {
                    meeting_id: &id,
                    role: Role::Owner,
                    mail: "o@x.org",
                    name: "",
                    token: &token,
                    partstat: PartStat::Accepted,
                };
                repo::insert_attendee(tx, &owner, start)?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
        let purged = purge(&db, cutoff(now, 365), now).await.unwrap();
        assert_eq!((purged.meetings, purged.attendees), (old, old));
        let left: Vec<String> = db
            .read(|c| {
                let mut stmt = c.prepare("SELECT id FROM meetings")?;
                let ids = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
                Ok::<_, DbError>(ids)
            })
            .await
            .unwrap();
        assert_eq!(left, vec![format!("meeting{old:013}")]);
        assert!(purge(&db, cutoff(now, 365), now).await.unwrap().is_empty(), "a second purge finds nothing");
    }
}
