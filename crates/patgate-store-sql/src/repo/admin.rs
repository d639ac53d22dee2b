//! `DirectoryAdmin`: the operator's changes to the directory (the directory API, its sync and
//! the CLI), a batch of them in one transaction with the token changes that go with them.
//!
//! Each change names what it touches by login and name and resolves it inside the
//! transaction, locking the rows it reads (`for_update!()`), so that a batch may refer to what
//! an earlier change of it creates, and concurrent replicas queue rather than interleave. The
//! first change that cannot apply (a missing name, a taken one) refuses the whole batch.
//!
//! Notifications: `directory` when anything changed; `everything` when a change removes or
//! moves what tokens hold (a user or a repository deleted, a repository transferred), since the
//! tokens it affects are not named one by one.

use async_trait::async_trait;
use time::OffsetDateTime;

use patgate_domain::catalog::RepoRole;
use patgate_domain::model::{AccountId, EnterpriseId, RepoId, User, Visibility};
use patgate_store::codec::{from_unix, to_unix};
use patgate_store::{
    DirectoryAdmin, DirectoryBatch, DirectoryChange, NewAuditEvent, OpOutcome, StoreError,
    StoreResult, Upserted,
};

use super::audit::insert_audit;
use super::changes::apply_in;
use super::directory::{
    create_enterprise_in, end_sessions_in, enterprise_id_in, remove_collaborator_in,
    remove_membership_in, set_enterprise_owner_in, upsert_collaborator_in, upsert_membership_in,
    upsert_org_in, upsert_repo_in, upsert_user_in,
};
use super::rows::{AccountRow, KIND_ORG, KIND_USER, account_cols, fold, parse_repo_role};
use super::{Conn, EngineStore, commit, db_err};

statements! {
    LOCK_ACCOUNT_BY_LOGIN = concat!(
        "SELECT id, kind, login, enterprise_id FROM accounts WHERE login_lower = $1",
        for_update!(),
    );
    RENAME_ACCOUNT = "UPDATE accounts SET login = $1, login_lower = $2 WHERE id = $3";
    SUSPENDED_AT = "SELECT suspended_at FROM user_suspensions WHERE user_id = $1";
    SUSPEND = "INSERT INTO user_suspensions (user_id, suspended_at) VALUES ($1, $2) \
        ON CONFLICT (user_id) DO NOTHING";
    UNSUSPEND = "DELETE FROM user_suspensions WHERE user_id = $1";
    DELETE_ACCOUNT = "DELETE FROM accounts WHERE id = $1";
    SET_ORG_ENTERPRISE = "UPDATE accounts SET enterprise_id = $1 WHERE id = $2";
    INTERNAL_TO_PRIVATE = "UPDATE repositories SET visibility = 'private' WHERE owner_id = $1 \
        AND visibility = 'internal'";
    LOCK_REPO_BY_NAME = concat!(
        "SELECT r.id, r.name, r.visibility, r.description FROM repositories r \
         JOIN accounts a ON a.id = r.owner_id WHERE a.login_lower = $1 AND r.name_lower = $2",
        for_update!(),
    );
    REPO_NAME_TAKEN = "SELECT id FROM repositories WHERE owner_id = $1 AND name_lower = $2 \
        AND id <> $3";
    UPDATE_REPO_FULLY = "UPDATE repositories SET name = $1, name_lower = $2, visibility = $3, \
        description = $4 WHERE id = $5";
    MOVE_REPO = "UPDATE repositories SET owner_id = $1, name = $2, name_lower = $3, \
        visibility = $4 WHERE id = $5";
    SEVER_TOKEN_REPOSITORIES = "DELETE FROM token_repositories WHERE repo_id = $1";
    DELETE_REPO = "DELETE FROM repositories WHERE id = $1";
    HEARTBEAT = "INSERT INTO replicas (id, heartbeat_at) VALUES ($1, $2) ON CONFLICT (id) \
        DO UPDATE SET heartbeat_at = $2";
    LEAVE = "DELETE FROM replicas WHERE id = $1";
    LIVE_REPLICAS = "SELECT id FROM replicas WHERE heartbeat_at >= $1 ORDER BY id";
    COLLABORATORS = concat!(
        "SELECT ",
        account_cols!(),
        ", c.role AS role FROM collaborators c JOIN accounts a ON a.id = c.user_id \
         WHERE c.repo_id = $1 ORDER BY a.login_lower",
    );
}

/// An account found by login, its row locked.
struct Locked {
    id: i64,
    kind: String,
    login: String,
    enterprise: Option<i64>,
}

async fn lock_account(conn: &mut Conn, login: &str) -> StoreResult<Option<Locked>> {
    let row: Option<(i64, String, String, Option<i64>)> = sqlx::query_as(LOCK_ACCOUNT_BY_LOGIN)
        .bind(fold(login))
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    Ok(row.map(|(id, kind, login, enterprise)| Locked {
        id,
        kind,
        login,
        enterprise,
    }))
}

fn missing(what: &str, name: &str) -> StoreError {
    StoreError::Missing(format!("{what} {name}"))
}

async fn user(conn: &mut Conn, login: &str) -> StoreResult<Locked> {
    match lock_account(conn, login).await? {
        Some(a) if a.kind == KIND_USER => Ok(a),
        _ => Err(missing("user", login)),
    }
}

async fn org(conn: &mut Conn, login: &str) -> StoreResult<Locked> {
    match lock_account(conn, login).await? {
        Some(a) if a.kind == KIND_ORG => Ok(a),
        _ => Err(missing("organization", login)),
    }
}

async fn owner(conn: &mut Conn, login: &str) -> StoreResult<Locked> {
    lock_account(conn, login)
        .await?
        .ok_or_else(|| missing("user or organization", login))
}

async fn enterprise(conn: &mut Conn, slug: &str) -> StoreResult<i64> {
    enterprise_id_in(conn, slug)
        .await?
        .ok_or_else(|| missing("enterprise", slug))
}

/// A repository found by owner and name, its row locked.
struct LockedRepo {
    id: i64,
    name: String,
    visibility: String,
    description: Option<String>,
}

async fn lock_repo(conn: &mut Conn, owner: &str, name: &str) -> StoreResult<Option<LockedRepo>> {
    let row: Option<(i64, String, String, Option<String>)> = sqlx::query_as(LOCK_REPO_BY_NAME)
        .bind(fold(owner))
        .bind(fold(name))
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    Ok(row.map(|(id, name, visibility, description)| LockedRepo {
        id,
        name,
        visibility,
        description,
    }))
}

async fn repo(conn: &mut Conn, owner: &str, name: &str) -> StoreResult<LockedRepo> {
    lock_repo(conn, owner, name)
        .await?
        .ok_or_else(|| missing("repository", &format!("{owner}/{name}")))
}

async fn name_taken(conn: &mut Conn, owner: i64, name: &str, except: i64) -> StoreResult<bool> {
    let hit: Option<i64> = sqlx::query_scalar(REPO_NAME_TAKEN)
        .bind(owner)
        .bind(fold(name))
        .bind(except)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    Ok(hit.is_some())
}

/// What one change did, and the organization it concerns (for its audit event).
struct Done {
    outcome: OpOutcome,
    org: Option<i64>,
    /// It removed or moved what tokens hold.
    tokens_affected: bool,
}

impl Done {
    fn of(outcome: impl Into<OpOutcome>) -> Done {
        Done {
            outcome: outcome.into(),
            org: None,
            tokens_affected: false,
        }
    }
    fn in_org(mut self, org: Option<i64>) -> Done {
        self.org = org;
        self
    }
}

fn org_of(owner: &Locked) -> Option<i64> {
    (owner.kind == KIND_ORG).then_some(owner.id)
}

/// An organization's enterprise changes: internal repositories exist only inside an
/// enterprise, so leaving one (or moving to another) makes them private.
async fn enterprise_changed(conn: &mut Conn, org: i64, from: Option<i64>) -> StoreResult<()> {
    if from.is_some() {
        sqlx::query(INTERNAL_TO_PRIVATE)
            .bind(org)
            .execute(conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

async fn apply_change(
    conn: &mut Conn,
    change: &DirectoryChange,
    now: OffsetDateTime,
) -> StoreResult<Done> {
    Ok(match change {
        DirectoryChange::UpsertUser(u) => Done::of(upsert_user_in(conn, u, now).await?.1),
        DirectoryChange::CreateUser(u) => {
            if lock_account(&mut *conn, &u.login).await?.is_some() {
                return Err(StoreError::UniqueViolation(format!("login {}", u.login)));
            }
            Done::of(upsert_user_in(conn, u, now).await?.1)
        }
        DirectoryChange::RenameAccount { login, new_login } => {
            let account = lock_account(&mut *conn, login)
                .await?
                .ok_or_else(|| missing("user or organization", login))?;
            if account.login == *new_login {
                return Ok(Done::of(Upserted::Unchanged));
            }
            if fold(new_login) != fold(login) && lock_account(&mut *conn, new_login).await?.is_some()
            {
                return Err(StoreError::UniqueViolation(format!("login {new_login}")));
            }
            sqlx::query(RENAME_ACCOUNT)
                .bind(new_login)
                .bind(fold(new_login))
                .bind(account.id)
                .execute(conn)
                .await
                .map_err(db_err)?;
            Done::of(Upserted::Updated).in_org(org_of(&account))
        }
        DirectoryChange::SetSuspended {
            login,
            suspended_at,
        } => {
            let u = user(&mut *conn, login).await?;
            let changed = match suspended_at {
                Some(at) => {
                    let done = sqlx::query(SUSPEND)
                        .bind(u.id)
                        .bind(to_unix(*at))
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                    // A suspended user is signed out everywhere.
                    end_sessions_in(&mut *conn, u.id).await?;
                    done.rows_affected() > 0
                }
                None => {
                    let done = sqlx::query(UNSUSPEND)
                        .bind(u.id)
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                    done.rows_affected() > 0
                }
            };
            Done::of(if changed {
                Upserted::Updated
            } else {
                Upserted::Unchanged
            })
        }
        DirectoryChange::DeleteUser { login } => match lock_account(&mut *conn, login).await? {
            Some(u) if u.kind == KIND_USER => {
                sqlx::query(DELETE_ACCOUNT)
                    .bind(u.id)
                    .execute(conn)
                    .await
                    .map_err(db_err)?;
                Done {
                    outcome: OpOutcome::Removed,
                    org: None,
                    tokens_affected: true,
                }
            }
            _ => Done::of(OpOutcome::Absent),
        },
        DirectoryChange::UpsertEnterprise { slug } => {
            Done::of(create_enterprise_in(conn, slug).await?)
        }
        DirectoryChange::UpsertOrg {
            login,
            enterprise: slug,
            base_permission,
        } => {
            let target = match slug {
                Some(slug) => Some(enterprise(&mut *conn, slug).await?),
                None => None,
            };
            let before = lock_account(&mut *conn, login).await?;
            let (id, outcome) = upsert_org_in(
                &mut *conn,
                login,
                target.map(EnterpriseId),
                *base_permission,
                now,
            )
            .await?;
            if let Some(before) = before
                && before.enterprise != target
            {
                enterprise_changed(conn, id, before.enterprise).await?;
            }
            Done::of(outcome).in_org(Some(id))
        }
        DirectoryChange::CreateOrg {
            login,
            base_permission,
        } => {
            if lock_account(&mut *conn, login).await?.is_some() {
                return Err(StoreError::UniqueViolation(format!("login {login}")));
            }
            let (id, outcome) = upsert_org_in(conn, login, None, *base_permission, now).await?;
            Done::of(outcome).in_org(Some(id))
        }
        DirectoryChange::SetOrgEnterprise {
            org: login,
            enterprise: slug,
        } => {
            let o = org(&mut *conn, login).await?;
            let target = match slug {
                Some(slug) => Some(enterprise(&mut *conn, slug).await?),
                None => None,
            };
            if o.enterprise == target {
                return Ok(Done::of(Upserted::Unchanged).in_org(Some(o.id)));
            }
            sqlx::query(SET_ORG_ENTERPRISE)
                .bind(target)
                .bind(o.id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            enterprise_changed(conn, o.id, o.enterprise).await?;
            Done::of(Upserted::Updated).in_org(Some(o.id))
        }
        DirectoryChange::SetMembership {
            org: org_login,
            user: login,
            role,
        } => {
            let o = org(&mut *conn, org_login).await?;
            let u = user(&mut *conn, login).await?;
            let outcome = upsert_membership_in(conn, AccountId(o.id), AccountId(u.id), *role).await?;
            Done::of(outcome).in_org(Some(o.id))
        }
        DirectoryChange::RemoveMembership {
            org: org_login,
            user: login,
        } => {
            let o = org(&mut *conn, org_login).await?;
            let u = user(&mut *conn, login).await?;
            let removed = remove_membership_in(conn, o.id, u.id).await?;
            Done::of(if removed {
                OpOutcome::Removed
            } else {
                OpOutcome::Absent
            })
            .in_org(Some(o.id))
        }
        DirectoryChange::UpsertRepo {
            owner: owner_login,
            name,
            visibility,
            description,
        } => {
            let o = owner(&mut *conn, owner_login).await?;
            let (_, outcome) = upsert_repo_in(
                conn,
                AccountId(o.id),
                name,
                *visibility,
                description.as_deref(),
                now,
            )
            .await?;
            Done::of(outcome).in_org(org_of(&o))
        }
        DirectoryChange::CreateRepo {
            owner: owner_login,
            name,
            visibility,
            description,
        } => {
            let o = owner(&mut *conn, owner_login).await?;
            if lock_repo(&mut *conn, owner_login, name).await?.is_some() {
                return Err(StoreError::UniqueViolation(format!(
                    "repository {owner_login}/{name}"
                )));
            }
            let (_, outcome) = upsert_repo_in(
                conn,
                AccountId(o.id),
                name,
                *visibility,
                description.as_deref(),
                now,
            )
            .await?;
            Done::of(outcome).in_org(org_of(&o))
        }
        DirectoryChange::UpdateRepo {
            owner: owner_login,
            name,
            new_name,
            visibility,
            description,
        } => {
            let o = owner(&mut *conn, owner_login).await?;
            let r = repo(&mut *conn, owner_login, name).await?;
            let next_name = new_name.clone().unwrap_or_else(|| r.name.clone());
            let next_visibility = visibility
                .map(|v| v.as_str().to_owned())
                .unwrap_or_else(|| r.visibility.clone());
            let next_description = description.clone().unwrap_or_else(|| r.description.clone());
            if next_name == r.name
                && next_visibility == r.visibility
                && next_description == r.description
            {
                return Ok(Done::of(Upserted::Unchanged).in_org(org_of(&o)));
            }
            if name_taken(&mut *conn, o.id, &next_name, r.id).await? {
                return Err(StoreError::UniqueViolation(format!(
                    "repository {owner_login}/{next_name}"
                )));
            }
            sqlx::query(UPDATE_REPO_FULLY)
                .bind(&next_name)
                .bind(fold(&next_name))
                .bind(&next_visibility)
                .bind(next_description.as_deref())
                .bind(r.id)
                .execute(conn)
                .await
                .map_err(db_err)?;
            Done::of(Upserted::Updated).in_org(org_of(&o))
        }
        DirectoryChange::TransferRepo {
            owner: owner_login,
            name,
            new_owner,
            new_name,
        } => {
            let from = owner(&mut *conn, owner_login).await?;
            let r = repo(&mut *conn, owner_login, name).await?;
            let to = owner(&mut *conn, new_owner).await?;
            let next_name = new_name.clone().unwrap_or_else(|| r.name.clone());
            if to.id == from.id && next_name == r.name {
                return Ok(Done::of(Upserted::Unchanged).in_org(org_of(&from)));
            }
            if name_taken(&mut *conn, to.id, &next_name, r.id).await? {
                return Err(StoreError::UniqueViolation(format!(
                    "repository {new_owner}/{next_name}"
                )));
            }
            // Internal repositories exist only inside the new owner's enterprise.
            let visibility = if r.visibility == Visibility::Internal.as_str()
                && (to.enterprise.is_none() || to.enterprise != from.enterprise)
            {
                Visibility::Private.as_str().to_owned()
            } else {
                r.visibility.clone()
            };
            sqlx::query(MOVE_REPO)
                .bind(to.id)
                .bind(&next_name)
                .bind(fold(&next_name))
                .bind(&visibility)
                .bind(r.id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            // A grant never follows a repository to another owner.
            if to.id != from.id {
                sqlx::query(SEVER_TOKEN_REPOSITORIES)
                    .bind(r.id)
                    .execute(conn)
                    .await
                    .map_err(db_err)?;
            }
            Done {
                outcome: OpOutcome::Updated,
                org: org_of(&from).or(org_of(&to)),
                tokens_affected: true,
            }
        }
        DirectoryChange::DeleteRepo {
            owner: owner_login,
            name,
        } => {
            let o = owner(&mut *conn, owner_login).await?;
            match lock_repo(&mut *conn, owner_login, name).await? {
                Some(r) => {
                    sqlx::query(DELETE_REPO)
                        .bind(r.id)
                        .execute(conn)
                        .await
                        .map_err(db_err)?;
                    Done {
                        outcome: OpOutcome::Removed,
                        org: org_of(&o),
                        tokens_affected: true,
                    }
                }
                None => Done::of(OpOutcome::Absent).in_org(org_of(&o)),
            }
        }
        DirectoryChange::SetCollaborator {
            owner: owner_login,
            name,
            user: login,
            role,
        } => {
            let o = owner(&mut *conn, owner_login).await?;
            let r = repo(&mut *conn, owner_login, name).await?;
            let u = user(&mut *conn, login).await?;
            let outcome =
                upsert_collaborator_in(conn, RepoId(r.id), AccountId(u.id), *role).await?;
            Done::of(outcome).in_org(org_of(&o))
        }
        DirectoryChange::RemoveCollaborator {
            owner: owner_login,
            name,
            user: login,
        } => {
            let o = owner(&mut *conn, owner_login).await?;
            let r = repo(&mut *conn, owner_login, name).await?;
            let u = user(&mut *conn, login).await?;
            let removed = remove_collaborator_in(conn, r.id, u.id).await?;
            Done::of(if removed {
                OpOutcome::Removed
            } else {
                OpOutcome::Absent
            })
            .in_org(org_of(&o))
        }
        DirectoryChange::SetEnterpriseOwner {
            slug,
            user: login,
            owner: make_owner,
        } => {
            let e = enterprise(&mut *conn, slug).await?;
            let u = user(&mut *conn, login).await?;
            let changed =
                set_enterprise_owner_in(conn, EnterpriseId(e), AccountId(u.id), *make_owner)
                    .await?;
            Done::of(match (changed, make_owner) {
                (false, _) => OpOutcome::Unchanged,
                (true, true) => OpOutcome::Created,
                (true, false) => OpOutcome::Removed,
            })
        }
    })
}

// The replicas (for barriers over PostgreSQL's change feed; SQLite serves one process and never
// waits for another).
#[allow(dead_code, reason = "only the PostgreSQL store calls them")]
impl EngineStore {
    pub(crate) async fn record_heartbeat(&self, id: &str, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(HEARTBEAT)
            .bind(id)
            .bind(to_unix(now))
            .execute(self.writes())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub(crate) async fn remove_replica(&self, id: &str) -> StoreResult<()> {
        sqlx::query(LEAVE)
            .bind(id)
            .execute(self.writes())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// The replicas whose last heartbeat is at or after `since`.
    pub(crate) async fn live_replicas(&self, since: OffsetDateTime) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(LIVE_REPLICAS)
            .bind(to_unix(since))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)
    }
}

#[async_trait]
impl DirectoryAdmin for EngineStore {
    async fn apply_directory(&self, batch: &DirectoryBatch) -> StoreResult<Vec<OpOutcome>> {
        let now = batch.at;
        let mut tx = self.write_tx().await?;
        let mut outcomes = Vec::with_capacity(batch.ops.len());
        let mut changed = false;
        let mut tokens_affected = false;
        for op in &batch.ops {
            let done = apply_change(&mut tx, &op.change, now).await?;
            if done.outcome.changed() {
                changed = true;
                tokens_affected |= done.tokens_affected;
                if let Some(event) = &op.audit {
                    let event = NewAuditEvent {
                        org: event.org.or(done.org.map(AccountId)),
                        ..event.clone()
                    };
                    insert_audit(&mut tx, &event, None).await?;
                }
            }
            outcomes.push(done.outcome);
        }
        // After the ops: a membership they remove is theirs to record (`org.remove_member`);
        // the same removal in the governance changes then finds nothing left to do.
        let governed = batch.governance != patgate_domain::governance::Changes::default();
        if governed {
            apply_in(self, &mut tx, &batch.governance, &batch.outbox).await?;
        }
        if batch.dry_run {
            tx.rollback().await.map_err(db_err)?;
            return Ok(outcomes);
        }
        if tokens_affected {
            self.notify_everything(&mut tx).await?;
        } else if changed || governed {
            self.notify_directory(&mut tx).await?;
        }
        commit(tx).await?;
        Ok(outcomes)
    }

    async fn user_suspended_at(&self, user: AccountId) -> StoreResult<Option<OffsetDateTime>> {
        let at: Option<i64> = sqlx::query_scalar(SUSPENDED_AT)
            .bind(user.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        at.map(from_unix).transpose()
    }

    async fn collaborators(&self, repo: RepoId) -> StoreResult<Vec<(User, RepoRole)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            account: AccountRow,
            role: String,
        }
        let rows: Vec<Row> = sqlx::query_as(COLLABORATORS)
            .bind(repo.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|r| Ok((r.account.into_user()?, parse_repo_role(&r.role)?)))
            .collect()
    }
}
