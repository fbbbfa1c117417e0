//! Time. Every "now" comes from a [`Clock`] in the state, so tests can fix or move time.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Changes each time the clock is set by hand (the test clock of a running server), so jobs
    /// sleeping until an instant look again; `None` for clocks that only move with real time.
    fn jumps(&self) -> Option<tokio::sync::watch::Receiver<i64>> {
        None
    }
}

/// The system clock, truncated to whole seconds (the store keeps seconds).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
    }
}

/// A clock tests set by hand.
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The environment variable that turns on [`FileOffsetClock`] (tests of a running `jmb serve` only).
#[cfg(debug_assertions)]
pub const TEST_CLOCK_ENV: &str = "JMB_TEST_CLOCK_FILE";

/// **Tests only.** The system clock shifted by a number of seconds read from a file, so that an
/// interop test can move a running server's time forward (to a warning before a meeting's end)
/// without waiting for it. Off unless `JMB_TEST_CLOCK_FILE` names the file, and `jmb serve` then
/// refuses to listen anywhere but on loopback (see `docs/configuration.md`). Compiled only with
/// `debug_assertions` (the debug build the test suites run): a release build has no test clock. The file holds one
/// integer, the offset in seconds (a missing or unreadable file counts as 0); a task re-reads it every
/// 50 ms and tells sleeping jobs when it changed ([`Clock::jumps`]).
#[cfg(debug_assertions)]
pub struct FileOffsetClock {
    offset: tokio::sync::watch::Sender<i64>,
}

#[cfg(debug_assertions)]
impl FileOffsetClock {
    /// Starts watching `path` (on the current tokio runtime) for as long as the clock lives.
    pub fn watch(path: std::path::PathBuf) -> std::sync::Arc<Self> {
        let clock = std::sync::Arc::new(Self { offset: tokio::sync::watch::Sender::new(read_offset(&path)) });
        let weak = std::sync::Arc::downgrade(&clock);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let Some(clock) = weak.upgrade() else { break };
                let offset = read_offset(&path);
                clock.offset.send_if_modified(|o| std::mem::replace(o, offset) != offset);
            }
        });
        clock
    }
}

#[cfg(debug_assertions)]
fn read_offset(path: &std::path::Path) -> i64 {
    std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

#[cfg(debug_assertions)]
impl Clock for FileOffsetClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + chrono::Duration::seconds(*self.offset.borrow())
    }

    fn jumps(&self) -> Option<tokio::sync::watch::Receiver<i64>> {
        Some(self.offset.subscribe())
    }
}
