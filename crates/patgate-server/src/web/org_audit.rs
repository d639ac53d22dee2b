//! The organization's audit log for its owners: GitHub's event names, filtered by action, actor
//! and dates, newest first, a page at a time.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use time::{Date, OffsetDateTime, Time};

use patgate_store::AuditQuery;

use super::form::FormData;
use super::org::{OrgChrome, org_chrome, owned};
use super::page::{self, Chrome, Nav, OrgNav, WebError, date_time};
use super::session::SignedIn;
use super::token_form::SelectOption;
use crate::state::AppState;

const PER_PAGE: u32 = 50;

/// The actions the organization's log holds, for the filter menu.
const ACTIONS: &[&str] = &[
    "personal_access_token.create",
    "personal_access_token.update",
    "personal_access_token.destroy",
    "personal_access_token.credential_regenerated",
    "personal_access_token.credential_revoked",
    "personal_access_token.request_created",
    "personal_access_token.request_cancelled",
    "personal_access_token.request_denied",
    "personal_access_token.access_granted",
    "personal_access_token.access_revoked",
    "org.personal_access_token_policy_update",
    "auto_approve_personal_access_token_requests.enable",
    "auto_approve_personal_access_token_requests.disable",
    "business.personal_access_token_policy_update",
    "integration.create",
    "integration_installation.token_created",
    "hook.create",
    "hook.config_changed",
    "hook.destroy",
];

pub struct EventRow {
    pub when: String,
    pub action: String,
    pub actor: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "org/audit.html")]
struct AuditPage {
    chrome: Chrome,
    org: OrgChrome,
    rows: Vec<EventRow>,
    actions: Vec<SelectOption>,
    actor: String,
    after: String,
    before: String,
    page: u32,
    has_next: bool,
    base: String,
    error: Option<String>,
}

impl AuditPage {
    fn page_href(&self, page: impl std::borrow::Borrow<u32>) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}page={}", self.base, page.borrow())
    }
}

fn day(s: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &format).ok()
}

/// What an event says, shortly: the token, the repositories, the settings.
fn details(data: &serde_json::Value) -> String {
    let Some(map) = data.as_object() else {
        return String::new();
    };
    let mut parts = Vec::new();
    for key in [
        "user_programmatic_access_name",
        "oauth_application_name",
        "user",
        "repository_selection",
        "reason",
        "business",
        "fine_grained",
        "classic",
        "approval",
        "fine_grained_max_lifetime_days",
        "classic_max_lifetime_days",
        "hook_id",
        "host",
        "events",
        "active",
    ] {
        if let Some(v) = map.get(key).filter(|v| !v.is_null()) {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            parts.push(format!("{}: {text}", key.replace('_', " ")));
        }
    }
    parts.join(" · ")
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(login): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let q = FormData::parse(query.unwrap_or_default().as_bytes());
    let result = async {
        let org = owned(&signed, &login)?;
        let action = q.text("action").unwrap_or_default();
        let actor = q.text("actor").unwrap_or_default();
        let after = q.text("after").unwrap_or_default();
        let before = q.text("before").unwrap_or_default();
        let page: u32 = q
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1);
        let mut error = None;
        let parse_day = |s: &str, error: &mut Option<String>| -> Option<Date> {
            if s.is_empty() {
                return None;
            }
            let d = day(s);
            if d.is_none() {
                *error = Some(format!("{s} is not a date (YYYY-MM-DD)."));
            }
            d
        };
        let after_day = parse_day(&after, &mut error);
        let before_day = parse_day(&before, &mut error);
        let start = |d: Date| -> OffsetDateTime { d.with_time(Time::MIDNIGHT).assume_utc() };
        let query = AuditQuery {
            org: Some(org.id),
            action: Some(action.clone()).filter(|a| !a.is_empty()),
            actor_login: Some(actor.clone()).filter(|a| !a.is_empty()),
            after: after_day.map(start),
            // The whole "before" day is included.
            before: before_day.map(|d| start(d) + time::Duration::days(1)),
            token_id: None,
            // One more than a page, to know whether another follows.
            limit: PER_PAGE + 1,
            offset: (page - 1) * PER_PAGE,
        };
        let mut events = if error.is_none() {
            state
                .app
                .org_audit_log(&signed.user, &org.login, query)
                .await?
        } else {
            Vec::new()
        };
        let has_next = events.len() > PER_PAGE as usize;
        events.truncate(PER_PAGE as usize);
        let rows = events
            .iter()
            .map(|e| EventRow {
                when: date_time(e.created_at),
                action: e.action.clone(),
                actor: e.actor_login.clone().unwrap_or_default(),
                details: details(&e.data),
            })
            .collect();
        let mut actions = vec![SelectOption {
            value: String::new(),
            label: "All actions".to_owned(),
            selected: action.is_empty(),
        }];
        actions.extend(ACTIONS.iter().map(|a| SelectOption {
            value: (*a).to_owned(),
            label: (*a).to_owned(),
            selected: *a == action,
        }));
        // The serializer is not `Send`: done with before the next await.
        let filters = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in [
                ("action", &action),
                ("actor", &actor),
                ("after", &after),
                ("before", &before),
            ] {
                if !v.is_empty() {
                    q.append_pair(k, v);
                }
            }
            q.finish()
        };
        let base = format!(
            "/organizations/{}/settings/audit-log{}{filters}",
            org.login,
            if filters.is_empty() { "" } else { "?" }
        );
        let effective = state.app.effective_policy(org.id).await?;
        let (chrome, org_chrome) = org_chrome(&signed, &org, OrgNav::Audit, &effective);
        Ok::<_, WebError>(page::ok(&AuditPage {
            chrome,
            org: org_chrome,
            rows,
            actions,
            actor,
            after,
            before,
            page,
            has_next,
            base,
            error,
        }))
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}
