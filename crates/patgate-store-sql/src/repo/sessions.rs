//! Web sessions, by the SHA-256 of their secret. Not part of a dump: a copy to another backend
//! signs everybody out, which is what moving an installation should do.

use async_trait::async_trait;
use time::OffsetDateTime;

use patgate_domain::model::AccountId;
use patgate_domain::session::{SessionHash, SessionId};
use patgate_store::codec::{from_unix, to_unix};
use patgate_store::{NewSession, Session, SessionStore, StoreResult};

use super::{EngineStore, commit, db_err};

macro_rules! session_cols {
    () => {
        "id, user_id, created_at, last_seen_at, expires_at, user_agent, ip"
    };
}

statements! {
    INSERT = concat!(
        "INSERT INTO web_sessions (hash, user_id, created_at, last_seen_at, expires_at, \
         user_agent, ip) VALUES ($1, $2, $3, $3, $4, $5, $6) RETURNING ",
        session_cols!(),
    );
    DELETE_BY_HASH = "DELETE FROM web_sessions WHERE hash = $1";
    BY_HASH = concat!("SELECT ", session_cols!(), " FROM web_sessions WHERE hash = $1");
    TOUCH = "UPDATE web_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2";
    DELETE_ONE = "DELETE FROM web_sessions WHERE id = $1 AND user_id = $2";
    OF_USER = concat!(
        "SELECT ",
        session_cols!(),
        " FROM web_sessions WHERE user_id = $1 ORDER BY last_seen_at DESC, id DESC",
    );
    DELETE_OF_USER = "DELETE FROM web_sessions WHERE user_id = $1 AND id <> $2";
    DELETE_STALE = "DELETE FROM web_sessions WHERE expires_at <= $1 OR last_seen_at < $2";
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: i64,
    user_id: i64,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    user_agent: Option<String>,
    ip: Option<String>,
}

impl SessionRow {
    fn into_session(self) -> StoreResult<Session> {
        Ok(Session {
            id: SessionId(self.id),
            user: AccountId(self.user_id),
            created_at: from_unix(self.created_at)?,
            last_seen_at: from_unix(self.last_seen_at)?,
            expires_at: from_unix(self.expires_at)?,
            user_agent: self.user_agent,
            ip: self.ip,
        })
    }
}

#[async_trait]
impl SessionStore for EngineStore {
    async fn insert_session(
        &self,
        session: &NewSession,
        replaces: Option<&SessionHash>,
    ) -> StoreResult<Session> {
        let mut tx = self.write_tx().await?;
        if let Some(old) = replaces {
            sqlx::query(DELETE_BY_HASH)
                .bind(old.as_bytes().as_slice())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        let row: SessionRow = sqlx::query_as(INSERT)
            .bind(session.hash.as_bytes().as_slice())
            .bind(session.user.0)
            .bind(to_unix(session.created_at))
            .bind(to_unix(session.expires_at))
            .bind(session.user_agent.as_deref())
            .bind(session.ip.as_deref())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await?;
        row.into_session()
    }

    async fn session_by_hash(&self, hash: &SessionHash) -> StoreResult<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(BY_HASH)
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(SessionRow::into_session).transpose()
    }

    async fn touch_session(&self, id: SessionId, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(TOUCH)
            .bind(id.0)
            .bind(to_unix(at))
            .execute(self.writes())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_session(&self, user: AccountId, id: SessionId) -> StoreResult<bool> {
        let done = sqlx::query(DELETE_ONE)
            .bind(id.0)
            .bind(user.0)
            .execute(self.writes())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn sessions_of_user(&self, user: AccountId) -> StoreResult<Vec<Session>> {
        let rows: Vec<SessionRow> = sqlx::query_as(OF_USER)
            .bind(user.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(SessionRow::into_session).collect()
    }

    async fn delete_sessions_of_user(
        &self,
        user: AccountId,
        except: Option<SessionId>,
    ) -> StoreResult<u64> {
        let done = sqlx::query(DELETE_OF_USER)
            .bind(user.0)
            // Ids start at 1: 0 spares nothing.
            .bind(except.map_or(0, |s| s.0))
            .execute(self.writes())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn delete_stale_sessions(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        let done = sqlx::query(DELETE_STALE)
            .bind(to_unix(now))
            .bind(to_unix(idle_before))
            .execute(self.writes())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}
