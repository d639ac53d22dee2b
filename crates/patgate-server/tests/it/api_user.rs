//! Authentication with a token: `GET /user`, GitHub's token headers, and the 401 of every token
//! that is not (or no longer) valid.

use std::sync::Arc;

use serde_json::json;
use time::OffsetDateTime;

use patgate_app::ManualClock;

use crate::support::{Auth, assert_bad_credentials, spawn, spawn_with_clock};

/// `2026-04-01T09:00:00Z` (the JSON) as `2026-04-01 09:00:00 UTC` (the header).
fn header_form(rfc3339: &str) -> String {
    format!("{} UTC", rfc3339.trim_end_matches('Z').replace('T', " "))
}

#[tokio::test]
async fn healthz_and_readyz_answer_200_when_all_is_well() {
    let s = spawn().await;
    for path in ["/healthz", "/readyz"] {
        let r = s.get(path, Auth::None).await;
        assert_eq!(r.status, 200, "{path}: {r:#?}");
        assert_eq!(r.body, "ok");
    }
}

#[tokio::test]
async fn classic_token_created_over_the_api_authenticates_get_user_with_normalised_scopes() {
    let s = spawn().await;
    let (_, secret) = s
        .classic("alice", "laptop", &["user", "gist", "user:email"])
        .await;
    let r = s
        .get("/user", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_eq!(r.body["login"], "alice");
    assert_eq!(r.header("x-oauth-scopes"), Some("user, gist"), "{r:#?}");
}

#[tokio::test]
async fn fine_grained_token_created_over_the_api_authenticates_get_user_without_oauth_scopes() {
    let s = spawn().await;
    let (_, secret) = s.fine_grained("bob", json!({"name": "ci"})).await;
    let r = s
        .get("/user", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_eq!(r.body["login"], "bob");
    assert_eq!(r.header("x-oauth-scopes"), None, "{r:#?}");
}

#[tokio::test]
async fn token_scheme_and_basic_password_carry_a_token_too() {
    let s = spawn().await;
    let (_, secret) = s.classic("carol", "cli", &["repo"]).await;
    let r = s
        .get("/user", Auth::Raw(&format!("token {secret}")))
        .await
        .expect_status(200);
    assert_eq!(r.body["login"], "carol");
    // Git's way: any non-empty username, the token as the password.
    let r = s
        .get("/user", Auth::Basic("x-access-token", &secret))
        .await
        .expect_status(200);
    assert_eq!(r.body["login"], "carol");
}

#[tokio::test]
async fn token_with_an_expiry_carries_the_expiration_header_in_github_format() {
    let s = spawn().await;
    let created = s
        .create_classic(
            "alice",
            json!({"note": "seven days", "scopes": ["repo"], "expires_in": 7}),
        )
        .await;
    let expires_at = created.str("expires_at");
    let r = s
        .get("/user", Auth::Token(&created.str("token")))
        .await
        .expect_status(200);
    let header = r
        .header("github-authentication-token-expiration")
        .unwrap_or_default()
        .to_owned();
    assert_eq!(header, header_form(&expires_at), "{r:#?}");
    // `YYYY-MM-DD HH:MM:SS UTC`, character by character.
    assert_eq!(header.len(), 23, "{header}");
    for (i, c) in header.chars().enumerate() {
        match i {
            4 | 7 => assert_eq!(c, '-', "{header}"),
            10 | 19 => assert_eq!(c, ' ', "{header}"),
            13 | 16 => assert_eq!(c, ':', "{header}"),
            20..=22 => {}
            _ => assert!(c.is_ascii_digit(), "{header}"),
        }
    }
    assert!(header.ends_with(" UTC"), "{header}");

    let fg = s
        .create_fine_grained("alice", json!({"name": "fg", "expires_in": 30}))
        .await;
    let r = s
        .get("/user", Auth::Token(&fg.str("token")))
        .await
        .expect_status(200);
    assert_eq!(
        r.header("github-authentication-token-expiration"),
        Some(header_form(&fg.str("expires_at")).as_str()),
        "{r:#?}"
    );
}

#[tokio::test]
async fn token_without_expiry_has_no_expiration_header() {
    let s = spawn().await;
    let created = s
        .create_classic(
            "alice",
            json!({"note": "forever", "scopes": [], "expires_in": "none"}),
        )
        .await;
    assert!(created.body["expires_at"].is_null(), "{created:#?}");
    let r = s
        .get("/user", Auth::Token(&created.str("token")))
        .await
        .expect_status(200);
    assert_eq!(
        r.header("github-authentication-token-expiration"),
        None,
        "{r:#?}"
    );
}

#[tokio::test]
async fn malformed_token_with_a_bad_checksum_gets_401_bad_credentials() {
    let s = spawn().await;
    let (_, secret) = s.classic("alice", "good", &["repo"]).await;
    let mut broken = secret.clone();
    let last = broken.pop().unwrap_or('0');
    broken.push(if last == 'A' { 'B' } else { 'A' });
    assert_ne!(broken, secret);
    assert_bad_credentials(&s.get("/user", Auth::Token(&broken)).await);
    // The same with a public repository: a bad token is refused, not ignored.
    assert_bad_credentials(&s.get("/repos/acme/website", Auth::Token(&broken)).await);
}

#[tokio::test]
async fn malformed_token_with_an_unknown_prefix_gets_401_bad_credentials() {
    let s = spawn().await;
    let (_, secret) = s.classic("alice", "good", &["repo"]).await;
    let foreign = format!("ghp_{}", &secret[4..]);
    assert_bad_credentials(&s.get("/user", Auth::Token(&foreign)).await);
    assert_bad_credentials(&s.get("/user", Auth::Token("not-a-token")).await);
}

#[tokio::test]
async fn deleted_token_gets_401_bad_credentials() {
    let s = spawn().await;
    let (classic_id, classic) = s.classic("alice", "to delete", &["repo"]).await;
    let (fg_id, fg) = s.fine_grained("alice", json!({"name": "to delete"})).await;
    // Used once, so that the verification cache holds them.
    s.get("/user", Auth::Token(&classic))
        .await
        .expect_status(200);
    s.get("/user", Auth::Token(&fg)).await.expect_status(200);

    s.delete(
        &format!("/authorizations/{classic_id}"),
        Auth::Password("alice"),
    )
    .await
    .expect_status(204);
    s.delete(
        &format!("/user/personal-access-tokens/{fg_id}"),
        Auth::Password("alice"),
    )
    .await
    .expect_status(204);
    assert_bad_credentials(&s.get("/user", Auth::Token(&classic)).await);
    assert_bad_credentials(&s.get("/user", Auth::Token(&fg)).await);
}

#[tokio::test]
async fn regenerated_token_old_secret_gets_401_and_the_new_one_works() {
    let s = spawn().await;
    let (id, old) = s.fine_grained("alice", json!({"name": "rotate me"})).await;
    s.get("/user", Auth::Token(&old)).await.expect_status(200);
    let r = s
        .post(
            &format!("/user/personal-access-tokens/{id}/regenerate"),
            Auth::Password("alice"),
            &json!({}),
        )
        .await
        .expect_status(200);
    let new = r.str("token");
    assert_bad_credentials(&s.get("/user", Auth::Token(&old)).await);
    s.get("/user", Auth::Token(&new)).await.expect_status(200);

    let (cid, cold) = s.classic("alice", "rotate classic", &["repo"]).await;
    s.get("/user", Auth::Token(&cold)).await.expect_status(200);
    let r = s
        .post(
            &format!("/authorizations/{cid}/regenerate"),
            Auth::Password("alice"),
            &json!({"expires_in": 7}),
        )
        .await
        .expect_status(200);
    assert_bad_credentials(&s.get("/user", Auth::Token(&cold)).await);
    s.get("/user", Auth::Token(&r.str("token")))
        .await
        .expect_status(200);
}

#[tokio::test]
async fn expired_token_gets_401_once_the_clock_passes_its_expiry() {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let s = spawn_with_clock(clock.clone()).await;
    let classic = s
        .create_classic(
            "alice",
            json!({"note": "one day", "scopes": ["repo"], "expires_in": 1}),
        )
        .await;
    let fg = s
        .create_fine_grained("alice", json!({"name": "one day", "expires_in": 1}))
        .await;
    let (classic, fg) = (classic.str("token"), fg.str("token"));
    s.get("/user", Auth::Token(&classic))
        .await
        .expect_status(200);
    s.get("/user", Auth::Token(&fg)).await.expect_status(200);

    clock.advance(time::Duration::hours(23));
    s.get("/user", Auth::Token(&classic))
        .await
        .expect_status(200);

    clock.advance(time::Duration::hours(1));
    assert_bad_credentials(&s.get("/user", Auth::Token(&classic)).await);
    assert_bad_credentials(&s.get("/user", Auth::Token(&fg)).await);
    // Expired tokens get 401 everywhere, public resources included (rule 2).
    assert_bad_credentials(&s.get("/repos/acme/website", Auth::Token(&fg)).await);
}

#[tokio::test]
async fn get_user_without_a_token_gets_401() {
    let s = spawn().await;
    let r = s.get("/user", Auth::None).await;
    assert_eq!(r.status, 401, "{r:#?}");
    assert!(r.header("www-authenticate").is_some(), "{r:#?}");
    // A password is for managing tokens only.
    let r = s.get("/user", Auth::Password("alice")).await;
    assert_eq!(r.status, 401, "{r:#?}");
}
