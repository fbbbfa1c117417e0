//! What every viewer of a meeting's calendar event sees alike, rendered once per change: the one owner
//! of the `event_renderings` table.
//!
//! A calendar shows each event with every attendee and their answer, and only the description and the
//! join link are the viewer's own (see [`crate::calendar::event`]). Rendering all of it for every
//! viewer made a cold calendar read every attendee row of every event (a random B-tree look-up each)
//! and write every `ATTENDEE` line again: most of its cost, for bytes identical in every attendee's
//! calendar. So the shared lines ([`ics::write_event_shared`]) are kept per meeting, written by
//! [`Renderer`], a hook run inside each booking change's transaction; a calendar reads one row per
//! event and adds the viewer's lines ([`write_viewer_event`]).
//!
//! The table is a cache of `meetings` and `attendees`, never the truth: a missing row, or one of an
//! older [`FORMAT`], is rendered from those tables when read (meetings stored by a former release, an
//! import, a write that bypassed the hooks), and [`backfill`] fills such gaps in the background. Its
//! content depends on no setting and not on the time, so a configuration change never makes it stale.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::event::{self, Viewing};
use crate::booking::model::{MeetingDetails, PartStat, Role};
use crate::booking::repo;
use crate::events::{Change, Hook, HookError};
use crate::ics;

/// Version of what a row holds; rows of another version are rendered again. Bump it whenever the
/// shared lines would be written differently.
pub const FORMAT: i64 = 2;

/// The shared part of one meeting's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    /// From `UID` to the last `ATTENDEE` line, folded, CRLF line ends.
    pub lines: String,
    /// The `VALARM` description.
    pub alarm_text: String,
    /// When the meeting or an answer last changed (before alarms passing, which depend on the time).
    pub changed_at: DateTime<Utc>,
}

/// Renders the shared part of `d`.
pub fn shared_of(d: &MeetingDetails) -> Shared {
    let event = event::shared(d);
    let mut lines = String::with_capacity(256 + d.attendees.len() * 128);
    ics::write_event_shared(&mut lines, &event);
    Shared { lines, alarm_text: ics::alarm_text(&d.meeting.subject).into_owned(), changed_at: event::changed_at(d) }
}

/// Stores the shared part of `d` (replacing the previous one).
pub fn save(conn: &Connection, d: &MeetingDetails) -> rusqlite::Result<()> {
    let shared = shared_of(d);
    conn.prepare_cached(
        "INSERT INTO event_renderings (meeting_id, format, shared, alarm_text, changed_at, ical_uid, room,
                                       start_at, end_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (meeting_id) DO UPDATE SET format = excluded.format, shared = excluded.shared,
             alarm_text = excluded.alarm_text, changed_at = excluded.changed_at, ical_uid = excluded.ical_uid,
             room = excluded.room, start_at = excluded.start_at, end_at = excluded.end_at",
    )?
    .execute(params![
        d.meeting.id,
        FORMAT,
        shared.lines,
        shared.alarm_text,
        shared.changed_at.timestamp(),
        d.meeting.ical_uid,
        d.meeting.room,
        d.meeting.start.timestamp(),
        d.meeting.end().timestamp()
    ])?;
    Ok(())
}

/// The hook that renders a meeting's shared part whenever the meeting or an answer changes, in the
/// same transaction. A deleted meeting's row goes with it (`ON DELETE CASCADE`).
pub struct Renderer;

impl Hook for Renderer {
    fn name(&self) -> &'static str {
        "event-renderings"
    }

    fn on_change(&self, tx: &Transaction<'_>, change: &Change<'_>, _now: DateTime<Utc>) -> Result<(), HookError> {
        match change {
            Change::Created { meeting } | Change::Answered { meeting, .. } => save(tx, meeting)?,
            Change::Updated { after, .. } => save(tx, after)?,
            Change::Deleted { .. }
            | Change::Joined { .. }
            | Change::NoteChanged { .. }
            | Change::UserAddressChanged { .. } => {}
        }
        Ok(())
    }
}

/// What one [`backfill`] batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Meetings looked at: fewer than the limit when the pass is over.
    pub looked: usize,
    /// Meetings whose lines were rendered and stored.
    pub rendered: usize,
    /// The last id looked at: the next batch's `after`.
    pub last: String,
}

/// Renders the shared part of each meeting still shown in calendars (ending after `since`) whose part
/// is missing or of another format, among the `limit` meetings whose ids sort first after `after`. A
/// pass runs batch after batch from `after = ""` until a batch looks at fewer than `limit`, reading
/// each meeting once (the background fill, and after an import).
pub fn backfill(conn: &Connection, since: DateTime<Utc>, after: &str, limit: usize) -> rusqlite::Result<Batch> {
    let rows: Vec<(String, bool)> = conn
        .prepare_cached(
            "SELECT m.id, m.end_at > ?1 AND (r.meeting_id IS NULL OR r.format <> ?2)
             FROM meetings m LEFT JOIN event_renderings r ON r.meeting_id = m.id
             WHERE m.id > ?3 ORDER BY m.id LIMIT ?4",
        )?
        .query_map(params![since.timestamp(), FORMAT, after, i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut rendered = 0;
    for (id, _) in rows.iter().filter(|(_, missing)| *missing) {
        if let Some(d) = repo::details_by_id(conn, id)? {
            save(conn, &d)?;
            rendered += 1;
        }
    }
    Ok(Batch { looked: rows.len(), rendered, last: rows.last().map(|(id, _)| id.clone()).unwrap_or_default() })
}

/// A whole [`backfill`] pass in the caller's transaction; returns how many meetings it rendered.
pub fn backfill_all(conn: &Connection, since: DateTime<Utc>) -> rusqlite::Result<usize> {
    const LIMIT: usize = 1000;
    let (mut after, mut rendered) = (String::new(), 0);
    loop {
        let batch = backfill(conn, since, &after, LIMIT)?;
        rendered += batch.rendered;
        if batch.looked < LIMIT {
            return Ok(rendered);
        }
        after = batch.last;
    }
}

/// One event of a user's calendar as read for rendering: the meeting's times, the viewer's row and the
/// stored shared part.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub meeting_id: String,
    pub ical_uid: String,
    pub room: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The viewer's role, personal token and answer.
    pub role: Role,
    pub token: String,
    pub partstat: PartStat,
    /// `None` when missing or of another format: see [`complete`].
    pub shared: Option<Shared>,
}

/// The columns [`stored_row`] reads, for the meetings a user owns (times and identifiers from `meetings`)
/// and for those they are invited to (from the stored part: `meetings` is not read).
const OWNED_COLUMNS: &str = "m.id, m.ical_uid, m.room, m.start_at, m.end_at, v.role, v.token, v.partstat, \
     r.format, r.shared, r.alarm_text, r.changed_at";
const INVITED_COLUMNS: &str = "v.meeting_id, r.ical_uid, r.room, r.start_at, r.end_at, v.role, v.token, \
     v.partstat, r.format, r.shared, r.alarm_text, r.changed_at";

/// One event as [`OWNED_COLUMNS`] or [`INVITED_COLUMNS`] read it. Without a current stored part, the
/// meeting's identifiers and times may be missing too: [`complete`] reads them with the rendering.
fn stored_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    let time =
        |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> { Ok(row.get::<_, Option<i64>>(i)?.map(repo::from_ts)) };
    let format: Option<i64> = row.get(8)?;
    let (ical_uid, room, start, end): (Option<String>, Option<String>, _, _) =
        (row.get(1)?, row.get(2)?, time(3)?, time(4)?);
    let shared = match (format, &ical_uid, &room, start, end) {
        (Some(FORMAT), Some(_), Some(_), Some(_), Some(_)) => {
            Some(Shared { lines: row.get(9)?, alarm_text: row.get(10)?, changed_at: repo::from_ts(row.get(11)?) })
        }
        _ => None,
    };
    Ok(StoredEvent {
        meeting_id: row.get(0)?,
        ical_uid: ical_uid.unwrap_or_default(),
        room: room.unwrap_or_default(),
        start: start.unwrap_or_default(),
        end: end.unwrap_or_default(),
        role: repo::role_column(row, 5)?,
        token: row.get(6)?,
        partstat: repo::partstat_column(row, 7)?,
        shared,
    })
}

/// The two statements of [`calendar_events`]: what the user owns (`?1` uid) by the owner index, what
/// they are invited to (`?1` address) by the address index, which carries each meeting's end and the
/// invitation's role, answer and token; both take `?2` the end bound.
fn calendar_sql() -> (String, String) {
    (
        format!(
            "SELECT {OWNED_COLUMNS} FROM meetings m
             JOIN attendees v ON v.meeting_id = m.id AND v.role = 'owner'
             LEFT JOIN event_renderings r ON r.meeting_id = m.id
             WHERE m.owner_uid = ?1 AND m.end_at > ?2"
        ),
        format!(
            "SELECT {INVITED_COLUMNS} FROM attendees v
             LEFT JOIN event_renderings r ON r.meeting_id = v.meeting_id
             WHERE v.mail = ?1 AND v.end_at > ?2"
        ),
    )
}

/// The events of the calendar of user `uid` (primary address `mail`) ending after `since`, sorted by
/// start then meeting id: the meetings they own, with their owner row, and those they are invited to by
/// address (but do not own), with that invitation (the same rows as [`MeetingDetails::row_for`] picks).
/// Each statement reads one range of an index plus the stored part of each event; events without a
/// current stored part are rendered from the tables ([`complete`]).
pub fn calendar_events(
    conn: &Connection,
    uid: &str,
    mail: &str,
    since: DateTime<Utc>,
) -> rusqlite::Result<Vec<StoredEvent>> {
    let (owned, invited) = calendar_sql();
    let since = since.timestamp();
    let mut out: Vec<StoredEvent> =
        conn.prepare_cached(&owned)?.query_map(params![uid, since], stored_row)?.collect::<rusqlite::Result<_>>()?;
    let owned_ids: std::collections::HashSet<String> = out.iter().map(|e| e.meeting_id.clone()).collect();
    let mut stmt = conn.prepare_cached(&invited)?;
    for row in stmt.query_map(params![mail, since], stored_row)? {
        let row = row?;
        // An invitation to one's own meeting: it is shown once, as its owner.
        if !owned_ids.contains(&row.meeting_id) {
            out.push(row);
        }
    }
    complete(conn, &mut out)?;
    out.sort_unstable_by(|a, b| (a.start, &a.meeting_id).cmp(&(b.start, &b.meeting_id)));
    Ok(out)
}

/// Renders the shared part of every event read without a current one, from the meetings and attendees
/// tables (in the caller's read transaction), with the meeting's identifiers and times.
fn complete(conn: &Connection, events: &mut [StoredEvent]) -> rusqlite::Result<()> {
    for e in events.iter_mut().filter(|e| e.shared.is_none()) {
        if let Some(d) = repo::details_by_id(conn, &e.meeting_id)? {
            e.ical_uid.clone_from(&d.meeting.ical_uid);
            e.room.clone_from(&d.meeting.room);
            (e.start, e.end) = (d.meeting.start, d.meeting.end());
            e.shared = Some(shared_of(&d));
        }
    }
    Ok(())
}

/// Appends the event `e` as its viewer sees it: [`ics::EVENT_BEGIN`], the shared lines, the viewer's
/// lines (revision dates, description, join link) and the alarms still ahead. Identical to what
/// [`ics::write_event`] writes for [`event::for_viewer`]'s event. Returns the event's last
/// modification as written, or `None`, writing nothing, when `e` has no shared part (its meeting
/// vanished between the reads).
pub fn write_viewer_event(out: &mut String, e: &StoredEvent, v: &Viewing<'_>) -> Option<DateTime<Utc>> {
    let shared = e.shared.as_ref()?;
    let join_url = event::join_url_of(v.base_url, &e.room, e.role, &e.token);
    let description = event::description(&v.tr, &join_url, &event::answer_url_of(v.base_url, &e.token));
    let last_modified = event::with_passed_alarms(shared.changed_at, e.start, v.alarm_minutes, v.now);
    out.push_str(ics::EVENT_BEGIN);
    out.push_str(&shared.lines);
    ics::write_event_personal(
        out,
        &ics::Personal { dtstamp: last_modified, last_modified, description: &description, join_url: &join_url },
    );
    ics::write_alarms(out, e.start, v.alarm_minutes, &shared.alarm_text, v.now);
    out.push_str(ics::EVENT_END);
    Some(last_modified)
}

/// The stored shared part of meeting `id`, if current (for tests and checks).
pub fn stored(conn: &Connection, id: &str) -> rusqlite::Result<Option<Shared>> {
    conn.query_row(
        "SELECT shared, alarm_text, changed_at FROM event_renderings WHERE meeting_id = ?1 AND format = ?2",
        params![id, FORMAT],
        |r| Ok(Shared { lines: r.get(0)?, alarm_text: r.get(1)?, changed_at: repo::from_ts(r.get(2)?) }),
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::model::{Attendee, Meeting};
    use crate::booking::repo::tests::{assert_searches_only_what_the_user_has, attendee, conn, meeting};
    use crate::i18n::{Lang, Tr};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn person(id: i64, role: Role, mail: &str, name: &str, partstat: PartStat, answered: Option<&str>) -> Attendee {
        Attendee {
            id,
            meeting_id: "m1".into(),
            role,
            mail: mail.into(),
            name: name.into(),
            token: format!("token-{id}-0000000000000000"),
            partstat,
            answered_at: answered.map(at),
            join_count: 0,
            first_join: None,
            last_join: None,
            note: String::new(),
        }
    }

    fn details(subject: &str) -> MeetingDetails {
        MeetingDetails {
            meeting: Meeting {
                id: "m1".into(),
                ical_uid: "m1@meet.example.org".into(),
                room: "abcdefghijklmnop".into(),
                subject: subject.into(),
                start: at("2026-12-05T09:00:00Z"),
                duration_min: 90,
                owner_uid: "jdupont".into(),
                created: at("2026-12-01T08:00:00Z"),
                updated: at("2026-12-01T08:30:00Z"),
                sequence: 3,
            },
            attendees: vec![
                person(1, Role::Owner, "jean@x.org", "Jean \"JD\" Dupont", PartStat::Accepted, None),
                person(
                    2,
                    Role::Moderator,
                    "mod@y.org",
                    "Doe, Bob; ^boss^",
                    PartStat::Tentative,
                    Some("2026-12-02T10:00:00Z"),
                ),
                person(3, Role::Guest, "g@z.org", "", PartStat::NeedsAction, None),
                person(
                    4,
                    Role::Guest,
                    "no@z.org",
                    "Zoë Ångström-Ñúñez de la Très Longue Famille Étendue",
                    PartStat::Declined,
                    Some("2026-12-03T07:00:00Z"),
                ),
            ],
        }
    }

    fn stored_event(d: &MeetingDetails, mine: &Attendee) -> StoredEvent {
        StoredEvent {
            meeting_id: d.meeting.id.clone(),
            ical_uid: d.meeting.ical_uid.clone(),
            room: d.meeting.room.clone(),
            start: d.meeting.start,
            end: d.meeting.end(),
            role: mine.role,
            token: mine.token.clone(),
            partstat: mine.partstat,
            shared: Some(shared_of(d)),
        }
    }

    /// The stored lines plus each viewer's own give, byte for byte, the event the one mapping
    /// (`event::for_viewer`) and the one writer produce: for every viewer, language, and with alarms
    /// ahead, partly passed and all passed, for plain and hostile subjects.
    #[test]
    fn stored_lines_and_the_viewers_own_are_the_full_rendering() {
        let long = format!("Point\r\nsur; la \\ \"suite\", {}", "très long ".repeat(40));
        for subject in ["Réunion d'équipe", long.as_str(), "", "\u{7}\u{85}"] {
            let d = details(subject);
            for lang in [Lang::Fr, Lang::En] {
                for now in
                    ["2026-12-01T00:00:00Z", "2026-12-05T08:00:00Z", "2026-12-05T08:55:00Z", "2026-12-06T00:00:00Z"]
                {
                    let v = Viewing {
                        base_url: "https://meet.example.org",
                        tr: Tr::new(lang, chrono_tz::Europe::Paris),
                        alarm_minutes: &[10, 60, 1440, 60],
                        now: at(now),
                    };
                    for mine in &d.attendees {
                        let mut expected = String::new();
                        ics::write_event(&mut expected, &event::for_viewer(&d, mine, &v), v.now);
                        let mut actual = String::new();
                        let modified = write_viewer_event(&mut actual, &stored_event(&d, mine), &v);
                        assert_eq!(modified, Some(event::last_modified(&d, v.alarm_minutes, v.now)));
                        assert_eq!(actual, expected, "viewer {} at {now} in {lang:?}, subject {subject:?}", mine.mail);
                    }
                }
            }
        }
    }

    #[test]
    fn an_event_without_stored_lines_is_not_written() {
        let d = details("x");
        let mut e = stored_event(&d, &d.attendees[0]);
        e.shared = None;
        let mut out = String::new();
        let v = Viewing {
            base_url: "https://m",
            tr: Tr::new(Lang::Fr, chrono_tz::Europe::Paris),
            alarm_minutes: &[],
            now: at("2026-12-01T00:00:00Z"),
        };
        assert_eq!(write_viewer_event(&mut out, &e, &v), None);
        assert!(out.is_empty());
    }

    /// A calendar reads each event with the viewer's own row (the owner row for what they own, their
    /// invitation otherwise), the stored lines when current, and renders the others from the tables.
    #[test]
    fn calendar_events_pick_the_viewers_row_and_fall_back_to_the_tables() {
        let c = conn();
        let now = at("2026-12-01T00:00:00Z");
        let mut ids = Vec::new();
        for (i, (owner, start)) in
            [("owner", "2026-12-07T09:00:00Z"), ("other", "2026-12-05T09:00:00Z"), ("other", "2026-12-06T09:00:00Z")]
                .into_iter()
                .enumerate()
        {
            let mut m = meeting(&format!("meeting{i:011}"), &format!("roomroomroomr{i:03}"), start);
            m.owner_uid = owner.into();
            repo::insert_meeting(&c, &m).unwrap();
            let owner_mail = if owner == "owner" { "o@x.org" } else { "other@x.org" };
            repo::insert_attendee(&c, &attendee(&m.id, Role::Owner, owner_mail, &format!("tok-owner-{i:010}")), now)
                .unwrap();
            if owner != "owner" {
                repo::insert_attendee(&c, &attendee(&m.id, Role::Guest, "o@x.org", &format!("tok-guest-{i:010}")), now)
                    .unwrap();
            }
            repo::insert_attendee(&c, &attendee(&m.id, Role::Guest, "g@x.org", &format!("tok-third-{i:010}")), now)
                .unwrap();
            ids.push(m.id);
        }
        // Stored lines for the first two; the third as a former release left it (none), the second
        // replaced by an older format.
        for id in &ids[..2] {
            save(&c, &repo::details_by_id(&c, id).unwrap().unwrap()).unwrap();
        }
        c.execute("UPDATE event_renderings SET format = format - 1, shared = 'stale' WHERE meeting_id = ?1", [&ids[1]])
            .unwrap();
        assert_eq!(stored(&c, &ids[1]).unwrap(), None, "another format counts as missing");

        // The stale and the missing ones (both invitations: their times come from the fallback) are
        // sorted among the others.
        let events = calendar_events(&c, "owner", "o@x.org", now).unwrap();
        let order: Vec<&str> = events.iter().map(|e| e.meeting_id.as_str()).collect();
        assert_eq!(order, [ids[1].as_str(), ids[2].as_str(), ids[0].as_str()], "sorted by start");
        for e in &events {
            let d = repo::details_by_id(&c, &e.meeting_id).unwrap().unwrap();
            let mine = d.row_for("owner", "o@x.org").unwrap();
            assert_eq!((e.role, e.token.as_str()), (mine.role, mine.token.as_str()));
            assert_eq!(e.shared.as_ref(), Some(&shared_of(&d)));
            assert_eq!((&e.ical_uid, &e.room), (&d.meeting.ical_uid, &d.meeting.room));
            assert_eq!((e.start, e.end), (d.meeting.start, d.meeting.end()));
        }
        // Someone else sees none of the owner's rows.
        let theirs = calendar_events(&c, "g", "g@x.org", now).unwrap();
        assert!(theirs.iter().all(|e| e.role == Role::Guest && e.token.starts_with("tok-third-")));
        assert_eq!(theirs.len(), 3);
        // Ended meetings before `since` are left out.
        assert!(calendar_events(&c, "owner", "o@x.org", at("2027-01-01T00:00:00Z")).unwrap().is_empty());

        // The background fill renders exactly the missing and outdated ones, then nothing; in batches
        // that each look at the meetings after the previous one's last.
        let current = |c: &Connection| -> Vec<String> {
            let mut s =
                c.prepare("SELECT meeting_id FROM event_renderings WHERE format = ?1 ORDER BY meeting_id").unwrap();
            s.query_map([FORMAT], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
        };
        assert_eq!(current(&c), [ids[0].clone()]);
        let first = backfill(&c, now, "", 2).unwrap();
        assert_eq!(first, Batch { looked: 2, rendered: 1, last: ids[1].clone() });
        assert_eq!(current(&c), [ids[0].clone(), ids[1].clone()]);
        let second = backfill(&c, now, &first.last, 2).unwrap();
        assert_eq!(second, Batch { looked: 1, rendered: 1, last: ids[2].clone() });
        assert_eq!(backfill(&c, now, "", 10).unwrap(), Batch { looked: 3, rendered: 0, last: ids[2].clone() });
        assert_eq!(backfill_all(&c, now).unwrap(), 0);
        for id in &ids {
            let d = repo::details_by_id(&c, id).unwrap().unwrap();
            assert_eq!(stored(&c, id).unwrap(), Some(shared_of(&d)));
        }
        // Deleting a meeting deletes its lines.
        c.execute("DELETE FROM meetings WHERE id = ?1", [&ids[0]]).unwrap();
        assert_eq!(stored(&c, &ids[0]).unwrap(), None);
        let left: i64 = c.query_row("SELECT COUNT(*) FROM event_renderings", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 2);
    }

    /// Each invitation carries its meeting's end: set by jmb's inserts, filled in for other writers,
    /// moved with the meeting; a calendar's window follows it.
    #[test]
    fn invitations_carry_their_meetings_end() {
        let c = conn();
        let now = at("2026-12-01T00:00:00Z");
        let m = meeting("meeting00000000001", "roomroomroomr001", "2026-12-05T09:00:00Z");
        repo::insert_meeting(&c, &m).unwrap();
        repo::insert_attendee(&c, &attendee(&m.id, Role::Owner, "o@x.org", "tok-owner-0000000001"), now).unwrap();
        repo::insert_attendee(&c, &attendee(&m.id, Role::Guest, "g@x.org", "tok-guest-0000000001"), now).unwrap();
        c.execute(
            "INSERT INTO attendees (meeting_id, role, mail, name, token, partstat, created_at)
             VALUES (?1, 'guest', 'raw@x.org', '', 'tok-raw-00000000001', 0, 0)",
            [&m.id],
        )
        .unwrap();
        let ends = |c: &Connection| -> Vec<i64> {
            let mut s = c.prepare("SELECT end_at FROM attendees ORDER BY id").unwrap();
            s.query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
        };
        assert_eq!(ends(&c), vec![m.end().timestamp(); 3]);
        let shown =
            |c: &Connection, mail: &str, since: &str| calendar_events(c, "nobody", mail, at(since)).unwrap().len();
        assert_eq!(shown(&c, "raw@x.org", "2026-12-05T00:00:00Z"), 1);
        // Moved 40 days later: every invitation follows, and the calendar's window with it.
        c.execute(
            "UPDATE meetings SET start_at = start_at + 3456000, end_at = end_at + 3456000 WHERE id = ?1",
            [&m.id],
        )
        .unwrap();
        assert_eq!(ends(&c), vec![m.end().timestamp() + 3_456_000; 3]);
        assert_eq!(shown(&c, "g@x.org", "2027-01-10T00:00:00Z"), 1);
        assert_eq!(shown(&c, "g@x.org", "2027-01-20T00:00:00Z"), 0);
        // Other changes leave them alone.
        c.execute("UPDATE meetings SET subject = 'x' WHERE id = ?1", [&m.id]).unwrap();
        assert_eq!(ends(&c), vec![m.end().timestamp() + 3_456_000; 3]);
    }

    #[test]
    fn calendar_statements_never_scan() {
        let c = conn();
        let now = at("2026-12-10T00:00:00Z");
        for i in 0..50 {
            let m = meeting(&format!("meeting{i:011}"), &format!("roomroomroomr{i:03}"), "2026-12-11T09:00:00Z");
            repo::insert_meeting(&c, &m).unwrap();
            repo::insert_attendee(&c, &attendee(&m.id, Role::Owner, "o@x.org", &format!("tok-owner-{i:010}")), now)
                .unwrap();
            save(&c, &repo::details_by_id(&c, &m.id).unwrap().unwrap()).unwrap();
        }
        let (owned, invited) = calendar_sql();
        assert_searches_only_what_the_user_has(&c, "calendar, owned", &owned);
        assert_searches_only_what_the_user_has(&c, "calendar, invited", &invited);
        // Invitations: one range of the address index, bounded by the end, and never `meetings`.
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {invited}"))
            .unwrap()
            .query_map(params!["x", 0], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(plan.iter().any(|d| d.contains("attendees_by_mail (mail=? AND end_at>?)")), "{plan:#?}");
        assert!(!plan.iter().any(|d| d.contains(" m ") || d.contains("meetings")), "{plan:#?}");
    }
}
