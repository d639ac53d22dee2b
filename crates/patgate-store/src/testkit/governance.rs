//! Organization governance: approval requests, grants and apps, kept in step with the tokens
//! ([`crate::governance`]).

use time::OffsetDateTime;

use patgate_domain::catalog::{Level, Permission};
use patgate_domain::model::{
    AccountId, AccountKind, GrantId, GrantState, RepoId, RepositorySelection, RequestId, Token,
    TokenAccess, TokenGrant, TokenId,
};

use patgate_domain::governance::{self as rules, Changes};

use super::{
    RequestDecision, access, app_installation, at, cancel_request, classic, decide_requests, event,
    fine_grained, insert, org, records, regrant, repo, revoke_grants, update_token_requesting,
    user,
};
use crate::{
    AuditEvent, AuditQuery, Grant, NewAuditEvent, NewToken, RequestStatus, Store, StoreError,
    TokenRequest,
};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// A fine-grained token of `user` on organization `org`.
fn org_token(
    user: AccountId,
    org: AccountId,
    seed: &str,
    created: OffsetDateTime,
    requested: TokenAccess,
    granted: Option<TokenAccess>,
    state: GrantState,
) -> NewToken {
    NewToken {
        justification: Some(format!("because {seed}")),
        grant: TokenGrant::FineGrained {
            resource_owner: org,
            resource_owner_kind: AccountKind::Organization,
            requested,
            granted,
            state,
        },
        ..fine_grained(user, seed, created)
    }
}

fn read(repos: &[RepoId]) -> TokenAccess {
    access(
        RepositorySelection::Subset,
        repos,
        &[
            (Permission::CONTENTS, Level::Read),
            (Permission::METADATA, Level::Read),
        ],
    )
}

fn write_all() -> TokenAccess {
    access(
        RepositorySelection::All,
        &[],
        &[
            (Permission::CONTENTS, Level::Write),
            (Permission::ISSUES, Level::Write),
            (Permission::METADATA, Level::Read),
        ],
    )
}

/// The grant of a fine-grained token with its access and state replaced.
fn with(
    token: &Token,
    requested: &TokenAccess,
    granted: Option<&TokenAccess>,
    state: GrantState,
) -> TokenGrant {
    let TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        ..
    } = &token.grant
    else {
        panic!("a fine-grained token, got {:?}", token.grant)
    };
    TokenGrant::FineGrained {
        resource_owner: *resource_owner,
        resource_owner_kind: *resource_owner_kind,
        requested: requested.clone(),
        granted: granted.cloned(),
        state,
    }
}

/// What an organization revocation leaves: the token back with its user, nothing granted.
fn returned(token: &Token) -> TokenGrant {
    TokenGrant::FineGrained {
        resource_owner: token.user,
        resource_owner_kind: AccountKind::User,
        requested: TokenAccess::none(),
        granted: None,
        state: GrantState::Revoked,
    }
}

fn requested_of(token: &Token) -> TokenAccess {
    match &token.grant {
        TokenGrant::FineGrained { requested, .. } => requested.clone(),
        other => panic!("a fine-grained token, got {other:?}"),
    }
}

async fn audit_all(store: &dyn Store) -> Vec<AuditEvent> {
    store
        .audit_events(&AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
}

async fn pending(store: &dyn Store, token: TokenId) -> TokenRequest {
    store
        .pending_request_of_token(token)
        .await
        .unwrap()
        .expect("a pending request")
}

async fn grant_of(store: &dyn Store, token: TokenId) -> Grant {
    store.grant_of_token(token).await.unwrap().expect("a grant")
}

fn decision(request: &TokenRequest, status: RequestStatus, grant: TokenGrant) -> RequestDecision {
    RequestDecision {
        request: request.id,
        token: request.token_id,
        status,
        grant,
    }
}

// ---------------------------------------------------------------------------------------------
// Behaviours
// ---------------------------------------------------------------------------------------------

pub async fn inserting_a_pending_org_token_records_a_request(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let r1 = repo(store, o.id, "one").await;
    let r2 = repo(store, o.id, "two").await;
    let asked = read(&[r2.id, r1.id]);
    let new = org_token(
        mona.id,
        o.id,
        "pending",
        at(10),
        asked.clone(),
        None,
        GrantState::Pending,
    );
    let t = insert(store, &new).await;

    let requests = store.requests_of_org(o.id, None).await.unwrap();
    assert_eq!(requests.len(), 1, "exactly one request");
    let r = &requests[0];
    assert_eq!(
        r,
        &TokenRequest {
            id: r.id,
            token_id: t.id,
            org: o.id,
            user: mona.id,
            reason: Some("because pending".into()),
            access: asked.clone(),
            created_at: at(10),
            status: RequestStatus::Pending,
            decided_at: None,
            decided_by: None,
            decision_reason: None,
        }
    );
    assert_eq!(r.access.repositories, vec![r1.id, r2.id], "sorted");
    assert_eq!(store.request_by_id(r.id).await.unwrap().as_ref(), Some(r));
    assert_eq!(pending(store, t.id).await, r.clone());
    assert_eq!(store.grant_of_token(t.id).await.unwrap(), None);
    assert!(store.grants_of_org(o.id).await.unwrap().is_empty());
    assert_eq!(
        store.request_by_id(RequestId(r.id.0 + 1000)).await.unwrap(),
        None
    );

    // Without a justification; asking for everything (no repository list).
    let bare = NewToken {
        justification: None,
        ..org_token(
            mona.id,
            o.id,
            "bare",
            at(11),
            write_all(),
            None,
            GrantState::Pending,
        )
    };
    let b = insert(store, &bare).await;
    let rb = pending(store, b.id).await;
    assert_eq!((rb.reason, rb.access), (None, write_all()));
    assert_ne!(rb.id, r.id);
    assert_eq!(store.requests_of_org(o.id, None).await.unwrap().len(), 2);
}

pub async fn inserting_an_approved_org_token_creates_a_grant(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let r1 = repo(store, o.id, "one").await;
    let a = read(&[r1.id]);
    let t = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "approved",
            at(20),
            a.clone(),
            Some(a),
            GrantState::Approved,
        ),
    )
    .await;
    let g = grant_of(store, t.id).await;
    assert_eq!(
        g,
        Grant {
            id: g.id,
            token_id: t.id,
            org: o.id,
            access_granted_at: at(20),
        }
    );
    assert_eq!(store.grant_by_id(g.id).await.unwrap(), Some(g.clone()));
    assert_eq!(store.grants_of_org(o.id).await.unwrap(), vec![g.clone()]);
    assert_eq!(
        store.grant_by_id(GrantId(g.id.0 + 1000)).await.unwrap(),
        None
    );
    assert!(store.requests_of_org(o.id, None).await.unwrap().is_empty());
    assert_eq!(store.pending_request_of_token(t.id).await.unwrap(), None);
}

pub async fn tokens_without_an_organization_decision_have_no_request_nor_grant(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let own = insert(store, &fine_grained(mona.id, "own", at(1))).await;
    let cl = insert(store, &classic(mona.id, "classic", at(2), "repo")).await;
    let app = insert(store, &app_installation(o.id, o.id, "inst", at(3))).await;
    // Organization tokens already decided against: nothing to review, nothing in force.
    let denied = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "denied",
            at(4),
            write_all(),
            None,
            GrantState::Denied,
        ),
    )
    .await;
    let revoked = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "revoked",
            at(5),
            write_all(),
            None,
            GrantState::Revoked,
        ),
    )
    .await;
    for t in [&own, &cl, &app, &denied, &revoked] {
        assert_eq!(store.pending_request_of_token(t.id).await.unwrap(), None);
        assert_eq!(store.grant_of_token(t.id).await.unwrap(), None);
    }
    assert!(store.requests_of_org(o.id, None).await.unwrap().is_empty());
    assert!(store.grants_of_org(o.id).await.unwrap().is_empty());
    assert!(
        store
            .requests_of_org(mona.id, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.grants_of_org(mona.id).await.unwrap().is_empty());
}

pub async fn request_grant_and_token_ids_are_distinct(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let reviewer = user(store, "owner").await;
    // Tokens that ask nothing of the organization move the token ids ahead.
    for i in 0..3 {
        insert(store, &fine_grained(mona.id, &format!("own-{i}"), at(i))).await;
    }
    let a = write_all();
    let t = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "asks",
            at(10),
            a.clone(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let r = pending(store, t.id).await;
    decide_requests(
        store,
        &[decision(
            &r,
            RequestStatus::Approved,
            with(&t, &a, Some(&a), GrantState::Approved),
        )],
        Some(reviewer.id),
        None,
        at(11),
        &[],
    )
    .await
    .unwrap();
    let g = grant_of(store, t.id).await;
    assert_ne!(t.id.0, r.id.0, "token {} and request {}", t.id, r.id);
    assert!(
        !(t.id.0 == r.id.0 && r.id.0 == g.id.0),
        "token {}, request {}, grant {}",
        t.id,
        r.id,
        g.id
    );
}

pub async fn update_token_requesting_supersedes_the_pending_request(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let r1 = repo(store, o.id, "one").await;
    let r2 = repo(store, o.id, "two").await;
    let r3 = repo(store, o.id, "three").await;
    let small = read(&[r1.id]);
    let t = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "edit",
            at(10),
            small.clone(),
            Some(small.clone()),
            GrantState::Approved,
        ),
    )
    .await;
    let g = grant_of(store, t.id).await;

    // A raise: the approved access stays in force meanwhile, and so does the grant.
    let bigger = read(&[r3.id, r2.id, r1.id]);
    let raised = with(&t, &bigger, Some(&small), GrantState::Approved);
    let (updated, first) = update_token_requesting(
        store,
        t.id,
        Some("more repositories"),
        &raised,
        Some("need two and three"),
        at(50),
        &[event("personal_access_token.request_created", at(50))],
    )
    .await
    .unwrap();
    let mut want = t.clone();
    want.description = Some("more repositories".into());
    want.grant = raised.clone();
    assert_eq!(updated, want);
    assert_eq!(store.token_by_id(t.id).await.unwrap(), Some(want));
    assert_eq!(
        first,
        TokenRequest {
            id: first.id,
            token_id: t.id,
            org: o.id,
            user: mona.id,
            reason: Some("need two and three".into()),
            access: read(&[r1.id, r2.id, r3.id]),
            created_at: at(50),
            status: RequestStatus::Pending,
            decided_at: None,
            decided_by: None,
            decision_reason: None,
        }
    );
    assert_eq!(pending(store, t.id).await, first);
    assert_eq!(
        grant_of(store, t.id).await,
        g,
        "the grant is kept, time and all"
    );

    // Asking again supersedes the first request.
    let widest = with(&t, &write_all(), Some(&small), GrantState::Approved);
    let (_, second) = update_token_requesting(store, t.id, None, &widest, None, at(60), &[])
        .await
        .unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(
        (second.reason.clone(), second.access.clone()),
        (None, write_all())
    );
    let mut cancelled = first.clone();
    cancelled.status = RequestStatus::Cancelled;
    cancelled.decided_at = Some(at(60));
    assert_eq!(
        store.request_by_id(first.id).await.unwrap(),
        Some(cancelled.clone())
    );
    assert_eq!(pending(store, t.id).await, second);
    assert_eq!(
        store.requests_of_org(o.id, None).await.unwrap(),
        vec![cancelled, second.clone()]
    );
    assert_eq!(grant_of(store, t.id).await, g);
    assert_eq!(
        store.token_by_id(t.id).await.unwrap().unwrap().description,
        None
    );

    // A token still waiting for its first decision: the request made at creation is superseded.
    let p = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "waiting",
            at(70),
            small.clone(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let original = pending(store, p.id).await;
    let (_, again) = update_token_requesting(
        store,
        p.id,
        None,
        &with(&p, &bigger, None, GrantState::Pending),
        Some("more"),
        at(80),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        store
            .request_by_id(original.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        RequestStatus::Cancelled
    );
    assert_eq!(pending(store, p.id).await, again);
    assert_eq!(store.grant_of_token(p.id).await.unwrap(), None);

    // The audit row names the token.
    let rows = store
        .audit_events(&AuditQuery {
            token_id: Some(t.id),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, "personal_access_token.request_created");

    // Only an organization's fine-grained token asks; unknown tokens are not found.
    let own = insert(store, &fine_grained(mona.id, "own", at(1))).await;
    assert!(matches!(
        update_token_requesting(store, own.id, None, &own.grant, None, at(90), &[]).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        update_token_requesting(
            store,
            TokenId(own.id.0 + 1000),
            None,
            &raised,
            None,
            at(90),
            &[]
        )
        .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.pending_request_of_token(own.id).await.unwrap(), None);
    assert_eq!(store.requests_of_org(o.id, None).await.unwrap().len(), 4);
}

pub async fn approving_a_request_grants_access(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let owner = user(store, "owner").await;
    let r1 = repo(store, o.id, "one").await;
    let asked = read(&[r1.id]);
    let t = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "new",
            at(10),
            asked.clone(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let r = pending(store, t.id).await;
    let approved = with(&t, &asked, Some(&asked), GrantState::Approved);
    decide_requests(
        store,
        &[decision(&r, RequestStatus::Approved, approved.clone())],
        Some(owner.id),
        Some("looks fine"),
        at(70),
        &[NewAuditEvent {
            actor: Some(owner.id),
            org: Some(o.id),
            ..event("personal_access_token.access_granted", at(70))
        }],
    )
    .await
    .unwrap();
    let mut decided = r.clone();
    decided.status = RequestStatus::Approved;
    decided.decided_at = Some(at(70));
    decided.decided_by = Some(owner.id);
    decided.decision_reason = Some("looks fine".into());
    assert_eq!(
        store.request_by_id(r.id).await.unwrap(),
        Some(decided.clone())
    );
    assert_eq!(store.pending_request_of_token(t.id).await.unwrap(), None);
    let mut want = t.clone();
    want.grant = approved;
    assert_eq!(store.token_by_id(t.id).await.unwrap(), Some(want));
    let g = grant_of(store, t.id).await;
    assert_eq!((g.org, g.access_granted_at), (o.id, at(70)));
    assert_eq!(store.grants_of_org(o.id).await.unwrap(), vec![g.clone()]);
    let audit = audit_all(store).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].action.as_str(), audit[0].token_id, audit[0].org),
        (
            "personal_access_token.access_granted",
            Some(t.id),
            Some(o.id)
        ),
        "a batch of one token names it"
    );

    // Approving an edit of an approved token keeps its grant, time and all.
    let more = read(&[r1.id, repo(store, o.id, "two").await.id]);
    let (_, edit) = update_token_requesting(
        store,
        t.id,
        None,
        &with(&t, &more, Some(&asked), GrantState::Approved),
        None,
        at(80),
        &[],
    )
    .await
    .unwrap();
    decide_requests(
        store,
        &[decision(
            &edit,
            RequestStatus::Approved,
            with(&t, &more, Some(&more), GrantState::Approved),
        )],
        None,
        None,
        at(90),
        &[],
    )
    .await
    .unwrap();
    let edit_after = store.request_by_id(edit.id).await.unwrap().unwrap();
    assert_eq!(
        (
            edit_after.status,
            edit_after.decided_at,
            edit_after.decided_by,
            edit_after.decision_reason
        ),
        (RequestStatus::Approved, Some(at(90)), None, None)
    );
    assert_eq!(grant_of(store, t.id).await, g);
    assert_eq!(
        store.token_by_id(t.id).await.unwrap().unwrap().grant,
        with(&t, &more, Some(&more), GrantState::Approved)
    );
}

pub async fn denying_a_request_records_the_reason(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let owner = user(store, "owner").await;
    let r1 = repo(store, o.id, "one").await;
    let t = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "new",
            at(10),
            write_all(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let r = pending(store, t.id).await;
    let denied = with(&t, &write_all(), None, GrantState::Denied);
    decide_requests(
        store,
        &[decision(&r, RequestStatus::Denied, denied.clone())],
        Some(owner.id),
        Some("Access is too broad."),
        at(30),
        &[],
    )
    .await
    .unwrap();
    let after = store.request_by_id(r.id).await.unwrap().unwrap();
    assert_eq!(
        (
            after.status,
            after.decided_at,
            after.decided_by,
            after.decision_reason.as_deref()
        ),
        (
            RequestStatus::Denied,
            Some(at(30)),
            Some(owner.id),
            Some("Access is too broad.")
        )
    );
    assert_eq!(
        store.token_by_id(t.id).await.unwrap().unwrap().grant,
        denied
    );
    assert_eq!(store.grant_of_token(t.id).await.unwrap(), None);
    assert_eq!(store.pending_request_of_token(t.id).await.unwrap(), None);

    // Refusing a raise leaves the approved access, and its grant, in force.
    let small = read(&[r1.id]);
    let a = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "approved",
            at(40),
            small.clone(),
            Some(small.clone()),
            GrantState::Approved,
        ),
    )
    .await;
    let g = grant_of(store, a.id).await;
    let (_, raise) = update_token_requesting(
        store,
        a.id,
        None,
        &with(&a, &write_all(), Some(&small), GrantState::Approved),
        None,
        at(50),
        &[],
    )
    .await
    .unwrap();
    decide_requests(
        store,
        &[decision(
            &raise,
            RequestStatus::Denied,
            with(&a, &small, Some(&small), GrantState::Approved),
        )],
        Some(owner.id),
        None,
        at(60),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        store.request_by_id(raise.id).await.unwrap().unwrap().status,
        RequestStatus::Denied
    );
    assert_eq!(grant_of(store, a.id).await, g);
}

pub async fn a_batch_with_a_decided_request_changes_nothing(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let owner = user(store, "owner").await;
    let mut tokens = Vec::new();
    let mut requests = Vec::new();
    for (i, name) in ["a", "b", "c", "d"].into_iter().enumerate() {
        let t = insert(
            store,
            &org_token(
                mona.id,
                o.id,
                name,
                at(i64::try_from(i).unwrap()),
                write_all(),
                None,
                GrantState::Pending,
            ),
        )
        .await;
        requests.push(pending(store, t.id).await);
        tokens.push(t);
    }
    let approve = |i: usize| {
        decision(
            &requests[i],
            RequestStatus::Approved,
            with(
                &tokens[i],
                &write_all(),
                Some(&write_all()),
                GrantState::Approved,
            ),
        )
    };
    // b and d are decided already.
    for i in [1, 3] {
        decide_requests(
            store,
            &[decision(
                &requests[i],
                RequestStatus::Denied,
                with(&tokens[i], &write_all(), None, GrantState::Denied),
            )],
            Some(owner.id),
            None,
            at(10),
            &[],
        )
        .await
        .unwrap();
    }
    let snapshot = async || {
        let mut rows = Vec::new();
        for (t, r) in tokens.iter().zip(&requests) {
            rows.push((
                store.token_by_id(t.id).await.unwrap(),
                store.request_by_id(r.id).await.unwrap(),
                store.grant_of_token(t.id).await.unwrap(),
            ));
        }
        (rows, audit_all(store).await)
    };
    let before = snapshot().await;

    // The first request that is not pending is named; nothing of the batch is applied.
    let audit = [
        event("personal_access_token.access_granted", at(20)),
        event("personal_access_token.access_granted", at(20)),
    ];
    let err = decide_requests(
        store,
        &[approve(0), approve(3), approve(2), approve(1)],
        Some(owner.id),
        Some("batch"),
        at(20),
        &audit,
    )
    .await
    .unwrap_err();
    match err {
        StoreError::Conflict(msg) => {
            assert_eq!(msg, format!("request {} is not pending", requests[3].id));
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(snapshot().await, before);

    // The same request twice: the second is no longer pending.
    let err = decide_requests(store, &[approve(0), approve(0)], None, None, at(21), &audit)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains(&requests[0].id.to_string())));
    assert_eq!(snapshot().await, before);

    // A request that does not exist is named too.
    let ghost = RequestId(requests[3].id.0 + 1000);
    let err = decide_requests(
        store,
        &[
            approve(0),
            RequestDecision {
                request: ghost,
                ..approve(2)
            },
        ],
        None,
        None,
        at(22),
        &audit,
    )
    .await
    .unwrap_err();
    match err {
        StoreError::Missing(what) => assert!(what.contains(&ghost.to_string()), "{what}"),
        other => panic!("expected Missing, got {other:?}"),
    }
    assert_eq!(snapshot().await, before);

    // A decision that names another token's request.
    let err = decide_requests(
        store,
        &[RequestDecision {
            token: tokens[0].id,
            ..approve(2)
        }],
        None,
        None,
        at(23),
        &audit,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(snapshot().await, before);

    // The good ones alone go through.
    decide_requests(
        store,
        &[approve(0), approve(2)],
        Some(owner.id),
        None,
        at(24),
        &audit,
    )
    .await
    .unwrap();
    for i in [0, 2] {
        assert_eq!(
            store
                .request_by_id(requests[i].id)
                .await
                .unwrap()
                .unwrap()
                .status,
            RequestStatus::Approved
        );
        assert_eq!(
            grant_of(store, tokens[i].id).await.access_granted_at,
            at(24)
        );
    }
    let audit_after = audit_all(store).await;
    assert_eq!(audit_after.len(), before.1.len() + 2);
    assert!(
        audit_after.iter().all(|e| e.token_id.is_none()),
        "a batch over several tokens leaves token_id as given"
    );
}

pub async fn cancelling_a_request(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let r1 = repo(store, o.id, "one").await;
    let t = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "new",
            at(10),
            write_all(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let r = pending(store, t.id).await;
    let withdrawn = with(&t, &write_all(), None, GrantState::Denied);
    cancel_request(
        store,
        r.id,
        &withdrawn,
        at(80),
        &[event("personal_access_token.request_cancelled", at(80))],
    )
    .await
    .unwrap();
    let mut cancelled = r.clone();
    cancelled.status = RequestStatus::Cancelled;
    cancelled.decided_at = Some(at(80));
    assert_eq!(store.request_by_id(r.id).await.unwrap(), Some(cancelled));
    assert_eq!(store.pending_request_of_token(t.id).await.unwrap(), None);
    assert_eq!(
        store.token_by_id(t.id).await.unwrap().unwrap().grant,
        withdrawn
    );
    let audit = audit_all(store).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].token_id, Some(t.id), "the request's token");

    // No longer pending: a conflict, and no trace.
    let failed = [event("failed.cancel", at(81))];
    match cancel_request(store, r.id, &withdrawn, at(81), &failed).await {
        Err(StoreError::Conflict(msg)) => {
            assert_eq!(msg, format!("request {} is not pending", r.id));
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    // A decided request cannot be withdrawn either.
    let a = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "other",
            at(11),
            write_all(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let ra = pending(store, a.id).await;
    decide_requests(
        store,
        &[decision(
            &ra,
            RequestStatus::Approved,
            with(&a, &write_all(), Some(&write_all()), GrantState::Approved),
        )],
        None,
        None,
        at(82),
        &[],
    )
    .await
    .unwrap();
    let a_after = store.token_by_id(a.id).await.unwrap();
    assert!(matches!(
        cancel_request(
            store,
            ra.id,
            &with(&a, &write_all(), None, GrantState::Denied),
            at(83),
            &failed
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.token_by_id(a.id).await.unwrap(), a_after);
    assert!(store.grant_of_token(a.id).await.unwrap().is_some());
    assert!(matches!(
        cancel_request(
            store,
            RequestId(ra.id.0 + 1000),
            &withdrawn,
            at(84),
            &failed
        )
        .await,
        Err(StoreError::Missing(_))
    ));
    assert_eq!(
        audit_all(store).await.len(),
        1,
        "failed cancels leave no audit row"
    );

    // Withdrawing a raise of an approved token keeps the approved access and its grant.
    let small = read(&[r1.id]);
    let e = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "edited",
            at(12),
            small.clone(),
            Some(small.clone()),
            GrantState::Approved,
        ),
    )
    .await;
    let g = grant_of(store, e.id).await;
    let (_, raise) = update_token_requesting(
        store,
        e.id,
        None,
        &with(&e, &write_all(), Some(&small), GrantState::Approved),
        None,
        at(85),
        &[],
    )
    .await
    .unwrap();
    cancel_request(
        store,
        raise.id,
        &with(&e, &small, Some(&small), GrantState::Approved),
        at(86),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(grant_of(store, e.id).await, g);
    assert_eq!(
        store.token_by_id(e.id).await.unwrap().unwrap().grant,
        e.grant
    );
}

pub async fn requests_of_org_filter_by_status_and_org(store: &dyn Store) {
    let acme = org(store, "acme").await;
    let other = org(store, "other").await;
    let mona = user(store, "mona").await;
    let new = |o: AccountId, seed: &str, secs: i64| {
        org_token(
            mona.id,
            o,
            seed,
            at(secs),
            write_all(),
            None,
            GrantState::Pending,
        )
    };
    // Inserted out of time order: lists are oldest first by creation time.
    let late = insert(store, &new(acme.id, "late", 30)).await;
    let early = insert(store, &new(acme.id, "early", 10)).await;
    let same = insert(store, &new(acme.id, "same", 30)).await;
    let elsewhere = insert(store, &new(other.id, "elsewhere", 5)).await;
    let denied = insert(store, &new(acme.id, "denied", 20)).await;
    let rd = pending(store, denied.id).await;
    decide_requests(
        store,
        &[decision(
            &rd,
            RequestStatus::Denied,
            with(&denied, &write_all(), None, GrantState::Denied),
        )],
        None,
        None,
        at(40),
        &[],
    )
    .await
    .unwrap();
    let ids = |rows: Vec<TokenRequest>| rows.into_iter().map(|r| r.token_id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.requests_of_org(acme.id, None).await.unwrap()),
        vec![early.id, denied.id, late.id, same.id]
    );
    assert_eq!(
        ids(store
            .requests_of_org(acme.id, Some(RequestStatus::Pending))
            .await
            .unwrap()),
        vec![early.id, late.id, same.id]
    );
    assert_eq!(
        ids(store
            .requests_of_org(acme.id, Some(RequestStatus::Denied))
            .await
            .unwrap()),
        vec![denied.id]
    );
    assert!(
        store
            .requests_of_org(acme.id, Some(RequestStatus::Approved))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(store.requests_of_org(other.id, None).await.unwrap()),
        vec![elsewhere.id]
    );
}

pub async fn revoking_grants_returns_tokens_to_their_users(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let r1 = repo(store, o.id, "one").await;
    let small = read(&[r1.id]);
    let mut tokens = Vec::new();
    for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
        tokens.push(
            insert(
                store,
                &org_token(
                    mona.id,
                    o.id,
                    name,
                    at(i64::try_from(i).unwrap()),
                    small.clone(),
                    Some(small.clone()),
                    GrantState::Approved,
                ),
            )
            .await,
        );
    }
    let mut grants = Vec::new();
    for t in &tokens {
        grants.push(grant_of(store, t.id).await);
    }
    assert_eq!(
        store.grants_of_org(o.id).await.unwrap(),
        grants,
        "oldest first"
    );
    // a asks for more meanwhile: revoking it ends that request too.
    let (_, raise) = update_token_requesting(
        store,
        tokens[0].id,
        None,
        &with(&tokens[0], &write_all(), Some(&small), GrantState::Approved),
        None,
        at(10),
        &[],
    )
    .await
    .unwrap();
    let a_raised = store.token_by_id(tokens[0].id).await.unwrap().unwrap();

    revoke_grants(
        store,
        &[
            (grants[0].id, tokens[0].id, returned(&tokens[0])),
            (grants[1].id, tokens[1].id, returned(&tokens[1])),
        ],
        &[
            event("personal_access_token.access_revoked", at(20)),
            event("personal_access_token.access_revoked", at(20)),
        ],
    )
    .await
    .unwrap();
    for i in [0, 1] {
        assert_eq!(store.grant_by_id(grants[i].id).await.unwrap(), None);
        assert_eq!(store.grant_of_token(tokens[i].id).await.unwrap(), None);
        let mut want = if i == 0 {
            a_raised.clone()
        } else {
            tokens[i].clone()
        };
        want.grant = returned(&tokens[i]);
        assert_eq!(store.token_by_id(tokens[i].id).await.unwrap(), Some(want));
    }
    let raise_after = store.request_by_id(raise.id).await.unwrap().unwrap();
    assert_eq!(
        (raise_after.status, raise_after.decided_at),
        (RequestStatus::Cancelled, Some(at(20)))
    );
    assert_eq!(
        store.grants_of_org(o.id).await.unwrap(),
        vec![grants[2].clone()]
    );
    assert_eq!(audit_all(store).await.len(), 2);

    // All or nothing: a grant that is gone is named, and c keeps its grant.
    let before = (
        store.token_by_id(tokens[2].id).await.unwrap(),
        audit_all(store).await,
    );
    let failed = [event("failed.revoke", at(30))];
    let err = revoke_grants(
        store,
        &[
            (grants[2].id, tokens[2].id, returned(&tokens[2])),
            (grants[1].id, tokens[1].id, returned(&tokens[1])),
        ],
        &failed,
    )
    .await
    .unwrap_err();
    match err {
        StoreError::Missing(what) => assert_eq!(what, format!("grant {}", grants[1].id)),
        other => panic!("expected Missing, got {other:?}"),
    }
    assert_eq!(grant_of(store, tokens[2].id).await, grants[2]);
    assert_eq!(
        (
            store.token_by_id(tokens[2].id).await.unwrap(),
            audit_all(store).await
        ),
        before
    );
    // A grant named with another token.
    assert!(matches!(
        revoke_grants(
            store,
            &[(grants[2].id, tokens[0].id, returned(&tokens[0]))],
            &failed
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(grant_of(store, tokens[2].id).await, grants[2]);
    assert_eq!(audit_all(store).await, before.1);

    // Revoked but still naming the organization: its pending raise ends all the same.
    let (_, raise) = update_token_requesting(
        store,
        tokens[2].id,
        None,
        &with(&tokens[2], &write_all(), Some(&small), GrantState::Approved),
        None,
        at(40),
        &[],
    )
    .await
    .unwrap();
    revoke_grants(
        store,
        &[(
            grants[2].id,
            tokens[2].id,
            with(&tokens[2], &write_all(), None, GrantState::Revoked),
        )],
        &[event("personal_access_token.access_revoked", at(45))],
    )
    .await
    .unwrap();
    let raise_after = store.request_by_id(raise.id).await.unwrap().unwrap();
    assert_eq!(
        (raise_after.status, raise_after.decided_at),
        (RequestStatus::Cancelled, Some(at(45)))
    );
    assert!(store.grants_of_org(o.id).await.unwrap().is_empty());
}

pub async fn update_token_keeps_requests_and_grants_in_step(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let r1 = repo(store, o.id, "one").await;
    let small = read(&[r1.id]);
    let t = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "t",
            at(10),
            small.clone(),
            Some(small.clone()),
            GrantState::Approved,
        ),
    )
    .await;
    let g = grant_of(store, t.id).await;

    // Still approved: the grant is kept, time and all.
    regrant(store, t.id, Some("edited"), &t.grant, &[event("e", at(20))])
        .await
        .unwrap();
    assert_eq!(grant_of(store, t.id).await, g);
    // Reduced access, still approved: kept.
    let none = access(RepositorySelection::None, &[], &[]);
    regrant(
        store,
        t.id,
        None,
        &with(&t, &none, Some(&none), GrantState::Approved),
        &[event("e", at(21))],
    )
    .await
    .unwrap();
    assert_eq!(grant_of(store, t.id).await, g);
    // No longer approved: no grant.
    regrant(
        store,
        t.id,
        None,
        &with(&t, &small, None, GrantState::Pending),
        &[event("e", at(30))],
    )
    .await
    .unwrap();
    assert_eq!(store.grant_of_token(t.id).await.unwrap(), None);
    assert_eq!(store.grant_by_id(g.id).await.unwrap(), None);
    // Approved again: a new grant, dated by the change (its audit event).
    regrant(
        store,
        t.id,
        None,
        &with(&t, &small, Some(&small), GrantState::Approved),
        &[event("e", at(40))],
    )
    .await
    .unwrap();
    let g2 = grant_of(store, t.id).await;
    assert_ne!(g2.id, g.id);
    assert_eq!((g2.org, g2.access_granted_at), (o.id, at(40)));

    // A pending request ends when the token no longer needs review: approved as asked...
    let p = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "p",
            at(50),
            small.clone(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let rp = pending(store, p.id).await;
    // (an edit that leaves it pending keeps the request)
    regrant(
        store,
        p.id,
        Some("still waiting"),
        &with(&p, &small, None, GrantState::Pending),
        &[event("e", at(55))],
    )
    .await
    .unwrap();
    assert_eq!(pending(store, p.id).await, rp);
    regrant(
        store,
        p.id,
        None,
        &with(&p, &small, Some(&small), GrantState::Approved),
        &[event("e", at(60))],
    )
    .await
    .unwrap();
    let rp_after = store.request_by_id(rp.id).await.unwrap().unwrap();
    assert_eq!(
        (rp_after.status, rp_after.decided_at, rp_after.decided_by),
        (RequestStatus::Cancelled, Some(at(60)), None)
    );
    assert_eq!(grant_of(store, p.id).await.access_granted_at, at(60));

    // ...or a raise taken back to what was approved...
    let (_, raise) = update_token_requesting(
        store,
        p.id,
        None,
        &with(&p, &write_all(), Some(&small), GrantState::Approved),
        None,
        at(70),
        &[],
    )
    .await
    .unwrap();
    regrant(
        store,
        p.id,
        None,
        &with(&p, &small, Some(&small), GrantState::Approved),
        &[event("e", at(75))],
    )
    .await
    .unwrap();
    assert_eq!(
        store.request_by_id(raise.id).await.unwrap().unwrap().status,
        RequestStatus::Cancelled
    );

    // ...or the token is no longer the organization's.
    let (_, again) = update_token_requesting(
        store,
        p.id,
        None,
        &with(&p, &write_all(), Some(&small), GrantState::Approved),
        None,
        at(80),
        &[],
    )
    .await
    .unwrap();
    let own = TokenGrant::FineGrained {
        resource_owner: mona.id,
        resource_owner_kind: AccountKind::User,
        requested: write_all(),
        granted: Some(write_all()),
        state: GrantState::NotRequired,
    };
    regrant(store, p.id, None, &own, &[event("e", at(85))])
        .await
        .unwrap();
    assert_eq!(
        store.request_by_id(again.id).await.unwrap().unwrap().status,
        RequestStatus::Cancelled
    );
    assert_eq!(store.grant_of_token(p.id).await.unwrap(), None);
    assert_eq!(
        store
            .requests_of_org(o.id, Some(RequestStatus::Pending))
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(
        requested_of(&store.token_by_id(p.id).await.unwrap().unwrap()),
        write_all()
    );
}

pub async fn deleting_a_token_deletes_its_requests_and_grant(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let r1 = repo(store, o.id, "one").await;
    let small = read(&[r1.id]);
    let t = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "t",
            at(10),
            small.clone(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let first = pending(store, t.id).await;
    decide_requests(
        store,
        &[decision(
            &first,
            RequestStatus::Approved,
            with(&t, &small, Some(&small), GrantState::Approved),
        )],
        None,
        None,
        at(20),
        &[],
    )
    .await
    .unwrap();
    let g = grant_of(store, t.id).await;
    let (_, raise) = update_token_requesting(
        store,
        t.id,
        None,
        &with(&t, &write_all(), Some(&small), GrantState::Approved),
        None,
        at(30),
        &[],
    )
    .await
    .unwrap();
    let kept = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "kept",
            at(40),
            small.clone(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let kept_request = pending(store, kept.id).await;

    store.delete_token(t.id, &[]).await.unwrap();
    assert_eq!(store.request_by_id(first.id).await.unwrap(), None);
    assert_eq!(store.request_by_id(raise.id).await.unwrap(), None);
    assert_eq!(store.pending_request_of_token(t.id).await.unwrap(), None);
    assert_eq!(store.grant_by_id(g.id).await.unwrap(), None);
    assert_eq!(store.grant_of_token(t.id).await.unwrap(), None);
    assert!(store.grants_of_org(o.id).await.unwrap().is_empty());
    assert_eq!(
        store.requests_of_org(o.id, None).await.unwrap(),
        vec![kept_request]
    );
}

pub async fn apps_round_trip_with_unique_names_per_org(store: &dyn Store) {
    let acme = org(store, "acme").await;
    let other = org(store, "other").await;
    let owner = user(store, "owner").await;
    let perms = super::perms(&[
        (
            Permission::ORGANIZATION_PERSONAL_ACCESS_TOKEN_REQUESTS,
            Level::Write,
        ),
        (Permission::MEMBERS, Level::Read),
    ]);
    let app = store
        .insert_app(
            acme.id,
            "Token Reviewer",
            &perms,
            Some(owner.id),
            at(5),
            &[NewAuditEvent {
                org: Some(acme.id),
                ..event("integration.create", at(5))
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            app.org,
            app.name.as_str(),
            &app.permissions,
            app.created_by,
            app.created_at
        ),
        (acme.id, "Token Reviewer", &perms, Some(owner.id), at(5))
    );
    assert_eq!(store.app_by_id(app.id).await.unwrap(), Some(app.clone()));
    let none = super::perms(&[]);
    let second = store
        .insert_app(acme.id, "Auditor", &none, None, at(6), &[])
        .await
        .unwrap();
    assert_eq!(second.created_by, None);
    assert_eq!(
        store.apps_of_org(acme.id).await.unwrap(),
        vec![app.clone(), second.clone()],
        "by id"
    );

    // One name per organization, whatever the case; the failed insert leaves no audit row.
    assert!(matches!(
        store
            .insert_app(
                acme.id,
                "token reviewer",
                &none,
                None,
                at(7),
                &[event("failed.app", at(7))]
            )
            .await,
        Err(StoreError::UniqueViolation(_))
    ));
    let audit = audit_all(store).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "integration.create");
    assert_eq!(audit[0].org, Some(acme.id));
    // Another organization may use it.
    let theirs = store
        .insert_app(other.id, "TOKEN REVIEWER", &perms, None, at(8), &[])
        .await
        .unwrap();
    assert_eq!(
        store.apps_of_org(other.id).await.unwrap(),
        vec![theirs.clone()]
    );
    assert_eq!(store.apps_of_org(acme.id).await.unwrap().len(), 2);
    assert_eq!(
        store
            .app_by_id(patgate_domain::model::AppId(theirs.id.0 + 1000))
            .await
            .unwrap(),
        None
    );
    assert!(store.apps_of_org(owner.id).await.unwrap().is_empty());
}

pub async fn governance_audit_rows_are_written_with_the_change(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let owner = user(store, "owner").await;
    let small = read(&[repo(store, o.id, "one").await.id]);
    let t = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "t",
            at(1),
            small.clone(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let r = pending(store, t.id).await;
    let approve = decision(
        &r,
        RequestStatus::Approved,
        with(&t, &small, Some(&small), GrantState::Approved),
    );
    decide_requests(
        store,
        std::slice::from_ref(&approve),
        Some(owner.id),
        None,
        at(2),
        &[event("personal_access_token.access_granted", at(2))],
    )
    .await
    .unwrap();
    let g = grant_of(store, t.id).await;
    let (_, raise) = update_token_requesting(
        store,
        t.id,
        None,
        &with(&t, &write_all(), Some(&small), GrantState::Approved),
        None,
        at(3),
        &[
            event("personal_access_token.update", at(3)),
            event("personal_access_token.request_created", at(3)),
        ],
    )
    .await
    .unwrap();
    cancel_request(
        store,
        raise.id,
        &with(&t, &small, Some(&small), GrantState::Approved),
        at(4),
        &[event("personal_access_token.request_cancelled", at(4))],
    )
    .await
    .unwrap();
    revoke_grants(
        store,
        &[(g.id, t.id, returned(&t))],
        &[event("personal_access_token.access_revoked", at(5))],
    )
    .await
    .unwrap();
    let rows = store
        .audit_events(&AuditQuery {
            token_id: Some(t.id),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = rows.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "personal_access_token.access_revoked",
            "personal_access_token.request_cancelled",
            "personal_access_token.request_created",
            "personal_access_token.update",
            "personal_access_token.access_granted",
        ]
    );

    // Failed changes write nothing.
    let failed = |what: &str| [event(&format!("failed.{what}"), at(9))];
    assert!(
        decide_requests(
            store,
            std::slice::from_ref(&approve),
            None,
            None,
            at(9),
            &failed("decide")
        )
        .await
        .is_err()
    );
    assert!(
        cancel_request(store, r.id, &t.grant, at(9), &failed("cancel"))
            .await
            .is_err()
    );
    assert!(
        revoke_grants(store, &[(g.id, t.id, returned(&t))], &failed("revoke"))
            .await
            .is_err()
    );
    assert!(
        update_token_requesting(
            store,
            TokenId(t.id.0 + 1000),
            None,
            &t.grant,
            None,
            at(9),
            &failed("requesting")
        )
        .await
        .is_err()
    );
    assert!(
        store
            .insert_app(
                AccountId(o.id.0 + 1000),
                "x",
                &super::perms(&[]),
                None,
                at(9),
                &failed("app")
            )
            .await
            .is_err(),
        "an unknown organization"
    );
    assert_eq!(
        audit_all(store)
            .await
            .iter()
            .filter(|e| e.action.starts_with("failed."))
            .count(),
        0
    );
}

pub async fn apply_refuses_changes_computed_from_a_stale_grant(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let t = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "t",
            at(1),
            write_all(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let stale = store.standing(t.id).await.unwrap().unwrap();
    let r = pending(store, t.id).await;
    // Someone else decides first.
    decide_requests(
        store,
        &[decision(
            &r,
            RequestStatus::Denied,
            with(&t, &write_all(), None, GrantState::Denied),
        )],
        None,
        None,
        at(2),
        &[],
    )
    .await
    .unwrap();
    let before = (
        store.token_by_id(t.id).await.unwrap(),
        store.request_by_id(r.id).await.unwrap(),
    );
    // An edit computed from the old standing: its token update expects the pending grant.
    let mut changes = rules::regrant(
        &stale,
        None,
        with(&t, &write_all(), Some(&write_all()), GrantState::Approved),
        at(3),
    );
    changes.audit = records(&[event("edit", at(3))], Some(t.id));
    match store.apply(&changes).await.unwrap_err() {
        StoreError::Conflict(msg) => assert_eq!(msg, format!("token {} changed meanwhile", t.id)),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        (
            store.token_by_id(t.id).await.unwrap(),
            store.request_by_id(r.id).await.unwrap()
        ),
        before
    );
    assert!(audit_all(store).await.iter().all(|e| e.action != "edit"));
}

pub async fn apply_holds_a_fine_grained_insert_to_its_cap(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let cap = 3;
    let admit = |seed: &str| {
        rules::admit(
            fine_grained(mona.id, seed, at(1)),
            Some(cap),
            records(&[event("created", at(1))], None),
        )
    };
    for seed in ["a", "b", "c"] {
        store.apply(&admit(seed)).await.unwrap();
    }
    // Other kinds do not count, and are not held to it.
    insert(store, &classic(mona.id, "classic", at(2), "repo")).await;
    match store.apply(&admit("d")).await.unwrap_err() {
        StoreError::LimitReached { limit } => assert_eq!(limit, cap),
        other => panic!("expected LimitReached, got {other:?}"),
    }
    let fine = store
        .tokens_of_user(mona.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| matches!(t.grant, TokenGrant::FineGrained { .. }))
        .count();
    assert_eq!(fine, 3);
    assert_eq!(
        audit_all(store).await.len(),
        3,
        "the refused insert wrote no audit row"
    );
    // Without a cap (the operator's own tools), a fourth goes in.
    store
        .apply(&rules::admit(
            fine_grained(mona.id, "e", at(3)),
            None,
            vec![],
        ))
        .await
        .unwrap();
}

pub async fn apply_names_the_inserted_token_in_its_rows(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let new = org_token(
        mona.id,
        o.id,
        "new",
        at(5),
        write_all(),
        None,
        GrantState::Pending,
    );
    let applied = store
        .apply(&rules::admit(
            new,
            None,
            records(&[event("personal_access_token.create", at(5))], None),
        ))
        .await
        .unwrap();
    let t = &applied.tokens[0];
    let r = pending(store, t.id).await;
    assert_eq!((r.token_id, r.created_at), (t.id, at(5)));
    let audit = audit_all(store).await;
    assert_eq!(audit[0].token_id, Some(t.id));
    // A change that names the inserted token without inserting one is refused.
    let orphan = Changes {
        new_grants: vec![patgate_domain::governance::NewGrant {
            token: None,
            org: o.id,
            at: at(6),
        }],
        ..Changes::default()
    };
    assert!(matches!(
        store.apply(&orphan).await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn apply_removes_a_membership_with_what_it_takes_away(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    store
        .upsert_membership(o.id, mona.id, patgate_domain::catalog::OrgRole::Member)
        .await
        .unwrap();
    let a = read(&[repo(store, o.id, "one").await.id]);
    let approved = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "approved",
            at(1),
            a.clone(),
            Some(a.clone()),
            GrantState::Approved,
        ),
    )
    .await;
    let asking = insert(
        store,
        &org_token(mona.id, o.id, "asking", at(2), a, None, GrantState::Pending),
    )
    .await;
    let own = insert(store, &fine_grained(mona.id, "own", at(3))).await;
    let standings = store.standings_in_org(mona.id, o.id).await.unwrap();
    assert_eq!(
        standings.iter().map(|s| s.token.id).collect::<Vec<_>>(),
        vec![approved.id, asking.id],
        "the user's tokens for the organization, by id"
    );
    store
        .apply(&rules::lose_access(o.id, mona.id, &standings, at(9)))
        .await
        .unwrap();
    assert_eq!(store.membership(o.id, mona.id).await.unwrap(), None);
    assert!(store.grants_of_org(o.id).await.unwrap().is_empty());
    assert!(
        store
            .requests_of_org(o.id, Some(RequestStatus::Pending))
            .await
            .unwrap()
            .is_empty()
    );
    for t in [&approved, &asking] {
        assert_eq!(
            store.token_by_id(t.id).await.unwrap().unwrap().grant,
            rules::returned(t)
        );
    }
    assert_eq!(store.token_by_id(own.id).await.unwrap(), Some(own));
}

pub async fn listings_filter_and_page_in_the_store(store: &dyn Store) {
    use crate::{OrgTokenFilter, PageQuery};

    let o = org(store, "acme").await;
    let other = org(store, "other").await;
    let mona = user(store, "Mona").await;
    let hubot = user(store, "hubot").await;
    let api = repo(store, o.id, "API").await;
    let web = repo(store, o.id, "web").await;
    let contents = |level| {
        access(
            RepositorySelection::Subset,
            &[api.id],
            &[
                (Permission::CONTENTS, level),
                (Permission::PULL_REQUESTS, Level::Read),
            ],
        )
    };
    let everywhere = access(
        RepositorySelection::All,
        &[],
        &[(Permission::ISSUES, Level::Write)],
    );
    let only_web = access(
        RepositorySelection::Subset,
        &[web.id],
        &[(Permission::CONTENTS, Level::Read)],
    );
    // Pending requests (created at 1..=4) and grants (granted at 11..=14), one of each per row.
    let rows = [
        (mona.id, "a", contents(Level::Write)),
        (mona.id, "b", everywhere.clone()),
        (hubot.id, "c", only_web.clone()),
        (hubot.id, "d", contents(Level::Read)),
    ];
    let mut asking = Vec::new();
    let mut granted = Vec::new();
    for (i, (u, seed, a)) in rows.iter().enumerate() {
        let n = i64::try_from(i).unwrap();
        asking.push(
            insert(
                store,
                &org_token(
                    *u,
                    o.id,
                    &format!("ask-{seed}"),
                    at(1 + n),
                    a.clone(),
                    None,
                    GrantState::Pending,
                ),
            )
            .await,
        );
        granted.push(
            insert(
                store,
                &org_token(
                    *u,
                    o.id,
                    &format!("grant-{seed}"),
                    at(11 + n),
                    a.clone(),
                    Some(a.clone()),
                    GrantState::Approved,
                ),
            )
            .await,
        );
    }
    // Noise: another organization's, and a request already decided.
    insert(
        store,
        &org_token(
            mona.id,
            other.id,
            "elsewhere",
            at(5),
            everywhere.clone(),
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let decided = insert(
        store,
        &org_token(
            mona.id,
            o.id,
            "decided",
            at(6),
            everywhere,
            None,
            GrantState::Pending,
        ),
    )
    .await;
    let r = pending(store, decided.id).await;
    decide_requests(
        store,
        &[decision(
            &r,
            RequestStatus::Denied,
            with(&decided, &requested_of(&decided), None, GrantState::Denied),
        )],
        None,
        None,
        at(7),
        &[],
    )
    .await
    .unwrap();
    store
        .record_last_used(&[
            (asking[0].id, at(100)),
            (asking[1].id, at(200)),
            (granted[2].id, at(300)),
        ])
        .await
        .unwrap();

    let all = PageQuery {
        page: 1,
        per_page: 100,
        ascending: true,
    };
    let requests = async |f: OrgTokenFilter, page: PageQuery| {
        let l = store.list_requests(o.id, &f, page).await.unwrap();
        let names: Vec<String> = l.items.iter().map(|i| i.token.name.clone()).collect();
        (names, l.total)
    };
    let grants = async |f: OrgTokenFilter, page: PageQuery| {
        let l = store.list_grants(o.id, &f, page).await.unwrap();
        let names: Vec<String> = l.items.iter().map(|i| i.token.name.clone()).collect();
        (names, l.total)
    };
    let names = |list: &[&str], prefix: &str| -> Vec<String> {
        list.iter()
            .map(|s| format!("fine-grained {prefix}-{s}"))
            .collect()
    };
    let f = OrgTokenFilter::default;
    // (filter, requests expected, grants expected)
    let table: Vec<(&str, OrgTokenFilter, &[&str], &[&str])> = vec![
        ("none", f(), &["a", "b", "c", "d"], &["a", "b", "c", "d"]),
        (
            "owner, case-insensitively",
            OrgTokenFilter {
                owners: vec!["MONA".into()],
                ..f()
            },
            &["a", "b"],
            &["a", "b"],
        ),
        (
            "two owners",
            OrgTokenFilter {
                owners: vec!["mona".into(), "hubot".into()],
                ..f()
            },
            &["a", "b", "c", "d"],
            &["a", "b", "c", "d"],
        ),
        (
            "a repository: selected or all",
            OrgTokenFilter {
                repository: Some("api".into()),
                ..f()
            },
            &["a", "b", "d"],
            &["a", "b", "d"],
        ),
        (
            "a repository the organization does not have: all only",
            OrgTokenFilter {
                repository: Some("nope".into()),
                ..f()
            },
            &["b"],
            &["b"],
        ),
        (
            "contents read: write counts",
            OrgTokenFilter {
                permission: Some((Permission::CONTENTS, Level::Read)),
                ..f()
            },
            &["a", "c", "d"],
            &["a", "c", "d"],
        ),
        (
            "contents write",
            OrgTokenFilter {
                permission: Some((Permission::CONTENTS, Level::Write)),
                ..f()
            },
            &["a"],
            &["a"],
        ),
        (
            "a permission with an underscore in its name",
            OrgTokenFilter {
                permission: Some((Permission::PULL_REQUESTS, Level::Read)),
                ..f()
            },
            &["a", "d"],
            &["a", "d"],
        ),
        (
            "last used before (never used: out)",
            OrgTokenFilter {
                last_used_before: Some(at(150)),
                ..f()
            },
            &["a"],
            &[],
        ),
        (
            "last used after",
            OrgTokenFilter {
                last_used_after: Some(at(150)),
                ..f()
            },
            &["b"],
            &["c"],
        ),
        (
            "token ids",
            OrgTokenFilter {
                token_ids: vec![asking[3].id, granted[0].id],
                ..f()
            },
            &["d"],
            &["a"],
        ),
        (
            "all together",
            OrgTokenFilter {
                owners: vec!["mona".into()],
                repository: Some("API".into()),
                permission: Some((Permission::CONTENTS, Level::Read)),
                ..f()
            },
            &["a"],
            &["a"],
        ),
    ];
    for (what, filter, want_requests, want_grants) in table {
        let (got, total) = requests(filter.clone(), all).await;
        assert_eq!(got, names(want_requests, "ask"), "requests: {what}");
        assert_eq!(total, want_requests.len() as u64, "requests: {what}");
        let (got, total) = grants(filter, all).await;
        assert_eq!(got, names(want_grants, "grant"), "grants: {what}");
        assert_eq!(total, want_grants.len() as u64, "grants: {what}");
    }
    // Pages, newest first: the page's rows, the total of all pages.
    let newest = |page| PageQuery {
        page,
        per_page: 3,
        ascending: false,
    };
    assert_eq!(
        requests(f(), newest(1)).await,
        (names(&["d", "c", "b"], "ask"), 4)
    );
    assert_eq!(requests(f(), newest(2)).await, (names(&["a"], "ask"), 4));
    assert_eq!(grants(f(), newest(2)).await, (names(&["a"], "grant"), 4));
    assert_eq!(requests(f(), newest(3)).await, (vec![], 4));
    // A filtered listing pages the same way (a repository's rows: all, or selected).
    let api = || OrgTokenFilter {
        repository: Some("api".into()),
        ..f()
    };
    let two = |page, ascending| PageQuery {
        page,
        per_page: 2,
        ascending,
    };
    assert_eq!(
        requests(api(), two(1, false)).await,
        (names(&["d", "b"], "ask"), 3)
    );
    assert_eq!(
        requests(api(), two(2, false)).await,
        (names(&["a"], "ask"), 3)
    );
    assert_eq!(
        grants(api(), two(2, true)).await,
        (names(&["d"], "grant"), 3)
    );
    assert_eq!(
        grants(api(), two(1, false)).await,
        (names(&["d", "b"], "grant"), 3)
    );
    // A listed row carries its token and its user.
    let l = store.list_requests(o.id, &f(), all).await.unwrap();
    assert_eq!(
        l.items[0].token,
        store.token_by_id(asking[0].id).await.unwrap().unwrap()
    );
    assert_eq!(l.items[0].owner, mona);
    assert_eq!(l.items[0].request, pending(store, asking[0].id).await);
    let g = store.list_grants(o.id, &f(), all).await.unwrap();
    assert_eq!(g.items[2].owner, hubot);
    assert_eq!(g.items[2].grant, grant_of(store, granted[2].id).await);

    // The latest request of each token, of any status.
    let latest = store
        .latest_requests(&[decided.id, asking[0].id, granted[0].id])
        .await
        .unwrap();
    let mut latest: Vec<(TokenId, RequestStatus)> =
        latest.iter().map(|r| (r.token_id, r.status)).collect();
    latest.sort_by_key(|(t, _)| t.0);
    let mut want = vec![
        (asking[0].id, RequestStatus::Pending),
        (decided.id, RequestStatus::Denied),
    ];
    want.sort_by_key(|(t, _)| t.0);
    assert_eq!(latest, want);
}

pub async fn a_users_tokens_and_accounts_page_in_the_store(store: &dyn Store) {
    use crate::PageQuery;
    use patgate_domain::token::TokenKind;

    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    for i in 0..5 {
        insert(store, &fine_grained(mona.id, &format!("f{i}"), at(i))).await;
    }
    insert(store, &classic(mona.id, "c", at(9), "repo")).await;
    let page = |page, ascending| PageQuery {
        page,
        per_page: 2,
        ascending,
    };
    let names = async |p: PageQuery| {
        let l = store
            .tokens_page(mona.id, TokenKind::FineGrained, p)
            .await
            .unwrap();
        (
            l.items.into_iter().map(|t| t.name).collect::<Vec<_>>(),
            l.total,
        )
    };
    let fg =
        |s: &[&str]| -> Vec<String> { s.iter().map(|s| format!("fine-grained {s}")).collect() };
    assert_eq!(names(page(1, false)).await, (fg(&["f4", "f3"]), 5));
    assert_eq!(names(page(3, false)).await, (fg(&["f0"]), 5));
    assert_eq!(names(page(1, true)).await, (fg(&["f0", "f1"]), 5));
    assert_eq!(names(page(4, false)).await, (vec![], 5));
    let classic_page = store
        .tokens_page(mona.id, TokenKind::Classic, page(1, false))
        .await
        .unwrap();
    assert_eq!(classic_page.total, 1);

    let accounts = store
        .accounts_by_ids(&[o.id, AccountId(o.id.0 + 1000), mona.id])
        .await
        .unwrap();
    let mut ids: Vec<AccountId> = accounts.iter().map(|a| a.id()).collect();
    ids.sort_by_key(|a| a.0);
    let mut want = vec![o.id, mona.id];
    want.sort_by_key(|a| a.0);
    assert_eq!(ids, want, "unknown ids left out");
}
