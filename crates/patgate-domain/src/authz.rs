//! The rules of authorization (DESIGN §3): one pure function, `decide`.
//!
//! The handler names the resource and the access it needs; the app supplies what the directory
//! says of the token's user (their own rights) and the organization's effective policy; `decide`
//! answers allow, or the status and GitHub's message to send.

use time::OffsetDateTime;

use crate::catalog::{Level, OrgRole, Permission, PermissionGroup, RepoRole};
use crate::model::{AccountId, AccountKind, Credential, GrantState, RepoId, TokenGrant};
use crate::policy::{Access, EffectivePolicy};
use crate::scopes::{Scope, classic_scope_for};
use crate::token::TokenKind;

/// What kind of thing is accessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// A user account's own settings (profile, keys, emails): `owner` is the user.
    Account,
    Repository(RepoId),
    /// An organization's own settings and data: `owner` is the organization.
    Organization,
}

/// The resource, as far as authorization cares.
#[derive(Clone, Copy, Debug)]
pub struct Resource<'a> {
    pub kind: ResourceKind,
    pub owner: AccountId,
    pub owner_kind: AccountKind,
    /// Readable by anyone (a public repository).
    pub public: bool,
    /// The owning organization's effective policy; `None` for user-owned resources.
    pub policy: Option<&'a EffectivePolicy>,
}

/// The access a request needs, in fine-grained terms; the classic scope is derived from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    pub permission: Permission,
    pub level: Level,
}

impl Need {
    pub fn new(permission: Permission, level: Level) -> Self {
        Need { permission, level }
    }

    /// `X-Accepted-GitHub-Permissions` value, e.g. `contents=read`.
    pub fn accepted_permissions(&self) -> String {
        format!("{}={}", self.permission.name(), self.level.as_str())
    }

    /// The classic scope this need asks of a classic token on a resource.
    pub fn classic_scope(&self, public: bool) -> Option<Scope> {
        classic_scope_for(self.permission, self.level, public)
    }
}

/// What the directory says of the token's user toward the resource (rule 15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OwnerRights {
    /// The user's role on the repository (for repository resources).
    pub repo_role: Option<RepoRole>,
    /// The user's standing in the organization that owns the resource.
    pub org_role: Option<OrgRole>,
}

/// Rule 15: the user's own role on a repository.
///
/// * `org_standing`: the user's standing in the owning organization and that organization's base
///   permission (`None` when the owner is a user, or the user is not a member);
/// * `collaborator`: the user's collaborator role on the repository;
/// * `enterprise_member`: the user belongs to an organization of the same enterprise as the owner.
pub fn repo_role(
    user: AccountId,
    owner: AccountId,
    visibility: crate::model::Visibility,
    org_standing: Option<(OrgRole, RepoRole)>,
    collaborator: Option<RepoRole>,
    enterprise_member: bool,
) -> Option<RepoRole> {
    use crate::model::Visibility;
    if user == owner {
        return Some(RepoRole::Admin);
    }
    let from_org = org_standing.map(|(standing, base)| match standing {
        OrgRole::Owner => RepoRole::Admin,
        OrgRole::Member => base,
    });
    let from_visibility = match visibility {
        Visibility::Public => Some(RepoRole::Read),
        Visibility::Internal if enterprise_member => Some(RepoRole::Read),
        _ => None,
    };
    [from_org, collaborator, from_visibility]
        .into_iter()
        .flatten()
        .max()
}

/// Permissions whose read on a public repository is public information (rule 2).
pub fn publicly_readable(p: Permission) -> bool {
    matches!(
        p.name(),
        "metadata"
            | "contents"
            | "issues"
            | "pull_requests"
            | "discussions"
            | "statuses"
            | "deployments"
            | "actions"
            | "pages"
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DenyStatus {
    Unauthorized,
    Forbidden,
    NotFound,
}

impl DenyStatus {
    pub fn code(self) -> u16 {
        match self {
            DenyStatus::Unauthorized => 401,
            DenyStatus::Forbidden => 403,
            DenyStatus::NotFound => 404,
        }
    }
}

/// Why access was refused (for tests, logs and the explain endpoint; never more than the
/// status reveals is sent to the client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DenyReason {
    Expired,
    /// The user cannot see the resource at all.
    UserCannotSee,
    /// The user can see it but their own rights are below the need (rule 1).
    OwnerLacksRights,
    /// A fine-grained token of another resource owner (rule 3).
    WrongResourceOwner,
    /// A repository outside the token's selection (rule 4).
    RepositoryNotSelected,
    /// The token lacks the permission or level (rules 4-5).
    MissingPermission,
    /// The permission's group does not apply to this owner (rule 4: account permissions only for
    /// the user, organization permissions only for an organization).
    PermissionNotApplicable,
    /// A classic token without the scope (rule 9).
    MissingScope,
    /// The organization (or its enterprise) restricts this kind of token (rule 6).
    KindRestricted,
    /// The token's lifetime exceeds the organization's maximum (rule 6).
    LifetimeExceeded,
    /// Pending, denied or revoked for the organization (rules 7-8).
    GrantNotActive(GrantState),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub status: DenyStatus,
    pub reason: DenyReason,
    pub message: String,
    /// `X-Accepted-GitHub-Permissions` for fine-grained tokens.
    pub accepted_permissions: Option<String>,
    /// `X-Accepted-OAuth-Scopes` for classic tokens.
    pub accepted_scopes: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(Denial),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Decision::Allow => None,
            Decision::Deny(d) => Some(d),
        }
    }
}

pub const BAD_CREDENTIALS: &str = "Bad credentials";
pub const NOT_FOUND: &str = "Not Found";
pub const NOT_ACCESSIBLE_BY_PAT: &str = "Resource not accessible by personal access token";
pub const NOT_ACCESSIBLE_BY_APP: &str = "Resource not accessible by integration";

struct Ctx<'a> {
    cred: &'a Credential,
    resource: &'a Resource<'a>,
    need: Need,
}

impl Ctx<'_> {
    fn deny(&self, status: DenyStatus, reason: DenyReason, message: String) -> Decision {
        let (accepted_permissions, accepted_scopes) = match self.cred.grant {
            TokenGrant::Classic { .. } => (
                None,
                Some(
                    self.need
                        .classic_scope(self.resource.public)
                        .map(|s| s.name().to_owned())
                        .unwrap_or_default(),
                ),
            ),
            _ => (Some(self.need.accepted_permissions()), None),
        };
        Decision::Deny(Denial {
            status,
            reason,
            message,
            accepted_permissions,
            accepted_scopes,
        })
    }

    /// Hidden resources answer 404 (never confirm a private resource exists); visible ones 403.
    fn refuse(&self, token_sees_it: bool, reason: DenyReason) -> Decision {
        if token_sees_it || self.resource.public {
            let message = match self.cred.grant {
                TokenGrant::AppInstallation { .. } => NOT_ACCESSIBLE_BY_APP,
                _ => NOT_ACCESSIBLE_BY_PAT,
            };
            self.deny(DenyStatus::Forbidden, reason, message.to_owned())
        } else {
            self.deny(DenyStatus::NotFound, reason, NOT_FOUND.to_owned())
        }
    }
}

/// The user's own ceiling for the need on the resource (rule 1 and rule 15).
fn owner_ceiling(
    cred: &Credential,
    resource: &Resource<'_>,
    need: Need,
    rights: OwnerRights,
) -> Option<Level> {
    match (resource.kind, need.permission.group()) {
        (ResourceKind::Repository(_), PermissionGroup::Repository) => {
            rights.repo_role.and_then(|r| r.ceiling(need.permission))
        }
        (ResourceKind::Organization, PermissionGroup::Organization) => {
            rights.org_role.and_then(|r| r.ceiling(need.permission))
        }
        (ResourceKind::Account, PermissionGroup::Account) if resource.owner == cred.user => {
            Some(need.permission.max_level())
        }
        _ => None,
    }
}

fn user_sees(cred: &Credential, resource: &Resource<'_>, rights: OwnerRights) -> bool {
    resource.public
        || match resource.kind {
            ResourceKind::Repository(_) => rights.repo_role.is_some(),
            ResourceKind::Organization => rights.org_role.is_some(),
            ResourceKind::Account => resource.owner == cred.user,
        }
}

/// Checks the owning organization's policy for the token's kind (rule 6).
fn policy_refusal(ctx: &Ctx<'_>, rights: OwnerRights) -> Option<Decision> {
    let policy = ctx.resource.policy?;
    let kind = ctx.cred.kind();
    if kind == TokenKind::AppInstallation {
        return None;
    }
    if policy.access(kind).0 == Access::Restrict {
        return Some(ctx.deny(
            DenyStatus::Forbidden,
            DenyReason::KindRestricted,
            policy.restriction_message(kind),
        ));
    }
    if let Some((max, source)) = policy.max_lifetime_days(kind) {
        let exempt = policy.exempt_administrators && rights.org_role == Some(OrgRole::Owner);
        let too_long = ctx
            .cred
            .lifetime_days()
            .is_none_or(|days| days > i64::from(max));
        if too_long && !exempt {
            return Some(ctx.deny(
                DenyStatus::Forbidden,
                DenyReason::LifetimeExceeded,
                policy.lifetime_message(kind, max, source),
            ));
        }
    }
    None
}

/// Decides whether the credential may have `need` on `resource`.
///
/// `need` is `None` for requests that any valid token may make (`GET /user`).
pub fn decide(
    cred: &Credential,
    resource: &Resource<'_>,
    need: Option<Need>,
    rights: OwnerRights,
    now: OffsetDateTime,
) -> Decision {
    if cred.expires_at.is_some_and(|e| e <= now) {
        return Decision::Deny(Denial {
            status: DenyStatus::Unauthorized,
            reason: DenyReason::Expired,
            message: BAD_CREDENTIALS.to_owned(),
            accepted_permissions: None,
            accepted_scopes: None,
        });
    }
    let Some(need) = need else {
        return if user_sees(cred, resource, rights) {
            Decision::Allow
        } else {
            Decision::Deny(Denial {
                status: DenyStatus::NotFound,
                reason: DenyReason::UserCannotSee,
                message: NOT_FOUND.to_owned(),
                accepted_permissions: None,
                accepted_scopes: None,
            })
        };
    };
    let ctx = Ctx {
        cred,
        resource,
        need,
    };
    // Rule 2: every live token reads public resources, whatever its state or policy.
    if resource.public && need.level == Level::Read && publicly_readable(need.permission) {
        return Decision::Allow;
    }
    if !user_sees(cred, resource, rights) {
        return ctx.refuse(false, DenyReason::UserCannotSee);
    }
    match &cred.grant {
        TokenGrant::AppInstallation { org, permissions } => {
            if resource.owner != *org {
                return ctx.refuse(false, DenyReason::WrongResourceOwner);
            }
            if !permissions.grants(need.permission, need.level) {
                return ctx.refuse(true, DenyReason::MissingPermission);
            }
            Decision::Allow
        }
        TokenGrant::Classic { scopes } => {
            if let Some(refusal) = policy_refusal(&ctx, rights) {
                return refusal;
            }
            // A classic token sees private repositories only with `repo`, and organization
            // data only with `read:org`.
            let token_sees = match resource.kind {
                ResourceKind::Repository(_) => resource.public || scopes.allows(Scope::REPO),
                ResourceKind::Organization => resource.public || scopes.allows(Scope::READ_ORG),
                ResourceKind::Account => true,
            };
            if let Some(scope) = need.classic_scope(resource.public)
                && !scopes.allows(scope)
            {
                return ctx.refuse(token_sees, DenyReason::MissingScope);
            }
            match owner_ceiling(cred, resource, need, rights) {
                Some(level) if level >= need.level => Decision::Allow,
                _ => ctx.refuse(token_sees, DenyReason::OwnerLacksRights),
            }
        }
        TokenGrant::FineGrained {
            resource_owner,
            granted,
            state,
            ..
        } => {
            if *resource_owner != resource.owner {
                return ctx.refuse(false, DenyReason::WrongResourceOwner);
            }
            let applicable = !matches!(
                (resource.owner_kind, need.permission.group()),
                (AccountKind::User, PermissionGroup::Organization)
                    | (AccountKind::Organization, PermissionGroup::Account)
            );
            if !applicable || need.permission.app_only() {
                return ctx.refuse(false, DenyReason::PermissionNotApplicable);
            }
            if let Some(refusal) = policy_refusal(&ctx, rights) {
                return refusal;
            }
            let access = match (state, granted) {
                (GrantState::NotRequired | GrantState::Approved, Some(access)) => access,
                (state, _) => return ctx.refuse(false, DenyReason::GrantNotActive(*state)),
            };
            let token_sees = match resource.kind {
                ResourceKind::Repository(id) => access.includes_repo(id),
                _ => true,
            };
            if !token_sees {
                return ctx.refuse(false, DenyReason::RepositoryNotSelected);
            }
            // `metadata: read` comes with any repository access (rule 4).
            let implied_metadata = need.permission == Permission::METADATA
                && need.level == Level::Read
                && matches!(resource.kind, ResourceKind::Repository(_));
            if !implied_metadata && !access.permissions.grants(need.permission, need.level) {
                return ctx.refuse(true, DenyReason::MissingPermission);
            }
            match owner_ceiling(cred, resource, need, rights) {
                Some(level) if level >= need.level => Decision::Allow,
                _ => ctx.refuse(true, DenyReason::OwnerLacksRights),
            }
        }
    }
}

#[cfg(test)]
mod tests;
