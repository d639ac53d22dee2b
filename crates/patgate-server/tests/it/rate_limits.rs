//! The REST API's primary rate limit (issue 14; reference §2.3) with GitHub's headers, answers and
//! `GET /rate_limit`, and the throttle on tokens that do not verify, which must not let a stranger
//! lock anyone else out.

use std::sync::Arc;

use patgate_app::ManualClock;
use patgate_server::ratelimit::{RateLimitSettings, RateLimiter};
use patgate_server::state::AppState;
use serde_json::json;
use time::OffsetDateTime;

use crate::support::{
    Auth, Reply, Server, assert_bad_credentials, spawn_configured, spawn_with_clock_configured,
};

fn limits(state: &mut AppState, per_user: u32, anonymous: u32) {
    state.rate_limits = Arc::new(RateLimiter::new(
        RateLimitSettings {
            per_user,
            per_installation: 5_000,
            anonymous,
        },
        1_000,
    ));
}

fn rate(r: &Reply) -> (u32, u32, u32, i64) {
    let n = |name: &str| {
        r.header(name)
            .unwrap_or_else(|| panic!("no {name} in {r:#?}"))
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("{name} is not a number in {r:#?}"))
    };
    assert_eq!(r.header("x-ratelimit-resource"), Some("core"), "{r:#?}");
    (
        n("x-ratelimit-limit") as u32,
        n("x-ratelimit-remaining") as u32,
        n("x-ratelimit-used") as u32,
        n("x-ratelimit-reset"),
    )
}

#[tokio::test]
async fn a_users_tokens_share_one_budget_and_past_it_github_answers_403_until_the_reset() {
    let start = OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("a time");
    let clock = Arc::new(ManualClock::new(start));
    let s = spawn_with_clock_configured(clock.clone(), |state, _| limits(state, 5, 60)).await;
    // Creating the tokens with the password spends two of alice's five requests.
    let (_, first) = s.classic("alice", "one", &["read:user"]).await;
    let (_, second) = s.classic("alice", "two", &["read:user"]).await;
    let (_, bobs) = s.classic("bob", "bob's", &["read:user"]).await;

    let r = s.get("/user", Auth::Token(&first)).await.expect_status(200);
    let alice_id = r.id();
    let reset = start.unix_timestamp() + 3600;
    assert_eq!(rate(&r), (5, 2, 3, reset));
    let r = s
        .get("/user", Auth::Token(&second))
        .await
        .expect_status(200);
    assert_eq!(
        rate(&r),
        (5, 1, 4, reset),
        "both tokens spend alice's budget"
    );
    let r = s.get("/user", Auth::Token(&first)).await.expect_status(200);
    assert_eq!(rate(&r), (5, 0, 5, reset));

    // GET /rate_limit reports without counting, in GitHub's shape.
    for _ in 0..2 {
        let r = s
            .get("/rate_limit", Auth::Token(&second))
            .await
            .expect_status(200);
        let core =
            json!({"limit": 5, "used": 5, "remaining": 0, "reset": reset, "resource": "core"});
        assert_eq!(r.body["resources"]["core"], core);
        assert_eq!(r.body["rate"], core);
    }

    let refused = s
        .get("/user", Auth::Token(&second))
        .await
        .expect_status(403);
    assert_eq!(
        refused.str("message"),
        format!("API rate limit exceeded for user ID {alice_id}.")
    );
    assert!(
        refused.str("documentation_url").contains("rate-limits"),
        "{refused:#?}"
    );
    assert_eq!(rate(&refused), (5, 0, 5, reset));
    assert_eq!(refused.header("retry-after"), Some("3600"));
    // Every charged route refuses, password-authenticated ones included.
    s.get("/repos/acme/website", Auth::Token(&first))
        .await
        .expect_status(403);
    s.get("/authorizations", Auth::Password("alice"))
        .await
        .expect_status(403);

    // Bob has his own budget.
    let r = s.get("/user", Auth::Token(&bobs)).await.expect_status(200);
    assert_eq!(rate(&r), (5, 3, 2, reset));

    // The window ends an hour after it began.
    clock.advance(time::Duration::seconds(3600));
    let r = s.get("/user", Auth::Token(&first)).await.expect_status(200);
    assert_eq!(rate(&r), (5, 4, 1, reset + 3600));
}

#[tokio::test]
async fn password_authenticated_requests_count_against_the_users_budget() {
    let s = spawn_configured(|state, _| limits(state, 2, 60)).await;
    let r = s
        .get("/authorizations", Auth::Password("carol"))
        .await
        .expect_status(200);
    assert_eq!(rate(&r).1, 1);
    s.get("/authorizations", Auth::Password("carol"))
        .await
        .expect_status(200);
    let refused = s
        .get("/authorizations", Auth::Password("carol"))
        .await
        .expect_status(403);
    assert!(
        refused
            .str("message")
            .starts_with("API rate limit exceeded for user ID"),
        "{refused:#?}"
    );
}

#[tokio::test]
async fn anonymous_requests_are_counted_per_address_and_leave_authenticated_ones_alone() {
    let s = spawn_configured(|state, _| {
        limits(state, 5_000, 2);
        state.trusted_proxies = Arc::new("127.0.0.1".parse().expect("proxies"));
    })
    .await;
    let anonymous = |client: &'static str| {
        s.client
            .get(s.url("/repos/acme/website"))
            .header("x-forwarded-for", client)
            .send()
    };
    for remaining in [1, 0] {
        let r = anonymous("198.51.100.1").await.expect("sent");
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["x-ratelimit-remaining"]
                .to_str()
                .expect("ascii"),
            remaining.to_string()
        );
    }
    let refused = anonymous("198.51.100.1").await.expect("sent");
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["x-ratelimit-limit"], "2");
    let body: serde_json::Value = refused.json().await.expect("JSON");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("API rate limit exceeded for 198.51.100.1.")),
        "{body}"
    );

    // Another address has its own budget; an authenticated request is not anonymous.
    assert_eq!(anonymous("198.51.100.2").await.expect("sent").status(), 200);
    let (_, token) = s.classic("alice", "cli", &["repo"]).await;
    let r = s
        .client
        .get(s.url("/repos/acme/website"))
        .header("x-forwarded-for", "198.51.100.1")
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-limit"], "5000");

    // Reporting a leaked token has its own limit and is never refused for a spent budget;
    // liveness and the API description are not counted.
    let report = s
        .client
        .post(s.url("/credentials/revoke"))
        .header("x-forwarded-for", "198.51.100.1")
        .json(&json!({"credentials": [token]}))
        .send()
        .await
        .expect("sent");
    assert_eq!(report.status(), 202);
    for path in ["/healthz", "/openapi.json", "/rate_limit"] {
        let r = s
            .client
            .get(s.url(path))
            .header("x-forwarded-for", "198.51.100.1")
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 200, "{path}");
    }
}

async fn presented_from(s: &Server, client: &str, token: &str) -> Reply {
    let r = s
        .client
        .get(s.url("/user"))
        .header("x-forwarded-for", client)
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.json().await.unwrap_or(serde_json::Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn an_address_presenting_many_bad_tokens_is_refused_but_nobody_else_is_locked_out() {
    let s = spawn_configured(|state, _| {
        state.trusted_proxies = Arc::new("127.0.0.1".parse().expect("proxies"));
    })
    .await;
    let (_, victims) = s.classic("alice", "laptop", &["repo"]).await;
    // A well-formed token that no longer verifies: the checksum holds, the lookup finds nothing.
    let (id, deleted) = s.classic("bob", "old", &["repo"]).await;
    s.delete(&format!("/authorizations/{id}"), Auth::Password("bob"))
        .await
        .expect_status(204);

    let scanner = "203.0.113.66";
    let limit = patgate_server::throttle::BAD_TOKENS_PER_ADDRESS;
    for _ in 0..limit {
        assert_bad_credentials(&presented_from(&s, scanner, &deleted).await);
    }
    // From the scanner's address, even a good token is refused now, with GitHub's answer.
    let refused = presented_from(&s, scanner, &victims).await;
    assert_eq!(refused.status, 403, "{refused:#?}");
    assert_eq!(
        refused.str("message"),
        "Maximum number of login attempts exceeded. Please try again later."
    );
    assert!(refused.header("retry-after").is_some());
    // The token's owner, from their own address, is not locked out.
    let fine = presented_from(&s, "198.51.100.20", &victims).await;
    assert_eq!(fine.status, 200, "{fine:#?}");

    // git over HTTP shares the throttle.
    let git = s
        .client
        .get(s.url("/acme/website.git/info/refs?service=git-upload-pack"))
        .header("x-forwarded-for", scanner)
        .basic_auth("x", Some(&victims))
        .send()
        .await
        .expect("sent");
    assert_eq!(git.status(), 403);
}
