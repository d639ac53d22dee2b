//! Users, organizations, enterprises, policies, memberships, repositories and collaborators.
//!
//! Names are case-insensitive: each table keeps a lower-cased copy under its unique index, and
//! lookups bind the lower-cased argument. An upsert matches that key, keeps the id and creation
//! time, stores the spelling it was given, and reports `Unchanged` when nothing differs.
//!
//! Concurrency (many replicas, `READ COMMITTED`): an upsert reads the current row `FOR UPDATE`;
//! when there is none it inserts with `ON CONFLICT DO NOTHING`, and if a concurrent transaction
//! inserted the same key first, reads again and compares with that row. So racing upserts of
//! the same name (replicas loading the same seed file) both succeed, one `Created` and the
//! other `Unchanged` or `Updated`. Every change announces `directory` on commit.

use async_trait::async_trait;
use time::OffsetDateTime;

use patgate_domain::catalog::{OrgRole, RepoRole};
use patgate_domain::model::{
    AccountId, AccountKind, Enterprise, EnterpriseId, Organization, RepoId, Repository, User,
    Visibility,
};
use patgate_domain::policy::PolicySettings;
use patgate_store::codec::to_unix;
use patgate_store::{
    Account, DirectoryStore, NewAuditEvent, NewUser, RepoStanding, StoreError, StoreResult,
    Upserted,
};

use super::audit::insert_audit;
use super::rows::{
    AccountEntity, AccountRow, KIND_ORG, KIND_USER, PolicyRow, RepoRow, account_cols, fold,
    parse_account_kind, parse_org_role, parse_repo_role, repo_cols,
};
use super::{Conn, EngineStore, commit, db_err, id_list};

statements! {
    ACCOUNT_BY_ID = concat!("SELECT ", account_cols!(), " FROM accounts a WHERE a.id = $1");
    ACCOUNT_BY_LOGIN = concat!(
        "SELECT ",
        account_cols!(),
        " FROM accounts a WHERE a.login_lower = $1",
    );
    ACCOUNTS_BY_IDS = concat!(
        "SELECT ",
        account_cols!(),
        " FROM accounts a WHERE a.id ",
        in_ids!("$1"),
        " ORDER BY a.id",
    );
    ACCOUNT_KIND = "SELECT kind FROM accounts WHERE id = $1";
    LOCK_ACCOUNT = concat!("SELECT id FROM accounts WHERE id = $1", for_update!());
    REPO_BY_ID = concat!(
        "SELECT ",
        repo_cols!(),
        " FROM repositories r JOIN accounts a ON a.id = r.owner_id WHERE r.id = $1",
    );
    ENTERPRISE_POLICY = "SELECT fine_grained, classic, approval, fine_grained_max_lifetime_days, \
        classic_max_lifetime_days, exempt_administrators FROM enterprises WHERE id = $1";
    ORG_POLICY = "SELECT p.fine_grained AS fine_grained, p.classic AS classic, p.approval AS \
        approval, p.fine_grained_max_lifetime_days AS fine_grained_max_lifetime_days, \
        p.classic_max_lifetime_days AS classic_max_lifetime_days, \
        COALESCE(p.exempt_administrators, FALSE) AS exempt_administrators FROM accounts a LEFT \
        JOIN org_policies p ON p.org_id = a.id WHERE a.id = $1 AND a.kind = 'organization'";
    WRITE_ORG_POLICY = "INSERT INTO org_policies (org_id, fine_grained, classic, approval, \
        fine_grained_max_lifetime_days, classic_max_lifetime_days, exempt_administrators) VALUES \
        ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id) DO UPDATE SET fine_grained = $2, \
        classic = $3, approval = $4, fine_grained_max_lifetime_days = $5, \
        classic_max_lifetime_days = $6, exempt_administrators = $7";
    WRITE_ENTERPRISE = "UPDATE enterprises SET slug = $1, fine_grained = $2, classic = $3, \
        approval = $4, fine_grained_max_lifetime_days = $5, classic_max_lifetime_days = $6, \
        exempt_administrators = $7 WHERE id = $8";
    USER_FOR_UPSERT = concat!(
        "SELECT id, kind, login, email, email_verified, site_admin, password_hash FROM accounts \
         WHERE login_lower = $1",
        for_update!(),
    );
    INSERT_USER = "INSERT INTO accounts (kind, login, login_lower, created_at, email, \
        email_verified, site_admin, password_hash) VALUES ('user', $1, $2, $3, $4, $5, $6, $7) ON \
        CONFLICT (login_lower) DO NOTHING RETURNING id";
    UPDATE_USER = "UPDATE accounts SET login = $1, email = $2, email_verified = $3, site_admin = \
        $4, password_hash = COALESCE($5, password_hash) WHERE id = $6";
    PASSWORD_HASH = "SELECT password_hash FROM accounts WHERE id = $1 AND kind = 'user'";
    ADD_ENTERPRISE_OWNER = "INSERT INTO enterprise_owners (enterprise_id, user_id) VALUES ($1, $2) \
        ON CONFLICT DO NOTHING";
    REMOVE_ENTERPRISE_OWNER = "DELETE FROM enterprise_owners WHERE enterprise_id = $1 AND user_id = $2";
    IS_USER = "SELECT id FROM accounts WHERE id = $1 AND kind = 'user'";
    ENTERPRISE_OWNERS = concat!(
        "SELECT ",
        account_cols!(),
        " FROM enterprise_owners eo JOIN accounts a ON a.id = eo.user_id \
         WHERE eo.enterprise_id = $1 ORDER BY a.login_lower",
    );
    ENTERPRISES_OWNED_BY = "SELECT e.id, e.slug FROM enterprise_owners eo \
        JOIN enterprises e ON e.id = eo.enterprise_id WHERE eo.user_id = $1 ORDER BY e.slug_lower";
    ORGS_OF_ENTERPRISE = concat!(
        "SELECT ",
        account_cols!(),
        " FROM accounts a WHERE a.kind = 'organization' AND a.enterprise_id = $1 \
         ORDER BY a.login_lower",
    );
    SET_PASSWORD_HASH = "UPDATE accounts SET password_hash = $1 WHERE id = $2 AND kind = 'user'";
    END_SESSIONS_OF_USER = "DELETE FROM web_sessions WHERE user_id = $1";
    USERS = concat!(
        "SELECT ",
        account_cols!(),
        " FROM accounts a WHERE a.kind = 'user' ORDER BY a.login_lower",
    );
    ENTERPRISE_FOR_UPSERT = concat!(
        "SELECT id, slug, fine_grained, classic, approval, fine_grained_max_lifetime_days, \
         classic_max_lifetime_days, exempt_administrators FROM enterprises WHERE slug_lower = $1",
        for_update!(),
    );
    INSERT_ENTERPRISE = "INSERT INTO enterprises (slug, slug_lower, fine_grained, classic, \
        approval, fine_grained_max_lifetime_days, classic_max_lifetime_days, \
        exempt_administrators) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (slug_lower) \
        DO NOTHING RETURNING id";
    ENTERPRISE_BY_ID = "SELECT id, slug FROM enterprises WHERE id = $1";
    ENTERPRISE_BY_SLUG = "SELECT id, slug FROM enterprises WHERE slug_lower = $1";
    SET_ENTERPRISE_POLICY = "UPDATE enterprises SET fine_grained = $1, classic = $2, approval = \
        $3, fine_grained_max_lifetime_days = $4, classic_max_lifetime_days = $5, \
        exempt_administrators = $6 WHERE id = $7";
    ACCOUNT_FOR_UPSERT = concat!(
        "SELECT ",
        account_cols!(),
        " FROM accounts a WHERE a.login_lower = $1",
        for_update!(),
    );
    INSERT_ORG = "INSERT INTO accounts (kind, login, login_lower, created_at, enterprise_id, \
        base_permission) VALUES ('organization', $1, $2, $3, $4, $5) ON CONFLICT (login_lower) DO \
        NOTHING RETURNING id";
    UPDATE_ORG = "UPDATE accounts SET login = $1, enterprise_id = $2, base_permission = $3 WHERE \
        id = $4";
    ORGS = concat!(
        "SELECT ",
        account_cols!(),
        " FROM accounts a WHERE a.kind = 'organization' ORDER BY a.login_lower",
    );
    HAS_ORG_POLICY = "SELECT org_id FROM org_policies WHERE org_id = $1";
    MEMBERSHIP_FOR_UPSERT = concat!(
        "SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2",
        for_update!(),
    );
    UPDATE_MEMBERSHIP = "UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3";
    INSERT_MEMBERSHIP = "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3) ON \
        CONFLICT (org_id, user_id) DO NOTHING";
    DELETE_MEMBERSHIP = "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2";
    MEMBERSHIP = "SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2";
    MEMBERS = concat!(
        "SELECT ",
        account_cols!(),
        ", m.role AS role FROM memberships m JOIN accounts a ON a.id = m.user_id WHERE m.org_id = \
         $1 ORDER BY a.login_lower",
    );
    ORGS_OF_USER = concat!(
        "SELECT ",
        account_cols!(),
        ", m.role AS role FROM memberships m JOIN accounts a ON a.id = m.org_id WHERE m.user_id = \
         $1 ORDER BY a.login_lower",
    );
    /// Everything `repo_standing` returns, in one row: the membership in the owner, the
    /// owner's base permission, the collaborator role, the enterprise membership ($4 NULL:
    /// not asked).
    pub(super) REPO_STANDING = "SELECT \
        (SELECT m.role FROM memberships m WHERE m.org_id = $1 AND m.user_id = $2) AS org_role, \
        (SELECT o.base_permission FROM accounts o WHERE o.id = $1 AND o.kind = 'organization') \
        AS base_permission, \
        (SELECT c.role FROM collaborators c WHERE c.repo_id = $3 AND c.user_id = $2) \
        AS collaborator, \
        CASE WHEN CAST($4 AS BIGINT) IS NULL THEN FALSE ELSE EXISTS (SELECT 1 FROM memberships em \
        JOIN accounts eo ON eo.id = em.org_id WHERE em.user_id = $2 AND eo.enterprise_id = $4) \
        END AS enterprise_member";
    IS_ENTERPRISE_MEMBER = "SELECT EXISTS (SELECT 1 FROM memberships m JOIN accounts o ON o.id = \
        m.org_id WHERE m.user_id = $1 AND o.enterprise_id = $2)";
    REPO_FOR_UPSERT = concat!(
        "SELECT id, name, visibility, description FROM repositories WHERE owner_id = $1 AND \
         name_lower = $2",
        for_update!(),
    );
    INSERT_REPO = "INSERT INTO repositories (owner_id, name, name_lower, visibility, description, \
        created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (owner_id, name_lower) DO NOTHING \
        RETURNING id";
    UPDATE_REPO = "UPDATE repositories SET name = $1, visibility = $2, description = $3 WHERE id \
        = $4";
    REPO_BY_NAME = concat!(
        "SELECT ",
        repo_cols!(),
        " FROM repositories r JOIN accounts a ON a.id = r.owner_id WHERE a.login_lower = $1 AND \
         r.name_lower = $2",
    );
    REPOS_OF_OWNER = concat!(
        "SELECT ",
        repo_cols!(),
        " FROM repositories r JOIN accounts a ON a.id = r.owner_id WHERE r.owner_id = $1 ORDER BY \
         r.name_lower",
    );
    REPOS_BY_IDS = concat!(
        "SELECT ",
        repo_cols!(),
        " FROM repositories r JOIN accounts a ON a.id = r.owner_id WHERE r.id ",
        in_ids!("$1"),
        " ORDER BY r.id",
    );
    COLLABORATOR_FOR_UPSERT = concat!(
        "SELECT role FROM collaborators WHERE repo_id = $1 AND user_id = $2",
        for_update!(),
    );
    UPDATE_COLLABORATOR = "UPDATE collaborators SET role = $1 WHERE repo_id = $2 AND user_id = $3";
    INSERT_COLLABORATOR = "INSERT INTO collaborators (repo_id, user_id, role) VALUES ($1, $2, $3) \
        ON CONFLICT (repo_id, user_id) DO NOTHING";
    DELETE_COLLABORATOR = "DELETE FROM collaborators WHERE repo_id = $1 AND user_id = $2";
    COLLABORATOR = "SELECT role FROM collaborators WHERE repo_id = $1 AND user_id = $2";
}

/// How many times an upsert reads again after losing an insert race (once is enough unless
/// the winner's row is deleted meanwhile).
const RACE_RETRIES: usize = 3;

fn lost_races(what: &str) -> StoreError {
    StoreError::Unavailable(format!("{what} kept changing concurrently; try again"))
}

// ---------------------------------------------------------------------------------------------
// Shared reads (on a reader connection or inside a write transaction)
// ---------------------------------------------------------------------------------------------

async fn account_by_id(conn: &mut Conn, id: i64) -> StoreResult<Option<AccountRow>> {
    sqlx::query_as(ACCOUNT_BY_ID)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)
}

async fn account_by_login(conn: &mut Conn, login: &str) -> StoreResult<Option<AccountRow>> {
    sqlx::query_as(ACCOUNT_BY_LOGIN)
        .bind(fold(login))
        .fetch_optional(conn)
        .await
        .map_err(db_err)
}

async fn user_row(conn: &mut Conn, id: i64) -> StoreResult<Option<User>> {
    match account_by_id(conn, id).await? {
        Some(row) if row.kind == KIND_USER => row.into_user().map(Some),
        _ => Ok(None),
    }
}

async fn org_row(conn: &mut Conn, id: i64) -> StoreResult<Option<Organization>> {
    match account_by_id(conn, id).await? {
        Some(row) if row.kind == KIND_ORG => row.into_org().map(Some),
        _ => Ok(None),
    }
}

/// The kind of account `id`, `None` when there is none.
async fn account_kind(conn: &mut Conn, id: i64) -> StoreResult<Option<AccountKind>> {
    let kind: Option<String> = sqlx::query_scalar(ACCOUNT_KIND)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    kind.as_deref().map(parse_account_kind).transpose()
}

async fn require_kind(conn: &mut Conn, id: AccountId, kind: AccountKind) -> StoreResult<()> {
    if account_kind(conn, id.0).await? == Some(kind) {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// Locks the account's row for the rest of the transaction; `NotFound` when there is none.
async fn lock_account(conn: &mut Conn, id: AccountId) -> StoreResult<()> {
    let hit: Option<i64> = sqlx::query_scalar(LOCK_ACCOUNT)
        .bind(id.0)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    hit.map(|_| ()).ok_or(StoreError::NotFound)
}

async fn repo_row(conn: &mut Conn, id: i64) -> StoreResult<Option<Repository>> {
    let row: Option<RepoRow> = sqlx::query_as(REPO_BY_ID)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    row.map(RepoRow::into_repo).transpose()
}

async fn enterprise_policy_row(conn: &mut Conn, id: i64) -> StoreResult<Option<PolicyRow>> {
    sqlx::query_as(ENTERPRISE_POLICY)
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)
}

/// The organization's own settings; `None` when `org` is not an organization.
async fn org_policy_row(conn: &mut Conn, org: i64) -> StoreResult<Option<PolicyRow>> {
    sqlx::query_as(ORG_POLICY)
        .bind(org)
        .fetch_optional(conn)
        .await
        .map_err(db_err)
}

fn bind_days(d: Option<u16>) -> Option<i64> {
    d.map(i64::from)
}

async fn write_org_policy(conn: &mut Conn, org: AccountId, p: &PolicySettings) -> StoreResult<()> {
    sqlx::query(WRITE_ORG_POLICY)
        .bind(org.0)
        .bind(p.fine_grained.map(|a| a.as_str()))
        .bind(p.classic.map(|a| a.as_str()))
        .bind(p.approval.map(|a| a.as_str()))
        .bind(bind_days(p.fine_grained_max_lifetime_days))
        .bind(bind_days(p.classic_max_lifetime_days))
        .bind(p.exempt_administrators)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn write_enterprise_policy(
    conn: &mut Conn,
    id: i64,
    slug: &str,
    p: &PolicySettings,
) -> StoreResult<u64> {
    let done = sqlx::query(WRITE_ENTERPRISE)
        .bind(slug)
        .bind(p.fine_grained.map(|a| a.as_str()))
        .bind(p.classic.map(|a| a.as_str()))
        .bind(p.approval.map(|a| a.as_str()))
        .bind(bind_days(p.fine_grained_max_lifetime_days))
        .bind(bind_days(p.classic_max_lifetime_days))
        .bind(p.exempt_administrators)
        .bind(id)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected())
}

// The file is reached through `#[path]` from each backend, so its own module's path is spelled
// out.
#[path = "directory/in_tx.rs"]
mod in_tx;

pub(super) use in_tx::{upsert_user_in, upsert_org_in, upsert_membership_in, upsert_repo_in, upsert_collaborator_in, set_enterprise_owner_in, end_sessions_in, remove_membership_in, remove_collaborator_in, enterprise_id_in, create_enterprise_in};

#[derive(sqlx::FromRow)]
struct MemberRow {
    #[sqlx(flatten)]
    account: AccountRow,
    role: String,
}

#[derive(sqlx::FromRow)]
struct EnterpriseRow {
    id: i64,
    slug: String,
    #[sqlx(flatten)]
    policy: PolicyRow,
}

#[async_trait]
impl DirectoryStore for EngineStore {
    async fn upsert_user(
        &self,
        user: &NewUser,
        now: OffsetDateTime,
    ) -> StoreResult<(User, Upserted)> {
        let mut tx = self.write_tx().await?;
        let (id, outcome) = upsert_user_in(&mut tx, user, now).await?;
        let stored = user_row(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        if outcome != Upserted::Unchanged {
            self.notify_directory(&mut tx).await?;
        }
        commit(tx).await?;
        Ok((stored, outcome))
    }

    async fn user_by_id(&self, id: AccountId) -> StoreResult<Option<User>> {
        let mut conn = self.read_conn().await?;
        user_row(&mut conn, id.0).await
    }

    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>> {
        let mut conn = self.read_conn().await?;
        match account_by_login(&mut conn, login).await? {
            Some(row) if row.kind == KIND_USER => row.into_user().map(Some),
            _ => Ok(None),
        }
    }

    async fn user_password_hash(&self, id: AccountId) -> StoreResult<Option<String>> {
        let hash: Option<Option<String>> = sqlx::query_scalar(PASSWORD_HASH)
            .bind(id.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        Ok(hash.flatten())
    }

    async fn set_user_password_hash(&self, id: AccountId, hash: &str) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(SET_PASSWORD_HASH)
            .bind(hash)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        // A changed password signs the user out everywhere.
        sqlx::query(END_SESSIONS_OF_USER)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        self.notify_directory(&mut tx).await?;
        commit(tx).await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows: Vec<AccountRow> = sqlx::query_as(USERS)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(AccountRow::into_user).collect()
    }

    async fn accounts_by_ids(&self, ids: &[AccountId]) -> StoreResult<Vec<Account>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = ids.iter().map(|a| a.0).collect();
        let rows: Vec<AccountRow> = sqlx::query_as(ACCOUNTS_BY_IDS)
            .bind(id_list(&ids))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|row| {
                Ok(match row.into_entity()? {
                    AccountEntity::User(u) => Account::User(u),
                    AccountEntity::Org(o) => Account::Organization(o),
                })
            })
            .collect()
    }

    async fn account_by_login(&self, login: &str) -> StoreResult<Option<Account>> {
        let mut conn = self.read_conn().await?;
        let Some(row) = account_by_login(&mut conn, login).await? else {
            return Ok(None);
        };
        Ok(Some(match row.into_entity()? {
            AccountEntity::User(u) => Account::User(u),
            AccountEntity::Org(o) => Account::Organization(o),
        }))
    }

    async fn upsert_enterprise(
        &self,
        slug: &str,
        policy: &PolicySettings,
    ) -> StoreResult<(Enterprise, Upserted)> {
        let mut tx = self.write_tx().await?;
        let mut attempt = 0;
        let (id, outcome) = loop {
            attempt += 1;
            if attempt > RACE_RETRIES {
                return Err(lost_races(slug));
            }
            let existing: Option<EnterpriseRow> = sqlx::query_as(ENTERPRISE_FOR_UPSERT)
                .bind(fold(slug))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            match existing {
                None => {
                    let id: Option<i64> = sqlx::query_scalar(INSERT_ENTERPRISE)
                        .bind(slug)
                        .bind(fold(slug))
                        .bind(policy.fine_grained.map(|a| a.as_str()))
                        .bind(policy.classic.map(|a| a.as_str()))
                        .bind(policy.approval.map(|a| a.as_str()))
                        .bind(bind_days(policy.fine_grained_max_lifetime_days))
                        .bind(bind_days(policy.classic_max_lifetime_days))
                        .bind(policy.exempt_administrators)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if let Some(id) = id {
                        break (id, Upserted::Created);
                    }
                }
                Some(row) => {
                    if row.slug == slug && row.policy.into_settings()? == *policy {
                        break (row.id, Upserted::Unchanged);
                    }
                    write_enterprise_policy(&mut tx, row.id, slug, policy).await?;
                    break (row.id, Upserted::Updated);
                }
            }
        };
        if outcome != Upserted::Unchanged {
            self.notify_directory(&mut tx).await?;
        }
        commit(tx).await?;
        Ok((
            Enterprise {
                id: EnterpriseId(id),
                slug: slug.to_owned(),
            },
            outcome,
        ))
    }

    async fn enterprise_by_id(&self, id: EnterpriseId) -> StoreResult<Option<Enterprise>> {
        let row: Option<(i64, String)> = sqlx::query_as(ENTERPRISE_BY_ID)
            .bind(id.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        Ok(row.map(|(id, slug)| Enterprise {
            id: EnterpriseId(id),
            slug,
        }))
    }

    async fn enterprise_by_slug(&self, slug: &str) -> StoreResult<Option<Enterprise>> {
        let row: Option<(i64, String)> = sqlx::query_as(ENTERPRISE_BY_SLUG)
            .bind(fold(slug))
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        Ok(row.map(|(id, slug)| Enterprise {
            id: EnterpriseId(id),
            slug,
        }))
    }

    async fn enterprise_policy(&self, id: EnterpriseId) -> StoreResult<PolicySettings> {
        let mut conn = self.read_conn().await?;
        enterprise_policy_row(&mut conn, id.0)
            .await?
            .ok_or(StoreError::NotFound)?
            .into_settings()
    }

    async fn set_enterprise_policy(
        &self,
        id: EnterpriseId,
        policy: &PolicySettings,
        audit: &[NewAuditEvent],
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(SET_ENTERPRISE_POLICY)
            .bind(policy.fine_grained.map(|a| a.as_str()))
            .bind(policy.classic.map(|a| a.as_str()))
            .bind(policy.approval.map(|a| a.as_str()))
            .bind(bind_days(policy.fine_grained_max_lifetime_days))
            .bind(bind_days(policy.classic_max_lifetime_days))
            .bind(policy.exempt_administrators)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        for event in audit {
            insert_audit(&mut tx, event, None).await?;
        }
        self.notify_directory(&mut tx).await?;
        commit(tx).await
    }

    async fn set_enterprise_owner(
        &self,
        id: EnterpriseId,
        user: AccountId,
        owner: bool,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let changed = set_enterprise_owner_in(&mut tx, id, user, owner).await?;
        if changed {
            self.notify_directory(&mut tx).await?;
        }
        commit(tx).await?;
        Ok(changed)
    }

    async fn enterprise_owners(&self, id: EnterpriseId) -> StoreResult<Vec<User>> {
        let rows: Vec<AccountRow> = sqlx::query_as(ENTERPRISE_OWNERS)
            .bind(id.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(AccountRow::into_user).collect()
    }

    async fn enterprises_owned_by(&self, user: AccountId) -> StoreResult<Vec<Enterprise>> {
        let rows: Vec<(i64, String)> = sqlx::query_as(ENTERPRISES_OWNED_BY)
            .bind(user.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, slug)| Enterprise {
                id: EnterpriseId(id),
                slug,
            })
            .collect())
    }

    async fn orgs_of_enterprise(&self, id: EnterpriseId) -> StoreResult<Vec<Organization>> {
        let rows: Vec<AccountRow> = sqlx::query_as(ORGS_OF_ENTERPRISE)
            .bind(id.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(AccountRow::into_org).collect()
    }

    async fn upsert_org(
        &self,
        login: &str,
        enterprise: Option<EnterpriseId>,
        base_permission: RepoRole,
        now: OffsetDateTime,
    ) -> StoreResult<(Organization, Upserted)> {
        let mut tx = self.write_tx().await?;
        let (id, outcome) = upsert_org_in(&mut tx, login, enterprise, base_permission, now).await?;
        let org = org_row(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        if outcome != Upserted::Unchanged {
            self.notify_directory(&mut tx).await?;
        }
        commit(tx).await?;
        Ok((org, outcome))
    }

    async fn org_by_id(&self, id: AccountId) -> StoreResult<Option<Organization>> {
        let mut conn = self.read_conn().await?;
        org_row(&mut conn, id.0).await
    }

    async fn org_by_login(&self, login: &str) -> StoreResult<Option<Organization>> {
        let mut conn = self.read_conn().await?;
        match account_by_login(&mut conn, login).await? {
            Some(row) if row.kind == KIND_ORG => row.into_org().map(Some),
            _ => Ok(None),
        }
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        let rows: Vec<AccountRow> = sqlx::query_as(ORGS)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(AccountRow::into_org).collect()
    }

    async fn org_policy(&self, org: AccountId) -> StoreResult<PolicySettings> {
        let mut conn = self.read_conn().await?;
        org_policy_row(&mut conn, org.0)
            .await?
            .ok_or(StoreError::NotFound)?
            .into_settings()
    }

    async fn set_org_policy(
        &self,
        org: AccountId,
        policy: &PolicySettings,
        audit: &[NewAuditEvent],
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        require_kind(&mut tx, org, AccountKind::Organization).await?;
        write_org_policy(&mut tx, org, policy).await?;
        for event in audit {
            insert_audit(&mut tx, event, None).await?;
        }
        self.notify_directory(&mut tx).await?;
        commit(tx).await
    }

    async fn upsert_org_policy(
        &self,
        org: AccountId,
        policy: &PolicySettings,
    ) -> StoreResult<Upserted> {
        let mut tx = self.write_tx().await?;
        // The organization's row is the lock: concurrent policy writes for it queue here.
        lock_account(&mut tx, org).await?;
        let current = org_policy_row(&mut tx, org.0)
            .await?
            .ok_or(StoreError::NotFound)?
            .into_settings()?;
        if current == *policy {
            return Ok(Upserted::Unchanged);
        }
        // No row yet: the organization's first settings.
        let had_row: Option<i64> = sqlx::query_scalar(HAS_ORG_POLICY)
            .bind(org.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        write_org_policy(&mut tx, org, policy).await?;
        self.notify_directory(&mut tx).await?;
        commit(tx).await?;
        Ok(if had_row.is_some() {
            Upserted::Updated
        } else {
            Upserted::Created
        })
    }

    async fn upsert_membership(
        &self,
        org: AccountId,
        user: AccountId,
        role: OrgRole,
    ) -> StoreResult<Upserted> {
        let mut tx = self.write_tx().await?;
        let outcome = upsert_membership_in(&mut tx, org, user, role).await?;
        if outcome == Upserted::Unchanged {
            return Ok(outcome);
        }
        self.notify_directory(&mut tx).await?;
        commit(tx).await?;
        Ok(outcome)
    }

    async fn remove_membership(&self, org: AccountId, user: AccountId) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(DELETE_MEMBERSHIP)
            .bind(org.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let removed = done.rows_affected() > 0;
        if removed {
            self.notify_directory(&mut tx).await?;
        }
        commit(tx).await?;
        Ok(removed)
    }

    async fn membership(&self, org: AccountId, user: AccountId) -> StoreResult<Option<OrgRole>> {
        let role: Option<String> = sqlx::query_scalar(MEMBERSHIP)
            .bind(org.0)
            .bind(user.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        role.as_deref().map(parse_org_role).transpose()
    }

    async fn org_members(&self, org: AccountId) -> StoreResult<Vec<(User, OrgRole)>> {
        let rows: Vec<MemberRow> = sqlx::query_as(MEMBERS)
            .bind(org.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|r| Ok((r.account.into_user()?, parse_org_role(&r.role)?)))
            .collect()
    }

    async fn orgs_of_user(&self, user: AccountId) -> StoreResult<Vec<(Organization, OrgRole)>> {
        let rows: Vec<MemberRow> = sqlx::query_as(ORGS_OF_USER)
            .bind(user.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|r| Ok((r.account.into_org()?, parse_org_role(&r.role)?)))
            .collect()
    }

    async fn is_enterprise_member(
        &self,
        user: AccountId,
        enterprise: EnterpriseId,
    ) -> StoreResult<bool> {
        sqlx::query_scalar(IS_ENTERPRISE_MEMBER)
            .bind(user.0)
            .bind(enterprise.0)
            .fetch_one(self.reads())
            .await
            .map_err(db_err)
    }

    async fn upsert_repo(
        &self,
        owner: AccountId,
        name: &str,
        visibility: Visibility,
        description: Option<&str>,
        now: OffsetDateTime,
    ) -> StoreResult<(Repository, Upserted)> {
        let mut tx = self.write_tx().await?;
        let (id, outcome) = upsert_repo_in(&mut tx, owner, name, visibility, description, now).await?;
        let repo = repo_row(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        if outcome != Upserted::Unchanged {
            self.notify_directory(&mut tx).await?;
        }
        commit(tx).await?;
        Ok((repo, outcome))
    }

    async fn repo_by_id(&self, id: RepoId) -> StoreResult<Option<Repository>> {
        let mut conn = self.read_conn().await?;
        repo_row(&mut conn, id.0).await
    }

    async fn repo_by_name(&self, owner_login: &str, name: &str) -> StoreResult<Option<Repository>> {
        let row: Option<RepoRow> = sqlx::query_as(REPO_BY_NAME)
            .bind(fold(owner_login))
            .bind(fold(name))
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(RepoRow::into_repo).transpose()
    }

    async fn repos_of_owner(&self, owner: AccountId) -> StoreResult<Vec<Repository>> {
        let rows: Vec<RepoRow> = sqlx::query_as(REPOS_OF_OWNER)
            .bind(owner.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(RepoRow::into_repo).collect()
    }

    /// The repositories that exist among `ids`, by id; unknown ids are left out.
    async fn repos_by_ids(&self, ids: &[RepoId]) -> StoreResult<Vec<Repository>> {
        let mut ids: Vec<i64> = ids.iter().map(|r| r.0).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<RepoRow> = sqlx::query_as(REPOS_BY_IDS)
            .bind(id_list(&ids))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(RepoRow::into_repo).collect()
    }

    async fn upsert_collaborator(
        &self,
        repo: RepoId,
        user: AccountId,
        role: RepoRole,
    ) -> StoreResult<Upserted> {
        let mut tx = self.write_tx().await?;
        let outcome = upsert_collaborator_in(&mut tx, repo, user, role).await?;
        if outcome == Upserted::Unchanged {
            return Ok(outcome);
        }
        self.notify_directory(&mut tx).await?;
        commit(tx).await?;
        Ok(outcome)
    }

    async fn remove_collaborator(&self, repo: RepoId, user: AccountId) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(DELETE_COLLABORATOR)
            .bind(repo.0)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let removed = done.rows_affected() > 0;
        if removed {
            self.notify_directory(&mut tx).await?;
        }
        commit(tx).await?;
        Ok(removed)
    }

    async fn collaborator_role(
        &self,
        repo: RepoId,
        user: AccountId,
    ) -> StoreResult<Option<RepoRole>> {
        let role: Option<String> = sqlx::query_scalar(COLLABORATOR)
            .bind(repo.0)
            .bind(user.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        role.as_deref().map(parse_repo_role).transpose()
    }

    async fn repo_standing(
        &self,
        repo: RepoId,
        owner: AccountId,
        user: AccountId,
        enterprise: Option<EnterpriseId>,
    ) -> StoreResult<RepoStanding> {
        let enterprise = enterprise.map(|e| e.0);
        let row: StandingRow = match self.hot_repo_standing(owner.0, user.0, repo.0, enterprise) {
            Some(read) => read?,
            None => {
                let mut conn = self.miss_conn().await?;
                let row = sqlx::query_as(REPO_STANDING)
                    .bind(owner.0)
                    .bind(user.0)
                    .bind(repo.0)
                    .bind(enterprise)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                self.keep_miss_conn(conn);
                row
            }
        };
        let org = match row.org_role {
            Some(role) => {
                let base = row.base_permission.ok_or(StoreError::NotFound)?;
                Some((parse_org_role(&role)?, parse_repo_role(&base)?))
            }
            None => None,
        };
        Ok(RepoStanding {
            org,
            collaborator: row.collaborator.as_deref().map(parse_repo_role).transpose()?,
            enterprise_member: row.enterprise_member,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct StandingRow {
    pub(super) org_role: Option<String>,
    pub(super) base_permission: Option<String>,
    pub(super) collaborator: Option<String>,
    pub(super) enterprise_member: bool,
}
