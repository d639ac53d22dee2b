//! Tokens and keys.

use time::Duration;

use patgate_domain::catalog::{Level, Permission};
use patgate_domain::model::{
    AccountKind, GrantState, KeyId, RepositorySelection, TokenGrant, TokenId,
};
use patgate_domain::scopes::Scopes;

use super::{
    DAY, access, app_installation, at, classic, fine_grained, hash, insert, org, repo, user,
};
use crate::{AuditQuery, NewKey, NewToken, Store, StoreError};

/// A fine-grained token of `mona` on organization `acme`, asking for more than was granted:
/// requested `subset [r1, r2, r3]` with contents:write + issues:read, granted `subset [r1, r2]`
/// with contents:read.
async fn org_token_fixture(
    store: &dyn Store,
) -> (NewToken, Vec<patgate_domain::model::Repository>) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let r1 = repo(store, o.id, "one").await;
    let r2 = repo(store, o.id, "two").await;
    let r3 = repo(store, o.id, "three").await;
    let requested = access(
        RepositorySelection::Subset,
        // Out of order on purpose: the store returns them sorted.
        &[r3.id, r1.id, r2.id],
        &[
            (Permission::CONTENTS, Level::Write),
            (Permission::ISSUES, Level::Read),
            (Permission::METADATA, Level::Read),
        ],
    );
    let granted = access(
        RepositorySelection::Subset,
        &[r2.id, r1.id],
        &[
            (Permission::CONTENTS, Level::Read),
            (Permission::METADATA, Level::Read),
        ],
    );
    assert_ne!(requested, granted);
    let new = NewToken {
        user: mona.id,
        name: "deploy bot".into(),
        description: Some("pushes releases".into()),
        justification: Some("release automation".into()),
        hash: hash("org-token"),
        last_eight: "abcd1234".into(),
        created_at: at(100),
        expires_at: Some(at(100 + 60 * DAY)),
        grant: TokenGrant::FineGrained {
            resource_owner: o.id,
            resource_owner_kind: AccountKind::Organization,
            requested,
            granted: Some(granted),
            state: GrantState::Approved,
        },
    };
    (new, vec![r1, r2, r3])
}

pub async fn fine_grained_token_round_trips(store: &dyn Store) {
    let (new, _) = org_token_fixture(store).await;
    let stored = insert(store, &new).await;
    assert_eq!(
        store.token_by_hash(&new.hash).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        store.token_by_id(stored.id).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(store.token_by_hash(&hash("other")).await.unwrap(), None);
    assert_eq!(
        store
            .token_by_id(TokenId(stored.id.0 + 1000))
            .await
            .unwrap(),
        None
    );

    // A user-owned token with every repository, no expiry and no permissions at all.
    let mona = stored.user;
    let empty = access(RepositorySelection::None, &[], &[]);
    let own = NewToken {
        expires_at: None,
        description: None,
        grant: TokenGrant::FineGrained {
            resource_owner: mona,
            resource_owner_kind: AccountKind::User,
            requested: empty.clone(),
            granted: Some(empty),
            state: GrantState::NotRequired,
        },
        ..fine_grained(mona, "own", at(5))
    };
    let own_stored = insert(store, &own).await;
    assert_eq!(
        store.token_by_hash(&own.hash).await.unwrap(),
        Some(own_stored)
    );
}

pub async fn fine_grained_token_without_granted_access_round_trips(store: &dyn Store) {
    let (mut new, repos) = org_token_fixture(store).await;
    for (i, state) in [GrantState::Pending, GrantState::Denied, GrantState::Revoked]
        .into_iter()
        .enumerate()
    {
        let TokenGrant::FineGrained {
            requested, granted, ..
        } = &mut new.grant
        else {
            unreachable!()
        };
        *granted = None;
        *requested = access(
            RepositorySelection::All,
            &[repos[0].id], // dropped: `all` has no list
            &[(Permission::PULL_REQUESTS, Level::Write)],
        );
        if let TokenGrant::FineGrained { state: s, .. } = &mut new.grant {
            *s = state;
        }
        new.hash = hash(&format!("pending-{i}"));
        // A user's fine-grained token names are unique.
        new.name = format!("deploy bot {i}");
        let stored = insert(store, &new).await;
        assert_eq!(store.token_by_id(stored.id).await.unwrap(), Some(stored));
    }
}

pub async fn classic_token_round_trips_keeping_scope_order(store: &dyn Store) {
    let mona = user(store, "mona").await;
    // Not table order, not alphabetical: the granted order is kept.
    let new = classic(mona.id, "classic-1", at(7), "workflow,gist,repo,read:org");
    let stored = insert(store, &new).await;
    let TokenGrant::Classic { scopes } = &stored.grant else {
        panic!("expected a classic token, got {:?}", stored.grant)
    };
    let names: Vec<&str> = scopes.list().iter().map(|s| s.name()).collect();
    assert_eq!(names, ["workflow", "gist", "repo", "read:org"]);
    assert_eq!(
        store.token_by_hash(&new.hash).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(store.token_by_id(stored.id).await.unwrap(), Some(stored));

    // No scopes at all, and never expiring.
    let bare = NewToken {
        expires_at: None,
        description: Some("note".into()),
        ..classic(mona.id, "classic-2", at(8), "")
    };
    let stored = insert(store, &bare).await;
    assert_eq!(store.token_by_hash(&bare.hash).await.unwrap(), Some(stored));
}

pub async fn app_installation_token_round_trips(store: &dyn Store) {
    let o = org(store, "acme").await;
    let new = app_installation(o.id, o.id, "installation-1", at(9));
    let stored = insert(store, &new).await;
    assert_eq!(
        store.token_by_hash(&new.hash).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(store.token_by_id(stored.id).await.unwrap(), Some(stored));
}

pub async fn duplicate_hash_is_a_unique_violation(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let first = insert(store, &fine_grained(mona.id, "same", at(1))).await;
    let again = classic(mona.id, "same", at(2), "repo");
    assert!(matches!(
        store.insert_token(&again, &[]).await,
        Err(StoreError::UniqueViolation(_))
    ));
    assert_eq!(store.tokens_of_user(mona.id).await.unwrap(), vec![first]);
}

pub async fn fine_grained_names_are_unique_per_user_case_insensitively(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let bob = user(store, "bob").await;
    let o = org(store, "acme").await;
    let named = |user, seed: &str, name: &str| NewToken {
        name: name.to_owned(),
        ..fine_grained(user, seed, at(1))
    };
    let first = insert(store, &named(mona.id, "1", "Été CI")).await;
    // Another spelling of the same name, folded beyond ASCII: taken.
    for (seed, name) in [("2", "été ci"), ("3", "ÉTÉ CI")] {
        match store.insert_token(&named(mona.id, seed, name), &[]).await {
            Err(StoreError::NameTaken(n)) => assert_eq!(n, name),
            other => panic!("expected NameTaken, got {other:?}"),
        }
        assert!(matches!(
            store
                .apply(&patgate_domain::governance::admit(
                    named(mona.id, seed, name),
                    Some(50),
                    vec![]
                ))
                .await,
            Err(StoreError::NameTaken(_))
        ));
    }
    // Another user's, a classic note, an app installation's name: free.
    insert(store, &named(bob.id, "4", "été ci")).await;
    insert(
        store,
        &NewToken {
            name: "été ci".into(),
            ..classic(mona.id, "5", at(2), "repo")
        },
    )
    .await;
    for seed in ["6", "7"] {
        insert(store, &app_installation(o.id, o.id, seed, at(3))).await;
    }
    let names: Vec<String> = store
        .tokens_of_user(mona.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| matches!(t.grant, TokenGrant::FineGrained { .. }))
        .map(|t| t.name)
        .collect();
    assert_eq!(names, vec![first.name]);
    // A deleted token's name is free again.
    store.delete_token(first.id, &[]).await.unwrap();
    insert(store, &named(mona.id, "8", "été ci")).await;
}

pub async fn tokens_of_user_newest_first_without_app_tokens(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let bob = user(store, "bob").await;
    // An organization-targeting fine-grained token of mona, created last.
    let mut org_token = org_token_fixture_for(store, o.id, mona.id).await;
    org_token.created_at = at(40);
    let c1 = insert(store, &classic(mona.id, "c1", at(10), "repo")).await;
    let f1 = insert(store, &fine_grained(mona.id, "f1", at(20))).await;
    let f2 = insert(store, &fine_grained(mona.id, "f2", at(20))).await; // same second: id decides
    let f3 = insert(store, &org_token).await;
    insert(store, &fine_grained(bob.id, "b1", at(30))).await;
    insert(store, &app_installation(mona.id, o.id, "app1", at(50))).await;
    insert(store, &app_installation(o.id, o.id, "app2", at(50))).await;
    assert_eq!(
        store.tokens_of_user(mona.id).await.unwrap(),
        vec![f3, f2, f1, c1]
    );
    assert_eq!(store.tokens_of_user(bob.id).await.unwrap().len(), 1);
    assert!(store.tokens_of_user(o.id).await.unwrap().is_empty());
}

/// A `subset` token of `user_id` on `org_id` with two repositories in both lists.
async fn org_token_fixture_for(
    store: &dyn Store,
    org_id: patgate_domain::model::AccountId,
    user_id: patgate_domain::model::AccountId,
) -> NewToken {
    let r1 = repo(store, org_id, "alpha").await;
    let r2 = repo(store, org_id, "beta").await;
    let a = access(
        RepositorySelection::Subset,
        &[r1.id, r2.id],
        &[(Permission::CONTENTS, Level::Read)],
    );
    let mut new = fine_grained(user_id, "org-subset", at(0));
    new.grant = TokenGrant::FineGrained {
        resource_owner: org_id,
        resource_owner_kind: AccountKind::Organization,
        requested: a.clone(),
        granted: Some(a),
        state: GrantState::Approved,
    };
    new
}

pub async fn update_token_replaces_description_and_grant(store: &dyn Store) {
    let (new, repos) = org_token_fixture(store).await;
    let stored = insert(store, &new).await;
    let TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        granted,
        ..
    } = stored.grant.clone()
    else {
        unreachable!()
    };
    // Ask for a different subset: the granted access stays in force until decided.
    let edited = TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        requested: access(
            RepositorySelection::Subset,
            &[repos[2].id],
            &[(Permission::ADMINISTRATION, Level::Write)],
        ),
        granted: granted.clone(),
        state: GrantState::Pending,
    };
    let updated = store
        .update_token(stored.id, None, &edited, &[])
        .await
        .unwrap();
    let mut want = stored.clone();
    want.description = None;
    want.grant = edited.clone();
    assert_eq!(updated, want);
    assert_eq!(
        store.token_by_id(stored.id).await.unwrap(),
        Some(want.clone())
    );
    assert_eq!(
        store.token_by_hash(&new.hash).await.unwrap(),
        Some(want.clone())
    );

    // All repositories, nothing granted any more; a description again.
    let wide = TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        requested: access(
            RepositorySelection::All,
            &[],
            &[(Permission::CONTENTS, Level::Read)],
        ),
        granted: None,
        state: GrantState::Revoked,
    };
    let updated = store
        .update_token(stored.id, Some("now wider"), &wide, &[])
        .await
        .unwrap();
    want.description = Some("now wider".into());
    want.grant = wide;
    assert_eq!(updated, want);
    assert_eq!(
        store.tokens_of_user(stored.user).await.unwrap(),
        vec![want.clone()]
    );

    // A classic token's scopes are its grant.
    let c = insert(store, &classic(stored.user, "c", at(1), "repo")).await;
    let scopes = TokenGrant::Classic {
        scopes: Scopes::parse("gist,admin:org").unwrap(),
    };
    let updated = store
        .update_token(c.id, Some("more"), &scopes, &[])
        .await
        .unwrap();
    assert_eq!(updated.grant, scopes);
    assert_eq!(updated.description.as_deref(), Some("more"));
    assert_eq!(
        (updated.created_at, updated.issued_at),
        (c.created_at, c.issued_at)
    );

    assert!(matches!(
        store
            .update_token(TokenId(c.id.0 + 1000), None, &scopes, &[])
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn update_token_cannot_change_the_kind(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let c = insert(store, &classic(mona.id, "c", at(1), "repo")).await;
    let fg = fine_grained(mona.id, "f", at(2)).grant;
    assert!(matches!(
        store.update_token(c.id, None, &fg, &[]).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.token_by_id(c.id).await.unwrap(), Some(c));
}

pub async fn regenerate_token_swaps_the_secret(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let new = fine_grained(mona.id, "before", at(0));
    let stored = insert(store, &new).await;
    let other = insert(store, &classic(mona.id, "other", at(1), "repo")).await;

    let issued = at(10 * DAY);
    let expires = issued + Duration::days(7);
    let regenerated = store
        .regenerate_token(
            stored.id,
            &hash("after"),
            "newlast8",
            issued,
            Some(expires),
            &[],
        )
        .await
        .unwrap();
    let mut want = stored.clone();
    want.last_eight = "newlast8".into();
    want.issued_at = issued;
    want.expires_at = Some(expires);
    assert_eq!(regenerated, want);
    assert_eq!(store.token_by_hash(&new.hash).await.unwrap(), None);
    assert_eq!(
        store.token_by_hash(&hash("after")).await.unwrap(),
        Some(want.clone())
    );
    assert_eq!(
        store.token_by_id(stored.id).await.unwrap(),
        Some(want.clone())
    );

    // Never expiring from now on.
    let again = store
        .regenerate_token(
            stored.id,
            &hash("after-2"),
            "zzzzzzzz",
            at(11 * DAY),
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (again.id, again.expires_at, again.issued_at),
        (stored.id, None, at(11 * DAY))
    );

    // Another token's secret is taken.
    assert!(matches!(
        store
            .regenerate_token(other.id, &hash("after-2"), "x", at(12 * DAY), None, &[])
            .await,
        Err(StoreError::UniqueViolation(_))
    ));
    assert_eq!(
        store.token_by_id(other.id).await.unwrap(),
        Some(other.clone())
    );
    assert!(matches!(
        store
            .regenerate_token(
                TokenId(other.id.0 + 1000),
                &hash("n"),
                "x",
                at(0),
                None,
                &[]
            )
            .await,
        Err(StoreError::NotFound)
    ));
}

fn key(
    title: &str,
    repo: Option<patgate_domain::model::RepoId>,
    user: patgate_domain::model::AccountId,
    by: Option<TokenId>,
) -> NewKey {
    NewKey {
        title: title.into(),
        key: format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA{title}"),
        repo,
        user,
        read_only: repo.is_some(),
        created_by_token: by,
        created_at: at(3),
    }
}

pub async fn delete_token_removes_its_deploy_keys_only(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let r1 = repo(store, mona.id, "one").await;
    let r2 = repo(store, mona.id, "two").await;
    let t = insert(store, &fine_grained(mona.id, "doomed", at(1))).await;
    let keep = insert(store, &fine_grained(mona.id, "kept", at(2))).await;

    let k1 = store
        .insert_key(&key("k1", Some(r1.id), mona.id, Some(t.id)))
        .await
        .unwrap();
    let k2 = store
        .insert_key(&key("k2", Some(r2.id), mona.id, Some(t.id)))
        .await
        .unwrap();
    let k3 = store
        .insert_key(&key("k3", Some(r1.id), mona.id, Some(keep.id)))
        .await
        .unwrap();
    let k4 = store
        .insert_key(&key("k4", Some(r1.id), mona.id, None))
        .await
        .unwrap();
    let k5 = store
        .insert_key(&key("k5", None, mona.id, Some(t.id)))
        .await
        .unwrap();
    let k6 = store
        .insert_key(&key("k6", None, mona.id, Some(keep.id)))
        .await
        .unwrap();

    let (deleted, keys) = store
        .delete_token(
            t.id,
            &[super::event("personal_access_token.destroy", at(9))],
        )
        .await
        .unwrap();
    assert_eq!(deleted, t);
    let mut removed = keys.clone();
    removed.sort();
    assert_eq!(removed, vec![k1.id, k2.id]);

    assert_eq!(store.token_by_id(t.id).await.unwrap(), None);
    assert_eq!(store.token_by_hash(&hash("doomed")).await.unwrap(), None);
    assert_eq!(store.key_by_id(k1.id).await.unwrap(), None);
    assert_eq!(store.key_by_id(k2.id).await.unwrap(), None);
    assert_eq!(store.key_by_id(k3.id).await.unwrap(), Some(k3.clone()));
    assert_eq!(store.key_by_id(k4.id).await.unwrap(), Some(k4.clone()));
    // The user key stays and forgets the token.
    let mut k5_after = k5.clone();
    k5_after.created_by_token = None;
    assert_eq!(
        store.key_by_id(k5.id).await.unwrap(),
        Some(k5_after.clone())
    );
    assert_eq!(store.key_by_id(k6.id).await.unwrap(), Some(k6.clone()));
    assert_eq!(store.deploy_keys(r1.id).await.unwrap(), vec![k3, k4]);
    assert!(store.deploy_keys(r2.id).await.unwrap().is_empty());
    assert_eq!(store.user_keys(mona.id).await.unwrap(), vec![k5_after, k6]);
    assert_eq!(store.tokens_of_user(mona.id).await.unwrap(), vec![keep]);

    // The audit row names the deleted token.
    let audit = store
        .audit_events(&AuditQuery {
            token_id: Some(t.id),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "personal_access_token.destroy");
}

pub async fn delete_unknown_token_is_not_found(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let t = insert(store, &fine_grained(mona.id, "t", at(1))).await;
    store.delete_token(t.id, &[]).await.unwrap();
    assert!(matches!(
        store.delete_token(t.id, &[super::event("x", at(2))]).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_token(TokenId(t.id.0 + 1000), &[]).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .audit_events(&AuditQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn record_last_used_only_moves_forward(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let a = insert(store, &fine_grained(mona.id, "a", at(1))).await;
    let b = insert(store, &classic(mona.id, "b", at(1), "repo")).await;
    let last = |id| async move { store.token_by_id(id).await.unwrap().unwrap().last_used_at };

    store.record_last_used(&[]).await.unwrap();
    assert_eq!(last(a.id).await, None);
    store.record_last_used(&[(a.id, at(50))]).await.unwrap();
    assert_eq!(last(a.id).await, Some(at(50)));
    store.record_last_used(&[(a.id, at(40))]).await.unwrap();
    assert_eq!(last(a.id).await, Some(at(50)), "never backwards");
    store.record_last_used(&[(a.id, at(50))]).await.unwrap();
    assert_eq!(last(a.id).await, Some(at(50)));

    // One batch: several tokens, a token twice (the later use wins whatever the order), and a
    // token that no longer exists (skipped).
    store
        .record_last_used(&[
            (a.id, at(70)),
            (b.id, at(30)),
            (TokenId(b.id.0 + 1000), at(30)),
            (a.id, at(60)),
        ])
        .await
        .unwrap();
    assert_eq!(last(a.id).await, Some(at(70)));
    assert_eq!(last(b.id).await, Some(at(30)));
    // Nothing else of the token moved.
    let mut want = a.clone();
    want.last_used_at = Some(at(70));
    assert_eq!(store.token_by_id(a.id).await.unwrap(), Some(want));
}

/// A flush pairs each token with its own time, however many it carries: the engines join the
/// ids and the times by position, and a join that mixed them up would hand one token another's
/// time.
pub async fn record_last_used_gives_each_token_its_own_time(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let mut tokens = Vec::new();
    for i in 0..40 {
        let name = format!("t{i}");
        let t = if i % 2 == 0 {
            insert(store, &fine_grained(mona.id, &name, at(1))).await
        } else {
            insert(store, &classic(mona.id, &name, at(1), "repo")).await
        };
        tokens.push(t.id);
    }
    // Times falling as ids rise, so neither order lines them up by accident; given newest
    // first, so the batch is not in id order either.
    let uses: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, at(1000 - i as i64)))
        .rev()
        .collect();
    store.record_last_used(&uses).await.unwrap();
    for (i, id) in tokens.iter().enumerate() {
        assert_eq!(
            store.token_by_id(*id).await.unwrap().unwrap().last_used_at,
            Some(at(1000 - i as i64)),
            "token {i}"
        );
    }
}

pub async fn keys_round_trip(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let bob = user(store, "bob").await;
    let r = repo(store, mona.id, "site").await;
    let t = insert(store, &fine_grained(mona.id, "t", at(1))).await;
    let new = key("laptop", None, mona.id, Some(t.id));
    let k = store.insert_key(&new).await.unwrap();
    assert_eq!(
        (
            k.title.as_str(),
            k.key.as_str(),
            k.repo,
            k.user,
            k.read_only,
            k.created_by_token,
            k.created_at
        ),
        (
            new.title.as_str(),
            new.key.as_str(),
            None,
            mona.id,
            false,
            Some(t.id),
            at(3)
        )
    );
    let deploy = store
        .insert_key(&key("ci", Some(r.id), mona.id, None))
        .await
        .unwrap();
    assert!(deploy.read_only);
    let theirs = store
        .insert_key(&key("desk", None, bob.id, None))
        .await
        .unwrap();
    assert_eq!(store.key_by_id(k.id).await.unwrap(), Some(k.clone()));
    assert_eq!(store.user_keys(mona.id).await.unwrap(), vec![k.clone()]);
    assert_eq!(store.user_keys(bob.id).await.unwrap(), vec![theirs]);
    assert_eq!(store.deploy_keys(r.id).await.unwrap(), vec![deploy.clone()]);
    assert!(store.delete_key(deploy.id).await.unwrap());
    assert!(!store.delete_key(deploy.id).await.unwrap());
    assert_eq!(store.key_by_id(deploy.id).await.unwrap(), None);
    assert!(store.deploy_keys(r.id).await.unwrap().is_empty());
    assert_eq!(store.key_by_id(KeyId(k.id.0 + 1000)).await.unwrap(), None);
}

pub async fn a_key_is_stored_once_as_a_user_key_or_a_deploy_key(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let bob = user(store, "bob").await;
    let r = repo(store, mona.id, "site").await;
    let mine = key("laptop", None, mona.id, None);
    store.insert_key(&mine).await.unwrap();
    let again = |repo, user, comment: &str| NewKey {
        key: format!("{} {comment}", mine.key),
        ..key("laptop", repo, user, None)
    };
    // Not for another user, not as a deploy key, not with another comment.
    for attempt in [
        again(None, bob.id, "bob@desk"),
        again(Some(r.id), mona.id, ""),
        again(None, mona.id, "mona@other"),
    ] {
        assert!(
            matches!(
                store.insert_key(&attempt).await,
                Err(StoreError::UniqueViolation(_))
            ),
            "{attempt:?}"
        );
    }
    // A deploy key is in use for user keys too.
    let deploy = store
        .insert_key(&key("ci", Some(r.id), mona.id, None))
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_key(&NewKey {
                key: format!("{} bob@x", deploy.key),
                ..key("ci", None, bob.id, None)
            })
            .await,
        Err(StoreError::UniqueViolation(_))
    ));
    // Once deleted, it may be added again.
    store.delete_key(deploy.id).await.unwrap();
    store
        .insert_key(&key("ci", None, bob.id, None))
        .await
        .unwrap();
    // Concurrent insertions of one new key: exactly one wins.
    let (for_mona, for_bob) = (
        key("fresh", None, mona.id, None),
        key("fresh", None, bob.id, None),
    );
    let (a, b) = tokio::join!(store.insert_key(&for_mona), store.insert_key(&for_bob));
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{a:?} {b:?}"
    );
}
