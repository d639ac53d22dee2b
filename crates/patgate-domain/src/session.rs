//! Web sessions: what a browser's session cookie holds, what the store keeps of it, and when it
//! ends. The cookie carries a random secret; the store keeps only its SHA-256, as for tokens,
//! so a copy of the database signs nobody in. The form token that guards every signed-in form
//! against cross-site requests is derived from the same secret, so it needs no storage and
//! changes whenever the session does (at sign-in).

use std::fmt;

use rand::RngExt;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

/// Random characters in a session secret: 43 base62 characters carry over 256 bits.
const SECRET_CHARS: usize = 43;

/// How long a session lasts: at most `absolute` after sign-in, and it ends after `idle` without
/// a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLifetime {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionLifetime {
    /// A working day idle, two weeks in all (GitHub keeps sessions for about two weeks).
    fn default() -> Self {
        SessionLifetime {
            idle: Duration::hours(8),
            absolute: Duration::days(14),
        }
    }
}

impl SessionLifetime {
    /// When a session signed in at `now` ends at the latest.
    pub fn expires_at(&self, now: OffsetDateTime) -> OffsetDateTime {
        now + self.absolute
    }

    /// Whether a session last seen at `last_seen` and ending at `expires_at` is still live.
    pub fn is_live(
        &self,
        last_seen: OffsetDateTime,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> bool {
        now < expires_at && now - last_seen < self.idle
    }

    /// Whether a live session's last-seen time is worth writing again: at most once a minute,
    /// so that browsing does not turn every page view into a write.
    pub fn should_touch(&self, last_seen: OffsetDateTime, now: OffsetDateTime) -> bool {
        now - last_seen >= Duration::minutes(1)
    }
}

/// The secret of a session cookie. `Debug` is redacted and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(String);

impl SessionSecret {
    /// A new secret from the operating system's CSPRNG (through `rand::rng()`).
    pub fn generate() -> SessionSecret {
        let secret: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(SECRET_CHARS)
            .map(char::from)
            .collect();
        SessionSecret(secret)
    }

    /// A secret as a cookie presents it: `None` unless it has the shape of ours, so that
    /// garbage is refused before any lookup.
    pub fn parse(cookie: &str) -> Option<SessionSecret> {
        (cookie.len() == SECRET_CHARS && cookie.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| SessionSecret(cookie.to_owned()))
    }

    /// The cookie's value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps.
    pub fn hash(&self) -> SessionHash {
        SessionHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The token the session's forms carry: derived from the secret, so a page of another site
    /// cannot know it, and it changes whenever the session does.
    pub fn form_token(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"patgate form token\0")
            .chain_update(self.0.as_bytes())
            .finalize();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `presented` is this session's form token (in constant time).
    pub fn form_token_matches(&self, presented: &str) -> bool {
        let expected = self.form_token();
        expected.len() == presented.len()
            && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(<redacted>)")
    }
}

impl Drop for SessionSecret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
    }
}

/// A session's row id: what the sessions page lists and revokes (never the secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub i64);

/// SHA-256 of a session secret: the store's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionHash(pub [u8; 32]);

impl SessionHash {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(secs)
    }

    #[test]
    fn secrets_are_random_of_one_shape_and_parse_back() {
        let a = SessionSecret::generate();
        let b = SessionSecret::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), SECRET_CHARS);
        assert_eq!(SessionSecret::parse(a.expose()), Some(a.clone()));
        assert_ne!(a.hash(), b.hash());
        for bad in [
            "",
            "short",
            &"x".repeat(44),
            &format!("{}!", &"x".repeat(42)),
        ] {
            assert_eq!(SessionSecret::parse(bad), None, "{bad:?}");
        }
        assert_eq!(format!("{a:?}"), "SessionSecret(<redacted>)");
    }

    #[test]
    fn the_form_token_belongs_to_its_session_only() {
        let a = SessionSecret::generate();
        let b = SessionSecret::generate();
        assert!(a.form_token_matches(&a.form_token()));
        assert!(!a.form_token_matches(&b.form_token()));
        assert!(!a.form_token_matches(""));
        assert!(!a.form_token_matches(&a.form_token()[1..]));
        assert!(!a.form_token().contains(a.expose()));
    }

    #[test]
    fn a_session_ends_when_idle_or_at_its_absolute_expiry() {
        let life = SessionLifetime {
            idle: Duration::seconds(100),
            absolute: Duration::seconds(1000),
        };
        let signed_in = at(0);
        let expires = life.expires_at(signed_in);
        assert!(life.is_live(signed_in, expires, at(99)));
        assert!(!life.is_live(signed_in, expires, at(100)), "idle");
        assert!(life.is_live(at(950), expires, at(999)));
        assert!(!life.is_live(at(999), expires, at(1000)), "absolute");
        assert!(!life.should_touch(at(10), at(69)));
        assert!(life.should_touch(at(10), at(70)));
    }
}
