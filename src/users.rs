//! Users: the one owner of the `users` and `revoked_feed_tokens` tables. A user row records who signed
//! in (uid, primary address, name), the secret of their iCal feed (created with the row; replaceable;
//! a given legacy hash can be imported) and the hash of their calendar (CalDAV) password.
//!
//! Every other module asks here: the calendar side for a feed token's owner, a password check or the
//! users a meeting's addresses belong to; pages and the API through [`Users`]. A change of primary
//! address is reported to the hooks ([`Change::UserAddressChanged`]) in the same transaction, since the
//! meetings that person's calendar shows change with it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};

use crate::booking::error::BookingError;
use crate::db::Db;
use crate::events::{Change, HookError, Hooks};
use crate::i18n::Lang;
use crate::identity::Identity;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: String,
    pub mail: String,
    pub name: String,
    pub feed_token: Option<String>,
    pub has_calendar_password: bool,
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// Records who signed in, creating the row (with a feed secret) or refreshing it. Returns whether a
/// row was written. A changed address is reported to `hooks` inside `tx`.
pub fn remember(tx: &Transaction<'_>, who: &Identity, now: DateTime<Utc>, hooks: &Hooks) -> Result<bool, HookError> {
    // Through the statement cache: every booking and every signed-in page asks.
    let existing: Option<(String, String, Option<String>)> =
        crate::db::one(tx, "SELECT mail, name, feed_token FROM users WHERE uid = ?1", [&who.uid], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    match existing {
        None => {
            crate::db::exec(
                tx,
                "INSERT INTO users (uid, mail, name, feed_token, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![who.uid, who.mail, who.name, crate::secrets::token(), ts(now)],
            )?;
            claim_imported_meetings(tx, who)?;
            Ok(true)
        }
        Some((old_mail, old_name, token)) => {
            if old_mail == who.mail && old_name == who.name && token.is_some() {
                return Ok(false);
            }
            crate::db::exec(
                tx,
                "UPDATE users SET mail = ?2, name = ?3, feed_token = COALESCE(feed_token, ?4), updated_at = ?5
                 WHERE uid = ?1",
                params![who.uid, who.mail, who.name, crate::secrets::token(), ts(now)],
            )?;
            claim_imported_meetings(tx, who)?;
            if old_mail != who.mail {
                hooks.emit(
                    tx,
                    &Change::UserAddressChanged { uid: &who.uid, old_mail: &old_mail, new_mail: &who.mail },
                    now,
                )?;
            }
            Ok(true)
        }
    }
}

/// Gives `who` the imported meetings booked with their address (the original identified owners by
/// address, as the sign-in still proves it).
fn claim_imported_meetings(tx: &Transaction<'_>, who: &Identity) -> rusqlite::Result<()> {
    let n = crate::booking::repo::claim_meetings(tx, &crate::booking::model::pending_owner(&who.mail), &who.uid)?;
    if n > 0 {
        tracing::info!(uid = %who.uid, meetings = n, "imported meetings taken over at first sign-in");
    }
    Ok(())
}

/// A user known from the original JMB (the owner of an iCal hash) who has not signed in to jmb yet.
/// `mail` may be empty when no address is known: the first sign-in fills it in. Returns whether a row
/// was created.
pub fn import_user(tx: &Transaction<'_>, uid: &str, mail: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    Ok(crate::db::exec(
        tx,
        "INSERT OR IGNORE INTO users (uid, mail, name, feed_token, created_at, updated_at) VALUES (?1, ?2, '', NULL, ?3, ?3)",
        params![uid, mail, ts(now)],
    )? > 0)
}

/// Whether the row exists, matches this identity and has its feed secret (nothing to write).
pub fn is_current(conn: &Connection, who: &Identity) -> rusqlite::Result<bool> {
    crate::db::one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM users WHERE uid = ?1 AND mail = ?2 AND name = ?3 AND feed_token IS NOT NULL)",
        params![who.uid, who.mail, who.name],
        |r| r.get(0),
    )
}

pub fn get(conn: &Connection, uid: &str) -> rusqlite::Result<Option<User>> {
    crate::db::one(
        conn,
        "SELECT uid, mail, name, feed_token, dav_password_hash IS NOT NULL FROM users WHERE uid = ?1",
        [uid],
        |r| {
            Ok(User {
                uid: r.get(0)?,
                mail: r.get(1)?,
                name: r.get(2)?,
                feed_token: r.get(3)?,
                has_calendar_password: r.get(4)?,
            })
        },
    )
    .optional()
}

pub fn exists(conn: &Connection, uid: &str) -> rusqlite::Result<bool> {
    crate::db::one(conn, "SELECT EXISTS (SELECT 1 FROM users WHERE uid = ?1)", [uid], |r| r.get(0))
}

/// The primary address of `uid`, if known.
pub fn mail_of(conn: &Connection, uid: &str) -> rusqlite::Result<Option<String>> {
    crate::db::one(conn, "SELECT mail FROM users WHERE uid = ?1", [uid], |r| r.get(0)).optional()
}

/// The users (uids) whose primary address is one of `mails`.
pub fn uids_by_mails<'a>(
    conn: &Connection,
    mails: impl IntoIterator<Item = &'a str>,
) -> rusqlite::Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let mut stmt = conn.prepare_cached("SELECT uid FROM users WHERE mail = ?1")?;
    for mail in mails {
        for uid in stmt.query_map([mail], |r| r.get::<_, String>(0))? {
            out.insert(uid?);
        }
    }
    Ok(out)
}

/// What mails need to know about an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailProfile {
    /// A signed-in user has this primary address.
    pub is_user: bool,
    /// The language they chose, if any.
    pub lang: Option<Lang>,
}

pub fn mail_profile(conn: &Connection, mail: &str) -> rusqlite::Result<MailProfile> {
    let lang: Option<Option<String>> =
        crate::db::one(conn, "SELECT lang FROM users WHERE mail = ?1 LIMIT 1", [mail], |r| r.get(0)).optional()?;
    Ok(MailProfile { is_user: lang.is_some(), lang: lang.flatten().as_deref().and_then(Lang::parse) })
}

/// The language `uid` chose, if any (`None` too for an unknown user).
pub fn lang_of(conn: &Connection, uid: &str) -> rusqlite::Result<Option<Lang>> {
    let lang: Option<Option<String>> =
        crate::db::one(conn, "SELECT lang FROM users WHERE uid = ?1", [uid], |r| r.get(0)).optional()?;
    Ok(lang.flatten().as_deref().and_then(Lang::parse))
}

/// Remembers the language `uid` chose (mails to them use it).
pub fn set_lang(tx: &Transaction<'_>, uid: &str, lang: Lang) -> rusqlite::Result<()> {
    crate::db::exec(tx, "UPDATE users SET lang = ?2 WHERE uid = ?1", params![uid, lang.code()])?;
    Ok(())
}

/// Whose calendar a feed secret opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedOwner {
    User {
        uid: String,
        mail: String,
    },
    /// A secret the user replaced: answered 410 so subscribed clients stop polling.
    Revoked,
    Unknown,
}

pub fn by_feed_token(conn: &Connection, token: &str) -> rusqlite::Result<FeedOwner> {
    if let Some((uid, mail)) = crate::db::one(conn, "SELECT uid, mail FROM users WHERE feed_token = ?1", [token], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()?
    {
        return Ok(FeedOwner::User { uid, mail });
    }
    let revoked: bool =
        crate::db::one(conn, "SELECT EXISTS (SELECT 1 FROM revoked_feed_tokens WHERE token = ?1)", [token], |r| {
            r.get(0)
        })?;
    Ok(if revoked { FeedOwner::Revoked } else { FeedOwner::Unknown })
}

/// Gives `uid` a new feed secret; the old one is remembered as revoked. Returns the new secret.
pub fn replace_feed_token(tx: &Transaction<'_>, uid: &str, now: DateTime<Utc>) -> rusqlite::Result<String> {
    let token = crate::secrets::token();
    set_feed_token(tx, uid, &token, now)?;
    Ok(token)
}

fn set_feed_token(tx: &Transaction<'_>, uid: &str, token: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    let old: Option<Option<String>> =
        crate::db::one(tx, "SELECT feed_token FROM users WHERE uid = ?1", [uid], |r| r.get(0)).optional()?;
    if let Some(Some(old)) = old
        && old != token
    {
        crate::db::exec(
            tx,
            "INSERT OR IGNORE INTO revoked_feed_tokens (token, revoked_at) VALUES (?1, ?2)",
            params![old, ts(now)],
        )?;
    }
    crate::db::exec(
        tx,
        "UPDATE users SET feed_token = ?2, updated_at = ?3 WHERE uid = ?1",
        params![uid, token, ts(now)],
    )?;
    Ok(())
}

/// What importing a given feed secret did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedTokenImport {
    /// The user's feed now opens with the given secret (their previous one is revoked).
    Set,
    /// It already did.
    Unchanged,
    /// Another user's feed, or a revoked one, uses that secret: nothing changed.
    Taken,
    /// No such user.
    UnknownUser,
}

/// Makes `token` (an original JMB `ical.cgi` hash) the feed secret of `uid`, so old subscriptions keep
/// working. Idempotent.
pub fn import_feed_token(
    tx: &Transaction<'_>,
    uid: &str,
    token: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<FeedTokenImport> {
    let Some(user) = get(tx, uid)? else { return Ok(FeedTokenImport::UnknownUser) };
    if user.feed_token.as_deref() == Some(token) {
        return Ok(FeedTokenImport::Unchanged);
    }
    if by_feed_token(tx, token)? != FeedOwner::Unknown {
        return Ok(FeedTokenImport::Taken);
    }
    set_feed_token(tx, uid, token, now)?;
    Ok(FeedTokenImport::Set)
}

/// SHA-256 (hex) of a calendar password. Passwords are 192 random bits, so a fast hash is enough.
pub fn password_hash(password: &str) -> String {
    hex::encode(Sha256::digest(password.as_bytes()))
}

/// Generates and stores a new calendar password for `uid` (the previous one stops working); returns
/// it, to be shown once.
pub fn new_calendar_password(tx: &Transaction<'_>, uid: &str, now: DateTime<Utc>) -> rusqlite::Result<String> {
    let password = crate::secrets::token();
    crate::db::exec(
        tx,
        "UPDATE users SET dav_password_hash = ?2, updated_at = ?3 WHERE uid = ?1",
        params![uid, password_hash(&password), ts(now)],
    )?;
    Ok(password)
}

/// The user whose calendar password this is, compared in constant time; `None` when it is not.
pub fn check_calendar_password(conn: &Connection, uid: &str, password: &str) -> rusqlite::Result<Option<User>> {
    // Checked on every CalDAV request: the statement is prepared once per connection.
    let found: Option<(User, Option<String>)> = conn
        .prepare_cached("SELECT uid, mail, name, feed_token, dav_password_hash FROM users WHERE uid = ?1")?
        .query_row([uid], |r| {
            let hash: Option<String> = r.get(4)?;
            Ok((
                User {
                    uid: r.get(0)?,
                    mail: r.get(1)?,
                    name: r.get(2)?,
                    feed_token: r.get(3)?,
                    has_calendar_password: hash.is_some(),
                },
                hash,
            ))
        })
        .optional()?;
    let Some((user, Some(stored))) = found else { return Ok(None) };
    let given = password_hash(password);
    Ok(bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), stored.as_bytes())).then_some(user))
}

/// The users capability for the edges: every operation owns its transaction.
#[derive(Clone)]
pub struct Users {
    db: Db,
    hooks: Hooks,
}

impl Users {
    pub fn new(db: Db, hooks: Hooks) -> Self {
        Self { db, hooks }
    }

    /// Records the signed-in user. Pages call this on every view, so the usual case (nothing changed)
    /// is a read, not a write.
    pub async fn remember(&self, who: &Identity, now: DateTime<Utc>) -> Result<(), BookingError> {
        let probe = who.clone();
        if self.db.read(move |c| Ok::<_, BookingError>(is_current(c, &probe)?)).await? {
            return Ok(());
        }
        let who = who.clone();
        let hooks = self.hooks.clone();
        self.db.write(move |tx| Ok::<_, BookingError>(remember(tx, &who, now, &hooks).map(|_| ())?)).await
    }

    /// The user row (after [`Users::remember`]).
    pub async fn get(&self, uid: &str) -> Result<Option<User>, BookingError> {
        let uid = uid.to_string();
        self.db.read(move |c| Ok(get(c, &uid)?)).await
    }

    pub async fn new_calendar_password(&self, who: &Identity, now: DateTime<Utc>) -> Result<String, BookingError> {
        self.remember(who, now).await?;
        let uid = who.uid.clone();
        self.db.write(move |tx| Ok(new_calendar_password(tx, &uid, now)?)).await
    }

    /// Remembers the language a signed-in user chose.
    pub async fn set_lang(&self, who: &Identity, lang: Lang, now: DateTime<Utc>) -> Result<(), BookingError> {
        self.remember(who, now).await?;
        let uid = who.uid.clone();
        self.db.write(move |tx| Ok(set_lang(tx, &uid, lang)?)).await
    }

    pub async fn replace_feed_token(&self, who: &Identity, now: DateTime<Utc>) -> Result<String, BookingError> {
        self.remember(who, now).await?;
        let uid = who.uid.clone();
        self.db.write(move |tx| Ok(replace_feed_token(tx, &uid, now)?)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::events::Hook;

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate::apply(&mut c).unwrap();
        c
    }

    fn who(uid: &str, mail: &str) -> Identity {
        Identity { uid: uid.into(), mail: mail.into(), name: "N".into() }
    }

    /// Records the kinds of the changes it sees.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Hook for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        fn on_change(&self, _: &Transaction<'_>, change: &Change<'_>, _: DateTime<Utc>) -> Result<(), HookError> {
            if let Change::UserAddressChanged { uid, old_mail, new_mail } = change {
                self.0.lock().unwrap().push(format!("{uid}:{old_mail}->{new_mail}"));
            }
            Ok(())
        }
    }

    #[test]
    fn remember_creates_refreshes_and_reports_address_changes() {
        let mut c = conn();
        let rec = Arc::new(Recorder::default());
        let hooks = Hooks::new(vec![rec.clone()]);
        let now = Utc::now();
        let tx = c.transaction().unwrap();
        assert!(remember(&tx, &who("alice", "a@x.org"), now, &hooks).unwrap());
        assert!(!remember(&tx, &who("alice", "a@x.org"), now, &hooks).unwrap(), "nothing to write");
        assert!(is_current(&tx, &who("alice", "a@x.org")).unwrap());
        let token = get(&tx, "alice").unwrap().unwrap().feed_token.unwrap();
        assert!(remember(&tx, &who("alice", "alice@x.org"), now, &hooks).unwrap());
        assert_eq!(*rec.0.lock().unwrap(), ["alice:a@x.org->alice@x.org"]);
        assert_eq!(get(&tx, "alice").unwrap().unwrap().feed_token.unwrap(), token, "the feed secret is kept");
        assert_eq!(
            uids_by_mails(&tx, ["alice@x.org", "nobody@x.org"]).unwrap().into_iter().collect::<Vec<_>>(),
            ["alice"]
        );
    }

    #[test]
    fn feed_tokens_replace_revoke_and_import() {
        let mut c = conn();
        let now = Utc::now();
        let tx = c.transaction().unwrap();
        remember(&tx, &who("alice", "a@x.org"), now, &Hooks::default()).unwrap();
        remember(&tx, &who("bob", "b@x.org"), now, &Hooks::default()).unwrap();
        let first = get(&tx, "alice").unwrap().unwrap().feed_token.unwrap();
        let second = replace_feed_token(&tx, "alice", now).unwrap();
        assert_ne!(first, second);
        assert_eq!(by_feed_token(&tx, &first).unwrap(), FeedOwner::Revoked);
        assert_eq!(
            by_feed_token(&tx, &second).unwrap(),
            FeedOwner::User { uid: "alice".into(), mail: "a@x.org".into() }
        );
        assert_eq!(by_feed_token(&tx, "nope").unwrap(), FeedOwner::Unknown);

        let legacy = "AbCdEfGh12345678";
        assert_eq!(import_feed_token(&tx, "alice", legacy, now).unwrap(), FeedTokenImport::Set);
        assert_eq!(import_feed_token(&tx, "alice", legacy, now).unwrap(), FeedTokenImport::Unchanged);
        assert_eq!(import_feed_token(&tx, "bob", legacy, now).unwrap(), FeedTokenImport::Taken);
        assert_eq!(import_feed_token(&tx, "bob", &first, now).unwrap(), FeedTokenImport::Taken, "revoked");
        assert_eq!(import_feed_token(&tx, "carol", "x", now).unwrap(), FeedTokenImport::UnknownUser);
        assert_eq!(by_feed_token(&tx, &second).unwrap(), FeedOwner::Revoked);
    }

    #[test]
    fn calendar_passwords() {
        let mut c = conn();
        let now = Utc::now();
        let tx = c.transaction().unwrap();
        remember(&tx, &who("alice", "a@x.org"), now, &Hooks::default()).unwrap();
        assert!(check_calendar_password(&tx, "alice", "anything").unwrap().is_none(), "no password yet");
        let p1 = new_calendar_password(&tx, "alice", now).unwrap();
        assert_eq!(check_calendar_password(&tx, "alice", &p1).unwrap().unwrap().uid, "alice");
        let p2 = new_calendar_password(&tx, "alice", now).unwrap();
        assert!(check_calendar_password(&tx, "alice", &p1).unwrap().is_none(), "the old password stops working");
        assert!(check_calendar_password(&tx, "alice", &p2).unwrap().is_some());
        assert!(check_calendar_password(&tx, "bob", &p2).unwrap().is_none());
        assert!(get(&tx, "alice").unwrap().unwrap().has_calendar_password);
    }
}
