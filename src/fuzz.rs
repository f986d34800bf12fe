//! Property-based fuzzing of every parser that reads untrusted bytes, run by `cargo test --lib fuzz::`
//! on every test run with a fixed number of cases per target and a fixed seed. A longer run, e.g.
//! nightly: `APUNTADOR_FUZZ_CASES=200000 APUNTADOR_FUZZ_RANDOM=1 cargo test --release --lib fuzz::
//! -- --nocapture` (the cases count is per cheap target; costlier targets run half of it).
//!
//! Inputs are both arbitrary and *mutated valid* values — a genuine PEM certificate, CSR, Play
//! Integrity token or App Attest object with bytes flipped, inserted, removed or truncated — so the
//! runs reach deep into the parsers instead of failing at the first byte. Each target asserts that
//! the parser returns (no panic), within a time bound (no hang), and only with sane results; the
//! inputs are at most what a request may carry (the body limit), so a parser that allocated in
//! proportion to a declared length instead of the actual bytes would abort the run.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRng, TestRunner};

#[path = "../tests/support/fake_csr.rs"]
pub(crate) mod fake_csr;
#[path = "../tests/support/attestation_vectors.rs"]
mod vectors;

/// Cases per target unless `APUNTADOR_FUZZ_CASES` says otherwise.
const DEFAULT_CASES: u32 = 2_000;
/// No single input may take longer than this to parse: generous, because the test machine is shared,
/// yet far below what a hang or super-linear blow-up takes.
const PER_CASE_BOUND: Duration = Duration::from_secs(2);

fn cases(scale: u32) -> u32 {
    let base = std::env::var("APUNTADOR_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(DEFAULT_CASES);
    (base / scale).max(1)
}

/// Runs `check` over `cases` inputs of `strategy`, reporting how many ran.
fn fuzz<S: Strategy>(
    target: &str,
    cases: u32,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let config = Config {
        cases,
        failure_persistence: None,
        // Shrinking a failure found here is useful; an unbounded shrink is not.
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    // A fixed seed keeps the test command reproducible; `APUNTADOR_FUZZ_RANDOM=1` explores new inputs.
    let mut runner = if std::env::var("APUNTADOR_FUZZ_RANDOM").is_ok_and(|v| v == "1") {
        TestRunner::new(config)
    } else {
        TestRunner::new_with_rng(
            config,
            TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        )
    };
    let started = Instant::now();
    let result = runner.run(&strategy, |input| {
        let t = Instant::now();
        check(input)?;
        prop_assert!(
            t.elapsed() < PER_CASE_BOUND,
            "one input took {:?}",
            t.elapsed()
        );
        Ok(())
    });
    if let Err(err) = result {
        panic!("{target}: {err}");
    }
    // Shown with `--nocapture`; the iteration counts of the report come from here.
    println!("fuzz {target}: {cases} cases in {:?}", started.elapsed());
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len().max(1);
        match *e {
            Edit::Flip(i, b) if !bytes.is_empty() => bytes[i % len] ^= b | 1,
            Edit::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Edit::Remove(i) if !bytes.is_empty() => {
                bytes.remove(i % len);
            }
            Edit::Truncate(i) => bytes.truncate(i % len),
            Edit::Duplicate(i, n) if !bytes.is_empty() => {
                let start = i % len;
                let end = (start + n).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(start..start, copy);
            }
            _ => {}
        }
    }
    bytes
}

/// `seeds` with 0–8 random edits, or arbitrary bytes up to `max` long.
fn mutated(seeds: Vec<Vec<u8>>, max: usize) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        4 => (0..n, prop::collection::vec(edit(), 0..8))
            .prop_map(move |(i, edits)| apply(seeds[i].clone(), &edits)),
        1 => prop::collection::vec(any::<u8>(), 0..max),
    ]
}

/// As [`mutated`], as text (invalid UTF-8 replaced, as a header value would be refused earlier).
fn mutated_text(seeds: Vec<String>, max: usize) -> impl Strategy<Value = String> {
    let seeds = seeds.into_iter().map(String::into_bytes).collect();
    mutated(seeds, max).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// A genuine certificate issued by the development CA, DER.
fn certificate_der() -> Vec<u8> {
    let ca = vectors::TestCa::new("fuzz");
    ca.intermediate_der()
}

fn pem(label: &str, der: &[u8]) -> String {
    crate::pki::pem_encode(label, der)
}

#[test]
fn client_certificate_sources_never_panic_on_any_value() {
    use crate::pki::source;
    let der = certificate_der();
    let pem = pem("CERTIFICATE", &der);
    let encoded =
        percent_encoding::utf8_percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC).to_string();
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&der)
    };
    let xfcc = format!("By=spiffe://a;Hash=abc;Cert=\"{encoded}\";Subject=\"CN=x\",By=b");
    let seeds = vec![
        pem.clone(),
        encoded.clone(),
        b64,
        xfcc,
        format!("{pem}{pem}"),
    ];
    let max = 8 * 1024;
    let sane = |out: Option<Vec<u8>>| -> Result<(), TestCaseError> {
        // A decoded certificate is never larger than the value that carried it.
        prop_assert!(out.is_none_or(|d| !d.is_empty() && d.len() <= max * 2));
        Ok(())
    };
    let cases = cases(1);
    fuzz(
        "source lambda-context",
        cases,
        mutated_text(seeds.clone(), max),
        |v| sane(source::from_lambda_context(&v)),
    );
    fuzz("source alb", cases, mutated_text(seeds.clone(), max), |v| {
        sane(source::from_alb(&v))
    });
    fuzz(
        "source header",
        cases,
        mutated_text(seeds.clone(), max),
        |v| sane(source::from_header(&v)),
    );
    fuzz("source xfcc", cases, mutated_text(seeds, max), |v| {
        sane(source::from_xfcc(&v))
    });
    // The untouched seeds still decode, so the mutations start from values that reach the end.
    assert_eq!(source::from_header(&encoded), Some(der.clone()));
    assert_eq!(source::from_lambda_context(&pem), Some(der));
}

#[test]
fn csr_parsing_never_panics_and_keeps_its_outcomes() {
    use crate::pki::csr::{self, CsrError};
    let p256 = {
        // A genuine P-256 CSR, signed with a fresh key.
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let params = rcgen::CertificateParams::new(vec!["fuzz".into()]).expect("params");
        params.serialize_request(&key).expect("csr").der().to_vec()
    };
    assert!(csr::validate(&pem("CERTIFICATE REQUEST", &p256)).is_ok());
    let seeds = vec![
        p256,
        fake_csr::fake_rsa_csr_der(2048, 0x33),
        fake_csr::fake_rsa_csr_der(16_384, 0x44),
    ];
    fuzz("csr der", cases(2), mutated(seeds.clone(), 4096), |der| {
        let text = pem("CERTIFICATE REQUEST", &der);
        let _ = csr::check_syntax(&text);
        match csr::validate(&text) {
            Ok(v) => prop_assert!(!v.spki_der.is_empty()),
            Err(
                CsrError::InvalidFormat | CsrError::InvalidSignature | CsrError::UnsupportedKeyType,
            ) => {}
        }
        Ok(())
    });
    let texts = seeds
        .iter()
        .map(|d| pem("CERTIFICATE REQUEST", d))
        .collect();
    fuzz(
        "csr pem text",
        cases(2),
        mutated_text(texts, 16_384),
        |text| {
            let _ = csr::check_syntax(&text);
            let _ = csr::validate(&text);
            Ok(())
        },
    );
}

#[test]
fn play_integrity_tokens_never_panic() {
    use crate::attestation::play_integrity::PlayIntegrity;
    let keys = vectors::PlayKeys::generate();
    let vars = keys.config_vars();
    let config = crate::config::Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("config");
    let verifier = PlayIntegrity::new(
        config
            .attestation
            .play_integrity
            .as_ref()
            .expect("configured"),
    )
    .expect("keys");
    let nonce = "bm9uY2Utbm9uY2Utbm9uY2Utbm9uY2U";
    let genuine = keys.token(&vectors::verdict(nonce));
    let now = chrono::Utc::now();
    assert!(verifier.verify(&genuine, nonce, now).is_ok());
    let parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    let seeds = vec![genuine.clone(), parts.join(".."), format!("{genuine}.x")];
    fuzz(
        "play integrity token",
        cases(2),
        mutated_text(seeds, 8 * 1024),
        |token| {
            let _ = verifier.verify(&token, nonce, now);
            Ok(())
        },
    );
}

#[test]
fn app_attest_objects_never_panic() {
    use crate::attestation::app_attest::AppAttest;
    let ca = vectors::TestCa::new("fuzz");
    let built = vectors::IosAttestation::new(true).build(&ca);
    let config = crate::config::Config::from_lookup(|name| match name {
        "APPLE_TEAM_ID" => Some(vectors::TEAM_ID.to_owned()),
        "APPLE_BUNDLE_ID" => Some(vectors::BUNDLE_ID.to_owned()),
        _ => None,
    })
    .expect("config");
    let verifier = AppAttest::with_trust_anchor(
        config.attestation.app_attest.as_ref().expect("configured"),
        &ca.root_der(),
    )
    .expect("anchor");
    let object = crate::attestation::decode_base64_lenient(&built.attestation_object).expect("b64");
    let now = chrono::Utc::now();
    assert!(
        verifier
            .verify(&object, &built.key_id, &built.challenge, now)
            .is_ok()
    );
    // Nested and oversized CBOR headers: deep arrays, a huge declared length with no data.
    let deep = [vec![0x81u8; 10_000], vec![0x00]].concat();
    let huge = vec![0x9b, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff];
    let seeds = vec![object, deep, huge];
    fuzz(
        "app attest cbor",
        cases(2),
        mutated(seeds, 48 * 1024),
        |bytes| {
            let _ = verifier.verify(&bytes, &built.key_id, &built.challenge, now);
            Ok(())
        },
    );
}

#[test]
fn redirect_uri_rules_never_panic_and_exact_rules_stay_exact() {
    use crate::config::RedirectRule;
    use crate::oauth::redirect;
    let seeds = vec![
        "https://app.example.com/cb?x=1".to_owned(),
        "apuntador://oauth-callback".to_owned(),
        "https://app.example.com/%2e%2e/cb".to_owned(),
        "https://app.example.com\\cb".to_owned(),
    ];
    let rules = vec![
        RedirectRule::Exact("apuntador://oauth-callback".into()),
        RedirectRule::Prefix("https://app.example.com/".into()),
    ];
    fuzz(
        "redirect_uri",
        cases(1),
        mutated_text(seeds.clone(), 4096),
        |uri| {
            let syntax = redirect::is_absolute_without_fragment(&uri);
            let allowed = redirect::is_allowed(&rules, &uri);
            prop_assert!(
                !allowed
                    || uri == "apuntador://oauth-callback"
                    || uri.starts_with("https://app.example.com/")
            );
            prop_assert!(!syntax || !uri.contains('#'));
            Ok(())
        },
    );
    // The allow-list configuration parser, on the same inputs.
    fuzz(
        "redirect_uri allow-list",
        cases(2),
        mutated_text(seeds, 2048),
        |list| {
            let _ = crate::config::Config::from_lookup(|name| {
                (name == "ALLOWED_REDIRECT_URIS").then(|| list.clone())
            });
            Ok(())
        },
    );
}

#[test]
fn trace_headers_never_panic_and_yield_32_lowercase_hex() {
    use http::{HeaderMap, HeaderValue};
    let seeds = vec![
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
    ];
    fuzz(
        "trace headers",
        cases(1),
        (mutated_text(seeds.clone(), 1024), mutated_text(seeds, 1024)),
        |(xray, traceparent)| {
            let mut headers = HeaderMap::new();
            for (name, value) in [("x-amzn-trace-id", &xray), ("traceparent", &traceparent)] {
                if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
                    headers.insert(name, v);
                }
            }
            let id = crate::http::middleware::derive_trace_id(&headers).0;
            prop_assert_eq!(id.len(), 32);
            prop_assert!(id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
            Ok(())
        },
    );
}
