//! Debian's nginx in front of a tiny upstream, with patgate's forward auth deciding every request
//! (issue 13), run with the documented configuration itself (`demo/platform/nginx.conf`): an
//! allowed request reaches the upstream with patgate's identity headers (and none a client
//! forged); a refused one gets patgate's GitHub-shaped 401, 403 or 404 and never reaches it.
//! Skipped with a notice when nginx is not installed, unless `PATGATE_REQUIRE_NGINX=1`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::spawn_platform;

const CONFIG: &str = include_str!("../../../../demo/platform/nginx.conf");

fn nginx_binary() -> Option<String> {
    for candidate in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if std::path::Path::new(candidate).exists() {
            return Some(candidate.to_owned());
        }
    }
    None
}

/// The upstream: answers every request with its method, path and the `X-Patgate-*` headers it
/// received, as JSON, and counts the requests that reached it.
async fn upstream(hits: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let hits = hits.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                hits.fetch_add(1, Ordering::SeqCst);
                let head = String::from_utf8_lossy(&buf).into_owned();
                let mut lines = head.split("\r\n");
                let mut request = lines.next().unwrap_or_default().split(' ');
                let method = request.next().unwrap_or_default().to_owned();
                let path = request.next().unwrap_or_default().to_owned();
                let mut headers = serde_json::Map::new();
                for line in lines {
                    if let Some((name, value)) = line.split_once(':') {
                        let name = name.trim().to_ascii_lowercase();
                        if name.starts_with("x-patgate-") || name == "authorization" {
                            headers.insert(name, json!(value.trim()));
                        }
                    }
                }
                let body =
                    json!({"upstream": true, "method": method, "path": path, "headers": headers})
                        .to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    addr
}

/// A free port on 127.0.0.1 (bound, then released for nginx).
async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("address").port()
}

struct Nginx {
    base: String,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

async fn nginx(binary: &str, patgate: &str, upstream: &str) -> Nginx {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().to_str().expect("utf-8").to_owned();
    let port = free_port().await;
    let listen = format!("127.0.0.1:{port}");
    let config = CONFIG
        .replace("@LISTEN@", &listen)
        .replace("@PATGATE@", patgate.trim_start_matches("http://"))
        .replace("@UPSTREAM@", upstream)
        .replace("@PREFIX@", &prefix);
    let file = dir.path().join("nginx.conf");
    std::fs::write(&file, config).expect("write nginx.conf");
    let child = tokio::process::Command::new(binary)
        .args(["-p", &prefix, "-e", &format!("{prefix}/error.log"), "-c"])
        .arg(&file)
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nginx starts");
    // nginx listens once it has read its configuration: wait for that, not for a time.
    let mut attempts = 0;
    while tokio::net::TcpStream::connect(&listen).await.is_err() {
        attempts += 1;
        assert!(
            attempts < 500,
            "nginx did not listen: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Nginx {
        base: format!("http://{listen}"),
        _child: child,
        _dir: dir,
    }
}

async fn through(
    nginx: &Nginx,
    method: Method,
    path: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = crate::http().request(method, format!("{}{path}", nginx.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("sent through nginx");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_lets_allowed_requests_through_with_the_identity_and_answers_refusals_itself() {
    let Some(binary) = nginx_binary() else {
        assert!(
            std::env::var("PATGATE_REQUIRE_NGINX").as_deref() != Ok("1"),
            "nginx is not installed and PATGATE_REQUIRE_NGINX=1"
        );
        eprintln!("SKIPPED: nginx is not installed (apt-get install -y nginx)");
        return;
    };
    let s = spawn_platform().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let api = upstream(hits.clone()).await;
    let n = nginx(&binary, &s.base, &api).await;
    let (carol_id, carol) = s.classic("carol", "laptop", &["repo"]).await;
    let (_, bob) = s.classic("bob", "laptop", &["repo"]).await;

    // Allowed: reaches the upstream with who the caller is, never the token, and never the
    // identity a client made up.
    let (status, _, body) = through(
        &n,
        Method::GET,
        "/repos/acme/api/pulls?state=open",
        Some(&carol),
        &[("x-patgate-user", "alice")],
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["upstream"], true);
    assert_eq!(body["path"], "/repos/acme/api/pulls?state=open");
    assert_eq!(body["headers"]["x-patgate-user"], "carol");
    assert_eq!(body["headers"]["x-patgate-token-id"], carol_id.to_string());
    assert_eq!(body["headers"]["x-patgate-token-kind"], "classic");
    assert_eq!(
        body["headers"]["x-patgate-route"],
        "GET /repos/{owner}/{repo}/pulls"
    );
    assert!(body["headers"].get("authorization").is_none(), "{body:#}");
    let (status, _, body) = through(
        &n,
        Method::PUT,
        "/repos/acme/api/contents/README.md",
        Some(&carol),
        &[],
    )
    .await;
    assert_eq!(
        (status, body["method"].as_str()),
        (200, Some("PUT")),
        "{body:#}"
    );
    // An anonymous read of a public repository: through, with no identity (a forged one gone).
    let (status, _, body) = through(
        &n,
        Method::GET,
        "/repos/acme/website/issues",
        None,
        &[("x-patgate-user", "alice")],
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    assert!(body["headers"].get("x-patgate-user").is_none(), "{body:#}");
    let reached = hits.load(Ordering::SeqCst);
    assert_eq!(reached, 3);

    // Refused: patgate's answer, whole, and the upstream never sees the request.
    let (status, headers, body) =
        through(&n, Method::DELETE, "/repos/acme/api", Some(&carol), &[]).await;
    assert_eq!(status, 403, "{body:#}");
    assert_eq!(
        body["message"],
        "Resource not accessible by personal access token"
    );
    assert_eq!(body["required_scopes"], "repo");
    assert_eq!(
        headers
            .get("x-accepted-oauth-scopes")
            .and_then(|v| v.to_str().ok()),
        Some("repo")
    );
    let (status, _, body) = through(
        &n,
        Method::GET,
        "/repos/alice/notes/contents/x",
        Some(&carol),
        &[],
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("Not Found")),
        "{body:#}"
    );
    let (status, headers, body) =
        through(&n, Method::GET, "/repos/acme/api", Some("pgp_nope"), &[]).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Bad credentials")),
        "{body:#}"
    );
    assert!(headers.get("www-authenticate").is_some());
    let (status, _, _) = through(&n, Method::GET, "/repos/acme/api", None, &[]).await;
    assert_eq!(
        status, 404,
        "a private repository does not exist for anonymous callers"
    );
    let (status, _, _) = through(&n, Method::GET, "/unknown/route", Some(&carol), &[]).await;
    assert_eq!(status, 404);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        reached,
        "no refused request reached the upstream"
    );

    // A member removed through the directory API: refused through nginx on the next request.
    let (status, _, _) = through(&n, Method::GET, "/repos/acme/api/issues", Some(&bob), &[]).await;
    assert_eq!(status, 200);
    s.service(Method::DELETE, "/orgs/acme/members/bob", &json!({}))
        .await
        .expect_status(204);
    let (status, _, body) =
        through(&n, Method::GET, "/repos/acme/api/issues", Some(&bob), &[]).await;
    assert_eq!(status, 404, "{body:#}");
}
