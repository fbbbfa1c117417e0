//! Golden files: the exact bytes of a CalDAV resource, a feed, an iTIP REQUEST and CANCEL and a
//! free-busy answer, compared byte for byte with `tests/golden/*.ics` (fixed input, fixed `now`).
//!
//! These bytes are what clients hold ETags of: a change to them makes every client download every
//! event again, so it must be deliberate. After checking a new output (validators included, see
//! `protocols.md` §3), rewrite the files with
//! `JMB_BLESS=1 cargo test --lib ics::tests::golden` and commit them with the change.

use std::path::PathBuf;

use super::*;

fn check(name: &str, actual: &str) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "golden", name].iter().collect();
    if std::env::var_os("JMB_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (JMB_BLESS=1 writes it from the current output)", path.display()));
    if expected != actual.as_bytes() {
        let expected = String::from_utf8_lossy(&expected);
        let (n, (want, got)) = expected
            .split_inclusive('\n')
            .zip(actual.split_inclusive('\n'))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((expected.lines().count().min(actual.lines().count()), ("<end>", "<end>")));
        panic!(
            "{} differs from the rendering, first at line {}:\n  golden:   {want:?}\n  rendered: {got:?}\n\
             (if the change is intended, rerun with JMB_BLESS=1 and commit the file)",
            path.display(),
            n + 1
        );
    }
}

const PRODID: &str = "-//Example Org//jmb//FR";

fn now() -> DateTime<Utc> {
    at(2026, 12, 1, 8, 0)
}

fn person(mail: &str, name: &str) -> Person {
    Person { mail: mail.into(), name: name.into() }
}

fn attendee(mail: &str, name: &str, role: AttendeeRole, partstat: PartStat) -> EventAttendee {
    EventAttendee { person: person(mail, name), role, partstat }
}

/// An ordinary meeting.
fn plain_event() -> Event {
    Event {
        uid: "42@meet.example.org".into(),
        sequence: 2,
        summary: "Point hebdomadaire".into(),
        description: "Rejoindre la réunion : https://meet.example.org/j/tok42\n\
                      Répondre : https://meet.example.org/rsvp/tok42"
            .into(),
        start: at(2026, 12, 5, 9, 0),
        end: at(2026, 12, 5, 10, 30),
        created: at(2026, 11, 1, 8, 0),
        last_modified: at(2026, 11, 2, 8, 30),
        status: EventStatus::Confirmed,
        join_url: "https://meet.example.org/j/tok42".into(),
        organizer: person("jean.dupont@example.org", ""),
        attendees: vec![
            attendee("bob@example.net", "Bob Martin", AttendeeRole::Participant, PartStat::Accepted),
            attendee("marie-claire.martin@example.org", "", AttendeeRole::Chair, PartStat::NeedsAction),
            attendee("zoe@example.net", "Zoé", AttendeeRole::Participant, PartStat::Tentative),
        ],
        alarm_minutes_before: vec![10, 60],
    }
}

/// A meeting whose every text is hostile.
fn tricky_event() -> Event {
    let piece = "Réunion ; budget, « équipe » \\ serveur\nligne 2\r\nligne 3 — café 😀🎉 ";
    let summary: String = piece.chars().cycle().take(300).collect();
    assert_eq!(summary.chars().count(), 300);
    Event {
        uid: "43@meet.example.org".into(),
        sequence: 0,
        summary,
        description: "Ordre du jour ; points, \\ chemins C:\\tmp\r\n\t- un\n\t- deux\rfin\u{7}".into(),
        start: at(2026, 12, 8, 13, 30),
        end: at(2026, 12, 8, 14, 0),
        created: at(2026, 11, 20, 10, 0),
        last_modified: at(2026, 11, 21, 16, 45),
        status: EventStatus::Confirmed,
        join_url: "https://meet.example.org/j/tok43?lang=fr;x=1,2".into(),
        organizer: person("o'brien@example.org", "Seán O'Brien, DSI"),
        attendees: vec![
            attendee("zoe.nunez@example.net", "Zoë \"Z^\" Núñez: café", AttendeeRole::Chair, PartStat::Accepted),
            attendee("x_y.z@example.net", "", AttendeeRole::Participant, PartStat::Declined),
        ],
        alarm_minutes_before: vec![0, 24 * 60],
    }
}

fn feed_info() -> CalendarInfo {
    CalendarInfo {
        prodid: PRODID.into(),
        name: "Réunions Jitsi".into(),
        description: "Mes réunions, sur Jitsi".into(),
        refresh_minutes: 60,
        time_zone: "Europe/Paris".into(),
    }
}

#[test]
fn caldav_resource() {
    let out = render_resource(PRODID, &plain_event(), now());
    assert_wire_format(&out);
    check("resource.ics", &out);
}

#[test]
fn feed() {
    let out = render_feed(&feed_info(), &[plain_event(), tricky_event()], now());
    assert_wire_format(&out);
    check("feed.ics", &out);
}

#[test]
fn itip_request() {
    let mut ev = plain_event();
    // A personal invitation: the recipient is the ATTENDEE, not yet answered.
    ev.attendees = vec![attendee("bob@example.net", "Bob Martin", AttendeeRole::Participant, PartStat::NeedsAction)];
    let out = render_itip(PRODID, Method::Request, &ev, at(2026, 11, 2, 8, 31));
    assert_wire_format(&out);
    check("itip-request.ics", &out);
}

#[test]
fn itip_cancel() {
    let mut ev = plain_event();
    ev.sequence += 1;
    ev.status = EventStatus::Cancelled;
    ev.last_modified = at(2026, 11, 3, 12, 0);
    ev.alarm_minutes_before.clear();
    let out = render_itip(PRODID, Method::Cancel, &ev, at(2026, 11, 3, 12, 0));
    assert_wire_format(&out);
    check("itip-cancel.ics", &out);
}

#[test]
fn freebusy_answer() {
    let busy = |start, end, kind| BusyPeriod { start, end, kind };
    let periods = [
        busy(at(2026, 12, 8, 13, 30), at(2026, 12, 8, 14, 0), BusyKind::Busy),
        busy(at(2026, 12, 5, 9, 0), at(2026, 12, 5, 10, 30), BusyKind::Busy),
        busy(at(2026, 12, 5, 10, 0), at(2026, 12, 5, 11, 0), BusyKind::Busy),
        busy(at(2026, 12, 7, 8, 0), at(2026, 12, 7, 9, 0), BusyKind::Tentative),
    ];
    let out = render_freebusy(
        PRODID,
        "freebusy-jdupont@meet.example.org",
        at(2026, 12, 5, 0, 0),
        at(2026, 12, 12, 0, 0),
        now(),
        &periods,
    );
    assert_wire_format(&out);
    check("freebusy.ics", &out);
}
