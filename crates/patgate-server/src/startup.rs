//! Opening the store, building the app, serving HTTP.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

use patgate_app::auth::PasswordParams;
use patgate_app::{App, AppConfig, SystemClock};
use patgate_domain::token::TokenFormat;
use patgate_store::Store;
use patgate_store_sql::sqlite::SqliteStore;

use crate::api;
use crate::config::Settings;
use crate::net::serve::ConnectionLimits;
use crate::state::AppState;

/// Opens (and migrates) the store a database URL names.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let store = connect_store(settings, &settings.database_url()).await?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// Connects to the store a URL names, without migrating.
pub async fn connect_store(settings: &Settings, url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let url = url.to_owned();
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        if settings.database_url.is_none() {
            std::fs::create_dir_all(&settings.data_dir).with_context(|| {
                format!("creating data directory {}", settings.data_dir.display())
            })?;
        }
        Arc::new(
            SqliteStore::connect(&url)
                .await
                .with_context(|| format!("opening {url}"))?,
        )
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let options = patgate_store_sql::postgres::PgOptions {
            max_connections: settings.pg_max_connections,
            acquire_timeout: Duration::from_secs(settings.pg_acquire_timeout_secs),
            statement_timeout: Duration::from_secs(settings.pg_statement_timeout_secs),
            notify: settings.pg_notify,
            ..patgate_store_sql::postgres::PgOptions::default()
        };
        Arc::new(
            patgate_store_sql::postgres::PostgresStore::connect(&url, options)
                .await
                .with_context(|| format!("connecting to {}", redact(&url)))?,
        )
    } else {
        anyhow::bail!(
            "unsupported database URL {:?}: use sqlite://FILE or postgres://...",
            redact(&url)
        )
    };
    Ok(store)
}

/// A database URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub fn build_app(store: Arc<dyn Store>, settings: &Settings) -> anyhow::Result<App> {
    let token_format = TokenFormat::new(
        &settings.prefix_fine_grained,
        &settings.prefix_classic,
        &settings.prefix_app,
    )
    .context("token prefixes")?;
    let config = AppConfig {
        token_format,
        cache_ttl: Duration::from_secs(settings.cache_ttl_secs),
        cache_capacity: settings.cache_capacity,
        password_hashing: if settings.insecure_fast_passwords {
            PasswordParams::insecure_fast()
        } else {
            PasswordParams::default()
        },
        ..AppConfig::default()
    };
    Ok(App::new(store, Arc::new(SystemClock), config))
}

pub fn router(state: AppState) -> Router {
    let edge = Arc::new(crate::net::edge::Edge::of(&state));
    let store = state.app.clone();
    Router::new()
        // Liveness: the process serves requests. No database: a database outage must not make
        // an orchestrator restart healthy processes.
        .route("/healthz", get(|| async { "ok" }))
        // Readiness: this process can reach its database.
        .route(
            "/readyz",
            get(move || {
                let app = store.clone();
                async move {
                    match app.store().ping().await {
                        Ok(()) => (axum::http::StatusCode::OK, "ok"),
                        Err(_) => (
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            "database unavailable",
                        ),
                    }
                }
            }),
        )
        .merge(crate::git::router(state.clone()))
        .merge(crate::web::router(state.clone()))
        .fallback(api::fallback)
        // GitHub answers a method a path does not take like a path that does not exist.
        .method_not_allowed_fallback(api::fallback)
        .layer(axum::middleware::from_fn_with_state(
            edge.clone(),
            crate::net::edge::edge,
        ))
        // After the layer: the REST API has the edge inside its own middleware (one boxed
        // route fewer on its every request, `api::router`).
        .merge(api::router(state, edge))
}

/// The outbox's delivery worker, for `serve`.
pub struct DeliveryWorker {
    pub notifier: Arc<crate::notify::Notifier>,
    pub policy: patgate_app::delivery::DeliveryPolicy,
    pub poll: Duration,
}

/// Serves until ctrl-c / SIGTERM, flushing last-used times periodically and at the end, running
/// the scheduled jobs and (with `delivery`) delivering the outbox.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    jobs_interval: Duration,
    limits: ConnectionLimits,
    delivery: Option<DeliveryWorker>,
) -> anyhow::Result<()> {
    let app = state.app.clone();
    let worker = delivery.map(|d| {
        tokio::spawn(crate::notify::run_worker(
            app.clone(),
            d.notifier,
            holder(),
            d.policy,
            d.poll,
        ))
    });
    let follower = tokio::spawn({
        let app = app.clone();
        async move { app.follow_changes().await }
    });
    let jobs = tokio::spawn({
        let app = app.clone();
        let holder = holder();
        async move {
            let mut tick = tokio::time::interval(jobs_interval.max(Duration::from_secs(1)));
            loop {
                tick.tick().await;
                match app.run_due_jobs(&holder).await {
                    Ok(outcomes) => {
                        for o in outcomes.iter().filter(|o| o.ran) {
                            tracing::info!(job = o.job, period = %o.period, affected = o.affected, "job ran");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "scheduled jobs"),
                }
            }
        }
    });
    // This process's heartbeat: directory changes wait for the confirmation of every replica
    // that beats (PostgreSQL; a no-op on SQLite).
    let heartbeat = tokio::spawn({
        let app = app.clone();
        async move {
            let every = Duration::from_secs(patgate_store::HEARTBEAT_SECS.unsigned_abs());
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = app.store().heartbeat(app.now()).await {
                    tracing::warn!(error = %e, "recording the heartbeat");
                }
            }
        }
    });
    let flusher = tokio::spawn({
        let app = app.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                if let Err(e) = app.flush_last_used().await {
                    tracing::warn!(error = %e, "flushing last-used times");
                }
            }
        }
    });
    if let Some(git) = &state.git {
        // Every repository of the directory gets its bare repository before the first request.
        for org_or_user in state
            .app
            .store()
            .list_users()
            .await
            .unwrap_or_default()
            .iter()
            .map(|u| u.id)
            .chain(
                state
                    .app
                    .store()
                    .list_orgs()
                    .await
                    .unwrap_or_default()
                    .iter()
                    .map(|o| o.id),
            )
        {
            for repo in state
                .app
                .store()
                .repos_of_owner(org_or_user)
                .await
                .unwrap_or_default()
            {
                crate::git::ensure_bare_repo(git, &repo)
                    .await
                    .with_context(|| {
                        format!("creating the bare repository of {}", repo.full_name())
                    })?;
            }
        }
    }
    // TCP_NODELAY is set on every accepted connection: without it the end of a response can wait
    // ~40 ms for the client's delayed ACK, and git's short exchanges felt it most
    // (docs/benchmarks.md).
    crate::net::serve::serve(listener, router(state), limits, shutdown_signal())
        .await
        .context("serving HTTP")?;
    flusher.abort();
    follower.abort();
    jobs.abort();
    if let Some(w) = worker {
        w.abort();
    }
    heartbeat.abort();
    if let Err(e) = app.store().leave().await {
        tracing::warn!(error = %e, "leaving the replicas");
    }
    app.flush_last_used().await.ok();
    Ok(())
}

/// This process, as claims of jobs and messages name it.
pub fn holder() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "patgate".to_owned())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
