//! API integration tests: one binary (one link, one build), a file per area. Most go through
//! `router.oneshot`; TCP only where the transport is the point (shutdown, load shedding, binaries).

mod attest_android;
mod attest_desktop;
mod attest_ios;
mod binaries;
mod ca_startup;
mod cli;
mod cpu_flood;
mod crash;
mod device_checklist;
mod device_openssl;
mod device_routes;
mod docs_page;
mod edges;
mod enrolment_policy;
#[path = "../support/fake_csr.rs"]
mod fake_csr;
mod helpers;
mod lifecycle;
#[path = "../support/log_capture.rs"]
mod log_capture;
mod logging;
mod oauth_authorize;
mod oauth_flow;
mod oauth_redirect_rules;
mod openapi;
#[path = "../support/openssl_csr.rs"]
mod openssl_csr;
mod pki_support;
mod resilience;
mod tls_door;
#[path = "../support/attestation_vectors.rs"]
mod vectors;
