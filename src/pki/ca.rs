//! CA material: the private key, the current certificate and the optional previous one.
//!
//! [`CertificateAuthority::load`] parses PEM text (PKCS#8, PKCS#1 or SEC1 keys; RSA 2048–8192, EC P-256
//! or P-384) and applies the load-time checks: the certificate parses, is a CA, carries the key's public
//! half and is currently valid. [`generate`] creates a new key and self-signed certificate with the
//! profile of `ca init`. Errors name the cause and never contain key material. Pure: no I/O.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, Null};
use der::{Decode, Encode};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _};
use secrecy::SecretString;
use spki::AlgorithmIdentifierRef;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use zeroize::Zeroizing;

use super::crypto::{self, PublicKey, SignedRaw, oid};
use super::profile::{self, CertificateFields, Rdn};
use super::verify::Pin;
use super::{fingerprint_sha256, pem_blocks, pem_encode};

/// Key types `ca init --key-type` can create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// `ec-p256` (default).
    EcP256,
    /// `ec-p384`.
    EcP384,
    /// `rsa-2048`.
    Rsa2048,
    /// `rsa-3072`.
    Rsa3072,
    /// `rsa-4096`.
    Rsa4096,
}

impl KeyType {
    /// Every key type, in the documented order.
    pub const ALL: [KeyType; 5] = [
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
    ];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::EcP256 => "ec-p256",
            KeyType::EcP384 => "ec-p384",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }

    /// Parses a command-line name (case-insensitive).
    pub fn parse(s: &str) -> Option<KeyType> {
        KeyType::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

/// Why CA material could not be loaded; the CA is then *unavailable*.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaLoadError {
    /// The key PEM holds no readable private key.
    #[error("the CA private key is not a readable PKCS#8, PKCS#1 or SEC1 PEM key")]
    KeyUnreadable,
    /// The key is encrypted.
    #[error("the CA private key is encrypted; only unencrypted keys are supported")]
    KeyEncrypted,
    /// The key is of an unsupported type or size.
    #[error(
        "the CA private key type is not supported ({0}); use RSA 2048-8192, EC P-256 or EC P-384"
    )]
    KeyUnsupported(String),
    /// The certificate PEM holds no parsable certificate.
    #[error("the CA certificate does not parse as X.509")]
    CertificateUnreadable,
    /// BasicConstraints CA:true is missing.
    #[error("the CA certificate is not a CA (BasicConstraints CA:true missing)")]
    NotACa,
    /// The certificate's public key is not the private key's.
    #[error("the CA certificate does not match the CA private key")]
    KeyMismatch,
    /// notBefore is in the future.
    #[error("the CA certificate is not valid yet (notBefore {0})")]
    NotYetValid(String),
    /// notAfter has passed.
    #[error("the CA certificate has expired (notAfter {0})")]
    Expired(String),
    /// The previous CA certificate does not parse or is not a CA.
    #[error("the previous CA certificate is unreadable or not a CA")]
    PreviousInvalid,
}

/// The CA's private key, ready to sign.
pub(crate) enum CaKey {
    Rsa(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

impl fmt::Debug for CaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaKey({})", self.describe())
    }
}

fn rsa_private(key: &rsa::pkcs1v15::SigningKey<sha2::Sha256>) -> &rsa::RsaPrivateKey {
    key.as_ref()
}

impl CaKey {
    /// Parses the first private key block of `pem`.
    fn from_pem(pem: &str) -> Result<CaKey, CaLoadError> {
        if pem.contains("ENCRYPTED") {
            return Err(CaLoadError::KeyEncrypted);
        }
        let block = pem_blocks(pem)
            .into_iter()
            .find(|b| b.label.ends_with("PRIVATE KEY"))
            .ok_or(CaLoadError::KeyUnreadable)?;
        let der = Zeroizing::new(block.der.ok_or(CaLoadError::KeyUnreadable)?);
        match block.label.as_str() {
            "PRIVATE KEY" => {
                let info = pkcs8::PrivateKeyInfo::from_der(&der)
                    .map_err(|_| CaLoadError::KeyUnreadable)?;
                let algorithm = info.algorithm.oid;
                if algorithm == oid::RSA_ENCRYPTION {
                    let key = rsa::RsaPrivateKey::from_pkcs8_der(&der)
                        .map_err(|_| CaLoadError::KeyUnreadable)?;
                    CaKey::rsa(key)
                } else if algorithm == oid::EC_PUBLIC_KEY {
                    let curve = info
                        .algorithm
                        .parameters
                        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                    match curve {
                        Some(c) if c == oid::SECP256R1 => p256::SecretKey::from_pkcs8_der(&der)
                            .map(|k| CaKey::P256(k.into()))
                            .map_err(|_| CaLoadError::KeyUnreadable),
                        Some(c) if c == oid::SECP384R1 => p384::SecretKey::from_pkcs8_der(&der)
                            .map(|k| CaKey::P384(k.into()))
                            .map_err(|_| CaLoadError::KeyUnreadable),
                        _ => Err(CaLoadError::KeyUnsupported("EC curve".into())),
                    }
                } else {
                    Err(CaLoadError::KeyUnsupported(format!(
                        "algorithm {algorithm}"
                    )))
                }
            }
            "RSA PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs1_der(&der)
                .map_err(|_| CaLoadError::KeyUnreadable)
                .and_then(CaKey::rsa),
            "EC PRIVATE KEY" => {
                let parsed =
                    sec1::EcPrivateKey::from_der(&der).map_err(|_| CaLoadError::KeyUnreadable)?;
                let curve = parsed.parameters.and_then(|p| p.named_curve());
                match curve {
                    Some(c) if c == oid::SECP256R1 => p256::SecretKey::from_sec1_der(&der)
                        .map(|k| CaKey::P256(k.into()))
                        .map_err(|_| CaLoadError::KeyUnreadable),
                    Some(c) if c == oid::SECP384R1 => p384::SecretKey::from_sec1_der(&der)
                        .map(|k| CaKey::P384(k.into()))
                        .map_err(|_| CaLoadError::KeyUnreadable),
                    _ => Err(CaLoadError::KeyUnsupported("EC curve".into())),
                }
            }
            other => Err(CaLoadError::KeyUnsupported(format!("PEM label {other}"))),
        }
    }

    fn rsa(key: rsa::RsaPrivateKey) -> Result<CaKey, CaLoadError> {
        use rsa::traits::PublicKeyParts as _;
        let bits = key.n().bits();
        if !(2048..=8192).contains(&bits) {
            return Err(CaLoadError::KeyUnsupported(format!("RSA {bits} bits")));
        }
        Ok(CaKey::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(key))))
    }

    /// A fresh key of `key_type`.
    fn generate(key_type: KeyType) -> Result<CaKey, String> {
        let mut rng = rand_core06::OsRng;
        let rsa = |bits: usize| {
            rsa::RsaPrivateKey::new(&mut rand_core06::OsRng, bits)
                .map(|k| CaKey::Rsa(Box::new(rsa::pkcs1v15::SigningKey::new(k))))
                .map_err(|e| format!("RSA key generation failed: {e}"))
        };
        match key_type {
            KeyType::EcP256 => Ok(CaKey::P256(p256::ecdsa::SigningKey::random(&mut rng))),
            KeyType::EcP384 => Ok(CaKey::P384(p384::ecdsa::SigningKey::random(&mut rng))),
            KeyType::Rsa2048 => rsa(2048),
            KeyType::Rsa3072 => rsa(3072),
            KeyType::Rsa4096 => rsa(4096),
        }
    }

    /// A description such as `ec-p256` or `rsa-4096`, safe to log.
    pub(crate) fn describe(&self) -> String {
        match self {
            CaKey::Rsa(key) => {
                use rsa::traits::PublicKeyParts as _;
                format!("rsa-{}", rsa_private(key).n().bits())
            }
            CaKey::P256(_) => "ec-p256".into(),
            CaKey::P384(_) => "ec-p384".into(),
        }
    }

    /// The DER SubjectPublicKeyInfo of the key's public half.
    pub(crate) fn spki_der(&self) -> Result<Vec<u8>, String> {
        let doc = match self {
            CaKey::Rsa(key) => rsa_private(key).to_public_key().to_public_key_der(),
            CaKey::P256(key) => key.verifying_key().to_public_key_der(),
            CaKey::P384(key) => key.verifying_key().to_public_key_der(),
        };
        doc.map(|d| d.as_bytes().to_vec())
            .map_err(|e| format!("encoding the CA public key failed: {e}"))
    }

    /// The PKCS#8 PEM of the key (for `ca init` to store; never logged).
    fn to_pkcs8_pem(&self) -> Result<SecretString, String> {
        let pem = match self {
            CaKey::Rsa(key) => rsa_private(key).to_pkcs8_pem(pkcs8::LineEnding::LF),
            CaKey::P256(key) => key.to_pkcs8_pem(pkcs8::LineEnding::LF),
            CaKey::P384(key) => key.to_pkcs8_pem(pkcs8::LineEnding::LF),
        }
        .map_err(|_| "encoding the CA private key failed".to_owned())?;
        Ok(SecretString::from(pem.as_str().to_owned()))
    }

    /// Whether `public` is this key's public half.
    fn matches(&self, public: &PublicKey) -> bool {
        match (self, public) {
            (CaKey::Rsa(key), PublicKey::Rsa(p)) => rsa_private(key).to_public_key() == *p,
            (CaKey::P256(key), PublicKey::P256(p)) => key.verifying_key() == p,
            (CaKey::P384(key), PublicKey::P384(p)) => key.verifying_key() == p,
            _ => false,
        }
    }

    /// The signature algorithm of the key: RSA → sha256WithRSAEncryption (NULL parameters),
    /// P-256 → ecdsa-with-SHA256, P-384 → ecdsa-with-SHA384.
    pub(crate) fn algorithm(&self) -> AlgorithmIdentifierRef<'static> {
        match self {
            CaKey::Rsa(_) => AlgorithmIdentifierRef {
                oid: oid::SHA256_WITH_RSA,
                parameters: Some(AnyRef::from(Null)),
            },
            CaKey::P256(_) => AlgorithmIdentifierRef {
                oid: oid::ECDSA_SHA256,
                parameters: None,
            },
            CaKey::P384(_) => AlgorithmIdentifierRef {
                oid: oid::ECDSA_SHA384,
                parameters: None,
            },
        }
    }

    /// Signs `message` with the algorithm of [`CaKey::algorithm`].
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        use signature::{RandomizedSigner as _, SignatureEncoding as _, Signer as _};
        match self {
            // Randomised signing blinds the RSA private-key operation.
            CaKey::Rsa(key) => key
                .try_sign_with_rng(&mut rand_core06::OsRng, message)
                .map(|s| s.to_vec())
                .map_err(|e| format!("RSA signing failed: {e}")),
            CaKey::P256(key) => key
                .try_sign(message)
                .map(|s: p256::ecdsa::Signature| s.to_der().as_bytes().to_vec())
                .map_err(|e| format!("ECDSA signing failed: {e}")),
            CaKey::P384(key) => key
                .try_sign(message)
                .map(|s: p384::ecdsa::Signature| s.to_der().as_bytes().to_vec())
                .map_err(|e| format!("ECDSA signing failed: {e}")),
        }
    }
}

/// A parsed CA certificate and the facts the PKI needs from it.
#[derive(Debug, Clone)]
pub struct CaCertificate {
    der: Vec<u8>,
    pem: String,
    subject_der: Vec<u8>,
    spki_der: Vec<u8>,
    key: PublicKey,
    key_identifier: Vec<u8>,
    is_ca: bool,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

impl CaCertificate {
    /// Parses the first certificate of `pem`.
    pub fn from_pem(pem: &str) -> Option<CaCertificate> {
        CaCertificate::from_der(&super::first_certificate_der(pem)?)
    }

    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Option<CaCertificate> {
        let cert = x509_cert::Certificate::from_der(der).ok()?;
        let signed = SignedRaw::parse(der)?;
        let fields = crypto::certificate_tbs_fields(&signed)?;
        let subject_der = fields[4].to_der().ok()?;
        let spki_der = fields[5].to_der().ok()?;
        let key = PublicKey::from_spki_der(&spki_der).ok()?;
        let tbs = &cert.tbs_certificate;
        let is_ca = matches!(tbs.get::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca);
        let key_identifier = match tbs.get::<SubjectKeyIdentifier>() {
            Ok(Some((_, ski))) => ski.0.as_bytes().to_vec(),
            _ => crypto::key_identifier(&spki_der)?,
        };
        let to_utc = |t: x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs())
                .ok()
                .and_then(|s| DateTime::from_timestamp(s, 0))
        };
        Some(CaCertificate {
            pem: pem_encode("CERTIFICATE", der),
            der: der.to_vec(),
            subject_der,
            spki_der,
            key,
            key_identifier,
            is_ca,
            not_before: to_utc(tbs.validity.not_before)?,
            not_after: to_utc(tbs.validity.not_after)?,
        })
    }

    /// The certificate as PEM (64-column lines, LF, trailing newline).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The certificate DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The encoded subject name, byte for byte as in the certificate.
    pub fn subject_der(&self) -> &[u8] {
        &self.subject_der
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key identifier: the SubjectKeyIdentifier extension, else SHA-1 of the key bits.
    pub fn key_identifier(&self) -> &[u8] {
        &self.key_identifier
    }

    /// The certificate's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// notBefore.
    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    /// notAfter.
    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// Lower-case hex SHA-256 of the DER.
    pub fn fingerprint(&self) -> String {
        fingerprint_sha256(&self.der)
    }

    /// The SPKI pin: SHA-256 over the certificate's DER SubjectPublicKeyInfo.
    pub fn pin(&self) -> Pin {
        Pin::of_spki(&self.spki_der)
    }

    /// Whether this is a development CA certificate: its subject is, byte for byte, the
    /// `CN=Apuntador Development CA, O=Apuntador` the service writes when it creates one. A `ca init`
    /// subject always starts with a country (`C=`), so no `--common-name` can produce it.
    pub fn is_development(&self) -> bool {
        CaSubject::Development
            .encode()
            .is_ok_and(|dev| dev == self.subject_der)
    }

    /// The subject as RFC 4514 text, for `ca init` output.
    pub fn subject_text(&self) -> String {
        x509_cert::name::Name::from_der(&self.subject_der)
            .map(|n| n.to_string())
            .unwrap_or_default()
    }
}

/// The loaded CA: the signing key, its certificate and the optional previous certificate.
#[derive(Debug)]
pub struct CertificateAuthority {
    key: CaKey,
    current: CaCertificate,
    previous: Option<CaCertificate>,
}

/// A load that succeeded, with warnings to log (expiry within 30 days, expired previous CA).
#[derive(Debug)]
pub struct Loaded {
    /// The usable CA.
    pub ca: CertificateAuthority,
    /// Human-readable warnings, free of key material.
    pub warnings: Vec<String>,
}

impl CertificateAuthority {
    /// Loads CA material and applies the load-time checks at `now`: the certificate parses, is a
    /// CA, carries the key's public half and is valid.
    pub fn load(
        key_pem: &str,
        cert_pem: &str,
        previous_cert_pem: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Loaded, CaLoadError> {
        let key = CaKey::from_pem(key_pem)?;
        let current =
            CaCertificate::from_pem(cert_pem).ok_or(CaLoadError::CertificateUnreadable)?;
        if !current.is_ca {
            return Err(CaLoadError::NotACa);
        }
        if !key.matches(&current.key) {
            return Err(CaLoadError::KeyMismatch);
        }
        if now < current.not_before {
            return Err(CaLoadError::NotYetValid(current.not_before.to_rfc3339()));
        }
        if now > current.not_after {
            return Err(CaLoadError::Expired(current.not_after.to_rfc3339()));
        }
        let mut warnings = Vec::new();
        if current.not_after - now < TimeDelta::days(30) {
            warnings.push(format!(
                "the CA certificate expires soon (notAfter {}); rotate it with `apuntador-server ca init --rotate`",
                current.not_after.to_rfc3339()
            ));
        }
        let previous = match previous_cert_pem.filter(|p| !p.trim().is_empty()) {
            None => None,
            Some(pem) => {
                let previous = CaCertificate::from_pem(pem).ok_or(CaLoadError::PreviousInvalid)?;
                if !previous.is_ca {
                    return Err(CaLoadError::PreviousInvalid);
                }
                if previous.not_after < now {
                    warnings.push("the previous CA certificate has expired and is ignored".into());
                }
                Some(previous)
            }
        };
        Ok(Loaded {
            ca: CertificateAuthority {
                key,
                current,
                previous,
            },
            warnings,
        })
    }

    /// The current CA certificate.
    pub fn current(&self) -> &CaCertificate {
        &self.current
    }

    /// The previous CA certificate, while it has not expired at `now`.
    pub fn previous(&self, now: DateTime<Utc>) -> Option<&CaCertificate> {
        self.previous.as_ref().filter(|p| p.not_after >= now)
    }

    /// The key type, e.g. `ec-p256` or `rsa-4096`.
    pub fn key_type(&self) -> String {
        self.key.describe()
    }

    pub(crate) fn key(&self) -> &CaKey {
        &self.key
    }
}

/// Which subject a new CA certificate gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSubject {
    /// `ca init`: `C=ES, O=Apuntador, CN=<common name>`.
    Init {
        /// The common name (`--common-name`, default `Apuntador Certificate Authority`).
        common_name: String,
    },
    /// The development CA: `CN=Apuntador Development CA, O=Apuntador`.
    Development,
    /// `ca init --organization --country`: `C=<country>, O=<organization>, CN=<common name>`.
    Named {
        /// The common name.
        common_name: String,
        /// The organisation (`O`), 1-64 characters.
        organization: String,
        /// The ISO 3166 two-letter country code (`C`), upper case.
        country: String,
    },
}

/// The organisation `ca init` puts in the CA subject by default.
pub const DEFAULT_CA_ORGANIZATION: &str = "Apuntador";
/// The country `ca init` puts in the CA subject by default.
pub const DEFAULT_CA_COUNTRY: &str = "ES";
/// The common name of the development CA; a CA with this subject was created automatically.
pub const DEVELOPMENT_CA_COMMON_NAME: &str = "Apuntador Development CA";

impl CaSubject {
    /// The encoded subject name, as written into the certificate.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let names: Vec<Rdn> = match self {
            CaSubject::Init { common_name } => vec![
                Rdn::printable(oid::COUNTRY, DEFAULT_CA_COUNTRY),
                Rdn::utf8(oid::ORGANIZATION, DEFAULT_CA_ORGANIZATION),
                Rdn::utf8(oid::COMMON_NAME, common_name),
            ],
            CaSubject::Named {
                common_name,
                organization,
                country,
            } => vec![
                Rdn::printable(oid::COUNTRY, country),
                Rdn::utf8(oid::ORGANIZATION, organization),
                Rdn::utf8(oid::COMMON_NAME, common_name),
            ],
            CaSubject::Development => vec![
                Rdn::utf8(oid::COMMON_NAME, DEVELOPMENT_CA_COMMON_NAME),
                Rdn::utf8(oid::ORGANIZATION, "Apuntador"),
            ],
        };
        profile::encode_name(&names)
    }
}

/// The common name `ca init` uses by default.
pub const DEFAULT_CA_COMMON_NAME: &str = "Apuntador Certificate Authority";
/// Validity in days of `ca init` certificates by default.
pub const DEFAULT_CA_VALIDITY_DAYS: u32 = 3650;
/// Validity in days of the development CA.
pub const DEVELOPMENT_CA_VALIDITY_DAYS: u32 = 1825;

/// A freshly generated CA: key and certificate PEM.
pub struct GeneratedCa {
    /// The private key as PKCS#8 PEM; never logged or printed.
    pub key_pem: SecretString,
    /// The self-signed certificate PEM.
    pub cert_pem: String,
}

impl fmt::Debug for GeneratedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedCa")
            .field("key_pem", &"[redacted]")
            .field("cert_pem", &self.cert_pem.len())
            .finish()
    }
}

/// Generates a CA key of `key_type` and its self-signed certificate (the `ca init` profile): v3,
/// 128-bit random positive serial, subject = issuer, notBefore = now − 5 min, notAfter = now +
/// `validity_days`, BasicConstraints critical CA:true pathLen 0, KeyUsage critical keyCertSign +
/// cRLSign + digitalSignature, SKI = SHA-1 of the key bits, AKI = SKI.
pub fn generate(
    key_type: KeyType,
    subject: &CaSubject,
    validity_days: u32,
    now: DateTime<Utc>,
) -> Result<GeneratedCa, String> {
    let key = CaKey::generate(key_type)?;
    let subject_der = subject.encode()?;
    let spki_der = key.spki_der()?;
    let ski = crypto::key_identifier(&spki_der).ok_or("the CA public key is malformed")?;
    let now = profile::whole_seconds(now);
    let extensions = vec![
        profile::extension(
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: Some(0),
            },
        )?,
        profile::extension(
            true,
            &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign | KeyUsages::DigitalSignature),
        )?,
        profile::extension(false, &profile::ski_extension(&ski)?)?,
        profile::extension(false, &profile::aki(&ski)?)?,
    ];
    let der = profile::sign_certificate(
        &key,
        &CertificateFields {
            serial: profile::random_serial(),
            issuer_der: &subject_der,
            not_before: now - TimeDelta::seconds(300),
            not_after: now + TimeDelta::days(i64::from(validity_days)),
            subject_der: &subject_der,
            spki_der: &spki_der,
            extensions,
        },
    )?;
    Ok(GeneratedCa {
        key_pem: key.to_pkcs8_pem()?,
        cert_pem: pem_encode("CERTIFICATE", &der),
    })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    fn dev(now: DateTime<Utc>) -> GeneratedCa {
        generate(KeyType::EcP256, &CaSubject::Development, 30, now).unwrap()
    }

    #[test]
    fn only_the_development_subject_counts_as_the_development_ca() {
        let now = Utc::now();
        let development = CaCertificate::from_pem(&dev(now).cert_pem).unwrap();
        assert!(development.is_development());
        let lookalike = generate(
            KeyType::EcP256,
            &CaSubject::Init {
                common_name: "Apuntador Development CA".into(),
            },
            30,
            now,
        )
        .unwrap();
        assert!(
            !CaCertificate::from_pem(&lookalike.cert_pem)
                .unwrap()
                .is_development()
        );
    }

    #[test]
    fn a_named_subject_carries_its_organization_and_country() {
        let subject = CaSubject::Named {
            common_name: "Fleet CA".into(),
            organization: "Example Org".into(),
            country: "PT".into(),
        };
        let ca = generate(KeyType::EcP256, &subject, 10, Utc::now()).unwrap();
        let cert = CaCertificate::from_pem(&ca.cert_pem).unwrap();
        assert_eq!(cert.subject_text(), "CN=Fleet CA,O=Example Org,C=PT");
    }

    #[test]
    fn generated_cas_of_every_fast_key_type_load_and_report_their_type() {
        let now = Utc::now();
        for key_type in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
            let subject = CaSubject::Init {
                common_name: "Unit CA".into(),
            };
            let ca = generate(key_type, &subject, 10, now).unwrap();
            let loaded =
                CertificateAuthority::load(ca.key_pem.expose_secret(), &ca.cert_pem, None, now)
                    .unwrap();
            assert_eq!(loaded.ca.key_type(), key_type.as_str());
            assert_eq!(
                loaded.ca.current().subject_text(),
                "CN=Unit CA,O=Apuntador,C=ES"
            );
            assert_eq!(
                loaded.warnings.len(),
                1,
                "a 10-day CA expires within 30 days"
            );
            assert_eq!(loaded.ca.current().key_identifier().len(), 20);
        }
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_a_mismatch() {
        let now = Utc::now();
        let (a, b) = (dev(now), dev(now));
        let err = CertificateAuthority::load(a.key_pem.expose_secret(), &b.cert_pem, None, now)
            .unwrap_err();
        assert_eq!(err, CaLoadError::KeyMismatch);
    }

    #[test]
    fn expired_and_future_certificates_are_refused() {
        let now = Utc::now();
        let ca = dev(now);
        let key = ca.key_pem.expose_secret();
        assert!(matches!(
            CertificateAuthority::load(key, &ca.cert_pem, None, now + TimeDelta::days(31)),
            Err(CaLoadError::Expired(_))
        ));
        assert!(matches!(
            CertificateAuthority::load(key, &ca.cert_pem, None, now - TimeDelta::days(1)),
            Err(CaLoadError::NotYetValid(_))
        ));
    }

    #[test]
    fn unreadable_encrypted_and_unsupported_material_is_named_without_key_bytes() {
        let now = Utc::now();
        let ca = dev(now);
        let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = CertificateAuthority::load(garbage, &ca.cert_pem, None, now).unwrap_err();
        assert_eq!(err, CaLoadError::KeyUnreadable);
        assert!(!err.to_string().contains("AAAA"));
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(
            CertificateAuthority::load(encrypted, &ca.cert_pem, None, now).unwrap_err(),
            CaLoadError::KeyEncrypted
        );
        assert_eq!(
            CertificateAuthority::load(ca.key_pem.expose_secret(), "not a certificate", None, now)
                .unwrap_err(),
            CaLoadError::CertificateUnreadable
        );
        assert_eq!(
            CertificateAuthority::load(
                ca.key_pem.expose_secret(),
                &ca.cert_pem,
                Some("garbage"),
                now
            )
            .unwrap_err(),
            CaLoadError::PreviousInvalid
        );
    }

    #[test]
    fn an_expired_previous_ca_is_ignored() {
        let now = Utc::now();
        let old = dev(now - TimeDelta::days(40));
        let current = dev(now);
        let loaded = CertificateAuthority::load(
            current.key_pem.expose_secret(),
            &current.cert_pem,
            Some(&old.cert_pem),
            now,
        )
        .unwrap();
        assert!(loaded.ca.previous(now).is_none());
        assert!(loaded.warnings.iter().any(|w| w.contains("previous")));
    }

    #[test]
    fn key_types_parse_case_insensitively() {
        assert_eq!(KeyType::parse("RSA-4096"), Some(KeyType::Rsa4096));
        assert_eq!(KeyType::parse("ec-p521"), None);
    }
}
