//! The `patgate` binary's store commands against a data directory of their own.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

use crate::support::SEED;

/// Runs `patgate --data-dir DIR ARGS...`, with `stdin` as its standard input.
fn patgate(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patgate"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("PATGATE_INSECURE_FAST_PASSWORDS", "1")
        .env_remove("PATGATE_DATABASE_URL")
        .env_remove("PATGATE_DATA_DIR")
        .env_remove("PATGATE_PREFIX_FINE_GRAINED")
        .env_remove("PATGATE_PREFIX_CLASSIC")
        .env_remove("PATGATE_PREFIX_APP")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run patgate");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for patgate")
}

fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "patgate {}: {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a command that must succeed; its standard output.
#[track_caller]
fn ok(dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = patgate(dir, args, stdin);
    assert!(out.status.success(), "{}", describe(args, &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a `--json` command that must succeed; its output parsed.
#[track_caller]
fn ok_json(dir: &Path, args: &[&str], stdin: &str) -> Value {
    let stdout = ok(dir, args, stdin);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("patgate {}: not JSON ({e}): {stdout}", args.join(" ")))
}

/// A data directory with `SEED` loaded through the CLI.
fn seeded() -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("seed.toml");
    std::fs::write(&file, SEED).expect("write the seed file");
    let file = file.to_string_lossy().into_owned();
    ok(dir.path(), &["seed", &file, "--json"], "");
    dir
}

fn seed_file(dir: &TempDir) -> String {
    dir.path().join("seed.toml").to_string_lossy().into_owned()
}

#[test]
fn seed_twice_creates_then_changes_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("seed.toml");
    std::fs::write(&file, SEED).expect("write the seed file");
    let file = file.to_string_lossy().into_owned();
    let first = ok_json(dir.path(), &["seed", &file, "--json"], "");
    assert!(first["created"].as_u64().is_some_and(|n| n > 0), "{first}");
    let second = ok_json(dir.path(), &["seed", &file, "--json"], "");
    assert_eq!(second["created"], 0, "{second}");
    assert_eq!(second["updated"], 0, "{second}");
    assert!(
        second["unchanged"].as_u64().is_some_and(|n| n > 0),
        "{second}"
    );
    assert_eq!(second["new_tokens"], serde_json::json!([]), "{second}");
}

/// `token create ... --json` for alice: the token's JSON.
fn create_classic(dir: &Path) -> Value {
    ok_json(
        dir,
        &[
            "token", "create", "--user", "alice", "--kind", "classic", "--name", "cli", "--scopes",
            "repo", "--json",
        ],
        "",
    )
}

#[test]
fn token_create_returns_a_secret_that_token_check_accepts() {
    let dir = seeded();
    let created = create_classic(dir.path());
    let secret = created["token"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("pgp_"), "{created}");
    assert_eq!(created["scopes"], serde_json::json!(["repo"]), "{created}");
    assert_eq!(created["note"], "cli", "{created}");

    let checked = ok_json(
        dir.path(),
        &["token", "check", "--json"],
        &format!("{secret}\n"),
    );
    assert_eq!(checked["valid"], true, "{checked}");
    assert_eq!(checked["user"], "alice", "{checked}");
    assert_eq!(checked["kind"], "classic", "{checked}");
    assert_eq!(checked["token_id"], created["id"], "{checked}");

    let out = patgate(dir.path(), &["token", "check"], "pgp_notarealtoken\n");
    assert!(
        !out.status.success(),
        "{}",
        describe(&["token", "check"], &out)
    );
}

#[test]
fn token_list_shows_the_users_tokens() {
    let dir = seeded();
    let created = create_classic(dir.path());
    let list = ok_json(
        dir.path(),
        &["token", "list", "--user", "alice", "--json"],
        "",
    );
    let tokens = list.as_array().cloned().unwrap_or_default();
    assert_eq!(tokens.len(), 1, "{list}");
    assert_eq!(tokens[0]["id"], created["id"], "{list}");
    assert_eq!(tokens[0]["kind"], "classic", "{list}");
    // The secret is not shown again.
    assert_eq!(tokens[0]["token"], "", "{list}");
    let bob = ok_json(
        dir.path(),
        &["token", "list", "--user", "bob", "--json"],
        "",
    );
    assert_eq!(bob, serde_json::json!([]));
}

#[test]
fn token_delete_removes_the_token_and_its_secret_stops_working() {
    let dir = seeded();
    let created = create_classic(dir.path());
    let secret = created["token"].as_str().unwrap_or_default().to_owned();
    let id = created["id"].to_string();
    ok(dir.path(), &["token", "delete", "--user", "alice", &id], "");
    let list = ok_json(
        dir.path(),
        &["token", "list", "--user", "alice", "--json"],
        "",
    );
    assert_eq!(list, serde_json::json!([]));
    let out = patgate(
        dir.path(),
        &["token", "check", "--json"],
        &format!("{secret}\n"),
    );
    assert!(
        !out.status.success(),
        "{}",
        describe(&["token", "check"], &out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Bad credentials"),
        "{}",
        describe(&["token", "check"], &out)
    );
    // Deleting it again, or another user's token, fails.
    let out = patgate(dir.path(), &["token", "delete", "--user", "alice", &id], "");
    assert!(
        !out.status.success(),
        "{}",
        describe(&["token", "delete"], &out)
    );
}

#[test]
fn token_create_with_a_bad_permission_exits_non_zero_with_a_message() {
    let dir = seeded();
    let args = [
        "token",
        "create",
        "--user",
        "alice",
        "--name",
        "bad",
        "--permission",
        "foo",
        "--json",
    ];
    let out = patgate(dir.path(), &args, "");
    assert!(!out.status.success(), "{}", describe(&args, &out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--permission"), "{}", describe(&args, &out));
    assert!(stderr.contains("foo"), "{}", describe(&args, &out));
    // An unknown permission name is refused by validation, also on stderr.
    let args = [
        "token",
        "create",
        "--user",
        "alice",
        "--name",
        "bad",
        "--permission",
        "foo=read",
    ];
    let out = patgate(dir.path(), &args, "");
    assert!(!out.status.success(), "{}", describe(&args, &out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("foo"),
        "{}",
        describe(&args, &out)
    );
    // Nothing was created.
    let list = ok_json(
        dir.path(),
        &["token", "list", "--user", "alice", "--json"],
        "",
    );
    assert_eq!(list, serde_json::json!([]));
}

#[test]
fn repo_create_makes_a_public_repository() {
    let dir = seeded();
    let created = ok_json(
        dir.path(),
        &[
            "repo",
            "create",
            "acme/newrepo",
            "--visibility",
            "public",
            "--json",
        ],
        "",
    );
    assert_eq!(created["full_name"], "acme/newrepo", "{created}");
    assert_eq!(created["visibility"], "public", "{created}");
    assert_eq!(created["private"], false, "{created}");
    let list = ok_json(dir.path(), &["repo", "list", "acme", "--json"], "");
    let names: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"newrepo"), "{list}");
    // Seeding again leaves the new repository alone and changes nothing.
    let again = ok_json(dir.path(), &["seed", &seed_file(&dir), "--json"], "");
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["updated"], 0, "{again}");
    // An unknown owner fails.
    let out = patgate(dir.path(), &["repo", "create", "nobody/x"], "");
    assert!(
        !out.status.success(),
        "{}",
        describe(&["repo", "create", "nobody/x"], &out)
    );
}

#[test]
fn owners_govern_an_organization_from_the_command_line() {
    let dir = seeded();
    let d = dir.path();
    // bob asks for access to acme (approval is required by default).
    let bob = ok_json(
        d,
        &[
            "token",
            "create",
            "--user",
            "bob",
            "--owner",
            "acme",
            "--selection",
            "all",
            "--permission",
            "contents=read",
            "--name",
            "ci",
            "--json",
        ],
        "",
    );
    assert_eq!(bob["status"], "pending");
    let requests = ok_json(d, &["request", "list", "acme", "--json"], "");
    let request = requests[0]["id"].as_i64().expect("request id");
    assert_eq!(requests[0]["owner"], "bob");

    // Only owners review; one bad id changes nothing.
    let out = patgate(
        d,
        &[
            "request",
            "review",
            "acme",
            "--as",
            "bob",
            "--approve",
            &request.to_string(),
        ],
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an owner"));
    let out = patgate(
        d,
        &[
            "request",
            "review",
            "acme",
            "--as",
            "alice",
            "--approve",
            &request.to_string(),
            "999999",
        ],
        "",
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("999999"),
        "{}",
        describe(&["request", "review"], &out)
    );
    assert_eq!(
        ok_json(d, &["request", "list", "acme", "--json"], "")
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    ok(
        d,
        &[
            "request",
            "review",
            "acme",
            "--as",
            "alice",
            "--approve",
            &request.to_string(),
            "--reason",
            "fine",
        ],
        "",
    );
    let grants = ok_json(d, &["grant", "list", "acme", "--json"], "");
    let grant = grants
        .as_array()
        .and_then(|g| g.iter().find(|x| x["owner"] == "bob"))
        .expect("bob's grant")["id"]
        .as_i64()
        .expect("grant id");
    ok(
        d,
        &[
            "grant",
            "revoke",
            "acme",
            "--as",
            "alice",
            &grant.to_string(),
        ],
        "",
    );
    let shown = ok_json(
        d,
        &[
            "token",
            "show",
            "--user",
            "bob",
            &bob["id"].to_string(),
            "--json",
        ],
        "",
    );
    assert_eq!(shown["status"], "revoked");

    // Policy: owners change it, members may not; every change is audited.
    let out = patgate(
        d,
        &[
            "org",
            "policy",
            "acme",
            "--as",
            "bob",
            "--classic",
            "restrict",
        ],
        "",
    );
    assert!(!out.status.success());
    let policy = ok_json(
        d,
        &[
            "org",
            "policy",
            "acme",
            "--as",
            "alice",
            "--classic",
            "restrict",
            "--approval",
            "disable",
            "--json",
        ],
        "",
    );
    assert_eq!(policy["classic"], "restrict");
    assert_eq!(policy["approval"], "disable");
    let out = patgate(
        d,
        &[
            "org",
            "policy",
            "acme",
            "--as",
            "alice",
            "--fine-grained-max-lifetime-days",
            "400",
        ],
        "",
    );
    assert!(!out.status.success());
    let audit = ok_json(d, &["org", "audit", "acme", "--as", "alice", "--json"], "");
    let actions: Vec<&str> = audit
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in [
        "org.personal_access_token_policy_update",
        "auto_approve_personal_access_token_requests.enable",
        "personal_access_token.access_revoked",
        "personal_access_token.access_granted",
        "personal_access_token.request_created",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }

    // Apps and their one-hour installation tokens.
    let app = ok_json(
        d,
        &[
            "app",
            "create",
            "acme",
            "--as",
            "alice",
            "--name",
            "bot",
            "--permission",
            "organization_personal_access_tokens=read",
            "--json",
        ],
        "",
    );
    let minted = ok_json(
        d,
        &[
            "app",
            "token",
            "acme",
            &app["id"].to_string(),
            "--as",
            "alice",
            "--json",
        ],
        "",
    );
    assert!(
        minted["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("pgs_"))
    );
    let out = patgate(
        d,
        &[
            "app",
            "create",
            "acme",
            "--as",
            "alice",
            "--name",
            "bad",
            "--permission",
            "contents=read",
        ],
        "",
    );
    assert!(!out.status.success());
}

#[test]
fn an_enterprise_policy_beats_its_organizations() {
    let dir = seeded();
    let d = dir.path();
    ok(
        d,
        &[
            "enterprise",
            "policy",
            "corp",
            "--approval",
            "require",
            "--fine-grained-max-lifetime-days",
            "30",
        ],
        "",
    );
    // globex's owner tries to lift the approval requirement: the enterprise still forces it.
    let policy = ok_json(
        d,
        &[
            "org",
            "policy",
            "globex",
            "--as",
            "alice",
            "--approval",
            "disable",
            "--fine-grained-max-lifetime-days",
            "60",
            "--json",
        ],
        "",
    );
    assert_eq!(policy["approval"], "require");
    assert_eq!(policy["fine_grained_max_lifetime_days"], 30);
    // ... and the classic restriction set in the seed is gone now that the enterprise leaves it open.
    assert_eq!(policy["classic"], "allow");
    let out = patgate(
        d,
        &["enterprise", "policy", "corp", "--classic", "sometimes"],
        "",
    );
    assert!(!out.status.success());
    let out = patgate(d, &["enterprise", "policy", "nope"], "");
    assert!(!out.status.success());
}

#[test]
fn the_outbox_commands_list_deliver_and_retry_messages() {
    let dir = seeded();
    // The seed gave tokens to nobody; a token created through the CLI sends its notice.
    create_classic(dir.path());
    let listed = ok_json(dir.path(), &["outbox", "list", "--json"], "");
    assert_eq!(listed["total"], 1, "{listed}");
    let message = &listed["messages"][0];
    assert_eq!(message["kind"], "token_created", "{listed}");
    assert_eq!(message["recipient"], "alice@example.com");
    assert_eq!(message["status"], "pending");
    let id = message["id"].as_i64().unwrap();
    // Delivered into the data directory's mail folder (no SMTP server configured).
    let delivered = ok(dir.path(), &["outbox", "deliver"], "");
    assert!(delivered.contains("1 sent"), "{delivered}");
    let eml = dir
        .path()
        .join("mail")
        .join(format!("{id:08}-token_created.eml"));
    let text = std::fs::read_to_string(&eml).unwrap_or_else(|e| panic!("{}: {e}", eml.display()));
    assert!(text.contains("To: alice@example.com"), "{text}");
    let stats = ok_json(dir.path(), &["outbox", "stats", "--json"], "");
    assert_eq!(
        stats,
        serde_json::json!({"pending": 0, "sent": 1, "failed": 0})
    );
    let shown = ok_json(
        dir.path(),
        &["outbox", "show", &id.to_string(), "--json"],
        "",
    );
    assert_eq!(shown["attempts_log"][0]["sent"], true, "{shown}");
    // Retrying puts it back in line.
    ok(dir.path(), &["outbox", "retry", &id.to_string()], "");
    let stats = ok_json(dir.path(), &["outbox", "stats", "--json"], "");
    assert_eq!(stats["pending"], 1, "{stats}");
    // Unknown messages are an error, with a message and a failing exit.
    let out = patgate(dir.path(), &["outbox", "retry", "999999"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no message 999999"));
}

#[test]
fn hook_and_job_commands_act_as_an_owner_and_refuse_bad_input() {
    let dir = seeded();
    let added = ok_json(
        dir.path(),
        &[
            "hook",
            "add",
            "acme",
            "--as",
            "alice",
            "--url",
            "https://hooks.example.com/x",
            "--json",
        ],
        "",
    );
    assert_eq!(added["active"], true, "{added}");
    let listed = ok_json(
        dir.path(),
        &["hook", "list", "acme", "--as", "alice", "--json"],
        "",
    );
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let deliveries = ok_json(
        dir.path(),
        &[
            "hook",
            "deliveries",
            "acme",
            &added["id"].to_string(),
            "--as",
            "alice",
            "--json",
        ],
        "",
    );
    assert_eq!(deliveries[0]["kind"], "ping", "{deliveries}");
    // bob is a member, not an owner; a bad URL is refused; neither changes anything.
    for args in [
        vec![
            "hook",
            "add",
            "acme",
            "--as",
            "bob",
            "--url",
            "https://x.example",
        ],
        vec!["hook", "add", "acme", "--as", "alice", "--url", "not a url"],
        vec![
            "hook",
            "add",
            "acme",
            "--as",
            "alice",
            "--url",
            "https://x.example",
            "--events",
            "push",
        ],
    ] {
        let out = patgate(dir.path(), &args, "");
        assert!(!out.status.success(), "{}", describe(&args, &out));
        assert!(!out.stderr.is_empty());
    }
    let listed = ok_json(
        dir.path(),
        &["hook", "list", "acme", "--as", "alice", "--json"],
        "",
    );
    assert_eq!(listed.as_array().map(Vec::len), Some(1));

    let jobs = ok_json(dir.path(), &["job", "list", "--json"], "");
    assert!(
        jobs.as_array()
            .unwrap()
            .iter()
            .any(|j| j["name"] == "pending_digest")
    );
    let ran = ok(dir.path(), &["job", "run", "pending_digest"], "");
    assert!(ran.contains("pending_digest ran"), "{ran}");
    let out = patgate(dir.path(), &["job", "run", "nope"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no job named"));

    let sent = ok(dir.path(), &["email", "send-verification", "dave"], "");
    assert!(sent.contains("dave@example.com"), "{sent}");
    let out = patgate(dir.path(), &["email", "send-verification", "alice"], "");
    assert!(!out.status.success(), "alice is verified already");
}

/// Runs a command that must fail; its standard error.
#[track_caller]
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = patgate(dir, args, "");
    assert!(!out.status.success(), "{}", describe(args, &out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_directory_verbs_change_the_directory_as_the_directory_api_does() {
    let dir = seeded();
    let d = dir.path();
    ok(
        d,
        &[
            "user",
            "create",
            "mona",
            "--email",
            "mona@example.com",
            "--password-stdin",
        ],
        "mona-password\n",
    );
    ok(d, &["org", "create", "octo", "--admin", "mona"], "");
    ok(
        d,
        &["org", "add-member", "octo", "bob", "--role", "member"],
        "",
    );
    ok(
        d,
        &["repo", "create", "octo/engine", "--visibility", "private"],
        "",
    );
    ok(
        d,
        &[
            "repo",
            "add-collaborator",
            "octo/engine",
            "carol",
            "--permission",
            "triage",
        ],
        "",
    );
    let out = ok(
        d,
        &[
            "repo",
            "edit",
            "octo/engine",
            "--name",
            "motor",
            "--visibility",
            "public",
        ],
        "",
    );
    assert!(out.contains("octo/motor public"), "{out}");
    ok(d, &["repo", "transfer", "octo/motor", "mona"], "");
    ok(
        d,
        &["repo", "remove-collaborator", "mona/motor", "carol"],
        "",
    );
    let out = ok(d, &["org", "remove-member", "octo", "bob"], "");
    assert!(out.contains("bob left octo"), "{out}");
    ok(d, &["user", "suspend", "mona", "--reason", "audit"], "");
    ok(d, &["user", "unsuspend", "mona"], "");
    ok(d, &["user", "rename", "mona", "mona-lisa"], "");
    ok(d, &["enterprise", "create", "initech"], "");
    ok(d, &["enterprise", "add-org", "initech", "octo"], "");
    ok(d, &["enterprise", "remove-org", "initech", "octo"], "");
    ok(d, &["repo", "delete", "mona-lisa/motor"], "");
    ok(d, &["user", "delete", "mona-lisa"], "");
    // Bad input names the field, and nothing changes.
    let err = fails(
        d,
        &["user", "create", "--email", "x@example.com", "--", "-bad"],
    );
    assert!(err.contains("login:"), "{err}");
    let err = fails(d, &["org", "add-member", "acme", "ghost"]);
    assert!(err.contains("not found"), "{err}");
    let users = ok_json(d, &["user", "list", "--json"], "");
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["login"] != "-bad" && u["login"] != "mona-lisa"),
        "{users}"
    );
}

#[test]
fn directory_sync_reports_then_changes_nothing_the_second_time() {
    let dir = seeded();
    let d = dir.path();
    let file = d.join("directory.toml");
    std::fs::write(
        &file,
        "[[users]]\nlogin = \"mona\"\nemail = \"mona@example.com\"\n\n[[orgs]]\nlogin = \"acme\"\nowners = [\"alice\"]\nmembers = [\"mona\"]\n",
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();
    let dry = ok_json(d, &["directory", "sync", &file, "--dry-run", "--json"], "");
    assert_eq!(dry["dry_run"], true);
    let applied = ok_json(d, &["directory", "sync", &file, "--json"], "");
    assert_eq!(applied["changes"], dry["changes"]);
    let actions: Vec<&str> = applied["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"org.remove_member"),
        "bob is no longer listed: {actions:?}"
    );
    let again = ok_json(d, &["directory", "sync", &file, "--json"], "");
    assert_eq!(again["changes"], serde_json::json!([]));
    std::fs::write(
        d.join("bad.toml"),
        "[[orgs]]\nlogin = \"acme\"\nmembers = [\"ghost\"]\n",
    )
    .unwrap();
    let err = fails(
        d,
        &["directory", "sync", &d.join("bad.toml").to_string_lossy()],
    );
    assert!(err.contains("orgs[0].members[0]"), "{err}");
}

#[test]
fn token_why_names_the_rule_and_service_credential_create_prints_a_usable_entry() {
    let dir = seeded();
    let d = dir.path();
    let created = ok_json(
        d,
        &[
            "token", "create", "--user", "carol", "--kind", "classic", "--name", "laptop",
            "--scopes", "repo", "--json",
        ],
        "",
    );
    let id = created["id"].as_i64().unwrap().to_string();
    let why = ok_json(
        d,
        &[
            "token",
            "why",
            "--user",
            "carol",
            &id,
            "--route",
            "DELETE /repos/acme/api",
            "--json",
        ],
        "",
    );
    assert_eq!(why["status"], 403);
    assert_eq!(why["refused_by"]["rule"], "owner_rights");
    let text = ok(
        d,
        &[
            "token",
            "why",
            "--user",
            "carol",
            &id,
            "--repo",
            "acme/api",
            "--permission",
            "contents=write",
        ],
        "",
    );
    assert!(text.starts_with("allowed on acme/api"), "{text}");
    let out = ok(
        d,
        &[
            "service-credential",
            "create",
            "--name",
            "platform",
            "--scope",
            "directory",
        ],
        "",
    );
    let secret = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("pgsvc_"))
        .expect("a secret");
    let entry: String = out
        .lines()
        .skip_while(|l| !l.starts_with("[[credentials]]"))
        .collect::<Vec<_>>()
        .join("\n");
    let services =
        patgate_server::service::ServiceCredentials::parse(&entry).expect("the entry parses");
    assert_eq!(
        services
            .verify(&format!("pgsvc_{secret}"))
            .map(|c| c.name.as_str()),
        Some("platform")
    );
    let err = fails(
        d,
        &[
            "service-credential",
            "create",
            "--name",
            "x",
            "--scope",
            "admin",
        ],
    );
    assert!(err.contains("--scope"), "{err}");
}

/// Runs `patgate ARGS...` with only the environment `env` of patgate's own (no data dir flag).
fn patgate_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_patgate"));
    for (name, _) in std::env::vars() {
        if name.starts_with("PATGATE_") {
            cmd.env_remove(name);
        }
    }
    cmd.args(args)
        .envs(env.iter().copied())
        .env("PATGATE_INSECURE_FAST_PASSWORDS", "1")
        .output()
        .expect("run patgate")
}

#[test]
fn a_configuration_file_sets_what_neither_the_command_line_nor_the_environment_does() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("from-file");
    let secret = dir.path().join("smtp-password");
    std::fs::write(&secret, "hunter22\n").expect("secret written");
    let config = dir.path().join("patgate.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\nbind = \"127.0.0.1:9999\"\nrate_limit_per_user = 1250\n\
             trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n\n[smtp]\nhost = \"smtp.example.com\"\n\
             password_file = {secret:?}\n",
            data = data.display().to_string(),
            secret = secret.display().to_string(),
        ),
    )
    .expect("config written");
    let config = config.display().to_string();

    // A real command takes the file's settings: migrate creates the database in its data dir.
    let args = ["--config", config.as_str(), "migrate"];
    let out = patgate_with_env(&args, &[]);
    assert!(out.status.success(), "{}", describe(&args, &out));
    assert!(
        data.join("patgate.db").exists(),
        "{}",
        describe(&args, &out)
    );

    // config check: each setting with its source; the environment and the command line win.
    let args = [
        "--config",
        config.as_str(),
        "--cache-ttl-secs",
        "7",
        "--cache-capacity",
        "2000000",
        "config",
        "check",
    ];
    let out = patgate_with_env(&args, &[("PATGATE_BIND", "127.0.0.1:7777")]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", describe(&args, &out));
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("bind"), "bind 127.0.0.1:7777 (environment)");
    assert_eq!(line("cache_ttl_secs"), "cache_ttl_secs 7 (command line)");
    assert_eq!(
        line("rate_limit_per_user"),
        "rate_limit_per_user 1250 (config file)"
    );
    assert_eq!(
        line("trusted_proxies"),
        "trusted_proxies 10.0.0.0/8,::1 (config file)"
    );
    assert_eq!(
        line("smtp_host"),
        "smtp_host smtp.example.com (config file)"
    );
    assert_eq!(line("max_headers"), "max_headers 100 (default)");
    assert_eq!(
        line("cache_capacity"),
        "cache_capacity 2000000 (command line)"
    );
    assert!(
        !stdout.contains("hunter22"),
        "a secret is printed: {stdout}"
    );
    assert!(stdout.contains("configuration is valid"), "{stdout}");

    // A cache that holds nothing is refused, not taken as "no limit".
    let args = ["--cache-capacity", "0", "config", "check"];
    let out = patgate_with_env(&args, &[]);
    assert!(!out.status.success(), "{}", describe(&args, &out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--cache-capacity"),
        "{}",
        describe(&args, &out)
    );
}

#[test]
fn a_bad_configuration_file_is_refused_with_the_setting_named_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let config = dir.path().join("patgate.toml");
    for (text, expected) in [
        ("bnid = \"0.0.0.0:1\"\n", "unknown setting `bnid`"),
        ("bind = \"not an address\"\n", "--bind"),
        ("rate_limit_per_user = -5\n", "--rate-limit-per-user"),
        ("bind = [\n", "patgate.toml"),
        (
            "[smtp]\npassword_file = \"/nonexistent/secret\"\n",
            "/nonexistent/secret",
        ),
    ] {
        std::fs::write(
            &config,
            format!("data_dir = {:?}\n{text}", data.display().to_string()),
        )
        .expect("config written");
        let config = config.display().to_string();
        let args = ["--config", config.as_str(), "config", "check"];
        let out = patgate_with_env(&args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&args, &out));
        assert!(stderr.contains(expected), "{text:?}: {stderr}");
    }
    let args = ["--config", "/nonexistent/patgate.toml", "migrate"];
    let out = patgate_with_env(&args, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&args, &out));
    assert!(!data.exists(), "nothing was created");
}
