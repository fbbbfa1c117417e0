//! Mail, below the HTTP edge: invitations, updates, cancellations (with iMIP parts), confirmations to
//! the owner, answers to the organiser and reminders, in the recipient's language. Who gets what is
//! queued in the outbox ([`crate::outbox`]) inside the transaction of the booking change that causes it;
//! the outbox worker has each mail written just before sending it.
//!
//! * [`notify`] is the hook that decides who gets what when a booking changes;
//! * [`reminders`] schedules reminders (another hook) and queues them when due;
//! * [`letters`] says what each kind of mail says, from the meeting as the change left it;
//! * [`compose`] builds one message (headers, text and HTML bodies, the iTIP part).

pub mod compose;
pub mod letters;
pub mod notify;
pub mod reminders;

pub use compose::MailSettings;
