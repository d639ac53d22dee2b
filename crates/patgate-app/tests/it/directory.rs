//! The operator's directory (issue 13): offboarding (rule 10) and what a return restores,
//! suspension, the sync (idempotent, all or nothing), and explanations that never tell a
//! missing resource from a hidden one.

use patgate_app::AppError;
use patgate_app::authorize::{Asked, Target};
use patgate_app::directory::{DirectoryError, Operator, SUSPENDED};
use patgate_app::seed::SeedFile;
use patgate_domain::authz::{DenyStatus, Need};
use patgate_domain::catalog::{Level, OrgRole, Permission};
use patgate_domain::governance::{GRANTED_BEFORE_LEAVING, LEFT_THE_ORGANIZATION};
use patgate_domain::model::{GrantState, TokenGrant};
use patgate_store::AuditQuery;

use crate::{access, app, classic, contents, denial, fine_grained, user};

fn operator() -> Operator {
    Operator::service("platform")
}

async fn actions(app: &patgate_app::App, org: &str) -> Vec<(String, serde_json::Value)> {
    let org = app.org_named(org).await.expect("org");
    let mut events = app
        .store()
        .audit_events(&AuditQuery {
            org: Some(org.id),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .expect("audit");
    events.reverse();
    events.into_iter().map(|e| (e.action, e.data)).collect()
}

fn state_of(grant: &TokenGrant) -> GrantState {
    match grant {
        TokenGrant::FineGrained { state, .. } => *state,
        other => panic!("not fine-grained: {other:?}"),
    }
}

#[tokio::test]
async fn a_member_who_leaves_loses_every_grant_and_gets_none_back_on_returning() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    // globex does not require approval: bob's token is granted at once.
    let fine = fine_grained(
        &app,
        &bob,
        "globex ci",
        Some("globex"),
        &[("contents", "read")],
    )
    .await;
    assert_eq!(state_of(&fine.token.grant), GrantState::Approved);
    access(
        &app,
        fine.secret.expose(),
        "globex/core",
        contents(Level::Read),
    )
    .await
    .expect("a member's approved token reads");
    let old_classic = classic(&app, &bob, "laptop", &["repo"]).await;
    access(
        &app,
        old_classic.secret.expose(),
        "acme/api",
        contents(Level::Read),
    )
    .await
    .expect("a member's classic token reads");

    assert!(
        app.admin_remove_member(&operator(), "globex", "bob")
            .await
            .expect("removed")
    );
    assert!(
        app.admin_remove_member(&operator(), "acme", "bob")
            .await
            .expect("removed")
    );
    // At once, both kinds, without waiting for any cache.
    let refused = denial(
        access(
            &app,
            fine.secret.expose(),
            "globex/core",
            contents(Level::Read),
        )
        .await,
    );
    assert_eq!(refused.status, DenyStatus::NotFound);
    let refused = denial(
        access(
            &app,
            old_classic.secret.expose(),
            "acme/api",
            contents(Level::Read),
        )
        .await,
    );
    assert_eq!(refused.status, DenyStatus::NotFound);
    // The grant is gone, the token returned to bob, revoked, and the log says why.
    let token = app
        .store()
        .token_by_id(fine.token.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state_of(&token.grant), GrantState::Revoked);
    let log = actions(&app, "globex").await;
    let names: Vec<&str> = log.iter().map(|(a, _)| a.as_str()).collect();
    assert!(
        names.ends_with(&["org.remove_member", "personal_access_token.access_revoked"]),
        "{names:?}"
    );
    assert_eq!(log.last().unwrap().1["explanation"], LEFT_THE_ORGANIZATION);
    assert_eq!(log[log.len() - 2].1["actor"], serde_json::Value::Null);

    // bob comes back: his role, yes; his token's grant, no.
    app.admin_set_membership(&operator(), "globex", "bob", OrgRole::Member)
        .await
        .expect("added");
    let still = denial(
        access(
            &app,
            fine.secret.expose(),
            "globex/core",
            contents(Level::Read),
        )
        .await,
    );
    assert_eq!(still.status, DenyStatus::NotFound);
    let verified = app.verify(fine.secret.expose()).await.unwrap();
    let why = app
        .explain_for(
            &verified.credential,
            Target::Repository {
                owner: "globex",
                name: "core",
            },
            Asked::Need(contents(Level::Read)),
        )
        .await
        .unwrap();
    assert_eq!(
        why.refused_by().map(|s| s.rule.code),
        Some("resource_owner")
    );
    assert!(
        actions(&app, "globex")
            .await
            .iter()
            .any(|(a, _)| a == "org.add_member")
    );
    // A new token gets a new grant (globex approves at once).
    let fresh = fine_grained(
        &app,
        &bob,
        "globex ci 2",
        Some("globex"),
        &[("contents", "read")],
    )
    .await;
    access(
        &app,
        fresh.secret.expose(),
        "globex/core",
        contents(Level::Read),
    )
    .await
    .expect("a new token of a returning member reads");
}

#[tokio::test]
async fn a_grant_left_behind_is_taken_back_when_the_member_returns() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let fine = fine_grained(
        &app,
        &bob,
        "globex ci",
        Some("globex"),
        &[("contents", "read")],
    )
    .await;
    let globex = app.org_named("globex").await.unwrap();
    // A departure that did not go through the directory API (a hand-edited database).
    app.store()
        .remove_membership(globex.id, bob.id)
        .await
        .unwrap();
    app.directory_changed();
    app.admin_set_membership(&operator(), "globex", "bob", OrgRole::Member)
        .await
        .expect("added");
    let refused = denial(
        access(
            &app,
            fine.secret.expose(),
            "globex/core",
            contents(Level::Read),
        )
        .await,
    );
    assert_eq!(refused.status, DenyStatus::NotFound, "nothing comes back");
    let token = app
        .store()
        .token_by_id(fine.token.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state_of(&token.grant), GrantState::Revoked);
    let log = actions(&app, "globex").await;
    assert!(
        log.iter()
            .any(|(a, d)| a == "personal_access_token.access_revoked"
                && d["explanation"] == GRANTED_BEFORE_LEAVING),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_suspended_users_tokens_and_password_are_refused_until_it_is_lifted() {
    let (app, _clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let token = classic(&app, &alice, "laptop", &["repo"]).await;
    app.verify_active(token.secret.expose())
        .await
        .expect("live");
    app.admin_set_suspended(&operator(), "alice", true, Some("left the company"))
        .await
        .expect("suspended");
    match app.verify_active(token.secret.expose()).await {
        Err(AppError::Forbidden(m)) => assert_eq!(m, SUSPENDED),
        other => panic!("expected the suspension, got {other:?}"),
    }
    match app.authenticate_password("alice", "alice-password").await {
        Err(AppError::Forbidden(m)) => assert_eq!(m, SUSPENDED),
        other => panic!("expected the suspension, got {other:?}"),
    }
    // A wrong password says nothing about the suspension.
    assert!(matches!(
        app.authenticate_password("alice", "wrong").await,
        Err(AppError::BadCredentials)
    ));
    app.admin_set_suspended(&operator(), "alice", false, None)
        .await
        .expect("lifted");
    app.verify_active(token.secret.expose())
        .await
        .expect("live again");
}

const DIRECTORY: &str = r#"
[[users]]
login = "mona"
email = "mona@example.com"

[[users]]
login = "hubot"
email = "hubot@example.com"

[[orgs]]
login = "octo"
owners = ["mona"]
members = ["hubot"]

[[repos]]
owner = "octo"
name = "engine"
visibility = "private"
collaborators = [{ login = "bob", role = "write" }]
"#;

#[tokio::test]
async fn a_sync_applies_once_and_then_changes_nothing() {
    let (app, _clock, _dir) = app().await;
    let desired = SeedFile::parse(DIRECTORY).unwrap();
    let dry = app
        .sync_directory(&operator(), &desired, true)
        .await
        .unwrap();
    assert!(dry.dry_run);
    assert!(
        app.store().org_by_login("octo").await.unwrap().is_none(),
        "a dry run changes nothing"
    );
    let first = app
        .sync_directory(&operator(), &desired, false)
        .await
        .unwrap();
    assert_eq!(
        first.changes, dry.changes,
        "the dry run said what would happen"
    );
    let actions: Vec<&str> = first.changes.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.create",
            "user.create",
            "org.create",
            "org.add_member",
            "org.add_member",
            "repo.create",
            "repo.add_member"
        ]
    );
    let second = app
        .sync_directory(&operator(), &desired, false)
        .await
        .unwrap();
    assert!(second.changes.is_empty(), "{second:?}");
    assert_eq!(second.unchanged, first.changes.len());
}

#[tokio::test]
async fn a_sync_offboards_the_members_and_collaborators_it_no_longer_lists() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let fine = fine_grained(
        &app,
        &bob,
        "globex ci",
        Some("globex"),
        &[("contents", "read")],
    )
    .await;
    let desired = SeedFile::parse(
        r#"
[[orgs]]
login = "globex"
enterprise = "corp"
owners = ["erin"]

[[repos]]
owner = "acme"
name = "api"
visibility = "private"
"#,
    )
    .unwrap();
    let report = app
        .sync_directory(&operator(), &desired, false)
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = report
        .changes
        .iter()
        .map(|c| (c.action.as_str(), c.target.as_str()))
        .collect();
    assert!(
        actions.contains(&("org.remove_member", "globex/bob")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("repo.remove_member", "acme/api/carol")),
        "{actions:?}"
    );
    let refused = denial(
        access(
            &app,
            fine.secret.expose(),
            "globex/core",
            contents(Level::Read),
        )
        .await,
    );
    assert_eq!(refused.status, DenyStatus::NotFound);
    let carol = user(&app, "carol").await;
    let carols = classic(&app, &carol, "laptop", &["repo"]).await;
    assert_eq!(
        denial(
            access(
                &app,
                carols.secret.expose(),
                "acme/api",
                contents(Level::Read)
            )
            .await
        )
        .status,
        DenyStatus::NotFound
    );
}

#[tokio::test]
async fn a_sync_with_any_problem_changes_nothing_and_names_every_field() {
    let (app, _clock, _dir) = app().await;
    let desired = SeedFile::parse(
        r#"
[[users]]
login = "mona"
email = "not an email"

[[orgs]]
login = "octo"
owners = ["mona"]
members = ["ghost"]
policy = { approval = "disable" }

[[repos]]
owner = "octo"
name = "engine"
visibility = "secret"
collaborators = [{ login = "bob", role = "boss" }]
"#,
    )
    .unwrap();
    let Err(DirectoryError::Invalid(problems)) =
        app.sync_directory(&operator(), &desired, false).await
    else {
        panic!("expected the problems");
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    for field in [
        "users[0].email",
        "orgs[0].policy",
        "orgs[0].members[0]",
        "repos[0].visibility",
        "repos[0].collaborators[0].role",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert!(
        app.store().user_by_login("mona").await.unwrap().is_none(),
        "nothing was written"
    );
}

#[tokio::test]
async fn an_explanation_tells_a_missing_repository_as_a_hidden_one() {
    let (app, _clock, _dir) = app().await;
    let carol = user(&app, "carol").await;
    let token = classic(&app, &carol, "laptop", &["repo"]).await;
    let verified = app.verify(token.secret.expose()).await.unwrap();
    let need = Asked::Need(Need::new(Permission::METADATA, Level::Read));
    // alice/notes exists, carol has no access; alice/nothing does not exist.
    let hidden = app
        .explain_for(
            &verified.credential,
            Target::Repository {
                owner: "alice",
                name: "notes",
            },
            need,
        )
        .await
        .unwrap();
    let missing = app
        .explain_for(
            &verified.credential,
            Target::Repository {
                owner: "alice",
                name: "nothing",
            },
            need,
        )
        .await
        .unwrap();
    let words = |why: &patgate_app::authorize::Why| {
        why.sets[0][0]
            .steps
            .iter()
            .map(|s| {
                (
                    s.rule.code,
                    s.passed,
                    s.detail
                        .replace("alice/nothing", "X")
                        .replace("alice/notes", "X"),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(words(&hidden), words(&missing));
    assert_eq!(hidden.decision, missing.decision);
    assert_eq!(hidden.refused_by().map(|s| s.rule.code), Some("user_reach"));
}
