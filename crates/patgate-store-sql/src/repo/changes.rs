//! `GovernanceStore::apply`: the domain's `Changes` written in one transaction, in the order
//! `Changes` documents, each kind of row in one statement per batch (a bulk review of 100
//! requests is a dozen statements, not hundreds).
//!
//! Nothing is decided here. What is checked is only whether the state the changes were computed
//! from still holds: the cap and the name of a fine-grained insert (under a lock on the user's
//! row, so concurrent creations count each other), the grant each token update expects, and that
//! each request to close is still pending and each grant to remove still there. The first
//! condition that fails, in the order given, is named, and nothing is written.
//!
//! Locks: the user's row for an insert, then the tokens touched, in id order, before any request
//! or grant row (as every change does), so concurrent transitions on one token queue, and two
//! batches never wait on each other in a cycle.

use std::collections::{BTreeMap, HashMap, HashSet};

use patgate_domain::governance::{Changes, GrantRemoval, NewGrant, RequestClose, TokenInsert};
use patgate_domain::model::{RepositorySelection, RequestId, TokenGrant, TokenId};
use patgate_store::codec::{audit_event, encode_permissions, to_unix};
use patgate_store::{Applied, NewAuditEvent, StoreError, StoreResult};

use super::audit::insert_all;
use super::tokens::{
    BATCH_ROWS, GrantWrite, insert_token_row, kind_change, kind_str, tokens_by_ids, write_grants,
};
use super::{Conn, Db, EngineStore, commit, db_err, id_list};

statements! {
    LOCK_USER = concat!("SELECT id FROM accounts WHERE id = $1", for_update!());
    COUNT_FINE_GRAINED = "SELECT COUNT(*) FROM tokens WHERE user_id = $1 \
        AND kind = 'fine_grained'";
    LOCK_TOKENS = concat!(
        "SELECT id FROM tokens WHERE id ",
        in_ids!("$1"),
        " ORDER BY id",
        for_update!(),
    );
    REQUEST_STATE = "SELECT status, token_id FROM token_requests WHERE id = $1";
    DELETE_GRANTS = concat!(
        "DELETE FROM grants WHERE id ",
        in_ids!("$1"),
        " RETURNING id, token_id",
    );
    DELETE_MEMBERSHIP = "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2";
    INSERT_REQUEST = "INSERT INTO token_requests (token_id, org_id, user_id, reason, \
        requested_selection, requested_permissions, created_at, status) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending') RETURNING id";
    INSERT_REQUEST_REPOS = concat!(
        "INSERT INTO request_repositories (request_id, repo_id) SELECT $1, ids.id FROM ",
        id_rows!("$2"),
        " AS ids",
    );
}

// Pieces of the statements built at run time (`push_values` fills the `VALUES` rows).
/// A batch of closings: `VALUES` rows of (id, status, decided_at, decided_by, reason,
/// token); a request that is not the token's, or no longer pending, is left out of
/// `RETURNING`.
const CLOSE_REQUESTS_HEAD: &str = "UPDATE token_requests SET status = v.column2, \
    decided_at = v.column3, decided_by = v.column4, decision_reason = v.column5 FROM (";

const CLOSE_REQUESTS_TAIL: &str = ") AS v WHERE token_requests.id = v.column1 \
    AND token_requests.token_id = v.column6 AND token_requests.status = 'pending' \
    RETURNING token_requests.id";

const INSERT_GRANTS_HEAD: &str = "INSERT INTO grants (token_id, org_id, access_granted_at) ";

pub(crate) async fn apply(
    store: &EngineStore,
    changes: &Changes,
    outbox: &[patgate_store::NewOutboxMessage],
) -> StoreResult<Applied> {
    let mut tx = store.write_tx().await?;
    let applied = apply_in(store, &mut tx, changes, outbox).await?;
    commit(tx).await?;
    Ok(applied)
}

/// [`apply`] inside a caller's transaction (a directory batch writes its token changes with
/// it), with the messages the changes send; the notifications go out when the caller commits.
pub(crate) async fn apply_in(
    store: &EngineStore,
    tx: &mut Conn,
    changes: &Changes,
    outbox: &[patgate_store::NewOutboxMessage],
) -> StoreResult<Applied> {
    let inserted = match &changes.insert {
        Some(insert) => Some(insert_token(&mut *tx, insert).await?),
        None => None,
    };
    let touched = changes.tokens();
    if !touched.is_empty() {
        let ids: Vec<i64> = touched.iter().map(|t| t.0).collect();
        sqlx::query(LOCK_TOKENS)
            .bind(id_list(&ids))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    let updated = update_tokens(&mut *tx, changes).await?;
    close_requests(&mut *tx, &changes.closed_requests).await?;
    remove_grants(&mut *tx, &changes.removed_grants).await?;
    for (org, user) in &changes.removed_memberships {
        sqlx::query(DELETE_MEMBERSHIP)
            .bind(org.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    let mut requests = Vec::with_capacity(changes.new_requests.len());
    for r in &changes.new_requests {
        let token = subject(r.token, inserted)?;
        let id: i64 = sqlx::query_scalar(INSERT_REQUEST)
            .bind(token.0)
            .bind(r.org.0)
            .bind(r.user.0)
            .bind(r.reason.as_deref())
            .bind(r.access.selection.as_str())
            .bind(encode_permissions(&r.access.permissions))
            .bind(to_unix(r.at))
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if r.access.selection == RepositorySelection::Subset && !r.access.repositories.is_empty() {
            let repos: Vec<i64> = r.access.repositories.iter().map(|x| x.0).collect();
            sqlx::query(INSERT_REQUEST_REPOS)
                .bind(id)
                .bind(id_list(&repos))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        requests.push((token, RequestId(id)));
    }
    insert_grants(&mut *tx, &changes.new_grants, inserted).await?;
    let events: Vec<NewAuditEvent> = changes
        .audit
        .iter()
        .map(|record| audit_event(record, inserted))
        .collect();
    insert_all(&mut *tx, &events, None).await?;
    // The messages the changes send, in the same transaction: written if and only if the
    // changes are.
    super::outbox::write_messages(&mut *tx, outbox, inserted, &requests).await?;

    let read_back: Vec<i64> = inserted.iter().chain(&updated).map(|t| t.0).collect();
    let mut by_id: HashMap<TokenId, _> = tokens_by_ids(&mut *tx, &read_back)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let tokens = inserted
        .iter()
        .chain(&updated)
        .filter_map(|id| by_id.remove(id))
        .collect();
    store.notify_tokens(&mut *tx, &touched).await?;
    if !changes.removed_memberships.is_empty() {
        store.notify_directory(&mut *tx).await?;
    }
    Ok(Applied {
        tokens,
        requests: requests.into_iter().map(|(_, r)| r).collect(),
    })
}

/// The token a row names, or the inserted one when it names none.
fn subject(token: Option<TokenId>, inserted: Option<TokenId>) -> StoreResult<TokenId> {
    token.or(inserted).ok_or_else(|| {
        StoreError::Conflict("a change names the inserted token, but inserts none".into())
    })
}

/// Inserts the token; for a fine-grained one given a cap, after locking the user's row and
/// counting their fine-grained tokens, so that concurrent creations count each other.
async fn insert_token(conn: &mut Conn, insert: &TokenInsert) -> StoreResult<TokenId> {
    let token = &insert.token;
    if let (Some(limit), TokenGrant::FineGrained { .. }) = (insert.max_fine_grained, &token.grant)
    {
        let locked: Option<i64> = sqlx::query_scalar(LOCK_USER)
            .bind(token.user.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        if locked.is_none() {
            return Err(StoreError::NotFound);
        }
        let held: i64 = sqlx::query_scalar(COUNT_FINE_GRAINED)
            .bind(token.user.0)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        if usize::try_from(held).unwrap_or(usize::MAX) >= limit {
            return Err(StoreError::LimitReached { limit });
        }
    }
    insert_token_row(conn, token).await
}

/// Checks each update against the grant it expects (in the order given, each seeing the ones
/// before it), then writes the final grant of each token. Returns the tokens updated, in the
/// order of their first update.
async fn update_tokens(conn: &mut Conn, changes: &Changes) -> StoreResult<Vec<TokenId>> {
    let updates = &changes.token_updates;
    if updates.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = updates.iter().map(|u| u.id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut current: HashMap<TokenId, TokenGrant> = tokens_by_ids(conn, &ids)
        .await?
        .into_iter()
        .map(|t| (t.id, t.grant))
        .collect();
    let mut order = Vec::new();
    let mut last: BTreeMap<TokenId, usize> = BTreeMap::new();
    for (i, u) in updates.iter().enumerate() {
        let grant = current
            .get_mut(&u.id)
            .ok_or_else(|| StoreError::Missing(format!("token {}", u.id)))?;
        if *grant != u.expected {
            return Err(StoreError::Conflict(format!(
                "token {} changed meanwhile",
                u.id
            )));
        }
        if kind_str(grant) != kind_str(&u.grant) {
            return Err(kind_change(u.id, kind_str(grant), &u.grant));
        }
        *grant = u.grant.clone();
        if last.insert(u.id, i).is_none() {
            order.push(u.id);
        }
    }
    let writes: Vec<GrantWrite<'_>> = last
        .iter()
        .map(|(id, &i)| GrantWrite {
            id: *id,
            grant: &updates[i].grant,
            // The last update that gives a description wins.
            description: updates
                .iter()
                .filter(|u| u.id == *id)
                .filter_map(|u| u.description.as_ref())
                .next_back()
                .map(|d| d.as_deref()),
        })
        .collect();
    write_grants(conn, &writes).await?;
    Ok(order)
}

async fn close_requests(conn: &mut Conn, closes: &[RequestClose]) -> StoreResult<()> {
    if closes.is_empty() {
        return Ok(());
    }
    let mut closed: HashSet<i64> = HashSet::new();
    for chunk in closes.chunks(BATCH_ROWS) {
        let mut q = sqlx::QueryBuilder::<Db>::new(CLOSE_REQUESTS_HEAD);
        q.push_values(chunk, |mut row, c| {
            row.push_bind(c.id.0)
                .push_bind(c.status.as_str())
                .push_bind(to_unix(c.at))
                .push_bind(c.by.map(|a| a.0))
                .push_bind(c.reason.clone())
                .push_bind(c.token.0);
        });
        q.push(CLOSE_REQUESTS_TAIL);
        let ids: Vec<i64> = q
            .build_query_scalar()
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        closed.extend(ids);
    }
    // Name the first request, in the order given, that could not be closed.
    let mut seen = HashSet::new();
    for c in closes {
        let first_time = seen.insert(c.id);
        if first_time && closed.contains(&c.id.0) {
            continue;
        }
        if !first_time {
            return Err(not_pending(c.id));
        }
        let state: Option<(String, i64)> = sqlx::query_as(REQUEST_STATE)
            .bind(c.id.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        return Err(match state {
            None => StoreError::Missing(format!("request {}", c.id)),
            Some((_, token)) if token != c.token.0 => StoreError::Conflict(format!(
                "request {} is not a request of token {}",
                c.id, c.token
            )),
            Some(_) => not_pending(c.id),
        });
    }
    Ok(())
}

fn not_pending(id: RequestId) -> StoreError {
    StoreError::Conflict(format!("request {id} is not pending"))
}

async fn remove_grants(conn: &mut Conn, removals: &[GrantRemoval]) -> StoreResult<()> {
    if removals.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = removals.iter().map(|r| r.id.0).collect();
    let deleted: HashMap<i64, i64> = sqlx::query_as::<_, (i64, i64)>(DELETE_GRANTS)
        .bind(id_list(&ids))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .collect();
    let mut seen = HashSet::new();
    for r in removals {
        match deleted.get(&r.id.0) {
            Some(token) if *token != r.token.0 => {
                return Err(StoreError::Conflict(format!(
                    "grant {} is not a grant of token {}",
                    r.id, r.token
                )));
            }
            Some(_) if seen.insert(r.id) => {}
            _ => return Err(StoreError::Missing(format!("grant {}", r.id))),
        }
    }
    Ok(())
}

async fn insert_grants(
    conn: &mut Conn,
    grants: &[NewGrant],
    inserted: Option<TokenId>,
) -> StoreResult<()> {
    let rows = grants
        .iter()
        .map(|g| Ok((subject(g.token, inserted)?, g.org, to_unix(g.at))))
        .collect::<StoreResult<Vec<_>>>()?;
    for chunk in rows.chunks(BATCH_ROWS) {
        let mut q = sqlx::QueryBuilder::<Db>::new(INSERT_GRANTS_HEAD);
        q.push_values(chunk, |mut row, (token, org, at)| {
            row.push_bind(token.0).push_bind(org.0).push_bind(*at);
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// The statements `apply` builds, with values bound, for the test that runs every statement: a
/// batch of one row and one of two.
#[cfg(test)]
pub(super) fn batch_statements() -> Vec<(&'static str, sqlx::QueryBuilder<Db>)> {
    let mut out = Vec::new();
    for n in [1, 2] {
        let mut q = sqlx::QueryBuilder::<Db>::new(CLOSE_REQUESTS_HEAD);
        q.push_values(0..n, |mut row, _| {
            row.push_bind(1_i64)
                .push_bind("approved")
                .push_bind(1_i64)
                .push_bind(None::<i64>)
                .push_bind(None::<String>)
                .push_bind(1_i64);
        });
        q.push(CLOSE_REQUESTS_TAIL);
        out.push(("CLOSE_REQUESTS", q));
        let mut q = sqlx::QueryBuilder::<Db>::new(INSERT_GRANTS_HEAD);
        q.push_values(0..n, |mut row, _| {
            row.push_bind(1_i64).push_bind(1_i64).push_bind(1_i64);
        });
        out.push(("INSERT_GRANTS", q));
    }
    out
}
