//! The web UI: server-rendered pages (askama) that work without JavaScript, with a small script
//! for conveniences (copy buttons, select-all, filtering a list, showing the fields that apply).
//!
//! Paths are GitHub's: `/settings/personal-access-tokens` (fine-grained tokens, with
//! `/settings/personal-access-tokens/new` taking seed 004's template parameters),
//! `/settings/tokens` (classic tokens, `/settings/tokens/new?scopes=…`), `/settings/sessions`,
//! `/login`, `/logout`. Every form is protected against cross-site requests twice: by
//! tower-http's `CsrfLayer` (`Sec-Fetch-Site`/`Origin`) and by the session's form token
//! (`form::require_form_token`).

pub mod account;
pub mod classic;
pub mod emails;
pub mod enterprise;
pub mod flash;
pub mod form;
pub mod org;
pub mod org_audit;
pub mod org_hooks;
pub mod org_requests;
pub mod org_tokens;
pub mod page;
pub mod session;
pub mod token_form;
pub mod tokens;
pub mod views;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::csrf::CsrfLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");
const FAVICON: &str = include_str!("../../static/favicon.svg");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let headers = r.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The assets are part of the binary: a new version comes with a restart.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .route("/", get(|| async { page::see_other(session::HOME) }))
        .route("/login", get(session::login_page).post(session::sign_in))
        .route("/logout", post(session::sign_out))
        .route(
            "/settings/personal-access-tokens",
            get(tokens::list).post(tokens::create),
        )
        .route("/settings/personal-access-tokens/new", get(tokens::new))
        .route(
            "/settings/personal-access-tokens/{id}",
            get(tokens::show).post(tokens::update),
        )
        .route(
            "/settings/personal-access-tokens/{id}/edit",
            get(tokens::edit),
        )
        .route(
            "/settings/personal-access-tokens/{id}/regenerate",
            get(tokens::regenerate_form).post(tokens::regenerate),
        )
        .route(
            "/settings/personal-access-tokens/{id}/delete",
            get(tokens::delete_form).post(tokens::delete),
        )
        .route("/settings/tokens", get(classic::list).post(classic::create))
        .route("/settings/tokens/new", get(classic::new))
        .route(
            "/settings/tokens/{id}",
            get(classic::show).post(classic::update),
        )
        .route(
            "/settings/tokens/{id}/regenerate",
            get(classic::regenerate_form).post(classic::regenerate),
        )
        .route(
            "/settings/tokens/{id}/delete",
            get(classic::delete_form).post(classic::delete),
        )
        .route(emails::SEND_PATH, post(emails::send))
        .route(
            emails::VERIFY_PATH,
            get(emails::confirm).post(emails::verify),
        )
        .route("/settings/sessions", get(account::list))
        .route(
            "/settings/sessions/revoke-others",
            post(account::revoke_others),
        )
        .route("/settings/sessions/{id}/revoke", post(account::revoke))
        .route(
            "/organizations/{org}/settings/personal-access-tokens",
            get(org::policy).post(org::save_policy),
        )
        .route(
            "/organizations/{org}/settings/personal-access-token-requests",
            get(org_requests::list),
        )
        .route(
            "/organizations/{org}/settings/personal-access-token-requests/review",
            get(org_requests::confirm).post(org_requests::review),
        )
        .route(
            "/organizations/{org}/settings/personal-access-token-requests/{id}",
            get(org_requests::show),
        )
        .route(
            "/organizations/{org}/settings/personal-access-tokens/active",
            get(org_tokens::list),
        )
        .route(
            "/organizations/{org}/settings/personal-access-tokens/active/revoke",
            get(org_tokens::confirm).post(org_tokens::revoke),
        )
        .route(
            "/organizations/{org}/settings/personal-access-tokens/active/{id}",
            get(org_tokens::show),
        )
        .route(
            "/organizations/{org}/settings/audit-log",
            get(org_audit::list),
        )
        .route(
            "/organizations/{org}/settings/hooks",
            get(org_hooks::list).post(org_hooks::create),
        )
        .route(
            "/organizations/{org}/settings/hooks/{id}",
            get(org_hooks::show).post(org_hooks::update),
        )
        .route(
            "/organizations/{org}/settings/hooks/{id}/delete",
            post(org_hooks::delete),
        )
        .route(
            "/organizations/{org}/settings/hooks/{id}/pings",
            post(org_hooks::ping),
        )
        .route(
            "/organizations/{org}/settings/hooks/{id}/deliveries/{delivery}/redeliver",
            post(org_hooks::redeliver),
        )
        .route(
            "/enterprises/{slug}/settings/personal-access-tokens",
            get(enterprise::policy).post(enterprise::save_policy),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            form::require_form_token,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(form::MAX_FORM_BYTES))
        .layer(CsrfLayer::new())
        // Pages load nothing from elsewhere and run only our own script; they are never framed.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(state);
    Router::new()
        .route(
            "/static/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route(
            "/static/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/static/favicon.svg",
            get(|| async { asset("image/svg+xml", FAVICON) }),
        )
        .merge(pages)
}
