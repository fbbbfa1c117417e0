//! Validation of a booking: the one implementation shared by the JSON API and the booking pages.
//!
//! It parses raw strings (as typed in a form or sent in JSON) into a [`ValidMeeting`], or returns every
//! problem found, each tied to its field so the edge can show it next to the input or in a problem
//! document. Messages are not built here: each [`FieldError`] names a catalogue entry and its values.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::model::{MailAddress, name_from_mail};
use crate::config::BookingConfig;

/// What a client sent, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawMeeting {
    pub subject: String,
    pub start: RawStart,
    /// Minutes, as typed.
    pub duration: String,
    /// Entries as typed: bare addresses or `Name <address>`; lists separated by newlines, commas,
    /// semicolons or spaces are split.
    pub moderators: Vec<String>,
    pub guests: Vec<String>,
}

/// A start time as an instant (API, RFC 3339) or as a local date and time (forms).
#[derive(Debug, Clone)]
pub enum RawStart {
    Rfc3339(String),
    Local { date: String, time: String },
}

impl Default for RawStart {
    fn default() -> Self {
        RawStart::Rfc3339(String::new())
    }
}

/// One invited person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    pub mail: MailAddress,
    pub name: String,
}

/// A booking that passed every rule.
#[derive(Debug, Clone)]
pub struct ValidMeeting {
    pub subject: String,
    pub start: DateTime<Utc>,
    pub duration_min: u32,
    pub moderators: Vec<Invitee>,
    pub guests: Vec<Invitee>,
}

/// The fields of a booking, as named in forms and problem documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Subject,
    Start,
    Duration,
    Moderators,
    Guests,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Subject => "subject",
            Field::Start => "start",
            Field::Duration => "duration",
            Field::Moderators => "moderators",
            Field::Guests => "guests",
        }
    }
}

/// One broken rule. `message_id` names the catalogue entry; `args` fill it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    SubjectMissing,
    SubjectTooLong {
        max: usize,
    },
    SubjectControlChars,
    StartMissing,
    StartUnparsable,
    StartInPast,
    StartNotOnStep {
        step: u32,
    },
    DurationMissing,
    DurationNotANumber,
    DurationZero,
    DurationNegative,
    DurationTooShort {
        min: u32,
    },
    DurationTooLong {
        max: u32,
    },
    DurationNotOnStep {
        step: u32,
    },
    TooManyModerators {
        count: usize,
        max: usize,
    },
    InvalidAddress {
        address: String,
    },
    NoGuest,
    TooManyGuests {
        count: usize,
        max: usize,
    },
    BothRoles {
        address: String,
    },
    /// An address field past its length cap: refused before it is read.
    ListTooLong {
        max: usize,
    },
    /// More invalid addresses than are listed one by one.
    MoreInvalidAddresses {
        count: usize,
    },
}

impl FieldError {
    pub fn message_id(&self) -> &'static str {
        match self {
            FieldError::SubjectMissing => "err-subject-missing",
            FieldError::SubjectTooLong { .. } => "err-subject-too-long",
            FieldError::SubjectControlChars => "err-subject-control",
            FieldError::StartMissing => "err-start-missing",
            FieldError::StartUnparsable => "err-start-unparsable",
            FieldError::StartInPast => "err-start-past",
            FieldError::StartNotOnStep { .. } => "err-start-step",
            FieldError::DurationMissing => "err-duration-missing",
            FieldError::DurationNotANumber => "err-duration-nan",
            FieldError::DurationZero => "err-duration-zero",
            FieldError::DurationNegative => "err-duration-negative",
            FieldError::DurationTooShort { .. } => "err-duration-short",
            FieldError::DurationTooLong { .. } => "err-duration-long",
            FieldError::DurationNotOnStep { .. } => "err-duration-step",
            FieldError::TooManyModerators { .. } => "err-moderators-max",
            FieldError::InvalidAddress { .. } => "err-address",
            FieldError::NoGuest => "err-guests-none",
            FieldError::TooManyGuests { .. } => "err-guests-max",
            FieldError::BothRoles { .. } => "err-both-roles",
            FieldError::ListTooLong { .. } => "err-list-too-long",
            FieldError::MoreInvalidAddresses { .. } => "err-address-more",
        }
    }

    /// Values for the catalogue message, as strings.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            FieldError::SubjectTooLong { max } => vec![("max", max.to_string())],
            FieldError::StartNotOnStep { step } | FieldError::DurationNotOnStep { step } => {
                vec![("step", step.to_string())]
            }
            FieldError::DurationTooShort { min } => vec![("min", min.to_string())],
            FieldError::DurationTooLong { max } => vec![("max", max.to_string())],
            FieldError::TooManyModerators { count, max } | FieldError::TooManyGuests { count, max } => {
                vec![("count", count.to_string()), ("max", max.to_string())]
            }
            FieldError::InvalidAddress { address } | FieldError::BothRoles { address } => {
                vec![("address", address.clone())]
            }
            FieldError::ListTooLong { max } => vec![("max", max.to_string())],
            FieldError::MoreInvalidAddresses { count } => vec![("count", count.to_string())],
            _ => Vec::new(),
        }
    }
}

/// Every problem found, in field order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(Field, FieldError)>);

impl FieldErrors {
    fn push(&mut self, field: Field, error: FieldError) {
        self.0.push((field, error));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn for_field(&self, field: Field) -> impl Iterator<Item = &FieldError> {
        self.0.iter().filter(move |(f, _)| *f == field).map(|(_, e)| e)
    }
}

/// What the directory said about a booking's addresses, gathered before validation (look-ups are
/// I/O; validation is not): see `crate::directory::DirectoryService::resolve`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Alias → primary address: applied to moderators and guests before anything is counted.
    pub primary: HashMap<String, String>,
    /// A list or group address (after alias fixing) → its members: guests only.
    pub lists: HashMap<String, Vec<String>>,
    /// The directory did not answer: addresses are taken as typed.
    pub unavailable: bool,
}

/// What validation needs besides the input.
pub struct Context<'a> {
    pub limits: &'a BookingConfig,
    pub now: DateTime<Utc>,
    pub tz: Tz,
    /// The organiser: implicitly a moderator, so removed from both lists.
    pub owner_mail: &'a str,
    /// Aliases and lists to apply; `None`: addresses as typed.
    pub resolution: Option<&'a Resolution>,
}

impl<'a> Context<'a> {
    /// The configured limits and display time zone, for a booking by `owner_mail`.
    pub fn new(config: &'a crate::config::Config, now: DateTime<Utc>, owner_mail: &'a str) -> Self {
        Context { limits: &config.booking, now, tz: config.display_tz(), owner_mail, resolution: None }
    }

    /// The same, applying what the directory said.
    pub fn with_resolution(self, resolution: &'a Resolution) -> Self {
        Context { resolution: Some(resolution), ..self }
    }
}

/// Validates a booking for creation or update.
pub fn validate(raw: &RawMeeting, ctx: &Context<'_>) -> Result<ValidMeeting, FieldErrors> {
    let mut errors = FieldErrors::default();
    let limits = ctx.limits;

    let subject = normalise_subject(&raw.subject);
    if subject.is_empty() {
        errors.push(Field::Subject, FieldError::SubjectMissing);
    } else if subject.chars().any(char::is_control) {
        errors.push(Field::Subject, FieldError::SubjectControlChars);
    } else if subject.chars().count() > limits.max_subject_chars {
        errors.push(Field::Subject, FieldError::SubjectTooLong { max: limits.max_subject_chars });
    }

    let start = parse_start(&raw.start, ctx.tz);
    match &start {
        Err(e) => errors.push(Field::Start, e.clone()),
        Ok(start) => {
            let start = *start;
            let step = limits.start_step_minutes;
            // The step under way is still bookable (see `BookingConfig::start_grace`).
            if start.checked_add_signed(limits.start_grace()).is_some_and(|t| t <= ctx.now) {
                errors.push(Field::Start, FieldError::StartInPast);
            }
            if start.second() != 0 || start.nanosecond() != 0 || start.minute() % step != 0 {
                errors.push(Field::Start, FieldError::StartNotOnStep { step });
            }
        }
    }

    let duration = parse_duration(&raw.duration, limits);
    if let Err(e) = &duration {
        errors.push(Field::Duration, e.clone());
    }

    let owner = ctx.owner_mail.to_lowercase();
    let none = Resolution::default();
    let (moderator_view, guest_view) = match ctx.resolution {
        Some(r) => (Directory { resolution: r, expand_lists: false }, Directory { resolution: r, expand_lists: true }),
        None => {
            (Directory { resolution: &none, expand_lists: false }, Directory { resolution: &none, expand_lists: false })
        }
    };
    let moderators = collect_invitees(
        &raw.moderators,
        &owner,
        Field::Moderators,
        limits.max_moderators,
        &moderator_view,
        &mut errors,
    );
    let guests = collect_invitees(&raw.guests, &owner, Field::Guests, limits.max_guests, &guest_view, &mut errors);
    if moderators.len() > limits.max_moderators {
        errors.push(
            Field::Moderators,
            FieldError::TooManyModerators { count: moderators.len(), max: limits.max_moderators },
        );
    }
    let moderator_mails: HashSet<&str> = moderators.iter().map(|m| m.mail.as_str()).collect();
    for g in &guests {
        if moderator_mails.contains(g.mail.as_str()) {
            errors.push(Field::Guests, FieldError::BothRoles { address: g.mail.to_string() });
        }
    }
    if guests.is_empty() && errors.for_field(Field::Guests).next().is_none() {
        errors.push(Field::Guests, FieldError::NoGuest);
    } else if guests.len() > limits.max_guests {
        errors.push(Field::Guests, FieldError::TooManyGuests { count: guests.len(), max: limits.max_guests });
    }

    match (errors.is_empty(), start, duration) {
        (true, Ok(start), Ok(duration_min)) => Ok(ValidMeeting { subject, start, duration_min, moderators, guests }),
        _ => Err(errors),
    }
}

/// Trims and folds line breaks into spaces: a subject is one line.
fn normalise_subject(raw: &str) -> String {
    raw.replace(['\r', '\n', '\t'], " ").trim().to_string()
}

/// Years a start may fall in: a date beyond is a typing accident, and would overflow date arithmetic.
/// Not 9999: a meeting (a day at most) starting then could end in year 10000, which iCalendar's
/// four-digit years cannot write.
const START_YEARS: std::ops::RangeInclusive<i32> = 1970..=9998;

fn parse_start(raw: &RawStart, tz: Tz) -> Result<DateTime<Utc>, FieldError> {
    parse_any_start(raw, tz).and_then(|start| {
        if START_YEARS.contains(&start.year()) { Ok(start) } else { Err(FieldError::StartUnparsable) }
    })
}

fn parse_any_start(raw: &RawStart, tz: Tz) -> Result<DateTime<Utc>, FieldError> {
    match raw {
        RawStart::Rfc3339(s) => {
            let s = s.trim();
            if s.is_empty() {
                return Err(FieldError::StartMissing);
            }
            DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).map_err(|_| FieldError::StartUnparsable)
        }
        RawStart::Local { date, time } => {
            let (date, time) = (date.trim(), time.trim());
            if date.is_empty() || time.is_empty() {
                return Err(FieldError::StartMissing);
            }
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .or_else(|_| NaiveDate::parse_from_str(date, "%d/%m/%Y"))
                .map_err(|_| FieldError::StartUnparsable)?;
            let time = NaiveTime::parse_from_str(time, "%H:%M")
                .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M:%S"))
                .map_err(|_| FieldError::StartUnparsable)?;
            // A local time skipped by a daylight-saving change does not exist; an ambiguous one takes
            // the earlier instant.
            tz.from_local_datetime(&date.and_time(time))
                .earliest()
                .map(|d| d.with_timezone(&Utc))
                .ok_or(FieldError::StartUnparsable)
        }
    }
}

fn parse_duration(raw: &str, limits: &BookingConfig) -> Result<u32, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(FieldError::DurationMissing);
    }
    let value: i64 = raw.parse().map_err(|_| FieldError::DurationNotANumber)?;
    if value == 0 {
        return Err(FieldError::DurationZero);
    }
    if value < 0 {
        return Err(FieldError::DurationNegative);
    }
    if value < i64::from(limits.min_duration_minutes) {
        return Err(FieldError::DurationTooShort { min: limits.min_duration_minutes });
    }
    if value > i64::from(limits.max_duration_minutes) {
        return Err(FieldError::DurationTooLong { max: limits.max_duration_minutes });
    }
    if value % i64::from(limits.duration_step_minutes) != 0 {
        return Err(FieldError::DurationNotOnStep { step: limits.duration_step_minutes });
    }
    Ok(value as u32)
}

/// Characters an address list may hold per entry it may list: a long display name and the longest
/// address (254) fit. A list longer than `(max + 1) ×` this is refused before it is read.
pub const LIST_CHARS_PER_ENTRY: usize = 512;

/// Invalid addresses listed one by one; the rest are counted.
const MAX_REPORTED_INVALID: usize = 10;

/// The length cap of a list allowed `max` entries (one more, so that "too many" can still be said).
pub fn list_cap(max: usize) -> usize {
    (max + 1) * LIST_CHARS_PER_ENTRY
}

/// How the directory's answers apply to one list.
struct Directory<'a> {
    resolution: &'a Resolution,
    /// Guests: a list or group is replaced by its members.
    expand_lists: bool,
}

/// A list member kept (the original's rule): an address with a dot after its `@`.
fn plausible_member(address: &str) -> bool {
    address.split_once('@').is_some_and(|(_, domain)| domain.contains('.'))
}

/// Parses, lower-cases and de-duplicates a list, dropping the organiser (implicitly a moderator).
/// Aliases are replaced by their primary address first; for guests, a list or group is replaced by
/// its members (sorted, de-duplicated, the organiser removed, each a plausible address).
///
/// Linear in the input, and the input is capped first: the length of the whole list (each entry of
/// an API array counting one more, for its separator) against [`list_cap`], before any parsing. So
/// validation costs microseconds whatever is posted, and runs on the request's task (a 240 kB field
/// of `"a "` used to take two seconds of a worker thread).
fn collect_invitees(
    entries: &[String],
    owner: &str,
    field: Field,
    max: usize,
    directory: &Directory<'_>,
    errors: &mut FieldErrors,
) -> Vec<Invitee> {
    let cap = list_cap(max);
    let mut length = 0usize;
    for entry in entries {
        length = length.saturating_add(entry.chars().count() + 1);
        if length > cap + 1 {
            errors.push(field, FieldError::ListTooLong { max: cap });
            return Vec::new();
        }
    }
    let mut out: Vec<Invitee> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut invalid = 0usize;
    let r = directory.resolution;
    for entry in entries {
        for (name, address) in split_address_list(entry) {
            let parsed = MailAddress::parse(&address)
                .map(|m| r.primary.get(m.as_str()).and_then(|p| MailAddress::parse(p)).unwrap_or(m));
            if let Some(members) =
                parsed.as_ref().and_then(|m| r.lists.get(m.as_str())).filter(|_| directory.expand_lists)
            {
                let sorted: std::collections::BTreeSet<&str> =
                    members.iter().map(String::as_str).filter(|m| plausible_member(m)).collect();
                for mail in sorted.into_iter().filter_map(MailAddress::parse) {
                    if mail.as_str() != owner && !index.contains_key(mail.as_str()) {
                        index.insert(mail.as_str().to_string(), out.len());
                        out.push(Invitee { mail, name: String::new() });
                    }
                }
                continue;
            }
            match parsed {
                Some(mail) if mail.as_str() == owner => {}
                Some(mail) => match index.get(mail.as_str()) {
                    Some(&i) => {
                        if out[i].name.is_empty() {
                            out[i].name = name;
                        }
                    }
                    None => {
                        index.insert(mail.as_str().to_string(), out.len());
                        out.push(Invitee { mail, name });
                    }
                },
                None => {
                    invalid += 1;
                    if invalid <= MAX_REPORTED_INVALID {
                        errors.push(field, FieldError::InvalidAddress { address: truncate_for_message(&address) });
                    }
                }
            }
        }
    }
    if invalid > MAX_REPORTED_INVALID {
        errors.push(field, FieldError::MoreInvalidAddresses { count: invalid - MAX_REPORTED_INVALID });
    }
    out
}

fn truncate_for_message(s: &str) -> String {
    let cleaned: String = s.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect();
    if cleaned.chars().count() > 80 { cleaned.chars().take(80).collect::<String>() + "…" } else { cleaned }
}

/// Splits what people paste into an address field: one address per line, or separated by commas,
/// semicolons or spaces, each either bare or as `Display Name <address>` (also quoted names, as mail
/// clients copy them: `"Dupont, Jean" <jean@x.org>`, with `\"` and `\\` escapes inside the quotes).
/// Returns `(display name, address)` pairs; the name may be empty.
///
/// One pass over the text: each character is looked at once (the entry being read keeps what it has
/// seen in flags rather than rescanning itself).
pub fn split_address_list(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',' || c == ';');
        if rest.is_empty() {
            break;
        }
        // An entry ends at the first separator outside quotes and angle brackets; a `<address>` part
        // ends it too, so `Name <a@x.org> b@y.org` gives two entries. A space ends a bare address
        // (once an `@` was seen outside quotes) but may sit inside a display name.
        let mut in_quotes = false;
        let mut escaped = false;
        let mut angle_at = None;
        let mut seen_at = false;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                '\\' if in_quotes => escaped = true,
                '"' if angle_at.is_none() => in_quotes = !in_quotes,
                '<' if !in_quotes && angle_at.is_none() => angle_at = Some(i),
                '>' if angle_at.is_some() => {
                    end = i + 1;
                    break;
                }
                ',' | ';' | '\n' | '\r' if !in_quotes && angle_at.is_none() => {
                    end = i;
                    break;
                }
                c if c.is_whitespace() && !in_quotes && angle_at.is_none() && seen_at => {
                    end = i;
                    break;
                }
                // An `@` inside a quoted display name does not make it an address.
                '@' if !in_quotes => seen_at = true,
                _ => {}
            }
        }
        let entry = &rest[..end];
        rest = &rest[end..];
        match angle_at {
            Some(open) if entry.ends_with('>') => {
                let name = unquote(entry[..open].trim());
                let address = entry[open + 1..entry.len() - 1].trim().to_string();
                out.push((clean_name(&name), address));
            }
            _ => {
                let entry = entry.trim();
                if !entry.is_empty() {
                    out.push((String::new(), entry.to_string()));
                }
            }
        }
    }
    out
}

/// A display name as written before `<address>`: a quoted string loses its quotes and escapes
/// (`"Martin, \"MM\" Marie"` → `Martin, "MM" Marie`); anything else is kept as typed, quotes
/// included (`Ëxt "Mod"` stays `Ëxt "Mod"`).
fn unquote(name: &str) -> String {
    let Some(inner) = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')).filter(|_| name.len() >= 2) else {
        return name.to_string();
    };
    // The closing quote must be the one that ends the quoted string, not an escaped one.
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => out.push(next),
                // `"abc\"`: the last quote was escaped, so the name was never closed.
                None => return name.to_string(),
            },
            // An unescaped quote inside: not one quoted string (`"a" b "c"`), keep it as typed.
            '"' => return name.to_string(),
            c => out.push(c),
        }
    }
    out
}

fn clean_name(name: &str) -> String {
    let cleaned: String = name.chars().filter(|c| !c.is_control()).collect();
    cleaned.chars().take(120).collect::<String>().trim().to_string()
}

/// The display name to store for an invitee: the one given, or one derived from the address.
pub fn display_name(invitee: &Invitee) -> String {
    if invitee.name.is_empty() { name_from_mail(invitee.mail.as_str()) } else { invitee.name.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(limits: &BookingConfig) -> Context<'_> {
        Context {
            limits,
            now: "2026-12-01T08:00:00Z".parse().unwrap(),
            tz: chrono_tz::Europe::Paris,
            owner_mail: "owner@example.org",
            resolution: None,
        }
    }

    fn raw() -> RawMeeting {
        RawMeeting {
            subject: "Réunion de l'équipe".into(),
            start: RawStart::Rfc3339("2026-12-05T09:00:00Z".into()),
            duration: "90".into(),
            moderators: vec!["mod@example.org".into()],
            guests: vec!["guest+tag@example.net".into()],
        }
    }

    #[test]
    fn valid_booking() {
        let limits = BookingConfig::default();
        let v = validate(&raw(), &ctx(&limits)).unwrap();
        assert_eq!(v.subject, "Réunion de l'équipe");
        assert_eq!(v.duration_min, 90);
        assert_eq!(v.guests[0].mail.as_str(), "guest+tag@example.net");
    }

    #[test]
    fn local_start_uses_display_zone() {
        let limits = BookingConfig::default();
        let mut r = raw();
        r.start = RawStart::Local { date: "2026-12-05".into(), time: "10:00".into() };
        assert_eq!(validate(&r, &ctx(&limits)).unwrap().start.to_rfc3339(), "2026-12-05T09:00:00+00:00");
        r.start = RawStart::Local { date: "05/12/2026".into(), time: "10:00".into() };
        assert!(validate(&r, &ctx(&limits)).is_ok());
    }

    fn errors_of(r: &RawMeeting) -> Vec<FieldError> {
        let limits = BookingConfig::default();
        validate(r, &ctx(&limits)).unwrap_err().0.into_iter().map(|(_, e)| e).collect()
    }

    #[test]
    fn the_step_under_way_is_still_bookable() {
        let limits = BookingConfig::default();
        let at = |now: &str, start: &str| {
            let mut r = raw();
            r.start = RawStart::Rfc3339(start.into());
            let c = Context { now: now.parse().unwrap(), ..ctx(&limits) };
            validate(&r, &c).err().map(|e| e.0.into_iter().map(|(_, e)| e).collect::<Vec<_>>())
        };
        // The form proposed 08:15 at 08:14:50 and was sent at 08:15:10; or someone books "now".
        assert_eq!(at("2026-12-01T08:15:10Z", "2026-12-01T08:15:00Z"), None);
        assert_eq!(at("2026-12-01T08:29:59Z", "2026-12-01T08:15:00Z"), None);
        assert_eq!(at("2026-12-01T08:30:00Z", "2026-12-01T08:15:00Z"), Some(vec![FieldError::StartInPast]));
        assert_eq!(at("2026-12-01T08:15:10Z", "2026-12-01T08:00:00Z"), Some(vec![FieldError::StartInPast]));
        // A coarser step still allows a quarter hour at most.
        let hourly = BookingConfig { start_step_minutes: 60, ..BookingConfig::default() };
        let mut r = raw();
        r.start = RawStart::Rfc3339("2026-12-01T08:00:00Z".into());
        let late = Context { now: "2026-12-01T08:20:00Z".parse().unwrap(), ..ctx(&hourly) };
        assert_eq!(validate(&r, &late).unwrap_err().0[0].1, FieldError::StartInPast);
        let early = Context { now: "2026-12-01T08:10:00Z".parse().unwrap(), ..ctx(&hourly) };
        assert!(validate(&r, &early).is_ok());
    }

    /// A date beyond any meeting (a year typed with too many digits) is refused as unreadable, not
    /// carried into date arithmetic.
    #[test]
    fn absurd_years_are_refused() {
        let field_errors = |start: RawStart, now: &str| {
            let mut r = raw();
            r.start = start;
            let c = BookingConfig::default();
            match validate(&r, &Context { now: now.parse().unwrap(), ..ctx(&c) }) {
                Ok(_) => Vec::new(),
                Err(errors) => errors.for_field(Field::Start).cloned().collect::<Vec<_>>(),
            }
        };
        let local = |date: &str, time: &str| RawStart::Local { date: date.into(), time: time.into() };
        for start in [
            local("+262142-12-31", "23:50"),
            // A year chrono reads but no meeting has: after 9998 (its end could reach year 10000)…
            local("9999-12-31", "23:00"),
            RawStart::Rfc3339("9999-06-01T10:00:00Z".into()),
        ] {
            assert_eq!(field_errors(start, "2026-12-01T08:00:00Z"), vec![FieldError::StartUnparsable]);
        }
        // …or before 1970, whatever the clock says.
        assert_eq!(
            field_errors(local("1969-12-31", "10:00"), "1960-01-01T00:00:00Z"),
            vec![FieldError::StartUnparsable]
        );
        assert_eq!(field_errors(local("9998-12-31", "23:00"), "2026-12-01T08:00:00Z"), vec![]);
    }

    #[test]
    fn every_rule() {
        let mut r = raw();
        r.start = RawStart::Rfc3339("2026-11-30T09:00:00Z".into());
        r.duration = "45".into();
        assert_eq!(errors_of(&r), vec![FieldError::StartInPast, FieldError::DurationNotOnStep { step: 30 }]);

        let mut r = raw();
        r.start = RawStart::Rfc3339("2026-12-05T09:07:00Z".into());
        r.duration = "0".into();
        assert_eq!(errors_of(&r), vec![FieldError::StartNotOnStep { step: 15 }, FieldError::DurationZero]);

        for (d, e) in [
            ("", FieldError::DurationMissing),
            ("abc", FieldError::DurationNotANumber),
            ("-30", FieldError::DurationNegative),
            ("0", FieldError::DurationZero),
            ("15", FieldError::DurationTooShort { min: 30 }),
            ("510", FieldError::DurationTooLong { max: 480 }),
        ] {
            let mut r = raw();
            r.duration = d.into();
            assert_eq!(errors_of(&r), vec![e], "{d}");
        }

        let mut r = raw();
        r.subject = "  ".into();
        r.start = RawStart::Rfc3339("not a date".into());
        assert_eq!(errors_of(&r), vec![FieldError::SubjectMissing, FieldError::StartUnparsable]);

        let mut r = raw();
        r.subject = "a\0b".into();
        assert_eq!(errors_of(&r), vec![FieldError::SubjectControlChars]);
        r.subject = "x".repeat(10_000);
        assert_eq!(errors_of(&r), vec![FieldError::SubjectTooLong { max: 200 }]);
    }

    #[test]
    fn attendee_rules() {
        let mut r = raw();
        r.moderators = vec!["a@x.org, b@x.org\nc@x.org".into()];
        assert_eq!(errors_of(&r), vec![FieldError::TooManyModerators { count: 3, max: 2 }]);

        let mut r = raw();
        r.guests = vec![];
        assert_eq!(errors_of(&r), vec![FieldError::NoGuest]);

        let mut r = raw();
        r.guests = vec![(0..51).map(|i| format!("g{i}@x.org")).collect::<Vec<_>>().join("\n")];
        assert_eq!(errors_of(&r), vec![FieldError::TooManyGuests { count: 51, max: 50 }]);

        let mut r = raw();
        r.guests = vec!["MOD@example.org".into()];
        assert_eq!(errors_of(&r), vec![FieldError::BothRoles { address: "mod@example.org".into() }]);

        let mut r = raw();
        r.guests = vec!["not-an-address".into(), "ok@x.org".into()];
        assert_eq!(errors_of(&r), vec![FieldError::InvalidAddress { address: "not-an-address".into() }]);
    }

    #[test]
    fn duplicates_merge_and_owner_is_implicit() {
        let limits = BookingConfig::default();
        let mut r = raw();
        r.moderators = vec!["owner@example.org".into(), "Mod@Example.org".into(), "mod@example.org".into()];
        r.guests = vec!["g@x.org".into(), "G@X.ORG".into(), "OWNER@example.org".into()];
        let v = validate(&r, &ctx(&limits)).unwrap();
        assert_eq!(v.moderators.len(), 1);
        assert_eq!(v.guests.len(), 1);
    }

    #[test]
    fn an_overlong_list_is_refused_before_it_is_read() {
        // 240 kB of "a ": two seconds of a worker thread and 120 000 errors with the old parser.
        let mut r = raw();
        r.guests = vec!["a ".repeat(120_000)];
        assert_eq!(errors_of(&r), vec![FieldError::ListTooLong { max: 51 * LIST_CHARS_PER_ENTRY }]);
        // The same for an API array: many small entries count with their separators.
        let mut r = raw();
        r.moderators = vec!["x".to_string(); 2000];
        assert_eq!(errors_of(&r), vec![FieldError::ListTooLong { max: 3 * LIST_CHARS_PER_ENTRY }]);
        // At the cap, the list is read (and here, every address is listed as wrong up to ten).
        let mut r = raw();
        r.guests = vec!["a,".repeat(51 * LIST_CHARS_PER_ENTRY / 2)];
        let errors = errors_of(&r);
        assert_eq!(errors.len(), 11, "{errors:?}");
        assert_eq!(errors[10], FieldError::MoreInvalidAddresses { count: 51 * LIST_CHARS_PER_ENTRY / 2 - 10 });
    }

    #[test]
    fn address_list_parsing_time_is_linear() {
        crate::testkit::assert_linear("split_address_list(\"a \" × n)", 20_000, |n| {
            split_address_list(&"a ".repeat(n)).len()
        });
        crate::testkit::assert_linear("split_address_list(names and addresses)", 2_000, |n| {
            split_address_list(&"Jean \"JD\" Dupont <j@x.org>, b@y.org ".repeat(n)).len()
        });
    }

    #[test]
    fn display_names_keep_their_quotes() {
        assert_eq!(
            split_address_list("Ëxt \"Mod\" <a@b.org>"),
            vec![("Ëxt \"Mod\"".to_string(), "a@b.org".to_string())]
        );
        assert_eq!(
            split_address_list("\"Martin, \\\"MM\\\" Marie\" <m@x.org>; \"a <b>\" <c@d.org>"),
            vec![
                ("Martin, \"MM\" Marie".to_string(), "m@x.org".to_string()),
                ("a <b>".to_string(), "c@d.org".to_string())
            ]
        );
        let limits = BookingConfig::default();
        let mut r = raw();
        r.moderators = vec!["Ëxt \"Mod\" <ext.mod@partner.net>".into()];
        assert_eq!(validate(&r, &ctx(&limits)).unwrap().moderators[0].name, "Ëxt \"Mod\"");
    }

    mod properties {
        //! Property-based tests of the address-list parser.
        use proptest::prelude::*;
        use proptest::test_runner::FileFailurePersistence;

        use super::super::*;

        fn hostile_char() -> impl Strategy<Value = char> {
            prop_oneof![
                4 => prop::sample::select(vec![
                    '"', '<', '>', '@', ',', ';', ' ', '\n', '\r', '\t', '\\', '.', '\u{0}', 'é', '😀', '\u{a0}',
                ]),
                4 => prop::char::range('a', 'z'),
                1 => any::<char>(),
            ]
        }

        fn mail() -> impl Strategy<Value = String> {
            ("[a-z][a-z0-9._+-]{0,12}[a-z0-9]", "[a-z]{1,10}", "[a-z]{2,6}")
                .prop_map(|(local, domain, tld)| format!("{}@{domain}.{tld}", local.replace("..", ".")))
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
                ..ProptestConfig::default()
            })]

            /// Anything pasted is split without a panic; every address comes from the text and every
            /// name is short and free of control characters.
            #[test]
            fn anything_pasted_splits_into_pieces_of_the_text(chars in prop::collection::vec(hostile_char(), 0..300)) {
                let text: String = chars.into_iter().collect();
                for (name, address) in split_address_list(&text) {
                    prop_assert!(text.contains(address.as_str()), "{address:?} not in {text:?}");
                    prop_assert!(name.chars().count() <= 120 && !name.chars().any(char::is_control), "{name:?}");
                }
            }

            /// Addresses separated the ways people paste them come back, in order.
            #[test]
            fn separated_addresses_come_back_in_order(
                mails in prop::collection::vec(mail(), 1..20),
                separators in prop::collection::vec(prop::sample::select(vec![", ", ";", "\n", " ", "\r\n", " ,; "]), 20),
            ) {
                let mut text = String::new();
                for (i, m) in mails.iter().enumerate() {
                    text.push_str(m);
                    text.push_str(separators[i]);
                }
                let got: Vec<String> = split_address_list(&text).into_iter().map(|(_, a)| a).collect();
                prop_assert_eq!(got, mails);
            }
        }
    }

    #[test]
    fn pasted_lists() {
        let got = split_address_list(
            "Jean Dupont <jean.dupont@example.org>, \"Martin, Marie\" <marie@example.org>; bob@x.org\n  alice@y.org carol@z.org",
        );
        assert_eq!(
            got,
            vec![
                ("Jean Dupont".into(), "jean.dupont@example.org".into()),
                ("Martin, Marie".into(), "marie@example.org".into()),
                (String::new(), "bob@x.org".into()),
                (String::new(), "alice@y.org".into()),
                (String::new(), "carol@z.org".into()),
            ]
        );
    }
}
