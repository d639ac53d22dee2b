//! Users, organizations, enterprises, policies, memberships, repositories and collaborators.

use patgate_domain::catalog::{OrgRole, RepoRole};
use patgate_domain::model::{AccountId, EnterpriseId, RepoId, Visibility};
use patgate_domain::policy::{Access, Approval, PolicySettings};

use super::{at, event, new_user, org, repo, user};
use crate::{Account, AuditQuery, NewUser, RepoStanding, Store, StoreError, Upserted};

pub async fn ping_and_backend(store: &dyn Store) {
    store.ping().await.unwrap();
    assert!(["sqlite", "postgres"].contains(&store.backend()));
    // Migrating twice is harmless.
    store.migrate().await.unwrap();
}

pub async fn upsert_user_reports_created_unchanged_updated(store: &dyn Store) {
    let mut new = NewUser {
        login: "octocat".into(),
        email: "octocat@example.com".into(),
        email_verified: false,
        site_admin: true,
        password_hash: Some("$argon2id$v=19$one".into()),
    };
    let (created, outcome) = store.upsert_user(&new, at(0)).await.unwrap();
    assert_eq!(outcome, Upserted::Created);
    assert_eq!(created.login, "octocat");
    assert_eq!(created.email, "octocat@example.com");
    assert!(!created.email_verified);
    assert!(created.site_admin);
    assert_eq!(created.created_at, at(0));

    let (again, outcome) = store.upsert_user(&new, at(100)).await.unwrap();
    assert_eq!(outcome, Upserted::Unchanged);
    assert_eq!(
        again, created,
        "an unchanged upsert keeps the row, creation time included"
    );

    for change in 0..4 {
        match change {
            0 => new.email = "cat@example.com".into(),
            1 => new.email_verified = true,
            2 => new.site_admin = false,
            _ => new.password_hash = Some("$argon2id$v=19$two".into()),
        }
        let (updated, outcome) = store.upsert_user(&new, at(200)).await.unwrap();
        assert_eq!(outcome, Upserted::Updated, "change {change}");
        assert_eq!(updated.id, created.id);
        assert_eq!(updated.created_at, at(0));
        assert_eq!(updated.email, new.email);
        assert_eq!(updated.email_verified, new.email_verified);
        assert_eq!(updated.site_admin, new.site_admin);
        let (_, outcome) = store.upsert_user(&new, at(300)).await.unwrap();
        assert_eq!(outcome, Upserted::Unchanged, "change {change} repeated");
    }
    assert_eq!(
        store.user_by_id(created.id).await.unwrap().unwrap().email,
        "cat@example.com"
    );
    assert_eq!(
        store
            .user_password_hash(created.id)
            .await
            .unwrap()
            .as_deref(),
        Some("$argon2id$v=19$two")
    );
}

pub async fn user_logins_are_case_insensitive(store: &dyn Store) {
    let (octo, _) = store
        .upsert_user(&new_user("OctoCat"), at(0))
        .await
        .unwrap();
    for spelling in ["octocat", "OCTOCAT", "OctoCat"] {
        let found = store.user_by_login(spelling).await.unwrap().unwrap();
        assert_eq!(found, octo, "{spelling}");
        assert_eq!(found.login, "OctoCat", "the stored spelling is returned");
    }
    // Another spelling is the same account: same id, new spelling.
    let mut renamed = new_user("octocat");
    renamed.email = octo.email.clone();
    let (same, outcome) = store.upsert_user(&renamed, at(10)).await.unwrap();
    assert_eq!(outcome, Upserted::Updated);
    assert_eq!(same.id, octo.id);
    assert_eq!(same.login, "octocat");
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    assert_eq!(store.user_by_login("octo").await.unwrap(), None);
    assert_eq!(store.user_by_login("").await.unwrap(), None);
    assert_eq!(
        store.user_by_id(AccountId(octo.id.0 + 1000)).await.unwrap(),
        None
    );
}

pub async fn password_hash_is_kept_when_not_given(store: &dyn Store) {
    let u = user(store, "hubot").await;
    assert_eq!(store.user_password_hash(u.id).await.unwrap(), None);
    store
        .set_user_password_hash(u.id, "$argon2id$first")
        .await
        .unwrap();
    assert_eq!(
        store.user_password_hash(u.id).await.unwrap().as_deref(),
        Some("$argon2id$first")
    );
    // An upsert without a hash leaves the stored one alone and reports no change.
    let (_, outcome) = store.upsert_user(&new_user("hubot"), at(5)).await.unwrap();
    assert_eq!(outcome, Upserted::Unchanged);
    assert_eq!(
        store.user_password_hash(u.id).await.unwrap().as_deref(),
        Some("$argon2id$first")
    );
    store
        .set_user_password_hash(u.id, "$argon2id$second")
        .await
        .unwrap();
    assert_eq!(
        store.user_password_hash(u.id).await.unwrap().as_deref(),
        Some("$argon2id$second")
    );
    let unknown = AccountId(u.id.0 + 1000);
    assert!(matches!(
        store.set_user_password_hash(unknown, "x").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.user_password_hash(unknown).await.unwrap(), None);
    // Organizations have no password.
    let o = org(store, "acme").await;
    assert!(matches!(
        store.set_user_password_hash(o.id, "x").await,
        Err(StoreError::NotFound)
    ));
}

pub async fn list_users_is_sorted_by_login(store: &dyn Store) {
    assert!(store.list_users().await.unwrap().is_empty());
    for login in ["mona", "Bob", "alice"] {
        user(store, login).await;
    }
    org(store, "aaa-org").await;
    let logins: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.login)
        .collect();
    assert_eq!(logins, ["alice", "Bob", "mona"]);
}

pub async fn account_by_login_distinguishes_users_and_orgs(store: &dyn Store) {
    let u = user(store, "mona").await;
    let o = org(store, "Acme").await;
    match store.account_by_login("MONA").await.unwrap() {
        Some(Account::User(found)) => assert_eq!(found, u),
        other => panic!("expected the user, got {other:?}"),
    }
    match store.account_by_login("acme").await.unwrap() {
        Some(Account::Organization(found)) => assert_eq!(found, o),
        other => panic!("expected the organization, got {other:?}"),
    }
    assert_eq!(store.account_by_login("nobody").await.unwrap(), None);
    // The typed lookups do not cross kinds.
    assert_eq!(store.user_by_login("acme").await.unwrap(), None);
    assert_eq!(store.user_by_id(o.id).await.unwrap(), None);
    assert_eq!(store.org_by_login("mona").await.unwrap(), None);
    assert_eq!(store.org_by_id(u.id).await.unwrap(), None);
    // One id space.
    assert_ne!(u.id, o.id);
}

pub async fn a_login_belongs_to_one_account(store: &dyn Store) {
    user(store, "mona").await;
    org(store, "acme").await;
    assert!(matches!(
        store.upsert_org("MONA", None, RepoRole::Read, at(1)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.upsert_user(&new_user("Acme"), at(1)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    assert_eq!(store.list_orgs().await.unwrap().len(), 1);
}

fn full_policy() -> PolicySettings {
    PolicySettings {
        fine_grained: Some(Access::Restrict),
        classic: Some(Access::Allow),
        approval: Some(Approval::Disable),
        fine_grained_max_lifetime_days: Some(90),
        classic_max_lifetime_days: Some(366),
        exempt_administrators: true,
    }
}

pub async fn enterprise_upserts_and_policy_round_trip(store: &dyn Store) {
    let policy = PolicySettings {
        approval: Some(Approval::Require),
        ..PolicySettings::default()
    };
    let (ent, outcome) = store.upsert_enterprise("octo-corp", &policy).await.unwrap();
    assert_eq!(outcome, Upserted::Created);
    assert_eq!(ent.slug, "octo-corp");
    let (again, outcome) = store.upsert_enterprise("octo-corp", &policy).await.unwrap();
    assert_eq!((again.clone(), outcome), (ent.clone(), Upserted::Unchanged));
    assert_eq!(store.enterprise_policy(ent.id).await.unwrap(), policy);

    let (changed, outcome) = store
        .upsert_enterprise("octo-corp", &full_policy())
        .await
        .unwrap();
    assert_eq!((changed.id, outcome), (ent.id, Upserted::Updated));
    assert_eq!(
        store.enterprise_policy(ent.id).await.unwrap(),
        full_policy()
    );

    assert_eq!(
        store.enterprise_by_id(ent.id).await.unwrap(),
        Some(ent.clone())
    );
    assert_eq!(
        store.enterprise_by_slug("Octo-Corp").await.unwrap(),
        Some(ent.clone())
    );
    assert_eq!(store.enterprise_by_slug("other").await.unwrap(), None);
    let unknown = EnterpriseId(ent.id.0 + 1000);
    assert_eq!(store.enterprise_by_id(unknown).await.unwrap(), None);
    assert!(matches!(
        store.enterprise_policy(unknown).await,
        Err(StoreError::NotFound)
    ));

    // Setting the policy records its audit row; every field, None included, round-trips.
    let cleared = PolicySettings {
        classic_max_lifetime_days: Some(30),
        ..PolicySettings::default()
    };
    store
        .set_enterprise_policy(ent.id, &cleared, &[event("business.policy_update", at(50))])
        .await
        .unwrap();
    assert_eq!(store.enterprise_policy(ent.id).await.unwrap(), cleared);
    let audit = store
        .audit_events(&AuditQuery {
            action: Some("business.policy_update".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].created_at, at(50));
    assert!(matches!(
        store
            .set_enterprise_policy(unknown, &cleared, &[event("x", at(51))])
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn upsert_org_reports_and_round_trips(store: &dyn Store) {
    let (ent, _) = store
        .upsert_enterprise("corp", &PolicySettings::default())
        .await
        .unwrap();
    let (o, outcome) = store
        .upsert_org("Acme", Some(ent.id), RepoRole::Write, at(5))
        .await
        .unwrap();
    assert_eq!(outcome, Upserted::Created);
    assert_eq!(o.login, "Acme");
    assert_eq!(o.enterprise, Some(ent.id));
    assert_eq!(o.base_permission, RepoRole::Write);
    assert_eq!(o.created_at, at(5));
    let (same, outcome) = store
        .upsert_org("Acme", Some(ent.id), RepoRole::Write, at(9))
        .await
        .unwrap();
    assert_eq!((same, outcome), (o.clone(), Upserted::Unchanged));

    let (moved, outcome) = store
        .upsert_org("acme", None, RepoRole::Write, at(9))
        .await
        .unwrap();
    assert_eq!(outcome, Upserted::Updated);
    assert_eq!(
        (moved.id, moved.enterprise, moved.created_at),
        (o.id, None, at(5))
    );
    assert_eq!(moved.login, "acme");
    let (raised, outcome) = store
        .upsert_org("acme", None, RepoRole::Admin, at(9))
        .await
        .unwrap();
    assert_eq!(outcome, Upserted::Updated);
    assert_eq!(raised.base_permission, RepoRole::Admin);

    assert_eq!(store.org_by_id(o.id).await.unwrap(), Some(raised.clone()));
    assert_eq!(
        store.org_by_login("ACME").await.unwrap(),
        Some(raised.clone())
    );
    org(store, "Zeta").await;
    org(store, "beta").await;
    let logins: Vec<String> = store
        .list_orgs()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.login)
        .collect();
    assert_eq!(logins, ["acme", "beta", "Zeta"]);
}

pub async fn org_policy_round_trips_every_field(store: &dyn Store) {
    let o = org(store, "acme").await;
    assert_eq!(
        store.org_policy(o.id).await.unwrap(),
        PolicySettings::default()
    );

    let settings = [
        full_policy(),
        PolicySettings {
            fine_grained: Some(Access::Allow),
            classic: Some(Access::Restrict),
            approval: Some(Approval::Require),
            fine_grained_max_lifetime_days: Some(1),
            classic_max_lifetime_days: None,
            exempt_administrators: false,
        },
        PolicySettings::default(),
    ];
    for (i, p) in settings.iter().enumerate() {
        let audit = crate::NewAuditEvent {
            org: Some(o.id),
            ..event("org.personal_access_token_policy_update", at(i as i64))
        };
        store
            .set_org_policy(o.id, p, std::slice::from_ref(&audit))
            .await
            .unwrap();
        assert_eq!(&store.org_policy(o.id).await.unwrap(), p, "settings {i}");
    }
    let audit = store
        .audit_events(&AuditQuery {
            org: Some(o.id),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), settings.len());

    // Policies of other organizations are separate; unknown organizations and users have none.
    let other = org(store, "other").await;
    store
        .set_org_policy(other.id, &full_policy(), &[event("x", at(9))])
        .await
        .unwrap();
    assert_eq!(
        store.org_policy(o.id).await.unwrap(),
        PolicySettings::default()
    );
    let u = user(store, "mona").await;
    for id in [u.id, AccountId(other.id.0 + 1000)] {
        assert!(matches!(
            store.org_policy(id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .set_org_policy(id, &full_policy(), &[event("x", at(10))])
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.upsert_org_policy(id, &full_policy()).await,
            Err(StoreError::NotFound)
        ));
    }
}

pub async fn upsert_org_policy_reports_changes(store: &dyn Store) {
    let o = org(store, "acme").await;
    // Nothing set is what a new organization has already.
    assert_eq!(
        store
            .upsert_org_policy(o.id, &PolicySettings::default())
            .await
            .unwrap(),
        Upserted::Unchanged
    );
    assert_eq!(
        store.upsert_org_policy(o.id, &full_policy()).await.unwrap(),
        Upserted::Created
    );
    assert_eq!(
        store.upsert_org_policy(o.id, &full_policy()).await.unwrap(),
        Upserted::Unchanged
    );
    let lower = PolicySettings {
        fine_grained_max_lifetime_days: Some(30),
        ..full_policy()
    };
    assert_eq!(
        store.upsert_org_policy(o.id, &lower).await.unwrap(),
        Upserted::Updated
    );
    assert_eq!(store.org_policy(o.id).await.unwrap(), lower);
    // Seeding writes no audit row.
    assert!(
        store
            .audit_events(&AuditQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn memberships_add_change_remove(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let bob = user(store, "bob").await;
    assert_eq!(store.membership(o.id, mona.id).await.unwrap(), None);
    assert_eq!(
        store
            .upsert_membership(o.id, mona.id, OrgRole::Member)
            .await
            .unwrap(),
        Upserted::Created
    );
    assert_eq!(
        store
            .upsert_membership(o.id, mona.id, OrgRole::Member)
            .await
            .unwrap(),
        Upserted::Unchanged
    );
    assert_eq!(
        store
            .upsert_membership(o.id, mona.id, OrgRole::Owner)
            .await
            .unwrap(),
        Upserted::Updated
    );
    assert_eq!(
        store.membership(o.id, mona.id).await.unwrap(),
        Some(OrgRole::Owner)
    );
    store
        .upsert_membership(o.id, bob.id, OrgRole::Member)
        .await
        .unwrap();
    assert_eq!(
        store.org_members(o.id).await.unwrap(),
        vec![
            (bob.clone(), OrgRole::Member),
            (mona.clone(), OrgRole::Owner)
        ]
    );

    assert!(store.remove_membership(o.id, mona.id).await.unwrap());
    assert!(!store.remove_membership(o.id, mona.id).await.unwrap());
    assert_eq!(store.membership(o.id, mona.id).await.unwrap(), None);
    assert_eq!(
        store.org_members(o.id).await.unwrap(),
        vec![(bob.clone(), OrgRole::Member)]
    );

    // Members are users of organizations.
    let other = org(store, "other").await;
    assert!(matches!(
        store
            .upsert_membership(o.id, other.id, OrgRole::Member)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .upsert_membership(mona.id, bob.id, OrgRole::Member)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .upsert_membership(o.id, AccountId(bob.id.0 + 1000), OrgRole::Member)
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn orgs_of_user_lists_orgs_with_roles(store: &dyn Store) {
    let beta = org(store, "beta").await;
    let acme = org(store, "Acme").await;
    org(store, "gamma").await;
    let mona = user(store, "mona").await;
    let bob = user(store, "bob").await;
    store
        .upsert_membership(beta.id, mona.id, OrgRole::Owner)
        .await
        .unwrap();
    store
        .upsert_membership(acme.id, mona.id, OrgRole::Member)
        .await
        .unwrap();
    assert_eq!(
        store.orgs_of_user(mona.id).await.unwrap(),
        vec![(acme, OrgRole::Member), (beta, OrgRole::Owner)]
    );
    assert!(store.orgs_of_user(bob.id).await.unwrap().is_empty());
}

pub async fn is_enterprise_member_follows_memberships(store: &dyn Store) {
    let (ent, _) = store
        .upsert_enterprise("corp", &PolicySettings::default())
        .await
        .unwrap();
    let (inside, _) = store
        .upsert_org("inside", Some(ent.id), RepoRole::Read, at(0))
        .await
        .unwrap();
    let outside = org(store, "outside").await;
    let mona = user(store, "mona").await;
    let bob = user(store, "bob").await;
    let eve = user(store, "eve").await;
    store
        .upsert_membership(inside.id, mona.id, OrgRole::Member)
        .await
        .unwrap();
    store
        .upsert_membership(outside.id, bob.id, OrgRole::Owner)
        .await
        .unwrap();
    assert!(store.is_enterprise_member(mona.id, ent.id).await.unwrap());
    assert!(!store.is_enterprise_member(bob.id, ent.id).await.unwrap());
    assert!(!store.is_enterprise_member(eve.id, ent.id).await.unwrap());
    store.remove_membership(inside.id, mona.id).await.unwrap();
    assert!(!store.is_enterprise_member(mona.id, ent.id).await.unwrap());
    // Joining the enterprise with an organization makes its members enterprise members.
    store
        .upsert_org("outside", Some(ent.id), RepoRole::Read, at(0))
        .await
        .unwrap();
    assert!(store.is_enterprise_member(bob.id, ent.id).await.unwrap());
}

pub async fn repos_are_unique_per_owner_case_insensitively(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let (r, outcome) = store
        .upsert_repo(
            o.id,
            "Widget",
            Visibility::Internal,
            Some("A widget"),
            at(3),
        )
        .await
        .unwrap();
    assert_eq!(outcome, Upserted::Created);
    assert_eq!(r.owner, o.id);
    assert_eq!(r.owner_login, "acme");
    assert_eq!(
        r.owner_kind,
        patgate_domain::model::AccountKind::Organization
    );
    assert_eq!(r.name, "Widget");
    assert_eq!(r.visibility, Visibility::Internal);
    assert_eq!(r.description.as_deref(), Some("A widget"));
    assert_eq!(r.created_at, at(3));
    assert_eq!(r.full_name(), "acme/Widget");

    let (same, outcome) = store
        .upsert_repo(
            o.id,
            "Widget",
            Visibility::Internal,
            Some("A widget"),
            at(9),
        )
        .await
        .unwrap();
    assert_eq!((same, outcome), (r.clone(), Upserted::Unchanged));
    // Another spelling is the same repository.
    let (renamed, outcome) = store
        .upsert_repo(
            o.id,
            "widget",
            Visibility::Internal,
            Some("A widget"),
            at(9),
        )
        .await
        .unwrap();
    assert_eq!(outcome, Upserted::Updated);
    assert_eq!(
        (renamed.id, renamed.name.as_str(), renamed.created_at),
        (r.id, "widget", at(3))
    );
    let (changed, outcome) = store
        .upsert_repo(o.id, "WIDGET", Visibility::Public, None, at(9))
        .await
        .unwrap();
    assert_eq!(outcome, Upserted::Updated);
    assert_eq!(changed.id, r.id);
    assert_eq!(changed.visibility, Visibility::Public);
    assert_eq!(changed.description, None);
    assert_eq!(store.repos_of_owner(o.id).await.unwrap().len(), 1);

    // The same name under another owner is another repository.
    let (theirs, outcome) = store
        .upsert_repo(mona.id, "widget", Visibility::Private, None, at(4))
        .await
        .unwrap();
    assert_eq!(outcome, Upserted::Created);
    assert_ne!(theirs.id, r.id);
    assert_eq!(theirs.owner_kind, patgate_domain::model::AccountKind::User);

    assert_eq!(
        store.repo_by_name("ACME", "Widget").await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(
        store.repo_by_name("mona", "WIDGET").await.unwrap(),
        Some(theirs.clone())
    );
    assert_eq!(store.repo_by_name("acme", "gadget").await.unwrap(), None);
    assert_eq!(store.repo_by_name("nobody", "widget").await.unwrap(), None);
    assert_eq!(store.repo_by_id(r.id).await.unwrap(), Some(changed));
    assert_eq!(
        store.repo_by_id(RepoId(theirs.id.0 + 1000)).await.unwrap(),
        None
    );
    assert!(matches!(
        store
            .upsert_repo(
                AccountId(mona.id.0 + 1000),
                "x",
                Visibility::Public,
                None,
                at(0)
            )
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn repos_of_owner_and_repos_by_ids(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let zeta = repo(store, o.id, "zeta").await;
    let alpha = repo(store, o.id, "Alpha").await;
    let beta = repo(store, o.id, "beta").await;
    let own = repo(store, mona.id, "dotfiles").await;
    assert_eq!(
        store.repos_of_owner(o.id).await.unwrap(),
        vec![alpha.clone(), beta.clone(), zeta.clone()]
    );
    assert_eq!(
        store.repos_of_owner(mona.id).await.unwrap(),
        vec![own.clone()]
    );
    assert!(
        store
            .repos_of_owner(user(store, "bob").await.id)
            .await
            .unwrap()
            .is_empty()
    );

    let unknown = RepoId(own.id.0 + 1000);
    let mut by_id = vec![zeta.clone(), alpha.clone(), own.clone()];
    by_id.sort_by_key(|r| r.id);
    assert_eq!(
        store
            .repos_by_ids(&[own.id, unknown, zeta.id, alpha.id, zeta.id])
            .await
            .unwrap(),
        by_id
    );
    assert!(store.repos_by_ids(&[]).await.unwrap().is_empty());
    assert!(store.repos_by_ids(&[unknown]).await.unwrap().is_empty());
}

pub async fn collaborators_add_change_remove(store: &dyn Store) {
    let o = org(store, "acme").await;
    let r = repo(store, o.id, "widget").await;
    let other = repo(store, o.id, "gadget").await;
    let mona = user(store, "mona").await;
    assert_eq!(store.collaborator_role(r.id, mona.id).await.unwrap(), None);
    assert_eq!(
        store
            .upsert_collaborator(r.id, mona.id, RepoRole::Triage)
            .await
            .unwrap(),
        Upserted::Created
    );
    assert_eq!(
        store
            .upsert_collaborator(r.id, mona.id, RepoRole::Triage)
            .await
            .unwrap(),
        Upserted::Unchanged
    );
    assert_eq!(
        store
            .upsert_collaborator(r.id, mona.id, RepoRole::Maintain)
            .await
            .unwrap(),
        Upserted::Updated
    );
    assert_eq!(
        store.collaborator_role(r.id, mona.id).await.unwrap(),
        Some(RepoRole::Maintain)
    );
    assert_eq!(
        store.collaborator_role(other.id, mona.id).await.unwrap(),
        None
    );
    assert!(store.remove_collaborator(r.id, mona.id).await.unwrap());
    assert!(!store.remove_collaborator(r.id, mona.id).await.unwrap());
    assert_eq!(store.collaborator_role(r.id, mona.id).await.unwrap(), None);

    assert!(matches!(
        store
            .upsert_collaborator(RepoId(other.id.0 + 1000), mona.id, RepoRole::Read)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.upsert_collaborator(r.id, o.id, RepoRole::Read).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn enterprise_owners_are_added_removed_and_listed(store: &dyn Store) {
    let (ent, _) = store
        .upsert_enterprise("corp", &PolicySettings::default())
        .await
        .unwrap();
    let (other, _) = store
        .upsert_enterprise("other", &PolicySettings::default())
        .await
        .unwrap();
    let zoe = user(store, "zoe").await;
    let al = user(store, "Al").await;
    assert!(
        store
            .set_enterprise_owner(ent.id, zoe.id, true)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_enterprise_owner(ent.id, zoe.id, true)
            .await
            .unwrap(),
        "already"
    );
    assert!(
        store
            .set_enterprise_owner(ent.id, al.id, true)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_enterprise_owner(other.id, zoe.id, true)
            .await
            .unwrap()
    );
    let logins: Vec<String> = store
        .enterprise_owners(ent.id)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.login)
        .collect();
    assert_eq!(logins, vec!["Al".to_owned(), "zoe".to_owned()], "by login");
    let slugs: Vec<String> = store
        .enterprises_owned_by(zoe.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.slug)
        .collect();
    assert_eq!(slugs, vec!["corp".to_owned(), "other".to_owned()]);
    assert!(
        store
            .set_enterprise_owner(ent.id, zoe.id, false)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_enterprise_owner(ent.id, zoe.id, false)
            .await
            .unwrap()
    );
    assert_eq!(store.enterprise_owners(ent.id).await.unwrap().len(), 1);
    // Only users own enterprises.
    let acme = org(store, "acme").await;
    assert!(matches!(
        store.set_enterprise_owner(ent.id, acme.id, true).await,
        Err(crate::StoreError::NotFound)
    ));
    // The enterprise's organizations.
    let (beta, _) = store
        .upsert_org("beta", Some(ent.id), RepoRole::Read, at(0))
        .await
        .unwrap();
    let (alpha, _) = store
        .upsert_org("Alpha", Some(ent.id), RepoRole::Read, at(0))
        .await
        .unwrap();
    let orgs: Vec<_> = store
        .orgs_of_enterprise(ent.id)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(orgs, vec![alpha.id, beta.id]);
}

/// `repo_standing` answers, in one read, what the separate lookups answer.
pub async fn repo_standing_agrees_with_the_separate_lookups(store: &dyn Store) {
    let (ent, _) = store
        .upsert_enterprise("corp", &PolicySettings::default())
        .await
        .unwrap();
    let (acme, _) = store
        .upsert_org("acme", Some(ent.id), RepoRole::Triage, at(0))
        .await
        .unwrap();
    let r = repo(store, acme.id, "widget").await;
    let mona = user(store, "mona").await;
    let bob = user(store, "bob").await;
    let eve = user(store, "eve").await;
    let own = repo(store, eve.id, "own").await;
    store
        .upsert_membership(acme.id, mona.id, OrgRole::Owner)
        .await
        .unwrap();
    store
        .upsert_collaborator(r.id, bob.id, RepoRole::Maintain)
        .await
        .unwrap();
    store
        .upsert_collaborator(own.id, mona.id, RepoRole::Write)
        .await
        .unwrap();
    let standing = |repo, owner, user, ent| async move {
        store.repo_standing(repo, owner, user, ent).await.unwrap()
    };
    assert_eq!(
        standing(r.id, acme.id, mona.id, Some(ent.id)).await,
        RepoStanding {
            org: Some((OrgRole::Owner, RepoRole::Triage)),
            collaborator: None,
            enterprise_member: true,
        }
    );
    // The enterprise is asked about only when given.
    assert!(
        !standing(r.id, acme.id, mona.id, None)
            .await
            .enterprise_member
    );
    assert_eq!(
        standing(r.id, acme.id, bob.id, Some(ent.id)).await,
        RepoStanding {
            org: None,
            collaborator: Some(RepoRole::Maintain),
            enterprise_member: false,
        }
    );
    assert_eq!(
        standing(r.id, acme.id, eve.id, None).await,
        RepoStanding::default()
    );
    // A user-owned repository: no organization, the collaborator role still.
    assert_eq!(
        standing(own.id, eve.id, mona.id, None).await,
        RepoStanding {
            org: None,
            collaborator: Some(RepoRole::Write),
            enterprise_member: false,
        }
    );
    // Each answer is what the separate lookups give.
    for (repo, owner, user, ent) in [
        (r.id, acme.id, mona.id, Some(ent.id)),
        (r.id, acme.id, bob.id, Some(ent.id)),
        (own.id, eve.id, mona.id, None),
    ] {
        let got = standing(repo, owner, user, ent).await;
        let role = store.membership(owner, user).await.unwrap();
        let base = store
            .org_by_id(owner)
            .await
            .unwrap()
            .map(|o| o.base_permission);
        assert_eq!(got.org, role.zip(base));
        assert_eq!(
            got.collaborator,
            store.collaborator_role(repo, user).await.unwrap()
        );
        let member = match ent {
            Some(e) => store.is_enterprise_member(user, e).await.unwrap(),
            None => false,
        };
        assert_eq!(got.enterprise_member, member);
    }
}
