//! Every row of every table, backend-neutral, for `patgate copy` (SQLite → PostgreSQL and back).
//!
//! The rows are the tables' columns as stored, in the encodings of [`crate::codec`]: enums as
//! their `as_str()` names, permission sets and scopes as text, timestamps as unix seconds,
//! booleans as `bool`, token hashes as their 32 bytes. Ids are kept, so every reference stays
//! valid; the lower-cased copies of names (`login_lower`, ...) are not carried: the importing
//! backend computes them. Rows are in primary-key order, so two exports of the same data are
//! equal whichever backend produced them.

/// A whole database.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dump {
    pub enterprises: Vec<EnterpriseRow>,
    pub accounts: Vec<AccountRow>,
    pub org_policies: Vec<OrgPolicyRow>,
    pub memberships: Vec<MembershipRow>,
    pub repositories: Vec<RepositoryRow>,
    pub collaborators: Vec<CollaboratorRow>,
    pub tokens: Vec<TokenRow>,
    pub token_repositories: Vec<TokenRepositoryRow>,
    pub keys: Vec<KeyRow>,
    pub audit_events: Vec<AuditEventRow>,
    pub job_runs: Vec<JobRunRow>,
    pub token_requests: Vec<TokenRequestRow>,
    pub request_repositories: Vec<RequestRepositoryRow>,
    pub grants: Vec<GrantRow>,
    pub apps: Vec<AppRow>,
    pub enterprise_owners: Vec<EnterpriseOwnerRow>,
    pub webhooks: Vec<WebhookRow>,
    pub user_suspensions: Vec<UserSuspensionRow>,
}

impl Dump {
    /// Rows in all tables.
    pub fn row_count(&self) -> usize {
        self.enterprises.len()
            + self.accounts.len()
            + self.org_policies.len()
            + self.memberships.len()
            + self.enterprise_owners.len()
            + self.webhooks.len()
            + self.user_suspensions.len()
            + self.repositories.len()
            + self.collaborators.len()
            + self.tokens.len()
            + self.token_repositories.len()
            + self.keys.len()
            + self.audit_events.len()
            + self.job_runs.len()
            + self.token_requests.len()
            + self.request_repositories.len()
            + self.grants.len()
            + self.apps.len()
    }
}

impl Dump {
    /// For each table whose ids the backend generates (`AUTOINCREMENT`, identity columns), the
    /// highest id the dump holds or mentions (0 when none): ids generated after an import must
    /// be past it. The audit log outlives what it talks about,
    /// so the accounts and tokens it names count too: a deleted token's id never comes back as
    /// another token's.
    pub fn highest_ids(&self) -> [(&'static str, i64); 10] {
        fn max(ids: impl Iterator<Item = i64>) -> i64 {
            ids.max().unwrap_or(0).max(0)
        }
        let audit = &self.audit_events;
        [
            ("enterprises", max(self.enterprises.iter().map(|e| e.id))),
            (
                "accounts",
                max(self
                    .accounts
                    .iter()
                    .map(|a| a.id)
                    .chain(audit.iter().filter_map(|e| e.actor_id))
                    .chain(audit.iter().filter_map(|e| e.org_id))),
            ),
            ("repositories", max(self.repositories.iter().map(|r| r.id))),
            (
                "tokens",
                max(self
                    .tokens
                    .iter()
                    .map(|t| t.id)
                    .chain(audit.iter().filter_map(|e| e.token_id))),
            ),
            ("keys", max(self.keys.iter().map(|k| k.id))),
            ("audit_events", max(audit.iter().map(|e| e.id))),
            (
                "token_requests",
                max(self.token_requests.iter().map(|r| r.id)),
            ),
            ("grants", max(self.grants.iter().map(|g| g.id))),
            ("apps", max(self.apps.iter().map(|a| a.id))),
            ("webhooks", max(self.webhooks.iter().map(|w| w.id))),
        ]
    }
}

/// Policy columns, the same in `enterprises` and `org_policies` (`None` is "not set").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyCols {
    /// `allow` or `restrict`.
    pub fine_grained: Option<String>,
    /// `allow` or `restrict`.
    pub classic: Option<String>,
    /// `require` or `disable`.
    pub approval: Option<String>,
    pub fine_grained_max_lifetime_days: Option<i64>,
    pub classic_max_lifetime_days: Option<i64>,
    pub exempt_administrators: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnterpriseRow {
    pub id: i64,
    pub slug: String,
    pub policy: PolicyCols,
}

/// A user or an organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub id: i64,
    /// `user` or `organization`.
    pub kind: String,
    pub login: String,
    pub created_at: i64,
    pub email: Option<String>,
    pub email_verified: bool,
    pub site_admin: bool,
    /// An argon2 PHC string.
    pub password_hash: Option<String>,
    pub enterprise_id: Option<i64>,
    pub base_permission: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgPolicyRow {
    pub org_id: i64,
    pub policy: PolicyCols,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: i64,
    pub org_id: i64,
    pub url: String,
    pub secret: Option<String>,
    pub events: String,
    pub active: bool,
    pub created_at: i64,
    pub created_by: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnterpriseOwnerRow {
    pub enterprise_id: i64,
    pub user_id: i64,
}

/// A suspended user (the directory API's `PUT /users/{username}/suspended`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSuspensionRow {
    pub user_id: i64,
    pub suspended_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipRow {
    pub org_id: i64,
    pub user_id: i64,
    /// `member` or `owner`.
    pub role: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositoryRow {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub visibility: String,
    pub description: Option<String>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollaboratorRow {
    pub repo_id: i64,
    pub user_id: i64,
    pub role: String,
}

/// Every column of `tokens` (those of the other kinds are `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    /// `fine_grained`, `classic` or `app_installation`.
    pub kind: String,
    pub user_id: i64,
    /// SHA-256 of the token (32 bytes).
    pub hash: Vec<u8>,
    pub last_eight: String,
    pub name: String,
    pub description: Option<String>,
    pub justification: Option<String>,
    pub created_at: i64,
    pub issued_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub resource_owner_id: Option<i64>,
    pub resource_owner_kind: Option<String>,
    pub requested_selection: Option<String>,
    pub requested_permissions: Option<String>,
    pub granted_selection: Option<String>,
    pub granted_permissions: Option<String>,
    pub grant_state: Option<String>,
    pub scopes: Option<String>,
    pub app_org_id: Option<i64>,
    pub app_permissions: Option<String>,
}

/// A repository of a fine-grained token's `subset` selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRepositoryRow {
    pub token_id: i64,
    pub repo_id: i64,
    /// `false`: the requested access; `true`: the granted access.
    pub granted: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    pub id: i64,
    pub title: String,
    pub public_key: String,
    pub repo_id: Option<i64>,
    pub user_id: i64,
    pub read_only: bool,
    pub created_by_token: Option<i64>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditEventRow {
    pub id: i64,
    pub action: String,
    pub actor_id: Option<i64>,
    pub actor_login: Option<String>,
    pub org_id: Option<i64>,
    pub token_id: Option<i64>,
    pub data: serde_json::Value,
    pub created_at: i64,
}

/// A claimed run of a scheduled job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRunRow {
    pub job: String,
    pub period: String,
    pub holder: String,
    pub claimed_at: i64,
}

/// An organization's approval request, with the access asked for as it was then (the
/// repositories of a `subset` selection are rows of `request_repositories`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequestRow {
    pub id: i64,
    pub token_id: i64,
    pub org_id: i64,
    pub user_id: i64,
    pub reason: Option<String>,
    pub requested_selection: String,
    pub requested_permissions: String,
    pub created_at: i64,
    /// `pending`, `approved`, `denied` or `cancelled`.
    pub status: String,
    pub decided_at: Option<i64>,
    pub decided_by: Option<i64>,
    pub decision_reason: Option<String>,
}

/// A repository of a request's `subset` selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRepositoryRow {
    pub request_id: i64,
    pub repo_id: i64,
}

/// An organization's grant to a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRow {
    pub id: i64,
    pub token_id: i64,
    pub org_id: i64,
    pub access_granted_at: i64,
}

/// An app an organization registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRow {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub permissions: String,
    pub created_by: Option<i64>,
    pub created_at: i64,
}
