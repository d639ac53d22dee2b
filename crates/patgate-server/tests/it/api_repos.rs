//! `GET /repos/{owner}/{repo}`: private resources outside a token's reach answer 404, public ones
//! are readable by every valid token, approval and enterprise policies (DESIGN §3 rules 2, 3, 6,
//! 7, 9, 13).

use serde_json::json;

use crate::support::{Auth, assert_error, spawn};

#[tokio::test]
async fn fine_grained_token_for_the_users_own_account_gets_404_on_an_org_private_repo_and_reads_public()
 {
    let s = spawn().await;
    // alice owns acme, but this token's resource owner is alice herself.
    let (_, secret) = s
        .fine_grained("alice", json!({"name": "mine", "repository_selection": "all", "permissions": {"contents": "read"}}))
        .await;
    assert_error(
        &s.get("/repos/acme/api", Auth::Token(&secret)).await,
        404,
        "Not Found",
    );
    let r = s
        .get("/repos/acme/website", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_eq!(r.body["full_name"], "acme/website");
    // Its own owner's private repository it does reach.
    let r = s
        .get("/repos/alice/notes", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_eq!(r.body["private"], true);
}

#[tokio::test]
async fn classic_token_without_repo_gets_404_on_a_private_repo_and_reads_public() {
    let s = spawn().await;
    let (_, secret) = s.classic("alice", "no repo", &["user", "gist"]).await;
    assert_error(
        &s.get("/repos/acme/api", Auth::Token(&secret)).await,
        404,
        "Not Found",
    );
    assert_error(
        &s.get("/repos/alice/notes", Auth::Token(&secret)).await,
        404,
        "Not Found",
    );
    let r = s
        .get("/repos/acme/website", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_eq!(r.body["full_name"], "acme/website");
    assert_eq!(r.header("x-oauth-scopes"), Some("user, gist"), "{r:#?}");
}

#[tokio::test]
async fn classic_token_with_repo_reads_a_private_repo_its_user_collaborates_on() {
    let s = spawn().await;
    let (_, secret) = s.classic("carol", "collaborator", &["repo"]).await;
    let r = s
        .get("/repos/acme/api", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_eq!(r.body["full_name"], "acme/api");
    assert_eq!(r.header("x-accepted-oauth-scopes"), Some("repo"), "{r:#?}");
    // Rule 1: the token never reaches beyond its user (carol cannot see alice/notes).
    assert_error(
        &s.get("/repos/alice/notes", Auth::Token(&secret)).await,
        404,
        "Not Found",
    );
}

#[tokio::test]
async fn anonymous_request_gets_404_on_a_private_repo_and_reads_public() {
    let s = spawn().await;
    assert_error(
        &s.get("/repos/acme/api", Auth::None).await,
        404,
        "Not Found",
    );
    assert_error(
        &s.get("/repos/acme/missing", Auth::None).await,
        404,
        "Not Found",
    );
    let r = s
        .get("/repos/acme/website", Auth::None)
        .await
        .expect_status(200);
    assert_eq!(r.body["private"], false);
    assert_eq!(r.body["visibility"], "public");
}

#[tokio::test]
async fn pending_fine_grained_token_reads_public_repos_but_gets_404_on_private_ones() {
    let s = spawn().await;
    let created = s
        .create_fine_grained(
            "bob",
            json!({"name": "bob ci", "resource_owner": "acme", "repository_selection": "all", "permissions": {"contents": "read"}}),
        )
        .await;
    assert_eq!(created.body["status"], "pending", "{created:#?}");
    assert_eq!(created.body["pending_request"], true, "{created:#?}");
    assert!(created.body["access_granted"].is_null(), "{created:#?}");
    let secret = created.str("token");
    s.get("/repos/acme/website", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_error(
        &s.get("/repos/acme/api", Auth::Token(&secret)).await,
        404,
        "Not Found",
    );
}

#[tokio::test]
async fn org_owners_fine_grained_token_is_approved_at_once_and_reads_the_private_repo() {
    let s = spawn().await;
    let created = s
        .create_fine_grained(
            "alice",
            json!({"name": "acme api", "resource_owner": "acme", "repositories": ["api"], "permissions": {"contents": "read"}}),
        )
        .await;
    assert_eq!(created.body["status"], "approved", "{created:#?}");
    assert_eq!(created.body["pending_request"], false, "{created:#?}");
    assert_eq!(
        created.body["resource_owner"]["login"], "acme",
        "{created:#?}"
    );
    let r = s
        .get("/repos/acme/api", Auth::Token(&created.str("token")))
        .await
        .expect_status(200);
    assert_eq!(r.body["full_name"], "acme/api");
    assert_eq!(
        r.header("x-accepted-github-permissions"),
        Some("metadata=read"),
        "{r:#?}"
    );
    assert_eq!(r.header("x-oauth-scopes"), None, "{r:#?}");
}

#[tokio::test]
async fn enterprise_restricting_classic_tokens_gets_403_naming_the_enterprise() {
    let s = spawn().await;
    let (_, secret) = s.classic("carol", "everything", &["repo"]).await;
    let r = s.get("/repos/globex/portal", Auth::Token(&secret)).await;
    assert_eq!(r.status, 403, "{r:#?}");
    let message = r.str("message");
    assert!(message.contains("'corp' enterprise"), "{message}");
    assert!(
        message.contains("personal access token (classic)"),
        "{message}"
    );
    // The restriction is the enterprise's, on its organizations only: acme's repository works.
    s.get("/repos/acme/api", Auth::Token(&secret))
        .await
        .expect_status(200);
}
