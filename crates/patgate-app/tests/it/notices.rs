//! What patgate tells people (issue 12): each change writes its messages with it, to the right
//! recipient; jobs remind, notice expiry, digest and remove on an injected clock without sending
//! anything twice; the delivery worker records attempts and backs off.

use std::sync::Mutex;

use async_trait::async_trait;
use time::Duration;

use patgate_app::delivery::{Attempt, Deliverer, DeliveryPolicy};
use patgate_app::emails::VerificationSent;
use patgate_app::governance::Actor;
use patgate_app::hooks::HookSettings;
use patgate_app::jobs;
use patgate_app::notify::{Envelope, Notice};
use patgate_app::tokens::CreateClassic;
use patgate_app::{App, AppError};
use patgate_domain::model::{RequestId, TokenGrant};
use patgate_domain::validate::Expiration;
use patgate_store::{Channel, OutboxFilter, OutboxMessage, OutboxStatus, PageQuery, RequestStatus};

use crate::{app, classic, fine_grained, user};

const ALL: PageQuery = PageQuery {
    page: 1,
    per_page: 100,
    ascending: true,
};

/// Every message, oldest first.
async fn outbox(app: &App) -> Vec<OutboxMessage> {
    let mut all = app
        .outbox_page(&OutboxFilter::default(), ALL)
        .await
        .unwrap()
        .items;
    all.sort_by_key(|m| m.id);
    all
}

async fn of_kind(app: &App, kind: &str) -> Vec<OutboxMessage> {
    outbox(app)
        .await
        .into_iter()
        .filter(|m| m.kind == kind)
        .collect()
}

fn notice(m: &OutboxMessage) -> Notice {
    Envelope::from_payload(&m.payload)
        .unwrap_or_else(|e| panic!("message {} does not parse: {e}", m.id))
        .notice
}

fn alice_actor() -> Actor {
    Actor {
        id: None,
        login: "alice".into(),
    }
}

async fn pending_request_of(app: &App, token: patgate_domain::model::TokenId) -> RequestId {
    app.store()
        .pending_request_of_token(token)
        .await
        .unwrap()
        .expect("a pending request")
        .id
}

#[tokio::test]
async fn a_new_token_sends_a_security_notice_to_a_verified_address_only() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let issued = classic(&app, &bob, "laptop", &["repo"]).await;
    let created = of_kind(&app, "token_created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].recipient, "bob@example.com");
    assert_eq!(created[0].channel, Channel::Email);
    let Notice::TokenCreated { token, user: to } = notice(&created[0]) else {
        panic!("not a token notice")
    };
    assert_eq!(to.login, "bob");
    assert_eq!(token.name, "laptop");
    assert_eq!(token.scopes, vec!["repo".to_owned()]);
    assert_eq!(token.last_eight, issued.token.last_eight);
    assert_eq!(created[0].payload["token_id"], issued.token.id.0);
    // The secret is nowhere in the message.
    assert!(
        !created[0]
            .payload
            .to_string()
            .contains(issued.secret.expose())
    );

    fine_grained(&app, &bob, "fg", None, &[("contents", "read")]).await;
    assert_eq!(of_kind(&app, "token_created").await.len(), 2);

    // dave has not verified his address: he is told nothing (and cannot create fine-grained
    // tokens; a classic token does not need it).
    let dave = user(&app, "dave").await;
    let _ = app
        .create_classic(
            &dave,
            CreateClassic {
                note: "dave".into(),
                scopes: vec!["repo".into()],
                expiration: None,
            },
        )
        .await;
    assert!(
        outbox(&app)
            .await
            .iter()
            .all(|m| m.recipient != "dave@example.com")
    );
}

#[tokio::test]
async fn the_requester_hears_of_approval_and_of_denial_with_the_reason() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let acme = app.org_named("acme").await.unwrap();
    let first = fine_grained(&app, &bob, "one", Some("acme"), &[("contents", "read")]).await;
    let second = fine_grained(&app, &bob, "two", Some("acme"), &[("issues", "write")]).await;
    let (r1, r2) = (
        pending_request_of(&app, first.token.id).await,
        pending_request_of(&app, second.token.id).await,
    );
    app.review_requests(&acme, &alice_actor(), &[r1], true, None)
        .await
        .unwrap();
    app.review_requests(
        &acme,
        &alice_actor(),
        &[r2],
        false,
        Some("Use the shared bot instead."),
    )
    .await
    .unwrap();

    let approved = of_kind(&app, "request_approved").await;
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0].recipient, "bob@example.com");
    let Notice::RequestApproved {
        token,
        org,
        reviewer,
        access,
        ..
    } = notice(&approved[0])
    else {
        panic!()
    };
    assert_eq!((token.name.as_str(), org.login.as_str()), ("one", "acme"));
    assert_eq!(reviewer.as_deref(), Some("alice"));
    assert_eq!(access.selection, "all");
    assert!(
        access
            .permissions
            .iter()
            .any(|p| p.name == "contents" && p.level == "read")
    );
    assert_eq!(approved[0].payload["request_id"], r1.0);

    let denied = of_kind(&app, "request_denied").await;
    assert_eq!(denied.len(), 1);
    let Notice::RequestDenied { token, reason, .. } = notice(&denied[0]) else {
        panic!()
    };
    assert_eq!(token.name, "two");
    assert_eq!(reason.as_deref(), Some("Use the shared bot instead."));
}

#[tokio::test]
async fn a_refused_review_writes_no_message() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let acme = app.org_named("acme").await.unwrap();
    let t = fine_grained(&app, &bob, "one", Some("acme"), &[("contents", "read")]).await;
    let r = pending_request_of(&app, t.token.id).await;
    app.review_requests(&acme, &alice_actor(), &[r], true, None)
        .await
        .unwrap();
    let before = outbox(&app).await.len();
    // Decided already: refused, and nobody is told again.
    assert!(matches!(
        app.review_requests(&acme, &alice_actor(), &[r], false, Some("no"))
            .await,
        Err(AppError::Validation(_))
    ));
    assert_eq!(outbox(&app).await.len(), before);
}

#[tokio::test]
async fn revocations_tell_the_tokens_user() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let acme = app.org_named("acme").await.unwrap();
    let t = fine_grained(&app, &bob, "one", Some("acme"), &[("contents", "read")]).await;
    let r = pending_request_of(&app, t.token.id).await;
    app.review_requests(&acme, &alice_actor(), &[r], true, None)
        .await
        .unwrap();
    let grant = app
        .store()
        .grant_of_token(t.token.id)
        .await
        .unwrap()
        .unwrap();
    app.revoke_org_grants(&acme, &alice_actor(), &[grant.id])
        .await
        .unwrap();
    let revoked = of_kind(&app, "access_revoked").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].recipient, "bob@example.com");
    let Notice::AccessRevoked { org, by, token, .. } = notice(&revoked[0]) else {
        panic!()
    };
    assert_eq!(
        (org.login.as_str(), by.as_deref(), token.name.as_str()),
        ("acme", Some("alice"), "one")
    );

    // A leaked classic token, submitted to the revocation API.
    let leaked = classic(&app, &bob, "leaked", &["repo"]).await;
    app.revoke_credentials(&[leaked.secret.expose().to_owned()])
        .await
        .unwrap();
    let credential = of_kind(&app, "credential_revoked").await;
    assert_eq!(credential.len(), 1);
    assert_eq!(credential[0].recipient, "bob@example.com");
    assert_eq!(credential[0].payload["token_id"], leaked.token.id.0);
}

#[tokio::test]
async fn a_member_who_leaves_hears_that_the_organization_took_its_access_back() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let acme = app.org_named("acme").await.unwrap();
    let t = fine_grained(&app, &bob, "one", Some("acme"), &[("contents", "read")]).await;
    let r = pending_request_of(&app, t.token.id).await;
    app.review_requests(&acme, &alice_actor(), &[r], true, None)
        .await
        .unwrap();
    assert!(app.remove_org_member(&acme, &bob).await.unwrap());
    let revoked = of_kind(&app, "access_revoked").await;
    assert_eq!(revoked.len(), 1);
    let Notice::AccessRevoked { explanation, .. } = notice(&revoked[0]) else {
        panic!()
    };
    assert!(
        explanation
            .unwrap()
            .contains("no longer a member of the acme")
    );
}

#[tokio::test]
async fn webhooks_get_the_request_events_with_githubs_request_fields() {
    let (app, _clock, _dir) = app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let acme = app.org_named("acme").await.unwrap();
    let hook = app
        .create_hook(
            &alice,
            "acme",
            HookSettings {
                url: Some("https://hooks.example.com/acme".into()),
                secret: Some(Some("s3cret".into())),
                ..HookSettings::default()
            },
        )
        .await
        .unwrap();
    let pings = of_kind(&app, "ping").await;
    assert_eq!(pings.len(), 1, "a new webhook is pinged");
    assert_eq!(pings[0].recipient, hook.id.to_string());

    // A member may not manage the organization's webhooks.
    assert!(matches!(
        app.hooks_of(&bob, "acme").await,
        Err(AppError::Forbidden(_))
    ));

    let t = fine_grained(&app, &bob, "asks", Some("acme"), &[("issues", "write")]).await;
    let r = pending_request_of(&app, t.token.id).await;
    let created = of_kind(&app, "personal_access_token_request").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].channel, Channel::Webhook);
    assert_eq!(
        created[0].payload["request_id"], r.0,
        "the new request's id"
    );
    let Notice::PersonalAccessTokenRequest(event) = notice(&created[0]) else {
        panic!()
    };
    assert_eq!(event.action, "created");
    assert_eq!(event.sender.login, "bob");
    assert_eq!(event.request.owner.login, "bob");
    assert_eq!(event.request.token_name, "asks");
    assert_eq!(
        event.request.permissions_added["repository"]["issues"],
        "write"
    );
    assert_eq!(
        event.request.permissions_result,
        event.request.permissions_added
    );
    assert!(event.request.permissions_upgraded.is_empty());

    app.review_requests(&acme, &alice_actor(), &[r], false, Some("no"))
        .await
        .unwrap();
    // The requester withdraws another.
    let t2 = fine_grained(&app, &bob, "asks2", Some("acme"), &[("issues", "read")]).await;
    app.cancel_token_request(&bob, t2.token.id).await.unwrap();
    let actions: Vec<String> = of_kind(&app, "personal_access_token_request")
        .await
        .iter()
        .map(|m| match notice(m) {
            Notice::PersonalAccessTokenRequest(e) => e.action,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(actions, vec!["created", "denied", "created", "cancelled"]);

    // An inactive webhook gets nothing.
    app.update_hook(
        &alice,
        "acme",
        hook.id,
        HookSettings {
            active: Some(false),
            ..HookSettings::default()
        },
    )
    .await
    .unwrap();
    fine_grained(&app, &bob, "asks3", Some("acme"), &[("issues", "read")]).await;
    assert_eq!(
        of_kind(&app, "personal_access_token_request").await.len(),
        4
    );
}

#[tokio::test]
async fn reminders_expiry_and_removal_follow_the_clock_and_never_repeat() {
    let (app, clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let t = app
        .create_classic(
            &bob,
            CreateClassic {
                note: "expiring".into(),
                scopes: vec!["repo".into()],
                expiration: Some(Expiration::Days(30)),
            },
        )
        .await
        .unwrap();
    let expires = t.token.expires_at.unwrap();
    let reminders = |app: App| async move { of_kind(&app, "expires_soon").await };

    // 8 days left: nothing yet.
    clock.set(expires - Duration::days(8));
    app.run_job(jobs::EXPIRY_REMINDERS).await.unwrap();
    assert!(reminders(app.clone()).await.is_empty());
    // 7 days left: the first reminder, once however often the job runs.
    clock.set(expires - Duration::days(7));
    app.run_job(jobs::EXPIRY_REMINDERS).await.unwrap();
    clock.advance(Duration::hours(1));
    app.run_job(jobs::EXPIRY_REMINDERS).await.unwrap();
    let sent = reminders(app.clone()).await;
    assert_eq!(sent.len(), 1);
    let Notice::ExpiresSoon { days_left, .. } = notice(&sent[0]) else {
        panic!()
    };
    assert_eq!(days_left, 7);
    // Less than a day left: the second.
    clock.set(expires - Duration::hours(20));
    app.run_job(jobs::EXPIRY_REMINDERS).await.unwrap();
    app.run_job(jobs::EXPIRY_REMINDERS).await.unwrap();
    let sent = reminders(app.clone()).await;
    assert_eq!(sent.len(), 2);
    let Notice::ExpiresSoon { days_left, .. } = notice(&sent[1]) else {
        panic!()
    };
    assert_eq!(days_left, 1);
    // Expired: one notice.
    clock.set(expires + Duration::hours(1));
    app.run_job(jobs::EXPIRED_TOKENS).await.unwrap();
    app.run_job(jobs::EXPIRED_TOKENS).await.unwrap();
    assert_eq!(of_kind(&app, "expired").await.len(), 1);
    assert_eq!(
        of_kind(&app, "expired").await[0].recipient,
        "bob@example.com"
    );
}

#[tokio::test]
async fn after_downtime_only_the_latest_stage_is_sent_and_old_expiries_are_not() {
    let (app, clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let expiring = |note: &str, days: u16| CreateClassic {
        note: note.into(),
        scopes: vec!["repo".into()],
        expiration: Some(Expiration::Days(days)),
    };
    let soon = app
        .create_classic(&bob, expiring("soon", 30))
        .await
        .unwrap();
    let long_gone = app.create_classic(&bob, expiring("gone", 7)).await.unwrap();
    let short = app
        .create_classic(&bob, expiring("short", 7))
        .await
        .unwrap();
    let _ = short;
    // The server comes back with half a day left on `soon`: only the last reminder, and the
    // 7-day token created moments ago (no 7-day stage in its life) gets none yet.
    clock.set(soon.token.expires_at.unwrap() - Duration::hours(12));
    app.run_job(jobs::EXPIRY_REMINDERS).await.unwrap();
    app.run_job(jobs::EXPIRED_TOKENS).await.unwrap();
    let names: Vec<(String, i64)> = of_kind(&app, "expires_soon")
        .await
        .iter()
        .map(|m| match notice(m) {
            Notice::ExpiresSoon {
                token, days_left, ..
            } => (token.name, days_left),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(names, vec![("soon".to_owned(), 1)]);
    // `gone` expired 23 days ago: no notice now.
    assert!(long_gone.token.expires_at.unwrap() < app.now() - Duration::days(3));
    assert!(of_kind(&app, "expired").await.is_empty());
}

#[tokio::test]
async fn a_7_day_token_gets_the_last_day_reminder_only() {
    let (app, clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let t = app
        .create_classic(
            &bob,
            CreateClassic {
                note: "week".into(),
                scopes: vec!["repo".into()],
                expiration: Some(Expiration::Days(7)),
            },
        )
        .await
        .unwrap();
    app.run_job(jobs::EXPIRY_REMINDERS).await.unwrap();
    assert!(of_kind(&app, "expires_soon").await.is_empty());
    clock.set(t.token.expires_at.unwrap() - Duration::hours(23));
    app.run_job(jobs::EXPIRY_REMINDERS).await.unwrap();
    assert_eq!(of_kind(&app, "expires_soon").await.len(), 1);
}

#[tokio::test]
async fn one_digest_per_owner_per_organization_per_day_and_none_when_nothing_waits() {
    let (app, clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    app.run_job(jobs::PENDING_DIGEST).await.unwrap();
    assert!(
        of_kind(&app, "pending_digest").await.is_empty(),
        "nothing waits"
    );

    let one = fine_grained(&app, &bob, "one", Some("acme"), &[("issues", "read")]).await;
    fine_grained(&app, &bob, "two", Some("acme"), &[("contents", "read")]).await;
    let holder = "replica-a";
    app.run_due_jobs(holder).await.unwrap();
    app.run_due_jobs("replica-b").await.unwrap();
    app.run_job(jobs::PENDING_DIGEST).await.unwrap();
    let digests = of_kind(&app, "pending_digest").await;
    assert_eq!(digests.len(), 1, "alice owns acme: one digest today");
    assert_eq!(digests[0].recipient, "alice@example.com");
    let Notice::PendingDigest {
        org,
        total,
        requests,
        ..
    } = notice(&digests[0])
    else {
        panic!()
    };
    assert_eq!((org.login.as_str(), total), ("acme", 2));
    assert_eq!(requests[0].token_name, "one", "oldest first");
    assert_eq!(requests[0].requester, "bob");

    // The next day: another, until nothing waits.
    clock.advance(Duration::days(1));
    app.run_due_jobs(holder).await.unwrap();
    assert_eq!(of_kind(&app, "pending_digest").await.len(), 2);
    let acme = app.org_named("acme").await.unwrap();
    let pending: Vec<RequestId> = app
        .store()
        .requests_of_org(acme.id, Some(RequestStatus::Pending))
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    app.review_requests(&acme, &alice_actor(), &pending, true, None)
        .await
        .unwrap();
    let _ = one;
    clock.advance(Duration::days(1));
    app.run_due_jobs(holder).await.unwrap();
    assert_eq!(of_kind(&app, "pending_digest").await.len(), 2);
}

#[tokio::test]
async fn a_token_unused_for_a_year_is_removed_and_its_user_told() {
    let (app, clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let t = classic(&app, &bob, "forgotten", &["repo"]).await;
    clock.advance(Duration::days(366));
    app.run_due_jobs("replica-a").await.unwrap();
    assert!(app.store().token_by_id(t.token.id).await.unwrap().is_none());
    let removed = of_kind(&app, "removed_unused").await;
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].recipient, "bob@example.com");
    let Notice::RemovedUnused { token, .. } = notice(&removed[0]) else {
        panic!()
    };
    assert_eq!(token.name, "forgotten");
}

#[tokio::test]
async fn each_job_runs_once_per_period_across_processes() {
    let (app, clock, _dir) = app().await;
    let first = app.run_due_jobs("replica-a").await.unwrap();
    let second = app.run_due_jobs("replica-b").await.unwrap();
    assert!(first.iter().all(|o| o.ran));
    assert!(second.iter().all(|o| !o.ran));
    // An hour later, only the hourly jobs run again.
    clock.advance(Duration::hours(1));
    let third = app.run_due_jobs("replica-b").await.unwrap();
    let ran: Vec<&str> = third.iter().filter(|o| o.ran).map(|o| o.job).collect();
    assert_eq!(ran, vec![jobs::EXPIRY_REMINDERS, jobs::EXPIRED_TOKENS]);
    assert!(matches!(
        app.run_job("no_such_job").await,
        Err(AppError::Conflict(_))
    ));
}

#[tokio::test]
async fn verifying_an_address_lets_the_user_create_fine_grained_tokens() {
    let (app, _clock, _dir) = app().await;
    let dave = user(&app, "dave").await;
    assert_eq!(
        app.send_email_verification(&dave).await.unwrap(),
        VerificationSent::Sent
    );
    assert_eq!(
        app.send_email_verification(&dave).await.unwrap(),
        VerificationSent::AlreadySent,
        "asking again at once sends nothing more"
    );
    let links = of_kind(&app, "verify_email").await;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].recipient, "dave@example.com");
    let code = links[0]
        .secret
        .clone()
        .expect("the link's secret travels with it");
    assert!(
        !links[0].payload.to_string().contains(&code),
        "the payload does not carry the secret"
    );
    // A wrong code verifies nothing.
    assert!(matches!(
        app.verify_email("0123456789abcdefghijABCDEFGHIJ0123456789ab")
            .await,
        Err(AppError::NotFound)
    ));
    let verified = app.verify_email(&code).await.unwrap();
    assert!(verified.email_verified);
    assert!(matches!(
        app.verify_email(&code).await,
        Err(AppError::NotFound)
    ));
    fine_grained(
        &app,
        &verified,
        "now allowed",
        None,
        &[("contents", "read")],
    )
    .await;
    // Verified already: nothing to send.
    assert!(matches!(
        app.send_email_verification(&verified).await,
        Err(AppError::Conflict(_))
    ));
}

/// Records deliveries; fails the first `failures` attempts.
struct Recorder {
    delivered: Mutex<Vec<i64>>,
    failures: Mutex<u32>,
}

#[async_trait]
impl Deliverer for Recorder {
    async fn deliver(&self, message: &OutboxMessage) -> Attempt {
        let mut failures = self.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return Attempt::Failed {
                error: "421 try later".into(),
                response_code: Some(421),
                permanent: false,
            };
        }
        self.delivered.lock().unwrap().push(message.id);
        Attempt::Sent {
            response_code: Some(250),
        }
    }
}

#[tokio::test]
async fn the_worker_delivers_records_attempts_and_backs_off() {
    let (app, clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    classic(&app, &bob, "one", &["repo"]).await;
    let recorder = Recorder {
        delivered: Mutex::new(Vec::new()),
        failures: Mutex::new(1),
    };
    let policy = DeliveryPolicy::default();
    let report = app.deliver_due("w", &recorder, &policy).await.unwrap();
    assert_eq!((report.sent, report.retrying), (0, 1));
    let m = &outbox(&app).await[0];
    assert_eq!(m.status, OutboxStatus::Pending);
    assert_eq!(m.attempts, 1);
    assert_eq!(m.next_attempt_at, app.now() + Duration::seconds(30));
    assert_eq!(m.last_error.as_deref(), Some("421 try later"));
    // Not due yet: nothing happens.
    let report = app.deliver_due("w", &recorder, &policy).await.unwrap();
    assert_eq!(report.attempted(), 0);
    clock.advance(Duration::seconds(30));
    let report = app.deliver_due("w", &recorder, &policy).await.unwrap();
    assert_eq!(report.sent, 1);
    let (m, attempts) = app.outbox_message(m.id).await.unwrap();
    assert_eq!(m.status, OutboxStatus::Sent);
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        attempts.iter().map(|a| a.sent).collect::<Vec<_>>(),
        vec![false, true]
    );
    assert_eq!(recorder.delivered.lock().unwrap().clone(), vec![m.id]);
    // Sent: never again.
    clock.advance(Duration::days(1));
    assert_eq!(
        app.deliver_due("w", &recorder, &policy)
            .await
            .unwrap()
            .attempted(),
        0
    );
    assert_eq!(app.outbox_counts().await.unwrap().sent, 1);
}

#[tokio::test]
async fn a_message_is_given_up_after_the_last_attempt_and_an_operator_can_retry_it() {
    let (app, clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    classic(&app, &bob, "one", &["repo"]).await;
    let recorder = Recorder {
        delivered: Mutex::new(Vec::new()),
        failures: Mutex::new(3),
    };
    let policy = DeliveryPolicy {
        max_attempts: 3,
        ..DeliveryPolicy::default()
    };
    for _ in 0..3 {
        app.deliver_due("w", &recorder, &policy).await.unwrap();
        clock.advance(Duration::hours(1));
    }
    let counts = app.outbox_counts().await.unwrap();
    assert_eq!((counts.failed, counts.pending), (1, 0));
    let id = outbox(&app).await[0].id;
    app.retry_message(id).await.unwrap();
    let report = app.deliver_due("w", &recorder, &policy).await.unwrap();
    assert_eq!(report.sent, 1);
    assert!(matches!(
        app.retry_message(999_999).await,
        Err(AppError::NotFound)
    ));
}

#[tokio::test]
async fn messages_for_an_approved_token_name_its_resource_owner() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    fine_grained(
        &app,
        &bob,
        "globex work",
        Some("globex"),
        &[("contents", "read")],
    )
    .await;
    let created = of_kind(&app, "token_created").await;
    let Notice::TokenCreated { token, .. } = notice(&created[0]) else {
        panic!()
    };
    assert_eq!(token.resource_owner.as_deref(), Some("globex"));
    assert_eq!(token.kind, "fine_grained");
    let TokenGrant::FineGrained { .. } = app
        .store()
        .token_by_id(patgate_domain::model::TokenId(
            created[0].payload["token_id"].as_i64().unwrap(),
        ))
        .await
        .unwrap()
        .unwrap()
        .grant
    else {
        panic!()
    };
}

#[tokio::test]
async fn a_member_the_platform_removes_hears_that_their_grants_were_revoked() {
    let (app, _clock, _dir) = app().await;
    let bob = user(&app, "bob").await;
    let acme = app.org_named("acme").await.unwrap();
    let t = fine_grained(&app, &bob, "one", Some("acme"), &[("contents", "read")]).await;
    let r = pending_request_of(&app, t.token.id).await;
    app.review_requests(&acme, &alice_actor(), &[r], true, None)
        .await
        .unwrap();
    let before = outbox(&app).await.len();
    assert!(
        app.admin_remove_member(
            &patgate_app::directory::Operator::service("platform"),
            "acme",
            "bob"
        )
        .await
        .unwrap()
    );
    let revoked = of_kind(&app, "access_revoked").await;
    assert_eq!(revoked.len(), 1, "one message, written with the removal");
    assert_eq!(revoked[0].recipient, "bob@example.com");
    let Notice::AccessRevoked { explanation, .. } = notice(&revoked[0]) else {
        panic!()
    };
    assert!(
        explanation
            .unwrap()
            .contains("no longer a member of the acme")
    );
    assert_eq!(outbox(&app).await.len(), before + 1);
}
