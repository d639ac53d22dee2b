//! Tests of the template module. Seed 004's example links are copied verbatim from the seed
//! (its Markdown escapes `&` as `\&`; the links are read as a browser reads them).

use proptest::prelude::*;

use super::*;

/// Seed 004's annotated example URL (the code block, with its line breaks for legibility).
const SEED_ANNOTATED_EXAMPLE: &str = r#"https://github.com/settings/personal-access-tokens/new
  ?name=Repo-reading+token
  &description=Just+contents:read
  &target_name=octodemo
  &expires_in=45
  &contents=read"#;

/// Seed 004's "example URLs that generate the tokens we see most often", verbatim.
const SEED_EXAMPLE_LINKS: &str = r#"* [Read repo contents](https://github.com/settings/personal-access-tokens/new?name=Repo-reading+token\&description=Just+contents:read\&contents=read)
* [Push access to repos](https://github.com/settings/personal-access-tokens/new?name=Repo-writing+token\&description=Just+contents:write\&contents=write)
* [GitHub Models access](https://github.com/settings/personal-access-tokens/new?name=GitHub+Models+token\&description=Used%20to%20call%20GitHub%20Models%20APIs%20to%20easily%20run%20LLMs%3A%20https%3A%2F%2Fdocs.github.com%2Fgithub-models%2Fquickstart%23step-2-make-an-api-call\&user_models=read)<!-- markdownlint-disable-line search-replace Custom rule -->
* [Update code and open a PR](https://github.com/settings/personal-access-tokens/new?name=Core-loop+token\&description=Write%20code%20and%20push%20it%20to%20main%21%20Includes%20permission%20to%20edit%20workflow%20files%20for%20Actions%20-%20remove%20%60workflows%3Awrite%60%20if%20you%20don%27t%20need%20to%20do%20that\&contents=write\&pull_requests=write\&workflows=write)
* [Manage Copilot licenses in an organization](https://github.com/settings/personal-access-tokens/new?name=Core-loop+token\&description=Enable%20or%20disable%20copilot%20access%20for%20users%20with%20the%20Seat%20Management%20APIs%3A%20https%3A%2F%2Fdocs.github.com%2Frest%2Fcopilot%2Fcopilot-user-management%0ABe%20sure%20to%20select%20an%20organization%20for%20your%20resource%20owner%20below%21\&organization_copilot_seat_management=write)<!-- markdownlint-disable-line search-replace Custom rule -->
* [Make Copilot requests](https://github.com/settings/personal-access-tokens/new?name=Copilot+requests+token\&description=Make%20Copilot%20API%20requests%20on%20behalf%20of%20the%20user%2C%20consuming%20premium%20requests%3A%20https%3A%2F%2Fdocs.github.com%2Fcopilot%2Fconcepts%2Fbilling%2Fcopilot-requests\&user_copilot_requests=read)<!-- markdownlint-disable-line search-replace Custom rule -->"#;

const USER: &str = "octocat";

/// octocat, a member of `acme` and `Globex` (spelt so by the directory).
fn owners() -> SelectableOwners<'static> {
    SelectableOwners::new(USER, ["acme", "Globex"])
}

/// octocat, who may only target their own account.
fn only_the_user() -> SelectableOwners<'static> {
    SelectableOwners::new(USER, [])
}

fn permission(name: &str) -> Permission {
    Permission::from_name(name).unwrap_or_else(|| panic!("{name} is not in the catalogue"))
}

fn set(entries: &[(&str, Level)]) -> PermissionSet {
    entries.iter().map(|&(n, l)| (permission(n), l)).collect()
}

fn message(field: Field, text: &str) -> FieldMessage {
    FieldMessage::new(field, text)
}

/// The example links of the seed as a browser follows them: `(title, query)`.
fn seed_links() -> Vec<(&'static str, String)> {
    SEED_EXAMPLE_LINKS
        .lines()
        .map(|line| {
            let (title, rest) = line
                .strip_prefix("* [")
                .and_then(|l| l.split_once("]("))
                .unwrap();
            let (url, _) = rest.split_once(')').unwrap();
            let url = url.replace("\\&", "&");
            let (path, query) = url.split_once('?').unwrap();
            assert_eq!(
                path,
                "https://github.com/settings/personal-access-tokens/new"
            );
            (title, query.to_owned())
        })
        .collect()
}

/// The seed's annotated example with its legibility line breaks removed.
fn seed_annotated_query() -> String {
    let url: String = SEED_ANNOTATED_EXAMPLE.lines().map(str::trim).collect();
    url.split_once('?').unwrap().1.to_owned()
}

fn without_notes(template: &Template) -> Template {
    Template {
        notes: Vec::new(),
        ..template.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Seed 004's examples
// ---------------------------------------------------------------------------------------------

#[test]
fn every_seed_example_link_opens_cleanly_for_a_user_targeting_their_own_account() {
    let links = seed_links();
    assert_eq!(links.len(), 6, "the seed lists six example links");
    for (title, query) in links {
        let template = parse(&query);
        assert!(template.is_clean(), "{title}: {:?}", template.problems);
        let resolution = template.resolve(&only_the_user());
        assert_eq!(resolution.owner_problem, None, "{title}");
        assert_eq!(resolution.owner, only_the_user().user(), "{title}");
    }
}

#[test]
fn seed_example_links_prefill_what_their_titles_promise() {
    let seat_management = "organization_copilot_seat_management";
    // (title, name, description, permissions, notes)
    let cases: [(&str, &str, &str, PermissionSet, Vec<FieldMessage>); 6] = [
        (
            "Read repo contents",
            "Repo-reading token",
            "Just contents:read",
            set(&[("contents", Level::Read)]),
            vec![],
        ),
        (
            "Push access to repos",
            "Repo-writing token",
            "Just contents:write",
            set(&[("contents", Level::Write)]),
            vec![],
        ),
        (
            "GitHub Models access",
            "GitHub Models token",
            "Used to call GitHub Models APIs to easily run LLMs: \
             https://docs.github.com/github-models/quickstart#step-2-make-an-api-call",
            set(&[("user_models", Level::Read)]),
            vec![],
        ),
        (
            "Update code and open a PR",
            "Core-loop token",
            "Write code and push it to main! Includes permission to edit workflow files for \
             Actions - remove `workflows:write` if you don't need to do that",
            set(&[
                ("contents", Level::Write),
                ("pull_requests", Level::Write),
                ("workflows", Level::Write),
            ]),
            vec![],
        ),
        (
            "Manage Copilot licenses in an organization",
            "Core-loop token",
            "Enable or disable copilot access for users with the Seat Management APIs: \
             https://docs.github.com/rest/copilot/copilot-user-management\n\
             Be sure to select an organization for your resource owner below!",
            set(&[(seat_management, Level::Write)]),
            vec![],
        ),
        (
            "Make Copilot requests",
            "Copilot requests token",
            "Make Copilot API requests on behalf of the user, consuming premium requests: \
             https://docs.github.com/copilot/concepts/billing/copilot-requests",
            set(&[("copilot_requests", Level::Write)]),
            vec![message(
                Field::Permission(permission("copilot_requests")),
                "copilot_requests only supports write: the link asks for read, so write is selected",
            )],
        ),
    ];
    let links = seed_links();
    assert_eq!(links.len(), cases.len());
    for ((title, query), (want_title, name, description, permissions, notes)) in
        links.into_iter().zip(cases)
    {
        assert_eq!(title, want_title);
        let template = parse(&query);
        let expected = Template {
            name: Some(name.to_owned()),
            description: Some(description.to_owned()),
            permissions,
            notes,
            ..Template::default()
        };
        assert_eq!(template, expected, "{title}");
    }
}

#[test]
fn seed_annotated_example_cannot_find_octodemo_for_a_user_outside_it() {
    let template = parse(&seed_annotated_query());
    assert_eq!(
        template,
        Template {
            name: Some("Repo-reading token".to_owned()),
            description: Some("Just contents:read".to_owned()),
            target_name: Some("octodemo".to_owned()),
            expiration: Some(Expiration::Days(45)),
            permissions: set(&[("contents", Level::Read)]),
            ..Template::default()
        }
    );
    let resolution = template.resolve(&owners());
    assert_eq!(
        resolution.owner_problem,
        Some(message(
            Field::ResourceOwner,
            "Cannot find the specified resource owner: octodemo"
        ))
    );
    assert_eq!(resolution.owner, owners().user(), "falls back to the user");
}

#[test]
fn seed_annotated_example_gives_contents_and_metadata_read_to_a_member_of_octodemo() {
    let member = SelectableOwners::new(USER, ["OctoDemo"]);
    let resolution = parse(&seed_annotated_query()).resolve(&member);
    assert_eq!(resolution.owner_problem, None);
    assert_eq!(
        resolution.owner,
        ChosenOwner {
            login: "OctoDemo".to_owned(),
            kind: AccountKind::Organization
        }
    );
    assert_eq!(resolution.permissions, set(&[("contents", Level::Read)]));
    assert_eq!(resolution.implied, set(&[("metadata", Level::Read)]));
    assert_eq!(
        resolution.prefilled_permissions(),
        set(&[("contents", Level::Read), ("metadata", Level::Read)])
    );
}

#[test]
fn seed_copilot_seat_management_link_applies_once_an_organization_is_the_owner() {
    let (_, query) = seed_links().remove(4);
    let seat_management = permission("organization_copilot_seat_management");

    let for_the_user = parse(&query).resolve(&owners());
    assert!(for_the_user.permissions.is_empty());
    assert_eq!(
        for_the_user.not_applicable,
        vec![NotApplicable {
            permission: seat_management,
            level: Level::Write,
            message: "organization_copilot_seat_management is an organization permission: \
                      it only applies when the resource owner is an organization"
                .to_owned(),
        }]
    );

    let for_acme = parse(&format!("{query}&target_name=acme")).resolve(&owners());
    assert_eq!(for_acme.owner_problem, None);
    assert_eq!(for_acme.owner.kind, AccountKind::Organization);
    assert_eq!(
        for_acme.permissions,
        PermissionSet::new().with(seat_management, Level::Write)
    );
    assert!(for_acme.not_applicable.is_empty());
    assert!(for_acme.implied.is_empty(), "no repository permission");
}

#[test]
fn seed_links_round_trip_through_render_to_canonical_links() {
    // (title, canonical rendering)
    let expected = [
        "name=Repo-reading+token&description=Just+contents%3Aread&contents=read",
        "name=Repo-writing+token&description=Just+contents%3Awrite&contents=write",
        "name=GitHub+Models+token&description=Used+to+call+GitHub+Models+APIs+to+easily+run+LLMs\
         %3A+https%3A%2F%2Fdocs.github.com%2Fgithub-models%2Fquickstart%23step-2-make-an-api-call\
         &user_models=read",
        "name=Core-loop+token&description=Write+code+and+push+it+to+main%21+Includes+permission\
         +to+edit+workflow+files+for+Actions+-+remove+%60workflows%3Awrite%60+if+you+don%27t+need\
         +to+do+that&contents=write&pull_requests=write&workflows=write",
        "name=Core-loop+token&description=Enable+or+disable+copilot+access+for+users+with+the+Seat\
         +Management+APIs%3A+https%3A%2F%2Fdocs.github.com%2Frest%2Fcopilot%2Fcopilot-user-management\
         %0ABe+sure+to+select+an+organization+for+your+resource+owner+below%21\
         &organization_copilot_seat_management=write",
        "name=Copilot+requests+token&description=Make+Copilot+API+requests+on+behalf+of+the+user\
         %2C+consuming+premium+requests%3A+https%3A%2F%2Fdocs.github.com%2Fcopilot%2Fconcepts\
         %2Fbilling%2Fcopilot-requests&copilot_requests=write",
    ];
    for ((title, query), want) in seed_links().into_iter().zip(expected) {
        let template = parse(&query);
        let rendered = render(&template);
        assert_eq!(rendered, want, "{title}");
        assert_eq!(parse(&rendered), without_notes(&template), "{title}");
    }
    let annotated = parse(&seed_annotated_query());
    assert_eq!(
        render(&annotated),
        "name=Repo-reading+token&description=Just+contents%3Aread&target_name=octodemo\
         &expires_in=45&contents=read"
    );
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

#[test]
fn accepted_queries_prefill_these_templates() {
    let named = |name: &str| Template {
        name: Some(name.to_owned()),
        ..Template::default()
    };
    let forty_accented: String = "é".repeat(40);
    // (query, expected template; none of them has a problem or a note)
    let cases: Vec<(String, Template)> = vec![
        (String::new(), Template::default()),
        ("?".to_owned(), Template::default()),
        ("?name=x".to_owned(), named("x")),
        ("name=a+b%20c".to_owned(), named("a b c")),
        ("name=a&name=a".to_owned(), named("a")),
        ("name=&name=a".to_owned(), named("a")),
        ("&&name=a&&".to_owned(), named("a")),
        ("name=%FF".to_owned(), named("\u{FFFD}")),
        ("name=%E2%80%8Fx".to_owned(), named("\u{200F}x")),
        (format!("name={forty_accented}"), named(&forty_accented)),
        (
            "name=&description=&target_name=&expires_in=&contents=".to_owned(),
            Template::default(),
        ),
        (
            "utm_source=newsletter&type=beta&scopes=repo,gist&Name=x&foo".to_owned(),
            Template::default(),
        ),
        (
            "description=line+one%0D%0Aline%09two%0A".to_owned(),
            Template {
                description: Some("line one\r\nline\ttwo\n".to_owned()),
                ..Template::default()
            },
        ),
        (
            "target_name=ACME".to_owned(),
            Template {
                target_name: Some("ACME".to_owned()),
                ..Template::default()
            },
        ),
        (
            "con%74ents=read&user_blocking=write&organization_members=read&members=read".to_owned(),
            Template {
                permissions: set(&[
                    ("blocking", Level::Write),
                    ("contents", Level::Read),
                    ("members", Level::Read),
                ]),
                ..Template::default()
            },
        ),
        (
            "organization_projects=admin&metadata=read".to_owned(),
            Template {
                permissions: set(&[
                    ("metadata", Level::Read),
                    ("organization_projects", Level::Admin),
                ]),
                ..Template::default()
            },
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(parse(&query), expected, "{query}");
    }
}

#[test]
fn each_problem_has_its_field_and_message() {
    let long_name = "a".repeat(41);
    let long_description = "d".repeat(1025);
    let contents = Field::Permission(permission("contents"));
    let long_unknown = "x".repeat(150);
    let long_unknown_shown = format!("Unknown permission: {}…", "x".repeat(100));
    // (query, problems in order)
    let cases: Vec<(String, Vec<(Field, String)>)> = vec![
        (
            format!("name={long_name}"),
            vec![(Field::Name, "Name is too long (maximum is 40 characters)".into())],
        ),
        (
            format!("description={long_description}"),
            vec![(
                Field::Description,
                "Description is too long (maximum is 1024 characters)".into(),
            )],
        ),
        (
            "name=a%00b".into(),
            vec![(
                Field::Name,
                "Name cannot contain control characters or bidirectional overrides (found U+0000)"
                    .into(),
            )],
        ),
        (
            "name=invoice%E2%80%AEfdp.exe".into(),
            vec![(
                Field::Name,
                "Name cannot contain control characters or bidirectional overrides (found U+202E)"
                    .into(),
            )],
        ),
        (
            "name=line%0Abreak".into(),
            vec![(
                Field::Name,
                "Name cannot contain control characters or bidirectional overrides (found U+000A)"
                    .into(),
            )],
        ),
        (
            "name=next%C2%85line".into(),
            vec![(
                Field::Name,
                "Name cannot contain control characters or bidirectional overrides (found U+0085)"
                    .into(),
            )],
        ),
        (
            "description=a%E2%81%A6b".into(),
            vec![(
                Field::Description,
                "Description cannot contain control characters or bidirectional overrides (found U+2066)"
                    .into(),
            )],
        ),
        (
            "description=escape%1B%5B31m".into(),
            vec![(
                Field::Description,
                "Description cannot contain control characters or bidirectional overrides (found U+001B)"
                    .into(),
            )],
        ),
        (
            "expires_in=0".into(),
            vec![(
                Field::Expiration,
                "expires_in must be a whole number of days between 1 and 366, or none".into(),
            )],
        ),
        (
            "foo=read".into(),
            vec![(Field::Permissions, "Unknown permission: foo".into())],
        ),
        (
            "FOO=Write&Contents=read&user_contents=read&user_user_events=read".into(),
            vec![
                (Field::Permissions, "Unknown permission: FOO".into()),
                (Field::Permissions, "Unknown permission: Contents".into()),
                (Field::Permissions, "Unknown permission: user_contents".into()),
                (Field::Permissions, "Unknown permission: user_user_events".into()),
            ],
        ),
        (
            "in%E2%80%AEvalid=admin".into(),
            vec![(
                Field::Permissions,
                "Unknown permission: in\\u{202e}valid".into(),
            )],
        ),
        (
            format!("{long_unknown}=read"),
            vec![(Field::Permissions, long_unknown_shown)],
        ),
        (
            "copilot_requests=admin".into(),
            vec![(
                Field::Permission(permission("copilot_requests")),
                "copilot_requests only supports write, not admin".into(),
            )],
        ),
        (
            "metadata=write".into(),
            vec![(
                Field::Permission(Permission::METADATA),
                "metadata only supports read, not write".into(),
            )],
        ),
        (
            "contents=admin".into(),
            vec![(contents, "contents only supports read and write, not admin".into())],
        ),
        (
            "contents=yes".into(),
            vec![(
                contents,
                "Unknown access level for contents: yes (contents supports read and write)".into(),
            )],
        ),
        (
            "contents=Read".into(),
            vec![(
                contents,
                "Unknown access level for contents: Read (contents supports read and write)".into(),
            )],
        ),
        (
            "organization_personal_access_tokens=read".into(),
            vec![(
                Field::Permission(Permission::ORGANIZATION_PERSONAL_ACCESS_TOKENS),
                "organization_personal_access_tokens can only be granted to GitHub Apps".into(),
            )],
        ),
        (
            "name=a&name=b".into(),
            vec![(
                Field::Name,
                "name is given more than once with different values".into(),
            )],
        ),
        (
            "description=a&description=b".into(),
            vec![(
                Field::Description,
                "description is given more than once with different values".into(),
            )],
        ),
        (
            "target_name=acme&target_name=globex".into(),
            vec![(
                Field::ResourceOwner,
                "target_name is given more than once with different values".into(),
            )],
        ),
        (
            "expires_in=30&expires_in=45".into(),
            vec![(
                Field::Expiration,
                "expires_in is given more than once with different values".into(),
            )],
        ),
        (
            "contents=read&contents=write".into(),
            vec![(
                contents,
                "contents is given more than once with different values".into(),
            )],
        ),
        (
            // An alias and the catalogue name are one parameter.
            "user_copilot_requests=read&copilot_requests=write".into(),
            vec![(
                Field::Permission(permission("copilot_requests")),
                "copilot_requests is given more than once with different values".into(),
            )],
        ),
        (
            // Every problem at once, fields first, then permissions as the link orders them.
            "bogus=read&contents=admin&expires_in=400&name=a%00&description=a&description=b".into(),
            vec![
                (
                    Field::Name,
                    "Name cannot contain control characters or bidirectional overrides (found U+0000)"
                        .into(),
                ),
                (
                    Field::Description,
                    "description is given more than once with different values".into(),
                ),
                (
                    Field::Expiration,
                    "expires_in must be a whole number of days between 1 and 366, or none".into(),
                ),
                (Field::Permissions, "Unknown permission: bogus".into()),
                (contents, "contents only supports read and write, not admin".into()),
            ],
        ),
    ];
    for (query, expected) in cases {
        let problems: Vec<(Field, String)> = parse(&query)
            .problems
            .into_iter()
            .map(|p| (p.field, p.message))
            .collect();
        assert_eq!(problems, expected, "{query}");
    }
}

#[test]
fn a_value_with_a_problem_is_prefilled_only_when_the_user_can_fix_it_in_place() {
    let long_name = "n".repeat(41);
    let long_description = "d".repeat(1025);
    // (query, what is pre-filled)
    let cases: Vec<(String, Template)> = vec![
        // Too long: kept, to be shortened on the form.
        (
            format!("name={long_name}"),
            Template {
                name: Some(long_name.clone()),
                ..Template::default()
            },
        ),
        (
            format!("description={long_description}"),
            Template {
                description: Some(long_description.clone()),
                ..Template::default()
            },
        ),
        // Hidden characters, conflicts, a bad expiry, bad levels: not pre-filled.
        ("name=a%E2%80%AEb".into(), Template::default()),
        ("description=a%07".into(), Template::default()),
        ("name=a&name=b".into(), Template::default()),
        ("expires_in=367".into(), Template::default()),
        (
            "contents=admin&issues=write&issues=read&pull_requests=read".into(),
            Template {
                permissions: set(&[("pull_requests", Level::Read)]),
                ..Template::default()
            },
        ),
    ];
    for (query, prefilled) in cases {
        let template = parse(&query);
        assert!(!template.is_clean(), "{query}");
        let without_messages = Template {
            problems: Vec::new(),
            notes: Vec::new(),
            ..template
        };
        assert_eq!(without_messages, prefilled, "{query}");
    }
}

#[test]
fn a_long_link_gives_one_conflict_per_parameter_and_each_unknown_permission_once_in_link_order() {
    let repeated: Vec<String> = (0..20_000)
        .map(|i| format!("name={i}&foo{}=read", i % 3))
        .collect();
    let template = parse(&repeated.join("&"));
    let problems: Vec<&str> = template
        .problems
        .iter()
        .map(|p| p.message.as_str())
        .collect();
    assert_eq!(
        problems,
        [
            "name is given more than once with different values",
            "Unknown permission: foo0",
            "Unknown permission: foo1",
            "Unknown permission: foo2",
        ]
    );
}

#[test]
fn expires_in_accepts_one_to_366_days_or_none_only() {
    // (value, expected; None: a problem)
    let cases = [
        ("1", Some(Expiration::Days(1))),
        ("7", Some(Expiration::Days(7))),
        ("45", Some(Expiration::Days(45))),
        ("045", Some(Expiration::Days(45))),
        ("366", Some(Expiration::Days(366))),
        ("none", Some(Expiration::Never)),
        ("0", None),
        ("367", None),
        ("65536", None),
        ("99999999999999999999", None),
        ("-1", None),
        ("+5", None),
        ("1.5", None),
        ("1e2", None),
        (" 30", None),
        ("30+", None),
        ("\u{0663}", None), // ARABIC-INDIC DIGIT THREE: a digit, but not ASCII
        ("NONE", None),
        ("None", None),
        ("never", None),
    ];
    for (value, expected) in cases {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("expires_in", value)
            .finish();
        let template = parse(&query);
        assert_eq!(template.expiration, expected, "{value:?}");
        assert_eq!(template.is_clean(), expected.is_some(), "{value:?}");
    }
}

#[test]
fn parameters_name_permissions_by_catalogue_name_or_prefixed_alias_in_the_right_group() {
    // (parameter, permission it names)
    let cases = [
        ("contents", Some("contents")),
        ("user_models", Some("user_models")),
        ("user_events", Some("user_events")),
        ("user_copilot_requests", Some("copilot_requests")),
        ("user_blocking", Some("blocking")),
        ("user_emails", Some("emails")),
        (
            "organization_copilot_seat_management",
            Some("organization_copilot_seat_management"),
        ),
        ("organization_members", Some("members")),
        ("organization_issue_types", Some("issue_types")),
        ("organization_team_discussions", Some("team_discussions")),
        // The prefix is not doubled.
        ("user_user_events", None),
        ("organization_organization_hooks", None),
        // Never across groups.
        ("user_contents", None),
        ("organization_contents", None),
        ("user_members", None),
        ("organization_blocking", None),
        // No unprefixed forms of prefixed names.
        ("models", None),
        ("events", None),
        ("copilot_seat_management", None),
        ("Contents", None),
        ("user_", None),
        ("", None),
    ];
    for (parameter, expected) in cases {
        assert_eq!(
            permission_for_parameter(parameter),
            expected.map(permission),
            "{parameter}"
        );
    }
}

#[test]
fn a_level_below_the_lowest_offered_is_raised_with_a_note_and_one_above_is_refused() {
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Prefilled(Level),
        Raised(Level),
        Refused,
    }
    use Outcome::{Prefilled, Raised, Refused};
    // (parameter, level, outcome)
    let cases = [
        ("contents", "read", Prefilled(Level::Read)),
        ("contents", "write", Prefilled(Level::Write)),
        ("contents", "admin", Refused),
        ("metadata", "read", Prefilled(Level::Read)),
        ("metadata", "write", Refused),
        ("workflows", "read", Raised(Level::Write)),
        ("workflows", "write", Prefilled(Level::Write)),
        ("workflows", "admin", Refused),
        ("gists", "read", Raised(Level::Write)),
        ("profile", "read", Raised(Level::Write)),
        ("codespaces_secrets", "read", Raised(Level::Write)),
        ("copilot_requests", "read", Raised(Level::Write)),
        ("user_copilot_requests", "read", Raised(Level::Write)),
        ("copilot_requests", "write", Prefilled(Level::Write)),
        ("copilot_requests", "admin", Refused),
        ("organization_projects", "admin", Prefilled(Level::Admin)),
        (
            "organization_custom_properties",
            "admin",
            Prefilled(Level::Admin),
        ),
        ("organization_plan", "write", Refused),
    ];
    for (parameter, level, expected) in cases {
        let template = parse(&format!("{parameter}={level}"));
        let p = permission_for_parameter(parameter).unwrap();
        let outcome = match (
            template.permissions.get(p),
            template.notes.len(),
            template.problems.len(),
        ) {
            (Some(l), 0, 0) => Prefilled(l),
            (Some(l), 1, 0) => Raised(l),
            (None, 0, 1) => Refused,
            other => panic!("{parameter}={level}: unexpected {other:?}"),
        };
        assert_eq!(outcome, expected, "{parameter}={level}");
    }
}

#[test]
fn raising_a_level_notes_it_on_the_permission_row() {
    assert_eq!(
        parse("workflows=read").notes,
        vec![message(
            Field::Permission(Permission::WORKFLOWS),
            "workflows only supports write: the link asks for read, so write is selected"
        )]
    );
}

// ---------------------------------------------------------------------------------------------
// Resolving the owner
// ---------------------------------------------------------------------------------------------

#[test]
fn owners_are_found_case_insensitively_and_spelt_as_the_directory_spells_them() {
    // (target, expected owner)
    let cases = [
        ("octocat", Some(("octocat", AccountKind::User))),
        ("OctoCat", Some(("octocat", AccountKind::User))),
        ("acme", Some(("acme", AccountKind::Organization))),
        ("ACME", Some(("acme", AccountKind::Organization))),
        ("globex", Some(("Globex", AccountKind::Organization))),
        ("octodemo", None),
        ("acme ", None),
        ("", None),
    ];
    for (target, expected) in cases {
        let expected = expected.map(|(login, kind)| ChosenOwner {
            login: login.to_owned(),
            kind,
        });
        assert_eq!(owners().find(target), expected, "{target:?}");
    }
}

#[test]
fn resolve_picks_the_target_or_the_user_and_names_an_unknown_target_as_given() {
    // (query, owner login, owner problem)
    let cases = [
        ("", USER, None),
        ("target_name=Globex", "Globex", None),
        ("target_name=OCTOCAT", USER, None),
        (
            "target_name=OctoDemo",
            USER,
            Some("Cannot find the specified resource owner: OctoDemo"),
        ),
        (
            // Two targets: a problem on the template, and the form falls back to the user.
            "target_name=acme&target_name=globex",
            USER,
            None,
        ),
        (
            "target_name=a%E2%80%AEb%0A",
            USER,
            Some("Cannot find the specified resource owner: a\\u{202e}b\\u{a}"),
        ),
    ];
    for (query, login, problem) in cases {
        let resolution = parse(query).resolve(&owners());
        assert_eq!(resolution.owner.login, login, "{query}");
        assert_eq!(
            resolution.owner_problem,
            problem.map(|p| message(Field::ResourceOwner, p)),
            "{query}"
        );
    }
}

#[test]
fn permissions_that_do_not_apply_to_the_owner_kind_are_listed_with_a_message() {
    let query =
        "blocking=read&contents=write&members=read&user_models=read&organization_models=read";
    let account_message = |name: &str| {
        format!("{name} is an account permission: it only applies when the resource owner is you")
    };
    let organization_message = |name: &str| {
        format!(
            "{name} is an organization permission: it only applies when the resource owner is an organization"
        )
    };
    // (target, applicable, not applicable)
    let cases = [
        (
            "",
            set(&[
                ("blocking", Level::Read),
                ("user_models", Level::Read),
                ("contents", Level::Write),
            ]),
            vec![
                ("members", organization_message("members")),
                (
                    "organization_models",
                    organization_message("organization_models"),
                ),
            ],
        ),
        (
            "&target_name=acme",
            set(&[
                ("contents", Level::Write),
                ("members", Level::Read),
                ("organization_models", Level::Read),
            ]),
            vec![
                ("blocking", account_message("blocking")),
                ("user_models", account_message("user_models")),
            ],
        ),
    ];
    for (target, applicable, not_applicable) in cases {
        let template = parse(&format!("{query}{target}"));
        assert!(template.is_clean());
        let resolution = template.resolve(&owners());
        assert_eq!(resolution.permissions, applicable, "{target}");
        let expected: Vec<NotApplicable> = not_applicable
            .into_iter()
            .map(|(name, message)| NotApplicable {
                permission: permission(name),
                level: Level::Read,
                message,
            })
            .collect();
        assert_eq!(resolution.not_applicable, expected, "{target}");
        assert_eq!(
            resolution.implied,
            set(&[("metadata", Level::Read)]),
            "{target}"
        );
    }
}

#[test]
fn metadata_read_is_implied_by_any_other_repository_permission_only() {
    // (query, implied metadata)
    let cases = [
        ("", false),
        ("contents=read", true),
        ("workflows=write", true),
        ("metadata=read", false),
        ("metadata=read&issues=read", true),
        ("emails=read", false),
        ("members=read&target_name=acme", false),
        // Not applicable to the user: implies nothing.
        ("members=read", false),
    ];
    for (query, implied) in cases {
        let resolution = parse(query).resolve(&owners());
        let expected = if implied {
            set(&[("metadata", Level::Read)])
        } else {
            PermissionSet::new()
        };
        assert_eq!(resolution.implied, expected, "{query}");
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

#[test]
fn render_writes_fields_then_permissions_in_catalogue_order() {
    let template = Template {
        name: Some("Deploy Bot".to_owned()),
        description: Some("Used for deployments: a+b & c".to_owned()),
        target_name: Some("acme".to_owned()),
        expiration: Some(Expiration::Days(30)),
        permissions: set(&[
            ("metadata", Level::Read),
            ("members", Level::Read),
            ("contents", Level::Write),
            ("emails", Level::Read),
        ]),
        problems: vec![message(Field::Name, "not rendered")],
        notes: vec![message(Field::Name, "not rendered either")],
    };
    assert_eq!(
        render(&template),
        "name=Deploy+Bot&description=Used+for+deployments%3A+a%2Bb+%26+c&target_name=acme\
         &expires_in=30&emails=read&contents=write&metadata=read&members=read"
    );
}

#[test]
fn render_leaves_out_what_a_link_cannot_carry() {
    let date = time::macros::date!(2026 - 12 - 31);
    // (template, rendering)
    let cases = [
        (Template::default(), ""),
        (
            Template {
                name: Some(String::new()),
                description: Some(String::new()),
                target_name: Some(String::new()),
                ..Template::default()
            },
            "",
        ),
        (
            Template {
                expiration: Some(Expiration::Default),
                ..Template::default()
            },
            "",
        ),
        (
            Template {
                expiration: Some(Expiration::Date(date)),
                ..Template::default()
            },
            "",
        ),
        (
            Template {
                expiration: Some(Expiration::Never),
                ..Template::default()
            },
            "expires_in=none",
        ),
        (
            Template {
                expiration: Some(Expiration::Days(366)),
                ..Template::default()
            },
            "expires_in=366",
        ),
    ];
    for (template, expected) in cases {
        assert_eq!(render(&template), expected, "{template:?}");
    }
}

#[test]
fn messages_read_as_their_text() {
    let problem = message(Field::Permissions, "Unknown permission: foo");
    assert_eq!(problem.to_string(), "Unknown permission: foo");
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Characters a name may hold, weighted towards the ones that encoding treats specially.
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        1 => prop::sample::select(vec![' ', '+', '&', '=', '%', '?', '#', ';', 'é', '\u{200F}']),
    ]
    .prop_filter("allowed in a name", |&c| !TextField::Name.forbids(c))
}

fn description_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => name_char(),
        1 => prop::sample::select(vec!['\n', '\r', '\t']),
    ]
}

fn text(chars: impl Strategy<Value = char>, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(chars, 1..=max).prop_map(String::from_iter)
}

/// A permission at a level it may be granted at in a token.
fn grantable_permission() -> impl Strategy<Value = (Permission, Level)> {
    let grantable: Vec<(Permission, Level)> = Permission::all()
        .flat_map(|p| p.allowed_levels().iter().map(move |&l| (p, l)))
        .filter(|&(p, l)| p.grantable_to_token(l))
        .collect();
    prop::sample::select(grantable)
}

fn accepted_template() -> impl Strategy<Value = Template> {
    let expiration = prop_oneof![
        (1..=MAX_EXPIRY_DAYS).prop_map(Expiration::Days),
        Just(Expiration::Never),
    ];
    (
        prop::option::of(text(name_char(), MAX_NAME_CHARS)),
        prop::option::of(text(description_char(), 300)),
        prop::option::of(text(any::<char>(), 40)),
        prop::option::of(expiration),
        prop::collection::vec(grantable_permission(), 0..12),
    )
        .prop_map(
            |(name, description, target_name, expiration, permissions)| Template {
                name,
                description,
                target_name,
                expiration,
                permissions: permissions.into_iter().collect(),
                ..Template::default()
            },
        )
}

/// Query strings built from the parameters templates use, their aliases and noise, with values
/// that are levels, days or anything, encoded or not.
fn template_like_query() -> impl Strategy<Value = String> {
    let mut known: Vec<String> = Permission::all().map(|p| p.name().to_owned()).collect();
    known.extend(
        [
            "name",
            "description",
            "target_name",
            "expires_in",
            "user_copilot_requests",
        ]
        .map(str::to_owned),
    );
    known.extend(["organization_members", "user_blocking", "utm_source", "foo"].map(str::to_owned));
    let key = prop_oneof![4 => prop::sample::select(known), 1 => ".{0,12}"];
    let value = prop_oneof![
        3 => prop::sample::select(vec!["read", "write", "admin", "none", "Read", ""]).prop_map(str::to_owned),
        2 => (0u32..400).prop_map(|n| n.to_string()),
        2 => ".{0,50}",
    ];
    let pair = (key, value, any::<bool>()).prop_map(|(key, value, encode)| {
        if encode {
            form_urlencoded::Serializer::new(String::new())
                .append_pair(&key, &value)
                .finish()
        } else {
            format!("{key}={value}")
        }
    });
    prop::collection::vec(pair, 0..10).prop_map(|pairs| pairs.join("&"))
}

/// Query strings whose pairs mostly make sense (a permission, or an alias, with a level it offers
/// or one below; text fields; days), so that most of them are accepted, with ignored noise.
fn mostly_valid_query() -> impl Strategy<Value = String> {
    let levels = |p: Permission| {
        let mut levels: Vec<Level> = p.allowed_levels().to_vec();
        if p.min_level() > Level::Read {
            levels.push(Level::Read);
        }
        levels
    };
    let aliased = |p: Permission| match p.group() {
        PermissionGroup::Account if !p.name().starts_with("user_") => format!("user_{p}"),
        PermissionGroup::Organization if !p.name().starts_with("organization_") => {
            format!("organization_{p}")
        }
        _ => p.name().to_owned(),
    };
    let permission_pairs: Vec<(String, String)> = Permission::all()
        .filter(|p| !p.app_only())
        .flat_map(|p| {
            levels(p).into_iter().flat_map(move |l| {
                [
                    (p.name().to_owned(), l.as_str().to_owned()),
                    (aliased(p), l.as_str().to_owned()),
                ]
            })
        })
        .collect();
    let pair = prop_oneof![
        6 => prop::sample::select(permission_pairs),
        1 => text(name_char(), MAX_NAME_CHARS).prop_map(|v| ("name".to_owned(), v)),
        1 => text(description_char(), 80).prop_map(|v| ("description".to_owned(), v)),
        1 => "[A-Za-z0-9-]{1,20}".prop_map(|v| ("target_name".to_owned(), v)),
        1 => prop_oneof![(1..=MAX_EXPIRY_DAYS).prop_map(|d| d.to_string()), Just("none".to_owned())]
            .prop_map(|v| ("expires_in".to_owned(), v)),
        1 => "[a-z]{1,8}".prop_map(|v| ("utm_source".to_owned(), v)),
    ];
    prop::collection::vec(pair, 0..8).prop_map(|pairs| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    })
}

proptest! {
    #[test]
    fn parsing_any_string_never_panics(query in any::<String>()) {
        let template = parse(&query);
        let _ = template.resolve(&owners());
        let _ = render(&template);
    }

    #[test]
    fn parsing_percent_soup_never_panics(query in "[a-z_%0-9A-F=&+?]{0,200}") {
        let _ = parse(&query).resolve(&owners());
    }

    #[test]
    fn accepted_templates_render_and_parse_back_to_themselves(template in accepted_template()) {
        prop_assert_eq!(parse(&render(&template)), template);
    }

    #[test]
    fn anything_accepted_re_encodes_and_re_parses_to_the_same_template(
        query in prop_oneof![template_like_query(), mostly_valid_query()],
    ) {
        let template = parse(&query);
        if template.is_clean() {
            prop_assert_eq!(parse(&render(&template)), without_notes(&template));
        }
    }

    #[test]
    fn rendering_is_canonical(query in prop_oneof![template_like_query(), mostly_valid_query()]) {
        let rendered = render(&parse(&query));
        prop_assert_eq!(render(&parse(&rendered)), rendered);
    }

    #[test]
    fn resolve_splits_the_template_permissions_by_owner_kind(
        query in prop_oneof![template_like_query(), mostly_valid_query()],
        target in prop::sample::select(vec!["", "&target_name=acme", "&target_name=nobody"]),
    ) {
        let template = parse(&format!("{query}{target}"));
        let resolution = template.resolve(&owners());
        let mut recombined = resolution.permissions;
        for n in &resolution.not_applicable {
            prop_assert_eq!(resolution.permissions.get(n.permission), None);
            recombined.set(n.permission, Some(n.level));
        }
        prop_assert_eq!(recombined, template.permissions);
        let kind = resolution.owner.kind;
        for (p, _) in resolution.permissions.iter() {
            prop_assert!(not_applicable_message(p, kind).is_none());
        }
    }
}
