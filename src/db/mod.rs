//! The store gateway: SQLite through rusqlite, reached from async code only through [`Db::read`] and
//! [`Db::write`], which run the closure on tokio's blocking pool so the runtime never waits on SQLite.
//!
//! Writes all go through one connection and run in `BEGIN IMMEDIATE` transactions: jmb's own writers
//! queue instead of racing for SQLite's lock, so no `SQLITE_BUSY` reaches a user (the busy timeout
//! still covers other processes, such as `jmb migrate`). They queue on an async lock *before* taking a
//! blocking thread, so a burst of writes holds one blocking thread, not all of them, and reads (which
//! use a small pool of connections and see WAL snapshots) never wait behind it. Writes that queued
//! while a batch ran are committed together (group commit), each after the first in a savepoint of its
//! own (a failing first write rolls its transaction back whole). A hand-written pool is used because the
//! pooling crates pin other rusqlite versions than the one the migration crate needs.
//!
//! Commits do not checkpoint the write-ahead log: a background job does, on a connection of its own
//! ([`Db::checkpoint`]), so a booking never waits for the database file to be written.
//!
//! Every committed write that changed rows bumps an epoch: caches derived from the store compare it,
//! and background jobs subscribe to it ([`Db::subscribe_commits`]) to re-plan when bookings change.

pub mod migrate;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use tokio::sync::Semaphore;

/// A storage failure. Constraint violations are mapped by the callers that expect them.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration: {0}")]
    Migration(String),
    #[error("database task failed: {0}")]
    Task(String),
    /// The store opens but cannot be written (read-only file, folder or file system, a lock held
    /// elsewhere): every booking would fail.
    #[error("database {path}: cannot write: {reason}")]
    NotWritable { path: PathBuf, reason: String },
}

#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    /// Bumped after every committed write that changed rows: in-memory caches derived from the store
    /// use it to know that nothing was written since they last looked.
    write_epoch: std::sync::atomic::AtomicU64,
    /// The same count, for tasks that wait for writes.
    commits: tokio::sync::watch::Sender<u64>,
    /// Writes waiting for the next batch (see [`Db::write`]).
    queue: Mutex<std::collections::VecDeque<Queued>>,
    /// Held while a batch runs (by the blocking task that runs it, so a caller that goes away cannot
    /// release it early); the callers waiting for their turn queue here, without a blocking thread.
    write_gate: Arc<tokio::sync::Mutex<()>>,
    writer: Mutex<Connection>,
    /// Copies the write-ahead log into the database file, beside the writer (see [`Db::checkpoint`]).
    checkpointer: Mutex<Connection>,
    /// The read connections not in use, the next one handed out last (see [`Reader`]).
    readers: Mutex<Vec<Reader>>,
    /// One permit per read connection, held until the connection is back in the pool (see [`Db::read`]).
    reader_slots: Arc<Semaphore>,
    /// The database file, for messages.
    path: PathBuf,
    /// A read-only connection that never writes, for [`Db::data_version`].
    version_probe: Mutex<Connection>,
    /// The last write probe ([`Db::check_writable`]) and when it ran: probes are shared by callers
    /// within [`WRITE_PROBE_INTERVAL`], so polling `/healthz` cannot flood the writer.
    last_probe: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    /// Since when the write in progress (if any) holds the writer.
    writing_since: Mutex<Option<Instant>>,
    /// How long a write may hold the writer before [`Db::check_writable`] reports it ([`WRITER_STALL`]).
    writer_stall: Duration,
}

/// A read connection. One of them is warm: it keeps SQLite's default page cache and is handed out
/// whenever it is free, so reads one after the other (a person going through pages) find the pages they
/// read last still in memory. The others keep a small one ([`READER_CACHE_KIB`]): they serve reads at
/// the same time as it (cold calendars under load), and every commit by another connection empties a
/// reader's cache anyway.
struct Reader {
    conn: Connection,
    warm: bool,
}

/// Marks the writer busy from its creation to its drop (see [`Inner::writing_since`]).
struct Writing<'a>(&'a Mutex<Option<Instant>>);

impl<'a> Writing<'a> {
    fn start(slot: &'a Mutex<Option<Instant>>) -> Self {
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        Writing(slot)
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// How long the outcome of a write probe is reused.
const WRITE_PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// One caller's write, waiting in [`Inner::queue`] for a batch.
type WriteJob = Box<dyn for<'c, 't> FnOnce(Turn<'c, 't>) -> Written + Send>;

/// A queued write and whether a batch took it.
struct Queued {
    taken: Arc<std::sync::atomic::AtomicBool>,
    job: WriteJob,
}

/// Why a batch's writes were not committed, told to each of them.
enum Failure {
    Sqlite(rusqlite::Error),
    Other(String),
}

impl Failure {
    fn to_db_error(&self) -> DbError {
        match self {
            Failure::Sqlite(e) => copy_error(e),
            Failure::Other(reason) => DbError::Task(reason.clone()),
        }
    }
}

/// What a batch gives a queued write: the transaction to run in, or why there is none.
enum Turn<'c, 't> {
    Run(&'t Transaction<'c>),
    Refused(DbError),
}

/// A write's turn in a batch: whether it ran (a write refused or abandoned before its turn did not),
/// whether its changes are kept, and how its caller learns the outcome once the batch's commit
/// succeeded or failed.
struct Written {
    ran: bool,
    kept: bool,
    deliver: Deliver,
}

/// Tells a caller its write's outcome, given why its batch was not committed (if it was not).
type Deliver = Box<dyn FnOnce(Option<&Failure>) + Send>;

/// Writes committed together at most: bounds how long the first of a burst waits for the last.
const MAX_BATCH: usize = 128;

impl Inner {
    /// Runs queued writes in as few transactions as possible, then tells each caller. One, unless the
    /// first write of a transaction fails (it runs without a savepoint, so the transaction is rolled
    /// back whole and the rest go on in a new one), or SQLite itself rolls a transaction back, as it
    /// may on a full disk or an I/O error (the writes kept so far are then reported as failed and the
    /// rest go on in a new transaction).
    fn run_batch(&self, jobs: Vec<WriteJob>) {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut jobs = std::collections::VecDeque::from(jobs);
        while !jobs.is_empty() {
            let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
                Ok(tx) => tx,
                Err(e) => {
                    for job in jobs.drain(..) {
                        job(Turn::Refused(copy_error(&e)));
                    }
                    return;
                }
            };
            let changes_before = tx.total_changes();
            let mut written: Vec<Written> = Vec::with_capacity(jobs.len());
            let mut lost = None;
            // Whether a write ran in this transaction yet.
            let mut any_ran = false;
            while let Some(job) = jobs.pop_front() {
                // The first write of a transaction needs no savepoint: when it fails, the transaction
                // is rolled back whole (nothing else is in it yet) and the rest go on in a new one. A
                // savepoint journals every page its write changes: a tenth of the writer's time
                // under load.
                let isolated = any_ran;
                if isolated && let Err(e) = tx.execute_batch("SAVEPOINT jmb_write") {
                    job(Turn::Refused(copy_error(&e)));
                    if tx.is_autocommit() {
                        // The writes kept so far went with the transaction.
                        lost = Some(Failure::Sqlite(e));
                        break;
                    }
                    continue;
                }
                let done = job(Turn::Run(&tx));
                any_ran |= done.ran;
                // A write whose caller went away never ran: nothing to roll back.
                let first_failed = !isolated && done.ran && !done.kept;
                if tx.is_autocommit() {
                    // SQLite rolled the whole transaction back (it may on a full disk or an I/O
                    // error): the writes kept so far in it are gone too.
                    lost = Some(Failure::Other(
                        "the write was rolled back with its batch, after an error in another write".into(),
                    ));
                } else if isolated {
                    let end = if done.kept { "RELEASE jmb_write" } else { "ROLLBACK TO jmb_write; RELEASE jmb_write" };
                    if let Err(e) = tx.execute_batch(end) {
                        lost = Some(Failure::Sqlite(e));
                    }
                }
                written.push(done);
                if lost.is_some() || first_failed {
                    break;
                }
            }
            let any_kept = written.iter().any(|w| w.kept);
            let failure = match lost {
                Some(failure) => {
                    drop(tx);
                    Some(failure)
                }
                None if any_kept => {
                    let changed = tx.total_changes() != changes_before;
                    match tx.commit() {
                        Ok(()) => {
                            // Only a transaction that changed rows invalidates what caches derived from
                            // the store.
                            if changed {
                                self.write_epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                self.commits.send_modify(|n| *n += 1);
                            }
                            None
                        }
                        Err(e) => Some(Failure::Sqlite(e)),
                    }
                }
                None => {
                    drop(tx);
                    None
                }
            };
            for w in written {
                (w.deliver)(failure.as_ref());
            }
        }
    }
}

/// The same error again, for each caller of a batch that failed: SQLite's codes are kept.
fn copy_error(e: &rusqlite::Error) -> DbError {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(*code, message.clone()))
        }
        other => DbError::Task(other.to_string()),
    }
}

/// A write in progress counts as the write probe until it has held the writer this long: a health
/// check never queues behind bookings (a load balancer would take a busy node out), but a writer stuck
/// for this long is reported.
const WRITER_STALL: Duration = Duration::from_secs(30);

impl Db {
    /// Opens (creating if needed) the database file, checks that it can be written, and applies
    /// pending migrations. A folder or file created here is private (0700, 0600) whatever the umask:
    /// the database holds every personal-link token and password hash.
    pub fn open(path: &Path, busy_timeout: Duration, readers: usize) -> Result<Self, DbError> {
        let not_writable = |path: &Path, reason: String| DbError::NotWritable { path: path.to_path_buf(), reason };
        if path.is_dir() {
            return Err(not_writable(path, "this is a folder, not a database file".into()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|e| not_writable(dir, format!("cannot create the folder: {e}")))?;
        }
        create_private_file(path).map_err(|e| not_writable(path, format!("cannot create the file: {e}")))?;
        let mut writer = open_connection(path, busy_timeout, false)?;
        // SQLite silently opens a write-protected file read-only: say so now, not at the first booking.
        probe_write(&mut writer).map_err(|reason| not_writable(path, reason))?;
        migrate::apply(&mut writer)?;
        // Commits leave checkpoints to `checkpoint` (run by a background job), unless the log grows
        // this far behind: a checkpoint inside a commit made every fifth booking with mails 3 times slower.
        writer.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        // Savepoints of a batch (see `Db::write`) journal the pages they change: in memory, not in a
        // temporary file written page by page.
        writer.pragma_update(None, "temp_store", "MEMORY")?;
        let checkpointer = open_connection(path, busy_timeout, false)?;
        checkpointer.pragma_update(None, "wal_autocheckpoint", 0)?;
        checkpointer.busy_timeout(CHECKPOINT_WAIT)?;
        // It copies pages from the log to the file and reads nothing else: no page cache worth keeping.
        checkpointer.pragma_update(None, "cache_size", CHECKPOINTER_CACHE_KIB)?;
        let readers = (0..readers.max(1))
            .map(|i| {
                let conn = open_connection(path, busy_timeout, true)?;
                // The last is handed out first (see `Db::read`).
                let warm = i + 1 == readers.max(1);
                if !warm {
                    conn.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
                }
                Ok(Reader { conn, warm })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        // Never waits: `data_version` answers `None` rather than block the async thread it runs on.
        let version_probe = open_connection(path, Duration::ZERO, true)?;
        Ok(Self::from_parts(writer, checkpointer, readers, version_probe, path))
    }

    /// Checks, without creating or changing anything, what [`Db::open`] needs: the path names a file
    /// (or a place where one can be created), the file can be opened for writing and is not from a
    /// newer jmb. `jmb check-config` runs this; the lock is taken and released, nothing is written.
    pub fn check(path: &Path, busy_timeout: Duration) -> Result<(), DbError> {
        let not_writable = |path: &Path, reason: String| DbError::NotWritable { path: path.to_path_buf(), reason };
        if path.is_dir() {
            return Err(not_writable(path, "this is a folder, not a database file".into()));
        }
        if !path.exists() {
            // Created at start: the nearest existing folder must let jmb create entries.
            let mut dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            while !dir.exists() {
                dir = dir.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            }
            if !dir.is_dir() {
                return Err(not_writable(dir, "is not a folder".into()));
            }
            return check_folder_writable(dir).map_err(|e| not_writable(dir, format!("cannot create files here: {e}")));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| not_writable(path, e.to_string()))?;
        conn.busy_timeout(busy_timeout)?;
        if conn.is_readonly(rusqlite::MAIN_DB)? {
            return Err(not_writable(path, "the file can only be opened read-only".into()));
        }
        conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").map_err(|e| not_writable(path, e.to_string()))?;
        migrate::check_version(&conn)
    }

    fn from_parts(
        writer: Connection,
        checkpointer: Connection,
        readers: Vec<Reader>,
        version_probe: Connection,
        path: &Path,
    ) -> Self {
        let slots = readers.len();
        Self {
            inner: Arc::new(Inner {
                write_epoch: std::sync::atomic::AtomicU64::new(0),
                commits: tokio::sync::watch::Sender::new(0),
                queue: Mutex::new(std::collections::VecDeque::new()),
                write_gate: Arc::new(tokio::sync::Mutex::new(())),
                writer: Mutex::new(writer),
                checkpointer: Mutex::new(checkpointer),
                readers: Mutex::new(readers),
                reader_slots: Arc::new(Semaphore::new(slots)),
                path: path.to_path_buf(),
                last_probe: tokio::sync::Mutex::new(None),
                writing_since: Mutex::new(None),
                writer_stall: WRITER_STALL,
                version_probe: Mutex::new(version_probe),
            }),
        }
    }

    /// Runs `f` on a read connection.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        // The permit travels with the blocking task and is released only once the connection is back
        // in the pool: when a request is dropped while its read runs (a client hanging up), the task
        // still holds the connection, and a permit released with the request let another read find
        // the pool empty ("no free read connection", a 500).
        let permit = self.inner.reader_slots.clone().acquire_owned().await.map_err(|e| DbError::Task(e.to_string()))?;
        let inner = self.inner.clone();
        let span = tracing::Span::current();
        let result = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let reader = inner.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(reader) = reader else {
                return Err(E::from(DbError::Task("no free read connection".into())));
            };
            let result = f(&reader.conn);
            let mut free = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            // The warm reader goes where the next read takes from; the others behind the free ones.
            if reader.warm {
                free.push(reader);
            } else {
                free.insert(0, reader);
            }
            drop(free);
            drop(permit);
            result
        })
        .await;
        join_result(result)
    }

    /// Runs `f` inside a `BEGIN IMMEDIATE` transaction; its changes are committed when it returns `Ok`
    /// and rolled back when it returns `Err` (or panics). Returns once they are committed.
    ///
    /// Group commit: writes that arrive while another batch runs wait for it and then go together into
    /// one transaction, each after the first in a savepoint of its own, so that one failing write never
    /// undoes another (when the first fails, its transaction is rolled back whole and the others go on
    /// in a new one).
    /// A commit (the log write, the cache invalidation for every reader, the wake-up of every job
    /// waiting for commits) then serves a whole batch instead of one booking each.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        let (sender, receiver) = tokio::sync::oneshot::channel::<std::thread::Result<Result<T, E>>>();
        let span = tracing::Span::current();
        let job: WriteJob = Box::new(move |turn: Turn<'_, '_>| {
            let tx = match turn {
                Turn::Run(tx) => tx,
                Turn::Refused(error) => {
                    let _ = sender.send(Ok(Err(E::from(error))));
                    return Written { ran: false, kept: false, deliver: Box::new(|_| {}) };
                }
            };
            // Its caller is gone (a request timed out or hung up) before the write began: like a write
            // that never got its turn, it does not run.
            if sender.is_closed() {
                return Written { ran: false, kept: false, deliver: Box::new(|_| {}) };
            }
            let _entered = span.enter();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(tx)));
            let kept = matches!(outcome, Ok(Ok(_)));
            let deliver = Box::new(move |failure: Option<&Failure>| {
                let outcome = match (outcome, failure) {
                    (Ok(Ok(_)), Some(failure)) => Ok(Err(E::from(failure.to_db_error()))),
                    (outcome, _) => outcome,
                };
                let _ = sender.send(outcome);
            });
            Written { ran: true, kept, deliver }
        });
        let taken = Arc::new(std::sync::atomic::AtomicBool::new(false));
        self.inner.queue.lock().unwrap_or_else(|p| p.into_inner()).push_back(Queued { taken: taken.clone(), job });
        let mut receiver = receiver;
        let answer = tokio::select! {
            // A batch run by another caller may already have committed this write: then no turn is
            // needed (waiting for one would cost a batch per caller, and batches would stay small).
            biased;
            answer = &mut receiver => answer,
            turn = self.inner.write_gate.clone().lock_owned() => {
                // Holding the gate: run batches of whatever is queued until one took this write (one
                // run before may have), so a write never waits for an unrelated one to come along.
                let mut turn = Some(turn);
                while !taken.load(std::sync::atomic::Ordering::SeqCst) {
                    let batch = {
                        let mut queue = self.inner.queue.lock().unwrap_or_else(|p| p.into_inner());
                        let n = queue.len().min(MAX_BATCH);
                        queue
                            .drain(..n)
                            .map(|q| {
                                q.taken.store(true, std::sync::atomic::Ordering::SeqCst);
                                q.job
                            })
                            .collect::<Vec<_>>()
                    };
                    let (Some(gate), false) = (turn.take(), batch.is_empty()) else { break };
                    let inner = self.inner.clone();
                    // The gate travels with the batch: when this caller goes away, the batch still
                    // runs and holds the gate until it is done.
                    let ran = tokio::task::spawn_blocking(move || {
                        let _writing = Writing::start(&inner.writing_since);
                        inner.run_batch(batch);
                        gate
                    })
                    .await;
                    // A panic of the batch itself (not of a write: those are caught) reaches its
                    // callers as a dropped answer.
                    let Ok(gate) = ran else { break };
                    turn = Some(gate);
                }
                drop(turn);
                receiver.await
            }
        };
        match answer {
            Ok(Ok(result)) => result,
            // A panic inside a query closure is a bug: surface it instead of hiding it as an error.
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => Err(E::from(DbError::Task("the write was abandoned before it was committed".into()))),
        }
    }

    /// Counts this process's committed writes that changed rows (see [`Inner::write_epoch`]).
    pub fn write_epoch(&self) -> u64 {
        self.inner.write_epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A receiver that sees every committed write that changed rows.
    pub fn subscribe_commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.commits.subscribe()
    }

    /// Copies what the write-ahead log holds into the database file, on a connection of its own, so
    /// that commits never do it. Returns (frames in the log, frames copied); the next write starts the
    /// log over once all are copied. `(-1, -1)` when another process held the log (the next checkpoint
    /// tries again).
    ///
    /// The bulk is copied while writes go on (`PASSIVE`). But a write can only start the log over when
    /// it finds every frame copied, and under a steady stream of writes some batch always committed
    /// while the copy ran: the log grew until commits checkpointed it themselves, a quarter of a second
    /// each. So once the log has grown past [`RESTART_FRAMES`], the frames written meanwhile are copied
    /// with writes held back (`RESTART`, which also waits for readers still on the old log, at most
    /// [`CHECKPOINT_WAIT`]), once per few megabytes written.
    ///
    /// Before holding writes back, the copy catches up alongside them ([`CatchUp`]): each round has only
    /// what was committed while the one before ran, so it is shorter, until one finds under
    /// [`CATCH_UP_FRAMES`] new frames, a round finds no fewer than the one before (writes outpace the
    /// copies, or readers keep frames from being copied), or after [`CATCH_UP_ROUNDS`] more rounds.
    /// Under `bench/site.sh`'s booking load (8 clients), holding writes back for all that the first copy
    /// left (thousands of frames, then the file's sync) took about 60 ms, two or three times a second:
    /// the writer stood idle a sixth of the time, and every booking queued meanwhile waited with it.
    /// After catching up it takes about 18 ms (the spread of booking latency halved).
    ///
    /// A copy that could not start because another checkpoint held the log answers `(-1, -1)`. In
    /// this process that is the writer's own, which runs only once the log is past
    /// [`WAL_AUTOCHECKPOINT_PAGES`], so the log is long: it is restarted as well. Taking the write gate
    /// first means that checkpoint has finished.
    pub async fn checkpoint(&self) -> Result<(i64, i64), DbError> {
        let run = |inner: Arc<Inner>, mode: &'static str| async move {
            let result = tokio::task::spawn_blocking(move || {
                let conn = inner.checkpointer.lock().unwrap_or_else(|p| p.into_inner());
                conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                    Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })
                .map_err(DbError::from)
            })
            .await;
            join_result(result)
        };
        let mut catching_up = CatchUp::default();
        loop {
            let (frames, copied) = run(self.inner.clone(), "PASSIVE").await?;
            match catching_up.after(frames, copied) {
                Step::Done => return Ok((frames, copied)),
                Step::Again => {}
                Step::HoldWritesBack => break,
            }
        }
        let _turn = self.inner.write_gate.lock().await;
        // Counts as a write in progress for the health check (a disk that hangs in this fsync).
        let _writing = Writing::start(&self.inner.writing_since);
        run(self.inner.clone(), "RESTART").await
    }

    /// A number that changes whenever anything is committed to the database, by this process or any
    /// other (SQLite's `PRAGMA data_version` on a connection that never writes itself). An in-memory
    /// result derived from the store is still current while this is unchanged.
    ///
    /// The one store access made on the async thread, deliberately: it reads the WAL index header in
    /// shared memory, costs a few microseconds, and never waits (its connection has no busy timeout;
    /// whenever SQLite cannot answer at once, this answers `None` and the caller reads the store
    /// through [`Db::read`]). A thread hop here would cost more than the read it saves.
    pub fn data_version(&self) -> Option<u64> {
        let conn = self.inner.version_probe.try_lock().ok()?;
        let version: i64 = conn.prepare_cached("PRAGMA data_version").ok()?.query_row([], |r| r.get(0)).ok()?;
        u64::try_from(version).ok()
    }

    /// Answers whether the store responds (for `/healthz`).
    pub async fn ping(&self) -> Result<(), DbError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(DbError::from)).await
    }

    /// Answers whether the store can still commit a write (for `/healthz`): a file system remounted
    /// read-only, a full disk or a lock another process keeps fails here as every booking would. The
    /// probe commits one transaction that rewrites the schema version with its own value (no row
    /// changes, so caches are not invalidated); its outcome is reused for [`WRITE_PROBE_INTERVAL`].
    pub async fn check_writable(&self) -> Result<(), DbError> {
        let mut last = self.inner.last_probe.lock().await;
        let outcome = match &*last {
            Some((at, outcome)) if at.elapsed() < WRITE_PROBE_INTERVAL => outcome.clone(),
            _ => match self.inner.write_gate.try_lock() {
                Ok(_turn) => {
                    let inner = self.inner.clone();
                    let outcome = tokio::task::spawn_blocking(move || {
                        let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
                        probe_write(&mut conn)
                    })
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                    *last = Some((Instant::now(), outcome.clone()));
                    outcome
                }
                // Someone is writing: that write is the probe.
                Err(_) => {
                    let since = *self.inner.writing_since.lock().unwrap_or_else(|p| p.into_inner());
                    match since.map(|t| t.elapsed()) {
                        Some(held) if held >= self.inner.writer_stall => {
                            Err(format!("a write has held the writer for {} s", held.as_secs()))
                        }
                        _ => Ok(()),
                    }
                }
            },
        };
        outcome.map_err(|reason| DbError::NotWritable { path: self.inner.path.clone(), reason })
    }
}

/// Commits a transaction that writes the database header (the schema version, rewritten unchanged):
/// the cheapest write that must reach the file. Also refuses a connection SQLite opened read-only.
fn probe_write(conn: &mut Connection) -> Result<(), String> {
    if conn.is_readonly(rusqlite::MAIN_DB).map_err(|e| e.to_string())? {
        return Err("the file can only be opened read-only (check its permissions and the file system)".into());
    }
    let run = |conn: &mut Connection| -> rusqlite::Result<()> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()
    };
    run(conn).map_err(|e| e.to_string())
}

/// Creates `dir` and its missing parents with mode 0700, set explicitly so the umask cannot widen
/// (or narrow) it. Existing folders are left as they are.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut cursor = Some(dir);
    while let Some(d) = cursor.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d.to_path_buf());
        cursor = d.parent();
    }
    for d in missing.iter().rev() {
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(d) {
            Ok(()) => set_mode(d, 0o700)?,
            // Created meanwhile by someone else: theirs to decide.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates an empty file with mode 0600 (whatever the umask) if `path` does not exist. SQLite then
/// opens it as a new database and gives its `-wal` and `-shm` files the same mode.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => set_mode(path, 0o600),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

/// Whether files can be created in `dir`: creates and removes a uniquely named empty file (the only
/// reliable test; permission bits say nothing for root or on a read-only mount).
pub fn check_folder_writable(dir: &Path) -> std::io::Result<()> {
    let mut bytes = [0u8; 8];
    rand::fill(&mut bytes);
    let probe = dir.join(format!(".jmb-write-check-{}", hex::encode(bytes)));
    std::fs::OpenOptions::new().write(true).create_new(true).open(&probe)?;
    std::fs::remove_file(&probe)
}

fn join_result<T, E: From<DbError>>(result: Result<Result<T, E>, tokio::task::JoinError>) -> Result<T, E> {
    match result {
        Ok(r) => r,
        // A panic inside a query closure is a bug: surface it instead of hiding it as an error.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(E::from(DbError::Task(e.to_string()))),
    }
}

fn open_connection(path: &Path, busy_timeout: Duration, read_only: bool) -> Result<Connection, DbError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        // No SQLITE_OPEN_URI: the configured path is a file name, never `file:…?mode=memory`.
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(busy_timeout)?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Every query function goes through the cache (see `exec`): room for all of them.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The writer checkpoints by itself only when the background checkpoints fall this far behind (pages of
/// 4 KiB: 256 MiB of log), a safety net for a checkpointer that cannot run. Under `bench/site.sh`'s
/// booking load the log holds 15 000 to 22 000 frames by the time a background checkpoint starts it
/// over: at 16 384 the writer checkpointed by itself after every commit past that, the background
/// checkpoint then found the log held and waited, and bookings per second fell by 5 %.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 65536;

/// Whether a checkpoint that found `frames` in the log (`-1`: it found the log held by another
/// checkpoint) holds writes back to let the log start over (see [`Db::checkpoint`]).
fn needs_restart(frames: i64) -> bool {
    !(0..RESTART_FRAMES).contains(&frames)
}

/// Frames of the log (4 KiB each: 8 MiB) past which a checkpoint holds writes back for a moment to let
/// the log start over (see [`Db::checkpoint`]).
const RESTART_FRAMES: i64 = 2048;

/// A copy alongside the writes that found fewer new frames than this (4 KiB each: 2 MiB) has caught up:
/// the rest is copied with writes held back (see [`Db::checkpoint`]).
const CATCH_UP_FRAMES: i64 = 512;

/// Copies alongside the writes after the first, at most, before writes are held back anyway.
const CATCH_UP_ROUNDS: u32 = 4;

/// What a checkpoint does after a copy alongside the writes (see [`Db::checkpoint`]).
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// The log is short: nothing more.
    Done,
    /// Copy again alongside the writes: the copy that holds them back will have less to do.
    Again,
    /// Hold writes back, copy the rest and start the log over.
    HoldWritesBack,
}

/// The copies a checkpoint made alongside the writes so far (see [`Db::checkpoint`]).
#[derive(Default)]
struct CatchUp {
    rounds: u32,
    /// Frames the last copy had in the file.
    copied: Option<i64>,
    /// New frames the last copy found: committed while the one before it ran.
    found: Option<i64>,
}

impl CatchUp {
    /// What to do after a copy that found `frames` in the log and had `copied` of them in the file.
    /// `-1` for both: another checkpoint held the log, which in this process means a long one, so
    /// writes are held back at once.
    fn after(&mut self, frames: i64, copied: i64) -> Step {
        if !needs_restart(frames) {
            // Short, or started over meanwhile.
            return Step::Done;
        }
        if copied < 0 {
            return Step::HoldWritesBack;
        }
        // Frames beyond what the copy before had in the file: all of them if the log started over and
        // grew back meanwhile. Readers on older snapshots keep frames from being copied; those count
        // as found again, so they never pass for caught up.
        let found = self.copied.map(|before| if frames >= before { frames - before } else { frames });
        let step = match (found, self.found) {
            _ if self.rounds >= CATCH_UP_ROUNDS => Step::HoldWritesBack,
            (Some(found), _) if found < CATCH_UP_FRAMES => Step::HoldWritesBack,
            // Writes outpace the copies: another round would only leave more to hold back for.
            (Some(found), Some(before)) if found >= before => Step::HoldWritesBack,
            _ => Step::Again,
        };
        *self = CatchUp { rounds: self.rounds + 1, copied: Some(copied), found };
        step
    }
}

/// How long a checkpoint holding writes back waits for readers still on the old log (see
/// [`Db::checkpoint`]); the next checkpoint tries again.
const CHECKPOINT_WAIT: Duration = Duration::from_millis(50);

/// Page cache of the checkpointing connection, in KiB (negative: SQLite's unit for a size in KiB).
const CHECKPOINTER_CACHE_KIB: i64 = -128;

/// Page cache of the read connections but the warm one ([`Reader`]), in KiB (SQLite's default, which
/// the warm one keeps, is 2 000 KiB): a reader's cache is emptied whenever another connection commits,
/// and a cold calendar reads a few dozen pages; 1.5 MB less per reader (bench/site.sh's RSS).
const READER_CACHE_KIB: i64 = -512;

/// Distinct SQL statements kept prepared per connection.
const STATEMENT_CACHE: usize = 256;

/// `Connection::execute` through the connection's statement cache: a statement run once per attendee
/// or per mail is parsed once per connection, not each time (parsing was a fifth of a booking's time).
pub fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// A value a job keeps across restarts in `job_state`, under a name of its own (each name has one owner).
pub fn job_value(conn: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension as _;
    one(conn, "SELECT value FROM job_state WHERE name = ?1", [name], |r| r.get(0)).optional()
}

/// Sets (or, with `None`, removes) a job's value in `job_state`.
pub fn set_job_value(conn: &Connection, name: &str, value: Option<i64>) -> rusqlite::Result<()> {
    match value {
        Some(v) => exec(
            conn,
            "INSERT INTO job_state (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            rusqlite::params![name, v],
        ),
        None => exec(conn, "DELETE FROM job_state WHERE name = ?1", [name]),
    }
    .map(drop)
}

/// Runs `pass`, which brings a schedule in line with the configured `minutes`, unless the same offsets
/// (order and repeats aside) were the last followed under `name` in `job_state`; then notes them.
/// Returns what `pass` returned, or (0, 0) when it did not run.
pub fn follow_offsets(
    conn: &Connection,
    name: &str,
    minutes: &[u32],
    pass: impl FnOnce() -> rusqlite::Result<(usize, usize)>,
) -> rusqlite::Result<(usize, usize)> {
    let stamp = offsets_stamp(minutes);
    if job_value(conn, name)? == Some(stamp) {
        return Ok((0, 0));
    }
    let done = pass()?;
    set_job_value(conn, name, Some(stamp))?;
    Ok(done)
}

/// A stamp of a set of offsets, order and repeats aside.
fn offsets_stamp(minutes: &[u32]) -> i64 {
    let mut sorted = minutes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    xxhash_rust::xxh3::xxh3_64(json_numbers(&sorted).as_bytes()) as i64
}

/// Numbers as a JSON array, the one parameter of a query that reads a list with `json_each(?)`.
pub fn json_numbers(values: &[u32]) -> String {
    let items: Vec<String> = values.iter().map(u32::to_string).collect();
    format!("[{}]", items.join(","))
}

/// `Connection::query_row` through the statement cache.
pub fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// A temporary folder removed on drop, for tests and benchmarks.
pub mod tempdir {
    use std::path::{Path, PathBuf};

    use super::DbError;

    pub struct TempDirGuard(PathBuf);

    impl TempDirGuard {
        pub fn new() -> Result<Self, DbError> {
            let mut bytes = [0u8; 8];
            rand::fill(&mut bytes);
            let dir = std::env::temp_dir().join(format!("jmb-test-{}", hex::encode(bytes)));
            std::fs::create_dir_all(&dir).map_err(|e| DbError::Task(e.to_string()))?;
            Ok(Self(dir))
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDirGuard {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checkpoints_copy_the_log_and_let_it_restart() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), Duration::from_secs(5), 1).unwrap();
        db.write(|tx| {
            tx.execute_batch("CREATE TABLE scratch (v BLOB)")?;
            for _ in 0..200 {
                exec(tx, "INSERT INTO scratch (v) VALUES (zeroblob(4000))", [])?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
        let (frames, copied) = db.checkpoint().await.unwrap();
        assert!(frames >= 200, "the commit left its pages in the log: {frames}");
        assert_eq!(copied, frames, "nothing blocked the checkpoint");
        // The next write starts the log over instead of appending to it.
        db.write(|tx| Ok::<_, DbError>(exec(tx, "INSERT INTO scratch (v) VALUES (1)", [])?)).await.unwrap();
        let (frames_after, _) = db.checkpoint().await.unwrap();
        assert!(frames_after < 10, "{frames_after}");
        let rows = db.read(|c| Ok::<i64, DbError>(one(c, "SELECT COUNT(*) FROM scratch", [], |r| r.get(0))?)).await;
        assert_eq!(rows.unwrap(), 201);
    }

    /// Under a steady stream of writes a checkpoint still copies the whole log (the last frames with
    /// writes held back), so that the log starts over instead of growing until commits checkpoint it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoints_catch_up_with_steady_writes() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let db = scratch_store(&dir.path().join("jmb.db")).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Two writers, so that one is always queued while the other commits.
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let (db, stop) = (db.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        write_blob(&db).await;
                    }
                })
            })
            .collect();
        let wal = dir.path().join("jmb.db-wal");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        // Each time the log is past the threshold, a checkpoint copies all of it though writes never
        // stop, and a write soon starts the log over. (Now and then a copy alongside the writes also
        // finds nothing left, and the log starts over without writes held back: the next test shows a
        // case where it cannot.)
        for _ in 0..3 {
            let restarts_before = loop {
                let restarts_before = wal_restarts(&wal);
                let (frames, copied) = db.checkpoint().await.unwrap();
                seen.push(frames);
                if frames >= RESTART_FRAMES {
                    assert_eq!(copied, frames, "the whole log, though writes never stopped: {seen:?}");
                    break restarts_before;
                }
                assert!(Instant::now() < deadline, "enough was written to tell: {seen:?}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            while wal_restarts(&wal) == restarts_before {
                assert!(Instant::now() < deadline, "the log started over: {seen:?}");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for writer in writers {
            writer.await.unwrap();
        }
    }

    /// A log past the threshold while a write is in progress: copying alongside it could never catch
    /// up with what it commits, so the checkpoint waits for it, copies everything, and the next write
    /// starts the log over.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_log_starts_over_though_a_write_was_in_progress() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let db = scratch_store(&dir.path().join("jmb.db")).await;
        // Past the threshold.
        for _ in 0..RESTART_FRAMES / 8 {
            write_blob(&db).await;
        }
        let wal = dir.path().join("jmb.db-wal");
        let restarts_before = wal_restarts(&wal);
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (writing, written) = tokio::sync::oneshot::channel::<()>();
        let in_progress = tokio::spawn({
            let db = db.clone();
            async move {
                db.write(move |tx| {
                    exec(tx, BLOB_INSERT, [])?;
                    let _ = writing.send(());
                    let _ = released.recv_timeout(Duration::from_secs(30));
                    Ok::<_, DbError>(())
                })
                .await
            }
        });
        written.await.unwrap();
        let checkpoint = tokio::spawn({
            let db = db.clone();
            async move { db.checkpoint().await }
        });
        // The copy alongside the write has run once the frames committed so far are in the file.
        let file = dir.path().join("jmb.db");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::fs::metadata(&file).unwrap().len() < (RESTART_FRAMES as u64) * 4096 {
            assert!(Instant::now() < deadline, "the copy alongside the write never ran");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        release.send(()).unwrap();
        in_progress.await.unwrap().unwrap();
        let (frames, copied) = checkpoint.await.unwrap().unwrap();
        assert!(frames >= RESTART_FRAMES && copied == frames, "{frames} frames, {copied} copied");
        write_blob(&db).await;
        assert_eq!(wal_restarts(&wal), restarts_before + 1, "the log started over");
    }

    /// Reads one after the other all get the warm reader (SQLite's default page cache); a read made
    /// while it is busy gets one with the small cache, and the warm one is handed out again once free.
    #[tokio::test]
    async fn the_warm_reader_serves_every_read_it_is_free_for() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), Duration::from_secs(5), 3).unwrap();
        let cache_size = |c: &Connection| c.query_row("PRAGMA cache_size", [], |r| r.get::<_, i64>(0));
        let read_cache = || db.read(move |c| Ok::<_, DbError>(cache_size(c)?));
        for _ in 0..5 {
            assert_eq!(read_cache().await.unwrap(), -2000, "one after the other: the warm reader");
        }
        let (release, held) = hold_reader(&db, cache_size).await;
        let sizes = [read_cache().await.unwrap(), read_cache().await.unwrap()];
        assert_eq!(sizes, [READER_CACHE_KIB, READER_CACHE_KIB], "the warm reader is busy: small ones");
        release.send(()).unwrap();
        assert_eq!(held.await.unwrap().unwrap(), -2000);
        assert_eq!(read_cache().await.unwrap(), -2000, "free again: the warm reader");
    }

    /// Copies alongside the writes go on while each finds many new frames and fewer than the one before;
    /// writes are held back once one found few, once one found no fewer than the one before (writes
    /// outpacing the copies, or readers keeping frames from being copied), after a few rounds whatever
    /// they found, or at once when another checkpoint held a long log; a short log (or one started over
    /// meanwhile) needs nothing more.
    #[test]
    fn a_checkpoint_catches_up_before_it_holds_writes_back() {
        let long = RESTART_FRAMES + 5000;
        // Each copy as (frames in the log, frames in the file), and the step after it.
        let steps = |copies: &[(i64, i64)]| {
            let mut catching_up = CatchUp::default();
            copies.iter().map(|&(frames, copied)| catching_up.after(frames, copied)).collect::<Vec<_>>()
        };
        use Step::*;
        assert_eq!(steps(&[(100, 100)]), [Done], "a short log");
        assert_eq!(steps(&[(long, long), (long + 300, long + 300)]), [Again, HoldWritesBack], "caught up");
        assert_eq!(
            steps(&[(long, long), (long + CATCH_UP_FRAMES, long + CATCH_UP_FRAMES)]),
            [Again, Again],
            "CATCH_UP_FRAMES new frames are not few"
        );
        assert_eq!(
            steps(&[(long, long), (long + 3000, long + 3000), (long + 4000, long + 4000), (long + 4300, long + 4300)]),
            [Again, Again, Again, HoldWritesBack],
            "3000, 1000, then 300 new frames"
        );
        assert_eq!(
            steps(&[(long, long), (long + 1000, long + 1000), (long + 2500, long + 2500)]),
            [Again, Again, HoldWritesBack],
            "1000 then 1500 new frames: the writes outpace the copies"
        );
        let shrinking = [8000, 4000, 2000, 1000].iter().scan(long, |at, n| {
            *at += n;
            Some((*at, *at))
        });
        let copies: Vec<_> = std::iter::once((long, long)).chain(shrinking).collect();
        assert_eq!(steps(&copies), [Again, Again, Again, Again, HoldWritesBack], "CATCH_UP_ROUNDS more, at most");
        assert_eq!(
            steps(&[(long, long - 4000), (long + 300, long - 4000), (long + 600, long - 4000)]),
            [Again, Again, HoldWritesBack],
            "readers keep 4000 frames from being copied: never caught up, and not catching up"
        );
        assert_eq!(steps(&[(long, long), (40, 40)]), [Again, Done], "started over meanwhile");
        assert_eq!(
            steps(&[(long, long), (RESTART_FRAMES + 200, RESTART_FRAMES + 200)]),
            [Again, Again],
            "started over and grew back: every frame is new"
        );
        assert_eq!(steps(&[(-1, -1)]), [HoldWritesBack], "another checkpoint held the log");
        assert_eq!(steps(&[(long, long), (-1, -1)]), [Again, HoldWritesBack]);
    }

    /// A store at `path` with an empty `scratch` table for [`write_blob`].
    async fn scratch_store(path: &Path) -> Db {
        let db = Db::open(path, Duration::from_secs(5), 1).unwrap();
        db.write(|tx| Ok::<_, DbError>(tx.execute_batch("CREATE TABLE scratch (v BLOB)")?)).await.unwrap();
        db
    }

    /// A row of 40 000 bytes: about 10 pages of 4 KiB in the log.
    const BLOB_INSERT: &str = "INSERT INTO scratch (v) VALUES (zeroblob(40000))";

    /// Commits one [`BLOB_INSERT`].
    async fn write_blob(db: &Db) {
        db.write(|tx| Ok::<_, DbError>(exec(tx, BLOB_INSERT, [])?)).await.unwrap();
    }

    /// How many times the write-ahead log started over: the checkpoint sequence number of its header
    /// (bytes 12 to 15, big-endian), which each restart increments.
    fn wal_restarts(wal: &Path) -> u32 {
        use std::io::Read;
        let mut header = [0u8; 16];
        match std::fs::File::open(wal).and_then(|mut f| f.read_exact(&mut header)) {
            Ok(()) => u32::from_be_bytes([header[12], header[13], header[14], header[15]]),
            Err(_) => 0,
        }
    }

    /// A checkpoint that finds the log held by another one (in this process, the writer's own, run
    /// only once the log is long) holds writes back and restarts the log, instead of taking the busy
    /// answer for a short log.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_checkpoint_that_finds_another_running_restarts_the_log() {
        static HOLDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        static RELEASE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        HOLDING.store(false, std::sync::atomic::Ordering::SeqCst);
        RELEASE.store(false, std::sync::atomic::Ordering::SeqCst);
        // Called while the other checkpoint holds the log and waits for the writer: it waits for the
        // test (at most 30 s), then gives up and lets the log go.
        fn wait_for_the_test(_attempt: i32) -> bool {
            HOLDING.store(true, std::sync::atomic::Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(30);
            while !RELEASE.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            false
        }
        assert!(needs_restart(-1) && needs_restart(RESTART_FRAMES) && !needs_restart(RESTART_FRAMES - 1));
        let dir = tempdir::TempDirGuard::new().unwrap();
        let path = dir.path().join("jmb.db");
        let db = scratch_store(&path).await;
        for _ in 0..5 {
            write_blob(&db).await;
        }
        let wal = dir.path().join("jmb.db-wal");
        let restarts_before = wal_restarts(&wal);
        let (release_writer, holder) = hold_writer(&db).await;
        let other = std::thread::spawn(move || {
            let conn = Connection::open(&path).unwrap();
            conn.busy_handler(Some(wait_for_the_test)).unwrap();
            conn.query_row("PRAGMA wal_checkpoint(FULL)", [], |r| r.get::<_, i64>(0)).unwrap()
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while !HOLDING.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(!other.is_finished() && Instant::now() < deadline, "the other checkpoint holds the log");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The premise: a copy alongside it is turned away, with nothing to tell the log's length.
        let inner = db.inner.clone();
        let busy = tokio::task::spawn_blocking(move || {
            let conn = inner.checkpointer.lock().unwrap();
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(busy, (-1, -1));
        let checkpoint = tokio::spawn({
            let db = db.clone();
            async move { db.checkpoint().await }
        });
        // Given time, its first attempt is turned away the same way. (Were it later, it would find the
        // log free and copy it all: the assertions below hold either way; on `-1` writes are held back
        // at once, checked above and in `a_checkpoint_catches_up_before_it_holds_writes_back`.)
        tokio::time::sleep(Duration::from_millis(300)).await;
        RELEASE.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(other.join().unwrap(), 1, "the other checkpoint gave up, busy");
        release_writer.send(()).unwrap();
        holder.await.unwrap().unwrap();
        let (frames, copied) = checkpoint.await.unwrap().unwrap();
        assert!(frames > 0 && copied == frames, "the whole log was copied: {frames} frames, {copied} copied");
        write_blob(&db).await;
        assert_eq!(wal_restarts(&wal), restarts_before + 1, "the log started over");
    }

    /// A read whose caller gave up (a dropped request) keeps its connection until it is done, and no
    /// other read finds the pool empty meanwhile: they wait for the connection instead.
    #[tokio::test]
    async fn a_dropped_read_keeps_its_slot_until_its_connection_is_back() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), Duration::from_secs(5), 1).unwrap();
        let (release, abandoned) = hold_reader(&db, |_| Ok(())).await;
        abandoned.abort();
        let _ = abandoned.await;
        let next = tokio::spawn({
            let db = db.clone();
            async move { db.read(|c| Ok::<i64, DbError>(one(c, "SELECT 1", [], |r| r.get(0))?)).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!next.is_finished(), "the only connection is still in use: the next read waits");
        release.send(()).unwrap();
        assert_eq!(next.await.unwrap().unwrap(), 1);
    }

    /// A health check never waits for a write in progress, and after a quiet spell a busy writer is
    /// not mistaken for a stuck one; a write holding the writer too long is reported.
    #[tokio::test]
    async fn the_write_probe_counts_a_write_in_progress_until_it_stalls() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let mut db = Db::open(&dir.path().join("jmb.db"), Duration::from_secs(5), 1).unwrap();
        Arc::get_mut(&mut db.inner).unwrap().writer_stall = Duration::from_millis(300);
        // Quiet for longer than the stall limit: nothing committed meanwhile.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let (release, write) = hold_writer(&db).await;
        assert!(db.check_writable().await.is_ok(), "a write that just started is the probe");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let stalled = db.check_writable().await.unwrap_err().to_string();
        assert!(stalled.contains("held the writer"), "{stalled}");
        release.send(()).unwrap();
        write.await.unwrap().unwrap();
        // Outcomes seen through a write in progress are not kept: the writer is free and the probe runs.
        assert!(db.check_writable().await.is_ok());
    }

    /// Starts a write that holds the writer until the returned sender says so (or 30 s pass); returns
    /// once it holds it.
    async fn hold_writer(db: &Db) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<Result<(), DbError>>) {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (holding, held) = tokio::sync::oneshot::channel::<()>();
        let db = db.clone();
        let holder = tokio::spawn(async move {
            db.write(move |_tx| {
                let _ = holding.send(());
                let _ = released.recv_timeout(Duration::from_secs(30));
                Ok::<_, DbError>(())
            })
            .await
        });
        held.await.unwrap();
        (release, holder)
    }

    /// Starts a read that holds its connection until the returned sender says so (or 30 s pass) and
    /// then answers `f` on it; returns once it holds the connection.
    async fn hold_reader<T: Send + 'static>(
        db: &Db,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<Result<T, DbError>>) {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (holding, held) = tokio::sync::oneshot::channel::<()>();
        let db = db.clone();
        let holder = tokio::spawn(async move {
            db.read(move |c| {
                let _ = holding.send(());
                let _ = released.recv_timeout(Duration::from_secs(30));
                Ok::<_, DbError>(f(c)?)
            })
            .await
        });
        held.await.unwrap();
        (release, holder)
    }

    /// The names in `job_state`, in the given order (the tests' writes leave their mark there).
    async fn job_names(db: &Db, order: &'static str) -> Vec<String> {
        db.read(move |c| {
            let mut stmt = c.prepare(&format!("SELECT name FROM job_state ORDER BY {order}"))?;
            let names = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok::<_, DbError>(names)
        })
        .await
        .unwrap()
    }

    /// Writes queued behind a running one are committed together, in one transaction, and each keeps
    /// its own outcome: a failing write and a panicking one leave the others' changes in place.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_writes_commit_together_and_fail_alone() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), Duration::from_secs(5), 1).unwrap();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (holding, held) = tokio::sync::oneshot::channel::<()>();
        let holder = tokio::spawn({
            let db = db.clone();
            async move {
                db.write(move |tx| {
                    let _ = holding.send(());
                    let _ = released.recv_timeout(Duration::from_secs(30));
                    tx.execute("INSERT INTO job_state (name, value) VALUES ('holder', 0)", [])?;
                    Ok::<_, DbError>(())
                })
                .await
            }
        });
        held.await.unwrap();
        let commits_before = *db.subscribe_commits().borrow();
        let mut queued = Vec::new();
        for i in 0..10i64 {
            let db = db.clone();
            queued.push(tokio::spawn(async move {
                let fails = i == 3;
                db.write(move |tx| {
                    tx.execute(
                        "INSERT INTO job_state (name, value) VALUES (?1, ?2)",
                        rusqlite::params![format!("w{i}"), i],
                    )?;
                    if i == 7 {
                        panic!("write 7 panics after its insert");
                    }
                    if fails {
                        return Err(DbError::Task("write 3 fails after its insert".into()));
                    }
                    Ok(i)
                })
                .await
            }));
        }
        // Every queued write is waiting for the gate before the holder lets go.
        tokio::time::sleep(Duration::from_millis(200)).await;
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        for (i, task) in queued.into_iter().enumerate() {
            let outcome = task.await;
            match i {
                7 => assert!(outcome.unwrap_err().is_panic(), "the panic reaches its caller"),
                3 => assert!(outcome.unwrap().unwrap_err().to_string().contains("write 3 fails")),
                _ => assert_eq!(outcome.unwrap().unwrap(), i as i64),
            }
        }
        let names = job_names(&db, "value, name").await;
        assert_eq!(names, ["holder", "w0", "w1", "w2", "w4", "w5", "w6", "w8", "w9"]);
        let commits = *db.subscribe_commits().borrow() - commits_before;
        assert!(commits <= 3, "the holder's commit, then the queued writes in one batch (or two): {commits} commits");
    }

    /// The first write of a batch's transaction runs without a savepoint: when it fails, the
    /// transaction is rolled back whole (its own rows with it) and the other writes commit in a new
    /// one, whose first write again has no savepoint. Which writes fail goes by the order they run
    /// in, so the test does not depend on the order the tasks queued in.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_first_write_of_a_batch_undoes_only_itself() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), Duration::from_secs(5), 1).unwrap();
        let (release, holder) = hold_writer(&db).await;
        let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let commits_before = *db.subscribe_commits().borrow();
        let mut queued = Vec::new();
        for i in 0..8i64 {
            let (db, ran) = (db.clone(), ran.clone());
            queued.push(tokio::spawn(async move {
                db.write(move |tx| {
                    let turn = ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tx.execute(
                        "INSERT INTO job_state (name, value) VALUES (?1, ?2)",
                        rusqlite::params![format!("w{i}"), i],
                    )?;
                    // The first and the second to run each begin a transaction; the fifth runs in a
                    // savepoint of the third.
                    if matches!(turn, 0 | 1 | 4) {
                        return Err(DbError::Task(format!("turn {turn} fails after its insert")));
                    }
                    Ok(i)
                })
                .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        let (mut kept, mut failed) = (Vec::new(), 0);
        for task in queued {
            match task.await.unwrap() {
                Ok(i) => kept.push(format!("w{i}")),
                Err(e) => {
                    assert!(e.to_string().contains("fails after its insert"), "{e}");
                    failed += 1;
                }
            }
        }
        assert_eq!(failed, 3, "three writes failed, each alone");
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 8, "no write ran twice");
        kept.sort();
        let mut names = job_names(&db, "name").await;
        names.retain(|n| n.starts_with('w'));
        assert_eq!(names, kept, "exactly the confirmed writes are stored");
        let commits = *db.subscribe_commits().borrow() - commits_before;
        assert!(
            (1..=2).contains(&commits),
            "one commit for the kept writes (two if they queued in two batches), none for the rolled back \
             transactions: {commits}"
        );
    }

    /// When SQLite rolls a batch's transaction back (here a write ends it itself, as a full disk
    /// would), the writes kept before it in the batch are reported failed, not confirmed, and the
    /// writes after it commit in a new transaction.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_rolled_back_by_sqlite_confirms_nothing_it_lost() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), Duration::from_secs(5), 1).unwrap();
        let (release, holder) = hold_writer(&db).await;
        let mut queued = Vec::new();
        for i in 0..3i64 {
            let db = db.clone();
            queued.push(tokio::spawn(async move {
                db.write(move |tx| {
                    tx.execute(
                        "INSERT INTO job_state (name, value) VALUES (?1, ?2)",
                        rusqlite::params![format!("w{i}"), i],
                    )?;
                    if i == 1 {
                        tx.execute_batch("ROLLBACK")?;
                        return Err(DbError::Task("write 1 ended the transaction".into()));
                    }
                    Ok(i)
                })
                .await
            }));
            // Queued in this order.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        let outcomes: Vec<_> = futures_util::future::join_all(queued).await.into_iter().map(|r| r.unwrap()).collect();
        assert!(outcomes[0].as_ref().unwrap_err().to_string().contains("rolled back with its batch"));
        assert!(outcomes[1].as_ref().unwrap_err().to_string().contains("ended the transaction"));
        assert_eq!(outcomes[2].as_ref().unwrap(), &2);
        let names = job_names(&db, "name").await;
        assert_eq!(names, ["w2"]);
    }

    /// More abandoned writes than a batch holds queued ahead of a live one: the live one is still run
    /// at once, not left waiting for some unrelated write to come along.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_behind_many_abandoned_ones_still_runs() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), Duration::from_secs(5), 1).unwrap();
        let (release, holder) = hold_writer(&db).await;
        for _ in 0..(MAX_BATCH * 2 + 5) {
            let abandoned = tokio::time::timeout(Duration::from_millis(1), db.write(|_tx| Ok::<_, DbError>(()))).await;
            assert!(abandoned.is_err());
        }
        let live = tokio::spawn({
            let db = db.clone();
            async move {
                db.write(|tx| {
                    tx.execute("INSERT INTO job_state (name, value) VALUES ('live', 1)", []).map_err(DbError::from)
                })
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        let done = tokio::time::timeout(Duration::from_secs(10), live).await;
        assert_eq!(done.expect("the live write ran").unwrap().unwrap(), 1);
    }

    /// A write whose caller went away before its turn came never runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_abandoned_while_queued_never_runs() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let db = Db::open(&dir.path().join("jmb.db"), Duration::from_secs(5), 1).unwrap();
        let (release, holder) = hold_writer(&db).await;
        let abandoned = tokio::time::timeout(
            Duration::from_millis(100),
            db.write(|tx| {
                tx.execute("INSERT INTO job_state (name, value) VALUES ('abandoned', 1)", []).map_err(DbError::from)
            }),
        )
        .await;
        assert!(abandoned.is_err(), "still queued behind the holder");
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        // The next write takes the queue, the abandoned one included.
        db.write(|tx| tx.execute("INSERT INTO job_state (name, value) VALUES ('next', 2)", []).map_err(DbError::from))
            .await
            .unwrap();
        let names = job_names(&db, "name").await;
        assert_eq!(names, ["next"]);
    }

    /// The data version moves with every commit, whoever makes it (this process's writer or another
    /// process's connection), and only then.
    #[tokio::test]
    async fn the_data_version_moves_with_every_commit_and_only_then() {
        let dir = tempdir::TempDirGuard::new().unwrap();
        let path = dir.path().join("jmb.db");
        let db = Db::open(&path, Duration::from_secs(5), 1).unwrap();
        let v0 = db.data_version().unwrap();
        db.read(|c| c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0)).map_err(DbError::from))
            .await
            .unwrap();
        assert_eq!(db.data_version(), Some(v0), "a read changes nothing");
        db.write(|tx| tx.execute("INSERT INTO job_state (name, value) VALUES ('test', 1)", []).map_err(DbError::from))
            .await
            .unwrap();
        let v1 = db.data_version().unwrap();
        assert_ne!(v1, v0, "this process's commit");
        let other = Connection::open(&path).unwrap();
        other.execute("UPDATE job_state SET value = 2 WHERE name = 'test'", []).unwrap();
        let v2 = db.data_version().unwrap();
        assert_ne!(v2, v1, "another connection's commit");
        assert_eq!(db.data_version(), Some(v2));
    }
}
