//! A real SMTP server on loopback for the tests: it speaks enough of RFC 5321 for lettre (EHLO,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps every message it accepted, and can hold a message
//! after its DATA without answering (what a server that died mid-delivery looks like to patgate).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A message the sink accepted (answered 250 after its DATA).
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub raw: String,
}

impl Mail {
    /// A header's value, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or("");
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut()
                && (line.starts_with(' ') || line.starts_with('\t'))
            {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The decoded body of the MIME part of `content_type` (`text/plain`, `text/html`).
    pub fn part(&self, content_type: &str) -> String {
        let marker = format!("Content-Type: {content_type}");
        let Some(start) = self.raw.find(&marker) else {
            return String::new();
        };
        let rest = &self.raw[start..];
        let qp = rest
            .split("\r\n\r\n")
            .next()
            .is_some_and(|h| h.contains("quoted-printable"));
        let body = rest.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let body = body.split("\r\n--").next().unwrap_or("");
        if qp { decode_qp(body) } else { body.to_owned() }
    }

    pub fn text(&self) -> String {
        self.part("text/plain")
    }

    pub fn html(&self) -> String {
        self.part("text/html")
    }
}

/// Quoted-printable (RFC 2045) to text.
pub fn decode_qp(s: &str) -> String {
    let mut bytes = Vec::with_capacity(s.len());
    let raw = s.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'=' if raw.get(i + 1) == Some(&b'\r') && raw.get(i + 2) == Some(&b'\n') => i += 3,
            b'=' if raw.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' if i + 2 < raw.len() => {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        bytes.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        bytes.push(b'=');
                        i += 1;
                    }
                }
            }
            b => {
                bytes.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[derive(Default)]
struct State {
    accepted: Vec<Mail>,
    /// Messages whose DATA arrived (accepted or held).
    received: usize,
    /// Hold the next this many messages after their DATA, answering nothing.
    hold: usize,
}

pub struct Sink {
    pub port: u16,
    state: Arc<Mutex<State>>,
    accept: JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Sink {
    pub async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the sink");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let accept = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(session(stream, state.clone()));
                }
            }
        });
        Sink {
            port,
            state,
            accept,
        }
    }

    /// The next `n` messages get no answer after their DATA, ever.
    pub fn hold_next(&self, n: usize) {
        self.state.lock().expect("sink").hold = n;
    }

    pub fn accepted(&self) -> Vec<Mail> {
        self.state.lock().expect("sink").accepted.clone()
    }

    /// Waits until `test` holds for the sink's state (30 s at most).
    pub async fn wait(&self, what: &str, test: impl Fn(&[Mail], usize) -> bool) {
        let start = Instant::now();
        loop {
            {
                let s = self.state.lock().expect("sink");
                if test(&s.accepted, s.received) {
                    return;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the SMTP sink waited 30 s for {what}; it has {} messages",
                self.accepted().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The accepted messages to `address`.
    pub fn to(&self, address: &str) -> Vec<Mail> {
        self.accepted()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .collect()
    }
}

async fn session(stream: TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write.write_all(b"220 sink ESMTP ready\r\n").await.is_err() {
        return;
    }
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") {
            b"250 sink\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command["MAIL FROM:".len()..]);
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&command["RCPT TO:".len()..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let mut raw = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                // Undo dot-stuffing.
                raw.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            let hold = {
                let mut s = state.lock().expect("sink");
                s.received += 1;
                if s.hold > 0 {
                    s.hold -= 1;
                    true
                } else {
                    s.accepted.push(Mail {
                        from: from.clone(),
                        to: to.clone(),
                        raw,
                    });
                    false
                }
            };
            if hold {
                // Never answered: the sender cannot know whether the message arrived.
                std::future::pending::<()>().await;
            }
            b"250 OK queued\r\n"
        } else if upper.starts_with("RSET") {
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

fn address(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg
        .strip_prefix('<')
        .and_then(|a| a.split('>').next())
        .unwrap_or(arg);
    inner.to_owned()
}
