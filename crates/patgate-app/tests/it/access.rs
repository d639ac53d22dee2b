//! The owner's rights come from the directory, at once (rules 10, 15) and under the
//! organization's effective policy (rule 6).

use patgate_domain::authz::{DenyReason, DenyStatus};
use patgate_domain::catalog::Level;
use patgate_domain::model::{GrantState, TokenGrant};

use crate::{access, app, classic, contents, denial, fine_grained, user};

#[tokio::test]
async fn losing_membership_removes_access_at_once() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let classic_token = classic(&app, &bob, "acme", &["repo"]).await;
    let fine = fine_grained(&app, &bob, "acme", Some("acme"), &[("contents", "read")]).await;
    // Approve bob's fine-grained token (simulated through the store).
    let TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        requested,
        ..
    } = fine.token.grant.clone()
    else {
        unreachable!()
    };
    let approved = TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        granted: Some(requested.clone()),
        requested,
        state: GrantState::Approved,
    };
    app.store()
        .update_token(fine.token.id, None, &approved, &[])
        .await
        .expect("approved");
    app.forget_token(fine.token.id);

    // Both read acme/api now (and the rights are cached).
    for secret in [classic_token.secret.expose(), fine.secret.expose()] {
        access(&app, secret, "acme/api", contents(Level::Read))
            .await
            .expect("member reads");
    }

    let acme = app
        .store()
        .org_by_login("acme")
        .await
        .expect("store")
        .expect("acme");
    assert!(
        app.store()
            .remove_membership(acme.id, bob.id)
            .await
            .expect("removed")
    );
    app.directory_changed();

    for secret in [classic_token.secret.expose(), fine.secret.expose()] {
        let d = denial(access(&app, secret, "acme/api", contents(Level::Read)).await);
        assert_eq!(
            (d.status, d.reason),
            (DenyStatus::NotFound, DenyReason::UserCannotSee)
        );
        // The public repository stays readable.
        access(&app, secret, "acme/site", contents(Level::Read))
            .await
            .expect("public read");
    }
}

#[tokio::test]
async fn an_enterprise_that_restricts_classic_tokens_refuses_them_on_its_organization_only() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let token = classic(&app, &bob, "everywhere", &["repo"]).await;
    let secret = token.secret.expose();

    let d = denial(access(&app, secret, "globex/core", contents(Level::Read)).await);
    assert_eq!(
        (d.status, d.reason),
        (DenyStatus::Forbidden, DenyReason::KindRestricted)
    );
    assert!(d.message.contains("'corp' enterprise"), "{}", d.message);
    // Elsewhere the token keeps working.
    access(&app, secret, "acme/api", contents(Level::Read))
        .await
        .expect("acme is not corp's");

    // Fine-grained tokens are not restricted there.
    let fine = fine_grained(
        &app,
        &bob,
        "globex",
        Some("globex"),
        &[("contents", "read")],
    )
    .await;
    access(
        &app,
        fine.secret.expose(),
        "globex/core",
        contents(Level::Read),
    )
    .await
    .expect("fine-grained reads globex/core");
}

#[tokio::test]
async fn anonymous_requests_read_public_repositories_only() {
    let (app, _clock, _dir) = app().await;
    let site = crate::repo(&app, "acme/site").await;
    let api = crate::repo(&app, "acme/api").await;
    app.authorize_repo(None, &site, contents(Level::Read))
        .await
        .expect("public read");
    assert!(matches!(
        app.authorize_repo(None, &api, contents(Level::Read)).await,
        Err(patgate_app::AppError::NotFound)
    ));
    assert!(
        app.repo_facts("acme", "nothing")
            .await
            .expect("store")
            .is_none()
    );
}

#[tokio::test]
async fn a_member_who_leaves_loses_the_organizations_grants_and_requests() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let globex = app.org_named("globex").await.expect("globex");
    // globex needs no approval: approved at once, with a grant; acme waits for a review.
    let granted = fine_grained(
        &app,
        &bob,
        "globex",
        Some("globex"),
        &[("contents", "read")],
    )
    .await;
    let asking = fine_grained(&app, &bob, "acme", Some("acme"), &[("contents", "read")]).await;
    let store = app.store();
    assert!(
        store
            .grant_of_token(granted.token.id)
            .await
            .expect("store")
            .is_some()
    );
    access(
        &app,
        granted.secret.expose(),
        "globex/core",
        contents(Level::Read),
    )
    .await
    .expect("a member reads");

    assert!(app.remove_org_member(&globex, &bob).await.expect("removed"));
    assert_eq!(
        store.membership(globex.id, bob.id).await.expect("store"),
        None
    );
    assert_eq!(
        store.grant_of_token(granted.token.id).await.expect("store"),
        None
    );
    let returned = store
        .token_by_id(granted.token.id)
        .await
        .expect("store")
        .expect("the token stays");
    assert!(matches!(
        returned.grant,
        TokenGrant::FineGrained {
            state: GrantState::Revoked,
            ..
        }
    ));
    let d = denial(
        access(
            &app,
            granted.secret.expose(),
            "globex/core",
            contents(Level::Read),
        )
        .await,
    );
    assert_eq!(d.status, DenyStatus::NotFound);
    let audit = store
        .audit_events(&patgate_store::AuditQuery {
            org: Some(globex.id),
            action: Some("personal_access_token.access_revoked".into()),
            ..Default::default()
        })
        .await
        .expect("store");
    assert_eq!(audit.len(), 1, "the revocation is in globex's audit log");

    // Bob's request to acme is acme's business, and stays.
    assert!(
        store
            .pending_request_of_token(asking.token.id)
            .await
            .expect("store")
            .is_some()
    );
    assert!(
        !app.remove_org_member(&globex, &bob)
            .await
            .expect("not a member any more")
    );
}
