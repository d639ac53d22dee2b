//! The template URL parser (`patgate_domain::template`) and the route table's lookup
//! (`patgate_domain::routes::lookup`).
//!
//! Template: the input is a query string. Besides "never panics", it checks that what `parse`
//! pre-fills keeps the documented limits (a name or description holds no forbidden character,
//! one that is too long comes with its problem, `expires_in` is 1 to 366 days or none), that no
//! message repeats a control or bidirectional character or grows without bound, that `render`
//! then `parse` gives back the same template, and that `resolve` sorts every permission into
//! exactly one of applicable and not applicable.
//!
//! Routes: the first line of the input is the method, the rest the request target. A lookup
//! never panics; a match has as many values as its template has parameters; the query, the
//! method's case and `HEAD` for `GET` do not change the answer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_domain::catalog::PermissionSet;
use patgate_domain::routes::{self, Method};
use patgate_domain::template::{self, Field, SelectableOwners};
use patgate_domain::text::is_bidi_control;
use patgate_domain::validate::{Expiration, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};

fn check_template(query: &str) {
    let t = template::parse(query);
    let has_problem = |field: Field| t.problems.iter().any(|p| p.field == field);

    if let Some(name) = &t.name {
        assert!(!name.is_empty());
        assert!(
            !name.chars().any(|c| c.is_control() || is_bidi_control(c)),
            "{name:?}"
        );
        if name.chars().count() > MAX_NAME_CHARS {
            assert!(has_problem(Field::Name));
        }
    }
    if let Some(description) = &t.description {
        assert!(!description.is_empty());
        assert!(
            !description
                .chars()
                .any(|c| (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
                    || is_bidi_control(c)),
            "{description:?}"
        );
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            assert!(has_problem(Field::Description));
        }
    }
    match t.expiration {
        None | Some(Expiration::Never) => {}
        Some(Expiration::Days(days)) => assert!((1..=366).contains(&days)),
        Some(other) => panic!("a link cannot give {other:?}"),
    }
    for m in t.problems.iter().chain(&t.notes) {
        assert!(
            !m.message
                .chars()
                .any(|c| c.is_control() || is_bidi_control(c)),
            "{m:?}"
        );
        // The longest fixed wording plus 100 characters of the link (each at most a 10-char
        // escape, `\u{10ffff}`) and the ellipsis.
        assert!(m.message.chars().count() <= 200 + 100 * 10 + 1, "{m:?}");
    }
    for (p, level) in t.permissions.iter() {
        assert!(p.allows(level), "{p} at {level}");
        assert!(!p.app_only());
    }

    // render is parse's inverse on what a template pre-fills.
    let rendered = template::render(&t);
    let again = template::parse(&rendered);
    assert_eq!(again.name, t.name, "{rendered}");
    assert_eq!(again.description, t.description, "{rendered}");
    assert_eq!(again.target_name, t.target_name, "{rendered}");
    assert_eq!(again.expiration, t.expiration, "{rendered}");
    assert_eq!(again.permissions, t.permissions, "{rendered}");
    assert!(again.notes.is_empty(), "{rendered}: {:?}", again.notes);
    assert_eq!(template::render(&again), rendered);

    // resolve: every permission is applicable or not, never both, never lost.
    let owners = SelectableOwners::new("Alice", ["acme", "Globex"]);
    let r = t.resolve(&owners);
    let mut all = r.permissions;
    for na in &r.not_applicable {
        assert_eq!(r.permissions.get(na.permission), None);
        all.set(na.permission, Some(na.level));
    }
    assert_eq!(all, t.permissions);
    assert_eq!(
        r.owner_problem.is_some(),
        t.target_name
            .as_deref()
            .is_some_and(|target| owners.find(target).is_none())
    );
    let _ = r.prefilled_permissions().union(&PermissionSet::new());
}

fn check_route(method: &str, target: &str) {
    let found = routes::lookup(method, target);
    if let Some(m) = &found {
        assert_eq!(m.params().count(), m.route().param_names().count());
        // `HEAD` parses as `GET`.
        assert_eq!(Some(m.method()), Method::parse(method));
        let _ = m.resource();
        let _ = m.accepted_permissions();
        let _ = m.classic_scopes(true).header_value();
        let _ = m.classic_scopes(false).header_value();
        for name in m.route().param_names() {
            assert!(m.param(name).is_some());
        }
    }
    let template = |m: &routes::RouteMatch<'_>| m.template();
    let without_query = target.split_once('?').map_or(target, |(path, _)| path);
    assert_eq!(
        routes::lookup(method, without_query).as_ref().map(template),
        found.as_ref().map(template)
    );
    assert_eq!(
        routes::lookup(&method.to_ascii_lowercase(), target)
            .as_ref()
            .map(template),
        found.as_ref().map(template)
    );
    if method.eq_ignore_ascii_case("head") {
        assert_eq!(
            routes::lookup("GET", target).as_ref().map(template),
            found.as_ref().map(template)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check_template(&text);

    let (method, target) = text.split_once('\n').unwrap_or(("GET", &text));
    check_route(method, target);
    for method in ["GET", "POST", "DELETE"] {
        check_route(method, &text);
    }
});
