//! Value checks shared by several configuration areas: absolute http/https URLs and their parts, and
//! lenient base64. Each check returns the problem message; only non-secret values are quoted in it.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

/// True when `s` has whitespace or control characters.
pub(super) fn has_bad_chars(s: &str) -> bool {
    s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Splits `scheme:rest` when `scheme` is a valid RFC 3986 scheme.
pub(super) fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

/// True when `url`'s scheme is `https`, in any case.
pub(super) fn is_https(url: &str) -> bool {
    split_scheme(url).is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("https"))
}

/// Checks `host[:port]` (no user information) and returns the host (`[…]` kept for IPv6).
pub(super) fn check_authority(authority: &str) -> Result<&str, &'static str> {
    if authority.contains('@') {
        return Err("it must not contain user information");
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or("its [IPv6] host is not closed")?;
        v6.parse::<std::net::Ipv6Addr>()
            .map_err(|_| "its IPv6 host is invalid")?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("it has text after the [IPv6] host")?,
            ),
        };
        (&authority[..v6.len() + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("it has no host");
    }
    if !host.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '%'))
    {
        return Err("its host is invalid");
    }
    if let Some(port) = port
        && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|n| n > 0))
    {
        return Err("its port is invalid");
    }
    Ok(host)
}

/// The facts about an absolute `http`/`https` URL that the rules need.
pub(super) struct HttpUrl {
    pub(super) has_query: bool,
    pub(super) has_fragment: bool,
}

/// Checks an absolute `http`/`https` URL with a valid authority and tells whether it has a query or a
/// fragment.
pub(super) fn parse_http_url(raw: &str) -> Result<HttpUrl, String> {
    let fail = |why: &str| format!("{raw:?} is not an absolute http/https URL: {why}");
    if has_bad_chars(raw) {
        return Err(fail("it contains spaces or control characters"));
    }
    let Some((scheme, rest)) = split_scheme(raw) else {
        return Err(fail("it has no scheme"));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(fail("its scheme must be http or https"));
    }
    let Some(rest) = rest.strip_prefix("//") else {
        return Err(fail("it has no host"));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    check_authority(&rest[..end]).map_err(fail)?;
    let tail = &rest[end..];
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((before, _)) => (before, true),
        None => (tail, false),
    };
    Ok(HttpUrl {
        has_query: before_fragment.contains('?'),
        has_fragment: fragment,
    })
}

/// An absolute http/https URL without fragment (provider callback URLs, OTLP endpoint).
pub(super) fn check_url(raw: &str) -> Result<(), String> {
    if parse_http_url(raw)?.has_fragment {
        return Err(format!("{raw:?} must not contain a fragment (#)"));
    }
    Ok(())
}

/// An endpoint override (provider or AWS endpoint): absolute http/https URL, no query, no fragment.
pub(super) fn check_endpoint(raw: &str) -> Result<(), String> {
    let url = parse_http_url(raw)?;
    if url.has_query || url.has_fragment {
        return Err(format!(
            "{raw:?} must not contain a query (?) or a fragment (#)"
        ));
    }
    Ok(())
}

/// Base64 decoding that accepts padding or its absence.
const LENIENT_BASE64: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT_BASE64);
/// The URL-safe alphabet with [`LENIENT_BASE64`] (Play Integrity certificate digests).
pub(super) const URL_SAFE_LENIENT: GeneralPurpose =
    GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT_BASE64);

/// Base64 in the standard or URL-safe alphabet, padding optional, surrounding whitespace ignored.
pub(super) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    STANDARD_LENIENT
        .decode(text)
        .or_else(|_| URL_SAFE_LENIENT.decode(text))
        .ok()
}
