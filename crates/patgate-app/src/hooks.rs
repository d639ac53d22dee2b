//! Organization webhooks (issue 12): owners register URLs that receive the
//! `personal_access_token_request` events, see each delivery with its status and response code,
//! and redeliver one. Deliveries go through the outbox like email, with its retries.

use patgate_domain::model::{Organization, User};
use patgate_domain::validate::{ErrorCode, FieldError, ValidationErrors};
use patgate_store::{Channel, Listing, NewWebhook, OutboxMessage, PageQuery, Webhook, WebhookEdit};

use crate::notify::{self, Notice, OrgFacts, Person, REQUEST_EVENT};
use crate::{App, AppError};

/// GitHub allows 20 webhooks per event per organization.
pub const MAX_HOOKS_PER_ORG: usize = 20;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_SECRET_CHARS: usize = 1024;

/// The events a webhook may subscribe to: the one patgate delivers, or everything (`*`).
pub const EVENTS: &[&str] = &[REQUEST_EVENT, "*"];

/// A webhook's settings as an owner gives them; `None` keeps (or, on creation, defaults) a
/// field.
#[derive(Clone, Debug, Default)]
pub struct HookSettings {
    pub url: Option<String>,
    /// `Some(None)` (or an empty secret) removes the secret.
    pub secret: Option<Option<String>>,
    pub events: Option<Vec<String>>,
    pub active: Option<bool>,
}

fn invalid(field: &'static str, code: ErrorCode, message: impl Into<String>) -> AppError {
    AppError::Validation(ValidationErrors::one(FieldError::new(
        "Hook", field, code, message,
    )))
}

/// A URL patgate can deliver to: `http` or `https`, with a host, no spaces. Where it may point
/// (no private networks unless allowed) is the sender's check, made on every delivery, since
/// a name's address can change.
pub fn check_url(url: &str) -> Result<(), AppError> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Err(invalid(
            "url",
            ErrorCode::Invalid,
            "url must start with https:// or http://",
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(invalid("url", ErrorCode::Invalid, "url must name a host"));
    }
    if url.chars().count() > MAX_URL_CHARS
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "url",
            ErrorCode::Invalid,
            format!("url must be at most {MAX_URL_CHARS} characters, without spaces"),
        ));
    }
    Ok(())
}

fn check_secret(secret: &str) -> Result<(), AppError> {
    if secret.chars().count() > MAX_SECRET_CHARS || secret.chars().any(char::is_control) {
        return Err(invalid(
            "secret",
            ErrorCode::Invalid,
            format!(
                "secret must be at most {MAX_SECRET_CHARS} characters, without control characters"
            ),
        ));
    }
    Ok(())
}

fn check_events(events: &[String]) -> Result<Vec<String>, AppError> {
    if events.is_empty() {
        return Err(invalid(
            "events",
            ErrorCode::Invalid,
            "events must name at least one event",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if !EVENTS.contains(&e.as_str()) {
            return Err(invalid(
                "events",
                ErrorCode::Invalid,
                format!("patgate delivers only {REQUEST_EVENT} events (or \"*\"), not {e:?}"),
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

fn normalized_secret(secret: Option<String>) -> Result<Option<String>, AppError> {
    match secret {
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => {
            check_secret(&s)?;
            Ok(Some(s))
        }
        None => Ok(None),
    }
}

impl App {
    /// The organization's webhooks, for an owner.
    pub async fn hooks_of(
        &self,
        owner: &User,
        org_login: &str,
    ) -> Result<(Organization, Vec<Webhook>), AppError> {
        let org = self.owned_org(owner, org_login).await?;
        let hooks = self.store().webhooks_of_org(org.id).await?;
        Ok((org, hooks))
    }

    /// One webhook of the organization, for an owner (`NotFound` for another organization's).
    pub async fn hook_of(
        &self,
        owner: &User,
        org_login: &str,
        id: i64,
    ) -> Result<(Organization, Webhook), AppError> {
        let org = self.owned_org(owner, org_login).await?;
        match self.store().webhook_by_id(id).await? {
            Some(h) if h.org == org.id => Ok((org, h)),
            _ => Err(AppError::NotFound),
        }
    }

    /// Registers a webhook and sends it a `ping`, as GitHub does.
    pub async fn create_hook(
        &self,
        owner: &User,
        org_login: &str,
        settings: HookSettings,
    ) -> Result<Webhook, AppError> {
        let org = self.owned_org(owner, org_login).await?;
        let url = settings
            .url
            .ok_or_else(|| invalid("url", ErrorCode::MissingField, "url is required"))?;
        check_url(&url)?;
        let secret = normalized_secret(settings.secret.flatten())?;
        let events = check_events(
            &settings
                .events
                .unwrap_or_else(|| vec![REQUEST_EVENT.to_owned()]),
        )?;
        if self.store().webhooks_of_org(org.id).await?.len() >= MAX_HOOKS_PER_ORG {
            return Err(invalid(
                "hook",
                ErrorCode::Custom,
                format!("an organization has at most {MAX_HOOKS_PER_ORG} webhooks"),
            ));
        }
        let hook = self
            .store()
            .insert_webhook(&NewWebhook {
                org: org.id,
                url: url.trim().to_owned(),
                secret,
                events,
                active: settings.active.unwrap_or(true),
                created_at: self.now(),
                created_by: Some(owner.id),
            })
            .await?;
        self.audit_hook("hook.create", owner, &org, &hook).await?;
        if hook.active {
            self.ping_hook(owner, &org, &hook).await?;
        }
        Ok(hook)
    }

    pub async fn update_hook(
        &self,
        owner: &User,
        org_login: &str,
        id: i64,
        settings: HookSettings,
    ) -> Result<Webhook, AppError> {
        let (org, _) = self.hook_of(owner, org_login, id).await?;
        if let Some(url) = &settings.url {
            check_url(url)?;
        }
        let events = settings.events.as_deref().map(check_events).transpose()?;
        let secret = match settings.secret {
            Some(s) => Some(normalized_secret(s)?),
            None => None,
        };
        let hook = self
            .store()
            .update_webhook(
                id,
                &WebhookEdit {
                    url: settings.url.map(|u| u.trim().to_owned()),
                    secret,
                    events,
                    active: settings.active,
                },
            )
            .await?
            .ok_or(AppError::NotFound)?;
        self.audit_hook("hook.config_changed", owner, &org, &hook)
            .await?;
        Ok(hook)
    }

    pub async fn delete_hook(
        &self,
        owner: &User,
        org_login: &str,
        id: i64,
    ) -> Result<(), AppError> {
        let (org, hook) = self.hook_of(owner, org_login, id).await?;
        if !self.store().delete_webhook(id).await? {
            return Err(AppError::NotFound);
        }
        self.audit_hook("hook.destroy", owner, &org, &hook).await
    }

    /// Sends the webhook GitHub's `ping` event now.
    pub async fn ping_hook(
        &self,
        sender: &User,
        org: &Organization,
        hook: &Webhook,
    ) -> Result<(), AppError> {
        let now = self.now();
        let message = notify::message(
            Channel::Webhook,
            hook.id.to_string(),
            format!("webhook:{}:ping:{}", hook.id, now.unix_timestamp_nanos()),
            None,
            None,
            Notice::Ping {
                hook_id: hook.id,
                org: OrgFacts::of(org),
                sender: Person::of(sender),
            },
            now,
        );
        self.store().enqueue(std::slice::from_ref(&message)).await?;
        self.outbox_written();
        Ok(())
    }

    /// A page of the webhook's deliveries, newest first.
    pub async fn deliveries_of_hook(
        &self,
        owner: &User,
        org_login: &str,
        id: i64,
        page: PageQuery,
    ) -> Result<Listing<OutboxMessage>, AppError> {
        self.hook_of(owner, org_login, id).await?;
        self.hook_deliveries(id, page).await
    }

    /// One delivery of the webhook, with its attempts.
    pub async fn delivery_of_hook(
        &self,
        owner: &User,
        org_login: &str,
        hook: i64,
        delivery: i64,
    ) -> Result<(OutboxMessage, Vec<patgate_store::DeliveryAttempt>), AppError> {
        self.hook_of(owner, org_login, hook).await?;
        let (message, attempts) = self.outbox_message(delivery).await?;
        if message.channel != Channel::Webhook || message.recipient != hook.to_string() {
            return Err(AppError::NotFound);
        }
        Ok((message, attempts))
    }

    /// Sends a delivery again, now (GitHub's "Redeliver").
    pub async fn redeliver(
        &self,
        owner: &User,
        org_login: &str,
        hook: i64,
        delivery: i64,
    ) -> Result<(), AppError> {
        self.delivery_of_hook(owner, org_login, hook, delivery)
            .await?;
        self.retry_message(delivery).await
    }

    async fn audit_hook(
        &self,
        action: &str,
        owner: &User,
        org: &Organization,
        hook: &Webhook,
    ) -> Result<(), AppError> {
        self.store()
            .append_audit(&patgate_store::NewAuditEvent {
                action: action.to_owned(),
                actor: Some(owner.id),
                actor_login: Some(owner.login.clone()),
                org: Some(org.id),
                token_id: None,
                // The URL's host only: a URL may carry credentials.
                data: serde_json::json!({
                    "hook_id": hook.id,
                    "events": hook.events,
                    "active": hook.active,
                    "host": host_of(&hook.url),
                }),
                created_at: self.now(),
            })
            .await?;
        Ok(())
    }
}

/// The host a URL names, for the audit log.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.rsplit('@').next().unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_are_taken() {
        for good in [
            "https://hooks.example.com/patgate",
            "http://127.0.0.1:8080/",
            "https://user:pass@example.com",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "ftp://example.com/",
            "https://",
            "https:///path",
            "https://:443/",
            "example.com",
            "https://exa mple.com/",
            "https://example.com/\u{7}",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_audit_log_keeps_the_host_not_the_credentials() {
        assert_eq!(
            host_of("https://u:secret@hooks.example.com:8443/x?y"),
            "hooks.example.com:8443"
        );
    }

    #[test]
    fn events_are_the_one_patgate_delivers() {
        assert_eq!(
            check_events(&["*".into(), "*".into()]).ok(),
            Some(vec!["*".to_owned()])
        );
        assert!(check_events(&["push".into()]).is_err());
        assert!(check_events(&[]).is_err());
    }
}
