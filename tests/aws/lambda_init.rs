//! What the real `apuntador-lambda` binary reads during Lambda INIT in AWS mode: no file under
//! `/etc/ssl` (the AWS SDK's HTTPS client is built on first use with compiled-in roots), before the
//! first invocation, during it, or when the first AWS call is made.
//!
//! Every file the process opens is recorded by `strace -f -e trace=open,openat,openat2` while it runs
//! under the in-repo Runtime API emulator (tests/support/runtime_api.rs). `strace` must be installed
//! (`scripts/test` installs it with apt when it is missing); `APUNTADOR_STRACE` may name it.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Names, endpoint};
use crate::runtime_api::{LambdaProcess, RuntimeApi};

/// `strace`, from `APUNTADOR_STRACE` or the usual places; the test fails without it.
fn strace() -> PathBuf {
    let candidates = std::env::var_os("APUNTADOR_STRACE")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"].map(PathBuf::from));
    for candidate in candidates {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "strace is needed to record the files the Lambda binary opens: `apt-get install strace` \
         (scripts/test does it) or set APUNTADOR_STRACE"
    );
}

/// An HTTP API (payload 2.0) `GET path` event.
fn event(path: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "apuntador.test", "accept": "application/json"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api",
            "domainName": "api.example.execute-api.us-east-1.amazonaws.com", "domainPrefix": "api",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.1", "userAgent": "apuntador-test/1"},
            "requestId": "MIZRNhJtIAMEMDw=", "routeKey": "$default", "stage": "$default",
            "time": "28/Nov/2026:06:37:46 +0000", "timeEpoch": 1795848000000i64
        },
        "isBase64Encoded": false
    })
}

/// The paths of the successful `open`/`openat` calls in an `strace` log.
fn opened(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter(|line| line.contains("open"))
        .filter(|line| !line.contains("= -1"))
        .filter_map(|line| line.split('"').nth(1).map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn lambda_init_in_aws_mode_opens_no_file_under_etc_ssl_nor_does_the_first_aws_call() {
    let names = Names::new();
    let env = names.env(&endpoint(), &[]);
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.extend([
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("strace.log");
    let lambda = env!("CARGO_BIN_EXE_apuntador-lambda");
    let api = RuntimeApi::start().await;
    let args: Vec<&OsStr> = vec![
        OsStr::new("-f"),
        OsStr::new("-qq"),
        OsStr::new("-e"),
        OsStr::new("trace=open,openat,openat2"),
        OsStr::new("-o"),
        log.as_os_str(),
        OsStr::new(lambda),
    ];
    let mut process = LambdaProcess::spawn_program(&strace(), &args, &api.runtime_api_env(), &env);

    // INIT ends with the runtime's first poll of `/invocation/next`.
    assert!(
        api.wait_for_poll(Duration::from_secs(60)).await,
        "apuntador-lambda did not finish INIT:\n{}",
        process.stderr()
    );
    let at_init = std::fs::read_to_string(&log).unwrap_or_default();
    // The first invocation, then one that calls DynamoDB and Secrets Manager (readiness): the SDK's
    // HTTPS client is built then, with the compiled-in roots.
    let health = api
        .invoke(event("/health"), Duration::from_secs(30))
        .await
        .expect("GET /health answered");
    assert_eq!(health["statusCode"], 200, "{health}");
    let ready = api
        .invoke(event("/health/ready"), Duration::from_secs(30))
        .await
        .expect("GET /health/ready answered");
    // The emulator has no tables and no CA: the checks fail, but the calls were made.
    assert_eq!(ready["statusCode"], 503, "{ready}");
    assert!(
        ready["body"]
            .as_str()
            .is_some_and(|b| b.contains("certificate_store")),
        "{ready}"
    );
    // Stop the traced binary (strace then exits and flushes its log).
    process.kill_traced();
    let full = std::fs::read_to_string(&log).expect("the strace log");

    let init_files = opened(&at_init);
    let all_files = opened(&full);
    // The trace is real: the process opened files (the dynamic loader's, /proc, the data directory).
    assert!(
        !all_files.is_empty(),
        "strace recorded no open at all:\n{full}"
    );
    let ssl: Vec<&String> = all_files
        .iter()
        .filter(|path| path.starts_with("/etc/ssl") || path.starts_with("/etc/pki"))
        .collect();
    assert!(
        init_files.iter().all(|p| !p.starts_with("/etc/ssl")),
        "files under /etc/ssl opened during INIT: {init_files:?}"
    );
    assert!(ssl.is_empty(), "certificate files opened: {ssl:?}");
}
