//! Sign-in behind a trusted reverse proxy: Apache (mod_auth_cas, Shibboleth, mellon, …) or nginx
//! `auth_request` authenticates and passes uid, mail and name in headers. The headers are believed only
//! when the TCP peer is one of the configured proxy addresses (never `X-Forwarded-For`), or when jmb
//! listens on a unix socket.
//!
//! With a directory (`[directory]`), the proxy may pass the uid alone: the mail address and display
//! name it did not pass are the directory's. A directory that does not answer leaves the headers'
//! values; without any mail address, sign-in is refused with a page that says so (403).

use std::sync::Arc;

use axum::http::request::Parts;
use ipnet::IpNet;

use super::{AuthError, IdentityProvider, Peer};
use crate::booking::model::{MailAddress, name_from_mail};
use crate::directory::{DirectoryService, Person};
use crate::identity::{BoxFuture, Identity};

pub struct TrustedHeaderProvider {
    pub trusted: Vec<IpNet>,
    pub user_header: String,
    pub mail_header: String,
    pub name_header: String,
    /// Fills in what the headers leave out.
    pub directory: Option<Arc<DirectoryService>>,
}

/// What the headers said.
struct FromHeaders {
    uid: String,
    mail: Option<MailAddress>,
    name: Option<String>,
}

impl TrustedHeaderProvider {
    pub fn from_config(auth: &crate::config::AuthConfig) -> Self {
        Self {
            trusted: auth.trusted_proxies.clone(),
            user_header: auth.user_header.clone(),
            mail_header: auth.mail_header.clone(),
            name_header: auth.name_header.clone(),
            directory: None,
        }
    }

    /// Mail and name the headers do not carry are looked up in `directory`.
    pub fn with_directory(mut self, directory: Arc<DirectoryService>) -> Self {
        self.directory = directory.enabled().then_some(directory);
        self
    }

    fn peer_is_trusted(&self, peer: Peer) -> bool {
        peer.is_in(&self.trusted)
    }

    #[cfg(test)]
    fn read(&self, parts: &Parts, peer: Peer) -> Result<Identity, AuthError> {
        complete(self.read_headers(parts, peer)?, None, false)
    }

    fn read_headers(&self, parts: &Parts, peer: Peer) -> Result<FromHeaders, AuthError> {
        if !self.peer_is_trusted(peer) {
            return Err(AuthError::UntrustedPeer);
        }
        let header = |name: &str| -> Result<Option<String>, AuthError> {
            match parts.headers.get(name) {
                None => Ok(None),
                Some(v) => {
                    // Some proxies send Latin-1 or raw bytes: accept only valid UTF-8.
                    let s =
                        std::str::from_utf8(v.as_bytes()).map_err(|_| AuthError::Malformed("header is not UTF-8"))?;
                    let s = s.trim();
                    if s.chars().any(char::is_control) {
                        return Err(AuthError::Malformed("control characters in an identity header"));
                    }
                    Ok((!s.is_empty()).then(|| s.to_string()))
                }
            }
        };
        let uid = header(&self.user_header)?.ok_or(AuthError::Anonymous)?.to_lowercase();
        if uid.len() > 256 || uid.contains(char::is_whitespace) {
            return Err(AuthError::Malformed("uid"));
        }
        // Multi-valued attributes arrive joined with ';' (Shibboleth, mellon): the first is primary.
        let mail = match header(&self.mail_header)? {
            Some(raw) => {
                let first = raw.split(';').next().unwrap_or_default();
                Some(MailAddress::parse(first).ok_or(AuthError::Malformed("mail address"))?)
            }
            None => None,
        };
        let name = header(&self.name_header)?
            .map(|n| n.split(';').next().unwrap_or_default().chars().take(200).collect::<String>())
            .filter(|n| !n.trim().is_empty());
        Ok(FromHeaders { uid, mail, name })
    }
}

/// The identity from the headers, completed by the directory's entry for the uid.
fn complete(h: FromHeaders, person: Option<Person>, directory_down: bool) -> Result<Identity, AuthError> {
    let mail = match (h.mail, &person) {
        (Some(m), _) => m.as_str().to_string(),
        (None, Some(p)) => p.mail.clone(),
        (None, None) if directory_down => {
            return Err(AuthError::Malformed("no mail address, and the directory did not answer"));
        }
        (None, None) => return Err(AuthError::Malformed("no mail address")),
    };
    let name = h
        .name
        .or_else(|| person.map(|p| p.name).filter(|n| !n.trim().is_empty()))
        .unwrap_or_else(|| name_from_mail(&mail));
    Ok(Identity { uid: h.uid, mail, name })
}

impl IdentityProvider for TrustedHeaderProvider {
    fn identify<'a>(&'a self, parts: &'a Parts, peer: Peer) -> BoxFuture<'a, Result<Identity, AuthError>> {
        let headers = self.read_headers(parts, peer);
        Box::pin(async move {
            let headers = headers?;
            match &self.directory {
                Some(directory) if headers.mail.is_none() || headers.name.is_none() => {
                    match directory.person_by_uid(&headers.uid).await {
                        Ok(person) => complete(headers, person, false),
                        Err(_) => complete(headers, None, true),
                    }
                }
                _ => complete(headers, None, false),
            }
        })
    }

    fn login_url(&self, _next: &str) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn provider() -> TrustedHeaderProvider {
        TrustedHeaderProvider::from_config(&crate::config::AuthConfig::default())
    }

    fn parts(headers: &[(&str, &[u8])]) -> Parts {
        let mut b = Request::builder();
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    const LOCAL: Peer = Peer::Tcp(std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000));

    #[test]
    fn trusted_peer_and_headers() {
        let p = parts(&[("X-Remote-User", b"JDupont"), ("X-Remote-Mail", b"Jean.Dupont@Example.org;jd@example.org")]);
        let id = provider().read(&p, LOCAL).unwrap();
        assert_eq!(id.uid, "jdupont");
        assert_eq!(id.mail, "jean.dupont@example.org");
        assert_eq!(id.name, "Jean Dupont");
        let v6 = Peer::Tcp("[::ffff:127.0.0.1]:1".parse().unwrap());
        assert!(provider().read(&p, v6).is_ok(), "IPv4-mapped loopback is loopback");
        assert!(provider().read(&p, Peer::Unix).is_ok());
    }

    #[test]
    fn untrusted_or_broken() {
        let p = parts(&[("X-Remote-User", b"jdupont"), ("X-Remote-Mail", b"j@example.org")]);
        let remote = Peer::Tcp("192.0.2.7:443".parse().unwrap());
        assert_eq!(provider().read(&p, remote), Err(AuthError::UntrustedPeer));
        assert_eq!(provider().read(&parts(&[]), LOCAL), Err(AuthError::Anonymous));
        let bad = parts(&[("X-Remote-User", b"j\xffd"), ("X-Remote-Mail", b"j@example.org")]);
        assert!(matches!(provider().read(&bad, LOCAL), Err(AuthError::Malformed(_))));
        let nomail = parts(&[("X-Remote-User", b"jdupont")]);
        assert!(matches!(provider().read(&nomail, LOCAL), Err(AuthError::Malformed(_))));
    }
}
