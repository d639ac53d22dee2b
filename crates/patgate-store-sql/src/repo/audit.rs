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
}

const SELECT_EVENTS: &str =
    "SELECT id, action, actor_id, actor_login, org_id, token_id, data, created_at";
const COUNT_EVENTS: &str = "SELECT COUNT(*)";

/// `FROM ... WHERE ...` of the events the query's filters match: only the filters set are
/// written, so each combination is a plain statement the indexes serve (`org_id`, `action`,
/// `token_id`, each with `created_at`).
fn push_events(q: &mut sqlx::QueryBuilder<Db>, query: &AuditQuery) {
    q.push(" FROM audit_events WHERE 1 = 1");
    if let Some(org) = query.org {
        q.push(" AND org_id = ").push_bind(org.0);
    }
    if let Some(action) = &query.action {
        q.push(" AND action = ").push_bind(action.clone());
    }
    if let Some(login) = &query.actor_login {
        q.push(" AND lower(actor_login) = ").push_bind(fold(login));
    }
    if let Some(after) = query.after {
        q.push(" AND created_at >= ").push_bind(to_unix(after));
    }
    if let Some(before) = query.before {
        q.push(" AND created_at < ").push_bind(to_unix(before));
    }
    if let Some(token) = query.token_id {
        q.push(" AND token_id = ").push_bind(token.0);
    }
}

fn events_query(query: &AuditQuery) -> sqlx::QueryBuilder<Db> {
    let limit = if query.limit == 0 {
        DEFAULT_LIMIT
    } else {
        query.limit
    };
    let mut q = sqlx::QueryBuilder::<Db>::new(SELECT_EVENTS);
    push_events(&mut q, query);
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(limit))
        .push(" OFFSET ")
        .push_bind(i64::from(query.offset));
    q
}

fn count_query(query: &AuditQuery) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new(COUNT_EVENTS);
    push_events(&mut q, query);
    q
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

/// The statements built at run time, with values bound, for the test that runs every
/// statement: a batch of two events, and the listing with no filter and with every filter.
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
    let all = AuditQuery {
        org: Some(AccountId(1)),
        action: Some("a".into()),
        actor_login: Some("Mona".into()),
        after: Some(time::OffsetDateTime::UNIX_EPOCH),
        before: Some(time::OffsetDateTime::UNIX_EPOCH),
        token_id: Some(TokenId(1)),
        limit: 10,
        offset: 10,
    };
    vec![
        ("INSERT_EVENTS", q),
        ("EVENTS", events_query(&AuditQuery::default())),
        ("EVENTS", events_query(&all)),
        ("COUNT_EVENTS", count_query(&all)),
    ]
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
        let rows: Vec<AuditRow> = events_query(query)
            .build_query_as()
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(AuditRow::into_event).collect()
    }

    async fn count_audit_events(&self, query: &AuditQuery) -> StoreResult<u64> {
        let count: i64 = count_query(query)
            .build_query_scalar()
            .fetch_one(self.reads())
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }
}
