//! SSH keys: a user's keys (`repo_id` NULL) and a repository's deploy keys. Lists are by id.
//! Each change is one autocommitted statement.

use async_trait::async_trait;

use patgate_domain::model::{AccountId, Key, KeyId, RepoId};
use patgate_store::codec::to_unix;
use patgate_store::{KeyStore, NewKey, StoreResult};

use super::rows::{KeyRow, key_cols};
use super::{EngineStore, db_err};

statements! {
    INSERT = concat!(
        "INSERT INTO keys (title, public_key, repo_id, user_id, read_only, created_by_token, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        key_cols!(),
    );
    USER_KEYS = concat!(
        "SELECT ",
        key_cols!(),
        " FROM keys WHERE user_id = $1 AND repo_id IS NULL ORDER BY id",
    );
    DEPLOY_KEYS = concat!("SELECT ", key_cols!(), " FROM keys WHERE repo_id = $1 ORDER BY id");
    BY_ID = concat!("SELECT ", key_cols!(), " FROM keys WHERE id = $1");
    DELETE = "DELETE FROM keys WHERE id = $1";
}

#[async_trait]
impl KeyStore for EngineStore {
    async fn insert_key(&self, key: &NewKey) -> StoreResult<Key> {
        let row: KeyRow = sqlx::query_as(INSERT)
            .bind(&key.title)
            .bind(&key.key)
            .bind(key.repo.map(|r| r.0))
            .bind(key.user.0)
            .bind(key.read_only)
            .bind(key.created_by_token.map(|t| t.0))
            .bind(to_unix(key.created_at))
            .fetch_one(self.writes())
            .await
            .map_err(db_err)?;
        row.into_key()
    }

    async fn user_keys(&self, user: AccountId) -> StoreResult<Vec<Key>> {
        let rows: Vec<KeyRow> = sqlx::query_as(USER_KEYS)
            .bind(user.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    async fn deploy_keys(&self, repo: RepoId) -> StoreResult<Vec<Key>> {
        let rows: Vec<KeyRow> = sqlx::query_as(DEPLOY_KEYS)
            .bind(repo.0)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    async fn key_by_id(&self, id: KeyId) -> StoreResult<Option<Key>> {
        let row: Option<KeyRow> = sqlx::query_as(BY_ID)
            .bind(id.0)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(KeyRow::into_key).transpose()
    }

    async fn delete_key(&self, id: KeyId) -> StoreResult<bool> {
        let done = sqlx::query(DELETE)
            .bind(id.0)
            .execute(self.writes())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }
}
