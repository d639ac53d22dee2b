//! One decision path (issue 13): a table of cases (tokens of every kind and state, needs on
//! repositories of every visibility and on the user's account) run through the four surfaces
//! that decide, which must answer alike:
//!
//! * patgate's own REST routes (`GET /repos/{owner}/{repo}`, `GET /repos/{owner}/{repo}/keys`,
//!   `GET /user/keys`) and git (`info/refs` for fetch and push);
//! * the authorization API (`POST /authorize`, and the batch form);
//! * forward auth (`/forward-auth` with the original method and URI);
//!
//! and the explanation given to the token's owner names the rule of every refusal. Then the
//! authorization API's, introspection's and forward auth's own behaviours.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{AUTHORIZE_ONLY, Auth, Body, Reply, SERVICE, Server, spawn_platform};

/// A token of the table, with its owner and how to ask for explanations.
struct Tok {
    label: &'static str,
    secret: Option<String>,
    /// `(login, why path)` for the token's owner; `None` for anonymous and deleted tokens.
    why: Option<(&'static str, String)>,
}

/// A need of the table: how each surface states it.
struct NeedCase {
    label: &'static str,
    /// The repository it acts on (`None`: the token's account).
    repo: Option<&'static str>,
    permission: &'static str,
    level: &'static str,
    /// The REST route of the table that needs exactly this (method, path template with R).
    route: (&'static str, &'static str),
    /// patgate's own surface: a REST route, or git.
    own: Own,
}

#[derive(Clone, Copy)]
enum Own {
    Rest(&'static str),
    Git(&'static str),
}

const REPOS: [&str; 5] = [
    "acme/api",
    "acme/website",
    "alice/notes",
    "globex/portal",
    "acme/missing",
];

fn needs() -> Vec<NeedCase> {
    let mut out = Vec::new();
    for repo in REPOS {
        out.push(NeedCase {
            label: "metadata:read",
            repo: Some(repo),
            permission: "metadata",
            level: "read",
            route: ("GET", "/repos/R"),
            own: Own::Rest("/repos/R"),
        });
        out.push(NeedCase {
            label: "administration:read",
            repo: Some(repo),
            permission: "administration",
            level: "read",
            route: ("GET", "/repos/R/keys"),
            own: Own::Rest("/repos/R/keys"),
        });
        out.push(NeedCase {
            label: "contents:read",
            repo: Some(repo),
            permission: "contents",
            level: "read",
            route: ("GET", "/repos/R/contents/README.md"),
            own: Own::Git("git-upload-pack"),
        });
        out.push(NeedCase {
            label: "contents:write",
            repo: Some(repo),
            permission: "contents",
            level: "write",
            route: ("PUT", "/repos/R/contents/README.md"),
            own: Own::Git("git-receive-pack"),
        });
    }
    out.push(NeedCase {
        label: "keys:read",
        repo: None,
        permission: "keys",
        level: "read",
        route: ("GET", "/user/keys"),
        own: Own::Rest("/user/keys"),
    });
    out
}

async fn tokens(s: &Server) -> Vec<Tok> {
    let fine = |login: &'static str, label: &'static str, body: Value| async move {
        let (id, secret) = s.fine_grained(login, body).await;
        Tok {
            label,
            secret: Some(secret),
            why: Some((login, format!("/user/personal-access-tokens/{id}/why"))),
        }
    };
    let classic = |login: &'static str, label: &'static str, scopes: &'static [&'static str]| async move {
        let (id, secret) = s.classic(login, label, scopes).await;
        Tok {
            label,
            secret: Some(secret),
            why: Some((login, format!("/authorizations/{id}/why"))),
        }
    };
    let mut out = vec![
        Tok {
            label: "anonymous",
            secret: None,
            why: None,
        },
        // alice owns acme: approved at once; only api, contents write and administration read.
        fine(
            "alice",
            "alice acme api",
            json!({"name": "acme api", "resource_owner": "acme", "repositories": ["api"],
                   "permissions": {"repository": {"contents": "write", "administration": "read"}}}),
        )
        .await,
        // bob is a member: acme requires approval, so pending.
        fine(
            "bob",
            "bob acme pending",
            json!({"name": "acme all", "resource_owner": "acme", "repository_selection": "all",
                   "permissions": {"repository": {"contents": "read"}}}),
        )
        .await,
        // alice's own account: all her repositories, and her keys.
        fine(
            "alice",
            "alice own",
            json!({"name": "own", "repository_selection": "all",
                   "permissions": {"repository": {"contents": "read"}, "other": {"keys": "read"}}}),
        )
        .await,
        classic("bob", "bob repo", &["repo"]).await,
        // carol: a collaborator (write) on acme/api, a member of globex, whose enterprise
        // restricts classic tokens.
        classic("carol", "carol repo", &["repo", "read:public_key"]).await,
        classic("carol", "carol gist", &["gist"]).await,
        classic("alice", "alice public_repo", &["public_repo"]).await,
    ];
    let (id, deleted) = s.classic("bob", "deleted", &["repo"]).await;
    s.delete(&format!("/authorizations/{id}"), Auth::Password("bob"))
        .await
        .expect_status(204);
    out.push(Tok {
        label: "deleted",
        secret: Some(deleted),
        why: None,
    });
    out
}

/// What a client sees of a refusal: status, message, accepted headers.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    message: Option<String>,
    permissions: Option<String>,
    scopes: Option<String>,
}

fn seen_rest(r: &Reply) -> Seen {
    if r.status < 300 {
        return Seen {
            status: 200,
            message: None,
            permissions: None,
            scopes: None,
        };
    }
    Seen {
        status: r.status,
        message: r.body["message"].as_str().map(str::to_owned),
        permissions: r.header("x-accepted-github-permissions").map(str::to_owned),
        scopes: r.header("x-accepted-oauth-scopes").map(str::to_owned),
    }
}

fn seen_api(v: &Value) -> Seen {
    if v["allowed"] == true {
        return Seen {
            status: 200,
            message: None,
            permissions: None,
            scopes: None,
        };
    }
    Seen {
        status: u16::try_from(v["status"].as_u64().unwrap_or(0)).unwrap_or(0),
        message: v["message"].as_str().map(str::to_owned),
        permissions: v["headers"]["x-accepted-github-permissions"]
            .as_str()
            .map(str::to_owned),
        scopes: v["headers"]["x-accepted-oauth-scopes"]
            .as_str()
            .map(str::to_owned),
    }
}

fn auth_of(t: &Tok) -> Auth<'_> {
    t.secret.as_deref().map_or(Auth::None, Auth::Token)
}

async fn forward(s: &Server, t: &Tok, method: &str, uri: &str) -> Reply {
    let mut req = s
        .client
        .get(s.url("/forward-auth"))
        .header("x-original-method", method)
        .header("x-original-uri", uri);
    if let Some(secret) = &t.secret {
        req = req.bearer_auth(secret);
    }
    reply(req).await
}

async fn reply(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

async fn git(s: &Server, t: &Tok, repo: &str, service: &str) -> u16 {
    let mut req = s
        .client
        .get(s.url(&format!("/{repo}.git/info/refs?service={service}")));
    if let Some(secret) = &t.secret {
        req = req.basic_auth("x-access-token", Some(secret));
    }
    req.send().await.expect("sent").status().as_u16()
}

fn authorize_body(t: &Tok, n: &NeedCase) -> Value {
    let mut body = json!({"permission": n.permission, "level": n.level});
    if let Some(repo) = n.repo {
        body["repository"] = json!(repo);
    }
    match (&t.secret, t.label) {
        // Half the cases hand over the raw header, as a gateway would.
        (Some(secret), label) if label.len() % 2 == 0 => {
            body["authorization"] = json!(format!("Bearer {secret}"))
        }
        (Some(secret), _) => body["token"] = json!(secret),
        (None, _) => {}
    }
    body
}

#[tokio::test]
async fn rest_git_the_authorization_api_and_forward_auth_decide_alike_and_every_refusal_is_explained()
 {
    let s = spawn_platform().await;
    let tokens = tokens(&s).await;
    let needs = needs();
    let mut compared = [0usize; 4];
    let mut refusals = 0;
    for t in &tokens {
        for n in &needs {
            let at = |path: &str| path.replace('R', n.repo.unwrap_or(""));
            let case = format!(
                "{} / {} on {}",
                t.label,
                n.label,
                n.repo.unwrap_or("own account")
            );
            let api = s
                .service(Method::POST, "/authorize", &authorize_body(t, n))
                .await
                .expect_status(200);
            let decided = seen_api(&api.body);
            let uri = at(n.route.1);
            let forwarded = forward(&s, t, n.route.0, &uri).await;
            assert_eq!(
                seen_rest(&forwarded),
                decided,
                "forward auth vs authorize: {case}"
            );
            compared[2] += 1;
            compared[3] += 1;
            match n.own {
                // An anonymous REST request to a route that needs a token is refused before the
                // repository is looked at (401), where the others answer a private one 404.
                Own::Rest(path) if t.secret.is_none() && path.contains("keys") => {}
                Own::Rest(path) => {
                    let rest = s.get(&at(path), auth_of(t)).await;
                    assert_eq!(seen_rest(&rest), decided, "REST vs authorize: {case}");
                    compared[0] += 1;
                }
                // git asks anonymous clients for credentials rather than saying 404.
                Own::Git(_) if t.secret.is_none() => {}
                Own::Git(service) => {
                    let status = git(&s, t, n.repo.unwrap_or(""), service).await;
                    assert_eq!(status, decided.status, "git vs authorize: {case}");
                    compared[1] += 1;
                }
            }
            if decided.status == 200 {
                continue;
            }
            // The owner's explanation decides alike and names the refusing rule.
            if let Some((login, path)) = &t.why {
                refusals += 1;
                let why = s
                    .post(
                        path,
                        Auth::Password(login),
                        &json!({"route": {"method": n.route.0, "path": uri}}),
                    )
                    .await
                    .expect_status(200);
                assert_eq!(why.body["allowed"], false, "{case}: {why:#?}");
                assert_eq!(why.body["status"], decided.status, "{case}: {why:#?}");
                let rule = why.body["refused_by"]["rule"].as_str();
                assert!(rule.is_some(), "{case}: no rule named in {why:#?}");
                // A 403 names the rule and the missing permission in its body too.
                if decided.status == 403 {
                    assert_eq!(api.body["rule"].as_str(), rule, "{case}: {api:#?} {why:#?}");
                    assert!(
                        api.body["required_permissions"].is_string()
                            || api.body["required_scopes"].is_string()
                            || rule == Some("policy_token_kind")
                            || rule == Some("policy_lifetime"),
                        "{case}: {api:#?}"
                    );
                }
            }
        }
    }
    // Every surface decided a good share of the table, refusals included.
    assert!(compared[0] >= 80, "REST compared {compared:?}");
    assert!(compared[1] >= 70, "git compared {compared:?}");
    assert!(refusals >= 60, "refusals explained: {refusals}");
}

#[tokio::test]
async fn a_batch_answers_each_need_as_a_single_call_would() {
    let s = spawn_platform().await;
    let (_, secret) = s.classic("carol", "laptop", &["repo"]).await;
    let needs = [
        json!({"repository": "acme/api", "permission": "contents", "level": "write"}),
        json!({"repository": "acme/api", "permission": "administration", "level": "write"}),
        json!({"repository": "alice/notes", "permission": "metadata", "level": "read"}),
        json!({"repository": "globex/portal", "permission": "metadata", "level": "read"}),
        json!({"route": {"method": "GET", "path": "/repos/acme/website/issues/1/labels"}}),
        json!({"scope": "repo", "repository": "acme/api"}),
    ];
    let batch = s
        .service(
            Method::POST,
            "/authorize/batch",
            &json!({"token": secret, "needs": needs}),
        )
        .await
        .expect_status(200);
    assert_eq!(batch.body["user"]["login"], "carol");
    assert_eq!(batch.body["token"]["kind"], "classic");
    let results = batch.body["results"].as_array().expect("results");
    assert_eq!(results.len(), needs.len());
    for (need, result) in needs.iter().zip(results) {
        let mut body = need.clone();
        body["token"] = json!(secret);
        let single = s
            .service(Method::POST, "/authorize", &body)
            .await
            .expect_status(200);
        let mut single = single.body;
        single.as_object_mut().map(|o| {
            o.remove("user");
            o.remove("token")
        });
        assert_eq!(&single, result, "{need}");
    }
    let statuses: Vec<u64> = results
        .iter()
        .map(|r| r["status"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(statuses, [200, 403, 404, 403, 200, 200]);
    // Carol's write role caps her token: the refusal names the rule and what was needed.
    assert_eq!(results[1]["rule"], "owner_rights");
    assert_eq!(results[1]["required_scopes"], "repo");
    // globex restricts classic tokens: the policy's message.
    assert!(
        results[3]["message"].as_str().is_some_and(|m| m
            .contains("'corp' enterprise forbids access via a personal access token (classic)")),
        "{results:#?}"
    );
}

#[tokio::test]
async fn the_authorization_api_never_tells_a_missing_repository_from_a_hidden_one() {
    let s = spawn_platform().await;
    let (_, secret) = s.classic("bob", "laptop", &["repo"]).await;
    let ask = |repo: &str| json!({"token": secret, "repository": repo, "permission": "contents", "level": "read"});
    let hidden = s
        .service(Method::POST, "/authorize", &ask("alice/notes"))
        .await
        .expect_status(200);
    let missing = s
        .service(Method::POST, "/authorize", &ask("alice/nothing"))
        .await
        .expect_status(200);
    assert_eq!(hidden.body, missing.body);
    assert_eq!(hidden.body["status"], 404);
    assert!(
        hidden.body.get("rule").is_none(),
        "a 404 says nothing more: {hidden:#?}"
    );
}

#[tokio::test]
async fn the_authorization_api_takes_only_a_service_credential_with_its_scope() {
    let s = spawn_platform().await;
    let (_, token) = s.classic("alice", "laptop", &["repo"]).await;
    let body = json!({"token": token, "repository": "acme/api", "permission": "metadata", "level": "read"});
    let with = async |auth: Auth<'_>| {
        s.call(Method::POST, "/authorize", auth, Body::Json(&body))
            .await
    };
    assert_eq!(with(Auth::None).await.status, 401);
    assert_eq!(
        with(Auth::Token("pgsvc_not0a0configured0secret"))
            .await
            .status,
        401
    );
    let by_token = with(Auth::Token(&token)).await;
    assert_eq!(by_token.status, 403, "{by_token:#?}");
    assert!(
        by_token.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("A personal access token cannot call")),
        "{by_token:#?}"
    );
    let by_password = with(Auth::Password("alice")).await;
    assert_eq!(by_password.status, 403, "{by_password:#?}");
    // The directory scope is not needed here; the authorize scope is.
    assert_eq!(with(Auth::Token(AUTHORIZE_ONLY)).await.status, 200);
    assert_eq!(with(Auth::Token(SERVICE)).await.status, 200);
    let directory = s
        .call(
            Method::POST,
            "/admin/users",
            Auth::Token(AUTHORIZE_ONLY),
            Body::Json(&json!({"login": "mona", "email": "mona@example.com"})),
        )
        .await;
    assert_eq!(directory.status, 403, "{directory:#?}");
}

#[tokio::test]
async fn the_authorization_api_names_the_field_of_a_bad_request() {
    let s = spawn_platform().await;
    for (body, field) in [
        (json!({"repository": "acme/api"}), "permission"),
        (
            json!({"repository": "acme/api", "permission": "contents"}),
            "level",
        ),
        (
            json!({"repository": "acme/api", "permission": "contents", "level": "admin"}),
            "level",
        ),
        (
            json!({"repository": "acme/api", "permission": "nope", "level": "read"}),
            "permission",
        ),
        (
            json!({"repository": "acme", "permission": "contents", "level": "read"}),
            "repository",
        ),
        (json!({"scope": "nope"}), "scope"),
        (
            json!({"route": {"method": "BREW", "path": "/user"}}),
            "route.method",
        ),
        (
            json!({"route": {"method": "GET", "path": "/user"}, "repository": "acme/api"}),
            "route",
        ),
        (
            json!({"permission": "contents", "level": "read", "scope": "repo"}),
            "permission",
        ),
    ] {
        let r = s.service(Method::POST, "/authorize", &body).await;
        crate::support::assert_field_error(
            &r,
            field,
            if field == "level" && body.get("level").is_none() {
                "missing_field"
            } else {
                "invalid"
            },
        );
    }
}

#[tokio::test]
async fn introspection_follows_rfc_7662() {
    let s = spawn_platform().await;
    let (_, classic) = s.classic("alice", "laptop", &["repo", "gist"]).await;
    let (_, fine) = s
        .fine_grained(
            "alice",
            json!({"name": "ci", "resource_owner": "acme", "repositories": ["api"],
                   "permissions": {"repository": {"contents": "read"}}}),
        )
        .await;
    let introspect = |form: String, auth: Auth<'static>| {
        let s = &s;
        async move {
            let mut req = s
                .client
                .post(s.url("/introspect"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
            req = match auth {
                Auth::Token(t) => req.bearer_auth(t),
                Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
                _ => req,
            };
            reply(req).await
        }
    };
    let r = introspect(
        format!("token={classic}&token_type_hint=access_token"),
        Auth::Token(SERVICE),
    )
    .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["token_type"], "classic");
    assert_eq!(r.body["username"], "alice");
    assert_eq!(r.body["scope"], "repo gist");
    assert!(r.body["exp"].is_i64() && r.body["iat"].is_i64(), "{r:#?}");
    // A client authenticating with Basic (client id and secret), as RFC 7662 tools do.
    let r = introspect(format!("token={fine}"), Auth::Basic("platform", SERVICE)).await;
    assert_eq!(r.body["active"], true, "{r:#?}");
    assert_eq!(r.body["token_type"], "fine_grained");
    assert_eq!(r.body["resource_owner"], "acme");
    assert_eq!(r.body["grant_state"], "approved");
    assert_eq!(r.body["permissions"]["repository"]["contents"], "read");
    // Inactive tokens say nothing else.
    for bad in [
        "pgp_nope",
        "not a token",
        "pgp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IL",
    ] {
        let r = introspect(format!("token={bad}"), Auth::Token(SERVICE)).await;
        assert_eq!(r.body, json!({"active": false}), "{bad}");
    }
    let r = introspect(String::new(), Auth::Token(SERVICE)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_request");
    // Only services introspect.
    assert_eq!(
        introspect(format!("token={classic}"), Auth::None)
            .await
            .status,
        401
    );
    assert_eq!(
        introspect(format!("token={classic}"), Auth::Token("pgsvc_unknown"))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn forward_auth_identifies_the_token_for_the_upstream_and_refuses_what_it_cannot_decide() {
    let s = spawn_platform().await;
    let (token_id, token) = s.classic("carol", "laptop", &["repo"]).await;
    let tok = Tok {
        label: "carol",
        secret: Some(token.clone()),
        why: None,
    };
    let ok = forward(&s, &tok, "GET", "/repos/acme/api/pulls?state=open").await;
    assert_eq!(ok.status, 200, "{ok:#?}");
    assert_eq!(ok.header("x-patgate-user"), Some("carol"));
    assert_eq!(
        ok.header("x-patgate-token-id"),
        Some(token_id.to_string().as_str())
    );
    assert_eq!(ok.header("x-patgate-token-kind"), Some("classic"));
    assert_eq!(
        ok.header("x-patgate-route"),
        Some("GET /repos/{owner}/{repo}/pulls")
    );
    assert_eq!(ok.header("x-oauth-scopes"), Some("repo"));
    // GET /user needs no permission, and forward auth lists it itself.
    let user = forward(&s, &tok, "GET", "/user").await;
    assert_eq!(user.status, 200, "{user:#?}");
    // Unknown routes, and routes whose target it cannot tell, are refused.
    for uri in [
        "/nope",
        "/repos/acme/api/nope",
        "/gists/1",
        "/repos/acme//api",
        "/repos/acme/%2e%2e/x",
    ] {
        let r = forward(&s, &tok, "GET", uri).await;
        assert_eq!(r.status, 404, "{uri}: {r:#?}");
    }
    // Traefik and Caddy: X-Forwarded-Method and X-Forwarded-Uri.
    let r = reply(
        s.client
            .get(s.url("/forward-auth"))
            .header("x-forwarded-method", "DELETE")
            .header("x-forwarded-uri", "/repos/acme/api")
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(r.status, 403, "carol writes, does not administer: {r:#?}");
    assert_eq!(r.header("x-accepted-oauth-scopes"), Some("repo"));
    assert_eq!(r.body["required_scopes"], "repo");
    // Envoy: the original method and path, after /forward-auth.
    let r = reply(
        s.client
            .put(s.url("/forward-auth/repos/acme/api/contents/x.md"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let r = reply(
        s.client
            .put(s.url("/forward-auth/repos/alice/notes/contents/x.md"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(r.status, 404, "{r:#?}");
    // nginx's auth_request takes 401 and 403 only: a 404 is 403 with the real status beside it.
    let r = reply(
        s.client
            .get(s.url("/forward-auth?proxy=nginx"))
            .header("x-original-method", "GET")
            .header("x-original-uri", "/repos/alice/notes")
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-patgate-status"), Some("404"));
    // Nothing to decide without the original request.
    assert_eq!(
        reply(s.client.get(s.url("/forward-auth")).bearer_auth(&token))
            .await
            .status,
        400
    );
    // A bad token is GitHub's 401, a password is refused as on the REST routes.
    let r = reply(
        s.client
            .get(s.url("/forward-auth"))
            .header("x-original-uri", "/repos/acme/website")
            .bearer_auth("pgp_nope"),
    )
    .await;
    crate::support::assert_bad_credentials(&r);
    let r = reply(
        s.client
            .get(s.url("/forward-auth"))
            .header("x-original-uri", "/repos/acme/website")
            .basic_auth("alice", Some("alice-password")),
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn a_refused_token_can_be_explained_to_its_owner_only() {
    let s = spawn_platform().await;
    let (id, _) = s
        .fine_grained(
            "bob",
            json!({"name": "pending", "resource_owner": "acme", "repository_selection": "all",
                   "permissions": {"repository": {"contents": "read"}}}),
        )
        .await;
    let path = format!("/user/personal-access-tokens/{id}/why");
    let ask = json!({"repository": "acme/api", "permission": "contents", "level": "read"});
    let why = s
        .post(&path, Auth::Password("bob"), &ask)
        .await
        .expect_status(200);
    assert_eq!(why.body["status"], 404);
    assert_eq!(why.body["refused_by"]["rule"], "approval");
    let rules: Vec<&str> = why.body["sets"][0][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["rule"].as_str())
        .collect();
    assert_eq!(
        rules,
        [
            "token_expiry",
            "user_reach",
            "permission_group",
            "resource_owner",
            "permission_group",
            "policy_token_kind",
            "approval"
        ]
    );
    // Another user's token is not found; a token is never accepted here.
    assert_eq!(
        s.post(&path, Auth::Password("alice"), &ask).await.status,
        404
    );
    let (_, classic) = s.classic("bob", "laptop", &["repo"]).await;
    assert_eq!(s.post(&path, Auth::Token(&classic), &ask).await.status, 403);
    // The web page explains the same route.
    let html = token_page(&s, "bob", &format!("/settings/personal-access-tokens/{id}?why_method=GET&why_path=%2Frepos%2Facme%2Fapi%2Fcontents%2FREADME.md")).await;
    assert!(
        html.contains("Refused on acme/api: 404 Not Found."),
        "{html}"
    );
    assert!(html.contains("approval, rule 7"), "{html}");
}

/// A page as `login` sees it, signed in through the form.
async fn token_page(s: &Server, login: &str, path: &str) -> String {
    let client = crate::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let password = crate::support::password(login);
    let signed = client
        .post(s.url("/login"))
        .form(&[
            ("login", login),
            ("password", password.as_str()),
            ("return_to", "/settings/tokens"),
        ])
        .send()
        .await
        .expect("sent");
    let cookie = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("patgate_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let page = client
        .get(s.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), 200);
    page.text().await.expect("html")
}
