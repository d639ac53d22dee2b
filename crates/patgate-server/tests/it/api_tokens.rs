//! Users manage their own tokens with their password: `/user/personal-access-tokens` and
//! `/authorizations`. Credentials, bodies, validation, ownership, edits and regeneration.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Auth, Body, assert_bad_credentials, assert_error, assert_field_error, spawn};

const FG: &str = "/user/personal-access-tokens";
const CLASSIC: &str = "/authorizations";

#[tokio::test]
async fn token_management_refuses_a_token_as_credentials_with_403() {
    let s = spawn().await;
    let (_, secret) = s
        .classic("alice", "tries to manage", &["repo", "user"])
        .await;
    for (method, path) in [
        (Method::GET, FG),
        (Method::POST, FG),
        (Method::GET, CLASSIC),
        (Method::POST, CLASSIC),
    ] {
        let body = json!({"name": "x", "note": "x"});
        let r = s
            .call(
                method.clone(),
                path,
                Auth::Token(&secret),
                Body::Json(&body),
            )
            .await;
        assert_eq!(r.status, 403, "{method} {path}: {r:#?}");
        // A token as the password of Basic auth is still a token.
        let r = s
            .call(
                method.clone(),
                path,
                Auth::Basic("alice", &secret),
                Body::Json(&body),
            )
            .await;
        assert_eq!(r.status, 403, "{method} {path} (basic): {r:#?}");
    }
}

#[tokio::test]
async fn token_management_with_a_wrong_password_gets_401() {
    let s = spawn().await;
    assert_bad_credentials(&s.get(FG, Auth::Basic("alice", "not-her-password")).await);
    assert_bad_credentials(
        &s.post(
            CLASSIC,
            Auth::Basic("alice", "bob-password"),
            &json!({"note": "x"}),
        )
        .await,
    );
    // An unknown login looks the same.
    assert_bad_credentials(&s.get(FG, Auth::Basic("mallory", "whatever")).await);
}

#[tokio::test]
async fn token_management_without_credentials_gets_401() {
    let s = spawn().await;
    for path in [FG, CLASSIC] {
        let r = s.get(path, Auth::None).await;
        assert_error(&r, 401, "Requires authentication");
        assert!(r.header("www-authenticate").is_some(), "{r:#?}");
    }
}

#[tokio::test]
async fn invalid_json_gets_400_problems_parsing_json() {
    let s = spawn().await;
    for path in [FG, CLASSIC] {
        let r = s
            .call(
                Method::POST,
                path,
                Auth::Password("alice"),
                Body::Text("{\"name\": "),
            )
            .await;
        assert_error(&r, 400, "Problems parsing JSON");
    }
}

#[tokio::test]
async fn json_array_body_gets_400_body_should_be_a_json_object() {
    let s = spawn().await;
    for path in [FG, CLASSIC] {
        let r = s
            .call(
                Method::POST,
                path,
                Auth::Password("alice"),
                Body::Text("[{\"name\": \"x\"}]"),
            )
            .await;
        assert_error(&r, 400, "Body should be a JSON object");
    }
}

#[tokio::test]
async fn fine_grained_validation_failures_get_422_naming_field_and_code() {
    let s = spawn().await;
    let cases: &[(Value, &str, &str)] = &[
        (json!({"name": ""}), "name", "missing_field"),
        (json!({"name": "   "}), "name", "missing_field"),
        (
            json!({"name": "x", "permissions": {"keys": "admin"}}),
            "permissions",
            "invalid",
        ),
        (
            json!({"name": "x", "repository_selection": "all", "permissions": {"metadata": "write"}}),
            "permissions",
            "invalid",
        ),
        (
            json!({"name": "x", "permissions": {"foo": "read"}}),
            "permissions",
            "invalid",
        ),
        (
            json!({"name": "x", "repositories": ["acme/api"], "permissions": {"contents": "read"}}),
            "repositories",
            "invalid",
        ),
        (
            json!({"name": "x", "expires_in": 0}),
            "expires_in",
            "invalid",
        ),
        (
            json!({"name": "x", "expires_in": 367}),
            "expires_in",
            "invalid",
        ),
        (
            json!({"name": "x", "expires_in": "0"}),
            "expires_in",
            "invalid",
        ),
        (
            json!({"name": "x", "resource_owner": "nobody-here"}),
            "resource_owner",
            "invalid",
        ),
        (json!({"name": "x".repeat(41)}), "name", "invalid"),
    ];
    for (body, field, code) in cases {
        let r = s.post(FG, Auth::Password("alice"), body).await;
        assert_field_error(&r, field, code);
    }
    // The message names what is wrong.
    let r = s
        .post(
            FG,
            Auth::Password("alice"),
            &json!({"name": "x", "permissions": {"foo": "read"}}),
        )
        .await;
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("foo"),
        "{r:#?}"
    );
    // Nothing was created.
    let r = s.get(FG, Auth::Password("alice")).await.expect_status(200);
    assert_eq!(r.body, json!([]));
}

#[tokio::test]
async fn classic_validation_failures_get_422_naming_field_and_code() {
    let s = spawn().await;
    let cases: &[(Value, &str, &str)] = &[
        (
            json!({"note": "", "scopes": ["repo"]}),
            "note",
            "missing_field",
        ),
        (
            json!({"note": "x", "scopes": ["repo", "no:such:scope"]}),
            "scopes",
            "invalid",
        ),
        (
            json!({"note": "x", "expires_in": 0}),
            "expires_in",
            "invalid",
        ),
        (
            json!({"note": "x", "expires_in": 367}),
            "expires_in",
            "invalid",
        ),
    ];
    for (body, field, code) in cases {
        let r = s.post(CLASSIC, Auth::Password("alice"), body).await;
        assert_field_error(&r, field, code);
    }
    // Unknown fields are not silently ignored.
    let r = s
        .post(
            CLASSIC,
            Auth::Password("alice"),
            &json!({"note": "x", "scope": ["repo"]}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:#?}");
}

#[tokio::test]
async fn unverified_email_gets_422() {
    let s = spawn().await;
    let r = s
        .post(FG, Auth::Password("dave"), &json!({"name": "mine"}))
        .await;
    assert_field_error(&r, "email", "custom");
    let r = s
        .post(
            CLASSIC,
            Auth::Password("dave"),
            &json!({"note": "mine", "scopes": ["repo"]}),
        )
        .await;
    assert_field_error(&r, "email", "custom");
}

#[tokio::test]
async fn another_users_token_id_gets_404() {
    let s = spawn().await;
    let (fg_id, _) = s.fine_grained("alice", json!({"name": "alice's"})).await;
    let (classic_id, _) = s.classic("alice", "alice's", &["repo"]).await;
    let fg = format!("{FG}/{fg_id}");
    let classic = format!("{CLASSIC}/{classic_id}");
    assert_error(&s.get(&fg, Auth::Password("bob")).await, 404, "Not Found");
    assert_error(
        &s.patch(
            &fg,
            Auth::Password("bob"),
            &json!({"description": "mine now"}),
        )
        .await,
        404,
        "Not Found",
    );
    assert_error(
        &s.post(
            &format!("{fg}/regenerate"),
            Auth::Password("bob"),
            &json!({}),
        )
        .await,
        404,
        "Not Found",
    );
    assert_error(
        &s.delete(&fg, Auth::Password("bob")).await,
        404,
        "Not Found",
    );
    assert_error(
        &s.get(&classic, Auth::Password("bob")).await,
        404,
        "Not Found",
    );
    assert_error(
        &s.patch(
            &classic,
            Auth::Password("bob"),
            &json!({"scopes": ["gist"]}),
        )
        .await,
        404,
        "Not Found",
    );
    assert_error(
        &s.delete(&classic, Auth::Password("bob")).await,
        404,
        "Not Found",
    );
    // A token id of the other kind, or no number at all, is not found either.
    assert_error(
        &s.get(&format!("{CLASSIC}/{fg_id}"), Auth::Password("alice"))
            .await,
        404,
        "Not Found",
    );
    assert_error(
        &s.get(&format!("{FG}/{classic_id}"), Auth::Password("alice"))
            .await,
        404,
        "Not Found",
    );
    assert_error(
        &s.get(&format!("{FG}/abc"), Auth::Password("alice")).await,
        404,
        "Not Found",
    );
    // Still there for alice.
    s.get(&fg, Auth::Password("alice")).await.expect_status(200);
    s.get(&classic, Auth::Password("alice"))
        .await
        .expect_status(200);
}

fn ids(list: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["id"].as_i64())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn listing_shows_only_the_users_own_tokens() {
    let s = spawn().await;
    let (a1, _) = s.fine_grained("alice", json!({"name": "a1"})).await;
    let (a2, _) = s.fine_grained("alice", json!({"name": "a2"})).await;
    let (b1, _) = s.fine_grained("bob", json!({"name": "b1"})).await;
    let (ac, _) = s.classic("alice", "ac", &["repo"]).await;
    let (bc, _) = s.classic("bob", "bc", &["gist"]).await;

    let alice_fg = s.get(FG, Auth::Password("alice")).await.expect_status(200);
    let mut expected = vec![a1, a2];
    expected.sort_unstable();
    assert_eq!(ids(&alice_fg.body), expected);
    // Secrets are shown once, at creation.
    for t in alice_fg.body.as_array().into_iter().flatten() {
        assert!(t.get("token").is_none_or(|v| v.is_null() || v == ""), "{t}");
    }
    assert_eq!(
        ids(&s
            .get(FG, Auth::Password("bob"))
            .await
            .expect_status(200)
            .body),
        vec![b1]
    );
    let alice_classic = s
        .get(CLASSIC, Auth::Password("alice"))
        .await
        .expect_status(200);
    assert_eq!(ids(&alice_classic.body), vec![ac]);
    assert_eq!(alice_classic.body[0]["token"], "", "{alice_classic:#?}");
    assert_eq!(
        ids(&s
            .get(CLASSIC, Auth::Password("bob"))
            .await
            .expect_status(200)
            .body),
        vec![bc]
    );
}

#[tokio::test]
async fn patch_edits_description_and_permissions() {
    let s = spawn().await;
    let (id, secret) = s
        .fine_grained(
            "alice",
            json!({"name": "notes", "description": "before", "repositories": ["notes"], "permissions": {"contents": "read"}}),
        )
        .await;
    let path = format!("{FG}/{id}");
    let r = s
        .patch(&path, Auth::Password("alice"), &json!({"description": "after", "permissions": {"contents": "write", "issues": "read"}}))
        .await
        .expect_status(200);
    assert_eq!(r.body["description"], "after", "{r:#?}");
    assert_eq!(
        r.body["permissions"]["repository"]["contents"], "write",
        "{r:#?}"
    );
    assert_eq!(
        r.body["permissions"]["repository"]["issues"], "read",
        "{r:#?}"
    );
    assert_eq!(
        r.body["permissions"]["repository"]["metadata"], "read",
        "{r:#?}"
    );
    assert_eq!(r.body["repository_selection"], "subset", "{r:#?}");
    assert_eq!(
        r.body["repositories"][0]["full_name"], "alice/notes",
        "{r:#?}"
    );

    let r = s
        .get(&path, Auth::Password("alice"))
        .await
        .expect_status(200);
    assert_eq!(r.body["description"], "after");
    assert_eq!(r.body["permissions"]["repository"]["contents"], "write");

    // `null` clears the description; the permissions stay.
    let r = s
        .patch(
            &path,
            Auth::Password("alice"),
            &json!({"description": null}),
        )
        .await
        .expect_status(200);
    assert!(r.body["description"].is_null(), "{r:#?}");
    assert_eq!(
        r.body["permissions"]["repository"]["contents"], "write",
        "{r:#?}"
    );

    // An invalid edit is a 422 and changes nothing.
    let r = s
        .patch(
            &path,
            Auth::Password("alice"),
            &json!({"permissions": {"contents": "admin"}}),
        )
        .await;
    assert_field_error(&r, "permissions", "invalid");
    // The token works throughout (same secret).
    s.get("/repos/alice/notes", Auth::Token(&secret))
        .await
        .expect_status(200);
}

#[tokio::test]
async fn regenerate_keeps_the_id_and_changes_the_secret() {
    let s = spawn().await;
    let created = s
        .create_fine_grained("alice", json!({"name": "rotate", "expires_in": 7}))
        .await;
    let id = created.id();
    let r = s
        .post(
            &format!("{FG}/{id}/regenerate"),
            Auth::Password("alice"),
            &json!({"expires_in": 60}),
        )
        .await
        .expect_status(200);
    assert_eq!(r.id(), id);
    assert_eq!(r.body["name"], "rotate");
    assert_ne!(r.str("token"), created.str("token"));
    assert!(r.str("token").starts_with("pgf_"), "{r:#?}");
    assert_ne!(r.str("token_last_eight"), created.str("token_last_eight"));
    assert_ne!(r.str("expires_at"), created.str("expires_at"));
    let me = s
        .get("/user", Auth::Token(&r.str("token")))
        .await
        .expect_status(200);
    assert_eq!(me.body["login"], "alice");

    let classic = s
        .create_classic("alice", json!({"note": "rotate", "scopes": ["repo"]}))
        .await;
    let r = s
        .post(
            &format!("{CLASSIC}/{}/regenerate", classic.id()),
            Auth::Password("alice"),
            &json!({}),
        )
        .await
        .expect_status(200);
    assert_eq!(r.id(), classic.id());
    assert_ne!(r.str("token"), classic.str("token"));
    assert!(r.str("token").starts_with("pgp_"), "{r:#?}");
    assert_eq!(r.body["scopes"], json!(["repo"]));
    // Still one token of each kind.
    assert_eq!(
        ids(&s.get(FG, Auth::Password("alice")).await.body),
        vec![id]
    );
    assert_eq!(
        ids(&s.get(CLASSIC, Auth::Password("alice")).await.body),
        vec![classic.id()]
    );
}

#[tokio::test]
async fn classic_patch_adds_and_removes_scopes() {
    let s = spawn().await;
    let (id, secret) = s.classic("alice", "grow", &["repo"]).await;
    let path = format!("{CLASSIC}/{id}");
    let r = s
        .patch(
            &path,
            Auth::Password("alice"),
            &json!({"add_scopes": ["gist", "read:org"]}),
        )
        .await
        .expect_status(200);
    assert_eq!(
        r.body["scopes"],
        json!(["repo", "gist", "read:org"]),
        "{r:#?}"
    );
    let me = s
        .get("/user", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_eq!(
        me.header("x-oauth-scopes"),
        Some("repo, gist, read:org"),
        "{me:#?}"
    );

    let r = s
        .patch(
            &path,
            Auth::Password("alice"),
            &json!({"remove_scopes": ["repo", "read:org"]}),
        )
        .await
        .expect_status(200);
    assert_eq!(r.body["scopes"], json!(["gist"]), "{r:#?}");
    let me = s
        .get("/user", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_eq!(me.header("x-oauth-scopes"), Some("gist"), "{me:#?}");
    // The change takes effect at once: without `repo` the private repository is hidden again.
    assert_error(
        &s.get("/repos/alice/notes", Auth::Token(&secret)).await,
        404,
        "Not Found",
    );

    // `scopes` replaces; an unknown scope is a 422.
    let r = s
        .patch(&path, Auth::Password("alice"), &json!({"scopes": ["user"]}))
        .await
        .expect_status(200);
    assert_eq!(r.body["scopes"], json!(["user"]), "{r:#?}");
    let r = s
        .patch(
            &path,
            Auth::Password("alice"),
            &json!({"add_scopes": ["bogus"]}),
        )
        .await;
    assert_field_error(&r, "scopes", "invalid");
}

#[tokio::test]
async fn created_tokens_come_back_in_githubs_shapes() {
    let s = spawn().await;
    let fg = s
        .create_fine_grained("alice", json!({"name": "shape", "description": "d", "repositories": ["notes"], "permissions": {"repository": {"contents": "read"}}}))
        .await;
    assert!(fg.str("token").starts_with("pgf_"), "{fg:#?}");
    assert_eq!(fg.body["status"], "not_required", "{fg:#?}");
    assert_eq!(fg.body["resource_owner"]["login"], "alice", "{fg:#?}");
    assert_eq!(
        fg.body["token_last_eight"],
        fg.str("token")[fg.str("token").len() - 8..],
        "{fg:#?}"
    );
    assert_eq!(
        fg.body["url"],
        s.url(&format!("{FG}/{}", fg.id())),
        "{fg:#?}"
    );

    let c = s
        .create_classic(
            "alice",
            json!({"note": "shape", "scopes": ["user", "gist", "user:email"]}),
        )
        .await;
    assert!(c.str("token").starts_with("pgp_"), "{c:#?}");
    assert_eq!(c.body["scopes"], json!(["user", "gist"]), "{c:#?}");
    assert_eq!(c.body["note"], "shape");
    assert_eq!(c.body["user"]["login"], "alice");
    let r = s
        .get(&format!("{CLASSIC}/{}", c.id()), Auth::Password("alice"))
        .await
        .expect_status(200);
    assert_eq!(r.body["token"], "", "{r:#?}");
}

#[tokio::test]
async fn token_use_shows_as_last_used_after_the_flush() {
    let s = spawn().await;
    let (id, secret) = s.fine_grained("alice", json!({"name": "used"})).await;
    let path = format!("{FG}/{id}");
    let r = s
        .get(&path, Auth::Password("alice"))
        .await
        .expect_status(200);
    assert!(r.body["last_used_at"].is_null(), "{r:#?}");
    s.get("/user", Auth::Token(&secret))
        .await
        .expect_status(200);
    // Verification never writes; the server flushes the buffered times in batches.
    s.app
        .flush_last_used()
        .await
        .expect("flush last-used times");
    let r = s
        .get(&path, Auth::Password("alice"))
        .await
        .expect_status(200);
    assert!(
        r.body["last_used_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{r:#?}"
    );
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account_out_for_that_address_only() {
    let s = spawn().await;
    // The free failures answer 401; then the account's backoff answers 403 before any check.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = s
            .get("/authorizations", Auth::Basic("alice", "wrong"))
            .await;
        statuses.push(r.status);
    }
    let free = patgate_server::throttle::FREE_FAILURES_PER_ACCOUNT as usize + 1;
    assert_eq!(
        &statuses[..free],
        vec![401; free].as_slice(),
        "{statuses:?}"
    );
    assert!(statuses[free..].iter().all(|s| *s == 403), "{statuses:?}");
    // Now even the right password is refused, with GitHub's words, and nothing is created.
    let r = s
        .post(
            "/authorizations",
            Auth::Password("alice"),
            &json!({"note": "x", "scopes": []}),
        )
        .await;
    assert_error(
        &r,
        403,
        "Maximum number of login attempts exceeded. Please try again later.",
    );
    assert!(r.header("retry-after").is_some(), "{r:#?}");
    // Another user behind the same address is not affected.
    s.get("/authorizations", Auth::Password("bob"))
        .await
        .expect_status(200);
    assert!(
        s.app
            .list_tokens(
                &s.app.store().user_by_login("alice").await.unwrap().unwrap(),
                None
            )
            .await
            .unwrap()
            .is_empty()
    );
    // Tokens are not passwords: API requests with a token still work.
    let token = s
        .app
        .create_classic(
            &s.app.store().user_by_login("bob").await.unwrap().unwrap(),
            patgate_app::tokens::CreateClassic {
                note: "bob".into(),
                scopes: vec![],
                expiration: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        s.get("/user", Auth::Token(token.secret.expose()))
            .await
            .status,
        200
    );
}
