//! `DirectoryAdmin`: batches of directory changes by name, in one transaction with the token
//! changes that go with them; suspensions; collaborators listed.

use patgate_domain::catalog::{Level, OrgRole, Permission, RepoRole};
use patgate_domain::governance as rules;
use patgate_domain::model::{
    AccountKind, GrantState, RepositorySelection, TokenAccess, TokenGrant, Visibility,
};
use patgate_domain::session::SessionSecret;

use super::{access, at, event, fine_grained, insert, new_user, user};
use crate::{
    AuditQuery, DirectoryBatch, DirectoryChange, DirectoryOp, NewSession, OpOutcome, Store,
    StoreError,
};

fn op(change: DirectoryChange, action: &str) -> DirectoryOp {
    DirectoryOp {
        change,
        audit: Some(event(action, at(5))),
    }
}

fn batch(ops: Vec<DirectoryOp>) -> DirectoryBatch {
    DirectoryBatch {
        at: at(5),
        ops,
        governance: rules::Changes::default(),
        outbox: Vec::new(),
        dry_run: false,
    }
}

fn set_member(org: &str, login: &str, role: OrgRole) -> DirectoryOp {
    op(
        DirectoryChange::SetMembership {
            org: org.into(),
            user: login.into(),
            role,
        },
        "org.add_member",
    )
}

fn create_org(login: &str) -> DirectoryOp {
    op(
        DirectoryChange::CreateOrg {
            login: login.into(),
            base_permission: RepoRole::Read,
        },
        "org.create",
    )
}

fn create_repo(owner: &str, name: &str, visibility: Visibility) -> DirectoryOp {
    op(
        DirectoryChange::CreateRepo {
            owner: owner.into(),
            name: name.into(),
            visibility,
            description: None,
        },
        "repo.create",
    )
}

async fn audit_actions(store: &dyn Store) -> Vec<String> {
    let mut events = store
        .audit_events(&AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    events.reverse();
    events.into_iter().map(|e| e.action).collect()
}

pub async fn a_directory_batch_refers_to_what_it_creates_and_audits_only_changes(
    store: &dyn Store,
) {
    let ops = || {
        vec![
            op(DirectoryChange::UpsertUser(new_user("mona")), "user.create"),
            create_org("acme"),
            set_member("acme", "mona", OrgRole::Member),
            create_repo("acme", "api", Visibility::Private),
            op(
                DirectoryChange::SetCollaborator {
                    owner: "acme".into(),
                    name: "api".into(),
                    user: "mona".into(),
                    role: RepoRole::Write,
                },
                "repo.add_member",
            ),
        ]
    };
    let outcomes = store.apply_directory(&batch(ops())).await.unwrap();
    assert_eq!(outcomes, vec![OpOutcome::Created; 5]);
    let acme = store.org_by_login("acme").await.unwrap().unwrap();
    let mona = store.user_by_login("mona").await.unwrap().unwrap();
    assert_eq!(acme.created_at, at(5), "created at the batch's time");
    assert_eq!(
        store.membership(acme.id, mona.id).await.unwrap(),
        Some(OrgRole::Member)
    );
    let api = store.repo_by_name("acme", "api").await.unwrap().unwrap();
    assert_eq!(
        store.collaborators(api.id).await.unwrap(),
        vec![(mona.clone(), RepoRole::Write)]
    );
    let events = store
        .audit_events(&AuditQuery {
            org: Some(acme.id),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        events.len(),
        4,
        "the organization's changes are in its log: {events:?}"
    );
    // The same changes again (upserts): nothing changes, nothing is audited. Creating what
    // exists is refused.
    let again = vec![
        op(DirectoryChange::UpsertUser(new_user("mona")), "user.update"),
        set_member("acme", "mona", OrgRole::Member),
    ];
    assert_eq!(
        store.apply_directory(&batch(again)).await.unwrap(),
        vec![OpOutcome::Unchanged; 2]
    );
    assert_eq!(audit_actions(store).await.len(), 5);
    assert!(matches!(
        store
            .apply_directory(&batch(vec![create_org("ACME")]))
            .await,
        Err(StoreError::UniqueViolation(_))
    ));
}

pub async fn a_directory_batch_is_all_or_nothing(store: &dyn Store) {
    let refused = store
        .apply_directory(&batch(vec![
            op(DirectoryChange::UpsertUser(new_user("mona")), "user.create"),
            create_org("acme"),
            set_member("acme", "ghost", OrgRole::Member),
        ]))
        .await;
    match refused {
        Err(StoreError::Missing(what)) => assert_eq!(what, "user ghost"),
        other => panic!("expected Missing, got {other:?}"),
    }
    assert_eq!(store.user_by_login("mona").await.unwrap(), None);
    assert_eq!(store.org_by_login("acme").await.unwrap(), None);
    assert!(audit_actions(store).await.is_empty());
    // A user where an organization is expected is missing too.
    user(store, "bob").await;
    assert!(matches!(
        store
            .apply_directory(&batch(vec![set_member("bob", "bob", OrgRole::Member)]))
            .await,
        Err(StoreError::Missing(_))
    ));
}

pub async fn a_dry_run_reports_and_changes_nothing(store: &dyn Store) {
    let mut dry = batch(vec![
        op(DirectoryChange::UpsertUser(new_user("mona")), "user.create"),
        create_org("acme"),
    ]);
    dry.dry_run = true;
    assert_eq!(
        store.apply_directory(&dry).await.unwrap(),
        vec![OpOutcome::Created; 2]
    );
    assert_eq!(store.user_by_login("mona").await.unwrap(), None);
    assert!(audit_actions(store).await.is_empty());
}

pub async fn accounts_are_renamed_and_a_taken_login_is_refused(store: &dyn Store) {
    let mona = user(store, "mona").await;
    user(store, "bob").await;
    let rename = |login: &str, new_login: &str| {
        batch(vec![op(
            DirectoryChange::RenameAccount {
                login: login.into(),
                new_login: new_login.into(),
            },
            "user.rename",
        )])
    };
    assert_eq!(
        store
            .apply_directory(&rename("mona", "octo-mona"))
            .await
            .unwrap(),
        vec![OpOutcome::Updated]
    );
    let renamed = store.user_by_login("OCTO-MONA").await.unwrap().unwrap();
    assert_eq!((renamed.id, renamed.login.as_str()), (mona.id, "octo-mona"));
    assert_eq!(store.user_by_login("mona").await.unwrap(), None);
    assert!(matches!(
        store.apply_directory(&rename("octo-mona", "Bob")).await,
        Err(StoreError::UniqueViolation(_))
    ));
    // Another spelling of one's own login is a rename too.
    assert_eq!(
        store
            .apply_directory(&rename("octo-mona", "Octo-Mona"))
            .await
            .unwrap(),
        vec![OpOutcome::Updated]
    );
}

pub async fn suspending_a_user_is_recorded_ends_their_sessions_and_is_lifted(store: &dyn Store) {
    let mona = user(store, "mona").await;
    store
        .insert_session(
            &NewSession {
                hash: SessionSecret::generate().hash(),
                user: mona.id,
                created_at: at(0),
                expires_at: at(1_000),
                user_agent: None,
                ip: None,
            },
            None,
        )
        .await
        .unwrap();
    let suspend = |at_: Option<time::OffsetDateTime>| {
        batch(vec![op(
            DirectoryChange::SetSuspended {
                login: "mona".into(),
                suspended_at: at_,
            },
            "user.suspend",
        )])
    };
    assert_eq!(store.user_suspended_at(mona.id).await.unwrap(), None);
    assert_eq!(
        store.apply_directory(&suspend(Some(at(7)))).await.unwrap(),
        vec![OpOutcome::Updated]
    );
    assert_eq!(store.user_suspended_at(mona.id).await.unwrap(), Some(at(7)));
    assert!(store.sessions_of_user(mona.id).await.unwrap().is_empty());
    assert_eq!(
        store.apply_directory(&suspend(Some(at(8)))).await.unwrap(),
        vec![OpOutcome::Unchanged],
        "already suspended: kept since the first time"
    );
    assert_eq!(store.user_suspended_at(mona.id).await.unwrap(), Some(at(7)));
    assert_eq!(
        store.apply_directory(&suspend(None)).await.unwrap(),
        vec![OpOutcome::Updated]
    );
    assert_eq!(store.user_suspended_at(mona.id).await.unwrap(), None);
}

pub async fn deleting_a_user_deletes_everything_theirs(store: &dyn Store) {
    let mona = user(store, "mona").await;
    let token = insert(store, &fine_grained(mona.id, "mona", at(1))).await;
    store
        .apply_directory(&batch(vec![
            create_org("acme"),
            set_member("acme", "mona", OrgRole::Owner),
            create_repo("mona", "notes", Visibility::Private),
        ]))
        .await
        .unwrap();
    let delete = batch(vec![op(
        DirectoryChange::DeleteUser {
            login: "mona".into(),
        },
        "user.destroy",
    )]);
    assert_eq!(
        store.apply_directory(&delete).await.unwrap(),
        vec![OpOutcome::Removed]
    );
    assert_eq!(store.user_by_id(mona.id).await.unwrap(), None);
    assert_eq!(store.token_by_id(token.id).await.unwrap(), None);
    assert_eq!(store.repo_by_name("mona", "notes").await.unwrap(), None);
    let acme = store.org_by_login("acme").await.unwrap().unwrap();
    assert!(store.org_members(acme.id).await.unwrap().is_empty());
    assert_eq!(
        store.apply_directory(&delete).await.unwrap(),
        vec![OpOutcome::Absent]
    );
    assert!(
        audit_actions(store)
            .await
            .contains(&"user.destroy".to_owned()),
        "the audit log outlives the user"
    );
}

pub async fn repositories_are_updated_transferred_and_deleted(store: &dyn Store) {
    let mona = user(store, "mona").await;
    store
        .apply_directory(&batch(vec![
            create_org("acme"),
            create_repo("acme", "api", Visibility::Private),
            create_repo("acme", "web", Visibility::Public),
        ]))
        .await
        .unwrap();
    let api = store.repo_by_name("acme", "api").await.unwrap().unwrap();
    let update = |name: &str, new_name: Option<&str>, visibility| {
        batch(vec![op(
            DirectoryChange::UpdateRepo {
                owner: "acme".into(),
                name: name.into(),
                new_name: new_name.map(str::to_owned),
                visibility,
                description: Some(Some("the API".into())),
            },
            "repo.rename",
        )])
    };
    assert_eq!(
        store
            .apply_directory(&update("api", Some("core"), Some(Visibility::Public)))
            .await
            .unwrap(),
        vec![OpOutcome::Updated]
    );
    let core = store.repo_by_name("acme", "CORE").await.unwrap().unwrap();
    assert_eq!(
        (core.id, core.visibility, core.description.as_deref()),
        (api.id, Visibility::Public, Some("the API"))
    );
    assert_eq!(store.repo_by_name("acme", "api").await.unwrap(), None);
    assert!(matches!(
        store
            .apply_directory(&update("core", Some("web"), None))
            .await,
        Err(StoreError::UniqueViolation(_))
    ));
    assert_eq!(
        store
            .apply_directory(&update("core", None, Some(Visibility::Public)))
            .await
            .unwrap(),
        vec![OpOutcome::Unchanged]
    );
    // A transfer: same id, another owner; tokens lose it from their selections.
    let selected = TokenAccess::new(
        RepositorySelection::Subset,
        vec![core.id],
        super::perms(&[(Permission::CONTENTS, Level::Read)]),
    );
    let org = store.org_by_login("acme").await.unwrap().unwrap();
    store
        .upsert_membership(org.id, mona.id, OrgRole::Member)
        .await
        .unwrap();
    let token = insert(
        store,
        &crate::NewToken {
            grant: TokenGrant::FineGrained {
                resource_owner: org.id,
                resource_owner_kind: AccountKind::Organization,
                requested: selected.clone(),
                granted: Some(selected),
                state: GrantState::Approved,
            },
            ..fine_grained(mona.id, "selecting", at(2))
        },
    )
    .await;
    let transfer = batch(vec![op(
        DirectoryChange::TransferRepo {
            owner: "acme".into(),
            name: "core".into(),
            new_owner: "mona".into(),
            new_name: Some("mine".into()),
        },
        "repo.transfer",
    )]);
    assert_eq!(
        store.apply_directory(&transfer).await.unwrap(),
        vec![OpOutcome::Updated]
    );
    let moved = store.repo_by_name("mona", "mine").await.unwrap().unwrap();
    assert_eq!((moved.id, moved.owner), (core.id, mona.id));
    match store.token_by_id(token.id).await.unwrap().unwrap().grant {
        TokenGrant::FineGrained {
            requested, granted, ..
        } => {
            assert!(!requested.includes_repo(core.id));
            assert!(granted.is_some_and(|g| !g.includes_repo(core.id)));
        }
        other => panic!("{other:?}"),
    }
    let delete = batch(vec![op(
        DirectoryChange::DeleteRepo {
            owner: "mona".into(),
            name: "mine".into(),
        },
        "repo.destroy",
    )]);
    assert_eq!(
        store.apply_directory(&delete).await.unwrap(),
        vec![OpOutcome::Removed]
    );
    assert_eq!(store.repo_by_id(core.id).await.unwrap(), None);
    assert_eq!(
        store.apply_directory(&delete).await.unwrap(),
        vec![OpOutcome::Absent]
    );
}

pub async fn leaving_an_enterprise_makes_internal_repositories_private(store: &dyn Store) {
    store
        .apply_directory(&batch(vec![
            op(
                DirectoryChange::UpsertEnterprise {
                    slug: "corp".into(),
                },
                "business.create",
            ),
            create_org("acme"),
            op(
                DirectoryChange::SetOrgEnterprise {
                    org: "acme".into(),
                    enterprise: Some("corp".into()),
                },
                "business.add_organization",
            ),
            create_repo("acme", "portal", Visibility::Internal),
        ]))
        .await
        .unwrap();
    let corp = store.enterprise_by_slug("corp").await.unwrap().unwrap();
    let acme = store.org_by_login("acme").await.unwrap().unwrap();
    assert_eq!(acme.enterprise, Some(corp.id));
    let leave = batch(vec![op(
        DirectoryChange::SetOrgEnterprise {
            org: "acme".into(),
            enterprise: None,
        },
        "business.remove_organization",
    )]);
    assert_eq!(
        store.apply_directory(&leave).await.unwrap(),
        vec![OpOutcome::Updated]
    );
    assert_eq!(
        store
            .org_by_login("acme")
            .await
            .unwrap()
            .unwrap()
            .enterprise,
        None
    );
    assert_eq!(
        store
            .repo_by_name("acme", "portal")
            .await
            .unwrap()
            .unwrap()
            .visibility,
        Visibility::Private
    );
    assert_eq!(
        store.apply_directory(&leave).await.unwrap(),
        vec![OpOutcome::Unchanged]
    );
}

pub async fn a_member_leaves_with_their_grants_in_one_batch(store: &dyn Store) {
    let mona = user(store, "mona").await;
    store
        .apply_directory(&batch(vec![
            create_org("acme"),
            set_member("acme", "mona", OrgRole::Member),
            create_repo("acme", "api", Visibility::Private),
        ]))
        .await
        .unwrap();
    let acme = store.org_by_login("acme").await.unwrap().unwrap();
    let api = store.repo_by_name("acme", "api").await.unwrap().unwrap();
    let a = access(
        RepositorySelection::Subset,
        &[api.id],
        &[(Permission::CONTENTS, Level::Read)],
    );
    let token = insert(
        store,
        &crate::NewToken {
            grant: TokenGrant::FineGrained {
                resource_owner: acme.id,
                resource_owner_kind: AccountKind::Organization,
                requested: a.clone(),
                granted: Some(a),
                state: GrantState::Approved,
            },
            ..fine_grained(mona.id, "granted", at(2))
        },
    )
    .await;
    let standings = store.standings_in_org(mona.id, acme.id).await.unwrap();
    let leave = DirectoryBatch {
        governance: rules::lose_access(acme.id, mona.id, &standings, at(5)),
        ..batch(vec![op(
            DirectoryChange::RemoveMembership {
                org: "acme".into(),
                user: "mona".into(),
            },
            "org.remove_member",
        )])
    };
    assert_eq!(
        store.apply_directory(&leave).await.unwrap(),
        vec![OpOutcome::Removed],
        "the op removes the membership (and records it), the governance changes the rest"
    );
    assert_eq!(store.membership(acme.id, mona.id).await.unwrap(), None);
    assert!(store.grants_of_org(acme.id).await.unwrap().is_empty());
    assert_eq!(
        store.token_by_id(token.id).await.unwrap().unwrap().grant,
        rules::returned(&token)
    );
    let actions = audit_actions(store).await;
    assert!(actions.ends_with(&[
        "org.remove_member".to_owned(),
        "personal_access_token.access_revoked".to_owned()
    ]));
    // Computed from a standing that no longer holds: the whole batch is refused.
    store
        .upsert_membership(acme.id, mona.id, OrgRole::Member)
        .await
        .unwrap();
    assert!(matches!(
        store.apply_directory(&leave).await,
        Err(StoreError::Conflict(_) | StoreError::Missing(_))
    ));
    assert_eq!(
        store.membership(acme.id, mona.id).await.unwrap(),
        Some(OrgRole::Member),
        "nothing was applied"
    );
}

pub async fn enterprise_owners_change_by_name(store: &dyn Store) {
    user(store, "mona").await;
    let owner = |owner: bool| {
        batch(vec![
            op(
                DirectoryChange::UpsertEnterprise {
                    slug: "corp".into(),
                },
                "business.create",
            ),
            op(
                DirectoryChange::SetEnterpriseOwner {
                    slug: "corp".into(),
                    user: "mona".into(),
                    owner,
                },
                "business.add_admin",
            ),
        ])
    };
    assert_eq!(
        store.apply_directory(&owner(true)).await.unwrap(),
        vec![OpOutcome::Created, OpOutcome::Created]
    );
    assert_eq!(
        store.apply_directory(&owner(true)).await.unwrap(),
        vec![OpOutcome::Unchanged, OpOutcome::Unchanged]
    );
    assert_eq!(
        store.apply_directory(&owner(false)).await.unwrap(),
        vec![OpOutcome::Unchanged, OpOutcome::Removed]
    );
    let corp = store.enterprise_by_slug("corp").await.unwrap().unwrap();
    assert!(store.enterprise_owners(corp.id).await.unwrap().is_empty());
}

/// A suspension travels with a copy to another backend.
pub async fn suspensions_survive_a_copy(first: &dyn Store, second: &dyn Store) {
    let mona = user(first, "mona").await;
    first
        .apply_directory(&batch(vec![op(
            DirectoryChange::SetSuspended {
                login: "mona".into(),
                suspended_at: Some(at(3)),
            },
            "user.suspend",
        )]))
        .await
        .unwrap();
    let dump = first.export_dump().await.unwrap();
    assert_eq!(dump.user_suspensions.len(), 1);
    second.import_dump(&dump).await.unwrap();
    assert_eq!(
        second.user_suspended_at(mona.id).await.unwrap(),
        Some(at(3))
    );
}
