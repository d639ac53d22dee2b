//! The directory API (issue 13): GitHub's and GitHub Enterprise Server's paths and bodies,
//! service credentials only, 422 naming the field, every change in force on the next request,
//! offboarding without restoring on return, and the all-or-nothing sync.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    AUTHORIZE_ONLY, Auth, Body, SERVICE, Server, assert_error, assert_field_error, spawn_platform,
};

async fn svc(s: &Server, method: Method, path: &str, body: Value) -> crate::support::Reply {
    s.service(method, path, &body).await
}

#[tokio::test]
async fn only_a_service_credential_with_the_directory_scope_changes_the_directory() {
    let s = spawn_platform().await;
    let (_, token) = s.classic("alice", "laptop", &["repo", "admin:org"]).await;
    let body = json!({"login": "mona", "email": "mona@example.com"});
    let with = async |auth: Auth<'_>| {
        s.call(Method::POST, "/admin/users", auth, Body::Json(&body))
            .await
    };
    assert_error(&with(Auth::None).await, 401, "Requires authentication");
    assert_error(
        &with(Auth::Token("pgsvc_wrong0secret")).await,
        401,
        "Bad credentials",
    );
    let by_token = with(Auth::Token(&token)).await;
    assert_eq!(by_token.status, 403, "{by_token:#?}");
    let by_password = with(Auth::Password("alice")).await;
    assert_eq!(
        by_password.status, 403,
        "a site's password is not a credential here"
    );
    let by_basic_token = with(Auth::Basic("alice", &token)).await;
    assert_eq!(by_basic_token.status, 403);
    let narrow = with(Auth::Token(AUTHORIZE_ONLY)).await;
    assert_eq!(narrow.status, 403, "{narrow:#?}");
    assert!(s.app.store().user_by_login("mona").await.unwrap().is_none());
    with(Auth::Token(SERVICE)).await.expect_status(201);
    // Audited as the service.
    let events = s
        .app
        .store()
        .audit_events(&patgate_store::AuditQuery {
            action: Some("user.create".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events[0].actor_login.as_deref(), Some("service:platform"));
}

#[tokio::test]
async fn users_organizations_repositories_and_collaborators_are_created_on_githubs_paths() {
    let s = spawn_platform().await;
    let mona = svc(
        &s,
        Method::POST,
        "/admin/users",
        json!({"login": "mona", "email": "mona@example.com", "password": "mona-password"}),
    )
    .await
    .expect_status(201);
    assert_eq!(mona.body["login"], "mona");
    assert_eq!(mona.body["type"], "User");
    svc(
        &s,
        Method::POST,
        "/admin/users",
        json!({"login": "hubot", "email": "hubot@example.com"}),
    )
    .await
    .expect_status(201);
    let octo = svc(
        &s,
        Method::POST,
        "/admin/organizations",
        json!({"login": "octo", "admin": "mona"}),
    )
    .await
    .expect_status(201);
    assert_eq!(octo.body["type"], "Organization");
    let m = svc(
        &s,
        Method::PUT,
        "/orgs/octo/memberships/hubot",
        json!({"role": "member"}),
    )
    .await
    .expect_status(200);
    assert_eq!(
        (m.body["state"].as_str(), m.body["role"].as_str()),
        (Some("active"), Some("member"))
    );
    assert_eq!(m.body["user"]["login"], "hubot");
    let owner = svc(&s, Method::GET, "/orgs/octo/memberships/mona", json!({}))
        .await
        .expect_status(200);
    assert_eq!(owner.body["role"], "admin");
    let repo = svc(
        &s,
        Method::POST,
        "/orgs/octo/repos",
        json!({"name": "engine", "private": true}),
    )
    .await
    .expect_status(201);
    assert_eq!(repo.body["full_name"], "octo/engine");
    assert_eq!(repo.body["visibility"], "private");
    svc(
        &s,
        Method::POST,
        "/users/hubot/repos",
        json!({"name": "dotfiles"}),
    )
    .await
    .expect_status(201);
    svc(
        &s,
        Method::PUT,
        "/repos/octo/engine/collaborators/carol",
        json!({"permission": "triage"}),
    )
    .await
    .expect_status(204);
    let engine = s
        .app
        .store()
        .repo_by_name("octo", "engine")
        .await
        .unwrap()
        .unwrap();
    let carol = s.app.store().user_by_login("carol").await.unwrap().unwrap();
    assert_eq!(
        s.app
            .store()
            .collaborator_role(engine.id, carol.id)
            .await
            .unwrap(),
        Some(patgate_domain::catalog::RepoRole::Triage)
    );
    // mona, created with a password, mints a token and reads the private repository at once.
    let (_, token) = s.classic("mona", "laptop", &["repo"]).await;
    s.get("/repos/octo/engine", Auth::Token(&token))
        .await
        .expect_status(200);
}

#[tokio::test]
async fn bad_input_answers_422_naming_the_field_and_changes_nothing() {
    let s = spawn_platform().await;
    let cases = [
        (
            Method::POST,
            "/admin/users",
            json!({"login": "-mona", "email": "mona@example.com"}),
            "login",
            "invalid",
        ),
        (
            Method::POST,
            "/admin/users",
            json!({"login": "mona", "email": "nope"}),
            "email",
            "invalid",
        ),
        (
            Method::POST,
            "/admin/users",
            json!({"login": "alice", "email": "a@example.com"}),
            "login",
            "already_exists",
        ),
        (
            Method::POST,
            "/admin/organizations",
            json!({"login": "octo", "admin": "ghost"}),
            "admin",
            "invalid",
        ),
        (
            Method::POST,
            "/admin/organizations",
            json!({"login": "acme", "admin": "alice"}),
            "login",
            "already_exists",
        ),
        (
            Method::PUT,
            "/orgs/acme/memberships/bob",
            json!({"role": "boss"}),
            "role",
            "invalid",
        ),
        (
            Method::POST,
            "/orgs/acme/repos",
            json!({"name": "a b"}),
            "name",
            "invalid",
        ),
        (
            Method::POST,
            "/orgs/acme/repos",
            json!({"name": "api"}),
            "name",
            "already_exists",
        ),
        (
            Method::POST,
            "/orgs/acme/repos",
            json!({"name": "x", "visibility": "internal"}),
            "visibility",
            "invalid",
        ),
        (
            Method::PATCH,
            "/repos/acme/api",
            json!({"name": "website"}),
            "name",
            "already_exists",
        ),
        (
            Method::PATCH,
            "/repos/acme/api",
            json!({"visibility": "secret"}),
            "visibility",
            "invalid",
        ),
        (
            Method::POST,
            "/repos/acme/api/transfer",
            json!({"new_owner": "ghost"}),
            "new_owner",
            "invalid",
        ),
        (
            Method::PUT,
            "/repos/acme/api/collaborators/bob",
            json!({"permission": "boss"}),
            "permission",
            "invalid",
        ),
        (
            Method::PATCH,
            "/admin/users/bob",
            json!({"login": "alice"}),
            "login",
            "already_exists",
        ),
    ];
    for (method, path, body, field, code) in cases {
        let r = svc(&s, method.clone(), path, body.clone()).await;
        assert_field_error(&r, field, code);
    }
    // A body of the wrong shape: GitHub's 422 naming the field too.
    let r = svc(
        &s,
        Method::POST,
        "/admin/users",
        json!({"email": "a@example.com"}),
    )
    .await;
    assert_error(&r, 422, "Invalid request");
    assert_eq!(
        (
            r.body["errors"][0]["field"].as_str(),
            r.body["errors"][0]["code"].as_str()
        ),
        (Some("login"), Some("missing_field"))
    );
    // Missing things are 404, as on GitHub.
    for (method, path, body) in [
        (Method::PUT, "/orgs/acme/memberships/ghost", json!({})),
        (Method::PUT, "/orgs/ghost/memberships/bob", json!({})),
        (Method::DELETE, "/orgs/acme/members/ghost", json!({})),
        (Method::PATCH, "/repos/acme/ghost", json!({"name": "x"})),
        (Method::DELETE, "/admin/users/ghost", json!({})),
        (Method::PUT, "/users/ghost/suspended", json!({})),
    ] {
        assert_error(&svc(&s, method.clone(), path, body).await, 404, "Not Found");
    }
    assert!(s.app.store().user_by_login("mona").await.unwrap().is_none());
    assert!(
        s.app
            .store()
            .repo_by_name("acme", "x")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn removing_a_member_refuses_their_tokens_on_the_next_request_and_a_return_restores_no_grant()
{
    let s = spawn_platform().await;
    // bob is a member of acme; alice approves his token.
    let (id, fine) = s
        .fine_grained(
            "bob",
            json!({"name": "ci", "resource_owner": "acme", "repository_selection": "all",
                   "permissions": {"repository": {"contents": "read"}}}),
        )
        .await;
    let acme = s.app.org_named("acme").await.unwrap();
    let alice = s.app.store().user_by_login("alice").await.unwrap().unwrap();
    let request = s
        .app
        .store()
        .pending_request_of_token(patgate_domain::model::TokenId(id))
        .await
        .unwrap()
        .expect("a request");
    s.app
        .review_requests(
            &acme,
            &patgate_app::governance::Actor {
                id: Some(alice.id),
                login: "alice".into(),
            },
            &[request.id],
            true,
            None,
        )
        .await
        .unwrap();
    let (_, classic) = s.classic("bob", "laptop", &["repo"]).await;
    for t in [&fine, &classic] {
        s.get("/repos/acme/api", Auth::Token(t))
            .await
            .expect_status(200);
    }
    svc(&s, Method::DELETE, "/orgs/acme/members/bob", json!({}))
        .await
        .expect_status(204);
    // The very next request, both kinds.
    for t in [&fine, &classic] {
        assert_error(
            &s.get("/repos/acme/api", Auth::Token(t)).await,
            404,
            "Not Found",
        );
    }
    // The public repository is still readable (rule 2), by the revoked token too.
    s.get("/repos/acme/website", Auth::Token(&fine))
        .await
        .expect_status(200);
    // bob's view of his token: revoked.
    let view = s
        .get(
            &format!("/user/personal-access-tokens/{id}"),
            Auth::Password("bob"),
        )
        .await
        .expect_status(200);
    assert_eq!(view.body["status"], "revoked", "{view:#?}");
    // He comes back: the classic token reads again through his restored membership; the
    // fine-grained token's grant does not come back.
    svc(&s, Method::PUT, "/orgs/acme/memberships/bob", json!({}))
        .await
        .expect_status(200);
    s.get("/repos/acme/api", Auth::Token(&classic))
        .await
        .expect_status(200);
    assert_error(
        &s.get("/repos/acme/api", Auth::Token(&fine)).await,
        404,
        "Not Found",
    );
    // The organization's log tells the story.
    let log = s
        .get("/orgs/acme/audit-log", Auth::Password("alice"))
        .await
        .expect_status(200);
    let actions: Vec<&str> = log
        .body
        .as_array()
        .expect("events")
        .iter()
        .rev()
        .filter_map(|e| e["action"].as_str())
        .collect();
    let tail: Vec<&str> = actions.iter().rev().take(3).rev().copied().collect();
    assert_eq!(
        tail,
        [
            "org.remove_member",
            "personal_access_token.access_revoked",
            "org.add_member"
        ],
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_collaborator_removed_or_a_repository_made_private_is_refused_on_the_next_request() {
    let s = spawn_platform().await;
    let (_, carol) = s.classic("carol", "laptop", &["repo"]).await;
    s.get("/repos/acme/api", Auth::Token(&carol))
        .await
        .expect_status(200);
    svc(
        &s,
        Method::DELETE,
        "/repos/acme/api/collaborators/carol",
        json!({}),
    )
    .await
    .expect_status(204);
    assert_error(
        &s.get("/repos/acme/api", Auth::Token(&carol)).await,
        404,
        "Not Found",
    );
    // Anyone reads acme/website until it is made private.
    s.get("/repos/acme/website", Auth::None)
        .await
        .expect_status(200);
    let r = svc(
        &s,
        Method::PATCH,
        "/repos/acme/website",
        json!({"visibility": "private"}),
    )
    .await
    .expect_status(200);
    assert_eq!(r.body["private"], true);
    assert_error(
        &s.get("/repos/acme/website", Auth::None).await,
        404,
        "Not Found",
    );
    assert_error(
        &s.get("/repos/acme/website", Auth::Token(&carol)).await,
        404,
        "Not Found",
    );
}

#[tokio::test]
async fn a_suspended_user_is_refused_everywhere_until_the_suspension_is_lifted() {
    let s = spawn_platform().await;
    let (_, token) = s.classic("alice", "laptop", &["repo"]).await;
    svc(
        &s,
        Method::PUT,
        "/users/alice/suspended",
        json!({"reason": "on leave"}),
    )
    .await
    .expect_status(204);
    assert_error(
        &s.get("/user", Auth::Token(&token)).await,
        403,
        "Sorry. Your account was suspended.",
    );
    assert_error(
        &s.get("/repos/acme/website", Auth::Token(&token)).await,
        403,
        "Sorry. Your account was suspended.",
    );
    assert_error(
        &s.get("/user/personal-access-tokens", Auth::Password("alice"))
            .await,
        403,
        "Sorry. Your account was suspended.",
    );
    let git = s
        .client
        .get(s.url("/acme/website.git/info/refs?service=git-upload-pack"))
        .basic_auth("x", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(git.status().as_u16(), 403);
    // The authorization API answers what the routes answer.
    let api = svc(&s, Method::POST, "/authorize", json!({"token": token, "repository": "acme/website", "permission": "metadata", "level": "read"}))
        .await
        .expect_status(200);
    assert_eq!(
        (api.body["status"].as_u64(), api.body["message"].as_str()),
        (Some(403), Some("Sorry. Your account was suspended."))
    );
    svc(&s, Method::DELETE, "/users/alice/suspended", json!({}))
        .await
        .expect_status(204);
    s.get("/user", Auth::Token(&token)).await.expect_status(200);
}

#[tokio::test]
async fn renames_transfers_and_deletions_take_effect_at_once() {
    let s = spawn_platform().await;
    let (_, alice) = s.classic("alice", "laptop", &["repo"]).await;
    let r = svc(
        &s,
        Method::PATCH,
        "/admin/organizations/acme",
        json!({"login": "acme-corp"}),
    )
    .await
    .expect_status(202);
    assert!(
        r.body["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/orgs/acme-corp"))
    );
    s.get("/repos/acme-corp/api", Auth::Token(&alice))
        .await
        .expect_status(200);
    assert_error(
        &s.get("/repos/acme/api", Auth::Token(&alice)).await,
        404,
        "Not Found",
    );
    let moved = svc(
        &s,
        Method::POST,
        "/repos/acme-corp/api/transfer",
        json!({"new_owner": "bob", "new_name": "api-fork"}),
    )
    .await
    .expect_status(202);
    assert_eq!(moved.body["full_name"], "bob/api-fork");
    // alice owned the organization; bob's repository is not hers.
    assert_error(
        &s.get("/repos/bob/api-fork", Auth::Token(&alice)).await,
        404,
        "Not Found",
    );
    svc(&s, Method::DELETE, "/repos/bob/api-fork", json!({}))
        .await
        .expect_status(204);
    assert!(
        s.app
            .store()
            .repo_by_name("bob", "api-fork")
            .await
            .unwrap()
            .is_none()
    );
    svc(
        &s,
        Method::PATCH,
        "/admin/users/alice",
        json!({"login": "alice2"}),
    )
    .await
    .expect_status(202);
    let me = s.get("/user", Auth::Token(&alice)).await.expect_status(200);
    assert_eq!(me.body["login"], "alice2");
    svc(&s, Method::DELETE, "/admin/users/alice2", json!({}))
        .await
        .expect_status(204);
    crate::support::assert_bad_credentials(&s.get("/user", Auth::Token(&alice)).await);
}

#[tokio::test]
async fn enterprises_gain_and_lose_organizations_and_owners() {
    let s = spawn_platform().await;
    svc(
        &s,
        Method::POST,
        "/admin/enterprises",
        json!({"slug": "initech"}),
    )
    .await
    .expect_status(201);
    svc(
        &s,
        Method::PUT,
        "/enterprises/initech/organizations/acme",
        json!({}),
    )
    .await
    .expect_status(204);
    svc(
        &s,
        Method::PUT,
        "/enterprises/initech/owners/bob",
        json!({}),
    )
    .await
    .expect_status(204);
    let initech = s
        .app
        .store()
        .enterprise_by_slug("initech")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.app.org_named("acme").await.unwrap().enterprise,
        Some(initech.id)
    );
    assert_eq!(
        s.app.store().enterprise_owners(initech.id).await.unwrap()[0].login,
        "bob"
    );
    // globex's internal portal becomes private when globex leaves corp.
    svc(
        &s,
        Method::DELETE,
        "/enterprises/corp/organizations/globex",
        json!({}),
    )
    .await
    .expect_status(204);
    assert_eq!(
        s.app
            .store()
            .repo_by_name("globex", "portal")
            .await
            .unwrap()
            .unwrap()
            .visibility,
        patgate_domain::model::Visibility::Private
    );
    assert_error(
        &svc(
            &s,
            Method::DELETE,
            "/enterprises/corp/organizations/acme",
            json!({}),
        )
        .await,
        404,
        "Not Found",
    );
    svc(
        &s,
        Method::DELETE,
        "/enterprises/initech/owners/bob",
        json!({}),
    )
    .await
    .expect_status(204);
    assert!(
        s.app
            .store()
            .enterprise_owners(initech.id)
            .await
            .unwrap()
            .is_empty()
    );
}

const DIRECTORY: &str = r#"
[[users]]
login = "mona"
email = "mona@example.com"

[[orgs]]
login = "acme"
owners = ["alice"]
members = ["mona"]

[[repos]]
owner = "acme"
name = "api"
visibility = "private"
collaborators = [{ login = "carol", role = "read" }]
"#;

#[tokio::test]
async fn a_sync_reconciles_the_directory_all_or_nothing_and_twice_changes_nothing() {
    let s = spawn_platform().await;
    let (_, bobs) = s.classic("bob", "laptop", &["repo"]).await;
    let sync = async |body: &str, query: &str, toml: bool| {
        let mut req = s
            .client
            .put(s.url(&format!("/admin/directory{query}")))
            .bearer_auth(SERVICE)
            .body(body.to_owned());
        if toml {
            req = req.header("content-type", "application/toml");
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        (status, body)
    };
    let (status, dry) = sync(DIRECTORY, "?dry_run=true", true).await;
    assert_eq!(status, 200, "{dry:#}");
    assert_eq!(dry["dry_run"], true);
    s.get("/repos/acme/api", Auth::Token(&bobs))
        .await
        .expect_status(200);
    let (status, applied) = sync(DIRECTORY, "", true).await;
    assert_eq!(status, 200, "{applied:#}");
    assert_eq!(applied["changes"], dry["changes"]);
    let targets: Vec<(&str, &str)> = applied["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["target"].as_str().unwrap()))
        .collect();
    assert!(
        targets.contains(&("org.remove_member", "acme/bob")),
        "{targets:?}"
    );
    assert!(
        targets.contains(&("repo.update_member", "acme/api/carol")),
        "{targets:?}"
    );
    // bob is gone: his token is refused on the next request.
    assert_error(
        &s.get("/repos/acme/api", Auth::Token(&bobs)).await,
        404,
        "Not Found",
    );
    // The same directory as JSON changes nothing.
    let json_body = json!({
        "users": [{"login": "mona", "email": "mona@example.com"}],
        "orgs": [{"login": "acme", "owners": ["alice"], "members": ["mona"]}],
        "repos": [{"owner": "acme", "name": "api", "visibility": "private", "collaborators": [{"login": "carol", "role": "read"}]}],
    });
    let (status, again) = sync(&json_body.to_string(), "", false).await;
    assert_eq!(status, 200, "{again:#}");
    assert_eq!(again["changes"], json!([]));
    // A bad directory changes nothing and names every field.
    let bad = json!({
        "users": [{"login": "hubot", "email": "hubot@example.com"}],
        "orgs": [{"login": "acme", "owners": ["alice"], "members": ["ghost"]}],
        "tokens": [{"user": "alice", "kind": "classic", "name": "x"}],
    });
    let (status, refused) = sync(&bad.to_string(), "", false).await;
    assert_eq!(status, 422, "{refused:#}");
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"orgs[0].members[0]") && fields.contains(&"tokens"),
        "{fields:?}"
    );
    assert!(
        s.app
            .store()
            .user_by_login("hubot")
            .await
            .unwrap()
            .is_none(),
        "nothing was written"
    );
    let (status, body) = sync("{\"users\": 3}", "", false).await;
    assert_eq!(status, 422, "{body:#}");
    assert_eq!(body["errors"][0]["field"], "users");
}

/// `GET /user` and `GET /repos/{owner}/{repo}` keep their rendered JSON between requests
/// (`api/rendered.rs`): a change must still show in the very next answer, every field of it.
#[tokio::test]
async fn the_hot_answers_show_a_directory_change_on_the_next_request() {
    let s = spawn_platform().await;
    let (_, alice) = s.classic("alice", "laptop", &["repo"]).await;
    let before = s.get("/user", Auth::Token(&alice)).await.expect_status(200);
    assert_eq!(before.body["login"], "alice");
    let repo = s
        .get("/repos/acme/api", Auth::Token(&alice))
        .await
        .expect_status(200);
    assert_ne!(repo.body["description"], "The API, described");

    svc(
        &s,
        Method::PATCH,
        "/admin/users/alice",
        json!({"login": "alice2"}),
    )
    .await
    .expect_status(202);
    svc(
        &s,
        Method::PATCH,
        "/repos/acme/api",
        json!({"description": "The API, described"}),
    )
    .await
    .expect_status(200);

    let after = s.get("/user", Auth::Token(&alice)).await.expect_status(200);
    assert_eq!(after.body["login"], "alice2");
    assert!(
        after.body["repos_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/users/alice2/repos")),
        "{}",
        after.body
    );
    assert_eq!(after.body["email"], before.body["email"]);
    let repo = s
        .get("/repos/acme/api", Auth::Token(&alice))
        .await
        .expect_status(200);
    assert_eq!(repo.body["description"], "The API, described");
    assert_eq!(repo.header("content-type"), Some("application/json"));
}
