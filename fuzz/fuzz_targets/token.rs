//! The token parser (`patgate_domain::token`): `TokenFormat::new`, `TokenFormat::parse`,
//! `has_shape`, `kind_of`, `TokenKind::parse` and `TokenHash::from_hex`.
//!
//! The input is read as text. Its first three lines are prefixes for `TokenFormat::new`, the
//! rest is a token candidate; the whole input is also a candidate under the default prefixes.
//! Besides "never panics", it checks:
//!
//! * `TokenFormat::new` accepts exactly the prefixes this file's own reading of the rules accepts;
//! * `parse` fails with the first failed check, in the documented order (prefix, length, alphabet,
//!   checksum), and `has_shape`/`kind_of` agree with it;
//! * a token that parses is the prefix of its kind, 30 base62 characters and the base62 CRC32 of
//!   those 30 (computed here independently), and its parts (hash, last eight) round-trip;
//! * a token assembled here from the input's bytes always parses, with its kind, and any one
//!   substituted character after the prefix makes it fail with `Checksum`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_domain::token::{
    BODY_LEN, CHECKSUM_LEN, SUFFIX_LEN, TokenFormat, TokenHash, TokenKind, TokenParseError,
};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Six base62 digits of `crc`, most significant first, left-padded with '0'.
fn checksum(body: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut n = crc32fast::hash(body);
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// The rules of a prefix, as the documentation states them.
fn prefix_ok(p: &str) -> bool {
    (2..=16).contains(&p.len())
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && p.ends_with('_')
}

fn check_candidate(format: &TokenFormat, s: &str) {
    let kind = format.kind_of(s);
    let parsed = format.parse(s);
    match kind {
        None => assert_eq!(parsed, Err(TokenParseError::Prefix), "{s:?}"),
        Some(kind) => {
            let prefix = format.prefix(kind);
            assert!(s.starts_with(prefix));
            let right_length = s.len() == format.token_len(kind);
            assert_eq!(format.has_shape(s), right_length);
            if !right_length {
                assert_eq!(parsed, Err(TokenParseError::Length), "{s:?}");
                return;
            }
            let suffix = &s.as_bytes()[prefix.len()..];
            assert_eq!(suffix.len(), SUFFIX_LEN);
            if !suffix.iter().all(u8::is_ascii_alphanumeric) {
                assert_eq!(parsed, Err(TokenParseError::Alphabet), "{s:?}");
                return;
            }
            let (body, sum) = suffix.split_at(BODY_LEN);
            if checksum(body) != sum {
                assert_eq!(parsed, Err(TokenParseError::Checksum), "{s:?}");
                return;
            }
            let p = parsed.unwrap_or_else(|e| panic!("{s:?} is well formed, yet {e}"));
            assert_eq!(p.kind, kind);
            assert_eq!(p.token, s);
            assert_eq!(p.hash(), TokenHash::of(s));
            assert_eq!(p.last_eight(), &s[s.len() - 8..]);
            let secret = p.to_secret();
            assert_eq!(secret.expose(), s);
            assert_eq!(secret.kind(), kind);
            assert_eq!(secret.hash(), p.hash());
            assert_eq!(secret.last_eight(), p.last_eight());
        }
    }
}

/// A valid token of `kind` whose body comes from `seed`; it must parse, and every single
/// substitution after the prefix must not.
fn check_assembled(format: &TokenFormat, kind: TokenKind, seed: &[u8]) {
    let mut body = [b'0'; BODY_LEN];
    for (i, slot) in body.iter_mut().enumerate() {
        let b = seed.get(i % seed.len().max(1)).copied().unwrap_or(0);
        *slot = ALPHABET[usize::from(b.wrapping_add(i as u8)) % 62];
    }
    let mut token = format.prefix(kind).as_bytes().to_vec();
    token.extend_from_slice(&body);
    token.extend_from_slice(&checksum(&body));
    let text = std::str::from_utf8(&token).expect("prefix and base62 are ASCII");
    let parsed = format.parse(text).expect("an assembled token parses");
    assert_eq!(parsed.kind, kind);
    assert_eq!(parsed.token, text);

    let at =
        format.prefix(kind).len() + usize::from(seed.first().copied().unwrap_or(0)) % SUFFIX_LEN;
    let replacement = ALPHABET[usize::from(seed.last().copied().unwrap_or(1)) % 62];
    if token[at] != replacement {
        let mut tampered = token.clone();
        tampered[at] = replacement;
        let tampered = std::str::from_utf8(&tampered).expect("ASCII");
        assert_eq!(format.parse(tampered), Err(TokenParseError::Checksum));
    }
}

fuzz_target!(|data: &[u8]| {
    let default = TokenFormat::default();
    let text = String::from_utf8_lossy(data);

    check_candidate(&default, &text);
    for kind in TokenKind::ALL {
        check_assembled(&default, kind, data);
    }

    if let Some(k) = TokenKind::parse(&text) {
        assert_eq!(k.as_str(), text);
    }
    if let Some(h) = TokenHash::from_hex(&text) {
        assert_eq!(h.to_hex(), text.to_ascii_lowercase());
        assert_eq!(h.to_base64().len(), 44);
    }

    // Custom prefixes: three lines, then the candidate.
    let mut lines = text.splitn(4, '\n');
    let (Some(f), Some(c), Some(a)) = (lines.next(), lines.next(), lines.next()) else {
        return;
    };
    let candidate = lines.next().unwrap_or("");
    let prefixes = [f, c, a];
    let expected = prefixes.iter().all(|p| prefix_ok(p))
        && prefixes.iter().enumerate().all(|(i, p)| {
            prefixes
                .iter()
                .skip(i + 1)
                .all(|q| !p.starts_with(q) && !q.starts_with(p))
        });
    match TokenFormat::new(f, c, a) {
        Ok(format) => {
            assert!(expected, "accepted {prefixes:?}");
            for (kind, p) in TokenKind::ALL.into_iter().zip(prefixes) {
                assert_eq!(format.prefix(kind), p);
                check_assembled(&format, kind, candidate.as_bytes());
            }
            check_candidate(&format, candidate);
        }
        Err(_) => assert!(!expected, "refused {prefixes:?}"),
    }
});
