//! PostgreSQL: the conformance suite, and PostgreSQL's specifics: the change feed across stores
//! (replicas), job claims and upserts racing across stores, a copy from SQLite, outages and
//! recovery, connection settings.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;

use patgate_domain::catalog::{Level, OrgRole, Permission, PermissionSet, RepoRole};
use patgate_domain::model::{AccountKind, GrantState, RepositorySelection, TokenGrant};
use patgate_store::testkit::{
    self, access, at, classic, fine_grained, hash, new_user, org, repo, user,
};
use patgate_store::{
    AuditStore, Change, DirectoryStore, GovernanceStore, JobStore, KeyStore, NewAuditEvent, NewKey,
    NewToken, RequestStatus, Store, StoreError, TokenStore, Upserted,
};
use patgate_store_sql::postgres::testing::{TestDb, admin_url, unique_name, with_database};
use patgate_store_sql::postgres::{PgOptions, PostgresStore};
use patgate_store_sql::sqlite::SqliteStore;

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

/// The test's database, or the end of the test (PostgreSQL absent; the notice is printed).
macro_rules! db_or_skip {
    () => {
        match TestDb::create().await {
            Some(db) => db,
            None => return,
        }
    };
}

/// The next change on `feed` within `within`, and how long it took.
async fn next_change(feed: &mut Receiver<Change>, within: Duration) -> (Change, Duration) {
    let start = Instant::now();
    let change = tokio::time::timeout(within, feed.recv())
        .await
        .unwrap_or_else(|_| panic!("no change announced within {within:?}"))
        .unwrap();
    (change, start.elapsed())
}

/// Asserts that nothing more is announced for a while.
async fn quiet(feed: &mut Receiver<Change>) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    match feed.try_recv() {
        Err(TryRecvError::Empty) => {}
        other => panic!("expected no change, got {other:?}"),
    }
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_other_stores_within_a_second() {
    let db = db_or_skip!();
    let a = db.store().await;
    let b = db.store().await;
    let mut feed = b.changes().expect("postgres announces changes");

    let mona = user(&a, "mona").await;
    let (change, took) = next_change(&mut feed, SECOND).await;
    assert_eq!(change, Change::Directory);
    assert!(took < SECOND);
    let acme = org(&a, "acme").await;
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Directory);

    // What changes nothing announces nothing.
    let (_, outcome) = a.upsert_user(&new_user("mona"), at(0)).await.unwrap();
    assert_eq!(outcome, Upserted::Unchanged);
    quiet(&mut feed).await;

    assert_eq!(
        a.upsert_membership(acme.id, mona.id, OrgRole::Member)
            .await
            .unwrap(),
        Upserted::Created
    );
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Directory);
    let r = repo(&a, acme.id, "api").await;
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Directory);
    a.upsert_collaborator(r.id, mona.id, RepoRole::Write)
        .await
        .unwrap();
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Directory);
    assert!(a.remove_membership(acme.id, mona.id).await.unwrap());
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Directory);
    assert!(!a.remove_membership(acme.id, mona.id).await.unwrap());
    quiet(&mut feed).await;

    // A new token is nobody's cached entry: not announced. Changes to it are.
    let t = a
        .insert_token(&fine_grained(mona.id, "t", at(1)), &[])
        .await
        .unwrap();
    quiet(&mut feed).await;
    a.update_token(t.id, Some("edited"), &t.grant, &[])
        .await
        .unwrap();
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Token(t.id));
    a.regenerate_token(t.id, &hash("t2"), "xxxxt2t2", at(2), None, &[])
        .await
        .unwrap();
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Token(t.id));
    a.record_last_used(&[(t.id, at(3))]).await.unwrap();
    quiet(&mut feed).await;
    a.delete_token(t.id, &[]).await.unwrap();
    let (change, took) = next_change(&mut feed, SECOND).await;
    assert_eq!(change, Change::Token(t.id));
    assert!(took < SECOND, "took {took:?}");

    // A failed change announces nothing (the notification is part of the transaction).
    assert!(matches!(
        a.delete_token(t.id, &[]).await,
        Err(StoreError::NotFound)
    ));
    quiet(&mut feed).await;

    // The writer hears its own changes too (every store listens).
    let mut own = a.changes().unwrap();
    a.set_user_password_hash(mona.id, "$argon2id$x")
        .await
        .unwrap();
    assert_eq!(next_change(&mut own, SECOND).await.0, Change::Directory);
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Directory);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_ten_racing_claims_wins() {
    let db = db_or_skip!();
    let stores = [db.store().await, db.store().await];
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let store = stores[i % 2].clone();
        tasks.spawn(async move {
            let holder = format!("replica-{i}");
            let won = store
                .claim_job_run("daily_digest", "2026-11-21", &holder, at(0))
                .await
                .unwrap();
            (holder, won)
        });
    }
    let winners: Vec<String> = tasks
        .join_all()
        .await
        .into_iter()
        .filter_map(|(holder, won)| won.then_some(holder))
        .collect();
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(
        stores[1]
            .job_run_holder("daily_digest", "2026-11-21")
            .await
            .unwrap(),
        Some(winners[0].clone())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_upserts_of_one_name_all_succeed() {
    let db = db_or_skip!();
    let stores = [db.store().await, db.store().await];
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = stores[i % 2].clone();
        tasks.spawn(async move {
            let user = store.upsert_user(&new_user("mona"), at(0)).await.unwrap();
            let org = store
                .upsert_org("acme", None, RepoRole::Read, at(0))
                .await
                .unwrap();
            let repo = store
                .upsert_repo(
                    org.0.id,
                    "api",
                    patgate_domain::model::Visibility::Private,
                    None,
                    at(0),
                )
                .await
                .unwrap();
            let member = store
                .upsert_membership(org.0.id, user.0.id, OrgRole::Owner)
                .await
                .unwrap();
            (user.1, org.1, repo.1, member)
        });
    }
    let outcomes = tasks.join_all().await;
    let created = |pick: fn(&(Upserted, Upserted, Upserted, Upserted)) -> Upserted| {
        outcomes
            .iter()
            .filter(|o| pick(o) == Upserted::Created)
            .count()
    };
    assert_eq!(created(|o| o.0), 1);
    assert_eq!(created(|o| o.1), 1);
    assert_eq!(created(|o| o.2), 1);
    assert_eq!(created(|o| o.3), 1);
    assert!(outcomes.iter().all(|o| o.0 != Upserted::Updated));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_deletes_of_one_token_delete_it_once() {
    let db = db_or_skip!();
    let stores = [db.store().await, db.store().await];
    let mona = user(&stores[0], "mona").await;
    let t = stores[0]
        .insert_token(&fine_grained(mona.id, "t", at(0)), &[])
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..6 {
        let store = stores[i % 2].clone();
        tasks.spawn(async move {
            let audit = patgate_store::testkit::event("personal_access_token.destroy", at(1));
            store.delete_token(t.id, &[audit]).await.map(|_| ())
        });
    }
    let results = tasks.join_all().await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StoreError::NotFound)))
    );
    let audit = stores[1]
        .audit_events(&patgate_store::AuditQuery::default())
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "one destroy event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_dump_imports_into_postgres() {
    let db = db_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open_file(&dir.path().join("source.db"))
        .await
        .unwrap();
    sqlite.migrate().await.unwrap();

    let mona = sqlite
        .upsert_user(
            &patgate_store::NewUser {
                password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
                ..new_user("Mona")
            },
            at(0),
        )
        .await
        .unwrap()
        .0;
    let acme = org(&sqlite, "acme").await;
    sqlite
        .upsert_membership(acme.id, mona.id, OrgRole::Owner)
        .await
        .unwrap();
    let r1 = repo(&sqlite, acme.id, "api").await;
    let r2 = repo(&sqlite, acme.id, "web").await;
    let scoped = access(
        RepositorySelection::Subset,
        &[r2.id, r1.id],
        &[(Permission::CONTENTS, Level::Write)],
    );
    let org_token = NewToken {
        grant: TokenGrant::FineGrained {
            resource_owner: acme.id,
            resource_owner_kind: AccountKind::Organization,
            requested: scoped.clone(),
            granted: Some(scoped),
            state: GrantState::Approved,
        },
        ..fine_grained(mona.id, "org-token", at(5))
    };
    let fg = testkit::admit(
        &sqlite,
        &org_token,
        &[NewAuditEvent {
            actor: Some(mona.id),
            org: Some(acme.id),
            ..patgate_store::testkit::event("personal_access_token.request_created", at(5))
        }],
    )
    .await
    .unwrap();
    let cl = sqlite
        .insert_token(&classic(mona.id, "classic", at(6), "repo,gist"), &[])
        .await
        .unwrap();
    sqlite.record_last_used(&[(cl.id, at(7))]).await.unwrap();
    sqlite
        .insert_key(&NewKey {
            title: "deploy".into(),
            key: "ssh-ed25519 AAAAdeploy".into(),
            repo: Some(r1.id),
            user: mona.id,
            read_only: true,
            created_by_token: Some(fg.id),
            created_at: at(8),
        })
        .await
        .unwrap();
    sqlite
        .claim_job_run("remove_unused_tokens", "2023-11-14", "sqlite", at(9))
        .await
        .unwrap();
    // Governance rows: the approved token's grant (above), a pending request with repositories,
    // an app.
    let asking = testkit::admit(
        &sqlite,
        &NewToken {
            justification: Some("please".into()),
            grant: TokenGrant::FineGrained {
                resource_owner: acme.id,
                resource_owner_kind: AccountKind::Organization,
                requested: access(
                    RepositorySelection::Subset,
                    &[r1.id],
                    &[(Permission::ISSUES, Level::Read)],
                ),
                granted: None,
                state: GrantState::Pending,
            },
            ..fine_grained(mona.id, "asking", at(9))
        },
        &[],
    )
    .await
    .unwrap();
    sqlite
        .insert_app(
            acme.id,
            "Reviewer",
            &PermissionSet::new(),
            Some(mona.id),
            at(9),
            &[],
        )
        .await
        .unwrap();
    let dump = sqlite.export_dump().await.unwrap();
    assert_eq!(
        (
            dump.token_requests.len(),
            dump.request_repositories.len(),
            dump.grants.len(),
            dump.apps.len()
        ),
        (1, 1, 1, 1)
    );

    let pg = db.store().await;
    let other = db.store().await;
    let mut feed = other.changes().unwrap();
    pg.import_dump(&dump).await.unwrap();
    assert_eq!(
        next_change(&mut feed, SECOND).await.0,
        Change::Everything,
        "an import announces everything"
    );
    assert_eq!(pg.export_dump().await.unwrap(), dump);
    for h in [hash("org-token"), hash("classic")] {
        let there = sqlite.token_by_hash(&h).await.unwrap().unwrap();
        assert_eq!(pg.token_by_hash(&h).await.unwrap(), Some(there));
    }
    assert_eq!(
        pg.user_password_hash(mona.id).await.unwrap(),
        sqlite.user_password_hash(mona.id).await.unwrap()
    );
    assert!(matches!(
        pg.import_dump(&dump).await,
        Err(StoreError::Conflict(_))
    ));

    // The identity sequences moved past the imported ids.
    let hubot = user(&pg, "hubot").await;
    assert!(hubot.id.0 > acme.id.0 && hubot.id.0 > mona.id.0);
    let t = pg
        .insert_token(&fine_grained(hubot.id, "fresh", at(10)), &[])
        .await
        .unwrap();
    assert!(t.id.0 > cl.id.0 && t.id.0 > fg.id.0);
    let r3 = repo(&pg, hubot.id, "new").await;
    assert!(r3.id.0 > r2.id.0);
    // Governance rows read the same, and their sequences moved too.
    assert_eq!(
        pg.pending_request_of_token(asking.id).await.unwrap(),
        sqlite.pending_request_of_token(asking.id).await.unwrap()
    );
    assert_eq!(
        pg.grant_of_token(fg.id).await.unwrap(),
        sqlite.grant_of_token(fg.id).await.unwrap()
    );
    assert_eq!(
        pg.apps_of_org(acme.id).await.unwrap(),
        sqlite.apps_of_org(acme.id).await.unwrap()
    );
    let app = pg
        .insert_app(acme.id, "Second", &PermissionSet::new(), None, at(10), &[])
        .await
        .unwrap();
    assert!(dump.apps.iter().all(|a| a.id < app.id.0));
}

#[tokio::test]
async fn an_unreachable_database_fails_fast_as_unavailable() {
    let options = PgOptions {
        acquire_timeout: Duration::from_secs(1),
        ..PgOptions::default()
    };
    let start = Instant::now();
    let result = PostgresStore::connect("postgres://postgres@127.0.0.1:1/postgres", options).await;
    let took = start.elapsed();
    match result {
        Err(StoreError::Unavailable(message)) => {
            assert!(!message.is_empty());
        }
        other => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
    }
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // The URL's connect_timeout bounds it too.
    let start = Instant::now();
    let result = PostgresStore::connect(
        "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=1",
        PgOptions {
            acquire_timeout: Duration::from_secs(30),
            ..PgOptions::default()
        },
    )
    .await;
    assert!(matches!(result, Err(StoreError::Unavailable(_))));
    assert!(start.elapsed() < Duration::from_secs(2));
}

/// Terminates the backends of `db` whose `application_name` matches `like`.
async fn terminate(db: &TestDb, like: &str) -> i64 {
    let mut admin = PgConnection::connect(&admin_url()).await.unwrap();
    let killed: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = $1 AND application_name LIKE $2 AND pid <> pg_backend_pid()",
    )
    .bind(&db.name)
    .bind(like)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    admin.close().await.ok();
    killed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_reconnects_and_announces_everything() {
    let db = db_or_skip!();
    let a = db.store().await;
    let b = db.store().await;
    let mut feed = b.changes().unwrap();
    let mona = user(&a, "mona").await;
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Directory);

    // Both stores' listeners lose their connections (as when the database restarts).
    assert!(terminate(&db, patgate_store_sql::postgres::listener::APPLICATION_NAME).await >= 2);
    let (change, took) = next_change(&mut feed, Duration::from_secs(5)).await;
    assert_eq!(change, Change::Everything, "after {took:?}");

    // And they listen again.
    let t = a
        .insert_token(&fine_grained(mona.id, "t", at(1)), &[])
        .await
        .unwrap();
    a.delete_token(t.id, &[]).await.unwrap();
    loop {
        // Another Everything may come first (the second listener's reconnection is not ours).
        match next_change(&mut feed, SECOND).await.0 {
            Change::Everything => continue,
            other => {
                assert_eq!(other, Change::Token(t.id));
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_recovers_after_its_connections_are_killed() {
    let db = db_or_skip!();
    let store = db.store().await;
    let mona = user(&store, "mona").await;
    store.ping().await.unwrap();
    // Every connection of the pool dies (as when the database restarts).
    assert!(terminate(&db, "").await >= 1);
    // No restart: the next calls get fresh connections.
    let mut recovered = false;
    for _ in 0..3 {
        if store.ping().await.is_ok() {
            recovered = true;
            break;
        }
    }
    assert!(recovered);
    assert_eq!(store.user_by_id(mona.id).await.unwrap(), Some(mona));
}

/// The reads of a cache miss keep their connection from one miss to the next instead of
/// handing it back to sqlx (which pings every returned connection): held, it stays out of the
/// pool's idle set; broken, it is replaced; unused for a second, or when the store closes, it
/// goes back to the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_held_for_misses_go_back_to_the_pool() {
    let db = db_or_skip!();
    let store = db
        .store_with(PgOptions {
            max_connections: 4,
            ..PgOptions::default()
        })
        .await;
    let mona = user(&store, "mona").await;
    let token = store
        .insert_token(&fine_grained(mona.id, "held", at(1)), &[])
        .await
        .unwrap();
    let miss = || async {
        store
            .token_by_hash(&hash("held"))
            .await
            .map(|t| t.map(|t| t.id))
    };
    for _ in 0..5 {
        assert_eq!(miss().await.unwrap(), Some(token.id));
    }
    // Long enough for a connection handed back to sqlx to be pinged and idle again, too short
    // for the sweeper.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pool = store.pool();
    assert!(pool.size() > pool.num_idle() as u32, "a connection is held");

    // Its backend dies (as when the database restarts): a miss fails at most once per
    // connection, then reads again.
    assert!(terminate(&db, "").await >= 1);
    let mut read = None;
    for _ in 0..6 {
        if let Ok(found) = miss().await {
            read = Some(found);
            break;
        }
    }
    assert_eq!(read, Some(Some(token.id)));

    // Unused, the held connections return to the pool within about a second.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pool.size() != pool.num_idle() as u32 {
        assert!(
            Instant::now() < deadline,
            "the held connections stayed out of the pool"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // And closing the store does not wait for held ones forever.
    assert_eq!(miss().await.unwrap(), Some(token.id));
    tokio::time::timeout(Duration::from_secs(5), store.close())
        .await
        .expect("the store closes with a held connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_is_set_on_every_connection() {
    let db = db_or_skip!();
    let store = db
        .store_with(PgOptions {
            statement_timeout: Duration::from_millis(1500),
            max_connections: 2,
            ..PgOptions::default()
        })
        .await;
    let shown: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(shown, "1500ms");
    let default = db.store().await;
    let shown: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(default.pool())
        .await
        .unwrap();
    assert_eq!(shown, "10s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_notify_there_is_no_feed_and_writes_work() {
    let db = db_or_skip!();
    let store = db
        .store_with(PgOptions {
            notify: false,
            ..PgOptions::default()
        })
        .await;
    assert!(store.changes().is_none());
    let mona = user(&store, "mona").await;
    let t = store
        .insert_token(&fine_grained(mona.id, "t", at(1)), &[])
        .await
        .unwrap();
    store.delete_token(t.id, &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_again_from_two_stores_is_harmless() {
    let db = db_or_skip!();
    let a = db.store().await;
    let b = db.store().await;
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    assert_eq!(a.backend(), "postgres");
    a.ping().await.unwrap();
}

/// A pending organization token of `user` on `org` asking for issues:read everywhere.
fn asking(
    user: patgate_domain::model::AccountId,
    org: patgate_domain::model::AccountId,
    seed: &str,
) -> NewToken {
    NewToken {
        grant: TokenGrant::FineGrained {
            resource_owner: org,
            resource_owner_kind: AccountKind::Organization,
            requested: issues_read(),
            granted: None,
            state: GrantState::Pending,
        },
        ..fine_grained(user, seed, at(1))
    }
}

fn issues_read() -> patgate_domain::model::TokenAccess {
    access(
        RepositorySelection::All,
        &[],
        &[(Permission::ISSUES, Level::Read)],
    )
}

fn approved_grant(org: patgate_domain::model::AccountId) -> TokenGrant {
    TokenGrant::FineGrained {
        resource_owner: org,
        resource_owner_kind: AccountKind::Organization,
        requested: issues_read(),
        granted: Some(issues_read()),
        state: GrantState::Approved,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_changes_announce_every_token_they_change() {
    let db = db_or_skip!();
    let a = db.store().await;
    let b = db.store().await;
    let acme = org(&a, "acme").await;
    let mona = user(&a, "mona").await;
    let t1 = testkit::admit(&a, &asking(mona.id, acme.id, "t1"), &[])
        .await
        .unwrap();
    let t2 = testkit::admit(&a, &asking(mona.id, acme.id, "t2"), &[])
        .await
        .unwrap();
    let r1 = a.pending_request_of_token(t1.id).await.unwrap().unwrap();
    let r2 = a.pending_request_of_token(t2.id).await.unwrap().unwrap();
    let mut feed = b.changes().unwrap();
    quiet(&mut feed).await;

    // A batch announces each of its tokens.
    testkit::decide_requests(
        &a,
        &[
            testkit::RequestDecision {
                request: r1.id,
                token: t1.id,
                status: RequestStatus::Approved,
                grant: approved_grant(acme.id),
            },
            testkit::RequestDecision {
                request: r2.id,
                token: t2.id,
                status: RequestStatus::Approved,
                grant: approved_grant(acme.id),
            },
        ],
        Some(mona.id),
        None,
        at(2),
        &[],
    )
    .await
    .unwrap();
    let mut got = vec![
        next_change(&mut feed, SECOND).await.0,
        next_change(&mut feed, SECOND).await.0,
    ];
    got.sort_by_key(|c| format!("{c:?}"));
    let mut want = vec![Change::Token(t1.id), Change::Token(t2.id)];
    want.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(got, want);
    quiet(&mut feed).await;

    // A failed batch announces nothing.
    assert!(
        testkit::decide_requests(
            &a,
            &[testkit::RequestDecision {
                request: r1.id,
                token: t1.id,
                status: RequestStatus::Approved,
                grant: approved_grant(acme.id),
            }],
            None,
            None,
            at(3),
            &[],
        )
        .await
        .is_err()
    );
    quiet(&mut feed).await;

    let wider = TokenGrant::FineGrained {
        resource_owner: acme.id,
        resource_owner_kind: AccountKind::Organization,
        requested: access(
            RepositorySelection::All,
            &[],
            &[(Permission::ISSUES, Level::Write)],
        ),
        granted: Some(issues_read()),
        state: GrantState::Approved,
    };
    let (_, raise) = testkit::update_token_requesting(&a, t1.id, None, &wider, None, at(4), &[])
        .await
        .unwrap();
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Token(t1.id));
    testkit::cancel_request(&a, raise.id, &approved_grant(acme.id), at(5), &[])
        .await
        .unwrap();
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Token(t1.id));
    let g2 = a.grant_of_token(t2.id).await.unwrap().unwrap();
    testkit::revoke_grants(
        &a,
        &[(
            g2.id,
            t2.id,
            TokenGrant::FineGrained {
                resource_owner: mona.id,
                resource_owner_kind: AccountKind::User,
                requested: patgate_domain::model::TokenAccess::none(),
                granted: None,
                state: GrantState::Revoked,
            },
        )],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(next_change(&mut feed, SECOND).await.0, Change::Token(t2.id));
    // A new app is nobody's cached entry.
    a.insert_app(acme.id, "Reviewer", &PermissionSet::new(), None, at(6), &[])
        .await
        .unwrap();
    quiet(&mut feed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_reviews_of_one_request_decide_it_once() {
    let db = db_or_skip!();
    let stores = [db.store().await, db.store().await];
    let acme = org(&stores[0], "acme").await;
    let mona = user(&stores[0], "mona").await;
    let t = testkit::admit(&stores[0], &asking(mona.id, acme.id, "t"), &[])
        .await
        .unwrap();
    let r = stores[0]
        .pending_request_of_token(t.id)
        .await
        .unwrap()
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..6 {
        let store = stores[i % 2].clone();
        let (approve, grant) = if i % 2 == 0 {
            (RequestStatus::Approved, approved_grant(acme.id))
        } else {
            (
                RequestStatus::Denied,
                TokenGrant::FineGrained {
                    resource_owner: acme.id,
                    resource_owner_kind: AccountKind::Organization,
                    requested: issues_read(),
                    granted: None,
                    state: GrantState::Denied,
                },
            )
        };
        tasks.spawn(async move {
            let audit = patgate_store::testkit::event("personal_access_token.reviewed", at(2));
            testkit::decide_requests(
                &store,
                &[testkit::RequestDecision {
                    request: r.id,
                    token: t.id,
                    status: approve,
                    grant,
                }],
                None,
                None,
                at(2),
                &[audit],
            )
            .await
            .map(|()| approve)
        });
    }
    let results = tasks.join_all().await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StoreError::Conflict(_))))
    );
    let decided = stores[1].request_by_id(r.id).await.unwrap().unwrap();
    assert_eq!(decided.status, *winners[0]);
    // The token and its grant row agree with the one decision.
    let grant = stores[1].grant_of_token(t.id).await.unwrap();
    assert_eq!(grant.is_some(), decided.status == RequestStatus::Approved);
    let audit = stores[1]
        .audit_events(&patgate_store::AuditQuery::default())
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "one review recorded");
}

/// Version 3 (governance) fills its tables from the tokens stored before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_to_governance_backfills_requests_and_grants() {
    use std::borrow::Cow;

    let db = db_or_skip!();
    let store = db.store().await;
    // Back to the schema as it was before governance.
    sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        .execute(store.pool())
        .await
        .unwrap();
    let mut before = sqlx::migrate!("migrations/postgres");
    before.migrations = Cow::Owned(
        before
            .migrations
            .iter()
            .filter(|m| m.version < 3)
            .cloned()
            .collect(),
    );
    before.run(store.pool()).await.unwrap();

    let acme = org(&store, "acme").await;
    let mona = user(&store, "mona").await;
    let r1 = repo(&store, acme.id, "one").await;
    let r2 = repo(&store, acme.id, "two").await;
    // (name, owner kind, state, granted?, requested repositories, granted repositories).
    type OldToken<'a> = (&'a str, &'a str, &'a str, bool, Vec<i64>, Vec<i64>);
    let rows: [OldToken<'_>; 5] = [
        (
            "pending",
            "organization",
            "pending",
            false,
            vec![r1.id.0, r2.id.0],
            vec![],
        ),
        (
            "raised",
            "organization",
            "approved",
            true,
            vec![r1.id.0, r2.id.0],
            vec![r1.id.0],
        ),
        (
            "same",
            "organization",
            "approved",
            true,
            vec![r2.id.0, r1.id.0],
            vec![r1.id.0, r2.id.0],
        ),
        (
            "own",
            "user",
            "not_required",
            true,
            vec![r1.id.0],
            vec![r1.id.0],
        ),
        (
            "denied",
            "organization",
            "denied",
            false,
            vec![r1.id.0],
            vec![],
        ),
    ];
    let mut ids = Vec::new();
    for (i, (name, kind, state, has_granted, requested, granted)) in rows.iter().enumerate() {
        let created = 1_700_000_000 + i64::try_from(i).unwrap() * 10;
        let owner = if *kind == "user" {
            mona.id.0
        } else {
            acme.id.0
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tokens (kind, user_id, hash, last_eight, name, justification, created_at, \
             issued_at, resource_owner_id, resource_owner_kind, requested_selection, \
             requested_permissions, granted_selection, granted_permissions, grant_state) \
             VALUES ('fine_grained', $1, $2, 'abcdefgh', $3, $4, $5, $5, $6, $7, 'subset', \
             'contents:read', $8, $9, $10) RETURNING id",
        )
        .bind(mona.id.0)
        .bind(vec![u8::try_from(i).unwrap(); 32])
        .bind(*name)
        .bind(format!("why {name}"))
        .bind(created)
        .bind(owner)
        .bind(*kind)
        .bind(has_granted.then_some("subset"))
        .bind(has_granted.then_some("contents:read"))
        .bind(*state)
        .fetch_one(store.pool())
        .await
        .unwrap();
        for (flag, list) in [(false, requested), (true, granted)] {
            for repo in list {
                sqlx::query(
                    "INSERT INTO token_repositories (token_id, repo_id, granted) \
                     VALUES ($1, $2, $3)",
                )
                .bind(id)
                .bind(repo)
                .bind(flag)
                .execute(store.pool())
                .await
                .unwrap();
            }
        }
        ids.push((
            patgate_domain::model::TokenId(id),
            at(i64::try_from(i).unwrap() * 10),
        ));
    }

    store.migrate().await.unwrap();
    let [pending, raised, same, own, denied] = ids.as_slice() else {
        unreachable!()
    };
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
        assert_eq!(r.access.repositories, vec![r1.id, r2.id]);
        assert!(r.reason.unwrap().starts_with("why "));
    }
    for (token, created) in [raised, same] {
        let g = store.grant_of_token(*token).await.unwrap().unwrap();
        assert_eq!((g.org, g.access_granted_at), (acme.id, *created));
    }
    for (token, _) in [same, own, denied] {
        assert_eq!(store.pending_request_of_token(*token).await.unwrap(), None);
    }
    for (token, _) in [pending, own, denied] {
        assert_eq!(store.grant_of_token(*token).await.unwrap(), None);
    }
    // The sequences continue after the backfilled rows.
    let t = testkit::admit(&store, &asking(mona.id, acme.id, "after"), &[])
        .await
        .unwrap();
    let r = store.pending_request_of_token(t.id).await.unwrap().unwrap();
    let all = store.requests_of_org(acme.id, None).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|x| x.id <= r.id));
}

/// Version 4 makes fine-grained names unique per user: a database from before it keeps every
/// token, the later of two that share a folded name renamed.
#[tokio::test]
async fn migrating_to_unique_names_renames_later_duplicates() {
    use std::borrow::Cow;

    let db = db_or_skip!();
    let store = db.store().await;
    sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        .execute(store.pool())
        .await
        .unwrap();
    let mut before = sqlx::migrate!("migrations/postgres");
    before.migrations = Cow::Owned(
        before
            .migrations
            .iter()
            .filter(|m| m.version < 4)
            .cloned()
            .collect(),
    );
    before.run(store.pool()).await.unwrap();
    let users = [user(&store, "mona").await.id, user(&store, "bob").await.id];
    for sql in super::old_tokens(users, |n| format!("'\\x{n:02x}'::bytea")) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(store.pool())
            .await
            .unwrap();
    }
    store.migrate().await.unwrap();
    super::check_names_folded(&store, users).await;
}

/// Acknowledges every barrier `store` receives, after applying (here: noting) every change
/// before it, as the app's `follow_changes` does.
fn acknowledging(store: PostgresStore) -> tokio::task::JoinHandle<Vec<Change>> {
    let mut feed = store.changes().expect("a change feed");
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(change) = feed.recv().await {
            if let Change::Barrier(id) = &change {
                store.acknowledge(id).await.expect("acknowledge");
                return seen;
            }
            seen.push(change);
        }
        seen
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_barrier_returns_once_every_live_replica_has_applied_the_changes_before_it() {
    let db = db_or_skip!();
    let a = db.store().await;
    let b = db.store().await;
    b.heartbeat(at(0)).await.unwrap();
    let follower = acknowledging(b.clone());
    // A change through a, then the barrier: b has seen the change when it confirms.
    a.upsert_user(&new_user("mona"), at(0)).await.unwrap();
    let outcome = a.barrier(at(1), Duration::from_secs(10)).await.unwrap();
    assert_eq!(outcome.acknowledged.len(), 1, "{outcome:?}");
    assert!(outcome.missing.is_empty(), "{outcome:?}");
    let seen = follower.await.unwrap();
    assert_eq!(
        seen,
        vec![Change::Directory],
        "the change came before the barrier"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_barrier_names_the_replicas_that_did_not_confirm_and_skips_departed_ones() {
    let db = db_or_skip!();
    let a = db.store().await;
    let silent = db.store().await;
    let departed = db.store().await;
    let stale = db.store().await;
    silent.heartbeat(at(100)).await.unwrap();
    departed.heartbeat(at(100)).await.unwrap();
    departed.leave().await.unwrap();
    // Its last heartbeat is older than the liveness window.
    stale
        .heartbeat(at(100 - patgate_store::REPLICA_LIVENESS_SECS - 1))
        .await
        .unwrap();
    let outcome = a
        .barrier(at(100), Duration::from_millis(300))
        .await
        .unwrap();
    assert!(outcome.acknowledged.is_empty(), "{outcome:?}");
    assert_eq!(outcome.missing.len(), 1, "only the silent one: {outcome:?}");
}

/// `url` with one more query parameter.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_used_when_the_url_asks_for_it_and_an_unknown_certificate_is_refused() {
    let db = db_or_skip!();
    let plain = db.store().await;
    let ssl: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(plain.pool())
        .await
        .unwrap();
    if ssl != "on" {
        eprintln!("SKIPPED: this PostgreSQL serves no TLS (ssl = {ssl})");
        return;
    }
    let tls = PostgresStore::connect(
        &with_param(&db.url, "sslmode=require"),
        PgOptions::default(),
    )
    .await
    .expect("sslmode=require connects over TLS");
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(tls.pool())
            .await
            .unwrap();
    assert!(encrypted, "the connection is encrypted");
    tls.ping().await.unwrap();
    tls.close().await;
    // verify-full checks the server's certificate against the roots: this server's is
    // self-signed (Debian's snakeoil), so the connection is refused, and says why.
    let refused = match PostgresStore::connect(
        &with_param(&db.url, "sslmode=verify-full"),
        PgOptions::default(),
    )
    .await
    {
        Ok(_) => panic!("an unknown certificate is refused"),
        Err(e) => e,
    };
    let message = refused.to_string().to_lowercase();
    assert!(
        message.contains("certificate") || message.contains("tls"),
        "{message}"
    );
}

/// The list facets are derived data that triggers keep (here once per statement, over its
/// transition table): after every kind of change to what they are derived from, they equal
/// their definition.
#[tokio::test]
async fn list_facets_follow_every_change_to_grants_requests_and_access() {
    let mut held = 0;
    for (name, scenario) in crate::FACET_SCENARIOS {
        let db = db_or_skip!();
        let store = db.store().await;
        scenario(&store).await;
        store.close().await;
        let mut conn = PgConnection::connect(&db.url).await.unwrap();
        for sql in crate::FACETS_DISAGREE {
            let wrong: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
            assert_eq!(wrong, 0, "after {name}: {sql}");
        }
        let n: i64 = sqlx::query_scalar(crate::FACETS_HELD)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        held += n;
        conn.close().await.unwrap();
    }
    assert!(held > 0, "the scenarios left no facet to compare");
}
