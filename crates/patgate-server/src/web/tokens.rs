//! The user's fine-grained tokens (seed 004): the list, generating one (from a template link or
//! from scratch), a token's page, editing, regenerating and deleting.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use patgate_app::AppError;
use patgate_app::tokens::{CreateFineGrained, EditFineGrained, Issued};
use patgate_domain::catalog::OrgRole;
use patgate_domain::model::{
    AccountId, AccountKind, GrantState, RepoId, Token, TokenGrant, TokenId,
};
use patgate_domain::policy::Access;
use patgate_domain::token::TokenKind;

use super::flash;
use super::form::FormData;
use super::page::{self, Chrome, Nav, Notice, WebError, WebResult, date_time};
use super::session::SignedIn;
use super::token_form::{self, OwnerChoice, RepoChoice, TokenForm, TokenInput};
use super::views::{self, AccessView, Pager, TokenRow};
use crate::state::AppState;

pub const PER_PAGE: u32 = 20;

/// The owners the user may give a fine-grained token: their account, and the organizations they
/// belong to that allow fine-grained tokens (rule 11).
pub async fn owner_choices(state: &AppState, signed: &SignedIn) -> WebResult<Vec<OwnerChoice>> {
    let mut owners = vec![OwnerChoice {
        login: signed.user.login.clone(),
        kind: AccountKind::User,
        policy: None,
        is_owner: true,
    }];
    for (org, role) in &signed.orgs {
        let policy = state.app.effective_policy(org.id).await?;
        if policy.fine_grained.0 == Access::Allow {
            owners.push(OwnerChoice {
                login: org.login.clone(),
                kind: AccountKind::Organization,
                policy: Some(policy),
                is_owner: *role == OrgRole::Owner,
            });
        }
    }
    Ok(owners)
}

fn owner_id(signed: &SignedIn, login: &str) -> Option<AccountId> {
    if login.eq_ignore_ascii_case(&signed.user.login) {
        return Some(signed.user.id);
    }
    signed
        .orgs
        .iter()
        .find(|(o, _)| o.login.eq_ignore_ascii_case(login))
        .map(|(o, _)| o.id)
}

async fn repo_choices(state: &AppState, owner: Option<AccountId>) -> WebResult<Vec<RepoChoice>> {
    let Some(owner) = owner else {
        return Ok(Vec::new());
    };
    let repos = state
        .app
        .store()
        .repos_of_owner(owner)
        .await
        .map_err(AppError::from)?;
    Ok(repos
        .into_iter()
        .map(|r| RepoChoice {
            name: r.name,
            visibility: r.visibility,
        })
        .collect())
}

/// The logins of the resource owners the tokens name (one lookup per distinct owner).
pub async fn owner_logins(
    state: &AppState,
    signed: &SignedIn,
    tokens: &[Token],
) -> WebResult<HashMap<AccountId, String>> {
    let mut logins: HashMap<AccountId, String> = HashMap::new();
    logins.insert(signed.user.id, signed.user.login.clone());
    for (org, _) in &signed.orgs {
        logins.insert(org.id, org.login.clone());
    }
    for t in tokens {
        if let TokenGrant::FineGrained { resource_owner, .. } = &t.grant
            && !logins.contains_key(resource_owner)
        {
            let store = state.app.store();
            let login = match store
                .org_by_id(*resource_owner)
                .await
                .map_err(AppError::from)?
            {
                Some(o) => o.login,
                None => store
                    .user_by_id(*resource_owner)
                    .await
                    .map_err(AppError::from)?
                    .map_or_else(|| format!("#{}", resource_owner.0), |u| u.login),
            };
            logins.insert(*resource_owner, login);
        }
    }
    Ok(logins)
}

/// The token just created or regenerated, shown once.
pub struct Revealed {
    pub secret: String,
    pub name: String,
    pub pending_owner: Option<String>,
}

#[derive(Template)]
#[template(path = "tokens/list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<TokenRow>,
    pager: Pager,
    revealed: Option<Revealed>,
    email_verified: bool,
}

fn page_param(query: &Option<String>) -> u32 {
    query
        .as_deref()
        .map(|q| FormData::parse(q.as_bytes()))
        .and_then(|f| f.get("page").and_then(|p| p.parse().ok()))
        .unwrap_or(1)
}

async fn list_page(
    state: &AppState,
    signed: &SignedIn,
    page: u32,
    revealed: Option<Revealed>,
    notice: Option<Notice>,
) -> WebResult<Response> {
    let listed = state
        .app
        .tokens_page(&signed.user, TokenKind::FineGrained, page.max(1), PER_PAGE)
        .await?;
    let pager = Pager::new(
        listed.total,
        listed.page,
        PER_PAGE,
        "/settings/personal-access-tokens",
    );
    let owners = owner_logins(state, signed, &listed.items).await?;
    let now = state.app.now();
    let rows = listed
        .items
        .iter()
        .map(|t| views::row(t, &owners, now))
        .collect();
    Ok(page::ok(&ListPage {
        chrome: signed.chrome(Nav::FineGrained).with_notice(notice),
        rows,
        pager,
        revealed,
        email_verified: signed.user.email_verified,
    }))
}

pub async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (notice, clear) = flash::take(&state, &headers);
    match list_page(&state, &signed, page_param(&query), None, notice).await {
        Ok(r) => (clear, r).into_response(),
        Err(e) => e.page(Some(&signed.chrome(Nav::FineGrained))),
    }
}

#[derive(Template)]
#[template(path = "tokens/form.html")]
struct FormPage {
    chrome: Chrome,
    form: TokenForm,
    /// `Some(id)` when editing a token.
    editing: Option<i64>,
    email_verified: bool,
}

async fn form_page(
    state: &AppState,
    signed: &SignedIn,
    input: TokenInput,
    errors: BTreeMap<String, Vec<String>>,
    notes: Vec<String>,
    status: StatusCode,
    editing: Option<i64>,
) -> WebResult<Response> {
    let owners = owner_choices(state, signed).await?;
    let repos = repo_choices(state, owner_id(signed, &input.owner)).await?;
    let form = token_form::build(input, &owners, &repos, errors, notes, state.app.now());
    Ok(page::render(
        status,
        &FormPage {
            chrome: signed.chrome(Nav::FineGrained),
            form,
            editing,
            email_verified: signed.user.email_verified,
        },
    ))
}

/// `GET /settings/personal-access-tokens/new`, pre-filled from a template link's parameters
/// (seed 004), or from the form itself when it was sent back to show another owner's choices.
pub async fn new(
    State(state): State<AppState>,
    signed: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let form = FormData::parse(query.unwrap_or_default().as_bytes());
    let owners = match owner_choices(&state, &signed).await {
        Ok(o) => o,
        Err(e) => return e.page(Some(&signed.chrome(Nav::FineGrained))),
    };
    let mut errors = BTreeMap::new();
    let mut notes = Vec::new();
    let input = token_form::input_from_query(
        &form,
        &signed.user.login,
        &owners,
        state.app.now(),
        &mut errors,
        &mut notes,
    );
    // The form sent back to refresh (another owner chosen) is not a template link with
    // problems to point out: only what the user typed counts, and that is checked on submit.
    if form.get("refresh").is_some() {
        errors.retain(|k, _| k == "resource_owner");
        notes.clear();
    }
    form_page(&state, &signed, input, errors, notes, StatusCode::OK, None)
        .await
        .unwrap_or_else(|e| e.page(Some(&signed.chrome(Nav::FineGrained))))
}

/// `POST /settings/personal-access-tokens`: generate, then show the token once.
pub async fn create(State(state): State<AppState>, signed: SignedIn, form: FormData) -> Response {
    let input = token_form::input_from_form(&form);
    let mut errors = BTreeMap::new();
    {
        let request = CreateFineGrained {
            name: input.name.clone(),
            description: Some(input.description.clone()).filter(|d| !d.trim().is_empty()),
            justification: Some(input.justification.clone()).filter(|d| !d.trim().is_empty()),
            resource_owner: Some(input.owner.clone()).filter(|o| !o.is_empty()),
            expiration: Some(token_form::expiration_of(&input)),
            repository_selection: Some(token_form::selection_of(&input)),
            repositories: if input.selection == "subset" {
                input.repositories.clone()
            } else {
                Vec::new()
            },
            permissions: token_form::requested_permissions(&input),
        };
        match state.app.create_fine_grained(&signed.user, request).await {
            Ok(Issued { token, secret }) => {
                let pending_owner = match &token.grant {
                    TokenGrant::FineGrained {
                        state: GrantState::Pending,
                        ..
                    } => Some(input.owner.clone()),
                    _ => None,
                };
                let revealed = Revealed {
                    secret: secret.expose().to_owned(),
                    name: token.name.clone(),
                    pending_owner,
                };
                return list_page(&state, &signed, 1, Some(revealed), None)
                    .await
                    .unwrap_or_else(|e| e.page(Some(&signed.chrome(Nav::FineGrained))));
            }
            Err(AppError::Validation(v)) => token_form::file_errors(&v, &mut errors),
            Err(e) => return WebError::from(e).page(Some(&signed.chrome(Nav::FineGrained))),
        }
    }
    form_page(
        &state,
        &signed,
        input,
        errors,
        Vec::new(),
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    )
    .await
    .unwrap_or_else(|e| e.page(Some(&signed.chrome(Nav::FineGrained))))
}

#[derive(Template)]
#[template(path = "tokens/show.html")]
struct ShowPage {
    chrome: Chrome,
    token: TokenView,
    why: WhyView,
}

/// The token page's "Why?" section: a request to explain (a REST route), and its explanation.
#[derive(Default)]
pub struct WhyView {
    pub method: String,
    pub path: String,
    pub answer: Option<WhyAnswer>,
    pub problem: Option<String>,
}

pub struct WhyAnswer {
    pub allowed: bool,
    pub summary: String,
    pub sets: Vec<Vec<WhyRequirementView>>,
}

pub struct WhyRequirementView {
    pub requirement: String,
    pub allowed: bool,
    pub steps: Vec<WhyStepView>,
}

pub struct WhyStepView {
    pub passed: bool,
    pub code: &'static str,
    pub design_rule: u8,
    pub title: &'static str,
    pub detail: String,
}

#[derive(serde::Deserialize, Default)]
pub struct WhyQuery {
    why_method: Option<String>,
    why_path: Option<String>,
}

/// Explains the route the page was asked about, for the token's owner (the same explanation
/// as `POST /user/personal-access-tokens/{id}/why`).
async fn why_view(state: &AppState, signed: &SignedIn, token: &Token, q: WhyQuery) -> WhyView {
    let (Some(method), Some(path)) = (q.why_method, q.why_path.filter(|p| !p.is_empty())) else {
        return WhyView {
            method: "GET".into(),
            ..WhyView::default()
        };
    };
    let need = crate::api::platform::NeedBody {
        route: Some(crate::api::platform::RouteBody {
            method: method.clone(),
            path: path.clone(),
        }),
        ..Default::default()
    };
    let explained = crate::api::platform::explain_own(
        state,
        &signed.user,
        token.id,
        TokenKind::FineGrained,
        &need,
    )
    .await;
    let mut view = WhyView {
        method,
        path,
        ..WhyView::default()
    };
    match explained {
        Ok(why) => {
            let (allowed, summary) = match &why.decision {
                patgate_domain::authz::Decision::Allow => {
                    (true, format!("Allowed on {}.", why.resource))
                }
                patgate_domain::authz::Decision::Deny(d) => (
                    false,
                    format!(
                        "Refused on {}: {} {}.",
                        why.resource,
                        d.status.code(),
                        d.message
                    ),
                ),
            };
            view.answer = Some(WhyAnswer {
                allowed,
                summary,
                sets: why
                    .sets
                    .iter()
                    .map(|set| {
                        set.iter()
                            .map(|r| WhyRequirementView {
                                requirement: r.requirement.clone(),
                                allowed: r.allowed,
                                steps: r
                                    .steps
                                    .iter()
                                    .map(|s| WhyStepView {
                                        passed: s.passed,
                                        code: s.rule.code,
                                        design_rule: s.rule.design_rule,
                                        title: s.rule.title,
                                        detail: s.detail.clone(),
                                    })
                                    .collect(),
                            })
                            .collect()
                    })
                    .collect(),
            });
        }
        Err(e) => view.problem = Some(e.message.clone()),
    }
    view
}

/// Everything a token's page shows.
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub owner: String,
    pub owner_is_org: bool,
    pub status: views::Status,
    pub state_text: String,
    pub created: String,
    pub expiry: String,
    pub last_used: String,
    pub last_eight: String,
    pub granted: Option<AccessView>,
    pub requested: Option<AccessView>,
    pub request: Option<RequestView>,
    pub expired: bool,
}

pub struct RequestView {
    pub status: &'static str,
    pub class: &'static str,
    pub created: String,
    pub justification: Option<String>,
    pub decided: Option<String>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

async fn token_view(state: &AppState, signed: &SignedIn, token: &Token) -> WebResult<TokenView> {
    let now = state.app.now();
    let owners = owner_logins(state, signed, std::slice::from_ref(token)).await?;
    let TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        requested,
        granted,
        state: grant_state,
    } = &token.grant
    else {
        return Err(WebError::NotFound);
    };
    let owner = owners
        .get(resource_owner)
        .cloned()
        .unwrap_or_else(|| format!("#{}", resource_owner.0));
    let mut ids: Vec<RepoId> = requested.repositories.clone();
    if let Some(g) = granted {
        ids.extend(g.repositories.iter().copied());
    }
    ids.sort_unstable();
    ids.dedup();
    let repo_names: HashMap<RepoId, String> = state
        .app
        .store()
        .repos_by_ids(&ids)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let granted_view = granted
        .as_ref()
        .map(|g| views::access_view(g, &owner, &repo_names));
    let requested_view = (granted.as_ref() != Some(requested))
        .then(|| views::access_view(requested, &owner, &repo_names));
    let state_text = match grant_state {
        GrantState::NotRequired => "Access to your own account needs no approval.".to_owned(),
        GrantState::Approved if granted.as_ref() != Some(requested) => format!(
            "Approved by {owner}. The changes you asked for wait for an owner's review; the approved access keeps working until then."
        ),
        GrantState::Approved => format!("Approved: the access below is in force on {owner}."),
        GrantState::Pending => format!(
            "Pending: an owner of {owner} has to approve this token. Until then it can only read public resources."
        ),
        GrantState::Denied => format!(
            "Denied: an owner of {owner} refused this token's request. It can only read public resources."
        ),
        GrantState::Revoked => {
            "Revoked: an organization owner revoked this token's access. It can only read public resources.".to_owned()
        }
    };
    let request = latest_request(state, token).await?;
    Ok(TokenView {
        id: token.id.0,
        name: token.name.clone(),
        description: token.description.clone(),
        owner,
        owner_is_org: *resource_owner_kind == AccountKind::Organization,
        status: views::status(token, now),
        state_text,
        created: date_time(token.created_at),
        expiry: views::expiry_text(token, now),
        last_used: views::last_used_text(token, now),
        last_eight: token.last_eight.clone(),
        granted: granted_view,
        requested: requested_view,
        request,
        expired: token.is_expired(now),
    })
}

/// The token's most recent request to its organization, with the reviewer's decision.
async fn latest_request(state: &AppState, token: &Token) -> WebResult<Option<RequestView>> {
    let store = state.app.store();
    let Some(request) = store
        .latest_request_of_token(token.id)
        .await
        .map_err(AppError::from)?
    else {
        return Ok(None);
    };
    let decided_by = match request.decided_by {
        Some(id) => store
            .user_by_id(id)
            .await
            .map_err(AppError::from)?
            .map(|u| u.login),
        None => None,
    };
    let (status, class) = match request.status {
        patgate_store::RequestStatus::Pending => ("Pending", "label label-attention"),
        patgate_store::RequestStatus::Approved => ("Approved", "label label-success"),
        patgate_store::RequestStatus::Denied => ("Denied", "label label-danger"),
        patgate_store::RequestStatus::Cancelled => ("Cancelled", "label"),
    };
    Ok(Some(RequestView {
        status,
        class,
        created: date_time(request.created_at),
        justification: request.reason.clone(),
        decided: request.decided_at.map(date_time),
        decided_by,
        reason: request.decision_reason.clone(),
    }))
}

async fn own_fine_grained(state: &AppState, signed: &SignedIn, id: i64) -> WebResult<Token> {
    let token = state.app.own_token(&signed.user, TokenId(id)).await?;
    if token.kind() != TokenKind::FineGrained {
        return Err(WebError::NotFound);
    }
    Ok(token)
}

pub async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::extract::Query(why): axum::extract::Query<WhyQuery>,
) -> Response {
    let chrome = signed.chrome(Nav::FineGrained);
    let Ok(id) = id.parse::<i64>() else {
        return WebError::NotFound.page(Some(&chrome));
    };
    let (notice, clear) = flash::take(&state, &headers);
    let result = async {
        let token = own_fine_grained(&state, &signed, id).await?;
        let view = token_view(&state, &signed, &token).await?;
        Ok::<_, WebError>((view, why_view(&state, &signed, &token, why).await))
    }
    .await;
    match result {
        Ok((token, why)) => (
            clear,
            page::ok(&ShowPage {
                chrome: chrome.with_notice(notice),
                token,
                why,
            }),
        )
            .into_response(),
        Err(e) => e.page(Some(&chrome)),
    }
}

/// The form of an existing token: its description, repositories and permissions as requested.
fn input_of(token: &Token, owner: &str) -> TokenInput {
    let (selection, repositories, permissions) = match &token.grant {
        TokenGrant::FineGrained { requested, .. } => (
            requested.selection.as_str().to_owned(),
            requested
                .repositories
                .iter()
                .map(|r| r.0.to_string())
                .collect(),
            requested.permissions,
        ),
        _ => ("none".to_owned(), Vec::new(), Default::default()),
    };
    TokenInput {
        name: token.name.clone(),
        description: token.description.clone().unwrap_or_default(),
        justification: String::new(),
        owner: owner.to_owned(),
        expiration: "30".to_owned(),
        expires_on: String::new(),
        selection,
        repositories,
        permissions,
    }
}

async fn edit_input(state: &AppState, signed: &SignedIn, token: &Token) -> WebResult<TokenInput> {
    let owners = owner_logins(state, signed, std::slice::from_ref(token)).await?;
    let owner = match &token.grant {
        TokenGrant::FineGrained { resource_owner, .. } => {
            owners.get(resource_owner).cloned().unwrap_or_default()
        }
        _ => String::new(),
    };
    let mut input = input_of(token, &owner);
    // The form's repository picker lists names: turn the stored ids back into them.
    let ids: Vec<RepoId> = input
        .repositories
        .iter()
        .filter_map(|s| s.parse().ok().map(RepoId))
        .collect();
    input.repositories = state
        .app
        .store()
        .repos_by_ids(&ids)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|r| r.name)
        .collect();
    Ok(input)
}

pub async fn edit(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let chrome = signed.chrome(Nav::FineGrained);
    let Ok(id) = id.parse::<i64>() else {
        return WebError::NotFound.page(Some(&chrome));
    };
    let result = async {
        let token = own_fine_grained(&state, &signed, id).await?;
        let input = edit_input(&state, &signed, &token).await?;
        form_page(
            &state,
            &signed,
            input,
            BTreeMap::new(),
            Vec::new(),
            StatusCode::OK,
            Some(id),
        )
        .await
    }
    .await;
    result.unwrap_or_else(|e| e.page(Some(&chrome)))
}

/// `POST /settings/personal-access-tokens/{id}`: saves an edit. Raising an organization
/// token's access sends a new request to the owners; the approved access keeps working.
pub async fn update(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    let chrome = signed.chrome(Nav::FineGrained);
    let Ok(id) = id.parse::<i64>() else {
        return WebError::NotFound.page(Some(&chrome));
    };
    let token = match own_fine_grained(&state, &signed, id).await {
        Ok(t) => t,
        Err(e) => return e.page(Some(&chrome)),
    };
    let mut input = token_form::input_from_form(&form);
    // The name, owner and expiry of a token are not edited here.
    let current = match edit_input(&state, &signed, &token).await {
        Ok(i) => i,
        Err(e) => return e.page(Some(&chrome)),
    };
    input.name = current.name.clone();
    input.owner = current.owner.clone();
    let edit = EditFineGrained {
        description: Some(Some(input.description.clone()).filter(|d| !d.trim().is_empty())),
        justification: Some(input.justification.clone()).filter(|d| !d.trim().is_empty()),
        repository_selection: Some(token_form::selection_of(&input)),
        repositories: Some(if input.selection == "subset" {
            input.repositories.clone()
        } else {
            Vec::new()
        }),
        permissions: Some(token_form::requested_permissions(&input)),
    };
    let mut errors = BTreeMap::new();
    match state
        .app
        .edit_fine_grained(&signed.user, token.id, edit)
        .await
    {
        Ok(updated) => {
            let message = if patgate_app::tokens::has_pending_request(&updated)
                && !patgate_app::tokens::has_pending_request(&token)
            {
                format!(
                    "Saved. The added access is waiting for an owner of {} to approve it; the approved access keeps working until then.",
                    current.owner
                )
            } else {
                "Your changes were saved.".to_owned()
            };
            let to = format!("/settings/personal-access-tokens/{id}");
            return (flash::set(&state, &message), page::see_other(&to)).into_response();
        }
        Err(AppError::Validation(v)) => token_form::file_errors(&v, &mut errors),
        Err(e) => return WebError::from(e).page(Some(&chrome)),
    }
    form_page(
        &state,
        &signed,
        input,
        errors,
        Vec::new(),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(id),
    )
    .await
    .unwrap_or_else(|e| e.page(Some(&chrome)))
}

#[derive(Template)]
#[template(path = "tokens/regenerate.html")]
struct RegeneratePage {
    chrome: Chrome,
    kind_path: &'static str,
    id: i64,
    name: String,
    expiry: String,
    expirations: Vec<token_form::SelectOption>,
    error: Option<String>,
    today: String,
    last_day: String,
}

/// The regenerate page of either kind.
pub async fn regenerate_page(
    state: &AppState,
    signed: &SignedIn,
    token: &Token,
    nav: Nav,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let now = state.app.now();
    let max_days = match &token.grant {
        TokenGrant::FineGrained {
            resource_owner,
            resource_owner_kind: AccountKind::Organization,
            ..
        } => match state.app.effective_policy(*resource_owner).await {
            Ok(p) => p.max_lifetime_days(token.kind()).map(|(d, _)| d),
            Err(e) => return WebError::from(e).page(Some(&signed.chrome(nav))),
        },
        _ => None,
    };
    let mut expirations: Vec<token_form::SelectOption> = token_form::PRESETS
        .iter()
        .filter(|d| max_days.is_none_or(|m| **d <= m))
        .map(|d| token_form::SelectOption {
            value: d.to_string(),
            label: format!("{d} days"),
            selected: *d == 30,
        })
        .collect();
    expirations.push(token_form::SelectOption {
        value: "custom".into(),
        label: "Custom…".into(),
        selected: false,
    });
    if max_days.is_none() {
        expirations.push(token_form::SelectOption {
            value: "none".into(),
            label: "No expiration".into(),
            selected: false,
        });
    }
    let last = now
        + time::Duration::days(i64::from(
            max_days.unwrap_or(patgate_domain::validate::MAX_EXPIRY_DAYS),
        ));
    page::render(
        status,
        &RegeneratePage {
            chrome: signed.chrome(nav),
            kind_path: if token.kind() == TokenKind::Classic {
                "/settings/tokens"
            } else {
                "/settings/personal-access-tokens"
            },
            id: token.id.0,
            name: token.name.clone(),
            expiry: views::expiry_text(token, now),
            expirations,
            error,
            today: token_form::iso_date((now + time::Duration::days(1)).date()),
            last_day: token_form::iso_date(last.date()),
        },
    )
}

pub async fn regenerate_form(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let chrome = signed.chrome(Nav::FineGrained);
    let Ok(id) = id.parse::<i64>() else {
        return WebError::NotFound.page(Some(&chrome));
    };
    match own_fine_grained(&state, &signed, id).await {
        Ok(token) => {
            regenerate_page(
                &state,
                &signed,
                &token,
                Nav::FineGrained,
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(e) => e.page(Some(&chrome)),
    }
}

/// Regenerates a token of either kind from the regenerate form; the new secret is shown once.
pub async fn regenerate_token(
    state: &AppState,
    signed: &SignedIn,
    token: &Token,
    nav: Nav,
    form: &FormData,
) -> Result<Issued, Response> {
    let input = TokenInput {
        expiration: form.get("expiration").unwrap_or("30").to_owned(),
        expires_on: form.get("expires_on").unwrap_or("").to_owned(),
        ..TokenInput::default()
    };
    let expiration = token_form::expiration_of(&input);
    match state
        .app
        .regenerate(&signed.user, token.id, Some(expiration))
        .await
    {
        Ok(issued) => Ok(issued),
        Err(AppError::Validation(v)) => {
            let message =
                v.0.iter()
                    .map(|f| token_form::sentence(&f.message))
                    .collect::<Vec<_>>()
                    .join(" ");
            Err(regenerate_page(
                state,
                signed,
                token,
                nav,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await)
        }
        Err(e) => Err(WebError::from(e).page(Some(&signed.chrome(nav)))),
    }
}

pub async fn regenerate(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    let chrome = signed.chrome(Nav::FineGrained);
    let Ok(id) = id.parse::<i64>() else {
        return WebError::NotFound.page(Some(&chrome));
    };
    let token = match own_fine_grained(&state, &signed, id).await {
        Ok(t) => t,
        Err(e) => return e.page(Some(&chrome)),
    };
    match regenerate_token(&state, &signed, &token, Nav::FineGrained, &form).await {
        Ok(Issued { token, secret }) => {
            let revealed = Revealed {
                secret: secret.expose().to_owned(),
                name: token.name.clone(),
                pending_owner: None,
            };
            list_page(&state, &signed, 1, Some(revealed), None)
                .await
                .unwrap_or_else(|e| e.page(Some(&chrome)))
        }
        Err(response) => response,
    }
}

#[derive(Template)]
#[template(path = "tokens/delete.html")]
struct DeletePage {
    chrome: Chrome,
    kind_path: &'static str,
    kind_name: &'static str,
    id: i64,
    name: String,
}

pub fn delete_page(signed: &SignedIn, token: &Token, nav: Nav) -> Response {
    let classic = token.kind() == TokenKind::Classic;
    page::ok(&DeletePage {
        chrome: signed.chrome(nav),
        kind_path: if classic {
            "/settings/tokens"
        } else {
            "/settings/personal-access-tokens"
        },
        kind_name: if classic {
            "personal access token (classic)"
        } else {
            "fine-grained personal access token"
        },
        id: token.id.0,
        name: token.name.clone(),
    })
}

pub async fn delete_form(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let chrome = signed.chrome(Nav::FineGrained);
    let Ok(id) = id.parse::<i64>() else {
        return WebError::NotFound.page(Some(&chrome));
    };
    match own_fine_grained(&state, &signed, id).await {
        Ok(token) => delete_page(&signed, &token, Nav::FineGrained),
        Err(e) => e.page(Some(&chrome)),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let chrome = signed.chrome(Nav::FineGrained);
    let Ok(id) = id.parse::<i64>() else {
        return WebError::NotFound.page(Some(&chrome));
    };
    let token = match own_fine_grained(&state, &signed, id).await {
        Ok(t) => t,
        Err(e) => return e.page(Some(&chrome)),
    };
    match state.app.delete_token(&signed.user, token.id).await {
        Ok(_) => (
            flash::set(&state, &format!("Deleted the token “{}”.", token.name)),
            page::see_other("/settings/personal-access-tokens"),
        )
            .into_response(),
        Err(e) => WebError::from(e).page(Some(&chrome)),
    }
}
