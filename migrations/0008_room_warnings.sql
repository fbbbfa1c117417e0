-- Warnings posted into a meeting's chat room before it ends (`[xmpp]`, see src/room_warnings.rs), one row
-- per meeting and offset, written when the meeting is booked or moved, dropped with the meeting.
CREATE TABLE room_warnings (
    id               INTEGER PRIMARY KEY,
    meeting_id       TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    minutes_before   INTEGER NOT NULL CHECK (minutes_before >= 0),
    due_at           INTEGER NOT NULL,
    -- When the sender may (next) try: `due_at` at first; pushed forward before each attempt (a claim,
    -- so two processes never post the same warning) and after a failure (the back-off).
    next_attempt_at  INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- The last transient failure, for `jmb` operators (never a secret).
    last_error       TEXT,
    done_at          INTEGER,
    -- sent: posted; not-running: the room did not exist (nobody there), skipped; missed: superseded by a
    -- later offset or too late; failed: refused for good, or still failing after the meeting's end.
    outcome          TEXT CHECK (outcome IN ('sent', 'not-running', 'missed', 'failed')),
    UNIQUE (meeting_id, minutes_before)
) STRICT;
CREATE INDEX room_warnings_pending ON room_warnings (next_attempt_at) WHERE done_at IS NULL;
