//! Encodings shared by every backend, so that a row means the same on SQLite and PostgreSQL
//! (and a data copy between them is a plain copy).

use time::OffsetDateTime;

use patgate_domain::catalog::{Level, OrgRole, Permission, PermissionSet, RepoRole};
use patgate_domain::governance::{AuditRecord, AuditValue};
use patgate_domain::model::{AccountKind, TokenId};
use patgate_domain::scopes::Scopes;

use crate::{NewAuditEvent, StoreError};

/// `contents:write,metadata:read`, in catalog order.
pub fn encode_permissions(set: &PermissionSet) -> String {
    set.iter()
        .map(|(p, l)| format!("{}:{}", p.name(), l.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn decode_permissions(s: &str) -> Result<PermissionSet, StoreError> {
    let mut set = PermissionSet::new();
    for pair in s.split(',').filter(|p| !p.is_empty()) {
        let (name, level) = pair
            .split_once(':')
            .ok_or_else(|| StoreError::Corrupt(format!("permission entry {pair:?}")))?;
        let p = Permission::from_name(name)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown permission {name:?}")))?;
        let l = Level::parse(level)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown level {level:?}")))?;
        set.set(p, Some(l));
    }
    Ok(set)
}

/// `user,gist`, in the token's stored order.
pub fn encode_scopes(scopes: &Scopes) -> String {
    scopes
        .list()
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn decode_scopes(s: &str) -> Result<Scopes, StoreError> {
    Scopes::parse(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Timestamps are stored as whole seconds since the epoch (GitHub shows second precision).
pub fn to_unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub fn from_unix(secs: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {secs}: {e}")))
}

pub fn opt_from_unix(secs: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    secs.map(from_unix).transpose()
}

/// A stored value this code does not know: the row is corrupt.
pub fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

pub const KIND_USER: &str = "user";
pub const KIND_ORG: &str = "organization";

pub fn account_kind_str(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::User => KIND_USER,
        AccountKind::Organization => KIND_ORG,
    }
}

pub fn parse_account_kind(s: &str) -> Result<AccountKind, StoreError> {
    match s {
        KIND_USER => Ok(AccountKind::User),
        KIND_ORG => Ok(AccountKind::Organization),
        _ => Err(corrupt("account kind", s)),
    }
}

pub fn parse_repo_role(s: &str) -> Result<RepoRole, StoreError> {
    RepoRole::parse(s).ok_or_else(|| corrupt("repository role", s))
}

pub fn parse_org_role(s: &str) -> Result<OrgRole, StoreError> {
    OrgRole::parse(s).ok_or_else(|| corrupt("organization role", s))
}

/// A domain audit record as the audit log stores it: its fields as a JSON object. `inserted`
/// fills the token of a record that names none (the token the change inserted).
pub fn audit_event(record: &AuditRecord, inserted: Option<TokenId>) -> NewAuditEvent {
    let data: serde_json::Map<String, serde_json::Value> = record
        .fields
        .iter()
        .map(|(key, value)| {
            let value = match value {
                AuditValue::Text(s) => serde_json::Value::String(s.clone()),
                AuditValue::Int(n) => serde_json::Value::from(*n),
                AuditValue::Null => serde_json::Value::Null,
            };
            (key.to_string(), value)
        })
        .collect();
    NewAuditEvent {
        action: record.action.to_string(),
        actor: record.actor.id,
        actor_login: record.actor.login.clone(),
        org: record.org,
        token_id: record.token.or(inserted),
        data: serde_json::Value::Object(data),
        created_at: record.at,
    }
}

/// Lower-cased key of a case-insensitive name (logins, repository names, enterprise slugs).
pub fn fold(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_round_trip() {
        let mut set = PermissionSet::new();
        set.set(Permission::CONTENTS, Some(Level::Write));
        set.set(Permission::METADATA, Some(Level::Read));
        let text = encode_permissions(&set);
        assert!(text.contains("contents:write"));
        assert_eq!(decode_permissions(&text).unwrap(), set);
        assert_eq!(decode_permissions("").unwrap(), PermissionSet::new());
        assert!(decode_permissions("contents").is_err());
        assert!(decode_permissions("nope:read").is_err());
    }

    #[test]
    fn scopes_round_trip_in_stored_order() {
        let scopes = Scopes::parse("user,gist").unwrap();
        assert_eq!(encode_scopes(&scopes), "user,gist");
        assert_eq!(decode_scopes("user,gist").unwrap(), scopes);
        assert!(decode_scopes("root").is_err());
    }

    #[test]
    fn timestamps_drop_sub_second_precision() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(from_unix(to_unix(t)).unwrap(), t);
    }
}
