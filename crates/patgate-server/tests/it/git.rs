//! Git over HTTP with the real `git` client against a real server (issue 3). The username is
//! ignored but required; the token is the password.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::json;
use sha2_free::digest_file;
use tempfile::TempDir;

use crate::support::{Auth, Server, spawn};

/// A tiny content digest without extra dependencies: length and a 64-bit FNV-1a of the bytes.
mod sha2_free {
    pub fn digest_file(path: &std::path::Path) -> (u64, u64) {
        let bytes = std::fs::read(path).expect("read file");
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in &bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (bytes.len() as u64, h)
    }
}

/// A scratch area with its own HOME so that no credential helper or user config interferes.
pub struct Workspace {
    dir: TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub async fn git(&self, cwd: &Path, args: &[&str]) -> Output {
        run_git(self.dir.path(), cwd, args).await
    }

    /// The HOME every git command of this workspace runs with.
    pub fn home(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub async fn clone(&self, url: &str, into: &str) -> Output {
        self.git(self.dir.path(), &["clone", url, into]).await
    }

    /// Commits `files` (path, contents) in a fresh clone dir and pushes to `url`.
    pub async fn commit_and_push(&self, url: &str, name: &str, files: &[(&str, &[u8])]) -> Output {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        self.git(&dir, &["init", "-q"]).await;
        for (file, content) in files {
            let p = dir.join(file);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(&p, content).expect("write");
        }
        self.git(&dir, &["add", "-A"]).await;
        self.git(&dir, &["commit", "-q", "-m", "change"]).await;
        self.git(&dir, &["push", url, "HEAD:refs/heads/main"]).await
    }
}

/// `git` with its own HOME, so that no credential helper or user configuration interferes.
pub async fn run_git(home: &Path, cwd: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_ASKPASS", "/bin/false")
        .output()
        .await
        .expect("git runs")
}

pub fn url(s: &Server, token: Option<&str>, repo: &str) -> String {
    let host = s.base.trim_start_matches("http://");
    match token {
        Some(t) => format!("http://x-access-token:{t}@{host}/{repo}.git"),
        None => format!("http://{host}/{repo}.git"),
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
pub fn ok(o: &Output) {
    assert!(o.status.success(), "git failed: {}", stderr(o));
}

#[track_caller]
pub fn refused(o: &Output, message: &str) {
    assert!(!o.status.success(), "git succeeded but should not have");
    assert!(
        stderr(o).contains(message),
        "expected {message:?} in {:?}",
        stderr(o)
    );
}

/// alice owns acme: her fine-grained tokens for acme are approved at once.
pub async fn acme_token(s: &Server, name: &str, permissions: serde_json::Value) -> String {
    s.fine_grained(
        "alice",
        json!({"name": name, "resource_owner": "acme", "repository_selection": "all", "permissions": permissions}),
    )
    .await
    .1
}

#[tokio::test]
async fn anonymous_clone_of_a_public_repository_works_and_of_a_private_one_asks_for_credentials() {
    let s = spawn().await;
    let w = Workspace::new();
    let writer = acme_token(&s, "w", json!({"contents": "write"})).await;
    ok(&w
        .commit_and_push(
            &url(&s, Some(&writer), "acme/website"),
            "seed",
            &[("README.md", b"hello")],
        )
        .await);

    let out = w.clone(&url(&s, None, "acme/website"), "public").await;
    ok(&out);
    assert_eq!(
        std::fs::read(w.path("public/README.md")).expect("cloned file"),
        b"hello"
    );

    refused(
        &w.clone(&url(&s, None, "acme/api"), "private").await,
        "could not read Username",
    );
    let r = s
        .get(
            "/acme/api.git/info/refs?service=git-upload-pack",
            Auth::None,
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"patgate\"")
    );
    // A missing repository looks the same as a private one.
    let missing = s
        .get(
            "/acme/ghost.git/info/refs?service=git-upload-pack",
            Auth::None,
        )
        .await;
    assert_eq!(missing.status, 401);
}

#[tokio::test]
async fn a_read_token_clones_but_cannot_push_and_a_write_token_pushes() {
    let s = spawn().await;
    let w = Workspace::new();
    let writer = acme_token(&s, "writer", json!({"contents": "write"})).await;
    let reader = acme_token(&s, "reader", json!({"contents": "read"})).await;
    ok(&w
        .commit_and_push(
            &url(&s, Some(&writer), "acme/api"),
            "one",
            &[("a.txt", b"1")],
        )
        .await);
    ok(&w.clone(&url(&s, Some(&reader), "acme/api"), "clone").await);
    assert_eq!(std::fs::read(w.path("clone/a.txt")).expect("file"), b"1");
    refused(
        &w.commit_and_push(
            &url(&s, Some(&reader), "acme/api"),
            "two",
            &[("b.txt", b"2")],
        )
        .await,
        "Write access to repository not granted.",
    );
}

#[tokio::test]
async fn classic_tokens_need_repo_for_private_repositories() {
    let s = spawn().await;
    let w = Workspace::new();
    let (_, with_repo) = s.classic("bob", "with repo", &["repo"]).await;
    let (_, without) = s.classic("bob", "gist only", &["gist"]).await;
    ok(&w.clone(&url(&s, Some(&with_repo), "acme/api"), "a").await);
    refused(
        &w.clone(&url(&s, Some(&without), "acme/api"), "b").await,
        "Repository not found.",
    );
    // Public repositories need no scope to read, `public_repo` to write.
    ok(&w.clone(&url(&s, Some(&without), "acme/website"), "c").await);
    refused(
        &w.commit_and_push(
            &url(&s, Some(&without), "acme/website"),
            "d",
            &[("x", b"x")],
        )
        .await,
        "Permission to acme/website.git denied to bob.",
    );
    // bob is a member with read on acme: even `repo` cannot push beyond his role.
    refused(
        &w.commit_and_push(&url(&s, Some(&with_repo), "acme/api"), "e", &[("x", b"x")])
            .await,
        "Permission to acme/api.git denied to bob.",
    );
}

#[tokio::test]
async fn a_token_kind_the_organization_restricts_is_refused_with_the_policy() {
    let s = spawn().await;
    let w = Workspace::new();
    let (_, carol) = s.classic("carol", "ci", &["repo"]).await;
    refused(
        &w.clone(&url(&s, Some(&carol), "globex/portal"), "p").await,
        "'corp' enterprise forbids access via a personal access token (classic)",
    );
}

#[tokio::test]
async fn a_token_of_another_resource_owner_sees_nothing_private() {
    let s = spawn().await;
    let w = Workspace::new();
    let mine = s
        .fine_grained(
            "alice",
            json!({"name": "mine", "repository_selection": "all", "permissions": {"contents": "write"}}),
        )
        .await
        .1;
    ok(&w.clone(&url(&s, Some(&mine), "alice/notes"), "notes").await);
    refused(
        &w.clone(&url(&s, Some(&mine), "acme/api"), "api").await,
        "Repository not found.",
    );
}

#[tokio::test]
async fn a_pending_token_fetches_public_repositories_only() {
    let s = spawn().await;
    let w = Workspace::new();
    let pending = s
        .fine_grained(
            "bob",
            json!({"name": "ci", "resource_owner": "acme", "repository_selection": "all", "permissions": {"contents": "write"}, "justification": "CI"}),
        )
        .await
        .1;
    ok(&w
        .clone(&url(&s, Some(&pending), "acme/website"), "site")
        .await);
    refused(
        &w.clone(&url(&s, Some(&pending), "acme/api"), "api").await,
        "Repository not found.",
    );
    refused(
        &w.commit_and_push(
            &url(&s, Some(&pending), "acme/website"),
            "push",
            &[("x", b"x")],
        )
        .await,
        "denied",
    );
}

#[tokio::test]
async fn bad_or_missing_credentials_are_refused_like_github() {
    let s = spawn().await;
    let w = Workspace::new();
    let token = acme_token(&s, "t", json!({"contents": "read"})).await;
    let host = s.base.trim_start_matches("http://");
    // An empty username is invalid even with a valid token.
    refused(
        &w.clone(&format!("http://:{token}@{host}/acme/api.git"), "a")
            .await,
        "Invalid username or token",
    );
    // A password is not a token.
    refused(
        &w.clone(
            &format!("http://alice:alice-password@{host}/acme/api.git"),
            "b",
        )
        .await,
        "Invalid username or token",
    );
    // A deleted token stops working at once.
    let (id, classic) = s.classic("alice", "gone", &["repo"]).await;
    ok(&w.clone(&url(&s, Some(&classic), "acme/api"), "c").await);
    s.delete(&format!("/authorizations/{id}"), Auth::Password("alice"))
        .await
        .expect_status(204);
    refused(
        &w.clone(&url(&s, Some(&classic), "acme/api"), "d").await,
        "Invalid username or token",
    );
}

#[tokio::test]
async fn workflow_files_need_the_workflows_permission_or_the_workflow_scope() {
    let s = spawn().await;
    let w = Workspace::new();
    let files: &[(&str, &[u8])] = &[(".github/workflows/ci.yml", b"on: push")];
    let plain = acme_token(&s, "plain", json!({"contents": "write"})).await;
    refused(
        &w.commit_and_push(&url(&s, Some(&plain), "acme/api"), "a", files)
            .await,
        "without `workflows` permission",
    );
    let with = acme_token(&s, "wf", json!({"contents": "write", "workflows": "write"})).await;
    ok(&w
        .commit_and_push(&url(&s, Some(&with), "acme/api"), "b", files)
        .await);

    let (_, classic_plain) = s.classic("alice", "plain", &["repo"]).await;
    let other: &[(&str, &[u8])] = &[(".github/workflows/other.yml", b"on: push")];
    refused(
        &w.commit_and_push(&url(&s, Some(&classic_plain), "acme/website"), "c", other)
            .await,
        "without `workflow` scope",
    );
    let (_, classic_wf) = s.classic("alice", "wf", &["repo", "workflow"]).await;
    ok(&w
        .commit_and_push(&url(&s, Some(&classic_wf), "acme/website"), "d", other)
        .await);
}

#[tokio::test]
async fn git_use_updates_the_tokens_last_used_time() {
    let s = spawn().await;
    let w = Workspace::new();
    let (id, token) = s.classic("alice", "git", &["repo"]).await;
    ok(&w.clone(&url(&s, Some(&token), "acme/api"), "a").await);
    s.app.flush_last_used().await.expect("flush");
    let stored = s
        .app
        .store()
        .token_by_id(patgate_domain::model::TokenId(id))
        .await
        .expect("store")
        .expect("token");
    assert!(stored.last_used_at.is_some());
}

#[tokio::test]
async fn a_50_megabyte_push_and_clone_succeed() {
    let s = spawn().await;
    let w = Workspace::new();
    let writer = acme_token(&s, "big", json!({"contents": "write"})).await;
    // Incompressible content, so the pack really is about 50 MB on the wire.
    let mut data = vec![0u8; 50 * 1024 * 1024];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = (x >> (i * 8)) as u8;
        }
    }
    ok(&w
        .commit_and_push(
            &url(&s, Some(&writer), "acme/api"),
            "big",
            &[("big.bin", &data)],
        )
        .await);
    ok(&w.clone(&url(&s, Some(&writer), "acme/api"), "copy").await);
    assert_eq!(
        digest_file(&w.path("copy/big.bin")),
        digest_file(&w.path("big/big.bin"))
    );
}

#[tokio::test]
async fn preparing_one_bare_repository_from_many_tasks_at_once_succeeds_for_all() {
    // Replicas over one git root start together and prepare the same repositories.
    let root = tempfile::tempdir().expect("temporary directory");
    let config = patgate_server::git::GitConfig {
        root: root.path().to_path_buf(),
        git: "git".to_owned(),
    };
    let repo = patgate_domain::model::Repository {
        id: patgate_domain::model::RepoId(7),
        owner: patgate_domain::model::AccountId(1),
        owner_login: "acme".to_owned(),
        owner_kind: patgate_domain::model::AccountKind::Organization,
        name: "api".to_owned(),
        visibility: patgate_domain::model::Visibility::Private,
        description: None,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
    };
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (config, repo) = (config.clone(), repo.clone());
            tokio::spawn(async move { patgate_server::git::ensure_bare_repo(&config, &repo).await })
        })
        .collect();
    for t in tasks {
        let dir = t.await.expect("joined").expect("prepared");
        assert!(dir.join("HEAD").exists());
    }
    let hook = std::fs::read_to_string(root.path().join("7.git/hooks/pre-receive")).expect("hook");
    assert_eq!(hook, patgate_server::git::PRE_RECEIVE);
    // Nothing of the scratch copies is left behind.
    let names: Vec<_> = std::fs::read_dir(root.path())
        .expect("read root")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["7.git".to_owned()]);
}
