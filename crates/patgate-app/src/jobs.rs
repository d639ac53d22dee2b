//! Scheduled jobs. Each runs once per period across every process sharing the database: the
//! process that claims the period in the store runs it, the others skip it.
//!
//! None floods after downtime: a reminder is sent at most once per stage of a token's
//! lifetime (and only the latest stage it has reached), an expiry notice only for tokens that
//! expired in the last [`EXPIRED_NOTICE_DAYS`], a digest only for today. Every message has a
//! key naming its event, so running a job twice (or `patgate job run`) sends nothing twice.

use std::collections::HashMap;

use serde_json::json;
use time::{Duration, OffsetDateTime};

use patgate_domain::catalog::OrgRole;
use patgate_domain::model::{Token, TokenGrant, User};
use patgate_domain::token::TokenKind;
use patgate_store::{NewAuditEvent, NewOutboxMessage, OrgTokenFilter, PageQuery};

use crate::notify::{self, DigestItem, Notice, OrgFacts, Person, RemovalNotice};
use crate::{App, AppError};

/// GitHub removes personal access tokens that have not been used for a year (seed 004).
pub const UNUSED_TOKEN_DAYS: i64 = 365;
/// Reminders go out when a token has this many days left, then this many.
pub const REMINDER_DAYS: [i64; 2] = [7, 1];
/// Tokens that expired longer ago than this get no expiry notice (the server was down).
pub const EXPIRED_NOTICE_DAYS: i64 = 3;
/// A digest lists this many requests, oldest first, and says how many more wait.
pub const DIGEST_ITEMS: u32 = 25;

pub const EXPIRY_REMINDERS: &str = "expiry_reminders";
pub const EXPIRED_TOKENS: &str = "expired_tokens";
pub const REMOVE_UNUSED_TOKENS: &str = "remove_unused_tokens";
pub const PENDING_DIGEST: &str = "pending_digest";
pub const REMOVE_STALE_SESSIONS: &str = "remove_stale_sessions";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Hourly,
    Daily,
}

impl Period {
    /// The period `t` falls in: `2026-11-21` or `2026-11-21T09`.
    pub fn of(self, t: OffsetDateTime) -> String {
        let t = t.to_offset(time::UtcOffset::UTC);
        match self {
            Period::Daily => day(t),
            Period::Hourly => format!("{}T{:02}", day(t), t.hour()),
        }
    }
}

/// A scheduled job.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub name: &'static str,
    pub period: Period,
    pub about: &'static str,
}

pub const JOBS: &[Job] = &[
    Job {
        name: EXPIRY_REMINDERS,
        period: Period::Hourly,
        about: "emails the users whose tokens expire within 7 days, and again within 1 day",
    },
    Job {
        name: EXPIRED_TOKENS,
        period: Period::Hourly,
        about: "emails the users whose tokens expired (in the last 3 days)",
    },
    Job {
        name: REMOVE_UNUSED_TOKENS,
        period: Period::Daily,
        about: "deletes personal access tokens unused for a year, telling their users",
    },
    Job {
        name: PENDING_DIGEST,
        period: Period::Daily,
        about: "emails each organization owner the requests awaiting review",
    },
    Job {
        name: REMOVE_STALE_SESSIONS,
        period: Period::Daily,
        about: "forgets web sessions that have ended",
    },
];

pub fn job_named(name: &str) -> Option<&'static Job> {
    JOBS.iter().find(|j| j.name == name)
}

/// What a job run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobOutcome {
    pub job: &'static str,
    pub period: String,
    /// `false` when another process (or an earlier tick) had already claimed the period.
    pub ran: bool,
    /// Tokens removed, messages written, sessions forgotten.
    pub affected: usize,
}

fn day(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl App {
    /// Runs every job whose current period this process can claim. Called on a timer by
    /// `serve`.
    pub async fn run_due_jobs(&self, holder: &str) -> Result<Vec<JobOutcome>, AppError> {
        let now = self.now();
        let mut outcomes = Vec::new();
        for job in JOBS {
            let period = job.period.of(now);
            let claimed = self
                .store()
                .claim_job_run(job.name, &period, holder, now)
                .await?;
            let affected = if claimed {
                self.run_job_body(job.name, now).await?
            } else {
                0
            };
            outcomes.push(JobOutcome {
                job: job.name,
                period,
                ran: claimed,
                affected,
            });
        }
        Ok(outcomes)
    }

    /// Runs one job now, whether or not its period has run (`patgate job run NAME`).
    pub async fn run_job(&self, name: &str) -> Result<JobOutcome, AppError> {
        let job = job_named(name).ok_or_else(|| {
            AppError::Conflict(format!(
                "no job named {name:?}; the jobs are {}",
                JOBS.iter().map(|j| j.name).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let now = self.now();
        let affected = self.run_job_body(job.name, now).await?;
        Ok(JobOutcome {
            job: job.name,
            period: job.period.of(now),
            ran: true,
            affected,
        })
    }

    async fn run_job_body(&self, name: &str, now: OffsetDateTime) -> Result<usize, AppError> {
        let outcome = self.run_job_uncounted(name, now).await;
        self.counters().job_ran(name, outcome.is_ok());
        outcome
    }

    async fn run_job_uncounted(&self, name: &str, now: OffsetDateTime) -> Result<usize, AppError> {
        match name {
            EXPIRY_REMINDERS => self.send_expiry_reminders(now).await,
            EXPIRED_TOKENS => self.send_expired_notices(now).await,
            REMOVE_UNUSED_TOKENS => self.remove_unused_tokens(now).await,
            PENDING_DIGEST => self.send_pending_digests(now).await,
            REMOVE_STALE_SESSIONS => {
                let idle = self.config().session_lifetime.idle;
                let n = self.store().delete_stale_sessions(now, now - idle).await?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
            _ => Ok(0),
        }
    }

    async fn enqueue(&self, messages: &[NewOutboxMessage]) -> Result<usize, AppError> {
        if messages.is_empty() {
            return Ok(0);
        }
        let written = self.store().enqueue(messages).await?;
        if written > 0 {
            self.outbox_written();
        }
        Ok(usize::try_from(written).unwrap_or(usize::MAX))
    }

    /// The users of `tokens`, by id.
    async fn users_of(&self, tokens: &[Token]) -> Result<HashMap<i64, User>, AppError> {
        let mut ids: Vec<_> = tokens.iter().map(|t| t.user).collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(self
            .store()
            .accounts_by_ids(&ids)
            .await?
            .into_iter()
            .filter_map(|a| match a {
                patgate_store::Account::User(u) => Some((u.id.0, u)),
                patgate_store::Account::Organization(_) => None,
            })
            .collect())
    }

    async fn resource_owners(&self, tokens: &[Token]) -> Result<HashMap<i64, String>, AppError> {
        let mut ids: Vec<_> = tokens
            .iter()
            .filter_map(|t| match &t.grant {
                TokenGrant::FineGrained { resource_owner, .. } => Some(*resource_owner),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(self
            .store()
            .accounts_by_ids(&ids)
            .await?
            .into_iter()
            .map(|a| (a.id().0, a.login().to_owned()))
            .collect())
    }

    fn owner_of<'a>(owners: &'a HashMap<i64, String>, token: &Token) -> Option<&'a str> {
        match &token.grant {
            TokenGrant::FineGrained { resource_owner, .. } => {
                owners.get(&resource_owner.0).map(String::as_str)
            }
            _ => None,
        }
    }

    /// Reminds users of tokens about to expire: once when 7 days or fewer are left, once more
    /// when 1 day or less is. A token whose whole lifetime is shorter than a stage (a 7-day
    /// token at creation) skips that stage; a stage missed during downtime is skipped once the
    /// next one is reached. Regenerating starts over (the keys name the secret's issue time).
    pub async fn send_expiry_reminders(&self, now: OffsetDateTime) -> Result<usize, AppError> {
        let [first, last] = REMINDER_DAYS;
        let tokens = self
            .store()
            .tokens_expiring_between(now, now + Duration::days(first))
            .await?;
        let users = self.users_of(&tokens).await?;
        let owners = self.resource_owners(&tokens).await?;
        let mut messages = Vec::new();
        for token in &tokens {
            let Some(expires_at) = token.expires_at else {
                continue;
            };
            let left = expires_at - now;
            let stage = if left <= Duration::days(last) {
                last
            } else {
                first
            };
            if expires_at - token.issued_at <= Duration::days(stage) {
                continue;
            }
            let Some(user) = users.get(&token.user.0) else {
                continue;
            };
            // Whole days left, rounded up: "expires in 7 days" until the last day.
            let days_left = (left.whole_seconds() + 86_399) / 86_400;
            messages.extend(notify::email_to(
                user,
                format!(
                    "email:expires_soon:{}:{}:{stage}d",
                    token.id.0,
                    token.issued_at.unix_timestamp()
                ),
                Some(token.id),
                None,
                Notice::ExpiresSoon {
                    user: Person::of(user),
                    token: notify::token_facts(token, Self::owner_of(&owners, token)),
                    days_left,
                },
                now,
            ));
        }
        self.enqueue(&messages).await
    }

    /// Tells users their token expired (tokens that expired in the last
    /// [`EXPIRED_NOTICE_DAYS`]; an expired token stops working at once, notice or not).
    pub async fn send_expired_notices(&self, now: OffsetDateTime) -> Result<usize, AppError> {
        let tokens = self
            .store()
            .tokens_expiring_between(now - Duration::days(EXPIRED_NOTICE_DAYS), now)
            .await?;
        let users = self.users_of(&tokens).await?;
        let owners = self.resource_owners(&tokens).await?;
        let messages: Vec<_> = tokens
            .iter()
            .filter_map(|token| {
                let user = users.get(&token.user.0)?;
                notify::email_to(
                    user,
                    format!(
                        "email:expired:{}:{}",
                        token.id.0,
                        token.issued_at.unix_timestamp()
                    ),
                    Some(token.id),
                    None,
                    Notice::Expired {
                        user: Person::of(user),
                        token: notify::token_facts(token, Self::owner_of(&owners, token)),
                    },
                    now,
                )
            })
            .collect();
        self.enqueue(&messages).await
    }

    /// Sends each owner of each organization with pending requests the day's digest: the
    /// oldest [`DIGEST_ITEMS`] requests and how many wait in all. None when nothing waits.
    pub async fn send_pending_digests(&self, now: OffsetDateTime) -> Result<usize, AppError> {
        let today = day(now);
        let mut messages = Vec::new();
        for org_id in self.store().orgs_with_pending_requests().await? {
            let Some(org) = self.store().org_by_id(org_id).await? else {
                continue;
            };
            let owners: Vec<User> = self
                .store()
                .org_members(org.id)
                .await?
                .into_iter()
                .filter(|(_, role)| *role == OrgRole::Owner)
                .map(|(u, _)| u)
                .collect();
            if owners.is_empty() {
                continue;
            }
            let listing = self
                .store()
                .list_requests(
                    org.id,
                    &OrgTokenFilter::default(),
                    PageQuery {
                        page: 1,
                        per_page: DIGEST_ITEMS,
                        ascending: true,
                    },
                )
                .await?;
            if listing.total == 0 {
                continue;
            }
            let mut repos: Vec<_> = listing
                .items
                .iter()
                .flat_map(|l| l.request.access.repositories.iter().copied())
                .collect();
            repos.sort_unstable();
            repos.dedup();
            let names: HashMap<_, _> = self
                .store()
                .repos_by_ids(&repos)
                .await?
                .into_iter()
                .map(|r| (r.id, r.full_name()))
                .collect();
            let items: Vec<DigestItem> = listing
                .items
                .iter()
                .map(|l| DigestItem {
                    request_id: l.request.id.0,
                    token_name: l.token.name.clone(),
                    requester: l.owner.login.clone(),
                    created_at: l.request.created_at,
                    reason: l.request.reason.clone(),
                    access: notify::AccessFacts {
                        selection: l.request.access.selection.as_str().to_owned(),
                        repositories: l
                            .request
                            .access
                            .repositories
                            .iter()
                            .filter_map(|id| names.get(id).cloned())
                            .collect(),
                        permissions: l
                            .request
                            .access
                            .permissions
                            .iter()
                            .map(|(p, lv)| notify::PermissionLine {
                                name: p.name().to_owned(),
                                level: lv.as_str().to_owned(),
                            })
                            .collect(),
                    },
                })
                .collect();
            for owner in &owners {
                messages.extend(notify::email_to(
                    owner,
                    format!("email:pending_digest:{}:{}:{today}", org.id.0, owner.id.0),
                    None,
                    None,
                    Notice::PendingDigest {
                        user: Person::of(owner),
                        org: OrgFacts::of(&org),
                        day: today.clone(),
                        total: listing.total,
                        requests: items.clone(),
                    },
                    now,
                ));
            }
        }
        self.enqueue(&messages).await
    }

    /// Deletes personal access tokens unused for a year (and, with them, the deploy keys they
    /// created), each with an audit row explaining why and a message to its user.
    pub async fn remove_unused_tokens(&self, now: OffsetDateTime) -> Result<usize, AppError> {
        let cutoff = now - Duration::days(UNUSED_TOKEN_DAYS);
        let ids = self.store().tokens_unused_since(cutoff).await?;
        let mut removed = 0;
        for id in ids {
            let Some(token) = self.store().token_by_id(id).await? else {
                continue;
            };
            let action = match token.kind() {
                TokenKind::Classic => "oauth_access.destroy",
                _ => "personal_access_token.destroy",
            };
            let event = NewAuditEvent {
                action: action.to_owned(),
                actor: None,
                actor_login: None,
                org: None,
                token_id: Some(id),
                data: json!({
                    "user_programmatic_access_name": token.name,
                    "explanation": "unused for one year",
                }),
                created_at: now,
            };
            let notice = self
                .removal_notice(&token, RemovalNotice::RemovedUnused)
                .await?;
            match self
                .store()
                .delete_token_with_outbox(id, &[event], notice.as_slice())
                .await
            {
                Ok(_) => {
                    removed += 1;
                    if notice.is_some() {
                        self.outbox_written();
                    }
                }
                // Deleted meanwhile by its owner or another process: nothing left to do.
                Err(patgate_store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            self.forget_token(id);
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_utc_days_and_hours() {
        let t = time::macros::datetime!(2026-11-21 23:30 -02:00);
        assert_eq!(Period::Daily.of(t), "2026-11-22");
        assert_eq!(Period::Hourly.of(t), "2026-11-22T01");
    }

    #[test]
    fn every_job_has_a_distinct_name() {
        let mut names: Vec<_> = JOBS.iter().map(|j| j.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), JOBS.len());
        assert!(job_named(PENDING_DIGEST).is_some());
        assert!(job_named("nope").is_none());
    }
}
