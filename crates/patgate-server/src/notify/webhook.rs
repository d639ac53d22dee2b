//! Webhook deliveries in GitHub's shape: the `personal_access_token_request` and `ping` bodies,
//! GitHub's headers, and `X-Hub-Signature-256`, the HMAC-SHA256 of the exact body with the
//! webhook's secret.
//!
//! A webhook URL is an owner's choice of where patgate connects, so it is checked on every
//! delivery: only public addresses (and the networks the operator allows) are reached, the
//! name is resolved by patgate itself and every address it resolves to is checked, and
//! redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use patgate_app::delivery::Attempt;
use patgate_app::notify::{Envelope, Notice, OrgFacts, Person, REQUEST_EVENT, RequestEvent};
use patgate_domain::model::AccountKind;
use patgate_store::{OutboxMessage, Webhook};

use crate::api::json;
use crate::net::client::Networks;

/// Where webhooks may connect: public addresses, and the operator's allowed networks.
#[derive(Clone, Debug, Default)]
pub struct NetworkPolicy {
    pub allowed: Networks,
}

impl NetworkPolicy {
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allowed.contains(ip) || is_public(ip)
    }
}

/// An address on the public internet: not loopback, private, link-local, shared (CGNAT),
/// unique-local, multicast, documentation or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// A name that resolves only to addresses webhooks may not reach: no retry will change that.
#[derive(Debug)]
struct Blocked(String);

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

/// Resolves names for the HTTP client, keeping only the addresses the policy permits.
struct GuardedResolver {
    policy: Arc<NetworkPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if permitted.is_empty() {
                return Err(Box::new(Blocked(format!(
                    "{host} resolves only to addresses webhooks may not reach ({}; see --webhook-allowed-networks)",
                    found
                        .iter()
                        .map(|a| a.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: reqwest::dns::Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

/// Sends webhook deliveries.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    policy: Arc<NetworkPolicy>,
}

impl WebhookSender {
    // The provider is installed on the line above the builder.
    #[allow(clippy::disallowed_methods)]
    pub fn new(policy: NetworkPolicy, timeout: Duration) -> anyhow::Result<WebhookSender> {
        crate::tls::install_default_provider();
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .user_agent(concat!("patgate-Hookshot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(WebhookSender { client, policy })
    }

    /// Delivers one message to `hook`.
    pub async fn send(
        &self,
        message: &OutboxMessage,
        envelope: &Envelope,
        hook: &Webhook,
        base_url: &str,
    ) -> Attempt {
        let Some((event, body)) = body(envelope, hook, base_url) else {
            return permanent("not a webhook event");
        };
        let url = match reqwest::Url::parse(&hook.url) {
            Ok(u) => u,
            Err(e) => return permanent(&format!("the webhook's URL: {e}")),
        };
        // A literal address is not resolved, so the resolver's check does not see it.
        let literal = url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok());
        if let Some(ip) = literal
            && !self.policy.permits(ip)
        {
            return permanent(&format!(
                "{ip} is an address webhooks may not reach (see --webhook-allowed-networks)"
            ));
        }
        let bytes = body.to_string().into_bytes();
        let mut request = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", delivery_guid(message))
            .header("X-GitHub-Hook-Id", hook.id.to_string())
            .header(
                "X-GitHub-Hook-Installation-Target-Id",
                hook.org.0.to_string(),
            )
            .header("X-GitHub-Hook-Installation-Target-Type", "organization");
        if let Some(secret) = &hook.secret {
            request = request.header("X-Hub-Signature-256", signature(secret, &bytes));
        }
        match request.body(bytes).send().await {
            Ok(response) => {
                let code = response.status().as_u16();
                if response.status().is_success() {
                    Attempt::Sent {
                        response_code: Some(code),
                    }
                } else {
                    // The receiver may be overloaded or restarting (5xx, 408, 429): try again
                    // later. Any other answer will not change by itself.
                    let transient =
                        response.status().is_server_error() || code == 408 || code == 429;
                    Attempt::Failed {
                        error: format!("the receiver answered {}", response.status()),
                        response_code: Some(code),
                        permanent: !transient,
                    }
                }
            }
            Err(e) => Attempt::Failed {
                error: describe(&e),
                response_code: None,
                permanent: is_blocked(&e),
            },
        }
    }
}

fn is_blocked(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<Blocked>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn permanent(error: &str) -> Attempt {
    Attempt::Failed {
        error: error.to_owned(),
        response_code: None,
        permanent: true,
    }
}

/// The error with its causes: reqwest's own message is often just "error sending request".
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `sha256=` and the hex HMAC-SHA256 of `body` keyed with `secret`: what GitHub's consumers
/// check.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// The delivery's GUID: the same for every attempt of one message, so a receiver can drop a
/// second copy.
pub fn delivery_guid(message: &OutboxMessage) -> String {
    let digest = Sha256::digest(format!("{}:{}", message.id, message.dedupe_key).as_bytes());
    let h: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[16..20],
        &h[20..32]
    )
}

fn user_json(base: &str, p: &Person) -> Value {
    json::simple_account(base, &p.login, p.id, AccountKind::User, p.site_admin)
}

/// GitHub's `organization-simple-webhooks`.
fn org_json(base: &str, o: &OrgFacts) -> Value {
    let url = format!("{base}/orgs/{}", o.login);
    json!({
        "login": o.login,
        "id": o.id,
        "node_id": json::node_id("Organization", o.id),
        "url": url,
        "repos_url": format!("{url}/repos"),
        "events_url": format!("{url}/events"),
        "hooks_url": format!("{url}/hooks"),
        "issues_url": format!("{url}/issues"),
        "members_url": format!("{url}/members{{/member}}"),
        "public_members_url": format!("{url}/public_members{{/member}}"),
        "avatar_url": format!("{base}/avatars/{}", o.login),
        "description": Value::Null,
    })
}

/// GitHub's `personal-access-token-request` webhook object.
fn request_json(base: &str, envelope: &Envelope, e: &RequestEvent) -> Value {
    let r = &e.request;
    let repositories = r.repositories.as_ref().map(|repos| {
        repos
            .iter()
            .map(|x| {
                json!({
                    "id": x.id,
                    "node_id": json::node_id("Repository", x.id),
                    "name": x.name,
                    "full_name": x.full_name,
                    "private": x.private,
                })
            })
            .collect::<Vec<_>>()
    });
    json!({
        "id": r.id.or(envelope.request_id),
        "owner": user_json(base, &r.owner),
        "permissions_added": r.permissions_added,
        "permissions_upgraded": r.permissions_upgraded,
        "permissions_result": r.permissions_result,
        "repository_selection": r.repository_selection,
        "repository_count": repositories.as_ref().map(Vec::len),
        "repositories": repositories,
        "created_at": json::ts(r.created_at),
        "token_id": envelope.token_id,
        "token_name": r.token_name,
        "token_expired": r.token_expired,
        "token_expires_at": json::opt_ts(r.token_expires_at),
        "token_last_used_at": json::opt_ts(r.token_last_used_at),
    })
}

/// GitHub's `hook` object, as a `ping` carries it.
pub fn hook_json(base: &str, org_login: &str, hook: &Webhook) -> Value {
    let url = format!("{base}/orgs/{org_login}/hooks/{}", hook.id);
    json!({
        "type": "Organization",
        "id": hook.id,
        "name": "web",
        "active": hook.active,
        "events": hook.events,
        "config": {
            "url": hook.url,
            "content_type": "json",
            "insecure_ssl": "0",
            "secret": hook.secret.as_ref().map(|_| "********"),
        },
        "updated_at": json::ts(hook.created_at),
        "created_at": json::ts(hook.created_at),
        "url": url,
        "ping_url": format!("{url}/pings"),
        "deliveries_url": format!("{url}/deliveries"),
    })
}

/// The event's name and body.
pub fn body(envelope: &Envelope, hook: &Webhook, base: &str) -> Option<(&'static str, Value)> {
    match &envelope.notice {
        Notice::PersonalAccessTokenRequest(e) => Some((
            REQUEST_EVENT,
            json!({
                "action": e.action,
                "personal_access_token_request": request_json(base, envelope, e),
                "organization": org_json(base, &e.org),
                "sender": user_json(base, &e.sender),
            }),
        )),
        Notice::Ping {
            hook_id,
            org,
            sender,
        } => Some((
            "ping",
            json!({
                "zen": "Keep it logically awesome.",
                "hook_id": hook_id,
                "hook": hook_json(base, &org.login, hook),
                "organization": org_json(base, org),
                "sender": user_json(base, sender),
            }),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_documented_signature_example() {
        // From GitHub's "Validating webhook deliveries".
        assert_eq!(
            signature("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn only_public_addresses_unless_allowed() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = private.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
            assert!(!is_public(ip), "{private}");
            assert!(!NetworkPolicy::default().permits(ip), "{private}");
        }
        for public in ["140.82.112.3", "8.8.8.8", "2606:4700::1111"] {
            let ip: IpAddr = public.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
            assert!(is_public(ip), "{public}");
        }
        let policy = NetworkPolicy {
            allowed: "127.0.0.0/8".parse().unwrap_or_default(),
        };
        assert!(policy.permits("127.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!(!policy.permits("10.0.0.1".parse().unwrap_or(IpAddr::from([127, 0, 0, 1]))));
    }
}
