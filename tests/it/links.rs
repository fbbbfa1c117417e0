//! Personal links and the token route: join flows for each role, the Jitsi token claims, the join
//! window, ended meetings, and answering through the RSVP page (GET shows, POST records).

use crate::common::*;

async fn booked(app: &TestApp) -> serde_json::Value {
    app.book("jdupont", meeting_body()).await
}

fn link(m: &serde_json::Value, mail: &str, kind: &str) -> String {
    path_of(attendee(m, mail)[kind].as_str().unwrap())
}

#[tokio::test]
async fn owner_gets_a_moderator_token_through_sign_in() {
    let app = TestApp::spawn().await;
    let m = booked(&app).await;
    let room = m["room"].as_str().unwrap();
    app.set_now("2026-12-05T08:45:00Z"); // 15 minutes before the start
    let resp = app.get_as(&format!("/m/{room}"), "jdupont").await;
    assert_eq!(resp.status(), 302);
    let loc = location(&resp);
    assert!(loc.starts_with(&format!("https://meet.example.org/{room}?jwt=")), "{loc}");
    let c = decode_jwt(&jwt_of(&loc));
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-05T08:45:00Z").unwrap().timestamp();
    assert_eq!(c["iss"], "jitsi-auth");
    assert_eq!(c["aud"], "jitsi");
    assert_eq!(c["sub"], "meet.example.org");
    assert_eq!(c["room"], room);
    assert_eq!(c["nbf"], now - 5);
    assert_eq!(c["exp"], now + 900);
    let user = &c["context"]["user"];
    assert_eq!(user["id"], "jdupont");
    assert_eq!(user["name"], "Jean Dupont");
    assert_eq!(user["email"], "jean.dupont@example.org");
    assert_eq!(user["moderator"], "true");
    assert_eq!(user["affiliation"], "owner");
    for (_, v) in user.as_object().unwrap() {
        assert!(v.is_string(), "every context.user value is a string");
    }
    // The owner's personal link goes through sign-in, and the join was counted once.
    let own = link(&m, "jean.dupont@example.org", "join_url");
    assert_eq!(location(&app.get(&own).await), format!("/m/{room}"));
    let (_, v) = app
        .api(reqwest::Method::GET, &format!("/api/v1/meetings/{}", m["id"].as_str().unwrap()), "jdupont", None)
        .await;
    assert_eq!(attendee(&v, "jean.dupont@example.org")["join_count"], 1);
    app.stop().await;
}

#[tokio::test]
async fn token_route_refuses_others_and_honours_the_window() {
    let app = TestApp::spawn().await;
    let m = booked(&app).await;
    let room = m["room"].as_str().unwrap();
    // Too early: a page with the start time, no token.
    let resp = app.get_as(&format!("/m/{room}"), "jdupont").await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text().await.unwrap().contains("samedi 5 décembre 2026, 10:00 – 11:30 (Europe/Paris)"),
        "start shown in Paris time, named"
    );
    app.set_now("2026-12-05T09:10:00Z");
    // A guest who is signed in is neither owner nor moderator.
    let resp = app.get_as(&format!("/m/{room}"), "visitor").await;
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("ni propriétaire ni modérateur"));
    // The internal moderator gets a token with their own identity.
    let resp = app.get_as(&format!("/m/{room}"), "mmartin").await;
    assert_eq!(resp.status(), 302);
    assert_eq!(decode_jwt(&jwt_of(&location(&resp)))["context"]["user"]["id"], "mmartin");
    // Ended: 410.
    app.set_now("2026-12-05T10:30:00Z");
    assert_eq!(app.get_as(&format!("/m/{room}"), "jdupont").await.status(), 410);
    app.stop().await;
}

#[tokio::test]
async fn private_room_is_for_its_editor_only() {
    let app = TestApp::spawn().await;
    let resp = app.get_as("/m/jdupont", "jdupont").await;
    assert_eq!(resp.status(), 302);
    assert_eq!(decode_jwt(&jwt_of(&location(&resp)))["room"], "jdupont");
    assert_eq!(app.get_as("/m/jdupont", "mmartin").await.status(), 403);
    assert_eq!(app.get_as("/m/visitor", "visitor").await.status(), 403, "non-editors have no private room");
    assert_eq!(app.count("SELECT use_count FROM private_rooms WHERE uid = 'jdupont'").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn personal_links_by_role() {
    let app = TestApp::spawn().await;
    let m = booked(&app).await;
    let room = m["room"].as_str().unwrap().to_string();
    let guest = link(&m, "guest.one+jmb@example.com", "join_url");
    let ext = link(&m, "ext.mod@partner.net", "join_url");
    let internal = link(&m, "marie.martin@example.org", "join_url");

    // Guests may come 5 minutes early, moderators 15.
    app.set_now("2026-12-05T08:50:00Z");
    let resp = app.get(&guest).await;
    assert_eq!(resp.status(), 200, "too early for a guest");
    assert!(resp.text().await.unwrap().contains("10:00"));
    let resp = app.get(&ext).await;
    assert_eq!(resp.status(), 302, "moderators are in the window");

    app.set_now("2026-12-05T08:56:00Z");
    let resp = app.get(&guest).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(location(&resp), format!("https://meet.example.org/{room}"), "guests get no token");

    let resp = app.get(&ext).await;
    let c = decode_jwt(&jwt_of(&location(&resp)));
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-05T08:56:00Z").unwrap().timestamp();
    assert_eq!(c["exp"], now + 1800, "external moderators: 30 minutes");
    assert_eq!(c["room"], room.as_str());
    let user = &c["context"]["user"];
    assert!(user["id"].as_str().unwrap().starts_with("jmb-attendee-"), "a stable attendee id, not a credential");
    assert_eq!(user["name"], "Ext Mod");
    assert_eq!(user["email"], "ext.mod@partner.net");
    assert_eq!(user["moderator"], "true");
    // The same attendee always gets the same id.
    let again = decode_jwt(&jwt_of(&location(&app.get(&ext).await)));
    assert_eq!(again["context"]["user"]["id"], user["id"]);

    // Internal moderators go through sign-in.
    assert_eq!(location(&app.get(&internal).await), format!("/m/{room}"));

    // Uses are counted: guest once, external moderator three times (one before the guest window).
    let (_, v) = app
        .api(reqwest::Method::GET, &format!("/api/v1/meetings/{}", m["id"].as_str().unwrap()), "jdupont", None)
        .await;
    assert_eq!(attendee(&v, "guest.one+jmb@example.com")["join_count"], 1);
    assert_eq!(attendee(&v, "ext.mod@partner.net")["join_count"], 3);
    assert_eq!(attendee(&v, "ext.mod@partner.net")["first_join"], "2026-12-05T08:50:00Z");
    assert_eq!(attendee(&v, "ext.mod@partner.net")["last_join"], "2026-12-05T08:56:00Z");

    // Unknown and ended.
    assert_eq!(app.get("/j/not-a-real-token-at-all-000000").await.status(), 404);
    app.set_now("2026-12-05T10:31:00Z");
    let resp = app.get(&guest).await;
    assert_eq!(resp.status(), 410);
    assert!(resp.text().await.unwrap().contains("terminée"));
    app.stop().await;
}

fn csrf_from(html: &str) -> String {
    form_csrf(html)
}

fn cookie_from(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("__Host-jmb_csrf="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .expect("a CSRF cookie")
}

#[tokio::test]
async fn rsvp_get_changes_nothing_and_post_records() {
    let app = TestApp::spawn().await;
    let m = booked(&app).await;
    let rsvp = link(&m, "guest.two@example.com", "rsvp_url");
    // A mail scanner following the link (even the legacy accept link) changes nothing.
    let resp = app.get(&rsvp).await;
    assert_eq!(resp.status(), 200);
    let cookie = cookie_from(&resp);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Réunion de l&#39;équipe") || html.contains("Réunion de l&#x27;équipe"), "subject escaped");
    assert!(html.contains("Sans réponse"));
    let token = rsvp.trim_start_matches("/rsvp/");
    let legacy = app.get(&format!("/invitation.cgi?accept&id={token}")).await;
    assert_eq!(legacy.status(), 303);
    assert_eq!(location(&legacy), format!("/rsvp/{token}?answer=accept"));
    assert_eq!(app.count("SELECT COUNT(*) FROM attendees WHERE partstat <> 0 AND role <> 'owner'").await, 0);

    // Without the CSRF token: 403, nothing recorded.
    let resp = app.client.post(app.url(&rsvp)).form(&[("answer", "accept")]).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let resp = app
        .client
        .post(app.url(&rsvp))
        .header("cookie", &cookie)
        .form(&[("answer", "accept"), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(app.count("SELECT COUNT(*) FROM attendees WHERE partstat <> 0 AND role <> 'owner'").await, 0);

    // With it: recorded, and visible to the owner.
    let csrf = csrf_from(&html);
    let resp = app
        .client
        .post(app.url(&rsvp))
        .header("cookie", &cookie)
        .form(&[("answer", "decline"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("Votre absence est enregistrée"));
    let (_, v) = app
        .api(reqwest::Method::GET, &format!("/api/v1/meetings/{}", m["id"].as_str().unwrap()), "jdupont", None)
        .await;
    assert_eq!(attendee(&v, "guest.two@example.com")["partstat"], "DECLINED");

    // "Maybe" is recorded as TENTATIVE; a bad answer value is a 400; after the end the page is
    // read-only and a POST is 410.
    let resp = app
        .client
        .post(app.url(&rsvp))
        .header("cookie", &cookie)
        .form(&[("answer", "tentative"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("Votre réponse « peut-être » est enregistrée"));
    let (_, v) = app
        .api(reqwest::Method::GET, &format!("/api/v1/meetings/{}", m["id"].as_str().unwrap()), "jdupont", None)
        .await;
    assert_eq!(attendee(&v, "guest.two@example.com")["partstat"], "TENTATIVE");
    let resp = app
        .client
        .post(app.url(&rsvp))
        .header("cookie", &cookie)
        .form(&[("answer", "perhaps"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    app.set_now("2026-12-06T00:00:00Z");
    let html = app.get(&rsvp).await.text().await.unwrap();
    assert!(html.contains("Cette réunion est terminée") && !html.contains("name=\"answer\""));
    let resp = app
        .client
        .post(app.url(&rsvp))
        .header("cookie", &cookie)
        .form(&[("answer", "accept"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 410);
    assert_eq!(app.get("/rsvp/unknown-token-000000000000000").await.status(), 404);
    app.stop().await;
}

/// A private room named after a uid holding `#` (or `?`, `/`, a space) is encoded in every URL: the
/// link on the list, the room address and the redirect with its token (`x#frag` sent the browser to
/// room `x`, the rest and the token in a fragment).
#[tokio::test]
async fn private_room_urls_encode_the_uid() {
    let app = TestApp::spawn_with(|c| {
        c.auth.editors = jmb::config::EditorPolicy::Keyword(jmb::config::EditorKeyword::Everyone)
    })
    .await;
    let who = TestApp::identity("x#frag", "x.frag@example.org", "X Frag");
    let home = app.client.get(app.url("/meetings")).headers(who.clone()).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("href=\"/m/x%23frag\""), "{home}");
    assert!(home.contains("value=\"https://meet.example.org/x%23frag\""), "{home}");
    let resp = app.client.get(app.url("/m/x%23frag")).headers(who).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let to = location(&resp);
    assert!(to.starts_with("https://meet.example.org/x%23frag?jwt="), "{to}");
    assert_eq!(decode_jwt(&jwt_of(&to))["room"], "x#frag");
    app.stop().await;
}
