//! Table-driven tests of the transitions: each row is a standing, an input and the changes
//! expected, or the refusal. `check_*` helpers call each transition in one place.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::catalog::{Level, Permission, PermissionSet};
use crate::model::{RepoId, RepositorySelection};

const USER: AccountId = AccountId(1);
const ORG: AccountId = AccountId(7);
const OTHER_ORG: AccountId = AccountId(8);
const TOKEN: TokenId = TokenId(40);
const REQUEST: RequestId = RequestId(50);
const GRANT: GrantId = GrantId(60);

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
}

fn access(repos: &[i64], level: Level) -> TokenAccess {
    let mut perms = PermissionSet::new();
    perms.set(Permission::CONTENTS, Some(level));
    TokenAccess::new(
        RepositorySelection::Subset,
        repos.iter().copied().map(RepoId).collect(),
        perms,
    )
}

fn small() -> TokenAccess {
    access(&[1], Level::Read)
}

fn big() -> TokenAccess {
    access(&[1, 2], Level::Write)
}

fn fine(
    kind: AccountKind,
    requested: TokenAccess,
    granted: Option<TokenAccess>,
    state: GrantState,
) -> TokenGrant {
    TokenGrant::FineGrained {
        resource_owner: if kind == AccountKind::User { USER } else { ORG },
        resource_owner_kind: kind,
        requested,
        granted,
        state,
    }
}

fn org_grant(
    requested: TokenAccess,
    granted: Option<TokenAccess>,
    state: GrantState,
) -> TokenGrant {
    fine(AccountKind::Organization, requested, granted, state)
}

fn token(grant: TokenGrant) -> Token {
    Token {
        id: TOKEN,
        user: USER,
        name: "ci".into(),
        description: Some("about".into()),
        last_eight: "abcdefgh".into(),
        created_at: now(),
        issued_at: now(),
        expires_at: None,
        last_used_at: None,
        grant,
    }
}

fn standing(grant: TokenGrant, pending: Option<TokenAccess>, granted_row: bool) -> Standing {
    Standing {
        token: token(grant),
        pending: pending.map(|access| OpenRequest {
            id: REQUEST,
            org: ORG,
            access,
        }),
        grant: granted_row.then_some(OrgGrant {
            id: GRANT,
            org: ORG,
        }),
    }
}

/// The shape of a `Changes`, for tables: what is created, closed and removed.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    grant: Option<TokenGrant>,
    closed: Vec<RequestStatus>,
    removed_grant: bool,
    new_request: Option<TokenAccess>,
    new_grant: bool,
    actions: Vec<String>,
}

fn has(record: &AuditRecord, key: &str, value: AuditValue) -> bool {
    record.fields.iter().any(|(k, v)| k == key && *v == value)
}

fn actions(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| (*a).to_owned()).collect()
}

fn shape(c: &Changes) -> Shape {
    Shape {
        grant: c
            .token_updates
            .first()
            .map(|u| u.grant.clone())
            .or_else(|| c.insert.as_ref().map(|i| i.token.grant.clone())),
        closed: c.closed_requests.iter().map(|r| r.status).collect(),
        removed_grant: !c.removed_grants.is_empty(),
        new_request: c.new_requests.first().map(|r| r.access.clone()),
        new_grant: !c.new_grants.is_empty(),
        actions: c.audit.iter().map(|a| a.action.to_string()).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// create
// ---------------------------------------------------------------------------------------------

fn creation(owner: Owner) -> Creation {
    Creation {
        user: USER,
        user_login: "mona".into(),
        owner,
        name: "ci".into(),
        description: None,
        justification: Some("for ci".into()),
        access: small(),
        hash: TokenHash::of("secret"),
        last_eight: "abcdefgh".into(),
        expires_at: None,
        max_fine_grained: 50,
        now: now(),
    }
}

#[test]
fn create_decides_the_state_by_owner_and_approval() {
    let rows = [
        (
            Owner::Myself,
            fine(
                AccountKind::User,
                small(),
                Some(small()),
                GrantState::NotRequired,
            ),
            false,
            false,
            actions(&["personal_access_token.create"]),
        ),
        (
            Owner::Organization {
                id: ORG,
                needs_approval: true,
            },
            org_grant(small(), None, GrantState::Pending),
            true,
            false,
            actions(&[
                "personal_access_token.create",
                "personal_access_token.request_created",
            ]),
        ),
        (
            Owner::Organization {
                id: ORG,
                needs_approval: false,
            },
            org_grant(small(), Some(small()), GrantState::Approved),
            false,
            true,
            actions(&[
                "personal_access_token.create",
                "personal_access_token.access_granted",
            ]),
        ),
    ];
    for (owner, grant, request, new_grant, actions) in rows {
        let c = create_fine_grained(creation(owner));
        let s = shape(&c);
        assert_eq!(s.grant, Some(grant), "{owner:?}");
        assert_eq!(s.new_request.is_some(), request, "{owner:?}");
        assert_eq!(s.new_grant, new_grant, "{owner:?}");
        assert_eq!(s.actions, actions, "{owner:?}");
        let insert = c.insert.as_ref().unwrap();
        assert_eq!(
            insert.max_fine_grained,
            Some(50),
            "the cap goes to the store"
        );
        assert!(c.audit.iter().all(|a| a.token.is_none()), "the new token's");
        if request {
            let r = &c.new_requests[0];
            assert_eq!(
                (r.token, r.org, r.reason.as_deref(), r.at),
                (None, ORG, Some("for ci"), now())
            );
        }
    }
}

#[test]
fn creation_audit_names_the_token_and_its_hash() {
    let c = create_fine_grained(creation(Owner::Myself));
    let record = &c.audit[0];
    assert!(has(record, "user_programmatic_access_name", "ci".into()));
    assert!(has(
        record,
        "hashed_token",
        TokenHash::of("secret").to_base64().as_str().into()
    ));
    assert_eq!(c.audit[0].org, None, "not an organization's event");
}

// ---------------------------------------------------------------------------------------------
// edit
// ---------------------------------------------------------------------------------------------

fn edit(to: TokenAccess, needs_approval: bool) -> Edit {
    Edit {
        access: to,
        description: None,
        justification: Some("more".into()),
        needs_approval,
        user_login: "mona".into(),
        now: now(),
    }
}

#[test]
fn edits_apply_at_once_or_ask_again() {
    let user_owned = fine(
        AccountKind::User,
        small(),
        Some(small()),
        GrantState::NotRequired,
    );
    let approved = org_grant(small(), Some(small()), GrantState::Approved);
    let raising = org_grant(big(), Some(small()), GrantState::Approved);
    let pending = org_grant(small(), None, GrantState::Pending);
    let denied = org_grant(small(), None, GrantState::Denied);
    // (name, standing, edit to, needs approval, expected shape)
    let rows: Vec<(&str, Standing, TokenAccess, bool, Shape)> = vec![
        (
            "own account: applies at once",
            standing(user_owned.clone(), None, false),
            big(),
            true,
            Shape {
                grant: Some(fine(
                    AccountKind::User,
                    big(),
                    Some(big()),
                    GrantState::NotRequired,
                )),
                closed: vec![],
                removed_grant: false,
                new_request: None,
                new_grant: false,
                actions: actions(&["personal_access_token.update"]),
            },
        ),
        (
            "no approval needed: applies at once, the grant row stays",
            standing(approved.clone(), None, true),
            big(),
            false,
            Shape {
                grant: Some(org_grant(big(), Some(big()), GrantState::Approved)),
                closed: vec![],
                removed_grant: false,
                new_request: None,
                new_grant: false,
                actions: actions(&["personal_access_token.update"]),
            },
        ),
        (
            "raise: the approved access stays, a new request",
            standing(approved.clone(), None, true),
            big(),
            true,
            Shape {
                grant: Some(org_grant(big(), Some(small()), GrantState::Approved)),
                closed: vec![],
                removed_grant: false,
                new_request: Some(big()),
                new_grant: false,
                actions: actions(&[
                    "personal_access_token.update",
                    "personal_access_token.request_created",
                ]),
            },
        ),
        (
            "a second raise supersedes the pending one",
            standing(raising.clone(), Some(big()), true),
            access(&[1, 2, 3], Level::Write),
            true,
            Shape {
                grant: Some(org_grant(
                    access(&[1, 2, 3], Level::Write),
                    Some(small()),
                    GrantState::Approved,
                )),
                closed: vec![RequestStatus::Cancelled],
                removed_grant: false,
                new_request: Some(access(&[1, 2, 3], Level::Write)),
                new_grant: false,
                actions: actions(&[
                    "personal_access_token.update",
                    "personal_access_token.request_created",
                ]),
            },
        ),
        (
            "reducing a raise back within the approved access cancels the request",
            standing(raising, Some(big()), true),
            small(),
            true,
            Shape {
                grant: Some(org_grant(small(), Some(small()), GrantState::Approved)),
                closed: vec![RequestStatus::Cancelled],
                removed_grant: false,
                new_request: None,
                new_grant: false,
                actions: actions(&["personal_access_token.update"]),
            },
        ),
        (
            "pending: asks again for the new access",
            standing(pending, Some(small()), false),
            big(),
            true,
            Shape {
                grant: Some(org_grant(big(), None, GrantState::Pending)),
                closed: vec![RequestStatus::Cancelled],
                removed_grant: false,
                new_request: Some(big()),
                new_grant: false,
                actions: actions(&[
                    "personal_access_token.update",
                    "personal_access_token.request_created",
                ]),
            },
        ),
        (
            "denied, approval no longer needed: approved, a grant row",
            standing(denied, None, false),
            small(),
            false,
            Shape {
                grant: Some(org_grant(small(), Some(small()), GrantState::Approved)),
                closed: vec![],
                removed_grant: false,
                new_request: None,
                new_grant: true,
                actions: actions(&["personal_access_token.update"]),
            },
        ),
    ];
    for (name, st, to, needs_approval, expected) in rows {
        let c = edit_fine_grained(&st, edit(to, needs_approval)).unwrap();
        assert_eq!(shape(&c), expected, "{name}");
        assert_eq!(
            c.token_updates[0].expected, st.token.grant,
            "{name}: guarded"
        );
    }
}

#[test]
fn editing_a_classic_token_is_refused() {
    let classic = standing(
        TokenGrant::Classic {
            scopes: crate::scopes::Scopes::parse("repo").unwrap(),
        },
        None,
        false,
    );
    assert_eq!(
        edit_fine_grained(&classic, edit(small(), true)),
        Err(Refusal::NotFineGrained(TOKEN))
    );
}

// ---------------------------------------------------------------------------------------------
// review
// ---------------------------------------------------------------------------------------------

fn reviewing(request: RequestId, org: AccountId, approve: bool) -> Review {
    Review {
        org,
        request,
        approve,
        reviewer: Actor {
            id: Some(AccountId(2)),
            login: Some("owner".into()),
        },
        reason: Some("ok".into()),
        now: now(),
    }
}

#[test]
fn reviews_grant_or_refuse_what_was_asked() {
    let pending = org_grant(small(), None, GrantState::Pending);
    let raising = org_grant(big(), Some(small()), GrantState::Approved);
    // (name, standing, approve, expected shape)
    let rows = [
        (
            "approve a new token: approved, a grant row",
            standing(pending.clone(), Some(small()), false),
            true,
            Shape {
                grant: Some(org_grant(small(), Some(small()), GrantState::Approved)),
                closed: vec![RequestStatus::Approved],
                removed_grant: false,
                new_request: None,
                new_grant: true,
                actions: actions(&["personal_access_token.access_granted"]),
            },
        ),
        (
            "deny a new token: denied, nothing granted",
            standing(pending, Some(small()), false),
            false,
            Shape {
                grant: Some(org_grant(small(), None, GrantState::Denied)),
                closed: vec![RequestStatus::Denied],
                removed_grant: false,
                new_request: None,
                new_grant: false,
                actions: actions(&["personal_access_token.request_denied"]),
            },
        ),
        (
            "approve a raise: the grant row and its time stay",
            standing(raising.clone(), Some(big()), true),
            true,
            Shape {
                grant: Some(org_grant(big(), Some(big()), GrantState::Approved)),
                closed: vec![RequestStatus::Approved],
                removed_grant: false,
                new_request: None,
                new_grant: false,
                actions: actions(&["personal_access_token.access_granted"]),
            },
        ),
        (
            "deny a raise: the edit is undone, the approved access stays",
            standing(raising, Some(big()), true),
            false,
            Shape {
                grant: Some(org_grant(small(), Some(small()), GrantState::Approved)),
                closed: vec![RequestStatus::Denied],
                removed_grant: false,
                new_request: None,
                new_grant: false,
                actions: actions(&["personal_access_token.request_denied"]),
            },
        ),
    ];
    for (name, st, approve, expected) in rows {
        let c = review(&st, reviewing(REQUEST, ORG, approve)).unwrap();
        assert_eq!(shape(&c), expected, "{name}");
        let closed = &c.closed_requests[0];
        assert_eq!(
            (closed.by, closed.reason.as_deref(), closed.at),
            (Some(AccountId(2)), Some("ok"), now()),
            "{name}"
        );
        assert!(
            has(
                &c.audit[0],
                "user_programmatic_access_request_id",
                AuditValue::Int(50)
            ),
            "{name}"
        );
    }
}

#[test]
fn reviews_of_anything_but_the_pending_request_are_refused() {
    let pending = standing(
        org_grant(small(), None, GrantState::Pending),
        Some(small()),
        false,
    );
    let decided = standing(org_grant(small(), None, GrantState::Denied), None, false);
    let rows = [
        ("another request id", &pending, RequestId(51), ORG),
        ("another organization", &pending, REQUEST, OTHER_ORG),
        ("no pending request", &decided, REQUEST, ORG),
    ];
    for (name, st, request, org) in rows {
        for approve in [true, false] {
            assert_eq!(
                review(st, reviewing(request, org, approve)),
                Err(Refusal::NotPending(request)),
                "{name}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// cancel
// ---------------------------------------------------------------------------------------------

#[test]
fn cancelling_returns_the_token_to_what_it_had() {
    let rows = [
        (
            "a new token's request: denied",
            standing(
                org_grant(small(), None, GrantState::Pending),
                Some(small()),
                false,
            ),
            org_grant(small(), None, GrantState::Denied),
        ),
        (
            "a raise: the approved access",
            standing(
                org_grant(big(), Some(small()), GrantState::Approved),
                Some(big()),
                true,
            ),
            org_grant(small(), Some(small()), GrantState::Approved),
        ),
    ];
    for (name, st, grant) in rows {
        let c = cancel(&st, "mona", now()).unwrap();
        assert_eq!(
            shape(&c),
            Shape {
                grant: Some(grant),
                closed: vec![RequestStatus::Cancelled],
                removed_grant: false,
                new_request: None,
                new_grant: false,
                actions: actions(&["personal_access_token.request_cancelled"]),
            },
            "{name}"
        );
        assert_eq!(c.closed_requests[0].by, None, "{name}: nobody decided");
        assert_eq!(c.audit[0].org, Some(ORG), "{name}");
    }
}

#[test]
fn cancelling_without_a_pending_request_is_refused() {
    let approved = standing(
        org_grant(small(), Some(small()), GrantState::Approved),
        None,
        true,
    );
    assert_eq!(
        cancel(&approved, "mona", now()),
        Err(Refusal::NoPendingRequest)
    );
}

// ---------------------------------------------------------------------------------------------
// revoke
// ---------------------------------------------------------------------------------------------

fn owner() -> Actor {
    Actor {
        id: None,
        login: Some("the-app".into()),
    }
}

#[test]
fn revoking_returns_the_token_to_its_user() {
    let rows = [
        (
            "approved",
            standing(
                org_grant(small(), Some(small()), GrantState::Approved),
                None,
                true,
            ),
            vec![],
        ),
        (
            "approved with a raise pending: the request goes too",
            standing(
                org_grant(big(), Some(small()), GrantState::Approved),
                Some(big()),
                true,
            ),
            vec![RequestStatus::Cancelled],
        ),
    ];
    for (name, st, closed) in rows {
        let c = revoke(&st, ORG, GRANT, owner(), now()).unwrap();
        assert_eq!(
            shape(&c),
            Shape {
                grant: Some(returned(&st.token)),
                closed,
                removed_grant: true,
                new_request: None,
                new_grant: false,
                actions: actions(&["personal_access_token.access_revoked"]),
            },
            "{name}"
        );
        assert_eq!(c.removed_grants.len(), 1, "{name}: removed once");
    }
}

#[test]
fn revoking_what_is_not_the_organizations_grant_is_refused() {
    let approved = standing(
        org_grant(small(), Some(small()), GrantState::Approved),
        None,
        true,
    );
    let pending = standing(
        org_grant(small(), None, GrantState::Pending),
        Some(small()),
        false,
    );
    let rows = [
        ("another grant id", &approved, ORG, GrantId(61)),
        ("another organization", &approved, OTHER_ORG, GRANT),
        ("no grant", &pending, ORG, GRANT),
    ];
    for (name, st, org, grant) in rows {
        assert_eq!(
            revoke(st, org, grant, owner(), now()),
            Err(Refusal::NotGranted(grant)),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// lose access
// ---------------------------------------------------------------------------------------------

#[test]
fn a_user_who_leaves_loses_every_grant_and_request_of_the_organization() {
    let approved = standing(
        org_grant(small(), Some(small()), GrantState::Approved),
        None,
        true,
    );
    let pending = Standing {
        token: Token {
            id: TokenId(41),
            ..token(org_grant(small(), None, GrantState::Pending))
        },
        pending: Some(OpenRequest {
            id: RequestId(52),
            org: ORG,
            access: small(),
        }),
        grant: None,
    };
    let own = Standing {
        token: Token {
            id: TokenId(42),
            ..token(fine(
                AccountKind::User,
                small(),
                Some(small()),
                GrantState::NotRequired,
            ))
        },
        pending: None,
        grant: None,
    };
    let elsewhere = Standing {
        token: Token {
            id: TokenId(43),
            ..token(TokenGrant::FineGrained {
                resource_owner: OTHER_ORG,
                resource_owner_kind: AccountKind::Organization,
                requested: small(),
                granted: Some(small()),
                state: GrantState::Approved,
            })
        },
        pending: None,
        grant: Some(OrgGrant {
            id: GrantId(62),
            org: OTHER_ORG,
        }),
    };
    let c = lose_access(ORG, USER, &[approved, pending, own, elsewhere], now());
    assert_eq!(c.removed_memberships, vec![(ORG, USER)]);
    assert_eq!(c.tokens(), vec![TOKEN, TokenId(41)], "only acme's tokens");
    assert_eq!(
        c.removed_grants,
        vec![GrantRemoval {
            id: GRANT,
            token: TOKEN
        }]
    );
    assert_eq!(
        c.closed_requests.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![RequestId(52)]
    );
    assert!(
        c.token_updates.iter().all(|u| matches!(
            u.grant,
            TokenGrant::FineGrained {
                state: GrantState::Revoked,
                ..
            }
        )),
        "returned to the user"
    );
    assert_eq!(
        c.audit
            .iter()
            .map(|a| a.action.to_string())
            .collect::<Vec<_>>(),
        actions(&[
            "personal_access_token.access_revoked",
            "personal_access_token.request_cancelled"
        ])
    );
    assert!(c.audit.iter().all(|a| a.actor.id.is_none()), "by nobody");
}

#[test]
fn a_user_without_tokens_for_the_organization_only_loses_the_membership() {
    let c = lose_access(ORG, USER, &[], now());
    assert_eq!(
        c,
        Changes {
            removed_memberships: vec![(ORG, USER)],
            ..Changes::default()
        }
    );
}

#[test]
fn a_returning_member_gets_no_grant_back() {
    // A grant left behind (the membership went without `lose_access`): joining again takes it
    // back rather than restoring it, and names why.
    let leftover = standing(
        org_grant(small(), Some(small()), GrantState::Approved),
        None,
        true,
    );
    let c = rejoin(ORG, USER, std::slice::from_ref(&leftover), now());
    assert!(
        c.removed_memberships.is_empty(),
        "the caller adds the membership"
    );
    assert_eq!(c.tokens(), vec![TOKEN]);
    assert_eq!(
        c.removed_grants,
        vec![GrantRemoval {
            id: GRANT,
            token: TOKEN
        }]
    );
    assert!(c.audit.iter().all(|a| {
        a.fields.iter().any(|(k, v)| {
            k == "explanation" && *v == AuditValue::Text(GRANTED_BEFORE_LEAVING.into())
        })
    }));
    // Leaving computes the same take-back, with the membership and the other explanation.
    let left = lose_access(ORG, USER, std::slice::from_ref(&leftover), now());
    assert_eq!(left.removed_memberships, vec![(ORG, USER)]);
    assert_eq!(left.removed_grants, c.removed_grants);
    assert!(left.audit.iter().all(|a| {
        a.fields.iter().any(|(k, v)| {
            k == "explanation" && *v == AuditValue::Text(LEFT_THE_ORGANIZATION.into())
        })
    }));
    // Nothing left behind: nothing to do.
    assert_eq!(rejoin(ORG, USER, &[], now()), Changes::default());
}

// ---------------------------------------------------------------------------------------------
// The rules of rows in step
// ---------------------------------------------------------------------------------------------

#[test]
fn grant_rows_follow_approved_organization_tokens() {
    let a = small();
    assert_eq!(
        grant_org(&org_grant(a.clone(), Some(a.clone()), GrantState::Approved)),
        Some(ORG)
    );
    assert_eq!(
        grant_org(&org_grant(a.clone(), None, GrantState::Approved)),
        None
    );
    assert_eq!(
        grant_org(&org_grant(a.clone(), Some(a.clone()), GrantState::Pending)),
        None
    );
    assert_eq!(
        grant_org(&fine(
            AccountKind::User,
            a.clone(),
            Some(a),
            GrantState::Approved
        )),
        None
    );
}

#[test]
fn review_is_needed_until_approved_as_asked() {
    let unsorted = TokenAccess {
        repositories: vec![RepoId(2), RepoId(1), RepoId(1)],
        ..access(&[1, 2], Level::Read)
    };
    let rows = [
        (
            org_grant(
                unsorted,
                Some(access(&[1, 2], Level::Read)),
                GrantState::Approved,
            ),
            false,
        ),
        (org_grant(big(), Some(small()), GrantState::Approved), true),
        (org_grant(big(), None, GrantState::Pending), true),
        (org_grant(big(), None, GrantState::Denied), true),
        (
            fine(
                AccountKind::User,
                big(),
                Some(small()),
                GrantState::NotRequired,
            ),
            false,
        ),
    ];
    for (grant, needed) in rows {
        assert_eq!(needs_review(&grant), needed, "{grant:?}");
    }
}

#[test]
fn a_regrant_moving_to_another_organization_replaces_the_grant_row() {
    let st = standing(
        org_grant(small(), Some(small()), GrantState::Approved),
        None,
        true,
    );
    let elsewhere = TokenGrant::FineGrained {
        resource_owner: OTHER_ORG,
        resource_owner_kind: AccountKind::Organization,
        requested: small(),
        granted: Some(small()),
        state: GrantState::Approved,
    };
    let c = regrant(&st, None, elsewhere, now());
    assert_eq!(c.removed_grants.len(), 1);
    assert_eq!(c.new_grants[0].org, OTHER_ORG);
}

#[test]
fn asking_for_access_for_a_token_not_owned_by_an_organization_is_refused() {
    let own = standing(
        fine(
            AccountKind::User,
            small(),
            Some(small()),
            GrantState::NotRequired,
        ),
        None,
        false,
    );
    let still_own = own.token.grant.clone();
    assert_eq!(
        regrant_requesting(&own, None, still_own, None, now()),
        Err(Refusal::NotOrganizationOwned(TOKEN))
    );
}

#[test]
fn a_duplicate_name_is_numbered_within_the_longest_name() {
    let rows = [
        ("ci", 2, "ci (2)"),
        ("ci", 10, "ci (10)"),
        (
            "a name of exactly forty characters, long",
            2,
            "a name of exactly forty characters, (2)",
        ),
        ("Été", 3, "Été (3)"),
    ];
    for (name, n, expected) in rows {
        let got = disambiguated(name, n);
        assert_eq!(got, expected);
        assert!(
            got.chars().count() <= crate::validate::MAX_NAME_CHARS,
            "{got}"
        );
    }
}
