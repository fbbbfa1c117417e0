//! The properties served for each kind of resource, and the `<d:response>` writer shared by
//! PROPFIND and the REPORTs.
//!
//! Privileges are read-only on purpose: `read` and `read-current-user-privilege-set`, never
//! `write-properties` (Thunderbird would treat the calendar as writable), and always present
//! (DAVx5 treats a missing privilege set as writable).
//!
//! A request names each property once in the answer however often it repeats it, and may name
//! at most [`MAX_PROPS`] distinct ones: a PROPFIND repeating `calendar-data` thousands of times
//! must not be answered with the calendar thousands of times.

use super::xml::{Element, NS_CALDAV, NS_CS, NS_DAV, NS_ICAL, Name, XmlOut, escaped_calendar_len, is_safe_local_name};
use super::{CalObject, Ctx, DavError, principal_href};
use crate::conditional::http_date;

/// Most distinct properties one request may name (a PROPFIND or REPORT `<d:prop>`, or the whole
/// tree of an expand-property); more is refused with 400. Clients ask for at most about forty
/// (Apple's principal PROPFIND).
pub(crate) const MAX_PROPS: usize = 64;
/// Longest property name accepted (namespace URI plus local name, in bytes): unknown properties
/// are echoed back in a 404 propstat once per resource. Real ones are under a hundred.
pub(crate) const MAX_PROP_NAME: usize = 256;

/// A resource being described.
#[derive(Clone, Copy)]
pub(crate) enum Res<'a> {
    Root,
    Principals,
    Principal,
    Calendar { ctag: i64 },
    Object(&'a CalObject),
}

/// The properties jmb knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prop {
    ResourceType,
    DisplayName,
    CurrentUserPrincipal,
    PrincipalUrl,
    PrincipalCollectionSet,
    CalendarHomeSet,
    CalendarUserAddressSet,
    SupportedReportSet,
    CurrentUserPrivilegeSet,
    Owner,
    CalendarDescription,
    CalendarColor,
    SupportedCalendarComponentSet,
    SupportedCalendarData,
    GetCtag,
    SyncToken,
    GetEtag,
    GetContentType,
    GetLastModified,
    GetContentLength,
    CalendarData,
}

impl Prop {
    pub(crate) fn from_name(ns: &str, local: &str) -> Option<Prop> {
        use Prop::*;
        Some(match (ns, local) {
            (NS_DAV, "resourcetype") => ResourceType,
            (NS_DAV, "displayname") => DisplayName,
            (NS_DAV, "current-user-principal") => CurrentUserPrincipal,
            (NS_DAV, "principal-URL") => PrincipalUrl,
            (NS_DAV, "principal-collection-set") => PrincipalCollectionSet,
            (NS_CALDAV, "calendar-home-set") => CalendarHomeSet,
            (NS_CALDAV, "calendar-user-address-set") => CalendarUserAddressSet,
            (NS_DAV, "supported-report-set") => SupportedReportSet,
            (NS_DAV, "current-user-privilege-set") => CurrentUserPrivilegeSet,
            (NS_DAV, "owner") => Owner,
            (NS_CALDAV, "calendar-description") => CalendarDescription,
            (NS_ICAL, "calendar-color") => CalendarColor,
            (NS_CALDAV, "supported-calendar-component-set") => SupportedCalendarComponentSet,
            (NS_CALDAV, "supported-calendar-data") => SupportedCalendarData,
            (NS_CS, "getctag") => GetCtag,
            (NS_DAV, "sync-token") => SyncToken,
            (NS_DAV, "getetag") => GetEtag,
            (NS_DAV, "getcontenttype") => GetContentType,
            (NS_DAV, "getlastmodified") => GetLastModified,
            (NS_DAV, "getcontentlength") => GetContentLength,
            (NS_CALDAV, "calendar-data") => CalendarData,
            _ => return None,
        })
    }

    pub(crate) fn qname(self) -> &'static str {
        use Prop::*;
        match self {
            ResourceType => "d:resourcetype",
            DisplayName => "d:displayname",
            CurrentUserPrincipal => "d:current-user-principal",
            PrincipalUrl => "d:principal-URL",
            PrincipalCollectionSet => "d:principal-collection-set",
            CalendarHomeSet => "c:calendar-home-set",
            CalendarUserAddressSet => "c:calendar-user-address-set",
            SupportedReportSet => "d:supported-report-set",
            CurrentUserPrivilegeSet => "d:current-user-privilege-set",
            Owner => "d:owner",
            CalendarDescription => "c:calendar-description",
            CalendarColor => "ical:calendar-color",
            SupportedCalendarComponentSet => "c:supported-calendar-component-set",
            SupportedCalendarData => "c:supported-calendar-data",
            GetCtag => "cs:getctag",
            SyncToken => "d:sync-token",
            GetEtag => "d:getetag",
            GetContentType => "d:getcontenttype",
            GetLastModified => "d:getlastmodified",
            GetContentLength => "d:getcontentlength",
            CalendarData => "c:calendar-data",
        }
    }
}

/// Properties a resource has, in the order `allprop` and `propname` list them.
fn props_of(res: Res<'_>, ctx: &Ctx<'_>) -> &'static [Prop] {
    use Prop::*;
    const ROOT: &[Prop] = &[
        ResourceType,
        CurrentUserPrincipal,
        PrincipalUrl,
        PrincipalCollectionSet,
        CalendarHomeSet,
        CalendarUserAddressSet,
        SupportedReportSet,
        CurrentUserPrivilegeSet,
    ];
    const ROOT_NO_MAIL: &[Prop] = &[
        ResourceType,
        CurrentUserPrincipal,
        PrincipalUrl,
        PrincipalCollectionSet,
        CalendarHomeSet,
        SupportedReportSet,
        CurrentUserPrivilegeSet,
    ];
    const PRINCIPAL: &[Prop] = &[
        ResourceType,
        DisplayName,
        CurrentUserPrincipal,
        PrincipalUrl,
        PrincipalCollectionSet,
        CalendarHomeSet,
        CalendarUserAddressSet,
        SupportedReportSet,
        CurrentUserPrivilegeSet,
        Owner,
    ];
    const PRINCIPAL_NO_MAIL: &[Prop] = &[
        ResourceType,
        DisplayName,
        CurrentUserPrincipal,
        PrincipalUrl,
        PrincipalCollectionSet,
        CalendarHomeSet,
        SupportedReportSet,
        CurrentUserPrivilegeSet,
        Owner,
    ];
    const CALENDAR: &[Prop] = &[
        ResourceType,
        DisplayName,
        CalendarDescription,
        CalendarColor,
        SupportedCalendarComponentSet,
        SupportedCalendarData,
        GetCtag,
        SyncToken,
        SupportedReportSet,
        CurrentUserPrincipal,
        CurrentUserPrivilegeSet,
        Owner,
    ];
    const OBJECT: &[Prop] = &[
        ResourceType,
        GetEtag,
        GetContentType,
        GetLastModified,
        GetContentLength,
        SupportedReportSet,
        CurrentUserPrivilegeSet,
        Owner,
    ];
    let has_mail = !ctx.principal.mail.is_empty();
    match res {
        Res::Root | Res::Principals if has_mail => ROOT,
        Res::Root | Res::Principals => ROOT_NO_MAIL,
        Res::Principal if has_mail => PRINCIPAL,
        Res::Principal => PRINCIPAL_NO_MAIL,
        Res::Calendar { .. } => CALENDAR,
        Res::Object(_) => OBJECT,
    }
}

/// Whether `res` serves `prop` (calendar-data is only served on objects, and only on request).
fn has(res: Res<'_>, prop: Prop, ctx: &Ctx<'_>) -> bool {
    match (res, prop) {
        (Res::Object(_), Prop::CalendarData) => true,
        (Res::Calendar { .. }, Prop::DisplayName) => true,
        _ => props_of(res, ctx).contains(&prop),
    }
}

/// What a PROPFIND or REPORT asked for.
#[derive(Debug)]
pub(crate) enum PropRequest {
    All,
    Names,
    Some(Vec<Name>),
}

impl PropRequest {
    /// Reads the `<d:prop>` / `<d:allprop>` / `<d:propname>` children of a request element.
    /// No selector at all means `allprop` (RFC 4918 §9.1, and reports default to getetag-like
    /// behaviour through this too). Repeated properties are kept once, in first-seen order.
    pub(crate) fn from_parent(parent: &Element) -> Result<PropRequest, DavError> {
        if let Some(prop) = parent.child(NS_DAV, "prop") {
            let mut names = Vec::new();
            for child in &prop.children {
                add_distinct(&mut names, &child.ns, &child.local)?;
            }
            return Ok(PropRequest::Some(names));
        }
        if parent.child(NS_DAV, "propname").is_some() {
            return Ok(PropRequest::Names);
        }
        Ok(PropRequest::All)
    }

    /// About the bytes of an answer with these properties for `objects`, to reserve at once: each
    /// object's calendar text as escaped (see [`escaped_calendar_len`]) when it is asked for, and room
    /// for its href and other properties. Too little meant copying a cold REPORT's whole answer as it
    /// grew; what is left over is given back when the answer is finished.
    pub(crate) fn answer_capacity<'o>(&self, objects: impl IntoIterator<Item = &'o CalObject>) -> usize {
        let with_data = matches!(self, PropRequest::Some(names)
            if names.iter().any(|n| Prop::from_name(&n.ns, &n.local) == Some(Prop::CalendarData)));
        let per_object = |o: &CalObject| {
            let text = if with_data { escaped_calendar_len(o.body_len()) } else { 0 };
            PER_OBJECT_ANSWER.saturating_add(text)
        };
        objects.into_iter().map(per_object).fold(1024, usize::saturating_add)
    }

    /// Adds `getetag` to an explicit property list: DAVx5 fails on a multiget response without
    /// it, and every client needs it to track objects.
    pub(crate) fn with_getetag(self) -> PropRequest {
        match self {
            PropRequest::Some(mut names) => {
                if !names.iter().any(|n| n.ns == NS_DAV && n.local == "getetag") {
                    names.insert(0, Name::new(NS_DAV, "getetag"));
                }
                PropRequest::Some(names)
            }
            other => other,
        }
    }
}

/// Bytes of an answer's `<d:response>` for one object besides its calendar text: the href, the ETag
/// and the properties around them.
const PER_OBJECT_ANSWER: usize = 512;

/// Adds a property name to `names` unless it is there already (namespace and local name compared);
/// returns whether it was added. Refuses a name longer than [`MAX_PROP_NAME`] and a list that would
/// exceed [`MAX_PROPS`] names.
pub(crate) fn add_distinct(names: &mut Vec<Name>, ns: &str, local: &str) -> Result<bool, DavError> {
    if names.iter().any(|n| n.ns == ns && n.local == local) {
        return Ok(false);
    }
    if ns.len() + local.len() > MAX_PROP_NAME {
        return Err(DavError::BadRequest("property name too long (at most 256 bytes with its namespace)"));
    }
    if names.len() >= MAX_PROPS {
        return Err(DavError::BadRequest("too many distinct properties in one request (at most 64)"));
    }
    names.push(Name::new(ns, local));
    Ok(true)
}

const OK: &str = "HTTP/1.1 200 OK";
const NOT_FOUND: &str = "HTTP/1.1 404 Not Found";

/// Writes one `<d:response>` for `res` at `href`.
pub(crate) fn write_response(out: &mut XmlOut, ctx: &Ctx<'_>, href: &str, res: Res<'_>, req: &PropRequest) {
    let names_only = match req {
        PropRequest::Some(names) => {
            write_selected(out, ctx, href, res, names, |out, _, prop| write_value(out, ctx, res, prop));
            return;
        }
        PropRequest::All => false,
        PropRequest::Names => true,
    };
    out.start("d:response");
    out.href(href);
    out.start("d:propstat");
    out.start("d:prop");
    for p in props_of(res, ctx) {
        if names_only {
            out.empty(p.qname());
        } else {
            write_value(out, ctx, res, *p);
        }
    }
    out.end("d:prop");
    out.leaf("d:status", OK);
    out.end("d:propstat");
    out.end("d:response");
}

/// Writes one `<d:response>` for `res` at `href` with the properties `names`: those `res` has in a
/// 200 propstat, each written by `value(out, index in names, prop)`, the others in a 404 propstat
/// (left out in minimal mode when something was found).
pub(crate) fn write_selected(
    out: &mut XmlOut,
    ctx: &Ctx<'_>,
    href: &str,
    res: Res<'_>,
    names: &[Name],
    mut value: impl FnMut(&mut XmlOut, usize, Prop),
) {
    out.start("d:response");
    out.href(href);
    let mut missing: Vec<&Name> = Vec::new();
    let mut found = 0usize;
    for (i, n) in names.iter().enumerate() {
        match Prop::from_name(&n.ns, &n.local) {
            Some(p) if has(res, p, ctx) => {
                if found == 0 {
                    out.start("d:propstat");
                    out.start("d:prop");
                }
                found += 1;
                value(out, i, p);
            }
            _ => missing.push(n),
        }
    }
    if found > 0 {
        out.end("d:prop");
        out.leaf("d:status", OK);
        out.end("d:propstat");
    }
    // A response needs at least one propstat, even in minimal mode.
    if !missing.is_empty() && (!ctx.minimal || found == 0) {
        out.start("d:propstat");
        out.start("d:prop");
        for n in missing {
            if is_safe_local_name(&n.local) {
                out.empty_foreign(n);
            }
        }
        out.end("d:prop");
        out.leaf("d:status", NOT_FOUND);
        out.end("d:propstat");
    } else if found == 0 {
        out.start("d:propstat");
        out.empty("d:prop");
        out.leaf("d:status", OK);
        out.end("d:propstat");
    }
    out.end("d:response");
}

/// `<d:response><d:href>…</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`
pub(crate) fn write_status_response(out: &mut XmlOut, href: &str) {
    write_status(out, href, NOT_FOUND);
}

/// `<d:response><d:href>…</d:href><d:status>…</d:status></d:response>`
pub(crate) fn write_status(out: &mut XmlOut, href: &str, status: &str) {
    out.start("d:response");
    out.href(href);
    out.leaf("d:status", status);
    out.end("d:response");
}

/// The hrefs an href-valued property holds (the same on every resource that has it), or `None` if
/// `prop` is not href-valued. expand-property replaces them by responses.
pub(crate) fn href_values(prop: Prop, ctx: &Ctx<'_>) -> Option<Vec<String>> {
    let uid = ctx.principal.uid.as_str();
    Some(match prop {
        // The principal is its own calendar home set (one home, one calendar).
        Prop::CurrentUserPrincipal | Prop::PrincipalUrl | Prop::CalendarHomeSet | Prop::Owner => {
            vec![principal_href(uid)]
        }
        Prop::PrincipalCollectionSet => vec!["/dav/principals/".to_owned()],
        Prop::CalendarUserAddressSet => vec![format!("mailto:{}", ctx.principal.mail), principal_href(uid)],
        _ => return None,
    })
}

/// The reports a resource answers (`supported-report-set`), as prefixed element names.
fn reports_of(res: Res<'_>) -> &'static [&'static str] {
    match res {
        Res::Calendar { .. } => {
            &["c:calendar-query", "c:calendar-multiget", "d:sync-collection", "c:free-busy-query", "d:expand-property"]
        }
        Res::Object(_) => &["c:calendar-multiget", "d:expand-property"],
        Res::Root | Res::Principals | Res::Principal => &["d:expand-property"],
    }
}

pub(crate) fn write_value(out: &mut XmlOut, ctx: &Ctx<'_>, res: Res<'_>, prop: Prop) {
    let q = prop.qname();
    if let Some(hrefs) = href_values(prop, ctx) {
        out.start(q);
        for href in &hrefs {
            out.href(href);
        }
        out.end(q);
        return;
    }
    match prop {
        Prop::ResourceType => match res {
            Res::Root | Res::Principals => {
                out.start(q);
                out.empty("d:collection");
                out.end(q);
            }
            Res::Principal => {
                out.start(q);
                out.empty("d:collection");
                out.empty("d:principal");
                out.end(q);
            }
            Res::Calendar { .. } => {
                out.start(q);
                out.empty("d:collection");
                out.empty("c:calendar");
                out.end(q);
            }
            Res::Object(_) => out.empty(q),
        },
        Prop::DisplayName => match res {
            Res::Calendar { .. } => out.leaf(q, &ctx.config.calendar_name),
            _ => out.leaf(q, &ctx.principal.display_name),
        },
        Prop::CurrentUserPrincipal
        | Prop::PrincipalUrl
        | Prop::CalendarHomeSet
        | Prop::Owner
        | Prop::PrincipalCollectionSet
        | Prop::CalendarUserAddressSet => {} // written above from href_values
        Prop::SupportedReportSet => {
            out.start(q);
            for report in reports_of(res) {
                out.start("d:supported-report");
                out.start("d:report");
                out.empty(report);
                out.end("d:report");
                out.end("d:supported-report");
            }
            out.end(q);
        }
        Prop::CurrentUserPrivilegeSet => {
            out.start(q);
            for privilege in ["d:read", "d:read-current-user-privilege-set"] {
                out.start("d:privilege");
                out.empty(privilege);
                out.end("d:privilege");
            }
            out.end(q);
        }
        Prop::CalendarDescription => out.leaf(q, &ctx.config.calendar_description),
        Prop::CalendarColor => out.leaf(q, &ctx.config.color),
        Prop::SupportedCalendarComponentSet => {
            out.start(q);
            out.empty_attrs("c:comp", &[("name", "VEVENT")]);
            out.end(q);
        }
        Prop::SupportedCalendarData => {
            out.start(q);
            out.empty_attrs("c:calendar-data", &[("content-type", "text/calendar"), ("version", "2.0")]);
            out.end(q);
        }
        Prop::GetCtag => {
            if let Res::Calendar { ctag } = res {
                out.leaf(q, &ctag.to_string());
            }
        }
        Prop::SyncToken => {
            if let Res::Calendar { ctag } = res {
                out.leaf(q, &format!("{}{ctag}", ctx.config.sync_token_prefix));
            }
        }
        Prop::GetEtag => {
            if let Res::Object(o) = res {
                out.leaf(q, &o.etag);
            }
        }
        Prop::GetContentType => out.leaf(q, "text/calendar; charset=utf-8; component=vevent"),
        Prop::GetLastModified => {
            if let Res::Object(o) = res {
                out.leaf(q, &http_date(o.last_modified));
            }
        }
        Prop::GetContentLength => {
            if let Res::Object(o) = res {
                out.leaf(q, &o.body_len().to_string());
            }
        }
        Prop::CalendarData => {
            if let Res::Object(o) = res {
                // Full data even when a partial `<c:comp>` selection was asked (RFC 4791 allows it).
                out.start(q);
                out.calendar_text(&o.body_parts);
                out.end(q);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The room reserved for an answer holds each object's calendar text as escaped, jmb's own
    /// rendering, when it is asked for (so the answer is never copied as it grows; the room for the
    /// href and properties left aside), and does not grow with the text otherwise.
    #[test]
    fn answer_capacity_covers_the_escaped_text_only_when_asked() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let resource = include_str!("../../tests/golden/resource.ics");
        let objects: Vec<CalObject> =
            (0..3).map(|i| CalObject::new(format!("{i}.ics"), resource.repeat(40 + i), at, at, at, None)).collect();
        let escaped: usize = objects
            .iter()
            .map(|o| {
                let mut out = XmlOut::new("d:x", 0);
                out.calendar_text(&o.body_parts);
                out.finish("d:x").len() - XmlOut::new("d:x", 0).finish("d:x").len()
            })
            .sum();
        let with_data = PropRequest::Some(vec![Name::new(NS_DAV, "getetag"), Name::new(NS_CALDAV, "calendar-data")]);
        let text_room = with_data.answer_capacity(&objects) - 1024 - objects.len() * PER_OBJECT_ANSWER;
        assert!(text_room >= escaped, "{text_room} reserved for {escaped} bytes of escaped text");
        assert!(text_room < escaped + escaped / 10, "{text_room} reserved for {escaped}: not far more");
        let etags_only = PropRequest::Some(vec![Name::new(NS_DAV, "getetag")]);
        assert_eq!(etags_only.answer_capacity(&objects), 1024 + objects.len() * PER_OBJECT_ANSWER);
    }
}
