//! Loading a directory file (TOML; `docs/seed-format.md`) idempotently: loading it twice changes
//! nothing the second time, and the report says so.

use serde::Deserialize;

use patgate_domain::catalog::{OrgRole, RepoRole};
use patgate_domain::model::{TokenGrant, Visibility};
use patgate_domain::policy::{Access, Approval, PolicySettings};
use patgate_domain::validate::{Expiration, RequestedPermission};
use patgate_store::{NewAuditEvent, NewUser, Upserted};

use crate::tokens::{CreateClassic, CreateFineGrained};
use crate::{App, AppError, auth};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub enterprises: Vec<SeedEnterprise>,
    #[serde(default)]
    pub orgs: Vec<SeedOrg>,
    #[serde(default)]
    pub repos: Vec<SeedRepo>,
    #[serde(default)]
    pub tokens: Vec<SeedToken>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub login: String,
    pub email: String,
    #[serde(default = "yes")]
    pub email_verified: bool,
    pub password: Option<String>,
    #[serde(default)]
    pub site_admin: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPolicy {
    pub fine_grained: Option<String>,
    pub classic: Option<String>,
    pub approval: Option<String>,
    pub fine_grained_max_lifetime_days: Option<u16>,
    pub classic_max_lifetime_days: Option<u16>,
    pub exempt_administrators: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedEnterprise {
    pub slug: String,
    pub policy: Option<SeedPolicy>,
    /// Users who own the enterprise (and set its policies).
    #[serde(default)]
    pub owners: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrg {
    pub login: String,
    pub enterprise: Option<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub members: Vec<String>,
    pub base_permission: Option<String>,
    pub policy: Option<SeedPolicy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCollaborator {
    pub login: String,
    pub role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRepo {
    pub owner: String,
    pub name: String,
    pub visibility: String,
    pub description: Option<String>,
    #[serde(default)]
    pub collaborators: Vec<SeedCollaborator>,
}

/// Demo tokens. Created once (matched by user and name); a `secret` makes the demo's token
/// strings known in advance, so the README can use them. Never use `secret` outside a demo.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedToken {
    pub user: String,
    /// `fine_grained` or `classic`.
    pub kind: String,
    pub name: String,
    pub description: Option<String>,
    pub justification: Option<String>,
    pub resource_owner: Option<String>,
    pub repository_selection: Option<String>,
    #[serde(default)]
    pub repositories: Vec<String>,
    #[serde(default)]
    pub permissions: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Days, or `"none"`.
    pub expires_in: Option<toml::Value>,
    pub secret: Option<String>,
}

/// What loading changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Demo tokens created now, with their secrets (shown once).
    pub new_tokens: Vec<(String, String, String)>,
}

impl SeedReport {
    fn count(&mut self, u: Upserted) {
        match u {
            Upserted::Created => self.created += 1,
            Upserted::Updated => self.updated += 1,
            Upserted::Unchanged => self.unchanged += 1,
        }
    }
    pub fn changed(&self) -> bool {
        self.created + self.updated > 0 || !self.new_tokens.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}")]
    Parse(String),
    #[error("{what}: {problem}")]
    Invalid { what: String, problem: String },
    #[error(transparent)]
    App(#[from] AppError),
}

fn invalid(what: impl Into<String>, problem: impl Into<String>) -> SeedError {
    SeedError::Invalid {
        what: what.into(),
        problem: problem.into(),
    }
}

fn policy(what: &str, p: Option<&SeedPolicy>) -> Result<PolicySettings, SeedError> {
    let Some(p) = p else {
        return Ok(PolicySettings::default());
    };
    let access = |key: &str, v: &Option<String>| -> Result<Option<Access>, SeedError> {
        v.as_deref()
            .map(|s| {
                Access::parse(s).ok_or_else(|| {
                    invalid(
                        format!("{what}.policy.{key}"),
                        format!("{s:?} is not \"allow\" or \"restrict\""),
                    )
                })
            })
            .transpose()
    };
    let settings = PolicySettings {
        fine_grained: access("fine_grained", &p.fine_grained)?,
        classic: access("classic", &p.classic)?,
        approval: p
            .approval
            .as_deref()
            .map(|s| {
                Approval::parse(s).ok_or_else(|| {
                    invalid(
                        format!("{what}.policy.approval"),
                        format!("{s:?} is not \"require\" or \"disable\""),
                    )
                })
            })
            .transpose()?,
        fine_grained_max_lifetime_days: p.fine_grained_max_lifetime_days,
        classic_max_lifetime_days: p.classic_max_lifetime_days,
        exempt_administrators: p.exempt_administrators.unwrap_or(false),
    };
    settings
        .validate()
        .map_err(|e| invalid(format!("{what}.policy"), e.to_string()))?;
    Ok(settings)
}

impl SeedFile {
    pub fn parse(text: &str) -> Result<SeedFile, SeedError> {
        toml::from_str(text).map_err(|e| SeedError::Parse(e.to_string()))
    }
}

impl App {
    /// Loads a directory file. Validates references before writing anything it can check up front.
    pub async fn load_seed(&self, seed: &SeedFile) -> Result<SeedReport, SeedError> {
        let mut report = SeedReport::default();
        let store = self.store().clone();
        let now = self.now();
        // Check everything that can be checked before the first write.
        for o in &seed.orgs {
            policy(&format!("orgs[{}]", o.login), o.policy.as_ref())?;
            if let Some(b) = &o.base_permission {
                RepoRole::parse(b).ok_or_else(|| {
                    invalid(
                        format!("orgs[{}].base_permission", o.login),
                        format!("unknown role {b:?}"),
                    )
                })?;
            }
        }
        for e in &seed.enterprises {
            policy(&format!("enterprises[{}]", e.slug), e.policy.as_ref())?;
        }
        for r in &seed.repos {
            Visibility::parse(&r.visibility).ok_or_else(|| {
                invalid(
                    format!("repos[{}/{}].visibility", r.owner, r.name),
                    format!("{:?} is not public, private or internal", r.visibility),
                )
            })?;
            for c in &r.collaborators {
                RepoRole::parse(&c.role).ok_or_else(|| {
                    invalid(
                        format!("repos[{}/{}].collaborators", r.owner, r.name),
                        format!("unknown role {:?}", c.role),
                    )
                })?;
            }
        }

        for u in &seed.users {
            if u.login.trim().is_empty() {
                return Err(invalid("users", "a user has an empty login"));
            }
            let existing = store
                .user_by_login(&u.login)
                .await
                .map_err(AppError::from)?;
            // Only hash a password when the user has none or it differs, so reloading is a no-op.
            let password_hash = match (&u.password, &existing) {
                (Some(pw), Some(user)) => {
                    let stored = store
                        .user_password_hash(user.id)
                        .await
                        .map_err(AppError::from)?;
                    match stored {
                        Some(h) if auth::verify_password(&h, pw) => None,
                        _ => Some(auth::hash_password(&self.config().password_hashing, pw)?),
                    }
                }
                (Some(pw), None) => Some(auth::hash_password(&self.config().password_hashing, pw)?),
                (None, _) => None,
            };
            let (_, up) = store
                .upsert_user(
                    &NewUser {
                        login: u.login.clone(),
                        email: u.email.clone(),
                        email_verified: u.email_verified,
                        site_admin: u.site_admin,
                        password_hash,
                    },
                    now,
                )
                .await
                .map_err(AppError::from)?;
            report.count(up);
        }
        for e in &seed.enterprises {
            let settings = policy(&format!("enterprises[{}]", e.slug), e.policy.as_ref())?;
            let (enterprise, up) = store
                .upsert_enterprise(&e.slug, &settings)
                .await
                .map_err(AppError::from)?;
            report.count(up);
            for login in &e.owners {
                let user = store
                    .user_by_login(login)
                    .await
                    .map_err(AppError::from)?
                    .ok_or_else(|| {
                        invalid(
                            format!("enterprises[{}]", e.slug),
                            format!("no user {login:?}"),
                        )
                    })?;
                let added = store
                    .set_enterprise_owner(enterprise.id, user.id, true)
                    .await
                    .map_err(AppError::from)?;
                report.count(if added {
                    Upserted::Created
                } else {
                    Upserted::Unchanged
                });
            }
        }
        for o in &seed.orgs {
            let enterprise = match &o.enterprise {
                Some(slug) => Some(
                    store
                        .enterprise_by_slug(slug)
                        .await
                        .map_err(AppError::from)?
                        .ok_or_else(|| {
                            invalid(
                                format!("orgs[{}].enterprise", o.login),
                                format!("no enterprise {slug:?}"),
                            )
                        })?
                        .id,
                ),
                None => None,
            };
            if let Some(Some(existing)) = Some(
                store
                    .user_by_login(&o.login)
                    .await
                    .map_err(AppError::from)?,
            ) {
                return Err(invalid(
                    format!("orgs[{}]", o.login),
                    format!("{} is already a user", existing.login),
                ));
            }
            let base = o
                .base_permission
                .as_deref()
                .and_then(RepoRole::parse)
                .unwrap_or(RepoRole::Read);
            let (org, up) = store
                .upsert_org(&o.login, enterprise, base, now)
                .await
                .map_err(AppError::from)?;
            report.count(up);
            let settings = policy(&format!("orgs[{}]", o.login), o.policy.as_ref())?;
            report.count(
                store
                    .upsert_org_policy(org.id, &settings)
                    .await
                    .map_err(AppError::from)?,
            );
            for (logins, role) in [(&o.owners, OrgRole::Owner), (&o.members, OrgRole::Member)] {
                for login in logins {
                    // Listed as both: an owner (otherwise every load would flip the role).
                    if role == OrgRole::Member
                        && o.owners.iter().any(|x| x.eq_ignore_ascii_case(login))
                    {
                        continue;
                    }
                    let user = store
                        .user_by_login(login)
                        .await
                        .map_err(AppError::from)?
                        .ok_or_else(|| {
                            invalid(format!("orgs[{}]", o.login), format!("no user {login:?}"))
                        })?;
                    report.count(
                        store
                            .upsert_membership(org.id, user.id, role)
                            .await
                            .map_err(AppError::from)?,
                    );
                }
            }
        }
        for r in &seed.repos {
            let what = format!("repos[{}/{}]", r.owner, r.name);
            let owner = store
                .account_by_login(&r.owner)
                .await
                .map_err(AppError::from)?
                .ok_or_else(|| invalid(&what, format!("no user or organization {:?}", r.owner)))?;
            let visibility = Visibility::parse(&r.visibility).unwrap_or(Visibility::Private);
            if visibility == Visibility::Internal
                && !matches!(&owner, patgate_store::Account::Organization(o) if o.enterprise.is_some())
            {
                return Err(invalid(
                    &what,
                    "internal repositories belong to an organization of an enterprise",
                ));
            }
            let (repo, up) = store
                .upsert_repo(
                    owner.id(),
                    &r.name,
                    visibility,
                    r.description.as_deref(),
                    now,
                )
                .await
                .map_err(AppError::from)?;
            report.count(up);
            for c in &r.collaborators {
                let user = store
                    .user_by_login(&c.login)
                    .await
                    .map_err(AppError::from)?
                    .ok_or_else(|| invalid(&what, format!("no user {:?}", c.login)))?;
                let role = RepoRole::parse(&c.role).unwrap_or(RepoRole::Read);
                report.count(
                    store
                        .upsert_collaborator(repo.id, user.id, role)
                        .await
                        .map_err(AppError::from)?,
                );
            }
        }
        self.directory_changed();
        for t in &seed.tokens {
            self.seed_token(t, &mut report).await?;
        }
        Ok(report)
    }

    async fn seed_token(&self, t: &SeedToken, report: &mut SeedReport) -> Result<(), SeedError> {
        let what = format!("tokens[{}/{}]", t.user, t.name);
        let user = self
            .store()
            .user_by_login(&t.user)
            .await
            .map_err(AppError::from)?
            .ok_or_else(|| invalid(&what, format!("no user {:?}", t.user)))?;
        let existing = self
            .store()
            .tokens_of_user(user.id)
            .await
            .map_err(AppError::from)?;
        if existing.iter().any(|x| x.name == t.name) {
            report.unchanged += 1;
            return Ok(());
        }
        let expiration = match &t.expires_in {
            None => None,
            Some(toml::Value::Integer(days)) => {
                Some(Expiration::Days(u16::try_from(*days).unwrap_or(0)))
            }
            Some(toml::Value::String(s)) => Some(
                Expiration::parse_expires_in(s)
                    .ok_or_else(|| invalid(&what, format!("expires_in {s:?}")))?,
            ),
            Some(other) => return Err(invalid(&what, format!("expires_in {other}"))),
        };
        let issued = match t.kind.as_str() {
            "fine_grained" => {
                let selection = t
                    .repository_selection
                    .as_deref()
                    .map(|s| {
                        patgate_domain::model::RepositorySelection::parse(s)
                            .ok_or_else(|| invalid(&what, format!("repository_selection {s:?}")))
                    })
                    .transpose()?;
                self.create_fine_grained(
                    &user,
                    CreateFineGrained {
                        name: t.name.clone(),
                        description: t.description.clone(),
                        justification: t.justification.clone(),
                        resource_owner: t.resource_owner.clone(),
                        expiration,
                        repository_selection: selection,
                        repositories: t.repositories.clone(),
                        permissions: t
                            .permissions
                            .iter()
                            .map(|(name, level)| RequestedPermission {
                                group: None,
                                name: name.clone(),
                                level: level.clone(),
                            })
                            .collect(),
                    },
                )
                .await
            }
            "classic" => {
                self.create_classic(
                    &user,
                    CreateClassic {
                        note: t.name.clone(),
                        scopes: t.scopes.clone(),
                        expiration,
                    },
                )
                .await
            }
            other => {
                return Err(invalid(
                    &what,
                    format!("kind {other:?} is not fine_grained or classic"),
                ));
            }
        }
        .map_err(|e| invalid(&what, e.to_string()))?;
        let mut secret = issued.secret.expose().to_owned();
        // A fixed secret that does not fit this deployment's prefixes is ignored: the token keeps
        // its generated secret, which the report shows.
        let fixed = t
            .secret
            .as_deref()
            .filter(|s| self.token_format().parse(s).is_ok());
        if let Some(fixed) = fixed {
            let parsed = self
                .token_format()
                .parse(fixed)
                .map_err(|e| invalid(&what, format!("secret: {e}")))?;
            if parsed.kind != issued.token.kind() {
                return Err(invalid(
                    &what,
                    "secret has the prefix of another kind of token",
                ));
            }
            self.store()
                .regenerate_token(
                    issued.token.id,
                    &parsed.hash(),
                    &parsed.last_eight(),
                    issued.token.issued_at,
                    issued.token.expires_at,
                    &[NewAuditEvent {
                        action: if issued.token.kind() == patgate_domain::token::TokenKind::Classic
                        {
                            "oauth_access.regenerate".into()
                        } else {
                            "personal_access_token.credential_regenerated".into()
                        },
                        actor: Some(user.id),
                        actor_login: Some(user.login.clone()),
                        org: None,
                        token_id: Some(issued.token.id),
                        data: serde_json::json!({"explanation": "demo data with a fixed secret"}),
                        created_at: self.now(),
                    }],
                )
                .await
                .map_err(AppError::from)?;
            secret = fixed.to_owned();
        }
        let state = match &issued.token.grant {
            TokenGrant::FineGrained { state, .. } => state.as_str(),
            _ => "classic",
        };
        report
            .new_tokens
            .push((format!("{}/{}", t.user, t.name), state.to_owned(), secret));
        Ok(())
    }
}
