//! Organization governance (issue 4): GitHub's organization API for fine-grained tokens (requests,
//! reviews, grants, revocations), the organization's token policy and its enterprise's override,
//! the audit log, the requester's cancel and `POST /credentials/revoke`.
//!
//! An app registered for acme (`reviewer`, write on both token permissions) calls the
//! organization API with its installation token, as a GitHub App would. Every JSON answer of that
//! API is checked against GitHub's schemas (`crate::schema`).

use reqwest::Method;
use serde_json::{Value, json};

use patgate_app::seed::SeedFile;
use patgate_domain::token::TokenKind;

use crate::schema::{validate, validate_items};
use crate::support::{Auth, Body, Reply, Server, assert_bad_credentials, assert_error, spawn};

const REQUESTS: &str = "/orgs/acme/personal-access-token-requests";
const GRANTS: &str = "/orgs/acme/personal-access-tokens";
const POLICY: &str = "/orgs/acme/personal-access-token-policy";
const AUDIT: &str = "/orgs/acme/audit-log";
const ORG_DOCS: &str = "https://docs.github.com/rest/orgs/personal-access-tokens";

const REQUEST_SCHEMA: &str = "organization-programmatic-access-grant-request";
const GRANT_SCHEMA: &str = "organization-programmatic-access-grant";
const REPO_SCHEMA: &str = "minimal-repository";

/// The shared directory has carol only as a collaborator of acme/api; here she is also a member
/// of acme, so that two members ask for access.
const CAROL_JOINS_ACME: &str = r#"
[[orgs]]
login = "acme"
owners = ["alice"]
members = ["bob", "carol"]
"#;

const BOTH_WRITE: &str = "write";

/// A server whose acme has the `reviewer` app; `app` is its installation token.
struct Org {
    s: Server,
    app: String,
    /// acme's numeric id (in `repositories_url`).
    id: i64,
}

async fn governed() -> Org {
    let s = spawn().await;
    s.app
        .load_seed(&SeedFile::parse(CAROL_JOINS_ACME).unwrap())
        .await
        .unwrap();
    let app = app_token(&s, "acme", "reviewer", BOTH_WRITE, BOTH_WRITE).await;
    let id = s.app.org_named("acme").await.unwrap().id.0;
    Org { s, app, id }
}

/// Registers an app for `org` (as alice, its owner) and mints an installation token of it.
async fn app_token(s: &Server, org: &str, name: &str, requests: &str, tokens: &str) -> String {
    let r = s
        .post(
            &format!("/orgs/{org}/apps"),
            Auth::Basic("alice", "alice-password"),
            &json!({"name": name, "permissions": {
                "organization_personal_access_token_requests": requests,
                "organization_personal_access_tokens": tokens,
            }}),
        )
        .await
        .expect_status(201);
    assert_eq!(r.body["name"], name, "{r:#?}");
    let t = s
        .call(
            Method::POST,
            &format!("/orgs/{org}/apps/{}/access_tokens", r.id()),
            Auth::Password("alice"),
            Body::None,
        )
        .await
        .expect_status(201);
    t.str("token")
}

/// `base` with the fields of `extra` set.
fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

impl Org {
    fn app(&self) -> Auth<'_> {
        Auth::Token(&self.app)
    }

    /// A fine-grained token of `login` for acme (acme/api, contents: read, unless `extra` says
    /// otherwise): its id and secret. Pending unless `login` owns acme or approval is off.
    async fn ask(&self, login: &str, name: &str, extra: Value) -> (i64, String) {
        let body = with(
            json!({
                "name": name,
                "resource_owner": "acme",
                "repositories": ["api"],
                "permissions": {"repository": {"contents": "read"}},
                "justification": format!("{name}: needed for the release"),
            }),
            extra,
        );
        self.s.fine_grained(login, body).await
    }

    /// The status of `login`'s token as its owner sees it (`pending`, `approved`...).
    async fn status(&self, login: &str, token: i64) -> String {
        self.s
            .get(
                &format!("/user/personal-access-tokens/{token}"),
                Auth::Password(login),
            )
            .await
            .expect_status(200)
            .str("status")
    }

    /// `GET {path}{query}` as the app: 200, every item valid against `schema`.
    async fn list(&self, path: &str, query: &str, schema: &str) -> Reply {
        let r = self
            .s
            .get(&format!("{path}{query}"), self.app())
            .await
            .expect_status(200);
        validate_items(schema, &r.body);
        r
    }

    async fn requests(&self, query: &str) -> Vec<Value> {
        items(&self.list(REQUESTS, query, REQUEST_SCHEMA).await)
    }

    async fn grants(&self, query: &str) -> Vec<Value> {
        items(&self.list(GRANTS, query, GRANT_SCHEMA).await)
    }

    /// The id of the pending request of `token`.
    async fn request_of(&self, token: i64) -> i64 {
        let found = self.requests(&format!("?token_id[]={token}")).await;
        assert_eq!(found.len(), 1, "one request for token {token}: {found:#?}");
        assert_eq!(found[0]["token_id"], token);
        found[0]["id"].as_i64().unwrap()
    }

    /// The id of the grant of `token`.
    async fn grant_of(&self, token: i64) -> i64 {
        let found = self.grants(&format!("?token_id[]={token}")).await;
        assert_eq!(found.len(), 1, "one grant for token {token}: {found:#?}");
        assert_eq!(found[0]["token_id"], token);
        found[0]["id"].as_i64().unwrap()
    }

    async fn review(&self, request: i64, body: Value) -> Reply {
        self.s
            .post(&format!("{REQUESTS}/{request}"), self.app(), &body)
            .await
    }

    async fn approve(&self, request: i64) {
        let r = self.review(request, json!({"action": "approve"})).await;
        assert_eq!(r.status, 204, "{r:#?}");
        assert_eq!(r.body, Value::Null, "204 has no body: {r:#?}");
    }

    /// A token of `login` for acme, asked for and approved by the app: its id and secret.
    async fn approved(&self, login: &str, name: &str, extra: Value) -> (i64, String) {
        let (id, secret) = self.ask(login, name, extra).await;
        let request = self.request_of(id).await;
        self.approve(request).await;
        (id, secret)
    }

    /// `GET /repos/{repo}` with `secret`: the status.
    async fn reads(&self, secret: &str, repo: &str) -> u16 {
        self.s
            .get(&format!("/repos/{repo}"), Auth::Token(secret))
            .await
            .status
    }

    /// acme's audit log for `phrase` (as alice).
    async fn audit(&self, phrase: &str) -> Vec<Value> {
        audit(&self.s, "acme", phrase).await
    }

    async fn put_policy(&self, body: Value) -> Reply {
        self.s
            .call(
                Method::PUT,
                POLICY,
                Auth::Password("alice"),
                Body::Json(&body),
            )
            .await
    }
}

fn items(r: &Reply) -> Vec<Value> {
    r.body.as_array().unwrap().clone()
}

fn ids(items: &[Value], field: &str) -> Vec<i64> {
    items.iter().map(|v| v[field].as_i64().unwrap()).collect()
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

async fn audit(s: &Server, org: &str, phrase: &str) -> Vec<Value> {
    let q = serde_urlencoded::to_string([("phrase", phrase)]).unwrap();
    let r = s
        .get(
            &format!("/orgs/{org}/audit-log?{q}"),
            Auth::Password("alice"),
        )
        .await
        .expect_status(200);
    items(&r)
}

/// GitHub's `basic-error` with this status and message, as the organization API gives it.
#[track_caller]
fn assert_org_error(r: &Reply, status: u16, message: &str) {
    assert_eq!(r.status, status, "{r:#?}");
    validate("basic-error", &r.body);
    assert_eq!(r.body["message"], message, "{r:#?}");
    assert_eq!(r.body["status"], status.to_string(), "{r:#?}");
}

/// GitHub's `validation-error` (422 "Validation Failed") with an entry for `field`; its
/// messages, joined.
#[track_caller]
fn assert_validation(r: &Reply, field: &str) -> String {
    assert_eq!(r.status, 422, "{r:#?}");
    validate("validation-error", &r.body);
    assert_eq!(r.body["message"], "Validation Failed", "{r:#?}");
    assert_eq!(r.body["status"], "422", "{r:#?}");
    let errors = r.body["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["field"] == field),
        "no error for {field:?} in {r:#?}"
    );
    errors
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------------
// Listing requests

#[tokio::test]
async fn listing_requests_has_githubs_shape_and_filters() {
    let o = governed().await;
    let (b_api, _) = o.ask("bob", "b-api", json!({})).await;
    let (b_all, _) = o
        .ask(
            "bob",
            "b-all",
            json!({"repositories": [], "repository_selection": "all", "permissions": {"repository": {"issues": "read"}}}),
        )
        .await;
    let (c_web, _) = o
        .ask(
            "carol",
            "c-web",
            json!({"repositories": ["website"], "permissions": {"repository": {"contents": "write"}}}),
        )
        .await;
    let (c_org, _) = o
        .ask(
            "carol",
            "c-org",
            json!({"repositories": [], "repository_selection": "none", "permissions": {"organization": {"members": "read"}}, "justification": null}),
        )
        .await;

    let r = o.list(REQUESTS, "", REQUEST_SCHEMA).await;
    assert!(r.header("link").is_none(), "one page, no Link: {r:#?}");
    let all = items(&r);
    // Newest first (GitHub's default direction).
    assert_eq!(ids(&all, "token_id"), vec![c_org, c_web, b_all, b_api]);

    let b = &all[3];
    let request = b["id"].as_i64().unwrap();
    assert_ne!(request, b_api, "the request id is not the token id");
    assert_eq!(b["reason"], "b-api: needed for the release");
    assert_eq!(b["owner"]["login"], "bob");
    assert_eq!(b["owner"]["type"], "User");
    assert_eq!(b["repository_selection"], "subset");
    assert_eq!(
        b["repositories_url"],
        format!(
            "{}/organizations/{}/personal-access-token-requests/{request}/repositories",
            o.s.base, o.id
        )
    );
    assert_eq!(b["permissions"]["repository"]["contents"], "read");
    assert_eq!(b["token_name"], "b-api");
    assert_eq!(b["token_expired"], false);
    assert!(b["token_expires_at"].is_string(), "{b:#?}");
    assert_eq!(b["token_last_used_at"], Value::Null);
    assert!(b["created_at"].as_str().unwrap().ends_with('Z'), "{b:#?}");
    assert_eq!(all[2]["repository_selection"], "all");
    assert_eq!(all[0]["reason"], Value::Null);
    assert_eq!(all[0]["repository_selection"], "none");
    assert_eq!(all[0]["permissions"]["organization"]["members"], "read");

    let tokens = |items: Vec<Value>| sorted(ids(&items, "token_id"));
    assert_eq!(
        tokens(o.requests("?owner[]=bob").await),
        sorted(vec![b_api, b_all])
    );
    assert_eq!(
        tokens(o.requests("?owner[]=carol&owner[]=BOB").await),
        sorted(vec![b_api, b_all, c_web, c_org])
    );
    assert_eq!(tokens(o.requests("?owner[]=dave").await), Vec::<i64>::new());
    // `repository` is a name; an `all` selection reaches every repository.
    assert_eq!(
        tokens(o.requests("?repository=api").await),
        sorted(vec![b_api, b_all])
    );
    assert_eq!(
        tokens(o.requests("?repository=website").await),
        sorted(vec![b_all, c_web])
    );
    // `contents_read` is met by write too.
    assert_eq!(
        tokens(o.requests("?permission=contents_read").await),
        sorted(vec![b_api, c_web])
    );
    assert_eq!(
        tokens(o.requests("?permission=contents_write").await),
        vec![c_web]
    );
    assert_eq!(
        tokens(o.requests("?permission=members_read").await),
        vec![c_org]
    );
    assert_eq!(
        tokens(
            o.requests(&format!("?token_id[]={b_all}&token_id[]={c_org}"))
                .await
        ),
        sorted(vec![b_all, c_org])
    );
    // Filters combine.
    assert_eq!(
        tokens(o.requests("?owner[]=bob&permission=contents_read").await),
        vec![b_api]
    );
    assert_eq!(
        ids(
            &o.requests("?direction=asc&sort=created_at").await,
            "token_id"
        ),
        vec![b_api, b_all, c_web, c_org]
    );
    assert_eq!(
        ids(&o.requests("?direction=desc").await, "token_id"),
        vec![c_org, c_web, b_all, b_api]
    );
    // Nothing has used the tokens yet.
    assert!(
        o.requests("?last_used_after=2020-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    assert!(
        o.requests("?last_used_before=2999-01-01T00:00:00Z")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn listing_requests_pages_with_githubs_link_header() {
    let o = governed().await;
    let mut tokens = Vec::new();
    for i in 0..5 {
        tokens.push(o.ask("bob", &format!("t{i}"), json!({})).await.0);
    }
    let newest_first: Vec<i64> = tokens.iter().rev().copied().collect();
    let url = |q: &str| format!("<{}{REQUESTS}?{q}>", o.s.base);

    let p1 = o.list(REQUESTS, "?per_page=2", REQUEST_SCHEMA).await;
    assert_eq!(ids(&items(&p1), "token_id"), newest_first[0..2]);
    assert_eq!(
        p1.header("link").unwrap(),
        format!(
            "{}; rel=\"next\", {}; rel=\"last\"",
            url("per_page=2&page=2"),
            url("per_page=2&page=3")
        )
    );
    let p2 = o.list(REQUESTS, "?per_page=2&page=2", REQUEST_SCHEMA).await;
    assert_eq!(ids(&items(&p2), "token_id"), newest_first[2..4]);
    assert_eq!(
        p2.header("link").unwrap(),
        format!(
            "{}; rel=\"prev\", {}; rel=\"next\", {}; rel=\"last\", {}; rel=\"first\"",
            url("per_page=2&page=1"),
            url("per_page=2&page=3"),
            url("per_page=2&page=3"),
            url("per_page=2&page=1")
        )
    );
    // The last page links back only, as GitHub's does.
    let p3 = o.list(REQUESTS, "?per_page=2&page=3", REQUEST_SCHEMA).await;
    assert_eq!(ids(&items(&p3), "token_id"), newest_first[4..5]);
    assert_eq!(
        p3.header("link").unwrap(),
        format!(
            "{}; rel=\"prev\", {}; rel=\"first\"",
            url("per_page=2&page=2"),
            url("per_page=2&page=1")
        )
    );
    // `page` keeps its place among the parameters; the others are carried into the links.
    let moved = o
        .list(REQUESTS, "?page=2&per_page=2&direction=asc", REQUEST_SCHEMA)
        .await;
    assert_eq!(ids(&items(&moved), "token_id"), tokens[2..4]);
    assert_eq!(
        moved.header("link").unwrap(),
        format!(
            "{}; rel=\"prev\", {}; rel=\"next\", {}; rel=\"last\", {}; rel=\"first\"",
            url("page=1&per_page=2&direction=asc"),
            url("page=3&per_page=2&direction=asc"),
            url("page=3&per_page=2&direction=asc"),
            url("page=1&per_page=2&direction=asc")
        )
    );

    // Following `next` walks every page once, with a filter kept.
    let mut seen = Vec::new();
    let mut next = Some(format!("{}{REQUESTS}?per_page=2&owner[]=bob", o.s.base));
    while let Some(link) = next.take() {
        let path = link.strip_prefix(&o.s.base).unwrap().to_owned();
        let r = o.s.get(&path, o.app()).await.expect_status(200);
        validate_items(REQUEST_SCHEMA, &r.body);
        seen.extend(ids(&items(&r), "token_id"));
        next = r.header("link").and_then(|l| {
            l.split(", ")
                .find(|part| part.ends_with("rel=\"next\""))
                .map(|part| part[1..part.find('>').unwrap()].to_owned())
        });
        assert!(seen.len() <= 5, "the pages do not end: {seen:?}");
    }
    assert_eq!(seen, newest_first);

    // Past the end: an empty page.
    let past = o.list(REQUESTS, "?per_page=2&page=9", REQUEST_SCHEMA).await;
    assert_eq!(past.body, json!([]));
    // Everything on one page: no Link.
    let one = o.list(REQUESTS, "?per_page=100", REQUEST_SCHEMA).await;
    assert_eq!(items(&one).len(), 5);
    assert!(one.header("link").is_none(), "{one:#?}");
}

#[tokio::test]
async fn invalid_listing_parameters_get_githubs_validation_error() {
    let o = governed().await;
    let owners: String = (0..11).map(|i| format!("owner[]=u{i}&")).collect();
    let token_ids: String = (0..51).map(|i| format!("token_id[]={i}&")).collect();
    let cases: Vec<(String, &str)> = vec![
        ("per_page=101".into(), "per_page"),
        ("per_page=0".into(), "per_page"),
        ("page=0".into(), "page"),
        (owners, "owner"),
        (token_ids, "token_id"),
        ("token_id[]=abc".into(), "token_id"),
        ("permission=bogus_read".into(), "permission"),
        ("permission=contents".into(), "permission"),
        ("direction=up".into(), "direction"),
        ("sort=name".into(), "sort"),
        ("last_used_before=yesterday".into(), "last_used_before"),
        ("last_used_after=2024-13-01".into(), "last_used_after"),
    ];
    for path in [REQUESTS, GRANTS] {
        for (query, field) in &cases {
            let r = o.s.get(&format!("{path}?{query}"), o.app()).await;
            assert_validation(&r, field);
            assert_eq!(r.body["documentation_url"], ORG_DOCS, "{r:#?}");
        }
    }
    // At the limits, fine.
    let owners: String = (0..10).map(|i| format!("owner[]=u{i}&")).collect();
    let token_ids: String = (0..50).map(|i| format!("token_id[]={i}&")).collect();
    for query in [owners, token_ids, "per_page=100".into()] {
        for (path, schema) in [(REQUESTS, REQUEST_SCHEMA), (GRANTS, GRANT_SCHEMA)] {
            o.list(path, &format!("?{query}"), schema).await;
        }
    }
    // The repository lists take page and per_page.
    let (t, _) = o.ask("bob", "t", json!({})).await;
    let request = o.request_of(t).await;
    let r =
        o.s.get(
            &format!("{REQUESTS}/{request}/repositories?per_page=101"),
            o.app(),
        )
        .await;
    assert_validation(&r, "per_page");
}

// ---------------------------------------------------------------------------------------------
// Request repositories

#[tokio::test]
async fn request_repositories_lists_what_a_subset_request_asks_for() {
    let o = governed().await;
    let (t, _) = o
        .ask("bob", "two", json!({"repositories": ["api", "website"]}))
        .await;
    let (all, _) = o
        .ask(
            "bob",
            "all",
            json!({"repositories": [], "repository_selection": "all"}),
        )
        .await;
    let request = o.request_of(t).await;
    let path = format!("{REQUESTS}/{request}/repositories");
    let r = o.list(&path, "", REPO_SCHEMA).await;
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(sorted_strs(names), vec!["acme/api", "acme/website"]);
    let api = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "api")
        .unwrap();
    assert_eq!(api["private"], true);
    assert_eq!(api["owner"]["login"], "acme");
    assert_eq!(api["owner"]["type"], "Organization");

    // Paged with a Link header.
    let p1 = o.list(&path, "?per_page=1", REPO_SCHEMA).await;
    assert_eq!(items(&p1).len(), 1);
    assert_eq!(
        p1.header("link").unwrap(),
        format!(
            "<{base}{path}?per_page=1&page=2>; rel=\"next\", <{base}{path}?per_page=1&page=2>; rel=\"last\"",
            base = o.s.base
        )
    );

    // `repositories_url`, which GitHub builds from the organization's numeric id, answers the same.
    let listed = o.requests(&format!("?token_id[]={t}")).await;
    let url = listed[0]["repositories_url"].as_str().unwrap();
    let by_id =
        o.s.get(url.strip_prefix(&o.s.base).unwrap(), o.app())
            .await
            .expect_status(200);
    validate_items(REPO_SCHEMA, &by_id.body);
    assert_eq!(by_id.body, r.body);

    // An `all` request names no repositories.
    let all_request = o.request_of(all).await;
    let r = o
        .list(
            &format!("{REQUESTS}/{all_request}/repositories"),
            "",
            REPO_SCHEMA,
        )
        .await;
    assert_eq!(r.body, json!([]));

    // Unknown, or not a request of this organization: 404.
    for bad in ["999999", "abc"] {
        let r =
            o.s.get(&format!("{REQUESTS}/{bad}/repositories"), o.app())
                .await;
        assert_org_error(&r, 404, "Not Found");
    }
}

fn sorted_strs(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}

// ---------------------------------------------------------------------------------------------
// Reviewing

#[tokio::test]
async fn approving_a_request_grants_the_token_access() {
    let o = governed().await;
    // Two requests, so that the approved one's request id, grant id and token id all differ.
    let (first, _) = o.ask("bob", "first", json!({})).await;
    let (t, secret) = o.ask("bob", "deploy", json!({})).await;
    assert_eq!(o.status("bob", t).await, "pending");
    // Pending: refused on acme's private repository, as if it were not there; public ones read.
    assert_eq!(o.reads(&secret, "acme/api").await, 404);
    assert_eq!(o.reads(&secret, "acme/website").await, 200);

    let request = o.request_of(t).await;
    o.approve(request).await;
    assert_eq!(o.status("bob", t).await, "approved");
    assert_eq!(o.reads(&secret, "acme/api").await, 200);
    assert_eq!(ids(&o.requests("").await, "token_id"), vec![first]);

    let grants = o.grants("").await;
    assert_eq!(grants.len(), 1, "{grants:#?}");
    let g = &grants[0];
    let grant = g["id"].as_i64().unwrap();
    assert_eq!(g["token_id"], t);
    assert_ne!(grant, request, "{g:#?}");
    assert_ne!(grant, t, "{g:#?}");
    assert_ne!(request, t);
    assert_eq!(g["owner"]["login"], "bob");
    assert_eq!(g["token_name"], "deploy");
    assert_eq!(g["repository_selection"], "subset");
    assert_eq!(g["permissions"]["repository"]["contents"], "read");
    assert!(g.get("reason").is_none(), "a grant has no reason: {g:#?}");
    assert!(g["access_granted_at"].is_string(), "{g:#?}");
    let url = format!(
        "{}/organizations/{}/personal-access-tokens/{grant}/repositories",
        o.s.base, o.id
    );
    assert_eq!(g["repositories_url"], url);
    let repos =
        o.s.get(url.strip_prefix(&o.s.base).unwrap(), o.app())
            .await
            .expect_status(200);
    validate_items(REPO_SCHEMA, &repos.body);
    assert_eq!(repos.body[0]["full_name"], "acme/api");
    assert_eq!(repos.body.as_array().unwrap().len(), 1);
    let same = o
        .list(&format!("{GRANTS}/{grant}/repositories"), "", REPO_SCHEMA)
        .await;
    assert_eq!(same.body, repos.body);
    // The three ids are not interchangeable.
    for wrong in [request, t] {
        let r =
            o.s.get(&format!("{GRANTS}/{wrong}/repositories"), o.app())
                .await;
        assert_org_error(&r, 404, "Not Found");
    }

    // Reviewing it again, or an unknown request: 404.
    for again in [request, 999_999] {
        let r = o.review(again, json!({"action": "deny"})).await;
        assert_org_error(&r, 404, "Not Found");
    }
    let events = o
        .audit("action:personal_access_token.access_granted actor:reviewer[bot]")
        .await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["token_id"], t);
    assert_eq!(events[0]["user_programmatic_access_request_id"], request);
}

#[tokio::test]
async fn denying_a_request_with_a_reason() {
    let o = governed().await;
    let (t, secret) = o.ask("bob", "too broad", json!({})).await;
    let request = o.request_of(t).await;

    let long = "x".repeat(1025);
    let r = o
        .review(request, json!({"action": "deny", "reason": long}))
        .await;
    assert!(assert_validation(&r, "reason").contains("1024"), "{r:#?}");
    for bad in [json!({"action": "maybe"}), json!({"reason": "no action"})] {
        let r = o.review(request, bad).await;
        assert_validation(&r, "action");
    }
    assert_eq!(o.status("bob", t).await, "pending");

    let reason = "y".repeat(1024);
    let r = o
        .review(request, json!({"action": "deny", "reason": reason}))
        .await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert_eq!(o.status("bob", t).await, "denied");
    assert_eq!(o.reads(&secret, "acme/api").await, 404);
    assert_eq!(o.reads(&secret, "acme/website").await, 200);
    assert!(o.requests("").await.is_empty());
    assert!(o.grants("").await.is_empty());
    let events = o.audit("action:personal_access_token.request_denied").await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["reason"], reason);
    assert_eq!(events[0]["token_id"], t);
    // The requester sees the decision and the reviewer's reason on their token.
    let mine =
        o.s.get(
            &format!("/user/personal-access-tokens/{t}"),
            Auth::Password("bob"),
        )
        .await
        .expect_status(200);
    assert_eq!(mine.body["request"]["status"], "denied");
    assert_eq!(mine.body["request"]["reason"], reason);
    assert_eq!(mine.body["request"]["id"], request);
}

#[tokio::test]
async fn reviewing_in_bulk_approves_and_denies() {
    let o = governed().await;
    let mut tokens = Vec::new();
    for i in 0..4 {
        let login = if i % 2 == 0 { "bob" } else { "carol" };
        tokens.push(o.ask(login, &format!("bulk{i}"), json!({})).await);
    }
    let mut requests = Vec::new();
    for (t, _) in &tokens {
        requests.push(o.request_of(*t).await);
    }
    let r =
        o.s.post(
            REQUESTS,
            o.app(),
            &json!({"pat_request_ids": [requests[0], requests[1]], "action": "approve"}),
        )
        .await;
    assert_eq!(r.status, 202, "{r:#?}");
    assert_eq!(r.body, json!({}));
    let r = o
        .s
        .post(
            REQUESTS,
            o.app(),
            &json!({"pat_request_ids": [requests[2], requests[3]], "action": "deny", "reason": "Access is too broad."}),
        )
        .await;
    assert_eq!(r.status, 202, "{r:#?}");
    assert_eq!(r.body, json!({}));
    for (i, (t, secret)) in tokens.iter().enumerate() {
        let login = if i % 2 == 0 { "bob" } else { "carol" };
        let (state, api) = if i < 2 {
            ("approved", 200)
        } else {
            ("denied", 404)
        };
        assert_eq!(o.status(login, *t).await, state, "token {i}");
        assert_eq!(o.reads(secret, "acme/api").await, api, "token {i}");
    }
    assert!(o.requests("").await.is_empty());
    assert_eq!(
        sorted(ids(&o.grants("").await, "token_id")),
        sorted(vec![tokens[0].0, tokens[1].0])
    );
}

#[tokio::test]
async fn a_bulk_review_with_one_bad_id_changes_nothing_and_names_it() {
    let o = governed().await;
    let mut tokens = Vec::new();
    let mut requests = Vec::new();
    for i in 0..3 {
        let (t, secret) = o.ask("bob", &format!("b{i}"), json!({})).await;
        requests.push(o.request_of(t).await);
        tokens.push((t, secret));
    }
    let before = o.requests("").await;

    // An unknown id, last.
    for action in ["approve", "deny"] {
        let r =
            o.s.post(
                REQUESTS,
                o.app(),
                &json!({"pat_request_ids": [requests[0], requests[1], 987_654], "action": action}),
            )
            .await;
        let message = assert_validation(&r, "pat_request_ids");
        assert!(message.contains("987654"), "the bad id is named: {r:#?}");
        assert_eq!(o.requests("").await, before, "nothing changed");
    }
    // A request that is no longer pending, in the middle.
    o.approve(requests[2]).await;
    let r = o
        .s
        .post(
            REQUESTS,
            o.app(),
            &json!({"pat_request_ids": [requests[0], requests[2], requests[1]], "action": "approve"}),
        )
        .await;
    let message = assert_validation(&r, "pat_request_ids");
    assert!(
        message.contains(&requests[2].to_string()),
        "the bad id is named: {r:#?}"
    );
    assert_eq!(
        sorted(ids(&o.requests("").await, "id")),
        sorted(vec![requests[0], requests[1]]),
        "both still pending"
    );
    for (t, secret) in &tokens[..2] {
        assert_eq!(o.status("bob", *t).await, "pending");
        assert_eq!(o.reads(secret, "acme/api").await, 404);
    }

    // The list itself: 1 to 100 ids; a reason up to 1024 characters; an action.
    let hundred_one: Vec<i64> = (1..=101).collect();
    for (body, field) in [
        (
            json!({"pat_request_ids": [], "action": "approve"}),
            "pat_request_ids",
        ),
        (json!({"action": "approve"}), "pat_request_ids"),
        (
            json!({"pat_request_ids": hundred_one, "action": "approve"}),
            "pat_request_ids",
        ),
        (
            json!({"pat_request_ids": [requests[0]], "action": "deny", "reason": "z".repeat(1025)}),
            "reason",
        ),
        (json!({"pat_request_ids": [requests[0]]}), "action"),
        (
            json!({"pat_request_ids": [requests[0]], "action": "revoke"}),
            "action",
        ),
    ] {
        let r = o.s.post(REQUESTS, o.app(), &body).await;
        assert_validation(&r, field);
    }
    assert_eq!(o.requests("").await.len(), 2, "still pending");
}

// ---------------------------------------------------------------------------------------------
// Grants and revocation

#[tokio::test]
async fn listing_grants_filters_and_pages() {
    let o = governed().await;
    let (b_api, b_secret) = o.approved("bob", "b-api", json!({})).await;
    let (b_all, _) = o
        .approved(
            "bob",
            "b-all",
            json!({"repositories": [], "repository_selection": "all", "permissions": {"repository": {"issues": "write"}}}),
        )
        .await;
    let (c_web, _) = o
        .approved("carol", "c-web", json!({"repositories": ["website"]}))
        .await;
    let tokens = |items: Vec<Value>| sorted(ids(&items, "token_id"));

    let all = o.grants("").await;
    assert_eq!(ids(&all, "token_id"), vec![c_web, b_all, b_api]);
    assert_eq!(
        ids(&o.grants("?direction=asc").await, "token_id"),
        vec![b_api, b_all, c_web]
    );
    assert_eq!(tokens(o.grants("?owner[]=carol").await), vec![c_web]);
    assert_eq!(
        tokens(o.grants("?repository=api").await),
        sorted(vec![b_api, b_all])
    );
    assert_eq!(
        tokens(o.grants("?permission=issues_read").await),
        vec![b_all]
    );
    assert_eq!(
        tokens(
            o.grants(&format!("?token_id[]={b_api}&token_id[]={c_web}"))
                .await
        ),
        sorted(vec![b_api, c_web])
    );

    // Last use: only b-api has been used.
    assert_eq!(o.reads(&b_secret, "acme/api").await, 200);
    o.s.app.flush_last_used().await.unwrap();
    assert_eq!(
        tokens(o.grants("?last_used_after=2020-01-01T00:00:00Z").await),
        vec![b_api]
    );
    assert_eq!(
        tokens(o.grants("?last_used_before=2999-01-01T00:00:00Z").await),
        vec![b_api]
    );
    assert!(
        o.grants("?last_used_before=2020-01-01T00:00:00Z")
            .await
            .is_empty()
    );
    let used = o.grants(&format!("?token_id[]={b_api}")).await;
    assert!(used[0]["token_last_used_at"].is_string(), "{used:#?}");

    let p1 = o.list(GRANTS, "?per_page=2", GRANT_SCHEMA).await;
    assert_eq!(ids(&items(&p1), "token_id"), vec![c_web, b_all]);
    let base = format!("{}{GRANTS}", o.s.base);
    assert_eq!(
        p1.header("link").unwrap(),
        format!(
            "<{base}?per_page=2&page=2>; rel=\"next\", <{base}?per_page=2&page=2>; rel=\"last\""
        )
    );
    let p2 = o.list(GRANTS, "?per_page=2&page=2", GRANT_SCHEMA).await;
    assert_eq!(ids(&items(&p2), "token_id"), vec![b_api]);
    assert_eq!(
        p2.header("link").unwrap(),
        format!(
            "<{base}?per_page=2&page=1>; rel=\"prev\", <{base}?per_page=2&page=1>; rel=\"first\""
        )
    );
}

#[tokio::test]
async fn revoking_a_grant_refuses_the_token_on_the_organization_only() {
    let o = governed().await;
    let (t, secret) = o.approved("bob", "revoke me", json!({})).await;
    let (other, other_secret) = o.approved("carol", "stays", json!({})).await;
    let grant = o.grant_of(t).await;
    assert_eq!(o.reads(&secret, "acme/api").await, 200);

    for bad in [json!({}), json!({"action": "approve"})] {
        let r = o.s.post(&format!("{GRANTS}/{grant}"), o.app(), &bad).await;
        assert_validation(&r, "action");
    }
    let r =
        o.s.post(
            &format!("{GRANTS}/{grant}"),
            o.app(),
            &json!({"action": "revoke"}),
        )
        .await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert_eq!(r.body, Value::Null);

    assert_eq!(o.reads(&secret, "acme/api").await, 404);
    assert_eq!(
        o.reads(&secret, "acme/website").await,
        200,
        "public stays readable"
    );
    o.s.get("/user", Auth::Token(&secret))
        .await
        .expect_status(200);
    assert_eq!(o.status("bob", t).await, "revoked");
    assert_eq!(ids(&o.grants("").await, "token_id"), vec![other]);
    assert_eq!(o.reads(&other_secret, "acme/api").await, 200);

    // Gone: revoking it again, or its repositories, is a 404.
    let r =
        o.s.post(
            &format!("{GRANTS}/{grant}"),
            o.app(),
            &json!({"action": "revoke"}),
        )
        .await;
    assert_org_error(&r, 404, "Not Found");
    let r =
        o.s.get(&format!("{GRANTS}/{grant}/repositories"), o.app())
            .await;
    assert_org_error(&r, 404, "Not Found");

    let events = o.audit("action:personal_access_token.access_revoked").await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["token_id"], t);
    assert_eq!(events[0]["actor"], "reviewer[bot]");
}

#[tokio::test]
async fn revoking_in_bulk_is_all_or_nothing() {
    let o = governed().await;
    let mut tokens = Vec::new();
    let mut grants = Vec::new();
    for i in 0..3 {
        let t = o.approved("bob", &format!("g{i}"), json!({})).await;
        grants.push(o.grant_of(t.0).await);
        tokens.push(t);
    }
    let (pending, _) = o.ask("bob", "pending", json!({})).await;
    let pending_request = o.request_of(pending).await;

    // An unknown id, and a request id where it is not also a grant's.
    let mut bads = vec![987_654];
    if !grants.contains(&pending_request) {
        bads.push(pending_request);
    }
    for bad in bads {
        let r =
            o.s.post(
                GRANTS,
                o.app(),
                &json!({"action": "revoke", "pat_ids": [grants[0], bad, grants[1]]}),
            )
            .await;
        let message = assert_validation(&r, "pat_ids");
        assert!(
            message.contains(&bad.to_string()),
            "the bad id is named: {r:#?}"
        );
        assert_eq!(o.grants("").await.len(), 3, "nothing revoked");
    }
    let hundred_one: Vec<i64> = (1..=101).collect();
    for (body, field) in [
        (json!({"action": "revoke", "pat_ids": []}), "pat_ids"),
        (json!({"action": "revoke"}), "pat_ids"),
        (
            json!({"action": "revoke", "pat_ids": hundred_one}),
            "pat_ids",
        ),
        (json!({"pat_ids": [grants[0]]}), "action"),
        (json!({"action": "deny", "pat_ids": [grants[0]]}), "action"),
    ] {
        let r = o.s.post(GRANTS, o.app(), &body).await;
        assert_validation(&r, field);
    }
    assert_eq!(o.grants("").await.len(), 3, "nothing revoked");

    let r =
        o.s.post(
            GRANTS,
            o.app(),
            &json!({"action": "revoke", "pat_ids": [grants[0], grants[1]]}),
        )
        .await;
    assert_eq!(r.status, 202, "{r:#?}");
    assert_eq!(r.body, json!({}));
    for (t, secret) in &tokens[..2] {
        assert_eq!(o.reads(secret, "acme/api").await, 404);
        assert_eq!(o.reads(secret, "acme/website").await, 200);
        o.s.get("/user", Auth::Token(secret))
            .await
            .expect_status(200);
        assert_eq!(o.status("bob", *t).await, "revoked");
    }
    assert_eq!(o.reads(&tokens[2].1, "acme/api").await, 200);
    assert_eq!(ids(&o.grants("").await, "id"), vec![grants[2]]);
}

// ---------------------------------------------------------------------------------------------
// Who may call

/// The organization API's eight operations, each with a well-formed body.
fn operations() -> Vec<(Method, String, Value)> {
    vec![
        (Method::GET, REQUESTS.into(), Value::Null),
        (
            Method::POST,
            REQUESTS.into(),
            json!({"pat_request_ids": [1], "action": "approve"}),
        ),
        (
            Method::POST,
            format!("{REQUESTS}/1"),
            json!({"action": "approve"}),
        ),
        (
            Method::GET,
            format!("{REQUESTS}/1/repositories"),
            Value::Null,
        ),
        (Method::GET, GRANTS.into(), Value::Null),
        (
            Method::POST,
            GRANTS.into(),
            json!({"action": "revoke", "pat_ids": [1]}),
        ),
        (
            Method::POST,
            format!("{GRANTS}/1"),
            json!({"action": "revoke"}),
        ),
        (Method::GET, format!("{GRANTS}/1/repositories"), Value::Null),
    ]
}

async fn call(s: &Server, method: &Method, path: &str, auth: Auth<'_>, body: &Value) -> Reply {
    let body = if body.is_null() {
        Body::None
    } else {
        Body::Json(body)
    };
    s.call(method.clone(), path, auth, body).await
}

#[tokio::test]
async fn personal_access_tokens_are_refused_by_the_organization_api() {
    let o = governed().await;
    let (_, classic) =
        o.s.classic("alice", "admin", &["admin:org", "repo", "user"])
            .await;
    let (_, fine) = o
        .ask(
            "alice",
            "owner's",
            json!({"repositories": [], "repository_selection": "all", "permissions": {"organization": {"members": "write"}}}),
        )
        .await;
    for secret in [&classic, &fine] {
        for (method, path, body) in operations() {
            let r = call(&o.s, &method, &path, Auth::Token(secret), &body).await;
            assert_org_error(&r, 403, "Resource not accessible by personal access token");
            assert_eq!(r.body["documentation_url"], ORG_DOCS, "{method} {path}");
        }
    }
    for (method, path, body) in operations() {
        let r = call(&o.s, &method, &path, Auth::None, &body).await;
        assert_error(&r, 401, "Requires authentication");
        let r = call(&o.s, &method, &path, Auth::Token("ghp_not_a_token"), &body).await;
        assert_bad_credentials(&r);
        // The owner's password is not an app either.
        let r = call(&o.s, &method, &path, Auth::Password("alice"), &body).await;
        assert_error(
            &r,
            401,
            "Password authentication is only accepted for managing your tokens. Use a personal \
             access token.",
        );
    }
}

#[tokio::test]
async fn an_app_of_another_organization_is_refused() {
    let o = governed().await;
    let globex = app_token(&o.s, "globex", "globex reviewer", BOTH_WRITE, BOTH_WRITE).await;
    for (method, path, body) in operations() {
        let r = call(&o.s, &method, &path, Auth::Token(&globex), &body).await;
        assert_eq!(r.status, 404, "{method} {path}: {r:#?}");
        validate("basic-error", &r.body);
        assert_eq!(r.body["message"], "Not Found");
    }
    // And acme's app is refused on globex.
    let r =
        o.s.get("/orgs/globex/personal-access-token-requests", o.app())
            .await;
    assert_eq!(r.status, 404, "{r:#?}");
    // An organization that does not exist.
    let r =
        o.s.get("/orgs/nope/personal-access-token-requests", o.app())
            .await;
    assert_org_error(&r, 404, "Not Found");
}

#[tokio::test]
async fn an_app_with_read_permissions_cannot_review_or_revoke() {
    let o = governed().await;
    let reader = app_token(&o.s, "acme", "auditor", "read", "read").await;
    let (t, _) = o.ask("bob", "pending", json!({})).await;
    let request = o.request_of(t).await;
    o.s.get(REQUESTS, Auth::Token(&reader))
        .await
        .expect_status(200);
    o.s.get(GRANTS, Auth::Token(&reader))
        .await
        .expect_status(200);
    o.s.get(
        &format!("{REQUESTS}/{request}/repositories"),
        Auth::Token(&reader),
    )
    .await
    .expect_status(200);
    for (method, path, body) in operations() {
        if method != Method::POST {
            continue;
        }
        let path = path.replace(&format!("{REQUESTS}/1"), &format!("{REQUESTS}/{request}"));
        let r = call(&o.s, &method, &path, Auth::Token(&reader), &body).await;
        assert_org_error(&r, 403, "Resource not accessible by integration");
        assert!(
            r.header("x-accepted-github-permissions")
                .is_some_and(|p| p.contains("=write")),
            "{r:#?}"
        );
    }
    assert_eq!(o.status("bob", t).await, "pending");

    // Permission on requests only: grants are refused.
    let requests_only = app_token(&o.s, "acme", "requests only", "write", "read").await;
    let no_grants = {
        let r = o
            .s
            .post(
                "/orgs/acme/apps",
                Auth::Password("alice"),
                &json!({"name": "no grants", "permissions": {"organization_personal_access_token_requests": "read"}}),
            )
            .await
            .expect_status(201);
        o.s.call(
            Method::POST,
            &format!("/orgs/acme/apps/{}/access_tokens", r.id()),
            Auth::Password("alice"),
            Body::None,
        )
        .await
        .expect_status(201)
        .str("token")
    };
    let r = o.s.get(GRANTS, Auth::Token(&no_grants)).await;
    assert_org_error(&r, 403, "Resource not accessible by integration");
    o.s.get(REQUESTS, Auth::Token(&no_grants))
        .await
        .expect_status(200);
    let r =
        o.s.post(
            &format!("{REQUESTS}/{request}"),
            Auth::Token(&requests_only),
            &json!({"action": "approve"}),
        )
        .await;
    assert_eq!(r.status, 204, "{r:#?}");
}

#[tokio::test]
async fn only_owners_register_apps_and_mint_their_tokens() {
    let o = governed().await;
    let body = json!({"name": "x", "permissions": {"organization_personal_access_token_requests": "read"}});
    let r =
        o.s.post("/orgs/acme/apps", Auth::Password("bob"), &body)
            .await;
    assert_error(&r, 403, "You must be an owner of acme to do this.");
    let r =
        o.s.post("/orgs/acme/apps", Auth::Password("dave"), &body)
            .await;
    assert_eq!(r.status, 404, "{r:#?}");
    let r =
        o.s.post("/orgs/acme/apps", Auth::Token(&o.app), &body)
            .await;
    assert_eq!(r.status, 403, "a token is not a password: {r:#?}");
    // Organization permissions only.
    let r =
        o.s.post(
            "/orgs/acme/apps",
            Auth::Password("alice"),
            &json!({"name": "y", "permissions": {"contents": "read"}}),
        )
        .await;
    assert_validation(&r, "permissions");
    let apps =
        o.s.get("/orgs/acme/apps", Auth::Password("alice"))
            .await
            .expect_status(200);
    assert_eq!(apps.body.as_array().unwrap().len(), 1, "{apps:#?}");
    let app_id = apps.body[0]["id"].as_i64().unwrap();
    let r =
        o.s.call(
            Method::POST,
            &format!("/orgs/acme/apps/{app_id}/access_tokens"),
            Auth::Password("bob"),
            Body::None,
        )
        .await;
    assert_eq!(r.status, 403, "{r:#?}");
    // Another organization's app id.
    let r =
        o.s.call(
            Method::POST,
            &format!("/orgs/globex/apps/{app_id}/access_tokens"),
            Auth::Password("alice"),
            Body::None,
        )
        .await;
    assert_eq!(r.status, 404, "{r:#?}");
}

// ---------------------------------------------------------------------------------------------
// Policy

#[tokio::test]
async fn restricting_fine_grained_tokens_refuses_them_on_the_organization() {
    let o = governed().await;
    let (_, secret) = o.approved("bob", "fg", json!({})).await;
    let (_, classic) = o.s.classic("bob", "classic", &["repo"]).await;
    assert_eq!(o.reads(&secret, "acme/api").await, 200);

    let r = o.put_policy(json!({"fine_grained": "restrict"})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(
        r.body["fine_grained"],
        json!({"value": "restrict", "set_by": "organization"})
    );
    let refused = o.s.get("/repos/acme/api", Auth::Token(&secret)).await;
    assert_error(
        &refused,
        403,
        "The 'acme' organization forbids access via a fine-grained personal access token. Please \
         use a GitHub App, OAuth App, or a personal access token (classic).",
    );
    assert_eq!(
        o.reads(&secret, "acme/website").await,
        200,
        "public stays readable"
    );
    assert_eq!(
        o.reads(&classic, "acme/api").await,
        200,
        "classic tokens are not restricted"
    );
    // New fine-grained tokens for acme are refused at creation.
    let r =
        o.s.post(
            "/user/personal-access-tokens",
            Auth::Password("bob"),
            &json!({"name": "new", "resource_owner": "acme"}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:#?}");
    assert!(r.body.to_string().contains("forbids access"), "{r:#?}");

    // Unset again: allowed again.
    let r = o.put_policy(json!({})).await;
    assert_eq!(
        r.body["fine_grained"],
        json!({"value": "allow", "set_by": "default"})
    );
    assert_eq!(o.reads(&secret, "acme/api").await, 200);
}

#[tokio::test]
async fn restricting_classic_tokens_refuses_them_on_the_organization() {
    let o = governed().await;
    let (_, classic) = o.s.classic("alice", "laptop", &["repo"]).await;
    let (_, fine) = o.approved("bob", "fg", json!({})).await;
    assert_eq!(o.reads(&classic, "acme/api").await, 200);

    let r = o.put_policy(json!({"classic": "restrict"})).await;
    assert_eq!(
        r.body["classic"],
        json!({"value": "restrict", "set_by": "organization"})
    );
    let refused = o.s.get("/repos/acme/api", Auth::Token(&classic)).await;
    assert_error(
        &refused,
        403,
        "The 'acme' organization forbids access via a personal access token (classic). Please \
         use a GitHub App, OAuth App, or a personal access token with fine-grained permissions.",
    );
    assert_eq!(
        o.reads(&classic, "acme/website").await,
        200,
        "public stays readable"
    );
    assert_eq!(o.reads(&classic, "alice/notes").await, 200, "not acme's");
    assert_eq!(o.reads(&fine, "acme/api").await, 200);
}

#[tokio::test]
async fn without_approval_a_members_token_is_approved_at_once() {
    let o = governed().await;
    let r = o.put_policy(json!({"approval": "disable"})).await;
    assert_eq!(
        r.body["approval"],
        json!({"value": "disable", "set_by": "organization"})
    );
    let (t, secret) = o.ask("bob", "at once", json!({})).await;
    assert_eq!(o.status("bob", t).await, "approved");
    assert_eq!(o.reads(&secret, "acme/api").await, 200);
    assert!(o.requests("").await.is_empty());
    assert_eq!(ids(&o.grants("").await, "token_id"), vec![t]);
    let events = o
        .audit("action:auto_approve_personal_access_token_requests.enable")
        .await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["actor"], "alice");

    // Required again: the next one waits.
    o.put_policy(json!({"approval": "require"}))
        .await
        .expect_status(200);
    let (t2, secret2) = o.ask("bob", "waits", json!({})).await;
    assert_eq!(o.status("bob", t2).await, "pending");
    assert_eq!(o.reads(&secret2, "acme/api").await, 404);
    assert_eq!(
        o.audit("action:auto_approve_personal_access_token_requests.disable")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn an_owners_token_is_approved_at_once_even_when_approval_is_required() {
    let o = governed().await;
    let policy =
        o.s.get(POLICY, Auth::Password("alice"))
            .await
            .expect_status(200);
    assert_eq!(
        policy.body["approval"],
        json!({"value": "require", "set_by": "default"})
    );
    let (t, secret) = o.ask("alice", "owner's", json!({})).await;
    assert_eq!(o.status("alice", t).await, "approved");
    assert_eq!(o.reads(&secret, "acme/api").await, 200);
    assert!(o.requests("").await.is_empty());
    let grants = o.grants("").await;
    assert_eq!(ids(&grants, "token_id"), vec![t]);
    assert_eq!(grants[0]["owner"]["login"], "alice");
}

#[tokio::test]
async fn a_maximum_lifetime_refuses_longer_tokens() {
    let o = governed().await;
    let (_, month) = o.approved("bob", "month", json!({"expires_in": 30})).await;
    assert_eq!(o.reads(&month, "acme/api").await, 200);

    let r = o
        .put_policy(json!({"fine_grained_max_lifetime_days": 7}))
        .await;
    assert_eq!(
        r.body["fine_grained_max_lifetime_days"],
        json!({"value": 7, "set_by": "organization"})
    );
    let refused = o.s.get("/repos/acme/api", Auth::Token(&month)).await;
    assert_error(
        &refused,
        403,
        "The 'acme' organization forbids access via a fine-grained personal access token if the \
         token's lifetime is greater than 7 days.",
    );
    assert_eq!(
        o.reads(&month, "acme/website").await,
        200,
        "public stays readable"
    );

    let r =
        o.s.post(
            "/user/personal-access-tokens",
            Auth::Password("bob"),
            &json!({"name": "eight", "resource_owner": "acme", "expires_in": 8}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:#?}");
    assert!(r.body.to_string().contains("7 days"), "{r:#?}");
    let (_, week) = o.approved("bob", "week", json!({"expires_in": 7})).await;
    assert_eq!(o.reads(&week, "acme/api").await, 200);

    for bad in [0, 367] {
        let r = o
            .put_policy(json!({"fine_grained_max_lifetime_days": bad}))
            .await;
        assert_validation(&r, "fine_grained_max_lifetime_days");
    }
}

#[tokio::test]
async fn an_enterprise_setting_beats_the_organizations() {
    let o = governed().await;
    let path = "/orgs/globex/personal-access-token-policy";
    let enforced = json!({"value": "restrict", "set_by": "enterprise"});
    let r =
        o.s.get(path, Auth::Password("alice"))
            .await
            .expect_status(200);
    assert_eq!(r.body["classic"], enforced);
    let r =
        o.s.call(
            Method::PUT,
            path,
            Auth::Password("alice"),
            Body::Json(&json!({"classic": "allow"})),
        )
        .await
        .expect_status(200);
    assert_eq!(r.body["classic"], enforced, "{r:#?}");
    // The answer says the saved choice is overridden, rather than pretending it took effect.
    assert_eq!(
        r.body["overridden_by_enterprise"],
        json!([{
            "setting": "classic",
            "requested": "allow",
            "in_force": "restrict",
            "enterprise": "corp",
            "message": "classic is saved as allow, but the 'corp' enterprise sets it to restrict, which is in force.",
        }]),
        "{r:#?}"
    );
    let r =
        o.s.get(path, Auth::Password("alice"))
            .await
            .expect_status(200);
    assert_eq!(r.body["classic"], enforced);

    let (_, classic) = o.s.classic("alice", "laptop", &["repo"]).await;
    let refused = o.s.get("/repos/globex/portal", Auth::Token(&classic)).await;
    assert_error(
        &refused,
        403,
        "The 'corp' enterprise forbids access via a personal access token (classic). Please use \
         a GitHub App, OAuth App, or a personal access token with fine-grained permissions.",
    );
    // acme has no enterprise: the same token reads it.
    assert_eq!(o.reads(&classic, "acme/api").await, 200);
    let events = audit(
        &o.s,
        "globex",
        "action:org.personal_access_token_policy_update",
    )
    .await;
    assert_eq!(events.len(), 1, "{events:#?}");
}

#[tokio::test]
async fn only_owners_see_and_set_the_policy() {
    let o = governed().await;
    let body = json!({"classic": "restrict"});
    let r =
        o.s.call(
            Method::PUT,
            POLICY,
            Auth::Password("bob"),
            Body::Json(&body),
        )
        .await;
    assert_error(&r, 403, "You must be an owner of acme to do this.");
    let r =
        o.s.call(
            Method::PUT,
            POLICY,
            Auth::Password("dave"),
            Body::Json(&body),
        )
        .await;
    assert_eq!(r.status, 404, "{r:#?}");
    let r =
        o.s.call(Method::PUT, POLICY, Auth::Token(&o.app), Body::Json(&body))
            .await;
    assert_eq!(r.status, 403, "{r:#?}");
    for (bad, field) in [
        (json!({"classic": "maybe"}), "classic"),
        (json!({"fine_grained": "deny"}), "fine_grained"),
        (json!({"approval": "sometimes"}), "approval"),
        (
            json!({"classic_max_lifetime_days": 0}),
            "classic_max_lifetime_days",
        ),
    ] {
        let r = o.put_policy(bad).await;
        assert_validation(&r, field);
    }
    let r =
        o.s.get(POLICY, Auth::Password("alice"))
            .await
            .expect_status(200);
    assert_eq!(
        r.body["classic"],
        json!({"value": "allow", "set_by": "default"}),
        "nothing was set"
    );
    assert!(
        o.audit("action:org.personal_access_token_policy_update")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn the_audit_log_records_policy_changes_and_filters() {
    let o = governed().await;
    o.put_policy(json!({"classic": "restrict"}))
        .await
        .expect_status(200);
    o.put_policy(json!({"classic": "restrict", "fine_grained_max_lifetime_days": 30}))
        .await
        .expect_status(200);
    o.put_policy(json!({})).await.expect_status(200);
    let (t, _) = o.approved("bob", "reviewed", json!({})).await;

    let updates = o
        .audit("action:org.personal_access_token_policy_update")
        .await;
    assert_eq!(updates.len(), 3, "{updates:#?}");
    for e in &updates {
        assert_eq!(e["action"], "org.personal_access_token_policy_update");
        assert_eq!(e["actor"], "alice");
        assert_eq!(e["org"], "acme");
    }
    assert!(
        updates
            .iter()
            .any(|e| e["fine_grained_max_lifetime_days"] == 30),
        "{updates:#?}"
    );

    let by_app = o.audit("actor:reviewer[bot]").await;
    assert!(!by_app.is_empty());
    assert!(
        by_app.iter().all(|e| e["actor"] == "reviewer[bot]"),
        "{by_app:#?}"
    );
    assert!(
        by_app
            .iter()
            .any(|e| e["action"] == "personal_access_token.access_granted" && e["token_id"] == t)
    );
    let by_alice = o.audit("actor:alice").await;
    assert!(
        by_alice.iter().all(|e| e["actor"] == "alice"),
        "{by_alice:#?}"
    );
    assert!(
        by_alice.iter().any(|e| e["action"] == "integration.create"),
        "{by_alice:#?}"
    );
    let both = o
        .audit("action:org.personal_access_token_policy_update actor:bob")
        .await;
    assert!(both.is_empty(), "{both:#?}");
    let requested = o
        .audit("action:personal_access_token.request_created")
        .await;
    assert_eq!(requested.len(), 1, "{requested:#?}");
    assert_eq!(requested[0]["actor"], "bob");

    // Paged.
    let all = o.audit("").await;
    assert!(all.len() >= 7, "{all:#?}");
    let r =
        o.s.get(
            &format!("{AUDIT}?per_page=2&page=2"),
            Auth::Password("alice"),
        )
        .await
        .expect_status(200);
    assert_eq!(items(&r), all[2..4]);

    // Owners only; bad phrases are 422.
    let r = o.s.get(AUDIT, Auth::Password("bob")).await;
    assert_eq!(r.status, 403, "{r:#?}");
    let r =
        o.s.get(
            &format!("{AUDIT}?phrase=color:blue"),
            Auth::Password("alice"),
        )
        .await;
    assert_validation(&r, "phrase");
}

// ---------------------------------------------------------------------------------------------
// The requester's cancel

#[tokio::test]
async fn the_requester_cancels_a_pending_request() {
    let o = governed().await;
    let (t, secret) = o.ask("bob", "never mind", json!({})).await;
    let (other, _) = o.ask("bob", "keep", json!({})).await;
    let request = o.request_of(t).await;
    let path = format!("/user/personal-access-tokens/{t}/request");

    let r = o.s.delete(&path, Auth::Password("carol")).await;
    assert_eq!(r.status, 404, "not carol's token: {r:#?}");
    let r = o.s.delete(&path, Auth::Token(&secret)).await;
    assert_eq!(r.status, 403, "a token is not a password: {r:#?}");

    let r = o.s.delete(&path, Auth::Password("bob")).await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert_eq!(ids(&o.requests("").await, "token_id"), vec![other]);
    assert_eq!(o.reads(&secret, "acme/api").await, 404);
    let r = o.review(request, json!({"action": "approve"})).await;
    assert_org_error(&r, 404, "Not Found");

    let events = o
        .audit("action:personal_access_token.request_cancelled")
        .await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["token_id"], t);
    assert_eq!(events[0]["actor"], "bob");
    assert_eq!(events[0]["user_programmatic_access_request_id"], request);

    // Nothing left to cancel.
    let r = o.s.delete(&path, Auth::Password("bob")).await;
    assert_eq!(r.status, 409, "{r:#?}");
}

// ---------------------------------------------------------------------------------------------
// POST /credentials/revoke

const REVOKE: &str = "/credentials/revoke";

#[tokio::test]
async fn credentials_revoke_deletes_leaked_tokens_without_authentication() {
    let o = governed().await;
    let (fine_id, fine) = o.ask("bob", "leaked", json!({})).await;
    let (classic_id, classic) = o.s.classic("bob", "leaked classic", &["repo"]).await;
    let (_, kept) = o.s.classic("bob", "kept", &["repo"]).await;
    for secret in [&fine, &classic, &kept] {
        o.s.get("/user", Auth::Token(secret))
            .await
            .expect_status(200);
    }

    let r =
        o.s.post(REVOKE, Auth::None, &json!({"credentials": [fine, classic]}))
            .await;
    assert_eq!(r.status, 202, "{r:#?}");
    assert_eq!(r.body, json!({}));
    for secret in [&fine, &classic] {
        assert_bad_credentials(&o.s.get("/user", Auth::Token(secret)).await);
    }
    o.s.get("/user", Auth::Token(&kept))
        .await
        .expect_status(200);
    for (kind, id) in [
        ("personal-access-tokens", fine_id),
        ("authorizations", classic_id),
    ] {
        let r =
            o.s.get(&format!("/user/{kind}/{id}"), Auth::Password("bob"))
                .await;
        assert_eq!(r.status, 404, "{kind} {id} is gone: {r:#?}");
    }
    assert!(o.requests("").await.is_empty(), "its request went with it");
    let events = o
        .audit("action:personal_access_token.credential_revoked")
        .await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["token_id"], fine_id);

    // Unknown tokens, well-formed or not: 202 all the same (never an oracle); app installation
    // tokens are not revoked here.
    let format = o.s.app.token_format();
    let unknown = [
        format.generate(TokenKind::Classic).expose().to_owned(),
        format.generate(TokenKind::FineGrained).expose().to_owned(),
    ];
    let r =
        o.s.post(
            REVOKE,
            Auth::None,
            &json!({"credentials": [unknown[0], unknown[1], "nonsense", o.app]}),
        )
        .await;
    assert_eq!(r.status, 202, "{r:#?}");
    o.s.get(REQUESTS, o.app()).await.expect_status(200);

    // Authenticated: 403.
    for auth in [
        Auth::Token(&kept),
        Auth::Password("bob"),
        Auth::Raw("token whatever"),
    ] {
        let r =
            o.s.post(REVOKE, auth, &json!({"credentials": [kept]}))
                .await;
        assert_eq!(r.status, 403, "{auth:?}: {r:#?}");
        validate("basic-error", &r.body);
    }
    o.s.get("/user", Auth::Token(&kept))
        .await
        .expect_status(200);

    // 1 to 1000 credentials: GitHub's validation-error-simple.
    let many: Vec<String> = (0..1001).map(|i| format!("ghp_{i}")).collect();
    for body in [
        json!({"credentials": []}),
        json!({}),
        json!({"credentials": many}),
    ] {
        let r = o.s.post(REVOKE, Auth::None, &body).await;
        assert_eq!(r.status, 422, "{r:#?}");
        validate("validation-error-simple", &r.body);
        assert!(r.body["errors"][0].is_string(), "{r:#?}");
    }
    let thousand: Vec<String> = (0..1000).map(|i| format!("ghp_{i}")).collect();
    let r =
        o.s.post(REVOKE, Auth::None, &json!({"credentials": thousand}))
            .await;
    assert_eq!(r.status, 202, "{r:#?}");
}

#[tokio::test]
async fn credentials_revoke_allows_sixty_requests_an_hour() {
    let s = spawn().await;
    let body = json!({"credentials": ["ghp_nothing"]});
    for i in 1..=60 {
        let r = s.post(REVOKE, Auth::None, &body).await;
        assert_eq!(r.status, 202, "request {i}: {r:#?}");
    }
    let r = s.post(REVOKE, Auth::None, &body).await;
    assert_eq!(r.status, 422, "{r:#?}");
    validate("validation-error-simple", &r.body);
    assert_eq!(
        r.body["message"],
        "Validation failed, or the endpoint has been spammed."
    );
    // A leaked token reported now is not revoked: the request was refused.
    let (_, secret) = s.classic("bob", "late", &["repo"]).await;
    let r = s
        .post(REVOKE, Auth::None, &json!({"credentials": [secret]}))
        .await;
    assert_eq!(r.status, 422, "{r:#?}");
    s.get("/user", Auth::Token(&secret))
        .await
        .expect_status(200);
}
