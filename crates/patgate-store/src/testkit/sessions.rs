//! Web sessions: stored by hash, rotated at sign-in, ended one by one, all but one, when stale,
//! and when the password changes.

use patgate_domain::session::{SessionHash, SessionSecret};

use super::{at, user};
use crate::{NewSession, Store};

fn new_session(user: patgate_domain::model::AccountId, hash: SessionHash, secs: i64) -> NewSession {
    NewSession {
        hash,
        user,
        created_at: at(secs),
        expires_at: at(secs + 1_000),
        user_agent: Some("Mozilla/5.0 (test)".to_owned()),
        ip: Some("198.51.100.7".to_owned()),
    }
}

pub async fn sessions_are_found_by_hash_and_rotated_at_sign_in(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let first = SessionSecret::generate().hash();
    let s1 = store
        .insert_session(&new_session(alice.id, first, 0), None)
        .await
        .unwrap();
    assert_eq!(s1.user, alice.id);
    assert_eq!(s1.last_seen_at, at(0), "last seen starts at sign-in");
    assert_eq!(s1.expires_at, at(1_000));
    assert_eq!(s1.user_agent.as_deref(), Some("Mozilla/5.0 (test)"));
    assert_eq!(
        store.session_by_hash(&first).await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(
        store
            .session_by_hash(&SessionSecret::generate().hash())
            .await
            .unwrap(),
        None
    );
    // Signing in again from the same browser replaces its session.
    let second = SessionSecret::generate().hash();
    let s2 = store
        .insert_session(&new_session(alice.id, second, 10), Some(&first))
        .await
        .unwrap();
    assert_ne!(s1.id, s2.id);
    assert_eq!(store.session_by_hash(&first).await.unwrap(), None);
    assert_eq!(store.session_by_hash(&second).await.unwrap(), Some(s2));
}

pub async fn touching_a_session_only_moves_it_forward(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let hash = SessionSecret::generate().hash();
    let s = store
        .insert_session(&new_session(alice.id, hash, 0), None)
        .await
        .unwrap();
    store.touch_session(s.id, at(50)).await.unwrap();
    store.touch_session(s.id, at(20)).await.unwrap();
    let seen = store.session_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!(seen.last_seen_at, at(50));
}

pub async fn sessions_end_one_by_one_all_but_one_and_when_stale(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let hashes: Vec<SessionHash> = (0..3).map(|_| SessionSecret::generate().hash()).collect();
    let mut mine = Vec::new();
    for (i, h) in hashes.iter().enumerate() {
        let secs = i64::try_from(i).unwrap() * 10;
        mine.push(
            store
                .insert_session(&new_session(alice.id, *h, secs), None)
                .await
                .unwrap(),
        );
    }
    let bobs_hash = SessionSecret::generate().hash();
    let bobs = store
        .insert_session(&new_session(bob.id, bobs_hash, 0), None)
        .await
        .unwrap();
    // Most recently seen first.
    let listed: Vec<_> = store
        .sessions_of_user(alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, vec![mine[2].id, mine[1].id, mine[0].id]);
    // Nobody ends another user's session.
    assert!(!store.delete_session(alice.id, bobs.id).await.unwrap());
    assert!(store.delete_session(alice.id, mine[0].id).await.unwrap());
    assert!(!store.delete_session(alice.id, mine[0].id).await.unwrap());
    // Sign out everywhere else.
    assert_eq!(
        store
            .delete_sessions_of_user(alice.id, Some(mine[2].id))
            .await
            .unwrap(),
        1
    );
    let left: Vec<_> = store
        .sessions_of_user(alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, vec![mine[2].id]);
    assert!(store.session_by_hash(&bobs_hash).await.unwrap().is_some());
    // Stale: bob's was last seen at 0 (idle cutoff 5), alice's expires at 1 020.
    assert_eq!(
        store.delete_stale_sessions(at(500), at(5)).await.unwrap(),
        1
    );
    assert!(store.session_by_hash(&bobs_hash).await.unwrap().is_none());
    assert_eq!(
        store.delete_stale_sessions(at(1_020), at(0)).await.unwrap(),
        1
    );
    assert!(store.sessions_of_user(alice.id).await.unwrap().is_empty());
}

pub async fn a_password_change_ends_every_session_of_the_user(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    for u in [alice.id, alice.id, bob.id] {
        store
            .insert_session(&new_session(u, SessionSecret::generate().hash(), 0), None)
            .await
            .unwrap();
    }
    store
        .set_user_password_hash(alice.id, "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA")
        .await
        .unwrap();
    assert!(store.sessions_of_user(alice.id).await.unwrap().is_empty());
    assert_eq!(store.sessions_of_user(bob.id).await.unwrap().len(), 1);
}
