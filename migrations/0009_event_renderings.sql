-- Site scale: the part of each meeting's calendar event that every viewer sees alike (iCalendar lines from
-- UID to the last ATTENDEE), rendered whenever the meeting or an answer changes, so that a calendar reads
-- one row per event instead of every attendee of every event. A cache of `meetings` and `attendees`: a
-- missing row, or one of an older `format`, is rendered from them (see src/calendar/renderings.rs), which
-- is also how the meetings stored before this migration are served until the background fill reaches them.
CREATE TABLE event_renderings (
    meeting_id  TEXT PRIMARY KEY NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    format      INTEGER NOT NULL,
    shared      TEXT NOT NULL,
    alarm_text  TEXT NOT NULL,
    changed_at  INTEGER NOT NULL
) STRICT;

-- A calendar finds the viewer's invitations by address and needs only their role, answer and token: the
-- index on the address carries them, so reading a calendar no longer visits one attendees row (a random
-- page) per event. Lists use the same index by its first two columns, as before.
DROP INDEX attendees_by_mail;
CREATE INDEX attendees_by_mail ON attendees (mail, meeting_id, role, partstat, token);
