//! `/metrics` (issue 14): Prometheus's text format on the metrics listener, with requests by route
//! template, verification outcomes, refusals and what is read at scrape time.

use std::collections::HashMap;

use crate::support::{Auth, Server, spawn};

/// Every sample of the exposition: `name{labels}` → value.
async fn scrape(s: &Server) -> HashMap<String, f64> {
    let r = s.client.get(&s.metrics).send().await.expect("scraped");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text"),
        "{r:?}"
    );
    let text = r.text().await.expect("text");
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn sample(samples: &HashMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {samples:#?}"))
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_verifications_by_outcome() {
    let s = spawn().await;
    let (_, token) = s.classic("alice", "metrics", &["repo"]).await;
    let before = scrape(&s).await;
    let miss_before = sample(
        &before,
        "patgate_token_verifications_total{outcome=\"cache_miss\"}",
    );

    s.get("/repos/acme/api", Auth::Token(&token))
        .await
        .expect_status(200);
    s.get("/repos/acme/api", Auth::Token(&token))
        .await
        .expect_status(200);
    s.get("/repos/acme/nothing-here", Auth::Token(&token))
        .await
        .expect_status(404);
    s.get("/user", Auth::Token("ghp_not-a-real-token"))
        .await
        .expect_status(401);
    s.get("/no/such/route/at/all", Auth::None)
        .await
        .expect_status(404);

    let after = scrape(&s).await;
    // The label is the route's template, never the path a client sent.
    let repo = |status: u16| {
        format!(
            "patgate_http_requests_total{{route=\"/repos/{{owner}}/{{repo}}\",method=\"GET\",status=\"{status}\"}}"
        )
    };
    assert_eq!(sample(&after, &repo(200)), 2.0);
    assert_eq!(sample(&after, &repo(404)), 1.0);
    assert!(
        !after
            .keys()
            .any(|k| k.contains("nothing-here") || k.contains("no/such")),
        "paths leak into labels: {after:#?}"
    );
    assert_eq!(
        sample(
            &after,
            "patgate_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            "patgate_http_request_duration_seconds_count{route=\"/repos/{owner}/{repo}\"}"
        ),
        3.0
    );
    // The first use of the token looked it up, the others came from the cache.
    assert_eq!(
        sample(
            &after,
            "patgate_token_verifications_total{outcome=\"cache_miss\"}"
        ) - miss_before,
        1.0
    );
    assert!(
        sample(
            &after,
            "patgate_token_verifications_total{outcome=\"cache_hit\"}"
        ) >= 2.0
    );
    assert!(
        sample(
            &after,
            "patgate_token_verifications_total{outcome=\"refused\"}"
        ) >= 1.0
    );
    // Read at scrape time.
    assert_eq!(sample(&after, "patgate_store_up"), 1.0);
    assert!(sample(&after, "patgate_store_ping_seconds") > 0.0);
    assert!(sample(&after, "patgate_process_resident_memory_bytes") > 1_000_000.0);
    assert_eq!(
        sample(&after, "patgate_outbox_messages{state=\"failed\"}"),
        0.0
    );
    assert_eq!(
        sample(
            &after,
            "patgate_job_runs_total{job=\"remove_unused_tokens\",outcome=\"failed\"}"
        ),
        0.0
    );
}

#[tokio::test]
async fn a_job_run_and_a_rate_limit_refusal_are_counted() {
    let s = crate::support::spawn_configured(|state, _| {
        state.rate_limits = std::sync::Arc::new(patgate_server::ratelimit::RateLimiter::new(
            patgate_server::ratelimit::RateLimitSettings {
                anonymous: 1,
                ..Default::default()
            },
            100,
        ));
    })
    .await;
    s.app.run_job("pending_digest").await.expect("the job runs");
    s.get("/repos/acme/website", Auth::None)
        .await
        .expect_status(200);
    s.get("/repos/acme/website", Auth::None)
        .await
        .expect_status(403);
    let m = scrape(&s).await;
    assert_eq!(
        sample(
            &m,
            "patgate_job_runs_total{job=\"pending_digest\",outcome=\"finished\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(&m, "patgate_rate_limited_total{kind=\"address\"}"),
        1.0
    );
}
