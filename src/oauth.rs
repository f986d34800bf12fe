//! The OAuth 2.0 proxy: PKCE, the redirect_uri allow-list, one-time sessions and the
//! provider-specific authorization URLs. Client secrets stay on the server; the client's PKCE verifier
//! is stored in the session and never leaves the server.
//!
//! Pure logic: no axum, no HTTP server types. Storage is reached through `store::OAuthSessionStore`.

pub mod authorize;
pub mod client;
pub mod flow;
pub mod pkce;
pub mod redirect;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything outside the RFC 3986 unreserved set (`A-Z a-z 0-9 - . _ ~`) is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query value with upper-case hex; a space becomes `%20`.
pub fn encode_query_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// Appends `key=value` pairs to `base` with `?`, or `&` when it already has a query.
pub fn append_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(base.len() + 64 * pairs.len());
    out.push_str(base);
    let mut sep = if base.contains('?') { '&' } else { '?' };
    for (k, v) in pairs {
        out.push(sep);
        out.push_str(&encode_query_value(k));
        out.push('=');
        out.push_str(&encode_query_value(v));
        sep = '&';
    }
    out
}

/// Whether a client-supplied OAuth value (authorization code, state, refresh token, token to revoke)
/// contains a control character: C0 (NUL, CR, LF, TAB, …), DEL or C1. No provider issues such values,
/// and they cannot be sent on (Dropbox revocation puts the token in a header), so they are refused as a
/// validation error before any provider call rather than turned into a provider failure.
pub fn has_control_characters(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// A fresh random token: 32 CSPRNG bytes, base64url without padding (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_encode_everything_outside_unreserved_in_uppercase_hex() {
        assert_eq!(
            encode_query_value("a b+c/d~e.f_g-h"),
            "a%20b%2Bc%2Fd~e.f_g-h"
        );
        assert_eq!(encode_query_value("ñ"), "%C3%B1");
    }

    #[test]
    fn control_characters_are_found_anywhere_in_a_token_value() {
        for bad in [
            "a\rb", "a\nb", "\0ab", "ab\x7f", "a\tb", "a\x1bb", "a\u{85}b",
        ] {
            assert!(has_control_characters(bad), "{bad:?}");
        }
        for good in ["sl.B0aXyz-_.~+/=", "1//0gAbC", "ñandú token"] {
            assert!(!has_control_characters(good), "{good:?}");
        }
    }

    #[test]
    fn append_query_uses_ampersand_when_a_query_exists() {
        assert_eq!(
            append_query("app://cb", &[("a", "1"), ("b", "x&y")]),
            "app://cb?a=1&b=x%26y"
        );
        assert_eq!(
            append_query("https://x/cb?k=v", &[("a", "1")]),
            "https://x/cb?k=v&a=1"
        );
    }

    #[test]
    fn random_tokens_are_43_url_safe_characters_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }
}
