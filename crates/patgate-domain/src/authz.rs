//! The rules of authorization (DESIGN §3): one pure function, `decide`.
//!
//! The handler names the resource and the access it needs; the app supplies what the directory
//! says of the token's user (their own rights) and the organization's effective policy; `decide`
//! answers allow, or the status and GitHub's message to send.

use time::OffsetDateTime;

use crate::catalog::{Level, OrgRole, Permission, PermissionGroup, RepoRole};
use crate::model::{AccountId, AccountKind, Credential, GrantState, RepoId, TokenGrant};
use crate::policy::{Access, EffectivePolicy};
use crate::scopes::{Scope, Scopes, classic_scope_for};
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

impl DenyReason {
    /// The code of the rule that refused, as explanations name it ([`Finding::rule`]).
    pub fn rule_code(self) -> &'static str {
        match self {
            DenyReason::Expired => "token_expiry",
            DenyReason::UserCannotSee => "user_reach",
            DenyReason::OwnerLacksRights => "owner_rights",
            DenyReason::WrongResourceOwner => "resource_owner",
            DenyReason::RepositoryNotSelected => "repository_selection",
            DenyReason::MissingPermission => "token_permission",
            DenyReason::PermissionNotApplicable => "permission_group",
            DenyReason::MissingScope => "classic_scope",
            DenyReason::KindRestricted => "policy_token_kind",
            DenyReason::LifetimeExceeded => "policy_lifetime",
            DenyReason::GrantNotActive(_) => "approval",
        }
    }
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

/// What a request asks of the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// Nothing but a live token whose user may see the resource (`GET /user`).
    Nothing,
    /// A fine-grained permission at a level; a classic token needs the scope that covers it.
    Need(Need),
    /// A classic scope (the authorization API's `scope`): only classic tokens have scopes.
    Scope(Scope),
}

impl From<Option<Need>> for Ask {
    fn from(need: Option<Need>) -> Self {
        need.map_or(Ask::Nothing, Ask::Need)
    }
}

// ---------------------------------------------------------------------------------------------
// Explanations: the rules `decide` checked, in order, and what each found
// ---------------------------------------------------------------------------------------------

/// What one rule found. [`explain`] records one per rule it checked, in the order `decide`
/// checks them; a refusal's last step is the rule that refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Rule 2: expired tokens are refused everywhere.
    Expiry { expires_at: Option<OffsetDateTime> },
    /// Rule 2: public reads pass for every live token (recorded when it decided).
    PublicRead { permission: Permission },
    /// Rule 15 and 13: whether the token's user may see the resource at all.
    UserReach {
        sees: bool,
        repo_role: Option<RepoRole>,
        org_role: Option<OrgRole>,
    },
    /// The resource a caller named does not exist; told exactly as [`Finding::UserReach`]
    /// refusing, so that an explanation never tells a missing resource from a hidden one.
    NoSuchResource,
    /// Rule 4: a repository permission acts on a repository, an organization permission on an
    /// organization, an account permission on an account.
    PermissionFits {
        group: PermissionGroup,
        kind: ResourceKind,
    },
    /// Rule 14: an app installation token acts for its organization only.
    AppOrganization { org: AccountId },
    /// Rule 14: the app's permissions.
    AppPermission { need: Need, granted: Option<Level> },
    /// Rule 6: the organization (or its enterprise) allows this kind of token.
    KindAllowed {
        kind: TokenKind,
        allowed: bool,
        message: String,
    },
    /// Rule 6: the token's lifetime against the maximum.
    Lifetime {
        kind: TokenKind,
        max_days: u16,
        lifetime_days: Option<i64>,
        exempt: bool,
        message: String,
    },
    /// Rule 9: the classic scope the request needs (`None`: none needed).
    Scope {
        needed: Option<Scope>,
        granted: Scopes,
    },
    /// Rule 9: a scope was asked of a fine-grained token, which has none.
    NoScopes { needed: Scope },
    /// Rule 3: a fine-grained token reaches its one resource owner.
    ResourceOwner {
        token_owner: AccountId,
        resource_owner: AccountId,
    },
    /// Rule 4: the permission's group applies to the owner's kind.
    PermissionApplies {
        permission: Permission,
        owner_kind: AccountKind,
    },
    /// Rules 7 and 8: the organization's approval.
    Approval { state: GrantState },
    /// Rule 4: the repository is in the token's selection.
    Selection {
        selection: crate::model::RepositorySelection,
    },
    /// Rule 5: the token's own permission.
    TokenPermission {
        need: Need,
        granted: Option<Level>,
        /// `metadata: read`, which comes with any repository in the selection.
        implied: bool,
    },
    /// Rule 1: the user's own rights cap the token.
    OwnerRights {
        need: Need,
        ceiling: Option<Level>,
        repo_role: Option<RepoRole>,
        org_role: Option<OrgRole>,
    },
    /// A requirement no personal access token can meet (`checks`, `repository_projects`).
    AppOnly { permission: &'static str },
}

/// A rule as an explanation names it: a stable code, the rule of DESIGN §3, a title.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub code: &'static str,
    /// The number of the rule in DESIGN §3 (and `docs/api.md`).
    pub design_rule: u8,
    pub title: &'static str,
}

impl Finding {
    pub fn rule(&self) -> Rule {
        let (code, design_rule, title) = match self {
            Finding::Expiry { .. } => ("token_expiry", 2, "The token has not expired"),
            Finding::PublicRead { .. } => ("public_read", 2, "Public resources are readable"),
            Finding::UserReach { .. } | Finding::NoSuchResource => {
                ("user_reach", 15, "The token's user can see the resource")
            }
            // One code for every "this permission does not apply here" (`DenyReason::
            // PermissionNotApplicable`), whatever the reason it does not.
            Finding::PermissionFits { .. } => (
                "permission_group",
                4,
                "The permission acts on this kind of resource",
            ),
            // The codes are the refusal's (`DenyReason::rule_code`): an installation's
            // organization is its resource owner, its permissions its token's.
            Finding::AppOrganization { .. } => (
                "resource_owner",
                14,
                "An app installation acts for its organization",
            ),
            Finding::AppPermission { .. } => {
                ("token_permission", 14, "The app holds the permission")
            }
            Finding::KindAllowed { .. } => (
                "policy_token_kind",
                6,
                "The organization allows this kind of token",
            ),
            Finding::Lifetime { .. } => (
                "policy_lifetime",
                6,
                "The token's lifetime is within the organization's maximum",
            ),
            Finding::Scope { .. } | Finding::NoScopes { .. } => {
                ("classic_scope", 9, "The token has the scope")
            }
            Finding::ResourceOwner { .. } => (
                "resource_owner",
                3,
                "The resource belongs to the token's resource owner",
            ),
            Finding::PermissionApplies { .. } => (
                "permission_group",
                4,
                "The permission applies to this owner",
            ),
            Finding::Approval { .. } => (
                "approval",
                7,
                "The organization approved the token's access",
            ),
            Finding::Selection { .. } => (
                "repository_selection",
                4,
                "The repository is in the token's selection",
            ),
            Finding::TokenPermission { .. } => (
                "token_permission",
                5,
                "The token holds the permission at this level",
            ),
            Finding::OwnerRights { .. } => (
                "owner_rights",
                1,
                "The token's user holds the permission themselves",
            ),
            Finding::AppOnly { .. } => (
                "permission_group",
                4,
                "The permission can be held by a personal access token",
            ),
        };
        Rule {
            code,
            design_rule,
            title,
        }
    }

    /// The finding in words: `names` gives an account's login, `resource` names what is
    /// accessed (`acme/api`, `the organization acme`, `alice's account`).
    pub fn describe(
        &self,
        passed: bool,
        names: &dyn Fn(AccountId) -> String,
        resource: &str,
    ) -> String {
        let level = |l: Option<Level>| l.map_or("none", Level::as_str);
        match self {
            Finding::Expiry { expires_at: None } => "The token never expires.".to_owned(),
            Finding::Expiry {
                expires_at: Some(at),
            } if passed => format!("The token expires at {}.", rfc3339(*at)),
            Finding::Expiry {
                expires_at: Some(at),
            } => format!("The token expired at {}.", rfc3339(*at)),
            Finding::PublicRead { permission } => format!(
                "{resource} is public: every live token may read its {}.",
                permission.name()
            ),
            Finding::UserReach {
                sees: true,
                repo_role,
                org_role,
            } => match (repo_role, org_role) {
                (Some(r), _) => format!("The token's user has the {} role on {resource}.", r.as_str()),
                (None, Some(o)) => format!("The token's user is an {} of {resource}.", org_word(*o)),
                (None, None) => format!("The token's user can see {resource}."),
            },
            Finding::UserReach { sees: false, .. } | Finding::NoSuchResource => format!(
                "{resource} does not exist, or the token's user has no access to it in the directory."
            ),
            Finding::PermissionFits { group, kind } if passed => format!(
                "A {} permission acts on {}.",
                group.as_str(),
                kind_word(*kind)
            ),
            Finding::PermissionFits { group, kind } => format!(
                "A {} permission does not act on {}: patgate cannot authorize this request with it.",
                group.as_str(),
                kind_word(*kind)
            ),
            Finding::AppOrganization { org } if passed => {
                format!("The app acts for {}.", names(*org))
            }
            Finding::AppOrganization { org } => format!(
                "The app acts for {}, which does not own {resource}.",
                names(*org)
            ),
            Finding::AppPermission { need, granted } => format!(
                "The app holds {}={}; the request needs {}.",
                need.permission.name(),
                level(*granted),
                need.accepted_permissions()
            ),
            Finding::KindAllowed {
                kind,
                allowed: true,
                ..
            } => format!("The organization allows {}.", kind_name(*kind)),
            Finding::KindAllowed { message, .. } => message.clone(),
            Finding::Lifetime {
                max_days,
                lifetime_days,
                exempt,
                message,
                ..
            } => {
                let lifetime = lifetime_days
                    .map_or_else(|| "never expires".to_owned(), |d| format!("lives {d} days"));
                if *exempt {
                    format!(
                        "The token {lifetime}, beyond the maximum of {max_days} days, but organization owners are exempt."
                    )
                } else if passed {
                    format!("The token {lifetime}, within the maximum of {max_days} days.")
                } else {
                    format!("The token {lifetime}. {message}")
                }
            }
            Finding::Scope {
                needed: None,
                granted,
            } => format!(
                "No scope is needed here (the token has: {}).",
                scopes_word(granted)
            ),
            Finding::Scope {
                needed: Some(scope),
                granted,
            } if passed => format!(
                "The request needs the {} scope; the token has {}.",
                scope.name(),
                scopes_word(granted)
            ),
            Finding::Scope {
                needed: Some(scope),
                granted,
            } => format!(
                "The request needs the {} scope, which the token does not have (it has {}).",
                scope.name(),
                scopes_word(granted)
            ),
            Finding::NoScopes { needed } => format!(
                "The request needs the classic scope {}; a fine-grained token has no scopes.",
                needed.name()
            ),
            Finding::ResourceOwner {
                token_owner,
                resource_owner,
            } if passed => format!("The token's resource owner is {}.", names(*token_owner)),
            Finding::ResourceOwner {
                token_owner,
                resource_owner,
            } => format!(
                "The token's resource owner is {}, but {resource} belongs to {}.",
                names(*token_owner),
                names(*resource_owner)
            ),
            Finding::PermissionApplies {
                permission,
                owner_kind,
            } if passed => format!(
                "{} is a {} permission, which applies to this owner.",
                permission.name(),
                permission.group().as_str()
            ),
            Finding::PermissionApplies {
                permission,
                owner_kind,
            } => format!(
                "{} is a {} permission, which does not apply to an {} owner.",
                permission.name(),
                permission.group().as_str(),
                match owner_kind {
                    AccountKind::User => "account (user)",
                    AccountKind::Organization => "organization",
                }
            ),
            Finding::Approval { state } => match state {
                GrantState::NotRequired => "The token belongs to its user's account: no approval is needed.".to_owned(),
                GrantState::Approved => "The organization approved the token's access.".to_owned(),
                GrantState::Pending => "The organization has not approved the token yet (pending): it reads public resources only.".to_owned(),
                GrantState::Denied => "The organization denied the token's request: it reads public resources only.".to_owned(),
                GrantState::Revoked => "The organization revoked the token's access: it reads public resources only.".to_owned(),
            },
            Finding::Selection { selection } if passed => format!(
                "{resource} is in the token's repository selection ({}).",
                selection.as_str()
            ),
            Finding::Selection { selection } => format!(
                "{resource} is not in the token's repository selection ({}).",
                selection.as_str()
            ),
            Finding::TokenPermission {
                need,
                implied: true,
                ..
            } => format!(
                "{} comes with any repository in the selection.",
                need.accepted_permissions()
            ),
            Finding::TokenPermission { need, granted, .. } if passed => format!(
                "The token holds {}={}; the request needs {}.",
                need.permission.name(),
                level(*granted),
                need.accepted_permissions()
            ),
            Finding::TokenPermission { need, granted, .. } => format!(
                "The request needs {}, but the token holds {}={}.",
                need.accepted_permissions(),
                need.permission.name(),
                level(*granted)
            ),
            Finding::OwnerRights {
                need,
                ceiling,
                repo_role,
                org_role,
            } => {
                let standing = match (repo_role, org_role) {
                    (Some(r), _) => format!("the {} role", r.as_str()),
                    (None, Some(o)) => format!("an {}'s standing", org_word(*o)),
                    (None, None) => "no role".to_owned(),
                };
                if passed {
                    format!(
                        "The token's user has {standing} on {resource}, which allows {}={}.",
                        need.permission.name(),
                        level(*ceiling)
                    )
                } else {
                    format!(
                        "The request needs {}, but the token's user has {standing} on {resource}, which allows {}={}: a token never grants more than its user has.",
                        need.accepted_permissions(),
                        need.permission.name(),
                        level(*ceiling)
                    )
                }
            }
            Finding::AppOnly { permission } => format!(
                "The request needs {permission}, which only GitHub Apps can hold: no personal access token meets it."
            ),
        }
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

fn org_word(role: OrgRole) -> &'static str {
    match role {
        OrgRole::Owner => "owner",
        OrgRole::Member => "member",
    }
}

fn kind_word(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Account => "an account",
        ResourceKind::Repository(_) => "a repository",
        ResourceKind::Organization => "an organization",
    }
}

fn kind_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::FineGrained => "fine-grained personal access tokens",
        TokenKind::Classic => "personal access tokens (classic)",
        TokenKind::AppInstallation => "app installation tokens",
    }
}

fn scopes_word(scopes: &Scopes) -> String {
    if scopes.is_empty() {
        "no scopes".to_owned()
    } else {
        scopes.header_value()
    }
}

/// One rule checked, and whether it let the request through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub finding: Finding,
    pub passed: bool,
}

/// The decision with the chain of rules that led to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub decision: Decision,
    pub steps: Vec<Step>,
}

impl Explanation {
    /// The step that refused (the last one, when the decision is a refusal).
    pub fn refused_by(&self) -> Option<&Step> {
        match self.decision {
            Decision::Allow => None,
            Decision::Deny(_) => self.steps.last().filter(|s| !s.passed),
        }
    }
}

/// Where `evaluate` reports what it checks; the no-op one costs nothing on the hot path (its
/// closures are never called).
trait Recorder {
    fn note(&mut self, passed: bool, finding: impl FnOnce() -> Finding);
}

struct Silent;

impl Recorder for Silent {
    #[inline(always)]
    fn note(&mut self, _: bool, _: impl FnOnce() -> Finding) {}
}

#[derive(Default)]
struct Steps(Vec<Step>);

impl Recorder for Steps {
    fn note(&mut self, passed: bool, finding: impl FnOnce() -> Finding) {
        self.0.push(Step {
            finding: finding(),
            passed,
        });
    }
}

struct Ctx<'a> {
    cred: &'a Credential,
    resource: &'a Resource<'a>,
    ask: Ask,
}

impl Ctx<'_> {
    fn deny(&self, status: DenyStatus, reason: DenyReason, message: String) -> Decision {
        let classic = matches!(self.cred.grant, TokenGrant::Classic { .. });
        let (accepted_permissions, accepted_scopes) = match (self.ask, classic) {
            (Ask::Need(need), true) => (
                None,
                Some(
                    need.classic_scope(self.resource.public)
                        .map(|s| s.name().to_owned())
                        .unwrap_or_default(),
                ),
            ),
            (Ask::Need(need), false) => (Some(need.accepted_permissions()), None),
            (Ask::Scope(scope), _) => (None, Some(scope.name().to_owned())),
            (Ask::Nothing, _) => (None, None),
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

/// Whether a permission of `group` acts on a resource of `kind` (rule 4).
fn fits(group: PermissionGroup, kind: ResourceKind) -> bool {
    matches!(
        (group, kind),
        (PermissionGroup::Repository, ResourceKind::Repository(_))
            | (PermissionGroup::Organization, ResourceKind::Organization)
            | (PermissionGroup::Account, ResourceKind::Account)
    )
}

/// Checks the owning organization's policy for the token's kind (rule 6).
fn policy_refusal(ctx: &Ctx<'_>, rights: OwnerRights, rec: &mut impl Recorder) -> Option<Decision> {
    let policy = ctx.resource.policy?;
    let kind = ctx.cred.kind();
    if kind == TokenKind::AppInstallation {
        return None;
    }
    let restricted = policy.access(kind).0 == Access::Restrict;
    rec.note(!restricted, || Finding::KindAllowed {
        kind,
        allowed: !restricted,
        message: policy.restriction_message(kind),
    });
    if restricted {
        return Some(ctx.deny(
            DenyStatus::Forbidden,
            DenyReason::KindRestricted,
            policy.restriction_message(kind),
        ));
    }
    if let Some((max, source)) = policy.max_lifetime_days(kind) {
        let exempt = policy.exempt_administrators && rights.org_role == Some(OrgRole::Owner);
        let lifetime_days = ctx.cred.lifetime_days();
        let too_long = lifetime_days.is_none_or(|days| days > i64::from(max));
        rec.note(!too_long || exempt, || Finding::Lifetime {
            kind,
            max_days: max,
            lifetime_days,
            exempt: too_long && exempt,
            message: policy.lifetime_message(kind, max, source),
        });
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
    evaluate(cred, resource, need.into(), rights, now, &mut Silent)
}

/// [`decide`] for any [`Ask`], a classic scope included.
pub fn decide_ask(
    cred: &Credential,
    resource: &Resource<'_>,
    ask: Ask,
    rights: OwnerRights,
    now: OffsetDateTime,
) -> Decision {
    evaluate(cred, resource, ask, rights, now, &mut Silent)
}

/// The decision [`decide_ask`] makes, with every rule it checked on the way: the same code
/// path, recording.
pub fn explain(
    cred: &Credential,
    resource: &Resource<'_>,
    ask: Ask,
    rights: OwnerRights,
    now: OffsetDateTime,
) -> Explanation {
    let mut steps = Steps::default();
    let decision = evaluate(cred, resource, ask, rights, now, &mut steps);
    Explanation {
        decision,
        steps: steps.0,
    }
}

fn evaluate(
    cred: &Credential,
    resource: &Resource<'_>,
    ask: Ask,
    rights: OwnerRights,
    now: OffsetDateTime,
    rec: &mut impl Recorder,
) -> Decision {
    let expired = cred.expires_at.is_some_and(|e| e <= now);
    rec.note(!expired, || Finding::Expiry {
        expires_at: cred.expires_at,
    });
    if expired {
        return Decision::Deny(Denial {
            status: DenyStatus::Unauthorized,
            reason: DenyReason::Expired,
            message: BAD_CREDENTIALS.to_owned(),
            accepted_permissions: None,
            accepted_scopes: None,
        });
    }
    let ctx = Ctx {
        cred,
        resource,
        ask,
    };
    // Rule 14: an installation acts for its organization and has no account (`GET /user`
    // answers it 403 on GitHub).
    if let (TokenGrant::AppInstallation { org, .. }, ResourceKind::Account) =
        (&cred.grant, resource.kind)
    {
        rec.note(false, || Finding::AppOrganization { org: *org });
        return ctx.refuse(true, DenyReason::WrongResourceOwner);
    }
    let need = match ask {
        Ask::Nothing => {
            let sees = user_sees(cred, resource, rights);
            rec.note(sees, || Finding::UserReach {
                sees,
                repo_role: rights.repo_role,
                org_role: rights.org_role,
            });
            return if sees {
                Decision::Allow
            } else {
                ctx.deny(
                    DenyStatus::NotFound,
                    DenyReason::UserCannotSee,
                    NOT_FOUND.to_owned(),
                )
            };
        }
        Ask::Scope(scope) => return evaluate_scope(&ctx, scope, rights, rec),
        Ask::Need(need) => need,
    };
    // Rule 2: every live token reads public resources, whatever its state or policy.
    if resource.public && need.level == Level::Read && publicly_readable(need.permission) {
        rec.note(true, || Finding::PublicRead {
            permission: need.permission,
        });
        return Decision::Allow;
    }
    let sees = user_sees(cred, resource, rights);
    rec.note(sees, || Finding::UserReach {
        sees,
        repo_role: rights.repo_role,
        org_role: rights.org_role,
    });
    if !sees {
        return ctx.refuse(false, DenyReason::UserCannotSee);
    }
    let fitting = fits(need.permission.group(), resource.kind);
    rec.note(fitting, || Finding::PermissionFits {
        group: need.permission.group(),
        kind: resource.kind,
    });
    if !fitting {
        // Hidden as a need that does not apply to the owner is (below): it says nothing.
        return ctx.refuse(false, DenyReason::PermissionNotApplicable);
    }
    match &cred.grant {
        TokenGrant::AppInstallation { org, permissions } => {
            let own = resource.owner == *org;
            rec.note(own, || Finding::AppOrganization { org: *org });
            if !own {
                return ctx.refuse(false, DenyReason::WrongResourceOwner);
            }
            let granted = permissions.grants(need.permission, need.level);
            rec.note(granted, || Finding::AppPermission {
                need,
                granted: permissions.get(need.permission),
            });
            if !granted {
                return ctx.refuse(true, DenyReason::MissingPermission);
            }
            Decision::Allow
        }
        TokenGrant::Classic { scopes } => {
            if let Some(refusal) = policy_refusal(&ctx, rights, rec) {
                return refusal;
            }
            // A classic token sees private repositories only with `repo`, and organization
            // data only with `read:org`.
            let token_sees = match resource.kind {
                ResourceKind::Repository(_) => resource.public || scopes.allows(Scope::REPO),
                ResourceKind::Organization => resource.public || scopes.allows(Scope::READ_ORG),
                ResourceKind::Account => true,
            };
            let needed = need.classic_scope(resource.public);
            let has_scope = needed.is_none_or(|scope| scopes.allows(scope));
            rec.note(has_scope, || Finding::Scope {
                needed,
                granted: scopes.clone(),
            });
            if !has_scope {
                return ctx.refuse(token_sees, DenyReason::MissingScope);
            }
            owner_rights(&ctx, need, rights, token_sees, rec)
        }
        TokenGrant::FineGrained {
            resource_owner,
            granted,
            state,
            ..
        } => {
            let own = *resource_owner == resource.owner;
            rec.note(own, || Finding::ResourceOwner {
                token_owner: *resource_owner,
                resource_owner: resource.owner,
            });
            if !own {
                return ctx.refuse(false, DenyReason::WrongResourceOwner);
            }
            let applicable = !need.permission.app_only()
                && !matches!(
                    (resource.owner_kind, need.permission.group()),
                    (AccountKind::User, PermissionGroup::Organization)
                        | (AccountKind::Organization, PermissionGroup::Account)
                );
            rec.note(applicable, || Finding::PermissionApplies {
                permission: need.permission,
                owner_kind: resource.owner_kind,
            });
            if !applicable {
                return ctx.refuse(false, DenyReason::PermissionNotApplicable);
            }
            if let Some(refusal) = policy_refusal(&ctx, rights, rec) {
                return refusal;
            }
            let active = matches!(state, GrantState::NotRequired | GrantState::Approved);
            let access = match (active, granted) {
                (true, Some(access)) => access,
                _ => {
                    rec.note(false, || Finding::Approval { state: *state });
                    return ctx.refuse(false, DenyReason::GrantNotActive(*state));
                }
            };
            rec.note(true, || Finding::Approval { state: *state });
            if let ResourceKind::Repository(id) = resource.kind {
                let selected = access.includes_repo(id);
                rec.note(selected, || Finding::Selection {
                    selection: access.selection,
                });
                if !selected {
                    return ctx.refuse(false, DenyReason::RepositoryNotSelected);
                }
            }
            // `metadata: read` comes with any repository access (rule 4).
            let implied = need.permission == Permission::METADATA
                && need.level == Level::Read
                && matches!(resource.kind, ResourceKind::Repository(_));
            let holds = implied || access.permissions.grants(need.permission, need.level);
            rec.note(holds, || Finding::TokenPermission {
                need,
                granted: access.permissions.get(need.permission),
                implied,
            });
            if !holds {
                return ctx.refuse(true, DenyReason::MissingPermission);
            }
            owner_rights(&ctx, need, rights, true, rec)
        }
    }
}

/// Rule 1, last: the user's own rights cap the token.
fn owner_rights(
    ctx: &Ctx<'_>,
    need: Need,
    rights: OwnerRights,
    token_sees: bool,
    rec: &mut impl Recorder,
) -> Decision {
    let ceiling = owner_ceiling(ctx.cred, ctx.resource, need, rights);
    let enough = ceiling.is_some_and(|level| level >= need.level);
    rec.note(enough, || Finding::OwnerRights {
        need,
        ceiling,
        repo_role: rights.repo_role,
        org_role: rights.org_role,
    });
    if enough {
        Decision::Allow
    } else {
        ctx.refuse(token_sees, DenyReason::OwnerLacksRights)
    }
}

/// A classic scope asked of the token on a resource its user must see: only classic tokens
/// have scopes; the organization's policy applies as to any classic use.
fn evaluate_scope(
    ctx: &Ctx<'_>,
    scope: Scope,
    rights: OwnerRights,
    rec: &mut impl Recorder,
) -> Decision {
    let sees = user_sees(ctx.cred, ctx.resource, rights);
    rec.note(sees, || Finding::UserReach {
        sees,
        repo_role: rights.repo_role,
        org_role: rights.org_role,
    });
    if !sees {
        return ctx.refuse(false, DenyReason::UserCannotSee);
    }
    let TokenGrant::Classic { scopes } = &ctx.cred.grant else {
        rec.note(false, || Finding::NoScopes { needed: scope });
        return ctx.refuse(false, DenyReason::MissingScope);
    };
    if let Some(refusal) = policy_refusal(ctx, rights, rec) {
        return refusal;
    }
    let token_sees = match ctx.resource.kind {
        ResourceKind::Repository(_) => ctx.resource.public || scopes.allows(Scope::REPO),
        ResourceKind::Organization => ctx.resource.public || scopes.allows(Scope::READ_ORG),
        ResourceKind::Account => true,
    };
    let has = scopes.allows(scope);
    rec.note(has, || Finding::Scope {
        needed: Some(scope),
        granted: scopes.clone(),
    });
    if has {
        Decision::Allow
    } else {
        ctx.refuse(token_sees, DenyReason::MissingScope)
    }
}

/// The 404 for a resource that does not exist, indistinguishable from one the credential may not
/// see: the same status, message and accepted headers as [`decide`] gives a private resource it
/// hides (the headers depend on the need, never on the resource's existence).
pub fn not_found_for(cred: &Credential, ask: Ask) -> Denial {
    let hidden = Resource {
        kind: ResourceKind::Account,
        owner: cred.user,
        owner_kind: AccountKind::User,
        public: false,
        policy: None,
    };
    let ctx = Ctx {
        cred,
        resource: &hidden,
        ask,
    };
    match ctx.deny(
        DenyStatus::NotFound,
        DenyReason::UserCannotSee,
        NOT_FOUND.to_owned(),
    ) {
        Decision::Deny(d) => d,
        Decision::Allow => Denial {
            status: DenyStatus::NotFound,
            reason: DenyReason::UserCannotSee,
            message: NOT_FOUND.to_owned(),
            accepted_permissions: None,
            accepted_scopes: None,
        },
    }
}

/// [`not_found_for`] a route: its accepted headers as [`decide_route`] gives them.
pub fn route_not_found_for(cred: &Credential, route: &crate::routes::Route) -> Denial {
    let mut d = not_found_for(cred, Ask::Nothing);
    match cred.grant {
        TokenGrant::Classic { .. } => {
            d.accepted_scopes = Some(route.classic_scopes(false).header_value());
        }
        _ => d.accepted_permissions = Some(route.accepted_permissions()),
    }
    d
}

// ---------------------------------------------------------------------------------------------
// Routes: several permission sets, any one of which suffices
// ---------------------------------------------------------------------------------------------

/// One requirement of a route, decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequirementExplanation {
    pub requirement: crate::routes::Requirement,
    pub explanation: Explanation,
}

/// A route's decision, set by set ([`crate::routes::Route::any_of`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteExplanation {
    pub decision: Decision,
    /// For each permission set, each requirement's explanation (a set stops at its first
    /// refused requirement).
    pub sets: Vec<Vec<RequirementExplanation>>,
}

/// Decides a route of the table on its resource: allowed when every requirement of one of its
/// permission sets is ([`decide`] each). A refusal is the least revealing of the sets' (a 404
/// if any set answers 404, else the first set's), with the route's own accepted headers: every
/// set for `X-Accepted-GitHub-Permissions`, the scopes that cover them for
/// `X-Accepted-OAuth-Scopes`. A requirement no personal access token can hold (`checks`)
/// fails its set.
pub fn decide_route(
    cred: &Credential,
    resource: &Resource<'_>,
    route: &crate::routes::Route,
    rights: OwnerRights,
    now: OffsetDateTime,
) -> Decision {
    route_decision(cred, resource, route, rights, now, false).decision
}

/// [`decide_route`] with every rule each requirement checked.
pub fn explain_route(
    cred: &Credential,
    resource: &Resource<'_>,
    route: &crate::routes::Route,
    rights: OwnerRights,
    now: OffsetDateTime,
) -> RouteExplanation {
    route_decision(cred, resource, route, rights, now, true)
}

fn route_decision(
    cred: &Credential,
    resource: &Resource<'_>,
    route: &crate::routes::Route,
    rights: OwnerRights,
    now: OffsetDateTime,
    record: bool,
) -> RouteExplanation {
    let mut sets = Vec::new();
    let mut refusals: Vec<Denial> = Vec::new();
    for set in route.any_of() {
        let mut explained = Vec::new();
        let mut refusal = None;
        for requirement in *set {
            let explanation = match requirement.need() {
                Some(need) if record => explain(cred, resource, Ask::Need(need), rights, now),
                Some(need) => Explanation {
                    decision: decide(cred, resource, Some(need), rights, now),
                    steps: Vec::new(),
                },
                None => app_only(cred, resource, *requirement, rights, now, record),
            };
            let denial = explanation.decision.denial().cloned();
            explained.push(RequirementExplanation {
                requirement: *requirement,
                explanation,
            });
            if let Some(d) = denial {
                refusal = Some(d);
                break;
            }
        }
        sets.push(explained);
        match refusal {
            None => {
                return RouteExplanation {
                    decision: Decision::Allow,
                    sets,
                };
            }
            Some(d) => refusals.push(d),
        }
    }
    let chosen = refusals
        .iter()
        .find(|d| d.status == DenyStatus::Unauthorized)
        .or_else(|| refusals.iter().find(|d| d.status == DenyStatus::NotFound))
        .or_else(|| refusals.first())
        .cloned();
    let decision = match chosen {
        Some(mut d) => {
            if d.status != DenyStatus::Unauthorized {
                match cred.grant {
                    TokenGrant::Classic { .. } => {
                        d.accepted_permissions = None;
                        d.accepted_scopes =
                            Some(route.classic_scopes(resource.public).header_value());
                    }
                    _ => {
                        d.accepted_permissions = Some(route.accepted_permissions());
                        d.accepted_scopes = None;
                    }
                }
            }
            Decision::Deny(d)
        }
        // A route without permission sets: nothing can allow it.
        None => Decision::Deny(Denial {
            status: DenyStatus::NotFound,
            reason: DenyReason::PermissionNotApplicable,
            message: NOT_FOUND.to_owned(),
            accepted_permissions: None,
            accepted_scopes: None,
        }),
    };
    RouteExplanation { decision, sets }
}

/// An app-only requirement: the token's expiry and its user's reach decide 401 and 404 as for
/// any other need (checked through `metadata: read` on the resource, the least any repository
/// request asks), then no personal access token meets it.
fn app_only(
    cred: &Credential,
    resource: &Resource<'_>,
    requirement: crate::routes::Requirement,
    rights: OwnerRights,
    now: OffsetDateTime,
    record: bool,
) -> Explanation {
    let mut steps = Steps::default();
    let ctx = Ctx {
        cred,
        resource,
        ask: Ask::Nothing,
    };
    let expired = cred.expires_at.is_some_and(|e| e <= now);
    let mut rec = |passed: bool, f: Finding| {
        if record {
            steps.note(passed, || f);
        }
    };
    rec(
        !expired,
        Finding::Expiry {
            expires_at: cred.expires_at,
        },
    );
    let decision = if expired {
        Decision::Deny(Denial {
            status: DenyStatus::Unauthorized,
            reason: DenyReason::Expired,
            message: BAD_CREDENTIALS.to_owned(),
            accepted_permissions: None,
            accepted_scopes: None,
        })
    } else {
        let sees = user_sees(cred, resource, rights);
        rec(
            sees,
            Finding::UserReach {
                sees,
                repo_role: rights.repo_role,
                org_role: rights.org_role,
            },
        );
        if sees {
            rec(
                false,
                Finding::AppOnly {
                    permission: requirement.permission.name(),
                },
            );
            ctx.refuse(true, DenyReason::PermissionNotApplicable)
        } else {
            ctx.refuse(false, DenyReason::UserCannotSee)
        }
    };
    Explanation {
        decision,
        steps: steps.0,
    }
}

#[cfg(test)]
mod tests;
