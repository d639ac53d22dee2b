//! Scheduled jobs. Each runs once per period across every process sharing the database: the
//! process that claims the period in the store runs it, the others skip it.

use serde_json::json;
use time::{Duration, OffsetDateTime};

use patgate_domain::token::TokenKind;
use patgate_store::NewAuditEvent;

use crate::{App, AppError};

/// GitHub removes personal access tokens that have not been used for a year (seed 004).
pub const UNUSED_TOKEN_DAYS: i64 = 365;

pub const REMOVE_UNUSED_TOKENS: &str = "remove_unused_tokens";

/// What a job run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobOutcome {
    pub job: &'static str,
    pub period: String,
    /// `false` when another process (or an earlier tick) had already claimed the period.
    pub ran: bool,
    pub affected: usize,
}

fn day(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl App {
    /// Runs every daily job whose period this process can claim. Called on a timer by `serve`.
    pub async fn run_due_jobs(&self, holder: &str) -> Result<Vec<JobOutcome>, AppError> {
        let now = self.now();
        let period = day(now);
        let mut outcomes = Vec::new();
        let claimed = self
            .store()
            .claim_job_run(REMOVE_UNUSED_TOKENS, &period, holder, now)
            .await?;
        let affected = if claimed {
            self.remove_unused_tokens(now).await?
        } else {
            0
        };
        outcomes.push(JobOutcome {
            job: REMOVE_UNUSED_TOKENS,
            period,
            ran: claimed,
            affected,
        });
        Ok(outcomes)
    }

    /// Deletes personal access tokens unused for a year (and, with them, the deploy keys they
    /// created), each with an audit row explaining why.
    pub async fn remove_unused_tokens(&self, now: OffsetDateTime) -> Result<usize, AppError> {
        let cutoff = now - Duration::days(UNUSED_TOKEN_DAYS);
        let ids = self.store().tokens_unused_since(cutoff).await?;
        let mut removed = 0;
        for id in ids {
            let Some(token) = self.store().token_by_id(id).await? else {
                continue;
            };
            let action = match token.kind() {
                TokenKind::Classic => "oauth_access.destroy",
                _ => "personal_access_token.destroy",
            };
            let event = NewAuditEvent {
                action: action.to_owned(),
                actor: None,
                actor_login: None,
                org: None,
                token_id: Some(id),
                data: json!({
                    "user_programmatic_access_name": token.name,
                    "explanation": "unused for one year",
                }),
                created_at: now,
            };
            match self.store().delete_token(id, &[event]).await {
                Ok(_) => removed += 1,
                // Deleted meanwhile by its owner or another process: nothing left to do.
                Err(patgate_store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            self.forget_token(id);
        }
        Ok(removed)
    }
}
