//! Schemathesis against both binaries: the OpenAPI document (`/openapi.json`) is the contract, and
//! every generated request — schema-valid and schema-invalid, single calls and the linked sequences
//! authorize → callback → token → refresh/revoke and enrol → status/renew/revoke — must be answered
//! as the document says.
//!
//! Targets:
//! - the `apuntador-server` binary over loopback TCP;
//! - the `apuntador-lambda` binary under the in-repo Runtime API emulator, behind an HTTP → API
//!   Gateway v2 event bridge ([`bridge`]).
//!
//! Both run with every OAuth provider enabled and pointed at one local wiremock server, Play
//! Integrity and App Attest configured (with keys no evidence will match), the config and admin
//! keys set, and docs enabled. Schemathesis reads `scripts/schemathesis.toml` (checks, seed, number
//! of examples, the justified exclusions).
//!
//! `APUNTADOR_SCHEMATHESIS` names the `st` executable (`scripts/install-tools` installs it and
//! prints the value). Without it the tests print a `SKIPPED:` line and pass; `scripts/test` always
//! sets it. `APUNTADOR_SCHEMATHESIS_MAX_EXAMPLES` and `APUNTADOR_SCHEMATHESIS_SEED` override the
//! configured values (the longer nightly profile of `scripts/schemathesis --nightly`).

mod bridge;
#[path = "../support/runtime_api.rs"]
mod runtime_api;

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use runtime_api::{LambdaProcess, RuntimeApi};

const SERVER: &str = env!("CARGO_BIN_EXE_apuntador-server");

/// One schemathesis run at a time: the machine has few cores and both runs are CPU-bound.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The bearer key of both `CONFIG_API_KEY` and `ADMIN_API_KEY`, so one configured token
/// authenticates both secured operations.
const API_KEY: &str = "schemathesis-api-key-0123456789abcdef";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schemathesis() -> Option<PathBuf> {
    let value = std::env::var_os("APUNTADOR_SCHEMATHESIS")?;
    let path = PathBuf::from(value);
    Some(if path.is_dir() { path.join("st") } else { path })
}

/// The OAuth providers' token and revocation endpoints: every exchange and refresh succeeds, every
/// revocation is confirmed.
async fn providers() -> MockServer {
    let mock = MockServer::start().await;
    for provider in ["google", "dropbox", "onedrive"] {
        Mock::given(method("POST"))
            .and(path(format!("/{provider}/token")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("{provider}-access-token"),
                "refresh_token": format!("{provider}-refresh-token"),
                "expires_in": 3599,
                "token_type": "Bearer",
            })))
            .mount(&mock)
            .await;
        Mock::given(method("POST"))
            .and(path(format!("/{provider}/revoke")))
            .respond_with(ResponseTemplate::new(200).set_body_string("null"))
            .mount(&mock)
            .await;
    }
    mock
}

/// The configuration both targets run with.
fn environment(mock: &MockServer) -> Vec<(String, String)> {
    let url = |p: &str| format!("{}/{p}", mock.uri());
    [
        ("ENABLE_DOCS", "true".to_owned()),
        ("LOG_LEVEL", "error".to_owned()),
        ("ENABLED_CLOUD_PROVIDERS", "googledrive,dropbox,onedrive".to_owned()),
        // Any syntactically valid redirect_uri is allowed (development only), so generated ones pass.
        ("ALLOWED_REDIRECT_URIS", "*".to_owned()),
        ("GOOGLE_CLIENT_ID", "google-client".to_owned()),
        ("GOOGLE_CLIENT_SECRET", "google-secret".to_owned()),
        ("GOOGLE_REDIRECT_URI", "http://127.0.0.1/oauth/callback/googledrive".to_owned()),
        ("GOOGLE_AUTHORIZE_URL", url("google/authorize")),
        ("GOOGLE_TOKEN_URL", url("google/token")),
        ("GOOGLE_REVOKE_URL", url("google/revoke")),
        ("DROPBOX_CLIENT_ID", "dropbox-client".to_owned()),
        ("DROPBOX_CLIENT_SECRET", "dropbox-secret".to_owned()),
        ("DROPBOX_AUTHORIZE_URL", url("dropbox/authorize")),
        ("DROPBOX_TOKEN_URL", url("dropbox/token")),
        ("DROPBOX_REVOKE_URL", url("dropbox/revoke")),
        ("ONEDRIVE_CLIENT_ID", "onedrive-client".to_owned()),
        ("ONEDRIVE_CLIENT_SECRET", "onedrive-secret".to_owned()),
        ("ONEDRIVE_REDIRECT_URI", "http://127.0.0.1/oauth/callback/onedrive".to_owned()),
        ("ONEDRIVE_AUTHORIZE_URL", url("onedrive/authorize")),
        ("ONEDRIVE_TOKEN_URL", url("onedrive/token")),
        ("CONFIG_API_KEY", API_KEY.to_owned()),
        ("ADMIN_API_KEY", API_KEY.to_owned()),
        ("PLAY_INTEGRITY_PACKAGE_NAME", "com.example.apuntador".to_owned()),
        ("PLAY_INTEGRITY_DECRYPTION_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned()),
        (
            "PLAY_INTEGRITY_VERIFICATION_KEY",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEDsORxzrduJZLO2TZN78SgZqmwsmbYYtJ/oGPU2Qs5vzPs3B+pNfk4Yd4uZnVyE1MmatiN3t0glj+Q8gEVeDwtw==".to_owned(),
        ),
        ("APPLE_TEAM_ID", "ABCDE12345".to_owned()),
        ("APPLE_BUNDLE_ID", "com.example.apuntador".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Runs schemathesis against `base_url` and fails the test on any failure it reports.
fn run_schemathesis(st: &Path, target: &str, base_url: &str) {
    let out_dir = repo_root().join("target").join("schemathesis").join(target);
    std::fs::create_dir_all(&out_dir).expect("report directory");
    let log_path = out_dir.join("output.log");
    let mut command = Command::new(st);
    command
        .arg("--config-file")
        .arg(repo_root().join("scripts").join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{base_url}/openapi.json"))
        .arg("--report")
        .arg("junit")
        .arg("--report-dir")
        .arg(&out_dir)
        .env("APUNTADOR_SCHEMATHESIS_API_KEY", API_KEY)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_HOOKS", "")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log_path).expect("log file"))
        .stderr(Stdio::inherit());
    if let Ok(n) = std::env::var("APUNTADOR_SCHEMATHESIS_MAX_EXAMPLES") {
        command.arg("--max-examples").arg(n);
    }
    if let Ok(seed) = std::env::var("APUNTADOR_SCHEMATHESIS_SEED") {
        command.arg("--seed").arg(seed);
    }
    let started = Instant::now();
    let status = command.status().expect("run schemathesis");
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let summary: Vec<&str> = output
        .lines()
        .filter(|l| {
            l.contains("Test cases:")
                || l.contains("API Operations:")
                || l.contains("Test Phases:")
                || l.contains("passed") && l.contains("failed")
                || l.starts_with("Seed:")
        })
        .collect();
    println!(
        "schemathesis on {target}: {} in {:.0} s ({})\n{}",
        if status.success() {
            "no failure"
        } else {
            "FAILED"
        },
        started.elapsed().as_secs_f64(),
        log_path.display(),
        summary.join("\n")
    );
    assert!(
        status.success(),
        "schemathesis found failures on {target}:\n{output}"
    );
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("its address")
        .port()
}

/// The server binary, killed when dropped.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for_health(base_url: &str) {
    let client = reqwest::Client::new();
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = client.get(format!("{base_url}/health")).send().await;
        if answer.is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(
            Instant::now() < give_up,
            "{base_url} did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_on_the_server_binary() {
    let Some(st) = schemathesis() else {
        println!("SKIPPED: APUNTADOR_SCHEMATHESIS is not set (scripts/install-tools prints it)");
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let mock = providers().await;
    let dir = tempfile::tempdir().expect("data directory");
    let port = free_port();
    let child = Command::new(SERVER)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(environment(&mock))
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("DATA_DIR", dir.path().join("data"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn apuntador-server");
    let _server = ServerProcess(child);
    let base_url = format!("http://127.0.0.1:{port}");
    wait_for_health(&base_url).await;
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || run_schemathesis(&st2, "server", &base_url))
        .await
        .expect("schemathesis run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_on_the_lambda_binary_behind_the_event_bridge() {
    let Some(st) = schemathesis() else {
        println!("SKIPPED: APUNTADOR_SCHEMATHESIS is not set (scripts/install-tools prints it)");
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let mock = providers().await;
    let api = Arc::new(RuntimeApi::start().await);
    let env = environment(&mock);
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let _lambda = LambdaProcess::spawn(&api, &env_refs);
    let bridge = bridge::Bridge::start(api.clone()).await;
    let base_url = bridge.url();
    wait_for_health(&base_url).await;
    tokio::task::spawn_blocking(move || run_schemathesis(&st, "lambda", &base_url))
        .await
        .expect("schemathesis run");
}
