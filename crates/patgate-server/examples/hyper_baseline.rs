//! The floor for `scripts/bench-http.sh`: a bare hyper HTTP/1.1 server on the same runtime
//! settings as `patgate serve` (multi-threaded tokio, `TCP_NODELAY`, keep-alive), answering every
//! request with a fixed JSON body of the size of `GET /user`'s, or of as many bytes as the second
//! argument asks (`GET /repos/{owner}/{repo}`'s is about 4 KiB: a floor for it must send as
//! much). What patgate adds on top of it is what the benchmark measures.
//!
//!     cargo run --release --example hyper_baseline -- 127.0.0.1:9000
//!     cargo run --release --example hyper_baseline -- 127.0.0.1:9000 4096

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

fn body(at_least: usize) -> Bytes {
    // About the size of `GET /user`'s answer (a simple-user and four more fields).
    let user = serde_json::json!({
        "login": "alice", "id": 1, "node_id": "MDQ6VXNlcjE=",
        "avatar_url": "http://127.0.0.1:8080/avatars/alice", "gravatar_id": "",
        "url": "http://127.0.0.1:8080/users/alice", "html_url": "http://127.0.0.1:8080/alice",
        "followers_url": "http://127.0.0.1:8080/users/alice/followers",
        "following_url": "http://127.0.0.1:8080/users/alice/following{/other_user}",
        "gists_url": "http://127.0.0.1:8080/users/alice/gists{/gist_id}",
        "starred_url": "http://127.0.0.1:8080/users/alice/starred{/owner}{/repo}",
        "subscriptions_url": "http://127.0.0.1:8080/users/alice/subscriptions",
        "organizations_url": "http://127.0.0.1:8080/users/alice/orgs",
        "repos_url": "http://127.0.0.1:8080/users/alice/repos",
        "events_url": "http://127.0.0.1:8080/users/alice/events{/privacy}",
        "received_events_url": "http://127.0.0.1:8080/users/alice/received_events",
        "type": "User", "site_admin": false, "name": null, "email": "alice@example.com",
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
    });
    let mut json = user.to_string();
    if json.len() < at_least {
        // Padding inside the object keeps the body valid JSON of the size asked for (or a few
        // bytes more, when the size asked for leaves no room for the padding field itself).
        json.pop();
        let pad = at_least.saturating_sub(json.len() + r#","pad":""}"#.len());
        json.push_str(r#","pad":""#);
        json.extend(std::iter::repeat_n('x', pad));
        json.push_str(r#""}"#);
    }
    Bytes::from(json)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:9000".to_owned())
        .parse()
        .map_err(|e| std::io::Error::other(format!("the address: {e}")))?;
    let at_least: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()
        .map_err(|e| std::io::Error::other(format!("the body's size: {e}")))?
        .unwrap_or(0);
    let listener = TcpListener::bind(addr).await?;
    let body = body(at_least);
    println!(
        "hyper baseline listening on http://{} ({} bytes a response body)",
        listener.local_addr()?,
        body.len()
    );
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move {
                    let mut r = Response::new(Full::new(body));
                    r.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
                    );
                    Ok::<_, Infallible>(r)
                }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
