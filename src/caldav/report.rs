//! REPORT: `calendar-query` (RFC 4791 §7.8) with an optional time range, `calendar-multiget`
//! (§7.9), `free-busy-query` (§7.10) and `sync-collection` (RFC 6578) on the calendar,
//! `calendar-multiget` on an object too, and `expand-property` (RFC 3253 §3.8, in
//! [`super::expand`]) anywhere. Anything else is 403 `supported-report`; the same lists are served
//! as `supported-report-set`.

use std::collections::HashSet;

use axum::body::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use super::props::{PropRequest, Res, write_response, write_status, write_status_response};
use super::xml::{Element, NS_CALDAV, NS_DAV, XmlOut, parse};
use super::{Answer, Ctx, DavError, Precondition, SyncError, Target, calendar_href, object_href};
use crate::ics::{BusyPeriod, render_freebusy};

pub(crate) async fn report(ctx: &Ctx<'_>, target: &Target, body: &[u8]) -> Result<Answer, DavError> {
    let root = parse(body)?.ok_or(DavError::BadRequest("REPORT needs a body"))?;
    let on_calendar = matches!(target, Target::Calendar(_));
    let multistatus = if root.is(NS_CALDAV, "calendar-query") && on_calendar {
        calendar_query(ctx, &root).await?
    } else if root.is(NS_CALDAV, "calendar-multiget") && matches!(target, Target::Calendar(_) | Target::Object(..)) {
        multiget(ctx, target, &root).await?
    } else if root.is(NS_DAV, "sync-collection") && on_calendar {
        sync_collection(ctx, &root).await?
    } else if root.is(NS_CALDAV, "free-busy-query") && on_calendar {
        return Ok(Answer::Calendar(free_busy(ctx, &root).await?));
    } else if root.is(NS_DAV, "expand-property") {
        super::expand::expand_property(ctx, target, &root).await?
    } else {
        return Err(DavError::Forbidden(Precondition::SupportedReport));
    };
    Ok(Answer::Multistatus(multistatus))
}

/// What a calendar-query filter selects.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum QueryFilter {
    All,
    Nothing,
    Range(Option<DateTime<Utc>>, Option<DateTime<Utc>>),
}

/// A `prop-filter` on `UID` with a `text-match` (RFC 4791 §9.7.2, §9.7.5): how clients such as
/// python caldav look an event up by UID. Other properties are not supported.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UidMatch {
    text: String,
    /// `i;octet` compares bytes; `i;ascii-casemap` (the default) ignores ASCII case.
    casemap: bool,
    /// `equals`, `contains` (the default), `starts-with` or `ends-with`.
    match_type: String,
    negate: bool,
}

impl UidMatch {
    fn parse(prop_filter: &Element) -> Result<Self, DavError> {
        let unsupported = DavError::Forbidden(Precondition::SupportedFilter);
        if !prop_filter.attr("name").unwrap_or_default().trim().eq_ignore_ascii_case("UID") {
            return Err(unsupported);
        }
        let [tm] = prop_filter.children.as_slice() else { return Err(unsupported) };
        if !tm.is(NS_CALDAV, "text-match") {
            return Err(unsupported);
        }
        let casemap = match tm.attr("collation").unwrap_or("i;ascii-casemap") {
            "i;ascii-casemap" => true,
            "i;octet" => false,
            _ => return Err(DavError::Forbidden(Precondition::SupportedCollation)),
        };
        let match_type = tm.attr("match-type").unwrap_or("contains").to_string();
        if !["equals", "contains", "starts-with", "ends-with"].contains(&match_type.as_str()) {
            return Err(DavError::Forbidden(Precondition::ValidFilter));
        }
        let negate = tm.attr("negate-condition").is_some_and(|v| v == "yes");
        Ok(UidMatch { text: tm.text.trim().to_string(), casemap, match_type, negate })
    }

    fn matches(&self, uid: &str) -> bool {
        let (hay, needle) = if self.casemap {
            (uid.to_ascii_lowercase(), self.text.to_ascii_lowercase())
        } else {
            (uid.to_string(), self.text.clone())
        };
        let hit = match self.match_type.as_str() {
            "equals" => hay == needle,
            "starts-with" => hay.starts_with(&needle),
            "ends-with" => hay.ends_with(&needle),
            _ => hay.contains(&needle),
        };
        hit != self.negate
    }
}

/// The UID of a rendered object (unfolded: the line may continue on lines starting with a space).
fn object_uid(body: &str) -> String {
    let Some(start) = body.find("\r\nUID:") else { return String::new() };
    let mut out = String::new();
    for (i, line) in body[start + 2..].split("\r\n").enumerate() {
        if i == 0 {
            out.push_str(&line[4..]);
        } else if let Some(cont) = line.strip_prefix(' ') {
            out.push_str(cont);
        } else {
            break;
        }
    }
    out
}

fn comp_name(el: &Element) -> String {
    el.attr("name").unwrap_or_default().trim().to_ascii_uppercase()
}

/// Interprets `<c:filter>`: `VCALENDAR` ⊃ optional `VEVENT` ⊃ optional `time-range` and
/// optional `prop-filter` on `UID`. Other component names match nothing (there are only events),
/// unless negated with `is-not-defined`; other property filters and parameter filters are not
/// supported (403 `supported-filter`).
pub(crate) fn interpret_filter(filter: Option<&Element>) -> Result<(QueryFilter, Option<UidMatch>), DavError> {
    let mut uid_match = None;
    let base = interpret_filter_inner(filter, &mut uid_match)?;
    Ok((base, uid_match))
}

fn interpret_filter_inner(filter: Option<&Element>, uid_match: &mut Option<UidMatch>) -> Result<QueryFilter, DavError> {
    let unsupported = DavError::Forbidden(Precondition::SupportedFilter);
    let invalid = DavError::Forbidden(Precondition::ValidFilter);
    let Some(filter) = filter else {
        return Ok(QueryFilter::All);
    };
    let vcal = match filter.children.as_slice() {
        [] => return Ok(QueryFilter::All),
        [one] if one.is(NS_CALDAV, "comp-filter") && comp_name(one) == "VCALENDAR" => one,
        _ => return Err(invalid),
    };
    let mut comps = Vec::new();
    for child in &vcal.children {
        if child.is(NS_CALDAV, "is-not-defined") {
            return Ok(QueryFilter::Nothing);
        } else if child.is(NS_CALDAV, "comp-filter") {
            comps.push(child);
        } else {
            return Err(unsupported);
        }
    }
    let comp = match comps.as_slice() {
        [] => return Ok(QueryFilter::All),
        [one] => *one,
        _ => return Err(unsupported),
    };
    if comp_name(comp) != "VEVENT" {
        // There are only events: another component is never defined, so it matches nothing,
        // and its `is-not-defined` matches everything.
        let negated = comp.children.iter().any(|c| c.is(NS_CALDAV, "is-not-defined"));
        return Ok(if negated { QueryFilter::All } else { QueryFilter::Nothing });
    }
    let mut range = None;
    for child in &comp.children {
        if child.is(NS_CALDAV, "is-not-defined") {
            return Ok(QueryFilter::Nothing);
        } else if child.is(NS_CALDAV, "time-range") && range.is_none() {
            let start = child.attr("start").map(parse_utc).transpose().map_err(|()| invalid_filter())?;
            let end = child.attr("end").map(parse_utc).transpose().map_err(|()| invalid_filter())?;
            range = Some((start, end));
        } else if child.is(NS_CALDAV, "prop-filter") && uid_match.is_none() {
            *uid_match = Some(UidMatch::parse(child)?);
        } else {
            return Err(unsupported);
        }
    }
    Ok(match range {
        Some((None, None)) | None => QueryFilter::All,
        Some((start, end)) => QueryFilter::Range(start, end),
    })
}

fn invalid_filter() -> DavError {
    DavError::Forbidden(Precondition::ValidFilter)
}

/// A CalDAV UTC date-time, `20261205T000000Z`.
fn parse_utc(s: &str) -> Result<DateTime<Utc>, ()> {
    let s = s.trim();
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')).ok_or(())?;
    NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").map(|n| n.and_utc()).map_err(|_| ())
}

async fn calendar_query(ctx: &Ctx<'_>, root: &Element) -> Result<Bytes, DavError> {
    let req = PropRequest::from_parent(root)?.with_getetag();
    let uid = ctx.principal.uid.as_str();
    // Depth is ignored: Evolution sends Depth 0 and still means the members.
    let (filter, uid_match) = interpret_filter(root.child(NS_CALDAV, "filter"))?;
    let mut objects = match filter {
        QueryFilter::All => ctx.backend.objects(uid, None).await?,
        QueryFilter::Nothing => Vec::new(),
        QueryFilter::Range(start, end) => ctx.backend.objects(uid, Some((start, end))).await?,
    };
    if let Some(m) = uid_match {
        objects.retain(|o| m.matches(&object_uid(&o.body_text())));
    }
    let mut out = XmlOut::multistatus(req.answer_capacity(&objects), ctx.config.max_answer_bytes);
    for obj in &objects {
        if out.is_full() {
            break;
        }
        write_response(&mut out, ctx, &object_href(uid, &obj.name), Res::Object(obj), &req);
    }
    Ok(out.finish_multistatus()?)
}

/// Turns a multiget href (a path or an absolute URL, percent-encoded, possibly relative to
/// the calendar) into the object name it addresses for this user, if any.
fn object_name_of(href: &str, uid: &str) -> Option<String> {
    let href = href.trim();
    let path = if let Some(i) = href.find("://") {
        let after = &href[i + 3..];
        &after[after.find('/')?..]
    } else {
        href
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let target = if path.starts_with('/') {
        Target::parse(path)?
    } else {
        // Relative to the calendar collection (the request URI).
        let name = percent_decode_str(path).decode_utf8().ok()?;
        Target::Object(uid.to_owned(), name.into_owned())
    };
    match target {
        Target::Object(u, name) if u == uid => Some(name),
        _ => None,
    }
}

/// Answers each href once: a repeated href is answered at its first occurrence, and an object
/// already answered under another spelling of its href (`@` or `%40`, a path or a full URL) is
/// not answered again, so a multiget can never return more than the calendar. (RFC 4791 §7.9
/// asks for one response per href; a client that names an object twice gets it once.)
async fn multiget(ctx: &Ctx<'_>, target: &Target, root: &Element) -> Result<Bytes, DavError> {
    let req = PropRequest::from_parent(root)?.with_getetag();
    let uid = ctx.principal.uid.as_str();
    let mut seen_hrefs: HashSet<&str> = HashSet::new();
    let hrefs: Vec<&str> = root
        .children_named(NS_DAV, "href")
        .map(|h| h.text.trim())
        .filter(|h| !h.is_empty() && seen_hrefs.insert(h))
        .collect();
    if hrefs.is_empty() && matches!(target, Target::Calendar(_)) {
        return Err(DavError::BadRequest("calendar-multiget needs at least one href"));
    }
    let mut answered: HashSet<String> = HashSet::new();
    let mut out = XmlOut::multistatus(1024 + hrefs.len() * 1500, ctx.config.max_answer_bytes);
    for href in hrefs {
        if out.is_full() {
            break;
        }
        let obj = match object_name_of(href, uid) {
            Some(name) if answered.contains(&name) => continue,
            Some(name) => {
                let obj = ctx.backend.object(uid, &name).await?;
                answered.insert(name);
                obj
            }
            None => None,
        };
        // The client's href is echoed as sent: that is what clients match responses on.
        match obj {
            Some(obj) => write_response(&mut out, ctx, href, Res::Object(&obj), &req),
            None => write_status_response(&mut out, href),
        }
    }
    Ok(out.finish_multistatus()?)
}

/// `<d:limit><d:nresults>N</d:nresults></d:limit>` (RFC 6578 §3.7, RFC 5323 §5.17).
fn sync_limit(root: &Element) -> Result<Option<usize>, DavError> {
    let Some(limit) = root.child(NS_DAV, "limit") else { return Ok(None) };
    let invalid = DavError::BadRequest("DAV:limit needs a DAV:nresults holding a non-negative integer");
    let text = limit.child(NS_DAV, "nresults").map(|n| n.text.trim()).ok_or(invalid)?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DavError::BadRequest("DAV:limit needs a DAV:nresults holding a non-negative integer"));
    }
    // Beyond usize, it is no limit at all.
    Ok(Some(text.parse::<usize>().unwrap_or(usize::MAX)))
}

/// RFC 6578. With a `<d:limit>`, a delta larger than the limit is cut after the objects whose
/// latest change is the oldest; the answer then carries a 507 response for the collection and a
/// token from which the client asks for the rest (§3.6). An initial sync cannot be cut that way
/// (the change log is pruned, so a listing cannot be split into token ranges): above the limit it
/// is refused with 507 `number-of-matches-within-limits` (§3.7).
async fn sync_collection(ctx: &Ctx<'_>, root: &Element) -> Result<Bytes, DavError> {
    let req = PropRequest::from_parent(root)?.with_getetag();
    let uid = ctx.principal.uid.as_str();
    match root.child(NS_DAV, "sync-level").map(|l| l.text.trim()) {
        // No child collections here, so "infinite" is the same as 1 (RFC 6578 §3.3).
        None | Some("1") => {}
        Some(l) if l.eq_ignore_ascii_case("infinite") || l.eq_ignore_ascii_case("infinity") => {}
        Some(_) => return Err(DavError::BadRequest("invalid sync-level")),
    }
    let limit = sync_limit(root)?;
    let token = root.child(NS_DAV, "sync-token").map(|t| t.text.trim()).unwrap_or_default();
    let (changed, removed, ctag, truncated) = if token.is_empty() {
        // Initial sync: counter first, so a concurrent change is reported again next time.
        let ctag = ctx.backend.state(uid).await?.ctag;
        let objects = ctx.backend.objects(uid, None).await?;
        if limit.is_some_and(|n| objects.len() > n) {
            return Err(DavError::TooManyMatches);
        }
        (objects, Vec::new(), ctag, false)
    } else {
        let since = token
            .strip_prefix(ctx.config.sync_token_prefix.as_str())
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or(DavError::Forbidden(Precondition::ValidSyncToken))?;
        match ctx.backend.changes_since(uid, since, limit).await? {
            // Cut to nothing (`nresults` 0): there is no token to continue from.
            Ok(c) if c.truncated && c.changed.is_empty() && c.removed.is_empty() => {
                return Err(DavError::TooManyMatches);
            }
            Ok(c) => (c.changed, c.removed, c.ctag, c.truncated),
            Err(SyncError::InvalidToken) => {
                return Err(DavError::Forbidden(Precondition::ValidSyncToken));
            }
        }
    };
    let capacity = req.answer_capacity(&changed) + removed.len() * 200;
    let mut out = XmlOut::multistatus(capacity, ctx.config.max_answer_bytes);
    for obj in &changed {
        if out.is_full() {
            break;
        }
        write_response(&mut out, ctx, &object_href(uid, &obj.name), Res::Object(obj), &req);
    }
    for name in &removed {
        if out.is_full() {
            break;
        }
        write_status_response(&mut out, &object_href(uid, name));
    }
    if truncated {
        write_status(&mut out, &calendar_href(uid), "HTTP/1.1 507 Insufficient Storage");
    }
    out.leaf("d:sync-token", &format!("{}{ctag}", ctx.config.sync_token_prefix));
    Ok(out.finish_multistatus()?)
}

/// RFC 4791 §7.10: the user's busy time in the requested range, as one `VFREEBUSY`.
///
/// The body must hold exactly one `<c:time-range>` (400 otherwise, as §7.10 requires it). Both
/// bounds are needed here, unlike in calendar-query, because they become the `VFREEBUSY`'s DTSTART
/// and DTEND; a missing or malformed bound, or an end not after the start, is 403 `valid-filter`.
/// Depth is ignored (the calendar's objects are meant, as for calendar-query). Events count as
/// [`super::CalObject::busy`] says, clipped to the range; free time is not listed.
async fn free_busy(ctx: &Ctx<'_>, root: &Element) -> Result<String, DavError> {
    let ranges: Vec<&Element> = root.children_named(NS_CALDAV, "time-range").collect();
    let [range] = ranges.as_slice() else {
        return Err(DavError::BadRequest("free-busy-query needs exactly one CALDAV:time-range"));
    };
    let bound = |name: &str| -> Result<DateTime<Utc>, DavError> {
        range.attr(name).ok_or_else(invalid_filter).and_then(|v| parse_utc(v).map_err(|()| invalid_filter()))
    };
    let (start, end) = (bound("start")?, bound("end")?);
    if end <= start {
        return Err(invalid_filter());
    }
    let uid = ctx.principal.uid.as_str();
    let objects = ctx.backend.objects(uid, Some((Some(start), Some(end)))).await?;
    let periods: Vec<BusyPeriod> = objects
        .iter()
        .filter_map(|o| o.busy.map(|kind| BusyPeriod { start: o.start.max(start), end: o.end.min(end), kind }))
        .collect();
    drop(objects);
    Ok(render_freebusy(&ctx.config.prodid, &freebusy_uid(ctx, start, end), start, end, ctx.backend.now(), &periods))
}

/// A stable UID for the free-busy answer of one user over one range on this server (the same
/// request gets the same UID), without the user's name in it.
fn freebusy_uid(ctx: &Ctx<'_>, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let mut h = Sha256::new();
    for field in [ctx.config.sync_token_prefix.as_bytes(), ctx.principal.uid.as_bytes()] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field);
    }
    h.update(start.timestamp().to_le_bytes());
    h.update(end.timestamp().to_le_bytes());
    format!("freebusy-{}", hex::encode(&h.finalize()[..16]))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn multiget_hrefs_resolve() {
        let r = |h: &str| object_name_of(h, "alice");
        assert_eq!(r("/dav/principals/alice/meetings/1@x.ics").as_deref(), Some("1@x.ics"));
        assert_eq!(r("/dav/principals/alice/meetings/1%40x.ics").as_deref(), Some("1@x.ics"));
        assert_eq!(r("https://meet.example.org/dav/principals/alice/meetings/a%20b.ics").as_deref(), Some("a b.ics"));
        assert_eq!(r("1@x.ics").as_deref(), Some("1@x.ics"));
        assert_eq!(r("/dav/principals/bob/meetings/1@x.ics"), None);
        assert_eq!(r("/dav/principals/alice/meetings/../../bob/meetings/x.ics"), None);
        assert_eq!(r("/dav/principals/alice/meetings/%FF.ics"), None);
        assert_eq!(r("https://host"), None);
    }

    #[test]
    fn utc_times_parse() {
        assert!(parse_utc("20261205T090000Z").is_ok());
        assert!(parse_utc("20261205T090000").is_err());
        assert!(parse_utc("2026-12-05").is_err());
    }
}
