//! The SQLite backend's one integration-test binary: the conformance suite against a fresh
//! temporary database file (never `:memory:`), plus what is specific to SQLite.
// Fixtures outside `#[test]` functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod sqlite;

use patgate_store::Store;
use patgate_store_sqlite::SqliteStore;
use tempfile::TempDir;

/// A fresh, migrated store in a file of a new temporary directory (the guard deletes it).
async fn fresh() -> (Box<dyn Store>, TempDir) {
    let (store, dir) = fresh_sqlite().await;
    (Box::new(store), dir)
}

async fn fresh_sqlite() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_file(&dir.path().join("patgate.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

patgate_store::conformance_tests!(fresh);
