//! What each kind of mail says. A booking change only decides who gets what — a [`Notice`], queued in
//! the outbox with a snapshot of the meeting as the change left it — and the outbox worker has the mail
//! written here ([`write`], through [`crate::outbox::Composer`]) just before sending it. Writing is
//! deterministic apart from MIME boundaries: the `Message-ID` is given when queued and the date is the
//! change's, so a mail written again (a retry) says the same thing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::compose::{self, Draft, MailSettings, Recipient};
use crate::booking::model::{Attendee, MeetingDetails, PartStat, Role};
use crate::ics;
use crate::outbox::{self, Composed, Letter, MailKind};

/// Who gets what: stored (JSON) in the outbox row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub to: Recipient,
    pub what: What,
}

/// What an invitee did to the note that goes with their answer, the answer itself unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteEdit {
    Left,
    Changed,
    Removed,
}

/// Which of the owner's confirmations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnerChange {
    Created,
    Updated,
    Deleted,
}

/// The kind of mail, with the attendee row (in the snapshot) it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum What {
    /// The owner's confirmation, with the start link (iTIP PUBLISH, no attendee).
    OwnerCopy { change: OwnerChange },
    /// An invitation (first or `update`d) to one invitee, with their links and their own iTIP REQUEST.
    Invitation { attendee: i64, update: bool },
    /// A cancellation meant for one invitee (the meeting deleted, or them `removed_only`): iTIP CANCEL
    /// at `sequence`, naming them.
    Cancellation { attendee: i64, removed_only: bool, sequence: u32 },
    /// To the organiser: `attendee` answered (their answer and note are in the snapshot), or, with
    /// `note`, left, changed or removed the note that goes with an unchanged answer.
    Answer {
        attendee: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<NoteEdit>,
    },
    /// A reminder before the start, for `attendee` (the owner's lists who is coming).
    Reminder { attendee: i64 },
}

impl What {
    pub fn kind(self) -> MailKind {
        match self {
            What::OwnerCopy { change: OwnerChange::Created } => MailKind::OwnerCreated,
            What::OwnerCopy { change: OwnerChange::Updated } => MailKind::OwnerUpdated,
            What::OwnerCopy { change: OwnerChange::Deleted } => MailKind::OwnerDeleted,
            What::Invitation { update: false, .. } => MailKind::Invitation,
            What::Invitation { update: true, .. } => MailKind::Update,
            What::Cancellation { .. } => MailKind::Cancellation,
            What::Answer { .. } => MailKind::Answer,
            What::Reminder { .. } => MailKind::Reminder,
        }
    }

    /// The attendee row the mail is about (the owner's for an owner's copy).
    pub fn attendee(self, d: &MeetingDetails) -> Option<&Attendee> {
        match self {
            What::OwnerCopy { .. } => d.owner(),
            What::Invitation { attendee, .. }
            | What::Cancellation { attendee, .. }
            | What::Answer { attendee, .. }
            | What::Reminder { attendee } => d.attendees.iter().find(|a| a.id == attendee),
        }
    }
}

/// `Name <mail>`, or the address alone.
fn named(a: &Attendee) -> String {
    if a.name.is_empty() { a.mail.clone() } else { format!("{} <{}>", a.name, a.mail) }
}

fn organiser_name(d: &MeetingDetails) -> String {
    d.owner().map(|o| if o.name.is_empty() { o.mail.clone() } else { o.name.clone() }).unwrap_or_default()
}

/// The subject of a notice's mail (also stored in the outbox row, for listings).
pub fn subject(s: &MailSettings, notice: &Notice, d: &MeetingDetails) -> String {
    let mine = notice.what.attendee(d);
    let role = match notice.what {
        What::OwnerCopy { .. } | What::Answer { .. } => Role::Owner,
        _ => mine.map_or(Role::Guest, |a| a.role),
    };
    let who = match notice.what {
        What::Answer { .. } => mine.map(named).unwrap_or_default(),
        _ => String::new(),
    };
    s.subject(notice.what.kind(), role, notice.to.lang, &d.meeting.subject, &who)
}

/// Writes the mail of `notice` about `d` (the snapshot).
pub fn write(
    s: &MailSettings,
    notice: &Notice,
    d: &MeetingDetails,
    message_id: &str,
    date: DateTime<Utc>,
) -> Result<Composed, String> {
    let mine = notice.what.attendee(d).ok_or("the attendee is not in the meeting's snapshot")?;
    let to = &notice.to;
    let tr = s.tr(to.lang);
    let subject = subject(s, notice, d);
    let owner = d.owner();
    let organiser = organiser_name(d);
    let mut body = compose::body(s, &tr, to, subject.clone(), String::new());
    let mut calendar = None;
    // Replies go to the organiser, except on the organiser's own mails (to the one who answered there).
    let mut reply_to = owner.filter(|o| o.id != mine.id).map(|o| (o.name.as_str(), o.mail.as_str()));
    let itip = |method, sequence, cancelled| {
        let text = compose::itip(s, tr, compose::Itip { method, sequence, cancelled }, d, mine, date);
        Some((method, text))
    };
    match notice.what {
        What::OwnerCopy { change } => {
            let (intro, cancelled, sequence) = match change {
                OwnerChange::Created => ("mail-intro-owner-created", false, d.meeting.sequence),
                OwnerChange::Updated => ("mail-intro-owner-updated", false, d.meeting.sequence),
                OwnerChange::Deleted => ("mail-intro-owner-deleted", true, d.meeting.sequence + 1),
            };
            body.paragraphs = vec![tr.t(intro)];
            body.fields = compose::meeting_fields(&tr, d, false, true);
            if !cancelled {
                body.sections.push(compose::join_section(s, &tr, d, mine));
                body.sections.push(compose::attendees_section(s, &tr, d));
                body.advice = Some(s.advice(to.lang).to_string());
            }
            calendar = itip(ics::Method::Publish, sequence, cancelled);
        }
        What::Invitation { update, .. } => {
            let intro = match (update, mine.role) {
                (true, _) => "mail-intro-update",
                (_, Role::Moderator) => "mail-intro-invitation-moderator",
                _ => "mail-intro-invitation-guest",
            };
            body.paragraphs = vec![tr.ta(intro, &[("organiser", organiser)])];
            body.fields = compose::meeting_fields(&tr, d, true, mine.role == Role::Moderator);
            body.sections.push(compose::join_section(s, &tr, d, mine));
            body.sections.push(compose::answer_section(s, &tr, mine));
            body.notes.push(tr.t("mail-client-buttons"));
            body.advice = Some(s.advice(to.lang).to_string());
            calendar = itip(ics::Method::Request, d.meeting.sequence, false);
        }
        What::Cancellation { removed_only, sequence, .. } => {
            let intro = if removed_only { "mail-intro-removed" } else { "mail-intro-cancelled" };
            body.paragraphs = vec![tr.ta(intro, &[("organiser", organiser)])];
            body.fields = compose::meeting_fields(&tr, d, true, false);
            calendar = itip(ics::Method::Cancel, sequence, true);
        }
        What::Answer { note, .. } => {
            let answer = match mine.partstat {
                PartStat::Accepted => "accept",
                PartStat::Tentative => "tentative",
                _ => "decline",
            };
            let intro = match note {
                None => tr.ta("mail-intro-answer", &[("who", named(mine)), ("answer", answer.into())]),
                Some(NoteEdit::Left) => tr.ta("mail-intro-note-left", &[("who", named(mine))]),
                Some(NoteEdit::Changed) => tr.ta("mail-intro-note", &[("who", named(mine))]),
                Some(NoteEdit::Removed) => tr.ta("mail-intro-note-removed", &[("who", named(mine))]),
            };
            body.paragraphs = vec![intro];
            // The note left with the answer, as written (the mail's text and HTML escape it).
            if !mine.note.is_empty() {
                body.paragraphs.push(tr.ta("mail-answer-note", &[("note", mine.note.clone())]));
            }
            body.fields = compose::meeting_fields(&tr, d, false, false);
            body.sections.push(compose::attendees_section(s, &tr, d));
            reply_to = Some((mine.name.as_str(), mine.mail.as_str()));
        }
        What::Reminder { .. } => {
            let intro = match mine.role {
                Role::Owner => "mail-intro-reminder-owner",
                Role::Moderator => "mail-intro-reminder-moderator",
                Role::Guest => "mail-intro-reminder-guest",
            };
            body.paragraphs = vec![tr.t(intro)];
            body.fields = compose::meeting_fields(&tr, d, mine.role != Role::Owner, mine.role.is_host());
            if mine.role == Role::Owner {
                // Who is coming: every invitee by answer.
                for (p, label) in [
                    (PartStat::Accepted, "mail-field-accepted"),
                    (PartStat::Tentative, "mail-field-tentative"),
                    (PartStat::Declined, "mail-field-declined"),
                    (PartStat::NeedsAction, "mail-field-no-answer"),
                ] {
                    let who: Vec<&str> = d
                        .attendees
                        .iter()
                        .filter(|a| a.role != Role::Owner && a.partstat == p)
                        .map(|a| a.mail.as_str())
                        .collect();
                    let list = if who.is_empty() { tr.t("mail-nobody") } else { who.join(", ") };
                    body.fields.push((tr.t(label), list));
                }
            }
            body.sections.push(compose::join_section(s, &tr, d, mine));
            if mine.role == Role::Owner {
                body.sections.push(compose::attendees_section(s, &tr, d));
            } else if mine.partstat == PartStat::NeedsAction {
                body.sections.push(compose::answer_section(s, &tr, mine));
            }
            body.advice = Some(s.advice(to.lang).to_string());
        }
    }
    compose::finish(s, Draft { recipient: to, reply_to, subject, body, calendar }, message_id, date)
}

impl outbox::Composer for MailSettings {
    fn compose(&self, letter: &Letter) -> Result<Composed, String> {
        let notice: Notice = serde_json::from_str(&letter.notice).map_err(|e| format!("notice: {e}"))?;
        let meeting: MeetingDetails = serde_json::from_str(&letter.snapshot).map_err(|e| format!("snapshot: {e}"))?;
        write(self, &notice, &meeting, &letter.message_id, letter.created_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn notices_are_stable_json() {
        let n = Notice {
            to: Recipient { mail: "a@example.org".into(), name: "A".into(), lang: Lang::En, internal: true },
            what: What::Cancellation { attendee: 7, removed_only: true, sequence: 2 },
        };
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(
            json,
            r#"{"to":{"mail":"a@example.org","name":"A","lang":"en","internal":true},"what":{"kind":"cancellation","attendee":7,"removed_only":true,"sequence":2}}"#
        );
        assert_eq!(serde_json::from_str::<Notice>(&json).unwrap(), n);
        assert_eq!(n.what.kind(), MailKind::Cancellation);
    }
}
