//! A small CGI adapter for `git http-backend`: a clean environment, the request body streamed into
//! stdin while stdout is streamed back (no pipe deadlock on large pushes), the CGI header block
//! parsed into the response.

use std::path::Path;
use std::process::Stdio;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use futures_util::StreamExt;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio_util::io::{ReaderStream, StreamReader};

/// What the CGI program gets to know about the request; nothing else of the server's environment.
pub struct CgiRequest<'a> {
    pub git: &'a str,
    pub project_root: &'a Path,
    pub path_info: String,
    pub method: &'a str,
    pub query: String,
    pub content_type: Option<&'a str>,
    pub content_length: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub git_protocol: Option<&'a str>,
    pub remote_user: &'a str,
    pub remote_addr: String,
    /// Extra variables for our hooks (`PATGATE_*`).
    pub extra_env: Vec<(&'static str, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CgiError {
    #[error("starting git http-backend: {0}")]
    Spawn(std::io::Error),
    #[error("reading git http-backend's headers: {0}")]
    Headers(String),
}

/// Parses one CGI header line into a status or a header.
pub fn parse_header_line(line: &str) -> Result<Option<(String, String)>, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.is_empty() {
        return Ok(None);
    }
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| format!("malformed CGI header line {line:?}"))?;
    Ok(Some((name.trim().to_owned(), value.trim().to_owned())))
}

pub async fn run(req: CgiRequest<'_>, body: Body) -> Result<Response<Body>, CgiError> {
    let mut cmd = Command::new(req.git);
    cmd.arg("http-backend")
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        )
        .env("HOME", req.project_root)
        .env("GIT_PROJECT_ROOT", req.project_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("PATH_INFO", &req.path_info)
        .env("REQUEST_METHOD", req.method)
        .env("QUERY_STRING", &req.query)
        .env("REMOTE_USER", req.remote_user)
        .env("REMOTE_ADDR", &req.remote_addr)
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(ct) = req.content_type {
        cmd.env("CONTENT_TYPE", ct);
    }
    if let Some(cl) = req.content_length {
        cmd.env("CONTENT_LENGTH", cl);
    }
    if let Some(ce) = req.content_encoding {
        cmd.env("HTTP_CONTENT_ENCODING", ce);
    }
    if let Some(p) = req.git_protocol {
        cmd.env("GIT_PROTOCOL", p);
    }
    for (k, v) in &req.extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(CgiError::Spawn)?;
    let (Some(mut stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(CgiError::Headers("missing pipes".into()));
    };

    // Feed the request body while the response is read.
    tokio::spawn(async move {
        let stream = body
            .into_data_stream()
            .map(|chunk| chunk.map_err(std::io::Error::other));
        let mut reader = StreamReader::new(stream);
        if let Err(e) = tokio::io::copy(&mut reader, &mut stdin).await {
            tracing::debug!(error = %e, "streaming a request body to git http-backend");
        }
        let _ = stdin.shutdown().await;
    });
    tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        if !text.trim().is_empty() {
            tracing::debug!(stderr = %text.trim(), "git http-backend");
        }
        // Keep the child owned until it exits (kill_on_drop ends it if we go away first).
        let _ = child.wait().await;
    });

    let mut reader = BufReader::new(stdout);
    let (status, headers) = read_head(&mut reader).await?;
    let mut response = Response::new(Body::from_stream(ReaderStream::new(reader)));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// Reads the CGI header block, up to and including the blank line that ends it, leaving `reader`
/// at the body: the status of its `Status:` line (200 without one, 500 when it holds no code),
/// and its other headers (a line that is not a valid HTTP header is dropped).
pub async fn read_head<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<(StatusCode, HeaderMap), CgiError> {
    let mut status = StatusCode::OK;
    let mut headers = HeaderMap::new();
    loop {
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .await
            .map_err(|e| CgiError::Headers(e.to_string()))?;
        if n == 0 {
            return Err(CgiError::Headers(
                "git http-backend ended before its headers".into(),
            ));
        }
        match parse_header_line(&line).map_err(CgiError::Headers)? {
            None => return Ok((status, headers)),
            Some((name, value)) if name.eq_ignore_ascii_case("status") => {
                let code = value.split_whitespace().next().unwrap_or("500");
                status = code
                    .parse::<u16>()
                    .ok()
                    .and_then(|c| StatusCode::from_u16(c).ok())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            }
            Some((name, value)) => {
                if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                    headers.append(n, v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_parse_and_the_blank_line_ends_them() {
        assert_eq!(
            parse_header_line("Status: 404 Not Found\r\n").unwrap(),
            Some(("Status".into(), "404 Not Found".into()))
        );
        assert_eq!(
            parse_header_line("Content-Type: application/x-git-upload-pack-advertisement\n")
                .unwrap(),
            Some((
                "Content-Type".into(),
                "application/x-git-upload-pack-advertisement".into()
            ))
        );
        assert_eq!(parse_header_line("\r\n").unwrap(), None);
        assert!(parse_header_line("garbage").is_err());
    }

    #[tokio::test]
    async fn the_head_ends_at_the_blank_line_and_leaves_the_body() {
        // (CGI output, status, header count, body left)
        let cases: [(&[u8], u16, usize, &[u8]); 4] = [
            (
                b"Status: 404 Not Found\r\nX-A: 1\r\nX-A: 2\r\n\r\nbody",
                404,
                2,
                b"body",
            ),
            (b"Content-Type: text/plain\n\n", 200, 1, b""),
            (
                b"Status: nope\nBad Name: x\n\nStatus: 201\n",
                500,
                0,
                b"Status: 201\n",
            ),
            (b"Status:\r\n\r\n", 500, 0, b""),
        ];
        for (input, status, count, rest) in cases {
            let mut reader = input;
            let (s, headers) = read_head(&mut reader).await.unwrap();
            assert_eq!((s.as_u16(), headers.len(), reader), (status, count, rest));
        }
        for bad in [&b"X-A: 1\r\n"[..], b"", b"garbage\n\n", b"X-A: \xff\n\n"] {
            let mut reader = bad;
            assert!(read_head(&mut reader).await.is_err(), "{bad:?}");
        }
    }
}
