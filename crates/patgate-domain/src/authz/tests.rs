//! One test per rule of DESIGN §3, each with the allowed and the refused case, then proptest
//! invariants.

use proptest::prelude::*;
use time::{Duration, OffsetDateTime, macros::datetime};

use super::*;
use crate::catalog::PermissionSet;
use crate::model::{RepositorySelection, TokenAccess, TokenId, Visibility};
use crate::policy::{PolicySettings, resolve};
use crate::scopes::Scopes;

const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);
const ALICE: AccountId = AccountId(1);
const ACME: AccountId = AccountId(100);
const OTHER_ORG: AccountId = AccountId(200);
const REPO: RepoId = RepoId(10);
const OTHER_REPO: RepoId = RepoId(11);

fn perms(list: &[(Permission, Level)]) -> PermissionSet {
    let mut set = PermissionSet::new();
    for (p, l) in list {
        set.set(*p, Some(*l));
    }
    set
}

fn fine_grained(
    owner: AccountId,
    kind: AccountKind,
    access: TokenAccess,
    state: GrantState,
) -> Credential {
    Credential {
        token_id: TokenId(1),
        user: ALICE,
        issued_at: NOW - Duration::days(1),
        expires_at: Some(NOW + Duration::days(29)),
        grant: TokenGrant::FineGrained {
            resource_owner: owner,
            resource_owner_kind: kind,
            requested: access.clone(),
            granted: match state {
                GrantState::Approved | GrantState::NotRequired => Some(access),
                _ => None,
            },
            state,
        },
    }
}

fn org_token(list: &[(Permission, Level)]) -> Credential {
    fine_grained(
        ACME,
        AccountKind::Organization,
        TokenAccess::new(RepositorySelection::Subset, vec![REPO], perms(list)),
        GrantState::Approved,
    )
}

fn classic(scopes: &str) -> Credential {
    Credential {
        token_id: TokenId(2),
        user: ALICE,
        issued_at: NOW - Duration::days(1),
        expires_at: None,
        grant: TokenGrant::Classic {
            scopes: Scopes::parse(scopes).unwrap(),
        },
    }
}

fn open_policy() -> EffectivePolicy {
    resolve("acme", &PolicySettings::default(), None)
}

fn org_repo<'a>(id: RepoId, public: bool, policy: &'a EffectivePolicy) -> Resource<'a> {
    Resource {
        kind: ResourceKind::Repository(id),
        owner: ACME,
        owner_kind: AccountKind::Organization,
        public,
        policy: Some(policy),
    }
}

fn member(role: RepoRole) -> OwnerRights {
    OwnerRights {
        repo_role: Some(role),
        org_role: Some(OrgRole::Member),
    }
}

fn read(p: Permission) -> Option<Need> {
    Some(Need::new(p, Level::Read))
}
fn write(p: Permission) -> Option<Need> {
    Some(Need::new(p, Level::Write))
}

/// One place that calls the API, so that the tests below are data.
fn check(
    cred: &Credential,
    resource: &Resource<'_>,
    need: Option<Need>,
    rights: OwnerRights,
) -> Result<(), (u16, DenyReason)> {
    match decide(cred, resource, need, rights, NOW) {
        Decision::Allow => Ok(()),
        Decision::Deny(d) => Err((d.status.code(), d.reason)),
    }
}

#[test]
fn rule_1_a_token_never_exceeds_its_owner() {
    let policy = open_policy();
    let token = org_token(&[(Permission::CONTENTS, Level::Write)]);
    let repo = org_repo(REPO, false, &policy);
    assert_eq!(
        check(
            &token,
            &repo,
            write(Permission::CONTENTS),
            member(RepoRole::Write)
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &token,
            &repo,
            write(Permission::CONTENTS),
            member(RepoRole::Read)
        ),
        Err((403, DenyReason::OwnerLacksRights))
    );
    let classic = classic("repo");
    assert_eq!(
        check(
            &classic,
            &repo,
            write(Permission::CONTENTS),
            member(RepoRole::Write)
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &classic,
            &repo,
            write(Permission::CONTENTS),
            member(RepoRole::Triage)
        ),
        Err((403, DenyReason::OwnerLacksRights))
    );
}

#[test]
fn rule_2_public_reads_pass_in_any_state_but_expired() {
    let restrict = resolve(
        "acme",
        &PolicySettings {
            fine_grained: Some(Access::Restrict),
            classic: Some(Access::Restrict),
            ..PolicySettings::default()
        },
        None,
    );
    let public = org_repo(REPO, true, &restrict);
    let nobody = OwnerRights::default();
    for state in [
        GrantState::Pending,
        GrantState::Denied,
        GrantState::Revoked,
        GrantState::Approved,
    ] {
        let token = fine_grained(ACME, AccountKind::Organization, TokenAccess::none(), state);
        assert_eq!(
            check(&token, &public, read(Permission::CONTENTS), nobody),
            Ok(()),
            "{state:?}"
        );
    }
    assert_eq!(
        check(&classic(""), &public, read(Permission::CONTENTS), nobody),
        Ok(())
    );
    let mut expired = classic("repo");
    expired.expires_at = Some(NOW - Duration::seconds(1));
    assert_eq!(
        check(&expired, &public, read(Permission::CONTENTS), nobody),
        Err((401, DenyReason::Expired))
    );
    // Secrets of a public repository are not public.
    let token = fine_grained(
        ACME,
        AccountKind::Organization,
        TokenAccess::none(),
        GrantState::Pending,
    );
    assert!(
        check(
            &token,
            &public,
            read(Permission::from_name("secrets").unwrap()),
            nobody
        )
        .is_err()
    );
}

#[test]
fn rule_3_a_fine_grained_token_reaches_one_resource_owner() {
    let policy = open_policy();
    let token = org_token(&[(Permission::CONTENTS, Level::Read)]);
    let mine = org_repo(REPO, false, &policy);
    let mut theirs = org_repo(REPO, false, &policy);
    theirs.owner = OTHER_ORG;
    assert_eq!(
        check(
            &token,
            &mine,
            read(Permission::CONTENTS),
            member(RepoRole::Read)
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &token,
            &theirs,
            read(Permission::CONTENTS),
            member(RepoRole::Read)
        ),
        Err((404, DenyReason::WrongResourceOwner))
    );
    theirs.public = true;
    assert_eq!(
        check(
            &token,
            &theirs,
            read(Permission::CONTENTS),
            member(RepoRole::Read)
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &token,
            &theirs,
            write(Permission::CONTENTS),
            member(RepoRole::Write)
        ),
        Err((403, DenyReason::WrongResourceOwner))
    );
}

#[test]
fn rule_4_repository_selection_and_permission_groups() {
    let policy = open_policy();
    let rights = member(RepoRole::Admin);
    let subset = org_token(&[(Permission::CONTENTS, Level::Read)]);
    assert_eq!(
        check(
            &subset,
            &org_repo(REPO, false, &policy),
            read(Permission::CONTENTS),
            rights
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &subset,
            &org_repo(OTHER_REPO, false, &policy),
            read(Permission::CONTENTS),
            rights
        ),
        Err((404, DenyReason::RepositoryNotSelected))
    );
    let all = fine_grained(
        ACME,
        AccountKind::Organization,
        TokenAccess::new(
            RepositorySelection::All,
            vec![],
            perms(&[(Permission::CONTENTS, Level::Read)]),
        ),
        GrantState::Approved,
    );
    assert_eq!(
        check(
            &all,
            &org_repo(OTHER_REPO, false, &policy),
            read(Permission::CONTENTS),
            rights
        ),
        Ok(())
    );
    let none = fine_grained(
        ACME,
        AccountKind::Organization,
        TokenAccess::none(),
        GrantState::Approved,
    );
    assert_eq!(
        check(
            &none,
            &org_repo(REPO, false, &policy),
            read(Permission::METADATA),
            rights
        ),
        Err((404, DenyReason::RepositoryNotSelected))
    );
    // metadata: read comes with any selected repository.
    assert_eq!(
        check(
            &subset,
            &org_repo(REPO, false, &policy),
            read(Permission::METADATA),
            rights
        ),
        Ok(())
    );
    // Account permissions never apply to an organization owner; organization ones never to a user.
    let user_token = fine_grained(
        ALICE,
        AccountKind::User,
        TokenAccess::new(
            RepositorySelection::None,
            vec![],
            perms(&[(Permission::KEYS, Level::Write)]),
        ),
        GrantState::NotRequired,
    );
    let account = Resource {
        kind: ResourceKind::Account,
        owner: ALICE,
        owner_kind: AccountKind::User,
        public: false,
        policy: None,
    };
    assert_eq!(
        check(
            &user_token,
            &account,
            write(Permission::KEYS),
            OwnerRights::default()
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &user_token,
            &account,
            write(Permission::MEMBERS),
            OwnerRights::default()
        ),
        Err((404, DenyReason::PermissionNotApplicable))
    );
}

#[test]
fn rule_5_levels_are_ordered_and_write_includes_read() {
    let policy = open_policy();
    let rights = member(RepoRole::Admin);
    let repo = org_repo(REPO, false, &policy);
    let writer = org_token(&[(Permission::CONTENTS, Level::Write)]);
    assert_eq!(
        check(&writer, &repo, read(Permission::CONTENTS), rights),
        Ok(())
    );
    let reader = org_token(&[(Permission::CONTENTS, Level::Read)]);
    match decide(&reader, &repo, write(Permission::CONTENTS), rights, NOW) {
        Decision::Deny(d) => {
            assert_eq!(d.status, DenyStatus::Forbidden);
            assert_eq!(d.reason, DenyReason::MissingPermission);
            assert_eq!(d.message, NOT_ACCESSIBLE_BY_PAT);
            assert_eq!(d.accepted_permissions.as_deref(), Some("contents=write"));
        }
        Decision::Allow => panic!("read token wrote"),
    }
}

#[test]
fn rule_6_policy_restricts_kinds_and_lifetimes_on_non_public_resources() {
    let restrict_classic = resolve(
        "acme",
        &PolicySettings {
            classic: Some(Access::Restrict),
            ..PolicySettings::default()
        },
        None,
    );
    let repo = org_repo(REPO, false, &restrict_classic);
    match decide(
        &classic("repo"),
        &repo,
        read(Permission::CONTENTS),
        member(RepoRole::Write),
        NOW,
    ) {
        Decision::Deny(d) => {
            assert_eq!(
                (d.status, d.reason),
                (DenyStatus::Forbidden, DenyReason::KindRestricted)
            );
            assert!(d.message.contains(
                "'acme' organization forbids access via a personal access token (classic)"
            ));
        }
        Decision::Allow => panic!("restricted classic token allowed"),
    }
    // The fine-grained kind is still allowed there.
    let token = org_token(&[(Permission::CONTENTS, Level::Read)]);
    assert_eq!(
        check(
            &token,
            &repo,
            read(Permission::CONTENTS),
            member(RepoRole::Write)
        ),
        Ok(())
    );

    let short = resolve(
        "acme",
        &PolicySettings {
            fine_grained_max_lifetime_days: Some(7),
            ..PolicySettings::default()
        },
        None,
    );
    let repo = org_repo(REPO, false, &short);
    assert_eq!(
        check(
            &token,
            &repo,
            read(Permission::CONTENTS),
            member(RepoRole::Write)
        ),
        Err((403, DenyReason::LifetimeExceeded))
    );
    let mut compliant = token.clone();
    compliant.expires_at = Some(compliant.issued_at + Duration::days(7));
    assert_eq!(
        check(
            &compliant,
            &repo,
            read(Permission::CONTENTS),
            member(RepoRole::Write)
        ),
        Ok(())
    );
    let mut forever = token;
    forever.expires_at = None;
    assert_eq!(
        check(
            &forever,
            &repo,
            read(Permission::CONTENTS),
            member(RepoRole::Write)
        ),
        Err((403, DenyReason::LifetimeExceeded))
    );
}

#[test]
fn rule_6_enterprise_may_exempt_administrators_from_lifetimes() {
    let ent = PolicySettings {
        classic_max_lifetime_days: Some(8),
        exempt_administrators: true,
        ..PolicySettings::default()
    };
    let policy = resolve("acme", &PolicySettings::default(), Some(("corp", &ent)));
    let repo = org_repo(REPO, false, &policy);
    let owner = OwnerRights {
        repo_role: Some(RepoRole::Admin),
        org_role: Some(OrgRole::Owner),
    };
    assert_eq!(
        check(&classic("repo"), &repo, read(Permission::CONTENTS), owner),
        Ok(())
    );
    assert_eq!(
        check(
            &classic("repo"),
            &repo,
            read(Permission::CONTENTS),
            member(RepoRole::Admin)
        ),
        Err((403, DenyReason::LifetimeExceeded))
    );
}

#[test]
fn rule_7_pending_and_denied_tokens_read_only_public_resources() {
    let policy = open_policy();
    let access = TokenAccess::new(
        RepositorySelection::All,
        vec![],
        perms(&[(Permission::CONTENTS, Level::Write)]),
    );
    for state in [GrantState::Pending, GrantState::Denied] {
        let token = fine_grained(ACME, AccountKind::Organization, access.clone(), state);
        assert_eq!(
            check(
                &token,
                &org_repo(REPO, false, &policy),
                read(Permission::CONTENTS),
                member(RepoRole::Admin)
            ),
            Err((404, DenyReason::GrantNotActive(state)))
        );
        assert_eq!(
            check(
                &token,
                &org_repo(REPO, true, &policy),
                write(Permission::CONTENTS),
                member(RepoRole::Admin)
            ),
            Err((403, DenyReason::GrantNotActive(state)))
        );
        assert_eq!(
            check(
                &token,
                &org_repo(REPO, true, &policy),
                read(Permission::CONTENTS),
                member(RepoRole::Admin)
            ),
            Ok(())
        );
    }
}

#[test]
fn rule_7_an_edit_waiting_for_approval_keeps_the_approved_access() {
    let policy = open_policy();
    let approved = TokenAccess::new(
        RepositorySelection::Subset,
        vec![REPO],
        perms(&[(Permission::CONTENTS, Level::Read)]),
    );
    let requested = TokenAccess::new(
        RepositorySelection::Subset,
        vec![REPO],
        perms(&[(Permission::CONTENTS, Level::Write)]),
    );
    let mut token = fine_grained(
        ACME,
        AccountKind::Organization,
        approved.clone(),
        GrantState::Approved,
    );
    token.grant = TokenGrant::FineGrained {
        resource_owner: ACME,
        resource_owner_kind: AccountKind::Organization,
        requested,
        granted: Some(approved),
        state: GrantState::Approved,
    };
    let repo = org_repo(REPO, false, &policy);
    assert_eq!(
        check(
            &token,
            &repo,
            read(Permission::CONTENTS),
            member(RepoRole::Admin)
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &token,
            &repo,
            write(Permission::CONTENTS),
            member(RepoRole::Admin)
        ),
        Err((403, DenyReason::MissingPermission))
    );
}

#[test]
fn rule_8_a_revoked_grant_reads_public_resources_only() {
    let policy = open_policy();
    let token = fine_grained(
        ACME,
        AccountKind::Organization,
        TokenAccess::new(
            RepositorySelection::All,
            vec![],
            perms(&[(Permission::CONTENTS, Level::Read)]),
        ),
        GrantState::Revoked,
    );
    assert_eq!(
        check(
            &token,
            &org_repo(REPO, false, &policy),
            read(Permission::CONTENTS),
            member(RepoRole::Read)
        ),
        Err((404, DenyReason::GrantNotActive(GrantState::Revoked)))
    );
    assert_eq!(
        check(
            &token,
            &org_repo(REPO, true, &policy),
            read(Permission::CONTENTS),
            member(RepoRole::Read)
        ),
        Ok(())
    );
}

#[test]
fn rule_9_classic_scopes_follow_their_hierarchy() {
    let policy = open_policy();
    let private = org_repo(REPO, false, &policy);
    let public = org_repo(REPO, true, &policy);
    let rights = member(RepoRole::Write);
    assert_eq!(
        check(
            &classic("repo"),
            &private,
            write(Permission::CONTENTS),
            rights
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &classic("public_repo"),
            &private,
            read(Permission::CONTENTS),
            rights
        ),
        Err((404, DenyReason::MissingScope))
    );
    assert_eq!(
        check(
            &classic("public_repo"),
            &public,
            write(Permission::CONTENTS),
            rights
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &classic("repo"),
            &public,
            write(Permission::CONTENTS),
            rights
        ),
        Ok(())
    );
    match decide(
        &classic("gist"),
        &public,
        write(Permission::CONTENTS),
        rights,
        NOW,
    ) {
        Decision::Deny(d) => {
            assert_eq!(
                (d.status, d.reason),
                (DenyStatus::Forbidden, DenyReason::MissingScope)
            );
            assert_eq!(d.accepted_scopes.as_deref(), Some("public_repo"));
        }
        Decision::Allow => panic!("gist token pushed"),
    }
    // Pushing workflows needs `workflow`.
    assert_eq!(
        check(
            &classic("repo"),
            &private,
            write(Permission::WORKFLOWS),
            member(RepoRole::Admin)
        ),
        Err((403, DenyReason::MissingScope))
    );
    assert_eq!(
        check(
            &classic("repo,workflow"),
            &private,
            write(Permission::WORKFLOWS),
            member(RepoRole::Admin)
        ),
        Ok(())
    );
    // Classic tokens are never subject to approval: a token in any organization works at once.
    let org = Resource {
        kind: ResourceKind::Organization,
        owner: OTHER_ORG,
        owner_kind: AccountKind::Organization,
        public: false,
        policy: Some(&policy),
    };
    let admin_org = OwnerRights {
        repo_role: None,
        org_role: Some(OrgRole::Owner),
    };
    assert_eq!(
        check(
            &classic("admin:org"),
            &org,
            write(Permission::MEMBERS),
            admin_org
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &classic("read:org"),
            &org,
            write(Permission::MEMBERS),
            admin_org
        ),
        Err((403, DenyReason::MissingScope))
    );
}

#[test]
fn rule_10_losing_access_in_the_directory_removes_it_from_every_token() {
    let policy = open_policy();
    let repo = org_repo(REPO, false, &policy);
    let gone = OwnerRights::default();
    assert_eq!(
        check(
            &org_token(&[(Permission::CONTENTS, Level::Read)]),
            &repo,
            read(Permission::CONTENTS),
            gone
        ),
        Err((404, DenyReason::UserCannotSee))
    );
    assert_eq!(
        check(&classic("repo"), &repo, read(Permission::CONTENTS), gone),
        Err((404, DenyReason::UserCannotSee))
    );
}

#[test]
fn rule_13_hidden_resources_answer_404_and_visible_ones_403() {
    let policy = open_policy();
    let token = org_token(&[(Permission::ISSUES, Level::Read)]);
    // Not selected and private: 404.
    let d = decide(
        &token,
        &org_repo(OTHER_REPO, false, &policy),
        read(Permission::CONTENTS),
        member(RepoRole::Read),
        NOW,
    );
    assert_eq!(
        d.denial().map(|d| (d.status, d.message.as_str())),
        Some((DenyStatus::NotFound, NOT_FOUND))
    );
    // Selected, lacking the permission: 403 with GitHub's words.
    let d = decide(
        &token,
        &org_repo(REPO, false, &policy),
        read(Permission::CONTENTS),
        member(RepoRole::Read),
        NOW,
    );
    assert_eq!(
        d.denial().map(|d| (d.status, d.message.as_str())),
        Some((DenyStatus::Forbidden, NOT_ACCESSIBLE_BY_PAT))
    );
}

#[test]
fn rule_14_app_installations_are_confined_to_their_organization_and_permissions() {
    let policy = open_policy();
    let app = Credential {
        token_id: TokenId(9),
        user: ACME,
        issued_at: NOW,
        expires_at: Some(NOW + Duration::hours(1)),
        grant: TokenGrant::AppInstallation {
            org: ACME,
            permissions: perms(&[(Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS, Level::Read)]),
        },
    };
    let org = Resource {
        kind: ResourceKind::Organization,
        owner: ACME,
        owner_kind: AccountKind::Organization,
        public: false,
        policy: Some(&policy),
    };
    let as_app = OwnerRights {
        repo_role: None,
        org_role: Some(OrgRole::Owner),
    };
    assert_eq!(
        check(
            &app,
            &org,
            read(Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS),
            as_app
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &app,
            &org,
            write(Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS),
            as_app
        ),
        Err((403, DenyReason::MissingPermission))
    );
    // A personal access token never holds the app-only permissions.
    let pat = fine_grained(
        ACME,
        AccountKind::Organization,
        TokenAccess::new(
            RepositorySelection::None,
            vec![],
            perms(&[(Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS, Level::Read)]),
        ),
        GrantState::Approved,
    );
    assert!(
        check(
            &pat,
            &org,
            read(Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS),
            as_app
        )
        .is_err()
    );
}

#[test]
fn rule_15_repo_role_comes_from_the_directory() {
    let bob = AccountId(2);
    use Visibility::*;
    assert_eq!(
        repo_role(ALICE, ALICE, Private, None, None, false),
        Some(RepoRole::Admin)
    );
    assert_eq!(repo_role(bob, ALICE, Private, None, None, false), None);
    assert_eq!(
        repo_role(bob, ALICE, Public, None, None, false),
        Some(RepoRole::Read)
    );
    assert_eq!(
        repo_role(
            bob,
            ACME,
            Private,
            Some((OrgRole::Owner, RepoRole::Read)),
            None,
            false
        ),
        Some(RepoRole::Admin)
    );
    assert_eq!(
        repo_role(
            bob,
            ACME,
            Private,
            Some((OrgRole::Member, RepoRole::Read)),
            None,
            false
        ),
        Some(RepoRole::Read)
    );
    assert_eq!(
        repo_role(
            bob,
            ACME,
            Private,
            Some((OrgRole::Member, RepoRole::Read)),
            Some(RepoRole::Maintain),
            false
        ),
        Some(RepoRole::Maintain)
    );
    assert_eq!(
        repo_role(bob, ACME, Private, None, Some(RepoRole::Triage), false),
        Some(RepoRole::Triage)
    );
    assert_eq!(
        repo_role(bob, ACME, Internal, None, None, true),
        Some(RepoRole::Read)
    );
    assert_eq!(repo_role(bob, ACME, Internal, None, None, false), None);
}

#[test]
fn a_token_without_need_passes_only_where_the_user_sees() {
    let account = Resource {
        kind: ResourceKind::Account,
        owner: ALICE,
        owner_kind: AccountKind::User,
        public: false,
        policy: None,
    };
    let pending = fine_grained(
        ACME,
        AccountKind::Organization,
        TokenAccess::none(),
        GrantState::Pending,
    );
    assert_eq!(
        check(&pending, &account, None, OwnerRights::default()),
        Ok(())
    );
    let mut someone_else = account;
    someone_else.owner = AccountId(77);
    assert_eq!(
        check(&pending, &someone_else, None, OwnerRights::default()),
        Err((404, DenyReason::UserCannotSee))
    );
}

// ---- invariants ----

fn any_level() -> impl Strategy<Value = Level> {
    prop_oneof![Just(Level::Read), Just(Level::Write), Just(Level::Admin)]
}

fn any_role() -> impl Strategy<Value = Option<RepoRole>> {
    prop_oneof![
        Just(None),
        Just(Some(RepoRole::Read)),
        Just(Some(RepoRole::Triage)),
        Just(Some(RepoRole::Write)),
        Just(Some(RepoRole::Maintain)),
        Just(Some(RepoRole::Admin)),
    ]
}

fn repo_permissions() -> Vec<Permission> {
    Permission::all()
        .filter(|p| p.group() == PermissionGroup::Repository)
        .collect()
}

fn any_need() -> impl Strategy<Value = Need> {
    let repo = repo_permissions();
    (0..repo.len(), any_level()).prop_map(move |(i, level)| Need::new(repo[i], level))
}

fn any_repo_permission_set() -> impl Strategy<Value = PermissionSet> {
    let repo = repo_permissions();
    proptest::collection::vec((0..repo.len(), any_level()), 0..8).prop_map(move |pairs| {
        let mut set = PermissionSet::new();
        for (i, level) in pairs {
            let p = repo[i];
            let allowed = p
                .allowed_levels()
                .iter()
                .copied()
                .filter(|l| *l <= level)
                .max();
            set.set(p, allowed.or(p.allowed_levels().first().copied()));
        }
        set
    })
}

fn any_credential() -> impl Strategy<Value = Credential> {
    let fine = (any_repo_permission_set(), 0u8..3, 0u8..5).prop_map(|(set, sel, state)| {
        let selection = [
            RepositorySelection::None,
            RepositorySelection::Subset,
            RepositorySelection::All,
        ][sel as usize];
        let state = [
            GrantState::Approved,
            GrantState::Pending,
            GrantState::Denied,
            GrantState::Revoked,
            GrantState::NotRequired,
        ][state as usize];
        fine_grained(
            ACME,
            AccountKind::Organization,
            TokenAccess::new(selection, vec![REPO], set),
            state,
        )
    });
    let scope_names = [
        "repo",
        "public_repo",
        "workflow",
        "gist",
        "read:org",
        "admin:org",
        "user",
    ];
    let classic = proptest::collection::vec(0..scope_names.len(), 0..4).prop_map(move |idx| {
        let names: Vec<&str> = idx.iter().map(|i| scope_names[*i]).collect();
        classic(&names.join(","))
    });
    prop_oneof![fine, classic]
}

fn stricter(policy: &PolicySettings, which: u8) -> PolicySettings {
    let mut p = policy.clone();
    match which {
        0 => p.fine_grained = Some(Access::Restrict),
        1 => p.classic = Some(Access::Restrict),
        2 => {
            p.fine_grained_max_lifetime_days =
                Some(p.fine_grained_max_lifetime_days.unwrap_or(366).min(7))
        }
        _ => p.classic_max_lifetime_days = Some(p.classic_max_lifetime_days.unwrap_or(366).min(7)),
    }
    p
}

proptest! {
    #[test]
    fn a_token_never_exceeds_its_owner(cred in any_credential(), need in any_need(), role in any_role(), public in any::<bool>()) {
        let policy = open_policy();
        let repo = org_repo(REPO, public, &policy);
        let rights = OwnerRights { repo_role: role, org_role: role.map(|_| OrgRole::Member) };
        if decide(&cred, &repo, Some(need), rights, NOW).is_allowed() {
            let public_read = public && need.level == Level::Read && publicly_readable(need.permission);
            prop_assert!(public_read || role.and_then(|r| r.ceiling(need.permission)).is_some_and(|l| l >= need.level));
        }
    }

    #[test]
    fn adding_a_restriction_never_widens_access(cred in any_credential(), need in any_need(), role in any_role(), public in any::<bool>(), which in 0u8..4) {
        let base = PolicySettings::default();
        let loose = resolve("acme", &base, None);
        let tight = resolve("acme", &stricter(&base, which), None);
        let rights = OwnerRights { repo_role: role, org_role: role.map(|_| OrgRole::Member) };
        let tight_allows = decide(&cred, &org_repo(REPO, public, &tight), Some(need), rights, NOW).is_allowed();
        let loose_allows = decide(&cred, &org_repo(REPO, public, &loose), Some(need), rights, NOW).is_allowed();
        prop_assert!(!tight_allows || loose_allows);
    }

    #[test]
    fn public_reads_always_pass_for_a_live_token(cred in any_credential(), role in any_role(), which in 0u8..4) {
        let policy = resolve("acme", &stricter(&PolicySettings::default(), which), None);
        let rights = OwnerRights { repo_role: role, org_role: None };
        for p in Permission::all().filter(|p| publicly_readable(*p)) {
            prop_assert!(decide(&cred, &org_repo(REPO, true, &policy), Some(Need::new(p, Level::Read)), rights, NOW).is_allowed());
        }
    }
}

// ---- explanations: the same path as `decide`, recording ----

fn all_permissions_need() -> impl Strategy<Value = Need> {
    let all: Vec<Permission> = Permission::all().collect();
    (0..all.len(), any_level()).prop_map(move |(i, level)| Need::new(all[i], level))
}

fn any_policy() -> impl Strategy<Value = EffectivePolicy> {
    (0u8..5).prop_map(|which| {
        if which == 4 {
            open_policy()
        } else {
            resolve("acme", &stricter(&PolicySettings::default(), which), None)
        }
    })
}

proptest! {
    #[test]
    fn an_explanation_decides_as_decide(cred in any_credential(), need in all_permissions_need(), role in any_role(), public in any::<bool>(), policy in any_policy(), kind in 0u8..3) {
        let resource = match kind {
            0 => org_repo(REPO, public, &policy),
            1 => Resource { kind: ResourceKind::Organization, owner: ACME, owner_kind: AccountKind::Organization, public: false, policy: Some(&policy) },
            _ => Resource { kind: ResourceKind::Account, owner: ALICE, owner_kind: AccountKind::User, public: false, policy: None },
        };
        let rights = OwnerRights { repo_role: role, org_role: role.map(|_| OrgRole::Member) };
        let decided = decide(&cred, &resource, Some(need), rights, NOW);
        let explained = explain(&cred, &resource, Ask::Need(need), rights, NOW);
        prop_assert_eq!(&explained.decision, &decided);
        match &decided {
            // An allowed request passed every rule it met.
            Decision::Allow => prop_assert!(explained.steps.iter().all(|s| s.passed)),
            // A refusal names the rule that refused: the last step, and the only one that failed.
            Decision::Deny(d) => {
                let refused = explained.refused_by();
                prop_assert!(refused.is_some(), "no refusing rule in {:?}", explained.steps);
                // The 403 body's `rule` and the explanation name the same rule.
                prop_assert_eq!(refused.map(|s| s.finding.rule().code), Some(d.reason.rule_code()));
                let failed = explained.steps.iter().filter(|s| !s.passed).count();
                prop_assert_eq!(failed, 1);
            }
        }
    }
}

#[test]
fn each_refusal_is_explained_by_its_rule() {
    let policy = open_policy();
    let private = org_repo(REPO, false, &policy);
    let public = org_repo(REPO, true, &policy);
    let rule = |cred: &Credential, resource: &Resource<'_>, need: Option<Need>, rights| {
        let e = explain(cred, resource, need.into(), rights, NOW);
        e.refused_by().map(|s| s.finding.rule().code)
    };
    let mut expired = org_token(&[(Permission::CONTENTS, Level::Read)]);
    expired.expires_at = Some(NOW - Duration::seconds(1));
    let other_repo = org_repo(OTHER_REPO, false, &policy);
    let cases: Vec<(&str, Credential, &Resource<'_>, Option<Need>, OwnerRights)> = vec![
        (
            "token_expiry",
            expired,
            &private,
            read(Permission::CONTENTS),
            member(RepoRole::Read),
        ),
        (
            "user_reach",
            org_token(&[(Permission::CONTENTS, Level::Read)]),
            &private,
            read(Permission::CONTENTS),
            OwnerRights::default(),
        ),
        (
            "token_permission",
            org_token(&[(Permission::CONTENTS, Level::Read)]),
            &private,
            write(Permission::CONTENTS),
            member(RepoRole::Write),
        ),
        (
            "owner_rights",
            org_token(&[(Permission::CONTENTS, Level::Write)]),
            &private,
            write(Permission::CONTENTS),
            member(RepoRole::Read),
        ),
        (
            "repository_selection",
            org_token(&[(Permission::CONTENTS, Level::Read)]),
            &other_repo,
            read(Permission::CONTENTS),
            member(RepoRole::Read),
        ),
        (
            "approval",
            fine_grained(
                ACME,
                AccountKind::Organization,
                TokenAccess::new(
                    RepositorySelection::All,
                    vec![],
                    perms(&[(Permission::CONTENTS, Level::Read)]),
                ),
                GrantState::Pending,
            ),
            &private,
            read(Permission::CONTENTS),
            member(RepoRole::Read),
        ),
        (
            "resource_owner",
            fine_grained(
                OTHER_ORG,
                AccountKind::Organization,
                TokenAccess::new(
                    RepositorySelection::All,
                    vec![],
                    perms(&[(Permission::CONTENTS, Level::Read)]),
                ),
                GrantState::Approved,
            ),
            &private,
            read(Permission::CONTENTS),
            member(RepoRole::Read),
        ),
        (
            "classic_scope",
            classic("gist"),
            &public,
            write(Permission::CONTENTS),
            member(RepoRole::Write),
        ),
        (
            "permission_group",
            classic("repo"),
            &private,
            read(Permission::MEMBERS),
            member(RepoRole::Admin),
        ),
    ];
    for (code, cred, resource, need, rights) in cases {
        assert_eq!(rule(&cred, resource, need, rights), Some(code), "{code}");
    }
    // The policy's rules.
    let restricted = resolve(
        "acme",
        &PolicySettings {
            classic: Some(Access::Restrict),
            ..PolicySettings::default()
        },
        None,
    );
    assert_eq!(
        rule(
            &classic("repo"),
            &org_repo(REPO, false, &restricted),
            read(Permission::CONTENTS),
            member(RepoRole::Read)
        ),
        Some("policy_token_kind")
    );
    let short = resolve(
        "acme",
        &PolicySettings {
            classic_max_lifetime_days: Some(7),
            ..PolicySettings::default()
        },
        None,
    );
    assert_eq!(
        rule(
            &classic("repo"),
            &org_repo(REPO, false, &short),
            read(Permission::CONTENTS),
            member(RepoRole::Read)
        ),
        Some("policy_lifetime")
    );
}

#[test]
fn an_explanation_never_tells_a_missing_resource_from_a_hidden_one() {
    let names = |_: AccountId| "someone".to_owned();
    let hidden = Finding::UserReach {
        sees: false,
        repo_role: None,
        org_role: None,
    };
    assert_eq!(
        hidden.describe(false, &names, "acme/secret"),
        Finding::NoSuchResource.describe(false, &names, "acme/secret")
    );
    assert_eq!(hidden.rule(), Finding::NoSuchResource.rule());
}

#[test]
fn refusals_name_the_permission_and_level_needed() {
    let policy = open_policy();
    let e = explain(
        &org_token(&[(Permission::CONTENTS, Level::Read)]),
        &org_repo(REPO, false, &policy),
        Ask::Need(Need::new(Permission::CONTENTS, Level::Write)),
        member(RepoRole::Write),
        NOW,
    );
    let names = |_: AccountId| "acme".to_owned();
    let step = e.refused_by().expect("refused");
    let text = step.finding.describe(step.passed, &names, "acme/api");
    assert!(text.contains("contents=write"), "{text}");
    assert!(text.contains("contents=read"), "{text}");
}

#[test]
fn a_scope_is_asked_of_classic_tokens_only() {
    let policy = open_policy();
    let private = org_repo(REPO, false, &policy);
    let rights = member(RepoRole::Write);
    let repo = Scope::from_name("repo").unwrap();
    let ask = |cred: &Credential, scope| decide_ask(cred, &private, Ask::Scope(scope), rights, NOW);
    assert!(ask(&classic("repo"), repo).is_allowed());
    // The hierarchy: repo includes public_repo.
    assert!(ask(&classic("repo"), Scope::from_name("public_repo").unwrap()).is_allowed());
    let refused = ask(&classic("gist"), repo);
    let d = refused.denial().expect("refused");
    assert_eq!(
        (d.status, d.reason),
        (DenyStatus::NotFound, DenyReason::MissingScope)
    );
    assert_eq!(d.accepted_scopes.as_deref(), Some("repo"));
    // A fine-grained token has no scopes.
    let fine = ask(&org_token(&[(Permission::CONTENTS, Level::Write)]), repo);
    assert_eq!(
        fine.denial().map(|d| d.reason),
        Some(DenyReason::MissingScope)
    );
    // The user must see the resource, and the organization's policy applies.
    assert_eq!(
        decide_ask(
            &classic("repo"),
            &private,
            Ask::Scope(repo),
            OwnerRights::default(),
            NOW
        )
        .denial()
        .map(|d| d.status),
        Some(DenyStatus::NotFound)
    );
    let restricted = resolve(
        "acme",
        &PolicySettings {
            classic: Some(Access::Restrict),
            ..PolicySettings::default()
        },
        None,
    );
    let d = decide_ask(
        &classic("repo"),
        &org_repo(REPO, false, &restricted),
        Ask::Scope(repo),
        rights,
        NOW,
    );
    assert_eq!(
        d.denial().map(|d| d.reason),
        Some(DenyReason::KindRestricted)
    );
}

mod routes {
    use super::*;
    use crate::routes::lookup;

    fn route(method: &str, path: &str) -> &'static crate::routes::Route {
        lookup(method, path).expect("a route of the table").route()
    }

    #[test]
    fn one_permission_set_of_a_route_suffices() {
        let policy = open_policy();
        let private = org_repo(REPO, false, &policy);
        // Labels of an issue: issues=read or pull_requests=read.
        let labels = route("GET", "/repos/acme/api/issues/1/labels");
        assert_eq!(labels.any_of().len(), 2);
        for p in [Permission::ISSUES, Permission::PULL_REQUESTS] {
            let token = org_token(&[(p, Level::Read)]);
            assert!(
                decide_route(&token, &private, labels, member(RepoRole::Read), NOW).is_allowed(),
                "{}",
                p.name()
            );
        }
        let neither = org_token(&[(Permission::CONTENTS, Level::Read)]);
        let refused = decide_route(&neither, &private, labels, member(RepoRole::Read), NOW);
        let d = refused.denial().expect("refused");
        assert_eq!(d.status, DenyStatus::Forbidden);
        assert_eq!(
            d.accepted_permissions.as_deref(),
            Some("issues=read; pull_requests=read")
        );
    }

    #[test]
    fn every_permission_of_a_set_is_needed() {
        let policy = open_policy();
        let private = org_repo(REPO, false, &policy);
        // Create a GitHub Pages site: pages=write and administration=write.
        let pages = route("POST", "/repos/acme/api/pages");
        let one = org_token(&[(crate::catalog::permission_named("pages"), Level::Write)]);
        assert!(!decide_route(&one, &private, pages, member(RepoRole::Admin), NOW).is_allowed());
        let both = org_token(&[
            (crate::catalog::permission_named("pages"), Level::Write),
            (Permission::ADMINISTRATION, Level::Write),
        ]);
        assert!(decide_route(&both, &private, pages, member(RepoRole::Admin), NOW).is_allowed());
        // The explanation of the refusal names the missing one.
        let e = explain_route(&one, &private, pages, member(RepoRole::Admin), NOW);
        let last = e.sets[0].last().expect("a requirement");
        assert_eq!(
            last.explanation.refused_by().map(|s| s.finding.rule().code),
            Some("token_permission")
        );
    }

    #[test]
    fn app_only_permissions_refuse_every_personal_token() {
        let policy = open_policy();
        let private = org_repo(REPO, false, &policy);
        let checks = route("GET", "/repos/acme/api/check-runs/1");
        let all = org_token(&[(Permission::CONTENTS, Level::Write)]);
        let d = decide_route(&all, &private, checks, member(RepoRole::Admin), NOW);
        assert_eq!(d.denial().map(|d| d.status), Some(DenyStatus::Forbidden));
        // Hidden when the user cannot see the repository.
        let d = decide_route(&all, &private, checks, OwnerRights::default(), NOW);
        assert_eq!(d.denial().map(|d| d.status), Some(DenyStatus::NotFound));
        let e = explain_route(&all, &private, checks, member(RepoRole::Admin), NOW);
        assert_eq!(
            e.sets[0][0]
                .explanation
                .refused_by()
                .map(|s| s.finding.rule().code),
            Some("permission_group")
        );
    }

    #[test]
    fn a_single_need_route_decides_as_decide() {
        let policy = open_policy();
        let private = org_repo(REPO, false, &policy);
        let keys = route("GET", "/repos/acme/api/keys");
        for (cred, rights) in [
            (
                org_token(&[(Permission::ADMINISTRATION, Level::Read)]),
                member(RepoRole::Maintain),
            ),
            (
                org_token(&[(Permission::ADMINISTRATION, Level::Read)]),
                member(RepoRole::Read),
            ),
            (org_token(&[]), member(RepoRole::Admin)),
            (classic("repo"), member(RepoRole::Admin)),
            (classic("gist"), member(RepoRole::Admin)),
            (classic("repo"), OwnerRights::default()),
        ] {
            assert_eq!(
                decide_route(&cred, &private, keys, rights, NOW),
                decide(
                    &cred,
                    &private,
                    Some(Need::new(Permission::ADMINISTRATION, Level::Read)),
                    rights,
                    NOW
                )
            );
        }
    }

    #[test]
    fn a_classic_refusal_of_a_route_names_its_scopes() {
        let policy = open_policy();
        let public = org_repo(REPO, true, &policy);
        let put = route("PUT", "/repos/acme/api/contents/README.md");
        let d = decide_route(&classic("gist"), &public, put, member(RepoRole::Write), NOW);
        let d = d.denial().expect("refused");
        assert_eq!(d.accepted_scopes.as_deref(), Some("public_repo"));
        assert_eq!(d.accepted_permissions, None);
    }
}
