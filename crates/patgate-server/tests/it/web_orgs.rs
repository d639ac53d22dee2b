//! The organization and enterprise settings pages over HTTP (issue 11): the same rules as the
//! API on both surfaces (a reason over 1024 characters, a request decided meanwhile), an owner
//! who loses ownership mid-session, and what members and strangers get. The browser walks the
//! flows in e2e/web-orgs.test.mjs.

use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::json;

use patgate_app::seed::SeedFile;
use patgate_domain::catalog::OrgRole;

use crate::support::{Server, spawn};

fn client() -> Client {
    crate::http_builder()
        .redirect(Policy::none())
        .build()
        .expect("a client")
}

struct Browser<'a> {
    s: &'a Server,
    cookie: String,
}

impl<'a> Browser<'a> {
    async fn sign_in(s: &'a Server, login: &str) -> Browser<'a> {
        let r = client()
            .post(s.url("/login"))
            .form(&[("login", login), ("password", &format!("{login}-password"))])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{login} signs in");
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.split(';')
                    .next()
                    .filter(|p| p.starts_with("patgate_session="))
            })
            .unwrap()
            .to_owned();
        Browser { s, cookie }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = client()
            .get(self.s.url(path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn form_token(&self) -> String {
        let (_, html) = self.get("/settings/sessions").await;
        let at = html.find("name=\"_csrf\" value=\"").unwrap() + 20;
        html[at..at + 32].to_owned()
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let token = self.form_token().await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("_csrf", &token));
        let r = client()
            .post(self.s.url(path))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }
}

/// bob asks acme for access: the request's id.
async fn bob_asks(s: &Server, name: &str) -> i64 {
    s.fine_grained(
        "bob",
        json!({"name": name, "resource_owner": "acme", "repository_selection": "all",
               "permissions": {"contents": "read"}, "justification": "release"}),
    )
    .await;
    let org = s.app.org_named("acme").await.unwrap();
    let requests = s
        .app
        .store()
        .requests_of_org(org.id, Some(patgate_store::RequestStatus::Pending))
        .await
        .unwrap();
    requests.last().unwrap().id.0
}

async fn request_status(s: &Server, id: i64) -> patgate_store::RequestStatus {
    s.app
        .store()
        .request_by_id(patgate_domain::model::RequestId(id))
        .await
        .unwrap()
        .unwrap()
        .status
}

const REVIEW: &str = "/organizations/acme/settings/personal-access-token-requests/review";

#[tokio::test]
async fn a_reason_over_1024_characters_is_refused_as_the_api_refuses_it() {
    let s = spawn().await;
    let id = bob_asks(&s, "too long").await.to_string();
    let alice = Browser::sign_in(&s, "alice").await;
    let long = "x".repeat(1025);
    let (status, html) = alice
        .post(
            REVIEW,
            &[("ids", &id), ("decision", "deny"), ("reason", &long)],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Nothing was changed."), "{html:.500}");
    assert!(html.contains("maximum is 1024 characters"), "{html:.500}");
    assert_eq!(
        request_status(&s, id.parse().unwrap()).await,
        patgate_store::RequestStatus::Pending
    );
    // 1024 is fine, and the reason is recorded.
    let fine = "y".repeat(1024);
    let (status, _) = alice
        .post(
            REVIEW,
            &[("ids", &id), ("decision", "deny"), ("reason", &fine)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let request = s
        .app
        .store()
        .request_by_id(patgate_domain::model::RequestId(id.parse().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.decision_reason.as_deref(), Some(fine.as_str()));
}

#[tokio::test]
async fn a_request_decided_meanwhile_makes_the_whole_review_change_nothing() {
    let s = spawn().await;
    let first = bob_asks(&s, "first").await.to_string();
    let second = bob_asks(&s, "second").await.to_string();
    let alice = Browser::sign_in(&s, "alice").await;
    // Another owner (here: the CLI's path through the app) decides the second meanwhile.
    let org = s.app.org_named("acme").await.unwrap();
    let other = patgate_app::governance::Actor {
        id: None,
        login: "operator".into(),
    };
    s.app
        .review_requests(
            &org,
            &other,
            &[patgate_domain::model::RequestId(second.parse().unwrap())],
            true,
            None,
        )
        .await
        .unwrap();
    let (status, html) = alice
        .post(
            REVIEW,
            &[("ids", &first), ("ids", &second), ("decision", "approve")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html:.300}");
    assert!(html.contains("Nothing was changed."), "{html:.800}");
    assert_eq!(
        request_status(&s, first.parse().unwrap()).await,
        patgate_store::RequestStatus::Pending,
        "all or nothing"
    );
}

#[tokio::test]
async fn an_owner_who_loses_ownership_mid_session_is_refused_at_the_next_click() {
    let s = spawn().await;
    let id = bob_asks(&s, "pending").await.to_string();
    // carol owns acme for a while.
    s.app
        .load_seed(
            &SeedFile::parse(
                r#"
[[users]]
login = "carol"
email = "carol@example.com"
password = "carol-password"

[[orgs]]
login = "acme"
owners = ["alice", "carol"]
members = ["bob"]
"#,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let carol = Browser::sign_in(&s, "carol").await;
    let (status, _) = carol
        .get("/organizations/acme/settings/personal-access-token-requests")
        .await;
    assert_eq!(status, StatusCode::OK);
    let org = s.app.org_named("acme").await.unwrap();
    let carol_user = s.app.store().user_by_login("carol").await.unwrap().unwrap();
    s.app
        .store()
        .upsert_membership(org.id, carol_user.id, OrgRole::Member)
        .await
        .unwrap();
    s.app.directory_changed();
    let (status, _) = carol
        .post(REVIEW, &[("ids", &id), ("decision", "approve")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        request_status(&s, id.parse().unwrap()).await,
        patgate_store::RequestStatus::Pending
    );
    let (status, _) = carol
        .get("/organizations/acme/settings/personal-access-token-requests")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn members_and_strangers_get_404_and_unknown_organizations_too() {
    let s = spawn().await;
    let bob = Browser::sign_in(&s, "bob").await;
    let dave = Browser::sign_in(&s, "dave").await;
    for browser in [&bob, &dave] {
        for path in [
            "/organizations/acme/settings/personal-access-tokens",
            "/organizations/acme/settings/personal-access-token-requests",
            "/organizations/acme/settings/personal-access-tokens/active",
            "/organizations/acme/settings/audit-log",
            "/organizations/nope/settings/personal-access-tokens",
            "/enterprises/corp/settings/personal-access-tokens",
        ] {
            assert_eq!(browser.get(path).await.0, StatusCode::NOT_FOUND, "{path}");
        }
    }
    // An owner of another organization is a stranger here.
    let alice = Browser::sign_in(&s, "alice").await;
    assert_eq!(
        alice
            .get("/enterprises/corp/settings/personal-access-tokens")
            .await
            .0,
        StatusCode::NOT_FOUND,
        "alice owns globex, not the corp enterprise"
    );
}

#[tokio::test]
async fn saving_the_policy_page_writes_the_audit_events_and_keeps_what_the_enterprise_forces() {
    let s = spawn().await;
    let alice = Browser::sign_in(&s, "alice").await;
    // globex is in corp, which restricts classic tokens: the form has no classic choice to send.
    let (status, html) = alice
        .post(
            "/organizations/globex/settings/personal-access-tokens",
            &[
                ("fine_grained", "allow"),
                ("approval", "disable"),
                ("fine_grained_max_lifetime_days_enabled", "on"),
                ("fine_grained_max_lifetime_days", "30"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html:.300}");
    let org = s.app.org_named("globex").await.unwrap();
    let policy = s.app.effective_policy(org.id).await.unwrap();
    assert!(!policy.requires_approval());
    assert_eq!(
        policy.fine_grained_max_lifetime_days.map(|(d, _)| d),
        Some(30)
    );
    assert_eq!(policy.classic.0, patgate_domain::policy::Access::Restrict);
    let alice_user = s.app.store().user_by_login("alice").await.unwrap().unwrap();
    let events = s
        .app
        .org_audit_log(&alice_user, "globex", patgate_store::AuditQuery::default())
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"org.personal_access_token_policy_update"),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"auto_approve_personal_access_token_requests.enable"),
        "{actions:?}"
    );
    // A lifetime out of range is refused on the page as the API refuses it, and nothing changes.
    let (status, html) = alice
        .post(
            "/organizations/globex/settings/personal-access-tokens",
            &[
                ("fine_grained_max_lifetime_days_enabled", "on"),
                ("fine_grained_max_lifetime_days", "400"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("from 1 to 366"), "{html:.300}");
    s.app.directory_changed();
    let policy = s.app.effective_policy(org.id).await.unwrap();
    assert_eq!(
        policy.fine_grained_max_lifetime_days.map(|(d, _)| d),
        Some(30)
    );
}
