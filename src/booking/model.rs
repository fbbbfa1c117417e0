//! Domain types of a booking: meetings, attendees, roles, answers, and the newtypes that can only be
//! built from valid input.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::identity::Identity;

/// A meeting as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    pub id: String,
    pub ical_uid: String,
    pub room: String,
    pub subject: String,
    pub start: DateTime<Utc>,
    pub duration_min: u32,
    pub owner_uid: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub sequence: u32,
}

impl Meeting {
    pub fn end(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::minutes(i64::from(self.duration_min))
    }
    pub fn has_ended(&self, now: DateTime<Utc>) -> bool {
        now >= self.end()
    }
    pub fn has_started(&self, now: DateTime<Utc>) -> bool {
        now >= self.start
    }
    /// Whether its owner may still change or cancel it: before the start, or, for a meeting booked or
    /// moved once its start had come (the step under way is bookable), for `grace` after the start, to
    /// put right what was typed in a hurry.
    pub fn editable(&self, now: DateTime<Utc>, grace: chrono::Duration) -> bool {
        !self.has_started(now)
            || (self.updated >= self.start && self.start.checked_add_signed(grace).is_some_and(|t| now < t))
    }
}

/// Where a meeting stands for one viewer: the original list's colours, and what the API reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Planned,
    /// The viewer may enter (hosts and guests from different lead times before the start).
    Joinable,
    Ongoing,
    Finished,
}

impl Phase {
    /// For a viewer with `role`: joinable from `host_early_minutes` before the start for owners and
    /// moderators, `guest_early_minutes` for guests; ongoing from the start; finished at the end.
    pub fn of(
        meeting: &Meeting,
        role: Role,
        host_early_minutes: u32,
        guest_early_minutes: u32,
        now: DateTime<Utc>,
    ) -> Self {
        let early = if role.is_host() { host_early_minutes } else { guest_early_minutes };
        if meeting.has_ended(now) {
            Phase::Finished
        } else if meeting.has_started(now) {
            Phase::Ongoing
        } else if now >= meeting.start - chrono::Duration::minutes(i64::from(early)) {
            Phase::Joinable
        } else {
            Phase::Planned
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Planned => "planned",
            Phase::Joinable => "joinable",
            Phase::Ongoing => "ongoing",
            Phase::Finished => "finished",
        }
    }
}

/// An attendee row: the owner, an invited moderator or an invited guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    pub id: i64,
    pub meeting_id: String,
    pub role: Role,
    pub mail: String,
    pub name: String,
    pub token: String,
    pub partstat: PartStat,
    pub answered_at: Option<DateTime<Utc>>,
    pub join_count: u32,
    pub first_join: Option<DateTime<Utc>>,
    pub last_join: Option<DateTime<Utc>>,
    /// A note left for the organiser with the answer (empty: none). Defaulted so mail snapshots
    /// written before it existed still read.
    #[serde(default)]
    pub note: String,
}

impl Attendee {
    /// The identity an external moderator gets in a Jitsi token: stable, not a credential.
    pub fn stable_id(&self) -> String {
        format!("jmb-attendee-{}", self.id)
    }
}

/// The owner recorded for a meeting imported from the original JMB (`jmb import-legacy`) whose owner
/// was known only by address: no uid contains a space, so it never names a user; the owner's first
/// sign-in that records them (booking, calendar page) replaces it with their uid.
pub fn pending_owner(mail: &str) -> String {
    format!("imported owner {mail}")
}

/// A meeting with all its attendees, owner first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingDetails {
    pub meeting: Meeting,
    pub attendees: Vec<Attendee>,
}

impl MeetingDetails {
    /// Whether `who` owns the meeting (by uid: the owner row keeps the address used when booking).
    /// A meeting imported from the original JMB whose owner's uid was unknown is owned by whoever
    /// signs in with the owner's address, as in the original ([`pending_owner`]).
    pub fn is_owned_by(&self, who: &Identity) -> bool {
        self.meeting.owner_uid == who.uid || self.meeting.owner_uid == pending_owner(&who.mail)
    }

    /// The row through which `who` sees the meeting: the owner row for the owner, else their own
    /// invitation (by mail). `None`: the meeting is not theirs to see.
    pub fn row_of(&self, who: &Identity) -> Option<&Attendee> {
        self.row_for(&who.uid, &who.mail)
    }

    /// [`MeetingDetails::row_of`] for a user known by uid and primary address.
    pub fn row_for(&self, uid: &str, mail: &str) -> Option<&Attendee> {
        if self.meeting.owner_uid == uid { self.owner() } else { self.attendee_by_mail(mail) }
    }

    pub fn owner(&self) -> Option<&Attendee> {
        self.attendees.iter().find(|a| a.role == Role::Owner)
    }
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &Attendee> {
        self.attendees.iter().filter(move |a| a.role == role)
    }
    pub fn attendee_by_mail(&self, mail: &str) -> Option<&Attendee> {
        self.attendees.iter().find(|a| a.mail == mail)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Moderator,
    Guest,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Moderator => "moderator",
            Role::Guest => "guest",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Role::Owner),
            "moderator" => Some(Role::Moderator),
            "guest" => Some(Role::Guest),
            _ => None,
        }
    }
    /// Owners and moderators get Jitsi moderator rights.
    pub fn is_host(self) -> bool {
        matches!(self, Role::Owner | Role::Moderator)
    }
}

/// Participation status, stored with the legacy codes 0, 1, 2 and jmb's 3 for a tentative answer
/// (the original had no such answer; every calendar client offers it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum PartStat {
    NeedsAction,
    Accepted,
    Declined,
    Tentative,
}

impl PartStat {
    pub const ALL: [PartStat; 4] = [PartStat::NeedsAction, PartStat::Accepted, PartStat::Tentative, PartStat::Declined];

    pub fn code(self) -> i64 {
        match self {
            PartStat::NeedsAction => 0,
            PartStat::Accepted => 1,
            PartStat::Declined => 2,
            PartStat::Tentative => 3,
        }
    }
    /// Reads a stored code; anything unknown (the original's damaged `''` rows) is "no answer".
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => PartStat::Accepted,
            2 => PartStat::Declined,
            3 => PartStat::Tentative,
            _ => PartStat::NeedsAction,
        }
    }
    /// The iCalendar PARTSTAT value.
    pub fn as_ical(self) -> &'static str {
        match self {
            PartStat::NeedsAction => "NEEDS-ACTION",
            PartStat::Accepted => "ACCEPTED",
            PartStat::Declined => "DECLINED",
            PartStat::Tentative => "TENTATIVE",
        }
    }
}

/// An answer to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Accept,
    Tentative,
    Decline,
}

impl Answer {
    pub const ALL: [Answer; 3] = [Answer::Accept, Answer::Tentative, Answer::Decline];

    pub fn partstat(self) -> PartStat {
        match self {
            Answer::Accept => PartStat::Accepted,
            Answer::Tentative => PartStat::Tentative,
            Answer::Decline => PartStat::Declined,
        }
    }
    /// The word used in forms, links and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Accept => "accept",
            Answer::Tentative => "tentative",
            Answer::Decline => "decline",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "accept" | "accepted" => Some(Answer::Accept),
            "tentative" | "maybe" => Some(Answer::Tentative),
            "decline" | "declined" => Some(Answer::Decline),
            _ => None,
        }
    }
}

/// A note an invitee leaves for the organiser with their answer: at most [`Note::MAX_CHARS`]
/// characters, trimmed, line breaks kept (as `\n`), other control characters dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Note(String);

/// Why a note was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteTooLong;

impl Note {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, NoteTooLong> {
        let cleaned: String = raw.replace("\r\n", "\n").chars().filter(|c| *c == '\n' || !c.is_control()).collect();
        let trimmed = cleaned.trim();
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(NoteTooLong);
        }
        Ok(Note(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A lower-cased, syntactically valid mail address (RFC 5322 addr-spec with a dotted domain).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MailAddress(String);

impl MailAddress {
    /// Parses one bare address. Display names are handled by the form parser, not here.
    pub fn parse(raw: &str) -> Option<Self> {
        let lower = raw.trim().to_lowercase();
        if lower.len() > 254 || lower.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return None;
        }
        let (local, domain) = lower.rsplit_once('@')?;
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return None;
        }
        // dot-atom local part (RFC 5322 §3.2.3): atext runs separated by single dots.
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c) || !c.is_ascii();
        if local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
            || !local.chars().all(|c| c == '.' || atext(c))
        {
            return None;
        }
        // A domain with at least two labels, each a hostname label, and an alphabetic top level.
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || domain.len() > 253 {
            return None;
        }
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
        };
        if !labels.iter().all(label_ok) {
            return None;
        }
        let tld = labels.last()?;
        if tld.chars().count() < 2 || tld.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        // And one the mail library can send to (it refuses some non-ASCII domains, such as a label
        // starting with a combining mark): an invitation nobody could send is refused at booking.
        lower.parse::<lettre::Address>().ok()?;
        Some(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or_default()
    }
}

impl std::fmt::Display for MailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name derived from an address, as the original did for Jitsi and calendar CNs:
/// `jean.dupont@x.org` → `Jean Dupont`.
pub fn name_from_mail(mail: &str) -> String {
    let local = mail.split('@').next().unwrap_or_default();
    local
        .split(['.', '_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_trimmed_cleaned_and_bounded() {
        assert_eq!(Note::parse("  late by 10 min\r\nsorry \u{7}").unwrap().as_str(), "late by 10 min\nsorry");
        assert_eq!(Note::parse("").unwrap().as_str(), "");
        assert!(Note::parse(&"é".repeat(Note::MAX_CHARS)).is_ok());
        assert_eq!(Note::parse(&"é".repeat(Note::MAX_CHARS + 1)), Err(NoteTooLong));
    }

    #[test]
    fn addresses() {
        for ok in
            ["a@b.fr", "Jean.Dupont+jmb@Example.ORG", "o'brien@example.ie", "x_y-z@sub.example.co.uk", "zoé@exemple.fr"]
        {
            assert!(MailAddress::parse(ok).is_some(), "{ok}");
        }
        assert_eq!(MailAddress::parse(" A+B@Example.org ").unwrap().as_str(), "a+b@example.org");
        for bad in [
            "",
            "a",
            "a@",
            "@b.fr",
            "a@b",
            "a@b..fr",
            "a..b@c.fr",
            ".a@b.fr",
            "a@-b.fr",
            "a b@c.fr",
            "a@b.f",
            "a@b.fr\0",
            "<a@b.fr>",
            "a@b@c.fr",
            "a@b.123",
            "a\n@b.fr",
            // Passes the shape checks, but no mail could be sent there (lettre refuses the domain).
            "x@\u{301}a.org",
        ] {
            assert!(MailAddress::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(name_from_mail("jean.dupont@x.org"), "Jean Dupont");
        assert_eq!(name_from_mail("marie_claire-durand@x.org"), "Marie Claire Durand");
    }

    #[test]
    fn partstat_codes_round_trip() {
        for p in PartStat::ALL {
            assert_eq!(PartStat::from_code(p.code()), p);
        }
        assert_eq!(PartStat::from_code(7), PartStat::NeedsAction);
        for a in Answer::ALL {
            assert_eq!(Answer::parse(a.as_str()), Some(a));
        }
        assert_eq!(Answer::parse(" Maybe "), Some(Answer::Tentative));
    }
}
