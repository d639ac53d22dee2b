//! Delivering what the outbox holds (issue 12): emails over SMTP or into `.eml` files, webhook
//! events over HTTP, by a worker in every `serve` process. Messages are claimed with a lease,
//! so several processes share the work and none delivers a message another holds.

pub mod email;
pub mod mailer;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;

use patgate_app::App;
use patgate_app::delivery::{Attempt, Deliverer, DeliveryPolicy};
use patgate_app::notify::Envelope;
use patgate_store::{Channel, OutboxMessage, Store};

use crate::config::DeliverySettings;
use mailer::Mailer;
use webhook::WebhookSender;

/// The server's deliverer: renders a message and sends it where its channel says.
pub struct Notifier {
    mailer: Mailer,
    from: Mailbox,
    /// The domain of `Message-ID`s: the sender's.
    domain: String,
    base_url: String,
    webhooks: WebhookSender,
    store: Arc<dyn Store>,
}

impl Notifier {
    pub fn new(
        settings: &DeliverySettings,
        data_dir: &std::path::Path,
        base_url: &str,
        store: Arc<dyn Store>,
    ) -> anyhow::Result<Notifier> {
        let from: Mailbox = settings
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("--mail-from {:?}: {e}", settings.mail_from))?;
        let domain = from.email.domain().to_owned();
        let mailer = match settings.smtp()? {
            Some(smtp) => Mailer::smtp(&smtp)?,
            None => Mailer::Files(settings.mail_dir(data_dir)),
        };
        Ok(Notifier {
            mailer,
            from,
            domain,
            base_url: base_url.trim_end_matches('/').to_owned(),
            webhooks: WebhookSender::new(
                webhook::NetworkPolicy {
                    allowed: settings.webhook_allowed_networks.clone(),
                },
                Duration::from_secs(settings.webhook_timeout_secs.max(1)),
            )?,
            store,
        })
    }

    /// Where email goes, for the start-up line.
    pub fn describe(&self) -> String {
        self.mailer.describe()
    }

    async fn deliver_email(&self, message: &OutboxMessage, envelope: &Envelope) -> Attempt {
        if message.kind == "verify_email" && message.secret.is_none() {
            // Delivered once already: the link's secret is gone, and a link without it is
            // useless. The user asks for a new one.
            return failed_for_good("the link was sent already; ask for a new one");
        }
        let Some(view) = email::view(message, envelope, &self.base_url) else {
            return failed_for_good("not an email");
        };
        match mailer::build(message, &view, &self.from, &self.domain) {
            Ok(built) => self.mailer.send(message, built).await,
            Err(e) => failed_for_good(&format!("building the email: {e}")),
        }
    }

    async fn deliver_webhook(&self, message: &OutboxMessage, envelope: &Envelope) -> Attempt {
        let Ok(id) = message.recipient.parse::<i64>() else {
            return failed_for_good("the recipient is not a webhook id");
        };
        match self.store.webhook_by_id(id).await {
            Ok(Some(hook)) if hook.active => {
                self.webhooks
                    .send(message, envelope, &hook, &self.base_url)
                    .await
            }
            Ok(Some(_)) => failed_for_good("the webhook is inactive"),
            Ok(None) => failed_for_good("the webhook was deleted"),
            Err(e) => Attempt::Failed {
                error: format!("reading the webhook: {e}"),
                response_code: None,
                permanent: false,
            },
        }
    }
}

fn failed_for_good(error: &str) -> Attempt {
    Attempt::Failed {
        error: error.to_owned(),
        response_code: None,
        permanent: true,
    }
}

#[async_trait]
impl Deliverer for Notifier {
    async fn deliver(&self, message: &OutboxMessage) -> Attempt {
        let envelope = match Envelope::from_payload(&message.payload) {
            Ok(e) => e,
            Err(e) => return failed_for_good(&format!("the message does not parse: {e}")),
        };
        match message.channel {
            Channel::Email => self.deliver_email(message, &envelope).await,
            Channel::Webhook => self.deliver_webhook(message, &envelope).await,
        }
    }
}

/// Delivers due messages until the process stops: at once when this process writes one, and
/// every `poll` for those written by other processes or due for a retry.
pub async fn run_worker(
    app: App,
    notifier: Arc<Notifier>,
    holder: String,
    policy: DeliveryPolicy,
    poll: Duration,
) {
    loop {
        match app.deliver_due(&holder, notifier.as_ref(), &policy).await {
            Ok(report) if report.attempted() > 0 => {
                tracing::info!(
                    sent = report.sent,
                    retrying = report.retrying,
                    failed = report.failed,
                    "outbox delivered"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "delivering the outbox"),
        }
        tokio::select! {
            () = app.outbox_wakeup() => {},
            () = tokio::time::sleep(poll) => {},
        }
    }
}
