//! Token templates: GitHub's links that pre-fill the fine-grained token creation form (seed 004,
//! "Pre-filling fine-grained personal access token details using URL parameters").
//!
//! `/settings/personal-access-tokens/new?name=…&description=…&target_name=…&expires_in=…&<permission>=<level>`
//!
//! [`parse`] reads the query string into a [`Template`]: what the form pre-fills, the problems a
//! form shows next to their field, and notes about values it adjusted. [`Template::resolve`] then
//! picks the resource owner among those the user may choose and sorts the permissions into those
//! that apply to that owner, those implied by them, and those that do not apply. [`render`] is the
//! inverse of [`parse`], for a "share this template" link.
//!
//! A template only pre-fills a form: nothing here grants anything. The values the user finally
//! submits are checked again by [`crate::validate::validate_fine_grained`].
//!
//! # Reading the query string
//!
//! * `application/x-www-form-urlencoded`: percent-decoding, `+` is a space, pairs split on `&`.
//!   Bytes that are not UTF-8 become U+FFFD. One leading `?` is skipped.
//! * Parameter names are case-sensitive, like the API's permission names (`Name=…` is not `name=…`).
//! * An empty value pre-fills nothing (`name=` is the same as no `name`).
//! * A parameter given more than once with the same value counts once; with different values it
//!   is a problem and pre-fills nothing (neither value wins, because neither is more likely to be
//!   what the link's author meant).
//! * **Unknown parameters.** A parameter that is neither a field nor a permission is reported as
//!   `Unknown permission: <name>` when its value is an access level (`read`, `write` or `admin`,
//!   in any case), since that is what a misspelt permission looks like. Any other unknown
//!   parameter is ignored, so that tracking parameters links pick up when they are shared
//!   (`utm_source=…`) or GitHub's other parameters (`type=beta`) do not break the form.
//!
//! # Fields
//!
//! * `name`: at most 40 characters, `description`: at most 1024 (Unicode scalar values, as
//!   [`crate::validate`] counts them). A value that is too long is still pre-filled, with its
//!   problem, so the user can shorten it rather than retype it.
//! * Neither may contain control characters (C0, DEL, C1) or the bidirectional embedding,
//!   override and isolate controls U+202A–U+202E and U+2066–U+2069, which can make text read
//!   differently from what it is ("Trojan Source"); a value holding one is not pre-filled. The
//!   description may contain line breaks and tabs (the seed's own examples use `%0A`).
//! * `target_name`: kept as given; [`Template::resolve`] looks it up.
//! * `expires_in`: ASCII digits giving 1 to 366 days, or `none` (lowercase). Anything else is a
//!   problem and the form keeps its default (30 days, or less under the owner's policy).
//!
//! # Permissions
//!
//! * A permission is named by its catalogue name ([`crate::catalog`]), or by **GitHub's prefixed
//!   alias**: `user_<name>` for an account permission and `organization_<name>` for an
//!   organization permission whose catalogue name does not already carry that prefix. Seed 004's
//!   own "Make Copilot requests" link says `user_copilot_requests`, while its table says
//!   `copilot_requests`; the catalogue already spells some permissions with the prefix
//!   (`user_models`, `user_events`, `organization_copilot_seat_management`). The alias is a rule,
//!   not a second list of permissions, and never crosses groups (`user_contents` is unknown).
//! * The value is an access level, lowercase, as in the API.
//! * **A level below every level the permission offers is raised to its lowest one**, with a
//!   note. Asking for `read` of a write-only permission (`copilot_requests`, `gists`, `profile`,
//!   `workflows`, `codespaces_secrets`) asks for at least read, and write is the only level that
//!   includes it ("write always includes read"). Seed 004's "Make Copilot requests" link asks for
//!   `user_copilot_requests=read` while its table offers `copilot_requests` at `write` only; this
//!   rule makes that link open with `copilot_requests: write`. The note tells the user before
//!   they generate anything.
//! * A level above every level the permission offers (`metadata=write`, `contents=admin`) is a
//!   problem, because pre-filling less than the link asks for would break what it is for.
//! * The two organization permissions only GitHub Apps may hold are a problem.
//!
//! # Resolving the owner
//!
//! The caller passes the owners the user may choose: their own login and the organizations that
//! allow fine-grained tokens ([`SelectableOwners`]). Logins compare case-insensitively. Without
//! `target_name` the owner is the user, as on GitHub. An unknown target is the problem
//! `Cannot find the specified resource owner: X` and the form falls back to the user. Account
//! permissions apply only when the owner is the user, organization permissions only when it is an
//! organization; the others are listed as [`NotApplicable`] with a message, and stay in the
//! template so they apply again if the user picks another owner. Any repository permission
//! implies `metadata: read`, listed in [`Resolution::implied`].
//!
//! # Messages
//!
//! Text from the link that a message repeats (an unknown permission or owner) is shown as given,
//! except that control and bidirectional characters are written as `\u{…}` escapes and anything
//! beyond 100 characters is cut with `…`, so that a message can neither hide text nor grow
//! without bound.

use std::collections::HashMap;
use std::fmt;

use crate::catalog::{Level, Permission, PermissionGroup, PermissionSet};
use crate::model::AccountKind;
use crate::validate::{Expiration, MAX_DESCRIPTION_CHARS, MAX_EXPIRY_DAYS, MAX_NAME_CHARS};

/// The query parameter of the token name.
pub const NAME_PARAMETER: &str = "name";
/// The query parameter of the description.
pub const DESCRIPTION_PARAMETER: &str = "description";
/// The query parameter of the resource owner's login.
pub const TARGET_NAME_PARAMETER: &str = "target_name";
/// The query parameter of the expiration (days, or `none`).
pub const EXPIRES_IN_PARAMETER: &str = "expires_in";

/// How much of a value from the link a message repeats.
const MAX_SHOWN_CHARS: usize = 100;

/// What a template link pre-fills, with what is wrong with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    pub name: Option<String>,
    pub description: Option<String>,
    /// The resource owner's login, as the link gives it.
    pub target_name: Option<String>,
    /// [`Expiration::Days`] (1 to 366) or [`Expiration::Never`] when parsed; `None`: the form's
    /// default.
    pub expiration: Option<Expiration>,
    /// Every permission the link asks for, whatever the owner; see [`Template::resolve`].
    pub permissions: PermissionSet,
    /// What the form shows as errors. Empty for a link that opens cleanly.
    pub problems: Vec<FieldMessage>,
    /// Values the form pre-fills after adjusting them (a level raised to the lowest offered).
    pub notes: Vec<FieldMessage>,
}

/// Where on the form a message belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Name,
    Description,
    ResourceOwner,
    Expiration,
    /// The permissions section as a whole (a permission the catalogue does not know).
    Permissions,
    /// One permission's row.
    Permission(Permission),
}

/// A message for one field of the form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldMessage {
    pub field: Field,
    pub message: String,
}

impl FieldMessage {
    fn new(field: Field, message: impl Into<String>) -> Self {
        FieldMessage {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The resource owners a user may choose: their own account and the organizations they belong
/// to that allow fine-grained tokens (an organization that blocks them is not offered, as on
/// GitHub, so a link naming it cannot find it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectableOwners<'a> {
    pub user_login: &'a str,
    pub organization_logins: Vec<&'a str>,
}

impl<'a> SelectableOwners<'a> {
    pub fn new(
        user_login: &'a str,
        organization_logins: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        SelectableOwners {
            user_login,
            organization_logins: organization_logins.into_iter().collect(),
        }
    }

    /// The owner whose login is `login`, compared case-insensitively, spelt as the directory
    /// spells it.
    pub fn find(&self, login: &str) -> Option<ChosenOwner> {
        let wanted = login.to_lowercase();
        let same = |candidate: &str| candidate.to_lowercase() == wanted;
        if same(self.user_login) {
            return Some(self.user());
        }
        self.organization_logins
            .iter()
            .find(|org| same(org))
            .map(|org| ChosenOwner {
                login: (*org).to_owned(),
                kind: AccountKind::Organization,
            })
    }

    /// The user's own account: the owner when a link names none.
    pub fn user(&self) -> ChosenOwner {
        ChosenOwner {
            login: self.user_login.to_owned(),
            kind: AccountKind::User,
        }
    }
}

/// The resource owner the form preselects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenOwner {
    pub login: String,
    pub kind: AccountKind,
}

/// A permission of the template that the chosen owner's kind cannot use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotApplicable {
    pub permission: Permission,
    pub level: Level,
    pub message: String,
}

/// A template applied to the owners a user may choose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The target when found; otherwise (no target, or an unknown one) the user's own account.
    pub owner: ChosenOwner,
    /// `Cannot find the specified resource owner: X` when the target is not selectable.
    pub owner_problem: Option<FieldMessage>,
    /// The template's permissions that apply to the owner.
    pub permissions: PermissionSet,
    /// Granted because of [`Resolution::permissions`] (`metadata: read` with any repository
    /// permission); the form shows them as implied, not as chosen.
    pub implied: PermissionSet,
    /// The template's permissions that do not apply to the owner, in catalogue order.
    pub not_applicable: Vec<NotApplicable>,
}

impl Resolution {
    /// What the form pre-selects: the applicable permissions and the implied ones.
    pub fn prefilled_permissions(&self) -> PermissionSet {
        self.permissions.union(&self.implied)
    }
}

impl Template {
    /// No problems: the link opens cleanly (notes may remain).
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Picks the owner among `owners` and sorts the permissions by whether they apply to it.
    pub fn resolve(&self, owners: &SelectableOwners<'_>) -> Resolution {
        let (owner, owner_problem) = match &self.target_name {
            None => (owners.user(), None),
            Some(target) => match owners.find(target) {
                Some(owner) => (owner, None),
                None => (
                    owners.user(),
                    Some(FieldMessage::new(
                        Field::ResourceOwner,
                        format!(
                            "Cannot find the specified resource owner: {}",
                            shown(target)
                        ),
                    )),
                ),
            },
        };
        let mut permissions = PermissionSet::new();
        let mut not_applicable = Vec::new();
        for (permission, level) in self.permissions.iter() {
            match not_applicable_message(permission, owner.kind) {
                None => permissions.set(permission, Some(level)),
                Some(message) => not_applicable.push(NotApplicable {
                    permission,
                    level,
                    message,
                }),
            }
        }
        Resolution {
            owner,
            owner_problem,
            implied: implied_by(&permissions),
            permissions,
            not_applicable,
        }
    }
}

/// Why `permission` does not apply to an owner of `kind`, if it does not. The wording is
/// [`crate::validate::parse_permissions`]'s, so the form and the API say the same thing.
fn not_applicable_message(permission: Permission, kind: AccountKind) -> Option<String> {
    match (permission.group(), kind) {
        (PermissionGroup::Account, AccountKind::Organization) => Some(format!(
            "{permission} is an account permission: it only applies when the resource owner is you"
        )),
        (PermissionGroup::Organization, AccountKind::User) => Some(format!(
            "{permission} is an organization permission: it only applies when the resource owner is an organization"
        )),
        _ => None,
    }
}

/// `metadata: read` when `permissions` holds any other repository permission.
fn implied_by(permissions: &PermissionSet) -> PermissionSet {
    let has_repository_permission = permissions
        .in_group(PermissionGroup::Repository)
        .any(|(p, _)| p != Permission::METADATA);
    if has_repository_permission {
        PermissionSet::new().with(Permission::METADATA, Level::Read)
    } else {
        PermissionSet::new()
    }
}

/// The permission a query parameter names: its catalogue name, or GitHub's `user_` /
/// `organization_` alias of an account / organization permission (see the module docs).
pub fn permission_for_parameter(parameter: &str) -> Option<Permission> {
    Permission::from_name(parameter)
        .or_else(|| prefixed_alias(parameter, "user_", PermissionGroup::Account))
        .or_else(|| prefixed_alias(parameter, "organization_", PermissionGroup::Organization))
}

fn prefixed_alias(parameter: &str, prefix: &str, group: PermissionGroup) -> Option<Permission> {
    parameter
        .strip_prefix(prefix)
        // `user_user_events` is not an alias: the catalogue name already has the prefix.
        .filter(|rest| !rest.starts_with(prefix))
        .and_then(Permission::from_name)
        .filter(|p| p.group() == group)
}

/// Parses a query string (without or with its leading `?`). Never fails: whatever is wrong is in
/// [`Template::problems`].
pub fn parse(query: &str) -> Template {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut collected = Collected::default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if !value.is_empty() {
            collected.add(&key, value.into_owned());
        }
    }
    collected.into_template()
}

/// Renders a template as a query string (without `?`) that [`parse`] reads back to the same
/// template: `name`, `description`, `target_name`, `expires_in`, then the permissions in
/// catalogue order under their catalogue names. Empty strings are left out (they pre-fill
/// nothing), and so are [`Expiration::Default`] (the form's default) and [`Expiration::Date`]
/// (a link carries days from when it is opened; a fixed date cannot be said in `expires_in`).
/// Problems and notes are not rendered.
pub fn render(template: &Template) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let texts = [
        (NAME_PARAMETER, &template.name),
        (DESCRIPTION_PARAMETER, &template.description),
        (TARGET_NAME_PARAMETER, &template.target_name),
    ];
    for (parameter, value) in texts {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            query.append_pair(parameter, value);
        }
    }
    match template.expiration {
        Some(Expiration::Days(days)) => {
            query.append_pair(EXPIRES_IN_PARAMETER, &days.to_string());
        }
        Some(Expiration::Never) => {
            query.append_pair(EXPIRES_IN_PARAMETER, "none");
        }
        Some(Expiration::Default | Expiration::Date(_)) | None => {}
    }
    for (permission, level) in template.permissions.iter() {
        query.append_pair(permission.name(), level.as_str());
    }
    query.finish()
}

/// The distinct values given for one parameter, first first: at most two, which is enough to tell
/// a conflict and keeps a link repeating one parameter many times linear to read.
#[derive(Debug, Default)]
struct Values(Vec<String>);

impl Values {
    fn add(&mut self, value: String) {
        if self.0.len() < 2 && !self.0.contains(&value) {
            self.0.push(value);
        }
    }

    /// The one value, or `None` with a problem when the values conflict.
    fn single(
        &self,
        field: Field,
        parameter: &str,
        problems: &mut Vec<FieldMessage>,
    ) -> Option<&str> {
        match self.0.as_slice() {
            [] => None,
            [value] => Some(value),
            _ => {
                problems.push(FieldMessage::new(
                    field,
                    format!("{parameter} is given more than once with different values"),
                ));
                None
            }
        }
    }
}

/// A permission parameter, by what it names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum PermissionKey {
    Known(Permission),
    /// A name the catalogue does not know, given with an access level.
    Unknown(String),
}

/// The query's pairs gathered by parameter, before they are checked.
#[derive(Debug, Default)]
struct Collected {
    name: Values,
    description: Values,
    target_name: Values,
    expires_in: Values,
    /// In the order the parameters first appear, so problems follow the link.
    permissions: Vec<(PermissionKey, Values)>,
    /// Where each key is in `permissions` (a link may name many unknown permissions).
    permission_positions: HashMap<PermissionKey, usize>,
}

impl Collected {
    fn add(&mut self, key: &str, value: String) {
        let key = match key {
            NAME_PARAMETER => return self.name.add(value),
            DESCRIPTION_PARAMETER => return self.description.add(value),
            TARGET_NAME_PARAMETER => return self.target_name.add(value),
            EXPIRES_IN_PARAMETER => return self.expires_in.add(value),
            _ => match permission_for_parameter(key) {
                Some(permission) => PermissionKey::Known(permission),
                None if looks_like_level(&value) => PermissionKey::Unknown(key.to_owned()),
                // Not a field, not a permission: ignored (module docs, "Unknown parameters").
                None => return,
            },
        };
        let seen = self.permission_positions.get(&key).copied();
        match seen.and_then(|position| self.permissions.get_mut(position)) {
            Some((_, values)) => values.add(value),
            None => {
                let mut values = Values::default();
                values.add(value);
                self.permission_positions
                    .insert(key.clone(), self.permissions.len());
                self.permissions.push((key, values));
            }
        }
    }

    fn into_template(self) -> Template {
        let mut template = Template::default();
        let problems = &mut template.problems;
        template.name = self
            .name
            .single(Field::Name, NAME_PARAMETER, problems)
            .and_then(|v| checked_text(v, TextField::Name, problems));
        template.description = self
            .description
            .single(Field::Description, DESCRIPTION_PARAMETER, problems)
            .and_then(|v| checked_text(v, TextField::Description, problems));
        template.target_name = self
            .target_name
            .single(Field::ResourceOwner, TARGET_NAME_PARAMETER, problems)
            .map(str::to_owned);
        template.expiration = self
            .expires_in
            .single(Field::Expiration, EXPIRES_IN_PARAMETER, problems)
            .and_then(|v| {
                let parsed = parse_expires_in(v);
                if parsed.is_none() {
                    problems.push(FieldMessage::new(
                        Field::Expiration,
                        format!(
                            "expires_in must be a whole number of days between 1 and {MAX_EXPIRY_DAYS}, or none"
                        ),
                    ));
                }
                parsed
            });
        for (key, values) in &self.permissions {
            match key {
                PermissionKey::Unknown(name) => problems.push(FieldMessage::new(
                    Field::Permissions,
                    format!("Unknown permission: {}", shown(name)),
                )),
                PermissionKey::Known(permission) => {
                    let field = Field::Permission(*permission);
                    let Some(value) = values.single(field, permission.name(), problems) else {
                        continue;
                    };
                    match checked_level(*permission, value) {
                        Ok(level) => template.permissions.set(*permission, Some(level)),
                        Err(LevelOutcome::Raised(level, message)) => {
                            template.permissions.set(*permission, Some(level));
                            template.notes.push(FieldMessage::new(field, message));
                        }
                        Err(LevelOutcome::Refused(message)) => {
                            problems.push(FieldMessage::new(field, message));
                        }
                    }
                }
            }
        }
        template
    }
}

/// `read`, `write` or `admin` in any case: the value of what is meant as a permission.
fn looks_like_level(value: &str) -> bool {
    Level::ALL
        .iter()
        .any(|level| value.eq_ignore_ascii_case(level.as_str()))
}

/// `1..=366` in ASCII digits, or `none`.
fn parse_expires_in(value: &str) -> Option<Expiration> {
    if value == "none" {
        return Some(Expiration::Never);
    }
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value
        .parse::<u16>()
        .ok()
        .filter(|days| (1..=MAX_EXPIRY_DAYS).contains(days))
        .map(Expiration::Days)
}

/// A level the catalogue does not offer as given.
enum LevelOutcome {
    /// Below every offered level: pre-filled at the lowest, with a note.
    Raised(Level, String),
    /// Not pre-filled: the problem.
    Refused(String),
}

fn checked_level(permission: Permission, value: &str) -> Result<Level, LevelOutcome> {
    let offered = offered_levels(permission);
    if permission.app_only() {
        return Err(LevelOutcome::Refused(format!(
            "{permission} can only be granted to GitHub Apps"
        )));
    }
    let Some(level) = Level::parse(value) else {
        return Err(LevelOutcome::Refused(format!(
            "Unknown access level for {permission}: {} ({permission} supports {offered})",
            shown(value)
        )));
    };
    if permission.allows(level) {
        Ok(level)
    } else if level < permission.min_level() {
        let lowest = permission.min_level();
        Err(LevelOutcome::Raised(
            lowest,
            format!(
                "{permission} only supports {offered}: the link asks for {level}, so {lowest} is selected"
            ),
        ))
    } else {
        Err(LevelOutcome::Refused(format!(
            "{permission} only supports {offered}, not {level}"
        )))
    }
}

/// `read`, `read and write`, `read, write and admin`.
fn offered_levels(permission: Permission) -> String {
    let names: Vec<&str> = permission
        .allowed_levels()
        .iter()
        .map(|l| l.as_str())
        .collect();
    match names.as_slice() {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [first @ .., last] => format!("{} and {last}", first.join(", ")),
    }
}

#[derive(Clone, Copy)]
enum TextField {
    Name,
    Description,
}

impl TextField {
    fn field(self) -> Field {
        match self {
            TextField::Name => Field::Name,
            TextField::Description => Field::Description,
        }
    }

    fn label(self) -> &'static str {
        match self {
            TextField::Name => "Name",
            TextField::Description => "Description",
        }
    }

    fn max_chars(self) -> usize {
        match self {
            TextField::Name => MAX_NAME_CHARS,
            TextField::Description => MAX_DESCRIPTION_CHARS,
        }
    }

    fn forbids(self, c: char) -> bool {
        let lines = match self {
            TextField::Name => crate::text::Lines::One,
            // A description is a textarea: line breaks (either convention) and tabs are text.
            TextField::Description => crate::text::Lines::Many,
        };
        crate::text::forbids(lines, c)
    }
}

/// The value to pre-fill, or `None`; its problems in `problems`.
fn checked_text(value: &str, field: TextField, problems: &mut Vec<FieldMessage>) -> Option<String> {
    if let Some(c) = value.chars().find(|&c| field.forbids(c)) {
        problems.push(FieldMessage::new(
            field.field(),
            format!(
                "{} cannot contain control characters or bidirectional overrides (found U+{:04X})",
                field.label(),
                u32::from(c)
            ),
        ));
        return None;
    }
    if value.chars().count() > field.max_chars() {
        problems.push(FieldMessage::new(
            field.field(),
            format!(
                "{} is too long (maximum is {} characters)",
                field.label(),
                field.max_chars()
            ),
        ));
    }
    Some(value.to_owned())
}

use crate::text::is_bidi_control;

/// A value from the link, safe to repeat in a message (module docs, "Messages").
fn shown(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == MAX_SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
