//! The only iCalendar writer of jmb: the webcal feed, CalDAV objects and (later) iMIP bodies
//! all render through here.
//!
//! Built on the `icalendar` crate (0.17), with its known flaws worked around (see
//! `protocols.md` §10): the calendar starts from [`Calendar::empty`] so there is exactly one
//! `PRODID`; user text is normalised (CR/CRLF → LF, control characters dropped) before the crate
//! escapes it; parameter values are RFC 6868-encoded because the crate writes `"` raw; RFC 7986
//! `NAME` is escaped here because the crate does not know it as TEXT; and a final linear pass
//! ([`text::finish`]) refolds every line at 75 octets without splitting UTF-8 sequences or
//! backslash escapes, and removes the `DTSTAMP`/`UID` the crate invents inside `VALARM`.
//!
//! Invariants of the output: CRLF line ends, all date-times in UTC (`…Z`, so no `VTIMEZONE`),
//! deterministic bytes for identical input (ETags depend on it), no `METHOD` in CalDAV resources.

mod freebusy;
#[cfg(test)]
pub(crate) mod tests;
mod text;

pub use freebusy::*;

use chrono::{DateTime, Utc};
use icalendar::{Alarm, Attendee, CUType, Calendar, Component, EventLike, Property, Role, Trigger};
use sha2::{Digest, Sha256};

/// Participation status of an attendee (storage codes 0, 1, 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartStat {
    NeedsAction,
    Accepted,
    Declined,
    Tentative,
}

/// What an attendee is in the meeting: moderators are `CHAIR`, guests `REQ-PARTICIPANT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttendeeRole {
    Chair,
    Participant,
}

/// A person with a mail address; `name` may be empty (a common name is then derived from the
/// local part of the address, see [`Person::display_name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub mail: String,
    pub name: String,
}

impl Person {
    /// The name to show: `name` if set, else the local part of `mail` with `.`/`_` as word
    /// separators and each word capitalised (`jean.dupont` → `Jean Dupont`,
    /// `marie-claire_x` → `Marie-Claire X`).
    pub fn display_name(&self) -> String {
        let name = self.name.trim();
        if !name.is_empty() {
            return name.to_owned();
        }
        let local = self.mail.split('@').next().unwrap_or_default();
        let mut out = String::with_capacity(local.len());
        let mut word_start = true;
        for c in local.chars() {
            match c {
                '.' | '_' | '+' => {
                    if !out.is_empty() && !out.ends_with(' ') {
                        out.push(' ');
                    }
                    word_start = true;
                }
                '-' => {
                    out.push('-');
                    word_start = true;
                }
                c if word_start => {
                    out.extend(c.to_uppercase());
                    word_start = false;
                }
                c => out.push(c),
            }
        }
        out.trim_end().to_owned()
    }
}

/// One attendee of an event: every moderator and guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventAttendee {
    pub person: Person,
    pub role: AttendeeRole,
    pub partstat: PartStat,
}

/// `STATUS` of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventStatus {
    Confirmed,
    Cancelled,
}

/// One meeting as seen by one viewer (the join URL is personal, so renderings are per user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Stable for the life of the meeting, e.g. `<id>@meet.example.org`.
    pub uid: String,
    pub sequence: u32,
    /// Arbitrary user text.
    pub summary: String,
    /// Plain text; contains the join link.
    pub description: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub status: EventStatus,
    /// The viewer's personal join URL: written as `LOCATION`, `URL` and RFC 7986 `CONFERENCE`.
    pub join_url: String,
    pub organizer: Person,
    pub attendees: Vec<EventAttendee>,
    /// Minutes before `start` of each `VALARM`; only alarms still ahead of `now` are written.
    pub alarm_minutes_before: Vec<u32>,
}

/// Calendar-level data of a feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarInfo {
    /// Full PRODID value, e.g. `-//Example Org//jmb//FR`.
    pub prodid: String,
    pub name: String,
    pub description: String,
    /// Refresh hint for subscribers (`REFRESH-INTERVAL` and `X-PUBLISHED-TTL`).
    pub refresh_minutes: u32,
    /// IANA zone name written as the `X-WR-TIMEZONE` display hint (times stay UTC).
    pub time_zone: String,
}

/// The webcal feed: a `METHOD:PUBLISH` calendar with name, description and refresh hints,
/// holding every event given (the caller bounds the list).
pub fn render_feed(info: &CalendarInfo, events: &[Event], now: DateTime<Utc>) -> String {
    let mut cal = base_calendar(&info.prodid);
    cal.append_property(Property::new("METHOD", "PUBLISH"));
    let name = text::clean_text(&info.name);
    // The crate writes NAME raw (it does not know it as TEXT), but escapes X- properties.
    cal.append_property(Property::new("NAME", text::escape_text(&name)));
    cal.append_property(Property::new("X-WR-CALNAME", name));
    let desc = text::clean_text(&info.description);
    if !desc.is_empty() {
        cal.append_property(Property::new("DESCRIPTION", desc.clone()));
        cal.append_property(Property::new("X-WR-CALDESC", desc));
    }
    let tz = text::clean_line(&info.time_zone);
    if !tz.is_empty() {
        cal.append_property(Property::new("X-WR-TIMEZONE", tz));
    }
    let ttl = duration_value(info.refresh_minutes.max(1));
    let mut refresh = Property::new("REFRESH-INTERVAL", ttl.clone());
    refresh.add_parameter("VALUE", "DURATION");
    cal.append_property(refresh);
    cal.append_property(Property::new("X-PUBLISHED-TTL", ttl));
    for event in events {
        // In a feed, DTSTAMP is when the data was last revised too: stable across refreshes, so
        // the feed's bytes (and ETag) only change when something did.
        cal.push(build_event(event, now));
    }
    text::finish(&cal.to_string())
}

/// The last line of every calendar.
pub const CALENDAR_END: &str = "END:VCALENDAR\r\n";

/// Everything [`render_feed`] writes before the first event. A feed is this, then the `VEVENT` blocks
/// of the events' resources (see [`split_resource`]: they are exactly what `render_feed` writes, since
/// DTSTAMP is the revision time in both), then [`CALENDAR_END`]. Calendars are assembled this way so
/// that each event is rendered once for CalDAV and the feed together.
pub fn feed_head(info: &CalendarInfo, now: DateTime<Utc>) -> String {
    let mut head = render_feed(info, &[], now);
    head.truncate(head.len() - CALENDAR_END.len());
    head
}

/// Splits a rendered resource into its calendar header, its `VEVENT` block and its footer.
pub fn split_resource(
    resource: &str,
) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>, std::ops::Range<usize>)> {
    const BEGIN_EVENT: &str = "BEGIN:VEVENT\r\n";
    const END_EVENT: &str = "END:VEVENT\r\n";
    let start = resource.find(BEGIN_EVENT)?;
    let end = resource.rfind(END_EVENT)? + END_EVENT.len();
    (start < end).then_some((0..start, start..end, end..resource.len()))
}

/// One CalDAV object: a calendar with exactly one `VEVENT` and no `METHOD` (RFC 4791 §4.1).
pub fn render_resource(prodid: &str, event: &Event, now: DateTime<Utc>) -> String {
    let mut cal = base_calendar(prodid);
    cal.push(build_event(event, now));
    text::finish(&cal.to_string())
}

/// A strong HTTP entity tag for rendered bytes: the first 16 hex digits of their SHA-256, quoted.
/// Used as `getetag`/`ETag` by CalDAV and by the webcal feed.
pub fn etag(body: &[u8]) -> String {
    etag_of_parts(&[body])
}

/// [`etag`] of the concatenation of `parts`.
pub fn etag_of_parts(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    format!("\"{}\"", hex::encode(&hasher.finalize()[..8]))
}

/// A URL-safe CalDAV object name (`….ics`) derived from a UID: the UID itself when it only holds
/// unreserved characters (and `@`), else a hash of it (Evolution, for one, chokes on `/`).
pub fn object_name_for_uid(uid: &str) -> String {
    let safe = !uid.is_empty()
        && uid.len() <= 200
        && !uid.starts_with('.')
        && uid.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if safe {
        format!("{uid}.ics")
    } else {
        let digest = Sha256::digest(uid.as_bytes());
        format!("{}.ics", hex::encode(&digest[..16]))
    }
}

fn base_calendar(prodid: &str) -> Calendar {
    // Calendar::new() would add the crate's own PRODID; we want exactly ours.
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"));
    cal.append_property(Property::new("PRODID", text::clean_line(prodid)));
    cal.append_property(Property::new("CALSCALE", "GREGORIAN"));
    cal
}

/// `PT…` duration for a number of minutes, in the most natural unit.
fn duration_value(minutes: u32) -> String {
    if minutes.is_multiple_of(24 * 60) {
        format!("P{}D", minutes / (24 * 60))
    } else if minutes.is_multiple_of(60) {
        format!("PT{}H", minutes / 60)
    } else {
        format!("PT{minutes}M")
    }
}

fn utc(dt: DateTime<Utc>) -> String {
    dt.format("%Y%m%dT%H%M%SZ").to_string()
}

fn build_event(ev: &Event, now: DateTime<Utc>) -> icalendar::Event {
    let mut e = icalendar::Event::new();
    let summary = text::clean_text(&ev.summary);
    let join_url = text::clean_line(&ev.join_url);
    e.uid(&text::clean_line(&ev.uid))
        .add_property("DTSTAMP", utc(ev.last_modified))
        .add_property("DTSTART", utc(ev.start))
        .add_property("DTEND", utc(ev.end))
        .add_property("CREATED", utc(ev.created))
        .add_property("LAST-MODIFIED", utc(ev.last_modified))
        .sequence(ev.sequence)
        .summary(&summary)
        .description(&text::clean_text(&ev.description))
        .status(match ev.status {
            EventStatus::Confirmed => icalendar::EventStatus::Confirmed,
            EventStatus::Cancelled => icalendar::EventStatus::Cancelled,
        });
    if !join_url.is_empty() {
        e.location(&join_url).url(&join_url);
        let mut conf = Property::new("CONFERENCE", join_url);
        conf.add_parameter("VALUE", "URI").add_parameter("FEATURE", "VIDEO").add_parameter("LABEL", "Jitsi");
        e.append_property(conf);
    }
    // ORGANIZER has no typed builder in the crate.
    let mut organizer = Property::new("ORGANIZER", mailto(&ev.organizer.mail));
    organizer.add_parameter("CN", &text::param_value(&ev.organizer.display_name()));
    e.append_property(organizer);
    for a in &ev.attendees {
        let attendee = Attendee::new(mailto(&a.person.mail))
            .cn(text::param_value(&a.person.display_name()))
            .cutype(CUType::Individual)
            .role(match a.role {
                AttendeeRole::Chair => Role::Chair,
                AttendeeRole::Participant => Role::ReqParticipant,
            })
            .partstat(match a.partstat {
                PartStat::NeedsAction => icalendar::PartStat::NeedsAction,
                PartStat::Accepted => icalendar::PartStat::Accepted,
                PartStat::Declined => icalendar::PartStat::Declined,
                PartStat::Tentative => icalendar::PartStat::Tentative,
            })
            .rsvp(true);
        e.attendee(attendee);
    }
    let mut minutes = ev.alarm_minutes_before.clone();
    minutes.sort_unstable_by(|a, b| b.cmp(a));
    minutes.dedup();
    let alarm_text = alarm_description(&summary);
    for m in minutes {
        let trigger_at = ev.start - chrono::Duration::minutes(i64::from(m));
        if trigger_at <= now {
            continue;
        }
        // TRIGGER rewritten by hand: the crate would write `-PT600S`-style seconds.
        let trigger = if m == 0 { "PT0S".to_owned() } else { format!("-{}", duration_value(m)) };
        let mut alarm = Alarm::display(&alarm_text, Trigger::before_start(chrono::Duration::zero()));
        alarm.append_property(Property::new("TRIGGER", trigger));
        e.alarm(alarm);
    }
    e.done()
}

/// VALARM text: the summary, shortened so a 10 kB subject is not repeated once per alarm.
fn alarm_description(summary: &str) -> String {
    const MAX_CHARS: usize = 200;
    let one_line = summary.replace('\n', " ");
    let trimmed = one_line.trim();
    let text = match trimmed.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    };
    if text.is_empty() { "Reminder".to_owned() } else { text }
}

fn mailto(mail: &str) -> String {
    format!("mailto:{}", text::clean_line(mail).trim())
}
