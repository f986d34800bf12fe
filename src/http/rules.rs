//! Field rules of request bodies and path parameters: the one source that both the validators and
//! the OpenAPI document read, so the two cannot drift.
//!
//! Each [`Field`] states a member's name (and alias), whether it is required, its length bounds in
//! Unicode scalar values and its value rule ([`Rule`]). [`Field::read`] validates a member of a JSON
//! object with it (the 422 errors of the problem documents), and [`Field::schema`] writes the JSON
//! Schema of the same member. A [`Body`] lists the fields of one request body; the OpenAPI module
//! registers its schema under the body's name. Where a rule is a Rust function (a hand-written
//! matcher rather than a regular expression engine), the function and the regular expression the
//! schema shows are checked against each other on generated samples by this module's tests.
//!
//! Depends on `error::FieldError` and `http::extract::Fields` only.

use serde_json::{Map, Value, json};

use crate::error::FieldError;
use crate::http::extract::Fields;

/// What a string member must match, beyond its length.
#[derive(Clone, Copy)]
pub enum Rule {
    /// Any string.
    Any,
    /// A regular expression (ECMA-262, anchored); a mismatch is `string_pattern_mismatch` naming it.
    Pattern {
        /// The regular expression, as the schema and the 422 message show it.
        regex: &'static str,
        /// The validator: true exactly when `regex` matches.
        matches: fn(&str) -> bool,
    },
    /// A rule reported as a `value_error` with the message `check` returns; `regex` describes the
    /// same set of strings for the schema.
    Value {
        /// The regular expression (ECMA-262, anchored) of the valid strings.
        regex: &'static str,
        /// The validator: `Err(message)` exactly when `regex` does not match.
        check: fn(&str) -> Result<(), &'static str>,
    },
    /// One of `values`, compared ASCII-case-insensitively; anything else is an `enum` error.
    EnumIgnoreCase {
        /// The accepted values, lower case, in the documented order.
        values: &'static [&'static str],
    },
}

/// The type of a member.
#[derive(Clone, Copy)]
pub enum Kind {
    /// A string with length bounds and a rule.
    Str {
        /// Fewest Unicode scalar values (0: no lower bound).
        min: usize,
        /// Most Unicode scalar values, when bounded.
        max: Option<usize>,
        /// The value rule.
        rule: Rule,
    },
    /// A JSON object with any members.
    Object,
}

/// One member of a request body, or one path parameter.
#[derive(Clone, Copy)]
pub struct Field {
    /// The member name.
    pub name: &'static str,
    /// A second name read when `name` is absent.
    pub alias: Option<&'static str>,
    /// Whether the member must be present (an optional member may be absent or null).
    pub required: bool,
    /// Its type and rules.
    pub kind: Kind,
    /// Another member that must be present (not null) whenever this one is.
    pub requires: Option<&'static str>,
    /// What the member is, for the schema.
    pub description: &'static str,
}

/// A string member: required, lengths `min..=max` (`max` 0: unbounded), rule `rule`.
const fn string(
    name: &'static str,
    min: usize,
    max: usize,
    rule: Rule,
    description: &'static str,
) -> Field {
    Field {
        name,
        alias: None,
        required: true,
        kind: Kind::Str {
            min,
            max: if max == 0 { None } else { Some(max) },
            rule,
        },
        requires: None,
        description,
    }
}

impl Field {
    /// The same member, optional (absent or null).
    pub const fn optional(mut self) -> Field {
        self.required = false;
        self
    }

    /// The same member under another name.
    pub const fn named(mut self, name: &'static str) -> Field {
        self.name = name;
        self
    }

    /// The same member, also read under `alias` when `name` is absent.
    pub const fn alias(mut self, alias: &'static str) -> Field {
        self.alias = Some(alias);
        self
    }

    /// The same member, which may only be given together with `other`.
    pub const fn requires(mut self, other: &'static str) -> Field {
        self.requires = Some(other);
        self
    }

    /// The same member with another description.
    pub const fn describe(mut self, description: &'static str) -> Field {
        self.description = description;
        self
    }

    /// Validates this member of `object`, recording any error in `f`: the value when it is present
    /// and valid, `None` otherwise (absent optional members included).
    pub fn read(&self, f: &mut Fields<'_>, object: &Map<String, Value>) -> Option<String> {
        let name = match self.alias {
            Some(alias) if !object.contains_key(self.name) && object.contains_key(alias) => alias,
            _ => self.name,
        };
        match self.kind {
            Kind::Object => match object.get(name) {
                Some(Value::Object(_)) => Some(String::new()),
                None if !self.required => None,
                Some(Value::Null) if !self.required => None,
                None => {
                    f.push(FieldError::body(name, "missing", "Field required"));
                    None
                }
                Some(_) => {
                    f.push(FieldError::body(
                        name,
                        "object_type",
                        "Input should be a valid object",
                    ));
                    None
                }
            },
            Kind::Str { min, max, rule } => {
                let value = if self.required {
                    f.required_str(name, min, max.unwrap_or(usize::MAX))
                } else if min > 0 {
                    match object.get(name) {
                        None | Some(Value::Null) => None,
                        Some(_) => f.required_str(name, min, max.unwrap_or(usize::MAX)),
                    }
                } else {
                    f.optional_str(name, max.unwrap_or(usize::MAX))
                }?;
                match rule {
                    Rule::Any => Some(value),
                    Rule::Pattern { regex, matches } => {
                        if matches(&value) {
                            Some(value)
                        } else {
                            f.push(pattern_error(FieldError::body, name, regex));
                            None
                        }
                    }
                    Rule::Value { check, .. } => match check(&value) {
                        Ok(()) => Some(value),
                        Err(message) => {
                            f.value_error(name, message);
                            None
                        }
                    },
                    Rule::EnumIgnoreCase { values } => {
                        match values.iter().find(|v| v.eq_ignore_ascii_case(&value)) {
                            Some(v) => Some((*v).to_owned()),
                            None => {
                                f.push(FieldError::body(name, "enum", enum_message(values)));
                                None
                            }
                        }
                    }
                }
            }
        }
    }

    /// Validates a path segment with this field's rule: `Err` is the 422 error at
    /// `["path", <name>]`.
    pub fn check_path(&self, segment: &str) -> Result<(), FieldError> {
        let Kind::Str { rule, .. } = self.kind else {
            return Ok(());
        };
        match rule {
            Rule::Pattern { regex, matches } if !matches(segment) => {
                Err(pattern_error(FieldError::path, self.name, regex))
            }
            _ => Ok(()),
        }
    }

    /// The JSON Schema of the member's value (without alias or dependency rules, which belong to the
    /// enclosing object).
    pub fn schema(&self) -> Value {
        let mut schema = Map::new();
        match self.kind {
            Kind::Object => {
                schema.insert(
                    "type".into(),
                    if self.required {
                        json!("object")
                    } else {
                        json!(["object", "null"])
                    },
                );
            }
            Kind::Str { min, max, rule } => {
                schema.insert(
                    "type".into(),
                    if self.required {
                        json!("string")
                    } else {
                        json!(["string", "null"])
                    },
                );
                if min > 0 {
                    schema.insert("minLength".into(), json!(min));
                }
                if let Some(max) = max {
                    schema.insert("maxLength".into(), json!(max));
                }
                if let Some(regex) = rule.regex() {
                    schema.insert("pattern".into(), Value::from(regex));
                }
            }
        }
        schema.insert("description".into(), Value::from(self.description));
        Value::Object(schema)
    }
}

impl Rule {
    /// The regular expression of the valid strings, when the rule has one.
    pub fn regex(&self) -> Option<String> {
        match self {
            Rule::Any => None,
            Rule::Pattern { regex, .. } | Rule::Value { regex, .. } => Some((*regex).to_owned()),
            Rule::EnumIgnoreCase { values } => Some(case_insensitive_regex(values)),
        }
    }
}

/// `^(?:[aA][nN]…|…)$`: the values, each letter in either case (ECMA-262 has no inline flags).
fn case_insensitive_regex(values: &[&str]) -> String {
    let alternatives: Vec<String> = values
        .iter()
        .map(|v| {
            v.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!("^(?:{})$", alternatives.join("|"))
}

/// `Input should be 'a', 'b' or 'c'`.
fn enum_message(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("Input should be {} or {last}", rest.join(", "))
        }
        _ => format!("Input should be {}", quoted.join("")),
    }
}

/// A `string_pattern_mismatch` error at `name`.
pub fn pattern_error(
    at: fn(&str, &'static str, String) -> FieldError,
    name: &str,
    pattern: &str,
) -> FieldError {
    at(
        name,
        "string_pattern_mismatch",
        format!("String should match pattern '{pattern}'"),
    )
}

/// The fields of one request body, in the order the validator reports their errors.
pub struct Body {
    /// The schema name in the OpenAPI document.
    pub name: &'static str,
    /// What the body is.
    pub description: &'static str,
    /// Its members.
    pub fields: &'static [Field],
}

impl Body {
    /// The JSON Schema of the body: an object (unknown members allowed and ignored) with each field,
    /// the required ones, and the alias and dependency rules as `anyOf` alternatives.
    pub fn schema(&self) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        let mut all_of = Vec::new();
        for field in self.fields {
            properties.insert(field.name.into(), field.schema());
            match field.alias {
                Some(alias) if field.required => {
                    // The alias is read only when the main name is absent: either the main member is
                    // present (the alias is then ignored), or the alias is, valid, and the main one
                    // absent.
                    all_of.push(json!({"anyOf": [
                        {"required": [field.name]},
                        {
                            "required": [alias],
                            "not": {"required": [field.name]},
                            "properties": {alias: field.schema()},
                        },
                    ]}));
                }
                Some(alias) => {
                    all_of.push(json!({"anyOf": [
                        {"required": [field.name]},
                        {"properties": {alias: field.optional().schema()}},
                    ]}));
                }
                None if field.required => required.push(Value::from(field.name)),
                None => {}
            }
            if let Some(other) = field.requires {
                // Given (not null), this member needs `other` given too.
                all_of.push(json!({"anyOf": [
                    {"not": {"required": [field.name]}},
                    {"properties": {field.name: {"type": "null"}}},
                    {
                        "required": [other],
                        "properties": {other: {"not": {"type": "null"}}},
                    },
                ]}));
            }
        }
        let mut schema = Map::new();
        schema.insert("type".into(), Value::from("object"));
        schema.insert("description".into(), Value::from(self.description));
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        if !all_of.is_empty() {
            schema.insert("allOf".into(), Value::Array(all_of));
        }
        Value::Object(schema)
    }
}

// ---- the rules -------------------------------------------------------------------------------

/// A device id: 5-128 of `A-Z a-z 0-9 _ -`, in bodies and paths alike.
pub const DEVICE_ID: Field = string(
    "device_id",
    0,
    0,
    Rule::Pattern {
        regex: crate::pki::DEVICE_ID_PATTERN,
        matches: crate::pki::is_valid_device_id,
    },
    "The device's identifier: 5-128 characters of A-Z a-z 0-9 _ -.",
);

/// `platform` of an enrolment.
pub const PLATFORM: Field = string(
    "platform",
    0,
    0,
    Rule::EnumIgnoreCase {
        values: &["android", "ios", "desktop", "web"],
    },
    "android, ios, desktop or web, in any letter case.",
);

/// `platform` of a clear-cache request (no `web`: web devices are never attested).
pub const ATTESTED_PLATFORM: Field = string(
    "platform",
    0,
    0,
    Rule::EnumIgnoreCase {
        values: &["android", "ios", "desktop"],
    },
    "With device_id: only this platform's result (android, ios or desktop, in any letter case).",
)
.optional()
.requires("device_id");

/// A PKCS#10 certificate signing request in PEM.
pub const CSR: Field = string(
    "csr",
    crate::pki::csr::MIN_CHARS,
    crate::pki::csr::MAX_CHARS,
    Rule::Value {
        regex: CSR_REGEX,
        check: crate::pki::csr::check_syntax,
    },
    "PKCS#10 certificate signing request, PEM (100-16384 characters). Its key must be RSA 2048-8192 \
     bits, EC P-256, EC P-384 or Ed25519; EC P-256 is recommended.",
);

/// Surrounding whitespace (exactly what Rust's `str::trim` removes), the PEM header, anything, the PEM
/// footer (the two may share their dashes).
const CSR_REGEX: &str = concat!(
    r"^[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*",
    r"-----BEGIN CERTIFICATE REQUEST-----(?:[\s\S]*-----)?END CERTIFICATE REQUEST-----",
    r"[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$",
);

/// `old_serial` of a renewal.
pub const OLD_SERIAL: Field = string(
    "old_serial",
    0,
    0,
    Rule::Pattern {
        regex: "^[0-9A-Fa-f]{1,40}$",
        matches: is_serial,
    },
    "Serial number of the presented certificate, hexadecimal in any letter case.",
);

fn is_serial(s: &str) -> bool {
    (1..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A desktop fingerprint.
pub const FINGERPRINT: Field = string(
    "fingerprint",
    0,
    0,
    Rule::Pattern {
        regex: "^[a-f0-9]{64}$",
        matches: is_fingerprint,
    },
    "The device fingerprint: 64 lower-case hexadecimal digits.",
);

fn is_fingerprint(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An RFC 7636 PKCE code verifier.
pub const CODE_VERIFIER: Field = string(
    "code_verifier",
    0,
    0,
    Rule::Value {
        regex: "^[A-Za-z0-9._~-]{43,128}$",
        check: check_verifier,
    },
    "PKCE code verifier (RFC 7636): 43-128 characters of A-Z a-z 0-9 - . _ ~.",
);

fn check_verifier(v: &str) -> Result<(), &'static str> {
    if crate::oauth::pkce::is_valid_verifier(v) {
        Ok(())
    } else {
        Err(crate::oauth::pkce::VERIFIER_RULE)
    }
}

/// The app's redirect URI of an authorization.
pub const REDIRECT_URI: Field = string(
    "redirect_uri",
    1,
    2048,
    Rule::Value {
        regex: concat!(r"^[A-Za-z][A-Za-z0-9+.\-]*:", r"[\x21\x22\x24-\x7E]+$",),
        check: check_redirect_uri,
    },
    "Where the app wants the result: an absolute URI of printable ASCII characters (percent-encode \
     anything else) without fragment or whitespace, 1-2048 characters, allowed by this deployment's \
     ALLOWED_REDIRECT_URIS (else 400 invalid_redirect_uri; a URI admitted by a prefix rule must also \
     have no dot-segment and no backslash).",
);

fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    if !uri.is_ascii() {
        Err(crate::oauth::redirect::REDIRECT_URI_ASCII_RULE)
    } else if crate::oauth::redirect::is_absolute_without_fragment(uri) {
        Ok(())
    } else {
        Err(crate::oauth::redirect::REDIRECT_URI_RULE)
    }
}

/// The optional client state of an authorization.
pub const CLIENT_STATE: Field = string(
    "state",
    0,
    512,
    Rule::Any,
    "Optional client state, at most 512 characters; stored with the session and never sent to the \
     provider.",
)
.optional();

/// An OAuth value that must not contain control characters (C0, DEL or C1: what Rust's
/// `char::is_control` accepts): a `value_error` naming the member, never a provider call.
macro_rules! no_controls {
    ($name:literal) => {
        Rule::Value {
            regex: r"^[^\x00-\x1F\x7F-\x9F]*$",
            check: |v| {
                if crate::oauth::has_control_characters(v) {
                    Err(concat!($name, " must not contain control characters"))
                } else {
                    Ok(())
                }
            },
        }
    };
}

/// The authorization code of a token exchange.
pub const CODE: Field = string(
    "code",
    1,
    4096,
    no_controls!("code"),
    "The authorization code the provider returned (1-4096 characters).",
);

/// The state token of a token exchange.
pub const STATE_TOKEN: Field = string(
    "state",
    1,
    512,
    no_controls!("state"),
    "The state token returned by the authorize call (1-512 characters); usable once.",
);

/// The refresh token of a refresh.
pub const REFRESH_TOKEN: Field = string(
    "refresh_token",
    1,
    4096,
    no_controls!("refresh_token"),
    "The refresh token (1-4096 characters).",
);

/// The token of a provider revocation.
pub const TOKEN: Field = string(
    "token",
    1,
    4096,
    no_controls!("token"),
    "The access or refresh token to revoke (1-4096 characters).",
);

/// The attestation id of an enrolment.
pub const ATTESTATION: Field = string(
    "attestation",
    0,
    0,
    Rule::Any,
    "Attestation id returned by /device/attest/*; required when this deployment requires \
     attestation for enrolment, ignored otherwise.",
)
.optional();

/// The reason of a device revocation.
pub const REASON: Field = string(
    "reason",
    0,
    256,
    Rule::Any,
    "Why, at most 256 characters; `Manual revocation` when absent or blank.",
)
.optional();

/// The Play Integrity token.
pub const INTEGRITY_TOKEN: Field = string(
    "integrity_token",
    100,
    16_384,
    Rule::Any,
    "The Play Integrity token (JWE compact serialisation), 100-16384 characters; `jws_token` is read \
     when this member is absent.",
)
.alias("jws_token");

/// The nonce of a Play Integrity request.
pub const NONCE: Field = string(
    "nonce",
    16,
    500,
    Rule::Any,
    "The nonce the app passed to the integrity request, 16-500 characters.",
);

/// The App Attest attestation object.
pub const ATTESTATION_OBJECT: Field = string(
    "attestation_object",
    100,
    32_768,
    Rule::Any,
    "Base64 (standard or URL-safe, padding optional) of the CBOR attestation object, 100-32768 \
     characters; `device_token` is read when this member is absent.",
)
.alias("device_token");

/// The App Attest key id.
pub const KEY_ID: Field = string(
    "key_id",
    0,
    1024,
    Rule::Any,
    "Base64 of the 32-byte App Attest key identifier, at most 1024 characters.",
);

/// The App Attest challenge.
pub const CHALLENGE: Field = string(
    "challenge",
    16,
    1024,
    Rule::Any,
    "The challenge the app passed to the attestation call, 16-1024 characters.",
);

/// Free-form desktop details.
pub const PLATFORM_DETAILS: Field = Field {
    name: "platform_details",
    alias: None,
    required: true,
    kind: Kind::Object,
    requires: None,
    description: "Any members; neither stored nor logged.",
};

// ---- the bodies ------------------------------------------------------------------------------

/// `POST /oauth/authorize/{provider}`.
pub const AUTHORIZE: Body = Body {
    name: "AuthorizeRequest",
    description: "Starts an authorization.",
    fields: &[CODE_VERIFIER, REDIRECT_URI, CLIENT_STATE],
};

/// `POST /oauth/token/{provider}`.
pub const TOKEN_EXCHANGE: Body = Body {
    name: "TokenRequest",
    description: "Exchanges an authorization code.",
    fields: &[
        CODE,
        CODE_VERIFIER.describe("The code_verifier sent to authorize."),
        STATE_TOKEN,
    ],
};

/// `POST /oauth/refresh/{provider}`.
pub const REFRESH: Body = Body {
    name: "RefreshRequest",
    description: "Refreshes an access token.",
    fields: &[REFRESH_TOKEN],
};

/// `POST /oauth/revoke/{provider}`.
pub const TOKEN_REVOKE: Body = Body {
    name: "TokenRevokeRequest",
    description: "Revokes a token at the provider.",
    fields: &[TOKEN],
};

/// `POST /device/enroll`.
pub const ENROLL: Body = Body {
    name: "EnrollRequest",
    description: "Enrols a device.",
    fields: &[CSR, DEVICE_ID, PLATFORM, ATTESTATION],
};

/// `POST /device/renew`.
pub const RENEW: Body = Body {
    name: "RenewRequest",
    description: "Renews the presented certificate.",
    fields: &[
        CSR,
        DEVICE_ID.describe("Must be the device of the presented certificate."),
        OLD_SERIAL,
    ],
};

/// `POST /device/revoke`.
pub const DEVICE_REVOKE: Body = Body {
    name: "DeviceRevokeRequest",
    description: "Revokes the device's certificates.",
    fields: &[
        DEVICE_ID.describe("Must be the device of the presented certificate."),
        REASON,
    ],
};

/// `POST /device/attest/android`.
pub const ANDROID_ATTESTATION: Body = Body {
    name: "AndroidAttestationRequest",
    description: "Play Integrity evidence.",
    fields: &[INTEGRITY_TOKEN, DEVICE_ID, NONCE],
};

/// `POST /device/attest/ios`.
pub const IOS_ATTESTATION: Body = Body {
    name: "IosAttestationRequest",
    description: "App Attest evidence.",
    fields: &[ATTESTATION_OBJECT, KEY_ID, CHALLENGE, DEVICE_ID],
};

/// `POST /device/attest/desktop`.
pub const DESKTOP_ATTESTATION: Body = Body {
    name: "DesktopAttestationRequest",
    description: "A desktop fingerprint.",
    fields: &[DEVICE_ID, FINGERPRINT, PLATFORM_DETAILS],
};

/// `POST /device/attest/clear-cache` (the body is optional; empty clears everything).
pub const CLEAR_CACHE: Body = Body {
    name: "ClearCacheRequest",
    description: "What to clear: no device_id clears everything; device_id alone one device; with \
                  platform only that platform's result.",
    fields: &[
        DEVICE_ID
            .optional()
            .describe("Clear only this device (5-128 characters of A-Z a-z 0-9 _ -)."),
        ATTESTED_PLATFORM,
    ],
};

/// Every request body, for the OpenAPI document.
pub const BODIES: [&Body; 11] = [
    &AUTHORIZE,
    &TOKEN_EXCHANGE,
    &REFRESH,
    &TOKEN_REVOKE,
    &ENROLL,
    &RENEW,
    &DEVICE_REVOKE,
    &ANDROID_ATTESTATION,
    &IOS_ATTESTATION,
    &DESKTOP_ATTESTATION,
    &CLEAR_CACHE,
];

/// Implements `utoipa::ToSchema` for a request type whose schema comes from a [`Body`]: the document
/// module replaces the placeholder with [`Body::schema`] under the same name.
macro_rules! body_schema {
    ($ty:ty, $body:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .description(Some($body.description))
                    .into()
            }
        }
        impl utoipa::ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($body.name)
            }
        }
    };
}
pub(crate) use body_schema;

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn errors(body: &Body, v: Value) -> Vec<FieldError> {
        let o = object(v);
        let mut f = Fields::new(&o);
        for field in body.fields {
            field.read(&mut f, &o);
        }
        f.finish(|| Some(())).err().unwrap_or_default()
    }

    #[test]
    fn enum_messages_quote_every_value_and_join_the_last_with_or() {
        assert_eq!(
            enum_message(&["android", "ios", "desktop", "web"]),
            "Input should be 'android', 'ios', 'desktop' or 'web'"
        );
        assert_eq!(
            enum_message(&["android", "ios", "desktop"]),
            "Input should be 'android', 'ios' or 'desktop'"
        );
    }

    #[test]
    fn case_insensitive_enums_become_letter_class_patterns() {
        assert_eq!(
            case_insensitive_regex(&["ios", "web"]),
            "^(?:[iI][oO][sS]|[wW][eE][bB])$"
        );
    }

    #[test]
    fn an_alias_is_read_only_when_the_main_member_is_absent() {
        let ok = "t".repeat(100);
        assert!(
            errors(
                &ANDROID_ATTESTATION,
                json!({"jws_token": ok, "device_id": "dev-1", "nonce": "n".repeat(16)})
            )
            .is_empty()
        );
        let e = errors(
            &ANDROID_ATTESTATION,
            json!({"jws_token": "short", "device_id": "dev-1", "nonce": "n".repeat(16)}),
        );
        assert_eq!(e[0].loc, ["body", "jws_token"]);
        assert!(
            errors(
                &ANDROID_ATTESTATION,
                json!({"integrity_token": ok, "jws_token": 5, "device_id": "dev-1", "nonce": "n".repeat(16)})
            )
            .is_empty()
        );
    }

    /// The validator side of a rule, as a predicate.
    type Accepts = Box<dyn Fn(&str) -> bool>;

    /// A deterministic generator of strings made of `pieces`.
    struct Samples {
        seed: u64,
    }

    impl Samples {
        fn next(&mut self) -> u64 {
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            self.seed
        }

        fn string(&mut self, pieces: &[&str], max_pieces: u64) -> String {
            let n = self.next() % (max_pieces + 1);
            (0..n)
                .map(|_| pieces[(self.next() % pieces.len() as u64) as usize])
                .collect()
        }
    }

    /// Pieces that exercise every rule: the characters each rule names, their neighbours, Unicode
    /// whitespace and control characters that regular expression engines disagree on.
    const PIECES: &[&str] = &[
        "a",
        "Z",
        "f",
        "F",
        "g",
        "0",
        "9",
        "-",
        "_",
        ".",
        "~",
        "+",
        ":",
        "/",
        "#",
        "?",
        "%",
        " ",
        "\t",
        "\n",
        "\r",
        "\u{0B}",
        "\u{0C}",
        "\u{1C}",
        "\u{1F}",
        "\u{7F}",
        "\u{85}",
        "\u{A0}",
        "\u{1680}",
        "\u{2000}",
        "\u{200B}",
        "\u{2028}",
        "\u{3000}",
        "\u{FEFF}",
        "\u{0}",
        "ñ",
        "é",
        "https",
        "apuntador",
        "//",
        "-----BEGIN CERTIFICATE REQUEST-----",
        "-----END CERTIFICATE REQUEST-----",
        "END CERTIFICATE REQUEST-----",
        "-----",
        "MIIB",
        "abcdef0123456789",
        "ABCDEF",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "android",
        "IOS",
        "Desktop",
        "wEb",
    ];

    /// Every field whose rule is a Rust function agrees with the regular expression the schema
    /// shows, on generated samples and on the boundary lengths.
    #[test]
    fn every_rule_function_matches_its_schema_pattern_on_generated_samples() {
        let fields = BODIES
            .iter()
            .flat_map(|b| b.fields.iter())
            .chain([&DEVICE_ID]);
        let mut samples = Samples {
            seed: 0x9E37_79B9_7F4A_7C15,
        };
        let mut checked = 0;
        for field in fields {
            let Kind::Str { rule, .. } = field.kind else {
                continue;
            };
            let (Some(regex), accepts): (Option<String>, Accepts) = (match rule {
                Rule::Any => continue,
                Rule::Pattern { matches, .. } => {
                    (rule.regex(), Box::new(move |s: &str| matches(s)))
                }
                Rule::Value { check, .. } => {
                    (rule.regex(), Box::new(move |s: &str| check(s).is_ok()))
                }
                Rule::EnumIgnoreCase { values } => (
                    rule.regex(),
                    Box::new(move |s: &str| values.iter().any(|v| v.eq_ignore_ascii_case(s))),
                ),
            }) else {
                unreachable!()
            };
            let re = regex::Regex::new(&regex).unwrap_or_else(|e| panic!("{}: {e}", field.name));
            let mut inputs: Vec<String> = (0..4000).map(|_| samples.string(PIECES, 12)).collect();
            for len in [0, 1, 4, 5, 42, 43, 63, 64, 65, 128, 129, 130] {
                inputs.push("a".repeat(len));
                inputs.push("A".repeat(len));
                inputs.push("0f".repeat(len / 2 + 1)[..len].to_owned());
            }
            inputs.push(format!(
                " -----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
                "A".repeat(64)
            ));
            inputs.push("-----BEGIN CERTIFICATE REQUEST-----END CERTIFICATE REQUEST-----".into());
            inputs.push("apuntador://oauth-callback".into());
            inputs.push("https://app.example.com/cb?x=1".into());
            let mut accepted = 0;
            for input in &inputs {
                assert_eq!(
                    accepts(input),
                    re.is_match(input),
                    "{}: the validator and the pattern {regex} disagree on {input:?}",
                    field.name
                );
                accepted += usize::from(accepts(input));
            }
            assert!(
                accepted > 0,
                "{}: no sample was valid, the test proves nothing",
                field.name
            );
            checked += 1;
        }
        assert!(checked >= 8, "only {checked} rules were compared");
    }

    #[test]
    fn a_dependent_member_needs_its_partner() {
        let e = errors(&CLEAR_CACHE, json!({"platform": "ios"}));
        assert_eq!(
            e.len(),
            0,
            "the dependency is checked by the route, after every field"
        );
        let schema = CLEAR_CACHE.schema();
        assert!(schema["allOf"][0]["anyOf"].is_array());
    }
}
