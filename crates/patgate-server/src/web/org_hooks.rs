//! An organization's webhooks for its owners: the list with the last delivery of each, adding
//! one (it is pinged at once), a webhook's page with its settings and recent deliveries
//! (status, response code, redeliver), and deleting it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use patgate_app::AppError;
use patgate_app::hooks::HookSettings;
use patgate_app::notify::{Envelope, Notice};
use patgate_domain::model::Organization;
use patgate_store::{OutboxMessage, OutboxStatus, PageQuery, Webhook};

use super::flash;
use super::form::FormData;
use super::org::{OrgChrome, org_chrome, owned};
use super::page::{self, Chrome, Nav, OrgNav, WebError, WebResult, ago, date_time};
use super::session::SignedIn;
use crate::state::AppState;

const RECENT: u32 = 20;

pub struct HookRow {
    pub id: i64,
    pub url: String,
    pub active: bool,
    pub signed: bool,
    pub last: Option<DeliveryRow>,
}

pub struct DeliveryRow {
    pub id: i64,
    pub event: String,
    pub when: String,
    pub ok: bool,
    pub pending: bool,
    pub status: String,
    pub attempts: u32,
}

fn delivery_row(m: &OutboxMessage, now: time::OffsetDateTime) -> DeliveryRow {
    let action = Envelope::from_payload(&m.payload)
        .ok()
        .and_then(|e| match e.notice {
            Notice::PersonalAccessTokenRequest(r) => Some(r.action),
            _ => None,
        });
    let status = match (m.status, m.response_code, &m.last_error) {
        (OutboxStatus::Sent, Some(code), _) => format!("Delivered · HTTP {code}"),
        (OutboxStatus::Sent, None, _) => "Delivered".to_owned(),
        (OutboxStatus::Pending, _, None) => "Waiting to be sent".to_owned(),
        (OutboxStatus::Pending, code, Some(e)) => format!(
            "Failed{}: {e} · next try {}",
            code.map_or(String::new(), |c| format!(" (HTTP {c})")),
            date_time(m.next_attempt_at)
        ),
        (OutboxStatus::Failed, code, e) => format!(
            "Gave up{}: {}",
            code.map_or(String::new(), |c| format!(" (HTTP {c})")),
            e.as_deref().unwrap_or("not delivered")
        ),
    };
    DeliveryRow {
        id: m.id,
        event: match action {
            Some(a) => format!("{}.{a}", m.kind),
            None => m.kind.clone(),
        },
        when: ago(m.sent_at.unwrap_or(m.created_at), now),
        ok: m.status == OutboxStatus::Sent,
        pending: m.status == OutboxStatus::Pending && m.last_error.is_none(),
        status,
        attempts: m.attempts,
    }
}

#[derive(Template)]
#[template(path = "org/hooks.html")]
struct HooksPage {
    chrome: Chrome,
    org: OrgChrome,
    hooks: Vec<HookRow>,
    url: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "org/hook.html")]
struct HookPage {
    chrome: Chrome,
    org: OrgChrome,
    hook: HookRow,
    deliveries: Vec<DeliveryRow>,
    total: u64,
    error: Option<String>,
}

fn row(h: &Webhook, last: Option<DeliveryRow>) -> HookRow {
    HookRow {
        id: h.id,
        url: h.url.clone(),
        active: h.active,
        signed: h.secret.is_some(),
        last,
    }
}

fn list_path(org: &Organization) -> String {
    format!("/organizations/{}/settings/hooks", org.login)
}

fn hook_path(org: &Organization, id: i64) -> String {
    format!("{}/{id}", list_path(org))
}

/// The message of a refused change, as a sentence.
fn refusal(e: AppError) -> WebResult<String> {
    match e {
        AppError::Validation(v) => Ok(v
            .0
            .iter()
            .map(|f| super::token_form::sentence(&f.message))
            .collect::<Vec<_>>()
            .join(" ")),
        other => Err(other.into()),
    }
}

async fn hooks_page(
    state: &AppState,
    signed: &SignedIn,
    org: &Organization,
    url: String,
    error: Option<String>,
    headers: Option<&HeaderMap>,
) -> WebResult<Response> {
    let (_, hooks) = state.app.hooks_of(&signed.user, &org.login).await?;
    let now = state.app.now();
    let mut rows = Vec::with_capacity(hooks.len());
    for h in &hooks {
        let last = state
            .app
            .hook_deliveries(
                h.id,
                PageQuery {
                    page: 1,
                    per_page: 1,
                    ascending: false,
                },
            )
            .await?
            .items
            .first()
            .map(|m| delivery_row(m, now));
        rows.push(row(h, last));
    }
    let effective = state.app.effective_policy(org.id).await?;
    let (chrome, org_chrome) = org_chrome(signed, org, OrgNav::Hooks, &effective);
    let (notice, clear) = match headers {
        Some(h) => {
            let (n, c) = flash::take(state, h);
            (n, Some(c))
        }
        None => (None, None),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = page::render(
        status,
        &HooksPage {
            chrome: chrome.with_notice(notice),
            org: org_chrome,
            hooks: rows,
            url,
            error,
        },
    );
    Ok(match clear {
        Some(c) => (c, page).into_response(),
        None => page,
    })
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(login): Path<String>,
    headers: HeaderMap,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let result = async {
        let org = owned(&signed, &login)?;
        hooks_page(&state, &signed, &org, String::new(), None, Some(&headers)).await
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}

pub async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(login): Path<String>,
    form: FormData,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let result = async {
        let org = owned(&signed, &login)?;
        let url = form.text("url").unwrap_or_default();
        let settings = HookSettings {
            url: Some(url.clone()),
            secret: form.text("secret").map(Some),
            events: None,
            active: Some(form.get("active").is_some()),
        };
        match state
            .app
            .create_hook(&signed.user, &org.login, settings)
            .await
        {
            Ok(h) => Ok((
                flash::set(
                    &state,
                    &format!(
                        "Webhook added. {}",
                        if h.active {
                            "A ping is on its way to it."
                        } else {
                            "It is inactive: nothing is sent to it until you activate it."
                        }
                    ),
                ),
                page::see_other(&hook_path(&org, h.id)),
            )
                .into_response()),
            Err(e) => {
                let message = refusal(e)?;
                hooks_page(
                    &state,
                    &signed,
                    &org,
                    url,
                    Some(format!("The webhook was not added. {message}")),
                    None,
                )
                .await
            }
        }
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}

async fn hook_page(
    state: &AppState,
    signed: &SignedIn,
    org: &Organization,
    id: i64,
    error: Option<String>,
    headers: Option<&HeaderMap>,
) -> WebResult<Response> {
    let (_, hook) = state.app.hook_of(&signed.user, &org.login, id).await?;
    let listing = state
        .app
        .hook_deliveries(
            id,
            PageQuery {
                page: 1,
                per_page: RECENT,
                ascending: false,
            },
        )
        .await?;
    let now = state.app.now();
    let deliveries = listing.items.iter().map(|m| delivery_row(m, now)).collect();
    let effective = state.app.effective_policy(org.id).await?;
    let (chrome, org_chrome) = org_chrome(signed, org, OrgNav::Hooks, &effective);
    let (notice, clear) = match headers {
        Some(h) => {
            let (n, c) = flash::take(state, h);
            (n, Some(c))
        }
        None => (None, None),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = page::render(
        status,
        &HookPage {
            chrome: chrome.with_notice(notice),
            org: org_chrome,
            hook: row(&hook, None),
            deliveries,
            total: listing.total,
            error,
        },
    );
    Ok(match clear {
        Some(c) => (c, page).into_response(),
        None => page,
    })
}

fn id_of(raw: &str) -> WebResult<i64> {
    raw.parse().map_err(|_| WebError::NotFound)
}

pub async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((login, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let result = async {
        let org = owned(&signed, &login)?;
        hook_page(&state, &signed, &org, id_of(&id)?, None, Some(&headers)).await
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}

pub async fn update(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((login, id)): Path<(String, String)>,
    form: FormData,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let result = async {
        let org = owned(&signed, &login)?;
        let id = id_of(&id)?;
        let secret = if form.get("remove_secret").is_some() {
            Some(None)
        } else {
            form.text("secret").map(Some)
        };
        let settings = HookSettings {
            url: form.text("url").or_else(|| Some(String::new())),
            secret,
            events: None,
            active: Some(form.get("active").is_some()),
        };
        match state
            .app
            .update_hook(&signed.user, &org.login, id, settings)
            .await
        {
            Ok(_) => Ok((
                flash::set(&state, "Webhook saved."),
                page::see_other(&hook_path(&org, id)),
            )
                .into_response()),
            Err(e) => {
                let message = refusal(e)?;
                hook_page(
                    &state,
                    &signed,
                    &org,
                    id,
                    Some(format!("Nothing was changed. {message}")),
                    None,
                )
                .await
            }
        }
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}

pub async fn delete(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((login, id)): Path<(String, String)>,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let result = async {
        let org = owned(&signed, &login)?;
        state
            .app
            .delete_hook(&signed.user, &org.login, id_of(&id)?)
            .await?;
        Ok::<_, WebError>(
            (
                flash::set(&state, "Webhook deleted. Nothing more is sent to it."),
                page::see_other(&list_path(&org)),
            )
                .into_response(),
        )
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}

pub async fn ping(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((login, id)): Path<(String, String)>,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let result = async {
        let org = owned(&signed, &login)?;
        let (o, hook) = state
            .app
            .hook_of(&signed.user, &org.login, id_of(&id)?)
            .await?;
        state.app.ping_hook(&signed.user, &o, &hook).await?;
        Ok::<_, WebError>(
            (
                flash::set(&state, "A ping is on its way. Reload to see how it went."),
                page::see_other(&hook_path(&org, hook.id)),
            )
                .into_response(),
        )
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}

pub async fn redeliver(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((login, id, delivery)): Path<(String, String, String)>,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let result = async {
        let org = owned(&signed, &login)?;
        let id = id_of(&id)?;
        state
            .app
            .redeliver(&signed.user, &org.login, id, id_of(&delivery)?)
            .await?;
        Ok::<_, WebError>(
            (
                flash::set(
                    &state,
                    "The delivery is sent again now. Reload to see how it went.",
                ),
                page::see_other(&hook_path(&org, id)),
            )
                .into_response(),
        )
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}
