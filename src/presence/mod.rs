//! Presence: who was actually in each meeting's room, and for how long, from Prosody's event_sync
//! webhooks (the edge, `web::event_sync`, checks the caller and hands over parsed [`Event`]s).
//!
//! Invariants:
//! * **Recorded once.** A stay is one connection (`occupant_jid`) in one room (the main room or a
//!   breakout room) from its join time; it is stored under that key, so a duplicate, a retry or a
//!   late event changes nothing, and an end is only ever moved earlier (the end a room's destruction
//!   filled in gives way to the occupant's own, later-delivered leave). Prosody retries on 5xx: every
//!   handler may run any number of times.
//! * **Out of order.** A leave carries its join time (event_sync sends the whole occupant), so a leave
//!   before its join records the whole stay, and the join then finds it. A destroyed room lists every
//!   occupant with their times: it fills in what was lost and ends what is still open.
//! * **Counted once.** Minutes present are the union of a participant's stays: a breakout move (leave
//!   the main room, join a breakout room: two stays that touch), a reconnection, or two devices at
//!   once never count twice.
//! * **Matched to invitations** by token identity (`context.user.id`: the owner's uid, an internal
//!   moderator's uid through the address jmb knows for it, `jmb-attendee-<id>` for an external
//!   moderator) or by address; anyone else is an unknown participant, by token identity or, for
//!   anonymous guests, by their connection.
//! * **People only.** Service accounts are not participants: the `[xmpp]` bot (`xmpp.jid`) and
//!   `presence.ignore_jids` (recorders, gateways) are never recorded, whatever the event.
//! * **Mapped to meetings** by room name and time: a room counts for its meeting from
//!   `presence.before_start_minutes` before the start to `presence.after_end_minutes` after the end;
//!   stays outside that window, and rooms no meeting uses (private rooms, strangers), are ignored.

pub mod event;
pub mod repo;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

pub use event::{BadEvent, Event, Kind, Occupant};

use crate::booking::model::{Attendee, Meeting, Role};
use crate::config::{Config, ConfigError, Secret};
use crate::db::{Db, DbError};

/// How long around a meeting its room counts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub before_start_seconds: i64,
    pub after_end_seconds: i64,
}

impl Window {
    /// The instants (Unix seconds) between which presence in `meeting`'s room counts for it.
    pub fn of(&self, meeting: &Meeting) -> (i64, i64) {
        (meeting.start.timestamp() - self.before_start_seconds, meeting.end().timestamp() + self.after_end_seconds)
    }
}

/// Service accounts whose stays are not recorded (see [`ServiceAccounts::matches`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccounts {
    /// Lower-cased bare JIDs (`user@domain`) or domains (`@domain`).
    entries: Vec<String>,
}

impl ServiceAccounts {
    pub fn new<'a>(entries: impl IntoIterator<Item = &'a str>) -> Self {
        let entries = entries.into_iter().map(|e| e.trim().to_lowercase()).filter(|e| e.contains('@')).collect();
        Self { entries }
    }

    /// The `[xmpp]` bot (when `xmpp.jid` is set) and `presence.ignore_jids`.
    pub fn from_config(config: &Config) -> Self {
        let bot = config.xmpp.as_ref().map(|x| x.jid.as_str());
        Self::new(bot.into_iter().chain(config.presence.ignore_jids.iter().map(String::as_str)))
    }

    /// Whether the connection `jid` (a full or bare JID) is one of these accounts: its bare JID is
    /// listed, or its domain is listed as `@domain`.
    pub fn matches(&self, jid: &str) -> bool {
        let bare = jid.split('/').next().unwrap_or_default().trim().to_lowercase();
        let Some((_, domain)) = bare.split_once('@') else { return false };
        self.entries.iter().any(|e| *e == bare || e.strip_prefix('@') == Some(domain))
    }
}

/// The presence capability: the store, the time window, the service accounts left out, and the
/// digest of the bearer secret.
#[derive(Clone)]
pub struct Presence {
    db: Db,
    window: Window,
    ignored: std::sync::Arc<ServiceAccounts>,
    secret_digest: [u8; 32],
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presence").field("window", &self.window).finish_non_exhaustive()
    }
}

/// What a webhook call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stays were added or changed (0: all already known).
    Recorded { stays: usize },
    /// Accepted and ignored.
    Ignored(Ignored),
}

/// Why an event was accepted without recording anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// The payload names no room.
    NoRoom,
    /// No meeting uses the room (a private room, a room someone made up).
    UnknownRoom,
    /// The stay lies outside the meeting's window (its room used on another day).
    OutsideWindow,
    /// A joined or left event without a usable occupant.
    NoOccupant,
    /// The occupant is a service account (the `[xmpp]` bot, `presence.ignore_jids`).
    ServiceAccount,
    /// A room was created: nobody is in it yet.
    RoomCreated,
}

impl Ignored {
    pub fn as_str(self) -> &'static str {
        match self {
            Ignored::NoRoom => "no room",
            Ignored::UnknownRoom => "unknown room",
            Ignored::OutsideWindow => "outside the meeting's time",
            Ignored::NoOccupant => "no occupant",
            Ignored::ServiceAccount => "service account",
            Ignored::RoomCreated => "room created",
        }
    }
}

impl Presence {
    pub fn new(db: Db, secret: &Secret, window: Window, ignored: ServiceAccounts) -> Self {
        Self {
            db,
            window,
            ignored: std::sync::Arc::new(ignored),
            secret_digest: Sha256::digest(secret.expose().as_bytes()).into(),
        }
    }

    /// Presence as configured, or `None` without `[presence]`.
    pub fn from_config(db: Db, config: &Config) -> Result<Option<Self>, ConfigError> {
        let Some(secret) = config.presence_secret()? else { return Ok(None) };
        let window = Window {
            before_start_seconds: i64::from(config.presence.before_start_minutes) * 60,
            after_end_seconds: i64::from(config.presence.after_end_minutes) * 60,
        };
        Ok(Some(Self::new(db, &secret, window, ServiceAccounts::from_config(config))))
    }

    /// Whether `given` is the bearer secret, compared in constant time (over SHA-256 digests, so the
    /// secret's length is not told either).
    pub fn bearer_matches(&self, given: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        bool::from(subtle::ConstantTimeEq::ct_eq(&self.secret_digest[..], &given[..]))
    }

    /// Records one event in one short write; service accounts are left out first.
    pub async fn record(&self, mut event: Event, now: DateTime<Utc>) -> Result<Outcome, DbError> {
        if event.occupant.as_ref().is_some_and(|o| self.ignored.matches(&o.jid)) {
            return Ok(Outcome::Ignored(Ignored::ServiceAccount));
        }
        event.all_occupants.retain(|o| !self.ignored.matches(&o.jid));
        let window = self.window;
        self.db.write(move |tx| Ok::<_, DbError>(record(tx, &event, window, now.timestamp())?)).await
    }

    /// Who was in `meeting` and for how long, as of `now`.
    pub async fn report(&self, meeting: &Meeting, now: DateTime<Utc>) -> Result<Report, DbError> {
        let (id, window) = (meeting.id.clone(), self.window.of(meeting));
        let stays = self.db.read(move |c| Ok::<_, DbError>(repo::stays_of(c, &id)?)).await?;
        Ok(summarise(&stays, window, now.timestamp()))
    }

    /// How many are in each of these meetings now (one indexed look-up each, in one read).
    pub async fn present_now(
        &self,
        meeting_ids: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, u32>, DbError> {
        if meeting_ids.is_empty() {
            return Ok(HashMap::new());
        }
        self.db
            .read(move |c| {
                let tx = c.unchecked_transaction()?;
                let mut out = HashMap::new();
                for id in meeting_ids {
                    let n = repo::present_now(&tx, &id, now.timestamp())?;
                    out.insert(id, n);
                }
                Ok::<_, DbError>(out)
            })
            .await
    }
}

/// Records `event` inside `tx` (see the module's invariants). `now` stands in for a time the payload
/// lacks.
pub fn record(tx: &Connection, event: &Event, window: Window, now: i64) -> rusqlite::Result<Outcome> {
    let Some(room) = &event.room else { return Ok(Outcome::Ignored(Ignored::NoRoom)) };
    if event.kind == Kind::RoomCreated {
        return Ok(Outcome::Ignored(Ignored::RoomCreated));
    }
    let Some(meeting) = crate::booking::repo::meeting_by_room(tx, room)? else {
        return Ok(Outcome::Ignored(Ignored::UnknownRoom));
    };
    let span = window.of(&meeting);
    let attendees = crate::booking::repo::attendees_of(tx, &meeting.id)?;
    let stay = |o: &Occupant, joined_at: i64, left_at: Option<i64>| -> rusqlite::Result<Option<bool>> {
        // A leave before its join (clocks, bad data) is a stay of no length, not an error.
        let left_at = left_at.map(|l| l.max(joined_at));
        if joined_at > span.1 || left_at.is_some_and(|l| l < span.0) {
            return Ok(None);
        }
        // A token identity that is neither an invitation's row nor the owner: a user jmb may know.
        let uid_mail = match o.id.as_deref() {
            Some(id) if !id.starts_with("jmb-attendee-") && id != meeting.owner_uid => crate::users::mail_of(tx, id)?,
            _ => None,
        };
        let who = identify(o, uid_mail.as_deref(), &meeting, &attendees);
        repo::upsert_stay(
            tx,
            &repo::NewStay {
                meeting_id: &meeting.id,
                attendee_id: who.attendee_id,
                participant: &who.participant,
                room: &event.breakout,
                occupant_jid: &o.jid,
                name: &who.name,
                mail: &who.mail,
                joined_at,
                left_at,
            },
        )
        .map(Some)
    };
    let outcome = match event.kind {
        Kind::RoomCreated => Outcome::Ignored(Ignored::RoomCreated),
        Kind::OccupantJoined => {
            let Some(o) = &event.occupant else { return Ok(Outcome::Ignored(Ignored::NoOccupant)) };
            match stay(o, o.joined_at.unwrap_or(now), o.left_at)? {
                Some(changed) => Outcome::Recorded { stays: usize::from(changed) },
                None => Outcome::Ignored(Ignored::OutsideWindow),
            }
        }
        Kind::OccupantLeft => {
            let Some(o) = &event.occupant else { return Ok(Outcome::Ignored(Ignored::NoOccupant)) };
            let left_at = o.left_at.unwrap_or(now);
            let mut stays = 0;
            let mut inside = o.joined_at.is_none();
            if let Some(joined_at) = o.joined_at
                && let Some(changed) = stay(o, joined_at, Some(left_at))?
            {
                inside = true;
                stays += usize::from(changed);
            }
            if !inside {
                return Ok(Outcome::Ignored(Ignored::OutsideWindow));
            }
            // Also ends a stay whose join time the join event lacked (recorded at reception).
            stays += repo::close_connection(tx, &meeting.id, &o.jid, &event.breakout, left_at)?;
            Outcome::Recorded { stays }
        }
        Kind::RoomDestroyed => {
            let destroyed_at = event.destroyed_at.unwrap_or(now);
            let mut stays = 0;
            for o in &event.all_occupants {
                if let Some(joined_at) = o.joined_at
                    && let Some(true) = stay(o, joined_at, Some(o.left_at.unwrap_or(destroyed_at)))?
                {
                    stays += 1;
                }
            }
            stays += repo::close_room(tx, &meeting.id, &event.breakout, destroyed_at)?;
            Outcome::Recorded { stays }
        }
    };
    Ok(outcome)
}

/// Who an occupant is for a meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Who {
    attendee_id: Option<i64>,
    participant: String,
    name: String,
    mail: String,
}

/// Matches an occupant to an invitation: the token identity jmb signed (an external moderator's
/// `jmb-attendee-<id>`, the owner's uid, an internal moderator's uid whose address jmb knows as
/// `uid_mail`), else the address; otherwise an unknown participant, by token identity, address or
/// (anonymous guests) connection.
fn identify(o: &Occupant, uid_mail: Option<&str>, meeting: &Meeting, attendees: &[Attendee]) -> Who {
    let by_token = o.id.as_deref().and_then(|id| {
        let by_row = id
            .strip_prefix("jmb-attendee-")
            .and_then(|n| n.parse::<i64>().ok())
            .and_then(|n| attendees.iter().find(|a| a.id == n));
        by_row
            .or_else(|| (id == meeting.owner_uid).then(|| attendees.iter().find(|a| a.role == Role::Owner)).flatten())
            .or_else(|| uid_mail.and_then(|m| attendees.iter().find(|a| a.mail == m)))
    });
    let by_mail = || o.email.as_deref().and_then(|m| attendees.iter().find(|a| a.mail == m));
    if let Some(a) = by_token.or_else(by_mail) {
        return Who {
            attendee_id: Some(a.id),
            participant: format!("a:{}", a.id),
            name: if a.name.is_empty() { o.name.clone().unwrap_or_default() } else { a.name.clone() },
            mail: a.mail.clone(),
        };
    }
    let participant = match (&o.id, &o.email) {
        (Some(id), _) => format!("u:{id}"),
        (None, Some(mail)) => format!("m:{mail}"),
        // An anonymous guest: their connection (the bare JID is the same across a breakout move).
        (None, None) => format!("j:{}", o.jid.split('/').next().unwrap_or_default()),
    };
    Who {
        attendee_id: None,
        participant,
        name: o.name.clone().unwrap_or_default(),
        mail: o.email.clone().unwrap_or_default(),
    }
}

/// Time present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attendance {
    pub seconds: i64,
    /// In a room of the meeting at the time of the report.
    pub here_now: bool,
}

impl Attendance {
    /// Whole minutes, a started minute counting: anyone who came shows at least 1.
    pub fn minutes(&self) -> i64 {
        (self.seconds + 59) / 60
    }
}

/// A participant not matched to an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// What their token said (empty for anonymous guests).
    pub name: String,
    pub mail: String,
    /// Without token: an anonymous guest.
    pub anonymous: bool,
    pub attendance: Attendance,
}

/// Who was in a meeting: per invitation (by attendee id), and everyone else in order of arrival.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub attendees: HashMap<i64, Attendance>,
    pub unknown: Vec<Unknown>,
}

impl Report {
    pub fn of(&self, attendee_id: i64) -> Attendance {
        self.attendees.get(&attendee_id).copied().unwrap_or_default()
    }
}

/// The report from a meeting's stays (in join order): each participant's stays clipped to the
/// meeting's window, open stays running to `now`, then merged.
pub fn summarise(stays: &[repo::StayRow], window: (i64, i64), now: i64) -> Report {
    let mut order: Vec<&str> = Vec::new();
    let mut by_participant: HashMap<&str, Vec<&repo::StayRow>> = HashMap::new();
    for s in stays {
        by_participant
            .entry(&s.participant)
            .or_insert_with(|| {
                order.push(&s.participant);
                Vec::new()
            })
            .push(s);
    }
    let mut report = Report::default();
    for participant in order {
        let rows = &by_participant[participant];
        let intervals: Vec<(i64, i64)> =
            rows.iter().map(|s| (s.joined_at.max(window.0), s.left_at.unwrap_or(now).min(window.1).min(now))).collect();
        let attendance = Attendance {
            seconds: union_length(intervals),
            here_now: rows.iter().any(|s| s.left_at.is_none() && s.joined_at <= now) && now <= window.1,
        };
        match rows.iter().find_map(|s| s.attendee_id) {
            Some(id) => {
                let entry = report.attendees.entry(id).or_default();
                entry.seconds += attendance.seconds;
                entry.here_now |= attendance.here_now;
            }
            None => {
                let first = rows[0];
                report.unknown.push(Unknown {
                    name: first.name.clone(),
                    mail: first.mail.clone(),
                    anonymous: participant.starts_with("j:"),
                    attendance,
                });
            }
        }
    }
    report
}

/// The total length of a set of intervals `[start, end)`, overlaps counted once.
pub fn union_length(mut intervals: Vec<(i64, i64)>) -> i64 {
    intervals.retain(|(s, e)| s < e);
    intervals.sort_unstable();
    let mut total = 0;
    let mut current: Option<(i64, i64)> = None;
    for (s, e) in intervals {
        current = match current {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    total + current.map_or(0, |(s, e)| e - s)
}

#[cfg(test)]
mod tests;
