//! The signed-in user's home: upcoming meetings of every role with their join links, and the private
//! room.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::links::{partstat_label, role_label};
use super::model::Role;
use super::repo::{self, Scope};
use super::service::{self, BookingError};
use crate::identity::SignedIn;
use crate::state::AppState;
use crate::web::csrf::{CsrfToken, cookie_header};
use crate::web::{Chrome, PageError, html};

pub struct Row {
    pub subject: String,
    pub when: String,
    pub duration: String,
    pub role: String,
    pub answer: String,
    pub join: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    rows: Vec<Row>,
    private_room: Option<(String, String)>,
}

pub async fn home(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    let tr = state.tr(&headers);
    let now = state.clock.now();
    service::remember_user(&state.db, &user.identity, now).await?;
    let (uid, mail) = (user.identity.uid.clone(), user.identity.mail.clone());
    let listed = state
        .db
        .read(move |c| -> Result<_, BookingError> { Ok(repo::list_for_user(c, &uid, &mail, Scope::Upcoming { now })?) })
        .await?;
    let rows = listed
        .iter()
        .map(|l| {
            let m = &l.details.meeting;
            Row {
                subject: m.subject.clone(),
                when: tr.datetime(m.start),
                duration: tr.ta("minutes", &[("count", m.duration_min.to_string())]),
                role: role_label(&tr, l.mine.role),
                answer: if l.mine.role == Role::Owner { "-".into() } else { partstat_label(&tr, l.mine.partstat) },
                join: if l.mine.role == Role::Owner {
                    format!("/m/{}", m.room)
                } else {
                    format!("/j/{}", l.mine.token)
                },
            }
        })
        .collect();
    let private_room =
        user.is_editor.then(|| (format!("/m/{}", user.identity.uid), state.jitsi.room_url(&user.identity.uid)));
    let page = HomePage {
        chrome: Chrome::new(&state, tr, tr.t("home-title"), Some(&user.identity), csrf.0, "/"),
        rows,
        private_room,
    };
    let mut resp = html(StatusCode::OK, &page);
    if let Ok(v) =
        HeaderValue::from_str(&cookie_header(super::legacy::UI_COOKIE, "1", state.config.public_is_https(), None))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}
