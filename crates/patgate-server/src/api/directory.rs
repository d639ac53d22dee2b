//! The directory API (issue 13, `docs/platform.md`): the platform's operator changes users,
//! organizations, memberships, repositories, collaborators and enterprises with a service
//! credential holding the `directory` scope, on GitHub's paths and bodies where GitHub
//! (GitHub Enterprise Server's admin API included) has them, and reconciles the whole
//! directory at once (`PUT /admin/directory`).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, patch, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use patgate_app::directory::{
    CreateUser, DirectoryError, RepoPatch, SyncReport, org_role_name,
    parse_collaborator_permission, parse_org_role,
};
use patgate_app::seed::SeedFile;
use patgate_domain::catalog::OrgRole;
use patgate_domain::model::Visibility;
use patgate_store::{Account, OpOutcome};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, DirectoryService, Path};
use super::json;
use crate::state::AppState;

/// The directory's routes (the paths they share with token routes are added by `api::router`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", post(create_user))
        .route(
            "/admin/users/{username}",
            patch(rename_user).delete(delete_user),
        )
        .route(
            "/users/{username}/suspended",
            put(suspend_user).delete(unsuspend_user),
        )
        .route("/users/{username}/repos", post(create_user_repo))
        .route("/admin/organizations", post(create_org))
        .route("/admin/organizations/{org}", patch(rename_org))
        .route(
            "/orgs/{org}/memberships/{username}",
            put(set_membership)
                .get(get_membership)
                .delete(remove_membership),
        )
        .route("/orgs/{org}/members/{username}", delete(remove_member))
        .route("/orgs/{org}/repos", post(create_org_repo))
        .route("/repos/{owner}/{repo}/transfer", post(transfer_repo))
        .route(
            "/repos/{owner}/{repo}/collaborators/{username}",
            put(set_collaborator).delete(remove_collaborator),
        )
        .route("/admin/enterprises", post(create_enterprise))
        .route(
            "/enterprises/{enterprise}/organizations/{org}",
            put(add_enterprise_org).delete(remove_enterprise_org),
        )
        .route(
            "/enterprises/{enterprise}/owners/{username}",
            put(add_enterprise_owner).delete(remove_enterprise_owner),
        )
        .route("/admin/directory", put(sync))
}

/// GitHub's 422 for every problem at once, or the application's error.
pub fn directory_error(e: DirectoryError) -> ApiError {
    match e {
        DirectoryError::Invalid(problems) => {
            let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
            err.errors = problems
                .iter()
                .map(|p| {
                    json!({
                        "resource": p.resource,
                        "field": p.field,
                        "code": p.code.as_str(),
                        "message": p.message,
                    })
                })
                .collect();
            err
        }
        DirectoryError::App(e) => e.into(),
    }
}

type DirectoryResult<T> = Result<T, ApiError>;

fn unprocessable(resource: &str, field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(resource, field, message)
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUserBody {
    login: String,
    email: String,
    /// GitHub Enterprise Server's: create the user suspended.
    #[serde(default)]
    suspended: bool,
    /// patgate's: the password for the token-management API and the web UI.
    password: Option<String>,
    #[serde(default)]
    site_admin: bool,
    #[serde(default = "yes")]
    email_verified: bool,
}

async fn create_user(
    State(s): State<AppState>,
    service: DirectoryService,
    ApiJson(body): ApiJson<CreateUserBody>,
) -> DirectoryResult<Response> {
    let user = s
        .app
        .admin_create_user(
            &service.operator(),
            &CreateUser {
                login: body.login,
                email: body.email,
                email_verified: body.email_verified,
                site_admin: body.site_admin,
                password: body.password,
                suspended: body.suspended,
            },
        )
        .await
        .map_err(directory_error)?;
    let mut v = json::simple_user(&s.base_url, &user);
    v["email"] = Value::String(user.email.clone());
    v["suspended_at"] = json::opt_ts(
        s.app
            .store()
            .user_suspended_at(user.id)
            .await
            .ok()
            .flatten(),
    );
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameBody {
    login: String,
}

/// GitHub Enterprise Server answers a rename 202 (a queued job); patgate's is done when it
/// answers, so the message says so.
fn renamed(base: &str, account: &Account) -> Response {
    let path = match account {
        Account::User(_) => "users",
        Account::Organization(_) => "orgs",
    };
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({
            "message": format!("Renamed to {}.", account.login()),
            "url": format!("{base}/{path}/{}", account.login()),
        })),
    )
        .into_response()
}

async fn rename_user(
    State(s): State<AppState>,
    service: DirectoryService,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<RenameBody>,
) -> DirectoryResult<Response> {
    if !matches!(
        s.app
            .store()
            .account_by_login(&login)
            .await
            .map_err(patgate_app::AppError::from)?,
        Some(Account::User(_))
    ) {
        return Err(ApiError::not_found());
    }
    let account = s
        .app
        .admin_rename(&service.operator(), &login, &body.login)
        .await
        .map_err(directory_error)?;
    Ok(renamed(&s.base_url, &account))
}

async fn delete_user(
    State(s): State<AppState>,
    service: DirectoryService,
    Path(login): Path<String>,
) -> DirectoryResult<StatusCode> {
    s.app
        .admin_delete_user(&service.operator(), &login)
        .await
        .map_err(directory_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SuspendBody {
    reason: Option<String>,
}

async fn suspend_user(
    State(s): State<AppState>,
    service: DirectoryService,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<SuspendBody>,
) -> DirectoryResult<StatusCode> {
    s.app
        .admin_set_suspended(&service.operator(), &login, true, body.reason.as_deref())
        .await
        .map_err(directory_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unsuspend_user(
    State(s): State<AppState>,
    service: DirectoryService,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<SuspendBody>,
) -> DirectoryResult<StatusCode> {
    s.app
        .admin_set_suspended(&service.operator(), &login, false, body.reason.as_deref())
        .await
        .map_err(directory_error)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Organizations and memberships
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrgBody {
    login: String,
    /// The login of the user who becomes its first owner.
    admin: String,
    /// GitHub Enterprise Server's display name; patgate keeps none.
    #[allow(dead_code)]
    profile_name: Option<String>,
}

async fn create_org(
    State(s): State<AppState>,
    service: DirectoryService,
    ApiJson(body): ApiJson<CreateOrgBody>,
) -> DirectoryResult<Response> {
    let org = s
        .app
        .admin_create_org(&service.operator(), &body.login, &body.admin)
        .await
        .map_err(directory_error)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json::account(&s.base_url, &Account::Organization(org))),
    )
        .into_response())
}

async fn rename_org(
    State(s): State<AppState>,
    service: DirectoryService,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<RenameBody>,
) -> DirectoryResult<Response> {
    s.app.org_named(&login).await?;
    let account = s
        .app
        .admin_rename(&service.operator(), &login, &body.login)
        .await
        .map_err(directory_error)?;
    Ok(renamed(&s.base_url, &account))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MembershipBody {
    /// `admin` (an owner) or `member` (the default).
    role: Option<String>,
}

/// GitHub's `org-membership`.
fn membership(
    base: &str,
    org: &patgate_domain::model::Organization,
    user: &patgate_domain::model::User,
    role: OrgRole,
) -> Value {
    json!({
        "url": format!("{base}/orgs/{}/memberships/{}", org.login, user.login),
        "state": "active",
        "role": org_role_name(role),
        "organization_url": format!("{base}/orgs/{}", org.login),
        "organization": json::account(base, &Account::Organization(org.clone())),
        "user": json::simple_user(base, user),
    })
}

async fn set_membership(
    State(s): State<AppState>,
    service: DirectoryService,
    Path((org, login)): Path<(String, String)>,
    ApiJson(body): ApiJson<MembershipBody>,
) -> DirectoryResult<Response> {
    let role = match body.role.as_deref() {
        None => OrgRole::Member,
        Some(r) => parse_org_role(r).ok_or_else(|| {
            unprocessable(
                "Membership",
                "role",
                format!("{r:?} is not admin or member"),
            )
        })?,
    };
    let (org, user, role) = s
        .app
        .admin_set_membership(&service.operator(), &org, &login, role)
        .await
        .map_err(directory_error)?;
    Ok(axum::Json(membership(&s.base_url, &org, &user, role)).into_response())
}

async fn get_membership(
    State(s): State<AppState>,
    _service: DirectoryService,
    Path((org, login)): Path<(String, String)>,
) -> DirectoryResult<Response> {
    let org = s.app.org_named(&org).await?;
    let store = s.app.store();
    let user = store
        .user_by_login(&login)
        .await
        .map_err(patgate_app::AppError::from)?
        .ok_or_else(ApiError::not_found)?;
    let role = store
        .membership(org.id, user.id)
        .await
        .map_err(patgate_app::AppError::from)?
        .ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(membership(&s.base_url, &org, &user, role)).into_response())
}

async fn remove_membership(
    State(s): State<AppState>,
    service: DirectoryService,
    Path((org, login)): Path<(String, String)>,
) -> DirectoryResult<StatusCode> {
    s.app
        .admin_remove_member(&service.operator(), &org, &login)
        .await
        .map_err(directory_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    state: State<AppState>,
    service: DirectoryService,
    path: Path<(String, String)>,
) -> DirectoryResult<StatusCode> {
    remove_membership(state, service, path).await
}

// ---------------------------------------------------------------------------------------------
// Repositories and collaborators
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRepoBody {
    name: String,
    description: Option<String>,
    /// GitHub's: `true` is `private`; `visibility` wins when both are given.
    private: Option<bool>,
    visibility: Option<String>,
}

fn visibility_of(private: Option<bool>, visibility: Option<&str>) -> ApiResult<Option<Visibility>> {
    match visibility {
        Some(v) => Visibility::parse(v).map(Some).ok_or_else(|| {
            unprocessable(
                "Repository",
                "visibility",
                format!("{v:?} is not public, private or internal"),
            )
        }),
        None => Ok(private.map(|p| {
            if p {
                Visibility::Private
            } else {
                Visibility::Public
            }
        })),
    }
}

async fn create_repo(
    s: &AppState,
    service: &DirectoryService,
    owner: &str,
    body: CreateRepoBody,
) -> DirectoryResult<Response> {
    // GitHub's default is a public repository.
    let visibility =
        visibility_of(body.private, body.visibility.as_deref())?.unwrap_or(Visibility::Public);
    let repo = s
        .app
        .admin_create_repo(
            &service.operator(),
            owner,
            &body.name,
            visibility,
            body.description.as_deref(),
        )
        .await
        .map_err(directory_error)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json::repository(&s.base_url, &repo)),
    )
        .into_response())
}

async fn create_org_repo(
    State(s): State<AppState>,
    service: DirectoryService,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<CreateRepoBody>,
) -> DirectoryResult<Response> {
    s.app.org_named(&org).await?;
    create_repo(&s, &service, &org, body).await
}

async fn create_user_repo(
    State(s): State<AppState>,
    service: DirectoryService,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<CreateRepoBody>,
) -> DirectoryResult<Response> {
    s.app
        .store()
        .user_by_login(&login)
        .await
        .map_err(patgate_app::AppError::from)?
        .ok_or_else(ApiError::not_found)?;
    create_repo(&s, &service, &login, body).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRepoBody {
    name: Option<String>,
    #[serde(default, with = "double_option")]
    description: Option<Option<String>>,
    private: Option<bool>,
    visibility: Option<String>,
}

/// `"description": null` clears it; an absent one keeps it.
mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// `PATCH /repos/{owner}/{repo}` (routed by `api::router` beside the token route's `GET`).
pub async fn update_repo(
    State(s): State<AppState>,
    service: DirectoryService,
    Path((owner, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateRepoBody>,
) -> DirectoryResult<Response> {
    let patch = RepoPatch {
        name: body.name,
        visibility: visibility_of(body.private, body.visibility.as_deref())?,
        description: body.description,
    };
    let repo = s
        .app
        .admin_update_repo(&service.operator(), &owner, &name, &patch)
        .await
        .map_err(directory_error)?;
    Ok(axum::Json(json::repository(&s.base_url, &repo)).into_response())
}

/// `DELETE /repos/{owner}/{repo}` (routed by `api::router`).
pub async fn delete_repo(
    State(s): State<AppState>,
    service: DirectoryService,
    Path((owner, name)): Path<(String, String)>,
) -> DirectoryResult<StatusCode> {
    s.app
        .admin_delete_repo(&service.operator(), &owner, &name)
        .await
        .map_err(directory_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    new_owner: String,
    new_name: Option<String>,
    /// GitHub's team ids to give access; patgate has no teams.
    #[allow(dead_code)]
    team_ids: Option<Vec<i64>>,
}

async fn transfer_repo(
    State(s): State<AppState>,
    service: DirectoryService,
    Path((owner, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<TransferBody>,
) -> DirectoryResult<Response> {
    let repo = s
        .app
        .admin_transfer_repo(
            &service.operator(),
            &owner,
            &name,
            &body.new_owner,
            body.new_name.as_deref(),
        )
        .await
        .map_err(directory_error)?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json::repository(&s.base_url, &repo)),
    )
        .into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CollaboratorBody {
    /// `pull`, `triage`, `push` (the default), `maintain` or `admin`.
    permission: Option<String>,
}

async fn set_collaborator(
    State(s): State<AppState>,
    service: DirectoryService,
    Path((owner, name, login)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<CollaboratorBody>,
) -> DirectoryResult<StatusCode> {
    let permission = body.permission.as_deref().unwrap_or("push");
    let role = parse_collaborator_permission(permission).ok_or_else(|| {
        unprocessable(
            "Collaborator",
            "permission",
            format!("{permission:?} is not pull, triage, push, maintain or admin"),
        )
    })?;
    s.app
        .admin_set_collaborator(&service.operator(), &owner, &name, &login, role)
        .await
        .map_err(directory_error)?;
    // patgate has no invitations: the collaborator is added at once, as GitHub answers when
    // the user needs no invitation.
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_collaborator(
    State(s): State<AppState>,
    service: DirectoryService,
    Path((owner, name, login)): Path<(String, String, String)>,
) -> DirectoryResult<StatusCode> {
    s.app
        .admin_remove_collaborator(&service.operator(), &owner, &name, &login)
        .await
        .map_err(directory_error)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Enterprises
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateEnterpriseBody {
    slug: String,
}

async fn create_enterprise(
    State(s): State<AppState>,
    service: DirectoryService,
    ApiJson(body): ApiJson<CreateEnterpriseBody>,
) -> DirectoryResult<Response> {
    let e = s
        .app
        .admin_create_enterprise(&service.operator(), &body.slug)
        .await
        .map_err(directory_error)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"id": e.id.0, "slug": e.slug, "url": format!("{}/enterprises/{}", s.base_url, e.slug)})),
    )
        .into_response())
}

async fn add_enterprise_org(
    State(s): State<AppState>,
    service: DirectoryService,
    Path((slug, org)): Path<(String, String)>,
) -> DirectoryResult<StatusCode> {
    s.app
        .admin_set_enterprise_org(&service.operator(), &slug, &org, true)
        .await
        .map_err(directory_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_enterprise_org(
    State(s): State<AppState>,
    service: DirectoryService,
    Path((slug, org)): Path<(String, String)>,
) -> DirectoryResult<StatusCode> {
    s.app
        .admin_set_enterprise_org(&service.operator(), &slug, &org, false)
        .await
        .map_err(directory_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_enterprise_owner(
    State(s): State<AppState>,
    service: DirectoryService,
    Path((slug, login)): Path<(String, String)>,
) -> DirectoryResult<StatusCode> {
    s.app
        .admin_set_enterprise_owner(&service.operator(), &slug, &login, true)
        .await
        .map_err(directory_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_enterprise_owner(
    State(s): State<AppState>,
    service: DirectoryService,
    Path((slug, login)): Path<(String, String)>,
) -> DirectoryResult<StatusCode> {
    s.app
        .admin_set_enterprise_owner(&service.operator(), &slug, &login, false)
        .await
        .map_err(directory_error)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// The whole directory
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct SyncQuery {
    #[serde(default)]
    dry_run: bool,
}

/// The sync's report.
pub fn sync_report(r: &SyncReport) -> Value {
    json!({
        "dry_run": r.dry_run,
        "changes": r.changes.iter().map(|c| json!({
            "action": c.action,
            "target": c.target,
            "outcome": match c.outcome {
                OpOutcome::Created => "created",
                OpOutcome::Updated => "updated",
                OpOutcome::Removed => "removed",
                OpOutcome::Unchanged => "unchanged",
                OpOutcome::Absent => "absent",
            },
        })).collect::<Vec<_>>(),
        "unchanged": r.unchanged,
    })
}

/// `PUT /admin/directory`: the seed file's format (without tokens and policies) as JSON, or as
/// TOML with `Content-Type: application/toml`.
async fn sync(
    State(s): State<AppState>,
    service: DirectoryService,
    Query(query): Query<SyncQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> DirectoryResult<Response> {
    let toml = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/toml"));
    let desired: SeedFile = if toml {
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::bad_request("Problems parsing TOML"))?;
        SeedFile::parse(text).map_err(|e| {
            let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request");
            err.errors.push(Value::String(e.to_string()));
            err
        })?
    } else {
        let value: Value = serde_json::from_slice(&body)
            .map_err(|_| ApiError::bad_request("Problems parsing JSON"))?;
        if !value.is_object() {
            return Err(ApiError::bad_request("Body should be a JSON object"));
        }
        serde_path_to_error::deserialize(value).map_err(|e| {
            let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request");
            err.errors.push(json!({
                "resource": "Directory",
                "field": e.path().to_string(),
                "code": "invalid",
                "message": e.inner().to_string(),
            }));
            err
        })?
    };
    let report = s
        .app
        .sync_directory(&service.operator(), &desired, query.dry_run)
        .await
        .map_err(directory_error)?;
    Ok(axum::Json(sync_report(&report)).into_response())
}
