//! No secret leaks (issue 8, finding 9): a `patgate serve` process logging at `trace` is driven
//! through a token's whole life (create, use over REST with every way of presenting it, use over
//! git, refused uses, regenerate, delete) and wrong and right passwords; afterwards neither its
//! log, nor the database files, nor any error body holds a token or a password.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

use crate::support::SEED;

struct Served {
    base: String,
    child: tokio::process::Child,
    log: tokio::task::JoinHandle<String>,
    stderr: tokio::task::JoinHandle<String>,
}

async fn serve_at_trace(dir: &Path, log_format: &str) -> Served {
    // The directory file (with its passwords) lives outside the data directory that is checked.
    let seed_dir = tempfile::tempdir().expect("temporary directory");
    let seed = seed_dir.path().join("seed.toml");
    std::fs::write(&seed, SEED).expect("write the seed");
    let out = Command::new(env!("CARGO_BIN_EXE_patgate"))
        .args(["--data-dir", dir.to_str().expect("utf-8")])
        .args(["seed", seed.to_str().expect("utf-8")])
        .env("PATGATE_INSECURE_FAST_PASSWORDS", "1")
        .env_remove("PATGATE_DATABASE_URL")
        .output()
        .await
        .expect("seed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_patgate"))
        .args(["--data-dir", dir.to_str().expect("utf-8")])
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("PATGATE_INSECURE_FAST_PASSWORDS", "1")
        .env("PATGATE_LOG", "trace")
        .env("PATGATE_LOG_FORMAT", log_format)
        .env_remove("PATGATE_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("patgate serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let (base_tx, base_rx) = tokio::sync::oneshot::channel();
    let log = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut all = String::new();
        let mut base_tx = Some(base_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix("patgate listening on ")
                && let Some(tx) = base_tx.take()
            {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let stderr = tokio::spawn(async move {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all).await;
        all
    });
    let base = tokio::time::timeout(Duration::from_secs(30), base_rx)
        .await
        .expect("listening within 30 s")
        .expect("the address");
    Served {
        base,
        child,
        log,
        stderr,
    }
}

/// Every byte of every file under `dir` (the SQLite database, its WAL, the git repositories).
fn all_files(dir: &Path, into: &mut Vec<u8>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            all_files(&path, into);
        } else if let Ok(bytes) = std::fs::read(&path) {
            into.extend_from_slice(&bytes);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_password_reaches_the_log_the_database_or_an_error_body() {
    leak_check("text").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_password_reaches_the_json_log_either() {
    leak_check("json").await;
}

/// A token's whole life with the server logging at trace in `log_format`, then every secret
/// looked for in the log, the data directory (database, outbox `.eml` files) and error bodies.
async fn leak_check(log_format: &str) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let served = serve_at_trace(dir.path(), log_format).await;
    let base = served.base.clone();
    let client = crate::http();
    let mut secrets: Vec<String> = vec!["alice-password".into(), "wrong-password-42".into()];
    let mut error_bodies = Vec::new();

    let created: Value = client
        .post(format!("{base}/user/personal-access-tokens"))
        .basic_auth("alice", Some("alice-password"))
        .json(&json!({"name": "leak check", "resource_owner": "acme",
            "repository_selection": "all", "permissions": {"contents": "write"}}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let fine = created["token"].as_str().expect("token").to_owned();
    let fine_id = created["id"].as_i64().expect("id");
    secrets.push(fine.clone());
    let classic: Value = client
        .post(format!("{base}/authorizations"))
        .basic_auth("alice", Some("alice-password"))
        .json(&json!({"note": "leak check", "scopes": ["repo"]}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let classic_secret = classic["token"].as_str().expect("token").to_owned();
    secrets.push(classic_secret.clone());

    // Every way a client may present a token, right or wrong.
    let bogus = format!("{}x", &fine[..fine.len() - 1]);
    secrets.push(bogus.clone());
    let requests = [
        client
            .get(format!("{base}/user"))
            .bearer_auth(&classic_secret),
        client
            .get(format!("{base}/user"))
            .header("authorization", format!("token {fine}")),
        client
            .get(format!("{base}/repos/acme/api"))
            .bearer_auth(&bogus),
        client.get(format!("{base}/user?access_token={classic_secret}")),
        client.get(format!("{base}/repos/{fine}/x")),
        client
            .get(format!("{base}/authorizations"))
            .basic_auth("alice", Some("wrong-password-42")),
        client
            .get(format!("{base}/user"))
            .basic_auth("x", Some(fine.as_str())),
        client
            .post(format!("{base}/credentials/revoke"))
            .json(&json!({"credentials": [bogus.clone()]})),
    ];
    for req in requests {
        let r = req.send().await.expect("sent");
        let status = r.status();
        let body = r.text().await.expect("body");
        if !status.is_success() {
            error_bodies.push(body);
        }
    }

    // git with the token as password.
    let work = tempfile::tempdir().expect("temporary directory");
    let host = base.trim_start_matches("http://");
    let out = Command::new("git")
        .args([
            "clone",
            &format!("http://x:{fine}@{host}/acme/api.git"),
            "c",
        ])
        .current_dir(work.path())
        .env("HOME", work.path())
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .expect("git");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Regenerate (the new secret too must not leak), then delete.
    let regenerated: Value = client
        .post(format!(
            "{base}/user/personal-access-tokens/{fine_id}/regenerate"
        ))
        .basic_auth("alice", Some("alice-password"))
        .json(&json!({}))
        .send()
        .await
        .expect("regenerate")
        .json()
        .await
        .expect("json");
    let renewed = regenerated["token"].as_str().expect("token").to_owned();
    secrets.push(renewed.clone());
    let r = client
        .get(format!("{base}/user"))
        .bearer_auth(&fine)
        .send()
        .await
        .expect("old");
    assert_eq!(r.status(), 401);
    error_bodies.push(r.text().await.expect("body"));
    let r = client
        .delete(format!("{base}/user/personal-access-tokens/{fine_id}"))
        .basic_auth("alice", Some("alice-password"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);

    let mut served = served;
    let _ = served.child.start_kill();
    let _ = served.child.wait().await;
    let log = served.log.await.expect("log");
    let stderr = served.stderr.await.expect("stderr");
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the server logged at trace level: {log:.400}"
    );
    if log_format == "json" {
        let parsed = log
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str::<Value>(l).map(|v| v["level"].is_string()))
            .collect::<Result<Vec<bool>, _>>()
            .expect("every log line is a JSON object");
        assert!(parsed.len() > 10 && parsed.iter().all(|l| *l), "{log:.400}");
    }
    let mut files = Vec::new();
    all_files(dir.path(), &mut files);
    let files = String::from_utf8_lossy(&files);
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "the log holds {secret:.8}…");
        assert!(
            !stderr.contains(secret.as_str()),
            "stderr holds {secret:.8}…"
        );
        assert!(
            !files.contains(secret.as_str()),
            "the data directory holds {secret:.8}…"
        );
        for body in &error_bodies {
            assert!(
                !body.contains(secret.as_str()),
                "an error body holds {secret:.8}…"
            );
        }
    }
}
