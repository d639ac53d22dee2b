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

/// The scenarios after which the list facets (migration 0021) must equal their definition: every
/// way a grant, a request, a token's granted access or a repository changes.
type Scenario = for<'a> fn(&'a dyn Store) -> std::pin::Pin<Box<dyn Future<Output = ()> + 'a>>;

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        [$((stringify!($name), (|s| Box::pin(patgate_store::testkit::$name(s))) as Scenario)),*]
    };
}

const FACET_SCENARIOS: [(&str, Scenario); 15] = scenarios![
    listings_filter_and_page_in_the_store,
    inserting_an_approved_org_token_creates_a_grant,
    inserting_a_pending_org_token_records_a_request,
    update_token_requesting_supersedes_the_pending_request,
    update_token_keeps_requests_and_grants_in_step,
    update_token_replaces_description_and_grant,
    approving_a_request_grants_access,
    denying_a_request_records_the_reason,
    cancelling_a_request,
    revoking_grants_returns_tokens_to_their_users,
    deleting_a_token_deletes_its_requests_and_grant,
    repositories_are_updated_transferred_and_deleted,
    a_member_leaves_with_their_grants_in_one_batch,
    apply_removes_a_membership_with_what_it_takes_away,
    deleting_a_user_deletes_everything_theirs,
];

/// Statements counting the rows on which the facets and their definition disagree (each must
/// give 0), and the facets there are (the scenarios must leave some, or nothing was compared).
const FACETS_DISAGREE: [&str; 4] = [
    "SELECT COUNT(*) FROM (SELECT grant_id, org_id, facet, access_granted_at FROM grant_facets \
     EXCEPT SELECT grant_id, org_id, facet, access_granted_at FROM grant_facet_source) x",
    "SELECT COUNT(*) FROM (SELECT grant_id, org_id, facet, access_granted_at FROM \
     grant_facet_source EXCEPT SELECT grant_id, org_id, facet, access_granted_at FROM \
     grant_facets) x",
    "SELECT COUNT(*) FROM (SELECT request_id, org_id, facet, created_at FROM request_facets \
     EXCEPT SELECT request_id, org_id, facet, created_at FROM request_facet_source) x",
    "SELECT COUNT(*) FROM (SELECT request_id, org_id, facet, created_at FROM \
     request_facet_source EXCEPT SELECT request_id, org_id, facet, created_at FROM \
     request_facets) x",
];
const FACETS_HELD: &str =
    "SELECT (SELECT COUNT(*) FROM grant_facets) + (SELECT COUNT(*) FROM request_facets)";
