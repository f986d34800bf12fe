//! Helpers shared by the configuration tests of every area: a lookup over literal pairs, a valid
//! production base, and the table checks that each area runs over its own variables.

use std::collections::HashMap;

use base64::Engine as _;

use super::{Config, ConfigError, ConfigProblem};

pub(super) const GOOD_KEY: &str = "0123456789abcdef0123456789abcdef";
/// Variables given to a test case.
pub(super) type Pairs<'a> = &'a [(&'a str, &'a str)];

pub(super) const ARN: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:apuntador/config-key-AbCdEf";

pub(super) fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

pub(super) fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_lookup(lookup(pairs))
}

pub(super) fn ok(pairs: &[(&str, &str)]) -> Config {
    match parse(pairs) {
        Ok(config) => config,
        Err(e) => panic!("expected {pairs:?} to parse, got:\n{e}"),
    }
}

pub(super) fn problems(pairs: &[(&str, &str)]) -> Vec<ConfigProblem> {
    match parse(pairs) {
        Ok(_) => panic!("expected {pairs:?} to be refused"),
        Err(ConfigError(problems)) => problems,
    }
}

/// A production configuration that passes every production-only refusal.
pub(super) fn production(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("ENVIRONMENT", "production"),
        ("CONFIG_API_KEY", GOOD_KEY),
        ("ENABLED_CLOUD_PROVIDERS", "dropbox"),
        ("DROPBOX_CLIENT_ID", "dropbox-id"),
        ("CLIENT_CERT_SOURCES", "lambda-context"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k.to_string(), v.to_string()));
    }
    pairs
}

pub(super) fn as_refs(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

pub(super) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(super) fn p256_spki() -> Vec<u8> {
    let mut der = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
    ];
    der.extend([7u8; 64]);
    der
}

pub(super) fn variables_with_problems(pairs: &[(&str, &str)]) -> Vec<String> {
    problems(pairs).into_iter().map(|p| p.variable).collect()
}

/// `pairs` is refused with a problem on `variable` whose message contains `needle`.
pub(super) fn assert_problem(pairs: &[(&str, &str)], variable: &str, needle: &str) {
    let found = problems(pairs);
    assert!(
        found
            .iter()
            .any(|p| p.variable == variable && p.message.contains(needle)),
        "{found:?}"
    );
}

/// Each `(variable, value, message part)` given alone is refused with exactly one problem, on that
/// variable, whose message contains the part.
pub(super) fn assert_each_refused(cases: &[(&str, &str, &str)]) {
    for (variable, value, expected) in cases {
        let found = problems(&[(variable, value)]);
        assert_eq!(found.len(), 1, "{variable}={value:?}: {found:?}");
        assert_eq!(found[0].variable, *variable, "{variable}={value:?}");
        assert!(
            found[0].message.contains(expected),
            "{variable}={value:?}: {:?} does not contain {expected:?}",
            found[0].message
        );
    }
}

/// Each `(variable, value)` given alone is accepted.
pub(super) fn assert_each_accepted(cases: &[(&str, &str)]) {
    for (variable, value) in cases {
        if let Err(e) = parse(&[(variable, value)]) {
            panic!("{variable}={value:?} was refused:\n{e}");
        }
    }
}

/// Each `(extra variables, variable, message part)` over the [`production`] base is refused with
/// exactly one problem, on that variable, whose message contains the part.
pub(super) fn assert_each_refused_in_production(cases: &[(Pairs, &str, &str)]) {
    for (extra, variable, expected) in cases {
        let pairs = production(extra);
        let found = problems(&as_refs(&pairs));
        assert_eq!(found.len(), 1, "{extra:?}: {found:?}");
        assert_eq!(found[0].variable, *variable, "{extra:?}");
        assert!(
            found[0].message.contains(expected),
            "{extra:?}: {:?}",
            found[0].message
        );
    }
}

/// Each set of extra variables over the [`production`] base is accepted.
pub(super) fn assert_each_accepted_in_production(accepted: &[&[(&str, &str)]]) {
    for extra in accepted {
        let pairs = production(extra);
        if let Err(e) = parse(&as_refs(&pairs)) {
            panic!("{extra:?} was refused in production:\n{e}");
        }
    }
}
