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

/// A background thread refreshes a shared "recent" time every `UPDATE_MS`; reading it is an atomic
/// load, where reading the system clock costs a call into the kernel (tens of nanoseconds, on
/// every request, twice). patgate keeps whole seconds, so 50 ms of lag is invisible.
const UPDATE_MS: u64 = 50;

static UPDATER: std::sync::OnceLock<Option<coarsetime::Updater>> = std::sync::OnceLock::new();

fn recent_secs() -> u64 {
    match UPDATER.get_or_init(|| coarsetime::Updater::new(UPDATE_MS).start().ok()) {
        Some(_) => coarsetime::Clock::recent_since_epoch().as_secs(),
        // No updater thread: read the clock itself.
        None => coarsetime::Clock::now_since_epoch().as_secs(),
    }
}

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        let secs = i64::try_from(recent_secs()).unwrap_or(i64::MAX);
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
        // The shared time lags the system clock by at most the update interval.
        let lag = Duration::milliseconds(i64::try_from(UPDATE_MS).unwrap_or(0) + 10);
        assert!(
            truncate(before - lag) <= now && now <= after,
            "{before} {now} {after}"
        );
    }

    #[test]
    fn the_system_clock_keeps_moving() {
        let first = SystemClock.now();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(SystemClock.now() > first);
    }
}
