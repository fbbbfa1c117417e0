//! Who a signed-in person is, and who may book. [`Identity`] is what the organisation's single sign-on
//! says about a person (how it reaches jmb over HTTP is the edge's business: see `crate::auth`);
//! [`EditorPolicy`] decides who may create meetings, as a trait so that an LDAP filter plugs in beside
//! the static policies.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

/// A signed-in person, as the organisation's single sign-on describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Login name, lower-cased.
    pub uid: String,
    /// Primary mail address, lower-cased.
    pub mail: String,
    pub name: String,
}

/// Someone acting on bookings: who they are and whether they may book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub identity: Identity,
    pub is_editor: bool,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The editor policy could not decide (the directory did not answer): the caller may not book now,
/// and is told why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undecided;

/// Decides who may create meetings.
pub trait EditorPolicy: Send + Sync {
    fn is_editor<'a>(&'a self, who: &'a Identity) -> BoxFuture<'a, Result<bool, Undecided>>;
}

/// Everyone, or a fixed list of uids (the directory's filter is `crate::directory::DirectoryEditors`).
pub enum StaticEditors {
    Everyone,
    Uids(HashSet<String>),
}

impl StaticEditors {
    pub fn from_config(policy: &crate::config::EditorPolicy) -> Self {
        match policy {
            crate::config::EditorPolicy::Keyword(crate::config::EditorKeyword::Everyone) => StaticEditors::Everyone,
            // Never reached: `app` picks the directory's policy for this keyword. Refuse all if it were.
            crate::config::EditorPolicy::Keyword(crate::config::EditorKeyword::Directory) => {
                StaticEditors::Uids(HashSet::new())
            }
            crate::config::EditorPolicy::Uids(uids) => {
                StaticEditors::Uids(uids.iter().map(|u| u.trim().to_lowercase()).collect())
            }
        }
    }
}

impl EditorPolicy for StaticEditors {
    fn is_editor<'a>(&'a self, who: &'a Identity) -> BoxFuture<'a, Result<bool, Undecided>> {
        let yes = match self {
            StaticEditors::Everyone => true,
            StaticEditors::Uids(uids) => uids.contains(&who.uid),
        };
        Box::pin(async move { Ok(yes) })
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
