//! `[directory]` against a real slapd (tests/it/slapd.rs, data in tests/ldap/): identity from the uid
//! alone, the editor filter, internal moderators, aliases before the moderator limit, lists and groups
//! before the guest limit, completion, filter injection, and a directory that stops or hangs.

use std::time::{Duration, Instant};

use jmb::config::{EditorKeyword, EditorPolicy};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::common::*;
use crate::slapd::{Relay, Slapd};

async fn app_with(slapd: &Slapd, tweak: impl FnOnce(&mut jmb::config::Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        slapd.configure(c);
        tweak(c);
    })
    .await
}

fn uid_only(uid: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("X-Remote-User", uid.parse().unwrap());
    h
}

async fn me(app: &TestApp, headers: HeaderMap) -> (u16, String) {
    let resp = app.client.get(app.url("/api/v1/me")).headers(headers).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn body(moderators: &[&str], guests: &[&str]) -> Value {
    json!({
        "subject": "Annuaire",
        "start": "2026-12-05T09:00:00Z",
        "duration": 60,
        "moderators": moderators,
        "guests": guests,
    })
}

/// The sorted addresses of one role.
fn mails(m: &Value, role: &str) -> Vec<String> {
    let mut out: Vec<String> = m["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["role"] == role)
        .map(|a| a["mail"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

async fn search(app: &TestApp, uid: &str, q: &str) -> (u16, Value) {
    let q: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/directory/search?q={q}")))
        .headers(TestApp::as_user(uid))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn identity_comes_from_the_directory_when_the_proxy_passes_only_the_uid() {
    let slapd = Slapd::start();
    let app = app_with(&slapd, |_| {}).await;
    let (status, text) = me(&app, uid_only("MMartin")).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((v["uid"].as_str(), v["mail"].as_str()), (Some("mmartin"), Some("marie.martin@example.org")));
    assert_eq!(v["name"], "Marie Martin");
    // The headers' values win over the directory's.
    let mut h = uid_only("mmartin");
    h.insert("X-Remote-Name", "Marie M.".parse().unwrap());
    let v: Value = serde_json::from_str(&me(&app, h).await.1).unwrap();
    assert_eq!((v["name"].as_str(), v["mail"].as_str()), (Some("Marie M."), Some("marie.martin@example.org")));
    // Unknown in the directory and no mail header: refused with a page that says why, not a 500.
    let resp = app.client.get(app.url("/meetings")).headers(uid_only("nobody")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("no mail address"));
    // A uid that is a filter gets nobody's identity.
    for hostile in ["*", "jd*", "x)(uid=*"] {
        let (status, text) = me(&app, uid_only(hostile)).await;
        assert_eq!(status, 403, "{hostile}: {text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_editor_filter_decides_who_books() {
    let slapd = Slapd::start();
    let app = app_with(&slapd, |c| c.auth.editors = EditorPolicy::Keyword(EditorKeyword::Directory)).await;
    for (uid, editor) in [("jdupont", true), ("mmartin", true), ("visitor", false)] {
        let (_, v) = app.api(Method::GET, "/api/v1/me", uid, None).await;
        assert_eq!(v["editor"], editor, "{uid}");
    }
    let (status, v) = app.api(Method::POST, "/api/v1/meetings", "visitor", Some(meeting_body())).await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(app.get_as("/meetings/new", "visitor").await.status(), 403);
    app.book("jdupont", meeting_body()).await;
    // Someone the directory does not know is no editor.
    let h = TestApp::identity("ghost", "ghost@example.org", "Ghost");
    let resp = app.client.get(app.url("/api/v1/me")).headers(h).send().await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["editor"], false);
    app.stop().await;
}

#[tokio::test]
async fn aliases_become_primary_addresses_before_the_moderator_limit() {
    let slapd = Slapd::start();
    let app = app_with(&slapd, |_| {}).await;
    // Three typed, two people: Jean Dupont twice (two aliases) and Anne Smith by her alias.
    let typed = ["jdupont@example.org", "J.Dupont@lists.example.org", "asmith@example.org"];
    let m = app.book("mmartin", body(&typed, &["guest@partner.net"])).await;
    assert_eq!(mails(&m, "moderator"), ["anne.smith@example.org", "jean.dupont@example.org"]);
    // The organiser's own alias is the organiser: dropped, as the organiser's address is.
    let m = app.book("jdupont", body(&["jdupont@example.org"], &["guest@partner.net"])).await;
    assert!(mails(&m, "moderator").is_empty(), "{m}");
    // Guests too.
    let m = app.book("jdupont", body(&[], &["asmith@example.org", "anne.smith@example.org"])).await;
    assert_eq!(mails(&m, "guest"), ["anne.smith@example.org"]);
    app.stop().await;

    // The same booking without the directory: three moderators, over the limit.
    let plain = TestApp::spawn().await;
    let (status, v) =
        plain.api(Method::POST, "/api/v1/meetings", "mmartin", Some(body(&typed, &["guest@partner.net"]))).await;
    assert_eq!(status, 400, "{v}");
    plain.stop().await;
}

#[tokio::test]
async fn lists_and_groups_expand_before_the_guest_limit() {
    let slapd = Slapd::start();
    let dir = jmb::db::tempdir::TempDirGuard::new().unwrap();
    let lists = dir.path().join("lists");
    std::fs::write(
        &lists,
        "# list subscriber\nstaff@lists.example.org zoe@partner.net\nstaff@lists.example.org Adam@Partner.net\n\
         staff@lists.example.org jean.dupont@example.org\nstaff@lists.example.org adam@partner.net\n\
         staff@lists.example.org nodot@localhost\n",
    )
    .unwrap();
    let app = app_with(&slapd, |c| {
        c.directory.lists_file = Some(lists.clone());
        c.booking.max_guests = 5;
    })
    .await;
    // The file: sorted, de-duplicated, the organiser and the address without a dot dropped.
    let m = app.book("jdupont", body(&[], &["staff@lists.example.org"])).await;
    assert_eq!(mails(&m, "guest"), ["adam@partner.net", "zoe@partner.net"]);
    // A groupOfNames (member DNs read for their mail; the organiser removed) and a
    // groupOfUniqueNames (uniqueMember with its #'…'B suffix).
    let m = app.book("jdupont", body(&[], &["team@lists.example.org", "board@lists.example.org"])).await;
    assert_eq!(
        mails(&m, "guest"),
        [
            "anne.smith@example.org",
            "marie.martin@example.org",
            "paul.visiteur@example.org",
            "remi.leroy@lab.example.net"
        ]
    );
    // The limit counts the members: 3 from the file (jean.dupont is no organiser now), 2 more from
    // the team (the organiser mmartin removed, jean.dupont already there), 1 typed: 6 > 5.
    let (status, v) = app
        .api(
            Method::POST,
            "/api/v1/meetings",
            "mmartin",
            Some(body(&[], &["staff@lists.example.org", "team@lists.example.org", "x@partner.net"])),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["errors"]["guests"][0].as_str().unwrap().contains("6 invités"), "the count after expansion: {v}");
    // The booking form takes the same path: 3 + 2 + 2 typed.
    let (cookie, csrf, _) = form_page(&app, "/meetings/new", "mmartin").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("subject", "Form"),
        ("date", "2026-12-05"),
        ("time", "10:00"),
        ("duration", "60"),
        ("moderators", "jdupont@example.org"),
        ("guests", "staff@lists.example.org\nteam@lists.example.org\nx@partner.net\ny@partner.net"),
    ];
    let resp = app
        .client
        .post(app.url("/meetings/new"))
        .headers(TestApp::as_user("mmartin"))
        .header("cookie", cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "7 guests > 5");
    assert!(resp.text().await.unwrap().contains("7 invités"));
    // The file is read again when it changes.
    std::fs::write(&lists, "staff@lists.example.org solo@partner.net\n").unwrap();
    let m = app.book("jdupont", body(&[], &["staff@lists.example.org"])).await;
    assert_eq!(mails(&m, "guest"), ["solo@partner.net"]);
    app.stop().await;
}

#[tokio::test]
async fn an_address_the_directory_knows_is_internal() {
    let slapd = Slapd::start();
    let app = app_with(&slapd, |_| {}).await;
    let m = app.book("jdupont", body(&["remi.leroy@lab.example.net", "ext@partner.net"], &["g@partner.net"])).await;
    let room = m["room"].as_str().unwrap().to_string();
    app.set_now("2026-12-05T08:50:00Z");
    // Outside mail.internal_domains, but in the directory: signs in through /m/{room}.
    let link = path_of(attendee(&m, "remi.leroy@lab.example.net")["join_url"].as_str().unwrap());
    let resp = app.get(&link).await;
    assert_eq!((resp.status().as_u16(), location(&resp)), (302, format!("/m/{room}")));
    // Unknown to the directory: a token by link.
    let link = path_of(attendee(&m, "ext@partner.net")["join_url"].as_str().unwrap());
    let resp = app.get(&link).await;
    assert!(location(&resp).contains("?jwt="), "{}", location(&resp));
    // Their invitation carries the internal footer (links to the meetings and calendar pages).
    let db = app.state.db.clone();
    let internal = |rcpt: &'static str| {
        let db = db.clone();
        async move {
            db
            .read(move |c| {
                c.query_row(
                    "SELECT json_extract(notice, '$.to.internal') FROM outbox WHERE kind = 'invitation' AND recipients = ?1",
                    [rcpt],
                    |r| r.get::<_, bool>(0),
                )
                .map_err(jmb::db::DbError::from)
            })
            .await
            .unwrap()
        }
    };
    assert!(internal("remi.leroy@lab.example.net").await);
    assert!(!internal("ext@partner.net").await);
    app.stop().await;
}

#[tokio::test]
async fn completion_for_editors_from_two_characters_with_a_limit() {
    let slapd = Slapd::start();
    let app = app_with(&slapd, |c| {
        c.auth.editors = EditorPolicy::Keyword(EditorKeyword::Directory);
        c.directory.completion_results = 2;
    })
    .await;
    let (status, v) = search(&app, "jdupont", "Mar").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({"available": true, "results": [{"name": "Marie Martin", "mail": "marie.martin@example.org"}]})
    );
    let (_, v) = search(&app, "jdupont", "durand").await;
    assert_eq!(v["results"].as_array().unwrap().len(), 2, "three Durands, two shown: {v}");
    let (_, v) = search(&app, "jdupont", "Ré").await;
    assert_eq!(v["results"][0]["mail"], "remi.leroy@lab.example.net");
    for short in ["", "m", " m "] {
        assert_eq!(search(&app, "jdupont", short).await.0, 400, "{short:?}");
    }
    assert_eq!(search(&app, "jdupont", &"a".repeat(101)).await.0, 400);
    assert_eq!(search(&app, "visitor", "Mar").await.0, 403, "not an editor");
    let resp = app.client.get(app.url("/api/v1/directory/search?q=Mar")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    // The form offers it (to the script).
    let (_, _, html) = form_page(&app, "/meetings/new", "jdupont").await;
    assert!(html.contains("id=\"dir-search\"") && !html.contains("id=\"directory-down\""));
    app.stop().await;
}

/// Completion is limited per user: the directory cannot be read out through it by one editor.
#[tokio::test]
async fn completion_is_limited_per_user() {
    let slapd = Slapd::start();
    let app = app_with(&slapd, |_| {}).await;
    for i in 0..jmb::directory::SEARCHES_PER_MINUTE {
        assert_eq!(search(&app, "jdupont", &format!("m{i}")).await.0, 200, "request {i}");
    }
    let q = "/api/v1/directory/search?q=Mar";
    let resp = app.client.get(app.url(q)).headers(TestApp::as_user("jdupont")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(resp.text().await.unwrap().contains("annuaire"));
    // Someone else is not affected.
    assert_eq!(search(&app, "mmartin", "Mar").await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn filter_injection_finds_nothing() {
    let slapd = Slapd::start();
    let app = app_with(&slapd, |c| c.auth.editors = EditorPolicy::Keyword(EditorKeyword::Directory)).await;
    // Through the API: unescaped, `**` would match everyone and `x)(uid=*` would be a second filter.
    for q in ["**", "*)", "x)(uid=*", "jd*", "\\\\", "\\2a", "*)(|(mail=*"] {
        let (status, v) = search(&app, "jdupont", q).await;
        assert_eq!((status, v["results"].as_array().map(Vec::len)), (200, Some(0)), "{q}: {v}");
    }
    // NUL is refused at the edge; the look-ups themselves escape it too.
    assert_eq!(search(&app, "jdupont", "jd\0").await.0, 400);
    let d = &app.state.directory;
    for hostile in ["*", "jd*", "x)(uid=*", "\\", "\0", "jdupont\0", "*)(uid=jdupont"] {
        assert_eq!(d.person_by_uid(hostile).await, Ok(None), "{hostile:?}");
        assert_eq!(d.person_by_mail(hostile).await, Ok(None), "{hostile:?}");
        assert_eq!(d.is_editor(hostile).await, Ok(false), "{hostile:?}");
        assert_eq!(d.search(hostile).await.map(|r| r.len()), Ok(0), "{hostile:?}");
    }
    // The real ones are found (the assertions above can fail).
    assert_eq!(d.person_by_uid("jdupont").await.unwrap().unwrap().mail, "jean.dupont@example.org");
    assert_eq!(d.person_by_mail("jdupont@example.org").await.unwrap().unwrap().uid, "jdupont");
    assert_eq!(d.is_editor("jdupont").await, Ok(true));
    app.stop().await;
}

#[tokio::test]
async fn a_stopped_directory_costs_at_most_its_timeout() {
    let mut slapd = Slapd::start();
    let app = app_with(&slapd, |c| c.directory.timeout_seconds = 1).await;
    let strict = app_with(&slapd, |c| {
        c.directory.timeout_seconds = 1;
        c.auth.editors = EditorPolicy::Keyword(EditorKeyword::Directory);
    })
    .await;
    // Up: jdupont is an editor (and that answer is now cached), no notice on the form.
    let (_, v) = strict.api(Method::GET, "/api/v1/me", "jdupont", None).await;
    assert_eq!(v["editor"], true);
    let (_, _, html) = form_page(&app, "/meetings/new", "jdupont").await;
    assert!(!html.contains("id=\"directory-down\""));

    slapd.stop();
    let limit = Duration::from_millis(1000 + 1500);
    for path in ["/meetings", "/meetings/new", "/api/v1/me"] {
        let t = Instant::now();
        let resp = app.get_as(path, "jdupont").await;
        assert_eq!(resp.status(), 200, "{path}");
        let html = resp.text().await.unwrap();
        assert!(t.elapsed() < limit, "{path} took {:?}", t.elapsed());
        if path == "/meetings/new" {
            assert!(html.contains("id=\"directory-down\"") && html.contains("annuaire ne répond pas"), "{html}");
            assert!(!html.contains("id=\"dir-search\""));
        }
    }
    let resp = app
        .client
        .get(app.url("/meetings/new"))
        .headers(TestApp::as_user("jdupont"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains("The directory does not answer"));
    // Booking works, with the addresses as typed.
    let t = Instant::now();
    let m = app.book("mmartin", body(&["jdupont@example.org"], &["team@lists.example.org"])).await;
    assert!(t.elapsed() < limit);
    assert_eq!(mails(&m, "moderator"), ["jdupont@example.org"]);
    assert_eq!(mails(&m, "guest"), ["team@lists.example.org"]);
    let (status, v) = search(&app, "jdupont", "Mar").await;
    assert_eq!((status, &v["available"]), (200, &json!(false)));
    // Sign-in with the headers' values still works; without a mail address it says why.
    let resp = app.client.get(app.url("/meetings")).headers(uid_only("mmartin")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("the directory did not answer"));
    // The cached editor answer still counts; an unknown one refuses booking, saying why (503).
    let (_, v) = strict.api(Method::GET, "/api/v1/me", "jdupont", None).await;
    assert_eq!(v["editor"], true, "cached positive answer");
    let (status, v) = strict.api(Method::POST, "/api/v1/meetings", "mmartin", Some(meeting_body())).await;
    assert_eq!(status, 503, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("annuaire"), "{v}");
    app.stop().await;
    strict.stop().await;
}

/// A server that accepts connections and never answers: every look-up runs into the timeout, once;
/// the next requests do not wait again.
#[tokio::test]
async fn a_hanging_directory_costs_one_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let slapd_like = format!("ldap://127.0.0.1:{port}");
    let app = TestApp::spawn_with(|c| {
        c.directory.url = slapd_like;
        c.directory.security = jmb::config::DirectorySecurity::PlaintextLoopback;
        c.directory.base_dn = "dc=example,dc=org".into();
        c.directory.timeout_seconds = 1;
    })
    .await;
    let t = Instant::now();
    let resp = app.get_as("/meetings/new", "jdupont").await;
    let first = t.elapsed();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("id=\"directory-down\""));
    // The LDAP operation's own bound (four fifths of the timeout) runs out first.
    assert!(first >= Duration::from_millis(750) && first < Duration::from_millis(2500), "{first:?}");
    let t = Instant::now();
    let m = app.book("mmartin", body(&["jdupont@example.org"], &["g@partner.net"])).await;
    assert!(t.elapsed() < Duration::from_millis(500), "not asked again at once: {:?}", t.elapsed());
    assert_eq!(mails(&m, "moderator"), ["jdupont@example.org"]);
    app.stop().await;
    hold.abort();
}

/// A connection that goes silent while staying open (half-dead): the look-up on it runs out of time,
/// the directory is down for `RETRY_AFTER`, then the next look-up opens a new connection and finds
/// the person again (a service that kept the silent connection would time out for ever).
#[tokio::test]
async fn the_directory_recovers_from_a_half_dead_connection() {
    let slapd = Slapd::start();
    let relay = Relay::start(slapd.port).await;
    let mut config = jmb::config::Config::default();
    slapd.configure(&mut config);
    config.directory.url = relay.url();
    config.directory.timeout_seconds = 1;
    // Nothing cached: every look-up goes to the server.
    config.directory.cache_seconds = 0;
    let d = jmb::directory::DirectoryService::from_config(&config).unwrap();
    let found = |p: Option<jmb::directory::Person>| p.map(|p| p.mail);
    assert_eq!(d.person_by_uid("mmartin").await.map(found), Ok(Some("marie.martin@example.org".into())));

    relay.freeze();
    let t = Instant::now();
    assert_eq!(d.person_by_uid("mmartin").await, Err(jmb::directory::DirectoryError::Timeout));
    assert!(t.elapsed() < Duration::from_millis(1500), "{:?}", t.elapsed());
    assert_eq!(d.status().await, jmb::directory::Status::Down);

    tokio::time::sleep(jmb::directory::RETRY_AFTER + Duration::from_millis(200)).await;
    let t = Instant::now();
    assert_eq!(d.person_by_uid("mmartin").await.map(found), Ok(Some("marie.martin@example.org".into())));
    assert!(t.elapsed() < Duration::from_millis(800), "a new connection, at once: {:?}", t.elapsed());
    assert_eq!(d.status().await, jmb::directory::Status::Up);
}
