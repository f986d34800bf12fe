//! Key handling, signature verification and raw DER helpers shared by the PKI modules.
//!
//! Signed structures (certificates, CSRs) are split without re-encoding, so signatures are checked
//! over the exact bytes that were signed and names are copied byte for byte. Pure: no I/O.

use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, BitStringRef};
use der::{Decode, Encode, Reader, Sequence, SliceReader, Tagged as _};
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::hazmat::PrehashVerifier as _;
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

/// Object identifiers used by the profile and the checks.
pub mod oid {
    use const_oid::ObjectIdentifier;

    /// rsaEncryption.
    pub const RSA_ENCRYPTION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    /// sha256WithRSAEncryption.
    pub const SHA256_WITH_RSA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
    /// sha384WithRSAEncryption.
    pub const SHA384_WITH_RSA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
    /// sha512WithRSAEncryption.
    pub const SHA512_WITH_RSA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
    /// id-ecPublicKey.
    pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    /// secp256r1 (P-256).
    pub const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    /// secp384r1 (P-384).
    pub const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    /// ecdsa-with-SHA256.
    pub const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    /// ecdsa-with-SHA384.
    pub const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
    /// ecdsa-with-SHA512.
    pub const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
    /// id-Ed25519 (key and signature algorithm).
    pub const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    /// id-kp-clientAuth.
    pub const CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
    /// id-at-commonName.
    pub const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
    /// id-at-organizationName.
    pub const ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
    /// id-at-countryName.
    pub const COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
}

/// A signed structure (certificate, CSR) split into its three raw parts.
#[derive(Debug, Clone, Copy, Sequence)]
pub struct SignedRaw<'a> {
    /// The to-be-signed part, exactly as encoded.
    pub tbs: AnyRef<'a>,
    /// The signature algorithm.
    pub algorithm: AlgorithmIdentifierRef<'a>,
    /// The signature bits.
    pub signature: BitStringRef<'a>,
}

impl<'a> SignedRaw<'a> {
    /// Splits `der`, which must be exactly one signed structure.
    pub fn parse(der: &'a [u8]) -> Option<SignedRaw<'a>> {
        SignedRaw::from_der(der).ok()
    }

    /// The encoded to-be-signed bytes (what the signature covers).
    pub fn tbs_der(&self) -> Option<Vec<u8>> {
        self.tbs.to_der().ok()
    }

    /// The elements of the to-be-signed SEQUENCE, each as raw TLV.
    pub fn tbs_elements(&self) -> Option<Vec<AnyRef<'a>>> {
        let mut reader = SliceReader::new(self.tbs.value()).ok()?;
        let mut elements = Vec::new();
        while !reader.is_finished() {
            elements.push(AnyRef::decode(&mut reader).ok()?);
        }
        Some(elements)
    }

    /// Verifies the signature with `key`.
    pub fn verify_with(&self, key: &PublicKey) -> bool {
        let (Some(tbs), Some(signature)) = (self.tbs_der(), self.signature.as_bytes()) else {
            return false;
        };
        key.verify(self.algorithm.oid, &tbs, signature)
    }
}

/// The raw elements of a certificate's TBS, with the optional `[0]` version skipped: serial, signature
/// algorithm, issuer, validity, subject, subject public key info, then the optional parts.
pub fn certificate_tbs_fields<'a>(signed: &SignedRaw<'a>) -> Option<Vec<AnyRef<'a>>> {
    let mut elements = signed.tbs_elements()?;
    if elements
        .first()
        .is_some_and(|e| e.tag().is_context_specific())
    {
        elements.remove(0);
    }
    (elements.len() >= 6).then_some(elements)
}

/// The largest RSA modulus [`PublicKey`] accepts, in bits (callers enforce their own, smaller range).
pub const MAX_RSA_BITS: usize = 16_384;

/// The size in bits of a big-endian unsigned integer's bytes (leading zero bytes ignored).
pub fn modulus_bits(be: &[u8]) -> usize {
    let significant = be
        .iter()
        .position(|b| *b != 0)
        .map_or(&[][..], |i| &be[i..]);
    match significant.first() {
        None => 0,
        Some(top) => (significant.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

/// A public key of a supported algorithm, ready to verify signatures.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// RSA of any size up to 16384 bits (callers enforce their own range).
    Rsa(rsa::RsaPublicKey),
    /// ECDSA P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// Why a SubjectPublicKeyInfo could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Not a SubjectPublicKeyInfo, or a malformed key of a known algorithm.
    Malformed,
    /// A well-formed key of an algorithm or curve this service does not support.
    Unsupported,
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|_| KeyError::Malformed)?;
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or(KeyError::Malformed)?;
        let algorithm = spki.algorithm.oid;
        if algorithm == oid::RSA_ENCRYPTION {
            // `RsaPublicKey::new` caps the modulus at 4096 bits; the CA and CSR rules allow 8192.
            let parsed =
                rsa::pkcs1::RsaPublicKey::from_der(bits).map_err(|_| KeyError::Malformed)?;
            // Counted from the encoding, before any big-number work: an oversized key is refused
            // for the price of reading its length.
            if modulus_bits(parsed.modulus.as_bytes()) > MAX_RSA_BITS {
                return Err(KeyError::Unsupported);
            }
            let n = rsa::BigUint::from_bytes_be(parsed.modulus.as_bytes());
            let e = rsa::BigUint::from_bytes_be(parsed.public_exponent.as_bytes());
            return rsa::RsaPublicKey::new_with_max_size(n, e, MAX_RSA_BITS)
                .map(PublicKey::Rsa)
                .map_err(|_| KeyError::Malformed);
        }
        if algorithm == oid::EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or(KeyError::Malformed)?;
            if curve == oid::SECP256R1 {
                return p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P256)
                    .map_err(|_| KeyError::Malformed);
            }
            if curve == oid::SECP384R1 {
                return p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P384)
                    .map_err(|_| KeyError::Malformed);
            }
            return Err(KeyError::Unsupported);
        }
        if algorithm == oid::ED25519 {
            let bytes: [u8; 32] = bits.try_into().map_err(|_| KeyError::Malformed)?;
            return ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map(PublicKey::Ed25519)
                .map_err(|_| KeyError::Malformed);
        }
        Err(KeyError::Unsupported)
    }

    /// Whether `algorithm` is a signature algorithm this key's type can verify — a check that costs
    /// nothing, made before the signature itself.
    pub fn accepts_algorithm(&self, algorithm: ObjectIdentifier) -> bool {
        match self {
            PublicKey::Rsa(_) => [
                oid::SHA256_WITH_RSA,
                oid::SHA384_WITH_RSA,
                oid::SHA512_WITH_RSA,
            ]
            .contains(&algorithm),
            PublicKey::P256(_) | PublicKey::P384(_) => {
                [oid::ECDSA_SHA256, oid::ECDSA_SHA384, oid::ECDSA_SHA512].contains(&algorithm)
            }
            PublicKey::Ed25519(_) => algorithm == oid::ED25519,
        }
    }

    /// The RSA modulus size in bits, for RSA keys.
    pub fn rsa_bits(&self) -> Option<usize> {
        match self {
            PublicKey::Rsa(key) => Some(key.n().bits()),
            _ => None,
        }
    }

    /// Verifies `signature` over `message` under the signature algorithm `algorithm`. Algorithms that do
    /// not fit the key type fail.
    pub fn verify(&self, algorithm: ObjectIdentifier, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Rsa(key) => verify_rsa(key, algorithm, message, signature),
            PublicKey::P256(key) => {
                let Ok(sig) = p256::ecdsa::Signature::from_der(signature) else {
                    return false;
                };
                ecdsa_prehash(algorithm, message)
                    .is_some_and(|hash| key.verify_prehash(&hash, &sig).is_ok())
            }
            PublicKey::P384(key) => {
                let Ok(sig) = p384::ecdsa::Signature::from_der(signature) else {
                    return false;
                };
                ecdsa_prehash(algorithm, message)
                    .is_some_and(|hash| key.verify_prehash(&hash, &sig).is_ok())
            }
            PublicKey::Ed25519(key) => {
                if algorithm != oid::ED25519 {
                    return false;
                }
                let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
                    return false;
                };
                key.verify_strict(message, &sig).is_ok()
            }
        }
    }
}

fn verify_rsa(
    key: &rsa::RsaPublicKey,
    algorithm: ObjectIdentifier,
    message: &[u8],
    signature: &[u8],
) -> bool {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use signature::Verifier as _;
    let Ok(sig) = Signature::try_from(signature) else {
        return false;
    };
    if algorithm == oid::SHA256_WITH_RSA {
        VerifyingKey::<Sha256>::new(key.clone())
            .verify(message, &sig)
            .is_ok()
    } else if algorithm == oid::SHA384_WITH_RSA {
        VerifyingKey::<Sha384>::new(key.clone())
            .verify(message, &sig)
            .is_ok()
    } else if algorithm == oid::SHA512_WITH_RSA {
        VerifyingKey::<Sha512>::new(key.clone())
            .verify(message, &sig)
            .is_ok()
    } else {
        false
    }
}

/// The digest an ECDSA signature algorithm prescribes, applied to `message`.
fn ecdsa_prehash(algorithm: ObjectIdentifier, message: &[u8]) -> Option<Vec<u8>> {
    if algorithm == oid::ECDSA_SHA256 {
        Some(Sha256::digest(message).to_vec())
    } else if algorithm == oid::ECDSA_SHA384 {
        Some(Sha384::digest(message).to_vec())
    } else if algorithm == oid::ECDSA_SHA512 {
        Some(Sha512::digest(message).to_vec())
    } else {
        None
    }
}

/// SHA-1 of the subject public key bits of a DER SubjectPublicKeyInfo (the key identifier method 1 of
/// RFC 5280 section 4.2.1.2, used for SKI and AKI).
pub fn key_identifier(spki_der: &[u8]) -> Option<Vec<u8>> {
    use sha1::Sha1;
    let spki = SubjectPublicKeyInfoRef::from_der(spki_der).ok()?;
    let bits = spki.subject_public_key.as_bytes()?;
    Some(Sha1::digest(bits).to_vec())
}
