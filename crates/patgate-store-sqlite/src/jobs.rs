//! Scheduled jobs: a claimed run is a row of `job_runs`; the first insert for a period wins.

use async_trait::async_trait;
use time::OffsetDateTime;

use patgate_domain::model::TokenId;
use patgate_store::codec::to_unix;
use patgate_store::{JobStore, StoreResult};

use crate::{SqliteStore, commit, db_err};

#[async_trait]
impl JobStore for SqliteStore {
    async fn claim_job_run(
        &self,
        job: &str,
        period: &str,
        holder: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "INSERT INTO job_runs (job, period, holder, claimed_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (job, period) DO NOTHING",
        )
        .bind(job)
        .bind(period)
        .bind(holder)
        .bind(to_unix(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        commit(tx).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn job_run_holder(&self, job: &str, period: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT holder FROM job_runs WHERE job = ? AND period = ?")
            .bind(job)
            .bind(period)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)
    }

    async fn tokens_unused_since(&self, cutoff: OffsetDateTime) -> StoreResult<Vec<TokenId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM tokens WHERE kind <> 'app_installation' \
             AND issued_at < ?1 AND (last_used_at IS NULL OR last_used_at < ?1) ORDER BY id",
        )
        .bind(to_unix(cutoff))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(ids.into_iter().map(TokenId).collect())
    }
}
