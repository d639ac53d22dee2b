use std::sync::Arc;

use patgate_app::App;

use crate::net::client::TrustedProxies;
use crate::ratelimit::{RateLimitSettings, RateLimiter};
use crate::throttle::Throttles;

/// What every handler gets: one shared allocation, since axum clones the state for every
/// extractor and middleware of every request (cloning the fields one by one cost a `String`
/// and a dozen reference counts each time: 8 % of the CPU of `GET /user` at the maximum).
/// Reads go through `Deref`; setting a field (at startup, in tests) goes through `DerefMut`,
/// which copies the settings if they are already shared, so a change never reaches another
/// holder.
#[derive(Clone)]
pub struct AppState(Arc<StateParts>);

impl std::ops::Deref for AppState {
    type Target = StateParts;
    fn deref(&self) -> &StateParts {
        &self.0
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut StateParts {
        Arc::make_mut(&mut self.0)
    }
}

/// The fields of [`AppState`].
#[derive(Clone)]
pub struct StateParts {
    pub app: App,
    /// The externally visible base URL, for the `url` fields of responses (no trailing slash).
    pub base_url: String,
    /// The git gateway's storage; `None` disables git over HTTP.
    pub git: Option<crate::git::GitConfig>,
    /// The abuse limits (per process): password guessing, credential revocation.
    pub throttles: Arc<Throttles>,
    /// The reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: Arc<TrustedProxies>,
    pub limits: RequestLimits,
    /// The platform's services that may call the directory and authorization APIs.
    pub services: Arc<crate::service::ServiceCredentials>,
    /// The REST API's primary rate limits (per process).
    pub rate_limits: Arc<RateLimiter>,
    /// What `/metrics` reports (on its own listener, `--metrics-bind`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The JSON of the hottest answers, rendered once per version of their facts.
    pub rendered: Arc<crate::api::rendered::RenderedBodies>,
}

/// How many users, installations and anonymous addresses the rate limiter remembers at once.
pub const RATE_LIMITED_SUBJECTS: usize = 200_000;

/// Limits on API requests (git requests stream and are exempt).
#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    /// How long an API request may take, its body included (408 after).
    pub request_timeout: std::time::Duration,
    /// The largest JSON body an API request may carry (413 beyond).
    pub max_body_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            request_timeout: std::time::Duration::from_secs(60),
            max_body_bytes: 1024 * 1024,
        }
    }
}

impl AppState {
    /// A state with fresh throttles, no trusted proxy and no service credential.
    pub fn new(app: App, base_url: String, git: Option<crate::git::GitConfig>) -> Self {
        AppState(Arc::new(StateParts {
            app,
            base_url,
            git,
            throttles: Arc::new(Throttles::default()),
            trusted_proxies: Arc::new(TrustedProxies::default()),
            limits: RequestLimits::default(),
            services: Arc::default(),
            rate_limits: Arc::new(RateLimiter::new(
                RateLimitSettings::default(),
                RATE_LIMITED_SUBJECTS,
            )),
            metrics: Arc::default(),
            rendered: Arc::default(),
        }))
    }
}
