//! Languages: French and English message catalogues (Fluent files under `locales/`, embedded at compile
//! time), and date formatting in the display time zone. Pages, calendars and mails all speak through
//! [`Tr`]; no user-facing string lives in Rust code. Which language a request gets (cookie, then
//! `Accept-Language`, then the configured default) is decided by [`Lang::negotiate`] from the values the
//! edge reads off the request.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "fr",
        // Bidi isolation marks around arguments would end up inside URLs and mail addresses.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static FR: LanguageIdentifier = langid!("fr");
static EN: LanguageIdentifier = langid!("en");

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        let primary = code.trim().split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        match primary.as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The remembered choice (`jmb_lang` cookie) first, then the best `Accept-Language` entry jmb
    /// serves, then `default`.
    pub fn negotiate(remembered: Option<&str>, accept_language: Option<&str>, default: Lang) -> Lang {
        if let Some(lang) = remembered.and_then(Lang::parse) {
            return lang;
        }
        let Some(accept) = accept_language else {
            return default;
        };
        let mut best: Option<(f32, Lang)> = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default();
            let q = parts.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            if let Some(lang) = Lang::parse(tag)
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(default)
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }
}

/// Translations and date formatting for one request.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
    pub tz: Tz,
}

impl Tr {
    pub fn new(lang: Lang, tz: Tz) -> Self {
        Self { lang, tz }
    }

    /// The message `id`. A message without arguments is a constant of the compiled-in catalogues: it
    /// is formatted by Fluent once per language and kept (a page of 60 meetings asked for some labels
    /// hundreds of times, each a Fluent lookup and format).
    pub fn t(&self, id: &str) -> String {
        /// Ids come from the code (a bounded set); the cap only guards against a future caller passing
        /// something unbounded.
        const MAX_KEPT: usize = 4096;
        static KEPT: [std::sync::LazyLock<std::sync::RwLock<HashMap<String, String>>>; 2] =
            [std::sync::LazyLock::new(Default::default), std::sync::LazyLock::new(Default::default)];
        let kept = &KEPT[match self.lang {
            Lang::Fr => 0,
            Lang::En => 1,
        }];
        if let Some(text) = kept.read().unwrap_or_else(|p| p.into_inner()).get(id) {
            return text.clone();
        }
        let text = LOCALES.lookup(self.lang.id(), id);
        let mut kept = kept.write().unwrap_or_else(|p| p.into_inner());
        if kept.len() < MAX_KEPT {
            kept.insert(id.to_string(), text.clone());
        }
        text
    }

    /// The message `id` with named values.
    pub fn ta(&self, id: &str, args: &[(&str, String)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> =
            args.iter().map(|(k, v)| (Cow::Owned(k.to_string()), FluentValue::from(v.clone()))).collect();
        LOCALES.lookup_with_args(self.lang.id(), id, &map)
    }

    /// Date in the display time zone, in this language's format.
    pub fn date(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz).format(&self.t("fmt-date")).to_string()
    }

    /// Time of day in the display time zone.
    pub fn time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.tz).format(&self.t("fmt-time")).to_string()
    }

    /// Date and time in the display time zone.
    pub fn datetime(&self, t: DateTime<Utc>) -> String {
        self.ta("fmt-datetime", &[("date", self.date(t)), ("time", self.time(t))])
    }

    /// A date with its weekday, in words: `mardi 5 décembre 2026`, `Tuesday 5 December 2026`.
    pub fn long_date(&self, t: DateTime<Utc>) -> String {
        use chrono::Datelike;
        let local = t.with_timezone(&self.tz);
        let weekday = self.t(&format!("weekday-{}", local.weekday().num_days_from_monday()));
        let month = self.t(&format!("month-{}", local.month()));
        self.ta(
            "fmt-long-date",
            &[
                ("weekday", weekday),
                ("day", local.day().to_string()),
                ("month", month),
                ("year", local.year().to_string()),
            ],
        )
    }

    /// Start and end with the zone's name: `10:00 – 11:30 (Europe/Paris)`.
    pub fn time_range(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
        self.ta(
            "fmt-time-range",
            &[("start", self.time(start)), ("end", self.time(end)), ("zone", self.tz.name().to_string())],
        )
    }

    /// Weekday, date, start and end, and the zone: `mardi 5 décembre 2026, 10:00 – 11:30 (Europe/Paris)`.
    pub fn when(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
        self.ta("fmt-when", &[("date", self.long_date(start)), ("range", self.time_range(start, end))])
    }

    /// One instant with its weekday and zone: `mardi 5 décembre 2026 à 09:55 (Europe/Paris)`.
    pub fn long_datetime(&self, t: DateTime<Utc>) -> String {
        self.ta(
            "fmt-long-datetime",
            &[("date", self.long_date(t)), ("time", self.time(t)), ("zone", self.tz.name().to_string())],
        )
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kept messages are those of their language: asked in one language then the other, each gets its
    /// own text, the same as an uncached lookup.
    #[test]
    fn messages_are_kept_per_language() {
        let (fr, en) = (Tr::new(Lang::Fr, chrono_tz::UTC), Tr::new(Lang::En, chrono_tz::UTC));
        for _ in 0..2 {
            assert_eq!(fr.t("role-guest"), LOCALES.lookup(&FR, "role-guest"));
            assert_eq!(en.t("role-guest"), LOCALES.lookup(&EN, "role-guest"));
        }
        assert_ne!(fr.t("role-guest"), en.t("role-guest"));
    }

    #[test]
    fn negotiation() {
        assert_eq!(Lang::negotiate(None, None, Lang::Fr), Lang::Fr);
        let accept = Some("de-DE, en-GB;q=0.8, fr;q=0.5");
        assert_eq!(Lang::negotiate(None, accept, Lang::Fr), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr"), accept, Lang::En), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("xx"), accept, Lang::Fr), Lang::En, "an unknown remembered value is ignored");
    }

    #[test]
    fn catalogues_have_the_same_keys() {
        let keys = |s: &str| {
            let mut k: Vec<String> = s
                .lines()
                .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && l.contains(" ="))
                .map(|l| l.split(" =").next().unwrap_or_default().to_string())
                .collect();
            k.sort();
            k
        };
        for (fr, en) in [
            (include_str!("../locales/fr/main.ftl"), include_str!("../locales/en/main.ftl")),
            (include_str!("../locales/fr/pages.ftl"), include_str!("../locales/en/pages.ftl")),
            (include_str!("../locales/fr/mail.ftl"), include_str!("../locales/en/mail.ftl")),
            (include_str!("../locales/fr/chat.ftl"), include_str!("../locales/en/chat.ftl")),
        ] {
            assert_eq!(keys(fr), keys(en));
        }
        // No key may be defined in two files of one language.
        for files in [
            [
                include_str!("../locales/fr/main.ftl"),
                include_str!("../locales/fr/pages.ftl"),
                include_str!("../locales/fr/mail.ftl"),
                include_str!("../locales/fr/chat.ftl"),
            ],
            [
                include_str!("../locales/en/main.ftl"),
                include_str!("../locales/en/pages.ftl"),
                include_str!("../locales/en/mail.ftl"),
                include_str!("../locales/en/chat.ftl"),
            ],
        ] {
            let mut all: Vec<String> = files.iter().flat_map(|f| keys(f)).collect();
            let n = all.len();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), n, "a key is defined in two catalogue files");
        }
    }

    #[test]
    fn lookups_and_dates() {
        let t: DateTime<Utc> = "2026-12-05T09:00:00Z".parse().unwrap();
        let fr = Tr::new(Lang::Fr, chrono_tz::Europe::Paris);
        assert_eq!(fr.date(t), "05/12/2026");
        assert_eq!(fr.time(t), "10:00");
        assert_eq!(fr.long_date(t), "samedi 5 décembre 2026");
        assert_eq!(fr.time_range(t, t + chrono::Duration::minutes(90)), "10:00 – 11:30 (Europe/Paris)");
        let en = Tr::new(Lang::En, chrono_tz::Europe::Paris);
        assert_eq!(en.long_date(t), "Saturday 5 December 2026");
        assert_eq!(
            fr.when(t, t + chrono::Duration::minutes(90)),
            "samedi 5 décembre 2026, 10:00 – 11:30 (Europe/Paris)"
        );
        assert_eq!(en.long_datetime(t), "Saturday 5 December 2026 at 10:00 (Europe/Paris)");
        assert_eq!(fr.long_datetime(t), "samedi 5 décembre 2026 à 10:00 (Europe/Paris)");
        let ny = Tr::new(Lang::En, chrono_tz::America::New_York);
        assert_eq!(ny.time_range(t, t + chrono::Duration::minutes(90)), "04:00 – 05:30 (America/New_York)");
        assert_eq!(
            en.ta("err-guests-max", &[("count", "51".into()), ("max", "50".into())]),
            "You listed 51 guests (the maximum is 50)."
        );
    }
}
