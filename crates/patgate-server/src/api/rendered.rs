//! The JSON of the hottest answers (`GET /user`, `GET /repos/{owner}/{repo}`), rendered once per
//! version of the cached facts they show rather than on every request: rendering them (some forty
//! URLs each, every one formatted and escaped) was a third of the CPU of a warm `GET /user`
//! (`docs/benchmarks.md`, "Rendered once").
//!
//! A body is valid for exactly the facts it was rendered from, told by identity: the app's caches
//! hand out the same `Arc` until the facts change (a directory change, the TTL), and a changed
//! fact is a new `Arc`. Each body keeps a [`Weak`] to its facts, which keeps their allocation,
//! and so their address, from being reused while the body is cached; an address that matches is
//! therefore the same facts, never a newer value at a recycled address. Nothing needs
//! invalidating: a body whose facts were replaced simply stops matching, and the next request
//! renders anew. The bodies depend on nothing else (not on the caller, not on the time); the
//! base URL is fixed for the process.

use std::sync::{Arc, Weak};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use quick_cache::Weighter;
use serde::Serialize;

use patgate_app::access::RepoFacts;
use patgate_domain::model::User;

/// Bytes of rendered JSON kept per kind of body (a user's is about 1 KiB, a repository's 4 KiB).
pub const BUDGET_BYTES: u64 = 16 * 1024 * 1024;

/// What the rendered bodies weigh beside their JSON (the key, the `Weak`, the cache's slot).
const ENTRY_OVERHEAD: u64 = 64;

/// The rendered bodies, by the id of what they show.
pub struct RenderedBodies {
    users: Bodies<User>,
    repos: Bodies<RepoFacts>,
}

impl Default for RenderedBodies {
    fn default() -> Self {
        RenderedBodies::with_budget(BUDGET_BYTES)
    }
}

impl RenderedBodies {
    pub fn with_budget(bytes: u64) -> Self {
        RenderedBodies {
            users: Bodies::new(bytes),
            repos: Bodies::new(bytes),
        }
    }

    /// `GET /user`'s body for `user`.
    pub fn user(&self, base: &str, user: &Arc<User>) -> Response {
        json_response(self.users.get_or_render(user.id.0, user, |u| {
            to_json(super::json::private_user(base, u))
        }))
    }

    /// `GET /repos/{owner}/{repo}`'s body for `facts`.
    pub fn repo(&self, base: &str, facts: &Arc<RepoFacts>) -> Response {
        json_response(self.repos.get_or_render(facts.repo.id.0, facts, |f| {
            to_json(super::json::repository(base, &f.repo))
        }))
    }
}

/// A body of strings and numbers, which serializes (as `json::value_of` relies on too).
fn to_json(body: impl Serialize) -> Vec<u8> {
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Room for the headers an API answer carries (the content type and length, the accepted
/// scope or permission, five `X-RateLimit-*`, `X-OAuth-Scopes`, the token's expiration): made
/// once, where the default map would be made and then grown and rehashed on the way.
const API_HEADERS: usize = 12;

fn json_response(json: Bytes) -> Response {
    let mut response = Response::new(Body::from(json));
    *response.headers_mut() = HeaderMap::with_capacity(API_HEADERS);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

struct Rendered<T> {
    facts: Weak<T>,
    json: Bytes,
}

// Not derived: a derived `Clone` would ask for `T: Clone`, and only the `Weak` is cloned.
impl<T> Clone for Rendered<T> {
    fn clone(&self) -> Self {
        Rendered {
            facts: self.facts.clone(),
            json: self.json.clone(),
        }
    }
}

#[derive(Clone)]
struct ByLength;

impl<T> Weighter<i64, Rendered<T>> for ByLength {
    fn weight(&self, _: &i64, body: &Rendered<T>) -> u64 {
        body.json.len() as u64 + ENTRY_OVERHEAD
    }
}

struct Bodies<T> {
    cache: quick_cache::sync::Cache<i64, Rendered<T>, ByLength>,
}

impl<T> Bodies<T> {
    fn new(budget: u64) -> Self {
        let estimated = usize::try_from(budget / 1024).unwrap_or(usize::MAX).max(16);
        Bodies {
            cache: quick_cache::sync::Cache::with_weighter(estimated, budget, ByLength),
        }
    }

    fn get_or_render(&self, id: i64, facts: &Arc<T>, render: impl FnOnce(&T) -> Vec<u8>) -> Bytes {
        if let Some(body) = self.cache.get(&id)
            && std::ptr::eq(body.facts.as_ptr(), Arc::as_ptr(facts))
        {
            return body.json;
        }
        let json = Bytes::from(render(facts));
        self.cache.insert(
            id,
            Rendered {
                facts: Arc::downgrade(facts),
                json: json.clone(),
            },
        );
        json
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(bodies: &Bodies<String>, id: i64, facts: &Arc<String>) -> String {
        let json = bodies.get_or_render(id, facts, |s| to_json(s));
        String::from_utf8(json.to_vec()).unwrap()
    }

    #[test]
    fn a_body_is_rendered_once_for_the_same_facts() {
        let bodies = Bodies::new(BUDGET_BYTES);
        let facts = Arc::new("alice".to_owned());
        let renders = std::cell::Cell::new(0);
        for _ in 0..3 {
            bodies.get_or_render(1, &facts, |s| {
                renders.set(renders.get() + 1);
                to_json(s)
            });
        }
        assert_eq!(renders.get(), 1);
    }

    #[test]
    fn changed_facts_are_rendered_anew_even_when_equal_in_value() {
        let bodies = Bodies::new(BUDGET_BYTES);
        let old = Arc::new("alice@old.example".to_owned());
        assert_eq!(body(&bodies, 1, &old), "\"alice@old.example\"");
        let new = Arc::new("alice@new.example".to_owned());
        assert_eq!(body(&bodies, 1, &new), "\"alice@new.example\"");
        // The old facts, still held by someone, are not served from the new body's slot.
        let renders = std::cell::Cell::new(0);
        bodies.get_or_render(1, &old, |s| {
            renders.set(renders.get() + 1);
            to_json(s)
        });
        assert_eq!(renders.get(), 1);
    }

    #[test]
    fn facts_dropped_and_replaced_are_never_matched_by_a_recycled_address() {
        let bodies = Bodies::new(BUDGET_BYTES);
        for i in 0..1000 {
            // Each value lives only for its own request, as facts evicted from the app's cache do;
            // the allocator would hand the same address back if the cached body did not hold it.
            let facts = Arc::new(format!("v{i}"));
            assert_eq!(body(&bodies, 1, &facts), format!("\"v{i}\""));
        }
    }

    #[test]
    fn the_bodies_stay_within_their_budget() {
        let bodies = Bodies::new(64 * 1024);
        let facts: Vec<_> = (0..1000).map(|i| Arc::new("x".repeat(1000 + i))).collect();
        for (id, f) in facts.iter().enumerate() {
            body(&bodies, id as i64, f);
        }
        assert!(bodies.len() < 70, "{} bodies of 1 KiB kept", bodies.len());
        assert!(bodies.len() > 10, "{} bodies kept", bodies.len());
    }
}
