//! The directory's writes inside a caller's transaction: the trait's methods (`directory.rs`)
//! wrap each in a transaction of its own, and `admin.rs`'s batches run many in one.

use super::*;

/// [`DirectoryStore::upsert_user`] inside a transaction: the user's id and what changed.
pub(in super::super) async fn upsert_user_in(
    tx: &mut Conn,
    user: &NewUser,
    now: OffsetDateTime,
) -> StoreResult<(i64, Upserted)> {
    type Existing = (
        i64,
        String,
        String,
        Option<String>,
        bool,
        bool,
        Option<String>,
    );
    let mut attempt = 0;
    let (id, outcome) = loop {
        attempt += 1;
        if attempt > RACE_RETRIES {
            return Err(lost_races(&user.login));
        }
        let existing: Option<Existing> = sqlx::query_as(USER_FOR_UPSERT)
            .bind(fold(&user.login))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        match existing {
            None => {
                let id: Option<i64> = sqlx::query_scalar(INSERT_USER)
                    .bind(&user.login)
                    .bind(fold(&user.login))
                    .bind(to_unix(now))
                    .bind(&user.email)
                    .bind(user.email_verified)
                    .bind(user.site_admin)
                    .bind(user.password_hash.as_deref())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if let Some(id) = id {
                    break (id, Upserted::Created);
                }
            }
            Some((_, kind, ..)) if kind != KIND_USER => {
                return Err(StoreError::Conflict(format!(
                    "{} is an organization",
                    user.login
                )));
            }
            Some((id, _, login, email, verified, admin, hash)) => {
                let same = login == user.login
                    && email.as_deref() == Some(user.email.as_str())
                    && verified == user.email_verified
                    && admin == user.site_admin
                    && (user.password_hash.is_none() || user.password_hash == hash);
                if same {
                    break (id, Upserted::Unchanged);
                }
                sqlx::query(UPDATE_USER)
                    .bind(&user.login)
                    .bind(&user.email)
                    .bind(user.email_verified)
                    .bind(user.site_admin)
                    .bind(user.password_hash.as_deref())
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                break (id, Upserted::Updated);
            }
        }
    };
    Ok((id, outcome))
}

/// [`DirectoryStore::upsert_org`] inside a transaction.
pub(in super::super) async fn upsert_org_in(
    tx: &mut Conn,
    login: &str,
    enterprise: Option<EnterpriseId>,
    base_permission: RepoRole,
    now: OffsetDateTime,
) -> StoreResult<(i64, Upserted)> {
    let mut attempt = 0;
    let (id, outcome) = loop {
        attempt += 1;
        if attempt > RACE_RETRIES {
            return Err(lost_races(login));
        }
        let existing: Option<AccountRow> = sqlx::query_as(ACCOUNT_FOR_UPSERT)
            .bind(fold(login))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        match existing {
            None => {
                let id: Option<i64> = sqlx::query_scalar(INSERT_ORG)
                    .bind(login)
                    .bind(fold(login))
                    .bind(to_unix(now))
                    .bind(enterprise.map(|e| e.0))
                    .bind(base_permission.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if let Some(id) = id {
                    break (id, Upserted::Created);
                }
            }
            Some(row) if row.kind != KIND_ORG => {
                return Err(StoreError::Conflict(format!("{login} is a user")));
            }
            Some(row) => {
                let id = row.id;
                let org = row.into_org()?;
                if org.login == login
                    && org.enterprise == enterprise
                    && org.base_permission == base_permission
                {
                    break (id, Upserted::Unchanged);
                }
                sqlx::query(UPDATE_ORG)
                    .bind(login)
                    .bind(enterprise.map(|e| e.0))
                    .bind(base_permission.as_str())
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                break (id, Upserted::Updated);
            }
        }
    };
    Ok((id, outcome))
}

/// [`DirectoryStore::upsert_membership`] inside a transaction.
pub(in super::super) async fn upsert_membership_in(
    tx: &mut Conn,
    org: AccountId,
    user: AccountId,
    role: OrgRole,
) -> StoreResult<Upserted> {
    require_kind(&mut *tx, org, AccountKind::Organization).await?;
    require_kind(&mut *tx, user, AccountKind::User).await?;
    upsert_role_in(
        tx,
        &MEMBERSHIP_ROLE,
        (org.0, user.0),
        role.as_str(),
        |r| Ok(parse_org_role(r)? == role),
    )
    .await
}

/// [`DirectoryStore::upsert_repo`] inside a transaction.
pub(in super::super) async fn upsert_repo_in(
    tx: &mut Conn,
    owner: AccountId,
    name: &str,
    visibility: Visibility,
    description: Option<&str>,
    now: OffsetDateTime,
) -> StoreResult<(i64, Upserted)> {
    if account_kind(&mut *tx, owner.0).await?.is_none() {
        return Err(StoreError::NotFound);
    }
    let mut attempt = 0;
    let (id, outcome) = loop {
        attempt += 1;
        if attempt > RACE_RETRIES {
            return Err(lost_races(name));
        }
        let existing: Option<(i64, String, String, Option<String>)> =
            sqlx::query_as(REPO_FOR_UPSERT)
                .bind(owner.0)
                .bind(fold(name))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        match existing {
            None => {
                let id: Option<i64> = sqlx::query_scalar(INSERT_REPO)
                    .bind(owner.0)
                    .bind(name)
                    .bind(fold(name))
                    .bind(visibility.as_str())
                    .bind(description)
                    .bind(to_unix(now))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if let Some(id) = id {
                    break (id, Upserted::Created);
                }
            }
            Some((id, stored_name, stored_visibility, stored_description)) => {
                if stored_name == name
                    && stored_visibility == visibility.as_str()
                    && stored_description.as_deref() == description
                {
                    break (id, Upserted::Unchanged);
                }
                sqlx::query(UPDATE_REPO)
                    .bind(name)
                    .bind(visibility.as_str())
                    .bind(description)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                break (id, Upserted::Updated);
            }
        }
    };
    Ok((id, outcome))
}

/// [`DirectoryStore::upsert_collaborator`] inside a transaction.
pub(in super::super) async fn upsert_collaborator_in(
    tx: &mut Conn,
    repo: RepoId,
    user: AccountId,
    role: RepoRole,
) -> StoreResult<Upserted> {
    require_kind(&mut *tx, user, AccountKind::User).await?;
    if repo_row(&mut *tx, repo.0).await?.is_none() {
        return Err(StoreError::NotFound);
    }
    upsert_role_in(
        tx,
        &COLLABORATOR_ROLE,
        (repo.0, user.0),
        role.as_str(),
        |r| Ok(parse_repo_role(r)? == role),
    )
    .await
}

/// [`DirectoryStore::set_enterprise_owner`] inside a transaction: whether it changed anything.
pub(in super::super) async fn set_enterprise_owner_in(
    tx: &mut Conn,
    id: EnterpriseId,
    user: AccountId,
    owner: bool,
) -> StoreResult<bool> {
    let is_user: Option<i64> = sqlx::query_scalar(IS_USER)
        .bind(user.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    if is_user.is_none() {
        return Err(StoreError::NotFound);
    }
    let done = sqlx::query(if owner {
        ADD_ENTERPRISE_OWNER
    } else {
        REMOVE_ENTERPRISE_OWNER
    })
    .bind(id.0)
    .bind(user.0)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok(done.rows_affected() > 0)
}

/// Ends every web session of the user.
pub(in super::super) async fn end_sessions_in(tx: &mut Conn, user: i64) -> StoreResult<()> {
    sqlx::query(END_SESSIONS_OF_USER)
        .bind(user)
        .execute(tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Removes a membership; whether there was one.
pub(in super::super) async fn remove_membership_in(tx: &mut Conn, org: i64, user: i64) -> StoreResult<bool> {
    let done = sqlx::query(DELETE_MEMBERSHIP)
        .bind(org)
        .bind(user)
        .execute(tx)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected() > 0)
}

/// Removes a collaborator; whether there was one.
pub(in super::super) async fn remove_collaborator_in(tx: &mut Conn, repo: i64, user: i64) -> StoreResult<bool> {
    let done = sqlx::query(DELETE_COLLABORATOR)
        .bind(repo)
        .bind(user)
        .execute(tx)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected() > 0)
}

/// The enterprise's id, by slug (case-insensitively).
pub(in super::super) async fn enterprise_id_in(tx: &mut Conn, slug: &str) -> StoreResult<Option<i64>> {
    let row: Option<(i64, String)> = sqlx::query_as(ENTERPRISE_BY_SLUG)
        .bind(fold(slug))
        .fetch_optional(tx)
        .await
        .map_err(db_err)?;
    Ok(row.map(|(id, _)| id))
}

/// Creates the enterprise, with no policy set, unless it exists.
pub(in super::super) async fn create_enterprise_in(tx: &mut Conn, slug: &str) -> StoreResult<Upserted> {
    if enterprise_id_in(&mut *tx, slug).await?.is_some() {
        return Ok(Upserted::Unchanged);
    }
    let none = PolicySettings::default();
    let id: Option<i64> = sqlx::query_scalar(INSERT_ENTERPRISE)
        .bind(slug)
        .bind(fold(slug))
        .bind(none.fine_grained.map(|a| a.as_str()))
        .bind(none.classic.map(|a| a.as_str()))
        .bind(none.approval.map(|a| a.as_str()))
        .bind(bind_days(none.fine_grained_max_lifetime_days))
        .bind(bind_days(none.classic_max_lifetime_days))
        .bind(none.exempt_administrators)
        .fetch_optional(tx)
        .await
        .map_err(db_err)?;
    // Someone else created it meanwhile: as good.
    Ok(if id.is_some() {
        Upserted::Created
    } else {
        Upserted::Unchanged
    })
}

/// A user's role in something (an organization's membership, a repository's collaborator):
/// the statements of its upsert, each on (the thing's id, the user's id).
struct RoleStatements {
    what: &'static str,
    /// The current role, `FOR UPDATE`.
    read: &'static str,
    /// `$1` the role, `$2` and `$3` the ids.
    update: &'static str,
    /// `$1` and `$2` the ids, `$3` the role; `ON CONFLICT DO NOTHING`.
    insert: &'static str,
}

const MEMBERSHIP_ROLE: RoleStatements = RoleStatements {
    what: "the membership",
    read: MEMBERSHIP_FOR_UPSERT,
    update: UPDATE_MEMBERSHIP,
    insert: INSERT_MEMBERSHIP,
};

const COLLABORATOR_ROLE: RoleStatements = RoleStatements {
    what: "the collaborator",
    read: COLLABORATOR_FOR_UPSERT,
    update: UPDATE_COLLABORATOR,
    insert: INSERT_COLLABORATOR,
};

/// Upserts a role (see the module's note on concurrency): `same` says whether the stored role
/// is `role` already.
async fn upsert_role_in(
    tx: &mut Conn,
    statements: &RoleStatements,
    (scope, user): (i64, i64),
    role: &str,
    same: impl Fn(&str) -> StoreResult<bool>,
) -> StoreResult<Upserted> {
    for _ in 0..RACE_RETRIES {
        let current: Option<String> = sqlx::query_scalar(statements.read)
            .bind(scope)
            .bind(user)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        match current {
            Some(r) if same(&r)? => return Ok(Upserted::Unchanged),
            Some(_) => {
                sqlx::query(statements.update)
                    .bind(role)
                    .bind(scope)
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                return Ok(Upserted::Updated);
            }
            None => {
                let done = sqlx::query(statements.insert)
                    .bind(scope)
                    .bind(user)
                    .bind(role)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 1 {
                    return Ok(Upserted::Created);
                }
            }
        }
    }
    Err(lost_races(statements.what))
}
