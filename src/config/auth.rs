//! Bearer keys and secret-capable values. `CONFIG_API_KEY` (or the legacy `SECRET_KEY`) guards the
//! configuration API and `ADMIN_API_KEY` the admin API. Any secret-capable variable may hold the secret
//! itself or a Secrets Manager ARN, resolved at start-up before the checks that need the value run.

use secrecy::{ExposeSecret as _, SecretString};

use super::Reader;

/// Development default for `CONFIG_API_KEY` (refused in production).
pub const DEV_CONFIG_API_KEY: &str = "dev-config-api-key-change-me-in-production";
/// The previous service's well-known default `SECRET_KEY` (refused in production).
pub const LEGACY_DEV_SECRET_KEY: &str = "dev-secret-key-change-in-production-min-32-chars";

/// Prefix that makes the value of a secret-capable variable a Secrets Manager reference.
pub const SECRET_REFERENCE_PREFIX: &str = "arn:aws:secretsmanager:";

/// Minimum length, in characters, of `CONFIG_API_KEY` (production) and `ADMIN_API_KEY`.
const MIN_KEY_CHARS: usize = 32;

/// Bearer keys: `CONFIG_API_KEY` guards the configuration API, `ADMIN_API_KEY` the admin API.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Effective `CONFIG_API_KEY` (S): falls back to legacy `SECRET_KEY`, then, in development only, to
    /// [`DEV_CONFIG_API_KEY`].
    pub config_api_key: SecretValue,
    /// True when the key came from legacy `SECRET_KEY` (a WARN is logged at start).
    pub config_api_key_from_legacy: bool,
    /// `ADMIN_API_KEY` (S): `None` disables the admin API. At least 32 characters when set.
    pub admin_api_key: Option<SecretValue>,
}

/// A secret-capable value: either the value itself or a Secrets Manager ARN (`arn:aws:secretsmanager:…`)
/// to resolve at start-up.
#[derive(Debug, Clone)]
pub enum SecretValue {
    /// The secret itself.
    Plain(SecretString),
    /// `arn:aws:secretsmanager:…`, resolved before the router is built.
    Reference(String),
}

impl SecretValue {
    /// The secret itself, or `None` for a Secrets Manager reference not resolved yet.
    pub fn expose(&self) -> Option<&str> {
        match self {
            SecretValue::Plain(secret) => Some(secret.expose_secret()),
            SecretValue::Reference(_) => None,
        }
    }

    /// A reference when `value` starts with [`SECRET_REFERENCE_PREFIX`], else the secret itself.
    pub(super) fn from_raw(value: String) -> SecretValue {
        if value.starts_with(SECRET_REFERENCE_PREFIX) {
            SecretValue::Reference(value)
        } else {
            SecretValue::Plain(SecretString::from(value))
        }
    }
}

impl Reader<'_> {
    /// The bearer keys: `CONFIG_API_KEY`, else the legacy `SECRET_KEY`, else (development only) the
    /// development default; `ADMIN_API_KEY` when set.
    pub(super) fn auth(&mut self) -> AuthConfig {
        let (variable, value) = match (self.raw("CONFIG_API_KEY"), self.raw("SECRET_KEY")) {
            (Some(key), _) => ("CONFIG_API_KEY", Some(key)),
            (None, Some(legacy)) => ("SECRET_KEY", Some(legacy)),
            (None, None) => ("CONFIG_API_KEY", None),
        };
        let config_api_key = match value {
            Some(raw) => {
                let key = SecretValue::from_raw(raw);
                self.check_secret(variable, &key);
                key
            }
            None => {
                if self.production {
                    self.problem("CONFIG_API_KEY", "must be set in production");
                }
                SecretValue::Plain(SecretString::from(DEV_CONFIG_API_KEY))
            }
        };
        AuthConfig {
            config_api_key,
            config_api_key_from_legacy: variable == "SECRET_KEY",
            admin_api_key: self.secret("ADMIN_API_KEY"),
        }
    }
}

/// The check of a bearer key's value that cannot run on an unresolved reference; `None` when it passes
/// or when `variable` is not a bearer key.
pub(super) fn key_problem(variable: &str, value: &str, production: bool) -> Option<&'static str> {
    match variable {
        "CONFIG_API_KEY" | "SECRET_KEY" if production => {
            if value == DEV_CONFIG_API_KEY {
                Some("must not be the development default in production")
            } else if value == LEGACY_DEV_SECRET_KEY {
                Some("must not be the well-known legacy default in production")
            } else if value.chars().count() < MIN_KEY_CHARS {
                Some("must be at least 32 characters in production")
            } else {
                None
            }
        }
        "ADMIN_API_KEY" => {
            (value.chars().count() < MIN_KEY_CHARS).then_some("must be at least 32 characters")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;

    #[test]
    fn an_empty_lookup_gives_every_documented_auth_default() {
        let c = ok(&[]);
        assert_eq!(c.auth.config_api_key.expose(), Some(DEV_CONFIG_API_KEY));
        assert!(!c.auth.config_api_key_from_legacy);
        assert!(c.auth.admin_api_key.is_none());
    }

    /// Every validation rule of this area, refused side: (variable, value, part of the message).
    #[test]
    fn each_invalid_auth_value_is_reported_against_its_variable() {
        assert_each_refused(&[(
            "ADMIN_API_KEY",
            "short-admin-key",
            "must be at least 32 characters",
        )]);
    }

    /// Every validation rule of this area, accepted side.
    #[test]
    fn each_valid_auth_value_is_accepted() {
        assert_each_accepted(&[
            ("CONFIG_API_KEY", "short-is-fine-in-development"),
            ("SECRET_KEY", "legacy"),
            ("ADMIN_API_KEY", GOOD_KEY),
        ]);
    }

    /// Every production-only refusal of this area: (extra variables over a valid production base,
    /// variable, message part); then the accepted side of the same rules.
    #[test]
    fn each_production_refusal_of_the_auth_settings_is_a_problem() {
        let long_admin = "a".repeat(32);
        assert_each_refused_in_production(&[
            (
                &[("CONFIG_API_KEY", "")],
                "CONFIG_API_KEY",
                "must be set in production",
            ),
            (
                &[("CONFIG_API_KEY", "0123456789")],
                "CONFIG_API_KEY",
                "must be at least 32 characters in production",
            ),
            (
                &[("CONFIG_API_KEY", DEV_CONFIG_API_KEY)],
                "CONFIG_API_KEY",
                "must not be the development default",
            ),
            (
                &[("CONFIG_API_KEY", LEGACY_DEV_SECRET_KEY)],
                "CONFIG_API_KEY",
                "must not be the well-known legacy",
            ),
            (
                &[
                    ("CONFIG_API_KEY", ""),
                    ("SECRET_KEY", LEGACY_DEV_SECRET_KEY),
                ],
                "SECRET_KEY",
                "must not be the well-known legacy",
            ),
            (
                &[("CONFIG_API_KEY", ""), ("SECRET_KEY", "short")],
                "SECRET_KEY",
                "at least 32 characters",
            ),
            (
                &[("ADMIN_API_KEY", "0123456789")],
                "ADMIN_API_KEY",
                "must be at least 32 characters",
            ),
        ]);
        assert_each_accepted_in_production(&[
            &[("ADMIN_API_KEY", &long_admin)],
            &[("CONFIG_API_KEY", ""), ("SECRET_KEY", GOOD_KEY)],
        ]);
    }

    #[test]
    fn secret_key_is_used_when_config_api_key_is_unset() {
        let c = ok(&[("SECRET_KEY", "legacy-key")]);
        assert_eq!(c.auth.config_api_key.expose(), Some("legacy-key"));
        assert!(c.auth.config_api_key_from_legacy);
        assert!(
            c.warnings()
                .iter()
                .any(|w| w.contains("SECRET_KEY is deprecated"))
        );
    }

    #[test]
    fn config_api_key_wins_over_secret_key() {
        let c = ok(&[("SECRET_KEY", "legacy-key"), ("CONFIG_API_KEY", "new-key")]);
        assert_eq!(c.auth.config_api_key.expose(), Some("new-key"));
        assert!(!c.auth.config_api_key_from_legacy);
    }

    #[test]
    fn a_legacy_secret_key_reference_is_resolved_under_its_own_name() {
        let pairs = production(&[("CONFIG_API_KEY", ""), ("SECRET_KEY", ARN)]);
        let mut c = ok(&as_refs(&pairs));
        assert_eq!(c.secret_references(), [("SECRET_KEY", ARN.to_owned())]);
        let error = c
            .apply_resolved_secrets(vec![(
                "SECRET_KEY",
                SecretString::from(LEGACY_DEV_SECRET_KEY),
            )])
            .unwrap_err();
        assert_eq!(error.0[0].variable, "SECRET_KEY");
        assert!(error.0[0].message.contains("legacy default"));
    }

    #[test]
    fn development_checks_only_the_length_of_a_resolved_admin_key() {
        let mut c = ok(&[("CONFIG_API_KEY", ARN), ("ADMIN_API_KEY", ARN)]);
        c.apply_resolved_secrets(vec![
            ("CONFIG_API_KEY", SecretString::from("short")),
            ("ADMIN_API_KEY", SecretString::from(GOOD_KEY)),
        ])
        .expect("development accepts a short config key");
        assert_eq!(
            c.auth.admin_api_key.as_ref().and_then(SecretValue::expose),
            Some(GOOD_KEY)
        );
    }
}
