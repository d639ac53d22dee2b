//! Users manage their own tokens. GitHub has no API for this (reference §10.1: the most asked-for
//! gap); patgate's follows GitHub's style: fine-grained tokens under
//! `/user/personal-access-tokens`, classic tokens under `/authorizations` in the shape of GitHub's
//! former Authorizations API. Users authenticate with their password (HTTP Basic), never a token.

use axum::Json;
use axum::extract::{RawQuery, State};

use super::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use patgate_app::tokens::{
    CreateClassic, CreateFineGrained, EditFineGrained, FineGrainedView, Issued,
};
use patgate_domain::model::{RepositorySelection, Token, TokenGrant, TokenId, User};
use patgate_domain::token::TokenKind;
use patgate_domain::validate::{Expiration, MAX_EXPIRY_DAYS, RequestedPermission};

use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, PasswordAuth};
use super::json;
use super::pagination;
use crate::state::AppState;

const FG: &str = "FineGrainedPersonalAccessToken";

/// `expires_in` (days or "none") or `expires_at` (a date, `YYYY-MM-DD`).
///
/// The range of `expires_in` is checked here so that the error names the field the client sent
/// (the domain's own check reports `expires_at`, which covers both forms).
fn expiration(
    resource: &str,
    expires_in: &Option<Value>,
    expires_at: &Option<String>,
) -> ApiResult<Option<Expiration>> {
    let in_range =
        |e: &Expiration| !matches!(e, Expiration::Days(d) if !(1..=MAX_EXPIRY_DAYS).contains(d));
    match (expires_in, expires_at) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            resource,
            "expires_at",
            "Give expires_in or expires_at, not both",
        )),
        (Some(Value::Number(n)), None) => n
            .as_u64()
            .and_then(|d| u16::try_from(d).ok())
            .map(Expiration::Days)
            .filter(in_range)
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(
                    resource,
                    "expires_in",
                    "expires_in must be between 1 and 366, or \"none\"",
                )
            }),
        (Some(Value::String(s)), None) => Expiration::parse_expires_in(s)
            .filter(in_range)
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(
                    resource,
                    "expires_in",
                    "expires_in must be between 1 and 366, or \"none\"",
                )
            }),
        (Some(Value::Null), None) | (None, None) => Ok(None),
        (Some(_), None) => Err(ApiError::invalid(
            resource,
            "expires_in",
            "expires_in must be between 1 and 366, or \"none\"",
        )),
        (None, Some(date)) => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(date, &format)
                .map(|d| Some(Expiration::Date(d)))
                .map_err(|_| {
                    ApiError::invalid(
                        resource,
                        "expires_at",
                        "expires_at must be a date, YYYY-MM-DD",
                    )
                })
        }
    }
}

/// Accepts GitHub's grouped form `{"repository": {"contents": "write"}, "organization": {...},
/// "other": {...}}` or a flat `{"contents": "write"}`.
fn permissions(value: &Option<Value>) -> ApiResult<Option<Vec<RequestedPermission>>> {
    let Some(value) = value else { return Ok(None) };
    let Some(map) = value.as_object() else {
        return Err(ApiError::invalid(
            FG,
            "permissions",
            "permissions must be an object",
        ));
    };
    let mut out = Vec::new();
    for (key, v) in map {
        match v {
            Value::String(level) => out.push(RequestedPermission {
                group: None,
                name: key.clone(),
                level: level.clone(),
            }),
            Value::Object(inner)
                if ["repository", "organization", "other", "account"].contains(&key.as_str()) =>
            {
                for (name, level) in inner {
                    let level = level.as_str().ok_or_else(|| {
                        ApiError::invalid(
                            FG,
                            "permissions",
                            format!("the level of {name} must be a string"),
                        )
                    })?;
                    out.push(RequestedPermission {
                        group: Some(key.clone()),
                        name: name.clone(),
                        level: level.to_owned(),
                    });
                }
            }
            _ => {
                return Err(ApiError::invalid(
                    FG,
                    "permissions",
                    format!("{key}: expected a level or a group of permissions"),
                ));
            }
        }
    }
    Ok(Some(out))
}

fn selection(value: &Option<String>) -> ApiResult<Option<RepositorySelection>> {
    value
        .as_deref()
        .map(|s| {
            RepositorySelection::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    FG,
                    "repository_selection",
                    "repository_selection must be none, all or subset",
                )
            })
        })
        .transpose()
}

fn token_id(raw: &str) -> ApiResult<TokenId> {
    raw.parse::<i64>()
        .map(TokenId)
        .map_err(|_| ApiError::not_found())
}

/// A fine-grained token as the API shows it, with the latest organization request and the
/// reviewer's reason: what the requester is told.
fn fine_grained_json(s: &AppState, v: &FineGrainedView, secret: Option<&str>) -> Value {
    let mut out = json::fine_grained_token(
        &s.base_url,
        &v.token,
        &v.owner,
        &v.repositories,
        secret,
        s.app.now(),
    );
    if let Some(r) = &v.latest_request {
        out["request"] = serde_json::json!({
            "id": r.id.0,
            "status": r.status.as_str(),
            "justification": r.reason,
            "created_at": json::ts(r.created_at),
            "decided_at": json::opt_ts(r.decided_at),
            "reason": r.decision_reason,
        });
    }
    out
}

async fn render_fine_grained(s: &AppState, t: &Token, secret: Option<&str>) -> ApiResult<Value> {
    let views = s.app.fine_grained_views(vec![t.clone()]).await?;
    let view = views.first().ok_or_else(ApiError::not_found)?;
    Ok(fine_grained_json(s, view, secret))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFineGrainedBody {
    name: Option<String>,
    description: Option<String>,
    justification: Option<String>,
    resource_owner: Option<String>,
    expires_in: Option<Value>,
    expires_at: Option<String>,
    repository_selection: Option<String>,
    #[serde(default)]
    repositories: Vec<String>,
    permissions: Option<Value>,
}

impl CreateFineGrainedBody {
    /// The request the app validates, once the fields' own shapes are checked.
    pub fn into_request(self) -> ApiResult<CreateFineGrained> {
        Ok(CreateFineGrained {
            expiration: expiration(FG, &self.expires_in, &self.expires_at)?,
            repository_selection: selection(&self.repository_selection)?,
            permissions: permissions(&self.permissions)?.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            description: self.description,
            justification: self.justification,
            resource_owner: self.resource_owner,
            repositories: self.repositories,
        })
    }
}

pub async fn create_fine_grained(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    ApiJson(body): ApiJson<CreateFineGrainedBody>,
) -> ApiResult<Response> {
    let req = body.into_request()?;
    let Issued { token, secret } = s.app.create_fine_grained(&user, req).await?;
    let body = render_fine_grained(&s, &token, Some(secret.expose())).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /user/personal-access-tokens`: the user's fine-grained tokens, newest first, `page`
/// and `per_page` (at most 100, default 30) paged in the database, with GitHub's `Link`.
pub async fn list_fine_grained(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pagination::pairs(&raw)?;
    let (page, per_page) = pagination::page_params(&pairs, FG, None)?;
    let listed = s
        .app
        .tokens_page(&user, TokenKind::FineGrained, page, per_page)
        .await?;
    let last = listed.last_page();
    let views = s.app.fine_grained_views(listed.items).await?;
    let body = views
        .iter()
        .map(|v| fine_grained_json(&s, v, None))
        .collect();
    Ok(pagination::paged(
        &s.base_url,
        "/user/personal-access-tokens",
        &pairs,
        listed.page,
        last,
        body,
    ))
}

async fn own(s: &AppState, user: &User, raw: &str, kind: TokenKind) -> ApiResult<Token> {
    let t = s.app.own_token(user, token_id(raw)?).await?;
    if t.kind() == kind {
        Ok(t)
    } else {
        Err(ApiError::not_found())
    }
}

pub async fn get_fine_grained(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let t = own(&s, &user, &id, TokenKind::FineGrained).await?;
    Ok(Json(render_fine_grained(&s, &t, None).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditFineGrainedBody {
    #[serde(default, with = "double_option")]
    description: Option<Option<String>>,
    justification: Option<String>,
    repository_selection: Option<String>,
    repositories: Option<Vec<String>>,
    permissions: Option<Value>,
}

/// Tells a missing field (keep) from an explicit `null` (clear).
mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

impl EditFineGrainedBody {
    /// The edit the app validates, once the fields' own shapes are checked.
    pub fn into_edit(self) -> ApiResult<EditFineGrained> {
        Ok(EditFineGrained {
            repository_selection: selection(&self.repository_selection)?,
            permissions: permissions(&self.permissions)?,
            description: self.description,
            justification: self.justification,
            repositories: self.repositories,
        })
    }
}

pub async fn edit_fine_grained(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EditFineGrainedBody>,
) -> ApiResult<Json<Value>> {
    let t = own(&s, &user, &id, TokenKind::FineGrained).await?;
    let edit = body.into_edit()?;
    let updated = s.app.edit_fine_grained(&user, t.id, edit).await?;
    Ok(Json(render_fine_grained(&s, &updated, None).await?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RegenerateBody {
    expires_in: Option<Value>,
    expires_at: Option<String>,
}

impl RegenerateBody {
    /// The new expiration of a token of `kind`.
    pub fn expiration(&self, kind: TokenKind) -> ApiResult<Option<Expiration>> {
        let resource = if kind == TokenKind::Classic {
            CLASSIC
        } else {
            FG
        };
        expiration(resource, &self.expires_in, &self.expires_at)
    }
}

pub async fn regenerate_fine_grained(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RegenerateBody>,
) -> ApiResult<Json<Value>> {
    let t = own(&s, &user, &id, TokenKind::FineGrained).await?;
    let exp = body.expiration(TokenKind::FineGrained)?;
    let Issued { token, secret } = s.app.regenerate(&user, t.id, exp).await?;
    Ok(Json(
        render_fine_grained(&s, &token, Some(secret.expose())).await?,
    ))
}

pub async fn delete_fine_grained(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let t = own(&s, &user, &id, TokenKind::FineGrained).await?;
    s.app.delete_token(&user, t.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

const CLASSIC: &str = "PersonalAccessToken";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateClassicBody {
    note: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    expires_in: Option<Value>,
    expires_at: Option<String>,
}

impl CreateClassicBody {
    /// The request the app validates, once the fields' own shapes are checked.
    pub fn into_request(self) -> ApiResult<CreateClassic> {
        Ok(CreateClassic {
            expiration: expiration(CLASSIC, &self.expires_in, &self.expires_at)?,
            note: self.note.unwrap_or_default(),
            scopes: self.scopes,
        })
    }
}

pub async fn create_classic(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    ApiJson(body): ApiJson<CreateClassicBody>,
) -> ApiResult<Response> {
    let req = body.into_request()?;
    let Issued { token, secret } = s.app.create_classic(&user, req).await?;
    let body = json::classic_token(&s.base_url, &token, &user, Some(secret.expose()));
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /authorizations`: the user's classic tokens, newest first, paged as
/// `list_fine_grained`.
pub async fn list_classic(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pagination::pairs(&raw)?;
    let (page, per_page) = pagination::page_params(&pairs, "Authorization", None)?;
    let listed = s
        .app
        .tokens_page(&user, TokenKind::Classic, page, per_page)
        .await?;
    let body = listed
        .items
        .iter()
        .map(|t| json::classic_token(&s.base_url, t, &user, None))
        .collect();
    Ok(pagination::paged(
        &s.base_url,
        "/authorizations",
        &pairs,
        listed.page,
        listed.last_page(),
        body,
    ))
}

pub async fn get_classic(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let t = own(&s, &user, &id, TokenKind::Classic).await?;
    Ok(Json(json::classic_token(&s.base_url, &t, &user, None)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditClassicBody {
    scopes: Option<Vec<String>>,
    add_scopes: Option<Vec<String>>,
    remove_scopes: Option<Vec<String>>,
}

pub async fn edit_classic(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EditClassicBody>,
) -> ApiResult<Json<Value>> {
    let t = own(&s, &user, &id, TokenKind::Classic).await?;
    let TokenGrant::Classic { scopes: current } = &t.grant else {
        return Err(ApiError::not_found());
    };
    let mut names: Vec<String> = match body.scopes {
        Some(all) => all,
        None => current.list().iter().map(|s| s.name().to_owned()).collect(),
    };
    names.extend(body.add_scopes.unwrap_or_default());
    let remove = body.remove_scopes.unwrap_or_default();
    // An unknown scope is refused wherever it is named, as `add_scopes` refuses one.
    if let Err(e) = patgate_domain::scopes::Scopes::from_names(remove.iter().map(String::as_str)) {
        return Err(ApiError::invalid(
            "PersonalAccessToken",
            "remove_scopes",
            e.to_string(),
        ));
    }
    names.retain(|n| !remove.contains(n));
    let updated = s.app.edit_classic_scopes(&user, t.id, &names).await?;
    Ok(Json(json::classic_token(
        &s.base_url,
        &updated,
        &user,
        None,
    )))
}

pub async fn regenerate_classic(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RegenerateBody>,
) -> ApiResult<Json<Value>> {
    let t = own(&s, &user, &id, TokenKind::Classic).await?;
    let exp = body.expiration(TokenKind::Classic)?;
    let Issued { token, secret } = s.app.regenerate(&user, t.id, exp).await?;
    Ok(Json(json::classic_token(
        &s.base_url,
        &token,
        &user,
        Some(secret.expose()),
    )))
}

pub async fn delete_classic(
    State(s): State<AppState>,
    PasswordAuth(user): PasswordAuth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let t = own(&s, &user, &id, TokenKind::Classic).await?;
    s.app.delete_token(&user, t.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
