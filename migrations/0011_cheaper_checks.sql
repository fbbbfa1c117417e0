-- Site scale: the same constraints, written so that checking them costs a comparison. SQLite evaluates
-- `x IN (a, b, c)` with three or more constants by building a temporary B-tree of the list on every
-- row written: two of them per invitation (role, answer) and one per queued mail (status), about a
-- tenth of a booking's time in the writer (examples/booking_stages.rs). SQLite cannot alter a CHECK
-- constraint, so both tables are rebuilt with the same columns, rows, ids, indexes and triggers.

-- The trigger on meetings names attendees: it goes while the table is swapped, and comes back. Dropped
-- first, so that the migration holds the write lock before it reads anything (a jmb still running
-- cannot commit in between and make it fail instead of wait).
DROP TRIGGER attendees_end_on_move;

-- Stays in meetings point at invitations (ON DELETE SET NULL). Migrations run with foreign keys on, so
-- dropping the old table deletes its rows one by one and clears the stays that point at them: each
-- deletion looks its stays up by this index (without it, a scan of every stay per invitation), and the
-- links are noted first and put back once the rebuilt table holds the same ids. The index stays:
-- removing an invitation or a meeting finds its stays the same way.
CREATE INDEX presence_by_attendee ON presence_sessions (attendee_id) WHERE attendee_id IS NOT NULL;
CREATE TEMP TABLE presence_links (id INTEGER PRIMARY KEY, attendee_id INTEGER NOT NULL);
INSERT INTO presence_links (id, attendee_id)
    SELECT id, attendee_id FROM presence_sessions WHERE attendee_id IS NOT NULL;

CREATE TABLE attendees_new (
    id             INTEGER PRIMARY KEY,
    meeting_id     TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    role           TEXT NOT NULL CHECK (role = 'owner' OR role = 'moderator' OR role = 'guest'),
    mail           TEXT NOT NULL CHECK (mail <> '' AND mail = lower(mail)),
    name           TEXT NOT NULL DEFAULT '',
    -- Personal link secret (join and RSVP).
    token          TEXT NOT NULL UNIQUE CHECK (length(token) >= 16),
    -- Legacy codes 0 NEEDS-ACTION, 1 ACCEPTED, 2 DECLINED; jmb's 3 TENTATIVE.
    partstat       INTEGER NOT NULL DEFAULT 0 CHECK (partstat BETWEEN 0 AND 3),
    answered_at    INTEGER,
    join_count     INTEGER NOT NULL DEFAULT 0 CHECK (join_count >= 0),
    first_join_at  INTEGER,
    last_join_at   INTEGER,
    created_at     INTEGER NOT NULL,
    -- A note left with the answer (0006).
    note           TEXT NOT NULL DEFAULT '',
    -- The meeting's end, kept by the triggers below (0010).
    end_at         INTEGER,
    UNIQUE (meeting_id, mail)
) STRICT;
INSERT INTO attendees_new (id, meeting_id, role, mail, name, token, partstat, answered_at, join_count,
                           first_join_at, last_join_at, created_at, note, end_at)
    SELECT id, meeting_id, role, mail, name, token, partstat, answered_at, join_count,
           first_join_at, last_join_at, created_at, note, end_at
    FROM attendees;
DROP TABLE attendees;
ALTER TABLE attendees_new RENAME TO attendees;
-- At most one owner per meeting.
CREATE UNIQUE INDEX attendees_one_owner ON attendees (meeting_id) WHERE role = 'owner';
-- A calendar's invitations: one range of the index, bounded by the end (0010).
CREATE INDEX attendees_by_mail ON attendees (mail, end_at, meeting_id, role, partstat, token);
-- jmb's own inserts give the end; any other writer (a manual fix, an older tool) gets it filled in.
CREATE TRIGGER attendees_end_on_insert AFTER INSERT ON attendees WHEN NEW.end_at IS NULL
BEGIN
    UPDATE attendees SET end_at = (SELECT m.end_at FROM meetings m WHERE m.id = NEW.meeting_id) WHERE id = NEW.id;
END;
-- A meeting moved moves its invitations.
CREATE TRIGGER attendees_end_on_move AFTER UPDATE OF end_at ON meetings WHEN NEW.end_at IS NOT OLD.end_at
BEGIN
    UPDATE attendees SET end_at = NEW.end_at WHERE meeting_id = NEW.id;
END;
-- Only links to invitations that exist: one to an invitation removed by hand with foreign keys off was
-- not cleared by the drop, and is left as it was.
UPDATE presence_sessions
    SET attendee_id = (SELECT l.attendee_id FROM presence_links l WHERE l.id = presence_sessions.id)
    WHERE id IN (SELECT l.id FROM presence_links l JOIN attendees a ON a.id = l.attendee_id);
DROP TABLE presence_links;

CREATE TABLE outbox_new (
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
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status = 'pending' OR status = 'sent' OR status = 'failed'),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    sent_at          INTEGER
) STRICT;
INSERT INTO outbox_new (id, kind, meeting_id, owner_uid, message_id, envelope_from, recipients, subject,
                        snapshot_id, about_attendee, notice, created_at, queued_at, status, attempts,
                        next_attempt_at, last_error, sent_at)
    SELECT id, kind, meeting_id, owner_uid, message_id, envelope_from, recipients, subject,
           snapshot_id, about_attendee, notice, created_at, queued_at, status, attempts,
           next_attempt_at, last_error, sent_at
    FROM outbox;
-- Ids are never reused, even those of rows pruned since: the new table counts on from the old one.
UPDATE sqlite_sequence SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'outbox'))
    WHERE name = 'outbox_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'outbox_new', seq FROM sqlite_sequence
    WHERE name = 'outbox' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox_new');
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_by_snapshot ON outbox (snapshot_id);
-- Answer mails per attendee and hour (the organiser is not flooded by someone flipping their answer).
CREATE INDEX outbox_answers ON outbox (about_attendee, created_at) WHERE kind = 'answer';
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
-- Covers the per-owner hourly count (owner, time, kind) without reading the rows.
CREATE INDEX outbox_by_owner ON outbox (owner_uid, created_at, kind);
CREATE INDEX outbox_by_status ON outbox (status, created_at);
