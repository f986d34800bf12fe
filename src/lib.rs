//! apuntador: the backend of the Apuntador note-taking apps.
//!
//! One axum [`Router`](axum::Router), built by [`router`], serves every deployment target:
//!
//! - `apuntador-server` (bin/server.rs) runs it on a TCP listener — a container on ECS Fargate, or a
//!   developer's machine — with load shedding and graceful shutdown ([`server`]);
//! - `apuntador-lambda` (bin/lambda.rs) runs it under `lambda_http` on AWS Lambda.
//!
//! Request flow: the middleware stack ([`http::middleware`]) derives the trace id, answers CORS
//! preflights, sheds load, bounds time, and renders every error as a problem document ([`error`]);
//! the feature routers in [`http`] validate input and call the domain modules, which reach storage only
//! through the traits of [`store`]. The device PKI is split in three: [`pki`] (pure certificate and CSR
//! logic), [`authority`] (the lazily loaded CA, the development CA and `ca init`) and [`devices`]
//! (enrolment, renewal, revocation and client-certificate authentication over the stores). Device
//! attestation ([`attestation`]) verifies Play Integrity tokens, App Attest objects and desktop
//! fingerprints, and keeps the results that enrolment may require.
//! CPU-heavy work (signatures, certificate signing, attestation checks) runs off the async workers in
//! the bounded pool of [`cpu`]. Configuration ([`config`]) is parsed and validated once at start-up, and
//! [`state::AppState::build`] creates every shared client before the first request.
//!
//! Dependencies point inwards: `http` → domain modules → `store` traits. Only `http` touches axum
//! extractors; only the Lambda binary touches `lambda_http`.
#![warn(missing_docs)]

pub mod attestation;
pub mod authority;
pub mod config;
pub mod cost;
pub mod cpu;
pub mod devices;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod http;
pub mod oauth;
pub mod pki;
pub mod server;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;

pub use state::AppState;

/// Builds the application router: the one place the app is assembled, used by both binaries, every
/// test and every bench.
pub fn router(state: AppState) -> axum::Router {
    http::router(state)
}
