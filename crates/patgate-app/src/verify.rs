//! Token verification: parse (prefix, length, alphabet, checksum) → SHA-256 → in-process cache →
//! store. The cache is keyed by the token's hash, never the token, and entries are dropped at
//! write time by the process that changes a token; other processes see the change within the TTL
//! (see `cache` for how the TTL is measured and why a racing insert cannot undo an invalidation).
//!
//! "Last used" is kept in memory and flushed to the store in batches, at most once per
//! `LAST_USED_GRANULARITY` per token, so verification never writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

use patgate_domain::model::{AccountId, Credential, TokenId};
use patgate_domain::token::TokenHash;

use crate::cache::TtlCache;
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
    tokens: TtlCache<TokenHash, Arc<VerifiedToken>>,
    pending_last_used: Mutex<HashMap<TokenId, OffsetDateTime>>,
}

impl VerifyCache {
    pub(crate) fn new(ttl: Duration, capacity: u64) -> Self {
        VerifyCache {
            tokens: TtlCache::new(ttl, capacity),
            pending_last_used: Mutex::new(HashMap::new()),
        }
    }
}

impl App {
    /// Verifies a presented token. Malformed tokens are refused before any lookup; unknown,
    /// expired or deleted ones get the same `BadCredentials`.
    pub async fn verify(&self, presented: &str) -> Result<Arc<VerifiedToken>, AppError> {
        let outcome = self.verify_uncounted(presented).await;
        match &outcome {
            Ok((_, from_cache)) => self.counters().verified(*from_cache),
            Err(AppError::BadCredentials) => self.counters().refused(),
            Err(_) => {}
        }
        outcome.map(|(verified, _)| verified)
    }

    /// [`App::verify`], saying whether the cache answered.
    async fn verify_uncounted(
        &self,
        presented: &str,
    ) -> Result<(Arc<VerifiedToken>, bool), AppError> {
        let format = self.token_format();
        // Prefix and length first; the checksum guards the store, so it is checked before a
        // lookup there. A cache hit needs no checksum: its key is the SHA-256 of a token that was
        // verified in full.
        if !format.has_shape(presented) {
            return Err(AppError::BadCredentials);
        }
        let hash = TokenHash::of(presented);
        let now = self.now();
        let now_secs = now.unix_timestamp();
        let cache = &self.inner.verify;
        let mut from_cache = true;
        let verified = match cache.tokens.get(&hash, now_secs) {
            Some(hit) => hit,
            None => {
                from_cache = false;
                format
                    .parse(presented)
                    .map_err(|_| AppError::BadCredentials)?;
                let ticket = cache.tokens.ticket();
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
                cache
                    .tokens
                    .insert(ticket, hash, verified.clone(), now_secs);
                verified
            }
        };
        if verified.credential.expires_at.is_some_and(|e| e <= now) {
            return Err(AppError::BadCredentials);
        }
        self.note_use(&verified, now);
        Ok((verified, from_cache))
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
        let batch: Vec<(TokenId, OffsetDateTime)> = match self.inner.verify.pending_last_used.lock()
        {
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
        self.inner
            .verify
            .tokens
            .retain(|v| v.credential.token_id != id);
    }

    /// Drops every token of a user from the verification cache.
    pub fn forget_user_tokens(&self, user: AccountId) {
        self.inner
            .verify
            .tokens
            .retain(|v| v.credential.user != user);
    }

    /// Drops everything cached (used when another replica announces a change it cannot name).
    pub fn forget_all(&self) {
        self.inner.verify.tokens.clear();
        self.inner.access.clear();
    }
}
