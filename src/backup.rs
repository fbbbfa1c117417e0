//! `jmb backup FILE`: a consistent copy of the live database through SQLite's online backup API
//! (safe while jmb runs and writes; copying the file is not, in WAL mode). The copy is created 0600
//! (it holds every personal-link secret), never over an existing file, and checked before it is
//! reported good.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Why a backup failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}: no such database")]
    NoDatabase(String),
    #[error("{0} already exists: choose a new file name (a backup never overwrites)")]
    Exists(String),
    #[error("{path}: {source}")]
    Create { path: String, source: std::io::Error },
    #[error("backup: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the copy failed its integrity check: {0}")]
    Integrity(String),
}

/// Copies the database at `source` into the new file `dest`; returns the copy's size in bytes.
pub fn backup(source: &Path, dest: &Path, busy_timeout: Duration) -> Result<u64, BackupError> {
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source.display().to_string()));
    }
    if dest.exists() {
        return Err(BackupError::Exists(dest.display().to_string()));
    }
    crate::db::create_private_file(dest)
        .map_err(|source| BackupError::Create { path: dest.display().to_string(), source })?;
    let result = (|| {
        let src =
            Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        src.busy_timeout(busy_timeout)?;
        let mut dst = Connection::open(dest)?;
        {
            let copy = rusqlite::backup::Backup::new(&src, &mut dst)?;
            // Pages per step, and a pause between steps so a running jmb's writes get their turn.
            copy.run_to_completion(256, Duration::from_millis(5), None)?;
        }
        let check: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(BackupError::Integrity(check));
        }
        // A standalone file: no WAL beside it.
        dst.pragma_update(None, "journal_mode", "DELETE")?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(dest);
        return Err(e);
    }
    Ok(std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0))
}
