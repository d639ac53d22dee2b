//! Tokens: one table for every kind, the grant flattened into the columns of its kind, and the
//! repository lists of fine-grained `subset` selections in `token_repositories`.
//!
//! Audit events given to a token method that leave `token_id` unset are recorded with the
//! token's id (at insertion the caller cannot know it yet).
//!
//! Inserting and updating keep the organization's requests and grants in step
//! ([`crate::governance`]).

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::SqliteConnection;

use patgate_domain::model::{
    AccountId, GrantState, KeyId, RepoId, RepositorySelection, Token, TokenAccess, TokenGrant,
    TokenId,
};
use patgate_domain::token::TokenHash;
use patgate_store::codec::{
    decode_permissions, decode_scopes, encode_permissions, encode_scopes, from_unix, opt_from_unix,
    to_unix,
};
use patgate_store::governance::change_time;
use patgate_store::{NewAuditEvent, NewToken, StoreError, StoreResult, TokenStore};

use crate::audit::insert_all;
use crate::governance;
use crate::rows::{account_kind_str, corrupt, parse_account_kind};
use crate::{SqliteStore, commit, db_err};

const FINE_GRAINED: &str = "fine_grained";
const CLASSIC: &str = "classic";
const APP_INSTALLATION: &str = "app_installation";

fn kind_str(grant: &TokenGrant) -> &'static str {
    match grant {
        TokenGrant::FineGrained { .. } => FINE_GRAINED,
        TokenGrant::Classic { .. } => CLASSIC,
        TokenGrant::AppInstallation { .. } => APP_INSTALLATION,
    }
}

/// Columns of `tokens` read by [`TokenRow`].
macro_rules! token_cols {
    () => {
        "id, kind, user_id, last_eight, name, description, created_at, issued_at, expires_at, \
         last_used_at, resource_owner_id, resource_owner_kind, requested_selection, \
         requested_permissions, granted_selection, granted_permissions, grant_state, scopes, \
         app_org_id, app_permissions"
    };
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    kind: String,
    user_id: i64,
    last_eight: String,
    name: String,
    description: Option<String>,
    created_at: i64,
    issued_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    resource_owner_id: Option<i64>,
    resource_owner_kind: Option<String>,
    requested_selection: Option<String>,
    requested_permissions: Option<String>,
    granted_selection: Option<String>,
    granted_permissions: Option<String>,
    grant_state: Option<String>,
    scopes: Option<String>,
    app_org_id: Option<i64>,
    app_permissions: Option<String>,
}

/// The repository lists of one token: (requested, granted).
#[derive(Default)]
struct RepoLists {
    requested: Vec<RepoId>,
    granted: Vec<RepoId>,
}

fn missing(id: i64, column: &str) -> StoreError {
    StoreError::Corrupt(format!("token {id} has no {column}"))
}

fn selection(s: &str) -> StoreResult<RepositorySelection> {
    RepositorySelection::parse(s).ok_or_else(|| corrupt("repository selection", s))
}

impl TokenRow {
    fn into_token(self, repos: RepoLists) -> StoreResult<Token> {
        let id = self.id;
        let grant = match self.kind.as_str() {
            FINE_GRAINED => {
                let requested = TokenAccess::new(
                    selection(
                        self.requested_selection
                            .as_deref()
                            .ok_or_else(|| missing(id, "requested_selection"))?,
                    )?,
                    repos.requested,
                    decode_permissions(
                        self.requested_permissions
                            .as_deref()
                            .ok_or_else(|| missing(id, "requested_permissions"))?,
                    )?,
                );
                let granted = match (self.granted_selection, self.granted_permissions) {
                    (Some(sel), Some(perms)) => Some(TokenAccess::new(
                        selection(&sel)?,
                        repos.granted,
                        decode_permissions(&perms)?,
                    )),
                    (None, None) => None,
                    _ => return Err(missing(id, "granted_selection or granted_permissions")),
                };
                let state = self
                    .grant_state
                    .as_deref()
                    .ok_or_else(|| missing(id, "grant_state"))?;
                TokenGrant::FineGrained {
                    resource_owner: AccountId(
                        self.resource_owner_id
                            .ok_or_else(|| missing(id, "resource_owner_id"))?,
                    ),
                    resource_owner_kind: parse_account_kind(
                        self.resource_owner_kind
                            .as_deref()
                            .ok_or_else(|| missing(id, "resource_owner_kind"))?,
                    )?,
                    requested,
                    granted,
                    state: GrantState::parse(state).ok_or_else(|| corrupt("grant state", state))?,
                }
            }
            CLASSIC => TokenGrant::Classic {
                scopes: decode_scopes(
                    self.scopes
                        .as_deref()
                        .ok_or_else(|| missing(id, "scopes"))?,
                )?,
            },
            APP_INSTALLATION => TokenGrant::AppInstallation {
                org: AccountId(self.app_org_id.ok_or_else(|| missing(id, "app_org_id"))?),
                permissions: decode_permissions(
                    self.app_permissions
                        .as_deref()
                        .ok_or_else(|| missing(id, "app_permissions"))?,
                )?,
            },
            other => return Err(corrupt("token kind", other)),
        };
        Ok(Token {
            id: TokenId(id),
            user: AccountId(self.user_id),
            name: self.name,
            description: self.description,
            last_eight: self.last_eight,
            created_at: from_unix(self.created_at)?,
            issued_at: from_unix(self.issued_at)?,
            expires_at: opt_from_unix(self.expires_at)?,
            last_used_at: opt_from_unix(self.last_used_at)?,
            grant,
        })
    }
}

/// The grant as column values (NULL for the columns of the other kinds).
#[derive(Default)]
struct GrantCols {
    resource_owner_id: Option<i64>,
    resource_owner_kind: Option<&'static str>,
    requested_selection: Option<&'static str>,
    requested_permissions: Option<String>,
    granted_selection: Option<&'static str>,
    granted_permissions: Option<String>,
    grant_state: Option<&'static str>,
    scopes: Option<String>,
    app_org_id: Option<i64>,
    app_permissions: Option<String>,
    requested_repos: Vec<i64>,
    granted_repos: Vec<i64>,
}

fn subset_repos(access: &TokenAccess) -> Vec<i64> {
    if access.selection == RepositorySelection::Subset {
        let mut ids: Vec<i64> = access.repositories.iter().map(|r| r.0).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    } else {
        Vec::new()
    }
}

impl GrantCols {
    fn of(grant: &TokenGrant) -> GrantCols {
        match grant {
            TokenGrant::FineGrained {
                resource_owner,
                resource_owner_kind,
                requested,
                granted,
                state,
            } => GrantCols {
                resource_owner_id: Some(resource_owner.0),
                resource_owner_kind: Some(account_kind_str(*resource_owner_kind)),
                requested_selection: Some(requested.selection.as_str()),
                requested_permissions: Some(encode_permissions(&requested.permissions)),
                granted_selection: granted.as_ref().map(|g| g.selection.as_str()),
                granted_permissions: granted.as_ref().map(|g| encode_permissions(&g.permissions)),
                grant_state: Some(state.as_str()),
                requested_repos: subset_repos(requested),
                granted_repos: granted.as_ref().map(subset_repos).unwrap_or_default(),
                ..GrantCols::default()
            },
            TokenGrant::Classic { scopes } => GrantCols {
                scopes: Some(encode_scopes(scopes)),
                ..GrantCols::default()
            },
            TokenGrant::AppInstallation { org, permissions } => GrantCols {
                app_org_id: Some(org.0),
                app_permissions: Some(encode_permissions(permissions)),
                ..GrantCols::default()
            },
        }
    }

    async fn insert_repos(&self, conn: &mut SqliteConnection, token: i64) -> StoreResult<()> {
        for (granted, list) in [(0_i64, &self.requested_repos), (1, &self.granted_repos)] {
            for repo in list {
                sqlx::query(
                    "INSERT INTO token_repositories (token_id, repo_id, granted) VALUES (?, ?, ?)",
                )
                .bind(token)
                .bind(repo)
                .bind(granted)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            }
        }
        Ok(())
    }
}

async fn repo_lists(conn: &mut SqliteConnection, token: i64) -> StoreResult<RepoLists> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT repo_id, granted FROM token_repositories WHERE token_id = ? ORDER BY repo_id",
    )
    .bind(token)
    .fetch_all(conn)
    .await
    .map_err(db_err)?;
    let mut lists = RepoLists::default();
    for (repo, granted) in rows {
        if granted != 0 {
            lists.granted.push(RepoId(repo));
        } else {
            lists.requested.push(RepoId(repo));
        }
    }
    Ok(lists)
}

async fn complete(
    conn: &mut SqliteConnection,
    row: Option<TokenRow>,
) -> StoreResult<Option<Token>> {
    match row {
        None => Ok(None),
        Some(row) => {
            let lists = repo_lists(conn, row.id).await?;
            row.into_token(lists).map(Some)
        }
    }
}

pub(crate) async fn token_row_by_id(
    conn: &mut SqliteConnection,
    id: i64,
) -> StoreResult<Option<Token>> {
    let row: Option<TokenRow> = sqlx::query_as(concat!(
        "SELECT ",
        token_cols!(),
        " FROM tokens WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    complete(conn, row).await
}

fn hash_bytes(hash: &TokenHash) -> &[u8] {
    hash.as_bytes()
}

/// Replaces the token's grant (columns and repository lists); `NotFound` when there is no such
/// token, `Conflict` when the grant is of another kind.
pub(crate) async fn set_grant(
    conn: &mut SqliteConnection,
    id: TokenId,
    grant: &TokenGrant,
) -> StoreResult<()> {
    let cols = GrantCols::of(grant);
    let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM tokens WHERE id = ?")
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    match kind {
        None => return Err(StoreError::NotFound),
        Some(k) if k != kind_str(grant) => {
            return Err(StoreError::Conflict(format!(
                "token {id} is {k}; its kind cannot change to {}",
                kind_str(grant)
            )));
        }
        Some(_) => {}
    }
    sqlx::query(
        "UPDATE tokens SET resource_owner_id = ?, resource_owner_kind = ?, \
         requested_selection = ?, requested_permissions = ?, granted_selection = ?, \
         granted_permissions = ?, grant_state = ?, scopes = ?, app_org_id = ?, \
         app_permissions = ? WHERE id = ?",
    )
    .bind(cols.resource_owner_id)
    .bind(cols.resource_owner_kind)
    .bind(cols.requested_selection)
    .bind(cols.requested_permissions.as_deref())
    .bind(cols.granted_selection)
    .bind(cols.granted_permissions.as_deref())
    .bind(cols.grant_state)
    .bind(cols.scopes.as_deref())
    .bind(cols.app_org_id)
    .bind(cols.app_permissions.as_deref())
    .bind(id.0)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query("DELETE FROM token_repositories WHERE token_id = ?")
        .bind(id.0)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    cols.insert_repos(conn, id.0).await
}

pub(crate) async fn set_description(
    conn: &mut SqliteConnection,
    id: TokenId,
    description: Option<&str>,
) -> StoreResult<()> {
    sqlx::query("UPDATE tokens SET description = ? WHERE id = ?")
        .bind(description)
        .bind(id.0)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token(&self, token: &NewToken, audit: &[NewAuditEvent]) -> StoreResult<Token> {
        let cols = GrantCols::of(&token.grant);
        let mut tx = self.write_tx().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tokens (kind, user_id, hash, last_eight, name, description, justification, \
             created_at, issued_at, expires_at, resource_owner_id, resource_owner_kind, \
             requested_selection, requested_permissions, granted_selection, granted_permissions, \
             grant_state, scopes, app_org_id, app_permissions) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(kind_str(&token.grant))
        .bind(token.user.0)
        .bind(hash_bytes(&token.hash))
        .bind(&token.last_eight)
        .bind(&token.name)
        .bind(token.description.as_deref())
        .bind(token.justification.as_deref())
        .bind(to_unix(token.created_at))
        .bind(to_unix(token.created_at))
        .bind(token.expires_at.map(to_unix))
        .bind(cols.resource_owner_id)
        .bind(cols.resource_owner_kind)
        .bind(cols.requested_selection)
        .bind(cols.requested_permissions.as_deref())
        .bind(cols.granted_selection)
        .bind(cols.granted_permissions.as_deref())
        .bind(cols.grant_state)
        .bind(cols.scopes.as_deref())
        .bind(cols.app_org_id)
        .bind(cols.app_permissions.as_deref())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        cols.insert_repos(&mut tx, id).await?;
        insert_all(&mut tx, audit, Some(TokenId(id))).await?;
        let stored = token_row_by_id(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        governance::after_insert(&mut tx, &stored, token.justification.as_deref()).await?;
        commit(tx).await?;
        Ok(stored)
    }

    async fn token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<Token>> {
        let mut conn = self.read_conn().await?;
        let row: Option<TokenRow> = sqlx::query_as(concat!(
            "SELECT ",
            token_cols!(),
            " FROM tokens WHERE hash = ?"
        ))
        .bind(hash_bytes(hash))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        complete(&mut conn, row).await
    }

    async fn token_by_id(&self, id: TokenId) -> StoreResult<Option<Token>> {
        let mut conn = self.read_conn().await?;
        token_row_by_id(&mut conn, id.0).await
    }

    async fn tokens_of_user(&self, user: AccountId) -> StoreResult<Vec<Token>> {
        // One read transaction: the tokens and their repository lists from the same snapshot.
        let mut tx = self.reader.begin().await.map_err(db_err)?;
        let rows: Vec<TokenRow> = sqlx::query_as(concat!(
            "SELECT ",
            token_cols!(),
            " FROM tokens WHERE user_id = ? AND kind <> 'app_installation' \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(user.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let repo_rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT tr.token_id, tr.repo_id, tr.granted FROM token_repositories tr \
             JOIN tokens t ON t.id = tr.token_id \
             WHERE t.user_id = ? AND t.kind <> 'app_installation' \
             ORDER BY tr.token_id, tr.repo_id",
        )
        .bind(user.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.rollback().await.map_err(db_err)?;
        let mut lists: HashMap<i64, RepoLists> = HashMap::new();
        for (token, repo, granted) in repo_rows {
            let entry = lists.entry(token).or_default();
            if granted != 0 {
                entry.granted.push(RepoId(repo));
            } else {
                entry.requested.push(RepoId(repo));
            }
        }
        rows.into_iter()
            .map(|row| {
                let repos = lists.remove(&row.id).unwrap_or_default();
                row.into_token(repos)
            })
            .collect()
    }

    async fn update_token(
        &self,
        id: TokenId,
        description: Option<&str>,
        grant: &TokenGrant,
        audit: &[NewAuditEvent],
    ) -> StoreResult<Token> {
        let mut tx = self.write_tx().await?;
        set_grant(&mut tx, id, grant).await?;
        set_description(&mut tx, id, description).await?;
        let stored = token_row_by_id(&mut tx, id.0)
            .await?
            .ok_or(StoreError::NotFound)?;
        governance::sync(&mut tx, &stored, change_time(audit)).await?;
        insert_all(&mut tx, audit, Some(id)).await?;
        commit(tx).await?;
        Ok(stored)
    }

    async fn regenerate_token(
        &self,
        id: TokenId,
        hash: &TokenHash,
        last_eight: &str,
        issued_at: time::OffsetDateTime,
        expires_at: Option<time::OffsetDateTime>,
        audit: &[NewAuditEvent],
    ) -> StoreResult<Token> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE tokens SET hash = ?, last_eight = ?, issued_at = ?, expires_at = ? WHERE id = ?",
        )
        .bind(hash_bytes(hash))
        .bind(last_eight)
        .bind(to_unix(issued_at))
        .bind(expires_at.map(to_unix))
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        insert_all(&mut tx, audit, Some(id)).await?;
        let stored = token_row_by_id(&mut tx, id.0)
            .await?
            .ok_or(StoreError::NotFound)?;
        commit(tx).await?;
        Ok(stored)
    }

    async fn delete_token(
        &self,
        id: TokenId,
        audit: &[NewAuditEvent],
    ) -> StoreResult<(Token, Vec<KeyId>)> {
        let mut tx = self.write_tx().await?;
        let token = token_row_by_id(&mut tx, id.0)
            .await?
            .ok_or(StoreError::NotFound)?;
        let deploy_keys: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM keys WHERE created_by_token = ? AND repo_id IS NOT NULL ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query("DELETE FROM keys WHERE created_by_token = ? AND repo_id IS NOT NULL")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // User keys outlive the token (ON DELETE SET NULL says the same; explicit for backends
        // whose foreign keys may be off).
        sqlx::query("UPDATE keys SET created_by_token = NULL WHERE created_by_token = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("DELETE FROM tokens WHERE id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_all(&mut tx, audit, Some(id)).await?;
        commit(tx).await?;
        Ok((token, deploy_keys.into_iter().map(KeyId).collect()))
    }

    async fn record_last_used(&self, uses: &[(TokenId, time::OffsetDateTime)]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        for (id, at) in uses {
            // Only forward: a late batch never hides a newer use. Unknown (deleted) tokens are
            // skipped.
            sqlx::query(
                "UPDATE tokens SET last_used_at = ?1 \
                 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)",
            )
            .bind(to_unix(*at))
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        commit(tx).await
    }
}
