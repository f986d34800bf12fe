//! Cost of attestation verification, on evidence built once with real cryptography by the
//! test vectors (`tests/support/attestation_vectors.rs`):
//!
//! - `attestation/play_integrity_verify`: checks 1–7 of a Play Integrity token alone — AES key unwrap,
//!   AES-256-GCM decryption, ES256 verification and the verdict checks;
//! - `attestation/app_attest_verify`: checks 1–8 of an App Attest object alone — CBOR, a three-certificate
//!   chain (P-384 root and intermediate), the nonce extension and the authenticator data;
//! - `attestation/desktop_route_in_process`: `POST /device/attest/desktop` through the router on the
//!   in-memory store, the same device and fingerprint each time (rate limit raised): counter, binding,
//!   result write.
//!
//! Run with `cargo bench --bench attestation -- --noplot`.

#[path = "../tests/support/attestation_vectors.rs"]
mod vectors;

use std::collections::HashMap;
use std::hint::black_box;

use apuntador::AppState;
use apuntador::attestation::app_attest::AppAttest;
use apuntador::attestation::play_integrity::PlayIntegrity;
use apuntador::config::Config;
use axum::body::Body;
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn config(vars: &[(&str, String)]) -> Config {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .chain([("LOG_LEVEL".to_owned(), "error".to_owned())])
        .collect();
    Config::from_lookup(|name| env.get(name).cloned()).expect("bench configuration")
}

fn attestation(c: &mut Criterion) {
    let mut group = c.benchmark_group("attestation");

    let keys = vectors::PlayKeys::generate();
    let play_config = config(&keys.config_vars());
    let play = PlayIntegrity::new(play_config.attestation.play_integrity.as_ref().unwrap())
        .expect("verifier");
    let nonce = "bench-nonce-0000000000";
    let token = keys.token(&vectors::verdict(nonce));
    group.bench_function("play_integrity_verify", |b| {
        b.iter(|| {
            play.verify(black_box(&token), nonce, chrono::Utc::now())
                .expect("valid")
        });
    });

    let ca = vectors::TestCa::new("bench");
    let apple = config(&[
        ("APPLE_TEAM_ID", vectors::TEAM_ID.to_owned()),
        ("APPLE_BUNDLE_ID", vectors::BUNDLE_ID.to_owned()),
    ]);
    let app_attest = AppAttest::with_trust_anchor(
        apple.attestation.app_attest.as_ref().unwrap(),
        &ca.root_der(),
    )
    .expect("verifier");
    let built = vectors::IosAttestation::new(true).build(&ca);
    let object = base64::engine::general_purpose::STANDARD
        .decode(&built.attestation_object)
        .unwrap();
    group.bench_function("app_attest_verify", |b| {
        b.iter(|| {
            app_attest
                .verify(
                    black_box(&object),
                    &built.key_id,
                    &built.challenge,
                    chrono::Utc::now(),
                )
                .expect("valid")
        });
    });

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let app = apuntador::router(AppState::in_memory(config(&[(
        "DESKTOP_ATTESTATION_MAX_PER_HOUR",
        "1000".to_owned(),
    )])));
    let body = vectors::desktop_body("bench-desktop", &vectors::fingerprint("bench"));
    // The rate limit counts every attempt; a fresh device id per 900 iterations keeps every answer 200.
    let mut n = 0_u64;
    group.bench_function("desktop_route_in_process", |b| {
        b.to_async(&rt).iter(|| {
            n += 1;
            let body = body.replace("bench-desktop", &format!("bench-desktop-{}", n / 900));
            let app = app.clone();
            async move {
                let req = http::Request::post("/device/attest/desktop")
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap();
                let res = app.oneshot(req).await.unwrap();
                assert_eq!(res.status(), 200);
                res.into_body().collect().await.unwrap()
            }
        });
    });
    group.finish();
}

criterion_group!(benches, attestation);
criterion_main!(benches);
