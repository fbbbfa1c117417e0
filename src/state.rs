//! The application state handed to every handler (the edge): the core's services (bookings, users,
//! calendars), the seams (identity provider, editor policy, clock) as trait objects, the Jitsi signer,
//! keys and configuration. No global statics. The core never sees this type.

use std::sync::Arc;

use crate::auth::IdentityProvider;
use crate::auth::sessions::DemoSessions;
use crate::booking::Bookings;
use crate::calendar::store::CalendarStore;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::i18n::{Lang, Tr};
use crate::identity::EditorPolicy;
use crate::jitsi::Jitsi;
use crate::mail::MailSettings;
use crate::mailer::Transport;
use crate::secrets::Keys;
use crate::users::Users;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub bookings: Bookings,
    pub users: Users,
    pub calendars: Arc<CalendarStore>,
    pub identity: Arc<dyn IdentityProvider>,
    pub editors: Arc<dyn EditorPolicy>,
    /// The organisation's directory (look-ups do nothing without `[directory]`).
    pub directory: Arc<crate::directory::DirectoryService>,
    pub jitsi: Arc<Jitsi>,
    pub clock: Arc<dyn Clock>,
    pub keys: Keys,
    pub mail: Arc<MailSettings>,
    pub mailer: Arc<dyn Transport>,
    /// Demo sign-in sessions (empty unless `auth.mode = "demo"`).
    pub demo_sessions: Arc<DemoSessions>,
    /// Request, booking and store metrics (`GET /metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Who may read `/metrics`.
    pub metrics_access: Arc<crate::metrics::ScrapeAccess>,
    /// Presence from Prosody's event_sync webhooks; `None` without `[presence]`.
    pub presence: Option<crate::presence::Presence>,
    /// End-of-meeting chat warnings (`[xmpp]`); `None` without the section.
    pub warnings: Option<Arc<crate::room_warnings::Sender>>,
}

impl AppState {
    pub fn default_lang(&self) -> Lang {
        Lang::parse(&self.config.server.default_language).unwrap_or(Lang::Fr)
    }

    /// Translations for a request with these headers.
    pub fn tr(&self, headers: &axum::http::HeaderMap) -> Tr {
        Tr::new(crate::web::lang::negotiate(headers, self.default_lang()), self.config.display_tz())
    }

    /// An absolute URL under the public base.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.public_base(), path)
    }
}
