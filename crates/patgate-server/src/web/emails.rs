//! Verifying the user's email address from the web: asking for a link (the banner on the token
//! pages), and opening it. Opening the link shows a button rather than verifying at once,
//! because mail scanners fetch links, and a fetch must not use the link up.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use patgate_app::AppError;
use patgate_app::emails::VerificationSent;

use super::flash;
use super::form::FormData;
use super::page::{self, WebError};
use super::session::{SignedIn, local_path};
use crate::state::AppState;

pub const SEND_PATH: &str = "/settings/emails/verification";
pub const VERIFY_PATH: &str = "/settings/emails/verify";

/// Sends the signed-in user a link, then returns to the page they were on.
pub async fn send(State(state): State<AppState>, signed: SignedIn, headers: HeaderMap) -> Response {
    // Back to the page the banner was on (same origin only), else the tokens page.
    let back = local_path(
        headers
            .get(header::REFERER)
            .and_then(|r| r.to_str().ok())
            .and_then(|r| r.strip_prefix(state.base_url.as_str())),
    );
    let message = match state.app.send_email_verification(&signed.user).await {
        Ok(VerificationSent::Sent) => format!(
            "We sent a verification link to {}. It works for 24 hours.",
            signed.user.email
        ),
        Ok(VerificationSent::AlreadySent) => format!(
            "A verification link was sent to {} moments ago. Use that one, or ask again in two minutes.",
            signed.user.email
        ),
        Err(AppError::Conflict(_)) => "Your email address is already verified.".to_owned(),
        Err(e) => return WebError::from(e).page(Some(&signed.chrome(page::Nav::FineGrained))),
    };
    (flash::set(&state, &message), page::see_other(&back)).into_response()
}

#[derive(Deserialize)]
pub struct CodeQuery {
    code: Option<String>,
}

#[derive(Template)]
#[template(path = "emails/verify.html")]
struct VerifyPage {
    code: String,
    outcome: Outcome,
}

enum Outcome {
    /// The link was opened: confirm with a button.
    Confirm,
    Verified {
        email: String,
    },
    Invalid,
}

/// The page a verification link opens.
pub async fn confirm(Query(q): Query<CodeQuery>) -> Response {
    let code = q.code.unwrap_or_default();
    let outcome = if code.is_empty() {
        Outcome::Invalid
    } else {
        Outcome::Confirm
    };
    let status = match outcome {
        Outcome::Invalid => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    };
    page::render(status, &VerifyPage { code, outcome })
}

/// Verifies the address the link was sent to. No sign-in is needed: the link's secret is the
/// proof.
pub async fn verify(State(state): State<AppState>, form: FormData) -> Response {
    let code = form.get("code").unwrap_or("").to_owned();
    match state.app.verify_email(&code).await {
        Ok(user) => page::ok(&VerifyPage {
            code: String::new(),
            outcome: Outcome::Verified { email: user.email },
        }),
        Err(AppError::NotFound) => page::render(
            StatusCode::NOT_FOUND,
            &VerifyPage {
                code: String::new(),
                outcome: Outcome::Invalid,
            },
        ),
        Err(e) => WebError::from(e).page(None),
    }
}
