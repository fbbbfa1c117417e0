//! Property-based tests of the DAV XML reader: any generated document reads back as the tree it was
//! written from, whatever the prefixes; any bytes (cut, spliced, random) are read or refused with an
//! error, never a panic; a property list names each property once and at most [`MAX_PROPS`]; and the
//! time to read a body grows linearly with its size.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use super::props::{MAX_PROPS, PropRequest};
use super::xml::{self, Element, NS_CALDAV, NS_DAV};

/// An element as generated: namespace, local name, text, children.
#[derive(Debug, Clone)]
struct Node {
    ns: &'static str,
    local: String,
    text: String,
    children: Vec<Node>,
}

fn namespace() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![NS_DAV, NS_CALDAV, "http://calendarserver.org/ns/", "urn:x-example:odd", ""])
}

fn local_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["prop", "getetag", "calendar-data", "displayname", "href", "resourcetype"])
            .prop_map(str::to_string),
        "[a-zA-Z_][a-zA-Z0-9._-]{0,20}",
    ]
}

/// Text that needs escaping: markup characters, quotes, non-ASCII, whitespace.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(vec!['<', '>', '&', '"', '\'', ' ', '\t', '\n', 'é', '€', '😀', ']']),
            prop::char::range('a', 'z'),
        ],
        0..40,
    )
    .prop_map(String::from_iter)
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = (namespace(), local_name(), text()).prop_map(|(ns, local, text)| Node {
        ns,
        local,
        text,
        children: Vec::new(),
    });
    leaf.prop_recursive(4, 40, 6, |inner| {
        (namespace(), local_name(), prop::collection::vec(inner, 0..6)).prop_map(|(ns, local, children)| Node {
            ns,
            local,
            text: String::new(),
            children,
        })
    })
}

/// Writes `node` as XML, declaring namespaces the way clients do: one of a default namespace, fixed
/// prefixes, or fresh prefixes on each element.
fn write(node: &Node, style: u8, out: &mut String, depth: usize) {
    let escaped = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mode = style % 3;
    let (tag, decl) = match (node.ns, mode) {
        ("", _) => {
            (node.local.clone(), if depth == 0 || mode == 0 { " xmlns=\"\"".to_string() } else { String::new() })
        }
        (ns, 0) => (node.local.clone(), format!(" xmlns=\"{ns}\"")),
        (ns, 1) => {
            let p = format!("p{depth}");
            (format!("{p}:{}", node.local), format!(" xmlns:{p}=\"{ns}\""))
        }
        (ns, _) => (format!("X:{}", node.local), format!(" xmlns:X=\"{ns}\"")),
    };
    out.push_str(&format!("<{tag}{decl} a=\"{}\">", escaped(&node.text).replace('"', "&quot;")));
    out.push_str(&escaped(&node.text));
    for c in &node.children {
        write(c, style, out, depth + 1);
    }
    out.push_str(&format!("</{tag}>"));
}

fn same(got: &Element, want: &Node) -> Result<(), TestCaseError> {
    prop_assert_eq!(&got.ns, want.ns);
    prop_assert_eq!(&got.local, &want.local);
    prop_assert_eq!(&got.text, &want.text);
    // Attribute values are normalised as XML says: tab and newline read as spaces.
    let attr = want.text.replace(['\t', '\n'], " ");
    prop_assert_eq!(got.attr("a"), Some(attr.as_str()));
    prop_assert_eq!(got.children.len(), want.children.len());
    for (g, w) in got.children.iter().zip(&want.children) {
        same(g, w)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_documents_read_back_as_written(tree in node(), style in 0u8..3) {
        let mut doc = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        write(&tree, style, &mut doc, 0);
        let parsed = xml::parse(doc.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {doc}")))?;
        same(&parsed.expect("a document element"), &tree)?;
    }

    #[test]
    fn any_bytes_are_read_or_refused_never_a_panic(
        tree in node(),
        cut in any::<prop::sample::Index>(),
        splice in prop::collection::vec(any::<u8>(), 0..16),
        noise in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut doc = String::new();
        write(&tree, 1, &mut doc, 0);
        let mut bytes = doc.into_bytes();
        let at = cut.index(bytes.len() + 1);
        bytes.splice(at..at, splice);
        let _ = xml::parse(&bytes);
        let _ = xml::parse(&bytes[..at]);
        let _ = xml::parse(&noise);
    }

    #[test]
    fn a_property_list_names_each_property_once_and_at_most_the_cap(
        names in prop::collection::vec((namespace(), local_name()), 0..120),
    ) {
        let mut body = format!("<d:propfind xmlns:d=\"{NS_DAV}\"><d:prop>");
        for (ns, local) in &names {
            // The empty namespace cannot be bound to a prefix: such names undeclare the default one.
            if ns.is_empty() {
                body.push_str(&format!("<{local} xmlns=\"\"/>"));
            } else {
                body.push_str(&format!("<x:{local} xmlns:x=\"{ns}\"/>"));
            }
        }
        body.push_str("</d:prop></d:propfind>");
        let root = xml::parse(body.as_bytes()).unwrap().unwrap();
        let mut distinct: Vec<(&str, &str)> = Vec::new();
        for (ns, local) in &names {
            if !distinct.contains(&(*ns, local.as_str())) {
                distinct.push((ns, local));
            }
        }
        match PropRequest::from_parent(&root) {
            Ok(PropRequest::Some(got)) => {
                prop_assert!(distinct.len() <= MAX_PROPS);
                let got: Vec<(&str, &str)> = got.iter().map(|n| (n.ns.as_str(), n.local.as_str())).collect();
                prop_assert_eq!(got, distinct);
            }
            Ok(other) => prop_assert!(false, "{other:?}"),
            Err(_) => prop_assert!(distinct.len() > MAX_PROPS),
        }
    }
}

#[test]
fn reading_time_is_linear_in_the_body() {
    // A PROPFIND repeating one property: what the amplification attack sent.
    crate::testkit::assert_linear("xml::parse + PropRequest (repeated property)", 800, |n| {
        let body = format!(
            "<d:propfind xmlns:d=\"DAV:\" xmlns:c=\"{NS_CALDAV}\"><d:prop>{}</d:prop></d:propfind>",
            "<c:calendar-data/>".repeat(n)
        );
        let root = xml::parse(body.as_bytes()).unwrap().unwrap();
        match PropRequest::from_parent(&root).unwrap() {
            PropRequest::Some(names) => names.len(),
            _ => 0,
        }
    });
    // A multiget's list of hrefs, with entities in the text.
    crate::testkit::assert_linear("xml::parse (hrefs)", 900, |n| {
        let body = format!(
            "<c:calendar-multiget xmlns:d=\"DAV:\" xmlns:c=\"{NS_CALDAV}\">{}</c:calendar-multiget>",
            "<d:href>/dav/calendars/jdupont/meetings/a&amp;b%20c.ics</d:href>".repeat(n)
        );
        xml::parse(body.as_bytes()).unwrap().unwrap().children.len()
    });
}
