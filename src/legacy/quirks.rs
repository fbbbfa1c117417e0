//! The original's data as it really is: values read whatever type SQLite stored them as, and the
//! known damage repaired — subjects in Latin-1 or UTF-8 read as Latin-1, quotes doubled or
//! backslash-escaped by shell-built SQL, answers stored as `''`, times stored as local date strings by
//! hand-made migrations, creation times missing (then taken from the nanosecond meeting id).
//!
//! Every function here is pure: it returns the repaired value, or why the value cannot be used.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use rusqlite::types::Value;

/// A text as the original stored it: TEXT, or BLOB when bytes that are not UTF-8 went through
/// `sqlite3`'s shell (Latin-1 subjects from old browsers and the flat-file migration).
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.clone()),
        Value::Blob(b) => Some(match std::str::from_utf8(b) {
            Ok(s) => s.to_string(),
            Err(_) => latin1(b),
        }),
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Null => None,
    }
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// What was repaired in a subject, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectFix {
    Latin1,
    Mojibake,
    Quotes,
}

impl SubjectFix {
    pub fn describe(self) -> &'static str {
        match self {
            SubjectFix::Latin1 => "subject stored in Latin-1, converted to UTF-8",
            SubjectFix::Mojibake => "subject was UTF-8 read as Latin-1 (\"RÃ©union\"), repaired",
            SubjectFix::Quotes => "subject had SQL-escaped quotes ('' or \\'), unescaped",
        }
    }
}

/// The subject as people typed it, and what was repaired. An empty subject becomes `fallback`.
pub fn subject(v: &Value, fallback: &str) -> (String, Vec<SubjectFix>) {
    let mut fixes = Vec::new();
    let mut s = match v {
        Value::Blob(b) if std::str::from_utf8(b).is_err() => {
            fixes.push(SubjectFix::Latin1);
            latin1(b)
        }
        other => text(other).unwrap_or_default(),
    };
    if let Some(repaired) = undo_mojibake(&s) {
        fixes.push(SubjectFix::Mojibake);
        s = repaired;
    }
    if s.contains("''") || s.contains("\\'") {
        fixes.push(SubjectFix::Quotes);
        s = s.replace("\\'", "'").replace("''", "'");
    }
    // Control characters (a stray newline from a shell heredoc) have no place in a subject line.
    let s: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() { (fallback.to_string(), fixes) } else { (s, fixes) }
}

/// UTF-8 bytes that were decoded as Latin-1 and stored again as UTF-8 ("RÃ©union"): every character
/// fits in a byte and those bytes are valid UTF-8 with at least one multi-byte sequence.
fn undo_mojibake(s: &str) -> Option<String> {
    if s.is_ascii() || s.chars().any(|c| u32::from(c) > 0xFF) {
        return None;
    }
    let bytes: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
    let repaired = String::from_utf8(bytes).ok()?;
    (repaired != s).then_some(repaired)
}

/// An integer the original stored as INTEGER, REAL or TEXT (the flat-file migration quoted every
/// value, and SQLite keeps text that does not look like a number as text).
pub fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        Value::Real(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18 => Some(*f as i64),
        Value::Text(s) => s.trim().parse().ok(),
        Value::Blob(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// An instant: epoch seconds (as the original writes them), or — from hand-made migrations — a date
/// written in the server's local zone (`2024-02-23 10:00[:00]`, `2024-02-23T10:00`, `23/02/2024 10:00`).
/// A local time that does not exist (the spring-forward hour) is refused; one that exists twice
/// (autumn) is the first.
pub fn instant(v: &Value, zone: chrono_tz::Tz) -> Result<DateTime<Utc>, String> {
    if let Some(secs) = integer(v) {
        // A nanosecond or millisecond count slipped into a seconds column.
        let secs = if secs > 100_000_000_000_000 {
            secs / 1_000_000_000
        } else if secs > 100_000_000_000 {
            secs / 1000
        } else {
            secs
        };
        return DateTime::from_timestamp(secs, 0)
            .filter(|t| secs > 0 && t.timestamp() < 32_503_680_000)
            .ok_or_else(|| format!("{secs} is not a plausible time"));
    }
    let raw = text(v).ok_or("no time")?;
    let raw = raw.trim();
    const FORMATS: [&str; 6] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
    ];
    let local = FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        .ok_or_else(|| format!("{raw:?} is neither epoch seconds nor a date"))?;
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t.with_timezone(&Utc)),
        LocalResult::None => Err(format!("{raw:?} does not exist in {zone} (clocks went forward)")),
    }
}

/// The meeting's creation time when `meeting_create` is missing: the original's meeting ids are the
/// nanosecond time the form was shown (`date +%s%N`).
pub fn time_from_nanosecond_id(id: i64) -> Option<DateTime<Utc>> {
    (id > 1_000_000_000_000_000_000 / 1000).then(|| DateTime::from_timestamp(id / 1_000_000_000, 0)).flatten()
}

/// An answer code: 0, 1 or 2, as INTEGER or TEXT; `''` and NULL (damaged rows) are "no answer".
/// `Err` carries what was found, for the report (the row is still imported, as "no answer").
pub fn partstat(v: &Value) -> Result<i64, String> {
    match v {
        Value::Null => Ok(0),
        Value::Text(s) if s.trim().is_empty() => Ok(0),
        other => match integer(other) {
            Some(code @ 0..=2) => Ok(code),
            _ => Err(format!("{:?}", text(other).unwrap_or_default())),
        },
    }
}

/// A Jitsi room name as jmb stores it: lower-case, at least 16 characters of `[a-z0-9_-]`.
pub fn room(v: &Value) -> Option<String> {
    let r = text(v)?.trim().to_lowercase();
    (r.len() >= 16
        && r.len() <= 64
        && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'))
    .then_some(r)
}

/// A personal-link or feed hash as the original generated it (`pwgen -s 16`): `[A-Za-z0-9]`, kept
/// exactly (links in mailboxes carry it). Shorter or odd values cannot be stored as a jmb token.
pub fn hash(v: &Value) -> Option<String> {
    let h = text(v)?.trim().to_string();
    (h.len() >= 16 && h.len() <= 64 && h.chars().all(|c| c.is_ascii_alphanumeric())).then_some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn subjects_are_repaired() {
        assert_eq!(subject(&t("Réunion"), "x"), ("Réunion".into(), vec![]));
        let (s, f) = subject(&Value::Blob(b"R\xe9union d'\xe9quipe".to_vec()), "x");
        assert_eq!((s.as_str(), f.as_slice()), ("Réunion d'équipe", [SubjectFix::Latin1].as_slice()));
        let (s, f) = subject(&t("RÃ©union"), "x");
        assert_eq!((s.as_str(), f.as_slice()), ("Réunion", [SubjectFix::Mojibake].as_slice()));
        let (s, f) = subject(&t("Point d''étape"), "x");
        assert_eq!((s.as_str(), f.as_slice()), ("Point d'étape", [SubjectFix::Quotes].as_slice()));
        assert_eq!(subject(&t("l\\'ordre"), "x").0, "l'ordre");
        assert_eq!(subject(&t("  "), "Réunion sans objet").0, "Réunion sans objet");
        assert_eq!(subject(&Value::Null, "Réunion sans objet").0, "Réunion sans objet");
        assert_eq!(subject(&t("a\nb"), "x").0, "a b");
        // Real Latin-1 text that happens to be stored as UTF-8 ("é" alone) is not "repaired".
        assert_eq!(subject(&t("Café"), "x"), ("Café".into(), vec![]));
    }

    #[test]
    fn times_in_every_shape() {
        let paris = chrono_tz::Europe::Paris;
        let want: DateTime<Utc> = "2024-02-23T09:00:00Z".parse().unwrap();
        assert_eq!(instant(&Value::Integer(want.timestamp()), paris).unwrap(), want);
        assert_eq!(instant(&t(&want.timestamp().to_string()), paris).unwrap(), want);
        assert_eq!(instant(&Value::Real(want.timestamp() as f64), paris).unwrap(), want);
        assert_eq!(instant(&t("2024-02-23 10:00"), paris).unwrap(), want, "local time, winter: UTC+1");
        assert_eq!(instant(&t("23/02/2024 10:00:00"), paris).unwrap(), want);
        assert_eq!(
            instant(&t("2024-07-01 10:00"), paris).unwrap(),
            "2024-07-01T08:00:00Z".parse::<DateTime<Utc>>().unwrap(),
            "summer: UTC+2"
        );
        assert!(instant(&t("2024-03-31 02:30"), paris).unwrap_err().contains("does not exist"));
        assert_eq!(
            instant(&t("2024-10-27 02:30"), paris).unwrap(),
            "2024-10-27T00:30:00Z".parse::<DateTime<Utc>>().unwrap(),
            "ambiguous: the first"
        );
        assert_eq!(instant(&Value::Integer(want.timestamp() * 1_000_000_000), paris).unwrap(), want);
        assert!(instant(&t("demain"), paris).is_err());
        assert!(instant(&Value::Null, paris).is_err());
        assert!(instant(&Value::Integer(0), paris).is_err());
        assert!(instant(&Value::Integer(-5), paris).is_err());
    }

    #[test]
    fn ids_answers_rooms_hashes() {
        assert_eq!(
            time_from_nanosecond_id(1_708_712_345_123_456_789).unwrap(),
            DateTime::from_timestamp(1_708_712_345, 0).unwrap()
        );
        assert_eq!(time_from_nanosecond_id(12345), None);
        assert_eq!(partstat(&Value::Integer(2)), Ok(2));
        assert_eq!(partstat(&t("1")), Ok(1));
        assert_eq!(partstat(&t("")), Ok(0));
        assert_eq!(partstat(&Value::Null), Ok(0));
        assert!(partstat(&Value::Integer(7)).is_err());
        assert!(partstat(&t("oui")).is_err());
        assert_eq!(room(&t(" AbcdefghijKlmnop ")).as_deref(), Some("abcdefghijklmnop"));
        assert_eq!(room(&t("short")), None);
        assert_eq!(room(&t("abcdefghijklmnop/x")), None);
        assert_eq!(hash(&t("AbCdEfGh12345678")).as_deref(), Some("AbCdEfGh12345678"));
        assert_eq!(hash(&t("")), None);
        assert_eq!(hash(&Value::Null), None);
        assert_eq!(hash(&t("AbCd'EfGh12345678")), None);
        assert_eq!(integer(&t(" 42 ")), Some(42));
        assert_eq!(text(&Value::Blob(b"caf\xe9".to_vec())).as_deref(), Some("café"));
    }
}
