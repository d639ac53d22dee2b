//! The store: one trait per aggregate, one supertrait, row types and `StoreError`.
//!
//! Traits speak domain types; no backend error type crosses this boundary. Every method that
//! changes state runs one transaction, including the audit rows it is given, so an effect and
//! its record are never separated. Backends: `patgate-store-sql` (SQLite and PostgreSQL).
//! The `testkit` feature holds the conformance suite every backend must pass.

use async_trait::async_trait;
use time::OffsetDateTime;

use patgate_domain::catalog::PermissionSet;
use patgate_domain::catalog::{Level, OrgRole, Permission, RepoRole};
use patgate_domain::governance::{Changes, Standing};
use patgate_domain::model::{
    AccountId, AccountKind, AppId, Enterprise, EnterpriseId, GrantId, Key, KeyId, Organization,
    RepoId, Repository, RequestId, Token, TokenAccess, TokenGrant, TokenId, User, Visibility,
};
use patgate_domain::policy::PolicySettings;
use patgate_domain::session::{SessionHash, SessionId};
use patgate_domain::token::TokenHash;

/// A token to insert, and where an organization's request stands: the domain's types, which the
/// store reads and writes as they are.
pub use patgate_domain::governance::{NewToken, RequestStatus};

pub mod codec;
pub mod outbox;

pub use outbox::{
    Channel, DeliveryAttempt, DeliveryOutcome, EmailVerificationStore, NewEmailVerification,
    NewOutboxMessage, NewWebhook, OutboxCounts, OutboxFilter, OutboxMessage, OutboxStatus,
    OutboxStore, Webhook, WebhookEdit, WebhookStore,
};
#[cfg(feature = "testkit")]
pub mod testkit;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A fine-grained token would exceed the cap its insert was given (the user holds `limit`).
    #[error("the user already holds {limit} fine-grained tokens")]
    LimitReached { limit: usize },
    /// Another fine-grained token of the user has this name (case-insensitively).
    #[error("the name {0:?} is taken")]
    NameTaken(String),
    /// A row named in a batch is gone (`grant 7`, `request 12`): `NotFound` naming it.
    #[error("not found: {0}")]
    Missing(String),
    #[error("already exists: {0}")]
    UniqueViolation(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or is overloaded; the request may be retried.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An audit event to record in the same transaction as the change it describes (GitHub's
/// action names, reference §9).
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditEvent {
    pub action: String,
    pub actor: Option<AccountId>,
    pub actor_login: Option<String>,
    /// The organization the event concerns, if any (for the organization's audit log).
    pub org: Option<AccountId>,
    pub token_id: Option<TokenId>,
    /// Additional fields, GitHub's names (`user_programmatic_access_name`, `repository_selection`, ...).
    pub data: serde_json::Value,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub action: String,
    pub actor: Option<AccountId>,
    pub actor_login: Option<String>,
    pub org: Option<AccountId>,
    pub token_id: Option<TokenId>,
    pub data: serde_json::Value,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub org: Option<AccountId>,
    pub action: Option<String>,
    pub actor_login: Option<String>,
    pub after: Option<OffsetDateTime>,
    pub before: Option<OffsetDateTime>,
    pub token_id: Option<TokenId>,
    pub limit: u32,
    pub offset: u32,
}

/// One page of a listing, in the order the listing has, and how many items all its pages hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Which page of a listing: `page` counts from 1, `per_page` items each (the caller bounds it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageQuery {
    pub page: u32,
    pub per_page: u32,
    /// Oldest first; else newest first.
    pub ascending: bool,
}

impl PageQuery {
    /// How many items come before this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page.max(1) - 1) * u64::from(self.per_page)
    }
}

/// The filters of an organization's listings of requests and grants (GitHub's query
/// parameters); each one set narrows the listing, all together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgTokenFilter {
    /// The token users' logins (case-insensitively); empty: everyone.
    pub owners: Vec<String>,
    /// A repository of the organization, by name (case-insensitively): the access reaches it
    /// (all repositories, or a selection that lists it).
    pub repository: Option<String>,
    /// The access holds this permission at this level or above.
    pub permission: Option<(Permission, Level)>,
    /// The token was last used before this time (never used: left out).
    pub last_used_before: Option<OffsetDateTime>,
    /// The token was last used after this time.
    pub last_used_after: Option<OffsetDateTime>,
    /// Only these tokens; empty: every token.
    pub token_ids: Vec<TokenId>,
}

/// A pending request as an organization's listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestListing {
    pub request: TokenRequest,
    pub token: Token,
    pub owner: User,
}

/// A grant as an organization's listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantListing {
    pub grant: Grant,
    pub token: Token,
    pub owner: User,
}

/// A user or organization by login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Account {
    User(User),
    Organization(Organization),
}

impl Account {
    pub fn id(&self) -> AccountId {
        match self {
            Account::User(u) => u.id,
            Account::Organization(o) => o.id,
        }
    }
    pub fn login(&self) -> &str {
        match self {
            Account::User(u) => &u.login,
            Account::Organization(o) => &o.login,
        }
    }
    pub fn kind(&self) -> AccountKind {
        match self {
            Account::User(_) => AccountKind::User,
            Account::Organization(_) => AccountKind::Organization,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    pub login: String,
    pub email: String,
    pub email_verified: bool,
    pub site_admin: bool,
    /// An argon2 PHC string; `None` leaves a stored hash unchanged on upsert.
    pub password_hash: Option<String>,
}

/// What an upsert did, so that loading a file twice can report "nothing changed".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

#[async_trait]
pub trait DirectoryStore: Send + Sync {
    async fn upsert_user(
        &self,
        user: &NewUser,
        now: OffsetDateTime,
    ) -> StoreResult<(User, Upserted)>;
    async fn user_by_id(&self, id: AccountId) -> StoreResult<Option<User>>;
    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>>;
    async fn user_password_hash(&self, id: AccountId) -> StoreResult<Option<String>>;
    /// Sets the password hash and ends every web session of the user, in one transaction (a
    /// changed password signs the user out everywhere).
    async fn set_user_password_hash(&self, id: AccountId, hash: &str) -> StoreResult<()>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// A user or an organization, case-insensitively.
    async fn account_by_login(&self, login: &str) -> StoreResult<Option<Account>>;
    /// The users and organizations among `ids` (unknown ids left out), by id.
    async fn accounts_by_ids(&self, ids: &[AccountId]) -> StoreResult<Vec<Account>>;

    async fn upsert_enterprise(
        &self,
        slug: &str,
        policy: &PolicySettings,
    ) -> StoreResult<(Enterprise, Upserted)>;
    async fn enterprise_by_id(&self, id: EnterpriseId) -> StoreResult<Option<Enterprise>>;
    async fn enterprise_by_slug(&self, slug: &str) -> StoreResult<Option<Enterprise>>;
    async fn enterprise_policy(&self, id: EnterpriseId) -> StoreResult<PolicySettings>;
    /// Replaces the enterprise's policy, with its audit rows, in one transaction.
    async fn set_enterprise_policy(
        &self,
        id: EnterpriseId,
        policy: &PolicySettings,
        audit: &[NewAuditEvent],
    ) -> StoreResult<()>;
    /// Makes `user` an owner of the enterprise (`owner`), or not; reports whether that changed
    /// anything. The user must exist (`NotFound`).
    async fn set_enterprise_owner(
        &self,
        id: EnterpriseId,
        user: AccountId,
        owner: bool,
    ) -> StoreResult<bool>;
    /// The enterprise's owners, by login.
    async fn enterprise_owners(&self, id: EnterpriseId) -> StoreResult<Vec<User>>;
    /// The enterprises `user` owns, by slug.
    async fn enterprises_owned_by(&self, user: AccountId) -> StoreResult<Vec<Enterprise>>;
    /// The organizations of the enterprise, by login.
    async fn orgs_of_enterprise(&self, id: EnterpriseId) -> StoreResult<Vec<Organization>>;

    async fn upsert_org(
        &self,
        login: &str,
        enterprise: Option<EnterpriseId>,
        base_permission: RepoRole,
        now: OffsetDateTime,
    ) -> StoreResult<(Organization, Upserted)>;
    async fn org_by_id(&self, id: AccountId) -> StoreResult<Option<Organization>>;
    async fn org_by_login(&self, login: &str) -> StoreResult<Option<Organization>>;
    async fn list_orgs(&self) -> StoreResult<Vec<Organization>>;
    async fn org_policy(&self, org: AccountId) -> StoreResult<PolicySettings>;
    /// Replaces the organization's own settings (for seeding, without an audit row use `upsert_org_policy`).
    async fn set_org_policy(
        &self,
        org: AccountId,
        policy: &PolicySettings,
        audit: &[NewAuditEvent],
    ) -> StoreResult<()>;
    /// Sets the policy if it differs; reports whether it changed. No audit (seeding).
    async fn upsert_org_policy(
        &self,
        org: AccountId,
        policy: &PolicySettings,
    ) -> StoreResult<Upserted>;

    /// Adds the member or changes their role.
    async fn upsert_membership(
        &self,
        org: AccountId,
        user: AccountId,
        role: OrgRole,
    ) -> StoreResult<Upserted>;
    /// Removes the member; returns whether they were one.
    async fn remove_membership(&self, org: AccountId, user: AccountId) -> StoreResult<bool>;
    async fn membership(&self, org: AccountId, user: AccountId) -> StoreResult<Option<OrgRole>>;
    async fn org_members(&self, org: AccountId) -> StoreResult<Vec<(User, OrgRole)>>;
    async fn orgs_of_user(&self, user: AccountId) -> StoreResult<Vec<(Organization, OrgRole)>>;
    /// The user belongs to some organization of the enterprise.
    async fn is_enterprise_member(
        &self,
        user: AccountId,
        enterprise: EnterpriseId,
    ) -> StoreResult<bool>;

    async fn upsert_repo(
        &self,
        owner: AccountId,
        name: &str,
        visibility: Visibility,
        description: Option<&str>,
        now: OffsetDateTime,
    ) -> StoreResult<(Repository, Upserted)>;
    async fn repo_by_id(&self, id: RepoId) -> StoreResult<Option<Repository>>;
    async fn repo_by_name(&self, owner_login: &str, name: &str) -> StoreResult<Option<Repository>>;
    async fn repos_of_owner(&self, owner: AccountId) -> StoreResult<Vec<Repository>>;
    async fn repos_by_ids(&self, ids: &[RepoId]) -> StoreResult<Vec<Repository>>;
    async fn upsert_collaborator(
        &self,
        repo: RepoId,
        user: AccountId,
        role: RepoRole,
    ) -> StoreResult<Upserted>;
    async fn remove_collaborator(&self, repo: RepoId, user: AccountId) -> StoreResult<bool>;
    async fn collaborator_role(
        &self,
        repo: RepoId,
        user: AccountId,
    ) -> StoreResult<Option<RepoRole>>;

    /// What a user's rights on a repository depend on, in one read (one round trip on the SQL
    /// stores): the user's role in the owning organization with its base permission
    /// (`owner` is the repository's owner account; `None` when the user is not a member, or
    /// the owner is a user), the user's collaborator role on `repo`, and, when `enterprise`
    /// is given, whether the user belongs to some organization of it. The default asks the
    /// separate lookups; an organization that is gone while its membership row is still read
    /// is `NotFound`, as `org_by_id` would report it.
    async fn repo_standing(
        &self,
        repo: RepoId,
        owner: AccountId,
        user: AccountId,
        enterprise: Option<EnterpriseId>,
    ) -> StoreResult<RepoStanding> {
        let org = match self.membership(owner, user).await? {
            Some(role) => {
                let org = self.org_by_id(owner).await?.ok_or(StoreError::NotFound)?;
                Some((role, org.base_permission))
            }
            None => None,
        };
        let collaborator = self.collaborator_role(repo, user).await?;
        let enterprise_member = match enterprise {
            Some(ent) => self.is_enterprise_member(user, ent).await?,
            None => false,
        };
        Ok(RepoStanding {
            org,
            collaborator,
            enterprise_member,
        })
    }
}

/// A user's standing towards one repository ([`DirectoryStore::repo_standing`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepoStanding {
    /// The user's role in the owning organization, and the organization's base permission.
    pub org: Option<(OrgRole, RepoRole)>,
    /// The user's collaborator role on the repository.
    pub collaborator: Option<RepoRole>,
    /// The user belongs to some organization of the enterprise asked about.
    pub enterprise_member: bool,
}

/// Tokens as rows. These methods write the token alone: requests and grants change only through
/// [`GovernanceStore::apply`], with the changes the domain's transitions compute.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_token(&self, token: &NewToken, audit: &[NewAuditEvent]) -> StoreResult<Token> {
        self.insert_token_with_outbox(token, audit, &[]).await
    }
    /// [`insert_token`](TokenStore::insert_token), with the messages the creation sends, in the
    /// same transaction (`{token}` in their keys and a null `token_id` name the new token).
    async fn insert_token_with_outbox(
        &self,
        token: &NewToken,
        audit: &[NewAuditEvent],
        outbox: &[outbox::NewOutboxMessage],
    ) -> StoreResult<Token>;
    async fn token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<Token>>;
    async fn token_by_id(&self, id: TokenId) -> StoreResult<Option<Token>>;
    /// The user's personal access tokens (not app installation tokens), newest first.
    async fn tokens_of_user(&self, user: AccountId) -> StoreResult<Vec<Token>>;
    /// One page of the user's tokens of `kind`, newest first (ties: newest id first), or
    /// oldest first when the page asks.
    async fn tokens_page(
        &self,
        user: AccountId,
        kind: patgate_domain::token::TokenKind,
        page: PageQuery,
    ) -> StoreResult<Listing<Token>>;
    /// Replaces the description and the grant (an edit); returns the new row.
    async fn update_token(
        &self,
        id: TokenId,
        description: Option<&str>,
        grant: &TokenGrant,
        audit: &[NewAuditEvent],
    ) -> StoreResult<Token>;
    /// Swaps the secret: new hash, last eight, issue time and expiry; same id.
    async fn regenerate_token(
        &self,
        id: TokenId,
        hash: &TokenHash,
        last_eight: &str,
        issued_at: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
        audit: &[NewAuditEvent],
    ) -> StoreResult<Token>;
    /// Deletes the token and the deploy keys it created (seed 004), in one transaction.
    /// Returns the deleted token and the ids of the deleted keys.
    async fn delete_token(
        &self,
        id: TokenId,
        audit: &[NewAuditEvent],
    ) -> StoreResult<(Token, Vec<KeyId>)> {
        self.delete_token_with_outbox(id, audit, &[]).await
    }
    /// [`delete_token`](TokenStore::delete_token), with the messages the deletion sends, in the
    /// same transaction.
    async fn delete_token_with_outbox(
        &self,
        id: TokenId,
        audit: &[NewAuditEvent],
        outbox: &[outbox::NewOutboxMessage],
    ) -> StoreResult<(Token, Vec<KeyId>)>;
    /// Records last-used times in one batch; only moves a time forward.
    async fn record_last_used(&self, uses: &[(TokenId, OffsetDateTime)]) -> StoreResult<()>;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewKey {
    pub title: String,
    pub key: String,
    pub repo: Option<RepoId>,
    pub user: AccountId,
    pub read_only: bool,
    pub created_by_token: Option<TokenId>,
    pub created_at: OffsetDateTime,
}

/// The part of an OpenSSH public key line that identifies the key: its type and data, not its
/// comment.
pub fn key_material(key: &str) -> String {
    key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Inserts a key, unless a key with the same material (type and data) is stored already,
    /// as anyone's user key or as any repository's deploy key: `UniqueViolation("key")`, as
    /// GitHub refuses a key "already in use". Checked and inserted in one transaction, so two
    /// concurrent insertions of one key cannot both succeed.
    async fn insert_key(&self, key: &NewKey) -> StoreResult<Key>;
    async fn user_keys(&self, user: AccountId) -> StoreResult<Vec<Key>>;
    async fn deploy_keys(&self, repo: RepoId) -> StoreResult<Vec<Key>>;
    async fn key_by_id(&self, id: KeyId) -> StoreResult<Option<Key>>;
    async fn delete_key(&self, id: KeyId) -> StoreResult<bool>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, event: &NewAuditEvent) -> StoreResult<()>;
    async fn audit_events(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>>;
    /// How many events the query's filters match, over all its pages.
    async fn count_audit_events(&self, query: &AuditQuery) -> StoreResult<u64>;
}

/// A change that every process must honour at once (cross-replica cache invalidation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A token was edited, regenerated, deleted or had its grant changed.
    Token(TokenId),
    /// Anything in the directory: users, organizations, memberships, repositories,
    /// collaborators, policies.
    Directory,
    /// Notifications may have been missed (the connection to the database was lost): forget
    /// everything cached.
    Everything,
    /// Another process asks every replica to confirm that it has applied the changes announced
    /// before this one ([`Store::barrier`]): acknowledge it with [`Store::acknowledge`] once
    /// they are applied.
    Barrier(String),
}

/// What [`Store::barrier`] found: the live replicas that confirmed, and those that did not
/// within the time allowed (stopped, or cut off from the change feed: they will forget
/// everything when they reconnect).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BarrierOutcome {
    pub acknowledged: Vec<String>,
    pub missing: Vec<String>,
}

/// Scheduled jobs, run once per period across every process.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Claims the run of `job` for `period` (e.g. `2026-11-21` for a daily job). Exactly one
    /// caller, across every process sharing the database, gets `true`.
    async fn claim_job_run(
        &self,
        job: &str,
        period: &str,
        holder: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Who claimed a run, if anyone.
    async fn job_run_holder(&self, job: &str, period: &str) -> StoreResult<Option<String>>;
    /// Personal access tokens (not app installation tokens) not used since `cutoff`: last used
    /// before it (or never), and their current secret issued before it too (a token never used
    /// counts from when its secret was issued; a regenerated one is as good as new). By id.
    async fn tokens_unused_since(&self, cutoff: OffsetDateTime) -> StoreResult<Vec<TokenId>>;
    /// Personal access tokens (not app installation tokens) whose expiry falls in
    /// `(after, until]`, by expiry, then id.
    async fn tokens_expiring_between(
        &self,
        after: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<Vec<Token>>;
    /// The organizations with at least one pending request, by id.
    async fn orgs_with_pending_requests(&self) -> StoreResult<Vec<AccountId>>;
}

/// Every row of every table, for moving an installation between backends (ids preserved).
pub mod dump;

/// How often a serving process records its heartbeat ([`Store::heartbeat`]).
pub const HEARTBEAT_SECS: i64 = 5;
/// A replica whose last heartbeat is older than this is no longer waited for by barriers.
pub const REPLICA_LIVENESS_SECS: i64 = 15;

/// A request for a fine-grained token's access to an organization (rule 7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    pub id: RequestId,
    pub token_id: TokenId,
    pub org: AccountId,
    /// The token's user.
    pub user: AccountId,
    /// The requester's justification.
    pub reason: Option<String>,
    /// The access asked for, as it was when the request was made.
    pub access: TokenAccess,
    pub created_at: OffsetDateTime,
    pub status: RequestStatus,
    pub decided_at: Option<OffsetDateTime>,
    pub decided_by: Option<AccountId>,
    /// The reviewer's reason (≤ 1024), shown to the requester.
    pub decision_reason: Option<String>,
}

/// An organization's grant: one per fine-grained token whose access to the organization is in
/// force (the domain keeps it in step with the token: `patgate_domain::governance`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub id: GrantId,
    pub token_id: TokenId,
    pub org: AccountId,
    pub access_granted_at: OffsetDateTime,
}

/// An app an organization registered: its installation mints one-hour app tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRecord {
    pub id: AppId,
    pub org: AccountId,
    pub name: String,
    pub permissions: PermissionSet,
    pub created_by: Option<AccountId>,
    pub created_at: OffsetDateTime,
}

/// What [`GovernanceStore::apply`] wrote: the tokens it inserted or updated, as stored now (the
/// inserted one first), and the ids of the requests it recorded, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub tokens: Vec<Token>,
    pub requests: Vec<RequestId>,
}

/// Organization governance: approval requests, grants, apps (seeds 000-003).
///
/// The store decides nothing here: the domain's transitions (`patgate_domain::governance`) say
/// what changes, and [`apply`](GovernanceStore::apply) writes it in one transaction.
#[async_trait]
pub trait GovernanceStore: Send + Sync {
    /// Applies every change or none, in one transaction, in the order `Changes` documents. The
    /// conditions are checked inside it, and the first that fails, in the order given, is
    /// named: a fine-grained insert over `max_fine_grained` is `LimitReached`, over a name the
    /// user's fine-grained tokens already have (case-insensitively) `NameTaken`; a token whose
    /// grant is no longer `expected` is `Conflict` ("token N changed meanwhile"); a request to
    /// close that is gone is `Missing` ("request N"), one that is no longer pending `Conflict`
    /// ("request N is not pending"), one of another token `Conflict`; a grant to remove that is
    /// gone is `Missing` ("grant N"), one of another token `Conflict`. Audit records that name
    /// no token get the inserted token's id.
    async fn apply(&self, changes: &Changes) -> StoreResult<Applied> {
        self.apply_with_outbox(changes, &[]).await
    }
    /// [`apply`](GovernanceStore::apply), with the messages the changes send, in the same
    /// transaction (`{token}` and `{request}` in their keys, and null `token_id` and
    /// `request_id`, name what the changes insert).
    async fn apply_with_outbox(
        &self,
        changes: &Changes,
        outbox: &[outbox::NewOutboxMessage],
    ) -> StoreResult<Applied>;
    /// A token with its pending request and its grant row, from one snapshot.
    async fn standing(&self, token: TokenId) -> StoreResult<Option<Standing>>;
    /// [`standing`](GovernanceStore::standing) of several tokens at once (unknown ids left out),
    /// by token id.
    async fn standings(&self, tokens: &[TokenId]) -> StoreResult<Vec<Standing>>;
    /// The standings of the user's fine-grained tokens whose resource owner is `org`.
    async fn standings_in_org(&self, user: AccountId, org: AccountId)
    -> StoreResult<Vec<Standing>>;
    async fn request_by_id(&self, id: RequestId) -> StoreResult<Option<TokenRequest>>;
    /// The requests that exist among `ids` (unknown ids left out), by id.
    async fn requests_by_ids(&self, ids: &[RequestId]) -> StoreResult<Vec<TokenRequest>>;
    /// One page of the organization's pending requests that pass `filter`, by creation time
    /// (ties by id), with their tokens and users.
    async fn list_requests(
        &self,
        org: AccountId,
        filter: &OrgTokenFilter,
        page: PageQuery,
    ) -> StoreResult<Listing<RequestListing>>;
    /// One page of the organization's grants that pass `filter`, by the time access was granted
    /// (ties by id), with their tokens and users.
    async fn list_grants(
        &self,
        org: AccountId,
        filter: &OrgTokenFilter,
        page: PageQuery,
    ) -> StoreResult<Listing<GrantListing>>;
    /// Each token's latest request (of any status), for the tokens that have one.
    async fn latest_requests(&self, tokens: &[TokenId]) -> StoreResult<Vec<TokenRequest>>;
    /// The organization's requests in `status` (every status when `None`), oldest first.
    async fn requests_of_org(
        &self,
        org: AccountId,
        status: Option<RequestStatus>,
    ) -> StoreResult<Vec<TokenRequest>>;
    async fn pending_request_of_token(&self, token: TokenId) -> StoreResult<Option<TokenRequest>>;
    /// The token's most recent request, whatever its status (what its page shows, with the
    /// reviewer's reason).
    async fn latest_request_of_token(&self, token: TokenId) -> StoreResult<Option<TokenRequest>>;
    async fn grant_by_id(&self, id: GrantId) -> StoreResult<Option<Grant>>;
    /// The grants that exist among `ids` (unknown ids left out), by id.
    async fn grants_by_ids(&self, ids: &[GrantId]) -> StoreResult<Vec<Grant>>;
    async fn grant_of_token(&self, token: TokenId) -> StoreResult<Option<Grant>>;
    /// The organization's grants, oldest first.
    async fn grants_of_org(&self, org: AccountId) -> StoreResult<Vec<Grant>>;
    async fn insert_app(
        &self,
        org: AccountId,
        name: &str,
        permissions: &PermissionSet,
        created_by: Option<AccountId>,
        now: OffsetDateTime,
        audit: &[NewAuditEvent],
    ) -> StoreResult<AppRecord>;
    async fn app_by_id(&self, id: AppId) -> StoreResult<Option<AppRecord>>;
    async fn apps_of_org(&self, org: AccountId) -> StoreResult<Vec<AppRecord>>;
}

/// A web session to record at sign-in (only the hash of its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub hash: SessionHash,
    pub user: AccountId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// The browser's `User-Agent`, for the user's list of sessions.
    pub user_agent: Option<String>,
    /// The client's address at sign-in.
    pub ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user: AccountId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// Web sessions (the UI's sign-in). Stored by the hash of their secret; every process reads the
/// same rows, so a sign-in or a sign-out is seen by every replica at once.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records a new session, and deletes the session the browser had before (`replaces`), in
    /// one transaction: the session id is rotated at sign-in.
    async fn insert_session(
        &self,
        session: &NewSession,
        replaces: Option<&SessionHash>,
    ) -> StoreResult<Session>;
    async fn session_by_hash(&self, hash: &SessionHash) -> StoreResult<Option<Session>>;
    /// Moves the session's last-seen time forward (never back).
    async fn touch_session(&self, id: SessionId, at: OffsetDateTime) -> StoreResult<()>;
    /// Ends one session of `user`; false when it is not theirs or already gone.
    async fn delete_session(&self, user: AccountId, id: SessionId) -> StoreResult<bool>;
    /// The user's sessions, most recently seen first.
    async fn sessions_of_user(&self, user: AccountId) -> StoreResult<Vec<Session>>;
    /// Ends every session of `user` but `except`; how many ended.
    async fn delete_sessions_of_user(
        &self,
        user: AccountId,
        except: Option<SessionId>,
    ) -> StoreResult<u64>;
    /// Deletes the sessions past their absolute expiry or idle since before `idle_before`.
    async fn delete_stale_sessions(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> StoreResult<u64>;
}

/// One change to the directory, naming what it changes by login and name, so that a batch can
/// refer to what an earlier change of the same batch creates. [`DirectoryAdmin::apply_directory`]
/// applies a batch in order, in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectoryChange {
    /// Creates the user, or updates them to match (a password hash of `None` keeps theirs).
    UpsertUser(NewUser),
    /// Creates the user; the login taken (by a user or an organization) is `UniqueViolation`.
    CreateUser(NewUser),
    /// A user's or an organization's new login; taken: `UniqueViolation`.
    RenameAccount {
        login: String,
        new_login: String,
    },
    /// Suspends the user (`Some`: since when, ending their web sessions) or lifts it (`None`).
    SetSuspended {
        login: String,
        suspended_at: Option<OffsetDateTime>,
    },
    /// Deletes the user with everything that is theirs: tokens, keys, sessions, memberships,
    /// collaborations, repositories.
    DeleteUser {
        login: String,
    },
    /// Creates the enterprise if it does not exist (its policy is left as it is).
    UpsertEnterprise {
        slug: String,
    },
    /// Creates the organization, or updates its base permission and enterprise to match.
    UpsertOrg {
        login: String,
        enterprise: Option<String>,
        base_permission: RepoRole,
    },
    /// Creates the organization; the login taken: `UniqueViolation`.
    CreateOrg {
        login: String,
        base_permission: RepoRole,
    },
    /// Moves the organization into an enterprise, or out of its enterprise (`None`); leaving an
    /// enterprise makes its internal repositories private.
    SetOrgEnterprise {
        org: String,
        enterprise: Option<String>,
    },
    /// Adds the member or changes their role.
    SetMembership {
        org: String,
        user: String,
        role: OrgRole,
    },
    RemoveMembership {
        org: String,
        user: String,
    },
    /// Creates the repository, or updates it to match.
    UpsertRepo {
        owner: String,
        name: String,
        visibility: Visibility,
        description: Option<String>,
    },
    /// Creates the repository; the name taken: `UniqueViolation`.
    CreateRepo {
        owner: String,
        name: String,
        visibility: Visibility,
        description: Option<String>,
    },
    /// Renames the repository, changes its visibility or its description (`None`: as it is).
    UpdateRepo {
        owner: String,
        name: String,
        new_name: Option<String>,
        visibility: Option<Visibility>,
        description: Option<Option<String>>,
    },
    /// Gives the repository to another owner (under a new name, maybe). Tokens lose it from
    /// their selections: a grant never follows a repository to another owner.
    TransferRepo {
        owner: String,
        name: String,
        new_owner: String,
        new_name: Option<String>,
    },
    DeleteRepo {
        owner: String,
        name: String,
    },
    SetCollaborator {
        owner: String,
        name: String,
        user: String,
        role: RepoRole,
    },
    RemoveCollaborator {
        owner: String,
        name: String,
        user: String,
    },
    SetEnterpriseOwner {
        slug: String,
        user: String,
        owner: bool,
    },
}

/// A directory change with the audit event to record if it changes anything (an event whose
/// `org` is `None` gets the organization the change concerns, if any).
#[derive(Clone, Debug, PartialEq)]
pub struct DirectoryOp {
    pub change: DirectoryChange,
    pub audit: Option<NewAuditEvent>,
}

/// Directory changes and the token changes that go with them (a member's grants taken back),
/// applied together or not at all.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectoryBatch {
    /// When the changes are made (the creation time of what they create).
    pub at: OffsetDateTime,
    pub ops: Vec<DirectoryOp>,
    /// Applied after the ops: the domain's changes (`patgate_domain::governance::lose_access`,
    /// `rejoin`), checked as [`GovernanceStore::apply`] checks them.
    pub governance: Changes,
    /// The messages the governance changes send, written with them (as
    /// [`GovernanceStore::apply_with_outbox`] writes them).
    pub outbox: Vec<outbox::NewOutboxMessage>,
    /// Roll the transaction back at the end: what the batch would do, done to nothing.
    pub dry_run: bool,
}

/// What one [`DirectoryOp`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpOutcome {
    Created,
    Updated,
    Unchanged,
    /// Removed or deleted.
    Removed,
    /// Nothing to remove.
    Absent,
}

impl OpOutcome {
    pub fn changed(self) -> bool {
        matches!(
            self,
            OpOutcome::Created | OpOutcome::Updated | OpOutcome::Removed
        )
    }
}

impl From<Upserted> for OpOutcome {
    fn from(u: Upserted) -> Self {
        match u {
            Upserted::Created => OpOutcome::Created,
            Upserted::Updated => OpOutcome::Updated,
            Upserted::Unchanged => OpOutcome::Unchanged,
        }
    }
}

/// The directory as the operator's API and sync change it.
#[async_trait]
pub trait DirectoryAdmin: Send + Sync {
    /// Applies the batch in one transaction, all or nothing: each op in order, then the
    /// governance changes (checked as [`GovernanceStore::apply`] checks them). A name an op refers to
    /// that does not exist is `Missing` ("user bob", "organization acme", "repository
    /// acme/api", "enterprise corp"), a user where an organization is expected (or the reverse)
    /// too; a name taken is `UniqueViolation` naming it. Returns each op's outcome, in order.
    async fn apply_directory(&self, batch: &DirectoryBatch) -> StoreResult<Vec<OpOutcome>>;
    /// Since when the user is suspended (`None`: not suspended, or no such user).
    async fn user_suspended_at(&self, user: AccountId) -> StoreResult<Option<OffsetDateTime>>;
    /// Every collaborator of the repository, by login.
    async fn collaborators(&self, repo: RepoId) -> StoreResult<Vec<(User, RepoRole)>>;
}

/// Everything a patgate process needs from its database.
#[async_trait]
pub trait Store:
    DirectoryStore
    + DirectoryAdmin
    + TokenStore
    + KeyStore
    + AuditStore
    + JobStore
    + GovernanceStore
    + SessionStore
    + OutboxStore
    + WebhookStore
    + EmailVerificationStore
{
    /// Changes made by any process sharing the database (this one included), as the database
    /// announces them; a new receiver per call. `None` when the backend serves a single process
    /// (SQLite), where the in-process invalidation suffices. A receiver that falls behind
    /// (`RecvError::Lagged`) must forget everything, as for [`Change::Everything`].
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        None
    }
    /// Records that this process serves (a replica, which acknowledges barriers), at `now`;
    /// `serve` calls it every [`HEARTBEAT_SECS`]. Single-process backends ignore it.
    async fn heartbeat(&self, now: OffsetDateTime) -> StoreResult<()> {
        let _ = now;
        Ok(())
    }
    /// Leaves the replicas (at shutdown), so that barriers stop waiting for this process.
    async fn leave(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Waits until every live replica (a heartbeat within [`REPLICA_LIVENESS_SECS`] of `now`)
    /// has applied every change committed before the call, or `timeout` passes: announces a
    /// [`Change::Barrier`] after them and collects the acknowledgements. Single-process
    /// backends return at once (their invalidation is synchronous).
    async fn barrier(
        &self,
        now: OffsetDateTime,
        timeout: std::time::Duration,
    ) -> StoreResult<BarrierOutcome> {
        let _ = (now, timeout);
        Ok(BarrierOutcome::default())
    }
    /// Confirms a [`Change::Barrier`] (after applying every change received before it).
    async fn acknowledge(&self, barrier: &str) -> StoreResult<()> {
        let _ = barrier;
        Ok(())
    }
    /// Every row, for a copy to another backend, from one snapshot.
    async fn export_dump(&self) -> StoreResult<dump::Dump>;
    /// Loads a dump into an empty database in one transaction (all or nothing), keeping ids and
    /// moving id sequences past them and past the ids the audit log mentions
    /// ([`dump::Dump::highest_ids`]). Refuses (`Conflict`) when the database already holds
    /// accounts or enterprises; a dangling reference in the dump is `Conflict` too. Other
    /// processes are told to forget everything ([`Change::Everything`]).
    async fn import_dump(&self, dump: &dump::Dump) -> StoreResult<()>;
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Cheap liveness probe.
    async fn ping(&self) -> StoreResult<()>;
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}
