//! Passwords: argon2id hashes only (PHC strings), verified in constant time by argon2 itself.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use patgate_domain::model::User;

use crate::{App, AppError};

/// argon2 cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    /// OWASP's argon2id recommendation (19 MiB, 2 iterations, 1 lane).
    fn default() -> Self {
        PasswordParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordParams {
    /// The cheapest parameters argon2 accepts: for tests and demo data only.
    pub fn insecure_fast() -> Self {
        PasswordParams {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn hasher(&self) -> Result<Argon2<'static>, AppError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| AppError::Internal(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

pub const MIN_PASSWORD_CHARS: usize = 8;

/// Password hashes running now, and the most that ever ran at once (for operators, and for the
/// test that the bound holds).
#[derive(Debug, Default)]
pub struct HashingGauge {
    running: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
}

impl HashingGauge {
    pub fn running(&self) -> usize {
        self.running.load(std::sync::atomic::Ordering::Relaxed)
    }
    pub fn peak(&self) -> usize {
        self.peak.load(std::sync::atomic::Ordering::Relaxed)
    }
    fn enter(&self) -> HashingTurn<'_> {
        use std::sync::atomic::Ordering;
        let now = self.running.fetch_add(1, Ordering::AcqRel) + 1;
        self.peak.fetch_max(now, Ordering::AcqRel);
        HashingTurn(self)
    }
}

struct HashingTurn<'a>(&'a HashingGauge);

impl Drop for HashingTurn<'_> {
    fn drop(&mut self) {
        self.0
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The longest a sign-in waits for its turn to hash before it is answered "try again".
const PASSWORD_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

pub fn hash_password(params: &PasswordParams, password: &str) -> Result<String, AppError> {
    params
        .hasher()?
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("hashing a password: {e}")))
}

/// Checks a password against a stored PHC string (the parameters come from the string).
pub fn verify_password(hash: &str, password: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

impl App {
    /// Authenticates a user by login and password (HTTP Basic for token management, the CLI).
    /// Every failure is the same `BadCredentials`, so logins cannot be probed.
    pub async fn authenticate_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<User, AppError> {
        let store = self.store();
        let found = match store.user_by_login(login).await? {
            Some(user) => store
                .user_password_hash(user.id)
                .await?
                .map(|hash| (user, hash)),
            None => None,
        };
        // argon2 is deliberately slow and memory-hungry: run it off the async workers, a bounded
        // number at a time (a flood of sign-ins queues instead of exhausting memory), and spend
        // the same time when there is no hash to check (unknown login, or a user without a
        // password) so that neither can be told apart from a wrong password.
        let _permit = tokio::time::timeout(PASSWORD_QUEUE_WAIT, self.password_permits().acquire())
            .await
            .map_err(|_| AppError::Overloaded)?
            .map_err(|_| AppError::Overloaded)?;
        let _turn = self.password_hashing().enter();
        let params = self.config().password_hashing;
        let password = password.to_owned();
        let (user, ok) = tokio::task::spawn_blocking(move || match found {
            Some((user, hash)) => {
                let ok = verify_password(&hash, &password);
                (Some(user), ok)
            }
            None => {
                let _ = hash_password(&params, &password);
                (None, false)
            }
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
        match user {
            // Told only to whoever knows the password.
            Some(user) if ok && self.is_suspended(user.id).await? => {
                Err(AppError::Forbidden(crate::directory::SUSPENDED.to_owned()))
            }
            Some(user) if ok => Ok(user),
            _ => Err(AppError::BadCredentials),
        }
    }

    /// Sets a user's password (operator action).
    pub async fn set_password(&self, login: &str, password: &str) -> Result<User, AppError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AppError::Forbidden(format!(
                "passwords need at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        let user = self
            .store()
            .user_by_login(login)
            .await?
            .ok_or(AppError::NotFound)?;
        let hash = hash_password(&self.config().password_hashing, password)?;
        self.store().set_user_password_hash(user.id, &hash).await?;
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let hash = hash_password(&PasswordParams::insecure_fast(), "correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("correct horse"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct horse "));
        assert!(!verify_password("not a phc string", "correct horse"));
    }
}
