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
            Change::Everything => self.forget_all(),
        }
    }

    /// Follows the store's change feed until it ends. Returns at once for single-process
    /// backends (no feed).
    pub async fn follow_changes(&self) {
        let Some(mut feed) = self.store().changes() else {
            return;
        };
        loop {
            match feed.recv().await {
                Ok(change) => self.apply_change(&change),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "change feed lagged; forgetting every cached entry");
                    self.forget_all();
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
