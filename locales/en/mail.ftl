## Mails (text and HTML bodies; subjects are configured in [mail.subjects])
mail-greeting = Hello,
mail-intro-invitation-guest = { $organiser } invites you to a video meeting.
mail-intro-invitation-moderator = { $organiser } invites you to moderate a video meeting: you will have moderator rights in it.
mail-intro-update = { $organiser } changed this video meeting. This message replaces the previous one.
mail-intro-cancelled = { $organiser } cancelled this video meeting.
mail-intro-removed = { $organiser } removed you from this video meeting: you are no longer invited.
mail-intro-owner-created = You booked a video meeting. The attendees are receiving their invitations.
mail-intro-owner-updated = You changed a video meeting. This message replaces the previous one.
mail-intro-owner-deleted = You deleted a video meeting. The attendees are told.
mail-intro-answer = { $who } { $answer ->
    [accept] accepted your invitation.
    [tentative] answered "maybe" to your invitation.
   *[decline] declined your invitation.
  }
mail-intro-note-left = { $who } left a note with their answer.
mail-intro-note = { $who } changed the note left with their answer.
mail-intro-note-removed = { $who } removed the note left with their answer.
mail-intro-reminder-owner = Reminder: you organise a video meeting.
mail-intro-reminder-moderator = Reminder: you moderate a video meeting.
mail-intro-reminder-guest = Reminder: you attend a video meeting.
mail-field-organiser = Organiser
mail-field-subject = Subject
mail-field-date = Date
mail-field-time = Time
mail-field-duration = Duration
mail-field-moderators = Moderators
mail-field-guests = Guests
mail-field-accepted = Accepted
mail-field-tentative = Maybe
mail-field-declined = Declined
mail-field-no-answer = No answer
mail-nobody = none
mail-join-hint = Your personal link to join the meeting (do not pass it on), open { $minutes } minutes before the start:
mail-start-hint = To start the meeting (open { $minutes } minutes before the start):
mail-answer-note = Their note: “{ $note }”
mail-answer-hint = Please let the organiser know whether you will attend:
mail-action-join = Join the meeting
mail-action-start = Start the meeting
mail-action-attendees = Attendees
mail-action-accept = Accept
mail-action-tentative = Maybe
mail-action-decline = Decline
mail-client-buttons = The "Accept" or "Decline" buttons of your mail program only tell the organiser: use the links above to record your answer.
mail-attendees-hint = The attendees' answers:
mail-footer-meetings = Your video meetings:
mail-footer-calendar = Your calendar (Thunderbird, phone, Nextcloud…):
mail-automatic = Sent automatically by { $site }. To write to the organiser, reply to this message.
