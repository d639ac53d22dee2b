//! What every page has (the header with the signed-in user and their organizations, the
//! settings navigation, the form token, a notice) and how a page becomes a response.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use time::OffsetDateTime;

use patgate_app::AppError;
use patgate_domain::catalog::OrgRole;
use patgate_domain::model::{Organization, User};

/// Where a page sits in the settings navigation (for `aria-current`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    None,
    Sessions,
    FineGrained,
    Classic,
    /// An organization's settings: `(section)`.
    Org(OrgNav),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgNav {
    Policy,
    Requests,
    Active,
    Audit,
    Hooks,
}

/// A notice shown at the top of a page (after an action, or to explain a state).
#[derive(Clone, Debug)]
pub struct Notice {
    pub kind: NoticeKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    Success,
    Info,
    Warn,
    Error,
}

impl Notice {
    pub fn success(message: impl Into<String>) -> Self {
        Notice {
            kind: NoticeKind::Success,
            message: message.into(),
        }
    }
    pub fn info(message: impl Into<String>) -> Self {
        Notice {
            kind: NoticeKind::Info,
            message: message.into(),
        }
    }
    pub fn warn(message: impl Into<String>) -> Self {
        Notice {
            kind: NoticeKind::Warn,
            message: message.into(),
        }
    }
    pub fn error(message: impl Into<String>) -> Self {
        Notice {
            kind: NoticeKind::Error,
            message: message.into(),
        }
    }
    /// The stylesheet class of the notice.
    pub fn class(&self) -> &'static str {
        match self.kind {
            NoticeKind::Success => "flash flash-success",
            NoticeKind::Info => "flash",
            NoticeKind::Warn => "flash flash-warn",
            NoticeKind::Error => "flash flash-error",
        }
    }
    /// Errors interrupt (`alert`); the rest is announced politely (`status`).
    pub fn role(&self) -> &'static str {
        if self.kind == NoticeKind::Error {
            "alert"
        } else {
            "status"
        }
    }
}

/// An organization of the signed-in user, for the header menu and the navigation.
#[derive(Clone, Debug)]
pub struct OrgLink {
    pub login: String,
    pub owner: bool,
}

/// The parts of the layout every signed-in page shares.
#[derive(Clone, Debug)]
pub struct Chrome {
    pub login: String,
    pub orgs: Vec<OrgLink>,
    /// The form token of the session: every form carries it as `_csrf`.
    pub csrf: String,
    pub nav: Nav,
    pub notice: Option<Notice>,
    /// The enterprises the user owns (their settings are linked from the menus).
    pub enterprises: Vec<String>,
}

impl Chrome {
    pub fn new(user: &User, orgs: &[(Organization, OrgRole)], csrf: String, nav: Nav) -> Self {
        Chrome {
            login: user.login.clone(),
            orgs: orgs
                .iter()
                .map(|(o, role)| OrgLink {
                    login: o.login.clone(),
                    owner: *role == OrgRole::Owner,
                })
                .collect(),
            csrf,
            nav,
            notice: None,
            enterprises: Vec::new(),
        }
    }

    pub fn with_notice(mut self, notice: Option<Notice>) -> Self {
        self.notice = notice;
        self
    }

    pub fn initial(&self) -> String {
        self.login
            .chars()
            .next()
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    pub fn is(&self, nav: Nav) -> bool {
        self.nav == nav
    }

    /// `aria-current="page"` for the navigation item of this page.
    pub fn current(&self, nav: Nav) -> &'static str {
        if self.nav == nav { "page" } else { "false" }
    }

    pub fn owns_an_org(&self) -> bool {
        self.orgs.iter().any(|o| o.owner)
    }
}

/// Renders a template as a page. Pages are never cached: they show the signed-in user's data,
/// and some show a secret once.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => {
            let mut r = (status, html).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
    }
}

pub fn ok(template: &impl Template) -> Response {
    render(StatusCode::OK, template)
}

/// After a change: back to a page (303, so the browser follows with a GET).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Option<&'a Chrome>,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// What goes wrong on a page, rendered as a page (never as GitHub's JSON).
#[derive(Debug)]
pub enum WebError {
    NotFound,
    /// The request is refused for a reason the user may know.
    Forbidden(String),
    Unavailable,
    Internal(String),
}

impl From<AppError> for WebError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound | AppError::Denied(_) => WebError::NotFound,
            AppError::Forbidden(m) | AppError::WrongCredential(m) | AppError::Conflict(m) => {
                WebError::Forbidden(m)
            }
            AppError::Unavailable | AppError::Overloaded => WebError::Unavailable,
            AppError::BadCredentials => WebError::Forbidden("Bad credentials".into()),
            AppError::Validation(v) => WebError::Forbidden(v.to_string()),
            AppError::Internal(d) => WebError::Internal(d),
        }
    }
}

impl WebError {
    pub fn page(self, chrome: Option<&Chrome>) -> Response {
        let (status, title, message) = match &self {
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "This is not the page you are looking for, or you may not see it.".to_owned(),
            ),
            WebError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m.clone()),
            WebError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "The service is busy or its database cannot be reached right now.".to_owned(),
            ),
            WebError::Internal(detail) => {
                tracing::error!(%detail, "internal error on a page");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The error has been logged.".to_owned(),
                )
            }
        };
        render(
            status,
            &ErrorPage {
                chrome,
                status: status.as_u16(),
                title,
                message: &message,
            },
        )
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.page(None)
    }
}

pub type WebResult<T> = Result<T, WebError>;

/// A date as the pages show it: `Dec 1, 2026`.
pub fn date(t: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .get(usize::from(u8::from(t.month())) - 1)
        .copied()
        .unwrap_or("");
    format!("{month} {}, {}", t.day(), t.year())
}

/// A date and time as the pages show it, in UTC: `Dec 1, 2026, 14:05 UTC`.
pub fn date_time(t: OffsetDateTime) -> String {
    format!("{}, {:02}:{:02} UTC", date(t), t.hour(), t.minute())
}

/// How long ago, roughly: `3 days ago`, `just now`.
pub fn ago(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (now - t).whole_seconds();
    let (n, unit) = match secs {
        s if s < 60 => return "just now".to_owned(),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s if s < 86_400 * 30 => (s / 86_400, "day"),
        s if s < 86_400 * 365 => (s / (86_400 * 30), "month"),
        s => (s / (86_400 * 365), "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_people_write_them() {
        let t = time::macros::datetime!(2026-12-01 14:05:09 UTC);
        assert_eq!(date(t), "Dec 1, 2026");
        assert_eq!(date_time(t), "Dec 1, 2026, 14:05 UTC");
        assert_eq!(ago(t, t + time::Duration::seconds(30)), "just now");
        assert_eq!(ago(t, t + time::Duration::minutes(1)), "1 minute ago");
        assert_eq!(ago(t, t + time::Duration::days(3)), "3 days ago");
        assert_eq!(ago(t, t + time::Duration::days(400)), "1 year ago");
    }
}
