//! Listings that page in the database: an organization's pending requests and grants with
//! GitHub's filters, and a user's own tokens. Each page is one query for its rows, one for the
//! count (for `Link`'s `last`), and for the organization's listings one each for the tokens and
//! the users the rows name: four statements whatever the page size, none per row.
//!
//! The filters are written into the statement only when set (each then binds its values), so
//! every combination is a plain statement the planner can serve from an index: migration
//! 0005's `(org_id, status, created_at, id)` and `(org_id, status, user_id, created_at)` on
//! requests and `(org_id, access_granted_at, id)` on grants, and for `permission=` and
//! `repository=` the facets of migration 0021 (`grant_facets`, `request_facets`: one row per
//! permission level and repository an access reaches, kept by triggers), whose primary key
//! `(org_id, facet, time, id)` makes a filtered page and its count one index range each, where
//! they used to join every grant to its token and match the permission text.

use std::collections::HashMap;

use patgate_domain::model::{AccountId, TokenId, User};
use patgate_domain::token::TokenKind;
use patgate_store::{
    Grant, GrantListing, Listing, OrgTokenFilter, PageQuery, RequestListing, StoreError,
    StoreResult, TokenRequest,
};

use super::governance::{GrantRow, RequestRow, request_cols};
use super::rows::{AccountRow, account_cols, fold};
use super::tokens::{TokenRow, token_cols, tokens_by_ids};
use super::{Conn, Db, EngineStore, db_err, id_list};

statements! {
    TOKENS_PAGE_NEWEST = concat!(
        "SELECT ",
        token_cols!(),
        " FROM tokens t WHERE t.user_id = $1 AND t.kind = $2 \
         ORDER BY t.created_at DESC, t.id DESC LIMIT $3 OFFSET $4",
    );
    TOKENS_PAGE_OLDEST = concat!(
        "SELECT ",
        token_cols!(),
        " FROM tokens t WHERE t.user_id = $1 AND t.kind = $2 \
         ORDER BY t.created_at, t.id LIMIT $3 OFFSET $4",
    );
    COUNT_TOKENS = "SELECT COUNT(*) FROM tokens WHERE user_id = $1 AND kind = $2";
    USERS_BY_IDS = concat!(
        "SELECT ",
        account_cols!(),
        " FROM accounts a WHERE a.kind = 'user' AND a.id ",
        in_ids!("$1"),
    );
    /// The latest request of each token (of any status): none later, by time then id.
    LATEST_REQUESTS = concat!(
        "SELECT ",
        request_cols!(),
        " FROM token_requests r WHERE r.token_id ",
        in_ids!("$1"),
        " AND NOT EXISTS (SELECT 1 FROM token_requests l WHERE l.token_id = r.token_id \
         AND (l.created_at > r.created_at OR (l.created_at = r.created_at AND l.id > r.id)))",
    );
}

// Pieces of the statements built at run time.
const SELECT_REQUESTS: &str = concat!("SELECT ", request_cols!());
const SELECT_GRANTS: &str = "SELECT g.id AS id, g.token_id AS token_id, g.org_id AS org_id, \
    g.access_granted_at AS access_granted_at";
const SELECT_COUNT: &str = "SELECT COUNT(*)";

/// A test on the facets of migration 0021 that one of the filters asks.
enum FacetTest {
    /// The access holds the permission at the level or above: one facet.
    Permission(String),
    /// The access reaches the organization's repository of this (folded) name: all
    /// repositories, or a selection that lists it.
    Repository(String),
}

/// The facet tests of `f`, the permission first: its facet is one value, so a page driven by
/// its index range comes in page order, where the repository's two values need a sort.
fn facet_tests(f: &OrgTokenFilter) -> Vec<FacetTest> {
    let mut tests = Vec::new();
    if let Some((permission, needed)) = f.permission {
        tests.push(FacetTest::Permission(format!(
            "{}:{}",
            permission.name(),
            needed.as_str()
        )));
    }
    if let Some(name) = &f.repository {
        tests.push(FacetTest::Repository(fold(name)));
    }
    tests
}

/// `column` (a facet) passes `test`. A repository that does not exist matches only
/// `repositories:all` (its facet is NULL).
fn push_facet_test(q: &mut sqlx::QueryBuilder<Db>, column: &str, org: AccountId, test: &FacetTest) {
    match test {
        FacetTest::Permission(facet) => {
            q.push(format_args!(" AND {column} = ")).push_bind(facet.clone());
        }
        FacetTest::Repository(name) => {
            q.push(format_args!(
                " AND {column} IN ('repositories:all', (SELECT 'repository:' || id \
                 FROM repositories WHERE owner_id = "
            ))
            .push_bind(org.0)
            .push(" AND name_lower = ")
            .push_bind(name.clone())
            .push("))");
        }
    }
}

/// The facet table of one listing and how its rows name the listed row.
struct Facets {
    table: &'static str,
    /// The listed row's id and time columns in the facet table.
    id: &'static str,
    at: &'static str,
}

const GRANT_FACETS: Facets = Facets {
    table: "grant_facets",
    id: "grant_id",
    at: "access_granted_at",
};

const REQUEST_FACETS: Facets = Facets {
    table: "request_facets",
    id: "request_id",
    at: "created_at",
};

/// The row `(org, id, at)` of the listing (columns of the query) has a facet that passes
/// `test`: one primary-key lookup.
fn push_has_facet(
    q: &mut sqlx::QueryBuilder<Db>,
    facets: &Facets,
    row: [&str; 3],
    org: AccountId,
    test: &FacetTest,
) {
    let Facets { table, id, at } = facets;
    let [row_org, row_id, row_at] = row;
    q.push(format_args!(
        " AND EXISTS (SELECT 1 FROM {table} x WHERE x.org_id = {row_org} \
         AND x.{at} = {row_at} AND x.{id} = {row_id}"
    ));
    push_facet_test(q, "x.facet", org, test);
    q.push(")");
}

/// `column` is one of `values`.
fn push_in<T>(q: &mut sqlx::QueryBuilder<Db>, column: &str, values: impl IntoIterator<Item = T>)
where
    T: for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db>,
{
    q.push(format_args!(" AND {column} IN ("));
    let mut list = q.separated(", ");
    for v in values {
        list.push_bind(v);
    }
    q.push(")");
}

/// The filters on the token of a row (`tokens t`): when it was last used.
fn push_last_used(q: &mut sqlx::QueryBuilder<Db>, f: &OrgTokenFilter) {
    if let Some(before) = f.last_used_before {
        q.push(" AND t.last_used_at < ")
            .push_bind(before.unix_timestamp());
    }
    if let Some(after) = f.last_used_after {
        q.push(" AND t.last_used_at > ")
            .push_bind(after.unix_timestamp());
    }
}

fn filters_last_use(f: &OrgTokenFilter) -> bool {
    f.last_used_before.is_some() || f.last_used_after.is_some()
}

fn owner_logins(f: &OrgTokenFilter) -> Vec<String> {
    f.owners.iter().map(|o| fold(o)).collect()
}

fn push_owners(q: &mut sqlx::QueryBuilder<Db>, column: &str, f: &OrgTokenFilter) {
    if !f.owners.is_empty() {
        q.push(format_args!(
            " AND {column} IN (SELECT id FROM accounts WHERE kind = 'user'"
        ));
        push_in(q, "login_lower", owner_logins(f));
        q.push(")");
    }
}

/// Which rows drive a listing's query, and so which index answers it: the owners' rows when
/// `owner[]=` is given (a few rows), else the range of the first facet test (its index is
/// ordered as the page is), else the listed table's page index. The other facet tests are
/// lookups on each row.
enum Driver {
    Listed,
    Facet,
}

/// For a page filtered by `repository=` and nothing else: the repository's name and the page,
/// for [`push_repository_ranges`].
fn merged_ranges<'f>(
    f: &OrgTokenFilter,
    tests: &'f [FacetTest],
    page: Option<PageQuery>,
) -> Option<(&'f str, PageQuery)> {
    match (tests, page) {
        ([FacetTest::Repository(name)], Some(page))
            if f.token_ids.is_empty() && !filters_last_use(f) && f.owners.is_empty() =>
        {
            Some((name, page))
        }
        _ => None,
    }
}

fn driver(f: &OrgTokenFilter, tests: &[FacetTest]) -> Driver {
    if f.owners.is_empty() && !tests.is_empty() {
        Driver::Facet
    } else {
        Driver::Listed
    }
}

/// The rows of the first `offset + per_page` of each of `repository=`'s two facet ranges
/// (`repositories:all`, `repository:<id>`), as the derived table `d (org_id, id, at)`: two index
/// ranges read in page order and merged, where `facet IN (both)` would sort every matching row
/// to find one page. Only right when no other filter follows (it would apply after the limit).
fn push_repository_ranges(
    q: &mut sqlx::QueryBuilder<Db>,
    facets: &Facets,
    org: AccountId,
    name: &str,
    page: PageQuery,
) {
    let Facets { table, id, at } = facets;
    let direction = if page.ascending { "ASC" } else { "DESC" };
    let depth = i64::try_from(page.offset())
        .unwrap_or(i64::MAX)
        .saturating_add(i64::from(page.per_page));
    q.push(" FROM (");
    for (i, all) in [true, false].into_iter().enumerate() {
        if i > 0 {
            q.push(" UNION ALL ");
        }
        q.push(format_args!(
            "SELECT * FROM (SELECT org_id, {id}, {at} FROM {table} WHERE org_id = "
        ))
        .push_bind(org.0);
        if all {
            q.push(" AND facet = 'repositories:all'");
        } else {
            q.push(
                " AND facet = (SELECT 'repository:' || id FROM repositories WHERE owner_id = ",
            )
            .push_bind(org.0)
            .push(" AND name_lower = ")
            .push_bind(name.to_owned())
            .push(")");
        }
        q.push(format_args!(
            " ORDER BY {at} {direction}, {id} {direction} LIMIT "
        ))
        .push_bind(depth)
        .push(format_args!(") r{i}"));
    }
    q.push(") d");
}

/// One of the organization's listings: the table of its rows, which of them it lists, and
/// their facets.
struct ListedRows {
    /// The table, under `alias` in the statement; its rows have `id`, `org_id`, `token_id`.
    table: &'static str,
    alias: &'static str,
    /// The rows' time column (the page's order, with the id).
    at: &'static str,
    /// The condition on the table's rows that makes them listed.
    scope: &'static str,
    /// The column of the token owner, and whether it is the token's (`tokens t`).
    owner: &'static str,
    owner_on_token: bool,
    facets: Facets,
}

const PENDING_REQUESTS: ListedRows = ListedRows {
    table: "token_requests",
    alias: "r",
    at: "created_at",
    scope: " AND r.status = 'pending'",
    owner: "r.user_id",
    owner_on_token: false,
    facets: REQUEST_FACETS,
};

const GRANTS: ListedRows = ListedRows {
    table: "grants",
    alias: "g",
    at: "access_granted_at",
    scope: "",
    owner: "t.user_id",
    owner_on_token: true,
    facets: GRANT_FACETS,
};

/// `FROM ... WHERE ...` of the rows of `listed` that pass `f`; `page`: the statement reads that
/// page's columns (`None`: a count). Returns the page's order.
fn push_listed_rows(
    q: &mut sqlx::QueryBuilder<Db>,
    listed: &ListedRows,
    org: AccountId,
    f: &OrgTokenFilter,
    page: Option<PageQuery>,
) -> [String; 2] {
    let ListedRows {
        table, alias: a, at, ..
    } = listed;
    let facets = &listed.facets;
    let tests = facet_tests(f);
    let on_token =
        filters_last_use(f) || (listed.owner_on_token && !f.owners.is_empty());
    let mut lookups = &tests[..];
    let (order, row) = match driver(f, &tests) {
        Driver::Facet => {
            let ranges = merged_ranges(f, &tests, page);
            match ranges {
                Some((name, page)) => push_repository_ranges(q, facets, org, name, page),
                None => {
                    q.push(format_args!(" FROM {} d", facets.table));
                }
            }
            if page.is_some() || on_token || !f.token_ids.is_empty() {
                q.push(format_args!(" JOIN {table} {a} ON {a}.id = d.{}", facets.id));
            }
            if on_token {
                q.push(format_args!(" JOIN tokens t ON t.id = {a}.token_id"));
            }
            q.push(" WHERE d.org_id = ").push_bind(org.0);
            if ranges.is_none() {
                push_facet_test(q, "d.facet", org, &tests[0]);
            }
            lookups = &tests[1..];
            let (id, at) = (format!("d.{}", facets.id), format!("d.{}", facets.at));
            ([at.clone(), id.clone()], ["d.org_id".to_owned(), id, at])
        }
        Driver::Listed => {
            q.push(format_args!(" FROM {table} {a}"));
            if on_token {
                q.push(format_args!(" JOIN tokens t ON t.id = {a}.token_id"));
            }
            q.push(format_args!(" WHERE {a}.org_id = "))
                .push_bind(org.0)
                .push(listed.scope);
            let (id, at) = (format!("{a}.id"), format!("{a}.{at}"));
            ([at.clone(), id.clone()], [format!("{a}.org_id"), id, at])
        }
    };
    // The facet driver runs only without owners, so the owner column is there when needed.
    push_owners(q, listed.owner, f);
    for test in lookups {
        push_has_facet(q, facets, [&row[0], &row[1], &row[2]], org, test);
    }
    push_last_used(q, f);
    if !f.token_ids.is_empty() {
        push_in(
            q,
            &format!("{a}.token_id"),
            f.token_ids.iter().map(|t| t.0),
        );
    }
    order
}

fn push_page(q: &mut sqlx::QueryBuilder<Db>, order: &[String], page: PageQuery) {
    let direction = if page.ascending { "ASC" } else { "DESC" };
    q.push(" ORDER BY ");
    for (i, column) in order.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push(format_args!("{column} {direction}"));
    }
    q.push(" LIMIT ")
        .push_bind(i64::from(page.per_page))
        .push(" OFFSET ")
        .push_bind(i64::try_from(page.offset()).unwrap_or(i64::MAX));
}

fn requests_page_query(org: AccountId, f: &OrgTokenFilter, page: PageQuery) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new(SELECT_REQUESTS);
    let order = push_listed_rows(&mut q, &PENDING_REQUESTS, org, f, Some(page));
    push_page(&mut q, &order, page);
    q
}

fn requests_count_query(org: AccountId, f: &OrgTokenFilter) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new(SELECT_COUNT);
    push_listed_rows(&mut q, &PENDING_REQUESTS, org, f, None);
    q
}

fn grants_page_query(org: AccountId, f: &OrgTokenFilter, page: PageQuery) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new(SELECT_GRANTS);
    let order = push_listed_rows(&mut q, &GRANTS, org, f, Some(page));
    push_page(&mut q, &order, page);
    q
}

fn grants_count_query(org: AccountId, f: &OrgTokenFilter) -> sqlx::QueryBuilder<Db> {
    let mut q = sqlx::QueryBuilder::<Db>::new(SELECT_COUNT);
    push_listed_rows(&mut q, &GRANTS, org, f, None);
    q
}

fn total(count: i64) -> u64 {
    u64::try_from(count).unwrap_or_default()
}

/// The tokens and the users that rows name, by id, in two statements.
async fn tokens_and_users(
    conn: &mut Conn,
    tokens: &[i64],
    users: &[i64],
) -> StoreResult<(HashMap<TokenId, patgate_domain::model::Token>, HashMap<AccountId, User>)> {
    let tokens = tokens_by_ids(conn, tokens)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let users = if users.is_empty() {
        HashMap::new()
    } else {
        let rows: Vec<AccountRow> = sqlx::query_as(USERS_BY_IDS)
            .bind(id_list(users))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        rows.into_iter()
            .map(|r| r.into_user().map(|u| (u.id, u)))
            .collect::<StoreResult<_>>()?
    };
    Ok((tokens, users))
}

fn gone(what: &str) -> StoreError {
    StoreError::Corrupt(format!("a listed row names a {what} that is gone"))
}

impl EngineStore {
    pub(crate) async fn list_requests_page(
        &self,
        org: AccountId,
        f: &OrgTokenFilter,
        page: PageQuery,
    ) -> StoreResult<Listing<RequestListing>> {
        // One snapshot: the page, its count and the rows it names agree.
        let mut tx = self.snapshot_tx().await?;
        let rows: Vec<RequestRow> = requests_page_query(org, f, page)
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let count: i64 = requests_count_query(org, f)
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let requests: Vec<TokenRequest> = rows
            .into_iter()
            .map(RequestRow::into_request)
            .collect::<StoreResult<_>>()?;
        let token_ids: Vec<i64> = requests.iter().map(|r| r.token_id.0).collect();
        let user_ids: Vec<i64> = requests.iter().map(|r| r.user.0).collect();
        let (mut tokens, users) = tokens_and_users(&mut tx, &token_ids, &user_ids).await?;
        tx.rollback().await.map_err(db_err)?;
        let items = requests
            .into_iter()
            .map(|request| {
                let token = tokens.remove(&request.token_id).ok_or_else(|| gone("token"))?;
                let owner = users.get(&request.user).cloned().ok_or_else(|| gone("user"))?;
                Ok(RequestListing {
                    request,
                    token,
                    owner,
                })
            })
            .collect::<StoreResult<_>>()?;
        Ok(Listing {
            items,
            total: total(count),
        })
    }

    pub(crate) async fn list_grants_page(
        &self,
        org: AccountId,
        f: &OrgTokenFilter,
        page: PageQuery,
    ) -> StoreResult<Listing<GrantListing>> {
        let mut tx = self.snapshot_tx().await?;
        let rows: Vec<GrantRow> = grants_page_query(org, f, page)
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let count: i64 = grants_count_query(org, f)
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let grants: Vec<Grant> = rows
            .into_iter()
            .map(GrantRow::into_grant)
            .collect::<StoreResult<_>>()?;
        let token_ids: Vec<i64> = grants.iter().map(|g| g.token_id.0).collect();
        let (mut tokens, _) = tokens_and_users(&mut tx, &token_ids, &[]).await?;
        let user_ids: Vec<i64> = tokens.values().map(|t| t.user.0).collect();
        let (_, users) = tokens_and_users(&mut tx, &[], &user_ids).await?;
        tx.rollback().await.map_err(db_err)?;
        let items = grants
            .into_iter()
            .map(|grant| {
                let token = tokens.remove(&grant.token_id).ok_or_else(|| gone("token"))?;
                let owner = users.get(&token.user).cloned().ok_or_else(|| gone("user"))?;
                Ok(GrantListing {
                    grant,
                    token,
                    owner,
                })
            })
            .collect::<StoreResult<_>>()?;
        Ok(Listing {
            items,
            total: total(count),
        })
    }

    pub(crate) async fn tokens_page_of(
        &self,
        user: AccountId,
        kind: TokenKind,
        page: PageQuery,
    ) -> StoreResult<Listing<patgate_domain::model::Token>> {
        let kind = match kind {
            TokenKind::FineGrained => "fine_grained",
            TokenKind::Classic => "classic",
            TokenKind::AppInstallation => "app_installation",
        };
        let mut tx = self.snapshot_tx().await?;
        let sql = if page.ascending {
            TOKENS_PAGE_OLDEST
        } else {
            TOKENS_PAGE_NEWEST
        };
        let rows: Vec<TokenRow> = sqlx::query_as(sql)
            .bind(user.0)
            .bind(kind)
            .bind(i64::from(page.per_page))
            .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let count: i64 = sqlx::query_scalar(COUNT_TOKENS)
            .bind(user.0)
            .bind(kind)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.rollback().await.map_err(db_err)?;
        Ok(Listing {
            items: rows
                .into_iter()
                .map(TokenRow::into_token)
                .collect::<StoreResult<_>>()?,
            total: total(count),
        })
    }

    pub(crate) async fn latest_requests_of(
        &self,
        tokens: &[TokenId],
    ) -> StoreResult<Vec<TokenRequest>> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = tokens.iter().map(|t| t.0).collect();
        let rows: Vec<RequestRow> = sqlx::query_as(LATEST_REQUESTS)
            .bind(id_list(&ids))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(RequestRow::into_request).collect()
    }
}

/// Every shape of the listings' statements (each filter alone, all together, both
/// directions), with values bound, for the test that runs every statement.
#[cfg(test)]
pub(super) fn batch_statements() -> Vec<(&'static str, sqlx::QueryBuilder<Db>)> {
    use patgate_domain::catalog::{Level, Permission};
    let t = time::OffsetDateTime::UNIX_EPOCH;
    let one = |f: fn(&mut OrgTokenFilter)| {
        let mut filter = OrgTokenFilter::default();
        f(&mut filter);
        filter
    };
    let filters = [
        OrgTokenFilter::default(),
        one(|f| f.owners = vec!["Mona".into(), "hubot".into()]),
        one(|f| f.repository = Some("api".into())),
        one(|f| f.permission = Some((Permission::PULL_REQUESTS, Level::Read))),
        one(|f| f.last_used_before = Some(time::OffsetDateTime::UNIX_EPOCH)),
        one(|f| f.last_used_after = Some(time::OffsetDateTime::UNIX_EPOCH)),
        one(|f| f.token_ids = vec![TokenId(1), TokenId(2)]),
        one(|f| {
            f.permission = Some((Permission::CONTENTS, Level::Write));
            f.repository = Some("api".into());
        }),
        one(|f| {
            f.repository = Some("api".into());
            f.last_used_after = Some(time::OffsetDateTime::UNIX_EPOCH);
            f.token_ids = vec![TokenId(3)];
        }),
        OrgTokenFilter {
            owners: vec!["mona".into()],
            repository: Some("api".into()),
            permission: Some((Permission::CONTENTS, Level::Write)),
            last_used_before: Some(t),
            last_used_after: Some(t),
            token_ids: vec![TokenId(1)],
        },
    ];
    let mut out = Vec::new();
    for f in &filters {
        for ascending in [true, false] {
            let page = PageQuery {
                page: 2,
                per_page: 10,
                ascending,
            };
            out.push(("LIST_REQUESTS", requests_page_query(AccountId(1), f, page)));
            out.push(("LIST_GRANTS", grants_page_query(AccountId(1), f, page)));
        }
        out.push(("COUNT_REQUESTS", requests_count_query(AccountId(1), f)));
        out.push(("COUNT_GRANTS", grants_count_query(AccountId(1), f)));
    }
    out
}

#[cfg(test)]
mod tests {
    use patgate_domain::catalog::{Level, Permission};

    use super::*;

    #[test]
    fn a_permission_filter_asks_for_the_facet_of_its_level() {
        let f = OrgTokenFilter {
            permission: Some((Permission::PULL_REQUESTS, Level::Write)),
            repository: Some("API".into()),
            ..OrgTokenFilter::default()
        };
        let tests = facet_tests(&f);
        assert!(matches!(&tests[0], FacetTest::Permission(p) if p == "pull_requests:write"));
        assert!(matches!(&tests[1], FacetTest::Repository(r) if r == "api"));
    }
}
