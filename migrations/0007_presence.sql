-- Presence: who was actually in each meeting's room and when, from Prosody's event_sync webhooks.
-- One row per stay of one XMPP connection in one room of a meeting (the main room, or a breakout room):
-- minutes present are the union of a participant's stays, so a breakout move or two devices at once
-- never count twice. Rows go with their meeting (retention, deletion).
CREATE TABLE presence_sessions (
    id            INTEGER PRIMARY KEY,
    meeting_id    TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    -- The invitation the occupant was matched to (token identity or address); NULL: not invited, or
    -- anonymous (a guest without token), or an invitation removed since.
    attendee_id   INTEGER REFERENCES attendees (id) ON DELETE SET NULL,
    -- Who, for the union of stays: `a:<attendee id>`, `u:<token user id>`, `m:<mail>` or `j:<bare jid>`.
    participant   TEXT NOT NULL CHECK (participant <> ''),
    -- '' for the main room, else the breakout room's id.
    room          TEXT NOT NULL DEFAULT '',
    -- The occupant's real full JID (one connection).
    occupant_jid  TEXT NOT NULL,
    -- What the token said, for participants not matched to an invitation.
    name          TEXT NOT NULL DEFAULT '',
    mail          TEXT NOT NULL DEFAULT '',
    joined_at     INTEGER NOT NULL,
    left_at       INTEGER CHECK (left_at IS NULL OR left_at >= joined_at),
    -- A stay is recorded once however often Prosody sends (or resends) it.
    UNIQUE (meeting_id, occupant_jid, room, joined_at)
) STRICT;
-- Who is in a meeting now (the list's count): the open stays of the listed meetings.
CREATE INDEX presence_open ON presence_sessions (meeting_id, participant) WHERE left_at IS NULL;
