//! The transactional outbox, organization webhooks and email verifications: the store's side of
//! telling people things (DESIGN §6). A message is written in the same transaction as the change
//! that causes it, and delivered later by a worker that claims it, so that nothing is lost when a
//! process dies and no two processes deliver one message at once.

use async_trait::async_trait;
use time::OffsetDateTime;

use patgate_domain::model::{AccountId, TokenId};
use patgate_domain::session::SessionHash;

use crate::{Listing, PageQuery, StoreResult};

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "webhook" => Some(Channel::Webhook),
            _ => None,
        }
    }
}

/// A message to write with a change.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOutboxMessage {
    pub channel: Channel,
    /// What the message says (`request_approved`, `expires_soon`, ...): the renderer's key.
    pub kind: String,
    /// An email address, or a webhook's id.
    pub recipient: String,
    /// The message's identity, stable across retries and processes: a message enqueued twice
    /// with one key is one row. `{token}` and `{request}` stand for the ids of the token and the
    /// first request that the same change inserts.
    pub dedupe_key: String,
    /// What the renderer needs, as the change saw it. `"token_id": null` and
    /// `"request_id": null` are filled in with the ids the same change inserts.
    pub payload: serde_json::Value,
    /// A secret the message carries (a verification link's), kept only until delivered.
    pub secret: Option<String>,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutboxStatus {
    Pending,
    Sent,
    /// Given up after the last retry (an operator may retry it).
    Failed,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<OutboxStatus> {
        match s {
            "pending" => Some(OutboxStatus::Pending),
            "sent" => Some(OutboxStatus::Sent),
            "failed" => Some(OutboxStatus::Failed),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutboxMessage {
    pub id: i64,
    pub channel: Channel,
    pub kind: String,
    pub recipient: String,
    pub dedupe_key: String,
    pub payload: serde_json::Value,
    pub secret: Option<String>,
    pub created_at: OffsetDateTime,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub response_code: Option<u16>,
    pub sent_at: Option<OffsetDateTime>,
}

/// How one delivery attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent {
        response_code: Option<u16>,
    },
    Failed {
        error: String,
        response_code: Option<u16>,
        /// When to try again; `None` gives the message up (`Failed`).
        retry_at: Option<OffsetDateTime>,
    },
}

/// One recorded attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub id: i64,
    pub message_id: i64,
    pub attempted_at: OffsetDateTime,
    pub sent: bool,
    pub response_code: Option<u16>,
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub failed: u64,
    pub sent: u64,
}

/// Which messages a listing shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxFilter {
    pub status: Option<OutboxStatus>,
    pub channel: Option<Channel>,
    pub recipient: Option<String>,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Writes messages on their own (a job's reminders); a key already there is skipped. How
    /// many were new.
    async fn enqueue(&self, messages: &[NewOutboxMessage]) -> StoreResult<u64>;
    /// Claims up to `limit` messages due at `now` that nobody holds (or whose claim ran out),
    /// for `holder` until `lease_until`, oldest due first. Exactly one caller gets each.
    async fn claim_due(
        &self,
        holder: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>>;
    /// Records an attempt of a message `holder` claimed, and its new state (sent; to retry at a
    /// time; given up). False, and nothing written, when the claim is no longer `holder`'s.
    async fn finish_delivery(
        &self,
        id: i64,
        holder: &str,
        at: OffsetDateTime,
        outcome: &DeliveryOutcome,
    ) -> StoreResult<bool>;
    async fn outbox_message(&self, id: i64) -> StoreResult<Option<OutboxMessage>>;
    /// A page of messages, newest first.
    async fn outbox_page(
        &self,
        filter: &OutboxFilter,
        page: PageQuery,
    ) -> StoreResult<Listing<OutboxMessage>>;
    async fn delivery_attempts(&self, message: i64) -> StoreResult<Vec<DeliveryAttempt>>;
    /// Puts a message back in line at once (an operator's or an owner's redelivery), whatever
    /// its state; false when there is no such message.
    async fn retry_message(&self, id: i64, now: OffsetDateTime) -> StoreResult<bool>;
    async fn outbox_counts(&self) -> StoreResult<OutboxCounts>;
}

/// An organization webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub org: AccountId,
    pub url: String,
    pub secret: Option<String>,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: OffsetDateTime,
    pub created_by: Option<AccountId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWebhook {
    pub org: AccountId,
    pub url: String,
    pub secret: Option<String>,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: OffsetDateTime,
    pub created_by: Option<AccountId>,
}

/// A change to a webhook; `None` keeps a field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookEdit {
    pub url: Option<String>,
    /// `Some(None)` removes the secret.
    pub secret: Option<Option<String>>,
    pub events: Option<Vec<String>>,
    pub active: Option<bool>,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn insert_webhook(&self, hook: &NewWebhook) -> StoreResult<Webhook>;
    async fn webhook_by_id(&self, id: i64) -> StoreResult<Option<Webhook>>;
    /// The organization's webhooks, by id.
    async fn webhooks_of_org(&self, org: AccountId) -> StoreResult<Vec<Webhook>>;
    async fn update_webhook(&self, id: i64, edit: &WebhookEdit) -> StoreResult<Option<Webhook>>;
    async fn delete_webhook(&self, id: i64) -> StoreResult<bool>;
}

/// An email verification to record: the SHA-256 of the link's secret, with the message that
/// carries the link.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEmailVerification {
    pub hash: SessionHash,
    pub user: AccountId,
    pub email: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[async_trait]
pub trait EmailVerificationStore: Send + Sync {
    /// Records a verification and the message with its link, in one transaction; false, and
    /// nothing recorded, when the message's dedupe key is taken.
    async fn insert_email_verification(
        &self,
        verification: &NewEmailVerification,
        message: &NewOutboxMessage,
    ) -> StoreResult<bool>;
    /// Marks the user's email verified if `hash` names a live verification for the address the
    /// user still has, and removes the user's verifications (only this one, when it did not
    /// work); the user, when it worked.
    async fn verify_email(
        &self,
        hash: &SessionHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AccountId>>;
}

/// The token a message is about, for messages that name one.
pub fn token_of(message: &OutboxMessage) -> Option<TokenId> {
    message.payload["token_id"].as_i64().map(TokenId)
}
