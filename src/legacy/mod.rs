//! `jmb import-legacy`: brings an original JMB database (the Bash-CGI version, SQLite schema of
//! `original-jmb.md` §A3) into jmb so that every link already in mailboxes and calendars keeps
//! working: meetings keep their numeric id (`/booking.cgi?edit&id=`) and room (`/token.cgi?room=`),
//! invitations keep their hash (`/join.cgi?id=`, `/invitation.cgi?accept&id=`), answers (0/1/2) and
//! join counts, users keep their iCal hash (`/ical.cgi?<hash>`), private rooms their counters, and
//! reminders still pending stay pending (chat reminders too, as warnings, when `[xmpp]` is set).
//!
//! Invariants:
//! * One transaction: the import is stored whole or not at all (`--dry-run` rolls it back after
//!   writing the report). Each meeting is written under its own savepoint, so a row the store refuses
//!   is reported and skipped, never half-written, and never stops the rest.
//! * Idempotent: what is already in jmb (a meeting by id, a feed hash, a reminder) is left as it is;
//!   a second run changes nothing and the report says so.
//! * No mail is sent and no booking hook runs (nobody is told about meetings they already know of);
//!   only the calendar change log is told, so CalDAV clients of existing users see the new meetings.
//! * The original knew owners by address; jmb by uid. An owner whose uid is unknown (no `--uids`
//!   line, not yet signed in to jmb) gets a placeholder that their first sign-in replaces
//!   ([`crate::booking::model::pending_owner`]) and owns the meeting by address until then.
//!
//! Reading the original is tolerant ([`quirks`]): every value is read whatever type SQLite stored.

pub mod quirks;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, Transaction};

use crate::booking::model::{MailAddress, Meeting, PartStat, Role};
use crate::booking::repo::{self, NewAttendee};

/// Why the original database cannot be read at all (a bad row is never such an error: it is reported).
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    #[error("{0}: no such file")]
    Missing(String),
    #[error("{path}: not an SQLite database: {reason}")]
    NotSqlite { path: String, reason: String },
    #[error("{path}: not an original JMB database (no `{table}` table)")]
    NotJmb { path: String, table: &'static str },
    #[error("{path}:{line}: {reason}")]
    UidMap { path: String, line: usize, reason: String },
    #[error("jmb database: {0}")]
    Store(#[from] rusqlite::Error),
}

/// How to import.
#[derive(Debug, Clone)]
pub struct Options {
    /// Host part of the iCalendar UIDs (`<meeting id>@<host>`), as for meetings booked in jmb.
    pub uid_host: String,
    /// Zone of dates the original stored as text (its server's local zone).
    pub zone: chrono_tz::Tz,
    /// Subject given to meetings stored without one.
    pub default_subject: String,
    /// Owner address → uid (`--uids FILE`), for owners who have not signed in to jmb yet.
    pub uids: HashMap<String, String>,
    pub now: DateTime<Utc>,
    /// `[xmpp]` is configured: pending chat reminders become room warnings (else they are reported).
    pub chat_warnings: bool,
}

/// A row that was imported with a repair, or not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// `meetings 1708712345123456789`, `attendees 42`, `ical 3`…
    pub row: String,
    pub reason: String,
}

/// What an import did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub meetings_imported: usize,
    pub meetings_already: usize,
    pub attendees_imported: usize,
    pub feeds_imported: usize,
    pub feeds_already: usize,
    pub users_created: usize,
    pub private_rooms_imported: usize,
    pub private_rooms_already: usize,
    pub reminders_imported: usize,
    pub reminders_already: usize,
    /// Owners known by address only: their meetings wait for their first sign-in.
    pub owners_pending: usize,
    /// Rows imported with a repair.
    pub repaired: Vec<Note>,
    /// Rows not imported.
    pub skipped: Vec<Note>,
}

impl Report {
    /// Whether the import wrote anything.
    pub fn changed(&self) -> bool {
        self.meetings_imported
            + self.feeds_imported
            + self.users_created
            + self.private_rooms_imported
            + self.reminders_imported
            > 0
    }

    /// The report as printed by `jmb import-legacy`.
    pub fn render(&self, dry_run: bool) -> String {
        let mut out = String::new();
        let verb = if dry_run { "would import" } else { "imported" };
        out.push_str(&format!(
            "meetings: {verb} {}, already in jmb {}\nattendees: {verb} {}\niCal feeds: {verb} {}, already in jmb {} (users created: {})\nprivate rooms: {verb} {}, unchanged {}\nreminders: {verb} {}, already in jmb {}\n",
            self.meetings_imported,
            self.meetings_already,
            self.attendees_imported,
            self.feeds_imported,
            self.feeds_already,
            self.users_created,
            self.private_rooms_imported,
            self.private_rooms_already,
            self.reminders_imported,
            self.reminders_already,
        ));
        if self.owners_pending > 0 {
            out.push_str(&format!(
                "owners known by address only: {} (they take their meetings over when they first sign in; pass --uids FILE to settle them now)\n",
                self.owners_pending
            ));
        }
        if !self.repaired.is_empty() {
            out.push_str(&format!("repaired ({}):\n", self.repaired.len()));
            for n in &self.repaired {
                out.push_str(&format!("  {}: {}\n", n.row, n.reason));
            }
        }
        if !self.skipped.is_empty() {
            out.push_str(&format!("not imported ({}):\n", self.skipped.len()));
            for n in &self.skipped {
                out.push_str(&format!("  {}: {}\n", n.row, n.reason));
            }
        }
        if !self.changed() {
            out.push_str("nothing to import: everything was already imported\n");
        } else if dry_run {
            out.push_str("dry run: nothing was written\n");
        }
        out
    }

    fn repair(&mut self, row: String, reason: impl Into<String>) {
        self.repaired.push(Note { row, reason: reason.into() });
    }

    fn skip(&mut self, row: String, reason: impl Into<String>) {
        self.skipped.push(Note { row, reason: reason.into() });
    }
}

/// Reads `--uids FILE`: one `uid address` (or `address uid`) pair per line, separated by blanks,
/// commas, colons or semicolons; `#` starts a comment. Returns address → uid.
pub fn read_uid_map(path: &Path) -> Result<HashMap<String, String>, LegacyError> {
    let text = std::fs::read_to_string(path).map_err(|e| LegacyError::UidMap {
        path: path.display().to_string(),
        line: 0,
        reason: e.to_string(),
    })?;
    let mut map = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split([' ', '\t', ',', ';', ':']).filter(|f| !f.is_empty()).collect();
        let bad = |reason: &str| LegacyError::UidMap {
            path: path.display().to_string(),
            line: i + 1,
            reason: reason.to_string(),
        };
        let [a, b] = fields.as_slice() else { return Err(bad("expected `uid address`")) };
        let (uid, mail) = if a.contains('@') { (b, a) } else { (a, b) };
        let mail = MailAddress::parse(mail).ok_or_else(|| bad("the address is not valid"))?;
        if uid.contains('@') || uid.is_empty() {
            return Err(bad("expected one uid and one address"));
        }
        map.insert(mail.as_str().to_string(), uid.to_lowercase());
    }
    Ok(map)
}

/// The original database, opened read-only.
pub struct Source {
    conn: Connection,
}

/// One row of a table as stored; the column names are shared by every row of the table (the whole
/// original database is held in memory during an import: a few hundred bytes per row).
struct RawRow {
    columns: std::sync::Arc<HashMap<String, usize>>,
    values: Vec<Value>,
}

impl Source {
    pub fn open(path: &Path) -> Result<Self, LegacyError> {
        let shown = path.display().to_string();
        if !path.is_file() {
            return Err(LegacyError::Missing(shown));
        }
        let not_sqlite = |e: rusqlite::Error| LegacyError::NotSqlite { path: shown.clone(), reason: e.to_string() };
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(not_sqlite)?;
        // Reading the schema is the first access: a file that is not SQLite fails here.
        let tables: HashSet<String> = {
            let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").map_err(not_sqlite)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(not_sqlite)?;
            rows.collect::<Result<_, _>>().map_err(not_sqlite)?
        };
        for table in ["meetings", "attendees"] {
            if !tables.contains(table) {
                return Err(LegacyError::NotJmb { path: shown, table });
            }
        }
        Ok(Self { conn })
    }

    fn has_table(&self, table: &str) -> rusqlite::Result<bool> {
        self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [table],
            |r| r.get(0),
        )
    }

    /// Every row of `table` (absent optional tables read as empty), in rowid order.
    fn rows(&self, table: &str) -> rusqlite::Result<Vec<RawRow>> {
        if !self.has_table(table)? {
            return Ok(Vec::new());
        }
        // `table` is one of this module's constants, never input.
        let mut stmt = self.conn.prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))?;
        let columns: std::sync::Arc<HashMap<String, usize>> =
            std::sync::Arc::new(stmt.column_names().into_iter().enumerate().map(|(i, n)| (n.to_string(), i)).collect());
        let width = columns.len();
        let rows = stmt.query_map([], |r| {
            let values = (0..width).map(|i| r.get::<_, Value>(i)).collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(RawRow { columns: columns.clone(), values })
        })?;
        rows.collect()
    }

    /// Rows to import, for the progress bar.
    pub fn count(&self) -> rusqlite::Result<u64> {
        let mut n = 0;
        for t in ["meetings", "attendees", "ical", "private", "mail_reminder"] {
            if self.has_table(t)? {
                n += self.conn.query_row(&format!("SELECT COUNT(*) FROM \"{t}\""), [], |r| r.get::<_, i64>(0))? as u64;
            }
        }
        Ok(n)
    }
}

/// A column's value; a column the table lacks (an older schema) reads as NULL.
fn col<'a>(row: &'a RawRow, name: &str) -> &'a Value {
    row.columns.get(name).and_then(|&i| row.values.get(i)).unwrap_or(&Value::Null)
}

/// An invitation of one person to one meeting, after merging the rows the original stored for them.
struct Invitee {
    row_ids: Vec<String>,
    role: Role,
    mail: String,
    /// The hash to keep, and the row it came from.
    hash: Option<(String, String)>,
    join_count: u32,
    partstat: i64,
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Owner => 0,
        Role::Moderator => 1,
        Role::Guest => 2,
    }
}

/// Imports `source` into jmb inside `tx`. `tick` is called once per source row (progress).
pub fn import(
    tx: &Transaction<'_>,
    source: &Source,
    options: &Options,
    tick: &mut dyn FnMut(u64),
) -> Result<Report, LegacyError> {
    let mut report = Report::default();
    let meetings = source.rows("meetings")?;
    let attendees = source.rows("attendees")?;
    let icals = source.rows("ical")?;
    let privates = source.rows("private")?;
    let mail_reminders = source.rows("mail_reminder")?;
    let xmpp_reminders = source.rows("xmpp_reminder")?;

    // Attendee rows by meeting id (as text, whatever type it was stored as).
    let mut by_meeting: BTreeMap<String, Vec<&RawRow>> = BTreeMap::new();
    let meeting_ids: HashSet<String> =
        meetings.iter().filter_map(|m| quirks::integer(col(m, "meeting_id")).map(|i| i.to_string())).collect();
    for a in &attendees {
        let row = format!("attendees {}", quirks::text(col(a, "attendee_id")).unwrap_or_default());
        match quirks::integer(col(a, "attendee_meeting_id")).map(|i| i.to_string()) {
            Some(id) if meeting_ids.contains(&id) => by_meeting.entry(id).or_default().push(a),
            Some(id) => {
                report.skip(row, format!("its meeting {id} does not exist"));
                tick(1);
            }
            None => {
                report.skip(row, "no meeting id");
                tick(1);
            }
        }
    }
    // Uids of the original (feed owners, private rooms): a booked room must not be one of them.
    let known_uids: HashSet<String> = icals
        .iter()
        .filter_map(|r| quirks::text(col(r, "ical_owner")))
        .chain(privates.iter().filter_map(|r| quirks::text(col(r, "private_room"))))
        .map(|u| u.trim().to_lowercase())
        .collect();
    let mut pending_owners = HashSet::new();
    // Meetings imported or already there, with their start (pending reminders need it).
    let mut starts: HashMap<String, DateTime<Utc>> = HashMap::new();

    // The first booked keeps a room name several meetings share (the original had no UNIQUE): later
    // ones reused it, knowingly or not, and get a new room.
    let mut meetings: Vec<&RawRow> = meetings.iter().collect();
    meetings.sort_by_key(|m| {
        let id = quirks::integer(col(m, "meeting_id"));
        let created = quirks::instant(col(m, "meeting_create"), options.zone)
            .ok()
            .or_else(|| id.and_then(quirks::time_from_nanosecond_id))
            .map_or(i64::MAX, |t| t.timestamp());
        (created, id)
    });
    for m in meetings {
        let rows = quirks::integer(col(m, "meeting_id"))
            .map(|id| by_meeting.get(&id.to_string()).cloned().unwrap_or_default())
            .unwrap_or_default();
        tick(1 + rows.len() as u64);
        import_meeting(tx, m, &rows, options, &known_uids, &mut report, &mut pending_owners, &mut starts)?;
    }
    report.owners_pending = pending_owners.len();
    // The next start schedules the configured reminders and warnings of the meetings imported (and drops
    // imported ones at offsets this site does not use), whatever it followed before.
    crate::mail::reminders::forget_followed(tx)?;
    crate::room_warnings::forget_followed(tx)?;

    // uid → address, for the feeds' owners (the map is keyed by address for the meetings' owners).
    let mail_of_uid: HashMap<&str, &str> = options.uids.iter().map(|(m, u)| (u.as_str(), m.as_str())).collect();
    for r in &icals {
        tick(1);
        import_feed(tx, r, options, &mail_of_uid, &mut report)?;
    }
    for r in &privates {
        tick(1);
        let row = format!("private {}", quirks::text(col(r, "private_id")).unwrap_or_default());
        let Some(uid) = quirks::text(col(r, "private_room")).map(|u| u.trim().to_lowercase()).filter(|u| !u.is_empty())
        else {
            report.skip(row, "no room (uid)");
            continue;
        };
        let count = quirks::integer(col(r, "private_count")).unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32;
        let Ok(last) = quirks::instant(col(r, "private_date"), options.zone) else {
            report.skip(row, "no usable date of last use");
            continue;
        };
        if repo::merge_private_room(tx, &uid, count, last)? {
            report.private_rooms_imported += 1;
        } else {
            report.private_rooms_already += 1;
        }
    }
    for r in &mail_reminders {
        tick(1);
        import_reminder(tx, r, options, &starts, &mut report)?;
    }
    let chat = xmpp_reminders.iter().filter(|r| !is_done(col(r, "xmpp_reminder_done"))).count();
    if options.chat_warnings {
        for r in &xmpp_reminders {
            tick(1);
            import_chat_reminder(tx, r, options, &mut report)?;
        }
    } else if chat > 0 {
        report.skip(
            "xmpp_reminder".into(),
            format!("{chat} pending chat reminder(s): jmb posts chat warnings only with [xmpp]; not imported"),
        );
    }
    Ok(report)
}

fn is_done(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Text(s) => matches!(s.trim().to_lowercase().as_str(), "1" | "true" | "t" | "yes"),
        other => quirks::integer(other).is_some_and(|i| i != 0),
    }
}

#[allow(clippy::too_many_arguments)] // one call site; the shared accumulators of `import`
fn import_meeting(
    tx: &Transaction<'_>,
    m: &RawRow,
    rows: &[&RawRow],
    options: &Options,
    known_uids: &HashSet<String>,
    report: &mut Report,
    pending_owners: &mut HashSet<String>,
    starts: &mut HashMap<String, DateTime<Utc>>,
) -> Result<(), LegacyError> {
    let Some(legacy_id) = quirks::integer(col(m, "meeting_id")) else {
        report.skip(
            format!("meetings {:?}", quirks::text(col(m, "meeting_id")).unwrap_or_default()),
            "no numeric meeting_id",
        );
        return Ok(());
    };
    // jmb ids are 8 to 64 characters; the original's are 19-digit nanosecond times (older flat-file
    // ones may be shorter and are padded, which `/booking.cgi?edit&id=` links then miss).
    let mut id = legacy_id.to_string();
    let here = format!("meetings {id}");
    if id.len() < 8 {
        id = format!("{legacy_id:0>8}");
        report.repair(here.clone(), format!("id shorter than 8 digits, stored as {id}"));
    }
    if let Some(existing) = repo::meeting_by_id(tx, &id)? {
        report.meetings_already += 1;
        starts.insert(id, existing.start);
        return Ok(());
    }
    let whole = |reason: String| format!("{reason} (with its {} attendee row(s))", rows.len());
    let start = match quirks::instant(col(m, "meeting_begin"), options.zone) {
        Ok(t) => t,
        Err(e) => {
            report.skip(here, whole(format!("meeting_begin: {e}")));
            return Ok(());
        }
    };
    // The end is what links and the list went by; the duration (seconds) when the end is unusable.
    let end = quirks::instant(col(m, "meeting_end"), options.zone).ok().filter(|e| *e > start);
    let seconds = match (end, quirks::integer(col(m, "meeting_duration"))) {
        (Some(end), d) => {
            let s = (end - start).num_seconds();
            if d.is_some_and(|d| d != s && d * 60 != s) {
                report.repair(here.clone(), "meeting_duration disagrees with meeting_end: the end is kept");
            }
            s
        }
        (None, Some(d)) if d > 0 => d,
        _ => {
            report.skip(here, whole("neither a usable meeting_end nor a duration".into()));
            return Ok(());
        }
    };
    let duration_min = u32::try_from((seconds + 59) / 60).unwrap_or(u32::MAX).min(7 * 24 * 60);
    if seconds % 60 != 0 {
        report.repair(here.clone(), format!("duration of {seconds} s rounded up to {duration_min} min"));
    }
    let created = quirks::instant(col(m, "meeting_create"), options.zone)
        .ok()
        .or_else(|| quirks::time_from_nanosecond_id(legacy_id))
        .unwrap_or(start);
    let (subject, fixes) = quirks::subject(col(m, "meeting_object"), &options.default_subject);
    for f in fixes {
        report.repair(here.clone(), f.describe());
    }

    // People: one invitation per address, the owner first.
    let mut invitees: Vec<Invitee> = Vec::new();
    for a in rows {
        let row = format!("attendees {}", quirks::text(col(a, "attendee_id")).unwrap_or_default());
        let Some(role) =
            quirks::text(col(a, "attendee_role")).and_then(|r| Role::parse(r.trim().to_lowercase().as_str()))
        else {
            report.skip(row, format!("unknown role {:?}", quirks::text(col(a, "attendee_role")).unwrap_or_default()));
            continue;
        };
        let raw_mail = quirks::text(col(a, "attendee_email")).unwrap_or_default();
        let Some(mail) = MailAddress::parse(&raw_mail) else {
            report.skip(row, format!("address {raw_mail:?} is not valid"));
            continue;
        };
        let partstat = match quirks::partstat(col(a, "attendee_partstat")) {
            Ok(p) => p,
            Err(found) => {
                report.repair(row.clone(), format!("answer {found} is not 0, 1 or 2: imported as no answer"));
                0
            }
        };
        let hash = quirks::hash(col(a, "attendee_meeting_hash"));
        let count = quirks::integer(col(a, "attendee_count")).unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32;
        let mail = mail.as_str().to_string();
        if let Some(same) = invitees.iter_mut().find(|i| i.mail == mail) {
            // The original stored an owner listed as moderator twice (B2), and sometimes one person
            // twice: one invitation, the higher role. The hash kept is the one mailed out: a
            // moderator's or guest's rather than the owner's (owners enter through token.cgi).
            let (kept_role, other_role) =
                if rank(role) < rank(same.role) { (role, same.role) } else { (same.role, role) };
            let prefer_new = match (&same.hash, &hash) {
                (None, Some(_)) => true,
                (Some(_), Some(_)) => same.role == Role::Owner && role != Role::Owner,
                _ => false,
            };
            if prefer_new {
                same.hash = hash.clone().map(|h| (h, row.clone()));
            }
            same.role = kept_role;
            same.join_count = same.join_count.saturating_add(count);
            if partstat != 0 {
                same.partstat = partstat;
            }
            same.row_ids.push(row.clone());
            report.repair(
                row,
                format!(
                    "{mail} listed again as {} in this meeting: merged into one invitation as {}",
                    other_role.as_str(),
                    kept_role.as_str()
                ),
            );
            continue;
        }
        invitees.push(Invitee {
            row_ids: vec![row.clone()],
            role,
            mail,
            hash: hash.map(|h| (h, row)),
            join_count: count,
            partstat,
        });
    }
    let owners: Vec<usize> =
        invitees.iter().enumerate().filter(|(_, i)| i.role == Role::Owner).map(|(n, _)| n).collect();
    let Some(&owner_at) = owners.first() else {
        report.skip(here, whole("no owner row".into()));
        return Ok(());
    };
    for &extra in &owners[1..] {
        let i = &mut invitees[extra];
        i.role = Role::Moderator;
        report.repair(i.row_ids[0].clone(), format!("second owner {}: imported as a moderator", i.mail));
    }
    // Owners are implicitly accepted (rows from the flat-file migration say 0).
    if invitees[owner_at].partstat != 1 {
        invitees[owner_at].partstat = 1;
        report.repair(invitees[owner_at].row_ids[0].clone(), "owner stored without an answer: set to accepted");
    }
    invitees.sort_by_key(|i| rank(i.role));
    let owner_mail = invitees[0].mail.clone();
    let owner_uid = match options.uids.get(&owner_mail) {
        Some(uid) => uid.clone(),
        None => {
            let mut found = crate::users::uids_by_mails(tx, [owner_mail.as_str()])?.into_iter();
            match (found.next(), found.next()) {
                (Some(uid), None) => uid,
                _ => {
                    pending_owners.insert(owner_mail.clone());
                    crate::booking::model::pending_owner(&owner_mail)
                }
            }
        }
    };

    let room = match quirks::room(col(m, "meeting_name")) {
        Some(r) if !repo::room_in_use(tx, &r)? && !known_uids.contains(&r) && !crate::users::exists(tx, &r)? => r,
        found => {
            let r = unique_room(tx, known_uids)?;
            let why = match found {
                Some(old) if known_uids.contains(&old) => format!("room {old} is someone's private room"),
                Some(old) => format!("room {old} is already used by another meeting"),
                None => {
                    format!("room {:?} cannot be a jmb room", quirks::text(col(m, "meeting_name")).unwrap_or_default())
                }
            };
            report.repair(
                here.clone(),
                format!("{why}: given the new room {r} (its old room links no longer lead here)"),
            );
            r
        }
    };

    // The meeting and its invitations under one savepoint: a refusal of the store undoes this meeting only.
    tx.execute_batch("SAVEPOINT legacy_meeting")?;
    let written = (|| -> Result<usize, LegacyError> {
        let meeting = Meeting {
            ical_uid: format!("{id}@{}", options.uid_host),
            id: id.clone(),
            room,
            subject,
            start,
            duration_min,
            owner_uid,
            created,
            updated: created,
            sequence: 0,
        };
        repo::insert_meeting(tx, &meeting)?;
        let mut n = 0;
        for i in &invitees {
            let token = match &i.hash {
                Some((h, _))
                    if !repo::token_in_use(tx, h)?
                        && crate::users::by_feed_token(tx, h)? == crate::users::FeedOwner::Unknown =>
                {
                    h.clone()
                }
                Some((h, from)) => {
                    report.repair(
                        from.clone(),
                        format!("hash {h} is used by another invitation: {} gets a new link", i.mail),
                    );
                    crate::secrets::token()
                }
                None => {
                    if i.role != Role::Owner {
                        report.repair(i.row_ids[0].clone(), format!("no usable hash: {} gets a new link", i.mail));
                    }
                    crate::secrets::token()
                }
            };
            let partstat = PartStat::from_code(i.partstat);
            repo::insert_imported_attendee(
                tx,
                &NewAttendee { meeting_id: &id, role: i.role, mail: &i.mail, name: "", token: &token, partstat },
                i.join_count,
                created,
            )?;
            n += 1;
        }
        let details = repo::details_by_id(tx, &id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        crate::calendar::changes::touch_meeting(tx, &[&details], options.now)?;
        // What the booking hook stores with a meeting booked through jmb.
        crate::calendar::renderings::save(tx, &details)?;
        Ok(n)
    })();
    match written {
        Ok(n) => {
            tx.execute_batch("RELEASE legacy_meeting")?;
            report.meetings_imported += 1;
            report.attendees_imported += n;
            starts.insert(id, start);
        }
        Err(e) => {
            tx.execute_batch("ROLLBACK TO legacy_meeting; RELEASE legacy_meeting")?;
            report.skip(here, whole(format!("refused by the store: {e}")));
        }
    }
    Ok(())
}

fn unique_room(tx: &Transaction<'_>, known_uids: &HashSet<String>) -> rusqlite::Result<String> {
    loop {
        let r = crate::secrets::room_name();
        if !repo::room_in_use(tx, &r)? && !known_uids.contains(&r) && !crate::users::exists(tx, &r)? {
            return Ok(r);
        }
    }
}

fn import_feed(
    tx: &Transaction<'_>,
    r: &RawRow,
    options: &Options,
    mail_of_uid: &HashMap<&str, &str>,
    report: &mut Report,
) -> Result<(), LegacyError> {
    let row = format!("ical {}", quirks::text(col(r, "ical_id")).unwrap_or_default());
    let Some(uid) = quirks::text(col(r, "ical_owner")).map(|u| u.trim().to_lowercase()).filter(|u| !u.is_empty())
    else {
        report.skip(row, "no owner (uid)");
        return Ok(());
    };
    if uid.contains(char::is_whitespace) {
        report.skip(row, format!("owner {uid:?} is not a uid"));
        return Ok(());
    }
    let Some(hash) = quirks::hash(col(r, "ical_hash")) else {
        report.skip(row, format!("hash of {uid} is empty or malformed"));
        return Ok(());
    };
    if repo::token_in_use(tx, &hash)? {
        report.skip(row, format!("hash of {uid} is also an invitation's link"));
        return Ok(());
    }
    let mail = mail_of_uid.get(uid.as_str()).map(|m| m.to_string()).unwrap_or_default();
    if crate::users::import_user(tx, &uid, &mail, options.now)? {
        report.users_created += 1;
        if mail.is_empty() {
            report.repair(
                row.clone(),
                format!("address of {uid} unknown until they sign in: their feed shows their meetings from then on (or pass --uids)"),
            );
        }
    }
    match crate::users::import_feed_token(tx, &uid, &hash, options.now)? {
        crate::users::FeedTokenImport::Set => report.feeds_imported += 1,
        crate::users::FeedTokenImport::Unchanged => report.feeds_already += 1,
        crate::users::FeedTokenImport::Taken => {
            report.skip(row, format!("hash of {uid} is already another user's feed, or {uid} has a second hash"))
        }
        crate::users::FeedTokenImport::UnknownUser => report.skip(row, format!("no user {uid}")),
    }
    Ok(())
}

fn import_reminder(
    tx: &Transaction<'_>,
    r: &RawRow,
    options: &Options,
    starts: &HashMap<String, DateTime<Utc>>,
    report: &mut Report,
) -> Result<(), LegacyError> {
    if is_done(col(r, "mail_reminder_done")) {
        return Ok(());
    }
    let row = format!("mail_reminder {}", quirks::text(col(r, "mail_reminder_id")).unwrap_or_default());
    let Some(meeting_id) = quirks::integer(col(r, "mail_reminder_meeting_id")).map(|i| format!("{i:0>8}")) else {
        report.skip(row, "no meeting id");
        return Ok(());
    };
    let Some(&start) = starts.get(&meeting_id) else {
        report.skip(row, format!("its meeting {meeting_id} was not imported"));
        return Ok(());
    };
    let Ok(due) = quirks::instant(col(r, "mail_reminder_date"), options.zone) else {
        report.skip(row, "no usable date");
        return Ok(());
    };
    // jmb drops reminders of meetings already started (see `mail::reminders`): so is this one.
    if start <= options.now || due > start {
        report.skip(row, "its meeting has started: too late to remind");
        return Ok(());
    }
    let minutes = u32::try_from((start - due).num_minutes()).unwrap_or(0);
    if crate::mail::reminders::import_pending(tx, &meeting_id, minutes, due)? {
        report.reminders_imported += 1;
    } else {
        report.reminders_already += 1;
    }
    Ok(())
}

/// A chat reminder still pending in the original (minutes before the meeting's end) becomes a room
/// warning, if its meeting was imported and is not over.
fn import_chat_reminder(
    tx: &Transaction<'_>,
    r: &RawRow,
    options: &Options,
    report: &mut Report,
) -> Result<(), LegacyError> {
    if is_done(col(r, "xmpp_reminder_done")) {
        return Ok(());
    }
    let row = format!("xmpp_reminder {}", quirks::text(col(r, "xmpp_reminder_id")).unwrap_or_default());
    let Some(meeting_id) = quirks::integer(col(r, "xmpp_reminder_meeting_id")).map(|i| format!("{i:0>8}")) else {
        report.skip(row, "no meeting id");
        return Ok(());
    };
    let Some(meeting) = repo::meeting_by_id(tx, &meeting_id)? else {
        report.skip(row, format!("its meeting {meeting_id} was not imported"));
        return Ok(());
    };
    let Ok(due) = quirks::instant(col(r, "xmpp_reminder_date"), options.zone) else {
        report.skip(row, "no usable date");
        return Ok(());
    };
    let end = meeting.end();
    if end <= options.now || due > end {
        report.skip(row, "its meeting is over: too late to warn");
        return Ok(());
    }
    let minutes = u32::try_from((end - due).num_minutes()).unwrap_or(0);
    if crate::room_warnings::import_pending(tx, &meeting_id, minutes, due)? {
        report.reminders_imported += 1;
    } else {
        report.reminders_already += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_maps_in_every_shape() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let file = dir.path().join("uids.txt");
        std::fs::write(
            &file,
            "# uid address\njdupont jean.dupont@example.org\nMarie.Martin@Example.org,MMartin\n\nx:y@z.org # c\n",
        )
        .unwrap();
        let map = read_uid_map(&file).unwrap();
        assert_eq!(map["jean.dupont@example.org"], "jdupont");
        assert_eq!(map["marie.martin@example.org"], "mmartin");
        assert_eq!(map["y@z.org"], "x");
        std::fs::write(&file, "jdupont\n").unwrap();
        let err = read_uid_map(&file).unwrap_err().to_string();
        assert!(err.ends_with(":1: expected `uid address`"), "{err}");
        std::fs::write(&file, "a@b.org c@d.org\n").unwrap();
        assert!(read_uid_map(&file).unwrap_err().to_string().contains("one uid and one address"));
        assert!(read_uid_map(&dir.path().join("none")).is_err());
    }
}
