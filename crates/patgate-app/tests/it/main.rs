//! The use cases of `patgate-app` against a real SQLite store in a temporary file: one
//! integration-test binary (DESIGN §7), one module per area.
//!
//! Every test starts from the same small directory (`SEED`): alice owns the organization acme,
//! bob is a member of it, carol is an outside collaborator with write on acme/api, dave has not
//! verified his email; acme has api (private) and site (public); alice has her own private repo
//! notes; the enterprise corp owns the organization globex and restricts classic tokens, and
//! globex does not require approval.

// clippy.toml allows these in `#[test]` functions only; the shared helpers below fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod approval;
mod directory;
mod keys;
mod limits;
mod notices;
mod seed;
mod usage;
mod verify;

use std::sync::Arc;

use tempfile::TempDir;
use time::macros::datetime;

use patgate_app::access::RepoFacts;
use patgate_app::auth::PasswordParams;
use patgate_app::seed::SeedFile;
use patgate_app::tokens::{CreateClassic, CreateFineGrained, Issued};
use patgate_app::{App, AppConfig, AppError, ManualClock};
use patgate_domain::authz::{Denial, Need};
use patgate_domain::catalog::{Level, Permission};
use patgate_domain::model::{RepositorySelection, User};
use patgate_domain::validate::RequestedPermission;
use patgate_store::Store;
use patgate_store_sql::sqlite::SqliteStore;

pub const SEED: &str = r#"
[[users]]
login = "alice"
email = "alice@example.com"
password = "alice-password"

[[users]]
login = "bob"
email = "bob@example.com"
password = "bob-password"

[[users]]
login = "carol"
email = "carol@example.com"

[[users]]
login = "dave"
email = "dave@example.com"
email_verified = false

[[users]]
login = "erin"
email = "erin@example.com"

[[enterprises]]
slug = "corp"
policy = { classic = "restrict" }

[[orgs]]
login = "acme"
owners = ["alice"]
members = ["bob"]

[[orgs]]
login = "globex"
enterprise = "corp"
owners = ["erin"]
members = ["bob"]
policy = { approval = "disable" }

[[repos]]
owner = "acme"
name = "api"
visibility = "private"
collaborators = [{ login = "carol", role = "write" }]

[[repos]]
owner = "acme"
name = "site"
visibility = "public"

[[repos]]
owner = "alice"
name = "notes"
visibility = "private"

[[repos]]
owner = "globex"
name = "core"
visibility = "private"
"#;

/// An `App` over an empty, migrated SQLite store in a temporary file, with a manual clock.
/// Keep the `TempDir`: dropping it deletes the database.
pub async fn empty_app() -> (App, Arc<ManualClock>, TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open_file(&dir.path().join("patgate.db"))
        .await
        .expect("open the SQLite store");
    store.migrate().await.expect("migrate");
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-02 09:00 UTC)));
    let app = App::new(
        Arc::new(store),
        clock.clone(),
        AppConfig {
            password_hashing: PasswordParams::insecure_fast(),
            ..Default::default()
        },
    );
    (app, clock, dir)
}

/// `empty_app` with `SEED` loaded.
pub async fn app() -> (App, Arc<ManualClock>, TempDir) {
    let (app, clock, dir) = empty_app().await;
    let seed = SeedFile::parse(SEED).expect("the seed parses");
    app.load_seed(&seed).await.expect("the seed loads");
    (app, clock, dir)
}

pub async fn user(app: &App, login: &str) -> User {
    app.store()
        .user_by_login(login)
        .await
        .expect("store")
        .unwrap_or_else(|| panic!("no user {login}"))
}

/// A repository by `owner/name`.
pub async fn repo(app: &App, full_name: &str) -> Arc<RepoFacts> {
    let (owner, name) = full_name.split_once('/').expect("owner/name");
    app.repo_facts(owner, name)
        .await
        .expect("store")
        .unwrap_or_else(|| panic!("no repository {full_name}"))
}

pub fn perm(name: &str, level: &str) -> RequestedPermission {
    RequestedPermission {
        group: None,
        name: name.to_owned(),
        level: level.to_owned(),
    }
}

pub fn contents(level: Level) -> Need {
    Need::new(Permission::CONTENTS, level)
}

/// A fine-grained token of `user` for `owner` (`None`: the user) on all of its repositories.
pub async fn fine_grained(
    app: &App,
    user: &User,
    name: &str,
    owner: Option<&str>,
    permissions: &[(&str, &str)],
) -> Issued {
    app.create_fine_grained(
        user,
        CreateFineGrained {
            name: name.to_owned(),
            resource_owner: owner.map(str::to_owned),
            repository_selection: Some(RepositorySelection::All),
            permissions: permissions.iter().map(|(p, l)| perm(p, l)).collect(),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("creating {name}: {e:?}"))
}

pub async fn classic(app: &App, user: &User, note: &str, scopes: &[&str]) -> Issued {
    app.create_classic(
        user,
        CreateClassic {
            note: note.to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expiration: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("creating {note}: {e:?}"))
}

/// Verifies `secret` and decides `need` on the repository `full_name`.
pub async fn access(app: &App, secret: &str, full_name: &str, need: Need) -> Result<(), AppError> {
    let verified = app.verify(secret).await?;
    let facts = repo(app, full_name).await;
    app.authorize_repo(Some(&verified.credential), &facts, need)
        .await
}

/// The denial inside an `AppError::Denied`, or a panic naming what came instead.
#[track_caller]
pub fn denial(result: Result<(), AppError>) -> Denial {
    match result {
        Err(AppError::Denied(d)) => *d,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[track_caller]
pub fn assert_bad_credentials<T: std::fmt::Debug>(result: Result<T, AppError>) {
    match result {
        Err(AppError::BadCredentials) => {}
        other => panic!("expected BadCredentials, got {other:?}"),
    }
}
