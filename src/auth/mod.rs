//! Sign-in over HTTP (the edge): an [`IdentityProvider`] turns a request into an
//! [`Identity`](crate::identity::Identity) — from a trusted reverse proxy's headers ([`proxy`]) or the
//! demo sign-in ([`demo`]) — and the [`SignedIn`] extractor gives handlers the caller as an
//! [`Actor`](crate::identity::Actor), with the editor policy applied.

pub mod demo;
pub mod extract;
pub mod proxy;
pub mod sessions;

use std::net::SocketAddr;

use axum::http::request::Parts;

pub use extract::SignedIn;

use crate::identity::{BoxFuture, Identity};

/// The TCP peer of a request, or a unix-socket client (trusted by file permissions). `jmb::run` puts it
/// in every request's extensions as `ConnectInfo<Peer>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Tcp(SocketAddr),
    Unix,
}

impl Peer {
    /// Whether the peer is one of `nets`, or on the unix socket (whose check is file permissions).
    /// An IPv4-mapped IPv6 address is compared as the IPv4 address it is. This is the one place
    /// that decides whether a connection comes from a configured address (trusted proxies, Prosody).
    pub fn is_in(&self, nets: &[ipnet::IpNet]) -> bool {
        match self {
            Peer::Unix => true,
            Peer::Tcp(addr) => {
                let ip = addr.ip().to_canonical();
                nets.iter().any(|net| net.contains(&ip))
            }
        }
    }

    /// Whether the peer is this machine: the unix socket or a loopback address.
    pub fn is_local(&self) -> bool {
        match self {
            Peer::Unix => true,
            Peer::Tcp(addr) => addr.ip().to_canonical().is_loopback(),
        }
    }
}

/// The peer of a request, from the `ConnectInfo<Peer>` that `jmb::run` adds.
pub fn peer_of(parts: &Parts) -> Peer {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<Peer>>()
        .map(|c| c.0)
        // Requests built in-process (tests through `oneshot`) have no connection: treat as loopback.
        .unwrap_or(Peer::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0))))
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

/// Reads the caller's identity from a request.
pub trait IdentityProvider: Send + Sync {
    fn identify<'a>(&'a self, parts: &'a Parts, peer: Peer) -> BoxFuture<'a, Result<Identity, AuthError>>;
    /// Where a browser goes to sign in, if jmb itself offers a sign-in page.
    fn login_url(&self, next: &str) -> Option<String>;
}
