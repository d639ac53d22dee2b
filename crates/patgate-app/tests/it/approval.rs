//! Fine-grained tokens for an organization: approval, edits, outside collaborators (rules 7, 11).

use patgate_app::AppError;
use patgate_app::tokens::{EditFineGrained, has_pending_request};
use patgate_domain::authz::{DenyReason, DenyStatus, Need};
use patgate_domain::catalog::{Level, Permission};
use patgate_domain::model::{GrantState, TokenGrant};
use patgate_domain::validate::ErrorCode;

use crate::{access, app, contents, denial, fine_grained, perm, user};

fn state(grant: &TokenGrant) -> GrantState {
    match grant {
        TokenGrant::FineGrained { state, .. } => *state,
        other => panic!("not fine-grained: {other:?}"),
    }
}

#[tokio::test]
async fn bobs_token_for_acme_is_pending_and_reads_only_public_site() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let issued = fine_grained(
        &app,
        &bob,
        "acme work",
        Some("acme"),
        &[("contents", "read")],
    )
    .await;
    assert_eq!(state(&issued.token.grant), GrantState::Pending);
    assert!(has_pending_request(&issued.token));
    let TokenGrant::FineGrained { granted, .. } = &issued.token.grant else {
        unreachable!()
    };
    assert_eq!(granted, &None);

    let secret = issued.secret.expose();
    app.verify(secret)
        .await
        .expect("a pending token is a valid credential");
    access(&app, secret, "acme/site", contents(Level::Read))
        .await
        .expect("public read");
    let d = denial(access(&app, secret, "acme/api", contents(Level::Read)).await);
    assert_eq!(d.status, DenyStatus::NotFound);
    assert_eq!(d.reason, DenyReason::GrantNotActive(GrantState::Pending));
    // Public, but not for writing.
    let d = denial(access(&app, secret, "acme/site", contents(Level::Write)).await);
    assert_eq!(d.status, DenyStatus::Forbidden);
}

#[tokio::test]
async fn alice_as_acme_owner_gets_her_token_approved_at_once() {
    let (app, _clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let issued = fine_grained(
        &app,
        &alice,
        "acme admin",
        Some("acme"),
        &[("contents", "write")],
    )
    .await;
    assert_eq!(state(&issued.token.grant), GrantState::Approved);
    assert!(!has_pending_request(&issued.token));
    let secret = issued.secret.expose();
    access(&app, secret, "acme/api", contents(Level::Write))
        .await
        .expect("approved: writes acme/api");
    // Its resource owner is acme: alice's own private repository is out of reach.
    let d = denial(access(&app, secret, "alice/notes", contents(Level::Read)).await);
    assert_eq!(
        (d.status, d.reason),
        (DenyStatus::NotFound, DenyReason::WrongResourceOwner)
    );
}

#[tokio::test]
async fn an_organization_without_approval_approves_members_tokens_at_once() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let issued = fine_grained(
        &app,
        &bob,
        "globex",
        Some("globex"),
        &[("contents", "read")],
    )
    .await;
    assert_eq!(state(&issued.token.grant), GrantState::Approved);
    access(
        &app,
        issued.secret.expose(),
        "globex/core",
        contents(Level::Read),
    )
    .await
    .expect("reads globex/core");
}

#[tokio::test]
async fn an_edit_that_raises_bobs_approved_access_keeps_the_old_access_working() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let issued = fine_grained(
        &app,
        &bob,
        "acme work",
        Some("acme"),
        &[("contents", "read")],
    )
    .await;
    let id = issued.token.id;
    let secret = issued.secret.expose();

    // An owner approves (simulated through the store), and the app is told.
    let TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        requested,
        ..
    } = issued.token.grant.clone()
    else {
        unreachable!()
    };
    let approved = TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        granted: Some(requested.clone()),
        requested: requested.clone(),
        state: GrantState::Approved,
    };
    app.store()
        .update_token(id, None, &approved, &[])
        .await
        .expect("approved");
    app.forget_token(id);
    access(&app, secret, "acme/api", contents(Level::Read))
        .await
        .expect("approved: reads");
    let issues = Need::new(Permission::ISSUES, Level::Read);
    let d = denial(access(&app, secret, "acme/api", issues).await);
    assert_eq!(
        (d.status, d.reason),
        (DenyStatus::Forbidden, DenyReason::MissingPermission)
    );

    // Bob asks for more: a new request, the approved access stays in force meanwhile.
    let edited = app
        .edit_fine_grained(
            &bob,
            id,
            EditFineGrained {
                permissions: Some(vec![perm("contents", "read"), perm("issues", "read")]),
                ..Default::default()
            },
        )
        .await
        .expect("edited");
    assert!(has_pending_request(&edited));
    let TokenGrant::FineGrained {
        requested: now_requested,
        granted,
        state,
        ..
    } = &edited.grant
    else {
        unreachable!()
    };
    assert_eq!(*state, GrantState::Approved);
    assert_eq!(granted.as_ref(), Some(&requested));
    assert_eq!(
        now_requested.permissions.get(Permission::ISSUES),
        Some(Level::Read)
    );

    access(&app, secret, "acme/api", contents(Level::Read))
        .await
        .expect("old access still works");
    let d = denial(access(&app, secret, "acme/api", issues).await);
    assert_eq!(
        d.reason,
        DenyReason::MissingPermission,
        "the raise waits for approval"
    );

    // Reducing access needs no approval and applies at once.
    let reduced = app
        .edit_fine_grained(
            &bob,
            id,
            EditFineGrained {
                permissions: Some(vec![perm("metadata", "read")]),
                ..Default::default()
            },
        )
        .await
        .expect("reduced");
    assert!(!has_pending_request(&reduced));
    let d = denial(access(&app, secret, "acme/api", contents(Level::Read)).await);
    assert_eq!(d.reason, DenyReason::MissingPermission);
}

#[tokio::test]
async fn an_outside_collaborator_cannot_target_the_organization_and_uses_a_classic_token() {
    let (app, _clock, _dir) = app().await;
    let carol = user(&app, "carol").await;
    let refused = app
        .create_fine_grained(
            &carol,
            patgate_app::tokens::CreateFineGrained {
                name: "acme".into(),
                resource_owner: Some("acme".into()),
                repository_selection: Some(patgate_domain::model::RepositorySelection::All),
                permissions: vec![perm("contents", "read")],
                ..Default::default()
            },
        )
        .await;
    match refused {
        Err(AppError::Validation(e)) => assert!(e.has("resource_owner", ErrorCode::Invalid), "{e}"),
        other => panic!("expected a validation error, got {other:?}"),
    }
    let token = crate::classic(&app, &carol, "collab", &["repo"]).await;
    let secret = token.secret.expose();
    access(&app, secret, "acme/api", contents(Level::Write))
        .await
        .expect("collaborator writes");
    let admin = Need::new(Permission::ADMINISTRATION, Level::Write);
    let d = denial(access(&app, secret, "acme/api", admin).await);
    assert_eq!(
        (d.status, d.reason),
        (DenyStatus::Forbidden, DenyReason::OwnerLacksRights)
    );
}
