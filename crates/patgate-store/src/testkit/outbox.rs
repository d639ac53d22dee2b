//! The outbox, webhooks and email verifications: messages written with their change (or not at
//! all), deduplicated, claimed by one holder at a time, leased, retried, given up, redelivered;
//! webhooks kept; verification links that verify once, only for the address they were sent to.

use patgate_domain::governance as rules;
use patgate_domain::session::SessionSecret;

use super::{at, classic, event, user};
use crate::{
    Channel, DeliveryOutcome, NewEmailVerification, NewOutboxMessage, NewWebhook, OutboxFilter,
    OutboxStatus, PageQuery, Store, WebhookEdit,
};

fn message(key: &str, secs: i64) -> NewOutboxMessage {
    NewOutboxMessage {
        channel: Channel::Email,
        kind: "test".to_owned(),
        recipient: "alice@example.com".to_owned(),
        dedupe_key: key.to_owned(),
        payload: serde_json::json!({"token_id": null, "n": secs}),
        secret: None,
        created_at: at(secs),
    }
}

const PAGE: PageQuery = PageQuery {
    page: 1,
    per_page: 100,
    ascending: false,
};

pub async fn outbox_messages_are_deduplicated_claimed_once_and_leased(store: &dyn Store) {
    assert_eq!(
        store
            .enqueue(&[message("a", 0), message("b", 1), message("a", 2)])
            .await
            .unwrap(),
        2,
        "a key already written is skipped"
    );
    assert_eq!(store.enqueue(&[message("b", 3)]).await.unwrap(), 0);
    let first = store.claim_due("one", at(10), at(70), 10).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|m| m.dedupe_key.as_str())
            .collect::<Vec<_>>(),
        vec!["a", "b"],
        "oldest first"
    );
    assert!(
        first
            .iter()
            .all(|m| m.status == OutboxStatus::Pending && m.attempts == 0)
    );
    assert!(
        store
            .claim_due("two", at(11), at(71), 10)
            .await
            .unwrap()
            .is_empty(),
        "a claimed message has one holder"
    );
    // The holder died: once the lease runs out, another claims the messages.
    let again = store.claim_due("two", at(70), at(130), 1).await.unwrap();
    assert_eq!(again.len(), 1);
    // The first holder's late outcome no longer counts.
    assert!(
        !store
            .finish_delivery(
                again[0].id,
                "one",
                at(71),
                &DeliveryOutcome::Sent {
                    response_code: None
                }
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_delivery(
                again[0].id,
                "two",
                at(72),
                &DeliveryOutcome::Sent {
                    response_code: Some(250)
                }
            )
            .await
            .unwrap()
    );
    let sent = store.outbox_message(again[0].id).await.unwrap().unwrap();
    assert_eq!(sent.status, OutboxStatus::Sent);
    assert_eq!(sent.attempts, 1);
    assert_eq!(sent.sent_at, Some(at(72)));
    assert!(
        store
            .claim_due("three", at(500), at(560), 10)
            .await
            .unwrap()
            .iter()
            .all(|m| m.id != sent.id),
        "a sent message is never claimed again"
    );
}

pub async fn failed_deliveries_are_retried_later_then_given_up_and_can_be_redelivered(
    store: &dyn Store,
) {
    store.enqueue(&[message("r", 0)]).await.unwrap();
    let m = store
        .claim_due("w", at(0), at(60), 1)
        .await
        .unwrap()
        .remove(0);
    assert!(
        store
            .finish_delivery(
                m.id,
                "w",
                at(1),
                &DeliveryOutcome::Failed {
                    error: "connection refused".into(),
                    response_code: None,
                    retry_at: Some(at(100)),
                },
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_due("w", at(99), at(159), 1)
            .await
            .unwrap()
            .is_empty(),
        "not yet due"
    );
    let m = store
        .claim_due("w", at(100), at(160), 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(m.attempts, 1);
    assert_eq!(m.last_error.as_deref(), Some("connection refused"));
    store
        .finish_delivery(
            m.id,
            "w",
            at(101),
            &DeliveryOutcome::Failed {
                error: "HTTP 500".into(),
                response_code: Some(500),
                retry_at: None,
            },
        )
        .await
        .unwrap();
    let failed = store.outbox_message(m.id).await.unwrap().unwrap();
    assert_eq!(failed.status, OutboxStatus::Failed);
    assert_eq!(failed.response_code, Some(500));
    assert!(
        store
            .claim_due("w", at(10_000), at(10_060), 1)
            .await
            .unwrap()
            .is_empty()
    );
    let attempts = store.delivery_attempts(m.id).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert!(attempts.iter().all(|a| !a.sent));
    assert_eq!(attempts[1].response_code, Some(500));
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.failed, counts.sent), (0, 1, 0));
    // An operator redelivers it.
    assert!(store.retry_message(m.id, at(200)).await.unwrap());
    assert!(!store.retry_message(9_999, at(200)).await.unwrap());
    let back = store.claim_due("w", at(200), at(260), 1).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].id, m.id);
    // Listings filter by status and channel, newest first.
    store
        .enqueue(&[NewOutboxMessage {
            channel: Channel::Webhook,
            recipient: "7".into(),
            ..message("hook", 5)
        }])
        .await
        .unwrap();
    let hooks = store
        .outbox_page(
            &OutboxFilter {
                channel: Some(Channel::Webhook),
                recipient: Some("7".into()),
                ..OutboxFilter::default()
            },
            PAGE,
        )
        .await
        .unwrap();
    assert_eq!(hooks.total, 1);
    assert_eq!(hooks.items[0].dedupe_key, "hook");
    let all = store
        .outbox_page(&OutboxFilter::default(), PAGE)
        .await
        .unwrap();
    assert_eq!(all.total, 2);
    assert_eq!(all.items[0].dedupe_key, "hook", "newest first");
}

pub async fn a_delivered_message_forgets_its_secret(store: &dyn Store) {
    store
        .enqueue(&[NewOutboxMessage {
            secret: Some("link-secret".into()),
            ..message("s", 0)
        }])
        .await
        .unwrap();
    let m = store
        .claim_due("w", at(0), at(60), 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        m.secret.as_deref(),
        Some("link-secret"),
        "the worker gets it"
    );
    store
        .finish_delivery(
            m.id,
            "w",
            at(1),
            &DeliveryOutcome::Sent {
                response_code: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.outbox_message(m.id).await.unwrap().unwrap().secret,
        None
    );
}

pub async fn messages_are_written_with_their_change_or_not_at_all(store: &dyn Store) {
    let alice = user(store, "alice").await;
    let new = classic(alice.id, "noticed", at(0), "repo");
    let notice = NewOutboxMessage {
        dedupe_key: "token_created:{token}".into(),
        ..message("unused", 0)
    };
    let applied = store
        .apply_with_outbox(
            &rules::admit(new.clone(), None, Vec::new()),
            std::slice::from_ref(&notice),
        )
        .await
        .unwrap();
    let token = applied.tokens[0].id;
    let listed = store
        .outbox_page(&OutboxFilter::default(), PAGE)
        .await
        .unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(
        listed.items[0].dedupe_key,
        format!("token_created:{}", token.0)
    );
    assert_eq!(
        listed.items[0].payload["token_id"], token.0,
        "the inserted id is filled in"
    );
    // The same hash again: the change fails, and its message is not written either.
    let failed = store
        .apply_with_outbox(&rules::admit(new, None, Vec::new()), &[message("never", 1)])
        .await;
    assert!(failed.is_err());
    assert_eq!(
        store
            .outbox_page(&OutboxFilter::default(), PAGE)
            .await
            .unwrap()
            .total,
        1
    );
    // Deleting, with its message.
    store
        .delete_token_with_outbox(token, &[event("destroy", at(2))], &[message("gone", 2)])
        .await
        .unwrap();
    assert_eq!(
        store
            .outbox_page(&OutboxFilter::default(), PAGE)
            .await
            .unwrap()
            .total,
        2
    );
}

pub async fn webhooks_are_kept_edited_and_deleted(store: &dyn Store) {
    let acme = super::org(store, "acme").await;
    let alice = user(store, "alice").await;
    let hook = store
        .insert_webhook(&NewWebhook {
            org: acme.id,
            url: "https://hooks.example.com/pat".into(),
            secret: Some("s3cret".into()),
            events: vec!["personal_access_token_request".into()],
            active: true,
            created_at: at(0),
            created_by: Some(alice.id),
        })
        .await
        .unwrap();
    assert_eq!(
        store.webhook_by_id(hook.id).await.unwrap(),
        Some(hook.clone())
    );
    assert_eq!(
        store.webhooks_of_org(acme.id).await.unwrap(),
        vec![hook.clone()]
    );
    let edited = store
        .update_webhook(
            hook.id,
            &WebhookEdit {
                active: Some(false),
                secret: Some(None),
                ..WebhookEdit::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!edited.active);
    assert_eq!(edited.secret, None);
    assert_eq!(edited.url, hook.url, "kept");
    assert_eq!(
        store
            .update_webhook(999, &WebhookEdit::default())
            .await
            .unwrap(),
        None
    );
    assert!(store.delete_webhook(hook.id).await.unwrap());
    assert!(!store.delete_webhook(hook.id).await.unwrap());
    assert!(store.webhooks_of_org(acme.id).await.unwrap().is_empty());
}

pub async fn an_email_verification_link_verifies_once_and_only_its_address(store: &dyn Store) {
    let mut new = super::new_user("dave");
    new.email_verified = false;
    let (dave, _) = store.upsert_user(&new, at(0)).await.unwrap();
    let secret = SessionSecret::generate();
    let link = |secret: &SessionSecret| NewEmailVerification {
        hash: secret.hash(),
        user: dave.id,
        email: dave.email.clone(),
        created_at: at(0),
        expires_at: at(3_600),
    };
    assert!(
        store
            .insert_email_verification(&link(&secret), &message("verify:dave", 0))
            .await
            .unwrap()
    );
    // A second link under the same key (asked for again at once) is not recorded: no link
    // exists that nobody was sent.
    let unsent = SessionSecret::generate();
    assert!(
        !store
            .insert_email_verification(&link(&unsent), &message("verify:dave", 0))
            .await
            .unwrap()
    );
    assert_eq!(
        store.verify_email(&unsent.hash(), at(1)).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .outbox_page(&OutboxFilter::default(), PAGE)
            .await
            .unwrap()
            .total,
        1,
        "the link's message is written with it"
    );
    assert_eq!(
        store
            .verify_email(&SessionSecret::generate().hash(), at(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.verify_email(&secret.hash(), at(1)).await.unwrap(),
        Some(dave.id)
    );
    assert!(
        store
            .user_by_id(dave.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    assert_eq!(
        store.verify_email(&secret.hash(), at(2)).await.unwrap(),
        None,
        "once"
    );

    // An expired link verifies nothing.
    let mut erin = super::new_user("erin");
    erin.email_verified = false;
    let (erin, _) = store.upsert_user(&erin, at(0)).await.unwrap();
    let late = SessionSecret::generate();
    let fresh = SessionSecret::generate();
    for (secret, key, expires) in [(&late, "verify:erin", 10), (&fresh, "verify:erin:2", 100)] {
        store
            .insert_email_verification(
                &NewEmailVerification {
                    hash: secret.hash(),
                    user: erin.id,
                    email: erin.email.clone(),
                    created_at: at(0),
                    expires_at: at(expires),
                },
                &message(key, 0),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        store.verify_email(&late.hash(), at(10)).await.unwrap(),
        None
    );
    assert!(
        !store
            .user_by_id(erin.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    // The stale link did not end the newer one.
    assert_eq!(
        store.verify_email(&fresh.hash(), at(11)).await.unwrap(),
        Some(erin.id)
    );
}

pub async fn a_message_names_the_request_inserted_for_its_token(store: &dyn Store) {
    use patgate_domain::catalog::{Level, Permission};
    use patgate_domain::model::{AccountKind, GrantState, RepositorySelection, TokenGrant};
    let alice = user(store, "alice").await;
    let acme = super::org(store, "acme").await;
    let asking = |seed: &str| crate::NewToken {
        grant: TokenGrant::FineGrained {
            resource_owner: acme.id,
            resource_owner_kind: AccountKind::Organization,
            requested: super::access(
                RepositorySelection::All,
                &[],
                &[(Permission::ISSUES, Level::Read)],
            ),
            granted: None,
            state: GrantState::Denied,
        },
        ..super::fine_grained(alice.id, seed, at(0))
    };
    let first = super::insert(store, &asking("first")).await;
    let second = super::insert(store, &asking("second")).await;
    let raise = |t: &patgate_domain::model::Token| {
        let standing = patgate_domain::governance::Standing {
            token: t.clone(),
            pending: None,
            grant: None,
        };
        let TokenGrant::FineGrained { requested, .. } = &t.grant else {
            unreachable!()
        };
        rules::regrant_requesting(
            &standing,
            None,
            TokenGrant::FineGrained {
                resource_owner: acme.id,
                resource_owner_kind: AccountKind::Organization,
                requested: requested.clone(),
                granted: None,
                state: GrantState::Pending,
            },
            None,
            at(5),
        )
        .unwrap()
    };
    let changes = raise(&first).merge(raise(&second));
    let about = |t: &patgate_domain::model::Token| NewOutboxMessage {
        dedupe_key: format!("created:{}:{{request}}", t.id.0),
        payload: serde_json::json!({"token_id": t.id.0, "request_id": null}),
        ..message("unused", 5)
    };
    let applied = store
        .apply_with_outbox(&changes, &[about(&second), about(&first)])
        .await
        .unwrap();
    assert_eq!(applied.requests.len(), 2);
    let request_of = |t: patgate_domain::model::TokenId| async move {
        store.pending_request_of_token(t).await.unwrap().unwrap().id
    };
    let (r1, r2) = (request_of(first.id).await, request_of(second.id).await);
    let listed = store
        .outbox_page(&OutboxFilter::default(), PAGE)
        .await
        .unwrap()
        .items;
    for (t, r) in [(&first, r1), (&second, r2)] {
        let m = listed
            .iter()
            .find(|m| m.payload["token_id"] == t.id.0)
            .unwrap();
        assert_eq!(m.dedupe_key, format!("created:{}:{}", t.id.0, r.0));
        assert_eq!(
            m.payload["request_id"], r.0,
            "the request of the same token"
        );
    }
}
