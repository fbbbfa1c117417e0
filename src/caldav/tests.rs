//! Router tests over the in-memory backend: request bodies as Thunderbird, Apple, DAVx5,
//! Evolution and vdirsyncer send them (with their namespace prefix styles), exact XML for the
//! main shapes, the sync-token flow, write refusals, authentication and hostile bodies.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use tower::ServiceExt;

use super::memory::{MemoryBackend, demo};
use super::*;
use crate::ics::tests::at;

const ALICE: &str = "Basic YWxpY2U6YWxpY2UtYXBwLXBhc3N3b3Jk"; // alice:alice-app-password
const CAL: &str = "/dav/principals/alice/meetings/";
const PREFIX: &str = "https://meet.example.org/ns/sync/";
const XML_HEAD: &str = r#"<?xml version="1.0" encoding="utf-8"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/" xmlns:ical="http://apple.com/ns/ical/">"#;
const CALENDAR_REPORTS: &str = "<d:supported-report-set>\
<d:supported-report><d:report><c:calendar-query/></d:report></d:supported-report>\
<d:supported-report><d:report><c:calendar-multiget/></d:report></d:supported-report>\
<d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>\
<d:supported-report><d:report><c:free-busy-query/></d:report></d:supported-report>\
<d:supported-report><d:report><d:expand-property/></d:report></d:supported-report>\
</d:supported-report-set>";
const PRIVS: &str = "<d:current-user-privilege-set><d:privilege><d:read/></d:privilege><d:privilege><d:read-current-user-privilege-set/></d:privilege></d:current-user-privilege-set>";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/caldav/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct TestApp {
    router: axum::Router,
    backend: Arc<MemoryBackend>,
    cache: Arc<ResponseCache>,
}

fn app() -> TestApp {
    app_with(|_| {}, ResponseCache::BUDGET)
}

/// The demo data behind a router whose configuration `configure` adjusts, with a cache of `budget`.
fn app_with(configure: impl FnOnce(&mut DavConfig), budget: usize) -> TestApp {
    let backend = Arc::new(demo(at(2026, 11, 28, 12, 0)));
    let mut config = DavConfig {
        calendar_name: "Réunions Jitsi".into(),
        calendar_description: "Mes <réunions> & co".into(),
        color: "#1E88E5FF".into(),
        sync_token_prefix: PREFIX.into(),
        prodid: "-//Example Org//jmb//FR".into(),
        max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
        answer_cache_bytes: ResponseCache::BUDGET,
    };
    configure(&mut config);
    let cache = Arc::new(ResponseCache::new(budget));
    TestApp { router: router_with_cache(backend.clone(), Arc::new(config), cache.clone()), backend, cache }
}

struct Res {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl TestApp {
    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Res {
        self.send_bytes(method, path, headers, body.as_bytes().to_vec()).await
    }

    async fn send_bytes(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Res {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Body::from(body)).expect("request");
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = to_bytes(res.into_body(), usize::MAX).await.expect("body");
        Res { status, headers, body: String::from_utf8(bytes.to_vec()).expect("utf-8 body") }
    }

    /// Authenticated as alice.
    async fn dav(&self, method: &str, path: &str, depth: Option<&str>, body: &str) -> Res {
        let mut headers = vec![("authorization", ALICE), ("content-type", "application/xml; charset=utf-8")];
        if let Some(d) = depth {
            headers.push(("depth", d));
        }
        self.send(method, path, &headers, body).await
    }
}

fn header<'a>(res: &'a Res, name: &str) -> &'a str {
    res.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Number of `<d:response>` elements.
fn responses(body: &str) -> usize {
    body.matches("<d:response>").count()
}

// ---------------------------------------------------------------- discovery, auth, OPTIONS

#[tokio::test]
async fn well_known_redirects_before_auth() {
    let app = app();
    for method in ["GET", "PROPFIND", "OPTIONS"] {
        let res = app.send(method, "/.well-known/caldav", &[], "").await;
        assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY, "{method}");
        assert_eq!(header(&res, "location"), "/dav/");
    }
}

#[tokio::test]
async fn options_advertises_read_only_caldav() {
    let app = app();
    for path in ["/dav/", "/dav/principals/alice/", CAL] {
        let res = app.send("OPTIONS", path, &[], "").await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(header(&res, "dav"), "1, 3, calendar-access");
        assert_eq!(header(&res, "allow"), "OPTIONS, GET, HEAD, PROPFIND, REPORT");
    }
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_with_realm() {
    let app = app();
    for auth in [
        None,
        Some("Basic YWxpY2U6d3Jvbmc="), // alice:wrong
        Some("Basic !!!"),
        Some("Bearer abc"),
        Some("Basic YWxpY2U="), // no colon
        Some("Basic //79/w=="), // not UTF-8
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let res = app.send("PROPFIND", "/dav/", &headers, "").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(header(&res, "www-authenticate"), r#"Basic realm="jmb", charset="UTF-8""#);
        assert_eq!(header(&res, "dav"), "1, 3, calendar-access");
    }
}

#[tokio::test]
async fn write_verbs_are_refused_with_need_privileges() {
    let app = app();
    let expected = r#"<?xml version="1.0" encoding="utf-8"?><d:error xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/" xmlns:ical="http://apple.com/ns/ical/"><d:need-privileges/></d:error>"#;
    for method in
        ["PUT", "DELETE", "PROPPATCH", "MKCALENDAR", "MKCOL", "MOVE", "COPY", "LOCK", "UNLOCK", "POST", "ACL", "PATCH"]
    {
        for path in ["/dav/", CAL, "/dav/principals/alice/meetings/1@meet.example.org.ics", "/dav/nowhere"] {
            let res = app.dav(method, path, None, "<x/>").await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{method} {path}");
            assert_eq!(res.body, expected);
            assert_eq!(header(&res, "content-type"), "application/xml; charset=utf-8");
        }
    }
    let res = app.dav("FROBNICATE", CAL, None, "").await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&res, "allow"), ALLOW);
}

#[tokio::test]
async fn other_users_are_invisible() {
    let app = app();
    for path in
        ["/dav/principals/bob/", "/dav/principals/bob/meetings/", "/dav/principals/bob/meetings/4@meet.example.org.ics"]
    {
        assert_eq!(app.dav("PROPFIND", path, Some("0"), "").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.dav("GET", path, None, "").await.status, StatusCode::NOT_FOUND);
    }
    let res = app.dav("REPORT", "/dav/principals/bob/meetings/", None, &fixture("sync_initial_thunderbird.xml")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(app.dav("PROPFIND", "/dav/elsewhere/", Some("0"), "").await.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- PROPFIND

#[tokio::test]
async fn current_user_principal_with_every_prefix_style() {
    let app = app();
    let expected = format!(
        "{XML_HEAD}<d:response><d:href>/dav/</d:href><d:propstat><d:prop><d:current-user-principal><d:href>/dav/principals/alice/</d:href></d:current-user-principal></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"
    );
    for body in [
        r#"<?xml version="1.0" encoding="UTF-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>"#,
        r#"<A:propfind xmlns:A="DAV:"><A:prop><A:current-user-principal/></A:prop></A:propfind>"#,
        r#"<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>"#,
        "\u{feff}<d:propfind xmlns:d=\"DAV:\">\n  <d:prop>\n    <d:current-user-principal />\n  </d:prop>\n</d:propfind>\n",
    ] {
        let res = app.dav("PROPFIND", "/dav/", Some("0"), body).await;
        assert_eq!(res.status, StatusCode::MULTI_STATUS);
        assert_eq!(header(&res, "content-type"), "application/xml; charset=utf-8");
        assert_eq!(res.body, expected, "request: {body}");
    }
}

#[tokio::test]
async fn server_root_answers_propfind_for_bare_url_clients() {
    let res = app()
        .dav("PROPFIND", "/", Some("0"), r#"<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>"#)
        .await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert!(res.body.contains("<d:href>/</d:href>"));
    assert!(res.body.contains("<d:current-user-principal><d:href>/dav/principals/alice/</d:href>"));
}

#[tokio::test]
async fn merging_with_the_core_home_page_keeps_get_for_the_core() {
    let app = app();
    let core = axum::Router::new().route("/", axum::routing::get(|| async { "home" })).merge(app.router.clone());
    let req = Request::builder().uri("/").body(Body::empty()).expect("request");
    let res = core.clone().oneshot(req).await.expect("infallible");
    let body = to_bytes(res.into_body(), 100).await.expect("body");
    assert_eq!(&body[..], b"home");
    let req = Request::builder()
        .method("PROPFIND")
        .uri("/")
        .header("authorization", ALICE)
        .body(Body::empty())
        .expect("request");
    assert_eq!(core.oneshot(req).await.expect("infallible").status(), StatusCode::MULTI_STATUS);
}

#[tokio::test]
async fn principal_properties_and_unknown_ones_in_404() {
    let app = app();
    let res = app.dav("PROPFIND", "/dav/principals/alice/", Some("0"), &fixture("propfind_principal_davx5.xml")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    let expected = format!(
        "{XML_HEAD}<d:response><d:href>/dav/principals/alice/</d:href><d:propstat><d:prop>\
<d:resourcetype><d:collection/><d:principal/></d:resourcetype>\
<d:displayname>Alice Martin</d:displayname>\
<c:calendar-home-set><d:href>/dav/principals/alice/</d:href></c:calendar-home-set>\
<c:calendar-user-address-set><d:href>mailto:alice@example.org</d:href><d:href>/dav/principals/alice/</d:href></c:calendar-user-address-set>\
<d:principal-URL><d:href>/dav/principals/alice/</d:href></d:principal-URL>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>\
<d:propstat><d:prop><c:schedule-inbox-URL/><x:addressbook-home-set xmlns:x=\"urn:ietf:params:xml:ns:carddav\"/><cs:email-address-set/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>\
</d:response></d:multistatus>"
    );
    assert_eq!(res.body, expected);
}

#[tokio::test]
async fn home_set_depth_1_lists_the_calendar() {
    let app = app();
    let body = r#"<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:resourcetype/><d:displayname/><cs:getctag/><c:supported-calendar-component-set/></d:prop></d:propfind>"#;
    let res = app.dav("PROPFIND", "/dav/principals/alice/", Some("1"), body).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert_eq!(responses(&res.body), 2);
    assert!(res.body.contains(&format!(
        "<d:response><d:href>{CAL}</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>Réunions Jitsi</d:displayname><cs:getctag>3</cs:getctag><c:supported-calendar-component-set><c:comp name=\"VEVENT\"/></c:supported-calendar-component-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )));
    // No principal path without the trailing slash breaks it.
    let res = app.dav("PROPFIND", "/dav/principals/alice", Some("0"), body).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
}

#[tokio::test]
async fn thunderbird_calendar_propfind() {
    let app = app();
    let res = app.dav("PROPFIND", CAL, Some("0"), &fixture("propfind_calendar_thunderbird.xml")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    let expected = format!(
        "{XML_HEAD}<d:response><d:href>{CAL}</d:href><d:propstat><d:prop>\
<d:resourcetype><d:collection/><c:calendar/></d:resourcetype>\
<d:owner><d:href>/dav/principals/alice/</d:href></d:owner>\
<d:current-user-principal><d:href>/dav/principals/alice/</d:href></d:current-user-principal>\
{PRIVS}\
{CALENDAR_REPORTS}\
<c:supported-calendar-component-set><c:comp name=\"VEVENT\"/></c:supported-calendar-component-set>\
<cs:getctag>3</cs:getctag>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"
    );
    assert_eq!(res.body, expected);
    assert!(!res.body.contains("write"));
}

#[tokio::test]
async fn apple_calendar_propfind_with_return_minimal() {
    let app = app();
    let body = fixture("propfind_calendar_apple.xml");
    let headers = [("authorization", ALICE), ("depth", "0"), ("prefer", "return-minimal"), ("brief", "t")];
    let res = app.send("PROPFIND", CAL, &headers, &body).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert!(!res.body.contains("404"), "minimal: no 404 propstat");
    assert!(res.body.contains("<ical:calendar-color>#1E88E5FF</ical:calendar-color>"));
    assert!(res.body.contains("<c:calendar-description>Mes &lt;réunions&gt; &amp; co</c:calendar-description>"));
    assert!(res.body.contains(&format!("<d:sync-token>{PREFIX}3</d:sync-token>")));
    // Without the preference, the Apple-only properties are listed as 404.
    let res = app.dav("PROPFIND", CAL, Some("0"), &body).await;
    assert!(res.body.contains("<ical:calendar-order/>"));
    assert!(res.body.contains("<cs:pushkey/>"));
    assert!(res.body.contains("HTTP/1.1 404 Not Found"));
}

#[tokio::test]
async fn davx5_sync_probe() {
    let app = app();
    let res = app.dav("PROPFIND", CAL, Some("0"), &fixture("propfind_calendar_davx5.xml")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert!(res.body.contains("<cs:getctag>3</cs:getctag>"));
    assert!(res.body.contains(&format!("<d:sync-token>{PREFIX}3</d:sync-token>")));
    assert!(res.body.contains("<d:sync-collection/>"));
    assert!(res.body.contains(PRIVS));
    assert!(res.body.contains(
        "<d:propstat><d:prop><c:max-resource-size/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>"
    ));
}

#[tokio::test]
async fn calendar_depth_1_lists_members() {
    let app = app();
    let res = app.dav("PROPFIND", CAL, Some("1"), &fixture("propfind_members_vdirsyncer.xml")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert_eq!(responses(&res.body), 4);
    let obj = app.backend.object("alice", "1@meet.example.org.ics").await.expect("ok").expect("exists");
    assert!(res.body.contains(&format!(
        "<d:response><d:href>{CAL}1@meet.example.org.ics</d:href><d:propstat><d:prop><d:resourcetype/><d:getcontenttype>text/calendar; charset=utf-8; component=vevent</d:getcontenttype><d:getetag>{}</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>",
        obj.etag
    )));
    // Missing Depth header is treated as 1.
    let res = app.dav("PROPFIND", CAL, None, &fixture("propfind_members_vdirsyncer.xml")).await;
    assert_eq!(responses(&res.body), 4);
}

#[tokio::test]
async fn depth_infinity_is_refused() {
    let res = app().dav("PROPFIND", CAL, Some("infinity"), "").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("<d:propfind-finite-depth/>"));
    let res = app().dav("PROPFIND", CAL, Some("2"), "").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn empty_body_is_allprop_and_propname_lists_names() {
    let app = app();
    let res = app.dav("PROPFIND", CAL, Some("0"), "").await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    for needle in ["<cs:getctag>3</cs:getctag>", "<d:displayname>Réunions Jitsi</d:displayname>", PRIVS] {
        assert!(res.body.contains(needle), "{needle}");
    }
    let allprop = app.dav("PROPFIND", CAL, Some("0"), r#"<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#).await;
    assert_eq!(allprop.body, res.body);
    let names = app.dav("PROPFIND", CAL, Some("0"), r#"<propfind xmlns="DAV:"><propname/></propfind>"#).await;
    assert!(names.body.contains("<cs:getctag/><d:sync-token/>"));
    assert!(!names.body.contains("<cs:getctag>"));
}

#[tokio::test]
async fn object_propfind() {
    let app = app();
    let res = app
        .dav("PROPFIND", &format!("{CAL}1@meet.example.org.ics"), Some("0"), r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getlastmodified/><d:getcontentlength/></d:prop></d:propfind>"#)
        .await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert!(res.body.contains("<d:getlastmodified>Tue, 01 Dec 2026 09:00:00 GMT</d:getlastmodified>"));
    assert_eq!(app.dav("PROPFIND", &format!("{CAL}nope.ics"), Some("0"), "").await.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- REPORT calendar-query

#[tokio::test]
async fn calendar_query_time_ranges() {
    let app = app();
    let query = |start: Option<&str>, end: Option<&str>| {
        let mut attrs = String::new();
        if let Some(s) = start {
            attrs.push_str(&format!(" start=\"{s}\""));
        }
        if let Some(e) = end {
            attrs.push_str(&format!(" end=\"{e}\""));
        }
        format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range{attrs}/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
        )
    };
    for (start, end, depth, expected) in [
        (Some("20261205T000000Z"), Some("20261208T000000Z"), Some("1"), 2),
        (Some("20261205T100000Z"), Some("20261206T140000Z"), Some("1"), 0), // touching bounds do not overlap
        (Some("20261205T095959Z"), Some("20261206T140001Z"), Some("1"), 2),
        (Some("20261210T000000Z"), None, Some("0"), 1), // Evolution: Depth 0 still means members
        (None, Some("20261206T000000Z"), None, 1),
        (None, None, Some("1"), 3),
    ] {
        let res = app.dav("REPORT", CAL, depth, &query(start, end)).await;
        assert_eq!(res.status, StatusCode::MULTI_STATUS, "{start:?} {end:?}");
        assert_eq!(responses(&res.body), expected, "{start:?} {end:?}");
    }
}

#[tokio::test]
async fn calendar_query_as_clients_send_it() {
    let app = app();
    for (file, expected) in
        [("query_davx5.xml", 3), ("query_vdirsyncer.xml", 2), ("query_evolution.xml", 2), ("query_vtodo.xml", 0)]
    {
        let res = app.dav("REPORT", CAL, Some("1"), &fixture(file)).await;
        assert_eq!(res.status, StatusCode::MULTI_STATUS, "{file}");
        assert_eq!(responses(&res.body), expected, "{file}");
        // getetag is always there, even when only calendar-data was asked.
        assert_eq!(res.body.matches("<d:getetag>").count(), expected, "{file}");
    }
}

#[tokio::test]
async fn calendar_data_is_escaped_and_complete() {
    let app = app();
    let res = app.dav("REPORT", CAL, Some("1"), &fixture("query_evolution.xml")).await;
    let obj = app.backend.object("alice", "2@meet.example.org.ics").await.expect("ok").expect("exists");
    // CR is written as a character reference so that XML end-of-line normalisation does not
    // turn CRLF into LF: the parsed text is then byte-identical to the GET body and its ETag.
    let escaped =
        obj.body_text().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\r', "&#13;");
    assert!(res.body.contains(&format!("<c:calendar-data>{escaped}</c:calendar-data>")));
    assert!(obj.body_text().contains("<script>"));
    assert!(!res.body.contains("<script>") && !res.body.contains("]]>"));
}

#[tokio::test]
async fn unsupported_and_invalid_filters() {
    let app = app();
    // A UID lookup (python caldav's event_by_uid) is supported; other property filters are not.
    let res = app.dav("REPORT", CAL, Some("1"), &fixture("query_prop_filter.xml")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert_eq!(responses(&res.body), 1, "{}", res.body);
    assert!(res.body.contains("1@meet.example.org.ics"));
    let summary = fixture("query_prop_filter.xml").replace("name=\"UID\"", "name=\"SUMMARY\"");
    let res = app.dav("REPORT", CAL, Some("1"), &summary).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("<c:supported-filter/>"));
    let negated = fixture("query_prop_filter.xml").replace("collation=\"i;octet\"", "negate-condition=\"yes\"");
    let res = app.dav("REPORT", CAL, Some("1"), &negated).await;
    assert_eq!(responses(&res.body), 2, "every other event: {}", res.body);
    let collation = fixture("query_prop_filter.xml").replace("i;octet", "i;unicode-casemap");
    let res = app.dav("REPORT", CAL, Some("1"), &collation).await;
    assert!(res.body.contains("<c:supported-collation/>"));
    let bad_date = r#"<c:calendar-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="2026-12-05"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#;
    let res = app.dav("REPORT", CAL, Some("1"), bad_date).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("<c:valid-filter/>"));
    // Only events exist: "no VTODO" is every object, "no VEVENT" none.
    for (comp, expected) in [("VTODO", 3), ("VEVENT", 0)] {
        let body = format!(
            r#"<c:calendar-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="{comp}"><c:is-not-defined/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#
        );
        let res = app.dav("REPORT", CAL, Some("1"), &body).await;
        assert_eq!(responses(&res.body), expected, "{comp}: {}", res.body);
    }
    // A parameter filter, or another test on UID, is not supported.
    for inner in [
        r#"<c:param-filter name="VALUE"><c:text-match>x</c:text-match></c:param-filter>"#,
        r#"<c:is-not-defined/>"#,
        r#"<c:text-match>1</c:text-match><c:param-filter name="X"/>"#,
    ] {
        let body = format!(
            r#"<c:calendar-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:prop-filter name="UID">{inner}</c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#
        );
        let res = app.dav("REPORT", CAL, Some("1"), &body).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{inner}");
        assert!(res.body.contains("<c:supported-filter/>"));
    }
    let wrong_root = r#"<c:calendar-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:filter><c:comp-filter name="VEVENT"/></c:filter></c:calendar-query>"#;
    assert_eq!(app.dav("REPORT", CAL, Some("1"), wrong_root).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unknown_reports_are_refused() {
    let app = app();
    let object = "/dav/principals/alice/meetings/1@meet.example.org.ics";
    let free_busy = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20261201T000000Z" end="20261202T000000Z"/></C:free-busy-query>"#;
    for (path, body) in [
        (CAL, r#"<D:principal-search-property-set xmlns:D="DAV:"/>"#),
        ("/dav/principals/alice/", r#"<D:principal-search-property-set xmlns:D="DAV:"/>"#),
        ("/dav/principals/alice/", free_busy),
        (object, free_busy),
        ("/dav/principals/alice/", r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#),
        (object, r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#),
        ("/dav/", r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/></D:sync-collection>"#),
        (object, r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/></D:sync-collection>"#),
        ("/dav/principals/", r#"<C:calendar-multiget xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#),
    ] {
        let res = app.dav("REPORT", path, Some("0"), body).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{body}");
        assert!(res.body.contains("<d:supported-report/>"));
    }
    assert_eq!(app.dav("REPORT", CAL, Some("0"), "").await.status, StatusCode::BAD_REQUEST);
}

// ---------------------------------------------------------------- REPORT calendar-multiget

#[tokio::test]
async fn multiget_paths_urls_encodings_and_missing() {
    let app = app();
    let res = app.dav("REPORT", CAL, Some("1"), &fixture("multiget_davx5.xml")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert_eq!(responses(&res.body), 5);
    assert_eq!(res.body.matches("<c:calendar-data>").count(), 3);
    assert_eq!(res.body.matches("<d:getetag>").count(), 3);
    // Hrefs are echoed as sent; missing and foreign ones are a 404 response without propstat.
    assert!(res.body.contains(
        "<d:href>https://meet.example.org/dav/principals/alice/meetings/2%40meet.example.org.ics</d:href><d:propstat>"
    ));
    assert!(res.body.contains(&format!(
        "<d:response><d:href>{CAL}gone.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>"
    )));
    assert!(res.body.contains("<d:response><d:href>/dav/principals/bob/meetings/4@meet.example.org.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>"));
    assert!(!res.body.contains("Bob only"));
}

#[tokio::test]
async fn multiget_with_apple_prefixes_and_default_namespace() {
    let app = app();
    let a = r#"<B:calendar-multiget xmlns:A="DAV:" xmlns:B="urn:ietf:params:xml:ns:caldav"><A:prop><A:getetag/><B:calendar-data/></A:prop><A:href>/dav/principals/alice/meetings/1@meet.example.org.ics</A:href></B:calendar-multiget>"#;
    let b = r#"<calendar-multiget xmlns="urn:ietf:params:xml:ns:caldav"><prop xmlns="DAV:"><getetag/><calendar-data xmlns="urn:ietf:params:xml:ns:caldav"/></prop><href xmlns="DAV:">/dav/principals/alice/meetings/1@meet.example.org.ics</href></calendar-multiget>"#;
    let ra = app.dav("REPORT", CAL, Some("1"), a).await;
    let rb = app.dav("REPORT", CAL, Some("1"), b).await;
    assert_eq!(ra.status, StatusCode::MULTI_STATUS);
    assert_eq!(ra.body, rb.body);
    assert!(ra.body.contains("BEGIN:VCALENDAR"));
}

// ---------------------------------------------------------------- REPORT sync-collection

async fn sync(app: &TestApp, token: &str) -> Res {
    let body = fixture("sync_initial_thunderbird.xml")
        .replace("<D:sync-token/>", &format!("<D:sync-token>{token}</D:sync-token>"));
    app.dav("REPORT", CAL, Some("1"), &body).await
}

#[tokio::test]
async fn sync_token_flow() {
    let app = app();
    let res = app.dav("REPORT", CAL, Some("1"), &fixture("sync_initial_thunderbird.xml")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert_eq!(responses(&res.body), 3);
    assert!(res.body.ends_with(&format!("<d:sync-token>{PREFIX}3</d:sync-token></d:multistatus>")));

    // Nothing changed.
    let res = sync(&app, &format!("{PREFIX}3")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert_eq!(responses(&res.body), 0);
    assert!(res.body.contains(&format!("<d:sync-token>{PREFIX}3</d:sync-token>")));

    // A change and a removal.
    let mut ev = crate::ics::tests::sample_event(1, "Réunion déplacée");
    ev.sequence = 2;
    app.backend.put_event("alice", ev);
    assert!(app.backend.remove("alice", "3@meet.example.org.ics"));
    let res = sync(&app, &format!("{PREFIX}3")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert_eq!(responses(&res.body), 2);
    assert!(res.body.contains(&format!("<d:response><d:href>{CAL}3@meet.example.org.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>")));
    assert!(
        res.body
            .contains(&format!("<d:href>{CAL}1@meet.example.org.ics</d:href><d:propstat><d:prop><d:getcontenttype>"))
    );
    assert!(res.body.contains(&format!("<d:sync-token>{PREFIX}5</d:sync-token>")));
    // ctag moved too.
    let res = app.dav("PROPFIND", CAL, Some("0"), &fixture("propfind_calendar_thunderbird.xml")).await;
    assert!(res.body.contains("<cs:getctag>5</cs:getctag>"));

    // Unknown, foreign, future and pruned tokens.
    for token in [
        "garbage",
        "http://other.example/ns/sync/3",
        &format!("{PREFIX}99"),
        &format!("{PREFIX}-1"),
        &format!("{PREFIX}abc"),
    ] {
        let res = sync(&app, token).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{token}");
        assert!(res.body.contains("<d:valid-sync-token/>"));
    }
    app.backend.prune_log("alice");
    let res = sync(&app, &format!("{PREFIX}3")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = sync(&app, &format!("{PREFIX}5")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
}

#[tokio::test]
async fn sync_level_is_checked() {
    let app = app();
    let body = fixture("sync_initial_thunderbird.xml")
        .replace("<D:sync-level>1</D:sync-level>", "<D:sync-level>7</D:sync-level>");
    assert_eq!(app.dav("REPORT", CAL, Some("1"), &body).await.status, StatusCode::BAD_REQUEST);
    let body = fixture("sync_initial_thunderbird.xml")
        .replace("<D:sync-level>1</D:sync-level>", "<D:sync-level>infinite</D:sync-level>");
    assert_eq!(app.dav("REPORT", CAL, Some("0"), &body).await.status, StatusCode::MULTI_STATUS);
}

// ---------------------------------------------------------------- GET / HEAD

#[tokio::test]
async fn get_head_and_conditional_get() {
    let app = app();
    let path = format!("{CAL}2@meet.example.org.ics");
    let obj = app.backend.object("alice", "2@meet.example.org.ics").await.expect("ok").expect("exists");
    let res = app.dav("GET", &path, None, "").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(header(&res, "content-type"), "text/calendar; charset=utf-8");
    assert_eq!(header(&res, "etag"), obj.etag);
    assert_eq!(header(&res, "last-modified"), "Tue, 01 Dec 2026 09:00:00 GMT");
    assert_eq!(res.body, obj.body_text());
    assert_eq!(crate::ics::etag(res.body.as_bytes()), obj.etag);

    let res = app.dav("HEAD", &path, None, "").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, "");
    assert_eq!(header(&res, "content-length"), obj.body_len().to_string());
    assert_eq!(header(&res, "etag"), obj.etag);

    for inm in [obj.etag.as_str(), "\"other\", ", "*"] {
        let inm = if inm.ends_with(", ") { format!("{inm}{}", obj.etag) } else { inm.to_owned() };
        let res = app.send("GET", &path, &[("authorization", ALICE), ("if-none-match", &inm)], "").await;
        assert_eq!(res.status, StatusCode::NOT_MODIFIED, "{inm}");
        assert_eq!(res.body, "");
        assert_eq!(header(&res, "etag"), obj.etag);
    }
    let res = app.send("GET", &path, &[("authorization", ALICE), ("if-none-match", "\"stale\"")], "").await;
    assert_eq!(res.status, StatusCode::OK);

    assert_eq!(app.dav("GET", &format!("{CAL}nope.ics"), None, "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.send("GET", &path, &[], "").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn get_on_the_collection_returns_the_whole_calendar() {
    let app = app();
    let res = app.dav("GET", CAL, None, "").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(header(&res, "content-type"), "text/calendar; charset=utf-8");
    assert_eq!(res.body.matches("BEGIN:VEVENT").count(), 3);
    assert_eq!(header(&res, "etag"), crate::ics::etag(res.body.as_bytes()));
    let etag = header(&res, "etag").to_owned();
    let res = app.send("GET", CAL, &[("authorization", ALICE), ("if-none-match", &etag)], "").await;
    assert_eq!(res.status, StatusCode::NOT_MODIFIED);
}

// ---------------------------------------------------------------- hostile bodies

#[tokio::test]
async fn hostile_bodies_are_4xx() {
    let app = app();
    let deep =
        format!("<d:propfind xmlns:d=\"DAV:\">{}{}</d:propfind>", "<d:prop>".repeat(100), "</d:prop>".repeat(100));
    let many = format!("<d:propfind xmlns:d=\"DAV:\"><d:prop>{}</d:prop></d:propfind>", "<d:x/>".repeat(20_000));
    let cases: Vec<(&str, String, StatusCode)> = vec![
        ("malformed", "<d:propfind xmlns:d=\"DAV:\"><d:prop>".into(), StatusCode::BAD_REQUEST),
        ("mismatched", "<d:propfind xmlns:d=\"DAV:\"></d:prop>".into(), StatusCode::BAD_REQUEST),
        ("not xml", "hello".into(), StatusCode::BAD_REQUEST),
        ("two roots", "<a xmlns=\"DAV:\"/><b/>".into(), StatusCode::BAD_REQUEST),
        ("undeclared prefix", "<x:propfind><x:prop/></x:propfind>".into(), StatusCode::BAD_REQUEST),
        ("billion laughs", fixture("billion_laughs.xml"), StatusCode::BAD_REQUEST),
        ("xxe", "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><d:propfind xmlns:d=\"DAV:\"><d:prop><d:displayname>&x;</d:displayname></d:prop></d:propfind>".into(), StatusCode::BAD_REQUEST),
        ("unknown entity", "<d:propfind xmlns:d=\"DAV:\"><d:prop>&x;</d:prop></d:propfind>".into(), StatusCode::BAD_REQUEST),
        ("deep", deep, StatusCode::BAD_REQUEST),
        ("many elements", many, StatusCode::BAD_REQUEST),
        ("huge", format!("<d:propfind xmlns:d=\"DAV:\"><!-- {} --></d:propfind>", "x".repeat(300 * 1024)), StatusCode::PAYLOAD_TOO_LARGE),
        ("wrong root", "<d:propertyupdate xmlns:d=\"DAV:\"/>".into(), StatusCode::BAD_REQUEST),
    ];
    for (name, body, status) in cases {
        let res = app.dav("PROPFIND", CAL, Some("0"), &body).await;
        assert_eq!(res.status, status, "PROPFIND {name}");
        let res = app.dav("REPORT", CAL, Some("0"), &body).await;
        assert!(res.status.is_client_error(), "REPORT {name}: {}", res.status);
    }
    let res = app.send_bytes("PROPFIND", CAL, &[("authorization", ALICE)], vec![0xff, 0xfe, b'<']).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // Predefined and character references are fine.
    let ok = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/></d:prop><!-- &amp; &#65; --></d:propfind>"#;
    assert_eq!(app.dav("PROPFIND", CAL, Some("0"), ok).await.status, StatusCode::MULTI_STATUS);
}

#[tokio::test]
async fn chunked_oversized_body_is_413() {
    let app = app();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..300).map(|_| Ok(vec![b' '; 1024])).collect();
    let stream = futures_util::stream::iter(chunks);
    let req = Request::builder()
        .method("REPORT")
        .uri(CAL)
        .header("authorization", ALICE)
        .body(Body::from_stream(stream))
        .expect("request");
    let res = app.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

// ---------------------------------------------------------------- cost

#[tokio::test]
async fn two_hundred_events_respond_quickly() {
    let app = app();
    for i in 100..300 {
        app.backend.put_event("alice", crate::ics::tests::sample_event(i, crate::ics::tests::NASTY));
    }
    let t = std::time::Instant::now();
    for _ in 0..20 {
        let res = app.dav("REPORT", CAL, Some("1"), &fixture("query_evolution.xml")).await;
        assert_eq!(res.status, StatusCode::MULTI_STATUS);
    }
    // Generous: debug build on a slow 2-core CI machine.
    assert!(t.elapsed().as_secs_f64() < 10.0, "{:?}", t.elapsed());
}

// ---------------------------------------------------------------- REPORT free-busy-query

fn free_busy_query(range: &str) -> String {
    format!(r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">{range}</C:free-busy-query>"#)
}

/// Adds to alice's calendar events she was invited to: unanswered (tentative), declined (free),
/// accepted (busy) and cancelled (free).
fn add_invitations(app: &TestApp) {
    use crate::ics::{AttendeeRole, EventAttendee, EventStatus, PartStat, Person};
    let invited = |id: u32, start: (u32, u32), hours: i64, partstat: PartStat, status: EventStatus| {
        let mut ev = crate::ics::tests::sample_event(id, "Invitation");
        ev.start = at(2026, 12, start.0, start.1, 0);
        ev.end = ev.start + chrono::Duration::hours(hours);
        ev.status = status;
        ev.attendees.push(EventAttendee {
            person: Person { mail: "alice@example.org".into(), name: "Alice Martin".into() },
            role: AttendeeRole::Participant,
            partstat,
        });
        app.backend.put_event("alice", ev);
    };
    invited(10, (5, 9), 3, PartStat::NeedsAction, EventStatus::Confirmed); // 09:00-12:00, overlaps event 1
    invited(11, (6, 8), 2, PartStat::Declined, EventStatus::Confirmed);
    invited(12, (6, 15), 2, PartStat::Accepted, EventStatus::Confirmed); // 15:00-17:00, overlaps event 2
    invited(13, (5, 18), 1, PartStat::Accepted, EventStatus::Cancelled);
}

#[tokio::test]
async fn free_busy_query_lists_busy_and_tentative_time() {
    let app = app();
    add_invitations(&app);
    let body = free_busy_query(r#"<C:time-range start="20261205T000000Z" end="20261207T000000Z"/>"#);
    let res = app.dav("REPORT", CAL, Some("1"), &body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(header(&res, "content-type"), "text/calendar; charset=utf-8");
    let lines: Vec<&str> = res.body.split("\r\n").collect();
    let uid = lines.iter().find(|l| l.starts_with("UID:freebusy-")).expect("a UID");
    assert_eq!(
        res.body,
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example Org//jmb//FR\r\nCALSCALE:GREGORIAN\r\n\
BEGIN:VFREEBUSY\r\n{uid}\r\nDTSTAMP:20261128T120000Z\r\nDTSTART:20261205T000000Z\r\nDTEND:20261207T000000Z\r\n\
FREEBUSY;FBTYPE=BUSY:20261205T090000Z/20261205T100000Z\r\n\
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20261205T090000Z/20261205T120000Z\r\n\
FREEBUSY;FBTYPE=BUSY:20261206T140000Z/20261206T170000Z\r\n\
END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
        )
    );
    // The same request gets the same UID; another range another one.
    assert_eq!(app.dav("REPORT", CAL, Some("0"), &body).await.body, res.body);
    let other = free_busy_query(r#"<C:time-range start="20261205T000000Z" end="20261208T000000Z"/>"#);
    assert!(!app.dav("REPORT", CAL, None, &other).await.body.contains(uid));

    // Periods are clipped to the range; an empty range gives a VFREEBUSY without FREEBUSY.
    let body = free_busy_query(r#"<C:time-range start="20261205T093000Z" end="20261205T110000Z"/>"#);
    let res = app.dav("REPORT", CAL, Some("1"), &body).await;
    assert!(res.body.contains("FREEBUSY;FBTYPE=BUSY:20261205T093000Z/20261205T100000Z\r\n"), "{}", res.body);
    assert!(res.body.contains("FREEBUSY;FBTYPE=BUSY-TENTATIVE:20261205T093000Z/20261205T110000Z\r\n"));
    let body = free_busy_query(r#"<C:time-range start="20270105T000000Z" end="20270106T000000Z"/>"#);
    let res = app.dav("REPORT", CAL, Some("1"), &body).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("BEGIN:VFREEBUSY") && !res.body.contains("FREEBUSY;"));
}

#[tokio::test]
async fn free_busy_query_needs_one_valid_time_range() {
    let app = app();
    for (range, status) in [
        ("", StatusCode::BAD_REQUEST),
        (
            r#"<C:time-range start="20261205T000000Z" end="20261206T000000Z"/><C:time-range start="20261205T000000Z" end="20261206T000000Z"/>"#,
            StatusCode::BAD_REQUEST,
        ),
        (r#"<C:time-range start="20261205T000000Z"/>"#, StatusCode::FORBIDDEN),
        (r#"<C:time-range end="20261205T000000Z"/>"#, StatusCode::FORBIDDEN),
        (r#"<C:time-range start="20261206T000000Z" end="20261205T000000Z"/>"#, StatusCode::FORBIDDEN),
        (r#"<C:time-range start="20261205T000000Z" end="20261205T000000Z"/>"#, StatusCode::FORBIDDEN),
        (r#"<C:time-range start="2026-12-05" end="20261206T000000Z"/>"#, StatusCode::FORBIDDEN),
        (r#"<C:time-range start="20261205T000000" end="20261206T000000Z"/>"#, StatusCode::FORBIDDEN),
    ] {
        let res = app.dav("REPORT", CAL, Some("1"), &free_busy_query(range)).await;
        assert_eq!(res.status, status, "{range}");
        if status == StatusCode::FORBIDDEN {
            assert!(res.body.contains("<c:valid-filter/>"), "{range}");
        } else {
            assert!(res.body.contains("time-range"), "{range}: {}", res.body);
        }
    }
}

// ---------------------------------------------------------------- REPORT expand-property

#[tokio::test]
async fn expand_property_on_the_principal_as_apple_sends_it() {
    let app = app();
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<A:expand-property xmlns:A="DAV:">
  <A:property name="calendar-proxy-write-for" namespace="http://calendarserver.org/ns/">
    <A:property name="displayname" namespace="DAV:"/>
    <A:property name="principal-URL" namespace="DAV:"/>
  </A:property>
  <A:property name="current-user-principal">
    <A:property name="displayname"/>
    <A:property name="calendar-home-set" namespace="urn:ietf:params:xml:ns:caldav"/>
    <A:property name="displayname"/>
  </A:property>
  <A:property name="displayname"/>
</A:expand-property>"#;
    let res = app.dav("REPORT", "/dav/principals/alice/", Some("0"), body).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS, "{}", res.body);
    let expected = format!(
        "{XML_HEAD}<d:response><d:href>/dav/principals/alice/</d:href><d:propstat><d:prop>\
<d:current-user-principal><d:response><d:href>/dav/principals/alice/</d:href><d:propstat><d:prop>\
<d:displayname>Alice Martin</d:displayname>\
<c:calendar-home-set><d:href>/dav/principals/alice/</d:href></c:calendar-home-set>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:current-user-principal>\
<d:displayname>Alice Martin</d:displayname>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>\
<d:propstat><d:prop><cs:calendar-proxy-write-for/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>\
</d:response></d:multistatus>"
    );
    assert_eq!(res.body, expected);
}

#[tokio::test]
async fn expand_property_nests_and_reports_foreign_hrefs_as_404() {
    let app = app();
    // Two levels; the mailto: address of calendar-user-address-set is no resource.
    let body = r#"<expand-property xmlns="DAV:">
  <property name="calendar-home-set" namespace="urn:ietf:params:xml:ns:caldav">
    <property name="principal-collection-set">
      <property name="resourcetype"/>
    </property>
  </property>
  <property name="calendar-user-address-set" namespace="urn:ietf:params:xml:ns:caldav">
    <property name="displayname"/>
  </property>
  <property name="owner"/>
</expand-property>"#;
    let res = app.dav("REPORT", "/dav/principals/alice/", Some("0"), body).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS, "{}", res.body);
    let expected = format!(
        "{XML_HEAD}<d:response><d:href>/dav/principals/alice/</d:href><d:propstat><d:prop>\
<c:calendar-home-set><d:response><d:href>/dav/principals/alice/</d:href><d:propstat><d:prop>\
<d:principal-collection-set><d:response><d:href>/dav/principals/</d:href><d:propstat><d:prop>\
<d:resourcetype><d:collection/></d:resourcetype>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:principal-collection-set>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></c:calendar-home-set>\
<c:calendar-user-address-set><d:response><d:href>mailto:alice@example.org</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>\
<d:response><d:href>/dav/principals/alice/</d:href><d:propstat><d:prop><d:displayname>Alice Martin</d:displayname></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></c:calendar-user-address-set>\
<d:owner><d:href>/dav/principals/alice/</d:href></d:owner>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"
    );
    assert_eq!(res.body, expected);
    // The calendar has neither a home set nor addresses: 404, as in a PROPFIND.
    let res = app.dav("REPORT", CAL, Some("1"), body).await;
    assert!(res.body.contains(
        "<d:propstat><d:prop><c:calendar-home-set/><c:calendar-user-address-set/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>"
    ), "{}", res.body);
}

#[tokio::test]
async fn expand_property_answers_on_every_resource_and_refuses_bad_requests() {
    let app = app();
    let body = r#"<D:expand-property xmlns:D="DAV:"><D:property name="owner"><D:property name="displayname"/></D:property><D:property name="getetag"/></D:expand-property>"#;
    for path in
        ["/", "/dav/", "/dav/principals/", "/dav/principals/alice/", CAL, &format!("{CAL}1@meet.example.org.ics")]
    {
        let res = app.dav("REPORT", path, Some("0"), body).await;
        assert_eq!(res.status, StatusCode::MULTI_STATUS, "{path}");
        // The resources with an owner answer it expanded, as a nested response.
        let expanded = path.ends_with("alice/") || path.contains("meetings");
        assert_eq!(responses(&res.body), if expanded { 2 } else { 1 }, "{path}: {}", res.body);
    }
    let res = app.dav("REPORT", &format!("{CAL}1@meet.example.org.ics"), Some("0"), body).await;
    assert!(res.body.contains("<d:owner><d:response><d:href>/dav/principals/alice/</d:href><d:propstat><d:prop><d:displayname>Alice Martin</d:displayname>"));
    assert!(res.body.contains("<d:getetag>\""));
    assert_eq!(app.dav("REPORT", &format!("{CAL}nope.ics"), Some("0"), body).await.status, StatusCode::NOT_FOUND);
    // An empty request is an empty response.
    let res = app.dav("REPORT", "/dav/", Some("0"), r#"<D:expand-property xmlns:D="DAV:"/>"#).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);

    let nested = |levels: usize| {
        format!(
            r#"<D:expand-property xmlns:D="DAV:">{}{}</D:expand-property>"#,
            r#"<D:property name="current-user-principal">"#.repeat(levels),
            "</D:property>".repeat(levels)
        )
    };
    assert_eq!(app.dav("REPORT", "/dav/", Some("0"), &nested(4)).await.status, StatusCode::MULTI_STATUS);
    let too_many = (0..65).map(|i| format!(r#"<D:property name="p{i}"/>"#)).collect::<String>();
    for bad in [
        nested(5),
        r#"<D:expand-property xmlns:D="DAV:"><D:property/></D:expand-property>"#.to_owned(),
        r#"<D:expand-property xmlns:D="DAV:"><D:property name=" "/></D:expand-property>"#.to_owned(),
        format!(r#"<D:expand-property xmlns:D="DAV:">{too_many}</D:expand-property>"#),
        // 33 distinct at the top and 32 nested: 65 in the tree.
        format!(
            r#"<D:expand-property xmlns:D="DAV:"><D:property name="owner">{}</D:property>{}</D:expand-property>"#,
            (0..32).map(|i| format!(r#"<D:property name="n{i}"/>"#)).collect::<String>(),
            (0..32).map(|i| format!(r#"<D:property name="t{i}"/>"#)).collect::<String>(),
        ),
    ] {
        let res = app.dav("REPORT", "/dav/principals/alice/", Some("0"), &bad).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn supported_report_set_on_every_resource() {
    let app = app();
    let body = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:supported-report-set/></d:prop></d:propfind>"#;
    let expand_only = "<d:supported-report-set><d:supported-report><d:report><d:expand-property/></d:report></d:supported-report></d:supported-report-set>";
    let object = "<d:supported-report-set><d:supported-report><d:report><c:calendar-multiget/></d:report></d:supported-report><d:supported-report><d:report><d:expand-property/></d:report></d:supported-report></d:supported-report-set>";
    for (path, expected) in [
        ("/", expand_only),
        ("/dav/", expand_only),
        ("/dav/principals/", expand_only),
        ("/dav/principals/alice/", expand_only),
        (CAL, CALENDAR_REPORTS),
        ("/dav/principals/alice/meetings/1@meet.example.org.ics", object),
    ] {
        let res = app.dav("PROPFIND", path, Some("0"), body).await;
        assert_eq!(res.status, StatusCode::MULTI_STATUS);
        assert!(res.body.contains(expected), "{path}: {}", res.body);
    }
}

// ---------------------------------------------------------------- sync-collection limits

fn limited_sync(token: &str, limit: &str) -> String {
    format!(
        r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:limit><D:nresults>{limit}</D:nresults></D:limit><D:prop><D:getetag/></D:prop></D:sync-collection>"#
    )
}

#[tokio::test]
async fn sync_collection_limit_on_an_initial_sync_is_all_or_507() {
    let app = app();
    let res = app.dav("REPORT", CAL, Some("1"), &limited_sync("", "2")).await;
    assert_eq!(res.status, StatusCode::INSUFFICIENT_STORAGE);
    assert!(res.body.ends_with("<d:error xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\" xmlns:cs=\"http://calendarserver.org/ns/\" xmlns:ical=\"http://apple.com/ns/ical/\"><d:number-of-matches-within-limits/></d:error>"), "{}", res.body);
    let res = app.dav("REPORT", CAL, Some("1"), &limited_sync("", "3")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert_eq!(responses(&res.body), 3);
    assert!(!res.body.contains("507"));
    for bad in ["", "-1", "two", "1.5"] {
        let res = app.dav("REPORT", CAL, Some("1"), &limited_sync("", bad)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    let no_nresults = limited_sync("", "3").replace("<D:nresults>3</D:nresults>", "");
    assert_eq!(app.dav("REPORT", CAL, Some("1"), &no_nresults).await.status, StatusCode::BAD_REQUEST);
    let huge = limited_sync("", "99999999999999999999999999");
    assert_eq!(app.dav("REPORT", CAL, Some("1"), &huge).await.status, StatusCode::MULTI_STATUS);
}

#[tokio::test]
async fn sync_collection_limit_pages_a_delta_oldest_first() {
    let app = app();
    let name = |id: u32| format!("{id}@meet.example.org.ics");
    let put = |id: u32| {
        let mut ev = crate::ics::tests::sample_event(id, "Changée");
        ev.sequence = 5;
        app.backend.put_event("alice", ev);
    };
    // Calendar at 3; then 1 changes (4), 2 changes (5), 3 is removed (6), 1 changes again (7).
    put(1);
    put(2);
    assert!(app.backend.remove("alice", &name(3)));
    put(1);

    // Object 1 counts at 7, after 2 (5) and 3 (6).
    let res = app.dav("REPORT", CAL, Some("1"), &limited_sync(&format!("{PREFIX}3"), "2")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert_eq!(responses(&res.body), 3, "{}", res.body);
    assert!(res.body.contains(&format!("<d:href>{CAL}{}</d:href><d:propstat>", name(2))));
    assert!(res.body.contains(&format!(
        "<d:response><d:href>{CAL}{}</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>",
        name(3)
    )));
    assert!(!res.body.contains(&name(1)));
    assert!(res.body.ends_with(&format!(
        "<d:response><d:href>{CAL}</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response><d:sync-token>{PREFIX}6</d:sync-token></d:multistatus>"
    )));

    // The continuation brings the rest, complete this time.
    let res = app.dav("REPORT", CAL, Some("1"), &limited_sync(&format!("{PREFIX}6"), "2")).await;
    assert_eq!(responses(&res.body), 1, "{}", res.body);
    assert!(res.body.contains(&name(1)) && !res.body.contains("507"));
    assert!(res.body.contains(&format!("<d:sync-token>{PREFIX}7</d:sync-token>")));

    // Exactly the limit: not cut.
    let res = app.dav("REPORT", CAL, Some("1"), &limited_sync(&format!("{PREFIX}3"), "3")).await;
    assert_eq!(responses(&res.body), 3);
    assert!(res.body.contains(&format!("<d:sync-token>{PREFIX}7</d:sync-token>")) && !res.body.contains("507"));

    // A limit of 0 cannot make progress when something changed; it can when nothing did.
    let res = app.dav("REPORT", CAL, Some("1"), &limited_sync(&format!("{PREFIX}3"), "0")).await;
    assert_eq!(res.status, StatusCode::INSUFFICIENT_STORAGE);
    assert!(res.body.contains("<d:number-of-matches-within-limits/>"));
    let res = app.dav("REPORT", CAL, Some("1"), &limited_sync(&format!("{PREFIX}7"), "0")).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert!(res.body.contains(&format!("<d:sync-token>{PREFIX}7</d:sync-token>")));
}

// ---------------------------------------------------------------- amplification bounds

#[tokio::test]
async fn repeated_properties_are_answered_once() {
    let app = app();
    let propfind = |n: usize| {
        format!(
            r#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>{}</d:prop></d:propfind>"#,
            "<c:calendar-data/>".repeat(n)
        )
    };
    let many = propfind(9990);
    assert!(many.len() > 170_000 && many.len() <= MAX_BODY, "{}", many.len());
    let one = app.dav("PROPFIND", CAL, Some("1"), &propfind(1)).await;
    let res = app.dav("PROPFIND", CAL, Some("1"), &many).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert_eq!(res.body, one.body);
    assert_eq!(res.body.matches("BEGIN:VCALENDAR").count(), 3);

    // Repeats in other namespaces' spellings are the same property too.
    let mixed = r#"<A:propfind xmlns:A="DAV:"><A:prop><A:getetag/><getetag xmlns="DAV:"/><B:getetag xmlns:B="DAV:"/><A:displayname/><A:getetag/></A:prop></A:propfind>"#;
    let res = app.dav("PROPFIND", CAL, Some("1"), mixed).await;
    assert_eq!(res.body.matches("<d:getetag>").count(), 3, "{}", res.body);
    assert_eq!(res.body.matches("<d:getetag/>").count(), 1, "the calendar has no getetag: {}", res.body);
}

#[tokio::test]
async fn distinct_properties_and_name_lengths_are_capped() {
    let app = app();
    let props = |n: usize| (0..n).map(|i| format!("<x:p{i}/>")).collect::<String>();
    let body = |n: usize| {
        format!(r#"<d:propfind xmlns:d="DAV:" xmlns:x="urn:x"><d:prop><d:getetag/>{}</d:prop></d:propfind>"#, props(n))
    };
    assert_eq!(app.dav("PROPFIND", CAL, Some("1"), &body(63)).await.status, StatusCode::MULTI_STATUS);
    let res = app.dav("PROPFIND", CAL, Some("1"), &body(64)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body, "bad request: too many distinct properties in one request (at most 64)\n");
    let query = format!(
        r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:x="urn:x"><d:prop>{}</d:prop></c:calendar-query>"#,
        props(65)
    );
    assert_eq!(app.dav("REPORT", CAL, Some("1"), &query).await.status, StatusCode::BAD_REQUEST);
    let long =
        format!(r#"<d:propfind xmlns:d="DAV:" xmlns:x="urn:{}"><d:prop><x:p/></d:prop></d:propfind>"#, "n".repeat(300));
    let res = app.dav("PROPFIND", CAL, Some("1"), &long).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("property name too long"));
}

#[tokio::test]
async fn multiget_answers_each_object_once() {
    let app = app();
    // Relative to the calendar, so that 4000 of them fit in a body.
    let href = "<d:href>1@meet.example.org.ics</d:href>";
    let body = format!(
        r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>{}</c:calendar-multiget>"#,
        href.repeat(4000)
    );
    assert!(body.len() <= MAX_BODY);
    let res = app.dav("REPORT", CAL, Some("1"), &body).await;
    assert_eq!(res.status, StatusCode::MULTI_STATUS);
    assert_eq!(responses(&res.body), 1);
    assert_eq!(res.body.matches("BEGIN:VCALENDAR").count(), 1);

    // Other spellings of an href already answered are not answered again; missing ones once each.
    let body = format!(
        r#"<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data/></d:prop>{href}<d:href>1%40meet.example.org.ics</d:href><d:href>https://meet.example.org/dav/principals/alice/meetings/1@meet.example.org.ics</d:href><d:href>gone.ics</d:href><d:href>gone.ics</d:href><d:href>2@meet.example.org.ics</d:href></c:calendar-multiget>"#
    );
    let res = app.dav("REPORT", CAL, Some("1"), &body).await;
    assert_eq!(responses(&res.body), 3, "{}", res.body);
    assert_eq!(res.body.matches("BEGIN:VCALENDAR").count(), 2);
    assert!(res.body.contains("<d:href>gone.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status>"));
}

#[tokio::test]
async fn answers_above_the_ceiling_are_refused_with_507() {
    let app = app_with(|c| c.max_answer_bytes = 8 * 1024, ResponseCache::BUDGET);
    for i in 100..120 {
        app.backend.put_event("alice", crate::ics::tests::sample_event(i, crate::ics::tests::NASTY));
    }
    let full = r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data/></d:prop></c:calendar-query>"#;
    let res = app.dav("REPORT", CAL, Some("1"), full).await;
    assert_eq!(res.status, StatusCode::INSUFFICIENT_STORAGE);
    assert!(res.body.contains("<d:number-of-matches-within-limits/>"));
    let res = app.dav("PROPFIND", CAL, Some("1"), &full.replace("c:calendar-query", "d:propfind")).await;
    assert_eq!(res.status, StatusCode::INSUFFICIENT_STORAGE);
    // Smaller answers still pass.
    let etags = r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop></c:calendar-query>"#;
    assert_eq!(app.dav("REPORT", CAL, Some("1"), etags).await.status, StatusCode::MULTI_STATUS);
}

// ---------------------------------------------------------------- answer cache

#[tokio::test]
async fn distinct_large_requests_stay_within_the_cache_budget() {
    let app = app();
    // Valid PROPFINDs of about 250 KB, all different (the padding is a comment).
    let padding = "x".repeat(250_000);
    for i in 0..2800 {
        let body = format!(
            r#"<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/><d:getetag/></d:prop><!-- {i} {padding} --></d:propfind>"#
        );
        let res = app.dav("PROPFIND", CAL, Some("0"), &body).await;
        assert_eq!(res.status, StatusCode::MULTI_STATUS);
    }
    // Every answer is kept (they are small), keys cost their digest only.
    assert_eq!(app.cache.len(), 2800);
    assert!(app.cache.footprint() <= ResponseCache::BUDGET);
    assert!(app.cache.footprint() < 2800 * (1024 + ResponseCache::ENTRY_OVERHEAD), "{}", app.cache.footprint());
}

#[test]
fn the_cache_evicts_the_least_recently_used_within_its_budget() {
    let entry = ResponseCache::ENTRY_OVERHEAD + 1000;
    let cache = ResponseCache::new(8 * entry);
    let key = |i: u8| [i; 32];
    let answer = || Bytes::from(vec![b'x'; 1000]);
    for i in 0..8 {
        cache.put(key(i), answer());
    }
    assert_eq!((cache.len(), cache.footprint()), (8, 8 * entry));
    // Using 0 makes 1 the least recently used. The cache is full: a new answer is kept the second
    // time it is made (a calendar polled once in a long while does not push out those in use).
    assert!(cache.get(&key(0)).is_some());
    cache.put(key(8), answer());
    assert!(cache.get(&key(8)).is_none());
    assert_eq!(cache.len(), 8);
    cache.put(key(8), answer());
    assert_eq!((cache.len(), cache.footprint()), (8, 8 * entry));
    assert!(cache.get(&key(1)).is_none());
    assert!(cache.get(&key(0)).is_some() && cache.get(&key(8)).is_some());
    // Replacing an entry re-counts it; an answer above a quarter of the budget is not kept.
    cache.put(key(8), Bytes::from_static(b"short"));
    assert_eq!(cache.footprint(), 7 * entry + ResponseCache::ENTRY_OVERHEAD + 5);
    cache.put(key(9), Bytes::from(vec![b'x'; 2 * entry]));
    assert!(cache.get(&key(9)).is_none());
    // Many distinct entries: the footprint never exceeds the budget.
    for i in 0..=255u8 {
        cache.put([i; 32], answer());
        assert!(cache.footprint() <= 8 * entry);
    }
    assert_eq!(cache.len(), 8);
}

// ---------------------------------------------------------------- golden files

/// Compares `actual` with `tests/golden/caldav/<name>` byte for byte. With `JMB_BLESS=1` in the
/// environment the file is (re)written instead: review the change with `git diff` before committing.
fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/caldav").join(name);
    if std::env::var("JMB_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (JMB_BLESS=1 creates it)", path.display()));
    if expected != actual.as_bytes() {
        let at = expected
            .iter()
            .zip(actual.as_bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.len().min(actual.len()));
        let around = |b: &[u8]| String::from_utf8_lossy(&b[at.saturating_sub(80)..(at + 80).min(b.len())]).into_owned();
        panic!(
            "{name} differs from {} at byte {at}:\n expected …{}…\n actual   …{}…\n(JMB_BLESS=1 rewrites the golden files; review with git diff)",
            path.display(),
            around(&expected),
            around(actual.as_bytes()),
        );
    }
}

/// The main answers, from the in-memory backend's fixed demo data, kept as files so that a
/// dependency upgrade that changes a single byte of them fails (see `tests/golden/caldav/README.md`).
#[tokio::test]
async fn golden_answers() {
    let app = app();
    let ok = |res: Res, status: StatusCode| {
        assert_eq!(res.status, status, "{}", res.body);
        res.body
    };
    let principal = "/dav/principals/alice/";
    let res = app.dav("PROPFIND", principal, Some("0"), &fixture("propfind_principal_davx5.xml")).await;
    golden("propfind_principal_depth0.xml", &ok(res, StatusCode::MULTI_STATUS));
    let res = app.dav("PROPFIND", principal, Some("0"), "").await;
    golden("propfind_principal_depth0_allprop.xml", &ok(res, StatusCode::MULTI_STATUS));
    let res = app.dav("PROPFIND", CAL, Some("1"), "").await;
    golden("propfind_calendar_depth1_allprop.xml", &ok(res, StatusCode::MULTI_STATUS));
    let res = app.dav("PROPFIND", CAL, Some("1"), &fixture("propfind_members_vdirsyncer.xml")).await;
    golden("propfind_calendar_depth1_members.xml", &ok(res, StatusCode::MULTI_STATUS));

    let res = app.dav("REPORT", CAL, Some("1"), &fixture("query_evolution.xml")).await;
    golden("report_calendar_query_time_range.xml", &ok(res, StatusCode::MULTI_STATUS));
    let res = app.dav("REPORT", CAL, Some("1"), &fixture("multiget_davx5.xml")).await;
    golden("report_calendar_multiget.xml", &ok(res, StatusCode::MULTI_STATUS));

    let sync = |token: &str| {
        format!(
            r#"<d:sync-collection xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/><c:calendar-data/></d:prop></d:sync-collection>"#
        )
    };
    let res = app.dav("REPORT", CAL, Some("1"), &sync("")).await;
    golden("report_sync_collection_initial.xml", &ok(res, StatusCode::MULTI_STATUS));
    let mut ev = crate::ics::tests::sample_event(1, "Réunion déplacée");
    ev.sequence = 2;
    app.backend.put_event("alice", ev);
    assert!(app.backend.remove("alice", "3@meet.example.org.ics"));
    let res = app.dav("REPORT", CAL, Some("1"), &sync(&format!("{PREFIX}3"))).await;
    golden("report_sync_collection_delta.xml", &ok(res, StatusCode::MULTI_STATUS));
    let limited = sync(&format!("{PREFIX}3"))
        .replace("</d:sync-level>", "</d:sync-level><d:limit><d:nresults>1</d:nresults></d:limit>");
    let res = app.dav("REPORT", CAL, Some("1"), &limited).await;
    golden("report_sync_collection_delta_limited.xml", &ok(res, StatusCode::MULTI_STATUS));

    add_invitations(&app);
    let body = free_busy_query(r#"<C:time-range start="20261201T000000Z" end="20261221T000000Z"/>"#);
    let res = app.dav("REPORT", CAL, Some("1"), &body).await;
    golden("report_free_busy_query.ics", &ok(res, StatusCode::OK));
    let expand = r#"<D:expand-property xmlns:D="DAV:"><D:property name="current-user-principal"><D:property name="displayname"/><D:property name="calendar-home-set" namespace="urn:ietf:params:xml:ns:caldav"/><D:property name="calendar-user-address-set" namespace="urn:ietf:params:xml:ns:caldav"><D:property name="displayname"/></D:property></D:property><D:property name="calendar-proxy-read-for" namespace="http://calendarserver.org/ns/"/></D:expand-property>"#;
    let res = app.dav("REPORT", principal, Some("0"), expand).await;
    golden("report_expand_property.xml", &ok(res, StatusCode::MULTI_STATUS));
}

// ---------------------------------------------------------------- no 5xx

/// Every request body used above, cut at many places and with names swapped, on every resource,
/// as PROPFIND and REPORT: never a 5xx but the designed 507, nor a panic.
#[tokio::test]
async fn mangled_requests_never_get_a_5xx() {
    let app = app();
    let mut bodies: Vec<String> = std::fs::read_dir(format!("{}/tests/fixtures/caldav", env!("CARGO_MANIFEST_DIR")))
        .expect("fixtures")
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("fixture"))
        .collect();
    bodies.push(free_busy_query(r#"<C:time-range start="20261205T000000Z" end="20261207T000000Z"/>"#));
    bodies.push(limited_sync(&format!("{PREFIX}1"), "1"));
    bodies.push(r#"<D:expand-property xmlns:D="DAV:"><D:property name="owner"><D:property name="calendar-user-address-set" namespace="urn:ietf:params:xml:ns:caldav"><D:property name="displayname"/></D:property></D:property></D:expand-property>"#.to_owned());
    let swaps = [
        ("time-range", "comp-filter"),
        ("start=", "end="),
        ("sync-token", "nresults"),
        ("href", "prop"),
        ("property", "prop"),
        ("VEVENT", "VCALENDAR"),
        ("namespace=\"", "namespace=\"x"),
    ];
    let mut variants = Vec::new();
    for body in &bodies {
        for cut in (0..body.len()).step_by((body.len() / 12).max(1)) {
            if body.is_char_boundary(cut) {
                variants.push(body[..cut].to_owned());
            }
        }
        for (a, b) in swaps {
            variants.push(body.replace(a, b));
            variants.push(body.replacen(b, a, 1));
        }
    }
    let paths =
        ["/", "/dav/", "/dav/principals/", "/dav/principals/alice/", CAL, &format!("{CAL}1@meet.example.org.ics")];
    for body in &variants {
        for path in paths {
            for method in ["PROPFIND", "REPORT"] {
                let res = app.dav(method, path, Some("1"), body).await;
                // 507 is a designed answer (a limit below the calendar's size), with its XML body.
                let designed = res.status == StatusCode::INSUFFICIENT_STORAGE
                    && res.body.contains("<d:number-of-matches-within-limits/>");
                assert!(res.status.as_u16() < 500 || designed, "{method} {path} {}: {body}", res.status);
            }
        }
    }
}
