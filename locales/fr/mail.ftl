## Mails (text and HTML bodies; subjects are configured in [mail.subjects])
mail-greeting = Bonjour,
mail-intro-invitation-guest = { $organiser } vous invite à une visioconférence.
mail-intro-invitation-moderator = { $organiser } vous invite à animer une visioconférence : vous y aurez les droits de modérateur.
mail-intro-update = { $organiser } a modifié cette visioconférence. Cette notification annule et remplace la précédente.
mail-intro-cancelled = { $organiser } a annulé cette visioconférence.
mail-intro-removed = { $organiser } vous a retiré de cette visioconférence : vous n'y êtes plus invité.
mail-intro-owner-created = Vous avez réservé une visioconférence. Les participants reçoivent leur invitation.
mail-intro-owner-updated = Vous avez modifié une visioconférence. Cette notification annule et remplace la précédente.
mail-intro-owner-deleted = Vous avez supprimé une visioconférence. Les participants en sont informés.
mail-intro-answer = { $who } { $answer ->
    [accept] a accepté votre invitation.
    [tentative] a répondu « peut-être » à votre invitation.
   *[decline] a décliné votre invitation.
  }
mail-intro-note-left = { $who } a laissé un mot avec sa réponse.
mail-intro-note = { $who } a modifié le mot laissé avec sa réponse.
mail-intro-note-removed = { $who } a retiré le mot laissé avec sa réponse.
mail-intro-reminder-owner = Rappel : vous organisez une visioconférence.
mail-intro-reminder-moderator = Rappel : vous animez une visioconférence.
mail-intro-reminder-guest = Rappel : vous participez à une visioconférence.
mail-field-organiser = Organisateur
mail-field-subject = Objet
mail-field-date = Date
mail-field-time = Heure
mail-field-duration = Durée
mail-field-moderators = Modérateurs
mail-field-guests = Invités
mail-field-accepted = Acceptée
mail-field-tentative = Peut-être
mail-field-declined = Déclinée
mail-field-no-answer = Sans réponse
mail-nobody = aucun
mail-join-hint = Votre lien personnel pour rejoindre la réunion (ne le transmettez pas), ouvert { $minutes } minutes avant le début :
mail-start-hint = Pour démarrer la réunion (ouvert { $minutes } minutes avant le début) :
mail-answer-note = Son mot : « { $note } »
mail-answer-hint = Merci de confirmer votre présence ou votre absence :
mail-action-join = Rejoindre la réunion
mail-action-start = Démarrer la réunion
mail-action-attendees = Suivi des participants
mail-action-accept = Accepter
mail-action-tentative = Peut-être
mail-action-decline = Décliner
mail-client-buttons = Les boutons « Accepter » ou « Refuser » de votre messagerie préviennent seulement l'organisateur : utilisez les liens ci-dessus pour enregistrer votre réponse.
mail-attendees-hint = Les réponses des participants :
mail-footer-meetings = Vos visioconférences :
mail-footer-calendar = Votre agenda (Thunderbird, téléphone, Nextcloud…) :
mail-automatic = Message envoyé automatiquement par { $site }. Pour écrire à l'organisateur, répondez à ce message.
