//! A throwaway database per test, for this crate's tests and for the server's multi-process
//! tests (feature `testing`). The server is `PATGATE_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, used only to create and drop test databases).
//! When it cannot be reached, `TestDb::create` prints `SKIPPED: ...` and returns `None`, unless
//! `PATGATE_REQUIRE_PG=1`, which makes it panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection};

use patgate_store::Store;

use super::{PgOptions, PostgresStore};

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn admin_url() -> String {
    std::env::var("PATGATE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// `url` with its database replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let rest = base.split_once("://").map(|(_, r)| r).unwrap_or(base);
    let authority_end = rest.find('/').map(|i| base.len() - rest.len() + i);
    let server = match authority_end {
        Some(i) => &base[..i],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

/// Connects to the admin database, or explains why not: `None` means "skip" (after printing the
/// notice), unless PostgreSQL is required.
pub async fn admin() -> Option<PgConnection> {
    let url = admin_url();
    let attempt = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&url)).await;
    let error = match attempt {
        Ok(Ok(conn)) => return Some(conn),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out after 5 s".to_owned(),
    };
    let shown = super::redact(&url);
    if std::env::var("PATGATE_REQUIRE_PG").as_deref() == Ok("1") {
        panic!(
            "PostgreSQL is required (PATGATE_REQUIRE_PG=1) but not reachable at {shown}: {error}"
        );
    }
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
    let notice = format!("SKIPPED: PostgreSQL not reachable at {shown} ({error})\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
    None
}

pub fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Unique per process (counter), per run (time) and across concurrent runs (pid).
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 40) ^ n.rotate_left(24);
    format!("patgate_t_{mixed:016x}{n:04x}")
}

/// A database made for one test; dropped (connections and all) when the guard goes.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A new, empty, migrated database; `None` when PostgreSQL is absent (the test skips).
    pub async fn create() -> Option<TestDb> {
        let mut admin = admin().await?;
        let name = unique_name();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.ok();
        let db = TestDb {
            url: with_database(&admin_url(), &name),
            name,
        };
        let store = db.store().await;
        store.migrate().await.unwrap();
        store.close().await;
        Some(db)
    }

    /// A store over this database (another "replica" each call).
    pub async fn store(&self) -> PostgresStore {
        self.store_with(PgOptions::default()).await
    }

    pub async fn store_with(&self, options: PgOptions) -> PostgresStore {
        PostgresStore::connect(&self.url, options).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let url = admin_url();
        // Drop may run inside a runtime: do the async work on a thread with a runtime of its own.
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                admin.close().await
            })
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}
