//! `patgate enterprise`: enterprises, their organizations, owners and the policy they force on
//! their organizations.

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::json;

use patgate_app::AppError;
use patgate_server::{Settings, build_app, open_store};

use super::super::{PolicyArgs, explain, platform_cli, print};

#[derive(Subcommand)]
pub enum EnterpriseCommand {
    /// Create an enterprise (its policy unset).
    Create { slug: String },
    /// Move an organization into the enterprise.
    AddOrg { slug: String, org: String },
    /// Take an organization out of the enterprise (its internal repositories become private).
    RemoveOrg { slug: String, org: String },
    /// Make a user an owner of the enterprise (they then set its policies in the web UI).
    AddOwner { slug: String, login: String },
    /// Remove a user from the enterprise's owners.
    RemoveOwner { slug: String, login: String },
    /// The enterprise's owners, its organizations and its policy.
    Show {
        slug: String,
        #[arg(long)]
        json: bool,
    },
    /// Replace an enterprise's policy: each setting given is forced on its organizations; a
    /// setting left out is left to the organizations.
    Policy {
        slug: String,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Organization owners are exempt from the lifetime limits.
        #[arg(long)]
        exempt_administrators: bool,
        #[arg(long)]
        json: bool,
    },
}

pub async fn enterprise_command(cmd: EnterpriseCommand, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        EnterpriseCommand::Create { slug } => {
            let app = build_app(open_store(settings).await?, settings)?;
            platform_cli::enterprise_create(&app, &slug).await
        }
        EnterpriseCommand::AddOrg { slug, org } => {
            let app = build_app(open_store(settings).await?, settings)?;
            platform_cli::enterprise_org(&app, &slug, &org, true).await
        }
        EnterpriseCommand::RemoveOrg { slug, org } => {
            let app = build_app(open_store(settings).await?, settings)?;
            platform_cli::enterprise_org(&app, &slug, &org, false).await
        }
        EnterpriseCommand::AddOwner { slug, login } => {
            enterprise_owner(settings, &slug, &login, true).await
        }
        EnterpriseCommand::RemoveOwner { slug, login } => {
            enterprise_owner(settings, &slug, &login, false).await
        }
        EnterpriseCommand::Show { slug, json } => {
            let app = build_app(open_store(settings).await?, settings)?;
            let ent = app.enterprise_named(&slug).await.map_err(|e| match e {
                AppError::NotFound => anyhow!("no enterprise {slug:?}"),
                other => explain(other),
            })?;
            let view = app.enterprise_overview(&ent).await.map_err(explain)?;
            let p = &view.policy;
            let owners: Vec<&str> = view.owners.iter().map(|u| u.login.as_str()).collect();
            let orgs: Vec<&str> = view
                .organizations
                .iter()
                .map(|o| o.login.as_str())
                .collect();
            let v = json!({
                "enterprise": ent.slug,
                "owners": owners,
                "organizations": orgs,
                "policy": {
                    "fine_grained": p.fine_grained.map(|a| a.as_str()),
                    "classic": p.classic.map(|a| a.as_str()),
                    "approval": p.approval.map(|a| a.as_str()),
                    "fine_grained_max_lifetime_days": p.fine_grained_max_lifetime_days,
                    "classic_max_lifetime_days": p.classic_max_lifetime_days,
                    "exempt_administrators": p.exempt_administrators,
                },
            });
            print(json, &v, || {
                format!(
                    "enterprise {}\nowners: {}\norganizations: {}",
                    ent.slug,
                    owners.join(", "),
                    orgs.join(", "),
                )
            });
            Ok(())
        }
        EnterpriseCommand::Policy {
            slug,
            policy: args,
            exempt_administrators,
            json,
        } => {
            let app = build_app(open_store(settings).await?, settings)?;
            let policy = args.settings(exempt_administrators)?;
            let ent = app.enterprise_named(&slug).await.map_err(|e| match e {
                AppError::NotFound => anyhow!("no enterprise {slug:?}"),
                other => explain(other),
            })?;
            let operator = patgate_app::governance::Actor {
                id: None,
                login: "operator".to_owned(),
            };
            app.set_enterprise_policy(&operator, &ent, &policy)
                .await
                .map_err(explain)?;
            let v = json!({"enterprise": slug, "fine_grained": args.fine_grained, "classic": args.classic, "approval": args.approval, "fine_grained_max_lifetime_days": args.fine_grained_max_lifetime_days, "classic_max_lifetime_days": args.classic_max_lifetime_days, "exempt_administrators": exempt_administrators});
            print(json, &v, || format!("policy of enterprise {slug} set"));
            Ok(())
        }
    }
}

async fn enterprise_owner(
    settings: &Settings,
    slug: &str,
    login: &str,
    add: bool,
) -> anyhow::Result<()> {
    let app = build_app(open_store(settings).await?, settings)?;
    let changed = app
        .set_enterprise_owner(slug, login, add)
        .await
        .map_err(|e| match e {
            AppError::NotFound => anyhow!("no enterprise {slug:?} or no user {login:?}"),
            other => explain(other),
        })?;
    let verb = if add { "owns" } else { "no longer owns" };
    let unchanged = if changed { "" } else { " (unchanged)" };
    println!("{login} {verb} the enterprise {slug}{unchanged}");
    Ok(())
}
