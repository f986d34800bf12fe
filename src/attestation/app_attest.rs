//! App Attest attestation objects, checked against the Apple App Attestation Root CA.
//!
//! [`AppAttest::verify`] runs checks 1–8 in order: the CBOR structure, the certificate chain to the
//! trust anchor, the nonce extension, the key id, then the authenticator data (RP ID hash, counter,
//! AAGUID, credential id). The caller records the evidence (check 9, storage). The receipt is not
//! evaluated. The Apple root is embedded in the binary; tests may build a verifier over another anchor.
//! Pure: no I/O, the clock is a parameter.

use chrono::{DateTime, Utc};
use ciborium::Value as Cbor;
use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, OctetStringRef};
use der::{Decode as _, Encode as _, Reader as _, SliceReader, Tag, TagNumber, Tagged as _};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::ext::pkix::BasicConstraints;

use super::{Rejection, decode_base64_lenient};
use crate::config::{AppAttestConfig, AppAttestEnvironment};
use crate::pki::crypto::{PublicKey, SignedRaw};

/// The Apple App Attestation Root CA certificate (PEM), embedded in the binary.
pub const APPLE_ROOT_PEM: &str = include_str!("apple-app-attestation-root-ca.pem");

/// `failed`: not a decodable `apple-appattest` CBOR attestation object (check 1).
pub const MALFORMED: &str = "attestation object is malformed";
/// `failed`: the x5c chain does not verify to the trust anchor, or is not valid now (check 2).
pub const CHAIN_INVALID: &str = "certificate chain is invalid";
/// `failed`: `key_id` is not base64 (check 4).
pub const KEY_ID_NOT_BASE64: &str = "key_id is not valid base64";
/// `failed`: the authenticator data is shorter than its fixed part (check 5).
pub const AUTH_DATA_MALFORMED: &str = "authenticator data is malformed";

/// Advice of check 3.
pub const NONCE_MISMATCH: &str = "NONCE_MISMATCH";
/// Advice of check 4.
pub const KEY_ID_MISMATCH: &str = "KEY_ID_MISMATCH";
/// Advice of check 5.
pub const APP_ID_MISMATCH: &str = "APP_ID_MISMATCH";
/// Advice of check 6.
pub const COUNTER_NOT_ZERO: &str = "COUNTER_NOT_ZERO";
/// Advice of check 7.
pub const ENVIRONMENT_MISMATCH: &str = "ENVIRONMENT_MISMATCH";
/// Advice of check 8.
pub const CREDENTIAL_ID_MISMATCH: &str = "CREDENTIAL_ID_MISMATCH";

/// The extension of the credential certificate that carries the nonce.
pub const NONCE_EXTENSION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113635.100.8.2");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// AAGUID of the production environment: `appattest` followed by seven zero bytes.
pub const AAGUID_PRODUCTION: [u8; 16] = *b"appattest\0\0\0\0\0\0\0";
/// AAGUID of the development environment.
pub const AAGUID_DEVELOPMENT: [u8; 16] = *b"appattestdevelop";

/// Fixed part of the authenticator data: RP ID hash (32), flags (1), counter (4), AAGUID (16), credential
/// id length (2).
const AUTH_DATA_FIXED: usize = 55;

/// The certificate every chain must end at.
#[derive(Debug, Clone)]
struct TrustAnchor {
    subject_der: Vec<u8>,
    key: PublicKey,
    not_before: i64,
    not_after: i64,
}

/// A configured App Attest verifier.
#[derive(Debug, Clone)]
pub struct AppAttest {
    rp_id_hash: [u8; 32],
    aaguid: [u8; 16],
    anchor: Option<TrustAnchor>,
}

/// The DER of the embedded Apple root.
pub fn apple_root_der() -> Vec<u8> {
    der::pem::decode_vec(APPLE_ROOT_PEM.as_bytes())
        .map(|(_, der)| der)
        .unwrap_or_default()
}

impl AppAttest {
    /// A verifier for the configured app, trusting the embedded Apple root.
    pub fn new(config: &AppAttestConfig) -> AppAttest {
        // The embedded root is part of the build and a unit test parses it; were it ever unreadable,
        // every chain would be refused rather than accepted.
        AppAttest::with_anchor(config, TrustAnchor::from_der(&apple_root_der()))
    }

    /// A verifier trusting `root_der` instead of Apple's root: for tests that build their own chains.
    pub fn with_trust_anchor(config: &AppAttestConfig, root_der: &[u8]) -> Option<AppAttest> {
        let anchor = TrustAnchor::from_der(root_der)?;
        Some(AppAttest::with_anchor(config, Some(anchor)))
    }

    fn with_anchor(config: &AppAttestConfig, anchor: Option<TrustAnchor>) -> AppAttest {
        let app_id = format!("{}.{}", config.team_id, config.bundle_id);
        AppAttest {
            rp_id_hash: Sha256::digest(app_id.as_bytes()).into(),
            aaguid: match config.environment {
                AppAttestEnvironment::Production => AAGUID_PRODUCTION,
                AppAttestEnvironment::Development => AAGUID_DEVELOPMENT,
            },
            anchor,
        }
    }

    /// Checks 1–8 over the decoded attestation object, in order: format, certificate chain, nonce,
    /// key id, app id, counter, environment and credential id. Replay (check 9) is the caller's.
    pub fn verify(
        &self,
        object: &[u8],
        key_id: &str,
        challenge: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Rejection> {
        // 1. CBOR: {fmt: "apple-appattest", attStmt: {x5c: [≥ 2 certificates], receipt}, authData}.
        let parsed = AttestationObject::parse(object).ok_or(Rejection::Failed(MALFORMED))?;
        // 2. x5c[0] ← x5c[1] ← trust anchor, all valid now.
        let credential = self.verify_chain(&parsed.x5c[0], &parsed.x5c[1], now)?;
        // 3. The nonce extension holds SHA-256(authData ‖ SHA-256(challenge)).
        let client_data_hash = Sha256::digest(challenge.as_bytes());
        let mut hasher = Sha256::new();
        hasher.update(&parsed.auth_data);
        hasher.update(client_data_hash);
        let nonce = hasher.finalize();
        if nonce_extension(&credential).as_deref() != Some(&nonce[..]) {
            return Err(Rejection::Invalid(NONCE_MISMATCH));
        }
        // 4. The key id is the SHA-256 of the credential's uncompressed P-256 point.
        let key_id =
            decode_base64_lenient(key_id.trim()).ok_or(Rejection::Failed(KEY_ID_NOT_BASE64))?;
        let point = credential
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .as_bytes()
            .filter(|p| p.len() == 65 && p[0] == 0x04);
        if point.is_none_or(|p| Sha256::digest(p)[..] != key_id[..]) {
            return Err(Rejection::Invalid(KEY_ID_MISMATCH));
        }
        // 5-8. Authenticator data.
        let auth = &parsed.auth_data;
        if auth.len() < AUTH_DATA_FIXED {
            return Err(Rejection::Failed(AUTH_DATA_MALFORMED));
        }
        if auth[0..32] != self.rp_id_hash {
            return Err(Rejection::Invalid(APP_ID_MISMATCH));
        }
        if auth[33..37] != [0, 0, 0, 0] {
            return Err(Rejection::Invalid(COUNTER_NOT_ZERO));
        }
        if auth[37..53] != self.aaguid {
            return Err(Rejection::Invalid(ENVIRONMENT_MISMATCH));
        }
        let length = usize::from(u16::from_be_bytes([auth[53], auth[54]]));
        if auth.get(AUTH_DATA_FIXED..AUTH_DATA_FIXED + length) != Some(&key_id[..]) {
            return Err(Rejection::Invalid(CREDENTIAL_ID_MISMATCH));
        }
        Ok(())
    }

    /// Check 2: each certificate is signed by the next, names chain, the intermediate is a CA, and every
    /// certificate including the anchor is valid at `now`. Returns the parsed credential certificate.
    fn verify_chain(
        &self,
        leaf_der: &[u8],
        intermediate_der: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Certificate, Rejection> {
        let invalid = Rejection::Failed(CHAIN_INVALID);
        let leaf = Certificate::from_der(leaf_der).map_err(|_| invalid)?;
        let intermediate = Certificate::from_der(intermediate_der).map_err(|_| invalid)?;
        let now = now.timestamp();
        let anchor = self.anchor.as_ref().ok_or(invalid)?;
        let chained = signed_by(leaf_der, &intermediate)
            && names_match(&leaf.tbs_certificate.issuer, &subject_der(&intermediate))
            && is_ca(&intermediate)
            && verify_signed(intermediate_der, &anchor.key)
            && names_match(&intermediate.tbs_certificate.issuer, &anchor.subject_der)
            && valid_at(&leaf, now)
            && valid_at(&intermediate, now)
            && (anchor.not_before..=anchor.not_after).contains(&now);
        if chained { Ok(leaf) } else { Err(invalid) }
    }
}

impl TrustAnchor {
    fn from_der(der: &[u8]) -> Option<TrustAnchor> {
        let cert = Certificate::from_der(der).ok()?;
        let spki = cert.tbs_certificate.subject_public_key_info.to_der().ok()?;
        let validity = &cert.tbs_certificate.validity;
        Some(TrustAnchor {
            subject_der: subject_der(&cert),
            key: PublicKey::from_spki_der(&spki).ok()?,
            not_before: seconds(validity.not_before),
            not_after: seconds(validity.not_after),
        })
    }
}

/// The parts of an attestation object the checks use.
struct AttestationObject {
    x5c: Vec<Vec<u8>>,
    auth_data: Vec<u8>,
}

impl AttestationObject {
    fn parse(bytes: &[u8]) -> Option<AttestationObject> {
        let value: Cbor = ciborium::from_reader(bytes).ok()?;
        let map = value.as_map()?;
        let fmt = lookup(map, "fmt")?.as_text()?;
        if fmt != "apple-appattest" {
            return None;
        }
        let statement = lookup(map, "attStmt")?.as_map()?;
        let x5c: Vec<Vec<u8>> = lookup(statement, "x5c")?
            .as_array()?
            .iter()
            .map(|c| c.as_bytes().cloned())
            .collect::<Option<_>>()?;
        lookup(statement, "receipt")?.as_bytes()?;
        let auth_data = lookup(map, "authData")?.as_bytes()?.clone();
        (x5c.len() >= 2).then_some(AttestationObject { x5c, auth_data })
    }
}

fn lookup<'a>(map: &'a [(Cbor, Cbor)], key: &str) -> Option<&'a Cbor> {
    map.iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn subject_der(cert: &Certificate) -> Vec<u8> {
    cert.tbs_certificate.subject.to_der().unwrap_or_default()
}

fn names_match(issuer: &x509_cert::name::Name, subject_der: &[u8]) -> bool {
    issuer
        .to_der()
        .is_ok_and(|der| !der.is_empty() && der == subject_der)
}

fn signed_by(der: &[u8], issuer: &Certificate) -> bool {
    let Ok(spki) = issuer.tbs_certificate.subject_public_key_info.to_der() else {
        return false;
    };
    PublicKey::from_spki_der(&spki).is_ok_and(|key| verify_signed(der, &key))
}

fn verify_signed(der: &[u8], key: &PublicKey) -> bool {
    SignedRaw::parse(der).is_some_and(|signed| signed.verify_with(key))
}

fn is_ca(cert: &Certificate) -> bool {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == BASIC_CONSTRAINTS)
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|bc| bc.ca)
}

fn seconds(time: x509_cert::time::Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

fn valid_at(cert: &Certificate, now: i64) -> bool {
    let validity = &cert.tbs_certificate.validity;
    (seconds(validity.not_before)..=seconds(validity.not_after)).contains(&now)
}

/// The nonce of extension 1.2.840.113635.100.8.2: `SEQUENCE { [1] EXPLICIT OCTET STRING }`.
fn nonce_extension(cert: &Certificate) -> Option<Vec<u8>> {
    let extension = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == NONCE_EXTENSION)?;
    let sequence = AnyRef::from_der(extension.extn_value.as_bytes()).ok()?;
    if sequence.tag() != Tag::Sequence {
        return None;
    }
    let mut reader = SliceReader::new(sequence.value()).ok()?;
    while !reader.is_finished() {
        let element = AnyRef::decode(&mut reader).ok()?;
        let explicit_one = Tag::ContextSpecific {
            constructed: true,
            number: TagNumber::N1,
        };
        if element.tag() == explicit_one {
            return OctetStringRef::from_der(element.value())
                .ok()
                .map(|octets| octets.as_bytes().to_vec());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_apple_root_has_the_published_fingerprint() {
        let der = apple_root_der();
        assert_eq!(
            hex::encode(Sha256::digest(&der)),
            "1cb9823ba28ba6ad2d33a006941de2ae4f513ef1d4e831b9f7e0fa7b6242c932"
        );
        let anchor = TrustAnchor::from_der(&der).expect("the embedded root parses");
        assert!(matches!(anchor.key, PublicKey::P384(_)));
    }

    #[test]
    fn the_aaguids_are_sixteen_bytes_of_the_documented_text() {
        assert_eq!(&AAGUID_PRODUCTION[..9], b"appattest");
        assert!(AAGUID_PRODUCTION[9..].iter().all(|b| *b == 0));
        assert_eq!(&AAGUID_DEVELOPMENT, b"appattestdevelop");
    }
}
