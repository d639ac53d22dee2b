//! The HTTP/1.1 server loop, with the limits an exposed server needs (docs/operations.md):
//!
//! * a **header timeout**: a connection must deliver a complete request head within it. Hyper
//!   starts that clock whenever it waits for a head, so it also closes idle keep-alive
//!   connections and those that drip-feed or never finish their headers;
//! * a **stall timeout**: a connection with a request in progress that moves no byte either way
//!   for that long is closed (a long `git clone` keeps moving bytes, git's keep-alives included);
//! * a **connection cap**: at the cap, the connection idle the longest is closed to make room for
//!   the newcomer; when every connection is busy, the newcomer gets a 503 and is closed. Either
//!   way the process never runs out of file descriptors, and a load balancer's health check gets
//!   through a flood of idle connections;
//! * limits on the size and number of request headers (431 beyond).
//!
//! API request timeouts and body sizes are enforced by the router (`api`), since git requests
//! are exempt from the former.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// The connection limits of [`serve`].
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    pub stall_timeout: Duration,
    pub max_connections: usize,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// How long a shutdown waits for requests in progress.
    pub drain_timeout: Duration,
}

/// The header count hyper refuses past when it is not told otherwise.
const HYPER_MAX_HEADERS: usize = 100;

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(20),
            stall_timeout: Duration::from_secs(120),
            max_connections: default_max_connections(),
            max_header_bytes: 16 * 1024,
            max_headers: HYPER_MAX_HEADERS,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Three quarters of the soft open-file limit (the rest is for the database, git's pipes and
/// the listener), at most 10 000; 1 024 when the limit cannot be read.
pub fn default_max_connections() -> usize {
    open_file_limit().map_or(1024, |limit| (limit / 4 * 3).clamp(16, 10_000))
}

fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// What the loop knows of each connection.
struct Connection {
    id: u64,
    /// Requests whose response has not been sent whole yet.
    in_flight: AtomicUsize,
    /// Milliseconds since the server's epoch when a byte last moved either way.
    last_activity: Arc<AtomicU64>,
    close: Notify,
}

struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    connections: Mutex<Vec<Arc<Connection>>>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn len(&self) -> usize {
        self.connections.lock().map_or(0, |c| c.len())
    }

    /// Asks the connection idle the longest to close; false when every connection is busy.
    fn evict_idle(&self) -> bool {
        let Ok(connections) = self.connections.lock() else {
            return false;
        };
        let victim = connections
            .iter()
            .filter(|c| c.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|c| c.last_activity.load(Ordering::Relaxed));
        match victim {
            Some(c) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn add(&self) -> Arc<Connection> {
        let conn = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            in_flight: AtomicUsize::new(0),
            last_activity: Arc::new(AtomicU64::new(self.now_ms())),
            close: Notify::new(),
        });
        if let Ok(mut connections) = self.connections.lock() {
            connections.push(conn.clone());
        }
        conn
    }

    fn remove(&self, id: u64) {
        if let Ok(mut connections) = self.connections.lock() {
            connections.retain(|c| c.id != id);
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in
/// progress finish (up to `drain_timeout`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        next_id: AtomicU64::new(0),
        connections: Mutex::new(Vec::new()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
            // Reap finished connection tasks as we go.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors or a connection reset before it was accepted: back off
                // a little rather than spin, and carry on.
                tracing::warn!(error = %e, "accepting a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "setting TCP_NODELAY");
        }
        if registry.len() >= limits.max_connections && !registry.evict_idle() {
            tasks.spawn(refuse_busy(stream));
            continue;
        }
        let conn = registry.add();
        tasks.spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            limits.clone(),
            registry.clone(),
            conn,
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = tasks.len(),
            "shutting down with requests still in progress"
        );
        tasks.abort_all();
    }
    Ok(())
}

/// The answer to a connection over the cap when no idle one can make room: read (briefly) the
/// request head, since an HTTP client takes no answer to a request it has not sent yet, then
/// answer 503 and close.
async fn refuse_busy(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut head = Vec::new();
        let mut buf = [0u8; 2048];
        while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let body = r#"{"message":"The server is at its connection limit. Please try again shortly.","documentation_url":"https://docs.github.com/rest","status":"503"}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    registry: Arc<Registry>,
    conn: Arc<Connection>,
    mut stop: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Activity {
        inner: stream,
        last: conn.last_activity.clone(),
        epoch: registry.epoch,
    });
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            let guard = InFlight::new(conn.clone());
            let router = router.clone();
            async move {
                let response = router.oneshot(req).await?;
                // The request counts as in progress until its body has been sent whole.
                Ok::<_, std::convert::Infallible>(response.map(|body| {
                    Body::new(Tracked {
                        inner: body,
                        _guard: guard,
                    })
                }))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes);
    // hyper's own cap is 100 headers, kept on the stack; a cap set explicitly is a vector it
    // fills on every request (1 % of a warm `GET /user`), so it is set only when it differs.
    if limits.max_headers != HYPER_MAX_HEADERS {
        builder.max_headers(limits.max_headers);
    }
    let connection = builder.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut check = tokio::time::interval(Duration::from_secs(1).min(limits.stall_timeout));
    let stall_ms = u64::try_from(limits.stall_timeout.as_millis()).unwrap_or(u64::MAX);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                break;
            }
            () = conn.close.notified(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            Ok(()) = stop.changed(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = check.tick() => {
                let idle = registry.now_ms().saturating_sub(conn.last_activity.load(Ordering::Relaxed));
                if conn.in_flight.load(Ordering::Acquire) > 0 && idle >= stall_ms {
                    tracing::debug!(%peer, "closing a stalled connection");
                    break;
                }
            }
        }
    }
    registry.remove(conn.id);
}

/// Counts a request in progress for as long as it lives.
struct InFlight(Arc<Connection>);

impl InFlight {
    fn new(conn: Arc<Connection>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(conn)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in progress until it is dropped.
struct Tracked {
    inner: Body,
    _guard: InFlight,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A socket that notes when a byte last moved either way.
struct Activity {
    inner: TcpStream,
    last: Arc<AtomicU64>,
    epoch: Instant,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Activity {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        poll
    }
}

impl AsyncWrite for Activity {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
