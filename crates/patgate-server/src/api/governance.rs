//! What organization owners do with their password (HTTP Basic) where GitHub uses its web UI:
//! register apps and mint their installation tokens, set the token policy, read the audit log.
//! Plus GitHub's `POST /credentials/revoke` and the requester's cancel.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, RawQuery, State};

use super::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use patgate_domain::model::{AppId, TokenId};
use patgate_domain::policy::{Access, Approval, EffectivePolicy, PolicySettings, Source};
use patgate_domain::validate::RequestedPermission;
use patgate_store::{AppRecord, AuditQuery};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PasswordAuth};
use super::json;
use super::pagination;
use crate::state::AppState;

fn app_json(a: &AppRecord) -> Value {
    let perms: serde_json::Map<String, Value> = a
        .permissions
        .iter()
        .map(|(p, l)| (p.name().to_owned(), json!(l.as_str())))
        .collect();
    json!({"id": a.id.0, "name": a.name, "permissions": perms, "created_at": json::ts(a.created_at)})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAppBody {
    name: Option<String>,
    #[serde(default)]
    permissions: HashMap<String, String>,
}

pub async fn create_app(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<NewAppBody>,
) -> ApiResult<Response> {
    let perms: Vec<RequestedPermission> = body
        .permissions
        .into_iter()
        .map(|(name, level)| RequestedPermission {
            group: None,
            name,
            level,
        })
        .collect();
    let app = s
        .app
        .register_app(&user, &org, body.name.as_deref().unwrap_or(""), &perms)
        .await?;
    Ok((StatusCode::CREATED, Json(app_json(&app))).into_response())
}

pub async fn list_apps(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(
        s.app
            .apps_of(&user, &org)
            .await?
            .iter()
            .map(app_json)
            .collect(),
    ))
}

/// GitHub's installation access token shape: `{token, expires_at, permissions}`.
pub async fn create_app_token(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path((org, app)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = app.parse::<i64>().map_err(|_| ApiError::not_found())?;
    let (record, issued) = s.app.mint_app_token(&user, &org, AppId(id)).await?;
    let body = json!({
        "token": issued.secret.expose(),
        "expires_at": json::opt_ts(issued.token.expires_at),
        "permissions": app_json(&record)["permissions"],
        "repository_selection": "all",
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn source(s: Source) -> &'static str {
    match s {
        Source::Default => "default",
        Source::Organization => "organization",
        Source::Enterprise => "enterprise",
    }
}

fn policy_json(p: &EffectivePolicy) -> Value {
    json!({
        "fine_grained": {"value": p.fine_grained.0.as_str(), "set_by": source(p.fine_grained.1)},
        "classic": {"value": p.classic.0.as_str(), "set_by": source(p.classic.1)},
        "approval": {"value": p.approval.0.as_str(), "set_by": source(p.approval.1)},
        "fine_grained_max_lifetime_days": p.fine_grained_max_lifetime_days.map(|(d, s)| json!({"value": d, "set_by": source(s)})),
        "classic_max_lifetime_days": p.classic_max_lifetime_days.map(|(d, s)| json!({"value": d, "set_by": source(s)})),
        "exempt_administrators": p.exempt_administrators,
    })
}

pub async fn get_policy(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(org): Path<String>,
) -> ApiResult<Json<Value>> {
    let o = s.app.org_named(&org).await?;
    if s.app
        .store()
        .membership(o.id, user.id)
        .await
        .map_err(patgate_app::AppError::from)?
        .is_none()
    {
        return Err(ApiError::not_found());
    }
    Ok(Json(policy_json(&*s.app.effective_policy(o.id).await?)))
}

/// The organization's own settings; `null` or absent = not set (GitHub's default, or the
/// enterprise's when it forces one).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    fine_grained: Option<String>,
    classic: Option<String>,
    approval: Option<String>,
    fine_grained_max_lifetime_days: Option<u16>,
    classic_max_lifetime_days: Option<u16>,
}

pub async fn put_policy(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<PolicyBody>,
) -> ApiResult<Json<Value>> {
    let access = |field: &str, v: &Option<String>| -> ApiResult<Option<Access>> {
        v.as_deref()
            .map(|x| {
                Access::parse(x).ok_or_else(|| {
                    ApiError::invalid(
                        "PersonalAccessTokenPolicy",
                        field,
                        format!("{field} must be allow or restrict"),
                    )
                })
            })
            .transpose()
    };
    let settings = PolicySettings {
        fine_grained: access("fine_grained", &body.fine_grained)?,
        classic: access("classic", &body.classic)?,
        approval: body
            .approval
            .as_deref()
            .map(|x| {
                Approval::parse(x).ok_or_else(|| {
                    ApiError::invalid(
                        "PersonalAccessTokenPolicy",
                        "approval",
                        "approval must be require or disable",
                    )
                })
            })
            .transpose()?,
        fine_grained_max_lifetime_days: body.fine_grained_max_lifetime_days,
        classic_max_lifetime_days: body.classic_max_lifetime_days,
        exempt_administrators: false,
    };
    let effective = s.app.set_org_policy(&user, &org, &settings).await?;
    let mut body = policy_json(&effective);
    // What the organization asked for is saved, but a setting its enterprise forces stays in
    // force: say so rather than answer as if the change had taken effect.
    body["overridden_by_enterprise"] = patgate_domain::policy::overridden(&settings, &effective)
        .iter()
        .map(|o| {
            json!({
                "setting": o.setting,
                "requested": o.requested,
                "in_force": o.in_force,
                "enterprise": o.enterprise,
                "message": o.message(),
            })
        })
        .collect();
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct AuditParams {
    /// GitHub's search phrase: `action:X actor:Y created:>=2026-01-01`.
    phrase: Option<String>,
    after: Option<String>,
    before: Option<String>,
    per_page: Option<u32>,
    page: Option<u32>,
}

fn parse_date(v: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v, &Rfc3339).ok().or_else(|| {
        let f = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(v, &f)
            .ok()
            .map(|d| d.midnight().assume_utc())
    })
}

pub async fn audit_log(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(org): Path<String>,
    Query(p): Query<AuditParams>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let per_page = p.per_page.unwrap_or(30);
    if !(1..=100).contains(&per_page) {
        return Err(ApiError::invalid(
            "AuditLog",
            "per_page",
            "per_page must be between 1 and 100",
        ));
    }
    let mut q = AuditQuery {
        limit: per_page,
        offset: (p.page.unwrap_or(1).max(1) - 1) * per_page,
        ..AuditQuery::default()
    };
    for term in p.phrase.as_deref().unwrap_or("").split_whitespace() {
        match term.split_once(':') {
            Some(("action", v)) => q.action = Some(v.to_owned()),
            Some(("actor", v)) => q.actor_login = Some(v.to_owned()),
            Some(("created", v)) => {
                if let Some(d) = v.strip_prefix(">=") {
                    q.after = Some(parse_date(d).ok_or_else(|| {
                        ApiError::invalid("AuditLog", "phrase", format!("bad date {d}"))
                    })?);
                } else if let Some(d) = v.strip_prefix('<') {
                    q.before = Some(parse_date(d).ok_or_else(|| {
                        ApiError::invalid("AuditLog", "phrase", format!("bad date {d}"))
                    })?);
                } else {
                    return Err(ApiError::invalid(
                        "AuditLog",
                        "phrase",
                        "created takes >=DATE or <DATE",
                    ));
                }
            }
            _ => {
                return Err(ApiError::invalid(
                    "AuditLog",
                    "phrase",
                    format!("unknown search term {term:?}: use action:, actor:, created:"),
                ));
            }
        }
    }
    if let Some(a) = &p.after {
        q.after = Some(parse_date(a).ok_or_else(|| {
            ApiError::invalid("AuditLog", "after", "after must be a date or time")
        })?);
    }
    if let Some(b) = &p.before {
        q.before = Some(parse_date(b).ok_or_else(|| {
            ApiError::invalid("AuditLog", "before", "before must be a date or time")
        })?);
    }
    let page = p.page.unwrap_or(1).max(1);
    let (events, total) = s.app.org_audit_page(&user, &org, q).await?;
    let body = events
        .iter()
        .map(|e| {
            let mut v = json!({
                "@timestamp": e.created_at.unix_timestamp() * 1000,
                "_document_id": e.id.to_string(),
                "action": e.action,
                "actor": e.actor_login,
                "actor_id": e.actor.map(|a| a.0),
                "org": org,
                "token_id": e.token_id.map(|t| t.0),
                "created_at": e.created_at.unix_timestamp() * 1000,
            });
            if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), &e.data) {
                for (k, val) in extra {
                    obj.entry(k.clone()).or_insert(val.clone());
                }
            }
            v
        })
        .collect();
    Ok(pagination::paged(
        &s.base_url,
        &format!("/orgs/{org}/audit-log"),
        &pagination::pairs(&raw)?,
        page,
        pagination::last_page(total, per_page),
        body,
    ))
}

/// The requester withdraws the pending request of one of their fine-grained tokens.
pub async fn cancel_request(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = id.parse::<i64>().map_err(|_| ApiError::not_found())?;
    s.app.cancel_token_request(&user, TokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct RevokeBody {
    credentials: Option<Vec<String>>,
}

/// `POST /credentials/revoke`: unauthenticated only, 1 to 1000 credentials, always 202 (never an
/// oracle), 422 when throttled or malformed, as GitHub's `validation-error-simple`.
pub async fn revoke_credentials(
    State(s): State<AppState>,
    client: crate::net::client::ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RevokeBody>,
) -> ApiResult<Response> {
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "This endpoint does not accept authenticated requests.",
        ));
    }
    let simple = |msg: &str| {
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed, or the endpoint has been spammed.",
        );
        e.errors.push(json!(msg));
        e
    };
    if s.throttles
        .credential_revocation
        .try_use(&client.0, std::time::Instant::now())
        .is_err()
    {
        return Err(simple("Too many requests: at most 60 an hour"));
    }
    let credentials = body.credentials.unwrap_or_default();
    if credentials.is_empty() || credentials.len() > 1000 {
        return Err(simple("credentials must list between 1 and 1000 tokens"));
    }
    s.app.revoke_credentials(&credentials).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}
