//! The service over a fake directory: what is cached (negative answers too), what a failure costs,
//! how answers reach validation. The LDAP side is tested against slapd (tests/it/directory.rs).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::*;
use crate::booking::rules::{Context, FieldError, RawStart};

#[derive(Default)]
struct Fake {
    calls: AtomicUsize,
    down: AtomicBool,
    /// Look-ups never answer.
    hang: AtomicBool,
    /// Completion is refused (as an administrative limit would).
    refuse_search: AtomicBool,
    resets: AtomicUsize,
}

impl Fake {
    async fn answer<T>(&self, value: T) -> Result<T, DirectoryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.down.load(Ordering::SeqCst) { Err(DirectoryError::Unreachable("test".into())) } else { Ok(value) }
    }
}

fn person(uid: &str, mail: &str) -> Person {
    Person { uid: uid.into(), mail: mail.into(), name: uid.to_uppercase() }
}

impl Directory for Fake {
    fn person_by_uid<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<Option<Person>, DirectoryError>> {
        let found = (uid == "jd").then(|| person("jd", "jean@example.org"));
        Box::pin(async move { self.answer(found).await })
    }
    fn is_editor<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<bool, DirectoryError>> {
        Box::pin(async move { self.answer(uid == "jd").await })
    }
    fn person_by_mail<'a>(&'a self, mail: &'a str) -> BoxFuture<'a, Result<Option<Person>, DirectoryError>> {
        let found = match mail {
            "jean@example.org" | "alias@example.org" | "other-alias@lab.example.net" => {
                Some(person("jd", "jean@example.org"))
            }
            _ => None,
        };
        Box::pin(async move { self.answer(found).await })
    }
    fn group_members<'a>(
        &'a self,
        mail: &'a str,
        _max: usize,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, DirectoryError>> {
        let found = (mail == "group@example.org")
            .then(|| vec!["b@x.org".to_string(), "owner@example.org".into(), "a@x.org".into(), "a@x.org".into()]);
        Box::pin(async move { self.answer(found).await })
    }
    fn search<'a>(&'a self, _text: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<Person>, DirectoryError>> {
        Box::pin(async move {
            if self.refuse_search.load(Ordering::SeqCst) {
                return Err(DirectoryError::Refused("search: 11 administrative limit exceeded".into()));
            }
            self.answer(vec![person("jd", "jean@example.org")].into_iter().take(limit).collect()).await
        })
    }
    fn probe(&self) -> BoxFuture<'_, Result<(), DirectoryError>> {
        Box::pin(async move { self.answer(()).await })
    }
    fn reset(&self) {
        self.resets.fetch_add(1, Ordering::SeqCst);
    }
}

fn config() -> Config {
    let mut c = Config::default();
    c.mail.internal_domains = vec!["example.org".into()];
    c
}

fn service(fake: &Arc<Fake>, tweak: impl FnOnce(&mut Config)) -> DirectoryService {
    let mut c = config();
    tweak(&mut c);
    DirectoryService::new(Some(fake.clone() as Arc<dyn Directory>), &c)
}

#[tokio::test]
async fn answers_found_or_not_are_cached() {
    let fake = Arc::new(Fake::default());
    let d = service(&fake, |_| {});
    assert_eq!(d.person_by_uid("jd").await.unwrap().unwrap().mail, "jean@example.org");
    assert_eq!(d.person_by_uid("nobody").await, Ok(None));
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    assert!(d.person_by_uid("jd").await.unwrap().is_some());
    assert_eq!(d.person_by_uid("nobody").await, Ok(None));
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2, "both answers came from the cache");
    // Without caching, every look-up asks.
    let d = service(&fake, |c| c.directory.cache_seconds = 0);
    d.person_by_uid("nobody").await.unwrap();
    d.person_by_uid("nobody").await.unwrap();
    assert_eq!(fake.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let fake = Arc::new(Fake::default());
    let d = service(&fake, |c| c.directory.cache_entries = 2);
    for uid in ["a", "b", "c"] {
        d.person_by_uid(uid).await.unwrap();
    }
    assert_eq!(d.cache.lock().unwrap().len(), 2);
    d.person_by_uid("a").await.unwrap();
    assert_eq!(fake.calls.load(Ordering::SeqCst), 4, "the oldest answer was dropped");
}

#[tokio::test]
async fn a_failure_is_not_retried_at_once_and_stale_answers_still_count() {
    let fake = Arc::new(Fake::default());
    // Answers expire at once, but are kept for when the directory fails.
    let d = service(&fake, |c| c.directory.cache_seconds = 0);
    assert_eq!(d.is_editor("jd").await, Ok(true));
    fake.down.store(true, Ordering::SeqCst);
    // cache_seconds = 0 keeps nothing: nothing stale either.
    assert!(d.is_editor("jd").await.is_err());
    let calls = fake.calls.load(Ordering::SeqCst);
    assert_eq!(d.is_editor("jd").await, Err(DirectoryError::Down), "not asked again within RETRY_AFTER");
    assert_eq!(fake.calls.load(Ordering::SeqCst), calls);
    assert_eq!(d.status().await, Status::Down);
    assert!(d.is_internal("someone@example.org").await, "the domain rule still holds");
    assert!(!d.is_internal("other-alias@lab.example.net").await);

    let fake = Arc::new(Fake::default());
    let d = service(&fake, |_| {});
    assert_eq!(d.is_editor("jd").await, Ok(true));
    // Make the held answer stale, then fail: the stale answer is used.
    if let Some((at, _)) = d.cache.lock().unwrap().get_mut(&Key::Editor("jd".into())) {
        *at -= Duration::from_secs(3600);
    }
    fake.down.store(true, Ordering::SeqCst);
    assert_eq!(d.is_editor("jd").await, Ok(true));
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2, "asked, failed, fell back");
}

#[tokio::test]
async fn a_refusal_fails_that_look_up_only() {
    let fake = Arc::new(Fake::default());
    let d = service(&fake, |_| {});
    fake.refuse_search.store(true, Ordering::SeqCst);
    assert!(matches!(d.search("ma").await, Err(DirectoryError::Refused(_))));
    // The server answered: it is up, and the next look-ups are asked.
    assert_eq!(d.status().await, Status::Up);
    assert_eq!(d.is_editor("jd").await, Ok(true));
    assert!(matches!(d.search("ma").await, Err(DirectoryError::Refused(_))), "not `Down`");
    assert_eq!(fake.resets.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_timeout_resets_the_connection_and_marks_the_directory_down() {
    let fake = Arc::new(Fake::default());
    let d = service(&fake, |c| c.directory.timeout_seconds = 1);
    fake.hang.store(true, Ordering::SeqCst);
    assert_eq!(d.person_by_uid("jd").await, Err(DirectoryError::Timeout));
    assert_eq!(fake.resets.load(Ordering::SeqCst), 1);
    assert_eq!(d.status().await, Status::Down);
    // The bound around a booking's look-ups counts too, whichever bound fires first.
    let fake = Arc::new(Fake::default());
    let d = service(&fake, |c| c.directory.timeout_seconds = 1);
    fake.hang.store(true, Ordering::SeqCst);
    let r = d.resolve(&raw("alias@example.org", "")).await;
    assert!(r.unavailable);
    assert!(fake.resets.load(Ordering::SeqCst) >= 1);
    assert_eq!(d.status().await, Status::Down);
}

fn raw(moderators: &str, guests: &str) -> RawMeeting {
    RawMeeting {
        subject: "s".into(),
        start: RawStart::Rfc3339("2026-12-05T09:00:00Z".into()),
        duration: "60".into(),
        moderators: vec![moderators.into()],
        guests: vec![guests.into()],
    }
}

#[tokio::test]
async fn validation_applies_aliases_lists_and_groups_before_the_limits() {
    let fake = Arc::new(Fake::default());
    let dir = crate::db::tempdir::TempDirGuard::new().unwrap();
    let lists = dir.path().join("lists");
    std::fs::write(&lists, "list@example.org c@x.org\nlist@example.org owner@example.org\n").unwrap();
    let d = service(&fake, |c| {
        c.booking.max_moderators = 1;
        c.booking.max_guests = 3;
        c.directory.lists_file = Some(lists.clone());
        // Nothing cached: the directory going down below is felt at once.
        c.directory.cache_seconds = 0;
    });
    let c = config();
    let mut limits = c.booking.clone();
    limits.max_moderators = 1;
    limits.max_guests = 3;
    let now = "2026-12-01T08:00:00Z".parse().unwrap();
    let ctx = || Context {
        limits: &limits,
        now,
        tz: chrono_tz::Europe::Paris,
        owner_mail: "owner@example.org",
        resolution: None,
    };
    // Two aliases of one person: one moderator. A group and a list: their members, the owner out.
    let v = d
        .validate(&raw("alias@example.org, other-alias@lab.example.net", "group@example.org list@example.org"), ctx())
        .await
        .unwrap();
    assert_eq!(v.moderators.iter().map(|i| i.mail.as_str()).collect::<Vec<_>>(), ["jean@example.org"]);
    assert_eq!(v.guests.iter().map(|i| i.mail.as_str()).collect::<Vec<_>>(), ["a@x.org", "b@x.org", "c@x.org"]);
    // One more guest: the limit counts members.
    let errors = d.validate(&raw("", "group@example.org list@example.org d@x.org"), ctx()).await.unwrap_err();
    assert!(errors.0.iter().any(|(_, e)| *e == FieldError::TooManyGuests { count: 4, max: 3 }), "{errors:?}");
    // Directory down: addresses as typed (two moderators, over the limit), the file still applies.
    fake.down.store(true, Ordering::SeqCst);
    let r = d.resolve(&raw("alias@example.org, other-alias@lab.example.net", "list@example.org")).await;
    assert!(r.unavailable && r.primary.is_empty());
    assert_eq!(r.lists["list@example.org"], ["c@x.org", "owner@example.org"]);
    let errors =
        d.validate(&raw("alias@example.org, other-alias@lab.example.net", "g@x.org"), ctx()).await.unwrap_err();
    assert!(errors.0.iter().any(|(_, e)| matches!(e, FieldError::TooManyModerators { count: 2, .. })));
}

#[tokio::test]
async fn without_a_directory_nothing_is_asked() {
    let d = DirectoryService::new(None, &config());
    assert!(!d.enabled());
    assert_eq!(d.status().await, Status::Off);
    assert!(d.is_internal("a@example.org").await);
    assert!(!d.is_internal("a@lab.example.net").await);
    assert_eq!(d.resolve(&raw("a@x.org", "b@x.org")).await, Resolution::default());
}
