//! Issue 12 end to end: the messages patgate sends, received by a real SMTP server on loopback
//! and a real webhook receiver; jobs on a moved clock; a worker killed mid-delivery; the demo's
//! `.eml` files.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use time::macros::datetime;

use patgate_app::ManualClock;
use patgate_app::delivery::{DeliveryPolicy, DeliveryReport};
use patgate_app::governance::Actor;
use patgate_server::config::DeliverySettings;
use patgate_server::notify::Notifier;
use patgate_server::notify::mailer::SmtpSecurity;
use patgate_store::{OutboxFilter, OutboxStatus, PageQuery};

use crate::smtp_sink::{Mail, Sink};
use crate::support::{Auth, Server, spawn_with_clock};

fn settings(smtp: Option<u16>, allowed: &str) -> DeliverySettings {
    let mut d = DeliverySettings::defaults();
    if let Some(port) = smtp {
        d.smtp_host = Some("127.0.0.1".into());
        d.smtp_port = Some(port);
        d.smtp_security = SmtpSecurity::None;
        d.mail_from = "patgate <patgate@patgate.test>".into();
    }
    d.webhook_allowed_networks = allowed.parse().expect("networks");
    d
}

fn notifier(s: &Server, smtp: Option<u16>, allowed: &str, dir: &std::path::Path) -> Notifier {
    Notifier::new(
        &settings(smtp, allowed),
        dir,
        &s.base,
        s.app.store().clone(),
    )
    .expect("the notifier")
}

async fn deliver(s: &Server, n: &Notifier) -> DeliveryReport {
    s.app
        .deliver_due("test-worker", n, &DeliveryPolicy::default())
        .await
        .expect("deliver")
}

fn alice() -> Actor {
    Actor {
        id: None,
        login: "alice".into(),
    }
}

async fn pending_request(s: &Server, token: i64) -> patgate_domain::model::RequestId {
    s.app
        .store()
        .pending_request_of_token(patgate_domain::model::TokenId(token))
        .await
        .unwrap()
        .expect("a pending request")
        .id
}

fn only(mails: Vec<Mail>, subject_part: &str) -> Mail {
    let matching: Vec<Mail> = mails
        .into_iter()
        .filter(|m| m.subject().contains(subject_part))
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "exactly one message about {subject_part:?}: {:?}",
        matching.iter().map(Mail::subject).collect::<Vec<_>>()
    );
    matching.into_iter().next().unwrap()
}

#[tokio::test]
async fn every_kind_of_message_reaches_its_recipient_over_smtp() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-02 09:00 UTC)));
    let s = spawn_with_clock(clock.clone()).await;
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let n = notifier(&s, Some(sink.port), "", dir.path());
    let acme = s.app.org_named("acme").await.unwrap();

    // A security notice for a new token.
    let (classic_id, classic_secret) = s.classic("bob", "laptop", &["repo"]).await;
    // Two requests to acme: one approved, one denied with a reason; then the approved one's
    // access is revoked.
    let request = json!({"name": "deploy", "resource_owner": "acme", "repository_selection": "all",
        "permissions": {"contents": "read"}});
    let (approved_id, _) = s.fine_grained("bob", request.clone()).await;
    let (denied_id, _) = s
        .fine_grained(
            "bob",
            json!({"name": "triage", "resource_owner": "acme", "repository_selection": "all",
                "permissions": {"issues": "write"}}),
        )
        .await;
    let r1 = pending_request(&s, approved_id).await;
    let r2 = pending_request(&s, denied_id).await;
    // Before any review: the day's digest goes to acme's owner.
    s.app.run_due_jobs("replica-a").await.unwrap();
    s.app.run_due_jobs("replica-b").await.unwrap();
    s.app
        .review_requests(&acme, &alice(), &[r1], true, None)
        .await
        .unwrap();
    s.app
        .review_requests(
            &acme,
            &alice(),
            &[r2],
            false,
            Some("Use the shared triage bot instead."),
        )
        .await
        .unwrap();
    let grant = s
        .app
        .store()
        .grant_of_token(patgate_domain::model::TokenId(approved_id))
        .await
        .unwrap()
        .unwrap();
    s.app
        .revoke_org_grants(&acme, &alice(), &[grant.id])
        .await
        .unwrap();
    // A leaked token, reported.
    let (_, leaked) = s.classic("carol", "leaked", &["gist"]).await;
    s.post(
        "/credentials/revoke",
        Auth::None,
        &json!({"credentials": [leaked]}),
    )
    .await
    .expect_status(202);
    let report = deliver(&s, &n).await;
    assert_eq!(report.failed + report.retrying, 0, "{report:?}");

    let bob = sink.to("bob@example.com");
    let created = only(bob.clone(), "(classic) was added to your account");
    assert!(created.text().contains("\"laptop\""), "{}", created.text());
    assert!(
        created
            .text()
            .contains(&format!("{}/settings/tokens/{classic_id}", s.base)),
        "links into the web UI: {}",
        created.text()
    );
    assert!(
        !created.raw.contains(&classic_secret),
        "never the secret itself"
    );
    assert_eq!(
        created.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(created.from, "patgate@patgate.test", "the envelope sender");
    assert!(
        created
            .header("Message-ID")
            .unwrap()
            .ends_with("@patgate.test>")
    );
    assert!(
        created.html().contains("<a href=\""),
        "an HTML part with links"
    );

    let approved = only(bob.clone(), "approved your token \"deploy\"");
    assert!(approved.text().contains("acme"));
    assert!(
        approved.text().contains("contents: read"),
        "{}",
        approved.text()
    );
    let denied = only(bob.clone(), "denied your token \"triage\"");
    assert!(
        denied.text().contains("Use the shared triage bot instead."),
        "the reason: {}",
        denied.text()
    );
    assert!(denied.html().contains("Use the shared triage bot instead."));
    let revoked = only(bob.clone(), "revoked your token's access");
    assert!(revoked.text().contains("\"deploy\""));
    assert!(revoked.text().contains("still works for public resources"));

    let carol = sink.to("carol@example.com");
    let credential = only(carol, "\"leaked\" was revoked");
    assert!(credential.text().contains("credential revocation API"));

    let alice_mail = sink.to("alice@example.com");
    let digest = only(alice_mail, "awaiting review in acme");
    assert!(
        digest.text().contains("deploy by @bob"),
        "{}",
        digest.text()
    );
    assert!(digest.text().contains("triage by @bob"));
    assert!(digest.text().contains(&format!(
        "{}/organizations/acme/settings/personal-access-token-requests",
        s.base
    )));
    // Nobody else was written to, and dave (unverified) least of all.
    assert!(sink.to("dave@example.com").is_empty());
}

#[tokio::test]
async fn the_clock_brings_both_reminders_the_expiry_the_removal_and_one_digest_a_day() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-02 09:00 UTC)));
    let s = spawn_with_clock(clock.clone()).await;
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let n = notifier(&s, Some(sink.port), "", dir.path());
    let (_, _) = s
        .fine_grained(
            "bob",
            json!({"name": "month", "repository_selection": "all",
                "permissions": {"contents": "read"}, "expires_in": 30}),
        )
        .await;
    let (_, _) = s.classic("carol", "forgotten", &["gist"]).await;
    s.fine_grained(
        "bob",
        json!({"name": "asks", "resource_owner": "acme", "repository_selection": "all",
            "permissions": {"issues": "read"}}),
    )
    .await;
    // Two replicas tick every day: every job runs once per period.
    let tick = |clock: Arc<ManualClock>, days: i64| {
        let s = &s;
        let n = &n;
        async move {
            for _ in 0..days {
                clock.advance(time::Duration::days(1));
                s.app.run_due_jobs("replica-a").await.unwrap();
                s.app.run_due_jobs("replica-b").await.unwrap();
            }
            deliver(s, n).await;
        }
    };
    tick(clock.clone(), 45).await;
    let bob = sink.to("bob@example.com");
    let soon: Vec<String> = bob
        .iter()
        .map(Mail::subject)
        .filter(|s| s.contains("\"month\" expires"))
        .collect();
    assert_eq!(
        soon,
        vec![
            "[patgate] Your fine-grained personal access token \"month\" expires in 7 days"
                .to_owned(),
            "[patgate] Your fine-grained personal access token \"month\" expires within a day"
                .to_owned(),
        ]
    );
    let reminder = bob
        .iter()
        .find(|m| m.subject().contains("in 7 days"))
        .unwrap();
    assert!(
        reminder.text().contains("/regenerate"),
        "a link to regenerate: {}",
        reminder.text()
    );
    assert_eq!(
        bob.iter()
            .filter(|m| m.subject().contains("\"month\" has expired"))
            .count(),
        1
    );
    // alice owns acme, where bob's request waits: one digest per day, 45 days.
    let digests = sink
        .to("alice@example.com")
        .iter()
        .filter(|m| m.subject().contains("awaiting review in acme"))
        .count();
    assert_eq!(digests, 45, "one digest a day, for 45 days");
    // A year on, carol's unused token is removed and she is told, once.
    tick(clock.clone(), 325).await;
    let removed: Vec<Mail> = sink
        .to("carol@example.com")
        .into_iter()
        .filter(|m| m.subject().contains("\"forgotten\" was removed"))
        .collect();
    assert_eq!(removed.len(), 1);
    assert!(removed[0].text().contains("had not been used for a year"));
}

#[tokio::test]
async fn a_verification_link_from_the_email_verifies_the_address_in_the_browser() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-02 09:00 UTC)));
    let s = spawn_with_clock(clock).await;
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let n = notifier(&s, Some(sink.port), "", dir.path());
    let dave = s.app.store().user_by_login("dave").await.unwrap().unwrap();
    s.app.send_email_verification(&dave).await.unwrap();
    deliver(&s, &n).await;
    let mail = only(sink.to("dave@example.com"), "Verify your email address");
    let text = mail.text();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/settings/emails/verify?code="))
        .expect("a link")
        .to_owned();
    assert!(link.starts_with(&s.base));
    // The secret is forgotten once delivered.
    let listed = s
        .app
        .outbox_page(
            &OutboxFilter::default(),
            PageQuery {
                page: 1,
                per_page: 10,
                ascending: false,
            },
        )
        .await
        .unwrap();
    assert!(listed.items.iter().all(|m| m.secret.is_none()));

    // Opening the link shows a button; a scanner's GET verifies nothing.
    let page = crate::http().get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Verify my email address"));
    assert!(
        !s.app
            .store()
            .user_by_login("dave")
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    let code = link.split("code=").nth(1).unwrap();
    let verified = crate::http()
        .post(s.url("/settings/emails/verify"))
        .header("origin", &s.base)
        .form(&[("code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    assert!(verified.text().await.unwrap().contains("is verified"));
    // Now dave may create fine-grained tokens through the API.
    s.fine_grained(
        "dave",
        json!({"name": "first", "repository_selection": "none", "permissions": {}}),
    )
    .await;
    // The link works once.
    let again = crate::http()
        .post(s.url("/settings/emails/verify"))
        .header("origin", &s.base)
        .form(&[("code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    // A link to an address the user no longer has would verify nothing; a wrong one neither.
    let wrong = crate::http()
        .post(s.url("/settings/emails/verify"))
        .header("origin", &s.base)
        .form(&[("code", "not-a-code")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
}

/// A webhook receiver: records each delivery's headers and raw body, answers with the next
/// status of `statuses` (then 200).
struct Receiver {
    base: String,
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    _server: tokio::task::JoinHandle<()>,
}

async fn receiver(statuses: Vec<u16>) -> Receiver {
    let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let statuses = Arc::new(Mutex::new(statuses));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let got = got.clone();
            move |headers: HeaderMap, body: Bytes| {
                let got = got.clone();
                let statuses = statuses.clone();
                async move {
                    got.lock().unwrap().push((headers, body));
                    let mut st = statuses.lock().unwrap();
                    let code = if st.is_empty() { 200 } else { st.remove(0) };
                    axum::http::StatusCode::from_u16(code).unwrap()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        base,
        got,
        _server: server,
    }
}

/// What GitHub's documentation tells consumers to do: HMAC-SHA256 the raw body with the secret
/// and compare with `X-Hub-Signature-256` in constant time.
fn signature_is_valid(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(sig) = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
    else {
        return false;
    };
    let Ok(expected) = (0..sig.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(sig.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[tokio::test]
async fn webhook_deliveries_are_signed_as_githubs_consumers_check_and_retried() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-02 09:00 UTC)));
    let s = spawn_with_clock(clock.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let n = notifier(&s, None, "127.0.0.0/8", dir.path());
    // The receiver fails the first delivery of the request event (after the ping).
    let rx = receiver(vec![200, 503]).await;
    let secret = "It's a Secret to Everybody";
    let hook = s
        .post(
            "/orgs/acme/hooks",
            Auth::Password("alice"),
            &json!({"name": "web", "active": true, "events": ["personal_access_token_request"],
                "config": {"url": format!("{}/hook", rx.base), "content_type": "json", "secret": secret, "insecure_ssl": "0"}}),
        )
        .await
        .expect_status(201);
    let hook_id = hook.id();
    assert_eq!(hook.body["config"]["secret"], "********");
    assert_eq!(hook.body["type"], "Organization");
    deliver(&s, &n).await;
    {
        let got = rx.got.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0["x-github-event"], "ping");
        assert!(signature_is_valid(secret, &got[0].0, &got[0].1));
    }

    let (token, _) = s
        .fine_grained(
            "bob",
            json!({"name": "asks", "resource_owner": "acme", "repository_selection": "all",
                "permissions": {"issues": "write"}}),
        )
        .await;
    let request = pending_request(&s, token).await;
    let first = deliver(&s, &n).await;
    assert_eq!(first.retrying, 1, "503 is retried: {first:?}");
    // The failure shows in the deliveries, with its response code.
    let listed = s
        .get(
            &format!("/orgs/acme/hooks/{hook_id}/deliveries"),
            Auth::Password("alice"),
        )
        .await
        .expect_status(200);
    let failed = listed.body.as_array().unwrap()[0].clone();
    assert_eq!(failed["status_code"], 503);
    assert_eq!(failed["event"], "personal_access_token_request");
    assert_eq!(failed["action"], "created");
    // After the backoff it goes through.
    clock.advance(time::Duration::seconds(31));
    assert_eq!(deliver(&s, &n).await.sent, 1);
    let (headers, body) = rx.got.lock().unwrap()[2].clone();
    assert!(signature_is_valid(secret, &headers, &body));
    assert!(
        !signature_is_valid("another secret", &headers, &body),
        "a wrong secret does not verify"
    );
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    assert!(!signature_is_valid(secret, &headers, &tampered));
    assert_eq!(headers["x-github-event"], "personal_access_token_request");
    assert_eq!(headers["x-github-hook-id"], hook_id.to_string().as_str());
    assert_eq!(
        headers["x-github-hook-installation-target-type"],
        "organization"
    );
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["action"], "created");
    let r = &payload["personal_access_token_request"];
    assert_eq!(r["id"], request.0);
    assert_eq!(r["token_id"], token);
    assert_eq!(r["token_name"], "asks");
    assert_eq!(r["owner"]["login"], "bob");
    assert_eq!(r["permissions_added"]["repository"]["issues"], "write");
    assert_eq!(r["repository_selection"], "all");
    assert_eq!(r["repositories"], Value::Null);
    assert_eq!(payload["organization"]["login"], "acme");
    assert_eq!(payload["sender"]["login"], "bob");
    for field in [
        "id",
        "owner",
        "permissions_added",
        "permissions_upgraded",
        "permissions_result",
        "repository_selection",
        "repository_count",
        "repositories",
        "created_at",
        "token_id",
        "token_name",
        "token_expired",
        "token_expires_at",
        "token_last_used_at",
    ] {
        assert!(r.get(field).is_some(), "GitHub's required field {field}");
    }
    // The same delivery keeps its GUID across attempts.
    let guids: Vec<String> = rx.got.lock().unwrap()[1..3]
        .iter()
        .map(|(h, _)| h["x-github-delivery"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(guids[0], guids[1]);

    // The review is sent as `denied`; a redelivery sends the delivery again.
    let acme = s.app.org_named("acme").await.unwrap();
    s.app
        .review_requests(&acme, &alice(), &[request], false, Some("no"))
        .await
        .unwrap();
    deliver(&s, &n).await;
    let last: Value = serde_json::from_slice(&rx.got.lock().unwrap()[3].1).unwrap();
    assert_eq!(last["action"], "denied");
    let delivery_id = listed.body.as_array().unwrap()[0]["id"].as_i64().unwrap();
    s.post(
        &format!("/orgs/acme/hooks/{hook_id}/deliveries/{delivery_id}/attempts"),
        Auth::Password("alice"),
        &json!({}),
    )
    .await
    .expect_status(202);
    deliver(&s, &n).await;
    assert_eq!(rx.got.lock().unwrap().len(), 5);
    let one = s
        .get(
            &format!("/orgs/acme/hooks/{hook_id}/deliveries/{delivery_id}"),
            Auth::Password("alice"),
        )
        .await
        .expect_status(200);
    assert_eq!(one.body["request"]["payload"]["action"], "created");
    assert!(one.body["attempts_log"].as_array().unwrap().len() >= 3);
}

#[tokio::test]
async fn webhooks_may_not_reach_private_addresses_unless_the_operator_allows_them() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-02 09:00 UTC)));
    let s = spawn_with_clock(clock).await;
    let dir = tempfile::tempdir().unwrap();
    let rx = receiver(vec![]).await;
    let strict = notifier(&s, None, "", dir.path());
    for url in [
        format!("{}/hook", rx.base),
        "http://localhost:9/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://[::1]:9/hook".to_owned(),
    ] {
        s.post(
            "/orgs/acme/hooks",
            Auth::Password("alice"),
            &json!({"config": {"url": url}}),
        )
        .await
        .expect_status(201);
    }
    let report = deliver(&s, &strict).await;
    assert_eq!(report.sent, 0);
    assert_eq!(
        report.failed, 4,
        "refused for good, not retried: {report:?}"
    );
    assert!(rx.got.lock().unwrap().is_empty(), "nothing reached it");
    let failed = s
        .app
        .outbox_page(
            &OutboxFilter {
                status: Some(OutboxStatus::Failed),
                ..OutboxFilter::default()
            },
            PageQuery {
                page: 1,
                per_page: 10,
                ascending: false,
            },
        )
        .await
        .unwrap();
    assert!(
        failed.items.iter().all(|m| m
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("may not reach")),
        "{:?}",
        failed
            .items
            .iter()
            .map(|m| &m.last_error)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_hooks_api_checks_its_input_and_its_callers() {
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-02 09:00 UTC)));
    let s = spawn_with_clock(clock).await;
    let good = json!({"config": {"url": "https://hooks.example.com/x"}});
    // A member is no owner; a stranger sees nothing.
    s.post("/orgs/acme/hooks", Auth::Password("bob"), &good)
        .await
        .expect_status(403);
    s.get("/orgs/acme/hooks", Auth::Password("carol"))
        .await
        .expect_status(404);
    s.post("/orgs/acme/hooks", Auth::None, &good)
        .await
        .expect_status(401);
    for (body, field) in [
        (json!({"config": {"url": "ftp://example.com"}}), "url"),
        (
            json!({"config": {"url": "https://x.example", "content_type": "form"}}),
            "content_type",
        ),
        (
            json!({"config": {"url": "https://x.example", "insecure_ssl": "1"}}),
            "insecure_ssl",
        ),
        (
            json!({"config": {"url": "https://x.example"}, "events": ["push"]}),
            "events",
        ),
        (
            json!({"config": {"url": "https://x.example"}, "name": "email"}),
            "name",
        ),
        (json!({}), "config"),
    ] {
        let r = s
            .post("/orgs/acme/hooks", Auth::Password("alice"), &body)
            .await
            .expect_status(422);
        assert_eq!(r.body["errors"][0]["field"], field, "{r:#?}");
    }
    let r = s
        .post(
            "/orgs/acme/hooks",
            Auth::Password("alice"),
            &json!({"config": {"url": "https://x.example"}, "bogus": 1}),
        )
        .await;
    assert_eq!(r.status, 422, "unknown fields are refused: {r:#?}");
    assert!(
        s.get("/orgs/acme/hooks", Auth::Password("alice"))
            .await
            .expect_status(200)
            .body
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was created"
    );

    // Tokens: a classic token needs admin:org_hook; a fine-grained one the Webhooks permission.
    let (_, repo_only) = s.classic("alice", "repo", &["repo"]).await;
    let refused = s.get("/orgs/acme/hooks", Auth::Token(&repo_only)).await;
    assert!(matches!(refused.status, 403 | 404), "{refused:#?}");
    assert_eq!(
        refused.header("x-accepted-oauth-scopes"),
        Some("admin:org_hook"),
        "{refused:#?}"
    );
    let (_, hooks) = s.classic("alice", "hooks", &["admin:org_hook"]).await;
    let created = s
        .post("/orgs/acme/hooks", Auth::Token(&hooks), &good)
        .await
        .expect_status(201);
    let id = created.id();
    s.patch(
        &format!("/orgs/acme/hooks/{id}"),
        Auth::Token(&hooks),
        &json!({"active": false}),
    )
    .await
    .expect_status(200);
    let config = s
        .get(
            &format!("/orgs/acme/hooks/{id}/config"),
            Auth::Token(&hooks),
        )
        .await
        .expect_status(200);
    assert_eq!(config.body["url"], "https://hooks.example.com/x");
    assert_eq!(config.body["secret"], Value::Null);
    // Another organization's hook is not found through acme.
    s.get(&format!("/orgs/globex/hooks/{id}"), Auth::Password("alice"))
        .await
        .expect_status(404);
    s.delete(&format!("/orgs/acme/hooks/{id}"), Auth::Token(&hooks))
        .await
        .expect_status(204);
    s.delete(&format!("/orgs/acme/hooks/{id}"), Auth::Token(&hooks))
        .await
        .expect_status(404);
}

/// `patgate serve` as a process on `data_dir`, with `env`; its base URL and the process.
pub(crate) async fn serve(
    data_dir: &std::path::Path,
    cwd: &std::path::Path,
    args: &[&str],
    env: &[(&str, String)],
) -> (String, tokio::process::Child) {
    use tokio::io::AsyncBufReadExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_patgate"));
    cmd.current_dir(cwd)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(["--data-dir", data_dir.to_str().unwrap()])
        .args(args)
        .env("PATGATE_INSECURE_FAST_PASSWORDS", "1")
        .env("PATGATE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("patgate serve starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix("patgate listening on ") {
                return rest.split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("patgate serve exited before listening");
    })
    .await
    .expect("listening within 30 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (base, child)
}

async fn create_classic(base: &str, login: &str, note: &str) {
    let r = crate::http()
        .post(format!("{base}/authorizations"))
        .basic_auth(login, Some(format!("{login}-password")))
        .json(&json!({"note": note, "scopes": ["repo"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn the_demo_runs_from_any_directory_and_writes_every_message_as_an_eml_file() {
    // A directory with nothing in it (the demo data is part of the binary), and the README's
    // relative data directory.
    let root = tempfile::tempdir().unwrap();
    let (base, _child) = serve(std::path::Path::new("data"), root.path(), &["--demo"], &[]).await;
    create_classic(&base, "bob", "from the demo").await;
    let mail = root.path().join("data/mail");
    let start = Instant::now();
    let found = loop {
        let hit = std::fs::read_dir(&mail).ok().and_then(|entries| {
            entries.filter_map(Result::ok).map(|e| e.path()).find(|p| {
                p.extension().is_some_and(|x| x == "eml")
                    && std::fs::read_to_string(p).is_ok_and(|t| t.contains("from the demo"))
            })
        });
        if let Some(p) = hit {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no .eml file in {}",
            mail.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let eml = std::fs::read_to_string(found).unwrap();
    assert!(eml.contains("To: bob@example.com"));
    assert!(eml.contains("Subject: [patgate]"));
}

#[tokio::test]
async fn a_worker_killed_mid_delivery_loses_nothing_and_doubles_nothing() {
    let data = tempfile::tempdir().unwrap();
    let sink = Sink::start().await;
    // The first message's DATA is never answered: the worker dies waiting.
    sink.hold_next(1);
    let env = vec![
        ("PATGATE_SMTP_HOST", "127.0.0.1".to_owned()),
        ("PATGATE_SMTP_PORT", sink.port.to_string()),
        ("PATGATE_SMTP_SECURITY", "none".to_owned()),
        ("PATGATE_OUTBOX_LEASE_SECS", "2".to_owned()),
        ("PATGATE_OUTBOX_POLL_SECS", "1".to_owned()),
    ];
    let seed = data.path().join("seed.toml");
    std::fs::write(&seed, crate::support::SEED).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_patgate"))
        .args(["seed", seed.to_str().unwrap()])
        .args(["--data-dir", data.path().to_str().unwrap()])
        .env("PATGATE_INSECURE_FAST_PASSWORDS", "1")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let (base, mut first) = serve(data.path(), data.path(), &[], &env).await;
    create_classic(&base, "bob", "one").await;
    sink.wait("the first DATA", |_, received| received >= 1)
        .await;
    // Killed mid-delivery: SIGKILL, no chance to record anything.
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    assert!(sink.accepted().is_empty());

    let (base, _second) = serve(data.path(), data.path(), &[], &env).await;
    create_classic(&base, "carol", "two").await;
    sink.wait("both messages", |accepted, _| accepted.len() >= 2)
        .await;
    // Give a doubled delivery every chance to show up.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let accepted = sink.accepted();
    let mut ids: Vec<String> = accepted
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(accepted.len(), 2, "each message accepted once: {ids:?}");
    assert_eq!(ids.len(), 2);
    assert_eq!(sink.to("bob@example.com").len(), 1, "nothing lost");
    assert_eq!(sink.to("carol@example.com").len(), 1);
    // The outbox says so too.
    let stats = tokio::process::Command::new(env!("CARGO_BIN_EXE_patgate"))
        .args(["outbox", "stats", "--json"])
        .args(["--data-dir", data.path().to_str().unwrap()])
        .output()
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(v, json!({"pending": 0, "sent": 2, "failed": 0}));
}

#[tokio::test]
async fn two_processes_on_postgresql_deliver_each_message_once() {
    let Some(db) = patgate_store_sql::postgres::testing::TestDb::create().await else {
        return;
    };
    crate::replicas::seed(&db.url).await;
    let sink = Sink::start().await;
    let env = vec![
        ("PATGATE_SMTP_HOST", "127.0.0.1".to_owned()),
        ("PATGATE_SMTP_PORT", sink.port.to_string()),
        ("PATGATE_SMTP_SECURITY", "none".to_owned()),
        ("PATGATE_OUTBOX_POLL_SECS", "1".to_owned()),
    ];
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let db_args = ["--database-url", db.url.as_str()];
    let (a, _a) = serve(a_dir.path(), a_dir.path(), &db_args, &env).await;
    let (b, _b) = serve(b_dir.path(), b_dir.path(), &db_args, &env).await;
    // Twenty messages written through both processes at once.
    let mut writes = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 { a.clone() } else { b.clone() };
        writes.push(tokio::spawn(async move {
            create_classic(&base, "bob", &format!("token {i}")).await;
        }));
    }
    for w in writes {
        w.await.unwrap();
    }
    sink.wait("twenty messages", |accepted, _| accepted.len() >= 20)
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let accepted = sink.accepted();
    let mut ids: Vec<String> = accepted
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(accepted.len(), 20, "no message delivered twice");
    assert_eq!(ids.len(), 20);
    let mut notes: Vec<String> = accepted
        .iter()
        .filter_map(|m| {
            let t = m.text();
            t.split('"').nth(1).map(str::to_owned)
        })
        .collect();
    notes.sort();
    notes.dedup();
    assert_eq!(notes.len(), 20, "every token's notice arrived");
}
