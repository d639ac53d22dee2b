//! SSH keys: a user's keys (`repo_id` NULL) and a repository's deploy keys. Lists are by id.
//! A key's material is stored once in all (GitHub: "key is already in use"): an insertion takes
//! a lock on the material, checks, and inserts in one transaction.

use async_trait::async_trait;

use patgate_domain::model::{AccountId, Key, KeyId, RepoId};
use patgate_store::codec::to_unix;
use patgate_store::{KeyStore, NewKey, StoreError, StoreResult};

use super::rows::{KeyRow, key_cols};
use super::{EngineStore, commit, db_err};

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
    LOCK_MATERIAL = serialize_on!("$1");
    /// Stored lines are `type data` or `type data comment`.
    IN_USE = "SELECT id FROM keys WHERE public_key = $1 OR public_key LIKE $2 LIMIT 1";
}

#[async_trait]
impl KeyStore for EngineStore {
    async fn insert_key(&self, key: &NewKey) -> StoreResult<Key> {
        let material = patgate_store::key_material(&key.key);
        let mut tx = self.write_tx().await?;
        sqlx::query(LOCK_MATERIAL)
            .bind(&material)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // The material is a type name and base64: no `%` or `_` to escape in the pattern.
        let in_use: Option<i64> = sqlx::query_scalar(IN_USE)
            .bind(&material)
            .bind(format!("{material} %"))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if in_use.is_some() {
            return Err(StoreError::UniqueViolation("key".into()));
        }
        let row: KeyRow = sqlx::query_as(INSERT)
            .bind(&key.title)
            .bind(&key.key)
            .bind(key.repo.map(|r| r.0))
            .bind(key.user.0)
            .bind(key.read_only)
            .bind(key.created_by_token.map(|t| t.0))
            .bind(to_unix(key.created_at))
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let key = row.into_key()?;
        commit(tx).await?;
        Ok(key)
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
