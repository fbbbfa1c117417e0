//! Every SQL statement about presence (the `presence_sessions` table, which this module alone owns).
//! Parameterised, synchronous, over a connection or the caller's transaction.

use rusqlite::{Connection, params};

pub type Result<T> = std::result::Result<T, rusqlite::Error>;

/// One stay to record: one connection in one room of a meeting, from `joined_at` to `left_at`.
#[derive(Debug, Clone)]
pub struct NewStay<'a> {
    pub meeting_id: &'a str,
    pub attendee_id: Option<i64>,
    pub participant: &'a str,
    pub room: &'a str,
    pub occupant_jid: &'a str,
    pub name: &'a str,
    pub mail: &'a str,
    pub joined_at: i64,
    pub left_at: Option<i64>,
}

/// Records a stay once: a stay already known (same meeting, connection, room and join time) keeps
/// its row, and a known end is only ever moved earlier (the end a room's destruction filled in gives
/// way to the occupant's own leave). Returns whether a row was added or changed.
pub fn upsert_stay(conn: &Connection, s: &NewStay<'_>) -> Result<bool> {
    let changed = crate::db::exec(
        conn,
        "INSERT INTO presence_sessions
             (meeting_id, attendee_id, participant, room, occupant_jid, name, mail, joined_at, left_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (meeting_id, occupant_jid, room, joined_at) DO UPDATE SET
             left_at = excluded.left_at
         WHERE excluded.left_at IS NOT NULL AND (left_at IS NULL OR excluded.left_at < left_at)",
        params![
            s.meeting_id,
            s.attendee_id,
            s.participant,
            s.room,
            s.occupant_jid,
            s.name,
            s.mail,
            s.joined_at,
            s.left_at
        ],
    )?;
    Ok(changed > 0)
}

/// Ends the open stays of one connection in one room that began by `left_at`.
pub fn close_connection(
    conn: &Connection,
    meeting_id: &str,
    occupant_jid: &str,
    room: &str,
    left_at: i64,
) -> Result<usize> {
    crate::db::exec(
        conn,
        "UPDATE presence_sessions SET left_at = ?4
         WHERE meeting_id = ?1 AND occupant_jid = ?2 AND room = ?3 AND left_at IS NULL AND joined_at <= ?4",
        params![meeting_id, occupant_jid, room, left_at],
    )
}

/// Ends every open stay of a meeting that began by `at`: in one breakout room (`room`), or, for the
/// main room (`room` empty), in all of them (breakout rooms end with their main room).
pub fn close_room(conn: &Connection, meeting_id: &str, room: &str, at: i64) -> Result<usize> {
    crate::db::exec(
        conn,
        "UPDATE presence_sessions SET left_at = ?3
         WHERE meeting_id = ?1 AND left_at IS NULL AND joined_at <= ?3 AND (?2 = '' OR room = ?2)",
        params![meeting_id, room, at],
    )
}

/// A recorded stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StayRow {
    pub attendee_id: Option<i64>,
    pub participant: String,
    pub name: String,
    pub mail: String,
    pub joined_at: i64,
    pub left_at: Option<i64>,
}

/// Every stay of a meeting, by join time.
pub fn stays_of(conn: &Connection, meeting_id: &str) -> Result<Vec<StayRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT attendee_id, participant, name, mail, joined_at, left_at FROM presence_sessions
         WHERE meeting_id = ?1 ORDER BY joined_at, id",
    )?;
    let rows = stmt.query_map([meeting_id], |r| {
        Ok(StayRow {
            attendee_id: r.get(0)?,
            participant: r.get(1)?,
            name: r.get(2)?,
            mail: r.get(3)?,
            joined_at: r.get(4)?,
            left_at: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// The statement behind [`present_now`] (its plan is tested).
pub const PRESENT_NOW_SQL: &str = "SELECT COUNT(DISTINCT participant) FROM presence_sessions
     WHERE meeting_id = ?1 AND left_at IS NULL AND joined_at <= ?2";

/// How many participants are in a meeting's rooms at `now` (each counted once, whatever their
/// connections): the stays still open. Reads the `presence_open` index only.
pub fn present_now(conn: &Connection, meeting_id: &str, now: i64) -> Result<u32> {
    crate::db::one(conn, PRESENT_NOW_SQL, params![meeting_id, now], |r| r.get(0))
}

/// Number of stays recorded for a meeting (tests, `jmb purge` counts).
pub fn count_for(conn: &Connection, meeting_id: &str) -> Result<usize> {
    crate::db::one(conn, "SELECT COUNT(*) FROM presence_sessions WHERE meeting_id = ?1", [meeting_id], |r| {
        r.get::<_, i64>(0).map(|n| n as usize)
    })
}
