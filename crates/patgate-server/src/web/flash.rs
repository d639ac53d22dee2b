//! A notice that survives one redirect ("Deleted the token …"), in a short-lived cookie. It
//! never carries a secret: a new token is shown in the response that creates it, not here.

use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::page::Notice;
use crate::state::AppState;

const NAME: &str = "patgate_notice";

/// A jar that sets the notice for the next page.
pub fn set(state: &AppState, message: &str) -> CookieJar {
    let value: String = form_urlencoded::byte_serialize(message.as_bytes()).collect();
    CookieJar::new().add(
        Cookie::build((NAME, value))
            .path("/")
            .http_only(true)
            .secure(state.base_url.starts_with("https://"))
            .same_site(SameSite::Lax)
            .max_age(time::Duration::minutes(1))
            .build(),
    )
}

/// The notice a redirect left, and a jar that clears it.
pub fn take(state: &AppState, headers: &HeaderMap) -> (Option<Notice>, CookieJar) {
    let jar = CookieJar::from_headers(headers);
    let Some(cookie) = jar.get(NAME) else {
        return (None, CookieJar::new());
    };
    let message: String = form_urlencoded::parse(format!("m={}", cookie.value()).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let cleared = CookieJar::new().add(
        Cookie::build((NAME, ""))
            .path("/")
            .http_only(true)
            .secure(state.base_url.starts_with("https://"))
            .same_site(SameSite::Lax)
            .max_age(time::Duration::ZERO)
            .build(),
    );
    let notice = (!message.is_empty()).then(|| Notice::success(message));
    (notice, cleared)
}
