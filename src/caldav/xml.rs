//! XML in and out for CalDAV.
//!
//! Reading: request bodies are parsed with quick-xml's `NsReader` into a small bounded tree
//! whose element names are resolved to `(namespace URI, local name)`; prefixes never matter
//! (Thunderbird writes `D:`/`C:`, Apple `A:`/`B:`, others a default namespace). DOCTYPE
//! declarations and non-predefined entity references are refused (no entity is ever expanded),
//! and element count, depth and text size are capped, so a hostile body costs little.
//!
//! Writing: responses go through quick-xml's `Writer` with fixed prefixes declared once on the
//! root (`d:` DAV, `c:` CalDAV, `cs:` CalendarServer, `ical:` Apple); every text and attribute
//! value is escaped by the writer. A multistatus writer has a size ceiling: past it, it stops
//! writing and the answer is refused (see [`XmlOut::multistatus`]).

use std::borrow::Cow;

use axum::body::Bytes;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, Writer, XmlVersion};

pub(crate) const NS_DAV: &str = "DAV:";
pub(crate) const NS_CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub(crate) const NS_CS: &str = "http://calendarserver.org/ns/";
pub(crate) const NS_ICAL: &str = "http://apple.com/ns/ical/";

/// Limits on request documents (bodies themselves are capped by size before parsing).
const MAX_ELEMENTS: usize = 10_000;
const MAX_DEPTH: usize = 32;

/// Why a request body was refused; every variant is a 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("DTD or entity declarations are not accepted")]
    Doctype,
    #[error("unknown entity reference")]
    Entity,
    #[error("document too large or too deep")]
    TooLarge,
}

/// A namespace-resolved element name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Name {
    /// Namespace URI; empty when the element is in no namespace.
    pub ns: String,
    pub local: String,
}

impl Name {
    pub(crate) fn new(ns: &str, local: &str) -> Self {
        Name { ns: ns.to_owned(), local: local.to_owned() }
    }
}

/// One element of a parsed request body.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub ns: String,
    pub local: String,
    /// Unprefixed attributes (CalDAV only uses those: `name`, `start`, `end`…).
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub(crate) fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    pub(crate) fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    pub(crate) fn children_named<'a>(&'a self, ns: &'a str, local: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    pub(crate) fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

/// Parses a request body into its document element. `Ok(None)` for an empty (whitespace) body.
pub(crate) fn parse(body: &[u8]) -> Result<Option<Element>, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("body is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut reader = NsReader::from_str(text);
    reader.config_mut().expand_empty_elements = true;
    reader.config_mut().check_end_names = true;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(malformed("content after the document element"));
                }
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooLarge);
                }
                let ns = match ns {
                    ResolveResult::Bound(n) => n.as_ref().to_owned(),
                    ResolveResult::Unbound => String::new(),
                    ResolveResult::Unknown(p) => {
                        return Err(malformed(format!("undeclared prefix {p}")));
                    }
                };
                let mut el = Element { ns, local: start.local_name().as_ref().to_owned(), ..Element::default() };
                for attr in start.attributes() {
                    let attr = attr.map_err(malformed)?;
                    let key = attr.key.as_ref();
                    if key.contains(':') || key == "xmlns" {
                        continue; // namespace declarations and prefixed attributes: unused
                    }
                    let value = attr.normalized_value(XmlVersion::Implicit1_0).map_err(|_| XmlError::Entity)?;
                    el.attrs.push((key.to_owned(), value.into_owned()));
                }
                stack.push(el);
            }
            Event::End(_) => {
                let done = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => push_text(&mut stack, &c.xml10_content())?,
            Event::GeneralRef(r) => {
                let resolved: Cow<'_, str> = match r.resolve_char_ref() {
                    Ok(Some(c)) => Cow::Owned(c.to_string()),
                    Ok(None) => {
                        let name = r.xml10_content();
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => Cow::Borrowed(s),
                            None => return Err(XmlError::Entity),
                        }
                    }
                    Err(_) => return Err(XmlError::Entity),
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Eof => break,
            // Declaration, comments, processing instructions carry nothing for us.
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(malformed("unclosed element"));
    }
    root.map(Some).ok_or_else(|| malformed("no document element"))
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    const MAX_TEXT: usize = 64 * 1024;
    match stack.last_mut() {
        Some(el) => {
            if el.text.len() + text.len() > MAX_TEXT {
                return Err(XmlError::TooLarge);
            }
            el.text.push_str(text);
            Ok(())
        }
        // Whitespace around the document element is fine; anything else is not XML.
        None if text.trim().is_empty() => Ok(()),
        None => Err(malformed("text outside the document element")),
    }
}

/// Escapes element content. Only `<`, `>` and `&` need it; leaving quotes alone keeps ETags readable
/// (`"abc"`, not `&quot;abc&quot;`) and calendar-data smaller.
pub(crate) fn escape_text(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::partial_escape(text)
}

/// Response writer with the four namespaces bound to fixed prefixes on the root element.
pub(crate) struct XmlOut {
    w: Writer<Vec<u8>>,
    /// Once the document is longer than this, nothing more is written and `full` is set.
    limit: usize,
    full: bool,
}

/// A multistatus grew past its ceiling ([`XmlOut::multistatus`]).
#[derive(Debug)]
pub(crate) struct AnswerTooLarge;

/// Largest buffer reserved up front: capacity hints are computed from request sizes, and a
/// reservation is memory taken whether or not it is used.
const MAX_RESERVE: usize = 1024 * 1024;

/// Appends `text` with `&`, `<` and `>` escaped.
fn escape_markup_into(out: &mut Vec<u8>, mut text: &[u8]) {
    while let Some(at) = memchr::memchr3(b'&', b'<', b'>', text) {
        out.extend_from_slice(&text[..at]);
        out.extend_from_slice(match text[at] {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            _ => b"&gt;",
        });
        text = &text[at + 1..];
    }
    out.extend_from_slice(text);
}

/// About the length of `len` bytes of calendar text once escaped by [`XmlOut::calendar_text`]: every
/// line ends with a CR, which becomes `&#13;`; jmb's renderings have one every 32 bytes or so (13 %).
pub(crate) fn escaped_calendar_len(len: usize) -> usize {
    len.saturating_add(len / 6)
}

impl XmlOut {
    /// Starts a document whose root element is `root` (a prefixed name such as `d:multistatus`).
    pub(crate) fn new(root: &str, capacity: usize) -> Self {
        Self::with_limit(root, capacity, usize::MAX)
    }

    /// Starts a `d:multistatus` that may grow to `limit` bytes. Callers check [`XmlOut::is_full`]
    /// in their loops to stop early, and [`XmlOut::finish_multistatus`] refuses a full document.
    ///
    /// Refused rather than streamed: answers are cached and need their bytes anyway, a client that
    /// legitimately needs more can page (sync-collection limits, multiget batches), and a streamed
    /// answer would still cost the server the CPU and bandwidth of the amplification.
    pub(crate) fn multistatus(capacity: usize, limit: usize) -> Self {
        Self::with_limit("d:multistatus", capacity, limit)
    }

    fn with_limit(root: &str, capacity: usize, limit: usize) -> Self {
        let capacity = capacity.min(limit).min(MAX_RESERVE);
        let mut out = XmlOut { w: Writer::new(Vec::with_capacity(capacity)), limit, full: false };
        out.event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
        let start = BytesStart::new(root).with_attributes([
            ("xmlns:d", NS_DAV),
            ("xmlns:c", NS_CALDAV),
            ("xmlns:cs", NS_CS),
            ("xmlns:ical", NS_ICAL),
        ]);
        out.event(Event::Start(start));
        out
    }

    /// Closes the root element and returns the bytes.
    pub(crate) fn finish(mut self, root: &str) -> Vec<u8> {
        self.end(root);
        self.w.into_inner()
    }

    /// Closes a [`XmlOut::multistatus`] and returns its bytes, or refuses it if it grew past its
    /// ceiling. The buffer is shrunk to its length: answers are cached, and a cached `Bytes` keeps
    /// its whole allocation alive.
    pub(crate) fn finish_multistatus(mut self) -> Result<Bytes, AnswerTooLarge> {
        self.end("d:multistatus");
        if self.full {
            return Err(AnswerTooLarge);
        }
        let mut bytes = self.w.into_inner();
        bytes.shrink_to_fit();
        Ok(Bytes::from(bytes))
    }

    /// Whether the document went past its ceiling (everything written since was dropped).
    pub(crate) fn is_full(&self) -> bool {
        self.full
    }

    fn event(&mut self, e: Event<'_>) {
        if self.full {
            return;
        }
        // Writing into a Vec<u8> cannot fail.
        let _ = self.w.write_event(e);
        if self.w.get_ref().len() > self.limit {
            self.full = true;
        }
    }

    pub(crate) fn start(&mut self, name: &str) {
        self.event(Event::Start(BytesStart::new(name)));
    }

    pub(crate) fn end(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }

    pub(crate) fn empty(&mut self, name: &str) {
        self.event(Event::Empty(BytesStart::new(name)));
    }

    pub(crate) fn empty_attrs(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let start = BytesStart::new(name).with_attributes(attrs.iter().copied());
        self.event(Event::Empty(start));
    }

    pub(crate) fn text(&mut self, text: &str) {
        self.event(Event::Text(BytesText::from_escaped(escape_text(text))));
    }

    /// The concatenated `parts` (iCalendar text, UTF-8) as element content, escaped as [`escape_text`]
    /// does (`<`, `>`, `&`, and CR as `&#13;` so that XML end-of-line normalisation gives back the exact
    /// bytes, hence the ETag), straight into the buffer: renderings are kept unescaped (once in memory,
    /// shared with the feed) and escaped only for the objects an answer holds.
    pub(crate) fn calendar_text(&mut self, parts: &[Bytes]) {
        if self.full {
            return;
        }
        let out = self.w.get_mut();
        for part in parts {
            out.reserve(escaped_calendar_len(part.len()));
            // Line by line (every line ends with CR LF), then the rare markup characters inside each:
            // both searches are memchr's vectorised ones (a loop over each byte took an eighth of a
            // cold REPORT's time).
            let mut rest = &part[..];
            loop {
                let (line, after) = match memchr::memchr(b'\r', rest) {
                    Some(cr) => (&rest[..cr], Some(&rest[cr + 1..])),
                    None => (rest, None),
                };
                escape_markup_into(out, line);
                match after {
                    Some(after) => {
                        out.extend_from_slice(b"&#13;");
                        rest = after;
                    }
                    None => break,
                }
            }
        }
        if out.len() > self.limit {
            self.full = true;
        }
    }

    /// `<name>text</name>`
    pub(crate) fn leaf(&mut self, name: &str, text: &str) {
        self.start(name);
        self.text(text);
        self.end(name);
    }

    /// `<d:href>…</d:href>`
    pub(crate) fn href(&mut self, href: &str) {
        self.leaf("d:href", href);
    }

    /// An empty element for a property name that may be in any namespace (used to echo
    /// unknown properties back in a 404 propstat).
    pub(crate) fn empty_foreign(&mut self, name: &Name) {
        match prefix_of(&name.ns) {
            Some(prefix) => {
                let qname = format!("{prefix}:{}", name.local);
                self.empty(&qname);
            }
            None if name.ns.is_empty() => {
                // No namespace: undeclare the default one explicitly (none is declared on the
                // root, but a client's parser must not guess).
                self.empty_attrs(&name.local, &[("xmlns", "")]);
            }
            None => self.empty_attrs(&format!("x:{}", name.local), &[("xmlns:x", &name.ns)]),
        }
    }
}

/// Prefix bound on the root for a well-known namespace.
pub(crate) fn prefix_of(ns: &str) -> Option<&'static str> {
    match ns {
        NS_DAV => Some("d"),
        NS_CALDAV => Some("c"),
        NS_CS => Some("cs"),
        NS_ICAL => Some("ical"),
        _ => None,
    }
}

/// Whether `s` may be used as an XML local name in our output (element names of unknown
/// properties come from the client and were parsed as names, but be strict anyway).
pub(crate) fn is_safe_local_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calendar text is escaped exactly as the plain rule says, wherever the special bytes fall: at the
    /// start or end of a part, next to each other, or alone; and parsed back, it is the bytes given.
    #[test]
    fn calendar_text_escapes_markup_and_carriage_returns_anywhere() {
        let cases: [&[&str]; 6] = [
            &["BEGIN:VEVENT\r\nSUMMARY:a<b>&c\r\nEND:VEVENT\r\n"],
            &["\r", "\r\n", "&", "<>", ""],
            &["&&<<>>\r\r\n\n", "plain", "é\r\nü&"],
            &["no specials at all"],
            &["<script>alert(1)</script>]]>\r\n"],
            &[""],
        ];
        for parts in cases {
            let bytes: Vec<Bytes> = parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect();
            let mut out = XmlOut::new("d:x", 64);
            out.start("d:y");
            out.calendar_text(&bytes);
            out.end("d:y");
            let doc = String::from_utf8(out.finish("d:x")).unwrap();
            let text = parts.concat();
            let expected = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\r', "&#13;");
            assert!(doc.contains(&format!("<d:y>{expected}</d:y>")), "{parts:?}: {doc}");
            let mut reader = quick_xml::Reader::from_str(&doc);
            let mut back = String::new();
            loop {
                match reader.read_event().unwrap() {
                    Event::Text(t) => back.push_str(&t.xml10_content()),
                    Event::GeneralRef(r) => {
                        back.push(r.resolve_char_ref().unwrap().unwrap_or_else(|| match r.as_ref() {
                            "amp" => '&',
                            "lt" => '<',
                            _ => '>',
                        }))
                    }
                    Event::Eof => break,
                    _ => {}
                }
            }
            assert_eq!(back, text, "{parts:?}");
        }
    }
}
