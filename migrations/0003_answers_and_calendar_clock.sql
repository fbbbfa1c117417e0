-- Tentative answers (partstat 3, beside the original's 0, 1, 2), when each calendar last changed (the
-- feed's Last-Modified), an index for the calendar clock (alarms passing), and the state of background
-- jobs. SQLite cannot alter a CHECK constraint: the attendees table is rebuilt with the same rows.

CREATE TABLE attendees_new (
    id             INTEGER PRIMARY KEY,
    meeting_id     TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'moderator', 'guest')),
    mail           TEXT NOT NULL CHECK (mail <> '' AND mail = lower(mail)),
    name           TEXT NOT NULL DEFAULT '',
    -- Personal link secret (join and RSVP).
    token          TEXT NOT NULL UNIQUE CHECK (length(token) >= 16),
    -- Legacy codes 0 NEEDS-ACTION, 1 ACCEPTED, 2 DECLINED; jmb's 3 TENTATIVE.
    partstat       INTEGER NOT NULL DEFAULT 0 CHECK (partstat IN (0, 1, 2, 3)),
    answered_at    INTEGER,
    join_count     INTEGER NOT NULL DEFAULT 0 CHECK (join_count >= 0),
    first_join_at  INTEGER,
    last_join_at   INTEGER,
    created_at     INTEGER NOT NULL,
    UNIQUE (meeting_id, mail)
) STRICT;
INSERT INTO attendees_new SELECT id, meeting_id, role, mail, name, token, partstat, answered_at, join_count,
                                 first_join_at, last_join_at, created_at FROM attendees;
DROP TABLE attendees;
ALTER TABLE attendees_new RENAME TO attendees;
CREATE INDEX attendees_by_mail ON attendees (mail, meeting_id);
CREATE UNIQUE INDEX attendees_one_owner ON attendees (meeting_id) WHERE role = 'owner';
CREATE INDEX attendees_by_meeting ON attendees (meeting_id);

-- When the calendar's content last changed (a booking change, an answer, an alarm passing, a meeting
-- leaving the window, a reset): the feed's Last-Modified never goes backwards.
ALTER TABLE calendar_state ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;

CREATE INDEX meetings_by_start ON meetings (start_at);

-- Where each background job got to (`calendar-clock`: the instant up to which passing alarms and
-- window exits were recorded in the change log).
CREATE TABLE job_state (
    name   TEXT PRIMARY KEY NOT NULL,
    value  INTEGER NOT NULL
) STRICT;
