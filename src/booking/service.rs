//! The booking operations, for pages and API alike. Each one owns its transaction (`BEGIN IMMEDIATE`
//! through [`Db::write`]), decides everything from what is stored (never from what a client claims was
//! there before), applies the rules (only editors book; only the owner edits or deletes, and only
//! before the start, or within the grace for a meeting booked as it starts; strangers learn nothing of
//! a meeting, not even that it exists) and hands the committed change to the registered hooks
//! ([`crate::events`]) inside that same transaction.
//!
//! Visibility, in one place: the owner (by uid) and every invitee (by primary address) see a meeting;
//! for anyone else it does not exist ([`BookingError::NotFound`]). An invitee who tries an owner's
//! action gets [`BookingError::NotOwner`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction};

use super::error::BookingError;
use super::model::{Answer, Attendee, Meeting, MeetingDetails, PartStat, Role};
use super::repo::{self, Listed, NewAttendee, Scope};
use super::rules::{Invitee, ValidMeeting, display_name};
use crate::db::Db;
use crate::events::{Change, Hooks};
use crate::identity::{Actor, Identity};
use crate::{secrets, users};

/// What an update changed.
#[derive(Debug, Clone)]
pub struct UpdateOutcome {
    pub details: MeetingDetails,
    pub added: Vec<Attendee>,
    pub removed: Vec<Attendee>,
    /// Start, duration or subject changed: every attendee must hear about it.
    pub significant: bool,
}

/// What an answer did.
#[derive(Debug, Clone)]
pub struct AnswerOutcome {
    pub meeting: Meeting,
    pub attendee: Attendee,
    pub changed: bool,
    /// The note for the organiser was changed too.
    pub note_changed: bool,
}

/// A user's lists: upcoming meetings, and one page of archives with their total.
#[derive(Debug, Clone, Default)]
pub struct Lists {
    pub upcoming: Vec<Listed>,
    pub archived: Vec<Listed>,
    pub archived_total: u32,
    /// The archive page actually returned (a page past the end gives the last one).
    pub archive_page: u32,
}

/// The booking capability: the store, the hooks, the host name that ends every iCalendar UID, and
/// how many meetings one person may book in an hour.
#[derive(Clone)]
pub struct Bookings {
    db: Db,
    hooks: Hooks,
    uid_host: String,
    limit: Arc<HourlyLimit>,
    /// See [`Meeting::editable`].
    start_grace: chrono::Duration,
}

impl Bookings {
    /// Bookings without an hourly limit (see [`Bookings::with_hourly_limit`]).
    pub fn new(db: Db, hooks: Hooks, uid_host: impl Into<String>) -> Self {
        Self {
            db,
            hooks,
            uid_host: uid_host.into(),
            limit: Arc::new(HourlyLimit::new(u32::MAX)),
            start_grace: chrono::Duration::zero(),
        }
    }

    /// A meeting booked or moved once its start had come stays editable this long after the start
    /// (`BookingConfig::start_grace`); without, none is.
    pub fn with_start_grace(mut self, grace: chrono::Duration) -> Self {
        self.start_grace = grace;
        self
    }

    /// At most `max` meetings booked by one person in any hour; more are refused with
    /// [`BookingError::TooManyBookings`] until the oldest of them is an hour old.
    pub fn with_hourly_limit(mut self, max: u32) -> Self {
        self.limit = Arc::new(HourlyLimit::new(max));
        self
    }

    /// Books a meeting for `actor`, who must be an editor. Ids, room and tokens are generated here.
    pub async fn create(
        &self,
        actor: &Actor,
        valid: ValidMeeting,
        now: DateTime<Utc>,
    ) -> Result<MeetingDetails, BookingError> {
        if !actor.is_editor {
            return Err(BookingError::NotEditor);
        }
        // The store keeps whole seconds, and the meeting handed on is the one written, not read back.
        let now = chrono::SubsecRound::trunc_subsecs(now, 0);
        // A slot is taken before the write and given back if it fails: concurrent requests of one
        // person cannot all pass the check.
        let slot = self.limit.take(&actor.identity.uid, now).map_err(|retry_after_seconds| {
            tracing::info!(target: "audit", uid = %actor.identity.uid, max = self.limit.max, decision = "DENIED", "booking refused: hourly limit reached");
            BookingError::TooManyBookings { max: self.limit.max, retry_after_seconds }
        })?;
        let owner = actor.identity.clone();
        let host = self.uid_host.clone();
        let hooks = self.hooks.clone();
        let result = self
            .db
            .write(move |tx| {
                // The owner's calendar must exist to show the meeting.
                users::remember(tx, &owner, now, &hooks)?;
                let id = unique(tx, secrets::meeting_id, |tx, v| Ok(repo::meeting_by_id(tx, v)?.is_some()))?;
                let room =
                    unique(tx, secrets::room_name, |tx, v| Ok(repo::room_in_use(tx, v)? || users::exists(tx, v)?))?;
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
                let mut attendees =
                    vec![insert(tx, &meeting.id, Role::Owner, &owner.mail, &owner.name, PartStat::Accepted, now)?];
                for (role, invitee) in invitees(&valid.moderators, &valid.guests) {
                    attendees.push(insert(
                        tx,
                        &meeting.id,
                        role,
                        invitee.mail.as_str(),
                        &display_name(invitee),
                        PartStat::NeedsAction,
                        now,
                    )?);
                }
                // What was just written, in the stored order (owner, moderators, guests, each as
                // inserted): reading it back cost a twentieth of a booking's time in the writer
                // (`a_new_booking_is_what_the_store_reads_back`).
                let details = MeetingDetails { meeting, attendees };
                hooks.emit(tx, &Change::Created { meeting: &details }, now)?;
                Ok(details)
            })
            .await;
        if result.is_err() {
            self.limit.give_back(&actor.identity.uid, slot);
        }
        result
    }

    /// A meeting the actor may edit now: theirs, they are an editor, [`Meeting::editable`] (not started,
    /// or booked as it started and within the grace). What the edit form shows; [`Bookings::update`]
    /// checks the same again inside its transaction.
    pub async fn editable(&self, actor: &Actor, id: &str, now: DateTime<Utc>) -> Result<MeetingDetails, BookingError> {
        let d = self.owned(actor, id).await?;
        if !actor.is_editor {
            return Err(BookingError::NotEditor);
        }
        ensure_editable(&d.meeting, now, self.start_grace)?;
        Ok(d)
    }

    /// A meeting the actor may delete now: theirs, [`Meeting::editable`] (someone who lost the right to
    /// book can still cancel what they booked). What the delete confirmation shows.
    pub async fn deletable(&self, actor: &Actor, id: &str, now: DateTime<Utc>) -> Result<MeetingDetails, BookingError> {
        let d = self.owned(actor, id).await?;
        ensure_editable(&d.meeting, now, self.start_grace)?;
        Ok(d)
    }

    /// A meeting the actor owns, whatever its time (attendee tracking works for archives too).
    pub async fn owned(&self, actor: &Actor, id: &str) -> Result<MeetingDetails, BookingError> {
        let d = self.get(id).await?;
        ensure_owner(&d, &actor.identity)?;
        Ok(d)
    }

    /// A meeting the actor is part of (owner or invitee); strangers get [`BookingError::NotFound`].
    pub async fn visible(&self, who: &Identity, id: &str) -> Result<MeetingDetails, BookingError> {
        let d = self.get(id).await?;
        if d.row_of(who).is_none() {
            return Err(BookingError::NotFound);
        }
        Ok(d)
    }

    /// Rewrites a meeting and its attendee lists. Only the owner, an editor, while [`Meeting::editable`].
    pub async fn update(
        &self,
        actor: &Actor,
        id: &str,
        valid: ValidMeeting,
        now: DateTime<Utc>,
    ) -> Result<UpdateOutcome, BookingError> {
        let actor = actor.clone();
        let id = id.to_string();
        let hooks = self.hooks.clone();
        let grace = self.start_grace;
        self.db
            .write(move |tx| {
                let before = load(tx, &id)?;
                ensure_owner(&before, &actor.identity)?;
                if !actor.is_editor {
                    return Err(BookingError::NotEditor);
                }
                ensure_editable(&before.meeting, now, grace)?;
                let mut meeting = before.meeting.clone();
                let significant = meeting.start != valid.start
                    || meeting.duration_min != valid.duration_min
                    || meeting.subject != valid.subject;
                meeting.subject = valid.subject.clone();
                meeting.start = valid.start;
                meeting.duration_min = valid.duration_min;
                meeting.updated = now;
                let wanted: Vec<(Role, &Invitee)> = invitees(&valid.moderators, &valid.guests).collect();
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
                        let mail = invitee.mail.as_str();
                        added_ids.push(
                            insert(tx, &meeting.id, *role, mail, &display_name(invitee), PartStat::NeedsAction, now)?
                                .id,
                        );
                    }
                }
                if significant || roles_changed || !removed.is_empty() || !added_ids.is_empty() {
                    meeting.sequence += 1;
                }
                repo::update_meeting(tx, &meeting)?;
                let details = load(tx, &meeting.id)?;
                let added: Vec<Attendee> =
                    details.attendees.iter().filter(|a| added_ids.contains(&a.id)).cloned().collect();
                hooks.emit(
                    tx,
                    &Change::Updated {
                        before: &before,
                        after: &details,
                        added: &added,
                        removed: &removed,
                        significant,
                    },
                    now,
                )?;
                Ok(UpdateOutcome { details, added, removed, significant })
            })
            .await
    }

    /// Deletes a meeting. Only the owner, while [`Meeting::editable`] (a meeting that took place stays in
    /// the archives; one booked as it started may be called off within the grace). Returns what was
    /// deleted.
    pub async fn delete(&self, actor: &Actor, id: &str, now: DateTime<Utc>) -> Result<MeetingDetails, BookingError> {
        let who = actor.identity.clone();
        let id = id.to_string();
        let hooks = self.hooks.clone();
        let grace = self.start_grace;
        self.db
            .write(move |tx| {
                let details = load(tx, &id)?;
                ensure_owner(&details, &who)?;
                ensure_editable(&details.meeting, now, grace)?;
                repo::delete_meeting(tx, &id)?;
                hooks.emit(tx, &Change::Deleted { meeting: &details }, now)?;
                Ok(details)
            })
            .await
    }

    /// Records an answer given through a personal link.
    pub async fn answer_by_token(
        &self,
        token: &str,
        answer: Answer,
        now: DateTime<Utc>,
    ) -> Result<AnswerOutcome, BookingError> {
        self.answer_by_token_with_note(token, answer, None, now).await
    }

    /// Records an answer given through a personal link, with the note left for the organiser
    /// (`None`: keep the stored note; `Some("")`: remove it). The note is checked by
    /// [`Note::parse`](super::model::Note::parse) before it gets here.
    pub async fn answer_by_token_with_note(
        &self,
        token: &str,
        answer: Answer,
        note: Option<super::model::Note>,
        now: DateTime<Utc>,
    ) -> Result<AnswerOutcome, BookingError> {
        let token = token.to_string();
        let hooks = self.hooks.clone();
        self.db
            .write(move |tx| {
                let (meeting, attendee) = repo::by_token(tx, &token)?.ok_or(BookingError::NotFound)?;
                apply_answer(tx, &hooks, meeting, attendee, answer, note, now)
            })
            .await
    }

    /// Records an answer given by a signed-in invitee for a meeting id, with the note left for the
    /// organiser as in [`Bookings::answer_by_token_with_note`].
    pub async fn answer_as(
        &self,
        who: &Identity,
        id: &str,
        answer: Answer,
        note: Option<super::model::Note>,
        now: DateTime<Utc>,
    ) -> Result<AnswerOutcome, BookingError> {
        let who = who.clone();
        let id = id.to_string();
        let hooks = self.hooks.clone();
        self.db
            .write(move |tx| {
                let details = load(tx, &id)?;
                let attendee = details.row_of(&who).cloned().ok_or(BookingError::NotFound)?;
                apply_answer(tx, &hooks, details.meeting, attendee, answer, note, now)
            })
            .await
    }

    /// Counts a use of a personal link or of a host's entry, and reports it.
    pub async fn record_join(&self, attendee_id: i64, now: DateTime<Utc>) -> Result<(), BookingError> {
        let hooks = self.hooks.clone();
        self.db
            .write(move |tx| {
                repo::record_join(tx, attendee_id, now)?;
                if let Some((meeting, attendee)) = repo::attendee_by_id(tx, attendee_id)? {
                    hooks.emit(tx, &Change::Joined { meeting: &meeting, attendee: &attendee }, now)?;
                }
                Ok(())
            })
            .await
    }

    /// Counts a use of a private room.
    pub async fn record_private_room_use(&self, uid: &str, now: DateTime<Utc>) -> Result<(), BookingError> {
        let uid = uid.to_string();
        self.db.write(move |tx| Ok(repo::record_private_room_use(tx, &uid, now)?)).await
    }

    /// The invitation holding a personal-link token, with its meeting.
    pub async fn by_token(&self, token: &str) -> Result<Option<(Meeting, Attendee)>, BookingError> {
        let token = token.to_string();
        self.db.read(move |c| Ok(repo::by_token(c, &token)?)).await
    }

    /// A personal link's meeting with every attendee, and the holder's row.
    pub async fn by_token_with_attendees(&self, token: &str) -> Result<(MeetingDetails, Attendee), BookingError> {
        let token = token.to_string();
        self.db
            .read(move |c| {
                let (meeting, mine) = repo::by_token(c, &token)?.ok_or(BookingError::NotFound)?;
                let attendees = repo::attendees_of(c, &meeting.id)?;
                Ok((MeetingDetails { meeting, attendees }, mine))
            })
            .await
    }

    /// The booked meeting using `room`, if any.
    pub async fn by_room(&self, room: &str) -> Result<Option<MeetingDetails>, BookingError> {
        let room = room.to_string();
        self.db.read(move |c| Ok(repo::details_by_room(c, &room)?)).await
    }

    /// The upcoming meetings of `who` (every role), and one page of those that ended within
    /// `archive_days` (none when 0).
    pub async fn lists(
        &self,
        who: &Identity,
        now: DateTime<Utc>,
        archive_days: u32,
        page: u32,
        page_size: u32,
    ) -> Result<Lists, BookingError> {
        let (uid, mail) = (who.uid.clone(), who.mail.clone());
        self.db
            .read(move |c| {
                // One read transaction: the lists, their attendees and the count agree.
                let tx = c.unchecked_transaction()?;
                let c = &*tx;
                let upcoming = repo::list_for_user(c, &uid, &mail, Scope::Upcoming { now })?;
                if archive_days == 0 {
                    return Ok(Lists { upcoming, ..Lists::default() });
                }
                let since = now - chrono::Duration::days(i64::from(archive_days));
                let total = repo::count_archived(c, &uid, &mail, now, since)?;
                let last = total.saturating_sub(1) / page_size.max(1);
                let page = page.min(last);
                let scope = Scope::Archived { now, since, limit: page_size, offset: page * page_size };
                let archived = repo::list_for_user(c, &uid, &mail, scope)?;
                Ok(Lists { upcoming, archived, archived_total: total, archive_page: page })
            })
            .await
    }

    /// Everything the list can show to `who` at once, for searching and filtering it: every upcoming
    /// meeting, and the archives of the last `archive_days` (at most `cap` of them, latest first),
    /// unpaginated. Through the list queries as they are: a search is a filter over what the list
    /// shows, not a query of its own.
    pub async fn everything_listed(
        &self,
        who: &Identity,
        now: DateTime<Utc>,
        archive_days: u32,
        cap: u32,
    ) -> Result<(Vec<Listed>, Vec<Listed>), BookingError> {
        let (uid, mail) = (who.uid.clone(), who.mail.clone());
        let since = now - chrono::Duration::days(i64::from(archive_days));
        self.db
            .read(move |c| {
                let tx = c.unchecked_transaction()?;
                let c = &*tx;
                let upcoming = repo::list_for_user(c, &uid, &mail, Scope::Upcoming { now })?;
                let archived = if archive_days == 0 {
                    Vec::new()
                } else {
                    repo::list_for_user(c, &uid, &mail, Scope::Archived { now, since, limit: cap, offset: 0 })?
                };
                Ok((upcoming, archived))
            })
            .await
    }

    /// The upcoming meetings of `who` (every role), by start.
    pub async fn upcoming(&self, who: &Identity, now: DateTime<Utc>) -> Result<Vec<Listed>, BookingError> {
        let (uid, mail) = (who.uid.clone(), who.mail.clone());
        self.db
            .read(move |c| {
                let tx = c.unchecked_transaction()?;
                Ok(repo::list_for_user(&tx, &uid, &mail, Scope::Upcoming { now })?)
            })
            .await
    }

    /// One page of the meetings of `who` that ended within `archive_days`, latest first, with their total.
    pub async fn archived(
        &self,
        who: &Identity,
        now: DateTime<Utc>,
        archive_days: u32,
        page: u32,
        page_size: u32,
    ) -> Result<(Vec<Listed>, u32), BookingError> {
        let (uid, mail) = (who.uid.clone(), who.mail.clone());
        let since = now - chrono::Duration::days(i64::from(archive_days));
        self.db
            .read(move |c| {
                let scope = Scope::Archived { now, since, limit: page_size, offset: page.saturating_mul(page_size) };
                let tx = c.unchecked_transaction()?;
                Ok((repo::list_for_user(&tx, &uid, &mail, scope)?, repo::count_archived(&tx, &uid, &mail, now, since)?))
            })
            .await
    }

    async fn get(&self, id: &str) -> Result<MeetingDetails, BookingError> {
        let id = id.to_string();
        self.db.read(move |conn| load(conn, &id)).await
    }
}

/// How many meetings each person booked in the last hour (a sliding window: the times of their
/// recent bookings). Kept in memory: it bounds what one account can make this process do, and a
/// restart forgetting it costs at most one more hour's worth.
struct HourlyLimit {
    max: u32,
    recent: Mutex<Recent>,
}

struct Recent {
    by_uid: HashMap<String, VecDeque<DateTime<Utc>>>,
    /// People with no booking in the last hour are dropped when the map reaches this size (then set
    /// to twice what remains, so pruning stays amortised constant time).
    prune_at: usize,
}

const HOUR: chrono::TimeDelta = chrono::TimeDelta::hours(1);

impl HourlyLimit {
    fn new(max: u32) -> Self {
        Self { max, recent: Mutex::new(Recent { by_uid: HashMap::new(), prune_at: 1024 }) }
    }

    /// Takes a slot for `uid` at `now`; when none is free, the seconds until the oldest booking of the
    /// last hour leaves it.
    fn take(&self, uid: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, u64> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.by_uid.len() >= recent.prune_at {
            recent.by_uid.retain(|_, times| times.back().is_some_and(|t| *t > now - HOUR));
            recent.prune_at = (recent.by_uid.len() * 2).max(1024);
        }
        let times = recent.by_uid.entry(uid.to_string()).or_default();
        while times.front().is_some_and(|t| *t <= now - HOUR) {
            times.pop_front();
        }
        if times.len() >= self.max as usize {
            let oldest = times.front().copied().unwrap_or(now);
            // A clock set back could push it past an hour; never say less than a second.
            return Err((oldest + HOUR - now).num_seconds().clamp(1, 3600) as u64);
        }
        times.push_back(now);
        Ok(now)
    }

    /// Returns a slot taken by [`HourlyLimit::take`] for a booking that failed.
    fn give_back(&self, uid: &str, at: DateTime<Utc>) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(times) = recent.by_uid.get_mut(uid)
            && let Some(i) = times.iter().rposition(|t| *t == at)
        {
            times.remove(i);
        }
    }
}

/// The invitees of a booking with their roles: moderators, then guests.
fn invitees<'a>(moderators: &'a [Invitee], guests: &'a [Invitee]) -> impl Iterator<Item = (Role, &'a Invitee)> + 'a {
    moderators.iter().map(|m| (Role::Moderator, m)).chain(guests.iter().map(|g| (Role::Guest, g)))
}

/// Records an answer and the note that came with it (`None`: keep the stored note; `Some("")`: remove
/// it). A changed answer is told as [`Change::Answered`] (the letter shows the note too); a note changed
/// alone as [`Change::NoteChanged`].
fn apply_answer(
    tx: &Transaction<'_>,
    hooks: &Hooks,
    meeting: Meeting,
    mut attendee: Attendee,
    answer: Answer,
    note: Option<super::model::Note>,
    now: DateTime<Utc>,
) -> Result<AnswerOutcome, BookingError> {
    if meeting.has_ended(now) {
        return Err(BookingError::Ended { subject: meeting.subject });
    }
    if attendee.role == Role::Owner {
        return Err(BookingError::OwnerAnswers);
    }
    let had_note = !attendee.note.is_empty();
    let note_changed = match note {
        Some(note) if note.as_str() != attendee.note => {
            repo::set_note(tx, attendee.id, note.as_str())?;
            attendee.note = note.as_str().to_string();
            true
        }
        _ => false,
    };
    let previous = attendee.partstat;
    let partstat = answer.partstat();
    let changed = previous != partstat;
    if changed {
        repo::set_partstat(tx, attendee.id, partstat, now)?;
        attendee.partstat = partstat;
        attendee.answered_at = Some(now);
    }
    if changed || note_changed {
        let details = load(tx, &meeting.id)?;
        let change = if changed {
            Change::Answered { meeting: &details, attendee: &attendee, previous }
        } else {
            Change::NoteChanged { meeting: &details, attendee: &attendee, had_note }
        };
        hooks.emit(tx, &change, now)?;
    }
    Ok(AnswerOutcome { meeting, attendee, changed, note_changed })
}

/// The owner passes; an invitee is told they are not the owner; anyone else learns nothing.
fn ensure_owner(d: &MeetingDetails, who: &Identity) -> Result<(), BookingError> {
    if d.is_owned_by(who) {
        Ok(())
    } else if d.row_of(who).is_some() {
        Err(BookingError::NotOwner)
    } else {
        Err(BookingError::NotFound)
    }
}

/// Editing and deleting stop at the start (see [`Meeting::editable`]).
fn ensure_editable(m: &Meeting, now: DateTime<Utc>, grace: chrono::Duration) -> Result<(), BookingError> {
    if m.has_ended(now) {
        Err(BookingError::Ended { subject: m.subject.clone() })
    } else if !m.editable(now, grace) {
        Err(BookingError::Started)
    } else {
        Ok(())
    }
}

fn load(conn: &Connection, id: &str) -> Result<MeetingDetails, BookingError> {
    repo::details_by_id(conn, id)?.ok_or(BookingError::NotFound)
}

/// Adds an invitation; returns it as `repo::attendee_row` would read it back.
fn insert(
    tx: &Transaction<'_>,
    meeting_id: &str,
    role: Role,
    mail: &str,
    name: &str,
    partstat: PartStat,
    now: DateTime<Utc>,
) -> Result<Attendee, BookingError> {
    let token = unique(tx, secrets::link_token, |tx, t| repo::token_in_use(tx, t))?;
    let id = repo::insert_attendee(tx, &NewAttendee { meeting_id, role, mail, name, token: &token, partstat }, now)?;
    Ok(Attendee {
        id,
        meeting_id: meeting_id.to_string(),
        role,
        mail: mail.to_string(),
        name: name.to_string(),
        token,
        partstat,
        answered_at: None,
        join_count: 0,
        first_join: None,
        last_join: None,
        note: String::new(),
    })
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
    Err(BookingError::NoFreeIdentifier)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::booking::model::MailAddress;
    use crate::events::{Hook, HookError};

    /// Records what each change says, from inside the transaction.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Hook for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        fn on_change(&self, tx: &Transaction<'_>, change: &Change<'_>, _: DateTime<Utc>) -> Result<(), HookError> {
            // Hooks run inside the change's transaction: they see its rows before the commit.
            let meetings: i64 = tx.query_row("SELECT COUNT(*) FROM meetings", [], |r| r.get(0))?;
            let line = match change {
                Change::Created { meeting } => {
                    format!("created {} attendees, {meetings} stored", meeting.attendees.len())
                }
                Change::Updated { added, removed, significant, .. } => {
                    format!("updated +{} -{} significant={significant}", added.len(), removed.len())
                }
                Change::Deleted { meeting } => format!("deleted {}, {meetings} stored", meeting.meeting.subject),
                Change::Answered { attendee, previous, .. } => {
                    format!("answered {} {:?}->{:?}", attendee.mail, previous, attendee.partstat)
                }
                Change::NoteChanged { attendee, .. } => format!("note {} {:?}", attendee.mail, attendee.note),
                Change::Joined { attendee, .. } => format!("joined {}", attendee.mail),
                Change::UserAddressChanged { uid, .. } => format!("address {uid}"),
            };
            self.0.lock().unwrap().push(line);
            Ok(())
        }
    }

    /// Refuses everything, as a hook whose store write fails.
    struct Failing;

    impl Hook for Failing {
        fn name(&self) -> &'static str {
            "failing"
        }
        fn on_change(&self, tx: &Transaction<'_>, _: &Change<'_>, _: DateTime<Utc>) -> Result<(), HookError> {
            tx.execute("INSERT INTO no_such_table VALUES (1)", [])?;
            Ok(())
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn invitee(mail: &str) -> Invitee {
        Invitee { mail: MailAddress::parse(mail).unwrap(), name: String::new() }
    }

    fn booking(subject: &str, guests: &[&str]) -> ValidMeeting {
        ValidMeeting {
            subject: subject.into(),
            start: at("2026-12-05T09:00:00Z"),
            duration_min: 60,
            moderators: vec![],
            guests: guests.iter().map(|g| invitee(g)).collect(),
        }
    }

    fn owner() -> Actor {
        Actor {
            identity: Identity { uid: "jdupont".into(), mail: "jean@example.org".into(), name: "Jean".into() },
            is_editor: true,
        }
    }

    #[tokio::test]
    async fn every_change_reaches_the_hooks_inside_its_transaction() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), std::time::Duration::from_secs(5), 1).unwrap();
        let rec = Arc::new(Recorder::default());
        let bookings = Bookings::new(db, Hooks::new(vec![rec.clone()]), "h");
        let now = at("2026-12-01T08:00:00Z");
        let d = bookings.create(&owner(), booking("Point", &["a@x.org", "b@x.org"]), now).await.unwrap();
        let id = d.meeting.id.clone();
        bookings.update(&owner(), &id, booking("Point", &["b@x.org", "c@x.org"]), now).await.unwrap();
        bookings.update(&owner(), &id, booking("Point moved", &["b@x.org", "c@x.org"]), now).await.unwrap();
        let b = d.attendee_by_mail("b@x.org").unwrap().clone();
        bookings.answer_by_token(&b.token, Answer::Tentative, now).await.unwrap();
        bookings.answer_by_token(&b.token, Answer::Tentative, now).await.unwrap();
        // The same answer with a note, then the same note again: only the first is a change.
        let note = || Some(crate::booking::model::Note::parse("En retard").unwrap());
        let outcome = bookings.answer_by_token_with_note(&b.token, Answer::Tentative, note(), now).await.unwrap();
        assert!(outcome.note_changed && !outcome.changed);
        bookings.answer_by_token_with_note(&b.token, Answer::Tentative, note(), now).await.unwrap();
        bookings.record_join(b.id, now).await.unwrap();
        bookings.delete(&owner(), &id, now).await.unwrap();
        assert_eq!(
            *rec.0.lock().unwrap(),
            [
                "created 3 attendees, 1 stored",
                "updated +1 -1 significant=false",
                "updated +0 -0 significant=true",
                "answered b@x.org NeedsAction->Tentative",
                "note b@x.org \"En retard\"",
                "joined b@x.org",
                "deleted Point moved, 0 stored",
            ]
        );
    }

    /// A booking hands its hooks and its caller the meeting as built in memory, not read back: it must
    /// be exactly what the store holds (order, ids, tokens, names, answers).
    #[tokio::test]
    async fn a_new_booking_is_what_the_store_reads_back() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), std::time::Duration::from_secs(5), 1).unwrap();
        let bookings = Bookings::new(db.clone(), Hooks::default(), "h");
        let mut valid = booking("Point", &["b@x.org", "a@x.org"]);
        valid.moderators = vec![Invitee { mail: MailAddress::parse("Zoe@X.org").unwrap(), name: "Zoé Z".into() }];
        valid.guests[0].name = "  Bob  ".into();
        // A clock with sub-second precision: the store keeps whole seconds.
        let made = bookings.create(&owner(), valid, at("2026-12-01T08:00:00.618Z")).await.unwrap();
        let id = made.meeting.id.clone();
        let stored =
            db.read(move |c| Ok::<_, crate::db::DbError>(repo::details_by_id(c, &id)?)).await.unwrap().unwrap();
        assert_eq!(made, stored);
        let roles: Vec<Role> = made.attendees.iter().map(|a| a.role).collect();
        assert_eq!(roles, [Role::Owner, Role::Moderator, Role::Guest, Role::Guest]);
    }

    /// A meeting booked in the step under way (its start just passed) can be put right for the grace
    /// after its start; one booked beforehand is fixed at its start, as ever.
    #[tokio::test]
    async fn a_meeting_booked_as_it_starts_stays_editable_for_the_grace() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), std::time::Duration::from_secs(5), 1).unwrap();
        let bookings = Bookings::new(db, Hooks::default(), "h").with_start_grace(chrono::Duration::minutes(15));
        let late = bookings.create(&owner(), booking("Now", &["a@x.org"]), at("2026-12-05T09:02:00Z")).await.unwrap();
        let early =
            bookings.create(&owner(), booking("Planned", &["a@x.org"]), at("2026-12-05T08:00:00Z")).await.unwrap();
        let (late, early) = (late.meeting.id, early.meeting.id);
        let during = at("2026-12-05T09:10:00Z");
        bookings.update(&owner(), &late, booking("Now, fixed", &["b@x.org"]), during).await.unwrap();
        assert!(matches!(bookings.editable(&owner(), &early, during).await, Err(BookingError::Started)));
        assert!(matches!(bookings.delete(&owner(), &early, during).await, Err(BookingError::Started)));
        assert!(bookings.deletable(&owner(), &late, at("2026-12-05T09:14:59Z")).await.is_ok());
        let after = at("2026-12-05T09:15:00Z");
        assert!(matches!(bookings.delete(&owner(), &late, after).await, Err(BookingError::Started)));
        assert!(bookings.delete(&owner(), &late, at("2026-12-05T09:14:00Z")).await.is_ok());
        // Without a grace (the default), nothing started is editable.
        let strict = Bookings::new(bookings.db.clone(), Hooks::default(), "h");
        let again = strict.create(&owner(), booking("Now", &["a@x.org"]), at("2026-12-05T09:02:00Z")).await.unwrap();
        assert!(matches!(strict.deletable(&owner(), &again.meeting.id, during).await, Err(BookingError::Started)));
    }

    #[tokio::test]
    async fn a_failing_hook_rolls_the_change_back() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), std::time::Duration::from_secs(5), 1).unwrap();
        let bookings = Bookings::new(db.clone(), Hooks::new(vec![Arc::new(Failing)]), "h");
        let now = at("2026-12-01T08:00:00Z");
        let err = bookings.create(&owner(), booking("Point", &["a@x.org"]), now).await.unwrap_err();
        assert!(err.is_internal(), "{err:?}");
        let count = |table: &'static str| {
            let db = db.clone();
            async move {
                db.read(move |c| {
                    c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
                        .map_err(crate::db::DbError::from)
                })
                .await
                .unwrap()
            }
        };
        assert_eq!(count("meetings").await, 0, "nothing of the booking is stored");
        assert_eq!(count("attendees").await, 0);
        assert_eq!(count("users").await, 0, "not even the owner's row written in the same transaction");
    }

    #[tokio::test]
    async fn one_person_books_at_most_the_hourly_limit() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), std::time::Duration::from_secs(5), 1).unwrap();
        let bookings = Bookings::new(db, Hooks::default(), "h").with_hourly_limit(3);
        let t0 = at("2026-12-01T08:00:00Z");
        for minutes in [0, 10, 20] {
            bookings
                .create(&owner(), booking("x", &["a@x.org"]), t0 + chrono::Duration::minutes(minutes))
                .await
                .unwrap();
        }
        let later = t0 + chrono::Duration::minutes(30);
        match bookings.create(&owner(), booking("x", &["a@x.org"]), later).await {
            Err(e @ BookingError::TooManyBookings { max: 3, .. }) => {
                assert_eq!(e.status(), 429);
                assert_eq!(e.retry_after_seconds(), Some(30 * 60), "until the 08:00 booking is an hour old");
            }
            other => panic!("{other:?}"),
        }
        // Someone else is not affected.
        let mut other = owner();
        other.identity.uid = "mmartin".into();
        assert!(bookings.create(&other, booking("x", &["a@x.org"]), later).await.is_ok());
        // An hour after the first booking, one slot is free again (and only one).
        let hour = t0 + chrono::Duration::minutes(60);
        assert!(bookings.create(&owner(), booking("x", &["a@x.org"]), hour).await.is_ok());
        assert!(matches!(
            bookings.create(&owner(), booking("x", &["a@x.org"]), hour).await,
            Err(BookingError::TooManyBookings { .. })
        ));
    }

    #[tokio::test]
    async fn a_failed_booking_gives_its_slot_back() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), std::time::Duration::from_secs(5), 1).unwrap();
        let failing = Bookings::new(db.clone(), Hooks::new(vec![Arc::new(Failing)]), "h").with_hourly_limit(1);
        let now = at("2026-12-01T08:00:00Z");
        assert!(failing.create(&owner(), booking("x", &["a@x.org"]), now).await.unwrap_err().is_internal());
        let err = failing.create(&owner(), booking("x", &["a@x.org"]), now).await.unwrap_err();
        assert!(err.is_internal(), "the failed attempt did not use the only slot: {err:?}");
    }

    #[tokio::test]
    async fn rules_are_decided_here_for_every_edge() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), std::time::Duration::from_secs(5), 1).unwrap();
        let bookings = Bookings::new(db, Hooks::default(), "h");
        let now = at("2026-12-01T08:00:00Z");
        let mut not_editor = owner();
        not_editor.is_editor = false;
        assert!(matches!(
            bookings.create(&not_editor, booking("x", &["a@x.org"]), now).await,
            Err(BookingError::NotEditor)
        ));
        let id = bookings.create(&owner(), booking("x", &["a@x.org"]), now).await.unwrap().meeting.id;
        let invitee = Actor {
            identity: Identity { uid: "a".into(), mail: "a@x.org".into(), name: String::new() },
            is_editor: true,
        };
        let stranger = Actor {
            identity: Identity { uid: "z".into(), mail: "z@x.org".into(), name: String::new() },
            is_editor: true,
        };
        assert!(matches!(bookings.delete(&invitee, &id, now).await, Err(BookingError::NotOwner)));
        assert!(matches!(bookings.delete(&stranger, &id, now).await, Err(BookingError::NotFound)));
        assert!(matches!(bookings.visible(&stranger.identity, &id).await, Err(BookingError::NotFound)));
        assert!(matches!(
            bookings.update(&not_editor, &id, booking("y", &["a@x.org"]), now).await,
            Err(BookingError::NotEditor)
        ));
        let started = at("2026-12-05T09:30:00Z");
        assert!(matches!(bookings.delete(&owner(), &id, started).await, Err(BookingError::Started)));
        let ended = at("2026-12-05T10:00:00Z");
        assert!(matches!(bookings.delete(&owner(), &id, ended).await, Err(BookingError::Ended { .. })));
        assert!(matches!(
            bookings.answer_as(&owner().identity, &id, Answer::Accept, None, now).await,
            Err(BookingError::OwnerAnswers)
        ));
        assert!(bookings.deletable(&not_editor, &id, now).await.is_ok(), "who lost the right to book may still cancel");
    }
}
