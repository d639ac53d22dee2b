//! Ids and entities of the directory and of tokens.
//!
//! Users and organizations share one id space (an *account*), as on GitHub: a repository or a
//! fine-grained token names its owner by `AccountId` whatever the owner's kind.

use std::fmt;

use time::OffsetDateTime;

use crate::catalog::{OrgRole, PermissionSet, RepoRole};
use crate::scopes::Scopes;
use crate::token::TokenKind;

macro_rules! id_newtype {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { self.0.fmt(f) }
        }
    )*};
}

id_newtype!(
    /// A user or an organization.
    AccountId,
    EnterpriseId,
    RepoId,
    /// Stable across regeneration (GitHub's `token_id`).
    TokenId,
    KeyId,
    /// An organization's approval request (GitHub's `pat_request_id`).
    RequestId,
    /// An organization's grant to a token (GitHub's `pat_id`).
    GrantId,
    /// An app registered by an organization (its installation mints app tokens).
    AppId,
);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountKind {
    User,
    Organization,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::User => "User",
            AccountKind::Organization => "Organization",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: AccountId,
    pub login: String,
    pub email: String,
    pub email_verified: bool,
    pub site_admin: bool,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    pub id: AccountId,
    pub login: String,
    pub enterprise: Option<EnterpriseId>,
    /// What members get on every repository of the organization (GitHub's "base permission").
    pub base_permission: RepoRole,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enterprise {
    pub id: EnterpriseId,
    pub slug: String,
}

/// One row of an organization's membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub org: AccountId,
    pub user: AccountId,
    pub role: OrgRole,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Visibility {
    Public,
    Private,
    Internal,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
            Visibility::Internal => "internal",
        }
    }
    pub fn parse(s: &str) -> Option<Visibility> {
        match s {
            "public" => Some(Visibility::Public),
            "private" => Some(Visibility::Private),
            "internal" => Some(Visibility::Internal),
            _ => None,
        }
    }
    pub fn is_public(self) -> bool {
        self == Visibility::Public
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    pub id: RepoId,
    pub owner: AccountId,
    pub owner_login: String,
    pub owner_kind: AccountKind,
    pub name: String,
    pub visibility: Visibility,
    pub description: Option<String>,
    pub created_at: OffsetDateTime,
}

impl Repository {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner_login, self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collaborator {
    pub repo: RepoId,
    pub user: AccountId,
    pub role: RepoRole,
}

/// Which repositories of its resource owner a fine-grained token reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RepositorySelection {
    /// Public repositories only, read-only.
    None,
    /// The selected repositories.
    Subset,
    /// Every repository of the owner, including those created later.
    All,
}

impl RepositorySelection {
    pub fn as_str(self) -> &'static str {
        match self {
            RepositorySelection::None => "none",
            RepositorySelection::Subset => "subset",
            RepositorySelection::All => "all",
        }
    }
    pub fn parse(s: &str) -> Option<RepositorySelection> {
        match s {
            "none" => Some(RepositorySelection::None),
            "subset" => Some(RepositorySelection::Subset),
            "all" => Some(RepositorySelection::All),
            _ => None,
        }
    }
}

/// What a fine-grained token may do on its resource owner's resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenAccess {
    pub selection: RepositorySelection,
    /// Sorted and unique; empty unless `selection` is `Subset`.
    pub repositories: Vec<RepoId>,
    pub permissions: PermissionSet,
}

impl TokenAccess {
    pub fn new(
        selection: RepositorySelection,
        mut repositories: Vec<RepoId>,
        permissions: PermissionSet,
    ) -> Self {
        if selection == RepositorySelection::Subset {
            repositories.sort_unstable();
            repositories.dedup();
        } else {
            repositories.clear();
        }
        TokenAccess {
            selection,
            repositories,
            permissions,
        }
    }

    pub fn none() -> Self {
        TokenAccess::new(RepositorySelection::None, Vec::new(), PermissionSet::new())
    }

    pub fn includes_repo(&self, repo: RepoId) -> bool {
        match self.selection {
            RepositorySelection::None => false,
            RepositorySelection::All => true,
            RepositorySelection::Subset => self.repositories.binary_search(&repo).is_ok(),
        }
    }

    /// True when `other` grants nothing that `self` does not: no approval is needed to move from
    /// `self` to `other`.
    pub fn covers(&self, other: &TokenAccess) -> bool {
        let repos_covered = match (self.selection, other.selection) {
            (_, RepositorySelection::None) | (RepositorySelection::All, _) => true,
            (RepositorySelection::Subset, RepositorySelection::Subset) => other
                .repositories
                .iter()
                .all(|r| self.repositories.binary_search(r).is_ok()),
            _ => false,
        };
        repos_covered && self.permissions.covers(&other.permissions)
    }
}

/// The organization's view of a fine-grained token that targets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrantState {
    /// The resource owner is the user: no organization decides anything.
    NotRequired,
    /// Waiting for an owner's review; only public resources are readable.
    Pending,
    /// An owner refused the request; only public resources are readable.
    Denied,
    /// An owner approved (or approval was not required): the granted access is in force.
    Approved,
    /// An owner revoked the grant. The token is not deleted (its resource owner returns to the user).
    Revoked,
}

impl GrantState {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::NotRequired => "not_required",
            GrantState::Pending => "pending",
            GrantState::Denied => "denied",
            GrantState::Approved => "approved",
            GrantState::Revoked => "revoked",
        }
    }
    pub fn parse(s: &str) -> Option<GrantState> {
        match s {
            "not_required" => Some(GrantState::NotRequired),
            "pending" => Some(GrantState::Pending),
            "denied" => Some(GrantState::Denied),
            "approved" => Some(GrantState::Approved),
            "revoked" => Some(GrantState::Revoked),
            _ => None,
        }
    }
}

/// What a token may do, by kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenGrant {
    FineGrained {
        resource_owner: AccountId,
        resource_owner_kind: AccountKind,
        /// What the user configured (and, for an organization, asked for).
        requested: TokenAccess,
        /// What is in force. For a user-owned token the same as `requested`; for an organization,
        /// what an owner approved (an edit that raises access leaves the approved access in force
        /// until the new request is decided). `None`: nothing beyond public reads.
        granted: Option<TokenAccess>,
        state: GrantState,
    },
    Classic {
        scopes: Scopes,
    },
    /// An app installation credential of one organization (the organization token API).
    AppInstallation {
        org: AccountId,
        permissions: PermissionSet,
    },
}

impl TokenGrant {
    pub fn kind(&self) -> TokenKind {
        match self {
            TokenGrant::FineGrained { .. } => TokenKind::FineGrained,
            TokenGrant::Classic { .. } => TokenKind::Classic,
            TokenGrant::AppInstallation { .. } => TokenKind::AppInstallation,
        }
    }
}

/// A personal access token as stored: never the secret, only its hash and last characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub id: TokenId,
    pub user: AccountId,
    /// The fine-grained token's name, or the classic token's note.
    pub name: String,
    pub description: Option<String>,
    pub last_eight: String,
    pub created_at: OffsetDateTime,
    /// When the current secret was issued (creation or the last regeneration): the start of its lifetime.
    pub issued_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub grant: TokenGrant,
}

impl Token {
    pub fn kind(&self) -> TokenKind {
        self.grant.kind()
    }

    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }

    /// The credential view that authorization works on.
    pub fn credential(&self) -> Credential {
        Credential {
            token_id: self.id,
            user: self.user,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            grant: self.grant.clone(),
        }
    }
}

/// Everything `authz::decide` needs to know about the presented token (what the verification
/// cache holds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub token_id: TokenId,
    /// The user the token acts for (for an app installation, the organization).
    pub user: AccountId,
    pub issued_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub grant: TokenGrant,
}

impl Credential {
    pub fn kind(&self) -> TokenKind {
        self.grant.kind()
    }
    /// The lifetime of the current secret in whole days; `None` when it never expires.
    pub fn lifetime_days(&self) -> Option<i64> {
        self.expires_at
            .map(|e| (e - self.issued_at).whole_days().max(0))
    }
}

/// A key created with a token (a user's SSH key or a repository's deploy key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub id: KeyId,
    pub title: String,
    pub key: String,
    /// `None` for a user key, the repository for a deploy key.
    pub repo: Option<RepoId>,
    pub user: AccountId,
    pub read_only: bool,
    /// The token that created it: deleting that token deletes the deploy keys it created.
    pub created_by_token: Option<TokenId>,
    pub created_at: OffsetDateTime,
}
