//! Play Integrity verdict tokens, decrypted and verified locally.
//!
//! A classic integrity request returns a JWE (A256KW + A256GCM) whose plaintext is a JWS (ES256) whose
//! payload is the verdict. [`PlayIntegrity::verify`] runs checks 1–7 in order; the caller records the
//! evidence (check 8, storage) and then calls [`PlayIntegrity::check_verdicts`] (checks 9–10). Pure: no
//! I/O, the clock is a parameter, and every failure is a fixed message or advice code.

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde_json::{Map, Value};
use signature::Verifier as _;
use zeroize::Zeroizing;

use super::{Rejection, decode_base64_lenient};
use crate::config::{DeviceVerdict, PlayIntegrityConfig};

/// `failed`: the token is not a JWE compact serialisation (check 1).
pub const NOT_JWE: &str = "token is not a valid JWE";
/// `failed`: the JWE header names other algorithms or compression (check 1).
pub const UNSUPPORTED_ALGORITHM: &str = "unsupported JWE algorithm";
/// `failed`: key unwrapping or AES-GCM decryption failed (check 2).
pub const DECRYPTION_FAILED: &str = "token decryption failed";
/// `failed`: the inner JWS is malformed, not ES256 or its signature does not verify (check 3).
pub const BAD_SIGNATURE: &str = "token signature is invalid";
/// `failed`: the verdict is not a JSON object with `requestDetails` (check 4).
pub const MALFORMED_PAYLOAD: &str = "token payload is malformed";

/// Advice of check 5.
pub const PACKAGE_MISMATCH: &str = "PACKAGE_MISMATCH";
/// Advice of check 6.
pub const NONCE_MISMATCH: &str = "NONCE_MISMATCH";
/// Advice of check 7.
pub const TOKEN_EXPIRED: &str = "TOKEN_EXPIRED";
/// Advice of check 9 (recognition verdict).
pub const APP_NOT_RECOGNIZED: &str = "APP_NOT_RECOGNIZED";
/// Advice of check 9 (signing-certificate digests).
pub const CERTIFICATE_DIGEST_MISMATCH: &str = "CERTIFICATE_DIGEST_MISMATCH";
/// Advice of check 10.
pub const DEVICE_INTEGRITY_NOT_MET: &str = "DEVICE_INTEGRITY_NOT_MET";

/// How far in the future a verdict timestamp may lie (clock skew), in milliseconds.
const FUTURE_LEEWAY_MS: i64 = 60_000;

/// JOSE base64url: no padding expected, but padding tolerated.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A configured Play Integrity verifier: the app's package and the two keys from the Play Console.
#[derive(Clone)]
pub struct PlayIntegrity {
    package_name: String,
    decryption_key: Zeroizing<[u8; 32]>,
    verification_key: VerifyingKey,
    max_age_ms: i64,
    required_device_verdict: &'static str,
    allow_unrecognized_app: bool,
    cert_digests: Vec<String>,
}

impl std::fmt::Debug for PlayIntegrity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlayIntegrity")
            .field("package_name", &self.package_name)
            .field("decryption_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// The decrypted, signature-checked verdict of one token.
#[derive(Debug, Clone)]
pub struct Verdict {
    payload: Map<String, Value>,
}

impl PlayIntegrity {
    /// Builds the verifier; fails when a key does not parse (the configuration checks prevent it).
    pub fn new(config: &PlayIntegrityConfig) -> Result<PlayIntegrity, &'static str> {
        let aes = config
            .decryption_key
            .expose()
            .and_then(|text| decode_base64_lenient(text.trim()))
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or("PLAY_INTEGRITY_DECRYPTION_KEY is not 32 bytes of base64")?;
        let verification_key = config
            .verification_key
            .expose()
            .and_then(|text| decode_base64_lenient(text.trim()))
            .and_then(|der| VerifyingKey::from_public_key_der(&der).ok())
            .ok_or("PLAY_INTEGRITY_VERIFICATION_KEY is not an EC P-256 public key")?;
        Ok(PlayIntegrity {
            package_name: config.package_name.clone(),
            decryption_key: Zeroizing::new(aes),
            verification_key,
            max_age_ms: i64::try_from(config.max_age.as_millis()).unwrap_or(i64::MAX),
            required_device_verdict: match config.required_device_verdict {
                DeviceVerdict::Basic => "MEETS_BASIC_INTEGRITY",
                DeviceVerdict::Device => "MEETS_DEVICE_INTEGRITY",
                DeviceVerdict::Strong => "MEETS_STRONG_INTEGRITY",
            },
            allow_unrecognized_app: config.allow_unrecognized_app,
            cert_digests: config
                .cert_digests
                .iter()
                .map(|d| d.trim_end_matches('=').to_owned())
                .collect(),
        })
    }

    /// Checks 1–7, in order: decrypt, verify the signature, parse the verdict, then the package
    /// name, the nonce and the timestamp. Replay (check 8) and the verdicts (9–10) come after.
    pub fn verify(
        &self,
        token: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Verdict, Rejection> {
        let payload = self.open(token)?;
        let verdict = Verdict { payload };
        self.check_request(&verdict, nonce, now)?;
        Ok(verdict)
    }

    /// Checks 1–4: the JWE is decrypted and the inner JWS verified; the verdict JSON is returned.
    fn open(&self, token: &str) -> Result<Map<String, Value>, Rejection> {
        // 1. Five parts, a JSON protected header naming A256KW / A256GCM, no compression.
        let parts: Vec<&str> = token.trim().split('.').collect();
        let [header_b64, wrapped_b64, iv_b64, ciphertext_b64, tag_b64] = parts.as_slice() else {
            return Err(Rejection::Failed(NOT_JWE));
        };
        let decode = |part: &str| B64URL.decode(part).map_err(|_| Rejection::Failed(NOT_JWE));
        let header = json_object(&decode(header_b64)?).ok_or(Rejection::Failed(NOT_JWE))?;
        let (wrapped, iv, ciphertext, tag) = (
            decode(wrapped_b64)?,
            decode(iv_b64)?,
            decode(ciphertext_b64)?,
            decode(tag_b64)?,
        );
        let alg = header.get("alg").and_then(Value::as_str);
        let enc = header.get("enc").and_then(Value::as_str);
        if alg != Some("A256KW") || enc != Some("A256GCM") || header.contains_key("zip") {
            return Err(Rejection::Failed(UNSUPPORTED_ALGORITHM));
        }
        // 2. Unwrap the content key (RFC 3394) and decrypt; the AAD is the encoded header.
        let failed = Rejection::Failed(DECRYPTION_FAILED);
        let kek = aes_kw::KekAes256::from(*self.decryption_key);
        let cek = Zeroizing::new(kek.unwrap_vec(&wrapped).map_err(|_| failed)?);
        if cek.len() != 32 || iv.len() != 12 || tag.len() != 16 {
            return Err(failed);
        }
        let cipher = Aes256Gcm::new_from_slice(&cek).map_err(|_| failed)?;
        let mut sealed = ciphertext;
        sealed.extend_from_slice(&tag);
        let aad = header_b64.as_bytes();
        let plaintext = cipher
            .decrypt(Nonce::from_slice(&iv), Payload { msg: &sealed, aad })
            .map_err(|_| failed)?;
        // 3. The plaintext is a JWS signed with ES256 by Google's verification key.
        let bad = Rejection::Failed(BAD_SIGNATURE);
        let jws = std::str::from_utf8(&plaintext).map_err(|_| bad)?.trim();
        let parts: Vec<&str> = jws.split('.').collect();
        let [jws_header_b64, payload_b64, signature_b64] = parts.as_slice() else {
            return Err(bad);
        };
        let jws_header = B64URL
            .decode(jws_header_b64)
            .ok()
            .and_then(|bytes| json_object(&bytes))
            .ok_or(bad)?;
        if jws_header.get("alg").and_then(Value::as_str) != Some("ES256") {
            return Err(bad);
        }
        let signature = B64URL
            .decode(signature_b64)
            .ok()
            .filter(|bytes| bytes.len() == 64)
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(bad)?;
        let signed = format!("{jws_header_b64}.{payload_b64}");
        self.verification_key
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| bad)?;
        // 4. A JSON object with `requestDetails`.
        let malformed = Rejection::Failed(MALFORMED_PAYLOAD);
        let payload = B64URL
            .decode(payload_b64)
            .ok()
            .and_then(|bytes| json_object(&bytes))
            .ok_or(malformed)?;
        if !payload.get("requestDetails").is_some_and(Value::is_object) {
            return Err(malformed);
        }
        Ok(payload)
    }

    /// Checks 5–7: package name, nonce, timestamp.
    fn check_request(
        &self,
        verdict: &Verdict,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Rejection> {
        let details = verdict.object("requestDetails");
        let app = verdict.object("appIntegrity");
        // 5. The request came from our package, and so did the app integrity verdict when present.
        let requested = details
            .and_then(|d| d.get("requestPackageName"))
            .and_then(Value::as_str);
        let app_package = app.and_then(|a| a.get("packageName"));
        let app_matches =
            app_package.is_none_or(|p| p.as_str() == Some(self.package_name.as_str()));
        if requested != Some(self.package_name.as_str()) || !app_matches {
            return Err(Rejection::Invalid(PACKAGE_MISMATCH));
        }
        // 6. The nonce the app asked for; trailing `=` padding is ignored on both sides.
        let token_nonce = details.and_then(|d| d.get("nonce")).and_then(Value::as_str);
        if token_nonce.map(|n| n.trim_end_matches('=')) != Some(nonce.trim_end_matches('=')) {
            return Err(Rejection::Invalid(NONCE_MISMATCH));
        }
        // 7. Fresh: at most the maximum age in the past, at most a minute in the future.
        let stamp = details
            .and_then(|d| d.get("timestampMillis"))
            .and_then(|v| match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            });
        let now_ms = now.timestamp_millis();
        let fresh = stamp.is_some_and(|t| {
            let age = now_ms.saturating_sub(t);
            age <= self.max_age_ms && age >= -FUTURE_LEEWAY_MS
        });
        if !fresh {
            return Err(Rejection::Invalid(TOKEN_EXPIRED));
        }
        Ok(())
    }

    /// Checks 9–10: the app is recognised (and signed with a listed certificate when digests are
    /// configured), and the device verdict contains the required level.
    pub fn check_verdicts(&self, verdict: &Verdict) -> Result<(), Rejection> {
        let app = verdict.object("appIntegrity");
        if !self.allow_unrecognized_app
            && verdict.app_recognition_verdict() != Some("PLAY_RECOGNIZED")
        {
            return Err(Rejection::Invalid(APP_NOT_RECOGNIZED));
        }
        if !self.cert_digests.is_empty() {
            let listed = app
                .and_then(|a| a.get("certificateSha256Digest"))
                .and_then(Value::as_array)
                .is_some_and(|digests| {
                    digests.iter().filter_map(Value::as_str).any(|d| {
                        let d = d.trim_end_matches('=');
                        self.cert_digests.iter().any(|allowed| allowed == d)
                    })
                });
            if !listed {
                return Err(Rejection::Invalid(CERTIFICATE_DIGEST_MISMATCH));
            }
        }
        if !verdict.has_device_verdict(self.required_device_verdict) {
            return Err(Rejection::Invalid(DEVICE_INTEGRITY_NOT_MET));
        }
        Ok(())
    }
}

impl Verdict {
    fn object(&self, name: &str) -> Option<&Map<String, Value>> {
        self.payload.get(name).and_then(Value::as_object)
    }

    /// `deviceIntegrity.deviceRecognitionVerdict`: the string labels, in token order.
    pub fn device_recognition_verdict(&self) -> Vec<String> {
        self.object("deviceIntegrity")
            .and_then(|d| d.get("deviceRecognitionVerdict"))
            .and_then(Value::as_array)
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the device verdict list contains `label`.
    pub fn has_device_verdict(&self, label: &str) -> bool {
        self.device_recognition_verdict().iter().any(|l| l == label)
    }

    /// `appIntegrity.appRecognitionVerdict`, when present.
    pub fn app_recognition_verdict(&self) -> Option<&str> {
        self.object("appIntegrity")
            .and_then(|a| a.get("appRecognitionVerdict"))
            .and_then(Value::as_str)
    }
}

fn json_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}
