//! Organization governance: approval requests (`token_requests`, with the repositories of a
//! `subset` request in `request_repositories`), grants (`grants`) and registered apps (`apps`).
//!
//! Requests and grants follow the tokens by the rules of [`patgate_store::governance`]; every
//! method that changes a token applies them in its transaction ([`sync`], [`after_insert`]).
//! Batches (`decide_requests`, `revoke_grants`) run in one transaction and stop at the first
//! row that is gone or no longer pending, so nothing of a failed batch remains (its audit rows
//! neither).
//!
//! Locks: a change locks its tokens first (`FOR UPDATE`, a batch in id order), then the request
//! or grant rows, so concurrent reviews of one request decide it once and the others find it
//! no longer pending. Every token changed is announced (`token:<id>`) on commit.

use async_trait::async_trait;
use std::collections::BTreeSet;

use time::OffsetDateTime;

use patgate_domain::catalog::PermissionSet;
use patgate_domain::model::{
    AccountId, AppId, GrantId, RepositorySelection, RequestId, Token, TokenAccess, TokenGrant,
    TokenId,
};
use patgate_store::codec::{
    decode_permissions, encode_permissions, from_unix, opt_from_unix, to_unix,
};
use patgate_store::governance::{
    batch_token, change_time, grant_org, needs_review, new_request_org, request_target,
};
use patgate_store::{
    AppRecord, GovernanceStore, Grant, NewAuditEvent, RequestDecision, RequestStatus, StoreError,
    StoreResult, TokenRequest,
};

use super::audit::insert_all;
use super::rows::{corrupt, fold, repo_ids};
use super::tokens::{lock_token, set_description, set_grant, token_row_by_id};
use super::{Conn, EngineStore, commit, db_err, id_list};

/// Columns of `token_requests r` read by [`RequestRow`], with the request's repositories.
macro_rules! request_cols {
    () => {
        "r.id AS id, r.token_id AS token_id, r.org_id AS org_id, r.user_id AS user_id, \
         r.reason AS reason, r.requested_selection AS requested_selection, \
         r.requested_permissions AS requested_permissions, r.created_at AS created_at, \
         r.status AS status, r.decided_at AS decided_at, r.decided_by AS decided_by, \
         r.decision_reason AS decision_reason, \
         (SELECT string_agg(CAST(rr.repo_id AS TEXT), ',' ORDER BY rr.repo_id) \
          FROM request_repositories rr WHERE rr.request_id = r.id) AS repos"
    };
}

#[derive(sqlx::FromRow)]
struct RequestRow {
    id: i64,
    token_id: i64,
    org_id: i64,
    user_id: i64,
    reason: Option<String>,
    requested_selection: String,
    requested_permissions: String,
    created_at: i64,
    status: String,
    decided_at: Option<i64>,
    decided_by: Option<i64>,
    decision_reason: Option<String>,
    repos: Option<String>,
}

impl RequestRow {
    fn into_request(self) -> StoreResult<TokenRequest> {
        let repos = repo_ids(self.repos.as_deref(), "request", self.id)?;
        let selection = RepositorySelection::parse(&self.requested_selection)
            .ok_or_else(|| corrupt("repository selection", &self.requested_selection))?;
        Ok(TokenRequest {
            id: RequestId(self.id),
            token_id: TokenId(self.token_id),
            org: AccountId(self.org_id),
            user: AccountId(self.user_id),
            reason: self.reason,
            access: TokenAccess::new(
                selection,
                repos,
                decode_permissions(&self.requested_permissions)?,
            ),
            created_at: from_unix(self.created_at)?,
            status: RequestStatus::parse(&self.status)
                .ok_or_else(|| corrupt("request status", &self.status))?,
            decided_at: opt_from_unix(self.decided_at)?,
            decided_by: self.decided_by.map(AccountId),
            decision_reason: self.decision_reason,
        })
    }
}

#[derive(sqlx::FromRow)]
struct GrantRow {
    id: i64,
    token_id: i64,
    org_id: i64,
    access_granted_at: i64,
}

impl GrantRow {
    fn into_grant(self) -> StoreResult<Grant> {
        Ok(Grant {
            id: GrantId(self.id),
            token_id: TokenId(self.token_id),
            org: AccountId(self.org_id),
            access_granted_at: from_unix(self.access_granted_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AppRow {
    id: i64,
    org_id: i64,
    name: String,
    permissions: String,
    created_by: Option<i64>,
    created_at: i64,
}

impl AppRow {
    fn into_app(self) -> StoreResult<AppRecord> {
        Ok(AppRecord {
            id: AppId(self.id),
            org: AccountId(self.org_id),
            name: self.name,
            permissions: decode_permissions(&self.permissions)?,
            created_by: self.created_by.map(AccountId),
            created_at: from_unix(self.created_at)?,
        })
    }
}

macro_rules! app_cols {
    () => {
        "id, org_id, name, permissions, created_by, created_at"
    };
}

macro_rules! grant_cols {
    () => {
        "id, token_id, org_id, access_granted_at"
    };
}

statements! {
    REQUEST_BY_ID = concat!("SELECT ", request_cols!(), " FROM token_requests r WHERE r.id = $1");
    INSERT_REQUEST = "INSERT INTO token_requests (token_id, org_id, user_id, reason, \
        requested_selection, requested_permissions, created_at, status) VALUES ($1, $2, $3, $4, \
        $5, $6, $7, 'pending') RETURNING id";
    INSERT_REQUEST_REPO = "INSERT INTO request_repositories (request_id, repo_id) VALUES ($1, $2)";
    CANCEL_PENDING = "UPDATE token_requests SET status = 'cancelled', decided_at = $1 WHERE \
        token_id = $2 AND status = 'pending'";
    GRANT_ORG_OF_TOKEN = "SELECT org_id FROM grants WHERE token_id = $1";
    DELETE_GRANT_OF_TOKEN = "DELETE FROM grants WHERE token_id = $1";
    INSERT_GRANT = "INSERT INTO grants (token_id, org_id, access_granted_at) VALUES ($1, $2, $3)";
    LOCK_TOKENS = concat!(
        "SELECT id FROM tokens WHERE id ",
        in_ids!("$1"),
        " ORDER BY id",
        for_update!(),
    );
    REQUESTS_OF_ORG = concat!(
        "SELECT ",
        request_cols!(),
        " FROM token_requests r WHERE r.org_id = $1 AND (CAST($2 AS TEXT) IS NULL OR r.status = \
         $2) ORDER BY r.created_at, r.id",
    );
    PENDING_REQUEST_OF_TOKEN = concat!(
        "SELECT ",
        request_cols!(),
        " FROM token_requests r WHERE r.token_id = $1 AND r.status = 'pending'",
    );
    LATEST_REQUEST_OF_TOKEN = concat!(
        "SELECT ",
        request_cols!(),
        " FROM token_requests r WHERE r.token_id = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT 1",
    );
    LOCK_REQUEST = concat!(
        "SELECT status, token_id FROM token_requests WHERE id = $1",
        for_update!(),
    );
    DECIDE_REQUEST = "UPDATE token_requests SET status = $1, decided_at = $2, decided_by = $3, \
        decision_reason = $4 WHERE id = $5";
    TOKEN_OF_REQUEST = "SELECT token_id FROM token_requests WHERE id = $1";
    LOCK_REQUEST_STATUS = concat!("SELECT status FROM token_requests WHERE id = $1", for_update!());
    CANCEL_REQUEST = "UPDATE token_requests SET status = 'cancelled', decided_at = $1 WHERE id = \
        $2";
    GRANT_BY_ID = concat!("SELECT ", grant_cols!(), " FROM grants WHERE id = $1");
    GRANT_OF_TOKEN = concat!("SELECT ", grant_cols!(), " FROM grants WHERE token_id = $1");
    GRANTS_OF_ORG = concat!(
        "SELECT ",
        grant_cols!(),
        " FROM grants WHERE org_id = $1 ORDER BY access_granted_at, id",
    );
    LOCK_GRANT = concat!("SELECT token_id FROM grants WHERE id = $1", for_update!());
    DELETE_GRANT = "DELETE FROM grants WHERE id = $1";
    INSERT_APP = concat!(
        "INSERT INTO apps (org_id, name, name_lower, permissions, created_by, created_at) VALUES \
         ($1, $2, $3, $4, $5, $6) RETURNING ",
        app_cols!(),
    );
    APP_BY_ID = concat!("SELECT ", app_cols!(), " FROM apps WHERE id = $1");
    APPS_OF_ORG = concat!("SELECT ", app_cols!(), " FROM apps WHERE org_id = $1 ORDER BY id");
}

async fn request_by_id(conn: &mut Conn, id: i64) -> StoreResult<Option<TokenRequest>> {
    let row: Option<RequestRow> = sqlx::query_as(REQUEST_BY_ID)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    row.map(RequestRow::into_request).transpose()
}

/// Records a pending request of `token` for `access`.
async fn insert_request(
    conn: &mut Conn,
    token: &Token,
    org: AccountId,
    access: &TokenAccess,
    reason: Option<&str>,
    now: OffsetDateTime,
) -> StoreResult<RequestId> {
    let id: i64 = sqlx::query_scalar(INSERT_REQUEST)
        .bind(token.id.0)
        .bind(org.0)
        .bind(token.user.0)
        .bind(reason)
        .bind(access.selection.as_str())
        .bind(encode_permissions(&access.permissions))
        .bind(to_unix(now))
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    if access.selection == RepositorySelection::Subset {
        let mut repos: Vec<i64> = access.repositories.iter().map(|r| r.0).collect();
        repos.sort_unstable();
        repos.dedup();
        for repo in repos {
            sqlx::query(INSERT_REQUEST_REPO)
                .bind(id)
                .bind(repo)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
    }
    Ok(RequestId(id))
}

/// Cancels the token's pending request, if any.
async fn cancel_pending(conn: &mut Conn, token: TokenId, now: OffsetDateTime) -> StoreResult<()> {
    sqlx::query(CANCEL_PENDING)
        .bind(to_unix(now))
        .bind(token.0)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Keeps the token's grant row in step with its grant: creates it (granted `now`) when the token
/// gains access to its organization, keeps it (and its time) while it stays approved, deletes it
/// otherwise.
async fn sync_grant(conn: &mut Conn, token: &Token, now: OffsetDateTime) -> StoreResult<()> {
    match grant_org(&token.grant) {
        Some(org) => {
            let existing: Option<i64> = sqlx::query_scalar(GRANT_ORG_OF_TOKEN)
                .bind(token.id.0)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
            if existing == Some(org.0) {
                return Ok(());
            }
            if existing.is_some() {
                sqlx::query(DELETE_GRANT_OF_TOKEN)
                    .bind(token.id.0)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            sqlx::query(INSERT_GRANT)
                .bind(token.id.0)
                .bind(org.0)
                .bind(to_unix(now))
                .execute(conn)
                .await
                .map_err(db_err)?;
        }
        None => {
            sqlx::query(DELETE_GRANT_OF_TOKEN)
                .bind(token.id.0)
                .execute(conn)
                .await
                .map_err(db_err)?;
        }
    }
    Ok(())
}

/// After a token's grant changed: its grant row follows, and its pending request is cancelled
/// when nothing is left to review.
pub(crate) async fn sync(conn: &mut Conn, token: &Token, now: OffsetDateTime) -> StoreResult<()> {
    sync_grant(conn, token, now).await?;
    if !needs_review(&token.grant) {
        cancel_pending(conn, token.id, now).await?;
    }
    Ok(())
}

/// After a token was inserted: a pending request for an organization token awaiting review,
/// a grant (dated at creation) for one approved at once.
pub(crate) async fn after_insert(
    conn: &mut Conn,
    token: &Token,
    justification: Option<&str>,
) -> StoreResult<()> {
    if let Some((org, access)) = new_request_org(&token.grant) {
        insert_request(conn, token, org, access, justification, token.created_at).await?;
    }
    sync_grant(conn, token, token.created_at).await
}

/// Replaces a token's grant (kind unchanged) and returns the stored token.
async fn regrant(conn: &mut Conn, id: TokenId, grant: &TokenGrant) -> StoreResult<Token> {
    set_grant(conn, id, grant).await?;
    token_row_by_id(conn, id.0)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Locks the tokens of a batch, in id order (so two batches never wait on each other in a
/// cycle). Tokens that are gone are skipped: the batch fails on them later.
async fn lock_tokens(conn: &mut Conn, tokens: &BTreeSet<TokenId>) -> StoreResult<()> {
    let ids: Vec<i64> = tokens.iter().map(|t| t.0).collect();
    sqlx::query(LOCK_TOKENS)
        .bind(id_list(&ids))
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

fn not_pending(id: RequestId) -> StoreError {
    StoreError::Conflict(format!("request {id} is not pending"))
}

#[async_trait]
impl GovernanceStore for EngineStore {
    async fn update_token_requesting(
        &self,
        id: TokenId,
        description: Option<&str>,
        grant: &TokenGrant,
        reason: Option<&str>,
        now: OffsetDateTime,
        audit: &[NewAuditEvent],
    ) -> StoreResult<(Token, TokenRequest)> {
        let not_requesting = || {
            StoreError::Conflict(format!(
                "token {id}: only a fine-grained token of an organization asks for access"
            ))
        };
        if request_target(grant).is_none() {
            return Err(not_requesting());
        }
        let mut tx = self.write_tx().await?;
        lock_token(&mut tx, id).await?;
        set_grant(&mut tx, id, grant).await?;
        set_description(&mut tx, id, description).await?;
        let stored = token_row_by_id(&mut tx, id.0)
            .await?
            .ok_or(StoreError::NotFound)?;
        sync_grant(&mut tx, &stored, now).await?;
        cancel_pending(&mut tx, id, now).await?;
        let (org, access) = request_target(&stored.grant).ok_or_else(not_requesting)?;
        let request_id = insert_request(&mut tx, &stored, org, access, reason, now).await?;
        let request = request_by_id(&mut tx, request_id.0)
            .await?
            .ok_or(StoreError::NotFound)?;
        insert_all(&mut tx, audit, Some(id)).await?;
        self.notify_token(&mut tx, id).await?;
        commit(tx).await?;
        Ok((stored, request))
    }

    async fn request_by_id(&self, id: RequestId) -> StoreResult<Option<TokenRequest>> {
        let mut conn = self.read_conn().await?;
        request_by_id(&mut conn, id.0).await
    }

    async fn requests_of_org(
        &self,
        org: AccountId,
        status: Option<RequestStatus>,
    ) -> StoreResult<Vec<TokenRequest>> {
        let rows: Vec<RequestRow> = sqlx::query_as(REQUESTS_OF_ORG)
            .bind(org.0)
            .bind(status.map(RequestStatus::as_str))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(RequestRow::into_request).collect()
    }

    async fn pending_request_of_token(&self, token: TokenId) -> StoreResult<Option<TokenRequest>> {
        let row: Option<RequestRow> = sqlx::query_as(PENDING_REQUEST_OF_TOKEN)
            .bind(token.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(RequestRow::into_request).transpose()
    }

    async fn latest_request_of_token(&self, token: TokenId) -> StoreResult<Option<TokenRequest>> {
        let row: Option<RequestRow> = sqlx::query_as(LATEST_REQUEST_OF_TOKEN)
            .bind(token.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(RequestRow::into_request).transpose()
    }

    async fn decide_requests(
        &self,
        decisions: &[RequestDecision],
        decided_by: Option<AccountId>,
        reason: Option<&str>,
        now: OffsetDateTime,
        audit: &[NewAuditEvent],
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let tokens: BTreeSet<TokenId> = decisions.iter().map(|d| d.token).collect();
        lock_tokens(&mut tx, &tokens).await?;
        for d in decisions {
            if !matches!(d.status, RequestStatus::Approved | RequestStatus::Denied) {
                return Err(StoreError::Conflict(format!(
                    "request {}: a decision approves or denies, not {}",
                    d.request,
                    d.status.as_str()
                )));
            }
            let found: Option<(String, i64)> = sqlx::query_as(LOCK_REQUEST)
                .bind(d.request.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            let (status, token) =
                found.ok_or_else(|| StoreError::Missing(format!("request {}", d.request)))?;
            if status != RequestStatus::Pending.as_str() {
                return Err(not_pending(d.request));
            }
            if token != d.token.0 {
                return Err(StoreError::Conflict(format!(
                    "request {} is not a request of token {}",
                    d.request, d.token
                )));
            }
            sqlx::query(DECIDE_REQUEST)
                .bind(d.status.as_str())
                .bind(to_unix(now))
                .bind(decided_by.map(|a| a.0))
                .bind(reason)
                .bind(d.request.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            let stored = regrant(&mut tx, d.token, &d.grant).await?;
            sync(&mut tx, &stored, now).await?;
        }
        insert_all(
            &mut tx,
            audit,
            batch_token(decisions.iter().map(|d| d.token)),
        )
        .await?;
        for token in tokens {
            self.notify_token(&mut tx, token).await?;
        }
        commit(tx).await
    }

    async fn cancel_request(
        &self,
        id: RequestId,
        grant: &TokenGrant,
        now: OffsetDateTime,
        audit: &[NewAuditEvent],
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // The token first (every change locks its token, then its requests), then the request.
        let token: Option<i64> = sqlx::query_scalar(TOKEN_OF_REQUEST)
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let missing = || StoreError::Missing(format!("request {id}"));
        let token = TokenId(token.ok_or_else(missing)?);
        lock_token(&mut tx, token).await.map_err(|e| match e {
            StoreError::NotFound => missing(),
            other => other,
        })?;
        let status: Option<String> = sqlx::query_scalar(LOCK_REQUEST_STATUS)
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let status = status.ok_or_else(missing)?;
        if status != RequestStatus::Pending.as_str() {
            return Err(not_pending(id));
        }
        sqlx::query(CANCEL_REQUEST)
            .bind(to_unix(now))
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let stored = regrant(&mut tx, token, grant).await?;
        sync(&mut tx, &stored, now).await?;
        insert_all(&mut tx, audit, Some(token)).await?;
        self.notify_token(&mut tx, token).await?;
        commit(tx).await
    }

    async fn grant_by_id(&self, id: GrantId) -> StoreResult<Option<Grant>> {
        let row: Option<GrantRow> = sqlx::query_as(GRANT_BY_ID)
            .bind(id.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(GrantRow::into_grant).transpose()
    }

    async fn grant_of_token(&self, token: TokenId) -> StoreResult<Option<Grant>> {
        let row: Option<GrantRow> = sqlx::query_as(GRANT_OF_TOKEN)
            .bind(token.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(GrantRow::into_grant).transpose()
    }

    async fn grants_of_org(&self, org: AccountId) -> StoreResult<Vec<Grant>> {
        let rows: Vec<GrantRow> = sqlx::query_as(GRANTS_OF_ORG)
            .bind(org.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(GrantRow::into_grant).collect()
    }

    async fn revoke_grants(
        &self,
        revocations: &[(GrantId, TokenId, TokenGrant)],
        audit: &[NewAuditEvent],
    ) -> StoreResult<()> {
        let now = change_time(audit);
        let mut tx = self.write_tx().await?;
        let tokens: BTreeSet<TokenId> = revocations.iter().map(|(_, t, _)| *t).collect();
        lock_tokens(&mut tx, &tokens).await?;
        for (grant, token, new_grant) in revocations {
            let found: Option<i64> = sqlx::query_scalar(LOCK_GRANT)
                .bind(grant.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            let held_by = found.ok_or_else(|| StoreError::Missing(format!("grant {grant}")))?;
            if held_by != token.0 {
                return Err(StoreError::Conflict(format!(
                    "grant {grant} is not a grant of token {token}"
                )));
            }
            sqlx::query(DELETE_GRANT)
                .bind(grant.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            let stored = regrant(&mut tx, *token, new_grant).await?;
            sync(&mut tx, &stored, now).await?;
            // A revoked token has nothing left to ask of the organization.
            cancel_pending(&mut tx, *token, now).await?;
        }
        insert_all(
            &mut tx,
            audit,
            batch_token(revocations.iter().map(|(_, t, _)| *t)),
        )
        .await?;
        for token in tokens {
            self.notify_token(&mut tx, token).await?;
        }
        commit(tx).await
    }

    async fn insert_app(
        &self,
        org: AccountId,
        name: &str,
        permissions: &PermissionSet,
        created_by: Option<AccountId>,
        now: OffsetDateTime,
        audit: &[NewAuditEvent],
    ) -> StoreResult<AppRecord> {
        let mut tx = self.write_tx().await?;
        let row: AppRow = sqlx::query_as(INSERT_APP)
            .bind(org.0)
            .bind(name)
            .bind(fold(name))
            .bind(encode_permissions(permissions))
            .bind(created_by.map(|a| a.0))
            .bind(to_unix(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_all(&mut tx, audit, None).await?;
        commit(tx).await?;
        row.into_app()
    }

    async fn app_by_id(&self, id: AppId) -> StoreResult<Option<AppRecord>> {
        let row: Option<AppRow> = sqlx::query_as(APP_BY_ID)
            .bind(id.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(AppRow::into_app).transpose()
    }

    async fn apps_of_org(&self, org: AccountId) -> StoreResult<Vec<AppRecord>> {
        let rows: Vec<AppRow> = sqlx::query_as(APPS_OF_ORG)
            .bind(org.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(AppRow::into_app).collect()
    }
}
