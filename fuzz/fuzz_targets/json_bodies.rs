//! The REST API's JSON request bodies, read as the handlers read them: through the `ApiJson`
//! extractor (`patgate_server::api::extract::ApiJson`), then, for the token bodies, the handlers'
//! own checks (`into_request`, `into_edit`, `expiration`) and the domain's validation
//! (`validate_fine_grained`, `validate_classic`, `validate_regeneration`).
//!
//! The first byte picks the body type, the rest is the request body. Besides "never panics",
//! it checks:
//!
//! * a body is refused with 400 exactly when it is neither blank nor a JSON object, and any
//!   other refusal is a 422 with one `validation-error` naming a field; every refusal renders;
//! * a blank body is `{}`: it is accepted by every body whose fields are all optional;
//! * a token that validates has a trimmed, non-empty name or note within its length, no more than
//!   the largest lifetime, and no expiry only when none was asked for.

#![no_main]

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use futures_util::FutureExt;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use time::{Duration, OffsetDateTime};

use patgate_domain::model::{RepoId, RepositorySelection};
use patgate_domain::policy::{Access, Approval, EffectivePolicy, Source};
use patgate_domain::token::TokenKind;
use patgate_domain::validate::{
    self, ClassicRequest, CreationContext, Expiration, FineGrainedRequest, MAX_EXPIRY_DAYS,
    MAX_NAME_CHARS, MAX_NOTE_CHARS, OwnerChoice,
};
use patgate_server::api::error::ApiError;
use patgate_server::api::extract::ApiJson;
use patgate_server::api::{governance, hooks, orgs, platform, tokens};

/// The body as the handler gets it, or the answer the client gets.
fn read<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let request = Request::new(Body::from(bytes.to_vec()));
    let read = ApiJson::<T>::from_request(request, &())
        .now_or_never()
        .expect("a body in memory is read at once");
    let blank = bytes.iter().all(u8::is_ascii_whitespace);
    let object =
        blank || serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| v.is_object());
    match &read {
        Ok(_) => assert!(object),
        Err(e) if e.status == StatusCode::BAD_REQUEST => assert!(!object, "{e:?}"),
        Err(e) => {
            assert!(object, "{e:?}");
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{e:?}");
            assert_eq!(e.errors.len(), 1, "{e:?}");
            let code = e.errors[0]["code"].as_str();
            assert!(matches!(code, Some("invalid" | "missing_field")), "{e:?}");
            assert!(e.errors[0]["field"].is_string(), "{e:?}");
        }
    }
    read.map(|ApiJson(body)| body).map_err(rendered)
}

/// A refusal renders as the response the client gets, with its status.
fn rendered(e: ApiError) -> ApiError {
    let status = e.status;
    let copy = ApiError {
        status: e.status,
        message: e.message.clone(),
        errors: e.errors.clone(),
        headers: e.headers.clone(),
        documentation_url: e.documentation_url,
        extra: e.extra.clone(),
    };
    assert_eq!(copy.into_response().status(), status);
    e
}

fn now() -> OffsetDateTime {
    // A fixed instant (2026-12-02): the run must not depend on the clock.
    OffsetDateTime::from_unix_timestamp(1_796_169_600).expect("a valid timestamp")
}

fn check_expiry(asked: Expiration, expires_at: Option<OffsetDateTime>) {
    let now = now();
    match expires_at {
        None => assert_eq!(asked, Expiration::Never),
        Some(at) => {
            assert!(at > now, "{asked:?} -> {at}");
            assert!(
                at <= now + Duration::days(i64::from(MAX_EXPIRY_DAYS) + 1),
                "{asked:?} -> {at}"
            );
        }
    }
}

fn policy() -> EffectivePolicy {
    EffectivePolicy {
        org_login: "acme".into(),
        enterprise_slug: None,
        fine_grained: (Access::Allow, Source::Default),
        classic: (Access::Allow, Source::Default),
        approval: (Approval::Require, Source::Organization),
        fine_grained_max_lifetime_days: Some((90, Source::Organization)),
        classic_max_lifetime_days: None,
        exempt_administrators: false,
    }
}

fn create_fine_grained(bytes: &[u8]) {
    let Ok(body) = read::<tokens::CreateFineGrainedBody>(bytes) else {
        return;
    };
    let Ok(req) = body.into_request().map_err(rendered) else {
        return;
    };
    // Every repository the client names exists here.
    let repositories: Vec<RepoId> = (0..req.repositories.len() as i64).map(RepoId).collect();
    let selection = req
        .repository_selection
        .unwrap_or(if repositories.is_empty() {
            RepositorySelection::None
        } else {
            RepositorySelection::Subset
        });
    let expiration = req.expiration.unwrap_or(Expiration::Default);
    let request = FineGrainedRequest {
        name: &req.name,
        description: req.description.as_deref(),
        justification: req.justification.as_deref(),
        expiration,
        selection,
        repositories: &repositories,
        unknown_repositories: &[],
        permissions: &req.permissions,
    };
    let policy = policy();
    for (owner, max_days) in [
        (OwnerChoice::Myself, None),
        (
            OwnerChoice::Organization {
                member: true,
                owner: false,
                policy: &policy,
            },
            Some(90),
        ),
    ] {
        let ctx = CreationContext {
            now: now(),
            email_verified: true,
            fine_grained_count: 0,
            name_taken: false,
            owner,
        };
        let Ok(valid) = validate::validate_fine_grained(&request, &ctx) else {
            continue;
        };
        assert!(!valid.name.is_empty());
        assert_eq!(valid.name.trim(), valid.name);
        assert!(valid.name.chars().count() <= MAX_NAME_CHARS);
        check_expiry(expiration, valid.expires_at);
        if let (Some(max), Some(at)) = (max_days, valid.expires_at) {
            assert!(at <= now() + Duration::days(max + 1));
        }
        assert_eq!(valid.access.selection, selection);
        assert_eq!(valid.needs_approval, max_days.is_some());
    }
}

fn create_classic(bytes: &[u8]) {
    let Ok(body) = read::<tokens::CreateClassicBody>(bytes) else {
        return;
    };
    let Ok(req) = body.into_request().map_err(rendered) else {
        return;
    };
    let expiration = req.expiration.unwrap_or(Expiration::Default);
    let request = ClassicRequest {
        note: &req.note,
        scopes: &req.scopes,
        expiration,
    };
    if let Ok(valid) = validate::validate_classic(&request, true, now()) {
        assert!(!valid.note.is_empty());
        assert_eq!(valid.note.trim(), valid.note);
        assert!(valid.note.chars().count() <= MAX_NOTE_CHARS);
        check_expiry(expiration, valid.expires_at);
    }
    assert!(validate::validate_classic(&request, false, now()).is_err());
}

fn regenerate(bytes: &[u8]) {
    let Ok(body) = read::<tokens::RegenerateBody>(bytes) else {
        return;
    };
    for kind in [TokenKind::FineGrained, TokenKind::Classic] {
        let Ok(expiration) = body.expiration(kind).map_err(rendered) else {
            continue;
        };
        let expiration = expiration.unwrap_or(Expiration::Default);
        for max in [None, Some(7)] {
            if let Ok(at) = validate::validate_regeneration(kind, expiration, max, now()) {
                check_expiry(expiration, at);
                if let (Some(max), Some(at)) = (max, at) {
                    assert!(at <= now() + Duration::days(i64::from(max) + 1));
                }
            }
        }
    }
}

fn edit_fine_grained(bytes: &[u8]) {
    if let Ok(body) = read::<tokens::EditFineGrainedBody>(bytes) {
        let _ = body.into_edit().map_err(rendered);
    }
}

/// Deserialised only: the handler's checks need the store.
fn only_read<T: DeserializeOwned>(bytes: &[u8], all_optional: bool) {
    let read = read::<T>(bytes);
    if all_optional && bytes.iter().all(u8::is_ascii_whitespace) {
        assert!(read.is_ok(), "a blank body is {{}}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 13 {
        0 => create_fine_grained(bytes),
        1 => edit_fine_grained(bytes),
        2 => regenerate(bytes),
        3 => create_classic(bytes),
        4 => only_read::<tokens::EditClassicBody>(bytes, true),
        5 => only_read::<orgs::ReviewBody>(bytes, true),
        6 => only_read::<orgs::RevokeBody>(bytes, true),
        7 => only_read::<governance::PolicyBody>(bytes, true),
        8 => only_read::<governance::NewAppBody>(bytes, true),
        9 => only_read::<governance::RevokeBody>(bytes, true),
        10 => only_read::<hooks::HookBody>(bytes, true),
        11 => only_read::<platform::AuthorizeBody>(bytes, true),
        _ => only_read::<platform::BatchBody>(bytes, false),
    }
});
