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

    #[test]
    fn newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(apply(&mut conn).unwrap_err().to_string().contains("refusing to downgrade"));
    }
}
