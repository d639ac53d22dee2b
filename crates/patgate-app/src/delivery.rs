//! Delivering the outbox: claim due messages, hand each to a [`Deliverer`] (the server's SMTP,
//! `.eml` files or webhook sender), record the attempt, and retry with exponential backoff.
//!
//! A claim is a lease: a process that dies mid-delivery leaves its messages to be claimed again
//! once the lease runs out, so nothing is lost. A message the receiver had already accepted is
//! then offered again, under the same identity (the email's `Message-ID`, the webhook's
//! `X-GitHub-Delivery`), so the receiver can tell it is the same one.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use time::OffsetDateTime;

use patgate_store::{
    Channel, DeliveryAttempt, DeliveryOutcome, Listing, OutboxCounts, OutboxFilter, OutboxMessage,
    PageQuery,
};

use crate::{App, AppError};

/// How one delivery went, as the deliverer saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    Sent {
        response_code: Option<u16>,
    },
    Failed {
        error: String,
        response_code: Option<u16>,
        /// Trying again cannot help (no such webhook any more, an address the server refuses
        /// for good, a payload that cannot be rendered).
        permanent: bool,
    },
}

/// Sends one message. It must return within the lease (it bounds its own time).
#[async_trait]
pub trait Deliverer: Send + Sync {
    async fn deliver(&self, message: &OutboxMessage) -> Attempt;
}

#[async_trait]
impl<D: Deliverer + ?Sized> Deliverer for Arc<D> {
    async fn deliver(&self, message: &OutboxMessage) -> Attempt {
        (**self).deliver(message).await
    }
}

/// The worker's tunables.
#[derive(Clone, Debug)]
pub struct DeliveryPolicy {
    /// How long a claimed message is this process's before another may take it over.
    pub lease: Duration,
    /// How many messages are sent at once.
    pub concurrency: usize,
    /// After this many attempts a message is given up (`failed`; an operator may retry it).
    pub max_attempts: u32,
    /// The wait after the first failure; each further failure doubles it, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        // 30 s, 1 min, 2 min, ... 6 h: twelve attempts span about a day and a half.
        DeliveryPolicy {
            lease: Duration::from_secs(120),
            concurrency: 8,
            max_attempts: 12,
            first_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(6 * 3600),
        }
    }
}

impl DeliveryPolicy {
    /// When to try again after the `attempts`-th failed attempt, or `None` to give up.
    pub fn retry_at(&self, attempts: u32, now: OffsetDateTime) -> Option<OffsetDateTime> {
        if attempts >= self.max_attempts {
            return None;
        }
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1));
        let wait = self
            .first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        Some(now + wait)
    }
}

/// What one pass of the worker did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Outcomes not recorded: the lease ran out and another process holds the message.
    pub lost_lease: usize,
}

impl DeliveryReport {
    pub fn attempted(&self) -> usize {
        self.sent + self.retrying + self.failed + self.lost_lease
    }
}

impl App {
    /// Wakes this process's delivery worker: a change just wrote messages.
    pub(crate) fn outbox_written(&self) {
        self.inner.outbox_wakeup.notify_one();
    }

    /// Waits until a change in this process writes messages (or returns at once if one did
    /// since the last wait).
    pub async fn outbox_wakeup(&self) {
        self.inner.outbox_wakeup.notified().await;
    }

    /// Delivers every message due now, `policy.concurrency` at a time, until none is left that
    /// this process can claim.
    pub async fn deliver_due(
        &self,
        holder: &str,
        deliverer: &dyn Deliverer,
        policy: &DeliveryPolicy,
    ) -> Result<DeliveryReport, AppError> {
        let mut report = DeliveryReport::default();
        let batch = u32::try_from(policy.concurrency.max(1)).unwrap_or(8);
        loop {
            let now = self.now();
            let claimed = self
                .store()
                .claim_due(holder, now, now + policy.lease, batch)
                .await?;
            if claimed.is_empty() {
                return Ok(report);
            }
            let n = claimed.len();
            let outcomes: Vec<Result<Recorded, AppError>> = futures_util::stream::iter(claimed)
                .map(|m| self.deliver_one(holder, deliverer, policy, m))
                .buffer_unordered(policy.concurrency.max(1))
                .collect()
                .await;
            for outcome in outcomes {
                match outcome? {
                    Recorded::Sent => report.sent += 1,
                    Recorded::Retrying => report.retrying += 1,
                    Recorded::Failed => report.failed += 1,
                    Recorded::LostLease => report.lost_lease += 1,
                }
            }
            if n < batch as usize {
                return Ok(report);
            }
        }
    }

    async fn deliver_one(
        &self,
        holder: &str,
        deliverer: &dyn Deliverer,
        policy: &DeliveryPolicy,
        message: OutboxMessage,
    ) -> Result<Recorded, AppError> {
        let attempt = deliverer.deliver(&message).await;
        let now = self.now();
        let attempts = message.attempts + 1;
        let (outcome, recorded) = match attempt {
            Attempt::Sent { response_code } => {
                (DeliveryOutcome::Sent { response_code }, Recorded::Sent)
            }
            Attempt::Failed {
                error,
                response_code,
                permanent,
            } => {
                let retry_at = if permanent {
                    None
                } else {
                    policy.retry_at(attempts, now)
                };
                // Never the address or the payload: the id finds them for whoever may see them.
                tracing::warn!(
                    message = message.id,
                    channel = message.channel.as_str(),
                    kind = %message.kind,
                    attempts,
                    response_code,
                    error = %error,
                    gives_up = retry_at.is_none(),
                    "delivery failed"
                );
                let recorded = if retry_at.is_some() {
                    Recorded::Retrying
                } else {
                    Recorded::Failed
                };
                (
                    DeliveryOutcome::Failed {
                        error,
                        response_code,
                        retry_at,
                    },
                    recorded,
                )
            }
        };
        let kept = self
            .store()
            .finish_delivery(message.id, holder, now, &outcome)
            .await?;
        if !kept {
            tracing::warn!(
                message = message.id,
                "a delivery outlived its lease; another process now holds the message"
            );
            return Ok(Recorded::LostLease);
        }
        Ok(recorded)
    }

    pub async fn outbox_page(
        &self,
        filter: &OutboxFilter,
        page: PageQuery,
    ) -> Result<Listing<OutboxMessage>, AppError> {
        Ok(self.store().outbox_page(filter, page).await?)
    }

    pub async fn outbox_message(
        &self,
        id: i64,
    ) -> Result<(OutboxMessage, Vec<DeliveryAttempt>), AppError> {
        let message = self
            .store()
            .outbox_message(id)
            .await?
            .ok_or(AppError::NotFound)?;
        let attempts = self.store().delivery_attempts(id).await?;
        Ok((message, attempts))
    }

    /// Puts a message back in line now (an operator's retry, an owner's redelivery).
    pub async fn retry_message(&self, id: i64) -> Result<(), AppError> {
        if !self.store().retry_message(id, self.now()).await? {
            return Err(AppError::NotFound);
        }
        self.outbox_written();
        Ok(())
    }

    pub async fn outbox_counts(&self) -> Result<OutboxCounts, AppError> {
        Ok(self.store().outbox_counts().await?)
    }

    /// A webhook's deliveries, newest first.
    pub async fn hook_deliveries(
        &self,
        hook: i64,
        page: PageQuery,
    ) -> Result<Listing<OutboxMessage>, AppError> {
        let filter = OutboxFilter {
            channel: Some(Channel::Webhook),
            recipient: Some(hook.to_string()),
            status: None,
        };
        Ok(self.store().outbox_page(&filter, page).await?)
    }
}

enum Recorded {
    Sent,
    Retrying,
    Failed,
    LostLease,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn backoff_doubles_from_thirty_seconds_to_six_hours_then_gives_up() {
        let p = DeliveryPolicy::default();
        let waits: Vec<i64> = (1..=12)
            .map(|n| {
                p.retry_at(n, t(0))
                    .map_or(-1, |at| (at - t(0)).whole_seconds())
            })
            .collect();
        assert_eq!(
            waits,
            vec![
                30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, -1
            ]
        );
    }
}
