//! `page`, `per_page` and GitHub's `Link` on the user's own token lists and the organization's
//! audit log (issue 9): pages are cut in the database, newest first.

use serde_json::json;

use crate::support::{Auth, Reply, Server, assert_field_error, spawn};

fn names(r: &Reply, field: &str) -> Vec<String> {
    r.body
        .as_array()
        .unwrap_or_else(|| panic!("a list: {r:#?}"))
        .iter()
        .map(|v| v[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn link(r: &Reply) -> Option<String> {
    r.header("link").map(str::to_owned)
}

async fn list(s: &Server, path: &str) -> Reply {
    s.get(path, Auth::Password("alice"))
        .await
        .expect_status(200)
}

#[tokio::test]
async fn the_users_fine_grained_tokens_page_newest_first_with_githubs_link() {
    let s = spawn().await;
    for i in 0..5 {
        s.fine_grained("alice", json!({"name": format!("t{i}"), "expires_in": 7}))
            .await;
    }
    // Everything on the first page by default (30), and no Link.
    let r = list(&s, "/user/personal-access-tokens").await;
    assert_eq!(names(&r, "name"), ["t4", "t3", "t2", "t1", "t0"]);
    assert_eq!(link(&r), None);

    let base = &s.base;
    let first = list(&s, "/user/personal-access-tokens?per_page=2").await;
    assert_eq!(names(&first, "name"), ["t4", "t3"]);
    assert_eq!(
        link(&first).as_deref(),
        Some(
            format!(
                "<{base}/user/personal-access-tokens?per_page=2&page=2>; rel=\"next\", \
                 <{base}/user/personal-access-tokens?per_page=2&page=3>; rel=\"last\""
            )
            .as_str()
        )
    );
    let last = list(&s, "/user/personal-access-tokens?per_page=2&page=3").await;
    assert_eq!(names(&last, "name"), ["t0"]);
    assert_eq!(
        link(&last).as_deref(),
        Some(
            format!(
                "<{base}/user/personal-access-tokens?per_page=2&page=2>; rel=\"prev\", \
                 <{base}/user/personal-access-tokens?per_page=2&page=1>; rel=\"first\""
            )
            .as_str()
        )
    );
    let past = list(&s, "/user/personal-access-tokens?per_page=2&page=9").await;
    assert_eq!(past.body, json!([]));

    for bad in ["per_page=101", "per_page=0", "page=0", "page=x"] {
        let r = s
            .get(
                &format!("/user/personal-access-tokens?{bad}"),
                Auth::Password("alice"),
            )
            .await;
        let field = bad.split('=').next().unwrap_or_default();
        assert_field_error(&r, field, "invalid");
    }
}

#[tokio::test]
async fn the_users_classic_tokens_page_as_the_fine_grained_ones() {
    let s = spawn().await;
    for i in 0..3 {
        s.classic("alice", &format!("c{i}"), &["repo"]).await;
    }
    let r = list(&s, "/authorizations?per_page=2&page=2").await;
    assert_eq!(names(&r, "note"), ["c0"]);
    assert_eq!(
        link(&r).as_deref(),
        Some(
            format!(
                "<{b}/authorizations?per_page=2&page=1>; rel=\"prev\", \
                 <{b}/authorizations?per_page=2&page=1>; rel=\"first\"",
                b = s.base
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn the_audit_log_pages_with_githubs_link() {
    let s = spawn().await;
    // Three audited creations in acme: alice's tokens for acme are approved at once.
    for i in 0..3 {
        s.fine_grained(
            "alice",
            json!({"name": format!("a{i}"), "resource_owner": "acme", "expires_in": 7}),
        )
        .await;
    }
    let all = list(&s, "/orgs/acme/audit-log?per_page=100").await;
    let total = all.body.as_array().map_or(0, Vec::len);
    assert!(total >= 6, "create and access_granted for each: {total}");
    let r = list(&s, "/orgs/acme/audit-log?per_page=1&page=2").await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
    let l = link(&r).unwrap_or_default();
    for rel in ["prev", "next", "last", "first"] {
        assert!(l.contains(&format!("rel=\"{rel}\"")), "{l}");
    }
    assert!(l.contains(&format!("page={total}>; rel=\"last\"")), "{l}");
    assert_eq!(r.body[0], all.body[1], "the second newest");
}
