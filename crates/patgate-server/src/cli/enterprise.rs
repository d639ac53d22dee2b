//! `patgate enterprise`: enterprises, their organizations, owners and the policy they force on
//! their organizations.

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::json;

use patgate_app::AppError;
use patgate_server::{Settings, build_app, open_store};

use super::super::{explain, platform_cli, print};

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
        /// allow or restrict.
        #[arg(long)]
        fine_grained: Option<String>,
        #[arg(long)]
        classic: Option<String>,
        /// require or disable.
        #[arg(long)]
        approval: Option<String>,
        #[arg(long)]
        fine_grained_max_lifetime_days: Option<u16>,
        #[arg(long)]
        classic_max_lifetime_days: Option<u16>,
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
            let v = json!({
                "enterprise": ent.slug,
                "owners": view.owners.iter().map(|u| u.login.clone()).collect::<Vec<_>>(),
                "organizations": view.organizations.iter().map(|o| o.login.clone()).collect::<Vec<_>>(),
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
                    v["owners"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default(),
                    v["organizations"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default(),
                )
            });
            Ok(())
        }
        EnterpriseCommand::Policy {
            slug,
            fine_grained,
            classic,
            approval,
            fine_grained_max_lifetime_days,
            classic_max_lifetime_days,
            exempt_administrators,
            json,
        } => {
            let app = build_app(open_store(settings).await?, settings)?;
            let access = |name: &str,
                          v: &Option<String>|
             -> anyhow::Result<Option<patgate_domain::policy::Access>> {
                v.as_deref()
                    .map(|x| {
                        patgate_domain::policy::Access::parse(x)
                            .ok_or_else(|| anyhow!("--{name} takes allow or restrict"))
                    })
                    .transpose()
            };
            let policy = patgate_domain::policy::PolicySettings {
                fine_grained: access("fine-grained", &fine_grained)?,
                classic: access("classic", &classic)?,
                approval: approval
                    .as_deref()
                    .map(|x| {
                        patgate_domain::policy::Approval::parse(x)
                            .ok_or_else(|| anyhow!("--approval takes require or disable"))
                    })
                    .transpose()?,
                fine_grained_max_lifetime_days,
                classic_max_lifetime_days,
                exempt_administrators,
            };
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
            let v = json!({"enterprise": slug, "fine_grained": fine_grained, "classic": classic, "approval": approval, "fine_grained_max_lifetime_days": fine_grained_max_lifetime_days, "classic_max_lifetime_days": classic_max_lifetime_days, "exempt_administrators": exempt_administrators});
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
