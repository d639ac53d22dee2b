//! Pending requests (seeds 000/001): the filtered list, a request's page, and reviewing one or
//! several at once: approve, or deny with an optional reason, all or nothing.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use patgate_app::AppError;
use patgate_app::governance::{MAX_REASON_CHARS, RequestView};
use patgate_domain::model::{Organization, RepoId, RequestId};
use patgate_store::RequestStatus;

use super::flash;
use super::form::FormData;
use super::org::{
    FilterMenus, Filters, OrgChrome, actor, filter_menus, org_chrome, owned, selected_ids,
};
use super::page::{self, Chrome, Nav, OrgNav, WebError, WebResult, ago, date, date_time};
use super::session::SignedIn;
use super::views::{self, AccessView, Pager};
use crate::state::AppState;

const PER_PAGE: u32 = 25;

/// A request as the list shows it.
pub struct RequestRow {
    pub id: i64,
    pub token_name: String,
    pub owner: String,
    pub created: String,
    pub repositories: String,
    pub permissions: String,
    pub expires: String,
}

fn permissions_summary(access: &patgate_domain::model::TokenAccess) -> String {
    let parts: Vec<String> = access
        .permissions
        .iter()
        .map(|(p, l)| format!("{}: {}", p.name(), l.as_str()))
        .collect();
    if parts.is_empty() {
        "no permissions".to_owned()
    } else {
        parts.join(", ")
    }
}

fn repositories_summary(access: &patgate_domain::model::TokenAccess) -> String {
    match access.selection {
        patgate_domain::model::RepositorySelection::None => "public repositories".to_owned(),
        patgate_domain::model::RepositorySelection::All => "all repositories".to_owned(),
        patgate_domain::model::RepositorySelection::Subset => {
            let n = access.repositories.len();
            format!("{n} {}", if n == 1 { "repository" } else { "repositories" })
        }
    }
}

fn row(v: &RequestView, now: time::OffsetDateTime) -> RequestRow {
    RequestRow {
        id: v.request.id.0,
        token_name: v.token.name.clone(),
        owner: v.owner.login.clone(),
        created: ago(v.request.created_at, now),
        repositories: repositories_summary(&v.request.access),
        permissions: permissions_summary(&v.request.access),
        expires: views::expiry_text(&v.token, now),
    }
}

#[derive(Template)]
#[template(path = "org/requests.html")]
struct ListPage {
    chrome: Chrome,
    org: OrgChrome,
    rows: Vec<RequestRow>,
    pager: Pager,
    menus: FilterMenus,
    filters: Filters,
    filter_error: Option<String>,
    /// Where the filter form goes (the list itself).
    filter_action: String,
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
        let (chrome, org_chrome) = org_chrome(&signed, &org, OrgNav::Requests, &effective);
        let base = format!(
            "/organizations/{}/settings/personal-access-token-requests?{}",
            org.login,
            filters.query_string()
        );
        let (rows, pager, filter_error) = match filters.query(PER_PAGE) {
            Ok(q) => {
                let page = state.app.list_org_requests(&org, &q).await?;
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
                "/organizations/{}/settings/personal-access-token-requests",
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

/// A pending request of the organization, with its token and requester.
async fn pending_request(
    state: &AppState,
    org: &Organization,
    id: i64,
) -> WebResult<(
    patgate_store::TokenRequest,
    patgate_domain::model::Token,
    String,
)> {
    let store = state.app.store();
    let request = match store
        .request_by_id(RequestId(id))
        .await
        .map_err(AppError::from)?
    {
        Some(r) if r.org == org.id && r.status == RequestStatus::Pending => r,
        _ => return Err(WebError::NotFound),
    };
    let token = store
        .token_by_id(request.token_id)
        .await
        .map_err(AppError::from)?
        .ok_or(WebError::NotFound)?;
    let owner = store
        .user_by_id(request.user)
        .await
        .map_err(AppError::from)?
        .map(|u| u.login)
        .unwrap_or_default();
    Ok((request, token, owner))
}

#[derive(Template)]
#[template(path = "org/request.html")]
struct RequestPage {
    chrome: Chrome,
    org: OrgChrome,
    id: i64,
    token_name: String,
    owner: String,
    created: String,
    expires: String,
    justification: Option<String>,
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
        let (request, token, owner) = pending_request(&state, &org, id).await?;
        let names: HashMap<RepoId, String> = state
            .app
            .store()
            .repos_by_ids(&request.access.repositories)
            .await
            .map_err(AppError::from)?
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
        let effective = state.app.effective_policy(org.id).await?;
        let (chrome, org_chrome) = org_chrome(&signed, &org, OrgNav::Requests, &effective);
        let now = state.app.now();
        Ok::<_, WebError>(page::ok(&RequestPage {
            chrome,
            org: org_chrome,
            id,
            token_name: token.name.clone(),
            owner,
            created: date_time(request.created_at),
            expires: views::expiry_text(&token, now),
            justification: request.reason.clone(),
            access: views::access_view(&request.access, &org.login, &names),
        }))
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}

/// The confirmation of a review: what is decided, with the optional reason.
#[derive(Template)]
#[template(path = "org/review.html")]
struct ReviewPage {
    chrome: Chrome,
    org: OrgChrome,
    approve: bool,
    rows: Vec<RequestRow>,
    reason: String,
    error: Option<String>,
    back: String,
    max_reason: usize,
}

/// A review as the confirmation shows it (again, with the error, when it was refused).
struct Review<'a> {
    ids: &'a [i64],
    approve: bool,
    reason: &'a str,
    error: Option<String>,
    status: StatusCode,
    back: &'a str,
}

async fn review_page(
    state: &AppState,
    signed: &SignedIn,
    org: &Organization,
    review: Review<'_>,
) -> WebResult<Response> {
    let Review {
        ids,
        approve,
        reason,
        error,
        status,
        back,
    } = review;
    let now = state.app.now();
    let mut rows = Vec::new();
    for id in ids {
        // A request decided meanwhile drops out of the list; the error says so.
        if let Ok((request, token, owner)) = pending_request(state, org, *id).await {
            rows.push(RequestRow {
                id: request.id.0,
                token_name: token.name.clone(),
                owner,
                created: ago(request.created_at, now),
                repositories: repositories_summary(&request.access),
                permissions: permissions_summary(&request.access),
                expires: token.expires_at.map_or_else(|| "never".to_owned(), date),
            });
        }
    }
    let effective = state.app.effective_policy(org.id).await?;
    let (chrome, org_chrome) = org_chrome(signed, org, OrgNav::Requests, &effective);
    Ok(page::render(
        status,
        &ReviewPage {
            chrome,
            org: org_chrome,
            approve,
            rows,
            reason: reason.to_owned(),
            error,
            back: back.to_owned(),
            max_reason: MAX_REASON_CHARS,
        },
    ))
}

fn list_path(org: &Organization) -> String {
    format!(
        "/organizations/{}/settings/personal-access-token-requests",
        org.login
    )
}

/// Only a path of this organization's request list: where to go back after a review.
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

/// `GET …/personal-access-token-requests/review?decision=approve|deny&ids=…`: the confirmation.
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
                flash::set(&state, "Select at least one request to review."),
                page::see_other(&back),
            )
                .into_response());
        }
        let approve = form.get("decision") != Some("deny");
        review_page(
            &state,
            &signed,
            &org,
            Review {
                ids: &ids,
                approve,
                reason: "",
                error: None,
                status: StatusCode::OK,
                back: &back,
            },
        )
        .await
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}

/// `POST …/personal-access-token-requests/review`: approves or denies every selected request,
/// or none (one decided meanwhile, or a reason too long, changes nothing and is named).
pub async fn review(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(login): Path<String>,
    form: FormData,
) -> Response {
    let fallback = signed.chrome(Nav::None);
    let result = async {
        let org = owned(&signed, &login)?;
        let ids = selected_ids(&form);
        let approve = form.get("decision") != Some("deny");
        let reason = form.get("reason").unwrap_or("").trim().to_owned();
        let back = back_to(&org, form.get("back"));
        let request_ids: Vec<RequestId> = ids.iter().copied().map(RequestId).collect();
        match state
            .app
            .review_requests(
                &org,
                &actor(&signed),
                &request_ids,
                approve,
                Some(reason.as_str()).filter(|r| !r.is_empty()),
            )
            .await
        {
            Ok(()) => {
                let n = ids.len();
                let what = if n == 1 { "request" } else { "requests" };
                let message = if approve {
                    format!("Approved {n} {what}. The tokens have their access now, and their owners are told by email.")
                } else {
                    format!(
                        "Denied {n} {what}. The tokens can read public resources only; their owners are told by email{}.",
                        if reason.is_empty() { "" } else { ", with your reason" }
                    )
                };
                Ok((flash::set(&state, &message), page::see_other(&back)).into_response())
            }
            Err(AppError::Validation(v)) => {
                let message =
                    v.0.iter()
                        .map(|f| super::token_form::sentence(&f.message))
                        .collect::<Vec<_>>()
                        .join(" ");
                review_page(
                    &state,
                    &signed,
                    &org,
                    Review {
                        ids: &ids,
                        approve,
                        reason: &reason,
                        error: Some(format!("Nothing was changed. {message}")),
                        status: StatusCode::UNPROCESSABLE_ENTITY,
                        back: &back,
                    },
                )
                .await
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&fallback)))
}
