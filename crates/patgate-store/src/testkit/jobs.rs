//! Scheduled jobs (claims, unused tokens) and the dump (export, import).

use patgate_domain::catalog::{Level, OrgRole, Permission, RepoRole};
use patgate_domain::model::{
    AccountId, AccountKind, GrantState, RepositorySelection, TokenAccess, TokenGrant, TokenId,
    Visibility,
};
use patgate_domain::policy::{Access, Approval, PolicySettings};

use super::{
    DAY, RequestDecision, access, app_installation, at, classic, decide_requests, event,
    fine_grained, hash, insert, org, update_token_requesting, user,
};
use crate::{NewAuditEvent, NewKey, NewToken, NewUser, RequestStatus, Store, StoreError};

pub async fn claim_job_run_is_won_once_per_period(store: &dyn Store) {
    let job = "remove_unused_tokens";
    assert_eq!(store.job_run_holder(job, "2026-11-21").await.unwrap(), None);
    assert!(
        store
            .claim_job_run(job, "2026-11-21", "replica-a", at(0))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_job_run(job, "2026-11-21", "replica-b", at(1))
            .await
            .unwrap(),
        "a second caller must lose"
    );
    assert!(
        !store
            .claim_job_run(job, "2026-11-21", "replica-a", at(2))
            .await
            .unwrap(),
        "even the holder claims a run once"
    );
    assert_eq!(
        store.job_run_holder(job, "2026-11-21").await.unwrap(),
        Some("replica-a".to_owned())
    );
    // Another period, another job: free.
    assert!(
        store
            .claim_job_run(job, "2026-11-22", "replica-b", at(DAY))
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_job_run("daily_digest", "2026-11-21", "replica-b", at(3))
            .await
            .unwrap()
    );
    assert_eq!(
        store.job_run_holder(job, "2026-11-22").await.unwrap(),
        Some("replica-b".to_owned())
    );
    assert_eq!(
        store
            .job_run_holder("daily_digest", "2026-11-22")
            .await
            .unwrap(),
        None
    );
}

pub async fn tokens_unused_since_finds_old_unused_personal_tokens(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let acme = org(store, "acme").await;
    let year = 365 * DAY;
    let now = year + 10 * DAY;
    let cutoff = at(now - year);
    // Old, used recently: kept.
    let used = insert(store, &fine_grained(mona.id, "used", at(0))).await;
    // Old, used long ago: listed.
    let stale = insert(store, &classic(mona.id, "stale", at(0), "repo")).await;
    // Old, never used: listed.
    let never = insert(store, &fine_grained(mona.id, "never", at(1))).await;
    // Recent, never used: kept.
    let fresh = insert(store, &fine_grained(mona.id, "fresh", at(now - DAY))).await;
    // Old and unused, but an app installation token: not a personal token.
    let app = insert(store, &app_installation(acme.id, acme.id, "app", at(0))).await;
    // Used exactly at the cutoff: used "since".
    let edge = insert(store, &classic(mona.id, "edge", at(2), "gist")).await;
    // Old, used long ago, regenerated recently: its current secret is new.
    let regenerated = insert(store, &classic(mona.id, "regen", at(3), "gist")).await;
    store
        .record_last_used(&[
            (used.id, at(now - 5 * DAY)),
            (stale.id, at(DAY)),
            (app.id, at(DAY)),
            (edge.id, cutoff),
            (regenerated.id, at(DAY)),
        ])
        .await
        .unwrap();
    store
        .regenerate_token(
            regenerated.id,
            &hash("regen-2"),
            "regen--2",
            at(now - 2 * DAY),
            None,
            &[],
        )
        .await
        .unwrap();

    let found = store.tokens_unused_since(cutoff).await.unwrap();
    assert_eq!(found, vec![stale.id, never.id]);
    assert!(!found.contains(&fresh.id));
    // Nothing is that old.
    assert!(store.tokens_unused_since(at(0)).await.unwrap().is_empty());
}

/// Fills `store` with at least one row of every table.
async fn populate(store: &dyn Store) -> (TokenId, TokenId) {
    let policy = PolicySettings {
        fine_grained: Some(Access::Restrict),
        classic: Some(Access::Allow),
        approval: Some(Approval::Require),
        fine_grained_max_lifetime_days: Some(90),
        classic_max_lifetime_days: None,
        exempt_administrators: true,
    };
    let (ent, _) = store.upsert_enterprise("Octo-Corp", &policy).await.unwrap();
    let mona = store
        .upsert_user(
            &NewUser {
                password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
                site_admin: true,
                ..super::new_user("Mona")
            },
            at(1),
        )
        .await
        .unwrap()
        .0;
    assert!(
        store
            .set_enterprise_owner(ent.id, mona.id, true)
            .await
            .unwrap()
    );
    store
        .insert_webhook(&crate::NewWebhook {
            org: acme_for_hooks(store).await,
            url: "https://hooks.example.com/".into(),
            secret: Some("hook-secret".into()),
            events: vec!["personal_access_token_request".into()],
            active: true,
            created_at: at(1),
            created_by: Some(mona.id),
        })
        .await
        .unwrap();
    let hubot = store
        .upsert_user(
            &NewUser {
                email_verified: false,
                ..super::new_user("hubot")
            },
            at(2),
        )
        .await
        .unwrap()
        .0;
    let (octo, _) = store
        .upsert_org("Octo", Some(ent.id), RepoRole::Write, at(3))
        .await
        .unwrap();
    store
        .upsert_org_policy(
            octo.id,
            &PolicySettings {
                fine_grained: Some(Access::Allow),
                classic_max_lifetime_days: Some(30),
                ..PolicySettings::default()
            },
        )
        .await
        .unwrap();
    store
        .upsert_membership(octo.id, mona.id, OrgRole::Owner)
        .await
        .unwrap();
    store
        .upsert_membership(octo.id, hubot.id, OrgRole::Member)
        .await
        .unwrap();
    let (public, _) = store
        .upsert_repo(octo.id, "Website", Visibility::Public, Some("www"), at(4))
        .await
        .unwrap();
    store
        .upsert_collaborator(public.id, hubot.id, RepoRole::Maintain)
        .await
        .unwrap();

    let (private, _) = store
        .upsert_repo(octo.id, "Api", Visibility::Private, None, at(4))
        .await
        .unwrap();
    let requested = access(
        RepositorySelection::Subset,
        &[private.id, public.id],
        &[
            (Permission::CONTENTS, Level::Write),
            (Permission::METADATA, Level::Read),
        ],
    );
    let granted = access(
        RepositorySelection::Subset,
        &[public.id],
        &[(Permission::CONTENTS, Level::Read)],
    );
    let org_token = NewToken {
        justification: Some("release automation".into()),
        grant: TokenGrant::FineGrained {
            resource_owner: octo.id,
            resource_owner_kind: AccountKind::Organization,
            requested,
            granted: Some(granted),
            state: GrantState::Approved,
        },
        ..fine_grained(mona.id, "org-token", at(100))
    };
    let fg = store
        .insert_token(
            &org_token,
            &[NewAuditEvent {
                actor: Some(mona.id),
                actor_login: Some("mona".into()),
                org: Some(octo.id),
                data: serde_json::json!({ "nested": { "list": [1, 2, 3] }, "flag": true }),
                ..event("personal_access_token.request_created", at(100))
            }],
        )
        .await
        .unwrap();
    let cl = insert(
        store,
        &classic(hubot.id, "hubot-classic", at(5), "repo,gist"),
    )
    .await;
    let app = insert(store, &app_installation(octo.id, octo.id, "inst", at(6))).await;
    store
        .record_last_used(&[(cl.id, at(50)), (app.id, at(60))])
        .await
        .unwrap();
    store
        .insert_key(&NewKey {
            title: "laptop".into(),
            key: "ssh-ed25519 AAAAlaptop".into(),
            repo: None,
            user: mona.id,
            read_only: false,
            created_by_token: None,
            created_at: at(7),
        })
        .await
        .unwrap();
    store
        .insert_key(&NewKey {
            title: "deploy".into(),
            key: "ssh-ed25519 AAAAdeploy".into(),
            repo: Some(public.id),
            user: mona.id,
            read_only: true,
            created_by_token: Some(fg.id),
            created_at: at(8),
        })
        .await
        .unwrap();
    // Governance: a request decided, one pending (asking for repositories), an app.
    let asks = insert(
        store,
        &NewToken {
            justification: Some("triage".into()),
            grant: TokenGrant::FineGrained {
                resource_owner: octo.id,
                resource_owner_kind: AccountKind::Organization,
                requested: access(
                    RepositorySelection::All,
                    &[],
                    &[(Permission::ISSUES, Level::Write)],
                ),
                granted: None,
                state: GrantState::Pending,
            },
            ..fine_grained(hubot.id, "hubot-asks", at(8))
        },
    )
    .await;
    let asked = store
        .pending_request_of_token(asks.id)
        .await
        .unwrap()
        .unwrap();
    let TokenGrant::FineGrained {
        requested, granted, ..
    } = &asks.grant
    else {
        unreachable!()
    };
    decide_requests(
        store,
        &[RequestDecision {
            request: asked.id,
            token: asks.id,
            status: RequestStatus::Denied,
            grant: TokenGrant::FineGrained {
                resource_owner: octo.id,
                resource_owner_kind: AccountKind::Organization,
                requested: requested.clone(),
                granted: granted.clone(),
                state: GrantState::Denied,
            },
        }],
        Some(mona.id),
        Some("not now"),
        at(8),
        &[],
    )
    .await
    .unwrap();
    let TokenGrant::FineGrained { granted, .. } = &fg.grant else {
        unreachable!()
    };
    update_token_requesting(
        store,
        fg.id,
        Some("asks for more"),
        &TokenGrant::FineGrained {
            resource_owner: octo.id,
            resource_owner_kind: AccountKind::Organization,
            requested: access(
                RepositorySelection::Subset,
                &[private.id, public.id],
                &[
                    (Permission::CONTENTS, Level::Write),
                    (Permission::ISSUES, Level::Read),
                    (Permission::METADATA, Level::Read),
                ],
            ),
            granted: granted.clone(),
            state: GrantState::Approved,
        },
        Some("issues too"),
        at(8),
        &[],
    )
    .await
    .unwrap();
    store
        .insert_app(
            octo.id,
            "Reviewer",
            &super::perms(&[(
                Permission::ORGANIZATION_PERSONAL_ACCESS_TOKEN_REQUESTS,
                Level::Write,
            )]),
            Some(mona.id),
            at(8),
            &[],
        )
        .await
        .unwrap();
    // The newest token is deleted: its id is only mentioned by the audit log.
    let doomed = insert(store, &fine_grained(mona.id, "doomed", at(9))).await;
    store
        .delete_token(doomed.id, &[event("personal_access_token.destroy", at(10))])
        .await
        .unwrap();
    store
        .append_audit(&event("org.update_member", at(11)))
        .await
        .unwrap();
    store
        .claim_job_run("remove_unused_tokens", "2023-11-14", "replica-a", at(12))
        .await
        .unwrap();
    (fg.id, doomed.id)
}

pub async fn export_then_import_round_trips_everything(source: &dyn Store, target: &dyn Store) {
    let (fg, doomed) = populate(source).await;
    let dump = source.export_dump().await.unwrap();
    assert!(!dump.enterprises.is_empty());
    assert!(!dump.org_policies.is_empty());
    assert!(!dump.memberships.is_empty());
    assert_eq!(dump.enterprise_owners.len(), 1);
    assert_eq!(dump.webhooks.len(), 1);
    assert!(!dump.collaborators.is_empty());
    assert!(!dump.token_repositories.is_empty());
    assert_eq!(dump.tokens.len(), 4);
    assert_eq!(dump.token_requests.len(), 2);
    assert!(!dump.request_repositories.is_empty());
    assert_eq!(dump.grants.len(), 1);
    assert_eq!(dump.apps.len(), 1);
    assert_eq!(dump.keys.len(), 2);
    assert_eq!(dump.job_runs.len(), 1);
    assert!(dump.audit_events.len() >= 3);
    assert!(dump.accounts.iter().any(|a| {
        a.password_hash
            .as_deref()
            .is_some_and(|h| h.starts_with("$argon2id$"))
    }));

    target.import_dump(&dump).await.unwrap();
    assert_eq!(target.export_dump().await.unwrap(), dump);

    // The data means the same through the traits.
    for t in &dump.tokens {
        let h = patgate_domain::token::TokenHash(t.hash.as_slice().try_into().unwrap());
        let there = source.token_by_hash(&h).await.unwrap().unwrap();
        assert_eq!(target.token_by_hash(&h).await.unwrap(), Some(there));
    }
    assert_eq!(
        target.token_by_id(fg).await.unwrap(),
        source.token_by_id(fg).await.unwrap()
    );
    let mona = target.user_by_login("mona").await.unwrap().unwrap();
    assert_eq!(
        target.user_password_hash(mona.id).await.unwrap(),
        source.user_password_hash(mona.id).await.unwrap()
    );
    assert_eq!(
        target.list_orgs().await.unwrap(),
        source.list_orgs().await.unwrap()
    );
    let octo = target.org_by_login("octo").await.unwrap().unwrap();
    assert_eq!(
        target.org_policy(octo.id).await.unwrap(),
        source.org_policy(octo.id).await.unwrap()
    );
    assert_eq!(
        target.org_members(octo.id).await.unwrap(),
        source.org_members(octo.id).await.unwrap()
    );
    let ent = target
        .enterprise_by_slug("octo-corp")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        target.enterprise_policy(ent.id).await.unwrap(),
        source.enterprise_policy(ent.id).await.unwrap()
    );
    assert_eq!(
        target
            .job_run_holder("remove_unused_tokens", "2023-11-14")
            .await
            .unwrap(),
        Some("replica-a".to_owned())
    );
    // Case-insensitive lookups work on the imported rows (the folded copies were rebuilt).
    assert!(
        target
            .repo_by_name("OCTO", "website")
            .await
            .unwrap()
            .is_some()
    );

    let octo_requests = target.requests_of_org(octo.id, None).await.unwrap();
    assert_eq!(
        octo_requests,
        source.requests_of_org(octo.id, None).await.unwrap()
    );
    assert_eq!(octo_requests.len(), 2);
    assert_eq!(
        target.grants_of_org(octo.id).await.unwrap(),
        source.grants_of_org(octo.id).await.unwrap()
    );
    assert_eq!(
        target.apps_of_org(octo.id).await.unwrap(),
        source.apps_of_org(octo.id).await.unwrap()
    );

    // New rows get fresh ids: past every imported id, and past the deleted token the audit
    // log still mentions.
    let max_account = dump.accounts.iter().map(|a| a.id).max().unwrap();
    let newcomer = user(target, "newcomer").await;
    assert!(newcomer.id.0 > max_account);
    let t = insert(target, &fine_grained(newcomer.id, "after-import", at(20))).await;
    assert!(t.id.0 > doomed.0, "{} must be past {}", t.id, doomed);
    let app = target
        .insert_app(octo.id, "Another", &super::perms(&[]), None, at(20), &[])
        .await
        .unwrap();
    assert!(dump.apps.iter().all(|x| x.id < app.id.0));
    let approved = access(
        RepositorySelection::All,
        &[],
        &[(Permission::ISSUES, Level::Read)],
    );
    let org_grant = |state: GrantState, granted: Option<TokenAccess>| TokenGrant::FineGrained {
        resource_owner: octo.id,
        resource_owner_kind: AccountKind::Organization,
        requested: approved.clone(),
        granted,
        state,
    };
    let asking = insert(
        target,
        &NewToken {
            grant: org_grant(GrantState::Pending, None),
            ..fine_grained(newcomer.id, "asks-after-import", at(20))
        },
    )
    .await;
    let request = target
        .pending_request_of_token(asking.id)
        .await
        .unwrap()
        .unwrap();
    assert!(dump.token_requests.iter().all(|x| x.id < request.id.0));
    decide_requests(
        target,
        &[RequestDecision {
            request: request.id,
            token: asking.id,
            status: RequestStatus::Approved,
            grant: org_grant(GrantState::Approved, Some(approved.clone())),
        }],
        None,
        None,
        at(21),
        &[],
    )
    .await
    .unwrap();
    let grant = target.grant_of_token(asking.id).await.unwrap().unwrap();
    assert!(dump.grants.iter().all(|x| x.id < grant.id.0));
    let r = super::repo(target, newcomer.id, "new").await;
    assert!(dump.repositories.iter().all(|x| x.id < r.id.0));
    let k = target
        .insert_key(&NewKey {
            title: "new".into(),
            key: "ssh-ed25519 AAAAnew".into(),
            repo: None,
            user: newcomer.id,
            read_only: false,
            created_by_token: None,
            created_at: at(21),
        })
        .await
        .unwrap();
    assert!(dump.keys.iter().all(|x| x.id < k.id.0));
    let (e2, _) = target
        .upsert_enterprise("second", &PolicySettings::default())
        .await
        .unwrap();
    assert!(dump.enterprises.iter().all(|x| x.id < e2.id.0));
    target
        .append_audit(&event("after.import", at(22)))
        .await
        .unwrap();
    let newest = target.export_dump().await.unwrap().audit_events;
    assert_eq!(newest.len(), dump.audit_events.len() + 1);
    assert!(newest.last().unwrap().id > dump.audit_events.last().unwrap().id);
}

pub async fn import_refuses_a_database_that_holds_accounts(store: &dyn Store) {
    populate(store).await;
    let dump = store.export_dump().await.unwrap();
    assert!(matches!(
        store.import_dump(&dump).await,
        Err(StoreError::Conflict(_))
    ));
    // Nothing was written.
    assert_eq!(store.export_dump().await.unwrap(), dump);
}

pub async fn import_is_all_or_nothing(store: &dyn Store) {
    let source_user = patgate_store_dump_user(1, "mona");
    let dump = crate::dump::Dump {
        accounts: vec![source_user],
        // A membership of an organization that is not in the dump.
        memberships: vec![crate::dump::MembershipRow {
            org_id: 99,
            user_id: 1,
            role: "member".into(),
        }],
        ..crate::dump::Dump::default()
    };
    let err = store.import_dump(&dump).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "a dangling reference is a Conflict, got {err:?}"
    );
    assert_eq!(store.user_by_login("mona").await.unwrap(), None);
    assert_eq!(
        store.export_dump().await.unwrap(),
        crate::dump::Dump::default()
    );
    // An empty dump imports into an empty database.
    store
        .import_dump(&crate::dump::Dump::default())
        .await
        .unwrap();
    assert_eq!(
        store.user_by_id(AccountId(1)).await.unwrap(),
        None,
        "nothing imported"
    );
}

fn patgate_store_dump_user(id: i64, login: &str) -> crate::dump::AccountRow {
    crate::dump::AccountRow {
        id,
        kind: "user".into(),
        login: login.into(),
        created_at: super::T0,
        email: Some(format!("{login}@example.com")),
        email_verified: true,
        site_admin: false,
        password_hash: None,
        enterprise_id: None,
        base_permission: None,
    }
}

/// An organization for the dump's webhook.
async fn acme_for_hooks(store: &dyn Store) -> patgate_domain::model::AccountId {
    super::org(store, "hooked").await.id
}

pub async fn tokens_expiring_between_lists_personal_tokens_by_expiry(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let acme = org(store, "acme").await;
    let expiring = |seed: &str, days: i64| NewToken {
        expires_at: Some(at(days * DAY)),
        ..fine_grained(mona.id, seed, at(0))
    };
    let later = insert(store, &expiring("later", 7)).await;
    let sooner = insert(store, &expiring("sooner", 3)).await;
    let edge = insert(store, &expiring("edge", 1)).await;
    insert(store, &expiring("past", 10)).await;
    insert(
        store,
        &NewToken {
            expires_at: None,
            ..fine_grained(mona.id, "never", at(0))
        },
    )
    .await;
    let mut app = app_installation(acme.id, acme.id, "app", at(0));
    app.expires_at = Some(at(2 * DAY));
    insert(store, &app).await;
    let ids: Vec<TokenId> = store
        .tokens_expiring_between(at(DAY), at(7 * DAY))
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    // `after` is exclusive, `until` inclusive; app installation tokens are not listed.
    assert_eq!(ids, vec![sooner.id, later.id]);
    assert!(!ids.contains(&edge.id));
}

pub async fn orgs_with_pending_requests_are_listed_once(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let acme = org(store, "acme").await;
    let quiet = org(store, "quiet").await;
    let globex = org(store, "globex").await;
    let asking = |seed: &str, owner: AccountId, state: GrantState| NewToken {
        grant: TokenGrant::FineGrained {
            resource_owner: owner,
            resource_owner_kind: AccountKind::Organization,
            requested: access(
                RepositorySelection::All,
                &[],
                &[(Permission::ISSUES, Level::Read)],
            ),
            granted: None,
            state,
        },
        ..fine_grained(mona.id, seed, at(0))
    };
    insert(store, &asking("a1", acme.id, GrantState::Pending)).await;
    insert(store, &asking("a2", acme.id, GrantState::Pending)).await;
    insert(store, &asking("g1", globex.id, GrantState::Pending)).await;
    insert(store, &asking("q1", quiet.id, GrantState::Denied)).await;
    let mut expected = vec![acme.id, globex.id];
    expected.sort();
    assert_eq!(store.orgs_with_pending_requests().await.unwrap(), expected);
}
