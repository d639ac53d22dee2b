//! Git over HTTP with personal access tokens: `/{owner}/{repo}.git/info/refs`, `git-upload-pack`
//! and `git-receive-pack`, served by `git http-backend` after patgate has authenticated the token
//! (Basic auth: any non-empty username, the token as password) and authorized the request with
//! the same rules as the REST API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use patgate_app::AppError;
use patgate_app::access::RepoFacts;
use patgate_app::verify::VerifiedToken;
use patgate_domain::authz::{DenyReason, Need};
use patgate_domain::catalog::{Level, Permission};
use patgate_domain::model::{Repository, TokenGrant};

use crate::api::extract::{Presented, presented};
use crate::state::AppState;

pub mod cgi;

/// Where bare repositories live and which `git` runs them.
#[derive(Clone, Debug)]
pub struct GitConfig {
    pub root: PathBuf,
    pub git: String,
}

/// The pre-receive hook that refuses workflow changes without the `workflows` permission
/// (fine-grained) or `workflow` scope (classic). patgate tells it what the token may do through
/// `PATGATE_WORKFLOWS`; pushes that do not come through patgate (no variable) are not checked.
const PRE_RECEIVE: &str = r#"#!/bin/sh
# Installed by patgate. Refuses changes under .github/workflows/ when the token may not make them.
[ -z "$PATGATE_WORKFLOWS" ] && exit 0
[ "$PATGATE_WORKFLOWS" = "allowed" ] && exit 0
zero=0000000000000000000000000000000000000000
status=0
while read old new ref; do
  case "$new" in *[!0]*) ;; *) continue ;; esac
  case "$old" in
    *[!0]*) files=$(git diff --name-only "$old" "$new" -- .github/workflows) ;;
    *) files=$(git log --format= --name-only "$new" --not --all -- .github/workflows) ;;
  esac
  for f in $files; do
    case "$f" in
      .github/workflows/*)
        if [ "$PATGATE_WORKFLOWS" = "no-scope" ]; then
          echo "refusing to allow a Personal Access Token to create or update workflow \`$f\` without \`workflow\` scope" >&2
        else
          echo "refusing to allow a Personal Access Token to create or update workflow \`$f\` without \`workflows\` permission" >&2
        fi
        status=1 ;;
    esac
  done
done
exit $status
"#;

fn repo_dir(root: &Path, repo: &Repository) -> PathBuf {
    root.join(format!("{}.git", repo.id.0))
}

/// Creates the bare repository of a directory repository if it does not exist yet.
pub async fn ensure_bare_repo(config: &GitConfig, repo: &Repository) -> std::io::Result<PathBuf> {
    let dir = repo_dir(&config.root, repo);
    if !dir.join("HEAD").exists() {
        tokio::fs::create_dir_all(&config.root).await?;
        let out = tokio::process::Command::new(&config.git)
            .args(["init", "--bare", "--quiet", "--initial-branch=main"])
            .arg(&dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .await?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "git init --bare {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        // Pushes through http-backend need this to be allowed.
        let _ = tokio::process::Command::new(&config.git)
            .args(["config", "http.receivepack", "true"])
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .await?;
    }
    let hook = dir.join("hooks").join("pre-receive");
    if tokio::fs::read_to_string(&hook).await.ok().as_deref() != Some(PRE_RECEIVE) {
        tokio::fs::create_dir_all(dir.join("hooks")).await?;
        tokio::fs::write(&hook, PRE_RECEIVE).await?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).await?;
        }
    }
    Ok(dir)
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/{owner}/{repo}/info/refs", get(info_refs))
        .route("/{owner}/{repo}/git-upload-pack", post(upload_pack))
        .route("/{owner}/{repo}/git-receive-pack", post(receive_pack))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Upload,
    Receive,
}

/// A plain-text answer that git shows the user as `remote: ...`.
fn git_error(status: StatusCode, message: &str) -> Response {
    let mut r = (status, format!("{message}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"patgate\""),
        );
    }
    r
}

const INVALID_CREDENTIALS: &str =
    "Invalid username or token. Password authentication is not supported for Git operations.";
const NOT_FOUND: &str = "Repository not found.";

fn unauthorized() -> Response {
    git_error(StatusCode::UNAUTHORIZED, INVALID_CREDENTIALS)
}

async fn info_refs(
    state: State<AppState>,
    path: UrlPath<(String, String)>,
    req: Request,
) -> Response {
    let service = match req.uri().query().unwrap_or("") {
        q if q.split('&').any(|p| p == "service=git-upload-pack") => Service::Upload,
        q if q.split('&').any(|p| p == "service=git-receive-pack") => Service::Receive,
        _ => {
            return git_error(
                StatusCode::FORBIDDEN,
                "Only the smart HTTP protocol is supported.",
            );
        }
    };
    handle(state, path, req, service, "info/refs").await
}

async fn upload_pack(
    state: State<AppState>,
    path: UrlPath<(String, String)>,
    req: Request,
) -> Response {
    handle(state, path, req, Service::Upload, "git-upload-pack").await
}

async fn receive_pack(
    state: State<AppState>,
    path: UrlPath<(String, String)>,
    req: Request,
) -> Response {
    handle(state, path, req, Service::Receive, "git-receive-pack").await
}

/// The user-facing refusal for a denied git request, in GitHub's words.
fn refusal(e: AppError, facts: &RepoFacts, login: &str, service: Service) -> Response {
    match e {
        AppError::BadCredentials => unauthorized(),
        AppError::Denied(d) if d.status.code() == 403 => {
            let message = match d.reason {
                DenyReason::KindRestricted | DenyReason::LifetimeExceeded => d.message.clone(),
                DenyReason::MissingPermission if service == Service::Receive => {
                    "Write access to repository not granted.".to_owned()
                }
                _ => format!(
                    "Permission to {}.git denied to {login}.",
                    facts.repo.full_name()
                ),
            };
            git_error(StatusCode::FORBIDDEN, &message)
        }
        AppError::Denied(_) | AppError::NotFound => git_error(StatusCode::NOT_FOUND, NOT_FOUND),
        AppError::Unavailable => git_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable, try again shortly.",
        ),
        other => {
            tracing::error!(error = %other, "git authorization");
            git_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.")
        }
    }
}

async fn handle(
    State(state): State<AppState>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    req: Request,
    service: Service,
    rest: &str,
) -> Response {
    let Some(git) = state.git.clone() else {
        return git_error(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    let name = repo.strip_suffix(".git").unwrap_or(&repo);
    let (parts, body) = req.into_parts();
    let remote_addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();

    // Credentials: Basic with a non-empty username and a token as the password.
    let token: Option<Arc<VerifiedToken>> = match presented(&parts, &state) {
        Ok(Presented::None) => None,
        Ok(Presented::Token(t)) => match state.app.verify(&t).await {
            Ok(v) => Some(v),
            Err(AppError::Unavailable) => {
                return git_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service unavailable, try again shortly.",
                );
            }
            Err(_) => return unauthorized(),
        },
        Ok(Presented::Password { .. }) | Err(_) => return unauthorized(),
    };

    let facts = match state.app.repo_facts(&owner, name).await {
        Ok(Some(f)) => f,
        // Without credentials a missing repository looks like a private one: ask for them.
        Ok(None) if token.is_none() => return unauthorized(),
        Ok(None) => return git_error(StatusCode::NOT_FOUND, NOT_FOUND),
        Err(e) => return refusal(e, &empty_facts(&owner, name), "", service),
    };
    let need = match service {
        Service::Upload => Need::new(Permission::CONTENTS, Level::Read),
        Service::Receive => Need::new(Permission::CONTENTS, Level::Write),
    };
    let login = match &token {
        Some(t) => state
            .app
            .store()
            .user_by_id(t.credential.user)
            .await
            .ok()
            .flatten()
            .map_or_else(|| "token".to_owned(), |u| u.login),
        None => String::new(),
    };
    if let Err(e) = state
        .app
        .authorize_repo(token.as_ref().map(|t| &t.credential), &facts, need)
        .await
    {
        if token.is_none() {
            // Anonymous: public fetches pass above; anything else asks for credentials.
            return unauthorized();
        }
        return refusal(e, &facts, &login, service);
    }
    let mut extra_env = Vec::new();
    if service == Service::Receive
        && let Some(t) = &token
    {
        let workflows = state
            .app
            .authorize_repo(
                Some(&t.credential),
                &facts,
                Need::new(Permission::WORKFLOWS, Level::Write),
            )
            .await
            .is_ok();
        let verdict = match (&t.credential.grant, workflows) {
            (_, true) => "allowed",
            (TokenGrant::Classic { .. }, false) => "no-scope",
            _ => "no-permission",
        };
        extra_env.push(("PATGATE_WORKFLOWS", verdict.to_owned()));
    }
    if let Err(e) = ensure_bare_repo(&git, &facts.repo).await {
        tracing::error!(error = %e, repo = %facts.repo.full_name(), "preparing the bare repository");
        return git_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.");
    }
    let headers: &HeaderMap = &parts.headers;
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let method = if parts.method == Method::POST {
        "POST"
    } else {
        "GET"
    };
    let request = cgi::CgiRequest {
        git: &git.git,
        project_root: &git.root,
        path_info: format!("/{}.git/{rest}", facts.repo.id.0),
        method,
        query: parts.uri.query().unwrap_or(""),
        content_type: text(header::CONTENT_TYPE),
        content_length: text(header::CONTENT_LENGTH),
        content_encoding: text(header::CONTENT_ENCODING),
        git_protocol: headers.get("git-protocol").and_then(|v| v.to_str().ok()),
        remote_user: if login.is_empty() {
            "anonymous"
        } else {
            &login
        },
        remote_addr,
        extra_env,
    };
    match cgi::run(request, body).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "git http-backend");
            git_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.")
        }
    }
}

fn empty_facts(owner: &str, name: &str) -> RepoFacts {
    RepoFacts {
        repo: Repository {
            id: patgate_domain::model::RepoId(0),
            owner: patgate_domain::model::AccountId(0),
            owner_login: owner.to_owned(),
            owner_kind: patgate_domain::model::AccountKind::User,
            name: name.to_owned(),
            visibility: patgate_domain::model::Visibility::Private,
            description: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        },
        policy: None,
        enterprise: None,
    }
}

#[allow(dead_code)]
fn _body_type_check(b: Body) -> Body {
    b
}
