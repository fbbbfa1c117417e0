-- Site scale: a calendar shows the invitations of meetings that end after a bound (`calendar.past_days`
-- ago). Filtering on the meeting's end made every invitation a user ever had, archives included, cost a
-- look-up in `meetings`; each invitation now carries its meeting's end, kept by the triggers below, and
-- the address index is ordered by it, so a calendar reads one contiguous range of the index: its own
-- events, whatever the history.
ALTER TABLE attendees ADD COLUMN end_at INTEGER;
UPDATE attendees SET end_at = (SELECT m.end_at FROM meetings m WHERE m.id = attendees.meeting_id);
DROP INDEX attendees_by_mail;
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

-- The stored part of an event also carries the meeting's identifiers and times, so that a calendar needs
-- nothing from `meetings` for the events it is invited to. Empty in rows of the previous format, which
-- are rendered again (src/calendar/renderings.rs).
ALTER TABLE event_renderings ADD COLUMN ical_uid TEXT;
ALTER TABLE event_renderings ADD COLUMN room TEXT;
ALTER TABLE event_renderings ADD COLUMN start_at INTEGER;
ALTER TABLE event_renderings ADD COLUMN end_at INTEGER;
