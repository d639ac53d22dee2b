//! The CGI response parser of the git gateway (`patgate_server::git::cgi::{read_head,
//! parse_header_line}`): what `git http-backend` writes before the pack data.
//!
//! The input is the program's output. Besides "never panics", it checks:
//!
//! * `read_head` succeeds exactly when the output has a blank line and every line before it is
//!   UTF-8 with a `:`; it then leaves the reader right after that blank line (the body is
//!   untouched), and never keeps more headers than there were lines;
//! * the status is 200 without a `Status:` line, otherwise the last one's code, or 500 when that
//!   is not a code from 100 to 999;
//! * `parse_header_line` of every line trims the name and the value and ends the block only on
//!   an empty line.

#![no_main]

use axum::http::StatusCode;
use futures_util::FutureExt;
use libfuzzer_sys::fuzz_target;
use patgate_server::git::cgi::{parse_header_line, read_head};

/// The expected outcome, line by line, from the documented rules: `(status, lines before the
/// blank one, bytes up to and including the blank line)`.
fn expected(data: &[u8]) -> Option<(u16, usize, usize)> {
    let mut status = 200u16;
    let mut at = 0;
    let mut lines = 0;
    while at < data.len() {
        let end = data[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| at + i + 1);
        let line = std::str::from_utf8(&data[at..end]).ok()?;
        at = end;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Some((status, lines, at));
        }
        let (name, value) = line.split_once(':')?;
        if name.trim().eq_ignore_ascii_case("status") {
            status = value
                .trim()
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok())
                .filter(|c| (100..=999).contains(c))
                .unwrap_or(500);
        }
        lines += 1;
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let mut reader = data;
    let got = read_head(&mut reader)
        .now_or_never()
        .expect("reading a byte slice never waits");
    match (got, expected(data)) {
        (Ok((status, headers)), Some((code, lines, consumed))) => {
            assert_eq!(status, StatusCode::from_u16(code).expect("a valid code"));
            assert!(headers.len() <= lines);
            assert_eq!(reader, &data[consumed..]);
            for (name, value) in &headers {
                assert!(!name.as_str().eq_ignore_ascii_case("status"));
                let _ = value.to_str();
            }
        }
        (Err(_), None) => {}
        (got, want) => panic!(
            "read_head: {:?}, expected {want:?}",
            got.map(|(s, h)| (s, h.len()))
        ),
    }

    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.split_inclusive('\n') {
            match parse_header_line(line) {
                Ok(None) => assert!(line.trim_end_matches(['\r', '\n']).is_empty()),
                Ok(Some((name, value))) => {
                    assert_eq!(name.trim(), name);
                    assert_eq!(value.trim(), value);
                    assert!(!name.contains(':'));
                }
                Err(message) => assert!(!line.contains(':'), "{message}"),
            }
        }
    }
});
