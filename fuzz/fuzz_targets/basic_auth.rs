//! The `Authorization` header parser of the REST API and git
//! (`patgate_server::api::extract::{parse_authorization, decode_basic}`).
//!
//! The input is read as a header value, and also split at its first NUL byte into a username and
//! a password that are encoded here as a Basic credential. Besides "never panics", it checks:
//!
//! * `decode_basic` of anything that decodes gives a username without `:`, and encoding the pair
//!   again decodes to the same pair;
//! * `parse_authorization` never answers "no credential", a token it returns is never empty or
//!   padded with whitespace, a password's username is never empty, and a Basic password is a
//!   token exactly when it starts with a token prefix;
//! * Basic with any username (non-empty, without `:`) and password, with the scheme in any case
//!   and surrounded by spaces, gives back that username and password; `Bearer <t>` and
//!   `token <t>` give back `t`.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use patgate_domain::token::TokenFormat;
use patgate_server::api::extract::{Presented, decode_basic, parse_authorization};

fn check_value(value: &str, format: &TokenFormat) {
    match parse_authorization(value, format) {
        None => {}
        Some(Presented::None) => panic!("{value:?} parsed as no credential"),
        Some(Presented::Token(t)) => {
            assert!(!t.is_empty(), "{value:?}");
            assert_eq!(t.trim(), t, "{value:?}");
        }
        Some(Presented::Password { login, password }) => {
            assert!(!login.is_empty(), "{value:?}");
            assert!(!login.contains(':'), "{value:?}");
            assert!(format.kind_of(&password).is_none(), "{value:?}");
        }
    }
    if let Some((user, pass)) = decode_basic(value) {
        assert!(!user.contains(':'));
        let again = STANDARD.encode(format!("{user}:{pass}"));
        assert_eq!(decode_basic(&again), Some((user, pass)));
    }
}

fn check_basic(user: &str, pass: &str, format: &TokenFormat) {
    let encoded = STANDARD.encode(format!("{user}:{pass}"));
    for header in [
        format!("Basic {encoded}"),
        format!("basic {encoded}"),
        format!("  BASIC   {encoded}  "),
    ] {
        let got = parse_authorization(&header, format);
        if user.is_empty() {
            assert!(got.is_none(), "{header:?}");
            continue;
        }
        if user.contains(':') {
            // The pair splits at the first ':', so the username is the part before it.
            continue;
        }
        match got {
            Some(Presented::Token(t)) => {
                assert!(format.kind_of(pass).is_some(), "{header:?}");
                assert_eq!(t, pass);
            }
            Some(Presented::Password { login, password }) => {
                assert!(format.kind_of(pass).is_none(), "{header:?}");
                assert_eq!((login.as_str(), password.as_str()), (user, pass));
            }
            _ => panic!("{header:?} did not parse"),
        }
    }
}

fn check_bearer(token: &str, format: &TokenFormat) {
    let token = token.trim();
    for scheme in ["Bearer", "bearer", "token", "TOKEN"] {
        let header = format!("{scheme} {token}");
        match parse_authorization(&header, format) {
            Some(Presented::Token(t)) => assert_eq!(t, token),
            None => assert!(token.is_empty(), "{header:?}"),
            _ => panic!("{header:?} is not a token"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let format = TokenFormat::default();
    let text = String::from_utf8_lossy(data);
    check_value(&text, &format);
    check_bearer(&text, &format);

    let (user, pass) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let (user, pass) = (String::from_utf8_lossy(user), String::from_utf8_lossy(pass));
    check_basic(&user, &pass, &format);
    // The same password as a token: a default prefix in front.
    check_basic(&user, &format!("pgf_{pass}"), &format);
});
