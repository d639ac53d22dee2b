//! `patgate outbox`, `patgate hook`, `patgate job` and `patgate email`: the operator's view of
//! what patgate tells people, and the owner's webhooks.

use anyhow::anyhow;
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use patgate_app::App;
use patgate_app::hooks::HookSettings;
use patgate_server::api::json as wire;
use patgate_server::config::DeliverySettings;
use patgate_server::notify::Notifier;
use patgate_server::{Settings, build_app, open_store};
use patgate_store::{Channel, OutboxFilter, OutboxMessage, OutboxStatus, PageQuery, Webhook};

use super::super::{explain, print, user};

#[derive(Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Pending,
    Sent,
    Failed,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ChannelArg {
    Email,
    Webhook,
}

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// Messages, newest first.
    List {
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        #[arg(long, value_enum)]
        channel: Option<ChannelArg>,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 30)]
        per_page: u32,
        #[arg(long)]
        json: bool,
    },
    /// One message with its payload and every delivery attempt.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Put a message back in line now (a failed one, or one to send again).
    Retry { id: i64 },
    /// How many messages are pending, sent and failed.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Deliver what is due now, once, with this command's email and webhook settings.
    Deliver,
}

#[derive(Subcommand)]
pub enum HookCommand {
    /// Register a webhook for the organization (as one of its owners); it is pinged at once.
    Add {
        org: String,
        #[arg(long = "as")]
        owner: String,
        #[arg(long)]
        url: String,
        /// The secret that signs deliveries (X-Hub-Signature-256), read from this variable's
        /// value so that it stays out of the shell history.
        #[arg(long, env = "PATGATE_HOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Comma-separated; default personal_access_token_request.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long)]
        inactive: bool,
        #[arg(long)]
        json: bool,
    },
    List {
        org: String,
        #[arg(long = "as")]
        owner: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a webhook; what is not given stays.
    Edit {
        org: String,
        id: i64,
        #[arg(long = "as")]
        owner: String,
        #[arg(long)]
        url: Option<String>,
        #[arg(long, env = "PATGATE_HOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
        #[arg(long, conflicts_with = "secret")]
        remove_secret: bool,
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        #[arg(long, conflicts_with = "inactive")]
        active: bool,
        #[arg(long)]
        inactive: bool,
        #[arg(long)]
        json: bool,
    },
    Delete {
        org: String,
        id: i64,
        #[arg(long = "as")]
        owner: String,
    },
    /// Send the webhook a `ping` now.
    Ping {
        org: String,
        id: i64,
        #[arg(long = "as")]
        owner: String,
    },
    /// The webhook's deliveries, newest first, with status and response code.
    Deliveries {
        org: String,
        id: i64,
        #[arg(long = "as")]
        owner: String,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long)]
        json: bool,
    },
    /// Send a delivery again.
    Redeliver {
        org: String,
        id: i64,
        delivery: i64,
        #[arg(long = "as")]
        owner: String,
    },
}

#[derive(Subcommand)]
pub enum JobCommand {
    /// The scheduled jobs and their periods.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run a job now, whatever its schedule (`deliver_outbox` delivers what is due).
    Run { name: String },
}

#[derive(Subcommand)]
pub enum EmailCommand {
    /// Send the user a link that verifies their address.
    SendVerification { login: String },
}

fn status_name(m: &OutboxMessage) -> &'static str {
    m.status.as_str()
}

fn message_json(m: &OutboxMessage) -> Value {
    json!({
        "id": m.id,
        "channel": m.channel.as_str(),
        "kind": m.kind,
        "recipient": m.recipient,
        "status": status_name(m),
        "attempts": m.attempts,
        "created_at": wire::ts(m.created_at),
        "next_attempt_at": (m.status == OutboxStatus::Pending).then(|| wire::ts(m.next_attempt_at)),
        "sent_at": wire::opt_ts(m.sent_at),
        "response_code": m.response_code,
        "last_error": m.last_error,
    })
}

fn message_line(m: &OutboxMessage) -> String {
    let when = match m.status {
        OutboxStatus::Sent => m.sent_at.map(wire::ts).unwrap_or_default(),
        OutboxStatus::Pending => format!("next {}", wire::ts(m.next_attempt_at)),
        OutboxStatus::Failed => "given up".to_owned(),
    };
    let error = m
        .last_error
        .as_deref()
        .map_or(String::new(), |e| format!("  ({e})"));
    format!(
        "{:>6}  {:<7}  {:<8}  {:<30}  {:<28}  attempts {}  {when}{error}",
        m.id,
        status_name(m),
        m.channel.as_str(),
        m.kind,
        m.recipient,
        m.attempts
    )
}

fn hook_json(h: &Webhook) -> Value {
    json!({
        "id": h.id,
        "url": h.url,
        "events": h.events,
        "active": h.active,
        "has_secret": h.secret.is_some(),
        "created_at": wire::ts(h.created_at),
    })
}

fn hook_line(h: &Webhook) -> String {
    format!(
        "{:>4}  {}  {}  {}{}",
        h.id,
        if h.active { "active  " } else { "inactive" },
        h.url,
        h.events.join(","),
        if h.secret.is_some() { "  (signed)" } else { "" }
    )
}

async fn app_of(settings: &Settings) -> anyhow::Result<App> {
    build_app(open_store(settings).await?, settings)
}

fn notifier(
    app: &App,
    settings: &Settings,
    delivery: &DeliverySettings,
) -> anyhow::Result<Notifier> {
    let base =
        std::env::var("PATGATE_PUBLIC_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    Notifier::new(delivery, &settings.data_dir, &base, app.store().clone())
}

async fn deliver_now(
    app: &App,
    settings: &Settings,
    delivery: &DeliverySettings,
) -> anyhow::Result<()> {
    let n = notifier(app, settings, delivery)?;
    let report = app
        .deliver_due(&patgate_server::startup::holder(), &n, &delivery.policy())
        .await
        .map_err(explain)?;
    println!(
        "delivered with {}: {} sent, {} to retry, {} given up",
        n.describe(),
        report.sent,
        report.retrying,
        report.failed
    );
    Ok(())
}

pub async fn outbox(
    cmd: OutboxCommand,
    settings: &Settings,
    delivery: &DeliverySettings,
) -> anyhow::Result<()> {
    let app = app_of(settings).await?;
    match cmd {
        OutboxCommand::List {
            status,
            channel,
            page,
            per_page,
            json,
        } => {
            let filter = OutboxFilter {
                status: status.map(|s| match s {
                    StatusArg::Pending => OutboxStatus::Pending,
                    StatusArg::Sent => OutboxStatus::Sent,
                    StatusArg::Failed => OutboxStatus::Failed,
                }),
                channel: channel.map(|c| match c {
                    ChannelArg::Email => Channel::Email,
                    ChannelArg::Webhook => Channel::Webhook,
                }),
                recipient: None,
            };
            let listing = app
                .outbox_page(
                    &filter,
                    PageQuery {
                        page: page.max(1),
                        per_page: per_page.clamp(1, 100),
                        ascending: false,
                    },
                )
                .await
                .map_err(explain)?;
            let items: Vec<Value> = listing.items.iter().map(message_json).collect();
            print(
                json,
                &json!({"total": listing.total, "messages": items}),
                || {
                    if listing.items.is_empty() {
                        "no messages".to_owned()
                    } else {
                        let mut lines: Vec<String> =
                            listing.items.iter().map(message_line).collect();
                        lines.push(format!("{} in all", listing.total));
                        lines.join("\n")
                    }
                },
            );
        }
        OutboxCommand::Show { id, json } => {
            let (m, attempts) = app.outbox_message(id).await.map_err(|e| match e {
                patgate_app::AppError::NotFound => anyhow!("no message {id}"),
                other => explain(other),
            })?;
            let mut v = message_json(&m);
            v["dedupe_key"] = json!(m.dedupe_key);
            v["payload"] = m.payload.clone();
            v["attempts_log"] = json!(
                attempts
                    .iter()
                    .map(|a| json!({
                        "at": wire::ts(a.attempted_at),
                        "sent": a.sent,
                        "response_code": a.response_code,
                        "error": a.error,
                    }))
                    .collect::<Vec<_>>()
            );
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
        }
        OutboxCommand::Retry { id } => {
            app.retry_message(id).await.map_err(|e| match e {
                patgate_app::AppError::NotFound => anyhow!("no message {id}"),
                other => explain(other),
            })?;
            println!("message {id} is due now; a running server delivers it within seconds");
        }
        OutboxCommand::Stats { json } => {
            let c = app.outbox_counts().await.map_err(explain)?;
            let v = json!({"pending": c.pending, "sent": c.sent, "failed": c.failed});
            print(json, &v, || {
                format!(
                    "pending {}  sent {}  failed {}",
                    c.pending, c.sent, c.failed
                )
            });
        }
        OutboxCommand::Deliver => deliver_now(&app, settings, delivery).await?,
    }
    Ok(())
}

pub async fn hook(cmd: HookCommand, settings: &Settings) -> anyhow::Result<()> {
    let app = app_of(settings).await?;
    match cmd {
        HookCommand::Add {
            org,
            owner,
            url,
            secret,
            events,
            inactive,
            json,
        } => {
            let u = user(&app, &owner).await?;
            let h = app
                .create_hook(
                    &u,
                    &org,
                    HookSettings {
                        url: Some(url),
                        secret: secret.map(Some),
                        events: (!events.is_empty()).then_some(events),
                        active: Some(!inactive),
                    },
                )
                .await
                .map_err(explain)?;
            print(json, &hook_json(&h), || {
                format!(
                    "webhook {} added to {org}; a ping is on its way\n{}",
                    h.id,
                    hook_line(&h)
                )
            });
        }
        HookCommand::List { org, owner, json } => {
            let u = user(&app, &owner).await?;
            let (_, hooks) = app.hooks_of(&u, &org).await.map_err(explain)?;
            let v: Vec<Value> = hooks.iter().map(hook_json).collect();
            print(json, &json!(v), || {
                if hooks.is_empty() {
                    format!("{org} has no webhooks")
                } else {
                    hooks.iter().map(hook_line).collect::<Vec<_>>().join("\n")
                }
            });
        }
        HookCommand::Edit {
            org,
            id,
            owner,
            url,
            secret,
            remove_secret,
            events,
            active,
            inactive,
            json,
        } => {
            let u = user(&app, &owner).await?;
            let h = app
                .update_hook(
                    &u,
                    &org,
                    id,
                    HookSettings {
                        url,
                        secret: if remove_secret {
                            Some(None)
                        } else {
                            secret.map(Some)
                        },
                        events,
                        active: if active {
                            Some(true)
                        } else if inactive {
                            Some(false)
                        } else {
                            None
                        },
                    },
                )
                .await
                .map_err(explain)?;
            print(json, &hook_json(&h), || hook_line(&h));
        }
        HookCommand::Delete { org, id, owner } => {
            let u = user(&app, &owner).await?;
            app.delete_hook(&u, &org, id).await.map_err(explain)?;
            println!("webhook {id} deleted from {org}");
        }
        HookCommand::Ping { org, id, owner } => {
            let u = user(&app, &owner).await?;
            let (o, h) = app.hook_of(&u, &org, id).await.map_err(explain)?;
            app.ping_hook(&u, &o, &h).await.map_err(explain)?;
            println!("ping queued for webhook {id}");
        }
        HookCommand::Deliveries {
            org,
            id,
            owner,
            page,
            json,
        } => {
            let u = user(&app, &owner).await?;
            let listing = app
                .deliveries_of_hook(
                    &u,
                    &org,
                    id,
                    PageQuery {
                        page: page.max(1),
                        per_page: 30,
                        ascending: false,
                    },
                )
                .await
                .map_err(explain)?;
            let items: Vec<Value> = listing.items.iter().map(message_json).collect();
            print(json, &json!(items), || {
                if listing.items.is_empty() {
                    "no deliveries yet".to_owned()
                } else {
                    listing
                        .items
                        .iter()
                        .map(message_line)
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            });
        }
        HookCommand::Redeliver {
            org,
            id,
            delivery,
            owner,
        } => {
            let u = user(&app, &owner).await?;
            app.redeliver(&u, &org, id, delivery)
                .await
                .map_err(explain)?;
            println!("delivery {delivery} of webhook {id} is due again now");
        }
    }
    Ok(())
}

pub async fn job(
    cmd: JobCommand,
    settings: &Settings,
    delivery: &DeliverySettings,
) -> anyhow::Result<()> {
    match cmd {
        JobCommand::List { json } => {
            let mut v: Vec<Value> = patgate_app::jobs::JOBS
                .iter()
                .map(|j| {
                    json!({
                        "name": j.name,
                        "period": match j.period {
                            patgate_app::jobs::Period::Hourly => "hourly",
                            patgate_app::jobs::Period::Daily => "daily",
                        },
                        "about": j.about,
                    })
                })
                .collect();
            v.push(json!({"name": "deliver_outbox", "period": "continuous", "about": "sends the emails and webhook deliveries that are due"}));
            print(json, &json!(v), || {
                v.iter()
                    .map(|j| {
                        format!(
                            "{:<22} {:<10} {}",
                            j["name"].as_str().unwrap_or(""),
                            j["period"].as_str().unwrap_or(""),
                            j["about"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        JobCommand::Run { name } => {
            let app = app_of(settings).await?;
            if name == "deliver_outbox" {
                return deliver_now(&app, settings, delivery).await;
            }
            let outcome = app.run_job(&name).await.map_err(explain)?;
            println!("{} ran: {} affected", outcome.job, outcome.affected);
        }
    }
    Ok(())
}

pub async fn email(cmd: EmailCommand, settings: &Settings) -> anyhow::Result<()> {
    let app = app_of(settings).await?;
    match cmd {
        EmailCommand::SendVerification { login } => {
            let u = user(&app, &login).await?;
            match app.send_email_verification(&u).await.map_err(explain)? {
                patgate_app::emails::VerificationSent::Sent => {
                    println!("a verification link for {} is on its way", u.email);
                }
                patgate_app::emails::VerificationSent::AlreadySent => {
                    println!(
                        "a link was sent to {} moments ago; that one still works",
                        u.email
                    );
                }
            }
        }
    }
    Ok(())
}
