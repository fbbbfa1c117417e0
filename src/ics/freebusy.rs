//! Free-busy bodies: a `VCALENDAR` holding one `VFREEBUSY` (RFC 5545 §3.6.4), as the CalDAV
//! `free-busy-query` REPORT answers it (RFC 4791 §7.10).
//!
//! Self-contained on purpose (its own line cleaning and folding), so that it does not depend on
//! the rest of this module's internals: only busy time is written (`FBTYPE=BUSY` or
//! `BUSY-TENTATIVE`, never `FREE`), every time in UTC, one period per `FREEBUSY` line, lines sorted
//! by start, periods of one kind that overlap or touch merged, CRLF line ends, lines folded at 75
//! octets without splitting a UTF-8 sequence.

use chrono::{DateTime, Utc};

/// How an event occupies time (RFC 5545 §3.2.9 `FBTYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BusyKind {
    /// `FBTYPE=BUSY`
    Busy,
    /// `FBTYPE=BUSY-TENTATIVE`
    Tentative,
}

impl BusyKind {
    fn fbtype(self) -> &'static str {
        match self {
            BusyKind::Busy => "BUSY",
            BusyKind::Tentative => "BUSY-TENTATIVE",
        }
    }
}

/// One busy interval; periods whose end is not after their start are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusyPeriod {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub kind: BusyKind,
}

/// A `VCALENDAR` with one `VFREEBUSY` for `start`..`end` listing `periods` (in any order; the caller
/// clips them to the range if it wants them clipped).
pub fn render_freebusy(
    prodid: &str,
    uid: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    stamp: DateTime<Utc>,
    periods: &[BusyPeriod],
) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        format!("PRODID:{}", one_line(prodid)),
        "CALSCALE:GREGORIAN".into(),
        "BEGIN:VFREEBUSY".into(),
        format!("UID:{}", one_line(uid)),
        format!("DTSTAMP:{}", utc(stamp)),
        format!("DTSTART:{}", utc(start)),
        format!("DTEND:{}", utc(end)),
    ];
    for p in merged(periods) {
        lines.push(format!("FREEBUSY;FBTYPE={}:{}/{}", p.kind.fbtype(), utc(p.start), utc(p.end)));
    }
    lines.push("END:VFREEBUSY".into());
    lines.push("END:VCALENDAR".into());
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 8).sum());
    for line in &lines {
        fold_into(line, &mut out);
    }
    out
}

/// Periods sorted by start (then kind), each kind's overlapping or adjacent periods merged.
fn merged(periods: &[BusyPeriod]) -> Vec<BusyPeriod> {
    let mut by_kind: Vec<BusyPeriod> = periods.iter().filter(|p| p.end > p.start).copied().collect();
    by_kind.sort_by_key(|p| (p.kind, p.start, p.end));
    let mut out: Vec<BusyPeriod> = Vec::with_capacity(by_kind.len());
    for p in by_kind {
        match out.last_mut() {
            Some(last) if last.kind == p.kind && p.start <= last.end => last.end = last.end.max(p.end),
            _ => out.push(p),
        }
    }
    out.sort_by_key(|p| (p.start, p.kind, p.end));
    out
}

fn utc(dt: DateTime<Utc>) -> String {
    dt.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A value that must stay on one content line: control characters (CR, LF…) dropped.
fn one_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Appends `line` folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8 sequence, with CRLF.
fn fold_into(line: &str, out: &mut String) {
    const MAX: usize = 75;
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > MAX {
            out.push_str("\r\n ");
            used = 1; // the leading space counts
        }
        out.push(c);
        used += c.len_utf8();
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).single().expect("valid date")
    }

    fn p(start: DateTime<Utc>, end: DateTime<Utc>, kind: BusyKind) -> BusyPeriod {
        BusyPeriod { start, end, kind }
    }

    #[test]
    fn sorted_merged_per_kind_and_crlf() {
        let periods = [
            p(at(5, 14, 0), at(5, 15, 0), BusyKind::Busy),
            p(at(5, 9, 0), at(5, 10, 0), BusyKind::Busy),
            p(at(5, 9, 30), at(5, 11, 0), BusyKind::Busy),
            p(at(5, 11, 0), at(5, 12, 0), BusyKind::Busy), // touches: merged
            p(at(5, 9, 45), at(5, 10, 15), BusyKind::Tentative), // other kind: kept apart
            p(at(5, 16, 0), at(5, 16, 0), BusyKind::Busy), // empty: dropped
        ];
        let body = render_freebusy("-//Example//jmb//FR", "fb-1", at(5, 0, 0), at(6, 0, 0), at(1, 8, 0), &periods);
        assert_eq!(
            body,
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//jmb//FR\r\nCALSCALE:GREGORIAN\r\n\
BEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20261201T080000Z\r\nDTSTART:20261205T000000Z\r\nDTEND:20261206T000000Z\r\n\
FREEBUSY;FBTYPE=BUSY:20261205T090000Z/20261205T120000Z\r\n\
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20261205T094500Z/20261205T101500Z\r\n\
FREEBUSY;FBTYPE=BUSY:20261205T140000Z/20261205T150000Z\r\n\
END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
        );
    }

    #[test]
    fn no_period_gives_an_empty_vfreebusy_and_long_lines_fold() {
        let prodid = format!("-//{}//jmb//FR", "é".repeat(60));
        let body = render_freebusy(&prodid, "u\r\nX-INJECTED:1", at(5, 0, 0), at(6, 0, 0), at(1, 8, 0), &[]);
        assert!(!body.contains("FREEBUSY;"));
        assert!(body.contains("UID:uX-INJECTED:1\r\n"));
        for line in body.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
        let unfolded = body.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("PRODID:{prodid}\r\n")));
    }
}
