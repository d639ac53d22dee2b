//! `patgate token ...`: a user's tokens from the command line, as the API manages them.

use super::*;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum KindArg {
    FineGrained,
    Classic,
}

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    List {
        #[arg(long)]
        user: String,
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        #[arg(long)]
        json: bool,
    },
    Show {
        #[arg(long)]
        user: String,
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Create a token; its secret is printed once.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long, value_enum, default_value = "fine-grained")]
        kind: KindArg,
        /// Name (fine-grained) or note (classic).
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        justification: Option<String>,
        /// Resource owner (fine-grained): your login (default) or an organization's.
        #[arg(long)]
        owner: Option<String>,
        /// none, all or subset (default: subset when --repo is given, else none).
        #[arg(long)]
        selection: Option<String>,
        /// A repository of the owner (repeat).
        #[arg(long = "repo")]
        repos: Vec<String>,
        /// PERMISSION=LEVEL, e.g. contents=write (repeat).
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// Classic scopes, comma-separated.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Days (1-366) or none; default 30.
        #[arg(long)]
        expires_in: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Edit a token: fine-grained description, repositories and permissions; classic scopes.
    Edit {
        #[arg(long)]
        user: String,
        id: i64,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        selection: Option<String>,
        #[arg(long = "repo")]
        repos: Vec<String>,
        #[arg(long = "permission")]
        permissions: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// New secret and expiry, same token id; the old secret stops working.
    Regenerate {
        #[arg(long)]
        user: String,
        id: i64,
        #[arg(long)]
        expires_in: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a token (and the deploy keys it created).
    Delete {
        #[arg(long)]
        user: String,
        id: i64,
    },
    /// Why a token is allowed or refused something: the chain of rules that decides.
    Why {
        #[arg(long)]
        user: String,
        id: i64,
        /// OWNER/NAME.
        #[arg(long)]
        repo: Option<String>,
        #[arg(long)]
        org: Option<String>,
        /// PERMISSION=LEVEL, e.g. contents=write.
        #[arg(long)]
        permission: Option<String>,
        /// A classic scope.
        #[arg(long)]
        scope: Option<String>,
        /// A REST route: "METHOD /path", e.g. "GET /repos/acme/api/keys".
        #[arg(long)]
        route: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Check a token read from standard input: who it belongs to, its kind and expiry.
    Check {
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn token_command(cmd: TokenCommand, settings: &Settings) -> anyhow::Result<()> {
    let app = build_app(open_store(settings).await?, settings)?;
    match cmd {
        TokenCommand::List {
            user: login,
            kind,
            json,
        } => {
            let u = user(&app, &login).await?;
            let kind = kind.map(|k| match k {
                KindArg::FineGrained => patgate_domain::token::TokenKind::FineGrained,
                KindArg::Classic => patgate_domain::token::TokenKind::Classic,
            });
            let tokens = app.list_tokens(&u, kind).await.map_err(explain)?;
            let mut out = Vec::new();
            for t in &tokens {
                out.push(token_json(&app, t, None).await?);
            }
            print(json, &json!(out), || {
                out.iter().map(token_line).collect::<Vec<_>>().join("\n")
            });
        }
        TokenCommand::Why {
            user: login,
            id,
            repo,
            org,
            permission,
            scope,
            route,
            json,
        } => {
            platform_cli::why(&app, &login, id, repo, org, permission, scope, route, json).await?;
        }
        TokenCommand::Show {
            user: login,
            id,
            json,
        } => {
            let u = user(&app, &login).await?;
            let t = app.own_token(&u, TokenId(id)).await.map_err(explain)?;
            let v = token_json(&app, &t, None).await?;
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
        }
        TokenCommand::Create {
            user: login,
            kind,
            name,
            description,
            justification,
            owner,
            selection: sel,
            repos,
            permissions: perms,
            scopes,
            expires_in,
            json,
        } => {
            let u = user(&app, &login).await?;
            let issued = match kind {
                KindArg::FineGrained => {
                    if !scopes.is_empty() {
                        bail!(
                            "--scopes is for classic tokens; fine-grained tokens take --permission"
                        );
                    }
                    app.create_fine_grained(
                        &u,
                        CreateFineGrained {
                            name,
                            description,
                            justification,
                            resource_owner: owner,
                            expiration: expiration(&expires_in)?,
                            repository_selection: selection(&sel)?,
                            repositories: repos,
                            permissions: permissions(&perms)?,
                        },
                    )
                    .await
                }
                KindArg::Classic => {
                    if !perms.is_empty() || !repos.is_empty() || owner.is_some() {
                        bail!("classic tokens take --scopes, not --permission, --repo or --owner");
                    }
                    app.create_classic(
                        &u,
                        CreateClassic {
                            note: name,
                            scopes,
                            expiration: expiration(&expires_in)?,
                        },
                    )
                    .await
                }
            }
            .map_err(explain)?;
            let v = token_json(&app, &issued.token, Some(issued.secret.expose())).await?;
            print(json, &v, || {
                format!(
                    "{}\ntoken (shown once): {}",
                    token_line(&v),
                    issued.secret.expose()
                )
            });
        }
        TokenCommand::Edit {
            user: login,
            id,
            description,
            selection: sel,
            repos,
            permissions: perms,
            scopes,
            json,
        } => {
            let u = user(&app, &login).await?;
            let t = app.own_token(&u, TokenId(id)).await.map_err(explain)?;
            let updated = match t.grant {
                TokenGrant::Classic { .. } => {
                    if scopes.is_empty() {
                        bail!("classic tokens: give the new --scopes");
                    }
                    app.edit_classic_scopes(&u, t.id, &scopes).await
                }
                _ => {
                    app.edit_fine_grained(
                        &u,
                        t.id,
                        EditFineGrained {
                            description: description
                                .map(|d| if d.is_empty() { None } else { Some(d) }),
                            justification: None,
                            repository_selection: selection(&sel)?,
                            repositories: if repos.is_empty() { None } else { Some(repos) },
                            permissions: if perms.is_empty() {
                                None
                            } else {
                                Some(permissions(&perms)?)
                            },
                        },
                    )
                    .await
                }
            }
            .map_err(explain)?;
            let v = token_json(&app, &updated, None).await?;
            print(json, &v, || token_line(&v));
        }
        TokenCommand::Regenerate {
            user: login,
            id,
            expires_in,
            json,
        } => {
            let u = user(&app, &login).await?;
            let issued = app
                .regenerate(&u, TokenId(id), expiration(&expires_in)?)
                .await
                .map_err(explain)?;
            let v = token_json(&app, &issued.token, Some(issued.secret.expose())).await?;
            print(json, &v, || {
                format!(
                    "{}\ntoken (shown once): {}",
                    token_line(&v),
                    issued.secret.expose()
                )
            });
        }
        TokenCommand::Delete { user: login, id } => {
            let u = user(&app, &login).await?;
            let (t, keys) = app.delete_token(&u, TokenId(id)).await.map_err(explain)?;
            println!(
                "deleted token {} ({}) and {keys} deploy key(s) it created",
                t.id, t.name
            );
        }
        TokenCommand::Check { json } => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let verified = app.verify(line.trim()).await.map_err(explain)?;
            let owner = app
                .store()
                .user_by_id(verified.credential.user)
                .await
                .map_err(|e| explain(e.into()))?;
            let v = json!({
                "valid": true,
                "token_id": verified.credential.token_id.0,
                "kind": verified.credential.kind().as_str(),
                "user": owner.map(|u| u.login),
                "name": verified.name,
                "expires_at": wire::opt_ts(verified.credential.expires_at),
            });
            print(json, &v, || {
                format!(
                    "valid {} token {:?} of {}, expires {}",
                    v["kind"].as_str().unwrap_or(""),
                    verified.name,
                    v["user"].as_str().unwrap_or("?"),
                    v["expires_at"].as_str().unwrap_or("never")
                )
            });
        }
    }
    Ok(())
}
