//! Who is calling. An [`IdentityProvider`] turns a request into an [`Identity`]; an [`EditorPolicy`]
//! decides who may create meetings. Both are traits so that later capabilities plug in LDAP look-ups
//! and native OpenID Connect without touching the handlers.

pub mod demo;
pub mod extract;
pub mod proxy;

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::http::request::Parts;

pub use extract::SignedIn;

/// A signed-in person, as the organisation's single sign-on describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Login name, lower-cased.
    pub uid: String,
    /// Primary mail address, lower-cased.
    pub mail: String,
    pub name: String,
}

/// The TCP peer of a request, or a unix-socket client (trusted by file permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Tcp(SocketAddr),
    Unix,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Peer::Tcp(*stream.remote_addr())
    }
}

#[cfg(unix)]
impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::UnixListener>> for Peer {
    fn connect_info(_: axum::serve::IncomingStream<'_, tokio::net::UnixListener>) -> Self {
        Peer::Unix
    }
}

/// Why a request carries no usable identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Nobody is signed in (no session, no header).
    #[error("not signed in")]
    Anonymous,
    /// Identity headers came from an address that is not a trusted proxy.
    #[error("identity headers from an untrusted address")]
    UntrustedPeer,
    /// The proxy passed something unusable.
    #[error("unusable identity: {0}")]
    Malformed(&'static str),
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Reads the caller's identity from a request.
pub trait IdentityProvider: Send + Sync {
    fn identify<'a>(&'a self, parts: &'a Parts, peer: Peer) -> BoxFuture<'a, Result<Identity, AuthError>>;
    /// Where a browser goes to sign in, if jmb itself offers a sign-in page.
    fn login_url(&self, next: &str) -> Option<String>;
}

/// Decides who may create meetings.
pub trait EditorPolicy: Send + Sync {
    fn is_editor<'a>(&'a self, who: &'a Identity) -> BoxFuture<'a, bool>;
}

/// Everyone, or a fixed list of uids (an LDAP filter comes with the directory capability).
pub enum StaticEditors {
    Everyone,
    Uids(HashSet<String>),
}

impl StaticEditors {
    pub fn from_config(policy: &crate::config::EditorPolicy) -> Self {
        match policy {
            crate::config::EditorPolicy::Keyword(crate::config::EditorKeyword::Everyone) => StaticEditors::Everyone,
            crate::config::EditorPolicy::Uids(uids) => {
                StaticEditors::Uids(uids.iter().map(|u| u.trim().to_lowercase()).collect())
            }
        }
    }
}

impl EditorPolicy for StaticEditors {
    fn is_editor<'a>(&'a self, who: &'a Identity) -> BoxFuture<'a, bool> {
        let yes = match self {
            StaticEditors::Everyone => true,
            StaticEditors::Uids(uids) => uids.contains(&who.uid),
        };
        Box::pin(async move { yes })
    }
}

/// Whether `mail` belongs to the organisation: the exact domain after `@` is listed.
pub fn is_internal(mail: &str, internal_domains: &[String]) -> bool {
    mail.rsplit_once('@').is_some_and(|(_, domain)| internal_domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_is_exact_domain() {
        let domains = vec!["example.org".to_string()];
        assert!(is_internal("a@example.org", &domains));
        assert!(is_internal("a@EXAMPLE.org", &domains));
        assert!(!is_internal("a@evil-example.org", &domains));
        assert!(!is_internal("a@sub.example.org", &domains));
        assert!(!is_internal("example.org", &domains));
    }
}
