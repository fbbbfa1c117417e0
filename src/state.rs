//! The application state handed to every handler: the store, the seams (identity, editor policy,
//! clock) as trait objects, the Jitsi signer, keys and configuration. No global statics.

use std::sync::Arc;

use crate::calendar::store::CalendarStore;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::identity::{EditorPolicy, IdentityProvider};
use crate::jitsi::Jitsi;
use crate::secrets::Keys;
use crate::web::i18n::{Lang, Tr};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub identity: Arc<dyn IdentityProvider>,
    pub editors: Arc<dyn EditorPolicy>,
    pub jitsi: Arc<Jitsi>,
    pub clock: Arc<dyn Clock>,
    pub keys: Keys,
    pub calendars: Arc<CalendarStore>,
}

impl AppState {
    pub fn default_lang(&self) -> Lang {
        Lang::parse(&self.config.server.default_language).unwrap_or(Lang::Fr)
    }

    /// Translations for a request with these headers.
    pub fn tr(&self, headers: &axum::http::HeaderMap) -> Tr {
        Tr::new(Lang::negotiate(headers, self.default_lang()), self.config.display_tz())
    }

    /// An absolute URL under the public base.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.public_base(), path)
    }
}
