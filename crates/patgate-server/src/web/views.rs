//! How tokens read on the pages: their status, owner, dates, access.

use std::collections::HashMap;

use time::OffsetDateTime;

use patgate_domain::catalog::{Level, PermissionGroup, PermissionSet};
use patgate_domain::model::{
    AccountId, GrantState, RepoId, RepositorySelection, Token, TokenAccess, TokenGrant,
};

use super::page::{ago, date};

/// A token's status as a label: its text and style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub text: &'static str,
    pub class: &'static str,
}

pub fn status(token: &Token, now: OffsetDateTime) -> Status {
    let (text, class) = if token.is_expired(now) {
        ("Expired", "label label-danger")
    } else {
        match &token.grant {
            TokenGrant::FineGrained { state, .. } => match state {
                GrantState::Pending => ("Pending", "label label-attention"),
                GrantState::Denied => ("Denied", "label label-danger"),
                GrantState::Revoked => ("Revoked", "label label-danger"),
                GrantState::Approved | GrantState::NotRequired => ("Active", "label label-success"),
            },
            _ => ("Active", "label label-success"),
        }
    };
    Status { text, class }
}

pub fn expiry_text(token: &Token, now: OffsetDateTime) -> String {
    match token.expires_at {
        None => "Never expires".to_owned(),
        Some(t) if t <= now => format!("Expired on {}", date(t)),
        Some(t) => format!("Expires on {}", date(t)),
    }
}

pub fn last_used_text(token: &Token, now: OffsetDateTime) -> String {
    match token.last_used_at {
        None => "Never used".to_owned(),
        Some(t) => format!("Last used {}", ago(t, now)),
    }
}

/// A row of a token list.
#[derive(Clone, Debug)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub status: Status,
    pub pending_change: bool,
    pub expiry: String,
    pub last_used: String,
    pub scopes: String,
    pub expired: bool,
}

pub fn row(token: &Token, owners: &HashMap<AccountId, String>, now: OffsetDateTime) -> TokenRow {
    let owner = match &token.grant {
        TokenGrant::FineGrained { resource_owner, .. } => owners
            .get(resource_owner)
            .cloned()
            .unwrap_or_else(|| format!("#{}", resource_owner.0)),
        _ => String::new(),
    };
    let scopes = match &token.grant {
        TokenGrant::Classic { scopes } => {
            let names: Vec<&str> = scopes.list().iter().map(|s| s.name()).collect();
            if names.is_empty() {
                "no scopes".to_owned()
            } else {
                names.join(", ")
            }
        }
        _ => String::new(),
    };
    TokenRow {
        id: token.id.0,
        name: token.name.clone(),
        owner,
        status: status(token, now),
        pending_change: patgate_app::tokens::has_pending_request(token)
            && matches!(
                &token.grant,
                TokenGrant::FineGrained {
                    state: GrantState::Approved,
                    ..
                }
            ),
        expiry: expiry_text(token, now),
        last_used: last_used_text(token, now),
        scopes,
        expired: token.is_expired(now),
    }
}

/// One permission as a page lists it.
#[derive(Clone, Debug)]
pub struct PermissionLine {
    pub group: &'static str,
    pub display: &'static str,
    pub name: &'static str,
    pub level: &'static str,
}

/// An access (granted or requested) as a page shows it.
#[derive(Clone, Debug)]
pub struct AccessView {
    pub repositories: String,
    pub repository_names: Vec<String>,
    pub permissions: Vec<PermissionLine>,
}

pub fn level_text(level: Level) -> &'static str {
    match level {
        Level::Read => "Read-only",
        Level::Write => "Read and write",
        Level::Admin => "Admin",
    }
}

fn group_text(group: PermissionGroup) -> &'static str {
    match group {
        PermissionGroup::Repository => "Repository",
        PermissionGroup::Organization => "Organization",
        PermissionGroup::Account => "Account",
    }
}

pub fn permission_lines(permissions: &PermissionSet) -> Vec<PermissionLine> {
    permissions
        .iter()
        .map(|(p, l)| PermissionLine {
            group: group_text(p.group()),
            display: p.display_name(),
            name: p.name(),
            level: level_text(l),
        })
        .collect()
}

pub fn access_view(
    access: &TokenAccess,
    owner: &str,
    repo_names: &HashMap<RepoId, String>,
) -> AccessView {
    let (repositories, names) = match access.selection {
        RepositorySelection::None => ("Public repositories (read-only)".to_owned(), Vec::new()),
        RepositorySelection::All => (format!("All repositories of {owner}"), Vec::new()),
        RepositorySelection::Subset => {
            let names: Vec<String> = access
                .repositories
                .iter()
                .map(|r| {
                    repo_names.get(r).map_or_else(
                        || format!("repository #{}", r.0),
                        |n| format!("{owner}/{n}"),
                    )
                })
                .collect();
            (
                format!(
                    "{} selected {}",
                    names.len(),
                    if names.len() == 1 {
                        "repository"
                    } else {
                        "repositories"
                    }
                ),
                names,
            )
        }
    };
    AccessView {
        repositories,
        repository_names: names,
        permissions: permission_lines(&access.permissions),
    }
}

/// Page numbers around `page` of `pages`, with `None` for a gap.
pub fn page_numbers(page: u32, pages: u32) -> Vec<Option<u32>> {
    let mut out = Vec::new();
    let mut last = 0;
    for n in 1..=pages {
        if n == 1 || n == pages || n.abs_diff(page) <= 2 {
            if last != 0 && n > last + 1 {
                out.push(None);
            }
            out.push(Some(n));
            last = n;
        }
    }
    out
}

/// A list page's pagination.
#[derive(Clone, Debug)]
pub struct Pager {
    pub page: u32,
    pub pages: u32,
    pub total: usize,
    pub base: String,
    pub numbers: Vec<Option<u32>>,
}

impl Pager {
    pub fn new(total: usize, page: u32, per_page: u32, base: &str) -> Pager {
        let pages = u32::try_from(total.div_ceil(per_page as usize))
            .unwrap_or(u32::MAX)
            .max(1);
        let page = page.clamp(1, pages);
        Pager {
            page,
            pages,
            total,
            base: base.to_owned(),
            numbers: page_numbers(page, pages),
        }
    }

    /// The range of items this page shows.
    pub fn range(&self, per_page: u32) -> std::ops::Range<usize> {
        let start = (self.page as usize - 1) * per_page as usize;
        start.min(self.total)..(start + per_page as usize).min(self.total)
    }

    /// The link to `page` (templates pass numbers by reference, code by value).
    pub fn href(&self, page: impl std::borrow::Borrow<u32>) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}page={}", self.base, page.borrow())
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1
    }
    pub fn has_next(&self) -> bool {
        self.page < self.pages
    }
    pub fn prev(&self) -> u32 {
        self.page.saturating_sub(1).max(1)
    }
    pub fn next(&self) -> u32 {
        (self.page + 1).min(self.pages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_show_the_ends_and_the_neighbourhood() {
        assert_eq!(page_numbers(1, 1), vec![Some(1)]);
        assert_eq!(
            page_numbers(5, 10),
            vec![
                Some(1),
                None,
                Some(3),
                Some(4),
                Some(5),
                Some(6),
                Some(7),
                None,
                Some(10)
            ]
        );
        assert_eq!(page_numbers(1, 4), vec![Some(1), Some(2), Some(3), Some(4)]);
        let p = Pager::new(45, 3, 20, "/settings/tokens");
        assert_eq!(p.range(20), 40..45);
        assert_eq!(p.href(2), "/settings/tokens?page=2");
        assert_eq!(Pager::new(0, 9, 20, "/x").page, 1);
    }
}
