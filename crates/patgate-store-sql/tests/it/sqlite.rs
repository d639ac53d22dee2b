//! SQLite: the conformance suite, and SQLite's specifics: WAL, persistence across reopening,
//! concurrent writers, URLs.

use std::sync::Arc;

use patgate_store::testkit::{access, at, classic, fine_grained, hash, insert, org, repo, user};
use patgate_store::{DirectoryStore, Store, StoreError, TokenStore};
use patgate_store_sql::sqlite::SqliteStore;
use tempfile::TempDir;

/// A fresh, migrated store in a file of a new temporary directory (the guard deletes it).
async fn fresh() -> (Box<dyn Store>, TempDir) {
    let (store, dir) = fresh_sqlite().await;
    (Box::new(store), dir)
}

pub(crate) async fn fresh_sqlite() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_file(&dir.path().join("patgate.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

patgate_store::conformance_tests!(fresh);

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

/// A verification miss reads the token on SQLite connections of its own, not sqlx's
/// (`sqlite/hot.rs`): it must read what the pool reads, for every kind of token, with the
/// requested and granted repositories kept apart, and see a change as soon as it is committed.
#[tokio::test]
async fn a_miss_reads_the_token_the_pool_reads() {
    use patgate_domain::catalog::{Level, Permission};
    use patgate_domain::model::{AccountKind, GrantState, RepositorySelection, TokenGrant};

    let (store, _dir) = fresh_sqlite().await;
    let mona = user(&store, "mona").await;
    let acme = org(&store, "acme").await;
    let api = repo(&store, acme.id, "api").await;
    let web = repo(&store, acme.id, "web").await;
    let mut selected = fine_grained(mona.id, "selected", at(10));
    selected.grant = TokenGrant::FineGrained {
        resource_owner: acme.id,
        resource_owner_kind: AccountKind::Organization,
        requested: access(
            RepositorySelection::Subset,
            &[api.id, web.id],
            &[
                (Permission::CONTENTS, Level::Write),
                (Permission::ISSUES, Level::Read),
            ],
        ),
        granted: Some(access(
            RepositorySelection::Subset,
            &[api.id],
            &[(Permission::CONTENTS, Level::Read)],
        )),
        state: GrantState::Approved,
    };
    let tokens = [
        fine_grained(mona.id, "own", at(11)),
        selected,
        classic(mona.id, "classic", at(12), "repo,gist"),
    ];
    for new in &tokens {
        let stored = insert(&store, new).await;
        let by_hash = store.token_by_hash(&new.hash).await.unwrap();
        assert_eq!(by_hash, store.token_by_id(stored.id).await.unwrap());
        assert_eq!(by_hash, Some(stored));
    }
    assert_eq!(
        store.token_by_hash(&hash("no such token")).await.unwrap(),
        None
    );

    // A regenerated token is found by its new hash at once, and no longer by its old one.
    let first = store.token_by_hash(&tokens[0].hash).await.unwrap().unwrap();
    store
        .regenerate_token(
            first.id,
            &hash("regenerated"),
            "erated00",
            at(20),
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(store.token_by_hash(&tokens[0].hash).await.unwrap(), None);
    let again = store
        .token_by_hash(&hash("regenerated"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.last_eight, "erated00");
}

/// An in-memory store has no file for other connections to open: a miss reads through sqlx.
#[tokio::test]
async fn an_in_memory_store_finds_tokens_by_hash() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let mona = user(&store, "mona").await;
    let new = fine_grained(mona.id, "memory", at(1));
    let stored = insert(&store, &new).await;
    assert_eq!(store.token_by_hash(&new.hash).await.unwrap(), Some(stored));
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let (store, _dir) = fresh_sqlite().await;
    let mona = user(&store, "mona").await;
    let new = fine_grained(mona.id, "closed", at(1));
    let token = insert(&store, &new).await;
    // A cache miss's reads (on connections of their own, `sqlite/hot.rs`) work until then.
    assert!(store.token_by_hash(&new.hash).await.unwrap().is_some());
    store.close().await;
    for read in [
        store.token_by_hash(&new.hash).await.map(|_| ()),
        store
            .repo_standing(patgate_domain::model::RepoId(1), mona.id, token.user, None)
            .await
            .map(|_| ()),
    ] {
        assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");
    }
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

/// Version 3 (governance) fills its tables from the tokens stored before it: grants for the
/// approved organization tokens, pending requests for those awaiting review.
#[tokio::test]
async fn migrating_to_governance_backfills_requests_and_grants() {
    use std::borrow::Cow;

    use patgate_domain::model::{GrantId, RepoId, RepositorySelection, TokenId};
    use patgate_store::testkit::{org, repo};
    use patgate_store::{GovernanceStore, RequestStatus};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let store = SqliteStore::open_file(&path).await.unwrap();
    // The schema as it was before governance.
    let mut before = sqlx::migrate!("migrations/sqlite");
    before.migrations = Cow::Owned(
        before
            .migrations
            .iter()
            .filter(|m| m.version < 3)
            .cloned()
            .collect(),
    );
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    before.run(&pool).await.unwrap();

    let acme = org(&store, "acme").await;
    let mona = user(&store, "mona").await;
    let r1 = repo(&store, acme.id, "one").await;
    let r2 = repo(&store, acme.id, "two").await;
    // (name, owner kind, state, requested, granted); repositories: (requested, granted).
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a str,
        (&'a str, &'a str),
        Option<(&'a str, &'a str)>,
        (Vec<i64>, Vec<i64>),
    );
    let rows: [Row<'_>; 6] = [
        (
            "pending",
            "organization",
            "pending",
            ("subset", "contents:read"),
            None,
            (vec![r1.id.0, r2.id.0], vec![]),
        ),
        (
            "as-asked",
            "organization",
            "approved",
            ("all", "contents:read"),
            Some(("all", "contents:read")),
            (vec![], vec![]),
        ),
        (
            "raised",
            "organization",
            "approved",
            ("subset", "contents:read"),
            Some(("subset", "contents:read")),
            (vec![r1.id.0, r2.id.0], vec![r1.id.0]),
        ),
        (
            "same-subset",
            "organization",
            "approved",
            ("subset", "contents:read"),
            Some(("subset", "contents:read")),
            (vec![r2.id.0, r1.id.0], vec![r1.id.0, r2.id.0]),
        ),
        (
            "own",
            "user",
            "not_required",
            ("all", "contents:read"),
            Some(("all", "contents:read")),
            (vec![], vec![]),
        ),
        (
            "denied",
            "organization",
            "denied",
            ("all", "issues:write"),
            None,
            (vec![], vec![]),
        ),
    ];
    let mut ids = Vec::new();
    for (i, (name, owner_kind, state, requested, granted, repos)) in rows.iter().enumerate() {
        let created = 1_700_000_000 + i64::try_from(i).unwrap() * 10;
        let owner = if *owner_kind == "user" {
            mona.id.0
        } else {
            acme.id.0
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tokens (kind, user_id, hash, last_eight, name, justification, created_at, \
             issued_at, resource_owner_id, resource_owner_kind, requested_selection, \
             requested_permissions, granted_selection, granted_permissions, grant_state) \
             VALUES ('fine_grained', ?, ?, 'abcdefgh', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(mona.id.0)
        .bind(vec![u8::try_from(i).unwrap(); 32])
        .bind(*name)
        .bind(format!("why {name}"))
        .bind(created)
        .bind(created)
        .bind(owner)
        .bind(*owner_kind)
        .bind(requested.0)
        .bind(requested.1)
        .bind(granted.map(|g| g.0))
        .bind(granted.map(|g| g.1))
        .bind(*state)
        .fetch_one(&pool)
        .await
        .unwrap();
        for (flag, list) in [(0_i64, &repos.0), (1, &repos.1)] {
            for repo in list {
                sqlx::query(
                    "INSERT INTO token_repositories (token_id, repo_id, granted) VALUES (?, ?, ?)",
                )
                .bind(id)
                .bind(repo)
                .bind(flag)
                .execute(&pool)
                .await
                .unwrap();
            }
        }
        ids.push((TokenId(id), at(i64::try_from(i).unwrap() * 10)));
    }
    pool.close().await;

    store.migrate().await.unwrap();
    let [pending, as_asked, raised, same, own, denied] = ids.as_slice() else {
        unreachable!()
    };
    // Requests: the pending token and the raised one, with their repositories and reasons.
    for (token, created) in [pending, raised] {
        let r = store
            .pending_request_of_token(*token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.org, r.user, r.created_at, r.status),
            (acme.id, mona.id, *created, RequestStatus::Pending)
        );
        assert_eq!(r.access.selection, RepositorySelection::Subset);
        assert_eq!(
            r.access.repositories,
            vec![RepoId(r1.id.0), RepoId(r2.id.0)]
        );
        assert!(r.reason.unwrap().starts_with("why "));
    }
    // Grants: the approved organization tokens, granted when created.
    let mut granted = Vec::new();
    for (token, created) in [as_asked, raised, same] {
        let g = store.grant_of_token(*token).await.unwrap().unwrap();
        assert_eq!((g.org, g.access_granted_at), (acme.id, *created));
        granted.push(g);
    }
    assert_eq!(store.grants_of_org(acme.id).await.unwrap(), granted);
    for (token, _) in [as_asked, same, own, denied] {
        assert_eq!(store.pending_request_of_token(*token).await.unwrap(), None);
    }
    for (token, _) in [pending, own, denied] {
        assert_eq!(store.grant_of_token(*token).await.unwrap(), None);
    }
    assert_eq!(store.requests_of_org(acme.id, None).await.unwrap().len(), 2);
    assert!(store.grant_by_id(GrantId(0)).await.unwrap().is_none());
}

/// Version 4 makes fine-grained names unique per user: a database from before it keeps every
/// token, the later of two that share a folded name renamed.
#[tokio::test]
async fn migrating_to_unique_names_renames_later_duplicates() {
    use std::borrow::Cow;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let store = SqliteStore::open_file(&path).await.unwrap();
    let mut before = sqlx::migrate!("migrations/sqlite");
    before.migrations = Cow::Owned(
        before
            .migrations
            .iter()
            .filter(|m| m.version < 4)
            .cloned()
            .collect(),
    );
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    before.run(&pool).await.unwrap();
    let users = [user(&store, "mona").await.id, user(&store, "bob").await.id];
    for sql in super::old_tokens(users, |n| format!("X'{n:02x}'")) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    store.migrate().await.unwrap();
    super::check_names_folded(&store, users).await;
}

/// Version 5 (the listings' indexes) came after 6 to 20 were released: a database migrated to
/// 20 without it takes it at the next start, and ends with the schema of a fresh one.
#[tokio::test]
async fn a_database_at_20_takes_version_5_next() {
    use std::borrow::Cow;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let store = SqliteStore::open_file(&path).await.unwrap();
    let mut before = sqlx::migrate!("migrations/sqlite");
    before.migrations = Cow::Owned(
        before
            .migrations
            .iter()
            .filter(|m| m.version != 5)
            .cloned()
            .collect(),
    );
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    before.run(&pool).await.unwrap();
    store.migrate().await.unwrap();
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name IN \
         ('token_requests_org_page_idx', 'token_requests_org_user_idx', 'grants_org_page_idx', \
         'token_requests_org_idx', 'grants_org_idx') ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(
        indexes,
        [
            "grants_org_page_idx",
            "token_requests_org_page_idx",
            "token_requests_org_user_idx"
        ]
    );
}

/// The list facets are derived data that triggers keep: after every kind of change to what they
/// are derived from, they equal their definition.
#[tokio::test]
async fn list_facets_follow_every_change_to_grants_requests_and_access() {
    let mut held = 0;
    for (name, scenario) in crate::FACET_SCENARIOS {
        let (store, dir) = fresh_sqlite().await;
        scenario(&store).await;
        store.close().await;
        let pool = sqlx::SqlitePool::connect_with(
            sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("patgate.db")),
        )
        .await
        .unwrap();
        for sql in crate::FACETS_DISAGREE {
            let wrong: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            assert_eq!(wrong, 0, "after {name}: {sql}");
        }
        let n: i64 = sqlx::query_scalar(crate::FACETS_HELD)
            .fetch_one(&pool)
            .await
            .unwrap();
        held += n;
        pool.close().await;
    }
    assert!(held > 0, "the scenarios left no facet to compare");
}
