//! Forward auth, `/forward-auth` (nginx `auth_request`, Traefik `ForwardAuth`, Caddy
//! `forward_auth`) and `/forward-auth/{path}` (Envoy `ext_authz`): the REST route of the
//! original request, recognised in GitHub's table and decided as the authorization API decides
//! (`api/platform.rs`), answered 200 with the identity headers for the upstream, or with
//! GitHub's refusal for the client.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use patgate_app::authorize::{Asked, Target};
use patgate_domain::routes;

use super::error::{ApiError, ApiResult};
use super::extract::MaybeToken;
use super::platform::{Recognised, as_result, kind_name, recognise, token_only, unknown_route};
use crate::state::AppState;

/// The request a proxy asks about.
struct Original {
    method: String,
    target: String,
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The original method and request target: nginx's `X-Original-Method` / `X-Original-URI`
/// (as the documented configuration sets them), Traefik's and Caddy's `X-Forwarded-Method` /
/// `X-Forwarded-Uri`, or Envoy's: the request itself, its path after `/forward-auth`.
fn original(req: &Request) -> Option<Original> {
    let headers = req.headers();
    let from = |m: &str, u: &str| {
        header(headers, u).map(|target| Original {
            method: header(headers, m)
                .unwrap_or(req.method().as_str())
                .to_owned(),
            target: target.to_owned(),
        })
    };
    if let Some(o) = from("x-original-method", "x-original-uri") {
        return Some(o);
    }
    if let Some(o) = from("x-forwarded-method", "x-forwarded-uri") {
        return Some(o);
    }
    let rest = req.uri().path().strip_prefix("/forward-auth")?;
    if rest.is_empty() {
        return None;
    }
    let target = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    Some(Original {
        method: req.method().as_str().to_owned(),
        target,
    })
}

#[derive(Deserialize, Default)]
struct ForwardQuery {
    /// `nginx`: nginx's `auth_request` takes only 2xx, 401 and 403, so a 404 answers 403
    /// with `X-Patgate-Status: 404`; the documented configuration then asks again for the exact
    /// answer.
    proxy: Option<String>,
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// `/forward-auth` and `/forward-auth/{path}`, any method.
pub async fn forward_auth(
    State(s): State<AppState>,
    MaybeToken(token): MaybeToken,
    req: Request,
) -> ApiResult<Response> {
    let query: ForwardQuery = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let nginx = query.proxy.as_deref() == Some("nginx");
    let Some(original) = original(&req) else {
        return Err(ApiError::bad_request(
            "Forward auth needs the original request: X-Original-Method and X-Original-URI \
             (nginx), X-Forwarded-Method and X-Forwarded-Uri (Traefik, Caddy), or the path \
             after /forward-auth (Envoy).",
        ));
    };
    let recognised = recognise(&original.method, &original.target);
    let (template, decision) = match &recognised {
        Recognised::TokenOnly => ("/user".to_owned(), token_only(&s, token.as_deref()).await?),
        Recognised::Table(m) => (
            m.template().to_owned(),
            match Target::of_route(m) {
                Some(target) => {
                    s.app
                        .decide_for(
                            token.as_ref().map(|t| &t.credential),
                            target,
                            Asked::Route(m.route()),
                        )
                        .await?
                }
                None => unknown_route(),
            },
        ),
        Recognised::Unknown => (String::new(), unknown_route()),
    };
    match as_result(decision) {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            let headers = response.headers_mut();
            if !template.is_empty() {
                let method = routes::Method::parse(&original.method)
                    .map_or_else(|| original.method.clone(), |m| m.as_str().to_owned());
                set(headers, "x-patgate-route", &format!("{method} {template}"));
            }
            if let Some(t) = &token {
                let c = &t.credential;
                if let Some(login) = s.app.login_of(c.user).await? {
                    set(headers, "x-patgate-user", &login);
                }
                set(headers, "x-patgate-user-id", &c.user.0.to_string());
                set(headers, "x-patgate-token-id", &c.token_id.0.to_string());
                set(headers, "x-patgate-token-kind", kind_name(&c.grant));
            }
            Ok(response)
        }
        Err(mut e) => {
            if nginx && e.status == StatusCode::NOT_FOUND {
                e = e.header("x-patgate-status", "404");
                e.status = StatusCode::FORBIDDEN;
            }
            Err(e)
        }
    }
}
