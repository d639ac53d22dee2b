//! The REST API: GitHub's paths, bodies and JSON where GitHub has the endpoint, the same style
//! where it has none (token management, keys). `docs/api.md` describes it; `/openapi.json` is
//! generated from the route table below.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;

use patgate_app::verify::VerifiedToken;
use patgate_domain::authz::Need;
use patgate_domain::catalog::{Level, Permission};
use patgate_domain::model::{KeyId, TokenGrant};

pub mod directory;
pub mod error;
pub mod extract;
pub mod forward_auth;
pub mod governance;
pub mod hooks;
pub mod json;
pub mod openapi;
pub mod orgs;
pub mod pagination;
pub mod platform;
pub mod rendered;
pub mod tokens;

use error::{ApiError, ApiResult};
use extract::{ApiJson, MaybeToken, Path, TokenAuth};

use crate::net::edge::Edge;
use crate::ratelimit::{Quota, Subject};
use crate::state::AppState;

/// The REST API's routes, each behind `edge` (given by the server's router, which puts the same
/// edge in front of everything else).
pub fn router(state: AppState, edge: Arc<Edge>) -> Router {
    Router::new()
        .route("/user", get(get_user))
        .route("/user/keys", get(list_user_keys).post(add_user_key))
        .route(
            "/user/keys/{key_id}",
            get(get_user_key).delete(delete_user_key),
        )
        .route(
            "/repos/{owner}/{repo}",
            get(get_repo)
                .patch(directory::update_repo)
                .delete(directory::delete_repo),
        )
        .route(
            "/repos/{owner}/{repo}/keys",
            get(list_deploy_keys).post(add_deploy_key),
        )
        .route(
            "/repos/{owner}/{repo}/keys/{key_id}",
            axum::routing::delete(delete_deploy_key),
        )
        .route(
            "/user/personal-access-tokens",
            get(tokens::list_fine_grained).post(tokens::create_fine_grained),
        )
        .route(
            "/user/personal-access-tokens/{token_id}",
            get(tokens::get_fine_grained)
                .patch(tokens::edit_fine_grained)
                .delete(tokens::delete_fine_grained),
        )
        .route(
            "/user/personal-access-tokens/{token_id}/regenerate",
            post(tokens::regenerate_fine_grained),
        )
        .route(
            "/authorizations",
            get(tokens::list_classic).post(tokens::create_classic),
        )
        .route(
            "/authorizations/{token_id}",
            get(tokens::get_classic)
                .patch(tokens::edit_classic)
                .delete(tokens::delete_classic),
        )
        .route(
            "/authorizations/{token_id}/regenerate",
            post(tokens::regenerate_classic),
        )
        .route(
            "/orgs/{org}/personal-access-token-requests",
            get(orgs::list_requests).post(orgs::review_in_bulk),
        )
        .route(
            "/orgs/{org}/personal-access-token-requests/{pat_request_id}",
            post(orgs::review_one),
        )
        .route(
            "/orgs/{org}/personal-access-token-requests/{pat_request_id}/repositories",
            get(orgs::request_repositories),
        )
        .route(
            "/organizations/{org_id}/personal-access-token-requests/{pat_request_id}/repositories",
            get(orgs::request_repositories_by_org_id),
        )
        .route(
            "/orgs/{org}/personal-access-tokens",
            get(orgs::list_grants).post(orgs::revoke_in_bulk),
        )
        .route(
            "/orgs/{org}/personal-access-tokens/{pat_id}",
            post(orgs::revoke_one),
        )
        .route(
            "/orgs/{org}/personal-access-tokens/{pat_id}/repositories",
            get(orgs::grant_repositories),
        )
        .route(
            "/organizations/{org_id}/personal-access-tokens/{pat_id}/repositories",
            get(orgs::grant_repositories_by_org_id),
        )
        .route(
            "/orgs/{org}/apps",
            get(governance::list_apps).post(governance::create_app),
        )
        .route(
            "/orgs/{org}/apps/{app_id}/access_tokens",
            post(governance::create_app_token),
        )
        .route(
            "/orgs/{org}/personal-access-token-policy",
            get(governance::get_policy).put(governance::put_policy),
        )
        .route("/orgs/{org}/audit-log", get(governance::audit_log))
        .route("/orgs/{org}/hooks", get(hooks::list).post(hooks::create))
        .route(
            "/orgs/{org}/hooks/{hook_id}",
            get(hooks::get).patch(hooks::update).delete(hooks::delete),
        )
        .route(
            "/orgs/{org}/hooks/{hook_id}/config",
            get(hooks::get_config).patch(hooks::update_config),
        )
        .route("/orgs/{org}/hooks/{hook_id}/pings", post(hooks::ping))
        .route(
            "/orgs/{org}/hooks/{hook_id}/deliveries",
            get(hooks::deliveries),
        )
        .route(
            "/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}",
            get(hooks::delivery),
        )
        .route(
            "/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts",
            post(hooks::redeliver),
        )
        .route(
            "/user/personal-access-tokens/{token_id}/request",
            axum::routing::delete(governance::cancel_request),
        )
        .route("/credentials/revoke", post(governance::revoke_credentials))
        .route(
            "/user/personal-access-tokens/{token_id}/why",
            post(platform::why_fine_grained),
        )
        .route(
            "/authorizations/{token_id}/why",
            post(platform::why_classic),
        )
        .route("/authorize", post(platform::authorize))
        .route("/authorize/batch", post(platform::authorize_batch))
        .route("/introspect", post(platform::introspect))
        .route("/forward-auth", any(forward_auth::forward_auth))
        .route("/forward-auth/{*path}", any(forward_auth::forward_auth))
        .merge(directory::routes())
        .route("/openapi.json", get(openapi::document))
        .route("/rate_limit", get(rate_limit))
        // GitHub answers a method a path does not take like a path that does not exist.
        .method_not_allowed_fallback(fallback)
        // One layer for all of it: a layer of its own would be a boxed route of its own.
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(
                    (state.clone(), edge),
                    api_request,
                ))
                .layer(axum::extract::DefaultBodyLimit::max(
                    state.limits.max_body_bytes,
                )),
        )
        .with_state(state)
}

/// What an API request's extractors leave for `api_request` to put on its response, in one
/// extension (each extension is an allocation and a map insert of its own).
#[derive(Default)]
pub struct ApiCall {
    /// The token the request verified.
    pub token: OnceLock<Arc<VerifiedToken>>,
    /// Whether the route counts against the rate limit.
    pub charged: bool,
    /// The caller's standing, once the extractor that checked the credential charged them.
    pub quota: OnceLock<Quota>,
}

/// Counts a request of `subject` (when the route is charged, that is when `parts` holds a
/// [`ApiCall`] that is `charged`): GitHub's 403 past the limit, with the headers that say when
/// it ends.
pub fn charge(parts: &Parts, state: &AppState, subject: Subject) -> ApiResult<()> {
    let Some(call) = parts
        .extensions
        .get::<Arc<ApiCall>>()
        .filter(|call| call.charged)
    else {
        return Ok(());
    };
    let now = state.app.now().unix_timestamp();
    match state.rate_limits.charge(subject, now) {
        Ok(quota) => {
            let _ = call.quota.set(quota);
            Ok(())
        }
        Err(quota) => {
            state.metrics.rate_limited(subject);
            Err(rate_limited(subject, quota, now))
        }
    }
}

fn rate_limited(subject: Subject, quota: Quota, now: i64) -> ApiError {
    let mut err = ApiError::new(StatusCode::FORBIDDEN, subject.exceeded_message())
        .header("retry-after", &(quota.reset - now).max(1).to_string());
    err.documentation_url = Some(crate::ratelimit::DOCUMENTATION_URL);
    rate_headers(&mut err.headers, quota);
    err
}

/// GitHub's response headers, named once: a name given as a `&str` is parsed and checked on
/// every insert (3 % of the CPU of `GET /user` went to that).
mod names {
    use axum::http::HeaderName;
    pub const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
    pub const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
    pub const USED: HeaderName = HeaderName::from_static("x-ratelimit-used");
    pub const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
    pub const RESOURCE: HeaderName = HeaderName::from_static("x-ratelimit-resource");
    pub const OAUTH_SCOPES: HeaderName = HeaderName::from_static("x-oauth-scopes");
    pub const TOKEN_EXPIRATION: HeaderName =
        HeaderName::from_static("github-authentication-token-expiration");
    pub const ACCEPTED_SCOPES: HeaderName = HeaderName::from_static("x-accepted-oauth-scopes");
    pub const ACCEPTED_PERMISSIONS: HeaderName =
        HeaderName::from_static("x-accepted-github-permissions");
}

fn rate_headers(headers: &mut axum::http::HeaderMap, quota: Quota) {
    headers.insert(names::LIMIT, HeaderValue::from(quota.limit));
    headers.insert(names::REMAINING, HeaderValue::from(quota.remaining()));
    headers.insert(names::USED, HeaderValue::from(quota.used));
    headers.insert(names::RESET, HeaderValue::from(quota.reset));
    headers.insert(names::RESOURCE, HeaderValue::from_static("core"));
}

/// What every API request goes through, in one middleware (each layer costs every route a
/// clone and a boxed future, `docs/benchmarks.md`, "The layers"):
///
/// * the edge (`net/edge.rs`: credentials marked sensitive, the client resolved, the span, a
///   panic answered 500, `/metrics`), which the rest of the server has as a layer of its own;
/// * a time bound, reading its body included: a client that trickles a body, or a request
///   stuck behind an overloaded database, is answered 408 rather than held forever;
/// * GitHub's headers on the response: the rate limit's (`X-RateLimit-*`) where the route
///   counts, and for a token-authenticated request `X-OAuth-Scopes` (classic tokens) and
///   `GitHub-Authentication-Token-Expiration` (when the token expires). An anonymous request is
///   charged here, to its client address; an authenticated one where its credential is checked.
async fn api_request(
    State((s, edge)): State<(AppState, Arc<Edge>)>,
    req: Request,
    next: Next,
) -> Response {
    crate::net::edge::around(&edge, req, |req| answer(s, req, next)).await
}

async fn answer(s: AppState, mut req: Request, next: Next) -> Response {
    let call = Arc::new(ApiCall {
        charged: crate::ratelimit::is_charged(req.uri().path()),
        ..ApiCall::default()
    });
    req.extensions_mut().insert(call.clone());
    let (parts, body) = req.into_parts();
    if call.charged
        && !parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
    {
        let client = crate::net::client::ClientIp::of(&parts);
        if let Err(refused) = charge(&parts, &s, Subject::Address(client.0)) {
            return refused.into_response();
        }
    }
    let answered = tokio::time::timeout(
        s.limits.request_timeout,
        next.run(Request::from_parts(parts, body)),
    )
    .await;
    let Ok(mut response) = answered else {
        return ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "The request took too long. Please try again.",
        )
        .into_response();
    };
    if let Some(quota) = call.quota.get() {
        rate_headers(response.headers_mut(), *quota);
    }
    if let Some(token) = call.token.get() {
        let headers = response.headers_mut();
        // `try_from(String)` takes the string's buffer where `from_str` would copy it.
        if let TokenGrant::Classic { scopes } = &token.credential.grant
            && let Ok(v) = HeaderValue::try_from(scopes.header_value())
        {
            headers.insert(names::OAUTH_SCOPES, v);
        }
        if let Some(exp) = token.credential.expires_at
            && let Ok(v) = HeaderValue::try_from(json::expiration_header(exp))
        {
            headers.insert(names::TOKEN_EXPIRATION, v);
        }
    }
    response
}

/// `GET /rate_limit`: where the caller stands, without counting the request (GitHub's shape; every
/// resource but `core` is GitHub's and absent here).
async fn rate_limit(
    State(s): State<AppState>,
    MaybeToken(token): MaybeToken,
    client: crate::net::client::ClientIp,
) -> ApiResult<Response> {
    let subject = match &token {
        Some(t) => rate_subject(&t.credential),
        None => Subject::Address(client.0),
    };
    let quota = s.rate_limits.peek(subject, s.app.now().unix_timestamp());
    let core = serde_json::json!({
        "limit": quota.limit,
        "used": quota.used,
        "remaining": quota.remaining(),
        "reset": quota.reset,
        "resource": "core",
    });
    let mut response =
        axum::Json(serde_json::json!({"resources": {"core": core}, "rate": core})).into_response();
    rate_headers(response.headers_mut(), quota);
    Ok(response)
}

/// Whose budget a token's requests spend: its user's (all their tokens share it), or its
/// installation's.
pub fn rate_subject(credential: &patgate_domain::model::Credential) -> Subject {
    match &credential.grant {
        TokenGrant::AppInstallation { org, .. } => Subject::Installation(org.0),
        _ => Subject::User(credential.user.0),
    }
}

/// `X-Accepted-GitHub-Permissions` or `X-Accepted-OAuth-Scopes` on a successful response.
fn accepted(
    token: Option<&VerifiedToken>,
    need: Need,
    public: bool,
    mut response: Response,
) -> Response {
    let (name, value) = match token.map(|t| &t.credential.grant) {
        Some(TokenGrant::Classic { .. }) => (
            names::ACCEPTED_SCOPES,
            Ok(HeaderValue::from_static(
                need.classic_scope(public).map_or("", |s| s.name()),
            )),
        ),
        Some(_) => (
            names::ACCEPTED_PERMISSIONS,
            HeaderValue::try_from(need.accepted_permissions()),
        ),
        None => return response,
    };
    if let Ok(v) = value {
        response.headers_mut().insert(name, v);
    }
    response
}

async fn get_user(State(s): State<AppState>, TokenAuth(token): TokenAuth) -> ApiResult<Response> {
    // An installation acts for an organization, not a user: GitHub answers 403, not 401.
    if matches!(token.credential.grant, TokenGrant::AppInstallation { .. }) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        ));
    }
    s.app.authorize_account(&token.credential, None)?;
    // From the directory cache: a warm `GET /user` touches no database.
    let user = s
        .app
        .user_facts(token.credential.user)
        .await?
        .ok_or_else(ApiError::bad_credentials)?;
    Ok(s.rendered.user(&s.base_url, &user))
}

/// The repository a route names. A missing one answers exactly as a hidden one would: the same
/// 404, with the same accepted header for the route's need, so that no header tells them apart.
async fn repo_facts(
    s: &AppState,
    owner: &str,
    repo: &str,
    token: Option<&VerifiedToken>,
    need: Need,
) -> ApiResult<Arc<patgate_app::access::RepoFacts>> {
    s.app
        .repo_facts(owner, repo)
        .await?
        .ok_or_else(|| match token {
            Some(t) => patgate_app::AppError::from(patgate_domain::authz::not_found_for(
                &t.credential,
                patgate_domain::authz::Ask::Need(need),
            ))
            .into(),
            None => ApiError::not_found(),
        })
}

async fn get_repo(
    State(s): State<AppState>,
    Path((owner, repo)): Path<(String, String)>,
    MaybeToken(token): MaybeToken,
) -> ApiResult<Response> {
    let need = Need::new(Permission::METADATA, Level::Read);
    let facts = repo_facts(&s, &owner, &repo, token.as_deref(), need).await?;
    s.app
        .authorize_repo(token.as_ref().map(|t| &t.credential), &facts, need)
        .await
        .map_err(|e| match e {
            // An anonymous request for a private repository: it does not exist for them.
            patgate_app::AppError::BadCredentials if token.is_none() => ApiError::not_found(),
            other => other.into(),
        })?;
    let body = s.rendered.repo(&s.base_url, &facts);
    Ok(accepted(
        token.as_deref(),
        need,
        facts.repo.visibility.is_public(),
        body,
    ))
}

#[derive(Deserialize)]
struct NewKeyBody {
    #[serde(default)]
    title: String,
    key: Option<String>,
    #[serde(default)]
    read_only: bool,
}

async fn list_user_keys(
    State(s): State<AppState>,
    TokenAuth(token): TokenAuth,
) -> ApiResult<Response> {
    let keys = s.app.user_keys(&token).await?;
    let body: Vec<_> = keys
        .iter()
        .map(|k| json::key(&s.base_url, k, None))
        .collect();
    Ok(accepted(
        Some(&token),
        Need::new(Permission::KEYS, Level::Read),
        false,
        axum::Json(body).into_response(),
    ))
}

async fn get_user_key(
    State(s): State<AppState>,
    TokenAuth(token): TokenAuth,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let keys = s.app.user_keys(&token).await?;
    let key = keys
        .iter()
        .find(|k| k.id == KeyId(id))
        .ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(json::key(&s.base_url, key, None)).into_response())
}

async fn add_user_key(
    State(s): State<AppState>,
    TokenAuth(token): TokenAuth,
    ApiJson(body): ApiJson<NewKeyBody>,
) -> ApiResult<Response> {
    let key = s
        .app
        .add_user_key(&token, &body.title, body.key.as_deref().unwrap_or(""))
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json::key(&s.base_url, &key, None)),
    )
        .into_response())
}

async fn delete_user_key(
    State(s): State<AppState>,
    TokenAuth(token): TokenAuth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_user_key(&token, KeyId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_deploy_keys(
    State(s): State<AppState>,
    TokenAuth(token): TokenAuth,
    Path((owner, repo)): Path<(String, String)>,
) -> ApiResult<Response> {
    let need = Need::new(Permission::ADMINISTRATION, Level::Read);
    let facts = repo_facts(&s, &owner, &repo, Some(&token), need).await?;
    let keys = s.app.deploy_keys(&token, &facts).await?;
    let full = facts.repo.full_name();
    let body: Vec<_> = keys
        .iter()
        .map(|k| json::key(&s.base_url, k, Some(&full)))
        .collect();
    Ok(axum::Json(body).into_response())
}

async fn add_deploy_key(
    State(s): State<AppState>,
    TokenAuth(token): TokenAuth,
    Path((owner, repo)): Path<(String, String)>,
    ApiJson(body): ApiJson<NewKeyBody>,
) -> ApiResult<Response> {
    let need = Need::new(Permission::ADMINISTRATION, Level::Write);
    let facts = repo_facts(&s, &owner, &repo, Some(&token), need).await?;
    let key = s
        .app
        .add_deploy_key(
            &token,
            &facts,
            &body.title,
            body.key.as_deref().unwrap_or(""),
            body.read_only,
        )
        .await?;
    let full = facts.repo.full_name();
    Ok((
        StatusCode::CREATED,
        axum::Json(json::key(&s.base_url, &key, Some(&full))),
    )
        .into_response())
}

async fn delete_deploy_key(
    State(s): State<AppState>,
    TokenAuth(token): TokenAuth,
    Path((owner, repo, id)): Path<(String, String, i64)>,
) -> ApiResult<StatusCode> {
    let need = Need::new(Permission::ADMINISTRATION, Level::Write);
    let facts = repo_facts(&s, &owner, &repo, Some(&token), need).await?;
    s.app.delete_deploy_key(&token, &facts, KeyId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unknown paths: GitHub's 404 JSON.
pub async fn fallback() -> ApiError {
    ApiError::not_found()
}
