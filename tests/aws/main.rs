//! AWS backend tests against the moto emulator (DynamoDB, Secrets Manager, S3). Run them with
//! `scripts/with-moto cargo test --test aws`; without `AWS_ENDPOINT_URL` every test fails with a message
//! saying so, never skips.
//!
//! Modules: the store contract suite on the DynamoDB stores (`contract`), item formats, compatibility with
//! the previous deployment's rows, Secrets Manager, S3 and error mapping at the store level (`stores`),
//! the application in AWS mode through the router (`app`), the real binaries (`binaries`), and the files
//! the Lambda binary opens during INIT (`lambda_init`, under strace). Every test
//! uses its own tables, bucket and secret prefix, so tests run in parallel on one emulator.

#[macro_use]
#[path = "../store_contract/mod.rs"]
mod store_contract;

mod app;
mod attestation;
mod binaries;
mod end_to_end;
mod helpers;
mod lambda_init;
#[path = "../support/runtime_api.rs"]
mod runtime_api;
mod stores;

// The openssl CSR helper, loaded once by the contract suite.
use store_contract::openssl_csr;

/// The store contract on the DynamoDB certificate and sessions stores.
mod contract {
    store_contract_tests!(crate::helpers::aws_fixture());
}
