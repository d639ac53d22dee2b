//! `patgate`: the server and the command line of operators and users.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use patgate_app::tokens::{CreateClassic, CreateFineGrained, EditFineGrained};
use patgate_app::{App, AppError};
use patgate_domain::model::{RepositorySelection, Token, TokenGrant, TokenId, Visibility};
use patgate_domain::validate::{Expiration, RequestedPermission};
use patgate_server::api::json as wire;
use patgate_server::{Settings, build_app, open_store};

/// mimalloc rather than glibc's allocator: a request allocates and frees a few hundred small
/// objects across tokio's worker threads, and glibc's `malloc`/`free`/`malloc_consolidate` were
/// 18 % of the CPU of `GET /user` at the maximum (docs/benchmarks.md, "HTTP path").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli {
    pub mod delivery;
    pub mod enterprise;
    pub mod serve;
}
mod governance_cli;
mod org_cli;
mod platform_cli;
mod token_cli;

use governance_cli::{
    AppCommand, GrantCommand, RequestCommand, app_command, grant_command, request_command,
};
use org_cli::{OrgCommand, RepoCommand, org_command, repo_command};
use token_cli::{TokenCommand, token_command};

#[derive(Parser)]
#[command(
    name = "patgate",
    version,
    about = "Personal access tokens with organization governance"
)]
struct Cli {
    /// A TOML file of settings (docs/configuration.md): the command line and the environment
    /// override it; a key no command knows is refused.
    #[arg(long, env = "PATGATE_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    delivery: patgate_server::config::DeliverySettings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[arg(long, env = "PATGATE_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// The URL clients use to reach this server (for `url` fields); default http://BIND.
        #[arg(long, env = "PATGATE_PUBLIC_URL")]
        public_url: Option<String>,
        /// Load the demo directory (users, organizations, repositories, tokens: demo/seed.toml,
        /// built into the binary) before serving.
        #[arg(long)]
        demo: bool,
        /// Load this directory file with --demo instead of the built-in one.
        #[arg(long)]
        demo_file: Option<PathBuf>,
        #[command(flatten)]
        net: patgate_server::config::NetSettings,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Copy every row from one database to another, empty one (e.g. SQLite to PostgreSQL).
    Copy {
        /// Source database URL.
        #[arg(long)]
        from: String,
        /// Target database URL (migrated first; must hold no data).
        #[arg(long)]
        to: String,
    },
    /// Load a directory file (TOML, docs/seed-format.md); loading it again changes nothing.
    Seed {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Users of the directory.
    #[command(subcommand)]
    User(UserCommand),
    /// Organizations of the directory.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Repositories of the directory.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// A user's personal access tokens (operator acting for the user named by --user).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Enterprise policies, which organizations cannot override (operator command).
    #[command(subcommand)]
    Enterprise(cli::enterprise::EnterpriseCommand),
    /// An organization's apps, whose installation tokens call the organization API.
    #[command(subcommand)]
    App(AppCommand),
    /// An organization's pending fine-grained token requests.
    #[command(subcommand)]
    Request(RequestCommand),
    /// An organization's grants (fine-grained tokens with access to it).
    #[command(subcommand)]
    Grant(GrantCommand),
    /// What patgate tells people: the outbox of emails and webhook deliveries.
    #[command(subcommand)]
    Outbox(cli::delivery::OutboxCommand),
    /// Organization webhooks (as one of the organization's owners).
    #[command(subcommand)]
    Hook(cli::delivery::HookCommand),
    /// The scheduled jobs: list them, or run one now.
    #[command(subcommand)]
    Job(cli::delivery::JobCommand),
    /// Email addresses.
    #[command(subcommand)]
    Email(cli::delivery::EmailCommand),
    /// The whole directory at once (docs/platform.md).
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// The platform's service credentials, for the directory and authorization APIs.
    #[command(subcommand)]
    ServiceCredential(ServiceCredentialCommand),
    /// The configuration: what `serve` would run with.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check the settings `serve` would run with (command line, environment, --config file,
    /// defaults) and print each with where it came from, secrets masked. Exits 2 on the first
    /// setting that does not parse.
    Check,
}

#[derive(Subcommand)]
enum DirectoryCommand {
    /// Reconcile the directory with a file (the seed format without tokens and policies): what
    /// it lists is created or updated; members and collaborators it no longer lists are
    /// removed (and offboarded). All or nothing; running it again changes nothing.
    Sync {
        file: PathBuf,
        /// Report what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ServiceCredentialCommand {
    /// A new secret for a service, and the entry to add to the service credentials file.
    Create {
        #[arg(long)]
        name: String,
        /// directory or authorize (repeat).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a password, read from the first line of standard input.
    SetPassword { login: String },
    /// Create a user.
    Create {
        login: String,
        #[arg(long)]
        email: String,
        /// Read a password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        site_admin: bool,
        /// Create the user suspended.
        #[arg(long)]
        suspended: bool,
    },
    /// Give a user a new login.
    Rename { login: String, new_login: String },
    /// Suspend a user: every token of theirs is refused at once, and they cannot sign in.
    Suspend {
        login: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a user's suspension.
    Unsuspend { login: String },
    /// Delete a user with their tokens, keys, sessions and repositories.
    Delete { login: String },
}

fn main() -> std::process::ExitCode {
    use clap::CommandFactory;
    let env = |name: &str| std::env::var(name).ok();
    let argv = match patgate_server::config_file::expand(
        &Cli::command(),
        std::env::args_os().collect(),
        &env,
    ) {
        Ok(expanded) => expanded.argv,
        Err(e) => {
            eprintln!("patgate: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(argv);
    if let Command::Config(ConfigCommand::Check) = &cli.command {
        return config_check(cli.config.as_deref(), &env);
    }
    patgate_server::tls::install_default_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("patgate: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("patgate: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `patgate config check`.
fn config_check(
    config: Option<&std::path::Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::process::ExitCode {
    use clap::CommandFactory;
    let argv = std::env::args_os().collect();
    match patgate_server::config_file::check(&Cli::command(), argv, env) {
        Ok(lines) => {
            let width = lines.iter().map(|l| l.name.len()).max().unwrap_or(0);
            for l in &lines {
                println!("{:width$}  {}  ({})", l.name, l.value, l.source.as_str());
            }
            println!(
                "configuration is valid{}",
                config.map_or(String::new(), |p| format!(" ({})", p.display()))
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("patgate: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Turns an application error into a one-line message (all field errors for a 422).
fn explain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation(v) => anyhow!("invalid: {v}"),
        AppError::NotFound => anyhow!("not found"),
        other => anyhow!("{other}"),
    }
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

fn expiration(raw: &Option<String>) -> anyhow::Result<Option<Expiration>> {
    raw.as_deref()
        .map(|s| {
            Expiration::parse_expires_in(s)
                .ok_or_else(|| anyhow!("--expires-in takes 1-366 or none, not {s:?}"))
        })
        .transpose()
}

/// The policy settings of `org policy` and `enterprise policy`; a setting left out stays unset.
#[derive(clap::Args)]
struct PolicyArgs {
    /// allow or restrict (omit: not set).
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
}

impl PolicyArgs {
    fn settings(
        &self,
        exempt_administrators: bool,
    ) -> anyhow::Result<patgate_domain::policy::PolicySettings> {
        use patgate_domain::policy::{Access, Approval, PolicySettings};
        let access = |name: &str, v: &Option<String>| {
            v.as_deref()
                .map(|x| {
                    Access::parse(x).ok_or_else(|| anyhow!("--{name} takes allow or restrict"))
                })
                .transpose()
        };
        Ok(PolicySettings {
            fine_grained: access("fine-grained", &self.fine_grained)?,
            classic: access("classic", &self.classic)?,
            approval: self
                .approval
                .as_deref()
                .map(|x| {
                    Approval::parse(x).ok_or_else(|| anyhow!("--approval takes require or disable"))
                })
                .transpose()?,
            fine_grained_max_lifetime_days: self.fine_grained_max_lifetime_days,
            classic_max_lifetime_days: self.classic_max_lifetime_days,
            exempt_administrators,
        })
    }
}

fn selection(raw: &Option<String>) -> anyhow::Result<Option<RepositorySelection>> {
    raw.as_deref()
        .map(|s| {
            RepositorySelection::parse(s)
                .ok_or_else(|| anyhow!("--selection takes none, all or subset, not {s:?}"))
        })
        .transpose()
}

fn permissions(raw: &[String]) -> anyhow::Result<Vec<RequestedPermission>> {
    raw.iter()
        .map(|p| {
            let (name, level) = p
                .split_once('=')
                .ok_or_else(|| anyhow!("--permission takes NAME=LEVEL, not {p:?}"))?;
            Ok(RequestedPermission {
                group: None,
                name: name.trim().to_owned(),
                level: level.trim().to_owned(),
            })
        })
        .collect()
}

async fn user(app: &App, login: &str) -> anyhow::Result<patgate_domain::model::User> {
    app.store()
        .user_by_login(login)
        .await
        .map_err(|e| explain(e.into()))?
        .ok_or_else(|| anyhow!("no user {login:?}"))
}

const BASE: &str = "patgate:";

async fn token_json(app: &App, t: &Token, secret: Option<&str>) -> anyhow::Result<Value> {
    let owner = app
        .store()
        .user_by_id(t.user)
        .await
        .map_err(|e| explain(e.into()))?
        .ok_or_else(|| anyhow!("owner missing"))?;
    Ok(match &t.grant {
        TokenGrant::FineGrained {
            resource_owner,
            requested,
            granted,
            ..
        } => {
            let owner_account = app
                .store()
                .account_by_login(&match app
                    .store()
                    .org_by_id(*resource_owner)
                    .await
                    .map_err(|e| explain(e.into()))?
                {
                    Some(o) => o.login,
                    None => owner.login.clone(),
                })
                .await
                .map_err(|e| explain(e.into()))?
                .ok_or_else(|| anyhow!("resource owner missing"))?;
            let mut ids = requested.repositories.clone();
            if let Some(g) = granted {
                ids.extend(g.repositories.iter().copied());
            }
            let repos = app
                .store()
                .repos_by_ids(&ids)
                .await
                .map_err(|e| explain(e.into()))?;
            let mut v =
                wire::fine_grained_token(BASE, t, &owner_account, &repos, secret, app.now());
            v["kind"] = json!("fine_grained");
            v
        }
        _ => {
            let mut v = wire::classic_token(BASE, t, &owner, secret);
            v["kind"] = json!("classic");
            v
        }
    })
}

fn token_line(v: &Value) -> String {
    let status = v["status"].as_str().unwrap_or("active");
    let scopes = v["scopes"].as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(",")
    });
    format!(
        "{:>6}  {:<12} {:<24} {:<10} expires {}  ...{}{}",
        v["id"],
        v["kind"].as_str().unwrap_or(""),
        v["name"].as_str().or(v["note"].as_str()).unwrap_or(""),
        status,
        v["expires_at"].as_str().unwrap_or("never"),
        v["token_last_eight"].as_str().unwrap_or(""),
        scopes.map(|s| format!("  scopes: {s}")).unwrap_or_default(),
    )
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    let delivery = cli.delivery;
    match cli.command {
        Command::Serve {
            bind,
            public_url,
            demo,
            demo_file,
            net,
        } => {
            let demo = demo.then_some(demo_file);
            cli::serve::serve(&settings, &delivery, bind, public_url, demo, &net).await
        }
        Command::Migrate => {
            open_store(&settings).await?;
            println!("migrations applied to {}", settings.database_url());
            Ok(())
        }
        Command::Copy { from, to } => {
            let source = patgate_server::connect_store(&settings, &from).await?;
            source
                .migrate()
                .await
                .context("bringing the source schema up to date")?;
            let target = patgate_server::connect_store(&settings, &to).await?;
            target
                .migrate()
                .await
                .context("creating the target schema")?;
            let dump = source
                .export_dump()
                .await
                .map_err(|e| anyhow!("reading {}: {e}", patgate_server::startup::redact(&from)))?;
            target
                .import_dump(&dump)
                .await
                .map_err(|e| anyhow!("writing {}: {e}", patgate_server::startup::redact(&to)))?;
            println!(
                "copied {} to {}",
                patgate_server::startup::redact(&from),
                patgate_server::startup::redact(&to)
            );
            Ok(())
        }
        Command::Seed { file, json } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let seed = patgate_app::seed::SeedFile::parse(&text)
                .with_context(|| format!("parsing {}", file.display()))?;
            let app = build_app(open_store(&settings).await?, &settings)?;
            let report = app.load_seed(&seed).await?;
            let tokens: Vec<Value> = report
                .new_tokens
                .iter()
                .map(|(n, s, t)| json!({"token": n, "state": s, "secret": t}))
                .collect();
            let v = json!({"created": report.created, "updated": report.updated, "unchanged": report.unchanged, "new_tokens": tokens});
            print(json, &v, || {
                let mut out = format!(
                    "{}: {} created, {} updated, {} unchanged",
                    file.display(),
                    report.created,
                    report.updated,
                    report.unchanged
                );
                for (name, state, secret) in &report.new_tokens {
                    out.push_str(&format!("\n  token {name} ({state}): {secret}"));
                }
                out
            });
            Ok(())
        }
        Command::User(cmd) => {
            let app = build_app(open_store(&settings).await?, &settings)?;
            match cmd {
                UserCommand::List { json } => {
                    let users = app
                        .store()
                        .list_users()
                        .await
                        .map_err(|e| explain(e.into()))?;
                    let v: Vec<Value> = users
                        .iter()
                        .map(|u| json!({"id": u.id.0, "login": u.login, "email": u.email, "email_verified": u.email_verified, "site_admin": u.site_admin}))
                        .collect();
                    print(json, &json!(v), || {
                        users
                            .iter()
                            .map(|u| {
                                format!(
                                    "{:>6}  {:<20} {}{}",
                                    u.id.0,
                                    u.login,
                                    u.email,
                                    if u.email_verified {
                                        ""
                                    } else {
                                        " (unverified)"
                                    }
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                }
                UserCommand::SetPassword { login } => {
                    let stdin = std::io::stdin();
                    if stdin.is_terminal() {
                        eprintln!("password for {login} (input is shown):");
                    }
                    let mut line = String::new();
                    stdin.lock().read_line(&mut line)?;
                    let password = line.trim_end_matches(['\n', '\r']);
                    app.set_password(&login, password).await.map_err(explain)?;
                    println!("password set for {login}");
                }
                UserCommand::Create {
                    login,
                    email,
                    password_stdin,
                    site_admin,
                    suspended,
                } => {
                    let password = if password_stdin {
                        let mut line = String::new();
                        std::io::stdin().lock().read_line(&mut line)?;
                        Some(line.trim_end_matches(['\n', '\r']).to_owned())
                    } else {
                        None
                    };
                    platform_cli::user_create(
                        &app, &login, &email, password, site_admin, suspended,
                    )
                    .await?;
                }
                UserCommand::Rename { login, new_login } => {
                    platform_cli::rename(&app, &login, &new_login).await?;
                }
                UserCommand::Suspend { login, reason } => {
                    platform_cli::suspend(&app, &login, true, reason.as_deref()).await?;
                }
                UserCommand::Unsuspend { login } => {
                    platform_cli::suspend(&app, &login, false, None).await?;
                }
                UserCommand::Delete { login } => platform_cli::user_delete(&app, &login).await?,
            }
            Ok(())
        }
        Command::Org(cmd) => org_command(cmd, &settings).await,
        Command::Repo(cmd) => repo_command(cmd, &settings).await,
        Command::Token(cmd) => token_command(cmd, &settings).await,
        Command::App(cmd) => app_command(cmd, &settings).await,
        Command::Enterprise(cmd) => cli::enterprise::enterprise_command(cmd, &settings).await,
        Command::Directory(DirectoryCommand::Sync {
            file,
            dry_run,
            json,
        }) => {
            let app = build_app(open_store(&settings).await?, &settings)?;
            platform_cli::sync(&app, &file, dry_run, json).await
        }
        // Answered by `main` before the runtime starts.
        Command::Config(ConfigCommand::Check) => Ok(()),
        Command::ServiceCredential(ServiceCredentialCommand::Create { name, scopes }) => {
            platform_cli::service_credential(&name, &scopes)
        }
        Command::Request(cmd) => request_command(cmd, &settings).await,
        Command::Grant(cmd) => grant_command(cmd, &settings).await,
        Command::Outbox(cmd) => cli::delivery::outbox(cmd, &settings, &delivery).await,
        Command::Hook(cmd) => cli::delivery::hook(cmd, &settings).await,
        Command::Job(cmd) => cli::delivery::job(cmd, &settings, &delivery).await,
        Command::Email(cmd) => cli::delivery::email(cmd, &settings).await,
    }
}
