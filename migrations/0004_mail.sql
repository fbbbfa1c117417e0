-- Mail: the outbox (every mail jmb sends, written in the transaction of the change that causes it, then
-- handed to the mail server by a worker), reminders before meetings, and each user's language for mails.

-- The meetings mails are about, as they were when the change happened (JSON: the meeting and all its
-- attendees). A change stores one and queues small rows that point at it; the worker writes each mail
-- from it just before sending, so a booking never waits for mails to be composed, and a cancellation
-- still describes a meeting that has gone.
CREATE TABLE outbox_snapshots (
    id       INTEGER PRIMARY KEY,
    meeting  TEXT NOT NULL
) STRICT;

CREATE TABLE outbox (
    -- Never reused (the hand-over journal names rows by id).
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    -- invitation, update, cancellation, owner-created, owner-updated, owner-deleted, answer, reminder
    kind             TEXT NOT NULL,
    -- The meeting it is about; no foreign key: cancellations outlive their meeting.
    meeting_id       TEXT,
    -- Whose booking caused it (the per-owner limit counts these); NULL for reminders.
    owner_uid        TEXT,
    -- `<…@host>`: unique, so a mail is never queued twice and a receiver can tell duplicates.
    message_id       TEXT NOT NULL UNIQUE,
    envelope_from    TEXT NOT NULL,
    -- Envelope recipients, one per line.
    recipients       TEXT NOT NULL,
    subject          TEXT NOT NULL,
    snapshot_id      INTEGER NOT NULL REFERENCES outbox_snapshots (id),
    -- The attendee row the mail is about (whose answer, whose invitation); no foreign key: it may go.
    about_attendee   INTEGER,
    -- What to write to whom (JSON, read by `mail::letters`).
    notice           TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    -- When it was queued or requeued (`jmb outbox retry`): `mail.give_up_after_hours` counts from here.
    queued_at        INTEGER NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    sent_at          INTEGER
) STRICT;
CREATE INDEX outbox_by_snapshot ON outbox (snapshot_id);
-- Answer mails per attendee and hour (the organiser is not flooded by someone flipping their answer).
CREATE INDEX outbox_answers ON outbox (about_attendee, created_at) WHERE kind = 'answer';
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
-- Covers the per-owner hourly count (owner, time, kind) without reading the rows.
CREATE INDEX outbox_by_owner ON outbox (owner_uid, created_at, kind);
CREATE INDEX outbox_by_status ON outbox (status, created_at);

-- One row per reminder of a meeting; `done_at` is set when it was sent or dropped (missed).
CREATE TABLE reminders (
    id              INTEGER PRIMARY KEY,
    meeting_id      TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    minutes_before  INTEGER NOT NULL CHECK (minutes_before >= 0),
    due_at          INTEGER NOT NULL,
    done_at         INTEGER,
    outcome         TEXT CHECK (outcome IN ('sent', 'missed')),
    UNIQUE (meeting_id, minutes_before)
) STRICT;
CREATE INDEX reminders_due ON reminders (due_at) WHERE done_at IS NULL;

-- The language a signed-in user chose (mails to them use it); NULL: the site's default.
ALTER TABLE users ADD COLUMN lang TEXT CHECK (lang IN ('fr', 'en'));
