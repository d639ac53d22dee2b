//! The backend conformance suite: one `pub async fn` per behaviour, written against `&dyn Store`
//! only, and [`conformance_tests!`](crate::conformance_tests) to run them all from a backend's
//! test binary:
//!
//! ```ignore
//! async fn fresh() -> (Box<dyn Store>, tempfile::TempDir) { /* a new, migrated store */ }
//! patgate_store::conformance_tests!(fresh);
//! ```
//!
//! Each behaviour gets a fresh, empty, migrated store, so counts and orders are exact.
//! Behaviours the traits leave open are pinned here, and every backend must agree:
//!
//! * names (logins, enterprise slugs, repository names) are case-insensitive; an upsert that
//!   matches by another spelling keeps the id and stores the new spelling (`Updated`);
//! * a login belongs to one account: upserting a user over an organization's login, or the
//!   reverse, is `Conflict`; memberships and collaborators name a user (else `NotFound`);
//! * lists: users, organizations, members and repositories by lower-cased name; keys and
//!   `repos_by_ids` by id (unknown ids left out); tokens newest first (ties: newest id first);
//! * audit: `after` is inclusive, `before` exclusive; `actor_login` matches case-insensitively;
//!   newest first (ties: newest id first); `limit` 0 means 100; events given to a token method
//!   without a `token_id` are recorded with the token's id;
//! * `update_token` cannot change a token's kind (`Conflict`);
//! * timestamps have whole-second precision;
//! * a job run is claimed once per (job, period); `tokens_unused_since` lists personal tokens
//!   whose last use and current secret both predate the cutoff, by id;
//! * governance (`crate::governance`): inserting a fine-grained organization token in state
//!   `Pending` records a pending request (reason: the justification; the requested access as
//!   it is then); a grant row exists exactly while a token is organization-owned and approved
//!   with granted access (created at the token's creation, a decision's time, or, for
//!   `update_token` and `revoke_grants`, the time of the first audit event), kept with its time
//!   while the token stays approved; a token has at most one pending request, cancelled
//!   (`decided_at` set, `decided_by` empty) when superseded, withdrawn, revoked or no longer
//!   needing review; batches are all or nothing and name the first bad id (`Conflict` "request
//!   N is not pending", `Missing` "request N" / "grant N"); events given to a batch without a
//!   `token_id` get the token's id when the batch concerns one token; requests and grants are
//!   listed oldest first (ties by id), apps by id; app names are unique per organization,
//!   case-insensitively;
//! * a dump exported from one store imports into an empty one (all or nothing; `Conflict` when
//!   it holds accounts) and exports again identically; later inserts get ids past every imported
//!   id and every token or account id the audit log mentions.
//!
//! Test code: it panics on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod audit;
mod directory;
mod governance;
mod jobs;
mod outbox;
mod sessions;
mod tokens;

pub use admin::*;
pub use audit::*;
pub use directory::*;
pub use governance::*;
pub use jobs::*;
pub use outbox::*;
pub use sessions::*;
pub use tokens::*;

use time::OffsetDateTime;

use patgate_domain::catalog::{Level, Permission, PermissionSet, RepoRole};
use patgate_domain::governance::{
    self as rules, Actor, AuditRecord, AuditValue, Changes, Refusal, Standing,
};
use patgate_domain::model::{
    AccountId, AccountKind, GrantId, GrantState, Organization, RepoId, Repository,
    RepositorySelection, RequestId, Token, TokenAccess, TokenGrant, TokenId, User, Visibility,
};
use patgate_domain::scopes::Scopes;
use patgate_domain::token::TokenHash;

use crate::{NewAuditEvent, NewToken, NewUser, RequestStatus, Store, StoreError, TokenRequest};

/// Expands to one `#[tokio::test]` per behaviour of the suite, in a module `conformance`. `$make`
/// is an `async fn() -> (S, G)` returning a fresh migrated store (`S` is `Box<dyn Store>`,
/// `Arc<dyn Store>` or anything that derefs to `dyn Store`) and a guard that must live as long
/// as the test (a temporary directory, a database to drop, or `()`); behaviours over two stores
/// (export, then import) call it twice.
///
/// `conformance_tests!(optional $make)` takes an `async fn() -> Option<(S, G)>` instead: `None`
/// ends the test early, passing (for a backend whose server is absent; the maker says so).
///
/// The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! conformance_tests {
    (optional $make:path) => {
        $crate::conformance_tests!(@list optional $make);
    };
    (@list $mode:ident $make:path) => {
        $crate::conformance_tests!(@tests $mode $make;
            ping_and_backend,
            upsert_user_reports_created_unchanged_updated,
            user_logins_are_case_insensitive,
            password_hash_is_kept_when_not_given,
            list_users_is_sorted_by_login,
            account_by_login_distinguishes_users_and_orgs,
            a_login_belongs_to_one_account,
            enterprise_upserts_and_policy_round_trip,
            upsert_org_reports_and_round_trips,
            org_policy_round_trips_every_field,
            upsert_org_policy_reports_changes,
            memberships_add_change_remove,
            orgs_of_user_lists_orgs_with_roles,
            is_enterprise_member_follows_memberships,
            repo_standing_agrees_with_the_separate_lookups,
            repos_are_unique_per_owner_case_insensitively,
            repos_of_owner_and_repos_by_ids,
            collaborators_add_change_remove,
            fine_grained_token_round_trips,
            fine_grained_token_without_granted_access_round_trips,
            classic_token_round_trips_keeping_scope_order,
            app_installation_token_round_trips,
            duplicate_hash_is_a_unique_violation,
            fine_grained_names_are_unique_per_user_case_insensitively,
            tokens_of_user_newest_first_without_app_tokens,
            update_token_replaces_description_and_grant,
            update_token_cannot_change_the_kind,
            regenerate_token_swaps_the_secret,
            delete_token_removes_its_deploy_keys_only,
            delete_unknown_token_is_not_found,
            record_last_used_only_moves_forward,
            record_last_used_gives_each_token_its_own_time,
            keys_round_trip,
            a_key_is_stored_once_as_a_user_key_or_a_deploy_key,
            audit_rows_are_written_with_the_change,
            audit_events_filter_by_query,
            audit_limit_defaults_to_100,
            audit_counts_match_every_page_of_the_query,
            failed_changes_write_no_audit,
            inserting_a_pending_org_token_records_a_request,
            inserting_an_approved_org_token_creates_a_grant,
            tokens_without_an_organization_decision_have_no_request_nor_grant,
            request_grant_and_token_ids_are_distinct,
            update_token_requesting_supersedes_the_pending_request,
            approving_a_request_grants_access,
            denying_a_request_records_the_reason,
            a_batch_with_a_decided_request_changes_nothing,
            cancelling_a_request,
            requests_of_org_filter_by_status_and_org,
            revoking_grants_returns_tokens_to_their_users,
            update_token_keeps_requests_and_grants_in_step,
            deleting_a_token_deletes_its_requests_and_grant,
            apps_round_trip_with_unique_names_per_org,
            governance_audit_rows_are_written_with_the_change,
            apply_refuses_changes_computed_from_a_stale_grant,
            apply_holds_a_fine_grained_insert_to_its_cap,
            apply_names_the_inserted_token_in_its_rows,
            apply_removes_a_membership_with_what_it_takes_away,
            listings_filter_and_page_in_the_store,
            a_users_tokens_and_accounts_page_in_the_store,
            claim_job_run_is_won_once_per_period,
            tokens_unused_since_finds_old_unused_personal_tokens,
            tokens_expiring_between_lists_personal_tokens_by_expiry,
            orgs_with_pending_requests_are_listed_once,
            a_message_names_the_request_inserted_for_its_token,
            import_refuses_a_database_that_holds_accounts,
            import_is_all_or_nothing,
            sessions_are_found_by_hash_and_rotated_at_sign_in,
            touching_a_session_only_moves_it_forward,
            sessions_end_one_by_one_all_but_one_and_when_stale,
            a_password_change_ends_every_session_of_the_user,
            enterprise_owners_are_added_removed_and_listed,
            outbox_messages_are_deduplicated_claimed_once_and_leased,
            failed_deliveries_are_retried_later_then_given_up_and_can_be_redelivered,
            a_delivered_message_forgets_its_secret,
            messages_are_written_with_their_change_or_not_at_all,
            webhooks_are_kept_edited_and_deleted,
            an_email_verification_link_verifies_once_and_only_its_address,
            a_directory_batch_refers_to_what_it_creates_and_audits_only_changes,
            a_directory_batch_is_all_or_nothing,
            a_dry_run_reports_and_changes_nothing,
            accounts_are_renamed_and_a_taken_login_is_refused,
            suspending_a_user_is_recorded_ends_their_sessions_and_is_lifted,
            deleting_a_user_deletes_everything_theirs,
            repositories_are_updated_transferred_and_deleted,
            leaving_an_enterprise_makes_internal_repositories_private,
            a_member_leaves_with_their_grants_in_one_batch,
            enterprise_owners_change_by_name,
            ;
            // Behaviours over two fresh stores.
            export_then_import_round_trips_everything,
            suspensions_survive_a_copy,
        );
    };
    (@fresh required $make:path) => {
        $make().await
    };
    (@fresh optional $make:path) => {
        match $make().await {
            ::core::option::Option::Some(fixture) => fixture,
            ::core::option::Option::None => return,
        }
    };
    (@tests $mode:ident $make:path; $($name:ident),* $(,)? ; $($pair:ident),* $(,)?) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _guard) = $crate::conformance_tests!(@fresh $mode $make);
                    $crate::testkit::$name(&*store).await;
                }
            )*
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $pair() {
                    let (first, _first_guard) = $crate::conformance_tests!(@fresh $mode $make);
                    let (second, _second_guard) = $crate::conformance_tests!(@fresh $mode $make);
                    $crate::testkit::$pair(&*first, &*second).await;
                }
            )*
        }
    };
    ($make:path) => {
        $crate::conformance_tests!(@list required $make);
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The suite's epoch (2023-11-14), in whole seconds.
pub const T0: i64 = 1_700_000_000;

/// `T0 + secs`.
pub fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(T0 + secs).expect("timestamp in range")
}

pub const DAY: i64 = 86_400;

pub fn new_user(login: &str) -> NewUser {
    NewUser {
        login: login.to_owned(),
        email: format!("{}@example.com", login.to_lowercase()),
        email_verified: true,
        site_admin: false,
        password_hash: None,
    }
}

pub async fn user(store: &dyn Store, login: &str) -> User {
    store.upsert_user(&new_user(login), at(0)).await.unwrap().0
}

pub async fn org(store: &dyn Store, login: &str) -> Organization {
    store
        .upsert_org(login, None, RepoRole::Read, at(0))
        .await
        .unwrap()
        .0
}

pub async fn repo(store: &dyn Store, owner: AccountId, name: &str) -> Repository {
    store
        .upsert_repo(owner, name, Visibility::Private, None, at(0))
        .await
        .unwrap()
        .0
}

pub fn hash(seed: &str) -> TokenHash {
    TokenHash::of(seed)
}

pub fn perms(list: &[(Permission, Level)]) -> PermissionSet {
    list.iter().copied().collect()
}

pub fn access(
    selection: RepositorySelection,
    repos: &[RepoId],
    list: &[(Permission, Level)],
) -> TokenAccess {
    TokenAccess::new(selection, repos.to_vec(), perms(list))
}

pub fn event(action: &str, when: OffsetDateTime) -> NewAuditEvent {
    NewAuditEvent {
        action: action.to_owned(),
        actor: None,
        actor_login: None,
        org: None,
        token_id: None,
        data: serde_json::json!({ "action": action }),
        created_at: when,
    }
}

/// A classic token of `user` with the scopes `scopes` (e.g. `"repo,gist"`).
pub fn classic(user: AccountId, seed: &str, created: OffsetDateTime, scopes: &str) -> NewToken {
    NewToken {
        user,
        name: format!("classic {seed}"),
        description: None,
        justification: None,
        hash: hash(seed),
        last_eight: last_eight(seed),
        created_at: created,
        expires_at: Some(created + time::Duration::days(30)),
        grant: TokenGrant::Classic {
            scopes: Scopes::parse(scopes).unwrap(),
        },
    }
}

/// A fine-grained token of `user` on its own account, reading contents of all its repositories.
pub fn fine_grained(user: AccountId, seed: &str, created: OffsetDateTime) -> NewToken {
    let all = access(
        RepositorySelection::All,
        &[],
        &[(Permission::CONTENTS, Level::Read)],
    );
    NewToken {
        user,
        name: format!("fine-grained {seed}"),
        description: Some(format!("about {seed}")),
        justification: None,
        hash: hash(seed),
        last_eight: last_eight(seed),
        created_at: created,
        expires_at: Some(created + time::Duration::days(30)),
        grant: TokenGrant::FineGrained {
            resource_owner: user,
            resource_owner_kind: AccountKind::User,
            requested: all.clone(),
            granted: Some(all),
            state: GrantState::NotRequired,
        },
    }
}

/// An app installation token of `org`.
pub fn app_installation(
    holder: AccountId,
    org: AccountId,
    seed: &str,
    created: OffsetDateTime,
) -> NewToken {
    NewToken {
        user: holder,
        name: format!("installation {seed}"),
        description: None,
        justification: None,
        hash: hash(seed),
        last_eight: last_eight(seed),
        created_at: created,
        expires_at: Some(created + time::Duration::hours(1)),
        grant: TokenGrant::AppInstallation {
            org,
            permissions: perms(&[
                (Permission::MEMBERS, Level::Read),
                (Permission::ORGANIZATION_ADMINISTRATION, Level::Write),
            ]),
        },
    }
}

fn last_eight(seed: &str) -> String {
    format!("{seed:>8}")
        .chars()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// What the store must return for a freshly inserted `new` with id `id`.
pub fn expected(new: &NewToken, stored: &Token) -> Token {
    Token {
        id: stored.id,
        user: new.user,
        name: new.name.clone(),
        description: new.description.clone(),
        last_eight: new.last_eight.clone(),
        created_at: new.created_at,
        issued_at: new.created_at,
        expires_at: new.expires_at,
        last_used_at: None,
        grant: new.grant.clone(),
    }
}

/// Inserts `new` as the domain admits it (with the request or the grant row its grant calls for,
/// `governance::admit`), with `audit` naming it.
pub async fn admit(
    store: &dyn Store,
    new: &NewToken,
    audit: &[NewAuditEvent],
) -> Result<Token, StoreError> {
    let applied = store
        .apply(&rules::admit(new.clone(), None, records(audit, None)))
        .await?;
    applied
        .tokens
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)
}

/// Inserts `new` without audit, as the domain admits it (with the request or the grant row its
/// grant calls for, `governance::admit`), and checks what comes back.
pub async fn insert(store: &dyn Store, new: &NewToken) -> Token {
    let applied = store
        .apply(&rules::admit(new.clone(), None, Vec::new()))
        .await
        .unwrap();
    let stored = applied
        .tokens
        .into_iter()
        .next()
        .expect("the inserted token");
    assert_eq!(stored, expected(new, &stored));
    stored
}

// ---------------------------------------------------------------------------------------------
// Governance writes, as the behaviours below state them: each is the domain's row rules
// (`patgate_domain::governance`'s `regrant`, `regrant_requesting`, `decide`, `withdraw`,
// `take_back`) over the token's standing, handed to `GovernanceStore::apply`. Audit events given
// without a `token_id` are recorded with the token's when the change concerns exactly one.
// ---------------------------------------------------------------------------------------------

/// One request's decision and its effect on the token, applied together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestDecision {
    pub request: RequestId,
    pub token: TokenId,
    /// `Approved` or `Denied`.
    pub status: RequestStatus,
    /// The token's grant after the decision.
    pub grant: TokenGrant,
}

/// `events` as domain audit records (their data objects field by field), naming `token` when
/// they name none.
pub fn records(events: &[NewAuditEvent], token: Option<TokenId>) -> Vec<AuditRecord> {
    events
        .iter()
        .map(|e| AuditRecord {
            action: e.action.clone().into(),
            actor: Actor {
                id: e.actor,
                login: e.actor_login.clone(),
            },
            org: e.org,
            token: e.token_id.or(token),
            fields: e
                .data
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            let value = match v {
                                serde_json::Value::String(s) => AuditValue::Text(s.clone()),
                                serde_json::Value::Number(n) if n.is_i64() => {
                                    AuditValue::Int(n.as_i64().unwrap())
                                }
                                serde_json::Value::Null => AuditValue::Null,
                                other => AuditValue::Text(other.to_string()),
                            };
                            (k.clone().into(), value)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            at: e.created_at,
        })
        .collect()
}

/// The time of a change given none: its first event's, else the clock's.
fn change_time(audit: &[NewAuditEvent]) -> OffsetDateTime {
    audit
        .first()
        .map(|e| e.created_at)
        .unwrap_or_else(OffsetDateTime::now_utc)
}

/// The token a batch concerns when it concerns exactly one.
fn only_token(tokens: impl IntoIterator<Item = TokenId>) -> Option<TokenId> {
    let mut tokens = tokens.into_iter();
    let first = tokens.next()?;
    tokens.all(|t| t == first).then_some(first)
}

async fn standing_of(store: &dyn Store, id: TokenId) -> Result<Standing, StoreError> {
    store.standing(id).await?.ok_or(StoreError::NotFound)
}

fn refused(r: Refusal) -> StoreError {
    StoreError::Conflict(r.to_string())
}

/// Replaces the token's description and grant; its requests and grant row follow.
pub async fn regrant(
    store: &dyn Store,
    id: TokenId,
    description: Option<&str>,
    grant: &TokenGrant,
    audit: &[NewAuditEvent],
) -> Result<Token, StoreError> {
    let standing = standing_of(store, id).await?;
    let mut changes = rules::regrant(
        &standing,
        Some(description.map(str::to_owned)),
        grant.clone(),
        change_time(audit),
    );
    changes.audit = records(audit, Some(id));
    let applied = store.apply(&changes).await?;
    applied
        .tokens
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)
}

/// An edit that asks for more: the token takes `grant`, any pending request is cancelled, and a
/// new one is recorded.
pub async fn update_token_requesting(
    store: &dyn Store,
    id: TokenId,
    description: Option<&str>,
    grant: &TokenGrant,
    reason: Option<&str>,
    now: OffsetDateTime,
    audit: &[NewAuditEvent],
) -> Result<(Token, TokenRequest), StoreError> {
    let standing = standing_of(store, id).await?;
    let mut changes = rules::regrant_requesting(
        &standing,
        Some(description.map(str::to_owned)),
        grant.clone(),
        reason.map(str::to_owned),
        now,
    )
    .map_err(refused)?;
    changes.audit = records(audit, Some(id));
    let applied = store.apply(&changes).await?;
    let token = applied
        .tokens
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)?;
    let request = store
        .request_by_id(applied.requests[0])
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok((token, request))
}

/// Applies every decision or none.
pub async fn decide_requests(
    store: &dyn Store,
    decisions: &[RequestDecision],
    decided_by: Option<AccountId>,
    reason: Option<&str>,
    now: OffsetDateTime,
    audit: &[NewAuditEvent],
) -> Result<(), StoreError> {
    let mut changes = Changes::default();
    for d in decisions {
        let standing = standing_of(store, d.token).await?;
        changes = changes.merge(rules::decide(
            &standing,
            d.request,
            d.status,
            d.grant.clone(),
            decided_by,
            reason.map(str::to_owned),
            now,
        ));
    }
    changes.audit = records(audit, only_token(decisions.iter().map(|d| d.token)));
    store.apply(&changes).await.map(|_| ())
}

/// The requester withdraws pending request `id`; the token takes `grant`.
pub async fn cancel_request(
    store: &dyn Store,
    id: RequestId,
    grant: &TokenGrant,
    now: OffsetDateTime,
    audit: &[NewAuditEvent],
) -> Result<(), StoreError> {
    let request = store
        .request_by_id(id)
        .await?
        .ok_or_else(|| StoreError::Missing(format!("request {id}")))?;
    let standing = standing_of(store, request.token_id).await?;
    let mut changes = rules::withdraw(&standing, id, grant.clone(), now);
    changes.audit = records(audit, Some(request.token_id));
    store.apply(&changes).await.map(|_| ())
}

/// Revokes every grant or none: deletes the grant rows and gives each token its new grant.
pub async fn revoke_grants(
    store: &dyn Store,
    revocations: &[(GrantId, TokenId, TokenGrant)],
    audit: &[NewAuditEvent],
) -> Result<(), StoreError> {
    let now = change_time(audit);
    let mut changes = Changes::default();
    for (grant, token, returned) in revocations {
        let standing = standing_of(store, *token).await?;
        changes = changes.merge(rules::take_back(&standing, *grant, returned.clone(), now));
    }
    changes.audit = records(audit, only_token(revocations.iter().map(|(_, t, _)| *t)));
    store.apply(&changes).await.map(|_| ())
}
