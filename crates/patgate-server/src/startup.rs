//! Opening the store, building the app, serving HTTP.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use patgate_app::auth::PasswordParams;
use patgate_app::{App, AppConfig, SystemClock};
use patgate_domain::token::TokenFormat;
use patgate_store::Store;
use patgate_store_sqlite::SqliteStore;

use crate::api;
use crate::config::Settings;
use crate::state::AppState;

/// Opens (and migrates) the store a database URL names.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database_url();
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
        anyhow::bail!(
            "PostgreSQL is not available in this build yet (issue 5); use a sqlite:// URL"
        )
    } else {
        anyhow::bail!("unsupported database URL {url:?}: use sqlite://FILE or postgres://...")
    };
    store.migrate().await.context("applying migrations")?;
    Ok(store)
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
    let store = state.app.clone();
    Router::new()
        .route(
            "/healthz",
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
        .merge(api::router(state))
        .fallback(api::fallback)
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
            axum::http::header::COOKIE,
        ]))
}

/// Serves until ctrl-c / SIGTERM, flushing last-used times periodically and at the end.
pub async fn serve(listener: TcpListener, state: AppState) -> anyhow::Result<()> {
    let app = state.app.clone();
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
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving HTTP")?;
    flusher.abort();
    app.flush_last_used().await.ok();
    Ok(())
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
