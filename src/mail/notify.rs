//! Who gets what, when (the original JMB's matrix, its gaps closed), as a hook on booking changes: inside
//! the booking's own transaction, each mail is queued in the outbox as a notice with a snapshot of the
//! meeting (one per change); the outbox worker has it written ([`super::letters`]) when sending.
//!
//! * Created: the owner a confirmation (iTIP PUBLISH); each moderator and guest an invitation (REQUEST)
//!   with their personal join link and their answer links.
//! * Updated: the owner a confirmation; attendees already invited an update when the date, time,
//!   duration or subject changed, or their role did; new attendees an invitation; removed attendees a
//!   cancellation (CANCEL) of the meeting as they knew it, meant for them alone.
//! * Deleted: the owner a confirmation; every attendee a cancellation.
//! * Answered, or the note left with an answer changed: the organiser is told who answered what, with
//!   the note (`mail.notify_organiser_on_answer`), at most three times an hour about the same attendee
//!   (notes alone count against answers and notes, a changed answer only against answers).
//!
//! One owner's bookings may cause at most `mail.max_invitations_per_owner_per_hour` mails to invitees:
//! beyond, a change that invites or updates people is refused ([`Refusal::TooManyInvitations`]) and
//! nothing is stored or sent; deletions and removals always go through (their cancellations count).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rusqlite::Transaction;

use super::compose::{self, MailSettings, Recipient};
use super::letters::{self, NoteEdit, Notice, OwnerChange, What};
use crate::booking::model::{Attendee, MeetingDetails, Role};
use crate::events::{Change, Hook, HookError, Refusal};
use crate::outbox::{self, NewMail};
use crate::users;

/// Answer mails about one attendee per hour, at most.
const ANSWER_MAILS_PER_HOUR: u32 = 3;

/// The mail reactions to booking changes.
pub struct MailNotifier {
    settings: Arc<MailSettings>,
}

impl MailNotifier {
    pub fn new(settings: Arc<MailSettings>) -> Self {
        Self { settings }
    }
}

/// A mail decided: its notice, and the meeting (as before or after the change) it describes.
pub struct Planned<'a> {
    pub meeting: &'a MeetingDetails,
    pub notice: Notice,
}

impl Hook for MailNotifier {
    fn name(&self) -> &'static str {
        "mail"
    }

    fn on_change(&self, tx: &Transaction<'_>, change: &Change<'_>, now: DateTime<Utc>) -> Result<(), HookError> {
        let s = &self.settings;
        let (owner_uid, planned) = match change {
            Change::Created { meeting } => (Some(meeting.meeting.owner_uid.as_str()), created(tx, s, meeting)?),
            Change::Updated { before, after, added, removed, significant } => {
                (Some(after.meeting.owner_uid.as_str()), updated(tx, s, before, after, added, removed, *significant)?)
            }
            Change::Deleted { meeting } => (Some(meeting.meeting.owner_uid.as_str()), deleted(tx, s, meeting)?),
            // A note changed alone is told like an answer: the organiser reads the answer and the note.
            Change::Answered { meeting, attendee, .. } | Change::NoteChanged { meeting, attendee, .. }
                if s.notify_organiser =>
            {
                let note = match change {
                    Change::NoteChanged { attendee, had_note, .. } => {
                        Some(match (had_note, attendee.note.is_empty()) {
                            (false, _) => NoteEdit::Left,
                            (true, false) => NoteEdit::Changed,
                            (true, true) => NoteEdit::Removed,
                        })
                    }
                    _ => None,
                };
                // Someone flipping their answer (or rewriting their note) again and again does not flood
                // the organiser: past a few mails an hour about them, it is recorded and shown, not
                // mailed. Notes alone count against answers and notes; a changed answer only against
                // answers, so edits of a note never keep a decline from being told.
                let since = now - Duration::hours(1);
                if outbox::answer_mails_since(tx, attendee.id, since, note.is_some())? >= ANSWER_MAILS_PER_HOUR {
                    tracing::info!(meeting = %meeting.meeting.id, attendee = attendee.id, "answer not mailed: hourly cap");
                    return Ok(());
                }
                (None, answered(tx, s, meeting, attendee, note)?)
            }
            _ => return Ok(()),
        };
        if let Some(owner) = owner_uid {
            // Cancellations count towards the limit but never make it refuse: an owner who reached it
            // can still call off a meeting or remove someone invited by mistake.
            let inviting = planned.iter().filter(|p| matches!(p.notice.what, What::Invitation { .. })).count() as u32;
            if inviting > 0 {
                let already = outbox::invitee_mails_since(tx, owner, now - Duration::hours(1))?;
                let to_invitees = planned.iter().filter(|p| p.notice.what.kind().is_to_invitees()).count() as u32;
                if already + to_invitees > s.max_invitations_per_hour {
                    tracing::warn!(target: "audit", uid = owner, already, asked = to_invitees, max = s.max_invitations_per_hour,
                        decision = "DENIED", "booking refused: too many invitations this hour");
                    return Err(HookError::Refused(Refusal::TooManyInvitations { max: s.max_invitations_per_hour }));
                }
            }
        }
        queue(tx, s, &planned, owner_uid, now)?;
        Ok(())
    }
}

/// Queues planned mails: each distinct meeting state stored once, each mail a small row pointing at it.
pub fn queue(
    tx: &Transaction<'_>,
    s: &MailSettings,
    planned: &[Planned<'_>],
    owner_uid: Option<&str>,
    now: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    let mut snapshots: Vec<(*const MeetingDetails, i64)> = Vec::new();
    for p in planned {
        let key: *const MeetingDetails = p.meeting;
        let snapshot_id = match snapshots.iter().find(|(k, _)| std::ptr::eq(*k, key)) {
            Some((_, id)) => *id,
            None => {
                let json = serde_json::to_string(p.meeting).map_err(json_error)?;
                let id = outbox::save_snapshot(tx, &json)?;
                snapshots.push((key, id));
                id
            }
        };
        let kind = p.notice.what.kind();
        outbox::enqueue(
            tx,
            &NewMail {
                kind,
                meeting_id: Some(p.meeting.meeting.id.clone()),
                // `None` for answers and reminders: not the owner's doing.
                owner_uid: owner_uid.map(str::to_string),
                message_id: compose::new_message_id(s),
                envelope_from: s.envelope_from.clone(),
                recipients: vec![p.notice.to.mail.clone()],
                subject: letters::subject(s, &p.notice, p.meeting),
                snapshot_id,
                about_attendee: match p.notice.what {
                    What::OwnerCopy { .. } => None,
                    what => what.attendee(p.meeting).map(|a| a.id),
                },
                notice: serde_json::to_string(&p.notice).map_err(json_error)?,
            },
            now,
        )?;
    }
    Ok(planned.len())
}

/// Serialising plain structs cannot fail; if it ever did, the booking is rolled back like on a store error.
fn json_error(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

/// The recipient behind an address: their language and whether they get the internal footer.
pub fn recipient(tx: &Transaction<'_>, s: &MailSettings, a: &Attendee) -> rusqlite::Result<Recipient> {
    let profile = users::mail_profile(tx, &a.mail)?;
    Ok(Recipient {
        mail: a.mail.clone(),
        name: a.name.clone(),
        lang: profile.lang.unwrap_or(s.default_lang),
        internal: s.is_internal(&a.mail, profile.is_user),
    })
}

fn plan<'a>(
    tx: &Transaction<'_>,
    s: &MailSettings,
    meeting: &'a MeetingDetails,
    to: &Attendee,
    what: What,
) -> rusqlite::Result<Planned<'a>> {
    Ok(Planned { meeting, notice: Notice { to: recipient(tx, s, to)?, what } })
}

fn owner_copy<'a>(
    tx: &Transaction<'_>,
    s: &MailSettings,
    d: &'a MeetingDetails,
    change: OwnerChange,
) -> rusqlite::Result<Option<Planned<'a>>> {
    d.owner().map(|o| plan(tx, s, d, o, What::OwnerCopy { change })).transpose()
}

fn invitees(d: &MeetingDetails) -> impl Iterator<Item = &Attendee> {
    d.attendees.iter().filter(|a| a.role != Role::Owner)
}

fn created<'a>(tx: &Transaction<'_>, s: &MailSettings, d: &'a MeetingDetails) -> rusqlite::Result<Vec<Planned<'a>>> {
    let mut out: Vec<Planned<'a>> = owner_copy(tx, s, d, OwnerChange::Created)?.into_iter().collect();
    for a in invitees(d) {
        out.push(plan(tx, s, d, a, What::Invitation { attendee: a.id, update: false })?);
    }
    Ok(out)
}

fn updated<'a>(
    tx: &Transaction<'_>,
    s: &MailSettings,
    before: &'a MeetingDetails,
    after: &'a MeetingDetails,
    added: &[Attendee],
    removed: &[Attendee],
    significant: bool,
) -> rusqlite::Result<Vec<Planned<'a>>> {
    let mut out: Vec<Planned<'a>> = owner_copy(tx, s, after, OwnerChange::Updated)?.into_iter().collect();
    for a in invitees(after) {
        if added.iter().any(|n| n.id == a.id) {
            out.push(plan(tx, s, after, a, What::Invitation { attendee: a.id, update: false })?);
        } else {
            let role_changed = before.attendee_by_mail(&a.mail).is_some_and(|b| b.role != a.role);
            if significant || role_changed {
                out.push(plan(tx, s, after, a, What::Invitation { attendee: a.id, update: true })?);
            }
        }
    }
    // The meeting as the removed attendee knew it, at the new sequence (their copy is cancelled).
    for r in removed {
        let what = What::Cancellation { attendee: r.id, removed_only: true, sequence: after.meeting.sequence };
        out.push(plan(tx, s, before, r, what)?);
    }
    Ok(out)
}

fn deleted<'a>(tx: &Transaction<'_>, s: &MailSettings, d: &'a MeetingDetails) -> rusqlite::Result<Vec<Planned<'a>>> {
    let mut out: Vec<Planned<'a>> = owner_copy(tx, s, d, OwnerChange::Deleted)?.into_iter().collect();
    for a in invitees(d) {
        let what = What::Cancellation { attendee: a.id, removed_only: false, sequence: d.meeting.sequence + 1 };
        out.push(plan(tx, s, d, a, what)?);
    }
    Ok(out)
}

fn answered<'a>(
    tx: &Transaction<'_>,
    s: &MailSettings,
    d: &'a MeetingDetails,
    who: &Attendee,
    note: Option<NoteEdit>,
) -> rusqlite::Result<Vec<Planned<'a>>> {
    let Some(owner) = d.owner() else { return Ok(Vec::new()) };
    Ok(vec![plan(tx, s, d, owner, What::Answer { attendee: who.id, note })?])
}
