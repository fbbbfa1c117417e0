//! The subscribers file of the original (`directory.lists_file`): one `<list address> <subscriber
//! address>` pair per line (blank lines and `#` comments ignored). It is read at the first booking
//! that needs it and read again whenever its modification time or size changes, so a cron job that
//! rewrites it needs no restart. A file that cannot be read is logged and counts as empty (an old copy
//! already read is kept).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

pub struct ListsFile {
    path: PathBuf,
    loaded: Mutex<Option<Loaded>>,
}

struct Loaded {
    stamp: (Option<SystemTime>, u64),
    lists: HashMap<String, Vec<String>>,
}

impl ListsFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path, loaded: Mutex::new(None) }
    }

    /// The subscribers of `list` (lower-cased, as written), if it is a list.
    pub fn subscribers(&self, list: &str) -> Option<Vec<String>> {
        let stamp = match std::fs::metadata(&self.path) {
            Ok(m) => (m.modified().ok(), m.len()),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error.message = %e, "directory.lists_file cannot be read");
                return self.loaded.lock().unwrap_or_else(|e| e.into_inner()).as_ref()?.lists.get(list).cloned();
            }
        };
        let mut guard = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_none_or(|l| l.stamp != stamp) {
            match std::fs::read_to_string(&self.path) {
                Ok(text) => *guard = Some(Loaded { stamp, lists: parse(&text) }),
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error.message = %e, "directory.lists_file cannot be read")
                }
            }
        }
        guard.as_ref()?.lists.get(list).cloned()
    }
}

/// `list subscriber` lines into list → subscribers.
pub fn parse(text: &str) -> HashMap<String, Vec<String>> {
    let mut lists: HashMap<String, Vec<String>> = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        if let (Some(list), Some(subscriber)) = (words.next(), words.next()) {
            lists.entry(list.to_lowercase()).or_default().push(subscriber.to_lowercase());
        }
    }
    lists
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_comments_and_reload() {
        let lists = parse("# team\nTeam@Lists.example.org a@x.org\n\nteam@lists.example.org  b@y.org extra\nbroken\n");
        assert_eq!(lists["team@lists.example.org"], vec!["a@x.org", "b@y.org"]);
        assert_eq!(lists.len(), 1);

        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let path = dir.path().join("lists");
        std::fs::write(&path, "l@x.org a@x.org\n").unwrap();
        let file = ListsFile::new(path.clone());
        assert_eq!(file.subscribers("l@x.org"), Some(vec!["a@x.org".to_string()]));
        assert_eq!(file.subscribers("a@x.org"), None);
        // Rewritten (another size): read again.
        std::fs::write(&path, "l@x.org a@x.org\nl@x.org bb@x.org\n").unwrap();
        assert_eq!(file.subscribers("l@x.org").unwrap().len(), 2);
        // Gone: the copy already read is kept.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(file.subscribers("l@x.org").unwrap().len(), 2);
    }
}
