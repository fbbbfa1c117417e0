//! Read-only CalDAV server (RFC 4791, RFC 6578, RFC 6764) over a [`CalendarBackend`].
//!
//! Resource layout (one principal, one home set, one calendar per user):
//!
//! ```text
//! /.well-known/caldav                         301 → /dav/ (before any authentication)
//! /dav/                                       context root
//! /dav/principals/                            principal collection
//! /dav/principals/<uid>/                      principal, and also its calendar-home-set
//! /dav/principals/<uid>/meetings/             the calendar
//! /dav/principals/<uid>/meetings/<name>.ics   one booking
//! ```
//!
//! Every request but OPTIONS and the well-known redirect needs HTTP Basic credentials
//! (checked by the backend); a user only ever sees their own principal (others are 404).
//! WebDAV verbs are dispatched by method string because axum's `MethodFilter` only knows
//! the standard ones. Every write verb is answered 403 `need-privileges`, never 500.
//!
//! The router is self-contained (its own state) so the core can `merge` it at the root.
//!
//! Reports: calendar-query, calendar-multiget, sync-collection (with `<d:limit>`) and
//! free-busy-query on the calendar, calendar-multiget on objects, expand-property anywhere
//! (see `report.rs` and `expand.rs`). What one request can cost is bounded: the body (256 KiB,
//! 10 000 elements), the distinct properties it names (64, repeats merged), the size of a
//! multistatus ([`DavConfig::max_answer_bytes`], 507 beyond), and the answer cache
//! (`ResponseCache`, keyed by digest, least recently used entries evicted within one byte budget;
//! once full, an answer is kept when made again within a while).

mod error;
mod expand;
#[cfg(test)]
pub mod memory;
mod propfind;
mod props;
#[cfg(test)]
mod proptests;
mod report;
#[cfg(test)]
mod tests;
mod xml;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

pub use error::{DavError, Precondition};
pub use xml::XmlError;

use crate::ics::BusyKind;

/// `DAV` header on every response: class 1 and 3 (no locking), calendar access, no scheduling.
pub const DAV_HEADER: &str = "1, 3, calendar-access";
/// `Allow` header: read-only (Evolution falls back to it when judging writability).
pub const ALLOW: &str = "OPTIONS, GET, HEAD, PROPFIND, REPORT";
pub(crate) const XML_CONTENT_TYPE: &str = "application/xml; charset=utf-8";
/// Request bodies above this are refused with 413 before parsing.
pub const MAX_BODY: usize = 256 * 1024;
/// Default ceiling of a multistatus answer ([`DavConfig::max_answer_bytes`]). Listing the
/// calendar-data of 2000 meetings of 4 KB (about fifty guests each) takes 8 MB; four times that is
/// no calendar, but a client asking for the same data over and over, which is refused instead of
/// built.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// A boxed future, so the backend trait stays object-safe (`Arc<dyn CalendarBackend>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A calendar-query time range: either bound may be missing (RFC 4791 §9.9).
pub type TimeRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// An authenticated calendar user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Path segment of the principal; compared exactly with the URL.
    pub uid: String,
    /// Served as `calendar-user-address-set` (`mailto:`): DAVx5 takes the account's address
    /// from it.
    pub mail: String,
    pub display_name: String,
}

/// One calendar object as served to one user.
#[derive(Clone, Debug)]
pub struct CalObject {
    /// URL-safe file name ending in `.ics` (see [`crate::ics::object_name_for_uid`]).
    pub name: String,
    /// Output of [`crate::ics::render_resource`] (UTF-8), in three consecutive parts: served, they
    /// are concatenated. A calendar's objects share the first and last part (the calendar header and
    /// footer) and take the middle one (the event) from the buffer that also holds the feed, so a
    /// large calendar is kept in memory once, not twice.
    pub body_parts: [Bytes; 3],
    /// Quoted strong ETag of exactly the concatenated body (see [`crate::ics::etag`]).
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// How the event counts in this user's free-busy time (RFC 4791 §7.10, RFC 5545 `FBTYPE`):
    /// `Busy` when they accepted it or own it, `Tentative` when they have not answered yet or answered
    /// tentatively (it is in their calendar, but they may still decline: RFC 5545's BUSY-TENTATIVE,
    /// "tentatively scheduled"), `None` (free) when they declined it or it is cancelled.
    pub busy: Option<BusyKind>,
}

impl CalObject {
    /// An object for a whole `body`, with its ETag.
    pub fn new(
        name: String,
        body: String,
        last_modified: DateTime<Utc>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        busy: Option<BusyKind>,
    ) -> Self {
        let etag = crate::ics::etag(body.as_bytes());
        CalObject {
            name,
            body_parts: [Bytes::new(), Bytes::from(body), Bytes::new()],
            etag,
            last_modified,
            start,
            end,
            busy,
        }
    }

    /// The bytes served.
    pub fn body(&self) -> Bytes {
        match &self.body_parts {
            [a, b, c] if a.is_empty() && c.is_empty() => b.clone(),
            parts => Bytes::from(parts.concat()),
        }
    }

    /// Length of the bytes served.
    pub fn body_len(&self) -> usize {
        self.body_parts.iter().map(Bytes::len).sum()
    }

    /// The body as text (it is always UTF-8: it is rendered from strings).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body()).into_owned()
    }
}

/// Collection state: a counter bumped on every change of the user's calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalendarState {
    pub ctag: i64,
    /// Changes whenever anything served for this calendar may change (a new version, or a
    /// re-rendering because an alarm passed). Responses are cached under it.
    pub generation: u64,
}

/// The backend does not know the sync token (pruned from the change log, or from the future).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncError {
    InvalidToken,
}

/// What changed since a sync token.
#[derive(Clone, Debug)]
pub struct Changes {
    /// Objects created or modified after the token.
    pub changed: Vec<CalObject>,
    /// Names of objects removed after the token.
    pub removed: Vec<String>,
    /// The counter the new sync token is built from: the calendar's current one, or when
    /// `truncated`, the latest change of the last object reported.
    pub ctag: i64,
    /// More objects changed than the limit asked: these are the ones whose latest change is the
    /// oldest, and `ctag` covers exactly them, so a sync from it reports the rest.
    pub truncated: bool,
}

/// A backend failure (storage unavailable…): answered with a generic 500 and logged.
#[derive(Debug, thiserror::Error)]
#[error("calendar backend: {0}")]
pub struct BackendError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl BackendError {
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        BackendError(e.into())
    }
}

/// Where CalDAV reads calendars from. Every method takes the authenticated principal's uid.
pub trait CalendarBackend: Send + Sync + 'static {
    /// Checks HTTP Basic credentials (an app password); `Ok(None)` when they are wrong.
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Option<Principal>, BackendError>>;

    /// Current counter of the user's calendar (`getctag`, `sync-token`).
    fn state<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<CalendarState, BackendError>>;

    /// All objects, or those overlapping `range` (RFC 4791 §9.9: `start < obj.end` and
    /// `end > obj.start`, either bound may be missing).
    fn objects<'a>(
        &'a self,
        uid: &'a str,
        range: Option<TimeRange>,
    ) -> BoxFuture<'a, Result<Vec<CalObject>, BackendError>>;

    /// One object by name (GET, HEAD, calendar-multiget).
    fn object<'a>(&'a self, uid: &'a str, name: &'a str) -> BoxFuture<'a, Result<Option<CalObject>, BackendError>>;

    /// Changes after counter `ctag`, or `Err(SyncError::InvalidToken)` if unknown/pruned.
    ///
    /// The change log is ordered by counter and an object counts at its latest change. With a
    /// `limit`, when more than `limit` objects (changed or removed) changed, the answer holds the
    /// `limit` objects whose latest change is the oldest, `truncated` is set and `ctag` is the latest
    /// change among them (an object changed at 3 and 9 is reported with the changes up to 9).
    fn changes_since<'a>(
        &'a self,
        uid: &'a str,
        ctag: i64,
        limit: Option<usize>,
    ) -> BoxFuture<'a, Result<Result<Changes, SyncError>, BackendError>>;

    /// The whole calendar as one iCalendar document (GET on the collection).
    fn calendar_ics<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<String, BackendError>>;

    /// The current time (`DTSTAMP` of free-busy answers), from the application's clock.
    fn now(&self) -> DateTime<Utc>;
}

/// Static presentation of every user's calendar.
#[derive(Clone, Debug)]
pub struct DavConfig {
    pub calendar_name: String,
    pub calendar_description: String,
    /// `#RRGGBB` or `#RRGGBBAA` (Apple `calendar-color`).
    pub color: String,
    /// Sync tokens are `<prefix><ctag>`, e.g. `https://meet.example.org/ns/sync/42`.
    pub sync_token_prefix: String,
    /// `PRODID` of the iCalendar documents written here (free-busy answers), e.g.
    /// `-//Example Org//jmb//FR`.
    pub prodid: String,
    /// Multistatus answers larger than this are refused with 507 `number-of-matches-within-limits`
    /// (see [`DEFAULT_MAX_ANSWER_BYTES`]).
    pub max_answer_bytes: usize,
    /// Budget of the answer cache (answers, keys and bookkeeping).
    pub answer_cache_bytes: usize,
}

#[derive(Clone)]
struct DavState {
    backend: Arc<dyn CalendarBackend>,
    config: Arc<DavConfig>,
    cache: Arc<ResponseCache>,
}

/// What makes two PROPFIND or REPORT answers identical: the same user, the same calendar generation
/// and the same request. Clients poll with the same request again and again (Thunderbird's
/// PROPFIND, DAVx5's calendar-query), so the second answer is a copy of the first.
///
/// The key is a SHA-256 digest of all of these, not the request itself: a request body can be
/// 256 KiB and its answer a few hundred bytes, so keeping bodies as keys let a client fill memory
/// with keys the byte budget never saw.
type CacheKey = [u8; 32];

fn cache_key(
    uid: &str,
    generation: u64,
    method: &str,
    path: &str,
    depth: Option<&[u8]>,
    minimal: bool,
    body: &[u8],
) -> CacheKey {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    // Every variable-length field is length-prefixed, so no two requests hash the same bytes.
    for field in [uid.as_bytes(), method.as_bytes(), path.as_bytes(), depth.unwrap_or_default(), body] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field);
    }
    h.update(generation.to_le_bytes());
    h.update([u8::from(minimal), u8::from(depth.is_some())]);
    h.finalize().into()
}

/// A byte-bounded cache of multistatus answers with least-recently-used eviction (keys, answers and
/// bookkeeping counted together; answers too large to be worth it are not kept). Scan-resistant: once
/// full, an answer is kept when the same one is made again within a while, so the answers to clients
/// that poll once in a long while do not push out those polled often.
pub(crate) struct ResponseCache {
    inner: std::sync::Mutex<crate::cache::ByteLru<CacheKey, Bytes>>,
}

impl ResponseCache {
    /// Budget of the tests' caches: keys, answers and bookkeeping together.
    #[cfg(test)]
    pub(crate) const BUDGET: usize = 8 * 1024 * 1024;
    /// What an entry costs beside its answer: the key twice (map and use order), the tick twice,
    /// the `Bytes` handle, and the maps' own per-entry overhead (generously).
    pub(crate) const ENTRY_OVERHEAD: usize = 2 * 32 + 2 * 8 + 32 + 64;

    pub(crate) fn new(budget: usize) -> Self {
        // An answer above a quarter of the budget is not kept (one would push out many); with the
        // default budget a REPORT of a month of a 2 000-event calendar (about 1.3 MB) still is.
        let lru = crate::cache::ByteLru::scan_resistant(budget, Self::ENTRY_OVERHEAD, budget / 4);
        ResponseCache { inner: std::sync::Mutex::new(lru) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, crate::cache::ByteLru<CacheKey, Bytes>> {
        // Every update leaves the maps consistent before anything can panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &CacheKey) -> Option<Bytes> {
        self.lock().get(key)
    }

    fn put(&self, key: CacheKey, body: Bytes) {
        let size = body.len();
        self.lock().put(key, body, size);
    }

    /// Bytes accounted against the budget (never above it).
    #[cfg(test)]
    pub(crate) fn footprint(&self) -> usize {
        self.lock().footprint()
    }

    /// Number of answers kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// The CalDAV router, to be merged at the root of the application.
///
/// It also answers `/` for every method, because some clients (python caldav) are given the
/// bare server URL and PROPFIND it for `current-user-principal`. The application can still
/// serve its home page there: `Router::merge` combines method routers of the same path, so
/// a `get(home)` on `/` takes GET and HEAD and this router keeps the other methods.
pub fn router(backend: Arc<dyn CalendarBackend>, config: Arc<DavConfig>) -> axum::Router {
    let cache = Arc::new(ResponseCache::new(config.answer_cache_bytes));
    router_with_cache(backend, config, cache)
}

/// [`router`] with a given answer cache (tests read its footprint).
pub(crate) fn router_with_cache(
    backend: Arc<dyn CalendarBackend>,
    config: Arc<DavConfig>,
    cache: Arc<ResponseCache>,
) -> axum::Router {
    let state = DavState { backend, config, cache };
    axum::Router::new()
        .route("/", axum::routing::MethodRouter::new().fallback(dav))
        .route("/.well-known/caldav", any(well_known))
        .route("/.well-known/caldav/", any(well_known))
        .route("/dav", any(dav))
        .route("/dav/", any(dav))
        .route("/dav/{*rest}", any(dav))
        .with_state(state)
}

/// RFC 6764: permanent redirect to the context root, whatever the method, before any auth.
async fn well_known() -> Response {
    let mut res = StatusCode::MOVED_PERMANENTLY.into_response();
    res.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/dav/"));
    res
}

/// Path-segment encoding for hrefs we emit: unreserved characters and `@` stay as they are.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'@');

pub(crate) fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The resource addressed by a request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `/` itself: clients given the bare server URL (python caldav) PROPFIND it first.
    ServerRoot,
    Root,
    Principals,
    Principal(String),
    Calendar(String),
    Object(String, String),
}

impl Target {
    /// Parses a (still percent-encoded) absolute path; `None` if it is not one of ours.
    pub(crate) fn parse(path: &str) -> Option<Target> {
        if path == "/" {
            return Some(Target::ServerRoot);
        }
        let rest = path.strip_prefix("/dav")?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let mut segs = Vec::with_capacity(4);
        for raw in rest.split('/').filter(|s| !s.is_empty()) {
            let seg = percent_decode_str(raw).decode_utf8().ok()?;
            if seg.is_empty() || seg == "." || seg == ".." || seg.contains('/') {
                return None;
            }
            segs.push(seg.into_owned());
        }
        let mut it = segs.into_iter();
        let target = match (it.next(), it.next(), it.next(), it.next(), it.next()) {
            (None, ..) => Target::Root,
            (Some(p), None, ..) if p == "principals" => Target::Principals,
            (Some(p), Some(uid), None, ..) if p == "principals" => Target::Principal(uid),
            (Some(p), Some(uid), Some(m), None, _) if p == "principals" && m == "meetings" => Target::Calendar(uid),
            (Some(p), Some(uid), Some(m), Some(name), None) if p == "principals" && m == "meetings" => {
                Target::Object(uid, name)
            }
            _ => return None,
        };
        Some(target)
    }

    fn uid(&self) -> Option<&str> {
        match self {
            Target::Principal(u) | Target::Calendar(u) | Target::Object(u, _) => Some(u),
            Target::ServerRoot | Target::Root | Target::Principals => None,
        }
    }
}

pub(crate) fn principal_href(uid: &str) -> String {
    format!("/dav/principals/{}/", encode_segment(uid))
}

pub(crate) fn calendar_href(uid: &str) -> String {
    format!("/dav/principals/{}/meetings/", encode_segment(uid))
}

pub(crate) fn object_href(uid: &str, name: &str) -> String {
    format!("/dav/principals/{}/meetings/{}", encode_segment(uid), encode_segment(name))
}

/// Per-request context shared by PROPFIND and REPORT.
pub(crate) struct Ctx<'a> {
    pub backend: &'a dyn CalendarBackend,
    pub config: &'a DavConfig,
    pub principal: &'a Principal,
    /// `Prefer: return-minimal` or `Brief: t`: 404 propstats may be left out.
    pub minimal: bool,
}

fn is_write_method(m: &str) -> bool {
    matches!(
        m,
        "PUT"
            | "DELETE"
            | "PATCH"
            | "POST"
            | "PROPPATCH"
            | "MKCALENDAR"
            | "MKCOL"
            | "MOVE"
            | "COPY"
            | "LOCK"
            | "UNLOCK"
            | "ACL"
            | "BIND"
            | "UNBIND"
            | "REBIND"
    )
}

async fn dav(State(st): State<DavState>, req: Request) -> Response {
    let mut res = match handle(&st, req).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    };
    res.headers_mut().insert("dav", HeaderValue::from_static(DAV_HEADER));
    res
}

async fn handle(st: &DavState, req: Request) -> Result<Response, DavError> {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str();
    if parts.method == Method::OPTIONS {
        // Unauthenticated: it reveals nothing, and some clients probe capabilities first.
        return Ok((StatusCode::OK, [(header::ALLOW, ALLOW), (header::CONTENT_LENGTH, "0")]).into_response());
    }
    // The body is read before anything may refuse the request: a response sent while the body is still
    // unread makes hyper close the connection, and clients that answer a 401 by retrying with
    // credentials on the same connection (python caldav, Apple) then fail with "connection closed".
    let body = read_body(body, &parts.headers).await?;
    let principal = authenticate(st.backend.as_ref(), &parts.headers).await?;
    if is_write_method(method) {
        return Err(DavError::Forbidden(Precondition::NeedPrivileges));
    }
    let target = Target::parse(parts.uri.path()).ok_or(DavError::NotFound)?;
    if let Some(uid) = target.uid()
        && uid != principal.uid
    {
        // Another user's resources: do not even confirm they exist.
        return Err(DavError::NotFound);
    }
    let ctx = Ctx {
        backend: st.backend.as_ref(),
        config: &st.config,
        principal: &principal,
        minimal: wants_minimal(&parts.headers),
    };
    if method == "GET" || method == "HEAD" {
        return get(&ctx, &target, &parts.headers, parts.method == Method::HEAD).await;
    }
    if method != "PROPFIND" && method != "REPORT" {
        return Err(DavError::MethodNotAllowed);
    }
    let depth = if method == "PROPFIND" { Some(parse_depth(&parts.headers)?) } else { None };
    // sync-collection answers depend on the change log as well: never cached.
    let cacheable = method == "PROPFIND" || !contains(&body, b"sync-collection");
    let key = if cacheable {
        let generation = ctx.backend.state(&principal.uid).await?.generation;
        let depth_header = parts.headers.get("depth").map(HeaderValue::as_bytes);
        let key = cache_key(&principal.uid, generation, method, parts.uri.path(), depth_header, ctx.minimal, &body);
        if let Some(hit) = st.cache.get(&key) {
            return Ok(multistatus(hit));
        }
        Some(key)
    } else {
        None
    };
    let answer = match depth {
        Some(depth) => Answer::Multistatus(propfind::propfind(&ctx, &target, depth, &body).await?),
        None => report::report(&ctx, &target, &body).await?,
    };
    Ok(match answer {
        Answer::Multistatus(bytes) => {
            if let Some(key) = key {
                st.cache.put(key, bytes.clone());
            }
            multistatus(bytes)
        }
        Answer::Calendar(text) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], text).into_response()
        }
    })
}

/// A successful PROPFIND or REPORT answer.
pub(crate) enum Answer {
    /// A finished `d:multistatus` document (207).
    Multistatus(Bytes),
    /// An iCalendar document (200 `text/calendar`): the free-busy-query answer.
    Calendar(String),
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// HTTP Basic (RFC 7617), UTF-8. Wrong or missing credentials are both a plain 401.
async fn authenticate(backend: &dyn CalendarBackend, headers: &HeaderMap) -> Result<Principal, DavError> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(DavError::Unauthorized)?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or(DavError::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(DavError::Unauthorized);
    }
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| DavError::Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| DavError::Unauthorized)?;
    let (user, password) = decoded.split_once(':').ok_or(DavError::Unauthorized)?;
    if user.is_empty() || password.is_empty() {
        return Err(DavError::Unauthorized);
    }
    backend.authenticate(user, password).await?.ok_or(DavError::Unauthorized)
}

fn wants_minimal(headers: &HeaderMap) -> bool {
    let prefer =
        headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|p| {
            p.trim().eq_ignore_ascii_case("return-minimal") || p.trim().eq_ignore_ascii_case("return=minimal")
        });
    let brief = headers.get("brief").and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim().eq_ignore_ascii_case("t"));
    prefer || brief
}

/// PROPFIND depth. A missing header means infinity per RFC 4918, but clients that omit it
/// expect a listing, so it is treated as 1 (as sabre/dav does); an explicit `infinity` is
/// refused with `propfind-finite-depth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Depth {
    Zero,
    One,
}

fn parse_depth(headers: &HeaderMap) -> Result<Depth, DavError> {
    match headers.get("depth").map(|v| v.to_str().map(str::trim)) {
        None => Ok(Depth::One),
        Some(Ok("0")) => Ok(Depth::Zero),
        Some(Ok("1")) => Ok(Depth::One),
        Some(Ok(v)) if v.eq_ignore_ascii_case("infinity") => {
            Err(DavError::Forbidden(Precondition::PropfindFiniteDepth))
        }
        Some(_) => Err(DavError::BadRequest("invalid Depth header")),
    }
}

async fn read_body(body: Body, headers: &HeaderMap) -> Result<Bytes, DavError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(DavError::PayloadTooLarge);
    }
    // Chunked bodies have no Content-Length: the limit applies while reading.
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| DavError::PayloadTooLarge)
}

async fn get(ctx: &Ctx<'_>, target: &Target, headers: &HeaderMap, head: bool) -> Result<Response, DavError> {
    let uid = ctx.principal.uid.as_str();
    let (body, etag, last_modified): (Bytes, String, Option<DateTime<Utc>>) = match target {
        Target::Object(_, name) => {
            let obj = ctx.backend.object(uid, name).await?.ok_or(DavError::NotFound)?;
            let body = obj.body();
            (body, obj.etag, Some(obj.last_modified))
        }
        Target::Calendar(_) => {
            let ics = ctx.backend.calendar_ics(uid).await?;
            let etag = crate::ics::etag(ics.as_bytes());
            (Bytes::from(ics), etag, None)
        }
        Target::ServerRoot | Target::Root | Target::Principals | Target::Principal(_) => {
            let text = "jmb CalDAV server (read-only): add this address to your calendar client.\n";
            return Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                if head { "" } else { text },
            )
                .into_response());
        }
    };
    let mut res = if crate::conditional::not_modified(headers, &etag, last_modified) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let len = body.len().to_string();
        let mut res = if head { Response::new(Body::empty()) } else { Response::new(Body::from(body)) };
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
        if let Ok(v) = HeaderValue::from_str(&len) {
            h.insert(header::CONTENT_LENGTH, v);
        }
        res
    };
    let h = res.headers_mut();
    crate::conditional::set_validators(h, &etag, last_modified);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    Ok(res)
}

/// A 207 Multi-Status response around a finished document.
pub(crate) fn multistatus(body: impl Into<Body>) -> Response {
    let body: Body = body.into();
    (StatusCode::MULTI_STATUS, [(header::CONTENT_TYPE, XML_CONTENT_TYPE)], body).into_response()
}
