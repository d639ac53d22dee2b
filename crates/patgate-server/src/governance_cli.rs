//! `patgate app`, `patgate request` and `patgate grant`: an organization's apps, pending
//! requests and grants, reviewed and revoked from the command line as an owner.

use super::*;

#[derive(Subcommand)]
pub(crate) enum AppCommand {
    /// Register an app (as an owner of the organization).
    Create {
        org: String,
        #[arg(long = "as")]
        owner: String,
        #[arg(long)]
        name: String,
        /// PERMISSION=LEVEL, e.g. organization_personal_access_token_requests=write (repeat).
        #[arg(long = "permission")]
        permissions: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Mint a one-hour installation token of an app; printed once.
    Token {
        org: String,
        app_id: i64,
        #[arg(long = "as")]
        owner: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum RequestCommand {
    List {
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve or deny requests, all or none (as an owner).
    Review {
        org: String,
        #[arg(long = "as")]
        owner: String,
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long, conflicts_with = "deny", required_unless_present = "deny")]
        approve: bool,
        #[arg(long)]
        deny: bool,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum GrantCommand {
    List {
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke grants, all or none (as an owner).
    Revoke {
        org: String,
        #[arg(long = "as")]
        owner: String,
        #[arg(required = true)]
        ids: Vec<i64>,
    },
}

pub(crate) async fn app_command(cmd: AppCommand, settings: &Settings) -> anyhow::Result<()> {
    let app = build_app(open_store(settings).await?, settings)?;
    match cmd {
        AppCommand::Create {
            org,
            owner,
            name,
            permissions: perms,
            json,
        } => {
            let u = user(&app, &owner).await?;
            let record = app
                .register_app(&u, &org, &name, &permissions(&perms)?)
                .await
                .map_err(explain)?;
            let v = json!({"id": record.id.0, "name": record.name, "org": org});
            print(json, &v, || {
                format!("app {} ({}) registered for {org}", record.id.0, record.name)
            });
        }
        AppCommand::Token {
            org,
            app_id,
            owner,
            json,
        } => {
            let u = user(&app, &owner).await?;
            let (record, issued) = app
                .mint_app_token(&u, &org, patgate_domain::model::AppId(app_id))
                .await
                .map_err(explain)?;
            let v = json!({"app": record.name, "token": issued.secret.expose(), "expires_at": wire::opt_ts(issued.token.expires_at)});
            print(json, &v, || {
                format!(
                    "installation token of {} (shown once, expires {}): {}",
                    record.name,
                    v["expires_at"].as_str().unwrap_or(""),
                    issued.secret.expose()
                )
            });
        }
    }
    Ok(())
}

pub(crate) async fn request_command(
    cmd: RequestCommand,
    settings: &Settings,
) -> anyhow::Result<()> {
    let app = build_app(open_store(settings).await?, settings)?;
    match cmd {
        RequestCommand::List { org, json } => {
            let o = app.org_named(&org).await.map_err(explain)?;
            let page = app
                .list_org_requests(
                    &o,
                    &patgate_app::governance::OrgTokenQuery {
                        per_page: 100,
                        page: 1,
                        ..Default::default()
                    },
                )
                .await
                .map_err(explain)?;
            let v: Vec<Value> = page
                .items
                .iter()
                .map(|r| json!({"id": r.request.id.0, "owner": r.owner.login, "token_id": r.token.id.0, "token_name": r.token.name, "reason": r.request.reason, "repository_selection": r.request.access.selection.as_str(), "permissions": wire::permissions(&r.request.access), "created_at": wire::ts(r.request.created_at)}))
                .collect();
            print(json, &json!(v), || {
                page.items
                    .iter()
                    .map(|r| {
                        format!(
                            "{:>6}  {:<16} {:<24} {}",
                            r.request.id.0,
                            r.owner.login,
                            r.token.name,
                            r.request.reason.as_deref().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        RequestCommand::Review {
            org,
            owner,
            ids,
            approve,
            deny: _,
            reason,
        } => {
            let u = user(&app, &owner).await?;
            let o = app.org_named(&org).await.map_err(explain)?;
            if app
                .store()
                .membership(o.id, u.id)
                .await
                .map_err(|e| explain(e.into()))?
                != Some(patgate_domain::catalog::OrgRole::Owner)
            {
                bail!("{owner} is not an owner of {org}");
            }
            let actor = patgate_app::governance::Actor {
                id: Some(u.id),
                login: u.login.clone(),
            };
            let ids: Vec<_> = ids
                .into_iter()
                .map(patgate_domain::model::RequestId)
                .collect();
            app.review_requests(&o, &actor, &ids, approve, reason.as_deref())
                .await
                .map_err(explain)?;
            println!(
                "{} {} request(s)",
                if approve { "approved" } else { "denied" },
                ids.len()
            );
        }
    }
    Ok(())
}

pub(crate) async fn grant_command(cmd: GrantCommand, settings: &Settings) -> anyhow::Result<()> {
    let app = build_app(open_store(settings).await?, settings)?;
    match cmd {
        GrantCommand::List { org, json } => {
            let o = app.org_named(&org).await.map_err(explain)?;
            let page = app
                .list_org_grants(
                    &o,
                    &patgate_app::governance::OrgTokenQuery {
                        per_page: 100,
                        page: 1,
                        ..Default::default()
                    },
                )
                .await
                .map_err(explain)?;
            let v: Vec<Value> = page
                .items
                .iter()
                .map(|g| json!({"id": g.grant.id.0, "owner": g.owner.login, "token_id": g.token.id.0, "token_name": g.token.name, "repository_selection": g.access.selection.as_str(), "permissions": wire::permissions(&g.access), "access_granted_at": wire::ts(g.grant.access_granted_at)}))
                .collect();
            print(json, &json!(v), || {
                page.items
                    .iter()
                    .map(|g| {
                        format!(
                            "{:>6}  {:<16} {:<24} since {}",
                            g.grant.id.0,
                            g.owner.login,
                            g.token.name,
                            wire::ts(g.grant.access_granted_at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        GrantCommand::Revoke { org, owner, ids } => {
            let u = user(&app, &owner).await?;
            let o = app.org_named(&org).await.map_err(explain)?;
            if app
                .store()
                .membership(o.id, u.id)
                .await
                .map_err(|e| explain(e.into()))?
                != Some(patgate_domain::catalog::OrgRole::Owner)
            {
                bail!("{owner} is not an owner of {org}");
            }
            let actor = patgate_app::governance::Actor {
                id: Some(u.id),
                login: u.login.clone(),
            };
            let ids: Vec<_> = ids
                .into_iter()
                .map(patgate_domain::model::GrantId)
                .collect();
            app.revoke_org_grants(&o, &actor, &ids)
                .await
                .map_err(explain)?;
            println!("revoked {} grant(s)", ids.len());
        }
    }
    Ok(())
}
