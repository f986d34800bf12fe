//! Decoding client certificates from where an edge delivers them.
//!
//! Each function takes the raw value of one source and returns the DER of the client (first)
//! certificate, or `None` when the value cannot be decoded — the caller then rejects the request
//! (`certificate_invalid`) without trying later sources. Which sources are enabled and their order
//! is the caller's business (`http::extract`). Pure: no I/O.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::first_certificate_der;

const PEM_MARKER: &str = "-----BEGIN CERTIFICATE-----";

/// The Lambda request context (`clientCertPem`): PEM as given.
pub fn from_lambda_context(pem: &str) -> Option<Vec<u8>> {
    first_certificate_der(pem)
}

/// An ALB mTLS header (`X-Amzn-Mtls-Clientcert[-Leaf]`): percent-decoding, then PEM (leaf first).
pub fn from_alb(value: &str) -> Option<Vec<u8>> {
    first_certificate_der(&percent_decode(value)?)
}

/// The configured header (`X-Client-Cert`): percent-decoding, then PEM when it contains a PEM marker,
/// else base64 DER (standard or URL-safe alphabet, padding optional, whitespace ignored).
pub fn from_header(value: &str) -> Option<Vec<u8>> {
    pem_or_base64(&percent_decode(value)?)
}

/// `X-Forwarded-Client-Cert`: the `Cert` value of the first element, percent-decoded, then PEM or
/// base64 DER.
pub fn from_xfcc(value: &str) -> Option<Vec<u8>> {
    let cert = xfcc_cert(value)?;
    pem_or_base64(&percent_decode(&cert)?)
}

/// Percent-decoding where `+` stays `+` (not form decoding); `None` when the result is not UTF-8.
pub fn percent_decode(value: &str) -> Option<String> {
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn pem_or_base64(text: &str) -> Option<Vec<u8>> {
    if text.contains(PEM_MARKER) {
        first_certificate_der(text)
    } else {
        lenient_base64(text)
    }
}

/// Base64 in either alphabet, padding optional, whitespace ignored.
fn lenient_base64(text: &str) -> Option<Vec<u8>> {
    let normalised: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    if normalised.is_empty() {
        return None;
    }
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    engine.decode(normalised.as_bytes()).ok()
}

/// Splits `text` on `separator` outside double quotes.
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The `Cert` value of the first XFCC element (elements split on `,`, pairs on `;`, values optionally
/// quoted).
pub fn xfcc_cert(value: &str) -> Option<String> {
    let first = split_unquoted(value, ',').into_iter().next()?;
    split_unquoted(first, ';').into_iter().find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("cert") {
            return None;
        }
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .map(|v| v.replace("\\\"", "\"").replace("\\\\", "\\"))
            .unwrap_or_else(|| value.to_owned());
        Some(unquoted)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x05];

    fn pem() -> String {
        crate::pki::pem_encode("CERTIFICATE", DER)
    }

    #[test]
    fn header_accepts_percent_encoded_pem_and_keeps_plus_signs() {
        let encoded: String =
            percent_encoding::utf8_percent_encode(&pem(), percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(from_header(&encoded), Some(DER.to_vec()));
        assert_eq!(percent_decode("a+b%2Bc").as_deref(), Some("a+b+c"));
    }

    #[test]
    fn header_accepts_single_line_and_space_separated_pem() {
        let single = pem().replace('\n', "");
        assert_eq!(from_header(&single), Some(DER.to_vec()));
        assert_eq!(from_header(&pem().replace('\n', " ")), Some(DER.to_vec()));
    }

    #[test]
    fn header_accepts_bare_base64_der_in_either_alphabet_with_or_without_padding() {
        let der: Vec<u8> = (0..=255u8).collect();
        let std = base64::engine::general_purpose::STANDARD.encode(&der);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der);
        assert_eq!(from_header(&std), Some(der.clone()));
        assert_eq!(from_header(&url), Some(der.clone()));
        assert_eq!(from_header(&format!(" {} ", &std)), Some(der));
        assert_eq!(from_header("***not base64***"), None);
    }

    #[test]
    fn xfcc_takes_the_cert_of_the_first_element_even_with_quoted_commas() {
        let encoded: String =
            percent_encoding::utf8_percent_encode(&pem(), percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let value = format!(
            "By=spiffe://a;Hash=ab;Subject=\"CN=x,O=y\";Cert=\"{encoded}\",By=other;Cert=zzz"
        );
        assert_eq!(from_xfcc(&value), Some(DER.to_vec()));
        assert_eq!(xfcc_cert("Hash=1;cert=abc").as_deref(), Some("abc"));
        assert_eq!(xfcc_cert("Hash=1"), None);
    }

    #[test]
    fn alb_values_are_percent_decoded_pem_with_the_leaf_first() {
        let chain = format!(
            "{}{}",
            pem(),
            crate::pki::pem_encode("CERTIFICATE", &[0x05])
        );
        let encoded: String =
            percent_encoding::utf8_percent_encode(&chain, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(from_alb(&encoded), Some(DER.to_vec()));
        assert_eq!(from_alb("%FF%FE"), None);
    }
}
