//! PKCS#10 certificate signing requests.
//!
//! Two layers: [`check_syntax`] is the field rule of the request body (422 on `csr`), [`validate`] the
//! semantics (400 `invalid_csr`): exactly one PEM block holding a PKCS#10 structure, a self-signature
//! that verifies, and a supported key (RSA 2048–8192, EC P-256, EC P-384 or Ed25519). The CSR's subject,
//! attributes and requested extensions are ignored: only its public key is used. Pure: no I/O.

use der::{Decode, Encode};

use super::crypto::{KeyError, PublicKey, SignedRaw};
use super::pem_blocks;

/// Fewest characters a `csr` field may have.
pub const MIN_CHARS: usize = 100;
/// Most characters a `csr` field may have.
pub const MAX_CHARS: usize = 16_384;

const HEADER: &str = "-----BEGIN CERTIFICATE REQUEST-----";
const FOOTER: &str = "-----END CERTIFICATE REQUEST-----";

/// The syntax rule of the `csr` field (after its length is checked): the `value_error` message on
/// failure.
pub fn check_syntax(csr: &str) -> Result<(), &'static str> {
    let trimmed = csr.trim();
    if !trimmed.starts_with(HEADER) {
        return Err("CSR must be in PEM format");
    }
    if !trimmed.ends_with(FOOTER) {
        return Err("CSR must end with PEM footer");
    }
    Ok(())
}

/// Why a syntactically valid CSR cannot be used (400 `invalid_csr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    /// Not exactly one PEM block, or not a PKCS#10 structure.
    #[error("Invalid CSR format")]
    InvalidFormat,
    /// The self-signature does not verify.
    #[error("CSR signature is invalid")]
    InvalidSignature,
    /// The key is not RSA 2048–8192, EC P-256, EC P-384 or Ed25519.
    #[error("Unsupported key type")]
    UnsupportedKeyType,
}

/// A CSR that passed every check: what issuance needs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedCsr {
    /// The subject public key, DER SubjectPublicKeyInfo exactly as in the CSR.
    pub spki_der: Vec<u8>,
    /// `rsa-<bits>`, `ec-p256`, `ec-p384` or `ed25519`.
    pub key_type: String,
}

/// Applies the semantic rules (400 `invalid_csr`): exactly one PEM block holding a PKCS#10
/// structure, a self-signature that verifies, and a supported key type.
pub fn validate(csr: &str) -> Result<ValidatedCsr, CsrError> {
    let blocks = pem_blocks(csr);
    let [block] = blocks.as_slice() else {
        return Err(CsrError::InvalidFormat);
    };
    if block.label != "CERTIFICATE REQUEST" {
        return Err(CsrError::InvalidFormat);
    }
    let der = block.der.as_deref().ok_or(CsrError::InvalidFormat)?;
    // The typed parse checks the PKCS#10 structure; the raw split gives the signed bytes.
    x509_cert::request::CertReq::from_der(der).map_err(|_| CsrError::InvalidFormat)?;
    let signed = SignedRaw::parse(der).ok_or(CsrError::InvalidFormat)?;
    let elements = signed.tbs_elements().ok_or(CsrError::InvalidFormat)?;
    let spki_der = elements
        .get(2)
        .and_then(|e| e.to_der().ok())
        .ok_or(CsrError::InvalidFormat)?;
    let key = match PublicKey::from_spki_der(&spki_der) {
        Ok(key) => key,
        Err(KeyError::Unsupported) => return Err(CsrError::UnsupportedKeyType),
        Err(KeyError::Malformed) => return Err(CsrError::InvalidFormat),
    };
    // Every cheap check before the signature, whose cost grows with the key: a CSR with a huge RSA
    // key or a mismatched algorithm is refused without any big-number arithmetic.
    let key_type = match &key {
        PublicKey::Rsa(_) => {
            let bits = key.rsa_bits().unwrap_or(0);
            if !(2048..=8192).contains(&bits) {
                return Err(CsrError::UnsupportedKeyType);
            }
            format!("rsa-{bits}")
        }
        PublicKey::P256(_) => "ec-p256".into(),
        PublicKey::P384(_) => "ec-p384".into(),
        PublicKey::Ed25519(_) => "ed25519".into(),
    };
    if !key.accepts_algorithm(signed.algorithm.oid) || !signed.verify_with(&key) {
        return Err(CsrError::InvalidSignature);
    }
    Ok(ValidatedCsr { spki_der, key_type })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_requires_the_pem_header_and_footer_after_trimming() {
        assert_eq!(
            check_syntax(
                "  -----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n  "
            ),
            Ok(())
        );
        assert_eq!(check_syntax("MIIB..."), Err("CSR must be in PEM format"));
        assert_eq!(
            check_syntax("-----BEGIN CERTIFICATE REQUEST-----\nAAAA"),
            Err("CSR must end with PEM footer")
        );
    }

    #[test]
    fn a_key_outside_the_rsa_range_is_refused_before_its_signature_is_checked() {
        use crate::fuzz::fake_csr::fake_rsa_csr_pem;
        // The made-up signatures can never verify: were the signature checked first, these would be
        // "CSR signature is invalid" after seconds of big-number work for the largest keys.
        for bits in [1024, 16_384, 32_768] {
            let started = std::time::Instant::now();
            assert_eq!(
                validate(&fake_rsa_csr_pem(bits, 0x5a)),
                Err(CsrError::UnsupportedKeyType),
                "{bits} bits"
            );
            assert!(started.elapsed() < std::time::Duration::from_millis(50));
        }
        // Inside the range the signature is checked (and fails).
        for bits in [2048, 8192] {
            assert_eq!(
                validate(&fake_rsa_csr_pem(bits, 0x5a)),
                Err(CsrError::InvalidSignature),
                "{bits} bits"
            );
        }
    }

    #[test]
    fn anything_but_one_pkcs10_block_is_an_invalid_format() {
        let one = "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n";
        assert_eq!(validate(one), Err(CsrError::InvalidFormat));
        assert_eq!(validate(&one.repeat(2)), Err(CsrError::InvalidFormat));
        let other = one.replace("CERTIFICATE REQUEST", "CERTIFICATE");
        assert_eq!(validate(&other), Err(CsrError::InvalidFormat));
        assert_eq!(
            CsrError::UnsupportedKeyType.to_string(),
            "Unsupported key type"
        );
    }
}
