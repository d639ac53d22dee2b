//! Builds a large organization for the list benchmarks (issue 9, `scripts/bench-lists.sh`):
//! one organization `bigorg`, owned by `owner`, with `--users` members, `--repos` private
//! repositories and `--tokens` fine-grained tokens of its members for it, the last
//! `--pending` of which await review (one pending request each); the others are approved and
//! hold a grant.
//!
//! The rows go in through the store's bulk path, `Store::import_dump` (one transaction, one
//! statement per row), into an empty, freshly migrated database: no HTTP, no per-token use case.
//! The tokens' hashes are SHA-256 of strings no one is given (`gen-large-org-<n>`): nothing here
//! can be presented, and no secret is written anywhere.
//!
//! ```sh
//! cargo run --release -p patgate-server --example gen_large_org -- sqlite:///tmp/big/patgate.db
//! cargo run --release -p patgate-server --example gen_large_org -- postgres://postgres@127.0.0.1/patgate_bench
//! ```
//!
//! Every token has `metadata: read` and one of a few combinations of `contents`, `issues`,
//! `pull_requests` and `statuses`; a quarter select all repositories, the rest two of them.

#![allow(clippy::print_stdout, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use patgate_domain::catalog::{Level, Permission, PermissionSet};
use patgate_domain::token::TokenHash;
use patgate_store::Store;
use patgate_store::codec::encode_permissions;
use patgate_store::dump::{
    AccountRow, Dump, GrantRow, MembershipRow, RepositoryRow, RequestRepositoryRow,
    TokenRepositoryRow, TokenRequestRow, TokenRow,
};
use patgate_store_sql::postgres::{PgOptions, PostgresStore};
use patgate_store_sql::sqlite::SqliteStore;

struct Sizes {
    users: i64,
    repos: i64,
    tokens: i64,
    pending: i64,
}

fn arg(args: &[String], name: &str, default: i64) -> anyhow::Result<i64> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .context("a value after the flag")?
            .parse()
            .with_context(|| name.to_string()),
        None => Ok(default),
    }
}

/// The permission combinations the tokens cycle through (`metadata: read` in all).
fn permission_sets() -> Vec<String> {
    use Level::{Read, Write};
    let combos: [&[(Permission, Level)]; 6] = [
        &[(Permission::CONTENTS, Read)],
        &[(Permission::CONTENTS, Write)],
        &[(Permission::ISSUES, Read), (Permission::CONTENTS, Read)],
        &[(Permission::ISSUES, Write)],
        &[
            (Permission::PULL_REQUESTS, Write),
            (Permission::CONTENTS, Write),
        ],
        &[(Permission::STATUSES, Read)],
    ];
    combos
        .iter()
        .map(|combo| {
            let mut set = PermissionSet::new();
            set.set(Permission::METADATA, Some(Read));
            for (p, l) in combo.iter() {
                set.set(*p, Some(*l));
            }
            encode_permissions(&set)
        })
        .collect()
}

fn build(sizes: &Sizes, now: i64) -> Dump {
    let mut d = Dump::default();
    let org = 1;
    let owner = 2;
    d.accounts.push(AccountRow {
        id: org,
        kind: "organization".into(),
        login: "bigorg".into(),
        created_at: now - 86_400 * 400,
        email: None,
        email_verified: false,
        site_admin: false,
        password_hash: None,
        enterprise_id: None,
        base_permission: Some("read".into()),
    });
    let user = |id: i64, login: String| AccountRow {
        id,
        kind: "user".into(),
        email: Some(format!("{login}@example.com")),
        login,
        created_at: now - 86_400 * 400,
        email_verified: true,
        site_admin: false,
        password_hash: None,
        enterprise_id: None,
        base_permission: None,
    };
    d.accounts.push(user(owner, "owner".into()));
    d.memberships.push(MembershipRow {
        org_id: org,
        user_id: owner,
        role: "owner".into(),
    });
    // Members u00000.. are accounts 3..
    for u in 0..sizes.users {
        d.accounts.push(user(3 + u, format!("u{u:05}")));
        d.memberships.push(MembershipRow {
            org_id: org,
            user_id: 3 + u,
            role: "member".into(),
        });
    }
    for r in 0..sizes.repos {
        d.repositories.push(RepositoryRow {
            id: 1 + r,
            owner_id: org,
            name: format!("repo{r:04}"),
            visibility: "private".into(),
            description: None,
            created_at: now - 86_400 * 300,
        });
    }
    let perms = permission_sets();
    let approved = sizes.tokens - sizes.pending;
    // Created over the last 30 days, oldest first.
    let start = now - 86_400 * 30;
    let step = (86_400 * 29 / sizes.tokens.max(1)).max(1);
    for i in 0..sizes.tokens {
        let id = 1 + i;
        let user_id = 3 + i % sizes.users;
        let created = start + i * step;
        let permissions = perms[(i % perms.len() as i64) as usize].clone();
        let all = i % 4 == 0;
        let selection = if all { "all" } else { "subset" };
        let repos = [i % sizes.repos, (i * 7 + 3) % sizes.repos];
        let repos: Vec<i64> = if all {
            Vec::new()
        } else if repos[0] == repos[1] {
            vec![1 + repos[0]]
        } else {
            vec![1 + repos[0], 1 + repos[1]]
        };
        let is_approved = i < approved;
        let name = format!("token {i}");
        d.tokens.push(TokenRow {
            id,
            kind: "fine_grained".into(),
            user_id,
            hash: TokenHash::of(&format!("gen-large-org-{i}")).0.to_vec(),
            last_eight: format!("{:08}", i % 100_000_000),
            name,
            description: None,
            justification: Some("for the benchmark".into()),
            created_at: created,
            issued_at: created,
            expires_at: Some(now + 86_400 * 300),
            last_used_at: if i % 3 == 0 {
                Some(created + 3_600)
            } else {
                None
            },
            resource_owner_id: Some(org),
            resource_owner_kind: Some("organization".into()),
            requested_selection: Some(selection.into()),
            requested_permissions: Some(permissions.clone()),
            granted_selection: is_approved.then(|| selection.into()),
            granted_permissions: is_approved.then(|| permissions.clone()),
            grant_state: Some(if is_approved { "approved" } else { "pending" }.into()),
            scopes: None,
            app_org_id: None,
            app_permissions: None,
        });
        for &repo_id in &repos {
            d.token_repositories.push(TokenRepositoryRow {
                token_id: id,
                repo_id,
                granted: false,
            });
            if is_approved {
                d.token_repositories.push(TokenRepositoryRow {
                    token_id: id,
                    repo_id,
                    granted: true,
                });
            }
        }
        if is_approved {
            d.grants.push(GrantRow {
                id: 1 + i,
                token_id: id,
                org_id: org,
                access_granted_at: created + 60,
            });
        } else {
            let request_id = 1 + (i - approved);
            d.token_requests.push(TokenRequestRow {
                id: request_id,
                token_id: id,
                org_id: org,
                user_id,
                reason: Some("for the benchmark".into()),
                requested_selection: selection.into(),
                requested_permissions: permissions,
                created_at: created,
                status: "pending".into(),
                decided_at: None,
                decided_by: None,
                decision_reason: None,
            });
            for &repo_id in &repos {
                d.request_repositories.push(RequestRepositoryRow {
                    request_id,
                    repo_id,
                });
            }
        }
    }
    d
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first().filter(|a| !a.starts_with("--")) else {
        bail!(
            "usage: gen_large_org DATABASE_URL [--users 5000] [--repos 1000] [--tokens 100000] [--pending 10000]"
        );
    };
    let sizes = Sizes {
        users: arg(&args, "--users", 5_000)?,
        repos: arg(&args, "--repos", 1_000)?,
        tokens: arg(&args, "--tokens", 100_000)?,
        pending: arg(&args, "--pending", 10_000)?,
    };
    if sizes.users < 1 || sizes.repos < 1 || sizes.pending > sizes.tokens {
        bail!("need at least one user and one repository, and no more pending than tokens");
    }
    let (store, sqlite): (Arc<dyn Store>, Option<SqliteStore>) = if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(url).await?;
        (Arc::new(store.clone()), Some(store))
    } else {
        let options = PgOptions {
            notify: false,
            // One transaction of half a million statements; each is quick.
            statement_timeout: std::time::Duration::from_secs(600),
            ..PgOptions::default()
        };
        (Arc::new(PostgresStore::connect(url, options).await?), None)
    };
    store.migrate().await.context("migrating")?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let dump = build(&sizes, now);
    let rows = dump.row_count();
    let started = Instant::now();
    store
        .import_dump(&dump)
        .await
        .context("importing (the database must be empty)")?;
    println!(
        "bigorg: {} members, {} repositories, {} tokens ({} pending requests, {} grants), {rows} rows in {:.1} s",
        sizes.users,
        sizes.repos,
        sizes.tokens,
        dump.token_requests.len(),
        dump.grants.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(sqlite) = sqlite {
        // The last connection to close checkpoints the WAL: the file is whole by itself.
        drop(store);
        sqlite.close().await;
    }
    Ok(())
}
