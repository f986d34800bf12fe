//! API integration tests: one binary, a file per area (STYLE.md §5). Most go through
//! `router.oneshot`; TCP only where the transport is the point (shutdown, load shedding, binaries).

mod attest_android;
mod attest_desktop;
mod attest_ios;
mod binaries;
mod cpu_flood;
mod device_checklist;
mod device_openssl;
mod device_routes;
mod edges;
#[path = "../support/fake_csr.rs"]
mod fake_csr;
mod helpers;
mod lifecycle;
#[path = "../support/log_capture.rs"]
mod log_capture;
mod logging;
mod oauth_authorize;
mod oauth_flow;
mod openapi;
mod pki_support;
mod resilience;
#[path = "../support/attestation_vectors.rs"]
mod vectors;
