//! Authorization by name, for the surfaces a platform calls (issue 13): the authorization API
//! (a need on a target), forward auth (a REST route of GitHub's table), and the explanations
//! given to a token's owner. Each resolves what the request names into the directory facts
//! `authz` needs, exactly as the REST routes and git do (`access`), and decides with
//! `authz::decide` (`decide_route` for a route's permission sets, `explain` and `explain_route`
//! for the same decision with its chain of rules), so that no surface can answer differently.

use std::collections::HashMap;
use std::sync::Arc;

use patgate_domain::authz::{
    self, Ask, Decision, Denial, DenyReason, DenyStatus, Explanation, Finding, Need, OwnerRights,
    Resource, ResourceKind, Rule, Step,
};
use patgate_domain::catalog::{Level, OrgRole, RepoRole};
use patgate_domain::model::{AccountId, AccountKind, Credential, TokenGrant};
use patgate_domain::routes::{self, Route, RouteMatch};
use patgate_domain::scopes::Scope;
use patgate_store::Account;

use crate::access::RepoFacts;
use crate::{App, AppError};

/// The routes any valid token may call without a permission, which GitHub's per-endpoint data
/// does not list (`routes` module documentation): forward auth lists them itself, and refuses
/// every other route the table does not know.
pub const TOKEN_ONLY_ROUTES: &[(&str, &str)] = &[("GET", "/user")];

/// What a request acts on, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    Repository {
        owner: &'a str,
        name: &'a str,
    },
    RepositoryId(i64),
    Organization(&'a str),
    /// The token's own user (`/user/...`).
    Account,
    /// An account named in the path (`/users/{username}/...`).
    User(&'a str),
}

impl<'a> Target<'a> {
    /// What a route of the table acts on; `None` when patgate cannot tell (`/gists/{id}`,
    /// `/teams/{id}`): such a route is refused as an unknown one.
    pub fn of_route(m: &'a RouteMatch<'_>) -> Option<Target<'a>> {
        Some(match m.resource() {
            routes::Resource::Repository { owner, repo } => {
                Target::Repository { owner, name: repo }
            }
            routes::Resource::RepositoryId { repository_id } => {
                Target::RepositoryId(repository_id.parse().ok()?)
            }
            routes::Resource::Organization { org } => Target::Organization(org),
            routes::Resource::AuthenticatedUser => Target::Account,
            routes::Resource::User { username } => Target::User(username),
            routes::Resource::Other => return None,
        })
    }
}

/// What the request needs of the token.
#[derive(Clone, Copy, Debug)]
pub enum Asked<'r> {
    /// Nothing but a live token whose user may see the target.
    Nothing,
    Need(Need),
    Scope(Scope),
    /// Every requirement of one of the route's permission sets.
    Route(&'r Route),
}

/// One requirement of a request, explained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhyRequirement {
    /// `contents=write`, `scope repo`, or `a valid token`.
    pub requirement: String,
    pub allowed: bool,
    pub steps: Vec<WhyStep>,
}

/// One rule of an explanation, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhyStep {
    pub rule: Rule,
    pub passed: bool,
    pub detail: String,
}

/// A decision with the chain of rules that made it: each permission set of the request (one,
/// unless a route accepts several), each requirement of a set with the rules it went through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Why {
    pub decision: Decision,
    /// What the request acts on, as the explanation names it.
    pub resource: String,
    pub sets: Vec<Vec<WhyRequirement>>,
}

impl Why {
    /// The rule that refused, in the first set (`None` when allowed).
    pub fn refused_by(&self) -> Option<&WhyStep> {
        if self.decision.is_allowed() {
            return None;
        }
        self.sets
            .iter()
            .flat_map(|set| set.iter())
            .filter(|r| !r.allowed)
            .flat_map(|r| r.steps.iter().rev().find(|s| !s.passed))
            .next()
    }
}

/// The facts of a resolved target.
enum Resolved {
    Repository(Arc<RepoFacts>),
    Organization {
        id: AccountId,
        login: String,
        policy: Arc<patgate_domain::policy::EffectivePolicy>,
    },
    Account {
        id: AccountId,
        kind: AccountKind,
        login: String,
    },
    Missing(String),
}

impl Resolved {
    fn resource(&self) -> Option<Resource<'_>> {
        Some(match self {
            Resolved::Repository(facts) => facts.resource(),
            Resolved::Organization { id, policy, .. } => Resource {
                kind: ResourceKind::Organization,
                owner: *id,
                owner_kind: AccountKind::Organization,
                public: false,
                policy: Some(policy),
            },
            Resolved::Account { id, kind, .. } => Resource {
                kind: ResourceKind::Account,
                owner: *id,
                owner_kind: *kind,
                public: false,
                policy: None,
            },
            Resolved::Missing(_) => return None,
        })
    }

    fn label(&self) -> String {
        match self {
            Resolved::Repository(facts) => facts.repo.full_name(),
            Resolved::Organization { login, .. } => format!("the organization {login}"),
            Resolved::Account { login, .. } => format!("{login}'s account"),
            Resolved::Missing(label) => label.clone(),
        }
    }
}

fn not_found() -> Denial {
    Denial {
        status: DenyStatus::NotFound,
        reason: DenyReason::UserCannotSee,
        message: authz::NOT_FOUND.to_owned(),
        accepted_permissions: None,
        accepted_scopes: None,
    }
}

/// GitHub's 401 for a request that needs a token and has none.
pub const REQUIRES_AUTHENTICATION: &str = "Requires authentication";

fn requirement_name(asked: Asked<'_>, requirement: Option<&routes::Requirement>) -> String {
    match (asked, requirement) {
        (_, Some(r)) => r.to_string(),
        (Asked::Need(n), _) => n.accepted_permissions(),
        (Asked::Scope(s), _) => format!("scope {}", s.name()),
        (Asked::Nothing | Asked::Route(_), _) => "a valid token".to_owned(),
    }
}

impl App {
    /// The facts of a target; `Missing` when it does not exist (told as a hidden one).
    async fn resolve(
        &self,
        cred: Option<&Credential>,
        target: Target<'_>,
    ) -> Result<Resolved, AppError> {
        Ok(match target {
            Target::Repository { owner, name } => match self.repo_facts(owner, name).await? {
                Some(facts) => Resolved::Repository(facts),
                None => Resolved::Missing(format!("{owner}/{name}")),
            },
            Target::RepositoryId(id) => {
                match self
                    .store()
                    .repo_by_id(patgate_domain::model::RepoId(id))
                    .await?
                {
                    Some(repo) => Resolved::Repository(Arc::new(self.facts_of(repo).await?)),
                    None => Resolved::Missing(format!("repository {id}")),
                }
            }
            Target::Organization(login) => match self.store().org_by_login(login).await? {
                Some(org) => Resolved::Organization {
                    id: org.id,
                    policy: self.effective_policy(org.id).await?,
                    login: org.login,
                },
                None => Resolved::Missing(format!("the organization {login}")),
            },
            Target::Account => match cred {
                Some(c) => {
                    let login = self
                        .store()
                        .accounts_by_ids(&[c.user])
                        .await?
                        .first()
                        .map_or_else(|| c.user.to_string(), |a| a.login().to_owned());
                    Resolved::Account {
                        id: c.user,
                        kind: AccountKind::User,
                        login,
                    }
                }
                None => Resolved::Missing("the authenticated user".to_owned()),
            },
            Target::User(login) => match self.store().account_by_login(login).await? {
                Some(a) => Resolved::Account {
                    id: a.id(),
                    kind: a.kind(),
                    login: a.login().to_owned(),
                },
                None => Resolved::Missing(format!("{login}'s account")),
            },
        })
    }

    /// The user's own rights on a resolved target (rule 15), as `authorize_repo` and
    /// `authorize_org` take them: an app installation administers its own organization.
    async fn rights_on(
        &self,
        cred: &Credential,
        resolved: &Resolved,
    ) -> Result<OwnerRights, AppError> {
        let installation = match &cred.grant {
            TokenGrant::AppInstallation { org, .. } => Some(*org),
            _ => None,
        };
        Ok(match resolved {
            Resolved::Repository(facts) if installation == Some(facts.repo.owner) => OwnerRights {
                repo_role: Some(RepoRole::Admin),
                org_role: Some(OrgRole::Owner),
            },
            Resolved::Repository(facts) => self.repo_rights(cred.user, facts).await?,
            Resolved::Organization { id, .. } if installation == Some(*id) => OwnerRights {
                repo_role: None,
                org_role: Some(OrgRole::Owner),
            },
            Resolved::Organization { id, .. } => self.org_rights(cred.user, *id).await?,
            Resolved::Account { .. } | Resolved::Missing(_) => OwnerRights::default(),
        })
    }

    /// Decides what a request with `cred` (`None`: anonymous) asks of `target`.
    pub async fn decide_for(
        &self,
        cred: Option<&Credential>,
        target: Target<'_>,
        asked: Asked<'_>,
    ) -> Result<Decision, AppError> {
        let resolved = self.resolve(cred, target).await?;
        let Some(cred) = cred else {
            return Ok(anonymous(&resolved, asked));
        };
        let Some(resource) = resolved.resource() else {
            return Ok(Decision::Deny(missing(cred, asked)));
        };
        let rights = self.rights_on(cred, &resolved).await?;
        let now = self.now();
        Ok(match asked {
            Asked::Nothing => authz::decide(cred, &resource, None, rights, now),
            Asked::Need(need) => authz::decide(cred, &resource, Some(need), rights, now),
            Asked::Scope(scope) => {
                authz::decide_ask(cred, &resource, Ask::Scope(scope), rights, now)
            }
            Asked::Route(route) => authz::decide_route(cred, &resource, route, rights, now),
        })
    }

    /// [`App::decide_for`] with the chain of rules that decided, in words, for the token's
    /// owner. A target that does not exist is explained exactly as one its user cannot see.
    pub async fn explain_for(
        &self,
        cred: &Credential,
        target: Target<'_>,
        asked: Asked<'_>,
    ) -> Result<Why, AppError> {
        let resolved = self.resolve(Some(cred), target).await?;
        let label = resolved.label();
        let now = self.now();
        let Some(resource) = resolved.resource() else {
            return Ok(self.missing_why(cred, asked, label, now));
        };
        let rights = self.rights_on(cred, &resolved).await?;
        let (decision, raw): (Decision, Vec<Vec<(String, Explanation)>>) = match asked {
            Asked::Route(route) => {
                let e = authz::explain_route(cred, &resource, route, rights, now);
                let sets = e
                    .sets
                    .into_iter()
                    .map(|set| {
                        set.into_iter()
                            .map(|r| (r.requirement.to_string(), r.explanation))
                            .collect()
                    })
                    .collect();
                (e.decision, sets)
            }
            other => {
                let ask = match other {
                    Asked::Need(n) => Ask::Need(n),
                    Asked::Scope(s) => Ask::Scope(s),
                    _ => Ask::Nothing,
                };
                let e = authz::explain(cred, &resource, ask, rights, now);
                (
                    e.decision.clone(),
                    vec![vec![(requirement_name(other, None), e)]],
                )
            }
        };
        let names = self.names_of(&raw).await?;
        let lookup = |id: AccountId| {
            names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("account {id}"))
        };
        let sets = raw
            .into_iter()
            .map(|set| {
                set.into_iter()
                    .map(|(requirement, e)| WhyRequirement {
                        requirement,
                        allowed: e.decision.is_allowed(),
                        steps: e
                            .steps
                            .iter()
                            .map(|s| WhyStep {
                                rule: s.finding.rule(),
                                passed: s.passed,
                                detail: s.finding.describe(s.passed, &lookup, &label),
                            })
                            .collect(),
                    })
                    .collect()
            })
            .collect();
        Ok(Why {
            decision,
            resource: label,
            sets,
        })
    }

    /// The explanation of a request on something that does not exist: what a hidden one gets
    /// (the token's expiry, then "does not exist, or the user has no access"), set by set.
    fn missing_why(
        &self,
        cred: &Credential,
        asked: Asked<'_>,
        label: String,
        now: time::OffsetDateTime,
    ) -> Why {
        let expired = cred.expires_at.is_some_and(|e| e <= now);
        let requirements: Vec<Vec<String>> = match asked {
            Asked::Route(route) => route
                .any_of()
                .iter()
                .map(|set| set.iter().take(1).map(|r| r.to_string()).collect())
                .collect(),
            other => vec![vec![requirement_name(other, None)]],
        };
        let none = |_: AccountId| String::new();
        let steps = |requirement: String| {
            let mut steps = vec![Step {
                finding: Finding::Expiry {
                    expires_at: cred.expires_at,
                },
                passed: !expired,
            }];
            if !expired {
                steps.push(Step {
                    finding: Finding::NoSuchResource,
                    passed: false,
                });
            }
            WhyRequirement {
                requirement,
                allowed: false,
                steps: steps
                    .iter()
                    .map(|s| WhyStep {
                        rule: s.finding.rule(),
                        passed: s.passed,
                        detail: s.finding.describe(s.passed, &none, &label),
                    })
                    .collect(),
            }
        };
        let decision = if expired {
            Decision::Deny(Denial {
                status: DenyStatus::Unauthorized,
                reason: DenyReason::Expired,
                message: authz::BAD_CREDENTIALS.to_owned(),
                accepted_permissions: None,
                accepted_scopes: None,
            })
        } else {
            Decision::Deny(missing(cred, asked))
        };
        Why {
            decision,
            sets: requirements
                .into_iter()
                .map(|set| set.into_iter().map(steps).collect())
                .collect(),
            resource: label,
        }
    }

    /// The logins of the accounts an explanation names.
    async fn names_of(
        &self,
        raw: &[Vec<(String, Explanation)>],
    ) -> Result<HashMap<AccountId, String>, AppError> {
        let mut ids = Vec::new();
        for (_, e) in raw.iter().flatten() {
            for step in &e.steps {
                match &step.finding {
                    Finding::ResourceOwner {
                        token_owner,
                        resource_owner,
                    } => ids.extend([*token_owner, *resource_owner]),
                    Finding::AppOrganization { org } => ids.push(*org),
                    _ => {}
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self
            .store()
            .accounts_by_ids(&ids)
            .await?
            .into_iter()
            .map(|a: Account| (a.id(), a.login().to_owned()))
            .collect())
    }
}

/// The refusal of a request on something that does not exist: a hidden resource's.
fn missing(cred: &Credential, asked: Asked<'_>) -> Denial {
    match asked {
        Asked::Route(route) => authz::route_not_found_for(cred, route),
        Asked::Need(n) => authz::not_found_for(cred, Ask::Need(n)),
        Asked::Scope(s) => authz::not_found_for(cred, Ask::Scope(s)),
        Asked::Nothing => authz::not_found_for(cred, Ask::Nothing),
    }
}

/// An anonymous request, as `GET /repos/{owner}/{repo}` answers one: public reads of a public
/// repository pass; a private (or missing) repository is not found; anything else needs a
/// token.
fn anonymous(resolved: &Resolved, asked: Asked<'_>) -> Decision {
    let requires = || {
        Decision::Deny(Denial {
            status: DenyStatus::Unauthorized,
            reason: DenyReason::UserCannotSee,
            message: REQUIRES_AUTHENTICATION.to_owned(),
            accepted_permissions: None,
            accepted_scopes: None,
        })
    };
    let facts = match resolved {
        Resolved::Repository(facts) => facts,
        Resolved::Missing(_) if matches!(asked, Asked::Need(_) | Asked::Route(_)) => {
            return Decision::Deny(not_found());
        }
        _ => return requires(),
    };
    if !facts.repo.visibility.is_public() {
        return Decision::Deny(not_found());
    }
    let public_read =
        |need: Need| need.level == Level::Read && authz::publicly_readable(need.permission);
    let allowed = match asked {
        Asked::Need(need) => public_read(need),
        Asked::Route(route) => route
            .any_of()
            .iter()
            .any(|set| set.iter().all(|r| r.need().is_some_and(public_read))),
        Asked::Nothing | Asked::Scope(_) => false,
    };
    if allowed { Decision::Allow } else { requires() }
}
