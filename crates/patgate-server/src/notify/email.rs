//! Emails: each notice becomes a view (subject, what happened, the facts, what to do next, a
//! link into the web UI), rendered by one plain-text and one HTML template so that every
//! message looks and reads alike.

use askama::Template;
use time::OffsetDateTime;

use patgate_app::notify::{AccessFacts, Envelope, Notice, TokenFacts};
use patgate_store::OutboxMessage;

/// A fact the reader may want at a glance: `Token: deploy (…a1b2c3d4)`.
pub struct Fact {
    pub label: &'static str,
    pub value: String,
}

/// One line of a list (a digest's requests).
pub struct Item {
    pub title: String,
    pub detail: String,
    pub url: String,
}

/// The call to action.
pub struct Action {
    pub label: String,
    pub url: String,
}

/// What an email says, whatever its kind.
pub struct EmailView {
    pub subject: String,
    pub greeting: String,
    /// What happened, in a sentence or two.
    pub lead: String,
    pub facts: Vec<Fact>,
    /// Words someone else wrote (a denial's reason), quoted as they are.
    pub quote: Option<(String, String)>,
    pub items: Vec<Item>,
    pub more: Option<String>,
    /// What the reader can do next.
    pub next: String,
    pub action: Option<Action>,
    /// Why the reader gets this email.
    pub why: String,
    pub base_url: String,
}

#[derive(Template)]
#[template(path = "email/message.txt")]
struct TextEmail<'a> {
    v: &'a EmailView,
}

#[derive(Template)]
#[template(path = "email/message.html")]
struct HtmlEmail<'a> {
    v: &'a EmailView,
}

impl EmailView {
    pub fn text(&self) -> Result<String, askama::Error> {
        TextEmail { v: self }.render()
    }
    pub fn html(&self) -> Result<String, askama::Error> {
        HtmlEmail { v: self }.render()
    }
}

fn date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{} {}, {}, {:02}:{:02} UTC",
        t.month(),
        t.day(),
        t.year(),
        t.hour(),
        t.minute()
    )
}

fn kind_label(token: &TokenFacts) -> &'static str {
    if token.kind == "classic" {
        "personal access token (classic)"
    } else {
        "fine-grained personal access token"
    }
}

fn token_fact(token: &TokenFacts) -> Fact {
    Fact {
        label: "Token",
        value: format!("{} (…{})", token.name, token.last_eight),
    }
}

fn token_facts(token: &TokenFacts) -> Vec<Fact> {
    let mut facts = vec![token_fact(token)];
    if let Some(owner) = &token.resource_owner {
        facts.push(Fact {
            label: "Resource owner",
            value: owner.clone(),
        });
    }
    if !token.scopes.is_empty() {
        facts.push(Fact {
            label: "Scopes",
            value: token.scopes.join(", "),
        });
    }
    facts.push(Fact {
        label: "Expires",
        value: token.expires_at.map_or_else(|| "never".to_owned(), date),
    });
    facts
}

fn access_facts(access: &AccessFacts) -> Vec<Fact> {
    let repositories = match access.selection.as_str() {
        "all" => "all repositories".to_owned(),
        "subset" if !access.repositories.is_empty() => access.repositories.join(", "),
        "subset" => "selected repositories".to_owned(),
        _ => "public repositories (read-only)".to_owned(),
    };
    let permissions = if access.permissions.is_empty() {
        "none".to_owned()
    } else {
        access
            .permissions
            .iter()
            .map(|p| format!("{}: {}", p.name, p.level))
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        Fact {
            label: "Repositories",
            value: repositories,
        },
        Fact {
            label: "Permissions",
            value: permissions,
        },
    ]
}

/// The token's page in the web UI.
fn token_url(base: &str, token: &TokenFacts, id: Option<i64>) -> String {
    match (token.kind.as_str(), id) {
        ("classic", Some(id)) => format!("{base}/settings/tokens/{id}"),
        (_, Some(id)) => format!("{base}/settings/personal-access-tokens/{id}"),
        ("classic", None) => format!("{base}/settings/tokens"),
        _ => format!("{base}/settings/personal-access-tokens"),
    }
}

fn list_url(base: &str, token: &TokenFacts) -> String {
    token_url(base, token, None)
}

fn new_token_url(base: &str, token: &TokenFacts) -> String {
    format!("{}/new", list_url(base, token))
}

const WHY_ACCOUNT: &str =
    "You are receiving this email because it concerns a token of your patgate account.";

/// The view of a message, with links under `base`. `None` for a message that is not an email.
pub fn view(message: &OutboxMessage, envelope: &Envelope, base: &str) -> Option<EmailView> {
    let token_id = envelope.token_id;
    let base_url = base.to_owned();
    let greeting = |login: &str| format!("Hi @{login},");
    let v = match &envelope.notice {
        Notice::TokenCreated { user, token } => EmailView {
            subject: format!("[patgate] A {} was added to your account", kind_label(token)),
            greeting: greeting(&user.login),
            lead: format!(
                "A {} named \"{}\" was added to your account on {}.",
                kind_label(token),
                token.name,
                date(message.created_at)
            ),
            facts: token_facts(token),
            quote: None,
            items: Vec::new(),
            more: None,
            next: "If you created it, there is nothing to do. If you did not, delete it now and \
                   change your password."
                .into(),
            action: Some(Action {
                label: "Review the token".into(),
                url: token_url(base, token, token_id),
            }),
            why: WHY_ACCOUNT.into(),
            base_url,
        },
        Notice::RequestApproved {
            user,
            token,
            org,
            reviewer,
            access,
        } => {
            let mut facts = vec![
                token_fact(token),
                Fact {
                    label: "Organization",
                    value: org.login.clone(),
                },
            ];
            facts.extend(access_facts(access));
            EmailView {
                subject: format!(
                    "[patgate] {} approved your token \"{}\"",
                    org.login, token.name
                ),
                greeting: greeting(&user.login),
                lead: format!(
                    "{} approved the request of your fine-grained personal access token \"{}\" to access the {} organization.",
                    reviewer.as_deref().map_or("An owner", |r| r),
                    token.name,
                    org.login,
                ),
                facts,
                quote: None,
                items: Vec::new(),
                more: None,
                next: "The token can use this access now.".into(),
                action: Some(Action {
                    label: "View the token".into(),
                    url: token_url(base, token, token_id),
                }),
                why: WHY_ACCOUNT.into(),
                base_url,
            }
        }
        Notice::RequestDenied {
            user,
            token,
            org,
            reviewer,
            reason,
            access,
        } => {
            let mut facts = vec![
                token_fact(token),
                Fact {
                    label: "Organization",
                    value: org.login.clone(),
                },
            ];
            facts.extend(access_facts(access));
            EmailView {
                subject: format!(
                    "[patgate] {} denied your token \"{}\"",
                    org.login, token.name
                ),
                greeting: greeting(&user.login),
                lead: format!(
                    "{} denied the request of your fine-grained personal access token \"{}\" to access the {} organization.",
                    reviewer.as_deref().map_or("An owner", |r| r),
                    token.name,
                    org.login
                ),
                facts,
                quote: reason.as_ref().map(|r| {
                    (
                        format!(
                            "{} gave this reason:",
                            reviewer.as_deref().map_or("The reviewer", |r| r)
                        ),
                        r.clone(),
                    )
                }),
                items: Vec::new(),
                more: None,
                next: "You can edit the token to ask for different access; that sends a new \
                       request."
                    .into(),
                action: Some(Action {
                    label: "Edit the token".into(),
                    url: format!("{}/edit", token_url(base, token, token_id)),
                }),
                why: WHY_ACCOUNT.into(),
                base_url,
            }
        }
        Notice::AccessRevoked {
            user,
            token,
            org,
            by,
            explanation,
        } => EmailView {
            subject: format!(
                "[patgate] {} revoked your token's access",
                org.login
            ),
            greeting: greeting(&user.login),
            lead: match explanation {
                Some(e) => format!(
                    "The {} organization revoked the access of your fine-grained personal access token \"{}\". {e}",
                    org.login, token.name
                ),
                None => format!(
                    "{} revoked the access of your fine-grained personal access token \"{}\" to the {} organization.",
                    by.as_deref().map_or("An organization owner", |b| b),
                    token.name,
                    org.login
                ),
            },
            facts: vec![
                token_fact(token),
                Fact {
                    label: "Organization",
                    value: org.login.clone(),
                },
            ],
            quote: None,
            items: Vec::new(),
            more: None,
            next: "The token still works for public resources. To use the organization's \
                   resources again, create a new token and request access."
                .into(),
            action: Some(Action {
                label: "Create a new token".into(),
                url: new_token_url(base, token),
            }),
            why: WHY_ACCOUNT.into(),
            base_url,
        },
        Notice::CredentialRevoked { user, token } => EmailView {
            subject: format!("[patgate] Your token \"{}\" was revoked", token.name),
            greeting: greeting(&user.login),
            lead: format!(
                "Your {} \"{}\" was submitted to patgate's credential revocation API, so it was revoked and deleted. Someone found it where it should not be (a public repository, a log, a paste).",
                kind_label(token),
                token.name
            ),
            facts: token_facts(token),
            quote: None,
            items: Vec::new(),
            more: None,
            next: "A revoked token cannot be restored. Create a new one where you used it, and \
                   keep it out of code and logs."
                .into(),
            action: Some(Action {
                label: "Create a new token".into(),
                url: new_token_url(base, token),
            }),
            why: WHY_ACCOUNT.into(),
            base_url,
        },
        Notice::ExpiresSoon {
            user,
            token,
            days_left,
        } => {
            let when = if *days_left <= 1 {
                "within a day".to_owned()
            } else {
                format!("in {days_left} days")
            };
            EmailView {
                subject: format!(
                    "[patgate] Your {} \"{}\" expires {when}",
                    kind_label(token),
                    token.name
                ),
                greeting: greeting(&user.login),
                lead: format!(
                    "Your {} \"{}\" will expire {when}.",
                    kind_label(token),
                    token.name
                ),
                facts: token_facts(token),
                quote: None,
                items: Vec::new(),
                more: None,
                next: "If you still need it, regenerate it: you get a new secret with a new \
                       expiry, and the old secret stops working."
                    .into(),
                action: Some(Action {
                    label: "Regenerate the token".into(),
                    url: format!("{}/regenerate", token_url(base, token, token_id)),
                }),
                why: WHY_ACCOUNT.into(),
                base_url,
            }
        }
        Notice::Expired { user, token } => EmailView {
            subject: format!(
                "[patgate] Your {} \"{}\" has expired",
                kind_label(token),
                token.name
            ),
            greeting: greeting(&user.login),
            lead: format!(
                "Your {} \"{}\" expired{} and no longer works.",
                kind_label(token),
                token.name,
                token
                    .expires_at
                    .map_or(String::new(), |t| format!(" on {}", date(t)))
            ),
            facts: token_facts(token),
            quote: None,
            items: Vec::new(),
            more: None,
            next: "To keep using it, regenerate it with a new expiry.".into(),
            action: Some(Action {
                label: "Regenerate the token".into(),
                url: format!("{}/regenerate", token_url(base, token, token_id)),
            }),
            why: WHY_ACCOUNT.into(),
            base_url,
        },
        Notice::RemovedUnused { user, token } => EmailView {
            subject: format!(
                "[patgate] Your unused token \"{}\" was removed",
                token.name
            ),
            greeting: greeting(&user.login),
            lead: format!(
                "Your {} \"{}\" had not been used for a year, so patgate removed it.",
                kind_label(token),
                token.name
            ),
            facts: token_facts(token),
            quote: None,
            items: Vec::new(),
            more: None,
            next: "If you need a token again, create a new one.".into(),
            action: Some(Action {
                label: "Create a new token".into(),
                url: new_token_url(base, token),
            }),
            why: WHY_ACCOUNT.into(),
            base_url,
        },
        Notice::PendingDigest {
            user,
            org,
            day: _,
            total,
            requests,
        } => {
            let listing = format!(
                "{base}/organizations/{}/settings/personal-access-token-requests",
                org.login
            );
            let items = requests
                .iter()
                .map(|r| Item {
                    title: format!("{} by @{}", r.token_name, r.requester),
                    detail: {
                        let perms: Vec<String> = r
                            .access
                            .permissions
                            .iter()
                            .map(|p| format!("{}: {}", p.name, p.level))
                            .collect();
                        let mut d = format!(
                            "requested {}; {}",
                            date(r.created_at),
                            if perms.is_empty() {
                                "no permissions".to_owned()
                            } else {
                                perms.join(", ")
                            }
                        );
                        if let Some(reason) = &r.reason {
                            d.push_str(&format!(" — \"{reason}\""));
                        }
                        d
                    },
                    url: format!("{listing}/{}", r.request_id),
                })
                .collect();
            let shown = u64::try_from(requests.len()).unwrap_or(u64::MAX);
            EmailView {
                subject: format!(
                    "[patgate] {total} fine-grained token request{} awaiting review in {}",
                    if *total == 1 { "" } else { "s" },
                    org.login
                ),
                greeting: greeting(&user.login),
                lead: format!(
                    "{total} fine-grained personal access token{} {} waiting for an owner of {} to approve or deny {}.",
                    if *total == 1 { "" } else { "s" },
                    if *total == 1 { "is" } else { "are" },
                    org.login,
                    if *total == 1 { "it" } else { "them" },
                ),
                facts: Vec::new(),
                quote: None,
                items,
                more: (*total > shown).then(|| format!("and {} more", total - shown)),
                next: "Review them, one at a time or several at once.".into(),
                action: Some(Action {
                    label: "Review pending requests".into(),
                    url: listing,
                }),
                why: format!(
                    "You are receiving this daily email because you are an owner of the {} organization and requests await review.",
                    org.login
                ),
                base_url,
            }
        }
        Notice::VerifyEmail {
            user,
            email,
            expires_at,
        } => EmailView {
            subject: "[patgate] Verify your email address".into(),
            greeting: greeting(&user.login),
            lead: format!(
                "Open the link below to verify {email} for your patgate account. Once it is verified you can create fine-grained personal access tokens."
            ),
            facts: vec![Fact {
                label: "Link expires",
                value: date(*expires_at),
            }],
            quote: None,
            items: Vec::new(),
            more: None,
            next: "If you did not ask for this, ignore this email.".into(),
            action: Some(Action {
                label: "Verify my email address".into(),
                url: format!(
                    "{base}/settings/emails/verify?code={}",
                    message.secret.as_deref().unwrap_or("")
                ),
            }),
            why: "You are receiving this email because someone asked to verify this address for a patgate account.".into(),
            base_url,
        },
        Notice::PersonalAccessTokenRequest(_) | Notice::Ping { .. } => return None,
    };
    Some(v)
}
