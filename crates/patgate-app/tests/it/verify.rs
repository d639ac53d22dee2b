//! Verifying presented tokens: formats, expiry, deletion, regeneration, and the cache.

use patgate_app::AppError;
use patgate_domain::authz::{DenyReason, DenyStatus};
use patgate_domain::catalog::Level;
use patgate_domain::token::{TokenKind, TokenParseError};
use patgate_domain::validate::Expiration;
use time::Duration;

use crate::{access, app, assert_bad_credentials, classic, contents, denial, fine_grained, user};

#[tokio::test]
async fn fine_grained_token_for_myself_reads_my_private_repo_but_not_acmes() {
    let (app, _clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let issued = fine_grained(&app, &alice, "notes reader", None, &[("contents", "read")]).await;

    let verified = app.verify(issued.secret.expose()).await.expect("verifies");
    assert_eq!(verified.credential.token_id, issued.token.id);
    assert_eq!(verified.credential.user, alice.id);
    assert_eq!(verified.credential.kind(), TokenKind::FineGrained);
    assert_eq!(verified.name, "notes reader");

    let secret = issued.secret.expose();
    access(&app, secret, "alice/notes", contents(Level::Read))
        .await
        .expect("reads alice/notes");
    // Read only: the token was not given write.
    let d = denial(access(&app, secret, "alice/notes", contents(Level::Write)).await);
    assert_eq!(
        (d.status, d.reason),
        (DenyStatus::Forbidden, DenyReason::MissingPermission)
    );
    // acme is another resource owner: its private repository is hidden (404), even though
    // alice owns acme; its public one is readable like by any token.
    let d = denial(access(&app, secret, "acme/api", contents(Level::Read)).await);
    assert_eq!(
        (d.status, d.reason),
        (DenyStatus::NotFound, DenyReason::WrongResourceOwner)
    );
    access(&app, secret, "acme/site", contents(Level::Read))
        .await
        .expect("public read");
}

#[tokio::test]
async fn classic_token_with_repo_reads_acme_api_for_bob_and_without_repo_gets_404() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let with_repo = classic(&app, &bob, "with repo", &["repo"]).await;
    let without = classic(&app, &bob, "without repo", &["read:org", "public_repo"]).await;

    access(
        &app,
        with_repo.secret.expose(),
        "acme/api",
        contents(Level::Read),
    )
    .await
    .expect("repo reads acme/api");
    // The token never grants more than its owner can do: bob is a read member.
    let d = denial(
        access(
            &app,
            with_repo.secret.expose(),
            "acme/api",
            contents(Level::Write),
        )
        .await,
    );
    assert_eq!(
        (d.status, d.reason),
        (DenyStatus::Forbidden, DenyReason::OwnerLacksRights)
    );

    let d = denial(
        access(
            &app,
            without.secret.expose(),
            "acme/api",
            contents(Level::Read),
        )
        .await,
    );
    assert_eq!(d.status.code(), 404);
    assert_eq!(d.reason, DenyReason::MissingScope);
    assert_eq!(d.accepted_scopes.as_deref(), Some("repo"));
    // Public repositories stay readable.
    access(
        &app,
        without.secret.expose(),
        "acme/site",
        contents(Level::Read),
    )
    .await
    .expect("public read");
}

#[tokio::test]
async fn an_expired_token_gets_bad_credentials() {
    let (app, clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let issued = app
        .create_classic(
            &alice,
            patgate_app::tokens::CreateClassic {
                note: "one day".into(),
                scopes: vec!["repo".into()],
                expiration: Some(Expiration::Days(1)),
            },
        )
        .await
        .expect("created");
    let secret = issued.secret.expose();
    access(&app, secret, "alice/notes", contents(Level::Read))
        .await
        .expect("works today");

    clock.advance(Duration::days(1) - Duration::seconds(1));
    app.verify(secret)
        .await
        .expect("still valid one second before expiry");
    clock.advance(Duration::seconds(1));
    assert_bad_credentials(app.verify(secret).await);
    clock.advance(Duration::days(30));
    assert_bad_credentials(app.verify(secret).await);
}

#[tokio::test]
async fn a_deleted_token_gets_bad_credentials_although_it_was_cached_a_moment_before() {
    let (app, clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let behind_our_back = classic(&app, &alice, "deleted in the store", &["repo"]).await;
    let issued = classic(&app, &alice, "deleted by the app", &["repo"]).await;
    app.verify(behind_our_back.secret.expose())
        .await
        .expect("verifies");
    app.verify(issued.secret.expose()).await.expect("verifies");

    // A hit is served from the cache: a deletion the app was not told about is not seen
    // (until the TTL, or another replica's notification)...
    app.store()
        .delete_token(behind_our_back.token.id, &[])
        .await
        .expect("deleted in the store");
    app.verify(behind_our_back.secret.expose())
        .await
        .expect("still cached: the store is not read on a hit");

    // ...while a deletion through the app drops the entry at write time.
    let (deleted, keys) = app
        .delete_token(&alice, issued.token.id)
        .await
        .expect("deleted");
    assert_eq!((deleted.id, keys), (issued.token.id, 0));
    assert_bad_credentials(app.verify(issued.secret.expose()).await);
    assert!(matches!(
        app.delete_token(&alice, issued.token.id).await,
        Err(AppError::NotFound)
    ));

    // The TTL (5 s by default, on the app's clock) bounds how long a change the app was not
    // told about can go unseen.
    clock.advance(Duration::seconds(4));
    app.verify(behind_our_back.secret.expose())
        .await
        .expect("within the TTL");
    clock.advance(Duration::seconds(1));
    assert_bad_credentials(app.verify(behind_our_back.secret.expose()).await);
}

#[tokio::test]
async fn a_regenerated_token_refuses_the_old_secret_and_takes_the_new_one_with_the_same_id() {
    let (app, _clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let issued = fine_grained(&app, &alice, "to regenerate", None, &[("contents", "read")]).await;
    let old = issued.secret.expose().to_owned();
    app.verify(&old).await.expect("old secret verifies");

    // At once (within the cache's TTL): the old secret is refused because the cache entry was
    // dropped, not because it aged out.
    let renewed = app
        .regenerate(&alice, issued.token.id, Some(Expiration::Days(7)))
        .await
        .expect("regenerated");
    assert_eq!(renewed.token.id, issued.token.id);
    assert_ne!(renewed.secret.expose(), old);
    assert_eq!(
        renewed.token.expires_at,
        Some(app.now() + Duration::days(7))
    );

    assert_bad_credentials(app.verify(&old).await);
    let verified = app
        .verify(renewed.secret.expose())
        .await
        .expect("new secret verifies");
    assert_eq!(verified.credential.token_id, issued.token.id);
    access(
        &app,
        renewed.secret.expose(),
        "alice/notes",
        contents(Level::Read),
    )
    .await
    .expect("new secret reads");
    // The access is unchanged.
    assert_eq!(verified.credential.grant, issued.token.grant);
}

#[tokio::test]
async fn a_malformed_token_gets_bad_credentials() {
    let (app, _clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let issued = classic(&app, &alice, "real", &["repo"]).await;
    let good = issued.secret.expose();
    app.verify(good).await.expect("the real one verifies");

    // Change one character of the checksum: the format refuses it before any lookup.
    let mut bad = good.to_owned();
    let last = bad.pop().expect("non-empty");
    bad.push(if last == 'a' { 'b' } else { 'a' });
    assert_eq!(
        app.token_format().parse(&bad).map(|p| p.kind),
        Err(TokenParseError::Checksum)
    );
    assert_bad_credentials(app.verify(&bad).await);

    // Other malformations, and a well-formed token that was never issued.
    let never_issued = app.token_format().generate(TokenKind::Classic);
    for presented in [
        "",
        "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        &good[..good.len() - 1],
        &format!("{good}x"),
        &good.replace(&good[5..6], "-"),
        never_issued.expose(),
    ] {
        assert_bad_credentials(app.verify(presented).await);
    }
}

#[tokio::test]
async fn forget_user_tokens_and_forget_all_drop_cached_tokens_at_once() {
    let (app, _clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let alices = classic(&app, &alice, "alice's", &["repo"]).await;
    let bobs = classic(&app, &bob, "bob's", &["repo"]).await;
    for issued in [&alices, &bobs] {
        app.verify(issued.secret.expose()).await.expect("verifies");
        // Deleted behind the app's back (another process): still served from the cache.
        app.store()
            .delete_token(issued.token.id, &[])
            .await
            .expect("deleted");
        app.verify(issued.secret.expose()).await.expect("cached");
    }

    app.forget_user_tokens(alice.id);
    assert_bad_credentials(app.verify(alices.secret.expose()).await);
    app.verify(bobs.secret.expose())
        .await
        .expect("bob's entry was kept");

    app.forget_all();
    assert_bad_credentials(app.verify(bobs.secret.expose()).await);
}
