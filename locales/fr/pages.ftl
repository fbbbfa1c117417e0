# jmb: French catalogue of the booking pages (list, form, attendee tracking). Keep the keys in step
# with en/pages.ftl; shared words (fields, roles, answers) live in main.ftl.

## Meeting states (list colours are also given as text)
state-planned = Planifiée
state-joinable = Ouverte
state-ongoing = En cours
state-finished = Terminée

## Actions
action-start = Démarrer
action-join = Rejoindre
action-accept = Accepter
action-decline = Décliner
action-tentative = Peut-être
action-edit = Modifier
action-attendees = Participants
action-delete = Supprimer
action-refresh = Rafraîchir la page
action-duplicate = Dupliquer
home-search-title = Chercher dans mes réunions
home-search-label = Objet ou participant
home-show-label = Afficher
home-show-all = Toutes
home-show-upcoming = À venir
home-show-running = En cours
home-show-past = Terminées
home-filter = Filtrer
home-filter-clear = Tout afficher
home-found-none = Aucune réunion trouvée.
home-found-one = 1 réunion trouvée.
home-found-many = { $count } réunions trouvées.
home-found-archives-cut = Seules les { $count } réunions passées les plus récentes ont été parcourues.
home-none-found = Aucune réunion ne correspond.
attendees-invitation-title = Copier l'invitation
attendees-invitation-label = Un texte prêt à coller dans un mail ou une messagerie :
attendees-invitation-intro = Visioconférence « { $subject } »
attendees-invitation-organiser = Organisée par { $organiser }
attendees-invitation-join = Rejoindre : { $url }
attendees-invitation-lobby = Les invités attendent dans la salle qu'un modérateur les fasse entrer.
action-copy = Copier
action-open-private-room = Ouvrir ma salle
action-previous = Page précédente
action-next = Page suivante
action-back = Retourner à la liste

## List
field-participants = Participants
field-state = État
field-actions = Actions
home-upcoming = Réunions à venir
home-legend = États :
home-participants-detail = Invitations acceptées : { $accepted }, peut-être : { $tentative }, déclinées : { $declined }, sans réponse : { $open }
home-private-title = Ma réunion privée
home-private-room-hint = Cliquez sur ce lien pour ouvrir votre salle de réunion privée
home-archives-title = Archives des { $days } derniers jours
home-archives-empty = Aucune réunion terminée sur cette période.
home-archives-pages = Pages des archives
home-archives-page = Page { $page } sur { $pages }
home-archives-total = { $count } réunions terminées
home-calendar-title = Mon agenda
home-calendar-feed = Mon flux iCal (Thunderbird, smartphones, Nextcloud…) :
home-calendar-caldav = Mon adresse CalDAV :
home-calendar-rotate = Remplacer l'adresse secrète
home-calendar-rotate-hint = Si l'adresse a été divulguée, remplacez-la : l'ancienne cesse aussitôt de fonctionner et vos agendas devront utiliser la nouvelle.
home-calendar-manage = Mot de passe CalDAV et autres adresses
home-calendar-rotate-confirm = Remplacer l'adresse ? L'ancienne cessera de fonctionner.

## Notices after a form
notice-created = Réunion créée ! Les participants recevront leur invitation.
notice-updated = Réunion modifiée !
notice-moved = Réunion modifiée ! Les participants seront informés du changement.
notice-deleted = Réunion supprimée !
notice-accepted = Vous avez accepté l'invitation.
notice-declined = Vous avez décliné l'invitation.
notice-tentative = Vous avez répondu « peut-être ».

## Booking form
form-new-title = Nouvelle réunion
form-edit-title = Modification de la réunion
form-default-subject = Réunion sans objet
form-errors-title = Données non enregistrées : corrigez les champs suivants.
form-room = Adresse de la salle :
form-room-new = L'adresse de la salle sera créée à l'enregistrement.
form-subject-hint = Le titre que verront les participants.
form-time-hint = Date et heure dans le fuseau { $zone }.
form-notified-intro = Si vous changez la date, l'heure ou la durée, ces personnes en seront informées :
form-max = (max : { $max })
form-moderators-hint = Adresses mail, une par ligne ou séparées par des virgules ; vous pouvez coller une liste copiée de votre messagerie (Jean Dupont <jean.dupont@example.org>). Un modérateur peut être externe ; vous êtes implicitement modérateur.
form-guests-hint = Adresses mail, une par ligne ou séparées par des virgules ; un invité peut être externe.
form-directory-down = L'annuaire ne répond pas : la complétion des adresses et la vérification des alias et des listes sont indisponibles. Les adresses seront utilisées telles que saisies.
form-directory-find = Chercher une personne dans l'annuaire
form-directory-hint = Tapez au moins 2 caractères du nom ou de l'adresse, choisissez dans la liste, puis ajoutez comme modérateur ou invité.
form-directory-add-moderator = Ajouter comme modérateur
form-directory-add-guest = Ajouter comme invité
form-submit-new = Créer la réunion
form-submit-edit = Modifier la réunion
form-submit-hint = Les participants seront notifiés par mail.
duration-hours = { $hours } h
duration-hours-minutes = { $hours } h { $minutes }

## Delete
delete-title = Supprimer la réunion
delete-question = Voulez-vous vraiment supprimer cette réunion ? Cette action est définitive.
delete-notified = Ces personnes seront informées de l'annulation :
delete-confirm = Oui, supprimer la réunion
delete-cancel = Non, retourner à la liste

## Attendee tracking
attendees-title = Suivi des participants
attendees-totals = En résumé
attendees-invited = invités
attendees-accepted = acceptées
attendees-tentative = peut-être
attendees-declined = déclinées
attendees-no-answer = sans réponse
attendees-joined = connectés au moins une fois
attendees-detail = Détail
attendees-rsvp-link = Lien de réponse personnel
attendees-copy-link = Copier le lien de réponse de { $name }
action-copied = Copié dans le presse-papiers.
attendees-note = Mot : « { $note } »
attendees-export = Exporter en CSV

## CSV columns (also the table headers)
csv-name = Participant
csv-mail = Adresse
csv-role = Rôle
csv-answer = Réponse
csv-joins = Connexions
csv-first-join = Première connexion
csv-note = Mot du participant
csv-file-prefix = participants
csv-last-join = Dernière connexion

## Demo mailbox
mailbox-title = Boîte aux lettres de démonstration
mailbox-intro = Avec la configuration de démonstration, jmb n'envoie pas les messages : ils sont gardés ici, les plus récents d'abord (ouvrez-en un pour le lire). Suivez les liens comme le ferait chaque destinataire ; téléchargez un message pour l'ouvrir dans votre messagerie avec son invitation d'agenda.
mailbox-empty = Aucun message pour l'instant : réservez une réunion.
mailbox-to = À
mailbox-kind = Type
mailbox-download = Télécharger (.eml)
mailbox-kind-invitation = invitation
mailbox-kind-update = mise à jour
mailbox-kind-cancellation = annulation
mailbox-kind-owner-created = confirmation à l'organisateur
mailbox-kind-owner-updated = modification, à l'organisateur
mailbox-kind-owner-deleted = suppression, à l'organisateur
mailbox-kind-answer = réponse d'un participant
mailbox-kind-reminder = rappel
mailbox-status-pending = en attente
mailbox-status-sent = envoyé
mailbox-status-failed = échec

# Presence (Prosody event_sync)
csv-minutes = Minutes de présence
presence-present = présents dans la réunion
presence-unknown-count = participants non invités
presence-here-now = en ce moment
presence-unknown-title = Participants non invités
presence-unknown-intro = Présents dans la salle sans invitation reconnue : invités anonymes entrés par l'adresse de la salle, ou personnes connectées sous une autre identité.
presence-anonymous = Invité anonyme { $n }
presence-unnamed = Participant sans nom { $n }
presence-not-invited = Non invité
presence-now-one = 1 personne dans la réunion
presence-now-many = { $count } personnes dans la réunion
presence-now-none = Personne dans la réunion en ce moment
