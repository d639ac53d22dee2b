//! The table against GitHub's JSON, then matching, permission sets, classic scopes and resources,
//! table-driven.

use std::collections::{BTreeMap, BTreeSet};

use super::generate::{self, FAMILIES, Grouping};
use super::*;
use crate::catalog::PermissionSet;

const JSON: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/github-fine-grained-pat-permissions.json"
));
const TABLE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes/table.rs");

fn found(method: &str, path: &str) -> RouteMatch<'static> {
    let path: &'static str = Box::leak(path.to_owned().into_boxed_str());
    lookup(method, path).unwrap_or_else(|| panic!("{method} {path} not found"))
}

fn p(name: &str) -> Permission {
    Permission::from_name(name).unwrap()
}

/// A fine-grained grant meets the route: every requirement of one set is granted (app-only
/// permissions never are). `metadata: read` is granted explicitly where a case needs it.
fn grant_meets(m: &RouteMatch<'_>, granted: &PermissionSet) -> bool {
    m.any_of().iter().any(|set| {
        set.iter().all(|r| {
            r.need()
                .is_some_and(|n| granted.grants(n.permission, n.level))
        })
    })
}

fn grant(list: &[(&str, Level)]) -> PermissionSet {
    list.iter()
        .fold(PermissionSet::new(), |s, (n, l)| s.with(p(n), *l))
}

// ---------------------------------------------------------------------------------------------
// The table is GitHub's JSON
// ---------------------------------------------------------------------------------------------

#[test]
fn the_table_is_generated_from_the_json() {
    let generated = generate::generate(JSON).unwrap();
    let checked_in = std::fs::read_to_string(TABLE_PATH).unwrap_or_default();
    if generated == checked_in {
        return;
    }
    if std::env::var_os("PATGATE_REGENERATE").is_some() {
        std::fs::write(TABLE_PATH, &generated).unwrap();
        return;
    }
    panic!(
        "src/routes/table.rs is not what the generator makes of the JSON: run \
         `PATGATE_REGENERATE=1 cargo test -p patgate-domain routes::` and review the diff"
    );
}

#[test]
fn the_counts_of_routes_and_permissions_match_the_json() {
    let source = generate::parse(JSON).unwrap();
    assert_eq!(source.keys, 53);
    assert_eq!(source.entries.len(), 746);
    assert_eq!(table::SOURCE_PERMISSION_KEYS, source.keys);
    assert_eq!(table::SOURCE_ENTRIES, source.entries.len());
    let distinct: BTreeSet<(Method, &str)> = source
        .entries
        .iter()
        .map(|e| (e.method, e.path.as_str()))
        .collect();
    assert_eq!(routes().len(), distinct.len());
    assert_eq!(routes().len(), 646);
    let keys_in_table: BTreeSet<&str> = routes()
        .iter()
        .flat_map(|r| r.any_of().iter().copied().flatten())
        .map(|r| r.permission.name())
        .collect();
    assert_eq!(keys_in_table.len(), 53);
    let several = routes()
        .iter()
        .filter(|r| r.any_of().iter().copied().flatten().count() > 1)
        .count();
    assert_eq!(several, 99);
}

#[test]
fn every_json_entry_is_on_its_route_with_its_level() {
    for e in generate::parse(JSON).unwrap().entries {
        let route = routes()
            .iter()
            .find(|r| r.method() == e.method && r.template() == e.path)
            .unwrap_or_else(|| panic!("{} {} missing", e.method, e.path));
        let wanted = Requirement {
            permission: e.permission,
            level: e.level,
        };
        assert!(
            route.any_of().iter().any(|set| set.contains(&wanted)),
            "{} {}: {wanted} missing from {}",
            e.method,
            e.path,
            route.accepted_permissions()
        );
    }
}

#[test]
fn every_json_key_maps_to_its_catalogue_permission_or_an_app_only_one() {
    let source = generate::parse(JSON).unwrap();
    let mapped: BTreeMap<&str, RoutePermission> = source
        .entries
        .iter()
        .map(|e| (e.key.as_str(), e.permission))
        .collect();
    assert_eq!(mapped.len(), 53);
    for (key, permission) in mapped {
        assert_eq!(permission.name(), key);
        match key {
            "checks" => assert_eq!(
                permission,
                RoutePermission::AppOnly(AppOnlyPermission::Checks)
            ),
            "repository_projects" => assert_eq!(
                permission,
                RoutePermission::AppOnly(AppOnlyPermission::RepositoryProjects)
            ),
            _ => assert_eq!(permission, RoutePermission::Catalog(p(key))),
        }
    }
    assert_eq!(
        generate::map_key(
            "organization_administration",
            "Organization permissions for \"Administration\""
        ),
        Ok(RoutePermission::Catalog(
            Permission::ORGANIZATION_ADMINISTRATION
        ))
    );
}

#[test]
fn the_generator_fails_loudly_on_what_it_cannot_place() {
    let route = |key: &str, title: &str, access: &str, additional: &str| {
        format!(
            r#""{key}": {{"title": "t", "displayTitle": "{title}", "permissions": [
                {{"category": "c", "slug": "s", "subcategory": "c", "verb": "get",
                  "requestPath": "/repos/{{owner}}/{{repo}}/x", "access": "{access}",
                  "additional-permissions": [{additional}]}}]}}"#
        )
    };
    let repo = "Repository permissions for X";
    // (json, what the error names)
    let cases = [
        (format!("{{{}}}", route("bogus", repo, "read", "")), "bogus"),
        (
            format!(
                "{{{}}}",
                route("contents", "Organization permissions for C", "read", "")
            ),
            "contents",
        ),
        (
            format!("{{{}}}", route("metadata", repo, "write", "")),
            "write",
        ),
        (
            format!("{{{}}}", route("contents", repo, "own", "")),
            "access",
        ),
        (
            format!("{{{}}}", route("contents", repo, "read", r#""issues""#)),
            "additional",
        ),
        (
            format!(
                "{{{}, {}}}",
                route("contents", repo, "read", r#""issues""#),
                route("issues", repo, "read", r#""contents""#)
            ),
            "no rule",
        ),
    ];
    for (json, named) in cases {
        let err = generate::generate(&json).unwrap_err();
        assert!(err.contains(named), "{err:?} should name {named:?}");
    }
}

#[test]
fn every_permission_combination_of_the_data_has_exactly_one_rule() {
    let source = generate::parse(JSON).unwrap();
    let mut by_route: BTreeMap<(Method, &str), BTreeSet<&str>> = BTreeMap::new();
    for e in &source.entries {
        by_route
            .entry((e.method, e.path.as_str()))
            .or_default()
            .insert(e.key.as_str());
    }
    let in_data: BTreeSet<Vec<&str>> = by_route
        .into_values()
        .filter(|keys| keys.len() > 1)
        .map(|keys| keys.into_iter().collect())
        .collect();
    let rules: Vec<Vec<&str>> = FAMILIES.iter().map(|(f, _)| f.to_vec()).collect();
    for family in &in_data {
        assert_eq!(
            rules.iter().filter(|r| *r == family).count(),
            1,
            "{family:?}"
        );
    }
    for rule in &rules {
        assert!(in_data.contains(rule), "stale rule {rule:?}");
        assert!(rule.is_sorted(), "{rule:?} is not sorted");
    }
    let any_of = FAMILIES
        .iter()
        .filter(|(_, g)| *g == Grouping::AnyOf)
        .count();
    assert_eq!(any_of, 2);
}

#[test]
fn every_route_is_reachable_from_its_own_template() {
    for route in routes() {
        let sample = |name: &str| {
            if MULTI_SEGMENT.contains(&name) {
                format!("s-{name}/more")
            } else {
                format!("s-{name}")
            }
        };
        let path: String = route
            .template()
            .split('/')
            .map(|s| param_name(s).map_or_else(|| s.to_owned(), sample))
            .collect::<Vec<_>>()
            .join("/");
        let m = found(route.method().as_str(), &path);
        assert_eq!(m.route(), route, "{path}");
        let expected: Vec<(&str, String)> = route.param_names().map(|n| (n, sample(n))).collect();
        let got: Vec<(&str, String)> = m.params().map(|(n, v)| (n, v.to_owned())).collect();
        assert_eq!(got, expected, "{path}");
        let lower = route.method().as_str().to_lowercase();
        assert_eq!(found(&lower, &path).route(), route, "{lower} {path}");
    }
}

#[test]
fn the_index_leaves_no_route_out() {
    let (_, left_out) = Index::build(routes());
    assert!(left_out.is_empty(), "{left_out:?}");
    let most = routes()
        .iter()
        .map(|r| r.param_names().count())
        .max()
        .unwrap();
    assert!(most <= MAX_PARAMS, "{most}");
}

// ---------------------------------------------------------------------------------------------
// Real routes by resource kind: (method, path, template, X-Accepted-GitHub-Permissions)
// ---------------------------------------------------------------------------------------------

fn check_routes(cases: &[(&str, &str, &str, &str)]) {
    for &(method, path, template, accepted) in cases {
        let m = found(method, path);
        assert_eq!(m.template(), template, "{method} {path}");
        assert_eq!(m.accepted_permissions(), accepted, "{method} {path}");
    }
}

#[test]
fn repository_routes_need_github_s_permissions() {
    check_routes(&[
        (
            "GET",
            "/repos/acme/api",
            "/repos/{owner}/{repo}",
            "metadata=read",
        ),
        (
            "PATCH",
            "/repos/acme/api",
            "/repos/{owner}/{repo}",
            "administration=write",
        ),
        (
            "DELETE",
            "/repos/acme/api",
            "/repos/{owner}/{repo}",
            "administration=write",
        ),
        (
            "GET",
            "/repos/acme/api/contents/src/main.rs?ref=x",
            "/repos/{owner}/{repo}/contents/{path}",
            "contents=read",
        ),
        (
            "PUT",
            "/repos/acme/api/contents/README.md",
            "/repos/{owner}/{repo}/contents/{path}",
            "contents=write",
        ),
        (
            "POST",
            "/repos/acme/api/issues",
            "/repos/{owner}/{repo}/issues",
            "issues=write",
        ),
        (
            "GET",
            "/repos/acme/api/pulls",
            "/repos/{owner}/{repo}/pulls",
            "pull_requests=read",
        ),
        (
            "PUT",
            "/repos/acme/api/actions/secrets/TOKEN",
            "/repos/{owner}/{repo}/actions/secrets/{secret_name}",
            "secrets=write",
        ),
        (
            "POST",
            "/repos/acme/api/hooks",
            "/repos/{owner}/{repo}/hooks",
            "repository_hooks=write",
        ),
        (
            "POST",
            "/repos/acme/api/actions/workflows/ci.yml/dispatches",
            "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
            "actions=write",
        ),
        (
            "GET",
            "/repos/acme/api/secret-scanning/alerts/3/locations",
            "/repos/{owner}/{repo}/secret-scanning/alerts/{alert_number}/locations",
            "secret_scanning_alerts=read",
        ),
        (
            "PATCH",
            "/repos/acme/api/security-advisories/GHSA-1234-5678-9abc",
            "/repos/{owner}/{repo}/security-advisories/{ghsa_id}",
            "repository_advisories=write",
        ),
        (
            "GET",
            "/repos/acme/api/deployments/7",
            "/repos/{owner}/{repo}/deployments/{deployment_id}",
            "deployments=read",
        ),
        (
            "POST",
            "/repos/acme/api/check-suites",
            "/repos/{owner}/{repo}/check-suites",
            "checks=write",
        ),
        (
            "GET",
            "/repositories/42/environments/prod/secrets/public-key",
            "/repositories/{repository_id}/environments/{environment_name}/secrets/public-key",
            "environments=read,secrets=read",
        ),
    ]);
}

#[test]
fn organization_routes_need_github_s_permissions() {
    check_routes(&[
        (
            "GET",
            "/orgs/acme/repos",
            "/orgs/{org}/repos",
            "metadata=read",
        ),
        (
            "GET",
            "/orgs/acme/outside_collaborators",
            "/orgs/{org}/outside_collaborators",
            "members=read",
        ),
        (
            "POST",
            "/orgs/acme/hooks",
            "/orgs/{org}/hooks",
            "organization_hooks=write",
        ),
        (
            "GET",
            "/orgs/acme/hooks/5/deliveries/9",
            "/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}",
            "organization_hooks=read",
        ),
        (
            "GET",
            "/orgs/acme/installations",
            "/orgs/{org}/installations",
            "organization_administration=read",
        ),
        (
            "DELETE",
            "/orgs/acme/rulesets/12",
            "/orgs/{org}/rulesets/{ruleset_id}",
            "organization_administration=write",
        ),
        (
            "GET",
            "/orgs/acme/blocks/mallory",
            "/orgs/{org}/blocks/{username}",
            "organization_user_blocking=read",
        ),
        (
            "POST",
            "/orgs/acme/actions/variables",
            "/orgs/{org}/actions/variables",
            "organization_actions_variables=write",
        ),
        (
            "GET",
            "/orgs/acme/codespaces/secrets/public-key",
            "/orgs/{org}/codespaces/secrets/public-key",
            "organization_codespaces_secrets=read",
        ),
        (
            "DELETE",
            "/orgs/acme/codespaces/billing/selected_users",
            "/orgs/{org}/codespaces/billing/selected_users",
            "organization_codespaces_settings=write",
        ),
        (
            "GET",
            "/orgs/acme/code-scanning/alerts",
            "/orgs/{org}/code-scanning/alerts",
            "security_events=read",
        ),
        (
            "DELETE",
            "/orgs/acme/actions/secrets/TOKEN/repositories/42",
            "/orgs/{org}/actions/secrets/{secret_name}/repositories/{repository_id}",
            "metadata=read,organization_secrets=write",
        ),
        (
            "DELETE",
            "/orgs/acme/teams/core/discussions/1/comments/2/reactions/3",
            "/orgs/{org}/teams/{team_slug}/discussions/{discussion_number}/comments/{comment_number}/reactions/{reaction_id}",
            "team_discussions=write",
        ),
    ]);
}

#[test]
fn account_routes_need_github_s_permissions() {
    check_routes(&[
        ("PATCH", "/user", "/user", "profile=write"),
        ("GET", "/user/keys", "/user/keys", "keys=read"),
        (
            "DELETE",
            "/user/keys/3",
            "/user/keys/{key_id}",
            "keys=write",
        ),
        ("POST", "/user/gpg_keys", "/user/gpg_keys", "gpg_keys=write"),
        ("GET", "/user/emails", "/user/emails", "emails=read"),
        (
            "PUT",
            "/user/following/bob",
            "/user/following/{username}",
            "followers=write",
        ),
        (
            "PUT",
            "/user/blocks/mallory",
            "/user/blocks/{username}",
            "blocking=write",
        ),
        (
            "GET",
            "/user/ssh_signing_keys/4",
            "/user/ssh_signing_keys/{ssh_signing_key_id}",
            "git_signing_ssh_public_keys=read",
        ),
        (
            "PUT",
            "/user/starred/acme/api",
            "/user/starred/{owner}/{repo}",
            "starring=write",
        ),
        (
            "GET",
            "/user/subscriptions",
            "/user/subscriptions",
            "watching=read",
        ),
        (
            "PUT",
            "/user/interaction-limits",
            "/user/interaction-limits",
            "interaction_limits=write",
        ),
        (
            "PUT",
            "/user/codespaces/secrets/NPM/repositories/42",
            "/user/codespaces/secrets/{secret_name}/repositories/{repository_id}",
            "codespaces_user_secrets=write,metadata=read",
        ),
        (
            "GET",
            "/users/alice/settings/billing/actions",
            "/users/{username}/settings/billing/actions",
            "plan=read",
        ),
    ]);
}

#[test]
fn other_routes_need_github_s_permissions() {
    check_routes(&[
        ("POST", "/gists", "/gists", "gists=write,metadata=read"),
        (
            "PUT",
            "/gists/aa5a315d/star",
            "/gists/{gist_id}/star",
            "gists=write,metadata=read",
        ),
        (
            "GET",
            "/gists/aa5a315d/comments/1",
            "/gists/{gist_id}/comments/{comment_id}",
            "metadata=read",
        ),
        ("GET", "/repositories", "/repositories", "metadata=read"),
        (
            "GET",
            "/search/labels?q=bug",
            "/search/labels",
            "metadata=read",
        ),
        (
            "PUT",
            "/teams/9/members/bob",
            "/teams/{team_id}/members/{username}",
            "members=write",
        ),
        (
            "GET",
            "/projects/1",
            "/projects/{project_id}",
            "organization_projects=read; repository_projects=read",
        ),
        (
            "POST",
            "/projects/columns/3/cards",
            "/projects/columns/{column_id}/cards",
            "organization_projects=write; repository_projects=write",
        ),
        (
            "GET",
            "/users/bob/keys",
            "/users/{username}/keys",
            "keys=read",
        ),
        (
            "GET",
            "/users/bob/events/orgs/acme",
            "/users/{username}/events/orgs/{org}",
            "organization_events=read",
        ),
        (
            "GET",
            "/users/bob/repos",
            "/users/{username}/repos",
            "metadata=read",
        ),
        (
            "GET",
            "/users/bob/starred",
            "/users/{username}/starred",
            "starring=read",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Several permissions for one route
// ---------------------------------------------------------------------------------------------

#[test]
fn several_permissions_follow_github_s_permission_sets() {
    check_routes(&[
        // either
        (
            "GET",
            "/repos/acme/api/issues/1/labels",
            "/repos/{owner}/{repo}/issues/{issue_number}/labels",
            "issues=read; pull_requests=read",
        ),
        (
            "POST",
            "/repos/acme/api/issues/1/comments",
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            "issues=write; pull_requests=write",
        ),
        (
            "GET",
            "/projects/1/collaborators",
            "/projects/{project_id}/collaborators",
            "organization_projects=admin; repository_projects=write",
        ),
        // contents alone, or with workflows
        (
            "POST",
            "/repos/acme/api/git/refs",
            "/repos/{owner}/{repo}/git/refs",
            "contents=write; contents=write,workflows=write",
        ),
        // both or all
        (
            "POST",
            "/repos/acme/api/pages",
            "/repos/{owner}/{repo}/pages",
            "administration=write,pages=write",
        ),
        (
            "PUT",
            "/orgs/acme/dependabot/secrets/S/repositories/42",
            "/orgs/{org}/dependabot/secrets/{secret_name}/repositories/{repository_id}",
            "metadata=read,organization_dependabot_secrets=write",
        ),
        (
            "GET",
            "/repos/acme/api/pulls/7",
            "/repos/{owner}/{repo}/pulls/{pull_number}",
            "contents=read,pull_requests=read",
        ),
        (
            "POST",
            "/repos/acme/api/actions/runs/5/pending_deployments",
            "/repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments",
            "actions=read,deployments=read,checks=read",
        ),
    ]);
}

/// (method, path, granted permissions, meets the route)
type GrantCase = (
    &'static str,
    &'static str,
    &'static [(&'static str, Level)],
    bool,
);

#[test]
fn a_grant_meets_a_route_through_one_whole_permission_set() {
    use Level::{Admin, Read, Write};
    let cases: &[GrantCase] = &[
        (
            "POST",
            "/repos/a/b/issues/1/comments",
            &[("issues", Write)],
            true,
        ),
        (
            "POST",
            "/repos/a/b/issues/1/comments",
            &[("pull_requests", Write)],
            true,
        ),
        (
            "POST",
            "/repos/a/b/issues/1/comments",
            &[("issues", Read)],
            false,
        ),
        ("POST", "/repos/a/b/git/refs", &[("contents", Write)], true),
        (
            "POST",
            "/repos/a/b/git/refs",
            &[("workflows", Write)],
            false,
        ),
        ("POST", "/repos/a/b/pages", &[("pages", Write)], false),
        (
            "POST",
            "/repos/a/b/pages",
            &[("pages", Write), ("administration", Write)],
            true,
        ),
        ("POST", "/gists", &[("metadata", Read)], false),
        (
            "POST",
            "/gists",
            &[("gists", Write), ("metadata", Read)],
            true,
        ),
        (
            "GET",
            "/projects/1/collaborators",
            &[("organization_projects", Write)],
            false,
        ),
        (
            "GET",
            "/projects/1/collaborators",
            &[("organization_projects", Admin)],
            true,
        ),
        // checks is app-only: no token meets a route that needs it
        (
            "POST",
            "/repos/a/b/actions/runs/5/pending_deployments",
            &[("actions", Write), ("deployments", Write)],
            false,
        ),
        (
            "GET",
            "/repos/a/b/check-runs/1",
            &[("contents", Write)],
            false,
        ),
    ];
    for &(method, path, granted, meets) in cases {
        let m = found(method, path);
        assert_eq!(
            grant_meets(&m, &grant(granted)),
            meets,
            "{method} {path} {granted:?}"
        );
    }
}

#[test]
fn requirements_hand_authz_its_need() {
    let m = found("GET", "/repos/a/b/contents/x");
    assert_eq!(
        m.any_of()[0][0].need(),
        Some(Need::new(Permission::CONTENTS, Level::Read))
    );
    assert_eq!(m.any_of()[0][0].to_string(), "contents=read");
    let checks = found("GET", "/repos/a/b/check-runs/1").any_of()[0][0];
    assert_eq!(checks.need(), None);
    assert_eq!(checks.permission.group(), PermissionGroup::Repository);
    assert_eq!(checks.permission.catalog(), None);
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

#[test]
fn literal_segments_win_over_parameters() {
    // (method, path, template)
    let cases = [
        (
            "GET",
            "/user/codespaces/secrets",
            "/user/codespaces/secrets",
        ),
        (
            "GET",
            "/user/codespaces/my-space",
            "/user/codespaces/{codespace_name}",
        ),
        (
            "GET",
            "/repos/a/b/actions/secrets/public-key",
            "/repos/{owner}/{repo}/actions/secrets/public-key",
        ),
        (
            "GET",
            "/repos/a/b/actions/secrets/TOKEN",
            "/repos/{owner}/{repo}/actions/secrets/{secret_name}",
        ),
        (
            "GET",
            "/repos/a/b/pulls/comments",
            "/repos/{owner}/{repo}/pulls/comments",
        ),
        (
            "GET",
            "/repos/a/b/pulls/12",
            "/repos/{owner}/{repo}/pulls/{pull_number}",
        ),
        (
            "GET",
            "/repos/a/b/issues/events",
            "/repos/{owner}/{repo}/issues/events",
        ),
        (
            "GET",
            "/repos/a/b/releases/latest",
            "/repos/{owner}/{repo}/releases/latest",
        ),
        // the literal leads nowhere: back to the parameter
        (
            "GET",
            "/repos/a/b/releases/latest/assets",
            "/repos/{owner}/{repo}/releases/{release_id}/assets",
        ),
    ];
    for (method, path, template) in cases {
        assert_eq!(found(method, path).template(), template, "{path}");
    }
    // Different permissions on either side of the precedence.
    assert_eq!(
        found("GET", "/user/codespaces/secrets").accepted_permissions(),
        "codespaces_user_secrets=read"
    );
    assert_eq!(
        found("GET", "/user/codespaces/secrets-box").accepted_permissions(),
        "codespaces=read"
    );
}

#[test]
fn multi_segment_parameters_take_the_rest_of_the_path() {
    // (method, path, template, parameter, value)
    let cases = [
        (
            "GET",
            "/repos/a/b/contents/src/lib/main.rs",
            "/repos/{owner}/{repo}/contents/{path}",
            "path",
            "src/lib/main.rs",
        ),
        (
            "DELETE",
            "/repos/a/b/contents/docs%2Fold%20notes.md",
            "/repos/{owner}/{repo}/contents/{path}",
            "path",
            "docs/old notes.md",
        ),
        (
            "GET",
            "/repos/a/b/contents",
            "/repos/{owner}/{repo}/contents/{path}",
            "path",
            "",
        ),
        (
            "GET",
            "/repos/a/b/contents/",
            "/repos/{owner}/{repo}/contents/{path}",
            "path",
            "",
        ),
        (
            "GET",
            "/repos/a/b/git/ref/heads/feature/x",
            "/repos/{owner}/{repo}/git/ref/{ref}",
            "ref",
            "heads/feature/x",
        ),
        (
            "DELETE",
            "/repos/a/b/git/refs/tags/v1.0",
            "/repos/{owner}/{repo}/git/refs/{ref}",
            "ref",
            "tags/v1.0",
        ),
        (
            "GET",
            "/repos/a/b/git/matching-refs/",
            "/repos/{owner}/{repo}/git/matching-refs/{ref}",
            "ref",
            "",
        ),
        (
            "GET",
            "/repos/a/b/branches/feature/x",
            "/repos/{owner}/{repo}/branches/{branch}",
            "branch",
            "feature/x",
        ),
        (
            "PUT",
            "/repos/a/b/branches/release/2.0/protection",
            "/repos/{owner}/{repo}/branches/{branch}/protection",
            "branch",
            "release/2.0",
        ),
        (
            "GET",
            "/repos/a/b/branches/feature/x/protection/required_status_checks/contexts",
            "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks/contexts",
            "branch",
            "feature/x",
        ),
        (
            "GET",
            "/repos/a/b/commits/heads/main/statuses",
            "/repos/{owner}/{repo}/commits/{ref}/statuses",
            "ref",
            "heads/main",
        ),
        (
            "GET",
            "/repos/a/b/commits/release/v1",
            "/repos/{owner}/{repo}/commits/{ref}",
            "ref",
            "release/v1",
        ),
        (
            "GET",
            "/repos/a/b/commits/6dcb09b/comments",
            "/repos/{owner}/{repo}/commits/{commit_sha}/comments",
            "commit_sha",
            "6dcb09b",
        ),
        (
            "GET",
            "/repos/a/b/rules/branches/team/feat",
            "/repos/{owner}/{repo}/rules/branches/{branch}",
            "branch",
            "team/feat",
        ),
    ];
    for (method, path, template, name, value) in cases {
        let m = found(method, path);
        assert_eq!(m.template(), template, "{method} {path}");
        assert_eq!(m.param(name), Some(value), "{method} {path}");
    }
    // A single-segment parameter takes one segment, and no decoded `/`.
    for path in [
        "/repos/a/b/issues/1/2",
        "/repos/a/b/labels/a%2Fb",
        "/repos/a%2Fb/c",
        "/orgs/acme%2Fx/repos",
    ] {
        assert!(lookup("GET", path).is_none(), "{path}");
    }
    // A trailing slash does not empty a parameter where the parent is a route of its own.
    assert!(lookup("GET", "/repos/a/b/branches/").is_none());
}

#[test]
fn unknown_routes_are_none() {
    // (method, path)
    let cases = [
        ("GET", ""),
        ("GET", "/"),
        ("GET", "repos/a/b"),
        ("GET", "/repos/a"),
        ("GET", "/repos/a/b/no-such-thing"),
        ("GET", "/nope"),
        ("GET", "/Repos/a/b"),
        // GitHub lets any token call these without a permission: not in its data
        ("GET", "/user"),
        ("GET", "/rate_limit"),
        // a method the route does not have, or no method of the table
        ("PUT", "/repos/a/b/issues"),
        ("OPTIONS", "/repos/a/b"),
        ("TRACE", "/repos/a/b"),
        ("", "/repos/a/b"),
        // paths an upstream could read as another route
        ("GET", "/repos/a/b//issues"),
        ("GET", "/repos/a/b/issues/../secrets"),
        ("GET", "/repos/a/b/./issues"),
        ("GET", "/repos/a/b/issues/%2e%2e/hooks"),
        ("GET", "/repos/a/b/issues#x"),
        ("GET", "/repos/a/b/contents/%zz"),
        ("GET", "/repos/a/b/contents/%ff"),
        ("GET", "/repos/a/b/contents/%4"),
    ];
    for (method, path) in cases {
        assert!(lookup(method, path).is_none(), "{method:?} {path:?}");
    }
    let deep = format!("/repos/a/b/contents/{}", vec!["d"; MAX_SEGMENTS].join("/"));
    assert!(lookup("GET", &deep).is_none());
}

#[test]
fn the_query_is_ignored_and_a_trailing_slash_is_not_a_route() {
    // (path, template or none)
    let cases = [
        (
            "/repos/a/b/issues?state=open&labels=a/b#c",
            Some("/repos/{owner}/{repo}/issues"),
        ),
        ("/repos/a/b/issues?", Some("/repos/{owner}/{repo}/issues")),
        ("/repos/a/b?x=1", Some("/repos/{owner}/{repo}")),
        (
            "/repos/a/b/contents/?ref=main",
            Some("/repos/{owner}/{repo}/contents/{path}"),
        ),
        ("/repos/a/b/issues/", None),
        ("/repos/a/b/", None),
        ("/orgs/acme/repos/?page=2", None),
    ];
    for (path, template) in cases {
        assert_eq!(
            lookup("GET", path).map(|m| m.template()),
            template,
            "{path}"
        );
    }
    assert_eq!(
        found("GET", "/repos/a/b/contents/src/x.rs?ref=feature/y").param("path"),
        Some("src/x.rs")
    );
}

#[test]
fn methods_are_case_insensitive_and_head_is_get() {
    // (method as sent, parsed)
    let cases = [
        ("GET", Some(Method::Get)),
        ("get", Some(Method::Get)),
        ("Get", Some(Method::Get)),
        ("HEAD", Some(Method::Get)),
        ("head", Some(Method::Get)),
        ("post", Some(Method::Post)),
        ("PuT", Some(Method::Put)),
        ("patch", Some(Method::Patch)),
        ("DELETE", Some(Method::Delete)),
        ("OPTIONS", None),
        ("GETS", None),
        ("", None),
    ];
    for (sent, parsed) in cases {
        assert_eq!(Method::parse(sent), parsed, "{sent:?}");
    }
    let head = found("HEAD", "/repos/a/b/contents/x");
    assert_eq!(head.method(), Method::Get);
    assert_eq!(head.accepted_permissions(), "contents=read");
    assert_eq!(
        found("delete", "/repos/a/b/contents/x").accepted_permissions(),
        "contents=write"
    );
}

#[test]
fn segments_are_percent_decoded_before_matching() {
    let m = found("GET", "/repos/a/b/%61ctions/secrets/public-key");
    assert_eq!(
        m.template(),
        "/repos/{owner}/{repo}/actions/secrets/public-key"
    );
    let m = found(
        "GET",
        "/repos/ac%20me/%E2%9C%93/labels/good%20first%20issue",
    );
    assert_eq!(
        m.params().collect::<Vec<_>>(),
        [
            ("owner", "ac me"),
            ("repo", "✓"),
            ("name", "good first issue")
        ]
    );
    assert_eq!(
        m.resource(),
        Resource::Repository {
            owner: "ac me",
            repo: "✓"
        }
    );
    // Undecoded values borrow the path.
    let m = found("GET", "/repos/a/b/contents/src/x.rs");
    assert!(matches!(m.values[2], Cow::Borrowed("src/x.rs")));
}

#[test]
fn the_resource_comes_from_the_template() {
    // (method, path, resource)
    let cases = [
        (
            "GET",
            "/repos/acme/api",
            Resource::Repository {
                owner: "acme",
                repo: "api",
            },
        ),
        (
            "POST",
            "/repos/acme/template/generate",
            Resource::Repository {
                owner: "acme",
                repo: "template",
            },
        ),
        (
            "GET",
            "/repositories/42/environments/prod/secrets",
            Resource::RepositoryId {
                repository_id: "42",
            },
        ),
        (
            "GET",
            "/orgs/acme/members",
            Resource::Organization { org: "acme" },
        ),
        (
            "GET",
            "/users/bob/events/orgs/acme",
            Resource::Organization { org: "acme" },
        ),
        (
            "PATCH",
            "/user/memberships/orgs/acme",
            Resource::Organization { org: "acme" },
        ),
        ("GET", "/user/keys", Resource::AuthenticatedUser),
        ("PATCH", "/user", Resource::AuthenticatedUser),
        ("PUT", "/user/starred/acme/api", Resource::AuthenticatedUser),
        ("GET", "/users/bob/keys", Resource::User { username: "bob" }),
        ("POST", "/gists", Resource::Other),
        ("GET", "/projects/1", Resource::Other),
        ("GET", "/teams/1/members/bob", Resource::Other),
        ("GET", "/repositories", Resource::Other),
    ];
    for (method, path, resource) in cases {
        assert_eq!(found(method, path).resource(), resource, "{method} {path}");
    }
    assert_eq!(
        found("POST", "/repos/acme/template/generate")
            .params()
            .collect::<Vec<_>>(),
        [("template_owner", "acme"), ("template_repo", "template")]
    );
}

// ---------------------------------------------------------------------------------------------
// Classic scopes
// ---------------------------------------------------------------------------------------------

#[test]
fn classic_scopes_cover_each_requirement() {
    // (method, path, public repository, X-Accepted-OAuth-Scopes)
    let cases = [
        ("GET", "/repos/a/b/contents/x", false, "repo"),
        ("GET", "/repos/a/b/contents/x", true, ""),
        ("PUT", "/repos/a/b/contents/x", true, "public_repo"),
        ("POST", "/repos/a/b/hooks", true, "write:repo_hook"),
        (
            "PUT",
            "/repos/a/b/contents/.github/workflows/ci.yml",
            false,
            "repo",
        ),
        // contents alone suffices: the set with workflows adds nothing to accept
        ("POST", "/repos/a/b/git/refs", false, "repo"),
        ("GET", "/repos/a/b/check-runs/1", false, "repo"),
        ("GET", "/repos/a/b/check-runs/1", true, ""),
        ("GET", "/orgs/acme/members", true, "read:org"),
        ("POST", "/orgs/acme/hooks", true, "admin:org_hook"),
        (
            "PUT",
            "/orgs/acme/actions/secrets/S/repositories/1",
            false,
            "repo, write:org",
        ),
        (
            "PUT",
            "/orgs/acme/actions/secrets/S/repositories/1",
            true,
            "write:org",
        ),
        ("GET", "/user/keys", true, "read:public_key"),
        ("GET", "/user/emails", true, "user:email"),
        ("PATCH", "/user", true, "user"),
        ("POST", "/gists", true, "gist"),
        ("GET", "/projects/1/collaborators", false, "project, repo"),
        (
            "GET",
            "/projects/1/collaborators",
            true,
            "project, public_repo",
        ),
    ];
    for (method, path, public, header) in cases {
        let scopes = found(method, path).classic_scopes(public);
        assert_eq!(
            scopes.header_value(),
            header,
            "{method} {path} public={public}"
        );
    }
}

#[test]
fn classic_scopes_are_classic_scope_for_of_every_requirement() {
    for route in routes() {
        for public in [true, false] {
            let scopes = route.classic_scopes(public);
            assert_eq!(scopes.any_of().len(), route.any_of().len());
            for (set, got) in route.any_of().iter().zip(scopes.any_of()) {
                let expected = Scopes::from_scopes(set.iter().filter_map(|r| match r.permission {
                    RoutePermission::Catalog(p) => classic_scope_for(p, r.level, public),
                    RoutePermission::AppOnly(_) => {
                        classic_scope_for_repository_permission(r.level, public)
                    }
                }));
                assert_eq!(*got, expected, "{} {}", route.method(), route.template());
            }
        }
    }
}

#[test]
fn a_classic_token_needs_every_scope_of_one_set() {
    // (method, path, public repository, granted scopes, allowed)
    let cases = [
        ("GET", "/repos/a/b/contents/x", false, "repo", true),
        ("GET", "/repos/a/b/contents/x", false, "public_repo", false),
        ("GET", "/repos/a/b/contents/x", true, "", true),
        (
            "PUT",
            "/orgs/acme/actions/secrets/S/repositories/1",
            false,
            "admin:org",
            false,
        ),
        (
            "PUT",
            "/orgs/acme/actions/secrets/S/repositories/1",
            false,
            "admin:org, repo",
            true,
        ),
        ("GET", "/projects/1/collaborators", false, "project", true),
        (
            "GET",
            "/projects/1/collaborators",
            false,
            "read:project",
            false,
        ),
        ("GET", "/projects/1/collaborators", false, "repo", true),
        ("POST", "/gists", true, "gist", true),
        ("POST", "/gists", true, "user", false),
    ];
    for (method, path, public, granted, allowed) in cases {
        let scopes = found(method, path).classic_scopes(public);
        assert_eq!(
            scopes.allows(&Scopes::parse(granted).unwrap()),
            allowed,
            "{method} {path} public={public} {granted:?}"
        );
    }
}
