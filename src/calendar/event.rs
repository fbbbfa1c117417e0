//! A meeting as one person sees it, as an iCalendar event: their own join link (the owner's entry
//! `/m/{room}`, an invitee's personal `/j/{token}`), their answer link, every attendee with their role
//! and answer, and the description in the viewer's language. This is the one mapping used by the feed,
//! CalDAV and invitation mails; those outputs differ only in their envelope (a calendar with or without
//! `METHOD`, which `ATTENDEE` lines a message carries).

use chrono::{DateTime, Duration, Utc};

use crate::booking::model::{Attendee, MeetingDetails, PartStat, Role};
use crate::i18n::Tr;
use crate::ics;

/// What the mapping needs besides the meeting.
#[derive(Debug, Clone, Copy)]
pub struct Viewing<'a> {
    /// Public base URL, without a trailing slash.
    pub base_url: &'a str,
    /// The viewer's language and display zone.
    pub tr: Tr,
    /// `VALARM` offsets (minutes before the start); only those still ahead of `now` are written.
    pub alarm_minutes: &'a [u32],
    pub now: DateTime<Utc>,
}

/// The viewer's way into the meeting.
pub fn join_url(base_url: &str, d: &MeetingDetails, mine: &Attendee) -> String {
    join_url_of(base_url, &d.meeting.room, mine.role, &mine.token)
}

/// The way into room `room` of someone with `role` and personal `token`: the owner's entry
/// `/m/{room}`, an invitee's `/j/{token}`.
pub fn join_url_of(base_url: &str, room: &str, role: Role, token: &str) -> String {
    if role == Role::Owner { format!("{base_url}/m/{room}") } else { format!("{base_url}/j/{token}") }
}

/// The viewer's answer page.
pub fn answer_url(base_url: &str, mine: &Attendee) -> String {
    answer_url_of(base_url, &mine.token)
}

/// The answer page of the personal `token`.
pub fn answer_url_of(base_url: &str, token: &str) -> String {
    format!("{base_url}/rsvp/{token}")
}

pub fn ics_partstat(p: PartStat) -> ics::PartStat {
    match p {
        PartStat::NeedsAction => ics::PartStat::NeedsAction,
        PartStat::Accepted => ics::PartStat::Accepted,
        PartStat::Declined => ics::PartStat::Declined,
        PartStat::Tentative => ics::PartStat::Tentative,
    }
}

/// How the meeting counts in the viewer's free time (CalDAV `free-busy-query`, RFC 5545 `FBTYPE`): busy
/// for its owner and once accepted, tentatively busy while unanswered or answered "maybe", free once
/// declined.
pub fn free_busy(mine: &Attendee) -> Option<ics::BusyKind> {
    free_busy_of(mine.role, mine.partstat)
}

/// [`free_busy`] of a viewer with `role` and answer `partstat`.
pub fn free_busy_of(role: Role, partstat: PartStat) -> Option<ics::BusyKind> {
    match (role, partstat) {
        (Role::Owner, _) | (_, PartStat::Accepted) => Some(ics::BusyKind::Busy),
        (_, PartStat::NeedsAction | PartStat::Tentative) => Some(ics::BusyKind::Tentative),
        (_, PartStat::Declined) => None,
    }
}

/// When what a viewer sees of the meeting last changed: the meeting itself, an answer, or an alarm
/// passing (its `VALARM` leaves the event). Deterministic, so identical bytes carry identical dates.
pub fn last_modified(d: &MeetingDetails, alarm_minutes: &[u32], now: DateTime<Utc>) -> DateTime<Utc> {
    with_passed_alarms(changed_at(d), d.meeting.start, alarm_minutes, now)
}

/// When the meeting or an answer last changed (what [`last_modified`] adds passing alarms to).
pub fn changed_at(d: &MeetingDetails) -> DateTime<Utc> {
    d.attendees.iter().filter_map(|a| a.answered_at).fold(d.meeting.updated, DateTime::max)
}

/// `changed` moved to the latest alarm trigger (of a meeting starting at `start`) already passed.
pub fn with_passed_alarms(
    changed: DateTime<Utc>,
    start: DateTime<Utc>,
    alarm_minutes: &[u32],
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    alarm_minutes
        .iter()
        .map(|minutes| start - Duration::minutes(i64::from(*minutes)))
        .filter(|trigger| *trigger <= now)
        .fold(changed, DateTime::max)
}

/// The event's description in the viewer's language: the message is formatted by Fluent once per
/// language with markers where the links go (the catalogues are compiled in), then filled per event; a
/// calendar of 60 events used to format it 60 times.
pub fn description(tr: &Tr, url: &str, rsvp: &str) -> String {
    const URL: char = '\u{1}';
    const RSVP: char = '\u{2}';
    static TEMPLATES: [std::sync::OnceLock<String>; 2] = [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    let slot = match tr.lang {
        crate::i18n::Lang::Fr => 0,
        crate::i18n::Lang::En => 1,
    };
    let template = TEMPLATES[slot]
        .get_or_init(|| tr.ta("ical-description", &[("url", URL.to_string()), ("rsvp", RSVP.to_string())]));
    let mut out = String::with_capacity(template.len() + url.len() + rsvp.len());
    let mut rest = template.as_str();
    while let Some(at) = rest.find([URL, RSVP]) {
        out.push_str(&rest[..at]);
        out.push_str(if rest[at..].starts_with(URL) { url } else { rsvp });
        // Both markers are one byte long.
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

/// The meeting as `mine` sees it (`mine` is the viewer's row: the owner row for the owner).
pub fn for_viewer(d: &MeetingDetails, mine: &Attendee, v: &Viewing<'_>) -> ics::Event {
    let join_url = join_url(v.base_url, d, mine);
    let description = description(&v.tr, &join_url, &answer_url(v.base_url, mine));
    ics::Event {
        description,
        join_url,
        last_modified: last_modified(d, v.alarm_minutes, v.now),
        alarm_minutes_before: v.alarm_minutes.to_vec(),
        ..shared(d)
    }
}

/// The meeting with what every viewer sees alike (what [`ics::write_event_shared`] writes); the
/// viewer's fields (description, join link, revision, alarms) are left empty.
pub fn shared(d: &MeetingDetails) -> ics::Event {
    let m = &d.meeting;
    let organizer = d
        .owner()
        .map(|o| ics::Person { mail: o.mail.clone(), name: o.name.clone() })
        .unwrap_or(ics::Person { mail: String::new(), name: String::new() });
    ics::Event {
        uid: m.ical_uid.clone(),
        sequence: m.sequence,
        summary: m.subject.clone(),
        description: String::new(),
        start: m.start,
        end: m.end(),
        created: m.created,
        last_modified: m.updated,
        status: ics::EventStatus::Confirmed,
        join_url: String::new(),
        organizer,
        attendees: d
            .attendees
            .iter()
            .filter(|a| a.role != Role::Owner)
            .map(|a| ics::EventAttendee {
                person: ics::Person { mail: a.mail.clone(), name: a.name.clone() },
                role: if a.role == Role::Moderator { ics::AttendeeRole::Chair } else { ics::AttendeeRole::Participant },
                partstat: ics_partstat(a.partstat),
            })
            .collect(),
        alarm_minutes_before: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::model::Meeting;
    use crate::i18n::Lang;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn attendee(id: i64, role: Role, mail: &str, partstat: PartStat, answered: Option<&str>) -> Attendee {
        Attendee {
            id,
            meeting_id: "m1".into(),
            role,
            mail: mail.into(),
            name: String::new(),
            token: format!("token-{id}-0000000000000000"),
            partstat,
            answered_at: answered.map(at),
            join_count: 0,
            first_join: None,
            last_join: None,
            note: String::new(),
        }
    }

    fn details() -> MeetingDetails {
        MeetingDetails {
            meeting: Meeting {
                id: "m1".into(),
                ical_uid: "m1@meet.example.org".into(),
                room: "abcdefghijklmnop".into(),
                subject: "Point".into(),
                start: at("2026-12-05T09:00:00Z"),
                duration_min: 60,
                owner_uid: "jdupont".into(),
                created: at("2026-12-01T08:00:00Z"),
                updated: at("2026-12-01T08:00:00Z"),
                sequence: 2,
            },
            attendees: vec![
                attendee(1, Role::Owner, "jean@x.org", PartStat::Accepted, None),
                attendee(2, Role::Moderator, "mod@y.org", PartStat::Tentative, Some("2026-12-02T10:00:00Z")),
                attendee(3, Role::Guest, "g@z.org", PartStat::NeedsAction, None),
            ],
        }
    }

    #[test]
    fn each_viewer_gets_their_own_way_in() {
        let d = details();
        let v = Viewing {
            base_url: "https://meet.example.org",
            tr: Tr::new(Lang::En, chrono_tz::Europe::Paris),
            alarm_minutes: &[60, 10],
            now: at("2026-12-03T00:00:00Z"),
        };
        let owner = for_viewer(&d, &d.attendees[0], &v);
        assert_eq!(owner.join_url, "https://meet.example.org/m/abcdefghijklmnop");
        let guest = for_viewer(&d, &d.attendees[2], &v);
        assert_eq!(guest.join_url, "https://meet.example.org/j/token-3-0000000000000000");
        assert!(guest.description.contains("https://meet.example.org/rsvp/token-3-0000000000000000"));
        assert_eq!(guest.attendees.len(), 2, "the owner is the organizer, not an attendee");
        assert_eq!(guest.attendees[0].role, ics::AttendeeRole::Chair);
        assert_eq!(guest.attendees[0].partstat, ics::PartStat::Tentative);
        assert_eq!((guest.uid.as_str(), guest.sequence), ("m1@meet.example.org", 2));
        assert_eq!(guest.last_modified, at("2026-12-02T10:00:00Z"), "the latest answer");
    }

    #[test]
    fn the_description_is_the_catalogue_message_with_the_viewer_links() {
        for lang in [Lang::Fr, Lang::En] {
            let tr = Tr::new(lang, chrono_tz::Europe::Paris);
            let expected = tr.ta("ical-description", &[("url", "https://j/1".into()), ("rsvp", "https://r/2".into())]);
            assert_eq!(description(&tr, "https://j/1", "https://r/2"), expected);
            assert!(expected.contains("https://j/1") && expected.contains("https://r/2"));
        }
    }

    #[test]
    fn last_modified_moves_when_an_alarm_passes() {
        let d = details();
        let alarms = [60, 10];
        assert_eq!(last_modified(&d, &alarms, at("2026-12-05T07:59:00Z")), at("2026-12-02T10:00:00Z"));
        assert_eq!(last_modified(&d, &alarms, at("2026-12-05T08:00:00Z")), at("2026-12-05T08:00:00Z"));
        assert_eq!(last_modified(&d, &alarms, at("2026-12-05T08:55:00Z")), at("2026-12-05T08:50:00Z"));
    }
}
