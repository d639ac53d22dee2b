//! Export and import of every row ([`patgate_store::dump::Dump`]), ids preserved.
//!
//! Export reads every table in one `REPEATABLE READ` transaction (one snapshot). Import writes
//! every table in one transaction into a database without accounts or enterprises, then moves
//! each identity sequence past the highest id the dump holds or mentions
//! ([`Dump::highest_ids`]), so later inserts get fresh ids, and announces `everything`.

use sqlx::Row;

use patgate_store::dump::{
    AccountRow, AppRow, AuditEventRow, CollaboratorRow, Dump, EnterpriseOwnerRow, EnterpriseRow,
    GrantRow, JobRunRow, WebhookRow,
    KeyRow, MembershipRow, OrgPolicyRow, PolicyCols, RepositoryRow, RequestRepositoryRow,
    TokenRepositoryRow, TokenRequestRow, TokenRow, UserSuspensionRow,
};
use patgate_store::{StoreError, StoreResult};

use super::rows::fold;
use super::tokens::name_key;
use super::{Conn, Db, DbRow, EngineStore, bump_sequence, commit, db_err};

statements! {
    EXPORT_ENTERPRISES = "SELECT id, slug, fine_grained, classic, approval, \
        fine_grained_max_lifetime_days, classic_max_lifetime_days, exempt_administrators FROM \
        enterprises ORDER BY id";
    EXPORT_ACCOUNTS = "SELECT id, kind, login, created_at, email, email_verified, site_admin, \
        password_hash, enterprise_id, base_permission FROM accounts ORDER BY id";
    EXPORT_ORG_POLICIES = "SELECT org_id, fine_grained, classic, approval, \
        fine_grained_max_lifetime_days, classic_max_lifetime_days, exempt_administrators FROM \
        org_policies ORDER BY org_id";
    EXPORT_MEMBERSHIPS = "SELECT org_id, user_id, role FROM memberships ORDER BY org_id, user_id";
    EXPORT_WEBHOOKS = "SELECT id, org_id, url, secret, events, active, created_at, created_by \
        FROM webhooks ORDER BY id";
    INSERT_WEBHOOK = "INSERT INTO webhooks (id, org_id, url, secret, events, active, created_at, \
        created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    EXPORT_ENTERPRISE_OWNERS = "SELECT enterprise_id, user_id FROM enterprise_owners \
        ORDER BY enterprise_id, user_id";
    EXPORT_USER_SUSPENSIONS = "SELECT user_id, suspended_at FROM user_suspensions ORDER BY \
        user_id";
    EXPORT_REPOSITORIES = "SELECT id, owner_id, name, visibility, description, created_at FROM \
        repositories ORDER BY id";
    EXPORT_COLLABORATORS = "SELECT repo_id, user_id, role FROM collaborators ORDER BY repo_id, \
        user_id";
    EXPORT_TOKENS = "SELECT id, kind, user_id, hash, last_eight, name, description, \
        justification, created_at, issued_at, expires_at, last_used_at, resource_owner_id, \
        resource_owner_kind, requested_selection, requested_permissions, granted_selection, \
        granted_permissions, grant_state, scopes, app_org_id, app_permissions FROM tokens ORDER \
        BY id";
    EXPORT_TOKEN_REPOSITORIES = "SELECT token_id, repo_id, granted FROM token_repositories ORDER \
        BY token_id, granted, repo_id";
    EXPORT_KEYS = "SELECT id, title, public_key, repo_id, user_id, read_only, created_by_token, \
        created_at FROM keys ORDER BY id";
    EXPORT_AUDIT_EVENTS = "SELECT id, action, actor_id, actor_login, org_id, token_id, data, \
        created_at FROM audit_events ORDER BY id";
    EXPORT_JOB_RUNS = "SELECT job, period, holder, claimed_at FROM job_runs ORDER BY job, period";
    EXPORT_TOKEN_REQUESTS = "SELECT id, token_id, org_id, user_id, reason, requested_selection, \
        requested_permissions, created_at, status, decided_at, decided_by, decision_reason FROM \
        token_requests ORDER BY id";
    EXPORT_REQUEST_REPOSITORIES = "SELECT request_id, repo_id FROM request_repositories ORDER BY \
        request_id, repo_id";
    EXPORT_GRANTS = "SELECT id, token_id, org_id, access_granted_at FROM grants ORDER BY id";
    EXPORT_APPS = "SELECT id, org_id, name, permissions, created_by, created_at FROM apps ORDER \
        BY id";
    HELD = "SELECT (SELECT COUNT(*) FROM accounts) + (SELECT COUNT(*) FROM enterprises)";
    INSERT_ENTERPRISE = "INSERT INTO enterprises (id, slug, slug_lower, fine_grained, classic, \
        approval, fine_grained_max_lifetime_days, classic_max_lifetime_days, \
        exempt_administrators) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    INSERT_ACCOUNT = "INSERT INTO accounts (id, kind, login, login_lower, created_at, email, \
        email_verified, site_admin, password_hash, enterprise_id, base_permission) VALUES ($1, \
        $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    INSERT_ORG_POLICY = "INSERT INTO org_policies (org_id, fine_grained, classic, approval, \
        fine_grained_max_lifetime_days, classic_max_lifetime_days, exempt_administrators) VALUES \
        ($1, $2, $3, $4, $5, $6, $7)";
    INSERT_MEMBERSHIP = "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)";
    INSERT_ENTERPRISE_OWNER = "INSERT INTO enterprise_owners (enterprise_id, user_id) VALUES ($1, $2)";
    INSERT_USER_SUSPENSION = "INSERT INTO user_suspensions (user_id, suspended_at) VALUES ($1, \
        $2)";
    INSERT_REPOSITORY = "INSERT INTO repositories (id, owner_id, name, name_lower, visibility, \
        description, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    INSERT_COLLABORATOR = "INSERT INTO collaborators (repo_id, user_id, role) VALUES ($1, $2, $3)";
    INSERT_TOKEN = "INSERT INTO tokens (id, kind, user_id, hash, last_eight, name, description, \
        justification, created_at, issued_at, expires_at, last_used_at, resource_owner_id, \
        resource_owner_kind, requested_selection, requested_permissions, granted_selection, \
        granted_permissions, grant_state, scopes, app_org_id, app_permissions, name_folded) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
        $19, $20, $21, $22, $23)";
    INSERT_TOKEN_REPOSITORY = "INSERT INTO token_repositories (token_id, repo_id, granted) VALUES \
        ($1, $2, $3)";
    INSERT_KEY = "INSERT INTO keys (id, title, public_key, repo_id, user_id, read_only, \
        created_by_token, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    INSERT_AUDIT_EVENT = "INSERT INTO audit_events (id, action, actor_id, actor_login, org_id, \
        token_id, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    INSERT_JOB_RUN = "INSERT INTO job_runs (job, period, holder, claimed_at) VALUES ($1, $2, $3, \
        $4)";
    INSERT_TOKEN_REQUEST = "INSERT INTO token_requests (id, token_id, org_id, user_id, reason, \
        requested_selection, requested_permissions, created_at, status, decided_at, decided_by, \
        decision_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    INSERT_REQUEST_REPOSITORY = "INSERT INTO request_repositories (request_id, repo_id) VALUES \
        ($1, $2)";
    INSERT_GRANT = "INSERT INTO grants (id, token_id, org_id, access_granted_at) VALUES ($1, $2, \
        $3, $4)";
    INSERT_APP = "INSERT INTO apps (id, org_id, name, name_lower, permissions, created_by, \
        created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
}

fn get<'r, T>(row: &'r DbRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
{
    row.try_get(column).map_err(db_err)
}

fn flag(row: &DbRow, column: &str) -> StoreResult<bool> {
    get(row, column)
}

fn policy(row: &DbRow) -> StoreResult<PolicyCols> {
    Ok(PolicyCols {
        fine_grained: get(row, "fine_grained")?,
        classic: get(row, "classic")?,
        approval: get(row, "approval")?,
        fine_grained_max_lifetime_days: get(row, "fine_grained_max_lifetime_days")?,
        classic_max_lifetime_days: get(row, "classic_max_lifetime_days")?,
        exempt_administrators: flag(row, "exempt_administrators")?,
    })
}

async fn all<T>(
    conn: &mut Conn,
    sql: &'static str,
    map: impl Fn(&DbRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let rows = sqlx::query(sql).fetch_all(conn).await.map_err(db_err)?;
    rows.iter().map(map).collect()
}

impl EngineStore {
    pub(crate) async fn export(&self) -> StoreResult<Dump> {
        let mut tx = self.snapshot_tx().await?;
        let c = &mut *tx;
        let dump = Dump {
            enterprises: all(c, EXPORT_ENTERPRISES, |r| {
                Ok(EnterpriseRow {
                    id: get(r, "id")?,
                    slug: get(r, "slug")?,
                    policy: policy(r)?,
                })
            })
            .await?,
            accounts: all(c, EXPORT_ACCOUNTS, |r| {
                Ok(AccountRow {
                    id: get(r, "id")?,
                    kind: get(r, "kind")?,
                    login: get(r, "login")?,
                    created_at: get(r, "created_at")?,
                    email: get(r, "email")?,
                    email_verified: flag(r, "email_verified")?,
                    site_admin: flag(r, "site_admin")?,
                    password_hash: get(r, "password_hash")?,
                    enterprise_id: get(r, "enterprise_id")?,
                    base_permission: get(r, "base_permission")?,
                })
            })
            .await?,
            org_policies: all(c, EXPORT_ORG_POLICIES, |r| {
                Ok(OrgPolicyRow {
                    org_id: get(r, "org_id")?,
                    policy: policy(r)?,
                })
            })
            .await?,
            memberships: all(c, EXPORT_MEMBERSHIPS, |r| {
                Ok(MembershipRow {
                    org_id: get(r, "org_id")?,
                    user_id: get(r, "user_id")?,
                    role: get(r, "role")?,
                })
            })
            .await?,
            repositories: all(c, EXPORT_REPOSITORIES, |r| {
                Ok(RepositoryRow {
                    id: get(r, "id")?,
                    owner_id: get(r, "owner_id")?,
                    name: get(r, "name")?,
                    visibility: get(r, "visibility")?,
                    description: get(r, "description")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .await?,
            collaborators: all(c, EXPORT_COLLABORATORS, |r| {
                Ok(CollaboratorRow {
                    repo_id: get(r, "repo_id")?,
                    user_id: get(r, "user_id")?,
                    role: get(r, "role")?,
                })
            })
            .await?,
            tokens: all(c, EXPORT_TOKENS, |r| {
                Ok(TokenRow {
                    id: get(r, "id")?,
                    kind: get(r, "kind")?,
                    user_id: get(r, "user_id")?,
                    hash: get(r, "hash")?,
                    last_eight: get(r, "last_eight")?,
                    name: get(r, "name")?,
                    description: get(r, "description")?,
                    justification: get(r, "justification")?,
                    created_at: get(r, "created_at")?,
                    issued_at: get(r, "issued_at")?,
                    expires_at: get(r, "expires_at")?,
                    last_used_at: get(r, "last_used_at")?,
                    resource_owner_id: get(r, "resource_owner_id")?,
                    resource_owner_kind: get(r, "resource_owner_kind")?,
                    requested_selection: get(r, "requested_selection")?,
                    requested_permissions: get(r, "requested_permissions")?,
                    granted_selection: get(r, "granted_selection")?,
                    granted_permissions: get(r, "granted_permissions")?,
                    grant_state: get(r, "grant_state")?,
                    scopes: get(r, "scopes")?,
                    app_org_id: get(r, "app_org_id")?,
                    app_permissions: get(r, "app_permissions")?,
                })
            })
            .await?,
            token_repositories: all(c, EXPORT_TOKEN_REPOSITORIES, |r| {
                Ok(TokenRepositoryRow {
                    token_id: get(r, "token_id")?,
                    repo_id: get(r, "repo_id")?,
                    granted: flag(r, "granted")?,
                })
            })
            .await?,
            keys: all(c, EXPORT_KEYS, |r| {
                Ok(KeyRow {
                    id: get(r, "id")?,
                    title: get(r, "title")?,
                    public_key: get(r, "public_key")?,
                    repo_id: get(r, "repo_id")?,
                    user_id: get(r, "user_id")?,
                    read_only: flag(r, "read_only")?,
                    created_by_token: get(r, "created_by_token")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .await?,
            audit_events: all(c, EXPORT_AUDIT_EVENTS, |r| {
                let id: i64 = get(r, "id")?;
                let data: String = get(r, "data")?;
                Ok(AuditEventRow {
                    id,
                    action: get(r, "action")?,
                    actor_id: get(r, "actor_id")?,
                    actor_login: get(r, "actor_login")?,
                    org_id: get(r, "org_id")?,
                    token_id: get(r, "token_id")?,
                    data: serde_json::from_str(&data)
                        .map_err(|e| StoreError::Corrupt(format!("audit event {id} data: {e}")))?,
                    created_at: get(r, "created_at")?,
                })
            })
            .await?,
            job_runs: all(c, EXPORT_JOB_RUNS, |r| {
                Ok(JobRunRow {
                    job: get(r, "job")?,
                    period: get(r, "period")?,
                    holder: get(r, "holder")?,
                    claimed_at: get(r, "claimed_at")?,
                })
            })
            .await?,
            token_requests: all(c, EXPORT_TOKEN_REQUESTS, |r| {
                Ok(TokenRequestRow {
                    id: get(r, "id")?,
                    token_id: get(r, "token_id")?,
                    org_id: get(r, "org_id")?,
                    user_id: get(r, "user_id")?,
                    reason: get(r, "reason")?,
                    requested_selection: get(r, "requested_selection")?,
                    requested_permissions: get(r, "requested_permissions")?,
                    created_at: get(r, "created_at")?,
                    status: get(r, "status")?,
                    decided_at: get(r, "decided_at")?,
                    decided_by: get(r, "decided_by")?,
                    decision_reason: get(r, "decision_reason")?,
                })
            })
            .await?,
            request_repositories: all(c, EXPORT_REQUEST_REPOSITORIES, |r| {
                Ok(RequestRepositoryRow {
                    request_id: get(r, "request_id")?,
                    repo_id: get(r, "repo_id")?,
                })
            })
            .await?,
            grants: all(c, EXPORT_GRANTS, |r| {
                Ok(GrantRow {
                    id: get(r, "id")?,
                    token_id: get(r, "token_id")?,
                    org_id: get(r, "org_id")?,
                    access_granted_at: get(r, "access_granted_at")?,
                })
            })
            .await?,
            apps: all(c, EXPORT_APPS, |r| {
                Ok(AppRow {
                    id: get(r, "id")?,
                    org_id: get(r, "org_id")?,
                    name: get(r, "name")?,
                    permissions: get(r, "permissions")?,
                    created_by: get(r, "created_by")?,
                    created_at: get(r, "created_at")?,
                })
            })
            .await?,
            webhooks: all(c, EXPORT_WEBHOOKS, |r| {
                Ok(WebhookRow {
                    id: get(r, "id")?,
                    org_id: get(r, "org_id")?,
                    url: get(r, "url")?,
                    secret: get(r, "secret")?,
                    events: get(r, "events")?,
                    active: get(r, "active")?,
                    created_at: get(r, "created_at")?,
                    created_by: get(r, "created_by")?,
                })
            })
            .await?,
            enterprise_owners: all(c, EXPORT_ENTERPRISE_OWNERS, |r| {
                Ok(EnterpriseOwnerRow {
                    enterprise_id: get(r, "enterprise_id")?,
                    user_id: get(r, "user_id")?,
                })
            })
            .await?,
            user_suspensions: all(c, EXPORT_USER_SUSPENSIONS, |r| {
                Ok(UserSuspensionRow {
                    user_id: get(r, "user_id")?,
                    suspended_at: get(r, "suspended_at")?,
                })
            })
            .await?,
        };
        tx.rollback().await.map_err(db_err)?;
        Ok(dump)
    }

    pub(crate) async fn import(&self, dump: &Dump) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let c = &mut *tx;
        // Two imports racing into the same empty database both pass this check; the loser then
        // fails on a primary key and rolls back whole.
        let held: i64 = sqlx::query_scalar(HELD)
            .fetch_one(&mut *c)
            .await
            .map_err(db_err)?;
        if held > 0 {
            return Err(StoreError::Conflict(
                "the target database is not empty (it holds accounts or enterprises)".into(),
            ));
        }
        for e in &dump.enterprises {
            sqlx::query(INSERT_ENTERPRISE)
                .bind(e.id)
                .bind(&e.slug)
                .bind(fold(&e.slug))
                .bind(e.policy.fine_grained.as_deref())
                .bind(e.policy.classic.as_deref())
                .bind(e.policy.approval.as_deref())
                .bind(e.policy.fine_grained_max_lifetime_days)
                .bind(e.policy.classic_max_lifetime_days)
                .bind(e.policy.exempt_administrators)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for a in &dump.accounts {
            sqlx::query(INSERT_ACCOUNT)
                .bind(a.id)
                .bind(&a.kind)
                .bind(&a.login)
                .bind(fold(&a.login))
                .bind(a.created_at)
                .bind(a.email.as_deref())
                .bind(a.email_verified)
                .bind(a.site_admin)
                .bind(a.password_hash.as_deref())
                .bind(a.enterprise_id)
                .bind(a.base_permission.as_deref())
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for p in &dump.org_policies {
            sqlx::query(INSERT_ORG_POLICY)
                .bind(p.org_id)
                .bind(p.policy.fine_grained.as_deref())
                .bind(p.policy.classic.as_deref())
                .bind(p.policy.approval.as_deref())
                .bind(p.policy.fine_grained_max_lifetime_days)
                .bind(p.policy.classic_max_lifetime_days)
                .bind(p.policy.exempt_administrators)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for o in &dump.enterprise_owners {
            sqlx::query(INSERT_ENTERPRISE_OWNER)
                .bind(o.enterprise_id)
                .bind(o.user_id)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for u in &dump.user_suspensions {
            sqlx::query(INSERT_USER_SUSPENSION)
                .bind(u.user_id)
                .bind(u.suspended_at)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for m in &dump.memberships {
            sqlx::query(INSERT_MEMBERSHIP)
                .bind(m.org_id)
                .bind(m.user_id)
                .bind(&m.role)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for r in &dump.repositories {
            sqlx::query(INSERT_REPOSITORY)
                .bind(r.id)
                .bind(r.owner_id)
                .bind(&r.name)
                .bind(fold(&r.name))
                .bind(&r.visibility)
                .bind(r.description.as_deref())
                .bind(r.created_at)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for k in &dump.collaborators {
            sqlx::query(INSERT_COLLABORATOR)
                .bind(k.repo_id)
                .bind(k.user_id)
                .bind(&k.role)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for t in &dump.tokens {
            sqlx::query(INSERT_TOKEN)
                .bind(t.id)
                .bind(&t.kind)
                .bind(t.user_id)
                .bind(t.hash.as_slice())
                .bind(&t.last_eight)
                .bind(&t.name)
                .bind(t.description.as_deref())
                .bind(t.justification.as_deref())
                .bind(t.created_at)
                .bind(t.issued_at)
                .bind(t.expires_at)
                .bind(t.last_used_at)
                .bind(t.resource_owner_id)
                .bind(t.resource_owner_kind.as_deref())
                .bind(t.requested_selection.as_deref())
                .bind(t.requested_permissions.as_deref())
                .bind(t.granted_selection.as_deref())
                .bind(t.granted_permissions.as_deref())
                .bind(t.grant_state.as_deref())
                .bind(t.scopes.as_deref())
                .bind(t.app_org_id)
                .bind(t.app_permissions.as_deref())
                .bind(name_key(&t.kind, &t.name))
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for tr in &dump.token_repositories {
            sqlx::query(INSERT_TOKEN_REPOSITORY)
                .bind(tr.token_id)
                .bind(tr.repo_id)
                .bind(tr.granted)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for k in &dump.keys {
            sqlx::query(INSERT_KEY)
                .bind(k.id)
                .bind(&k.title)
                .bind(&k.public_key)
                .bind(k.repo_id)
                .bind(k.user_id)
                .bind(k.read_only)
                .bind(k.created_by_token)
                .bind(k.created_at)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for e in &dump.audit_events {
            let data =
                serde_json::to_string(&e.data).map_err(|e| StoreError::Backend(Box::new(e)))?;
            sqlx::query(INSERT_AUDIT_EVENT)
                .bind(e.id)
                .bind(&e.action)
                .bind(e.actor_id)
                .bind(e.actor_login.as_deref())
                .bind(e.org_id)
                .bind(e.token_id)
                .bind(data)
                .bind(e.created_at)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for j in &dump.job_runs {
            sqlx::query(INSERT_JOB_RUN)
                .bind(&j.job)
                .bind(&j.period)
                .bind(&j.holder)
                .bind(j.claimed_at)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for r in &dump.token_requests {
            sqlx::query(INSERT_TOKEN_REQUEST)
                .bind(r.id)
                .bind(r.token_id)
                .bind(r.org_id)
                .bind(r.user_id)
                .bind(r.reason.as_deref())
                .bind(&r.requested_selection)
                .bind(&r.requested_permissions)
                .bind(r.created_at)
                .bind(&r.status)
                .bind(r.decided_at)
                .bind(r.decided_by)
                .bind(r.decision_reason.as_deref())
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for rr in &dump.request_repositories {
            sqlx::query(INSERT_REQUEST_REPOSITORY)
                .bind(rr.request_id)
                .bind(rr.repo_id)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for g in &dump.grants {
            sqlx::query(INSERT_GRANT)
                .bind(g.id)
                .bind(g.token_id)
                .bind(g.org_id)
                .bind(g.access_granted_at)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for a in &dump.apps {
            sqlx::query(INSERT_APP)
                .bind(a.id)
                .bind(a.org_id)
                .bind(&a.name)
                .bind(fold(&a.name))
                .bind(&a.permissions)
                .bind(a.created_by)
                .bind(a.created_at)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        for w in &dump.webhooks {
            sqlx::query(INSERT_WEBHOOK)
                .bind(w.id)
                .bind(w.org_id)
                .bind(&w.url)
                .bind(w.secret.as_deref())
                .bind(&w.events)
                .bind(w.active)
                .bind(w.created_at)
                .bind(w.created_by)
                .execute(&mut *c)
                .await
                .map_err(db_err)?;
        }
        // Ids generated after the import must be past every id the dump holds or mentions.
        for (table, highest) in dump.highest_ids() {
            if highest == 0 {
                continue;
            }
            bump_sequence(&mut *c, table, highest).await?;
        }
        self.notify_everything(&mut tx).await?;
        commit(tx).await
    }
}
