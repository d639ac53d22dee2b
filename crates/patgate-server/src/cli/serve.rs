//! `patgate serve`: the logging, the store and the app, the demo data, the listeners (the API
//! and, optionally, `/metrics`), the state the settings describe, then the server until a
//! signal stops it.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, anyhow};

use patgate_server::config::{DeliverySettings, NetSettings};
use patgate_server::state::AppState;
use patgate_server::{Settings, build_app, open_store};

/// The demo directory, part of the binary so that `serve --demo` works from anywhere.
const DEMO: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../demo/seed.toml"));

/// `demo`: load demo data first, from the given file or (`Some(None)`) the built-in one.
pub async fn serve(
    settings: &Settings,
    delivery: &DeliverySettings,
    bind: SocketAddr,
    public_url: Option<String>,
    demo: Option<Option<PathBuf>>,
    net: &NetSettings,
) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PATGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    match net.log_format {
        patgate_server::config::LogFormat::Text => {
            tracing_subscriber::fmt().with_env_filter(filter).init();
        }
        patgate_server::config::LogFormat::Json => {
            tracing_subscriber::fmt()
                .json()
                .with_current_span(true)
                .with_env_filter(filter)
                .init();
        }
    }
    let store = open_store(settings).await?;
    let app = build_app(store, settings)?;
    if let Some(demo_file) = &demo {
        let (text, source) = match demo_file {
            Some(file) => (
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?,
                file.display().to_string(),
            ),
            None => (DEMO.to_owned(), "the built-in demo/seed.toml".to_owned()),
        };
        let seed = patgate_app::seed::SeedFile::parse(&text)?;
        let report = app.load_seed(&seed).await?;
        println!(
            "demo data from {source}: {} created, {} updated, {} unchanged",
            report.created, report.updated, report.unchanged
        );
        for (name, state, secret) in &report.new_tokens {
            println!("  demo token {name} ({state}): {secret}");
        }
    }
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    let addr = listener.local_addr()?;
    let base_url = public_url
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned();
    // Recorded before the address is announced, so that whoever starts this replica
    // knows directory changes wait for it from then on.
    if let Err(e) = app.store().heartbeat(app.now()).await {
        tracing::warn!(error = %e, "recording the heartbeat");
    }
    println!(
        "patgate listening on http://{addr} (database {})",
        patgate_server::startup::redact(&settings.database_url())
    );
    let worker = if delivery.deliver {
        let notifier = patgate_server::notify::Notifier::new(
            delivery,
            &settings.data_dir,
            &base_url,
            app.store().clone(),
        )?;
        println!("email: {}", notifier.describe());
        Some(patgate_server::startup::DeliveryWorker {
            notifier: std::sync::Arc::new(notifier),
            policy: delivery.policy(),
            poll: std::time::Duration::from_secs(delivery.outbox_poll_secs.max(1)),
        })
    } else {
        None
    };
    let mut state = AppState::new(app, base_url, Some(settings.git_config()));
    state.trusted_proxies = std::sync::Arc::new(net.trusted_proxies.clone());
    if let Some(path) = &net.service_credentials_file {
        let services = patgate_server::service::ServiceCredentials::load(path)
            .map_err(|e| anyhow!("service credentials: {e}"))?;
        println!(
            "service credentials: {}",
            services.names().collect::<Vec<_>>().join(", ")
        );
        state.services = std::sync::Arc::new(services);
    }
    state.limits.request_timeout = std::time::Duration::from_secs(net.request_timeout_secs.max(1));
    state.rate_limits = std::sync::Arc::new(patgate_server::ratelimit::RateLimiter::new(
        net.rate_limits(),
        patgate_server::state::RATE_LIMITED_SUBJECTS,
    ));
    if let Some(addr) = net.metrics_bind {
        let metrics = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the metrics listener to {addr}"))?;
        println!("metrics: http://{}/metrics", metrics.local_addr()?);
        let router = patgate_server::metrics::router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics, router).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    patgate_server::serve(
        listener,
        state,
        std::time::Duration::from_secs(settings.jobs_interval_secs),
        net.connection_limits(),
        worker,
    )
    .await
}
