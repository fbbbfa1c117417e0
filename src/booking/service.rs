//! The booking operations. Each one owns its transaction (`BEGIN IMMEDIATE` through [`Db::write`]) and
//! decides everything from what is stored, never from what a client claims was there before. Later
//! capabilities (mail outbox, reminders, calendar change log) add their rows inside these same
//! transactions.

use chrono::{DateTime, Utc};
use rusqlite::Transaction;

use super::model::{Answer, Attendee, Meeting, MeetingDetails, PartStat, Role};
use super::repo::{self, NewAttendee};
use super::rules::{Invitee, ValidMeeting, display_name};
use crate::db::{Db, DbError};
use crate::identity::Identity;
use crate::secrets;

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("gone: the meeting has ended")]
    Ended,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for BookingError {
    fn from(e: rusqlite::Error) -> Self {
        BookingError::Db(DbError::Sqlite(e))
    }
}

/// What an update changed, for the notifications a later capability sends.
#[derive(Debug, Clone)]
pub struct UpdateOutcome {
    pub details: MeetingDetails,
    pub added: Vec<Attendee>,
    pub removed: Vec<Attendee>,
    /// Start, duration or subject changed: every attendee must hear about it.
    pub significant: bool,
}

/// Books a meeting for `owner`. Ids, room and tokens are generated here.
pub async fn create(
    db: &Db,
    owner: &Identity,
    valid: ValidMeeting,
    now: DateTime<Utc>,
    host: &str,
) -> Result<MeetingDetails, BookingError> {
    let owner = owner.clone();
    let host = host.to_string();
    db.write(move |tx| {
        repo::upsert_user(tx, &owner.uid, &owner.mail, &owner.name, now)?;
        let id = unique(tx, secrets::meeting_id, |tx, v| Ok(repo::meeting_by_id(tx, v)?.is_some()))?;
        let room = unique(tx, secrets::room_name, |tx, v| repo::room_in_use(tx, v))?;
        let meeting = Meeting {
            ical_uid: format!("{id}@{host}"),
            id,
            room,
            subject: valid.subject,
            start: valid.start,
            duration_min: valid.duration_min,
            owner_uid: owner.uid.clone(),
            created: now,
            updated: now,
            sequence: 0,
        };
        repo::insert_meeting(tx, &meeting)?;
        // The owner is implicitly accepted, as in the original.
        insert(tx, &meeting.id, Role::Owner, &owner.mail, &owner.name, PartStat::Accepted, now)?;
        for m in &valid.moderators {
            insert(tx, &meeting.id, Role::Moderator, m.mail.as_str(), &display_name(m), PartStat::NeedsAction, now)?;
        }
        for g in &valid.guests {
            insert(tx, &meeting.id, Role::Guest, g.mail.as_str(), &display_name(g), PartStat::NeedsAction, now)?;
        }
        let details = load(tx, &meeting.id)?;
        calendar_changed(tx, &details.meeting, details.attendees.iter(), now)?;
        Ok(details)
    })
    .await
}

/// Rewrites a meeting and its attendee lists. Only the owner, only before the start.
pub async fn update(
    db: &Db,
    caller: &Identity,
    id: &str,
    valid: ValidMeeting,
    now: DateTime<Utc>,
) -> Result<UpdateOutcome, BookingError> {
    let caller = caller.clone();
    let id = id.to_string();
    db.write(move |tx| {
        let before = load(tx, &id)?;
        ensure_owner(&before.meeting, &caller)?;
        if before.meeting.has_ended(now) {
            return Err(BookingError::Ended);
        }
        if before.meeting.has_started(now) {
            return Err(BookingError::Conflict("meeting-started"));
        }
        let mut meeting = before.meeting.clone();
        let significant = meeting.start != valid.start
            || meeting.duration_min != valid.duration_min
            || meeting.subject != valid.subject;
        meeting.subject = valid.subject.clone();
        meeting.start = valid.start;
        meeting.duration_min = valid.duration_min;
        meeting.updated = now;
        let wanted: Vec<(Role, &Invitee)> = valid
            .moderators
            .iter()
            .map(|m| (Role::Moderator, m))
            .chain(valid.guests.iter().map(|g| (Role::Guest, g)))
            .collect();
        let mut removed = Vec::new();
        let mut roles_changed = false;
        for a in before.attendees.iter().filter(|a| a.role != Role::Owner) {
            match wanted.iter().find(|(_, i)| i.mail.as_str() == a.mail) {
                None => {
                    repo::delete_attendee(tx, a.id)?;
                    removed.push(a.clone());
                }
                Some((role, invitee)) => {
                    let name = if invitee.name.is_empty() { a.name.clone() } else { invitee.name.clone() };
                    if *role != a.role || name != a.name {
                        roles_changed |= *role != a.role;
                        repo::update_attendee_role(tx, a.id, *role, &name)?;
                    }
                }
            }
        }
        let mut added_ids = Vec::new();
        for (role, invitee) in &wanted {
            if before.attendee_by_mail(invitee.mail.as_str()).is_none() {
                let id = insert(
                    tx,
                    &meeting.id,
                    *role,
                    invitee.mail.as_str(),
                    &display_name(invitee),
                    PartStat::NeedsAction,
                    now,
                )?;
                added_ids.push(id);
            }
        }
        if significant || roles_changed || !removed.is_empty() || !added_ids.is_empty() {
            meeting.sequence += 1;
        }
        repo::update_meeting(tx, &meeting)?;
        let details = load(tx, &meeting.id)?;
        calendar_changed(tx, &details.meeting, before.attendees.iter().chain(details.attendees.iter()), now)?;
        let added = details.attendees.iter().filter(|a| added_ids.contains(&a.id)).cloned().collect();
        Ok(UpdateOutcome { details, added, removed, significant })
    })
    .await
}

/// Deletes a meeting. Only the owner. Returns what was deleted (cancellations go to these attendees).
pub async fn delete(db: &Db, caller: &Identity, id: &str, now: DateTime<Utc>) -> Result<MeetingDetails, BookingError> {
    let caller = caller.clone();
    let id = id.to_string();
    db.write(move |tx| {
        let details = load(tx, &id)?;
        ensure_owner(&details.meeting, &caller)?;
        repo::delete_meeting(tx, &id)?;
        calendar_changed(tx, &details.meeting, details.attendees.iter(), now)?;
        Ok(details)
    })
    .await
}

/// What an answer did.
#[derive(Debug, Clone)]
pub struct AnswerOutcome {
    pub meeting: Meeting,
    pub attendee: Attendee,
    pub changed: bool,
}

/// Records an answer given through a personal link.
pub async fn answer_by_token(
    db: &Db,
    token: &str,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<AnswerOutcome, BookingError> {
    let token = token.to_string();
    db.write(move |tx| {
        let (meeting, attendee) = repo::by_token(tx, &token)?.ok_or(BookingError::NotFound)?;
        apply_answer(tx, meeting, attendee, answer, now)
    })
    .await
}

/// Records an answer given by a signed-in invitee for a meeting id.
pub async fn answer_as_user(
    db: &Db,
    caller: &Identity,
    id: &str,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<AnswerOutcome, BookingError> {
    let caller = caller.clone();
    let id = id.to_string();
    db.write(move |tx| {
        let details = load(tx, &id)?;
        let attendee = details.attendee_by_mail(&caller.mail).cloned().ok_or(BookingError::NotFound)?;
        apply_answer(tx, details.meeting, attendee, answer, now)
    })
    .await
}

fn apply_answer(
    tx: &Transaction<'_>,
    meeting: Meeting,
    mut attendee: Attendee,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<AnswerOutcome, BookingError> {
    if meeting.has_ended(now) {
        return Err(BookingError::Ended);
    }
    if attendee.role == Role::Owner {
        return Err(BookingError::Conflict("owner-answers"));
    }
    let partstat = answer.partstat();
    let changed = attendee.partstat != partstat;
    if changed {
        repo::set_partstat(tx, attendee.id, partstat, now)?;
        attendee.partstat = partstat;
        attendee.answered_at = Some(now);
        // Every attendee's calendar shows this answer.
        let all = repo::attendees_of(tx, &meeting.id)?;
        calendar_changed(tx, &meeting, all.iter(), now)?;
    }
    Ok(AnswerOutcome { meeting, attendee, changed })
}

/// Counts a use of a personal link.
pub async fn record_join(db: &Db, attendee_id: i64, now: DateTime<Utc>) -> Result<(), BookingError> {
    db.write(move |tx| Ok(repo::record_join(tx, attendee_id, now)?)).await
}

/// Counts a use of a private room.
pub async fn record_private_room_use(db: &Db, uid: &str, now: DateTime<Utc>) -> Result<(), BookingError> {
    let uid = uid.to_string();
    db.write(move |tx| Ok(repo::record_private_room_use(tx, &uid, now)?)).await
}

/// Records the signed-in user (uid, mail, name) so feeds and lists can find them.
/// Pages call this on every view, so the usual case (nothing changed) is a read, not a write.
pub async fn remember_user(db: &Db, who: &Identity, now: DateTime<Utc>) -> Result<(), BookingError> {
    let probe = who.clone();
    let current = db
        .read(move |c| Ok::<_, BookingError>(repo::user_is_current(c, &probe.uid, &probe.mail, &probe.name)?))
        .await?;
    if current {
        return Ok(());
    }
    let who = who.clone();
    db.write(move |tx| Ok(repo::upsert_user(tx, &who.uid, &who.mail, &who.name, now)?)).await
}

/// Loads a meeting with its attendees.
pub async fn get(db: &Db, id: &str) -> Result<MeetingDetails, BookingError> {
    let id = id.to_string();
    db.read(move |conn| repo::details_by_id(conn, &id)?.ok_or(BookingError::NotFound)).await
}

/// Whether `who` owns the meeting.
pub fn is_owner(meeting: &Meeting, who: &Identity) -> bool {
    meeting.owner_uid == who.uid
}

/// Logs a change of `meeting` in the calendar of everyone concerned (the owner and these attendees).
fn calendar_changed<'a>(
    tx: &Transaction<'_>,
    meeting: &Meeting,
    attendees: impl Iterator<Item = &'a Attendee>,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let mails: Vec<&str> = attendees.map(|a| a.mail.as_str()).collect();
    let users = crate::calendar::changes::users_for(tx, &mails, &meeting.owner_uid)?;
    crate::calendar::changes::touch(tx, &users, &crate::ics::object_name_for_uid(&meeting.ical_uid), now)?;
    Ok(())
}

fn ensure_owner(meeting: &Meeting, caller: &Identity) -> Result<(), BookingError> {
    if is_owner(meeting, caller) { Ok(()) } else { Err(BookingError::Forbidden("not-owner")) }
}

fn load(tx: &rusqlite::Connection, id: &str) -> Result<MeetingDetails, BookingError> {
    repo::details_by_id(tx, id)?.ok_or(BookingError::NotFound)
}

fn insert(
    tx: &Transaction<'_>,
    meeting_id: &str,
    role: Role,
    mail: &str,
    name: &str,
    partstat: PartStat,
    now: DateTime<Utc>,
) -> Result<i64, BookingError> {
    let token = unique(tx, secrets::token, |tx, t| Ok(repo::by_token(tx, t)?.is_some()))?;
    Ok(repo::insert_attendee(tx, &NewAttendee { meeting_id, role, mail, name, token: &token, partstat }, now)?)
}

/// Draws random values until one is free. A collision is astronomically unlikely; the loop only makes
/// the uniqueness explicit instead of relying on a constraint error.
fn unique(
    tx: &Transaction<'_>,
    generate: fn() -> String,
    taken: impl Fn(&Transaction<'_>, &str) -> rusqlite::Result<bool>,
) -> Result<String, BookingError> {
    for _ in 0..8 {
        let value = generate();
        if !taken(tx, &value)? {
            return Ok(value);
        }
    }
    Err(BookingError::Conflict("no-free-identifier"))
}
