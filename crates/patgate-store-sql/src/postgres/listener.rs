//! The change feed: `LISTEN patgate_changes` on a dedicated connection, each notification
//! forwarded as a [`Change`] to a broadcast channel (one receiver per [`Store::changes`] call).
//!
//! Payloads: `token:<id>` → [`Change::Token`], `directory` → [`Change::Directory`],
//! `barrier:<id>` → [`Change::Barrier`], anything else (`everything`, or a payload this version
//! does not know) → [`Change::Everything`]. `ack:<barrier> <replica>` (a replica confirming a
//! barrier) goes to the acknowledgements channel instead, for the barrier's waiter.
//!
//! Notifications sent while the listener is not connected are lost, so:
//!
//! * when the connection is lost, the listener reconnects (backoff from 100 ms, doubling, up to
//!   2 s, forever) and, once it listens again, sends [`Change::Everything`];
//! * a silent connection is probed (`SELECT 1`) every [`PROBE_EVERY`], so a half-open TCP
//!   connection (the database host vanished) is noticed too;
//! * receivers that fall behind by more than [`CAPACITY`] changes get `RecvError::Lagged` from
//!   `tokio::sync::broadcast`, which they must treat as `Everything` (the app does).
//!
//! The task runs until the store (its last clone) is dropped.
//!
//! [`Store::changes`]: patgate_store::Store::changes

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use patgate_domain::model::TokenId;
use patgate_store::{Change, StoreError};

use super::{CHANNEL, db_err};

/// Capacity of the broadcast channel.
pub const CAPACITY: usize = 1024;
/// First wait before reconnecting; doubled on each failure up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long the listener's connection may stay silent before it is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(10);
/// The listener connection's `application_name` (to find it in `pg_stat_activity`).
pub const APPLICATION_NAME: &str = "patgate-listener";

pub(crate) const DIRECTORY: &str = "directory";
pub(crate) const EVERYTHING: &str = "everything";
pub(crate) const TOKEN_PREFIX: &str = "token:";
pub(crate) const BARRIER_PREFIX: &str = "barrier:";
pub(crate) const ACK_PREFIX: &str = "ack:";

/// A replica's confirmation of a barrier: `(barrier, replica)`.
pub type Ack = (String, String);

/// The acknowledgement a payload carries, if it is one.
pub fn parse_ack(payload: &str) -> Option<Ack> {
    let (barrier, replica) = payload.strip_prefix(ACK_PREFIX)?.split_once(' ')?;
    Some((barrier.to_owned(), replica.to_owned()))
}

pub(crate) fn token_payload(id: TokenId) -> String {
    format!("{TOKEN_PREFIX}{}", id.0)
}

/// The change a notification payload announces.
pub fn parse_payload(payload: &str) -> Change {
    if payload == DIRECTORY {
        return Change::Directory;
    }
    if let Some(id) = payload.strip_prefix(BARRIER_PREFIX)
        && !id.is_empty()
    {
        return Change::Barrier(id.to_owned());
    }
    match payload
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|id| id.parse::<i64>().ok())
    {
        Some(id) => Change::Token(TokenId(id)),
        None => Change::Everything,
    }
}

/// The running listener; aborted when dropped.
#[derive(Debug)]
pub(crate) struct ListenerTask(JoinHandle<()>);

impl ListenerTask {
    pub(crate) fn stop(&self) {
        self.0.abort();
    }
}

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Opens a listener (its own one-connection pool, outside the store's pool) and listens.
async fn open(
    options: &PgConnectOptions,
    connect_timeout: Duration,
) -> Result<PgListener, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(connect_timeout)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(options.clone().application_name(APPLICATION_NAME));
    let mut listener = PgListener::connect_with(&pool).await.map_err(db_err)?;
    listener.listen(CHANNEL).await.map_err(db_err)?;
    Ok(listener)
}

/// Listens once (so that nothing committed after `connect` returns is missed), then follows
/// in a background task.
pub(crate) async fn start(
    options: PgConnectOptions,
    connect_timeout: Duration,
    sender: broadcast::Sender<Change>,
    acks: broadcast::Sender<Ack>,
) -> Result<ListenerTask, StoreError> {
    let listener = open(&options, connect_timeout).await?;
    Ok(ListenerTask(tokio::spawn(run(
        listener,
        options,
        connect_timeout,
        sender,
        acks,
    ))))
}

async fn run(
    mut listener: PgListener,
    options: PgConnectOptions,
    connect_timeout: Duration,
    sender: broadcast::Sender<Change>,
    acks: broadcast::Sender<Ack>,
) {
    loop {
        let error = follow(&mut listener, &sender, &acks).await;
        tracing::warn!(%error, "lost the change feed; reconnecting");
        drop(listener);
        let mut backoff = MIN_BACKOFF;
        listener = loop {
            tokio::time::sleep(backoff).await;
            match open(&options, connect_timeout).await {
                Ok(l) => break l,
                Err(error) => {
                    tracing::debug!(%error, ?backoff, "change feed reconnection failed");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        };
        tracing::info!("change feed listening again");
        // Whatever was announced meanwhile is lost.
        let _ = sender.send(Change::Everything);
    }
}

/// Forwards notifications until the connection fails; returns why.
async fn follow(
    listener: &mut PgListener,
    sender: &broadcast::Sender<Change>,
    acks: &broadcast::Sender<Ack>,
) -> StoreError {
    loop {
        tokio::select! {
            next = listener.try_recv() => match next {
                Ok(Some(n)) => {
                    // No receivers is not an error: nobody caches (or waits) yet.
                    match parse_ack(n.payload()) {
                        Some(ack) => {
                            let _ = acks.send(ack);
                        }
                        None => {
                            let _ = sender.send(parse_payload(n.payload()));
                        }
                    }
                }
                // The connection was lost and (eager reconnection) re-established: what was
                // sent in between is gone.
                Ok(None) => {
                    tracing::info!("change feed reconnected");
                    let _ = sender.send(Change::Everything);
                }
                Err(e) => return db_err(e),
            },
            () = tokio::time::sleep(PROBE_EVERY) => {
                // `try_recv` is cancel-safe: a notification half read stays buffered.
                let probe = sqlx::query("SELECT 1").execute(&mut *listener);
                match tokio::time::timeout(PROBE_EVERY, probe).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return db_err(e),
                    Err(_) => {
                        return StoreError::Unavailable("change feed probe timed out".into());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse() {
        assert_eq!(parse_payload("token:42"), Change::Token(TokenId(42)));
        assert_eq!(
            parse_payload(&token_payload(TokenId(7))),
            Change::Token(TokenId(7))
        );
        assert_eq!(parse_payload("directory"), Change::Directory);
        assert_eq!(parse_payload(EVERYTHING), Change::Everything);
        assert_eq!(parse_payload("token:x"), Change::Everything);
        assert_eq!(parse_payload("something new"), Change::Everything);
        assert_eq!(
            parse_payload("barrier:a1.7"),
            Change::Barrier("a1.7".to_owned())
        );
        assert_eq!(parse_payload("barrier:"), Change::Everything);
        assert_eq!(
            parse_ack("ack:a1.7 b2"),
            Some(("a1.7".to_owned(), "b2".to_owned()))
        );
        assert_eq!(parse_ack("ack:a1.7"), None);
        assert_eq!(parse_ack("barrier:a1.7"), None);
    }
}
