//! Web sessions: a browser signs in with a password (checked by the caller, behind its
//! throttles) and gets a session; each page asks for it back. Every read goes to the store, so a
//! sign-out through one replica ends the session on all of them at once.

use patgate_domain::model::User;
use patgate_domain::session::{SessionId, SessionSecret};
use patgate_store::{NewSession, Session};

use crate::{App, AppError};

/// The most of a `User-Agent` kept for the sessions page.
const MAX_USER_AGENT_CHARS: usize = 256;

impl App {
    /// Starts a session for `user`, ending the session the browser had before (`previous`):
    /// the session id is rotated at every sign-in. The secret is for the cookie only.
    pub async fn start_session(
        &self,
        user: &User,
        previous: Option<&SessionSecret>,
        user_agent: Option<&str>,
        ip: Option<String>,
    ) -> Result<(Session, SessionSecret), AppError> {
        let secret = SessionSecret::generate();
        let now = self.now();
        let session = self
            .store()
            .insert_session(
                &NewSession {
                    hash: secret.hash(),
                    user: user.id,
                    created_at: now,
                    expires_at: self.config().session_lifetime.expires_at(now),
                    user_agent: user_agent
                        .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
                    ip,
                },
                previous.map(SessionSecret::hash).as_ref(),
            )
            .await?;
        Ok((session, secret))
    }

    /// The live session a cookie names, and its user; `None` for an unknown, expired or idle
    /// one (which is deleted on the way). Notes the visit, at most once a minute.
    pub async fn resume_session(
        &self,
        secret: &SessionSecret,
    ) -> Result<Option<(Session, User)>, AppError> {
        let Some(session) = self.store().session_by_hash(&secret.hash()).await? else {
            return Ok(None);
        };
        let now = self.now();
        let lifetime = self.config().session_lifetime;
        if !lifetime.is_live(session.last_seen_at, session.expires_at, now) {
            self.store()
                .delete_session(session.user, session.id)
                .await?;
            return Ok(None);
        }
        let Some(user) = self.store().user_by_id(session.user).await? else {
            return Ok(None);
        };
        if lifetime.should_touch(session.last_seen_at, now) {
            self.store().touch_session(session.id, now).await?;
        }
        Ok(Some((session, user)))
    }

    /// Signs a browser out.
    pub async fn end_session(&self, session: &Session) -> Result<(), AppError> {
        self.store()
            .delete_session(session.user, session.id)
            .await?;
        Ok(())
    }

    /// The user's sessions, most recently seen first (the live ones).
    pub async fn sessions_of(&self, user: &User) -> Result<Vec<Session>, AppError> {
        let now = self.now();
        let lifetime = self.config().session_lifetime;
        Ok(self
            .store()
            .sessions_of_user(user.id)
            .await?
            .into_iter()
            .filter(|s| lifetime.is_live(s.last_seen_at, s.expires_at, now))
            .collect())
    }

    /// Ends one of the user's sessions; `NotFound` when it is not theirs.
    pub async fn revoke_session(&self, user: &User, id: SessionId) -> Result<(), AppError> {
        if self.store().delete_session(user.id, id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// Ends every session of the user but `keep`; how many ended.
    pub async fn end_other_sessions(&self, user: &User, keep: SessionId) -> Result<u64, AppError> {
        Ok(self
            .store()
            .delete_sessions_of_user(user.id, Some(keep))
            .await?)
    }
}
