//! Unit tests of the iCalendar writer: escaping, folding, structure, alarms, attendees.

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

fn assert_wire_format(s: &str) {
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
    for l in bytes.split(|b| *b == b'\n') {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        assert!(l.len() <= 75, "line of {} octets: {:?}", l.len(), String::from_utf8_lossy(l));
        assert!(std::str::from_utf8(l).is_ok(), "physical line splits a UTF-8 sequence");
        // A fold never separates a backslash from the character it escapes.
        let trailing = l.iter().rev().take_while(|b| **b == b'\\').count();
        assert!(trailing % 2 == 0, "line ends inside an escape: {:?}", String::from_utf8_lossy(l));
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
        "CONFERENCE;FEATURE=VIDEO;LABEL=Jitsi;VALUE=URI:https://meet.example.org/join.cgi?id=abc7"
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
        "ATTENDEE;CN=\"Doe, ^'Bob^': the ^^boss; Jr^nII\";CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:bob@example.net"
    );
    assert_eq!(
        atts[1],
        "ATTENDEE;CN=Marie-Claire Martin;CUTYPE=INDIVIDUAL;PARTSTAT=NEEDS-ACTION;ROLE=CHAIR;RSVP=TRUE:mailto:marie-claire.martin@example.org"
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
        let expected = format!("SUMMARY:{}", text::escape_text(&summary));
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
    assert_eq!(line(&lines, "METHOD"), "METHOD:PUBLISH");
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
    assert_eq!(headers[0], headers[1], "every resource of a calendar has the same header");
    assert_eq!(format!("{}{}", feed_head(&info, now), CALENDAR_END), render_feed(&info, &[], now));
    assert_eq!(etag_of_parts(&[b"ab", b"c"]), etag(b"abc"));
    assert!(split_resource("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n").is_none());
}
