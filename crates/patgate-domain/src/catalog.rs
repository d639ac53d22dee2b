//! The fine-grained permission catalogue: every account, repository and organization permission,
//! the levels each allows, and the ceilings that repository and organization roles put on them.
//!
//! One static table ([`CATALOG`]) is the single source of truth: names, display names, groups,
//! allowed levels and role ceilings all come from it. Its rows follow the permission tables of
//! GitHub's "Managing your personal access tokens" page (seed 004), in that page's order, followed
//! by the two organization permissions that only GitHub App installations can hold.

use std::fmt;

/// An access level. Ordered: `read < write < admin`; write includes read, admin includes write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    Read = 1,
    Write = 2,
    Admin = 3,
}

impl Level {
    /// All levels, lowest first.
    pub const ALL: [Level; 3] = [Level::Read, Level::Write, Level::Admin];

    /// `"read"`, `"write"` or `"admin"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Admin => "admin",
        }
    }

    /// Parses `"read"`, `"write"` or `"admin"` (exact, lowercase, as in the API).
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            "admin" => Some(Level::Admin),
            _ => None,
        }
    }

    const fn from_u8(v: u8) -> Option<Level> {
        match v {
            1 => Some(Level::Read),
            2 => Some(Level::Write),
            3 => Some(Level::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of resource owner a permission applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PermissionGroup {
    /// Used only when the token's resource owner is the user (the API's `other` map).
    Account,
    /// Used inside the token's repository selection, for user and organization owners.
    Repository,
    /// Used only when the token's resource owner is an organization.
    Organization,
}

impl PermissionGroup {
    /// All groups, in catalogue order.
    pub const ALL: [PermissionGroup; 3] = [
        PermissionGroup::Account,
        PermissionGroup::Repository,
        PermissionGroup::Organization,
    ];

    /// `"account"`, `"repository"` or `"organization"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionGroup::Account => "account",
            PermissionGroup::Repository => "repository",
            PermissionGroup::Organization => "organization",
        }
    }

    /// Parses `"account"`, `"repository"` or `"organization"`.
    pub fn parse(s: &str) -> Option<PermissionGroup> {
        match s {
            "account" => Some(PermissionGroup::Account),
            "repository" => Some(PermissionGroup::Repository),
            "organization" => Some(PermissionGroup::Organization),
            _ => None,
        }
    }
}

impl fmt::Display for PermissionGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/// How roles cap a permission. Part of the catalogue row so that there is one table.
#[derive(Clone, Copy, Debug)]
enum RoleRule {
    /// Account permissions: the user holds them on their own account; roles play no part.
    Account,
    /// Repository permissions: the lowest repository role that may read, and the lowest that may write.
    Repo {
        read: Option<RepoRole>,
        write: Option<RepoRole>,
    },
    /// Organization permissions: owners get the maximum level; members get `member` at most.
    Org { member: Option<Level> },
}

#[derive(Clone, Copy, Debug)]
struct Spec {
    name: &'static str,
    display: &'static str,
    group: PermissionGroup,
    levels: &'static [Level],
    app_only: bool,
    rule: RoleRule,
}

const R: &[Level] = &[Level::Read];
const W: &[Level] = &[Level::Write];
const RW: &[Level] = &[Level::Read, Level::Write];
const RWA: &[Level] = &[Level::Read, Level::Write, Level::Admin];

const fn account(name: &'static str, display: &'static str, levels: &'static [Level]) -> Spec {
    Spec {
        name,
        display,
        group: PermissionGroup::Account,
        levels,
        app_only: false,
        rule: RoleRule::Account,
    }
}

/// A repository permission; `read` / `write` are the lowest roles allowed that level.
const fn repo(
    name: &'static str,
    display: &'static str,
    levels: &'static [Level],
    read: Option<RepoRole>,
    write: Option<RepoRole>,
) -> Spec {
    Spec {
        name,
        display,
        group: PermissionGroup::Repository,
        levels,
        app_only: false,
        rule: RoleRule::Repo { read, write },
    }
}

/// An organization permission; `member` is the most an ordinary member may hold.
const fn org(
    name: &'static str,
    display: &'static str,
    levels: &'static [Level],
    member: Option<Level>,
) -> Spec {
    Spec {
        name,
        display,
        group: PermissionGroup::Organization,
        levels,
        app_only: false,
        rule: RoleRule::Org { member },
    }
}

/// An organization permission that only GitHub App installations can hold.
const fn app_org(name: &'static str, display: &'static str) -> Spec {
    Spec {
        name,
        display,
        group: PermissionGroup::Organization,
        levels: RW,
        app_only: true,
        rule: RoleRule::Org { member: None },
    }
}

use RepoRole::{Admin as RAdmin, Maintain, Read as RRead, Triage, Write as RWrite};

const fn from(role: RepoRole) -> Option<RepoRole> {
    Some(role)
}
const NO: Option<RepoRole> = None;

/// The catalogue. Repository rows carry the role table of DESIGN §3.15: `(lowest role that may
/// read, lowest role that may write)`, modelled on GitHub's documented repository roles:
///
/// * Read: view and discuss (read code, issues, pull requests, discussions, deployments, pages...).
/// * Triage: manage issues, pull requests and discussions without write access.
/// * Write: push, and everything that comes with pushing (statuses, workflows, actions,
///   deployments, merge queues, codespaces); sees code scanning, Dependabot and secret scanning
///   alerts and variables.
/// * Maintain: manage the repository without sensitive or destructive actions: reads its settings
///   (administration read), manages Pages.
/// * Admin: everything, including settings, security alerts management, advisories, secrets,
///   environments and webhooks.
///
/// Decisions where GitHub's documentation is not explicit: secrets (Actions, Dependabot,
/// Codespaces) and webhooks are read and written by Admin only, because GitHub shows their
/// settings pages to administrators only and webhook URLs can carry credentials; repository
/// security advisories (drafts) are Admin only; variables are read from Write (workflows that
/// Write can edit see them anyway); environments are readable by Read (they appear on the
/// deployments page).
static CATALOG: [Spec; 78] = [
    // --- Account permissions (seed 004, "Account Permissions") ---
    account("blocking", "Block another user", RW),
    account("codespaces_user_secrets", "Codespaces user secrets", RW),
    account("copilot_messages", "Copilot Chat", R),
    account("copilot_editor_context", "Copilot Editor Context", R),
    account("copilot_requests", "Copilot requests", W),
    account("emails", "Email addresses", RW),
    account("user_events", "Events", R),
    account("followers", "Followers", RW),
    account("gpg_keys", "GPG keys", RW),
    account("gists", "Gists", W),
    account("keys", "Git SSH keys", RW),
    account("interaction_limits", "Interaction limits", RW),
    account("knowledge_bases", "Knowledge bases", RW),
    account("user_models", "Models", R),
    account("plan", "Plan", R),
    account(
        "private_repository_invitations",
        "Private repository invitations",
        R,
    ),
    account("profile", "Profile", W),
    account("git_signing_ssh_public_keys", "SSH signing keys", RW),
    account("starring", "Starring", RW),
    account("watching", "Watching", RW),
    // --- Repository permissions (seed 004, "Repository Permissions") ---
    repo("actions", "Actions", RW, from(RRead), from(RWrite)),
    repo(
        "administration",
        "Administration",
        RW,
        from(Maintain),
        from(RAdmin),
    ),
    repo(
        "artifact_metadata",
        "Artifact Metadata",
        RW,
        from(RRead),
        from(RWrite),
    ),
    repo(
        "attestations",
        "Attestations",
        RW,
        from(RRead),
        from(RWrite),
    ),
    repo(
        "security_events",
        "Code scanning alerts",
        RW,
        from(RWrite),
        from(RAdmin),
    ),
    repo("codespaces", "Codespaces", RW, from(RRead), from(RWrite)),
    repo(
        "codespaces_lifecycle_admin",
        "Codespaces lifecycle admin",
        RW,
        from(RRead),
        from(RWrite),
    ),
    repo(
        "codespaces_metadata",
        "Codespaces metadata",
        R,
        from(RRead),
        NO,
    ),
    repo(
        "codespaces_secrets",
        "Codespaces secrets",
        W,
        NO,
        from(RAdmin),
    ),
    repo("statuses", "Commit statuses", RW, from(RRead), from(RWrite)),
    repo("contents", "Contents", RW, from(RRead), from(RWrite)),
    repo(
        "repository_custom_properties",
        "Custom properties",
        RW,
        from(RRead),
        from(RAdmin),
    ),
    repo(
        "vulnerability_alerts",
        "Dependabot alerts",
        RW,
        from(RWrite),
        from(RAdmin),
    ),
    repo(
        "dependabot_secrets",
        "Dependabot secrets",
        RW,
        from(RAdmin),
        from(RAdmin),
    ),
    repo("deployments", "Deployments", RW, from(RRead), from(RWrite)),
    repo("discussions", "Discussions", RW, from(RRead), from(Triage)),
    repo(
        "environments",
        "Environments",
        RW,
        from(RRead),
        from(RAdmin),
    ),
    repo("issues", "Issues", RW, from(RRead), from(Triage)),
    repo(
        "merge_queues",
        "Merge queues",
        RW,
        from(RRead),
        from(RWrite),
    ),
    repo("metadata", "Metadata", R, from(RRead), NO),
    repo("pages", "Pages", RW, from(RRead), from(Maintain)),
    repo(
        "pull_requests",
        "Pull requests",
        RW,
        from(RRead),
        from(Triage),
    ),
    repo(
        "repository_advisories",
        "Repository security advisories",
        RW,
        from(RAdmin),
        from(RAdmin),
    ),
    repo(
        "secret_scanning_alerts",
        "Secret scanning alerts",
        RW,
        from(RWrite),
        from(RAdmin),
    ),
    repo("secrets", "Secrets", RW, from(RAdmin), from(RAdmin)),
    repo(
        "actions_variables",
        "Variables",
        RW,
        from(RWrite),
        from(RAdmin),
    ),
    repo(
        "repository_hooks",
        "Webhooks",
        RW,
        from(RAdmin),
        from(RAdmin),
    ),
    repo("workflows", "Workflows", W, NO, from(RWrite)),
    // --- Organization permissions (seed 004, "Organization Permissions") ---
    org("organization_api_insights", "API Insights", R, None),
    org("organization_administration", "Administration", RW, None),
    org("organization_user_blocking", "Blocking users", RW, None),
    org("organization_campaigns", "Campaigns", RW, None),
    org(
        "organization_custom_org_roles",
        "Custom organization roles",
        RW,
        None,
    ),
    org(
        "organization_custom_properties",
        "Custom repository properties",
        RWA,
        Some(Level::Read),
    ),
    org(
        "organization_custom_roles",
        "Custom repository roles",
        RW,
        None,
    ),
    org("organization_events", "Events", R, Some(Level::Read)),
    org(
        "organization_copilot_seat_management",
        "GitHub Copilot Business",
        RW,
        None,
    ),
    org("issue_types", "Issue Types", RW, Some(Level::Read)),
    org("organization_knowledge_bases", "Knowledge bases", RW, None),
    org("members", "Members", RW, Some(Level::Read)),
    org("organization_models", "Models", R, None),
    org(
        "organization_network_configurations",
        "Network configurations",
        RW,
        None,
    ),
    org(
        "organization_announcement_banners",
        "Organization announcement banners",
        RW,
        None,
    ),
    org(
        "organization_codespaces",
        "Organization codespaces",
        RW,
        None,
    ),
    org(
        "organization_codespaces_secrets",
        "Organization codespaces secrets",
        RW,
        None,
    ),
    org(
        "organization_codespaces_settings",
        "Organization codespaces settings",
        RW,
        None,
    ),
    org(
        "organization_dependabot_secrets",
        "Organization dependabot secrets",
        RW,
        None,
    ),
    org(
        "organization_code_scanning_dismissal_requests",
        "Code scanning dismissal requests",
        RW,
        None,
    ),
    org(
        "organization_private_registries",
        "Private registries",
        RW,
        None,
    ),
    org("organization_plan", "Plan", R, Some(Level::Read)),
    org("organization_projects", "Projects", RWA, Some(Level::Read)),
    org("organization_secrets", "Secrets", RW, None),
    org(
        "organization_self_hosted_runners",
        "Self-hosted runners",
        RW,
        None,
    ),
    org(
        "team_discussions",
        "Team discussions",
        RW,
        Some(Level::Write),
    ),
    org("organization_actions_variables", "Variables", RW, None),
    org("organization_hooks", "Webhooks", RW, None),
    // --- GitHub-App-only organization permissions (reference §4.4, used by §5) ---
    app_org(
        "organization_personal_access_tokens",
        "Personal access tokens",
    ),
    app_org(
        "organization_personal_access_token_requests",
        "Personal access token requests",
    ),
];

/// Number of permissions in the catalogue.
pub const PERMISSION_COUNT: usize = CATALOG.len();

/// Byte-wise string equality usable in `const` items.
pub(crate) const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Looks a permission up by name at compile time. An unknown name yields an out-of-range index,
/// which the `const` assertion below turns into a compile error.
const fn lookup(name: &str) -> Permission {
    let mut i = 0;
    while i < CATALOG.len() {
        if const_str_eq(CATALOG[i].name, name) {
            return Permission(i as u8);
        }
        i += 1;
    }
    Permission(u8::MAX)
}

/// The permission named `name`, for tables built at compile time (the route table of
/// [`crate::routes`]): used in a `const` item, an unknown name fails the build.
pub(crate) const fn permission_named(name: &str) -> Permission {
    let p = lookup(name);
    assert!(
        (p.0 as usize) < PERMISSION_COUNT,
        "unknown permission name in a compile-time table"
    );
    p
}

// Compile-time checks: indices fit in a u8, and every named constant exists.
const _: () = {
    assert!(PERMISSION_COUNT < u8::MAX as usize);
    let named = [
        Permission::METADATA,
        Permission::CONTENTS,
        Permission::WORKFLOWS,
        Permission::ADMINISTRATION,
        Permission::ISSUES,
        Permission::PULL_REQUESTS,
        Permission::KEYS,
        Permission::EMAILS,
        Permission::PROFILE,
        Permission::MEMBERS,
        Permission::ORGANIZATION_ADMINISTRATION,
        Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS,
        Permission::ORGANIZATION_PERSONAL_ACCESS_TOKEN_REQUESTS,
        Permission::GISTS,
        Permission::FOLLOWERS,
        Permission::GPG_KEYS,
        Permission::GIT_SIGNING_SSH_PUBLIC_KEYS,
        Permission::CODESPACES_USER_SECRETS,
        Permission::REPOSITORY_HOOKS,
        Permission::STATUSES,
        Permission::DEPLOYMENTS,
        Permission::SECURITY_EVENTS,
        Permission::ORGANIZATION_HOOKS,
        Permission::ORGANIZATION_PROJECTS,
        Permission::TEAM_DISCUSSIONS,
        Permission::ORGANIZATION_NETWORK_CONFIGURATIONS,
    ];
    let mut i = 0;
    while i < named.len() {
        assert!((named[i].0 as usize) < PERMISSION_COUNT);
        i += 1;
    }
};

/// A fine-grained permission: an index into the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission(u8);

impl Permission {
    pub const METADATA: Permission = lookup("metadata");
    pub const CONTENTS: Permission = lookup("contents");
    pub const WORKFLOWS: Permission = lookup("workflows");
    pub const ADMINISTRATION: Permission = lookup("administration");
    pub const ISSUES: Permission = lookup("issues");
    pub const PULL_REQUESTS: Permission = lookup("pull_requests");
    pub const KEYS: Permission = lookup("keys");
    pub const EMAILS: Permission = lookup("emails");
    pub const PROFILE: Permission = lookup("profile");
    pub const MEMBERS: Permission = lookup("members");
    pub const ORGANIZATION_ADMINISTRATION: Permission = lookup("organization_administration");
    pub const ORGANIZATION_PERSONAL_ACCESS_TOKENS: Permission =
        lookup("organization_personal_access_tokens");
    pub const ORGANIZATION_PERSONAL_ACCESS_TOKEN_REQUESTS: Permission =
        lookup("organization_personal_access_token_requests");
    // Further constants used by the classic-scope mapping.
    pub const GISTS: Permission = lookup("gists");
    pub const FOLLOWERS: Permission = lookup("followers");
    pub const GPG_KEYS: Permission = lookup("gpg_keys");
    pub const GIT_SIGNING_SSH_PUBLIC_KEYS: Permission = lookup("git_signing_ssh_public_keys");
    pub const CODESPACES_USER_SECRETS: Permission = lookup("codespaces_user_secrets");
    pub const REPOSITORY_HOOKS: Permission = lookup("repository_hooks");
    pub const STATUSES: Permission = lookup("statuses");
    pub const DEPLOYMENTS: Permission = lookup("deployments");
    pub const SECURITY_EVENTS: Permission = lookup("security_events");
    pub const ORGANIZATION_HOOKS: Permission = lookup("organization_hooks");
    pub const ORGANIZATION_PROJECTS: Permission = lookup("organization_projects");
    pub const TEAM_DISCUSSIONS: Permission = lookup("team_discussions");
    pub const ORGANIZATION_NETWORK_CONFIGURATIONS: Permission =
        lookup("organization_network_configurations");

    fn spec(self) -> &'static Spec {
        &CATALOG[self.0 as usize]
    }

    /// Looks a permission up by its API name (e.g. `"contents"`). Exact match.
    pub fn from_name(name: &str) -> Option<Permission> {
        CATALOG
            .iter()
            .position(|s| s.name == name)
            .and_then(|i| u8::try_from(i).ok())
            .map(Permission)
    }

    /// The API name, e.g. `"contents"`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The name shown in the UI, e.g. `"Contents"`.
    pub fn display_name(self) -> &'static str {
        self.spec().display
    }

    pub fn group(self) -> PermissionGroup {
        self.spec().group
    }

    /// The levels this permission may be granted at, lowest first.
    pub fn allowed_levels(self) -> &'static [Level] {
        self.spec().levels
    }

    /// Whether the permission may be granted at `level`.
    pub fn allows(self, level: Level) -> bool {
        self.spec().levels.contains(&level)
    }

    /// The highest level the permission may be granted at.
    pub fn max_level(self) -> Level {
        self.spec().levels.last().copied().unwrap_or(Level::Read)
    }

    /// The lowest level the permission may be granted at.
    pub fn min_level(self) -> Level {
        self.spec().levels.first().copied().unwrap_or(Level::Read)
    }

    /// True only for `organization_personal_access_tokens` and
    /// `organization_personal_access_token_requests`: organization permissions (read, write) that
    /// only GitHub App installations can hold. A personal access token can never be granted them.
    pub fn app_only(self) -> bool {
        self.spec().app_only
    }

    /// Whether `(self, level)` may appear in a personal access token's grant: the level is one the
    /// catalogue allows and the permission is not app-only.
    pub fn grantable_to_token(self, level: Level) -> bool {
        !self.app_only() && self.allows(level)
    }

    /// Position in the catalogue, `0..PERMISSION_COUNT`.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The permission at catalogue position `index`, if any.
    pub fn from_index(index: usize) -> Option<Permission> {
        if index < PERMISSION_COUNT {
            u8::try_from(index).ok().map(Permission)
        } else {
            None
        }
    }

    /// Every permission, in catalogue order.
    pub fn all() -> impl Iterator<Item = Permission> {
        (0..PERMISSION_COUNT as u8).map(Permission)
    }

    /// Every permission of one group, in catalogue order.
    pub fn in_group(group: PermissionGroup) -> impl Iterator<Item = Permission> {
        Permission::all().filter(move |p| p.group() == group)
    }

    /// Checks that the permission may be granted at `level`.
    pub fn check(self, level: Level) -> Result<(), LevelNotAllowed> {
        if self.allows(level) {
            Ok(())
        } else {
            Err(LevelNotAllowed {
                permission: self,
                level,
            })
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A permission asked for at a level the catalogue does not allow for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("permission {permission} cannot be granted at level {level}")]
pub struct LevelNotAllowed {
    pub permission: Permission,
    pub level: Level,
}

// ---------------------------------------------------------------------------------------------
// PermissionSet
// ---------------------------------------------------------------------------------------------

/// Compact permission -> level map (fixed array indexed by [`Permission::index`], cheap to copy
/// and compare). Each byte is `0` (none) or a [`Level`] discriminant.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PermissionSet {
    levels: [u8; PERMISSION_COUNT],
}

impl Default for PermissionSet {
    fn default() -> Self {
        PermissionSet::new()
    }
}

impl PermissionSet {
    /// The empty set.
    pub const fn new() -> Self {
        PermissionSet {
            levels: [0; PERMISSION_COUNT],
        }
    }

    /// Builder form of [`PermissionSet::set`].
    #[must_use]
    pub fn with(mut self, p: Permission, level: Level) -> Self {
        self.set(p, Some(level));
        self
    }

    pub fn get(&self, p: Permission) -> Option<Level> {
        Level::from_u8(self.levels[p.index()])
    }

    /// Sets (or with `None` removes) the level of `p`. Does not check the catalogue; see
    /// [`PermissionSet::validate`].
    pub fn set(&mut self, p: Permission, level: Option<Level>) {
        self.levels[p.index()] = level.map_or(0, |l| l as u8);
    }

    /// Whether `p` is held at `needed` or above.
    pub fn grants(&self, p: Permission, needed: Level) -> bool {
        self.levels[p.index()] >= needed as u8
    }

    pub fn is_empty(&self) -> bool {
        self.levels.iter().all(|&l| l == 0)
    }

    /// Number of permissions held.
    pub fn len(&self) -> usize {
        self.levels.iter().filter(|&&l| l != 0).count()
    }

    /// The held permissions, in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = (Permission, Level)> + '_ {
        Permission::all().filter_map(move |p| self.get(p).map(|l| (p, l)))
    }

    /// The held permissions of one group, in catalogue order.
    pub fn in_group(&self, g: PermissionGroup) -> impl Iterator<Item = (Permission, Level)> + '_ {
        self.iter().filter(move |(p, _)| p.group() == g)
    }

    /// Only the permissions of group `g`.
    pub fn restricted_to(&self, g: PermissionGroup) -> PermissionSet {
        let mut out = PermissionSet::new();
        for (p, l) in self.in_group(g) {
            out.set(p, Some(l));
        }
        out
    }

    /// Every `(p, l)` of `other` is held by `self` at `l` or above.
    pub fn covers(&self, other: &PermissionSet) -> bool {
        self.levels
            .iter()
            .zip(other.levels.iter())
            .all(|(a, b)| a >= b)
    }

    /// The higher level of the two, per permission.
    pub fn union(&self, other: &PermissionSet) -> PermissionSet {
        let mut out = *self;
        for (o, b) in out.levels.iter_mut().zip(other.levels.iter()) {
            *o = (*o).max(*b);
        }
        out
    }

    /// The lower level of the two, per permission (absent on either side: absent).
    pub fn intersection(&self, other: &PermissionSet) -> PermissionSet {
        let mut out = *self;
        for (o, b) in out.levels.iter_mut().zip(other.levels.iter()) {
            *o = (*o).min(*b);
        }
        out
    }

    /// Permissions of `self` that `base` lacks or grants at a lower level:
    /// `(perm, level in self, level in base)`, in catalogue order.
    pub fn raised_over(&self, base: &PermissionSet) -> Vec<(Permission, Level, Option<Level>)> {
        self.iter()
            .filter(|&(p, l)| !base.grants(p, l))
            .map(|(p, l)| (p, l, base.get(p)))
            .collect()
    }

    /// The first held `(permission, level)` that the catalogue does not allow, in catalogue order.
    pub fn validate(&self) -> Result<(), LevelNotAllowed> {
        self.iter().try_for_each(|(p, l)| p.check(l))
    }
}

impl FromIterator<(Permission, Level)> for PermissionSet {
    /// Later entries for the same permission replace earlier ones.
    fn from_iter<I: IntoIterator<Item = (Permission, Level)>>(iter: I) -> Self {
        let mut out = PermissionSet::new();
        out.extend(iter);
        out
    }
}

impl Extend<(Permission, Level)> for PermissionSet {
    fn extend<I: IntoIterator<Item = (Permission, Level)>>(&mut self, iter: I) {
        for (p, l) in iter {
            self.set(p, Some(l));
        }
    }
}

impl fmt::Debug for PermissionSet {
    /// `{contents: write, metadata: read}`, in catalogue order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (p, l)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}: {l}")?;
        }
        f.write_str("}")
    }
}

// ---------------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------------

/// Repository roles, ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RepoRole {
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl RepoRole {
    /// All roles, lowest first.
    pub const ALL: [RepoRole; 5] = [
        RepoRole::Read,
        RepoRole::Triage,
        RepoRole::Write,
        RepoRole::Maintain,
        RepoRole::Admin,
    ];

    /// `"read"`, `"triage"`, `"write"`, `"maintain"` or `"admin"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoRole::Read => "read",
            RepoRole::Triage => "triage",
            RepoRole::Write => "write",
            RepoRole::Maintain => "maintain",
            RepoRole::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<RepoRole> {
        match s {
            "read" => Some(RepoRole::Read),
            "triage" => Some(RepoRole::Triage),
            "write" => Some(RepoRole::Write),
            "maintain" => Some(RepoRole::Maintain),
            "admin" => Some(RepoRole::Admin),
            _ => None,
        }
    }

    /// The highest level of a REPOSITORY-group permission that this role allows its holder
    /// (`None`: not at all). The table is the `repo(...)` rows of the catalogue; see its
    /// documentation for the reasoning. Always a level the permission allows. Non-repository
    /// permissions: `None`.
    pub fn ceiling(self, p: Permission) -> Option<Level> {
        match p.spec().rule {
            RoleRule::Repo { read, write } => {
                if write.is_some_and(|w| self >= w) && p.allows(Level::Write) {
                    Some(Level::Write)
                } else if read.is_some_and(|r| self >= r) && p.allows(Level::Read) {
                    Some(Level::Read)
                } else {
                    None
                }
            }
            RoleRule::Account | RoleRule::Org { .. } => None,
        }
    }

    /// Every repository permission at the ceiling this role allows.
    pub fn ceilings(self) -> PermissionSet {
        Permission::all()
            .filter_map(|p| self.ceiling(p).map(|l| (p, l)))
            .collect()
    }
}

impl fmt::Display for RepoRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An organization member's standing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrgRole {
    Member,
    Owner,
}

impl OrgRole {
    /// `"member"` or `"owner"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Member => "member",
            OrgRole::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<OrgRole> {
        match s {
            "member" => Some(OrgRole::Member),
            "owner" => Some(OrgRole::Owner),
            _ => None,
        }
    }

    /// The highest level of an ORGANIZATION-group permission this standing allows: owners get
    /// each permission's max level (the two app-only permissions included: whether a credential
    /// may use those is decided by [`Permission::app_only`], not here); members get read on
    /// `members`, `organization_projects`, `team_discussions`, `organization_events`,
    /// `issue_types`, `organization_plan`, `organization_custom_properties`, and write on
    /// `team_discussions`; nothing else. Non-organization permissions: `None`.
    pub fn ceiling(self, p: Permission) -> Option<Level> {
        match (p.spec().rule, self) {
            (RoleRule::Org { .. }, OrgRole::Owner) => Some(p.max_level()),
            (RoleRule::Org { member }, OrgRole::Member) => member,
            (RoleRule::Account | RoleRule::Repo { .. }, _) => None,
        }
    }

    /// Every organization permission at the ceiling this standing allows.
    pub fn ceilings(self) -> PermissionSet {
        Permission::all()
            .filter_map(|p| self.ceiling(p).map(|l| (p, l)))
            .collect()
    }
}

impl fmt::Display for OrgRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashSet};

    /// Seed 004's three permission tables, verbatim (name, display name, levels), plus the two
    /// app-only permissions of reference §4.4 marked `app`.
    const SEED: &str = "
account blocking | Block another user | read, write
account codespaces_user_secrets | Codespaces user secrets | read, write
account copilot_messages | Copilot Chat | read
account copilot_editor_context | Copilot Editor Context | read
account copilot_requests | Copilot requests | write
account emails | Email addresses | read, write
account user_events | Events | read
account followers | Followers | read, write
account gpg_keys | GPG keys | read, write
account gists | Gists | write
account keys | Git SSH keys | read, write
account interaction_limits | Interaction limits | read, write
account knowledge_bases | Knowledge bases | read, write
account user_models | Models | read
account plan | Plan | read
account private_repository_invitations | Private repository invitations | read
account profile | Profile | write
account git_signing_ssh_public_keys | SSH signing keys | read, write
account starring | Starring | read, write
account watching | Watching | read, write
repository actions | Actions | read, write
repository administration | Administration | read, write
repository artifact_metadata | Artifact Metadata | read, write
repository attestations | Attestations | read, write
repository security_events | Code scanning alerts | read, write
repository codespaces | Codespaces | read, write
repository codespaces_lifecycle_admin | Codespaces lifecycle admin | read, write
repository codespaces_metadata | Codespaces metadata | read
repository codespaces_secrets | Codespaces secrets | write
repository statuses | Commit statuses | read, write
repository contents | Contents | read, write
repository repository_custom_properties | Custom properties | read, write
repository vulnerability_alerts | Dependabot alerts | read, write
repository dependabot_secrets | Dependabot secrets | read, write
repository deployments | Deployments | read, write
repository discussions | Discussions | read, write
repository environments | Environments | read, write
repository issues | Issues | read, write
repository merge_queues | Merge queues | read, write
repository metadata | Metadata | read
repository pages | Pages | read, write
repository pull_requests | Pull requests | read, write
repository repository_advisories | Repository security advisories | read, write
repository secret_scanning_alerts | Secret scanning alerts | read, write
repository secrets | Secrets | read, write
repository actions_variables | Variables | read, write
repository repository_hooks | Webhooks | read, write
repository workflows | Workflows | write
organization organization_api_insights | API Insights | read
organization organization_administration | Administration | read, write
organization organization_user_blocking | Blocking users | read, write
organization organization_campaigns | Campaigns | read, write
organization organization_custom_org_roles | Custom organization roles | read, write
organization organization_custom_properties | Custom repository properties | read, write, admin
organization organization_custom_roles | Custom repository roles | read, write
organization organization_events | Events | read
organization organization_copilot_seat_management | GitHub Copilot Business | read, write
organization issue_types | Issue Types | read, write
organization organization_knowledge_bases | Knowledge bases | read, write
organization members | Members | read, write
organization organization_models | Models | read
organization organization_network_configurations | Network configurations | read, write
organization organization_announcement_banners | Organization announcement banners | read, write
organization organization_codespaces | Organization codespaces | read, write
organization organization_codespaces_secrets | Organization codespaces secrets | read, write
organization organization_codespaces_settings | Organization codespaces settings | read, write
organization organization_dependabot_secrets | Organization dependabot secrets | read, write
organization organization_code_scanning_dismissal_requests | Code scanning dismissal requests | read, write
organization organization_private_registries | Private registries | read, write
organization organization_plan | Plan | read
organization organization_projects | Projects | read, write, admin
organization organization_secrets | Secrets | read, write
organization organization_self_hosted_runners | Self-hosted runners | read, write
organization team_discussions | Team discussions | read, write
organization organization_actions_variables | Variables | read, write
organization organization_hooks | Webhooks | read, write
app organization_personal_access_tokens | - | read, write
app organization_personal_access_token_requests | - | read, write
";

    struct Row {
        group: PermissionGroup,
        app: bool,
        name: &'static str,
        display: &'static str,
        levels: Vec<Level>,
    }

    fn seed_rows() -> Vec<Row> {
        SEED.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let mut cols = line.split(" | ");
                let head = cols.next().unwrap();
                let (group, name) = head.split_once(' ').unwrap();
                let display = cols.next().unwrap();
                let levels = cols
                    .next()
                    .unwrap()
                    .split(", ")
                    .map(|l| Level::parse(l).unwrap())
                    .collect();
                let app = group == "app";
                let group = if app {
                    PermissionGroup::Organization
                } else {
                    PermissionGroup::parse(group).unwrap()
                };
                Row {
                    group,
                    app,
                    name,
                    display,
                    levels,
                }
            })
            .collect()
    }

    #[test]
    fn every_seed_row_is_in_the_catalog_with_exactly_its_levels() {
        for row in seed_rows() {
            let p = Permission::from_name(row.name)
                .unwrap_or_else(|| panic!("{} missing from catalog", row.name));
            assert_eq!(p.group(), row.group, "{}", row.name);
            assert_eq!(p.allowed_levels(), row.levels.as_slice(), "{}", row.name);
            assert_eq!(p.app_only(), row.app, "{}", row.name);
            if !row.app {
                assert_eq!(p.display_name(), row.display, "{}", row.name);
            }
            for l in Level::ALL {
                assert_eq!(p.allows(l), row.levels.contains(&l), "{} {l}", row.name);
            }
            assert_eq!(Some(p.max_level()), row.levels.last().copied());
        }
    }

    #[test]
    fn catalog_has_no_permission_beyond_the_seed_rows() {
        let rows = seed_rows();
        let seed_names: HashSet<&str> = rows.iter().map(|r| r.name).collect();
        for p in Permission::all() {
            assert!(seed_names.contains(p.name()), "{p} is not in the seed");
        }
        assert_eq!(Permission::all().count(), rows.len());
        assert_eq!(PERMISSION_COUNT, rows.len());
        // Group sizes of the seed: 20 account, 28 repository, 28 organization + 2 app-only.
        let sizes: BTreeMap<&str, usize> = PermissionGroup::ALL
            .iter()
            .map(|g| (g.as_str(), Permission::in_group(*g).count()))
            .collect();
        assert_eq!(sizes["account"], 20);
        assert_eq!(sizes["repository"], 28);
        assert_eq!(sizes["organization"], 30);
    }

    #[test]
    fn only_the_two_pat_management_permissions_are_app_only() {
        let app_only: Vec<Permission> = Permission::all().filter(|p| p.app_only()).collect();
        assert_eq!(
            app_only,
            vec![
                Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS,
                Permission::ORGANIZATION_PERSONAL_ACCESS_TOKEN_REQUESTS
            ]
        );
        for p in app_only {
            assert_eq!(p.group(), PermissionGroup::Organization);
            assert_eq!(p.allowed_levels(), &[Level::Read, Level::Write]);
            assert!(!p.grantable_to_token(Level::Read));
        }
        assert!(Permission::CONTENTS.grantable_to_token(Level::Write));
        assert!(!Permission::METADATA.grantable_to_token(Level::Write));
    }

    #[test]
    fn names_are_unique() {
        let names: HashSet<&str> = Permission::all().map(Permission::name).collect();
        assert_eq!(names.len(), PERMISSION_COUNT);
    }

    #[test]
    fn from_name_round_trips_and_rejects_unknown_names() {
        for p in Permission::all() {
            assert_eq!(Permission::from_name(p.name()), Some(p));
            assert_eq!(p.to_string(), p.name());
            assert_eq!(Permission::from_index(p.index()), Some(p));
        }
        for bad in [
            "",
            "Contents",
            "contents ",
            "repo",
            "organization_personal_access_token",
        ] {
            assert_eq!(Permission::from_name(bad), None, "{bad:?}");
        }
        assert_eq!(Permission::from_index(PERMISSION_COUNT), None);
    }

    #[test]
    fn named_constants_name_their_permission() {
        let cases = [
            (Permission::METADATA, "metadata"),
            (Permission::CONTENTS, "contents"),
            (Permission::WORKFLOWS, "workflows"),
            (Permission::ADMINISTRATION, "administration"),
            (Permission::ISSUES, "issues"),
            (Permission::PULL_REQUESTS, "pull_requests"),
            (Permission::KEYS, "keys"),
            (Permission::EMAILS, "emails"),
            (Permission::PROFILE, "profile"),
            (Permission::MEMBERS, "members"),
            (
                Permission::ORGANIZATION_ADMINISTRATION,
                "organization_administration",
            ),
            (
                Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS,
                "organization_personal_access_tokens",
            ),
            (
                Permission::ORGANIZATION_PERSONAL_ACCESS_TOKEN_REQUESTS,
                "organization_personal_access_token_requests",
            ),
            (Permission::GISTS, "gists"),
            (Permission::REPOSITORY_HOOKS, "repository_hooks"),
            (Permission::ORGANIZATION_HOOKS, "organization_hooks"),
            (Permission::TEAM_DISCUSSIONS, "team_discussions"),
        ];
        for (p, name) in cases {
            assert_eq!(p.name(), name);
        }
    }

    #[test]
    fn level_strings_round_trip_and_order() {
        for (l, s) in [
            (Level::Read, "read"),
            (Level::Write, "write"),
            (Level::Admin, "admin"),
        ] {
            assert_eq!(l.as_str(), s);
            assert_eq!(l.to_string(), s);
            assert_eq!(Level::parse(s), Some(l));
        }
        for bad in ["", "none", "Read", "WRITE", "owner"] {
            assert_eq!(Level::parse(bad), None);
        }
        assert!(Level::Read < Level::Write && Level::Write < Level::Admin);
    }

    #[test]
    fn group_and_role_strings_round_trip() {
        for g in PermissionGroup::ALL {
            assert_eq!(PermissionGroup::parse(g.as_str()), Some(g));
        }
        for r in RepoRole::ALL {
            assert_eq!(RepoRole::parse(r.as_str()), Some(r));
        }
        for r in [OrgRole::Member, OrgRole::Owner] {
            assert_eq!(OrgRole::parse(r.as_str()), Some(r));
        }
        assert_eq!(RepoRole::parse("owner"), None);
        assert_eq!(OrgRole::parse("admin"), None);
    }

    fn set(entries: &[(Permission, Level)]) -> PermissionSet {
        entries.iter().copied().collect()
    }

    #[test]
    fn permission_set_get_set_grants_and_empty() {
        let mut s = PermissionSet::new();
        assert!(s.is_empty());
        assert_eq!(s, PermissionSet::default());
        assert_eq!(s.get(Permission::CONTENTS), None);
        assert!(!s.grants(Permission::CONTENTS, Level::Read));
        s.set(Permission::CONTENTS, Some(Level::Write));
        assert!(!s.is_empty());
        assert_eq!(s.len(), 1);
        assert_eq!(s.get(Permission::CONTENTS), Some(Level::Write));
        // (needed, expected)
        for (needed, expected) in [
            (Level::Read, true),
            (Level::Write, true),
            (Level::Admin, false),
        ] {
            assert_eq!(s.grants(Permission::CONTENTS, needed), expected, "{needed}");
        }
        assert!(!s.grants(Permission::ISSUES, Level::Read));
        s.set(Permission::CONTENTS, None);
        assert!(s.is_empty());
    }

    #[test]
    fn permission_set_iterates_in_catalog_order_and_by_group() {
        let s = set(&[
            (Permission::MEMBERS, Level::Read),
            (Permission::METADATA, Level::Read),
            (Permission::CONTENTS, Level::Write),
            (Permission::EMAILS, Level::Read),
        ]);
        let order: Vec<Permission> = s.iter().map(|(p, _)| p).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
        assert_eq!(order.len(), 4);
        let repo: Vec<(Permission, Level)> = s.in_group(PermissionGroup::Repository).collect();
        assert_eq!(
            repo,
            vec![
                (Permission::CONTENTS, Level::Write),
                (Permission::METADATA, Level::Read)
            ]
        );
        let org: Vec<_> = s.in_group(PermissionGroup::Organization).collect();
        assert_eq!(org, vec![(Permission::MEMBERS, Level::Read)]);
        assert_eq!(
            s.restricted_to(PermissionGroup::Account),
            set(&[(Permission::EMAILS, Level::Read)])
        );
    }

    #[test]
    fn permission_set_debug_lists_name_and_level() {
        let s = set(&[
            (Permission::METADATA, Level::Read),
            (Permission::CONTENTS, Level::Write),
        ]);
        assert_eq!(format!("{s:?}"), "{contents: write, metadata: read}");
        assert_eq!(format!("{:?}", PermissionSet::new()), "{}");
    }

    #[test]
    fn permission_set_algebra_table() {
        use Level::{Admin, Read, Write};
        let c = Permission::CONTENTS;
        let i = Permission::ISSUES;
        let p = Permission::ORGANIZATION_PROJECTS;
        // (a, b, union, intersection, a covers b)
        let cases: Vec<(
            PermissionSet,
            PermissionSet,
            PermissionSet,
            PermissionSet,
            bool,
        )> = vec![
            (set(&[]), set(&[]), set(&[]), set(&[]), true),
            (
                set(&[(c, Write)]),
                set(&[(c, Read)]),
                set(&[(c, Write)]),
                set(&[(c, Read)]),
                true,
            ),
            (
                set(&[(c, Read)]),
                set(&[(c, Write)]),
                set(&[(c, Write)]),
                set(&[(c, Read)]),
                false,
            ),
            (
                set(&[(c, Read)]),
                set(&[(i, Read)]),
                set(&[(c, Read), (i, Read)]),
                set(&[]),
                false,
            ),
            (
                set(&[(c, Write), (p, Admin)]),
                set(&[(p, Write)]),
                set(&[(c, Write), (p, Admin)]),
                set(&[(p, Write)]),
                true,
            ),
        ];
        for (n, (a, b, u, x, cov)) in cases.into_iter().enumerate() {
            assert_eq!(a.union(&b), u, "case {n} union");
            assert_eq!(a.intersection(&b), x, "case {n} intersection");
            assert_eq!(a.covers(&b), cov, "case {n} covers");
        }
    }

    #[test]
    fn raised_over_lists_new_and_higher_permissions_only() {
        use Level::{Read, Write};
        let base = set(&[
            (Permission::CONTENTS, Read),
            (Permission::ISSUES, Write),
            (Permission::METADATA, Read),
        ]);
        let new = set(&[
            (Permission::CONTENTS, Write), // raised
            (Permission::ISSUES, Read),    // lowered: not listed
            (Permission::METADATA, Read),  // same: not listed
            (Permission::MEMBERS, Read),   // new
        ]);
        assert_eq!(
            new.raised_over(&base),
            vec![
                (Permission::CONTENTS, Write, Some(Read)),
                (Permission::MEMBERS, Read, None)
            ]
        );
        assert!(base.raised_over(&base).is_empty());
        assert!(PermissionSet::new().raised_over(&base).is_empty());
    }

    #[test]
    fn validate_rejects_levels_the_catalog_does_not_allow() {
        use Level::{Admin, Read, Write};
        // (permission, level, allowed)
        let cases = [
            (Permission::METADATA, Read, true),
            (Permission::METADATA, Write, false),
            (Permission::WORKFLOWS, Read, false),
            (Permission::WORKFLOWS, Write, true),
            (Permission::PROFILE, Read, false),
            (Permission::CONTENTS, Admin, false),
            (Permission::ORGANIZATION_PROJECTS, Admin, true),
        ];
        for (p, l, ok) in cases {
            let s = set(&[(p, l)]);
            assert_eq!(s.validate().is_ok(), ok, "{p} {l}");
            assert_eq!(p.check(l).is_ok(), ok, "{p} {l}");
        }
        let err = set(&[(Permission::METADATA, Write)])
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "permission metadata cannot be granted at level write"
        );
    }

    #[test]
    fn repo_role_ceiling_examples() {
        use Level::{Read, Write};
        use RepoRole as R;
        let p = |n: &str| Permission::from_name(n).unwrap();
        // (permission, [read, triage, write, maintain, admin])
        let cases: [(&str, [Option<Level>; 5]); 19] = [
            ("metadata", [Some(Read); 5]),
            (
                "contents",
                [
                    Some(Read),
                    Some(Read),
                    Some(Write),
                    Some(Write),
                    Some(Write),
                ],
            ),
            (
                "issues",
                [
                    Some(Read),
                    Some(Write),
                    Some(Write),
                    Some(Write),
                    Some(Write),
                ],
            ),
            (
                "pull_requests",
                [
                    Some(Read),
                    Some(Write),
                    Some(Write),
                    Some(Write),
                    Some(Write),
                ],
            ),
            (
                "administration",
                [None, None, None, Some(Read), Some(Write)],
            ),
            (
                "workflows",
                [None, None, Some(Write), Some(Write), Some(Write)],
            ),
            ("secrets", [None, None, None, None, Some(Write)]),
            ("dependabot_secrets", [None, None, None, None, Some(Write)]),
            ("codespaces_secrets", [None, None, None, None, Some(Write)]),
            (
                "actions_variables",
                [None, None, Some(Read), Some(Read), Some(Write)],
            ),
            (
                "environments",
                [Some(Read), Some(Read), Some(Read), Some(Read), Some(Write)],
            ),
            ("repository_hooks", [None, None, None, None, Some(Write)]),
            (
                "security_events",
                [None, None, Some(Read), Some(Read), Some(Write)],
            ),
            (
                "vulnerability_alerts",
                [None, None, Some(Read), Some(Read), Some(Write)],
            ),
            (
                "secret_scanning_alerts",
                [None, None, Some(Read), Some(Read), Some(Write)],
            ),
            (
                "pages",
                [Some(Read), Some(Read), Some(Read), Some(Write), Some(Write)],
            ),
            ("members", [None; 5]),
            ("emails", [None; 5]),
            ("organization_administration", [None; 5]),
        ];
        for (name, expected) in cases {
            for (role, want) in R::ALL.into_iter().zip(expected) {
                assert_eq!(role.ceiling(p(name)), want, "{role} {name}");
            }
        }
    }

    #[test]
    fn every_role_reads_metadata_contents_issues_and_pull_requests() {
        for role in RepoRole::ALL {
            for p in [
                Permission::METADATA,
                Permission::CONTENTS,
                Permission::ISSUES,
                Permission::PULL_REQUESTS,
            ] {
                assert!(role.ceiling(p).is_some(), "{role} {p}");
            }
        }
    }

    #[test]
    fn repo_role_ceilings_are_monotonic_and_within_the_catalog() {
        for p in Permission::all() {
            let mut prev: Option<Level> = None;
            for role in RepoRole::ALL {
                let c = role.ceiling(p);
                assert!(c >= prev, "{role} gets less {p} than the role below");
                if let Some(l) = c {
                    assert_eq!(p.group(), PermissionGroup::Repository, "{p}");
                    assert!(p.allows(l), "{role} {p} {l}");
                    assert!(l <= p.max_level());
                }
                prev = c;
            }
            if p.group() == PermissionGroup::Repository {
                assert_eq!(RepoRole::Admin.ceiling(p), Some(p.max_level()), "{p}");
            }
        }
    }

    #[test]
    fn repo_rows_read_role_is_not_above_write_role() {
        for s in &CATALOG {
            if let RoleRule::Repo {
                read: Some(r),
                write: Some(w),
            } = s.rule
            {
                assert!(r <= w, "{}", s.name);
            }
        }
    }

    #[test]
    fn org_role_ceilings_table() {
        use Level::{Admin, Read, Write};
        // (permission, member, owner)
        let cases = [
            ("members", Some(Read), Some(Write)),
            ("organization_projects", Some(Read), Some(Admin)),
            ("organization_custom_properties", Some(Read), Some(Admin)),
            ("team_discussions", Some(Write), Some(Write)),
            ("organization_events", Some(Read), Some(Read)),
            ("issue_types", Some(Read), Some(Write)),
            ("organization_plan", Some(Read), Some(Read)),
            ("organization_administration", None, Some(Write)),
            ("organization_secrets", None, Some(Write)),
            ("organization_hooks", None, Some(Write)),
            ("organization_personal_access_tokens", None, Some(Write)),
            ("contents", None, None),
            ("emails", None, None),
        ];
        for (name, member, owner) in cases {
            let p = Permission::from_name(name).unwrap();
            assert_eq!(OrgRole::Member.ceiling(p), member, "member {name}");
            assert_eq!(OrgRole::Owner.ceiling(p), owner, "owner {name}");
        }
        let member_perms: Vec<&str> = OrgRole::Member
            .ceilings()
            .iter()
            .map(|(p, _)| p.name())
            .collect();
        assert_eq!(
            member_perms,
            [
                "organization_custom_properties",
                "organization_events",
                "issue_types",
                "members",
                "organization_plan",
                "organization_projects",
                "team_discussions"
            ]
        );
    }

    #[test]
    fn org_role_ceilings_are_monotonic_and_within_the_catalog() {
        for p in Permission::all() {
            let m = OrgRole::Member.ceiling(p);
            let o = OrgRole::Owner.ceiling(p);
            assert!(o >= m, "{p}");
            for l in [m, o].into_iter().flatten() {
                assert_eq!(p.group(), PermissionGroup::Organization, "{p}");
                assert!(p.allows(l), "{p} {l}");
            }
            assert_eq!(
                o.is_some(),
                p.group() == PermissionGroup::Organization,
                "{p}"
            );
        }
    }

    fn arb_set() -> impl Strategy<Value = PermissionSet> {
        proptest::collection::vec(
            (0..PERMISSION_COUNT, proptest::option::of(0usize..3)),
            0..PERMISSION_COUNT,
        )
        .prop_map(|entries| {
            let mut s = PermissionSet::new();
            for (i, l) in entries {
                let p = Permission::from_index(i).unwrap();
                s.set(p, l.map(|l| Level::ALL[l]));
            }
            s
        })
    }

    proptest! {
        #[test]
        fn union_covers_both(a in arb_set(), b in arb_set()) {
            let u = a.union(&b);
            prop_assert!(u.covers(&a));
            prop_assert!(u.covers(&b));
            prop_assert_eq!(u, b.union(&a));
        }

        #[test]
        fn intersection_is_covered_by_both(a in arb_set(), b in arb_set()) {
            let x = a.intersection(&b);
            prop_assert!(a.covers(&x));
            prop_assert!(b.covers(&x));
            prop_assert_eq!(x, b.intersection(&a));
        }

        #[test]
        fn covers_is_reflexive_and_transitive(a in arb_set(), b in arb_set(), c in arb_set()) {
            prop_assert!(a.covers(&a));
            if a.covers(&b) && b.covers(&c) {
                prop_assert!(a.covers(&c));
            }
            // A chain built to satisfy the premise, so transitivity is exercised every time.
            let top = a.union(&b).union(&c);
            let mid = a.union(&b);
            prop_assert!(top.covers(&mid) && mid.covers(&a) && top.covers(&a));
        }

        #[test]
        fn raised_over_is_empty_exactly_when_base_covers(a in arb_set(), b in arb_set()) {
            prop_assert_eq!(a.raised_over(&b).is_empty(), b.covers(&a));
        }
    }
}
