//! Workflow files (`.github/workflows/`) need the `workflows` permission (fine-grained) or the
//! `workflow` scope (classic) on every kind of push: unusual file names, merges, renames,
//! deletions, new branches, tags and rewinds (issue 8, finding 1). Real `git` against a real
//! server.

use std::path::PathBuf;
use std::process::Output;

use serde_json::json;

use crate::git::{Workspace, acme_token, ok, refused, run_git, stderr, url};
use crate::support::{Server, spawn};

/// A clone of acme/api to change and push from.
struct Clone {
    home: PathBuf,
    dir: PathBuf,
}

impl Clone {
    async fn of(w: &Workspace, remote: &str, name: &str) -> Clone {
        ok(&w.clone(remote, name).await);
        Clone {
            home: w.home(),
            dir: w.path(name),
        }
    }

    async fn git(&self, args: &[&str]) -> Output {
        run_git(&self.home, &self.dir, args).await
    }

    #[track_caller]
    fn write(&self, path: &str, contents: &str) {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(p, contents).expect("write");
    }

    async fn commit(&self, message: &str) {
        ok(&self.git(&["add", "-A"]).await);
        ok(&self.git(&["commit", "-q", "-m", message]).await);
    }

    async fn push(&self, remote: &str, refspecs: &[&str]) -> Output {
        let mut args = vec!["push", "--porcelain", remote];
        args.extend_from_slice(refspecs);
        self.git(&args).await
    }
}

/// acme/api with `README.md` and `.github/workflows/ci.yml` on main, pushed by a token that may
/// change workflows.
async fn repository_with_a_workflow(s: &Server, w: &Workspace) -> String {
    let admin = acme_token(
        s,
        "admin",
        json!({"contents": "write", "workflows": "write"}),
    )
    .await;
    let remote = url(s, Some(&admin), "acme/api");
    ok(&w
        .commit_and_push(
            &remote,
            "seed",
            &[
                ("README.md", b"hello"),
                (".github/workflows/ci.yml", b"on: push"),
            ],
        )
        .await);
    remote
}

/// A fine-grained token with `contents: write` and no `workflows`, and a classic `repo` token
/// without `workflow`: each must be refused, with its own message.
async fn tokens_without_workflow_rights(s: &Server) -> Vec<(String, &'static str)> {
    let fine = acme_token(s, "plain", json!({"contents": "write"})).await;
    let (_, classic) = s.classic("alice", "plain", &["repo"]).await;
    vec![
        (fine, "without `workflows` permission"),
        (classic, "without `workflow` scope"),
    ]
}

/// Runs `change` in a fresh clone for each token without workflow rights and checks that the
/// push is refused, then that the repository still holds what the admin pushed.
async fn assert_refused<F, Fut>(case: &str, change: F)
where
    F: Fn(Clone, String) -> Fut,
    Fut: std::future::Future<Output = Output>,
{
    let s = spawn().await;
    let w = Workspace::new();
    let admin = repository_with_a_workflow(&s, &w).await;
    for (i, (token, message)) in tokens_without_workflow_rights(&s)
        .await
        .into_iter()
        .enumerate()
    {
        let remote = url(&s, Some(&token), "acme/api");
        let clone = Clone::of(&w, &remote, &format!("{case}-{i}")).await;
        let out = change(clone, remote).await;
        assert!(
            !out.status.success(),
            "{case}: the push was accepted: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr(&out).contains(message),
            "{case}: expected {message:?} in {}",
            stderr(&out)
        );
    }
    // Nothing of the refused pushes landed.
    let check = Clone::of(&w, &admin, &format!("{case}-check")).await;
    let refs = check.git(&["ls-remote", &admin]).await;
    let refs = String::from_utf8_lossy(&refs.stdout).into_owned();
    assert_eq!(
        refs.lines().count(),
        2,
        "{case}: only HEAD and main exist: {refs}"
    );
    assert_eq!(
        std::fs::read_to_string(check.dir.join(".github/workflows/ci.yml")).expect("ci.yml"),
        "on: push"
    );
}

#[tokio::test]
async fn a_workflow_with_a_non_ascii_name_is_refused() {
    assert_refused("unicode", |c, remote| async move {
        c.write(".github/workflows/é.yml", "on: push");
        c.commit("unicode").await;
        c.push(&remote, &["HEAD:main"]).await
    })
    .await;
}

#[tokio::test]
async fn a_workflow_whose_name_git_quotes_is_refused() {
    assert_refused("quote", |c, remote| async move {
        c.write(".github/workflows/a\"b.yml", "on: push");
        c.write(".github/workflows/tab\there.yml", "on: push");
        c.commit("quoted").await;
        c.push(&remote, &["HEAD:main"]).await
    })
    .await;
}

#[tokio::test]
async fn a_merge_commit_that_adds_a_workflow_is_refused() {
    assert_refused("merge", |c, remote| async move {
        ok(&c.git(&["checkout", "-q", "-b", "side"]).await);
        c.write("side.txt", "side");
        c.commit("side").await;
        ok(&c.git(&["checkout", "-q", "main"]).await);
        c.write("main.txt", "main");
        c.commit("main").await;
        // An "evil merge": the workflow is in neither parent, only in the merge commit.
        ok(&c
            .git(&["merge", "-q", "--no-ff", "--no-commit", "side"])
            .await);
        c.write(".github/workflows/evil.yml", "on: push");
        c.commit("merge side").await;
        c.push(&remote, &["HEAD:main"]).await
    })
    .await;
    // The same on a new branch, where there is no previous tree to compare with.
    assert_refused("merge-new-branch", |c, remote| async move {
        ok(&c.git(&["checkout", "-q", "-b", "side"]).await);
        c.write("side.txt", "side");
        c.commit("side").await;
        ok(&c.git(&["checkout", "-q", "-b", "merged", "main"]).await);
        c.write("main.txt", "main");
        c.commit("main").await;
        ok(&c
            .git(&["merge", "-q", "--no-ff", "--no-commit", "side"])
            .await);
        c.write(".github/workflows/evil.yml", "on: push");
        c.commit("merge side").await;
        c.push(&remote, &["HEAD:refs/heads/merged"]).await
    })
    .await;
}

#[tokio::test]
async fn a_workflow_on_a_new_branch_is_refused() {
    assert_refused("branch", |c, remote| async move {
        ok(&c.git(&["checkout", "-q", "-b", "feature"]).await);
        c.write(".github/workflows/new.yml", "on: push");
        c.commit("new workflow").await;
        c.push(&remote, &["HEAD:refs/heads/feature"]).await
    })
    .await;
}

#[tokio::test]
async fn a_merge_on_a_new_branch_that_brings_a_workflow_is_refused() {
    assert_refused("branch-merge", |c, remote| async move {
        ok(&c.git(&["checkout", "-q", "-b", "a"]).await);
        c.write(".github/workflows/a.yml", "on: push");
        c.commit("a").await;
        ok(&c.git(&["checkout", "-q", "main"]).await);
        ok(&c.git(&["checkout", "-q", "-b", "b"]).await);
        c.write("b.txt", "b");
        c.commit("b").await;
        ok(&c
            .git(&["merge", "-q", "--no-ff", "-m", "merge a", "a"])
            .await);
        c.push(&remote, &["HEAD:refs/heads/b"]).await
    })
    .await;
}

#[tokio::test]
async fn renaming_into_out_of_or_within_the_workflows_directory_is_refused() {
    assert_refused("rename-in", |c, remote| async move {
        ok(&c
            .git(&["mv", "README.md", ".github/workflows/readme.yml"])
            .await);
        c.commit("rename in").await;
        c.push(&remote, &["HEAD:main"]).await
    })
    .await;
    assert_refused("rename-out", |c, remote| async move {
        ok(&c.git(&["mv", ".github/workflows/ci.yml", "ci.yml"]).await);
        c.commit("rename out").await;
        c.push(&remote, &["HEAD:main"]).await
    })
    .await;
    assert_refused("rename-within", |c, remote| async move {
        ok(&c
            .git(&[
                "mv",
                ".github/workflows/ci.yml",
                ".github/workflows/build.yml",
            ])
            .await);
        c.commit("rename").await;
        c.push(&remote, &["HEAD:main"]).await
    })
    .await;
}

#[tokio::test]
async fn deleting_or_changing_a_workflow_is_refused() {
    assert_refused("delete", |c, remote| async move {
        ok(&c.git(&["rm", "-q", ".github/workflows/ci.yml"]).await);
        c.commit("delete").await;
        c.push(&remote, &["HEAD:main"]).await
    })
    .await;
    assert_refused("change", |c, remote| async move {
        c.write(".github/workflows/ci.yml", "on: [push, pull_request]");
        c.commit("change").await;
        c.push(&remote, &["HEAD:main"]).await
    })
    .await;
}

#[tokio::test]
async fn a_workflow_added_then_removed_within_one_push_is_refused() {
    // The tree at the end is unchanged, but the commit that adds the workflow would be on the
    // server for anyone to point a branch at.
    assert_refused("transient", |c, remote| async move {
        c.write(".github/workflows/t.yml", "on: push");
        c.commit("add").await;
        ok(&c.git(&["rm", "-q", ".github/workflows/t.yml"]).await);
        c.commit("remove").await;
        c.push(&remote, &["HEAD:main"]).await
    })
    .await;
}

#[tokio::test]
async fn tags_on_commits_that_add_a_workflow_are_refused() {
    assert_refused("light-tag", |c, remote| async move {
        ok(&c.git(&["checkout", "-q", "--detach"]).await);
        c.write(".github/workflows/tag.yml", "on: push");
        c.commit("tagged").await;
        ok(&c.git(&["tag", "v1"]).await);
        c.push(&remote, &["refs/tags/v1"]).await
    })
    .await;
    assert_refused("annotated-tag", |c, remote| async move {
        ok(&c.git(&["checkout", "-q", "--detach"]).await);
        c.write(".github/workflows/tag.yml", "on: push");
        c.commit("tagged").await;
        ok(&c.git(&["tag", "-a", "-m", "release", "v2"]).await);
        c.push(&remote, &["refs/tags/v2"]).await
    })
    .await;
}

#[tokio::test]
async fn rewinding_a_branch_past_a_workflow_change_is_refused() {
    // main holds ci.yml; forcing it back to a commit before ci.yml existed deletes the workflow
    // without pushing any new commit.
    let s = spawn().await;
    let w = Workspace::new();
    let admin = acme_token(
        &s,
        "admin",
        json!({"contents": "write", "workflows": "write"}),
    )
    .await;
    let admin_remote = url(&s, Some(&admin), "acme/api");
    ok(&w
        .commit_and_push(&admin_remote, "seed", &[("README.md", b"hello")])
        .await);
    let setup = Clone::of(&w, &admin_remote, "setup").await;
    setup.write(".github/workflows/ci.yml", "on: push");
    setup.commit("workflow").await;
    ok(&setup.push(&admin_remote, &["HEAD:main"]).await);

    for (i, (token, message)) in tokens_without_workflow_rights(&s)
        .await
        .into_iter()
        .enumerate()
    {
        let remote = url(&s, Some(&token), "acme/api");
        let c = Clone::of(&w, &remote, &format!("rewind-{i}")).await;
        ok(&c.git(&["reset", "-q", "--hard", "HEAD~1"]).await);
        let out = c.push(&remote, &["+HEAD:main"]).await;
        refused(&out, message);
        // Pointing a new branch at the workflow's commit brings no new commit: that is allowed.
        let out = c.push(&remote, &["origin/main:refs/heads/copy"]).await;
        ok(&out);
    }
}

#[tokio::test]
async fn pushes_that_leave_workflows_alone_pass_and_a_permitted_token_may_change_them() {
    let s = spawn().await;
    let w = Workspace::new();
    let admin = repository_with_a_workflow(&s, &w).await;
    for (i, (token, _)) in tokens_without_workflow_rights(&s)
        .await
        .into_iter()
        .enumerate()
    {
        let remote = url(&s, Some(&token), "acme/api");
        let c = Clone::of(&w, &remote, &format!("plain-{i}")).await;
        c.write(&format!("docs/{i}.md"), "docs");
        c.write(".github/CODEOWNERS", "* @alice");
        c.commit("docs").await;
        ok(&c.push(&remote, &["HEAD:main"]).await);
        // A branch and a tag that touch no workflow, then deleting them.
        ok(&c.push(&remote, &["HEAD:refs/heads/topic"]).await);
        ok(&c.git(&["tag", &format!("t{i}")]).await);
        ok(&c.push(&remote, &[&format!("refs/tags/t{i}")]).await);
        ok(&c
            .push(&remote, &[":refs/heads/topic", &format!(":refs/tags/t{i}")])
            .await);
    }
    // Deleting a branch that holds workflows changes no workflow that runs elsewhere.
    let (_, classic) = s.classic("alice", "branches", &["repo"]).await;
    let remote = url(&s, Some(&classic), "acme/api");
    let c = Clone::of(&w, &admin, "admin").await;
    ok(&c.push(&admin, &["HEAD:refs/heads/with-ci"]).await);
    ok(&c.push(&remote, &[":refs/heads/with-ci"]).await);

    // With the permission, every kind of change goes through.
    let c = Clone::of(&w, &admin, "admin-2").await;
    c.write(".github/workflows/é.yml", "on: push");
    c.commit("unicode").await;
    ok(&c
        .git(&[
            "mv",
            ".github/workflows/ci.yml",
            ".github/workflows/build.yml",
        ])
        .await);
    c.commit("rename").await;
    ok(&c.push(&admin, &["HEAD:main"]).await);
    let (_, classic_wf) = s.classic("alice", "wf", &["repo", "workflow"]).await;
    let remote = url(&s, Some(&classic_wf), "acme/api");
    ok(&c.git(&["rm", "-q", ".github/workflows/build.yml"]).await);
    c.commit("delete").await;
    ok(&c.push(&remote, &["HEAD:main"]).await);
}

#[tokio::test]
async fn info_refs_serves_only_the_service_that_was_authorized() {
    let s = spawn().await;
    let reader = acme_token(&s, "reader", json!({"contents": "read"})).await;
    let auth = crate::support::Auth::Basic("x", &reader);
    // The receive-pack advertisement must not come back for a read-only token, however the
    // query repeats the parameter.
    for query in [
        "service=git-upload-pack&service=git-receive-pack",
        "service=git-receive-pack&service=git-upload-pack",
        "service=git-upload-pack&service=git-upload-pack",
        "service=git-foo",
        "",
    ] {
        let r = s
            .get(&format!("/acme/api.git/info/refs?{query}"), auth)
            .await;
        assert_eq!(r.status, 403, "{query}: {r:?}");
        assert!(
            r.header("content-type")
                .is_some_and(|t| !t.contains("git-receive-pack")),
            "{query}: {r:?}"
        );
    }
    let r = s
        .get("/acme/api.git/info/refs?service=git-upload-pack", auth)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/x-git-upload-pack-advertisement")
    );
}
