//! The device certificate profile and the certificate assembly shared with the CA profile.
//!
//! Certificates are assembled field by field so the profile is exact: the issuer is copied byte for
//! byte from the CA certificate's subject, the public key byte for byte from the CSR, and the
//! extensions appear in the documented order. Pure: no I/O; the caller supplies the time.

use std::time::Duration;

use chrono::{DateTime, Datelike as _, TimeDelta, Timelike as _, Utc};
use const_oid::{AssociatedOid, ObjectIdentifier};
use der::asn1::{
    Any, AnyRef, BitStringRef, GeneralizedTime, Ia5String, OctetString, SetOfVec, UtcTime,
};
use der::{Decode, Encode, Sequence, Tag};
use spki::AlgorithmIdentifierRef;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::Version;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::{RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::ca::{CaKey, CertificateAuthority};
use super::crypto::{self, SignedRaw, oid};
use super::{fingerprint_sha256, pem_encode, serial_text};

/// Seconds certificates are back-dated, for clients whose clocks run slow.
pub const BACKDATE_SECONDS: i64 = 300;

/// A certificate issued to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// PEM: 64-character lines, LF, trailing newline.
    pub pem: String,
    /// DER.
    pub der: Vec<u8>,
    /// Serial text.
    pub serial: String,
    /// Issuance time, whole seconds.
    pub issued_at: DateTime<Utc>,
    /// notAfter.
    pub expires_at: DateTime<Utc>,
    /// Lower-case hex SHA-256 of the DER.
    pub fingerprint_sha256: String,
}

/// What a device certificate says. [`LeafSpec::profile`] is the device certificate profile; the
/// other combinations exist so tests can create the certificates verification must reject.
#[derive(Debug, Clone)]
pub struct LeafSpec<'a> {
    /// Subject CN and SAN device id.
    pub device_id: &'a str,
    /// The subject public key, DER SubjectPublicKeyInfo (from the CSR).
    pub spki_der: &'a [u8],
    /// Issuance time (truncated to whole seconds).
    pub issued_at: DateTime<Utc>,
    /// notBefore.
    pub not_before: DateTime<Utc>,
    /// notAfter.
    pub not_after: DateTime<Utc>,
    /// Whether ExtendedKeyUsage carries clientAuth (profile: true).
    pub client_auth: bool,
    /// BasicConstraints CA flag (profile: false).
    pub ca: bool,
}

impl<'a> LeafSpec<'a> {
    /// The device certificate profile: notBefore = issuance − 300 s, notAfter = issuance +
    /// `validity_days`.
    pub fn profile(
        device_id: &'a str,
        spki_der: &'a [u8],
        now: DateTime<Utc>,
        validity_days: u32,
    ) -> LeafSpec<'a> {
        let issued_at = whole_seconds(now);
        LeafSpec {
            device_id,
            spki_der,
            issued_at,
            not_before: issued_at - TimeDelta::seconds(BACKDATE_SECONDS),
            not_after: issued_at + TimeDelta::days(i64::from(validity_days)),
            client_auth: true,
            ca: false,
        }
    }
}

/// Issues a device certificate signed by `ca`'s current key.
pub fn issue(ca: &CertificateAuthority, spec: &LeafSpec<'_>) -> Result<IssuedCertificate, String> {
    let names = [
        Rdn::utf8(oid::COMMON_NAME, spec.device_id),
        Rdn::utf8(oid::ORGANIZATION, "Apuntador Devices"),
    ];
    let subject_der = encode_name(&names)?;
    let ski = crypto::key_identifier(spec.spki_der).ok_or("the subject public key is malformed")?;
    let uri = format!("urn:apuntador:device:{}", spec.device_id);
    let mut usages = Vec::new();
    if spec.client_auth {
        usages.push(oid::CLIENT_AUTH);
    } else {
        // A certificate "without clientAuth" still needs an EKU to be realistic: serverAuth.
        usages.push(ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1"));
    }
    let extensions = vec![
        extension(
            true,
            &BasicConstraints {
                ca: spec.ca,
                path_len_constraint: None,
            },
        )?,
        extension(
            true,
            &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment),
        )?,
        extension(false, &ExtendedKeyUsage(usages))?,
        extension(
            false,
            &SubjectAltName(vec![GeneralName::UniformResourceIdentifier(
                Ia5String::new(&uri).map_err(|e| format!("device URI: {e}"))?,
            )]),
        )?,
        extension(false, &ski_extension(&ski)?)?,
        extension(false, &aki(ca.current().key_identifier())?)?,
    ];
    let serial = random_serial();
    let der = sign_certificate(
        ca.key(),
        &CertificateFields {
            serial,
            issuer_der: ca.current().subject_der(),
            not_before: spec.not_before,
            not_after: spec.not_after,
            subject_der: &subject_der,
            spki_der: spec.spki_der,
            extensions,
        },
    )?;
    Ok(IssuedCertificate {
        pem: pem_encode("CERTIFICATE", &der),
        fingerprint_sha256: fingerprint_sha256(&der),
        serial: serial_text(&serial),
        issued_at: whole_seconds(spec.issued_at),
        expires_at: spec.not_after,
        der,
    })
}

/// One single-valued RDN of a name.
#[derive(Debug, Clone)]
pub(crate) struct Rdn {
    oid: ObjectIdentifier,
    tag: Tag,
    value: String,
}

impl Rdn {
    /// An attribute as UTF8String.
    pub(crate) fn utf8(oid: ObjectIdentifier, value: &str) -> Rdn {
        Rdn {
            oid,
            tag: Tag::Utf8String,
            value: value.to_owned(),
        }
    }

    /// An attribute as PrintableString (countryName).
    pub(crate) fn printable(oid: ObjectIdentifier, value: &str) -> Rdn {
        Rdn {
            oid,
            tag: Tag::PrintableString,
            value: value.to_owned(),
        }
    }
}

/// Encodes an RDN sequence, one attribute per RDN, in the given order.
pub(crate) fn encode_name(names: &[Rdn]) -> Result<Vec<u8>, String> {
    let mut rdns = Vec::with_capacity(names.len());
    for name in names {
        let value =
            Any::new(name.tag, name.value.as_bytes()).map_err(|e| format!("name value: {e}"))?;
        let atv = AttributeTypeAndValue {
            oid: name.oid,
            value,
        };
        let set = SetOfVec::try_from(vec![atv]).map_err(|e| format!("name: {e}"))?;
        rdns.push(RelativeDistinguishedName(set));
    }
    RdnSequence(rdns).to_der().map_err(|e| format!("name: {e}"))
}

/// An extension carrying `value`, with its associated OID.
pub(crate) fn extension<T: AssociatedOid + Encode>(
    critical: bool,
    value: &T,
) -> Result<Extension, String> {
    let bytes = value.to_der().map_err(|e| format!("extension: {e}"))?;
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(bytes).map_err(|e| format!("extension: {e}"))?,
    })
}

/// A SubjectKeyIdentifier of `id`.
pub(crate) fn ski_extension(id: &[u8]) -> Result<SubjectKeyIdentifier, String> {
    OctetString::new(id)
        .map(SubjectKeyIdentifier)
        .map_err(|e| format!("SKI: {e}"))
}

/// An AuthorityKeyIdentifier carrying only `id`.
pub(crate) fn aki(id: &[u8]) -> Result<AuthorityKeyIdentifier, String> {
    Ok(AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(id).map_err(|e| format!("AKI: {e}"))?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    })
}

/// 16 CSPRNG bytes, never all zero: an unsigned serial (DER adds the 0x00 the top bit needs).
pub(crate) fn random_serial() -> [u8; 16] {
    loop {
        let bytes: [u8; 16] = rand::random();
        if bytes != [0; 16] {
            return bytes;
        }
    }
}

/// `at` without its sub-second part.
pub fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_nanosecond(0).unwrap_or(at)
}

/// An X.509 time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 section 4.1.2.5).
fn x509_time(at: DateTime<Utc>) -> Result<Time, String> {
    let secs = u64::try_from(at.timestamp()).map_err(|_| "time before 1970".to_owned())?;
    let since_epoch = Duration::from_secs(secs);
    if at.year() < 2050 {
        UtcTime::from_unix_duration(since_epoch)
            .map(Time::UtcTime)
            .map_err(|e| format!("time: {e}"))
    } else {
        GeneralizedTime::from_unix_duration(since_epoch)
            .map(Time::GeneralTime)
            .map_err(|e| format!("time: {e}"))
    }
}

/// The fields of a certificate to sign.
pub(crate) struct CertificateFields<'a> {
    pub(crate) serial: [u8; 16],
    pub(crate) issuer_der: &'a [u8],
    pub(crate) not_before: DateTime<Utc>,
    pub(crate) not_after: DateTime<Utc>,
    pub(crate) subject_der: &'a [u8],
    pub(crate) spki_der: &'a [u8],
    pub(crate) extensions: Vec<Extension>,
}

/// TBSCertificate with raw names and key, so they are copied byte for byte.
#[derive(Sequence)]
struct TbsCertificateRaw<'a> {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: Version,
    serial_number: SerialNumber,
    signature: AlgorithmIdentifierRef<'a>,
    issuer: AnyRef<'a>,
    validity: Validity,
    subject: AnyRef<'a>,
    subject_public_key_info: AnyRef<'a>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT")]
    extensions: Vec<Extension>,
}

fn raw<'a>(what: &str, bytes: &'a [u8]) -> Result<AnyRef<'a>, String> {
    AnyRef::from_der(bytes).map_err(|e| format!("{what}: {e}"))
}

/// Assembles, signs and encodes a v3 certificate.
pub(crate) fn sign_certificate(
    key: &CaKey,
    fields: &CertificateFields<'_>,
) -> Result<Vec<u8>, String> {
    let algorithm = key.algorithm();
    let tbs = TbsCertificateRaw {
        version: Version::V3,
        serial_number: SerialNumber::new(&fields.serial).map_err(|e| format!("serial: {e}"))?,
        signature: algorithm,
        issuer: raw("issuer", fields.issuer_der)?,
        validity: Validity {
            not_before: x509_time(fields.not_before)?,
            not_after: x509_time(fields.not_after)?,
        },
        subject: raw("subject", fields.subject_der)?,
        subject_public_key_info: raw("public key", fields.spki_der)?,
        extensions: fields.extensions.clone(),
    }
    .to_der()
    .map_err(|e| format!("TBS: {e}"))?;
    let signature = key.sign(&tbs)?;
    SignedRaw {
        tbs: raw("TBS", &tbs)?,
        algorithm,
        signature: BitStringRef::from_bytes(&signature).map_err(|e| format!("signature: {e}"))?,
    }
    .to_der()
    .map_err(|e| format!("certificate: {e}"))
}
