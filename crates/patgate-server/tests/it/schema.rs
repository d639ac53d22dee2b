//! GitHub's response schemas, from the committed copy of `@octokit/openapi`'s definitions
//! (`spec/github-pat-openapi.json`), as JSON Schema validators.
//!
//! The file is OpenAPI 3.0: `nullable: true` is rewritten into JSON Schema's type union (`type:
//! ["string", "null"]`, or `anyOf [..., {type: null}]` where the schema has no `type`), and the
//! validators run on a root document that holds `components`, so that the spec's
//! `#/components/schemas/...` references resolve as they are written.

use std::sync::OnceLock;

use serde_json::{Value, json};

fn spec_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/github-pat-openapi.json")
}

/// OpenAPI 3.0's `nullable: true` as JSON Schema (draft 2020-12) says it, in place, everywhere.
fn rewrite_nullable(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(rewrite_nullable),
        Value::Object(map) => {
            map.values_mut().for_each(rewrite_nullable);
            if map.remove("nullable") != Some(Value::Bool(true)) {
                return;
            }
            if let Some(Value::Array(values)) = map.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
            match map.get("type").cloned() {
                Some(Value::String(t)) => {
                    map.insert("type".into(), json!([t, "null"]));
                }
                Some(Value::Array(mut ts)) => {
                    if !ts.contains(&json!("null")) {
                        ts.push(json!("null"));
                    }
                    map.insert("type".into(), Value::Array(ts));
                }
                // `$ref`, `oneOf`, `allOf`...: the schema as it is, or null.
                _ => {
                    let inner = Value::Object(std::mem::take(map));
                    map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                }
            }
        }
        _ => {}
    }
}

/// The spec's `components`, rewritten once.
fn components() -> &'static Value {
    static COMPONENTS: OnceLock<Value> = OnceLock::new();
    COMPONENTS.get_or_init(|| {
        let path = spec_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let spec: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
        let mut schemas = spec["components"]["schemas"].clone();
        assert!(
            schemas.is_object(),
            "no components.schemas in {}",
            path.display()
        );
        rewrite_nullable(&mut schemas);
        json!({ "schemas": schemas })
    })
}

/// A validator for `#/components/schemas/<component>`.
fn validator(component: &str) -> jsonschema::Validator {
    assert!(
        components()["schemas"].get(component).is_some(),
        "no schema {component:?} in spec/github-pat-openapi.json"
    );
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{component}"),
        "components": components(),
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("the schema {component:?} does not compile: {e}"))
}

/// Every way `instance` breaks the schema, one line each; empty when it is valid.
pub fn errors(component: &str, instance: &Value) -> Vec<String> {
    validator(component)
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Panics, listing the failures, unless `instance` is a valid `component`.
#[track_caller]
pub fn validate(component: &str, instance: &Value) {
    let errors = errors(component, instance);
    assert!(
        errors.is_empty(),
        "not a valid {component}:\n  {}\nin {instance:#}",
        errors.join("\n  ")
    );
}

/// `instance` is an array and each item is a valid `component`; the items.
#[track_caller]
pub fn validate_items<'a>(component: &str, instance: &'a Value) -> &'a [Value] {
    let items = instance
        .as_array()
        .unwrap_or_else(|| panic!("expected an array of {component}, got {instance:#}"));
    for item in items {
        validate(component, item);
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Value {
        let u = "https://api.github.com/users/octocat";
        json!({
            "login": "octocat", "id": 1, "node_id": "MDQ6VXNlcjE=",
            "avatar_url": "https://github.com/images/error/octocat_happy.gif", "gravatar_id": null,
            "url": u, "html_url": "https://github.com/octocat",
            "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following{{/other_user}}"),
            "gists_url": format!("{u}/gists{{/gist_id}}"), "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"),
            "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events{{/privacy}}"),
            "received_events_url": format!("{u}/received_events"), "type": "User", "site_admin": false,
        })
    }

    fn request() -> Value {
        json!({
            "id": 25381, "reason": null, "owner": user(), "repository_selection": "all",
            "repositories_url": "https://api.github.com/organizations/652551/personal-access-token-requests/25381/repositories",
            "permissions": {"organization": {"members": "read"}, "repository": {"metadata": "read"}},
            "created_at": "2023-05-16T08:47:09.000-07:00", "token_id": 98716, "token_name": "Some Token",
            "token_expired": false, "token_expires_at": null, "token_last_used_at": null,
        })
    }

    #[test]
    fn the_reference_example_is_valid_and_nullable_fields_take_null() {
        validate("organization-programmatic-access-grant-request", &request());
        validate("simple-user", &user());
    }

    #[test]
    fn the_validators_are_not_vacuous() {
        let mut missing = request();
        missing.as_object_mut().map(|m| m.remove("token_id"));
        assert!(!errors("organization-programmatic-access-grant-request", &missing).is_empty());
        let mut wrong = request();
        wrong["repository_selection"] = json!("some");
        assert!(!errors("organization-programmatic-access-grant-request", &wrong).is_empty());
        let mut not_null = request();
        not_null["token_name"] = Value::Null;
        assert!(!errors("organization-programmatic-access-grant-request", &not_null).is_empty());
        // A reference into the spec is checked too: the owner's required fields.
        let mut owner = request();
        owner["owner"].as_object_mut().map(|m| m.remove("login"));
        assert!(!errors("organization-programmatic-access-grant-request", &owner).is_empty());
        assert!(!errors("validation-error", &json!({"message": "x"})).is_empty());
    }

    #[test]
    fn nullable_becomes_a_type_union() {
        let mut v = json!({"a": {"type": "string", "nullable": true}, "b": {"$ref": "#/x", "nullable": true},
                          "c": {"type": "string", "enum": ["x"], "nullable": true}});
        rewrite_nullable(&mut v);
        assert_eq!(v["a"], json!({"type": ["string", "null"]}));
        assert_eq!(
            v["b"],
            json!({"anyOf": [{"$ref": "#/x"}, {"type": "null"}]})
        );
        assert_eq!(
            v["c"],
            json!({"type": ["string", "null"], "enum": ["x", null]})
        );
    }
}
