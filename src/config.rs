//! Configuration: one TOML file, overridden by `JMB_SECTION__KEY` environment variables.
//!
//! Every struct denies unknown keys, so a typo is an error that names the key instead of a silently
//! ignored setting. Secrets can be given inline or read from a file (`…_file`), and never appear in
//! `Debug` output. `docs/configuration.md` documents every key; keep it in step with this file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"<redacted>\"" })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub jitsi: JitsiConfig,
    pub auth: AuthConfig,
    pub booking: BookingConfig,
    pub mail: MailConfig,
    pub calendar: CalendarConfig,
    pub metrics: MetricsConfig,
    pub presence: PresenceConfig,
    pub directory: DirectoryConfig,
    /// Chat warnings before a meeting ends (`[xmpp]`); absent: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xmpp: Option<XmppConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `host:port`, or `unix:/path/to/socket`.
    pub listen: String,
    /// The address users reach jmb at; used for every absolute link (mails, calendars, tokens).
    pub public_url: String,
    /// Key for signing cookies and CSRF tokens; generated under the database folder when empty.
    pub secret: Secret,
    pub secret_file: Option<PathBuf>,
    /// Shown in titles, pages and mails.
    pub site_name: String,
    /// Optional logo URL or path (served by the proxy or jmb's /static).
    pub logo_url: Option<String>,
    /// `fr` or `en`: used when the browser states no preference jmb can serve.
    pub default_language: String,
    /// IANA time zone used to show dates and times.
    pub display_time_zone: String,
    /// Where `/close.cgi` sends people who did not come from jmb's own pages.
    pub close_redirect: Option<String>,
    /// Longest time a request may take before it is answered 408.
    pub request_timeout_seconds: u64,
    /// Time a client has to send a request's headers, from the connection's start or, on a kept-alive
    /// connection, from the end of the previous answer (so also the idle keep-alive timeout).
    pub header_read_timeout_seconds: u64,
    /// Connections served at once; more wait in the listen queue until one closes.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            secret: Secret::default(),
            secret_file: None,
            site_name: "Jitsi Meet".into(),
            logo_url: None,
            default_language: "fr".into(),
            display_time_zone: "Europe/Paris".into(),
            close_redirect: None,
            request_timeout_seconds: 30,
            header_read_timeout_seconds: 10,
            max_connections: 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub path: PathBuf,
    /// How long a statement waits for a lock held by another process before failing.
    pub busy_timeout_ms: u64,
    /// Read connections kept open; writes go through one connection.
    pub read_connections: usize,
    /// Meetings that ended more than this many days ago are removed with their attendees, answers,
    /// join tracking and mails (GDPR); 0 (the default) keeps everything. Checked hourly, logged with
    /// counts; `jmb purge --older-than DAYS` does the same once.
    pub retention_days: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { path: PathBuf::from("data/jmb.sqlite3"), busy_timeout_ms: 5000, read_connections: 4, retention_days: 0 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JitsiConfig {
    pub base_url: String,
    /// JWT `sub`; the host of `base_url` when empty.
    pub domain: String,
    /// JWT `iss`: Prosody's `app_id`.
    pub app_id: String,
    /// Prosody's `app_secret` (HS256 key).
    pub app_secret: Secret,
    pub app_secret_file: Option<PathBuf>,
    /// Prosody's host configuration (`/etc/prosody/conf.avail/<host>.cfg.lua`): `app_id` and
    /// `app_secret` are read from its VirtualHost, as the original's installer did.
    pub prosody_config: Option<PathBuf>,
    /// JWT `aud`.
    pub audience: String,
    /// Lifetime of tokens for signed-in owners, internal moderators and private rooms.
    pub token_lifetime_seconds: u64,
    /// Lifetime of tokens for external moderators (personal link, no sign-in).
    pub external_moderator_token_lifetime_seconds: u64,
    /// How long before the start owners and moderators may enter the room.
    pub moderator_join_early_minutes: u32,
    /// How long before the start guests may open their link.
    pub guest_join_early_minutes: u32,
}

impl Default for JitsiConfig {
    fn default() -> Self {
        Self {
            base_url: "https://meet.jit.si".into(),
            domain: String::new(),
            app_id: "jitsi-auth".into(),
            app_secret: Secret::default(),
            app_secret_file: None,
            prosody_config: None,
            audience: "jitsi".into(),
            token_lifetime_seconds: 900,
            external_moderator_token_lifetime_seconds: 1800,
            moderator_join_early_minutes: 15,
            guest_join_early_minutes: 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// A reverse proxy authenticates and passes identity headers.
    TrustedHeader,
    /// Pick one of the configured demo users; loopback only.
    Demo,
}

/// Who may create meetings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EditorPolicy {
    /// `"everyone"`.
    Keyword(EditorKeyword),
    /// A list of uids.
    Uids(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EditorKeyword {
    Everyone,
    /// Those the directory finds with `(&<user_filter>(<editor_filter>))` (`[directory]` must be set).
    Directory,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoUser {
    pub uid: String,
    pub mail: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub mode: AuthMode,
    pub trusted_proxies: Vec<IpNet>,
    pub user_header: String,
    pub mail_header: String,
    pub name_header: String,
    pub editors: EditorPolicy,
    pub demo_users: Vec<DemoUser>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::TrustedHeader,
            trusted_proxies: vec!["127.0.0.1/32".parse().expect("valid CIDR"), "::1/128".parse().expect("valid CIDR")],
            user_header: "X-Remote-User".into(),
            mail_header: "X-Remote-Mail".into(),
            name_header: "X-Remote-Name".into(),
            editors: EditorPolicy::Keyword(EditorKeyword::Everyone),
            demo_users: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookingConfig {
    pub default_duration_minutes: u32,
    pub min_duration_minutes: u32,
    pub max_duration_minutes: u32,
    pub duration_step_minutes: u32,
    /// Start times must fall on this step (minutes past the hour).
    pub start_step_minutes: u32,
    pub max_moderators: usize,
    pub max_guests: usize,
    pub max_subject_chars: usize,
    /// Finished meetings stay listed for this many days (0 hides archives).
    pub archive_days: u32,
    /// The list shows a meeting as joinable this long before its start, for owners and moderators.
    pub highlight_owner_minutes: u32,
    /// The same for guests.
    pub highlight_guest_minutes: u32,
    /// Meetings one person may book in any hour; more are refused (429) until the oldest leaves the hour.
    pub max_bookings_per_hour: u32,
}

impl BookingConfig {
    /// How long the start step under way stays bookable (at most its first 15 minutes), and a meeting
    /// booked or moved in it editable: the form proposes the next step, which may have begun by the
    /// time the form is sent, and people book meetings that start now.
    pub fn start_grace(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.start_step_minutes.min(15)))
    }
}

impl Default for BookingConfig {
    fn default() -> Self {
        Self {
            default_duration_minutes: 90,
            min_duration_minutes: 30,
            max_duration_minutes: 480,
            duration_step_minutes: 30,
            start_step_minutes: 15,
            max_moderators: 2,
            max_guests: 50,
            max_subject_chars: 200,
            archive_days: 365,
            highlight_owner_minutes: 15,
            highlight_guest_minutes: 5,
            max_bookings_per_hour: 100,
        }
    }
}

/// How mails leave jmb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// An SMTP server (`smtp_url`).
    Smtp,
    /// The local `sendmail` program.
    Sendmail,
    /// Nowhere: mails stay in the store, shown on the demo page `/mailbox`.
    Mailbox,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// Domains (exact match after `@`) whose addresses belong to the organisation.
    pub internal_domains: Vec<String>,
    pub transport: MailTransportKind,
    /// lettre's URL form: `smtp://host:25`, `smtp://host:587?tls=required`, `smtps://host:465`.
    pub smtp_url: String,
    /// User name for SMTP authentication (with `smtp_password_file`).
    pub smtp_user: String,
    pub smtp_password_file: Option<PathBuf>,
    /// A PEM certificate (an internal CA) the SMTP server's certificate may chain to, besides the
    /// system's trusted ones (STARTTLS and smtps://).
    pub smtp_ca_file: Option<PathBuf>,
    /// How long one SMTP exchange may take.
    pub smtp_timeout_seconds: u64,
    /// The sendmail program (`transport = "sendmail"`).
    pub sendmail_command: String,
    /// `From:` address. Empty: `noreply@<host of server.public_url>`.
    pub from: String,
    /// `From:` display name. Empty: the site name.
    pub from_name: String,
    /// Envelope sender (SMTP `MAIL FROM`, bounces). Empty: `from`.
    pub envelope_from: String,
    /// Tell the organiser when someone answers.
    pub notify_organiser_on_answer: bool,
    /// Reminders, in minutes before the start.
    pub reminder_minutes: Vec<u32>,
    /// Mails to invitees one owner's bookings may cause per hour; beyond, a booking is refused.
    pub max_invitations_per_owner_per_hour: u32,
    /// First delay after a temporary failure; it doubles at each attempt up to `retry_max_seconds`.
    pub retry_initial_seconds: u64,
    pub retry_max_seconds: u64,
    /// A mail still not accepted after this long is kept as failed (`jmb outbox` lists it).
    pub give_up_after_hours: u32,
    /// Sent mails are kept this long in the store (the demo mailbox, `jmb outbox`), then removed.
    pub keep_sent_days: u32,
    /// The advice block of invitations and reminders (browsers, headset), per language.
    pub advice: MailTexts,
    /// Subjects per kind and language; `{subject}` is the meeting's subject, `{who}` who answered.
    pub subjects: MailSubjects,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            internal_domains: Vec::new(),
            transport: MailTransportKind::Smtp,
            smtp_url: "smtp://127.0.0.1:25".into(),
            smtp_user: String::new(),
            smtp_ca_file: None,
            smtp_password_file: None,
            smtp_timeout_seconds: 30,
            sendmail_command: "/usr/sbin/sendmail".into(),
            from: String::new(),
            from_name: String::new(),
            envelope_from: String::new(),
            notify_organiser_on_answer: true,
            reminder_minutes: vec![10080, 1440, 60, 10],
            max_invitations_per_owner_per_hour: 500,
            retry_initial_seconds: 60,
            retry_max_seconds: 3600,
            give_up_after_hours: 48,
            keep_sent_days: 30,
            advice: MailTexts::default(),
            subjects: MailSubjects::default(),
        }
    }
}

/// A text in French and in English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailTexts {
    pub fr: String,
    pub en: String,
}

impl Default for MailTexts {
    fn default() -> Self {
        Self {
            fr: "Pour un fonctionnement optimal, nous recommandons l'utilisation d'un micro-casque et d'une version \
                 récente de Chrome, Chromium, Firefox ou Edge."
                .into(),
            en: "For the best experience, use a headset and a recent version of Chrome, Chromium, Firefox or Edge."
                .into(),
        }
    }
}

/// Mail subjects for one language. (No field default of its own: keys left out of the file keep the
/// defaults of their language, which the configuration loader merges in first.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectSet {
    pub owner_created: String,
    pub owner_updated: String,
    pub owner_deleted: String,
    pub invitation: String,
    pub update: String,
    pub cancellation: String,
    pub answer: String,
    pub reminder_owner: String,
    pub reminder_moderator: String,
    pub reminder_guest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSubjects {
    pub fr: SubjectSet,
    pub en: SubjectSet,
}

impl Default for MailSubjects {
    fn default() -> Self {
        Self {
            // The original JMB's subjects, with the meeting's own.
            fr: SubjectSet {
                owner_created: "Réservation visioconférence : {subject}".into(),
                owner_updated: "Réservation visioconférence (mise à jour) : {subject}".into(),
                owner_deleted: "Réservation visioconférence annulée : {subject}".into(),
                invitation: "Invitation visioconférence : {subject}".into(),
                update: "Invitation visioconférence (mise à jour) : {subject}".into(),
                cancellation: "Invitation visioconférence annulée : {subject}".into(),
                answer: "Réponse de {who} : {subject}".into(),
                reminder_owner: "Rappel : vous organisez une visioconférence : {subject}".into(),
                reminder_moderator: "Rappel : vous animez une visioconférence : {subject}".into(),
                reminder_guest: "Rappel : vous participez à une visioconférence : {subject}".into(),
            },
            en: SubjectSet {
                owner_created: "Video meeting booked: {subject}".into(),
                owner_updated: "Video meeting booking updated: {subject}".into(),
                owner_deleted: "Video meeting booking cancelled: {subject}".into(),
                invitation: "Video meeting invitation: {subject}".into(),
                update: "Video meeting invitation (updated): {subject}".into(),
                cancellation: "Video meeting cancelled: {subject}".into(),
                answer: "Answer from {who}: {subject}".into(),
                reminder_owner: "Reminder: you organise a video meeting: {subject}".into(),
                reminder_moderator: "Reminder: you moderate a video meeting: {subject}".into(),
                reminder_guest: "Reminder: you attend a video meeting: {subject}".into(),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// Calendar name shown by clients (feed NAME / X-WR-CALNAME, CalDAV displayname).
    /// Empty: "Visio <site_name>".
    pub name: String,
    /// Calendar description. Empty: same as the name.
    pub description: String,
    /// CalDAV calendar colour (Apple and Thunderbird show it).
    pub color: String,
    /// Finished meetings stay in the feed and CalDAV for this many days.
    pub past_days: u32,
    /// Show meetings the user declined (marked as declined) or leave them out.
    pub show_declined: bool,
    /// Refresh hint for subscribed clients (REFRESH-INTERVAL, X-PUBLISHED-TTL), in minutes.
    pub refresh_minutes: u32,
    /// VALARM offsets in minutes before the start; only those still in the future are written.
    pub alarm_minutes: Vec<u32>,
    /// Entries of the CalDAV change log older than this are pruned; sync tokens older than the
    /// oldest kept entry answer 403 valid-sync-token and clients resynchronise.
    pub change_log_days: u32,
    /// Memory for calendars kept ready to serve, in bytes: three quarters hold users' rendered
    /// calendars, one quarter CalDAV answers; least recently used ones go first, and once full (with
    /// the disk cache on, for calendars) a new one is kept only when asked for again within a while.
    pub cache_bytes: usize,
    /// Keep every user's latest rendered calendar on disk too (in the folder `<database.path>-calendars`),
    /// for the polls that no longer find it in memory.
    pub disk_cache: bool,
    /// The former count of cached calendars, replaced by `cache_bytes`: still accepted (an existing
    /// configuration keeps starting), ignored, and warned about.
    #[serde(default, skip_serializing)]
    pub cache_users: Option<usize>,
}

impl CalendarConfig {
    /// The part of [`CalendarConfig::cache_bytes`] for rendered calendars.
    pub fn rendering_cache_bytes(&self) -> usize {
        self.cache_bytes - self.answer_cache_bytes()
    }

    /// The part of [`CalendarConfig::cache_bytes`] for CalDAV answers.
    pub fn answer_cache_bytes(&self) -> usize {
        self.cache_bytes / 4
    }
}

impl Default for CalendarConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            description: String::new(),
            color: "#1D4F91FF".into(),
            past_days: 30,
            show_declined: true,
            refresh_minutes: 60,
            alarm_minutes: vec![10080, 1440, 60, 10],
            change_log_days: 90,
            cache_bytes: 32 * 1024 * 1024,
            disk_cache: true,
            cache_users: None,
        }
    }
}

/// Who may read `GET /metrics`: loopback peers always, these scrapers' addresses, and anyone presenting
/// the bearer token of `token_file`. Nobody else (the public gets 404).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Prometheus scrapers' addresses (or networks).
    pub allow: Vec<IpNet>,
    /// A file holding a bearer token (at least 32 bytes) scrapers may send instead.
    pub token_file: Option<PathBuf>,
}

/// Presence from Prosody's event_sync webhooks (`POST /prosody/events/…`). Off (the routes answer 404)
/// unless a bearer secret is set, inline or in a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceConfig {
    /// The bearer token Prosody sends (`api_headers`), at least 32 bytes.
    pub secret: Secret,
    pub secret_file: Option<PathBuf>,
    /// Prosody's addresses when it posts from another machine; loopback peers, the unix socket and
    /// `auth.trusted_proxies` are always accepted (the bearer token is still required).
    pub allow: Vec<IpNet>,
    /// Presence this long before a meeting's start counts for it (and its room is matched to it).
    pub before_start_minutes: u32,
    /// Presence this long after a meeting's end still counts for it.
    pub after_end_minutes: u32,
    /// Service accounts whose stays are not recorded: bare JIDs (`jibri@recorder.meet.example.org`)
    /// or whole domains (`@recorder.meet.example.org`), compared without case. The `[xmpp]` bot
    /// (`xmpp.jid`) is always ignored.
    pub ignore_jids: Vec<String>,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self {
            secret: Secret::default(),
            secret_file: None,
            allow: Vec::new(),
            before_start_minutes: 60,
            after_end_minutes: 120,
            ignore_jids: Vec::new(),
        }
    }
}

/// How jmb reaches the directory server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DirectorySecurity {
    /// `ldaps://` (TLS from the first byte) or `ldap://` upgraded with StartTLS; the server's
    /// certificate checked against the system's roots and `ca_file`.
    Tls,
    /// `ldap://` in clear, allowed to a loopback address only (tests, a local replica).
    PlaintextLoopback,
}

/// The organisation's LDAP directory (`[directory]`): who a signed-in user is, who may book, which
/// invited addresses are the organisation's and their primary address, mailing lists and groups,
/// address completion. Off while `url` is empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryConfig {
    /// `ldaps://host` or `ldap://host` (StartTLS); empty: no directory.
    pub url: String,
    pub security: DirectorySecurity,
    /// A PEM certificate (an internal CA) the server's certificate may chain to, besides the system's.
    pub ca_file: Option<PathBuf>,
    /// The service account jmb binds as; empty: anonymous.
    pub bind_dn: String,
    pub bind_password_file: Option<PathBuf>,
    /// Where people, groups and lists are searched (subtree).
    pub base_dn: String,
    /// A person by login name; `{uid}` is replaced by the escaped uid.
    pub user_filter: String,
    /// A person by address, primary or alias; `{mail}` is replaced by the escaped address.
    pub mail_filter: String,
    /// Who may book (`auth.editors = "directory"`), combined as `(&<user_filter><editor_filter>)`.
    pub editor_filter: String,
    /// A group by its address (`{mail}`), expanded to its members' addresses (`member`,
    /// `uniqueMember`); empty: no group expansion.
    pub group_filter: String,
    /// Completion on the booking form; `{q}` is replaced by the escaped text typed.
    pub search_filter: String,
    /// Attribute holding a person's primary address.
    pub mail_attribute: String,
    /// Attribute holding a person's display name.
    pub name_attribute: String,
    /// The original's subscribers file: `<list address> <subscriber address>` lines.
    pub lists_file: Option<PathBuf>,
    /// Longest time one look-up (connection, bind and search) may take.
    pub timeout_seconds: u64,
    /// How long an answer (found or not found) is reused.
    pub cache_seconds: u64,
    /// Answers kept at most.
    pub cache_entries: usize,
    /// Completion suggestions returned at most.
    pub completion_results: usize,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            security: DirectorySecurity::Tls,
            ca_file: None,
            bind_dn: String::new(),
            bind_password_file: None,
            base_dn: String::new(),
            user_filter: "(uid={uid})".into(),
            mail_filter: "(|(mail={mail})(mailAlternateAddress={mail}))".into(),
            editor_filter: "(|(eduPersonAffiliation=student)(eduPersonAffiliation=employee)(eduPersonAffiliation=faculty)(eduPersonAffiliation=affiliate))".into(),
            group_filter: String::new(),
            search_filter: "(&(mail=*)(|(cn={q}*)(sn={q}*)(givenName={q}*)(uid={q}*)(mail={q}*)))".into(),
            mail_attribute: "mail".into(),
            name_attribute: "cn".into(),
            lists_file: None,
            timeout_seconds: 3,
            cache_seconds: 300,
            cache_entries: 10_000,
            completion_results: 10,
        }
    }
}

/// How the end-of-meeting warnings reach the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifierKind {
    /// A bot account posts into the conference chat.
    Xmpp,
    /// Written to jmb's log only (the embedded demo, trials).
    Log,
}

/// How the bot's XMPP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum XmppSecurity {
    /// STARTTLS, required; the server's certificate must chain to the system's roots or `ca_file`.
    Starttls,
    /// No TLS at all: only to a loopback address (Prosody on the same host).
    PlaintextLoopback,
}

/// `[xmpp]`: warnings posted into the conference chat before a meeting ends (see
/// [`crate::room_warnings`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct XmppConfig {
    /// `xmpp` (the bot posts into the room) or `log`.
    pub notifier: NotifierKind,
    /// The bot's bare JID, e.g. `jmb-bot@auth.meet.example.org`.
    pub jid: String,
    /// The bot's password, inline or from `password_file`.
    pub password: Secret,
    pub password_file: Option<PathBuf>,
    /// `host:port` of Prosody's client port; empty: the JID's domain, port 5222.
    pub server: String,
    pub security: XmppSecurity,
    /// A PEM certificate (an internal or self-signed CA) Prosody's certificate may chain to.
    pub ca_file: Option<PathBuf>,
    /// The conference (MUC) component: rooms are `{room}@{muc_domain}`.
    pub muc_domain: String,
    /// The bot's nickname in the room.
    pub nick: String,
    /// Warnings, in minutes before the end (0: when it ends).
    pub warn_minutes: Vec<u32>,
    /// Longest time one warning (connect, join, post, leave) may take.
    pub timeout_seconds: u64,
    /// First delay after a failure (Prosody down, timeout); it doubles up to `retry_max_seconds`.
    pub retry_initial_seconds: u64,
    pub retry_max_seconds: u64,
    /// Retries stop this long after the meeting's end.
    pub give_up_after_end_minutes: u32,
}

impl Default for XmppConfig {
    fn default() -> Self {
        Self {
            notifier: NotifierKind::Xmpp,
            jid: String::new(),
            password: Secret::default(),
            password_file: None,
            server: String::new(),
            security: XmppSecurity::Starttls,
            ca_file: None,
            muc_domain: String::new(),
            nick: "Jitsi-Bot".into(),
            warn_minutes: vec![15, 5, 0],
            timeout_seconds: 10,
            retry_initial_seconds: 10,
            retry_max_seconds: 60,
            give_up_after_end_minutes: 5,
        }
    }
}

impl DirectoryConfig {
    /// Whether an LDAP server is configured.
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// The bind password, read from `bind_password_file` (empty without one).
    pub fn bind_password(&self) -> Result<Secret, ConfigError> {
        match &self.bind_password_file {
            Some(path) => read_secret_file("directory.bind_password_file", path),
            None => Ok(Secret::default()),
        }
    }

    fn validate(&self, editors_from_directory: bool) -> Result<(), ConfigError> {
        let filters: [(&'static str, &str, &[&str]); 5] = [
            ("directory.user_filter", &self.user_filter, &["{uid}"]),
            ("directory.mail_filter", &self.mail_filter, &["{mail}"]),
            ("directory.editor_filter", &self.editor_filter, &[]),
            ("directory.group_filter", &self.group_filter, &["{mail}"]),
            ("directory.search_filter", &self.search_filter, &["{q}"]),
        ];
        for (key, filter, placeholders) in filters {
            if key == "directory.group_filter" && filter.trim().is_empty() {
                continue;
            }
            check_filter(key, filter, placeholders)?;
        }
        for (key, attr) in
            [("directory.mail_attribute", &self.mail_attribute), ("directory.name_attribute", &self.name_attribute)]
        {
            if attr.is_empty() || !attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';') {
                return Err(invalid(key, format!("{attr:?} is not an attribute name")));
            }
        }
        if !self.enabled() {
            if editors_from_directory {
                return Err(invalid("auth.editors", "\"directory\" needs a directory: set directory.url"));
            }
            return Ok(());
        }
        let url = url::Url::parse(self.url.trim()).map_err(|e| {
            invalid("directory.url", format!("{:?} is not a URL ({e}); use ldaps://host or ldap://host", self.url))
        })?;
        let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
        if host.is_empty() || !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "directory.url",
                "must be ldaps://host[:port] or ldap://host[:port], without credentials",
            ));
        }
        match (url.scheme(), self.security) {
            ("ldaps", DirectorySecurity::Tls) | ("ldap", DirectorySecurity::Tls) => {}
            ("ldap", DirectorySecurity::PlaintextLoopback) => {
                let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
                if !loopback {
                    return Err(invalid(
                        "directory.security",
                        "\"plaintext-loopback\" only reaches a loopback address: use \"tls\" (ldaps:// or StartTLS) for a remote directory",
                    ));
                }
            }
            ("ldaps", DirectorySecurity::PlaintextLoopback) => {
                return Err(invalid("directory.security", "ldaps:// is TLS: set security = \"tls\""));
            }
            (other, _) => {
                return Err(invalid("directory.url", format!("scheme {other:?}: use ldaps:// or ldap:// (StartTLS)")));
            }
        }
        if self.base_dn.trim().is_empty() {
            return Err(invalid("directory.base_dn", "is required with directory.url (such as dc=example,dc=org)"));
        }
        if self.bind_dn.trim().is_empty() != self.bind_password_file.is_none() {
            return Err(invalid(
                "directory.bind_password_file",
                "set both directory.bind_dn and directory.bind_password_file, or neither (anonymous)",
            ));
        }
        Ok(())
    }
}

impl XmppConfig {
    /// The bot's password: `password`, or the content of `password_file`.
    pub fn bot_password(&self) -> Result<Secret, ConfigError> {
        match &self.password_file {
            Some(path) => read_secret_file("xmpp.password_file", path),
            None => Ok(self.password.clone()),
        }
    }

    /// `(host, port)` of the server: `server`, or the JID's domain on port 5222.
    pub fn server_addr(&self) -> Result<(String, u16), ConfigError> {
        if self.server.is_empty() {
            let domain = self.jid.split_once('@').map(|(_, d)| d).unwrap_or_default();
            return Ok((domain.split('/').next().unwrap_or_default().to_string(), 5222));
        }
        let bad = || invalid("xmpp.server", "must be host:port, such as 127.0.0.1:5222 or [::1]:5222");
        let (host, port) = self.server.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok((host.to_string(), port))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.warn_minutes.iter().any(|m| *m > 24 * 60) {
            return Err(invalid("xmpp.warn_minutes", "warnings more than a day before the end are not useful"));
        }
        let ranges: &[(&'static str, u64, u64, u64)] = &[
            ("xmpp.timeout_seconds", self.timeout_seconds, 1, 300),
            ("xmpp.retry_initial_seconds", self.retry_initial_seconds, 1, 3600),
            ("xmpp.retry_max_seconds", self.retry_max_seconds, 1, 3600),
            ("xmpp.give_up_after_end_minutes", u64::from(self.give_up_after_end_minutes), 0, 24 * 60),
        ];
        for (key, value, min, max) in ranges {
            if value < min || value > max {
                return Err(invalid(key, format!("must be between {min} and {max}")));
            }
        }
        if self.retry_initial_seconds > self.retry_max_seconds {
            return Err(invalid("xmpp.retry_initial_seconds", "must be at most xmpp.retry_max_seconds"));
        }
        let nick_ok = !self.nick.trim().is_empty() && self.nick.len() <= 64 && !self.nick.chars().any(char::is_control);
        if !nick_ok {
            return Err(invalid("xmpp.nick", "must be one non-empty line of at most 64 bytes"));
        }
        if self.notifier == NotifierKind::Log {
            return Ok(());
        }
        let jid_ok = self.jid.split_once('@').is_some_and(|(local, domain)| {
            let part_ok = |p: &str| !p.is_empty() && !p.contains(['/', '@', '<', '>', '"', '\'', '&', ' ']);
            part_ok(local) && part_ok(domain)
        });
        if !jid_ok {
            return Err(invalid("xmpp.jid", "must be the bot's bare JID, such as jmb-bot@auth.meet.example.org"));
        }
        let domain_ok = !self.muc_domain.is_empty()
            && !self.muc_domain.contains(['/', '@', '<', '>', '"', '\'', '&', ' '])
            && self.muc_domain.contains('.');
        if !domain_ok {
            return Err(invalid(
                "xmpp.muc_domain",
                "must be the conference domain, such as conference.meet.example.org",
            ));
        }
        if !self.password.is_empty() && self.password_file.is_some() {
            return Err(invalid("xmpp.password_file", "set either xmpp.password or xmpp.password_file, not both"));
        }
        if self.password.is_empty() && self.password_file.is_none() {
            return Err(invalid("xmpp.password", "is required (or xmpp.password_file)"));
        }
        let (host, _) = self.server_addr()?;
        if self.security == XmppSecurity::PlaintextLoopback {
            let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(invalid(
                    "xmpp.security",
                    format!(
                        "\"plaintext-loopback\" only talks to a loopback address (127.0.0.1, ::1 or localhost), \
                         not {host:?}: set xmpp.server to Prosody's loopback port, or use \"starttls\""
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A filter template: parenthesised, holding its placeholders, and parsed by the LDAP library once
/// every placeholder is replaced by a sample value.
fn check_filter(key: &'static str, filter: &str, placeholders: &[&str]) -> Result<(), ConfigError> {
    let filter = filter.trim();
    if !filter.starts_with('(') || !filter.ends_with(')') {
        return Err(invalid(key, format!("{filter:?} must be an LDAP filter in parentheses, such as (uid={{uid}})")));
    }
    let mut sample = filter.to_string();
    for p in placeholders {
        if !filter.contains(p) {
            return Err(invalid(key, format!("{filter:?} must contain {p}")));
        }
        sample = sample.replace(p, "sample");
    }
    if ldap3::parse_filter(&sample).is_err() {
        return Err(invalid(key, format!("{filter:?} is not a valid LDAP filter (RFC 4515)")));
    }
    Ok(())
}

/// A configuration that failed to load or to validate, with the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Parse(String),
    #[error("`{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("cannot read `{key}` from {path}: {source}")]
    SecretFile { key: &'static str, path: PathBuf, source: std::io::Error },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, reason: reason.into() }
}

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Config {
    /// Loads `path` (if any), then `JMB_…` environment overrides, then validates.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = path {
            if !path.exists() {
                return Err(ConfigError::Parse(format!("{}: no such file", path.display())));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        Self::from_figment(figment.merge(env_overrides()))
    }

    /// The embedded default ([`Config::embedded_default`]) with the `JMB_…` environment overrides, as
    /// `jmb serve` runs without `--config`: an override is applied there too, never silently ignored.
    pub fn load_embedded() -> Result<Self, ConfigError> {
        Self::from_figment(Figment::from(Serialized::defaults(Config::embedded_default())).merge(env_overrides()))
    }

    /// Parses a TOML string without environment overrides (tests, `check-config`).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text)))
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// The embedded default: SQLite under `./data/`, demo sign-in, public Jitsi with a demo secret.
    pub fn embedded_default() -> Self {
        let mut config = Config::default();
        config.auth.mode = AuthMode::Demo;
        config.auth.editors = EditorPolicy::Uids(vec!["jdupont".into(), "mmartin".into()]);
        config.auth.demo_users = vec![
            DemoUser { uid: "jdupont".into(), mail: "jean.dupont@example.org".into(), name: "Jean Dupont".into() },
            DemoUser { uid: "mmartin".into(), mail: "marie.martin@example.org".into(), name: "Marie Martin".into() },
            DemoUser { uid: "visitor".into(), mail: "paul.visiteur@example.org".into(), name: "Paul Visiteur".into() },
        ];
        config.jitsi.app_secret = Secret::new("demo-secret-not-for-production-use-0123456789");
        config.mail.internal_domains = vec!["example.org".into()];
        // Mails stay in the store, shown at /mailbox.
        config.mail.transport = MailTransportKind::Mailbox;
        config.mail.from = "noreply@example.org".into();
        // End-of-meeting warnings written to the log (no Prosody in the demo).
        config.xmpp = Some(XmppConfig { notifier: NotifierKind::Log, ..XmppConfig::default() });
        config
    }

    /// Checks every rule the types cannot express, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let listen = self.listen_addr()?;
        url_parts(&self.server.public_url).ok_or_else(|| {
            invalid("server.public_url", "must be an absolute http:// or https:// URL such as https://meet.example.org")
        })?;
        // Every route (and every link already sent) assumes jmb answers at the root of its host.
        let after_host = self.server.public_url.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
        if let Some(i) = after_host.find(['/', '?', '#'])
            && !after_host[i..].trim_end_matches('/').is_empty()
        {
            return Err(invalid(
                "server.public_url",
                "must be the root of a host (https://meet.example.org): jmb cannot be served under a path",
            ));
        }
        if url_parts(&self.jitsi.base_url).is_none() {
            return Err(invalid("jitsi.base_url", "must be an absolute http:// or https:// URL"));
        }
        if self.jitsi.app_id.trim().is_empty() {
            return Err(invalid("jitsi.app_id", "must not be empty (Prosody's app_id)"));
        }
        if !self.jitsi.app_secret.is_empty() && self.jitsi.app_secret_file.is_some() {
            return Err(invalid(
                "jitsi.app_secret_file",
                "set either jitsi.app_secret or jitsi.app_secret_file, not both",
            ));
        }
        let secret_sources = [
            !self.jitsi.app_secret.is_empty(),
            self.jitsi.app_secret_file.is_some(),
            self.jitsi.prosody_config.is_some(),
        ];
        if secret_sources.iter().filter(|s| **s).count() > 1 && self.jitsi.prosody_config.is_some() {
            return Err(invalid(
                "jitsi.prosody_config",
                "reads app_id and app_secret from Prosody: leave jitsi.app_secret and jitsi.app_secret_file unset",
            ));
        }
        if !secret_sources.contains(&true) {
            return Err(invalid("jitsi.app_secret", "is required (or jitsi.app_secret_file, or jitsi.prosody_config)"));
        }
        if !self.jitsi.app_secret.is_empty() {
            check_secret_strength("jitsi.app_secret", &self.jitsi.app_secret)?;
        }
        if !self.server.secret.is_empty() {
            check_secret_strength("server.secret", &self.server.secret)?;
        }
        if !self.server.secret.is_empty() && self.server.secret_file.is_some() {
            return Err(invalid("server.secret_file", "set either server.secret or server.secret_file, not both"));
        }
        self.check_database_path()?;
        self.check_ranges()?;
        if self.server.default_language != "fr" && self.server.default_language != "en" {
            return Err(invalid("server.default_language", "must be \"fr\" or \"en\""));
        }
        if self.server.display_time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(invalid("server.display_time_zone", "must be an IANA time zone such as Europe/Paris"));
        }
        let b = &self.booking;
        if b.min_duration_minutes > b.max_duration_minutes {
            return Err(invalid(
                "booking.min_duration_minutes",
                "must be at least 1 and not above booking.max_duration_minutes",
            ));
        }
        if b.default_duration_minutes < b.min_duration_minutes
            || b.default_duration_minutes > b.max_duration_minutes
            || !b.default_duration_minutes.is_multiple_of(b.duration_step_minutes)
        {
            return Err(invalid(
                "booking.default_duration_minutes",
                "must lie within min..max and on the duration step",
            ));
        }
        if 60 % b.start_step_minutes != 0 {
            return Err(invalid("booking.start_step_minutes", "must divide 60 (1, 5, 10, 15, 30 or 60)"));
        }
        for d in &self.mail.internal_domains {
            if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) || d.to_lowercase() != *d {
                return Err(invalid("mail.internal_domains", format!("{d:?} is not a lower-case domain name")));
            }
        }
        self.validate_mail()?;
        self.directory.validate(self.auth.editors == EditorPolicy::Keyword(EditorKeyword::Directory))?;
        if let Some(x) = &self.xmpp {
            x.validate()?;
        }
        for h in [&self.auth.user_header, &self.auth.mail_header, &self.auth.name_header] {
            if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                return Err(invalid("auth.user_header", format!("{h:?} is not a valid header name")));
            }
        }
        match self.auth.mode {
            AuthMode::Demo => {
                if self.auth.demo_users.is_empty() {
                    return Err(invalid("auth.demo_users", "demo sign-in needs at least one demo user"));
                }
                let loopback = match &listen {
                    ListenAddr::Tcp(addr) => addr.ip().is_loopback(),
                    ListenAddr::Unix(_) => false,
                };
                if !loopback {
                    return Err(invalid(
                        "server.listen",
                        "demo sign-in only listens on a loopback address (127.0.0.1 or ::1)",
                    ));
                }
            }
            AuthMode::TrustedHeader => {
                if self.auth.trusted_proxies.is_empty() && matches!(listen, ListenAddr::Tcp(_)) {
                    return Err(invalid(
                        "auth.trusted_proxies",
                        "list at least one proxy address, or listen on a unix socket",
                    ));
                }
            }
        }
        for u in &self.auth.demo_users {
            if u.uid.is_empty() || u.uid != u.uid.to_lowercase() || !u.mail.contains('@') {
                return Err(invalid(
                    "auth.demo_users",
                    format!("demo user {:?} needs a lower-case uid and a mail address", u.uid),
                ));
            }
        }
        self.validate_presence()
    }

    /// `[presence]` is on when a secret is given; its other keys without one are a mistake, not a
    /// silent "off".
    fn validate_presence(&self) -> Result<(), ConfigError> {
        let p = &self.presence;
        if !p.secret.is_empty() && p.secret_file.is_some() {
            return Err(invalid(
                "presence.secret_file",
                "set either presence.secret or presence.secret_file, not both",
            ));
        }
        if !p.secret.is_empty() {
            check_secret_strength("presence.secret", &p.secret)?;
        }
        let defaults = PresenceConfig::default();
        for jid in &p.ignore_jids {
            let jid = jid.trim();
            let (node, domain) = jid.split_once('@').unwrap_or(("", ""));
            if domain.is_empty()
                || domain.contains(['@', '/'])
                || node.contains('/')
                || jid.contains(char::is_whitespace)
            {
                return Err(invalid(
                    "presence.ignore_jids",
                    format!("{jid:?} is neither a bare JID (user@domain) nor a domain (@domain)"),
                ));
            }
        }
        let other_keys_set = !p.allow.is_empty()
            || !p.ignore_jids.is_empty()
            || p.before_start_minutes != defaults.before_start_minutes
            || p.after_end_minutes != defaults.after_end_minutes;
        if !self.presence_enabled() && other_keys_set {
            return Err(invalid(
                "presence.secret_file",
                "[presence] needs the bearer secret Prosody sends (presence.secret_file or presence.secret)",
            ));
        }
        Ok(())
    }

    /// Whether the event_sync webhooks are served (`[presence]` with a secret).
    pub fn presence_enabled(&self) -> bool {
        !self.presence.secret.is_empty() || self.presence.secret_file.is_some()
    }

    /// The event_sync bearer secret, read from `presence.secret_file` when set; `None` when presence
    /// is off.
    pub fn presence_secret(&self) -> Result<Option<Secret>, ConfigError> {
        let secret = match &self.presence.secret_file {
            Some(path) => {
                let secret = read_secret_file("presence.secret_file", path)?;
                Secret::new(secret.expose().trim())
            }
            None if self.presence.secret.is_empty() => return Ok(None),
            None => self.presence.secret.clone(),
        };
        check_secret_strength(
            if self.presence.secret_file.is_some() { "presence.secret_file" } else { "presence.secret" },
            &secret,
        )?;
        Ok(Some(secret))
    }

    fn validate_mail(&self) -> Result<(), ConfigError> {
        let m = &self.mail;
        let address = |key: &'static str, value: &str| -> Result<(), ConfigError> {
            value.parse::<lettre::Address>().map(|_| ()).map_err(|e| invalid(key, format!("{value:?}: {e}")))
        };
        address("mail.from", &self.mail_from())?;
        if !m.envelope_from.is_empty() {
            address("mail.envelope_from", &m.envelope_from)?;
        }
        if m.from_name.contains(['\r', '\n']) {
            return Err(invalid("mail.from_name", "must be one line"));
        }
        if m.smtp_password_file.is_some() && m.smtp_user.is_empty() {
            return Err(invalid("mail.smtp_user", "is needed with mail.smtp_password_file"));
        }
        if m.transport == MailTransportKind::Smtp
            && !(m.smtp_url.starts_with("smtp://") || m.smtp_url.starts_with("smtps://"))
        {
            return Err(invalid(
                "mail.smtp_url",
                "must be smtp://host:port (add ?tls=required for STARTTLS) or smtps://host:port",
            ));
        }
        if m.reminder_minutes.iter().any(|r| *r > 60 * 24 * 60) {
            return Err(invalid("mail.reminder_minutes", "reminders more than 60 days ahead are not useful"));
        }
        let one_booking = self.booking.max_guests + self.booking.max_moderators;
        if (m.max_invitations_per_owner_per_hour as usize) < one_booking {
            return Err(invalid(
                "mail.max_invitations_per_owner_per_hour",
                format!(
                    "must be at least booking.max_guests + booking.max_moderators ({one_booking}): one booking \
                     may invite that many"
                ),
            ));
        }
        // (Ranges are in `check_ranges`; keep_sent_days >= 1 keeps the last hour the per-owner limit counts.)
        if m.retry_initial_seconds > m.retry_max_seconds {
            return Err(invalid("mail.retry_initial_seconds", "must be at most mail.retry_max_seconds"));
        }
        for (lang, set) in [("fr", &m.subjects.fr), ("en", &m.subjects.en)] {
            for subject in [
                &set.owner_created,
                &set.owner_updated,
                &set.owner_deleted,
                &set.invitation,
                &set.update,
                &set.cancellation,
                &set.answer,
                &set.reminder_owner,
                &set.reminder_moderator,
                &set.reminder_guest,
            ] {
                if subject.trim().is_empty() || subject.chars().any(char::is_control) {
                    return Err(invalid("mail.subjects", format!("{lang}: every subject must be one non-empty line")));
                }
            }
        }
        Ok(())
    }

    /// The `From:` address: `mail.from`, or `noreply@<public host>`.
    pub fn mail_from(&self) -> String {
        if self.mail.from.is_empty() { format!("noreply@{}", self.public_host()) } else { self.mail.from.clone() }
    }

    /// The envelope sender: `mail.envelope_from`, or the `From:` address.
    pub fn mail_envelope_from(&self) -> String {
        if self.mail.envelope_from.is_empty() { self.mail_from() } else { self.mail.envelope_from.clone() }
    }

    /// The SMTP password, read from `mail.smtp_password_file` when set.
    pub fn smtp_password(&self) -> Result<Option<Secret>, ConfigError> {
        self.mail.smtp_password_file.as_deref().map(|p| read_secret_file("mail.smtp_password_file", p)).transpose()
    }

    /// Every numeric key lies in a range where the code using it neither panics, overflows nor
    /// builds something huge (a `busy_timeout_ms` of 3 000 000 000 panicked at start; a
    /// `max_duration_minutes` of 2 000 000 made an 84 MB form page). The bounds are generous:
    /// they only exclude values no deployment means.
    fn check_ranges(&self) -> Result<(), ConfigError> {
        const WEEK_MINUTES: u64 = 7 * 24 * 60;
        // Day counts are subtracted from "now": keep them where date arithmetic cannot overflow.
        const CENTURY_DAYS: u64 = 36_500;
        let (s, d, j, b, c) = (&self.server, &self.database, &self.jitsi, &self.booking, &self.calendar);
        let ranges: &[(&'static str, u64, u64, u64)] = &[
            ("server.request_timeout_seconds", s.request_timeout_seconds, 1, 3600),
            ("server.header_read_timeout_seconds", s.header_read_timeout_seconds, 1, 300),
            ("server.max_connections", s.max_connections as u64, 1, 100_000),
            ("database.busy_timeout_ms", d.busy_timeout_ms, 0, 600_000),
            ("database.read_connections", d.read_connections as u64, 1, 64),
            ("database.retention_days", u64::from(d.retention_days), 0, CENTURY_DAYS),
            ("jitsi.token_lifetime_seconds", j.token_lifetime_seconds, 60, 86_400),
            (
                "jitsi.external_moderator_token_lifetime_seconds",
                j.external_moderator_token_lifetime_seconds,
                60,
                86_400,
            ),
            ("jitsi.moderator_join_early_minutes", u64::from(j.moderator_join_early_minutes), 0, WEEK_MINUTES),
            ("jitsi.guest_join_early_minutes", u64::from(j.guest_join_early_minutes), 0, WEEK_MINUTES),
            ("booking.default_duration_minutes", u64::from(b.default_duration_minutes), 1, 1440),
            ("booking.min_duration_minutes", u64::from(b.min_duration_minutes), 1, 1440),
            ("booking.max_duration_minutes", u64::from(b.max_duration_minutes), 1, 1440),
            ("booking.duration_step_minutes", u64::from(b.duration_step_minutes), 1, 1440),
            ("booking.start_step_minutes", u64::from(b.start_step_minutes), 1, 60),
            ("booking.max_moderators", b.max_moderators as u64, 0, 100),
            ("booking.max_guests", b.max_guests as u64, 1, 500),
            ("booking.max_subject_chars", b.max_subject_chars as u64, 1, 1000),
            ("booking.archive_days", u64::from(b.archive_days), 0, CENTURY_DAYS),
            ("booking.highlight_owner_minutes", u64::from(b.highlight_owner_minutes), 0, WEEK_MINUTES),
            ("booking.highlight_guest_minutes", u64::from(b.highlight_guest_minutes), 0, WEEK_MINUTES),
            ("calendar.past_days", u64::from(c.past_days), 0, CENTURY_DAYS),
            ("calendar.refresh_minutes", u64::from(c.refresh_minutes), 1, WEEK_MINUTES),
            ("calendar.change_log_days", u64::from(c.change_log_days), 1, CENTURY_DAYS),
            ("calendar.cache_bytes", c.cache_bytes as u64, 8 * 1024 * 1024, 1024 * 1024 * 1024),
            ("booking.max_bookings_per_hour", u64::from(b.max_bookings_per_hour), 1, 100_000),
            ("mail.smtp_timeout_seconds", self.mail.smtp_timeout_seconds, 1, 600),
            (
                "mail.max_invitations_per_owner_per_hour",
                u64::from(self.mail.max_invitations_per_owner_per_hour),
                1,
                1_000_000,
            ),
            ("mail.retry_initial_seconds", self.mail.retry_initial_seconds, 1, 86_400),
            ("mail.retry_max_seconds", self.mail.retry_max_seconds, 1, 86_400),
            ("mail.give_up_after_hours", u64::from(self.mail.give_up_after_hours), 1, 720),
            ("mail.keep_sent_days", u64::from(self.mail.keep_sent_days), 1, CENTURY_DAYS),
            ("presence.before_start_minutes", u64::from(self.presence.before_start_minutes), 0, WEEK_MINUTES),
            ("presence.after_end_minutes", u64::from(self.presence.after_end_minutes), 0, WEEK_MINUTES),
            ("directory.timeout_seconds", self.directory.timeout_seconds, 1, 60),
            ("directory.cache_seconds", self.directory.cache_seconds, 0, 86_400),
            ("directory.cache_entries", self.directory.cache_entries as u64, 1, 1_000_000),
            ("directory.completion_results", self.directory.completion_results as u64, 1, 50),
        ];
        for &(key, value, min, max) in ranges {
            if value < min || value > max {
                return Err(invalid(key, format!("must be between {min} and {max} (got {value})")));
            }
        }
        // Alarms are written into every event: a handful is useful, thousands make every event huge.
        if c.alarm_minutes.len() > 10 {
            return Err(invalid("calendar.alarm_minutes", "at most 10 alarms"));
        }
        if c.alarm_minutes.iter().any(|m| *m > 60 * 24 * 60) {
            return Err(invalid("calendar.alarm_minutes", "offsets above 60 days (86400 minutes) are not useful"));
        }
        Ok(())
    }

    /// `database.path` must name a file: SQLite gives every connection its own empty database for
    /// `""` and `":memory:"`, so writes would answer 201 and vanish.
    fn check_database_path(&self) -> Result<(), ConfigError> {
        let raw = self.database.path.as_os_str().to_string_lossy();
        if raw.trim().is_empty() {
            return Err(invalid("database.path", "must name a file, such as /var/lib/jmb/jmb.sqlite3"));
        }
        if raw.starts_with(':') {
            return Err(invalid(
                "database.path",
                format!("{raw:?} is a SQLite in-memory name: every connection would get its own empty database"),
            ));
        }
        // jmb opens the path as a file name, never as a URI: refuse what was meant as one.
        if raw.starts_with("file:") {
            return Err(invalid("database.path", format!("{raw:?} is a SQLite URI; give a plain file path")));
        }
        if raw.ends_with('/') || self.database.path.file_name().is_none() {
            return Err(invalid("database.path", format!("{raw:?} names a folder, not a file")));
        }
        Ok(())
    }

    /// Settings that are valid but probably not what the administrator meant; `check-config` prints
    /// them and `serve` logs them at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.calendar.cache_users.is_some() {
            out.push(
                "`calendar.cache_users` is no longer used and is ignored: the calendar cache is sized in bytes by `calendar.cache_bytes` (default 32 MiB); remove the line"
                    .to_string(),
            );
        }
        if self.mail.transport == MailTransportKind::Mailbox && self.auth.mode != AuthMode::Demo {
            out.push(
                "`mail.transport`: \"mailbox\" keeps every mail in the database and sends none (only the demo sign-in shows them, at /mailbox); use \"smtp\" or \"sendmail\""
                    .to_string(),
            );
        }
        if self.auth.mode == AuthMode::TrustedHeader {
            if let Ok(ListenAddr::Tcp(addr)) = self.listen_addr()
                && !addr.ip().is_loopback()
            {
                out.push(format!(
                    "`server.listen`: trusted-header sign-in on the non-loopback address {addr}: make sure only the proxy can reach it"
                ));
            }
            for net in &self.auth.trusted_proxies {
                if net.prefix_len() == net.max_prefix_len() {
                    continue;
                }
                let reach = if is_private_net(net) {
                    "every host of that private range may then pass identity headers"
                } else {
                    "it includes public addresses: anyone there may pass identity headers"
                };
                out.push(format!(
                    "`auth.trusted_proxies`: {net} is wider than one host; {reach}. List only the proxy's own addresses (a /32 or /128), or listen on a unix socket"
                ));
            }
        }
        out
    }

    pub fn listen_addr(&self) -> Result<ListenAddr, ConfigError> {
        let raw = self.server.listen.trim();
        if let Some(path) = raw.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(invalid("server.listen", "unix: needs a socket path"));
            }
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        raw.parse::<SocketAddr>().map(ListenAddr::Tcp).map_err(|_| {
            invalid("server.listen", format!("{raw:?} is neither host:port (such as 127.0.0.1:8080) nor unix:/path"))
        })
    }

    /// The public URL without a trailing slash.
    pub fn public_base(&self) -> &str {
        self.server.public_url.trim_end_matches('/')
    }

    /// The public host name without port, used in iCalendar UIDs.
    pub fn public_host(&self) -> String {
        url_parts(&self.server.public_url)
            .map(|(_, host)| {
                host.rsplit_once(':')
                    .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
                    .map(|(h, _)| h.to_string())
                    .unwrap_or(host)
            })
            .unwrap_or_else(|| "localhost".into())
    }

    pub fn public_is_https(&self) -> bool {
        self.server.public_url.starts_with("https://")
    }

    /// JWT `sub`: the configured Jitsi domain, or the host of the Jitsi base URL.
    pub fn jitsi_domain(&self) -> String {
        if !self.jitsi.domain.is_empty() {
            return self.jitsi.domain.clone();
        }
        url_parts(&self.jitsi.base_url)
            .map(|(_, host)| host.split(':').next().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    pub fn display_tz(&self) -> chrono_tz::Tz {
        self.server.display_time_zone.parse().unwrap_or(chrono_tz::Europe::Paris)
    }

    /// Resolves secrets given as files; returns the Jitsi app secret.
    pub fn jitsi_secret(&self) -> Result<Secret, ConfigError> {
        if let Some(path) = &self.jitsi.prosody_config {
            let secret = Secret::new(self.prosody_host(path)?.app_secret);
            check_secret_strength("jitsi.prosody_config", &secret)?;
            return Ok(secret);
        }
        match &self.jitsi.app_secret_file {
            Some(path) => {
                let secret = read_secret_file("jitsi.app_secret_file", path)?;
                check_secret_strength("jitsi.app_secret_file", &secret)?;
                Ok(secret)
            }
            None => {
                check_secret_strength("jitsi.app_secret", &self.jitsi.app_secret)?;
                Ok(self.jitsi.app_secret.clone())
            }
        }
    }

    /// JWT `iss`: Prosody's `app_id` when `jitsi.prosody_config` is set, else `jitsi.app_id`.
    pub fn jitsi_app_id(&self) -> Result<String, ConfigError> {
        match &self.jitsi.prosody_config {
            Some(path) => Ok(self.prosody_host(path)?.app_id),
            None => Ok(self.jitsi.app_id.clone()),
        }
    }

    /// The VirtualHost of `jitsi.prosody_config` named after the Jitsi domain (or the only one with
    /// token settings).
    fn prosody_host(&self, path: &Path) -> Result<crate::prosody::TokenSettings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
            key: "jitsi.prosody_config",
            path: path.to_path_buf(),
            source,
        })?;
        crate::prosody::token_settings(&text, &self.jitsi_domain())
            .map_err(|e| invalid("jitsi.prosody_config", format!("{}: {e}", path.display())))
    }

    /// The calendar name clients show.
    pub fn calendar_name(&self) -> String {
        if self.calendar.name.is_empty() {
            format!("Visio {}", self.server.site_name)
        } else {
            self.calendar.name.clone()
        }
    }

    /// The `PRODID` of every iCalendar document jmb writes: `-//<site>//jmb//<FR|EN>`.
    pub fn calendar_prodid(&self) -> String {
        let lang = if self.server.default_language == "en" { "EN" } else { "FR" };
        format!("-//{}//jmb//{lang}", self.server.site_name.replace("//", "/"))
    }

    /// Where the server secret is read from (and created when missing), unless given inline.
    pub fn server_secret_path(&self) -> PathBuf {
        self.server.secret_file.clone().unwrap_or_else(|| self.data_dir().join("secret.key"))
    }

    /// The data folder: the folder holding the database file.
    pub fn data_dir(&self) -> PathBuf {
        self.database.path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
    }
}

pub(crate) fn read_secret_file(key: &'static str, path: &Path) -> Result<Secret, ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| Secret::new(s.trim_end_matches(['\n', '\r'])))
        .map_err(|source| ConfigError::SecretFile { key, path: path.to_path_buf(), source })
}

/// The shortest secret accepted: an HS256 key or cookie key shorter than this can be recovered offline
/// from one token it signed.
pub const MIN_SECRET_BYTES: usize = 32;

/// Refuses a secret shorter than [`MIN_SECRET_BYTES`], saying how to make a good one.
pub(crate) fn check_secret_strength(key: &'static str, secret: &Secret) -> Result<(), ConfigError> {
    if secret.expose().len() >= MIN_SECRET_BYTES {
        return Ok(());
    }
    let how = if key.starts_with("jitsi") {
        "generate one with `openssl rand -hex 32` and set the same value as Prosody's app_secret"
    } else {
        "leave it unset to let jmb generate one, or generate one with `openssl rand -hex 32`"
    };
    Err(invalid(
        key,
        format!("is {} bytes long; at least {MIN_SECRET_BYTES} are required: {how}", secret.expose().len()),
    ))
}

/// Loopback, private (RFC 1918, RFC 4193), shared (RFC 6598) and link-local ranges.
fn is_private_net(net: &IpNet) -> bool {
    const PRIVATE: &[&str] = &[
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    ];
    PRIVATE.iter().filter_map(|p| p.parse::<IpNet>().ok()).any(|p| p.contains(net))
}

/// The `JMB_SECTION__KEY` variables. Only those are configuration; `JMB_CONFIG`, `JMB_BIN` and the
/// like are not.
fn env_overrides() -> Env {
    Env::prefixed("JMB_").filter(|k| k.as_str().contains("__")).split("__")
}

/// `(scheme, host[:port])` of an absolute http(s) URL.
fn url_parts(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    if host.is_empty() || host.contains('@') || host.contains(char::is_whitespace) {
        return None;
    }
    Some((scheme.to_string(), host.to_lowercase()))
}

/// One line per error, each naming the key (`booking.max_gests`) and, for a value set by an
/// environment variable, that variable.
fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            // figment's path already ends with an unknown field's name: append it only when it does not.
            let mut path = e.path.clone();
            if let figment::error::Kind::UnknownField(field, _) = &e.kind
                && path.last() != Some(field)
            {
                path.push(field.clone());
            }
            let key = path.join(".");
            let msg = match &e.kind {
                figment::error::Kind::UnknownField(..) => "unknown key".to_string(),
                other => other.to_string(),
            };
            // The variable as `env_overrides` reads it (figment's own rendering drops prefix and `__`).
            let origin = match &e.metadata {
                Some(m) if m.name.contains("environment") => {
                    format!(" (set by JMB_{})", path.iter().map(|p| p.to_uppercase()).collect::<Vec<_>>().join("__"))
                }
                _ => String::new(),
            };
            if key.is_empty() { format!("{msg}{origin}") } else { format!("`{key}`: {msg}{origin}") }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_secret(extra: &str) -> String {
        format!("[jitsi]\napp_secret = \"0123456789abcdef0123456789abcdef\"\n{extra}")
    }

    #[test]
    fn defaults_need_only_a_secret() {
        let c = Config::from_toml(&with_secret("")).unwrap();
        assert_eq!(c.booking.max_moderators, 2);
        assert_eq!(c.jitsi.token_lifetime_seconds, 900);
        assert_eq!(c.jitsi_domain(), "meet.jit.si");
    }

    #[test]
    fn unknown_key_is_named_once() {
        let err = Config::from_toml(&with_secret("[booking]\nmax_gests = 3\n")).unwrap_err().to_string();
        assert_eq!(err, "`booking.max_gests`: unknown key");
        let err = Config::from_toml(&with_secret("[bookings]\nmax_guests = 3\n")).unwrap_err().to_string();
        assert_eq!(err, "`bookings`: unknown key");
    }

    #[test]
    fn an_unknown_key_from_the_environment_names_the_variable() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let file = dir.path().join("jmb.toml");
        std::fs::write(&file, with_secret("")).unwrap();
        temp_env(&[("JMB_BOOKING__MAX_GESTS", "7")], || {
            let err = Config::load(Some(&file)).unwrap_err().to_string();
            assert!(err.starts_with("`booking.max_gests`: unknown key"), "{err}");
            assert!(err.contains("JMB_BOOKING__MAX_GESTS"), "{err}");
        });
    }

    #[test]
    fn environment_overrides_apply_without_a_file() {
        temp_env(&[("JMB_BOOKING__MAX_GUESTS", "7"), ("JMB_SERVER__LISTEN", "127.0.0.1:9999")], || {
            let c = Config::load_embedded().unwrap();
            assert_eq!(c.booking.max_guests, 7);
            assert_eq!(c.server.listen, "127.0.0.1:9999");
            assert_eq!(c.auth.mode, AuthMode::Demo, "still the embedded demo");
        });
    }

    #[test]
    fn bad_value_is_named() {
        let err = Config::from_toml(&with_secret("[server]\nlisten = \"nowhere\"\n")).unwrap_err().to_string();
        assert!(err.contains("server.listen"), "{err}");
        let err = Config::from_toml(&with_secret("[booking]\nmax_guests = \"many\"\n")).unwrap_err().to_string();
        assert!(err.contains("booking.max_guests"), "{err}");
        let err =
            Config::from_toml(&with_secret("[auth]\ntrusted_proxies = [\"10.0.0.0/33\"]\n")).unwrap_err().to_string();
        assert!(err.contains("auth.trusted_proxies"), "{err}");
    }

    #[test]
    fn out_of_range_values_are_named() {
        for (toml, key) in [
            ("[booking]\narchive_days = 4000000000\n", "booking.archive_days"),
            ("[calendar]\npast_days = 99999\n", "calendar.past_days"),
            ("guest_join_early_minutes = 99999\n", "jitsi.guest_join_early_minutes"),
        ] {
            let err = Config::from_toml(&with_secret(toml)).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    /// Every numeric key (today's and any added later) refuses a huge value, naming the key: bounds are
    /// checked, never assumed.
    #[test]
    fn every_numeric_key_is_bounded() {
        let value = serde_json::to_value(Config::default()).unwrap();
        let mut checked = 0;
        for (section, keys) in value.as_object().unwrap() {
            for (key, v) in keys.as_object().unwrap() {
                let is_number =
                    v.is_number() || v.as_array().is_some_and(|a| a.iter().all(|x| x.is_number()) && !a.is_empty());
                if !is_number {
                    continue;
                }
                for huge in ["4294967295", "9000000000000"] {
                    let literal = if v.is_array() { format!("[{huge}]") } else { huge.to_string() };
                    let line = format!("{key} = {literal}\n");
                    let toml = if section == "jitsi" { line } else { format!("[{section}]\n{line}") };
                    let err = Config::from_toml(&with_secret(&toml)).map(|_| ()).unwrap_err().to_string();
                    // An element of a list is named with its index (`calendar.alarm_minutes.0`).
                    assert!(err.contains(&format!("`{section}.{key}")), "{section}.{key} = {huge}: {err}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 25, "only {checked} numeric keys found");
    }

    #[test]
    fn small_values_that_break_things_are_refused() {
        for (toml, key) in [
            ("[database]\nread_connections = 0\n", "database.read_connections"),
            ("[server]\nrequest_timeout_seconds = 0\n", "server.request_timeout_seconds"),
            ("[server]\nheader_read_timeout_seconds = 0\n", "server.header_read_timeout_seconds"),
            ("[server]\nmax_connections = 0\n", "server.max_connections"),
            ("[booking]\nmax_bookings_per_hour = 0\n", "booking.max_bookings_per_hour"),
            ("[booking]\nduration_step_minutes = 0\n", "booking.duration_step_minutes"),
            ("[calendar]\ncache_bytes = 1048576\n", "calendar.cache_bytes"),
            ("external_moderator_token_lifetime_seconds = 10\n", "jitsi.external_moderator_token_lifetime_seconds"),
        ] {
            let err = Config::from_toml(&with_secret(toml)).unwrap_err().to_string();
            assert!(err.contains(key), "{toml}: {err}");
        }
    }

    #[test]
    fn the_database_is_a_file() {
        for path in ["", "  ", ":memory:", "file::memory:", ":memory:?cache=shared", "/var/lib/jmb/"] {
            let toml = format!("[database]\npath = \"{path}\"\n");
            let err = Config::from_toml(&with_secret(&toml)).unwrap_err().to_string();
            assert!(err.contains("database.path"), "{path:?}: {err}");
        }
        assert!(Config::from_toml(&with_secret("[database]\npath = \"jmb.db\"\n")).is_ok());
    }

    #[test]
    fn short_secrets_are_refused_with_advice() {
        let err = Config::from_toml("[jitsi]\napp_secret = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("jitsi.app_secret") && err.contains("openssl rand"), "{err}");
        let err = Config::from_toml(&with_secret("[server]\nsecret = \"x\"\n")).unwrap_err().to_string();
        assert!(err.contains("server.secret") && err.contains("32"), "{err}");
        let c = Config::from_toml(&with_secret("[server]\nsecret = \"0123456789abcdef0123456789abcdef\"\n"));
        assert!(c.is_ok());
    }

    #[test]
    fn wide_trusted_proxies_are_warned_about() {
        let warnings = |nets: &str| {
            Config::from_toml(&with_secret(&format!("[auth]\ntrusted_proxies = {nets}\n"))).unwrap().warnings()
        };
        assert!(warnings("[\"127.0.0.1/32\", \"::1/128\"]").is_empty());
        let w = warnings("[\"10.0.0.0/8\"]");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("auth.trusted_proxies") && w[0].contains("private range"), "{w:?}");
        let w = warnings("[\"0.0.0.0/0\"]");
        assert!(w[0].contains("public addresses"), "{w:?}");
        let w = warnings("[\"2001:db8::/32\"]");
        assert!(w[0].contains("public addresses"), "{w:?}");
    }

    #[test]
    fn public_url_is_the_root_of_a_host() {
        for ok in ["https://meet.example.org", "https://meet.example.org/", "http://127.0.0.1:8080"] {
            assert!(Config::from_toml(&with_secret(&format!("[server]\npublic_url = \"{ok}\"\n"))).is_ok(), "{ok}");
        }
        for bad in ["https://example.org/jmb", "https://example.org/jmb/", "https://example.org?x", "meet.example.org"]
        {
            let err = Config::from_toml(&with_secret(&format!("[server]\npublic_url = \"{bad}\"\n"))).unwrap_err();
            assert!(err.to_string().contains("server.public_url"), "{bad}: {err}");
        }
    }

    #[test]
    fn demo_refuses_public_listen() {
        let mut c = Config::embedded_default();
        c.server.listen = "0.0.0.0:8080".into();
        assert!(c.validate().unwrap_err().to_string().contains("server.listen"));
        assert!(Config::embedded_default().validate().is_ok());
    }

    #[test]
    fn xmpp_section() {
        assert!(Config::from_toml(&with_secret("")).unwrap().xmpp.is_none(), "absent: no warnings");
        let log = Config::from_toml(&with_secret("[xmpp]\nnotifier = \"log\"\n")).unwrap();
        assert_eq!(log.xmpp.unwrap().warn_minutes, vec![15, 5, 0]);
        let full =
            "[xmpp]\njid = \"jmb-bot@auth.meet.test\"\npassword = \"pw\"\nmuc_domain = \"conference.meet.test\"\n";
        let c = Config::from_toml(&with_secret(full)).unwrap().xmpp.unwrap();
        assert_eq!(c.server_addr().unwrap(), ("auth.meet.test".to_string(), 5222));
        assert_eq!((c.nick.as_str(), c.security), ("Jitsi-Bot", XmppSecurity::Starttls));
        let err = |extra: &str| Config::from_toml(&with_secret(&format!("{full}{extra}"))).unwrap_err().to_string();
        // Plain text only to a loopback address.
        assert!(err("security = \"plaintext-loopback\"\n").contains("xmpp.security"));
        assert!(err("security = \"plaintext-loopback\"\nserver = \"192.0.2.1:5222\"\n").contains("loopback"));
        let ok = format!("{full}security = \"plaintext-loopback\"\nserver = \"127.0.0.1:15222\"\n");
        assert_eq!(Config::from_toml(&with_secret(&ok)).unwrap().xmpp.unwrap().server_addr().unwrap().1, 15222);
        assert!(err("server = \"nohost\"\n").contains("xmpp.server"));
        assert!(err("password_file = \"/x\"\n").contains("not both"));
        assert!(err("warn_minutes = [2000]\n").contains("xmpp.warn_minutes"));
        assert!(err("nick = \"\"\n").contains("xmpp.nick"));
        assert!(err("retry_initial_seconds = 100\nretry_max_seconds = 10\n").contains("retry_initial"));
        assert!(err("colour = 1\n").contains("colour"), "unknown keys are errors");
        let no_jid = Config::from_toml(&with_secret("[xmpp]\nmuc_domain = \"c.meet.test\"\npassword = \"p\"\n"));
        assert!(no_jid.unwrap_err().to_string().contains("xmpp.jid"));
        // The password is never shown.
        assert!(!format!("{c:?}").contains("\"pw\""));
        // The embedded demo logs its warnings.
        assert_eq!(Config::embedded_default().xmpp.unwrap().notifier, NotifierKind::Log);
    }

    #[test]
    fn editor_policy_forms() {
        let c = Config::from_toml(&with_secret("[auth]\neditors = \"everyone\"\n")).unwrap();
        assert_eq!(c.auth.editors, EditorPolicy::Keyword(EditorKeyword::Everyone));
        let c = Config::from_toml(&with_secret("[auth]\neditors = [\"a\", \"b\"]\n")).unwrap();
        assert_eq!(c.auth.editors, EditorPolicy::Uids(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn directory_settings_are_checked_at_load() {
        let ok = "[directory]\nurl = \"ldaps://ldap.example.org\"\nbase_dn = \"dc=example,dc=org\"\n";
        let c = Config::from_toml(&with_secret(ok)).unwrap();
        assert!(c.directory.enabled());
        assert!(!Config::from_toml(&with_secret("")).unwrap().directory.enabled(), "off by default");
        for (extra, key) in [
            ("[directory]\nurl = \"ldaps://ldap.example.org\"\n", "directory.base_dn"),
            ("[directory]\nurl = \"http://ldap.example.org\"\nbase_dn = \"dc=x\"\n", "directory.url"),
            ("[directory]\nurl = \"not a url\"\nbase_dn = \"dc=x\"\n", "directory.url"),
            ("[directory]\nurl = \"ldap://u:p@ldap.example.org\"\nbase_dn = \"dc=x\"\n", "directory.url"),
            (
                "[directory]\nurl = \"ldap://ldap.example.org\"\nbase_dn = \"dc=x\"\nsecurity = \"plaintext-loopback\"\n",
                "directory.security",
            ),
            (
                "[directory]\nurl = \"ldaps://h.example.org\"\nbase_dn = \"dc=x\"\nbind_dn = \"cn=jmb\"\n",
                "directory.bind_password_file",
            ),
            ("[directory]\nuser_filter = \"(uid=jdupont)\"\n", "directory.user_filter"),
            ("[directory]\nuser_filter = \"uid={uid}\"\n", "directory.user_filter"),
            ("[directory]\nmail_filter = \"(|(mail={mail})(mailAlternateAddress={mail})\"\n", "directory.mail_filter"),
            ("[directory]\neditor_filter = \"(eduPersonAffiliation=staff))(\"\n", "directory.editor_filter"),
            ("[directory]\ngroup_filter = \"(objectClass=groupOfNames)\"\n", "directory.group_filter"),
            ("[directory]\nsearch_filter = \"(cn=*)\"\n", "directory.search_filter"),
            ("[directory]\nmail_attribute = \"mail)(x\"\n", "directory.mail_attribute"),
            ("[directory]\ntimeout_seconds = 0\n", "directory.timeout_seconds"),
            ("[directory]\ncompletion_results = 0\n", "directory.completion_results"),
            ("[auth]\neditors = \"directory\"\n", "auth.editors"),
        ] {
            let err = Config::from_toml(&with_secret(extra)).unwrap_err().to_string();
            assert!(err.contains(key), "{extra}: {err}");
        }
        let local =
            "[directory]\nurl = \"ldap://127.0.0.1:3890\"\nbase_dn = \"dc=x\"\nsecurity = \"plaintext-loopback\"\n";
        assert!(Config::from_toml(&with_secret(local)).is_ok());
        let c = Config::from_toml(&with_secret(&format!("{ok}[auth]\neditors = \"directory\"\n"))).unwrap();
        assert_eq!(c.auth.editors, EditorPolicy::Keyword(EditorKeyword::Directory));
    }

    #[test]
    fn example_file_is_valid() {
        let text = include_str!("../examples/jmb.toml").replace("app_secret_file", "app_secret");
        let text = text.replace("\"/etc/jmb/jitsi-app-secret\"", "\"0123456789abcdef0123456789abcdef\"");
        let c = Config::from_toml(&text).unwrap();
        assert_eq!(c.server.public_url, "https://meet.example.org");
    }

    /// Every key has a line in docs/configuration.md.
    #[test]
    fn every_key_is_documented() {
        let doc = include_str!("../docs/configuration.md");
        let mut value = serde_json::to_value(Config::default()).unwrap();
        // Optional sections, absent from the default.
        value["xmpp"] = serde_json::to_value(XmppConfig::default()).unwrap();
        for (section, keys) in value.as_object().unwrap() {
            for key in keys.as_object().unwrap().keys() {
                assert!(doc.contains(&format!("`{section}.{key}`")), "docs/configuration.md lacks `{section}.{key}`");
            }
        }
    }

    #[test]
    fn environment_overrides_only_nested_keys() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let file = dir.path().join("jmb.toml");
        std::fs::write(&file, with_secret("")).unwrap();
        temp_env(&[("JMB_BOOKING__MAX_GUESTS", "7"), ("JMB_SOMETHING_ELSE", "x")], || {
            let c = Config::load(Some(&file)).unwrap();
            assert_eq!(c.booking.max_guests, 7);
        });
    }

    /// Runs `f` with environment variables set, in figment's jail (which also serialises such tests).
    #[allow(clippy::result_large_err)] // figment's own closure signature
    fn temp_env(vars: &[(&str, &str)], f: impl FnOnce()) {
        figment::Jail::expect_with(|jail| {
            for (k, v) in vars {
                jail.set_env(k, v);
            }
            f();
            Ok(())
        });
    }

    #[test]
    fn prosody_config_gives_the_app_id_and_secret() {
        let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
        let lua = dir.path().join("meet.example.org.cfg.lua");
        std::fs::write(
            &lua,
            "VirtualHost \"meet.example.org\"\n  app_id = \"from-prosody\"\n  app_secret = \"prosody-secret-0123456789abcdef0123\"\n",
        )
        .unwrap();
        let toml =
            format!("[jitsi]\nbase_url = \"https://meet.example.org\"\nprosody_config = \"{}\"\n", lua.display());
        let c = Config::from_toml(&toml).unwrap();
        assert_eq!(c.jitsi_app_id().unwrap(), "from-prosody");
        assert_eq!(c.jitsi_secret().unwrap().expose(), "prosody-secret-0123456789abcdef0123");
        // Not both; and a missing file is named.
        let both = format!("{toml}app_secret = \"0123456789abcdef0123456789abcdef\"\n");
        assert!(Config::from_toml(&both).unwrap_err().to_string().contains("jitsi.prosody_config"));
        std::fs::remove_file(&lua).unwrap();
        assert!(c.jitsi_secret().unwrap_err().to_string().contains("jitsi.prosody_config"));
    }

    #[test]
    fn secret_is_redacted() {
        let c = Config::from_toml(&with_secret("")).unwrap();
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
    }

    /// A configuration written for the count-bounded cache still starts, and says what replaced it.
    #[test]
    fn the_former_cache_size_key_is_accepted_and_warned_about() {
        let config = Config::from_toml(&with_secret("[calendar]\ncache_users = 256\n")).unwrap();
        assert_eq!(config.calendar.cache_bytes, 32 * 1024 * 1024);
        assert!(config.warnings().iter().any(|w| w.contains("calendar.cache_users") && w.contains("cache_bytes")));
        assert!(!Config::default().warnings().iter().any(|w| w.contains("cache_users")));
    }
}
