//! What a platform's services and proxies call (issue 13, `docs/platform.md`):
//!
//! * the authorization API, `POST /authorize` and `POST /authorize/batch`: given a token (or
//!   the raw `Authorization` header) and what a request needs, the decision patgate's own
//!   routes would make, with GitHub's status, message and accepted headers;
//! * OAuth 2.0 Token Introspection (RFC 7662), `POST /introspect`;
//! * forward auth (`api/forward_auth.rs`), which recognises and decides the same way;
//! * "why?": `POST /user/personal-access-tokens/{id}/why` and `/authorizations/{id}/why`, the
//!   chain of rules behind a decision, for the token's owner.
//!
//! Every decision goes through `App::decide_for` (or `explain_for`) and so `authz::decide`:
//! the REST routes, git and these answer alike (`tests/it/platform.rs` runs one table of cases
//! through all of them).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use patgate_app::AppError;
use patgate_app::authorize::{Asked, REQUIRES_AUTHENTICATION, TOKEN_ONLY_ROUTES, Target, Why};
use patgate_app::verify::VerifiedToken;
use patgate_domain::authz::{Decision, Need};
use patgate_domain::catalog::{Level, Permission};
use patgate_domain::model::{TokenGrant, TokenId};
use patgate_domain::routes::{self, RouteMatch};
use patgate_domain::scopes::Scope;

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, AuthorizeService, PasswordAuth, Path, Presented, presented_in};
use super::json;
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// What a request needs, as the API's callers state it
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RouteBody {
    pub method: String,
    /// The request target as sent: the path, with or without its query.
    pub path: String,
}

/// One need: a target and what is needed of it (a permission and level, a classic scope, or
/// a REST route whose target and permission sets come from GitHub's table).
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct NeedBody {
    /// `owner/name`.
    pub repository: Option<String>,
    pub organization: Option<String>,
    /// An account by login; with none of the three, the token's own user.
    pub user: Option<String>,
    pub permission: Option<String>,
    pub level: Option<String>,
    pub scope: Option<String>,
    pub route: Option<RouteBody>,
}

/// A need, checked and resolved into the app's terms.
enum Checked {
    Target(TargetName, AskedOwned),
    /// A route, by method and request target (recognised when decided).
    Route(String, String),
}

enum TargetName {
    Repository(String, String),
    Organization(String),
    User(String),
    Account,
}

#[derive(Clone, Copy)]
enum AskedOwned {
    Need(Need),
    Scope(Scope),
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid("Authorization", field, message)
}

fn check_need(b: &NeedBody) -> ApiResult<Checked> {
    let asks = [b.permission.is_some(), b.scope.is_some(), b.route.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if asks != 1 {
        return Err(invalid(
            "permission",
            "give exactly one of permission (with level), scope or route",
        ));
    }
    let targets = [
        b.repository.is_some(),
        b.organization.is_some(),
        b.user.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if let Some(route) = &b.route {
        if targets > 0 || b.level.is_some() {
            return Err(invalid(
                "route",
                "a route names its own target and permissions: give it alone",
            ));
        }
        if routes::Method::parse(&route.method).is_none() {
            return Err(invalid(
                "route.method",
                format!(
                    "{:?} is not GET, HEAD, POST, PUT, PATCH or DELETE",
                    route.method
                ),
            ));
        }
        if !route.path.starts_with('/') {
            return Err(invalid("route.path", "a path starts with /"));
        }
        return Ok(Checked::Route(route.method.clone(), route.path.clone()));
    }
    if targets > 1 {
        return Err(invalid(
            "repository",
            "give at most one of repository, organization or user",
        ));
    }
    let target = match (&b.repository, &b.organization, &b.user) {
        (Some(full), _, _) => {
            let (owner, name) = full
                .split_once('/')
                .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
                .ok_or_else(|| invalid("repository", format!("{full:?} is not owner/name")))?;
            TargetName::Repository(owner.to_owned(), name.to_owned())
        }
        (_, Some(org), _) => TargetName::Organization(org.clone()),
        (_, _, Some(login)) => TargetName::User(login.clone()),
        _ => TargetName::Account,
    };
    let asked = match (&b.permission, &b.scope) {
        (Some(name), _) => {
            let permission = Permission::from_name(name)
                .ok_or_else(|| invalid("permission", format!("unknown permission {name:?}")))?;
            let level = b.level.as_deref().ok_or_else(|| {
                let mut e = invalid("level", "give the level with the permission");
                e.errors[0]["code"] = json!("missing_field");
                e
            })?;
            let level = Level::parse(level)
                .filter(|l| permission.allows(*l))
                .ok_or_else(|| {
                    invalid(
                        "level",
                        format!(
                            "{level:?} is not a level of {name} ({})",
                            permission
                                .allowed_levels()
                                .iter()
                                .map(|l| l.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?;
            AskedOwned::Need(Need::new(permission, level))
        }
        (_, Some(scope)) => {
            if b.level.is_some() {
                return Err(invalid("level", "a scope has no level"));
            }
            AskedOwned::Scope(
                Scope::from_name(scope)
                    .ok_or_else(|| invalid("scope", format!("unknown scope {scope:?}")))?,
            )
        }
        _ => return Err(invalid("permission", "nothing asked")),
    };
    Ok(Checked::Target(target, asked))
}

/// The route of a method and request target: a token-only route, a route of GitHub's table, or
/// none.
pub enum Recognised<'p> {
    TokenOnly,
    Table(RouteMatch<'p>),
    Unknown,
}

pub fn recognise<'p>(method: &str, target: &'p str) -> Recognised<'p> {
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let method_is = |m: &str| {
        routes::Method::parse(method).is_some_and(|parsed| parsed.as_str().eq_ignore_ascii_case(m))
    };
    if TOKEN_ONLY_ROUTES
        .iter()
        .any(|(m, p)| method_is(m) && *p == path)
    {
        return Recognised::TokenOnly;
    }
    match routes::lookup(method, target) {
        Some(m) => Recognised::Table(m),
        None => Recognised::Unknown,
    }
}

/// Decides one need for `token` (`None`: anonymous), as the REST routes would.
async fn decide_need(
    s: &AppState,
    token: Option<&VerifiedToken>,
    checked: &Checked,
) -> Result<Decision, AppError> {
    let cred = token.map(|t| &t.credential);
    match checked {
        Checked::Target(target, asked) => {
            let asked = match asked {
                AskedOwned::Need(n) => Asked::Need(*n),
                AskedOwned::Scope(sc) => Asked::Scope(*sc),
            };
            s.app.decide_for(cred, target_of(target), asked).await
        }
        Checked::Route(method, path) => match recognise(method, path) {
            Recognised::TokenOnly => token_only(s, token).await,
            Recognised::Table(m) => match Target::of_route(&m) {
                Some(target) => {
                    s.app
                        .decide_for(cred, target, Asked::Route(m.route()))
                        .await
                }
                None => Ok(unknown_route()),
            },
            Recognised::Unknown => Ok(unknown_route()),
        },
    }
}

fn target_of(t: &TargetName) -> Target<'_> {
    match t {
        TargetName::Repository(owner, name) => Target::Repository { owner, name },
        TargetName::Organization(org) => Target::Organization(org),
        TargetName::User(login) => Target::User(login),
        TargetName::Account => Target::Account,
    }
}

/// `GET /user`: any valid token (an installation gets 403, as GitHub answers).
pub(super) async fn token_only(
    s: &AppState,
    token: Option<&VerifiedToken>,
) -> Result<Decision, AppError> {
    match token {
        None => Ok(requires_authentication()),
        Some(t) => {
            s.app
                .decide_for(Some(&t.credential), Target::Account, Asked::Nothing)
                .await
        }
    }
}

fn requires_authentication() -> Decision {
    Decision::Deny(patgate_domain::authz::Denial {
        status: patgate_domain::authz::DenyStatus::Unauthorized,
        reason: patgate_domain::authz::DenyReason::UserCannotSee,
        message: REQUIRES_AUTHENTICATION.to_owned(),
        accepted_permissions: None,
        accepted_scopes: None,
    })
}

/// A route patgate cannot decide is refused: it cannot know what the upstream does with it.
pub(super) fn unknown_route() -> Decision {
    Decision::Deny(patgate_domain::authz::Denial {
        status: patgate_domain::authz::DenyStatus::NotFound,
        reason: patgate_domain::authz::DenyReason::PermissionNotApplicable,
        message: patgate_domain::authz::NOT_FOUND.to_owned(),
        accepted_permissions: None,
        accepted_scopes: None,
    })
}

/// A decision as the REST routes answer it: `Ok(())`, or GitHub's error.
pub(super) fn as_result(decision: Decision) -> ApiResult<()> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Deny(d) => Err(AppError::from(d).into()),
    }
}

/// The JSON an `ApiError` would be, with its status and the headers a client would see.
fn answer(result: ApiResult<()>) -> Value {
    match result {
        Ok(()) => json!({"allowed": true, "status": 200}),
        Err(e) => {
            let status = e.status.as_u16();
            let mut headers = serde_json::Map::new();
            for name in ["x-accepted-github-permissions", "x-accepted-oauth-scopes"] {
                if let Some(v) = e.headers.get(name).and_then(|v| v.to_str().ok()) {
                    headers.insert(name.to_owned(), json!(v));
                }
            }
            let mut v = json!({
                "allowed": false,
                "status": status,
                "message": e.message,
                "headers": headers,
            });
            for (key, value) in &e.extra {
                v[*key] = value.clone();
            }
            v
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The authorization API
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeBody {
    /// The token itself.
    pub token: Option<String>,
    /// Or the request's raw `Authorization` header value (`Bearer ...`, `token ...`, Basic).
    pub authorization: Option<String>,
    pub repository: Option<String>,
    pub organization: Option<String>,
    pub user: Option<String>,
    pub permission: Option<String>,
    pub level: Option<String>,
    pub scope: Option<String>,
    pub route: Option<RouteBody>,
}

impl AuthorizeBody {
    fn need(&self) -> NeedBody {
        NeedBody {
            repository: self.repository.clone(),
            organization: self.organization.clone(),
            user: self.user.clone(),
            permission: self.permission.clone(),
            level: self.level.clone(),
            scope: self.scope.clone(),
            route: self.route.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    pub token: Option<String>,
    pub authorization: Option<String>,
    pub needs: Vec<NeedBody>,
}

/// The most needs a batch decides.
pub const MAX_BATCH: usize = 100;

/// The token a caller hands over, verified as the REST routes verify one: `Ok(None)` for no
/// credential at all, `Err` for the answer a REST route would give instead (401, a suspended
/// user's 403, a password's 401).
async fn handed(
    s: &AppState,
    token: Option<&str>,
    authorization: Option<&str>,
) -> ApiResult<Result<Option<Arc<VerifiedToken>>, ApiError>> {
    let presented = match (token, authorization) {
        (Some(_), Some(_)) => {
            return Err(invalid("token", "give token or authorization, not both"));
        }
        (Some(t), None) => Presented::Token(t.to_owned()),
        (None, Some(header)) => match presented_in(header, s) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        },
        (None, None) => Presented::None,
    };
    Ok(match presented {
        Presented::None => Ok(None),
        Presented::Password { .. } => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Password authentication is only accepted for managing your tokens. Use a personal access token.",
        )),
        Presented::Token(t) => match s.app.verify_active(&t).await {
            Ok(v) => Ok(Some(v)),
            // The database, not the token: the caller's request failed, not the decision.
            Err(e @ (AppError::Unavailable | AppError::Overloaded | AppError::Internal(_))) => {
                return Err(e.into());
            }
            Err(e) => Err(e.into()),
        },
    })
}

/// Who the token is, for the caller: its user, id, kind and expiry.
async fn identity(s: &AppState, token: Option<&VerifiedToken>) -> ApiResult<(Value, Value)> {
    let Some(t) = token else {
        return Ok((Value::Null, Value::Null));
    };
    let c = &t.credential;
    let login = s.app.login_of(c.user).await?;
    let user = json!({
        "login": login,
        "id": c.user.0,
        "type": match c.grant {
            TokenGrant::AppInstallation { .. } => "Organization",
            _ => "User",
        },
    });
    let token = json!({
        "id": c.token_id.0,
        "kind": kind_name(&c.grant),
        "expires_at": json::opt_ts(c.expires_at),
    });
    Ok((user, token))
}

pub(super) fn kind_name(grant: &TokenGrant) -> &'static str {
    match grant {
        TokenGrant::FineGrained { .. } => "fine_grained",
        TokenGrant::Classic { .. } => "classic",
        TokenGrant::AppInstallation { .. } => "app_installation",
    }
}

/// `POST /authorize`.
pub async fn authorize(
    State(s): State<AppState>,
    _service: AuthorizeService,
    ApiJson(body): ApiJson<AuthorizeBody>,
) -> ApiResult<Response> {
    let checked = check_need(&body.need())?;
    let verified = handed(&s, body.token.as_deref(), body.authorization.as_deref()).await?;
    let (token, result) = match verified {
        Err(refused) => (None, Err(refused)),
        Ok(token) => {
            let decision = decide_need(&s, token.as_deref(), &checked).await?;
            (token, as_result(decision))
        }
    };
    let mut v = answer(result);
    let (user, token) = identity(&s, token.as_deref()).await?;
    v["user"] = user;
    v["token"] = token;
    Ok(axum::Json(v).into_response())
}

/// `POST /authorize/batch`: one token, up to 100 needs, each answered as `POST /authorize`
/// would, in order.
pub async fn authorize_batch(
    State(s): State<AppState>,
    _service: AuthorizeService,
    ApiJson(body): ApiJson<BatchBody>,
) -> ApiResult<Response> {
    if body.needs.is_empty() || body.needs.len() > MAX_BATCH {
        return Err(invalid(
            "needs",
            format!("give 1 to {MAX_BATCH} needs, not {}", body.needs.len()),
        ));
    }
    let mut checked = Vec::with_capacity(body.needs.len());
    for (i, need) in body.needs.iter().enumerate() {
        checked.push(check_need(need).map_err(|mut e| {
            for err in &mut e.errors {
                if let Some(field) = err["field"].as_str() {
                    err["field"] = json!(format!("needs[{i}].{field}"));
                }
            }
            e
        })?);
    }
    let verified = handed(&s, body.token.as_deref(), body.authorization.as_deref()).await?;
    let mut results = Vec::with_capacity(checked.len());
    let token = match verified {
        Err(refused) => {
            let refused = answer(Err(refused));
            results.resize(checked.len(), refused);
            None
        }
        Ok(token) => {
            for c in &checked {
                let decision = decide_need(&s, token.as_deref(), c).await?;
                results.push(answer(as_result(decision)));
            }
            token
        }
    };
    let (user, token) = identity(&s, token.as_deref()).await?;
    Ok(axum::Json(json!({"user": user, "token": token, "results": results})).into_response())
}

// ---------------------------------------------------------------------------------------------
// RFC 7662
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct IntrospectForm {
    pub token: Option<String>,
    /// RFC 7662's hint; every kind is looked up anyway.
    #[allow(dead_code)]
    pub token_type_hint: Option<String>,
}

/// `POST /introspect` (RFC 7662): `application/x-www-form-urlencoded` with `token`. An
/// expired, revoked, unknown or malformed token, or a suspended user's, is `{"active":
/// false}` and nothing else (RFC 7662 §2.2: no more is said of a token that is not active).
pub async fn introspect(
    State(s): State<AppState>,
    _service: AuthorizeService,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let form: IntrospectForm = serde_urlencoded::from_bytes(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "The body must be application/x-www-form-urlencoded with token=...",
        )
    })?;
    let Some(token) = form.token.filter(|t| !t.is_empty()) else {
        // RFC 7662 §2.1: `token` is required (RFC 6749's `invalid_request`).
        return Ok((
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error": "invalid_request", "error_description": "token is required"}),
            ),
        )
            .into_response());
    };
    let verified = match s.app.verify_active(&token).await {
        Ok(v) => v,
        Err(e @ (AppError::Unavailable | AppError::Overloaded | AppError::Internal(_))) => {
            return Err(e.into());
        }
        Err(_) => return Ok(axum::Json(json!({"active": false})).into_response()),
    };
    let c = &verified.credential;
    let login = s.app.login_of(c.user).await?;
    let mut v = json!({
        "active": true,
        "token_type": kind_name(&c.grant),
        "sub": c.user.0.to_string(),
        "username": login,
        "iat": c.issued_at.unix_timestamp(),
        "iss": s.base_url,
        "token_id": c.token_id.0,
    });
    if let Some(exp) = c.expires_at {
        v["exp"] = json!(exp.unix_timestamp());
    }
    match &c.grant {
        TokenGrant::Classic { scopes } => {
            v["scope"] = json!(
                scopes
                    .list()
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        TokenGrant::FineGrained {
            resource_owner,
            state,
            granted,
            ..
        } => {
            v["resource_owner"] = json!(s.app.login_of(*resource_owner).await?);
            v["grant_state"] = json!(state.as_str());
            if let Some(access) = granted {
                v["permissions"] = json::permissions(access);
                v["repository_selection"] = json!(access.selection.as_str());
            }
        }
        TokenGrant::AppInstallation { org, .. } => {
            v["organization"] = json!(s.app.login_of(*org).await?);
        }
    }
    Ok(axum::Json(v).into_response())
}

// ---------------------------------------------------------------------------------------------
// "Why?"
// ---------------------------------------------------------------------------------------------

/// The explanation's JSON.
pub fn why_json(why: &Why) -> Value {
    let (allowed, status, message) = match &why.decision {
        Decision::Allow => (true, 200, Value::Null),
        Decision::Deny(d) => (false, d.status.code(), json!(d.message)),
    };
    let refused_by = why.refused_by().map(|s| {
        json!({"rule": s.rule.code, "design_rule": s.rule.design_rule, "title": s.rule.title, "detail": s.detail})
    });
    json!({
        "allowed": allowed,
        "status": status,
        "message": message,
        "resource": why.resource,
        "refused_by": refused_by,
        "sets": why.sets.iter().map(|set| set.iter().map(|r| json!({
            "requirement": r.requirement,
            "allowed": r.allowed,
            "rules": r.steps.iter().map(|s| json!({
                "rule": s.rule.code,
                "design_rule": s.rule.design_rule,
                "title": s.rule.title,
                "passed": s.passed,
                "detail": s.detail,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}

/// Explains what `need` gets with the token `id` of `user`.
pub async fn explain_own(
    s: &AppState,
    user: &patgate_domain::model::User,
    id: TokenId,
    kind: patgate_domain::token::TokenKind,
    need: &NeedBody,
) -> ApiResult<Why> {
    let token = s.app.own_token(user, id).await?;
    if token.kind() != kind {
        return Err(ApiError::not_found());
    }
    let cred = token.credential();
    let checked = check_need(need)?;
    let why = match &checked {
        Checked::Target(target, asked) => {
            let asked = match asked {
                AskedOwned::Need(n) => Asked::Need(*n),
                AskedOwned::Scope(sc) => Asked::Scope(*sc),
            };
            s.app.explain_for(&cred, target_of(target), asked).await?
        }
        Checked::Route(method, path) => match recognise(method, path) {
            Recognised::TokenOnly => {
                s.app
                    .explain_for(&cred, Target::Account, Asked::Nothing)
                    .await?
            }
            Recognised::Table(m) => match Target::of_route(&m) {
                Some(target) => {
                    s.app
                        .explain_for(&cred, target, Asked::Route(m.route()))
                        .await?
                }
                None => unknown_why(method, path),
            },
            Recognised::Unknown => unknown_why(method, path),
        },
    };
    Ok(why)
}

/// A route patgate does not know, explained: it refuses what it cannot decide.
fn unknown_why(method: &str, path: &str) -> Why {
    Why {
        decision: unknown_route(),
        resource: format!("{method} {path}"),
        sets: vec![vec![patgate_app::authorize::WhyRequirement {
            requirement: "a route of GitHub's REST API".into(),
            allowed: false,
            steps: vec![patgate_app::authorize::WhyStep {
                rule: patgate_domain::authz::Rule {
                    code: "known_route",
                    design_rule: 13,
                    title: "patgate knows what the route acts on and needs",
                },
                passed: false,
                detail: "patgate does not know this route, or what it acts on (GitHub's \
                         per-endpoint data does not say), so it cannot tell what the request \
                         needs, and refuses it."
                    .into(),
            }],
        }]],
    }
}

/// `POST /user/personal-access-tokens/{token_id}/why`.
pub async fn why_fine_grained(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(id): Path<i64>,
    ApiJson(need): ApiJson<NeedBody>,
) -> ApiResult<Response> {
    let why = explain_own(
        &s,
        &user,
        TokenId(id),
        patgate_domain::token::TokenKind::FineGrained,
        &need,
    )
    .await?;
    Ok(axum::Json(why_json(&why)).into_response())
}

/// `POST /authorizations/{token_id}/why`.
pub async fn why_classic(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(id): Path<i64>,
    ApiJson(need): ApiJson<NeedBody>,
) -> ApiResult<Response> {
    let why = explain_own(
        &s,
        &user,
        TokenId(id),
        patgate_domain::token::TokenKind::Classic,
        &need,
    )
    .await?;
    Ok(axum::Json(why_json(&why)).into_response())
}
