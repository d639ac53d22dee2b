//! Service credentials: what a platform's own services present to the directory API and the
//! authorization API (`docs/platform.md`). Never a user's token or password.
//!
//! The operator configures them in a TOML file (`--service-credentials-file`), one entry per
//! service, each holding the SHA-256 of its secret, never the secret:
//!
//! ```toml
//! [[credentials]]
//! name = "platform"                       # named in the audit log as `service:platform`
//! sha256 = "5e884898da28047151d0e56f8dc629..."
//! scopes = ["directory", "authorize"]
//! ```
//!
//! `patgate service-credential create --name platform --scope directory` prints a new secret
//! and the entry to add. A service presents the secret as `Authorization: Bearer pgsvc_...`.
//! The presented secret is hashed and compared with every configured hash in constant time
//! (no early exit, so timing tells nothing about which entry, if any, matched). The file is
//! read at start-up; every replica reads its own copy, so rotating a secret is adding the new
//! entry, restarting the replicas, moving the service over, and removing the old one.

use std::path::Path;

use serde::Deserialize;

use patgate_domain::session::SessionSecret;
use patgate_domain::token::TokenHash;

/// The prefix of every service secret: secret scanners can tell them apart from tokens.
pub const PREFIX: &str = "pgsvc_";

/// What a service credential may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceScope {
    /// The directory API and its sync.
    Directory,
    /// The authorization API and token introspection.
    Authorize,
}

impl ServiceScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceScope::Directory => "directory",
            ServiceScope::Authorize => "authorize",
        }
    }
    pub fn parse(s: &str) -> Option<ServiceScope> {
        match s {
            "directory" => Some(ServiceScope::Directory),
            "authorize" => Some(ServiceScope::Authorize),
            _ => None,
        }
    }
}

/// One configured service.
#[derive(Clone, Debug)]
pub struct ServiceCredential {
    pub name: String,
    hash: TokenHash,
    pub scopes: Vec<ServiceScope>,
}

impl ServiceCredential {
    pub fn new(name: &str, secret: &str, scopes: &[ServiceScope]) -> ServiceCredential {
        ServiceCredential {
            name: name.to_owned(),
            hash: TokenHash::of(secret),
            scopes: scopes.to_vec(),
        }
    }

    pub fn allows(&self, scope: ServiceScope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The configured services (none: the directory and authorization APIs refuse everyone).
#[derive(Clone, Debug, Default)]
pub struct ServiceCredentials {
    list: Vec<ServiceCredential>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    credentials: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    sha256: String,
    scopes: Vec<ServiceScope>,
}

impl ServiceCredentials {
    pub fn new(list: Vec<ServiceCredential>) -> ServiceCredentials {
        ServiceCredentials { list }
    }

    /// Parses the file's text; the message names the entry at fault.
    pub fn parse(text: &str) -> Result<ServiceCredentials, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut list = Vec::with_capacity(file.credentials.len());
        for (i, e) in file.credentials.into_iter().enumerate() {
            if e.name.is_empty()
                || !e
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                return Err(format!(
                    "credentials[{i}].name: {:?} is not letters, digits, '-', '_' or '.'",
                    e.name
                ));
            }
            let hash = TokenHash::from_hex(&e.sha256).ok_or_else(|| {
                format!("credentials[{i}].sha256: not 64 hex digits (the SHA-256 of the secret)")
            })?;
            if e.scopes.is_empty() {
                return Err(format!("credentials[{i}].scopes: give at least one"));
            }
            if list.iter().any(|c: &ServiceCredential| c.name == e.name) {
                return Err(format!("credentials[{i}].name: {} is listed twice", e.name));
            }
            list.push(ServiceCredential {
                name: e.name,
                hash,
                scopes: e.scopes,
            });
        }
        Ok(ServiceCredentials { list })
    }

    pub fn load(path: &Path) -> Result<ServiceCredentials, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|c| c.name.as_str())
    }

    /// The service whose secret this is, comparing with every entry in constant time.
    pub fn verify(&self, presented: &str) -> Option<&ServiceCredential> {
        let hash = TokenHash::of(presented);
        let mut found = None;
        for c in &self.list {
            // Every entry is compared; the match is kept without branching out early.
            let same = c.hash.ct_eq(&hash);
            if same && found.is_none() {
                found = Some(c);
            }
        }
        found
    }
}

/// A new secret and the SHA-256 to configure (64 hex digits).
pub fn generate() -> (String, String) {
    let secret = format!("{PREFIX}{}", SessionSecret::generate().expose());
    let hash = TokenHash::of(&secret).to_hex();
    (secret, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_verifies_under_its_entry_only() {
        let (secret, hash) = generate();
        assert!(secret.starts_with(PREFIX));
        let creds = ServiceCredentials::parse(&format!(
            "[[credentials]]\nname = \"platform\"\nsha256 = \"{hash}\"\nscopes = [\"directory\"]\n\
             [[credentials]]\nname = \"other\"\nsha256 = \"{}\"\nscopes = [\"authorize\"]\n",
            TokenHash::of("another secret").to_hex()
        ))
        .expect("parses");
        let found = creds.verify(&secret).expect("verifies");
        assert_eq!(found.name, "platform");
        assert!(found.allows(ServiceScope::Directory));
        assert!(!found.allows(ServiceScope::Authorize));
        assert!(creds.verify("pgsvc_wrong").is_none());
        assert!(creds.verify(&hash).is_none(), "the hash is not the secret");
    }

    #[test]
    fn a_bad_file_names_the_entry() {
        for (text, says) in [
            (
                "[[credentials]]\nname = \"x\"\nsha256 = \"zz\"\nscopes = [\"directory\"]",
                "credentials[0].sha256",
            ),
            (
                "[[credentials]]\nname = \"a b\"\nsha256 = \"00\"\nscopes = [\"directory\"]",
                "credentials[0].name",
            ),
            (
                "[[credentials]]\nname = \"x\"\nsha256 = \"00\"\nscopes = [\"admin\"]",
                "unknown variant",
            ),
            (
                "[[credentials]]\nname = \"x\"\nsha256 = \"00\"\nscopes = []",
                "credentials[0]",
            ),
            (
                "[[credentials]]\nname = \"x\"\nsha256 = \"00\"\nscopes = [\"directory\"]\nsecret = \"s\"",
                "unknown field",
            ),
        ] {
            let err = ServiceCredentials::parse(text).expect_err(text);
            assert!(err.contains(says), "{err} should name {says}");
        }
    }
}
