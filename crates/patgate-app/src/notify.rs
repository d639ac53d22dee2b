//! What patgate tells people (issue 12), decided with the change that causes it.
//!
//! A use case that changes something worth telling builds its messages here and hands them to
//! the store with the change (`*_with_outbox`), so a message exists if and only if its change
//! does. A message is a snapshot ([`Envelope`]): what the reader needs, as the change saw it.
//! The server renders it when it delivers (email templates; GitHub's webhook body), so a
//! message sent an hour late still says what happened, not what is true now.
//!
//! Email goes only to verified addresses (a verification link is the exception: it is what
//! verifies one). Every message has a dedupe key naming the event, so the same event written
//! twice (a job run again, a retried request) is one message.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use patgate_domain::catalog::{PermissionGroup, PermissionSet};
use patgate_domain::governance::{Changes, Standing};
use patgate_domain::model::{
    AccountId, GrantState, Organization, RepoId, Repository, RepositorySelection, RequestId, Token,
    TokenAccess, TokenGrant, TokenId, User,
};
use patgate_store::{Account, Channel, NewOutboxMessage, StoreError, Webhook};

use crate::{App, AppError};

/// The webhook event patgate delivers (GitHub's name).
pub const REQUEST_EVENT: &str = "personal_access_token_request";

/// A message's payload: the ids it is about (filled in by the store when the same change
/// inserts them) and what it says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub token_id: Option<i64>,
    pub request_id: Option<i64>,
    #[serde(flatten)]
    pub notice: Notice,
}

impl Envelope {
    pub fn from_payload(payload: &serde_json::Value) -> Result<Envelope, serde_json::Error> {
        Envelope::deserialize(payload)
    }
}

/// Everything patgate says, each with what its reader needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// A security notice: a token was added to the account (GitHub sends one too).
    TokenCreated {
        user: Person,
        token: TokenFacts,
    },
    RequestApproved {
        user: Person,
        token: TokenFacts,
        org: OrgFacts,
        reviewer: Option<String>,
        access: AccessFacts,
    },
    RequestDenied {
        user: Person,
        token: TokenFacts,
        org: OrgFacts,
        reviewer: Option<String>,
        reason: Option<String>,
        access: AccessFacts,
    },
    /// The organization took back what it had granted (an owner, or the user left it).
    AccessRevoked {
        user: Person,
        token: TokenFacts,
        org: OrgFacts,
        by: Option<String>,
        explanation: Option<String>,
    },
    /// Someone submitted the token to `POST /credentials/revoke`; it is deleted.
    CredentialRevoked {
        user: Person,
        token: TokenFacts,
    },
    ExpiresSoon {
        user: Person,
        token: TokenFacts,
        days_left: i64,
    },
    Expired {
        user: Person,
        token: TokenFacts,
    },
    /// Deleted after a year unused (seed 004).
    RemovedUnused {
        user: Person,
        token: TokenFacts,
    },
    /// The daily list of what awaits an owner's review.
    PendingDigest {
        user: Person,
        org: OrgFacts,
        day: String,
        total: u64,
        requests: Vec<DigestItem>,
    },
    /// The link that verifies the address (its secret travels in the message's `secret`).
    VerifyEmail {
        user: Person,
        email: String,
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// GitHub's `personal_access_token_request` webhook event.
    PersonalAccessTokenRequest(RequestEvent),
    /// GitHub's `ping` event: sent when a webhook is created, and on request.
    Ping {
        hook_id: i64,
        org: OrgFacts,
        sender: Person,
    },
}

impl Notice {
    /// The renderer's key, and the outbox's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::TokenCreated { .. } => "token_created",
            Notice::RequestApproved { .. } => "request_approved",
            Notice::RequestDenied { .. } => "request_denied",
            Notice::AccessRevoked { .. } => "access_revoked",
            Notice::CredentialRevoked { .. } => "credential_revoked",
            Notice::ExpiresSoon { .. } => "expires_soon",
            Notice::Expired { .. } => "expired",
            Notice::RemovedUnused { .. } => "removed_unused",
            Notice::PendingDigest { .. } => "pending_digest",
            Notice::VerifyEmail { .. } => "verify_email",
            Notice::PersonalAccessTokenRequest(_) => REQUEST_EVENT,
            Notice::Ping { .. } => "ping",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    pub login: String,
    pub site_admin: bool,
}

impl Person {
    pub fn of(u: &User) -> Person {
        Person {
            id: u.id.0,
            login: u.login.clone(),
            site_admin: u.site_admin,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgFacts {
    pub id: i64,
    pub login: String,
}

impl OrgFacts {
    pub fn of(o: &Organization) -> OrgFacts {
        OrgFacts {
            id: o.id.0,
            login: o.login.clone(),
        }
    }
}

/// A token as a message names it: never its secret, only its last characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFacts {
    pub name: String,
    /// `fine_grained` or `classic`.
    pub kind: String,
    pub last_eight: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// A fine-grained token's resource owner.
    pub resource_owner: Option<String>,
    /// A classic token's scopes.
    pub scopes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionLine {
    pub name: String,
    pub level: String,
}

/// Access as a person reads it: which repositories, which permissions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessFacts {
    /// `none`, `all` or `subset`.
    pub selection: String,
    /// Full names, for `subset`.
    pub repositories: Vec<String>,
    pub permissions: Vec<PermissionLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestItem {
    pub request_id: i64,
    pub token_name: String,
    pub requester: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub reason: Option<String>,
    pub access: AccessFacts,
}

/// Permissions grouped as GitHub's request and grant objects group them:
/// `{"repository": {...}, "organization": {...}, "other": {...}}`, empty groups left out.
pub type Grouped = BTreeMap<String, BTreeMap<String, String>>;

pub fn grouped(permissions: &PermissionSet) -> Grouped {
    let mut groups = Grouped::new();
    for (group, key) in [
        (PermissionGroup::Repository, "repository"),
        (PermissionGroup::Organization, "organization"),
        (PermissionGroup::Account, "other"),
    ] {
        let map: BTreeMap<String, String> = permissions
            .in_group(group)
            .map(|(p, l)| (p.name().to_owned(), l.as_str().to_owned()))
            .collect();
        if !map.is_empty() {
            groups.insert(key.to_owned(), map);
        }
    }
    groups
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoFacts {
    pub id: i64,
    pub name: String,
    pub full_name: String,
    pub private: bool,
}

/// The request as GitHub's `personal-access-token-request` webhook object describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSnapshot {
    /// `None`: the request the change inserts (the envelope's `request_id`).
    pub id: Option<i64>,
    pub owner: Person,
    pub permissions_added: Grouped,
    pub permissions_upgraded: Grouped,
    pub permissions_result: Grouped,
    pub repository_selection: String,
    /// For `subset` only.
    pub repositories: Option<Vec<RepoFacts>>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub token_name: String,
    pub token_expired: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub token_expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub token_last_used_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEvent {
    /// `created`, `approved`, `denied` or `cancelled`.
    pub action: String,
    pub hook_id: i64,
    pub org: OrgFacts,
    /// Who acted: the requester, or the reviewer (an app reviewing has no account: then the
    /// requester).
    pub sender: Person,
    pub request: RequestSnapshot,
}

/// The permissions `result` adds to `before` and those it raises.
pub fn permission_changes(before: &PermissionSet, result: &PermissionSet) -> (Grouped, Grouped) {
    let mut added = PermissionSet::default();
    let mut upgraded = PermissionSet::default();
    for (p, level) in result.iter() {
        match before.get(p) {
            None => {
                added.set(p, Some(level));
            }
            Some(had) if had < level => {
                upgraded.set(p, Some(level));
            }
            Some(_) => {}
        }
    }
    (grouped(&added), grouped(&upgraded))
}

fn kind_name(grant: &TokenGrant) -> &'static str {
    match grant {
        TokenGrant::Classic { .. } => "classic",
        TokenGrant::FineGrained { .. } => "fine_grained",
        TokenGrant::AppInstallation { .. } => "app_installation",
    }
}

/// A token's facts, its resource owner named by `owner_login`.
pub fn token_facts(token: &Token, owner_login: Option<&str>) -> TokenFacts {
    TokenFacts {
        name: token.name.clone(),
        kind: kind_name(&token.grant).to_owned(),
        last_eight: token.last_eight.clone(),
        expires_at: token.expires_at,
        last_used_at: token.last_used_at,
        resource_owner: owner_login.map(str::to_owned),
        scopes: scopes_of(&token.grant),
    }
}

fn scopes_of(grant: &TokenGrant) -> Vec<String> {
    match grant {
        TokenGrant::Classic { scopes } => {
            scopes.list().iter().map(|s| s.name().to_owned()).collect()
        }
        _ => Vec::new(),
    }
}

fn new_token_facts(token: &patgate_store::NewToken, owner_login: Option<&str>) -> TokenFacts {
    TokenFacts {
        name: token.name.clone(),
        kind: kind_name(&token.grant).to_owned(),
        last_eight: token.last_eight.clone(),
        expires_at: token.expires_at,
        last_used_at: None,
        resource_owner: owner_login.map(str::to_owned),
        scopes: scopes_of(&token.grant),
    }
}

/// The security notice for a token added to `user`'s account (`{token}`: the one inserted).
pub fn token_created(
    user: &User,
    token: &patgate_store::NewToken,
    owner_login: Option<&str>,
    now: OffsetDateTime,
) -> Option<NewOutboxMessage> {
    email_to(
        user,
        "email:token_created:{token}".into(),
        None,
        None,
        Notice::TokenCreated {
            user: Person::of(user),
            token: new_token_facts(token, owner_login),
        },
        now,
    )
}

/// Why a token is deleted without its owner asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemovalNotice {
    /// Submitted to `POST /credentials/revoke`.
    CredentialRevoked,
    /// Unused for a year.
    RemovedUnused,
}

/// An email to `user` about `token`, or nothing when the user has no verified address.
pub fn email_to(
    user: &User,
    dedupe_key: String,
    token: Option<TokenId>,
    request: Option<RequestId>,
    notice: Notice,
    now: OffsetDateTime,
) -> Option<NewOutboxMessage> {
    if !user.email_verified || user.email.trim().is_empty() {
        return None;
    }
    Some(message(
        Channel::Email,
        user.email.clone(),
        dedupe_key,
        token,
        request,
        notice,
        now,
    ))
}

pub(crate) fn message(
    channel: Channel,
    recipient: String,
    dedupe_key: String,
    token: Option<TokenId>,
    request: Option<RequestId>,
    notice: Notice,
    now: OffsetDateTime,
) -> NewOutboxMessage {
    let kind = notice.kind().to_owned();
    let envelope = Envelope {
        token_id: token.map(|t| t.0),
        request_id: request.map(|r| r.0),
        notice,
    };
    NewOutboxMessage {
        channel,
        kind,
        recipient,
        dedupe_key,
        payload: serde_json::to_value(&envelope).unwrap_or(serde_json::Value::Null),
        secret: None,
        created_at: now,
    }
}

/// Whether a webhook receives the request events.
pub fn subscribed(hook: &Webhook) -> bool {
    hook.active && hook.events.iter().any(|e| e == REQUEST_EVENT || e == "*")
}

/// What a governance change needs to say what it did, read before it is applied.
struct Facts {
    accounts: HashMap<AccountId, Account>,
    hooks: HashMap<AccountId, Vec<Webhook>>,
    repos: HashMap<RepoId, Repository>,
    requests: HashMap<RequestId, patgate_store::TokenRequest>,
}

impl Facts {
    fn user(&self, id: AccountId) -> Option<&User> {
        match self.accounts.get(&id) {
            Some(Account::User(u)) => Some(u),
            _ => None,
        }
    }
    fn org(&self, id: AccountId) -> Option<&Organization> {
        match self.accounts.get(&id) {
            Some(Account::Organization(o)) => Some(o),
            _ => None,
        }
    }
    fn access(&self, access: &TokenAccess) -> AccessFacts {
        AccessFacts {
            selection: access.selection.as_str().to_owned(),
            repositories: access
                .repositories
                .iter()
                .filter_map(|id| self.repos.get(id))
                .map(Repository::full_name)
                .collect(),
            permissions: access
                .permissions
                .iter()
                .map(|(p, l)| PermissionLine {
                    name: p.name().to_owned(),
                    level: l.as_str().to_owned(),
                })
                .collect(),
        }
    }
    fn repositories(&self, access: &TokenAccess) -> Option<Vec<RepoFacts>> {
        (access.selection == RepositorySelection::Subset).then(|| {
            access
                .repositories
                .iter()
                .filter_map(|id| self.repos.get(id))
                .map(|r| RepoFacts {
                    id: r.id.0,
                    name: r.name.clone(),
                    full_name: r.full_name(),
                    private: !r.visibility.is_public(),
                })
                .collect()
        })
    }
}

/// The access a token had in force before a change.
fn granted_before(token: &Token) -> PermissionSet {
    match &token.grant {
        TokenGrant::FineGrained {
            granted: Some(a),
            state: GrantState::Approved,
            ..
        } => a.permissions,
        _ => PermissionSet::default(),
    }
}

/// The token a request event is about: a stored one, or the one the change inserts.
struct Subject<'a> {
    id: Option<TokenId>,
    user: AccountId,
    name: &'a str,
    expires_at: Option<OffsetDateTime>,
    last_used_at: Option<OffsetDateTime>,
    before: PermissionSet,
}

impl App {
    /// The messages a governance change sends: to the requester when their request is decided
    /// or their access revoked, a security notice for a token it inserts, and the request
    /// events to the organization's webhooks. `standings` are those the change was computed
    /// from.
    pub(crate) async fn messages_for(
        &self,
        changes: &Changes,
        standings: &HashMap<TokenId, Standing>,
    ) -> Result<Vec<NewOutboxMessage>, StoreError> {
        let now = self.now();
        let facts = self.facts_for(changes, standings).await?;
        let mut out = Vec::new();
        let actor_of = |token: TokenId, actions: &[&str]| {
            changes
                .audit
                .iter()
                .find(|a| a.token == Some(token) && actions.contains(&a.action.as_ref()))
                .map(|a| a.actor.clone())
        };
        let owner_login = |grant: &TokenGrant| match grant {
            TokenGrant::FineGrained {
                resource_owner,
                resource_owner_kind: patgate_domain::model::AccountKind::Organization,
                ..
            } => facts.org(*resource_owner).map(|o| o.login.clone()),
            TokenGrant::FineGrained { resource_owner, .. } => {
                facts.user(*resource_owner).map(|u| u.login.clone())
            }
            _ => None,
        };

        if let Some(insert) = &changes.insert
            && let Some(user) = facts.user(insert.token.user)
        {
            out.extend(token_created(
                user,
                &insert.token,
                owner_login(&insert.token.grant).as_deref(),
                now,
            ));
        }

        for closed in &changes.closed_requests {
            let Some(standing) = standings.get(&closed.token) else {
                continue;
            };
            let Some(pending) = standing.pending.as_ref().filter(|p| p.id == closed.id) else {
                continue;
            };
            let token = &standing.token;
            let (Some(user), Some(org)) = (facts.user(token.user), facts.org(pending.org)) else {
                continue;
            };
            let facts_of_token = token_facts(token, Some(&org.login));
            let reviewer = actor_of(
                token.id,
                &[
                    "personal_access_token.access_granted",
                    "personal_access_token.request_denied",
                ],
            );
            let reviewer_login = reviewer.as_ref().and_then(|a| a.login.clone());
            let (action, notice) = match closed.status {
                patgate_store::RequestStatus::Approved => (
                    "approved",
                    Some(Notice::RequestApproved {
                        user: Person::of(user),
                        token: facts_of_token,
                        org: OrgFacts::of(org),
                        reviewer: reviewer_login,
                        access: facts.access(&pending.access),
                    }),
                ),
                patgate_store::RequestStatus::Denied => (
                    "denied",
                    Some(Notice::RequestDenied {
                        user: Person::of(user),
                        token: facts_of_token,
                        org: OrgFacts::of(org),
                        reviewer: reviewer_login,
                        reason: closed.reason.clone(),
                        access: facts.access(&pending.access),
                    }),
                ),
                _ => ("cancelled", None),
            };
            if let Some(notice) = notice {
                out.extend(email_to(
                    user,
                    format!("email:{}:{}", notice.kind(), closed.id.0),
                    Some(token.id),
                    Some(closed.id),
                    notice,
                    now,
                ));
            }
            let sender = reviewer
                .and_then(|a| a.id)
                .and_then(|id| facts.user(id))
                .unwrap_or(user);
            let created_at = facts
                .requests
                .get(&closed.id)
                .map_or(token.created_at, |r| r.created_at);
            let subject = Subject {
                id: Some(token.id),
                user: token.user,
                name: &token.name,
                expires_at: token.expires_at,
                last_used_at: token.last_used_at,
                before: granted_before(token),
            };
            out.extend(self.request_events(
                &facts,
                action,
                org,
                sender,
                &subject,
                Some(closed.id),
                &pending.access,
                created_at,
            ));
        }

        for request in &changes.new_requests {
            let subject = match request.token {
                Some(id) => {
                    let Some(st) = standings.get(&id) else {
                        continue;
                    };
                    Subject {
                        id: Some(id),
                        user: st.token.user,
                        name: &st.token.name,
                        expires_at: st.token.expires_at,
                        last_used_at: st.token.last_used_at,
                        before: granted_before(&st.token),
                    }
                }
                None => {
                    let Some(insert) = &changes.insert else {
                        continue;
                    };
                    Subject {
                        id: None,
                        user: insert.token.user,
                        name: &insert.token.name,
                        expires_at: insert.token.expires_at,
                        last_used_at: None,
                        before: PermissionSet::default(),
                    }
                }
            };
            let (Some(user), Some(org)) = (facts.user(subject.user), facts.org(request.org)) else {
                continue;
            };
            out.extend(self.request_events(
                &facts,
                "created",
                org,
                user,
                &subject,
                None,
                &request.access,
                request.at,
            ));
        }

        let left: HashSet<(AccountId, AccountId)> =
            changes.removed_memberships.iter().copied().collect();
        for removed in &changes.removed_grants {
            let Some(standing) = standings.get(&removed.token) else {
                continue;
            };
            let token = &standing.token;
            let Some(org_id) = standing.grant.map(|g| g.org) else {
                continue;
            };
            let (Some(user), Some(org)) = (facts.user(token.user), facts.org(org_id)) else {
                continue;
            };
            let explanation = left.contains(&(org_id, token.user)).then(|| {
                format!(
                    "You are no longer a member of the {} organization.",
                    org.login
                )
            });
            let by =
                actor_of(token.id, &["personal_access_token.access_revoked"]).and_then(|a| a.login);
            out.extend(email_to(
                user,
                format!("email:access_revoked:{}", removed.id.0),
                Some(token.id),
                None,
                Notice::AccessRevoked {
                    user: Person::of(user),
                    token: token_facts(token, Some(&org.login)),
                    org: OrgFacts::of(org),
                    by,
                    explanation,
                },
                now,
            ));
        }
        Ok(out)
    }

    /// One request event per subscribed webhook of `org`.
    #[allow(clippy::too_many_arguments)]
    fn request_events(
        &self,
        facts: &Facts,
        action: &str,
        org: &Organization,
        sender: &User,
        subject: &Subject<'_>,
        request: Option<RequestId>,
        asked: &TokenAccess,
        created_at: OffsetDateTime,
    ) -> Vec<NewOutboxMessage> {
        let Some(hooks) = facts.hooks.get(&org.id) else {
            return Vec::new();
        };
        let Some(owner) = facts.user(subject.user) else {
            return Vec::new();
        };
        let now = self.now();
        let (added, upgraded) = permission_changes(&subject.before, &asked.permissions);
        let snapshot = RequestSnapshot {
            id: request.map(|r| r.0),
            owner: Person::of(owner),
            permissions_added: added,
            permissions_upgraded: upgraded,
            permissions_result: grouped(&asked.permissions),
            repository_selection: asked.selection.as_str().to_owned(),
            repositories: facts.repositories(asked),
            created_at,
            token_name: subject.name.to_owned(),
            token_expired: subject.expires_at.is_some_and(|e| e <= now),
            token_expires_at: subject.expires_at,
            token_last_used_at: subject.last_used_at,
        };
        let request_key = request.map_or_else(|| "{request}".to_owned(), |r| r.0.to_string());
        hooks
            .iter()
            .filter(|h| subscribed(h))
            .map(|hook| {
                message(
                    Channel::Webhook,
                    hook.id.to_string(),
                    format!("webhook:{}:{REQUEST_EVENT}:{request_key}:{action}", hook.id),
                    subject.id,
                    request,
                    Notice::PersonalAccessTokenRequest(RequestEvent {
                        action: action.to_owned(),
                        hook_id: hook.id,
                        org: OrgFacts::of(org),
                        sender: Person::of(sender),
                        request: snapshot.clone(),
                    }),
                    now,
                )
            })
            .collect()
    }

    async fn facts_for(
        &self,
        changes: &Changes,
        standings: &HashMap<TokenId, Standing>,
    ) -> Result<Facts, StoreError> {
        let mut accounts: Vec<AccountId> = Vec::new();
        let mut orgs: Vec<AccountId> = Vec::new();
        let mut repos: Vec<RepoId> = Vec::new();
        if let Some(insert) = &changes.insert {
            accounts.push(insert.token.user);
            if let TokenGrant::FineGrained { resource_owner, .. } = &insert.token.grant {
                accounts.push(*resource_owner);
            }
        }
        for st in standings.values() {
            accounts.push(st.token.user);
            if let Some(p) = &st.pending {
                orgs.push(p.org);
                repos.extend(&p.access.repositories);
            }
            if let Some(g) = st.grant {
                orgs.push(g.org);
            }
        }
        for r in &changes.new_requests {
            orgs.push(r.org);
            repos.extend(&r.access.repositories);
        }
        accounts.extend(changes.audit.iter().filter_map(|a| a.actor.id));
        accounts.extend(&orgs);
        accounts.sort_unstable();
        accounts.dedup();
        orgs.sort_unstable();
        orgs.dedup();
        repos.sort_unstable();
        repos.dedup();
        let accounts: HashMap<AccountId, Account> = self
            .store()
            .accounts_by_ids(&accounts)
            .await?
            .into_iter()
            .map(|a| (a.id(), a))
            .collect();
        let mut hooks = HashMap::new();
        let events_for: HashSet<AccountId> = changes
            .new_requests
            .iter()
            .map(|r| r.org)
            .chain(
                changes
                    .closed_requests
                    .iter()
                    .filter_map(|c| standings.get(&c.token)?.pending.as_ref().map(|p| p.org)),
            )
            .collect();
        for org in events_for {
            let of_org = self.store().webhooks_of_org(org).await?;
            if of_org.iter().any(subscribed) {
                hooks.insert(org, of_org);
            }
        }
        let repos = if repos.is_empty() {
            HashMap::new()
        } else {
            self.store()
                .repos_by_ids(&repos)
                .await?
                .into_iter()
                .map(|r| (r.id, r))
                .collect()
        };
        let closed: Vec<RequestId> = changes.closed_requests.iter().map(|c| c.id).collect();
        let requests = if closed.is_empty() {
            HashMap::new()
        } else {
            self.store()
                .requests_by_ids(&closed)
                .await?
                .into_iter()
                .map(|r| (r.id, r))
                .collect()
        };
        Ok(Facts {
            accounts,
            hooks,
            repos,
            requests,
        })
    }

    /// [`messages_for`](App::messages_for) a change computed from the standings the store
    /// holds now.
    pub(crate) async fn messages_of(
        &self,
        changes: &Changes,
    ) -> Result<Vec<NewOutboxMessage>, StoreError> {
        let standings: HashMap<TokenId, Standing> = self
            .store()
            .standings(&changes.tokens())
            .await?
            .into_iter()
            .map(|st| (st.token.id, st))
            .collect();
        self.messages_for(changes, &standings).await
    }

    /// Applies a governance change with the messages it sends, in one transaction.
    pub(crate) async fn apply_notifying(
        &self,
        changes: &Changes,
        standings: &HashMap<TokenId, Standing>,
    ) -> Result<patgate_store::Applied, StoreError> {
        let messages = self.messages_for(changes, standings).await?;
        let applied = self.store().apply_with_outbox(changes, &messages).await?;
        if !messages.is_empty() {
            self.outbox_written();
        }
        Ok(applied)
    }

    /// The message telling a token's user it was deleted for `why` (none without a verified
    /// address).
    pub(crate) async fn removal_notice(
        &self,
        token: &Token,
        why: RemovalNotice,
    ) -> Result<Option<NewOutboxMessage>, AppError> {
        let Some(user) = self.store().user_by_id(token.user).await? else {
            return Ok(None);
        };
        let facts = token_facts(token, self.owner_login(&token.grant).await?.as_deref());
        let (key, notice) = match why {
            RemovalNotice::CredentialRevoked => (
                "credential_revoked",
                Notice::CredentialRevoked {
                    user: Person::of(&user),
                    token: facts,
                },
            ),
            RemovalNotice::RemovedUnused => (
                "removed_unused",
                Notice::RemovedUnused {
                    user: Person::of(&user),
                    token: facts,
                },
            ),
        };
        Ok(email_to(
            &user,
            format!("email:{key}:{}", token.id.0),
            Some(token.id),
            None,
            notice,
            self.now(),
        ))
    }

    /// The account's login, for naming a token's resource owner.
    pub(crate) async fn owner_login(&self, grant: &TokenGrant) -> Result<Option<String>, AppError> {
        let TokenGrant::FineGrained { resource_owner, .. } = grant else {
            return Ok(None);
        };
        Ok(self
            .store()
            .accounts_by_ids(&[*resource_owner])
            .await?
            .first()
            .map(|a| a.login().to_owned()))
    }
}
