//! PROPFIND (RFC 4918 §9.1) at Depth 0 or 1 on the root, the principal collection, the
//! principal (which is also the calendar home), the calendar and its objects.

use axum::body::Bytes;

use super::props::{PropRequest, Res, write_response};
use super::xml::{NS_DAV, XmlOut, parse};
use super::{Ctx, DavError, Depth, Target, calendar_href, object_href, principal_href};

/// The multistatus answering a PROPFIND on `target`.
pub(crate) async fn propfind(ctx: &Ctx<'_>, target: &Target, depth: Depth, body: &[u8]) -> Result<Bytes, DavError> {
    let req = match parse(body)? {
        None => PropRequest::All, // an empty body means allprop
        Some(root) if root.is(NS_DAV, "propfind") => PropRequest::from_parent(&root)?,
        Some(_) => return Err(DavError::BadRequest("expected DAV:propfind")),
    };
    let uid = ctx.principal.uid.as_str();
    let limit = ctx.config.max_answer_bytes;
    let out = match target {
        Target::ServerRoot => {
            let mut out = XmlOut::multistatus(2048, limit);
            write_response(&mut out, ctx, "/", Res::Root, &req);
            out
        }
        Target::Root => {
            let mut out = XmlOut::multistatus(2048, limit);
            write_response(&mut out, ctx, "/dav/", Res::Root, &req);
            if depth == Depth::One {
                write_response(&mut out, ctx, "/dav/principals/", Res::Principals, &req);
            }
            out
        }
        Target::Principals => {
            let mut out = XmlOut::multistatus(2048, limit);
            write_response(&mut out, ctx, "/dav/principals/", Res::Principals, &req);
            if depth == Depth::One {
                write_response(&mut out, ctx, &principal_href(uid), Res::Principal, &req);
            }
            out
        }
        Target::Principal(_) => {
            let mut out = XmlOut::multistatus(4096, limit);
            write_response(&mut out, ctx, &principal_href(uid), Res::Principal, &req);
            if depth == Depth::One {
                // The home set lists the one calendar.
                let ctag = ctx.backend.state(uid).await?.ctag;
                write_response(&mut out, ctx, &calendar_href(uid), Res::Calendar { ctag }, &req);
            }
            out
        }
        Target::Calendar(_) => {
            // State first: a change racing with the listing then shows up again at the next
            // sync instead of being missed.
            let ctag = ctx.backend.state(uid).await?.ctag;
            let objects = if depth == Depth::One { ctx.backend.objects(uid, None).await? } else { Vec::new() };
            let mut out = XmlOut::multistatus(2048 + objects.len() * 600, limit);
            write_response(&mut out, ctx, &calendar_href(uid), Res::Calendar { ctag }, &req);
            for obj in &objects {
                if out.is_full() {
                    break;
                }
                write_response(&mut out, ctx, &object_href(uid, &obj.name), Res::Object(obj), &req);
            }
            out
        }
        Target::Object(_, name) => {
            let obj = ctx.backend.object(uid, name).await?.ok_or(DavError::NotFound)?;
            let mut out = XmlOut::multistatus(2048, limit);
            write_response(&mut out, ctx, &object_href(uid, &obj.name), Res::Object(&obj), &req);
            out
        }
    };
    Ok(out.finish_multistatus()?)
}
