//! The rules every backend applies to keep requests and grants in step with tokens
//! ([`crate::GovernanceStore`]), in one place so that SQLite and PostgreSQL agree.
//!
//! * A **grant row** exists exactly while the token is fine-grained, its resource owner is an
//!   organization and its state is `Approved` with granted access ([`grant_org`]). Creating one
//!   stamps `access_granted_at`; a token that stays approved keeps its row and its time.
//! * `insert_token` records a **pending request** for a fine-grained, organization-owned token
//!   inserted in state `Pending` ([`new_request_org`]).
//! * A token that **no longer needs review** ([`needs_review`] false: not organization-owned, or
//!   approved with exactly what it asks for) has its pending request cancelled.

use time::OffsetDateTime;

use patgate_domain::model::{AccountId, AccountKind, GrantState, TokenAccess, TokenGrant, TokenId};

use crate::NewAuditEvent;

/// The organization a grant row is kept for, if the token should have one.
pub fn grant_org(grant: &TokenGrant) -> Option<AccountId> {
    match grant {
        TokenGrant::FineGrained {
            resource_owner,
            resource_owner_kind: AccountKind::Organization,
            granted: Some(_),
            state: GrantState::Approved,
            ..
        } => Some(*resource_owner),
        _ => None,
    }
}

/// The organization a newly inserted token asks (a fine-grained, organization-owned token in
/// state `Pending`), with the access it asks for.
pub fn new_request_org(grant: &TokenGrant) -> Option<(AccountId, &TokenAccess)> {
    match grant {
        TokenGrant::FineGrained {
            resource_owner,
            resource_owner_kind: AccountKind::Organization,
            requested,
            state: GrantState::Pending,
            ..
        } => Some((*resource_owner, requested)),
        _ => None,
    }
}

/// The organization a token may ask for access (fine-grained and organization-owned), with the
/// access it asks for.
pub fn request_target(grant: &TokenGrant) -> Option<(AccountId, &TokenAccess)> {
    match grant {
        TokenGrant::FineGrained {
            resource_owner,
            resource_owner_kind: AccountKind::Organization,
            requested,
            ..
        } => Some((*resource_owner, requested)),
        _ => None,
    }
}

/// Whether an organization still has something to decide about the token: it is fine-grained,
/// organization-owned, and not approved with exactly the access it asks for.
pub fn needs_review(grant: &TokenGrant) -> bool {
    match grant {
        TokenGrant::FineGrained {
            resource_owner_kind: AccountKind::Organization,
            requested,
            granted,
            state,
            ..
        } => {
            !(*state == GrantState::Approved
                && granted.as_ref().is_some_and(|g| same(g, requested)))
        }
        _ => false,
    }
}

/// Equal once normalised (sorted, unique repositories; none unless `subset`).
fn same(a: &TokenAccess, b: &TokenAccess) -> bool {
    let norm =
        |x: &TokenAccess| TokenAccess::new(x.selection, x.repositories.clone(), x.permissions);
    norm(a) == norm(b)
}

/// The time of a change made by a method that is given none (`update_token`, `revoke_grants`):
/// the time of its first audit event, else the clock. Stamps the grant rows it creates and the
/// requests it cancels.
pub fn change_time(audit: &[NewAuditEvent]) -> OffsetDateTime {
    audit
        .first()
        .map(|e| e.created_at)
        .unwrap_or_else(OffsetDateTime::now_utc)
}

/// The token audit events of a batch are recorded with when they leave `token_id` unset: the
/// batch's token when it concerns exactly one, else none.
pub fn batch_token(tokens: impl IntoIterator<Item = TokenId>) -> Option<TokenId> {
    let mut tokens = tokens.into_iter();
    let first = tokens.next()?;
    tokens.all(|t| t == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use patgate_domain::catalog::{Level, Permission, PermissionSet};
    use patgate_domain::model::{RepoId, RepositorySelection};

    fn access(repos: &[i64], level: Level) -> TokenAccess {
        let mut perms = PermissionSet::new();
        perms.set(Permission::CONTENTS, Some(level));
        TokenAccess::new(
            RepositorySelection::Subset,
            repos.iter().copied().map(RepoId).collect(),
            perms,
        )
    }

    fn fine(
        kind: AccountKind,
        requested: TokenAccess,
        granted: Option<TokenAccess>,
        state: GrantState,
    ) -> TokenGrant {
        TokenGrant::FineGrained {
            resource_owner: AccountId(7),
            resource_owner_kind: kind,
            requested,
            granted,
            state,
        }
    }

    #[test]
    fn grant_rows_follow_approved_organization_tokens() {
        let a = access(&[1, 2], Level::Read);
        let org = AccountKind::Organization;
        assert_eq!(
            grant_org(&fine(org, a.clone(), Some(a.clone()), GrantState::Approved)),
            Some(AccountId(7))
        );
        assert_eq!(
            grant_org(&fine(org, a.clone(), None, GrantState::Approved)),
            None
        );
        assert_eq!(
            grant_org(&fine(org, a.clone(), Some(a.clone()), GrantState::Pending)),
            None
        );
        assert_eq!(
            grant_org(&fine(
                AccountKind::User,
                a.clone(),
                Some(a),
                GrantState::Approved
            )),
            None
        );
    }

    #[test]
    fn review_is_needed_until_approved_as_asked() {
        let org = AccountKind::Organization;
        let small = access(&[1], Level::Read);
        let big = access(&[2, 1], Level::Write);
        assert!(!needs_review(&fine(
            org,
            access(&[2, 1, 1], Level::Read),
            Some(access(&[1, 2], Level::Read)),
            GrantState::Approved
        )));
        assert!(needs_review(&fine(
            org,
            big.clone(),
            Some(small.clone()),
            GrantState::Approved
        )));
        assert!(needs_review(&fine(
            org,
            big.clone(),
            None,
            GrantState::Pending
        )));
        assert!(needs_review(&fine(
            org,
            big.clone(),
            None,
            GrantState::Denied
        )));
        assert!(!needs_review(&fine(
            AccountKind::User,
            big,
            Some(small),
            GrantState::NotRequired
        )));
    }

    #[test]
    fn a_batch_token_is_its_only_token() {
        assert_eq!(batch_token([]), None);
        assert_eq!(batch_token([TokenId(3), TokenId(3)]), Some(TokenId(3)));
        assert_eq!(batch_token([TokenId(3), TokenId(4)]), None);
    }
}
