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
        summary: "Health: 200 when the server and its database answer, 503 when the database does not",
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
