//! The layering, checked from the code: every `crate::…` path (and `super::…` between the files of one
//! module) in `src/` is an edge of the module graph. The core never names axum, tower-http or an edge
//! module; leaves name neither the core nor the edge; the graph has no cycle; and the dependency table
//! in `docs/architecture.md` is exactly this graph (`JMB_BLESS=1` rewrites it after a deliberate change).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const EDGE: &[&str] = &["api", "app", "auth", "cli", "feed", "lib", "main", "pages", "state", "web"];
const CORE: &[&str] = &[
    "booking",
    "calendar",
    "directory",
    "events",
    "i18n",
    "identity",
    "jobs",
    "legacy",
    "mail",
    "metrics",
    "outbox",
    "presence",
    "retention",
    "room_warnings",
    "users",
];
const LEAVES: &[&str] = &[
    "backup",
    "cache",
    "caldav",
    "clock",
    "conditional",
    "config",
    "db",
    "ics",
    "jitsi",
    "mailer",
    "prosody",
    "secrets",
    "telemetry",
    "testkit",
    "xmpp",
];

/// Modules drawn at their submodules' granularity (their submodules depend on one another in layers).
const SPLIT: &[&str] = &["auth", "booking", "calendar", "mail", "web"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The graph node a file belongs to: `booking::repo` for `src/booking/repo.rs`, `caldav` for
/// `src/caldav/props.rs`, `app` for `src/app.rs`.
fn node_of(path: &Path) -> String {
    let rel = path.strip_prefix(src()).unwrap();
    let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    let top = parts[0].clone();
    if SPLIT.contains(&top.as_str()) && parts.len() > 1 {
        let sub = &parts[1];
        return if sub == "mod" { top } else { format!("{top}::{sub}") };
    }
    top
}

/// Code without comments (doc comments mention other modules freely).
fn code_of(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// The nodes a path starting after `crate::` names: `booking::repo::Scope` → `booking::repo`.
fn target(path: &str) -> Option<String> {
    let mut segs = path.split("::").map(|s| s.trim()).filter(|s| !s.is_empty());
    let first = segs.next()?;
    if !first.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return None;
    }
    // `crate::run` and the like: items of the crate root.
    if !src().join(format!("{first}.rs")).exists() && !src().join(first).is_dir() {
        return Some("lib".to_string());
    }
    if SPLIT.contains(&first)
        && let Some(second) = segs.next()
        && second.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && Path::new(&src()).join(first).join(format!("{second}.rs")).exists()
    {
        return Some(format!("{first}::{second}"));
    }
    Some(first.to_string())
}

/// The paths of a `use` tree starting at `text` (just after `crate::`), expanded: `a::{b, c::{d}}`
/// gives `a::b` and `a::c::d`. Returns the paths and how many bytes were read.
fn use_paths(text: &str) -> Vec<String> {
    fn tree(prefix: &str, text: &str, out: &mut Vec<String>) -> usize {
        let mut path = String::from(prefix);
        let mut i = 0;
        let bytes = text.as_bytes();
        while i < bytes.len() {
            let c = bytes[i] as char;
            if c.is_alphanumeric() || c == '_' || c == ':' {
                path.push(c);
                i += 1;
            } else if c == '{' {
                // A group: each comma-separated item is a tree under `path`.
                i += 1;
                loop {
                    while i < bytes.len() && (bytes[i] as char).is_whitespace() {
                        i += 1;
                    }
                    if i >= bytes.len() {
                        return i;
                    }
                    if bytes[i] == b'}' {
                        return i + 1;
                    }
                    i += tree(&path, &text[i..], out);
                    while i < bytes.len() && bytes[i] != b',' && bytes[i] != b'}' {
                        i += 1;
                    }
                    if i < bytes.len() && bytes[i] == b',' {
                        i += 1;
                    }
                }
            } else {
                break;
            }
        }
        out.push(path.trim_end_matches(':').to_string());
        i
    }
    let mut out = Vec::new();
    tree("", text, &mut out);
    out
}

/// Every node named by `crate::…` paths in `code`, including `use crate::{a, b::{c, d}}` groups.
fn references(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        for path in use_paths(rest) {
            if let Some(t) = target(&path) {
                out.insert(t);
            }
        }
    }
    out
}

/// `super::x` from `src/booking/service.rs` names `booking::x` when that file exists.
fn super_references(path: &Path, code: &str) -> BTreeSet<String> {
    let rel = path.strip_prefix(src()).unwrap();
    let mut out = BTreeSet::new();
    let parts: Vec<_> = rel.iter().collect();
    if parts.len() != 2 {
        return out;
    }
    let top = parts[0].to_string_lossy().to_string();
    if !SPLIT.contains(&top.as_str()) {
        return out;
    }
    let mut rest = code;
    while let Some(i) = rest.find("super::") {
        rest = &rest[i + "super::".len()..];
        let groups: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
            group[..group.find('}').unwrap_or(0)].split(',').map(|s| s.trim().to_string()).collect()
        } else {
            vec![rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()]
        };
        for name in groups {
            let name = name.split("::").next().unwrap_or_default().trim().to_string();
            if src().join(&top).join(format!("{name}.rs")).exists() {
                out.insert(format!("{top}::{name}"));
            }
        }
    }
    out
}

fn layer(node: &str) -> &'static str {
    let top = node.split("::").next().unwrap_or_default();
    if EDGE.contains(&top) {
        "edge"
    } else if CORE.contains(&top) {
        "core"
    } else if LEAVES.contains(&top) {
        "leaf"
    } else {
        panic!("module {top} is in no layer: add it to EDGE, CORE or LEAVES in tests/it/architecture.rs")
    }
}

struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    /// (file, what it names) for external HTTP crates.
    http_uses: Vec<(String, &'static str)>,
}

fn graph() -> Graph {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut http_uses = Vec::new();
    for path in files {
        let node = node_of(&path);
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        let entry = edges.entry(node.clone()).or_default();
        for t in references(&code).into_iter().chain(super_references(&path, &code)) {
            if t != node && !(t == node.split("::").next().unwrap_or_default() && node.contains("::")) {
                entry.insert(t);
            }
        }
        for krate in ["axum", "tower_http", "http::"] {
            let needle = if krate.ends_with("::") { krate.to_string() } else { format!("{krate}::") };
            // `http::` alone, not as the tail of `axum::http::`.
            let named = code.match_indices(&needle).any(|(i, _)| i == 0 || !code[..i].ends_with("::"));
            if named {
                http_uses.push((path.strip_prefix(src()).unwrap().display().to_string(), krate));
            }
        }
    }
    Graph { edges, http_uses }
}

#[test]
fn core_and_leaves_never_reach_up() {
    let g = graph();
    let mut problems = Vec::new();
    for (from, tos) in &g.edges {
        for to in tos {
            let (lf, lt) = (layer(from), layer(to));
            let bad = match lf {
                "core" => lt == "edge",
                "leaf" => lt != "leaf",
                _ => false,
            };
            if bad {
                problems.push(format!("{lf} module {from} uses {lt} module {to}"));
            }
        }
    }
    for (file, krate) in &g.http_uses {
        let top = file.split(['/', '.']).next().unwrap_or_default();
        if CORE.contains(&top) {
            problems.push(format!("core file src/{file} names {krate}"));
        }
    }
    assert!(problems.is_empty(), "layering broken:\n{}", problems.join("\n"));
}

#[test]
fn the_module_graph_has_no_cycle() {
    let g = graph();
    // Depth-first search with colours.
    fn visit<'a>(
        n: &'a str,
        g: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| *p == n).unwrap_or(0);
                return Some(path[start..].iter().map(|s| s.to_string()).chain([n.to_string()]).collect());
            }
            _ => {}
        }
        state.insert(n, 1);
        path.push(n);
        for m in g.get(n).into_iter().flatten() {
            if let Some(cycle) = visit(m, g, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.edges.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(n, &g.edges, &mut state, &mut path) {
            panic!("dependency cycle: {}", cycle.join(" → "));
        }
    }
}

/// The table in docs/architecture.md between the `deps` markers.
fn rendered_table(g: &Graph) -> String {
    let mut out = String::from("| Layer | Module | Uses |\n|---|---|---|\n");
    for l in ["edge", "core", "leaf"] {
        for (from, tos) in g.edges.iter().filter(|(n, _)| layer(n) == l && n.as_str() != "main") {
            let uses: Vec<String> = tos.iter().map(|t| format!("`{t}`")).collect();
            let uses = if uses.is_empty() { "—".to_string() } else { uses.join(", ") };
            out.push_str(&format!("| {l} | `{from}` | {uses} |\n"));
        }
    }
    out
}

#[test]
fn architecture_doc_shows_the_graph_of_the_code() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let (begin, end) = ("<!-- deps:begin -->\n", "<!-- deps:end -->");
    let a = doc.find(begin).expect("docs/architecture.md has a <!-- deps:begin --> marker") + begin.len();
    let b = doc.find(end).expect("docs/architecture.md has a <!-- deps:end --> marker");
    let table = rendered_table(&graph());
    if std::env::var_os("JMB_BLESS").is_some() {
        std::fs::write(&doc_path, format!("{}{table}{}", &doc[..a], &doc[b..])).unwrap();
        return;
    }
    assert_eq!(&doc[a..b], table, "docs/architecture.md's table is out of date: rerun with JMB_BLESS=1");
}

#[test]
fn the_scanner_sees_what_it_must() {
    let code = "use crate::{secrets, users};\nuse crate::booking::repo::{self, Scope};\nlet x = crate::web::csrf::x();\n\
                use crate::calendar::{changes, clock::{self, run}};\nuse crate::i18n::{Lang, Tr};";
    let refs = references(code);
    assert!(refs.contains("secrets") && refs.contains("users") && refs.contains("booking::repo"), "{refs:?}");
    assert!(refs.contains("web::csrf") && refs.contains("calendar::changes") && refs.contains("calendar::clock"));
    assert!(!refs.contains("calendar"), "{refs:?}");
    assert!(refs.contains("i18n"), "module names may hold digits: {refs:?}");
    assert_eq!(layer("booking::service"), "core");
    assert_eq!(layer("pages"), "edge");
}
