//! What a request looks like in the log: its URI with every credential blanked out, at every log
//! level. A client may put a token where it does not belong (`?access_token=…`, a path segment),
//! and the log must not keep it.

use std::borrow::Cow;

use axum::http::Uri;

/// Query parameters whose value is a secret whatever it looks like.
const SECRET_PARAMETERS: &[&str] = &[
    "access_token",
    "token",
    "private_token",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "key",
    "code",
    "session",
    "jwt",
    "auth",
    "authorization",
    "sig",
    "signature",
    // A page's form token (a GET form that refreshes the page sends it in the query).
    "_csrf",
];

pub const REDACTED: &str = "[redacted]";

/// Redacts URIs for the log: secret query parameters, and anything shaped like a token of this
/// installation (`prefixes`) anywhere in the path or the query.
#[derive(Clone, Debug)]
pub struct UriRedactor {
    prefixes: Vec<String>,
}

impl UriRedactor {
    pub fn new(prefixes: &[&str]) -> Self {
        UriRedactor {
            prefixes: prefixes
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| (*p).to_owned())
                .collect(),
        }
    }

    pub fn redact(&self, uri: &Uri) -> String {
        let path = self.redact_tokens(uri.path());
        match uri.query() {
            None => path.into_owned(),
            Some(query) => format!("{path}?{}", self.redact_query(query)),
        }
    }

    fn redact_query(&self, query: &str) -> String {
        query
            .split('&')
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let decoded_name: String = form_urlencoded::parse(name.as_bytes())
                    .next()
                    .map(|(n, _)| n.to_ascii_lowercase())
                    .unwrap_or_default();
                if !value.is_empty() && SECRET_PARAMETERS.contains(&decoded_name.as_str()) {
                    format!("{name}={REDACTED}")
                } else {
                    self.redact_tokens(pair).into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Blanks out each run that starts with a token prefix and goes on with token characters.
    fn redact_tokens<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.prefixes.iter().any(|p| text.contains(p.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'outer: while !rest.is_empty() {
            for prefix in &self.prefixes {
                if let Some(after) = rest.strip_prefix(prefix.as_str()) {
                    let secret_len = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
                    if secret_len > 0 {
                        out.push_str(REDACTED);
                        rest = &after[secret_len..];
                        continue 'outer;
                    }
                }
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(uri: &str) -> String {
        UriRedactor::new(&["pgf_", "pgp_", "pgs_"]).redact(&uri.parse().expect("a URI"))
    }

    #[test]
    fn secret_parameters_are_blanked_whatever_their_value() {
        assert_eq!(
            redact("/user?access_token=abc&page=2"),
            "/user?access_token=[redacted]&page=2"
        );
        assert_eq!(
            redact("/x?Password=hunter2&PRIVATE_TOKEN=1"),
            "/x?Password=[redacted]&PRIVATE_TOKEN=[redacted]"
        );
        assert_eq!(
            redact("/x?%61ccess_token=s"),
            "/x?%61ccess_token=[redacted]"
        );
    }

    #[test]
    fn token_shaped_text_is_blanked_anywhere() {
        let t = "pgp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IL";
        assert_eq!(redact(&format!("/repos/{t}/x")), "/repos/[redacted]/x");
        assert_eq!(
            redact(&format!("/user?q={t}&per_page=1")),
            "/user?q=[redacted]&per_page=1"
        );
        assert_eq!(redact(&format!("/a?x=1{t}")), "/a?x=1[redacted]");
    }

    #[test]
    fn everything_else_is_kept() {
        for uri in [
            "/",
            "/user",
            "/orgs/acme/personal-access-tokens?page=2&per_page=10",
        ] {
            assert_eq!(redact(uri), uri);
        }
        // A prefix alone is not a token.
        assert_eq!(redact("/pgf_"), "/pgf_");
    }
}
