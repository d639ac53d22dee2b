//! Row shapes and their conversion to domain types (column text -> enums goes through the
//! domain's `parse`, and a value it does not know is `StoreError::Corrupt`).

use patgate_domain::model::{
    AccountId, AccountKind, EnterpriseId, Key, KeyId, Organization, RepoId, Repository, TokenId,
    User, Visibility,
};
use patgate_domain::policy::{Access, Approval, PolicySettings};
use patgate_store::StoreError;
use patgate_store::codec::from_unix;

pub(crate) use patgate_store::codec::{
    KIND_ORG, KIND_USER, account_kind_str, corrupt, fold, parse_account_kind, parse_org_role,
    parse_repo_role,
};

/// The repository ids of a `string_agg(CAST(repo_id AS TEXT), ',' ORDER BY repo_id)` column
/// (`1,5,9`; NULL when there are none) of the `what` with id `id`.
pub(crate) fn repo_ids(list: Option<&str>, what: &str, id: i64) -> Result<Vec<RepoId>, StoreError> {
    list.unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<i64>().map(RepoId))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Corrupt(format!("{what} {id} repositories: {e}")))
}

/// Columns of `accounts` (aliased `a`) read by [`AccountRow`].
macro_rules! account_cols {
    () => {
        "a.id AS id, a.kind AS kind, a.login AS login, a.created_at AS created_at, \
         a.email AS email, a.email_verified AS email_verified, a.site_admin AS site_admin, \
         a.enterprise_id AS enterprise_id, a.base_permission AS base_permission"
    };
}
pub(crate) use account_cols;

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    pub id: i64,
    pub kind: String,
    pub login: String,
    pub created_at: i64,
    pub email: Option<String>,
    pub email_verified: bool,
    pub site_admin: bool,
    pub enterprise_id: Option<i64>,
    pub base_permission: Option<String>,
}

/// A decoded account row.
pub(crate) enum AccountEntity {
    User(User),
    Org(Organization),
}

impl AccountRow {
    pub fn into_entity(self) -> Result<AccountEntity, StoreError> {
        match parse_account_kind(&self.kind)? {
            AccountKind::User => self.into_user().map(AccountEntity::User),
            AccountKind::Organization => self.into_org().map(AccountEntity::Org),
        }
    }

    pub fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            id: AccountId(self.id),
            email: self
                .email
                .ok_or_else(|| StoreError::Corrupt(format!("user {} has no email", self.id)))?,
            login: self.login,
            email_verified: self.email_verified,
            site_admin: self.site_admin,
            created_at: from_unix(self.created_at)?,
        })
    }

    pub fn into_org(self) -> Result<Organization, StoreError> {
        let base = self.base_permission.as_deref().ok_or_else(|| {
            StoreError::Corrupt(format!("organization {} has no base permission", self.id))
        })?;
        Ok(Organization {
            id: AccountId(self.id),
            base_permission: parse_repo_role(base)?,
            login: self.login,
            enterprise: self.enterprise_id.map(EnterpriseId),
            created_at: from_unix(self.created_at)?,
        })
    }
}

/// Policy columns, the same in `enterprises` and `org_policies`.
#[derive(sqlx::FromRow, Default)]
pub(crate) struct PolicyRow {
    pub fine_grained: Option<String>,
    pub classic: Option<String>,
    pub approval: Option<String>,
    pub fine_grained_max_lifetime_days: Option<i64>,
    pub classic_max_lifetime_days: Option<i64>,
    pub exempt_administrators: bool,
}

fn days(v: Option<i64>) -> Result<Option<u16>, StoreError> {
    v.map(|d| u16::try_from(d).map_err(|_| StoreError::Corrupt(format!("lifetime {d} days"))))
        .transpose()
}

impl PolicyRow {
    pub fn into_settings(self) -> Result<PolicySettings, StoreError> {
        let access = |v: Option<String>| {
            v.map(|s| Access::parse(&s).ok_or_else(|| corrupt("access setting", &s)))
                .transpose()
        };
        Ok(PolicySettings {
            fine_grained: access(self.fine_grained)?,
            classic: access(self.classic)?,
            approval: self
                .approval
                .map(|s| Approval::parse(&s).ok_or_else(|| corrupt("approval setting", &s)))
                .transpose()?,
            fine_grained_max_lifetime_days: days(self.fine_grained_max_lifetime_days)?,
            classic_max_lifetime_days: days(self.classic_max_lifetime_days)?,
            exempt_administrators: self.exempt_administrators,
        })
    }
}

/// Columns of a repository joined with its owner (`r` and `a`).
macro_rules! repo_cols {
    () => {
        "r.id AS id, r.owner_id AS owner_id, a.login AS owner_login, a.kind AS owner_kind, \
         r.name AS name, r.visibility AS visibility, r.description AS description, \
         r.created_at AS created_at"
    };
}
pub(crate) use repo_cols;

#[derive(sqlx::FromRow)]
pub(crate) struct RepoRow {
    pub id: i64,
    pub owner_id: i64,
    pub owner_login: String,
    pub owner_kind: String,
    pub name: String,
    pub visibility: String,
    pub description: Option<String>,
    pub created_at: i64,
}

impl RepoRow {
    pub fn into_repo(self) -> Result<Repository, StoreError> {
        Ok(Repository {
            id: RepoId(self.id),
            owner: AccountId(self.owner_id),
            owner_login: self.owner_login,
            owner_kind: parse_account_kind(&self.owner_kind)?,
            visibility: Visibility::parse(&self.visibility)
                .ok_or_else(|| corrupt("visibility", &self.visibility))?,
            name: self.name,
            description: self.description,
            created_at: from_unix(self.created_at)?,
        })
    }
}

macro_rules! key_cols {
    () => {
        "id, title, public_key, repo_id, user_id, read_only, created_by_token, created_at"
    };
}
pub(crate) use key_cols;

#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub id: i64,
    pub title: String,
    pub public_key: String,
    pub repo_id: Option<i64>,
    pub user_id: i64,
    pub read_only: bool,
    pub created_by_token: Option<i64>,
    pub created_at: i64,
}

impl KeyRow {
    pub fn into_key(self) -> Result<Key, StoreError> {
        Ok(Key {
            id: KeyId(self.id),
            title: self.title,
            key: self.public_key,
            repo: self.repo_id.map(RepoId),
            user: AccountId(self.user_id),
            read_only: self.read_only,
            created_by_token: self.created_by_token.map(TokenId),
            created_at: from_unix(self.created_at)?,
        })
    }
}
