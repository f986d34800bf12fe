//! The command line of `apuntador-server`: help at every level, usage errors, `healthcheck`,
//! `config check`, the `ca` commands, and SIGTERM with `SHUTDOWN_DELAY_SECONDS` — all through the real
//! binary.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::binaries::{SERVER, command, free_port, wait_exit};

fn run(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(SERVER, dir);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// GET `path` on `addr`: (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Starts the server in `dir` with `env` and waits until `addr` answers `/health`.
fn start(dir: &std::path::Path, env: &[(&str, &str)], addr: SocketAddr) -> Child {
    let mut cmd = command(SERVER, dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the server exited early: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn terminate(child: &Child) {
    let sent = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn help_at_every_level_exits_zero_and_names_the_environment_variables_read() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--help"],
            &["serve", "ca", "healthcheck", "config", ".env"],
        ),
        (
            &["serve", "--help"],
            &["HOST", "PORT", "SHUTDOWN_DELAY_SECONDS", "CONFIG_API_KEY"],
        ),
        (&["ca", "--help"], &["init", "rotate", "show", "DATA_DIR"]),
        (
            &["ca", "init", "--help"],
            &[
                "--rotate",
                "--force",
                "--organization",
                "--country",
                "rsa-4096",
                "DATA_DIR",
                "AWS_S3_BUCKET",
            ],
        ),
        (&["ca", "rotate", "--help"], &["INFRASTRUCTURE_PROVIDER"]),
        (&["ca", "show", "--help"], &["DATA_DIR"]),
        (
            &["healthcheck", "--help"],
            &["HOST", "PORT", "TLS_CERT_FILE", ".env"],
        ),
        (&["config", "check", "--help"], &["LOG_FORMAT", "redacted"]),
    ];
    for (args, needles) in cases {
        let out = run(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = text(&out.stdout);
        for needle in *needles {
            assert!(help.contains(needle), "{args:?} lacks {needle}:\n{help}");
        }
    }
}

#[test]
fn a_bad_argument_is_named_and_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (&["ca", "init", "--frobnicate"][..], "--frobnicate"),
        (&["ca", "--frobnicate"][..], "--frobnicate"),
        (&["ca", "init", "--country", "Spain"][..], "two-letter"),
        (
            &["ca", "init", "--validity-days", "0"][..],
            "--validity-days",
        ),
        (&["ca", "init", "--force", "--rotate"][..], "--rotate"),
        (&["ca", "init", "--key-type", "ec-p521"][..], "ec-p256"),
        (&["serve", "extra"][..], "extra"),
    ] {
        let out = run(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn healthcheck_follows_host_and_port_from_dotenv_and_says_why_it_fails() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join(".env"),
        format!("HOST=0.0.0.0\nPORT={port}\n"),
    )
    .unwrap();
    for args in [&["--healthcheck"][..], &["healthcheck"][..]] {
        let out = run(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("cannot connect to 127.0.0.1:{port}"))
                && stderr.contains(&format!("PORT={port} (from .env)")),
            "{stderr}"
        );
    }
    let out = run(dir.path(), &["healthcheck"], &[("PORT", "80a")]);
    assert_eq!(out.status.code(), Some(1), "never 2: Docker reserves it");
    assert!(text(&out.stderr).contains("PORT=\"80a\" is not a port number"));

    let mut child = start(
        dir.path(),
        &[("HOST", "127.0.0.1")],
        SocketAddr::from(([127, 0, 0, 1], port)),
    );
    let out = run(dir.path(), &["--healthcheck"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("answered 200"));
    terminate(&child);
    assert_eq!(
        wait_exit(&mut child, Duration::from_secs(10)).and_then(|s| s.code()),
        Some(0)
    );
}

#[test]
fn healthcheck_probes_the_ipv6_loopback_when_host_is_ipv6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("[::1]:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port_text = port.to_string();
    let env = [("HOST", "::1"), ("PORT", port_text.as_str())];
    let mut child = start(
        dir.path(),
        &env,
        SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], port)),
    );
    let out = run(dir.path(), &["healthcheck"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("http://[::1]:{port}/health")));
    let unspecified = run(
        dir.path(),
        &["healthcheck"],
        &[("HOST", "::"), ("PORT", &port_text)],
    );
    assert_eq!(unspecified.status.code(), Some(0), ":: probes ::1");
    terminate(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(10)).is_some());
}

#[test]
fn config_check_prints_the_effective_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "a-config-key-nobody-may-see-0123456789";
    let out = run(
        dir.path(),
        &["config", "check"],
        &[
            ("CONFIG_API_KEY", secret),
            ("GOOGLE_CLIENT_SECRET", "google-secret-never-printed"),
            ("PORT", "9321"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("configuration is valid"), "{stdout}");
    assert!(stdout.contains("port: 9321"), "{stdout}");
    assert!(stdout.contains("REDACTED"), "{stdout}");
    assert!(!stdout.contains(secret) && !stdout.contains("google-secret-never-printed"));

    let bad = run(
        dir.path(),
        &["config", "check"],
        &[("PORT", "80a"), ("BODY_LIMIT_BYTES", "1")],
    );
    assert_eq!(bad.status.code(), Some(2));
    let stderr = text(&bad.stderr);
    assert!(
        stderr.contains("  - PORT: ") && stderr.contains("  - BODY_LIMIT_BYTES: "),
        "{stderr}"
    );
}

#[test]
fn ca_commands_create_refuse_rotate_show_and_force_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    // Production settings `ca` does not use cannot stop it.
    let env = [
        ("ENVIRONMENT", "production"),
        ("ENABLED_CLOUD_PROVIDERS", "googledrive"),
        ("DATA_DIR", "ca-data"),
    ];
    let created = run(
        dir.path(),
        &[
            "ca",
            "init",
            "--local",
            "--organization",
            "Example Org",
            "--country",
            "pt",
        ],
        &env,
    );
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    assert!(
        text(&created.stdout).contains("O=Example Org,C=PT"),
        "{}",
        text(&created.stdout)
    );

    let again = run(dir.path(), &["ca", "init"], &env);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("ca rotate"),
        "{}",
        text(&again.stderr)
    );

    let rotated = run(
        dir.path(),
        &["ca", "rotate", "--common-name", "Second CA"],
        &env,
    );
    assert_eq!(rotated.status.code(), Some(0), "{}", text(&rotated.stderr));
    assert!(text(&rotated.stdout).contains("rotated"));

    let shown = run(dir.path(), &["ca", "show"], &env);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown.stderr));
    let shown = text(&shown.stdout);
    assert!(
        shown.contains("CN=Second CA") && shown.contains("ec-p256"),
        "{shown}"
    );
    assert!(
        shown.contains("previous:    CN=Apuntador Certificate Authority"),
        "{shown}"
    );
    assert!(!shown.contains("PRIVATE KEY"));

    let forced = run(dir.path(), &["ca", "init", "--force"], &env);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    let warning = text(&forced.stderr);
    assert!(
        warning.contains("warning: replaced the existing CA (--force): CN=Second CA")
            && warning.contains("previous CA certificate")
            && warning.contains("ca rotate"),
        "{warning}"
    );
}

#[test]
fn ca_show_without_a_ca_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["ca", "show", "--local"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("apuntador-server ca init"));
}

#[test]
fn ca_init_replaces_the_development_ca_of_a_first_start_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let port_text = port.to_string();
    let mut child = start(
        dir.path(),
        &[("HOST", "127.0.0.1"), ("PORT", &port_text)],
        SocketAddr::from(([127, 0, 0, 1], port)),
    );
    terminate(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(10)).is_some());

    let out = run(dir.path(), &["ca", "init", "--local"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("replaced the development CA created automatically")
            && stderr.contains("enrol again"),
        "{stderr}"
    );
}

#[test]
fn sigterm_with_a_shutdown_delay_keeps_serving_while_readiness_says_shutting_down() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let port_text = port.to_string();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut child = start(
        dir.path(),
        &[
            ("HOST", "127.0.0.1"),
            ("PORT", &port_text),
            ("SHUTDOWN_DELAY_SECONDS", "2"),
            ("SHUTDOWN_GRACE_SECONDS", "5"),
        ],
        addr,
    );
    assert_eq!(get(addr, "/health/ready").0, 200);
    let term = Instant::now();
    terminate(&child);
    // New connections during the delay: readiness is 503 shutting_down, liveness still 200.
    let mut saw_shutting_down = false;
    while term.elapsed() < Duration::from_millis(1500) {
        let (status, body) = get(addr, "/health/ready");
        if status == 503 {
            assert!(body.contains("shutting_down"), "{body}");
            saw_shutting_down = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        saw_shutting_down,
        "readiness turned shutting_down during the delay"
    );
    assert_eq!(
        get(addr, "/health").0,
        200,
        "still serving during the delay"
    );
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("exits after the delay");
    assert_eq!(status.code(), Some(0));
    assert!(
        term.elapsed() >= Duration::from_secs(2),
        "{:?}",
        term.elapsed()
    );
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
        "the listener is closed afterwards"
    );
}

#[test]
fn the_readme_flows_run_as_written_and_print_what_the_readme_says() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/readme-flows");
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APUNTADOR_SERVER_BIN", SERVER);
    if let Ok(tmp) = std::env::var("TMPDIR") {
        cmd.env("TMPDIR", tmp);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "scripts/readme-flows failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
