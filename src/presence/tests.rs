use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::*;
use crate::booking::model::PartStat;
use crate::booking::repo::{NewAttendee, insert_attendee, insert_meeting};

const START: i64 = 1_796_461_200; // 2026-12-05T09:00:00Z
const WINDOW: Window = Window { before_start_seconds: 3600, after_end_seconds: 7200 };

fn conn() -> Connection {
    let mut c = Connection::open_in_memory().unwrap();
    c.pragma_update(None, "foreign_keys", "ON").unwrap();
    crate::db::migrate::apply(&mut c).unwrap();
    let start: DateTime<Utc> = DateTime::from_timestamp(START, 0).unwrap();
    let m = Meeting {
        id: "meeting0000000000001".into(),
        ical_uid: "m@h".into(),
        room: "kqzvbnwtrelpxsha".into(),
        subject: "s".into(),
        start,
        duration_min: 60,
        owner_uid: "jdupont".into(),
        created: start,
        updated: start,
        sequence: 0,
    };
    insert_meeting(&c, &m).unwrap();
    for (role, mail, token) in [
        (Role::Owner, "jean.dupont@example.org", "tok-owner-0000000001"),
        (Role::Moderator, "ext@partner.net", "tok-mod-00000000001"),
        (Role::Guest, "guest@example.com", "tok-guest-0000000001"),
        (Role::Moderator, "marie.martin@example.org", "tok-mod-00000000002"),
    ] {
        let a = NewAttendee { meeting_id: &m.id, role, mail, name: "", token, partstat: PartStat::NeedsAction };
        insert_attendee(&c, &a, start).unwrap();
    }
    // An internal moderator who signed in to jmb once: the users table knows their address.
    let tx = c.transaction().unwrap();
    crate::users::import_user(&tx, "mmartin", "marie.martin@example.org", start).unwrap();
    tx.commit().unwrap();
    c
}

fn occupant(jid: &str, id: Option<&str>, email: Option<&str>, joined: i64, left: Option<i64>) -> Occupant {
    Occupant {
        jid: jid.into(),
        id: id.map(Into::into),
        name: None,
        email: email.map(Into::into),
        joined_at: Some(joined),
        left_at: left,
    }
}

fn event(kind: Kind, breakout: &str, occupant: Option<Occupant>) -> Event {
    Event {
        kind,
        room: Some("kqzvbnwtrelpxsha".into()),
        breakout: breakout.into(),
        occupant,
        all_occupants: Vec::new(),
        destroyed_at: None,
    }
}

fn report(c: &Connection, now: i64) -> Report {
    summarise(&repo::stays_of(c, "meeting0000000000001").unwrap(), (START - 3600, START + 3600 + 7200), now)
}

#[test]
fn unions_count_overlaps_once() {
    assert_eq!(union_length(vec![]), 0);
    assert_eq!(union_length(vec![(0, 10), (5, 15), (20, 30), (30, 31), (40, 39)]), 26);
    assert_eq!(union_length(vec![(0, 100), (10, 20)]), 100);
}

#[test]
fn owner_by_uid_moderator_by_token_id_guest_by_mail() {
    let c = conn();
    let j = |jid: &str, id: Option<&str>, mail: Option<&str>| {
        record(&c, &event(Kind::OccupantJoined, "", Some(occupant(jid, id, mail, START, None))), WINDOW, START).unwrap()
    };
    assert_eq!(j("o@m/1", Some("jdupont"), Some("other@example.org")), Outcome::Recorded { stays: 1 });
    assert_eq!(j("x@m/1", Some("jmb-attendee-2"), Some("ext@partner.net")), Outcome::Recorded { stays: 1 });
    assert_eq!(j("g@m/1", None, Some("guest@example.com")), Outcome::Recorded { stays: 1 });
    assert_eq!(j("s@m/1", Some("stranger"), None), Outcome::Recorded { stays: 1 });
    assert_eq!(j("anon@guest/1", None, None), Outcome::Recorded { stays: 1 });
    // Another meeting's attendee id is not an invitation of this one.
    assert_eq!(j("y@m/1", Some("jmb-attendee-999"), None), Outcome::Recorded { stays: 1 });
    let r = report(&c, START + 600);
    assert_eq!([r.of(1).seconds, r.of(2).seconds, r.of(3).seconds], [600, 600, 600]);
    assert!(r.of(1).here_now);
    assert_eq!(r.unknown.len(), 3);
    assert!(r.unknown[1].anonymous);
    assert_eq!(repo::present_now(&c, "meeting0000000000001", START + 600).unwrap(), 6);
}

#[test]
fn an_internal_moderator_is_matched_by_the_uid_in_their_token() {
    let c = conn();
    // The token's address is not the invited one (an alias, or none at all): the uid decides.
    let o = occupant("mm@m/1", Some("mmartin"), Some("m.martin@alias.example.org"), START, None);
    record(&c, &event(Kind::OccupantJoined, "", Some(o)), WINDOW, START).unwrap();
    let o = occupant("mm@m/2", Some("mmartin"), None, START + 60, Some(START + 120));
    record(&c, &event(Kind::OccupantLeft, "", Some(o)), WINDOW, START).unwrap();
    let r = report(&c, START + 600);
    assert_eq!(r.of(4), Attendance { seconds: 600, here_now: true });
    assert!(r.unknown.is_empty(), "{r:?}");
}

#[test]
fn service_accounts_match_by_bare_jid_or_domain() {
    let s = ServiceAccounts::new(["jmb-bot@auth.meet.example.org", " @Recorder.Meet.Example.org ", "nonsense"]);
    assert!(s.matches("jmb-bot@auth.meet.example.org/Jitsi-Bot"));
    assert!(s.matches("JMB-Bot@auth.meet.example.org"));
    assert!(s.matches("jibri-42@recorder.meet.example.org/abc"));
    assert!(!s.matches("jmb-bot@meet.example.org/x"));
    assert!(!s.matches("jean@auth.meet.example.org/x"));
    assert!(!s.matches("recorder.meet.example.org"));
    assert!(!s.matches("x@sub.recorder.meet.example.org/r"));
    assert!(!ServiceAccounts::default().matches("a@b/c"));
    let mut config = Config::default();
    config.xmpp = Some(crate::config::XmppConfig { jid: "bot@auth.x".into(), ..Default::default() });
    config.presence.ignore_jids = vec!["jigasi@auth.x".into()];
    let s = ServiceAccounts::from_config(&config);
    assert!(s.matches("bot@auth.x/r") && s.matches("jigasi@auth.x/r") && !s.matches("jean@auth.x/r"));
}

#[test]
fn replays_and_late_events_change_nothing() {
    let c = conn();
    let o = occupant("g@m/1", None, Some("guest@example.com"), START, Some(START + 900));
    let left = event(Kind::OccupantLeft, "", Some(o.clone()));
    let joined = event(Kind::OccupantJoined, "", Some(Occupant { left_at: None, ..o }));
    // The leave first, then the join, then both again.
    assert_eq!(record(&c, &left, WINDOW, START + 901).unwrap(), Outcome::Recorded { stays: 1 });
    assert_eq!(record(&c, &joined, WINDOW, START + 902).unwrap(), Outcome::Recorded { stays: 0 });
    assert_eq!(record(&c, &left, WINDOW, START + 903).unwrap(), Outcome::Recorded { stays: 0 });
    assert_eq!(repo::count_for(&c, "meeting0000000000001").unwrap(), 1);
    assert_eq!(report(&c, START + 3600).of(3), Attendance { seconds: 900, here_now: false });
}

#[test]
fn a_room_used_on_another_day_is_not_this_meeting() {
    let c = conn();
    let day = 86_400;
    let e = event(Kind::OccupantJoined, "", Some(occupant("g@m/1", None, None, START + day, None)));
    assert_eq!(record(&c, &e, WINDOW, START + day).unwrap(), Outcome::Ignored(Ignored::OutsideWindow));
    let e = event(Kind::OccupantLeft, "", Some(occupant("g@m/1", None, None, START - day, Some(START - day + 60))));
    assert_eq!(record(&c, &e, WINDOW, START).unwrap(), Outcome::Ignored(Ignored::OutsideWindow));
    let mut e = event(Kind::OccupantJoined, "", Some(occupant("g@m/1", None, None, START, None)));
    e.room = Some("jdupont".into());
    assert_eq!(record(&c, &e, WINDOW, START).unwrap(), Outcome::Ignored(Ignored::UnknownRoom));
    // Early arrivals count from the window's start only; open stays up to its end.
    let e = event(Kind::OccupantJoined, "", Some(occupant("g@m/1", None, None, START - 7200, None)));
    assert_eq!(record(&c, &e, WINDOW, START).unwrap(), Outcome::Recorded { stays: 1 });
    assert_eq!(
        report(&c, START + day).unknown[0].attendance,
        Attendance { seconds: 3600 + 3600 + 7200, here_now: false }
    );
}

/// The statement behind the list's "N in the meeting now" reads the partial index by meeting: its cost
/// follows the meeting's open stays, never the table (as the list's own statements, see
/// `booking::repo`'s plan test).
#[test]
fn the_list_count_searches_the_open_stays_index() {
    let c = conn();
    for i in 0..50 {
        let o = occupant(&format!("g{i}@m/1"), None, None, START, (i % 2 == 0).then_some(START + 60));
        record(&c, &event(Kind::OccupantJoined, "", Some(o)), WINDOW, START).unwrap();
    }
    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {}", repo::PRESENT_NOW_SQL)).unwrap();
    let plan: Vec<String> =
        stmt.query_map(rusqlite::params![0, 0], |r| r.get::<_, String>(3)).unwrap().collect::<Result<_, _>>().unwrap();
    assert!(plan.iter().all(|d| !d.starts_with("SCAN")), "{plan:#?}");
    assert!(plan.iter().any(|d| d.contains("presence_open") && d.contains("meeting_id=?")), "{plan:#?}");
}
