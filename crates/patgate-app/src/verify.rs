//! Token verification: parse (prefix, length, alphabet, checksum) → SHA-256 → in-process cache →
//! store. The cache is keyed by the token's hash, never the token, and entries are dropped at
//! write time by the process that changes a token; other processes see the change within the TTL.
//!
//! "Last used" is kept in memory and flushed to the store in batches, at most once per
//! `LAST_USED_GRANULARITY` per token, so verification never writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use moka::sync::Cache;
use time::OffsetDateTime;

use patgate_domain::model::{AccountId, Credential, TokenId};
use patgate_domain::token::TokenHash;

use crate::{App, AppError};

/// A token's last-used time is recorded at most this often (seconds).
pub const LAST_USED_GRANULARITY: i64 = 30;

/// What the cache holds for a verified token.
#[derive(Debug)]
pub struct VerifiedToken {
    pub credential: Credential,
    /// The token's name (fine-grained) or note (classic), for logs and errors.
    pub name: String,
    last_recorded: AtomicI64,
}

impl VerifiedToken {
    pub fn new(credential: Credential, name: String, last_used: Option<OffsetDateTime>) -> Self {
        VerifiedToken {
            credential,
            name,
            last_recorded: AtomicI64::new(last_used.map_or(i64::MIN, |t| t.unix_timestamp())),
        }
    }
}

pub(crate) struct VerifyCache {
    tokens: Cache<TokenHash, Arc<VerifiedToken>>,
    pending_last_used: Mutex<HashMap<TokenId, OffsetDateTime>>,
}

impl VerifyCache {
    pub(crate) fn new(ttl: Duration, capacity: u64) -> Self {
        VerifyCache {
            tokens: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build(),
            pending_last_used: Mutex::new(HashMap::new()),
        }
    }
}

impl App {
    /// Verifies a presented token. Malformed tokens are refused before any lookup; unknown,
    /// expired or deleted ones get the same `BadCredentials`.
    pub async fn verify(&self, presented: &str) -> Result<Arc<VerifiedToken>, AppError> {
        let parsed = self
            .token_format()
            .parse(presented)
            .map_err(|_| AppError::BadCredentials)?;
        let hash = parsed.hash();
        let now = self.now();
        let cache = &self.inner.verify;
        let verified = match cache.tokens.get(&hash) {
            Some(hit) => hit,
            None => {
                let token = self
                    .store()
                    .token_by_hash(&hash)
                    .await?
                    .ok_or(AppError::BadCredentials)?;
                let verified = Arc::new(VerifiedToken::new(
                    token.credential(),
                    token.name.clone(),
                    token.last_used_at,
                ));
                cache.tokens.insert(hash, verified.clone());
                verified
            }
        };
        if verified.credential.expires_at.is_some_and(|e| e <= now) {
            return Err(AppError::BadCredentials);
        }
        self.note_use(&verified, now);
        Ok(verified)
    }

    fn note_use(&self, verified: &VerifiedToken, now: OffsetDateTime) {
        let secs = now.unix_timestamp();
        let last = verified.last_recorded.load(Ordering::Relaxed);
        if secs.saturating_sub(last) < LAST_USED_GRANULARITY {
            return;
        }
        if verified
            .last_recorded
            .compare_exchange(last, secs, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
            && let Ok(mut pending) = self.inner.verify.pending_last_used.lock()
        {
            pending.insert(verified.credential.token_id, now);
        }
    }

    /// Writes the buffered last-used times in one batch. Called periodically and at shutdown.
    pub async fn flush_last_used(&self) -> Result<usize, AppError> {
        let batch: Vec<(TokenId, OffsetDateTime)> = match self.inner.verify.pending_last_used.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Err(AppError::Internal("last-used buffer poisoned".into())),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        if let Err(e) = self.store().record_last_used(&batch).await {
            // Put them back so that nothing is lost; a later flush retries.
            if let Ok(mut pending) = self.inner.verify.pending_last_used.lock() {
                for (id, t) in batch {
                    let entry = pending.entry(id).or_insert(t);
                    if *entry < t {
                        *entry = t;
                    }
                }
            }
            return Err(e.into());
        }
        Ok(batch.len())
    }

    /// Drops a token from the verification cache (after any change to it).
    pub fn forget_token(&self, id: TokenId) {
        let _ = self
            .inner
            .verify
            .tokens
            .invalidate_entries_if(move |_, v| v.credential.token_id == id);
    }

    /// Drops every token of a user from the verification cache.
    pub fn forget_user_tokens(&self, user: AccountId) {
        let _ = self
            .inner
            .verify
            .tokens
            .invalidate_entries_if(move |_, v| v.credential.user == user);
    }

    /// Drops everything cached (used when another replica announces a change it cannot name).
    pub fn forget_all(&self) {
        self.inner.verify.tokens.invalidate_all();
        self.inner.access.clear();
    }
}
