//! Test harness: a jmb server on 127.0.0.1:0 with a fixed clock and a private database, and helpers
//! to call it as a trusted proxy, as a browser, or as a stranger.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use jmb::clock::FixedClock;
use jmb::config::{Config, EditorPolicy};
use jmb::db::tempdir::TempDirGuard;
use jmb::state::AppState;
use reqwest::header::HeaderMap;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";
pub const T0: &str = "2026-12-01T08:00:00Z";

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub clock: Arc<FixedClock>,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: TempDirGuard,
}

pub fn base_config(dir: &TempDirGuard) -> Config {
    let mut c = Config::default();
    c.database.path = dir.path().join("jmb.sqlite3");
    c.server.public_url = "https://meet.example.org".into();
    c.jitsi.base_url = "https://meet.example.org".into();
    c.jitsi.app_secret = jmb::config::Secret::new(SECRET);
    c.mail.internal_domains = vec!["example.org".into()];
    // Mails stay in the store unless a test points jmb at its SMTP sink.
    c.mail.transport = jmb::config::MailTransportKind::Mailbox;
    c.auth.editors = EditorPolicy::Uids(vec!["jdupont".into(), "mmartin".into()]);
    c
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_with_state(tweak, |_| {}).await
    }

    /// As [`Self::spawn_with`], then `tweak_state` changes the built state (a notifier, …) before the
    /// server and its jobs start.
    pub async fn spawn_with_state(tweak: impl FnOnce(&mut Config), tweak_state: impl FnOnce(&mut AppState)) -> Self {
        let dir = TempDirGuard::new().unwrap();
        let mut config = base_config(&dir);
        tweak(&mut config);
        config.validate().expect("test config is valid");
        let clock = Arc::new(FixedClock::new(T0.parse().unwrap()));
        let mut state = jmb::app::build_state(config, clock.clone()).unwrap();
        tweak_state(&mut state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(jmb::run(state.clone(), jmb::Listener::Tcp(listener), async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
        TestApp { addr, state, clock, client, shutdown: Some(tx), server: Some(server), _dir: dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set_now(&self, t: &str) {
        self.clock.set(t.parse::<DateTime<Utc>>().unwrap());
    }

    /// Headers a trusted proxy sets for a signed-in user.
    pub fn as_user(uid: &str) -> HeaderMap {
        let (mail, name) = match uid {
            "jdupont" => ("jean.dupont@example.org", "Jean Dupont"),
            "mmartin" => ("marie.martin@example.org", "Marie Martin"),
            "visitor" => ("paul.visiteur@example.org", "Paul Visiteur"),
            other => return Self::identity(other, &format!("{other}@example.org"), other),
        };
        Self::identity(uid, mail, name)
    }

    /// The identity behind [`TestApp::as_user`].
    pub fn identity_of(uid: &str) -> jmb::identity::Identity {
        let h = Self::as_user(uid);
        let get = |k: &str| h[k].to_str().unwrap().to_string();
        jmb::identity::Identity { uid: get("X-Remote-User"), mail: get("X-Remote-Mail"), name: get("X-Remote-Name") }
    }

    pub fn identity(uid: &str, mail: &str, name: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("X-Remote-User", uid.parse().unwrap());
        h.insert("X-Remote-Mail", mail.parse().unwrap());
        h.insert("X-Remote-Name", name.parse().unwrap());
        h
    }

    pub async fn api(&self, method: reqwest::Method, path: &str, uid: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, self.url(path)).headers(Self::as_user(uid));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Books a meeting as `uid` and returns its JSON view.
    pub async fn book(&self, uid: &str, body: Value) -> Value {
        let (status, v) = self.api(reqwest::Method::POST, "/api/v1/meetings", uid, Some(body)).await;
        assert_eq!(status, 201, "booking failed: {v}");
        v
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_as(&self, path: &str, uid: &str) -> reqwest::Response {
        self.client.get(self.url(path)).headers(Self::as_user(uid)).send().await.unwrap()
    }

    /// Number of meetings in the store, read straight from SQLite.
    pub async fn count(&self, sql: &'static str) -> i64 {
        self.state
            .db
            .read(move |c| c.query_row(sql, [], |r| r.get::<_, i64>(0)).map_err(jmb::db::DbError::from))
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            s.await.unwrap().unwrap();
        }
    }
}

/// A standard booking: two moderators (one internal, one external), three guests.
pub fn meeting_body() -> Value {
    json!({
        "subject": "Réunion de l'équipe",
        "start": "2026-12-05T09:00:00Z",
        "duration": 90,
        "moderators": ["marie.martin@example.org", "Ext Mod <ext.mod@partner.net>"],
        "guests": ["guest.one+jmb@example.com", "guest.two@example.com", "paul.visiteur@example.org"]
    })
}

pub fn attendee<'a>(meeting: &'a Value, mail: &str) -> &'a Value {
    meeting["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["mail"] == mail)
        .unwrap_or_else(|| panic!("no attendee {mail}"))
}

/// The path of an absolute jmb URL.
pub fn path_of(url: &str) -> String {
    url.trim_start_matches("https://meet.example.org").to_string()
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// Decodes and verifies a Jitsi token as Prosody would (HS256, audience, issuer).
pub fn decode_jwt(token: &str) -> Value {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.alg, Algorithm::HS256);
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&["jitsi"]);
    v.set_issuer(&["jitsi-auth"]);
    // The clock is fixed in the past: check the time claims by hand.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.set_required_spec_claims(&["iss", "aud", "sub", "exp", "nbf"]);
    decode::<Value>(token, &DecodingKey::from_secret(SECRET.as_bytes()).unwrap(), &v).unwrap().claims
}

pub fn jwt_of(location: &str) -> String {
    location.split("?jwt=").nth(1).unwrap_or_else(|| panic!("no token in {location}")).to_string()
}

/// Opens a page with a form as `uid`: returns the CSRF cookie (`name=value`), the token of the page's
/// forms and the page.
pub async fn form_page(app: &TestApp, path: &str, uid: &str) -> (String, String, String) {
    let resp = app.get_as(path, uid).await;
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-jmb_csrf="))
        .expect("a CSRF cookie");
    let cookie = cookie.split(';').next().unwrap().to_string();
    let html = resp.text().await.unwrap();
    let csrf = form_csrf(&html);
    (cookie, csrf, html)
}

/// The CSRF token of a page's own forms: the first form that is not the layout's language switch
/// (whose token is bound to the browser only, not to the signed-in user).
pub fn form_csrf(html: &str) -> String {
    html.split("<form")
        .skip(1)
        .filter(|form| !form.contains("action=\"/lang\""))
        .find_map(|form| form.split("name=\"csrf\" value=\"").nth(1))
        .expect("a form with a CSRF field")
        .split('"')
        .next()
        .unwrap()
        .to_string()
}
