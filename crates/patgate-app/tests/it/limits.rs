//! Who may create tokens, and how many (rule 12, seed 004).

use patgate_app::AppError;
use patgate_app::tokens::{CreateClassic, CreateFineGrained};
use patgate_domain::validate::{ErrorCode, MAX_FINE_GRAINED_PER_USER};

use crate::{app, classic, user};

#[tokio::test]
async fn dave_with_an_unverified_email_cannot_create_tokens() {
    let (app, _clock, _dir) = app().await;
    let dave = user(&app, "dave").await;
    let fine = app
        .create_fine_grained(
            &dave,
            CreateFineGrained {
                name: "mine".into(),
                ..Default::default()
            },
        )
        .await;
    match fine {
        Err(AppError::Validation(e)) => assert!(e.has("email", ErrorCode::Custom), "{e}"),
        other => panic!("expected a validation error, got {other:?}"),
    }
    let classic = app
        .create_classic(
            &dave,
            CreateClassic {
                note: "mine".into(),
                scopes: vec!["repo".into()],
                expiration: None,
            },
        )
        .await;
    match classic {
        Err(AppError::Validation(e)) => assert!(e.has("email", ErrorCode::Custom), "{e}"),
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert!(
        app.list_tokens(&dave, None)
            .await
            .expect("listed")
            .is_empty()
    );
}

#[tokio::test]
async fn the_51st_fine_grained_token_is_refused() {
    let (app, _clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let create = |name: String| {
        app.create_fine_grained(
            &alice,
            CreateFineGrained {
                name,
                ..Default::default()
            },
        )
    };
    for i in 1..=MAX_FINE_GRAINED_PER_USER {
        create(format!("token {i}"))
            .await
            .unwrap_or_else(|e| panic!("token {i}: {e:?}"));
    }
    match create("one too many".into()).await {
        Err(AppError::Validation(e)) => {
            assert!(e.has("name", ErrorCode::Custom), "{e}");
            assert!(e.to_string().contains("50"), "{e}");
        }
        other => panic!("expected the limit, got {other:?}"),
    }
    // The limit is on fine-grained tokens only.
    classic(&app, &alice, "still allowed", &["repo"]).await;
    // Deleting one makes room again.
    let tokens = app
        .list_tokens(&alice, Some(patgate_domain::token::TokenKind::FineGrained))
        .await
        .expect("listed");
    assert_eq!(tokens.len(), MAX_FINE_GRAINED_PER_USER);
    app.delete_token(&alice, tokens[0].id)
        .await
        .expect("deleted");
    create("one more".into()).await.expect("room again");
}
