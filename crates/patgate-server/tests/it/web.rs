//! The web UI's sessions and forms over HTTP (issue 10): the cookie's attributes, rotation at
//! sign-in, sign-out and a password change ending sessions, the failed sign-ins sharing the
//! password throttle, and every way a forged form is refused. The browser walks the flows in
//! e2e/web-tokens.test.mjs.

use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};

use crate::support::{Server, spawn, spawn_configured};

fn client() -> Client {
    crate::http_builder()
        .redirect(Policy::none())
        .build()
        .expect("a client")
}

/// Signs in; the `Set-Cookie` header of the answer.
async fn sign_in(
    s: &Server,
    login: &str,
    password: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = client().post(s.url("/login")).form(&[
        ("login", login),
        ("password", password),
        ("return_to", "/settings/tokens"),
    ]);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.expect("sent")
}

/// The `name=value` of a session cookie set by a response.
fn session_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("patgate_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

fn set_cookie_header(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("patgate_session="))
        .expect("a session cookie")
        .to_owned()
}

async fn page(s: &Server, path: &str, cookie: &str) -> reqwest::Response {
    client()
        .get(s.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("sent")
}

/// The form token the session's pages carry.
async fn form_token(s: &Server, cookie: &str) -> String {
    let html = page(s, "/settings/tokens/new", cookie)
        .await
        .text()
        .await
        .expect("a page");
    let at = html.find("name=\"_csrf\" value=\"").expect("a form token") + 20;
    html[at..at + 32].to_owned()
}

async fn classic_notes(s: &Server, login: &str) -> Vec<String> {
    let user = s.app.store().user_by_login(login).await.unwrap().unwrap();
    s.app
        .list_tokens(&user, Some(patgate_domain::token::TokenKind::Classic))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect()
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_lax_and_rotated_at_sign_in() {
    let s = spawn().await;
    let first = sign_in(&s, "alice", "alice-password", None).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.headers()["location"], "/settings/tokens");
    let attributes = set_cookie_header(&first);
    assert!(attributes.contains("HttpOnly"), "{attributes}");
    assert!(attributes.contains("SameSite=Lax"), "{attributes}");
    assert!(attributes.contains("Path=/"), "{attributes}");
    let old = session_cookie(&first);
    assert_eq!(
        page(&s, "/settings/tokens", &old).await.status(),
        StatusCode::OK
    );
    // Signing in again from the same browser gives a new id and ends the old one.
    let second = sign_in(&s, "alice", "alice-password", Some(&old)).await;
    let new = session_cookie(&second);
    assert_ne!(old, new);
    assert_eq!(
        page(&s, "/settings/tokens", &new).await.status(),
        StatusCode::OK
    );
    let stale = page(&s, "/settings/tokens", &old).await;
    assert_eq!(stale.status(), StatusCode::SEE_OTHER);
    assert!(
        stale.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?return_to=")
    );
    // The store holds the hash of the secret, never the secret.
    let secret = new.split_once('=').unwrap().1;
    let alice = s.app.store().user_by_login("alice").await.unwrap().unwrap();
    let sessions = s.app.store().sessions_of_user(alice.id).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert!(
        s.app
            .store()
            .session_by_hash(
                &patgate_domain::session::SessionSecret::parse(secret)
                    .unwrap()
                    .hash()
            )
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_and_host_prefixed() {
    let s = spawn_configured(|state, _| {
        state.base_url = "https://tokens.example.com".to_owned();
    })
    .await;
    let r = sign_in(&s, "alice", "alice-password", None).await;
    let attributes = set_cookie_header(&r);
    assert!(
        attributes.starts_with("__Host-patgate_session="),
        "{attributes}"
    );
    assert!(attributes.contains("Secure"), "{attributes}");
    assert!(!attributes.contains("Domain"), "{attributes}");
}

#[tokio::test]
async fn signing_out_and_changing_the_password_end_sessions() {
    let s = spawn().await;
    let cookie = session_cookie(&sign_in(&s, "bob", "bob-password", None).await);
    let token = form_token(&s, &cookie).await;
    let out = client()
        .post(s.url("/logout"))
        .header("cookie", &cookie)
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page(&s, "/settings/tokens", &cookie).await.status(),
        StatusCode::SEE_OTHER
    );

    let a = session_cookie(&sign_in(&s, "bob", "bob-password", None).await);
    let b = session_cookie(&sign_in(&s, "bob", "bob-password", None).await);
    let carol = session_cookie(&sign_in(&s, "carol", "carol-password", None).await);
    s.app.set_password("bob", "a-new-password").await.unwrap();
    for gone in [&a, &b] {
        assert_eq!(
            page(&s, "/settings/tokens", gone).await.status(),
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(
        page(&s, "/settings/tokens", &carol).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn another_session_can_be_revoked_from_the_sessions_page() {
    let s = spawn().await;
    let laptop = session_cookie(&sign_in(&s, "alice", "alice-password", None).await);
    let phone = session_cookie(&sign_in(&s, "alice", "alice-password", None).await);
    let html = page(&s, "/settings/sessions", &laptop)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        html.matches("/revoke\"").count(),
        2,
        "both sessions are listed"
    );
    let token = form_token(&s, &laptop).await;
    let r = client()
        .post(s.url("/settings/sessions/revoke-others"))
        .header("cookie", &laptop)
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page(&s, "/settings/tokens", &phone).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        page(&s, "/settings/tokens", &laptop).await.status(),
        StatusCode::OK
    );
    // Another user's session id is nobody's to revoke.
    let bob = session_cookie(&sign_in(&s, "bob", "bob-password", None).await);
    let bob_user = s.app.store().user_by_login("bob").await.unwrap().unwrap();
    let bobs = s.app.store().sessions_of_user(bob_user.id).await.unwrap();
    let r = client()
        .post(s.url(&format!("/settings/sessions/{}/revoke", bobs[0].id.0)))
        .header("cookie", &laptop)
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        page(&s, "/settings/tokens", &bob).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn failed_sign_ins_share_the_password_throttle() {
    let s = spawn().await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(sign_in(&s, "carol", "wrong", None).await.status().as_u16());
    }
    assert!(statuses.contains(&401), "{statuses:?}");
    assert!(
        statuses.contains(&403),
        "the throttle stops the guessing: {statuses:?}"
    );
    // The API's password attempts are counted in the same budget.
    let api = s
        .get("/authorizations", crate::support::Auth::Password("carol"))
        .await;
    assert_eq!(api.status, 403, "{api:?}");
    let html = sign_in(&s, "carol", "carol-password", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Maximum number of login attempts exceeded"),
        "{html:.300}"
    );
}

#[tokio::test]
async fn forged_forms_are_refused_and_change_nothing() {
    let s = spawn().await;
    let cookie = session_cookie(&sign_in(&s, "carol", "carol-password", None).await);
    let token = form_token(&s, &cookie).await;
    let fields = [("note", "forged"), ("scopes", "repo"), ("expiration", "30")];
    let post = |headers: &[(&str, &str)], with_token: Option<&str>| {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if let Some(t) = with_token {
            form.push(("_csrf", t));
        }
        let mut req = client()
            .post(s.url("/settings/tokens"))
            .header("cookie", &cookie)
            .form(&form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    // A cross-site page, with or without the token (it cannot know it, but even if it did).
    for headers in [
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "https://evil.example")],
    ] {
        let r = post(&headers, Some(&token)).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{headers:?}");
    }
    // Same site without the form token, or with another session's.
    let bob = session_cookie(&sign_in(&s, "bob", "bob-password", None).await);
    let bobs_token = form_token(&s, &bob).await;
    for t in [
        None,
        Some("0123456789abcdef0123456789abcdef"),
        Some(bobs_token.as_str()),
    ] {
        let r = post(&[], t).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{t:?}");
    }
    assert!(
        classic_notes(&s, "carol").await.is_empty(),
        "nothing was created"
    );
    // The same form, done right, works.
    let r = post(&[("sec-fetch-site", "same-origin")], Some(&token))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(classic_notes(&s, "carol").await, vec!["forged".to_owned()]);
}

#[tokio::test]
async fn pages_need_a_session_and_only_local_return_paths_are_followed() {
    let s = spawn().await;
    for path in [
        "/settings/personal-access-tokens",
        "/settings/personal-access-tokens/new?contents=read",
        "/settings/tokens",
        "/settings/sessions",
    ] {
        let r = client().get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("/login?return_to=%2Fsettings"),
            "{path}: {location}"
        );
    }
    let r = client()
        .post(s.url("/login"))
        .form(&[
            ("login", "alice"),
            ("password", "alice-password"),
            ("return_to", "//evil.example/phish"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/settings/personal-access-tokens");
    // A cookie that is not ours is no session, and costs no lookup to refuse.
    let r = page(&s, "/settings/tokens", "patgate_session=forged").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn another_users_token_pages_are_not_found() {
    let s = spawn().await;
    let (id, _) = s.classic("alice", "hers", &["repo"]).await;
    let bob = session_cookie(&sign_in(&s, "bob", "bob-password", None).await);
    for path in [
        format!("/settings/tokens/{id}"),
        format!("/settings/tokens/{id}/delete"),
        format!("/settings/personal-access-tokens/{id}"),
        "/settings/personal-access-tokens/not-a-number".to_owned(),
    ] {
        assert_eq!(
            page(&s, &path, &bob).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let token = form_token(&s, &bob).await;
    let r = client()
        .post(s.url(&format!("/settings/tokens/{id}/delete")))
        .header("cookie", &bob)
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(classic_notes(&s, "alice").await, vec!["hers".to_owned()]);
}

#[tokio::test]
async fn pages_are_never_cached_or_framed_and_run_only_their_own_script() {
    let s = spawn().await;
    let cookie = session_cookie(&sign_in(&s, "alice", "alice-password", None).await);
    let r = page(&s, "/settings/tokens", &cookie).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
}

#[tokio::test]
async fn token_lists_page_twenty_at_a_time() {
    let s = spawn().await;
    for i in 0..25 {
        s.classic("alice", &format!("token {i:02}"), &[]).await;
    }
    let cookie = session_cookie(&sign_in(&s, "alice", "alice-password", None).await);
    let first = page(&s, "/settings/tokens", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(first.contains("25 tokens"), "{first:.200}");
    assert_eq!(first.matches("class=\"box-row-title\"").count(), 20);
    assert!(
        first.contains("token 24") && !first.contains("token 04"),
        "newest first"
    );
    assert!(first.contains("href=\"/settings/tokens?page=2\" rel=\"next\""));
    let second = page(&s, "/settings/tokens?page=2", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(second.matches("class=\"box-row-title\"").count(), 5);
    assert!(second.contains("token 00"));
}
