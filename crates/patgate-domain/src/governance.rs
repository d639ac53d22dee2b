//! The request/grant state machine of fine-grained tokens owned by organizations (rules 7, 8 and
//! 10), pure: each transition takes a token's current [`Standing`] and returns the [`Changes`]
//! to make (rows to write and the audit records), or a [`Refusal`]. The store applies a
//! `Changes` in one transaction and decides nothing; the app reads the standing, calls the
//! transition and hands the result to the store.
//!
//! The rows kept in step with a token's grant, whatever the transition:
//!
//! * a **grant row** exists exactly while the token is fine-grained, owned by an organization
//!   and `Approved` with granted access ([`grant_org`]); it is created with the time of the
//!   change, and kept (with its time) while the token stays approved for the same organization;
//! * a token has at most one **pending request**. It is cancelled when a newer one supersedes it,
//!   when the requester withdraws it, when the grant is revoked, and when nothing is left to
//!   review ([`needs_review`] false).
//!
//! The transitions, in the order of a token's life: [`create_fine_grained`],
//! [`edit_fine_grained`], [`review`], [`cancel`], [`revoke`], [`lose_access`]. The lower-level
//! functions ([`admit`], [`regrant`], [`regrant_requesting`], [`decide`], [`withdraw`],
//! [`take_back`]) give the row consequences of a grant chosen by the caller; the transitions are
//! built on them.

use std::borrow::Cow;

use time::OffsetDateTime;

use crate::model::{
    AccountId, AccountKind, GrantId, GrantState, RequestId, Token, TokenAccess, TokenGrant, TokenId,
};
use crate::token::TokenHash;

#[cfg(test)]
mod tests;

/// A token to insert: the hash of its secret, never the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewToken {
    pub user: AccountId,
    pub name: String,
    pub description: Option<String>,
    /// The justification of an organization request.
    pub justification: Option<String>,
    pub hash: TokenHash,
    pub last_eight: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub grant: TokenGrant,
}

/// Where an organization's approval request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    Pending,
    Approved,
    Denied,
    /// Withdrawn by the requester, or superseded by a newer request for the same token.
    Cancelled,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<RequestStatus> {
        match s {
            "pending" => Some(RequestStatus::Pending),
            "approved" => Some(RequestStatus::Approved),
            "denied" => Some(RequestStatus::Denied),
            "cancelled" => Some(RequestStatus::Cancelled),
            _ => None,
        }
    }
}

/// A token's pending request, as the transitions see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenRequest {
    pub id: RequestId,
    pub org: AccountId,
    /// The access asked for.
    pub access: TokenAccess,
}

/// An organization's grant row of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrgGrant {
    pub id: GrantId,
    pub org: AccountId,
}

/// A token with its pending request and its grant row: everything a transition reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub token: Token,
    pub pending: Option<OpenRequest>,
    pub grant: Option<OrgGrant>,
}

/// Who acts: a user, or an app acting for the organization (no account, a name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub id: Option<AccountId>,
    pub login: Option<String>,
}

/// A value in an audit record's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditValue {
    Text(String),
    Int(i64),
    Null,
}

/// One field of an audit record's data.
pub fn field(key: &'static str, value: impl Into<AuditValue>) -> (Cow<'static, str>, AuditValue) {
    (Cow::Borrowed(key), value.into())
}

impl From<i64> for AuditValue {
    fn from(n: i64) -> Self {
        AuditValue::Int(n)
    }
}

impl From<&str> for AuditValue {
    fn from(s: &str) -> Self {
        AuditValue::Text(s.to_owned())
    }
}

impl From<Option<&str>> for AuditValue {
    fn from(s: Option<&str>) -> Self {
        s.map_or(AuditValue::Null, AuditValue::from)
    }
}

/// An audit event (GitHub's action names, reference §9), written with the change it describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub action: Cow<'static, str>,
    pub actor: Actor,
    /// The organization the event concerns, if any (for the organization's audit log).
    pub org: Option<AccountId>,
    /// `None`: the token the change inserts (its id is known once it is).
    pub token: Option<TokenId>,
    /// The event's data, GitHub's field names.
    pub fields: Vec<(Cow<'static, str>, AuditValue)>,
    pub at: OffsetDateTime,
}

/// A token to insert, and the most fine-grained tokens its user may hold (checked, with the
/// name, inside the transaction that inserts it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInsert {
    pub token: NewToken,
    pub max_fine_grained: Option<usize>,
}

/// A token's new grant (and description), applied only if the grant is still `expected`: a
/// transition computed from a standing that changed meanwhile is refused whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenUpdate {
    pub id: TokenId,
    pub expected: TokenGrant,
    pub grant: TokenGrant,
    /// `Some(d)` replaces the description with `d`; `None` keeps it.
    pub description: Option<Option<String>>,
}

/// A pending request to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRequest {
    /// `None`: the token the change inserts.
    pub token: Option<TokenId>,
    pub org: AccountId,
    pub user: AccountId,
    pub reason: Option<String>,
    pub access: TokenAccess,
    pub at: OffsetDateTime,
}

/// A pending request leaving `pending`, applied only if it is still pending and the token's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestClose {
    pub id: RequestId,
    pub token: TokenId,
    /// `Approved`, `Denied` or `Cancelled`.
    pub status: RequestStatus,
    pub at: OffsetDateTime,
    pub by: Option<AccountId>,
    pub reason: Option<String>,
}

/// A grant row to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewGrant {
    /// `None`: the token the change inserts.
    pub token: Option<TokenId>,
    pub org: AccountId,
    pub at: OffsetDateTime,
}

/// A grant row to delete, applied only if it still exists and is the token's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantRemoval {
    pub id: GrantId,
    pub token: TokenId,
}

/// Everything a transition changes. The store applies it in one transaction, in this order:
/// the insert, the token updates, the closed requests, the removed grants, the removed
/// memberships, then the new requests, the new grants and the audit records; a condition that
/// no longer holds (a request decided meanwhile, a grant revoked, a token changed) refuses it
/// whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub insert: Option<TokenInsert>,
    pub token_updates: Vec<TokenUpdate>,
    pub closed_requests: Vec<RequestClose>,
    pub removed_grants: Vec<GrantRemoval>,
    /// `(organization, user)`.
    pub removed_memberships: Vec<(AccountId, AccountId)>,
    pub new_requests: Vec<NewRequest>,
    pub new_grants: Vec<NewGrant>,
    pub audit: Vec<AuditRecord>,
}

impl Changes {
    /// Both sets of changes, in one transaction.
    pub fn merge(mut self, other: Changes) -> Changes {
        if other.insert.is_some() {
            self.insert = other.insert;
        }
        self.token_updates.extend(other.token_updates);
        self.closed_requests.extend(other.closed_requests);
        self.removed_grants.extend(other.removed_grants);
        self.removed_memberships.extend(other.removed_memberships);
        self.new_requests.extend(other.new_requests);
        self.new_grants.extend(other.new_grants);
        self.audit.extend(other.audit);
        self
    }

    /// The tokens the changes touch (not the inserted one), in id order, once each.
    pub fn tokens(&self) -> Vec<TokenId> {
        let mut ids: Vec<TokenId> = self
            .token_updates
            .iter()
            .map(|u| u.id)
            .chain(self.closed_requests.iter().map(|c| c.token))
            .chain(self.removed_grants.iter().map(|g| g.token))
            .chain(self.new_requests.iter().filter_map(|r| r.token))
            .chain(self.new_grants.iter().filter_map(|g| g.token))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// Why a transition does not apply to the standing it was given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("token {0} is not a fine-grained token")]
    NotFineGrained(TokenId),
    #[error("token {0} does not belong to an organization")]
    NotOrganizationOwned(TokenId),
    #[error("request {0} is not a pending request of the organization")]
    NotPending(RequestId),
    #[error("this token has no pending request")]
    NoPendingRequest,
    #[error("grant {0} is not a grant of the organization")]
    NotGranted(GrantId),
}

// ---------------------------------------------------------------------------------------------
// The rules of rows in step
// ---------------------------------------------------------------------------------------------

/// The organization a grant row is kept for, if the token should have one.
pub fn grant_org(grant: &TokenGrant) -> Option<AccountId> {
    match grant {
        TokenGrant::FineGrained {
            resource_owner,
            resource_owner_kind: AccountKind::Organization,
            granted: Some(_),
            state: GrantState::Approved,
            ..
        } => Some(*resource_owner),
        _ => None,
    }
}

/// The organization a token may ask for access (fine-grained and organization-owned), with the
/// access it asks for.
pub fn request_target(grant: &TokenGrant) -> Option<(AccountId, &TokenAccess)> {
    match grant {
        TokenGrant::FineGrained {
            resource_owner,
            resource_owner_kind: AccountKind::Organization,
            requested,
            ..
        } => Some((*resource_owner, requested)),
        _ => None,
    }
}

/// Whether an organization still has something to decide about the token: it is fine-grained,
/// organization-owned, and not approved with exactly the access it asks for.
pub fn needs_review(grant: &TokenGrant) -> bool {
    match grant {
        TokenGrant::FineGrained {
            resource_owner_kind: AccountKind::Organization,
            requested,
            granted,
            state,
            ..
        } => {
            !(*state == GrantState::Approved
                && granted.as_ref().is_some_and(|g| same(g, requested)))
        }
        _ => false,
    }
}

/// Equal once normalised (sorted, unique repositories; none unless `subset`).
fn same(a: &TokenAccess, b: &TokenAccess) -> bool {
    let norm =
        |x: &TokenAccess| TokenAccess::new(x.selection, x.repositories.clone(), x.permissions);
    norm(a) == norm(b)
}

/// Whether an organization-owned token has access waiting for an owner's review, as the token
/// alone tells it: pending, or approved with less than it asks for.
pub fn has_pending_request(grant: &TokenGrant) -> bool {
    match grant {
        TokenGrant::FineGrained {
            state: GrantState::Pending,
            ..
        } => true,
        TokenGrant::FineGrained {
            state: GrantState::Approved,
            requested,
            granted: Some(granted),
            ..
        } => requested != granted,
        _ => false,
    }
}

/// The grant row changes that take the token from its standing to `grant`.
fn sync_grant(standing: &Standing, grant: &TokenGrant, now: OffsetDateTime, changes: &mut Changes) {
    let wanted = grant_org(grant);
    if wanted.is_some() && standing.grant.map(|g| g.org) == wanted {
        return;
    }
    if let Some(old) = standing.grant {
        changes.removed_grants.push(GrantRemoval {
            id: old.id,
            token: standing.token.id,
        });
    }
    if let Some(org) = wanted {
        changes.new_grants.push(NewGrant {
            token: Some(standing.token.id),
            org,
            at: now,
        });
    }
}

fn cancel_pending(standing: &Standing, now: OffsetDateTime, changes: &mut Changes) {
    if let Some(p) = &standing.pending {
        changes.closed_requests.push(RequestClose {
            id: p.id,
            token: standing.token.id,
            status: RequestStatus::Cancelled,
            at: now,
            by: None,
            reason: None,
        });
    }
}

/// Inserting a token with the grant it has: a pending request (reason: the justification) for
/// a fine-grained organization token in state `Pending`, a grant row (dated at creation) for one
/// approved at once.
pub fn admit(token: NewToken, max_fine_grained: Option<usize>, audit: Vec<AuditRecord>) -> Changes {
    let mut changes = Changes {
        audit,
        ..Changes::default()
    };
    if let TokenGrant::FineGrained {
        state: GrantState::Pending,
        ..
    } = &token.grant
        && let Some((org, access)) = request_target(&token.grant)
    {
        changes.new_requests.push(NewRequest {
            token: None,
            org,
            user: token.user,
            reason: token.justification.clone(),
            access: access.clone(),
            at: token.created_at,
        });
    }
    if let Some(org) = grant_org(&token.grant) {
        changes.new_grants.push(NewGrant {
            token: None,
            org,
            at: token.created_at,
        });
    }
    changes.insert = Some(TokenInsert {
        token,
        max_fine_grained,
    });
    changes
}

/// Replacing a token's grant (kind unchanged): its grant row follows, and its pending request
/// is cancelled when nothing is left to review.
pub fn regrant(
    standing: &Standing,
    description: Option<Option<String>>,
    grant: TokenGrant,
    now: OffsetDateTime,
) -> Changes {
    let mut changes = Changes::default();
    sync_grant(standing, &grant, now, &mut changes);
    if !needs_review(&grant) {
        cancel_pending(standing, now, &mut changes);
    }
    changes.token_updates.push(TokenUpdate {
        id: standing.token.id,
        expected: standing.token.grant.clone(),
        grant,
        description,
    });
    changes
}

/// An edit that asks for more: the token takes `grant`, any pending request is cancelled, and a
/// new pending request is recorded for the access `grant` asks for.
pub fn regrant_requesting(
    standing: &Standing,
    description: Option<Option<String>>,
    grant: TokenGrant,
    reason: Option<String>,
    now: OffsetDateTime,
) -> Result<Changes, Refusal> {
    let id = standing.token.id;
    if !matches!(standing.token.grant, TokenGrant::FineGrained { .. }) {
        return Err(Refusal::NotFineGrained(id));
    }
    let (org, access) = request_target(&grant).ok_or(Refusal::NotOrganizationOwned(id))?;
    let request = NewRequest {
        token: Some(id),
        org,
        user: standing.token.user,
        reason,
        access: access.clone(),
        at: now,
    };
    let mut changes = Changes::default();
    sync_grant(standing, &grant, now, &mut changes);
    cancel_pending(standing, now, &mut changes);
    changes.new_requests.push(request);
    changes.token_updates.push(TokenUpdate {
        id,
        expected: standing.token.grant.clone(),
        grant,
        description,
    });
    Ok(changes)
}

/// A reviewer's decision on request `request` of the token (`Approved` or `Denied`, with the
/// token's grant after it): the request is closed, and the rows follow the new grant.
pub fn decide(
    standing: &Standing,
    request: RequestId,
    status: RequestStatus,
    grant: TokenGrant,
    by: Option<AccountId>,
    reason: Option<String>,
    now: OffsetDateTime,
) -> Changes {
    let mut changes = Changes::default();
    changes.closed_requests.push(RequestClose {
        id: request,
        token: standing.token.id,
        status,
        at: now,
        by,
        reason,
    });
    // The request is closed here, whatever `regrant` would do with it.
    let rest = Standing {
        pending: None,
        ..standing.clone()
    };
    changes.merge(regrant(&rest, None, grant, now))
}

/// The requester withdraws request `request`; the token takes `grant`.
pub fn withdraw(
    standing: &Standing,
    request: RequestId,
    grant: TokenGrant,
    now: OffsetDateTime,
) -> Changes {
    let mut changes = Changes::default();
    changes.closed_requests.push(RequestClose {
        id: request,
        token: standing.token.id,
        status: RequestStatus::Cancelled,
        at: now,
        by: None,
        reason: None,
    });
    let rest = Standing {
        pending: None,
        ..standing.clone()
    };
    changes.merge(regrant(&rest, None, grant, now))
}

/// An organization takes grant `grant` back: the row goes, the token takes `returned`, and its
/// pending request, if any, is cancelled (a revoked token has nothing left to ask).
pub fn take_back(
    standing: &Standing,
    grant: GrantId,
    returned: TokenGrant,
    now: OffsetDateTime,
) -> Changes {
    let mut changes = Changes::default();
    changes.removed_grants.push(GrantRemoval {
        id: grant,
        token: standing.token.id,
    });
    cancel_pending(standing, now, &mut changes);
    let rest = Standing {
        pending: None,
        grant: None,
        ..standing.clone()
    };
    changes.merge(regrant(&rest, None, returned, now))
}

/// The name a fine-grained token gets when an earlier token of its user already has its name
/// (case-insensitively; a database from before names were unique may hold such pairs): `name
/// (n)`, the name cut so that the whole stays within the longest name allowed.
pub fn disambiguated(name: &str, n: usize) -> String {
    let suffix = format!(" ({n})");
    let room = crate::validate::MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
    let base: String = name.chars().take(room).collect();
    format!("{}{suffix}", base.trim_end())
}

// ---------------------------------------------------------------------------------------------
// The transitions
// ---------------------------------------------------------------------------------------------

/// Who a new fine-grained token is for, as its creation decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The user's own account: no organization decides anything.
    Myself,
    /// An organization; `needs_approval`: its policy requires an owner's review and the user is
    /// not one of its owners.
    Organization { id: AccountId, needs_approval: bool },
}

/// A fine-grained token to create, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creation {
    pub user: AccountId,
    pub user_login: String,
    pub owner: Owner,
    pub name: String,
    pub description: Option<String>,
    pub justification: Option<String>,
    pub access: TokenAccess,
    pub hash: TokenHash,
    pub last_eight: String,
    pub expires_at: Option<OffsetDateTime>,
    /// The cap on the user's fine-grained tokens, checked inside the inserting transaction.
    pub max_fine_grained: usize,
    pub now: OffsetDateTime,
}

fn user_actor(id: AccountId, login: &str) -> Actor {
    Actor {
        id: Some(id),
        login: Some(login.to_owned()),
    }
}

/// Creates a fine-grained token: for the user's own account (`not_required`), or for an
/// organization, `pending` with a request when it needs approval, `approved` with a grant when
/// it does not. Audited as `personal_access_token.create`, with `request_created` or
/// `access_granted` for an organization.
pub fn create_fine_grained(c: Creation) -> Changes {
    let (owner, kind, org, state, granted) = match c.owner {
        Owner::Myself => (
            c.user,
            AccountKind::User,
            None,
            GrantState::NotRequired,
            Some(c.access.clone()),
        ),
        Owner::Organization {
            id,
            needs_approval: true,
        } => (
            id,
            AccountKind::Organization,
            Some(id),
            GrantState::Pending,
            None,
        ),
        Owner::Organization {
            id,
            needs_approval: false,
        } => (
            id,
            AccountKind::Organization,
            Some(id),
            GrantState::Approved,
            Some(c.access.clone()),
        ),
    };
    let fields = vec![
        field("user_programmatic_access_name", c.name.as_str()),
        field("repository_selection", c.access.selection.as_str()),
        field("user", c.user_login.as_str()),
        field("hashed_token", c.hash.to_base64().as_str()),
    ];
    let record = |action: &'static str| AuditRecord {
        action: action.into(),
        actor: user_actor(c.user, &c.user_login),
        org,
        token: None,
        fields: fields.clone(),
        at: c.now,
    };
    let mut audit = vec![record("personal_access_token.create")];
    match state {
        GrantState::Pending => audit.push(record("personal_access_token.request_created")),
        GrantState::Approved => audit.push(record("personal_access_token.access_granted")),
        _ => {}
    }
    let token = NewToken {
        user: c.user,
        name: c.name.clone(),
        description: c.description.clone(),
        justification: c.justification.clone(),
        hash: c.hash,
        last_eight: c.last_eight.clone(),
        created_at: c.now,
        expires_at: c.expires_at,
        grant: TokenGrant::FineGrained {
            resource_owner: owner,
            resource_owner_kind: kind,
            requested: c.access.clone(),
            granted,
            state,
        },
    };
    admit(token, Some(c.max_fine_grained), audit)
}

/// An edit of a fine-grained token's access, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub access: TokenAccess,
    /// `Some(d)` replaces the description with `d`; `None` keeps it.
    pub description: Option<Option<String>>,
    /// The justification of a new request.
    pub justification: Option<String>,
    /// The organization's policy requires an owner's review and the user is not an owner.
    pub needs_approval: bool,
    pub user_login: String,
    pub now: OffsetDateTime,
}

/// Edits a fine-grained token's access (rule 7): on the user's own account, or where no
/// approval is needed, the new access applies at once; for an organization that requires
/// approval, an edit that reduces approved access applies at once, and one that raises it keeps
/// the approved access in force and asks again (a new request superseding any pending one).
/// Audited as `personal_access_token.update`, with `request_created` when it asks.
pub fn edit_fine_grained(standing: &Standing, e: Edit) -> Result<Changes, Refusal> {
    let token = &standing.token;
    let TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        granted,
        state,
        ..
    } = &token.grant
    else {
        return Err(Refusal::NotFineGrained(token.id));
    };
    let new = e.access.clone();
    let (new_state, new_granted, asks) = match resource_owner_kind {
        AccountKind::User => (GrantState::NotRequired, Some(new.clone()), false),
        AccountKind::Organization if !e.needs_approval => {
            (GrantState::Approved, Some(new.clone()), false)
        }
        AccountKind::Organization => match (state, granted) {
            // Reducing access needs no approval.
            (GrantState::Approved, Some(old)) if old.covers(&new) => {
                (GrantState::Approved, Some(new.clone()), false)
            }
            // Raising it asks again; the approved access keeps working meanwhile.
            (GrantState::Approved, Some(old)) => (GrantState::Approved, Some(old.clone()), true),
            _ => (GrantState::Pending, None, true),
        },
    };
    let grant = TokenGrant::FineGrained {
        resource_owner: *resource_owner,
        resource_owner_kind: *resource_owner_kind,
        requested: new.clone(),
        granted: new_granted,
        state: new_state,
    };
    let org = (*resource_owner_kind == AccountKind::Organization).then_some(*resource_owner);
    let fields = vec![
        field("user_programmatic_access_name", token.name.as_str()),
        field("repository_selection", new.selection.as_str()),
    ];
    let record = |action: &'static str| AuditRecord {
        action: action.into(),
        actor: user_actor(token.user, &e.user_login),
        org,
        token: Some(token.id),
        fields: fields.clone(),
        at: e.now,
    };
    let mut changes = if asks {
        regrant_requesting(standing, e.description, grant, e.justification, e.now)?
    } else {
        regrant(standing, e.description, grant, e.now)
    };
    changes.audit.push(record("personal_access_token.update"));
    if asks {
        changes
            .audit
            .push(record("personal_access_token.request_created"));
    }
    Ok(changes)
}

/// The grant a token returns to when its pending request ends without approval: an edit that
/// raised approved access is undone (the approved access stays); otherwise nothing is granted
/// and the token is `denied`.
fn fallback(grant: &TokenGrant) -> TokenGrant {
    match grant {
        TokenGrant::FineGrained {
            resource_owner,
            resource_owner_kind,
            granted: Some(old),
            state: GrantState::Approved,
            ..
        } => TokenGrant::FineGrained {
            resource_owner: *resource_owner,
            resource_owner_kind: *resource_owner_kind,
            requested: old.clone(),
            granted: Some(old.clone()),
            state: GrantState::Approved,
        },
        TokenGrant::FineGrained {
            resource_owner,
            resource_owner_kind,
            requested,
            ..
        } => TokenGrant::FineGrained {
            resource_owner: *resource_owner,
            resource_owner_kind: *resource_owner_kind,
            requested: requested.clone(),
            granted: None,
            state: GrantState::Denied,
        },
        other => other.clone(),
    }
}

/// An owner's review of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    pub org: AccountId,
    pub request: RequestId,
    pub approve: bool,
    pub reviewer: Actor,
    /// The reviewer's reason, shown to the requester.
    pub reason: Option<String>,
    pub now: OffsetDateTime,
}

/// Approves or denies a token's pending request (rule 7). Approval grants the access asked for;
/// denial of a raise keeps the approved access (the edit is undone), denial of anything else
/// leaves nothing granted. Refused unless `r.request` is the token's pending request for
/// `r.org`. Audited as `personal_access_token.access_granted` or `request_denied`.
pub fn review(standing: &Standing, r: Review) -> Result<Changes, Refusal> {
    let token = &standing.token;
    let pending = match &standing.pending {
        Some(p) if p.id == r.request && p.org == r.org => p,
        _ => return Err(Refusal::NotPending(r.request)),
    };
    let TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        requested,
        ..
    } = &token.grant
    else {
        return Err(Refusal::NotFineGrained(token.id));
    };
    let (status, grant, action) = if r.approve {
        (
            RequestStatus::Approved,
            TokenGrant::FineGrained {
                resource_owner: *resource_owner,
                resource_owner_kind: *resource_owner_kind,
                requested: requested.clone(),
                granted: Some(pending.access.clone()),
                state: GrantState::Approved,
            },
            "personal_access_token.access_granted",
        )
    } else {
        (
            RequestStatus::Denied,
            fallback(&token.grant),
            "personal_access_token.request_denied",
        )
    };
    let mut changes = decide(
        standing,
        r.request,
        status,
        grant,
        r.reviewer.id,
        r.reason.clone(),
        r.now,
    );
    changes.audit.push(AuditRecord {
        action: action.into(),
        actor: r.reviewer,
        org: Some(r.org),
        token: Some(token.id),
        fields: vec![
            field("user_programmatic_access_name", token.name.as_str()),
            field("user_programmatic_access_request_id", r.request.0),
            field("repository_selection", pending.access.selection.as_str()),
            field("reason", r.reason.as_deref()),
        ],
        at: r.now,
    });
    Ok(changes)
}

/// The requester withdraws their token's pending request: the token returns to what it had
/// (see [`review`]'s denial). Refused when there is no pending request. Audited as
/// `personal_access_token.request_cancelled` in the organization's log.
pub fn cancel(
    standing: &Standing,
    requester_login: &str,
    now: OffsetDateTime,
) -> Result<Changes, Refusal> {
    let token = &standing.token;
    if !matches!(token.grant, TokenGrant::FineGrained { .. }) {
        return Err(Refusal::NotFineGrained(token.id));
    }
    let pending = standing.pending.as_ref().ok_or(Refusal::NoPendingRequest)?;
    let mut changes = withdraw(standing, pending.id, fallback(&token.grant), now);
    changes.audit.push(AuditRecord {
        action: "personal_access_token.request_cancelled".into(),
        actor: user_actor(token.user, requester_login),
        org: Some(pending.org),
        token: Some(token.id),
        fields: vec![
            field("user_programmatic_access_name", token.name.as_str()),
            field("user_programmatic_access_request_id", pending.id.0),
            field("repository_selection", pending.access.selection.as_str()),
        ],
        at: now,
    });
    Ok(changes)
}

/// What an organization's revocation leaves (rule 8): the token back with its user, nothing
/// granted, `revoked`. It is not deleted, keeps reading public resources, and keys it created
/// keep working.
pub fn returned(token: &Token) -> TokenGrant {
    TokenGrant::FineGrained {
        resource_owner: token.user,
        resource_owner_kind: AccountKind::User,
        requested: TokenAccess::none(),
        granted: None,
        state: GrantState::Revoked,
    }
}

fn revocation_fields(token: &Token, grant: GrantId) -> Vec<(Cow<'static, str>, AuditValue)> {
    let selection = match &token.grant {
        TokenGrant::FineGrained {
            granted: Some(a), ..
        } => a.selection.as_str(),
        _ => "none",
    };
    vec![
        field("user_programmatic_access_id", grant.0),
        field("user_programmatic_access_name", token.name.as_str()),
        field("repository_selection", selection),
    ]
}

/// An organization revokes a token's grant (rule 8). Refused unless `grant` is the token's grant
/// for `org`. Audited as `personal_access_token.access_revoked`.
pub fn revoke(
    standing: &Standing,
    org: AccountId,
    grant: GrantId,
    by: Actor,
    now: OffsetDateTime,
) -> Result<Changes, Refusal> {
    match standing.grant {
        Some(g) if g.id == grant && g.org == org => {}
        _ => return Err(Refusal::NotGranted(grant)),
    }
    let token = &standing.token;
    let mut changes = take_back(standing, grant, returned(token), now);
    changes.audit.push(AuditRecord {
        action: "personal_access_token.access_revoked".into(),
        actor: by,
        org: Some(org),
        token: Some(token.id),
        fields: revocation_fields(token, grant),
        at: now,
    });
    Ok(changes)
}

/// A user leaves organization `org` (rule 10): the membership goes, and with it everything the
/// organization had granted or been asked for their tokens: each of their tokens for `org` is
/// returned to them as a revocation leaves it, its grant removed and its pending request
/// cancelled. `standings` are the user's tokens; those of other owners are left alone. Audited
/// as `personal_access_token.access_revoked` (by nobody) for each token that had a grant, and
/// `request_cancelled` for each pending request.
pub fn lose_access(
    org: AccountId,
    user: AccountId,
    standings: &[Standing],
    now: OffsetDateTime,
) -> Changes {
    let mut changes = take_back_all(org, user, standings, LEFT_THE_ORGANIZATION, now);
    changes.removed_memberships.push((org, user));
    changes
}

/// Why a departed member's tokens lost the organization (the audit records' `explanation`).
pub const LEFT_THE_ORGANIZATION: &str = "the user is no longer a member of the organization";

/// Why a returning member's leftover tokens lose it (see [`rejoin`]).
pub const GRANTED_BEFORE_LEAVING: &str =
    "the access was granted before the user left the organization";

/// A user (re)joins organization `org`: a former membership's grants never come back with a new
/// one. Whatever of their tokens still targets `org` (a grant or a request left behind by a
/// departure that did not go through [`lose_access`], such as a directory edited by hand) is
/// taken back as [`lose_access`] takes it, audited with [`GRANTED_BEFORE_LEAVING`]; the
/// membership itself is the caller's to add. Usually there is nothing to take back, and the
/// changes are empty.
pub fn rejoin(
    org: AccountId,
    user: AccountId,
    standings: &[Standing],
    now: OffsetDateTime,
) -> Changes {
    take_back_all(org, user, standings, GRANTED_BEFORE_LEAVING, now)
}

fn take_back_all(
    org: AccountId,
    user: AccountId,
    standings: &[Standing],
    explanation: &'static str,
    now: OffsetDateTime,
) -> Changes {
    let mut changes = Changes::default();
    let nobody = Actor {
        id: None,
        login: None,
    };
    for standing in standings {
        let token = &standing.token;
        if token.user != user || request_target(&token.grant).map(|(o, _)| o) != Some(org) {
            continue;
        }
        if let Some(grant) = standing.grant {
            changes.audit.push(AuditRecord {
                action: "personal_access_token.access_revoked".into(),
                actor: nobody.clone(),
                org: Some(org),
                token: Some(token.id),
                fields: {
                    let mut f = revocation_fields(token, grant.id);
                    f.push(field("explanation", explanation));
                    f
                },
                at: now,
            });
        }
        if let Some(pending) = &standing.pending {
            changes.audit.push(AuditRecord {
                action: "personal_access_token.request_cancelled".into(),
                actor: nobody.clone(),
                org: Some(org),
                token: Some(token.id),
                fields: vec![
                    field("user_programmatic_access_name", token.name.as_str()),
                    field("user_programmatic_access_request_id", pending.id.0),
                    field("repository_selection", pending.access.selection.as_str()),
                    field("explanation", explanation),
                ],
                at: now,
            });
        }
        let rest = match standing.grant {
            Some(g) => take_back(standing, g.id, returned(token), now),
            None => {
                let mut c = Changes::default();
                cancel_pending(standing, now, &mut c);
                let rest = Standing {
                    pending: None,
                    ..standing.clone()
                };
                c.merge(regrant(&rest, None, returned(token), now))
            }
        };
        changes = changes.merge(rest);
    }
    changes
}
