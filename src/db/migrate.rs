//! Embedded migrations, applied in order and tracked in SQLite's `user_version`.
//!
//! A database newer than this binary is refused rather than used half-understood.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use super::DbError;

/// Every migration, in order. Append only; see `migrations/README.md`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_calendar.sql"),
    include_str!("../../migrations/0003_answers_and_calendar_clock.sql"),
    include_str!("../../migrations/0004_mail.sql"),
    include_str!("../../migrations/0005_site_scale.sql"),
    include_str!("../../migrations/0006_attendee_note.sql"),
    include_str!("../../migrations/0007_presence.sql"),
    include_str!("../../migrations/0008_room_warnings.sql"),
    include_str!("../../migrations/0009_event_renderings.sql"),
    include_str!("../../migrations/0010_calendar_window.sql"),
    include_str!("../../migrations/0011_cheaper_checks.sql"),
];

fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// Applies pending migrations; refuses a database written by a newer jmb.
pub fn apply(conn: &mut Connection) -> Result<(), DbError> {
    check_version(conn)?;
    migrations().to_latest(conn).map_err(|e| DbError::Migration(e.to_string()))
}

/// Refuses a database written by a newer jmb, changing nothing.
pub fn check_version(conn: &Connection) -> Result<(), DbError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > MIGRATIONS.len() as i64 {
        return Err(DbError::Migration(format!(
            "the database is at schema version {current}, newer than this jmb knows ({}); refusing to downgrade",
            MIGRATIONS.len()
        )));
    }
    Ok(())
}

/// The schema version this binary brings.
pub fn latest_version() -> usize {
    MIGRATIONS.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid_and_idempotent() {
        assert!(migrations().validate().is_ok());
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn).unwrap();
        apply(&mut conn).unwrap();
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v as usize, latest_version());
    }

    /// A database in use before this release's migrations (version 4, with bookings) is upgraded with
    /// every row kept: attendees gain an empty note, the redundant index goes, the file stays sound.
    #[test]
    fn a_version_4_database_with_bookings_upgrades_without_losing_a_row() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrations().to_version(&mut conn, 4).unwrap();
        conn.execute_batch(
            "INSERT INTO users (uid, mail, name, feed_token, created_at, updated_at)
                 VALUES ('jdupont', 'jean@x.org', 'Jean', 'feedtokenfeedtoken01', 1, 1);
             INSERT INTO meetings (id, ical_uid, room, subject, start_at, duration_min, end_at, owner_uid,
                                   created_at, updated_at)
                 VALUES ('meeting000000000001', 'm1@h', 'abcdefghijklmnop', 'Point', 3600, 60, 7200, 'jdupont', 1, 1);
             INSERT INTO attendees (meeting_id, role, mail, name, token, partstat, created_at)
                 VALUES ('meeting000000000001', 'owner', 'jean@x.org', '', 'token-owner-000000001', 1, 1),
                        ('meeting000000000001', 'guest', 'g@y.org', 'G', 'token-guest-000000001', 2, 1);",
        )
        .unwrap();
        apply(&mut conn).unwrap();
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version as usize, latest_version());
        let rows: Vec<(String, i64, String)> = conn
            .prepare("SELECT mail, partstat, note FROM attendees ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows, vec![("jean@x.org".into(), 1, String::new()), ("g@y.org".into(), 2, String::new())]);
        let subject: String = conn.query_row("SELECT subject FROM meetings", [], |r| r.get(0)).unwrap();
        assert_eq!(subject, "Point");
        // Each invitation carries its meeting's end (0010).
        let ends: Vec<i64> = conn
            .prepare("SELECT end_at FROM attendees ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(ends, [7200, 7200]);
        let index: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'attendees_by_meeting'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(index, 0);
        // Presence (0007) hangs off meetings and attendees: a removed invitation leaves its stays
        // (as a participant not invited), a removed meeting takes them along.
        conn.execute_batch(
            "INSERT INTO presence_sessions (meeting_id, attendee_id, participant, occupant_jid, joined_at, left_at)
                 VALUES ('meeting000000000001', 2, 'a:2', 'g@guest/1', 3600, 3700),
                        ('meeting000000000001', NULL, 'j:x@guest', 'x@guest/1', 3600, NULL);
             DELETE FROM attendees WHERE mail = 'g@y.org';",
        )
        .unwrap();
        let orphans: i64 = conn
            .query_row("SELECT COUNT(*) FROM presence_sessions WHERE attendee_id IS NULL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(orphans, 2);
        assert!(
            conn.execute(
                "INSERT INTO presence_sessions (meeting_id, participant, occupant_jid, joined_at, left_at)
                          VALUES ('meeting000000000001', 'j:y', 'y/1', 3600, 3500)",
                []
            )
            .is_err(),
            "a stay ends after it begins"
        );
        conn.execute("DELETE FROM meetings", []).unwrap();
        let left: i64 = conn.query_row("SELECT COUNT(*) FROM presence_sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0);
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(integrity, "ok");
        let dangling: i64 = conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
        assert_eq!(dangling, 0);
    }

    /// 0011 rebuilds attendees and outbox with cheaper CHECKs: every row, id and link survives (stays in
    /// meetings keep their invitation, mail ids are not reused), the constraints refuse what they
    /// refused, the triggers still keep each invitation's end, and writing a row builds no temporary
    /// B-tree any more.
    #[test]
    fn the_rebuilt_tables_keep_rows_links_and_constraints() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrations().to_version(&mut conn, 10).unwrap();
        conn.execute_batch(
            "INSERT INTO meetings (id, ical_uid, room, subject, start_at, duration_min, end_at, owner_uid,
                                   created_at, updated_at)
                 VALUES ('meeting000000000001', 'm1@h', 'abcdefghijklmnop', 'Point', 3600, 60, 7200, 'jdupont', 1, 1);
             INSERT INTO attendees (id, meeting_id, role, mail, name, token, partstat, created_at, note)
                 VALUES (7, 'meeting000000000001', 'owner', 'jean@x.org', '', 'token-owner-000000001', 1, 1, ''),
                        (9, 'meeting000000000001', 'guest', 'g@y.org', 'G', 'token-guest-000000001', 3, 1, 'late');
             INSERT INTO presence_sessions (meeting_id, attendee_id, participant, occupant_jid, joined_at)
                 VALUES ('meeting000000000001', 9, 'a:9', 'g@guest/1', 3600);
             INSERT INTO outbox_snapshots (id, meeting) VALUES (1, '{}');
             INSERT INTO outbox (id, kind, meeting_id, owner_uid, message_id, envelope_from, recipients, subject,
                                 snapshot_id, notice, created_at, queued_at, status, next_attempt_at)
                 VALUES (40, 'invitation', 'meeting000000000001', 'jdupont', '<1@h>', 'f@h', 'g@y.org', 'S', 1,
                         '{}', 1, 1, 'sent', 1),
                        (41, 'invitation', 'meeting000000000001', 'jdupont', '<2@h>', 'f@h', 'g@y.org', 'S', 1,
                         '{}', 1, 1, 'pending', 1);
             DELETE FROM outbox WHERE id = 41;",
        )
        .unwrap();
        // A stay whose invitation was removed by hand with foreign keys off: the upgrade neither fails on it
        // nor changes it.
        conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
        conn.execute_batch(
            "INSERT INTO presence_sessions (meeting_id, attendee_id, participant, occupant_jid, joined_at)
                 VALUES ('meeting000000000001', 99, 'a:99', 'gone@guest/1', 3600);",
        )
        .unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        apply(&mut conn).unwrap();
        let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, String>(0)).unwrap();
        assert_eq!(
            one("SELECT group_concat(id || ':' || partstat || ':' || note || ':' || end_at, ' ') FROM attendees"),
            "7:1::7200 9:3:late:7200"
        );
        assert_eq!(
            one("SELECT group_concat(participant || ':' || ifnull(attendee_id, '-'), ' ') FROM presence_sessions"),
            "a:9:9 a:99:99",
            "a stay keeps its invitation; one whose invitation was already gone is left as it was"
        );
        // Dropping the old table cleared the stays of each invitation through this index, not a scan.
        let plan: String = conn
            .query_row("EXPLAIN QUERY PLAN SELECT id FROM presence_sessions WHERE attendee_id = 9", [], |r| r.get(3))
            .unwrap();
        assert!(plan.contains("presence_by_attendee"), "{plan}");
        assert_eq!(one("SELECT group_concat(id || ':' || status) FROM outbox"), "40:sent");
        conn.execute(
            "INSERT INTO outbox (kind, message_id, envelope_from, recipients, subject, snapshot_id, notice, created_at,
                                 queued_at, next_attempt_at)
                 VALUES ('reminder', '<3@h>', 'f@h', 'g@y.org', 'S', 1, '{}', 1, 1, 1)",
            [],
        )
        .unwrap();
        assert_eq!(conn.last_insert_rowid(), 42, "a pruned mail's id is not given again");
        for bad in [
            "UPDATE attendees SET role = 'boss' WHERE id = 7",
            "UPDATE attendees SET partstat = 4 WHERE id = 7",
            "UPDATE attendees SET partstat = -1 WHERE id = 7",
            "UPDATE outbox SET status = 'lost' WHERE id = 40",
        ] {
            let refused = conn.execute(bad, []).unwrap_err().to_string();
            assert!(refused.contains("CHECK constraint failed"), "{bad}: {refused}");
        }
        // The triggers came back: an end filled on insert, moved with its meeting.
        conn.execute_batch(
            "INSERT INTO attendees (meeting_id, role, mail, token, created_at)
                 VALUES ('meeting000000000001', 'moderator', 'm@y.org', 'token-moder-000000001', 1);
             UPDATE meetings SET start_at = 7200, end_at = 10800;",
        )
        .unwrap();
        assert_eq!(one("SELECT group_concat(DISTINCT end_at) FROM attendees"), "10800");
        let indexes = one("SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master
             WHERE type IN ('index', 'trigger') AND tbl_name IN ('attendees', 'outbox', 'meetings') ORDER BY name)");
        assert_eq!(
            indexes,
            "attendees_by_mail attendees_end_on_insert attendees_end_on_move attendees_one_owner meetings_by_end \
             meetings_by_owner meetings_by_start outbox_answers outbox_by_owner outbox_by_snapshot outbox_by_status \
             outbox_due sqlite_autoindex_attendees_1 sqlite_autoindex_attendees_2 sqlite_autoindex_meetings_1 \
             sqlite_autoindex_meetings_2 sqlite_autoindex_meetings_3 sqlite_autoindex_outbox_1"
        );
        for insert in [
            "INSERT INTO attendees (meeting_id, role, mail, token, partstat, created_at, end_at) VALUES (?1, ?1, ?1, ?1, 0, 1, 1)",
            "INSERT INTO outbox (kind, message_id, envelope_from, recipients, subject, snapshot_id, notice, created_at,
                                 queued_at, next_attempt_at) VALUES (?1, ?1, ?1, ?1, ?1, 1, ?1, 1, 1, 1)",
        ] {
            let ops: Vec<String> = conn
                .prepare(&format!("EXPLAIN {insert}"))
                .unwrap()
                .query_map(["x"], |r| r.get(1))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(!ops.iter().any(|op| op == "OpenEphemeral"), "{insert}: a temporary B-tree per row");
        }
        assert_eq!(one("PRAGMA integrity_check"), "ok");
        let dangling = one("SELECT group_concat(\"table\" || ':' || rowid) FROM pragma_foreign_key_check");
        assert_eq!(dangling, "presence_sessions:2", "only the stay broken by hand before");
    }

    #[test]
    fn newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(apply(&mut conn).unwrap_err().to_string().contains("refusing to downgrade"));
    }
}
