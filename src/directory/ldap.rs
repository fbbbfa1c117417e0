//! The [`Directory`] over LDAP (the `ldap3` crate on tokio).
//!
//! One connection, bound once as the service account and shared by every look-up: `ldap3` multiplexes
//! operations on it (each request gets its own message id), so concurrent look-ups cost no TLS
//! handshake and no bind each, and slapd sees one session instead of one per page. A connection that
//! fails (closed, reset, a look-up that ran out of time) is dropped and the next look-up opens a new
//! one. Every operation, connection and bind included, is bounded by [`op_timeout`], strictly shorter
//! than `directory.timeout_seconds` (the service's own bound): the operation's timeout fires first and
//! drops the connection itself; the service also calls [`Directory::reset`] on any timeout, for the
//! case where its bound fired first. The connection slot is a plain mutex held for no I/O; opening a
//! connection is serialised by another lock whose wait is inside the operation's time bound.
//!
//! Every value placed in a filter goes through [`fill`], which escapes it per RFC 4515 (`\`, `*`,
//! `(`, `)` and NUL as `\XX`), so an address or a search text is always one assertion value.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions, SearchResult, ldap_escape};

use super::{Directory, DirectoryError, Person};
use crate::config::{DirectoryConfig, DirectorySecurity, Secret};
use crate::identity::BoxFuture;

/// The filter template with `placeholder` replaced by `value`, escaped per RFC 4515.
pub fn fill(template: &str, placeholder: &str, value: &str) -> String {
    template.replace(placeholder, &ldap_escape(value))
}

/// Whether a value may be looked up at all: no uid, address or name holds a control character, and
/// an escaped NUL is not harmless everywhere: OpenLDAP 2.5 answers `(mail=\00*)` (IA5 substrings)
/// with every entry that has a mail address, as if the prefix were empty. Such values find nobody,
/// without asking.
pub fn searchable(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(char::is_control)
}

/// The bound of one LDAP operation (connection, bind and search): four fifths of the service's
/// `timeout_seconds`, so it runs out strictly before the service's bound does.
pub fn op_timeout(timeout_seconds: u64) -> Duration {
    Duration::from_secs(timeout_seconds.max(1)) * 4 / 5
}

/// Member entries read at once when a group is expanded.
const PARALLEL_MEMBER_READS: usize = 8;

pub struct LdapDirectory {
    url: String,
    settings: LdapConnSettings,
    bind: Option<(String, Secret)>,
    base: String,
    user_filter: String,
    mail_filter: String,
    editor_filter: String,
    group_filter: String,
    search_filter: String,
    mail_attr: String,
    name_attr: String,
    /// [`op_timeout`].
    timeout: Duration,
    /// The shared connection; locked only to read or replace it, never across I/O.
    conn: std::sync::Mutex<Option<Ldap>>,
    /// Held while a connection is opened, so that concurrent look-ups open one, not one each.
    opening: tokio::sync::Mutex<()>,
}

impl LdapDirectory {
    pub fn from_config(c: &DirectoryConfig) -> Result<Self, crate::config::ConfigError> {
        let timeout = op_timeout(c.timeout_seconds);
        let mut settings = LdapConnSettings::new().set_conn_timeout(timeout);
        if c.security == DirectorySecurity::Tls {
            settings = settings.set_config(Arc::new(tls_config(c)?));
            if c.url.trim().starts_with("ldap://") {
                settings = settings.set_starttls(true);
            }
        }
        let bind = if c.bind_dn.trim().is_empty() { None } else { Some((c.bind_dn.clone(), c.bind_password()?)) };
        Ok(Self {
            url: c.url.trim().to_string(),
            settings,
            bind,
            base: c.base_dn.clone(),
            user_filter: c.user_filter.trim().to_string(),
            mail_filter: c.mail_filter.trim().to_string(),
            editor_filter: c.editor_filter.trim().to_string(),
            group_filter: c.group_filter.trim().to_string(),
            search_filter: c.search_filter.trim().to_string(),
            mail_attr: c.mail_attribute.clone(),
            name_attr: c.name_attribute.clone(),
            timeout,
            conn: std::sync::Mutex::new(None),
            opening: tokio::sync::Mutex::new(()),
        })
    }

    /// The shared connection, if there is one still open.
    fn current(&self) -> Option<Ldap> {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ldap) = slot.as_mut()
            && !ldap.is_closed()
        {
            return Some(ldap.clone());
        }
        *slot = None;
        None
    }

    /// The shared connection, opened (and bound) if there is none. Callers bound it in time.
    async fn handle(&self) -> Result<Ldap, DirectoryError> {
        if let Some(ldap) = self.current() {
            return Ok(ldap);
        }
        let _opening = self.opening.lock().await;
        // Another look-up may have opened it while this one waited.
        if let Some(ldap) = self.current() {
            return Ok(ldap);
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(self.settings.clone(), &self.url).await.map_err(io)?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error.message = %e, "directory connection closed");
            }
        });
        if let Some((dn, password)) = &self.bind {
            ldap.with_timeout(self.timeout);
            let result = ldap.simple_bind(dn, password.expose()).await.map_err(io)?;
            if result.rc != 0 {
                // The password is never logged; the DN and the server's words are.
                return Err(DirectoryError::Refused(format!("bind as {dn}: {} {}", result.rc, result.text)));
            }
        }
        *self.conn.lock().unwrap_or_else(|e| e.into_inner()) = Some(ldap.clone());
        Ok(ldap)
    }

    /// Runs one search on the shared connection, within the time limit; a failed connection is
    /// dropped. `size` bounds the entries returned (the server's "size limit exceeded" is then fine).
    async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: Vec<String>,
        size: i32,
    ) -> Result<Vec<SearchEntry>, DirectoryError> {
        let work = async {
            let mut ldap = self.handle().await?;
            ldap.with_timeout(self.timeout).with_search_options(SearchOptions::new().sizelimit(size));
            let SearchResult(entries, result) = ldap.search(base, scope, filter, attrs).await.map_err(io)?;
            // 0 success, 4 size limit exceeded (entries up to the limit came), 32 no such object.
            match result.rc {
                0 | 4 => Ok(entries.into_iter().map(SearchEntry::construct).collect()),
                32 => Ok(Vec::new()),
                rc => Err(DirectoryError::Refused(format!("search: {rc} {}", result.text))),
            }
        };
        let outcome = match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(DirectoryError::Timeout),
        };
        if matches!(outcome, Err(DirectoryError::Timeout | DirectoryError::Unreachable(_))) {
            self.drop_connection();
        }
        outcome
    }

    /// Forgets the shared connection (a look-up on it failed or ran out of time); the next look-up
    /// opens a new one. Never waits.
    fn drop_connection(&self) {
        self.conn.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    fn person(&self, e: &SearchEntry) -> Option<Person> {
        let mail = first(e, &self.mail_attr)?.trim().to_lowercase();
        crate::booking::model::MailAddress::parse(&mail)?;
        let name = first(e, &self.name_attr).map(|n| n.trim().chars().take(200).collect()).unwrap_or_default();
        let uid = first(e, "uid").map(|u| u.trim().to_lowercase()).unwrap_or_default();
        Some(Person { uid, mail, name })
    }

    fn attrs(&self) -> Vec<String> {
        vec![self.mail_attr.clone(), self.name_attr.clone(), "uid".into()]
    }
}

fn first<'a>(e: &'a SearchEntry, attr: &str) -> Option<&'a str> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first())
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

fn io(e: ldap3::LdapError) -> DirectoryError {
    match e {
        ldap3::LdapError::Timeout { .. } => DirectoryError::Timeout,
        other => DirectoryError::Unreachable(other.to_string()),
    }
}

/// rustls with the ring provider (as lettre), the system's roots and `directory.ca_file`.
fn tls_config(c: &DirectoryConfig) -> Result<rustls::ClientConfig, crate::config::ConfigError> {
    use rustls::pki_types::pem::PemObject;
    let bad = |reason: String| crate::config::ConfigError::Invalid { key: "directory.ca_file", reason };
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = &c.ca_file {
        let pem = std::fs::read(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("{}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(bad(format!("{} holds no PEM certificate", path.display())));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS settings: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A `member` or `uniqueMember` value: a DN, the latter optionally followed by `#'…'B` (a unique id).
fn member_dn(value: &str) -> &str {
    match value.rfind("#'") {
        Some(i) if value.ends_with("'B") => &value[..i],
        _ => value,
    }
}

impl Directory for LdapDirectory {
    fn person_by_uid<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<Option<Person>, DirectoryError>> {
        Box::pin(async move {
            if !searchable(uid) {
                return Ok(None);
            }
            let filter = fill(&self.user_filter, "{uid}", uid);
            let found = self.search(&self.base, Scope::Subtree, &filter, self.attrs(), 2).await?;
            // Two people behind one uid: believe neither.
            Ok(match found.as_slice() {
                [one] => self.person(one),
                _ => None,
            })
        })
    }

    fn is_editor<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<bool, DirectoryError>> {
        Box::pin(async move {
            if !searchable(uid) {
                return Ok(false);
            }
            let filter = format!("(&{}{})", fill(&self.user_filter, "{uid}", uid), self.editor_filter);
            let found = self.search(&self.base, Scope::Subtree, &filter, vec!["1.1".into()], 1).await?;
            Ok(!found.is_empty())
        })
    }

    fn person_by_mail<'a>(&'a self, mail: &'a str) -> BoxFuture<'a, Result<Option<Person>, DirectoryError>> {
        Box::pin(async move {
            if !searchable(mail) {
                return Ok(None);
            }
            let filter = fill(&self.mail_filter, "{mail}", mail);
            let found = self.search(&self.base, Scope::Subtree, &filter, self.attrs(), 5).await?;
            let people: Vec<Person> = found.iter().filter_map(|e| self.person(e)).collect();
            // An address several entries claim: the one whose primary it is, or none.
            Ok(match people.as_slice() {
                [one] => Some(one.clone()),
                many => many.iter().find(|p| p.mail == mail).cloned(),
            })
        })
    }

    fn group_members<'a>(
        &'a self,
        mail: &'a str,
        max: usize,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, DirectoryError>> {
        Box::pin(async move {
            if self.group_filter.is_empty() || !searchable(mail) {
                return Ok(None);
            }
            let filter = fill(&self.group_filter, "{mail}", mail);
            let attrs = vec!["member".to_string(), "uniqueMember".to_string()];
            let found = self.search(&self.base, Scope::Subtree, &filter, attrs, 2).await?;
            let [group] = found.as_slice() else { return Ok(None) };
            let mut mails = Vec::new();
            let mut dns: Vec<String> = Vec::new();
            for (attr, values) in &group.attrs {
                if attr.eq_ignore_ascii_case("member") || attr.eq_ignore_ascii_case("uniquemember") {
                    dns.extend(values.iter().map(|v| member_dn(v).to_string()));
                }
            }
            // Past `max` members the guest limit refuses the booking anyway: no need to read them all.
            dns.truncate(max);
            // One base search per member, a few at once on the shared connection (multiplexed), in
            // the members' order: the time bound holds a group of 50.
            let reads: Vec<_> = dns
                .iter()
                .map(|dn| self.search(dn, Scope::Base, "(objectClass=*)", vec![self.mail_attr.clone()], 1))
                .collect();
            let reads = futures_util::stream::iter(reads).buffered(PARALLEL_MEMBER_READS).collect::<Vec<_>>().await;
            for entry in reads {
                if let Some(m) = entry?.first().and_then(|e| first(e, &self.mail_attr)) {
                    mails.push(m.trim().to_lowercase());
                }
            }
            Ok(Some(mails))
        })
    }

    fn search<'a>(&'a self, text: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<Person>, DirectoryError>> {
        Box::pin(async move {
            if !searchable(text) {
                return Ok(Vec::new());
            }
            let filter = fill(&self.search_filter, "{q}", text);
            let size = i32::try_from(limit).unwrap_or(i32::MAX);
            let found = LdapDirectory::search(self, &self.base, Scope::Subtree, &filter, self.attrs(), size).await?;
            Ok(found.iter().filter_map(|e| self.person(e)).take(limit).collect())
        })
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async move {
            self.search(&self.base, Scope::Base, "(objectClass=*)", vec!["1.1".into()], 1).await.map(|_| ())
        })
    }

    fn reset(&self) {
        self.drop_connection();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_filters_are_escaped() {
        assert_eq!(fill("(uid={uid})", "{uid}", "jdupont"), "(uid=jdupont)");
        assert_eq!(fill("(uid={uid})", "{uid}", "*"), "(uid=\\2a)");
        assert_eq!(fill("(uid={uid})", "{uid}", "x)(uid=*"), "(uid=x\\29\\28uid=\\2a)");
        assert_eq!(fill("(uid={uid})", "{uid}", "a\\b"), "(uid=a\\5cb)");
        assert_eq!(fill("(uid={uid})", "{uid}", "a\0b"), "(uid=a\\00b)");
        assert_eq!(fill("(cn={q}*)", "{q}", "jd*"), "(cn=jd\\2a*)");
        // UTF-8 stays as it is (RFC 4515 allows it in values).
        assert_eq!(fill("(cn={q}*)", "{q}", "Éloïse"), "(cn=Éloïse*)");
        for hostile in ["*", "x)(uid=*", "\\", "\0", "(|(a=b))"] {
            let f = fill("(&(mail={mail})(x=y))", "{mail}", hostile);
            assert!(ldap3::parse_filter(&f).is_ok(), "{f}");
            assert!(!f["(&(mail=".len()..f.len() - "(x=y))".len() - 1].contains(['*', '(', ')', '\0']), "{f}");
        }
    }

    #[test]
    fn unique_member_values_lose_their_unique_id() {
        assert_eq!(member_dn("uid=a,dc=x"), "uid=a,dc=x");
        assert_eq!(member_dn("uid=a,dc=x#'0101'B"), "uid=a,dc=x");
    }
}
