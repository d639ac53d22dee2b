//! What every request does on its way in and out, in one middleware: its credentials marked
//! sensitive (so that no log or debug output of the headers shows them), its client address
//! resolved (behind trusted proxies), its span (named by the redacted URI: a token a client
//! put in the query string or the path never reaches the log), a panic answered with a 500
//! rather than a dropped connection, and its route, status and latency counted for
//! `/metrics` (the panic's 500 included).
//!
//! These were six layers (tower-http's two `SetSensitive*Headers`, `Trace` and `CatchPanic`,
//! and two `from_fn`s), each wrapping every route and each costing an inner-service clone, a
//! boxed future and its drop per request: together about 3.5–4.5 µs of a warm `GET /user`'s
//! 19 µs (`docs/benchmarks.md`, "The layers").

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tracing::Instrument;

use crate::api::error::ApiError;
use crate::metrics::Metrics;
use crate::net::client::{ClientIp, TrustedProxies};
use crate::net::redact::UriRedactor;
use patgate_domain::token::TokenKind;

/// Request headers that carry credentials.
const SENSITIVE_REQUEST: [HeaderName; 3] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
];

/// What the edge needs: whose forwarding headers to believe, where to count, and how to
/// take tokens out of a URI for the log.
pub struct Edge {
    pub proxies: Arc<TrustedProxies>,
    pub metrics: Arc<Metrics>,
    pub redactor: UriRedactor,
}

impl Edge {
    /// The edge of `state`'s server: its proxies, its metrics, and its token prefixes to redact.
    pub fn of(state: &crate::state::AppState) -> Edge {
        let format = state.app.token_format();
        Edge {
            proxies: state.trusted_proxies.clone(),
            metrics: state.metrics.clone(),
            redactor: UriRedactor::new(&[
                format.prefix(TokenKind::FineGrained),
                format.prefix(TokenKind::Classic),
                format.prefix(TokenKind::AppInstallation),
            ]),
        }
    }
}

/// The edge as a middleware of its own (the web pages, git, the probes, the fallback).
pub async fn edge(State(edge): State<Arc<Edge>>, req: Request, next: Next) -> Response {
    around(&edge, req, |req| next.run(req)).await
}

/// The edge around `inner`: a middleware that has more to do (the REST API's, `api_request`)
/// calls this rather than being a second layer.
pub async fn around<F>(edge: &Edge, mut req: Request, inner: impl FnOnce(Request) -> F) -> Response
where
    F: Future<Output = Response>,
{
    let started = Instant::now();
    mark_sensitive(req.headers_mut(), &SENSITIVE_REQUEST);
    if let Some(ConnectInfo(peer)) = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .copied()
    {
        let ip = edge.proxies.client_of(peer.ip(), req.headers());
        req.extensions_mut().insert(ClientIp(ip));
    }
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    // The fields are only evaluated when the span is enabled (`debug`).
    let span = tracing::debug_span!(
        "request",
        method = %req.method(),
        uri = %edge.redactor.redact(req.uri()),
        version = ?req.version(),
    );
    let answered = AssertUnwindSafe(inner(req))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    let mut response = match answered {
        Ok(response) => response,
        Err(_) => {
            // The panic's message went to the panic hook (stderr) already.
            span.in_scope(|| tracing::error!("a request handler panicked"));
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                .into_response()
        }
    };
    mark_sensitive(response.headers_mut(), &[header::SET_COOKIE]);
    let latency = started.elapsed();
    let status = response.status();
    span.in_scope(|| {
        let ms = latency.as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), latency_ms = ms, "response failed");
        } else {
            tracing::debug!(status = status.as_u16(), latency_ms = ms, "response");
        }
    });
    edge.metrics.observe(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        &method,
        status,
        latency.as_secs_f64(),
    );
    response
}

fn mark_sensitive(headers: &mut HeaderMap, names: &[HeaderName]) {
    for name in names {
        if let header::Entry::Occupied(mut entry) = headers.entry(name) {
            for value in entry.iter_mut() {
                value.set_sensitive(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::{HeaderValue, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    /// Answers 200 when the request arrived with its credentials marked sensitive and its
    /// client resolved, and sets two cookies.
    async fn inspect(req: Request) -> Response {
        let headers = req.headers();
        let credentials_hidden = SENSITIVE_REQUEST
            .iter()
            .all(|name| headers.get_all(name).iter().all(HeaderValue::is_sensitive));
        let other_visible = headers.get("accept").is_some_and(|v| !v.is_sensitive());
        let client = req.extensions().get::<ClientIp>().copied();
        let mut response = Response::new(Body::empty());
        if !(credentials_hidden && other_visible && client.is_some()) {
            *response.status_mut() = StatusCode::BAD_REQUEST;
        }
        for cookie in ["a=1", "b=2"] {
            response
                .headers_mut()
                .append(header::SET_COOKIE, HeaderValue::from_static(cookie));
        }
        response
    }

    fn edge() -> Arc<Edge> {
        Arc::new(Edge {
            proxies: Arc::new(TrustedProxies::default()),
            metrics: Arc::new(Metrics::new()),
            redactor: UriRedactor::new(&["pgp_"]),
        })
    }

    async fn explode() -> &'static str {
        panic!("a bug in a handler")
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_500_and_the_next_request_is_served() {
        let app = Router::new()
            .route("/boom", get(explode))
            .route("/fine", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(edge(), super::edge));
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(get("/boom")).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["message"], "Internal Server Error");
        let response = app.oneshot(get("/fine")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn credentials_are_sensitive_both_ways_and_the_client_is_resolved() {
        let app = Router::new()
            .route("/x", get(inspect))
            .layer(axum::middleware::from_fn_with_state(edge(), super::edge));
        let mut req = Request::get("/x")
            .header("authorization", "Bearer secret")
            .header("cookie", "s=1")
            .header("cookie", "t=2")
            .header("accept", "application/json")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 9))));
        let response = app.oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let cookies: Vec<_> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .collect();
        assert_eq!(cookies.len(), 2);
        assert!(cookies.iter().all(|v| v.is_sensitive()));
    }
}
