//! The organisation's directory (`[directory]`): who a signed-in user is when the sign-in passes only
//! a uid, who may book (the editor filter), which invited addresses are the organisation's and their
//! primary address (aliases replaced before limits are checked), mailing lists (the subscribers file)
//! and groups expanded to their members, and address completion on the booking form.
//!
//! [`Directory`] is the look-up seam, with an LDAP implementation in [`ldap`]. [`DirectoryService`]
//! is what the rest of jmb calls: it adds the cache (answers, found or not, reused for
//! `cache_seconds`; at most `cache_entries` kept, least recently used dropped first; a stale answer is
//! still used while the server does not answer), the time bound, and the subscribers file.
//!
//! A directory that is down or slow costs at most `timeout_seconds` once: after a timeout or an
//! unreachable server, look-ups are not tried again for [`RETRY_AFTER`] and each caller falls back
//! (headers' identity, addresses as typed, internal by domain, no completion; editing refused, see
//! [`crate::identity`]). A server that answers with a refusal (an administrative limit, missing
//! rights) is up: the refusal fails that look-up only.

pub mod ldap;
pub mod lists;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::booking::model::MailAddress;
use crate::booking::rules::{self, RawMeeting, Resolution};
use crate::cache::ByteLru;
use crate::config::Config;
use crate::identity::BoxFuture;

/// A person as the directory describes them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Person {
    /// Login name (lower-cased; empty when the entry has none).
    pub uid: String,
    /// Primary address, lower-cased.
    pub mail: String,
    pub name: String,
}

/// Why a look-up has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("the directory did not answer in time")]
    Timeout,
    #[error("the directory is unreachable: {0}")]
    Unreachable(String),
    #[error("the directory refused: {0}")]
    Refused(String),
    /// Not tried: the last look-up failed less than [`RETRY_AFTER`] ago.
    #[error("the directory failed a moment ago")]
    Down,
}

/// Look-ups in the directory. Values are passed as they are; implementations escape them.
pub trait Directory: Send + Sync {
    /// The one person with this login name.
    fn person_by_uid<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<Option<Person>, DirectoryError>>;
    /// Whether the person with this login name matches the editor filter.
    fn is_editor<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<bool, DirectoryError>>;
    /// The person whose primary address or alias this is.
    fn person_by_mail<'a>(&'a self, mail: &'a str) -> BoxFuture<'a, Result<Option<Person>, DirectoryError>>;
    /// The members' addresses of the group with this address (at most `max` members read), if it is one.
    fn group_members<'a>(
        &'a self,
        mail: &'a str,
        max: usize,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, DirectoryError>>;
    /// People whose name, uid or address starts with `text`, at most `limit`.
    fn search<'a>(&'a self, text: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<Person>, DirectoryError>>;
    /// Whether the server answers.
    fn probe(&self) -> BoxFuture<'_, Result<(), DirectoryError>>;
    /// A look-up ran out of time: forget any connection it may have left half-dead, so that the
    /// next look-up opens a new one. Called by [`DirectoryService`] on every timeout (its bound may
    /// have dropped the look-up before the look-up's own clean-up ran). Must not wait.
    fn reset(&self) {}
}

/// After a failed look-up, the directory is not asked again for this long.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// Shortest completion text.
pub const MIN_SEARCH_CHARS: usize = 2;
/// Longest completion text.
pub const MAX_SEARCH_CHARS: usize = 100;

/// Completion requests one person may make in a minute: enough to fill a booking form (the form asks
/// once per pause in typing), too few to read the directory out ten people at a time.
pub const SEARCHES_PER_MINUTE: u32 = 30;

/// Per-user windows of completion requests (see [`DirectoryService::take_search_quota`]).
#[derive(Default)]
struct SearchQuota {
    /// uid → start of the current minute, requests in it.
    windows: std::collections::HashMap<String, (Instant, u32)>,
}

/// Users tracked before windows that have ended are dropped.
const QUOTA_USERS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Uid(String),
    Mail(String),
    Editor(String),
    Group(String),
}

#[derive(Debug, Clone)]
enum Answer {
    Person(Option<Person>),
    Editor(bool),
    Group(Option<Vec<String>>),
}

/// What the booking form says about the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No `[directory]` URL.
    Off,
    Up,
    Down,
}

struct Health {
    last_failure: Option<Instant>,
}

impl std::fmt::Debug for DirectoryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryService").field("enabled", &self.enabled()).finish_non_exhaustive()
    }
}

/// The directory as jmb uses it: look-ups cached and bounded in time, plus the subscribers file.
pub struct DirectoryService {
    backend: Option<Arc<dyn Directory>>,
    lists: Option<lists::ListsFile>,
    internal_domains: Vec<String>,
    cache: Mutex<ByteLru<Key, (Instant, Answer)>>,
    cache_for: Duration,
    timeout: Duration,
    completion_results: usize,
    max_moderators: usize,
    max_guests: usize,
    health: Mutex<Health>,
    quota: Mutex<SearchQuota>,
}

impl DirectoryService {
    /// From `[directory]`: LDAP when `directory.url` is set, the subscribers file when
    /// `directory.lists_file` is.
    pub fn from_config(config: &Config) -> Result<Self, crate::config::ConfigError> {
        let backend: Option<Arc<dyn Directory>> = if config.directory.enabled() {
            Some(Arc::new(ldap::LdapDirectory::from_config(&config.directory)?))
        } else {
            None
        };
        Ok(Self::new(backend, config))
    }

    /// Over any [`Directory`] (tests use fakes as well as slapd).
    pub fn new(backend: Option<Arc<dyn Directory>>, config: &Config) -> Self {
        let d = &config.directory;
        Self {
            backend,
            lists: d.lists_file.clone().map(lists::ListsFile::new),
            internal_domains: config.mail.internal_domains.clone(),
            cache: Mutex::new(ByteLru::new(d.cache_entries.max(1), 0, 1)),
            cache_for: Duration::from_secs(d.cache_seconds),
            timeout: Duration::from_secs(d.timeout_seconds.max(1)),
            completion_results: d.completion_results,
            max_moderators: config.booking.max_moderators,
            max_guests: config.booking.max_guests,
            health: Mutex::new(Health { last_failure: None }),
            quota: Mutex::new(SearchQuota::default()),
        }
    }

    /// Whether an LDAP server is configured.
    pub fn enabled(&self) -> bool {
        self.backend.is_some()
    }

    fn recently_failed(&self) -> bool {
        let h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        h.last_failure.is_some_and(|t| t.elapsed() < RETRY_AFTER)
    }

    fn record(&self, ok: bool) {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        h.last_failure = if ok { None } else { Some(Instant::now()) };
    }

    /// Runs `fetch` against the backend, within the time limit, unless it failed a moment ago.
    async fn ask<T>(
        &self,
        what: &'static str,
        fetch: impl FnOnce(Arc<dyn Directory>) -> BoxFuture<'static, Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        let Some(backend) = self.backend.clone() else { return Err(DirectoryError::Down) };
        if self.recently_failed() {
            return Err(DirectoryError::Down);
        }
        let outcome = match tokio::time::timeout(self.timeout, fetch(backend.clone())).await {
            Ok(r) => r,
            Err(_) => Err(DirectoryError::Timeout),
        };
        match &outcome {
            Ok(_) => self.record(true),
            Err(e @ DirectoryError::Refused(_)) => {
                tracing::warn!(error.message = %e, lookup = what, "directory refused a look-up");
            }
            Err(e) => {
                self.failed(&backend, e);
                tracing::warn!(error.message = %e, lookup = what, "directory look-up failed");
            }
        }
        outcome
    }

    /// The directory did not answer (`e` is a timeout or an unreachable server): not asked again
    /// for [`RETRY_AFTER`]; after a timeout its connection is not reused.
    fn failed(&self, backend: &Arc<dyn Directory>, e: &DirectoryError) {
        self.record(false);
        if *e == DirectoryError::Timeout {
            backend.reset();
        }
    }

    /// A bound around several look-ups ran out (it may have dropped them before they counted).
    fn timed_out(&self, what: &'static str) {
        if let Some(backend) = &self.backend {
            self.failed(backend, &DirectoryError::Timeout);
        }
        tracing::warn!(lookup = what, "directory look-ups ran out of time");
    }

    /// A cached answer, fresh or (when the directory does not answer) stale.
    async fn cached(
        &self,
        key: Key,
        what: &'static str,
        fetch: impl FnOnce(Arc<dyn Directory>) -> BoxFuture<'static, Result<Answer, DirectoryError>>,
    ) -> Result<Answer, DirectoryError> {
        let held = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key);
        let stale = match held {
            Some((at, answer)) if at.elapsed() < self.cache_for => return Ok(answer),
            Some((_, answer)) => Some(answer),
            None => None,
        };
        match self.ask(what, fetch).await {
            Ok(answer) => {
                if !self.cache_for.is_zero() {
                    self.cache.lock().unwrap_or_else(|e| e.into_inner()).put(key, (Instant::now(), answer.clone()), 1);
                }
                Ok(answer)
            }
            Err(e) => stale.ok_or(e),
        }
    }

    /// The person signed in as `uid`.
    pub async fn person_by_uid(&self, uid: &str) -> Result<Option<Person>, DirectoryError> {
        let owned = uid.to_string();
        match self
            .cached(Key::Uid(owned.clone()), "uid", move |d| {
                Box::pin(async move { d.person_by_uid(&owned).await.map(Answer::Person) })
            })
            .await?
        {
            Answer::Person(p) => Ok(p),
            _ => Ok(None),
        }
    }

    /// Whether `uid` matches the editor filter.
    pub async fn is_editor(&self, uid: &str) -> Result<bool, DirectoryError> {
        let owned = uid.to_string();
        match self
            .cached(Key::Editor(owned.clone()), "editor", move |d| {
                Box::pin(async move { d.is_editor(&owned).await.map(Answer::Editor) })
            })
            .await?
        {
            Answer::Editor(yes) => Ok(yes),
            _ => Ok(false),
        }
    }

    /// The person behind an address (primary or alias).
    pub async fn person_by_mail(&self, mail: &str) -> Result<Option<Person>, DirectoryError> {
        let owned = mail.to_lowercase();
        match self
            .cached(Key::Mail(owned.clone()), "mail", move |d| {
                Box::pin(async move { d.person_by_mail(&owned).await.map(Answer::Person) })
            })
            .await?
        {
            Answer::Person(p) => Ok(p),
            _ => Ok(None),
        }
    }

    async fn group_members(&self, mail: &str) -> Result<Option<Vec<String>>, DirectoryError> {
        let owned = mail.to_string();
        let max = self.max_guests + 1;
        match self
            .cached(Key::Group(owned.clone()), "group", move |d| {
                Box::pin(async move { d.group_members(&owned, max).await.map(Answer::Group) })
            })
            .await?
        {
            Answer::Group(g) => Ok(g),
            _ => Ok(None),
        }
    }

    /// Whether the directory said, in an answer still held (fresh or not), that it knows `mail`. No
    /// look-up: for code that cannot wait, such as composing mails inside a booking's transaction
    /// (the booking just looked every invited address up).
    pub fn known(&self, mail: &str) -> bool {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        matches!(cache.peek(&Key::Mail(mail.to_string())), Some((_, Answer::Person(Some(_)))))
    }

    /// Whether `mail` belongs to the organisation: its domain is one of `mail.internal_domains`, or the
    /// directory knows it. A directory that does not answer leaves the domain rule alone.
    pub async fn is_internal(&self, mail: &str) -> bool {
        if crate::identity::is_internal(mail, &self.internal_domains) {
            return true;
        }
        self.enabled() && matches!(self.person_by_mail(mail).await, Ok(Some(_)))
    }

    /// Completion for the booking form: at most `completion_results` people. The text must have
    /// [`MIN_SEARCH_CHARS`] to [`MAX_SEARCH_CHARS`] characters (the edge checks).
    pub async fn search(&self, text: &str) -> Result<Vec<Person>, DirectoryError> {
        let (text, limit) = (text.to_string(), self.completion_results);
        self.ask("search", move |d| Box::pin(async move { d.search(&text, limit).await })).await
    }

    /// Counts one completion request by `uid` against [`SEARCHES_PER_MINUTE`]; when the minute's
    /// allowance is used up, `Err` with the seconds until it starts again.
    pub fn take_search_quota(&self, uid: &str) -> Result<(), u64> {
        const MINUTE: Duration = Duration::from_secs(60);
        let now = Instant::now();
        let mut quota = self.quota.lock().unwrap_or_else(|e| e.into_inner());
        if quota.windows.len() >= QUOTA_USERS && !quota.windows.contains_key(uid) {
            quota.windows.retain(|_, (start, _)| now.duration_since(*start) < MINUTE);
        }
        let (start, count) = quota.windows.entry(uid.to_string()).or_insert((now, 0));
        if now.duration_since(*start) >= MINUTE {
            (*start, *count) = (now, 0);
        }
        if *count >= SEARCHES_PER_MINUTE {
            let left = MINUTE.saturating_sub(now.duration_since(*start));
            return Err(left.as_secs() + u64::from(left.subsec_nanos() > 0));
        }
        *count += 1;
        Ok(())
    }

    /// For the booking form: off, answering, or not. A probe (one base-object search on the shared
    /// connection, bounded by the timeout), unless a look-up failed a moment ago.
    pub async fn status(&self) -> Status {
        if !self.enabled() {
            return Status::Off;
        }
        if self.recently_failed() {
            return Status::Down;
        }
        match self.ask("probe", |d| Box::pin(async move { d.probe().await })).await {
            Ok(()) => Status::Up,
            Err(_) => Status::Down,
        }
    }

    /// What the directory says about a booking's addresses, for [`rules::validate`]: each alias's
    /// primary address, and for guests, lists (the subscribers file) and groups with their members.
    /// Bounded as a whole by `timeout_seconds`; a directory that does not answer leaves the
    /// addresses as typed (`unavailable` set), the subscribers file still applies.
    pub async fn resolve(&self, raw: &RawMeeting) -> Resolution {
        let moderators = addresses(&raw.moderators, self.max_moderators);
        let guests = addresses(&raw.guests, self.max_guests);
        let mut out = Resolution::default();
        if self.enabled() {
            let all: BTreeSet<&String> = moderators.iter().chain(guests.iter()).collect();
            let lookups = all.iter().map(|m| async move { (m.to_string(), self.person_by_mail(m).await) });
            match tokio::time::timeout(self.timeout, futures_util::future::join_all(lookups)).await {
                Ok(found) => {
                    for (mail, answer) in found {
                        match answer {
                            Ok(Some(p)) => {
                                if p.mail != mail {
                                    // The primary address is what gets stored: remember it is known.
                                    if !self.cache_for.is_zero() {
                                        let key = Key::Mail(p.mail.clone());
                                        let answer = (Instant::now(), Answer::Person(Some(p.clone())));
                                        self.cache.lock().unwrap_or_else(|e| e.into_inner()).put(key, answer, 1);
                                    }
                                    out.primary.insert(mail, p.mail);
                                }
                            }
                            Ok(None) => {}
                            Err(_) => out.unavailable = true,
                        }
                    }
                }
                Err(_) => {
                    self.timed_out("addresses");
                    out.unavailable = true;
                }
            }
        }
        // Lists: guests only, after alias fixing; the file first, then the directory's groups.
        let fixed: BTreeSet<String> = guests.iter().map(|g| out.primary.get(g).unwrap_or(g).clone()).collect();
        if let Some(file) = &self.lists {
            for g in &fixed {
                if let Some(subscribers) = file.subscribers(g) {
                    out.lists.insert(g.clone(), subscribers);
                }
            }
        }
        if self.enabled() && !out.unavailable {
            // Every guest is asked for (a group entry may well match the mail filter too); answers are
            // cached like the others.
            let groups: Vec<&String> = fixed.iter().filter(|g| !out.lists.contains_key(*g)).collect();
            let lookups = groups.iter().map(|g| async move { (g.to_string(), self.group_members(g).await) });
            match tokio::time::timeout(self.timeout, futures_util::future::join_all(lookups)).await {
                Ok(found) => {
                    for (mail, answer) in found {
                        match answer {
                            Ok(Some(members)) => {
                                out.lists.insert(mail, members);
                            }
                            Ok(None) => {}
                            Err(_) => out.unavailable = true,
                        }
                    }
                }
                Err(_) => {
                    self.timed_out("groups");
                    out.unavailable = true;
                }
            }
        }
        out
    }

    /// Resolves the booking's addresses ([`DirectoryService::resolve`]), then validates it: the one
    /// path every edge takes, so pages and API apply the same aliases, lists and limits.
    pub async fn validate(
        &self,
        raw: &RawMeeting,
        ctx: rules::Context<'_>,
    ) -> Result<rules::ValidMeeting, rules::FieldErrors> {
        let resolution = self.resolve(raw).await;
        rules::validate(raw, &ctx.with_resolution(&resolution))
    }
}

/// `auth.editors = "directory"`: editors are those `(&<user_filter><editor_filter>)` finds. A
/// directory that does not answer decides nothing (no booking now; a cached answer, even stale, is
/// still used).
pub struct DirectoryEditors(pub Arc<DirectoryService>);

impl crate::identity::EditorPolicy for DirectoryEditors {
    fn is_editor<'a>(
        &'a self,
        who: &'a crate::identity::Identity,
    ) -> BoxFuture<'a, Result<bool, crate::identity::Undecided>> {
        Box::pin(async move { self.0.is_editor(&who.uid).await.map_err(|_| crate::identity::Undecided) })
    }
}

/// The distinct valid addresses of a list field as typed (lower-cased), at most twice its limit
/// plus one: beyond, the limit refuses the booking whatever the directory says.
fn addresses(entries: &[String], max: usize) -> Vec<String> {
    let cap = rules::list_cap(max);
    if entries.iter().map(|e| e.chars().count() + 1).sum::<usize>() > cap + 1 {
        return Vec::new();
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for entry in entries {
        for (_, address) in rules::split_address_list(entry) {
            if let Some(m) = MailAddress::parse(&address)
                && seen.insert(m.as_str().to_string())
            {
                out.push(m.as_str().to_string());
                if out.len() > 2 * max + 1 {
                    return out;
                }
            }
        }
    }
    out
}

/// Test doubles.
#[cfg(test)]
mod tests;
