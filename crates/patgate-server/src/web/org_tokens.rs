//! Active tokens (seed 003): the fine-grained tokens with access to the organization, filtered
//! like the requests, a token's page, and revoking one or several at once (all or nothing). A
//! revoked token is not deleted: it keeps reading public resources, and its owner is told.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use patgate_app::AppError;
use patgate_app::governance::GrantView;
use patgate_domain::model::{GrantId, Organization, RepoId, TokenGrant};

use super::flash;
use super::form::FormData;
use super::org::{
    FilterMenus, Filters, OrgChrome, actor, filter_menus, org_chrome, owned, selected_ids,
};
use super::page::{self, Chrome, Nav, OrgNav, WebError, WebResult, date_time};
use super::session::SignedIn;
use super::views::{self, AccessView, Pager};
use crate::state::AppState;

const PER_PAGE: u32 = 25;

pub struct GrantRow {
    pub id: i64,
    pub token_name: String,
    pub owner: String,
    pub repositories: String,
    pub permissions: String,
    pub last_used: String,
    pub expires: String,
}

fn row(v: &GrantView, now: time::OffsetDateTime) -> GrantRow {
    let permissions: Vec<String> = v
        .access
        .permissions
        .iter()
        .map(|(p, l)| format!("{}: {}", p.name(), l.as_str()))
        .collect();
    GrantRow {
        id: v.grant.id.0,
        token_name: v.token.name.clone(),
        owner: v.owner.login.clone(),
        repositories: match v.access.selection {
            patgate_domain::model::RepositorySelection::None => "public repositories".to_owned(),
            patgate_domain::model::RepositorySelection::All => "all repositories".to_owned(),
            patgate_domain::model::RepositorySelection::Subset => {
                let n = v.access.repositories.len();
                format!("{n} {}", if n == 1 { "repository" } else { "repositories" })
            }
        },
        permissions: if permissions.is_empty() {
            "no permissions".to_owned()
        } else {
            permissions.join(", ")
        },
        last_used: views::last_used_text(&v.token, now),
        expires: views::expiry_text(&v.token, now),
    }
}

#[derive(Template)]
#[template(path = "org/tokens.html")]
struct ListPage {
    chrome: Chrome,
    org: OrgChrome,
    rows: Vec<GrantRow>,
    pager: Pager,
    menus: FilterMenus,
    filters: Filters,
    filter_error: Option<String>,
    /// Where the filter form goes (the list itself).
    filter_action: String,
}

fn list_path(org: &Organization) -> String {
    format!(
        "/organizations/{}/settings/personal-access-tokens/active",
        org.login
    )
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    headers: HeaderMap,
    Path(login): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let (notice, clear) = flash::take(&state, &headers);
    let filters = Filters::from_query(&FormData::parse(query.unwrap_or_default().as_bytes()));
    let result = async {
        let org = owned(&signed, &login)?;
        let effective = state.app.effective_policy(org.id).await?;
        let (chrome, org_chrome) = org_chrome(&signed, &org, OrgNav::Active, &effective);
        let base = format!("{}?{}", list_path(&org), filters.query_string());
        let (rows, pager, filter_error) = match filters.query(PER_PAGE) {
            Ok(q) => {
                let page = state.app.list_org_grants(&org, &q).await?;
                let now = state.app.now();
                let pager = Pager::new(page.total, page.page, PER_PAGE, base.trim_end_matches('?'));
                (
                    page.items.iter().map(|v| row(v, now)).collect(),
                    pager,
                    None,
                )
            }
            Err(message) => (Vec::new(), Pager::new(0, 1, PER_PAGE, &base), Some(message)),
        };
        let menus = filter_menus(&state, &org, &filters).await?;
        Ok::<_, WebError>(page::ok(&ListPage {
            chrome: chrome.with_notice(notice),
            org: org_chrome,
            rows,
            pager,
            menus,
            filters: filters.clone(),
            filter_error,
            filter_action: format!(
                "/organizations/{}/settings/personal-access-tokens/active",
                org.login
            ),
        }))
    }
    .await;
    match result {
        Ok(r) => (clear, r).into_response(),
        Err(e) => e.page(Some(&fallback)),
    }
}

/// A grant of the organization with its token and owner, and the access in force.
async fn grant_view(state: &AppState, org: &Organization, id: i64) -> WebResult<GrantView> {
    let store = state.app.store();
    let grant = match store
        .grant_by_id(GrantId(id))
        .await
        .map_err(AppError::from)?
    {
        Some(g) if g.org == org.id => g,
        _ => return Err(WebError::NotFound),
    };
    let token = store
        .token_by_id(grant.token_id)
        .await
        .map_err(AppError::from)?
        .ok_or(WebError::NotFound)?;
    let owner = store
        .user_by_id(token.user)
        .await
        .map_err(AppError::from)?
        .ok_or(WebError::NotFound)?;
    let access = match &token.grant {
        TokenGrant::FineGrained {
            granted: Some(g), ..
        } => g.clone(),
        _ => return Err(WebError::NotFound),
    };
    Ok(GrantView {
        grant,
        token,
        owner,
        access,
    })
}

#[derive(Template)]
#[template(path = "org/token.html")]
struct TokenPage {
    chrome: Chrome,
    org: OrgChrome,
    id: i64,
    token_name: String,
    owner: String,
    granted: String,
    last_used: String,
    expires: String,
    access: AccessView,
}

pub async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((login, id)): Path<(String, String)>,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let result = async {
        let org = owned(&signed, &login)?;
        let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
        let v = grant_view(&state, &org, id).await?;
        let names: HashMap<RepoId, String> = state
            .app
            .store()
            .repos_by_ids(&v.access.repositories)
            .await
            .map_err(AppError::from)?
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
        let effective = state.app.effective_policy(org.id).await?;
        let (chrome, org_chrome) = org_chrome(&signed, &org, OrgNav::Active, &effective);
        let now = state.app.now();
        Ok::<_, WebError>(page::ok(&TokenPage {
            chrome,
            org: org_chrome,
            id,
            token_name: v.token.name.clone(),
            owner: v.owner.login.clone(),
            granted: date_time(v.grant.access_granted_at),
            last_used: views::last_used_text(&v.token, now),
            expires: views::expiry_text(&v.token, now),
            access: views::access_view(&v.access, &org.login, &names),
        }))
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}

#[derive(Template)]
#[template(path = "org/revoke.html")]
struct RevokePage {
    chrome: Chrome,
    org: OrgChrome,
    rows: Vec<GrantRow>,
    error: Option<String>,
    back: String,
}

async fn revoke_page(
    state: &AppState,
    signed: &SignedIn,
    org: &Organization,
    ids: &[i64],
    error: Option<String>,
    status: StatusCode,
    back: &str,
) -> WebResult<Response> {
    let now = state.app.now();
    let mut rows = Vec::new();
    for id in ids {
        if let Ok(v) = grant_view(state, org, *id).await {
            rows.push(row(&v, now));
        }
    }
    let effective = state.app.effective_policy(org.id).await?;
    let (chrome, org_chrome) = org_chrome(signed, org, OrgNav::Active, &effective);
    Ok(page::render(
        status,
        &RevokePage {
            chrome,
            org: org_chrome,
            rows,
            error,
            back: back.to_owned(),
        },
    ))
}

fn back_to(org: &Organization, given: Option<&str>) -> String {
    let base = list_path(org);
    match given {
        Some(p)
            if p.starts_with(&base) && !p.contains("//") && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => base,
    }
}

pub async fn confirm(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(login): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let form = FormData::parse(query.unwrap_or_default().as_bytes());
    let result = async {
        let org = owned(&signed, &login)?;
        let ids = selected_ids(&form);
        let back = back_to(&org, form.get("back"));
        if ids.is_empty() {
            return Ok((
                flash::set(&state, "Select at least one token to revoke."),
                page::see_other(&back),
            )
                .into_response());
        }
        revoke_page(&state, &signed, &org, &ids, None, StatusCode::OK, &back).await
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}

pub async fn revoke(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(login): Path<String>,
    form: FormData,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let result = async {
        let org = owned(&signed, &login)?;
        let ids = selected_ids(&form);
        let back = back_to(&org, form.get("back"));
        let grant_ids: Vec<GrantId> = ids.iter().copied().map(GrantId).collect();
        match state
            .app
            .revoke_org_grants(&org, &actor(&signed), &grant_ids)
            .await
        {
            Ok(()) => {
                let n = ids.len();
                let message = format!(
                    "Revoked the access of {n} {} to {}. They keep reading public resources only; their owners are told by email.",
                    if n == 1 { "token" } else { "tokens" },
                    org.login
                );
                Ok((flash::set(&state, &message), page::see_other(&back)).into_response())
            }
            Err(AppError::Validation(v)) => {
                let message =
                    v.0.iter()
                        .map(|f| super::token_form::sentence(&f.message))
                        .collect::<Vec<_>>()
                        .join(" ");
                revoke_page(
                    &state,
                    &signed,
                    &org,
                    &ids,
                    Some(format!("Nothing was changed. {message}")),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &back,
                )
                .await
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}
