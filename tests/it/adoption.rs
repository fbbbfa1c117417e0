//! Adopting jmb on a site that runs the original: `jmb import-legacy` on a database in the original's
//! exact schema with every known quirk, run as a dry run, then twice; every old link answered as
//! before; `jmb backup` restored and compared; `jmb purge` removing exactly what is older.

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Duration, DurationRound, Utc};
use jmb::db::tempdir::TempDirGuard;
use rusqlite::{Connection, params};

use crate::common::*;

fn jmb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jmb"))
}

const SCHEMA: &str = include_str!("../fixtures/legacy/schema.sql");

const MEETING_A: i64 = 1_708_712_345_123_456_789;
const MEETING_B: i64 = 1_708_712_399_000_000_000;
const MEETING_ENDED: i64 = 1_700_000_000_000_000_001;
const MEETING_SAME_ROOM: i64 = 1_700_000_000_000_000_002;
const MEETING_CORRUPT: i64 = 1_700_000_000_000_000_003;

/// A configuration file for the commands, on `db`.
fn config_file(dir: &Path, db: &Path) -> std::path::PathBuf {
    let file = dir.join("jmb.toml");
    std::fs::write(
        &file,
        format!(
            "[server]\npublic_url = \"https://meet.example.org\"\n[database]\npath = \"{}\"\n[jitsi]\nbase_url = \"https://meet.example.org\"\napp_secret = \"{SECRET}\"\n",
            db.display()
        ),
    )
    .unwrap();
    file
}

/// The original's database, with realistic rows and every quirk the import must handle.
fn legacy_database(path: &Path, start: DateTime<Utc>) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(SCHEMA).unwrap();
    let t = |d: DateTime<Utc>| d.timestamp();
    let meeting = |id: i64,
                   room: &str,
                   subject: rusqlite::types::Value,
                   begin: rusqlite::types::Value,
                   dur: i64,
                   end: rusqlite::types::Value,
                   create: rusqlite::types::Value| {
        c.execute(
            "INSERT INTO meetings VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, room, subject, begin, dur, end, create],
        )
        .unwrap();
    };
    use rusqlite::types::Value::{Blob, Integer, Text};
    // A: Latin-1 subject with a doubled quote, the owner stored with answer 0 and listed again as
    // moderator, an internal and an external moderator, a guest without hash, two guests sharing one.
    meeting(
        MEETING_A,
        "abcdefghijklmnop",
        Blob(b"R\xe9union d''\xe9quipe".to_vec()),
        Integer(t(start)),
        5400,
        Integer(t(start + Duration::minutes(90))),
        Integer(t(start - Duration::days(7))),
    );
    // B: subject mojibake (UTF-8 read as Latin-1), times written as local dates by a hand-made
    // migration, creation time lost (taken from the nanosecond id), owner unknown to jmb.
    let paris = |d: DateTime<Utc>| d.with_timezone(&chrono_tz::Europe::Paris).format("%Y-%m-%d %H:%M").to_string();
    let b_start = start + Duration::days(1);
    meeting(
        MEETING_B,
        "qrstuvwxyzabcdef",
        Text("RÃ©union budget".into()),
        Text(paris(b_start)),
        3600,
        Text(paris(b_start + Duration::hours(1))),
        Text(String::new()),
    );
    // An ended meeting (archives), one reusing A's room (the original had no UNIQUE), a corrupt one.
    meeting(
        MEETING_ENDED,
        "endedmeetingroom",
        Text("Archive".into()),
        Integer(t(start - Duration::days(40))),
        3600,
        Integer(t(start - Duration::days(40) + Duration::hours(1))),
        Integer(t(start - Duration::days(41))),
    );
    meeting(
        MEETING_SAME_ROOM,
        "abcdefghijklmnop",
        Text("Même salle".into()),
        Integer(t(start + Duration::days(2))),
        1800,
        Integer(t(start + Duration::days(2) + Duration::minutes(30))),
        Integer(t(start)),
    );
    meeting(
        MEETING_CORRUPT,
        "corruptcorruptco",
        Text("Cassée".into()),
        Text("garbage".into()),
        3600,
        Text("x".into()),
        Integer(0),
    );

    let attendee = |meeting: i64, hash: &str, role: &str, mail: &str, count: i64, partstat: rusqlite::types::Value| {
        c.execute(
            "INSERT INTO attendees (attendee_meeting_id, attendee_meeting_hash, attendee_role, attendee_email, attendee_count, attendee_partstat)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![meeting, hash, role, mail, count, partstat],
        )
        .unwrap();
    };
    attendee(MEETING_A, "OwnerHashAAAAAAA", "owner", "jean.dupont@example.org", 2, Integer(0));
    attendee(MEETING_A, "OwnerModHashAAAA", "moderator", "Jean.Dupont@example.org", 1, Integer(0));
    attendee(MEETING_A, "IntModHashAAAAAA", "moderator", "marie.martin@example.org", 0, Integer(1));
    attendee(MEETING_A, "ExtModHashAAAAAA", "moderator", "ext.mod@partner.net", 0, Text(String::new()));
    attendee(MEETING_A, "GuestOneHashAAAA", "guest", "guest.one@example.com", 3, Integer(1));
    attendee(MEETING_A, "", "guest", "guest.two@example.com", 0, Integer(2));
    attendee(MEETING_A, "GuestOneHashAAAA", "guest", "paul.visiteur@example.org", 0, Integer(0));
    attendee(MEETING_A, "BadRoleHashAAAAA", "chef", "chef@example.com", 0, Integer(0));
    attendee(MEETING_B, "OwnerHashBBBBBBB", "owner", "owner.pending@example.org", 0, Integer(1));
    attendee(MEETING_B, "GuestJeanHashBBB", "guest", "jean.dupont@example.org", 0, Integer(9));
    attendee(MEETING_ENDED, "OwnerHashCCCCCCC", "owner", "jean.dupont@example.org", 1, Integer(1));
    attendee(MEETING_ENDED, "EndedGuestHashCC", "guest", "guest.one@example.com", 1, Integer(1));
    attendee(MEETING_SAME_ROOM, "OwnerHashDDDDDDD", "owner", "jean.dupont@example.org", 0, Integer(1));
    attendee(MEETING_SAME_ROOM, "DupRoomHashDDDDD", "guest", "guest.one@example.com", 0, Integer(0));
    attendee(MEETING_CORRUPT, "CorruptHashEEEEE", "guest", "guest.one@example.com", 0, Integer(0));
    attendee(999, "OrphanHashFFFFFF", "guest", "guest.one@example.com", 0, Integer(0));

    for (uid, hash) in
        [("jdupont", "IcalHashJdupont1"), ("mmartin", "IcalHashMmartin1"), ("nomail", "IcalHashNomail01")]
    {
        c.execute("INSERT INTO ical (ical_owner, ical_hash) VALUES (?1, ?2)", params![uid, hash]).unwrap();
    }
    c.execute(
        "INSERT INTO private (private_room, private_date, private_count) VALUES ('jdupont', ?1, 42)",
        [t(start - Duration::days(10))],
    )
    .unwrap();
    for (meeting, minutes, done) in [
        (MEETING_A, 1440, Text("0".into())),
        (MEETING_A, 60, Integer(0)),
        (MEETING_A, 10080, Integer(1)),
        (MEETING_ENDED, 60, Integer(0)),
    ] {
        let begin: i64 =
            c.query_row("SELECT meeting_begin FROM meetings WHERE meeting_id = ?1", [meeting], |r| r.get(0)).unwrap();
        c.execute(
            "INSERT INTO mail_reminder (mail_reminder_meeting_id, mail_reminder_date, mail_reminder_done) VALUES (?1, ?2, ?3)",
            params![meeting, begin - minutes * 60, done],
        )
        .unwrap();
    }
    c.execute(
        "INSERT INTO xmpp_reminder (xmpp_reminder_meeting_id, xmpp_reminder_date, xmpp_reminder_done) VALUES (?1, ?2, 0)",
        params![MEETING_A, t(start - Duration::minutes(15))],
    )
    .unwrap();
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = jmb().args(args).env("RUST_LOG", "warn").output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Everything an import writes, as one string.
fn fingerprint(db: &Path) -> String {
    let c = Connection::open(db).unwrap();
    [
        "SELECT group_concat(id || room || owner_uid || subject || start_at || end_at, ';') FROM (SELECT * FROM meetings ORDER BY id)",
        "SELECT group_concat(meeting_id || role || mail || token || partstat || join_count, ';') FROM (SELECT * FROM attendees ORDER BY id)",
        "SELECT group_concat(uid || mail || coalesce(feed_token, ''), ';') FROM (SELECT * FROM users ORDER BY uid)",
        "SELECT group_concat(meeting_id || minutes_before || due_at, ';') FROM (SELECT * FROM reminders ORDER BY id)",
        "SELECT group_concat(uid || use_count || last_used_at, ';') FROM private_rooms",
        "SELECT group_concat(uid || ctag, ';') FROM calendar_state",
    ]
    .iter()
    .map(|q| c.query_row(q, [], |r| r.get::<_, Option<String>>(0)).unwrap().unwrap_or_default())
    .collect::<Vec<_>>()
    .join("\n")
}

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// With `[xmpp]`, the original's pending chat reminder becomes a room warning (minutes before the end),
/// once; without it, it is reported and left (the test above).
#[tokio::test]
async fn import_legacy_keeps_pending_chat_reminders_with_xmpp() {
    let dir = TempDirGuard::new().unwrap();
    let start = (Utc::now() + Duration::days(3)).duration_trunc(Duration::hours(1)).unwrap();
    let legacy = dir.path().join("jitsi-jmb.db");
    legacy_database(&legacy, start);
    let db = dir.path().join("jmb.sqlite3");
    let config = config_file(dir.path(), &db);
    let text = std::fs::read_to_string(&config).unwrap() + "[xmpp]\nnotifier = \"log\"\n";
    std::fs::write(&config, text).unwrap();
    let (legacy_s, config_s) = (legacy.to_str().unwrap(), config.to_str().unwrap());
    for _ in 0..2 {
        let (ok, out, err) = run(&["import-legacy", legacy_s, "--config", config_s]);
        assert!(ok, "{err}");
        assert!(!out.contains("pending chat reminder"), "{out}");
    }
    // Meeting A lasts 90 minutes; its chat reminder was due 15 minutes before the start.
    let sql = format!("SELECT minutes_before FROM room_warnings WHERE meeting_id = '{MEETING_A}' AND done_at IS NULL");
    assert_eq!(count(&db, &sql), 105);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM room_warnings"), 1);
    // The offsets a server followed before are forgotten by an import: its next start schedules what
    // the configuration says for the meetings imported.
    Connection::open(&db)
        .unwrap()
        .execute_batch("INSERT INTO job_state (name, value) VALUES ('reminder-offsets', 1), ('warning-offsets', 2)")
        .unwrap();
    let (ok, _, err) = run(&["import-legacy", legacy_s, "--config", config_s]);
    assert!(ok, "{err}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM job_state WHERE name LIKE '%-offsets'"), 0);
}

#[tokio::test]
async fn import_legacy_keeps_every_old_link() {
    let dir = TempDirGuard::new().unwrap();
    // Three days ahead, on the hour: reminders still pending, the meeting not started.
    let start = (Utc::now() + Duration::days(3)).duration_trunc(Duration::hours(1)).unwrap();
    let legacy = dir.path().join("jitsi-jmb.db");
    legacy_database(&legacy, start);
    let db = dir.path().join("jmb.sqlite3");
    let config = config_file(dir.path(), &db);
    let uids = dir.path().join("uids.txt");
    std::fs::write(&uids, "# uid address\njdupont jean.dupont@example.org\nmarie.martin@example.org,mmartin\n")
        .unwrap();
    let (legacy_s, config_s, uids_s) = (legacy.to_str().unwrap(), config.to_str().unwrap(), uids.to_str().unwrap());

    // Bad input: clear messages, no panic.
    let (ok, _, err) = run(&["import-legacy", "/nonexistent.db", "--config", config_s]);
    assert!(!ok && err.contains("/nonexistent.db: no such file"), "{err}");
    let (ok, _, err) = run(&["import-legacy", config_s, "--config", config_s]);
    assert!(!ok && err.contains("not an SQLite database"), "{err}");
    let empty = dir.path().join("empty.db");
    Connection::open(&empty).unwrap().execute_batch("CREATE TABLE t (x);").unwrap();
    let (ok, _, err) = run(&["import-legacy", empty.to_str().unwrap(), "--config", config_s]);
    assert!(!ok && err.contains("not an original JMB database (no `meetings` table)"), "{err}");

    // Dry run: the report, nothing written.
    let (ok, out, err) = run(&["import-legacy", legacy_s, "--dry-run", "--uids", uids_s, "--config", config_s]);
    assert!(ok, "{err}");
    assert!(out.contains("meetings: would import 4, already in jmb 0"), "{out}");
    assert!(out.contains("dry run: nothing was written"), "{out}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM meetings"), 0);

    // For real.
    let (ok, out, err) = run(&["import-legacy", legacy_s, "--uids", uids_s, "--config", config_s]);
    assert!(ok, "{err}");
    for expected in [
        "meetings: imported 4, already in jmb 0",
        "attendees: imported 12",
        "iCal feeds: imported 3, already in jmb 0 (users created: 3)",
        "private rooms: imported 1",
        "reminders: imported 2",
        "owners known by address only: 1",
        // Quirks repaired, each said.
        "subject stored in Latin-1",
        "SQL-escaped quotes",
        "subject was UTF-8 read as Latin-1",
        "owner stored without an answer: set to accepted",
        "jean.dupont@example.org listed again as moderator in this meeting: merged into one invitation as owner",
        "no usable hash: guest.two@example.com gets a new link",
        "hash GuestOneHashAAAA is used by another invitation: paul.visiteur@example.org gets a new link",
        "answer \"9\" is not 0, 1 or 2",
        "room abcdefghijklmnop is already used by another meeting",
        "address of nomail unknown until they sign in",
        // Rows not imported, each with its reason; the rest imported.
        &format!(
            "meetings {MEETING_CORRUPT}: meeting_begin: \"garbage\" is neither epoch seconds nor a date (with its 1 attendee row(s))"
        ),
        "unknown role \"chef\"",
        "its meeting 999 does not exist",
        "its meeting has started: too late to remind",
        "1 pending chat reminder(s): jmb posts chat warnings only with [xmpp]",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }

    // Twice: nothing changes, and it says so.
    let before = fingerprint(&db);
    let (ok, out2, err) = run(&["import-legacy", legacy_s, "--uids", uids_s, "--config", config_s]);
    assert!(ok, "{err}");
    assert!(out2.contains("meetings: imported 0, already in jmb 4"), "{out2}");
    assert!(out2.contains("iCal feeds: imported 0, already in jmb 3"), "{out2}");
    assert!(out2.contains("reminders: imported 0, already in jmb 2"), "{out2}");
    assert!(out2.contains("nothing to import: everything was already imported"), "{out2}");
    assert_eq!(fingerprint(&db), before);

    // What was stored.
    let a = MEETING_A.to_string();
    assert_eq!(count(&db, &format!("SELECT start_at FROM meetings WHERE id = '{a}'")), start.timestamp());
    assert_eq!(count(&db, &format!("SELECT duration_min FROM meetings WHERE id = '{a}'")), 90);
    assert_eq!(
        count(&db, &format!("SELECT start_at FROM meetings WHERE id = '{MEETING_B}'")),
        (start + Duration::days(1)).timestamp()
    );
    assert_eq!(
        count(&db, &format!("SELECT created_at FROM meetings WHERE id = '{MEETING_B}'")),
        1_708_712_399,
        "creation time from the nanosecond id"
    );
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM attendees WHERE meeting_id = '{a}' AND role = 'owner' AND partstat = 1 AND join_count = 3 AND token = 'OwnerModHashAAAA'"
            )
        ),
        1,
        "owner and owner-as-moderator merged: accepted, counts added, the mailed hash kept"
    );
    assert_eq!(count(&db, "SELECT partstat FROM attendees WHERE mail = 'ext.mod@partner.net'"), 0);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM attendees WHERE mail = 'paul.visiteur@example.org' AND token <> 'GuestOneHashAAAA'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM meetings WHERE id = '{MEETING_SAME_ROOM}' AND room <> 'abcdefghijklmnop'")
        ),
        1
    );
    assert_eq!(count(&db, &format!("SELECT COUNT(*) FROM reminders WHERE meeting_id = '{a}' AND done_at IS NULL")), 2);
    assert_eq!(count(&db, "SELECT use_count FROM private_rooms WHERE uid = 'jdupont'"), 42);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM outbox"), 0, "an import sends no mail");
    // Each imported meeting comes with its stored calendar lines, as a booking through jmb does.
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM meetings m JOIN event_renderings r ON r.meeting_id = m.id"),
        count(&db, "SELECT COUNT(*) FROM meetings"),
    );

    // The old links, answered by a running jmb, two minutes before A starts.
    let app = TestApp::spawn_with(|c| {
        c.database.path = db.clone();
        c.auth.editors = jmb::config::EditorPolicy::Keyword(jmb::config::EditorKeyword::Everyone);
    })
    .await;
    app.set_now(&(start - Duration::minutes(2)).to_rfc3339());
    // Guest: straight into the room, no token (waits for a host).
    let resp = app.get("/join.cgi?id=GuestOneHashAAAA").await;
    assert_eq!(location(&resp), "https://meet.example.org/abcdefghijklmnop");
    // External moderator: a moderator token for that room.
    let resp = app.get("/join.cgi?id=ExtModHashAAAAAA").await;
    let claims = decode_jwt(&jwt_of(&location(&resp)));
    assert_eq!(claims["room"], "abcdefghijklmnop");
    assert_eq!(claims["context"]["user"]["email"], "ext.mod@partner.net");
    // Internal moderator and the owner (through the hash the owner got as moderator): sign-in.
    assert_eq!(location(&app.get("/join.cgi?id=IntModHashAAAAAA").await), "/m/abcdefghijklmnop");
    assert_eq!(location(&app.get("/join.cgi?id=OwnerModHashAAAA").await), "/m/abcdefghijklmnop");
    let resp = app.get_as("/token.cgi?room=abcdefghijklmnop", "jdupont").await;
    assert_eq!(decode_jwt(&jwt_of(&location(&resp)))["room"], "abcdefghijklmnop");
    let resp = app.get_as("/token.cgi?room=abcdefghijklmnop", "mmartin").await;
    assert_eq!(resp.status(), 302, "internal moderator");
    // The corrupt meeting and the orphan row were not imported: their links lead nowhere.
    assert_eq!(app.get("/join.cgi?id=CorruptHashEEEEE").await.status(), 404);
    assert_eq!(app.get("/join.cgi?id=OrphanHashFFFFFF").await.status(), 404);

    // Answers: the imported answer shown, then a new one recorded on POST.
    let resp = app.get("/invitation.cgi?decline&id=GuestOneHashAAAA").await;
    assert_eq!(location(&resp), "/rsvp/GuestOneHashAAAA?answer=decline");
    let resp = app.get("/rsvp/GuestOneHashAAAA?answer=decline").await;
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("__Host-jmb_csrf="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("Réunion d&#39;équipe") || html.contains("Réunion d&#x27;équipe"), "repaired subject");
    assert!(html.contains("Acceptée"), "the imported answer is shown");
    let resp = app
        .client
        .post(app.url("/rsvp/GuestOneHashAAAA"))
        .header("cookie", &cookie)
        .form(&[("answer", "decline"), ("csrf", form_csrf(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(count(&db, "SELECT partstat FROM attendees WHERE token = 'GuestOneHashAAAA'"), 2);

    // Feeds by the old hash: jdupont's shows the meetings he owns and the one he is invited to.
    let resp = app.get("/ical.cgi?IcalHashJdupont1").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    let ics = resp.text().await.unwrap().replace("\r\n ", "");
    assert!(ics.contains("SUMMARY:Réunion d'équipe"), "{ics}");
    assert!(ics.contains("SUMMARY:Réunion budget"), "{ics}");
    assert!(ics.contains(&format!("UID:{MEETING_A}@meet.example.org")), "{ics}");
    assert_eq!(app.get("/ical.cgi?IcalHashNomail01").await.status(), 200);

    // The old edit link of the owner known by uid.
    assert_eq!(location(&app.get(&format!("/booking.cgi?edit&id={a}")).await), format!("/meetings/{a}/edit"));
    assert_eq!(app.get_as(&format!("/meetings/{a}/edit"), "jdupont").await.status(), 200);
    assert_eq!(app.get_as(&format!("/meetings/{a}/edit"), "mmartin").await.status(), 403);
    // The owner known by address only owns B by that address, and it becomes theirs by uid when
    // jmb records them.
    let pending = TestApp::identity("opending", "owner.pending@example.org", "Olivier Pending");
    let edit_b = format!("/meetings/{MEETING_B}/edit");
    let resp = app.client.get(app.url(&edit_b)).headers(pending.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app.client.get(app.url("/calendar")).headers(pending).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM meetings WHERE id = '{MEETING_B}' AND owner_uid = 'opending'")),
        1
    );
    app.stop().await;
}

/// `jmb backup`: a 0600 copy taken while the store is open, that opens and holds the same rows;
/// never over an existing file.
#[tokio::test]
async fn backup_restores_the_same_data() {
    let app = TestApp::spawn().await;
    let m = app.book("jdupont", meeting_body()).await;
    let db = app.state.config.database.path.clone();
    let dir = TempDirGuard::new().unwrap();
    let config = config_file(dir.path(), &db);
    let copy = dir.path().join("backup.sqlite3");
    let (ok, out, err) = run(&["backup", copy.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("integrity checked"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let dump = |p: &Path| -> Vec<(String, String, i64)> {
        let c = Connection::open(p).unwrap();
        let mut s = c.prepare("SELECT meeting_id, mail || ':' || token, partstat FROM attendees ORDER BY id").unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(dump(&copy), dump(&db));
    assert_eq!(dump(&copy).len(), 6);
    // Restored as the database of a new jmb, the meeting and its links are there.
    let restored = TestApp::spawn_with(|c| c.database.path = copy.clone()).await;
    let guest = path_of(attendee(&m, "guest.two@example.com")["join_url"].as_str().unwrap());
    restored.set_now("2026-12-05T08:58:00Z");
    assert_eq!(
        location(&restored.get(&guest).await),
        format!("https://meet.example.org/{}", m["room"].as_str().unwrap())
    );
    restored.stop().await;
    let (ok, _, err) = run(&["backup", copy.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    assert!(!ok && err.contains("already exists"), "{err}");
    app.stop().await;
}

/// `jmb purge --older-than DAYS` removes exactly the meetings that ended before the cut-off, with
/// their attendees and reminders, and nothing else.
#[tokio::test]
async fn purge_removes_exactly_what_is_older() {
    let dir = TempDirGuard::new().unwrap();
    let db = dir.path().join("jmb.sqlite3");
    let config = config_file(dir.path(), &db);
    // Meetings booked through jmb at chosen dates, relative to the real now the command uses.
    let now = Utc::now().duration_trunc(Duration::minutes(15)).unwrap();
    let app = TestApp::spawn_with(|c| c.database.path = db.clone()).await;
    let mut ids = Vec::new();
    for days_ago in [100, 31, 29, -3] {
        let start = now - Duration::days(days_ago) - Duration::hours(2);
        app.set_now(&(start - Duration::hours(1)).to_rfc3339());
        let mut body = meeting_body();
        body["start"] = serde_json::Value::String(start.to_rfc3339());
        ids.push(app.book("jdupont", body).await["id"].as_str().unwrap().to_string());
    }
    app.stop().await;
    let attendees = count(&db, "SELECT COUNT(*) FROM attendees");
    let (ok, out, err) = run(&["purge", "--older-than", "30", "--config", config.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("removed 2 meeting(s), 12 attendee row(s)"), "{out}");
    let left: Vec<String> = {
        let c = Connection::open(&db).unwrap();
        let mut s = c.prepare("SELECT id FROM meetings ORDER BY start_at").unwrap();
        s.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(left, ids[2..].to_vec());
    assert_eq!(count(&db, "SELECT COUNT(*) FROM attendees"), attendees - 12);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM attendees WHERE meeting_id NOT IN (SELECT id FROM meetings)"), 0);
    let (ok, out, _) = run(&["purge", "--older-than", "30", "--config", config.to_str().unwrap()]);
    assert!(ok && out.contains("removed 0 meeting(s)"), "{out}");
}

/// `database.retention_days`: the hourly job removes what ended before the cut-off, and nothing when
/// the setting is 0 (the default).
#[tokio::test]
async fn retention_setting_drives_the_job() {
    let app = TestApp::spawn().await;
    app.book("jdupont", meeting_body()).await;
    let ends: DateTime<Utc> = "2026-12-05T10:30:00Z".parse().unwrap();
    let deps = jmb::app::job_deps(&app.state);
    // Off by default: nothing removed, however old.
    assert!(jmb::jobs::purge_expired(&deps, ends + Duration::days(400)).await.unwrap().is_empty());
    let mut config = (*app.state.config).clone();
    config.database.retention_days = 30;
    let deps = jmb::jobs::JobDeps { config: std::sync::Arc::new(config), ..deps };
    // The meeting ended 29 days before: kept (its mails, queued 33 days before, may go).
    assert_eq!(jmb::jobs::purge_expired(&deps, ends + Duration::days(29)).await.unwrap().meetings, 0);
    let purged = jmb::jobs::purge_expired(&deps, ends + Duration::days(31)).await.unwrap();
    assert_eq!((purged.meetings, purged.attendees), (1, 6));
    assert_eq!(app.count("SELECT COUNT(*) FROM meetings").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM reminders").await, 0);
    app.stop().await;
}
