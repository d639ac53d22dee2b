//! SSH keys (`/user/keys`) and deploy keys (`/repos/{owner}/{repo}/keys`) created with tokens,
//! and what deleting the creating token does to them.

use serde_json::{Value, json};

use crate::support::{Auth, KEY_1, KEY_2, KEY_3, assert_error, spawn};

const NOT_ACCESSIBLE: &str = "Resource not accessible by personal access token";

fn key_body(title: &str, key: &str) -> Value {
    json!({"title": title, "key": key})
}

fn titles(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["title"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn fine_grained_token_with_keys_write_adds_a_user_key() {
    let s = spawn().await;
    let (_, secret) = s
        .fine_grained(
            "alice",
            json!({"name": "keys", "permissions": {"keys": "write"}}),
        )
        .await;
    let r = s
        .post(
            "/user/keys",
            Auth::Token(&secret),
            &key_body("laptop", KEY_1),
        )
        .await
        .expect_status(201);
    assert_eq!(r.body["title"], "laptop", "{r:#?}");
    assert_eq!(r.body["key"], KEY_1, "{r:#?}");
    assert_eq!(r.body["added_by_token"], true, "{r:#?}");
    let list = s
        .get("/user/keys", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_eq!(titles(&list.body), vec!["laptop"]);
}

#[tokio::test]
async fn fine_grained_token_without_keys_write_gets_403_with_the_accepted_permission() {
    let s = spawn().await;
    for permissions in [json!({}), json!({"keys": "read"})] {
        let (_, secret) = s
            .fine_grained(
                "alice",
                json!({"name": format!("no keys write {permissions}"), "permissions": permissions}),
            )
            .await;
        let r = s
            .post(
                "/user/keys",
                Auth::Token(&secret),
                &key_body("laptop", KEY_1),
            )
            .await;
        assert_error(&r, 403, NOT_ACCESSIBLE);
        assert_eq!(
            r.header("x-accepted-github-permissions"),
            Some("keys=write"),
            "{r:#?}"
        );
    }
    // A fine-grained token for an organization has no account permissions at all.
    let (_, secret) = s
        .fine_grained("alice", json!({"name": "acme", "resource_owner": "acme", "repository_selection": "all", "permissions": {"contents": "read"}}))
        .await;
    let r = s
        .post(
            "/user/keys",
            Auth::Token(&secret),
            &key_body("laptop", KEY_1),
        )
        .await;
    assert_eq!(r.status, 404, "{r:#?}");
    // Nothing was added.
    let (_, reader) = s
        .fine_grained(
            "alice",
            json!({"name": "reader", "permissions": {"keys": "read"}}),
        )
        .await;
    let list = s
        .get("/user/keys", Auth::Token(&reader))
        .await
        .expect_status(200);
    assert_eq!(list.body, json!([]));
}

#[tokio::test]
async fn classic_token_with_write_public_key_adds_a_user_key() {
    let s = spawn().await;
    let (_, secret) = s.classic("alice", "keys", &["write:public_key"]).await;
    let r = s
        .post(
            "/user/keys",
            Auth::Token(&secret),
            &key_body("desktop", KEY_2),
        )
        .await
        .expect_status(201);
    assert_eq!(r.body["title"], "desktop", "{r:#?}");
    assert_eq!(
        r.header("x-oauth-scopes"),
        Some("write:public_key"),
        "{r:#?}"
    );
    // `admin:public_key` includes `write:public_key`.
    let (_, admin) = s
        .classic("alice", "admin keys", &["admin:public_key"])
        .await;
    s.post("/user/keys", Auth::Token(&admin), &key_body("third", KEY_3))
        .await
        .expect_status(201);
}

#[tokio::test]
async fn classic_token_without_write_public_key_gets_403() {
    let s = spawn().await;
    for scopes in [vec!["repo"], vec!["read:public_key"]] {
        let (_, secret) = s
            .classic("alice", &format!("no write {}", scopes.join(",")), &scopes)
            .await;
        let r = s
            .post(
                "/user/keys",
                Auth::Token(&secret),
                &key_body("desktop", KEY_2),
            )
            .await;
        // `decide` refuses a visible resource (the user's own account) with 403.
        assert_error(&r, 403, NOT_ACCESSIBLE);
        assert_eq!(
            r.header("x-accepted-oauth-scopes"),
            Some("write:public_key"),
            "{r:#?}"
        );
    }
}

#[tokio::test]
async fn deploy_key_with_administration_write_is_created() {
    let s = spawn().await;
    let (_, secret) = s
        .fine_grained(
            "alice",
            json!({"name": "acme admin", "resource_owner": "acme", "repositories": ["api"], "permissions": {"administration": "write"}}),
        )
        .await;
    let r = s
        .post(
            "/repos/acme/api/keys",
            Auth::Token(&secret),
            &json!({"title": "ci", "key": KEY_1, "read_only": true}),
        )
        .await
        .expect_status(201);
    assert_eq!(r.body["title"], "ci", "{r:#?}");
    assert_eq!(r.body["read_only"], true, "{r:#?}");
    let list = s
        .get("/repos/acme/api/keys", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_eq!(titles(&list.body), vec!["ci"]);
}

#[tokio::test]
async fn deploy_key_without_administration_write_is_refused() {
    let s = spawn().await;
    let (_, secret) = s
        .fine_grained(
            "alice",
            json!({"name": "acme contents", "resource_owner": "acme", "repositories": ["api"], "permissions": {"contents": "write"}}),
        )
        .await;
    let r = s
        .post(
            "/repos/acme/api/keys",
            Auth::Token(&secret),
            &key_body("ci", KEY_1),
        )
        .await;
    assert_error(&r, 403, NOT_ACCESSIBLE);
    assert_eq!(
        r.header("x-accepted-github-permissions"),
        Some("administration=write"),
        "{r:#?}"
    );
    // carol (write collaborator) cannot administer acme/api, whatever her token says.
    let (_, carol) = s.classic("carol", "everything", &["repo"]).await;
    let r = s
        .post(
            "/repos/acme/api/keys",
            Auth::Token(&carol),
            &key_body("ci", KEY_1),
        )
        .await;
    assert_error(&r, 403, NOT_ACCESSIBLE);
}

#[tokio::test]
async fn deleting_the_token_deletes_its_deploy_keys_but_not_its_user_keys() {
    let s = spawn().await;
    let (id, secret) = s
        .fine_grained(
            "alice",
            json!({"name": "maker", "repositories": ["notes"], "permissions": {"administration": "write", "keys": "write"}}),
        )
        .await;
    s.post(
        "/repos/alice/notes/keys",
        Auth::Token(&secret),
        &key_body("deploy", KEY_1),
    )
    .await
    .expect_status(201);
    s.post(
        "/user/keys",
        Auth::Token(&secret),
        &key_body("user key", KEY_2),
    )
    .await
    .expect_status(201);

    // Another admin token of alice's sees both.
    let (_, other) = s
        .classic("alice", "observer", &["repo", "read:public_key"])
        .await;
    let deploy = s
        .get("/repos/alice/notes/keys", Auth::Token(&other))
        .await
        .expect_status(200);
    assert_eq!(titles(&deploy.body), vec!["deploy"]);
    let user = s
        .get("/user/keys", Auth::Token(&other))
        .await
        .expect_status(200);
    assert_eq!(titles(&user.body), vec!["user key"]);

    s.delete(
        &format!("/user/personal-access-tokens/{id}"),
        Auth::Password("alice"),
    )
    .await
    .expect_status(204);

    let deploy = s
        .get("/repos/alice/notes/keys", Auth::Token(&other))
        .await
        .expect_status(200);
    assert_eq!(
        deploy.body,
        json!([]),
        "the deploy key outlived its token: {deploy:#?}"
    );
    let user = s
        .get("/user/keys", Auth::Token(&other))
        .await
        .expect_status(200);
    assert_eq!(titles(&user.body), vec!["user key"], "{user:#?}");
}

#[tokio::test]
async fn deleting_a_classic_token_deletes_its_deploy_keys_too() {
    let s = spawn().await;
    let (id, secret) = s
        .classic("alice", "classic maker", &["repo", "write:public_key"])
        .await;
    s.post(
        "/repos/acme/api/keys",
        Auth::Token(&secret),
        &key_body("deploy", KEY_1),
    )
    .await
    .expect_status(201);
    s.post(
        "/user/keys",
        Auth::Token(&secret),
        &key_body("user key", KEY_2),
    )
    .await
    .expect_status(201);
    let (_, other) = s
        .classic("alice", "observer", &["repo", "read:public_key"])
        .await;
    assert_eq!(
        titles(
            &s.get("/repos/acme/api/keys", Auth::Token(&other))
                .await
                .expect_status(200)
                .body
        ),
        vec!["deploy"]
    );

    s.delete(&format!("/authorizations/{id}"), Auth::Password("alice"))
        .await
        .expect_status(204);

    let deploy = s
        .get("/repos/acme/api/keys", Auth::Token(&other))
        .await
        .expect_status(200);
    assert_eq!(deploy.body, json!([]), "{deploy:#?}");
    let user = s
        .get("/user/keys", Auth::Token(&other))
        .await
        .expect_status(200);
    assert_eq!(titles(&user.body), vec!["user key"], "{user:#?}");
}

#[tokio::test]
async fn user_keys_can_be_read_and_deleted_with_the_right_permission() {
    let s = spawn().await;
    let (_, writer) = s
        .fine_grained(
            "alice",
            json!({"name": "writer", "permissions": {"keys": "write"}}),
        )
        .await;
    let created = s
        .post(
            "/user/keys",
            Auth::Token(&writer),
            &key_body("laptop", KEY_1),
        )
        .await
        .expect_status(201);
    let path = format!("/user/keys/{}", created.id());
    let r = s.get(&path, Auth::Token(&writer)).await.expect_status(200);
    assert_eq!(r.body["title"], "laptop");
    // The same key twice is a 422.
    let r = s
        .post(
            "/user/keys",
            Auth::Token(&writer),
            &key_body("again", KEY_1),
        )
        .await;
    assert_eq!(r.status, 422, "{r:#?}");
    // bob does not see alice's key.
    let (_, bob) = s
        .fine_grained(
            "bob",
            json!({"name": "bob keys", "permissions": {"keys": "write"}}),
        )
        .await;
    assert_error(&s.get(&path, Auth::Token(&bob)).await, 404, "Not Found");
    assert_error(&s.delete(&path, Auth::Token(&bob)).await, 404, "Not Found");
    s.delete(&path, Auth::Token(&writer))
        .await
        .expect_status(204);
    assert_error(&s.get(&path, Auth::Token(&writer)).await, 404, "Not Found");
}

/// A key names one account or one repository (GitHub: "Key is already in use"): the same key
/// cannot be a user key of two users, a user key and a deploy key, or two deploy keys, whatever
/// its comment says.
#[tokio::test]
async fn a_key_in_use_anywhere_is_refused_everywhere_else() {
    let s = spawn().await;
    let (_, alice) = s
        .fine_grained(
            "alice",
            json!({"name": "acme admin", "resource_owner": "acme", "repositories": ["api"], "permissions": {"administration": "write"}}),
        )
        .await;
    let (_, alice_keys) = s
        .fine_grained(
            "alice",
            json!({"name": "keys", "permissions": {"keys": "write"}}),
        )
        .await;
    let (_, bob_keys) = s
        .fine_grained(
            "bob",
            json!({"name": "keys", "permissions": {"keys": "write"}}),
        )
        .await;
    s.post(
        "/user/keys",
        Auth::Token(&alice_keys),
        &key_body("laptop", KEY_1),
    )
    .await
    .expect_status(201);
    let with_another_comment = format!(
        "{} someone@else",
        KEY_1
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (path, token) in [("/user/keys", &bob_keys), ("/repos/acme/api/keys", &alice)] {
        for key in [KEY_1, with_another_comment.as_str()] {
            let r = s
                .post(path, Auth::Token(token), &key_body("again", key))
                .await
                .expect_status(422);
            assert_eq!(
                r.body["errors"][0]["message"], "key is already in use",
                "{r:#?}"
            );
        }
    }
    // A deploy key is in use for user keys too.
    s.post(
        "/repos/acme/api/keys",
        Auth::Token(&alice),
        &key_body("ci", KEY_2),
    )
    .await
    .expect_status(201);
    s.post(
        "/user/keys",
        Auth::Token(&bob_keys),
        &key_body("mine", KEY_2),
    )
    .await
    .expect_status(422);
    assert!(
        titles(
            &s.get("/user/keys", Auth::Token(&bob_keys))
                .await
                .expect_status(200)
                .body
        )
        .is_empty(),
        "nothing was added"
    );
}
