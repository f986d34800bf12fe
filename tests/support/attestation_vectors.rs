//! Attestation evidence built with real cryptography, for the attestation tests: Play Integrity tokens
//! (a test P-256 signing key and AES key produce genuine JWS-in-JWE tokens) and App Attest objects (a
//! test root CA and intermediate issue a credential certificate carrying the nonce extension, in a
//! genuine CBOR attestation object). Every part can be bent to fail exactly one check. Shared by the
//! test binaries with `#[path = "../support/attestation_vectors.rs"]`.
#![allow(dead_code)]

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ciborium::Value as Cbor;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey as _;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, KeyPair,
    PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The package name the Play Integrity tests configure.
pub const PACKAGE: &str = "com.apuntador.app";
/// The Apple team id the App Attest tests configure.
pub const TEAM_ID: &str = "ABCDE12345";
/// The bundle id the App Attest tests configure.
pub const BUNDLE_ID: &str = "com.apuntador.app";

/// Base64url without padding (JOSE).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The current time in epoch milliseconds.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A Play Console key pair: the AES key that encrypts verdicts and the EC key that signs them.
pub struct PlayKeys {
    /// The 32-byte AES key (`PLAY_INTEGRITY_DECRYPTION_KEY`).
    pub aes: [u8; 32],
    /// The ES256 signing key; its public half is `PLAY_INTEGRITY_VERIFICATION_KEY`.
    pub signing: SigningKey,
}

impl PlayKeys {
    /// Fresh random keys.
    pub fn generate() -> PlayKeys {
        PlayKeys {
            aes: rand::random(),
            signing: SigningKey::random(&mut rand_core06::OsRng),
        }
    }

    /// The three Play Integrity configuration variables for these keys.
    pub fn config_vars(&self) -> Vec<(&'static str, String)> {
        let spki = self
            .signing
            .verifying_key()
            .to_public_key_der()
            .expect("SPKI");
        vec![
            ("PLAY_INTEGRITY_PACKAGE_NAME", PACKAGE.to_owned()),
            ("PLAY_INTEGRITY_DECRYPTION_KEY", STANDARD.encode(self.aes)),
            (
                "PLAY_INTEGRITY_VERIFICATION_KEY",
                STANDARD.encode(spki.as_bytes()),
            ),
        ]
    }

    /// A genuine token for `payload`: ES256 JWS, then A256KW/A256GCM JWE.
    pub fn token(&self, payload: &Value) -> String {
        let jws = jws(
            &self.signing,
            &json!({"alg": "ES256"}),
            payload.to_string().as_bytes(),
        );
        jwe(
            &self.aes,
            &json!({"alg": "A256KW", "enc": "A256GCM"}),
            jws.as_bytes(),
        )
    }
}

/// A verdict that passes every check for `nonce`, issued now.
pub fn verdict(nonce: &str) -> Value {
    json!({
        "requestDetails": {
            "requestPackageName": PACKAGE,
            "nonce": nonce,
            "timestampMillis": now_millis().to_string(),
        },
        "appIntegrity": {
            "appRecognitionVerdict": "PLAY_RECOGNIZED",
            "packageName": PACKAGE,
            "certificateSha256Digest": [b64url(&Sha256::digest(b"signing certificate"))],
            "versionCode": "42",
        },
        "deviceIntegrity": {
            "deviceRecognitionVerdict": ["MEETS_BASIC_INTEGRITY", "MEETS_DEVICE_INTEGRITY"],
        },
        "accountDetails": {"appLicensingVerdict": "LICENSED"},
    })
}

/// A compact JWS: `header.payload.signature` with a 64-byte R‖S ES256 signature.
pub fn jws(key: &SigningKey, header: &Value, payload: &[u8]) -> String {
    let signed = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload)
    );
    let signature: Signature = key.sign(signed.as_bytes());
    format!("{signed}.{}", b64url(&signature.to_bytes()))
}

/// A compact JWE with a fresh content key wrapped under `kek` (RFC 3394) and AES-256-GCM content
/// encryption; the header is used as given (tests bend it).
pub fn jwe(kek: &[u8; 32], header: &Value, plaintext: &[u8]) -> String {
    let cek: [u8; 32] = rand::random();
    let iv: [u8; 12] = rand::random();
    let wrapped = aes_kw::KekAes256::from(*kek)
        .wrap_vec(&cek)
        .expect("key wrap");
    let header_b64 = b64url(header.to_string().as_bytes());
    let cipher = Aes256Gcm::new_from_slice(&cek).expect("key");
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: plaintext,
                aad: header_b64.as_bytes(),
            },
        )
        .expect("encrypt");
    let (ciphertext, tag) = sealed.split_at(sealed.len() - 16);
    format!(
        "{header_b64}.{}.{}.{}.{}",
        b64url(&wrapped),
        b64url(&iv),
        b64url(ciphertext),
        b64url(tag)
    )
}

/// A test certificate authority: a P-384 root like Apple's and a P-384 intermediate under it.
pub struct TestCa {
    root_key: KeyPair,
    root: rcgen::Certificate,
    intermediate_key: KeyPair,
    intermediate: rcgen::Certificate,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
}

impl TestCa {
    /// A fresh root and intermediate, valid from 1975 to 4096.
    pub fn new(name: &str) -> TestCa {
        TestCa::with_intermediate_params(name, ca_params(&format!("{name} intermediate")))
    }

    /// A fresh root and an intermediate built from `params`.
    pub fn with_intermediate_params(name: &str, params: CertificateParams) -> TestCa {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("root key");
        let root = ca_params(&format!("{name} root"))
            .self_signed(&root_key)
            .expect("root");
        let intermediate_key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("key");
        let intermediate = params
            .signed_by(&intermediate_key, &root, &root_key)
            .expect("intermediate");
        TestCa {
            root_key,
            root,
            intermediate_key,
            intermediate,
        }
    }

    /// The root certificate, DER (the trust anchor the tests configure).
    pub fn root_der(&self) -> Vec<u8> {
        self.root.der().to_vec()
    }

    /// The intermediate certificate, DER.
    pub fn intermediate_der(&self) -> Vec<u8> {
        self.intermediate.der().to_vec()
    }
}

/// The DER of the nonce extension value: `SEQUENCE { [1] EXPLICIT OCTET STRING nonce }`.
pub fn nonce_extension(nonce: &[u8]) -> Vec<u8> {
    let mut octets = vec![0x04, u8::try_from(nonce.len()).expect("short nonce")];
    octets.extend_from_slice(nonce);
    let mut explicit = vec![0xa1, u8::try_from(octets.len()).expect("short")];
    explicit.extend_from_slice(&octets);
    let mut sequence = vec![0x30, u8::try_from(explicit.len()).expect("short")];
    sequence.extend_from_slice(&explicit);
    sequence
}

/// One App Attest attestation, every part adjustable before [`IosAttestation::build`].
pub struct IosAttestation {
    /// The challenge the app passed (its SHA-256 is the client data hash).
    pub challenge: String,
    /// `<team>.<bundle>` whose SHA-256 is the RP ID hash.
    pub app_id: String,
    /// Sign counter.
    pub counter: u32,
    /// AAGUID (16 bytes).
    pub aaguid: [u8; 16],
    /// Replaces the credential id in the authenticator data (default: the key id).
    pub credential_id: Option<Vec<u8>>,
    /// Replaces the nonce in the certificate extension (default: the correct nonce).
    pub nonce: Option<Vec<u8>>,
    /// Leaves the nonce extension out.
    pub omit_nonce_extension: bool,
    /// Replaces the `fmt` text.
    pub fmt: String,
    /// Cuts the authenticator data to this many bytes.
    pub truncate_auth_data: Option<usize>,
    /// The credential certificate's validity (default 1975-4096).
    pub leaf_validity: Option<(i32, i32)>,
    /// Leaves the intermediate out of x5c.
    pub leaf_only: bool,
}

/// What [`IosAttestation::build`] produced.
pub struct BuiltAttestation {
    /// Base64 of the CBOR attestation object.
    pub attestation_object: String,
    /// Base64 of the key id (SHA-256 of the credential public key).
    pub key_id: String,
    /// The challenge.
    pub challenge: String,
}

impl BuiltAttestation {
    /// The JSON body of `POST /device/attest/ios` for `device_id`.
    pub fn body(&self, device_id: &str) -> String {
        json!({
            "attestation_object": self.attestation_object,
            "key_id": self.key_id,
            "challenge": self.challenge,
            "device_id": device_id,
        })
        .to_string()
    }
}

impl IosAttestation {
    /// An attestation that passes every check for the test app in `environment`.
    pub fn new(production: bool) -> IosAttestation {
        IosAttestation {
            challenge: b64url(&rand::random::<[u8; 24]>()),
            app_id: format!("{TEAM_ID}.{BUNDLE_ID}"),
            counter: 0,
            aaguid: if production {
                *b"appattest\0\0\0\0\0\0\0"
            } else {
                *b"appattestdevelop"
            },
            credential_id: None,
            nonce: None,
            omit_nonce_extension: false,
            fmt: "apple-appattest".into(),
            truncate_auth_data: None,
            leaf_validity: None,
            leaf_only: false,
        }
    }

    /// Builds the object: a fresh credential key, authenticator data, the nonce, and a credential
    /// certificate issued by `ca`'s intermediate.
    pub fn build(&self, ca: &TestCa) -> BuiltAttestation {
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("credential key");
        let key_id = Sha256::digest(leaf_key.public_key_raw()).to_vec();
        let credential_id = self.credential_id.clone().unwrap_or_else(|| key_id.clone());
        let mut auth_data = Vec::new();
        auth_data.extend_from_slice(&Sha256::digest(self.app_id.as_bytes()));
        auth_data.push(0x40);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&self.aaguid);
        auth_data.extend_from_slice(&u16::try_from(credential_id.len()).unwrap().to_be_bytes());
        auth_data.extend_from_slice(&credential_id);
        auth_data.extend_from_slice(b"\xa5\x01\x02\x03\x26"); // the start of a COSE key; not checked
        if let Some(n) = self.truncate_auth_data {
            auth_data.truncate(n);
        }
        let mut hasher = Sha256::new();
        hasher.update(&auth_data);
        hasher.update(Sha256::digest(self.challenge.as_bytes()));
        let nonce = self
            .nonce
            .clone()
            .unwrap_or_else(|| hasher.finalize().to_vec());
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, hex::encode(&key_id));
        if !self.omit_nonce_extension {
            params.custom_extensions = vec![CustomExtension::from_oid_content(
                &[1, 2, 840, 113_635, 100, 8, 2],
                nonce_extension(&nonce),
            )];
        }
        if let Some((from, to)) = self.leaf_validity {
            params.not_before = rcgen::date_time_ymd(from, 1, 1);
            params.not_after = rcgen::date_time_ymd(to, 1, 1);
        }
        let leaf = params
            .signed_by(&leaf_key, &ca.intermediate, &ca.intermediate_key)
            .expect("credential certificate");
        let mut x5c = vec![Cbor::Bytes(leaf.der().to_vec())];
        if !self.leaf_only {
            x5c.push(Cbor::Bytes(ca.intermediate_der()));
        }
        let object = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text(self.fmt.clone())),
            (
                Cbor::Text("attStmt".into()),
                Cbor::Map(vec![
                    (Cbor::Text("x5c".into()), Cbor::Array(x5c)),
                    (
                        Cbor::Text("receipt".into()),
                        Cbor::Bytes(b"receipt".to_vec()),
                    ),
                ]),
            ),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]);
        let mut bytes = Vec::new();
        ciborium::into_writer(&object, &mut bytes).expect("CBOR");
        BuiltAttestation {
            attestation_object: STANDARD.encode(&bytes),
            key_id: STANDARD.encode(&key_id),
            challenge: self.challenge.clone(),
        }
    }
}

/// A desktop fingerprint: 64 lower-case hex digits derived from `seed`.
pub fn fingerprint(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))
}

/// The JSON body of `POST /device/attest/desktop`.
pub fn desktop_body(device_id: &str, fingerprint: &str) -> String {
    json!({
        "device_id": device_id,
        "fingerprint": fingerprint,
        "platform_details": {"os": "linux", "hostname": "secret-host-name"},
    })
    .to_string()
}

/// The JSON body of `POST /device/attest/android`.
pub fn android_body(token: &str, device_id: &str, nonce: &str) -> String {
    json!({"integrity_token": token, "device_id": device_id, "nonce": nonce}).to_string()
}
