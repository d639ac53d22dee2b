//! The directory as a platform's operator changes it (issue 13): users created, renamed,
//! suspended and deleted; organizations and their members; repositories, their visibility,
//! names, owners and collaborators; enterprises, their organizations and owners; and the whole
//! directory reconciled in one transaction ([`App::sync_directory`]).
//!
//! Every change takes effect on every token at once (DESIGN §3 rule 10): it is written with
//! the token changes it implies, this process drops what it cached, and on PostgreSQL the
//! change waits until every live replica confirms it has too ([`App::await_replicas`]).
//!
//! **Offboarding** (`docs/platform.md`). A member who leaves (`remove_member`, a sync that no
//! longer lists them) loses, in the same transaction, every grant and pending request their
//! fine-grained tokens had for the organization (`governance::lose_access`: the tokens return
//! to the user, revoked, audited `personal_access_token.access_revoked` and
//! `request_cancelled` with an explanation); their classic tokens lose the organization because
//! their rights do. Coming back restores none of it: GitHub's reinstatement restores a
//! member's role, teams and repository access, never a token's grant (a revoked grant "cannot
//! be re-authorized": a new token and a new request are needed), so joining takes back
//! whatever a departure left behind (`governance::rejoin`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use patgate_domain::catalog::{OrgRole, RepoRole};
use patgate_domain::governance::{self, Changes};
use patgate_domain::model::{AccountId, Organization, Repository, User, Visibility};
use patgate_domain::validate::ErrorCode;
use patgate_store::{
    Account, BarrierOutcome, DirectoryBatch, DirectoryChange, DirectoryOp, NewAuditEvent, NewUser,
    OpOutcome, StoreError,
};
use serde_json::json;

use crate::cache::TtlCache;
use crate::seed::SeedFile;
use crate::verify::VerifiedToken;
use crate::{App, AppError, auth};

mod sync;

/// GitHub's answer to any request made with a suspended user's credentials.
pub const SUSPENDED: &str = "Sorry. Your account was suspended.";

/// How long a directory change waits for the other replicas to confirm it.
pub const BARRIER_TIMEOUT: Duration = Duration::from_secs(2);

/// How many times a change computed from a standing that moved meanwhile is computed again.
const RETRIES: usize = 3;

/// Who changes the directory, as the audit log names them: a service credential (`service:`
/// and its name) or the command line (`cli`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
}

impl Operator {
    pub fn service(name: &str) -> Operator {
        Operator {
            name: format!("service:{name}"),
        }
    }
    pub fn cli() -> Operator {
        Operator { name: "cli".into() }
    }
}

/// One problem with a request, in GitHub's 422 vocabulary, naming the field by its path in
/// the body (`orgs[1].members[0]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub resource: &'static str,
    pub field: String,
    pub code: ErrorCode,
    pub message: String,
}

impl Problem {
    fn new(
        resource: &'static str,
        field: impl Into<String>,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            resource,
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Nothing was changed: every problem found, at once.
    #[error("Validation Failed: {}", .0.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<StoreError> for DirectoryError {
    fn from(e: StoreError) -> Self {
        DirectoryError::App(e.into())
    }
}

fn invalid(
    resource: &'static str,
    field: &str,
    code: ErrorCode,
    message: impl Into<String>,
) -> DirectoryError {
    DirectoryError::Invalid(vec![Problem::new(resource, field, code, message)])
}

pub type DirectoryResult<T> = Result<T, DirectoryError>;

/// The per-user facts every request checks (suspension), cached like the other directory
/// facts and dropped with them.
pub(crate) struct UserStandingCache {
    suspended: TtlCache<AccountId, bool>,
    logins: TtlCache<AccountId, Option<String>>,
    /// The user a token acts for (`GET /user` answers from it without the store).
    users: TtlCache<AccountId, Option<Arc<User>>>,
}

impl UserStandingCache {
    pub(crate) fn new(ttl: Duration, capacity: u64) -> Self {
        UserStandingCache {
            suspended: TtlCache::new(ttl, capacity),
            logins: TtlCache::new(ttl, capacity),
            users: TtlCache::new(ttl, capacity),
        }
    }
    pub(crate) fn clear(&self) {
        self.suspended.clear();
        self.logins.clear();
        self.users.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// GitHub's rule for a login: 1 to 39 ASCII letters, digits or single hyphens, not at either end.
pub fn login_problem(login: &str) -> Option<String> {
    let valid = !login.is_empty()
        && login.len() <= 39
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !login.starts_with('-')
        && !login.ends_with('-')
        && !login.contains("--");
    (!valid).then(|| {
        format!(
            "{login:?} is not a valid login: 1 to 39 letters, digits or single hyphens, not at \
             either end"
        )
    })
}

/// GitHub's rule for a repository name: 1 to 100 ASCII letters, digits, `.`, `-` or `_`, and
/// not `.` or `..`.
pub fn repo_name_problem(name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && name != "."
        && name != ".."
        && !name.ends_with(".git");
    (!valid).then(|| {
        format!(
            "{name:?} is not a valid repository name: 1 to 100 letters, digits, '.', '-' or '_'"
        )
    })
}

fn email_problem(email: &str) -> Option<String> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        && !email.chars().any(|c| c.is_control() || c.is_whitespace());
    (!ok).then(|| format!("{email:?} is not an email address"))
}

fn description_problem(description: &str) -> Option<String> {
    if description.chars().count() > 350 {
        return Some("is too long (maximum is 350 characters)".into());
    }
    patgate_domain::text::first_forbidden(description, patgate_domain::text::Lines::One)
        .map(|c| patgate_domain::text::forbidden_message("description", c))
}

/// GitHub's organization roles on the membership API: `admin` (an owner) or `member`.
pub fn parse_org_role(role: &str) -> Option<OrgRole> {
    match role {
        "admin" => Some(OrgRole::Owner),
        "member" => Some(OrgRole::Member),
        _ => None,
    }
}

pub fn org_role_name(role: OrgRole) -> &'static str {
    match role {
        OrgRole::Owner => "admin",
        OrgRole::Member => "member",
    }
}

/// GitHub's collaborator permissions: `pull`, `triage`, `push`, `maintain`, `admin` (and the
/// role names `read` and `write`, which GitHub also takes).
pub fn parse_collaborator_permission(permission: &str) -> Option<RepoRole> {
    match permission {
        "pull" | "read" => Some(RepoRole::Read),
        "triage" => Some(RepoRole::Triage),
        "push" | "write" => Some(RepoRole::Write),
        "maintain" => Some(RepoRole::Maintain),
        "admin" => Some(RepoRole::Admin),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The running of a batch
// ---------------------------------------------------------------------------------------------

/// What a batch may have made stale beyond the directory caches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Forget {
    /// The directory caches (always).
    Directory,
    /// Every cached token too (a user or a repository deleted or moved).
    Everything,
}

/// A user's input to create them.
#[derive(Clone, Debug, Default)]
pub struct CreateUser {
    pub login: String,
    pub email: String,
    pub email_verified: bool,
    pub site_admin: bool,
    pub password: Option<String>,
    pub suspended: bool,
}

/// The changes to a repository (`None`: keep).
#[derive(Clone, Debug, Default)]
pub struct RepoPatch {
    pub name: Option<String>,
    pub visibility: Option<Visibility>,
    pub description: Option<Option<String>>,
}

/// What a sync did, or would do (`dry_run`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub dry_run: bool,
    /// Every change that changed something, in the order applied: the audit action and what it
    /// acted on.
    pub changes: Vec<SyncChange>,
    /// How many of the file's records were already as stated.
    pub unchanged: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncChange {
    pub action: String,
    pub target: String,
    pub outcome: OpOutcome,
}

impl App {
    fn audit(&self, by: &Operator, action: &str, data: serde_json::Value) -> NewAuditEvent {
        NewAuditEvent {
            action: action.to_owned(),
            actor: None,
            actor_login: Some(by.name.clone()),
            org: None,
            token_id: None,
            data,
            created_at: self.now(),
        }
    }

    fn op(
        &self,
        change: DirectoryChange,
        by: &Operator,
        action: &str,
        data: serde_json::Value,
    ) -> DirectoryOp {
        DirectoryOp {
            change,
            audit: Some(self.audit(by, action, data)),
        }
    }

    /// Applies a batch, drops what it made stale here, and waits for the other replicas.
    async fn run_batch(
        &self,
        ops: Vec<DirectoryOp>,
        governance: Changes,
        forget: Forget,
        dry_run: bool,
    ) -> DirectoryResult<Vec<OpOutcome>> {
        let tokens = governance.tokens();
        // What the governance changes tell (a departed member's revoked grants, a take-back on
        // return), decided before the batch as every change decides its messages.
        let outbox = if dry_run || governance == Changes::default() {
            Vec::new()
        } else {
            self.messages_of(&governance).await?
        };
        let batch = DirectoryBatch {
            at: self.now(),
            ops,
            governance,
            outbox,
            dry_run,
        };
        let outcomes = self
            .store()
            .apply_directory(&batch)
            .await
            .map_err(|e| match e {
                StoreError::UniqueViolation(what) => invalid(
                    "Directory",
                    what.split(' ').next().unwrap_or("name"),
                    ErrorCode::AlreadyExists,
                    format!("{what} already exists"),
                ),
                StoreError::Missing(what) => {
                    DirectoryError::App(AppError::NotFound).with_missing(what)
                }
                other => other.into(),
            })?;
        if dry_run {
            return Ok(outcomes);
        }
        if !batch.outbox.is_empty() {
            self.outbox_written();
        }
        for id in tokens {
            self.forget_token(id);
        }
        self.directory_changed();
        if forget == Forget::Everything {
            self.forget_all();
        }
        self.await_replicas().await;
        Ok(outcomes)
    }

    /// Waits until every live replica confirms it has applied the changes committed so far
    /// (at most [`BARRIER_TIMEOUT`]); a replica that does not answer is logged, and will
    /// forget everything when it reconnects to the change feed.
    pub async fn await_replicas(&self) -> BarrierOutcome {
        match self.store().barrier(self.now(), BARRIER_TIMEOUT).await {
            Ok(outcome) => {
                if !outcome.missing.is_empty() {
                    tracing::warn!(missing = ?outcome.missing, "replicas did not confirm a directory change in time");
                }
                outcome
            }
            Err(error) => {
                tracing::warn!(%error, "could not wait for the replicas");
                BarrierOutcome::default()
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Suspension, as every request checks it
    // -----------------------------------------------------------------------------------------

    /// Whether the user is suspended (cached like the other directory facts).
    pub async fn is_suspended(&self, user: AccountId) -> Result<bool, AppError> {
        let now = self.now().unix_timestamp();
        let cache = &self.inner.standing.suspended;
        if let Some(hit) = cache.get(&user, now) {
            return Ok(hit);
        }
        let ticket = cache.ticket();
        let suspended = self.store().user_suspended_at(user).await?.is_some();
        cache.insert(ticket, user, suspended, now);
        Ok(suspended)
    }

    /// A user (cached like the other directory facts; any directory change drops it).
    pub async fn user_facts(&self, id: AccountId) -> Result<Option<Arc<User>>, AppError> {
        let now = self.now().unix_timestamp();
        let cache = &self.inner.standing.users;
        if let Some(hit) = cache.get(&id, now) {
            return Ok(hit);
        }
        let ticket = cache.ticket();
        let user = self.store().user_by_id(id).await?.map(Arc::new);
        cache.insert(ticket, id, user.clone(), now);
        Ok(user)
    }

    /// The login of a user or an organization (cached; a rename is a directory change).
    pub async fn login_of(&self, account: AccountId) -> Result<Option<String>, AppError> {
        let now = self.now().unix_timestamp();
        let cache = &self.inner.standing.logins;
        if let Some(hit) = cache.get(&account, now) {
            return Ok(hit);
        }
        let ticket = cache.ticket();
        let login = self
            .store()
            .accounts_by_ids(&[account])
            .await?
            .first()
            .map(|a| a.login().to_owned());
        cache.insert(ticket, account, login.clone(), now);
        Ok(login)
    }

    /// [`App::verify`], then the user's standing: a suspended user's token answers GitHub's
    /// 403 [`SUSPENDED`]. Every route that takes a token verifies through here.
    pub async fn verify_active(
        &self,
        presented: &str,
    ) -> Result<std::sync::Arc<VerifiedToken>, AppError> {
        let verified = self.verify(presented).await?;
        if !matches!(
            verified.credential.grant,
            patgate_domain::model::TokenGrant::AppInstallation { .. }
        ) && self.is_suspended(verified.credential.user).await?
        {
            return Err(AppError::Forbidden(SUSPENDED.into()));
        }
        Ok(verified)
    }

    // -----------------------------------------------------------------------------------------
    // Users
    // -----------------------------------------------------------------------------------------

    fn user_problems(&self, login: &str, email: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(p) = login_problem(login) {
            problems.push(Problem::new("User", "login", ErrorCode::Invalid, p));
        }
        if let Some(p) = email_problem(email) {
            problems.push(Problem::new("User", "email", ErrorCode::Invalid, p));
        }
        problems
    }

    /// `POST /admin/users`: creates a user (suspended at once if asked).
    pub async fn admin_create_user(
        &self,
        by: &Operator,
        input: &CreateUser,
    ) -> DirectoryResult<User> {
        let problems = self.user_problems(&input.login, &input.email);
        if !problems.is_empty() {
            return Err(DirectoryError::Invalid(problems));
        }
        let password_hash = match &input.password {
            Some(pw) => Some(auth::hash_password(&self.config().password_hashing, pw)?),
            None => None,
        };
        let mut ops = vec![self.op(
            DirectoryChange::CreateUser(NewUser {
                login: input.login.clone(),
                email: input.email.clone(),
                email_verified: input.email_verified,
                site_admin: input.site_admin,
                password_hash,
            }),
            by,
            "user.create",
            json!({"user": input.login}),
        )];
        if input.suspended {
            ops.push(self.op(
                DirectoryChange::SetSuspended {
                    login: input.login.clone(),
                    suspended_at: Some(self.now()),
                },
                by,
                "user.suspend",
                json!({"user": input.login}),
            ));
        }
        self.run_batch(ops, Changes::default(), Forget::Directory, false)
            .await
            .map_err(|e| e.on_field("User", "login"))?;
        self.user_named(&input.login).await
    }

    async fn user_named(&self, login: &str) -> DirectoryResult<User> {
        Ok(self
            .store()
            .user_by_login(login)
            .await?
            .ok_or(AppError::NotFound)?)
    }

    /// `PATCH /admin/users/{username}` and `PATCH /admin/organizations/{org}`: a new login.
    pub async fn admin_rename(
        &self,
        by: &Operator,
        login: &str,
        new_login: &str,
    ) -> DirectoryResult<Account> {
        let account = self
            .store()
            .account_by_login(login)
            .await?
            .ok_or(AppError::NotFound)?;
        let resource = match account {
            Account::User(_) => "User",
            Account::Organization(_) => "Organization",
        };
        if let Some(p) = login_problem(new_login) {
            return Err(invalid(resource, "login", ErrorCode::Invalid, p));
        }
        let action = match account {
            Account::User(_) => "user.rename",
            Account::Organization(_) => "org.rename",
        };
        let op = self.op(
            DirectoryChange::RenameAccount {
                login: account.login().to_owned(),
                new_login: new_login.to_owned(),
            },
            by,
            action,
            json!({"old_login": account.login(), "login": new_login}),
        );
        self.run_batch(vec![op], Changes::default(), Forget::Directory, false)
            .await
            .map_err(|e| e.on_field(resource, "login"))?;
        Ok(self
            .store()
            .account_by_login(new_login)
            .await?
            .ok_or(AppError::NotFound)?)
    }

    /// `PUT /users/{username}/suspended` (`suspend`) and `DELETE` (lift): every token of the
    /// user answers 403 [`SUSPENDED`] while suspended, and their web sessions end.
    pub async fn admin_set_suspended(
        &self,
        by: &Operator,
        login: &str,
        suspend: bool,
        reason: Option<&str>,
    ) -> DirectoryResult<User> {
        let user = self.user_named(login).await?;
        if let Some(r) = reason
            && let Some(c) =
                patgate_domain::text::first_forbidden(r, patgate_domain::text::Lines::Many)
        {
            return Err(invalid(
                "User",
                "reason",
                ErrorCode::Invalid,
                patgate_domain::text::forbidden_message("reason", c),
            ));
        }
        let (action, data) = if suspend {
            (
                "user.suspend",
                json!({"user": user.login, "reason": reason}),
            )
        } else {
            (
                "user.unsuspend",
                json!({"user": user.login, "reason": reason}),
            )
        };
        let op = self.op(
            DirectoryChange::SetSuspended {
                login: user.login.clone(),
                suspended_at: suspend.then(|| self.now()),
            },
            by,
            action,
            data,
        );
        self.run_batch(vec![op], Changes::default(), Forget::Directory, false)
            .await?;
        Ok(user)
    }

    /// `DELETE /admin/users/{username}`: the user and everything theirs (tokens, keys,
    /// sessions, memberships, collaborations, repositories).
    pub async fn admin_delete_user(&self, by: &Operator, login: &str) -> DirectoryResult<()> {
        let user = self.user_named(login).await?;
        let op = self.op(
            DirectoryChange::DeleteUser {
                login: user.login.clone(),
            },
            by,
            "user.destroy",
            json!({"user": user.login}),
        );
        let outcomes = self
            .run_batch(vec![op], Changes::default(), Forget::Everything, false)
            .await?;
        if outcomes.first() == Some(&OpOutcome::Absent) {
            return Err(AppError::NotFound.into());
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Organizations and memberships
    // -----------------------------------------------------------------------------------------

    /// `POST /admin/organizations`: an organization, with `admin` as its first owner.
    pub async fn admin_create_org(
        &self,
        by: &Operator,
        login: &str,
        admin: &str,
    ) -> DirectoryResult<Organization> {
        let mut problems = Vec::new();
        if let Some(p) = login_problem(login) {
            problems.push(Problem::new("Organization", "login", ErrorCode::Invalid, p));
        }
        if self.store().user_by_login(admin).await?.is_none() {
            problems.push(Problem::new(
                "Organization",
                "admin",
                ErrorCode::Invalid,
                format!("no user {admin:?}"),
            ));
        }
        if !problems.is_empty() {
            return Err(DirectoryError::Invalid(problems));
        }
        let ops = vec![
            self.op(
                DirectoryChange::CreateOrg {
                    login: login.to_owned(),
                    base_permission: RepoRole::Read,
                },
                by,
                "org.create",
                json!({"org": login}),
            ),
            self.op(
                DirectoryChange::SetMembership {
                    org: login.to_owned(),
                    user: admin.to_owned(),
                    role: OrgRole::Owner,
                },
                by,
                "org.add_member",
                json!({"org": login, "user": admin, "permission": "admin"}),
            ),
        ];
        self.run_batch(ops, Changes::default(), Forget::Directory, false)
            .await
            .map_err(|e| e.on_field("Organization", "login"))?;
        Ok(self.org_named(login).await?)
    }

    /// `PUT /orgs/{org}/memberships/{username}`: adds the member or changes their role. A
    /// member who comes back gets no former grant back ([`governance::rejoin`]).
    pub async fn admin_set_membership(
        &self,
        by: &Operator,
        org_login: &str,
        login: &str,
        role: OrgRole,
    ) -> DirectoryResult<(Organization, User, OrgRole)> {
        let org = self.org_named(org_login).await?;
        let user = self.user_named(login).await?;
        for attempt in 1..=RETRIES {
            let current = self.store().membership(org.id, user.id).await?;
            let governance = match current {
                Some(_) => Changes::default(),
                None => {
                    let standings = self.store().standings_in_org(user.id, org.id).await?;
                    // A grant left behind (only a departure that bypassed patgate leaves one)
                    // is taken back; its user is told, as for any revocation.
                    governance::rejoin(org.id, user.id, &standings, self.now())
                }
            };
            let action = if current.is_some() {
                "org.update_member"
            } else {
                "org.add_member"
            };
            let op = self.op(
                DirectoryChange::SetMembership {
                    org: org.login.clone(),
                    user: user.login.clone(),
                    role,
                },
                by,
                action,
                json!({"org": org.login, "user": user.login, "permission": org_role_name(role)}),
            );
            match self
                .run_batch(vec![op], governance, Forget::Directory, false)
                .await
            {
                Err(DirectoryError::App(AppError::Conflict(_))) if attempt < RETRIES => continue,
                Err(e) => return Err(e),
                Ok(_) => return Ok((org, user, role)),
            }
        }
        Err(AppError::Conflict("the membership kept changing; try again".into()).into())
    }

    /// `DELETE /orgs/{org}/members/{username}` and `DELETE /orgs/{org}/memberships/{username}`:
    /// the member leaves, and with them every grant and pending request of their tokens for
    /// the organization, in one transaction. Returns whether they were a member; whatever a
    /// former departure left behind is taken back either way.
    pub async fn admin_remove_member(
        &self,
        by: &Operator,
        org_login: &str,
        login: &str,
    ) -> DirectoryResult<bool> {
        let org = self.org_named(org_login).await?;
        let user = self.user_named(login).await?;
        for attempt in 1..=RETRIES {
            let standings = self.store().standings_in_org(user.id, org.id).await?;
            let changes = governance::lose_access(org.id, user.id, &standings, self.now());
            let op = self.op(
                DirectoryChange::RemoveMembership {
                    org: org.login.clone(),
                    user: user.login.clone(),
                },
                by,
                "org.remove_member",
                json!({"org": org.login, "user": user.login}),
            );
            // The departed member is told of each grant this revokes (`run_batch`).
            match self
                .run_batch(vec![op], changes, Forget::Directory, false)
                .await
            {
                Err(DirectoryError::App(AppError::Conflict(_))) if attempt < RETRIES => continue,
                Err(e) => return Err(e),
                Ok(outcomes) => return Ok(outcomes.first() == Some(&OpOutcome::Removed)),
            }
        }
        Err(AppError::Conflict("the membership kept changing; try again".into()).into())
    }

    // -----------------------------------------------------------------------------------------
    // Repositories and collaborators
    // -----------------------------------------------------------------------------------------

    async fn check_visibility(
        &self,
        owner: &Account,
        visibility: Visibility,
    ) -> DirectoryResult<()> {
        let in_enterprise = matches!(owner, Account::Organization(o) if o.enterprise.is_some());
        if visibility == Visibility::Internal && !in_enterprise {
            return Err(invalid(
                "Repository",
                "visibility",
                ErrorCode::Invalid,
                "internal repositories belong to an organization of an enterprise",
            ));
        }
        Ok(())
    }

    /// `POST /orgs/{org}/repos` and `POST /users/{username}/repos`.
    pub async fn admin_create_repo(
        &self,
        by: &Operator,
        owner: &str,
        name: &str,
        visibility: Visibility,
        description: Option<&str>,
    ) -> DirectoryResult<Repository> {
        let account = self
            .store()
            .account_by_login(owner)
            .await?
            .ok_or(AppError::NotFound)?;
        let mut problems = Vec::new();
        if let Some(p) = repo_name_problem(name) {
            problems.push(Problem::new("Repository", "name", ErrorCode::Invalid, p));
        }
        if let Some(p) = description.and_then(description_problem) {
            problems.push(Problem::new(
                "Repository",
                "description",
                ErrorCode::Invalid,
                p,
            ));
        }
        if !problems.is_empty() {
            return Err(DirectoryError::Invalid(problems));
        }
        self.check_visibility(&account, visibility).await?;
        let op = self.op(
            DirectoryChange::CreateRepo {
                owner: account.login().to_owned(),
                name: name.to_owned(),
                visibility,
                description: description.map(str::to_owned),
            },
            by,
            "repo.create",
            json!({"repo": format!("{}/{name}", account.login()), "visibility": visibility.as_str()}),
        );
        self.run_batch(vec![op], Changes::default(), Forget::Directory, false)
            .await
            .map_err(|e| e.on_field("Repository", "name"))?;
        self.repo_named(account.login(), name).await
    }

    async fn repo_named(&self, owner: &str, name: &str) -> DirectoryResult<Repository> {
        Ok(self
            .store()
            .repo_by_name(owner, name)
            .await?
            .ok_or(AppError::NotFound)?)
    }

    /// `PATCH /repos/{owner}/{repo}`: renames it, changes its visibility or description.
    pub async fn admin_update_repo(
        &self,
        by: &Operator,
        owner: &str,
        name: &str,
        patch: &RepoPatch,
    ) -> DirectoryResult<Repository> {
        let repo = self.repo_named(owner, name).await?;
        let mut problems = Vec::new();
        if let Some(p) = patch.name.as_deref().and_then(repo_name_problem) {
            problems.push(Problem::new("Repository", "name", ErrorCode::Invalid, p));
        }
        if let Some(p) = patch
            .description
            .as_ref()
            .and_then(|d| d.as_deref())
            .and_then(description_problem)
        {
            problems.push(Problem::new(
                "Repository",
                "description",
                ErrorCode::Invalid,
                p,
            ));
        }
        if !problems.is_empty() {
            return Err(DirectoryError::Invalid(problems));
        }
        if let Some(v) = patch.visibility {
            let account = self
                .store()
                .account_by_login(&repo.owner_login)
                .await?
                .ok_or(AppError::NotFound)?;
            self.check_visibility(&account, v).await?;
        }
        let full = repo.full_name();
        let mut ops = Vec::new();
        // One op, audited as what changed: a visibility change is GitHub's `repo.access`.
        let action = if patch.visibility.is_some_and(|v| v != repo.visibility) {
            "repo.access"
        } else if patch.name.as_deref().is_some_and(|n| n != repo.name) {
            "repo.rename"
        } else {
            "repo.update"
        };
        ops.push(self.op(
            DirectoryChange::UpdateRepo {
                owner: repo.owner_login.clone(),
                name: repo.name.clone(),
                new_name: patch.name.clone(),
                visibility: patch.visibility,
                description: patch.description.clone(),
            },
            by,
            action,
            json!({
                "repo": full,
                "old_name": repo.name,
                "name": patch.name.as_deref().unwrap_or(&repo.name),
                "visibility": patch.visibility.unwrap_or(repo.visibility).as_str(),
                "previous_visibility": repo.visibility.as_str(),
            }),
        ));
        self.run_batch(ops, Changes::default(), Forget::Directory, false)
            .await
            .map_err(|e| e.on_field("Repository", "name"))?;
        self.repo_named(
            &repo.owner_login,
            patch.name.as_deref().unwrap_or(&repo.name),
        )
        .await
    }

    /// `POST /repos/{owner}/{repo}/transfer`: to another owner, under a new name maybe. Tokens
    /// lose it from their selections.
    pub async fn admin_transfer_repo(
        &self,
        by: &Operator,
        owner: &str,
        name: &str,
        new_owner: &str,
        new_name: Option<&str>,
    ) -> DirectoryResult<Repository> {
        let repo = self.repo_named(owner, name).await?;
        let Some(target) = self.store().account_by_login(new_owner).await? else {
            return Err(invalid(
                "Repository",
                "new_owner",
                ErrorCode::Invalid,
                format!("no user or organization {new_owner:?}"),
            ));
        };
        if let Some(p) = new_name.and_then(repo_name_problem) {
            return Err(invalid("Repository", "new_name", ErrorCode::Invalid, p));
        }
        let op = self.op(
            DirectoryChange::TransferRepo {
                owner: repo.owner_login.clone(),
                name: repo.name.clone(),
                new_owner: target.login().to_owned(),
                new_name: new_name.map(str::to_owned),
            },
            by,
            "repo.transfer",
            json!({"repo": repo.full_name(), "new_owner": target.login(), "name": new_name.unwrap_or(&repo.name)}),
        );
        self.run_batch(vec![op], Changes::default(), Forget::Everything, false)
            .await
            .map_err(|e| e.on_field("Repository", "new_name"))?;
        self.repo_named(target.login(), new_name.unwrap_or(&repo.name))
            .await
    }

    /// `DELETE /repos/{owner}/{repo}`.
    pub async fn admin_delete_repo(
        &self,
        by: &Operator,
        owner: &str,
        name: &str,
    ) -> DirectoryResult<()> {
        let repo = self.repo_named(owner, name).await?;
        let op = self.op(
            DirectoryChange::DeleteRepo {
                owner: repo.owner_login.clone(),
                name: repo.name.clone(),
            },
            by,
            "repo.destroy",
            json!({"repo": repo.full_name()}),
        );
        let outcomes = self
            .run_batch(vec![op], Changes::default(), Forget::Everything, false)
            .await?;
        if outcomes.first() == Some(&OpOutcome::Absent) {
            return Err(AppError::NotFound.into());
        }
        Ok(())
    }

    /// `PUT /repos/{owner}/{repo}/collaborators/{username}`.
    pub async fn admin_set_collaborator(
        &self,
        by: &Operator,
        owner: &str,
        name: &str,
        login: &str,
        role: RepoRole,
    ) -> DirectoryResult<OpOutcome> {
        let repo = self.repo_named(owner, name).await?;
        let user = self.user_named(login).await?;
        let current = self.store().collaborator_role(repo.id, user.id).await?;
        let op = self.op(
            DirectoryChange::SetCollaborator {
                owner: repo.owner_login.clone(),
                name: repo.name.clone(),
                user: user.login.clone(),
                role,
            },
            by,
            if current.is_some() {
                "repo.update_member"
            } else {
                "repo.add_member"
            },
            json!({"repo": repo.full_name(), "user": user.login, "permission": role.as_str()}),
        );
        let outcomes = self
            .run_batch(vec![op], Changes::default(), Forget::Directory, false)
            .await?;
        Ok(outcomes.first().copied().unwrap_or(OpOutcome::Unchanged))
    }

    /// `DELETE /repos/{owner}/{repo}/collaborators/{username}`: every token of the user loses
    /// what the role gave at once.
    pub async fn admin_remove_collaborator(
        &self,
        by: &Operator,
        owner: &str,
        name: &str,
        login: &str,
    ) -> DirectoryResult<bool> {
        let repo = self.repo_named(owner, name).await?;
        let user = self.user_named(login).await?;
        let op = self.op(
            DirectoryChange::RemoveCollaborator {
                owner: repo.owner_login.clone(),
                name: repo.name.clone(),
                user: user.login.clone(),
            },
            by,
            "repo.remove_member",
            json!({"repo": repo.full_name(), "user": user.login}),
        );
        let outcomes = self
            .run_batch(vec![op], Changes::default(), Forget::Directory, false)
            .await?;
        Ok(outcomes.first() == Some(&OpOutcome::Removed))
    }

    // -----------------------------------------------------------------------------------------
    // Enterprises
    // -----------------------------------------------------------------------------------------

    /// `POST /admin/enterprises`.
    pub async fn admin_create_enterprise(
        &self,
        by: &Operator,
        slug: &str,
    ) -> DirectoryResult<patgate_domain::model::Enterprise> {
        if let Some(p) = login_problem(slug) {
            return Err(invalid(
                "Enterprise",
                "slug",
                ErrorCode::Invalid,
                p.replace("login", "slug"),
            ));
        }
        if self.store().enterprise_by_slug(slug).await?.is_some() {
            return Err(invalid(
                "Enterprise",
                "slug",
                ErrorCode::AlreadyExists,
                format!("enterprise {slug} already exists"),
            ));
        }
        let op = self.op(
            DirectoryChange::UpsertEnterprise {
                slug: slug.to_owned(),
            },
            by,
            "business.create",
            json!({"business": slug}),
        );
        self.run_batch(vec![op], Changes::default(), Forget::Directory, false)
            .await?;
        Ok(self.enterprise_named(slug).await?)
    }

    /// `PUT` (`member`) and `DELETE /enterprises/{enterprise}/organizations/{org}`: the
    /// organization joins or leaves the enterprise (leaving makes its internal repositories
    /// private).
    pub async fn admin_set_enterprise_org(
        &self,
        by: &Operator,
        slug: &str,
        org_login: &str,
        member: bool,
    ) -> DirectoryResult<()> {
        let enterprise = self.enterprise_named(slug).await?;
        let org = self.org_named(org_login).await?;
        let target = if member {
            Some(enterprise.slug.clone())
        } else if org.enterprise == Some(enterprise.id) {
            None
        } else {
            // Not in this enterprise: nothing to leave.
            return Err(AppError::NotFound.into());
        };
        let op = self.op(
            DirectoryChange::SetOrgEnterprise {
                org: org.login.clone(),
                enterprise: target,
            },
            by,
            if member {
                "business.add_organization"
            } else {
                "business.remove_organization"
            },
            json!({"business": enterprise.slug, "org": org.login}),
        );
        self.run_batch(vec![op], Changes::default(), Forget::Directory, false)
            .await?;
        Ok(())
    }

    /// `PUT` (`owner`) and `DELETE /enterprises/{enterprise}/owners/{username}`.
    pub async fn admin_set_enterprise_owner(
        &self,
        by: &Operator,
        slug: &str,
        login: &str,
        owner: bool,
    ) -> DirectoryResult<bool> {
        let enterprise = self.enterprise_named(slug).await?;
        let user = self.user_named(login).await?;
        let op = self.op(
            DirectoryChange::SetEnterpriseOwner {
                slug: enterprise.slug.clone(),
                user: user.login.clone(),
                owner,
            },
            by,
            if owner {
                "business.add_admin"
            } else {
                "business.remove_admin"
            },
            json!({"business": enterprise.slug, "user": user.login}),
        );
        let outcomes = self
            .run_batch(vec![op], Changes::default(), Forget::Directory, false)
            .await?;
        Ok(outcomes.first().is_some_and(|o| o.changed()))
    }
}

impl DirectoryError {
    /// A store's `Missing` as the caller sees it: a 404 for one change, naming what is missing
    /// in the log only.
    fn with_missing(self, what: String) -> DirectoryError {
        tracing::debug!(missing = %what, "a directory change names something that does not exist");
        self
    }

    /// Puts an `already_exists` from the store on the field the caller named it by.
    fn on_field(self, resource: &'static str, field: &str) -> DirectoryError {
        match self {
            DirectoryError::Invalid(mut problems) => {
                for p in &mut problems {
                    if p.code == ErrorCode::AlreadyExists && p.resource == "Directory" {
                        p.resource = resource;
                        p.field = field.to_owned();
                    }
                }
                DirectoryError::Invalid(problems)
            }
            other => other,
        }
    }
}
