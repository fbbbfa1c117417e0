//! Unit tests of the iCalendar writer: escaping, folding, structure, alarms, attendees, iTIP and
//! free-busy; output parsed back with the `icalendar` crate. Golden files and property tests are in
//! the submodules.

mod golden;
mod props;

use chrono::{DateTime, TimeZone, Utc};

use super::*;

pub(crate) const NASTY: &str = "l'équipe, \"quoted\"; semi; new\nline\r\nCR <script>alert(1)</script> \\ end";

pub(crate) fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("valid test date")
}

pub(crate) fn sample_event(id: u32, summary: &str) -> Event {
    Event {
        uid: format!("{id}@meet.example.org"),
        sequence: 1,
        summary: summary.to_owned(),
        description: format!("Rejoindre : https://meet.example.org/join.cgi?id=abc{id}\nÀ bientôt"),
        start: at(2026, 12, 5, 9, 0),
        end: at(2026, 12, 5, 10, 30),
        created: at(2026, 11, 1, 8, 0),
        last_modified: at(2026, 11, 2, 8, 30),
        status: EventStatus::Confirmed,
        join_url: format!("https://meet.example.org/join.cgi?id=abc{id}"),
        organizer: Person { mail: "jean.dupont@example.org".into(), name: String::new() },
        attendees: vec![
            EventAttendee {
                person: Person { mail: "bob@example.net".into(), name: "Doe, \"Bob\": the ^boss; Jr\nII".into() },
                role: AttendeeRole::Participant,
                partstat: PartStat::Accepted,
            },
            EventAttendee {
                person: Person { mail: "marie-claire.martin@example.org".into(), name: String::new() },
                role: AttendeeRole::Chair,
                partstat: PartStat::NeedsAction,
            },
        ],
        alarm_minutes_before: vec![10, 60 * 24 * 60],
    }
}

fn info() -> CalendarInfo {
    CalendarInfo {
        prodid: "-//Example Org//jmb//FR".into(),
        name: "Réunions, \"Jitsi\"; x".into(),
        description: "Mes réunions\r\nsur Jitsi".into(),
        refresh_minutes: 60,
        time_zone: "Europe/Paris".into(),
    }
}

/// Reverses folding so tests can look at logical lines.
pub(crate) fn unfold(s: &str) -> Vec<String> {
    s.replace("\r\n ", "").split("\r\n").filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn line<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines.iter().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no line starting with {prefix}"))
}

/// RFC 5545 TEXT escaping of already clean text, written independently of the writer.
fn escape_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n")
}

/// Properties jmb writes with a TEXT value, where a backslash starts an escape.
const TEXT_PROPERTIES: &[&[u8]] = &[
    b"UID",
    b"PRODID",
    b"NAME",
    b"X-WR-CALNAME",
    b"X-WR-CALDESC",
    b"X-WR-TIMEZONE",
    b"SUMMARY",
    b"DESCRIPTION",
    b"LOCATION",
];

/// CRLF only, at most 75 octets per physical line, UTF-8 sequences and TEXT escapes never split.
pub(crate) fn assert_wire_format(s: &str) {
    assert!(s.ends_with("\r\n"), "must end with CRLF");
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            assert!(i > 0 && bytes[i - 1] == b'\r', "bare LF at {i}");
        }
        if *b == b'\r' {
            assert!(bytes.get(i + 1) == Some(&b'\n'), "bare CR at {i}");
        }
    }
    let mut text_value = false;
    for l in bytes.split(|b| *b == b'\n') {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        assert!(l.len() <= 75, "line of {} octets: {:?}", l.len(), String::from_utf8_lossy(l));
        assert!(std::str::from_utf8(l).is_ok(), "physical line splits a UTF-8 sequence");
        if !l.starts_with(b" ") {
            let name_end = l.iter().position(|b| matches!(b, b';' | b':')).unwrap_or(l.len());
            text_value = TEXT_PROPERTIES.contains(&&l[..name_end]);
        }
        // In TEXT, a fold never separates a backslash from the character it escapes.
        let trailing = l.iter().rev().take_while(|b| **b == b'\\').count();
        assert!(!text_value || trailing % 2 == 0, "line ends inside an escape: {:?}", String::from_utf8_lossy(l));
    }
}

#[test]
fn text_escaping_of_hostile_summary() {
    let now = at(2026, 12, 1, 0, 0);
    let out = render_resource("-//Example Org//jmb//FR", &sample_event(1, NASTY), now);
    assert_wire_format(&out);
    let lines = unfold(&out);
    assert_eq!(
        line(&lines, "SUMMARY:"),
        "SUMMARY:l'équipe\\, \"quoted\"\\; semi\\; new\\nline\\nCR <script>alert(1)</script> \\\\ end"
    );
    assert_eq!(
        line(&lines, "DESCRIPTION:"),
        "DESCRIPTION:Rejoindre : https://meet.example.org/join.cgi?id=abc1\\nÀ bientôt"
    );
    assert!(!out.contains('\u{0}'));
}

#[test]
fn control_characters_are_dropped() {
    let now = at(2026, 12, 1, 0, 0);
    let out = render_resource("p", &sample_event(1, "a\u{0}b\u{7}c\u{1b}d\re"), now);
    assert_eq!(line(&unfold(&out), "SUMMARY:"), "SUMMARY:abcd\\ne");
}

#[test]
fn structure_of_a_resource() {
    let now = at(2026, 12, 1, 0, 0);
    let out = render_resource("-//Example Org//jmb//FR", &sample_event(7, "Point"), now);
    assert_wire_format(&out);
    let lines = unfold(&out);
    assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
    assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
    assert_eq!(lines.iter().filter(|l| l.starts_with("PRODID")).count(), 1);
    assert_eq!(line(&lines, "PRODID"), "PRODID:-//Example Org//jmb//FR");
    assert_eq!(line(&lines, "VERSION"), "VERSION:2.0");
    assert!(!lines.iter().any(|l| l.starts_with("METHOD")), "no METHOD in CalDAV");
    assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 1);
    assert_eq!(line(&lines, "UID:"), "UID:7@meet.example.org");
    assert_eq!(line(&lines, "DTSTART"), "DTSTART:20261205T090000Z");
    assert_eq!(line(&lines, "DTEND"), "DTEND:20261205T103000Z");
    assert_eq!(line(&lines, "DTSTAMP"), "DTSTAMP:20261102T083000Z");
    assert_eq!(line(&lines, "CREATED"), "CREATED:20261101T080000Z");
    assert_eq!(line(&lines, "LAST-MODIFIED"), "LAST-MODIFIED:20261102T083000Z");
    assert_eq!(line(&lines, "SEQUENCE"), "SEQUENCE:1");
    assert_eq!(line(&lines, "STATUS"), "STATUS:CONFIRMED");
    assert_eq!(line(&lines, "LOCATION"), "LOCATION:https://meet.example.org/join.cgi?id=abc7");
    assert_eq!(line(&lines, "URL"), "URL:https://meet.example.org/join.cgi?id=abc7");
    assert_eq!(
        line(&lines, "CONFERENCE"),
        "CONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=Jitsi:https://meet.example.org/join.cgi?id=abc7"
    );
    assert_eq!(line(&lines, "ORGANIZER"), "ORGANIZER;CN=Jean Dupont:mailto:jean.dupont@example.org");
    assert!(!out.contains("TZID"));
}

#[test]
fn attendee_parameters_are_encoded() {
    let now = at(2026, 12, 1, 0, 0);
    let out = render_resource("p", &sample_event(1, "x"), now);
    let lines = unfold(&out);
    let atts: Vec<&String> = lines.iter().filter(|l| l.starts_with("ATTENDEE")).collect();
    assert_eq!(atts.len(), 2);
    assert_eq!(
        atts[0],
        "ATTENDEE;CN=\"Doe, ^'Bob^': the ^^boss; Jr^nII\";CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.net"
    );
    assert_eq!(
        atts[1],
        "ATTENDEE;CN=Marie-Claire Martin;CUTYPE=INDIVIDUAL;ROLE=CHAIR;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:marie-claire.martin@example.org"
    );
    // The crate's own parser accepts it (it rejects raw quotes inside parameter values).
    assert!(out.parse::<icalendar::Calendar>().is_ok());
}

#[test]
fn past_alarms_are_dropped() {
    let ev = sample_event(1, "x"); // alarms 10 min and 60 days before 2026-12-05 09:00
    let early = render_resource("p", &ev, at(2026, 9, 1, 0, 0));
    let lines = unfold(&early);
    let triggers: Vec<&String> = lines.iter().filter(|l| l.starts_with("TRIGGER")).collect();
    assert_eq!(triggers, ["TRIGGER:-P60D", "TRIGGER:-PT10M"]);
    assert_eq!(lines.iter().filter(|l| *l == "ACTION:DISPLAY").count(), 2);
    // No invented DTSTAMP/UID inside VALARM: bytes must not depend on the clock.
    let alarm_start = lines.iter().position(|l| l == "BEGIN:VALARM").expect("alarm");
    let alarm_end = lines.iter().position(|l| l == "END:VALARM").expect("alarm end");
    assert!(lines[alarm_start..alarm_end].iter().all(|l| !l.starts_with("DTSTAMP") && !l.starts_with("UID")));
    assert!(lines[alarm_start..alarm_end].iter().any(|l| l == "DESCRIPTION:x"));

    let later = render_resource("p", &ev, at(2026, 12, 1, 0, 0));
    let triggers: Vec<String> = unfold(&later).into_iter().filter(|l| l.starts_with("TRIGGER")).collect();
    assert_eq!(triggers, ["TRIGGER:-PT10M"]);

    let too_late = render_resource("p", &ev, at(2026, 12, 5, 8, 55));
    assert!(!too_late.contains("VALARM"));
}

#[test]
fn output_is_deterministic() {
    let now = at(2026, 9, 1, 0, 0);
    let ev = sample_event(3, NASTY);
    assert_eq!(render_resource("p", &ev, now), render_resource("p", &ev, now));
}

#[test]
fn long_subjects_fold_on_char_boundaries_and_not_inside_escapes() {
    let now = at(2026, 12, 1, 0, 0);
    // 10 kB of mixed 1-, 2-, 3- and 4-byte characters and escapes, at every alignment.
    for shift in 0..4 {
        let mut summary = "x".repeat(shift);
        while summary.len() < 10_240 {
            summary.push_str("é,€;😀\\n\né");
        }
        let out = render_resource("p", &sample_event(1, &summary), now);
        assert_wire_format(&out);
        let lines = unfold(&out);
        let expected = format!("SUMMARY:{}", escape_text(&summary));
        assert_eq!(line(&lines, "SUMMARY:"), expected);
    }
}

#[test]
fn feed_has_calendar_properties() {
    let now = at(2026, 12, 1, 0, 0);
    let events = [sample_event(1, "a"), sample_event(2, NASTY)];
    let out = render_feed(&info(), &events, now);
    assert_wire_format(&out);
    let lines = unfold(&out);
    assert_eq!(lines.iter().filter(|l| l.starts_with("PRODID")).count(), 1);
    assert!(!lines.iter().any(|l| l.starts_with("METHOD")), "a feed is a snapshot, not an iTIP message");
    assert_eq!(line(&lines, "NAME"), "NAME:Réunions\\, \"Jitsi\"\\; x");
    assert_eq!(line(&lines, "X-WR-CALNAME"), "X-WR-CALNAME:Réunions\\, \"Jitsi\"\\; x");
    assert_eq!(line(&lines, "DESCRIPTION"), "DESCRIPTION:Mes réunions\\nsur Jitsi");
    assert_eq!(line(&lines, "X-WR-CALDESC"), "X-WR-CALDESC:Mes réunions\\nsur Jitsi");
    assert_eq!(line(&lines, "X-WR-TIMEZONE"), "X-WR-TIMEZONE:Europe/Paris");
    assert_eq!(line(&lines, "REFRESH-INTERVAL"), "REFRESH-INTERVAL;VALUE=DURATION:PT1H");
    assert_eq!(line(&lines, "X-PUBLISHED-TTL"), "X-PUBLISHED-TTL:PT1H");
    assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 2);
    assert!(out.parse::<icalendar::Calendar>().is_ok());
}

#[test]
fn empty_feed_is_valid() {
    let out = render_feed(&info(), &[], at(2026, 12, 1, 0, 0));
    assert_wire_format(&out);
    assert!(out.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
    assert!(out.ends_with("END:VCALENDAR\r\n"));
}

#[test]
fn cn_derivation() {
    let p = |mail: &str| Person { mail: mail.into(), name: String::new() }.display_name();
    assert_eq!(p("jean.dupont@example.org"), "Jean Dupont");
    assert_eq!(p("marie-claire_martin@x"), "Marie-Claire Martin");
    assert_eq!(p("bob@x"), "Bob");
    assert_eq!(p("élise..b.@x"), "Élise B");
    assert_eq!(Person { mail: "a@b".into(), name: " Zoé ".into() }.display_name(), "Zoé");
}

#[test]
fn object_names_are_url_safe() {
    assert_eq!(object_name_for_uid("42@meet.example.org"), "42@meet.example.org.ics");
    let hashed = object_name_for_uid("a/b c");
    assert_eq!(hashed.len(), 32 + 4);
    assert!(hashed.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'));
}

#[test]
fn etag_is_quoted_and_stable() {
    assert_eq!(etag(b"abc"), "\"ba7816bf8f01cfea\"");
}

#[test]
fn feed_assembled_from_resources_equals_rendered_feed() {
    let info = CalendarInfo {
        prodid: "-//Example//jmb//FR".into(),
        name: "Visio".into(),
        description: "Réunions".into(),
        refresh_minutes: 60,
        time_zone: "Europe/Paris".into(),
    };
    let now = at(2026, 12, 1, 8, 0);
    let events = vec![sample_event(1, "l'équipe, \"quoted\"; semi"), sample_event(2, &"é".repeat(300))];
    let mut feed = feed_head(&info, now);
    let mut headers = Vec::new();
    for e in &events {
        let r = render_resource(&info.prodid, e, now);
        let (head, event, tail) = split_resource(&r).expect("one VEVENT");
        headers.push(r[head].to_string());
        assert_eq!(&r[tail], CALENDAR_END);
        feed.push_str(&r[event]);
    }
    feed.push_str(CALENDAR_END);
    assert_eq!(feed, render_feed(&info, &events, now));
    // The same, rendering each event straight into the feed's buffer.
    let mut direct = feed_head(&info, now);
    for e in &events {
        write_event(&mut direct, e, now);
    }
    direct.push_str(CALENDAR_END);
    assert_eq!(direct, feed);
    assert_eq!(headers[0], headers[1], "every resource of a calendar has the same header");
    assert_eq!(headers[0], resource_head(&info.prodid));
    assert_eq!(format!("{}{}", feed_head(&info, now), CALENDAR_END), render_feed(&info, &[], now));
    assert_eq!(etag_of_parts(&[b"ab", b"c"]), etag(b"abc"));
    assert!(split_resource("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").is_none());
}

/// One property as the `icalendar` crate parses it back: TEXT values unescaped by the crate,
/// parameter values RFC 6868-decoded here (the crate does not decode them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Prop {
    pub name: String,
    pub params: Vec<(String, String)>,
    pub value: String,
}

impl Prop {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One component as the `icalendar` crate parses it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Comp {
    pub name: String,
    pub props: Vec<Prop>,
    pub comps: Vec<Comp>,
}

impl Comp {
    pub fn all(&self, name: &str) -> Vec<&Prop> {
        self.props.iter().filter(|p| p.name == name).collect()
    }

    pub fn one(&self, name: &str) -> &Prop {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "{} {name} properties in {}", found.len(), self.name);
        found[0]
    }

    pub fn value(&self, name: &str) -> &str {
        &self.one(name).value
    }

    pub fn children(&self, name: &str) -> Vec<&Comp> {
        self.comps.iter().filter(|c| c.name == name).collect()
    }
}

/// RFC 6868 decoding: `^^` → `^`, `^'` → `"`, `^n` → LF; any other `^` stays.
pub(crate) fn decode_param(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('^', Some('^')) => {
                chars.next();
                out.push('^');
            }
            ('^', Some('\'')) => {
                chars.next();
                out.push('"');
            }
            ('^', Some('n')) => {
                chars.next();
                out.push('\n');
            }
            (c, _) => out.push(c),
        }
    }
    out
}

/// Parses rendered output back with the `icalendar` crate (both its high-level `Calendar` and its
/// parser, which keeps properties in order) and returns the `VCALENDAR`.
pub(crate) fn parse_back(s: &str) -> Comp {
    if let Err(e) = s.parse::<icalendar::Calendar>() {
        panic!("icalendar refuses the output: {e}\n{s}");
    }
    let unfolded = icalendar::parser::unfold(s);
    let cal = icalendar::parser::read_calendar(&unfolded).unwrap_or_else(|e| panic!("{e}"));
    fn prop(p: &icalendar::parser::Property<'_>) -> Prop {
        Prop {
            name: p.name.to_string(),
            params: p
                .params
                .iter()
                .map(|q| (q.key.to_string(), q.val.as_ref().map(|v| decode_param(v.as_str())).unwrap_or_default()))
                .collect(),
            value: p.val.to_string(),
        }
    }
    fn comp(c: &icalendar::parser::Component<'_>) -> Comp {
        Comp {
            name: c.name.to_string(),
            props: c.properties.iter().map(prop).collect(),
            comps: c.components.iter().map(comp).collect(),
        }
    }
    Comp {
        name: "VCALENDAR".into(),
        props: cal.properties.iter().map(prop).collect(),
        comps: cal.components.iter().map(comp).collect(),
    }
}

#[test]
fn resource_parses_back() {
    let ev = sample_event(5, NASTY);
    let out = render_resource("-//Example Org//jmb//FR", &ev, at(2026, 9, 1, 0, 0));
    let cal = parse_back(&out);
    assert_eq!(cal.value("PRODID"), "-//Example Org//jmb//FR");
    assert!(cal.all("METHOD").is_empty());
    let events = cal.children("VEVENT");
    assert_eq!(events.len(), 1);
    let e = events[0];
    assert_eq!(e.value("UID"), "5@meet.example.org");
    assert_eq!(e.value("SUMMARY"), text_normalised(NASTY));
    assert_eq!(e.value("DESCRIPTION"), ev.description);
    assert_eq!(e.value("LOCATION"), ev.join_url);
    assert_eq!(e.value("DTSTART"), "20261205T090000Z");
    let organizer = e.one("ORGANIZER");
    assert_eq!(organizer.value, "mailto:jean.dupont@example.org");
    assert_eq!(organizer.param("CN"), Some("Jean Dupont"));
    let attendees = e.all("ATTENDEE");
    assert_eq!(attendees[0].param("CN"), Some("Doe, \"Bob\": the ^boss; Jr\nII"));
    assert_eq!(attendees[0].param("PARTSTAT"), Some("ACCEPTED"));
    assert_eq!(attendees[1].param("ROLE"), Some("CHAIR"));
    let conference = e.one("CONFERENCE");
    assert_eq!(
        conference.params,
        [("VALUE", "URI"), ("FEATURE", "VIDEO"), ("LABEL", "Jitsi")].map(|(k, v)| (k.into(), v.into()))
    );
    let alarms = e.children("VALARM");
    assert_eq!(alarms.len(), 2);
    for a in alarms {
        assert_eq!(a.value("ACTION"), "DISPLAY");
        assert!(a.all("DTSTAMP").is_empty() && a.all("UID").is_empty());
    }
}

/// What a TEXT value reads as after rendering: CRLF and CR become LF, control characters other
/// than LF and TAB are dropped.
pub(crate) fn text_normalised(s: &str) -> String {
    writer::clean_text(s)
}

#[test]
fn write_event_appends_the_block_of_the_resource() {
    let now = at(2026, 12, 1, 0, 0);
    let ev = sample_event(9, NASTY);
    let resource = render_resource("p", &ev, now);
    let (_, block, _) = split_resource(&resource).expect("one VEVENT");
    let mut out = String::from("BEGIN:X\r\n");
    write_event(&mut out, &ev, now);
    assert_eq!(&out["BEGIN:X\r\n".len()..], &resource[block]);
}

#[test]
fn tentative_attendees() {
    let mut ev = sample_event(1, "x");
    ev.attendees[0].partstat = PartStat::Tentative;
    let out = render_resource("p", &ev, at(2026, 12, 1, 0, 0));
    let cal = parse_back(&out);
    assert_eq!(cal.children("VEVENT")[0].all("ATTENDEE")[0].param("PARTSTAT"), Some("TENTATIVE"));
}

#[test]
fn people_without_a_name_have_no_cn() {
    let mut ev = sample_event(1, "x");
    ev.organizer = Person { mail: String::new(), name: String::new() };
    ev.attendees[0].person = Person { mail: "\u{1}@x".into(), name: "\u{7}".into() };
    let lines = unfold(&render_resource("p", &ev, at(2026, 12, 1, 0, 0)));
    assert_eq!(line(&lines, "ORGANIZER"), "ORGANIZER:mailto:");
    assert!(line(&lines, "ATTENDEE").starts_with("ATTENDEE;CUTYPE=INDIVIDUAL;"));
}

#[test]
fn parameters_are_quoted_unless_plain() {
    let mut ev = sample_event(1, "x");
    ev.attendees[0].person.name = "Zoé".into();
    ev.attendees[1].person.name = "a^b".into();
    let lines = unfold(&render_resource("p", &ev, at(2026, 12, 1, 0, 0)));
    let atts: Vec<&String> = lines.iter().filter(|l| l.starts_with("ATTENDEE")).collect();
    assert!(atts[0].starts_with("ATTENDEE;CN=\"Zoé\";CUTYPE=INDIVIDUAL;"), "{}", atts[0]);
    assert!(atts[1].starts_with("ATTENDEE;CN=\"a^^b\";CUTYPE=INDIVIDUAL;"), "{}", atts[1]);
    assert_eq!(line(&lines, "ORGANIZER"), "ORGANIZER;CN=Jean Dupont:mailto:jean.dupont@example.org");
}

#[test]
fn itip_messages_carry_a_method_and_the_message_time() {
    let stamp = at(2026, 11, 20, 14, 3);
    let mut ev = sample_event(4, "Point");
    for (method, name) in [(Method::Request, "REQUEST"), (Method::Cancel, "CANCEL"), (Method::Publish, "PUBLISH")] {
        ev.status = if method == Method::Cancel { EventStatus::Cancelled } else { EventStatus::Confirmed };
        let out = render_itip("-//Example Org//jmb//FR", method, &ev, stamp);
        assert_wire_format(&out);
        assert_eq!(method.as_str(), name);
        let cal = parse_back(&out);
        assert_eq!(cal.value("METHOD"), name);
        assert_eq!(cal.all("PRODID").len(), 1);
        let e = cal.children("VEVENT");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].value("DTSTAMP"), "20261120T140300Z", "DTSTAMP is when the message was made");
        assert_eq!(e[0].value("LAST-MODIFIED"), "20261102T083000Z");
        assert_eq!(e[0].value("STATUS"), if method == Method::Cancel { "CANCELLED" } else { "CONFIRMED" });
        // Alarms are judged against the message time: the 60-day one is already past on 20 November.
        assert_eq!(e[0].children("VALARM").len(), 1);
    }
    // Apart from METHOD and DTSTAMP, the event is the one of the resource.
    ev.last_modified = stamp;
    let itip = render_itip("p", Method::Request, &ev, stamp);
    let resource = render_resource("p", &ev, stamp);
    assert_eq!(itip.replace("METHOD:REQUEST\r\n", ""), resource);
}

#[test]
fn freebusy_periods_are_clipped_merged_and_sorted() {
    let busy = |s: DateTime<Utc>, e: DateTime<Utc>, kind| BusyPeriod { start: s, end: e, kind };
    let periods = [
        busy(at(2026, 12, 5, 14, 0), at(2026, 12, 5, 15, 0), BusyKind::Busy),
        busy(at(2026, 12, 5, 9, 0), at(2026, 12, 5, 10, 0), BusyKind::Busy),
        busy(at(2026, 12, 5, 9, 30), at(2026, 12, 5, 11, 0), BusyKind::Busy),
        busy(at(2026, 12, 5, 11, 0), at(2026, 12, 5, 11, 30), BusyKind::Busy),
        busy(at(2026, 12, 5, 9, 45), at(2026, 12, 5, 10, 15), BusyKind::Tentative),
        busy(at(2026, 12, 4, 22, 0), at(2026, 12, 5, 8, 30), BusyKind::Tentative),
        busy(at(2026, 12, 6, 9, 0), at(2026, 12, 6, 10, 0), BusyKind::Busy),
        busy(at(2026, 12, 5, 16, 0), at(2026, 12, 5, 16, 0), BusyKind::Busy),
    ];
    let out = render_freebusy(
        "-//Example Org//jmb//FR",
        "fb-1@meet.example.org",
        at(2026, 12, 5, 0, 0),
        at(2026, 12, 6, 0, 0),
        at(2026, 12, 1, 7, 0),
        &periods,
    );
    assert_wire_format(&out);
    let cal = parse_back(&out);
    assert!(cal.all("METHOD").is_empty());
    let fb = cal.children("VFREEBUSY");
    assert_eq!(fb.len(), 1);
    let fb = fb[0];
    assert_eq!(fb.value("UID"), "fb-1@meet.example.org");
    assert_eq!(fb.value("DTSTAMP"), "20261201T070000Z");
    assert_eq!(fb.value("DTSTART"), "20261205T000000Z");
    assert_eq!(fb.value("DTEND"), "20261206T000000Z");
    let lines: Vec<String> =
        fb.all("FREEBUSY").iter().map(|p| format!("{}={}", p.param("FBTYPE").unwrap_or("?"), p.value)).collect();
    assert_eq!(
        lines,
        [
            "BUSY-TENTATIVE=20261205T000000Z/20261205T083000Z",
            "BUSY=20261205T090000Z/20261205T113000Z",
            "BUSY-TENTATIVE=20261205T094500Z/20261205T101500Z",
            "BUSY=20261205T140000Z/20261205T150000Z",
        ]
    );
    let empty = render_freebusy("p", "u", at(2026, 12, 5, 0, 0), at(2026, 12, 6, 0, 0), at(2026, 12, 1, 0, 0), &[]);
    assert!(!empty.contains("FREEBUSY;"));
    assert!(parse_back(&empty).children("VFREEBUSY")[0].all("FREEBUSY").is_empty());
}
