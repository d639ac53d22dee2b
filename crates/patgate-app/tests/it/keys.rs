//! Keys created with a token: deleting the token deletes its deploy keys, nothing else does.

use patgate_domain::model::{GrantState, TokenGrant};

use crate::{app, fine_grained, repo, user};

const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb4lM5Vx0ywyd5Xu0l1wRkJ1Wc3x7p1Q5l2V1g9e2Gk deploy";
const KEY_B: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx7aQ2kP0mWn3Rr8sT1uV5wX9yZ4bC6dE0fG2hJ4kL6 laptop";

#[tokio::test]
async fn deleting_a_token_deletes_its_deploy_key_and_keeps_its_user_key() {
    let (app, _clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let issued = fine_grained(
        &app,
        &alice,
        "keys",
        None,
        &[("administration", "write"), ("keys", "write")],
    )
    .await;
    let verified = app.verify(issued.secret.expose()).await.expect("verifies");
    let notes = repo(&app, "alice/notes").await;
    let deploy = app
        .add_deploy_key(&verified, &notes, "ci", KEY_A, true)
        .await
        .expect("deploy key added");
    let user_key = app
        .add_user_key(&verified, "laptop", KEY_B)
        .await
        .expect("user key added");
    assert_eq!(deploy.created_by_token, Some(issued.token.id));
    assert_eq!(user_key.created_by_token, Some(issued.token.id));

    let (_, deleted_keys) = app
        .delete_token(&alice, issued.token.id)
        .await
        .expect("deleted");
    assert_eq!(deleted_keys, 1);
    let store = app.store();
    assert_eq!(store.key_by_id(deploy.id).await.expect("store"), None);
    // The user key survives (the store may forget which token created it, since that token is gone).
    let survivor = store
        .key_by_id(user_key.id)
        .await
        .expect("store")
        .expect("the user key survives");
    assert_eq!(
        (&survivor.key, survivor.user, survivor.repo),
        (&user_key.key, alice.id, None)
    );
    let ids: Vec<_> = store
        .user_keys(alice.id)
        .await
        .expect("store")
        .iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, vec![user_key.id]);
    assert!(
        store
            .deploy_keys(notes.repo.id)
            .await
            .expect("store")
            .is_empty()
    );
}

#[tokio::test]
async fn revoking_the_grant_leaves_the_tokens_deploy_key_alone() {
    let (app, _clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let issued = fine_grained(
        &app,
        &alice,
        "acme keys",
        Some("acme"),
        &[("administration", "write")],
    )
    .await;
    let verified = app.verify(issued.secret.expose()).await.expect("verifies");
    let api = repo(&app, "acme/api").await;
    let deploy = app
        .add_deploy_key(&verified, &api, "ci", KEY_A, false)
        .await
        .expect("deploy key added");

    // An owner revokes the token's access to acme (simulated through the store).
    let TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        requested,
        granted,
        ..
    } = issued.token.grant.clone()
    else {
        unreachable!()
    };
    let revoked = TokenGrant::FineGrained {
        resource_owner,
        resource_owner_kind,
        requested,
        granted,
        state: GrantState::Revoked,
    };
    app.store()
        .update_token(issued.token.id, None, &revoked, &[])
        .await
        .expect("revoked");
    app.forget_token(issued.token.id);

    // The token lost its access to acme...
    let verified = app
        .verify(issued.secret.expose())
        .await
        .expect("still a valid credential");
    assert!(app.deploy_keys(&verified, &api).await.is_err());
    // ...and the key it created stays.
    assert_eq!(
        app.store().key_by_id(deploy.id).await.expect("store"),
        Some(deploy.clone())
    );
    assert_eq!(
        app.store().deploy_keys(api.repo.id).await.expect("store"),
        vec![deploy]
    );
}
