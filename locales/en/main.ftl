# jmb: English catalogue. Keep the keys in step with fr/main.ftl.

## Formats (chrono strftime)
fmt-date = %d %b %Y
fmt-time = %H:%M
fmt-datetime = { $date } at { $time }

## Layout
skip-to-content = Skip to content
nav-my-meetings = My meetings
nav-mailbox = Mail (demo)
nav-new-meeting = New meeting
nav-sign-out = Sign out
nav-signed-in-as = Signed in as { $name }
footer-sovereign = { $site } is a sovereign, 100% open-source, secure video-conferencing service hosted on our own servers.
footer-headset = For the best experience, we recommend using a headset.
language-switch = Français
language-switch-label = Language

## Roles and answers
role-owner = Owner
role-moderator = Moderator
role-guest = Guest
partstat-needs-action = No answer
partstat-accepted = Accepted
partstat-declined = Declined
partstat-tentative = Maybe
minutes = { $count } minutes

## Sign-in (demo)
login-title = Demo sign-in
login-intro = This instance runs in demo mode: pick a user. In production, sign-in goes through your organisation's single sign-on.
login-as = Sign in as { $name }
login-editor = can book
login-not-editor = guest only

## Meeting fields
field-organiser = Organiser
field-subject = Subject
field-date = Date
field-time = Time
field-duration = Duration
field-role = Your role
field-answer = Your answer
field-moderators = Moderators
field-guests = Guests
none = none

## Home (list)
home-title = My meetings
home-empty = No upcoming meetings.
home-private-room = My private room, available at any time:
home-private-room-share = Give this link to the people you meet:
home-join = Join
home-archives = Archives

## Invitation answer (RSVP)
rsvp-title = Video meeting invitation
rsvp-intro = { $organiser } invites you to a video meeting.
rsvp-question = Will you attend?
rsvp-accept = Accept the invitation
rsvp-decline = Decline the invitation
rsvp-tentative = Maybe
rsvp-suggested = You followed the link to { $answer ->
    [tentative] answer "maybe"
    [accept] accept
   *[decline] decline
  }: confirm with the button below.
rsvp-recorded-accepted = Your attendance is recorded. The organiser will see it on the attendee page.
rsvp-recorded-declined = Your absence is recorded. The organiser will see it on the attendee page.
rsvp-recorded-tentative = Your "maybe" is recorded. The organiser will see it on the attendee page.
rsvp-close-tab = You can close this tab.
rsvp-finished = This meeting has ended: the answer can no longer be changed.
rsvp-owner = You organise this meeting: there is nothing to answer.
rsvp-join = Join the meeting
rsvp-join-hint = Your personal link to join the meeting:
rsvp-change = Change my answer
rsvp-current = Your answer:
rsvp-note-label = A note for the organiser (optional)
rsvp-note-hint = For instance "I will be 10 minutes late". The organiser will see it on the attendee page ({ $max } characters at most).
rsvp-note-too-long = This note is too long: { $max } characters at most.
rsvp-note-recorded = Your note for the organiser is recorded.
rsvp-your-note = Your note:
rsvp-mail-organiser = Write to the organiser
rsvp-when = When
rsvp-calendar-title = Add to my calendar
rsvp-ics = Download the invitation (.ics)
rsvp-ics-hint = For Thunderbird, Apple Calendar, Outlook and most calendars: open the downloaded file.
rsvp-google = Add to Google Calendar
rsvp-outlook = Add to Outlook.com
rsvp-join-title = Join the meeting
rsvp-join-opens = The join button opens on:
rsvp-join-open = The room is open: you can join the meeting.
rsvp-join-running = The meeting is running.
rsvp-join-early = Join (not open yet)
rsvp-csrf-expired = This page had expired: your answer has not been recorded yet. Confirm it with the highlighted button below.

## Join
join-too-early-title = The meeting has not started yet
join-too-early = The meeting “{ $subject }” starts on { $start }. This link opens at { $opens }.
join-refresh = Refresh
join-too-early-intro = The meeting “{ $subject }” has not started yet.
join-opens = This link can be used from:
join-countdown = Opens in
join-open-now = The link is open: you can join the meeting.
join-now = Join now
join-no-script = Come back at the time shown, or refresh this page.

## Errors
error-back-home = Back to the list
error-back-answer = Back to my answer page
error-guest-hint = Invited to a meeting? Open the link in your invitation mail: it leads to your answer page, from which you can join the meeting.
error-not-found-title = Not found
error-not-found = This link does not exist or no longer exists. Check that it was copied whole.
error-meeting-not-found = This meeting does not exist or was deleted.
error-gone-title = Meeting ended
error-gone = The meeting “{ $subject }” has ended.
error-gone-plain = This meeting has ended.
error-forbidden-title = Access denied
error-not-host = You are neither the owner nor a moderator of the meeting “{ $room }”.
error-not-private-owner = You do not own the private room “{ $room }”.
error-not-owner = You are not the owner of this meeting.
error-not-editor = Your account may not book meetings.
error-editor-undecided = The directory does not answer: jmb cannot check that your account may book meetings. Try again in a few minutes.
error-untrusted-proxy = The request did not come from the authorised sign-in server.
error-bad-identity = The sign-in server did not pass a usable identity ({ $detail }).
error-csrf = The form expired or did not come from this site. Reload the page and try again.
error-unauthorized-title = Sign-in required
error-unauthorized = You must sign in to see this page.
error-conflict-title = Not possible
error-meeting-started = The meeting has already started: it can no longer be changed.
error-owner-answers = The organiser does not answer their own invitation.
error-too-many-invitations = This booking would exceed the limit of { $max } invitations sent per hour for your meetings: try again later or invite fewer people.
error-no-free-identifier = Could not generate a free identifier. Try again.
error-bad-request-title = Bad request
error-bad-request = The request is not valid: { $detail }
error-validation-title = Not saved
error-validation = Not saved: correct the fields shown.
error-internal-title = Internal error
error-internal = An internal error occurred. Try again later.
error-method = Method not allowed.
error-too-many-title = Too many requests
error-too-many-bookings = You booked { $max } meetings in the last hour, the maximum. Try again in { $minutes } min.
error-too-many-searches = Too many directory searches: at most { $max } a minute. Try again in a moment.
error-too-large-title = Too large
error-too-large = The form sent is too large: shorten the lists or the subject and try again.

## Validation (one message per broken rule)
err-subject-missing = Enter the subject of the meeting.
err-subject-too-long = The subject is too long (at most { $max } characters).
err-subject-control = The subject contains invalid characters.
err-start-missing = Enter the date and time of the meeting.
err-start-unparsable = The date or time of the meeting is not valid.
err-start-past = The meeting date is in the past.
err-start-step = The start time must fall on a multiple of { $step } minutes.
err-duration-missing = Enter the duration of the meeting.
err-duration-nan = The duration of the meeting is not valid.
err-duration-zero = A meeting cannot last zero minutes.
err-duration-negative = A meeting cannot have a negative duration.
err-duration-short = A meeting must last at least { $min } minutes.
err-duration-long = A meeting cannot last more than { $max } minutes.
err-duration-step = The duration must be a multiple of { $step } minutes.
err-moderators-max = You listed { $count } moderators (the maximum is { $max }).
err-address = The address “{ $address }” is not valid.
err-guests-none = You listed no guest.
err-guests-max = You listed { $count } guests (the maximum is { $max }).
err-both-roles = The address “{ $address }” is listed as both moderator and guest: an address has one role.
err-list-too-long = This list is too long (at most { $max } characters): it was not read.
err-address-more = … and { $count } more invalid addresses.

## Calendar access
copy = Copy
calendar-title = My calendars
calendar-feed-title = iCal feed
calendar-feed-help = Subscribe your calendar (Thunderbird, Nextcloud, phone, Outlook…) to this address: your meetings appear with every attendee's answer.
calendar-feed-https = Feed address
calendar-feed-webcal = Webcal address (opens in your calendar app)
calendar-feed-replace = Replace the feed address
calendar-feed-replace-help = The old address will stop working.
calendar-feed-replaced = The feed address was replaced: update your subscriptions.
calendar-dav-title = CalDAV calendar (read-only)
calendar-dav-help = Add a CalDAV account in your calendar app (Thunderbird, DAVx5, Apple Calendar, Evolution) with the address, the user name and a calendar password.
calendar-dav-url = Server address
calendar-dav-user = User name
calendar-password-create = Create a calendar password
calendar-password-replace = Replace the calendar password
calendar-password-replace-help = The old password will stop working.
calendar-password-once = Your new calendar password (it will not be shown again):
calendar-password-new = New password created: copy it into your calendar app now.
ical-description = Join the meeting: { $url }
    Answer the invitation: { $rsvp }

## Dates in words
fmt-long-date = { $weekday } { $day } { $month } { $year }
fmt-time-range = { $start } – { $end } ({ $zone })
fmt-at = at
fmt-when = { $date }, { $range }
fmt-long-datetime = { $date } at { $time } ({ $zone })
time-site-zone = organiser's time: { $when }
weekday-0 = Monday
weekday-1 = Tuesday
weekday-2 = Wednesday
weekday-3 = Thursday
weekday-4 = Friday
weekday-5 = Saturday
weekday-6 = Sunday
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
