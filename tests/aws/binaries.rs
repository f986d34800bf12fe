//! The real `apuntador-server` binary against the emulator: secret references resolved at start-up in
//! local mode, an unknown reference failing start-up with exit code 2, and `ca init --aws`
//! followed by a server in AWS mode that is ready.

use std::collections::HashMap;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::helpers::{CONFIG_KEY, Names, create_secret, endpoint, sdk};

const SERVER: &str = env!("CARGO_BIN_EXE_apuntador-server");

/// A command for the server binary with exactly `env` (plus PATH), run in `dir` (no stray `.env`).
fn server(dir: &TempDir, env: &HashMap<String, String>) -> Command {
    let mut command = Command::new(SERVER);
    command
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env);
    command
}

/// The environment of a local-mode server on `port` with its data under `dir`.
fn local_env(dir: &TempDir, port: u16, overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("INFRASTRUCTURE_PROVIDER", "local".to_owned()),
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", port.to_string()),
        ("DATA_DIR", dir.path().join("data").display().to_string()),
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_REGION", crate::helpers::REGION.to_owned()),
        ("LOG_LEVEL", "error".to_owned()),
        ("CONFIG_API_KEY", CONFIG_KEY.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A running server, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server and waits until `/health` answers.
async fn start(mut command: Command, port: u16) -> Running {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let mut running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = running.0.try_wait().expect("wait") {
            panic!("the server exited during start-up: {status}");
        }
        if get(port, "/health", None).await.is_some() {
            return running;
        }
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(port: u16, path: &str, bearer: Option<&str>) -> Option<(u16, String)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .ok()?;
    let mut request = client.get(format!("http://127.0.0.1:{port}{path}"));
    if let Some(key) = bearer {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.unwrap_or_default()))
}

#[tokio::test]
async fn secret_references_resolve_at_start_up_in_local_mode() {
    let names = Names::new();
    let key = "referenced-config-key-0123456789abcdef0123";
    let arn = create_secret(&format!("{}/config-key", names.prefix), &format!("{key}\n")).await;
    let admin_arn = create_secret(
        &format!("{}/admin-key", names.prefix),
        "referenced-admin-key-0123456789abcdef01234",
    )
    .await;
    let dir = TempDir::new().expect("temp dir");
    let port = free_port();
    let env = local_env(
        &dir,
        port,
        &[("CONFIG_API_KEY", &arn), ("ADMIN_API_KEY", &admin_arn)],
    );

    let _server = start(server(&dir, &env), port).await;
    let with_secret = get(port, "/config/providers", Some(key)).await;
    let with_arn = get(port, "/config/providers", Some(&arn)).await;

    assert_eq!(with_secret.map(|(status, _)| status), Some(200));
    assert_eq!(with_arn.map(|(status, _)| status), Some(401));
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the binary runs")
}

#[tokio::test]
async fn an_unknown_secret_reference_fails_start_up_with_exit_code_2_naming_variable_and_arn() {
    let dir = TempDir::new().expect("temp dir");
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:apuntador/missing-AbCdEf";
    let env = local_env(&dir, free_port(), &[("GOOGLE_CLIENT_SECRET", missing)]);

    let output = tokio::task::spawn_blocking(move || run(&mut server(&dir, &env)))
        .await
        .expect("task");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("GOOGLE_CLIENT_SECRET"), "{stderr}");
    assert!(stderr.contains(missing), "{stderr}");
}

#[tokio::test]
async fn ca_init_aws_writes_secrets_and_bundle_and_the_server_is_then_ready() {
    let names = Names::new();
    let dir = TempDir::new().expect("temp dir");
    let port = free_port();
    let mut env = names.env(&endpoint(), &[("AUTO_CREATE_RESOURCES", "true")]);
    env.insert("HOST".into(), "127.0.0.1".into());
    env.insert("PORT".into(), port.to_string());
    let init_env = env.clone();
    let init_dir_path = dir.path().to_path_buf();

    let (first, second) = tokio::task::spawn_blocking(move || {
        let dir = TempDir::new_in(init_dir_path).expect("temp dir");
        let first = run(server(&dir, &init_env).args(["ca", "init", "--aws"]));
        let second = run(server(&dir, &init_env).args(["ca", "init", "--aws"]));
        (first, second)
    })
    .await
    .expect("task");

    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(!stdout.contains("PRIVATE KEY"), "the key is never printed");
    assert!(
        stdout.contains(&format!("{}/ca-private-key", names.prefix)),
        "{stdout}"
    );
    assert_eq!(second.status.code(), Some(1), "an existing CA is refused");
    let sdk = sdk().await;
    let key = sdk
        .secrets
        .get_secret_value()
        .secret_id(format!("{}/ca-private-key", names.prefix))
        .send()
        .await
        .expect("key secret");
    assert!(
        key.secret_string()
            .unwrap_or_default()
            .contains("PRIVATE KEY")
    );
    let bundle = sdk
        .s3
        .head_object()
        .bucket(&names.bucket)
        .key("truststore/ca-bundle.pem")
        .send()
        .await
        .expect("bundle");
    assert_eq!(bundle.content_type(), Some("application/x-pem-file"));
    let version = bundle.version_id().expect("versioned");
    assert!(stdout.contains(version), "{stdout}");

    let _server = start(server(&dir, &env), port).await;
    let ready = get(port, "/health/ready", None).await;
    let ca = get(port, "/device/ca-certificate", None).await;

    assert_eq!(
        ready.as_ref().map(|(status, _)| *status),
        Some(200),
        "{ready:?}"
    );
    assert_eq!(ca.map(|(status, _)| status), Some(200));
}
