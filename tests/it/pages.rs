//! Router tests of the booking pages, driven with `tower::ServiceExt::oneshot` on `jmb::app::router`:
//! validation errors next to their fields with the input kept (400), CSRF refusals that change nothing
//! (403), list states and colours with a fixed clock, ownership (403/404), edit and delete windows,
//! the attendee page and its CSV export.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use jmb::booking::model::{MeetingDetails, PartStat};
use jmb::booking::rules::{self, RawMeeting, RawStart};
use jmb::booking::{BookingError, repo};
use jmb::clock::FixedClock;
use jmb::config::Config;
use jmb::identity::{Actor, Identity};
use jmb::state::AppState;
use tower::ServiceExt;

const SEED: &str = "test-csrf-seed-0123456789";

/// Stands for "the CSRF token of the page the poster was shown": [`App::post`] replaces it by the token
/// bound to the posting user (or to the browser, for the language switch).
const PAGE_TOKEN: &str = "<page-token>";

struct App {
    state: AppState,
    clock: Arc<FixedClock>,
    _dir: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
    /// The body with askama's HTML escapes undone, for comparing with plain text.
    fn text(&self) -> String {
        self.body
            .replace("&#39;", "'")
            .replace("&#34;", "\"")
            .replace("&quot;", "\"")
            .replace("&#60;", "<")
            .replace("&lt;", "<")
            .replace("&#62;", ">")
            .replace("&gt;", ">")
            .replace("&#38;", "&")
            .replace("&amp;", "&")
    }
}

fn now0() -> DateTime<Utc> {
    "2026-12-01T08:00:00Z".parse().unwrap()
}

impl App {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::embedded_default();
        config.database.path = dir.path().join("jmb.db");
        config.server.public_url = "http://127.0.0.1:8080".into();
        // Someone with no part in any meeting booked here.
        config.auth.demo_users.push(jmb::config::DemoUser {
            uid: "stranger".into(),
            mail: "someone.else@example.net".into(),
            name: "Someone Else".into(),
        });
        let clock = Arc::new(FixedClock::new(now0()));
        let state = jmb::app::build_state(config, clock.clone()).unwrap();
        App { state, clock, _dir: dir }
    }

    /// The marker for the page's token (see [`PAGE_TOKEN`]).
    fn csrf(&self) -> String {
        PAGE_TOKEN.to_string()
    }

    /// The token a page shows to `uid` (anonymous: `None`) for its forms.
    fn csrf_for(&self, uid: Option<&str>) -> String {
        jmb::web::csrf::token(&self.state, SEED, Some(uid.unwrap_or_default()))
    }

    /// The token of the language switch (bound to the browser only).
    fn lang_csrf(&self) -> String {
        jmb::web::csrf::token(&self.state, SEED, None)
    }

    fn cookies(&self, uid: Option<&str>) -> String {
        let mut c = format!("jmb_csrf={SEED}; jmb_lang=fr");
        if let Some(uid) = uid {
            // A demo session, opened at the application's clock.
            c.push_str(&format!("; jmb_session={}", self.state.demo_sessions.open(uid, self.clock_now().timestamp())));
        }
        c
    }

    async fn send(&self, req: Request<Body>) -> Resp {
        let resp = jmb::app::router(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 4 << 20).await.unwrap();
        Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn get(&self, uid: Option<&str>, path: &str) -> Resp {
        let req = Request::get(path).header(header::COOKIE, self.cookies(uid)).body(Body::empty()).unwrap();
        self.send(req).await
    }

    async fn post(&self, uid: Option<&str>, path: &str, fields: &[(&str, &str)]) -> Resp {
        let token = if path == "/lang" { self.lang_csrf() } else { self.csrf_for(uid) };
        let fields = fields.iter().map(|(k, v)| (*k, if *v == PAGE_TOKEN { token.as_str() } else { *v }));
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let req = Request::post(path)
            .header(header::COOKIE, self.cookies(uid))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    fn identity(&self, uid: &str) -> Identity {
        let u = self.state.config.auth.demo_users.iter().find(|u| u.uid == uid).unwrap();
        Identity { uid: u.uid.clone(), mail: u.mail.clone(), name: u.name.clone() }
    }

    /// Books a meeting for jdupont through the service: marie.martin moderator, paul.visiteur guest.
    async fn book(&self, start: &str, guests: &[&str]) -> String {
        let owner = self.identity("jdupont");
        let mut all = vec!["paul.visiteur@example.org".to_string()];
        all.extend(guests.iter().map(|g| g.to_string()));
        let raw = RawMeeting {
            subject: "Point d'équipe".into(),
            start: RawStart::Rfc3339(start.into()),
            duration: "60".into(),
            moderators: vec!["marie.martin@example.org".into()],
            guests: all,
        };
        let ctx = rules::Context {
            limits: &self.state.config.booking,
            now: self.clock_now(),
            tz: chrono_tz::Europe::Paris,
            owner_mail: &owner.mail,
            resolution: None,
        };
        let valid = rules::validate(&raw, &ctx).unwrap();
        self.create(owner, valid).await
    }

    async fn create(&self, owner: Identity, valid: rules::ValidMeeting) -> String {
        let actor = Actor { identity: owner, is_editor: true };
        self.state.bookings.create(&actor, valid, self.clock_now()).await.unwrap().meeting.id
    }

    /// A meeting as stored, or `Err` when there is none.
    async fn details(&self, id: &str) -> Result<MeetingDetails, BookingError> {
        let id = id.to_string();
        self.state.db.read(move |c| repo::details_by_id(c, &id)?.ok_or(BookingError::NotFound)).await
    }

    fn clock_now(&self) -> DateTime<Utc> {
        use jmb::clock::Clock;
        self.clock.now()
    }

    async fn meeting_count(&self) -> u32 {
        let now = self.clock_now();
        self.state
            .db
            .read(move |c| -> Result<u32, BookingError> {
                Ok(repo::list_for_user(c, "jdupont", "jean.dupont@example.org", repo::Scope::Upcoming { now })?.len()
                    as u32)
            })
            .await
            .unwrap()
    }
}

fn valid_form(csrf: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf", csrf.to_string()),
        ("subject", "Réunion de l'équipe <b>".into()),
        ("date", "2026-12-05".into()),
        ("time", "10:00".into()),
        ("duration", "90".into()),
        ("moderators", "Marie Martin <marie.martin@example.org>".into()),
        ("guests", "paul.visiteur@example.org\nbob@partner.net".into()),
    ]
}

fn with(form: &[(&'static str, String)], key: &str, value: &str) -> Vec<(&'static str, String)> {
    form.iter().map(|(k, v)| (*k, if *k == key { value.to_string() } else { v.clone() })).collect()
}

fn pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The row of the list for meeting `id`: its `<tr>` up to `</tr>`.
fn row<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body.find(&format!("data-meeting=\"{id}\"")).unwrap_or_else(|| panic!("meeting {id} not listed"));
    let tr = body[..start].rfind("<tr").unwrap();
    let end = body[start..].find("</tr>").unwrap() + start;
    &body[tr..end]
}

#[tokio::test]
async fn every_validation_error_shows_next_to_its_field_with_the_input_kept() {
    let app = App::new();
    let base = valid_form(&app.csrf());
    // (field changed, value, field whose error shows, message)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("subject", "   ", "subject", "Indiquez l'objet de la réunion."),
        ("subject", &"x".repeat(201), "subject", "L'objet est trop long (au plus 200 caractères)."),
        ("date", "", "date", "Indiquez la date et l'heure de la réunion."),
        ("date", "31/02/2027", "date", "La date ou l'heure de la réunion est incorrecte."),
        ("date", "2026-11-30", "date", "La date de la réunion est antérieure à la date actuelle."),
        ("time", "10:07", "time", "L'heure de début doit tomber sur un multiple de 15 minutes."),
        ("duration", "", "duration", "Vous n'avez pas indiqué la durée de la réunion."),
        ("duration", "abc", "duration", "La durée de la réunion est incorrecte."),
        ("duration", "0", "duration", "La durée d'une réunion ne peut pas être nulle."),
        ("duration", "-30", "duration", "La durée d'une réunion ne peut pas être négative."),
        ("duration", "15", "duration", "La durée d'une réunion doit être d'au moins 30 minutes."),
        ("duration", "510", "duration", "La durée d'une réunion ne peut pas dépasser 480 minutes."),
        ("duration", "45", "duration", "La durée doit être un multiple de 30 minutes."),
        (
            "moderators",
            "a@x.org, b@x.org\nc@x.org",
            "moderators",
            "Vous avez indiqué 3 modérateurs (le maximum est 2).",
        ),
        ("moderators", "pas-une-adresse", "moderators", "L'adresse « pas-une-adresse » est incorrecte."),
        ("guests", "", "guests", "Vous n'avez indiqué aucun invité."),
        ("guests", "bob@@x.org", "guests", "L'adresse « bob@@x.org » est incorrecte."),
        // 240 kB of "a ": refused before it is read (the quadratic parser took seconds).
        ("guests", &"a ".repeat(120_000), "guests", "Cette liste est trop longue (au plus 26112 caractères)"),
        (
            "guests",
            "marie.martin@example.org",
            "guests",
            "L'adresse « marie.martin@example.org » est à la fois modérateur et invité",
        ),
    ];
    for (key, value, shown, message) in cases {
        let form = with(&base, key, value);
        let r = app.post(Some("jdupont"), "/meetings/new", &pairs(&form)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{key}={value:?}");
        let text = r.text();
        let err_id = format!("id=\"f-{shown}-err\"");
        let at = text.find(&err_id).unwrap_or_else(|| panic!("no error block for {shown} ({key}={value:?})"));
        let block = &text[at..at + text[at..].find("</p>").unwrap()];
        assert!(block.contains(message), "{key}={value:?}: {block}");
        // The field is marked invalid and points at its message.
        assert!(
            text.contains(&format!("aria-describedby=\"f-{shown}-err\""))
                || text.contains(&format!(" f-{shown}-err\"")),
            "{key}"
        );
        assert!(text.contains("aria-invalid=\"true\""), "{key}");
        // The error summary links to the field.
        assert!(text.contains("id=\"error-summary\""), "{key}");
        // Every input is kept as typed (textareas hold their text, inputs their value).
        for (k, v) in &form {
            if *k == "csrf" || v.trim().is_empty() {
                continue;
            }
            let shown_value = if *k == "moderators" || *k == "guests" {
                format!(">{v}</textarea>")
            } else {
                format!("value=\"{v}\"")
            };
            assert!(text.contains(&shown_value), "{key}={value:?}: {k} not kept as {shown_value:?}");
        }
    }
    // Unescaped markup from the subject never reaches the page.
    let r = app.post(Some("jdupont"), "/meetings/new", &pairs(&with(&base, "guests", ""))).await;
    assert!(!r.body.contains("<b>") && r.body.contains("&#60;b&#62;"));
    assert_eq!(app.meeting_count().await, 0, "nothing was booked");

    // Several errors at once, each by its field.
    let form = with(&with(&base, "duration", "0"), "guests", "");
    let text = app.post(Some("jdupont"), "/meetings/new", &pairs(&form)).await.text();
    assert!(text.contains("id=\"f-duration-err\"") && text.contains("id=\"f-guests-err\""));

    // And the valid form books, then goes back to the list.
    let r = app.post(Some("jdupont"), "/meetings/new", &pairs(&base)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/meetings?done=created");
    assert_eq!(app.meeting_count().await, 1);
    let list = app.get(Some("jdupont"), "/meetings?done=created").await;
    assert!(list.text().contains("Réunion de l'équipe <b>") && list.body.contains("Réunion créée"));
    // The calendar addresses: the feed with its secret, CalDAV, and the form that replaces the secret.
    assert!(list.body.contains("id=\"feed-url\"") && list.body.contains("/ical/") && list.body.contains("/dav/"));
    assert!(list.body.contains("action=\"/calendar/feed\""));
}

#[tokio::test]
async fn english_messages_follow_the_language() {
    let app = App::new();
    let form = with(&valid_form(&app.csrf_for(Some("jdupont"))), "guests", "");
    let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs(&form)).finish();
    let req = Request::post("/meetings/new")
        .header(header::COOKIE, app.cookies(Some("jdupont")).replace("jmb_lang=fr", "jmb_lang=en"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("lang=\"en\"") && r.text().contains("You listed no guest."), "{}", r.body);
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_change_nothing() {
    let app = App::new();
    let good = valid_form(&app.csrf());
    for bad in ["", "forged", &app.state.keys.sign("csrf", "another-seed-0123456789")] {
        let r = app.post(Some("jdupont"), "/meetings/new", &pairs(&with(&good, "csrf", bad))).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "csrf={bad:?}");
        assert!(r.text().contains("Le formulaire a expiré"), "{}", r.body);
    }
    let without: Vec<(&str, &str)> = pairs(&good).into_iter().filter(|(k, _)| *k != "csrf").collect();
    assert_eq!(app.post(Some("jdupont"), "/meetings/new", &without).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.meeting_count().await, 0);

    let id = app.book("2026-12-05T09:00:00Z", &[]).await;
    let edit = with(&with(&good, "csrf", "forged"), "subject", "Changed");
    assert_eq!(
        app.post(Some("jdupont"), &format!("/meetings/{id}/edit"), &pairs(&edit)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(Some("jdupont"), &format!("/meetings/{id}/delete"), &[("csrf", "forged")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.post(Some("jdupont"), &format!("/meetings/{id}/delete"), &[]).await.status, StatusCode::FORBIDDEN);
    let r =
        app.post(Some("visitor"), &format!("/meetings/{id}/answer"), &[("csrf", "forged"), ("answer", "accept")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let d = app.details(&id).await.unwrap();
    assert_eq!(d.meeting.subject, "Point d'équipe");
    assert!(d.attendees.iter().all(
        |a| a.role == jmb::booking::model::Role::Owner || a.partstat == jmb::booking::model::PartStat::NeedsAction
    ));
}

#[tokio::test]
async fn bad_form_bodies_answer_400_and_anonymous_users_sign_in() {
    let app = App::new();
    let req = Request::post("/meetings/new")
        .header(header::COOKIE, app.cookies(Some("jdupont")))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("hello"))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.headers.get(header::CONTENT_TYPE).unwrap().to_str().unwrap().starts_with("text/html"));
    // Invalid UTF-8 and broken escapes do not panic.
    let req = Request::post("/meetings/new")
        .header(header::COOKIE, app.cookies(Some("jdupont")))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={}&subject=%FF%FE%ZZ&duration=%", app.csrf_for(Some("jdupont")))))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::BAD_REQUEST);
    // Anonymous: to the demo sign-in, nothing shown.
    let r = app.get(None, "/meetings/new").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/login?next="));
    // Non-editors cannot book.
    assert_eq!(app.get(Some("visitor"), "/meetings/new").await.status, StatusCode::FORBIDDEN);
    let r = app.post(Some("visitor"), "/meetings/new", &pairs(&valid_form(&app.csrf()))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The new form has the original's defaults: next quarter hour, 90 minutes, a subject.
    let r = app.get(Some("jdupont"), "/meetings/new").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("value=\"2026-12-01\"") && r.body.contains("value=\"09:15\""), "08:00Z is 09:00 in Paris");
    assert!(r.body.contains("<option value=\"90\" selected>"));
    assert!(r.body.contains("value=\"Réunion sans objet\""));
}

#[tokio::test]
async fn list_states_and_colours_follow_the_clock() {
    let app = App::new();
    let start: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
    let id = app.book("2026-12-01T10:00:00Z", &[]).await;
    let expect = |who: &'static str,
                  at: DateTime<Utc>,
                  state: &'static str,
                  label: &'static str,
                  action: Option<&'static str>| {
        let app = &app;
        let id = id.clone();
        async move {
            app.clock.set(at);
            let r = app.get(Some(who), "/meetings").await;
            assert_eq!(r.status, StatusCode::OK);
            let row = row(&r.body, &id).to_string();
            assert!(row.contains(&format!("class=\"state-{state}\"")), "{who} at {at}: {row}");
            assert!(row.contains(&format!("<span class=\"badge {state}\">{label}</span>")), "{who} at {at}: {row}");
            if let Some(action) = action {
                assert!(row.contains(action), "{who} at {at}: {action} missing in {row}");
            } else {
                assert!(
                    !row.contains("href=\"/m/") && !row.contains("href=\"/j/"),
                    "{who} at {at}: no join link expected"
                );
            }
            r
        }
    };
    // Owner (jdupont) and moderator (mmartin): joinable from 15 minutes before.
    expect("jdupont", start - Duration::minutes(16), "planned", "Planifiée", None).await;
    expect("jdupont", start - Duration::minutes(15), "joinable", "Ouverte", Some(">Démarrer</a>")).await;
    expect("mmartin", start - Duration::minutes(16), "planned", "Planifiée", None).await;
    expect("mmartin", start - Duration::minutes(15), "joinable", "Ouverte", Some(">Rejoindre</a>")).await;
    // Guest (visitor): from 5 minutes before.
    expect("visitor", start - Duration::minutes(15), "planned", "Planifiée", None).await;
    expect("visitor", start - Duration::minutes(6), "planned", "Planifiée", None).await;
    expect("visitor", start - Duration::minutes(5), "joinable", "Ouverte", Some(">Rejoindre</a>")).await;
    // Ongoing from the start, for everyone; the owner can no longer edit.
    let r = expect("jdupont", start + Duration::minutes(1), "ongoing", "En cours", Some(">Démarrer</a>")).await;
    assert!(!row(&r.body, &id).contains("/edit\""));
    expect("visitor", start + Duration::minutes(1), "ongoing", "En cours", Some(">Rejoindre</a>")).await;
    // Finished: in the archives, no join link, no answer buttons, the attendee page still there.
    let r = expect("jdupont", start + Duration::minutes(61), "finished", "Terminée", None).await;
    let archives = &r.body[r.body.find("id=\"archives-table\"").expect("archives table")..];
    assert!(archives.contains(&format!("data-meeting=\"{id}\"")));
    assert!(row(&r.body, &id).contains(&format!("/meetings/{id}/attendees")));
    let r = expect("visitor", start + Duration::minutes(61), "finished", "Terminée", None).await;
    assert!(!row(&r.body, &id).contains("/answer\""));
    // Beyond the archive window it is gone.
    app.clock.set(start + Duration::days(366));
    assert!(!app.get(Some("jdupont"), "/").await.body.contains(&id));
    // Configurable windows.
    let mut config = (*app.state.config).clone();
    config.booking.highlight_guest_minutes = 30;
    let mut state = app.state.clone();
    state.config = Arc::new(config);
    app.clock.set(start - Duration::minutes(29));
    let req = Request::get("/").header(header::COOKIE, app.cookies(Some("visitor"))).body(Body::empty()).unwrap();
    let resp = jmb::app::router(state).oneshot(req).await.unwrap();
    let body = String::from_utf8(axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(row(&body, &id).contains("class=\"state-joinable\""));
}

#[tokio::test]
async fn inline_answers_from_the_list() {
    let app = App::new();
    let id = app.book("2026-12-05T09:00:00Z", &[]).await;
    let r = app.get(Some("visitor"), "/").await;
    let row = row(&r.body, &id).to_string();
    assert!(row.contains(">Accepter</button>") && row.contains(">Décliner</button>"));
    assert!(row.contains("Sans réponse"));
    let r = app
        .post(Some("visitor"), &format!("/meetings/{id}/answer"), &[("csrf", &app.csrf()), ("answer", "accept")])
        .await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/meetings?done=accepted"));
    let r = app.get(Some("visitor"), "/meetings?done=accepted").await;
    let row_after = self::row(&r.body, &id).to_string();
    assert!(
        row_after.contains("Acceptée")
            && !row_after.contains(">Accepter</button>")
            && row_after.contains(">Décliner</button>")
    );
    // GET changes nothing; a stranger's answer is a 404; a nonsense answer a 400.
    assert_eq!(
        app.get(Some("visitor"), &format!("/meetings/{id}/answer")).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let r = app
        .post(Some("jdupont"), &format!("/meetings/{id}/answer"), &[("csrf", &app.csrf()), ("answer", "accept")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "the owner does not answer");
    let r = app.post(Some("visitor"), "/meetings/unknown/answer", &[("csrf", &app.csrf()), ("answer", "accept")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post(Some("visitor"), &format!("/meetings/{id}/answer"), &[("csrf", &app.csrf()), ("answer", "perhaps")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A tentative answer is recorded and said so.
    let r = app
        .post(Some("visitor"), &format!("/meetings/{id}/answer"), &[("csrf", &app.csrf()), ("answer", "tentative")])
        .await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/meetings?done=tentative"));
    let d = app.details(&id).await.unwrap();
    assert_eq!(d.attendee_by_mail("paul.visiteur@example.org").unwrap().partstat, PartStat::Tentative);
    let list = app.get(Some("visitor"), "/meetings?done=tentative").await.text();
    assert!(list.contains("Vous avez répondu « peut-être »") && list.contains(">Peut-être</span>"), "{list}");
}

#[tokio::test]
async fn edit_and_delete_only_by_the_owner_before_the_start() {
    let app = App::new();
    let id = app.book("2026-12-05T09:00:00Z", &[]).await;
    // Others: 403 without the meeting's content; unknown ids: 404.
    for who in ["mmartin", "visitor"] {
        for path in [
            format!("/meetings/{id}/edit"),
            format!("/meetings/{id}/delete"),
            format!("/meetings/{id}/attendees"),
            format!("/meetings/{id}/attendees.csv"),
        ] {
            let r = app.get(Some(who), &path).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{who} {path}");
            assert!(!r.text().contains("Point d'équipe"), "{who} {path} leaks the subject");
        }
        let r = app.post(Some(who), &format!("/meetings/{id}/delete"), &[("csrf", &app.csrf())]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    // Someone with no part in the meeting: the same 404 as an unknown id, and nothing of it shown.
    for path in [
        format!("/meetings/{id}/edit"),
        format!("/meetings/{id}/delete"),
        format!("/meetings/{id}/attendees"),
        format!("/meetings/{id}/attendees.csv"),
    ] {
        let r = app.get(Some("stranger"), &path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "stranger {path}");
        assert!(!r.text().contains("Point d'équipe"));
    }
    let r = app.post(Some("stranger"), &format!("/meetings/{id}/delete"), &[("csrf", &app.csrf())]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post(Some("stranger"), &format!("/meetings/{id}/answer"), &[("csrf", &app.csrf()), ("answer", "accept")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for path in [
        "/meetings/nope/edit",
        "/meetings/nope/delete",
        "/meetings/nope/attendees",
        "/meetings/nope/attendees.csv",
        "/meetings/%00/edit",
    ] {
        assert_eq!(app.get(Some("jdupont"), path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    // An id that is not even UTF-8 is a client error, never a crash.
    assert!(app.get(Some("jdupont"), "/meetings/%ff/edit").await.status.is_client_error());
    // The edit form is prefilled, one address per line, and says who hears about a date change.
    let r = app.get(Some("jdupont"), &format!("/meetings/{id}/edit")).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert!(
        text.contains("value=\"Point d'équipe\"")
            && text.contains("value=\"2026-12-05\"")
            && text.contains("value=\"10:00\"")
    );
    assert!(text.contains(">Marie Martin <marie.martin@example.org></textarea>"));
    assert!(text.contains("id=\"f-notified\"") && text.contains("Paul Visiteur <paul.visiteur@example.org>"));
    // Update.
    let mut form = valid_form(&app.csrf());
    form = with(&form, "subject", "Point d'équipe (déplacé)");
    form = with(&form, "guests", "paul.visiteur@example.org");
    let r = app.post(Some("jdupont"), &format!("/meetings/{id}/edit"), &pairs(&form)).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/meetings?done=moved"), "the subject changed");
    let d = app.details(&id).await.unwrap();
    assert_eq!(d.meeting.subject, "Point d'équipe (déplacé)");
    assert_eq!(d.meeting.duration_min, 90);
    // Invalid edit: 400 with the form kept, nothing changed.
    let r = app.post(Some("jdupont"), &format!("/meetings/{id}/edit"), &pairs(&with(&form, "duration", "7"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("value=\"Point d'équipe (déplacé)\""));
    // After the start: 409; after the end: 410.
    app.clock.set("2026-12-05T09:30:00Z".parse().unwrap());
    assert_eq!(app.get(Some("jdupont"), &format!("/meetings/{id}/edit")).await.status, StatusCode::CONFLICT);
    assert_eq!(
        app.post(Some("jdupont"), &format!("/meetings/{id}/edit"), &pairs(&form)).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(app.get(Some("jdupont"), &format!("/meetings/{id}/delete")).await.status, StatusCode::CONFLICT);
    app.clock.set("2026-12-05T11:00:00Z".parse().unwrap());
    assert_eq!(app.get(Some("jdupont"), &format!("/meetings/{id}/edit")).await.status, StatusCode::GONE);
    assert_eq!(
        app.post(Some("jdupont"), &format!("/meetings/{id}/delete"), &[("csrf", &app.csrf())]).await.status,
        StatusCode::GONE
    );
    assert!(app.details(&id).await.is_ok());

    // Delete: a confirmation page (GET changes nothing), then the POST.
    app.clock.set(now0());
    let id2 = app.book("2026-12-06T09:00:00Z", &[]).await;
    let r = app.get(Some("jdupont"), &format!("/meetings/{id2}/delete")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("Point d'équipe") && r.body.contains(&format!("action=\"/meetings/{id2}/delete\"")));
    assert!(app.details(&id2).await.is_ok());
    let r = app.post(Some("jdupont"), &format!("/meetings/{id2}/delete"), &[("csrf", &app.csrf())]).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/meetings?done=deleted"));
    assert!(app.details(&id2).await.is_err());
    assert_eq!(app.get(Some("jdupont"), &format!("/meetings/{id2}/edit")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn attendee_page_and_csv() {
    let app = App::new();
    let id =
        app.book("2026-12-05T09:00:00Z", &["=SUM(A1) <evil@x.org>", "+33 Team <plus@x.org>", "-minus@x.org"]).await;
    let r = app
        .post(Some("visitor"), &format!("/meetings/{id}/answer"), &[("csrf", &app.csrf()), ("answer", "decline")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = app.get(Some("jdupont"), &format!("/meetings/{id}/attendees")).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert!(text.contains("Suivi des participants") && text.contains("Point d'équipe"));
    // Totals: 5 invited (1 moderator, 4 guests), 1 declined, 4 without answer, nobody joined.
    let totals = &text[text.find("id=\"totals\"").unwrap()..];
    let totals = &totals[..totals.find("</ul>").unwrap()];
    for (n, label) in [(5, "invités"), (0, "acceptées"), (1, "déclinées"), (4, "sans réponse"), (0, "connectés")]
    {
        assert!(totals.contains(&format!("<strong>{n}</strong> {label}")), "{n} {label} in {totals}");
    }
    assert!(text.contains("data-mail=\"paul.visiteur@example.org\""));

    let r = app.get(Some("jdupont"), &format!("/meetings/{id}/attendees.csv")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers.get(header::CONTENT_TYPE).unwrap(), "text/csv; charset=utf-8");
    assert_eq!(
        r.headers.get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap(),
        "attachment; filename=\"participants-2026-12-05-point-d-equipe.csv\""
    );
    // French Excel: a byte-order mark, and `;` between cells.
    let body = r.body.strip_prefix('\u{feff}').expect("a UTF-8 byte-order mark");
    let lines: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "\"Participant\";\"Adresse\";\"Rôle\";\"Réponse\";\"Connexions\";\"Première connexion\";\"Dernière connexion\";\"Mot du participant\""
    );
    assert_eq!(lines[1], "\"Jean Dupont\";\"jean.dupont@example.org\";\"Propriétaire\";\"\";\"0\";\"\";\"\";\"\"");
    assert!(
        lines.contains(&"\"Paul Visiteur\";\"paul.visiteur@example.org\";\"Invité\";\"Déclinée\";\"0\";\"\";\"\";\"\""),
        "{lines:?}"
    );
    assert!(r.body.contains("\"'=SUM(A1)\";\"evil@x.org\""), "{}", r.body);
    assert!(r.body.contains("\"'+33 Team\";\"plus@x.org\""), "{}", r.body);
    assert!(r.body.contains("\"Minus\";\"'-minus@x.org\""), "{}", r.body);
    assert_eq!(lines.len(), 1 + 6 + 1, "header, 6 attendees, final empty line");

    // Joins are counted; archived meetings keep their tracking page.
    app.clock.set("2026-12-05T09:00:00Z".parse().unwrap());
    let token =
        app.details(&id).await.unwrap().attendees.iter().find(|a| a.mail == "plus@x.org").unwrap().token.clone();
    assert_eq!(app.get(None, &format!("/j/{token}")).await.status, StatusCode::FOUND);
    app.clock.set("2026-12-20T09:00:00Z".parse().unwrap());
    let r = app.get(Some("jdupont"), &format!("/meetings/{id}/attendees")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<strong>1</strong> connectés") && r.body.contains("Terminée"));
    let csv = app.get(Some("jdupont"), &format!("/meetings/{id}/attendees.csv")).await.body;
    assert!(
        csv.contains("\"plus@x.org\";\"Invité\";\"Sans réponse\";\"1\";\"05/12/2026 à 10:00\";\"05/12/2026 à 10:00\""),
        "{csv}"
    );
}

#[tokio::test]
async fn legacy_booking_urls_reach_the_pages() {
    let app = App::new();
    for (from, to) in [
        ("/booking.cgi?new", "/meetings/new"),
        ("/booking.cgi?edit&id=abc", "/meetings/abc/edit"),
        ("/booking.cgi?attendees&id=abc", "/meetings/abc/attendees"),
        ("/booking.cgi?list", "/meetings"),
    ] {
        let r = app.get(Some("jdupont"), from).await;
        assert_eq!(r.location(), to, "{from}");
    }
    assert_eq!(app.get(Some("jdupont"), "/meetings/new").await.status, StatusCode::OK);
}

#[tokio::test]
async fn archives_are_paginated() {
    let app = App::new();
    let owner = app.identity("jdupont");
    let first: DateTime<Utc> = "2026-12-02T09:00:00Z".parse().unwrap();
    let mut ids = Vec::new();
    for i in 0..23 {
        let valid = rules::ValidMeeting {
            subject: format!("Archive {i:02}"),
            start: first + Duration::hours(i),
            duration_min: 30,
            moderators: vec![],
            guests: vec![rules::Invitee {
                mail: jmb::booking::model::MailAddress::parse("g@x.org").unwrap(),
                name: String::new(),
            }],
        };
        ids.push(app.create(owner.clone(), valid).await);
    }
    app.clock.set("2026-12-10T00:00:00Z".parse().unwrap());
    let page0 = app.get(Some("jdupont"), "/").await;
    assert_eq!(page0.status, StatusCode::OK);
    assert_eq!(page0.body.matches("class=\"state-finished\"").count(), 20);
    assert!(page0.body.contains("Archive 22") && !page0.body.contains("Archive 02"), "newest first");
    assert!(page0.body.contains("Page 1 sur 2") && page0.body.contains("href=\"/meetings?archives=1#archives\""));
    let page1 = app.get(Some("jdupont"), "/meetings?archives=1").await;
    assert_eq!(page1.body.matches("class=\"state-finished\"").count(), 3);
    assert!(page1.body.contains("Archive 00") && page1.body.contains("href=\"/meetings?archives=0#archives\""));
    // Out of range or nonsense page numbers show a page, never an error.
    assert_eq!(
        app.get(Some("jdupont"), "/meetings?archives=99").await.body.matches("class=\"state-finished\"").count(),
        3
    );
    assert_eq!(app.get(Some("jdupont"), "/meetings?archives=x&archives=y").await.status, StatusCode::OK);
    let mut config = (*app.state.config).clone();
    config.booking.archive_days = 0;
    let mut state = app.state.clone();
    state.config = Arc::new(config);
    let req = Request::get("/").header(header::COOKIE, app.cookies(Some("jdupont"))).body(Body::empty()).unwrap();
    let resp = jmb::app::router(state).oneshot(req).await.unwrap();
    let body = String::from_utf8(axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(!body.contains("id=\"archives\""), "archive_days = 0 hides the archives");
}

#[tokio::test]
async fn cookies_and_headers() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::embedded_default();
    config.database.path = dir.path().join("jmb.db");
    config.server.public_url = "https://meet.example.org".into();
    let state = jmb::app::build_state(config, Arc::new(FixedClock::new(now0()))).unwrap();
    let session = state.demo_sessions.open("jdupont", now0().timestamp());
    let req = Request::get("/").header(header::COOKIE, format!("jmb_session={session}")).body(Body::empty()).unwrap();
    let resp = jmb::app::router(state).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookies: Vec<&str> = resp.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    // On https the CSRF cookie is a `__Host-` cookie: no other host can plant one.
    assert!(cookies.iter().any(|c| c.starts_with("__Host-jmb_csrf=") && c.contains("Path=/")), "{cookies:?}");
    assert!(cookies.iter().all(|c| !c.contains("Domain=")), "{cookies:?}");
    for c in &cookies {
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"), "{c}");
    }
    let csp = resp.headers().get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'")
    );
    assert_eq!(resp.headers().get(header::REFERRER_POLICY).unwrap(), "no-referrer");
}

#[test]
fn templates_have_no_inline_script_style_or_handlers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    // Page templates only: mails (templates/mail/) are not served under jmb's CSP, and mail programs
    // need inline styles.
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lower = text.to_lowercase();
        assert!(!lower.contains(" style="), "{}: style attribute", path.display());
        assert!(!lower.contains("<style"), "{}: style element", path.display());
        for (i, _) in lower.match_indices("<script") {
            let tag = &lower[i..i + lower[i..].find('>').unwrap()];
            assert!(tag.contains(" src="), "{}: inline script", path.display());
        }
        for word in lower.split(|c: char| c.is_whitespace()) {
            let is_handler = word.starts_with("on")
                && word.contains('=')
                && word[2..word.find('=').unwrap()].chars().all(|c| c.is_ascii_lowercase());
            assert!(!is_handler, "{}: event handler attribute {word}", path.display());
        }
    }
}

/// The language switch is a form like any other: without the CSRF token it changes nothing.
#[tokio::test]
async fn the_language_switch_needs_the_csrf_token() {
    let app = App::new();
    let r = app.post(None, "/lang", &[("lang", "en"), ("next", "/meetings")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.headers.get_all(header::SET_COOKIE).iter().all(|c| !c.to_str().unwrap().starts_with("jmb_lang=")));
    let r = app.post(None, "/lang", &[("lang", "en"), ("next", "/meetings"), ("csrf", &app.csrf())]).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/meetings"));
    assert!(r.headers.get_all(header::SET_COOKIE).iter().any(|c| c.to_str().unwrap().starts_with("jmb_lang=en;")));
    // Every page's switch carries the token, error pages included.
    let page = app.get(Some("jdupont"), "/meetings/nope/edit").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains(&format!("name=\"csrf\" value=\"{}\"", app.lang_csrf())), "{}", page.body);
}

/// `next` after the language switch and the demo sign-in stays on this site: a tab or backslash trick
/// (`/%09/evil.example/x` became `Location: /\t/evil.example/x`, which browsers follow off-site) gives
/// `/`, and a NUL (`/%00x`, a 500 before) is percent-encoded.
#[tokio::test]
async fn redirects_after_forms_stay_on_this_site() {
    let app = App::new();
    for (next, expected) in [
        ("/\t/evil.example/x", "/"),
        ("/\\evil.example/x", "/"),
        ("//evil.example", "/"),
        ("/\0x", "/%00x"),
        ("/meetings?archives=1", "/meetings?archives=1"),
    ] {
        let r = app.post(None, "/lang", &[("lang", "en"), ("next", next), ("csrf", &app.csrf())]).await;
        assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, expected), "/lang next={next:?}");
        let r = app.post(None, "/login", &[("uid", "jdupont"), ("next", next), ("csrf", &app.csrf())]).await;
        assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, expected), "/login next={next:?}");
    }
    // The sign-in page never puts a foreign target in its form.
    let r = app.get(None, "/login?next=/%09/evil.example/x").await;
    assert!(r.body.contains("name=\"next\" value=\"/\""), "{}", r.body);
}

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An internal error on a personal link is logged without the link's secret.
#[tokio::test(flavor = "current_thread")]
async fn internal_errors_never_log_personal_tokens() {
    let app = App::new();
    let id = app.book("2026-12-05T09:00:00Z", &[]).await;
    let token = app.details(&id).await.unwrap().attendees[1].token.clone();
    // Break the store under the running application.
    let broken = rusqlite::Connection::open(&app.state.config.database.path).unwrap();
    broken.execute_batch("DROP TABLE attendees").unwrap();
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let r = app.get(None, &format!("/rsvp/{token}")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!r.body.contains("attendees"), "no internal detail on the page");
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("internal error") && logged.contains("/rsvp/…"), "{logged}");
    assert!(!logged.contains(&token), "the token reached the log: {logged}");
}

/// The demo mailbox: every mail with its links clickable and escaped, its kind in the reader's
/// language, each downloadable as the message sent; unknown ids are 404s.
#[tokio::test]
async fn the_demo_mailbox_shows_every_mail() {
    let app = App::new();
    let empty = app.get(None, "/mailbox").await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("Aucun message pour l&#39;instant"), "{}", empty.body);

    let form = with(&valid_form(&app.csrf()), "guests", "Paul <paul.visiteur@example.org>, zoe@partner.net");
    let r = app.post(Some("jdupont"), "/meetings/new", &pairs(&form)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = app.get(Some("jdupont"), "/mailbox").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["cache-control"], "no-store");
    // The owner, one moderator, two guests; the subject typed with markup comes out escaped.
    assert_eq!(page.body.matches("<details class=\"card mail\"").count(), 4, "{}", page.body);
    assert_eq!(page.body.matches("Invitation visioconférence : Réunion de l&#39;équipe &#60;b&#62;").count(), 3);
    assert!(!page.body.contains("<b>"));
    assert!(page.body.contains("<dd>invitation (en attente)</dd>"), "kind and status in French");
    assert!(page.body.contains("Connecté en tant que Jean Dupont"), "the signed-in user in the header");
    let answer_links = page
        .body
        .match_indices("<a href=\"http://127.0.0.1:8080/rsvp/")
        .filter(|(i, _)| page.body[*i..].split('>').next().unwrap().ends_with("?answer=accept\""))
        .count();
    assert_eq!(answer_links, 3, "each invitee's answer link is clickable");

    let at = page.body.find("href=\"/mailbox/").unwrap() + "href=\"/mailbox/".len();
    let id: String = page.body[at..].chars().take_while(char::is_ascii_digit).collect();
    let eml = app.get(None, &format!("/mailbox/{id}.eml")).await;
    assert_eq!(eml.status, 200);
    assert_eq!(eml.headers["content-type"], "message/rfc822");
    assert!(eml.headers["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    assert!(eml.body.contains("MIME-Version: 1.0") && eml.body.contains("BEGIN:VCALENDAR"));
    for bad in ["/mailbox/999999.eml", "/mailbox/abc.eml", "/mailbox/1.txt", "/mailbox/-1.eml"] {
        assert_eq!(app.get(None, bad).await.status, 404, "{bad}");
    }
}
/// A CSRF cookie and token pair is worth nothing for another account (a sibling subdomain can plant
/// its own cookie in a victim's browser): the token names the signed-in user.
#[tokio::test]
async fn csrf_tokens_are_bound_to_the_signed_in_user() {
    let app = App::new();
    let form = valid_form(&app.csrf());
    // mmartin's browser carries the same seed as jdupont's page (a planted cookie): jdupont's token fails.
    for token in [app.csrf_for(Some("jdupont")), app.csrf_for(None), app.lang_csrf()] {
        let r = app.post(Some("mmartin"), "/meetings/new", &pairs(&with(&form, "csrf", &token))).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.meeting_count().await, 0);
    // Her own page's token works.
    let r =
        app.post(Some("mmartin"), "/meetings/new", &pairs(&with(&form, "csrf", &app.csrf_for(Some("mmartin"))))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The page she is shown carries exactly that token, and the language switch the browser's.
    let page = app.get(Some("mmartin"), "/meetings/new").await;
    assert!(page.body.contains(&format!("value=\"{}\"", app.csrf_for(Some("mmartin")))));
    assert!(page.body.contains(&format!("value=\"{}\"", app.lang_csrf())));
    assert!(!page.body.contains(&app.csrf_for(Some("jdupont"))));
}

/// Signing out of the demo ends the session on the server: the old cookie no longer signs anyone in.
#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = App::new();
    let r = app.post(None, "/login", &[("uid", "jdupont"), ("next", "/meetings"), ("csrf", &app.csrf())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let session = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find_map(|c| c.strip_prefix("jmb_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("a session cookie");
    let with_session = |method: &str, path: &str, body: String| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, format!("jmb_csrf={SEED}; jmb_session={session}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    assert_eq!(app.send(with_session("GET", "/meetings", String::new())).await.status, StatusCode::OK);
    let csrf = format!("csrf={}", app.csrf_for(Some("jdupont")));
    let r = app.send(with_session("POST", "/logout", csrf)).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login"));
    let r = app.send(with_session("GET", "/meetings", String::new())).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the copied cookie is signed out too");
    assert!(r.location().starts_with("/login"), "{}", r.location());
}

/// An oversized form answers 413 with a page in the request's language (it was a 400 with axum's
/// English text); a path token that cannot be decoded gets jmb's 404 page (it was axum's plain 400).
#[tokio::test]
async fn oversized_forms_and_undecodable_paths_get_jmb_pages() {
    let app = App::new();
    let form = with(&valid_form(&app.csrf()), "guests", &"a@x.org\n".repeat(40_000));
    let r = app.post(Some("jdupont"), "/meetings/new", &pairs(&form)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(
        r.body.contains("lang=\"fr\"") && r.text().contains("Le formulaire envoyé est trop volumineux"),
        "{}",
        r.body
    );
    assert_eq!(app.meeting_count().await, 0);

    for path in ["/j/%FF%FE", "/rsvp/%C3%28", "/meetings/%FF/edit", "/meetings/%FF/attendees", "/m/%FF"] {
        let r = app.get(Some("jdupont"), path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.body.contains("lang=\"fr\"") && r.text().contains("Ce lien n'existe pas"), "{path}: {}", r.body);
    }
}

/// Pages that show secrets (personal links, the feed address, a new calendar password, attendee
/// tracking) are never stored by a browser or a shared cache; static assets still are.
#[tokio::test]
async fn pages_with_secrets_are_not_stored() {
    let app = App::new();
    let id = app.book("2026-12-05T10:00:00Z", &["bob@partner.net"]).await;
    for path in [
        "/meetings".to_string(),
        "/calendar".to_string(),
        format!("/meetings/{id}/attendees"),
        format!("/meetings/{id}/attendees.csv"),
        "/api/v1/meetings".to_string(),
        "/meetings/unknown/edit".to_string(),
    ] {
        let r = app.get(Some("jdupont"), &path).await;
        assert_eq!(r.headers.get(header::CACHE_CONTROL).map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
    }
    let r = app.get(None, "/assets/jmb.css").await;
    assert!(r.headers[header::CACHE_CONTROL].to_str().unwrap().starts_with("public"));
}

/// The token of an invitee's personal links.
async fn token_of(app: &App, id: &str, mail: &str) -> String {
    app.details(id).await.unwrap().attendees.iter().find(|a| a.mail == mail).unwrap().token.clone()
}

/// Paul's invitation as stored.
async fn paul_of(app: &App, id: &str) -> jmb::booking::model::Attendee {
    app.details(id).await.unwrap().attendees.into_iter().find(|a| a.mail == "paul.visiteur@example.org").unwrap()
}

/// The `<button>` of an answer on the answer page (its tag, with its class if any).
fn answer_button<'a>(body: &'a str, value: &str) -> &'a str {
    let at = body.find(&format!("name=\"answer\" value=\"{value}\"")).unwrap_or_else(|| panic!("{value} in {body}"));
    let start = body[..at].rfind("<button").unwrap();
    &body[start..at + body[at..].find('>').unwrap()]
}

#[tokio::test]
async fn the_answer_page_guides_the_guest() {
    let app = App::new();
    let id = app.book("2026-12-05T09:00:00Z", &[]).await;
    let token = token_of(&app, &id, "paul.visiteur@example.org").await;
    let r = app.get(None, &format!("/rsvp/{token}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    // The time with its weekday, start and end, and the zone named; machine-readable for the script.
    assert!(text.contains("samedi 5 décembre 2026, 10:00 – 11:00 (Europe/Paris)"), "{text}");
    assert!(r.body.contains("<time datetime=\"2026-12-05T09:00:00Z\" data-local=\"range\" data-end=\"2026-12-05T10:00:00Z\" data-zone=\"Europe/Paris\""), "{}", r.body);
    // The organiser can be written to; the calendar links; the join button says when it opens and is
    // not the primary action yet (guests may enter 5 minutes before the start).
    assert!(r.body.contains("href=\"mailto:jean.dupont@example.org?subject=Point%20d%27%C3%A9quipe\""), "{}", r.body);
    assert!(r.body.contains(&format!("href=\"/rsvp/{token}/invitation.ics\"")));
    assert!(text.contains("https://calendar.google.com/calendar/render?action=TEMPLATE&text=Point+d%27%C3%A9quipe&dates=20261205T090000Z%2F20261205T100000Z"), "{text}");
    assert!(text.contains("https://outlook.live.com/calendar/0/deeplink/compose?"));
    assert!(text.contains("Le bouton pour rejoindre s'ouvre le : <time datetime=\"2026-12-05T08:55:00Z\""), "{text}");
    assert!(text.contains("samedi 5 décembre 2026 à 09:55 (Europe/Paris)"));
    assert!(r.body.contains(&format!("<a class=\"button secondary\" href=\"/j/{token}\"")));
    // Accepting is suggested by default; `?answer=decline` (the mail's link) highlights declining and
    // changes nothing. The site name leads back here, never to a sign-in page.
    assert!(!answer_button(&r.body, "accept").contains("secondary"));
    assert!(r.body.contains(&format!("<a class=\"brand\" href=\"/rsvp/{token}\">")));
    let r = app.get(None, &format!("/rsvp/{token}?answer=decline")).await;
    assert!(!answer_button(&r.body, "decline").contains("secondary"), "{}", answer_button(&r.body, "decline"));
    assert!(answer_button(&r.body, "accept").contains("secondary"));
    assert!(r.text().contains("Vous avez suivi le lien pour décliner"));
    assert_eq!(paul_of(&app, &id).await.partstat, PartStat::NeedsAction);

    // "Maybe", with a note: recorded, confirmed at the top (a status region the script focuses).
    let note = "J'aurai 10 minutes de retard.\r\nDésolé <b>";
    let r = app
        .post(None, &format!("/rsvp/{token}"), &[("csrf", &app.csrf()), ("answer", "tentative"), ("note", note)])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let confirmation = r.body.find("id=\"confirmation\"").expect("a confirmation");
    assert!(confirmation < r.body.find("id=\"current-answer\"").unwrap(), "the confirmation comes first");
    assert!(r.body.contains("role=\"status\" id=\"confirmation\" tabindex=\"-1\""));
    let text = r.text();
    assert!(
        text.contains("Votre réponse « peut-être » est enregistrée")
            && text.contains("Votre mot pour l'organisateur est enregistré")
    );
    assert!(text.contains("Modifier ma réponse"));
    assert!(r.body.contains("Désolé &#60;b&#62;") || r.body.contains("Désolé &lt;b&gt;"), "escaped");
    let paul = paul_of(&app, &id).await;
    assert_eq!(paul.partstat, PartStat::Tentative);
    assert_eq!(paul.note, "J'aurai 10 minutes de retard.\nDésolé <b>");
    // The organiser reads it on the tracking page and in the answer mail.
    let r = app.get(Some("jdupont"), &format!("/meetings/{id}/attendees")).await;
    assert!(r.text().contains("Mot : « J'aurai 10 minutes de retard."), "{}", r.body);
    let mailbox = app.get(Some("jdupont"), "/mailbox").await.text();
    assert!(mailbox.contains("Son mot : « J'aurai 10 minutes de retard."), "{mailbox}");

    // Change of answer, note kept when the form has none; a note too long is refused beside its field
    // (400), nothing changed.
    let r = app.post(None, &format!("/rsvp/{token}"), &[("csrf", &app.csrf()), ("answer", "accept")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("Votre présence est enregistrée"));
    // The same answer with another note: the organiser is told, in the answer mail with the new note.
    let r = app
        .post(
            None,
            &format!("/rsvp/{token}"),
            &[("csrf", &app.csrf()), ("answer", "accept"), ("note", "Finalement à l'heure.")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("Votre mot pour l'organisateur est enregistré"));
    let mailbox = app.get(Some("jdupont"), "/mailbox").await.text();
    assert!(mailbox.contains("Son mot : « Finalement à l'heure."), "{mailbox}");
    assert!(
        mailbox.contains("Paul Visiteur <paul.visiteur@example.org> a modifié le mot laissé avec sa réponse."),
        "{mailbox}"
    );
    let long = "x".repeat(501);
    let r = app
        .post(None, &format!("/rsvp/{token}"), &[("csrf", &app.csrf()), ("answer", "decline"), ("note", &long)])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("aria-invalid=\"true\"") && r.text().contains("Ce mot est trop long : 500 caractères au plus.")
    );
    assert!(r.body.contains(&long), "the typed note is kept");
    assert!(!answer_button(&r.body, "decline").contains("secondary"), "the answer it came with is highlighted");
    assert!(!r.text().contains("Vous avez suivi le lien"));
    let paul = paul_of(&app, &id).await;
    assert_eq!((paul.partstat, paul.note.as_str()), (PartStat::Accepted, "Finalement à l'heure."));

    // Once the room is open the join button is the primary action; while it runs, it says so.
    app.clock.set("2026-12-05T08:55:00Z".parse().unwrap());
    let r = app.get(None, &format!("/rsvp/{token}")).await;
    assert!(
        r.body.contains(&format!("<a class=\"button\" href=\"/j/{token}\""))
            && r.text().contains("La salle est ouverte")
    );
    app.clock.set("2026-12-05T09:30:00Z".parse().unwrap());
    assert!(app.get(None, &format!("/rsvp/{token}")).await.text().contains("La réunion est en cours."));
}

#[tokio::test]
async fn an_expired_answer_form_is_recovered_from() {
    let app = App::new();
    let id = app.book("2026-12-05T09:00:00Z", &[]).await;
    let token = token_of(&app, &id, "paul.visiteur@example.org").await;
    // A phone restores the tab after the cookie went: the post carries an old token and no cookie.
    let body = format!("answer=decline&csrf={}", app.csrf_for(None));
    let req = Request::post(format!("/rsvp/{token}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "nothing was recorded");
    let text = r.text();
    assert!(text.contains("Cette page avait expiré : votre réponse n'a pas encore été enregistrée"), "{text}");
    assert!(!text.contains("Accès refusé"));
    assert!(!answer_button(&r.body, "decline").contains("secondary"), "the meant answer is highlighted");
    assert_eq!(paul_of(&app, &id).await.partstat, PartStat::NeedsAction);
    // The page came with a fresh cookie and token: confirming works.
    let cookie = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("jmb_csrf="))
        .expect("a fresh CSRF cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // The page's own form (the layout's language switch comes first, with its own token).
    let fresh = r.body.split("name=\"csrf\" value=\"").filter_map(|s| s.split('"').next()).nth(2).unwrap().to_string();
    let req = Request::post(format!("/rsvp/{token}"))
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("answer=decline&csrf={fresh}")))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.text().contains("Votre absence est enregistrée"));
    let paul = paul_of(&app, &id).await;
    assert_eq!(paul.partstat, PartStat::Declined);
}

#[tokio::test]
async fn the_guest_downloads_the_meeting_as_ics() {
    let app = App::new();
    let id = app.book("2026-12-05T09:00:00Z", &[]).await;
    let token = token_of(&app, &id, "paul.visiteur@example.org").await;
    app.post(None, &format!("/rsvp/{token}"), &[("csrf", &app.csrf()), ("answer", "tentative")]).await;
    let r = app.get(None, &format!("/rsvp/{token}/invitation.ics")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/calendar; charset=utf-8");
    assert_eq!(r.headers[header::CONTENT_DISPOSITION], "attachment; filename=\"invitation.ics\"");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    assert!(r.body.parse::<icalendar::Calendar>().is_ok(), "a calendar the icalendar crate reads");
    let unfolded = r.body.replace("\r\n ", "");
    for line in ["SUMMARY:Point d'équipe", "DTSTART:20261205T090000Z", "DTEND:20261205T100000Z"] {
        assert!(unfolded.lines().any(|l| l == line), "{line} in {unfolded}");
    }
    // The guest's own view: their join link, their answer.
    assert!(unfolded.contains(&format!("/j/{token}")), "{unfolded}");
    assert!(
        unfolded.lines().any(|l| l.starts_with("ATTENDEE")
            && l.contains("PARTSTAT=TENTATIVE")
            && l.contains("paul.visiteur@example.org")),
        "{unfolded}"
    );
    assert!(!r.body.contains("METHOD:"), "a plain calendar file, not an iTIP message");
    assert_eq!(app.get(None, "/rsvp/unknown-token-000000000000/invitation.ics").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn error_pages_lead_somewhere_a_guest_can_use() {
    let app = App::new();
    let id = app.book("2026-12-05T09:00:00Z", &[]).await;
    let token = token_of(&app, &id, "paul.visiteur@example.org").await;
    // Too early: no self-refreshing page, a countdown for the script and a reload link without it.
    let r = app.get(None, &format!("/j/{token}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("http-equiv"), "no meta refresh");
    assert!(r.body.contains("role=\"timer\" id=\"countdown\" data-opens=\"2026-12-05T08:55:00Z\""), "{}", r.body);
    assert!(r.body.contains(&format!("id=\"join-link\" href=\"/j/{token}\"")));
    assert!(r.text().contains("samedi 5 décembre 2026, 10:00 – 11:00 (Europe/Paris)"));
    assert!(r.body.contains(&format!("<a class=\"brand\" href=\"/rsvp/{token}\">")));
    // Ended: 410, back to the answer page (which says it ended), not to the list or a sign-in.
    app.clock.set("2026-12-06T09:00:00Z".parse().unwrap());
    let r = app.get(None, &format!("/j/{token}")).await;
    assert_eq!(r.status, StatusCode::GONE);
    assert!(r.body.contains(&format!("href=\"/rsvp/{token}\">Retourner à ma page de réponse")), "{}", r.body);
    assert!(!r.body.contains("href=\"/meetings\"") && !r.body.contains("/login"));
    // An unknown link: nowhere to send a stranger, so the page says where the way in is.
    let r = app.get(None, "/rsvp/unknown-token-000000000000").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text().contains("Ouvrez le lien de votre mail d'invitation"));
    assert!(
        !r.body.contains("href=\"/meetings\"")
            && !r.body.contains("/login")
            && !r.body.contains("class=\"brand\" href")
    );
    // A signed-in user goes back to their list.
    let r = app.get(Some("jdupont"), "/meetings/unknown/attendees").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("href=\"/meetings\">Retourner à la liste"), "{}", r.body);
}

#[tokio::test]
async fn the_list_searches_filters_and_duplicates() {
    let app = App::new();
    let planned = app.book("2026-12-05T09:00:00Z", &["anne.durand@partner.net"]).await;
    let now_running = app.book("2026-12-01T09:00:00Z", &[]).await;
    let past = app.book("2026-12-01T08:30:00Z", &[]).await;
    // At 09:45 the second one runs (until 10:00) and the third ended at 09:30.
    app.clock.set("2026-12-01T09:45:00Z".parse().unwrap());
    let r = app.get(Some("jdupont"), "/meetings").await;
    assert!(r.body.contains("role=\"search\"") && r.body.contains("<label for=\"q\">"));
    // Dates with their weekday, times with their end and zone; the same count as the tracking page.
    let row_planned = row(&r.body, &planned);
    assert!(
        row_planned.contains("samedi 5 décembre 2026") && row_planned.contains("10:00 – 11:00 (Europe/Paris)"),
        "{row_planned}"
    );
    assert!(row_planned.contains(">0/3<"), "3 invitees, nobody accepted yet: {row_planned}");
    assert!(row_planned.contains(&format!("href=\"/meetings/new?from={planned}\"")));

    // By attendee, by subject word, case-insensitively; the language switch keeps the search.
    let r = app.get(Some("jdupont"), "/meetings?q=DURAND").await;
    assert!(r.body.contains(&format!("data-meeting=\"{planned}\"")));
    assert!(
        !r.body.contains(&format!("data-meeting=\"{now_running}\""))
            && !r.body.contains(&format!("data-meeting=\"{past}\""))
    );
    assert!(r.text().contains("1 réunion trouvée."), "{}", r.body);
    assert!(
        r.body.contains("name=\"next\" value=\"/meetings?q=DURAND&#38;show=all\"")
            || r.body.contains("name=\"next\" value=\"/meetings?q=DURAND&amp;show=all\""),
        "{}",
        r.body
    );
    // Running, past.
    let r = app.get(Some("jdupont"), "/meetings?show=running").await;
    assert!(r.body.contains(&format!("data-meeting=\"{now_running}\"")));
    assert!(!r.body.contains(&format!("data-meeting=\"{planned}\"")) && !r.body.contains("id=\"archives\""));
    let r = app.get(Some("jdupont"), "/meetings?show=past&q=point").await;
    assert!(r.body.contains(&format!("data-meeting=\"{past}\"")) && !r.body.contains("id=\"upcoming-title\""));
    assert!(!r.body.contains(&format!("data-meeting=\"{now_running}\"")));
    assert!(!r.text().contains("les plus récentes ont été parcourues"), "nothing was left out");
    // Nonsense is the plain list, not an error.
    assert_eq!(app.get(Some("jdupont"), "/meetings?show=%FF&q=").await.status, StatusCode::OK);

    // Duplicate: the subject, duration and people, a new date; someone else's meeting is refused.
    let r = app.get(Some("jdupont"), &format!("/meetings/new?from={planned}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert!(text.contains("value=\"Point d'équipe\""), "{text}");
    assert!(text.contains("anne.durand@partner.net") && text.contains("marie.martin@example.org"));
    assert!(!text.contains("value=\"2026-12-05\""), "the date is the next free step, not the original's");
    assert_eq!(app.get(Some("mmartin"), &format!("/meetings/new?from={planned}")).await.status, StatusCode::FORBIDDEN);

    // The tracking page: the invitation to paste, with the room and the time.
    let r = app.get(Some("jdupont"), &format!("/meetings/{planned}/attendees")).await;
    let text = r.text();
    assert!(
        text.contains("Visioconférence « Point d'équipe »\nsamedi 5 décembre 2026, 10:00 – 11:00 (Europe/Paris)"),
        "{text}"
    );
    assert!(text.contains("data-copy=\"#invitation-text\""));
}

/// A search looks through the 500 most recent past meetings and says so when there were more.
#[tokio::test]
async fn a_search_says_when_it_left_old_archives_out() {
    let app = App::new();
    let now = app.clock_now().timestamp();
    let conn = rusqlite::Connection::open(&app.state.config.database.path).unwrap();
    // 501 meetings of jdupont's, one an hour in the days before now, the oldest named apart.
    conn.execute_batch(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 501)
         INSERT INTO meetings (id, ical_uid, room, subject, start_at, duration_min, end_at, owner_uid, created_at, updated_at)
         SELECT printf('archive%05d', i), printf('archive%05d@test', i), printf('archiveroom%05d', i),
                CASE i WHEN 501 THEN 'Oubliée' ELSE 'Ancienne' END, {now} - i * 3600, 30, {now} - i * 3600 + 1800,
                'jdupont', 0, 0
         FROM n;
         INSERT INTO attendees (meeting_id, role, mail, name, token, partstat, created_at, end_at)
         SELECT id, 'owner', 'jean.dupont@example.org', 'Jean', 'tokenarchive' || substr(id, 8), 1, 0, end_at
         FROM meetings WHERE id LIKE 'archive%';"
    ))
    .unwrap();
    let r = app.get(Some("jdupont"), "/meetings?show=past&q=ancienne").await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert!(text.contains("500 réunions trouvées."), "{text}");
    assert!(text.contains("Seules les 500 réunions passées les plus récentes ont été parcourues."), "{text}");
    // The oldest is beyond the bound: not found, and the page says why it may be missing.
    let text = app.get(Some("jdupont"), "/meetings?show=past&q=oubli").await.text();
    assert!(text.contains("Aucune réunion trouvée. Seules les 500 réunions passées"), "{text}");
    // Upcoming meetings alone are never cut short: nothing to say.
    let r = app.get(Some("jdupont"), "/meetings?show=upcoming").await;
    assert!(!r.text().contains("les plus récentes ont été parcourues"));
}

/// A meeting booked in the quarter hour under way (the form's start had just passed) starts at once and
/// can be put right, edited or cancelled, during that quarter hour; then it is fixed like any other.
#[tokio::test]
async fn a_meeting_booked_as_it_starts_can_be_put_right_for_a_while() {
    let app = App::new();
    app.clock.set("2026-12-01T09:05:00Z".parse().unwrap());
    let id = app.book("2026-12-01T09:00:00Z", &[]).await;
    let edit = format!("href=\"/meetings/{id}/edit\"");
    let r = app.get(Some("jdupont"), "/meetings").await;
    assert!(r.body.contains(&edit) && r.body.contains(&format!("href=\"/meetings/{id}/delete\"")), "{}", r.body);
    assert_eq!(app.get(Some("jdupont"), &format!("/meetings/{id}/edit")).await.status, StatusCode::OK);
    // The typo put right, at the same time (10:00 in Paris).
    let form = with(&with(&valid_form(&app.csrf()), "date", "2026-12-01"), "subject", "Point d'équipe corrigé");
    let r = app.post(Some("jdupont"), &format!("/meetings/{id}/edit"), &pairs(&form)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.details(&id).await.unwrap().meeting.subject, "Point d'équipe corrigé");
    app.clock.set("2026-12-01T09:15:00Z".parse().unwrap());
    assert!(!app.get(Some("jdupont"), "/meetings").await.body.contains(&edit));
    assert_eq!(app.get(Some("jdupont"), &format!("/meetings/{id}/edit")).await.status, StatusCode::CONFLICT);
    let form = with(&form, "subject", "Trop tard");
    let r = app.post(Some("jdupont"), &format!("/meetings/{id}/edit"), &pairs(&form)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(app.details(&id).await.unwrap().meeting.subject, "Point d'équipe corrigé");
}
