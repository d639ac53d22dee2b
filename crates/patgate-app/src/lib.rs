//! patgate's use cases over the store: the directory, tokens, verification with its cache, keys.
//!
//! Handlers in `patgate-server` call these; nothing here knows HTTP. Time comes from an injected
//! `Clock`, so tests move it for expiry.

use std::sync::Arc;

use patgate_domain::token::TokenFormat;
use patgate_store::Store;

pub mod access;
pub mod auth;
pub mod authorize;
mod cache;
pub mod changes;
pub mod clock;
pub mod delivery;
pub mod directory;
pub mod emails;
pub mod enterprise;
pub mod error;
pub mod governance;
pub mod hooks;
pub mod jobs;
pub mod keys;
pub mod notify;
pub mod seed;
pub mod sessions;
pub mod stats;
pub mod tokens;
pub mod verify;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::AppError;

/// Tunables of the application layer.
#[derive(Clone, Debug)]
pub struct AppConfig {
    pub token_format: TokenFormat,
    /// How long a verified token or a directory fact may be served from memory before it is
    /// read again: the bound on how stale another replica's change can be.
    pub cache_ttl: std::time::Duration,
    pub cache_capacity: u64,
    /// argon2 cost; tests use cheap parameters.
    pub password_hashing: auth::PasswordParams,
    /// How many passwords are hashed at once at most (each argon2 run holds its memory cost,
    /// 19 MiB by default); further sign-ins wait their turn.
    pub password_hashing_concurrency: usize,
    /// How long a web session lasts (idle, and in all).
    pub session_lifetime: patgate_domain::session::SessionLifetime,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            token_format: TokenFormat::default(),
            cache_ttl: std::time::Duration::from_secs(5),
            cache_capacity: 100_000,
            password_hashing: auth::PasswordParams::default(),
            password_hashing_concurrency: std::thread::available_parallelism()
                .map_or(2, std::num::NonZeroUsize::get),
            session_lifetime: patgate_domain::session::SessionLifetime::default(),
        }
    }
}

/// The application: cheap to clone (everything is shared).
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: AppConfig,
    verify: verify::VerifyCache,
    access: access::AccessCache,
    standing: directory::UserStandingCache,
    password_permits: tokio::sync::Semaphore,
    password_hashing: auth::HashingGauge,
    outbox_wakeup: tokio::sync::Notify,
    stats: stats::AppStats,
}

impl App {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: AppConfig) -> App {
        let verify = verify::VerifyCache::new(config.cache_ttl, config.cache_capacity);
        let access = access::AccessCache::new(config.cache_ttl, config.cache_capacity);
        let standing = directory::UserStandingCache::new(config.cache_ttl, config.cache_capacity);
        let password_permits =
            tokio::sync::Semaphore::new(config.password_hashing_concurrency.max(1));
        App {
            inner: Arc::new(Inner {
                store,
                clock,
                config,
                verify,
                access,
                standing,
                password_permits,
                password_hashing: auth::HashingGauge::default(),
                outbox_wakeup: tokio::sync::Notify::new(),
                stats: stats::AppStats::default(),
            }),
        }
    }

    /// What the app has counted since it started (`/metrics`).
    pub fn stats(&self) -> stats::StatsSnapshot {
        self.inner.stats.snapshot()
    }

    pub(crate) fn counters(&self) -> &stats::AppStats {
        &self.inner.stats
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    pub fn config(&self) -> &AppConfig {
        &self.inner.config
    }

    pub(crate) fn password_permits(&self) -> &tokio::sync::Semaphore {
        &self.inner.password_permits
    }

    /// How many password hashes run now, and the most that ever ran at once.
    pub fn password_hashing(&self) -> &auth::HashingGauge {
        &self.inner.password_hashing
    }

    pub fn token_format(&self) -> &TokenFormat {
        &self.inner.config.token_format
    }

    /// Forgets every cached directory fact (after any directory change).
    pub fn directory_changed(&self) {
        self.inner.access.clear();
        self.inner.standing.clear();
    }
}
