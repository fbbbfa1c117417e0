//! Who gets what, when (the original JMB's matrix, its gaps closed), as a hook on booking changes: the
//! mails are composed and queued in the outbox inside the booking's own transaction.
//!
//! * Created: the owner a confirmation (iTIP PUBLISH); each moderator and guest an invitation (REQUEST)
//!   with their personal join link and their answer links.
//! * Updated: the owner a confirmation; attendees already invited an update when the date, time,
//!   duration or subject changed, or their role did; new attendees an invitation; removed attendees a
//!   cancellation (CANCEL) of the meeting as they knew it, meant for them alone.
//! * Deleted: the owner a confirmation; every attendee a cancellation.
//! * Answered: the organiser is told who answered what (`mail.notify_organiser_on_answer`).
//!
//! One owner's bookings may cause at most `mail.max_invitations_per_owner_per_hour` mails to invitees:
//! beyond, the change is refused ([`Refusal::TooManyInvitations`]) and nothing is stored or sent.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rusqlite::Transaction;

use super::compose::{self, Draft, Itip, MailSettings, Recipient};
use crate::booking::model::{Attendee, MeetingDetails, PartStat, Role};
use crate::events::{Change, Hook, HookError, Refusal};
use crate::ics;
use crate::outbox::{self, MailKind, NewMail};
use crate::users;

/// The mail reactions to booking changes.
pub struct MailNotifier {
    settings: Arc<MailSettings>,
}

impl MailNotifier {
    pub fn new(settings: Arc<MailSettings>) -> Self {
        Self { settings }
    }
}

impl Hook for MailNotifier {
    fn name(&self) -> &'static str {
        "mail"
    }

    fn on_change(&self, tx: &Transaction<'_>, change: &Change<'_>, now: DateTime<Utc>) -> Result<(), HookError> {
        let s = &self.settings;
        let (owner_uid, mails) = match change {
            Change::Created { meeting } => (Some(meeting.meeting.owner_uid.as_str()), created(tx, s, meeting, now)?),
            Change::Updated { before, after, added, removed, significant } => (
                Some(after.meeting.owner_uid.as_str()),
                updated(tx, s, before, after, added, removed, *significant, now)?,
            ),
            Change::Deleted { meeting } => (Some(meeting.meeting.owner_uid.as_str()), deleted(tx, s, meeting, now)?),
            Change::Answered { meeting, attendee, previous }
                if s.notify_organiser && attendee.partstat != *previous =>
            {
                (None, answered(tx, s, meeting, attendee, now)?)
            }
            _ => return Ok(()),
        };
        if let Some(owner) = owner_uid {
            let to_invitees = mails.iter().filter(|m| m.kind.is_to_invitees()).count() as u32;
            if to_invitees > 0 {
                let already = outbox::invitee_mails_since(tx, owner, now - Duration::hours(1))?;
                if already + to_invitees > s.max_invitations_per_hour {
                    tracing::warn!(target: "audit", uid = owner, already, asked = to_invitees, max = s.max_invitations_per_hour,
                        decision = "DENIED", "booking refused: too many invitations this hour");
                    return Err(HookError::Refused(Refusal::TooManyInvitations { max: s.max_invitations_per_hour }));
                }
            }
        }
        for mail in &mails {
            outbox::enqueue(tx, mail, now)?;
        }
        Ok(())
    }
}

/// The recipient behind an address: their language and whether they get the internal footer.
pub fn recipient(tx: &Transaction<'_>, s: &MailSettings, mail: &str, name: &str) -> rusqlite::Result<Recipient> {
    let profile = users::mail_profile(tx, mail)?;
    Ok(Recipient {
        mail: mail.to_string(),
        name: name.to_string(),
        lang: profile.lang.unwrap_or(s.default_lang),
        internal: s.is_internal(mail, profile.is_user),
    })
}

fn owner_copy(
    tx: &Transaction<'_>,
    s: &MailSettings,
    kind: MailKind,
    d: &MeetingDetails,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<NewMail>> {
    let Some(owner) = d.owner() else { return Ok(None) };
    let to = recipient(tx, s, &owner.mail, &owner.name)?;
    let tr = s.tr(to.lang);
    let (intro, cancelled, sequence) = match kind {
        MailKind::OwnerCreated => ("mail-intro-owner-created", false, d.meeting.sequence),
        MailKind::OwnerUpdated => ("mail-intro-owner-updated", false, d.meeting.sequence),
        _ => ("mail-intro-owner-deleted", true, d.meeting.sequence + 1),
    };
    let subject = s.subject(kind, Role::Owner, to.lang, &d.meeting.subject, "");
    let mut body = compose::body(s, &tr, &to, subject.clone(), tr.t(intro));
    body.fields = compose::meeting_fields(&tr, d, false, true);
    if !cancelled {
        body.sections.push(compose::join_section(s, &tr, d, owner));
        body.sections.push(compose::attendees_section(s, &tr, d));
        body.advice = Some(s.advice(to.lang).to_string());
    }
    let calendar = compose::itip(s, tr, Itip { method: ics::Method::Publish, sequence, cancelled }, d, owner, now);
    let draft = Draft {
        kind,
        meeting_id: Some(&d.meeting.id),
        owner_uid: Some(&d.meeting.owner_uid),
        recipient: &to,
        reply_to: None,
        subject,
        body,
        calendar: Some((ics::Method::Publish, calendar)),
    };
    Ok(compose::finish(s, draft, now))
}

/// An invitation (first or updated) to one invitee, with their links and their own iTIP REQUEST.
fn invitation(
    tx: &Transaction<'_>,
    s: &MailSettings,
    kind: MailKind,
    d: &MeetingDetails,
    mine: &Attendee,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<NewMail>> {
    let to = recipient(tx, s, &mine.mail, &mine.name)?;
    let tr = s.tr(to.lang);
    let organiser =
        d.owner().map(|o| if o.name.is_empty() { o.mail.clone() } else { o.name.clone() }).unwrap_or_default();
    let intro = match (kind, mine.role) {
        (MailKind::Update, _) => tr.ta("mail-intro-update", &[("organiser", organiser)]),
        (_, Role::Moderator) => tr.ta("mail-intro-invitation-moderator", &[("organiser", organiser)]),
        _ => tr.ta("mail-intro-invitation-guest", &[("organiser", organiser)]),
    };
    let subject = s.subject(kind, mine.role, to.lang, &d.meeting.subject, "");
    let mut body = compose::body(s, &tr, &to, subject.clone(), intro);
    body.fields = compose::meeting_fields(&tr, d, true, mine.role == Role::Moderator);
    body.sections.push(compose::join_section(s, &tr, d, mine));
    body.sections.push(compose::answer_section(s, &tr, mine));
    body.notes.push(tr.t("mail-client-buttons"));
    body.advice = Some(s.advice(to.lang).to_string());
    let calendar = compose::itip(
        s,
        tr,
        Itip { method: ics::Method::Request, sequence: d.meeting.sequence, cancelled: false },
        d,
        mine,
        now,
    );
    let owner = d.owner();
    let draft = Draft {
        kind,
        meeting_id: Some(&d.meeting.id),
        owner_uid: Some(&d.meeting.owner_uid),
        recipient: &to,
        reply_to: owner.map(|o| (o.name.as_str(), o.mail.as_str())),
        subject,
        body,
        calendar: Some((ics::Method::Request, calendar)),
    };
    Ok(compose::finish(s, draft, now))
}

/// A cancellation meant for one invitee: the meeting as they knew it (`d`), an iTIP CANCEL naming them.
fn cancellation(
    tx: &Transaction<'_>,
    s: &MailSettings,
    d: &MeetingDetails,
    mine: &Attendee,
    removed_only: bool,
    sequence: u32,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<NewMail>> {
    let to = recipient(tx, s, &mine.mail, &mine.name)?;
    let tr = s.tr(to.lang);
    let organiser =
        d.owner().map(|o| if o.name.is_empty() { o.mail.clone() } else { o.name.clone() }).unwrap_or_default();
    let intro =
        tr.ta(if removed_only { "mail-intro-removed" } else { "mail-intro-cancelled" }, &[("organiser", organiser)]);
    let subject = s.subject(MailKind::Cancellation, mine.role, to.lang, &d.meeting.subject, "");
    let mut body = compose::body(s, &tr, &to, subject.clone(), intro);
    body.fields = compose::meeting_fields(&tr, d, true, false);
    let calendar = compose::itip(s, tr, Itip { method: ics::Method::Cancel, sequence, cancelled: true }, d, mine, now);
    let owner = d.owner();
    let draft = Draft {
        kind: MailKind::Cancellation,
        meeting_id: Some(&d.meeting.id),
        owner_uid: Some(&d.meeting.owner_uid),
        recipient: &to,
        reply_to: owner.map(|o| (o.name.as_str(), o.mail.as_str())),
        subject,
        body,
        calendar: Some((ics::Method::Cancel, calendar)),
    };
    Ok(compose::finish(s, draft, now))
}

fn invitees(d: &MeetingDetails) -> impl Iterator<Item = &Attendee> {
    d.attendees.iter().filter(|a| a.role != Role::Owner)
}

fn created(
    tx: &Transaction<'_>,
    s: &MailSettings,
    d: &MeetingDetails,
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<NewMail>> {
    let mut out: Vec<NewMail> = owner_copy(tx, s, MailKind::OwnerCreated, d, now)?.into_iter().collect();
    for a in invitees(d) {
        out.extend(invitation(tx, s, MailKind::Invitation, d, a, now)?);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn updated(
    tx: &Transaction<'_>,
    s: &MailSettings,
    before: &MeetingDetails,
    after: &MeetingDetails,
    added: &[Attendee],
    removed: &[Attendee],
    significant: bool,
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<NewMail>> {
    let mut out: Vec<NewMail> = owner_copy(tx, s, MailKind::OwnerUpdated, after, now)?.into_iter().collect();
    for a in invitees(after) {
        if added.iter().any(|n| n.id == a.id) {
            out.extend(invitation(tx, s, MailKind::Invitation, after, a, now)?);
        } else {
            let role_changed = before.attendee_by_mail(&a.mail).is_some_and(|b| b.role != a.role);
            if significant || role_changed {
                out.extend(invitation(tx, s, MailKind::Update, after, a, now)?);
            }
        }
    }
    // The meeting as the removed attendee knew it, at the new sequence (their copy is cancelled).
    for r in removed {
        out.extend(cancellation(tx, s, before, r, true, after.meeting.sequence, now)?);
    }
    Ok(out)
}

fn deleted(
    tx: &Transaction<'_>,
    s: &MailSettings,
    d: &MeetingDetails,
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<NewMail>> {
    let mut out: Vec<NewMail> = owner_copy(tx, s, MailKind::OwnerDeleted, d, now)?.into_iter().collect();
    for a in invitees(d) {
        out.extend(cancellation(tx, s, d, a, false, d.meeting.sequence + 1, now)?);
    }
    Ok(out)
}

fn answered(
    tx: &Transaction<'_>,
    s: &MailSettings,
    d: &MeetingDetails,
    who: &Attendee,
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<NewMail>> {
    let Some(owner) = d.owner() else { return Ok(Vec::new()) };
    let to = recipient(tx, s, &owner.mail, &owner.name)?;
    let tr = s.tr(to.lang);
    let name = if who.name.is_empty() { who.mail.clone() } else { format!("{} <{}>", who.name, who.mail) };
    let answer = match who.partstat {
        PartStat::Accepted => "accept",
        PartStat::Tentative => "tentative",
        _ => "decline",
    };
    let subject = s.subject(MailKind::Answer, Role::Owner, to.lang, &d.meeting.subject, &name);
    let mut body = compose::body(
        s,
        &tr,
        &to,
        subject.clone(),
        tr.ta("mail-intro-answer", &[("who", name), ("answer", answer.into())]),
    );
    body.fields = compose::meeting_fields(&tr, d, false, false);
    body.sections.push(compose::attendees_section(s, &tr, d));
    let draft = Draft {
        kind: MailKind::Answer,
        meeting_id: Some(&d.meeting.id),
        owner_uid: None,
        recipient: &to,
        reply_to: Some((who.name.as_str(), who.mail.as_str())),
        subject,
        body,
        calendar: None,
    };
    Ok(compose::finish(s, draft, now).into_iter().collect())
}
