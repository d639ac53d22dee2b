//! What every request does on its way in and out, in one middleware: its credentials marked
//! sensitive (so that no log or debug output of the headers shows them), its client address
//! resolved (behind trusted proxies), and its route, status and latency counted for
//! `/metrics`.
//!
//! These were three layers (two of tower-http's `SetSensitive*Headers` and a metrics
//! `from_fn`), each wrapping every route and each costing an inner-service clone, a boxed
//! future and its drop per request: together with the client's, about 3.5 µs of a warm
//! `GET /user`'s 19 µs (`docs/benchmarks.md`, "The layers").

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::Metrics;
use crate::net::client::{ClientIp, TrustedProxies};

/// Request headers that carry credentials.
const SENSITIVE_REQUEST: [HeaderName; 3] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
];

/// What the edge needs: whose forwarding headers to believe, and where to count.
pub struct Edge {
    pub proxies: Arc<TrustedProxies>,
    pub metrics: Arc<Metrics>,
}

pub async fn edge(State(edge): State<Arc<Edge>>, mut req: Request, next: Next) -> Response {
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
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = req.method().clone();
    let mut response = next.run(req).await;
    mark_sensitive(response.headers_mut(), &[header::SET_COOKIE]);
    edge.metrics.observe(
        route.unwrap_or_else(|| "unmatched".to_owned()),
        &method,
        response.status(),
        started.elapsed().as_secs_f64(),
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

    #[tokio::test]
    async fn credentials_are_sensitive_both_ways_and_the_client_is_resolved() {
        let edge = Arc::new(Edge {
            proxies: Arc::new(TrustedProxies::default()),
            metrics: Arc::new(Metrics::new()),
        });
        let app = Router::new()
            .route("/x", get(inspect))
            .layer(axum::middleware::from_fn_with_state(edge, super::edge));
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
