//! Token formats (DESIGN §4, reference §1.2): a per-kind prefix, 30 random base62 characters and
//! a 6-character base62 CRC32 of those 30; stored as the SHA-256 of the whole token.

use std::fmt;

use rand::RngExt;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The base62 alphabet, most significant digit first (the `base62` crate's standard alphabet).
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random characters after the prefix.
pub const BODY_LEN: usize = 30;
/// Checksum characters at the end.
pub const CHECKSUM_LEN: usize = 6;
/// Characters after the prefix.
pub const SUFFIX_LEN: usize = BODY_LEN + CHECKSUM_LEN;

/// The kind of credential a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    FineGrained,
    Classic,
    AppInstallation,
}

impl TokenKind {
    pub const ALL: [TokenKind; 3] = [
        TokenKind::FineGrained,
        TokenKind::Classic,
        TokenKind::AppInstallation,
    ];

    /// `"fine_grained"`, `"classic"` or `"app_installation"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::FineGrained => "fine_grained",
            TokenKind::Classic => "classic",
            TokenKind::AppInstallation => "app_installation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fine_grained" => Some(TokenKind::FineGrained),
            "classic" => Some(TokenKind::Classic),
            "app_installation" => Some(TokenKind::AppInstallation),
            _ => None,
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A prefix that [`TokenFormat::new`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenFormatError {
    #[error("token prefix {0:?} must be 2 to 16 characters long")]
    Length(String),
    #[error("token prefix {0:?} may only contain a-z, 0-9 and '_'")]
    Characters(String),
    #[error("token prefix {0:?} must end with '_'")]
    MissingUnderscore(String),
    #[error(
        "token prefixes {0:?} and {1:?} overlap: they must differ and neither may start the other"
    )]
    Overlap(String, String),
}

/// Why a string is not a well-formed token. Checked in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenParseError {
    #[error("unknown token prefix")]
    Prefix,
    #[error("wrong token length")]
    Length,
    #[error("token has characters outside base62")]
    Alphabet,
    #[error("token checksum mismatch")]
    Checksum,
}

/// The per-deployment prefixes (configurable so secret scanners can tell installations apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenFormat {
    fine_grained: String,
    classic: String,
    app: String,
}

impl Default for TokenFormat {
    fn default() -> Self {
        TokenFormat {
            fine_grained: TokenFormat::DEFAULT_FINE_GRAINED.to_owned(),
            classic: TokenFormat::DEFAULT_CLASSIC.to_owned(),
            app: TokenFormat::DEFAULT_APP.to_owned(),
        }
    }
}

impl TokenFormat {
    pub const DEFAULT_FINE_GRAINED: &'static str = "pgf_";
    pub const DEFAULT_CLASSIC: &'static str = "pgp_";
    pub const DEFAULT_APP: &'static str = "pgs_";

    /// Prefixes: 2..=16 chars of `[a-z0-9_]`, ending with `'_'`, pairwise distinct and none a
    /// prefix of another.
    pub fn new(
        fine_grained: &str,
        classic: &str,
        app: &str,
    ) -> Result<TokenFormat, TokenFormatError> {
        let prefixes = [fine_grained, classic, app];
        for p in prefixes {
            check_prefix(p)?;
        }
        for (i, a) in prefixes.iter().enumerate() {
            for b in prefixes.iter().skip(i + 1) {
                if a.starts_with(b) || b.starts_with(a) {
                    return Err(TokenFormatError::Overlap((*a).to_owned(), (*b).to_owned()));
                }
            }
        }
        Ok(TokenFormat {
            fine_grained: fine_grained.to_owned(),
            classic: classic.to_owned(),
            app: app.to_owned(),
        })
    }

    pub fn prefix(&self, kind: TokenKind) -> &str {
        match kind {
            TokenKind::FineGrained => &self.fine_grained,
            TokenKind::Classic => &self.classic,
            TokenKind::AppInstallation => &self.app,
        }
    }

    /// The length of every token of `kind`.
    pub fn token_len(&self, kind: TokenKind) -> usize {
        self.prefix(kind).len() + SUFFIX_LEN
    }

    /// prefix + 30 base62 chars from a CSPRNG (`rand::rng()`) + 6-char base62 CRC32 (IEEE, of the
    /// 30-char body only, left-padded with '0').
    pub fn generate(&self, kind: TokenKind) -> SecretToken {
        let mut rng = rand::rng();
        let mut body = [0u8; BODY_LEN];
        for b in &mut body {
            *b = rng.sample(Alphanumeric);
        }
        let token = assemble(self.prefix(kind), &body);
        // Best effort: do not leave the random body on the stack.
        body.fill(0);
        std::hint::black_box(&body);
        SecretToken { kind, token }
    }

    /// The kind whose prefix starts `token`, if any (prefixes never overlap, so at most one).
    pub fn kind_of(&self, token: &str) -> Option<TokenKind> {
        TokenKind::ALL
            .into_iter()
            .find(|&k| token.starts_with(self.prefix(k)))
    }

    /// Checks prefix, then total length, then alphabet, then checksum, before anything else; never
    /// allocates.
    /// The cheap first check of `parse`: a known prefix and the right length.
    pub fn has_shape(&self, token: &str) -> bool {
        self.kind_of(token)
            .is_some_and(|kind| token.len() == self.prefix(kind).len() + SUFFIX_LEN)
    }

    pub fn parse<'a>(&self, token: &'a str) -> Result<ParsedToken<'a>, TokenParseError> {
        let kind = self.kind_of(token).ok_or(TokenParseError::Prefix)?;
        let prefix_len = self.prefix(kind).len();
        if token.len() != prefix_len + SUFFIX_LEN {
            return Err(TokenParseError::Length);
        }
        let suffix = token
            .as_bytes()
            .get(prefix_len..)
            .ok_or(TokenParseError::Length)?;
        if !suffix.iter().all(u8::is_ascii_alphanumeric) {
            return Err(TokenParseError::Alphabet);
        }
        let (body, checksum) = suffix.split_at(BODY_LEN);
        if decode_checksum(checksum) != Some(u64::from(crc32fast::hash(body))) {
            return Err(TokenParseError::Checksum);
        }
        Ok(ParsedToken { kind, token })
    }
}

fn check_prefix(p: &str) -> Result<(), TokenFormatError> {
    if !(2..=16).contains(&p.len()) {
        return Err(TokenFormatError::Length(p.to_owned()));
    }
    if !p
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(TokenFormatError::Characters(p.to_owned()));
    }
    if !p.ends_with('_') {
        return Err(TokenFormatError::MissingUnderscore(p.to_owned()));
    }
    Ok(())
}

/// `prefix + body + checksum(body)`; `body` must be base62.
fn assemble(prefix: &str, body: &[u8; BODY_LEN]) -> String {
    let mut token = String::with_capacity(prefix.len() + SUFFIX_LEN);
    token.push_str(prefix);
    token.extend(body.iter().map(|&b| char::from(b)));
    token.extend(
        encode_checksum(crc32fast::hash(body))
            .iter()
            .map(|&b| char::from(b)),
    );
    token
}

/// Six base62 digits, most significant first, left-padded with '0'. `u32::MAX` is `4gfFC3`.
fn encode_checksum(crc: u32) -> [u8; CHECKSUM_LEN] {
    let mut out = [b'0'; CHECKSUM_LEN];
    let mut n = crc;
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// The value of six base62 digits (`None` if one is not base62). Every 6-digit string has its own
/// value, so comparing values is comparing the padded encodings.
fn decode_checksum(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 36,
            _ => return None,
        };
        Some(acc * 62 + u64::from(d))
    })
}

/// The last eight characters of an ASCII token (all of it if shorter).
fn last_eight(token: &str) -> String {
    let start = token.len().saturating_sub(8);
    token.get(start..).unwrap_or(token).to_owned()
}

/// The clear token: shown once, never logged. `Debug` prints `SecretToken(<redacted>)`; no
/// `Display`. Its bytes are overwritten when dropped (best effort: clones and copies made by
/// callers are theirs to handle).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken {
    kind: TokenKind,
    token: String,
}

impl SecretToken {
    /// The clear token, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.token
    }

    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// SHA-256 of the whole token: the lookup key.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.token)
    }

    /// The last eight characters, stored for display.
    pub fn last_eight(&self) -> String {
        last_eight(&self.token)
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

impl Drop for SecretToken {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.token).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

/// A string that [`TokenFormat::parse`] accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedToken<'a> {
    pub kind: TokenKind,
    pub token: &'a str,
}

impl ParsedToken<'_> {
    /// SHA-256 of the whole token: the lookup key.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.token)
    }

    pub fn last_eight(&self) -> String {
        last_eight(self.token)
    }

    /// An owned, redacting copy (e.g. for a token read from configuration).
    pub fn to_secret(&self) -> SecretToken {
        SecretToken {
            kind: self.kind,
            token: self.token.to_owned(),
        }
    }
}

/// SHA-256 of the whole token string: the lookup key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<TokenHash> {
        fn nibble(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            }
        }
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let [hi, lo] = pair else { return None };
            *o = (nibble(*hi)? << 4) | nibble(*lo)?;
        }
        Some(TokenHash(out))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Standard base64 with padding: GitHub's `hashed_token`
    /// (`echo -n TOKEN | openssl dgst -sha256 -binary | base64`).
    pub fn to_base64(&self) -> String {
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::with_capacity(44);
        for chunk in self.0.chunks(3) {
            let b0 = chunk.first().copied().unwrap_or(0);
            let b1 = chunk.get(1).copied().unwrap_or(0);
            let b2 = chunk.get(2).copied().unwrap_or(0);
            let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
            let sextet = |shift: u32| char::from(B64[((n >> shift) & 0x3f) as usize]);
            out.push(sextet(18));
            out.push(sextet(12));
            out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
            out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
        }
        out
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gh(classic: &str) -> TokenFormat {
        TokenFormat::new("github_pat_", classic, "ghs_").unwrap()
    }

    #[test]
    fn kind_strings_round_trip() {
        for (k, s) in [
            (TokenKind::FineGrained, "fine_grained"),
            (TokenKind::Classic, "classic"),
            (TokenKind::AppInstallation, "app_installation"),
        ] {
            assert_eq!(k.as_str(), s);
            assert_eq!(TokenKind::parse(s), Some(k));
            assert_eq!(k.to_string(), s);
        }
        assert_eq!(TokenKind::parse("Classic"), None);
    }

    #[test]
    fn default_format_uses_the_default_prefixes() {
        let f = TokenFormat::default();
        assert_eq!(f.prefix(TokenKind::FineGrained), "pgf_");
        assert_eq!(f.prefix(TokenKind::Classic), "pgp_");
        assert_eq!(f.prefix(TokenKind::AppInstallation), "pgs_");
        assert_eq!(
            TokenFormat::new(
                TokenFormat::DEFAULT_FINE_GRAINED,
                TokenFormat::DEFAULT_CLASSIC,
                TokenFormat::DEFAULT_APP
            ),
            Ok(f)
        );
    }

    #[test]
    fn format_rejects_bad_prefixes_and_names_them() {
        // (fine_grained, classic, app, expected error)
        let cases = [
            ("_", "pgp_", "pgs_", TokenFormatError::Length("_".into())),
            (
                "abcdefghijklmno_x",
                "pgp_",
                "pgs_",
                TokenFormatError::Length("abcdefghijklmno_x".into()),
            ),
            (
                "pgf_",
                "PGP_",
                "pgs_",
                TokenFormatError::Characters("PGP_".into()),
            ),
            (
                "pgf_",
                "pgp-",
                "pgs_",
                TokenFormatError::Characters("pgp-".into()),
            ),
            (
                "pgf_",
                "pgp_",
                "pgs",
                TokenFormatError::MissingUnderscore("pgs".into()),
            ),
            (
                "pgf_",
                "pgf_",
                "pgs_",
                TokenFormatError::Overlap("pgf_".into(), "pgf_".into()),
            ),
            (
                "pg_",
                "pgp_",
                "pg_s_",
                TokenFormatError::Overlap("pg_".into(), "pg_s_".into()),
            ),
        ];
        for (f, c, a, expected) in cases {
            let err = TokenFormat::new(f, c, a).unwrap_err();
            assert_eq!(err, expected);
        }
        let msg = TokenFormat::new("pgf_", "pgp-", "pgs_")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("\"pgp-\""), "{msg}");
        // Boundary: 2 and 16 characters are fine.
        assert!(TokenFormat::new("a_", "abcdefghijklmno_", "z9_").is_ok());
    }

    #[test]
    fn generated_tokens_parse_back_with_their_kind() {
        let f = TokenFormat::default();
        for kind in TokenKind::ALL {
            let t = f.generate(kind);
            assert_eq!(t.kind(), kind);
            assert_eq!(t.expose().len(), f.token_len(kind));
            assert!(t.expose().starts_with(f.prefix(kind)));
            let parsed = f.parse(t.expose()).unwrap();
            assert_eq!(parsed.kind, kind);
            assert_eq!(parsed.token, t.expose());
            assert_eq!(parsed.hash(), t.hash());
            assert_eq!(parsed.last_eight(), t.last_eight());
            assert_eq!(parsed.to_secret(), t);
        }
        assert_ne!(
            f.generate(TokenKind::Classic).expose(),
            f.generate(TokenKind::Classic).expose()
        );
    }

    #[test]
    fn parse_rejects_each_malformed_case() {
        let f = TokenFormat::default();
        let good = "pgp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V4";
        assert!(f.parse(good).is_ok());
        // (input, error)
        let cases = [
            (
                "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",
                TokenParseError::Prefix,
            ),
            ("", TokenParseError::Prefix),
            ("pgp", TokenParseError::Prefix),
            (
                "PGP_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V4",
                TokenParseError::Prefix,
            ),
            ("pgp_", TokenParseError::Length),
            (
                "pgp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V",
                TokenParseError::Length,
            ),
            (
                "pgp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V4x",
                TokenParseError::Length,
            ),
            (
                "pgp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V4 ",
                TokenParseError::Length,
            ),
            (
                "pgp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V_",
                TokenParseError::Alphabet,
            ),
            (
                "pgp_M7H4jxUDDWHP4kZ6A-dxlQYsQIWJuq11T4V4",
                TokenParseError::Alphabet,
            ),
            (
                "pgp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V\u{e9}",
                TokenParseError::Length,
            ),
            (
                "pgp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq\u{e9}T4V4",
                TokenParseError::Alphabet,
            ),
            // one flipped character in the body, then in the checksum
            (
                "pgp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq12T4V4",
                TokenParseError::Checksum,
            ),
            (
                "pgp_N7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V4",
                TokenParseError::Checksum,
            ),
            (
                "pgp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V5",
                TokenParseError::Checksum,
            ),
            (
                "pgp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11U4V4",
                TokenParseError::Checksum,
            ),
            // a checksum above u32::MAX never matches
            (
                "pgp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuqzzzzzz",
                TokenParseError::Checksum,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(f.parse(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn public_test_vectors_verify() {
        // (classic prefix, token)
        let cases = [
            ("ghp_", "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"),
            // CRC32 small enough that its base62 needs zero padding.
            ("b62_", "b62_QdwULL38u41vs1OcAjhKqcaSZ9W63r0Zu4ln"),
        ];
        for (prefix, token) in cases {
            let parsed = gh(prefix).parse(token).unwrap();
            assert_eq!(parsed.kind, TokenKind::Classic);
            assert_eq!(parsed.last_eight(), &token[token.len() - 8..]);
        }
        // The padded one really is padded.
        assert!("b62_QdwULL38u41vs1OcAjhKqcaSZ9W63r0Zu4ln".ends_with("0Zu4ln"));
        assert_eq!(
            encode_checksum(crc32fast::hash(b"QdwULL38u41vs1OcAjhKqcaSZ9W63r")),
            *b"0Zu4ln"
        );
    }

    #[test]
    fn checksum_encoding_matches_the_base62_crate_left_padded() {
        // (crc, encoding)
        let cases: [(u32, &[u8; 6]); 5] = [
            (0, b"000000"),
            (61, b"00000z"),
            (62, b"000010"),
            (u32::MAX, b"4gfFC3"),
            (123_456_789, b"08M0kX"),
        ];
        for (crc, enc) in cases {
            assert_eq!(&encode_checksum(crc), enc, "{crc}");
            assert_eq!(format!("{:0>6}", base62::encode(crc)).as_bytes(), enc);
            assert_eq!(decode_checksum(enc), Some(u64::from(crc)));
        }
    }

    #[test]
    fn token_hash_is_sha256_of_the_whole_token() {
        // (input, sha256 hex, base64)
        let cases = [
            (
                "",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            ),
            (
                "abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
            ),
        ];
        for (input, hex, b64) in cases {
            let h = TokenHash::of(input);
            assert_eq!(h.to_hex(), hex);
            assert_eq!(h.to_base64(), b64);
            assert_eq!(TokenHash::from_hex(hex), Some(h));
            assert_eq!(TokenHash::from_hex(&hex.to_uppercase()), Some(h));
            assert_eq!(format!("{h:?}"), format!("TokenHash({hex})"));
            assert_eq!(h.as_bytes(), &h.0);
        }
        let f = TokenFormat::default();
        let t = f.generate(TokenKind::FineGrained);
        assert_eq!(t.hash(), TokenHash::of(t.expose()));
    }

    #[test]
    fn from_hex_rejects_malformed_input() {
        let good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        for bad in [
            "",
            &good[1..],
            &format!("{good}0"),
            &good.replace('b', "g"),
            &format!("{}\u{e9}", &good[..62]),
        ] {
            assert_eq!(TokenHash::from_hex(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ct_eq_compares_hashes() {
        let a = TokenHash::of("a");
        let b = TokenHash::of("b");
        // (x, y, equal)
        for (x, y, eq) in [(a, a, true), (a, b, false), (b, b, true)] {
            assert_eq!(x.ct_eq(&y), eq);
        }
    }

    #[test]
    fn secret_token_debug_never_shows_the_token() {
        let t = TokenFormat::default().generate(TokenKind::Classic);
        let dbg = format!("{t:?}");
        assert_eq!(dbg, "SecretToken(<redacted>)");
        assert!(!dbg.contains(t.expose()));
        assert!(!dbg.contains(&t.expose()[4..12]));
        assert!(!format!("{:?}", t.hash()).contains(t.expose()));
    }

    #[test]
    fn last_eight_is_the_tail_of_the_token() {
        let t = TokenFormat::default().generate(TokenKind::AppInstallation);
        let s = t.expose();
        assert_eq!(t.last_eight(), &s[s.len() - 8..]);
        assert_eq!(last_eight("abc"), "abc");
    }

    fn body_strategy() -> impl Strategy<Value = [u8; BODY_LEN]> {
        proptest::array::uniform30(proptest::sample::select(ALPHABET.to_vec()))
    }

    fn kind_strategy() -> impl Strategy<Value = TokenKind> {
        proptest::sample::select(TokenKind::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn any_body_round_trips(body in body_strategy(), kind in kind_strategy()) {
            let f = TokenFormat::default();
            let token = assemble(f.prefix(kind), &body);
            let parsed = f.parse(&token).unwrap();
            prop_assert_eq!(parsed.kind, kind);
            prop_assert_eq!(parsed.token, token.as_str());
        }

        #[test]
        fn generate_then_parse_round_trips(kind in kind_strategy()) {
            let f = TokenFormat::new("x1_", "x2_", "x3_").unwrap();
            let t = f.generate(kind);
            prop_assert_eq!(f.parse(t.expose()).map(|p| p.kind), Ok(kind));
        }

        #[test]
        fn any_single_substitution_after_the_prefix_is_rejected(
            body in body_strategy(),
            pos in 0..SUFFIX_LEN,
            replacement in proptest::sample::select(ALPHABET.to_vec()),
        ) {
            let f = TokenFormat::default();
            let token = assemble(f.prefix(TokenKind::Classic), &body);
            let mut bytes = token.into_bytes();
            let at = 4 + pos;
            prop_assume!(bytes[at] != replacement);
            bytes[at] = replacement;
            let tampered = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(f.parse(&tampered), Err(TokenParseError::Checksum));
        }

        #[test]
        fn arbitrary_strings_never_panic_the_parser(s in ".*", tail in "[A-Za-z0-9_\u{e9}]{30,40}") {
            let f = TokenFormat::default();
            let _ = f.parse(&s);
            let _ = f.parse(&format!("pgf_{tail}"));
        }

        #[test]
        fn hex_round_trips(bytes in proptest::array::uniform32(any::<u8>())) {
            let h = TokenHash(bytes);
            prop_assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
            prop_assert_eq!(h.to_base64().len(), 44);
        }
    }
}
