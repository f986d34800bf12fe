//! The real `apuntador-lambda` binary as Lambda runs it: under the in-repo Runtime API
//! emulator (`tests/support/runtime_api.rs`) and under `cargo lambda watch`, fed the committed event
//! fixtures of `tests/events/`.
//!
//! The cargo-lambda tests need the tool: `APUNTADOR_CARGO_LAMBDA` names the `cargo-lambda` binary or
//! its directory (`scripts/install-tools` installs it and prints the value). Without the variable
//! they print a `SKIPPED:` line and pass; with it, a tool that does not work fails them.

mod cargo_lambda;
mod emulator;
mod fixtures;
#[path = "../support/runtime_api.rs"]
mod runtime_api;
