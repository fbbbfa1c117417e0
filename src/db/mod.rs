//! The store gateway: SQLite through rusqlite, reached from async code only through [`Db::read`] and
//! [`Db::write`], which run the closure on tokio's blocking pool so the runtime never waits on SQLite.
//!
//! Writes all go through one connection and run in `BEGIN IMMEDIATE` transactions: jmb's own writers
//! queue instead of racing for SQLite's lock, so no `SQLITE_BUSY` reaches a user (the busy timeout
//! still covers other processes, such as `jmb migrate`). They queue on an async lock *before* taking a
//! blocking thread, so a burst of writes holds one blocking thread, not all of them, and reads (which
//! use a small pool of connections and see WAL snapshots) never wait behind it. A hand-written pool is
//! used because the pooling crates pin other rusqlite versions than the one the migration crate needs.
//!
//! Commits do not checkpoint the write-ahead log: a background job does, on a connection of its own
//! ([`Db::checkpoint`]), so a booking never waits for the database file to be written.
//!
//! Every committed write that changed rows bumps an epoch: caches derived from the store compare it,
//! and background jobs subscribe to it ([`Db::subscribe_commits`]) to re-plan when bookings change.

pub mod migrate;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Writers queue here, without holding a blocking thread.
    write_gate: tokio::sync::Mutex<()>,
    writer: Mutex<Connection>,
    /// Copies the write-ahead log into the database file, beside the writer (see [`Db::checkpoint`]).
    checkpointer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    reader_slots: Semaphore,
}

impl Db {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path, busy_timeout: Duration, readers: usize) -> Result<Self, DbError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DbError::Task(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut writer = open_connection(path, busy_timeout, false)?;
        migrate::apply(&mut writer)?;
        // Commits leave checkpoints to `checkpoint` (run by a background job), unless the log grows
        // this far behind: a checkpoint inside a commit made every fifth booking with mails 3 times slower.
        writer.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        let checkpointer = open_connection(path, busy_timeout, false)?;
        checkpointer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let readers =
            (0..readers.max(1)).map(|_| open_connection(path, busy_timeout, true)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_parts(writer, checkpointer, readers))
    }

    fn from_parts(writer: Connection, checkpointer: Connection, readers: Vec<Connection>) -> Self {
        let slots = readers.len();
        Self {
            inner: Arc::new(Inner {
                write_epoch: std::sync::atomic::AtomicU64::new(0),
                commits: tokio::sync::watch::Sender::new(0),
                write_gate: tokio::sync::Mutex::new(()),
                writer: Mutex::new(writer),
                checkpointer: Mutex::new(checkpointer),
                readers: Mutex::new(readers),
                reader_slots: Semaphore::new(slots),
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
        let permit = self.inner.reader_slots.acquire().await.map_err(|e| DbError::Task(e.to_string()))?;
        let inner = self.inner.clone();
        let span = tracing::Span::current();
        let result = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let conn = inner.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(conn) = conn else {
                return Err(E::from(DbError::Task("no free read connection".into())));
            };
            let result = f(&conn);
            inner.readers.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
            result
        })
        .await;
        drop(permit);
        join_result(result)
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction, committed when `f` returns `Ok`.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        let _turn = self.inner.write_gate.lock().await;
        let inner = self.inner.clone();
        let span = tracing::Span::current();
        let result = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| E::from(DbError::from(e)))?;
            let changes_before = tx.total_changes();
            let value = f(&tx)?;
            let changed = tx.total_changes() != changes_before;
            tx.commit().map_err(|e| E::from(DbError::from(e)))?;
            // Only a transaction that changed rows invalidates what caches derived from the store.
            if changed {
                inner.write_epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                inner.commits.send_modify(|n| *n += 1);
            }
            Ok(value)
        })
        .await;
        join_result(result)
    }

    /// Counts this process's committed writes that changed rows (see [`Inner::write_epoch`]).
    pub fn write_epoch(&self) -> u64 {
        self.inner.write_epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A receiver that sees every committed write that changed rows.
    pub fn subscribe_commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.commits.subscribe()
    }

    /// Copies what the write-ahead log holds into the database file without blocking writers or readers
    /// (`PRAGMA wal_checkpoint(PASSIVE)` on a connection of its own), so that commits never do it.
    /// Returns (frames in the log, frames copied); the next write restarts the log once all are copied.
    pub async fn checkpoint(&self) -> Result<(i64, i64), DbError> {
        let inner = self.inner.clone();
        let result = tokio::task::spawn_blocking(move || {
            let conn = inner.checkpointer.lock().unwrap_or_else(|p| p.into_inner());
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
                .map_err(DbError::from)
        })
        .await;
        join_result(result)
    }

    /// Answers whether the store responds (for `/healthz`).
    pub async fn ping(&self) -> Result<(), DbError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(DbError::from)).await
    }
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
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
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
/// 4 KiB: 64 MiB of log).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 16384;

/// Distinct SQL statements kept prepared per connection.
const STATEMENT_CACHE: usize = 256;

/// `Connection::execute` through the connection's statement cache: a statement run once per attendee
/// or per mail is parsed once per connection, not each time (parsing was a fifth of a booking's time).
pub fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
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
}
