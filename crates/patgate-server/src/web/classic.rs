//! The user's classic tokens: the list, generating one (pre-filled from
//! `?scopes=repo,gist&description=…` as GitHub does), a token's page with its scopes (editable),
//! regenerating and deleting.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use patgate_app::AppError;
use patgate_app::tokens::{CreateClassic, Issued};
use patgate_domain::model::{Token, TokenGrant, TokenId};
use patgate_domain::scopes::{Scope, Scopes};
use patgate_domain::token::TokenKind;

use super::flash;
use super::form::FormData;
use super::page::{self, Chrome, Nav, Notice, WebError, WebResult, date_time};
use super::session::SignedIn;
use super::token_form::{self, SelectOption, TokenInput};
use super::tokens::{PER_PAGE, Revealed, delete_page, regenerate_page, regenerate_token};
use super::views::{self, Pager, TokenRow};
use crate::state::AppState;

/// What each top-level scope (and its children) lets a token do, in GitHub's words.
fn scope_description(scope: Scope) -> &'static str {
    match scope.name() {
        "repo" => "Full control of private repositories",
        "repo:status" => "Access commit status",
        "repo_deployment" => "Access deployment status",
        "public_repo" => "Access public repositories",
        "repo:invite" => "Access repository invitations",
        "security_events" => "Read and write security events",
        "workflow" => "Update GitHub Action workflows",
        "write:packages" => "Upload packages to GitHub Package Registry",
        "read:packages" => "Download packages from GitHub Package Registry",
        "delete:packages" => "Delete packages from GitHub Package Registry",
        "admin:org" => "Full control of orgs and teams, read and write org projects",
        "write:org" => "Read and write org and team membership, read and write org projects",
        "read:org" => "Read org and team membership, read org projects",
        "manage_runners:org" => "Manage org runners and runner groups",
        "admin:public_key" => "Full control of user public keys",
        "write:public_key" => "Write user public keys",
        "read:public_key" => "Read user public keys",
        "admin:repo_hook" => "Full control of repository hooks",
        "write:repo_hook" => "Write repository hooks",
        "read:repo_hook" => "Read repository hooks",
        "admin:org_hook" => "Full control of organization hooks",
        "gist" => "Create gists",
        "notifications" => "Access notifications",
        "user" => "Update ALL user data",
        "read:user" => "Read ALL user profile data",
        "user:email" => "Access user email addresses (read-only)",
        "user:follow" => "Follow and unfollow users",
        "delete_repo" => "Delete repositories",
        "write:discussion" => "Read and write team discussions",
        "read:discussion" => "Read team discussions",
        "admin:enterprise" => "Full control of enterprises",
        "manage_runners:enterprise" => "Manage enterprise runners and runner groups",
        "manage_billing:enterprise" => "Read and write enterprise billing data",
        "read:enterprise" => "Read enterprise profile data",
        "scim:enterprise" => "Provisioning of users and groups via SCIM",
        "audit_log" => "Full control of audit log",
        "read:audit_log" => "Read access of audit log",
        "codespace" => "Full control of codespaces",
        "codespace:secrets" => "Ability to create, read, update, and delete codespace secrets",
        "copilot" => "Full control of GitHub Copilot settings and seat assignments",
        "manage_billing:copilot" => "View and edit Copilot Business seat assignments",
        "project" => "Full control of projects",
        "read:project" => "Read access of projects",
        "admin:gpg_key" => "Full control of public user GPG keys",
        "write:gpg_key" => "Write public user GPG keys",
        "read:gpg_key" => "Read public user GPG keys",
        "admin:ssh_signing_key" => "Full control of public user SSH signing keys",
        "write:ssh_signing_key" => "Write public user SSH signing keys",
        "read:ssh_signing_key" => "Read public user SSH signing keys",
        "write:network_configurations" => "Write org hosted compute network configurations",
        "read:network_configurations" => "Read org hosted compute network configurations",
        "site_admin" => "Full control of the platform's administration API",
        _ => "",
    }
}

/// A scope's checkbox: checked when chosen or implied by a chosen parent.
#[derive(Clone, Debug)]
pub struct ScopeBox {
    pub name: &'static str,
    pub description: &'static str,
    pub checked: bool,
    /// The parent scope, for the script that checks children with their parent.
    pub parent: &'static str,
    pub depth: usize,
}

/// A top-level scope with its children, as the form groups them.
#[derive(Clone, Debug)]
pub struct ScopeGroup {
    pub boxes: Vec<ScopeBox>,
}

fn depth(scope: Scope) -> usize {
    let mut d = 0;
    let mut at = scope;
    while let Some(p) = at.parent() {
        d += 1;
        at = p;
    }
    d
}

fn root(scope: Scope) -> Scope {
    let mut at = scope;
    while let Some(p) = at.parent() {
        at = p;
    }
    at
}

pub fn scope_groups(chosen: &[String]) -> Vec<ScopeGroup> {
    let chosen: Vec<Scope> = chosen.iter().filter_map(|n| Scope::from_name(n)).collect();
    let mut groups: Vec<ScopeGroup> = Vec::new();
    let mut index: HashMap<Scope, usize> = HashMap::new();
    for scope in Scope::all() {
        let top = root(scope);
        let i = *index.entry(top).or_insert_with(|| {
            groups.push(ScopeGroup { boxes: Vec::new() });
            groups.len() - 1
        });
        if let Some(group) = groups.get_mut(i) {
            group.boxes.push(ScopeBox {
                name: scope.name(),
                description: scope_description(scope),
                checked: chosen.iter().any(|c| c.implies(scope)),
                parent: scope.parent().map_or("", Scope::name),
                depth: depth(scope),
            });
        }
    }
    groups
}

#[derive(Template)]
#[template(path = "classic/list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<TokenRow>,
    pager: Pager,
    revealed: Option<Revealed>,
    email_verified: bool,
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
        .tokens_page(&signed.user, TokenKind::Classic, page.max(1), PER_PAGE)
        .await?;
    let pager = Pager::new(listed.total, listed.page, PER_PAGE, "/settings/tokens");
    let now = state.app.now();
    let rows = listed
        .items
        .iter()
        .map(|t| views::row(t, &HashMap::new(), now))
        .collect();
    Ok(page::ok(&ListPage {
        chrome: signed.chrome(Nav::Classic).with_notice(notice),
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
    let page = query
        .as_deref()
        .map(|q| FormData::parse(q.as_bytes()))
        .and_then(|f| f.get("page").and_then(|p| p.parse().ok()))
        .unwrap_or(1);
    match list_page(&state, &signed, page, None, notice).await {
        Ok(r) => (clear, r).into_response(),
        Err(e) => e.page(Some(&signed.chrome(Nav::Classic))),
    }
}

#[derive(Template)]
#[template(path = "classic/form.html")]
struct FormPage {
    chrome: Chrome,
    note: String,
    groups: Vec<ScopeGroup>,
    expirations: Vec<SelectOption>,
    expires_on: String,
    errors: Vec<(String, String)>,
    today: String,
    last_day: String,
    email_verified: bool,
}

impl FormPage {
    fn error(&self, field: &str) -> Option<String> {
        let messages: Vec<&str> = self
            .errors
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join(" "))
    }
}

fn expirations(selected: &str) -> Vec<SelectOption> {
    let mut out: Vec<SelectOption> = token_form::PRESETS
        .iter()
        .map(|d| SelectOption {
            value: d.to_string(),
            label: format!("{d} days"),
            selected: selected == d.to_string(),
        })
        .collect();
    out.push(SelectOption {
        value: "custom".into(),
        label: "Custom…".into(),
        selected: selected == "custom",
    });
    out.push(SelectOption {
        value: "none".into(),
        label: "No expiration".into(),
        selected: selected == "none",
    });
    out
}

fn form_page(
    state: &AppState,
    signed: &SignedIn,
    input: &ClassicInput,
    errors: Vec<(String, String)>,
    status: StatusCode,
) -> Response {
    let now = state.app.now();
    page::render(
        status,
        &FormPage {
            chrome: signed.chrome(Nav::Classic),
            note: input.note.clone(),
            groups: scope_groups(&input.scopes),
            expirations: expirations(&input.expiration),
            expires_on: input.expires_on.clone(),
            errors,
            today: token_form::iso_date((now + time::Duration::days(1)).date()),
            last_day: token_form::iso_date(
                (now + time::Duration::days(i64::from(patgate_domain::validate::MAX_EXPIRY_DAYS)))
                    .date(),
            ),
            email_verified: signed.user.email_verified,
        },
    )
}

struct ClassicInput {
    note: String,
    scopes: Vec<String>,
    expiration: String,
    expires_on: String,
}

/// `GET /settings/tokens/new?scopes=repo,gist&description=…`: GitHub's pre-filling link.
pub async fn new(
    State(state): State<AppState>,
    signed: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let q = FormData::parse(query.unwrap_or_default().as_bytes());
    let mut errors = Vec::new();
    let scopes: Vec<String> = q
        .get("scopes")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for unknown in scopes.iter().filter(|s| Scope::from_name(s).is_none()) {
        errors.push(("scopes".to_owned(), format!("Unknown scope: {unknown}.")));
    }
    let note = q.get("description").or_else(|| q.get("note")).unwrap_or("");
    let input = ClassicInput {
        note: note.to_owned(),
        scopes,
        expiration: "30".to_owned(),
        expires_on: String::new(),
    };
    form_page(&state, &signed, &input, errors, StatusCode::OK)
}

pub async fn create(State(state): State<AppState>, signed: SignedIn, form: FormData) -> Response {
    let input = ClassicInput {
        note: form.get("note").unwrap_or("").to_owned(),
        scopes: form.all("scopes").into_iter().map(str::to_owned).collect(),
        expiration: form.get("expiration").unwrap_or("30").to_owned(),
        expires_on: form.get("expires_on").unwrap_or("").to_owned(),
    };
    let mut errors = Vec::new();
    let expiration = Some(token_form::expiration_of(&TokenInput {
        expiration: input.expiration.clone(),
        expires_on: input.expires_on.clone(),
        ..TokenInput::default()
    }));
    {
        let request = CreateClassic {
            note: input.note.clone(),
            scopes: input.scopes.clone(),
            expiration,
        };
        match state.app.create_classic(&signed.user, request).await {
            Ok(Issued { token, secret }) => {
                let revealed = Revealed {
                    secret: secret.expose().to_owned(),
                    name: token.name.clone(),
                    pending_owner: None,
                };
                return list_page(&state, &signed, 1, Some(revealed), None)
                    .await
                    .unwrap_or_else(|e| e.page(Some(&signed.chrome(Nav::Classic))));
            }
            Err(AppError::Validation(v)) => {
                for f in &v.0 {
                    let field = if f.field == "expires_in" {
                        "expires_at"
                    } else {
                        f.field
                    };
                    errors.push((field.to_owned(), token_form::sentence(&f.message)));
                }
            }
            Err(e) => return WebError::from(e).page(Some(&signed.chrome(Nav::Classic))),
        }
    }
    form_page(
        &state,
        &signed,
        &input,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

#[derive(Template)]
#[template(path = "classic/show.html")]
struct ShowPage {
    chrome: Chrome,
    id: i64,
    name: String,
    status: views::Status,
    created: String,
    expiry: String,
    last_used: String,
    last_eight: String,
    groups: Vec<ScopeGroup>,
    error: Option<String>,
}

async fn own_classic(state: &AppState, signed: &SignedIn, id: &str) -> WebResult<Token> {
    let id: i64 = id.parse().map_err(|_| WebError::NotFound)?;
    let token = state.app.own_token(&signed.user, TokenId(id)).await?;
    if token.kind() != TokenKind::Classic {
        return Err(WebError::NotFound);
    }
    Ok(token)
}

fn show_page(
    state: &AppState,
    signed: &SignedIn,
    token: &Token,
    notice: Option<Notice>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let now = state.app.now();
    let scopes: Vec<String> = match &token.grant {
        TokenGrant::Classic { scopes } => {
            scopes.list().iter().map(|s| s.name().to_owned()).collect()
        }
        _ => Vec::new(),
    };
    page::render(
        status,
        &ShowPage {
            chrome: signed.chrome(Nav::Classic).with_notice(notice),
            id: token.id.0,
            name: token.name.clone(),
            status: views::status(token, now),
            created: date_time(token.created_at),
            expiry: views::expiry_text(token, now),
            last_used: views::last_used_text(token, now),
            last_eight: token.last_eight.clone(),
            groups: scope_groups(&scopes),
            error,
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (notice, clear) = flash::take(&state, &headers);
    match own_classic(&state, &signed, &id).await {
        Ok(token) => (
            clear,
            show_page(&state, &signed, &token, notice, None, StatusCode::OK),
        )
            .into_response(),
        Err(e) => e.page(Some(&signed.chrome(Nav::Classic))),
    }
}

/// `POST /settings/tokens/{id}`: replaces the scopes.
pub async fn update(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    let token = match own_classic(&state, &signed, &id).await {
        Ok(t) => t,
        Err(e) => return e.page(Some(&signed.chrome(Nav::Classic))),
    };
    let scopes: Vec<String> = form.all("scopes").into_iter().map(str::to_owned).collect();
    if let Err(e) = Scopes::from_names(scopes.iter().map(String::as_str)) {
        return show_page(
            &state,
            &signed,
            &token,
            None,
            Some(token_form::sentence(&e.to_string())),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match state
        .app
        .edit_classic_scopes(&signed.user, token.id, &scopes)
        .await
    {
        Ok(_) => (
            flash::set(&state, "The token's scopes were saved."),
            page::see_other(&format!("/settings/tokens/{}", token.id.0)),
        )
            .into_response(),
        Err(e) => WebError::from(e).page(Some(&signed.chrome(Nav::Classic))),
    }
}

pub async fn regenerate_form(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    match own_classic(&state, &signed, &id).await {
        Ok(token) => {
            regenerate_page(&state, &signed, &token, Nav::Classic, None, StatusCode::OK).await
        }
        Err(e) => e.page(Some(&signed.chrome(Nav::Classic))),
    }
}

pub async fn regenerate(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: FormData,
) -> Response {
    let token = match own_classic(&state, &signed, &id).await {
        Ok(t) => t,
        Err(e) => return e.page(Some(&signed.chrome(Nav::Classic))),
    };
    match regenerate_token(&state, &signed, &token, Nav::Classic, &form).await {
        Ok(Issued { token, secret }) => {
            let revealed = Revealed {
                secret: secret.expose().to_owned(),
                name: token.name.clone(),
                pending_owner: None,
            };
            list_page(&state, &signed, 1, Some(revealed), None)
                .await
                .unwrap_or_else(|e| e.page(Some(&signed.chrome(Nav::Classic))))
        }
        Err(response) => response,
    }
}

pub async fn delete_form(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    match own_classic(&state, &signed, &id).await {
        Ok(token) => delete_page(&signed, &token, Nav::Classic),
        Err(e) => e.page(Some(&signed.chrome(Nav::Classic))),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let token = match own_classic(&state, &signed, &id).await {
        Ok(t) => t,
        Err(e) => return e.page(Some(&signed.chrome(Nav::Classic))),
    };
    match state.app.delete_token(&signed.user, token.id).await {
        Ok(_) => (
            flash::set(&state, &format!("Deleted the token “{}”.", token.name)),
            page::see_other("/settings/tokens"),
        )
            .into_response(),
        Err(e) => WebError::from(e).page(Some(&signed.chrome(Nav::Classic))),
    }
}
