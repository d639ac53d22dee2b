//! `patgate serve` killed with SIGKILL in the middle of a bulk review of 100 requests, then
//! started again on the same database (issue 14): the review happened entirely (every request
//! approved, every grant there, every notice queued once) or not at all (every request still
//! pending, no grant, no notice), on SQLite and on PostgreSQL. The kill comes at a different
//! moment of the review in each round; an outbox delivery killed mid-message is
//! `notifications::a_worker_killed_mid_delivery_loses_nothing_and_doubles_nothing`.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Child;

use crate::notifications::serve;

/// acme, owned by alice, with members who ask for tokens (a user may hold 50 fine-grained
/// tokens: 15 members hold the 600 of six rounds).
fn seed() -> String {
    let mut s = String::from(
        "[[users]]\nlogin = \"alice\"\nemail = \"alice@example.com\"\npassword = \"alice-password\"\n",
    );
    for m in MEMBERS {
        s.push_str(&format!(
            "\n[[users]]\nlogin = \"{m}\"\nemail = \"{m}@example.com\"\npassword = \"{m}-password\"\n"
        ));
    }
    s.push_str("\n[[orgs]]\nlogin = \"acme\"\nowners = [\"alice\"]\nmembers = [");
    let quoted: Vec<String> = MEMBERS.iter().map(|m| format!("\"{m}\"")).collect();
    s.push_str(&quoted.join(", "));
    s.push_str("]\n\n[[repos]]\nowner = \"acme\"\nname = \"api\"\nvisibility = \"private\"\n");
    s
}

const MEMBERS: [&str; 15] = [
    "m01", "m02", "m03", "m04", "m05", "m06", "m07", "m08", "m09", "m10", "m11", "m12", "m13",
    "m14", "m15",
];
const BATCH: usize = 100;

/// One `patgate serve` on a database that outlives it.
struct Installation {
    data: tempfile::TempDir,
    db_args: Vec<String>,
}

impl Installation {
    async fn start(&self) -> (String, Child) {
        let args: Vec<&str> = self.db_args.iter().map(String::as_str).collect();
        serve(self.data.path(), self.data.path(), &args, &[]).await
    }

    async fn patgate(&self, args: &[&str]) -> std::process::Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_patgate"))
            .args(args)
            .args(["--data-dir", self.data.path().to_str().unwrap()])
            .args(&self.db_args)
            .env("PATGATE_INSECURE_FAST_PASSWORDS", "1")
            .output()
            .await
            .unwrap()
    }

    /// Messages in the outbox, whatever their state.
    async fn outbox_messages(&self) -> u64 {
        let out = self.patgate(&["outbox", "stats", "--json"]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        ["pending", "sent", "failed"]
            .iter()
            .map(|k| v[k].as_u64().unwrap())
            .sum()
    }
}

async fn installation(db_args: Vec<String>) -> Installation {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("seed.toml");
    std::fs::write(&file, seed()).unwrap();
    let i = Installation { data, db_args };
    let out = i.patgate(&["seed", file.to_str().unwrap()]).await;
    assert!(
        out.status.success(),
        "seed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    i
}

/// An installation token of an app of acme that may review requests and list grants.
async fn app_token(base: &str) -> String {
    let http = crate::http();
    let app: Value = http
        .post(format!("{base}/orgs/acme/apps"))
        .basic_auth("alice", Some("alice-password"))
        .json(&json!({"name": "reviewer", "permissions": {
            "organization_personal_access_token_requests": "write",
            "organization_personal_access_tokens": "write",
        }}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token: Value = http
        .post(format!("{base}/orgs/acme/apps/{}/access_tokens", app["id"]))
        .basic_auth("alice", Some("alice-password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["token"].as_str().unwrap().to_owned()
}

/// `BATCH` new pending requests (each member asks for tokens in turn); their tokens' ids.
async fn ask(base: &str, round: usize) -> Vec<i64> {
    let http = crate::http();
    let mut ids = Vec::new();
    for n in 0..BATCH {
        let member = MEMBERS[n % MEMBERS.len()];
        let r = http
            .post(format!("{base}/user/personal-access-tokens"))
            .basic_auth(member, Some(format!("{member}-password")))
            .json(&json!({
                "name": format!("round {round} token {n}"),
                "resource_owner": "acme",
                "repositories": ["api"],
                "permissions": {"repository": {"contents": "read"}},
                "justification": "the release",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        ids.push(v["id"].as_i64().unwrap());
    }
    ids
}

/// The items of one page of acme's listing at `path_and_query`, read with the app's token.
async fn acme_page(base: &str, app: &str, path_and_query: &str) -> Vec<Value> {
    let page: Value = crate::http()
        .get(format!("{base}/orgs/acme/{path_and_query}"))
        .bearer_auth(app)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page.as_array().unwrap().clone()
}

/// The tokens of the newest page of `path`'s listing that are among `tokens`.
async fn listed(base: &str, app: &str, path: &str, tokens: &[i64]) -> Vec<i64> {
    acme_page(base, app, &format!("{path}?per_page=100&direction=desc"))
        .await
        .iter()
        .map(|i| i["token_id"].as_i64().unwrap())
        .filter(|id| tokens.contains(id))
        .collect()
}

/// The ids of the first page of acme's pending requests.
async fn pending_request_ids(base: &str, app: &str) -> Vec<i64> {
    acme_page(base, app, "personal-access-token-requests?per_page=100")
        .await
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

async fn crash_in_bulk_reviews(db_args: Vec<String>) {
    let i = installation(db_args).await;
    let (mut base, mut server) = i.start().await;
    let app = app_token(&base).await;
    let (mut all, mut none) = (0, 0);
    // Where the kill lands: before the review reaches the store, inside its transaction, after.
    for (round, delay_ms) in [0_u64, 10, 25, 50, 100, 200].into_iter().enumerate() {
        let tokens = ask(&base, round).await;
        let requests = pending_request_ids(&base, &app).await;
        assert_eq!(requests.len(), BATCH, "round {round}: the batch is pending");
        let messages_before = i.outbox_messages().await;

        let review = {
            let (base, app) = (base.clone(), app.clone());
            tokio::spawn(async move {
                crate::http()
                    .post(format!("{base}/orgs/acme/personal-access-token-requests"))
                    .bearer_auth(&app)
                    .json(&json!({"pat_request_ids": requests, "action": "approve"}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        };
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        server.start_kill().unwrap();
        server.wait().await.unwrap();
        let answered = review.await.unwrap().ok();

        (base, server) = i.start().await;
        let still_pending = listed(&base, &app, "personal-access-token-requests", &tokens).await;
        let granted = listed(&base, &app, "personal-access-tokens", &tokens).await;
        let messages = i.outbox_messages().await - messages_before;
        match (still_pending.len(), granted.len()) {
            (0, BATCH) => {
                assert_eq!(
                    messages, BATCH as u64,
                    "round {round}: one notice per approval"
                );
                all += 1;
            }
            (BATCH, 0) => {
                assert_eq!(messages, 0, "round {round}: no notice for a review undone");
                assert_ne!(
                    answered,
                    Some(202),
                    "round {round}: a 202 for a review undone"
                );
                none += 1;
                // Deny them now, so that the next round starts with nothing pending.
                let ids = pending_request_ids(&base, &app).await;
                let r = crate::http()
                    .post(format!("{base}/orgs/acme/personal-access-token-requests"))
                    .bearer_auth(&app)
                    .json(&json!({"pat_request_ids": ids, "action": "deny", "reason": "later"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202);
            }
            (p, g) => panic!(
                "round {round} (kill after {delay_ms} ms): {p} requests still pending and {g} \
                 grants: the review was cut in half"
            ),
        }
    }
    eprintln!("bulk reviews killed: {all} happened entirely, {none} not at all");
    drop(server);
}

#[tokio::test]
async fn a_bulk_review_killed_midway_on_sqlite_happens_entirely_or_not_at_all() {
    crash_in_bulk_reviews(Vec::new()).await;
}

#[tokio::test]
async fn a_bulk_review_killed_midway_on_postgresql_happens_entirely_or_not_at_all() {
    let Some(db) = patgate_store_sql::postgres::testing::TestDb::create().await else {
        return;
    };
    crash_in_bulk_reviews(vec!["--database-url".into(), db.url.clone()]).await;
}
