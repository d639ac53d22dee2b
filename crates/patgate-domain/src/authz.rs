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

mod explain;

pub use explain::{Explanation, Finding, Rule, Step};
use explain::{Recorder, Silent, Steps};

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
