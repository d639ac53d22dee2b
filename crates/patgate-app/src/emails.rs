//! Verifying a user's email address: patgate sends a link, opening it verifies the address
//! (seed 004: creating a token needs a verified address).
//!
//! The link's secret is random (256 bits); the store keeps only its SHA-256, and the outbox
//! keeps the secret itself only until the message is delivered.

use time::Duration;

use patgate_domain::model::User;
use patgate_domain::session::SessionSecret;
use patgate_domain::validate::{ErrorCode, FieldError, ValidationErrors};
use patgate_store::NewEmailVerification;

use crate::notify::{self, Notice, Person};
use crate::{App, AppError};

/// How long a link works.
pub const VERIFICATION_LIFETIME: Duration = Duration::hours(24);

/// A user asks for one link per this many seconds at most; asking again sooner sends nothing.
pub const VERIFICATION_INTERVAL_SECS: i64 = 120;

/// What asking for a link did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerificationSent {
    Sent,
    /// One was sent moments ago; that one still works.
    AlreadySent,
}

impl App {
    /// Sends `user` a link that verifies their address.
    pub async fn send_email_verification(&self, user: &User) -> Result<VerificationSent, AppError> {
        if user.email_verified {
            return Err(AppError::Conflict(format!(
                "{} is already verified",
                user.email
            )));
        }
        if user.email.trim().is_empty() {
            return Err(AppError::Validation(ValidationErrors::one(
                FieldError::new(
                    "User",
                    "email",
                    ErrorCode::MissingField,
                    "the account has no email address to verify",
                ),
            )));
        }
        let now = self.now();
        let secret = SessionSecret::generate();
        let expires_at = now + VERIFICATION_LIFETIME;
        let mut message = notify::email_to(
            &User {
                // The one message that goes to an unverified address: it is what verifies it.
                email_verified: true,
                ..user.clone()
            },
            format!(
                "email:verify_email:{}:{}",
                user.id.0,
                now.unix_timestamp().div_euclid(VERIFICATION_INTERVAL_SECS)
            ),
            None,
            None,
            Notice::VerifyEmail {
                user: Person::of(user),
                email: user.email.clone(),
                expires_at,
            },
            now,
        )
        .ok_or(AppError::NotFound)?;
        message.secret = Some(secret.expose().to_owned());
        let written = self
            .store()
            .insert_email_verification(
                &NewEmailVerification {
                    hash: secret.hash(),
                    user: user.id,
                    email: user.email.clone(),
                    created_at: now,
                    expires_at,
                },
                &message,
            )
            .await?;
        if !written {
            return Ok(VerificationSent::AlreadySent);
        }
        self.outbox_written();
        Ok(VerificationSent::Sent)
    }

    /// Opens a verification link: the user whose address it verified. A link that is unknown,
    /// used, expired or sent to an address the user no longer has is `NotFound`.
    pub async fn verify_email(&self, code: &str) -> Result<User, AppError> {
        let secret = SessionSecret::parse(code).ok_or(AppError::NotFound)?;
        let id = self
            .store()
            .verify_email(&secret.hash(), self.now())
            .await?
            .ok_or(AppError::NotFound)?;
        self.directory_changed();
        self.store().user_by_id(id).await?.ok_or(AppError::NotFound)
    }
}
