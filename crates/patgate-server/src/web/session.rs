//! Signing in and out, the session cookie, and the signed-in user every page starts from.
//!
//! The cookie holds the session's random secret (the store keeps only its hash). It is
//! `HttpOnly` and `SameSite=Lax`, and, when patgate is served over HTTPS (`--public-url
//! https://…`), `Secure` with the `__Host-` prefix, which pins it to this host and path `/`.

use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use patgate_domain::catalog::OrgRole;
use patgate_domain::model::{Organization, User};
use patgate_domain::session::SessionSecret;
use patgate_store::Session;

use super::form::FormData;
use super::page::{self, Chrome, Nav, WebError};
use crate::net::client::ClientIp;
use crate::state::AppState;

const PLAIN_COOKIE: &str = "patgate_session";
const SECURE_COOKIE: &str = "__Host-patgate_session";

/// Where a user lands after signing in when nothing else is asked for.
pub const HOME: &str = "/settings/personal-access-tokens";

fn secure(state: &AppState) -> bool {
    state.base_url.starts_with("https://")
}

pub fn cookie_name(state: &AppState) -> &'static str {
    if secure(state) {
        SECURE_COOKIE
    } else {
        PLAIN_COOKIE
    }
}

/// The session secret a request's cookie carries, if it has the right shape.
pub fn presented_secret(state: &AppState, headers: &HeaderMap) -> Option<SessionSecret> {
    let jar = CookieJar::from_headers(headers);
    jar.get(cookie_name(state))
        .and_then(|c| SessionSecret::parse(c.value()))
}

fn session_cookie(state: &AppState, secret: &SessionSecret, session: &Session) -> Cookie<'static> {
    let max_age = (session.expires_at - session.created_at).max(time::Duration::ZERO);
    Cookie::build((cookie_name(state), secret.expose().to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure(state))
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .build()
}

fn cleared_cookie(state: &AppState) -> Cookie<'static> {
    Cookie::build((cookie_name(state), ""))
        .path("/")
        .http_only(true)
        .secure(secure(state))
        .same_site(SameSite::Lax)
        .max_age(time::Duration::ZERO)
        .build()
}

/// A page request from a signed-in user, with what every page shows of them.
pub struct SignedIn {
    pub user: User,
    pub session: Session,
    pub secret: SessionSecret,
    pub orgs: Vec<(Organization, OrgRole)>,
    /// The enterprises the user owns.
    pub enterprises: Vec<patgate_domain::model::Enterprise>,
}

impl SignedIn {
    pub fn chrome(&self, nav: Nav) -> Chrome {
        let mut chrome = Chrome::new(&self.user, &self.orgs, self.secret.form_token(), nav);
        chrome.enterprises = self.enterprises.iter().map(|e| e.slug.clone()).collect();
        chrome
    }
}

/// Where a request that needs a session goes without one: the sign-in page, which brings the
/// user back afterwards.
pub struct SignInFirst(String);

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        let to = form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", &self.0)
            .finish();
        page::see_other(&format!("/login?{to}"))
    }
}

pub enum SessionRejection {
    SignIn(SignInFirst),
    Error(WebError),
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            SessionRejection::SignIn(s) => s.into_response(),
            SessionRejection::Error(e) => e.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let here = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let back = if parts.method == axum::http::Method::GET {
            here
        } else {
            HOME.to_owned()
        };
        let Some(secret) = presented_secret(state, &parts.headers) else {
            return Err(SessionRejection::SignIn(SignInFirst(back)));
        };
        let Some((session, user)) = state
            .app
            .resume_session(&secret)
            .await
            .map_err(|e| SessionRejection::Error(e.into()))?
        else {
            return Err(SessionRejection::SignIn(SignInFirst(back)));
        };
        let orgs = state
            .app
            .store()
            .orgs_of_user(user.id)
            .await
            .map_err(|e| SessionRejection::Error(patgate_app::AppError::from(e).into()))?;
        let enterprises = state
            .app
            .store()
            .enterprises_owned_by(user.id)
            .await
            .map_err(|e| SessionRejection::Error(patgate_app::AppError::from(e).into()))?;
        Ok(SignedIn {
            user,
            session,
            secret,
            orgs,
            enterprises,
        })
    }
}

/// Only local paths: a sign-in link must not be able to send the user to another site.
pub fn local_path(to: Option<&str>) -> String {
    match to {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => HOME.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    login: &'a str,
    return_to: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
    signed_out: Option<String>,
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let return_to = local_path(q.return_to.as_deref());
    // Already signed in: straight on.
    if let Some(secret) = presented_secret(&state, &headers)
        && let Ok(Some(_)) = state.app.resume_session(&secret).await
    {
        return page::see_other(&return_to);
    }
    let notice = q.signed_out.is_some().then_some("You have signed out.");
    page::ok(&LoginPage {
        login: "",
        return_to: &return_to,
        error: None,
        notice,
    })
}

pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    form: FormData,
) -> Response {
    let login = form.get("login").unwrap_or("").trim().to_owned();
    let password = form.get("password").unwrap_or("");
    let return_to = local_path(form.get("return_to"));
    let refuse = |status: StatusCode, message: &str| {
        page::render(
            status,
            &LoginPage {
                login: &login,
                return_to: &return_to,
                error: Some(message),
                notice: None,
            },
        )
    };
    if login.is_empty() || password.is_empty() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your username and your password.",
        );
    }
    let user =
        match crate::api::extract::authenticate_password(&state, client, &login, password).await {
            Ok(user) => user,
            Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                return refuse(StatusCode::UNAUTHORIZED, "Incorrect username or password.");
            }
            Err(e) => return refuse(e.status, &e.message),
        };
    let previous = presented_secret(&state, &headers);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    match state
        .app
        .start_session(
            &user,
            previous.as_ref(),
            user_agent,
            Some(client.0.to_string()),
        )
        .await
    {
        Ok((session, secret)) => {
            let jar = CookieJar::new().add(session_cookie(&state, &secret, &session));
            (jar, page::see_other(&return_to)).into_response()
        }
        Err(e) => WebError::from(e).into_response(),
    }
}

/// Ends this browser's session and sends it to the sign-in page.
pub async fn sign_out_response(state: &AppState, signed: &SignedIn) -> Response {
    if let Err(e) = state.app.end_session(&signed.session).await {
        return WebError::from(e).into_response();
    }
    let jar = CookieJar::new().add(cleared_cookie(state));
    (jar, page::see_other("/login?signed_out=1")).into_response()
}

pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = presented_secret(&state, &headers)
        && let Ok(Some((session, _))) = state.app.resume_session(&secret).await
        && let Err(e) = state.app.end_session(&session).await
    {
        return WebError::from(e).into_response();
    }
    let jar = CookieJar::new().add(cleared_cookie(&state));
    (jar, page::see_other("/login?signed_out=1")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            local_path(Some("/settings/tokens?page=2")),
            "/settings/tokens?page=2"
        );
        for away in [
            None,
            Some(""),
            Some("https://evil.example"),
            Some("//evil.example"),
            Some("/\\evil.example"),
            Some("settings"),
            Some("/a\r\nLocation: x"),
        ] {
            assert_eq!(local_path(away), HOME, "{away:?}");
        }
    }
}
