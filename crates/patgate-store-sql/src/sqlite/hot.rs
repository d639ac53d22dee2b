//! The reads of a verification cache miss, run on the caller's thread.
//!
//! sqlx runs every SQLite statement on a worker thread of its connection and answers over a
//! channel: each statement is a thread hop there and back, and a connection handed back to
//! the pool is pinged, one more hop. On a cache miss (the token, then the owner's standing on
//! the repository) those hops were most of the cost: a profile of the `miss` benchmark spent
//! about 58 % of its time in the kernel waking threads, and 1.3 % in SQLite's own VM.
//!
//! So the two statements of a miss run here, synchronously, on a small set of read-only
//! connections of the same file ([`rusqlite`], over the same bundled SQLite as sqlx's). A WAL
//! reader takes no lock that a writer holds, and both statements are index lookups of a few
//! pages, which the OS page cache serves: they take microseconds, less than the hop they
//! replace, so running them on an async worker does not stall it in any way that matters.
//! Everything else (lists, writes, transactions) stays on sqlx.
//!
//! An in-memory store (`sqlite::memory:`) has no file another connection could open; it keeps
//! every read on sqlx.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, ToSql};

use patgate_store::{StoreError, StoreResult};

use super::BUSY_TIMEOUT;
use super::directory::{REPO_STANDING, StandingRow};
use super::error::hot_err;
use super::tokens::{TOKEN_BY_HASH, TokenRow};

/// How many idle connections are kept; more are opened when more callers read at once, and
/// closed when they are handed back beyond this.
const IDLE: usize = 8;

/// Read-only connections to the store's file, taken for one call and handed back.
#[derive(Debug)]
pub(crate) struct HotReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Set by the store's `close`: a closed store answers `Unavailable` here as its pools do.
    closed: AtomicBool,
}

impl HotReads {
    pub(crate) fn new(path: &Path) -> HotReads {
        HotReads {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// Closes the idle connections; every read after this is `Unavailable`.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let idle = match self.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => Vec::new(),
        };
        drop(idle);
    }

    pub(crate) fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<TokenRow>> {
        self.with_connection(|conn| {
            conn.prepare_cached(TOKEN_BY_HASH)?
                .query_row(&[("$1", &hash as &dyn ToSql)], token_row)
                .optional()
        })
    }

    pub(crate) fn repo_standing(
        &self,
        owner: i64,
        user: i64,
        repo: i64,
        enterprise: Option<i64>,
    ) -> StoreResult<StandingRow> {
        self.with_connection(|conn| {
            conn.prepare_cached(REPO_STANDING)?.query_row(
                &[
                    ("$1", &owner as &dyn ToSql),
                    ("$2", &user),
                    ("$3", &repo),
                    ("$4", &enterprise),
                ],
                |row| {
                    Ok(StandingRow {
                        org_role: row.get("org_role")?,
                        base_permission: row.get("base_permission")?,
                        collaborator: row.get("collaborator")?,
                        enterprise_member: row.get("enterprise_member")?,
                    })
                },
            )
        })
    }

    fn with_connection<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("the store is closed".into()));
        }
        let conn = match self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            Some(conn) => conn,
            None => self.open().map_err(hot_err)?,
        };
        // A statement that failed leaves the connection as it was (autocommit, no open
        // statement: `query_row` resets it), so it goes back either way.
        let result = read(&conn).map_err(hot_err);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE
            && !self.closed.load(Ordering::Acquire)
        {
            idle.push(conn);
        }
        result
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(conn)
    }
}

fn token_row(row: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: row.get("id")?,
        kind: row.get("kind")?,
        user_id: row.get("user_id")?,
        last_eight: row.get("last_eight")?,
        name: row.get("name")?,
        description: row.get("description")?,
        created_at: row.get("created_at")?,
        issued_at: row.get("issued_at")?,
        expires_at: row.get("expires_at")?,
        last_used_at: row.get("last_used_at")?,
        resource_owner_id: row.get("resource_owner_id")?,
        resource_owner_kind: row.get("resource_owner_kind")?,
        requested_selection: row.get("requested_selection")?,
        requested_permissions: row.get("requested_permissions")?,
        granted_selection: row.get("granted_selection")?,
        granted_permissions: row.get("granted_permissions")?,
        grant_state: row.get("grant_state")?,
        scopes: row.get("scopes")?,
        app_org_id: row.get("app_org_id")?,
        app_permissions: row.get("app_permissions")?,
        requested_repos: row.get("requested_repos")?,
        granted_repos: row.get("granted_repos")?,
    })
}
