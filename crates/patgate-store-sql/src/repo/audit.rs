//! The audit log: rows written inside the transaction of the change they describe.
//!
//! `audit_events` filters by every field of the query that is set: `org`, `token_id`, `action`
//! (exact), `actor_login` (case-insensitive), `after` (inclusive: `created_at >= after`) and
//! `before` (exclusive: `created_at < before`), so consecutive windows never overlap. Newest
//! first (ties by id, newest first); `limit` 0 means 100.

use async_trait::async_trait;

use patgate_domain::model::{AccountId, TokenId};
use patgate_store::codec::{from_unix, to_unix};
use patgate_store::{AuditEvent, AuditQuery, AuditStore, NewAuditEvent, StoreError, StoreResult};

use super::rows::fold;
use super::tokens::BATCH_ROWS;
use super::{Conn, Db, EngineStore, commit, db_err};

/// The page size when the query gives none.
pub(crate) const DEFAULT_LIMIT: u32 = 100;

statements! {
    INSERT_EVENT = "INSERT INTO audit_events (action, actor_id, actor_login, org_id, token_id, \
        data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    /// Every filter is optional: a parameter left NULL matches everything.
    EVENTS = "SELECT id, action, actor_id, actor_login, org_id, token_id, data, created_at FROM \
        audit_events WHERE (CAST($1 AS BIGINT) IS NULL OR org_id = $1) AND (CAST($2 AS TEXT) IS \
        NULL OR action = $2) AND (CAST($3 AS TEXT) IS NULL OR lower(actor_login) = $3) AND \
        (CAST($4 AS BIGINT) IS NULL OR created_at >= $4) AND (CAST($5 AS BIGINT) IS NULL OR \
        created_at < $5) AND (CAST($6 AS BIGINT) IS NULL OR token_id = $6) ORDER BY created_at \
        DESC, id DESC LIMIT $7 OFFSET $8";
}

// Pieces of the statements built at run time (`push_values` fills the `VALUES` rows).
const INSERT_EVENTS_HEAD: &str = "INSERT INTO audit_events (action, actor_id, actor_login, org_id, \
    token_id, data, created_at) ";

/// Inserts one event. `token` fills `token_id` when the event leaves it unset (a token's id is
/// only known once it is inserted).
pub(crate) async fn insert_audit(
    conn: &mut Conn,
    event: &NewAuditEvent,
    token: Option<TokenId>,
) -> StoreResult<()> {
    let data = serde_json::to_string(&event.data).map_err(|e| StoreError::Backend(Box::new(e)))?;
    sqlx::query(INSERT_EVENT)
        .bind(&event.action)
        .bind(event.actor.map(|a| a.0))
        .bind(event.actor_login.as_deref())
        .bind(event.org.map(|o| o.0))
        .bind(event.token_id.or(token).map(|t| t.0))
        .bind(data)
        .bind(to_unix(event.created_at))
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Inserts the events in one statement per batch (one event: the plain statement). `token`
/// fills `token_id` as for [`insert_audit`].
pub(crate) async fn insert_all(
    conn: &mut Conn,
    events: &[NewAuditEvent],
    token: Option<TokenId>,
) -> StoreResult<()> {
    if let [event] = events {
        return insert_audit(conn, event, token).await;
    }
    for chunk in events.chunks(BATCH_ROWS) {
        let rows = chunk
            .iter()
            .map(|e| {
                serde_json::to_string(&e.data)
                    .map(|data| (e, data))
                    .map_err(|err| StoreError::Backend(Box::new(err)))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let mut q = sqlx::QueryBuilder::<Db>::new(INSERT_EVENTS_HEAD);
        q.push_values(rows, |mut row, (e, data)| {
            row.push_bind(e.action.clone())
                .push_bind(e.actor.map(|a| a.0))
                .push_bind(e.actor_login.clone())
                .push_bind(e.org.map(|o| o.0))
                .push_bind(e.token_id.or(token).map(|t| t.0))
                .push_bind(data)
                .push_bind(to_unix(e.created_at));
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// The statement `insert_all` builds, with values bound, for the test that runs every
/// statement: a batch of two rows.
#[cfg(test)]
pub(super) fn batch_statements() -> Vec<(&'static str, sqlx::QueryBuilder<Db>)> {
    let mut q = sqlx::QueryBuilder::<Db>::new(INSERT_EVENTS_HEAD);
    q.push_values(0..2, |mut row, _| {
        row.push_bind("action")
            .push_bind(None::<i64>)
            .push_bind(None::<String>)
            .push_bind(None::<i64>)
            .push_bind(None::<i64>)
            .push_bind("{}")
            .push_bind(1_i64);
    });
    vec![("INSERT_EVENTS", q)]
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    action: String,
    actor_id: Option<i64>,
    actor_login: Option<String>,
    org_id: Option<i64>,
    token_id: Option<i64>,
    data: String,
    created_at: i64,
}

impl AuditRow {
    fn into_event(self) -> StoreResult<AuditEvent> {
        Ok(AuditEvent {
            id: self.id,
            data: serde_json::from_str(&self.data)
                .map_err(|e| StoreError::Corrupt(format!("audit event {} data: {e}", self.id)))?,
            action: self.action,
            actor: self.actor_id.map(AccountId),
            actor_login: self.actor_login,
            org: self.org_id.map(AccountId),
            token_id: self.token_id.map(TokenId),
            created_at: from_unix(self.created_at)?,
        })
    }
}

#[async_trait]
impl AuditStore for EngineStore {
    async fn append_audit(&self, event: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_audit(&mut tx, event, None).await?;
        commit(tx).await
    }

    async fn audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        let limit = if query.limit == 0 {
            DEFAULT_LIMIT
        } else {
            query.limit
        };
        let rows: Vec<AuditRow> = sqlx::query_as(EVENTS)
            .bind(query.org.map(|o| o.0))
            .bind(query.action.as_deref())
            .bind(query.actor_login.as_deref().map(fold))
            .bind(query.after.map(to_unix))
            .bind(query.before.map(to_unix))
            .bind(query.token_id.map(|t| t.0))
            .bind(i64::from(limit))
            .bind(i64::from(query.offset))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(AuditRow::into_event).collect()
    }
}
