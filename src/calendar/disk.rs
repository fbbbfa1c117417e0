//! Rendered calendars kept on disk, below the in-memory cache: a calendar client polls every 15 to 60
//! minutes, far longer than a busy site's calendars stay in memory, and between two polls most calendars
//! have not changed. Rendering one again costs reading every event's row (a random page each) and
//! writing it out; reading it back from a file costs one read and an LZ4 decompression.
//!
//! One file per user, named after a hash of the uid, in a private folder (0700, files 0600: the
//! renderings hold every personal link). A file is used only when everything its rendering depended on
//! is unchanged: the user's calendar version (`ctag` and the time of its last change, so that a database
//! restored from a backup, whose versions count again from older values, never matches a later file) and
//! address as read from the store in the request's transaction, the span of time in which it is valid
//! (alarms passing, meetings leaving the window), and a fingerprint of the settings and the program that
//! rendered it. It is a cache and never the truth: a missing, outdated, damaged or unreadable file is
//! rendered again, and any error writing one is logged (at most every few minutes) and ignored. A new
//! rendering is written over the previous file; the checksum over the whole file makes a reader that
//! meets one half written, two written at once, or one cut by a crash, render again instead. Nothing is
//! deleted on change: an outdated file no longer matches and is replaced at the next read;
//! [`sweep_for`] removes files older than any rendering stays valid, whether the cache is on or off.
//!
//! The file format is jmb's own, because it is a private cache: a magic line, the header's length
//! (4 bytes, big-endian), the header (the key and each object's name, ETag, dates and place in the
//! feed) in `postcard`'s compact binary form, the feed compressed with LZ4 (`lz4_flex`), and an
//! XXH3-128 of all that. A cold CalDAV request reads one of these files, so reading one is kept cheap:
//! the header was JSON, whose parsing took a tenth of a cold REPORT's time, and the checksum SHA-256.
//! The checksum only has to catch accidents (a torn write, a damaged disk): whoever can write in the
//! private folder could write a matching SHA-256 as well.

use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::xxh3_128;

use crate::caldav::CalObject;
use crate::ics;

/// First bytes of every file; bump the digit when the layout or what a file means changes.
const MAGIC: &[u8; 8] = b"JMBCAL3\n";

/// Larger files are not read, nor feeds that would decompress larger (no rendering comes close: a
/// 2 000-event calendar is about 3.5 MB).
const MAX_FILE: u64 = 64 * 1024 * 1024;
const MAX_FEED: usize = 64 * 1024 * 1024;

/// A rendering is valid for at most this long after it was made (see `store::render`).
pub const MAX_VALIDITY: chrono::Duration = chrono::Duration::days(1);

/// Files not written for longer than this are useless: [`sweep_for`] removes them.
const SWEEP_AFTER: Duration = Duration::from_secs(25 * 3600);

/// Renderings on disk, for one configuration of one program.
pub struct DiskCache {
    dir: PathBuf,
    /// What else a rendering depends on (see [`fingerprint`]), hex.
    fingerprint: String,
}

/// The folder of the renderings: beside the database file, its name followed by `-calendars` (as SQLite
/// names its `-wal` and `-shm` files).
pub fn dir_of(config: &crate::config::Config) -> PathBuf {
    let mut name = config.database.path.clone().into_os_string();
    name.push("-calendars");
    PathBuf::from(name)
}

/// [`dir_of`], or none when `calendar.disk_cache` is off.
pub fn dir_for(config: &crate::config::Config) -> Option<PathBuf> {
    config.calendar.disk_cache.then(|| dir_of(config))
}

/// Removes from the folder of `config`'s renderings the files not written for longer than any rendering
/// stays valid, also when the cache is off (so that renderings, which hold personal links, do not outlive
/// their use). Returns how many were removed.
pub fn sweep_for(config: &crate::config::Config) -> std::io::Result<usize> {
    let dir = dir_of(config);
    if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
        return Ok(0);
    }
    let mut removed = 0;
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > SWEEP_AFTER);
        let ours = entry.file_name().to_str().is_some_and(|n| n.ends_with(".cal"));
        if old && ours && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// What identifies a rendering besides its key: the program (its version, the formats of what it stores,
/// and a hash of the executable, which any rebuild changes) and `settings` (what the rendering reads from
/// the configuration), so that an upgrade or a configuration change never serves what the former one
/// rendered. The executable's content, not its size and date: two reproducible builds (a Debian
/// package's files all dated from its changelog) may have the same ones. Hashing it (about 20 MB, read
/// from the page cache) takes a few milliseconds, once per process.
pub fn fingerprint(settings: &str) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    h.update(super::renderings::FORMAT.to_be_bytes());
    h.update(MAGIC);
    h.update(program_hash());
    h.update(settings.as_bytes());
    hex::encode(h.finalize())
}

/// The running program's [`content_hash`], computed once per process.
fn program_hash() -> [u8; 16] {
    static PROGRAM: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
    *PROGRAM.get_or_init(|| {
        // /proc/self/exe is the running image even once a package upgrade replaced the file on disk
        // (whose path then no longer opens, or opens the new program).
        content_hash(Path::new("/proc/self/exe"))
            .or_else(|_| std::env::current_exe().and_then(|path| content_hash(&path)))
            .unwrap_or_else(|_| {
                // Unreadable (an unusual sandbox): the start time stands in, so nothing rendered by an
                // earlier process is used.
                let started = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
                xxh3_128(&started.as_nanos().to_be_bytes()).to_be_bytes()
            })
    })
}

/// XXH3-128 of a file's content, read in blocks.
fn content_hash(path: &Path) -> std::io::Result<[u8; 16]> {
    let mut file = fs::File::open(path)?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut block = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut block)? {
            0 => return Ok(hasher.digest128().to_be_bytes()),
            n => hasher.update(&block[..n]),
        }
    }
}

/// What a stored rendering is looked up by.
pub struct Key<'a> {
    pub uid: &'a str,
    pub ctag: i64,
    /// When the calendar last changed (the store's `changed_at`), in microseconds; 0 if never.
    pub changed_at: i64,
    pub mail: &'a str,
    pub now: DateTime<Utc>,
}

/// A rendering as read back: everything of a snapshot but what is made anew for each (its generation,
/// the index by name).
pub struct Stored {
    pub ctag: i64,
    pub mail: String,
    pub valid_until: DateTime<Utc>,
    pub objects: Vec<CalObject>,
    pub feed: Bytes,
    pub feed_etag: String,
    pub last_modified: DateTime<Utc>,
}

/// A rendering to store. Each object's event must be a slice of `feed`.
pub struct Rendering<'a> {
    pub ctag: i64,
    pub changed_at: i64,
    pub mail: &'a str,
    pub rendered_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub objects: &'a [CalObject],
    pub feed: &'a Bytes,
    pub feed_etag: &'a str,
    pub last_modified: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    fingerprint: String,
    uid: String,
    ctag: i64,
    changed_at: i64,
    mail: String,
    rendered_at: i64,
    valid_until: i64,
    last_modified: i64,
    feed_etag: String,
    feed_len: usize,
    objects: Vec<ObjectHeader>,
}

/// An object: its event is `feed[from..to]`; times in microseconds.
#[derive(Serialize, Deserialize)]
struct ObjectHeader {
    name: String,
    etag: String,
    last_modified: i64,
    start: i64,
    end: i64,
    /// 0 free, 1 busy, 2 tentative.
    busy: u8,
    from: usize,
    to: usize,
}

/// Bytes of the checksum that ends every file.
const CHECKSUM_LEN: usize = 16;

/// The checksum of a file's bytes before it (see the module's documentation).
fn checksum(signed: &[u8]) -> [u8; CHECKSUM_LEN] {
    xxh3_128(signed).to_be_bytes()
}

/// Problems with the folder are logged at most once in this many seconds (a full disk, or a file jmb
/// cannot open, would otherwise log every request).
const WARNING_INTERVAL: i64 = 300;
static LAST_WARNING: AtomicI64 = AtomicI64::new(i64::MIN);

fn warn_now_and_then(what: &str, path: &Path, e: &std::io::Error) {
    let at = Utc::now().timestamp();
    if at.saturating_sub(LAST_WARNING.load(Ordering::Relaxed)) >= WARNING_INTERVAL {
        LAST_WARNING.store(at, Ordering::Relaxed);
        tracing::warn!(error.message = %e, path = %path.display(), "calendar cache on disk: {what}");
    }
}

/// Creates `dir` private (0700) if it is missing; refuses anything there that is not a folder (a link
/// included), and makes a folder others may read private again.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {
            if m.mode() & 0o077 != 0 {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
            }
            Ok(())
        }
        Ok(_) => Err(std::io::Error::other("exists and is not a folder")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
        }
        Err(e) => Err(e),
    }
}

impl DiskCache {
    /// Uses (creating it private if needed) the folder `dir`. Renderings of other fingerprints are ignored.
    pub fn open(dir: &Path, fingerprint: String) -> std::io::Result<Self> {
        private_dir(dir)?;
        Ok(Self { dir: dir.to_path_buf(), fingerprint })
    }

    fn path_of(&self, uid: &str) -> PathBuf {
        let name = hex::encode(&Sha256::digest(uid.as_bytes())[..16]);
        self.dir.join(format!("{name}.cal"))
    }

    /// The rendering stored for `key`, if it is that one and valid at `key.now`; `head` and `tail` are the
    /// bytes every object starts and ends with. A file that does not match, or cannot be read, is `None`.
    pub fn load(&self, key: &Key<'_>, head: &Bytes, tail: &Bytes) -> Option<Stored> {
        let path = self.path_of(key.uid);
        // Never through a link, never waiting on a pipe: only a regular file is read.
        let opened = fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(&path);
        let file = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                warn_now_and_then("a file cannot be read", &path, &e);
                return None;
            }
        };
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_FILE {
            return None;
        }
        let mut data = Vec::with_capacity(usize::try_from(meta.len()).ok()?);
        file.take(MAX_FILE).read_to_end(&mut data).ok()?;
        self.parse(&data, key, head, tail)
    }

    fn parse(&self, data: &[u8], key: &Key<'_>, head: &Bytes, tail: &Bytes) -> Option<Stored> {
        let (signed, sum) = data.split_last_chunk::<CHECKSUM_LEN>()?;
        let body = signed.strip_prefix(MAGIC.as_slice())?;
        let (len, rest) = body.split_first_chunk::<4>()?;
        let (header, compressed) = rest.split_at_checked(usize::try_from(u32::from_be_bytes(*len)).ok()?)?;
        // The key first: after a change, the outdated file is turned down without hashing it.
        let header: Header = postcard::from_bytes(header).ok()?;
        let rendered_at = DateTime::from_timestamp_micros(header.rendered_at)?;
        let valid_until = DateTime::from_timestamp_micros(header.valid_until)?;
        if header.fingerprint != self.fingerprint
            || header.uid != key.uid
            || header.ctag != key.ctag
            || header.changed_at != key.changed_at
            || header.mail != key.mail
            || key.now < rendered_at
            || key.now >= valid_until
        {
            return None;
        }
        if checksum(signed) != *sum {
            return None;
        }
        let (size, _) = lz4_flex::block::uncompressed_size(compressed).ok()?;
        if size != header.feed_len || size > MAX_FEED {
            return None;
        }
        // What jmb wrote (the checksum says so): from a `String`, hence UTF-8; the bytes are served as
        // bytes anyway.
        let feed = Bytes::from(lz4_flex::decompress_size_prepended(compressed).ok()?);
        let mut objects = Vec::with_capacity(header.objects.len());
        for o in header.objects {
            if o.from > o.to || o.to > feed.len() {
                return None;
            }
            objects.push(CalObject {
                name: o.name,
                etag: o.etag,
                body_parts: [head.clone(), feed.slice(o.from..o.to), tail.clone()],
                last_modified: DateTime::from_timestamp_micros(o.last_modified)?,
                start: DateTime::from_timestamp_micros(o.start)?,
                end: DateTime::from_timestamp_micros(o.end)?,
                busy: match o.busy {
                    0 => None,
                    1 => Some(ics::BusyKind::Busy),
                    2 => Some(ics::BusyKind::Tentative),
                    _ => return None,
                },
            });
        }
        Some(Stored {
            ctag: header.ctag,
            mail: header.mail,
            valid_until,
            objects,
            feed,
            feed_etag: header.feed_etag,
            last_modified: DateTime::from_timestamp_micros(header.last_modified)?,
        })
    }

    /// Stores the rendering of `uid`'s calendar, replacing the previous one; failures are logged now and
    /// then and otherwise ignored (the next poll renders again).
    pub fn save(&self, uid: &str, s: &Rendering<'_>) {
        let path = self.path_of(uid);
        if let Err(e) = self.write(&path, uid, s) {
            warn_now_and_then("a rendering could not be written", &path, &e);
        }
    }

    fn write(&self, path: &Path, uid: &str, s: &Rendering<'_>) -> std::io::Result<()> {
        let data = self.encode(uid, s)?;
        // Written over the previous file rather than aside and renamed: a new file per rendering made
        // the file system allocate an inode each time, under the folder's lock, which cost more than
        // the rendering. A reader meeting a file half rewritten, or two renderings written at once,
        // finds a checksum that does not match and renders again. Never through a link.
        let open = || {
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
        };
        let mut file = match open() {
            // The folder was removed while jmb runs: made again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                private_dir(&self.dir)?;
                open()?
            }
            other => other?,
        };
        if !file.metadata()?.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        file.write_all(&data)?;
        file.set_len(data.len() as u64)
    }

    fn encode(&self, uid: &str, s: &Rendering<'_>) -> std::io::Result<Vec<u8>> {
        let base = s.feed.as_ptr() as usize;
        let mut objects = Vec::with_capacity(s.objects.len());
        for o in s.objects {
            let event = &o.body_parts[1];
            let from = (event.as_ptr() as usize).wrapping_sub(base);
            if from > s.feed.len() || s.feed.len() - from < event.len() {
                return Err(std::io::Error::other("an object's event is not part of the feed"));
            }
            objects.push(ObjectHeader {
                name: o.name.clone(),
                etag: o.etag.clone(),
                last_modified: o.last_modified.timestamp_micros(),
                start: o.start.timestamp_micros(),
                end: o.end.timestamp_micros(),
                busy: match o.busy {
                    None => 0,
                    Some(ics::BusyKind::Busy) => 1,
                    Some(ics::BusyKind::Tentative) => 2,
                },
                from,
                to: from + event.len(),
            });
        }
        let header = postcard::to_allocvec(&Header {
            fingerprint: self.fingerprint.clone(),
            uid: uid.to_string(),
            ctag: s.ctag,
            changed_at: s.changed_at,
            mail: s.mail.to_string(),
            rendered_at: s.rendered_at.timestamp_micros(),
            valid_until: s.valid_until.timestamp_micros(),
            last_modified: s.last_modified.timestamp_micros(),
            feed_etag: s.feed_etag.to_string(),
            feed_len: s.feed.len(),
            objects,
        })
        .map_err(std::io::Error::other)?;
        let compressed = lz4_flex::compress_prepend_size(s.feed);
        let len = u32::try_from(header.len()).map_err(std::io::Error::other)?;
        let mut data = Vec::with_capacity(MAGIC.len() + 4 + header.len() + compressed.len() + CHECKSUM_LEN);
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&len.to_be_bytes());
        data.extend_from_slice(&header);
        data.extend_from_slice(&compressed);
        let sum = checksum(&data);
        data.extend_from_slice(&sum);
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::db::tempdir::TempDirGuard;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Two builds of the same size and date (reproducible builds) are told apart by their content; the
    /// same program and settings always give the same fingerprint.
    #[test]
    fn the_program_is_identified_by_its_content() {
        let dir = TempDirGuard::new().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let date = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for (path, byte) in [(&a, 1u8), (&b, 2u8)] {
            let mut content = vec![0u8; 200_000];
            content[150_000] = byte;
            fs::write(path, &content).unwrap();
            fs::File::options().write(true).open(path).unwrap().set_modified(date).unwrap();
        }
        assert_eq!(fs::metadata(&a).unwrap().modified().unwrap(), fs::metadata(&b).unwrap().modified().unwrap());
        assert_ne!(content_hash(&a).unwrap(), content_hash(&b).unwrap());
        assert_eq!(content_hash(&a).unwrap(), content_hash(&a).unwrap());
        assert_eq!(fingerprint("settings"), fingerprint("settings"));
        assert_ne!(fingerprint("settings"), fingerprint("other settings"));
    }

    /// A feed with two events and its objects, as `store::render` lays them out.
    fn rendering_parts() -> (Bytes, Vec<CalObject>, Bytes, Bytes) {
        let feed = Bytes::from(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:é\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        );
        let (head, tail) = (Bytes::from_static(b"HEAD\r\n"), Bytes::from_static(b"TAIL\r\n"));
        let text = std::str::from_utf8(&feed).unwrap();
        let (a, b) = (text.find("BEGIN:VEVENT").unwrap(), text.rfind("BEGIN:VEVENT").unwrap());
        let first = feed.slice(a..b);
        let second = feed.slice(b..text.find("END:VCALENDAR").unwrap());
        assert!(first.starts_with(b"BEGIN:VEVENT") && second.ends_with(b"END:VEVENT\r\n"));
        let object = |name: &str, event: Bytes, busy| CalObject {
            name: name.into(),
            etag: format!("\"{name}\""),
            body_parts: [head.clone(), event, tail.clone()],
            last_modified: at("2026-12-01T08:00:00.123456Z"),
            start: at("2026-12-05T09:00:00Z"),
            end: at("2026-12-05T10:30:00Z"),
            busy,
        };
        let objects = vec![
            object("a.ics", first, Some(ics::BusyKind::Busy)),
            object("b.ics", second, Some(ics::BusyKind::Tentative)),
        ];
        (feed, objects, head, tail)
    }

    fn rendering<'a>(feed: &'a Bytes, objects: &'a [CalObject]) -> Rendering<'a> {
        Rendering {
            ctag: 7,
            changed_at: 1_000,
            mail: "jean@x.org",
            rendered_at: at("2026-12-01T08:30:00Z"),
            valid_until: at("2026-12-05T08:50:00Z"),
            objects,
            feed,
            feed_etag: "\"feed\"",
            last_modified: at("2026-12-01T08:00:00Z"),
        }
    }

    fn key(now: &str) -> Key<'static> {
        Key { uid: "jdupont", ctag: 7, changed_at: 1_000, mail: "jean@x.org", now: at(now) }
    }

    #[test]
    fn a_rendering_comes_back_whole_and_only_for_its_key() {
        let dir = TempDirGuard::new().unwrap();
        let folder = dir.path().join("db.sqlite3-calendars");
        let cache = DiskCache::open(&folder, "fp1".into()).unwrap();
        let (feed, objects, head, tail) = rendering_parts();
        cache.save("jdupont", &rendering(&feed, &objects));

        let back = cache.load(&key("2026-12-01T09:00:00Z"), &head, &tail).expect("stored");
        assert_eq!((back.ctag, back.mail.as_str(), back.feed_etag.as_str()), (7, "jean@x.org", "\"feed\""));
        assert_eq!((back.valid_until, back.last_modified), (at("2026-12-05T08:50:00Z"), at("2026-12-01T08:00:00Z")));
        assert_eq!(back.feed, feed);
        assert_eq!(back.objects.len(), 2);
        for (a, b) in back.objects.iter().zip(&objects) {
            assert_eq!((&a.name, &a.etag, a.busy), (&b.name, &b.etag, b.busy));
            assert_eq!((a.last_modified, a.start, a.end), (b.last_modified, b.start, b.end));
            assert_eq!(a.body_parts, b.body_parts);
        }

        // Anything else it depended on: another version (also the same count changed at another time, as
        // in a restored database), address, a time outside its span, another program or settings, another
        // user.
        assert!(cache.load(&Key { ctag: 8, ..key("2026-12-01T09:00:00Z") }, &head, &tail).is_none());
        assert!(cache.load(&Key { changed_at: 2_000, ..key("2026-12-01T09:00:00Z") }, &head, &tail).is_none());
        assert!(cache.load(&key("2026-12-01T08:00:00Z"), &head, &tail).is_none(), "before it was rendered");
        assert!(cache.load(&Key { mail: "new@x.org", ..key("2026-12-01T09:00:00Z") }, &head, &tail).is_none());
        assert!(cache.load(&key("2026-12-05T08:50:00Z"), &head, &tail).is_none(), "expired at valid_until");
        let other = DiskCache::open(&folder, "fp2".into()).unwrap();
        assert!(other.load(&key("2026-12-01T09:00:00Z"), &head, &tail).is_none());
        assert!(cache.load(&Key { uid: "mmartin", ..key("2026-12-01T09:00:00Z") }, &head, &tail).is_none());
        // A file copied under another user's name is not theirs.
        fs::copy(cache.path_of("jdupont"), cache.path_of("mmartin")).unwrap();
        assert!(cache.load(&Key { uid: "mmartin", ..key("2026-12-01T09:00:00Z") }, &head, &tail).is_none());

        // Private: the folder 0700, files 0600, nothing left aside.
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&cache.path_of("jdupont")), 0o600);
        let names: Vec<String> =
            fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert!(names.iter().all(|n| n.ends_with(".cal")), "{names:?}");

        // Replaced by the next rendering, a shorter file over a longer one included.
        cache.save(
            "jdupont",
            &Rendering { ctag: 8, mail: "a-much-longer-address@example.org", ..rendering(&feed, &objects) },
        );
        let long = Key { ctag: 8, mail: "a-much-longer-address@example.org", ..key("2026-12-01T09:00:00Z") };
        assert!(cache.load(&key("2026-12-01T09:00:00Z"), &head, &tail).is_none());
        assert!(cache.load(&long, &head, &tail).is_some());
        let long_len = fs::metadata(cache.path_of("jdupont")).unwrap().len();
        cache.save("jdupont", &Rendering { ctag: 9, ..rendering(&feed, &objects) });
        assert!(fs::metadata(cache.path_of("jdupont")).unwrap().len() < long_len);
        assert!(cache.load(&Key { ctag: 9, ..key("2026-12-01T09:00:00Z") }, &head, &tail).is_some());

        // Removed while jmb runs: made again, private, at the next rendering.
        fs::remove_dir_all(&folder).unwrap();
        cache.save("jdupont", &rendering(&feed, &objects));
        assert_eq!(mode(&folder), 0o700);
        assert!(cache.load(&key("2026-12-01T09:00:00Z"), &head, &tail).is_some());
    }

    /// Damaged files (a crash before the data reached the disk, a full disk, someone's editor) are
    /// never served, whatever byte is wrong.
    #[test]
    fn a_damaged_file_is_not_served() {
        let dir = TempDirGuard::new().unwrap();
        let cache = DiskCache::open(dir.path(), "fp".into()).unwrap();
        let (feed, objects, head, tail) = rendering_parts();
        cache.save("jdupont", &rendering(&feed, &objects));
        let path = cache.path_of("jdupont");
        let good = fs::read(&path).unwrap();
        let now = key("2026-12-01T09:00:00Z");
        for i in (0..good.len()).step_by(7) {
            let mut bad = good.clone();
            bad[i] ^= 0x20;
            fs::write(&path, &bad).unwrap();
            assert!(cache.load(&now, &head, &tail).is_none(), "byte {i} changed");
        }
        for len in [0, 5, 8, 12, good.len() / 2, good.len() - 1] {
            fs::write(&path, &good[..len]).unwrap();
            assert!(cache.load(&now, &head, &tail).is_none(), "cut at {len}");
        }
        // A newer file written over without its end cut (a crash between the write and the truncation).
        let mut torn = good.clone();
        torn.extend_from_slice(b"left over from a longer file");
        fs::write(&path, &torn).unwrap();
        assert!(cache.load(&now, &head, &tail).is_none());
        fs::write(&path, &good).unwrap();
        assert!(cache.load(&now, &head, &tail).is_some());
        // Not through a link, not a pipe.
        fs::remove_file(&path).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, &good).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(cache.load(&now, &head, &tail).is_none());
        cache.save("jdupont", &rendering(&feed, &objects));
        assert_eq!(fs::read(&elsewhere).unwrap(), good, "never written through the link");
    }

    #[test]
    fn objects_must_be_part_of_the_feed() {
        let dir = TempDirGuard::new().unwrap();
        let cache = DiskCache::open(dir.path(), "fp".into()).unwrap();
        let (feed, mut objects, _, _) = rendering_parts();
        objects[1].body_parts[1] = Bytes::from_static(b"BEGIN:VEVENT\r\nEND:VEVENT\r\n");
        assert!(cache.encode("jdupont", &rendering(&feed, &objects)).is_err());
        cache.save("jdupont", &rendering(&feed, &objects));
        assert!(!cache.path_of("jdupont").exists());
    }

    #[test]
    fn the_sweep_removes_only_what_has_expired_also_when_the_cache_is_off() {
        let dir = TempDirGuard::new().unwrap();
        let mut config = crate::config::Config::default();
        config.database.path = dir.path().join("jmb.sqlite3");
        assert_eq!(sweep_for(&config).unwrap(), 0, "no folder yet");
        let cache = DiskCache::open(&dir_of(&config), "fp".into()).unwrap();
        let (feed, objects, _, _) = rendering_parts();
        for uid in ["old", "new"] {
            cache.save(uid, &rendering(&feed, &objects));
        }
        let unrelated = dir_of(&config).join("notes.txt");
        fs::write(&unrelated, b"mine").unwrap();
        let long_ago = SystemTime::now() - SWEEP_AFTER - Duration::from_secs(60);
        for p in [cache.path_of("old"), unrelated.clone()] {
            fs::File::options().write(true).open(&p).unwrap().set_modified(long_ago).unwrap();
        }
        config.calendar.disk_cache = false;
        assert_eq!(sweep_for(&config).unwrap(), 1);
        assert!(!cache.path_of("old").exists());
        assert!(cache.path_of("new").exists() && unrelated.exists());
    }
}
