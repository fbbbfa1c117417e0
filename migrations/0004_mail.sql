-- Mail: the outbox (every mail jmb sends, written in the transaction of the change that causes it, then
-- handed to the mail server by a worker), reminders before meetings, and each user's language for mails.

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
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
    created_at       INTEGER NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    sent_at          INTEGER
) STRICT;
-- The bytes of each mail, apart from its state: marking a batch sent rewrites small rows, not the
-- messages (SQLite rewrites a whole row, overflow pages included, on any update).
CREATE TABLE outbox_messages (
    id         INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    -- The plain-text body, for listings and the demo mailbox.
    body_text  TEXT NOT NULL,
    -- The whole RFC 5322 message, exactly as handed to the server.
    message    BLOB NOT NULL
) STRICT;

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
