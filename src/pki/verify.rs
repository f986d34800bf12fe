//! Client certificate verification and the SPKI pin.
//!
//! A presented client certificate passes nine steps, in order; the first that fails decides the
//! answer:
//!
//! 1. a certificate source yields a value (else 401 `certificate_required`);
//! 2. the value parses as X.509;
//! 3. it was signed by the current CA or, during a rotation, the previous one;
//! 4. it is within its validity, with 60 s leeway;
//! 5. it is an end-entity certificate for client authentication;
//! 6. its subject CN is a valid device id;
//! 7. a record (device id, serial) is registered — one strongly consistent point read;
//! 8. that record is not revoked;
//! 9. the record's fingerprint matches the presented DER.
//!
//! [`verify_presented`] decides steps 2–6, everything that needs no storage. The caller then reads
//! the record (steps 7–8) and checks [`matches_record`] (step 9). Pure: no I/O.

use chrono::{DateTime, TimeDelta, Utc};
use der::{Decode, Encode, Tag, Tagged as _};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage};

use super::ca::CertificateAuthority;
use super::crypto::{self, SignedRaw, oid};
use super::{fingerprint_sha256, first_certificate_der, is_valid_device_id, serial_text};

/// Clock leeway applied to notBefore and notAfter, for devices whose clocks drift.
pub const LEEWAY_SECONDS: i64 = 60;

/// Why a presented certificate is rejected (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Step 2 or 6: not X.509, or the subject CN is not a valid device id.
    #[error("Client certificate is malformed")]
    Invalid,
    /// Step 3: not signed by the current or previous CA.
    #[error("Client certificate was not issued by this service")]
    Untrusted,
    /// Step 4: notBefore − 60 s is in the future.
    #[error("Certificate not yet valid")]
    NotYetValid,
    /// Step 4: notAfter + 60 s has passed.
    #[error("Certificate has expired")]
    Expired,
    /// Step 5: a CA certificate, or no clientAuth extended key usage.
    #[error("Certificate is not valid for client authentication")]
    WrongUsage,
}

impl Rejection {
    /// The `error` code of the problem document.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::Invalid => "certificate_invalid",
            Rejection::Untrusted => "certificate_untrusted",
            Rejection::NotYetValid => "certificate_not_yet_valid",
            Rejection::Expired => "certificate_expired",
            Rejection::WrongUsage => "certificate_wrong_usage",
        }
    }
}

/// A certificate that passed steps 2–6: who it claims to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedCertificate {
    /// The subject CN, a valid device id.
    pub device_id: String,
    /// Serial text.
    pub serial: String,
    /// Lower-case hex SHA-256 of the presented DER.
    pub fingerprint_sha256: String,
    /// Whether the previous CA (not the current one) signed it.
    pub issued_by_previous_ca: bool,
}

/// Which CA signed a certificate (verification step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuer {
    /// The current CA.
    Current,
    /// The previous CA, during a rotation (ignored once its own certificate has expired).
    Previous,
}

/// Verification steps 2–3 for the DER `der` at `now`: it parses as X.509 and its signature verifies
/// with the key of the current CA, or else of the previous one, among those whose subject is the
/// issuer. The TLS door's handshake uses this alone (validity, usage and registration are then
/// decided per request, with their own 403s); [`verify_presented`] starts with it.
pub fn check_issuer(
    ca: &CertificateAuthority,
    der: &[u8],
    now: DateTime<Utc>,
) -> Result<Issuer, Rejection> {
    let cert = x509_cert::Certificate::from_der(der).map_err(|_| Rejection::Invalid)?;
    let signed = SignedRaw::parse(der).ok_or(Rejection::Invalid)?;
    let fields = crypto::certificate_tbs_fields(&signed).ok_or(Rejection::Invalid)?;
    let issuer = fields[2].to_der().map_err(|_| Rejection::Invalid)?;
    if cert.tbs_certificate.signature != cert.signature_algorithm {
        return Err(Rejection::Invalid);
    }
    let current = ca.current();
    if current.subject_der() == issuer.as_slice() && signed.verify_with(current.public_key()) {
        return Ok(Issuer::Current);
    }
    let by_previous = ca.previous(now).is_some_and(|previous| {
        previous.subject_der() == issuer.as_slice() && signed.verify_with(previous.public_key())
    });
    if by_previous {
        Ok(Issuer::Previous)
    } else {
        Err(Rejection::Untrusted)
    }
}

/// Steps 2–6 for the DER `der` at `now`, in order: parses as X.509, signed by the current or
/// previous CA, within its validity, an end-entity certificate for client authentication, and a
/// valid device id as subject CN.
pub fn verify_presented(
    ca: &CertificateAuthority,
    der: &[u8],
    now: DateTime<Utc>,
) -> Result<PresentedCertificate, Rejection> {
    // Steps 2 and 3: parses as X.509 (strict DER, nothing trailing), signed by the current or the
    // previous CA.
    let by_previous = check_issuer(ca, der, now)? == Issuer::Previous;
    let cert = x509_cert::Certificate::from_der(der).map_err(|_| Rejection::Invalid)?;
    let tbs = &cert.tbs_certificate;

    // Step 4: validity with leeway.
    let seconds = |t: x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs()).map_err(|_| Rejection::Invalid)
    };
    let leeway = TimeDelta::seconds(LEEWAY_SECONDS);
    let not_before =
        DateTime::from_timestamp(seconds(tbs.validity.not_before)?, 0).ok_or(Rejection::Invalid)?;
    let not_after =
        DateTime::from_timestamp(seconds(tbs.validity.not_after)?, 0).ok_or(Rejection::Invalid)?;
    if now < not_before - leeway {
        return Err(Rejection::NotYetValid);
    }
    if now > not_after + leeway {
        return Err(Rejection::Expired);
    }

    // Step 5: an end-entity certificate for client authentication.
    match tbs.get::<BasicConstraints>() {
        Ok(Some((_, bc))) if bc.ca => return Err(Rejection::WrongUsage),
        Ok(_) => {}
        Err(_) => return Err(Rejection::Invalid),
    }
    match tbs.get::<ExtendedKeyUsage>() {
        Ok(Some((_, eku))) if eku.0.contains(&oid::CLIENT_AUTH) => {}
        Ok(_) => return Err(Rejection::WrongUsage),
        Err(_) => return Err(Rejection::Invalid),
    }

    // Step 6: the subject CN is a valid device id.
    let mut common_names = tbs
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oid::COMMON_NAME);
    let cn = match (common_names.next(), common_names.next()) {
        (Some(cn), None) => cn,
        _ => return Err(Rejection::Invalid),
    };
    let text_tags = [
        Tag::Utf8String,
        Tag::PrintableString,
        Tag::Ia5String,
        Tag::TeletexString,
    ];
    if !text_tags.contains(&cn.value.tag()) {
        return Err(Rejection::Invalid);
    }
    let device_id = std::str::from_utf8(cn.value.value()).map_err(|_| Rejection::Invalid)?;
    if !is_valid_device_id(device_id) {
        return Err(Rejection::Invalid);
    }

    Ok(PresentedCertificate {
        device_id: device_id.to_owned(),
        serial: serial_text(tbs.serial_number.as_bytes()),
        fingerprint_sha256: fingerprint_sha256(der),
        issued_by_previous_ca: by_previous,
    })
}

/// Step 9: the registered fingerprint (or, for records of the previous service without one, the
/// fingerprint of the registered PEM) equals the presented one. Compared in constant time.
pub fn matches_record(
    presented: &PresentedCertificate,
    record_fingerprint: Option<&str>,
    record_pem: &str,
) -> bool {
    let registered = match record_fingerprint {
        Some(f) => f.to_ascii_lowercase(),
        None => match first_certificate_der(record_pem) {
            Some(der) => fingerprint_sha256(&der),
            None => return false,
        },
    };
    bool::from(
        registered
            .as_bytes()
            .ct_eq(presented.fingerprint_sha256.as_bytes()),
    )
}

/// The SPKI pin of a CA certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// SHA-256 of the DER SubjectPublicKeyInfo, standard base64 with padding (44 characters).
    pub sha256_base64: String,
    /// The same digest in lower-case hex (64 characters).
    pub sha256_hex: String,
}

impl Pin {
    /// The pin of a DER SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Pin {
        use base64::Engine as _;
        let digest = Sha256::digest(spki_der);
        Pin {
            sha256_base64: base64::engine::general_purpose::STANDARD.encode(digest),
            sha256_hex: hex::encode(digest),
        }
    }
}

#[cfg(test)]
mod tests {
    use pkcs8::EncodePublicKey as _;
    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::pki::ca::{self, CaSubject, KeyType};
    use crate::pki::profile::{self, LeafSpec};

    fn ca(now: DateTime<Utc>) -> CertificateAuthority {
        let generated = ca::generate(KeyType::EcP256, &CaSubject::Development, 30, now).unwrap();
        CertificateAuthority::load(
            generated.key_pem.expose_secret(),
            &generated.cert_pem,
            None,
            now,
        )
        .unwrap()
        .ca
    }

    fn spki() -> Vec<u8> {
        p256::SecretKey::random(&mut rand_core06::OsRng)
            .public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn an_issued_certificate_verifies_and_names_its_device_and_serial() {
        let now = Utc::now();
        let ca = ca(now);
        let key = spki();
        let issued = profile::issue(&ca, &LeafSpec::profile("dev-12345", &key, now, 30)).unwrap();
        let presented = verify_presented(&ca, &issued.der, now).unwrap();
        assert_eq!(presented.device_id, "dev-12345");
        assert_eq!(presented.serial, issued.serial);
        assert_eq!(presented.serial.len(), 32);
        assert!(!presented.issued_by_previous_ca);
        assert!(matches_record(
            &presented,
            Some(&issued.fingerprint_sha256),
            ""
        ));
        assert!(matches_record(&presented, None, &issued.pem));
        assert!(!matches_record(&presented, Some("00"), &issued.pem));
    }

    #[test]
    fn the_issuer_is_the_ca_subject_byte_for_byte() {
        let now = Utc::now();
        let ca = ca(now);
        let issued = profile::issue(&ca, &LeafSpec::profile("dev-12345", &spki(), now, 1)).unwrap();
        let signed = crypto::SignedRaw::parse(&issued.der).unwrap();
        let fields = crypto::certificate_tbs_fields(&signed).unwrap();
        assert_eq!(fields[2].to_der().unwrap(), ca.current().subject_der());
        assert_eq!(fields[5].to_der().unwrap(), spki_of(&issued.der));
    }

    fn spki_of(der: &[u8]) -> Vec<u8> {
        let signed = crypto::SignedRaw::parse(der).unwrap();
        crypto::certificate_tbs_fields(&signed).unwrap()[5]
            .to_der()
            .unwrap()
    }

    #[test]
    fn validity_leeway_is_sixty_seconds() {
        let now = Utc::now();
        let ca = ca(now);
        let key = spki();
        let mut spec = LeafSpec::profile("dev-12345", &key, now, 1);
        spec.not_after = now - TimeDelta::seconds(59);
        let der = profile::issue(&ca, &spec).unwrap().der;
        assert!(verify_presented(&ca, &der, now).is_ok());
        assert_eq!(
            verify_presented(&ca, &der, now + TimeDelta::seconds(2)),
            Err(Rejection::Expired)
        );
        let mut spec = LeafSpec::profile("dev-12345", &key, now, 1);
        spec.not_before = now + TimeDelta::seconds(61);
        let der = profile::issue(&ca, &spec).unwrap().der;
        assert_eq!(
            verify_presented(&ca, &der, now),
            Err(Rejection::NotYetValid)
        );
    }

    #[test]
    fn foreign_malformed_and_wrong_usage_certificates_are_rejected() {
        let now = Utc::now();
        let (ours, theirs) = (ca(now), ca(now));
        let key = spki();
        let foreign =
            profile::issue(&theirs, &LeafSpec::profile("dev-12345", &key, now, 1)).unwrap();
        assert_eq!(
            verify_presented(&ours, &foreign.der, now),
            Err(Rejection::Untrusted)
        );
        assert_eq!(
            verify_presented(&ours, b"\x30\x00", now),
            Err(Rejection::Invalid)
        );
        let mut spec = LeafSpec::profile("dev-12345", &key, now, 1);
        spec.client_auth = false;
        let der = profile::issue(&ours, &spec).unwrap().der;
        assert_eq!(
            verify_presented(&ours, &der, now),
            Err(Rejection::WrongUsage)
        );
        assert_eq!(
            verify_presented(&ours, ours.current().der(), now),
            Err(Rejection::WrongUsage)
        );
        let bad_cn = profile::issue(&ours, &LeafSpec::profile("../x", &key, now, 1)).unwrap();
        assert_eq!(
            verify_presented(&ours, &bad_cn.der, now),
            Err(Rejection::Invalid)
        );
    }

    #[test]
    fn the_pin_is_44_base64_and_64_hex_characters() {
        let pin = Pin::of_spki(b"anything");
        assert_eq!(pin.sha256_base64.len(), 44);
        assert_eq!(pin.sha256_hex.len(), 64);
    }
}
