//! The fine-grained token form (seed 004): what it shows, built from a template link, from what
//! the user submitted, or from a token being edited; and what it submits, as the app's request.
//!
//! Field names are the template parameters' (`name`, `description`, `target_name`, and each
//! permission by its catalogue name), so that a template link and a submitted form read alike.
//! The form's own fields are `expiration` (a preset, `custom` or `none`), `expires_on` (the
//! custom date), `justification`, `repository_selection` and `repositories` (repeated).

use std::collections::BTreeMap;

use time::{Date, OffsetDateTime};

use patgate_domain::catalog::{Level, Permission, PermissionGroup, PermissionSet};
use patgate_domain::model::{AccountKind, RepositorySelection, Visibility};
use patgate_domain::policy::EffectivePolicy;
use patgate_domain::template::{self, Field, SelectableOwners};
use patgate_domain::validate::{self, Expiration, RequestedPermission};

use super::form::FormData;

/// The expiration presets, in days (seed 004).
pub const PRESETS: [u16; 4] = [7, 30, 60, 90];

/// A resource owner the user may choose.
#[derive(Clone, Debug)]
pub struct OwnerChoice {
    pub login: String,
    pub kind: AccountKind,
    /// The organization's policy (`None` for the user's own account).
    pub policy: Option<std::sync::Arc<EffectivePolicy>>,
    /// The user owns the organization (their requests are approved at once).
    pub is_owner: bool,
}

impl OwnerChoice {
    pub fn needs_approval(&self) -> bool {
        self.policy
            .as_ref()
            .is_some_and(|p| p.requires_approval() && !self.is_owner)
    }

    /// The longest lifetime the owner allows, in days.
    pub fn max_days(&self) -> Option<u16> {
        self.policy
            .as_ref()
            .and_then(|p| p.max_lifetime_days(patgate_domain::token::TokenKind::FineGrained))
            .map(|(days, _)| days)
    }
}

/// A repository of the chosen owner, for the picker.
#[derive(Clone, Debug)]
pub struct RepoChoice {
    pub name: String,
    pub visibility: Visibility,
}

/// One option of a `<select>`.
#[derive(Clone, Debug)]
pub struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Clone, Debug)]
pub struct PermissionRow {
    pub name: &'static str,
    pub display: &'static str,
    pub options: Vec<SelectOption>,
    pub error: Option<String>,
    /// `metadata: read`, shown as granted with any repository permission.
    pub implied: bool,
}

#[derive(Clone, Debug)]
pub struct PermissionSection {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub rows: Vec<PermissionRow>,
    pub chosen: usize,
    /// Whether the section starts open (it has choices or errors).
    pub open: bool,
}

#[derive(Clone, Debug)]
pub struct OwnerOption {
    pub login: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Clone, Debug)]
pub struct RepoOption {
    pub name: String,
    pub visibility: &'static str,
    pub checked: bool,
}

/// What the user chose (or a link or a token pre-filled).
#[derive(Clone, Debug, Default)]
pub struct TokenInput {
    pub name: String,
    pub description: String,
    pub justification: String,
    pub owner: String,
    /// `7`, `30`, `60`, `90`, `custom` or `none`.
    pub expiration: String,
    pub expires_on: String,
    /// `none`, `all` or `subset`.
    pub selection: String,
    pub repositories: Vec<String>,
    pub permissions: PermissionSet,
}

/// Everything the form template shows.
#[derive(Clone, Debug)]
pub struct TokenForm {
    pub input: TokenInput,
    pub owners: Vec<OwnerOption>,
    pub owner_is_org: bool,
    pub owner_login: String,
    pub needs_approval: bool,
    pub owner_note: Option<String>,
    pub expirations: Vec<SelectOption>,
    pub max_days: Option<u16>,
    pub repos: Vec<RepoOption>,
    pub sections: Vec<PermissionSection>,
    /// Messages by field name (`name`, `description`, `justification`, `resource_owner`,
    /// `expires_at`, `repositories`, `permissions`).
    pub errors: BTreeMap<String, Vec<String>>,
    /// Adjustments a template link's values needed (shown, not errors).
    pub notes: Vec<String>,
    /// The link that pre-fills this form again, to share.
    pub share_query: String,
    pub today: String,
    pub last_day: String,
}

impl TokenForm {
    pub fn error(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| m.join(" "))
    }

    pub fn has_error(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    /// Every message, for the summary at the top of a form that was refused.
    pub fn all_errors(&self) -> Vec<String> {
        self.errors.values().flatten().cloned().collect()
    }

    pub fn is_selection(&self, value: &str) -> bool {
        self.input.selection == value
    }

    pub fn expiration_is(&self, value: &str) -> bool {
        self.input.expiration == value
    }
}

/// The form fields that are the form's own, not a template link's.
const FORM_ONLY: &[&str] = &[
    "expiration",
    "expires_on",
    "justification",
    "repository_selection",
    "repositories",
    "_csrf",
    "refresh",
];

/// What a template link (or a form submitted to refresh the page) pre-fills.
pub fn input_from_query(
    form: &FormData,
    user_login: &str,
    owners: &[OwnerChoice],
    now: OffsetDateTime,
    errors: &mut BTreeMap<String, Vec<String>>,
    notes: &mut Vec<String>,
) -> TokenInput {
    // The template's own parameters go through the domain's parser; the form's own fields are
    // read here.
    let template_query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.0.iter().filter(|(k, v)| {
            !(FORM_ONLY.contains(&k.as_str()) || (k == "expires_in" && v == "custom"))
        }))
        .finish();
    let parsed = template::parse(&template_query);
    let org_logins: Vec<&str> = owners
        .iter()
        .filter(|o| o.kind == AccountKind::Organization)
        .map(|o| o.login.as_str())
        .collect();
    let resolution = parsed.resolve(&SelectableOwners::new(user_login, org_logins));
    for problem in parsed
        .problems
        .iter()
        .chain(resolution.owner_problem.iter())
    {
        errors
            .entry(field_name(problem.field).to_owned())
            .or_default()
            .push(problem.message.clone());
    }
    for na in &resolution.not_applicable {
        notes.push(na.message.clone());
    }
    notes.extend(parsed.notes.iter().map(|n| n.message.clone()));
    let (mut expiration, mut expires_on) = match parsed.expiration {
        Some(Expiration::Never) => ("none".to_owned(), String::new()),
        Some(Expiration::Days(d)) if PRESETS.contains(&d) => (d.to_string(), String::new()),
        Some(Expiration::Days(d)) => (
            "custom".to_owned(),
            iso_date((now + time::Duration::days(i64::from(d))).date()),
        ),
        _ => ("30".to_owned(), String::new()),
    };
    if let Some(choice) = form.get("expiration") {
        expiration = choice.to_owned();
        expires_on = form.get("expires_on").unwrap_or("").to_owned();
    }
    let repositories: Vec<String> = form
        .all("repositories")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let permissions = resolution.prefilled_permissions();
    // A link that asks for repository permissions means some repositories: the user picks them
    // (the form does not guess "all").
    let asks_for_repositories = permissions
        .in_group(PermissionGroup::Repository)
        .any(|(p, _)| p != Permission::METADATA);
    let selection = form
        .get("repository_selection")
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if repositories.is_empty() && !asks_for_repositories {
                "none".to_owned()
            } else {
                "subset".to_owned()
            }
        });
    TokenInput {
        name: parsed.name.unwrap_or_default(),
        description: parsed.description.unwrap_or_default(),
        justification: form.get("justification").unwrap_or("").to_owned(),
        owner: resolution.owner.login.clone(),
        expiration,
        expires_on,
        selection,
        repositories,
        permissions,
    }
}

/// Where a template problem is shown.
fn field_name(field: Field) -> &'static str {
    match field {
        Field::Name => "name",
        Field::Description => "description",
        Field::ResourceOwner => "resource_owner",
        Field::Expiration => "expires_at",
        Field::Permissions | Field::Permission(_) => "permissions",
    }
}

/// What a submitted form asks for: the permissions as the form's selects hold them.
pub fn input_from_form(form: &FormData) -> TokenInput {
    let mut permissions = PermissionSet::default();
    for p in Permission::all() {
        if let Some(level) = form.get(p.name()).and_then(Level::parse) {
            permissions.set(p, Some(level));
        }
    }
    TokenInput {
        name: form.get("name").unwrap_or("").to_owned(),
        description: form.get("description").unwrap_or("").to_owned(),
        justification: form.get("justification").unwrap_or("").to_owned(),
        owner: form.get("target_name").unwrap_or("").trim().to_owned(),
        expiration: form.get("expiration").unwrap_or("30").to_owned(),
        expires_on: form.get("expires_on").unwrap_or("").to_owned(),
        selection: form
            .get("repository_selection")
            .unwrap_or("none")
            .to_owned(),
        repositories: form
            .all("repositories")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        permissions,
    }
}

pub fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn parse_date(s: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &format).ok()
}

/// The expiration the form asks for. What the form cannot read (no custom date, an unknown
/// choice) goes to the domain's validation as a value it refuses, so that its rule and message
/// decide, alongside every other field's, and nothing is created.
pub fn expiration_of(input: &TokenInput) -> Expiration {
    match input.expiration.as_str() {
        "none" => Expiration::Never,
        "custom" => Expiration::Date(parse_date(&input.expires_on).unwrap_or(Date::MIN)),
        days => Expiration::Days(days.parse::<u16>().unwrap_or(0)),
    }
}

pub fn selection_of(input: &TokenInput) -> RepositorySelection {
    match input.selection.as_str() {
        "all" => RepositorySelection::All,
        "subset" => RepositorySelection::Subset,
        _ => RepositorySelection::None,
    }
}

/// The permissions as the app takes them (repository permissions only when repositories are
/// chosen; what does not apply to the owner is left to validation to name).
pub fn requested_permissions(input: &TokenInput) -> Vec<RequestedPermission> {
    input
        .permissions
        .iter()
        .map(|(p, l)| RequestedPermission {
            group: None,
            name: p.name().to_owned(),
            level: l.as_str().to_owned(),
        })
        .collect()
}

fn level_label(level: Level) -> &'static str {
    match level {
        Level::Read => "Read-only",
        Level::Write => "Read and write",
        Level::Admin => "Admin",
    }
}

fn section(
    group: PermissionGroup,
    chosen: &PermissionSet,
    errors: &BTreeMap<String, Vec<String>>,
) -> PermissionSection {
    let (id, title, description) = match group {
        PermissionGroup::Repository => (
            "repository",
            "Repository permissions",
            "Repository permissions permit access to repositories and related resources.",
        ),
        PermissionGroup::Organization => (
            "organization",
            "Organization permissions",
            "Organization permissions permit access to organization related resources.",
        ),
        PermissionGroup::Account => (
            "account",
            "Account permissions",
            "These permissions are granted on an individual user basis as part of the user-to-server flow.",
        ),
    };
    let any_repository = chosen
        .in_group(PermissionGroup::Repository)
        .any(|(p, _)| p != Permission::METADATA);
    let messages: Vec<&String> = errors.get("permissions").into_iter().flatten().collect();
    let rows: Vec<PermissionRow> = Permission::in_group(group)
        .filter(|p| !p.app_only())
        .map(|p| {
            let current = chosen.get(p);
            let implied = p == Permission::METADATA && any_repository;
            let mut options = vec![SelectOption {
                value: String::new(),
                label: "No access".to_owned(),
                selected: current.is_none() && !implied,
            }];
            options.extend(p.allowed_levels().iter().map(|l| SelectOption {
                value: l.as_str().to_owned(),
                label: level_label(*l).to_owned(),
                selected: current == Some(*l)
                    || (implied && current.is_none() && *l == Level::Read),
            }));
            let error = messages
                .iter()
                .filter(|m| {
                    m.split_whitespace()
                        .next()
                        .is_some_and(|w| w.eq_ignore_ascii_case(p.name()))
                })
                .map(|m| m.as_str())
                .collect::<Vec<_>>();
            PermissionRow {
                name: p.name(),
                display: p.display_name(),
                options,
                error: (!error.is_empty()).then(|| error.join(" ")),
                implied,
            }
        })
        .collect();
    let chosen_count = rows
        .iter()
        .filter(|r| r.options.iter().any(|o| o.selected && !o.value.is_empty()))
        .count();
    let open = chosen_count > 0 || rows.iter().any(|r| r.error.is_some());
    PermissionSection {
        id,
        title,
        description,
        rows,
        chosen: chosen_count,
        open,
    }
}

/// Builds the whole form around `input`.
#[allow(clippy::too_many_arguments)]
pub fn build(
    input: TokenInput,
    owners: &[OwnerChoice],
    repos: &[RepoChoice],
    errors: BTreeMap<String, Vec<String>>,
    notes: Vec<String>,
    now: OffsetDateTime,
) -> TokenForm {
    let chosen = owners
        .iter()
        .find(|o| o.login.eq_ignore_ascii_case(&input.owner))
        .or_else(|| owners.first());
    let owner_login = chosen.map(|o| o.login.clone()).unwrap_or_default();
    let owner_is_org = chosen.is_some_and(|o| o.kind == AccountKind::Organization);
    let needs_approval = chosen.is_some_and(OwnerChoice::needs_approval);
    let max_days = chosen.and_then(OwnerChoice::max_days);
    let owner_note = chosen.and_then(|o| {
        let policy = o.policy.as_ref()?;
        let mut parts = Vec::new();
        if o.needs_approval() {
            parts.push(format!(
                "{} requires an owner to approve fine-grained tokens: yours will be pending until one does, and can only read public resources until then.",
                policy.org_login
            ));
        } else if o.is_owner {
            parts.push(format!(
                "You own {}: your token is approved at once.",
                policy.org_login
            ));
        }
        if let Some(days) = o.max_days() {
            parts.push(format!(
                "{} allows fine-grained tokens to live at most {days} days.",
                policy.org_login
            ));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let owner_options = owners
        .iter()
        .map(|o| OwnerOption {
            login: o.login.clone(),
            label: match o.kind {
                AccountKind::User => o.login.clone(),
                AccountKind::Organization if o.needs_approval() => {
                    format!("{} (approval required)", o.login)
                }
                AccountKind::Organization => o.login.clone(),
            },
            selected: o.login == owner_login,
        })
        .collect();
    let mut expirations: Vec<SelectOption> = PRESETS
        .iter()
        .filter(|d| max_days.is_none_or(|m| **d <= m))
        .map(|d| SelectOption {
            value: d.to_string(),
            label: format!("{d} days"),
            selected: input.expiration == d.to_string(),
        })
        .collect();
    expirations.push(SelectOption {
        value: "custom".to_owned(),
        label: "Custom…".to_owned(),
        selected: input.expiration == "custom",
    });
    if max_days.is_none() {
        expirations.push(SelectOption {
            value: "none".to_owned(),
            label: "No expiration".to_owned(),
            selected: input.expiration == "none",
        });
    }
    if !expirations.iter().any(|o| o.selected)
        && let Some(first) = expirations.first_mut()
    {
        first.selected = true;
    }
    let repo_options = repos
        .iter()
        .map(|r| RepoOption {
            name: r.name.clone(),
            visibility: match r.visibility {
                Visibility::Public => "Public",
                Visibility::Private => "Private",
                Visibility::Internal => "Internal",
            },
            checked: input.repositories.iter().any(|n| {
                n.eq_ignore_ascii_case(&r.name)
                    || n.eq_ignore_ascii_case(&format!("{owner_login}/{}", r.name))
            }),
        })
        .collect();
    let mut sections = vec![section(
        PermissionGroup::Repository,
        &input.permissions,
        &errors,
    )];
    sections.push(section(
        if owner_is_org {
            PermissionGroup::Organization
        } else {
            PermissionGroup::Account
        },
        &input.permissions,
        &errors,
    ));
    let share = template::Template {
        name: Some(input.name.clone()).filter(|s| !s.is_empty()),
        description: Some(input.description.clone()).filter(|s| !s.is_empty()),
        target_name: Some(owner_login.clone()),
        // A link carries days from now, not a date.
        expiration: Some(expiration_of(&input)).filter(|e| {
            matches!(e, Expiration::Never)
                || matches!(e, Expiration::Days(d) if (1..=validate::MAX_EXPIRY_DAYS).contains(d))
        }),
        permissions: input.permissions,
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let last = now + time::Duration::days(i64::from(max_days.unwrap_or(validate::MAX_EXPIRY_DAYS)));
    TokenForm {
        share_query: template::render(&share),
        input,
        owners: owner_options,
        owner_is_org,
        owner_login,
        needs_approval,
        owner_note,
        expirations,
        max_days,
        repos: repo_options,
        sections,
        errors,
        notes,
        today: iso_date((now + time::Duration::days(1)).date()),
        last_day: iso_date(last.date()),
    }
}

/// Files the app's validation errors under the form's fields.
pub fn file_errors(e: &validate::ValidationErrors, errors: &mut BTreeMap<String, Vec<String>>) {
    for f in &e.0 {
        let field = match f.field {
            "expires_in" | "expires_at" => "expires_at",
            "repository_selection" => "repositories",
            "email" => "form",
            other => other,
        };
        errors
            .entry(field.to_owned())
            .or_default()
            .push(sentence(&f.message));
    }
}

/// A message as a sentence: capitalised, with a full stop.
pub fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}
