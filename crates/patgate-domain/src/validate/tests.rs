use time::macros::{date, datetime};

use super::*;
use crate::policy::{Access, Approval, PolicySettings, resolve};

const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

fn perm(group: Option<&str>, name: &str, level: &str) -> RequestedPermission {
    RequestedPermission {
        group: group.map(str::to_owned),
        name: name.to_owned(),
        level: level.to_owned(),
    }
}

fn request<'a>(perms: &'a [RequestedPermission], repos: &'a [RepoId]) -> FineGrainedRequest<'a> {
    FineGrainedRequest {
        name: "deploy",
        description: None,
        justification: None,
        expiration: Expiration::Default,
        selection: if repos.is_empty() {
            RepositorySelection::None
        } else {
            RepositorySelection::Subset
        },
        repositories: repos,
        unknown_repositories: &[],
        permissions: perms,
    }
}

fn ctx(owner: OwnerChoice<'_>) -> CreationContext<'_> {
    CreationContext {
        now: NOW,
        email_verified: true,
        fine_grained_count: 0,
        name_taken: false,
        owner,
    }
}

/// Runs validation and returns the (field, code) pairs of the errors, or the valid token.
fn check(
    req: &FineGrainedRequest<'_>,
    c: &CreationContext<'_>,
) -> Result<ValidFineGrained, Vec<(&'static str, ErrorCode)>> {
    validate_fine_grained(req, c).map_err(|e| e.0.iter().map(|f| (f.field, f.code)).collect())
}

#[test]
fn a_valid_token_for_myself_gets_metadata_and_thirty_days() {
    let perms = [perm(Some("repository"), "contents", "write")];
    let repos = [RepoId(3), RepoId(1), RepoId(3)];
    let v = check(&request(&perms, &repos), &ctx(OwnerChoice::Myself)).unwrap();
    assert_eq!(v.access.repositories, vec![RepoId(1), RepoId(3)]);
    assert_eq!(
        v.access.permissions.get(Permission::CONTENTS),
        Some(Level::Write)
    );
    assert_eq!(
        v.access.permissions.get(Permission::METADATA),
        Some(Level::Read)
    );
    assert_eq!(v.expires_at, Some(NOW + Duration::days(30)));
    assert!(!v.needs_approval);
}

#[test]
fn unverified_email_cannot_create_tokens() {
    let mut c = ctx(OwnerChoice::Myself);
    c.email_verified = false;
    assert_eq!(
        check(&request(&[], &[]), &c).unwrap_err(),
        vec![("email", ErrorCode::Custom)]
    );
    let classic = ClassicRequest {
        note: "ci",
        scopes: &[],
        expiration: Expiration::Default,
    };
    assert!(
        validate_classic(&classic, false, NOW)
            .unwrap_err()
            .has("email", ErrorCode::Custom)
    );
}

#[test]
fn the_fifty_first_fine_grained_token_is_refused() {
    let mut c = ctx(OwnerChoice::Myself);
    c.fine_grained_count = 49;
    assert!(check(&request(&[], &[]), &c).is_ok());
    c.fine_grained_count = 50;
    assert_eq!(
        check(&request(&[], &[]), &c).unwrap_err(),
        vec![("name", ErrorCode::Custom)]
    );
}

#[test]
fn names_are_required_unique_and_at_most_forty_characters() {
    let c = ctx(OwnerChoice::Myself);
    let mut r = request(&[], &[]);
    r.name = "   ";
    assert_eq!(
        check(&r, &c).unwrap_err(),
        vec![("name", ErrorCode::MissingField)]
    );
    let forty = "n".repeat(40);
    r.name = &forty;
    assert!(check(&r, &c).is_ok());
    let long = "n".repeat(41);
    r.name = &long;
    assert_eq!(
        check(&r, &c).unwrap_err(),
        vec![("name", ErrorCode::Invalid)]
    );
    let mut taken = ctx(OwnerChoice::Myself);
    taken.name_taken = true;
    assert_eq!(
        check(&request(&[], &[]), &taken).unwrap_err(),
        vec![("name", ErrorCode::AlreadyExists)]
    );
}

#[test]
fn description_and_justification_are_at_most_1024_characters() {
    let c = ctx(OwnerChoice::Myself);
    let long = "d".repeat(1025);
    let ok = "d".repeat(1024);
    let mut r = request(&[], &[]);
    r.description = Some(&ok);
    r.justification = Some(&ok);
    assert!(check(&r, &c).is_ok());
    r.description = Some(&long);
    assert_eq!(
        check(&r, &c).unwrap_err(),
        vec![("description", ErrorCode::Invalid)]
    );
    r.description = None;
    r.justification = Some(&long);
    assert_eq!(
        check(&r, &c).unwrap_err(),
        vec![("justification", ErrorCode::Invalid)]
    );
}

#[test]
fn expiry_presets_custom_dates_and_none() {
    let c = ctx(OwnerChoice::Myself);
    let mut r = request(&[], &[]);
    for (days, ok) in [
        (0u16, false),
        (1, true),
        (7, true),
        (366, true),
        (367, false),
    ] {
        r.expiration = Expiration::Days(days);
        assert_eq!(check(&r, &c).is_ok(), ok, "{days} days");
    }
    r.expiration = Expiration::Never;
    assert_eq!(check(&r, &c).unwrap().expires_at, None);
    r.expiration = Expiration::Date(date!(2026 - 06 - 08));
    assert_eq!(
        check(&r, &c).unwrap().expires_at,
        Some(datetime!(2026-06-08 23:59:59 UTC))
    );
    r.expiration = Expiration::Date(date!(2026 - 06 - 01));
    assert_eq!(
        check(&r, &c).unwrap_err(),
        vec![("expires_at", ErrorCode::Invalid)]
    );
    r.expiration = Expiration::Date(date!(2027 - 06 - 03));
    assert_eq!(
        check(&r, &c).unwrap_err(),
        vec![("expires_at", ErrorCode::Invalid)]
    );
    assert_eq!(
        Expiration::parse_expires_in("none"),
        Some(Expiration::Never)
    );
    assert_eq!(
        Expiration::parse_expires_in("45"),
        Some(Expiration::Days(45))
    );
    assert_eq!(Expiration::parse_expires_in("soon"), None);
}

#[test]
fn an_organization_lifetime_policy_caps_the_expiry() {
    let policy = resolve(
        "acme",
        &PolicySettings {
            fine_grained_max_lifetime_days: Some(7),
            ..PolicySettings::default()
        },
        None,
    );
    let c = ctx(OwnerChoice::Organization {
        member: true,
        owner: false,
        policy: &policy,
    });
    let mut r = request(&[], &[]);
    assert_eq!(
        check(&r, &c).unwrap().expires_at,
        Some(NOW + Duration::days(7))
    );
    r.expiration = Expiration::Days(8);
    assert_eq!(
        check(&r, &c).unwrap_err(),
        vec![("expires_at", ErrorCode::Custom)]
    );
    r.expiration = Expiration::Never;
    assert_eq!(
        check(&r, &c).unwrap_err(),
        vec![("expires_at", ErrorCode::Custom)]
    );
    r.expiration = Expiration::Date(date!(2026 - 06 - 08));
    assert!(check(&r, &c).is_ok());
}

#[test]
fn only_members_target_an_organization_that_allows_fine_grained_tokens() {
    let open = resolve("acme", &PolicySettings::default(), None);
    let not_member = ctx(OwnerChoice::Organization {
        member: false,
        owner: false,
        policy: &open,
    });
    let errs = validate_fine_grained(&request(&[], &[]), &not_member).unwrap_err();
    assert!(errs.has("resource_owner", ErrorCode::Invalid));
    assert!(
        errs.0[0]
            .message
            .contains("Cannot find the specified resource owner: acme")
    );
    let restricted = resolve(
        "acme",
        &PolicySettings {
            fine_grained: Some(Access::Restrict),
            ..PolicySettings::default()
        },
        None,
    );
    let member = ctx(OwnerChoice::Organization {
        member: true,
        owner: false,
        policy: &restricted,
    });
    assert_eq!(
        check(&request(&[], &[]), &member).unwrap_err(),
        vec![("resource_owner", ErrorCode::Custom)]
    );
}

#[test]
fn approval_is_needed_unless_disabled_or_the_user_owns_the_organization() {
    let require = resolve("acme", &PolicySettings::default(), None);
    let disable = resolve(
        "acme",
        &PolicySettings {
            approval: Some(Approval::Disable),
            ..PolicySettings::default()
        },
        None,
    );
    for (policy, owner, needed) in [
        (&require, false, true),
        (&require, true, false),
        (&disable, false, false),
    ] {
        let c = ctx(OwnerChoice::Organization {
            member: true,
            owner,
            policy,
        });
        assert_eq!(
            check(&request(&[], &[]), &c).unwrap().needs_approval,
            needed
        );
    }
}

#[test]
fn permissions_must_exist_fit_their_levels_and_the_owner_kind() {
    let org = resolve("acme", &PolicySettings::default(), None);
    let as_org = ctx(OwnerChoice::Organization {
        member: true,
        owner: true,
        policy: &org,
    });
    let as_me = ctx(OwnerChoice::Myself);
    let repos = [RepoId(1)];
    let cases: Vec<(RequestedPermission, bool, bool)> = vec![
        // (permission, ok for an organization owner, ok for myself)
        (perm(None, "contents", "write"), true, true),
        (perm(None, "contents", "admin"), false, false),
        (perm(None, "metadata", "write"), false, false),
        (perm(None, "workflows", "read"), false, false),
        (perm(None, "workflows", "write"), true, true),
        (perm(None, "members", "read"), true, false),
        (perm(None, "organization_projects", "admin"), true, false),
        (perm(None, "keys", "write"), false, true),
        (perm(None, "gists", "read"), false, false),
        (perm(None, "no_such_permission", "read"), false, false),
        (perm(None, "contents", "sometimes"), false, false),
        (perm(Some("organization"), "contents", "read"), false, false),
        (perm(Some("other"), "keys", "read"), false, true),
        (
            perm(None, "organization_personal_access_tokens", "read"),
            false,
            false,
        ),
    ];
    for (p, org_ok, me_ok) in cases {
        let perms = [p.clone()];
        assert_eq!(
            check(&request(&perms, &repos), &as_org).is_ok(),
            org_ok,
            "org {p:?}"
        );
        assert_eq!(
            check(&request(&perms, &repos), &as_me).is_ok(),
            me_ok,
            "me {p:?}"
        );
    }
}

#[test]
fn repository_permissions_need_repository_access() {
    let perms = [perm(None, "contents", "read")];
    let c = ctx(OwnerChoice::Myself);
    assert_eq!(
        check(&request(&perms, &[]), &c).unwrap_err(),
        vec![("permissions", ErrorCode::Invalid)]
    );
    // Public-only tokens get no metadata grant of their own.
    let v = check(&request(&[], &[]), &c).unwrap();
    assert!(v.access.permissions.is_empty());
}

#[test]
fn selections_and_their_repositories_must_agree() {
    let c = ctx(OwnerChoice::Myself);
    let mut r = request(&[], &[]);
    r.selection = RepositorySelection::Subset;
    assert_eq!(
        check(&r, &c).unwrap_err(),
        vec![("repositories", ErrorCode::MissingField)]
    );
    let repos = [RepoId(1)];
    r.selection = RepositorySelection::All;
    r.repositories = &repos;
    assert_eq!(
        check(&r, &c).unwrap_err(),
        vec![("repositories", ErrorCode::Invalid)]
    );
    let unknown = ["acme/ghost".to_owned()];
    r.selection = RepositorySelection::Subset;
    r.unknown_repositories = &unknown;
    let errs = validate_fine_grained(&r, &c).unwrap_err();
    assert!(errs.0[0].message.contains("acme/ghost"));
}

#[test]
fn every_violation_is_reported_at_once() {
    let long = "x".repeat(2000);
    let perms = [perm(None, "bogus", "read")];
    let mut r = request(&perms, &[]);
    r.name = "";
    r.description = Some(&long);
    r.expiration = Expiration::Days(0);
    let fields: Vec<&str> = validate_fine_grained(&r, &ctx(OwnerChoice::Myself))
        .unwrap_err()
        .0
        .iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        vec!["name", "description", "expires_at", "permissions"]
    );
}

#[test]
fn classic_tokens_need_a_note_and_known_scopes_and_are_normalised() {
    let scopes = vec![
        "user".to_owned(),
        "gist".to_owned(),
        "user:email".to_owned(),
    ];
    let ok = validate_classic(
        &ClassicRequest {
            note: "laptop",
            scopes: &scopes,
            expiration: Expiration::Days(7),
        },
        true,
        NOW,
    )
    .unwrap();
    assert_eq!(ok.scopes.header_value(), "user, gist");
    assert_eq!(ok.expires_at, Some(NOW + Duration::days(7)));
    let bad = vec!["repo".to_owned(), "root".to_owned()];
    let errs = validate_classic(
        &ClassicRequest {
            note: "",
            scopes: &bad,
            expiration: Expiration::Days(400),
        },
        true,
        NOW,
    )
    .unwrap_err();
    assert!(errs.has("note", ErrorCode::MissingField));
    assert!(errs.has("scopes", ErrorCode::Invalid));
    assert!(errs.has("expires_at", ErrorCode::Invalid));
    assert!(errs.0.iter().any(|e| e.message.contains("root")));
}

#[test]
fn regeneration_respects_the_lifetime_policy() {
    assert!(
        validate_regeneration(TokenKind::FineGrained, Expiration::Days(30), Some(7), NOW).is_err()
    );
    assert_eq!(
        validate_regeneration(TokenKind::FineGrained, Expiration::Days(7), Some(7), NOW).unwrap(),
        Some(NOW + Duration::days(7))
    );
    assert_eq!(
        validate_regeneration(TokenKind::Classic, Expiration::Never, None, NOW).unwrap(),
        None
    );
}
