//! An open-loop load generator for `scripts/bench-http.sh` and `scripts/soak.sh`: it sends
//! requests at a fixed rate (not "as fast as the server answers", which hides queueing), over
//! keep-alive connections, rotating the `Authorization` header through a list of tokens, and
//! reports throughput, latency percentiles measured from when each request was due (so a
//! stalled server shows as latency, not as fewer requests), and every non-2xx answer.
//!
//!     cargo run --release --example load -- --url http://127.0.0.1:8080/user \
//!         --rate 5000 --seconds 10 --connections 32 --tokens tokens.txt
//!
//! `--rate 0` sends as fast as each connection can (a closed loop: the maximum).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

struct Args {
    url: String,
    rate: u64,
    seconds: u64,
    connections: usize,
    tokens: Vec<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        url: String::new(),
        rate: 0,
        seconds: 10,
        connections: 32,
        tokens: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value()?,
            "--rate" => a.rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--seconds" => a.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--connections" => {
                a.connections = value()?
                    .parse()
                    .map_err(|e| format!("--connections: {e}"))?;
            }
            "--token" => a.tokens.push(value()?),
            "--tokens" => {
                let file = value()?;
                let text =
                    std::fs::read_to_string(&file).map_err(|e| format!("reading {file}: {e}"))?;
                a.tokens.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.url.is_empty() {
        return Err("--url is required".into());
    }
    Ok(a)
}

/// `http://host:port/path` -> (`host:port`, `/path`).
fn split(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are supported")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    Ok((authority.to_owned(), format!("/{path}")))
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    non_2xx: u64,
    errors: u64,
}

/// What every connection shares: where to send, with which tokens, until when.
struct Plan {
    addr: String,
    path: String,
    tokens: Vec<String>,
    interval: Option<Duration>,
    end: Instant,
    counter: AtomicU64,
}

/// How far ahead of a request's due time the timer is left for yielding: tokio's timer ticks
/// once a millisecond, so a sleep to the due time wakes up to a millisecond late, and that
/// lateness, counted from the due time, would read as the server's latency.
const TIMER_SLACK: Duration = Duration::from_millis(2);

/// Returns at `due` (or at once when it has passed), to within a task switch.
async fn wait_until(due: Instant) {
    if let Some(ahead) = due.checked_duration_since(Instant::now())
        && ahead > TIMER_SLACK
    {
        tokio::time::sleep_until((due - TIMER_SLACK).into()).await;
    }
    while Instant::now() < due {
        tokio::task::yield_now().await;
    }
}

async fn connection(plan: Arc<Plan>, offset: usize, start: Instant) -> Tally {
    let Plan {
        addr,
        path,
        tokens,
        interval,
        end,
        counter,
    } = &*plan;
    let (interval, end) = (*interval, *end);
    let mut tally = Tally::default();
    let mut sender = None;
    let mut n: u64 = 0;
    loop {
        // When this request is due: its latency counts from then.
        let due = match interval {
            Some(i) => {
                let due = start + i.mul_f64(n as f64);
                if due >= end {
                    break;
                }
                wait_until(due).await;
                due
            }
            None => {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                now
            }
        };
        n += 1;
        if sender.is_none() {
            match TcpStream::connect(addr.as_str()).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    match http1::handshake(TokioIo::new(stream)).await {
                        Ok((s, conn)) => {
                            tokio::spawn(conn);
                            sender = Some(s);
                        }
                        Err(_) => {
                            tally.errors += 1;
                            continue;
                        }
                    }
                }
                Err(_) => {
                    tally.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = sender.as_mut() else {
            continue;
        };
        let i = counter.fetch_add(1, Ordering::Relaxed) as usize;
        let mut req = hyper::Request::get(path.as_str())
            .header("host", addr.as_str())
            .header("accept", "application/vnd.github+json");
        if !tokens.is_empty() {
            let t = &tokens[(i + offset) % tokens.len()];
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let Ok(req) = req.body(Empty::<Bytes>::new()) else {
            tally.errors += 1;
            continue;
        };
        match s.send_request(req).await {
            Ok(resp) => {
                let ok = resp.status().is_success();
                if resp.into_body().collect().await.is_err() {
                    tally.errors += 1;
                    sender = None;
                    continue;
                }
                if !ok {
                    tally.non_2xx += 1;
                }
                tally
                    .latencies_us
                    .push(u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
            Err(_) => {
                tally.errors += 1;
                sender = None;
            }
        }
    }
    tally
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let (addr, path) = match split(&args.url) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now() + Duration::from_millis(50);
    let interval = (args.rate > 0)
        .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate as f64));
    let plan = Arc::new(Plan {
        addr,
        path,
        tokens: args.tokens,
        interval,
        end: start + Duration::from_secs(args.seconds),
        counter: AtomicU64::new(0),
    });
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        // Each connection starts at its own offset in the schedule, so the rate is even.
        let start = match interval {
            Some(i) => start + i.mul_f64(c as f64 / args.connections as f64),
            None => start,
        };
        tasks.push(tokio::spawn(connection(plan.clone(), c * 7919, start)));
    }
    let mut all = Tally::default();
    for t in tasks {
        if let Ok(tally) = t.await {
            all.latencies_us.extend(tally.latencies_us);
            all.non_2xx += tally.non_2xx;
            all.errors += tally.errors;
        }
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    all.latencies_us.sort_unstable();
    let done = all.latencies_us.len();
    println!(
        "RESULT requests={done} rps={:.0} p50_us={} p90_us={} p99_us={} p999_us={} max_us={} non_2xx={} errors={}",
        done as f64 / elapsed,
        percentile(&all.latencies_us, 50.0),
        percentile(&all.latencies_us, 90.0),
        percentile(&all.latencies_us, 99.0),
        percentile(&all.latencies_us, 99.9),
        all.latencies_us.last().copied().unwrap_or(0),
        all.non_2xx,
        all.errors,
    );
    if all.errors > 0 || all.non_2xx > 0 {
        std::process::exit(1);
    }
}
