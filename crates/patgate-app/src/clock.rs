//! Where time comes from. Everything that depends on time asks a `Clock`, so tests can move it.

use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

pub trait Clock: Send + Sync {
    /// Now, truncated to whole seconds (GitHub's precision, and the store's).
    fn now(&self) -> OffsetDateTime;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

thread_local! {
    /// The last second this thread turned into an `OffsetDateTime`: building one costs more than
    /// reading the system clock, and a busy thread asks many times a second.
    static LAST_SECOND: std::cell::Cell<(i64, OffsetDateTime)> =
        const { std::cell::Cell::new((i64::MIN, OffsetDateTime::UNIX_EPOCH)) };
}

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        // The coarse real-time clock (a few milliseconds' resolution, a fraction of the cost of
        // the precise one): patgate keeps whole seconds, and this runs on every request.
        let secs =
            i64::try_from(coarsetime::Clock::now_since_epoch().as_secs()).unwrap_or(i64::MAX);
        LAST_SECOND.with(|last| {
            let (cached_secs, cached) = last.get();
            if cached_secs == secs {
                return cached;
            }
            let now = OffsetDateTime::from_unix_timestamp(secs)
                .unwrap_or_else(|_| truncate(OffsetDateTime::now_utc()));
            last.set((secs, now));
            now
        })
    }
}

fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Mutex::new(truncate(start)))
    }

    pub fn advance(&self, by: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }

    pub fn set(&self, to: OffsetDateTime) {
        if let Ok(mut t) = self.0.lock() {
            *t = truncate(to);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|poisoned| *poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_whole_seconds_of_now() {
        let before = OffsetDateTime::now_utc();
        let now = SystemClock.now();
        let after = OffsetDateTime::now_utc();
        assert_eq!(now.nanosecond(), 0);
        assert_eq!(now.offset(), time::UtcOffset::UTC);
        assert!(
            truncate(before) <= now && now <= after,
            "{before} {now} {after}"
        );
    }
}
