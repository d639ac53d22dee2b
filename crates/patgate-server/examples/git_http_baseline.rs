//! The benchmark's baseline: `git http-backend` behind the same axum, tokio and CGI adapter
//! (`patgate_server::git::cgi::run`) that patgate uses, with no authentication, no authorization,
//! no directory lookup and no hook environment. Measuring a clone through this and through
//! `patgate serve` isolates what patgate adds from the cost of CGI and git itself
//! (`scripts/bench-git.sh`, docs/benchmarks.md).
//!
//! ```sh
//! cargo run --release --example git_http_baseline -- DIR-OF-BARE-REPOS 127.0.0.1:8081
//! git clone http://127.0.0.1:8081/NAME.git     # serves DIR-OF-BARE-REPOS/NAME.git
//! ```
//!
//! `--nodelay` sets `TCP_NODELAY` on accepted connections. `patgate serve` does not (it uses
//! `axum::serve` as it comes), so without the flag the transport is the same as patgate's.
//!
//! Anyone who reaches it can read and push every repository of the directory: bind it to
//! loopback only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;

use patgate_server::git::cgi;

#[derive(Clone)]
struct Baseline {
    root: Arc<PathBuf>,
    git: Arc<str>,
}

const USAGE: &str =
    "usage: git_http_baseline DIR-OF-BARE-REPOS [BIND-ADDRESS, default 127.0.0.1:8081] [--nodelay]";

fn main() -> anyhow::Result<()> {
    let (flags, mut args): (Vec<_>, Vec<_>) = std::env::args_os()
        .skip(1)
        .partition(|a| a.to_str().is_some_and(|a| a.starts_with("--")));
    let nodelay = match flags.iter().map(|f| f.to_str()).collect::<Vec<_>>()[..] {
        [] => false,
        [Some("--nodelay")] => true,
        _ => bail!("{USAGE}"),
    };
    if args.is_empty() || args.len() > 2 {
        bail!("{USAGE}");
    }
    let bind = (args.len() == 2).then(|| args.remove(1));
    let root = args.remove(0);
    let root = std::fs::canonicalize(&root)
        .with_context(|| format!("reading {}", PathBuf::from(&root).display()))?;
    let bind: SocketAddr = bind
        .as_deref()
        .map_or(Some("127.0.0.1:8081"), |b| b.to_str())
        .context("the bind address is not UTF-8")?
        .parse()
        .context("the bind address, e.g. 127.0.0.1:8081")?;
    let state = Baseline {
        root: Arc::new(root),
        git: std::env::var("PATGATE_GIT")
            .unwrap_or_else(|_| "git".to_owned())
            .into(),
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(bind, nodelay, state))
}

async fn serve(bind: SocketAddr, nodelay: bool, state: Baseline) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/{repo}/info/refs", get(info_refs))
        .route("/{repo}/git-upload-pack", post(upload_pack))
        .route("/{repo}/git-receive-pack", post(receive_pack))
        .layer(DefaultBodyLimit::disable())
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    println!(
        "git_http_baseline listening on http://{} (repositories in {}, TCP_NODELAY {})",
        listener.local_addr()?,
        state.root.display(),
        if nodelay { "on" } else { "off" }
    );
    let listener = listener.tap_io(move |tcp| {
        if nodelay && let Err(e) = tcp.set_nodelay(true) {
            eprintln!("setting TCP_NODELAY: {e}");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("serving HTTP")
}

async fn info_refs(state: State<Baseline>, repo: UrlPath<String>, req: Request) -> Response {
    handle(state, repo, req, "info/refs").await
}

async fn upload_pack(state: State<Baseline>, repo: UrlPath<String>, req: Request) -> Response {
    handle(state, repo, req, "git-upload-pack").await
}

async fn receive_pack(state: State<Baseline>, repo: UrlPath<String>, req: Request) -> Response {
    handle(state, repo, req, "git-receive-pack").await
}

async fn handle(
    State(state): State<Baseline>,
    UrlPath(repo): UrlPath<String>,
    req: Request,
    rest: &str,
) -> Response {
    // One path segment, so no way out of the root; `http-backend` checks the rest.
    if repo.starts_with('.') {
        return StatusCode::NOT_FOUND.into_response();
    }
    let repo = repo.strip_suffix(".git").unwrap_or(&repo);
    let (parts, body) = req.into_parts();
    let remote_addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let text = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let request = cgi::CgiRequest {
        git: &state.git,
        project_root: &state.root,
        path_info: format!("/{repo}.git/{rest}"),
        method: if parts.method == Method::POST {
            "POST"
        } else {
            "GET"
        },
        query: parts.uri.query().unwrap_or("").to_owned(),
        content_type: text(header::CONTENT_TYPE),
        content_length: text(header::CONTENT_LENGTH),
        content_encoding: text(header::CONTENT_ENCODING),
        git_protocol: parts
            .headers
            .get("git-protocol")
            .and_then(|v| v.to_str().ok()),
        remote_user: "anonymous",
        remote_addr,
        extra_env: Vec::new(),
    };
    match cgi::run(request, body).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("git http-backend: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
