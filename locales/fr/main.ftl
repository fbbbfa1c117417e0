# jmb: French catalogue (the language of the original's users). Keep the keys in step with en/main.ftl.

## Formats (chrono strftime)
fmt-date = %d/%m/%Y
fmt-time = %H:%M
fmt-datetime = { $date } à { $time }

## Layout
skip-to-content = Aller au contenu
nav-my-meetings = Mes réunions
nav-mailbox = Courrier (démo)
nav-new-meeting = Nouvelle réunion
nav-sign-out = Se déconnecter
nav-signed-in-as = Connecté en tant que { $name }
footer-sovereign = { $site } est une solution de visioconférence souveraine, 100% Open Source, sécurisée, hébergée sur nos serveurs.
footer-headset = Pour un fonctionnement optimal, nous recommandons l'utilisation d'un micro-casque.
language-switch = English
language-switch-label = Langue

## Roles and answers
role-owner = Propriétaire
role-moderator = Modérateur
role-guest = Invité
partstat-needs-action = Sans réponse
partstat-accepted = Acceptée
partstat-declined = Déclinée
partstat-tentative = Peut-être
minutes = { $count } minutes

## Sign-in (demo)
login-title = Connexion de démonstration
login-intro = Cette instance fonctionne en mode démonstration : choisissez un utilisateur. En production, la connexion passe par l'authentification unique de l'établissement.
login-as = Se connecter en tant que { $name }
login-editor = peut réserver
login-not-editor = invité seulement

## Meeting fields
field-organiser = Organisateur
field-subject = Objet
field-date = Date
field-time = Heure
field-duration = Durée
field-role = Votre rôle
field-answer = Votre réponse
field-moderators = Modérateurs
field-guests = Invités
none = aucun

## Home (list)
home-title = Mes réunions
home-empty = Aucune réunion à venir.
home-private-room = Ma réunion privée, disponible à tout moment :
home-private-room-share = Donnez ce lien à vos correspondants :
home-join = Rejoindre
home-archives = Archives

## Invitation answer (RSVP)
rsvp-title = Invitation à une visioconférence
rsvp-intro = { $organiser } vous invite à une visioconférence.
rsvp-question = Serez-vous présent·e ?
rsvp-accept = Accepter l'invitation
rsvp-decline = Décliner l'invitation
rsvp-tentative = Peut-être
rsvp-suggested = Vous avez suivi le lien pour { $answer ->
    [tentative] répondre « peut-être »
    [accept] accepter
   *[decline] décliner
  } : confirmez avec le bouton ci-dessous.
rsvp-recorded-accepted = Votre présence est enregistrée. L'organisateur la verra dans le suivi des participants.
rsvp-recorded-declined = Votre absence est enregistrée. L'organisateur la verra dans le suivi des participants.
rsvp-recorded-tentative = Votre réponse « peut-être » est enregistrée. L'organisateur la verra dans le suivi des participants.
rsvp-close-tab = Vous pouvez fermer cet onglet.
rsvp-finished = Cette réunion est terminée : la réponse ne peut plus être modifiée.
rsvp-owner = Vous organisez cette réunion : vous n'avez pas à y répondre.
rsvp-join = Rejoindre la réunion
rsvp-join-hint = Votre lien personnel pour rejoindre la réunion :
rsvp-change = Modifier ma réponse
rsvp-current = Votre réponse :
rsvp-note-label = Un mot pour l'organisateur (facultatif)
rsvp-note-hint = Par exemple « j'aurai 10 minutes de retard ». L'organisateur le verra dans le suivi des participants ({ $max } caractères au plus).
rsvp-note-too-long = Ce mot est trop long : { $max } caractères au plus.
rsvp-note-recorded = Votre mot pour l'organisateur est enregistré.
rsvp-your-note = Votre mot :
rsvp-mail-organiser = Écrire à l'organisateur
rsvp-when = Quand
rsvp-calendar-title = Ajouter à mon agenda
rsvp-ics = Télécharger l'invitation (.ics)
rsvp-ics-hint = Pour Thunderbird, Apple Calendrier, Outlook et la plupart des agendas : ouvrez le fichier téléchargé.
rsvp-google = Ajouter à Google Agenda
rsvp-outlook = Ajouter à Outlook.com
rsvp-join-title = Rejoindre la réunion
rsvp-join-opens = Le bouton pour rejoindre s'ouvre le :
rsvp-join-open = La salle est ouverte : vous pouvez rejoindre la réunion.
rsvp-join-running = La réunion est en cours.
rsvp-join-early = Rejoindre (pas encore ouvert)
rsvp-csrf-expired = Cette page avait expiré : votre réponse n'a pas encore été enregistrée. Confirmez-la avec le bouton mis en évidence ci-dessous.

## Join
join-too-early-title = La réunion n'a pas encore commencé
join-too-early = La réunion « { $subject } » commence le { $start }. Ce lien sera utilisable à partir de { $opens }.
join-refresh = Actualiser
join-too-early-intro = La réunion « { $subject } » n'a pas encore commencé.
join-opens = Ce lien sera utilisable à partir du :
join-countdown = Ouverture dans
join-open-now = Le lien est ouvert : vous pouvez rejoindre la réunion.
join-now = Rejoindre maintenant
join-no-script = Revenez à l'heure indiquée, ou actualisez cette page.

## Errors
error-back-home = Retourner à la liste
error-back-answer = Retourner à ma page de réponse
error-guest-hint = Invité à une réunion ? Ouvrez le lien de votre mail d'invitation : il mène à votre page de réponse, d'où vous pourrez rejoindre la réunion.
error-not-found-title = Introuvable
error-not-found = Ce lien n'existe pas ou plus. Vérifiez qu'il a été copié en entier.
error-meeting-not-found = Cette réunion n'existe pas ou a été supprimée.
error-gone-title = Réunion terminée
error-gone = La réunion « { $subject } » est terminée.
error-gone-plain = Cette réunion est terminée.
error-forbidden-title = Accès refusé
error-not-host = Vous n'êtes ni propriétaire ni modérateur de la réunion « { $room } ».
error-not-private-owner = Vous n'êtes pas propriétaire de la réunion privée « { $room } ».
error-not-owner = Vous n'êtes pas le propriétaire de cette réunion.
error-not-editor = Votre compte ne permet pas de réserver des réunions.
error-editor-undecided = L'annuaire ne répond pas : impossible de vérifier que votre compte peut réserver des réunions. Réessayez dans quelques minutes.
error-untrusted-proxy = La connexion ne provient pas du serveur d'authentification autorisé.
error-bad-identity = Le serveur d'authentification n'a pas transmis une identité utilisable ({ $detail }).
error-csrf = Le formulaire a expiré ou ne provient pas de ce site. Rechargez la page et réessayez.
error-unauthorized-title = Connexion requise
error-unauthorized = Vous devez vous connecter pour accéder à cette page.
error-conflict-title = Action impossible
error-meeting-started = La réunion a déjà commencé : elle ne peut plus être modifiée.
error-owner-answers = L'organisateur n'a pas à répondre à sa propre invitation.
error-too-many-invitations = Cette réservation dépasserait la limite de { $max } invitations envoyées par heure pour vos réunions : réessayez plus tard ou invitez moins de personnes.
error-no-free-identifier = Impossible de générer un identifiant libre. Réessayez.
error-bad-request-title = Requête incorrecte
error-bad-request = La requête est incorrecte : { $detail }
error-validation-title = Données non enregistrées
error-validation = Données non enregistrées : corrigez les champs indiqués.
error-internal-title = Erreur interne
error-internal = Une erreur interne est survenue. Réessayez plus tard.
error-method = Méthode non autorisée.
error-too-many-title = Trop de demandes
error-too-many-bookings = Vous avez réservé { $max } réunions au cours de la dernière heure, le maximum. Réessayez dans { $minutes } min.
error-too-many-searches = Trop de recherches dans l'annuaire : { $max } par minute au plus. Réessayez dans un instant.
error-too-large-title = Envoi trop volumineux
error-too-large = Le formulaire envoyé est trop volumineux : raccourcissez les listes ou l'objet et réessayez.

## Validation (one message per broken rule)
err-subject-missing = Indiquez l'objet de la réunion.
err-subject-too-long = L'objet est trop long (au plus { $max } caractères).
err-subject-control = L'objet contient des caractères invalides.
err-start-missing = Indiquez la date et l'heure de la réunion.
err-start-unparsable = La date ou l'heure de la réunion est incorrecte.
err-start-past = La date de la réunion est antérieure à la date actuelle.
err-start-step = L'heure de début doit tomber sur un multiple de { $step } minutes.
err-duration-missing = Vous n'avez pas indiqué la durée de la réunion.
err-duration-nan = La durée de la réunion est incorrecte.
err-duration-zero = La durée d'une réunion ne peut pas être nulle.
err-duration-negative = La durée d'une réunion ne peut pas être négative.
err-duration-short = La durée d'une réunion doit être d'au moins { $min } minutes.
err-duration-long = La durée d'une réunion ne peut pas dépasser { $max } minutes.
err-duration-step = La durée doit être un multiple de { $step } minutes.
err-moderators-max = Vous avez indiqué { $count } modérateurs (le maximum est { $max }).
err-address = L'adresse « { $address } » est incorrecte.
err-guests-none = Vous n'avez indiqué aucun invité.
err-guests-max = Vous avez indiqué { $count } invités (le maximum est { $max }).
err-both-roles = L'adresse « { $address } » est à la fois modérateur et invité : une adresse n'a qu'un rôle.
err-list-too-long = Cette liste est trop longue (au plus { $max } caractères) : elle n'a pas été lue.
err-address-more = … et { $count } autres adresses incorrectes.

## Calendar access
copy = Copier
calendar-title = Mes agendas
calendar-feed-title = Flux iCal
calendar-feed-help = Abonnez votre agenda (Thunderbird, Nextcloud, smartphone, Outlook…) à cette adresse : vos réunions y apparaissent avec les réponses des participants.
calendar-feed-https = Adresse du flux
calendar-feed-webcal = Adresse webcal (ouverture directe dans l'agenda)
calendar-feed-replace = Remplacer l'adresse du flux
calendar-feed-replace-help = L'ancienne adresse cessera de fonctionner.
calendar-feed-replaced = L'adresse du flux a été remplacée : mettez à jour vos abonnements.
calendar-dav-title = Agenda CalDAV (lecture seule)
calendar-dav-help = Ajoutez un compte CalDAV dans votre logiciel d'agenda (Thunderbird, DAVx5, Apple Calendrier, Evolution) avec l'adresse, l'identifiant et un mot de passe d'agenda.
calendar-dav-url = Adresse du serveur
calendar-dav-user = Identifiant
calendar-password-create = Créer un mot de passe d'agenda
calendar-password-replace = Remplacer le mot de passe d'agenda
calendar-password-replace-help = L'ancien mot de passe cessera de fonctionner.
calendar-password-once = Votre nouveau mot de passe d'agenda (il ne sera plus affiché) :
calendar-password-new = Nouveau mot de passe créé : copiez-le maintenant dans votre logiciel d'agenda.
ical-description = Rejoindre la réunion : { $url }
    Répondre à l'invitation : { $rsvp }

## Dates in words
fmt-long-date = { $weekday } { $day } { $month } { $year }
fmt-time-range = { $start } – { $end } ({ $zone })
fmt-at = à
fmt-when = { $date }, { $range }
fmt-long-datetime = { $date } à { $time } ({ $zone })
time-site-zone = heure de l'organisateur : { $when }
weekday-0 = lundi
weekday-1 = mardi
weekday-2 = mercredi
weekday-3 = jeudi
weekday-4 = vendredi
weekday-5 = samedi
weekday-6 = dimanche
month-1 = janvier
month-2 = février
month-3 = mars
month-4 = avril
month-5 = mai
month-6 = juin
month-7 = juillet
month-8 = août
month-9 = septembre
month-10 = octobre
month-11 = novembre
month-12 = décembre
