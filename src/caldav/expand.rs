//! The `expand-property` REPORT (RFC 3253 §3.8) on any resource: Apple clients and DAVx5 use it on
//! principals to read, in one request, properties of the resources a property points to.
//!
//! Each `<d:property name=… namespace=…>` (namespace `DAV:` by default) is answered with its value,
//! like a PROPFIND; when it has nested `<d:property>` children and its value is a list of hrefs
//! (`current-user-principal`, `principal-URL`, `calendar-home-set`, `owner`,
//! `principal-collection-set`, `calendar-user-address-set`), each href is replaced by a
//! `<d:response>` for that resource with the nested properties, recursively. An href that names no
//! resource of this user (a `mailto:` address) becomes a 404 response. Unknown properties go to a
//! 404 propstat. Only the request URI is reported (Depth is ignored).
//!
//! Bounds: repeated properties are merged (their nested lists too), at most [`MAX_PROPS`] distinct
//! properties in the whole tree and [`MAX_LEVELS`] levels of nesting (more is 400). Every href
//! property names at most one resource, so the answer grows linearly with the request tree.

use axum::body::Bytes;

use super::props::{MAX_PROPS, Res, add_distinct, href_values, write_selected, write_status_response, write_value};
use super::xml::{Element, NS_DAV, Name, XmlOut};
use super::{Ctx, DavError, Target, calendar_href, object_href, principal_href};

/// Deepest nesting of `<d:property>` elements accepted (clients use two).
const MAX_LEVELS: usize = 4;

/// The properties asked at one level; `nested[i]` is what to report of the resources named by
/// `names[i]` (empty when it is not to be expanded).
#[derive(Debug, Default)]
struct Level {
    names: Vec<Name>,
    nested: Vec<Level>,
}

/// Reads the `<d:property>` children of all `parents` (the same property repeated under one parent,
/// or named by several merged parents, is one entry whose nested lists are merged).
fn parse_level(parents: &[&Element], depth: usize, total: &mut usize) -> Result<Level, DavError> {
    let mut names: Vec<Name> = Vec::new();
    let mut groups: Vec<Vec<&Element>> = Vec::new();
    for parent in parents {
        for el in parent.children_named(NS_DAV, "property") {
            let local = el
                .attr("name")
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or(DavError::BadRequest("DAV:property needs a name attribute"))?;
            let ns = el.attr("namespace").map_or(NS_DAV, str::trim);
            if add_distinct(&mut names, ns, local)? {
                *total += 1;
                if *total > MAX_PROPS {
                    return Err(DavError::BadRequest("too many distinct properties in one request (at most 64)"));
                }
                groups.push(vec![el]);
            } else if let Some(i) = names.iter().position(|n| n.ns == ns && n.local == local) {
                groups[i].push(el);
            }
        }
    }
    let mut nested = Vec::with_capacity(groups.len());
    for els in &groups {
        if els.iter().any(|e| e.child(NS_DAV, "property").is_some()) {
            if depth + 1 >= MAX_LEVELS {
                return Err(DavError::BadRequest("expand-property nested too deeply (at most 4 levels)"));
            }
            nested.push(parse_level(els, depth + 1, total)?);
        } else {
            nested.push(Level::default());
        }
    }
    Ok(Level { names, nested })
}

/// The multistatus answering an expand-property REPORT on `target`.
pub(crate) async fn expand_property(ctx: &Ctx<'_>, target: &Target, root: &Element) -> Result<Bytes, DavError> {
    let mut total = 0;
    let wanted = parse_level(&[root], 0, &mut total)?;
    let uid = ctx.principal.uid.as_str();
    // A calendar may be named by an href at any level: read its counter once.
    let ctag = ctx.backend.state(uid).await?.ctag;
    let object = match target {
        Target::Object(_, name) => Some(ctx.backend.object(uid, name).await?.ok_or(DavError::NotFound)?),
        _ => None,
    };
    let (href, res) = match (target, &object) {
        (_, Some(obj)) => (object_href(uid, &obj.name), Res::Object(obj)),
        (Target::ServerRoot, _) => ("/".to_owned(), Res::Root),
        (Target::Root, _) => ("/dav/".to_owned(), Res::Root),
        (Target::Principals, _) => ("/dav/principals/".to_owned(), Res::Principals),
        (Target::Principal(_), _) => (principal_href(uid), Res::Principal),
        (Target::Calendar(_), _) => (calendar_href(uid), Res::Calendar { ctag }),
        (Target::Object(..), None) => return Err(DavError::NotFound),
    };
    let mut out = XmlOut::multistatus(4096, ctx.config.max_answer_bytes);
    write_expanded(&mut out, ctx, &href, res, &wanted, ctag);
    Ok(out.finish_multistatus()?)
}

/// One `<d:response>` for `res` with the properties of `level`, href values expanded.
fn write_expanded(out: &mut XmlOut, ctx: &Ctx<'_>, href: &str, res: Res<'_>, level: &Level, ctag: i64) {
    write_selected(out, ctx, href, res, &level.names, |out, i, prop| {
        let nested = &level.nested[i];
        match href_values(prop, ctx) {
            Some(hrefs) if !nested.names.is_empty() => {
                out.start(prop.qname());
                for target_href in &hrefs {
                    match resource_at(target_href, ctx, ctag) {
                        Some(target) => write_expanded(out, ctx, target_href, target, nested, ctag),
                        None => write_status_response(out, target_href),
                    }
                }
                out.end(prop.qname());
            }
            _ => write_value(out, ctx, res, prop),
        }
    });
}

/// The resource an href property names, if it is one of this user's collections.
fn resource_at(href: &str, ctx: &Ctx<'_>, ctag: i64) -> Option<Res<'static>> {
    let me = ctx.principal.uid.as_str();
    match Target::parse(href)? {
        Target::ServerRoot | Target::Root => Some(Res::Root),
        Target::Principals => Some(Res::Principals),
        Target::Principal(u) if u == me => Some(Res::Principal),
        Target::Calendar(u) if u == me => Some(Res::Calendar { ctag }),
        _ => None,
    }
}
