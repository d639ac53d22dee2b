//! `patgate org ...` and `patgate repo ...`: organizations and repositories from the command
//! line (their policies, owners, members, collaborators and settings).

use super::*;

#[derive(Subcommand)]
pub(crate) enum OrgCommand {
    /// Set the organization's token policy (as one of its owners); prints the effective policy.
    Policy {
        login: String,
        /// The owner making the change.
        #[arg(long = "as")]
        owner: String,
        #[command(flatten)]
        policy: PolicyArgs,
        #[arg(long)]
        json: bool,
    },
    /// The organization's audit log (as one of its owners).
    Audit {
        login: String,
        #[arg(long = "as")]
        owner: String,
        #[arg(long)]
        action: Option<String>,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    /// Members and owners of an organization, and its effective policy.
    Show {
        login: String,
        #[arg(long)]
        json: bool,
    },
    /// Create an organization with its first owner.
    Create {
        login: String,
        #[arg(long)]
        admin: String,
    },
    /// Give an organization a new login.
    Rename { login: String, new_login: String },
    /// Add a member, or change their role (a returning member gets no former grant back).
    AddMember {
        org: String,
        login: String,
        /// admin (an owner) or member.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Remove a member: their tokens' grants and requests for the organization are revoked.
    RemoveMember { org: String, login: String },
}

#[derive(Subcommand)]
pub(crate) enum RepoCommand {
    List {
        /// Only this owner's repositories.
        owner: String,
        #[arg(long)]
        json: bool,
    },
    /// Create a repository (or change its visibility).
    Create {
        /// OWNER/NAME
        full_name: String,
        #[arg(long, value_enum, default_value = "private")]
        visibility: VisibilityArg,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Rename a repository, change its visibility or description (an empty one clears it).
    Edit {
        full_name: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        visibility: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Give a repository to another owner; tokens lose it from their selections.
    Transfer {
        full_name: String,
        new_owner: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete a repository.
    Delete { full_name: String },
    /// Add a collaborator, or change their permission.
    AddCollaborator {
        full_name: String,
        login: String,
        /// pull, triage, push, maintain or admin.
        #[arg(long, default_value = "push")]
        permission: String,
    },
    /// Remove a collaborator.
    RemoveCollaborator { full_name: String, login: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum VisibilityArg {
    Public,
    Private,
    Internal,
}

pub(crate) async fn org_command(cmd: OrgCommand, settings: &Settings) -> anyhow::Result<()> {
    let app = build_app(open_store(settings).await?, settings)?;
    match cmd {
        OrgCommand::List { json } => {
            let orgs = app
                .store()
                .list_orgs()
                .await
                .map_err(|e| explain(e.into()))?;
            let v: Vec<Value> = orgs
                .iter()
                .map(|o| json!({"id": o.id.0, "login": o.login}))
                .collect();
            print(json, &json!(v), || {
                orgs.iter()
                    .map(|o| format!("{:>6}  {}", o.id.0, o.login))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        OrgCommand::Policy {
            login,
            owner,
            policy,
            json,
        } => {
            let u = user(&app, &owner).await?;
            let settings = policy.settings(false)?;
            let p = app
                .set_org_policy(&u, &login, &settings)
                .await
                .map_err(explain)?;
            let v = json!({
                "fine_grained": p.fine_grained.0.as_str(),
                "classic": p.classic.0.as_str(),
                "approval": p.approval.0.as_str(),
                "fine_grained_max_lifetime_days": p.fine_grained_max_lifetime_days.map(|d| d.0),
                "classic_max_lifetime_days": p.classic_max_lifetime_days.map(|d| d.0),
            });
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
        }
        OrgCommand::Audit {
            login,
            owner,
            action,
            actor,
            limit,
            json,
        } => {
            let u = user(&app, &owner).await?;
            let events = app
                .org_audit_log(
                    &u,
                    &login,
                    patgate_store::AuditQuery {
                        action,
                        actor_login: actor,
                        limit,
                        ..Default::default()
                    },
                )
                .await
                .map_err(explain)?;
            let v: Vec<Value> = events
                .iter()
                .map(|e| json!({"id": e.id, "action": e.action, "actor": e.actor_login, "token_id": e.token_id.map(|t| t.0), "created_at": wire::ts(e.created_at), "data": e.data}))
                .collect();
            print(json, &json!(v), || {
                events
                    .iter()
                    .map(|e| {
                        format!(
                            "{}  {:<50} {}",
                            wire::ts(e.created_at),
                            e.action,
                            e.actor_login.as_deref().unwrap_or("-")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        OrgCommand::Create { login, admin } => {
            platform_cli::org_create(&app, &login, &admin).await?;
        }
        OrgCommand::Rename { login, new_login } => {
            platform_cli::rename(&app, &login, &new_login).await?;
        }
        OrgCommand::AddMember { org, login, role } => {
            platform_cli::add_member(&app, &org, &login, &role).await?;
        }
        OrgCommand::RemoveMember { org, login } => {
            platform_cli::remove_member(&app, &org, &login).await?;
        }
        OrgCommand::Show { login, json } => {
            let org = app
                .store()
                .org_by_login(&login)
                .await
                .map_err(|e| explain(e.into()))?
                .ok_or_else(|| anyhow!("no organization {login:?}"))?;
            let members = app
                .store()
                .org_members(org.id)
                .await
                .map_err(|e| explain(e.into()))?;
            let p = app.effective_policy(org.id).await.map_err(explain)?;
            let v = json!({
                "id": org.id.0,
                "login": org.login,
                "members": members.iter().map(|(u, r)| json!({"login": u.login, "role": r.as_str()})).collect::<Vec<_>>(),
                "policy": {
                    "fine_grained": p.fine_grained.0.as_str(),
                    "classic": p.classic.0.as_str(),
                    "approval": p.approval.0.as_str(),
                    "fine_grained_max_lifetime_days": p.fine_grained_max_lifetime_days.map(|d| d.0),
                    "classic_max_lifetime_days": p.classic_max_lifetime_days.map(|d| d.0),
                }
            });
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
        }
    }
    Ok(())
}

pub(crate) async fn repo_command(cmd: RepoCommand, settings: &Settings) -> anyhow::Result<()> {
    let app = build_app(open_store(settings).await?, settings)?;
    match cmd {
        RepoCommand::Edit {
            full_name,
            name,
            visibility,
            description,
            json,
        } => {
            let visibility = visibility
                .as_deref()
                .map(platform_cli::visibility)
                .transpose()?;
            platform_cli::repo_edit(&app, &full_name, name, visibility, description, json).await?;
        }
        RepoCommand::Transfer {
            full_name,
            new_owner,
            name,
        } => {
            platform_cli::repo_transfer(&app, &full_name, &new_owner, name.as_deref()).await?;
        }
        RepoCommand::Delete { full_name } => {
            platform_cli::repo_delete(&app, &full_name).await?;
        }
        RepoCommand::AddCollaborator {
            full_name,
            login,
            permission,
        } => {
            platform_cli::collaborator(&app, &full_name, &login, Some(&permission)).await?;
        }
        RepoCommand::RemoveCollaborator { full_name, login } => {
            platform_cli::collaborator(&app, &full_name, &login, None).await?;
        }
        RepoCommand::List { owner, json } => {
            let account = app
                .store()
                .account_by_login(&owner)
                .await
                .map_err(|e| explain(e.into()))?
                .ok_or_else(|| anyhow!("no user or organization {owner:?}"))?;
            let repos = app
                .store()
                .repos_of_owner(account.id())
                .await
                .map_err(|e| explain(e.into()))?;
            let v: Vec<Value> = repos
                .iter()
                .map(|r| wire::repository_value(BASE, r))
                .collect();
            print(json, &json!(v), || {
                repos
                    .iter()
                    .map(|r| {
                        format!(
                            "{:>6}  {:<30} {}",
                            r.id.0,
                            r.full_name(),
                            r.visibility.as_str()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        RepoCommand::Create {
            full_name,
            visibility,
            description,
            json,
        } => {
            let (owner, name) = full_name
                .split_once('/')
                .ok_or_else(|| anyhow!("give the repository as OWNER/NAME"))?;
            if name.is_empty()
                || name.contains('/')
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                bail!("repository names use letters, digits, '-', '_' and '.'");
            }
            let account = app
                .store()
                .account_by_login(owner)
                .await
                .map_err(|e| explain(e.into()))?
                .ok_or_else(|| anyhow!("no user or organization {owner:?}"))?;
            let visibility = match visibility {
                VisibilityArg::Public => Visibility::Public,
                VisibilityArg::Private => Visibility::Private,
                VisibilityArg::Internal => Visibility::Internal,
            };
            if visibility == Visibility::Internal
                && !matches!(&account, patgate_store::Account::Organization(o) if o.enterprise.is_some())
            {
                bail!("internal repositories belong to an organization of an enterprise");
            }
            let (repo, up) = app
                .store()
                .upsert_repo(
                    account.id(),
                    name,
                    visibility,
                    description.as_deref(),
                    app.now(),
                )
                .await
                .map_err(|e| explain(e.into()))?;
            app.directory_changed();
            patgate_server::git::ensure_bare_repo(&settings.git_config(), &repo)
                .await
                .with_context(|| format!("creating the bare repository of {}", repo.full_name()))?;
            print(json, &wire::repository_value(BASE, &repo), || {
                format!(
                    "{} {} ({:?})",
                    repo.full_name(),
                    repo.visibility.as_str(),
                    up
                )
            });
        }
    }
    Ok(())
}
