//! Loading the directory file.

use patgate_app::seed::SeedFile;
use patgate_domain::catalog::OrgRole;

use crate::{SEED, empty_app, user};

#[tokio::test]
async fn seed_loads_twice_and_the_second_report_shows_no_change() {
    let (app, _clock, _dir) = empty_app().await;
    let seed = SeedFile::parse(SEED).expect("the seed parses");

    let first = app.load_seed(&seed).await.expect("first load");
    assert!(first.changed(), "{first:?}");
    assert!(first.created > 0, "{first:?}");

    let second = app.load_seed(&seed).await.expect("second load");
    assert!(!second.changed(), "{second:?}");
    assert_eq!((second.created, second.updated), (0, 0), "{second:?}");
    assert!(second.unchanged > 0, "{second:?}");

    // The directory is what the file says.
    let store = app.store();
    let acme = store.org_by_login("acme").await.unwrap().expect("acme");
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    assert_eq!(
        store.membership(acme.id, alice.id).await.unwrap(),
        Some(OrgRole::Owner)
    );
    assert_eq!(
        store.membership(acme.id, bob.id).await.unwrap(),
        Some(OrgRole::Member)
    );
    assert!(!user(&app, "dave").await.email_verified);
}

#[tokio::test]
async fn a_seed_naming_an_unknown_user_is_refused() {
    let (app, _clock, _dir) = empty_app().await;
    let seed =
        SeedFile::parse("[[orgs]]\nlogin = \"acme\"\nowners = [\"nobody\"]\n").expect("parses");
    let err = app
        .load_seed(&seed)
        .await
        .expect_err("nobody is not a user");
    assert!(err.to_string().contains("nobody"), "{err}");
    assert!(
        SeedFile::parse("[[users]]\nlogin = \"x\"\nemail = \"x@x\"\ncolour = \"red\"\n").is_err()
    );
}
