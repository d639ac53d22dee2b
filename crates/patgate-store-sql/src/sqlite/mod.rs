//! SQLite: the embedded default. What is SQLite's own: opening the file, the two pools, the
//! dialect (below) and the migrations in `migrations/sqlite`. The store itself is `../repo`,
//! compiled here with `Db = Sqlite`.
//!
//! One file, WAL journal, two pools over it:
//!
//! * a **writer** pool of exactly one connection: every change runs there in a
//!   `BEGIN IMMEDIATE` transaction, so writers queue in the pool (fairly, without spinning on
//!   `SQLITE_BUSY`) and a transaction never has to upgrade a read lock to a write lock. That
//!   single writer is why `for_update!()` is empty here: a write transaction already excludes
//!   every other writer;
//! * a **reader** pool of a few connections for plain reads, which WAL lets run alongside the
//!   writer.
//!
//! One process owns the file, so there is no change feed ([`Store::changes`] is `None`) and
//! the `notify_*` methods do nothing; job claims (`job_runs`) still go through the database.

mod error;
mod hot;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection, Transaction};

use patgate_domain::model::TokenId;
use patgate_store::{Store, StoreError, StoreResult};

pub(crate) use error::db_err;

// The dialect (the seam is described in `lib.rs`). No row locks: the single writer serialises
// every write transaction. No arrays: id lists are JSON arrays, read back with `json_each`.
macro_rules! for_update {
    () => {
        ""
    };
}
macro_rules! for_update_skip_locked {
    () => {
        ""
    };
}
// No advisory locks either: the write transaction is already the only one.
macro_rules! serialize_on {
    ($p:literal) => {
        concat!("SELECT 1 WHERE ", $p, " IS NOT NULL")
    };
}
macro_rules! in_ids {
    ($p:literal) => {
        concat!("IN (SELECT value FROM json_each(", $p, "))")
    };
}
macro_rules! id_rows {
    ($p:literal) => {
        concat!("(SELECT value AS id FROM json_each(", $p, "))")
    };
}
// The second array is materialized so that SQLite pairs the two through an automatic index on
// its keys. Joined directly, `json_each` (a virtual table, which gets no automatic index) was
// scanned whole for every element of the first: quadratic, 5.7 s for 10 000 pairs, so the
// last-used flush of a busy server held the write lock and a core for seconds
// (`docs/benchmarks.md`, "The last-used flush").
macro_rules! id_pairs {
    ($ids:literal, $ats:literal) => {
        concat!(
            "(WITH b AS MATERIALIZED (SELECT key, value FROM json_each(",
            $ats,
            ")) SELECT a.value AS id, b.value AS at FROM json_each(",
            $ids,
            ") a JOIN b ON b.key = a.key)"
        )
    };
}

pub(crate) type Db = Sqlite;
pub(crate) type Conn = SqliteConnection;
pub(crate) type Tx = Transaction<'static, Sqlite>;
pub(crate) type DbRow = sqlx::sqlite::SqliteRow;
/// A JSON array (`[1,5,9]`).
pub(crate) type IdList = String;

pub(crate) fn id_list(ids: &[i64]) -> IdList {
    let mut out = String::with_capacity(ids.len() * 8 + 2);
    out.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out.push(']');
    out
}

/// Moves the id sequence of `table` past `highest` (after an import that set ids explicitly).
/// `AUTOINCREMENT` already follows the inserted ids; the ids the audit log mentions count too.
pub(crate) async fn bump_sequence(conn: &mut Conn, table: &str, highest: i64) -> StoreResult<()> {
    sqlx::query("UPDATE sqlite_sequence SET seq = $2 WHERE name = $1 AND seq < $2")
        .bind(table)
        .bind(highest)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    sqlx::query(
        "INSERT INTO sqlite_sequence (name, seq) SELECT $1, $2 \
         WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = $1)",
    )
    .bind(table)
    .bind(highest)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The store, written once (`../repo`), compiled for SQLite.
// ---------------------------------------------------------------------------------------------

repositories!();

/// How many connections serve reads. WAL readers never block the writer nor each other.
const READERS: u32 = 4;
/// How long a caller waits for a pooled connection before the store reports `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite's own wait on a lock held by another process (the pools already serialise this one).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store. Cheap to clone (two pool handles and the hot reads' handle).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The reads of a verification cache miss, off sqlx (see `hot.rs`); `None` in memory.
    hot: Option<Arc<hot::HotReads>>,
}

/// The store type the shared repository code implements the traits for.
pub(crate) type EngineStore = SqliteStore;

impl SqliteStore {
    /// Opens (creating it if missing) the database named by `url`: `sqlite://path/to/file.db`,
    /// `sqlite:path` or `sqlite::memory:` (one private in-memory database per store).
    /// Does not migrate; call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(db_err)?;
        Self::open(options, !names_memory(url)).await
    }

    /// Opens (creating it if missing) the database file at `path`. Does not migrate.
    pub async fn open_file(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open(SqliteConnectOptions::new().filename(path), true).await
    }

    /// `on_file`: the database is a file other connections can open (not `:memory:`).
    async fn open(options: SqliteConnectOptions, on_file: bool) -> Result<SqliteStore, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // The writer connects first: it creates the file and switches it to WAL. It is kept open
        // for the life of the store (which also keeps an in-memory database alive).
        // No ping before each acquisition (sqlx's default): an in-process connection does not
        // go stale, and the ping is a round trip to the connection's worker thread that every
        // query would pay (sqlx still pings once when a connection is returned).
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(db_err)?;
        let hot = on_file.then(|| Arc::new(hot::HotReads::new(options.get_filename())));
        let reader = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(READERS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db_err)?;
        Ok(SqliteStore {
            writer,
            reader,
            hot,
        })
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        if let Some(hot) = &self.hot {
            hot.close();
        }
        self.reader.close().await;
        self.writer.close().await;
    }

    /// The journal mode the database reports (`wal` once opened by this store).
    pub async fn journal_mode(&self) -> StoreResult<String> {
        sqlx::query_scalar::<_, String>("PRAGMA journal_mode")
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`: takes the write lock at once).
    pub(crate) async fn write_tx(&self) -> StoreResult<Tx> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }

    /// Starts a read transaction: one snapshot for all its statements (WAL).
    pub(crate) async fn snapshot_tx(&self) -> StoreResult<Tx> {
        self.reader.begin().await.map_err(db_err)
    }

    pub(crate) async fn read_conn(&self) -> StoreResult<sqlx::pool::PoolConnection<Sqlite>> {
        self.reader.acquire().await.map_err(db_err)
    }

    /// Where plain reads run.
    pub(crate) fn reads(&self) -> &SqlitePool {
        &self.reader
    }

    /// `token_by_hash` on the caller's thread, for a store on a file.
    pub(crate) fn hot_token_by_hash(
        &self,
        hash: &[u8],
    ) -> Option<StoreResult<Option<tokens::TokenRow>>> {
        self.hot.as_ref().map(|hot| hot.token_by_hash(hash))
    }

    /// `repo_standing` on the caller's thread, for a store on a file.
    pub(crate) fn hot_repo_standing(
        &self,
        owner: i64,
        user: i64,
        repo: i64,
        enterprise: Option<i64>,
    ) -> Option<StoreResult<directory::StandingRow>> {
        self.hot
            .as_ref()
            .map(|hot| hot.repo_standing(owner, user, repo, enterprise))
    }

    /// Where the reads of a miss run when not on the caller's thread (an in-memory store).
    pub(crate) async fn miss_conn(&self) -> StoreResult<sqlx::pool::PoolConnection<Sqlite>> {
        self.read_conn().await
    }

    /// A connection is returned to its pool.
    pub(crate) fn keep_miss_conn(&self, conn: sqlx::pool::PoolConnection<Sqlite>) {
        drop(conn);
    }

    /// Where a single autocommitted write runs (the one writer connection).
    pub(crate) fn writes(&self) -> &SqlitePool {
        &self.writer
    }

    /// No other process follows changes: nothing to announce.
    pub(crate) async fn notify_token(&self, _conn: &mut Conn, _id: TokenId) -> StoreResult<()> {
        Ok(())
    }

    pub(crate) async fn notify_tokens(
        &self,
        _conn: &mut Conn,
        _ids: &[TokenId],
    ) -> StoreResult<()> {
        Ok(())
    }

    pub(crate) async fn notify_directory(&self, _conn: &mut Conn) -> StoreResult<()> {
        Ok(())
    }

    pub(crate) async fn notify_everything(&self, _conn: &mut Conn) -> StoreResult<()> {
        Ok(())
    }
}

/// Whether a `sqlite:` URL names an in-memory database (`sqlite::memory:`, `mode=memory`), as
/// sqlx reads it. (sqlx's own `to_url_lossy` panics on its in-memory names, so it is not asked.)
fn names_memory(url: &str) -> bool {
    let (database, params) = url.split_once('?').unwrap_or((url, ""));
    database.ends_with(":memory:") || params.split('&').any(|param| param == "mode=memory")
}

pub(crate) async fn commit(tx: Tx) -> StoreResult<()> {
    tx.commit().await.map_err(db_err)
}

#[async_trait]
impl Store for SqliteStore {
    async fn export_dump(&self) -> StoreResult<patgate_store::dump::Dump> {
        self.export().await
    }

    async fn import_dump(&self, dump: &patgate_store::dump::Dump) -> StoreResult<()> {
        self.import(dump).await
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("migrations/sqlite")
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        tokens::fold_token_names(self, time::OffsetDateTime::now_utc())
            .await
            .map(|_| ())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map(|_| ())
            .map_err(db_err)
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

/// A fresh, migrated store in a temporary file, for the crate's own tests.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) async fn test_store() -> Option<(SqliteStore, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_file(&dir.path().join("patgate.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Some((store, dir))
}

#[cfg(test)]
mod tests {
    use super::names_memory;

    #[test]
    fn memory_urls_are_told_from_files() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://cache.db?mode=memory",
            "sqlite:cache.db?cache=shared&mode=memory",
        ] {
            assert!(names_memory(url), "{url}");
        }
        for url in [
            "sqlite://data/patgate.db",
            "sqlite:patgate.db?mode=rwc",
            "sqlite:///var/lib/patgate/memory.db",
        ] {
            assert!(!names_memory(url), "{url}");
        }
    }
}
