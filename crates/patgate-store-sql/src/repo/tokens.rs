//! Tokens: one table for every kind, the grant flattened into the columns of its kind, and the
//! repository lists of fine-grained `subset` selections in `token_repositories`.
//!
//! Audit events given to a token method that leave `token_id` unset are recorded with the
//! token's id (at insertion the caller cannot know it yet).
//!
//! A token is read with its repository lists in one statement (`string_agg` subqueries), so a
//! reader never sees a grant half updated, and verification costs one round trip. Changes
//! (update, regenerate, delete) lock the row first and announce `token:<id>` on commit.
//! These methods write tokens alone; requests and grants change with them only through
//! `GovernanceStore::apply` (`super::changes`).

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;

use patgate_domain::model::{
    AccountId, GrantState, KeyId, RepositorySelection, Token, TokenAccess, TokenGrant, TokenId,
};
use patgate_domain::governance;
use patgate_domain::token::TokenHash;
use time::OffsetDateTime;
use patgate_store::codec::{
    decode_permissions, decode_scopes, encode_permissions, encode_scopes, from_unix, opt_from_unix,
    to_unix,
};
use patgate_store::{NewAuditEvent, NewToken, StoreError, StoreResult, TokenStore};

use super::audit::insert_all;
use super::rows::{KIND_ORG, account_kind_str, corrupt, fold, parse_account_kind, repo_ids};
use super::{Conn, Db, EngineStore, commit, db_err, id_list};

const FINE_GRAINED: &str = "fine_grained";
const CLASSIC: &str = "classic";
const APP_INSTALLATION: &str = "app_installation";

pub(crate) fn kind_str(grant: &TokenGrant) -> &'static str {
    match grant {
        TokenGrant::FineGrained { .. } => FINE_GRAINED,
        TokenGrant::Classic { .. } => CLASSIC,
        TokenGrant::AppInstallation { .. } => APP_INSTALLATION,
    }
}

/// Columns of `tokens t` read by [`TokenRow`], with the repository lists of the token.
macro_rules! token_cols {
    () => {
        "t.id AS id, t.kind AS kind, t.user_id AS user_id, t.last_eight AS last_eight, \
         t.name AS name, t.description AS description, t.created_at AS created_at, \
         t.issued_at AS issued_at, t.expires_at AS expires_at, t.last_used_at AS last_used_at, \
         t.resource_owner_id AS resource_owner_id, t.resource_owner_kind AS resource_owner_kind, \
         t.requested_selection AS requested_selection, \
         t.requested_permissions AS requested_permissions, \
         t.granted_selection AS granted_selection, t.granted_permissions AS granted_permissions, \
         t.grant_state AS grant_state, t.scopes AS scopes, t.app_org_id AS app_org_id, \
         t.app_permissions AS app_permissions, \
         (SELECT string_agg(CAST(tr.repo_id AS TEXT), ',' ORDER BY tr.repo_id) \
          FROM token_repositories tr WHERE tr.token_id = t.id AND NOT tr.granted) \
          AS requested_repos, \
         (SELECT string_agg(CAST(tr.repo_id AS TEXT), ',' ORDER BY tr.repo_id) \
          FROM token_repositories tr WHERE tr.token_id = t.id AND tr.granted) AS granted_repos"
    };
}
pub(crate) use token_cols;

statements! {
    INSERT_REPOS = concat!(
        "INSERT INTO token_repositories (token_id, repo_id, granted) SELECT $1, ids.id, $2 FROM ",
        id_rows!("$3"),
        " AS ids",
    );
    TOKEN_BY_ID = concat!("SELECT ", token_cols!(), " FROM tokens t WHERE t.id = $1");
    LOCK_TOKEN = concat!("SELECT kind FROM tokens WHERE id = $1", for_update!());
    DELETE_REPOS_OF_TOKENS = concat!(
        "DELETE FROM token_repositories WHERE token_id ",
        in_ids!("$1"),
    );
    INSERT_TOKEN = "INSERT INTO tokens (kind, user_id, hash, last_eight, name, description, \
        justification, created_at, issued_at, expires_at, resource_owner_id, resource_owner_kind, \
        requested_selection, requested_permissions, granted_selection, granted_permissions, \
        grant_state, scopes, app_org_id, app_permissions, name_folded) VALUES ($1, $2, $3, $4, \
        $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
        RETURNING id";
    /// The fine-grained tokens not folded yet (stored before names were unique), and every
    /// fine-grained token of their users, by user and id.
    UNFOLDED_NAMES = concat!(
        "SELECT id, user_id, name, name_folded, resource_owner_id, resource_owner_kind \
         FROM tokens WHERE kind = 'fine_grained' AND user_id IN (SELECT user_id FROM tokens \
         WHERE kind = 'fine_grained' AND name_folded IS NULL) ORDER BY user_id, id",
        for_update!(),
    );
    SET_NAME = "UPDATE tokens SET name = $1, name_folded = $2 WHERE id = $3";
    TOKENS_BY_IDS = concat!(
        "SELECT ",
        token_cols!(),
        " FROM tokens t WHERE t.id ",
        in_ids!("$1"),
        " ORDER BY t.id",
    );
    pub(super) TOKEN_BY_HASH = concat!("SELECT ", token_cols!(), " FROM tokens t WHERE t.hash = $1");
    TOKENS_OF_USER = concat!(
        "SELECT ",
        token_cols!(),
        " FROM tokens t WHERE t.user_id = $1 AND t.kind <> 'app_installation' ORDER BY \
         t.created_at DESC, t.id DESC",
    );
    REGENERATE = "UPDATE tokens SET hash = $1, last_eight = $2, issued_at = $3, expires_at = $4 \
        WHERE id = $5";
    DEPLOY_KEYS_OF_TOKEN = "SELECT id FROM keys WHERE created_by_token = $1 AND repo_id IS NOT \
        NULL ORDER BY id";
    DELETE_DEPLOY_KEYS = "DELETE FROM keys WHERE created_by_token = $1 AND repo_id IS NOT NULL";
    UNLINK_USER_KEYS = "UPDATE keys SET created_by_token = NULL WHERE created_by_token = $1";
    DELETE_TOKEN = "DELETE FROM tokens WHERE id = $1";
    RECORD_LAST_USED = concat!(
        "UPDATE tokens SET last_used_at = u.at FROM ",
        id_pairs!("$1", "$2"),
        " AS u WHERE tokens.id = u.id AND (tokens.last_used_at IS NULL OR tokens.last_used_at < \
         u.at)",
    );
}

// Pieces of the statements built at run time (`push_values` fills the `VALUES` rows).
/// A batch of grants: `VALUES` rows of (id, the grant's columns, whether to set the
/// description, the description), named `column1` ... by both engines.
const UPDATE_GRANTS_HEAD: &str = "UPDATE tokens SET resource_owner_id = v.column2, \
    resource_owner_kind = v.column3, requested_selection = v.column4, \
    requested_permissions = v.column5, granted_selection = v.column6, \
    granted_permissions = v.column7, grant_state = v.column8, scopes = v.column9, \
    app_org_id = v.column10, app_permissions = v.column11, \
    description = CASE WHEN v.column12 THEN v.column13 ELSE tokens.description END FROM (";

const UPDATE_GRANTS_TAIL: &str = ") AS v WHERE tokens.id = v.column1";

const INSERT_REPO_ROWS_HEAD: &str = "INSERT INTO token_repositories (token_id, repo_id, granted) ";

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub(super) id: i64,
    pub(super) kind: String,
    pub(super) user_id: i64,
    pub(super) last_eight: String,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) created_at: i64,
    pub(super) issued_at: i64,
    pub(super) expires_at: Option<i64>,
    pub(super) last_used_at: Option<i64>,
    pub(super) resource_owner_id: Option<i64>,
    pub(super) resource_owner_kind: Option<String>,
    pub(super) requested_selection: Option<String>,
    pub(super) requested_permissions: Option<String>,
    pub(super) granted_selection: Option<String>,
    pub(super) granted_permissions: Option<String>,
    pub(super) grant_state: Option<String>,
    pub(super) scopes: Option<String>,
    pub(super) app_org_id: Option<i64>,
    pub(super) app_permissions: Option<String>,
    pub(super) requested_repos: Option<String>,
    pub(super) granted_repos: Option<String>,
}

fn missing(id: i64, column: &str) -> StoreError {
    StoreError::Corrupt(format!("token {id} has no {column}"))
}

fn selection(s: &str) -> StoreResult<RepositorySelection> {
    RepositorySelection::parse(s).ok_or_else(|| corrupt("repository selection", s))
}

impl TokenRow {
    pub(crate) fn into_token(self) -> StoreResult<Token> {
        let id = self.id;
        let requested_repos = repo_ids(self.requested_repos.as_deref(), "token", id)?;
        let granted_repos = repo_ids(self.granted_repos.as_deref(), "token", id)?;
        let grant = match self.kind.as_str() {
            FINE_GRAINED => {
                let requested = TokenAccess::new(
                    selection(
                        self.requested_selection
                            .as_deref()
                            .ok_or_else(|| missing(id, "requested_selection"))?,
                    )?,
                    requested_repos,
                    decode_permissions(
                        self.requested_permissions
                            .as_deref()
                            .ok_or_else(|| missing(id, "requested_permissions"))?,
                    )?,
                );
                let granted = match (self.granted_selection, self.granted_permissions) {
                    (Some(sel), Some(perms)) => Some(TokenAccess::new(
                        selection(&sel)?,
                        granted_repos,
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
pub(crate) struct GrantCols {
    pub resource_owner_id: Option<i64>,
    pub resource_owner_kind: Option<&'static str>,
    pub requested_selection: Option<&'static str>,
    pub requested_permissions: Option<String>,
    pub granted_selection: Option<&'static str>,
    pub granted_permissions: Option<String>,
    pub grant_state: Option<&'static str>,
    pub scopes: Option<String>,
    pub app_org_id: Option<i64>,
    pub app_permissions: Option<String>,
    pub requested_repos: Vec<i64>,
    pub granted_repos: Vec<i64>,
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
    pub(crate) fn of(grant: &TokenGrant) -> GrantCols {
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

    async fn insert_repos(&self, conn: &mut Conn, token: i64) -> StoreResult<()> {
        for (granted, list) in [(false, &self.requested_repos), (true, &self.granted_repos)] {
            if list.is_empty() {
                continue;
            }
            sqlx::query(INSERT_REPOS)
                .bind(token)
                .bind(granted)
                .bind(id_list(list))
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }
}

/// The key of a token's name in the unique index `tokens_user_name_key`: the folded name of a
/// fine-grained token; none for the other kinds, whose names need not be unique.
pub(crate) fn name_key(kind: &str, name: &str) -> Option<String> {
    (kind == FINE_GRAINED).then(|| fold(name))
}

/// A unique violation of `tokens_user_name_key` (PostgreSQL names the index, SQLite its
/// columns) is the name being taken; anything else stays what it is.
fn name_taken(e: StoreError, name: &str) -> StoreError {
    match e {
        StoreError::UniqueViolation(what)
            if what.contains("tokens_user_name_key") || what.contains("name_folded") =>
        {
            StoreError::NameTaken(name.to_owned())
        }
        other => other,
    }
}

/// Inserts the token's row and its repository lists (nothing else: no request, no grant).
/// `NameTaken` when another fine-grained token of the user has its name, case-insensitively.
pub(crate) async fn insert_token_row(conn: &mut Conn, token: &NewToken) -> StoreResult<TokenId> {
    let cols = GrantCols::of(&token.grant);
    let kind = kind_str(&token.grant);
    let id: i64 = sqlx::query_scalar(INSERT_TOKEN)
        .bind(kind)
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
        .bind(name_key(kind, &token.name))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| name_taken(db_err(e), &token.name))?;
    cols.insert_repos(conn, id).await?;
    Ok(TokenId(id))
}

/// The tokens among `ids` (unknown ids left out), by id.
pub(crate) async fn tokens_by_ids(conn: &mut Conn, ids: &[i64]) -> StoreResult<Vec<Token>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<TokenRow> = sqlx::query_as(TOKENS_BY_IDS)
        .bind(id_list(ids))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    rows.into_iter().map(TokenRow::into_token).collect()
}

pub(crate) async fn token_row_by_id(conn: &mut Conn, id: i64) -> StoreResult<Option<Token>> {
    let row: Option<TokenRow> = sqlx::query_as(TOKEN_BY_ID)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.map(TokenRow::into_token).transpose()
}

/// Locks the token's row for the rest of the transaction; `NotFound` when there is none (or a
/// concurrent transaction deleted it first).
pub(crate) async fn lock_token(conn: &mut Conn, id: TokenId) -> StoreResult<String> {
    sqlx::query_scalar(LOCK_TOKEN)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(StoreError::NotFound)
}

/// Folds the names of fine-grained tokens stored before names were unique (migration 0004), in
/// one transaction. Of the tokens of a user whose names fold alike, the earliest keeps its name
/// and the later ones are renamed (`governance::disambiguated`, numbered past every name the
/// user has), in id order, each with an audit row saying so. Returns
/// how many tokens were renamed. Concurrent callers (replicas starting together) queue on the
/// rows' locks; the later finds nothing left to fold.
pub(crate) async fn fold_token_names(store: &EngineStore, now: OffsetDateTime) -> StoreResult<usize> {
    type Row = (i64, i64, String, Option<String>, Option<i64>, Option<String>);
    let mut tx = store.write_tx().await?;
    let rows: Vec<Row> = sqlx::query_as(UNFOLDED_NAMES)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut taken: HashSet<(i64, String)> = rows
        .iter()
        .filter_map(|(_, user, _, folded, ..)| folded.clone().map(|f| (*user, f)))
        .collect();
    // Every name held once keeps it, first; then the later holders of a name are numbered past
    // every name their user has, in id order.
    let mut later = Vec::new();
    let mut keep = Vec::new();
    for row in rows.iter().filter(|(_, _, _, folded, ..)| folded.is_none()) {
        let (_, user, name, ..) = row;
        if taken.insert((*user, fold(name))) {
            keep.push((row, name.clone()));
        } else {
            later.push(row);
        }
    }
    for row in later {
        let (_, user, name, ..) = row;
        let mut n = 2;
        let mut new_name = governance::disambiguated(name, n);
        while !taken.insert((*user, fold(&new_name))) {
            n += 1;
            new_name = governance::disambiguated(name, n);
        }
        keep.push((row, new_name));
    }
    let mut renames = Vec::new();
    for ((id, _, name, _, owner, owner_kind), new_name) in keep {
        sqlx::query(SET_NAME)
            .bind(&new_name)
            .bind(fold(&new_name))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if new_name != *name {
            let org = (owner_kind.as_deref() == Some(KIND_ORG))
                .then_some(*owner)
                .flatten()
                .map(AccountId);
            renames.push(NewAuditEvent {
                action: "personal_access_token.update".into(),
                actor: None,
                actor_login: None,
                org,
                token_id: Some(TokenId(*id)),
                data: serde_json::json!({
                    "user_programmatic_access_name": new_name,
                    "previous_name": name,
                    "explanation": "renamed: an earlier token of the user has the same name",
                }),
                created_at: now,
            });
        }
    }
    insert_all(&mut tx, &renames, None).await?;
    commit(tx).await?;
    for event in &renames {
        tracing::warn!(
            token = ?event.token_id,
            "renamed a fine-grained token whose name an earlier token of its user has"
        );
    }
    Ok(renames.len())
}

/// A grant of another kind than the token's: a token's kind never changes.
pub(crate) fn kind_change(id: TokenId, kind: &str, grant: &TokenGrant) -> StoreError {
    StoreError::Conflict(format!(
        "token {id} is {kind}; its kind cannot change to {}",
        kind_str(grant)
    ))
}

fn hash_bytes(hash: &TokenHash) -> &[u8] {
    hash.as_bytes()
}

/// A token's new grant, and its new description when `Some`.
pub(crate) struct GrantWrite<'a> {
    pub id: TokenId,
    pub grant: &'a TokenGrant,
    pub description: Option<Option<&'a str>>,
}

/// Rows per statement of a batch (well under SQLite's 32 766 and PostgreSQL's 65 535 bound
/// parameters at 13 columns).
pub(crate) const BATCH_ROWS: usize = 500;

/// Replaces the grants (columns and repository lists), and the descriptions given, of several
/// tokens: one `UPDATE ... FROM (VALUES ...)` per batch of rows, then their repository lists.
/// The caller has locked the rows and checked that each keeps its kind.
pub(crate) async fn write_grants(conn: &mut Conn, writes: &[GrantWrite<'_>]) -> StoreResult<()> {
    if writes.is_empty() {
        return Ok(());
    }
    let cols: Vec<(TokenId, GrantCols, Option<Option<&str>>)> = writes
        .iter()
        .map(|w| (w.id, GrantCols::of(w.grant), w.description))
        .collect();
    for chunk in cols.chunks(BATCH_ROWS) {
        let mut q = sqlx::QueryBuilder::<Db>::new(UPDATE_GRANTS_HEAD);
        q.push_values(chunk, |mut row, (id, c, description)| {
            row.push_bind(id.0)
                .push_bind(c.resource_owner_id)
                .push_bind(c.resource_owner_kind)
                .push_bind(c.requested_selection)
                .push_bind(c.requested_permissions.clone())
                .push_bind(c.granted_selection)
                .push_bind(c.granted_permissions.clone())
                .push_bind(c.grant_state)
                .push_bind(c.scopes.clone())
                .push_bind(c.app_org_id)
                .push_bind(c.app_permissions.clone())
                .push_bind(description.is_some())
                .push_bind(description.flatten().map(str::to_owned));
        });
        q.push(UPDATE_GRANTS_TAIL);
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    let ids: Vec<i64> = cols.iter().map(|(id, ..)| id.0).collect();
    sqlx::query(DELETE_REPOS_OF_TOKENS)
        .bind(id_list(&ids))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let repos: Vec<(i64, i64, bool)> = cols
        .iter()
        .flat_map(|(id, c, _)| {
            let requested = c.requested_repos.iter().map(move |r| (id.0, *r, false));
            let granted = c.granted_repos.iter().map(move |r| (id.0, *r, true));
            requested.chain(granted)
        })
        .collect();
    for chunk in repos.chunks(BATCH_ROWS) {
        let mut q = sqlx::QueryBuilder::<Db>::new(INSERT_REPO_ROWS_HEAD);
        q.push_values(chunk, |mut row, (token, repo, granted)| {
            row.push_bind(*token).push_bind(*repo).push_bind(*granted);
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

/// The statements `write_grants` builds, with values bound, for the test that runs every
/// statement: a batch of one row and one of two.
#[cfg(test)]
pub(super) fn batch_statements() -> Vec<(&'static str, sqlx::QueryBuilder<Db>)> {
    let grant = TokenGrant::AppInstallation {
        org: AccountId(1),
        permissions: patgate_domain::catalog::PermissionSet::new(),
    };
    let cols = GrantCols::of(&grant);
    let mut out = Vec::new();
    for n in [1, 2] {
        let rows: Vec<&GrantCols> = std::iter::repeat_n(&cols, n).collect();
        let mut q = sqlx::QueryBuilder::<Db>::new(UPDATE_GRANTS_HEAD);
        q.push_values(rows, |mut row, c| {
            row.push_bind(1_i64)
                .push_bind(c.resource_owner_id)
                .push_bind(c.resource_owner_kind)
                .push_bind(c.requested_selection)
                .push_bind(c.requested_permissions.clone())
                .push_bind(c.granted_selection)
                .push_bind(c.granted_permissions.clone())
                .push_bind(c.grant_state)
                .push_bind(c.scopes.clone())
                .push_bind(c.app_org_id)
                .push_bind(c.app_permissions.clone())
                .push_bind(false)
                .push_bind(None::<String>);
        });
        q.push(UPDATE_GRANTS_TAIL);
        out.push(("UPDATE_GRANTS", q));
        let mut q = sqlx::QueryBuilder::<Db>::new(INSERT_REPO_ROWS_HEAD);
        q.push_values(0..n, |mut row, _| {
            row.push_bind(1_i64).push_bind(1_i64).push_bind(true);
        });
        out.push(("INSERT_REPO_ROWS", q));
    }
    out
}

#[async_trait]
impl TokenStore for EngineStore {
    async fn insert_token_with_outbox(
        &self,
        token: &NewToken,
        audit: &[NewAuditEvent],
        outbox: &[patgate_store::NewOutboxMessage],
    ) -> StoreResult<Token> {
        let mut tx = self.write_tx().await?;
        let id = insert_token_row(&mut tx, token).await?;
        insert_all(&mut tx, audit, Some(id)).await?;
        super::outbox::write_messages(&mut tx, outbox, Some(id), &[]).await?;
        let stored = token_row_by_id(&mut tx, id.0)
            .await?
            .ok_or(StoreError::NotFound)?;
        commit(tx).await?;
        Ok(stored)
    }

    async fn token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<Token>> {
        let row: Option<TokenRow> = match self.hot_token_by_hash(hash_bytes(hash)) {
            Some(read) => read?,
            None => {
                let mut conn = self.miss_conn().await?;
                let row = sqlx::query_as(TOKEN_BY_HASH)
                    .bind(hash_bytes(hash))
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
                self.keep_miss_conn(conn);
                row
            }
        };
        row.map(TokenRow::into_token).transpose()
    }

    async fn token_by_id(&self, id: TokenId) -> StoreResult<Option<Token>> {
        let mut conn = self.read_conn().await?;
        token_row_by_id(&mut conn, id.0).await
    }

    async fn tokens_page(
        &self,
        user: AccountId,
        kind: patgate_domain::token::TokenKind,
        page: patgate_store::PageQuery,
    ) -> StoreResult<patgate_store::Listing<Token>> {
        self.tokens_page_of(user, kind, page).await
    }

    async fn tokens_of_user(&self, user: AccountId) -> StoreResult<Vec<Token>> {
        let rows: Vec<TokenRow> = sqlx::query_as(TOKENS_OF_USER)
            .bind(user.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(TokenRow::into_token).collect()
    }

    async fn update_token(
        &self,
        id: TokenId,
        description: Option<&str>,
        grant: &TokenGrant,
        audit: &[NewAuditEvent],
    ) -> StoreResult<Token> {
        let mut tx = self.write_tx().await?;
        let kind = lock_token(&mut tx, id).await?;
        if kind != kind_str(grant) {
            return Err(kind_change(id, &kind, grant));
        }
        write_grants(
            &mut tx,
            &[GrantWrite {
                id,
                grant,
                description: Some(description),
            }],
        )
        .await?;
        let stored = token_row_by_id(&mut tx, id.0)
            .await?
            .ok_or(StoreError::NotFound)?;
        insert_all(&mut tx, audit, Some(id)).await?;
        self.notify_token(&mut tx, id).await?;
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
        let done = sqlx::query(REGENERATE)
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
        self.notify_token(&mut tx, id).await?;
        let stored = token_row_by_id(&mut tx, id.0)
            .await?
            .ok_or(StoreError::NotFound)?;
        commit(tx).await?;
        Ok(stored)
    }

    async fn delete_token_with_outbox(
        &self,
        id: TokenId,
        audit: &[NewAuditEvent],
        outbox: &[patgate_store::NewOutboxMessage],
    ) -> StoreResult<(Token, Vec<KeyId>)> {
        let mut tx = self.write_tx().await?;
        lock_token(&mut tx, id).await?;
        let token = token_row_by_id(&mut tx, id.0)
            .await?
            .ok_or(StoreError::NotFound)?;
        let deploy_keys: Vec<i64> = sqlx::query_scalar(DEPLOY_KEYS_OF_TOKEN)
            .bind(id.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(DELETE_DEPLOY_KEYS)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // User keys outlive the token (ON DELETE SET NULL says the same; explicit for backends
        // whose foreign keys may be off).
        sqlx::query(UNLINK_USER_KEYS)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(DELETE_TOKEN)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_all(&mut tx, audit, Some(id)).await?;
        super::outbox::write_messages(&mut tx, outbox, Some(id), &[]).await?;
        self.notify_token(&mut tx, id).await?;
        commit(tx).await?;
        Ok((token, deploy_keys.into_iter().map(KeyId).collect()))
    }

    async fn record_last_used(&self, uses: &[(TokenId, time::OffsetDateTime)]) -> StoreResult<()> {
        // The latest use per token (one row per id, so the join below updates each once).
        let mut latest: BTreeMap<i64, i64> = BTreeMap::new();
        for (id, at) in uses {
            let at = to_unix(*at);
            latest
                .entry(id.0)
                .and_modify(|t| *t = (*t).max(at))
                .or_insert(at);
        }
        if latest.is_empty() {
            return Ok(());
        }
        let (ids, ats): (Vec<i64>, Vec<i64>) = latest.into_iter().unzip();
        // One autocommitted statement. Only forward: a late batch never hides a newer use.
        // Unknown (deleted) tokens are skipped. Not announced: a use changes no decision.
        sqlx::query(RECORD_LAST_USED)
            .bind(id_list(&ids))
            .bind(id_list(&ats))
            .execute(self.writes())
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
