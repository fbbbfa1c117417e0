//! The only iCalendar writer of jmb: the webcal feed, CalDAV objects, iMIP bodies and free-busy
//! answers all render through here.
//!
//! The writer is jmb's own (`writer.rs`): each content line is built as name, parameters and value
//! straight into the output `String`, escaped, cleaned and folded in the same linear pass. It replaces
//! the `icalendar` crate, whose serialisation had to be unfolded, refolded (it could split a `\n`
//! escape across lines) and cleaned afterwards (it invents `DTSTAMP` and `UID` inside `VALARM`, and
//! writes `"` raw in parameter values): that extra pass cost time on every event, and our bytes, hence
//! every ETag clients hold, depended on the crate's formatting, so a crate upgrade could make every
//! client download every event again. The crate stays a dev-dependency: the tests parse our output
//! back with it. Golden files (`tests/golden/`) pin the bytes.
//!
//! Invariants of the output:
//! * CRLF line ends; physical lines of at most 75 octets, folded on UTF-8 boundaries and never inside
//!   a two-character escape;
//! * exactly one `PRODID`; all date-times in UTC (`…Z`, so no `VTIMEZONE`);
//! * deterministic bytes for identical input (ETags depend on it): nothing reads the clock, and the
//!   order of properties and parameters is fixed here;
//! * no `METHOD` in CalDAV resources (RFC 4791 §4.1) nor in the feed (a snapshot, not an iTIP message:
//!   RFC 5546 §3.2.1 forbids `ATTENDEE` under `METHOD:PUBLISH`, and libical's iTIP check rejects such
//!   feeds); `METHOD` only in [`render_itip`];
//! * `DTSTAMP` is the event's last revision in resources and the feed, so a feed only changes when
//!   something did, and the message creation time in iTIP;
//! * `VALARM`s only for triggers still ahead of `now`, with no `DTSTAMP` or `UID` of their own.
//!
//! Text normalisation (user input is arbitrary): CRLF and lone CR become LF, other control characters
//! except TAB are dropped; single-line values (UID, URLs, addresses) lose every control character;
//! parameter values are RFC 6868-encoded, with TAB read as a space.

#[cfg(test)]
pub(crate) mod tests;
mod writer;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use writer::Writer;

/// Participation status of an attendee (`PARTSTAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartStat {
    NeedsAction,
    Accepted,
    Declined,
    Tentative,
}

impl PartStat {
    fn as_str(self) -> &'static str {
        match self {
            PartStat::NeedsAction => "NEEDS-ACTION",
            PartStat::Accepted => "ACCEPTED",
            PartStat::Declined => "DECLINED",
            PartStat::Tentative => "TENTATIVE",
        }
    }
}

/// What an attendee is in the meeting: moderators are `CHAIR`, guests `REQ-PARTICIPANT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttendeeRole {
    Chair,
    Participant,
}

impl AttendeeRole {
    fn as_str(self) -> &'static str {
        match self {
            AttendeeRole::Chair => "CHAIR",
            AttendeeRole::Participant => "REQ-PARTICIPANT",
        }
    }
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
        self.display_name_cow().into_owned()
    }

    /// [`Person::display_name`], borrowed when the name is set.
    fn display_name_cow(&self) -> Cow<'_, str> {
        let name = self.name.trim();
        if !name.is_empty() {
            return Cow::Borrowed(name);
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
        out.truncate(out.trim_end().len());
        Cow::Owned(out)
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

impl EventStatus {
    fn as_str(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "CONFIRMED",
            EventStatus::Cancelled => "CANCELLED",
        }
    }
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

/// The last line of every calendar.
pub const CALENDAR_END: &str = "END:VCALENDAR\r\n";

/// The webcal feed: a calendar with name, description and refresh hints, holding every event given
/// (the caller bounds the list). No `METHOD` (see the module docs).
pub fn render_feed(info: &CalendarInfo, events: &[Event], now: DateTime<Utc>) -> String {
    let mut out = feed_head(info, now);
    out.reserve(events.iter().map(size_hint).sum::<usize>() + CALENDAR_END.len());
    for event in events {
        write_event(&mut out, event, now);
    }
    out.push_str(CALENDAR_END);
    out
}

/// Everything [`render_feed`] writes before the first event. A feed is this, then the `VEVENT` blocks
/// of its events (as [`write_event`] writes them, which is also what [`split_resource`] finds in a
/// resource, since `DTSTAMP` is the revision time in both), then [`CALENDAR_END`]. Calendars are
/// assembled this way so that each event is rendered once for CalDAV and the feed together. The header
/// does not depend on `now` today; the parameter keeps that open.
pub fn feed_head(info: &CalendarInfo, _now: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(512 + 2 * (info.name.len() + info.description.len()));
    let w = &mut Writer::new(&mut out);
    calendar_head(w, &info.prodid);
    w.line("NAME").text(&info.name);
    w.line("X-WR-CALNAME").text(&info.name);
    if !writer::is_blank(&info.description, false) {
        w.line("DESCRIPTION").text(&info.description);
        w.line("X-WR-CALDESC").text(&info.description);
    }
    if !writer::is_blank(&info.time_zone, false) {
        w.line("X-WR-TIMEZONE").text_line(&info.time_zone);
    }
    let refresh = info.refresh_minutes.max(1);
    w.line("REFRESH-INTERVAL").param("VALUE", "DURATION").duration(refresh, false);
    w.line("X-PUBLISHED-TTL").duration(refresh, false);
    out
}

/// Splits a rendered resource into its calendar header, its `VEVENT` block and its footer (tests check
/// with it that resources and feeds are assembled from the same blocks).
#[cfg(test)]
pub(crate) fn split_resource(
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
    let mut out = String::with_capacity(160 + prodid.len() + size_hint(event));
    calendar_head(&mut Writer::new(&mut out), prodid);
    write_event(&mut out, event, now);
    out.push_str(CALENDAR_END);
    out
}

/// What a CalDAV resource holds before its `VEVENT` (`BEGIN:VCALENDAR`, `VERSION`, `PRODID`,
/// `CALSCALE`): a resource is this, one [`write_event`] block, then [`CALENDAR_END`].
pub fn resource_head(prodid: &str) -> String {
    let mut out = String::with_capacity(96 + prodid.len());
    calendar_head(&mut Writer::new(&mut out), prodid);
    out
}

/// Appends one `VEVENT` block (from `BEGIN:VEVENT` to `END:VEVENT`, CRLF included) to `out`, which
/// must be empty or end with a complete line. `DTSTAMP` is the event's `last_modified`; alarms whose
/// trigger is not after `now` are left out.
pub fn write_event(out: &mut String, event: &Event, now: DateTime<Utc>) {
    vevent(&mut Writer::new(out), event, event.last_modified, now);
}

/// The iTIP method of a scheduling message (RFC 5546 §1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// An invitation or an update, personal to its recipient.
    Request,
    /// A cancellation: of the whole meeting, or for the attendees listed.
    Cancel,
    /// "Add to calendar" without scheduling (RFC 5546 allows no `ATTENDEE` here: give the event none).
    Publish,
}

impl Method {
    /// The `METHOD` value, also the MIME `method=` parameter of the mail part (RFC 6047 §2.4).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
            Method::Publish => "PUBLISH",
        }
    }
}

/// An iTIP message for mail (iMIP, RFC 5546/6047): `METHOD:<m>` and one `VEVENT` whose `DTSTAMP` is
/// `stamp`, the creation time of the message (clients order messages by `SEQUENCE`, then `DTSTAMP`).
/// Everything else is as in a resource; the caller decides which attendees, which status and which
/// alarms the event carries (alarms whose trigger is not after `stamp` are left out).
pub fn render_itip(prodid: &str, method: Method, event: &Event, stamp: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(180 + prodid.len() + size_hint(event));
    let w = &mut Writer::new(&mut out);
    calendar_head(w, prodid);
    w.line("METHOD").raw(method.as_str());
    vevent(w, event, stamp, stamp);
    out.push_str(CALENDAR_END);
    out
}

/// Kind of a busy period (`FBTYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BusyKind {
    /// `FBTYPE=BUSY`.
    Busy,
    /// `FBTYPE=BUSY-TENTATIVE`.
    Tentative,
}

impl BusyKind {
    fn as_str(self) -> &'static str {
        match self {
            BusyKind::Busy => "BUSY",
            BusyKind::Tentative => "BUSY-TENTATIVE",
        }
    }
}

/// One busy interval of a free-busy answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusyPeriod {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub kind: BusyKind,
}

/// The answer body of a CalDAV `free-busy-query` report (RFC 4791 §7.10): a calendar with one
/// `VFREEBUSY` (`UID`, `DTSTAMP` = `stamp`, `DTSTART`/`DTEND` = the queried range) and one `FREEBUSY`
/// line per period. Periods are clipped to the range (empty ones dropped), periods of the same kind that
/// overlap or touch are merged, and the lines are sorted by start, then kind, then end.
pub fn render_freebusy(
    prodid: &str,
    uid: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    stamp: DateTime<Utc>,
    periods: &[BusyPeriod],
) -> String {
    let merged = merge_periods(periods, start, end);
    let mut out = String::with_capacity(300 + prodid.len() + uid.len() + merged.len() * 64);
    let w = &mut Writer::new(&mut out);
    calendar_head(w, prodid);
    w.begin("VFREEBUSY");
    w.line("UID").text_line(uid);
    w.line("DTSTAMP").utc(stamp);
    w.line("DTSTART").utc(start);
    w.line("DTEND").utc(end);
    for p in &merged {
        w.line("FREEBUSY").param("FBTYPE", p.kind.as_str()).period(p.start, p.end);
    }
    w.end("VFREEBUSY");
    out.push_str(CALENDAR_END);
    out
}

/// Clips `periods` to `[start, end)`, merges overlapping or adjacent periods of the same kind and
/// sorts the result by start, kind and end.
fn merge_periods(periods: &[BusyPeriod], start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<BusyPeriod> {
    let mut clipped: Vec<BusyPeriod> = periods
        .iter()
        .map(|p| BusyPeriod { start: p.start.max(start), end: p.end.min(end), kind: p.kind })
        .filter(|p| p.start < p.end)
        .collect();
    clipped.sort_unstable_by_key(|p| (p.kind, p.start, p.end));
    let mut merged: Vec<BusyPeriod> = Vec::with_capacity(clipped.len());
    for p in clipped {
        match merged.last_mut() {
            Some(last) if last.kind == p.kind && p.start <= last.end => last.end = last.end.max(p.end),
            _ => merged.push(p),
        }
    }
    merged.sort_unstable_by_key(|p| (p.start, p.kind, p.end));
    merged
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

/// An ETag computed over several pieces given one after the other (same form as [`etag`]).
pub struct EtagHasher(Sha256);

impl EtagHasher {
    pub fn new() -> Self {
        EtagHasher(Sha256::new())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> String {
        format!("\"{}\"", hex::encode(&self.0.finalize()[..8]))
    }
}

impl Default for EtagHasher {
    fn default() -> Self {
        Self::new()
    }
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

/// `BEGIN:VCALENDAR`, `VERSION`, `PRODID`, `CALSCALE`: the header every calendar starts with.
fn calendar_head(w: &mut Writer<'_>, prodid: &str) {
    w.begin("VCALENDAR");
    w.line("VERSION").raw("2.0");
    w.line("PRODID").text_line(prodid);
    w.line("CALSCALE").raw("GREGORIAN");
}

/// A generous guess of the rendered size of an event, so buffers are allocated once.
fn size_hint(event: &Event) -> usize {
    let people: usize = event.attendees.iter().map(|a| 96 + 2 * (a.person.mail.len() + a.person.name.len())).sum();
    let url = event.join_url.len() * 3 + 60;
    let alarms = event.alarm_minutes_before.len() * (80 + event.summary.len().min(800));
    640 + event.uid.len() + 2 * (event.summary.len() + event.description.len()) + url + people + alarms
}

fn vevent(w: &mut Writer<'_>, ev: &Event, dtstamp: DateTime<Utc>, now: DateTime<Utc>) {
    w.begin("VEVENT");
    shared_lines(w, ev);
    personal_lines(
        w,
        &Personal { dtstamp, last_modified: ev.last_modified, description: &ev.description, join_url: &ev.join_url },
    );
    alarms(w, ev.start, &ev.alarm_minutes_before, &alarm_description(&ev.summary), now);
    w.end("VEVENT");
}

/// `BEGIN:VEVENT` with its line end: where each event block starts.
pub const EVENT_BEGIN: &str = "BEGIN:VEVENT\r\n";
/// `END:VEVENT` with its line end: where each event block ends.
pub const EVENT_END: &str = "END:VEVENT\r\n";

/// The lines of an event that every viewer sees alike, whatever the time: `UID` to the last `ATTENDEE`.
/// An event block is [`EVENT_BEGIN`], these, [`write_event_personal`], [`write_alarms`], [`EVENT_END`];
/// the calendar store keeps these lines per meeting, rendered once per change of the meeting or of an
/// answer (see `calendar::renderings`), and adds the rest per viewer.
pub fn write_event_shared(out: &mut String, ev: &Event) {
    shared_lines(&mut Writer::new(out), ev);
}

fn shared_lines(w: &mut Writer<'_>, ev: &Event) {
    w.line("UID").text_line(&ev.uid);
    w.line("DTSTART").utc(ev.start);
    w.line("DTEND").utc(ev.end);
    w.line("CREATED").utc(ev.created);
    w.line("SEQUENCE").integer(ev.sequence);
    w.line("SUMMARY").text(&ev.summary);
    w.line("STATUS").raw(ev.status.as_str());
    w.line("ORGANIZER");
    common_name(w, &ev.organizer);
    w.mailto(&ev.organizer.mail);
    for a in &ev.attendees {
        w.line("ATTENDEE");
        common_name(w, &a.person);
        w.param("CUTYPE", "INDIVIDUAL")
            .param("ROLE", a.role.as_str())
            .param("PARTSTAT", a.partstat.as_str())
            .param("RSVP", "TRUE")
            .mailto(&a.person.mail);
    }
}

/// What one viewer's copy of an event holds of its own: the revision dates, and the description and
/// join link, which carry the viewer's personal links.
pub struct Personal<'a> {
    /// `DTSTAMP`: the revision in resources and the feed, the message's creation time in iTIP.
    pub dtstamp: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub description: &'a str,
    /// Written as `LOCATION`, `URL` and `CONFERENCE` unless blank.
    pub join_url: &'a str,
}

/// Appends the viewer's lines of an event (see [`write_event_shared`]).
pub fn write_event_personal(out: &mut String, p: &Personal<'_>) {
    personal_lines(&mut Writer::new(out), p);
}

fn personal_lines(w: &mut Writer<'_>, p: &Personal<'_>) {
    w.line("DTSTAMP").utc(p.dtstamp);
    w.line("LAST-MODIFIED").utc(p.last_modified);
    w.line("DESCRIPTION").text(p.description);
    if !writer::is_blank(p.join_url, false) {
        w.line("LOCATION").text_line(p.join_url);
        w.line("URL").raw(p.join_url);
        w.line("CONFERENCE").param("VALUE", "URI").param("FEATURE", "VIDEO").param("LABEL", "Jitsi").raw(p.join_url);
    }
}

/// Appends one `VALARM` per distinct offset (minutes before `start`) whose trigger is still after `now`,
/// described by `text` (see [`alarm_text`]).
pub fn write_alarms(out: &mut String, start: DateTime<Utc>, minutes_before: &[u32], text: &str, now: DateTime<Utc>) {
    alarms(&mut Writer::new(out), start, minutes_before, text, now);
}

/// The text of an event's alarms, from its summary (see [`write_alarms`]).
pub fn alarm_text(summary: &str) -> Cow<'_, str> {
    alarm_description(summary)
}

/// `;CN=…` with the person's display name, left out when there is none.
fn common_name(w: &mut Writer<'_>, person: &Person) {
    let name = person.display_name_cow();
    if !writer::is_blank(&name, true) {
        w.param("CN", &name);
    }
}

/// One `VALARM` per distinct reminder whose trigger is still after `now`, earliest trigger first.
fn alarms(w: &mut Writer<'_>, start: DateTime<Utc>, minutes_before: &[u32], text: &str, now: DateTime<Utc>) {
    let ahead = |m: &u32| start - chrono::Duration::minutes(i64::from(*m)) > now;
    if !minutes_before.iter().any(ahead) {
        return;
    }
    let mut minutes: Vec<u32> = minutes_before.iter().copied().filter(ahead).collect();
    minutes.sort_unstable_by(|a, b| b.cmp(a));
    minutes.dedup();
    for m in minutes {
        w.begin("VALARM");
        w.line("ACTION").raw("DISPLAY");
        w.line("DESCRIPTION").text(text);
        w.line("TRIGGER").duration(m, true);
        w.end("VALARM");
    }
}

/// VALARM text: the summary on one line, shortened so a 10 kB subject is not repeated once per alarm.
fn alarm_description(summary: &str) -> Cow<'_, str> {
    const MAX_CHARS: usize = 200;
    // Most summaries are short, single-line text already: keep them as they are.
    if summary.len() <= MAX_CHARS
        && !summary.is_empty()
        && summary.trim().len() == summary.len()
        && !summary.chars().any(char::is_control)
    {
        return Cow::Borrowed(summary);
    }
    let one_line = writer::clean_text(summary).replace('\n', " ");
    let trimmed = one_line.trim();
    let text = match trimmed.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    };
    Cow::Owned(if text.is_empty() { "Reminder".to_owned() } else { text })
}
