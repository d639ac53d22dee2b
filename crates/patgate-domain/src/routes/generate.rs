//! Generates `table.rs` from GitHub's JSON (test-only: the crate's build never parses JSON).
//!
//! It fails, naming the culprit, on anything it cannot place: an unmapped permission key, a key
//! whose group differs from the catalogue's, an unknown verb or level, a level the catalogue does
//! not allow, additional permissions that are not exactly the route's other permissions, and a
//! combination of permissions on one route without a rule in [`FAMILIES`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{AppOnlyPermission, MULTI_SEGMENT, Method, RoutePermission};
use crate::catalog::{Level, Permission, PermissionGroup};

/// How GitHub groups the permissions of a route listed under several (module documentation,
/// "Several permissions for one route").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Grouping {
    /// Each permission alone is a set.
    AnyOf,
    /// One set of all of them.
    AllOf,
    /// The named permission alone, or all of them together.
    BaseOrAll(&'static str),
}

/// Every combination of permission keys that shares a route in the data, sorted, with its rule.
pub(super) const FAMILIES: &[(&[&str], Grouping)] = &[
    // REST page "List labels for an issue": "at least one of the following permission sets:
    // Issues (read), Pull requests (read)"; the 33 routes are the endpoints issues and pull
    // requests share (labels, comments, assignees, milestones, events, locks).
    (&["issues", "pull_requests"], Grouping::AnyOf),
    // GitHub changelog 2023-08-10: `repository_projects=write; organization_projects=admin`,
    // "you need either the repository_projects Write permission or the organization_projects
    // Admin permission".
    (
        &["organization_projects", "repository_projects"],
        Grouping::AnyOf,
    ),
    // github/docs src/rest/data git.json, create and update a reference:
    // `[{contents: write}, {contents: write, workflows: write}]`.
    (&["contents", "workflows"], Grouping::BaseOrAll("contents")),
    // github/docs src/rest/data pages.json: one set `{pages: write, administration: write}`.
    (&["administration", "pages"], Grouping::AllOf),
    // Metadata with another permission: github/docs' generator drops metadata from such routes
    // because it made writes look like they "only need metadata access when they actually
    // require write permissions": the other permission is needed too.
    (&["codespaces_user_secrets", "metadata"], Grouping::AllOf),
    (&["gists", "metadata"], Grouping::AllOf),
    (
        &["metadata", "organization_actions_variables"],
        Grouping::AllOf,
    ),
    (
        &["metadata", "organization_administration"],
        Grouping::AllOf,
    ),
    (
        &["metadata", "organization_codespaces_secrets"],
        Grouping::AllOf,
    ),
    (
        &["metadata", "organization_dependabot_secrets"],
        Grouping::AllOf,
    ),
    (&["metadata", "organization_secrets"], Grouping::AllOf),
    // Not verified against GitHub's sets: all of them, which never allows what GitHub refuses.
    (&["actions", "checks", "deployments"], Grouping::AllOf),
    (&["actions_variables", "environments"], Grouping::AllOf),
    (&["administration", "codespaces_secrets"], Grouping::AllOf),
    (&["codespaces", "organization_codespaces"], Grouping::AllOf),
    (
        &["codespaces_lifecycle_admin", "organization_codespaces"],
        Grouping::AllOf,
    ),
    (&["contents", "pull_requests"], Grouping::AllOf),
    (&["environments", "secrets"], Grouping::AllOf),
];

/// The two keys of the data that are not catalogue permissions.
fn app_only(key: &str) -> Option<AppOnlyPermission> {
    match key {
        "checks" => Some(AppOnlyPermission::Checks),
        "repository_projects" => Some(AppOnlyPermission::RepositoryProjects),
        _ => None,
    }
}

/// Maps a key of the data to its permission, checking the group against `displayTitle`
/// (`Organization permissions for "Administration"`).
pub(super) fn map_key(key: &str, display_title: &str) -> Result<RoutePermission, String> {
    let permission = match (Permission::from_name(key), app_only(key)) {
        (Some(p), _) => RoutePermission::Catalog(p),
        (None, Some(p)) => RoutePermission::AppOnly(p),
        (None, None) => {
            return Err(format!(
                "permission key {key:?} maps to no catalogue permission"
            ));
        }
    };
    let group = match display_title.split(' ').next() {
        Some("User") => PermissionGroup::Account,
        Some("Repository") => PermissionGroup::Repository,
        Some("Organization") => PermissionGroup::Organization,
        _ => return Err(format!("{key}: unknown group in {display_title:?}")),
    };
    if permission.group() != group {
        return Err(format!(
            "{key}: the data says {group}, the catalogue {}",
            permission.group()
        ));
    }
    Ok(permission)
}

fn method(verb: &str) -> Result<Method, String> {
    Method::ALL
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(verb))
        .ok_or_else(|| format!("unknown verb {verb:?}"))
}

/// One (permission, route) entry of the data.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub key: String,
    pub permission: RoutePermission,
    pub method: Method,
    pub path: String,
    pub level: Level,
    pub additional: Vec<String>,
}

/// The data, parsed and checked entry by entry.
#[derive(Debug)]
pub(super) struct Source {
    pub keys: usize,
    pub entries: Vec<Entry>,
    pub sha256: String,
}

pub(super) fn parse(json: &str) -> Result<Source, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let object = value.as_object().ok_or("the data is not a JSON object")?;
    let mut entries = Vec::new();
    for (key, group) in object {
        let display = group["displayTitle"]
            .as_str()
            .ok_or_else(|| format!("{key}: no displayTitle"))?;
        let permission = map_key(key, display)?;
        let list = group["permissions"]
            .as_array()
            .ok_or_else(|| format!("{key}: no permissions"))?;
        for e in list {
            let text = |field: &str| {
                e[field]
                    .as_str()
                    .ok_or_else(|| format!("{key}: an entry without {field}"))
            };
            let path = text("requestPath")?;
            let level = Level::parse(text("access")?)
                .ok_or_else(|| format!("{key} {path}: unknown access"))?;
            if let RoutePermission::Catalog(p) = permission
                && !p.allows(level)
            {
                return Err(format!(
                    "{key} {path}: the catalogue does not allow {level}"
                ));
            }
            let additional = e["additional-permissions"]
                .as_array()
                .ok_or_else(|| format!("{key} {path}: additional-permissions is not a list"))?
                .iter()
                .map(|a| a.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{key} {path}: an additional permission is not a string"))?;
            entries.push(Entry {
                key: key.clone(),
                permission,
                method: method(text("verb")?)?,
                path: path.to_owned(),
                level,
                additional,
            });
        }
    }
    let digest = Sha256::digest(json.as_bytes());
    let sha256 = digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    Ok(Source {
        keys: object.len(),
        entries,
        sha256,
    })
}

/// A requirement as the generator sees it: sortable, and named for its constant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Req {
    /// Catalogue index, app-only permissions after every catalogue one.
    order: usize,
    key: String,
    level: Level,
    app_only: Option<&'static str>,
}

impl Req {
    fn of(entry: &Entry) -> Req {
        let (order, app_only) = match entry.permission {
            RoutePermission::Catalog(p) => (p.index(), None),
            RoutePermission::AppOnly(AppOnlyPermission::Checks) => (usize::MAX - 1, Some("Checks")),
            RoutePermission::AppOnly(AppOnlyPermission::RepositoryProjects) => {
                (usize::MAX, Some("RepositoryProjects"))
            }
        };
        Req {
            order,
            key: entry.key.clone(),
            level: entry.level,
            app_only,
        }
    }

    fn constant(&self) -> String {
        format!("{}_{}", self.key, self.level.as_str()).to_uppercase()
    }

    fn level_variant(&self) -> &'static str {
        match self.level {
            Level::Read => "Read",
            Level::Write => "Write",
            Level::Admin => "Admin",
        }
    }
}

/// A route of the table as the generator builds it.
#[derive(Debug)]
pub(super) struct GeneratedRoute {
    pub method: Method,
    pub template: String,
    sets: Vec<Vec<Req>>,
}

/// Groups the entries by route and rebuilds each route's permission sets.
pub(super) fn build_routes(source: &Source) -> Result<Vec<GeneratedRoute>, String> {
    let mut by_route: BTreeMap<(String, Method), Vec<&Entry>> = BTreeMap::new();
    for e in &source.entries {
        by_route
            .entry((e.path.clone(), e.method))
            .or_default()
            .push(e);
    }
    let mut routes = Vec::with_capacity(by_route.len());
    for ((template, method), entries) in by_route {
        let keys: BTreeSet<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        if keys.len() != entries.len() {
            return Err(format!("{method} {template}: a permission is listed twice"));
        }
        for e in &entries {
            let others: BTreeSet<&str> = keys.iter().copied().filter(|k| *k != e.key).collect();
            let additional: BTreeSet<&str> = e.additional.iter().map(String::as_str).collect();
            if additional != others {
                return Err(format!(
                    "{method} {template}: {} lists {additional:?} as additional permissions, \
                     the route's other permissions are {others:?}",
                    e.key
                ));
            }
        }
        for name in template.split('/').filter_map(super::param_name) {
            if name.is_empty() || name.contains(['{', '}']) {
                return Err(format!("{template}: malformed parameter"));
            }
        }
        let mut reqs: Vec<Req> = entries.iter().map(|e| Req::of(e)).collect();
        reqs.sort();
        let sets = if reqs.len() == 1 {
            vec![reqs]
        } else {
            let family: Vec<&str> = keys.iter().copied().collect();
            let grouping = FAMILIES
                .iter()
                .find(|(f, _)| *f == family.as_slice())
                .map(|(_, g)| *g)
                .ok_or_else(|| {
                    format!("{method} {template}: no rule for the permissions {family:?}")
                })?;
            match grouping {
                Grouping::AnyOf => reqs.into_iter().map(|r| vec![r]).collect(),
                Grouping::AllOf => vec![reqs],
                Grouping::BaseOrAll(base) => {
                    let alone: Vec<Req> = reqs.iter().filter(|r| r.key == base).cloned().collect();
                    if alone.len() != 1 {
                        return Err(format!("{method} {template}: {base} is not on the route"));
                    }
                    vec![alone, reqs]
                }
            }
        };
        routes.push(GeneratedRoute {
            method,
            template,
            sets,
        });
    }
    Ok(routes)
}

/// The source of `table.rs`.
pub(super) fn generate(json: &str) -> Result<String, String> {
    let source = parse(json)?;
    let routes = build_routes(&source)?;
    let mut constants: BTreeMap<String, Req> = BTreeMap::new();
    for r in routes.iter().flat_map(|r| r.sets.iter().flatten()) {
        constants.entry(r.constant()).or_insert_with(|| r.clone());
    }
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "//! The route table, generated from GitHub's per-endpoint data by `routes::generate`.\n\
         //!\n\
         //! Source: `data/github-fine-grained-pat-permissions.json`, from github/docs\n\
         //! `src/github-apps/data/fpt-2022-11-28/fine-grained-pat-permissions.json`\n\
         //! (SHA-256 {}).\n\
         //! {} permission keys, {} entries, {} routes. Multi-segment parameters: {}.\n\
         //!\n\
         //! @generated: do not edit. Change the data or the generator, then run\n\
         //! `PATGATE_REGENERATE=1 cargo test -p patgate-domain routes::`.\n",
        source.sha256,
        source.keys,
        source.entries.len(),
        routes.len(),
        MULTI_SEGMENT.join(", ")
    );
    let methods: BTreeSet<&str> = routes.iter().map(|r| variant(r.method)).collect();
    let levels: BTreeSet<&str> = constants.values().map(Req::level_variant).collect();
    let app_only = constants.values().any(|r| r.app_only.is_some());
    let _ = writeln!(
        w,
        "use super::{{{}Method::{{{}}}, Requirement, Route}};\n\
         use crate::catalog::Level::{{{}}};\n",
        if app_only { "AppOnlyPermission, " } else { "" },
        methods.into_iter().collect::<Vec<_>>().join(", "),
        levels.into_iter().collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        w,
        "/// Permission keys in the source data.\n\
         #[cfg(test)]\n\
         pub(super) const SOURCE_PERMISSION_KEYS: usize = {};\n\
         /// (permission, route) entries in the source data.\n\
         #[cfg(test)]\n\
         pub(super) const SOURCE_ENTRIES: usize = {};\n",
        source.keys,
        source.entries.len()
    );
    for (name, r) in &constants {
        let _ = match r.app_only {
            Some(variant) => writeln!(
                w,
                "const {name}: Requirement = Requirement::app_only(AppOnlyPermission::{variant}, {});",
                r.level_variant()
            ),
            None => writeln!(
                w,
                "const {name}: Requirement = Requirement::catalog({:?}, {});",
                r.key,
                r.level_variant()
            ),
        };
    }
    let _ = writeln!(
        w,
        "\n/// Every route, ordered by template then method.\n\
         pub(super) static ROUTES: [Route; {}] = [",
        routes.len()
    );
    for route in &routes {
        let sets = route
            .sets
            .iter()
            .map(|set| {
                let names: Vec<String> = set.iter().map(Req::constant).collect();
                format!("&[{}]", names.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            w,
            "    Route::new({}, {:?}, &[{sets}]),",
            variant(route.method),
            route.template
        );
    }
    let _ = writeln!(w, "];");
    Ok(out)
}

fn variant(method: Method) -> &'static str {
    match method {
        Method::Get => "Get",
        Method::Post => "Post",
        Method::Put => "Put",
        Method::Patch => "Patch",
        Method::Delete => "Delete",
    }
}
