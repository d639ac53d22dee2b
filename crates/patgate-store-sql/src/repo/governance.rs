//! Organization governance, read side: approval requests (`token_requests`, with the
//! repositories of a `subset` request in `request_repositories`), grants (`grants`), a token's
//! standing (the token, its pending request and its grant row, in one statement), and
//! registered apps (`apps`). Requests and grants change only through `apply`
//! (`super::changes`).

use async_trait::async_trait;

use time::OffsetDateTime;

use patgate_domain::catalog::PermissionSet;
use patgate_domain::governance::{Changes, OpenRequest, OrgGrant, Standing};
use patgate_domain::model::{
    AccountId, AppId, GrantId, RepositorySelection, RequestId, TokenAccess, TokenId,
};
use patgate_store::codec::{decode_permissions, encode_permissions, from_unix, opt_from_unix, to_unix};
use patgate_store::{
    Applied, AppRecord, GovernanceStore, Grant, GrantListing, Listing, NewAuditEvent,
    OrgTokenFilter, PageQuery, RequestListing, RequestStatus,
    StoreResult, TokenRequest,
};

use super::audit::insert_all;
use super::rows::{corrupt, fold, repo_ids};
use super::tokens::{TokenRow, token_cols};
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
pub(crate) use request_cols;

#[derive(sqlx::FromRow)]
pub(crate) struct RequestRow {
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
    pub(crate) fn into_request(self) -> StoreResult<TokenRequest> {
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
pub(crate) struct GrantRow {
    id: i64,
    token_id: i64,
    org_id: i64,
    access_granted_at: i64,
}

impl GrantRow {
    pub(crate) fn into_grant(self) -> StoreResult<Grant> {
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

/// After `token_cols!()`: the token's pending request and its grant row, and the `tokens t`
/// they are joined to.
macro_rules! standing_cols {
    () => {
        concat!(
            ", p.id AS pending_id, p.org_id AS pending_org, \
             p.requested_selection AS pending_selection, \
             p.requested_permissions AS pending_permissions, \
             (SELECT string_agg(CAST(rr.repo_id AS TEXT), ',' ORDER BY rr.repo_id) \
              FROM request_repositories rr WHERE rr.request_id = p.id) AS pending_repos, \
             g.id AS grant_id, g.org_id AS grant_org \
             FROM tokens t \
             LEFT JOIN token_requests p ON p.token_id = t.id AND p.status = 'pending' \
             LEFT JOIN grants g ON g.token_id = t.id"
        )
    };
}

statements! {
    REQUEST_BY_ID = concat!("SELECT ", request_cols!(), " FROM token_requests r WHERE r.id = $1");
    REQUESTS_BY_IDS = concat!(
        "SELECT ",
        request_cols!(),
        " FROM token_requests r WHERE r.id ",
        in_ids!("$1"),
        " ORDER BY r.id",
    );
    REQUESTS_OF_ORG = concat!(
        "SELECT ",
        request_cols!(),
        " FROM token_requests r WHERE r.org_id = $1 \
         AND (CAST($2 AS TEXT) IS NULL OR r.status = $2) ORDER BY r.created_at, r.id",
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
    STANDING = concat!(
        "SELECT ",
        token_cols!(),
        standing_cols!(),
        " WHERE t.id = $1",
    );
    STANDINGS = concat!(
        "SELECT ",
        token_cols!(),
        standing_cols!(),
        " WHERE t.id ",
        in_ids!("$1"),
        " ORDER BY t.id",
    );
    STANDINGS_IN_ORG = concat!(
        "SELECT ",
        token_cols!(),
        standing_cols!(),
        " WHERE t.user_id = $1 AND t.kind = 'fine_grained' \
         AND t.resource_owner_kind = 'organization' AND t.resource_owner_id = $2 ORDER BY t.id",
    );
    GRANT_BY_ID = concat!("SELECT ", grant_cols!(), " FROM grants WHERE id = $1");
    GRANTS_BY_IDS = concat!(
        "SELECT ",
        grant_cols!(),
        " FROM grants WHERE id ",
        in_ids!("$1"),
        " ORDER BY id",
    );
    GRANT_OF_TOKEN = concat!("SELECT ", grant_cols!(), " FROM grants WHERE token_id = $1");
    GRANTS_OF_ORG = concat!(
        "SELECT ",
        grant_cols!(),
        " FROM grants WHERE org_id = $1 ORDER BY access_granted_at, id",
    );
    INSERT_APP = concat!(
        "INSERT INTO apps (org_id, name, name_lower, permissions, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        app_cols!(),
    );
    APP_BY_ID = concat!("SELECT ", app_cols!(), " FROM apps WHERE id = $1");
    APPS_OF_ORG = concat!("SELECT ", app_cols!(), " FROM apps WHERE org_id = $1 ORDER BY id");
}


#[derive(sqlx::FromRow)]
struct StandingRow {
    #[sqlx(flatten)]
    token: TokenRow,
    pending_id: Option<i64>,
    pending_org: Option<i64>,
    pending_selection: Option<String>,
    pending_permissions: Option<String>,
    pending_repos: Option<String>,
    grant_id: Option<i64>,
    grant_org: Option<i64>,
}

impl StandingRow {
    fn into_standing(self) -> StoreResult<Standing> {
        let pending = match (
            self.pending_id,
            self.pending_org,
            self.pending_selection,
            self.pending_permissions,
        ) {
            (Some(id), Some(org), Some(selection), Some(permissions)) => Some(OpenRequest {
                id: RequestId(id),
                org: AccountId(org),
                access: TokenAccess::new(
                    RepositorySelection::parse(&selection)
                        .ok_or_else(|| corrupt("repository selection", &selection))?,
                    repo_ids(self.pending_repos.as_deref(), "request", id)?,
                    decode_permissions(&permissions)?,
                ),
            }),
            _ => None,
        };
        let grant = match (self.grant_id, self.grant_org) {
            (Some(id), Some(org)) => Some(OrgGrant {
                id: GrantId(id),
                org: AccountId(org),
            }),
            _ => None,
        };
        Ok(Standing {
            token: self.token.into_token()?,
            pending,
            grant,
        })
    }
}

async fn request_by_id(conn: &mut Conn, id: i64) -> StoreResult<Option<TokenRequest>> {
    let row: Option<RequestRow> = sqlx::query_as(REQUEST_BY_ID)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    row.map(RequestRow::into_request).transpose()
}

#[async_trait]
impl GovernanceStore for EngineStore {
    async fn apply_with_outbox(
        &self,
        changes: &Changes,
        outbox: &[patgate_store::NewOutboxMessage],
    ) -> StoreResult<Applied> {
        super::changes::apply(self, changes, outbox).await
    }

    async fn standing(&self, token: TokenId) -> StoreResult<Option<Standing>> {
        let row: Option<StandingRow> = sqlx::query_as(STANDING)
            .bind(token.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(StandingRow::into_standing).transpose()
    }

    async fn standings(&self, tokens: &[TokenId]) -> StoreResult<Vec<Standing>> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = tokens.iter().map(|t| t.0).collect();
        let rows: Vec<StandingRow> = sqlx::query_as(STANDINGS)
            .bind(id_list(&ids))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(StandingRow::into_standing).collect()
    }

    async fn standings_in_org(
        &self,
        user: AccountId,
        org: AccountId,
    ) -> StoreResult<Vec<Standing>> {
        let rows: Vec<StandingRow> = sqlx::query_as(STANDINGS_IN_ORG)
            .bind(user.0)
            .bind(org.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(StandingRow::into_standing).collect()
    }

    async fn request_by_id(&self, id: RequestId) -> StoreResult<Option<TokenRequest>> {
        let mut conn = self.read_conn().await?;
        request_by_id(&mut conn, id.0).await
    }

    async fn requests_by_ids(&self, ids: &[RequestId]) -> StoreResult<Vec<TokenRequest>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = ids.iter().map(|r| r.0).collect();
        let rows: Vec<RequestRow> = sqlx::query_as(REQUESTS_BY_IDS)
            .bind(id_list(&ids))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(RequestRow::into_request).collect()
    }

    async fn list_requests(
        &self,
        org: AccountId,
        filter: &OrgTokenFilter,
        page: PageQuery,
    ) -> StoreResult<Listing<RequestListing>> {
        self.list_requests_page(org, filter, page).await
    }

    async fn list_grants(
        &self,
        org: AccountId,
        filter: &OrgTokenFilter,
        page: PageQuery,
    ) -> StoreResult<Listing<GrantListing>> {
        self.list_grants_page(org, filter, page).await
    }

    async fn latest_requests(&self, tokens: &[TokenId]) -> StoreResult<Vec<TokenRequest>> {
        self.latest_requests_of(tokens).await
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

    async fn grant_by_id(&self, id: GrantId) -> StoreResult<Option<Grant>> {
        let row: Option<GrantRow> = sqlx::query_as(GRANT_BY_ID)
            .bind(id.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(GrantRow::into_grant).transpose()
    }

    async fn grants_by_ids(&self, ids: &[GrantId]) -> StoreResult<Vec<Grant>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = ids.iter().map(|g| g.0).collect();
        let rows: Vec<GrantRow> = sqlx::query_as(GRANTS_BY_IDS)
            .bind(id_list(&ids))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(GrantRow::into_grant).collect()
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
