//! SQLite backend of the patgate store: the embedded default.
//!
//! One file, WAL journal, two pools over it:
//!
//! * a **writer** pool of exactly one connection: every change runs there in a
//!   `BEGIN IMMEDIATE` transaction, so writers queue in the pool (fairly, without spinning on
//!   `SQLITE_BUSY`) and a transaction never has to upgrade a read lock to a write lock;
//! * a **reader** pool of a few connections for plain reads, which WAL lets run alongside the
//!   writer.
//!
//! The SQL is kept portable (see `migrations/0001_init.sql`): the PostgreSQL backend copies it.
//! Queries are runtime queries over static strings; the encodings are `patgate_store::codec`'s.
//! One process owns the file, so there is no change feed ([`Store::changes`] is `None`); job
//! claims (`job_runs`) still go through the database, and a dump copies to PostgreSQL as is.

mod audit;
mod directory;
mod dump;
mod error;
mod governance;
mod jobs;
mod keys;
mod rows;
mod tokens;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use patgate_store::{Store, StoreError, StoreResult};

pub(crate) use error::db_err;

/// How many connections serve reads. WAL readers never block the writer nor each other.
const READERS: u32 = 4;
/// How long a caller waits for a pooled connection before the store reports `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite's own wait on a lock held by another process (the pools already serialise this one).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store. Cheap to clone (two pool handles).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database named by `url`: `sqlite://path/to/file.db`,
    /// `sqlite:path` or `sqlite::memory:` (one private in-memory database per store).
    /// Does not migrate; call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(db_err)?;
        Self::open(options).await
    }

    /// Opens (creating it if missing) the database file at `path`. Does not migrate.
    pub async fn open_file(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open(SqliteConnectOptions::new().filename(path)).await
    }

    async fn open(options: SqliteConnectOptions) -> Result<SqliteStore, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // The writer connects first: it creates the file and switches it to WAL. It is kept open
        // for the life of the store (which also keeps an in-memory database alive).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(db_err)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db_err)?;
        Ok(SqliteStore { writer, reader })
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`: takes the write lock at once).
    pub(crate) async fn write_tx(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }

    pub(crate) async fn read_conn(&self) -> StoreResult<sqlx::pool::PoolConnection<Sqlite>> {
        self.reader.acquire().await.map_err(db_err)
    }

    /// The journal mode the database reports (`wal` once opened by this store).
    pub async fn journal_mode(&self) -> StoreResult<String> {
        sqlx::query_scalar::<_, String>("PRAGMA journal_mode")
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)
    }
}

pub(crate) async fn commit(tx: Transaction<'static, Sqlite>) -> StoreResult<()> {
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
        sqlx::migrate!()
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))
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
