//! The cost of verifying a presented token and authorizing a repository request (issue 2: a
//! cache hit should cost at most twice the floor).
//!
//! * `floor`: SHA-256 of the token string and a `HashMap<[u8; 32], _>` lookup, the least any
//!   verification by hash can cost; `floor + parse` adds the format check that must come first;
//! * `hit`: `App::verify` then `App::authorize_repo` (contents: read on a private repository of
//!   an organization), everything warm;
//! * `hit, one block_on per sample`: the same inside the runtime, as a server runs it (the
//!   per-iteration `block_on` of `hit` costs about as much as the floor by itself);
//! * `miss`: the same after `App::forget_all`, against a SQLite store in a temporary file;
//! * `parse`: `TokenFormat::parse` alone (prefix, length, alphabet, CRC32);
//! * `parts/*`: the pieces of a hit measured separately, to see what dominates;
//! * `pg/*`: the same fixture on a PostgreSQL store (a throwaway database made by
//!   `patgate_store_sql::postgres::testing::TestDb` on `PATGATE_TEST_PG_URL`, default
//!   `postgres://postgres@127.0.0.1:5432/postgres`, dropped at the end): `pg/hit` as `hit`,
//!   `pg/miss` as `miss`, and `pg/ping` (`SELECT 1` through the pool) for one round trip.
//!   Skipped, with a `SKIPPED` notice, when PostgreSQL is not reachable.
//!
//! Run: `cargo bench -p patgate-app --bench verify_token -- --warm-up-time 1 --measurement-time 3`
//! (figures in `docs/benchmarks.md`).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

use patgate_app::auth::PasswordParams;
use patgate_app::seed::SeedFile;
use patgate_app::tokens::{CreateClassic, CreateFineGrained};
use patgate_app::verify::VerifiedToken;
use patgate_app::{App, AppConfig, Clock, SystemClock};
use patgate_domain::authz::{self, Need};
use patgate_domain::catalog::{Level, Permission};
use patgate_domain::model::RepositorySelection;
use patgate_domain::token::TokenHash;
use patgate_domain::validate::RequestedPermission;
use patgate_store::Store;
use patgate_store_sql::postgres::testing::TestDb;
use patgate_store_sql::sqlite::SqliteStore;

const SEED: &str = r#"
[[users]]
login = "alice"
email = "alice@example.com"

[[users]]
login = "bob"
email = "bob@example.com"

[[orgs]]
login = "acme"
owners = ["alice"]
members = ["bob"]

[[repos]]
owner = "acme"
name = "api"
visibility = "private"
"#;

/// Other tokens in the cache and in the floor's map, so that neither is a one-entry table.
const OTHER_TOKENS: usize = 1_000;

struct Fixture {
    app: App,
    secret: String,
    _dir: tempfile::TempDir,
}

/// The app over `store` (migrated here), the seed loaded, and alice's fine-grained token.
async fn app_with_token(store: Arc<dyn Store>) -> (App, String) {
    store.migrate().await.expect("migrate");
    let app = App::new(
        store,
        Arc::new(SystemClock),
        AppConfig {
            password_hashing: PasswordParams::insecure_fast(),
            // Long enough that no entry expires during a measurement.
            cache_ttl: std::time::Duration::from_secs(600),
            ..Default::default()
        },
    );
    app.load_seed(&SeedFile::parse(SEED).expect("seed"))
        .await
        .expect("load");
    let alice = app
        .store()
        .user_by_login("alice")
        .await
        .expect("store")
        .expect("alice");
    // alice owns acme: her token is approved at once.
    let issued = app
        .create_fine_grained(
            &alice,
            CreateFineGrained {
                name: "bench".into(),
                resource_owner: Some("acme".into()),
                repository_selection: Some(RepositorySelection::All),
                permissions: vec![RequestedPermission {
                    group: None,
                    name: "contents".into(),
                    level: "read".into(),
                }],
                ..Default::default()
            },
        )
        .await
        .expect("token");
    (app, issued.secret.expose().to_owned())
}

fn fixture(rt: &Runtime) -> Fixture {
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::open_file(&dir.path().join("bench.db"))
            .await
            .expect("open");
        let (app, secret) = app_with_token(Arc::new(store)).await;
        Fixture {
            app,
            secret,
            _dir: dir,
        }
    })
}

/// Creates `OTHER_TOKENS` live tokens of bob's and verifies each, so that they sit in the
/// verification cache; returns their hashes with what verification returned.
async fn other_tokens(app: &App) -> Vec<([u8; 32], Arc<VerifiedToken>)> {
    let bob = app
        .store()
        .user_by_login("bob")
        .await
        .expect("store")
        .expect("bob");
    let mut others = Vec::with_capacity(OTHER_TOKENS);
    for i in 0..OTHER_TOKENS {
        let other = app
            .create_classic(
                &bob,
                CreateClassic {
                    note: format!("other {i}"),
                    scopes: vec!["repo".into()],
                    expiration: None,
                },
            )
            .await
            .expect("token");
        let v = app.verify(other.secret.expose()).await.expect("verifies");
        others.push((other.secret.hash().0, v));
    }
    others
}

fn need() -> Need {
    Need::new(Permission::CONTENTS, Level::Read)
}

fn verify_token(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let Fixture { app, secret, _dir } = fixture(&rt);
    let facts = rt
        .block_on(app.repo_facts("acme", "api"))
        .expect("store")
        .expect("acme/api");
    let need = need();
    let secret = secret.as_str();

    // Sanity: the path under test allows the request, and a hit does not touch the store.
    rt.block_on(async {
        let v = app.verify(secret).await.expect("verifies");
        app.authorize_repo(Some(&v.credential), &facts, need)
            .await
            .expect("allowed");
    });

    // Fill the verification cache with other live tokens, and the floor's map with as many
    // entries, so that neither is a one-entry table.
    let format = app.token_format().clone();
    let verified = rt.block_on(app.verify(secret)).expect("verifies");
    let mut map: HashMap<[u8; 32], Arc<_>> = rt.block_on(other_tokens(&app)).into_iter().collect();
    map.insert(TokenHash::of(secret).0, verified.clone());

    c.bench_function("floor: sha256 + HashMap::get", |b| {
        b.iter(|| {
            let hash = TokenHash::of(black_box(secret));
            black_box(map.get(&hash.0).map(|v| v.credential.token_id))
        })
    });

    // The floor with the parse that verification must do before any lookup (DESIGN §2).
    c.bench_function("floor + parse: parse, sha256 + HashMap::get", |b| {
        b.iter(|| {
            let parsed = format.parse(black_box(secret)).expect("well-formed");
            black_box(map.get(&parsed.hash().0).map(|v| v.credential.token_id))
        })
    });

    c.bench_function("hit: verify + authorize_repo", |b| {
        b.iter(|| {
            rt.block_on(async {
                let v = app.verify(black_box(secret)).await.expect("verifies");
                app.authorize_repo(Some(&v.credential), &facts, need)
                    .await
                    .expect("allowed");
            })
        })
    });

    // The same, as a server runs it: inside the runtime, without entering it per request.
    c.bench_function(
        "hit, one block_on per sample: verify + authorize_repo",
        |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let v = app.verify(black_box(secret)).await.expect("verifies");
                        app.authorize_repo(Some(&v.credential), &facts, need)
                            .await
                            .expect("allowed");
                    }
                    start.elapsed()
                })
            })
        },
    );

    c.bench_function("miss: forget_all, verify + authorize_repo (SQLite)", |b| {
        b.iter_batched(
            || app.forget_all(),
            |()| {
                rt.block_on(async {
                    let v = app.verify(black_box(secret)).await.expect("verifies");
                    app.authorize_repo(Some(&v.credential), &facts, need)
                        .await
                        .expect("allowed");
                })
            },
            BatchSize::PerIteration,
        )
    });

    c.bench_function("parse", |b| {
        b.iter(|| format.parse(black_box(secret)).map(|p| p.kind))
    });

    // The parts of a hit, one by one.
    let mut parts = c.benchmark_group("parts");
    parts.bench_function("sha256", |b| b.iter(|| TokenHash::of(black_box(secret))));
    parts.bench_function("runtime block_on(ready)", |b| {
        b.iter(|| rt.block_on(async { black_box(1u8) }))
    });
    parts.bench_function("verify (hit)", |b| {
        b.iter(|| {
            rt.block_on(app.verify(black_box(secret)))
                .expect("verifies")
        })
    });
    parts.bench_function("authorize_repo (warm)", |b| {
        b.iter(|| {
            rt.block_on(app.authorize_repo(Some(&verified.credential), &facts, need))
                .expect("allowed")
        })
    });
    parts.bench_function("repo_rights (cache hit)", |b| {
        b.iter(|| {
            rt.block_on(app.repo_rights(verified.credential.user, &facts))
                .expect("rights")
        })
    });
    let rights = rt
        .block_on(app.repo_rights(verified.credential.user, &facts))
        .expect("rights");
    let clock = SystemClock;
    parts.bench_function("authz::decide", |b| {
        let now = clock.now();
        b.iter(|| {
            authz::decide(
                black_box(&verified.credential),
                &facts.resource(),
                Some(need),
                rights,
                now,
            )
        })
    });
    parts.bench_function("SystemClock::now", |b| b.iter(|| clock.now()));
    // The cache used before (moka, as configured then) and the one used now (quick_cache,
    // the expiry kept in the value), each holding the same entries.
    let moka_cache: moka::sync::Cache<TokenHash, Arc<_>> = moka::sync::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(std::time::Duration::from_secs(600))
        .support_invalidation_closures()
        .build();
    let quick: quick_cache::sync::Cache<TokenHash, (Arc<_>, i64)> =
        quick_cache::sync::Cache::new(100_000);
    for (k, v) in &map {
        moka_cache.insert(TokenHash(*k), v.clone());
        quick.insert(TokenHash(*k), (v.clone(), 0));
    }
    let hash = TokenHash::of(secret);
    parts.bench_function("moka get (TTL + invalidation closures)", |b| {
        b.iter(|| moka_cache.get(black_box(&hash)))
    });
    parts.bench_function("quick_cache get", |b| {
        b.iter(|| quick.get(black_box(&hash)))
    });
    parts.finish();

    postgres(c, &rt);
}

/// `hit` and `miss` again on a PostgreSQL store, when one is reachable.
fn postgres(c: &mut Criterion, rt: &Runtime) {
    let Some(db) = rt.block_on(TestDb::create()) else {
        // TestDb printed why (SKIPPED: ...).
        return;
    };
    {
        let store = rt.block_on(db.store());
        let (app, secret) = rt.block_on(app_with_token(Arc::new(store.clone())));
        let secret = secret.as_str();
        let facts = rt
            .block_on(app.repo_facts("acme", "api"))
            .expect("store")
            .expect("acme/api");
        let need = need();
        rt.block_on(async {
            // The same cache contents as on SQLite.
            other_tokens(&app).await;
            let v = app.verify(secret).await.expect("verifies");
            app.authorize_repo(Some(&v.credential), &facts, need)
                .await
                .expect("allowed");
        });

        let mut pg = c.benchmark_group("pg");
        pg.bench_function("hit", |b| {
            b.iter(|| {
                rt.block_on(async {
                    let v = app.verify(black_box(secret)).await.expect("verifies");
                    app.authorize_repo(Some(&v.credential), &facts, need)
                        .await
                        .expect("allowed");
                })
            })
        });
        pg.bench_function("miss", |b| {
            b.iter_batched(
                || app.forget_all(),
                |()| {
                    rt.block_on(async {
                        let v = app.verify(black_box(secret)).await.expect("verifies");
                        app.authorize_repo(Some(&v.credential), &facts, need)
                            .await
                            .expect("allowed");
                    })
                },
                BatchSize::PerIteration,
            )
        });
        pg.bench_function("ping", |b| {
            b.iter(|| rt.block_on(app.store().ping()).expect("ping"))
        });
        pg.finish();
        drop(app);
        // Close the pool and stop the listener before the database is dropped.
        rt.block_on(store.close());
    }
    drop(db);
}

criterion_group!(benches, verify_token);
criterion_main!(benches);
