//! Classic OAuth scopes (reference §3): the names, their hierarchy, normalisation of a granted list
//! as GitHub stores it, and the classic scope equivalent to a fine-grained permission.

use std::fmt;

use crate::catalog::{Level, Permission, PermissionGroup, const_str_eq};

/// `(name, parent)`. One table: the hierarchy of reference §3, `admin:X ⊃ write:X ⊃ read:X`.
const TABLE: [(&str, Option<&str>); 52] = [
    ("repo", None),
    ("repo:status", Some("repo")),
    ("repo_deployment", Some("repo")),
    ("public_repo", Some("repo")),
    ("repo:invite", Some("repo")),
    ("security_events", Some("repo")),
    ("admin:repo_hook", None),
    ("write:repo_hook", Some("admin:repo_hook")),
    ("read:repo_hook", Some("write:repo_hook")),
    ("admin:org", None),
    ("write:org", Some("admin:org")),
    ("read:org", Some("write:org")),
    ("manage_runners:org", Some("admin:org")),
    ("admin:public_key", None),
    ("write:public_key", Some("admin:public_key")),
    ("read:public_key", Some("write:public_key")),
    ("admin:org_hook", None),
    ("gist", None),
    ("notifications", None),
    ("user", None),
    ("read:user", Some("user")),
    ("user:email", Some("user")),
    ("user:follow", Some("user")),
    ("project", None),
    ("read:project", Some("project")),
    ("delete_repo", None),
    ("write:packages", None),
    ("read:packages", Some("write:packages")),
    ("delete:packages", None),
    ("admin:gpg_key", None),
    ("write:gpg_key", Some("admin:gpg_key")),
    ("read:gpg_key", Some("write:gpg_key")),
    ("admin:ssh_signing_key", None),
    ("write:ssh_signing_key", Some("admin:ssh_signing_key")),
    ("read:ssh_signing_key", Some("write:ssh_signing_key")),
    ("codespace", None),
    ("codespace:secrets", Some("codespace")),
    ("workflow", None),
    ("admin:enterprise", None),
    ("manage_runners:enterprise", Some("admin:enterprise")),
    ("manage_billing:enterprise", Some("admin:enterprise")),
    ("read:enterprise", Some("admin:enterprise")),
    ("scim:enterprise", Some("admin:enterprise")),
    ("audit_log", None),
    ("read:audit_log", Some("audit_log")),
    ("write:discussion", None),
    ("read:discussion", Some("write:discussion")),
    ("copilot", None),
    ("manage_billing:copilot", Some("copilot")),
    ("write:network_configurations", None),
    (
        "read:network_configurations",
        Some("write:network_configurations"),
    ),
    ("site_admin", None),
];

const COUNT: usize = TABLE.len();
const _: () = assert!(COUNT <= 64, "the closure bitset is a u64");

const fn index_of(name: &str) -> usize {
    let mut i = 0;
    while i < COUNT {
        if const_str_eq(TABLE[i].0, name) {
            return i;
        }
        i += 1;
    }
    COUNT
}

/// The parent index of every scope (`COUNT` for none), resolved at compile time.
const PARENTS: [usize; COUNT] = {
    let mut out = [COUNT; COUNT];
    let mut i = 0;
    while i < COUNT {
        if let Some(parent) = TABLE[i].1 {
            let p = index_of(parent);
            assert!(p < COUNT, "scope parent missing from the table");
            assert!(p != i);
            out[i] = p;
        }
        i += 1;
    }
    out
};

/// For every scope, the bitset of itself and all its descendants: what it implies.
const IMPLIED: [u64; COUNT] = {
    let mut out = [0u64; COUNT];
    let mut child = 0;
    while child < COUNT {
        // Walk up from `child`, marking it as implied by each ancestor (and by itself).
        let mut at = child;
        let mut steps = 0;
        while at < COUNT {
            out[at] |= 1u64 << child;
            at = PARENTS[at];
            steps += 1;
            assert!(steps <= COUNT, "scope hierarchy has a cycle");
        }
        child += 1;
    }
    out
};

// Names are unique.
const _: () = {
    let mut i = 0;
    while i < COUNT {
        assert!(index_of(TABLE[i].0) == i, "duplicate scope name");
        i += 1;
    }
};

const fn scope(name: &str) -> Scope {
    let i = index_of(name);
    assert!(i < COUNT, "unknown scope name in a Scope constant");
    Scope(i as u8)
}

/// A classic OAuth scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(u8);

impl Scope {
    pub const REPO: Scope = scope("repo");
    pub const REPO_STATUS: Scope = scope("repo:status");
    pub const REPO_DEPLOYMENT: Scope = scope("repo_deployment");
    pub const PUBLIC_REPO: Scope = scope("public_repo");
    pub const REPO_INVITE: Scope = scope("repo:invite");
    pub const SECURITY_EVENTS: Scope = scope("security_events");
    pub const ADMIN_REPO_HOOK: Scope = scope("admin:repo_hook");
    pub const WRITE_REPO_HOOK: Scope = scope("write:repo_hook");
    pub const READ_REPO_HOOK: Scope = scope("read:repo_hook");
    pub const ADMIN_ORG: Scope = scope("admin:org");
    pub const WRITE_ORG: Scope = scope("write:org");
    pub const READ_ORG: Scope = scope("read:org");
    pub const MANAGE_RUNNERS_ORG: Scope = scope("manage_runners:org");
    pub const ADMIN_PUBLIC_KEY: Scope = scope("admin:public_key");
    pub const WRITE_PUBLIC_KEY: Scope = scope("write:public_key");
    pub const READ_PUBLIC_KEY: Scope = scope("read:public_key");
    pub const ADMIN_ORG_HOOK: Scope = scope("admin:org_hook");
    pub const GIST: Scope = scope("gist");
    pub const NOTIFICATIONS: Scope = scope("notifications");
    pub const USER: Scope = scope("user");
    pub const READ_USER: Scope = scope("read:user");
    pub const USER_EMAIL: Scope = scope("user:email");
    pub const USER_FOLLOW: Scope = scope("user:follow");
    pub const PROJECT: Scope = scope("project");
    pub const READ_PROJECT: Scope = scope("read:project");
    pub const DELETE_REPO: Scope = scope("delete_repo");
    pub const WRITE_PACKAGES: Scope = scope("write:packages");
    pub const READ_PACKAGES: Scope = scope("read:packages");
    pub const DELETE_PACKAGES: Scope = scope("delete:packages");
    pub const ADMIN_GPG_KEY: Scope = scope("admin:gpg_key");
    pub const WRITE_GPG_KEY: Scope = scope("write:gpg_key");
    pub const READ_GPG_KEY: Scope = scope("read:gpg_key");
    pub const ADMIN_SSH_SIGNING_KEY: Scope = scope("admin:ssh_signing_key");
    pub const WRITE_SSH_SIGNING_KEY: Scope = scope("write:ssh_signing_key");
    pub const READ_SSH_SIGNING_KEY: Scope = scope("read:ssh_signing_key");
    pub const CODESPACE: Scope = scope("codespace");
    pub const CODESPACE_SECRETS: Scope = scope("codespace:secrets");
    pub const WORKFLOW: Scope = scope("workflow");
    pub const ADMIN_ENTERPRISE: Scope = scope("admin:enterprise");
    pub const MANAGE_RUNNERS_ENTERPRISE: Scope = scope("manage_runners:enterprise");
    pub const MANAGE_BILLING_ENTERPRISE: Scope = scope("manage_billing:enterprise");
    pub const READ_ENTERPRISE: Scope = scope("read:enterprise");
    pub const SCIM_ENTERPRISE: Scope = scope("scim:enterprise");
    pub const AUDIT_LOG: Scope = scope("audit_log");
    pub const READ_AUDIT_LOG: Scope = scope("read:audit_log");
    pub const WRITE_DISCUSSION: Scope = scope("write:discussion");
    pub const READ_DISCUSSION: Scope = scope("read:discussion");
    pub const COPILOT: Scope = scope("copilot");
    pub const MANAGE_BILLING_COPILOT: Scope = scope("manage_billing:copilot");
    pub const WRITE_NETWORK_CONFIGURATIONS: Scope = scope("write:network_configurations");
    pub const READ_NETWORK_CONFIGURATIONS: Scope = scope("read:network_configurations");
    pub const SITE_ADMIN: Scope = scope("site_admin");

    /// Number of known scopes.
    pub const COUNT: usize = COUNT;

    /// Looks a scope up by its exact name, e.g. `"read:org"`.
    pub fn from_name(name: &str) -> Option<Scope> {
        TABLE
            .iter()
            .position(|(n, _)| *n == name)
            .and_then(|i| u8::try_from(i).ok())
            .map(Scope)
    }

    pub fn name(self) -> &'static str {
        TABLE[self.0 as usize].0
    }

    /// The scope that directly implies this one, if any (`read:org` -> `write:org`).
    pub fn parent(self) -> Option<Scope> {
        let p = PARENTS[self.0 as usize];
        if p < COUNT {
            u8::try_from(p).ok().map(Scope)
        } else {
            None
        }
    }

    /// `self == other`, or `self` is an ancestor of `other`.
    pub fn implies(self, other: Scope) -> bool {
        IMPLIED[self.0 as usize] & other.bit() != 0
    }

    /// Every scope, in table order (parents before their children).
    pub fn all() -> impl Iterator<Item = Scope> {
        (0..COUNT as u8).map(Scope)
    }

    fn bit(self) -> u64 {
        1u64 << self.0
    }

    fn closure(self) -> u64 {
        IMPLIED[self.0 as usize]
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Scope, UnknownScope> {
        Scope::from_name(s).ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// A scope name that is not in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope: {0}")]
pub struct UnknownScope(pub String);

/// Granted scopes in their normalised, stored order (implied children and duplicates removed,
/// first-seen order kept), plus the bitset of everything they imply for O(1) checks.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Scopes {
    list: Vec<Scope>,
    closure: u64,
}

impl Scopes {
    /// Parses `"user,gist,user:email"` or `"user, gist"` (comma and/or whitespace separated;
    /// empty input is no scopes). An unknown name fails with that name. Normalised as GitHub
    /// does: `"user,gist,user:email"` -> `[user, gist]`.
    pub fn parse(input: &str) -> Result<Scopes, UnknownScope> {
        Scopes::from_names(
            input
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty()),
        )
    }

    /// Builds from names (each one exact); normalised as [`Scopes::parse`].
    pub fn from_names<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Scopes, UnknownScope> {
        let scopes = names
            .into_iter()
            .map(|n| Scope::from_name(n).ok_or_else(|| UnknownScope(n.to_owned())))
            .collect::<Result<Vec<Scope>, UnknownScope>>()?;
        Ok(Scopes::from_scopes(scopes))
    }

    /// Builds from scopes, normalised: duplicates and scopes implied by another granted scope are
    /// dropped; the first-seen order of the rest is kept.
    pub fn from_scopes(scopes: impl IntoIterator<Item = Scope>) -> Scopes {
        let mut seen: Vec<Scope> = Vec::new();
        for s in scopes {
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
        let list: Vec<Scope> = seen
            .iter()
            .copied()
            .filter(|&s| !seen.iter().any(|&t| t != s && t.implies(s)))
            .collect();
        let closure = list.iter().fold(0, |acc, s| acc | s.closure());
        Scopes { list, closure }
    }

    /// The normalised scopes, in stored order.
    pub fn list(&self) -> &[Scope] {
        &self.list
    }

    /// Whether some granted scope implies `needed`.
    pub fn allows(&self, needed: Scope) -> bool {
        self.closure & needed.bit() != 0
    }

    /// Whether some granted scope implies at least one of `any`.
    pub fn allows_any(&self, any: &[Scope]) -> bool {
        any.iter().any(|&s| self.allows(s))
    }

    /// Every scope the grant implies (granted ones and their descendants), in table order.
    pub fn implied(&self) -> impl Iterator<Item = Scope> + '_ {
        Scope::all().filter(|&s| self.allows(s))
    }

    /// `"user, gist"`, the `X-OAuth-Scopes` format; `""` when empty.
    pub fn header_value(&self) -> String {
        let len = self.list.iter().map(|s| s.name().len() + 2).sum::<usize>();
        let mut out = String::with_capacity(len.saturating_sub(2));
        for (i, s) in self.list.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(s.name());
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl std::str::FromStr for Scopes {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Scopes, UnknownScope> {
        Scopes::parse(s)
    }
}

/// Which classic scope gives the equivalent of fine-grained `(p, level)`; `public_repo` says
/// whether the repository is public. `None` when no scope is needed.
///
/// * Repository permissions: on a public repository nothing for read and `public_repo` for write;
///   on a private or internal one `repo` for any level. Except: `workflows` -> `workflow`,
///   `repository_hooks` -> `read:repo_hook` / `write:repo_hook` (any visibility).
/// * Account permissions: `keys` -> `read:public_key` / `write:public_key`; `gpg_keys` ->
///   `read:gpg_key` / `write:gpg_key`; `git_signing_ssh_public_keys` -> `read:ssh_signing_key` /
///   `write:ssh_signing_key`; `codespaces_user_secrets` -> `codespace:secrets`; `emails` ->
///   `user:email` for read, `user` for write; `profile` -> `user`; `followers` -> `user:follow`;
///   `gists` -> `gist`; any other -> `read:user` for read, `user` for write.
/// * Organization permissions: `organization_hooks` -> `admin:org_hook`; `organization_projects`
///   -> `read:project` / `project`; `team_discussions` -> `read:discussion` / `write:discussion`;
///   `organization_network_configurations` -> `read:network_configurations` /
///   `write:network_configurations`; any other -> `read:org` / `write:org` / `admin:org` by level.
pub fn classic_scope_for(p: Permission, level: Level, public_repo: bool) -> Option<Scope> {
    let read = level == Level::Read;
    let by_read = |r: Scope, w: Scope| Some(if read { r } else { w });
    match p.group() {
        PermissionGroup::Repository => {
            if p == Permission::WORKFLOWS {
                Some(Scope::WORKFLOW)
            } else if p == Permission::REPOSITORY_HOOKS {
                by_read(Scope::READ_REPO_HOOK, Scope::WRITE_REPO_HOOK)
            } else {
                classic_scope_for_repository_permission(level, public_repo)
            }
        }
        PermissionGroup::Account => {
            if p == Permission::KEYS {
                by_read(Scope::READ_PUBLIC_KEY, Scope::WRITE_PUBLIC_KEY)
            } else if p == Permission::GPG_KEYS {
                by_read(Scope::READ_GPG_KEY, Scope::WRITE_GPG_KEY)
            } else if p == Permission::GIT_SIGNING_SSH_PUBLIC_KEYS {
                by_read(Scope::READ_SSH_SIGNING_KEY, Scope::WRITE_SSH_SIGNING_KEY)
            } else if p == Permission::CODESPACES_USER_SECRETS {
                Some(Scope::CODESPACE_SECRETS)
            } else if p == Permission::EMAILS {
                by_read(Scope::USER_EMAIL, Scope::USER)
            } else if p == Permission::PROFILE {
                Some(Scope::USER)
            } else if p == Permission::FOLLOWERS {
                Some(Scope::USER_FOLLOW)
            } else if p == Permission::GISTS {
                Some(Scope::GIST)
            } else {
                by_read(Scope::READ_USER, Scope::USER)
            }
        }
        PermissionGroup::Organization => {
            if p == Permission::ORGANIZATION_HOOKS {
                Some(Scope::ADMIN_ORG_HOOK)
            } else if p == Permission::ORGANIZATION_PROJECTS {
                by_read(Scope::READ_PROJECT, Scope::PROJECT)
            } else if p == Permission::TEAM_DISCUSSIONS {
                by_read(Scope::READ_DISCUSSION, Scope::WRITE_DISCUSSION)
            } else if p == Permission::ORGANIZATION_NETWORK_CONFIGURATIONS {
                by_read(
                    Scope::READ_NETWORK_CONFIGURATIONS,
                    Scope::WRITE_NETWORK_CONFIGURATIONS,
                )
            } else {
                Some(match level {
                    Level::Read => Scope::READ_ORG,
                    Level::Write => Scope::WRITE_ORG,
                    Level::Admin => Scope::ADMIN_ORG,
                })
            }
        }
    }
}

/// The classic scope of a repository permission that has no scope of its own (every repository
/// permission but `workflows` and `repository_hooks`): on a public repository nothing for read
/// and `public_repo` for write; on a private or internal one `repo` for any level.
///
/// [`classic_scope_for`] uses it for the catalogue's repository permissions; the route table
/// uses it for the repository permissions GitHub lists that are not in the catalogue because
/// only GitHub Apps can hold them (`checks`, `repository_projects`).
pub fn classic_scope_for_repository_permission(level: Level, public_repo: bool) -> Option<Scope> {
    if !public_repo {
        Some(Scope::REPO)
    } else if level == Level::Read {
        None
    } else {
        Some(Scope::PUBLIC_REPO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn s(name: &str) -> Scope {
        Scope::from_name(name).unwrap()
    }

    fn names(scopes: &Scopes) -> Vec<&'static str> {
        scopes.list().iter().map(|s| s.name()).collect()
    }

    #[test]
    fn every_scope_of_reference_section_3_is_known() {
        let expected = [
            "repo",
            "repo:status",
            "repo_deployment",
            "public_repo",
            "repo:invite",
            "security_events",
            "admin:repo_hook",
            "write:repo_hook",
            "read:repo_hook",
            "admin:org",
            "write:org",
            "read:org",
            "admin:public_key",
            "write:public_key",
            "read:public_key",
            "admin:org_hook",
            "gist",
            "notifications",
            "user",
            "read:user",
            "user:email",
            "user:follow",
            "project",
            "read:project",
            "delete_repo",
            "write:packages",
            "read:packages",
            "delete:packages",
            "admin:gpg_key",
            "write:gpg_key",
            "read:gpg_key",
            "codespace",
            "codespace:secrets",
            "workflow",
            "admin:enterprise",
            "manage_runners:enterprise",
            "manage_billing:enterprise",
            "read:enterprise",
            "read:audit_log",
            "site_admin",
            // Missing from the docs table, listed by §3:
            "admin:ssh_signing_key",
            "write:ssh_signing_key",
            "read:ssh_signing_key",
            "copilot",
            "manage_billing:copilot",
            "manage_runners:org",
            "audit_log",
            "write:discussion",
            "read:discussion",
            "read:network_configurations",
            "write:network_configurations",
            "scim:enterprise",
        ];
        for name in expected {
            assert!(Scope::from_name(name).is_some(), "{name} missing");
        }
        assert_eq!(Scope::all().count(), expected.len());
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        let all: HashSet<&str> = Scope::all().map(Scope::name).collect();
        assert_eq!(all.len(), Scope::COUNT);
        for sc in Scope::all() {
            assert_eq!(Scope::from_name(sc.name()), Some(sc));
            assert_eq!(sc.to_string(), sc.name());
            assert_eq!(sc.name().parse::<Scope>(), Ok(sc));
        }
        for bad in ["", "REPO", "write:user", "admin:read", "repo "] {
            assert_eq!(Scope::from_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parents_follow_the_documented_hierarchy() {
        // (child, parent)
        let cases = [
            ("repo", None),
            ("repo:status", Some("repo")),
            ("repo_deployment", Some("repo")),
            ("public_repo", Some("repo")),
            ("repo:invite", Some("repo")),
            ("security_events", Some("repo")),
            ("read:repo_hook", Some("write:repo_hook")),
            ("write:repo_hook", Some("admin:repo_hook")),
            ("read:org", Some("write:org")),
            ("write:org", Some("admin:org")),
            ("manage_runners:org", Some("admin:org")),
            ("read:public_key", Some("write:public_key")),
            ("write:public_key", Some("admin:public_key")),
            ("read:user", Some("user")),
            ("user:email", Some("user")),
            ("user:follow", Some("user")),
            ("read:project", Some("project")),
            ("read:packages", Some("write:packages")),
            ("read:gpg_key", Some("write:gpg_key")),
            ("write:gpg_key", Some("admin:gpg_key")),
            ("read:ssh_signing_key", Some("write:ssh_signing_key")),
            ("write:ssh_signing_key", Some("admin:ssh_signing_key")),
            ("codespace:secrets", Some("codespace")),
            ("manage_runners:enterprise", Some("admin:enterprise")),
            ("manage_billing:enterprise", Some("admin:enterprise")),
            ("read:enterprise", Some("admin:enterprise")),
            ("read:audit_log", Some("audit_log")),
            ("read:discussion", Some("write:discussion")),
            (
                "read:network_configurations",
                Some("write:network_configurations"),
            ),
            ("manage_billing:copilot", Some("copilot")),
            ("admin:org_hook", None),
            ("gist", None),
            ("delete_repo", None),
            ("delete:packages", None),
            ("workflow", None),
            ("site_admin", None),
        ];
        for (child, parent) in cases {
            assert_eq!(s(child).parent(), parent.map(s), "{child}");
        }
    }

    #[test]
    fn implies_is_reflexive_and_transitive_down_the_hierarchy() {
        // (scope, implied, expected)
        let cases = [
            ("admin:org", "read:org", true),
            ("admin:org", "write:org", true),
            ("admin:org", "manage_runners:org", true),
            ("write:org", "read:org", true),
            ("admin:repo_hook", "read:repo_hook", true),
            ("admin:gpg_key", "read:gpg_key", true),
            ("repo", "public_repo", true),
            ("repo", "security_events", true),
            ("user", "user:email", true),
            ("project", "read:project", true),
            ("write:packages", "read:packages", true),
            ("read:org", "read:org", true),
            // never up, never sideways
            ("read:org", "write:org", false),
            ("read:org", "admin:org", false),
            ("public_repo", "repo", false),
            ("user:email", "user", false),
            ("repo", "workflow", false),
            ("repo", "admin:repo_hook", false),
            ("write:org", "manage_runners:org", false),
            ("user", "read:org", false),
        ];
        for (a, b, expected) in cases {
            assert_eq!(s(a).implies(s(b)), expected, "{a} implies {b}");
        }
    }

    #[test]
    fn a_child_never_implies_its_parent_and_implication_is_transitive() {
        for a in Scope::all() {
            assert!(a.implies(a));
            if let Some(p) = a.parent() {
                assert!(p.implies(a), "{p} should imply {a}");
                assert!(!a.implies(p), "{a} must not imply its parent {p}");
            }
            for b in Scope::all() {
                if a != b && a.implies(b) {
                    assert!(!b.implies(a), "{a} and {b} imply each other");
                }
                for c in Scope::all() {
                    if a.implies(b) && b.implies(c) {
                        assert!(a.implies(c), "{a} > {b} > {c}");
                    }
                }
            }
        }
    }

    #[test]
    fn parse_normalises_as_github_does() {
        // (input, stored scopes)
        let cases: [(&str, &[&str]); 9] = [
            ("user,gist,user:email", &["user", "gist"]),
            ("user, gist", &["user", "gist"]),
            ("user:email user", &["user"]),
            ("gist,gist, gist", &["gist"]),
            ("read:org,admin:org,write:org", &["admin:org"]),
            (
                "public_repo,repo:status,workflow",
                &["public_repo", "repo:status", "workflow"],
            ),
            ("  repo ,\n public_repo\t", &["repo"]),
            ("", &[]),
            (" , ,", &[]),
        ];
        for (input, expected) in cases {
            let scopes = Scopes::parse(input).unwrap();
            assert_eq!(names(&scopes), expected, "{input:?}");
            assert_eq!(input.parse::<Scopes>(), Ok(scopes));
        }
    }

    #[test]
    fn parse_errors_name_the_unknown_scope() {
        // (input, unknown name)
        let cases = [
            ("user,bogus", "bogus"),
            ("repo, Repo", "Repo"),
            ("write:user", "write:user"),
            ("gist;user", "gist;user"),
        ];
        for (input, bad) in cases {
            let err = Scopes::parse(input).unwrap_err();
            assert_eq!(err, UnknownScope(bad.to_owned()));
            assert_eq!(err.to_string(), format!("unknown scope: {bad}"));
        }
        assert_eq!(
            Scopes::from_names(["repo", "nope"]),
            Err(UnknownScope("nope".into()))
        );
    }

    #[test]
    fn allows_uses_the_hierarchy() {
        let scopes = Scopes::parse("admin:org, public_repo").unwrap();
        // (needed, allowed)
        let cases = [
            ("admin:org", true),
            ("write:org", true),
            ("read:org", true),
            ("manage_runners:org", true),
            ("public_repo", true),
            ("repo", false),
            ("repo:status", false),
            ("admin:org_hook", false),
            ("user", false),
        ];
        for (needed, allowed) in cases {
            assert_eq!(scopes.allows(s(needed)), allowed, "{needed}");
        }
        assert!(scopes.allows_any(&[Scope::REPO, Scope::READ_ORG]));
        assert!(!scopes.allows_any(&[Scope::REPO, Scope::GIST]));
        assert!(!Scopes::default().allows(Scope::READ_USER));
        let implied: Vec<&str> = Scopes::parse("user")
            .unwrap()
            .implied()
            .map(Scope::name)
            .collect();
        assert_eq!(implied, ["user", "read:user", "user:email", "user:follow"]);
    }

    #[test]
    fn header_value_formats_like_x_oauth_scopes() {
        // (input, header)
        let cases = [
            ("user,gist,user:email", "user, gist"),
            ("repo", "repo"),
            ("read:org  workflow", "read:org, workflow"),
            ("", ""),
        ];
        for (input, header) in cases {
            let scopes = Scopes::parse(input).unwrap();
            assert_eq!(scopes.header_value(), header, "{input:?}");
            assert_eq!(scopes.is_empty(), header.is_empty());
        }
    }

    #[test]
    fn classic_scope_for_table() {
        use Level::{Admin, Read, Write};
        let p = |n: &str| Permission::from_name(n).unwrap();
        // (permission, level, public repo, expected scope)
        let cases: &[(&str, Level, bool, Option<&str>)] = &[
            ("contents", Read, true, None),
            ("contents", Write, true, Some("public_repo")),
            ("contents", Read, false, Some("repo")),
            ("contents", Write, false, Some("repo")),
            ("metadata", Read, false, Some("repo")),
            ("metadata", Read, true, None),
            ("issues", Write, true, Some("public_repo")),
            ("administration", Write, false, Some("repo")),
            ("workflows", Write, true, Some("workflow")),
            ("workflows", Write, false, Some("workflow")),
            ("repository_hooks", Read, true, Some("read:repo_hook")),
            ("repository_hooks", Write, false, Some("write:repo_hook")),
            ("keys", Read, false, Some("read:public_key")),
            ("keys", Write, false, Some("write:public_key")),
            ("gpg_keys", Read, false, Some("read:gpg_key")),
            ("gpg_keys", Write, false, Some("write:gpg_key")),
            (
                "git_signing_ssh_public_keys",
                Read,
                false,
                Some("read:ssh_signing_key"),
            ),
            (
                "git_signing_ssh_public_keys",
                Write,
                false,
                Some("write:ssh_signing_key"),
            ),
            (
                "codespaces_user_secrets",
                Write,
                false,
                Some("codespace:secrets"),
            ),
            ("emails", Read, false, Some("user:email")),
            ("emails", Write, false, Some("user")),
            ("profile", Write, false, Some("user")),
            ("followers", Read, false, Some("user:follow")),
            ("followers", Write, false, Some("user:follow")),
            ("gists", Write, false, Some("gist")),
            ("blocking", Read, false, Some("read:user")),
            ("blocking", Write, false, Some("user")),
            ("plan", Read, true, Some("read:user")),
            ("members", Read, false, Some("read:org")),
            ("members", Write, false, Some("write:org")),
            ("organization_administration", Read, false, Some("read:org")),
            (
                "organization_administration",
                Write,
                false,
                Some("write:org"),
            ),
            (
                "organization_custom_properties",
                Admin,
                false,
                Some("admin:org"),
            ),
            ("organization_secrets", Write, true, Some("write:org")),
            ("organization_hooks", Read, false, Some("admin:org_hook")),
            ("organization_hooks", Write, false, Some("admin:org_hook")),
            ("organization_projects", Read, false, Some("read:project")),
            ("organization_projects", Write, false, Some("project")),
            ("organization_projects", Admin, false, Some("project")),
            ("team_discussions", Read, false, Some("read:discussion")),
            ("team_discussions", Write, false, Some("write:discussion")),
            (
                "organization_network_configurations",
                Write,
                false,
                Some("write:network_configurations"),
            ),
        ];
        for &(name, level, public, expected) in cases {
            assert_eq!(
                classic_scope_for(p(name), level, public),
                expected.map(s),
                "{name} {level} public={public}"
            );
        }
    }

    #[test]
    fn classic_scope_for_is_monotonic_in_level() {
        // A scope that covers a higher level always covers the lower one too.
        for p in Permission::all() {
            for public in [true, false] {
                let levels = p.allowed_levels();
                for pair in levels.windows(2) {
                    let lo = classic_scope_for(p, pair[0], public);
                    let hi = classic_scope_for(p, pair[1], public);
                    match (lo, hi) {
                        (_, None) => assert!(lo.is_none(), "{p}"),
                        (None, Some(_)) => {}
                        (Some(lo), Some(hi)) => {
                            assert!(hi.implies(lo), "{p}: {hi} should imply {lo}")
                        }
                    }
                }
            }
        }
    }
}
