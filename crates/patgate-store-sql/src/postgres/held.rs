//! Pool connections held back for the reads of a verification cache miss.
//!
//! sqlx pings every connection handed back to its pool (a `Sync` answered by `ReadyForQuery`,
//! one network round trip that is not a statement), whatever the pool's settings. A miss is two
//! one-row reads, so that ping doubled its round trips on the wire, and kept each connection
//! out of the pool, and a task busy, until the answer came.
//!
//! The reads of a miss therefore take a connection from here and put it back here when the
//! statement completed: a connection that stays in use never goes back to sqlx, so it is never
//! pinged. The pool still owns it (it counts against the pool's size) and still handles what
//! the ping exists for: a read that failed, or whose caller gave up half-way, drops its
//! connection, which returns it to the pool the usual way (pinged, closed if broken). A held
//! connection unused for [`IDLE_BEFORE_PING`] goes back to the pool too (a sweeper task returns
//! it within about a second, so that idle held connections do not shrink the pool for long),
//! and the pool's `before_acquire` then tests it before use, so a database restart costs no
//! failed read. A pool of fewer than [`MIN_POOL`] connections holds none.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use sqlx::Postgres;
use sqlx::pool::PoolConnection;

use patgate_store::StoreResult;

use super::{IDLE_BEFORE_PING, db_err};

/// How many connections are held at most: one per core of a small replica is enough for the
/// misses in flight; more at once borrow from the pool as every other read does.
const HELD: usize = 2;
/// The smallest pool that holds any: a smaller one keeps every connection for everyone.
pub(crate) const MIN_POOL: u32 = 4;

#[derive(Debug)]
pub(crate) struct HeldConnections {
    limit: usize,
    idle: Mutex<Vec<(PoolConnection<Postgres>, Instant)>>,
}

impl HeldConnections {
    /// Holds up to [`HELD`] connections of a pool of `pool_size`, and starts the task that
    /// returns the unused ones to the pool (it ends with the last handle).
    pub(crate) fn start(pool_size: u32) -> Arc<HeldConnections> {
        let limit = if pool_size >= MIN_POOL { HELD } else { 0 };
        let held = Arc::new(HeldConnections {
            limit,
            idle: Mutex::new(Vec::new()),
        });
        if limit > 0 {
            let weak = Arc::downgrade(&held);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(IDLE_BEFORE_PING);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    match weak.upgrade() {
                        Some(held) => held.release_stale(),
                        None => break,
                    }
                }
            });
        }
        held
    }

    /// A held connection used within [`IDLE_BEFORE_PING`], or one from the pool.
    pub(crate) async fn take(&self, pool: &sqlx::PgPool) -> StoreResult<PoolConnection<Postgres>> {
        let mut stale = Vec::new();
        let fresh = match self.idle.lock() {
            Ok(mut idle) => loop {
                match idle.pop() {
                    Some((conn, used)) if used.elapsed() < IDLE_BEFORE_PING => break Some(conn),
                    Some((conn, _)) => stale.push(conn),
                    None => break None,
                }
            },
            Err(_) => None,
        };
        // Back to the pool, outside the lock.
        drop(stale);
        match fresh {
            Some(conn) => Ok(conn),
            None => pool.acquire().await.map_err(db_err),
        }
    }

    /// Keeps `conn`, whose statement completed, for the next miss (or returns it to the pool
    /// when enough are held).
    pub(crate) fn put_back(&self, conn: PoolConnection<Postgres>) {
        let spare = match self.idle.lock() {
            Ok(mut idle) if idle.len() < self.limit => {
                idle.push((conn, Instant::now()));
                None
            }
            _ => Some(conn),
        };
        drop(spare);
    }

    /// Returns the connections unused for [`IDLE_BEFORE_PING`] to the pool.
    fn release_stale(&self) {
        let stale: Vec<_> = match self.idle.lock() {
            Ok(mut idle) => {
                let (fresh, stale) = std::mem::take(&mut *idle)
                    .into_iter()
                    .partition(|(_, used)| used.elapsed() < IDLE_BEFORE_PING);
                *idle = fresh;
                stale
            }
            Err(_) => Vec::new(),
        };
        drop(stale);
    }

    /// Returns every held connection to the pool (before closing it, which waits for them).
    pub(crate) fn release_all(&self) {
        let held = match self.idle.lock() {
            Ok(mut idle) => std::mem::take(&mut *idle),
            Err(_) => Vec::new(),
        };
        drop(held);
    }
}
