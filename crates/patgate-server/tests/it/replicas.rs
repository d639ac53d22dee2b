//! Several `patgate serve` processes on one PostgreSQL database (issue 5): a change made through
//! one is honoured by the other within a second, a daily job runs once, and a database outage
//! answers 503 and heals by itself. Skipped with a notice when PostgreSQL is absent, unless
//! `PATGATE_REQUIRE_PG=1`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use patgate_store::{DirectoryStore, TokenStore};
use patgate_store_sql::postgres::testing::TestDb;

use crate::support::SEED;

/// A running `patgate serve` process; killed when dropped.
pub(crate) struct Replica {
    pub(crate) base: String,
    _child: Child,
    _dir: tempfile::TempDir,
}

async fn patgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_patgate"))
        .args(args)
        .env("PATGATE_INSECURE_FAST_PASSWORDS", "1")
        .output()
        .await
        .expect("patgate runs")
}

pub(crate) async fn seed(db_url: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("seed.toml");
    std::fs::write(&file, SEED).expect("write seed");
    let out = patgate(&[
        "seed",
        file.to_str().expect("utf-8"),
        "--database-url",
        db_url,
    ])
    .await;
    assert!(
        out.status.success(),
        "seed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) async fn replica(db_url: &str, extra: &[&str]) -> Replica {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_patgate"))
        .args(["serve", "--bind", "127.0.0.1:0", "--database-url", db_url])
        .args(["--data-dir", dir.path().to_str().expect("utf-8")])
        // A long TTL: only the change feed can make the other replica notice in time.
        .args(["--cache-ttl-secs", "60", "--jobs-interval-secs", "1"])
        .args(extra)
        .env("PATGATE_INSECURE_FAST_PASSWORDS", "1")
        .env("PATGATE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("patgate serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(rest) = line.strip_prefix("patgate listening on ") {
                return rest.split_whitespace().next().expect("address").to_owned();
            }
        }
        panic!("patgate serve exited before listening");
    })
    .await
    .expect("patgate serve listens within 30 s");
    // Keep draining stdout so the process never blocks on a full pipe; a replica's errors reach
    // the test's output, so that a failure shows what the server saw.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("ERROR") {
                eprintln!("replica: {line}");
            }
        }
    });
    Replica {
        base,
        _child: child,
        _dir: dir,
    }
}

async fn classic_token(base: &str) -> (i64, String) {
    let r: Value = crate::http()
        .post(format!("{base}/authorizations"))
        .basic_auth("alice", Some("alice-password"))
        .json(&json!({"note": "replicas", "scopes": ["repo"]}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    (
        r["id"].as_i64().expect("id"),
        r["token"].as_str().expect("token").to_owned(),
    )
}

async fn get_user(base: &str, token: &str) -> u16 {
    crate::http()
        .get(format!("{base}/user"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Polls until `get_user` answers `status`; returns how long it took.
/// `GET /user/personal-access-tokens` as alice (password): a request that always reads the
/// store.
async fn list_tokens(base: &str) -> u16 {
    crate::http()
        .get(format!("{base}/user/personal-access-tokens"))
        .basic_auth("alice", Some("alice-password"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn until_status(base: &str, token: &str, status: u16, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if get_user(base, token).await == status {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_deleted_or_regenerated_through_one_replica_is_refused_by_the_other_within_a_second()
 {
    let Some(db) = TestDb::create().await else {
        return;
    };
    seed(&db.url).await;
    let a = replica(&db.url, &[]).await;
    let b = replica(&db.url, &[]).await;

    let (id, token) = classic_token(&a.base).await;
    assert_eq!(
        get_user(&b.base, &token).await,
        200,
        "b verifies (and caches) the token"
    );
    let deleted = crate::http()
        .delete(format!("{}/authorizations/{id}", a.base))
        .basic_auth("alice", Some("alice-password"))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status().as_u16(), 204);
    let took = until_status(&b.base, &token, 401, Duration::from_secs(5)).await;
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(1)),
        "b refused the deleted token after {took:?}"
    );

    let (id, old) = classic_token(&a.base).await;
    assert_eq!(get_user(&b.base, &old).await, 200);
    let regenerated = crate::http()
        .post(format!("{}/authorizations/{id}/regenerate", a.base))
        .basic_auth("alice", Some("alice-password"))
        .json(&json!({}))
        .send()
        .await
        .expect("regenerate");
    assert_eq!(regenerated.status().as_u16(), 200);
    let took = until_status(&b.base, &old, 401, Duration::from_secs(5)).await;
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(1)),
        "b refused the old secret after {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_change_through_one_replica_is_honoured_by_the_other_within_a_second() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    seed(&db.url).await;
    let a = replica(&db.url, &[]).await;
    let b = replica(&db.url, &[]).await;
    // carol reads acme/api as an outside collaborator.
    let r: Value = crate::http()
        .post(format!("{}/authorizations", a.base))
        .basic_auth("carol", Some("carol-password"))
        .json(&json!({"note": "collab", "scopes": ["repo"]}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let token = r["token"].as_str().expect("token").to_owned();
    let repo = |base: &str| {
        let url = format!("{base}/repos/acme/api");
        let token = token.clone();
        async move {
            crate::http()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(repo(&b.base).await, 200);
    // The operator removes carol from the repository through the first replica's store.
    let store = patgate_store_sql::postgres::PostgresStore::connect(&db.url, Default::default())
        .await
        .expect("connect");
    let api = store
        .repo_by_name("acme", "api")
        .await
        .expect("repo")
        .expect("exists");
    let carol = store
        .user_by_login("carol")
        .await
        .expect("user")
        .expect("exists");
    assert!(
        store
            .remove_collaborator(api.id, carol.id)
            .await
            .expect("remove")
    );
    let start = Instant::now();
    let mut status = 200;
    while start.elapsed() < Duration::from_secs(5) {
        status = repo(&b.base).await;
        if status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 404);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_job_runs_once_not_once_per_replica() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    seed(&db.url).await;
    // A token nobody has used for more than a year.
    let out = patgate(&[
        "token",
        "create",
        "--user",
        "bob",
        "--kind",
        "classic",
        "--name",
        "old",
        "--scopes",
        "repo",
        "--json",
        "--database-url",
        &db.url,
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = created["id"].as_i64().expect("id");
    let store = patgate_store_sql::postgres::PostgresStore::connect(&db.url, Default::default())
        .await
        .expect("connect");
    sqlx::query("UPDATE tokens SET created_at = created_at - 400 * 86400, issued_at = issued_at - 400 * 86400 WHERE id = $1")
        .bind(id)
        .execute(store.pool())
        .await
        .expect("backdate");

    let _a = replica(&db.url, &[]).await;
    let _b = replica(&db.url, &[]).await;
    let start = Instant::now();
    while store
        .token_by_id(patgate_domain::model::TokenId(id))
        .await
        .expect("read")
        .is_some()
    {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the sweep never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both replicas keep ticking every second; give them several chances to run it again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let runs: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM job_runs WHERE job = 'remove_unused_tokens'")
            .fetch_one(store.pool())
            .await
            .expect("count runs");
    assert_eq!(runs, 1);
    let destroyed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'oauth_access.destroy' AND token_id = $1",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await
    .expect("count audit");
    assert_eq!(destroyed, 1);
}

/// A TCP proxy in front of PostgreSQL that the test can take down (every connection cut, new
/// ones refused) and bring back: what a database restart looks like from patgate.
struct Outage {
    port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    _accept: JoinHandle<()>,
}

impl Outage {
    async fn start(target: String) -> Outage {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let up = up.clone();
            let connections = connections.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let target = target.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    connections.lock().await.push(task);
                }
            }
        });
        Outage {
            port,
            up,
            connections,
            _accept: accept,
        }
    }

    async fn stop_database(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.connections.lock().await.drain(..) {
            task.abort();
        }
    }

    fn start_database(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_and_service_resumes_by_itself() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    seed(&db.url).await;
    let (host_port, through_proxy) = {
        let rest = db
            .url
            .split_once('@')
            .map(|(_, r)| r)
            .expect("url has a host");
        let host_port = rest.split('/').next().expect("host").to_owned();
        (host_port.clone(), (host_port, rest.to_owned()))
    };
    let proxy = Outage::start(host_port).await;
    let url = db
        .url
        .replace(&through_proxy.0, &format!("127.0.0.1:{}", proxy.port));
    let a = replica(&url, &["--pg-acquire-timeout-secs", "1"]).await;
    let (_, token) = classic_token(&a.base).await;
    assert_eq!(get_user(&a.base, &token).await, 200);

    // Under load: a client keeps asking while the database goes away and comes back.
    let statuses: Arc<Mutex<Vec<(Instant, u16)>>> = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let load = tokio::spawn({
        let statuses = statuses.clone();
        let running = running.clone();
        let base = a.base.clone();
        async move {
            while running.load(Ordering::SeqCst) {
                let s = list_tokens(&base).await;
                statuses.lock().await.push((Instant::now(), s));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.stop_database().await;
    let down_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The process is alive, but not ready: a balancer takes it out, an orchestrator leaves it.
    let probe = |path: &'static str| {
        let base = a.base.clone();
        async move {
            crate::http()
                .get(format!("{base}{path}"))
                .send()
                .await
                .expect("answered")
                .status()
                .as_u16()
        }
    };
    assert_eq!(probe("/healthz").await, 200);
    assert_eq!(probe("/readyz").await, 503);
    // A warm token keeps working from the caches: GET /user needs no database.
    assert_eq!(get_user(&a.base, &token).await, 200);
    // Requests that need the database get GitHub's 503 JSON.
    let during = crate::http()
        .get(format!("{}/user/personal-access-tokens", a.base))
        .basic_auth("alice", Some("alice-password"))
        .send()
        .await
        .expect("answered");
    assert_eq!(during.status().as_u16(), 503);
    let body: Value = during.json().await.expect("json");
    assert_eq!(body["status"], "503");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("unavailable"))
    );
    proxy.start_database();
    let up_at = Instant::now();
    let start = Instant::now();
    let mut healed = None;
    while start.elapsed() < Duration::from_secs(20) {
        if list_tokens(&a.base).await == 200 {
            healed = Some(start.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.store(false, Ordering::SeqCst);
    let _ = load.await;
    assert!(
        healed.is_some(),
        "service did not resume after the database came back"
    );
    let statuses = statuses.lock().await;
    assert!(
        statuses
            .iter()
            .any(|(t, s)| *t > down_at && *t < up_at && *s == 503),
        "no 503 during the outage"
    );
    assert!(
        statuses.iter().all(|(_, s)| *s == 200 || *s == 503),
        "only 200 and 503 expected: {:?}",
        statuses
            .iter()
            .map(|(_, s)| s)
            .collect::<std::collections::BTreeSet<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_moves_a_sqlite_installation_to_postgresql_with_working_tokens() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8");
    let file = dir.path().join("seed.toml");
    std::fs::write(&file, SEED).expect("write seed");
    let out = patgate(&["seed", file.to_str().expect("utf-8"), "--data-dir", data]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = patgate(&[
        "token",
        "create",
        "--user",
        "alice",
        "--kind",
        "classic",
        "--name",
        "moved",
        "--scopes",
        "repo",
        "--json",
        "--data-dir",
        data,
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = serde_json::from_slice::<Value>(&out.stdout).expect("json")["token"]
        .as_str()
        .expect("secret")
        .to_owned();
    let sqlite = format!("sqlite://{data}/patgate.db");
    let out = patgate(&["copy", "--from", &sqlite, "--to", &db.url]).await;
    assert!(
        out.status.success(),
        "copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Copying again into the now full database is refused and changes nothing.
    let again = patgate(&["copy", "--from", &sqlite, "--to", &db.url]).await;
    assert!(!again.status.success());
    assert!(!String::from_utf8_lossy(&again.stderr).is_empty());

    let a = replica(&db.url, &[]).await;
    assert_eq!(get_user(&a.base, &token).await, 200);
    let r = crate::http()
        .get(format!("{}/repos/acme/api", a.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("repo");
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_session_signed_in_on_one_replica_works_on_the_other_and_a_sign_out_ends_it_on_both()
{
    let Some(db) = TestDb::create().await else {
        return;
    };
    seed(&db.url).await;
    let a = replica(&db.url, &[]).await;
    let b = replica(&db.url, &[]).await;
    let browser = crate::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed_in = browser
        .post(format!("{}/login", a.base))
        .form(&[("login", "alice"), ("password", "alice-password")])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed_in.status().as_u16(), 303);
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.split(';')
                .next()
                .filter(|p| p.starts_with("patgate_session="))
        })
        .expect("a session cookie")
        .to_owned();
    let status = |base: String| {
        let browser = browser.clone();
        let cookie = cookie.clone();
        async move {
            browser
                .get(format!("{base}/settings/sessions"))
                .header("cookie", cookie)
                .send()
                .await
                .expect("page")
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(b.base.clone()).await, 200, "b knows the session");
    let page = browser
        .get(format!("{}/settings/sessions", b.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let at = page.find("name=\"_csrf\" value=\"").expect("a form token") + 20;
    let token = &page[at..at + 32];
    let out = browser
        .post(format!("{}/logout", b.base))
        .header("cookie", &cookie)
        .form(&[("_csrf", token)])
        .send()
        .await
        .expect("sign out");
    assert_eq!(out.status().as_u16(), 303);
    // Sessions are read from the database on every page: gone on a at once.
    assert_eq!(
        status(a.base.clone()).await,
        303,
        "a refuses the ended session"
    );
}

/// A service credentials file holding `crate::support::SERVICE`, in `dir`.
fn service_credentials(dir: &std::path::Path) -> String {
    let file = dir.join("services.toml");
    let hash = patgate_domain::token::TokenHash::of(crate::support::SERVICE).to_hex();
    std::fs::write(
        &file,
        format!(
            "[[credentials]]\nname = \"platform\"\nsha256 = \"{hash}\"\nscopes = [\"directory\"]\n"
        ),
    )
    .expect("write the credentials file");
    file.to_str().expect("utf-8").to_owned()
}

async fn repo_status(base: &str, token: &str) -> u16 {
    crate::http()
        .get(format!("{base}/repos/acme/api"))
        .bearer_auth(token)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_removed_through_the_directory_api_is_refused_by_both_replicas_on_the_next_request()
 {
    let Some(db) = TestDb::create().await else {
        return;
    };
    seed(&db.url).await;
    let files = tempfile::tempdir().expect("tempdir");
    let creds = service_credentials(files.path());
    let a = replica(&db.url, &["--service-credentials-file", &creds]).await;
    let b = replica(&db.url, &["--service-credentials-file", &creds]).await;
    let client = crate::http();
    // acme approves at once, so bob's fine-grained token is granted.
    let policy = client
        .put(format!("{}/orgs/acme/personal-access-token-policy", a.base))
        .basic_auth("alice", Some("alice-password"))
        .json(&json!({"approval": "disable"}))
        .send()
        .await
        .expect("policy");
    assert_eq!(policy.status().as_u16(), 200);
    let fine: Value = client
        .post(format!("{}/user/personal-access-tokens", a.base))
        .basic_auth("bob", Some("bob-password"))
        .json(
            &json!({"name": "ci", "resource_owner": "acme", "repository_selection": "all",
                      "permissions": {"repository": {"contents": "read"}}}),
        )
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    assert_eq!(fine["status"], "approved", "{fine:#}");
    let classic: Value = client
        .post(format!("{}/authorizations", a.base))
        .basic_auth("bob", Some("bob-password"))
        .json(&json!({"note": "laptop", "scopes": ["repo"]}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let tokens = [
        fine["token"].as_str().expect("token").to_owned(),
        classic["token"].as_str().expect("token").to_owned(),
    ];
    // Both replicas read with both tokens, and cache what they decided on (a 60 s TTL).
    for base in [&a.base, &b.base] {
        for t in &tokens {
            assert_eq!(repo_status(base, t).await, 200);
        }
    }
    let removed = client
        .delete(format!("{}/orgs/acme/members/bob", a.base))
        .bearer_auth(crate::support::SERVICE)
        .send()
        .await
        .expect("remove");
    assert_eq!(removed.status().as_u16(), 204);
    // The next request, on either replica, with either token: no waiting, no retry.
    for base in [&a.base, &b.base] {
        for t in &tokens {
            assert_eq!(repo_status(base, t).await, 404, "{base}");
        }
    }
}
