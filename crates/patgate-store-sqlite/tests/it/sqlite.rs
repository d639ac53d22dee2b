//! SQLite specifics: WAL, persistence across reopening, concurrent writers, URLs.

use std::sync::Arc;

use patgate_store::testkit::{at, fine_grained, user};
use patgate_store::{DirectoryStore, Store, StoreError, TokenStore};
use patgate_store_sqlite::SqliteStore;

use super::fresh_sqlite;

#[tokio::test]
async fn wal_mode_is_on() {
    let (store, _dir) = fresh_sqlite().await;
    assert_eq!(store.journal_mode().await.unwrap(), "wal");
}

#[tokio::test]
async fn reopening_the_file_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.db");
    let (mona, token) = {
        let store = SqliteStore::open_file(&path).await.unwrap();
        store.migrate().await.unwrap();
        let mona = user(&store, "mona").await;
        let token = store
            .insert_token(&fine_grained(mona.id, "kept", at(1)), &[])
            .await
            .unwrap();
        store.close().await;
        (mona, token)
    };
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::connect(&url).await.unwrap();
    // Migrating an up-to-date database changes nothing.
    store.migrate().await.unwrap();
    assert_eq!(store.user_by_login("MONA").await.unwrap(), Some(mona));
    assert_eq!(store.token_by_id(token.id).await.unwrap(), Some(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_do_not_fail_with_busy() {
    let (store, _dir) = fresh_sqlite().await;
    let store = Arc::new(store);
    let mona = user(&*store, "mona").await;
    // A second store on the same file: a second process, as far as locking goes.
    let other = Arc::new(
        SqliteStore::open_file(&_dir.path().join("patgate.db"))
            .await
            .unwrap(),
    );
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s: Arc<SqliteStore> = if i % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            s.insert_token(
                &fine_grained(mona.id, &format!("concurrent-{i}"), at(i)),
                &[],
            )
            .await
        }));
    }
    for task in tasks {
        let result: Result<_, StoreError> = task.await.unwrap();
        result.unwrap();
    }
    assert_eq!(store.tokens_of_user(mona.id).await.unwrap().len(), 20);
}

#[tokio::test]
async fn urls_in_both_forms_open_and_create_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        format!("sqlite://{}", dir.path().join("a.db").display()),
        format!("sqlite:{}", dir.path().join("b.db").display()),
    ] {
        let store = SqliteStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        store.close().await;
    }
    assert!(dir.path().join("a.db").exists());
    assert!(dir.path().join("b.db").exists());
}

#[tokio::test]
async fn in_memory_database_works_across_pooled_connections() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let mona = user(&store, "mona").await;
    // Reads go through other connections than the writer.
    for _ in 0..8 {
        assert_eq!(store.user_by_id(mona.id).await.unwrap(), Some(mona.clone()));
    }
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let (store, _dir) = fresh_sqlite().await;
    store.close().await;
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store
            .record_last_used(&[(patgate_domain::model::TokenId(1), at(0))])
            .await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn foreign_keys_are_enforced() {
    use patgate_domain::model::RepoId;
    use patgate_store::{KeyStore, NewKey};
    let (store, _dir) = fresh_sqlite().await;
    let mona = user(&store, "mona").await;
    let orphan = NewKey {
        title: "orphan".into(),
        key: "ssh-ed25519 AAAA".into(),
        repo: Some(RepoId(999)),
        user: mona.id,
        read_only: true,
        created_by_token: None,
        created_at: at(0),
    };
    assert!(matches!(
        store.insert_key(&orphan).await,
        Err(StoreError::Conflict(_))
    ));
}
