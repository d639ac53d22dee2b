//! Sending an email: over SMTP (lettre; STARTTLS or implicit TLS with rustls), or, without an
//! SMTP server configured, as `.eml` files in a directory (the embedded default, so the demo
//! shows every message).

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};

use patgate_app::delivery::Attempt;
use patgate_store::OutboxMessage;

use super::email::EmailView;

/// How to talk to the SMTP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required, never skipped): port 587.
    Starttls,
    /// TLS from the first byte: port 465.
    Tls,
    /// No encryption (a relay on the same host or network): port 25.
    None,
}

impl SmtpSecurity {
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
}

/// Where email goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// One `.eml` file per message, named after its outbox id and kind.
    Files(PathBuf),
}

impl Mailer {
    pub fn smtp(config: &SmtpConfig) -> anyhow::Result<Mailer> {
        let builder = match config.security {
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)?,
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
            }
        };
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let Some(user) = &config.username {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                config.password.clone().unwrap_or_default(),
            ));
        }
        Ok(Mailer::Smtp(builder.build()))
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(_) => "SMTP".to_owned(),
            Mailer::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    pub async fn send(&self, message: &OutboxMessage, email: Message) -> Attempt {
        match self {
            Mailer::Smtp(transport) => match transport.send(email).await {
                Ok(response) => Attempt::Sent {
                    response_code: Some(smtp_code(&response.code().to_string())),
                },
                Err(e) => Attempt::Failed {
                    error: format!("SMTP: {e}"),
                    response_code: e.status().map(|c| smtp_code(&c.to_string())),
                    permanent: e.is_permanent(),
                },
            },
            Mailer::Files(dir) => match write_eml(dir, message, &email.formatted()).await {
                Ok(()) => Attempt::Sent {
                    response_code: None,
                },
                Err(e) => Attempt::Failed {
                    error: format!("writing {}: {e}", dir.display()),
                    response_code: None,
                    permanent: false,
                },
            },
        }
    }
}

fn smtp_code(code: &str) -> u16 {
    code.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// The file a message is written to: the same name for every attempt, so a retry replaces
/// rather than adds.
pub fn eml_name(message: &OutboxMessage) -> String {
    format!("{:08}-{}.eml", message.id, message.kind)
}

async fn write_eml(
    dir: &std::path::Path,
    message: &OutboxMessage,
    bytes: &[u8],
) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let name = eml_name(message);
    let partial = dir.join(format!(".{name}.partial"));
    tokio::fs::write(&partial, bytes).await?;
    // A reader never sees half a message.
    tokio::fs::rename(&partial, dir.join(name)).await
}

/// The message's `Message-ID`: the same for every attempt, so a receiver that got it once
/// can tell a second copy (after a crash between sending and recording) for what it is.
pub fn message_id(message: &OutboxMessage, domain: &str) -> String {
    let digest = Sha256::digest(message.dedupe_key.as_bytes());
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("<patgate.{}.{tag}@{domain}>", message.id)
}

/// Builds the MIME message: plain text and HTML alternatives, with headers that mark it as
/// automatic.
pub fn build(
    message: &OutboxMessage,
    view: &EmailView,
    from: &Mailbox,
    domain: &str,
) -> anyhow::Result<Message> {
    let to: Mailbox = message
        .recipient
        .parse()
        .map_err(|e| anyhow::anyhow!("the address {:?}: {e}", message.recipient))?;
    let text = view.text()?;
    let html = view.html()?;
    let mut email = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(view.subject.clone())
        .message_id(Some(message_id(message, domain)))
        .date(std::time::SystemTime::from(message.created_at))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )?;
    for (name, value) in [
        ("Auto-Submitted", "auto-generated".to_owned()),
        ("X-Patgate-Kind", message.kind.clone()),
    ] {
        email.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str(name),
            value,
        ));
    }
    Ok(email)
}
