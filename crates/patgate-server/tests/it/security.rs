//! What an outside attack found (issue 8), each as the request that must be refused: password
//! floods and guessing, throttles behind a reverse proxy, slow and idle clients, oversized and
//! malformed input. Real sockets against the server's own connection loop.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::schema;
use crate::support::{Auth, Server, assert_error, assert_field_error, spawn, spawn_configured};

/// A request as a client behind the proxy at 127.0.0.1 makes it.
async fn via_proxy(s: &Server, client: &str, path: &str, auth: (&str, &str)) -> u16 {
    s.client
        .get(s.url(path))
        .header("x-forwarded-for", client)
        .basic_auth(auth.0, Some(auth.1))
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

async fn behind_a_proxy() -> Server {
    spawn_configured(|state, _| {
        state.trusted_proxies = std::sync::Arc::new("127.0.0.1".parse().expect("proxies"));
    })
    .await
}

#[tokio::test]
async fn sixty_parallel_wrong_passwords_are_not_all_checked_and_hashing_is_bounded() {
    let s = spawn().await;
    let attempts = (0..60).map(|_| s.get("/authorizations", Auth::Basic("alice", "wrong")));
    let statuses: Vec<u16> = join_all(attempts).await.iter().map(|r| r.status).collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 403).count();
    assert!(
        checked <= patgate_server::throttle::FAILURES_PER_ADDRESS_AND_ACCOUNT as usize,
        "{checked} of 60 parallel attempts were checked: {statuses:?}"
    );
    assert_eq!(checked + refused, 60, "{statuses:?}");
    let peak = s.app.password_hashing().peak();
    let bound = s.app.config().password_hashing_concurrency;
    assert!(
        peak <= bound,
        "{peak} hashes ran at once, more than {bound}"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_one_clients_failures_do_not_lock_out_another() {
    let s = behind_a_proxy().await;
    let alice = ("alice", "alice-password");
    // alice signs in from her usual address; then someone elsewhere guesses her password.
    assert_eq!(
        via_proxy(&s, "198.51.100.1", "/authorizations", alice).await,
        200
    );
    let mut guesses = Vec::new();
    for _ in 0..12 {
        guesses.push(via_proxy(&s, "203.0.113.9", "/authorizations", ("alice", "guess")).await);
    }
    assert!(
        guesses.contains(&403),
        "the guesser is stopped: {guesses:?}"
    );
    // alice, from her address, is not locked out; the guesser's address is.
    assert_eq!(
        via_proxy(&s, "198.51.100.1", "/authorizations", alice).await,
        200
    );
    assert_eq!(
        via_proxy(&s, "203.0.113.9", "/authorizations", alice).await,
        403
    );
    // bob, behind the same proxy at yet another address, is not affected either.
    let bob = ("bob", "bob-password");
    assert_eq!(
        via_proxy(&s, "198.51.100.2", "/authorizations", bob).await,
        200
    );
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    // No trusted proxy: a client rotating X-Forwarded-For is still one address.
    let s = spawn().await;
    let mut statuses = Vec::new();
    for n in 0..15 {
        let client = format!("203.0.113.{n}");
        statuses.push(via_proxy(&s, &client, "/authorizations", ("bob", "guess")).await);
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked < 15,
        "made-up addresses got fresh budgets: {statuses:?}"
    );
}

#[tokio::test]
async fn guessing_one_account_from_thirty_addresses_is_slowed_to_a_few_checks() {
    let s = behind_a_proxy().await;
    let alice = ("alice", "alice-password");
    assert_eq!(
        via_proxy(&s, "198.51.100.1", "/authorizations", alice).await,
        200
    );
    let mut checked = 0;
    for n in 0..30 {
        for _ in 0..9 {
            let client = format!("203.0.113.{n}");
            if via_proxy(&s, &client, "/authorizations", ("alice", "guess")).await == 401 {
                checked += 1;
            }
        }
    }
    // Five free failures, then one guess per backoff slot (1 s, 2 s, 4 s, ...): a handful while
    // this test runs, not 270.
    assert!(checked <= 12, "{checked} of 270 guesses were checked");
    assert_eq!(
        via_proxy(&s, "198.51.100.1", "/authorizations", alice).await,
        200,
        "the owner is not locked out"
    );
}

async fn revoke(s: &Server, client: Option<&str>) -> u16 {
    let mut req = s.client.post(s.url("/credentials/revoke")).json(&json!({
        "credentials": ["pgp_000000000000000000000000000000000000"]
    }));
    if let Some(c) = client {
        req = req.header("x-forwarded-for", c);
    }
    req.send().await.expect("sent").status().as_u16()
}

#[tokio::test]
async fn the_credential_revocation_limit_is_per_client_behind_a_proxy() {
    let s = behind_a_proxy().await;
    for _ in 0..60 {
        assert_eq!(revoke(&s, Some("203.0.113.1")).await, 202);
    }
    assert_eq!(revoke(&s, Some("203.0.113.1")).await, 422);
    // A real leak can still be reported from elsewhere.
    assert_eq!(revoke(&s, Some("198.51.100.7")).await, 202);
}

// ---- slow, idle and excess connections ----

async fn connect(s: &Server) -> TcpStream {
    TcpStream::connect(s.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads until the server closes the connection (or 15 s pass); what it sent.
async fn until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

async fn with_short_timeouts() -> Server {
    spawn_configured(|state, limits| {
        limits.header_timeout = Duration::from_secs(1);
        limits.stall_timeout = Duration::from_secs(1);
        state.limits.request_timeout = Duration::from_secs(30);
    })
    .await
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let s = with_short_timeouts().await;
    let mut c = connect(&s).await;
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    assert!(
        until_closed(&mut c).await.is_some(),
        "still open after 15 s"
    );
}

#[tokio::test]
async fn a_connection_that_drip_feeds_its_headers_is_closed() {
    let s = with_short_timeouts().await;
    let c = connect(&s).await;
    let (mut reader, mut writer) = c.into_split();
    let drip = tokio::spawn(async move {
        // One byte every 100 ms: a request head that would take a minute.
        for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
            .iter()
            .cycle()
            .take(600)
        {
            if writer.write_all(&[*b]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(15), reader.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "the connection stayed open: {closed:?}"
    );
    drip.abort();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let s = with_short_timeouts().await;
    let mut c = connect(&s).await;
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let got = until_closed(&mut c).await.expect("closed within 15 s");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
}

#[tokio::test]
async fn a_request_whose_body_stalls_is_closed() {
    let s = with_short_timeouts().await;
    let mut c = connect(&s).await;
    c.write_all(
        b"POST /credentials/revoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\n\r\n{\"credentials\": [",
    )
    .await
    .expect("write");
    assert!(
        until_closed(&mut c).await.is_some(),
        "still open after 15 s"
    );
}

#[tokio::test]
async fn an_api_request_that_trickles_its_body_gets_408() {
    let s = spawn_configured(|state, limits| {
        limits.stall_timeout = Duration::from_secs(60);
        state.limits.request_timeout = Duration::from_secs(1);
    })
    .await;
    let c = connect(&s).await;
    let (mut reader, mut writer) = c.into_split();
    writer
        .write_all(
            b"POST /credentials/revoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n",
        )
        .await
        .expect("write");
    let drip = tokio::spawn(async move {
        for _ in 0..100 {
            if writer.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(15), reader.read(&mut buf))
        .await
        .expect("an answer within 15 s")
        .expect("read");
    let got = String::from_utf8_lossy(&buf[..n]);
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(
        got.contains("\"status\":\"408\""),
        "GitHub's error JSON: {got}"
    );
    drip.abort();
}

#[tokio::test]
async fn at_the_connection_cap_idle_connections_make_room_for_a_health_check() {
    let s = spawn_configured(|_, limits| limits.max_connections = 8).await;
    let mut idle = Vec::new();
    for _ in 0..30 {
        idle.push(connect(&s).await);
    }
    let r = s.get("/healthz", Auth::None).await;
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test]
async fn when_every_connection_is_busy_a_newcomer_gets_503() {
    let s = spawn_configured(|state, limits| {
        limits.max_connections = 3;
        limits.stall_timeout = Duration::from_secs(60);
        state.limits.request_timeout = Duration::from_secs(60);
    })
    .await;
    let mut busy = Vec::new();
    for _ in 0..3 {
        let mut c = connect(&s).await;
        c.write_all(
            b"POST /credentials/revoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{",
        )
        .await
        .expect("write");
        busy.push(c);
    }
    // Let the server see the three requests.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = s.get("/healthz", Auth::None).await;
    assert_error(
        &r,
        503,
        "The server is at its connection limit. Please try again shortly.",
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    drop(busy);
    // Once they are gone, there is room again.
    let mut healthy = false;
    for _ in 0..50 {
        if s.get("/healthz", Auth::None).await.status == 200 {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy);
}

#[tokio::test]
async fn oversized_request_heads_get_431() {
    let s = spawn().await;
    let big = "x".repeat(20 * 1024);
    let r = s
        .client
        .get(s.url("/healthz"))
        .header("x-big", big)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 431);
    let mut req = s.client.get(s.url("/healthz"));
    for n in 0..120 {
        req = req.header(format!("x-h{n}"), "1");
    }
    assert_eq!(req.send().await.expect("sent").status().as_u16(), 431);
}

// ---- bodies, paths and text ----

#[tokio::test]
async fn an_oversized_body_gets_413_with_githubs_error_json() {
    let s = spawn().await;
    let huge = format!(
        r#"{{"note": "{}", "scopes": []}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let r = s
        .call(
            reqwest::Method::POST,
            "/authorizations",
            Auth::Password("alice"),
            crate::support::Body::Text(&huge),
        )
        .await;
    assert_error(&r, 413, "The request body is too large.");
}

#[tokio::test]
async fn bodies_of_the_wrong_shape_get_validation_error_objects() {
    let s = spawn().await;
    for (path, auth, body, field) in [
        (
            "/user/personal-access-tokens",
            Auth::Password("alice"),
            json!({"name": 5}),
            "name",
        ),
        (
            "/authorizations",
            Auth::Password("alice"),
            json!({"note": "n", "scopes": "repo"}),
            "scopes",
        ),
        (
            "/credentials/revoke",
            Auth::None,
            json!({"credentials": [1, 2]}),
            "credentials[0]",
        ),
    ] {
        let r = s.post(path, auth, &body).await;
        assert_eq!(r.status, 422, "{path}: {r:#?}");
        schema::validate("validation-error", &r.body);
        let errors = r.body["errors"].as_array().expect("errors");
        assert!(
            errors.iter().all(Value::is_object),
            "{path}: errors must be objects: {r:#?}"
        );
        assert_eq!(errors[0]["field"], field, "{path}: {r:#?}");
        assert_eq!(errors[0]["code"], "invalid", "{path}: {r:#?}");
    }
}

#[tokio::test]
async fn ids_that_do_not_parse_and_undecodable_paths_get_githubs_404_json() {
    let s = spawn().await;
    let (_, token) = s.classic("alice", "reader", &["repo", "read:user"]).await;
    let installation = app_installation_token(&s).await;
    let password = Auth::Password("alice");
    let bearer = Auth::Token(&token);
    let app = Auth::Token(&installation);
    for (path, auth) in [
        ("/user/personal-access-tokens/abc", password),
        (
            "/user/personal-access-tokens/99999999999999999999999",
            password,
        ),
        ("/user/personal-access-tokens/%ff", password),
        ("/authorizations/-", password),
        ("/user/keys/1e9", bearer),
        ("/user/keys/%ff", bearer),
        ("/repos/%ff/api", bearer),
        ("/repos/acme/%ff%fe/keys", bearer),
        ("/orgs/acme/personal-access-token-requests/abc", app),
        (
            "/orgs/acme/personal-access-token-requests/abc/repositories",
            app,
        ),
        (
            "/orgs/acme/personal-access-tokens/18446744073709551616/repositories",
            app,
        ),
        (
            "/organizations/x/personal-access-tokens/1/repositories",
            app,
        ),
    ] {
        let r = s.get(path, auth).await;
        assert_eq!(r.status, 404, "{path}: {r:#?}");
        assert_eq!(r.body["message"], "Not Found", "{path}: {r:#?}");
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{path}: {r:#?}"
        );
    }
}

#[tokio::test]
async fn control_and_bidi_characters_are_refused_in_names_notes_and_key_titles() {
    let s = spawn().await;
    for bad in ["bad\u{0}name", "evil\u{202E}lmth.exe", "two\nlines"] {
        let r = s
            .post(
                "/user/personal-access-tokens",
                Auth::Password("alice"),
                &json!({"name": bad, "permissions": {"contents": "read"}}),
            )
            .await;
        assert_field_error(&r, "name", "invalid");
        let r = s
            .post(
                "/authorizations",
                Auth::Password("alice"),
                &json!({"note": bad, "scopes": []}),
            )
            .await;
        assert_field_error(&r, "note", "invalid");
    }
    let r = s
        .post(
            "/user/personal-access-tokens",
            Auth::Password("alice"),
            &json!({"name": "ok", "description": "a\u{2066}b", "permissions": {"contents": "read"}}),
        )
        .await;
    assert_field_error(&r, "description", "invalid");
    // A description keeps its line breaks.
    s.post(
        "/user/personal-access-tokens",
        Auth::Password("alice"),
        &json!({"name": "multi", "description": "line one\nline two", "repository_selection": "all", "permissions": {"contents": "read"}}),
    )
    .await
    .expect_status(201);
    let (_, token) = s.classic("alice", "keys", &["write:public_key"]).await;
    let r = s
        .post(
            "/user/keys",
            Auth::Token(&token),
            &json!({"title": "laptop\u{202E}", "key": crate::support::KEY_1}),
        )
        .await;
    assert_field_error(&r, "title", "invalid");
    // Nothing was created by the refused requests.
    let alice = s.app.store().user_by_login("alice").await.unwrap().unwrap();
    let names: Vec<String> = s
        .app
        .list_tokens(&alice, None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[tokio::test]
async fn an_unknown_scope_to_remove_is_refused_like_one_to_add() {
    let s = spawn().await;
    let (id, _) = s.classic("alice", "edit", &["repo", "gist"]).await;
    let r = s
        .patch(
            &format!("/authorizations/{id}"),
            Auth::Password("alice"),
            &json!({"remove_scopes": ["gist", "bogus"]}),
        )
        .await;
    assert_field_error(&r, "remove_scopes", "invalid");
    let r = s
        .get(&format!("/authorizations/{id}"), Auth::Password("alice"))
        .await
        .expect_status(200);
    assert_eq!(
        r.body["scopes"],
        json!(["repo", "gist"]),
        "unchanged: {r:#?}"
    );
}

/// An installation token of an app of acme that may read and review its tokens and requests.
async fn app_installation_token(s: &Server) -> String {
    let app = s
        .post(
            "/orgs/acme/apps",
            Auth::Password("alice"),
            &json!({"name": "bot", "permissions": {
                "organization_personal_access_tokens": "write",
                "organization_personal_access_token_requests": "write",
            }}),
        )
        .await
        .expect_status(201);
    let t = s
        .call(
            reqwest::Method::POST,
            &format!("/orgs/acme/apps/{}/access_tokens", app.id()),
            Auth::Password("alice"),
            crate::support::Body::None,
        )
        .await
        .expect_status(201);
    t.str("token")
}

#[tokio::test]
async fn an_app_installation_token_on_get_user_gets_403() {
    let s = spawn().await;
    let token = app_installation_token(&s).await;
    let r = s.get("/user", Auth::Token(&token)).await;
    assert_error(&r, 403, "Resource not accessible by integration");
}

#[tokio::test]
async fn a_review_reason_with_control_or_bidi_characters_is_refused() {
    let s = spawn().await;
    let app = app_installation_token(&s).await;
    s.fine_grained(
        "bob",
        json!({"name": "ci", "resource_owner": "acme", "repository_selection": "all",
               "permissions": {"contents": "read"}, "justification": "CI"}),
    )
    .await;
    let list = s
        .get(
            "/orgs/acme/personal-access-token-requests",
            Auth::Token(&app),
        )
        .await
        .expect_status(200);
    let id = list.body[0]["id"].as_i64().expect("a request");
    let r = s
        .post(
            &format!("/orgs/acme/personal-access-token-requests/{id}"),
            Auth::Token(&app),
            &json!({"action": "deny", "reason": "no\u{202E}txt.exe"}),
        )
        .await;
    assert_field_error(&r, "reason", "invalid");
    let again = s
        .get(
            "/orgs/acme/personal-access-token-requests",
            Auth::Token(&app),
        )
        .await
        .expect_status(200);
    assert_eq!(
        again.body.as_array().map(Vec::len),
        Some(1),
        "still pending"
    );
}
