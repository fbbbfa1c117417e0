//! Every SQL statement about bookings (the `meetings`, `attendees` and `private_rooms` tables, which
//! this module alone owns), as synchronous functions over a connection or a transaction. All
//! statements are parameterised; rows are read through private `…Row` helpers into domain types.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::model::{Attendee, Meeting, MeetingDetails, PartStat, Role};

pub type Result<T> = std::result::Result<T, rusqlite::Error>;

pub(crate) fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(crate) fn from_ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

const MEETING_COLUMNS: &str = "m.id, m.ical_uid, m.room, m.subject, m.start_at, m.duration_min, m.owner_uid, m.created_at, m.updated_at, m.sequence";

fn meeting_row(row: &Row<'_>) -> Result<Meeting> {
    Ok(Meeting {
        id: row.get(0)?,
        ical_uid: row.get(1)?,
        room: row.get(2)?,
        subject: row.get(3)?,
        start: from_ts(row.get(4)?),
        duration_min: row.get(5)?,
        owner_uid: row.get(6)?,
        created: from_ts(row.get(7)?),
        updated: from_ts(row.get(8)?),
        sequence: row.get(9)?,
    })
}

const ATTENDEE_COLUMNS: &str = "a.id, a.meeting_id, a.role, a.mail, a.name, a.token, a.partstat, a.answered_at, \
     a.join_count, a.first_join_at, a.last_join_at, a.note";

fn attendee_row(row: &Row<'_>) -> Result<Attendee> {
    attendee_row_at(row, 0)
}

/// An attendee read from [`ATTENDEE_COLUMNS`] starting at column `at` (after a meeting's columns in a
/// join).
fn attendee_row_at(row: &Row<'_>, at: usize) -> Result<Attendee> {
    let role: String = row.get(at + 2)?;
    Ok(Attendee {
        id: row.get(at)?,
        meeting_id: row.get(at + 1)?,
        role: Role::parse(&role).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                at + 2,
                rusqlite::types::Type::Text,
                format!("role {role}").into(),
            )
        })?,
        mail: row.get(at + 3)?,
        name: row.get(at + 4)?,
        token: row.get(at + 5)?,
        partstat: PartStat::from_code(row.get(at + 6)?),
        answered_at: row.get::<_, Option<i64>>(at + 7)?.map(from_ts),
        join_count: row.get(at + 8)?,
        first_join: row.get::<_, Option<i64>>(at + 9)?.map(from_ts),
        last_join: row.get::<_, Option<i64>>(at + 10)?.map(from_ts),
        note: row.get(at + 11)?,
    })
}

/// Number of columns in [`MEETING_COLUMNS`].
const MEETING_COLUMN_COUNT: usize = 10;

// ---- meetings ----

pub fn insert_meeting(conn: &Connection, m: &Meeting) -> Result<()> {
    crate::db::exec(
        conn,
        "INSERT INTO meetings (id, ical_uid, room, subject, start_at, duration_min, end_at, owner_uid,
                               created_at, updated_at, sequence)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            m.id,
            m.ical_uid,
            m.room,
            m.subject,
            ts(m.start),
            m.duration_min,
            ts(m.end()),
            m.owner_uid,
            ts(m.created),
            ts(m.updated),
            m.sequence
        ],
    )?;
    Ok(())
}

/// Rewrites the meeting's own fields (not its attendees).
pub fn update_meeting(conn: &Connection, m: &Meeting) -> Result<()> {
    crate::db::exec(
        conn,
        "UPDATE meetings SET subject = ?2, start_at = ?3, duration_min = ?4, end_at = ?5, updated_at = ?6,
                             sequence = ?7
         WHERE id = ?1",
        params![m.id, m.subject, ts(m.start), m.duration_min, ts(m.end()), ts(m.updated), m.sequence],
    )?;
    Ok(())
}

/// Deletes the meeting; its attendees go with it (ON DELETE CASCADE).
pub fn delete_meeting(conn: &Connection, id: &str) -> Result<bool> {
    Ok(crate::db::exec(conn, "DELETE FROM meetings WHERE id = ?1", [id])? > 0)
}

/// Whether a booked meeting uses `room` (a uid's private room is checked by the caller).
pub fn room_in_use(conn: &Connection, room: &str) -> Result<bool> {
    crate::db::one(conn, "SELECT EXISTS (SELECT 1 FROM meetings WHERE room = ?1)", [room], |r| r.get(0))
}

pub fn meeting_by_id(conn: &Connection, id: &str) -> Result<Option<Meeting>> {
    crate::db::one(conn, &format!("SELECT {MEETING_COLUMNS} FROM meetings m WHERE m.id = ?1"), [id], meeting_row)
        .optional()
}

pub fn meeting_by_room(conn: &Connection, room: &str) -> Result<Option<Meeting>> {
    crate::db::one(conn, &format!("SELECT {MEETING_COLUMNS} FROM meetings m WHERE m.room = ?1"), [room], meeting_row)
        .optional()
}

/// Attendees of one meeting: owner, then moderators, then guests, each in invitation order.
pub fn attendees_of(conn: &Connection, meeting_id: &str) -> Result<Vec<Attendee>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ATTENDEE_COLUMNS} FROM attendees a WHERE a.meeting_id = ?1
         ORDER BY CASE a.role WHEN 'owner' THEN 0 WHEN 'moderator' THEN 1 ELSE 2 END, a.id"
    ))?;
    let rows = stmt.query_map([meeting_id], attendee_row)?;
    rows.collect()
}

pub fn details_by_id(conn: &Connection, id: &str) -> Result<Option<MeetingDetails>> {
    with_attendees(conn, meeting_by_id(conn, id)?)
}

pub fn details_by_room(conn: &Connection, room: &str) -> Result<Option<MeetingDetails>> {
    with_attendees(conn, meeting_by_room(conn, room)?)
}

fn with_attendees(conn: &Connection, meeting: Option<Meeting>) -> Result<Option<MeetingDetails>> {
    match meeting {
        Some(meeting) => {
            let attendees = attendees_of(conn, &meeting.id)?;
            Ok(Some(MeetingDetails { meeting, attendees }))
        }
        None => Ok(None),
    }
}

/// The attendee holding a personal-link token, with their meeting.
pub fn by_token(conn: &Connection, token: &str) -> Result<Option<(Meeting, Attendee)>> {
    crate::db::one(
        conn,
        &format!(
            "SELECT {MEETING_COLUMNS}, {ATTENDEE_COLUMNS} FROM attendees a JOIN meetings m ON m.id = a.meeting_id
             WHERE a.token = ?1"
        ),
        [token],
        |row| Ok((meeting_row(row)?, attendee_row_at(row, MEETING_COLUMN_COUNT)?)),
    )
    .optional()
}

/// An attendee row by id, with its meeting.
pub fn attendee_by_id(conn: &Connection, id: i64) -> Result<Option<(Meeting, Attendee)>> {
    crate::db::one(
        conn,
        &format!(
            "SELECT {MEETING_COLUMNS}, {ATTENDEE_COLUMNS} FROM attendees a JOIN meetings m ON m.id = a.meeting_id
             WHERE a.id = ?1"
        ),
        [id],
        |row| Ok((meeting_row(row)?, attendee_row_at(row, MEETING_COLUMN_COUNT)?)),
    )
    .optional()
}

/// The meetings in a user's calendar, with all their attendees, in one query: every role (by mail, or
/// as owner by uid), not ended before `since`, by start.
pub fn calendar_meetings(
    conn: &Connection,
    uid: &str,
    mail: &str,
    since: DateTime<Utc>,
) -> Result<Vec<MeetingDetails>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MEETING_COLUMNS}, {ATTENDEE_COLUMNS} FROM meetings m JOIN attendees a ON a.meeting_id = m.id
         WHERE m.id IN (SELECT meeting_id FROM attendees WHERE mail = ?1 UNION SELECT id FROM meetings WHERE owner_uid = ?2)
           AND m.end_at > ?3
         ORDER BY m.start_at, m.id, CASE a.role WHEN 'owner' THEN 0 WHEN 'moderator' THEN 1 ELSE 2 END, a.id"
    ))?;
    let mut rows = stmt.query(params![mail, uid, ts(since)])?;
    let mut out: Vec<MeetingDetails> = Vec::new();
    while let Some(row) = rows.next()? {
        let attendee = attendee_row_at(row, MEETING_COLUMN_COUNT)?;
        match out.last_mut() {
            Some(d) if d.meeting.id == attendee.meeting_id => d.attendees.push(attendee),
            _ => out.push(MeetingDetails { meeting: meeting_row(row)?, attendees: vec![attendee] }),
        }
    }
    Ok(out)
}

/// Which meetings to list.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Not yet ended, by start ascending.
    Upcoming { now: DateTime<Utc> },
    /// Ended after `since`, by start descending, one page.
    Archived { now: DateTime<Utc>, since: DateTime<Utc>, limit: u32, offset: u32 },
}

/// A listed meeting with the viewer's own attendee row.
#[derive(Debug, Clone)]
pub struct Listed {
    pub details: MeetingDetails,
    pub mine: Attendee,
}

/// Meetings where the user (by mail, or as owner by uid) has any role.
pub fn list_for_user(conn: &Connection, uid: &str, mail: &str, scope: Scope) -> Result<Vec<Listed>> {
    let (cond, order, limit, offset, a, b) = match scope {
        Scope::Upcoming { now } => ("m.end_at > ?3", "m.start_at ASC, m.id", -1i64, 0i64, ts(now), 0),
        Scope::Archived { now, since, limit, offset } => (
            "m.end_at <= ?3 AND m.end_at > ?4",
            "m.start_at DESC, m.id",
            i64::from(limit),
            i64::from(offset),
            ts(now),
            ts(since),
        ),
    };
    // The owner row carries the owner's mail at booking time; match on uid too in case it changed.
    let sql = format!(
        "SELECT {ATTENDEE_COLUMNS} FROM attendees a JOIN meetings m ON m.id = a.meeting_id
         WHERE (a.mail = ?1 OR (a.role = 'owner' AND m.owner_uid = ?2)) AND {cond}
         GROUP BY m.id
         ORDER BY {order} LIMIT ?5 OFFSET ?6"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mine: Vec<Attendee> =
        stmt.query_map(params![mail, uid, a, b, limit, offset], attendee_row)?.collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(mine.len());
    for mine in mine {
        if let Some(details) = details_by_id(conn, &mine.meeting_id)? {
            out.push(Listed { details, mine });
        }
    }
    Ok(out)
}

/// Number of archived meetings (for pagination).
pub fn count_archived(
    conn: &Connection,
    uid: &str,
    mail: &str,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
) -> Result<u32> {
    crate::db::one(
        conn,
        "SELECT COUNT(DISTINCT m.id) FROM attendees a JOIN meetings m ON m.id = a.meeting_id
         WHERE (a.mail = ?1 OR (a.role = 'owner' AND m.owner_uid = ?2)) AND m.end_at <= ?3 AND m.end_at > ?4",
        params![mail, uid, ts(now), ts(since)],
        |r| r.get(0),
    )
}

// ---- attendees ----

pub struct NewAttendee<'a> {
    pub meeting_id: &'a str,
    pub role: Role,
    pub mail: &'a str,
    pub name: &'a str,
    pub token: &'a str,
    pub partstat: PartStat,
}

pub fn insert_attendee(conn: &Connection, a: &NewAttendee<'_>, now: DateTime<Utc>) -> Result<i64> {
    crate::db::exec(
        conn,
        "INSERT INTO attendees (meeting_id, role, mail, name, token, partstat, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![a.meeting_id, a.role.as_str(), a.mail, a.name, a.token, a.partstat.code(), ts(now)],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn update_attendee_role(conn: &Connection, id: i64, role: Role, name: &str) -> Result<()> {
    crate::db::exec(conn, "UPDATE attendees SET role = ?2, name = ?3 WHERE id = ?1", params![id, role.as_str(), name])?;
    Ok(())
}

pub fn delete_attendee(conn: &Connection, id: i64) -> Result<()> {
    crate::db::exec(conn, "DELETE FROM attendees WHERE id = ?1", [id])?;
    Ok(())
}

pub fn set_partstat(conn: &Connection, id: i64, partstat: PartStat, now: DateTime<Utc>) -> Result<()> {
    crate::db::exec(
        conn,
        "UPDATE attendees SET partstat = ?2, answered_at = ?3 WHERE id = ?1",
        params![id, partstat.code(), ts(now)],
    )?;
    Ok(())
}

/// Sets the note an invitee left for the organiser (empty: none).
pub fn set_note(conn: &Connection, id: i64, note: &str) -> Result<()> {
    crate::db::exec(conn, "UPDATE attendees SET note = ?2 WHERE id = ?1", params![id, note])?;
    Ok(())
}

/// Counts one use of a personal link.
pub fn record_join(conn: &Connection, id: i64, now: DateTime<Utc>) -> Result<()> {
    crate::db::exec(
        conn,
        "UPDATE attendees SET join_count = join_count + 1, first_join_at = COALESCE(first_join_at, ?2),
                              last_join_at = ?2
         WHERE id = ?1",
        params![id, ts(now)],
    )?;
    Ok(())
}

/// Counts one use of a private room.
pub fn record_private_room_use(conn: &Connection, uid: &str, now: DateTime<Utc>) -> Result<()> {
    crate::db::exec(
        conn,
        "INSERT INTO private_rooms (uid, use_count, last_used_at) VALUES (?1, 1, ?2)
         ON CONFLICT (uid) DO UPDATE SET use_count = use_count + 1, last_used_at = excluded.last_used_at",
        params![uid, ts(now)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "foreign_keys", "ON").unwrap();
        crate::db::migrate::apply(&mut c).unwrap();
        c
    }

    fn meeting(id: &str, room: &str, start: &str) -> Meeting {
        let start: DateTime<Utc> = start.parse().unwrap();
        Meeting {
            id: id.into(),
            ical_uid: format!("{id}@h"),
            room: room.into(),
            subject: "l'équipe \"x\"; DROP TABLE meetings; --".into(),
            start,
            duration_min: 60,
            owner_uid: "owner".into(),
            created: start,
            updated: start,
            sequence: 0,
        }
    }

    fn attendee<'a>(meeting_id: &'a str, role: Role, mail: &'a str, token: &'a str) -> NewAttendee<'a> {
        NewAttendee { meeting_id, role, mail, name: "", token, partstat: PartStat::NeedsAction }
    }

    #[test]
    fn round_trip_and_constraints() {
        let c = conn();
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let m = meeting("meeting00000000001", "abcdefghijklmnop", "2026-12-05T09:00:00Z");
        insert_meeting(&c, &m).unwrap();
        assert_eq!(meeting_by_id(&c, &m.id).unwrap().unwrap(), m);
        assert_eq!(meeting_by_room(&c, "abcdefghijklmnop").unwrap().unwrap().id, m.id);
        assert!(room_in_use(&c, "abcdefghijklmnop").unwrap());
        // UNIQUE room
        let mut dup = meeting("meeting00000000002", "abcdefghijklmnop", "2026-12-05T09:00:00Z");
        assert!(insert_meeting(&c, &dup).is_err());
        dup.room = "Uppercaseroomname".into();
        assert!(insert_meeting(&c, &dup).is_err(), "rooms are lower-case");

        insert_attendee(&c, &attendee(&m.id, Role::Owner, "o@x.org", "tok-owner-0000000000"), now).unwrap();
        let g = insert_attendee(&c, &attendee(&m.id, Role::Guest, "g@x.org", "tok-guest-0000000000"), now).unwrap();
        // UNIQUE (meeting, mail), UNIQUE token, one owner, lower-case mail
        assert!(
            insert_attendee(&c, &attendee(&m.id, Role::Moderator, "g@x.org", "tok-other-0000000000"), now).is_err()
        );
        assert!(insert_attendee(&c, &attendee(&m.id, Role::Guest, "h@x.org", "tok-guest-0000000000"), now).is_err());
        assert!(insert_attendee(&c, &attendee(&m.id, Role::Owner, "p@x.org", "tok-owner-0000000001"), now).is_err());
        assert!(insert_attendee(&c, &attendee(&m.id, Role::Guest, "G2@x.org", "tok-guest-0000000002"), now).is_err());

        set_partstat(&c, g, PartStat::Accepted, now).unwrap();
        record_join(&c, g, now).unwrap();
        record_join(&c, g, now + chrono::Duration::minutes(5)).unwrap();
        let (_, a) = by_token(&c, "tok-guest-0000000000").unwrap().unwrap();
        assert_eq!((a.partstat, a.join_count), (PartStat::Accepted, 2));
        assert_eq!(a.first_join, Some(now));
        assert_eq!(a.last_join, Some(now + chrono::Duration::minutes(5)));

        let d = details_by_id(&c, &m.id).unwrap().unwrap();
        assert_eq!(d.attendees.iter().map(|a| a.role).collect::<Vec<_>>(), vec![Role::Owner, Role::Guest]);

        assert!(delete_meeting(&c, &m.id).unwrap());
        assert!(by_token(&c, "tok-guest-0000000000").unwrap().is_none(), "attendees cascade");
    }

    #[test]
    fn listing_scopes() {
        let c = conn();
        let now: DateTime<Utc> = "2026-12-10T00:00:00Z".parse().unwrap();
        for (i, start) in ["2026-12-01T09:00:00Z", "2026-12-12T09:00:00Z", "2026-12-11T09:00:00Z"].iter().enumerate() {
            let m = meeting(&format!("meeting0000000000{i}"), &format!("roomroomroomroom{i}"), start);
            insert_meeting(&c, &m).unwrap();
            insert_attendee(&c, &attendee(&m.id, Role::Owner, "o@x.org", &format!("tok-owner-000000000{i}")), now)
                .unwrap();
            insert_attendee(&c, &attendee(&m.id, Role::Guest, "g@x.org", &format!("tok-guest-000000000{i}")), now)
                .unwrap();
        }
        let up = list_for_user(&c, "someone", "g@x.org", Scope::Upcoming { now }).unwrap();
        assert_eq!(
            up.iter().map(|l| l.details.meeting.id.as_str()).collect::<Vec<_>>(),
            ["meeting00000000002", "meeting00000000001"]
        );
        assert_eq!(up[0].mine.role, Role::Guest);
        let owner_view = list_for_user(&c, "owner", "changed@x.org", Scope::Upcoming { now }).unwrap();
        assert_eq!(owner_view.len(), 2, "owner found by uid");
        let since = now - chrono::Duration::days(365);
        let arch = list_for_user(&c, "x", "g@x.org", Scope::Archived { now, since, limit: 10, offset: 0 }).unwrap();
        assert_eq!(arch.len(), 1);
        assert_eq!(count_archived(&c, "x", "g@x.org", now, since).unwrap(), 1);
        assert!(list_for_user(&c, "x", "nobody@x.org", Scope::Upcoming { now }).unwrap().is_empty());
    }
}
