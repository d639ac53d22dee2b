//! Per-client-address counters over a fixed window: the abuse limits of endpoints that must not
//! be hammered (unauthenticated credential revocation, password guessing). Per process: several
//! replicas each count their own share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Throttle {
    limit: u32,
    window: Duration,
    hits: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Throttle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Throttle {
            limit,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `ip`; false once the address went over the limit in this window.
    pub fn hit(&self, ip: IpAddr) -> bool {
        let Ok(mut hits) = self.hits.lock() else {
            return false;
        };
        let now = Instant::now();
        let window = self.window;
        hits.retain(|_, (start, _)| now.duration_since(*start) < window);
        let entry = hits.entry(ip).or_insert((now, 0));
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.limit
    }

    /// Whether `ip` is over the limit, without counting.
    pub fn exceeded(&self, ip: IpAddr) -> bool {
        let Ok(hits) = self.hits.lock() else {
            return true;
        };
        hits.get(&ip).is_some_and(|(start, n)| {
            Instant::now().duration_since(*start) < self.window && *n >= self.limit
        })
    }
}

/// GitHub's abuse limit for `POST /credentials/revoke`: 60 requests an hour.
pub fn credential_revocation() -> Throttle {
    Throttle::new(60, Duration::from_secs(3600))
}

/// Failed password attempts an address may make in 15 minutes before every password attempt
/// from it, right or wrong, is refused until the window ends.
pub const PASSWORD_FAILURES: u32 = 10;

pub fn password_failures() -> Throttle {
    Throttle::new(PASSWORD_FAILURES, Duration::from_secs(15 * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_per_address_within_the_window() {
        let t = Throttle::new(2, Duration::from_secs(60));
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        assert!(t.hit(a));
        assert!(!t.exceeded(a));
        assert!(t.hit(a));
        assert!(t.exceeded(a));
        assert!(!t.hit(a));
        assert!(t.hit(b));
        let short = Throttle::new(1, Duration::from_millis(20));
        assert!(short.hit(a));
        assert!(!short.hit(a));
        std::thread::sleep(Duration::from_millis(30));
        assert!(short.hit(a));
    }
}
