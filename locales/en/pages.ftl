# jmb: English catalogue of the booking pages (list, form, attendee tracking). Keep the keys in step
# with fr/pages.ftl; shared words (fields, roles, answers) live in main.ftl.

## Meeting states (list colours are also given as text)
state-planned = Planned
state-joinable = Open
state-ongoing = Ongoing
state-finished = Finished

## Actions
action-start = Start
action-join = Join
action-accept = Accept
action-decline = Decline
action-tentative = Maybe
action-edit = Edit
action-attendees = Attendees
action-delete = Delete
action-refresh = Refresh the page
action-duplicate = Duplicate
home-search-title = Search my meetings
home-search-label = Subject or attendee
home-show-label = Show
home-show-all = All
home-show-upcoming = Upcoming
home-show-running = Running
home-show-past = Finished
home-filter = Filter
home-filter-clear = Show all
home-found-none = No meeting found.
home-found-one = 1 meeting found.
home-found-many = { $count } meetings found.
home-found-archives-cut = Only the { $count } most recent past meetings were searched.
home-none-found = No meeting matches.
attendees-invitation-title = Copy the invitation
attendees-invitation-label = A text ready to paste into a mail or a chat:
attendees-invitation-intro = Video meeting “{ $subject }”
attendees-invitation-organiser = Organised by { $organiser }
attendees-invitation-join = Join: { $url }
attendees-invitation-lobby = Guests wait in the room until a moderator lets them in.
action-copy = Copy
action-open-private-room = Open my room
action-previous = Previous page
action-next = Next page
action-back = Back to the list

## List
field-participants = Attendees
field-state = State
field-actions = Actions
home-upcoming = Upcoming meetings
home-legend = States:
home-participants-detail = Invitations accepted: { $accepted }, maybe: { $tentative }, declined: { $declined }, no answer: { $open }
home-private-title = My private room
home-private-room-hint = Follow this link to open your private meeting room
home-archives-title = Archives of the last { $days } days
home-archives-empty = No finished meeting in this period.
home-archives-pages = Archive pages
home-archives-page = Page { $page } of { $pages }
home-archives-total = { $count } finished meetings
home-calendar-title = My calendar
home-calendar-feed = My iCal feed (Thunderbird, phones, Nextcloud…):
home-calendar-caldav = My CalDAV address:
home-calendar-rotate = Replace the secret address
home-calendar-rotate-hint = If the address has leaked, replace it: the old one stops working at once and your calendars must use the new one.
home-calendar-manage = CalDAV password and other addresses
home-calendar-rotate-confirm = Replace the address? The old one will stop working.

## Notices after a form
notice-created = Meeting booked! The attendees will receive their invitation.
notice-updated = Meeting updated!
notice-moved = Meeting updated! The attendees will be told of the change.
notice-deleted = Meeting deleted!
notice-accepted = You accepted the invitation.
notice-declined = You declined the invitation.
notice-tentative = You answered "maybe".

## Booking form
form-new-title = New meeting
form-edit-title = Edit the meeting
form-default-subject = Meeting without a subject
form-errors-title = Not saved: please correct the following fields.
form-room = Room address:
form-room-new = The room address is created when you save.
form-subject-hint = The title the attendees will see.
form-time-hint = Date and time in the { $zone } time zone.
form-notified-intro = If you change the date, time or duration, these people will be told:
form-max = (max: { $max })
form-moderators-hint = Mail addresses, one per line or separated by commas; you can paste a list copied from your mail client (Jean Dupont <jean.dupont@example.org>). A moderator may be external; you are implicitly a moderator.
form-guests-hint = Mail addresses, one per line or separated by commas; a guest may be external.
form-directory-down = The directory does not answer: address completion and the alias and list checks are unavailable. Addresses will be used as typed.
form-directory-find = Find someone in the directory
form-directory-hint = Type at least 2 characters of the name or address, pick from the list, then add as moderator or guest.
form-directory-add-moderator = Add as moderator
form-directory-add-guest = Add as guest
form-submit-new = Book the meeting
form-submit-edit = Save the changes
form-submit-hint = The attendees will be notified by mail.
duration-hours = { $hours } h
duration-hours-minutes = { $hours } h { $minutes }

## Delete
delete-title = Delete the meeting
delete-question = Do you really want to delete this meeting? This cannot be undone.
delete-notified = These people will be told of the cancellation:
delete-confirm = Yes, delete the meeting
delete-cancel = No, back to the list

## Attendee tracking
attendees-title = Attendee tracking
attendees-totals = Summary
attendees-invited = invited
attendees-accepted = accepted
attendees-tentative = maybe
attendees-declined = declined
attendees-no-answer = no answer
attendees-joined = joined at least once
attendees-detail = Details
attendees-rsvp-link = Personal answer link
attendees-copy-link = Copy the answer link of { $name }
action-copied = Copied to the clipboard.
attendees-note = Note: “{ $note }”
attendees-export = Export as CSV

## CSV columns (also the table headers)
csv-name = Attendee
csv-mail = Address
csv-role = Role
csv-answer = Answer
csv-joins = Joins
csv-first-join = First join
csv-note = Note
csv-file-prefix = attendees
csv-last-join = Last join

## Demo mailbox
mailbox-title = Demo mailbox
mailbox-intro = With the demo configuration, jmb sends no mail: messages are kept here, newest first (open one to read it). Follow the links as each recipient would; download a message to open it in your mail program with its calendar invitation.
mailbox-empty = No message yet: book a meeting.
mailbox-to = To
mailbox-kind = Kind
mailbox-download = Download (.eml)
mailbox-kind-invitation = invitation
mailbox-kind-update = update
mailbox-kind-cancellation = cancellation
mailbox-kind-owner-created = confirmation to the organiser
mailbox-kind-owner-updated = change, to the organiser
mailbox-kind-owner-deleted = deletion, to the organiser
mailbox-kind-answer = an attendee's answer
mailbox-kind-reminder = reminder
mailbox-status-pending = pending
mailbox-status-sent = sent
mailbox-status-failed = failed

# Presence (Prosody event_sync)
csv-minutes = Minutes present
presence-present = present in the meeting
presence-unknown-count = participants not invited
presence-here-now = now
presence-unknown-title = Participants not invited
presence-unknown-intro = In the room without a recognised invitation: anonymous guests who used the room's address, or people signed in under another identity.
presence-anonymous = Anonymous guest { $n }
presence-unnamed = Unnamed participant { $n }
presence-not-invited = Not invited
presence-now-one = 1 person in the meeting
presence-now-many = { $count } people in the meeting
presence-now-none = Nobody in the meeting now
