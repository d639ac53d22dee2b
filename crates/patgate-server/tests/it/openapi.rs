//! `/openapi.json` and the route table agree: every operation of
//! `patgate_server::api::openapi::OPERATIONS` is described and routed.

use reqwest::Method;

use patgate_server::api::openapi::OPERATIONS;

use crate::support::{Auth, Body, assert_error, spawn};

/// The operation's path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{owner}", "acme")
        .replace("{repo}", "website")
        .replace("{key_id}", "1")
        .replace("{token_id}", "1")
        // Forward auth by path (Envoy): a public repository, which anonymous requests read.
        .replace("{path}", "repos/acme/website")
}

#[tokio::test]
async fn openapi_json_lists_every_operation() {
    let s = spawn().await;
    let r = s.get("/openapi.json", Auth::None).await.expect_status(200);
    assert!(
        r.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{r:#?}"
    );
    assert_eq!(r.body["servers"][0]["url"], s.base);
    let paths = r.body["paths"].as_object().cloned().unwrap_or_default();
    for op in OPERATIONS {
        let entry = &paths
            .get(op.path)
            .unwrap_or_else(|| panic!("{} is missing from /openapi.json", op.path))[op.method];
        assert_eq!(
            entry["operationId"], op.id,
            "{} {}: {entry}",
            op.method, op.path
        );
        assert!(
            entry["responses"].get(op.success.to_string()).is_some(),
            "{} {}: {entry}",
            op.method,
            op.path
        );
    }
    // And nothing else.
    let described: usize = paths
        .values()
        .filter_map(|p| p.as_object())
        .map(serde_json::Map::len)
        .sum();
    assert_eq!(described, OPERATIONS.len());
}

#[tokio::test]
async fn every_operation_is_routed() {
    // More anonymous requests than GitHub's 60 an hour: the test is one client.
    let s = crate::support::spawn_configured(|state, _| {
        state.rate_limits = std::sync::Arc::new(patgate_server::ratelimit::RateLimiter::new(
            patgate_server::ratelimit::RateLimitSettings {
                anonymous: 10_000,
                ..Default::default()
            },
            100,
        ));
    })
    .await;
    for op in OPERATIONS {
        let method =
            Method::from_bytes(op.method.to_ascii_uppercase().as_bytes()).unwrap_or(Method::GET);
        let path = concrete(op.path);
        let r = s.call(method.clone(), &path, Auth::None, Body::None).await;
        // Without credentials every operation answers 200 (public ones) or 401; a missing route
        // would be the fallback's 404 and a missing method 405.
        assert_ne!(
            r.status, 405,
            "{method} {path} has no handler for its method: {r:#?}"
        );
        assert_ne!(r.status, 404, "{method} {path} is not routed: {r:#?}");
        // Unauthenticated operations with a required body answer 422 to an empty one.
        let empty_body_refused =
            op.auth == patgate_server::api::openapi::Auth::None && r.status == 422;
        // Forward auth without the original request's method and URI says what it needs.
        let no_original_request =
            op.auth == patgate_server::api::openapi::Auth::ForwardAuth && r.status == 400;
        assert!(
            r.status == 401 || r.status == op.success || empty_body_refused || no_original_request,
            "{method} {path} answered {}: {r:#?}",
            r.status
        );
    }
}

#[tokio::test]
async fn unknown_paths_get_githubs_json_404() {
    let s = spawn().await;
    for path in [
        "/nope",
        "/user/",
        "/repos/acme",
        "/user/personal-access-tokens/1/nope",
    ] {
        assert_error(&s.get(path, Auth::None).await, 404, "Not Found");
    }
}
