//! The user's sessions: where they are signed in, and signing out of any of them.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use patgate_domain::session::SessionId;

use super::flash;
use super::page::{self, Chrome, Nav, WebError, ago, date_time};
use super::session::SignedIn;
use crate::state::AppState;

pub struct SessionRow {
    pub id: i64,
    pub current: bool,
    pub browser: String,
    pub ip: String,
    pub signed_in: String,
    pub last_seen: String,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    chrome: Chrome,
    rows: Vec<SessionRow>,
}

/// A short name for a browser from its `User-Agent`.
fn browser(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else {
        return "Unknown browser".to_owned();
    };
    let name = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("HeadlessChrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map_or("Browser", |(_, name)| name);
    let os = [
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, os)| *os);
    match os {
        Some(os) => format!("{name} on {os}"),
        None => name.to_owned(),
    }
}

pub async fn list(State(state): State<AppState>, signed: SignedIn, headers: HeaderMap) -> Response {
    let (notice, clear) = flash::take(&state, &headers);
    let chrome = signed.chrome(Nav::Sessions).with_notice(notice);
    let sessions = match state.app.sessions_of(&signed.user).await {
        Ok(s) => s,
        Err(e) => return WebError::from(e).page(Some(&chrome)),
    };
    let now = state.app.now();
    let rows = sessions
        .iter()
        .map(|s| SessionRow {
            id: s.id.0,
            current: s.id == signed.session.id,
            browser: browser(s.user_agent.as_deref()),
            ip: s.ip.clone().unwrap_or_default(),
            signed_in: date_time(s.created_at),
            last_seen: ago(s.last_seen_at, now),
        })
        .collect();
    (clear, page::ok(&SessionsPage { chrome, rows })).into_response()
}

pub async fn revoke(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let chrome = signed.chrome(Nav::Sessions);
    let Ok(id) = id.parse::<i64>() else {
        return WebError::NotFound.page(Some(&chrome));
    };
    if SessionId(id) == signed.session.id {
        return super::session::sign_out_response(&state, &signed).await;
    }
    match state.app.revoke_session(&signed.user, SessionId(id)).await {
        Ok(()) => (
            flash::set(&state, "The session was signed out."),
            page::see_other("/settings/sessions"),
        )
            .into_response(),
        Err(e) => WebError::from(e).page(Some(&chrome)),
    }
}

pub async fn revoke_others(State(state): State<AppState>, signed: SignedIn) -> Response {
    match state
        .app
        .end_other_sessions(&signed.user, signed.session.id)
        .await
    {
        Ok(n) => (
            flash::set(
                &state,
                &format!(
                    "Signed out of {n} other {}.",
                    if n == 1 { "session" } else { "sessions" }
                ),
            ),
            page::see_other("/settings/sessions"),
        )
            .into_response(),
        Err(e) => WebError::from(e).page(Some(&signed.chrome(Nav::Sessions))),
    }
}

#[cfg(test)]
mod tests {
    use super::browser;

    #[test]
    fn browsers_get_short_names() {
        assert_eq!(
            browser(Some(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0 Safari/537.36"
            )),
            "Chrome on Linux"
        );
        assert_eq!(browser(Some("curl/8.5.0")), "curl");
        assert_eq!(browser(None), "Unknown browser");
    }
}
