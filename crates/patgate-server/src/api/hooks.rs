//! GitHub's organization webhooks API (`/orgs/{org}/hooks`), for the owners of an organization:
//! with their password (HTTP Basic), or a token of theirs with `admin:org_hook` (classic) or
//! the organization's Webhooks permission (fine-grained).

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use patgate_app::hooks::HookSettings;
use patgate_app::notify::Envelope;
use patgate_app::verify::VerifiedToken;
use patgate_domain::authz::Need;
use patgate_domain::catalog::{Level, Permission};
use patgate_domain::model::User;
use patgate_store::{OutboxMessage, OutboxStatus, PageQuery, Webhook};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, Path, Presented, authenticate_password, presented};
use super::json;
use super::pagination;
use crate::notify::webhook;
use crate::state::AppState;

/// Who calls: an owner with their password, or a token.
pub enum Caller {
    Password(User),
    Token(Arc<VerifiedToken>),
}

impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match presented(parts, state)? {
            Presented::Password { login, password } => {
                let client = crate::net::client::ClientIp::of(parts);
                Ok(Caller::Password(
                    authenticate_password(state, client, &login, &password).await?,
                ))
            }
            Presented::Token(t) => Ok(Caller::Token(state.app.verify(&t).await?)),
            Presented::None => Err(ApiError::requires_authentication()),
        }
    }
}

/// The owner acting, after checking a token's permission on the organization.
async fn owner(s: &AppState, caller: Caller, org: &str, level: Level) -> ApiResult<User> {
    match caller {
        Caller::Password(u) => Ok(u),
        Caller::Token(v) => {
            let o = s.app.org_named(org).await?;
            s.app
                .authorize_org(
                    &v.credential,
                    o.id,
                    Need::new(Permission::ORGANIZATION_HOOKS, level),
                )
                .await?;
            s.app
                .store()
                .user_by_id(v.credential.user)
                .await
                .map_err(|e| ApiError::from(patgate_app::AppError::from(e)))?
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::FORBIDDEN,
                        "Only an owner of the organization manages its webhooks.",
                    )
                })
        }
    }
}

/// GitHub's `org-hook`.
fn hook_json(s: &AppState, org: &str, h: &Webhook) -> Value {
    webhook::hook_json(&s.base_url, org, h)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    url: Option<String>,
    content_type: Option<String>,
    secret: Option<String>,
    insecure_ssl: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookBody {
    name: Option<String>,
    config: Option<HookConfig>,
    events: Option<Vec<String>>,
    active: Option<bool>,
    // GitHub's PATCH of a repository hook takes these; an organization hook ignores them.
    add_events: Option<Vec<String>>,
    remove_events: Option<Vec<String>>,
}

fn check_config(c: &HookConfig) -> ApiResult<()> {
    if let Some(t) = c.content_type.as_deref()
        && t != "json"
    {
        return Err(ApiError::invalid(
            "Hook",
            "content_type",
            "patgate delivers JSON only (content_type json)",
        ));
    }
    match &c.insecure_ssl {
        None => Ok(()),
        Some(Value::String(v)) if v == "0" => Ok(()),
        Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(()),
        Some(_) => Err(ApiError::invalid(
            "Hook",
            "insecure_ssl",
            "patgate always verifies TLS certificates (insecure_ssl 0)",
        )),
    }
}

fn settings(body: HookBody, creating: bool) -> ApiResult<HookSettings> {
    if let Some(name) = body.name.as_deref()
        && name != "web"
    {
        return Err(ApiError::invalid("Hook", "name", "name must be \"web\""));
    }
    if body.add_events.is_some() || body.remove_events.is_some() {
        return Err(ApiError::invalid(
            "Hook",
            "events",
            "organization webhooks take events, not add_events or remove_events",
        ));
    }
    let config = match body.config {
        Some(c) => {
            check_config(&c)?;
            Some(c)
        }
        None if creating => {
            return Err(ApiError::invalid(
                "Hook",
                "config",
                "config.url is required",
            ));
        }
        None => None,
    };
    Ok(HookSettings {
        url: config.as_ref().and_then(|c| c.url.clone()),
        secret: config.map(|c| c.secret),
        events: body.events,
        active: body.active,
    })
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    let u = owner(&s, caller, &org, Level::Read).await?;
    let (o, hooks) = s.app.hooks_of(&u, &org).await?;
    Ok(Json(
        hooks.iter().map(|h| hook_json(&s, &o.login, h)).collect(),
    ))
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<HookBody>,
) -> ApiResult<Response> {
    let u = owner(&s, caller, &org, Level::Write).await?;
    let hook = s.app.create_hook(&u, &org, settings(body, true)?).await?;
    let o = s.app.org_named(&org).await?;
    Ok((StatusCode::CREATED, Json(hook_json(&s, &o.login, &hook))).into_response())
}

fn hook_id(raw: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| ApiError::not_found())
}

pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let u = owner(&s, caller, &org, Level::Read).await?;
    let (o, h) = s.app.hook_of(&u, &org, hook_id(&id)?).await?;
    Ok(Json(hook_json(&s, &o.login, &h)))
}

pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<HookBody>,
) -> ApiResult<Json<Value>> {
    let u = owner(&s, caller, &org, Level::Write).await?;
    let h = s
        .app
        .update_hook(&u, &org, hook_id(&id)?, settings(body, false)?)
        .await?;
    let o = s.app.org_named(&org).await?;
    Ok(Json(hook_json(&s, &o.login, &h)))
}

pub async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let u = owner(&s, caller, &org, Level::Write).await?;
    s.app.delete_hook(&u, &org, hook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn config_json(h: &Webhook) -> Value {
    json!({
        "url": h.url,
        "content_type": "json",
        "insecure_ssl": "0",
        "secret": h.secret.as_ref().map(|_| "********"),
    })
}

pub async fn get_config(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let u = owner(&s, caller, &org, Level::Read).await?;
    let (_, h) = s.app.hook_of(&u, &org, hook_id(&id)?).await?;
    Ok(Json(config_json(&h)))
}

pub async fn update_config(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    ApiJson(config): ApiJson<HookConfig>,
) -> ApiResult<Json<Value>> {
    let u = owner(&s, caller, &org, Level::Write).await?;
    check_config(&config)?;
    let h = s
        .app
        .update_hook(
            &u,
            &org,
            hook_id(&id)?,
            HookSettings {
                url: config.url,
                secret: config.secret.map(Some),
                events: None,
                active: None,
            },
        )
        .await?;
    Ok(Json(config_json(&h)))
}

pub async fn ping(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let u = owner(&s, caller, &org, Level::Write).await?;
    let (o, h) = s.app.hook_of(&u, &org, hook_id(&id)?).await?;
    s.app.ping_hook(&u, &o, &h).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GitHub's `hook-delivery-item`.
fn delivery_json(m: &OutboxMessage) -> Value {
    let envelope = Envelope::from_payload(&m.payload).ok();
    let action = envelope.as_ref().and_then(|e| match &e.notice {
        patgate_app::notify::Notice::PersonalAccessTokenRequest(r) => Some(r.action.clone()),
        _ => None,
    });
    let status = match (m.status, m.response_code) {
        (OutboxStatus::Sent, _) => "OK".to_owned(),
        (OutboxStatus::Pending, _) if m.attempts == 0 => "pending".to_owned(),
        (_, Some(code)) => format!("failed: HTTP {code}"),
        (_, None) => format!(
            "failed: {}",
            m.last_error.as_deref().unwrap_or("not delivered")
        ),
    };
    json!({
        "id": m.id,
        "guid": webhook::delivery_guid(m),
        "delivered_at": json::ts(m.sent_at.unwrap_or(m.created_at)),
        "redelivery": false,
        "duration": 0,
        "status": status,
        "status_code": m.response_code.unwrap_or(0),
        "event": m.kind,
        "action": action,
        "installation_id": Value::Null,
        "repository_id": Value::Null,
        "throttled_at": Value::Null,
        // patgate's own fields: where the delivery stands.
        "state": m.status.as_str(),
        "attempts": m.attempts,
        "next_attempt_at": (m.status == OutboxStatus::Pending).then(|| json::ts(m.next_attempt_at)),
    })
}

pub async fn deliveries(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let u = owner(&s, caller, &org, Level::Read).await?;
    let pairs = pagination::pairs(&query)?;
    let (page, per_page) = pagination::page_params(&pairs, "HookDelivery", None)?;
    let hook = hook_id(&id)?;
    let listing = s
        .app
        .deliveries_of_hook(
            &u,
            &org,
            hook,
            PageQuery {
                page,
                per_page,
                ascending: false,
            },
        )
        .await?;
    let last = pagination::last_page(
        usize::try_from(listing.total).unwrap_or(usize::MAX),
        per_page,
    );
    let body: Vec<Value> = listing.items.iter().map(delivery_json).collect();
    Ok(pagination::paged(
        &s.base_url,
        &format!("/orgs/{org}/hooks/{hook}/deliveries"),
        &pairs,
        page,
        last,
        body,
    ))
}

pub async fn delivery(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id, delivery)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let u = owner(&s, caller, &org, Level::Read).await?;
    let delivery = delivery.parse().map_err(|_| ApiError::not_found())?;
    let hook_id = hook_id(&id)?;
    let (m, attempts) = s.app.delivery_of_hook(&u, &org, hook_id, delivery).await?;
    let (_, hook) = s.app.hook_of(&u, &org, hook_id).await?;
    let mut v = delivery_json(&m);
    let payload = Envelope::from_payload(&m.payload)
        .ok()
        .and_then(|e| webhook::body(&e, &hook, &s.base_url))
        .map(|(_, body)| body);
    v["request"] = json!({
        "headers": {
            "X-GitHub-Event": m.kind,
            "X-GitHub-Delivery": webhook::delivery_guid(&m),
            "X-GitHub-Hook-Id": hook.id.to_string(),
            "Content-Type": "application/json",
        },
        "payload": payload,
    });
    v["response"] = json!({"headers": {}, "payload": m.last_error});
    v["attempts_log"] = json!(
        attempts
            .iter()
            .map(|a| json!({
                "at": json::ts(a.attempted_at),
                "delivered": a.sent,
                "status_code": a.response_code,
                "error": a.error,
            }))
            .collect::<Vec<_>>()
    );
    Ok(Json(v))
}

pub async fn redeliver(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, id, delivery)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let u = owner(&s, caller, &org, Level::Write).await?;
    let delivery = delivery.parse().map_err(|_| ApiError::not_found())?;
    s.app.redeliver(&u, &org, hook_id(&id)?, delivery).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}
