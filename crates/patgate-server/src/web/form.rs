//! Form bodies (`application/x-www-form-urlencoded`, repeated keys kept in order) and the form
//! token every signed-in form carries.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::page::WebError;
use super::session::presented_secret;
use crate::state::AppState;

/// The largest form a page sends (a token form with every permission and hundreds of
/// repositories stays far below).
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// The name of the form token's field.
pub const FORM_TOKEN: &str = "_csrf";

/// A form's fields, in order.
#[derive(Clone, Debug, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(bytes: &[u8]) -> FormData {
        FormData(form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of `name`, trimmed, `None` when empty.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            WebError::Forbidden("The form is too large.".to_owned()).into_response()
        })?;
        Ok(FormData::parse(&bytes))
    }
}

/// Refuses a signed-in browser's POST whose form does not carry the session's form token: a
/// page of another site can make the browser send the cookie, but it cannot know the token.
/// (The `CsrfLayer` in front already refuses cross-site requests by their `Origin` and
/// `Sec-Fetch-Site`; this holds even where a proxy strips those.)
pub async fn require_form_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    // Signing in needs no session (a stale cookie must not stand in the way); the `CsrfLayer`
    // guards it.
    // Opening a verification link needs none either: the link's secret is the proof.
    if req.method() != Method::POST
        || req.uri().path() == "/login"
        || req.uri().path() == super::emails::VERIFY_PATH
    {
        return next.run(req).await;
    }
    let Some(secret) = presented_secret(&state, req.headers()) else {
        // No session: the page's own extractor sends the browser to sign in, changing nothing.
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return WebError::Forbidden("The form is too large.".to_owned()).into_response();
    };
    let form = FormData::parse(&bytes);
    if !form
        .get(FORM_TOKEN)
        .is_some_and(|t| secret.form_token_matches(t))
    {
        let mut r = WebError::Forbidden(
            "This form has expired or did not come from patgate. Go back, reload the page and try again."
                .to_owned(),
        )
        .into_response();
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}
