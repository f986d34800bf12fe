//! OpenTelemetry export against real OTLP receivers on loopback: the request span and
//! its children as received over OTLP/HTTP and OTLP/gRPC, trace ids and parents, propagation to the
//! OAuth providers, redaction, a dead or silent collector, and the Lambda binary's per-invocation flush
//! under the in-repo Runtime API emulator, and the server binary's export at shutdown.

mod harness;
#[path = "../support/in_process.rs"]
mod in_process;
mod in_process_spans;
mod lambda;
#[path = "../support/log_capture.rs"]
mod log_capture;
#[path = "../support/openssl_csr.rs"]
mod openssl_csr;
mod receiver;
#[path = "../support/runtime_api.rs"]
mod runtime_api;
mod server;
