//! The server's own TLS door (`TLS_CERT_FILE`, `TLS_KEY_FILE`, `TLS_CLIENT_AUTH`): the real
//! `apuntador-server` binary over loopback, driven by real TLS clients (reqwest with rustls and a
//! client identity), plus the accept loop in process for the handshake time limit and shutdown.

use std::io::{Read, Write};
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const SERVER: &str = env!("CARGO_BIN_EXE_apuntador-server");

/// A server certificate for 127.0.0.1 and localhost (rcgen, self-signed), written to `dir`.
struct ServerIdentity {
    cert_file: PathBuf,
    key_file: PathBuf,
    cert_pem: String,
}

fn server_identity(dir: &Path) -> ServerIdentity {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert_pem = certified.cert.pem();
    let cert_file = dir.join("server.pem");
    let key_file = dir.join("server-key.pem");
    std::fs::write(&cert_file, &cert_pem).unwrap();
    std::fs::write(&key_file, certified.key_pair.serialize_pem()).unwrap();
    ServerIdentity {
        cert_file,
        key_file,
        cert_pem,
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real binary with TLS on; killed when dropped.
struct TlsServer {
    child: Child,
    port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base_command(dir: &Path) -> Command {
    let mut cmd = Command::new(SERVER);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", dir.join("data"))
        .env("LOG_LEVEL", "warn")
        .current_dir(dir);
    cmd
}

fn start(dir: &Path, identity: &ServerIdentity, extra: &[(&str, &str)]) -> TlsServer {
    let port = free_port();
    let mut cmd = base_command(dir);
    cmd.env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("SHUTDOWN_GRACE_SECONDS", "2")
        .env("TLS_CERT_FILE", &identity.cert_file)
        .env("TLS_KEY_FILE", &identity.key_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let server = TlsServer {
        child: cmd.spawn().unwrap(),
        port,
    };
    // Ready once a TCP connection is accepted.
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the TLS server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// A device key (openssl, EC P-256, PKCS#8 PEM) and a CSR for it.
fn device_key_and_csr() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let key_path = key.to_str().unwrap();
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key_path,
    ]);
    let csr = run(&["req", "-new", "-key", key_path, "-subj", "/CN=ignored"]);
    (std::fs::read_to_string(&key).unwrap(), csr)
}

/// A reqwest client that trusts only `server_cert_pem` and presents `identity_pem` (certificate then
/// key) when given.
fn client(server_cert_pem: &str, identity_pem: Option<&str>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(server_cert_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10));
    if let Some(pem) = identity_pem {
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// An enrolled device: its certificate and its key, as one identity PEM.
struct Device {
    id: String,
    certificate: String,
    identity: String,
}

async fn enroll(client: &reqwest::Client, port: u16, id: &str) -> Device {
    let (key, csr) = device_key_and_csr();
    let response = client
        .post(format!("https://127.0.0.1:{port}/device/enroll"))
        .json(&json!({"device_id": id, "platform": "desktop", "csr": csr}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    let body: Value = response.json().await.unwrap();
    let certificate = body["certificate"].as_str().unwrap().to_owned();
    Device {
        id: id.to_owned(),
        identity: format!("{certificate}{key}"),
        certificate,
    }
}

async fn get(client: &reqwest::Client, port: u16, path: &str) -> (u16, Value) {
    let response = client
        .get(format!("https://127.0.0.1:{port}{path}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn without_a_certificate_public_routes_answer_and_device_routes_are_401_even_with_a_forged_header()
 {
    let dir = tempfile::tempdir().unwrap();
    let identity = server_identity(dir.path());
    let server = start(dir.path(), &identity, &[]);
    let anonymous = client(&identity.cert_pem, None);

    let (status, body) = get(&anonymous, server.port, "/health").await;
    assert_eq!(status, 200, "{body}");
    let probe = |cert_file: Option<&Path>| {
        let mut cmd = base_command(dir.path());
        cmd.env("PORT", server.port.to_string())
            .arg("--healthcheck");
        if let Some(file) = cert_file {
            cmd.env("TLS_CERT_FILE", file);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(probe(Some(&identity.cert_file)).0, Some(0), "https probe");
    let (code, stderr) = probe(None);
    assert_eq!(code, Some(1), "a plain-HTTP probe gets the 400");
    assert!(
        stderr.contains("https_required") && stderr.contains("set TLS_CERT_FILE"),
        "the probe says how to reach a TLS server: {stderr}"
    );
    let other = tempfile::tempdir().unwrap();
    let other = server_identity(other.path());
    assert_eq!(
        probe(Some(&other.cert_file)).0,
        Some(1),
        "pinned to the file"
    );
    let (status, _) = get(&anonymous, server.port, "/device/ca-certificate").await;
    assert_eq!(status, 200);
    let device = enroll(&anonymous, server.port, "tls-anon-1").await;

    let (status, body) = get(&anonymous, server.port, "/device/status/tls-anon-1").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "certificate_required");

    // A genuine, registered certificate PEM in every header an edge could use does nothing here.
    let encoded: String = percent_encoding::utf8_percent_encode(
        &device.certificate,
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    for header in [
        "X-Client-Cert",
        "X-Amzn-Mtls-Clientcert",
        "X-Amzn-Mtls-Clientcert-Leaf",
    ] {
        let response = anonymous
            .get(format!(
                "https://127.0.0.1:{}/device/status/tls-anon-1",
                server.port
            ))
            .header(header, &encoded)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
    }
    let response = anonymous
        .get(format!(
            "https://127.0.0.1:{}/device/status/tls-anon-1",
            server.port
        ))
        .header("X-Forwarded-Client-Cert", format!("Cert=\"{encoded}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_device_certificate_in_the_handshake_authenticates_and_no_header_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let identity = server_identity(dir.path());
    let server = start(dir.path(), &identity, &[]);
    let anonymous = client(&identity.cert_pem, None);
    let a = enroll(&anonymous, server.port, "tls-device-a").await;
    let b = enroll(&anonymous, server.port, "tls-device-b").await;

    let as_a = client(&identity.cert_pem, Some(&a.identity));
    let (status, body) = get(&as_a, server.port, "/device/status/tls-device-a").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["device_id"], "tls-device-a");
    // Public routes work with a certificate too.
    assert_eq!(get(&as_a, server.port, "/health").await.0, 200);

    // A's connection claims B's certificate in a header: the handshake certificate (A) is used.
    let encoded: String =
        percent_encoding::utf8_percent_encode(&b.certificate, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let response = as_a
        .get(format!(
            "https://127.0.0.1:{}/device/status/{}",
            server.port, b.id
        ))
        .header("X-Client-Cert", &encoded)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "device_mismatch", "{body}");
    let response = as_a
        .get(format!(
            "https://127.0.0.1:{}/device/status/{}",
            server.port, a.id
        ))
        .header("X-Client-Cert", "garbage-that-would-be-certificate_invalid")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A revoked certificate still completes the handshake: public routes answer, device routes 403.
    let response = as_a
        .post(format!("https://127.0.0.1:{}/device/revoke", server.port))
        .json(&json!({"device_id": a.id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let fresh = client(&identity.cert_pem, Some(&a.identity));
    assert_eq!(get(&fresh, server.port, "/health").await.0, 200);
    let (status, body) = get(&fresh, server.port, "/device/status/tls-device-a").await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "certificate_revoked");
}

/// A client certificate for `device_id` from a CA the service never saw, whose subject copies the
/// development CA's subject byte for byte (so only the signature can tell them apart).
fn foreign_identity(device_id: &str) -> String {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Apuntador Development CA");
    ca.distinguished_name
        .push(rcgen::DnType::OrganizationName, "Apuntador");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::default();
    leaf.distinguished_name = rcgen::DistinguishedName::new();
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, device_id);
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
    format!("{}{}", leaf_cert.pem(), leaf_key.serialize_pem())
}

#[tokio::test]
async fn a_certificate_from_another_ca_fails_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let identity = server_identity(dir.path());
    let server = start(dir.path(), &identity, &[]);
    let foreign = client(&identity.cert_pem, Some(&foreign_identity("tls-foreign")));
    for path in ["/health", "/device/status/tls-foreign"] {
        let outcome = foreign
            .get(format!("https://127.0.0.1:{}{path}", server.port))
            .send()
            .await;
        assert!(
            outcome.is_err(),
            "{path}: the handshake must fail, got {outcome:?}"
        );
    }
    // The server keeps serving everyone else.
    let anonymous = client(&identity.cert_pem, None);
    assert_eq!(get(&anonymous, server.port, "/health").await.0, 200);
}

#[test]
fn a_plain_http_request_to_the_tls_port_gets_a_400_problem_and_the_connection_closes() {
    let dir = tempfile::tempdir().unwrap();
    let identity = server_identity(dir.path());
    let server = start(dir.path(), &identity, &[]);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /device/status/dev-12345?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    assert!(
        text.contains("content-type: application/problem+json"),
        "{text}"
    );
    let body: Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["error"], "https_required");
    assert_eq!(body["instance"], "/device/status/dev-12345");
    assert_eq!(body["status"], 400);
}

#[tokio::test]
async fn tls_client_auth_required_refuses_handshakes_without_a_device_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let identity = server_identity(dir.path());
    let device = {
        let server = start(dir.path(), &identity, &[]);
        enroll(
            &client(&identity.cert_pem, None),
            server.port,
            "tls-required",
        )
        .await
    };
    let server = start(dir.path(), &identity, &[("TLS_CLIENT_AUTH", "required")]);
    let anonymous = client(&identity.cert_pem, None);
    assert!(
        anonymous
            .get(format!("https://127.0.0.1:{}/health", server.port))
            .send()
            .await
            .is_err(),
        "no certificate, no connection"
    );
    let as_device = client(&identity.cert_pem, Some(&device.identity));
    assert_eq!(
        get(&as_device, server.port, "/device/status/tls-required")
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn ca_rotation_reaches_the_tls_door_at_restart_and_the_previous_ca_stays_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let identity = server_identity(dir.path());
    let server = start(dir.path(), &identity, &[]);
    let anonymous = client(&identity.cert_pem, None);
    let old = enroll(&anonymous, server.port, "tls-rotate-old").await;
    let (_, before) = get(&anonymous, server.port, "/device/ca-certificate-pin").await;

    // Rotate while the server runs: it keeps the CA it loaded, for issuance and handshakes alike.
    let rotate = base_command(dir.path())
        .args(["ca", "init", "--local", "--rotate"])
        .output()
        .unwrap();
    assert!(
        rotate.status.success(),
        "{}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    let (_, still) = get(&anonymous, server.port, "/device/ca-certificate-pin").await;
    assert_eq!(
        still, before,
        "the running server keeps its CA until restarted"
    );
    drop(server);

    let server = start(dir.path(), &identity, &[]);
    let (_, after) = get(&anonymous, server.port, "/device/ca-certificate-pin").await;
    assert_ne!(after, before, "after a restart the new CA is current");
    // The old certificate (previous CA) and a new one (new CA) both pass the handshake and the
    // application's certificate checks.
    let new = enroll(&anonymous, server.port, "tls-rotate-new").await;
    for device in [&old, &new] {
        let as_device = client(&identity.cert_pem, Some(&device.identity));
        let (status, body) = get(
            &as_device,
            server.port,
            &format!("/device/status/{}", device.id),
        )
        .await;
        assert_eq!(status, 200, "{}: {body}", device.id);
    }
}

#[test]
fn unreadable_tls_files_stop_the_server_with_exit_code_two() {
    let dir = tempfile::tempdir().unwrap();
    let identity = server_identity(dir.path());
    let out = base_command(dir.path())
        .env("HOST", "127.0.0.1")
        .env("PORT", free_port().to_string())
        .env("TLS_CERT_FILE", dir.path().join("missing.pem"))
        .env("TLS_KEY_FILE", &identity.key_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TLS_CERT_FILE"), "{stderr}");

    // A key file holding a certificate instead of a key: named, content never echoed.
    let out = base_command(dir.path())
        .env("HOST", "127.0.0.1")
        .env("PORT", free_port().to_string())
        .env("TLS_CERT_FILE", &identity.cert_file)
        .env("TLS_KEY_FILE", &identity.cert_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TLS_KEY_FILE"), "{stderr}");
}

/// The accept loop in process: a client that never finishes its handshake neither blocks other
/// connections nor outlives the handshake limit, and shutdown still drains.
#[tokio::test]
async fn a_stalled_handshake_never_blocks_the_accept_loop_and_is_cut_at_the_time_limit() {
    use apuntador::config::Config;
    use apuntador::server::{self, ShutdownOutcome, tls::TlsDoor};

    let dir = tempfile::tempdir().unwrap();
    let identity = server_identity(dir.path());
    let config = Config::from_lookup(|name| match name {
        "TLS_CERT_FILE" => Some(identity.cert_file.display().to_string()),
        "TLS_KEY_FILE" => Some(identity.key_file.display().to_string()),
        _ => None,
    })
    .unwrap();
    let state = apuntador::AppState::in_memory(config);
    let door = TlsDoor::new(
        state.config.server.tls.as_ref().unwrap(),
        Some(state.ca.get().await.unwrap()),
    )
    .unwrap()
    .with_handshake_timeout(Duration::from_millis(800));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let lifecycle = state.lifecycle.clone();
    let serving = tokio::spawn(server::serve_door(
        listener,
        apuntador::router(state),
        lifecycle,
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(3),
        Some(door),
    ));

    // Two stalled clients: one silent, one that sent the first bytes of a TLS record and stopped.
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut partial = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut partial, &[0x16, 0x03, 0x01, 0x02])
        .await
        .unwrap();

    let started = Instant::now();
    let anonymous = client(&identity.cert_pem, None);
    let (status, _) = get(&anonymous, port, "/health").await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "served while two handshakes stall"
    );

    for stalled in [&mut silent, &mut partial] {
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(stalled, &mut buf),
        )
        .await
        .expect("the server closes a stalled handshake");
        assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    }
    assert!(started.elapsed() >= Duration::from_millis(700));

    // Shutdown with the client's idle keep-alive TLS connection still open: the loop drains.
    let _ = stop.send(());
    let outcome = tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome, ShutdownOutcome::Drained);
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "the listener is closed"
    );
}
