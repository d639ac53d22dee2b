//! The in-process caches behind verification and authorization: bounded (`quick_cache`, S3-FIFO),
//! each entry stamped with the time it was read from the store, and invalidation that takes
//! effect at once.
//!
//! * **Time to live.** Measured on the app's `Clock` in whole seconds (the caller passes the
//!   `now` it already read, so a hit costs no extra clock reading): an entry is served while
//!   `0 <= now - cached_at < ttl`, so it is never older than the configured TTL; a TTL under one
//!   second disables caching, and a clock that steps backwards makes entries stale rather than
//!   immortal.
//! * **Invalidation.** `retain` and `clear` drop entries before they return. A reader that missed,
//!   read the store and inserts afterwards could put back what a concurrent invalidation just
//!   dropped; so a reader takes a [`Ticket`] before reading the store, and an insert whose ticket
//!   predates an invalidation is discarded (checked before and after the insert, so that either
//!   the invalidation sees the entry or the reader sees the invalidation).

use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Clone)]
struct Entry<V> {
    value: V,
    cached_at: i64,
}

/// Taken before reading the store for an entry to insert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

pub(crate) struct TtlCache<K, V> {
    entries: quick_cache::sync::Cache<K, Entry<V>>,
    ttl_secs: i64,
    /// Bumped by every invalidation.
    generation: AtomicU64,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(ttl: Duration, capacity: u64) -> Self {
        TtlCache {
            entries: quick_cache::sync::Cache::new(
                usize::try_from(capacity).unwrap_or(usize::MAX).max(1),
            ),
            ttl_secs: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
            generation: AtomicU64::new(0),
        }
    }

    /// The cached value, if it is younger than the TTL at `now` (Unix seconds).
    pub(crate) fn get(&self, key: &K, now: i64) -> Option<V> {
        let entry = self.entries.get(key)?;
        let age = now.saturating_sub(entry.cached_at);
        (0..self.ttl_secs).contains(&age).then_some(entry.value)
    }

    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::SeqCst))
    }

    /// Caches `value`, read from the store at `now` after `ticket` was taken, unless an
    /// invalidation ran since.
    pub(crate) fn insert(&self, ticket: Ticket, key: K, value: V, now: i64) {
        if self.ticket() != ticket {
            return;
        }
        self.entries.insert(
            key.clone(),
            Entry {
                value,
                cached_at: now,
            },
        );
        if self.ticket() != ticket {
            self.entries.remove(&key);
        }
    }

    /// Drops every entry whose value fails `keep`.
    pub(crate) fn retain(&self, keep: impl Fn(&V) -> bool) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.retain(|_, e| keep(&e.value));
    }

    pub(crate) fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(ttl: u64) -> TtlCache<u32, &'static str> {
        TtlCache::new(Duration::from_secs(ttl), 100)
    }

    #[test]
    fn entries_live_for_the_ttl_and_no_longer() {
        let c = cache(5);
        c.insert(c.ticket(), 1, "one", 100);
        assert_eq!(c.get(&1, 100), Some("one"));
        assert_eq!(c.get(&1, 104), Some("one"));
        assert_eq!(c.get(&1, 105), None);
        // A clock that went backwards does not make an entry immortal.
        assert_eq!(c.get(&1, 99), None);
        assert_eq!(c.get(&2, 100), None);
        // Under a second: nothing is served from the cache.
        let off = TtlCache::new(Duration::from_millis(900), 100);
        off.insert(off.ticket(), 1, "one", 100);
        assert_eq!(off.get(&1, 100), None);
    }

    #[test]
    fn invalidation_drops_entries_at_once() {
        let c = cache(5);
        for k in 0..10 {
            c.insert(c.ticket(), k, if k % 2 == 0 { "even" } else { "odd" }, 100);
        }
        c.retain(|v| *v != "even");
        assert_eq!(c.get(&2, 100), None);
        assert_eq!(c.get(&3, 100), Some("odd"));
        c.clear();
        assert_eq!(c.get(&3, 100), None);
    }

    #[test]
    fn an_insert_that_raced_an_invalidation_is_discarded() {
        let c = cache(5);
        // A reader takes its ticket and reads the store (old data)...
        let ticket = c.ticket();
        // ...an invalidation runs meanwhile...
        c.retain(|_| false);
        // ...and the old data is not cached.
        c.insert(ticket, 1, "stale", 100);
        assert_eq!(c.get(&1, 100), None);
        // A reader that started after the invalidation caches normally.
        c.insert(c.ticket(), 1, "fresh", 100);
        assert_eq!(c.get(&1, 100), Some("fresh"));
    }
}
