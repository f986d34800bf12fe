//! Device attestation at enrolment: whether it is required and how fresh it must be, Play Integrity
//! (Android: package, keys, verdict), App Attest (iOS: team and bundle ids) and the desktop rate limit.
//! Play Integrity and App Attest are configured all-or-nothing: a partial group names each missing
//! variable.

use std::time::Duration;

use base64::Engine as _;

use super::values::{URL_SAFE_LENIENT, decode_base64};
use super::{Reader, SecretValue};

/// Attestation settings.
#[derive(Debug, Clone)]
pub struct AttestationConfig {
    /// `ENROLLMENT_REQUIRE_ATTESTATION`, default false.
    pub enrollment_require_attestation: bool,
    /// `ENROLLMENT_ATTESTATION_MAX_AGE_SECONDS`, default 600 s, 30-86400.
    pub enrollment_max_age: Duration,
    /// `ENROLLMENT_REPLACE_ACTIVE`, default false: enrolment of a device that has an active, unexpired
    /// certificate supersedes it instead of answering 409 `device_already_enrolled` (legacy fleets).
    pub enrollment_replace_active: bool,
    /// `ATTESTATION_CACHE_TTL`, default 3600 s, 60-86400.
    pub cache_ttl: Duration,
    /// Play Integrity; `None` when none of its three variables is set (all-or-nothing).
    pub play_integrity: Option<PlayIntegrityConfig>,
    /// App Attest; `None` when neither `APPLE_TEAM_ID` nor `APPLE_BUNDLE_ID` is set (both-or-neither).
    pub app_attest: Option<AppAttestConfig>,
    /// `DESKTOP_ATTESTATION_ENABLED`, default true.
    pub desktop_enabled: bool,
    /// `DESKTOP_ATTESTATION_MAX_PER_HOUR`, default 10, 1-1000.
    pub desktop_max_per_hour: u32,
}

/// Play Integrity (Android) settings.
#[derive(Debug, Clone)]
pub struct PlayIntegrityConfig {
    /// `PLAY_INTEGRITY_PACKAGE_NAME`.
    pub package_name: String,
    /// `PLAY_INTEGRITY_DECRYPTION_KEY` (S): base64 of 32 bytes (checked when plain).
    pub decryption_key: SecretValue,
    /// `PLAY_INTEGRITY_VERIFICATION_KEY` (S): base64 DER SPKI, EC P-256.
    pub verification_key: SecretValue,
    /// `PLAY_INTEGRITY_MAX_AGE_SECONDS`, default 300 s, 10-3600.
    pub max_age: Duration,
    /// `PLAY_INTEGRITY_REQUIRED_DEVICE_VERDICT`, default `MEETS_DEVICE_INTEGRITY`.
    pub required_device_verdict: DeviceVerdict,
    /// `PLAY_INTEGRITY_ALLOW_UNRECOGNIZED_APP`, default false.
    pub allow_unrecognized_app: bool,
    /// `PLAY_INTEGRITY_CERT_DIGESTS`, default empty: base64url SHA-256 signing-certificate digests.
    pub cert_digests: Vec<String>,
}

impl PlayIntegrityConfig {
    /// The 32-byte AES key decoded from `PLAY_INTEGRITY_DECRYPTION_KEY`; `None` while it is an unresolved
    /// reference.
    ///
    /// Accepts the standard or URL-safe base64 alphabet, padding optional: the same rule the start-up check
    /// applies, so a resolved configuration always decodes.
    pub fn decryption_key_bytes(&self) -> Option<[u8; 32]> {
        decode_base64(self.decryption_key.expose()?)?
            .try_into()
            .ok()
    }

    /// The DER SubjectPublicKeyInfo decoded from `PLAY_INTEGRITY_VERIFICATION_KEY`; `None` while it is an
    /// unresolved reference.
    pub fn verification_key_der(&self) -> Option<Vec<u8>> {
        decode_base64(self.verification_key.expose()?)
    }
}

/// Play Integrity device verdict levels, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeviceVerdict {
    /// `MEETS_BASIC_INTEGRITY`
    Basic,
    /// `MEETS_DEVICE_INTEGRITY`
    Device,
    /// `MEETS_STRONG_INTEGRITY`
    Strong,
}

impl DeviceVerdict {
    /// All verdicts, weakest first.
    pub const ALL: [DeviceVerdict; 3] = [
        DeviceVerdict::Basic,
        DeviceVerdict::Device,
        DeviceVerdict::Strong,
    ];

    /// The verdict label used by Play Integrity, e.g. `MEETS_DEVICE_INTEGRITY`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceVerdict::Basic => "MEETS_BASIC_INTEGRITY",
            DeviceVerdict::Device => "MEETS_DEVICE_INTEGRITY",
            DeviceVerdict::Strong => "MEETS_STRONG_INTEGRITY",
        }
    }

    /// Parses an exact Play Integrity verdict label.
    pub fn parse(s: &str) -> Option<DeviceVerdict> {
        DeviceVerdict::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// App Attest (iOS) settings.
#[derive(Debug, Clone)]
pub struct AppAttestConfig {
    /// `APPLE_TEAM_ID`: 10 upper-case alphanumerics.
    pub team_id: String,
    /// `APPLE_BUNDLE_ID`.
    pub bundle_id: String,
    /// `APP_ATTEST_ENVIRONMENT`, default production.
    pub environment: AppAttestEnvironment,
}

/// App Attest environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppAttestEnvironment {
    /// `production`
    Production,
    /// `development`
    Development,
}

// What `Reader::number` calls this area's numbers in its problems.
const ATTESTATIONS: &str = "number of attestations";

impl Reader<'_> {
    /// The attestation settings, each group checked all-or-nothing.
    pub(super) fn attestation(&mut self) -> AttestationConfig {
        AttestationConfig {
            enrollment_require_attestation: self.boolean("ENROLLMENT_REQUIRE_ATTESTATION", false),
            enrollment_max_age: self.seconds(
                "ENROLLMENT_ATTESTATION_MAX_AGE_SECONDS",
                600,
                30..=86_400,
            ),
            enrollment_replace_active: self.boolean("ENROLLMENT_REPLACE_ACTIVE", false),
            cache_ttl: self.seconds("ATTESTATION_CACHE_TTL", 3600, 60..=86_400),
            play_integrity: self.play_integrity(),
            app_attest: self.app_attest(),
            desktop_enabled: self.boolean("DESKTOP_ATTESTATION_ENABLED", true),
            desktop_max_per_hour: self.number(
                "DESKTOP_ATTESTATION_MAX_PER_HOUR",
                10,
                1..=1000,
                ATTESTATIONS,
            ),
        }
    }

    /// Play Integrity: `None` unless its package name and both keys are set and valid.
    fn play_integrity(&mut self) -> Option<PlayIntegrityConfig> {
        const GROUP: [&str; 3] = [
            "PLAY_INTEGRITY_PACKAGE_NAME",
            "PLAY_INTEGRITY_DECRYPTION_KEY",
            "PLAY_INTEGRITY_VERIFICATION_KEY",
        ];
        let package_name = self.optional(GROUP[0], check_package_name);
        let decryption_key = self.secret(GROUP[1]);
        let verification_key = self.secret(GROUP[2]);
        let max_age = self.seconds("PLAY_INTEGRITY_MAX_AGE_SECONDS", 300, 10..=3600);
        let required_device_verdict = self.value(
            "PLAY_INTEGRITY_REQUIRED_DEVICE_VERDICT",
            DeviceVerdict::Device,
            |raw| {
                DeviceVerdict::parse(&raw.trim().to_ascii_uppercase()).ok_or_else(|| {
                    format!(
                        "{raw:?} is not one of: MEETS_BASIC_INTEGRITY, MEETS_DEVICE_INTEGRITY, MEETS_STRONG_INTEGRITY"
                    )
                })
            },
        );
        let allow_unrecognized_app = self.boolean("PLAY_INTEGRITY_ALLOW_UNRECOGNIZED_APP", false);
        let mut cert_digests = Vec::new();
        for digest in self.list("PLAY_INTEGRITY_CERT_DIGESTS", "") {
            let decoded = URL_SAFE_LENIENT.decode(&digest);
            if decoded.is_ok_and(|bytes| bytes.len() == 32) {
                cert_digests.push(digest);
            } else {
                self.problem(
                    "PLAY_INTEGRITY_CERT_DIGESTS",
                    format!("{digest:?} is not a base64url SHA-256 digest"),
                );
            }
        }
        self.all_or_nothing(&GROUP, "Play Integrity");
        Some(PlayIntegrityConfig {
            package_name: package_name?,
            decryption_key: decryption_key?,
            verification_key: verification_key?,
            max_age,
            required_device_verdict,
            allow_unrecognized_app,
            cert_digests,
        })
    }

    /// App Attest: `None` unless both `APPLE_TEAM_ID` and `APPLE_BUNDLE_ID` are set and valid.
    fn app_attest(&mut self) -> Option<AppAttestConfig> {
        let team_id = self.optional("APPLE_TEAM_ID", check_team_id);
        let bundle_id = self.optional("APPLE_BUNDLE_ID", check_bundle_id);
        let environment = self.choice(
            "APP_ATTEST_ENVIRONMENT",
            AppAttestEnvironment::Production,
            &[
                ("production", AppAttestEnvironment::Production),
                ("development", AppAttestEnvironment::Development),
            ],
        );
        self.all_or_nothing(&["APPLE_TEAM_ID", "APPLE_BUNDLE_ID"], "App Attest");
        Some(AppAttestConfig {
            team_id: team_id?,
            bundle_id: bundle_id?,
            environment,
        })
    }
}

/// An Android application id: two or more `.`-separated segments, each a letter then letters, digits, `_`.
fn check_package_name(raw: &str) -> Result<String, String> {
    let segments: Vec<&str> = raw.split('.').collect();
    let valid = segments.len() >= 2
        && segments.iter().all(|segment| {
            segment
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not an Android package name (such as com.example.app)"
        ))
    }
}

/// An Apple team id: 10 upper-case letters or digits.
fn check_team_id(raw: &str) -> Result<String, String> {
    if raw.len() == 10
        && raw
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not an Apple team id (10 upper-case letters or digits)"
        ))
    }
}

/// An Apple bundle identifier: `.`-separated non-empty segments of ASCII letters, digits and `-`.
fn check_bundle_id(raw: &str) -> Result<String, String> {
    let valid = raw.len() <= 155
        && raw.split('.').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not a bundle identifier (such as com.example.app)"
        ))
    }
}

/// Structural check of a DER SubjectPublicKeyInfo for an EC P-256 key (RFC 5480), uncompressed (91 bytes)
/// or compressed (59 bytes). Whether the point is on the curve is checked where the key is used.
fn is_p256_spki(der: &[u8]) -> bool {
    // SEQUENCE { OID id-ecPublicKey, OID prime256v1 }
    const ALGORITHM: [u8; 21] = [
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    match der.len() {
        91 => {
            der[..2] == [0x30, 0x59]
                && der[2..23] == ALGORITHM
                && der[23..26] == [0x03, 0x42, 0x00]
                && der[26] == 0x04
        }
        59 => {
            der[..2] == [0x30, 0x39]
                && der[2..23] == ALGORITHM
                && der[23..26] == [0x03, 0x22, 0x00]
                && matches!(der[26], 0x02 | 0x03)
        }
        _ => false,
    }
}

/// The check of a Play Integrity key's value that cannot run on an unresolved reference; `None` when it
/// passes or when `variable` is not a Play Integrity key.
pub(super) fn play_integrity_key_problem(variable: &str, value: &str) -> Option<&'static str> {
    match variable {
        "PLAY_INTEGRITY_DECRYPTION_KEY" => decode_base64(value)
            .is_none_or(|key| key.len() != 32)
            .then_some("is not the base64 of a 32-byte AES key"),
        "PLAY_INTEGRITY_VERIFICATION_KEY" => decode_base64(value)
            .is_none_or(|der| !is_p256_spki(&der))
            .then_some("is not the base64 of a DER SubjectPublicKeyInfo of an EC P-256 key"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;

    #[test]
    fn an_empty_lookup_gives_every_documented_attestation_default() {
        let c = ok(&[]);
        assert!(!c.attestation.enrollment_require_attestation);
        assert!(!c.attestation.enrollment_replace_active);
        assert_eq!(c.attestation.enrollment_max_age, Duration::from_secs(600));
        assert_eq!(c.attestation.cache_ttl, Duration::from_secs(3600));
        assert!(c.attestation.play_integrity.is_none());
        assert!(c.attestation.app_attest.is_none());
        assert!(c.attestation.desktop_enabled);
        assert_eq!(c.attestation.desktop_max_per_hour, 10);
    }

    /// Every validation rule of this area, refused side: (variable, value, part of the message).
    #[test]
    fn each_invalid_attestation_value_is_reported_against_its_variable() {
        assert_each_refused(&[
            ("ENROLLMENT_REQUIRE_ATTESTATION", "2", "is not a boolean"),
            ("ENROLLMENT_REPLACE_ACTIVE", "maybe", "is not a boolean"),
            (
                "ENROLLMENT_ATTESTATION_MAX_AGE_SECONDS",
                "29",
                "is not a number of seconds (30-86400)",
            ),
            (
                "ATTESTATION_CACHE_TTL",
                "86401",
                "is not a number of seconds (60-86400)",
            ),
            (
                "PLAY_INTEGRITY_MAX_AGE_SECONDS",
                "9",
                "is not a number of seconds (10-3600)",
            ),
            (
                "PLAY_INTEGRITY_REQUIRED_DEVICE_VERDICT",
                "MEETS_VIRTUAL_INTEGRITY",
                "is not one of: MEETS_BASIC",
            ),
            (
                "PLAY_INTEGRITY_ALLOW_UNRECOGNIZED_APP",
                "sometimes",
                "is not a boolean",
            ),
            (
                "PLAY_INTEGRITY_CERT_DIGESTS",
                "not-a-digest",
                "is not a base64url SHA-256 digest",
            ),
            (
                "PLAY_INTEGRITY_CERT_DIGESTS",
                "+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8",
                "is not a base64url SHA-256 digest",
            ),
            (
                "APP_ATTEST_ENVIRONMENT",
                "sandbox",
                "is not one of: production, development",
            ),
            ("DESKTOP_ATTESTATION_ENABLED", "enabled", "is not a boolean"),
            (
                "DESKTOP_ATTESTATION_MAX_PER_HOUR",
                "1001",
                "is not a number of attestations (1-1000)",
            ),
        ]);
    }

    /// Every validation rule of this area, accepted side.
    #[test]
    fn each_valid_attestation_value_is_accepted() {
        assert_each_accepted(&[
            ("ENROLLMENT_REQUIRE_ATTESTATION", "on"),
            ("ENROLLMENT_ATTESTATION_MAX_AGE_SECONDS", "30"),
            ("ATTESTATION_CACHE_TTL", "60"),
            ("PLAY_INTEGRITY_MAX_AGE_SECONDS", "3600"),
            (
                "PLAY_INTEGRITY_REQUIRED_DEVICE_VERDICT",
                "MEETS_STRONG_INTEGRITY",
            ),
            ("PLAY_INTEGRITY_ALLOW_UNRECOGNIZED_APP", "No"),
            (
                "PLAY_INTEGRITY_CERT_DIGESTS",
                "-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
            ("APP_ATTEST_ENVIRONMENT", "DEVELOPMENT"),
            ("DESKTOP_ATTESTATION_ENABLED", "0"),
            ("DESKTOP_ATTESTATION_MAX_PER_HOUR", "1000"),
        ]);
    }

    #[test]
    fn a_complete_play_integrity_group_is_configured() {
        let key = b64(&[1u8; 32]);
        let spki = b64(&p256_spki());
        let c = ok(&[
            ("PLAY_INTEGRITY_PACKAGE_NAME", "com.apuntador.app"),
            ("PLAY_INTEGRITY_DECRYPTION_KEY", &key),
            ("PLAY_INTEGRITY_VERIFICATION_KEY", &spki),
            (
                "PLAY_INTEGRITY_REQUIRED_DEVICE_VERDICT",
                "MEETS_BASIC_INTEGRITY",
            ),
        ]);
        let play = c.attestation.play_integrity.expect("configured");
        assert_eq!(play.package_name, "com.apuntador.app");
        assert_eq!(play.decryption_key_bytes(), Some([1u8; 32]));
        assert_eq!(play.verification_key_der(), Some(p256_spki()));
        assert_eq!(play.max_age, Duration::from_secs(300));
        assert_eq!(play.required_device_verdict, DeviceVerdict::Basic);
        assert!(!play.allow_unrecognized_app);
    }

    #[test]
    fn play_integrity_keys_are_checked_when_given_in_plain() {
        let mut compressed = p256_spki()[..27].to_vec();
        compressed[1] = 0x39;
        compressed[24] = 0x22;
        compressed[26] = 0x02;
        compressed.extend([9u8; 32]);
        let cases: &[(&str, String, bool)] = &[
            ("PLAY_INTEGRITY_DECRYPTION_KEY", b64(&[1u8; 32]), true),
            (
                "PLAY_INTEGRITY_DECRYPTION_KEY",
                b64(&[1u8; 32]).trim_end_matches('=').to_owned(),
                true,
            ),
            ("PLAY_INTEGRITY_DECRYPTION_KEY", b64(&[1u8; 16]), false),
            (
                "PLAY_INTEGRITY_DECRYPTION_KEY",
                "not base64!".to_owned(),
                false,
            ),
            ("PLAY_INTEGRITY_VERIFICATION_KEY", b64(&p256_spki()), true),
            ("PLAY_INTEGRITY_VERIFICATION_KEY", b64(&compressed), true),
            (
                "PLAY_INTEGRITY_VERIFICATION_KEY",
                b64(&p256_spki()[..90]),
                false,
            ),
            ("PLAY_INTEGRITY_VERIFICATION_KEY", b64(&[0x30; 91]), false),
        ];
        for (variable, value, accepted) in cases {
            let mut pairs = vec![
                (
                    "PLAY_INTEGRITY_PACKAGE_NAME",
                    "com.apuntador.app".to_owned(),
                ),
                ("PLAY_INTEGRITY_DECRYPTION_KEY", b64(&[1u8; 32])),
                ("PLAY_INTEGRITY_VERIFICATION_KEY", b64(&p256_spki())),
            ];
            pairs.retain(|(name, _)| name != variable);
            pairs.push((variable, value.clone()));
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            match parse(&refs) {
                Ok(_) => assert!(accepted, "{variable} should be refused"),
                Err(e) => {
                    assert!(!accepted, "{variable} should be accepted: {e}");
                    assert_eq!(e.0.len(), 1);
                    assert_eq!(e.0[0].variable, *variable);
                    assert!(
                        !e.to_string().contains(value.as_str()),
                        "secret echoed: {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn android_package_names_are_checked() {
        for (value, accepted) in [
            ("com.apuntador.app", true),
            ("com.example.my_app2", true),
            ("apuntador", false),
            ("com.1example.app", false),
            ("com..app", false),
            ("com.example-app", false),
        ] {
            let result = check_package_name(value);
            assert_eq!(result.is_ok(), accepted, "{value}: {result:?}");
        }
    }

    #[test]
    fn apple_team_and_bundle_ids_are_checked() {
        for (team, bundle, accepted) in [
            ("ABCDE12345", "com.apuntador.app", true),
            ("ABCDE12345", "com.apuntador.my-app", true),
            ("abcde12345", "com.apuntador.app", false),
            ("ABCDE1234", "com.apuntador.app", false),
            ("ABCDE12345", "com.apuntador..app", false),
            ("ABCDE12345", "com.apuntador_app", false),
        ] {
            let result = parse(&[("APPLE_TEAM_ID", team), ("APPLE_BUNDLE_ID", bundle)]);
            assert_eq!(result.is_ok(), accepted, "{team} {bundle}: {result:?}");
        }
        let c = ok(&[
            ("APPLE_TEAM_ID", "ABCDE12345"),
            ("APPLE_BUNDLE_ID", "com.apuntador.app"),
        ]);
        let app_attest = c.attestation.app_attest.expect("configured");
        assert_eq!(app_attest.environment, AppAttestEnvironment::Production);
    }

    #[test]
    fn partial_attestation_groups_name_each_missing_variable() {
        let cases: &[(Pairs, &[&str])] = &[
            (
                &[("PLAY_INTEGRITY_PACKAGE_NAME", "com.apuntador.app")],
                &[
                    "PLAY_INTEGRITY_DECRYPTION_KEY",
                    "PLAY_INTEGRITY_VERIFICATION_KEY",
                ],
            ),
            (
                &[
                    ("PLAY_INTEGRITY_VERIFICATION_KEY", ARN),
                    ("PLAY_INTEGRITY_DECRYPTION_KEY", ARN),
                ],
                &["PLAY_INTEGRITY_PACKAGE_NAME"],
            ),
            (&[("APPLE_TEAM_ID", "ABCDE12345")], &["APPLE_BUNDLE_ID"]),
            (
                &[("APPLE_BUNDLE_ID", "com.apuntador.app")],
                &["APPLE_TEAM_ID"],
            ),
        ];
        for (pairs, missing) in cases {
            let found = problems(pairs);
            let variables: Vec<&str> = found.iter().map(|p| p.variable.as_str()).collect();
            assert_eq!(variables, *missing, "{pairs:?}");
            assert!(
                found
                    .iter()
                    .all(|p| p.message.contains("must be set because"))
            );
        }
    }

    #[test]
    fn device_verdict_helpers_use_the_documented_names() {
        assert_eq!(
            DeviceVerdict::parse("MEETS_STRONG_INTEGRITY"),
            Some(DeviceVerdict::Strong)
        );
        assert!(
            DeviceVerdict::Basic < DeviceVerdict::Device
                && DeviceVerdict::Device < DeviceVerdict::Strong
        );
    }
}
