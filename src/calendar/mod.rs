//! Calendar access, below the HTTP edge: every meeting is a calendar event, and each user sees theirs,
//! with every attendee's answer, in a per-user iCal feed and a read-only CalDAV calendar.
//!
//! * [`event`] maps a meeting to the event one viewer sees (feed, CalDAV and mails use it);
//! * [`changes`] keeps the change log behind `getctag` and `sync-collection`, written by a hook inside
//!   the booking operations' transactions, so a calendar version never runs ahead of the data;
//! * [`renderings`] keeps each meeting's event lines that every viewer sees alike, rendered once per
//!   change by a hook, so a calendar reads one row per event;
//! * [`clock`] records in that log what time changes (alarms passing, meetings leaving the window);
//! * [`store`] renders a user's calendar (through [`crate::ics`]), keeps it in memory while it is
//!   current (those in steady use: see [`crate::cache::ByteLru::scan_resistant`]), and implements
//!   [`crate::caldav::CalendarBackend`];
//! * [`disk`] keeps every user's latest rendering on disk, for the polls that find it gone from memory.
//!
//! The HTTP side (the feed route, the access page, mounting CalDAV) lives in the edge.

pub mod changes;
pub mod clock;
pub mod disk;
pub mod event;
pub mod renderings;
pub mod store;
