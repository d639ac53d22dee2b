//! Credentials and bodies, with GitHub's rejections.
//!
//! A token comes as `Authorization: Bearer <t>`, `Authorization: token <t>`, or as the password of
//! Basic auth (any non-empty username). A user's own password (Basic) is accepted only by the
//! endpoints with which users manage their tokens, and a token is never accepted there.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use patgate_app::verify::VerifiedToken;
use patgate_domain::model::User;
use patgate_domain::token::TokenFormat;

use super::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What the `Authorization` header holds.
pub enum Presented {
    None,
    Token(String),
    Password { login: String, password: String },
}

/// The `user:password` of a Basic credential (`value` is what follows `Basic `): standard base64
/// of UTF-8, split at the first `:`.
pub fn decode_basic(value: &str) -> Option<(String, String)> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

pub fn presented(parts: &Parts, state: &AppState) -> ApiResult<Presented> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(Presented::None);
    };
    let value = value.to_str().map_err(|_| ApiError::bad_credentials())?;
    presented_in(value, state)
}

/// What an `Authorization` header value holds (`Bearer <t>`, `token <t>`, or Basic), as the
/// REST routes read it: the authorization API reads a header its caller hands it the same way.
pub fn presented_in(value: &str, state: &AppState) -> ApiResult<Presented> {
    parse_authorization(value, state.app.token_format()).ok_or_else(ApiError::bad_credentials)
}

/// [`presented_in`] without the state: `format` tells a token from a password in Basic. `None`
/// for what the REST routes answer `401 Bad credentials` to (an unknown scheme, an empty token,
/// Basic that is not base64 of UTF-8 `user:password`, an empty username).
pub fn parse_authorization(value: &str, format: &TokenFormat) -> Option<Presented> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "token" if !rest.is_empty() => Some(Presented::Token(rest.to_owned())),
        "basic" => {
            let (user, pass) = decode_basic(rest)?;
            // GitHub refuses an empty username even though it is otherwise ignored.
            if user.is_empty() {
                return None;
            }
            if format.kind_of(&pass).is_some() {
                Some(Presented::Token(pass))
            } else {
                Some(Presented::Password {
                    login: user,
                    password: pass,
                })
            }
        }
        _ => None,
    }
}

/// A request authenticated by a personal access token (required).
pub struct TokenAuth(pub Arc<VerifiedToken>);

/// A request that may carry a token (public resources are readable without one).
pub struct MaybeToken(pub Option<Arc<VerifiedToken>>);

async fn verify(parts: &mut Parts, state: &AppState) -> ApiResult<Option<Arc<VerifiedToken>>> {
    let call = parts.extensions.get::<Arc<super::ApiCall>>().cloned();
    if let Some(cached) = call.as_ref().and_then(|c| c.token.get()) {
        return Ok(Some(cached.clone()));
    }
    match presented(parts, state)? {
        Presented::None => Ok(None),
        Presented::Password { .. } => Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "Password authentication is only accepted for managing your tokens. Use a personal access token.",
        )),
        Presented::Token(t) => {
            // A suspended user's token answers GitHub's 403 here, on every route. The REST
            // API's own routes throttle bad tokens by client; the platform's (forward auth)
            // see every user through the platform's proxy and leave throttling to it.
            let verified = if call.as_ref().is_some_and(|c| c.charged) {
                verify_throttled(state, crate::net::client::ClientIp::of(parts), &t).await?
            } else {
                state.app.verify_active(&t).await?
            };
            super::charge(parts, state, super::rate_subject(&verified.credential))?;
            // `api_request` reads it back to add the token headers.
            if let Some(call) = &call {
                let _ = call.token.set(verified.clone());
            }
            Ok(Some(verified))
        }
    }
}

impl FromRequestParts<AppState> for TokenAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        verify(parts, state)
            .await?
            .map(TokenAuth)
            .ok_or_else(ApiError::requires_authentication)
    }
}

impl FromRequestParts<AppState> for MaybeToken {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        Ok(MaybeToken(verify(parts, state).await?))
    }
}

/// A user authenticated by their password (HTTP Basic), never by a token.
pub struct PasswordAuth(pub User);

impl FromRequestParts<AppState> for PasswordAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match presented(parts, state)? {
            Presented::Password { login, password } => {
                let client = crate::net::client::ClientIp::of(parts);
                let user = authenticate_password(state, client, &login, &password).await?;
                super::charge(parts, state, crate::ratelimit::Subject::User(user.id.0))?;
                Ok(PasswordAuth(user))
            }
            Presented::Token(_) => Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "Personal access tokens cannot manage personal access tokens. Authenticate with your username and password (HTTP Basic).",
            )),
            Presented::None => Err(ApiError::requires_authentication()),
        }
    }
}

/// Path parameters, with GitHub's 404 JSON for any that do not parse (an id that is not a
/// number or overflows, bytes that are not UTF-8 such as `%ff`): to the client such a path
/// names nothing.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|_| ApiError::not_found())
    }
}

/// Verifies a token behind the bad-token throttle: a client address that has presented too many
/// tokens that do not verify (unknown, revoked, expired) is refused for a while before any
/// lookup, with GitHub's 403. The count is per address, never per account: a token names no
/// account until it verifies, and a stranger's guessing must not lock its owner out.
pub async fn verify_throttled(
    state: &AppState,
    client: crate::net::client::ClientIp,
    token: &str,
) -> ApiResult<Arc<VerifiedToken>> {
    let now = std::time::Instant::now();
    if state.throttles.bad_tokens.exhausted(&client.0, now) {
        state.metrics.bad_token_throttled();
        return Err(too_many_attempts(
            state.throttles.bad_tokens.retry_after(&client.0, now),
        ));
    }
    match state.app.verify_active(token).await {
        Err(patgate_app::AppError::BadCredentials) => {
            let _ = state.throttles.bad_tokens.try_use(&client.0, now);
            Err(ApiError::bad_credentials())
        }
        other => Ok(other?),
    }
}

fn too_many_attempts(retry_after: std::time::Duration) -> ApiError {
    ApiError::new(axum::http::StatusCode::FORBIDDEN, TOO_MANY_LOGIN_ATTEMPTS)
        .header("retry-after", &retry_after.as_secs().max(1).to_string())
}

/// GitHub's answer once a client has made too many failed password attempts.
pub const TOO_MANY_LOGIN_ATTEMPTS: &str =
    "Maximum number of login attempts exceeded. Please try again later.";

/// Checks a user's password behind the password throttles: the attempt is counted before argon2
/// runs, and refused outright when the client, or the account from an address it has not signed
/// in from, is over its limit (403 with `Retry-After`, as GitHub answers).
pub async fn authenticate_password(
    state: &AppState,
    client: crate::net::client::ClientIp,
    login: &str,
    password: &str,
) -> ApiResult<User> {
    let attempt = state
        .throttles
        .passwords
        .admit(login, client.0)
        .await
        .map_err(|refused| too_many_attempts(refused.retry_after))?;
    match state.app.authenticate_password(login, password).await {
        Ok(user) => {
            attempt.succeeded();
            Ok(user)
        }
        Err(patgate_app::AppError::BadCredentials) => {
            attempt.failed();
            Err(ApiError::bad_credentials())
        }
        // Not a verdict on the password (overload, database down): the attempt is refunded.
        Err(other) => Err(other.into()),
    }
}

/// JSON body with GitHub's answers instead of axum's plain-text rejections: 400 for a body that
/// is not a JSON object, 413 for one over the limit, and 422 `Invalid request` naming each field
/// that has the wrong shape (GitHub's `validation-error` objects).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                        "The request body is too large.",
                    )
                } else {
                    ApiError::bad_request("Problems parsing JSON")
                }
            })?;
        let value: serde_json::Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|_| ApiError::bad_request("Problems parsing JSON"))?
        };
        if !value.is_object() {
            return Err(ApiError::bad_request("Body should be a JSON object"));
        }
        serde_path_to_error::deserialize(value)
            .map(ApiJson)
            .map_err(|e| {
                let mut err = ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid request",
                );
                err.errors.push(shape_error::<T>(&e));
                err
            })
    }
}

/// One of GitHub's `validation-error` objects for a body field of the wrong shape.
fn shape_error<T>(e: &serde_path_to_error::Error<serde_json::Error>) -> serde_json::Value {
    let message = e.inner().to_string();
    // serde reports a missing field at the object that lacks it.
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned());
    let path = e.path().to_string();
    let (field, code) = match missing {
        Some(name) if path == "." => (name, "missing_field"),
        Some(name) => (format!("{path}.{name}"), "missing_field"),
        None => (path, "invalid"),
    };
    let type_name = std::any::type_name::<T>();
    let resource = type_name.rsplit("::").next().unwrap_or(type_name);
    let resource = resource.strip_suffix("Body").unwrap_or(resource);
    serde_json::json!({
        "resource": resource,
        "field": field,
        "code": code,
        "message": message,
    })
}

/// The message for a credential of the wrong kind on a service route.
fn not_a_service(what: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        format!(
            "{what} cannot call the platform's directory or authorization API. Authenticate with a service credential (docs/platform.md)."
        ),
    )
}

/// The service a request comes from, by its credential (`Authorization: Bearer pgsvc_...`,
/// or Basic with the secret as the password, as OAuth token introspection clients send it),
/// holding `scope`. A user's token or password is refused with 403, anything else with 401.
pub fn service(
    parts: &Parts,
    state: &AppState,
    scope: crate::service::ServiceScope,
) -> ApiResult<crate::service::ServiceCredential> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Err(ApiError::requires_authentication());
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::bad_credentials())?
        .trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    let secret = match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "token" if !rest.is_empty() => rest.to_owned(),
        "basic" => {
            let (_, pass) = decode_basic(rest).ok_or_else(ApiError::bad_credentials)?;
            if !pass.starts_with(crate::service::PREFIX)
                && state.app.token_format().kind_of(&pass).is_none()
            {
                return Err(not_a_service("A password"));
            }
            pass
        }
        _ => return Err(ApiError::bad_credentials()),
    };
    if state.app.token_format().kind_of(&secret).is_some() {
        return Err(not_a_service("A personal access token"));
    }
    let found = state
        .services
        .verify(&secret)
        .ok_or_else(ApiError::bad_credentials)?;
    if !found.allows(scope) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            format!(
                "The service credential {} does not have the {} scope.",
                found.name,
                scope.as_str()
            ),
        ));
    }
    Ok(found.clone())
}

/// A request from a service holding the `directory` scope.
pub struct DirectoryService(pub crate::service::ServiceCredential);

impl FromRequestParts<AppState> for DirectoryService {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        service(parts, state, crate::service::ServiceScope::Directory).map(DirectoryService)
    }
}

impl DirectoryService {
    /// Who the audit log names.
    pub fn operator(&self) -> patgate_app::directory::Operator {
        patgate_app::directory::Operator::service(&self.0.name)
    }
}

/// A request from a service holding the `authorize` scope.
pub struct AuthorizeService(pub crate::service::ServiceCredential);

impl FromRequestParts<AppState> for AuthorizeService {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        service(parts, state, crate::service::ServiceScope::Authorize).map(AuthorizeService)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a header value is read as; `None`: 401.
    #[derive(Debug, PartialEq)]
    enum Read {
        Token(String),
        Password(String, String),
        Nothing,
    }

    #[test]
    fn authorization_values_parse_as_the_routes_read_them() {
        let format = TokenFormat::default();
        let token = "pgf_Eeeby3abP3E2Zs8IQ9Y7aJZqhB6bae2dTjzx";
        let as_token = || Some(Read::Token(token.to_owned()));
        let bearer = format!("Bearer {token}");
        let spaced = format!("  token   {token} ");
        // (header value, what it is read as)
        let cases = [
            (bearer.as_str(), as_token()),
            (spaced.as_str(), as_token()),
            // alice:alice-password
            (
                "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=",
                Some(Read::Password("alice".into(), "alice-password".into())),
            ),
            // x:<token>
            (
                "basic eDpwZ2ZfRWVlYnkzYWJQM0UyWnM4SVE5WTdhSlpxaEI2YmFlMmRUanp4",
                as_token(),
            ),
            // :empty-user
            ("Basic OmVtcHR5LXVzZXI=", None),
            ("Basic not base64", None),
            ("Bearer", None),
            ("Bearer   ", None),
            ("Digest abc", None),
        ];
        for (value, expected) in cases {
            let got = parse_authorization(value, &format).map(|p| match p {
                Presented::Token(t) => Read::Token(t),
                Presented::Password { login, password } => Read::Password(login, password),
                Presented::None => Read::Nothing,
            });
            assert_eq!(got, expected, "{value:?}");
        }
    }
}
