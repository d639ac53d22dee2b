//! Enterprises: their owners, and the policies they force on every organization of the
//! enterprise (seed 002: a setting an enterprise sets cannot be overridden by its organizations).

use serde_json::json;

use patgate_domain::model::{Enterprise, Organization, User};
use patgate_domain::policy::PolicySettings;
use patgate_store::NewAuditEvent;

use crate::governance::Actor;
use crate::{App, AppError};

/// What an enterprise's settings page shows.
#[derive(Clone, Debug)]
pub struct EnterpriseOverview {
    pub enterprise: Enterprise,
    /// The enterprise's own settings (`None`: organizations decide).
    pub policy: PolicySettings,
    pub organizations: Vec<Organization>,
    pub owners: Vec<User>,
}

impl App {
    pub async fn enterprise_named(&self, slug: &str) -> Result<Enterprise, AppError> {
        self.store()
            .enterprise_by_slug(slug)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// The enterprise `slug` if `user` owns it; `NotFound` otherwise (whoever does not own it
    /// is not told it exists).
    pub async fn owned_enterprise(&self, user: &User, slug: &str) -> Result<Enterprise, AppError> {
        let owned = self.store().enterprises_owned_by(user.id).await?;
        owned
            .into_iter()
            .find(|e| e.slug.eq_ignore_ascii_case(slug))
            .ok_or(AppError::NotFound)
    }

    pub async fn enterprise_overview(
        &self,
        enterprise: &Enterprise,
    ) -> Result<EnterpriseOverview, AppError> {
        let store = self.store();
        Ok(EnterpriseOverview {
            enterprise: enterprise.clone(),
            policy: store.enterprise_policy(enterprise.id).await?,
            organizations: store.orgs_of_enterprise(enterprise.id).await?,
            owners: store.enterprise_owners(enterprise.id).await?,
        })
    }

    /// Replaces the enterprise's policy: each setting given is forced on every organization of
    /// the enterprise; a setting left out (`None`) is left to the organizations. Audited once for
    /// the enterprise and once in each organization's log, in the same transaction.
    pub async fn set_enterprise_policy(
        &self,
        actor: &Actor,
        enterprise: &Enterprise,
        settings: &PolicySettings,
    ) -> Result<(), AppError> {
        settings.validate().map_err(|e| {
            AppError::Validation(patgate_domain::validate::ValidationErrors::one(
                patgate_domain::validate::FieldError::new(
                    "EnterprisePersonalAccessTokenPolicy",
                    e.field,
                    patgate_domain::validate::ErrorCode::Invalid,
                    e.to_string(),
                ),
            ))
        })?;
        let orgs = self.store().orgs_of_enterprise(enterprise.id).await?;
        let data = json!({
            "business": enterprise.slug,
            "fine_grained": settings.fine_grained.map(|a| a.as_str()),
            "classic": settings.classic.map(|a| a.as_str()),
            "approval": settings.approval.map(|a| a.as_str()),
            "fine_grained_max_lifetime_days": settings.fine_grained_max_lifetime_days,
            "classic_max_lifetime_days": settings.classic_max_lifetime_days,
            "exempt_administrators": settings.exempt_administrators,
        });
        let event = |org: Option<&Organization>| NewAuditEvent {
            action: "business.personal_access_token_policy_update".to_owned(),
            actor: actor.id,
            actor_login: Some(actor.login.clone()),
            org: org.map(|o| o.id),
            token_id: None,
            data: data.clone(),
            created_at: self.now(),
        };
        let mut events = vec![event(None)];
        events.extend(orgs.iter().map(|o| event(Some(o))));
        self.store()
            .set_enterprise_policy(enterprise.id, settings, &events)
            .await?;
        self.directory_changed();
        Ok(())
    }

    /// Makes a user an owner of an enterprise, or not (operator action); whether it changed.
    pub async fn set_enterprise_owner(
        &self,
        slug: &str,
        login: &str,
        owner: bool,
    ) -> Result<bool, AppError> {
        let enterprise = self.enterprise_named(slug).await?;
        let user = self
            .store()
            .user_by_login(login)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(self
            .store()
            .set_enterprise_owner(enterprise.id, user.id, owner)
            .await?)
    }
}
