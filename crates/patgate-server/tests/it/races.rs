//! Concurrent creations against a real server (issue 8, finding 5): the cap of 50 fine-grained
//! tokens per user and unique names hold however many requests race, on SQLite (one server
//! process) and on PostgreSQL (a `patgate serve` process; skipped with a notice when PostgreSQL
//! is absent, unless `PATGATE_REQUIRE_PG=1`).

use futures_util::future::join_all;
use serde_json::{Value, json};

use patgate_domain::model::TokenGrant;
use patgate_store::Store;
use patgate_store_sql::postgres::testing::TestDb;

use crate::replicas::{replica, seed};
use crate::support::{password, spawn};

const USER: &str = "bob";

/// `POST /user/personal-access-tokens` as bob: the status and the body.
async fn create(client: &reqwest::Client, base: &str, name: &str) -> (u16, Value) {
    let r = client
        .post(format!("{base}/user/personal-access-tokens"))
        .basic_auth(USER, Some(password(USER)))
        .json(&json!({"name": name, "expires_in": 7}))
        .send()
        .await
        .expect("the request is sent");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The field error of a 422 body for `field` with `code`, if there is one.
fn has_error(body: &Value, field: &str, code: &str) -> bool {
    body["errors"]
        .as_array()
        .is_some_and(|e| e.iter().any(|e| e["field"] == field && e["code"] == code))
}

async fn fine_grained_names(store: &dyn Store) -> Vec<String> {
    let bob = store.user_by_login(USER).await.unwrap().unwrap();
    store
        .tokens_of_user(bob.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| matches!(t.grant, TokenGrant::FineGrained { .. }))
        .map(|t| t.name)
        .collect()
}

/// 45 tokens, then 20 concurrent creations: 5 get in, 15 are refused as the cap refuses them,
/// and bob holds exactly 50.
async fn the_cap_holds(base: &str, store: &dyn Store) {
    let client = crate::http();
    for i in 0..45 {
        let (status, body) = create(&client, base, &format!("before {i}")).await;
        assert_eq!(status, 201, "{body}");
    }
    let racing = (0..20).map(|i| {
        let client = client.clone();
        async move { create(&client, base, &format!("racing {i}")).await }
    });
    let replies = join_all(racing).await;
    let created = replies.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<&Value> = replies
        .iter()
        .filter(|(s, _)| *s == 422)
        .map(|(_, b)| b)
        .collect();
    assert_eq!((created, refused.len()), (5, 15), "{replies:#?}");
    for body in refused {
        assert!(has_error(body, "name", "custom"), "{body}");
        assert!(body.to_string().contains("limit of 50"), "{body}");
    }
    assert_eq!(fine_grained_names(store).await.len(), 50);
}

/// 10 concurrent creations of one name (in several spellings): one gets in, 9 are refused as a
/// taken name is, and bob has the name once.
async fn names_stay_unique(base: &str, store: &dyn Store) {
    let client = crate::http();
    let racing = (0..10).map(|i| {
        let client = client.clone();
        let name = if i % 2 == 0 { "Deploy" } else { "deploy" };
        async move { create(&client, base, name).await }
    });
    let replies = join_all(racing).await;
    let created = replies.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{replies:#?}");
    for (status, body) in replies.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 422, "{body}");
        assert!(has_error(body, "name", "already_exists"), "{body}");
    }
    let names = fine_grained_names(store).await;
    assert_eq!(
        names
            .iter()
            .filter(|n| n.eq_ignore_ascii_case("deploy"))
            .count(),
        1,
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_keep_the_cap_of_50_on_sqlite() {
    let s = spawn().await;
    the_cap_holds(&s.base, s.app.store().as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_of_one_name_keep_it_unique_on_sqlite() {
    let s = spawn().await;
    names_stay_unique(&s.base, s.app.store().as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_keep_the_cap_of_50_on_postgres() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    seed(&db.url).await;
    let server = replica(&db.url, &[]).await;
    let store = db.store().await;
    the_cap_holds(&server.base, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creations_of_one_name_keep_it_unique_on_postgres() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    seed(&db.url).await;
    let server = replica(&db.url, &[]).await;
    let store = db.store().await;
    names_stay_unique(&server.base, &store).await;
}
