//! A user's calendar, rendered: one CalDAV object per meeting and the whole feed, built from the store
//! in one read transaction and kept in memory, and on disk ([`super::disk`]), while the user's calendar
//! version (`ctag`) is unchanged and nothing time-dependent (an alarm passing, a meeting leaving the
//! past-days window) has expired.
//! Each request still reads the version from SQLite (but see [`TRUST_WITHOUT_READING`]), so the cache
//! only saves re-rendering. Implements [`CalendarBackend`] for the CalDAV server.
//!
//! A rendering is always of one consistent state: the version, the change log bound and the data come
//! from one read transaction, and `sync-collection` hands out the version of the rendering it served,
//! never a newer one, so a client is never told it has bytes it was not given.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};

use super::renderings::{self, StoredEvent};
use super::{changes, disk, event};
use crate::booking::model::PartStat;
use crate::cache::ByteLru;
use crate::caldav::{
    BackendError, BoxFuture, CalObject, CalendarBackend, CalendarState, Changes, Principal, SyncError, TimeRange,
};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::i18n::{Lang, Tr};
use crate::ics;
use crate::users::{self, FeedOwner};

/// Generations of renderings made in this process; those read back from disk take theirs from their
/// content instead (see [`Snapshot::from_stored`]), with the top bit set so the two never meet.
static NEXT_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// How long a cached calendar is trusted without asking the store, when this process wrote nothing
/// in between. Writes by other processes (an import, a manual fix) show up after at most this long.
const TRUST_WITHOUT_READING: std::time::Duration = std::time::Duration::from_secs(1);

tokio::task_local! {
    /// The calendar this request already read from the store (see [`request_scope`]).
    static REQUEST_CALENDAR: std::cell::RefCell<Option<(String, Arc<Snapshot>)>>;
}

/// Runs `work` (one CalDAV request) so that it reads the user's calendar from the store at most once:
/// its password check (or its first look at the calendar) reads it, and the rest of the request (the
/// answer cache's key, the objects) uses that version even if a booking commits meanwhile. Without
/// this, a commit between the two looks (one in four cold REPORTs with 10 bookings a second) cost
/// a second read, and the answer mixed two versions. Other requests still see every commit.
pub async fn request_scope<F: std::future::Future>(work: F) -> F::Output {
    REQUEST_CALENDAR.scope(std::cell::RefCell::new(None), work).await
}

/// Keeps `snapshot` as this request's calendar of `uid` (outside [`request_scope`]: nothing).
fn pin(uid: &str, snapshot: &Arc<Snapshot>) {
    let _ = REQUEST_CALENDAR.try_with(|p| *p.borrow_mut() = Some((uid.to_string(), snapshot.clone())));
}

/// This request's calendar of `uid`, if it read one.
fn pinned(uid: &str) -> Option<Arc<Snapshot>> {
    REQUEST_CALENDAR
        .try_with(|p| p.borrow().as_ref().filter(|(pinned_uid, _)| pinned_uid == uid).map(|(_, s)| s.clone()))
        .ok()
        .flatten()
}

/// A rendered calendar and when it was last checked against the store.
#[derive(Clone)]
struct Cached {
    snapshot: Arc<Snapshot>,
    checked_epoch: u64,
    checked_at: std::time::Instant,
}

/// A user's calendar as rendered at one version.
pub struct Snapshot {
    pub ctag: i64,
    /// Names what CalDAV answers are made of (they are cached under it): unique per rendering made
    /// here, derived from the content for one read back from disk.
    pub generation: u64,
    mail: String,
    /// Rendering must be redone from this instant (an alarm passes, a meeting leaves the window).
    valid_until: DateTime<Utc>,
    /// Sorted by start.
    pub objects: Vec<CalObject>,
    by_name: HashMap<String, usize>,
    pub feed: Bytes,
    pub feed_etag: String,
    pub last_modified: DateTime<Utc>,
}

/// What a cached calendar costs beside its rendering: the key, the entry and the cache's bookkeeping.
const CACHE_ENTRY_OVERHEAD: usize = 256;

impl Snapshot {
    /// A rendering read back from disk. Its generation follows from what answers are made of (the
    /// version, the date and the feed's ETag, which covers every byte of every object): a calendar
    /// read from disk again, unchanged, finds the answers cached for it when it was last read, although
    /// the memory cache did not keep the rendering in between (see [`crate::cache::ByteLru::scan_resistant`]).
    fn from_stored(s: disk::Stored) -> Self {
        let by_name = s.objects.iter().enumerate().map(|(i, o)| (o.name.clone(), i)).collect();
        let mut content = Vec::with_capacity(16 + s.feed_etag.len());
        content.extend_from_slice(&s.ctag.to_le_bytes());
        content.extend_from_slice(&s.last_modified.timestamp_micros().to_le_bytes());
        content.extend_from_slice(s.feed_etag.as_bytes());
        Snapshot {
            ctag: s.ctag,
            generation: xxhash_rust::xxh3::xxh3_64(&content) | 1 << 63,
            mail: s.mail,
            valid_until: s.valid_until,
            objects: s.objects,
            by_name,
            feed: s.feed,
            feed_etag: s.feed_etag,
            last_modified: s.last_modified,
        }
    }

    /// This rendering, made at `rendered_at` of the calendar version last changed at `changed_at`
    /// (microseconds), to keep on disk.
    fn to_store(&self, changed_at: i64, rendered_at: DateTime<Utc>) -> disk::Rendering<'_> {
        disk::Rendering {
            ctag: self.ctag,
            changed_at,
            mail: &self.mail,
            rendered_at,
            valid_until: self.valid_until,
            objects: &self.objects,
            feed: &self.feed,
            feed_etag: &self.feed_etag,
            last_modified: self.last_modified,
        }
    }

    /// Bytes this rendering holds: the feed (whose bytes the objects share), and per object its name,
    /// ETag, index entry and handles.
    pub fn size(&self) -> usize {
        let per_object: usize = self.objects.iter().map(|o| o.name.len() * 2 + o.etag.len() + 256).sum();
        std::mem::size_of::<Snapshot>() + self.feed.len() + self.mail.len() + self.feed_etag.len() + per_object
    }
}

pub struct CalendarStore {
    db: Db,
    clock: Arc<dyn Clock>,
    /// Rendered calendars in memory and on disk.
    levels: Arc<Levels>,
    /// Recent successful sign-ins: `(uid, SHA-256 of the password)` → the principal and the database's
    /// [`Db::data_version`] when the password was checked. Calendar clients send the password with
    /// every request; a sign-in is reused only while nothing at all was committed to the database
    /// since (by this process or another), so a replaced password stops at once everywhere.
    sign_ins: Mutex<HashMap<(String, String), (Principal, u64)>>,
}

/// A user as the calendar side knows them.
#[derive(Debug, Clone)]
pub struct CalendarUser {
    pub uid: String,
    pub mail: String,
    pub name: String,
}

impl CalendarStore {
    pub fn new(db: Db, config: Arc<Config>, clock: Arc<dyn Clock>) -> Self {
        // Up to half the budget for one calendar: the largest calendars cost the most to render, and
        // with the default budget a 2 000-event one (about 3.5 MB) is still kept.
        let budget = config.calendar.rendering_cache_bytes();
        let disk = disk::dir_for(&config).and_then(|dir| {
            disk::DiskCache::open(&dir, disk::fingerprint(&rendering_settings(&config)))
                .inspect_err(|e| {
                    tracing::warn!(error.message = %e, path = %dir.display(), "calendar: no cache on disk, the folder cannot be used");
                })
                .ok()
        });
        // Scan-resistant only above a disk level: a calendar the memory does not keep is read back from
        // disk at its next request, a fifth of the cost of rendering it again.
        let memory = Mutex::new(if disk.is_some() {
            ByteLru::scan_resistant(budget, CACHE_ENTRY_OVERHEAD, budget / 2)
        } else {
            ByteLru::new(budget, CACHE_ENTRY_OVERHEAD, budget / 2)
        });
        let head = Bytes::from(ics::resource_head(&config.calendar_prodid()));
        let levels = Arc::new(Levels { memory, disk, config, head });
        Self { db, clock, levels, sign_ins: Mutex::new(HashMap::new()) }
    }

    fn cache(&self) -> MutexGuard<'_, ByteLru<String, Cached>> {
        self.levels.memory()
    }

    /// The user's calendar, from the cache when still current.
    pub async fn snapshot(&self, uid: &str) -> Result<Arc<Snapshot>, DbError> {
        // Read the epoch first: a write committing after this point bumps it, so the next request
        // checks again.
        let epoch = self.db.write_epoch();
        if let Some(s) = pinned(uid).filter(|s| self.clock.now() < s.valid_until) {
            return Ok(s);
        }
        if let Some(c) = self.cache().get(&uid.to_string())
            && c.checked_epoch == epoch
            && c.checked_at.elapsed() < TRUST_WITHOUT_READING
            && self.clock.now() < c.snapshot.valid_until
        {
            pin(uid, &c.snapshot);
            return Ok(c.snapshot.clone());
        }
        let snapshot = self.fresh_snapshot(uid, epoch).await?;
        pin(uid, &snapshot);
        Ok(snapshot)
    }

    /// The user's calendar after reading its version from the store (the cache is used only if it is
    /// of that version): one store read, which renders the calendar too when the cache does not hold it.
    async fn fresh_snapshot(&self, uid: &str, epoch: u64) -> Result<Arc<Snapshot>, DbError> {
        let (levels, now) = (self.levels.clone(), self.clock.now());
        let uid = uid.to_string();
        self.db
            .read(move |c| -> Result<_, DbError> {
                let tx = c.unchecked_transaction()?;
                let mail = users::mail_of(&tx, &uid)?.unwrap_or_default();
                Ok(levels.current_in(&tx, &uid, &mail, now, epoch)?)
            })
            .await
    }

    /// The calendar behind a feed token, or whether the token was revoked: one store read, which finds
    /// the owner, reads the calendar's version and, unless the cache holds that version, renders it.
    /// (A cold feed used to take two reads: each hands the request to another thread and back.)
    pub async fn feed(&self, token: &str) -> Result<FeedLookup, DbError> {
        let epoch = self.db.write_epoch();
        let (levels, now) = (self.levels.clone(), self.clock.now());
        let token = token.to_string();
        self.db
            .read(move |c| -> Result<_, DbError> {
                let tx = c.unchecked_transaction()?;
                Ok(match users::by_feed_token(&tx, &token)? {
                    FeedOwner::User { uid, mail } => {
                        FeedLookup::Calendar(levels.current_in(&tx, &uid, &mail, now, epoch)?)
                    }
                    FeedOwner::Revoked => FeedLookup::Revoked,
                    FeedOwner::Unknown => FeedLookup::Unknown,
                })
            })
            .await
    }
}

/// Where rendered calendars are kept: in memory (the most recently used, within
/// `calendar.cache_bytes`; once full, with the disk level, only those asked for again within a while),
/// and on disk (every user's latest, see [`disk`]) when `calendar.disk_cache`.
struct Levels {
    memory: Mutex<ByteLru<String, Cached>>,
    disk: Option<disk::DiskCache>,
    config: Arc<Config>,
    /// What every object read back from disk starts with (the same for all: made once).
    head: Bytes,
}

impl Levels {
    fn memory(&self) -> MutexGuard<'_, ByteLru<String, Cached>> {
        // Every update leaves the cache consistent before anything can panic.
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// In the caller's read transaction: the calendar of `uid` (primary address `mail`) at the version
    /// the store holds, from memory when it holds that version and nothing time-dependent has expired,
    /// else from disk on the same conditions, else read and rendered here (and kept at both levels).
    /// `epoch` is the write epoch read before the transaction.
    fn current_in(
        &self,
        tx: &rusqlite::Connection,
        uid: &str,
        mail: &str,
        now: DateTime<Utc>,
        epoch: u64,
    ) -> rusqlite::Result<Arc<Snapshot>> {
        let version = changes::version(tx, uid)?;
        if let Some(c) = self.memory().get_mut(&uid.to_string())
            && c.snapshot.ctag == version.ctag
            && c.snapshot.mail == mail
            && now < c.snapshot.valid_until
        {
            c.checked_epoch = epoch;
            c.checked_at = std::time::Instant::now();
            return Ok(c.snapshot.clone());
        }
        let config = &self.config;
        let changed_at = version.changed_at.map_or(0, |t| t.timestamp_micros());
        let key = disk::Key { uid, ctag: version.ctag, changed_at, mail, now };
        let stored = self.disk.as_ref().and_then(|d| d.load(&key, &self.head, &resource_tail()));
        let snapshot = Arc::new(match stored {
            Some(stored) => Snapshot::from_stored(stored),
            None => {
                let rows = CalendarStore::read_rows(tx, config, uid, mail, version, now)?;
                let snapshot = CalendarStore::render_cold(config, rows, now);
                if let Some(d) = &self.disk {
                    d.save(uid, &snapshot.to_store(changed_at, now));
                }
                snapshot
            }
        });
        let size = snapshot.size();
        self.memory().put(
            uid.to_string(),
            Cached { snapshot: snapshot.clone(), checked_epoch: epoch, checked_at: std::time::Instant::now() },
            size,
        );
        Ok(snapshot)
    }
}

/// What every CalDAV object ends with.
fn resource_tail() -> Bytes {
    Bytes::from_static(ics::CALENDAR_END.as_bytes())
}

/// The settings [`render`] reads, for [`disk::fingerprint`] (keep the two in step).
fn rendering_settings(config: &Config) -> String {
    let c = &config.calendar;
    format!(
        "{:?}",
        (
            (&c.name, &c.description, c.past_days, c.show_declined, c.refresh_minutes, &c.alarm_minutes),
            (&config.server.default_language, &config.server.display_time_zone, config.display_tz().name()),
            (config.public_base(), config.calendar_prodid(), config.calendar_name()),
        )
    )
}

/// What a calendar is rendered from, read in one transaction (see [`CalendarStore::read_cold`]).
pub struct CalendarRows {
    version: changes::Version,
    mail: String,
    events: Vec<StoredEvent>,
}

impl CalendarStore {
    /// Reads what the calendar of `uid` is rendered from, in one read transaction: the version and the
    /// data come from the same database state. Events whose shared lines are not stored yet are
    /// rendered from the meetings and attendees tables here.
    pub fn read_cold(
        conn: &rusqlite::Connection,
        config: &Config,
        uid: &str,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<CalendarRows> {
        let tx = conn.unchecked_transaction()?;
        let version = changes::version(&tx, uid)?;
        let mail = users::mail_of(&tx, uid)?.unwrap_or_default();
        Self::read_rows(&tx, config, uid, &mail, version, now)
    }

    /// [`CalendarStore::read_cold`] in the caller's transaction, given the version and address it read.
    fn read_rows(
        tx: &rusqlite::Connection,
        config: &Config,
        uid: &str,
        mail: &str,
        version: changes::Version,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<CalendarRows> {
        let since = now - Duration::days(i64::from(config.calendar.past_days));
        let events = renderings::calendar_events(tx, uid, mail, since)?;
        Ok(CalendarRows { version, mail: mail.to_string(), events })
    }

    /// Renders the calendar of `uid` from what [`CalendarStore::read_cold`] read.
    pub fn render_cold(config: &Config, rows: CalendarRows, now: DateTime<Utc>) -> Snapshot {
        render(config, &rows.mail, rows.version, rows.events, now)
    }
}

pub enum FeedLookup {
    Calendar(Arc<Snapshot>),
    Revoked,
    Unknown,
}

/// Renders a user's meetings into CalDAV objects and a feed.
fn render(
    config: &Config,
    mail: &str,
    version: changes::Version,
    events: Vec<StoredEvent>,
    now: DateTime<Utc>,
) -> Snapshot {
    let tr = Tr::new(Lang::parse(&config.server.default_language).unwrap_or(Lang::Fr), config.display_tz());
    let prodid = config.calendar_prodid();
    let viewing =
        event::Viewing { base_url: config.public_base(), tr, alarm_minutes: &config.calendar.alarm_minutes, now };
    let past = Duration::days(i64::from(config.calendar.past_days));
    let mut valid_until = now + disk::MAX_VALIDITY;
    let info = ics::CalendarInfo {
        prodid: prodid.clone(),
        name: config.calendar_name(),
        description: if config.calendar.description.is_empty() {
            config.calendar_name()
        } else {
            config.calendar.description.clone()
        },
        refresh_minutes: config.calendar.refresh_minutes,
        time_zone: config.server.display_time_zone.clone(),
    };
    // Memory matters here. Each event is written once, from its stored shared lines and the viewer's
    // own, into one buffer that is the feed itself, sized up front; CalDAV objects are slices of it
    // between a header and a footer shared by all of them. CalDAV answers escape the blocks they send
    // as they write them (see `XmlOut::calendar_text`).
    let mut feed = ics::feed_head(&info, now);
    let head_len = feed.len();
    let shared_bytes: usize = events.iter().filter_map(|e| e.shared.as_ref()).map(|s| s.lines.len()).sum();
    feed.reserve(shared_bytes + events.len() * 1024 + ics::CALENDAR_END.len());
    /// What an object keeps of its event: UID, last modification, start, end, free-busy kind.
    type Meta = (String, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, Option<ics::BusyKind>);
    let mut meta: Vec<Meta> = Vec::with_capacity(events.len());
    let mut blocks = Vec::with_capacity(events.len());
    for e in events {
        if e.partstat == PartStat::Declined && !config.calendar.show_declined {
            continue;
        }
        let start = feed.len();
        let Some(modified) = renderings::write_viewer_event(&mut feed, &e, &viewing) else { continue };
        blocks.push(start..feed.len());
        // The rendering changes when an alarm passes or the meeting leaves the window.
        for minutes in viewing.alarm_minutes {
            let trigger = e.start - Duration::minutes(i64::from(*minutes));
            if trigger > now {
                valid_until = valid_until.min(trigger);
            }
        }
        valid_until = valid_until.min(e.end + past);
        meta.push((e.ical_uid, modified, e.start, e.end, event::free_busy_of(e.role, e.partstat)));
    }
    feed.push_str(ics::CALENDAR_END);
    // Deletions and time move the calendar's own date; it never goes backwards.
    let last_modified = meta.iter().map(|m| m.1).chain(version.changed_at).max().unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    // Every resource has the same header (VERSION, PRODID, CALSCALE): kept once.
    let head = Bytes::from(ics::resource_head(&prodid));
    let tail = resource_tail();
    // The buffer was sized by an estimate of the viewer's lines; the cache charges what the feed holds,
    // so give back what the estimate overshot (shrinking in place, as the allocator usually can).
    feed.shrink_to_fit();
    let feed = Bytes::from(feed);
    let mut objects = Vec::with_capacity(meta.len());
    let mut by_name = HashMap::with_capacity(meta.len());
    // The feed's ETag covers its header and each object's ETag (each covering that object's bytes):
    // it changes with any byte of the feed, for one hashing pass over the events instead of two.
    let mut feed_tag = ics::EtagHasher::new();
    feed_tag.update(&feed[..head_len]);
    for ((uid, modified, start, end, busy), block) in meta.into_iter().zip(blocks) {
        let event = feed.slice(block);
        let name = ics::object_name_for_uid(&uid);
        let etag = ics::etag_of_parts(&[&head, &event, &tail]);
        feed_tag.update(etag.as_bytes());
        by_name.insert(name.clone(), objects.len());
        objects.push(CalObject {
            name,
            etag,
            body_parts: [head.clone(), event, tail.clone()],
            last_modified: modified,
            start,
            end,
            busy,
        });
    }
    let feed_etag = feed_tag.finish();
    Snapshot {
        ctag: version.ctag,
        generation: NEXT_GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        mail: mail.to_string(),
        valid_until,
        objects,
        by_name,
        feed,
        feed_etag,
        last_modified,
    }
}

fn backend_err(e: DbError) -> BackendError {
    BackendError::new(e)
}

impl CalendarBackend for CalendarStore {
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Option<Principal>, BackendError>> {
        // Every request checks the password against what is stored: a sign-in is reused only while the
        // database's data version is the one it was checked at (a password replaced by another process
        // sharing the database used to keep working there for a minute). Otherwise the store is read,
        // and the same read makes the user's calendar current in memory (confirmed, read back from disk
        // or rendered), so that the rest of the request needs no other read: nearly every CalDAV request
        // reads the calendar, and each read is a round trip to another thread.
        Box::pin(async move {
            let user = user.trim().to_lowercase();
            if user.is_empty() || password.is_empty() || password.len() > 512 {
                return Ok(None);
            }
            let key = (user.clone(), users::password_hash(password));
            // Read before the check below: a commit after this point makes the entry stale.
            let version = self.db.data_version();
            if let Some(version) = version
                && let Some((principal, checked_at)) = self.sign_ins.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
                && *checked_at == version
            {
                return Ok(Some(principal.clone()));
            }
            let password = password.to_string();
            let epoch = self.db.write_epoch();
            let (levels, now) = (self.levels.clone(), self.clock.now());
            let found = self
                .db
                .read(move |c| -> Result<_, DbError> {
                    let tx = c.unchecked_transaction()?;
                    let Some(user) = users::check_calendar_password(&tx, &user, &password)? else {
                        return Ok(None);
                    };
                    let snapshot = levels.current_in(&tx, &user.uid, &user.mail, now, epoch)?;
                    Ok(Some((user, snapshot)))
                })
                .await
                .map_err(backend_err)?;
            let Some((users::User { uid, mail, name, .. }, snapshot)) = found else {
                tracing::info!(target: "audit", route = "/dav", decision = "DENIED", "calendar password refused");
                return Ok(None);
            };
            pin(&uid, &snapshot);
            let principal = Principal { uid, mail, display_name: name };
            if let Some(version) = version {
                let mut sign_ins = self.sign_ins.lock().unwrap_or_else(|p| p.into_inner());
                if sign_ins.len() >= 4096 {
                    sign_ins.clear();
                }
                sign_ins.insert(key, (principal.clone(), version));
            }
            Ok(Some(principal))
        })
    }

    fn state<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<CalendarState, BackendError>> {
        Box::pin(async move {
            // The version and the rendering it belongs to, read together.
            let s = self.snapshot(uid).await.map_err(backend_err)?;
            Ok(CalendarState { ctag: s.ctag, generation: s.generation })
        })
    }

    fn objects<'a>(
        &'a self,
        uid: &'a str,
        range: Option<TimeRange>,
    ) -> BoxFuture<'a, Result<Vec<CalObject>, BackendError>> {
        Box::pin(async move {
            let s = self.snapshot(uid).await.map_err(backend_err)?;
            Ok(match range {
                None => s.objects.clone(),
                Some((start, end)) => {
                    // Objects are sorted by start: everything from the first one starting at or
                    // after `end` on is out.
                    let upper = end.map_or(s.objects.len(), |e| s.objects.partition_point(|o| o.start < e));
                    s.objects[..upper].iter().filter(|o| start.is_none_or(|st| st < o.end)).cloned().collect()
                }
            })
        })
    }

    fn object<'a>(&'a self, uid: &'a str, name: &'a str) -> BoxFuture<'a, Result<Option<CalObject>, BackendError>> {
        Box::pin(async move {
            let s = self.snapshot(uid).await.map_err(backend_err)?;
            Ok(s.by_name.get(name).map(|i| s.objects[*i].clone()))
        })
    }

    fn changes_since<'a>(
        &'a self,
        uid: &'a str,
        ctag: i64,
        limit: Option<usize>,
    ) -> BoxFuture<'a, Result<Result<Changes, SyncError>, BackendError>> {
        Box::pin(async move {
            // The rendering first, then the log up to exactly its version: every object reported changed
            // is served as it is at the token handed out, and later changes come next time.
            let mut s = self.snapshot(uid).await.map_err(backend_err)?;
            if ctag > s.ctag {
                // The client saw a newer version than the cached rendering: read the store again.
                s = self.fresh_snapshot(uid, self.db.write_epoch()).await.map_err(backend_err)?;
            }
            let key = uid.to_string();
            let until = s.ctag;
            let (oldest, mut names) = self
                .db
                .read(move |c| -> Result<_, DbError> {
                    let oldest = changes::version(c, &key)?.oldest;
                    let names = if ctag >= oldest && ctag <= until {
                        // One more than the limit tells whether the list was cut.
                        changes::changed_between(c, &key, ctag, until, limit.map(|n| n.saturating_add(1)))?
                    } else {
                        Vec::new()
                    };
                    Ok((oldest, names))
                })
                .await
                .map_err(backend_err)?;
            if ctag < oldest || ctag > until {
                return Ok(Err(SyncError::InvalidToken));
            }
            let truncated = limit.is_some_and(|n| names.len() > n);
            // The token handed out is the rendering's version, or when the list is cut, the latest change
            // of the last object kept (the bodies sent are never older than the token says).
            let new_ctag = match limit {
                Some(n) if truncated => {
                    names.truncate(n);
                    names.last().map_or(ctag, |(_, latest)| *latest)
                }
                _ => until,
            };
            let mut out = Changes { changed: Vec::new(), removed: Vec::new(), ctag: new_ctag, truncated };
            for (name, _) in names {
                match s.by_name.get(&name) {
                    Some(i) => out.changed.push(s.objects[*i].clone()),
                    None => out.removed.push(name),
                }
            }
            Ok(Ok(out))
        })
    }

    fn calendar_ics<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<String, BackendError>> {
        Box::pin(async move {
            let s = self.snapshot(uid).await.map_err(backend_err)?;
            Ok(String::from_utf8_lossy(&s.feed).into_owned())
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
