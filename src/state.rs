//! The application state handed to every handler (the edge): the core's services (bookings, users,
//! calendars), the seams (identity provider, editor policy, clock) as trait objects, the Jitsi signer,
//! keys and configuration. No global statics. The core never sees this type.
//!
//! axum clones the state for every extractor and middleware that takes it, several times per request:
//! [`AppState`] is therefore one reference-counted handle to the [`Services`] (cloning the services
//! themselves, some twenty handles and a few owned strings, cost a hot CalDAV request a twentieth of its
//! time). Fields are read through `Deref`; a test that changes one gets its own copy (`DerefMut`).

use std::ops::{Deref, DerefMut};
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

/// The handle every handler receives: cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        AppState(Arc::new(services))
    }
}

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

impl DerefMut for AppState {
    /// Copy on write: the services of other clones of this handle stay as they are.
    fn deref_mut(&mut self) -> &mut Services {
        Arc::make_mut(&mut self.0)
    }
}

/// What the handlers use.
#[derive(Clone)]
pub struct Services {
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

impl Services {
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
