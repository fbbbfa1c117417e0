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
    Ok(Attendee {
        id: row.get(at)?,
        meeting_id: row.get(at + 1)?,
        role: role_column(row, at + 2)?,
        mail: row.get(at + 3)?,
        name: row.get(at + 4)?,
        token: row.get(at + 5)?,
        partstat: partstat_column(row, at + 6)?,
        answered_at: row.get::<_, Option<i64>>(at + 7)?.map(from_ts),
        join_count: row.get(at + 8)?,
        first_join: row.get::<_, Option<i64>>(at + 9)?.map(from_ts),
        last_join: row.get::<_, Option<i64>>(at + 10)?.map(from_ts),
        note: row.get(at + 11)?,
    })
}

/// An attendee's role read from column `i`.
pub(crate) fn role_column(row: &Row<'_>, i: usize) -> Result<Role> {
    let role: String = row.get(i)?;
    Role::parse(&role).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, format!("role {role}").into())
    })
}

/// An attendee's answer read from column `i`.
pub(crate) fn partstat_column(row: &Row<'_>, i: usize) -> Result<PartStat> {
    Ok(PartStat::from_code(row.get(i)?))
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
        "SELECT {ATTENDEE_COLUMNS} FROM attendees a WHERE a.meeting_id = ?1 ORDER BY {ATTENDEE_ORDER}"
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

/// The meetings `meetings_sql` lists, in its order, each with the attendees `attendees_sql` returns
/// for it (both statements take `params`), attendees in the pages' order.
///
/// Two statements rather than one join: a join repeats every meeting's columns on each attendee's
/// row and, to order the result, sorts all of those wide rows; here SQLite sorts only the meetings,
/// and the attendees are put in order in memory.
fn with_attendees_of(
    conn: &Connection,
    meetings_sql: &str,
    attendees_sql: &str,
    params: impl rusqlite::Params + Copy,
) -> Result<Vec<MeetingDetails>> {
    let mut out: Vec<MeetingDetails> = conn
        .prepare_cached(meetings_sql)?
        .query_map(params, |row| Ok(MeetingDetails { meeting: meeting_row(row)?, attendees: Vec::new() }))?
        .collect::<Result<_>>()?;
    let index: std::collections::HashMap<String, usize> =
        out.iter().enumerate().map(|(i, d)| (d.meeting.id.clone(), i)).collect();
    let mut stmt = conn.prepare_cached(attendees_sql)?;
    let mut rows = stmt.query(params)?;
    while let Some(row) = rows.next()? {
        let attendee = attendee_row(row)?;
        if let Some(&i) = index.get(&attendee.meeting_id) {
            out[i].attendees.push(attendee);
        }
    }
    for d in &mut out {
        d.attendees.sort_unstable_by_key(|a| (role_rank(a.role), a.id));
    }
    Ok(out)
}

/// Where a role's attendees come in the pages' order (see [`ATTENDEE_ORDER`]).
fn role_rank(role: Role) -> u8 {
    match role {
        Role::Owner => 0,
        Role::Moderator => 1,
        Role::Guest => 2,
    }
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

/// The meetings of a user: attended by mail, or owned by uid (the owner row carries the owner's address
/// at booking time; it may have changed since). A `UNION` of two indexed look-ups (`attendees_by_mail`,
/// `meetings_by_owner`): an `OR` across the two tables made SQLite scan every meeting.
const MY_MEETING_IDS: &str =
    "SELECT meeting_id FROM attendees WHERE mail = ?1 UNION SELECT id FROM meetings WHERE owner_uid = ?2";

/// Attendees in the order pages show them: owner, moderators, guests, each in invitation order.
const ATTENDEE_ORDER: &str = "CASE a.role WHEN 'owner' THEN 0 WHEN 'moderator' THEN 1 ELSE 2 END, a.id";

/// Meetings where the user (by mail, or as owner by uid) has any role, with all their attendees, in one
/// query whose cost follows the user's own meetings, not the size of the store.
pub fn list_for_user(conn: &Connection, uid: &str, mail: &str, scope: Scope) -> Result<Vec<Listed>> {
    let (limit, offset, a, b) = match scope {
        Scope::Upcoming { now } => (-1i64, 0i64, ts(now), 0),
        Scope::Archived { now, since, limit, offset } => (i64::from(limit), i64::from(offset), ts(now), ts(since)),
    };
    let (meetings, attendees) = list_sql(scope);
    let details = with_attendees_of(conn, &meetings, &attendees, params![mail, uid, a, b, limit, offset])?;
    Ok(details
        .into_iter()
        .filter_map(|details| {
            let mine = details.row_for(uid, mail)?.clone();
            Some(Listed { details, mine })
        })
        .collect())
}

/// The statements of [`list_for_user`]: one page of the user's meetings (two indexed look-ups), then
/// the attendees of that page. Callers read both in one transaction.
fn list_sql(scope: Scope) -> (String, String) {
    let (cond, order) = match scope {
        Scope::Upcoming { .. } => ("end_at > ?3", "start_at, id"),
        Scope::Archived { .. } => ("end_at <= ?3 AND end_at > ?4", "start_at DESC, id"),
    };
    let page = format!("WHERE id IN ({MY_MEETING_IDS}) AND {cond} ORDER BY {order} LIMIT ?5 OFFSET ?6");
    (
        format!("SELECT {MEETING_COLUMNS} FROM meetings m {page}"),
        format!("SELECT {ATTENDEE_COLUMNS} FROM attendees a WHERE a.meeting_id IN (SELECT id FROM meetings {page})"),
    )
}

/// Number of archived meetings (for pagination).
pub fn count_archived(
    conn: &Connection,
    uid: &str,
    mail: &str,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
) -> Result<u32> {
    crate::db::one(conn, &count_archived_sql(), params![mail, uid, ts(now), ts(since)], |r| r.get(0))
}

fn count_archived_sql() -> String {
    format!("SELECT COUNT(*) FROM meetings WHERE id IN ({MY_MEETING_IDS}) AND end_at <= ?3 AND end_at > ?4")
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
        "INSERT INTO attendees (meeting_id, role, mail, name, token, partstat, created_at, end_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT end_at FROM meetings WHERE id = ?1))",
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

// ---- imports (`jmb import-legacy`) and retention (`jmb purge`) ----

/// An attendee row brought from the original JMB: its link secret, answer and join count as they were.
pub fn insert_imported_attendee(
    conn: &Connection,
    a: &NewAttendee<'_>,
    join_count: u32,
    created: DateTime<Utc>,
) -> Result<i64> {
    crate::db::exec(
        conn,
        "INSERT INTO attendees (meeting_id, role, mail, name, token, partstat, join_count, created_at, end_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, (SELECT end_at FROM meetings WHERE id = ?1))",
        params![a.meeting_id, a.role.as_str(), a.mail, a.name, a.token, a.partstat.code(), join_count, ts(created)],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Whether a personal-link secret is already used by some invitation.
pub fn token_in_use(conn: &Connection, token: &str) -> Result<bool> {
    crate::db::one(conn, "SELECT EXISTS (SELECT 1 FROM attendees WHERE token = ?1)", [token], |r| r.get(0))
}

/// Brings a private room's counters from the original: the larger count and the later date win, so
/// importing twice changes nothing. Returns whether the row changed.
pub fn merge_private_room(conn: &Connection, uid: &str, count: u32, last_used: DateTime<Utc>) -> Result<bool> {
    Ok(crate::db::exec(
        conn,
        "INSERT INTO private_rooms (uid, use_count, last_used_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (uid) DO UPDATE SET use_count = MAX(use_count, excluded.use_count),
                                         last_used_at = MAX(last_used_at, excluded.last_used_at)
         WHERE use_count < excluded.use_count OR last_used_at < excluded.last_used_at",
        params![uid, count, ts(last_used)],
    )? > 0)
}

/// Imported meetings whose owner was known only by address carry `placeholder` as owner: the person
/// with that address takes them over when they first sign in (the original identified owners by
/// address too). Returns how many meetings changed hands.
pub fn claim_meetings(conn: &Connection, placeholder: &str, uid: &str) -> Result<usize> {
    crate::db::exec(conn, "UPDATE meetings SET owner_uid = ?2 WHERE owner_uid = ?1", params![placeholder, uid])
}

/// Ids of the meetings that ended before `before`, oldest first, at most `limit`.
pub fn ended_before(conn: &Connection, before: DateTime<Utc>, limit: u32) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM meetings WHERE end_at < ?1 ORDER BY end_at, id LIMIT ?2")?;
    let rows = stmt.query_map(params![ts(before), limit], |r| r.get(0))?;
    rows.collect()
}

/// Ids and ends of the meetings that end after `after`.
pub fn ending_after(conn: &Connection, after: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
    let mut stmt = conn.prepare_cached("SELECT id, end_at FROM meetings WHERE end_at > ?1 ORDER BY end_at, id")?;
    let rows = stmt.query_map(params![ts(after)], |r| Ok((r.get(0)?, from_ts(r.get(1)?))))?;
    rows.collect()
}

/// Ids and starts of the meetings that start after `after`.
pub fn starting_after(conn: &Connection, after: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, start_at FROM meetings WHERE start_at > ?1 ORDER BY start_at, id")?;
    let rows = stmt.query_map(params![ts(after)], |r| Ok((r.get(0)?, from_ts(r.get(1)?))))?;
    rows.collect()
}

/// Private-room counters last used before `before` (their tracking is personal data too).
pub fn delete_private_rooms_unused_since(conn: &Connection, before: DateTime<Utc>) -> Result<usize> {
    crate::db::exec(conn, "DELETE FROM private_rooms WHERE last_used_at < ?1", [ts(before)])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "foreign_keys", "ON").unwrap();
        crate::db::migrate::apply(&mut c).unwrap();
        c
    }

    pub(crate) fn meeting(id: &str, room: &str, start: &str) -> Meeting {
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

    pub(crate) fn attendee<'a>(meeting_id: &'a str, role: Role, mail: &'a str, token: &'a str) -> NewAttendee<'a> {
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

    /// Every statement that lists meetings for a user reaches them through indexes: its cost follows
    /// what the user has, not the size of the store (a full `SCAN` of meetings or attendees made the
    /// list page take a second at 100 000 meetings). Checked on the plans SQLite chooses without
    /// statistics, as on a site that never ran `ANALYZE`.
    #[test]
    fn list_statements_never_scan_meetings_or_attendees() {
        let c = conn();
        let now: DateTime<Utc> = "2026-12-10T00:00:00Z".parse().unwrap();
        for i in 0..50 {
            let m = meeting(&format!("meeting{i:011}"), &format!("roomroomroomr{i:03}"), "2026-12-11T09:00:00Z");
            insert_meeting(&c, &m).unwrap();
            insert_attendee(&c, &attendee(&m.id, Role::Owner, "o@x.org", &format!("tok-owner-{i:010}")), now).unwrap();
            insert_attendee(&c, &attendee(&m.id, Role::Guest, "g@x.org", &format!("tok-guest-{i:010}")), now).unwrap();
        }
        let since = now - chrono::Duration::days(365);
        let pair = |what: &'static str, (meetings, attendees): (String, String)| [(what, meetings), (what, attendees)];
        let statements = [
            pair("upcoming list", list_sql(Scope::Upcoming { now })),
            pair("archive page", list_sql(Scope::Archived { now, since, limit: 20, offset: 0 })),
            [
                ("archive count", count_archived_sql()),
                ("attendees of a meeting", "SELECT * FROM attendees WHERE meeting_id = ?1".into()),
            ],
        ];
        for (what, sql) in statements.into_iter().flatten() {
            assert_searches_only_what_the_user_has(&c, what, &sql);
        }
    }

    /// Asserts that `sql`'s plan reaches meetings, attendees and stored event lines only through
    /// indexes, by what a user has (their meetings' ids, their uid, their address): never a full `SCAN`
    /// of those tables, nor a range over the whole site (`end_at > ?` on every meeting).
    pub(crate) fn assert_searches_only_what_the_user_has(c: &Connection, what: &str, sql: &str) {
        const TABLES: [&str; 7] = ["m", "a", "v", "r", "meetings", "attendees", "event_renderings"];
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let params: Vec<&dyn rusqlite::ToSql> =
            (0..stmt.parameter_count()).map(|_| &0 as &dyn rusqlite::ToSql).collect();
        let plan: Vec<String> =
            stmt.query_map(params.as_slice(), |r| r.get::<_, String>(3)).unwrap().collect::<Result<_>>().unwrap();
        assert!(plan.iter().any(|d| d.starts_with("SEARCH")), "{what}: {plan:#?}");
        for detail in &plan {
            let scanned = detail.strip_prefix("SCAN ").map(|rest| rest.split(' ').next().unwrap_or_default());
            assert!(!scanned.is_some_and(|t| TABLES.contains(&t)), "{what} scans a table: {detail}\n{plan:#?}");
            let table = detail.strip_prefix("SEARCH ").map(|rest| rest.split(' ').next().unwrap_or_default());
            if table.is_some_and(|t| TABLES.contains(&t)) {
                assert!(
                    ["(id=?", "(owner_uid=?", "(mail=?", "(meeting_id=?"].iter().any(|k| detail.contains(k)),
                    "{what} searches by something the user does not own: {detail}\n{plan:#?}"
                );
            }
        }
    }
}
