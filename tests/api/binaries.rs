//! The real binaries: command line, exit codes, configuration reporting, the embedded default store
//! and SIGTERM.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const SERVER: &str = env!("CARGO_BIN_EXE_apuntador-server");
const LAMBDA: &str = env!("CARGO_BIN_EXE_apuntador-lambda");

/// A command with a clean environment, run in an empty directory (so no developer `.env` is read).
pub(crate) fn command(bin: &str, dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    cmd
}

pub(crate) fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn version_and_help_exit_zero_and_unknown_arguments_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let version = command(SERVER, dir.path())
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with(&format!(
            "apuntador-server {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{version}"
    );
    let help = command(SERVER, dir.path()).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--healthcheck"));
    let bad = command(SERVER, dir.path())
        .arg("--frobnicate")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_bad_configuration_reports_every_problem_exits_two_and_prints_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    for bin in [SERVER, LAMBDA] {
        let out = command(bin, dir.path())
            .env("ENVIRONMENT", "production")
            .env("CONFIG_API_KEY", "tooShortSecretValue")
            .env("BODY_LIMIT_BYTES", "12abc")
            .env("ENABLED_CLOUD_PROVIDERS", "")
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bin}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stderr.contains("configuration error:"), "{stderr}");
        assert!(stderr.contains("  - CONFIG_API_KEY: "), "{stderr}");
        assert!(stderr.contains("  - BODY_LIMIT_BYTES: "), "{stderr}");
        assert!(!stderr.contains("tooShortSecretValue") && !stdout.contains("tooShortSecretValue"));
        assert!(
            stdout.contains("\"level\":\"ERROR\""),
            "one ERROR log line: {stdout}"
        );
    }
}

#[test]
fn a_dotenv_file_configures_the_server_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "# comment\nBODY_LIMIT_BYTES=abc\nPORT='80a'\n",
    )
    .unwrap();
    let out = command(SERVER, dir.path())
        .env("PORT", "8123")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("BODY_LIMIT_BYTES"), "{stderr}");
    assert!(
        !stderr.contains("PORT"),
        "the environment's PORT wins: {stderr}"
    );
}

#[test]
fn the_server_runs_on_the_embedded_default_and_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = command(SERVER, dir.path())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("SHUTDOWN_GRACE_SECONDS", "5")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let healthy = loop {
        let probe = command(SERVER, dir.path())
            .env("PORT", port.to_string())
            .arg("--healthcheck")
            .status()
            .unwrap();
        if probe.success() {
            break true;
        }
        if started.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(healthy, "--healthcheck turns 0 once the server answers");

    let ready = raw_http::blocking_get(port, "/health/ready");
    assert_eq!(ready.0, 200, "{}", ready.1);
    assert!(
        ready
            .1
            .contains(r#""certificate_store":"ok","session_store":"ok""#)
    );
    let data_dir = dir.path().join(".apuntador");
    assert!(
        data_dir.join("apuntador.db").exists(),
        "SQLite lives under the default DATA_DIR"
    );

    let term = Instant::now();
    assert!(
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap()
            .success()
    );
    let status =
        wait_exit(&mut child, Duration::from_secs(5)).expect("exits within the grace period");
    assert_eq!(status.code(), Some(0));
    assert!(term.elapsed() < Duration::from_secs(5));
    let probe = command(SERVER, dir.path())
        .env("PORT", port.to_string())
        .arg("--healthcheck")
        .status()
        .unwrap();
    assert_eq!(
        probe.code(),
        Some(1),
        "--healthcheck fails once the server is gone"
    );
}

#[test]
fn a_busy_port_is_a_runtime_failure_with_exit_code_one() {
    let dir = tempfile::tempdir().unwrap();
    let taken = StdListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = command(SERVER, dir.path())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not bind"));
}

/// Tiny blocking GET for the binary tests.
pub(crate) mod raw_http {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    /// GET `path` on 127.0.0.1:`port`; (status, body).
    pub fn blocking_get(port: u16, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

/// Runs the server under `ulimit -n <files>` with the extra variables, waits until it answers
/// `/health`, opens `clients` idle connections for 1.5 s, probes `/health` on a new connection, and
/// returns the probe's status (None when it got no answer) and the server's log.
fn under_a_file_limit(files: u32, extra: &[(&str, &str)], clients: usize) -> (Option<u16>, String) {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = command("sh", dir.path());
    cmd.arg("-c")
        .arg(format!("ulimit -n {files} && exec \"$0\""))
        .arg(SERVER)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "info")
        .stdout(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || raw_http::blocking_get(port, "/health").0 != 200
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let idle: Vec<_> = (0..clients)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let probe = std::net::TcpStream::connect(("127.0.0.1", port))
        .ok()
        .and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            s.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .ok()?;
            let mut head = [0u8; 12];
            s.read_exact(&mut head).ok()?;
            std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
        });
    drop(idle);
    let _ = child.kill();
    let mut log = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let _ = child.wait();
    (probe, log)
}

#[test]
fn running_out_of_file_descriptors_logs_one_accept_warning_not_a_storm() {
    // 48 descriptors, connections capped far above: accepts fail with EMFILE for 1.5 s.
    let (_, log) = under_a_file_limit(48, &[], 120);
    let accept_failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("accept failed"))
        .collect();
    assert_eq!(accept_failures.len(), 1, "{log}");
    assert!(accept_failures[0].contains("\"failures\":1"), "{log}");
}

#[test]
fn a_connection_cap_below_the_file_limit_keeps_liveness_answering() {
    // 256 descriptors; 32 connections allowed: 60 idle clients fill them and 28 of the 64 refusal
    // slots, and a liveness probe on a new connection is still answered.
    let (probe, log) = under_a_file_limit(256, &[("MAX_CONNECTIONS", "32")], 60);
    assert_eq!(probe, Some(200), "{log}");
    assert!(!log.contains("accept failed"), "{log}");
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("connection limit"))
        .collect();
    assert_eq!(refusals.len(), 1, "{log}");
}
