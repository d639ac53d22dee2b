//! `/openapi.json`: the API description, generated from one table of operations (the same table
//! that a test checks against the router, so the two cannot drift apart).

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use crate::state::AppState;

/// How an operation authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    Token,
    OptionalToken,
    Password,
    /// The user's password, or a token of theirs with the permission the operation names.
    PasswordOrToken,
}

pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub id: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub success: u16,
}

pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "get",
        path: "/healthz",
        id: "meta/healthz",
        summary: "Liveness: 200 while the process serves requests (no database involved)",
        auth: Auth::None,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/readyz",
        id: "meta/readyz",
        summary: "Readiness: 200 when the process's database answers, 503 when it does not",
        auth: Auth::None,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/user",
        id: "users/get-authenticated",
        summary: "The user the token belongs to (any valid token)",
        auth: Auth::Token,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/repos/{owner}/{repo}",
        id: "repos/get",
        summary: "A repository (metadata read, or public)",
        auth: Auth::OptionalToken,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/user/keys",
        id: "users/list-public-ssh-keys-for-authenticated-user",
        summary: "The user's SSH keys (keys read / read:public_key)",
        auth: Auth::Token,
        success: 200,
    },
    Operation {
        method: "post",
        path: "/user/keys",
        id: "users/create-public-ssh-key-for-authenticated-user",
        summary: "Add an SSH key (keys write / write:public_key)",
        auth: Auth::Token,
        success: 201,
    },
    Operation {
        method: "get",
        path: "/user/keys/{key_id}",
        id: "users/get-public-ssh-key-for-authenticated-user",
        summary: "One SSH key",
        auth: Auth::Token,
        success: 200,
    },
    Operation {
        method: "delete",
        path: "/user/keys/{key_id}",
        id: "users/delete-public-ssh-key-for-authenticated-user",
        summary: "Delete an SSH key",
        auth: Auth::Token,
        success: 204,
    },
    Operation {
        method: "get",
        path: "/repos/{owner}/{repo}/keys",
        id: "repos/list-deploy-keys",
        summary: "Deploy keys (administration read / repo)",
        auth: Auth::Token,
        success: 200,
    },
    Operation {
        method: "post",
        path: "/repos/{owner}/{repo}/keys",
        id: "repos/create-deploy-key",
        summary: "Add a deploy key (administration write / repo); deleted with the token that created it",
        auth: Auth::Token,
        success: 201,
    },
    Operation {
        method: "delete",
        path: "/repos/{owner}/{repo}/keys/{key_id}",
        id: "repos/delete-deploy-key",
        summary: "Delete a deploy key",
        auth: Auth::Token,
        success: 204,
    },
    Operation {
        method: "get",
        path: "/user/personal-access-tokens",
        id: "patgate/list-fine-grained-tokens",
        summary: "Your fine-grained tokens",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "post",
        path: "/user/personal-access-tokens",
        id: "patgate/create-fine-grained-token",
        summary: "Create a fine-grained token; the secret is in the response once",
        auth: Auth::Password,
        success: 201,
    },
    Operation {
        method: "get",
        path: "/user/personal-access-tokens/{token_id}",
        id: "patgate/get-fine-grained-token",
        summary: "One fine-grained token",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "patch",
        path: "/user/personal-access-tokens/{token_id}",
        id: "patgate/update-fine-grained-token",
        summary: "Edit description, repositories and permissions",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "delete",
        path: "/user/personal-access-tokens/{token_id}",
        id: "patgate/delete-fine-grained-token",
        summary: "Delete (and its deploy keys)",
        auth: Auth::Password,
        success: 204,
    },
    Operation {
        method: "post",
        path: "/user/personal-access-tokens/{token_id}/regenerate",
        id: "patgate/regenerate-fine-grained-token",
        summary: "New secret and expiry, same token id",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/authorizations",
        id: "oauth-authorizations/list-authorizations",
        summary: "Your classic tokens",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "post",
        path: "/authorizations",
        id: "oauth-authorizations/create-authorization",
        summary: "Create a classic token; the secret is in the response once",
        auth: Auth::Password,
        success: 201,
    },
    Operation {
        method: "get",
        path: "/authorizations/{token_id}",
        id: "oauth-authorizations/get-authorization",
        summary: "One classic token",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "patch",
        path: "/authorizations/{token_id}",
        id: "oauth-authorizations/update-authorization",
        summary: "Replace, add or remove scopes",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "delete",
        path: "/authorizations/{token_id}",
        id: "oauth-authorizations/delete-authorization",
        summary: "Delete (and its deploy keys)",
        auth: Auth::Password,
        success: 204,
    },
    Operation {
        method: "post",
        path: "/authorizations/{token_id}/regenerate",
        id: "patgate/regenerate-classic-token",
        summary: "New secret and expiry, same token id",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/personal-access-token-requests",
        id: "orgs/list-pat-grant-requests",
        summary: "Pending requests of the organization (app installation with organization_personal_access_token_requests: read)",
        auth: Auth::Token,
        success: 200,
    },
    Operation {
        method: "post",
        path: "/orgs/{org}/personal-access-token-requests",
        id: "orgs/review-pat-grant-requests-in-bulk",
        summary: "Approve or deny up to 100 requests at once, all or none (requests: write)",
        auth: Auth::Token,
        success: 202,
    },
    Operation {
        method: "post",
        path: "/orgs/{org}/personal-access-token-requests/{pat_request_id}",
        id: "orgs/review-pat-grant-request",
        summary: "Approve or deny one request (requests: write)",
        auth: Auth::Token,
        success: 204,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/personal-access-token-requests/{pat_request_id}/repositories",
        id: "orgs/list-pat-grant-request-repositories",
        summary: "Repositories a request asks for (requests: read)",
        auth: Auth::Token,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/organizations/{org_id}/personal-access-token-requests/{pat_request_id}/repositories",
        id: "patgate/list-pat-grant-request-repositories-by-org-id",
        summary: "The same, at the repositories_url GitHub builds",
        auth: Auth::Token,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/personal-access-tokens",
        id: "orgs/list-pat-grants",
        summary: "Fine-grained tokens with access to the organization (organization_personal_access_tokens: read)",
        auth: Auth::Token,
        success: 200,
    },
    Operation {
        method: "post",
        path: "/orgs/{org}/personal-access-tokens",
        id: "orgs/update-pat-accesses",
        summary: "Revoke up to 100 grants at once, all or none (tokens: write)",
        auth: Auth::Token,
        success: 202,
    },
    Operation {
        method: "post",
        path: "/orgs/{org}/personal-access-tokens/{pat_id}",
        id: "orgs/update-pat-access",
        summary: "Revoke one grant (tokens: write)",
        auth: Auth::Token,
        success: 204,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/personal-access-tokens/{pat_id}/repositories",
        id: "orgs/list-pat-grant-repositories",
        summary: "Repositories a grant reaches (tokens: read)",
        auth: Auth::Token,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/organizations/{org_id}/personal-access-tokens/{pat_id}/repositories",
        id: "patgate/list-pat-grant-repositories-by-org-id",
        summary: "The same, at the repositories_url GitHub builds",
        auth: Auth::Token,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/apps",
        id: "patgate/list-org-apps",
        summary: "The organization's apps (owners)",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "post",
        path: "/orgs/{org}/apps",
        id: "patgate/create-org-app",
        summary: "Register an app with organization permissions (owners)",
        auth: Auth::Password,
        success: 201,
    },
    Operation {
        method: "post",
        path: "/orgs/{org}/apps/{app_id}/access_tokens",
        id: "patgate/create-app-installation-token",
        summary: "Mint a one-hour installation token (owners)",
        auth: Auth::Password,
        success: 201,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/personal-access-token-policy",
        id: "patgate/get-pat-policy",
        summary: "The effective token policy and who set each part (members)",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "put",
        path: "/orgs/{org}/personal-access-token-policy",
        id: "patgate/set-pat-policy",
        summary: "Set the organization's token policy (owners); audited",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/audit-log",
        id: "orgs/get-audit-log",
        summary: "The organization's audit log, filtered by phrase (action:, actor:, created:) (owners)",
        auth: Auth::Password,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/hooks",
        id: "orgs/list-webhooks",
        summary: "The organization's webhooks (owners; admin:org_hook or Webhooks read)",
        auth: Auth::PasswordOrToken,
        success: 200,
    },
    Operation {
        method: "post",
        path: "/orgs/{org}/hooks",
        id: "orgs/create-webhook",
        summary: "Register a webhook for personal_access_token_request events; it is pinged (owners; Webhooks write)",
        auth: Auth::PasswordOrToken,
        success: 201,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/hooks/{hook_id}",
        id: "orgs/get-webhook",
        summary: "A webhook (owners)",
        auth: Auth::PasswordOrToken,
        success: 200,
    },
    Operation {
        method: "patch",
        path: "/orgs/{org}/hooks/{hook_id}",
        id: "orgs/update-webhook",
        summary: "Change a webhook's URL, secret, events or active flag (owners)",
        auth: Auth::PasswordOrToken,
        success: 200,
    },
    Operation {
        method: "delete",
        path: "/orgs/{org}/hooks/{hook_id}",
        id: "orgs/delete-webhook",
        summary: "Delete a webhook (owners)",
        auth: Auth::PasswordOrToken,
        success: 204,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/hooks/{hook_id}/config",
        id: "orgs/get-webhook-config-for-org",
        summary: "A webhook's configuration; the secret shown as ******** (owners)",
        auth: Auth::PasswordOrToken,
        success: 200,
    },
    Operation {
        method: "patch",
        path: "/orgs/{org}/hooks/{hook_id}/config",
        id: "orgs/update-webhook-config-for-org",
        summary: "Change a webhook's URL or secret (owners)",
        auth: Auth::PasswordOrToken,
        success: 200,
    },
    Operation {
        method: "post",
        path: "/orgs/{org}/hooks/{hook_id}/pings",
        id: "orgs/ping-webhook",
        summary: "Send the webhook a ping event (owners)",
        auth: Auth::PasswordOrToken,
        success: 204,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/hooks/{hook_id}/deliveries",
        id: "orgs/list-webhook-deliveries",
        summary: "The webhook's deliveries, newest first, with status and response code (owners)",
        auth: Auth::PasswordOrToken,
        success: 200,
    },
    Operation {
        method: "get",
        path: "/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}",
        id: "orgs/get-webhook-delivery",
        summary: "A delivery with its request body and every attempt (owners)",
        auth: Auth::PasswordOrToken,
        success: 200,
    },
    Operation {
        method: "post",
        path: "/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts",
        id: "orgs/redeliver-webhook-delivery",
        summary: "Send a delivery again now (owners)",
        auth: Auth::PasswordOrToken,
        success: 202,
    },
    Operation {
        method: "delete",
        path: "/user/personal-access-tokens/{token_id}/request",
        id: "patgate/cancel-fine-grained-token-request",
        summary: "Withdraw a token's pending request",
        auth: Auth::Password,
        success: 204,
    },
    Operation {
        method: "post",
        path: "/credentials/revoke",
        id: "credentials/revoke",
        summary: "Revoke leaked tokens; unauthenticated only; always 202",
        auth: Auth::None,
        success: 202,
    },
    Operation {
        method: "get",
        path: "/openapi.json",
        id: "meta/openapi",
        summary: "This document",
        auth: Auth::None,
        success: 200,
    },
];

pub fn build(base_url: &str) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for op in OPERATIONS {
        let params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let security = match op.auth {
            Auth::None => json!([]),
            Auth::Token => json!([{"token": []}]),
            Auth::OptionalToken => json!([{"token": []}, {}]),
            Auth::Password => json!([{"password": []}]),
            Auth::PasswordOrToken => json!([{"password": []}, {"token": []}]),
        };
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = json!({
            "operationId": op.id,
            "summary": op.summary,
            "parameters": params,
            "security": security,
            "responses": {
                op.success.to_string(): {"description": "Success"},
                "401": {"$ref": "#/components/responses/error"},
                "403": {"$ref": "#/components/responses/error"},
                "404": {"$ref": "#/components/responses/error"},
                "422": {"$ref": "#/components/responses/error"}
            }
        });
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "patgate", "version": env!("CARGO_PKG_VERSION"), "description": "Personal access tokens with organization governance. See docs/api.md."},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "A personal access token: `Authorization: Bearer <token>` or `token <token>`, or the password of Basic auth"},
                "password": {"type": "http", "scheme": "basic", "description": "Your login and password"}
            },
            "schemas": {
                "basic-error": {"type": "object", "properties": {"message": {"type": "string"}, "documentation_url": {"type": "string"}, "status": {"type": "string"}}},
                "validation-error": {"type": "object", "required": ["message", "documentation_url"], "properties": {"message": {"type": "string"}, "documentation_url": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object", "required": ["code"], "properties": {"resource": {"type": "string"}, "field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}}}}}
            },
            "responses": {
                "error": {"description": "GitHub's error JSON", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/basic-error"}}}}
            }
        }
    })
}

pub async fn document(State(s): State<AppState>) -> Json<Value> {
    Json(build(&s.base_url))
}
