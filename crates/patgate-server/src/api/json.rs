//! Wire types in GitHub's shapes. Serialisation lives here, at the boundary: domain types are not
//! `Serialize`.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use patgate_domain::model::{
    AccountKind, GrantState, Key, Repository, Token, TokenAccess, TokenGrant, User,
};
use patgate_store::Account;

/// RFC 3339 UTC with second precision: `2026-01-01T00:00:00Z`.
pub fn ts(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

pub fn opt_ts(t: Option<OffsetDateTime>) -> Value {
    t.map_or(Value::Null, |t| Value::String(ts(t)))
}

/// `GitHub-Authentication-Token-Expiration`: `2021-10-07 19:07:53 UTC`.
pub fn expiration_header(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub fn node_id(kind: &str, id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{kind}{id}", kind.len()))
}

/// GitHub's `simple-user` for a user or an organization.
pub fn simple_account(
    base: &str,
    login: &str,
    id: i64,
    kind: AccountKind,
    site_admin: bool,
) -> Value {
    let u = format!("{base}/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": node_id(kind.as_str(), id),
        "avatar_url": format!("{base}/avatars/{login}"),
        "gravatar_id": "",
        "url": u,
        "html_url": format!("{base}/{login}"),
        "followers_url": format!("{u}/followers"),
        "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"),
        "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"),
        "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"),
        "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"),
        "type": kind.as_str(),
        "site_admin": site_admin,
    })
}

pub fn simple_user(base: &str, u: &User) -> Value {
    simple_account(base, &u.login, u.id.0, AccountKind::User, u.site_admin)
}

pub fn account(base: &str, a: &Account) -> Value {
    match a {
        Account::User(u) => simple_user(base, u),
        Account::Organization(o) => {
            simple_account(base, &o.login, o.id.0, AccountKind::Organization, false)
        }
    }
}

/// `GET /user`: the authenticated user.
pub fn private_user(base: &str, u: &User) -> Value {
    let mut v = simple_user(base, u);
    v["name"] = Value::Null;
    v["email"] = Value::String(u.email.clone());
    v["created_at"] = Value::String(ts(u.created_at));
    v["updated_at"] = Value::String(ts(u.created_at));
    v
}

/// GitHub's `minimal-repository` (the fields clients read; the URL templates built from `url`).
pub fn repository(base: &str, r: &Repository) -> Value {
    let full = r.full_name();
    let url = format!("{base}/repos/{full}");
    let mut v = json!({
        "id": r.id.0,
        "node_id": node_id("Repository", r.id.0),
        "name": r.name,
        "full_name": full,
        "owner": simple_account(base, &r.owner_login, r.owner.0, r.owner_kind, false),
        "private": !r.visibility.is_public(),
        "visibility": r.visibility.as_str(),
        "html_url": format!("{base}/{full}"),
        "description": r.description,
        "fork": false,
        "url": url,
        "clone_url": format!("{base}/{full}.git"),
        "created_at": ts(r.created_at),
        "updated_at": ts(r.created_at),
    });
    for (key, suffix) in [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ] {
        v[key] = Value::String(format!("{url}{suffix}"));
    }
    v
}

/// Permissions grouped as in GitHub's grant objects: `{repository:{..}, organization:{..}, other:{..}}`.
pub fn permissions(access: &TokenAccess) -> Value {
    serde_json::to_value(patgate_app::notify::grouped(&access.permissions)).unwrap_or_default()
}

fn access_json(access: &TokenAccess, repos: &[Repository]) -> Value {
    let selected: Vec<Value> = repos
        .iter()
        .filter(|r| access.repositories.contains(&r.id))
        .map(|r| json!({"id": r.id.0, "name": r.name, "full_name": r.full_name(), "private": !r.visibility.is_public()}))
        .collect();
    json!({
        "repository_selection": access.selection.as_str(),
        "repositories": selected,
        "permissions": permissions(access),
    })
}

/// A fine-grained token as its owner sees it. `secret` only at creation and regeneration.
pub fn fine_grained_token(
    base: &str,
    t: &Token,
    owner: &Account,
    repos: &[Repository],
    secret: Option<&str>,
    now: OffsetDateTime,
) -> Value {
    let TokenGrant::FineGrained {
        requested,
        granted,
        state,
        ..
    } = &t.grant
    else {
        return Value::Null;
    };
    let pending = matches!(state, GrantState::Pending)
        || (matches!(state, GrantState::Approved) && granted.as_ref() != Some(requested));
    let mut v = json!({
        "id": t.id.0,
        "url": format!("{base}/user/personal-access-tokens/{}", t.id.0),
        "name": t.name,
        "description": t.description,
        "resource_owner": account(base, owner),
        "token_last_eight": t.last_eight,
        "status": state.as_str(),
        "pending_request": pending,
        "repository_selection": requested.selection.as_str(),
        "repositories": access_json(requested, repos)["repositories"],
        "permissions": permissions(requested),
        "access_granted": granted.as_ref().map_or(Value::Null, |g| access_json(g, repos)),
        "created_at": ts(t.created_at),
        "regenerated_at": ts(t.issued_at),
        "expires_at": opt_ts(t.expires_at),
        "token_expired": t.is_expired(now),
        "last_used_at": opt_ts(t.last_used_at),
    });
    if let Some(s) = secret {
        v["token"] = Value::String(s.to_owned());
    }
    v
}

/// A classic token in the shape of GitHub's `authorization` (the Authorizations API).
pub fn classic_token(base: &str, t: &Token, user: &User, secret: Option<&str>) -> Value {
    let scopes: Vec<&str> = match &t.grant {
        TokenGrant::Classic { scopes } => scopes.list().iter().map(|s| s.name()).collect(),
        _ => Vec::new(),
    };
    json!({
        "id": t.id.0,
        "url": format!("{base}/authorizations/{}", t.id.0),
        "scopes": scopes,
        "token": secret.unwrap_or(""),
        "token_last_eight": t.last_eight,
        "hashed_token": Value::Null,
        "app": {"name": "Personal access token (classic)", "url": format!("{base}/settings/tokens"), "client_id": "00000000000000000000"},
        "note": t.name,
        "note_url": Value::Null,
        "created_at": ts(t.created_at),
        "updated_at": ts(t.issued_at),
        "fingerprint": Value::Null,
        "expires_at": opt_ts(t.expires_at),
        "last_used_at": opt_ts(t.last_used_at),
        "user": simple_user(base, user),
    })
}

/// A user key (`repo_full_name` None) or a deploy key of that repository.
pub fn key(base: &str, k: &Key, repo_full_name: Option<&str>) -> Value {
    let url = match repo_full_name {
        Some(full) => format!("{base}/repos/{full}/keys/{}", k.id.0),
        None => format!("{base}/user/keys/{}", k.id.0),
    };
    json!({
        "id": k.id.0,
        "key": k.key,
        "url": url,
        "title": k.title,
        "verified": true,
        "created_at": ts(k.created_at),
        "read_only": k.read_only,
        "added_by_token": k.created_by_token.is_some(),
    })
}
