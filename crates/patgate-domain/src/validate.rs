//! The creation rules of tokens (DESIGN §3 rule 12, seed 004): each violation is a distinct
//! error naming the field, in GitHub's 422 vocabulary.

use std::fmt;

use time::{Duration, OffsetDateTime, Time};

use crate::catalog::{Level, Permission, PermissionGroup, PermissionSet};
use crate::model::{RepoId, RepositorySelection, TokenAccess};
use crate::policy::EffectivePolicy;
use crate::scopes::Scopes;
use crate::text::{Lines, first_forbidden, forbidden_message};
use crate::token::TokenKind;

pub const MAX_FINE_GRAINED_PER_USER: usize = 50;
pub const MAX_NAME_CHARS: usize = 40;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
pub const MAX_JUSTIFICATION_CHARS: usize = 1024;
pub const MAX_NOTE_CHARS: usize = 255;
pub const MAX_SELECTED_REPOSITORIES: usize = 500;
pub const DEFAULT_EXPIRY_DAYS: u16 = 30;
pub const MAX_EXPIRY_DAYS: u16 = 366;

/// GitHub's `errors[].code` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Missing,
    MissingField,
    Invalid,
    AlreadyExists,
    Unprocessable,
    Custom,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Missing => "missing",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::Invalid => "invalid",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::Unprocessable => "unprocessable",
            ErrorCode::Custom => "custom",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub resource: &'static str,
    pub field: &'static str,
    pub code: ErrorCode,
    pub message: String,
}

impl FieldError {
    pub fn new(
        resource: &'static str,
        field: &'static str,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            resource,
            field,
            code,
            message: message.into(),
        }
    }
}

/// One or more field errors; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn one(e: FieldError) -> Self {
        ValidationErrors(vec![e])
    }
    pub fn has(&self, field: &str, code: ErrorCode) -> bool {
        self.0.iter().any(|e| e.field == field && e.code == code)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// The expiration a user chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiration {
    /// 30 days, or less if the target has a lifetime policy.
    Default,
    /// 1 to 366 days from now.
    Days(u16),
    /// The end of a date (custom date), at most 366 days ahead.
    Date(time::Date),
    /// No expiration (may be refused by a lifetime policy).
    Never,
}

impl Expiration {
    /// Parses GitHub's `expires_in` template value: `1..=366` or `none`.
    pub fn parse_expires_in(s: &str) -> Option<Expiration> {
        if s == "none" {
            return Some(Expiration::Never);
        }
        s.parse::<u16>().ok().map(Expiration::Days)
    }
}

fn resolve_expiration(
    resource: &'static str,
    expiration: Expiration,
    max_days: Option<u16>,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, FieldError> {
    let invalid = |msg: String| FieldError::new(resource, "expires_at", ErrorCode::Invalid, msg);
    let check_max = |days: i64| -> Result<(), FieldError> {
        match max_days {
            Some(max) if days > i64::from(max) => Err(FieldError::new(
                resource,
                "expires_at",
                ErrorCode::Custom,
                format!("The resource owner's policy limits token lifetime to {max} days"),
            )),
            _ => Ok(()),
        }
    };
    match expiration {
        Expiration::Default => {
            let days = max_days.map_or(DEFAULT_EXPIRY_DAYS, |m| m.min(DEFAULT_EXPIRY_DAYS));
            Ok(Some(now + Duration::days(i64::from(days))))
        }
        Expiration::Days(days) => {
            if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
                return Err(invalid(format!(
                    "expires_in must be between 1 and {MAX_EXPIRY_DAYS} days, or none"
                )));
            }
            check_max(i64::from(days))?;
            Ok(Some(now + Duration::days(i64::from(days))))
        }
        Expiration::Date(date) => {
            let days = (date - now.date()).whole_days();
            if days < 1 || days > i64::from(MAX_EXPIRY_DAYS) {
                return Err(invalid(format!(
                    "The expiration date must be between tomorrow and {MAX_EXPIRY_DAYS} days from today"
                )));
            }
            check_max(days)?;
            Ok(Some(
                date.with_time(Time::MIDNIGHT).assume_utc() + Duration::days(1)
                    - Duration::seconds(1),
            ))
        }
        Expiration::Never => match max_days {
            Some(max) => Err(FieldError::new(
                resource,
                "expires_at",
                ErrorCode::Custom,
                format!("The resource owner's policy requires tokens to expire within {max} days"),
            )),
            None => Ok(None),
        },
    }
}

fn check_text(
    errors: &mut Vec<FieldError>,
    resource: &'static str,
    field: &'static str,
    value: Option<&str>,
    max: usize,
) {
    let Some(v) = value else {
        return;
    };
    if v.chars().count() > max {
        errors.push(FieldError::new(
            resource,
            field,
            ErrorCode::Invalid,
            format!("{field} is too long (maximum is {max} characters)"),
        ));
    }
    let lines = if MULTI_LINE_FIELDS.contains(&field) {
        Lines::Many
    } else {
        Lines::One
    };
    if let Some(c) = first_forbidden(v, lines) {
        errors.push(FieldError::new(
            resource,
            field,
            ErrorCode::Invalid,
            forbidden_message(field, c),
        ));
    }
}

/// Text areas: line breaks and tabs are text there. Every other field is one line.
const MULTI_LINE_FIELDS: &[&str] = &["description", "justification", "reason"];

/// Checks a single free-text value the way the creation rules check theirs (length, and no
/// control or bidirectional override characters): key titles, review reasons.
pub fn check_free_text(
    resource: &'static str,
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
    check_text(&mut errors, resource, field, Some(value), max);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}

/// The resource owner a fine-grained token targets, as the directory sees it for this user.
#[derive(Clone, Copy, Debug)]
pub enum OwnerChoice<'a> {
    /// The user's own account.
    Myself,
    Organization {
        /// The user belongs to it (only members may target an organization: rule 11).
        member: bool,
        /// The user owns it (their tokens are approved at once: rule 7).
        owner: bool,
        policy: &'a EffectivePolicy,
    },
}

/// A permission as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedPermission {
    /// `repository`, `organization` or `account` (GitHub's `other`), when the client grouped it.
    pub group: Option<String>,
    pub name: String,
    pub level: String,
}

#[derive(Clone, Debug)]
pub struct FineGrainedRequest<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub justification: Option<&'a str>,
    pub expiration: Expiration,
    pub selection: RepositorySelection,
    /// The selected repositories that exist and belong to the resource owner.
    pub repositories: &'a [RepoId],
    /// Names the client selected that are not repositories of the resource owner.
    pub unknown_repositories: &'a [String],
    pub permissions: &'a [RequestedPermission],
}

/// What the directory and the store say about the user creating the token.
#[derive(Clone, Copy, Debug)]
pub struct CreationContext<'a> {
    pub now: OffsetDateTime,
    pub email_verified: bool,
    /// How many fine-grained tokens the user holds now.
    pub fine_grained_count: usize,
    /// Another token of the user has the same name.
    pub name_taken: bool,
    pub owner: OwnerChoice<'a>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidFineGrained {
    pub name: String,
    pub description: Option<String>,
    pub justification: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub access: TokenAccess,
    /// The organization requires approval and the user is not one of its owners.
    pub needs_approval: bool,
}

const FG: &str = "FineGrainedPersonalAccessToken";
const CLASSIC: &str = "PersonalAccessToken";

fn unverified_email(resource: &'static str) -> FieldError {
    FieldError::new(
        resource,
        "email",
        ErrorCode::Custom,
        "You must verify your email address before creating a personal access token",
    )
}

/// Parses and checks the permissions of a fine-grained token for an owner kind and selection.
pub fn parse_permissions(
    requested: &[RequestedPermission],
    owner_is_org: bool,
    selection: RepositorySelection,
) -> Result<PermissionSet, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut set = PermissionSet::new();
    let invalid = |msg: String| FieldError::new(FG, "permissions", ErrorCode::Invalid, msg);
    for rp in requested {
        let Some(p) = Permission::from_name(&rp.name) else {
            errors.push(invalid(format!("Unknown permission: {}", rp.name)));
            continue;
        };
        if p.app_only() {
            errors.push(invalid(format!(
                "{} can only be granted to GitHub Apps",
                rp.name
            )));
            continue;
        }
        let group = p.group();
        if let Some(hint) = &rp.group {
            let expected = match group {
                PermissionGroup::Account => ["account", "other"],
                PermissionGroup::Repository => ["repository", "repository"],
                PermissionGroup::Organization => ["organization", "organization"],
            };
            if !expected.contains(&hint.as_str()) {
                errors.push(invalid(format!(
                    "{} is a {} permission, not {hint}",
                    rp.name,
                    group.as_str()
                )));
                continue;
            }
        }
        let Some(level) = Level::parse(&rp.level).filter(|l| p.allows(*l)) else {
            let allowed: Vec<&str> = p.allowed_levels().iter().map(|l| l.as_str()).collect();
            errors.push(invalid(format!(
                "{} cannot be granted at level '{}' (allowed: {})",
                rp.name,
                rp.level,
                allowed.join(", ")
            )));
            continue;
        };
        match group {
            PermissionGroup::Account if owner_is_org => errors.push(invalid(format!(
                "{} is an account permission: it only applies when the resource owner is you",
                rp.name
            ))),
            PermissionGroup::Organization if !owner_is_org => errors.push(invalid(format!(
                "{} is an organization permission: it only applies when the resource owner is an organization",
                rp.name
            ))),
            PermissionGroup::Repository if selection == RepositorySelection::None => {
                errors.push(invalid(format!(
                    "{} is a repository permission: choose all or selected repositories",
                    rp.name
                )));
            }
            _ => {
                if set.get(p).is_some_and(|old| old != level) {
                    errors.push(invalid(format!("{} is given twice", rp.name)));
                } else {
                    set.set(p, Some(level));
                }
            }
        }
    }
    if selection != RepositorySelection::None {
        // metadata: read is always granted with repository access.
        set.set(Permission::METADATA, Some(Level::Read));
    }
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(errors)
    }
}

fn check_selection(
    errors: &mut Vec<FieldError>,
    selection: RepositorySelection,
    repositories: &[RepoId],
    unknown: &[String],
) {
    for name in unknown {
        errors.push(FieldError::new(
            FG,
            "repositories",
            ErrorCode::Invalid,
            format!("Repository not found for this resource owner: {name}"),
        ));
    }
    match selection {
        RepositorySelection::Subset if repositories.is_empty() && unknown.is_empty() => errors
            .push(FieldError::new(
                FG,
                "repositories",
                ErrorCode::MissingField,
                "Select at least one repository, or choose all or public repositories",
            )),
        RepositorySelection::Subset if repositories.len() > MAX_SELECTED_REPOSITORIES => errors
            .push(FieldError::new(
                FG,
                "repositories",
                ErrorCode::Invalid,
                format!("At most {MAX_SELECTED_REPOSITORIES} repositories can be selected"),
            )),
        RepositorySelection::None | RepositorySelection::All
            if !repositories.is_empty() || !unknown.is_empty() =>
        {
            errors.push(FieldError::new(
                FG,
                "repositories",
                ErrorCode::Invalid,
                "Repositories can only be listed when repository_selection is subset",
            ))
        }
        _ => {}
    }
}

/// Validates a new fine-grained token: every rule of creation at once, each violation reported.
pub fn validate_fine_grained(
    req: &FineGrainedRequest<'_>,
    ctx: &CreationContext<'_>,
) -> Result<ValidFineGrained, ValidationErrors> {
    if !ctx.email_verified {
        return Err(ValidationErrors::one(unverified_email(FG)));
    }
    let mut errors = Vec::new();
    if ctx.fine_grained_count >= MAX_FINE_GRAINED_PER_USER {
        errors.push(FieldError::new(
            FG,
            "name",
            ErrorCode::Custom,
            format!(
                "You have reached the limit of {MAX_FINE_GRAINED_PER_USER} fine-grained personal access tokens"
            ),
        ));
    }
    let name = req.name.trim();
    if name.is_empty() {
        errors.push(FieldError::new(
            FG,
            "name",
            ErrorCode::MissingField,
            "name can't be blank",
        ));
    } else if ctx.name_taken {
        errors.push(FieldError::new(
            FG,
            "name",
            ErrorCode::AlreadyExists,
            "name has already been taken",
        ));
    }
    check_text(&mut errors, FG, "name", Some(name), MAX_NAME_CHARS);
    check_text(
        &mut errors,
        FG,
        "description",
        req.description,
        MAX_DESCRIPTION_CHARS,
    );
    check_text(
        &mut errors,
        FG,
        "justification",
        req.justification,
        MAX_JUSTIFICATION_CHARS,
    );
    let (owner_is_org, max_days, needs_approval) = match ctx.owner {
        OwnerChoice::Myself => (false, None, false),
        OwnerChoice::Organization {
            member,
            owner,
            policy,
        } => {
            if !member {
                errors.push(FieldError::new(
                    FG,
                    "resource_owner",
                    ErrorCode::Invalid,
                    format!(
                        "Cannot find the specified resource owner: {}",
                        policy.org_login
                    ),
                ));
            } else if policy.access(TokenKind::FineGrained).0 == crate::policy::Access::Restrict {
                errors.push(FieldError::new(
                    FG,
                    "resource_owner",
                    ErrorCode::Custom,
                    policy.restriction_message(TokenKind::FineGrained),
                ));
            }
            (
                true,
                policy
                    .max_lifetime_days(TokenKind::FineGrained)
                    .map(|(d, _)| d),
                policy.requires_approval() && !owner,
            )
        }
    };
    let expires_at = match resolve_expiration(FG, req.expiration, max_days, ctx.now) {
        Ok(e) => e,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    check_selection(
        &mut errors,
        req.selection,
        req.repositories,
        req.unknown_repositories,
    );
    let permissions = match parse_permissions(req.permissions, owner_is_org, req.selection) {
        Ok(set) => set,
        Err(mut e) => {
            errors.append(&mut e);
            PermissionSet::new()
        }
    };
    if !errors.is_empty() {
        return Err(ValidationErrors(errors));
    }
    Ok(ValidFineGrained {
        name: name.to_owned(),
        description: req.description.map(str::to_owned).filter(|d| !d.is_empty()),
        justification: req
            .justification
            .map(str::to_owned)
            .filter(|d| !d.is_empty()),
        expires_at,
        access: TokenAccess::new(req.selection, req.repositories.to_vec(), permissions),
        needs_approval,
    })
}

#[derive(Clone, Debug)]
pub struct ClassicRequest<'a> {
    pub note: &'a str,
    pub scopes: &'a [String],
    pub expiration: Expiration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidClassic {
    pub note: String,
    pub scopes: Scopes,
    pub expires_at: Option<OffsetDateTime>,
}

/// Validates a new classic token. Classic tokens are never subject to approval, and lifetime
/// policies apply to them when they are used (reference §7.2).
pub fn validate_classic(
    req: &ClassicRequest<'_>,
    email_verified: bool,
    now: OffsetDateTime,
) -> Result<ValidClassic, ValidationErrors> {
    if !email_verified {
        return Err(ValidationErrors::one(unverified_email(CLASSIC)));
    }
    let mut errors = Vec::new();
    let note = req.note.trim();
    if note.is_empty() {
        errors.push(FieldError::new(
            CLASSIC,
            "note",
            ErrorCode::MissingField,
            "note can't be blank",
        ));
    }
    check_text(&mut errors, CLASSIC, "note", Some(note), MAX_NOTE_CHARS);
    let scopes = match Scopes::from_names(req.scopes.iter().map(String::as_str)) {
        Ok(s) => s,
        Err(e) => {
            errors.push(FieldError::new(
                CLASSIC,
                "scopes",
                ErrorCode::Invalid,
                e.to_string(),
            ));
            Scopes::default()
        }
    };
    let expires_at = match resolve_expiration(CLASSIC, req.expiration, None, now) {
        Ok(e) => e,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if !errors.is_empty() {
        return Err(ValidationErrors(errors));
    }
    Ok(ValidClassic {
        note: note.to_owned(),
        scopes,
        expires_at,
    })
}

/// Validates a new expiration chosen at regeneration, under the owner's lifetime policy.
pub fn validate_regeneration(
    kind: TokenKind,
    expiration: Expiration,
    max_days: Option<u16>,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, ValidationErrors> {
    let resource = if kind == TokenKind::Classic {
        CLASSIC
    } else {
        FG
    };
    resolve_expiration(resource, expiration, max_days, now).map_err(ValidationErrors::one)
}

#[cfg(test)]
mod tests;
