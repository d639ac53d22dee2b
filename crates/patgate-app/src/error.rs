//! The application's error: what went wrong in domain terms, mapped to HTTP once, at the edge.

use patgate_domain::authz::Denial;
use patgate_domain::validate::ValidationErrors;
use patgate_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Missing, malformed, unknown, expired or deleted credentials (GitHub's "Bad credentials").
    #[error("Bad credentials")]
    BadCredentials,
    /// The credential is of a kind this endpoint does not take.
    #[error("{0}")]
    WrongCredential(String),
    #[error("Not Found")]
    NotFound,
    /// An authorization refusal with its status and message.
    #[error("{}", .0.message)]
    Denied(Box<Denial>),
    #[error("{0}")]
    Forbidden(String),
    #[error("Validation Failed: {0}")]
    Validation(ValidationErrors),
    #[error("{0}")]
    Conflict(String),
    #[error("database unavailable")]
    Unavailable,
    /// Too much work of one kind at once (sign-ins waiting to be hashed): try again shortly.
    #[error("overloaded")]
    Overloaded,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound | StoreError::Missing(_) => AppError::NotFound,
            StoreError::UniqueViolation(what) => {
                AppError::Conflict(format!("already exists: {what}"))
            }
            StoreError::Conflict(what) => AppError::Conflict(what),
            StoreError::Unavailable(_) => AppError::Unavailable,
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<ValidationErrors> for AppError {
    fn from(e: ValidationErrors) -> Self {
        AppError::Validation(e)
    }
}

impl From<Denial> for AppError {
    fn from(d: Denial) -> Self {
        AppError::Denied(Box::new(d))
    }
}
