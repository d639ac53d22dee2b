//! Wire types in GitHub's shapes. Serialisation lives here, at the boundary: domain types are not
//! `Serialize`.

use serde::ser::{Serialize, SerializeStruct, Serializer};
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

/// Pieces written one after the other as one JSON string, without building the string: the
/// account and repository objects carry dozens of URLs that all start with the same prefix, and
/// formatting each into its own `String` was most of what `GET /repos/{owner}/{repo}` cost
/// beyond a bare server (docs/benchmarks.md, "Profiling the HTTP path").
struct Joined<'a, const N: usize>([&'a str; N]);

impl<const N: usize> std::fmt::Display for Joined<'_, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|piece| f.write_str(piece))
    }
}

impl<const N: usize> Serialize for Joined<'_, N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The URL templates of a `simple-user`, after `{base}/users/{login}`.
const ACCOUNT_URLS: [(&str, &str); 9] = [
    ("followers_url", "/followers"),
    ("following_url", "/following{/other_user}"),
    ("gists_url", "/gists{/gist_id}"),
    ("starred_url", "/starred{/owner}{/repo}"),
    ("subscriptions_url", "/subscriptions"),
    ("organizations_url", "/orgs"),
    ("repos_url", "/repos"),
    ("events_url", "/events{/privacy}"),
    ("received_events_url", "/received_events"),
];

/// GitHub's `simple-user` for a user or an organization.
#[derive(Clone, Copy, Debug)]
pub struct SimpleAccount<'a> {
    base: &'a str,
    login: &'a str,
    id: i64,
    kind: AccountKind,
    site_admin: bool,
}

impl SimpleAccount<'_> {
    /// How many fields [`SimpleAccount::write_fields`] writes.
    const FIELDS: usize = 9 + ACCOUNT_URLS.len();

    fn write_fields<S: SerializeStruct>(&self, st: &mut S) -> Result<(), S::Error> {
        let (base, login) = (self.base, self.login);
        st.serialize_field("login", login)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("node_id", &node_id(self.kind.as_str(), self.id))?;
        st.serialize_field("avatar_url", &Joined([base, "/avatars/", login]))?;
        st.serialize_field("gravatar_id", "")?;
        st.serialize_field("url", &Joined([base, "/users/", login]))?;
        st.serialize_field("html_url", &Joined([base, "/", login]))?;
        for (key, suffix) in ACCOUNT_URLS {
            st.serialize_field(key, &Joined([base, "/users/", login, suffix]))?;
        }
        st.serialize_field("type", self.kind.as_str())?;
        st.serialize_field("site_admin", &self.site_admin)
    }
}

impl Serialize for SimpleAccount<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("SimpleUser", Self::FIELDS)?;
        self.write_fields(&mut st)?;
        st.end()
    }
}

/// Only an object can be serialised from these types, so `to_value` cannot fail.
fn value_of(v: impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

pub fn simple_account_of<'a>(
    base: &'a str,
    login: &'a str,
    id: i64,
    kind: AccountKind,
    site_admin: bool,
) -> SimpleAccount<'a> {
    SimpleAccount {
        base,
        login,
        id,
        kind,
        site_admin,
    }
}

/// [`SimpleAccount`] as a JSON value, for the callers that add to it.
pub fn simple_account(
    base: &str,
    login: &str,
    id: i64,
    kind: AccountKind,
    site_admin: bool,
) -> Value {
    value_of(simple_account_of(base, login, id, kind, site_admin))
}

fn simple_user_of<'a>(base: &'a str, u: &'a User) -> SimpleAccount<'a> {
    simple_account_of(base, &u.login, u.id.0, AccountKind::User, u.site_admin)
}

pub fn simple_user(base: &str, u: &User) -> Value {
    value_of(simple_user_of(base, u))
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
#[derive(Debug)]
pub struct PrivateUser<'a> {
    account: SimpleAccount<'a>,
    user: &'a User,
}

impl Serialize for PrivateUser<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut st = serializer.serialize_struct("PrivateUser", SimpleAccount::FIELDS + 4)?;
        self.account.write_fields(&mut st)?;
        st.serialize_field("name", &None::<&str>)?;
        st.serialize_field("email", &self.user.email)?;
        let created = ts(self.user.created_at);
        st.serialize_field("created_at", &created)?;
        st.serialize_field("updated_at", &created)?;
        st.end()
    }
}

pub fn private_user<'a>(base: &'a str, u: &'a User) -> PrivateUser<'a> {
    PrivateUser {
        account: simple_user_of(base, u),
        user: u,
    }
}

/// The URL templates of a repository, after `{base}/repos/{owner}/{name}`.
const REPOSITORY_URLS: [(&str, &str); 36] = [
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
];

/// GitHub's `minimal-repository` (the fields clients read; the URL templates built from `url`).
#[derive(Clone, Copy, Debug)]
pub struct MinimalRepository<'a> {
    base: &'a str,
    repo: &'a Repository,
}

impl Serialize for MinimalRepository<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (base, r) = (self.base, self.repo);
        let (owner, name) = (r.owner_login.as_str(), r.name.as_str());
        let mut st =
            serializer.serialize_struct("MinimalRepository", 14 + REPOSITORY_URLS.len())?;
        st.serialize_field("id", &r.id.0)?;
        st.serialize_field("node_id", &node_id("Repository", r.id.0))?;
        st.serialize_field("name", name)?;
        st.serialize_field("full_name", &Joined([owner, "/", name]))?;
        st.serialize_field(
            "owner",
            &simple_account_of(base, owner, r.owner.0, r.owner_kind, false),
        )?;
        st.serialize_field("private", &!r.visibility.is_public())?;
        st.serialize_field("visibility", r.visibility.as_str())?;
        st.serialize_field("html_url", &Joined([base, "/", owner, "/", name]))?;
        st.serialize_field("description", &r.description)?;
        st.serialize_field("fork", &false)?;
        st.serialize_field("url", &Joined([base, "/repos/", owner, "/", name]))?;
        st.serialize_field("clone_url", &Joined([base, "/", owner, "/", name, ".git"]))?;
        let created = ts(r.created_at);
        st.serialize_field("created_at", &created)?;
        st.serialize_field("updated_at", &created)?;
        for (key, suffix) in REPOSITORY_URLS {
            st.serialize_field(key, &Joined([base, "/repos/", owner, "/", name, suffix]))?;
        }
        st.end()
    }
}

pub fn repository<'a>(base: &'a str, r: &'a Repository) -> MinimalRepository<'a> {
    MinimalRepository { base, repo: r }
}

/// [`MinimalRepository`] as a JSON value, for the callers that collect or print values.
pub fn repository_value(base: &str, r: &Repository) -> Value {
    value_of(repository(base, r))
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

#[cfg(test)]
mod tests {
    use super::*;
    use patgate_domain::model::{AccountId, RepoId, Visibility};

    fn repo(description: &str) -> Repository {
        Repository {
            id: RepoId(7),
            owner: AccountId(3),
            owner_login: "acme".into(),
            owner_kind: AccountKind::Organization,
            name: "api".into(),
            visibility: Visibility::Private,
            description: Some(description.into()),
            created_at: OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap(),
        }
    }

    #[test]
    fn repository_urls_are_the_repository_url_followed_by_their_template() {
        let r = repo("plain");
        let v = repository_value("https://pat.example", &r);
        assert_eq!(v["url"], "https://pat.example/repos/acme/api");
        assert_eq!(v["full_name"], "acme/api");
        assert_eq!(v["clone_url"], "https://pat.example/acme/api.git");
        assert_eq!(v["html_url"], "https://pat.example/acme/api");
        assert_eq!(
            v["contents_url"],
            "https://pat.example/repos/acme/api/contents/{+path}"
        );
        assert_eq!(
            v["owner"]["followers_url"],
            "https://pat.example/users/acme/followers"
        );
        assert_eq!(v["owner"]["type"], "Organization");
        assert_eq!(v["created_at"], "2026-01-01T00:00:00Z");
        assert_eq!(v["private"], true);
        let object = v.as_object().unwrap();
        assert_eq!(object.len(), 14 + REPOSITORY_URLS.len());
        assert_eq!(v["owner"].as_object().unwrap().len(), SimpleAccount::FIELDS);
    }

    #[test]
    fn joined_pieces_are_escaped_like_any_json_string() {
        let r = repo("say \"hi\"\n\\ </script>");
        let text = serde_json::to_string(&repository("https://pat.example", &r)).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["description"], "say \"hi\"\n\\ </script>");
        let quoted = serde_json::to_string(&Joined(["a\"", "b\\", "\n"])).unwrap();
        assert_eq!(quoted, r#""a\"b\\\n""#);
    }

    #[test]
    fn private_user_adds_the_email_and_dates_to_the_simple_user() {
        let u = User {
            id: AccountId(5),
            login: "mona".into(),
            email: "mona@example.com".into(),
            email_verified: true,
            site_admin: false,
            created_at: OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap(),
        };
        let v = value_of(private_user("https://pat.example", &u));
        assert_eq!(v["login"], "mona");
        assert_eq!(v["email"], "mona@example.com");
        assert_eq!(v["name"], Value::Null);
        assert_eq!(v["updated_at"], "2026-01-01T00:00:00Z");
        assert_eq!(v["repos_url"], "https://pat.example/users/mona/repos");
        assert_eq!(v.as_object().unwrap().len(), SimpleAccount::FIELDS + 4);
    }
}
