//! Metrics in the Prometheus text format, replacing the original's Munin plugins. Names are stable
//! (Grafana dashboards depend on them) and listed in `docs/deployment.md`:
//!
//! * `jmb_http_requests_total{route,method,status}` and `jmb_http_request_duration_seconds{route}`
//!   (histogram): every request, by route *template* (`/j/{token}`, never the token itself);
//! * `jmb_meetings_booked_total`, `jmb_joins_total{role}`, `jmb_answers_total{answer}`: counted by a
//!   booking hook ([`MetricsHook`]), so every edge (pages, API, legacy URLs) counts alike;
//! * `jmb_feed_requests_total`, `jmb_caldav_requests_total`: counted with the HTTP requests;
//! * `jmb_mails{status}` (pending, sent, failed), `jmb_reminders_missed`, `jmb_reminders_late`:
//!   gauges read from the store at scrape time — the outbox and the reminder rows are the truth, and
//!   reading them costs two indexed counts per scrape instead of counters threaded through the worker;
//! * `jmb_room_warnings{outcome}` (pending, sent, not-running, missed, failed): the chat warnings
//!   before meetings end (`[xmpp]`), read from their rows in the same way.
//!
//! The `prometheus-client` crate (the Prometheus project's own Rust client) does the exposition, so
//! escaping, histogram buckets and the text format's details are not reinvented here. Who may read
//! the metrics is decided at the edge (`web::metrics`).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rusqlite::{Connection, Transaction};

use crate::booking::model::{Answer, PartStat};
use crate::config::{Config, ConfigError};
use crate::events::{Change, Hook, HookError};

/// The `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

type Labels = Vec<(&'static str, String)>;

/// Latency buckets (seconds): pages answer in milliseconds, CalDAV reports and feeds in tens of
/// milliseconds, anything above a few seconds is a problem worth seeing.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A reminder still pending this long after its time counts as late.
const LATE_AFTER: Duration = Duration::from_secs(120);

/// Every metric of the process. Cheap to share (`Arc`); counting is lock-free.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    booked: Counter,
    joins: Family<Labels, Counter>,
    answers: Family<Labels, Counter>,
    feed: Counter,
    caldav: Counter,
    mails: Family<Labels, Gauge>,
    reminders_missed: Gauge,
    reminders_late: Gauge,
    room_warnings: Family<Labels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("jmb");
        let requests = Family::<Labels, Counter>::default();
        let latency = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let booked = Counter::default();
        let joins = Family::<Labels, Counter>::default();
        let answers = Family::<Labels, Counter>::default();
        let feed = Counter::default();
        let caldav = Counter::default();
        let mails = Family::<Labels, Gauge>::default();
        let reminders_missed = Gauge::default();
        let reminders_late = Gauge::default();
        let room_warnings = Family::<Labels, Gauge>::default();
        registry.register("http_requests", "HTTP requests by route template, method and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency by route template", latency.clone());
        registry.register("meetings_booked", "Meetings booked", booked.clone());
        registry.register("joins", "Entries into a room by role (personal links and host entries)", joins.clone());
        registry.register("answers", "Answers to invitations (accept, tentative, decline)", answers.clone());
        registry.register("feed_requests", "iCal feed requests (/ical/ and /ical.cgi)", feed.clone());
        registry.register("caldav_requests", "CalDAV requests", caldav.clone());
        registry.register(
            "mails",
            "Mails in the outbox by status (sent ones are kept mail.keep_sent_days)",
            mails.clone(),
        );
        registry.register(
            "reminders_missed",
            "Reminders dropped because they could not be sent in time",
            reminders_missed.clone(),
        );
        registry.register(
            "reminders_late",
            "Reminders still pending two minutes after their time",
            reminders_late.clone(),
        );
        registry.register(
            "room_warnings",
            "Chat warnings before meetings end, by outcome (pending, sent, not-running, missed, failed)",
            room_warnings.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            booked,
            joins,
            answers,
            feed,
            caldav,
            mails,
            reminders_missed,
            reminders_late,
            room_warnings,
        }
    }

    /// Counts one HTTP request. `route` is the route template (`/j/{token}`), or `unmatched`.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        // Any token is a method to HTTP: a client inventing one per request must not grow the label set.
        const METHODS: [&str; 11] = [
            "GET",
            "HEAD",
            "POST",
            "PUT",
            "DELETE",
            "OPTIONS",
            "PATCH",
            "PROPFIND",
            "REPORT",
            "PROPPATCH",
            "MKCALENDAR",
        ];
        let method = if METHODS.contains(&method) { method } else { "other" };
        self.requests
            .get_or_create(&vec![
                ("route", route.to_string()),
                ("method", method.to_string()),
                ("status", status.to_string()),
            ])
            .inc();
        self.latency.get_or_create(&vec![("route", route.to_string())]).observe(elapsed.as_secs_f64());
        if route.starts_with("/ical") {
            self.feed.inc();
        } else if route.starts_with("/dav")
            || route.starts_with("/.well-known/caldav")
            || (route == "/" && method == "PROPFIND")
        {
            self.caldav.inc();
        }
    }

    /// Reads what the store knows (mails by status, missed and late reminders) into the gauges.
    pub fn refresh_from_store(&self, conn: &Connection, now: DateTime<Utc>) -> rusqlite::Result<()> {
        for status in ["pending", "sent", "failed"] {
            self.mails.get_or_create(&vec![("status", status.to_string())]).set(0);
        }
        for (status, n) in crate::outbox::counts_by_status(conn)? {
            self.mails.get_or_create(&vec![("status", status)]).set(n);
        }
        let late = chrono::Duration::from_std(LATE_AFTER).unwrap_or_default();
        let (missed, overdue) = crate::mail::reminders::lateness(conn, now, late)?;
        self.reminders_missed.set(missed);
        self.reminders_late.set(overdue);
        for outcome in ["pending", "sent", "not-running", "missed", "failed"] {
            self.room_warnings.get_or_create(&vec![("outcome", outcome.to_string())]).set(0);
        }
        for (outcome, n) in crate::room_warnings::counts(conn)? {
            self.room_warnings.get_or_create(&vec![("outcome", outcome)]).set(n);
        }
        Ok(())
    }

    /// The exposition, in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// Who may read the metrics: a peer on this machine that did not come through a proxy (loopback, or
/// the unix socket, and none of the headers a reverse proxy adds, such as `X-Forwarded-For`,
/// `Forwarded` or `X-Real-IP`, so a public request relayed by nginx or Apache never counts as local),
/// a peer whose address is in `metrics.allow`, or a request with `Authorization: Bearer
/// <metrics.token_file>`. Nobody else.
pub struct ScrapeAccess {
    allow: Vec<ipnet::IpNet>,
    token: Option<String>,
}

impl ScrapeAccess {
    /// Reads `metrics.token_file` (at least 32 bytes, like every secret of jmb).
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let token = match &config.metrics.token_file {
            Some(path) => Some(read_token(path)?),
            None => None,
        };
        Ok(Self { allow: config.metrics.allow.clone(), token })
    }

    /// `peer`: the connection's address, `None` on the unix socket; `proxied`: forwarding headers
    /// present; `bearer`: the token of an `Authorization: Bearer` header.
    pub fn allows(&self, peer: Option<IpAddr>, proxied: bool, bearer: Option<&str>) -> bool {
        let local = peer.is_none_or(|ip| ip.is_loopback());
        if local && !proxied {
            return true;
        }
        if let Some(ip) = peer
            && self.allow.iter().any(|net| net.contains(&ip))
        {
            return true;
        }
        match (&self.token, bearer) {
            (Some(want), Some(given)) => bool::from(subtle::ConstantTimeEq::ct_eq(want.as_bytes(), given.as_bytes())),
            _ => false,
        }
    }
}

fn read_token(path: &Path) -> Result<String, ConfigError> {
    let secret = crate::config::read_secret_file("metrics.token_file", path)?;
    crate::config::check_secret_strength("metrics.token_file", &secret)?;
    Ok(secret.expose().trim().to_string())
}

/// Counts bookings, joins and answers as they are committed.
pub struct MetricsHook(pub Arc<Metrics>);

impl Hook for MetricsHook {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn on_change(&self, _tx: &Transaction<'_>, change: &Change<'_>, _now: DateTime<Utc>) -> Result<(), HookError> {
        let m = &self.0;
        match change {
            Change::Created { .. } => {
                m.booked.inc();
            }
            Change::Joined { attendee, .. } => {
                m.joins.get_or_create(&vec![("role", attendee.role.as_str().to_string())]).inc();
            }
            Change::Answered { attendee, .. } => {
                let answer = match attendee.partstat {
                    PartStat::Accepted => Answer::Accept.as_str(),
                    PartStat::Tentative => Answer::Tentative.as_str(),
                    PartStat::Declined => Answer::Decline.as_str(),
                    PartStat::NeedsAction => "none",
                };
                m.answers.get_or_create(&vec![("answer", answer.to_string())]).inc();
            }
            Change::Updated { .. }
            | Change::Deleted { .. }
            | Change::NoteChanged { .. }
            | Change::UserAddressChanged { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_scrape() {
        let token = "t".repeat(32);
        let access = ScrapeAccess { allow: vec!["192.0.2.7/32".parse().unwrap()], token: Some(token.clone()) };
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(access.allows(ip("127.0.0.1"), false, None));
        assert!(access.allows(ip("::1"), false, None));
        assert!(access.allows(None, false, None), "the unix socket, not relayed");
        assert!(!access.allows(ip("127.0.0.1"), true, None), "relayed by the proxy: public");
        assert!(!access.allows(None, true, None));
        assert!(access.allows(ip("192.0.2.7"), false, None), "a configured scraper");
        assert!(!access.allows(ip("192.0.2.8"), false, None));
        assert!(access.allows(ip("198.51.100.1"), false, Some(&token)));
        assert!(access.allows(ip("127.0.0.1"), true, Some(&token)));
        assert!(!access.allows(ip("198.51.100.1"), false, Some("nope")));
        let no_token = ScrapeAccess { allow: vec![], token: None };
        assert!(!no_token.allows(ip("198.51.100.1"), false, Some(&token)));
    }

    #[test]
    fn exposition_names_and_labels() {
        let m = Metrics::new();
        m.observe_request("/j/{token}", "GET", 302, Duration::from_millis(3));
        m.observe_request("/ical.cgi", "GET", 200, Duration::from_millis(20));
        m.observe_request("/dav/{*rest}", "REPORT", 207, Duration::from_millis(20));
        m.observe_request("unmatched", "INVENTED1", 404, Duration::from_millis(1));
        m.observe_request("unmatched", "INVENTED2", 404, Duration::from_millis(1));
        let text = m.render();
        assert!(text.contains("# TYPE jmb_http_requests_total counter"), "{text}");
        assert!(text.contains(r#"jmb_http_requests_total{route="/j/{token}",method="GET",status="302"} 1"#), "{text}");
        assert!(
            text.contains(r#"jmb_http_request_duration_seconds_bucket{le="0.005",route="/j/{token}"} 1"#)
                || text.contains(r#"jmb_http_request_duration_seconds_bucket{route="/j/{token}",le="0.005"} 1"#),
            "{text}"
        );
        assert!(text.contains("jmb_feed_requests_total 1"), "{text}");
        assert!(text.contains("jmb_caldav_requests_total 1"), "{text}");
        assert!(text.contains(r#"jmb_http_requests_total{route="unmatched",method="other",status="404"} 2"#), "{text}");
        assert!(!text.contains("INVENTED"), "{text}");
    }
}
