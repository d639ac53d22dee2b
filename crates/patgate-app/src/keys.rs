//! SSH keys and deploy keys created with a token. Each key records the token that created it:
//! deleting that token deletes the deploy keys it created (seed 004); revoking or restricting the
//! token leaves keys alone (seeds 002, 003).

use patgate_domain::authz::Need;
use patgate_domain::catalog::{Level, Permission};
use patgate_domain::model::{Key, KeyId};
use patgate_domain::validate::{ErrorCode, FieldError, ValidationErrors};
use patgate_store::NewKey;

use crate::access::RepoFacts;
use crate::verify::VerifiedToken;
use crate::{App, AppError};

const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Checks the shape of an OpenSSH public key line: a known type, then base64 data.
fn check_key(
    resource: &'static str,
    title: &str,
    key: &str,
) -> Result<(String, String), ValidationErrors> {
    let mut errors = Vec::new();
    let title = title.trim();
    let key = key.trim();
    if key.is_empty() {
        errors.push(FieldError::new(
            resource,
            "key",
            ErrorCode::MissingField,
            "key can't be blank",
        ));
    } else {
        let mut parts = key.split_whitespace();
        let kind = parts.next().unwrap_or_default();
        let data = parts.next().unwrap_or_default();
        let base64ish = data.len() >= 16
            && data
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
        if !KEY_TYPES.contains(&kind) || !base64ish {
            errors.push(FieldError::new(
                resource,
                "key",
                ErrorCode::Invalid,
                "key is invalid. You must supply a key in OpenSSH public key format",
            ));
        }
    }
    if let Err(e) = patgate_domain::validate::check_free_text(resource, "title", title, 255) {
        errors.extend(e.0);
    }
    if errors.is_empty() {
        let title = if title.is_empty() {
            "key".to_owned()
        } else {
            title.to_owned()
        };
        Ok((title, key.to_owned()))
    } else {
        Err(ValidationErrors(errors))
    }
}

impl App {
    /// `POST /user/keys`: needs `keys: write` (fine-grained) or `write:public_key` (classic).
    pub async fn add_user_key(
        &self,
        token: &VerifiedToken,
        title: &str,
        key: &str,
    ) -> Result<Key, AppError> {
        let cred = &token.credential;
        self.authorize_account(cred, Some(Need::new(Permission::KEYS, Level::Write)))?;
        let (title, key) = check_key("PublicKey", title, key)?;
        self.insert_key(
            "PublicKey",
            &NewKey {
                title,
                key,
                repo: None,
                user: cred.user,
                read_only: false,
                created_by_token: Some(cred.token_id),
                created_at: self.now(),
            },
        )
        .await
    }

    /// Stores a key, or refuses one already in use anywhere (a user key or a deploy key, of
    /// anyone), as GitHub does: a key names one account or one repository.
    async fn insert_key(&self, resource: &'static str, key: &NewKey) -> Result<Key, AppError> {
        match self.store().insert_key(key).await {
            Ok(k) => Ok(k),
            Err(patgate_store::StoreError::UniqueViolation(_)) => {
                Err(AppError::Validation(ValidationErrors::one(
                    FieldError::new(resource, "key", ErrorCode::Custom, "key is already in use"),
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn user_keys(&self, token: &VerifiedToken) -> Result<Vec<Key>, AppError> {
        self.authorize_account(
            &token.credential,
            Some(Need::new(Permission::KEYS, Level::Read)),
        )?;
        Ok(self.store().user_keys(token.credential.user).await?)
    }

    pub async fn delete_user_key(&self, token: &VerifiedToken, id: KeyId) -> Result<(), AppError> {
        self.authorize_account(
            &token.credential,
            Some(Need::new(Permission::KEYS, Level::Write)),
        )?;
        match self.store().key_by_id(id).await? {
            Some(k) if k.user == token.credential.user && k.repo.is_none() => {
                self.store().delete_key(id).await?;
                Ok(())
            }
            _ => Err(AppError::NotFound),
        }
    }

    /// `POST /repos/{owner}/{repo}/keys`: needs `administration: write` (fine-grained) or `repo`
    /// (classic), and the user's own admin rights on the repository.
    pub async fn add_deploy_key(
        &self,
        token: &VerifiedToken,
        facts: &RepoFacts,
        title: &str,
        key: &str,
        read_only: bool,
    ) -> Result<Key, AppError> {
        let cred = &token.credential;
        self.authorize_repo(
            Some(cred),
            facts,
            Need::new(Permission::ADMINISTRATION, Level::Write),
        )
        .await?;
        let (title, key) = check_key("DeployKey", title, key)?;
        self.insert_key(
            "DeployKey",
            &NewKey {
                title,
                key,
                repo: Some(facts.repo.id),
                user: cred.user,
                read_only,
                created_by_token: Some(cred.token_id),
                created_at: self.now(),
            },
        )
        .await
    }

    pub async fn deploy_keys(
        &self,
        token: &VerifiedToken,
        facts: &RepoFacts,
    ) -> Result<Vec<Key>, AppError> {
        self.authorize_repo(
            Some(&token.credential),
            facts,
            Need::new(Permission::ADMINISTRATION, Level::Read),
        )
        .await?;
        Ok(self.store().deploy_keys(facts.repo.id).await?)
    }

    pub async fn delete_deploy_key(
        &self,
        token: &VerifiedToken,
        facts: &RepoFacts,
        id: KeyId,
    ) -> Result<(), AppError> {
        self.authorize_repo(
            Some(&token.credential),
            facts,
            Need::new(Permission::ADMINISTRATION, Level::Write),
        )
        .await?;
        match self.store().key_by_id(id).await? {
            Some(k) if k.repo == Some(facts.repo.id) => {
                self.store().delete_key(id).await?;
                Ok(())
            }
            _ => Err(AppError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_openssh_public_keys_are_accepted() {
        let good = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb4lM5Vx0ywyd5Xu0l1wRkJ1Wc3x7p1Q5l2V1g9e2Gk me@laptop";
        assert!(check_key("PublicKey", "laptop", good).is_ok());
        for bad in [
            "",
            "hello",
            "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
            "ssh-ed25519 !!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(check_key("PublicKey", "t", bad).is_err(), "{bad}");
        }
        assert_eq!(
            patgate_store::key_material(good),
            patgate_store::key_material(&good.replace("me@laptop", "other"))
        );
    }
}
