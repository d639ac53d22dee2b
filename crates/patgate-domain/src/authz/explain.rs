//! Explanations: the rules `decide` checked, in order, and what each found (`explain`,
//! `explain_route`), and the recorder `evaluate` reports to (a no-op one on the hot path).

use time::OffsetDateTime;

use super::{Need, ResourceKind};
use crate::catalog::{Level, OrgRole, Permission, PermissionGroup, RepoRole};
use crate::model::{AccountId, AccountKind, GrantState};
use crate::scopes::{Scope, Scopes};
use crate::token::TokenKind;

use super::Decision;

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
pub(super) trait Recorder {
    fn note(&mut self, passed: bool, finding: impl FnOnce() -> Finding);
}

pub(super) struct Silent;

impl Recorder for Silent {
    #[inline(always)]
    fn note(&mut self, _: bool, _: impl FnOnce() -> Finding) {}
}

#[derive(Default)]
pub(super) struct Steps(pub(super) Vec<Step>);

impl Recorder for Steps {
    fn note(&mut self, passed: bool, finding: impl FnOnce() -> Finding) {
        self.0.push(Step {
            finding: finding(),
            passed,
        });
    }
}
