//! Organization governance (seeds 000-003): owners (through an app installation) list and
//! review fine-grained token requests, list and revoke grants; requesters cancel their requests.

use std::collections::HashMap;

use serde_json::json;
use time::OffsetDateTime;

use patgate_domain::catalog::{Level, Permission};
use patgate_domain::governance::{self, Changes, Refusal, Review, Standing};
use patgate_domain::model::{
    AccountId, AccountKind, GrantId, Organization, RepoId, Repository, RequestId, Token,
    TokenAccess, TokenGrant, TokenId, User,
};
use patgate_domain::validate::{ErrorCode, FieldError, ValidationErrors};
use patgate_store::{
    Grant, Listing, NewAuditEvent, OrgTokenFilter, PageQuery, RequestStatus, StoreError,
    TokenRequest,
};

use crate::notify::RemovalNotice;
use crate::tokens::refusal;
use crate::{App, AppError};

pub const MAX_REVIEW_IDS: usize = 100;
pub const MAX_REASON_CHARS: usize = 1024;
pub const MAX_OWNER_FILTERS: usize = 10;
pub const MAX_TOKEN_ID_FILTERS: usize = 50;
pub const MAX_PER_PAGE: u32 = 100;

/// Who acts on the organization's behalf, for the audit log and the request's reviewer.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: Option<AccountId>,
    pub login: String,
}

impl Actor {
    fn domain(&self) -> governance::Actor {
        governance::Actor {
            id: self.id,
            login: Some(self.login.clone()),
        }
    }
}

/// The filters of GitHub's `GET /orgs/{org}/personal-access-token(-request)s`.
#[derive(Clone, Debug, Default)]
pub struct OrgTokenQuery {
    pub owners: Vec<String>,
    pub repository: Option<String>,
    pub permission: Option<(Permission, Level)>,
    pub last_used_before: Option<OffsetDateTime>,
    pub last_used_after: Option<OffsetDateTime>,
    pub token_ids: Vec<TokenId>,
    /// `direction=asc`; GitHub's default is `desc`.
    pub ascending: bool,
    pub page: u32,
    pub per_page: u32,
}

/// One page of a listing and the total, for `Link` headers.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: usize,
    pub page: u32,
    pub per_page: u32,
}

impl<T> Page<T> {
    fn of(mut all: Vec<T>, page: u32, per_page: u32) -> Page<T> {
        let total = all.len();
        let per = per_page.clamp(1, MAX_PER_PAGE) as usize;
        let start = (page.max(1) as usize - 1).saturating_mul(per);
        let items = if start >= total {
            Vec::new()
        } else {
            let end = (start + per).min(total);
            all.drain(start..end).collect()
        };
        Page {
            items,
            total,
            page: page.max(1),
            per_page: per as u32,
        }
    }

    pub fn last_page(&self) -> u32 {
        let per = self.per_page.max(1) as usize;
        u32::try_from(self.total.div_ceil(per).max(1)).unwrap_or(u32::MAX)
    }
}

/// A request with what the API shows of it.
#[derive(Clone, Debug)]
pub struct RequestView {
    pub request: TokenRequest,
    pub token: Token,
    pub owner: User,
}

/// A grant with what the API shows of it.
#[derive(Clone, Debug)]
pub struct GrantView {
    pub grant: Grant,
    pub token: Token,
    pub owner: User,
    /// The access in force.
    pub access: TokenAccess,
}

fn invalid(resource: &'static str, field: &'static str, message: String) -> AppError {
    AppError::Validation(ValidationErrors::one(FieldError::new(
        resource,
        field,
        ErrorCode::Invalid,
        message,
    )))
}

/// A reviewer's reason: at most 1024 characters, no control or bidirectional override
/// characters (it is shown to the requester and in the audit log).
fn check_reason(reason: Option<&str>) -> Result<(), AppError> {
    match reason {
        Some(r) => patgate_domain::validate::check_free_text(
            "PersonalAccessTokenRequest",
            "reason",
            r,
            MAX_REASON_CHARS,
        )
        .map_err(AppError::Validation),
        None => Ok(()),
    }
}

fn check_ids(resource: &'static str, field: &'static str, n: usize) -> Result<(), AppError> {
    if n == 0 || n > MAX_REVIEW_IDS {
        return Err(invalid(
            resource,
            field,
            format!("{field} must list between 1 and {MAX_REVIEW_IDS} ids"),
        ));
    }
    Ok(())
}

impl OrgTokenQuery {
    pub fn validate(&self) -> Result<(), AppError> {
        if self.owners.len() > MAX_OWNER_FILTERS {
            return Err(invalid(
                "PersonalAccessToken",
                "owner",
                format!("owner may list at most {MAX_OWNER_FILTERS} logins"),
            ));
        }
        if self.token_ids.len() > MAX_TOKEN_ID_FILTERS {
            return Err(invalid(
                "PersonalAccessToken",
                "token_id",
                format!("token_id may list at most {MAX_TOKEN_ID_FILTERS} ids"),
            ));
        }
        if self.per_page > MAX_PER_PAGE {
            return Err(invalid(
                "PersonalAccessToken",
                "per_page",
                format!("per_page must be at most {MAX_PER_PAGE}"),
            ));
        }
        Ok(())
    }

    /// The filters as the store applies them.
    pub fn filter(&self) -> OrgTokenFilter {
        OrgTokenFilter {
            owners: self.owners.clone(),
            repository: self.repository.clone(),
            permission: self.permission,
            last_used_before: self.last_used_before,
            last_used_after: self.last_used_after,
            token_ids: self.token_ids.clone(),
        }
    }

    /// The page asked for, `per_page` bounded.
    pub fn page_query(&self) -> PageQuery {
        page_query(self.page, self.per_page, self.ascending)
    }
}

/// Page `page` (from 1) of `per_page` (1 to 100) items.
pub fn page_query(page: u32, per_page: u32, ascending: bool) -> PageQuery {
    PageQuery {
        page: page.max(1),
        per_page: per_page.clamp(1, MAX_PER_PAGE),
        ascending,
    }
}

impl<T> Page<T> {
    /// A page the store listed.
    pub fn listed<S>(listing: Listing<S>, q: PageQuery, item: impl FnMut(S) -> T) -> Page<T> {
        Page {
            items: listing.items.into_iter().map(item).collect(),
            total: usize::try_from(listing.total).unwrap_or(usize::MAX),
            page: q.page,
            per_page: q.per_page,
        }
    }
}

impl App {
    /// An organization by login (case-insensitively), or `NotFound`.
    pub async fn org_named(&self, login: &str) -> Result<Organization, AppError> {
        self.store()
            .org_by_login(login)
            .await?
            .ok_or(AppError::NotFound)
    }

    fn audit_event(
        &self,
        action: &str,
        actor: &Actor,
        org: AccountId,
        token: Option<TokenId>,
        data: serde_json::Value,
    ) -> NewAuditEvent {
        NewAuditEvent {
            action: action.to_owned(),
            actor: actor.id,
            actor_login: Some(actor.login.clone()),
            org: Some(org),
            token_id: token,
            data,
            created_at: self.now(),
        }
    }

    /// `GET /orgs/{org}/personal-access-token-requests`: pending requests, filtered and paged
    /// in the database.
    pub async fn list_org_requests(
        &self,
        org: &Organization,
        q: &OrgTokenQuery,
    ) -> Result<Page<RequestView>, AppError> {
        q.validate()?;
        let page = q.page_query();
        let listing = self
            .store()
            .list_requests(org.id, &q.filter(), page)
            .await?;
        Ok(Page::listed(listing, page, |l| RequestView {
            request: l.request,
            token: l.token,
            owner: l.owner,
        }))
    }

    /// The repositories a request asks for (`subset` only; otherwise none).
    pub async fn request_repositories(
        &self,
        org: &Organization,
        id: RequestId,
        page: u32,
        per_page: u32,
    ) -> Result<Page<Repository>, AppError> {
        let request = match self.store().request_by_id(id).await? {
            Some(r) if r.org == org.id && r.status == RequestStatus::Pending => r,
            _ => return Err(AppError::NotFound),
        };
        let repos = self
            .store()
            .repos_by_ids(&request.access.repositories)
            .await?;
        Ok(Page::of(repos, page, per_page))
    }

    /// Approves or denies requests, all or none (one bad id changes nothing and is named).
    pub async fn review_requests(
        &self,
        org: &Organization,
        actor: &Actor,
        ids: &[RequestId],
        approve: bool,
        reason: Option<&str>,
    ) -> Result<(), AppError> {
        check_ids("PersonalAccessTokenRequest", "pat_request_ids", ids.len())?;
        check_reason(reason)?;
        let ids = distinct(ids);
        let not_pending = |id: RequestId| {
            invalid(
                "PersonalAccessTokenRequest",
                "pat_request_ids",
                format!("{id} is not a pending request of {}", org.login),
            )
        };
        let requests: HashMap<RequestId, TokenRequest> = self
            .store()
            .requests_by_ids(&ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let mut tokens = Vec::with_capacity(ids.len());
        for id in &ids {
            match requests.get(id) {
                Some(r) if r.org == org.id && r.status == RequestStatus::Pending => {
                    tokens.push(r.token_id)
                }
                _ => return Err(not_pending(*id)),
            }
        }
        let standings = self.standings_of(&tokens).await?;
        let now = self.now();
        let mut changes = Changes::default();
        for (id, token) in ids.iter().zip(&tokens) {
            let standing = standings.get(token).ok_or(AppError::NotFound)?;
            let review = Review {
                org: org.id,
                request: *id,
                approve,
                reviewer: actor.domain(),
                reason: reason.map(str::to_owned),
                now,
            };
            changes = changes.merge(governance::review(standing, review).map_err(|r| match r {
                Refusal::NotPending(id) => not_pending(id),
                other => refusal(other),
            })?);
        }
        match self.apply_notifying(&changes, &standings).await {
            Ok(_) => {}
            Err(StoreError::Conflict(msg)) => {
                return Err(invalid(
                    "PersonalAccessTokenRequest",
                    "pat_request_ids",
                    msg,
                ));
            }
            Err(e) => return Err(e.into()),
        }
        for token in &tokens {
            self.forget_token(*token);
        }
        Ok(())
    }

    /// The standings of `tokens`, by token.
    async fn standings_of(
        &self,
        tokens: &[TokenId],
    ) -> Result<HashMap<TokenId, Standing>, AppError> {
        Ok(self
            .store()
            .standings(tokens)
            .await?
            .into_iter()
            .map(|st| (st.token.id, st))
            .collect())
    }

    /// `GET /orgs/{org}/personal-access-tokens`: grants, filtered and paged in the database.
    pub async fn list_org_grants(
        &self,
        org: &Organization,
        q: &OrgTokenQuery,
    ) -> Result<Page<GrantView>, AppError> {
        q.validate()?;
        let page = q.page_query();
        let listing = self.store().list_grants(org.id, &q.filter(), page).await?;
        Ok(Page::listed(listing, page, |l| {
            let access = match &l.token.grant {
                TokenGrant::FineGrained {
                    granted: Some(access),
                    ..
                } => access.clone(),
                _ => TokenAccess::none(),
            };
            GrantView {
                grant: l.grant,
                token: l.token,
                owner: l.owner,
                access,
            }
        }))
    }

    pub async fn grant_repositories(
        &self,
        org: &Organization,
        id: GrantId,
        page: u32,
        per_page: u32,
    ) -> Result<Page<Repository>, AppError> {
        let grant = match self.store().grant_by_id(id).await? {
            Some(g) if g.org == org.id => g,
            _ => return Err(AppError::NotFound),
        };
        let token = self
            .store()
            .token_by_id(grant.token_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let ids: Vec<RepoId> = match &token.grant {
            TokenGrant::FineGrained {
                granted: Some(a), ..
            } => a.repositories.clone(),
            _ => Vec::new(),
        };
        Ok(Page::of(
            self.store().repos_by_ids(&ids).await?,
            page,
            per_page,
        ))
    }

    /// Revokes grants, all or none. A revoked token is not deleted: its resource owner returns
    /// to its user, it keeps reading public resources, and keys it created keep working.
    pub async fn revoke_org_grants(
        &self,
        org: &Organization,
        actor: &Actor,
        ids: &[GrantId],
    ) -> Result<(), AppError> {
        check_ids("PersonalAccessToken", "pat_ids", ids.len())?;
        let ids = distinct(ids);
        let not_granted = |id: GrantId| {
            invalid(
                "PersonalAccessToken",
                "pat_ids",
                format!("{id} is not a grant of {}", org.login),
            )
        };
        let grants: HashMap<GrantId, Grant> = self
            .store()
            .grants_by_ids(&ids)
            .await?
            .into_iter()
            .map(|g| (g.id, g))
            .collect();
        let mut tokens = Vec::with_capacity(ids.len());
        for id in &ids {
            match grants.get(id) {
                Some(g) if g.org == org.id => tokens.push(g.token_id),
                _ => return Err(not_granted(*id)),
            }
        }
        let standings = self.standings_of(&tokens).await?;
        let now = self.now();
        let mut changes = Changes::default();
        for (id, token) in ids.iter().zip(&tokens) {
            let standing = standings.get(token).ok_or(AppError::NotFound)?;
            changes = changes.merge(
                governance::revoke(standing, org.id, *id, actor.domain(), now).map_err(
                    |r| match r {
                        Refusal::NotGranted(id) => not_granted(id),
                        other => refusal(other),
                    },
                )?,
            );
        }
        match self.apply_notifying(&changes, &standings).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                return Err(invalid(
                    "PersonalAccessToken",
                    "pat_ids",
                    "a grant was revoked meanwhile".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        for token in &tokens {
            self.forget_token(*token);
        }
        Ok(())
    }

    /// The requester withdraws the pending request of one of their tokens.
    pub async fn cancel_token_request(
        &self,
        user: &User,
        token_id: TokenId,
    ) -> Result<(), AppError> {
        let standing = self.own_standing(user, token_id).await?;
        let changes = governance::cancel(&standing, &user.login, self.now()).map_err(refusal)?;
        let standings = HashMap::from([(token_id, standing)]);
        self.apply_notifying(&changes, &standings).await?;
        self.forget_token(token_id);
        Ok(())
    }

    /// The member leaves the organization (rule 10): the membership goes, and with it the
    /// organization's grants of their tokens and the requests it had still to decide (each
    /// token returns to the user, as a revocation leaves it), in one transaction. `false` when
    /// they were not a member.
    pub async fn remove_org_member(
        &self,
        org: &Organization,
        member: &User,
    ) -> Result<bool, AppError> {
        if self.store().membership(org.id, member.id).await?.is_none() {
            return Ok(false);
        }
        let standings = self.store().standings_in_org(member.id, org.id).await?;
        let changes = governance::lose_access(org.id, member.id, &standings, self.now());
        let standings: HashMap<TokenId, Standing> =
            standings.into_iter().map(|st| (st.token.id, st)).collect();
        self.apply_notifying(&changes, &standings).await?;
        for id in standings.keys() {
            self.forget_token(*id);
        }
        self.directory_changed();
        Ok(true)
    }
}

/// `ids` without repetitions, in their first order.
fn distinct<T: Copy + Eq + std::hash::Hash>(ids: &[T]) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// An app installation token lives one hour, as on GitHub.
pub const APP_TOKEN_LIFETIME_SECS: i64 = 3600;

impl App {
    pub(crate) async fn owned_org(
        &self,
        user: &User,
        org_login: &str,
    ) -> Result<Organization, AppError> {
        let org = self.org_named(org_login).await?;
        match self.store().membership(org.id, user.id).await? {
            Some(patgate_domain::catalog::OrgRole::Owner) => Ok(org),
            // Members see that the organization exists but may not administer it.
            Some(_) => Err(AppError::Forbidden(format!(
                "You must be an owner of {} to do this.",
                org.login
            ))),
            None => Err(AppError::NotFound),
        }
    }

    /// An organization owner registers an app whose installation tokens call the organization
    /// endpoints (with, for example, `organization_personal_access_token_requests: write`).
    pub async fn register_app(
        &self,
        owner: &User,
        org_login: &str,
        name: &str,
        permissions: &[patgate_domain::validate::RequestedPermission],
    ) -> Result<patgate_store::AppRecord, AppError> {
        let org = self.owned_org(owner, org_login).await?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(invalid(
                "App",
                "name",
                "name must be 1 to 64 characters".into(),
            ));
        }
        let mut set = patgate_domain::catalog::PermissionSet::new();
        let mut errors = Vec::new();
        for rp in permissions {
            match (Permission::from_name(&rp.name), Level::parse(&rp.level)) {
                (Some(p), Some(l))
                    if p.allows(l)
                        && p.group() == patgate_domain::catalog::PermissionGroup::Organization =>
                {
                    set.set(p, Some(l));
                }
                _ => errors.push(FieldError::new(
                    "App",
                    "permissions",
                    ErrorCode::Invalid,
                    format!(
                        "{}={} is not an organization permission at an allowed level",
                        rp.name, rp.level
                    ),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(ValidationErrors(errors)));
        }
        let actor = Actor {
            id: Some(owner.id),
            login: owner.login.clone(),
        };
        let event = self.audit_event(
            "integration.create",
            &actor,
            org.id,
            None,
            json!({"name": name}),
        );
        Ok(self
            .store()
            .insert_app(org.id, name, &set, Some(owner.id), self.now(), &[event])
            .await?)
    }

    pub async fn apps_of(
        &self,
        owner: &User,
        org_login: &str,
    ) -> Result<Vec<patgate_store::AppRecord>, AppError> {
        let org = self.owned_org(owner, org_login).await?;
        Ok(self.store().apps_of_org(org.id).await?)
    }

    /// Mints a one-hour installation token of an app.
    pub async fn mint_app_token(
        &self,
        owner: &User,
        org_login: &str,
        app: patgate_domain::model::AppId,
    ) -> Result<(patgate_store::AppRecord, crate::tokens::Issued), AppError> {
        let org = self.owned_org(owner, org_login).await?;
        let record = match self.store().app_by_id(app).await? {
            Some(a) if a.org == org.id => a,
            _ => return Err(AppError::NotFound),
        };
        let secret = self
            .token_format()
            .generate(patgate_domain::token::TokenKind::AppInstallation);
        let now = self.now();
        let actor = Actor {
            id: Some(owner.id),
            login: owner.login.clone(),
        };
        let event = self.audit_event(
            "integration_installation.token_created",
            &actor,
            org.id,
            None,
            json!({"name": record.name, "hashed_token": secret.hash().to_base64()}),
        );
        let token = self
            .store()
            .insert_token(
                &patgate_store::NewToken {
                    user: org.id,
                    name: record.name.clone(),
                    description: None,
                    justification: None,
                    hash: secret.hash(),
                    last_eight: secret.last_eight(),
                    created_at: now,
                    expires_at: Some(now + time::Duration::seconds(APP_TOKEN_LIFETIME_SECS)),
                    grant: TokenGrant::AppInstallation {
                        org: org.id,
                        permissions: record.permissions,
                    },
                },
                &[event],
            )
            .await?;
        Ok((record, crate::tokens::Issued { token, secret }))
    }

    /// `POST /credentials/revoke`: deletes the personal access tokens given (ignoring anything
    /// that is not one), each with an audit row. Never says which existed.
    pub async fn revoke_credentials(&self, credentials: &[String]) -> Result<usize, AppError> {
        let mut revoked = 0;
        for presented in credentials {
            let Ok(parsed) = self.token_format().parse(presented) else {
                continue;
            };
            if parsed.kind == patgate_domain::token::TokenKind::AppInstallation {
                continue;
            }
            let Some(token) = self.store().token_by_hash(&parsed.hash()).await? else {
                continue;
            };
            let action = match token.kind() {
                patgate_domain::token::TokenKind::Classic => "oauth_access.revoke",
                _ => "personal_access_token.credential_revoked",
            };
            let event = NewAuditEvent {
                action: action.to_owned(),
                actor: None,
                actor_login: None,
                org: match &token.grant {
                    TokenGrant::FineGrained {
                        resource_owner,
                        resource_owner_kind: AccountKind::Organization,
                        ..
                    } => Some(*resource_owner),
                    _ => None,
                },
                token_id: Some(token.id),
                data: json!({
                    "user_programmatic_access_name": token.name,
                    "explanation": "revoked through the credential revocation API",
                }),
                created_at: self.now(),
            };
            let notice = self
                .removal_notice(&token, RemovalNotice::CredentialRevoked)
                .await?;
            match self
                .store()
                .delete_token_with_outbox(token.id, &[event], notice.as_slice())
                .await
            {
                Ok(_) => {
                    revoked += 1;
                    if notice.is_some() {
                        self.outbox_written();
                    }
                }
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            self.forget_token(token.id);
        }
        Ok(revoked)
    }

    /// An owner changes the organization's policy; each change is audited.
    pub async fn set_org_policy(
        &self,
        owner: &User,
        org_login: &str,
        settings: &patgate_domain::policy::PolicySettings,
    ) -> Result<patgate_domain::policy::EffectivePolicy, AppError> {
        let org = self.owned_org(owner, org_login).await?;
        settings
            .validate()
            .map_err(|e| invalid("PersonalAccessTokenPolicy", e.field, e.to_string()))?;
        let before = self.store().org_policy(org.id).await?;
        let actor = Actor {
            id: Some(owner.id),
            login: owner.login.clone(),
        };
        let mut events = Vec::new();
        if before.approval != settings.approval {
            let action = match settings.approval {
                Some(patgate_domain::policy::Approval::Disable) => {
                    "auto_approve_personal_access_token_requests.enable"
                }
                _ => "auto_approve_personal_access_token_requests.disable",
            };
            events.push(self.audit_event(action, &actor, org.id, None, json!({})));
        }
        events.push(self.audit_event(
            "org.personal_access_token_policy_update",
            &actor,
            org.id,
            None,
            json!({
                "fine_grained": settings.fine_grained.map(|a| a.as_str()),
                "classic": settings.classic.map(|a| a.as_str()),
                "approval": settings.approval.map(|a| a.as_str()),
                "fine_grained_max_lifetime_days": settings.fine_grained_max_lifetime_days,
                "classic_max_lifetime_days": settings.classic_max_lifetime_days,
            }),
        ));
        // The policy and every event about it, in one transaction.
        self.store()
            .set_org_policy(org.id, settings, &events)
            .await?;
        self.directory_changed();
        self.effective_policy(org.id).await.map(|p| (*p).clone())
    }

    /// One page of the organization's audit log, for its owners, and how many events its filters
    /// match (for `Link`'s `last`): two queries.
    pub async fn org_audit_page(
        &self,
        owner: &User,
        org_login: &str,
        mut query: patgate_store::AuditQuery,
    ) -> Result<(Vec<patgate_store::AuditEvent>, usize), AppError> {
        let org = self.owned_org(owner, org_login).await?;
        query.org = Some(org.id);
        let events = self.store().audit_events(&query).await?;
        let total = self.store().count_audit_events(&query).await?;
        Ok((events, usize::try_from(total).unwrap_or(usize::MAX)))
    }

    /// The organization's audit log, for its owners.
    pub async fn org_audit_log(
        &self,
        owner: &User,
        org_login: &str,
        mut query: patgate_store::AuditQuery,
    ) -> Result<Vec<patgate_store::AuditEvent>, AppError> {
        let org = self.owned_org(owner, org_login).await?;
        query.org = Some(org.id);
        Ok(self.store().audit_events(&query).await?)
    }
}
