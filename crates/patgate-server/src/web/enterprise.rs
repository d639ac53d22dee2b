//! An enterprise's personal access token policy, for its owners (`/enterprises/{slug}/settings/
//! personal-access-tokens`): each setting forced on every organization of the enterprise, or
//! left to the organizations. Everyone else gets a 404.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use patgate_app::AppError;
use patgate_app::enterprise::EnterpriseOverview;
use patgate_domain::policy::{Access, Approval, PolicySettings};

use super::flash;
use super::form::FormData;
use super::org::actor;
use super::page::{self, Chrome, Nav, Notice, WebError};
use super::session::SignedIn;
use crate::state::AppState;

/// One choice of a setting: forced to a value, or left to the organizations (`value` empty).
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

pub struct Setting {
    pub name: &'static str,
    pub title: &'static str,
    pub choices: Vec<Choice>,
}

pub struct Lifetime {
    pub name: &'static str,
    pub title: &'static str,
    pub forced: bool,
    pub days: String,
    pub error: Option<String>,
}

pub struct OrgLine {
    pub login: String,
    /// The signed-in user owns it too: its settings page is a link.
    pub owned: bool,
}

#[derive(Template)]
#[template(path = "enterprise/policy.html")]
struct PolicyPage {
    chrome: Chrome,
    slug: String,
    initial: String,
    settings: Vec<Setting>,
    lifetimes: Vec<Lifetime>,
    exempt_administrators: bool,
    orgs: Vec<OrgLine>,
    owners: Vec<String>,
}

fn three(
    name: &'static str,
    title: &'static str,
    current: Option<&'static str>,
    options: [(&'static str, &'static str); 2],
) -> Setting {
    let mut choices = vec![Choice {
        value: "",
        label: "Let organizations decide",
        checked: current.is_none(),
    }];
    choices.extend(options.iter().map(|(value, label)| Choice {
        value,
        label,
        checked: current == Some(*value),
    }));
    Setting {
        name,
        title,
        choices,
    }
}

fn policy_page(
    signed: &SignedIn,
    view: &EnterpriseOverview,
    policy: &PolicySettings,
    errors: &BTreeMap<&'static str, String>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let settings = vec![
        three(
            "fine_grained",
            "Fine-grained personal access tokens",
            policy.fine_grained.map(Access::as_str),
            [
                (
                    "allow",
                    "Allow access via fine-grained personal access tokens",
                ),
                (
                    "restrict",
                    "Restrict access via fine-grained personal access tokens",
                ),
            ],
        ),
        three(
            "approval",
            "Require approval of fine-grained personal access tokens",
            policy.approval.map(Approval::as_str),
            [
                ("require", "Require administrator approval"),
                ("disable", "Do not require administrator approval"),
            ],
        ),
        three(
            "classic",
            "Personal access tokens (classic)",
            policy.classic.map(Access::as_str),
            [
                ("allow", "Allow access via personal access tokens (classic)"),
                (
                    "restrict",
                    "Restrict access via personal access tokens (classic)",
                ),
            ],
        ),
    ];
    let lifetime = |name: &'static str, title: &'static str, days: Option<u16>| Lifetime {
        name,
        title,
        forced: days.is_some(),
        days: days.map(|d| d.to_string()).unwrap_or_default(),
        error: errors.get(name).cloned(),
    };
    let owned_orgs: Vec<&str> = signed
        .orgs
        .iter()
        .filter(|(_, r)| *r == patgate_domain::catalog::OrgRole::Owner)
        .map(|(o, _)| o.login.as_str())
        .collect();
    page::render(
        status,
        &PolicyPage {
            chrome: signed.chrome(Nav::None).with_notice(notice),
            slug: view.enterprise.slug.clone(),
            initial: view
                .enterprise
                .slug
                .chars()
                .next()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            settings,
            lifetimes: vec![
                lifetime(
                    "fine_grained_max_lifetime_days",
                    "Maximum lifetime of fine-grained tokens",
                    policy.fine_grained_max_lifetime_days,
                ),
                lifetime(
                    "classic_max_lifetime_days",
                    "Maximum lifetime of personal access tokens (classic)",
                    policy.classic_max_lifetime_days,
                ),
            ],
            exempt_administrators: policy.exempt_administrators,
            orgs: view
                .organizations
                .iter()
                .map(|o| OrgLine {
                    login: o.login.clone(),
                    owned: owned_orgs.iter().any(|l| l.eq_ignore_ascii_case(&o.login)),
                })
                .collect(),
            owners: view.owners.iter().map(|u| u.login.clone()).collect(),
        },
    )
}

pub async fn policy(
    State(state): State<AppState>,
    signed: SignedIn,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let (notice, clear) = flash::take(&state, &headers);
    let result = async {
        let enterprise = state.app.owned_enterprise(&signed.user, &slug).await?;
        let view = state.app.enterprise_overview(&enterprise).await?;
        Ok::<_, AppError>(policy_page(
            &signed,
            &view,
            &view.policy,
            &BTreeMap::new(),
            notice,
            StatusCode::OK,
        ))
    }
    .await;
    match result {
        Ok(r) => (clear, r).into_response(),
        Err(e) => WebError::from(e).page(Some(&fallback)),
    }
}

pub async fn save_policy(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(slug): Path<String>,
    form: FormData,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let (enterprise, view) = match async {
        let e = state.app.owned_enterprise(&signed.user, &slug).await?;
        let v = state.app.enterprise_overview(&e).await?;
        Ok::<_, AppError>((e, v))
    }
    .await
    {
        Ok(x) => x,
        Err(e) => return WebError::from(e).page(Some(&fallback)),
    };
    let mut errors = BTreeMap::new();
    let mut days = |name: &'static str| -> Option<u16> {
        form.get(&format!("{name}_forced"))?;
        match form.get(name).and_then(|d| d.trim().parse::<u16>().ok()) {
            Some(d) if (1..=366).contains(&d) => Some(d),
            _ => {
                errors.insert(name, "Enter a number of days from 1 to 366.".to_owned());
                None
            }
        }
    };
    let settings = PolicySettings {
        fine_grained: form.get("fine_grained").and_then(Access::parse),
        classic: form.get("classic").and_then(Access::parse),
        approval: form.get("approval").and_then(Approval::parse),
        fine_grained_max_lifetime_days: days("fine_grained_max_lifetime_days"),
        classic_max_lifetime_days: days("classic_max_lifetime_days"),
        exempt_administrators: form.get("exempt_administrators").is_some(),
    };
    if errors.is_empty() {
        match state
            .app
            .set_enterprise_policy(&actor(&signed), &enterprise, &settings)
            .await
        {
            Ok(()) => {
                let n = view.organizations.len();
                let message = format!(
                    "The policy of {} was saved. It applies to its {n} {} at once.",
                    enterprise.slug,
                    if n == 1 {
                        "organization"
                    } else {
                        "organizations"
                    }
                );
                return (
                    flash::set(&state, &message),
                    page::see_other(&format!(
                        "/enterprises/{}/settings/personal-access-tokens",
                        enterprise.slug
                    )),
                )
                    .into_response();
            }
            Err(AppError::Validation(v)) => {
                for f in v.0 {
                    let field = if f.field == "classic_max_lifetime_days" {
                        "classic_max_lifetime_days"
                    } else {
                        "fine_grained_max_lifetime_days"
                    };
                    errors.insert(field, super::token_form::sentence(&f.message));
                }
            }
            Err(e) => return WebError::from(e).page(Some(&fallback)),
        }
    }
    policy_page(
        &signed,
        &view,
        &settings,
        &errors,
        Some(Notice::error(
            "The policy was not saved. Please fix what is marked below.",
        )),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}
