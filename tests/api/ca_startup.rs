//! The local CA at start-up: a development CA refused in production (exit 2, naming the data directory
//! and `ca init`), and CA key permissions tightened with a WARN in every environment.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apuntador::authority;
use apuntador::pki::ca::{self, CaSubject, KeyType};
use apuntador::store::files::{CA_PRIVATE_KEY_FILE, LocalBlobStore, LocalSecretStore};
use apuntador::store::{CaMaterial, SecretStore as _};

const SERVER: &str = env!("CARGO_BIN_EXE_apuntador-server");
const GOOD_KEY: &str = "a-production-config-api-key-of-40-chars!";

fn production_command(dir: &Path) -> Command {
    let mut cmd = Command::new(SERVER);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENVIRONMENT", "production")
        .env("CONFIG_API_KEY", GOOD_KEY)
        .env("ENABLED_CLOUD_PROVIDERS", "dropbox")
        .env("DROPBOX_CLIENT_ID", "dropbox-id")
        .env("ALLOWED_ORIGINS", "https://app.example.com")
        .env("CLIENT_CERT_SOURCES", "header")
        .env("DATA_DIR", dir.join("data"))
        .env("HOST", "127.0.0.1")
        .current_dir(dir);
    cmd
}

fn production_material() -> CaMaterial {
    let generated = ca::generate(
        KeyType::EcP256,
        &CaSubject::Init {
            common_name: "Test Production CA".into(),
        },
        365,
        chrono::Utc::now(),
    )
    .unwrap();
    CaMaterial {
        key_pem: generated.key_pem,
        cert_pem: generated.cert_pem,
        previous_cert_pem: None,
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn production_refuses_the_development_ca_with_exit_two_until_ca_init_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    LocalSecretStore::new(&data)
        .store_ca(&authority::development_material(chrono::Utc::now()).unwrap())
        .await
        .unwrap();

    let out = production_command(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&data.display().to_string()), "{stderr}");
    assert!(stderr.contains("is the development CA"), "{stderr}");
    assert!(stderr.contains("ca init --local --rotate"), "{stderr}");

    // After a rotation the development CA is only the previous one: the server starts.
    let rotate = production_command(dir.path())
        .args(["ca", "init", "--local", "--rotate"])
        .output()
        .unwrap();
    assert!(rotate.status.success(), "{rotate:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = production_command(dir.path())
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let listening = loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break true;
        }
        if child.try_wait().unwrap().is_some() || started.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening, "a production CA starts");
}

#[tokio::test]
async fn an_open_ca_key_and_data_directory_are_tightened_with_a_warning_in_every_environment() {
    for production in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let secrets = LocalSecretStore::new(&data);
        secrets.store_ca(&production_material()).await.unwrap();
        let key = data.join(CA_PRIVATE_KEY_FILE);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();

        let capture = crate::log_capture::Capture::default();
        let subscriber = apuntador::telemetry::subscriber(
            "warn",
            apuntador::config::LogFormat::Json,
            capture.clone(),
        )
        .unwrap();
        crate::helpers::reliable_log_capture();
        {
            let _guard = tracing::subscriber::set_default(subscriber);
            authority::prepare_local_ca(production, &data, &secrets, &LocalBlobStore::new(&data))
                .await
                .unwrap();
        }
        assert_eq!(mode(&key), 0o600, "production={production}");
        assert_eq!(mode(&data), 0o700, "production={production}");
        let warnings: Vec<String> = capture
            .lines()
            .into_iter()
            .filter(|l| l["level"] == "WARN")
            .map(|l| l["message"].as_str().unwrap_or("").to_owned())
            .collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("from 0755 to 0700"), "{warnings:?}");
        assert!(
            warnings[1].contains(&key.display().to_string())
                && warnings[1].contains("from 0644 to 0600"),
            "{warnings:?}"
        );

        // Already private: nothing to say.
        let capture = crate::log_capture::Capture::default();
        let subscriber = apuntador::telemetry::subscriber(
            "warn",
            apuntador::config::LogFormat::Json,
            capture.clone(),
        )
        .unwrap();
        {
            let _guard = tracing::subscriber::set_default(subscriber);
            authority::tighten_key_permissions(&data, production).unwrap();
        }
        assert!(capture.lines().is_empty(), "{}", capture.text());
    }
}
