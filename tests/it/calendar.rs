//! The calendar side on the running server: the feed (ETag, 304, 404, 410, PARTSTAT), CalDAV with a
//! generated password, and sync-collection after an answer.

use crate::common::*;

/// A sync-collection request from `token` (empty: the initial sync).
fn sync_request(token: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

/// Signs `uid` in through the proxy headers and generates a CalDAV password; returns (feed path, password).
pub async fn calendar_access(app: &TestApp, uid: &str) -> (String, String) {
    let (cookie, csrf, html) = form_page(app, "/calendar", uid).await;
    let feed = html
        .split("id=\"feed-https\" type=\"text\" readonly value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let resp = app
        .client
        .post(app.url("/calendar/password"))
        .headers(TestApp::as_user(uid))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    // POST, redirect, show once: the password travels in a short-lived cookie to the one page that
    // shows it, which clears it; a reload shows the addresses, not a new password.
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/calendar?done=password");
    let once = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("jmb_calpw="))
        .expect("the password's one-time cookie");
    // Sent by the browser to the page that shows it only, never cross-site, for five minutes.
    assert!(
        once.contains("Path=/calendar") && once.contains("SameSite=Strict") && once.contains("Max-Age=300"),
        "{once}"
    );
    let once = once.split(';').next().unwrap().to_string();
    // Signed with the user, the expiry and the password: altered, it shows nothing.
    let (expiry, rest) = once.trim_start_matches("jmb_calpw=").split_once('.').unwrap();
    let later = format!("jmb_calpw={}.{rest}", expiry.parse::<i64>().unwrap() + 3600);
    let forged = app
        .client
        .get(app.url("/calendar?done=password"))
        .headers(TestApp::as_user(uid))
        .header("cookie", format!("{cookie}; {later}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!forged.contains("id=\"dav-password\""), "a cookie whose expiry was pushed back shows nothing");
    let resp = app
        .client
        .get(app.url("/calendar?done=password"))
        .headers(TestApp::as_user(uid))
        .header("cookie", format!("{cookie}; {once}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("jmb_calpw=;")),
        "cleared once shown"
    );
    let html = resp.text().await.unwrap();
    let reload = app.get_as("/calendar?done=password", uid).await.text().await.unwrap();
    assert!(!reload.contains("id=\"dav-password\""), "a reload neither shows nor mints a password");
    let password = html
        .split("id=\"dav-password\" type=\"text\" readonly value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (path_of(&feed), password)
}

#[tokio::test]
async fn feed_etag_partstat_and_rotation() {
    let app = TestApp::spawn().await;
    let (feed, _) = calendar_access(&app, "jdupont").await;
    let m = app.book("jdupont", meeting_body()).await;
    let resp = app.get(&feed).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/calendar; charset=utf-8");
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"'), "strong ETag");
    let last_modified = resp.headers()["last-modified"].to_str().unwrap().to_string();
    let body = resp.text().await.unwrap();
    assert!(body.contains(&format!("UID:{}", m["uid"].as_str().unwrap())));
    assert!(body.contains("PARTSTAT=NEEDS-ACTION"));
    assert!(body.contains("REFRESH-INTERVAL;VALUE=DURATION:PT1H"));
    assert!(body.contains(&format!("LOCATION:https://meet.example.org/m/{}", m["room"].as_str().unwrap())));
    assert!(body.lines().all(|l| l.len() <= 76), "folded");

    // Conditional requests.
    let resp = app.client.get(app.url(&feed)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(resp.status(), 304);
    let resp = app.client.get(app.url(&feed)).header("if-modified-since", &last_modified).send().await.unwrap();
    assert_eq!(resp.status(), 304);

    // An answer changes the feed.
    let id = m["id"].as_str().unwrap();
    app.set_now("2026-12-01T09:00:00Z");
    let (s, _) = app
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/meetings/{id}/answer"),
            "visitor",
            Some(serde_json::json!({"answer": "accept"})),
        )
        .await;
    assert_eq!(s, 200);
    let resp = app.client.get(app.url(&feed)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("PARTSTAT=ACCEPTED"));

    // Legacy address shape, unknown secret, replaced secret.
    let token = feed.trim_start_matches("/ical/").trim_end_matches(".ics");
    assert_eq!(app.get(&format!("/ical.cgi?{token}")).await.status(), 200);
    assert_eq!(app.get("/ical/unknown-secret-000000000000000.ics").await.status(), 404);
    assert_eq!(app.get("/ical.cgi?").await.status(), 404);
    let (cookie, csrf, _) = form_page(&app, "/calendar", "jdupont").await;
    // Without CSRF: refused, nothing changes.
    let resp = app
        .client
        .post(app.url("/calendar/feed"))
        .headers(TestApp::as_user("jdupont"))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(app.get(&feed).await.status(), 200);
    let resp = app
        .client
        .post(app.url("/calendar/feed"))
        .headers(TestApp::as_user("jdupont"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/calendar?done=feed");
    assert_eq!(app.get(&feed).await.status(), 410, "the replaced address is gone");
    app.stop().await;
}

#[tokio::test]
async fn caldav_reads_and_syncs() {
    let app = TestApp::spawn().await;
    let (_, password) = calendar_access(&app, "jdupont").await;
    let m = app.book("jdupont", meeting_body()).await;
    let dav = |method: &str, path: &str, body: String, depth: &str| {
        app.client
            .request(method.parse().unwrap(), app.url(path))
            .basic_auth("jdupont", Some(&password))
            .header("Depth", depth)
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(body)
    };
    // Discovery.
    let resp = app.get("/.well-known/caldav").await;
    assert_eq!(resp.status(), 301);
    assert_eq!(location(&resp), "/dav/");
    let resp =
        app.client.request("PROPFIND".parse().unwrap(), app.url("/dav/")).header("Depth", "0").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic realm=\"jmb\""));
    let wrong = app
        .client
        .request("PROPFIND".parse().unwrap(), app.url("/dav/"))
        .basic_auth("jdupont", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    const PRINCIPAL: &str =
        r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>"#;
    let body = dav("PROPFIND", "/dav/", PRINCIPAL.to_string(), "0").send().await.unwrap().text().await.unwrap();
    assert!(body.contains("/dav/principals/jdupont/"), "{body}");

    // The sync token before the answer.
    let resp = dav("REPORT", "/dav/principals/jdupont/meetings/", sync_request(""), "1").send().await.unwrap();
    assert_eq!(resp.status(), 207);
    let body = resp.text().await.unwrap();
    let token = body
        .split("<d:sync-token>")
        .nth(1)
        .or_else(|| body.split("sync-token>").nth(1))
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let object = format!("/dav/principals/jdupont/meetings/{}.ics", m["uid"].as_str().unwrap());
    assert!(body.contains(&object), "{body}");

    // An answer shows up as a change with the new PARTSTAT.
    app.set_now("2026-12-01T09:00:00Z");
    let id = m["id"].as_str().unwrap();
    app.api(
        reqwest::Method::POST,
        &format!("/api/v1/meetings/{id}/answer"),
        "visitor",
        Some(serde_json::json!({"answer": "decline"})),
    )
    .await;
    let body = dav("REPORT", "/dav/principals/jdupont/meetings/", sync_request(&token), "1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains(&object), "changed object listed: {body}");
    let ics = app
        .client
        .get(app.url(&object))
        .basic_auth("jdupont", Some(&password))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ics.contains("PARTSTAT=DECLINED"), "{ics}");
    assert!(!ics.contains("METHOD:"), "no METHOD in a CalDAV resource");

    // A repeated PROPFIND (answered from the cache) still follows changes.
    const ETAGS: &str = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><d:getetag/><cs:getctag/></d:prop></d:propfind>"#;
    let first = dav("PROPFIND", "/dav/principals/jdupont/meetings/", ETAGS.to_string(), "1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let again = dav("PROPFIND", "/dav/principals/jdupont/meetings/", ETAGS.to_string(), "1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(first, again);
    app.api(
        reqwest::Method::POST,
        &format!("/api/v1/meetings/{id}/answer"),
        "visitor",
        Some(serde_json::json!({"answer": "accept"})),
    )
    .await;
    let after = dav("PROPFIND", "/dav/principals/jdupont/meetings/", ETAGS.to_string(), "1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_ne!(first, after, "new ctag and ETag after an answer");

    // Deletion: reported as removed.
    let body2 = dav("REPORT", "/dav/principals/jdupont/meetings/", sync_request(""), "1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token2 = body2.split("sync-token>").nth(1).unwrap().split('<').next().unwrap().to_string();
    app.api(reqwest::Method::DELETE, &format!("/api/v1/meetings/{id}"), "jdupont", None).await;
    let body = dav("REPORT", "/dav/principals/jdupont/meetings/", sync_request(&token2), "1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains(&object) && body.contains("404"), "{body}");

    // Writes are refused, another user's calendar is invisible, a foreign token is 403.
    let put = app
        .client
        .put(app.url(&object))
        .basic_auth("jdupont", Some(&password))
        .body("BEGIN:VCALENDAR")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403);
    assert!(put.text().await.unwrap().contains("need-privileges"));
    let other = dav("PROPFIND", "/dav/principals/mmartin/meetings/", PRINCIPAL.to_string(), "0").send().await.unwrap();
    assert_eq!(other.status(), 404);
    const BAD: &str = r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>https://meet.example.org/ns/sync/999999</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#;
    let resp = dav("REPORT", "/dav/principals/jdupont/meetings/", BAD.to_string(), "1").send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("valid-sync-token"));
    // The booking pages still answer on `/` next to CalDAV's PROPFIND.
    assert_eq!(app.get_as("/", "jdupont").await.status(), 200);
    app.stop().await;
}

/// A CalDAV client for one user.
struct Dav<'a> {
    app: &'a TestApp,
    uid: &'a str,
    password: String,
}

impl Dav<'_> {
    fn request(&self, method: &str, path: &str, body: String) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(method.parse().unwrap(), self.app.url(path))
            .basic_auth(self.uid, Some(&self.password))
            .header("Depth", "1")
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(body)
    }

    /// A sync-collection from `token` asking for calendar data: (status, body, new token).
    async fn sync(&self, token: &str) -> (u16, String, String) {
        let body = format!(
            r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/><c:calendar-data/></d:prop></d:sync-collection>"#
        );
        let resp =
            self.request("REPORT", &format!("/dav/principals/{}/meetings/", self.uid), body).send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let token =
            text.split("sync-token>").nth(1).map(|t| t.split('<').next().unwrap().to_string()).unwrap_or_default();
        (status, text, token)
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let resp = self.request("GET", path, String::new()).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

async fn dav_for<'a>(app: &'a TestApp, uid: &'a str) -> Dav<'a> {
    dav_and_feed(app, uid).await.0
}

/// A CalDAV client for `uid` and the path of their feed (one new calendar password).
async fn dav_and_feed<'a>(app: &'a TestApp, uid: &'a str) -> (Dav<'a>, String) {
    let (feed, password) = calendar_access(app, uid).await;
    (Dav { app, uid, password }, feed)
}

fn object_path(uid: &str, meeting: &serde_json::Value) -> String {
    format!("/dav/principals/{uid}/meetings/{}.ics", meeting["uid"].as_str().unwrap())
}

/// The validated form of `meeting_body()` with another subject, as jdupont would send it.
fn moved(app: &TestApp, subject: &str) -> jmb::booking::rules::ValidMeeting {
    use jmb::booking::rules::{Context, RawMeeting, RawStart, validate};
    let body = meeting_body();
    let list = |k: &str| body[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let raw = RawMeeting {
        subject: subject.into(),
        start: RawStart::Rfc3339(body["start"].as_str().unwrap().into()),
        duration: "90".into(),
        moderators: list("moderators"),
        guests: list("guests"),
    };
    let now = jmb::clock::Clock::now(app.clock.as_ref());
    validate(&raw, &Context::new(&app.state.config, now, "jean.dupont@example.org")).unwrap()
}

/// `sync-collection` never hands out a token ahead of the bodies it sends: a change written by another
/// process while this one serves a cached rendering is either not reported yet (the token stays) or
/// reported with its new content, and is reported at the latest on the next sync once the cache is
/// re-checked. (It used to answer the new token with the old body, after which the client never
/// fetched the change.)
#[tokio::test]
async fn sync_tokens_never_run_ahead_of_their_bodies() {
    let app = TestApp::spawn().await;
    let dav = dav_for(&app, "jdupont").await;
    let m = app.book("jdupont", meeting_body()).await;
    let (_, body, t0) = dav.sync("").await;
    assert!(body.contains("Réunion de l'équipe"), "{body}");
    // Another process (an import, a second jmb) changes the meeting in the same database.
    let other = jmb::db::Db::open(&app.state.config.database.path, std::time::Duration::from_secs(5), 1).unwrap();
    let bookings = jmb::booking::Bookings::new(other, jmb::app::hooks(&app.state.mail), "meet.example.org");
    let actor = jmb::identity::Actor { identity: TestApp::identity_of("jdupont"), is_editor: true };
    let now = jmb::clock::Clock::now(app.clock.as_ref());
    bookings.update(&actor, m["id"].as_str().unwrap(), moved(&app, "Changed elsewhere"), now).await.unwrap();

    let (status, body, t1) = dav.sync(&t0).await;
    assert_eq!(status, 207);
    if t1 != t0 {
        assert!(body.contains("Changed elsewhere"), "a new token must come with the new bytes: {body}");
    }
    // Once the cache is checked against the store again (at most a second), the change arrives.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, body, t2) = dav.sync(&t1).await;
    if t1 == t0 {
        assert!(body.contains("Changed elsewhere") && t2 != t1, "the change arrives with a newer token: {body}");
    }
    let (_, ics) = dav.get(&object_path("jdupont", &m)).await;
    assert!(ics.contains("SUMMARY:Changed elsewhere"), "{ics}");
    let (_, body, _) = dav.sync(&t2).await;
    assert!(!body.contains("<d:response>"), "nothing left to report: {body}");
    app.stop().await;
}

/// One CalDAV request reads the calendar from the store once: a booking committed after its password
/// check does not show in the rest of that request (its answer is of one version, without a second
/// read), and shows in the next request.
#[tokio::test]
async fn a_caldav_request_answers_from_one_version() {
    use jmb::caldav::CalendarBackend;
    let app = TestApp::spawn().await;
    let dav = dav_for(&app, "jdupont").await;
    app.book("jdupont", meeting_body()).await;
    let store = app.state.calendars.clone();
    let (objects, ctag) = jmb::calendar::store::request_scope(async {
        assert!(store.authenticate("jdupont", &dav.password).await.unwrap().is_some());
        app.book("jdupont", meeting_body()).await;
        let state = store.state("jdupont").await.unwrap();
        (store.objects("jdupont", None).await.unwrap().len(), state.ctag)
    })
    .await;
    assert_eq!(objects, 1, "the version the password check read");
    let next = jmb::calendar::store::request_scope(async {
        assert!(store.authenticate("jdupont", &dav.password).await.unwrap().is_some());
        (store.objects("jdupont", None).await.unwrap().len(), store.state("jdupont").await.unwrap().ctag)
    })
    .await;
    assert_eq!(next.0, 2, "the next request sees the booking");
    assert!(next.1 > ctag);
    app.stop().await;
}

#[tokio::test]
async fn a_new_calendar_password_refuses_the_old_one() {
    let app = TestApp::spawn().await;
    let first = dav_for(&app, "jdupont").await;
    assert_eq!(first.sync("").await.0, 207);
    let second = dav_for(&app, "jdupont").await;
    assert_ne!(first.password, second.password);
    assert_eq!(first.sync("").await.0, 401, "the replaced password stops at once, even if it was remembered");
    assert_eq!(second.sync("").await.0, 207);
    app.stop().await;
}

/// A second jmb process sharing the database replaces the password (or an administrator does it with
/// a tool): the old one stops at once here too. It kept working for a minute, remembered by this
/// process's sign-in cache.
#[tokio::test]
async fn a_password_replaced_by_another_process_stops_at_once() {
    use jmb::caldav::CalendarBackend;
    let app = TestApp::spawn().await;
    let dav = dav_for(&app, "jdupont").await;
    assert_eq!(dav.sync("").await.0, 207);
    let store = &app.state.calendars;
    assert!(store.authenticate("jdupont", &dav.password).await.unwrap().is_some());

    let other = jmb::db::Db::open(&app.state.config.database.path, std::time::Duration::from_secs(5), 1).unwrap();
    let users = jmb::users::Users::new(other, jmb::app::hooks(&app.state.mail));
    let now = jmb::clock::Clock::now(app.clock.as_ref());
    let replaced = users.new_calendar_password(&TestApp::identity_of("jdupont"), now).await.unwrap();

    assert!(store.authenticate("jdupont", &dav.password).await.unwrap().is_none(), "the old password is refused");
    assert_eq!(dav.sync("").await.0, 401);
    assert!(store.authenticate("jdupont", &replaced).await.unwrap().is_some());
    app.stop().await;
}

#[tokio::test]
async fn an_address_change_resets_sync_tokens() {
    let app = TestApp::spawn().await;
    let dav = dav_for(&app, "jdupont").await;
    app.book("jdupont", meeting_body()).await;
    let (_, _, token) = dav.sync("").await;
    assert_eq!(dav.sync(&token).await.0, 207);
    // The directory now gives jdupont another primary address.
    let resp = app
        .client
        .get(app.url("/meetings"))
        .headers(TestApp::identity("jdupont", "j.dupont@example.org", "Jean Dupont"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, body, _) = dav.sync(&token).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("valid-sync-token"));
    let (status, body, _) = dav.sync("").await;
    assert_eq!(status, 207);
    assert!(body.contains("Réunion de l'équipe"), "the owner still sees their meeting: {body}");
    app.stop().await;
}

#[tokio::test]
async fn declined_meetings_leave_the_calendar_when_so_configured() {
    let app = TestApp::spawn_with(|c| c.calendar.show_declined = false).await;
    let (dav, feed) = dav_and_feed(&app, "visitor").await;
    let m = app.book("jdupont", meeting_body()).await;
    let (_, body, token) = dav.sync("").await;
    let object = object_path("visitor", &m);
    assert!(body.contains(&object), "{body}");
    let id = m["id"].as_str().unwrap();
    let (s, _) = app
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/meetings/{id}/answer"),
            "visitor",
            Some(serde_json::json!({"answer": "decline"})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, body, _) = dav.sync(&token).await;
    assert!(body.contains(&object) && body.contains("404 Not Found"), "reported as removed: {body}");
    assert!(!app.get(&feed).await.text().await.unwrap().contains(m["uid"].as_str().unwrap()));
    assert_eq!(dav.get(&object).await.0, 404);
    app.stop().await;
}

/// An alarm passing and a meeting leaving the window change the calendar: the version moves, the
/// object is reported changed (without the passed VALARM) and then removed, and the feed's
/// Last-Modified follows.
#[tokio::test]
async fn time_moves_the_calendar_version() {
    let app = TestApp::spawn_with(|c| {
        c.calendar.alarm_minutes = vec![60];
        c.calendar.past_days = 1;
    })
    .await;
    let (dav, feed) = dav_and_feed(&app, "jdupont").await;
    let m = app.book("jdupont", meeting_body()).await; // 2026-12-05 09:00-10:30 UTC
    let object = object_path("jdupont", &m);
    let deps = jmb::app::job_deps(&app.state);
    let (_, _, t0) = dav.sync("").await;
    assert!(dav.get(&object).await.1.contains("TRIGGER:-PT1H"));
    let lm0 = app.get(&feed).await.headers()["last-modified"].to_str().unwrap().to_string();

    app.set_now("2026-12-05T08:00:05Z");
    jmb::jobs::advance_calendar_clock(&deps, "2026-12-05T08:00:05Z".parse().unwrap()).await.unwrap();
    let (_, body, t1) = dav.sync(&t0).await;
    assert!(body.contains(&object) && !body.contains("BEGIN:VALARM"), "{body}");
    assert!(!dav.get(&object).await.1.contains("VALARM"));
    let resp = app.client.get(app.url(&feed)).header("if-modified-since", &lm0).send().await.unwrap();
    assert_eq!(resp.status(), 200, "the feed changed, so it is not 'not modified'");
    let lm1 = resp.headers()["last-modified"].to_str().unwrap().to_string();
    assert_eq!(lm1, "Sat, 05 Dec 2026 08:00:05 GMT");

    app.set_now("2026-12-06T10:30:05Z");
    jmb::jobs::advance_calendar_clock(&deps, "2026-12-06T10:30:05Z".parse().unwrap()).await.unwrap();
    let (_, body, _) = dav.sync(&t1).await;
    assert!(body.contains(&object) && body.contains("404 Not Found"), "left the window: {body}");
    let resp = app.get(&feed).await;
    assert_eq!(resp.headers()["last-modified"], "Sun, 06 Dec 2026 10:30:05 GMT");
    assert!(!resp.text().await.unwrap().contains("BEGIN:VEVENT"));
    app.stop().await;
}

/// The feed's Last-Modified is when the calendar last changed: a deletion moves it forward (it used to
/// fall back to the newest remaining event, and If-Modified-Since then got a wrong 304).
#[tokio::test]
async fn feed_last_modified_never_goes_backwards() {
    let app = TestApp::spawn().await;
    let (feed, _) = calendar_access(&app, "jdupont").await;
    app.set_now("2026-12-01T09:00:00Z");
    app.book("jdupont", meeting_body()).await;
    app.set_now("2026-12-01T10:00:00Z");
    let mut later = meeting_body();
    later["start"] = serde_json::json!("2026-12-06T09:00:00Z");
    let second = app.book("jdupont", later).await;
    let lm = app.get(&feed).await.headers()["last-modified"].to_str().unwrap().to_string();
    assert_eq!(lm, "Tue, 01 Dec 2026 10:00:00 GMT");
    app.set_now("2026-12-01T11:00:00Z");
    let (s, _) = app
        .api(reqwest::Method::DELETE, &format!("/api/v1/meetings/{}", second["id"].as_str().unwrap()), "jdupont", None)
        .await;
    assert_eq!(s, 204);
    let resp = app.client.get(app.url(&feed)).header("if-modified-since", &lm).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["last-modified"], "Tue, 01 Dec 2026 11:00:00 GMT");
    app.stop().await;
}

#[tokio::test]
async fn pruning_the_log_invalidates_old_tokens() {
    let app = TestApp::spawn_with(|c| c.calendar.change_log_days = 2).await;
    let dav = dav_for(&app, "jdupont").await;
    let m = app.book("jdupont", meeting_body()).await;
    let (_, _, token) = dav.sync("").await;
    app.set_now("2026-12-01T09:00:00Z");
    let id = m["id"].as_str().unwrap();
    app.api(
        reqwest::Method::POST,
        &format!("/api/v1/meetings/{id}/answer"),
        "visitor",
        Some(serde_json::json!({"answer": "accept"})),
    )
    .await;
    assert_eq!(dav.sync(&token).await.0, 207);
    let deps = jmb::app::job_deps(&app.state);
    let removed = jmb::jobs::prune_change_log(&deps, "2026-12-04T09:00:01Z".parse().unwrap()).await.unwrap();
    assert!(removed >= 2, "{removed}");
    let (status, body, _) = dav.sync(&token).await;
    assert_eq!(status, 403);
    assert!(body.contains("valid-sync-token"));
    assert_eq!(dav.sync("").await.0, 207, "a client starting over is served");
    app.stop().await;
}

/// A sync-collection request from `token` returning at most `limit` responses.
fn limited_sync_request(token: &str, limit: usize) -> String {
    format!(
        r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:limit><d:nresults>{limit}</d:nresults></d:limit><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

fn sync_token_of(body: &str) -> String {
    body.split("<d:sync-token>").nth(1).unwrap().split('<').next().unwrap().to_string()
}

#[tokio::test]
async fn caldav_free_busy_follows_answers_and_sync_pages_with_a_limit() {
    let app = TestApp::spawn().await;
    let (_, password) = calendar_access(&app, "visitor").await;
    let mut ids = Vec::new();
    for day in ["05", "06", "07"] {
        let mut body = meeting_body();
        body["start"] = format!("2026-12-{day}T09:00:00Z").into();
        ids.push(app.book("jdupont", body).await["id"].as_str().unwrap().to_string());
    }
    let calendar = "/dav/principals/visitor/meetings/";
    let dav = |method: &str, body: String| {
        app.client
            .request(method.parse().unwrap(), app.url(calendar))
            .basic_auth("visitor", Some(&password))
            .header("Depth", "1")
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(body)
    };
    let free_busy = || {
        dav(
            "REPORT",
            r#"<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:time-range start="20261201T000000Z" end="20261210T000000Z"/></c:free-busy-query>"#
                .to_string(),
        )
    };

    // Invited, not answered: tentative.
    let resp = free_busy().send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/calendar; charset=utf-8");
    let body = resp.text().await.unwrap();
    assert!(body.contains("DTSTAMP:20261201T080000Z\r\n"), "the application's clock: {body}");
    for day in ["05", "06", "07"] {
        assert!(body.contains(&format!("FREEBUSY;FBTYPE=BUSY-TENTATIVE:202612{day}T090000Z/202612{day}T103000Z\r\n")));
    }

    // The initial listing cannot be cut: 507 below the calendar's size.
    let resp = dav("REPORT", limited_sync_request("", 2)).send().await.unwrap();
    assert_eq!(resp.status(), 507);
    assert!(resp.text().await.unwrap().contains("<d:number-of-matches-within-limits/>"));
    let resp = dav("REPORT", limited_sync_request("", 3)).send().await.unwrap();
    assert_eq!(resp.status(), 207);
    let token = sync_token_of(&resp.text().await.unwrap());

    // Accepted: busy; declined: free (still listed, as declined).
    app.set_now("2026-12-01T09:00:00Z");
    for (id, answer) in [(&ids[2], "accept"), (&ids[0], "decline")] {
        let (status, _) = app
            .api(
                reqwest::Method::POST,
                &format!("/api/v1/meetings/{id}/answer"),
                "visitor",
                Some(serde_json::json!({ "answer": answer })),
            )
            .await;
        assert_eq!(status, 200);
    }
    let body = free_busy().send().await.unwrap().text().await.unwrap();
    assert!(!body.contains("20261205T090000Z/"), "declined: {body}");
    assert!(body.contains("FREEBUSY;FBTYPE=BUSY-TENTATIVE:20261206T090000Z/20261206T103000Z\r\n"));
    assert!(body.contains("FREEBUSY;FBTYPE=BUSY:20261207T090000Z/20261207T103000Z\r\n"));

    // Two objects changed: one page of one, then the rest.
    let body = dav("REPORT", limited_sync_request(&token, 1)).send().await.unwrap().text().await.unwrap();
    assert_eq!(body.matches("<d:response>").count(), 2, "{body}");
    assert!(body.contains(&format!(
        "<d:response><d:href>{calendar}</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>"
    )));
    let next = sync_token_of(&body);
    assert_ne!(next, token);
    let body = dav("REPORT", limited_sync_request(&next, 1)).send().await.unwrap().text().await.unwrap();
    assert_eq!(body.matches("<d:response>").count(), 1, "{body}");
    // The status itself: "507" alone may well occur in a personal link's token.
    assert!(!body.contains("507 Insufficient Storage"), "{body}");
    let last = sync_token_of(&body);
    let body = dav("REPORT", limited_sync_request(&last, 1)).send().await.unwrap().text().await.unwrap();
    assert_eq!(body.matches("<d:response>").count(), 0, "{body}");
    assert_eq!(sync_token_of(&body), last);

    // The organiser is busy in all of them.
    let (_, owner_password) = calendar_access(&app, "jdupont").await;
    let body = app
        .client
        .request("REPORT".parse().unwrap(), app.url("/dav/principals/jdupont/meetings/"))
        .basic_auth("jdupont", Some(&owner_password))
        .body(r#"<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:time-range start="20261201T000000Z" end="20261210T000000Z"/></c:free-busy-query>"#)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body.matches("FREEBUSY;FBTYPE=BUSY:").count(), 3, "{body}");
    app.stop().await;
}

/// A client that answers a 401 by retrying with credentials on the same connection (python caldav,
/// Apple) gets an answer: the refused request's body is read, so the connection stays usable.
#[tokio::test]
async fn a_refused_propfind_keeps_the_connection_usable() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let (_, password) = calendar_access(&app, "jdupont").await;
    let body =
        r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>"#;
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = |auth: &str| {
        format!(
            "PROPFIND /dav/ HTTP/1.1\r\nHost: meet.example.org\r\nDepth: 0\r\n{auth}Content-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    // Headers first, the body a moment later, as clients write them: the server must not answer (and
    // give up the connection) before the body is in.
    let first_request = request("");
    let (head, rest) = first_request.split_at(first_request.find("\r\n\r\n").unwrap() + 4);
    conn.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    conn.write_all(rest.as_bytes()).await.unwrap();
    let mut first = vec![0u8; 4096];
    let n = conn.read(&mut first).await.unwrap();
    let first = String::from_utf8_lossy(&first[..n]).to_string();
    assert!(first.starts_with("HTTP/1.1 401"), "{first}");
    assert!(!first.to_ascii_lowercase().contains("connection: close"), "{first}");
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("jdupont:{password}"));
    conn.write_all(request(&format!("Authorization: Basic {auth}\r\n")).as_bytes()).await.unwrap();
    let mut second = Vec::new();
    let mut buf = vec![0u8; 8192];
    while !String::from_utf8_lossy(&second).contains("</d:multistatus>") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "the server closed the connection: {}", String::from_utf8_lossy(&second));
        second.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&second).starts_with("HTTP/1.1 207"));
    app.stop().await;
}

/// A calendar rendered once is kept on disk: a store with an empty memory (as after a restart) serves
/// those very bytes without rendering them again, and never once anything they depended on changed (the
/// calendar's version, the settings, the time), nor when the disk cache is off.
#[tokio::test]
async fn renderings_on_disk_outlive_memory_and_never_go_stale() {
    use jmb::calendar::store::{CalendarStore, FeedLookup};
    use jmb::clock::Clock;
    use std::sync::Arc;

    let app = TestApp::spawn().await;
    let (feed, _) = calendar_access(&app, "jdupont").await;
    let token = feed.trim_start_matches("/ical/").trim_end_matches(".ics").to_string();
    let m = app.book("jdupont", meeting_body()).await;
    let id = m["id"].as_str().unwrap().to_string();
    let served = app.get(&feed).await.bytes().await.unwrap();
    assert!(std::str::from_utf8(&served).unwrap().contains("SUMMARY:Réunion de l'équipe"));
    let folder = jmb::calendar::disk::dir_for(&app.state.config).unwrap();
    assert!(std::fs::read_dir(&folder).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".cal")));

    // Written behind jmb's back (no hook: the calendar's version does not move, the stored lines go), so
    // a new rendering would differ from what is on disk.
    app.state
        .db
        .write(move |tx| -> Result<(), jmb::db::DbError> {
            tx.execute("UPDATE meetings SET subject = 'Changed behind its back' WHERE id = ?1", [&id])?;
            tx.execute("DELETE FROM event_renderings WHERE meeting_id = ?1", [&id])?;
            Ok(())
        })
        .await
        .unwrap();
    let clock: Arc<dyn Clock> = app.clock.clone();
    let snapshot_of = |config: jmb::config::Config| {
        let (db, clock, token) = (app.state.db.clone(), clock.clone(), token.clone());
        async move {
            match CalendarStore::new(db, Arc::new(config), clock).feed(&token).await.unwrap() {
                FeedLookup::Calendar(s) => s,
                _ => panic!("the feed is known"),
            }
        }
    };
    let feed_of = |config: jmb::config::Config| {
        let snapshot = snapshot_of(config);
        async move { String::from_utf8(snapshot.await.feed.to_vec()).unwrap() }
    };
    let config = || (*app.state.config).clone();
    assert_eq!(feed_of(config()).await.as_bytes(), &served[..], "served from disk as it was");
    // Read back from disk again (the memory cache need not keep it), the same rendering has the same
    // generation: the CalDAV answers cached under it still apply.
    let from_disk = snapshot_of(config()).await.generation;
    assert_eq!(snapshot_of(config()).await.generation, from_disk);
    let mut off = config();
    off.calendar.disk_cache = false;
    assert!(feed_of(off).await.contains("SUMMARY:Changed behind its back"), "without the disk cache: rendered");
    let mut renamed = config();
    renamed.calendar.name = "Autre nom".into();
    let other = feed_of(renamed).await;
    assert!(other.contains("X-WR-CALNAME:Autre nom") && other.contains("Changed behind its back"), "other settings");
    // The rendering just made for the new settings replaced the file: the former ones render again.
    assert!(feed_of(config()).await.contains("Changed behind its back"));
    assert_ne!(snapshot_of(config()).await.generation, from_disk, "read from disk, other content: another generation");

    // A new version (an answer) is rendered, not read back.
    let (s, _) = app
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/meetings/{}/answer", m["id"].as_str().unwrap()),
            "visitor",
            Some(serde_json::json!({"answer": "accept"})),
        )
        .await;
    assert_eq!(s, 200);
    let answered = feed_of(config()).await;
    assert!(answered.contains("PARTSTAT=ACCEPTED"));
    assert_eq!(feed_of(config()).await, answered, "and kept");
    // Time: an alarm passing (a day before the start) changes what is served.
    let alarms = |feed: &str| feed.lines().filter(|l| l.starts_with("TRIGGER:")).count();
    app.set_now("2026-12-04T10:00:00Z");
    let later = feed_of(config()).await;
    assert_eq!(alarms(&later), alarms(&answered) - 1, "{later}");
    app.stop().await;
}
