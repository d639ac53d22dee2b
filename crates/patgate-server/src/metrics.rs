//! `/metrics` in Prometheus's text format (OpenMetrics), on its own listener (`--metrics-bind`),
//! so that what it tells (routes, volumes, the outbox) never faces the public side.
//!
//! Requests are counted by route template (axum's matched path, so the label set stays bounded
//! whatever clients send), method and status, with a latency histogram per route. What the app,
//! the store and the process know is read when Prometheus scrapes: verification outcomes (cache
//! hits and misses), job runs, the outbox, the store's ping latency, passwords being hashed, and
//! the resident memory.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use patgate_app::App;

use crate::ratelimit::Subject;
use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

/// What one request of a route template bumps: the template's latency histogram and its counter
/// for the request's method and status. A request finds them with one lookup of a fast hash
/// (the keys are the router's own templates, never what a client sends) instead of hashing its
/// labels into the two families with SipHash (`docs/benchmarks.md`, "Instructions per request").
struct RouteMetrics {
    /// The template, leaked once: the families' labels hold it as a `&'static str`.
    name: &'static str,
    latency: Histogram,
    /// Counters by method and status: the few a route answers with, so a short list.
    requests: RwLock<Vec<(&'static str, u16, Counter)>>,
}

/// Every route template seen so far and its metrics. The set is the router's templates (and
/// `unmatched`), so it is bounded by the route table, never by what clients send.
#[derive(Default)]
struct Routes(RwLock<HashMap<&'static str, Arc<RouteMetrics>, foldhash::fast::RandomState>>);

impl Routes {
    fn of(
        &self,
        route: &str,
        new: impl FnOnce(&'static str) -> RouteMetrics,
    ) -> Option<Arc<RouteMetrics>> {
        if let Some(known) = self.0.read().ok()?.get(route) {
            return Some(known.clone());
        }
        let mut routes = self.0.write().ok()?;
        if let Some(known) = routes.get(route) {
            return Some(known.clone());
        }
        let name: &'static str = Box::leak(route.to_owned().into_boxed_str());
        let metrics = Arc::new(new(name));
        routes.insert(name, metrics.clone());
        Some(metrics)
    }
}

impl RouteMetrics {
    fn counter(
        &self,
        method: &'static str,
        status: u16,
        new: impl FnOnce() -> Counter,
    ) -> Option<Counter> {
        let find = |list: &[(&'static str, u16, Counter)]| {
            list.iter()
                .find(|(m, s, _)| *m == method && *s == status)
                .map(|(_, _, c)| c.clone())
        };
        if let Some(known) = find(&self.requests.read().ok()?) {
            return Some(known);
        }
        let mut list = self.requests.write().ok()?;
        if let Some(known) = find(&list) {
            return Some(known);
        }
        let counter = new();
        list.push((method, status, counter.clone()));
        Some(counter)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// The process's metrics. Cheap to bump from the request path.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    rate_limited: Family<KindLabels, Counter>,
    bad_tokens_throttled: Counter,
    store_up: Gauge,
    store_ping_seconds: Gauge<f64, AtomicU64>,
    outbox: Family<StateLabels, Gauge>,
    hashing: Gauge,
    resident_bytes: Gauge,
    routes: Routes,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("patgate");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to the response's head, by route template",
            latency.clone(),
        );
        let rate_limited = Family::<KindLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "REST API requests refused for a spent rate limit, by whose budget (user, installation, address)",
            rate_limited.clone(),
        );
        let bad_tokens_throttled = Counter::default();
        registry.register(
            "bad_token_throttled",
            "Requests refused because their client address presented too many bad tokens",
            bad_tokens_throttled.clone(),
        );
        let store_up = Gauge::default();
        registry.register(
            "store_up",
            "1 when the database answered the scrape's ping, else 0",
            store_up.clone(),
        );
        let store_ping_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "store_ping_seconds",
            "How long the database took to answer the scrape's ping",
            store_ping_seconds.clone(),
        );
        let outbox = Family::<StateLabels, Gauge>::default();
        registry.register(
            "outbox_messages",
            "Messages in the outbox, by state (pending: not yet delivered; failed: given up)",
            outbox.clone(),
        );
        let hashing = Gauge::default();
        registry.register(
            "password_hashes_running",
            "Passwords being hashed now (argon2 holds 19 MiB each)",
            hashing.clone(),
        );
        let resident_bytes = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "The process's resident memory",
            resident_bytes.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            rate_limited,
            bad_tokens_throttled,
            store_up,
            store_ping_seconds,
            outbox,
            hashing,
            resident_bytes,
            routes: Routes::default(),
        }
    }

    /// Counts a request refused by the rate limit.
    pub fn rate_limited(&self, subject: Subject) {
        let kind = match subject {
            Subject::User(_) => "user",
            Subject::Installation(_) => "installation",
            Subject::Address(_) => "address",
        };
        self.rate_limited.get_or_create(&KindLabels { kind }).inc();
    }

    /// Counts a request refused by the bad-token throttle.
    pub fn bad_token_throttled(&self) {
        self.bad_tokens_throttled.inc();
    }

    /// Counts one answered request of `route` (its template).
    pub(crate) fn observe(
        &self,
        route: &str,
        method: &axum::http::Method,
        status: StatusCode,
        secs: f64,
    ) {
        let Some(route) = self.routes.of(route, |name| RouteMetrics {
            name,
            latency: (*self.latency.get_or_create(&RouteLabels { route: name })).clone(),
            requests: RwLock::default(),
        }) else {
            return;
        };
        route.latency.observe(secs);
        let method = static_method(method);
        let status = status.as_u16();
        let counter = route.counter(method, status, || {
            (*self.requests.get_or_create(&RequestLabels {
                route: route.name,
                method,
                status,
            }))
            .clone()
        });
        if let Some(counter) = counter {
            counter.inc();
        }
    }

    /// Reads what is read at scrape time, then encodes everything.
    pub async fn render(&self, app: &App) -> String {
        let started = Instant::now();
        let up = app.store().ping().await.is_ok();
        self.store_ping_seconds.set(started.elapsed().as_secs_f64());
        self.store_up.set(i64::from(up));
        if let Ok(counts) = app.store().outbox_counts().await {
            for (state, n) in [("pending", counts.pending), ("failed", counts.failed)] {
                self.outbox
                    .get_or_create(&StateLabels { state })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        self.hashing
            .set(i64::try_from(app.password_hashing().running()).unwrap_or(i64::MAX));
        if let Some(bytes) = resident_memory_bytes() {
            self.resident_bytes.set(bytes);
        }
        let mut out = String::new();
        let mut with_app = Registry::with_prefix("patgate");
        with_app.register_collector(Box::new(AppCollector(app.clone())));
        if prometheus_client::encoding::text::encode_registry(&mut out, &self.registry).is_err()
            || prometheus_client::encoding::text::encode_registry(&mut out, &with_app).is_err()
        {
            tracing::error!("encoding the metrics failed");
        }
        prometheus_client::encoding::text::encode_eof(&mut out).ok();
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn static_method(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The app's own counters, read as they are at each scrape.
struct AppCollector(App);

impl std::fmt::Debug for AppCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppCollector")
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: &'static str,
    outcome: &'static str,
}

impl Collector for AppCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.0.stats();
        let counter = ConstCounter::new(0u64);
        let mut verifications = encoder.encode_descriptor(
            "token_verifications",
            "Tokens presented, by outcome: cache_hit and cache_miss verified, refused did not",
            None,
            counter.metric_type(),
        )?;
        for (outcome, n) in [
            ("cache_hit", stats.verify_hits),
            ("cache_miss", stats.verify_misses),
            ("refused", stats.verify_refused),
        ] {
            ConstCounter::new(n)
                .encode(verifications.encode_family(&OutcomeLabels { outcome })?)?;
        }
        let mut jobs = encoder.encode_descriptor(
            "job_runs",
            "Scheduled job runs in this process, by job and outcome",
            None,
            counter.metric_type(),
        )?;
        for (job, finished, failed) in stats.job_runs {
            for (outcome, n) in [("finished", finished), ("failed", failed)] {
                ConstCounter::new(n).encode(jobs.encode_family(&JobLabels { job, outcome })?)?;
            }
        }
        Ok(())
    }
}

/// `VmRSS` from `/proc/self/status` (Linux); `None` elsewhere.
fn resident_memory_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The metrics listener's router: `GET /metrics`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(s): State<AppState>) -> Response {
    let body = s.metrics.render(&s.app).await;
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
