//! GitHub's organization API for fine-grained personal access tokens (reference §5.3): the same
//! paths, query parameters, bodies, status codes, `Link` pagination and JSON. Only app
//! installation credentials with the matching permission may call it; a personal access token
//! gets 403.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::extract::Path;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use patgate_app::governance::{Actor, GrantView, OrgTokenQuery, Page, RequestView};
use patgate_domain::authz::Need;
use patgate_domain::catalog::{Level, Permission};
use patgate_domain::model::{GrantId, Organization, Repository, RequestId, TokenGrant, TokenId};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, TokenAuth};
use super::json;
use super::pagination::{self, pairs};
use crate::state::AppState;

const DOCS: &str = "https://docs.github.com/rest/orgs/personal-access-tokens";

/// The credential must be an app installation of this organization with `permission` at `level`.
async fn app_actor(
    s: &AppState,
    token: &TokenAuth,
    org: &Organization,
    permission: Permission,
    level: Level,
) -> ApiResult<Actor> {
    let cred = &token.0.credential;
    if !matches!(cred.grant, TokenGrant::AppInstallation { .. }) {
        let mut e = ApiError::new(
            StatusCode::FORBIDDEN,
            "Resource not accessible by personal access token",
        );
        e.documentation_url = Some(DOCS);
        return Err(e);
    }
    s.app
        .authorize_org(cred, org.id, Need::new(permission, level))
        .await?;
    Ok(Actor {
        id: Some(org.id),
        login: format!("{}[bot]", token.0.name),
    })
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    let mut e = ApiError::invalid("PersonalAccessToken", field, message);
    e.documentation_url = Some(DOCS);
    e
}

fn parse_time(field: &str, v: &str) -> ApiResult<OffsetDateTime> {
    OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
        invalid(
            field,
            format!("{field} must be an ISO 8601 time, YYYY-MM-DDTHH:MM:SSZ"),
        )
    })
}

fn page_params(pairs: &[(String, String)]) -> ApiResult<(u32, u32)> {
    pagination::page_params(pairs, "PersonalAccessToken", Some(DOCS))
}

/// The listing filters: `owner[]`, `repository`, `permission` (`<name>_<level>`),
/// `last_used_before/after`, `token_id[]`, `sort`, `direction`, `page`, `per_page`.
fn query(pairs: &[(String, String)]) -> ApiResult<OrgTokenQuery> {
    let (page, per_page) = page_params(pairs)?;
    let mut q = OrgTokenQuery {
        page,
        per_page,
        ..OrgTokenQuery::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "owner[]" | "owner" => q
                .owners
                .extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_owned)),
            "repository" => q.repository = Some(v.clone()),
            "permission" => {
                let parsed = v.rsplit_once('_').and_then(|(name, level)| {
                    let p = Permission::from_name(name)?;
                    let l = Level::parse(level)?;
                    p.allows(l).then_some((p, l))
                });
                q.permission = Some(parsed.ok_or_else(|| {
                    invalid(
                        "permission",
                        format!("{v} is not <permission>_<level>, e.g. issues_read"),
                    )
                })?);
            }
            "last_used_before" => q.last_used_before = Some(parse_time(k, v)?),
            "last_used_after" => q.last_used_after = Some(parse_time(k, v)?),
            "token_id[]" | "token_id" => {
                for id in v.split(',').filter(|s| !s.is_empty()) {
                    q.token_ids
                        .push(TokenId(id.parse::<i64>().map_err(|_| {
                            invalid("token_id", format!("{id} is not a token id"))
                        })?));
                }
            }
            "sort" if v != "created_at" => return Err(invalid("sort", "sort must be created_at")),
            "direction" => match v.as_str() {
                "asc" => q.ascending = true,
                "desc" => q.ascending = false,
                _ => return Err(invalid("direction", "direction must be asc or desc")),
            },
            _ => {}
        }
    }
    if q.owners.len() > 10 {
        return Err(invalid("owner", "owner may list at most 10 logins"));
    }
    if q.token_ids.len() > 50 {
        return Err(invalid("token_id", "token_id may list at most 50 ids"));
    }
    Ok(q)
}

fn paged<T>(
    s: &AppState,
    path: &str,
    pairs: &[(String, String)],
    page: &Page<T>,
    body: Vec<Value>,
) -> Response {
    pagination::paged(&s.base_url, path, pairs, page.page, page.last_page(), body)
}

fn token_fields(v: &mut Value, t: &patgate_domain::model::Token, now: OffsetDateTime) {
    v["token_id"] = json!(t.id.0);
    v["token_name"] = json!(t.name);
    v["token_expired"] = json!(t.is_expired(now));
    v["token_expires_at"] = json::opt_ts(t.expires_at);
    v["token_last_used_at"] = json::opt_ts(t.last_used_at);
}

fn request_json(s: &AppState, org: &Organization, r: &RequestView) -> Value {
    let mut v = json!({
        "id": r.request.id.0,
        "reason": r.request.reason,
        "owner": json::simple_user(&s.base_url, &r.owner),
        "repository_selection": r.request.access.selection.as_str(),
        "repositories_url": format!("{}/organizations/{}/personal-access-token-requests/{}/repositories", s.base_url, org.id.0, r.request.id.0),
        "permissions": json::permissions(&r.request.access),
        "created_at": json::ts(r.request.created_at),
    });
    token_fields(&mut v, &r.token, s.app.now());
    v
}

fn grant_json(s: &AppState, org: &Organization, g: &GrantView) -> Value {
    let mut v = json!({
        "id": g.grant.id.0,
        "owner": json::simple_user(&s.base_url, &g.owner),
        "repository_selection": g.access.selection.as_str(),
        "repositories_url": format!("{}/organizations/{}/personal-access-tokens/{}/repositories", s.base_url, org.id.0, g.grant.id.0),
        "permissions": json::permissions(&g.access),
        "access_granted_at": json::ts(g.grant.access_granted_at),
    });
    token_fields(&mut v, &g.token, s.app.now());
    v
}

async fn org(s: &AppState, login: &str) -> ApiResult<Organization> {
    s.app.org_named(login).await.map_err(|_| {
        let mut e = ApiError::not_found();
        e.documentation_url = Some(DOCS);
        e
    })
}

async fn org_by_id(s: &AppState, id: &str) -> ApiResult<Organization> {
    let id = id.parse::<i64>().map_err(|_| ApiError::not_found())?;
    s.app
        .store()
        .org_by_id(patgate_domain::model::AccountId(id))
        .await
        .map_err(patgate_app::AppError::from)?
        .ok_or_else(ApiError::not_found)
}

pub async fn list_requests(
    State(s): State<AppState>,
    token: TokenAuth,
    Path(login): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let org = org(&s, &login).await?;
    app_actor(
        &s,
        &token,
        &org,
        Permission::ORGANIZATION_PERSONAL_ACCESS_TOKEN_REQUESTS,
        Level::Read,
    )
    .await?;
    let pairs = pairs(&raw)?;
    let page = s.app.list_org_requests(&org, &query(&pairs)?).await?;
    let body = page
        .items
        .iter()
        .map(|r| request_json(&s, &org, r))
        .collect();
    Ok(paged(
        &s,
        &format!("/orgs/{}/personal-access-token-requests", org.login),
        &pairs,
        &page,
        body,
    ))
}

#[derive(Deserialize)]
pub struct ReviewBody {
    pat_request_ids: Option<Vec<i64>>,
    action: Option<String>,
    reason: Option<String>,
}

fn action(a: &Option<String>) -> ApiResult<bool> {
    match a.as_deref() {
        Some("approve") => Ok(true),
        Some("deny") => Ok(false),
        Some(other) => Err(invalid(
            "action",
            format!("action must be approve or deny, not {other}"),
        )),
        None => Err(invalid("action", "action is required")),
    }
}

pub async fn review_in_bulk(
    State(s): State<AppState>,
    token: TokenAuth,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> ApiResult<Response> {
    let org = org(&s, &login).await?;
    let actor = app_actor(
        &s,
        &token,
        &org,
        Permission::ORGANIZATION_PERSONAL_ACCESS_TOKEN_REQUESTS,
        Level::Write,
    )
    .await?;
    let approve = action(&body.action)?;
    let ids: Vec<RequestId> = body
        .pat_request_ids
        .unwrap_or_default()
        .into_iter()
        .map(RequestId)
        .collect();
    s.app
        .review_requests(&org, &actor, &ids, approve, body.reason.as_deref())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}

pub async fn review_one(
    State(s): State<AppState>,
    token: TokenAuth,
    Path((login, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> ApiResult<StatusCode> {
    let org = org(&s, &login).await?;
    let actor = app_actor(
        &s,
        &token,
        &org,
        Permission::ORGANIZATION_PERSONAL_ACCESS_TOKEN_REQUESTS,
        Level::Write,
    )
    .await?;
    let approve = action(&body.action)?;
    let id = id.parse::<i64>().map_err(|_| ApiError::not_found())?;
    // One request that is not pending (or not this organization's) is a 404 here.
    match s
        .app
        .store()
        .request_by_id(RequestId(id))
        .await
        .map_err(patgate_app::AppError::from)?
    {
        Some(r) if r.org == org.id && r.status == patgate_store::RequestStatus::Pending => {}
        _ => return Err(ApiError::not_found()),
    }
    s.app
        .review_requests(
            &org,
            &actor,
            &[RequestId(id)],
            approve,
            body.reason.as_deref(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn repos_json(s: &AppState, page: &Page<Repository>) -> Vec<Value> {
    page.items
        .iter()
        .map(|r| json::repository_value(&s.base_url, r))
        .collect()
}

async fn request_repositories_of(
    s: &AppState,
    token: &TokenAuth,
    org: Organization,
    id: &str,
    raw: &Option<String>,
) -> ApiResult<Response> {
    app_actor(
        s,
        token,
        &org,
        Permission::ORGANIZATION_PERSONAL_ACCESS_TOKEN_REQUESTS,
        Level::Read,
    )
    .await?;
    let id = id.parse::<i64>().map_err(|_| ApiError::not_found())?;
    let pairs = pairs(raw)?;
    let (page, per_page) = page_params(&pairs)?;
    let repos = s
        .app
        .request_repositories(&org, RequestId(id), page, per_page)
        .await?;
    let path = format!(
        "/orgs/{}/personal-access-token-requests/{id}/repositories",
        org.login
    );
    Ok(paged(s, &path, &pairs, &repos, repos_json(s, &repos)))
}

pub async fn request_repositories(
    State(s): State<AppState>,
    token: TokenAuth,
    Path((login, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let org = org(&s, &login).await?;
    request_repositories_of(&s, &token, org, &id, &raw).await
}

/// `repositories_url` as GitHub builds it: by the organization's numeric id.
pub async fn request_repositories_by_org_id(
    State(s): State<AppState>,
    token: TokenAuth,
    Path((org_id, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let org = org_by_id(&s, &org_id).await?;
    request_repositories_of(&s, &token, org, &id, &raw).await
}

pub async fn list_grants(
    State(s): State<AppState>,
    token: TokenAuth,
    Path(login): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let org = org(&s, &login).await?;
    app_actor(
        &s,
        &token,
        &org,
        Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS,
        Level::Read,
    )
    .await?;
    let pairs = pairs(&raw)?;
    let page = s.app.list_org_grants(&org, &query(&pairs)?).await?;
    let body = page.items.iter().map(|g| grant_json(&s, &org, g)).collect();
    Ok(paged(
        &s,
        &format!("/orgs/{}/personal-access-tokens", org.login),
        &pairs,
        &page,
        body,
    ))
}

#[derive(Deserialize)]
pub struct RevokeBody {
    action: Option<String>,
    pat_ids: Option<Vec<i64>>,
}

fn revoke_action(a: &Option<String>) -> ApiResult<()> {
    match a.as_deref() {
        Some("revoke") => Ok(()),
        Some(other) => Err(invalid(
            "action",
            format!("action must be revoke, not {other}"),
        )),
        None => Err(invalid("action", "action is required")),
    }
}

pub async fn revoke_in_bulk(
    State(s): State<AppState>,
    token: TokenAuth,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<RevokeBody>,
) -> ApiResult<Response> {
    let org = org(&s, &login).await?;
    let actor = app_actor(
        &s,
        &token,
        &org,
        Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS,
        Level::Write,
    )
    .await?;
    revoke_action(&body.action)?;
    let ids: Vec<GrantId> = body
        .pat_ids
        .unwrap_or_default()
        .into_iter()
        .map(GrantId)
        .collect();
    s.app.revoke_org_grants(&org, &actor, &ids).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}

pub async fn revoke_one(
    State(s): State<AppState>,
    token: TokenAuth,
    Path((login, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<RevokeBody>,
) -> ApiResult<StatusCode> {
    let org = org(&s, &login).await?;
    let actor = app_actor(
        &s,
        &token,
        &org,
        Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS,
        Level::Write,
    )
    .await?;
    revoke_action(&body.action)?;
    let id = id.parse::<i64>().map_err(|_| ApiError::not_found())?;
    match s
        .app
        .store()
        .grant_by_id(GrantId(id))
        .await
        .map_err(patgate_app::AppError::from)?
    {
        Some(g) if g.org == org.id => {}
        _ => return Err(ApiError::not_found()),
    }
    s.app
        .revoke_org_grants(&org, &actor, &[GrantId(id)])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn grant_repositories_of(
    s: &AppState,
    token: &TokenAuth,
    org: Organization,
    id: &str,
    raw: &Option<String>,
) -> ApiResult<Response> {
    app_actor(
        s,
        token,
        &org,
        Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS,
        Level::Read,
    )
    .await?;
    let id = id.parse::<i64>().map_err(|_| ApiError::not_found())?;
    let pairs = pairs(raw)?;
    let (page, per_page) = page_params(&pairs)?;
    let repos = s
        .app
        .grant_repositories(&org, GrantId(id), page, per_page)
        .await?;
    let path = format!(
        "/orgs/{}/personal-access-tokens/{id}/repositories",
        org.login
    );
    Ok(paged(s, &path, &pairs, &repos, repos_json(s, &repos)))
}

pub async fn grant_repositories(
    State(s): State<AppState>,
    token: TokenAuth,
    Path((login, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let org = org(&s, &login).await?;
    grant_repositories_of(&s, &token, org, &id, &raw).await
}

pub async fn grant_repositories_by_org_id(
    State(s): State<AppState>,
    token: TokenAuth,
    Path((org_id, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let org = org_by_id(&s, &org_id).await?;
    grant_repositories_of(&s, &token, org, &id, &raw).await
}
