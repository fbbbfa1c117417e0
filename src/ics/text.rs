//! Low-level text hygiene for iCalendar output: input sanitising, RFC 6868 parameter encoding,
//! TEXT escaping for the properties the `icalendar` crate leaves raw, and the final
//! unfold/refold pass that guarantees CRLF line ends and 75-octet folding.

/// Normalises user text for a TEXT value: CRLF and lone CR become LF (the crate would let a
/// raw CR through), and other control characters are dropped (RFC 5545 allows only HTAB).
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

/// For values that must stay on one logical line and are not TEXT-escaped (URIs, addresses):
/// every control character is dropped.
pub(crate) fn clean_line(input: &str) -> String {
    input.chars().filter(|c| !c.is_control()).collect()
}

/// Encodes a parameter value (CN, LABEL…) per RFC 6868: `^` → `^^`, `"` → `^'`, newline → `^n`.
/// A DQUOTE cannot appear in a parameter value at all, and the crate writes it unencoded.
/// The crate adds the surrounding DQUOTEs itself when the value contains `:` `;` or `,`.
pub(crate) fn param_value(input: &str) -> String {
    let cleaned = clean_text(input);
    let mut out = String::with_capacity(cleaned.len());
    for c in cleaned.chars() {
        match c {
            '^' => out.push_str("^^"),
            '"' => out.push_str("^'"),
            '\n' => out.push_str("^n"),
            // A tab is legal but useless in a name; a space reads the same.
            '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// RFC 5545 §3.3.11 TEXT escaping, for the few properties (RFC 7986 `NAME`) that the crate does
/// not know as TEXT and would otherwise write raw.
pub(crate) fn escape_text(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 8);
    for c in input.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Maximum octets per physical line, excluding CRLF (RFC 5545 §3.1).
const FOLD_LIMIT: usize = 75;

/// Rewrites the crate's serialisation into jmb's final form, in one linear pass:
/// * undoes the crate's folding (it may split a `\n` escape, which Google mishandles, and its
///   fold point search is not linear) and refolds at 75 octets on UTF-8 boundaries, never
///   inside a backslash escape;
/// * drops `DTSTAMP`/`UID` inside `VALARM`: the crate invents them (current time, random UUID)
///   when absent, which would make identical input render to different bytes and churn ETags;
/// * ends every line with CRLF.
pub(crate) fn finish(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + raw.len() / 32 + 16);
    let mut logical = String::with_capacity(256);
    let mut in_alarm = false;
    let flush = |logical: &mut String, out: &mut String, in_alarm: &mut bool| {
        if logical.is_empty() {
            return;
        }
        match logical.as_str() {
            "BEGIN:VALARM" => *in_alarm = true,
            "END:VALARM" => *in_alarm = false,
            l if *in_alarm && (l.starts_with("DTSTAMP:") || l.starts_with("UID:")) => {
                logical.clear();
                return;
            }
            _ => {}
        }
        fold_into(logical, out);
        logical.clear();
    };
    // The crate terminates lines with CRLF; be tolerant of a bare LF too.
    for physical in raw.split('\n') {
        let physical = physical.strip_suffix('\r').unwrap_or(physical);
        if let Some(cont) = physical.strip_prefix(' ') {
            logical.push_str(cont);
        } else {
            flush(&mut logical, &mut out, &mut in_alarm);
            logical.push_str(physical);
        }
    }
    flush(&mut logical, &mut out, &mut in_alarm);
    out
}

/// Appends `line` folded to `out`, with CRLF after each physical line.
fn fold_into(line: &str, out: &mut String) {
    let mut used = 0usize; // octets on the current physical line
    let mut limit = FOLD_LIMIT;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        // A backslash escape is kept on one physical line with the character it escapes.
        let mut unit = [c, '\0'];
        let mut unit_len = c.len_utf8();
        let mut n = 1;
        if c == '\\'
            && let Some(next) = chars.next()
        {
            unit[1] = next;
            unit_len += next.len_utf8();
            n = 2;
        }
        if used + unit_len > limit {
            out.push_str("\r\n ");
            used = 0;
            // The leading space of a continuation line counts towards its 75 octets.
            limit = FOLD_LIMIT - 1;
        }
        for ch in &unit[..n] {
            out.push(*ch);
        }
        used += unit_len;
    }
    out.push_str("\r\n");
}
