-- A note an invitee leaves for the organiser with their answer ("I will be 10 minutes late"), shown on
-- the attendee-tracking page. Empty when none.
ALTER TABLE attendees ADD COLUMN note TEXT NOT NULL DEFAULT '';
