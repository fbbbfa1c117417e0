//! Mail, below the HTTP edge: invitations, updates, cancellations (with iMIP parts), confirmations to
//! the owner, answers to the organiser and reminders, composed in the recipient's language and queued in
//! the outbox ([`crate::outbox`]) inside the transaction of the booking change that causes them.
//!
//! * [`compose`] builds one message (headers, text and HTML bodies, the iTIP part);
//! * [`notify`] is the hook that decides who gets what when a booking changes;
//! * [`reminders`] schedules reminders (another hook) and sends them when due.

pub mod compose;
pub mod notify;
pub mod reminders;

pub use compose::MailSettings;
