//! Building one mail: headers (the same for every kind: `From` the site's no-reply address,
//! `Reply-To` the organiser, a `Message-ID` on the site's domain, `Auto-Submitted`), a text and an HTML
//! body from the same [`Body`] (templates `templates/mail/message.{txt,html}`, catalogue
//! `locales/*/mail.ftl`), and for calendar mails an iTIP part (`text/calendar; method=…`, RFC 6047)
//! plus the same bytes as an `invite.ics` attachment. The result is the bytes the outbox hands over.

use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

use crate::booking::model::{Attendee, MeetingDetails, PartStat, Role};
use crate::calendar::event::{self, Viewing};
use crate::config::{Config, MailSubjects, MailTexts, SubjectSet};
use crate::i18n::{Lang, Tr};
use crate::ics;
use crate::identity::is_internal;
use crate::outbox::{Composed, MailKind};

/// What composing needs from the configuration, read once.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub base_url: String,
    /// The host of the public URL: `Message-ID`s end with it.
    pub host: String,
    pub site: String,
    pub from: Mailbox,
    pub envelope_from: String,
    pub subjects: MailSubjects,
    pub advice: MailTexts,
    pub default_lang: Lang,
    pub tz: Tz,
    pub internal_domains: Vec<String>,
    pub prodid: String,
    pub host_early_minutes: u32,
    pub guest_early_minutes: u32,
    pub notify_organiser: bool,
    pub max_invitations_per_hour: u32,
    pub reminder_minutes: Vec<u32>,
    /// Addresses the directory knows get the internal footer too (from its held answers, no look-up).
    pub directory: Option<std::sync::Arc<crate::directory::DirectoryService>>,
}

impl MailSettings {
    pub fn from_config(config: &Config) -> Result<Self, crate::config::ConfigError> {
        let from_name =
            if config.mail.from_name.is_empty() { &config.server.site_name } else { &config.mail.from_name };
        let address: Address = config.mail_from().parse().map_err(|e: lettre::address::AddressError| {
            crate::config::ConfigError::Invalid { key: "mail.from", reason: e.to_string() }
        })?;
        Ok(Self {
            base_url: config.public_base().to_string(),
            host: config.public_host(),
            site: config.server.site_name.clone(),
            from: Mailbox::new(Some(one_line(from_name)), address),
            envelope_from: config.mail_envelope_from(),
            subjects: config.mail.subjects.clone(),
            advice: config.mail.advice.clone(),
            default_lang: Lang::parse(&config.server.default_language).unwrap_or(Lang::Fr),
            tz: config.display_tz(),
            internal_domains: config.mail.internal_domains.clone(),
            prodid: config.calendar_prodid(),
            host_early_minutes: config.jitsi.moderator_join_early_minutes,
            guest_early_minutes: config.jitsi.guest_join_early_minutes,
            notify_organiser: config.mail.notify_organiser_on_answer,
            max_invitations_per_hour: config.mail.max_invitations_per_owner_per_hour,
            reminder_minutes: config.mail.reminder_minutes.clone(),
            directory: None,
        })
    }

    /// Recipients the directory knows count as internal.
    pub fn with_directory(mut self, directory: std::sync::Arc<crate::directory::DirectoryService>) -> Self {
        self.directory = directory.enabled().then_some(directory);
        self
    }

    pub fn tr(&self, lang: Lang) -> Tr {
        Tr::new(lang, self.tz)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    fn subjects(&self, lang: Lang) -> &SubjectSet {
        match lang {
            Lang::Fr => &self.subjects.fr,
            Lang::En => &self.subjects.en,
        }
    }

    /// The configured subject of `kind` (`role` tells reminders apart), placeholders filled.
    pub fn subject(&self, kind: MailKind, role: Role, lang: Lang, meeting_subject: &str, who: &str) -> String {
        let s = self.subjects(lang);
        let template = match (kind, role) {
            (MailKind::Invitation, _) => &s.invitation,
            (MailKind::Update, _) => &s.update,
            (MailKind::Cancellation, _) => &s.cancellation,
            (MailKind::OwnerCreated, _) => &s.owner_created,
            (MailKind::OwnerUpdated, _) => &s.owner_updated,
            (MailKind::OwnerDeleted, _) => &s.owner_deleted,
            (MailKind::Answer, _) => &s.answer,
            (MailKind::Reminder, Role::Owner) => &s.reminder_owner,
            (MailKind::Reminder, Role::Moderator) => &s.reminder_moderator,
            (MailKind::Reminder, Role::Guest) => &s.reminder_guest,
        };
        // One pass, so a subject containing "{who}" is not substituted again.
        let mut out = String::with_capacity(template.len() + meeting_subject.len());
        let mut rest = template.as_str();
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{subject}") {
                out.push_str(meeting_subject);
                rest = after;
            } else if let Some(after) = tail.strip_prefix("{who}") {
                out.push_str(who);
                rest = after;
            } else {
                out.push('{');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        one_line(&out)
    }

    pub fn advice(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.advice.fr,
            Lang::En => &self.advice.en,
        }
    }

    /// Whether mails to `mail` get the internal footer (links to the meetings and calendar pages).
    pub fn is_internal(&self, mail: &str, is_user: bool) -> bool {
        is_user || is_internal(mail, &self.internal_domains) || self.directory.as_ref().is_some_and(|d| d.known(mail))
    }
}

/// Text for a header: control characters (CR and LF above all) become spaces, so no value can break a
/// header or start a new one; lettre then encodes non-ASCII (RFC 2047) and folds.
pub fn one_line(s: &str) -> String {
    let cleaned: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Who a mail goes to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recipient {
    pub mail: String,
    pub name: String,
    pub lang: Lang,
    /// Gets the footer with the links to their pages.
    pub internal: bool,
}

/// A link shown as a button in HTML, as a line in text.
#[derive(Debug, Clone)]
pub struct Link {
    pub label: String,
    pub url: String,
    pub primary: bool,
}

/// A hint and its links.
#[derive(Debug, Clone)]
pub struct Section {
    pub hint: String,
    pub links: Vec<Link>,
}

/// The content of a mail, in the recipient's language; both bodies are rendered from it.
#[derive(Debug, Clone)]
pub struct Body {
    pub lang: &'static str,
    pub title: String,
    pub greeting: String,
    pub paragraphs: Vec<String>,
    pub fields: Vec<(String, String)>,
    pub sections: Vec<Section>,
    pub notes: Vec<String>,
    pub footer: Vec<(String, String)>,
    pub advice: Option<String>,
    pub automatic: String,
}

impl Body {
    /// A field label padded with dots, as the original's text mails: `Organisateur..`.
    pub fn padded(&self, label: &str) -> String {
        let width = self.fields.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0) + 2;
        let mut out = label.to_string();
        while out.chars().count() < width {
            out.push('.');
        }
        out
    }
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct TextBody<'a> {
    body: &'a Body,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlBody<'a> {
    body: &'a Body,
}

/// The start of a [`Body`]: greeting, intro, and the closing lines every mail has.
pub fn body(settings: &MailSettings, tr: &Tr, recipient: &Recipient, title: String, intro: String) -> Body {
    let mut footer = Vec::new();
    if recipient.internal {
        footer.push((tr.t("mail-footer-meetings"), settings.url("/meetings")));
        footer.push((tr.t("mail-footer-calendar"), settings.url("/calendar")));
    }
    Body {
        lang: tr.lang_code(),
        title,
        greeting: tr.t("mail-greeting"),
        paragraphs: vec![intro],
        fields: Vec::new(),
        sections: Vec::new(),
        notes: Vec::new(),
        footer,
        advice: None,
        automatic: tr.ta("mail-automatic", &[("site", settings.site.clone())]),
    }
}

/// The organiser's display: `Name <mail>`.
pub fn organiser_of(d: &MeetingDetails) -> String {
    d.owner()
        .map(|o| if o.name.is_empty() { o.mail.clone() } else { format!("{} <{}>", o.name, o.mail) })
        .unwrap_or_default()
}

/// Subject, date, time (with the zone) and duration; the organiser for invitees; the people for hosts.
pub fn meeting_fields(tr: &Tr, d: &MeetingDetails, with_organiser: bool, with_people: bool) -> Vec<(String, String)> {
    let m = &d.meeting;
    let mut fields = Vec::new();
    if with_organiser {
        fields.push((tr.t("mail-field-organiser"), organiser_of(d)));
    }
    fields.push((tr.t("mail-field-subject"), m.subject.clone()));
    fields.push((tr.t("mail-field-date"), tr.long_date(m.start)));
    fields.push((tr.t("mail-field-time"), tr.time_range(m.start, m.end())));
    fields.push((tr.t("mail-field-duration"), tr.ta("minutes", &[("count", m.duration_min.to_string())])));
    if with_people {
        let list = |role: Role| {
            let people: Vec<String> = d.with_role(role).map(|a| a.mail.clone()).collect();
            if people.is_empty() { tr.t("mail-nobody") } else { people.join(", ") }
        };
        fields.push((tr.t("mail-field-moderators"), list(Role::Moderator)));
        fields.push((tr.t("mail-field-guests"), list(Role::Guest)));
    }
    fields
}

/// Which scheduling message to write.
#[derive(Debug, Clone, Copy)]
pub struct Itip {
    pub method: ics::Method,
    pub sequence: u32,
    /// `STATUS:CANCELLED`.
    pub cancelled: bool,
}

/// The iTIP object of a meeting for one recipient (RFC 5546): the event as they see it (their own
/// link), with only them as `ATTENDEE` (REQUEST, CANCEL) or no attendee at all (PUBLISH, the owner's
/// copy); `SEQUENCE` as given; `STATUS:CANCELLED` for cancellations.
pub fn itip(
    settings: &MailSettings,
    tr: Tr,
    kind: Itip,
    d: &MeetingDetails,
    viewer: &Attendee,
    now: DateTime<Utc>,
) -> String {
    let viewing = Viewing { base_url: &settings.base_url, tr, alarm_minutes: &[], now };
    let mut ev = event::for_viewer(d, viewer, &viewing);
    match kind.method {
        ics::Method::Publish => ev.attendees.clear(),
        _ => ev.attendees.retain(|a| a.person.mail == viewer.mail),
    }
    ev.sequence = kind.sequence;
    if kind.cancelled {
        ev.status = ics::EventStatus::Cancelled;
    }
    ics::render_itip(&settings.prodid, kind.method, &ev, now)
}

/// `Subject`, encoded as lettre would, except that a word which looks like an RFC 2047 encoded-word
/// (`=?utf-8?q?…?=`) is encoded too: lettre writes ASCII words as they are, and mail programs would
/// then decode what someone typed and show a different subject.
#[derive(Clone)]
struct Subject(String);

impl Header for Subject {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Subject")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Subject(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        let mut encoded = String::with_capacity(self.0.len() * 2);
        // Writing into a String cannot fail.
        let _ = encode_unstructured("Subject", &self.0, &mut encoded);
        HeaderValue::dangerous_new_pre_encoded(Self::name(), self.0.clone(), encoded)
    }
}

/// RFC 2047 encoding of unstructured header text, folded: words of printable ASCII that cannot be
/// read as an encoded-word are written as they are, runs of other words are encoded.
fn encode_unstructured(name: &str, value: &str, out: &mut String) -> std::fmt::Result {
    use email_encoding::headers::rfc2047;
    use email_encoding::headers::writer::EmailWriter;
    use std::fmt::Write;
    let mut writer = EmailWriter::new(out, name.len() + 2, 0, false);
    let mut pending = String::new();
    let flush = |pending: &mut String, writer: &mut EmailWriter<'_>| -> std::fmt::Result {
        if pending.is_empty() {
            return Ok(());
        }
        let text = pending.trim_end_matches(' ');
        rfc2047::encode(text, writer)?;
        for _ in 0..pending.len() - text.len() {
            writer.space();
        }
        pending.clear();
        Ok(())
    };
    for word in value.split_inclusive(' ') {
        let plain = word.bytes().all(|b| (0x21..0x7f).contains(&b) || b == b' ') && !word.contains("=?");
        if plain {
            flush(&mut pending, &mut writer)?;
            writer.folding().write_str(word)?;
        } else {
            pending.push_str(word);
        }
    }
    flush(&mut pending, &mut writer)
}

#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

#[derive(Clone)]
struct ContentLanguage(&'static str);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ContentLanguage(if s.trim() == "en" { "en" } else { "fr" }))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.into())
    }
}

/// Everything a mail is made of.
pub struct Draft<'a> {
    pub recipient: &'a Recipient,
    /// The organiser, as `Reply-To` (name, mail).
    pub reply_to: Option<(&'a str, &'a str)>,
    pub subject: String,
    pub body: Body,
    /// `(method, iCalendar text)` for calendar mails.
    pub calendar: Option<(ics::Method, String)>,
}

/// A recipient's mailbox; `None` when the address cannot be used (it was validated when booked).
fn mailbox(name: &str, mail: &str) -> Option<Mailbox> {
    let address: Address = mail.parse().ok()?;
    let name = one_line(name);
    Some(Mailbox::new((!name.is_empty()).then_some(name), address))
}

/// A fresh `Message-ID` on the site's domain, given when a mail is queued: the system time in
/// milliseconds (as [`crate::secrets::link_token`] begins), then a random token.
///
/// The system's milliseconds, not the change's time (whole seconds), so that ids grow: the outbox's
/// unique index on them takes a booking's twenty mails on the page where the last booking's went,
/// instead of on twenty random pages among a second's worth (each a 4 KiB page more in the log for
/// every booking).
pub fn new_message_id(settings: &MailSettings) -> String {
    format!("<{}.{}@{}>", crate::secrets::time_prefix(), crate::secrets::token(), settings.host)
}

/// Formats a draft into the bytes to send, dated `date` (when the change happened).
pub fn finish(
    settings: &MailSettings,
    draft: Draft<'_>,
    message_id: &str,
    date: DateTime<Utc>,
) -> Result<Composed, String> {
    let to = mailbox(&draft.recipient.name, &draft.recipient.mail)
        .ok_or_else(|| format!("unusable recipient address {:?}", draft.recipient.mail))?;
    let text = TextBody { body: &draft.body }.render().map_err(|e| e.to_string())?;
    let html = HtmlBody { body: &draft.body }.render().map_err(|e| e.to_string())?;
    let mut builder = Message::builder()
        .from(settings.from.clone())
        .to(to)
        .header(Subject(draft.subject))
        .message_id(Some(message_id.to_string()))
        .date(std::time::SystemTime::from(date))
        .header(AutoSubmitted)
        .header(ContentLanguage(draft.recipient.lang.code()));
    if let Some((name, mail)) = draft.reply_to
        && let Some(reply_to) = mailbox(name, mail)
    {
        builder = builder.reply_to(reply_to);
    }
    let alternative =
        MultiPart::alternative().singlepart(SinglePart::plain(text.clone())).singlepart(SinglePart::html(html));
    let message = match draft.calendar {
        None => builder.multipart(alternative),
        Some((method, ics)) => {
            // Outlook reads the inline part, other programs the attachment: the same bytes twice.
            let inline = ContentType::parse(&format!("text/calendar; charset=utf-8; method={}", method.as_str()))
                .map_err(|e| e.to_string())?;
            let attachment = ContentType::parse("application/ics").map_err(|e| e.to_string())?;
            // Encoded once, used twice.
            let ics = lettre::message::Body::new(ics);
            builder.multipart(
                MultiPart::mixed()
                    .multipart(alternative.singlepart(SinglePart::builder().header(inline).body(ics.clone())))
                    .singlepart(Attachment::new("invite.ics".into()).body(ics, attachment)),
            )
        }
    };
    let message = message.map_err(|e| e.to_string())?;
    Ok(Composed { text, message: message.formatted() })
}

/// The answer links of an invitee (the page records only on POST).
pub fn answer_section(settings: &MailSettings, tr: &Tr, mine: &Attendee) -> Section {
    let url = |answer: &str| settings.url(&format!("/rsvp/{}?answer={answer}", mine.token));
    Section {
        hint: tr.t("mail-answer-hint"),
        links: vec![
            Link {
                label: tr.t("mail-action-accept"),
                url: url("accept"),
                primary: mine.partstat != PartStat::Accepted,
            },
            Link { label: tr.t("mail-action-tentative"), url: url("tentative"), primary: false },
            Link { label: tr.t("mail-action-decline"), url: url("decline"), primary: false },
        ],
    }
}

/// The way in: an invitee's personal link, or the owner's start link.
pub fn join_section(settings: &MailSettings, tr: &Tr, d: &MeetingDetails, mine: &Attendee) -> Section {
    let url = event::join_url(&settings.base_url, d, mine);
    if mine.role == Role::Owner {
        Section {
            hint: tr.ta("mail-start-hint", &[("minutes", settings.host_early_minutes.to_string())]),
            links: vec![Link { label: tr.t("mail-action-start"), url, primary: true }],
        }
    } else {
        let minutes = if mine.role.is_host() { settings.host_early_minutes } else { settings.guest_early_minutes };
        Section {
            hint: tr.ta("mail-join-hint", &[("minutes", minutes.to_string())]),
            links: vec![Link { label: tr.t("mail-action-join"), url, primary: true }],
        }
    }
}

/// The owner's link to the attendee tracking page.
pub fn attendees_section(settings: &MailSettings, tr: &Tr, d: &MeetingDetails) -> Section {
    Section {
        hint: tr.t("mail-attendees-hint"),
        links: vec![Link {
            label: tr.t("mail-action-attendees"),
            url: settings.url(&format!("/meetings/{}/attendees", d.meeting.id)),
            primary: false,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_that_look_encoded_are_encoded() {
        let mut out = String::new();
        encode_unstructured("Subject", "Point =?utf-8?q?Bcc:_x@y.org?= d'équipe", &mut out).unwrap();
        assert!(out.starts_with("Point =?utf-8?b?"), "{out}");
        assert!(!out.contains("=?utf-8?q?Bcc"), "the typed encoded-word is not left readable as one: {out}");
        assert!(out.is_ascii() && !out.contains('\n') || out.contains("\r\n "), "folded with CRLF-space: {out:?}");
        let mut plain = String::new();
        encode_unstructured("Subject", "Weekly meeting", &mut plain).unwrap();
        assert_eq!(plain, "Weekly meeting");
    }

    /// The bytes handed to the server: CRLF line ends only (the calendar parts included), headers
    /// under 998 octets, the iTIP method in the inline part's content type.
    #[test]
    fn messages_are_wire_ready() {
        let mut config = Config::embedded_default();
        config.server.public_url = "https://meet.example.org".into();
        let s = MailSettings::from_config(&config).unwrap();
        let to = Recipient {
            mail: "zoe@partner.net".into(),
            name: "Zoë \"Z\" Núñez".into(),
            lang: Lang::En,
            internal: false,
        };
        let tr = s.tr(Lang::En);
        let mut body = body(&s, &tr, &to, "Title".into(), "Intro".into());
        body.fields.push(("Subject".into(), "Point".into()));
        let ics = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nSUMMARY:R\u{e9}union\r\nEND:VCALENDAR\r\n".to_string();
        let draft = Draft {
            recipient: &to,
            reply_to: Some(("Jean Dupont", "jean.dupont@example.org")),
            subject: "Invitation: Point".into(),
            body,
            calendar: Some((ics::Method::Request, ics)),
        };
        let now: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
        let id = new_message_id(&s);
        assert!(id.starts_with('<') && id.ends_with("@meet.example.org>") && id.as_bytes()[10] == b'.', "{id}");
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(new_message_id(&s) > id, "ids grow with time, so the index takes them at its end");
        let mail = finish(&s, draft, &id, now).unwrap();
        let raw = String::from_utf8(mail.message).unwrap();
        assert!(!raw.replace("\r\n", "").contains('\n'), "bare LF in the message");
        assert!(raw.lines().all(|l| l.len() <= 998));
        assert!(raw.contains("Content-Type: text/calendar; charset=utf-8; method=REQUEST"), "{raw}");
        assert!(raw.contains("filename=\"invite.ics\""), "{raw}");
        assert!(raw.contains("Auto-Submitted: auto-generated") && raw.contains("Content-Language: en"));
        assert!(raw.contains(&format!("Message-ID: {id}")), "{raw}");
        assert!(raw.contains("Date: Tue, 01 Dec 2026 08:00:00 +0000"), "dated when the change happened: {raw}");
        assert!(mail.text.contains("Intro"));
    }
}
