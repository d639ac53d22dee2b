//! The PostgreSQL backend's one integration-test binary: the conformance suite, each test in a
//! database of its own (`patgate_t_<random>`, dropped afterwards), plus what is specific to
//! PostgreSQL (change feed, job claims across stores, copy from SQLite, outages).
//!
//! The server is `PATGATE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`; the
//! database it names is only used to create and drop the test databases). When it cannot be
//! reached every test prints `SKIPPED: PostgreSQL not reachable at ...` and passes, unless
//! `PATGATE_REQUIRE_PG=1` (CI), which makes it fail.
// Fixtures outside `#[test]` functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod postgres;

use patgate_store::Store;
use patgate_store_postgres::testing::{TestDb, unique_name, with_database};

/// For the conformance suite: a fresh store (its own database) and the guard that drops it.
async fn fresh() -> Option<(Box<dyn Store>, TestDb)> {
    let db = TestDb::create().await?;
    let store = db.store().await;
    Some((Box::new(store), db))
}

patgate_store::conformance_tests!(optional fresh);

#[test]
fn database_names_are_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
    assert_ne!(unique_name(), unique_name());
}
