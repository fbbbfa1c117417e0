//! The content-line writer: property name, parameters and value written straight into a `String`
//! in one linear pass, with the escaping, cleaning and folding of RFC 5545 §3.1 applied on the way.
//!
//! * Folding: a physical line holds at most [`FOLD_LIMIT`] octets before its CRLF; a continuation
//!   line starts with one space, which counts. Folds fall on UTF-8 boundaries and never inside a
//!   two-character escape (`\n`, `\;`, `^'`…): folding there is valid, but Google reportedly drops
//!   such events (collective/icalendar#1501).
//! * TEXT values: CRLF and lone CR become LF, then `\` → `\\`, `;` → `\;`, `,` → `\,`,
//!   LF → `\n`; other control characters are dropped except TAB.
//! * Parameter values: RFC 6868 (`^` → `^^`, `"` → `^'`, LF → `^n`), TAB read as a space, control
//!   characters dropped; wrapped in DQUOTE unless every character is an ASCII letter or digit, space,
//!   `-`, `.`, `_` or `@`. A quoted value is valid everywhere, while some parsers refuse unquoted
//!   values that RFC 5545 allows (sabre/vobject 2.1 with `^` in a CN).
//! * Other values (URIs, single-line TEXT such as UID): control characters dropped.
//!
//! Cleaning happens while copying: runs of ordinary bytes are copied in one `push_str`, and no
//! intermediate string is made.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Maximum octets per physical line, excluding CRLF (RFC 5545 §3.1).
pub(crate) const FOLD_LIMIT: usize = 75;

/// How a value's characters are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// TEXT: escaped, line breaks kept as `\n`, TAB kept.
    Text,
    /// TEXT that must stay on one line (UID, PRODID, LOCATION holding a URL): escaped, every
    /// control character dropped.
    TextLine,
    /// A parameter value: RFC 6868 encoded.
    Param,
    /// A URI or a keyword: every control character dropped, nothing escaped.
    Raw,
}

/// What to do with the bytes at one position of the input.
enum Action {
    Keep,
    /// Skip this many bytes.
    Drop(usize),
    /// Write the replacement (kept whole on one physical line), skip this many bytes.
    Replace(&'static str, usize),
}

/// Bytes kept as they are in every mode: all but control characters, the C1 lead byte `0xC2` and
/// `\ ; , ^ "`. Lets [`Writer::escaped`] skip over ordinary text with one table look-up per byte.
const ORDINARY: [bool; 256] = {
    let mut table = [true; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = false;
        b += 1;
    }
    table[0x7f] = false;
    table[0xc2] = false;
    table[b'\\' as usize] = false;
    table[b';' as usize] = false;
    table[b',' as usize] = false;
    table[b'^' as usize] = false;
    table[b'"' as usize] = false;
    table
};

fn action(mode: Mode, bytes: &[u8], i: usize) -> Action {
    let b = bytes[i];
    match b {
        b'\r' | b'\n' => {
            let len = if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            match mode {
                Mode::Text => Action::Replace("\\n", len),
                Mode::Param => Action::Replace("^n", len),
                Mode::TextLine | Mode::Raw => Action::Drop(len),
            }
        }
        b'\t' => match mode {
            Mode::Text => Action::Keep,
            Mode::Param => Action::Replace(" ", 1),
            Mode::TextLine | Mode::Raw => Action::Drop(1),
        },
        0..=0x1f | 0x7f => Action::Drop(1),
        // C1 controls U+0080..U+009F, encoded C2 80..C2 9F.
        0xc2 if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => Action::Drop(2),
        b'\\' | b';' | b',' if matches!(mode, Mode::Text | Mode::TextLine) => Action::Replace(
            match b {
                b'\\' => "\\\\",
                b';' => "\\;",
                _ => "\\,",
            },
            1,
        ),
        b'^' if mode == Mode::Param => Action::Replace("^^", 1),
        b'"' if mode == Mode::Param => Action::Replace("^'", 1),
        _ => Action::Keep,
    }
}

/// Octets `value` takes once written in `mode`.
fn encoded_len(value: &str, mode: Mode) -> usize {
    let bytes = value.as_bytes();
    let mut len = 0;
    let mut i = 0;
    while i < bytes.len() {
        if ORDINARY[usize::from(bytes[i])] {
            len += 1;
            i += 1;
            continue;
        }
        i += match action(mode, bytes, i) {
            Action::Keep => {
                len += 1;
                1
            }
            Action::Drop(n) => n,
            Action::Replace(with, n) => {
                len += with.len();
                n
            }
        };
    }
    len
}

/// Whether a parameter value, once encoded, may be written without DQUOTEs: only ASCII letters,
/// digits, space, `-`, `.`, `_` and `@` (dropped control characters do not count; TAB becomes a
/// space).
fn param_is_plain(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b' ' | b'-' | b'.' | b'_' | b'@' | b'\t' => i += 1,
            b'\r' | b'\n' => return false,
            0..=0x1f | 0x7f => i += 1,
            0xc2 if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => i += 2,
            _ => return false,
        }
    }
    true
}

/// Whether nothing of `value` is left once control characters are dropped (TAB and line breaks
/// count as content when `keep_breaks`).
pub(crate) fn is_blank(value: &str, keep_breaks: bool) -> bool {
    value.chars().all(|c| c.is_control() && !(keep_breaks && matches!(c, '\t' | '\n' | '\r')))
}

/// User text normalised as a TEXT value holds it before escaping: CRLF and lone CR become LF,
/// control characters other than LF and TAB are dropped.
pub(crate) fn clean_text(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends content lines to a `String`. Every line is started with [`Writer::line`], may get
/// parameters, and is ended by exactly one value method (`text`, `raw`, `utc`…), which writes CRLF.
pub(crate) struct Writer<'a> {
    out: &'a mut String,
    /// Octets on the current physical line.
    col: usize,
}

impl<'a> Writer<'a> {
    /// A writer appending to `out`, which must be empty or end with a complete line.
    pub(crate) fn new(out: &'a mut String) -> Self {
        Self { out, col: 0 }
    }

    /// Starts a content line with a property name (ASCII, written as is).
    pub(crate) fn line(&mut self, name: &str) -> &mut Self {
        debug_assert_eq!(self.col, 0, "previous line not ended");
        self.plain(name);
        self
    }

    /// `BEGIN:<component>`.
    pub(crate) fn begin(&mut self, component: &str) {
        self.line("BEGIN").raw(component);
    }

    /// `END:<component>`.
    pub(crate) fn end(&mut self, component: &str) {
        self.line("END").raw(component);
    }

    /// `;NAME=value` with the value RFC 6868-encoded and quoted unless plain.
    pub(crate) fn param(&mut self, name: &str, value: &str) -> &mut Self {
        let plain = param_is_plain(value);
        self.keep_whole(2 + name.len() + encoded_len(value, Mode::Param) + if plain { 0 } else { 2 });
        self.unit(";");
        self.plain(name);
        self.unit("=");
        if plain {
            self.escaped(value, Mode::Param);
        } else {
            self.unit("\"");
            self.escaped(value, Mode::Param);
            self.unit("\"");
        }
        self
    }

    /// Ends the line with a TEXT value (line breaks kept as `\n`).
    pub(crate) fn text(&mut self, value: &str) {
        self.value(value, Mode::Text);
    }

    /// Ends the line with a TEXT value that must stay on one logical line (control characters,
    /// line breaks included, dropped).
    pub(crate) fn text_line(&mut self, value: &str) {
        self.value(value, Mode::TextLine);
    }

    /// Ends the line with a value written as is, control characters dropped (URIs, keywords).
    pub(crate) fn raw(&mut self, value: &str) {
        self.value(value, Mode::Raw);
    }

    /// Ends the line with a `mailto:` URI; surrounding white space of the address is dropped.
    pub(crate) fn mailto(&mut self, mail: &str) {
        let mail = mail.trim_matches(|c: char| c.is_control() || c.is_whitespace());
        self.keep_whole(":mailto:".len() + encoded_len(mail, Mode::Raw));
        self.unit(":");
        self.plain("mailto:");
        self.escaped(mail, Mode::Raw);
        self.newline();
    }

    /// Ends the line with a UTC date-time (`20261205T090000Z`).
    pub(crate) fn utc(&mut self, at: DateTime<Utc>) {
        self.keep_whole(":20261205T090000Z".len());
        self.unit(":");
        self.date_time(at);
        self.newline();
    }

    /// Ends the line with a UTC period (`start/end`).
    pub(crate) fn period(&mut self, start: DateTime<Utc>, end: DateTime<Utc>) {
        self.keep_whole(":20261205T090000Z/20261205T090000Z".len());
        self.unit(":");
        self.date_time(start);
        self.unit("/");
        self.date_time(end);
        self.newline();
    }

    /// Ends the line with an integer.
    pub(crate) fn integer(&mut self, n: u32) {
        self.unit(":");
        self.number(n);
        self.newline();
    }

    /// Ends the line with a duration of `minutes` in its most natural unit (`PT10M`, `PT1H`,
    /// `P2D`), negative (before) when `before`; zero is `PT0S`.
    pub(crate) fn duration(&mut self, minutes: u32, before: bool) {
        self.unit(":");
        if minutes == 0 {
            self.plain("PT0S");
        } else {
            if before {
                self.unit("-");
            }
            let (n, prefix, unit) = if minutes.is_multiple_of(24 * 60) {
                (minutes / (24 * 60), "P", "D")
            } else if minutes.is_multiple_of(60) {
                (minutes / 60, "PT", "H")
            } else {
                (minutes, "PT", "M")
            };
            self.plain(prefix);
            self.number(n);
            self.unit(unit);
        }
        self.newline();
    }

    fn value(&mut self, value: &str, mode: Mode) {
        if mode == Mode::Raw {
            self.keep_whole(1 + encoded_len(value, mode));
        }
        self.unit(":");
        self.escaped(value, mode);
        self.newline();
    }

    /// Folds now if the next `len` octets do not fit on the current line but fit on the next one:
    /// parameters, addresses and URIs are kept whole on one physical line where possible. Only
    /// cosmetic (unfolding comes first in every parser), but the lines stay readable, and a search of
    /// the raw text for `PARTSTAT=ACCEPTED` or an address finds it.
    fn keep_whole(&mut self, len: usize) {
        if self.col + len > FOLD_LIMIT && len < FOLD_LIMIT {
            self.fold();
        }
    }

    fn newline(&mut self) {
        self.out.push_str("\r\n");
        self.col = 0;
    }

    fn fold(&mut self) {
        self.out.push_str("\r\n ");
        self.col = 1;
    }

    /// Writes a short string that must not be split across physical lines.
    fn unit(&mut self, s: &str) {
        if self.col + s.len() > FOLD_LIMIT {
            self.fold();
        }
        self.out.push_str(s);
        self.col += s.len();
    }

    /// Writes text needing no escaping, folding on character boundaries.
    fn plain(&mut self, mut s: &str) {
        while self.col + s.len() > FOLD_LIMIT {
            let mut cut = FOLD_LIMIT - self.col;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.out.push_str(&s[..cut]);
            self.fold();
            s = &s[cut..];
        }
        self.out.push_str(s);
        self.col += s.len();
    }

    /// Writes `value` cleaned and escaped for `mode`: runs of bytes kept as they are go out in
    /// one piece.
    fn escaped(&mut self, value: &str, mode: Mode) {
        let bytes = value.as_bytes();
        let mut run = 0;
        let mut i = 0;
        while i < bytes.len() {
            if ORDINARY[usize::from(bytes[i])] {
                i += 1;
                continue;
            }
            let skip = match action(mode, bytes, i) {
                Action::Keep => {
                    i += 1;
                    continue;
                }
                Action::Drop(n) => {
                    self.plain(&value[run..i]);
                    n
                }
                Action::Replace(with, n) => {
                    self.plain(&value[run..i]);
                    self.unit(with);
                    n
                }
            };
            // Only ASCII bytes and C1 lead bytes are acted on: `i` and `i + skip` are char
            // boundaries.
            i += skip;
            run = i;
        }
        self.plain(&value[run..]);
    }

    fn number(&mut self, mut n: u32) {
        let mut buf = [0u8; 10];
        let mut at = buf.len();
        loop {
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.plain(std::str::from_utf8(&buf[at..]).expect("ASCII digits"));
    }

    fn date_time(&mut self, at: DateTime<Utc>) {
        let year = at.year();
        if !(0..=9999).contains(&year) {
            // Not representable in iCalendar; written as chrono does, never reached in practice.
            let s = at.format("%Y%m%dT%H%M%SZ").to_string();
            self.plain(&s);
            return;
        }
        let at = at.naive_utc();
        let mut buf = *b"00000000T000000Z";
        let mut put = |pos: usize, width: usize, mut v: u32| {
            for k in (pos..pos + width).rev() {
                buf[k] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year.unsigned_abs());
        put(4, 2, at.month());
        put(6, 2, at.day());
        put(9, 2, at.hour());
        put(11, 2, at.minute());
        put(13, 2, at.second());
        self.plain(std::str::from_utf8(&buf).expect("ASCII digits"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut Writer<'_>)) -> String {
        let mut out = String::new();
        f(&mut Writer::new(&mut out));
        out
    }

    #[test]
    fn text_is_cleaned_and_escaped() {
        let out = written(|w| w.line("SUMMARY").text("a\\b;c,d\ne\r\nf\rg\th\u{0}i\u{7f}j\u{85}k:é"));
        assert_eq!(out, "SUMMARY:a\\\\b\\;c\\,d\\ne\\nf\\ng\thijk:é\r\n");
    }

    #[test]
    fn single_line_text_drops_breaks() {
        let out = written(|w| w.line("UID").text_line("a\r\nb;c\td"));
        assert_eq!(out, "UID:ab\\;cd\r\n");
    }

    #[test]
    fn parameters_are_encoded_and_quoted_unless_plain() {
        let out = written(|w| w.line("X").param("A", "Jean Dupont-x_y.z@w").param("B", "").raw("v"));
        assert_eq!(out, "X;A=Jean Dupont-x_y.z@w;B=:v\r\n");
        let out = written(|w| w.line("X").param("CN", "a\"b^c\r\nd\te:f;g,h\u{1}").raw("v"));
        assert_eq!(out, "X;CN=\"a^'b^^c^nd e:f;g,h\":v\r\n");
        let out = written(|w| w.line("X").param("CN", "Zoé").raw("v"));
        assert_eq!(out, "X;CN=\"Zoé\":v\r\n");
        let out = written(|w| w.line("X").param("CN", "Bob\u{1}").raw("v"));
        assert_eq!(out, "X;CN=Bob:v\r\n");
    }

    #[test]
    fn folds_at_75_octets_with_space_counted() {
        let out = written(|w| w.line("SUMMARY").text(&"x".repeat(200)));
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines[0].len(), 75);
        assert_eq!(lines[1].len(), 75);
        assert!(lines[1].starts_with(' '));
        assert_eq!(lines[2].len(), 200 + "SUMMARY:".len() - 75 - 74 + 1);
        assert_eq!(lines[3], "");
        // Exactly 75 octets: no fold.
        let out = written(|w| w.line("SUMMARY").text(&"x".repeat(75 - 8)));
        assert_eq!(out.len(), 77);
    }

    #[test]
    fn parameters_and_addresses_are_kept_whole_when_they_fit() {
        let out = written(|w| {
            w.line("ATTENDEE")
                .param("CN", "Marie-Claire Martin-Dupont")
                .param("CUTYPE", "INDIVIDUAL")
                .param("ROLE", "REQ-PARTICIPANT")
                .param("PARTSTAT", "NEEDS-ACTION")
                .mailto("marie-claire.martin-dupont@example.org")
        });
        assert_eq!(
            out,
            "ATTENDEE;CN=Marie-Claire Martin-Dupont;CUTYPE=INDIVIDUAL\r\n \
             ;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION\r\n \
             :mailto:marie-claire.martin-dupont@example.org\r\n"
        );
        // Longer than a line: folded where the limit falls.
        let long = "x".repeat(100);
        let out = written(|w| w.line("ATTENDEE").param("CN", &long).mailto("a@b"));
        assert!(out.starts_with(&format!("ATTENDEE;CN={}\r\n", &long[..75 - 12])), "{out}");
    }

    #[test]
    fn escapes_and_characters_are_never_split() {
        for pad in 0..4 {
            let value = format!("{}{}", "x".repeat(pad), "é\\😀;€,".repeat(40));
            let out = written(|w| w.line("SUMMARY").text(&value));
            for l in out.split("\r\n") {
                assert!(l.len() <= 75);
                assert_eq!(l.bytes().rev().take_while(|b| *b == b'\\').count() % 2, 0, "{l:?}");
            }
        }
    }

    #[test]
    fn values_of_other_types() {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 2, 3, 4, 5).single().expect("date");
        assert_eq!(written(|w| w.line("DTSTAMP").utc(at)), "DTSTAMP:20260102T030405Z\r\n");
        assert_eq!(written(|w| w.line("FREEBUSY").period(at, at)), "FREEBUSY:20260102T030405Z/20260102T030405Z\r\n");
        assert_eq!(written(|w| w.line("SEQUENCE").integer(0)), "SEQUENCE:0\r\n");
        assert_eq!(written(|w| w.line("SEQUENCE").integer(4_294_967_295)), "SEQUENCE:4294967295\r\n");
        assert_eq!(written(|w| w.line("T").duration(0, true)), "T:PT0S\r\n");
        assert_eq!(written(|w| w.line("T").duration(10, true)), "T:-PT10M\r\n");
        assert_eq!(written(|w| w.line("T").duration(120, false)), "T:PT2H\r\n");
        assert_eq!(written(|w| w.line("T").duration(2880, true)), "T:-P2D\r\n");
        assert_eq!(written(|w| w.line("A").mailto(" \u{1}bob@x\r\n ")), "A:mailto:bob@x\r\n");
    }
}
