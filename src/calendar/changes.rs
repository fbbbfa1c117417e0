//! The calendar change log. Every booking change bumps the version (`ctag`) of each affected user's
//! calendar and records which object changed at which version; `sync-collection` reads it back.
//! Called inside the booking operations' transactions.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::booking::repo::{self, ts};

/// The users (uids) whose calendars show a meeting with these attendee addresses and this owner.
pub fn users_for(conn: &Connection, mails: &[&str], owner_uid: &str) -> rusqlite::Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let mut stmt = conn.prepare_cached("SELECT uid FROM users WHERE mail = ?1")?;
    for mail in mails {
        for uid in stmt.query_map([mail], |r| r.get::<_, String>(0))? {
            out.insert(uid?);
        }
    }
    if repo::uid_exists(conn, owner_uid)? {
        out.insert(owner_uid.to_string());
    }
    Ok(out)
}

/// Records that `object_name` changed (or disappeared) in each of these users' calendars.
pub fn touch(
    conn: &Connection,
    uids: &BTreeSet<String>,
    object_name: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let mut bump = conn.prepare_cached(
        "INSERT INTO calendar_state (uid, ctag) VALUES (?1, 1)
         ON CONFLICT (uid) DO UPDATE SET ctag = ctag + 1
         RETURNING ctag",
    )?;
    let mut log = conn
        .prepare_cached("INSERT INTO calendar_changes (uid, object_name, ctag, changed_at) VALUES (?1, ?2, ?3, ?4)")?;
    for uid in uids {
        let ctag: i64 = bump.query_row([uid], |r| r.get(0))?;
        log.execute(params![uid, object_name, ctag, ts(now)])?;
    }
    Ok(())
}

/// Invalidates every sync token of a user (their calendar's content changed wholesale, e.g. their
/// mail address changed): the next sync starts over.
pub fn reset(conn: &Connection, uid: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO calendar_state (uid, ctag, oldest_ctag) VALUES (?1, 1, 1)
         ON CONFLICT (uid) DO UPDATE SET ctag = ctag + 1, oldest_ctag = ctag + 1",
        [uid],
    )?;
    Ok(())
}

/// The current version of a user's calendar and the oldest token still answerable.
pub fn state(conn: &Connection, uid: &str) -> rusqlite::Result<(i64, i64)> {
    Ok(conn
        .query_row("SELECT ctag, oldest_ctag FROM calendar_state WHERE uid = ?1", [uid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0)))
}

/// Names of objects changed after version `since`.
pub fn changed_since(conn: &Connection, uid: &str, since: i64) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT object_name FROM calendar_changes WHERE uid = ?1 AND ctag > ?2 GROUP BY object_name ORDER BY MAX(ctag)",
    )?;
    let names = stmt.query_map(params![uid, since], |r| r.get(0))?;
    names.collect()
}

/// Objects changed after version `since`, each with the version of its latest change, oldest first:
/// at most `limit` of them (all with `None`). The version of the last one returned covers exactly
/// the ones returned: every other object's latest change is later.
pub fn latest_changes_since(
    conn: &Connection,
    uid: &str,
    since: i64,
    limit: Option<usize>,
) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT object_name, MAX(ctag) AS latest FROM calendar_changes WHERE uid = ?1 AND ctag > ?2
         GROUP BY object_name ORDER BY latest LIMIT ?3",
    )?;
    // SQLite reads a negative LIMIT as no limit.
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let rows = stmt.query_map(params![uid, since, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Drops log entries older than `days`; tokens from before the oldest kept entry become invalid.
pub fn prune(conn: &Connection, now: DateTime<Utc>, days: u32) -> rusqlite::Result<usize> {
    let cutoff = ts(now - Duration::days(i64::from(days)));
    conn.execute(
        "UPDATE calendar_state SET oldest_ctag = (
             SELECT MAX(c.ctag) FROM calendar_changes c WHERE c.uid = calendar_state.uid AND c.changed_at < ?1)
         WHERE EXISTS (SELECT 1 FROM calendar_changes c WHERE c.uid = calendar_state.uid AND c.changed_at < ?1)",
        [cutoff],
    )?;
    conn.execute("DELETE FROM calendar_changes WHERE changed_at < ?1", [cutoff])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate::apply(&mut c).unwrap();
        for (uid, mail) in [("alice", "alice@x.org"), ("bob", "bob@x.org")] {
            crate::booking::repo::upsert_user(&c, uid, mail, "", Utc::now()).unwrap();
        }
        c
    }

    #[test]
    fn log_and_versions() {
        let c = conn();
        let t0: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let users = users_for(&c, &["bob@x.org", "carol@x.org"], "alice").unwrap();
        assert_eq!(
            users.iter().map(String::as_str).collect::<Vec<_>>(),
            ["alice", "bob"],
            "unknown addresses have no calendar"
        );
        touch(&c, &users, "m1.ics", t0).unwrap();
        touch(&c, &users, "m2.ics", t0).unwrap();
        touch(&c, &users, "m1.ics", t0 + Duration::days(10)).unwrap();
        assert_eq!(state(&c, "bob").unwrap(), (3, 0));
        assert_eq!(changed_since(&c, "bob", 0).unwrap(), ["m2.ics", "m1.ics"]);
        assert_eq!(changed_since(&c, "bob", 2).unwrap(), ["m1.ics"]);
        assert!(changed_since(&c, "bob", 3).unwrap().is_empty());
        // m1 changed at 1 and 3: it counts at 3, after m2.
        assert_eq!(latest_changes_since(&c, "bob", 0, None).unwrap(), [("m2.ics".into(), 2), ("m1.ics".into(), 3)]);
        assert_eq!(latest_changes_since(&c, "bob", 0, Some(1)).unwrap(), [("m2.ics".to_string(), 2)]);
        assert!(latest_changes_since(&c, "bob", 0, Some(0)).unwrap().is_empty());
        assert_eq!(latest_changes_since(&c, "bob", 2, Some(5)).unwrap(), [("m1.ics".to_string(), 3)]);
        assert_eq!(state(&c, "nobody").unwrap(), (0, 0));

        assert_eq!(prune(&c, t0 + Duration::days(5), 1).unwrap(), 4);
        assert_eq!(state(&c, "bob").unwrap(), (3, 2), "tokens before version 2 are gone");
        reset(&c, "bob").unwrap();
        assert_eq!(state(&c, "bob").unwrap(), (4, 4));
    }
}
