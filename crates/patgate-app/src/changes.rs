//! Honouring changes made by other processes: the store announces them (PostgreSQL
//! `LISTEN/NOTIFY`) and this process drops what it cached. The cache TTL bounds staleness when
//! announcements are unavailable.

use patgate_store::Change;

use crate::App;

impl App {
    /// Drops what a change makes stale.
    pub fn apply_change(&self, change: &Change) {
        match change {
            Change::Token(id) => self.forget_token(*id),
            Change::Directory => self.directory_changed(),
            Change::Everything => {
                self.forget_all();
                self.directory_changed();
            }
            // Nothing cached: a barrier only asks for a confirmation (`follow_changes`).
            Change::Barrier(_) => {}
        }
    }

    /// Follows the store's change feed until it ends. Returns at once for single-process
    /// backends (no feed). A barrier is confirmed once every change received before it is
    /// applied, which the feed's order guarantees here.
    pub async fn follow_changes(&self) {
        let Some(mut feed) = self.store().changes() else {
            return;
        };
        loop {
            match feed.recv().await {
                Ok(Change::Barrier(id)) => {
                    if let Err(error) = self.store().acknowledge(&id).await {
                        tracing::warn!(%error, "could not acknowledge a barrier");
                    }
                }
                Ok(change) => self.apply_change(&change),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "change feed lagged; forgetting every cached entry");
                    self.forget_all();
                    self.directory_changed();
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
