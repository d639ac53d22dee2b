//! A real patgate server on `127.0.0.1:0` over a SQLite store in a temporary directory, loaded
//! with `SEED`, and the helpers the tests share.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use patgate_app::auth::PasswordParams;
use patgate_app::seed::SeedFile;
use patgate_app::{App, AppConfig, ManualClock};
use patgate_domain::token::TokenFormat;
use patgate_server::Settings;
use patgate_server::net::serve::ConnectionLimits;
use patgate_server::state::AppState;

/// The test directory. Every user's password is `<login>-password`.
///
/// * acme (no enterprise; approval of fine-grained tokens required, the default): owner alice,
///   member bob; acme/api is private with carol as an outside collaborator (write); acme/website is
///   public.
/// * alice/notes is private.
/// * The enterprise corp restricts classic tokens and owns globex (owner alice, member carol);
///   globex/portal is internal.
/// * dave has not verified his email.
pub const SEED: &str = r#"
[[users]]
login = "alice"
email = "alice@example.com"
password = "alice-password"

[[users]]
login = "bob"
email = "bob@example.com"
password = "bob-password"

[[users]]
login = "carol"
email = "carol@example.com"
password = "carol-password"

[[users]]
login = "dave"
email = "dave@example.com"
email_verified = false
password = "dave-password"

[[enterprises]]
slug = "corp"
policy = { classic = "restrict" }

[[orgs]]
login = "acme"
owners = ["alice"]
members = ["bob"]

[[orgs]]
login = "globex"
enterprise = "corp"
owners = ["alice"]
members = ["carol"]

[[repos]]
owner = "acme"
name = "api"
visibility = "private"
description = "The private API"
collaborators = [{ login = "carol", role = "write" }]

[[repos]]
owner = "acme"
name = "website"
visibility = "public"

[[repos]]
owner = "alice"
name = "notes"
visibility = "private"

[[repos]]
owner = "globex"
name = "portal"
visibility = "internal"
"#;

pub const DOCS: &str = "https://docs.github.com/rest";

/// OpenSSH public keys of the right shape (patgate checks the shape, not the curve point).
pub const KEY_1: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb4lM5Vx0ywyd5Xu0l1wRkJ1Wc3x7p1Q5l2V1g9e2Gk one@test";
pub const KEY_2: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc5mN6Wy1zxze6Yv1m2xSlK2Xd4y8q2R6m3W2h0f3Hl two@test";
pub const KEY_3: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJd6oO7Xz2AyAf7Zw2n3yTmL3Ye5z9r3S7n4X3i1g4Im three@test";

pub fn password(login: &str) -> String {
    format!("{login}-password")
}

/// A running server. Dropping it stops the server and deletes the database.
pub struct Server {
    pub base: String,
    /// `/metrics` on the server's metrics listener.
    pub metrics: String,
    pub client: reqwest::Client,
    pub app: App,
    handle: JoinHandle<()>,
    metrics_handle: JoinHandle<()>,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.handle.abort();
        self.metrics_handle.abort();
    }
}

fn settings(dir: &TempDir) -> Settings {
    let mut s = Settings::defaults_in(dir.path());
    s.database_url = None;
    s.cache_ttl_secs = 5;
    s.insecure_fast_passwords = true;
    s
}

/// A server with the system clock, built as `patgate serve` builds it.
pub async fn spawn() -> Server {
    spawn_configured(|_, _| {}).await
}

/// A server with the system clock whose state and connection limits `configure` adjusts first
/// (trusted proxies, timeouts, caps).
pub async fn spawn_configured(
    configure: impl FnOnce(&mut AppState, &mut ConnectionLimits),
) -> Server {
    let dir = tempfile::tempdir().expect("temporary directory");
    let settings = settings(&dir);
    let store = patgate_server::open_store(&settings)
        .await
        .expect("open the store");
    let app = patgate_server::build_app(store, &settings).expect("build the app");
    start_configured(app, dir, settings.git_config(), configure).await
}

/// A server whose time is `clock`, which the test moves.
pub async fn spawn_with_clock(clock: Arc<ManualClock>) -> Server {
    spawn_with_clock_configured(clock, |_, _| {}).await
}

/// A server whose time is `clock`, with its state and connection limits adjusted by `configure`.
pub async fn spawn_with_clock_configured(
    clock: Arc<ManualClock>,
    configure: impl FnOnce(&mut AppState, &mut ConnectionLimits),
) -> Server {
    let dir = tempfile::tempdir().expect("temporary directory");
    let settings = settings(&dir);
    let store = patgate_server::open_store(&settings)
        .await
        .expect("open the store");
    let app = App::new(
        store,
        clock,
        AppConfig {
            token_format: TokenFormat::default(),
            cache_ttl: Duration::from_secs(5),
            password_hashing: PasswordParams::insecure_fast(),
            ..AppConfig::default()
        },
    );
    start_configured(app, dir, settings.git_config(), configure).await
}

/// Loads `SEED` and serves the app on `127.0.0.1:0` through the server's own connection loop.
async fn start_configured(
    app: App,
    dir: TempDir,
    git: patgate_server::git::GitConfig,
    configure: impl FnOnce(&mut AppState, &mut ConnectionLimits),
) -> Server {
    let seed = SeedFile::parse(SEED).expect("the test directory parses");
    app.load_seed(&seed)
        .await
        .expect("the test directory loads");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let mut state = AppState::new(app.clone(), base.clone(), Some(git));
    let mut limits = ConnectionLimits::default();
    configure(&mut state, &mut limits);
    let metrics_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let metrics = format!(
        "http://{}/metrics",
        metrics_listener.local_addr().expect("local address")
    );
    let metrics_router = patgate_server::metrics::router(state.clone());
    let metrics_handle = tokio::spawn(async move {
        let _ = axum::serve(metrics_listener, metrics_router).await;
    });
    let handle = tokio::spawn(async move {
        let router = patgate_server::router(state);
        let _ = patgate_server::net::serve::serve(
            listener,
            router,
            limits,
            std::future::pending::<()>(),
        )
        .await;
    });
    Server {
        base,
        metrics,
        client: crate::http(),
        app,
        handle,
        metrics_handle,
        _dir: dir,
    }
}

/// A response, read whole: status, headers, and the body as JSON (`Null` when empty, a string
/// when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `body[field]` as a string (panics naming the reply when it is not one).
    #[track_caller]
    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string {field:?} in {self:?}"))
            .to_owned()
    }

    #[track_caller]
    pub fn id(&self) -> i64 {
        self.body["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no id in {self:?}"))
    }

    #[track_caller]
    pub fn expect_status(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected status: {self:#?}");
        self
    }
}

/// How a request authenticates.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    None,
    /// `Authorization: Bearer <token>`.
    Token(&'a str),
    /// HTTP Basic with `<login>-password`.
    Password(&'a str),
    /// HTTP Basic with an explicit password.
    Basic(&'a str, &'a str),
    /// A raw `Authorization` header value.
    Raw(&'a str),
}

/// The body of a request.
#[derive(Clone, Copy, Debug)]
pub enum Body<'a> {
    None,
    Json(&'a Value),
    /// Sent as is with `Content-Type: application/json`.
    Text(&'a str),
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn call(&self, method: Method, path: &str, auth: Auth<'_>, body: Body<'_>) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        req = match auth {
            Auth::None => req,
            Auth::Token(t) => req.bearer_auth(t),
            Auth::Password(login) => req.basic_auth(login, Some(password(login))),
            Auth::Basic(user, pass) => req.basic_auth(user, Some(pass)),
            Auth::Raw(value) => req.header("authorization", value),
        };
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Text(t) => req
                .header("content-type", "application/json")
                .body(t.to_owned()),
        };
        let resp = req.send().await.expect("the request is sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("the body is read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, auth: Auth<'_>) -> Reply {
        self.call(Method::GET, path, auth, Body::None).await
    }

    pub async fn post(&self, path: &str, auth: Auth<'_>, body: &Value) -> Reply {
        self.call(Method::POST, path, auth, Body::Json(body)).await
    }

    pub async fn patch(&self, path: &str, auth: Auth<'_>, body: &Value) -> Reply {
        self.call(Method::PATCH, path, auth, Body::Json(body)).await
    }

    pub async fn delete(&self, path: &str, auth: Auth<'_>) -> Reply {
        self.call(Method::DELETE, path, auth, Body::None).await
    }

    /// `POST /user/personal-access-tokens` as `login`; the 201 reply.
    pub async fn create_fine_grained(&self, login: &str, body: Value) -> Reply {
        self.post("/user/personal-access-tokens", Auth::Password(login), &body)
            .await
            .expect_status(201)
    }

    /// `POST /authorizations` as `login`; the 201 reply.
    pub async fn create_classic(&self, login: &str, body: Value) -> Reply {
        self.post("/authorizations", Auth::Password(login), &body)
            .await
            .expect_status(201)
    }

    /// A classic token of `login` with `scopes` (expiring in 30 days): its id and secret.
    pub async fn classic(&self, login: &str, note: &str, scopes: &[&str]) -> (i64, String) {
        let r = self
            .create_classic(login, json!({"note": note, "scopes": scopes}))
            .await;
        (r.id(), r.str("token"))
    }

    /// A fine-grained token of `login` from a creation body: its id and secret.
    pub async fn fine_grained(&self, login: &str, body: Value) -> (i64, String) {
        let r = self.create_fine_grained(login, body).await;
        (r.id(), r.str("token"))
    }
}

/// GitHub's 401, exactly: the body and `WWW-Authenticate`.
#[track_caller]
pub fn assert_bad_credentials(r: &Reply) {
    assert_eq!(r.status, 401, "{r:#?}");
    assert_eq!(
        r.body,
        json!({"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}),
        "{r:#?}"
    );
    assert!(
        r.header("www-authenticate").is_some(),
        "no WWW-Authenticate: {r:#?}"
    );
}

/// GitHub's error JSON with this status and message.
#[track_caller]
pub fn assert_error(r: &Reply, status: u16, message: &str) {
    assert_eq!(r.status, status, "{r:#?}");
    assert_eq!(r.body["message"], message, "{r:#?}");
    assert_eq!(r.body["documentation_url"], DOCS, "{r:#?}");
    assert_eq!(r.body["status"], status.to_string(), "{r:#?}");
}

/// A 422 "Validation Failed" whose `errors[]` has an entry for `field` with `code`.
#[track_caller]
pub fn assert_field_error(r: &Reply, field: &str, code: &str) {
    assert_error(r, 422, "Validation Failed");
    let errors = r.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors[] in {r:#?}"));
    assert!(
        errors
            .iter()
            .any(|e| e["field"] == field && e["code"] == code),
        "no error with field {field:?} and code {code:?} in {r:#?}"
    );
}

/// The platform's service credential in the tests (both scopes), and one holding only
/// `authorize`.
pub const SERVICE: &str = "pgsvc_test0platform0service0credential0secret0";
pub const AUTHORIZE_ONLY: &str = "pgsvc_test0authorize0only0credential0secret00";

/// A server that knows the platform's service credentials (`SERVICE`, `AUTHORIZE_ONLY`).
pub async fn spawn_platform() -> Server {
    use patgate_server::service::{ServiceCredential, ServiceCredentials, ServiceScope};
    spawn_configured(|state, _| {
        state.services = Arc::new(ServiceCredentials::new(vec![
            ServiceCredential::new(
                "platform",
                SERVICE,
                &[ServiceScope::Directory, ServiceScope::Authorize],
            ),
            ServiceCredential::new("gateway", AUTHORIZE_ONLY, &[ServiceScope::Authorize]),
        ]));
    })
    .await
}

impl Server {
    /// A request with a service credential.
    pub async fn service(&self, method: Method, path: &str, body: &Value) -> Reply {
        self.call(method, path, Auth::Token(SERVICE), Body::Json(body))
            .await
    }
}
