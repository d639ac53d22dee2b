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
/// (fine-grained) or the `workflow` scope (classic). patgate tells it what the token may do
/// through `PATGATE_WORKFLOWS`; pushes that do not come through patgate (no variable) are not
/// checked. It decides on every path that every pushed commit touches (each commit against each
/// parent, merges included) and on the ref's tree before and after, with git matching the paths.
pub const PRE_RECEIVE: &str = r#"#!/bin/sh
# Installed by patgate: refuses a push that creates, changes, renames or deletes anything under
# .github/workflows/ when the token may not (PATGATE_WORKFLOWS, which patgate sets on every push
# it lets through). git matches the paths itself against a literal pathspec, so no file name,
# however quoted, escapes the check; the names are only read back for the message.
[ -z "$PATGATE_WORKFLOWS" ] && exit 0
[ "$PATGATE_WORKFLOWS" = "allowed" ] && exit 0
GIT_LITERAL_PATHSPECS=1
export GIT_LITERAL_PATHSPECS
dir=.github/workflows

refuse() {
  name=$(printf '%s\n' "$1" | head -n 1)
  if [ "$PATGATE_WORKFLOWS" = "no-scope" ]; then
    echo "refusing to allow a Personal Access Token to create or update workflow \`$name\` without \`workflow\` scope" >&2
  else
    echo "refusing to allow a Personal Access Token to create or update workflow \`$name\` without \`workflows\` permission" >&2
  fi
  exit 1
}

fail() {
  echo "patgate could not check $1 for workflow changes" >&2
  exit 1
}

while read -r old new ref; do
  # A deletion brings no commit.
  case "$new" in *[!0]*) ;; *) continue ;; esac
  # A ref to a tree or a blob has no commits, so no workflow that could run.
  commit=$(git rev-parse --verify --quiet "$new^{commit}") || continue
  # Every commit of the push that no ref had yet, against each of its parents (merges
  # included) or, for a root commit, against the empty tree.
  commits=$(git rev-list "$commit" --not --all) || fail "$ref"
  if [ -n "$commits" ]; then
    paths=$(printf '%s\n' "$commits" | git -c core.quotePath=false diff-tree --stdin -r -m --root \
      --no-commit-id --name-only -- "$dir") || fail "$ref"
    [ -n "$paths" ] && refuse "$paths"
  fi
  # What the ref's tree becomes, whatever the commits (a rewind, or a jump to another line).
  case "$old" in *[!0]*) ;; *) continue ;; esac
  before=$(git rev-parse --verify --quiet "$old^{commit}") || continue
  paths=$(git -c core.quotePath=false diff-tree -r --name-only "$before" "$commit" -- "$dir") ||
    fail "$ref"
  [ -n "$paths" ] && refuse "$paths"
done
exit 0
"#;

fn repo_dir(root: &Path, repo: &Repository) -> PathBuf {
    root.join(format!("{}.git", repo.id.0))
}

fn git_command(config: &GitConfig) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&config.git);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1");
    cmd
}

async fn run_git(config: &GitConfig, dir: &Path, args: &[&str]) -> std::io::Result<()> {
    let out = git_command(config)
        .args(args)
        .current_dir(dir)
        .output()
        .await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "git {} in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A name no other process or task uses at the same time, beside `path`.
fn scratch_path(path: &Path, what: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{what}-{}-{n}", std::process::id()))
}

/// Creates the bare repository of a directory repository if it does not exist yet, and installs
/// the current hook. Safe when several processes (replicas over one git root) or requests do it
/// at once: the repository is prepared under a scratch name and renamed into place, and the hook
/// is replaced by a rename, so nobody ever sees half of either.
pub async fn ensure_bare_repo(config: &GitConfig, repo: &Repository) -> std::io::Result<PathBuf> {
    let dir = repo_dir(&config.root, repo);
    if !dir.join("HEAD").exists() {
        tokio::fs::create_dir_all(&config.root).await?;
        // git runs in the root: a relative path would be taken from there, not from here.
        let scratch = std::path::absolute(scratch_path(&dir, "init"))?;
        let scratch_name = scratch.to_string_lossy().into_owned();
        // No template: git's sample hooks are not wanted (and copying them raced between
        // processes initialising the same directory).
        run_git(
            config,
            &config.root,
            &[
                "init",
                "--bare",
                "--quiet",
                "--template=",
                "--initial-branch=main",
                &scratch_name,
            ],
        )
        .await?;
        // Pushes through http-backend need this to be allowed.
        run_git(config, &scratch, &["config", "http.receivepack", "true"]).await?;
        install_hook(&scratch).await?;
        if let Err(e) = tokio::fs::rename(&scratch, &dir).await {
            let _ = tokio::fs::remove_dir_all(&scratch).await;
            // Another process or request finished first: theirs is as good as ours.
            if !dir.join("HEAD").exists() {
                return Err(e);
            }
        }
    }
    let hook = dir.join("hooks").join("pre-receive");
    if tokio::fs::read_to_string(&hook).await.ok().as_deref() != Some(PRE_RECEIVE) {
        install_hook(&dir).await?;
    }
    Ok(dir)
}

async fn install_hook(repo_dir: &Path) -> std::io::Result<()> {
    let hooks = repo_dir.join("hooks");
    tokio::fs::create_dir_all(&hooks).await?;
    let hook = hooks.join("pre-receive");
    let scratch = scratch_path(&hook, "new");
    tokio::fs::write(&scratch, PRE_RECEIVE).await?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::set_permissions(&scratch, std::fs::Permissions::from_mode(0o755)).await?;
    }
    tokio::fs::rename(&scratch, &hook).await
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/{owner}/{repo}/info/refs", get(info_refs))
        .route("/{owner}/{repo}/git-upload-pack", post(upload_pack))
        .route("/{owner}/{repo}/git-receive-pack", post(receive_pack))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Upload,
    Receive,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Upload => "git-upload-pack",
            Service::Receive => "git-receive-pack",
        }
    }
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
    match requested_service(req.uri().query().unwrap_or("")) {
        Some(service) => handle(state, path, req, service, "info/refs").await,
        None => git_error(
            StatusCode::FORBIDDEN,
            "Only the smart HTTP protocol is supported.",
        ),
    }
}

/// The one service an `info/refs` query asks for. Anything else (none, an unknown one, or the
/// parameter repeated) is refused: `git http-backend` would serve the last `service=` while the
/// first was authorized, so the backend is only ever handed the service decided on.
fn requested_service(query: &str) -> Option<Service> {
    let mut services = query.split('&').filter_map(|p| p.strip_prefix("service="));
    let service = match services.next()? {
        "git-upload-pack" => Service::Upload,
        "git-receive-pack" => Service::Receive,
        _ => return None,
    };
    services.next().is_none().then_some(service)
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
        Ok(Presented::Token(t)) => {
            let client = crate::net::client::ClientIp::of(&parts);
            match crate::api::extract::verify_throttled(&state, client, &t).await {
                Ok(v) => Some(v),
                Err(e) if e.status == StatusCode::UNAUTHORIZED => return unauthorized(),
                Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => {
                    return git_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Service unavailable, try again shortly.",
                    );
                }
                // A suspended user's token, or an address that presented too many bad tokens:
                // refused, and said so (asking again at once would not help).
                Err(e) => return git_error(e.status, &e.message),
            }
        }
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
        // Exactly what was authorized, whatever else the client put in the query.
        query: if rest == "info/refs" {
            format!("service={}", service.name())
        } else {
            String::new()
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_single_known_service_is_accepted() {
        assert_eq!(
            requested_service("service=git-upload-pack"),
            Some(Service::Upload)
        );
        assert_eq!(
            requested_service("x=1&service=git-receive-pack"),
            Some(Service::Receive)
        );
        for refused in [
            "",
            "service=",
            "service=git-foo",
            "service=git-upload-pack&service=git-receive-pack",
            "service=git-upload-pack&service=git-upload-pack",
            "Service=git-upload-pack",
        ] {
            assert_eq!(requested_service(refused), None, "{refused:?}");
        }
    }
}
