//! Demo sign-in sessions: which browser is signed in as whom, kept by this process so that signing
//! out ends a session on the server (its cookie signs nobody in afterwards, wherever it was copied).

use std::collections::HashMap;
use std::sync::Mutex;

/// How long a demo session lasts.
pub const SESSION_SECONDS: i64 = 12 * 3600;
/// Open sessions kept at most; the oldest go first beyond it (a demo has a handful of users).
const MAX_SESSIONS: usize = 10_000;

/// The open demo sessions: token → (uid, expiry in Unix seconds). Kept in memory only: a restart
/// signs everyone out, which a demo can afford, and nothing on disk can bring a closed session back.
#[derive(Default)]
pub struct DemoSessions {
    open: Mutex<HashMap<String, (String, i64)>>,
}

impl DemoSessions {
    /// Opens a session for `uid` at `now` (Unix seconds); returns the cookie value.
    pub fn open(&self, uid: &str, now: i64) -> String {
        let token = crate::secrets::token();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, (_, expires)| *expires > now);
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open.iter().min_by_key(|(_, (_, expires))| *expires).map(|(t, _)| t.clone())
        {
            open.remove(&oldest);
        }
        open.insert(token.clone(), (uid.to_string(), now + SESSION_SECONDS));
        token
    }

    /// The uid of an open, unexpired session.
    pub fn uid(&self, token: &str, now: i64) -> Option<String> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(token).filter(|(_, expires)| *expires > now).map(|(uid, _)| uid.clone())
    }

    /// Ends a session: its cookie no longer signs anyone in.
    pub fn close(&self, token: &str) {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).remove(token);
    }
}
