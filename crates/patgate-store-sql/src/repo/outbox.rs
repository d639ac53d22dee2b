//! The outbox (`outbox`, `outbox_attempts`), organization webhooks (`webhooks`) and email
//! verifications (`email_verifications`).
//!
//! Messages are written by the change that causes them ([`write_messages`], called inside its
//! transaction) or on their own ([`OutboxStore::enqueue`]); a unique dedupe key makes a message
//! one row however often it is written. A worker claims due messages: the claim is one
//! statement (`UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)` on PostgreSQL; SQLite's
//! single writer serialises it), so each message has one holder at a time, and a claim that runs
//! out (its holder died) is claimed again. An outcome is recorded only by the holder.

use async_trait::async_trait;
use time::OffsetDateTime;

use patgate_domain::model::{AccountId, RequestId, TokenId};
use patgate_domain::session::SessionHash;
use patgate_store::codec::{from_unix, opt_from_unix, to_unix};
use patgate_store::{
    Channel, DeliveryAttempt, DeliveryOutcome, EmailVerificationStore, Listing,
    NewEmailVerification, NewOutboxMessage, NewWebhook, OutboxCounts, OutboxFilter,
    OutboxMessage, OutboxStatus, OutboxStore, PageQuery, StoreError, StoreResult, Webhook,
    WebhookEdit, WebhookStore,
};

use super::rows::corrupt;
use super::tokens::BATCH_ROWS;
use super::{Conn, Db, EngineStore, commit, db_err};

macro_rules! message_cols {
    () => {
        "id, channel, kind, recipient, dedupe_key, payload, secret, created_at, status, attempts, \
         next_attempt_at, last_error, response_code, sent_at"
    };
}

macro_rules! webhook_cols {
    () => {
        "id, org_id, url, secret, events, active, created_at, created_by"
    };
}

statements! {
    CLAIM_DUE = concat!(
        "UPDATE outbox SET claimed_by = $1, claimed_until = $3 WHERE id IN (\
         SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2 \
         AND (claimed_until IS NULL OR claimed_until <= $2) \
         ORDER BY next_attempt_at, id LIMIT $4",
        for_update_skip_locked!(),
        ") RETURNING ",
        message_cols!(),
    );
    FINISH_SENT = "UPDATE outbox SET status = 'sent', sent_at = $3, attempts = attempts + 1, \
        response_code = $4, last_error = NULL, secret = NULL, claimed_by = NULL, \
        claimed_until = NULL WHERE id = $1 AND claimed_by = $2";
    FINISH_RETRY = "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $3, \
        response_code = $4, last_error = $5, claimed_by = NULL, claimed_until = NULL \
        WHERE id = $1 AND claimed_by = $2";
    FINISH_FAILED = "UPDATE outbox SET status = 'failed', attempts = attempts + 1, \
        response_code = $3, last_error = $4, claimed_by = NULL, claimed_until = NULL \
        WHERE id = $1 AND claimed_by = $2";
    INSERT_ATTEMPT = "INSERT INTO outbox_attempts (message_id, attempted_at, outcome, \
        response_code, error) VALUES ($1, $2, $3, $4, $5)";
    MESSAGE_BY_ID = concat!("SELECT ", message_cols!(), " FROM outbox WHERE id = $1");
    MESSAGES_PAGE = concat!(
        "SELECT ",
        message_cols!(),
        " FROM outbox WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) \
         AND (CAST($2 AS TEXT) IS NULL OR channel = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR recipient = $3) ORDER BY id DESC LIMIT $4 OFFSET $5",
    );
    MESSAGES_COUNT = "SELECT COUNT(*) FROM outbox WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) \
        AND (CAST($2 AS TEXT) IS NULL OR channel = $2) \
        AND (CAST($3 AS TEXT) IS NULL OR recipient = $3)";
    ATTEMPTS = "SELECT id, message_id, attempted_at, outcome, response_code, error \
        FROM outbox_attempts WHERE message_id = $1 ORDER BY id";
    RETRY = "UPDATE outbox SET status = 'pending', next_attempt_at = $2, claimed_by = NULL, \
        claimed_until = NULL WHERE id = $1";
    COUNTS = "SELECT status, COUNT(*) FROM outbox GROUP BY status";
    INSERT_WEBHOOK = concat!(
        "INSERT INTO webhooks (org_id, url, secret, events, active, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        webhook_cols!(),
    );
    WEBHOOK_BY_ID = concat!("SELECT ", webhook_cols!(), " FROM webhooks WHERE id = $1");
    WEBHOOKS_OF_ORG = concat!(
        "SELECT ",
        webhook_cols!(),
        " FROM webhooks WHERE org_id = $1 ORDER BY id",
    );
    UPDATE_WEBHOOK = concat!(
        "UPDATE webhooks SET url = $2, secret = $3, events = $4, active = $5 WHERE id = $1 \
         RETURNING ",
        webhook_cols!(),
    );
    DELETE_WEBHOOK = "DELETE FROM webhooks WHERE id = $1";
    INSERT_VERIFICATION = "INSERT INTO email_verifications (hash, user_id, email, created_at, \
        expires_at) VALUES ($1, $2, $3, $4, $5)";
    VERIFICATION = "SELECT v.user_id, v.email, v.expires_at, a.email FROM email_verifications v \
        JOIN accounts a ON a.id = v.user_id WHERE v.hash = $1";
    MARK_VERIFIED = "UPDATE accounts SET email_verified = TRUE WHERE id = $1";
    DELETE_VERIFICATIONS = "DELETE FROM email_verifications WHERE user_id = $1";
    DELETE_VERIFICATION = "DELETE FROM email_verifications WHERE hash = $1";
}

// Pieces of the statement built at run time (`push_values` fills the `VALUES` rows).
const INSERT_MESSAGES_HEAD: &str = "INSERT INTO outbox (channel, kind, recipient, dedupe_key, \
    payload, secret, created_at, next_attempt_at) ";
const INSERT_MESSAGES_TAIL: &str = " ON CONFLICT (dedupe_key) DO NOTHING";

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    channel: String,
    kind: String,
    recipient: String,
    dedupe_key: String,
    payload: String,
    secret: Option<String>,
    created_at: i64,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    response_code: Option<i64>,
    sent_at: Option<i64>,
}

fn code(c: Option<i64>) -> Option<u16> {
    c.and_then(|c| u16::try_from(c).ok())
}

impl MessageRow {
    fn into_message(self) -> StoreResult<OutboxMessage> {
        Ok(OutboxMessage {
            id: self.id,
            channel: Channel::parse(&self.channel)
                .ok_or_else(|| corrupt("outbox channel", &self.channel))?,
            kind: self.kind,
            recipient: self.recipient,
            dedupe_key: self.dedupe_key,
            payload: serde_json::from_str(&self.payload)
                .map_err(|e| StoreError::Corrupt(format!("outbox {} payload: {e}", self.id)))?,
            secret: self.secret,
            created_at: from_unix(self.created_at)?,
            status: OutboxStatus::parse(&self.status)
                .ok_or_else(|| corrupt("outbox status", &self.status))?,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            next_attempt_at: from_unix(self.next_attempt_at)?,
            last_error: self.last_error,
            response_code: code(self.response_code),
            sent_at: opt_from_unix(self.sent_at)?,
        })
    }
}

/// Writes `messages` inside the caller's transaction, naming the token and requests the same
/// transaction inserted where the messages leave them open: `{request}` and a null
/// `request_id` name the request inserted for the message's token (its `token_id`, or the
/// inserted token), else the first one inserted.
pub(crate) async fn write_messages(
    conn: &mut Conn,
    messages: &[NewOutboxMessage],
    token: Option<TokenId>,
    requests: &[(TokenId, RequestId)],
) -> StoreResult<u64> {
    let mut written = 0;
    let mut rows = Vec::with_capacity(messages.len());
    for m in messages {
        let mut payload = m.payload.clone();
        let mut key = m.dedupe_key.clone();
        if let Some(t) = token {
            key = key.replace("{token}", &t.0.to_string());
            if payload.get("token_id").is_some_and(serde_json::Value::is_null) {
                payload["token_id"] = t.0.into();
            }
        }
        let about = payload.get("token_id").and_then(serde_json::Value::as_i64);
        let request = requests
            .iter()
            .find(|(t, _)| Some(t.0) == about)
            .or(requests.first())
            .map(|(_, r)| *r);
        if let Some(r) = request {
            key = key.replace("{request}", &r.0.to_string());
            if payload.get("request_id").is_some_and(serde_json::Value::is_null) {
                payload["request_id"] = r.0.into();
            }
        }
        if key.contains("{token}") || key.contains("{request}") {
            return Err(StoreError::Conflict(format!(
                "the message {key} names an inserted row the change does not insert"
            )));
        }
        rows.push((m, key, payload.to_string()));
    }
    // One statement per batch, not per message (a bulk review of 100 queues 100 notices). A key
    // given twice in one batch keeps its first message, as separate inserts would.
    let mut seen = std::collections::HashSet::new();
    rows.retain(|(_, key, _)| seen.insert(key.clone()));
    for chunk in rows.chunks(BATCH_ROWS) {
        let mut q = sqlx::QueryBuilder::<Db>::new(INSERT_MESSAGES_HEAD);
        q.push_values(chunk, |mut row, (m, key, payload)| {
            let at = to_unix(m.created_at);
            row.push_bind(m.channel.as_str())
                .push_bind(m.kind.clone())
                .push_bind(m.recipient.clone())
                .push_bind(key.clone())
                .push_bind(payload.clone())
                .push_bind(m.secret.clone())
                .push_bind(at)
                .push_bind(at);
        });
        q.push(INSERT_MESSAGES_TAIL);
        let done = q.build().execute(&mut *conn).await.map_err(db_err)?;
        written += done.rows_affected();
    }
    Ok(written)
}

#[async_trait]
impl OutboxStore for EngineStore {
    async fn enqueue(&self, messages: &[NewOutboxMessage]) -> StoreResult<u64> {
        if messages.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write_tx().await?;
        let written = write_messages(&mut tx, messages, None, &[]).await?;
        commit(tx).await?;
        Ok(written)
    }

    async fn claim_due(
        &self,
        holder: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let mut tx = self.write_tx().await?;
        let rows: Vec<MessageRow> = sqlx::query_as(CLAIM_DUE)
            .bind(holder)
            .bind(to_unix(now))
            .bind(to_unix(lease_until))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await?;
        let mut messages: Vec<OutboxMessage> = rows
            .into_iter()
            .map(MessageRow::into_message)
            .collect::<StoreResult<_>>()?;
        // RETURNING gives no order: deliver the oldest due first.
        messages.sort_by_key(|m| (m.next_attempt_at, m.id));
        Ok(messages)
    }

    async fn finish_delivery(
        &self,
        id: i64,
        holder: &str,
        at: OffsetDateTime,
        outcome: &DeliveryOutcome,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let (done, sent, response, error) = match outcome {
            DeliveryOutcome::Sent { response_code } => {
                let done = sqlx::query(FINISH_SENT)
                    .bind(id)
                    .bind(holder)
                    .bind(to_unix(at))
                    .bind(response_code.map(i64::from))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                (done, true, *response_code, None)
            }
            DeliveryOutcome::Failed {
                error,
                response_code,
                retry_at: Some(retry_at),
            } => {
                let done = sqlx::query(FINISH_RETRY)
                    .bind(id)
                    .bind(holder)
                    .bind(to_unix(*retry_at))
                    .bind(response_code.map(i64::from))
                    .bind(error.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                (done, false, *response_code, Some(error.as_str()))
            }
            DeliveryOutcome::Failed {
                error,
                response_code,
                retry_at: None,
            } => {
                let done = sqlx::query(FINISH_FAILED)
                    .bind(id)
                    .bind(holder)
                    .bind(response_code.map(i64::from))
                    .bind(error.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                (done, false, *response_code, Some(error.as_str()))
            }
        };
        if done.rows_affected() == 0 {
            // The claim ran out and someone else holds the message: their outcome counts.
            return Ok(false);
        }
        sqlx::query(INSERT_ATTEMPT)
            .bind(id)
            .bind(to_unix(at))
            .bind(if sent { "sent" } else { "failed" })
            .bind(response.map(i64::from))
            .bind(error)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await?;
        Ok(true)
    }

    async fn outbox_message(&self, id: i64) -> StoreResult<Option<OutboxMessage>> {
        let row: Option<MessageRow> = sqlx::query_as(MESSAGE_BY_ID)
            .bind(id)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(MessageRow::into_message).transpose()
    }

    async fn outbox_page(
        &self,
        filter: &OutboxFilter,
        page: PageQuery,
    ) -> StoreResult<Listing<OutboxMessage>> {
        let status = filter.status.map(OutboxStatus::as_str);
        let channel = filter.channel.map(Channel::as_str);
        let recipient = filter.recipient.as_deref();
        let mut conn = self.read_conn().await?;
        let total: i64 = sqlx::query_scalar(MESSAGES_COUNT)
            .bind(status)
            .bind(channel)
            .bind(recipient)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        let rows: Vec<MessageRow> = sqlx::query_as(MESSAGES_PAGE)
            .bind(status)
            .bind(channel)
            .bind(recipient)
            .bind(i64::from(page.per_page))
            .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(Listing {
            items: rows
                .into_iter()
                .map(MessageRow::into_message)
                .collect::<StoreResult<_>>()?,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn delivery_attempts(&self, message: i64) -> StoreResult<Vec<DeliveryAttempt>> {
        let rows: Vec<(i64, i64, i64, String, Option<i64>, Option<String>)> =
            sqlx::query_as(ATTEMPTS)
                .bind(message)
                .fetch_all(self.reads())
                .await
                .map_err(db_err)?;
        rows.into_iter()
            .map(|(id, message_id, at, outcome, response, error)| {
                Ok(DeliveryAttempt {
                    id,
                    message_id,
                    attempted_at: from_unix(at)?,
                    sent: outcome == "sent",
                    response_code: code(response),
                    error,
                })
            })
            .collect()
    }

    async fn retry_message(&self, id: i64, now: OffsetDateTime) -> StoreResult<bool> {
        let done = sqlx::query(RETRY)
            .bind(id)
            .bind(to_unix(now))
            .execute(self.writes())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn outbox_counts(&self) -> StoreResult<OutboxCounts> {
        let rows: Vec<(String, i64)> = sqlx::query_as(COUNTS)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        let mut counts = OutboxCounts::default();
        for (status, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match OutboxStatus::parse(&status) {
                Some(OutboxStatus::Pending) => counts.pending = n,
                Some(OutboxStatus::Sent) => counts.sent = n,
                Some(OutboxStatus::Failed) => counts.failed = n,
                None => return Err(corrupt("outbox status", &status)),
            }
        }
        Ok(counts)
    }
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: i64,
    org_id: i64,
    url: String,
    secret: Option<String>,
    events: String,
    active: bool,
    created_at: i64,
    created_by: Option<i64>,
}

impl WebhookRow {
    fn into_webhook(self) -> StoreResult<Webhook> {
        Ok(Webhook {
            id: self.id,
            org: AccountId(self.org_id),
            url: self.url,
            secret: self.secret,
            events: self
                .events
                .split(',')
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect(),
            active: self.active,
            created_at: from_unix(self.created_at)?,
            created_by: self.created_by.map(AccountId),
        })
    }
}

#[async_trait]
impl WebhookStore for EngineStore {
    async fn insert_webhook(&self, hook: &NewWebhook) -> StoreResult<Webhook> {
        let row: WebhookRow = sqlx::query_as(INSERT_WEBHOOK)
            .bind(hook.org.0)
            .bind(&hook.url)
            .bind(hook.secret.as_deref())
            .bind(hook.events.join(","))
            .bind(hook.active)
            .bind(to_unix(hook.created_at))
            .bind(hook.created_by.map(|u| u.0))
            .fetch_one(self.writes())
            .await
            .map_err(db_err)?;
        row.into_webhook()
    }

    async fn webhook_by_id(&self, id: i64) -> StoreResult<Option<Webhook>> {
        let row: Option<WebhookRow> = sqlx::query_as(WEBHOOK_BY_ID)
            .bind(id)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(WebhookRow::into_webhook).transpose()
    }

    async fn webhooks_of_org(&self, org: AccountId) -> StoreResult<Vec<Webhook>> {
        let rows: Vec<WebhookRow> = sqlx::query_as(WEBHOOKS_OF_ORG)
            .bind(org.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(WebhookRow::into_webhook).collect()
    }

    async fn update_webhook(&self, id: i64, edit: &WebhookEdit) -> StoreResult<Option<Webhook>> {
        let mut tx = self.write_tx().await?;
        let Some(current) = sqlx::query_as::<_, WebhookRow>(WEBHOOK_BY_ID)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let current = current.into_webhook()?;
        let row: WebhookRow = sqlx::query_as(UPDATE_WEBHOOK)
            .bind(id)
            .bind(edit.url.as_deref().unwrap_or(&current.url))
            .bind(match &edit.secret {
                Some(s) => s.as_deref(),
                None => current.secret.as_deref(),
            })
            .bind(edit.events.as_ref().unwrap_or(&current.events).join(","))
            .bind(edit.active.unwrap_or(current.active))
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await?;
        row.into_webhook().map(Some)
    }

    async fn delete_webhook(&self, id: i64) -> StoreResult<bool> {
        let done = sqlx::query(DELETE_WEBHOOK)
            .bind(id)
            .execute(self.writes())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl EmailVerificationStore for EngineStore {
    async fn insert_email_verification(
        &self,
        v: &NewEmailVerification,
        message: &NewOutboxMessage,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        // The message first: when its key is taken (a link sent moments ago), nothing is
        // recorded, so no link exists that nobody was sent.
        if write_messages(&mut tx, std::slice::from_ref(message), None, &[]).await? == 0 {
            return Ok(false);
        }
        sqlx::query(INSERT_VERIFICATION)
            .bind(v.hash.as_bytes().as_slice())
            .bind(v.user.0)
            .bind(&v.email)
            .bind(to_unix(v.created_at))
            .bind(to_unix(v.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await?;
        Ok(true)
    }

    async fn verify_email(
        &self,
        hash: &SessionHash,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AccountId>> {
        let mut tx = self.write_tx().await?;
        let row: Option<(i64, String, i64, Option<String>)> = sqlx::query_as(VERIFICATION)
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let Some((user, email, expires_at, current)) = row else {
            return Ok(None);
        };
        // A link for an address the user no longer has, or an old one, verifies nothing.
        let live = expires_at > to_unix(now) && current.as_deref() == Some(email.as_str());
        if live {
            sqlx::query(MARK_VERIFIED)
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        // A link that worked ends them all; one that did not ends only itself (a newer link
        // the user has not opened yet still works).
        if live {
            sqlx::query(DELETE_VERIFICATIONS).bind(user)
        } else {
            sqlx::query(DELETE_VERIFICATION).bind(hash.as_bytes().as_slice())
        }
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if live {
            self.notify_directory(&mut tx).await?;
        }
        commit(tx).await?;
        Ok(live.then_some(AccountId(user)))
    }
}

/// The batched insert of messages, of one row and of two, for the test that runs every
/// statement.
#[cfg(test)]
pub(super) fn batch_statements() -> Vec<(&'static str, sqlx::QueryBuilder<Db>)> {
    [1, 2]
        .into_iter()
        .map(|n| {
            let mut q = sqlx::QueryBuilder::<Db>::new(INSERT_MESSAGES_HEAD);
            q.push_values(0..n, |mut row, i| {
                row.push_bind("email")
                    .push_bind("token_created")
                    .push_bind("mona@example.com")
                    .push_bind(format!("statement-test-{i}"))
                    .push_bind("{}")
                    .push_bind(None::<String>)
                    .push_bind(1_i64)
                    .push_bind(1_i64);
            });
            q.push(INSERT_MESSAGES_TAIL);
            ("INSERT_MESSAGES", q)
        })
        .collect()
}
