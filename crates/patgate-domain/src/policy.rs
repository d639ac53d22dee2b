//! Organization policy for personal access tokens, and the enterprise settings that override it.
//!
//! An organization's setting that is not set takes GitHub's default (both kinds allowed, approval
//! required, no maximum lifetime). An enterprise setting that is set wins over the organization's;
//! a maximum lifetime is the smaller of the two, so an organization can lower the enterprise's
//! maximum but never exceed it.

use crate::token::TokenKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Allow,
    Restrict,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Allow => "allow",
            Access::Restrict => "restrict",
        }
    }
    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "allow" => Some(Access::Allow),
            "restrict" => Some(Access::Restrict),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Approval {
    Require,
    Disable,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Require => "require",
            Approval::Disable => "disable",
        }
    }
    pub fn parse(s: &str) -> Option<Approval> {
        match s {
            "require" => Some(Approval::Require),
            "disable" => Some(Approval::Disable),
            _ => None,
        }
    }
}

/// The smallest and largest maximum lifetime a policy may set, in days.
pub const MIN_LIFETIME_DAYS: u16 = 1;
pub const MAX_LIFETIME_DAYS: u16 = 366;

/// Settings as an organization or an enterprise stored them; `None` is "not set".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PolicySettings {
    pub fine_grained: Option<Access>,
    pub classic: Option<Access>,
    pub approval: Option<Approval>,
    pub fine_grained_max_lifetime_days: Option<u16>,
    pub classic_max_lifetime_days: Option<u16>,
    /// Enterprise only: administrators (organization owners) are exempt from lifetime limits.
    pub exempt_administrators: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be between {MIN_LIFETIME_DAYS} and {MAX_LIFETIME_DAYS} days, not {value}")]
pub struct LifetimeOutOfRange {
    pub field: &'static str,
    pub value: u16,
}

impl PolicySettings {
    pub fn validate(&self) -> Result<(), LifetimeOutOfRange> {
        for (field, value) in [
            (
                "fine_grained_max_lifetime_days",
                self.fine_grained_max_lifetime_days,
            ),
            ("classic_max_lifetime_days", self.classic_max_lifetime_days),
        ] {
            if let Some(value) = value
                && !(MIN_LIFETIME_DAYS..=MAX_LIFETIME_DAYS).contains(&value)
            {
                return Err(LifetimeOutOfRange { field, value });
            }
        }
        Ok(())
    }
}

/// Who decided an effective setting (for messages and for the UI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Default,
    Organization,
    Enterprise,
}

/// The policy in force for one organization.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EffectivePolicy {
    pub org_login: String,
    pub enterprise_slug: Option<String>,
    pub fine_grained: (Access, Source),
    pub classic: (Access, Source),
    pub approval: (Approval, Source),
    pub fine_grained_max_lifetime_days: Option<(u16, Source)>,
    pub classic_max_lifetime_days: Option<(u16, Source)>,
    pub exempt_administrators: bool,
}

fn pick<T: Copy>(org: Option<T>, ent: Option<T>, default: T) -> (T, Source) {
    match (ent, org) {
        (Some(v), _) => (v, Source::Enterprise),
        (None, Some(v)) => (v, Source::Organization),
        (None, None) => (default, Source::Default),
    }
}

fn min_lifetime(org: Option<u16>, ent: Option<u16>) -> Option<(u16, Source)> {
    match (org, ent) {
        (Some(o), Some(e)) if o < e => Some((o, Source::Organization)),
        (_, Some(e)) => Some((e, Source::Enterprise)),
        (Some(o), None) => Some((o, Source::Organization)),
        (None, None) => None,
    }
}

/// DESIGN §3 rule 6: an enterprise setting that is set overrides the organization's.
pub fn resolve(
    org_login: &str,
    org: &PolicySettings,
    enterprise: Option<(&str, &PolicySettings)>,
) -> EffectivePolicy {
    let ent = enterprise.map(|(_, s)| s);
    EffectivePolicy {
        org_login: org_login.to_owned(),
        enterprise_slug: enterprise.map(|(slug, _)| slug.to_owned()),
        fine_grained: pick(
            org.fine_grained,
            ent.and_then(|e| e.fine_grained),
            Access::Allow,
        ),
        classic: pick(org.classic, ent.and_then(|e| e.classic), Access::Allow),
        approval: pick(
            org.approval,
            ent.and_then(|e| e.approval),
            Approval::Require,
        ),
        fine_grained_max_lifetime_days: min_lifetime(
            org.fine_grained_max_lifetime_days,
            ent.and_then(|e| e.fine_grained_max_lifetime_days),
        ),
        classic_max_lifetime_days: min_lifetime(
            org.classic_max_lifetime_days,
            ent.and_then(|e| e.classic_max_lifetime_days),
        ),
        exempt_administrators: ent.is_some_and(|e| e.exempt_administrators),
    }
}

impl EffectivePolicy {
    pub fn access(&self, kind: TokenKind) -> (Access, Source) {
        match kind {
            TokenKind::FineGrained => self.fine_grained,
            TokenKind::Classic => self.classic,
            TokenKind::AppInstallation => (Access::Allow, Source::Default),
        }
    }

    pub fn max_lifetime_days(&self, kind: TokenKind) -> Option<(u16, Source)> {
        match kind {
            TokenKind::FineGrained => self.fine_grained_max_lifetime_days,
            TokenKind::Classic => self.classic_max_lifetime_days,
            TokenKind::AppInstallation => None,
        }
    }

    pub fn requires_approval(&self) -> bool {
        self.approval.0 == Approval::Require
    }

    fn who(&self, source: Source) -> String {
        match (source, &self.enterprise_slug) {
            (Source::Enterprise, Some(slug)) => format!("The '{slug}' enterprise"),
            _ => format!("The '{}' organization", self.org_login),
        }
    }

    /// GitHub's wording (reference §2.3) for a restricted token kind.
    pub fn restriction_message(&self, kind: TokenKind) -> String {
        let (_, source) = self.access(kind);
        match kind {
            TokenKind::Classic => format!(
                "{} forbids access via a personal access token (classic). Please use a GitHub App, \
                 OAuth App, or a personal access token with fine-grained permissions.",
                self.who(source)
            ),
            _ => format!(
                "{} forbids access via a fine-grained personal access token. Please use a GitHub \
                 App, OAuth App, or a personal access token (classic).",
                self.who(source)
            ),
        }
    }

    /// GitHub's wording (reference §2.3) for a token whose lifetime exceeds the maximum.
    pub fn lifetime_message(&self, kind: TokenKind, days: u16, source: Source) -> String {
        let what = match kind {
            TokenKind::Classic => "a personal access token (classic)",
            _ => "a fine-grained personal access token",
        };
        format!(
            "{} forbids access via {what} if the token's lifetime is greater than {days} days.",
            self.who(source)
        )
    }
}

/// A setting an organization asked for that its enterprise overrides: what the organization
/// chose, and what is in force instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overridden {
    /// The setting's name (`classic`, `fine_grained_max_lifetime_days`, ...).
    pub setting: &'static str,
    pub requested: String,
    pub in_force: String,
    pub enterprise: String,
}

impl Overridden {
    pub fn message(&self) -> String {
        format!(
            "{} is saved as {}, but the '{}' enterprise sets it to {}, which is in force.",
            self.setting, self.requested, self.enterprise, self.in_force
        )
    }
}

/// The settings `org` asks for that the enterprise overrides in `effective` (saving them is
/// allowed, and they take effect should the enterprise let organizations decide).
pub fn overridden(org: &PolicySettings, effective: &EffectivePolicy) -> Vec<Overridden> {
    let Some(enterprise) = effective.enterprise_slug.clone() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut check = |setting: &'static str,
                     requested: Option<String>,
                     in_force: Option<String>,
                     source: Option<Source>| {
        if let (Some(requested), Some(Source::Enterprise)) = (requested, source)
            && in_force.as_deref() != Some(requested.as_str())
        {
            out.push(Overridden {
                setting,
                requested,
                in_force: in_force.unwrap_or_else(|| "unset".to_owned()),
                enterprise: enterprise.clone(),
            });
        }
    };
    check(
        "fine_grained",
        org.fine_grained.map(|a| a.as_str().to_owned()),
        Some(effective.fine_grained.0.as_str().to_owned()),
        Some(effective.fine_grained.1),
    );
    check(
        "classic",
        org.classic.map(|a| a.as_str().to_owned()),
        Some(effective.classic.0.as_str().to_owned()),
        Some(effective.classic.1),
    );
    check(
        "approval",
        org.approval.map(|a| a.as_str().to_owned()),
        Some(effective.approval.0.as_str().to_owned()),
        Some(effective.approval.1),
    );
    check(
        "fine_grained_max_lifetime_days",
        org.fine_grained_max_lifetime_days.map(|d| d.to_string()),
        effective
            .fine_grained_max_lifetime_days
            .map(|(d, _)| d.to_string()),
        effective.fine_grained_max_lifetime_days.map(|(_, s)| s),
    );
    check(
        "classic_max_lifetime_days",
        org.classic_max_lifetime_days.map(|d| d.to_string()),
        effective
            .classic_max_lifetime_days
            .map(|(d, _)| d.to_string()),
        effective.classic_max_lifetime_days.map(|(_, s)| s),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_enterprise_overrides_is_reported_and_nothing_else() {
        let ent = PolicySettings {
            classic: Some(Access::Restrict),
            fine_grained_max_lifetime_days: Some(30),
            ..PolicySettings::default()
        };
        let org = PolicySettings {
            classic: Some(Access::Allow),
            approval: Some(Approval::Disable),
            fine_grained_max_lifetime_days: Some(90),
            ..PolicySettings::default()
        };
        let effective = resolve("acme", &org, Some(("corp", &ent)));
        let found = overridden(&org, &effective);
        assert_eq!(
            found.iter().map(|o| o.setting).collect::<Vec<_>>(),
            vec!["classic", "fine_grained_max_lifetime_days"]
        );
        assert_eq!(found[0].requested, "allow");
        assert_eq!(found[0].in_force, "restrict");
        assert_eq!(
            found[0].message(),
            "classic is saved as allow, but the 'corp' enterprise sets it to restrict, which is in force."
        );
        // A stricter lifetime of the organization's own is in force: not overridden.
        let strict = PolicySettings {
            fine_grained_max_lifetime_days: Some(7),
            ..PolicySettings::default()
        };
        let effective = resolve("acme", &strict, Some(("corp", &ent)));
        assert!(overridden(&strict, &effective).is_empty());
        // Without an enterprise nothing is overridden.
        assert!(overridden(&org, &resolve("acme", &org, None)).is_empty());
    }

    fn settings() -> PolicySettings {
        PolicySettings::default()
    }

    #[test]
    fn unset_settings_take_githubs_defaults() {
        let p = resolve("acme", &settings(), None);
        assert_eq!(p.fine_grained, (Access::Allow, Source::Default));
        assert_eq!(p.classic, (Access::Allow, Source::Default));
        assert_eq!(p.approval, (Approval::Require, Source::Default));
        assert_eq!(p.fine_grained_max_lifetime_days, None);
        assert!(p.requires_approval());
    }

    #[test]
    fn organization_settings_apply_when_the_enterprise_leaves_them_open() {
        let org = PolicySettings {
            classic: Some(Access::Restrict),
            approval: Some(Approval::Disable),
            ..settings()
        };
        let p = resolve("acme", &org, Some(("corp", &settings())));
        assert_eq!(p.classic, (Access::Restrict, Source::Organization));
        assert_eq!(p.approval, (Approval::Disable, Source::Organization));
    }

    #[test]
    fn enterprise_settings_beat_the_organization() {
        let org = PolicySettings {
            fine_grained: Some(Access::Allow),
            classic: Some(Access::Allow),
            approval: Some(Approval::Disable),
            ..settings()
        };
        let ent = PolicySettings {
            fine_grained: Some(Access::Restrict),
            classic: Some(Access::Restrict),
            approval: Some(Approval::Require),
            ..settings()
        };
        let p = resolve("acme", &org, Some(("corp", &ent)));
        assert_eq!(p.fine_grained, (Access::Restrict, Source::Enterprise));
        assert_eq!(p.classic, (Access::Restrict, Source::Enterprise));
        assert_eq!(p.approval, (Approval::Require, Source::Enterprise));
        assert!(p.restriction_message(TokenKind::Classic).starts_with(
            "The 'corp' enterprise forbids access via a personal access token (classic)."
        ));
    }

    #[test]
    fn an_enterprise_allow_overrides_an_organization_restriction() {
        let org = PolicySettings {
            classic: Some(Access::Restrict),
            ..settings()
        };
        let ent = PolicySettings {
            classic: Some(Access::Allow),
            ..settings()
        };
        let p = resolve("acme", &org, Some(("corp", &ent)));
        assert_eq!(p.classic, (Access::Allow, Source::Enterprise));
    }

    #[test]
    fn organizations_may_lower_but_not_exceed_the_enterprise_lifetime() {
        let ent = PolicySettings {
            fine_grained_max_lifetime_days: Some(90),
            ..settings()
        };
        let lower = PolicySettings {
            fine_grained_max_lifetime_days: Some(30),
            ..settings()
        };
        let higher = PolicySettings {
            fine_grained_max_lifetime_days: Some(200),
            ..settings()
        };
        assert_eq!(
            resolve("a", &lower, Some(("e", &ent))).fine_grained_max_lifetime_days,
            Some((30, Source::Organization))
        );
        assert_eq!(
            resolve("a", &higher, Some(("e", &ent))).fine_grained_max_lifetime_days,
            Some((90, Source::Enterprise))
        );
        assert_eq!(
            resolve("a", &settings(), Some(("e", &ent))).fine_grained_max_lifetime_days,
            Some((90, Source::Enterprise))
        );
    }

    #[test]
    fn exempt_administrators_only_comes_from_the_enterprise() {
        let org = PolicySettings {
            exempt_administrators: true,
            ..settings()
        };
        assert!(!resolve("a", &org, None).exempt_administrators);
        let ent = PolicySettings {
            exempt_administrators: true,
            ..settings()
        };
        assert!(resolve("a", &settings(), Some(("e", &ent))).exempt_administrators);
    }

    #[test]
    fn lifetimes_outside_one_to_366_days_are_refused() {
        for bad in [0u16, 367, 1000] {
            let s = PolicySettings {
                classic_max_lifetime_days: Some(bad),
                ..settings()
            };
            assert_eq!(
                s.validate(),
                Err(LifetimeOutOfRange {
                    field: "classic_max_lifetime_days",
                    value: bad
                })
            );
        }
        for good in [1u16, 30, 366] {
            let s = PolicySettings {
                fine_grained_max_lifetime_days: Some(good),
                ..settings()
            };
            assert_eq!(s.validate(), Ok(()));
        }
    }

    #[test]
    fn lifetime_message_names_the_organization_kind_and_days() {
        let p = resolve("acme", &settings(), None);
        assert_eq!(
            p.lifetime_message(TokenKind::Classic, 8, Source::Organization),
            "The 'acme' organization forbids access via a personal access token (classic) if the \
             token's lifetime is greater than 8 days."
        );
    }
}
