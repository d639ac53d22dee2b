//! GitHub's error shapes, produced once, here: `{message, documentation_url, status}`, plus
//! `errors[]` for 422. Internal details are logged, never sent.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use patgate_app::AppError;
use patgate_domain::authz::DenyStatus;

pub const DOCS: &str = "https://docs.github.com/rest";

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub errors: Vec<serde_json::Value>,
    /// Boxed: every handler returns `Result<_, ApiError>`, so the error stays small
    /// (clippy::result_large_err).
    pub headers: Box<HeaderMap>,
    /// The endpoint's documentation, when it is more specific than the REST root.
    pub documentation_url: Option<&'static str>,
    /// Fields patgate adds to GitHub's body (a 403's `required_permissions`, `rule`).
    pub extra: Vec<(&'static str, serde_json::Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            errors: Vec::new(),
            headers: Box::default(),
            documentation_url: None,
            extra: Vec::new(),
        }
    }
    pub fn bad_credentials() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "Bad credentials")
    }
    pub fn requires_authentication() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "Requires authentication")
    }
    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "Not Found")
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn invalid(resource: &str, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
        e.errors.push(
            json!({"resource": resource, "field": field, "code": "invalid", "message": message}),
        );
        e
    }
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::BadCredentials => ApiError::bad_credentials(),
            AppError::WrongCredential(msg) => ApiError::new(StatusCode::FORBIDDEN, msg),
            AppError::NotFound => ApiError::not_found(),
            AppError::Denied(d) => {
                let status = match d.status {
                    DenyStatus::Unauthorized => StatusCode::UNAUTHORIZED,
                    DenyStatus::Forbidden => StatusCode::FORBIDDEN,
                    DenyStatus::NotFound => StatusCode::NOT_FOUND,
                };
                let mut err = ApiError::new(status, d.message.clone());
                if let Some(p) = &d.accepted_permissions {
                    err = err.header("x-accepted-github-permissions", p);
                }
                if let Some(s) = &d.accepted_scopes {
                    err = err.header("x-accepted-oauth-scopes", s);
                }
                // A 403 says what was missing, which GitHub's do not: the caller may know, since
                // the resource is visible to them. A 404 says nothing more than GitHub's.
                if status == StatusCode::FORBIDDEN {
                    if let Some(p) = &d.accepted_permissions {
                        err.extra.push(("required_permissions", json!(p)));
                    }
                    if let Some(s) = &d.accepted_scopes {
                        err.extra.push(("required_scopes", json!(s)));
                    }
                    err.extra.push(("rule", json!(d.reason.rule_code())));
                }
                err
            }
            AppError::Forbidden(msg) => ApiError::new(StatusCode::FORBIDDEN, msg),
            AppError::Validation(errors) => {
                let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
                err.errors = errors
                    .0
                    .iter()
                    .map(|f| json!({"resource": f.resource, "field": f.field, "code": f.code.as_str(), "message": f.message}))
                    .collect();
                err
            }
            AppError::Conflict(msg) => ApiError::new(StatusCode::CONFLICT, msg),
            AppError::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable. Please try again shortly.",
            )
            .header("retry-after", "1"),
            AppError::Overloaded => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many requests are being authenticated at once. Please try again shortly.",
            )
            .header("retry-after", "1"),
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "message": self.message,
            "documentation_url": self.documentation_url.unwrap_or(DOCS),
            "status": self.status.as_u16().to_string(),
        });
        if !self.errors.is_empty() {
            body["errors"] = serde_json::Value::Array(self.errors);
        }
        for (key, value) in self.extra {
            body[key] = value;
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().extend(*self.headers);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"patgate\""),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
