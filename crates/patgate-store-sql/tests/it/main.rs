//! The store's one integration-test binary: the conformance suite on each engine, plus what is
//! specific to each.
//!
//! * SQLite: against a fresh temporary database file per test (never `:memory:`).
//! * PostgreSQL: each test in a database of its own (`patgate_t_<random>`, dropped afterwards)
//!   on `PATGATE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`; the
//!   database it names is only used to create and drop the test databases). When it cannot be
//!   reached every test prints `SKIPPED: PostgreSQL not reachable at ...` and passes, unless
//!   `PATGATE_REQUIRE_PG=1` (CI), which makes it fail.
// Fixtures outside `#[test]` functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod postgres;
mod sqlite;

use patgate_domain::model::{AccountId, TokenGrant};
use patgate_store::{AuditQuery, Store, StoreError};

/// Fine-grained tokens as a database from before migration 0004 holds them, names not unique:
/// `(user, name)` in id order. The same SQL serves both engines but for the hash literal,
/// which `hash(n)` writes for token `n`.
const OLD_NAMES: [(usize, &str); 6] = [
    (0, "CI"),
    (0, "ci"),
    (0, "Été"),
    (0, "ÉTÉ"),
    (0, "ci (2)"),
    (1, "ci"),
];

fn old_tokens(users: [AccountId; 2], hash: impl Fn(usize) -> String) -> Vec<String> {
    OLD_NAMES
        .iter()
        .enumerate()
        .map(|(n, (user, name))| {
            format!(
                "INSERT INTO tokens (kind, user_id, hash, last_eight, name, created_at, \
                 issued_at, resource_owner_id, resource_owner_kind, requested_selection, \
                 requested_permissions, granted_selection, granted_permissions, grant_state) \
                 VALUES ('fine_grained', {u}, {h}, 'abcdefgh', '{name}', {t}, {t}, {u}, 'user', \
                 'all', 'contents:read', 'all', 'contents:read', 'not_required')",
                u = users[*user].0,
                h = hash(n),
                t = 1_700_000_000 + n,
            )
        })
        .collect()
}

/// After migrating the rows of `old_tokens`: the earlier token of a name keeps it, the later
/// ones are numbered past every name the user has, each rename is audited, and the index holds.
async fn check_names_folded(store: &dyn Store, users: [AccountId; 2]) {
    let mut names: Vec<(i64, String)> = store
        .tokens_of_user(users[0])
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id.0, t.name))
        .collect();
    names.sort();
    let names: Vec<&str> = names.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["CI", "ci (3)", "Été", "ÉTÉ (2)", "ci (2)"]);
    let bob = store.tokens_of_user(users[1]).await.unwrap();
    assert_eq!(bob[0].name, "ci", "another user's name is theirs");
    let renames = store
        .audit_events(&AuditQuery {
            action: Some("personal_access_token.update".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(renames.len(), 2);
    assert!(renames.iter().all(|e| e.data["previous_name"].is_string()));
    // Folded now: the names are held.
    let again = patgate_store::NewToken {
        name: "cI (3)".into(),
        ..patgate_store::testkit::fine_grained(users[0], "again", patgate_store::testkit::at(9))
    };
    assert!(matches!(
        store.insert_token(&again, &[]).await,
        Err(StoreError::NameTaken(_))
    ));
    // Migrating again changes nothing.
    store.migrate().await.unwrap();
    assert_eq!(
        store
            .tokens_of_user(users[0])
            .await
            .unwrap()
            .iter()
            .filter(|t| matches!(t.grant, TokenGrant::FineGrained { .. }))
            .count(),
        5
    );
}
