//! Authorization of a request: the directory facts `authz::decide` needs (the repository, the
//! owner's policy, the user's own rights), read through short-lived caches, then the decision.

use std::sync::Arc;
use std::time::Duration;

use patgate_domain::authz::{self, Need, OwnerRights, Resource, ResourceKind};
use patgate_domain::catalog::OrgRole;
use patgate_domain::model::{
    AccountId, AccountKind, Credential, EnterpriseId, Repository, TokenGrant,
};
use patgate_domain::policy::{self, EffectivePolicy};

use crate::cache::TtlCache;
use crate::{App, AppError};

/// A repository with what authorization needs to know about its owner.
#[derive(Debug)]
pub struct RepoFacts {
    pub repo: Repository,
    /// The owning organization's policy; `None` for a user's repository.
    pub policy: Option<Arc<EffectivePolicy>>,
    pub enterprise: Option<EnterpriseId>,
}

impl RepoFacts {
    pub fn resource(&self) -> Resource<'_> {
        Resource {
            kind: ResourceKind::Repository(self.repo.id),
            owner: self.repo.owner,
            owner_kind: self.repo.owner_kind,
            public: self.repo.visibility.is_public(),
            policy: self.policy.as_deref(),
        }
    }
}

type RepoKey = (String, String);

pub(crate) struct AccessCache {
    repos: TtlCache<RepoKey, Option<Arc<RepoFacts>>>,
    policies: TtlCache<AccountId, Arc<EffectivePolicy>>,
    rights: TtlCache<(AccountId, AccountId, i64), OwnerRights>,
}

impl AccessCache {
    pub(crate) fn new(ttl: Duration, capacity: u64) -> Self {
        AccessCache {
            repos: TtlCache::new(ttl, capacity),
            policies: TtlCache::new(ttl, capacity),
            rights: TtlCache::new(ttl, capacity),
        }
    }

    pub(crate) fn clear(&self) {
        self.repos.clear();
        self.policies.clear();
        self.rights.clear();
    }
}

impl App {
    /// The effective policy of an organization (its settings under its enterprise's).
    pub async fn effective_policy(&self, org: AccountId) -> Result<Arc<EffectivePolicy>, AppError> {
        let now = self.now().unix_timestamp();
        let cache = &self.inner.access.policies;
        if let Some(hit) = cache.get(&org, now) {
            return Ok(hit);
        }
        let ticket = cache.ticket();
        let store = self.store();
        let organization = store.org_by_id(org).await?.ok_or(AppError::NotFound)?;
        let settings = store.org_policy(org).await?;
        let enterprise = match organization.enterprise {
            Some(id) => {
                let ent = store
                    .enterprise_by_id(id)
                    .await?
                    .ok_or(AppError::NotFound)?;
                let ent_settings = store.enterprise_policy(id).await?;
                Some((ent.slug, ent_settings))
            }
            None => None,
        };
        let effective = Arc::new(policy::resolve(
            &organization.login,
            &settings,
            enterprise.as_ref().map(|(slug, s)| (slug.as_str(), s)),
        ));
        cache.insert(ticket, org, effective.clone(), now);
        Ok(effective)
    }

    /// Finds a repository by owner login and name (case-insensitively).
    pub async fn repo_facts(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<Arc<RepoFacts>>, AppError> {
        let key = (owner.to_ascii_lowercase(), name.to_ascii_lowercase());
        let now = self.now().unix_timestamp();
        let cache = &self.inner.access.repos;
        if let Some(hit) = cache.get(&key, now) {
            return Ok(hit);
        }
        let ticket = cache.ticket();
        let facts = match self.store().repo_by_name(owner, name).await? {
            Some(repo) => Some(Arc::new(self.facts_of(repo).await?)),
            None => None,
        };
        cache.insert(ticket, key, facts.clone(), now);
        Ok(facts)
    }

    pub(crate) async fn facts_of(&self, repo: Repository) -> Result<RepoFacts, AppError> {
        let (policy, enterprise) = match repo.owner_kind {
            AccountKind::Organization => {
                let org = self
                    .store()
                    .org_by_id(repo.owner)
                    .await?
                    .ok_or(AppError::NotFound)?;
                (
                    Some(self.effective_policy(repo.owner).await?),
                    org.enterprise,
                )
            }
            AccountKind::User => (None, None),
        };
        Ok(RepoFacts {
            repo,
            policy,
            enterprise,
        })
    }

    /// The user's own rights on a repository (DESIGN §3 rule 15).
    pub async fn repo_rights(
        &self,
        user: AccountId,
        facts: &RepoFacts,
    ) -> Result<OwnerRights, AppError> {
        self.repo_rights_at(user, facts, self.now().unix_timestamp())
            .await
    }

    /// `repo_rights` with the clock already read (`now` in Unix seconds).
    async fn repo_rights_at(
        &self,
        user: AccountId,
        facts: &RepoFacts,
        now: i64,
    ) -> Result<OwnerRights, AppError> {
        let key = (user, facts.repo.owner, facts.repo.id.0);
        let cache = &self.inner.access.rights;
        if let Some(hit) = cache.get(&key, now) {
            return Ok(hit);
        }
        let ticket = cache.ticket();
        let repo = &facts.repo;
        // One read for all of it: the membership with the organization's base permission, the
        // collaborator role, and the enterprise membership an internal repository needs.
        let enterprise = match facts.enterprise {
            Some(ent) if repo.visibility == patgate_domain::model::Visibility::Internal => {
                Some(ent)
            }
            _ => None,
        };
        let standing = self
            .store()
            .repo_standing(repo.id, repo.owner, user, enterprise)
            .await?;
        let org_standing = match repo.owner_kind {
            AccountKind::Organization => standing.org,
            AccountKind::User => None,
        };
        let org_role = org_standing.map(|(role, _)| role);
        let collaborator = standing.collaborator;
        let enterprise_member = standing.enterprise_member;
        let rights = OwnerRights {
            repo_role: authz::repo_role(
                user,
                repo.owner,
                repo.visibility,
                org_standing,
                collaborator,
                enterprise_member,
            ),
            org_role,
        };
        cache.insert(ticket, key, rights, now);
        Ok(rights)
    }

    /// The user's standing in an organization, as rights on the organization's own resources.
    pub async fn org_rights(
        &self,
        user: AccountId,
        org: AccountId,
    ) -> Result<OwnerRights, AppError> {
        let key = (user, org, -1);
        let now = self.now().unix_timestamp();
        let cache = &self.inner.access.rights;
        if let Some(hit) = cache.get(&key, now) {
            return Ok(hit);
        }
        let ticket = cache.ticket();
        let rights = OwnerRights {
            repo_role: None,
            org_role: self.store().membership(org, user).await?,
        };
        cache.insert(ticket, key, rights, now);
        Ok(rights)
    }

    /// Decides a request on a repository. `None` credential: an anonymous request, which reads
    /// public repositories only. A refused request is an `AppError::Denied` with GitHub's status.
    pub async fn authorize_repo(
        &self,
        cred: Option<&Credential>,
        facts: &RepoFacts,
        need: Need,
    ) -> Result<(), AppError> {
        let resource = facts.resource();
        let Some(cred) = cred else {
            let public_read = resource.public
                && need.level == patgate_domain::catalog::Level::Read
                && authz::publicly_readable(need.permission);
            return if public_read {
                Ok(())
            } else if resource.public {
                Err(AppError::BadCredentials)
            } else {
                Err(AppError::NotFound)
            };
        };
        // One clock reading for the cache and the decision.
        let now = self.now();
        let rights = match &cred.grant {
            TokenGrant::AppInstallation { org, .. } if *org == facts.repo.owner => OwnerRights {
                repo_role: Some(patgate_domain::catalog::RepoRole::Admin),
                org_role: Some(OrgRole::Owner),
            },
            _ => {
                self.repo_rights_at(cred.user, facts, now.unix_timestamp())
                    .await?
            }
        };
        match authz::decide(cred, &resource, Some(need), rights, now) {
            authz::Decision::Allow => Ok(()),
            authz::Decision::Deny(d) => Err(d.into()),
        }
    }

    /// Decides a request on the token user's own account (profile, keys).
    pub fn authorize_account(&self, cred: &Credential, need: Option<Need>) -> Result<(), AppError> {
        let resource = Resource {
            kind: ResourceKind::Account,
            owner: cred.user,
            owner_kind: AccountKind::User,
            public: false,
            policy: None,
        };
        match authz::decide(cred, &resource, need, OwnerRights::default(), self.now()) {
            authz::Decision::Allow => Ok(()),
            authz::Decision::Deny(d) => Err(d.into()),
        }
    }

    /// Decides a request on an organization's own resources.
    pub async fn authorize_org(
        &self,
        cred: &Credential,
        org: AccountId,
        need: Need,
    ) -> Result<(), AppError> {
        let policy = self.effective_policy(org).await?;
        let resource = Resource {
            kind: ResourceKind::Organization,
            owner: org,
            owner_kind: AccountKind::Organization,
            public: false,
            policy: Some(&policy),
        };
        let rights = match &cred.grant {
            TokenGrant::AppInstallation { org: app_org, .. } if *app_org == org => OwnerRights {
                repo_role: None,
                org_role: Some(OrgRole::Owner),
            },
            _ => self.org_rights(cred.user, org).await?,
        };
        match authz::decide(cred, &resource, Some(need), rights, self.now()) {
            authz::Decision::Allow => Ok(()),
            authz::Decision::Deny(d) => Err(d.into()),
        }
    }
}
