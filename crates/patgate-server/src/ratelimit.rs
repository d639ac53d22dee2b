//! GitHub's primary rate limit on the REST API (reference §2.3): each user gets a number of
//! requests an hour, shared by all their tokens; an app installation gets its own; anonymous
//! requests are counted per client address. Every API response says where its caller stands
//! (`X-RateLimit-Limit`, `-Remaining`, `-Used`, `-Reset`, `-Resource`), a request past the limit
//! is answered 403 with GitHub's message, and `GET /rate_limit` reports without counting.
//!
//! Counting is per process, in memory, in fixed windows of an hour that start at a subject's
//! first request (as GitHub's do). Several replicas each count their own share: the limit a
//! client meets behind a load balancer is up to the number of replicas times the setting
//! (docs/operations.md).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

const SHARDS: usize = 16;

/// Whose requests a window counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A user: every personal access token of theirs.
    User(i64),
    /// App installation tokens, by the organization they act for (the installations of one
    /// organization share its budget).
    Installation(i64),
    /// Anonymous requests from one client address.
    Address(IpAddr),
}

/// Where a subject stands in its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub used: u32,
    /// When the window ends, in Unix seconds.
    pub reset: i64,
}

impl Quota {
    pub fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}

/// The limits of one process.
#[derive(Clone, Copy, Debug)]
pub struct RateLimitSettings {
    /// Requests an hour per user (GitHub: 5 000).
    pub per_user: u32,
    /// Requests an hour per app installation (GitHub: 5 000).
    pub per_installation: u32,
    /// Anonymous requests an hour per client address (GitHub: 60).
    pub anonymous: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            per_user: 5_000,
            per_installation: 5_000,
            anonymous: 60,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Window {
    /// Unix seconds.
    start: i64,
    used: u32,
}

pub struct RateLimiter {
    settings: RateLimitSettings,
    window: i64,
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<Mutex<HashMap<Subject, Window>>>,
}

impl RateLimiter {
    /// At most `capacity` subjects are remembered (when full, ended windows go first, then the
    /// oldest: a forgotten subject starts a fresh window, which errs towards the client).
    pub fn new(settings: RateLimitSettings, capacity: usize) -> RateLimiter {
        RateLimiter {
            settings,
            window: i64::try_from(Duration::from_secs(3600).as_secs()).unwrap_or(3600),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: std::collections::hash_map::RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn settings(&self) -> RateLimitSettings {
        self.settings
    }

    fn limit_of(&self, s: Subject) -> u32 {
        match s {
            Subject::User(_) => self.settings.per_user,
            Subject::Installation(_) => self.settings.per_installation,
            Subject::Address(_) => self.settings.anonymous,
        }
    }

    fn shard(&self, s: &Subject) -> &Mutex<HashMap<Subject, Window>> {
        let i = (self.hasher.hash_one(s) % SHARDS as u64) as usize;
        &self.shards[i]
    }

    /// Counts one request of `subject` at `now` (Unix seconds): `Ok` with the quota after it,
    /// or `Err` with the quota when the window is used up (the request is not counted).
    pub fn charge(&self, subject: Subject, now: i64) -> Result<Quota, Quota> {
        let limit = self.limit_of(subject);
        let Ok(mut map) = self.shard(&subject).lock() else {
            return Err(Quota {
                limit,
                used: limit,
                reset: now + self.window,
            });
        };
        let window = self.window;
        if !map.contains_key(&subject) && map.len() >= self.per_shard {
            map.retain(|_, w| now - w.start < window);
            if map.len() >= self.per_shard
                && let Some(oldest) = map.iter().min_by_key(|(_, w)| w.start).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        let w = map.entry(subject).or_insert(Window {
            start: now,
            used: 0,
        });
        if now - w.start >= window || now < w.start {
            *w = Window {
                start: now,
                used: 0,
            };
        }
        let quota = |used| Quota {
            limit,
            used,
            reset: w.start + window,
        };
        if w.used >= limit {
            return Err(quota(w.used));
        }
        w.used += 1;
        Ok(quota(w.used))
    }

    /// Where `subject` stands, without counting (`GET /rate_limit`).
    pub fn peek(&self, subject: Subject, now: i64) -> Quota {
        let limit = self.limit_of(subject);
        let fresh = Quota {
            limit,
            used: 0,
            reset: now + self.window,
        };
        let Ok(map) = self.shard(&subject).lock() else {
            return fresh;
        };
        match map.get(&subject) {
            Some(w) if now - w.start < self.window && now >= w.start => Quota {
                limit,
                used: w.used.min(limit),
                reset: w.start + self.window,
            },
            _ => fresh,
        }
    }
}

/// GitHub's documentation of the limits, named by every refusal.
pub const DOCUMENTATION_URL: &str =
    "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api";

impl Subject {
    /// GitHub's message when this subject's window is used up.
    pub fn exceeded_message(&self) -> String {
        match self {
            Subject::User(id) => format!("API rate limit exceeded for user ID {id}."),
            Subject::Installation(org) => format!(
                "API rate limit exceeded for the app installations of organization ID {org}."
            ),
            Subject::Address(ip) => format!(
                "API rate limit exceeded for {ip}. (But here's the good news: Authenticated \
                 requests get a higher rate limit. Check out the documentation for more details.)"
            ),
        }
    }
}

/// Whether requests to `path` count against the REST API's limit. The platform's own routes
/// (directory, authorization, introspection, forward auth) answer a service, whose traffic is
/// the platform's to shape; `GET /rate_limit` is free, as on GitHub; `/credentials/revoke` has
/// its own limit, so that a spent anonymous budget cannot stop a leaked token being reported.
pub fn is_charged(path: &str) -> bool {
    const FREE: [&str; 6] = [
        "/rate_limit",
        "/openapi.json",
        "/credentials/revoke",
        "/authorize",
        "/introspect",
        "/forward-auth",
    ];
    !(FREE
        .iter()
        .any(|free| path == *free || path.strip_prefix(free).is_some_and(|r| r.starts_with('/')))
        || path.starts_with("/admin/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_user: u32) -> RateLimiter {
        RateLimiter::new(
            RateLimitSettings {
                per_user,
                per_installation: 7,
                anonymous: 2,
            },
            1_000,
        )
    }

    #[test]
    fn a_user_has_a_budget_an_hour_and_is_refused_past_it_until_the_window_ends() {
        let l = limiter(3);
        let alice = Subject::User(1);
        let t0 = 1_800_000_000;
        assert_eq!(
            l.charge(alice, t0),
            Ok(Quota {
                limit: 3,
                used: 1,
                reset: t0 + 3600
            })
        );
        assert_eq!(l.charge(alice, t0 + 10).map(|q| q.remaining()), Ok(1));
        assert_eq!(l.charge(alice, t0 + 20).map(|q| q.remaining()), Ok(0));
        let refused = l.charge(alice, t0 + 30).unwrap_err();
        assert_eq!((refused.remaining(), refused.reset), (0, t0 + 3600));
        // A refused request is not counted; the peek counts nothing either.
        assert_eq!(l.peek(alice, t0 + 40).used, 3);
        // Another user is not affected.
        assert_eq!(l.charge(Subject::User(2), t0 + 40).map(|q| q.used), Ok(1));
        // The window ends an hour after its first request.
        assert_eq!(l.charge(alice, t0 + 3600).map(|q| q.used), Ok(1));
    }

    #[test]
    fn anonymous_requests_count_per_address_and_installations_have_their_own_limit() {
        let l = limiter(3);
        let a = Subject::Address([198, 51, 100, 1].into());
        let b = Subject::Address([198, 51, 100, 2].into());
        assert!(l.charge(a, 0).is_ok());
        assert!(l.charge(a, 0).is_ok());
        assert!(l.charge(a, 0).is_err());
        assert!(l.charge(b, 0).is_ok());
        assert_eq!(l.peek(Subject::Installation(9), 0).limit, 7);
    }

    #[test]
    fn the_platform_routes_and_the_rate_limit_itself_are_free() {
        for free in [
            "/rate_limit",
            "/authorize",
            "/authorize/batch",
            "/introspect",
            "/forward-auth",
            "/forward-auth/repos/acme/api",
            "/admin/users",
            "/credentials/revoke",
        ] {
            assert!(!is_charged(free), "{free}");
        }
        for charged in [
            "/user",
            "/repos/acme/api",
            "/authorizations",
            "/rate_limits",
            "/authorized",
        ] {
            assert!(is_charged(charged), "{charged}");
        }
    }

    #[test]
    fn memory_stays_bounded_and_forgetting_errs_towards_the_client() {
        let l = RateLimiter::new(
            RateLimitSettings {
                per_user: 1,
                ..RateLimitSettings::default()
            },
            32,
        );
        for u in 0..10_000 {
            assert!(l.charge(Subject::User(u), 0).is_ok());
        }
        let kept: usize = l
            .shards
            .iter()
            .map(|s| s.lock().map_or(0, |m| m.len()))
            .sum();
        assert!(kept <= 32 + SHARDS, "{kept} subjects remembered");
    }
}
