//! The committed event fixtures of `tests/events/`, what each must be answered with, and a reader for
//! the Lambda proxy response JSON (API Gateway v1/v2, ALB and Function URL formats).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

/// The `x-amzn-trace-id` header every fixture carries.
pub const FIXTURE_TRACE_HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";

/// The `X-Trace-ID` derived from [`FIXTURE_TRACE_HEADER`].
pub const FIXTURE_TRACE_ID: &str = "5759e988bd862e3fe1be46a994272793";

/// Which header maps a response must fill for its front door to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderStyle {
    /// Either map (API Gateway reads both).
    Any,
    /// `headers` (ALB without multi-value headers ignores `multiValueHeaders`).
    Single,
    /// `multiValueHeaders` (ALB with multi-value headers ignores `headers`).
    Multi,
}

/// One fixture and its expected answer.
#[derive(Debug, Clone, Copy)]
pub struct Fixture {
    /// File name under `tests/events/`.
    pub file: &'static str,
    /// Expected status.
    pub status: u16,
    /// Expected `content-type`.
    pub content_type: &'static str,
    /// Texts the body must contain.
    pub body_contains: &'static [&'static str],
    /// (header, value) pairs the answer must carry.
    pub headers: &'static [(&'static str, &'static str)],
    /// Which header map the response must use.
    pub style: HeaderStyle,
}

const HEALTHY: &[&str] = &[r#""status":"ok""#, r#""message":"Service is healthy""#];

/// Every fixture of `tests/events/`.
pub const ALL: [Fixture; 7] = [
    Fixture {
        file: "apigw-v1-health.json",
        status: 200,
        content_type: "application/json",
        body_contains: HEALTHY,
        headers: &[("cache-control", "no-store")],
        style: HeaderStyle::Any,
    },
    Fixture {
        file: "apigw-v2-health.json",
        status: 200,
        content_type: "application/json",
        body_contains: HEALTHY,
        headers: &[("cache-control", "no-store")],
        style: HeaderStyle::Any,
    },
    Fixture {
        file: "apigw-v2-stage-health.json",
        status: 200,
        content_type: "application/json",
        body_contains: HEALTHY,
        headers: &[("cache-control", "no-store")],
        style: HeaderStyle::Any,
    },
    Fixture {
        file: "alb-health.json",
        status: 200,
        content_type: "application/json",
        body_contains: HEALTHY,
        headers: &[("cache-control", "no-store")],
        style: HeaderStyle::Single,
    },
    Fixture {
        file: "alb-multi-health.json",
        status: 200,
        content_type: "application/json",
        body_contains: HEALTHY,
        headers: &[("cache-control", "no-store")],
        style: HeaderStyle::Multi,
    },
    Fixture {
        file: "apigw-v2-not-found.json",
        status: 404,
        content_type: "application/problem+json",
        body_contains: &[r#""status":404"#, r#""title":"Not Found""#],
        headers: &[],
        style: HeaderStyle::Any,
    },
    Fixture {
        file: "apigw-v2-config-providers-no-key.json",
        status: 401,
        content_type: "application/problem+json",
        body_contains: &[
            r#""status":401"#,
            r#""error":"missing_credentials""#,
            "Missing Authorization header",
        ],
        headers: &[("www-authenticate", "Bearer")],
        style: HeaderStyle::Any,
    },
];

impl Fixture {
    /// Absolute path of the fixture file.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/events")
            .join(self.file)
    }

    /// The event JSON.
    pub fn event(&self) -> Value {
        let text = std::fs::read_to_string(self.path())
            .unwrap_or_else(|e| panic!("read {}: {e}", self.path().display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", self.file))
    }

    /// Everything wrong with `answer` for this fixture, except the trace id, which depends on the
    /// runtime (see [`check_trace`]). Empty when the answer is right.
    pub fn check(&self, answer: &Answer) -> Vec<String> {
        let mut failures = Vec::new();
        let mut fail = |what: String| failures.push(format!("[{}] {what}", self.file));
        if answer.status != self.status {
            fail(format!(
                "status {} != {} (body {})",
                answer.status, self.status, answer.body
            ));
        }
        if answer.header("content-type") != Some(self.content_type) {
            fail(format!(
                "content-type {:?} != {:?}",
                answer.header("content-type"),
                self.content_type
            ));
        }
        if answer.header("x-content-type-options") != Some("nosniff") {
            fail("x-content-type-options: nosniff missing".into());
        }
        for (name, value) in self.headers {
            if answer.header(name) != Some(value) {
                fail(format!(
                    "{name} is {:?}, want {value:?}",
                    answer.header(name)
                ));
            }
        }
        for needle in self.body_contains {
            if !answer.body.contains(needle) {
                fail(format!("body lacks {needle}: {}", answer.body));
            }
        }
        match answer.header("x-trace-id") {
            Some(id) if is_trace_id(id) => {
                if self.status >= 400 && !answer.body.contains(&format!(r#""trace_id":"{id}""#)) {
                    fail(format!("problem trace_id differs from X-Trace-ID {id}"));
                }
            }
            other => fail(format!("x-trace-id {other:?} is not 32 lowercase hex")),
        }
        match self.style {
            HeaderStyle::Single if !answer.single => fail("response has no `headers` map".into()),
            HeaderStyle::Multi if !answer.multi => {
                fail("response has no `multiValueHeaders` map".into())
            }
            _ => {}
        }
        failures
    }
}

/// True for 32 lowercase hexadecimal characters.
pub fn is_trace_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A failure message when `answer`'s `X-Trace-ID` is not `expected`.
pub fn check_trace(fixture: &Fixture, answer: &Answer, expected: &str) -> Option<String> {
    let got = answer.header("x-trace-id");
    (got != Some(expected)).then(|| format!("[{}] x-trace-id {got:?} != {expected}", fixture.file))
}

/// A Lambda proxy response read back from its JSON.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `statusCode`.
    pub status: u16,
    /// Lower-case header name → values, from `headers`, `multiValueHeaders` and `cookies`.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The body as text (base64 bodies decoded lossily).
    pub body: String,
    /// True when the `headers` map is present and not empty.
    pub single: bool,
    /// True when the `multiValueHeaders` map is present and not empty.
    pub multi: bool,
}

impl Answer {
    /// Reads any Lambda proxy response format.
    pub fn from_json(value: &Value) -> Answer {
        let status = value["statusCode"]
            .as_u64()
            .unwrap_or_else(|| panic!("no statusCode in {value}")) as u16;
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let single = value.get("headers").and_then(Value::as_object);
        let multi = value.get("multiValueHeaders").and_then(Value::as_object);
        for (name, v) in single.into_iter().flatten() {
            let entry = headers.entry(name.to_ascii_lowercase()).or_default();
            entry.push(v.as_str().unwrap_or_default().to_owned());
        }
        for (name, vs) in multi.into_iter().flatten() {
            let entry = headers.entry(name.to_ascii_lowercase()).or_default();
            for v in vs.as_array().into_iter().flatten() {
                let v = v.as_str().unwrap_or_default().to_owned();
                if !entry.contains(&v) {
                    entry.push(v);
                }
            }
        }
        for cookie in value
            .get("cookies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let entry = headers.entry("set-cookie".into()).or_default();
            entry.push(cookie.as_str().unwrap_or_default().to_owned());
        }
        let raw = value
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let body = if value["isBase64Encoded"].as_bool() == Some(true) {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .unwrap_or_else(|e| panic!("bad base64 body: {e}"));
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            raw.to_owned()
        };
        Answer {
            status,
            headers,
            body,
            single: single.is_some_and(|m| !m.is_empty()),
            multi: multi.is_some_and(|m| !m.is_empty()),
        }
    }

    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.first().map(String::as_str)
    }
}
