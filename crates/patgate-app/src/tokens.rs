//! Users create, list, view, edit, regenerate and delete their own tokens.

use serde_json::json;

use patgate_domain::governance::{self, Creation, Edit, Owner, Refusal, Standing};
use std::collections::HashMap;

use patgate_domain::model::{
    AccountId, AccountKind, RepoId, Repository, RepositorySelection, Token, TokenGrant, TokenId,
    User,
};
use patgate_domain::token::{SecretToken, TokenKind};
use patgate_domain::validate::{
    self, ClassicRequest, CreationContext, ErrorCode, Expiration, FieldError, FineGrainedRequest,
    OwnerChoice, RequestedPermission, ValidationErrors,
};
use patgate_store::{Account, NewAuditEvent, NewToken, StoreError, TokenRequest};

use crate::governance::{Page, page_query};

use crate::{App, AppError};

#[derive(Clone, Debug, Default)]
pub struct CreateFineGrained {
    pub name: String,
    pub description: Option<String>,
    pub justification: Option<String>,
    /// A login: the user's own (the default) or an organization's.
    pub resource_owner: Option<String>,
    pub expiration: Option<Expiration>,
    pub repository_selection: Option<RepositorySelection>,
    /// Repository names of the resource owner (`name` or `owner/name`).
    pub repositories: Vec<String>,
    pub permissions: Vec<RequestedPermission>,
}

#[derive(Clone, Debug, Default)]
pub struct CreateClassic {
    pub note: String,
    pub scopes: Vec<String>,
    pub expiration: Option<Expiration>,
}

/// An edit of a fine-grained token; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct EditFineGrained {
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub justification: Option<String>,
    pub repository_selection: Option<RepositorySelection>,
    pub repositories: Option<Vec<String>>,
    pub permissions: Option<Vec<RequestedPermission>>,
}

/// A fine-grained token with what the API shows beside it.
#[derive(Clone, Debug)]
pub struct FineGrainedView {
    pub token: Token,
    pub owner: Account,
    /// The repositories its requested and granted access name, by id.
    pub repositories: Vec<Repository>,
    /// The latest request to its organization, with the reviewer's reason.
    pub latest_request: Option<TokenRequest>,
}

/// A token just created or regenerated: the only time its secret exists outside the client.
#[derive(Debug)]
pub struct Issued {
    pub token: Token,
    pub secret: SecretToken,
}

/// Whether an organization-owned token has access waiting for an owner's review.
pub fn has_pending_request(token: &Token) -> bool {
    governance::has_pending_request(&token.grant)
}

fn audit(
    app: &App,
    action: &str,
    actor: &User,
    org: Option<patgate_domain::model::AccountId>,
    token_id: Option<TokenId>,
    data: serde_json::Value,
) -> NewAuditEvent {
    NewAuditEvent {
        action: action.to_owned(),
        actor: Some(actor.id),
        actor_login: Some(actor.login.clone()),
        org,
        token_id,
        data,
        created_at: app.now(),
    }
}

fn owner_org(token: &Token) -> Option<patgate_domain::model::AccountId> {
    match &token.grant {
        TokenGrant::FineGrained {
            resource_owner,
            resource_owner_kind: AccountKind::Organization,
            ..
        } => Some(*resource_owner),
        _ => None,
    }
}

/// A transition that does not apply to the token: as if the token were not there, or, for a
/// request, a conflict the caller can name.
pub(crate) fn refusal(r: Refusal) -> AppError {
    match r {
        Refusal::NotFineGrained(_) | Refusal::NotOrganizationOwned(_) => AppError::NotFound,
        other => AppError::Conflict(other.to_string()),
    }
}

fn selection_of(token: &Token) -> &'static str {
    match &token.grant {
        TokenGrant::FineGrained { requested, .. } => requested.selection.as_str(),
        _ => "all",
    }
}

fn not_found_owner(login: &str) -> AppError {
    AppError::Validation(ValidationErrors::one(FieldError::new(
        "FineGrainedPersonalAccessToken",
        "resource_owner",
        ErrorCode::Invalid,
        format!("Cannot find the specified resource owner: {login}"),
    )))
}

struct ResolvedOwner {
    id: patgate_domain::model::AccountId,
    kind: AccountKind,
    login: String,
    member: bool,
    owner: bool,
    policy: Option<std::sync::Arc<patgate_domain::policy::EffectivePolicy>>,
}

impl ResolvedOwner {
    fn choice(&self) -> OwnerChoice<'_> {
        match &self.policy {
            Some(policy) => OwnerChoice::Organization {
                member: self.member,
                owner: self.owner,
                policy,
            },
            None => OwnerChoice::Myself,
        }
    }
}

impl App {
    async fn resolve_owner(
        &self,
        user: &User,
        login: Option<&str>,
    ) -> Result<ResolvedOwner, AppError> {
        let login = login.map(str::trim).filter(|l| !l.is_empty());
        let Some(login) = login.filter(|l| !l.eq_ignore_ascii_case(&user.login)) else {
            return Ok(ResolvedOwner {
                id: user.id,
                kind: AccountKind::User,
                login: user.login.clone(),
                member: true,
                owner: true,
                policy: None,
            });
        };
        match self.store().account_by_login(login).await? {
            Some(Account::Organization(org)) => {
                let role = self.store().membership(org.id, user.id).await?;
                Ok(ResolvedOwner {
                    id: org.id,
                    kind: AccountKind::Organization,
                    login: org.login.clone(),
                    member: role.is_some(),
                    owner: role == Some(patgate_domain::catalog::OrgRole::Owner),
                    policy: Some(self.effective_policy(org.id).await?),
                })
            }
            // Another user, or nobody: a fine-grained token only targets owners the user belongs to.
            _ => Err(not_found_owner(login)),
        }
    }

    /// Resolves repository names to ids of the owner's repositories; names that are not the
    /// owner's come back separately so that validation can name them.
    async fn resolve_repositories(
        &self,
        owner: &ResolvedOwner,
        names: &[String],
    ) -> Result<(Vec<RepoId>, Vec<String>), AppError> {
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for raw in names {
            let (owner_login, name) = match raw.split_once('/') {
                Some((o, n)) => (o, n),
                None => (owner.login.as_str(), raw.as_str()),
            };
            match self.store().repo_by_name(owner_login, name).await? {
                Some(repo) if repo.owner == owner.id => found.push(repo.id),
                _ => unknown.push(raw.clone()),
            }
        }
        Ok((found, unknown))
    }

    pub async fn create_fine_grained(
        &self,
        user: &User,
        req: CreateFineGrained,
    ) -> Result<Issued, AppError> {
        if !user.email_verified {
            // Checked first: nothing else about the request matters (seed 004).
            return Err(validate::validate_fine_grained(
                &FineGrainedRequest {
                    name: &req.name,
                    description: None,
                    justification: None,
                    expiration: Expiration::Default,
                    selection: RepositorySelection::None,
                    repositories: &[],
                    unknown_repositories: &[],
                    permissions: &[],
                },
                &CreationContext {
                    now: self.now(),
                    email_verified: false,
                    fine_grained_count: 0,
                    name_taken: false,
                    owner: OwnerChoice::Myself,
                },
            )
            .err()
            .map_or(
                AppError::Forbidden("email not verified".into()),
                AppError::Validation,
            ));
        }
        let owner = self
            .resolve_owner(user, req.resource_owner.as_deref())
            .await?;
        let selection = req
            .repository_selection
            .unwrap_or(if req.repositories.is_empty() {
                RepositorySelection::None
            } else {
                RepositorySelection::Subset
            });
        let (repos, unknown) = self.resolve_repositories(&owner, &req.repositories).await?;
        let existing = self.store().tokens_of_user(user.id).await?;
        let fine_grained: Vec<&Token> = existing
            .iter()
            .filter(|t| t.kind() == TokenKind::FineGrained)
            .collect();
        let folded = patgate_store::codec::fold(req.name.trim());
        let name_taken = fine_grained
            .iter()
            .any(|t| patgate_store::codec::fold(&t.name) == folded);
        let validate = |fine_grained_count: usize, name_taken: bool| {
            validate::validate_fine_grained(
                &FineGrainedRequest {
                    name: &req.name,
                    description: req.description.as_deref(),
                    justification: req.justification.as_deref(),
                    expiration: req.expiration.unwrap_or(Expiration::Default),
                    selection,
                    repositories: &repos,
                    unknown_repositories: &unknown,
                    permissions: &req.permissions,
                },
                &CreationContext {
                    now: self.now(),
                    email_verified: user.email_verified,
                    fine_grained_count,
                    name_taken,
                    owner: owner.choice(),
                },
            )
        };
        let valid = validate(fine_grained.len(), name_taken)?;
        let secret = self.token_format().generate(TokenKind::FineGrained);
        let changes = governance::create_fine_grained(Creation {
            user: user.id,
            user_login: user.login.clone(),
            owner: match owner.kind {
                AccountKind::User => Owner::Myself,
                AccountKind::Organization => Owner::Organization {
                    id: owner.id,
                    needs_approval: valid.needs_approval,
                },
            },
            name: valid.name,
            description: valid.description,
            justification: valid.justification,
            access: valid.access,
            hash: secret.hash(),
            last_eight: secret.last_eight(),
            expires_at: valid.expires_at,
            max_fine_grained: validate::MAX_FINE_GRAINED_PER_USER,
            now: self.now(),
        });
        // The cap and the name are checked again inside the inserting transaction: a creation
        // that raced another one is refused as the validation would have refused it.
        let refused = |count, taken| match validate(count, taken) {
            Err(e) => AppError::Validation(e),
            Ok(_) => AppError::Conflict("the token could not be created; try again".into()),
        };
        let token = match self.apply_notifying(&changes, &HashMap::new()).await {
            Ok(applied) => applied
                .tokens
                .into_iter()
                .next()
                .ok_or(AppError::NotFound)?,
            Err(StoreError::LimitReached { .. }) => {
                return Err(refused(validate::MAX_FINE_GRAINED_PER_USER, name_taken));
            }
            Err(StoreError::NameTaken(_)) => return Err(refused(fine_grained.len(), true)),
            Err(e) => return Err(e.into()),
        };
        Ok(Issued { token, secret })
    }

    pub async fn create_classic(
        &self,
        user: &User,
        req: CreateClassic,
    ) -> Result<Issued, AppError> {
        let valid = validate::validate_classic(
            &ClassicRequest {
                note: &req.note,
                scopes: &req.scopes,
                expiration: req.expiration.unwrap_or(Expiration::Default),
            },
            user.email_verified,
            self.now(),
        )?;
        let secret = self.token_format().generate(TokenKind::Classic);
        let data = json!({
            "oauth_application_name": valid.note,
            "token_scopes": patgate_store::codec::encode_scopes(&valid.scopes),
            "user": user.login,
            "hashed_token": secret.hash().to_base64(),
        });
        let new = NewToken {
            user: user.id,
            name: valid.note,
            description: None,
            justification: None,
            hash: secret.hash(),
            last_eight: secret.last_eight(),
            created_at: self.now(),
            expires_at: valid.expires_at,
            grant: TokenGrant::Classic {
                scopes: valid.scopes,
            },
        };
        let notice = crate::notify::token_created(user, &new, None, self.now());
        let token = self
            .store()
            .insert_token_with_outbox(
                &new,
                &[audit(self, "oauth_access.create", user, None, None, data)],
                notice.as_slice(),
            )
            .await?;
        if notice.is_some() {
            self.outbox_written();
        }
        Ok(Issued { token, secret })
    }

    /// The user's tokens, newest first.
    pub async fn list_tokens(
        &self,
        user: &User,
        kind: Option<TokenKind>,
    ) -> Result<Vec<Token>, AppError> {
        let mut tokens = self.store().tokens_of_user(user.id).await?;
        if let Some(kind) = kind {
            tokens.retain(|t| t.kind() == kind);
        }
        Ok(tokens)
    }

    /// One page of the user's tokens of `kind`, newest first, paged in the database.
    pub async fn tokens_page(
        &self,
        user: &User,
        kind: TokenKind,
        page: u32,
        per_page: u32,
    ) -> Result<Page<Token>, AppError> {
        let q = page_query(page, per_page, false);
        let listing = self.store().tokens_page(user.id, kind, q).await?;
        Ok(Page::listed(listing, q, |t| t))
    }

    /// What the API shows of fine-grained tokens beyond the token: the resource owner, the
    /// repositories the access names, and the latest request to the organization. Three
    /// queries for any number of tokens, in the order given.
    pub async fn fine_grained_views(
        &self,
        tokens: Vec<Token>,
    ) -> Result<Vec<FineGrainedView>, AppError> {
        let mut owners = Vec::new();
        let mut repos = Vec::new();
        for t in &tokens {
            if let TokenGrant::FineGrained {
                resource_owner,
                requested,
                granted,
                ..
            } = &t.grant
            {
                owners.push(*resource_owner);
                repos.extend(requested.repositories.iter().copied());
                if let Some(g) = granted {
                    repos.extend(g.repositories.iter().copied());
                }
            }
        }
        let store = self.store();
        let accounts: HashMap<AccountId, Account> = store
            .accounts_by_ids(&owners)
            .await?
            .into_iter()
            .map(|a| (a.id(), a))
            .collect();
        let repositories: HashMap<RepoId, Repository> = store
            .repos_by_ids(&repos)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let ids: Vec<TokenId> = tokens.iter().map(|t| t.id).collect();
        let mut latest: HashMap<TokenId, TokenRequest> = store
            .latest_requests(&ids)
            .await?
            .into_iter()
            .map(|r| (r.token_id, r))
            .collect();
        tokens
            .into_iter()
            .map(|token| {
                let TokenGrant::FineGrained {
                    resource_owner,
                    requested,
                    granted,
                    ..
                } = &token.grant
                else {
                    return Err(AppError::NotFound);
                };
                let owner = accounts
                    .get(resource_owner)
                    .cloned()
                    .ok_or(AppError::NotFound)?;
                let mut names: Vec<RepoId> = requested.repositories.clone();
                if let Some(g) = granted {
                    names.extend(g.repositories.iter().copied());
                }
                names.sort_unstable();
                names.dedup();
                let repositories = names
                    .iter()
                    .filter_map(|id| repositories.get(id).cloned())
                    .collect();
                // What the requester is told: the latest request to the organization that owns
                // the token now.
                let latest_request = latest
                    .remove(&token.id)
                    .filter(|r| matches!(owner, Account::Organization(_)) && r.org == owner.id());
                Ok(FineGrainedView {
                    token,
                    owner,
                    repositories,
                    latest_request,
                })
            })
            .collect()
    }

    /// One of the user's own tokens; another user's token is indistinguishable from a missing one.
    pub async fn own_token(&self, user: &User, id: TokenId) -> Result<Token, AppError> {
        match self.store().token_by_id(id).await? {
            Some(t) if t.user == user.id && t.kind() != TokenKind::AppInstallation => Ok(t),
            _ => Err(AppError::NotFound),
        }
    }

    /// One of the user's own tokens with its pending request and grant row (see `own_token`).
    pub(crate) async fn own_standing(
        &self,
        user: &User,
        id: TokenId,
    ) -> Result<Standing, AppError> {
        match self.store().standing(id).await? {
            Some(st)
                if st.token.user == user.id && st.token.kind() != TokenKind::AppInstallation =>
            {
                Ok(st)
            }
            _ => Err(AppError::NotFound),
        }
    }

    pub async fn edit_fine_grained(
        &self,
        user: &User,
        id: TokenId,
        edit: EditFineGrained,
    ) -> Result<Token, AppError> {
        let standing = self.own_standing(user, id).await?;
        let token = &standing.token;
        let TokenGrant::FineGrained {
            resource_owner,
            resource_owner_kind,
            requested,
            ..
        } = &token.grant
        else {
            return Err(AppError::NotFound);
        };
        let owner_login = match resource_owner_kind {
            AccountKind::User => None,
            AccountKind::Organization => Some(
                self.store()
                    .org_by_id(*resource_owner)
                    .await?
                    .ok_or(AppError::NotFound)?
                    .login,
            ),
        };
        let owner = self.resolve_owner(user, owner_login.as_deref()).await?;
        let selection = edit.repository_selection.unwrap_or(requested.selection);
        let (repos, unknown) = match &edit.repositories {
            Some(names) => self.resolve_repositories(&owner, names).await?,
            None if selection == RepositorySelection::Subset => {
                (requested.repositories.clone(), Vec::new())
            }
            None => (Vec::new(), Vec::new()),
        };
        let permissions = match edit.permissions {
            Some(p) => p,
            None => requested
                .permissions
                .iter()
                .filter(|(p, _)| {
                    selection != RepositorySelection::None
                        || p.group() != patgate_domain::catalog::PermissionGroup::Repository
                })
                .map(|(p, l)| RequestedPermission {
                    group: None,
                    name: p.name().to_owned(),
                    level: l.as_str().to_owned(),
                })
                .collect(),
        };
        let description = match &edit.description {
            Some(d) => d.clone(),
            None => token.description.clone(),
        };
        let valid = validate::validate_fine_grained(
            &FineGrainedRequest {
                name: &token.name,
                description: description.as_deref(),
                justification: edit.justification.as_deref(),
                expiration: Expiration::Default,
                selection,
                repositories: &repos,
                unknown_repositories: &unknown,
                permissions: &permissions,
            },
            &CreationContext {
                now: self.now(),
                email_verified: true,
                fine_grained_count: 0,
                name_taken: false,
                owner: owner.choice(),
            },
        )?;
        let changes = governance::edit_fine_grained(
            &standing,
            Edit {
                access: valid.access,
                description: Some(description),
                justification: edit.justification,
                needs_approval: valid.needs_approval,
                user_login: user.login.clone(),
                now: self.now(),
            },
        )
        .map_err(refusal)?;
        let standings = HashMap::from([(id, standing.clone())]);
        let updated = self
            .apply_notifying(&changes, &standings)
            .await?
            .tokens
            .into_iter()
            .next()
            .ok_or(AppError::NotFound)?;
        self.forget_token(id);
        Ok(updated)
    }

    /// Issues a new secret for the same token with a newly chosen expiry; the old secret stops
    /// working at once.
    pub async fn regenerate(
        &self,
        user: &User,
        id: TokenId,
        expiration: Option<Expiration>,
    ) -> Result<Issued, AppError> {
        let token = self.own_token(user, id).await?;
        let kind = token.kind();
        let max_days = match owner_org(&token) {
            Some(org) => self
                .effective_policy(org)
                .await?
                .max_lifetime_days(kind)
                .map(|(d, _)| d),
            None => None,
        };
        let now = self.now();
        let expires_at = validate::validate_regeneration(
            kind,
            expiration.unwrap_or(Expiration::Default),
            max_days,
            now,
        )?;
        let secret = self.token_format().generate(kind);
        let action = match kind {
            TokenKind::Classic => "oauth_access.regenerate",
            _ => "personal_access_token.credential_regenerated",
        };
        let data = json!({
            "user_programmatic_access_name": token.name,
            "hashed_token": secret.hash().to_base64(),
        });
        let token = self
            .store()
            .regenerate_token(
                id,
                &secret.hash(),
                &secret.last_eight(),
                now,
                expires_at,
                &[audit(self, action, user, owner_org(&token), Some(id), data)],
            )
            .await?;
        self.forget_token(id);
        Ok(Issued { token, secret })
    }

    /// Deletes a token and the deploy keys it created.
    pub async fn delete_token(&self, user: &User, id: TokenId) -> Result<(Token, usize), AppError> {
        let token = self.own_token(user, id).await?;
        let action = match token.kind() {
            TokenKind::Classic => "oauth_access.destroy",
            _ => "personal_access_token.destroy",
        };
        let data = json!({
            "user_programmatic_access_name": token.name,
            "repository_selection": selection_of(&token),
            "explanation": "deleted by its owner",
        });
        let (deleted, keys) = self
            .store()
            .delete_token(
                id,
                &[audit(self, action, user, owner_org(&token), Some(id), data)],
            )
            .await?;
        self.forget_token(id);
        Ok((deleted, keys.len()))
    }
}

impl App {
    /// Replaces a classic token's scopes (GitHub's Authorizations API allowed the same).
    pub async fn edit_classic_scopes(
        &self,
        user: &User,
        id: TokenId,
        scopes: &[String],
    ) -> Result<Token, AppError> {
        let token = self.own_token(user, id).await?;
        if token.kind() != TokenKind::Classic {
            return Err(AppError::NotFound);
        }
        let scopes = patgate_domain::scopes::Scopes::from_names(scopes.iter().map(String::as_str))
            .map_err(|e| {
                AppError::Validation(ValidationErrors::one(FieldError::new(
                    "PersonalAccessToken",
                    "scopes",
                    ErrorCode::Invalid,
                    e.to_string(),
                )))
            })?;
        let data = json!({
            "oauth_application_name": token.name,
            "token_scopes": patgate_store::codec::encode_scopes(&scopes),
        });
        let updated = self
            .store()
            .update_token(
                id,
                None,
                &TokenGrant::Classic { scopes },
                &[audit(
                    self,
                    "oauth_access.update",
                    user,
                    None,
                    Some(id),
                    data,
                )],
            )
            .await?;
        self.forget_token(id);
        Ok(updated)
    }
}
