//! The device PKI, as pure functions over bytes and times: no I/O, no axum, no store.
//!
//! - [`ca`]: CA material — key and certificate loading with its load-time checks, the CA
//!   certificate profile and key generation of `ca init` and the development CA;
//! - [`csr`]: the syntax (422) and semantic (400) rules for PKCS#10 requests;
//! - [`profile`]: the device certificate profile and issuance;
//! - [`source`]: decoding client certificates from the places an edge delivers them;
//! - [`verify`]: the client certificate checks that need no storage, the fingerprint match against
//!   the stored record, and the SPKI pin;
//! - [`crypto`]: key handling, signature verification and raw DER helpers shared by the others.
//!
//! Callers supply the current time, so every rule is testable at any instant. Loading the CA from
//! storage, persisting records and HTTP mapping live elsewhere (`authority`, `devices`, `http::device`).
//! Only RustCrypto crates are used: the binaries build as static musl executables without OpenSSL.

pub mod ca;
pub mod crypto;
pub mod csr;
pub mod profile;
pub mod source;
pub mod verify;

use sha2::{Digest, Sha256};

pub use ca::{CaLoadError, CertificateAuthority, KeyType};
pub use csr::CsrError;
pub use profile::IssuedCertificate;
pub use verify::{Pin, PresentedCertificate, Rejection};

/// The `device_id` pattern, as reported in validation messages.
pub const DEVICE_ID_PATTERN: &str = "^[A-Za-z0-9_-]{5,128}$";

/// Whether `value` is a valid `device_id`: 5–128 of `A-Z a-z 0-9 _ -`. No `/`, `.`, space
/// or anything else, so a valid id can never traverse a path or a key space.
pub fn is_valid_device_id(value: &str) -> bool {
    (5..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Serial text of a big-endian unsigned serial: upper-case hex, leading zero bytes
/// dropped, zero-padded to at least 32 digits.
pub fn serial_text(bytes: &[u8]) -> String {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let hex = hex::encode_upper(&bytes[first..]);
    format!("{hex:0>32}")
}

/// Whether two serial texts denote the same unsigned integer: case and leading zeros are
/// insignificant, as renewal compares a body serial with the presented one. Non-hex text never
/// matches.
pub fn same_serial(a: &str, b: &str) -> bool {
    fn normalised(s: &str) -> Option<String> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let trimmed = s.trim_start_matches('0');
        Some(trimmed.to_ascii_uppercase())
    }
    matches!((normalised(a), normalised(b)), (Some(x), Some(y)) if x == y)
}

/// Lower-case hex SHA-256 of `der` (the certificate fingerprint kept in each record).
pub fn fingerprint_sha256(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// PEM text of `der` under `label`: 64-character lines, LF endings, trailing newline.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// One PEM block found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    /// The label between `BEGIN ` and the dashes, e.g. `CERTIFICATE`.
    pub label: String,
    /// The decoded body; `None` when the body is not valid base64 or the block has no END line.
    pub der: Option<Vec<u8>>,
}

/// Every PEM block of `text`, in order. Whitespace inside a body is ignored (so `%0A`-decoded,
/// space-separated or single-line PEM all work); encapsulated headers are not supported.
pub fn pem_blocks(text: &str) -> Vec<PemBlock> {
    use base64::Engine as _;
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = after[..label_end].to_owned();
        let body_and_more = &after[label_end + 5..];
        let footer = format!("-----END {label}-----");
        let Some(end) = body_and_more.find(&footer) else {
            blocks.push(PemBlock { label, der: None });
            break;
        };
        let body: String = body_and_more[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .ok()
            .filter(|d| !d.is_empty());
        blocks.push(PemBlock { label, der });
        rest = &body_and_more[end + footer.len()..];
    }
    blocks
}

/// The DER of the first `CERTIFICATE` block of `text`, if it decodes.
pub fn first_certificate_der(text: &str) -> Option<Vec<u8>> {
    pem_blocks(text)
        .into_iter()
        .find(|b| b.label == "CERTIFICATE")
        .and_then(|b| b.der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_follow_the_pattern_and_reject_traversal() {
        assert!(is_valid_device_id("dev-12345"));
        assert!(is_valid_device_id(&"a".repeat(128)));
        for bad in [
            "abcd",
            "../etc",
            "a/bcdef",
            "dev 12345",
            "dev.12345",
            "",
            "ñandú1",
        ] {
            assert!(!is_valid_device_id(bad), "{bad}");
        }
        assert!(!is_valid_device_id(&"a".repeat(129)));
    }

    #[test]
    fn serial_text_is_upper_hex_zero_padded_to_32_digits() {
        assert_eq!(serial_text(&[0x00, 0xab]), format!("{:0>32}", "AB"));
        assert_eq!(serial_text(&[0xff; 16]), "F".repeat(32));
        assert_eq!(serial_text(&[0x01; 17]).len(), 34);
    }

    #[test]
    fn serials_compare_as_unsigned_integers() {
        assert!(same_serial("00ab", "AB"));
        assert!(same_serial(&format!("{:0>32}", "5F"), "5f"));
        assert!(!same_serial("AB", "ABC"));
        assert!(!same_serial("", "0"));
        assert!(same_serial("0", "000"));
    }

    #[test]
    fn pem_is_64_column_lf_with_a_trailing_newline_and_round_trips() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = pem_encode("CERTIFICATE", &der);
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert!(!pem.contains('\r'));
        let flattened = pem.replace('\n', " ");
        assert_eq!(first_certificate_der(&flattened), Some(der));
    }
}
