//! An in-memory [`CalendarBackend`] for tests, examples and client-interop runs. It keeps a
//! change log per calendar exactly as the SQLite backend is meant to (counter bumped per change,
//! `(name, counter)` recorded, old tokens refused after pruning), so it doubles as a reference
//! for the real implementation.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::{
    BackendError, BoxFuture, CalObject, CalendarBackend, CalendarState, Changes, Principal, SyncError, TimeRange,
};
use crate::ics::{self, CalendarInfo, Event};

#[derive(Default)]
struct Calendar {
    ctag: i64,
    objects: BTreeMap<String, (CalObject, Event)>,
    /// `(counter, object name)` for every change, in counter order.
    log: Vec<(i64, String)>,
    /// Tokens below this counter are no longer answerable.
    oldest_token: i64,
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, (String, Principal)>,
    calendars: HashMap<String, Calendar>,
}

/// Users, passwords and calendars held in memory.
pub struct MemoryBackend {
    inner: Mutex<Inner>,
    info: CalendarInfo,
    now: DateTime<Utc>,
}

impl MemoryBackend {
    /// `now` decides which alarms are rendered (kept fixed so test output is stable).
    pub fn new(info: CalendarInfo, now: DateTime<Utc>) -> Self {
        MemoryBackend { inner: Mutex::new(Inner::default()), info, now }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters for a test fake: keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add_user(&self, uid: &str, mail: &str, display_name: &str, password: &str) {
        let principal = Principal { uid: uid.to_owned(), mail: mail.to_owned(), display_name: display_name.to_owned() };
        let mut inner = self.lock();
        inner.users.insert(uid.to_owned(), (password.to_owned(), principal));
        inner.calendars.entry(uid.to_owned()).or_default();
    }

    /// Inserts or replaces an event in `uid`'s calendar; returns its object name.
    ///
    /// It counts in the user's free-busy time as the SQLite backend counts it: free when cancelled or
    /// declined (the user's address among the attendees), busy when accepted or when the user is not
    /// an attendee (the organiser), tentative otherwise (not answered yet).
    pub fn put_event(&self, uid: &str, event: Event) -> String {
        let body = ics::render_resource(&self.info.prodid, &event, self.now);
        let name = ics::object_name_for_uid(&event.uid);
        let mut inner = self.lock();
        let mail = inner.users.get(uid).map(|(_, p)| p.mail.clone()).unwrap_or_default();
        let busy = match event.attendees.iter().find(|a| !mail.is_empty() && a.person.mail == mail) {
            _ if event.status == ics::EventStatus::Cancelled => None,
            Some(a) if a.partstat == ics::PartStat::Declined => None,
            Some(a) if a.partstat == ics::PartStat::Accepted => Some(ics::BusyKind::Busy),
            // Not answered (or any answer short of a yes): it may still be declined.
            Some(_) => Some(ics::BusyKind::Tentative),
            None => Some(ics::BusyKind::Busy),
        };
        let obj = CalObject::new(name.clone(), body, event.last_modified, event.start, event.end, busy);
        let cal = inner.calendars.entry(uid.to_owned()).or_default();
        cal.ctag += 1;
        let ctag = cal.ctag;
        cal.log.push((ctag, name.clone()));
        cal.objects.insert(name.clone(), (obj, event));
        name
    }

    /// Removes an object; returns whether it existed.
    pub fn remove(&self, uid: &str, name: &str) -> bool {
        let mut inner = self.lock();
        let Some(cal) = inner.calendars.get_mut(uid) else {
            return false;
        };
        if cal.objects.remove(name).is_none() {
            return false;
        }
        cal.ctag += 1;
        let ctag = cal.ctag;
        cal.log.push((ctag, name.to_owned()));
        true
    }

    /// Forgets the change log: every token issued so far becomes invalid.
    pub fn prune_log(&self, uid: &str) {
        let mut inner = self.lock();
        if let Some(cal) = inner.calendars.get_mut(uid) {
            cal.log.clear();
            cal.oldest_token = cal.ctag;
        }
    }
}

impl CalendarBackend for MemoryBackend {
    fn authenticate<'a>(
        &'a self,
        user: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Option<Principal>, BackendError>> {
        Box::pin(async move {
            let inner = self.lock();
            Ok(inner.users.get(user).filter(|(pw, _)| pw == password).map(|(_, p)| p.clone()))
        })
    }

    fn state<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<CalendarState, BackendError>> {
        Box::pin(async move {
            let inner = self.lock();
            let ctag = inner.calendars.get(uid).map_or(0, |c| c.ctag);
            // The fake's content changes only with its counter.
            Ok(CalendarState { ctag, generation: ctag as u64 })
        })
    }

    fn objects<'a>(
        &'a self,
        uid: &'a str,
        range: Option<TimeRange>,
    ) -> BoxFuture<'a, Result<Vec<CalObject>, BackendError>> {
        Box::pin(async move {
            let inner = self.lock();
            let Some(cal) = inner.calendars.get(uid) else {
                return Ok(Vec::new());
            };
            Ok(cal
                .objects
                .values()
                .map(|(o, _)| o)
                .filter(|o| match range {
                    None => true,
                    // RFC 4791 §9.9 for events with a DTEND.
                    Some((start, end)) => start.is_none_or(|s| s < o.end) && end.is_none_or(|e| e > o.start),
                })
                .cloned()
                .collect())
        })
    }

    fn object<'a>(&'a self, uid: &'a str, name: &'a str) -> BoxFuture<'a, Result<Option<CalObject>, BackendError>> {
        Box::pin(async move {
            let inner = self.lock();
            Ok(inner.calendars.get(uid).and_then(|c| c.objects.get(name)).map(|(o, _)| o.clone()))
        })
    }

    fn changes_since<'a>(
        &'a self,
        uid: &'a str,
        ctag: i64,
        limit: Option<usize>,
    ) -> BoxFuture<'a, Result<Result<Changes, SyncError>, BackendError>> {
        Box::pin(async move {
            let inner = self.lock();
            let Some(cal) = inner.calendars.get(uid) else {
                return Ok(Err(SyncError::InvalidToken));
            };
            if ctag < cal.oldest_token || ctag > cal.ctag {
                return Ok(Err(SyncError::InvalidToken));
            }
            // The log is in counter order: start at the first entry after the token. Each object
            // counts at its latest change; oldest first.
            let from = cal.log.partition_point(|(n, _)| *n <= ctag);
            let mut latest: HashMap<&str, i64> = HashMap::new();
            for (n, name) in &cal.log[from..] {
                latest.insert(name.as_str(), *n);
            }
            let mut ordered: Vec<(i64, &str)> = latest.into_iter().map(|(name, n)| (n, name)).collect();
            ordered.sort_unstable();
            let truncated = limit.is_some_and(|l| ordered.len() > l);
            let mut new_ctag = cal.ctag;
            if let Some(l) = limit
                && truncated
            {
                ordered.truncate(l);
                new_ctag = ordered.last().map_or(ctag, |(n, _)| *n);
            }
            let mut changes = Changes { changed: Vec::new(), removed: Vec::new(), ctag: new_ctag, truncated };
            for (_, name) in ordered {
                match cal.objects.get(name) {
                    Some((o, _)) => changes.changed.push(o.clone()),
                    None => changes.removed.push(name.to_owned()),
                }
            }
            Ok(Ok(changes))
        })
    }

    fn calendar_ics<'a>(&'a self, uid: &'a str) -> BoxFuture<'a, Result<String, BackendError>> {
        Box::pin(async move {
            let events: Vec<Event> = {
                let inner = self.lock();
                inner
                    .calendars
                    .get(uid)
                    .map(|c| c.objects.values().map(|(_, e)| e.clone()).collect())
                    .unwrap_or_default()
            };
            Ok(ics::render_feed(&self.info, &events, self.now))
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

/// Demo data: users `alice` (password `alice-app-password`, three meetings in December 2026,
/// one with a hostile subject) and `bob` (`bob-app-password`, one meeting).
pub fn demo(now: DateTime<Utc>) -> MemoryBackend {
    use crate::ics::{AttendeeRole, EventAttendee, EventStatus, PartStat, Person};
    use chrono::TimeZone;

    let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).single().unwrap_or_default();
    let backend = MemoryBackend::new(
        CalendarInfo {
            prodid: "-//Example Org//jmb//FR".into(),
            name: "Réunions Jitsi".into(),
            description: "Mes réunions".into(),
            refresh_minutes: 60,
            time_zone: "Europe/Paris".into(),
        },
        now,
    );
    backend.add_user("alice", "alice@example.org", "Alice Martin", "alice-app-password");
    backend.add_user("bob", "bob@example.net", "Bob", "bob-app-password");
    let event = |id: u32, summary: &str, start: DateTime<Utc>, hours: i64| Event {
        uid: format!("{id}@meet.example.org"),
        sequence: 0,
        summary: summary.to_owned(),
        description: format!("Rejoindre : https://meet.example.org/join.cgi?id=h{id}"),
        start,
        end: start + chrono::Duration::hours(hours),
        created: at(1, 8),
        last_modified: at(1, 9),
        status: EventStatus::Confirmed,
        join_url: format!("https://meet.example.org/join.cgi?id=h{id}"),
        organizer: Person { mail: "alice@example.org".into(), name: "Alice Martin".into() },
        attendees: vec![EventAttendee {
            person: Person { mail: "bob@example.net".into(), name: "Doe, \"Bob\"".into() },
            role: AttendeeRole::Participant,
            partstat: PartStat::NeedsAction,
        }],
        alarm_minutes_before: vec![10],
    };
    backend.put_event("alice", event(1, "Réunion d'équipe", at(5, 9), 1));
    backend.put_event(
        "alice",
        event(2, "l'équipe, \"quoted\"; semi; <script>&amp;</script>\nnew line ]]> 😀", at(6, 14), 2),
    );
    backend.put_event("alice", event(3, "Bilan", at(20, 10), 1));
    backend.put_event("bob", event(4, "Bob only", at(5, 9), 1));
    backend
}
