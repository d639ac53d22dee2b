//! Last-used times and password authentication.

use patgate_app::AppError;
use patgate_app::verify::LAST_USED_GRANULARITY;
use time::Duration;

use crate::{app, assert_bad_credentials, classic, user};

#[tokio::test]
async fn last_used_times_are_buffered_and_written_by_flush_last_used() {
    let (app, clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let issued = classic(&app, &alice, "used", &["repo"]).await;
    let id = issued.token.id;
    let stored = |app: patgate_app::App| async move {
        app.store()
            .token_by_id(id)
            .await
            .expect("store")
            .expect("token")
            .last_used_at
    };
    assert_eq!(stored(app.clone()).await, None);

    let first_use = app.now();
    app.verify(issued.secret.expose()).await.expect("verifies");
    clock.advance(Duration::seconds(1));
    app.verify(issued.secret.expose()).await.expect("verifies");
    // Verification never writes.
    assert_eq!(stored(app.clone()).await, None);

    assert_eq!(app.flush_last_used().await.expect("flushed"), 1);
    assert_eq!(stored(app.clone()).await, Some(first_use));
    assert_eq!(app.flush_last_used().await.expect("nothing pending"), 0);

    // Within the granularity, nothing new is recorded; past it, the next use is.
    clock.advance(Duration::seconds(LAST_USED_GRANULARITY - 2));
    app.verify(issued.secret.expose()).await.expect("verifies");
    assert_eq!(app.flush_last_used().await.expect("flushed"), 0);
    clock.advance(Duration::seconds(1));
    let later_use = app.now();
    app.verify(issued.secret.expose()).await.expect("verifies");
    assert_eq!(app.flush_last_used().await.expect("flushed"), 1);
    assert_eq!(stored(app.clone()).await, Some(later_use));
}

#[tokio::test]
async fn authenticate_password_takes_the_right_password_and_refuses_wrong_and_unknown_alike() {
    let (app, _clock, _dir) = app().await;
    let alice = app
        .authenticate_password("alice", "alice-password")
        .await
        .expect("right password");
    assert_eq!(alice.login, "alice");

    let wrong = app.authenticate_password("alice", "bob-password").await;
    let unknown = app.authenticate_password("mallory", "alice-password").await;
    let no_password = app.authenticate_password("carol", "anything").await;
    let messages: Vec<String> = [&wrong, &unknown, &no_password]
        .iter()
        .map(|r| r.as_ref().map(|u| u.login.clone()).unwrap_err().to_string())
        .collect();
    assert_bad_credentials(wrong);
    assert_bad_credentials(unknown);
    assert_bad_credentials(no_password);
    assert!(
        messages.iter().all(|m| m == "Bad credentials"),
        "{messages:?}"
    );

    // A password set later replaces the seeded one.
    app.set_password("alice", "a new password")
        .await
        .expect("set");
    assert_bad_credentials(app.authenticate_password("alice", "alice-password").await);
    app.authenticate_password("alice", "a new password")
        .await
        .expect("new password");
    assert!(matches!(
        app.set_password("alice", "short").await,
        Err(AppError::Forbidden(_))
    ));
}
