//! The signed-in user's list (`GET /`): upcoming and ongoing meetings of every role (owner, moderator,
//! guest) with their state shown by colour and by text, the actions the user may take, the archives of
//! finished meetings (paginated), the private room, and a slot for the calendar addresses.
//!
//! Nothing here changes state except remembering the user (uid, mail, name) so feeds can find them;
//! answers, edits and deletions are POSTs handled in [`super::form`].

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{partstat_class, partstat_label, role_label};
use crate::auth::SignedIn;
use crate::booking::model::{Meeting, PartStat, Phase, Role};
use crate::booking::repo::Listed;
use crate::config::BookingConfig;
use crate::i18n::Tr;
use crate::state::AppState;
use crate::web::csrf::CsrfToken;
use crate::web::{Chrome, PageError, cookies, html};

/// Archived meetings per page.
pub const ARCHIVE_PAGE_SIZE: u32 = 20;

/// At most this many archived meetings are looked through by a search.
pub const ARCHIVE_SEARCH_CAP: u32 = 500;

/// Where a meeting stands for one viewer, as the original's list colours showed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListState(pub Phase);

impl ListState {
    pub fn of(meeting: &Meeting, role: Role, limits: &BookingConfig, now: DateTime<Utc>) -> Self {
        ListState(Phase::of(meeting, role, limits.highlight_owner_minutes, limits.highlight_guest_minutes, now))
    }

    pub fn class(self) -> &'static str {
        self.0.as_str()
    }

    pub fn label(self, tr: &Tr) -> String {
        tr.t(match self.0 {
            Phase::Planned => "state-planned",
            Phase::Joinable => "state-joinable",
            Phase::Ongoing => "state-ongoing",
            Phase::Finished => "state-finished",
        })
    }
}

/// One line of the list, every string ready for the template.
pub struct Row {
    pub id: String,
    pub subject: String,
    pub date: String,
    pub time: String,
    pub duration: String,
    pub role: String,
    pub organiser: String,
    pub answer: Option<String>,
    pub answer_class: &'static str,
    pub state: &'static str,
    pub state_label: String,
    /// `accepted/total`, with the detail for the hover text and screen readers.
    pub participants: String,
    pub participants_detail: String,
    /// Start (owner) or join link, when the meeting is joinable or ongoing.
    pub join: Option<(String, String)>,
    pub can_accept: bool,
    pub can_tentative: bool,
    pub can_decline: bool,
    pub can_edit: bool,
    pub is_owner: bool,
    /// "Duplicate": the owner, an editor, may book a copy.
    pub can_duplicate: bool,
    /// "3 people in the meeting" for a running meeting (with `[presence]`).
    pub present_now: Option<String>,
}

/// The calendar addresses (iCal feed, CalDAV) and the action that replaces their secret.
///
/// Filled from [`crate::calendar::access::links_for`]; the list renders this section only when
/// [`HomePage::calendar`] is `Some`. This module never creates or replaces feed secrets itself: the
/// rotation form posts to the calendar-access page.
pub struct CalendarLinks {
    pub feed_url: String,
    pub caldav_url: String,
    /// POST target (with the CSRF token) that replaces the secret; the old addresses stop working.
    pub rotate_action: String,
    /// The calendar-access page (CalDAV password, webcal address).
    pub manage_url: String,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub chrome: Chrome,
    pub rows: Vec<Row>,
    pub archives: Vec<Row>,
    pub archive_days: u32,
    pub archive_total: u32,
    pub archive_page: u32,
    pub archive_pages: u32,
    pub is_editor: bool,
    /// (start link, shareable address).
    pub private_room: Option<(String, String)>,
    pub calendar: Option<CalendarLinks>,
    pub notice: Option<String>,
    /// The search and filter, as typed.
    pub filter: ListFilter,
    /// The filter's choices: (value, label).
    pub show_options: Vec<(&'static str, String)>,
    /// "3 meetings found", when filtering.
    pub found: Option<String>,
}

/// What the list shows: a search over subjects and attendees (names and addresses), and which
/// meetings (all, upcoming, running, past). Parsed leniently: anything unknown shows everything.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub q: String,
    pub show: Show,
}

/// Which meetings the list shows, by their phase for the viewer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Show {
    #[default]
    All,
    Upcoming,
    Running,
    Past,
}

impl Show {
    pub const EVERY: [Show; 4] = [Show::All, Show::Upcoming, Show::Running, Show::Past];

    /// The word in the address (`?show=`), also the end of its label's message id.
    pub fn as_str(self) -> &'static str {
        match self {
            Show::All => "all",
            Show::Upcoming => "upcoming",
            Show::Running => "running",
            Show::Past => "past",
        }
    }

    /// Anything unknown shows everything.
    fn parse(raw: Option<&str>) -> Self {
        let raw = raw.map(str::trim);
        Self::EVERY.into_iter().find(|s| Some(s.as_str()) == raw).unwrap_or_default()
    }
}

impl ListFilter {
    fn parse(q: Option<&str>, show: Option<&str>) -> Self {
        let q: String = q.unwrap_or_default().trim().chars().take(100).collect();
        ListFilter { q, show: Show::parse(show) }
    }

    pub fn active(&self) -> bool {
        !self.q.is_empty() || self.show != Show::All
    }
    pub fn upcoming_shown(&self) -> bool {
        self.show != Show::Past
    }
    pub fn archives_shown(&self) -> bool {
        matches!(self.show, Show::All | Show::Past)
    }

    /// Whether a listed meeting passes: its phase for the viewer, then the words searched for in
    /// its subject or any attendee's name or address (case-insensitive).
    fn keeps(&self, listed: &Listed, phase: Phase) -> bool {
        let shown = match self.show {
            Show::Upcoming => matches!(phase, Phase::Planned | Phase::Joinable),
            Show::Running => phase == Phase::Ongoing,
            Show::Past => phase == Phase::Finished,
            Show::All => true,
        };
        if !shown {
            return false;
        }
        let needle = self.q.to_lowercase();
        if needle.is_empty() {
            return true;
        }
        let d = &listed.details;
        d.meeting.subject.to_lowercase().contains(&needle)
            || d.attendees.iter().any(|a| a.name.to_lowercase().contains(&needle) || a.mail.contains(&needle))
    }
}

impl HomePage {
    fn archive_page_link(&self, page: u32) -> String {
        format!("/meetings?archives={page}#archives")
    }
    pub fn prev_link(&self) -> Option<String> {
        (self.archive_page > 0).then(|| self.archive_page_link(self.archive_page - 1))
    }
    pub fn next_link(&self) -> Option<String> {
        (self.archive_page + 1 < self.archive_pages).then(|| self.archive_page_link(self.archive_page + 1))
    }
    pub fn page_label(&self) -> String {
        self.chrome.tr.ta(
            "home-archives-page",
            &[("page", (self.archive_page + 1).to_string()), ("pages", self.archive_pages.max(1).to_string())],
        )
    }
}

#[derive(Deserialize)]
pub struct HomeQuery {
    /// Archive page, from 0.
    archives: Option<String>,
    /// What the previous POST did (a fixed word, mapped to a message).
    done: Option<String>,
    /// Search words (subject, attendee).
    q: Option<String>,
    /// Which meetings: all, upcoming, running, past.
    show: Option<String>,
}

/// Messages shown after a redirect from a form. Only these words are accepted.
fn notice(tr: &Tr, done: Option<&str>) -> Option<String> {
    let id = match done? {
        "created" => "notice-created",
        "updated" => "notice-updated",
        "moved" => "notice-moved",
        "deleted" => "notice-deleted",
        "accepted" => "notice-accepted",
        "tentative" => "notice-tentative",
        "declined" => "notice-declined",
        _ => return None,
    };
    Some(tr.t(id))
}

/// Builds a row of the list for the viewer.
pub fn row(state: &AppState, tr: &Tr, listed: &Listed, user: &SignedIn, now: DateTime<Utc>) -> Row {
    let d = &listed.details;
    let m = &d.meeting;
    let is_owner = d.is_owned_by(&user.identity);
    let role = if is_owner { Role::Owner } else { listed.mine.role };
    let mine = if is_owner { d.owner().unwrap_or(&listed.mine) } else { &listed.mine };
    let list_state = ListState::of(m, role, &state.config.booking, now);
    let organiser =
        d.owner().map(|o| if o.name.is_empty() { o.mail.clone() } else { o.name.clone() }).unwrap_or_default();
    // Counted over the invitees, as the tracking page counts them (the owner is not invited).
    let invitees = || d.attendees.iter().filter(|a| a.role != Role::Owner);
    let count = |p: PartStat| invitees().filter(|a| a.partstat == p).count();
    let (accepted, tentative, declined, open) = (
        count(PartStat::Accepted),
        count(PartStat::Tentative),
        count(PartStat::Declined),
        count(PartStat::NeedsAction),
    );
    let join = match list_state.0 {
        Phase::Joinable | Phase::Ongoing => Some(if role == Role::Owner {
            (format!("/m/{}", crate::jitsi::room_segment(&m.room)), tr.t("action-start"))
        } else {
            (format!("/j/{}", mine.token), tr.t("action-join"))
        }),
        _ => None,
    };
    let answerable = role != Role::Owner && list_state.0 != Phase::Finished;
    Row {
        id: m.id.clone(),
        subject: m.subject.clone(),
        date: tr.long_date(m.start),
        time: tr.time_range(m.start, m.end()),
        duration: super::form::duration_label(tr, m.duration_min),
        role: role_label(tr, role),
        organiser,
        answer: (role != Role::Owner).then(|| partstat_label(tr, mine.partstat)),
        answer_class: partstat_class(mine.partstat),
        state: list_state.class(),
        state_label: list_state.label(tr),
        participants: format!("{accepted}/{}", invitees().count()),
        participants_detail: tr.ta(
            "home-participants-detail",
            &[
                ("accepted", accepted.to_string()),
                ("tentative", tentative.to_string()),
                ("declined", declined.to_string()),
                ("open", open.to_string()),
            ],
        ),
        join,
        can_accept: answerable && mine.partstat != PartStat::Accepted,
        can_tentative: answerable && mine.partstat != PartStat::Tentative,
        can_decline: answerable && mine.partstat != PartStat::Declined,
        can_edit: is_owner && user.is_editor && m.editable(now, state.config.booking.start_grace()),
        is_owner,
        can_duplicate: is_owner && user.is_editor,
        present_now: None,
    }
}

/// Fills in how many are in each running meeting of the list (with `[presence]`): one indexed count
/// per running meeting, nothing for the others. The counts are an extra: when they cannot be read,
/// the error is logged and the list is shown without them.
async fn fill_present_now(state: &AppState, tr: &Tr, rows: &mut [Row], now: DateTime<Utc>) {
    let Some(presence) = &state.presence else { return };
    let running: Vec<String> =
        rows.iter().filter(|r| r.state == Phase::Ongoing.as_str()).map(|r| r.id.clone()).collect();
    if running.is_empty() {
        return;
    }
    let counts = match presence.present_now(running, now).await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::error!(error.message = %e, "presence counts not read: the list is shown without them");
            return;
        }
    };
    for row in rows.iter_mut() {
        if let Some(&n) = counts.get(&row.id) {
            row.present_now = Some(match n {
                0 => tr.t("presence-now-none"),
                1 => tr.t("presence-now-one"),
                n => tr.ta("presence-now-many", &[("count", n.to_string())]),
            });
        }
    }
}

/// `GET /`: the list.
pub async fn home(
    State(state): State<AppState>,
    user: SignedIn,
    headers: HeaderMap,
    csrf: CsrfToken,
    query: Result<Query<HomeQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let tr = state.tr(&headers);
    // A malformed query string shows the plain list rather than an error.
    let q = query.map(|Query(q)| q).unwrap_or(HomeQuery { archives: None, done: None, q: None, show: None });
    let filter = ListFilter::parse(q.q.as_deref(), q.show.as_deref());
    let now = state.clock.now();
    let archive_days = state.config.booking.archive_days;
    // A page number that does not parse shows the first page rather than an error.
    let requested_page = q.archives.as_deref().and_then(|p| p.trim().parse::<u32>().ok()).unwrap_or(0).min(100_000);
    let (lists, found) = if filter.active() {
        // Filtering looks through every listed meeting, the archives unpaginated up to a bound: one more
        // is read to know whether the bound cut the search short, which the page then says.
        let (upcoming, mut archived) =
            state.bookings.everything_listed(&user.identity, now, archive_days, ARCHIVE_SEARCH_CAP + 1).await?;
        let archives_cut = archived.len() > ARCHIVE_SEARCH_CAP as usize;
        archived.truncate(ARCHIVE_SEARCH_CAP as usize);
        let phase = |l: &Listed| {
            let role = if l.details.is_owned_by(&user.identity) { Role::Owner } else { l.mine.role };
            ListState::of(&l.details.meeting, role, &state.config.booking, now).0
        };
        let upcoming: Vec<Listed> =
            upcoming.into_iter().filter(|l| filter.upcoming_shown() && filter.keeps(l, phase(l))).collect();
        let archived: Vec<Listed> =
            archived.into_iter().filter(|l| filter.archives_shown() && filter.keeps(l, phase(l))).collect();
        let count = upcoming.len() + archived.len();
        let id = match count {
            0 => "home-found-none",
            1 => "home-found-one",
            _ => "home-found-many",
        };
        let mut found = tr.ta(id, &[("count", count.to_string())]);
        if archives_cut && filter.archives_shown() {
            found.push(' ');
            found.push_str(&tr.ta("home-found-archives-cut", &[("count", ARCHIVE_SEARCH_CAP.to_string())]));
        }
        (
            crate::booking::Lists { archived_total: archived.len() as u32, archive_page: 0, upcoming, archived },
            Some(found),
        )
    } else {
        (state.bookings.lists(&user.identity, now, archive_days, requested_page, ARCHIVE_PAGE_SIZE).await?, None)
    };
    // The calendar addresses come from the calendar-access capability (it owns the feed secret, and
    // records the user on the way).
    let links = super::calendar::links_for(&state, &user).await?;
    let calendar = CalendarLinks {
        feed_url: links.feed_https,
        caldav_url: links.dav_url,
        rotate_action: "/calendar/feed".into(),
        manage_url: "/calendar".into(),
    };
    let mut rows: Vec<Row> = lists.upcoming.iter().map(|l| row(&state, &tr, l, &user, now)).collect();
    fill_present_now(&state, &tr, &mut rows, now).await;
    let archives = lists.archived.iter().map(|l| row(&state, &tr, l, &user, now)).collect();
    let private_room = user.is_editor.then(|| {
        let uid = &user.identity.uid;
        (format!("/m/{}", crate::jitsi::room_segment(uid)), state.jitsi.room_url(uid))
    });
    // The language switch comes back to the same search.
    let here = if filter.active() {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &filter.q)
            .append_pair("show", filter.show.as_str())
            .finish();
        format!("/meetings?{query}")
    } else {
        "/meetings".to_string()
    };
    let page = HomePage {
        chrome: Chrome::new(&state, tr, tr.t("home-title"), Some(&user.identity), &csrf, &here),
        rows,
        archives,
        archive_days,
        archive_total: lists.archived_total,
        archive_page: lists.archive_page,
        // A filtered list shows every match on one page.
        archive_pages: if filter.active() { 1 } else { lists.archived_total.div_ceil(ARCHIVE_PAGE_SIZE) },
        is_editor: user.is_editor,
        private_room,
        calendar: Some(calendar),
        notice: notice(&tr, q.done.as_deref()),
        show_options: Show::EVERY.iter().map(|s| (s.as_str(), tr.t(&format!("home-show-{}", s.as_str())))).collect(),
        filter,
        found,
    };
    let mut resp = html(StatusCode::OK, &page);
    cookies::set(resp.headers_mut(), super::legacy::UI_COOKIE, "1", state.config.public_is_https(), None);
    Ok(resp)
}
