//! Scheduled jobs: a claimed run is a row of `job_runs`; the first insert for a period wins.

use async_trait::async_trait;
use time::OffsetDateTime;

use patgate_domain::model::{AccountId, Token, TokenId};
use patgate_store::codec::to_unix;
use patgate_store::{JobStore, StoreResult};

use super::tokens::{TokenRow, token_cols};
use super::{EngineStore, db_err};

statements! {
    CLAIM = "INSERT INTO job_runs (job, period, holder, claimed_at) VALUES ($1, $2, $3, $4) ON \
        CONFLICT (job, period) DO NOTHING RETURNING job";
    HOLDER = "SELECT holder FROM job_runs WHERE job = $1 AND period = $2";
    UNUSED_SINCE = "SELECT id FROM tokens WHERE kind <> 'app_installation' AND issued_at < $1 AND \
        (last_used_at IS NULL OR last_used_at < $1) ORDER BY id";
    EXPIRING_BETWEEN = concat!(
        "SELECT ",
        token_cols!(),
        " FROM tokens t WHERE t.kind <> 'app_installation' AND t.expires_at > $1 \
         AND t.expires_at <= $2 ORDER BY t.expires_at, t.id",
    );
    ORGS_WITH_PENDING = "SELECT DISTINCT org_id FROM token_requests WHERE status = 'pending' \
        ORDER BY org_id";
}

#[async_trait]
impl JobStore for EngineStore {
    async fn claim_job_run(
        &self,
        job: &str,
        period: &str,
        holder: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        // One statement, autocommitted: of concurrent inserts for the same key, one returns the
        // row and the others (which wait for it to commit) return nothing.
        let won: Option<String> = sqlx::query_scalar(CLAIM)
            .bind(job)
            .bind(period)
            .bind(holder)
            .bind(to_unix(now))
            .fetch_optional(self.writes())
            .await
            .map_err(db_err)?;
        Ok(won.is_some())
    }

    async fn job_run_holder(&self, job: &str, period: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar(HOLDER)
            .bind(job)
            .bind(period)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)
    }

    async fn tokens_unused_since(&self, cutoff: OffsetDateTime) -> StoreResult<Vec<TokenId>> {
        let ids: Vec<i64> = sqlx::query_scalar(UNUSED_SINCE)
            .bind(to_unix(cutoff))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(TokenId).collect())
    }

    async fn tokens_expiring_between(
        &self,
        after: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<Vec<Token>> {
        let rows: Vec<TokenRow> = sqlx::query_as(EXPIRING_BETWEEN)
            .bind(to_unix(after))
            .bind(to_unix(until))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(TokenRow::into_token).collect()
    }

    async fn orgs_with_pending_requests(&self) -> StoreResult<Vec<AccountId>> {
        let ids: Vec<i64> = sqlx::query_scalar(ORGS_WITH_PENDING)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(AccountId).collect())
    }
}
