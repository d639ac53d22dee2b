//! An organization's settings for personal access tokens (seeds 000–003), for its owners only:
//! everyone else gets a 404, as GitHub hides what they may not see. Ownership is read again on
//! every request, so an owner who loses ownership mid-session is refused at their next click.
//!
//! * `/organizations/{org}/settings/personal-access-tokens`: the policy (seed 002);
//! * `/organizations/{org}/settings/personal-access-token-requests`: pending requests, a
//!   request's page, reviewing one or many (seeds 000/001), in `org_requests`;
//! * `/organizations/{org}/settings/personal-access-tokens/active`: the tokens with access,
//!   revoking one or many (seed 003), in `org_tokens`;
//! * `/organizations/{org}/settings/audit-log`, in `org_audit`.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use patgate_app::AppError;
use patgate_app::governance::{Actor, OrgTokenQuery};
use patgate_domain::catalog::{Level, OrgRole, Permission};
use patgate_domain::model::Organization;
use patgate_domain::policy::{Access, Approval, EffectivePolicy, PolicySettings, Source};

use super::flash;
use super::form::FormData;
use super::page::{self, Chrome, Nav, Notice, OrgNav, WebError, WebResult};
use super::session::SignedIn;
use super::token_form::SelectOption;
use crate::state::AppState;

/// The organization `login` if the signed-in user owns it; `NotFound` otherwise.
pub fn owned(signed: &SignedIn, login: &str) -> WebResult<Organization> {
    signed
        .orgs
        .iter()
        .find(|(o, role)| *role == OrgRole::Owner && o.login.eq_ignore_ascii_case(login))
        .map(|(o, _)| o.clone())
        .ok_or(WebError::NotFound)
}

/// Who acts, for the audit log and the request's reviewer.
pub fn actor(signed: &SignedIn) -> Actor {
    Actor {
        id: Some(signed.user.id),
        login: signed.user.login.clone(),
    }
}

/// The organization part of every settings page.
#[derive(Clone, Debug)]
pub struct OrgChrome {
    pub login: String,
    pub section: OrgNav,
    pub enterprise: Option<String>,
}

impl OrgChrome {
    pub fn initial(&self) -> String {
        self.login
            .chars()
            .next()
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    pub fn current(&self, section: OrgNav) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

pub fn org_chrome(
    signed: &SignedIn,
    org: &Organization,
    section: OrgNav,
    policy: &EffectivePolicy,
) -> (Chrome, OrgChrome) {
    (
        signed.chrome(Nav::Org(section)),
        OrgChrome {
            login: org.login.clone(),
            section,
            enterprise: policy.enterprise_slug.clone(),
        },
    )
}

/// The filters of the request and token lists (seed 000's Owner, Repository and Permissions
/// menus), as they read in the URL.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub owner: String,
    pub repository: String,
    /// `<permission>_<level>`, as GitHub's API takes it.
    pub permission: String,
    pub page: u32,
}

impl Filters {
    pub fn from_query(query: &FormData) -> Filters {
        Filters {
            owner: query.text("owner").unwrap_or_default(),
            repository: query.text("repository").unwrap_or_default(),
            permission: query.text("permission").unwrap_or_default(),
            page: query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.owner.is_empty() && self.repository.is_empty() && self.permission.is_empty()
    }

    /// The filters as a query string (without the page).
    pub fn query_string(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("owner", &self.owner),
            ("repository", &self.repository),
            ("permission", &self.permission),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.finish()
    }

    /// The app's query for one page, newest first.
    pub fn query(&self, per_page: u32) -> Result<OrgTokenQuery, String> {
        let permission = if self.permission.is_empty() {
            None
        } else {
            Some(
                parse_permission(&self.permission)
                    .ok_or_else(|| format!("{} is not a permission and level.", self.permission))?,
            )
        };
        Ok(OrgTokenQuery {
            owners: if self.owner.is_empty() {
                Vec::new()
            } else {
                vec![self.owner.clone()]
            },
            repository: Some(self.repository.clone()).filter(|r| !r.is_empty()),
            permission,
            page: self.page.max(1),
            per_page,
            ..OrgTokenQuery::default()
        })
    }
}

fn parse_permission(v: &str) -> Option<(Permission, Level)> {
    let (name, level) = v.rsplit_once('_')?;
    let p = Permission::from_name(name)?;
    let l = Level::parse(level)?;
    p.allows(l).then_some((p, l))
}

/// The choices of the three filter menus.
#[derive(Clone, Debug)]
pub struct FilterMenus {
    pub owners: Vec<SelectOption>,
    pub repositories: Vec<SelectOption>,
    pub permissions: Vec<SelectOption>,
}

pub async fn filter_menus(
    state: &AppState,
    org: &Organization,
    filters: &Filters,
) -> WebResult<FilterMenus> {
    let store = state.app.store();
    let members = store.org_members(org.id).await.map_err(AppError::from)?;
    let repos = store.repos_of_owner(org.id).await.map_err(AppError::from)?;
    let with_any = |label: &str, current: &str| SelectOption {
        value: String::new(),
        label: label.to_owned(),
        selected: current.is_empty(),
    };
    let mut owners = vec![with_any("All owners", &filters.owner)];
    owners.extend(members.iter().map(|(u, _)| SelectOption {
        value: u.login.clone(),
        label: u.login.clone(),
        selected: u.login.eq_ignore_ascii_case(&filters.owner),
    }));
    let mut repositories = vec![with_any("All repositories", &filters.repository)];
    repositories.extend(repos.iter().map(|r| SelectOption {
        value: r.name.clone(),
        label: format!("{}/{}", org.login, r.name),
        selected: r.name.eq_ignore_ascii_case(&filters.repository),
    }));
    let mut permissions = vec![with_any("All permissions", &filters.permission)];
    for p in Permission::all().filter(|p| !p.app_only()) {
        for l in p.allowed_levels() {
            let value = format!("{}_{}", p.name(), l.as_str());
            permissions.push(SelectOption {
                selected: value == filters.permission,
                label: format!("{}: {}", p.display_name(), super::views::level_text(*l)),
                value,
            });
        }
    }
    Ok(FilterMenus {
        owners,
        repositories,
        permissions,
    })
}

/// The ids a form selected (`ids`, repeated), in order, without duplicates.
pub fn selected_ids(form: &FormData) -> Vec<i64> {
    let mut ids: Vec<i64> = Vec::new();
    for id in form.all("ids").into_iter().filter_map(|v| v.parse().ok()) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

// ---- the policy page (seed 002) ----

/// One setting of the policy form: its choices, and whether the enterprise forces it.
#[derive(Clone, Debug)]
pub struct SettingView {
    pub name: &'static str,
    pub title: &'static str,
    pub options: Vec<RadioOption>,
    /// `Some(explanation)` when the enterprise forces the setting.
    pub locked: Option<String>,
}

#[derive(Clone, Debug)]
pub struct RadioOption {
    pub value: &'static str,
    pub label: &'static str,
    pub note: &'static str,
    pub checked: bool,
}

#[derive(Clone, Debug)]
pub struct LifetimeView {
    pub name: &'static str,
    pub title: &'static str,
    pub enabled: bool,
    pub days: String,
    pub locked: Option<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "org/policy.html")]
struct PolicyPage {
    chrome: Chrome,
    org: OrgChrome,
    settings: Vec<SettingView>,
    lifetimes: Vec<LifetimeView>,
    overridden: Vec<String>,
}

fn locked(source: Source, enterprise: &Option<String>, shown: &str) -> Option<String> {
    (source == Source::Enterprise).then(|| {
        format!(
            "Set by the {} enterprise to “{shown}”. Only its owners can change this.",
            enterprise.as_deref().unwrap_or("")
        )
    })
}

fn policy_page(
    chrome: Chrome,
    org_chrome: OrgChrome,
    own: &PolicySettings,
    effective: &EffectivePolicy,
    errors: &BTreeMap<&'static str, String>,
    status: StatusCode,
) -> Response {
    let ent = &effective.enterprise_slug;
    // What the form shows chosen: the enterprise's value where it forces one, else the
    // organization's own (kept on a refused form), else the value in force.
    let shown = |own: Option<Access>, value: (Access, Source)| -> (Access, Source) {
        match (value.1, own) {
            (Source::Enterprise, _) | (_, None) => value,
            (_, Some(o)) => (o, value.1),
        }
    };
    let access = |name: &'static str,
                  title: &'static str,
                  value: (Access, Source),
                  allow: &'static str,
                  restrict: &'static str,
                  allow_note: &'static str,
                  restrict_note: &'static str| SettingView {
        name,
        title,
        options: vec![
            RadioOption {
                value: "allow",
                label: allow,
                note: allow_note,
                checked: value.0 == Access::Allow,
            },
            RadioOption {
                value: "restrict",
                label: restrict,
                note: restrict_note,
                checked: value.0 == Access::Restrict,
            },
        ],
        locked: locked(
            value.1,
            ent,
            if value.0 == Access::Allow {
                allow
            } else {
                restrict
            },
        ),
    };
    let settings = vec![
        access(
            "fine_grained",
            "Fine-grained personal access tokens",
            shown(own.fine_grained, effective.fine_grained),
            "Allow access via fine-grained personal access tokens",
            "Restrict access via fine-grained personal access tokens",
            "API and Git access is allowed with fine-grained tokens, subject to the approval setting below.",
            "Fine-grained tokens cannot reach this organization's non-public resources. Public resources stay readable.",
        ),
        SettingView {
            name: "approval",
            title: "Require approval of fine-grained personal access tokens",
            options: vec![
                RadioOption {
                    value: "require",
                    label: "Require administrator approval",
                    note: "An owner must approve each token before it can reach non-public resources.",
                    checked: effective.approval.0 == Approval::Require,
                },
                RadioOption {
                    value: "disable",
                    label: "Do not require administrator approval",
                    note: "Tokens get their access as soon as they are created.",
                    checked: effective.approval.0 == Approval::Disable,
                },
            ],
            locked: locked(
                effective.approval.1,
                ent,
                if effective.approval.0 == Approval::Require {
                    "Require administrator approval"
                } else {
                    "Do not require administrator approval"
                },
            ),
        },
        access(
            "classic",
            "Personal access tokens (classic)",
            shown(own.classic, effective.classic),
            "Allow access via personal access tokens (classic)",
            "Restrict access via personal access tokens (classic)",
            "Classic tokens reach the organization's resources their owners can reach.",
            "Classic tokens cannot reach this organization's non-public resources.",
        ),
    ];
    let lifetime = |name: &'static str,
                    title: &'static str,
                    own: Option<u16>,
                    effective: Option<(u16, Source)>| LifetimeView {
        name,
        title,
        enabled: own.is_some() || effective.is_some_and(|(_, s)| s == Source::Enterprise),
        days: effective
            .map(|(d, _)| d.to_string())
            .or_else(|| own.map(|d| d.to_string()))
            .unwrap_or_default(),
        locked: effective.and_then(|(d, s)| locked(s, ent, &format!("{d} days"))),
        error: errors.get(name).cloned(),
    };
    let lifetimes = vec![
        lifetime(
            "fine_grained_max_lifetime_days",
            "Maximum lifetime of fine-grained tokens",
            own.fine_grained_max_lifetime_days,
            effective.fine_grained_max_lifetime_days,
        ),
        lifetime(
            "classic_max_lifetime_days",
            "Maximum lifetime of personal access tokens (classic)",
            own.classic_max_lifetime_days,
            effective.classic_max_lifetime_days,
        ),
    ];
    let overridden = patgate_domain::policy::overridden(own, effective)
        .iter()
        .map(patgate_domain::policy::Overridden::message)
        .collect();
    page::render(
        status,
        &PolicyPage {
            chrome,
            org: org_chrome,
            settings,
            lifetimes,
            overridden,
        },
    )
}

async fn load_policy(
    state: &AppState,
    org: &Organization,
) -> WebResult<(PolicySettings, std::sync::Arc<EffectivePolicy>)> {
    let own = state
        .app
        .store()
        .org_policy(org.id)
        .await
        .map_err(AppError::from)?;
    let effective = state.app.effective_policy(org.id).await?;
    Ok((own, effective))
}

pub async fn policy(
    State(state): State<AppState>,
    signed: SignedIn,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let (notice, clear) = flash::take(&state, &headers);
    let result = async {
        let org = owned(&signed, &login)?;
        let (own, effective) = load_policy(&state, &org).await?;
        let (chrome, org_chrome) = org_chrome(&signed, &org, OrgNav::Policy, &effective);
        Ok::<_, WebError>(policy_page(
            chrome.with_notice(notice),
            org_chrome,
            &own,
            &effective,
            &BTreeMap::new(),
            StatusCode::OK,
        ))
    }
    .await;
    match result {
        Ok(r) => (clear, r).into_response(),
        Err(e) => e.page(Some(&fallback)),
    }
}

/// `POST /organizations/{org}/settings/personal-access-tokens`: saves the policy. A setting
/// the enterprise forces is not on the form (it is shown locked); the organization's own stored
/// value for it is kept as it is.
pub async fn save_policy(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(login): Path<String>,
    form: FormData,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let org = match owned(&signed, &login) {
        Ok(o) => o,
        Err(e) => return e.page(Some(&fallback)),
    };
    let (own, effective) = match load_policy(&state, &org).await {
        Ok(p) => p,
        Err(e) => return e.page(Some(&fallback)),
    };
    let mut errors = BTreeMap::new();
    let access = |name: &str, current: Option<Access>| match form.get(name) {
        Some(v) => Access::parse(v).or(current),
        None => current,
    };
    let days = |enabled: &str,
                name: &'static str,
                current: Option<u16>,
                forced: bool,
                errors: &mut BTreeMap<&'static str, String>| {
        if forced {
            return current;
        }
        form.get(enabled)?;
        match form.get(name).and_then(|d| d.trim().parse::<u16>().ok()) {
            Some(d) if (1..=366).contains(&d) => Some(d),
            _ => {
                errors.insert(name, "Enter a number of days from 1 to 366.".to_owned());
                current
            }
        }
    };
    let forced = |s: Option<(u16, Source)>| s.is_some_and(|(_, s)| s == Source::Enterprise);
    let settings = PolicySettings {
        fine_grained: access("fine_grained", own.fine_grained),
        classic: access("classic", own.classic),
        approval: match form.get("approval") {
            Some(v) => Approval::parse(v).or(own.approval),
            None => own.approval,
        },
        fine_grained_max_lifetime_days: days(
            "fine_grained_max_lifetime_days_enabled",
            "fine_grained_max_lifetime_days",
            own.fine_grained_max_lifetime_days,
            forced(effective.fine_grained_max_lifetime_days),
            &mut errors,
        ),
        classic_max_lifetime_days: days(
            "classic_max_lifetime_days_enabled",
            "classic_max_lifetime_days",
            own.classic_max_lifetime_days,
            forced(effective.classic_max_lifetime_days),
            &mut errors,
        ),
        exempt_administrators: own.exempt_administrators,
    };
    if errors.is_empty() {
        match state
            .app
            .set_org_policy(&signed.user, &org.login, &settings)
            .await
        {
            Ok(new) => {
                let overridden = patgate_domain::policy::overridden(&settings, &new);
                let message = if overridden.is_empty() {
                    "The policy was saved.".to_owned()
                } else {
                    format!(
                        "The policy was saved. {}",
                        overridden
                            .iter()
                            .map(patgate_domain::policy::Overridden::message)
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                };
                return (
                    flash::set(&state, &message),
                    page::see_other(&format!(
                        "/organizations/{}/settings/personal-access-tokens",
                        org.login
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
    let (chrome, org_chrome) = org_chrome(&signed, &org, OrgNav::Policy, &effective);
    policy_page(
        chrome.with_notice(Some(Notice::error(
            "The policy was not saved. Please fix what is marked below.",
        ))),
        org_chrome,
        &settings,
        &effective,
        &errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}
