//! The command line's verbs for the directory (issue 13): the same use cases as the directory
//! API, acting as `cli` in the audit log; service credentials; and "why?" for a user's token.

use anyhow::{anyhow, bail};
use serde_json::Value;

use patgate_app::App;
use patgate_app::directory::{
    CreateUser, DirectoryError, Operator, RepoPatch, parse_collaborator_permission, parse_org_role,
};
use patgate_domain::model::{TokenId, Visibility};
use patgate_server::api::json as wire;
use patgate_server::api::platform::{NeedBody, RouteBody, explain_own, why_json};
use patgate_server::service::{ServiceScope, generate};
use patgate_server::state::AppState;

const BASE: &str = "patgate:";

/// A directory error as one line: every field problem, or the application's message.
pub fn directory_error(e: DirectoryError) -> anyhow::Error {
    match e {
        DirectoryError::Invalid(problems) => anyhow!(
            "invalid: {}",
            problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        DirectoryError::App(patgate_app::AppError::NotFound) => anyhow!("not found"),
        DirectoryError::App(e) => anyhow!("{e}"),
    }
}

fn split_full_name(full_name: &str) -> anyhow::Result<(&str, &str)> {
    full_name
        .split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty())
        .ok_or_else(|| anyhow!("give the repository as OWNER/NAME"))
}

fn print(json_mode: bool, value: &Value, text: impl FnOnce() -> String) {
    if json_mode {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{}", text());
    }
}

pub async fn user_create(
    app: &App,
    login: &str,
    email: &str,
    password: Option<String>,
    site_admin: bool,
    suspended: bool,
) -> anyhow::Result<()> {
    let user = app
        .admin_create_user(
            &Operator::cli(),
            &CreateUser {
                login: login.to_owned(),
                email: email.to_owned(),
                email_verified: true,
                site_admin,
                password,
                suspended,
            },
        )
        .await
        .map_err(directory_error)?;
    println!(
        "user {} created (id {}){}",
        user.login,
        user.id,
        if suspended { ", suspended" } else { "" }
    );
    Ok(())
}

pub async fn rename(app: &App, login: &str, new_login: &str) -> anyhow::Result<()> {
    let account = app
        .admin_rename(&Operator::cli(), login, new_login)
        .await
        .map_err(directory_error)?;
    println!("{login} is now {}", account.login());
    Ok(())
}

pub async fn suspend(
    app: &App,
    login: &str,
    suspend: bool,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    app.admin_set_suspended(&Operator::cli(), login, suspend, reason)
        .await
        .map_err(directory_error)?;
    if suspend {
        println!("{login} is suspended: every token of theirs is refused");
    } else {
        println!("{login} is no longer suspended");
    }
    Ok(())
}

pub async fn user_delete(app: &App, login: &str) -> anyhow::Result<()> {
    app.admin_delete_user(&Operator::cli(), login)
        .await
        .map_err(directory_error)?;
    println!("user {login} deleted, with their tokens, keys and repositories");
    Ok(())
}

pub async fn org_create(app: &App, login: &str, admin: &str) -> anyhow::Result<()> {
    let org = app
        .admin_create_org(&Operator::cli(), login, admin)
        .await
        .map_err(directory_error)?;
    println!(
        "organization {} created (id {}), owned by {admin}",
        org.login, org.id
    );
    Ok(())
}

pub async fn add_member(app: &App, org: &str, login: &str, role: &str) -> anyhow::Result<()> {
    let role =
        parse_org_role(role).ok_or_else(|| anyhow!("--role is admin or member, not {role:?}"))?;
    let (org, user, role) = app
        .admin_set_membership(&Operator::cli(), org, login, role)
        .await
        .map_err(directory_error)?;
    println!(
        "{} is a{} of {}",
        user.login,
        match role {
            patgate_domain::catalog::OrgRole::Owner => "n owner",
            patgate_domain::catalog::OrgRole::Member => " member",
        },
        org.login
    );
    Ok(())
}

pub async fn remove_member(app: &App, org: &str, login: &str) -> anyhow::Result<()> {
    let was = app
        .admin_remove_member(&Operator::cli(), org, login)
        .await
        .map_err(directory_error)?;
    if was {
        println!("{login} left {org}: their tokens' grants and requests for it are revoked");
    } else {
        println!("{login} was not a member of {org}");
    }
    Ok(())
}

pub fn visibility(v: &str) -> anyhow::Result<Visibility> {
    Visibility::parse(v).ok_or_else(|| anyhow!("{v:?} is not public, private or internal"))
}

pub async fn repo_edit(
    app: &App,
    full_name: &str,
    name: Option<String>,
    visibility: Option<Visibility>,
    description: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let (owner, repo) = split_full_name(full_name)?;
    if name.is_none() && visibility.is_none() && description.is_none() {
        bail!("nothing to change: give --name, --visibility or --description");
    }
    let patch = RepoPatch {
        name,
        visibility,
        // An empty description clears it.
        description: description.map(|d| (!d.is_empty()).then_some(d)),
    };
    let repo = app
        .admin_update_repo(&Operator::cli(), owner, repo, &patch)
        .await
        .map_err(directory_error)?;
    print(json, &wire::repository_value(BASE, &repo), || {
        format!("{} {}", repo.full_name(), repo.visibility.as_str())
    });
    Ok(())
}

pub async fn repo_transfer(
    app: &App,
    full_name: &str,
    new_owner: &str,
    new_name: Option<&str>,
) -> anyhow::Result<()> {
    let (owner, name) = split_full_name(full_name)?;
    let repo = app
        .admin_transfer_repo(&Operator::cli(), owner, name, new_owner, new_name)
        .await
        .map_err(directory_error)?;
    println!("{full_name} is now {}", repo.full_name());
    Ok(())
}

pub async fn repo_delete(app: &App, full_name: &str) -> anyhow::Result<()> {
    let (owner, name) = split_full_name(full_name)?;
    app.admin_delete_repo(&Operator::cli(), owner, name)
        .await
        .map_err(directory_error)?;
    println!("{full_name} deleted");
    Ok(())
}

pub async fn collaborator(
    app: &App,
    full_name: &str,
    login: &str,
    permission: Option<&str>,
) -> anyhow::Result<()> {
    let (owner, name) = split_full_name(full_name)?;
    match permission {
        Some(p) => {
            let role = parse_collaborator_permission(p).ok_or_else(|| {
                anyhow!("--permission is pull, triage, push, maintain or admin, not {p:?}")
            })?;
            app.admin_set_collaborator(&Operator::cli(), owner, name, login, role)
                .await
                .map_err(directory_error)?;
            println!("{login} collaborates on {full_name} ({})", role.as_str());
        }
        None => {
            let was = app
                .admin_remove_collaborator(&Operator::cli(), owner, name, login)
                .await
                .map_err(directory_error)?;
            if was {
                println!("{login} no longer collaborates on {full_name}");
            } else {
                println!("{login} was not a collaborator of {full_name}");
            }
        }
    }
    Ok(())
}

pub async fn enterprise_create(app: &App, slug: &str) -> anyhow::Result<()> {
    let e = app
        .admin_create_enterprise(&Operator::cli(), slug)
        .await
        .map_err(directory_error)?;
    println!("enterprise {} created (id {})", e.slug, e.id);
    Ok(())
}

pub async fn enterprise_org(app: &App, slug: &str, org: &str, member: bool) -> anyhow::Result<()> {
    app.admin_set_enterprise_org(&Operator::cli(), slug, org, member)
        .await
        .map_err(directory_error)?;
    if member {
        println!("{org} belongs to the enterprise {slug}");
    } else {
        println!("{org} left the enterprise {slug}: its internal repositories are private");
    }
    Ok(())
}

pub async fn sync(
    app: &App,
    file: &std::path::Path,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).map_err(|e| anyhow!("reading {}: {e}", file.display()))?;
    let desired = patgate_app::seed::SeedFile::parse(&text)?;
    let report = app
        .sync_directory(&Operator::cli(), &desired, dry_run)
        .await
        .map_err(directory_error)?;
    let v = patgate_server::api::directory::sync_report(&report);
    print(json, &v, || {
        let mut out = format!(
            "{}{}: {} changes, {} unchanged",
            file.display(),
            if dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            },
            report.changes.len(),
            report.unchanged
        );
        for c in &report.changes {
            out.push_str(&format!("\n  {} {}", c.action, c.target));
        }
        out
    });
    Ok(())
}

pub fn service_credential(name: &str, scopes: &[String]) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        bail!("--name is letters, digits, '-', '_' or '.'");
    }
    if scopes.is_empty() {
        bail!("give at least one --scope (directory, authorize)");
    }
    for s in scopes {
        if ServiceScope::parse(s).is_none() {
            bail!("--scope is directory or authorize, not {s:?}");
        }
    }
    let (secret, hash) = generate();
    println!("secret (shown once; give it to the service, keep it out of files and logs):");
    println!("  {secret}");
    println!();
    println!("add to the service credentials file (--service-credentials-file):");
    println!("[[credentials]]");
    println!("name = \"{name}\"");
    println!("sha256 = \"{hash}\"");
    println!(
        "scopes = [{}]",
        scopes
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// `patgate token why`: the chain of rules for one of the user's tokens.
#[allow(clippy::too_many_arguments)]
pub async fn why(
    app: &App,
    login: &str,
    id: i64,
    repo: Option<String>,
    org: Option<String>,
    permission: Option<String>,
    scope: Option<String>,
    route: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let user = app
        .store()
        .user_by_login(login)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("no user {login:?}"))?;
    let token = app
        .own_token(&user, TokenId(id))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let (permission, level) = match permission.as_deref().map(|p| p.split_once('=')) {
        Some(Some((p, l))) => (Some(p.to_owned()), Some(l.to_owned())),
        Some(None) => bail!("--permission is PERMISSION=LEVEL, e.g. contents=write"),
        None => (None, None),
    };
    let route = match route {
        Some(r) => {
            let (method, path) = r.split_once(' ').ok_or_else(|| {
                anyhow!("--route is \"METHOD /path\", e.g. \"GET /repos/acme/api\"")
            })?;
            Some(RouteBody {
                method: method.to_owned(),
                path: path.trim().to_owned(),
            })
        }
        None => None,
    };
    let need = NeedBody {
        repository: repo,
        organization: org,
        user: None,
        permission,
        level,
        scope,
        route,
    };
    let state = AppState::new(app.clone(), BASE.to_owned(), None);
    let why = explain_own(&state, &user, token.id, token.kind(), &need)
        .await
        .map_err(|e| anyhow!("{}", e.message))?;
    let v = why_json(&why);
    print(json, &v, || {
        let mut out = match &why.decision {
            patgate_domain::authz::Decision::Allow => format!("allowed on {}", why.resource),
            patgate_domain::authz::Decision::Deny(d) => {
                format!(
                    "refused on {}: {} {}",
                    why.resource,
                    d.status.code(),
                    d.message
                )
            }
        };
        for (i, set) in why.sets.iter().enumerate() {
            if why.sets.len() > 1 {
                out.push_str(&format!("\n  permission set {}:", i + 1));
            }
            for r in set {
                out.push_str(&format!(
                    "\n  {} {}",
                    if r.allowed { "+" } else { "-" },
                    r.requirement
                ));
                for s in &r.steps {
                    out.push_str(&format!(
                        "\n      {} [{} (rule {})] {}",
                        if s.passed { "ok  " } else { "FAIL" },
                        s.rule.code,
                        s.rule.design_rule,
                        s.detail
                    ));
                }
            }
        }
        out
    });
    Ok(())
}
