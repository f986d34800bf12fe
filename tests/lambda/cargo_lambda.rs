//! `apuntador-lambda` under `cargo lambda watch` (cargo-lambda 1.9.2, installed by
//! `scripts/install-tools`): the fixtures through
//! `cargo lambda invoke`, and the Function URL endpoint over plain HTTP.
//!
//! `cargo lambda watch` starts the function with `cargo run --bin apuntador-lambda`. That is not the
//! artifact `cargo test` built: a test build unifies the dev-dependencies' features into the normal
//! dependencies (hyper gains `full`, so hyper and everything above it differ). So the test first runs
//! `cargo build --bin apuntador-lambda` itself, in the target directory and profile this test was built
//! with (`CARGO_TARGET_DIR`); a no-op when fresh, one incremental build after a source change. Then
//! `cargo run` inside the watch must compile nothing, which the test asserts.
//!
//! The watch process and everything it starts live in their own process group, killed (by the group
//! id of the process this test started) when the test ends, pass or fail.
//!
//! cargo-lambda's emulator sends its own random `Lambda-Runtime-Trace-Id`, which replaces the
//! fixtures' `x-amzn-trace-id` header; so the answers' `X-Trace-ID` is checked against the X-Ray trace
//! id the function logged for the invocation, not against the fixture header.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::fixtures::{self, Answer, is_trace_id};
use crate::runtime_api::FUNCTION_NAME;

/// The variable naming the `cargo-lambda` binary or its directory.
const TOOL_VARIABLE: &str = "APUNTADOR_CARGO_LAMBDA";

/// The pre-build may compile `apuntador` (and, after a dependency change, the crates above hyper) and
/// wait for other builds holding Cargo's lock.
const BUILD_TIMEOUT: Duration = Duration::from_secs(1200);
/// The first `cargo lambda invoke` waits for `cargo run` (a freshness check, or a wait for another
/// build holding Cargo's lock); later ones are fast.
const FIRST_INVOKE_TIMEOUT: Duration = Duration::from_secs(600);
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The `cargo-lambda` binary named by `APUNTADOR_CARGO_LAMBDA`, or `None` when the variable is unset.
/// Panics when it is set but names nothing usable.
fn cargo_lambda_binary() -> Option<PathBuf> {
    let configured = std::env::var_os(TOOL_VARIABLE)?;
    let configured = PathBuf::from(configured);
    let binary = if configured.is_dir() {
        configured.join("cargo-lambda")
    } else {
        configured
    };
    assert!(
        binary.is_file(),
        "{TOOL_VARIABLE}={} but {} is not a file (run scripts/install-tools)",
        std::env::var(TOOL_VARIABLE).unwrap_or_default(),
        binary.display()
    );
    Some(binary)
}

/// The target directory the binaries under test were built in: `CARGO_TARGET_DIR` when set, else
/// two levels above `target/<profile>/apuntador-lambda`.
fn target_dir_and_profile() -> (PathBuf, String) {
    let exe = Path::new(env!("CARGO_BIN_EXE_apuntador-lambda"));
    let profile_dir = exe.parent().expect("binary directory");
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
        .to_owned();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            profile_dir
                .parent()
                .expect("target directory")
                .to_path_buf()
        });
    (target, profile)
}

/// Removes the variables Cargo sets for test executables (`CARGO_PKG_*`, `CARGO_MANIFEST_DIR`, …), so
/// the Cargo commands started here see the environment of the shell that ran `cargo test`. Build
/// scripts such as ring's declare `rerun-if-env-changed` on several of them, and Cargo compares those
/// against its own environment: leaving them in rebuilds ring and everything above it on every switch
/// between a build started from here and one started from a shell.
fn scrub_test_env(command: &mut Command) -> &mut Command {
    const SET_FOR_TESTS: [&str; 9] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if SET_FOR_TESTS.contains(&name)
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
        {
            command.env_remove(name);
        }
    }
    command
}

/// The newest modification time among the inputs of the `apuntador-lambda` build (manifest, lock
/// file, `src/`, `bin/`), to tell a concurrent edit from a misconfigured `cargo run`.
fn source_stamp(root: &Path) -> Option<std::time::SystemTime> {
    fn newest(path: &Path) -> Option<std::time::SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        let mut best = meta.modified().ok();
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).ok()?.flatten() {
                best = best.max(newest(&entry.path()));
            }
        }
        best
    }
    ["Cargo.toml", "Cargo.lock", "src", "bin"]
        .iter()
        .filter_map(|p| newest(&root.join(p)))
        .max()
}

fn free_loopback_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("address").port()
}

/// `cargo lambda watch` in its own process group; the group is terminated on drop.
struct Watch {
    child: Child,
    log: PathBuf,
}

impl Watch {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal_group(&self, signal: &str) {
        // The group id is the id of the process this test started (`process_group(0)`).
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.signal_group("-TERM");
        let give_up = Instant::now() + Duration::from_secs(5);
        while Instant::now() < give_up && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (the function, `cargo run`) goes too.
        self.signal_group("-KILL");
        let _ = self.child.wait();
    }
}

/// Runs `command` to completion, killing it after `timeout`.
fn run_bounded(mut command: Command, timeout: Duration, what: &str) -> Output {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("stdout file"))
        .stderr(File::create(&err).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let give_up = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            break status;
        }
        if Instant::now() >= give_up {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: no answer within {timeout:?}\nstderr:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: std::fs::read(&out).unwrap_or_default(),
        stderr: std::fs::read(&err).unwrap_or_default(),
    }
}

fn wait_for_listener(addr: SocketAddr, watch: &mut Watch, timeout: Duration) {
    let give_up = Instant::now() + timeout;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = watch.child.try_wait() {
            panic!("cargo lambda watch exited with {status}:\n{}", watch.log());
        }
        assert!(
            Instant::now() < give_up,
            "cargo lambda watch did not listen on {addr} within {timeout:?}:\n{}",
            watch.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the function's log holds the completion line of the request answered with
/// `trace_id`, logged with the X-Ray trace id that yields it.
fn logged_with_xray_trace(watch: &Watch, trace_id: &str) -> bool {
    let xray = format!("Root=1-{}-{}", &trace_id[..8], &trace_id[8..]);
    let field = format!(r#""trace_id":"{trace_id}""#);
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        if watch
            .log()
            .lines()
            .any(|line| line.contains(&field) && line.contains(&xray))
        {
            return true;
        }
        if Instant::now() >= give_up {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixtures_and_the_function_url_are_answered_under_cargo_lambda_watch() {
    let Some(tool) = cargo_lambda_binary() else {
        let line =
            format!("SKIPPED: cargo-lambda tests need {TOOL_VARIABLE} (./scripts/test sets it)");
        println!("{line}");
        eprintln!("{line}");
        return;
    };
    let started = Instant::now();
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (target_dir, profile) = target_dir_and_profile();
    let tool_dir = tool.parent().expect("tool directory").to_path_buf();
    let path = std::env::join_paths(std::iter::once(tool_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");

    // The tool must work at all: a broken install fails the test here, loudly.
    let mut version = Command::new(&tool);
    scrub_test_env(&mut version)
        .arg("lambda")
        .arg("--version")
        .env("PATH", &path);
    let version = run_bounded(version, Duration::from_secs(30), "cargo lambda --version");
    assert!(
        version.status.success(),
        "{} lambda --version failed: {}",
        tool.display(),
        String::from_utf8_lossy(&version.stderr)
    );

    // What `cargo run` inside the watch will find fresh (see the module documentation).
    let sources_before = source_stamp(&manifest_dir);
    let build_started = Instant::now();
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    scrub_test_env(&mut build)
        .args(["build", "--bin", FUNCTION_NAME])
        .current_dir(&manifest_dir)
        .env("CARGO_TARGET_DIR", &target_dir);
    if profile != "debug" {
        build.args(["--profile", &profile]);
    }
    let build = run_bounded(build, BUILD_TIMEOUT, "cargo build --bin apuntador-lambda");
    let build_log = String::from_utf8_lossy(&build.stderr);
    assert!(build.status.success(), "cargo build failed:\n{build_log}");
    let build_time = build_started.elapsed();
    let compiled = build_log.matches("Compiling ").count();
    if compiled > 0 {
        println!(
            "NOTE: cargo build --bin apuntador-lambda compiled {compiled} crates in {build_time:?} \
             (the non-test feature set was stale)"
        );
    }

    let scratch = tempfile::Builder::new()
        .prefix("apuntador-cargo-lambda-")
        .tempdir()
        .expect("temporary directory");
    let data_dir = scratch.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("DATA_DIR");
    let port = free_loopback_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let log = scratch.path().join("watch.log");
    let log_file = File::create(&log).expect("watch log");

    let mut command = Command::new(&tool);
    scrub_test_env(&mut command)
        .args([
            "lambda",
            "watch",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
        ])
        .args(["--ignore-changes", "--disable-cors"])
        .args(["--env-var", &format!("DATA_DIR={}", data_dir.display())])
        // DEBUG: the /health completion lines carry the trace ids checked below.
        .args([
            "--env-var",
            "LOG_LEVEL=debug",
            "--env-var",
            "LOG_FORMAT=json",
        ]);
    if profile != "debug" {
        command.args(["--profile", &profile]);
    }
    command
        .current_dir(&manifest_dir)
        .env("PATH", &path)
        .env("CARGO_TARGET_DIR", &target_dir)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log handle"))
        .stderr(log_file)
        .process_group(0);
    let child = command.spawn().expect("start cargo lambda watch");
    let mut watch = Watch { child, log };
    wait_for_listener(addr, &mut watch, Duration::from_secs(60));

    let mut failures = Vec::new();
    let mut trace_ids = Vec::new();
    let mut first_invoke = None;
    for fixture in &fixtures::ALL {
        let invoke_started = Instant::now();
        let mut invoke = Command::new(&tool);
        scrub_test_env(&mut invoke)
            .args([
                "lambda",
                "invoke",
                "-A",
                "127.0.0.1",
                "-P",
                &port.to_string(),
            ])
            .arg(FUNCTION_NAME)
            .arg("--data-file")
            .arg(fixture.path())
            .current_dir(&manifest_dir)
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", &target_dir);
        let timeout = if first_invoke.is_none() {
            FIRST_INVOKE_TIMEOUT
        } else {
            INVOKE_TIMEOUT
        };
        let output = run_bounded(
            invoke,
            timeout,
            &format!("cargo lambda invoke {}", fixture.file),
        );
        first_invoke.get_or_insert(invoke_started.elapsed());
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "cargo lambda invoke {} failed ({}):\n{}\n{}\nwatch log:\n{}",
            fixture.file,
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr),
            watch.log()
        );
        let value: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "cargo lambda invoke {} printed no JSON ({e}): {stdout}",
                fixture.file
            )
        });
        let answer = Answer::from_json(&value);
        failures.extend(fixture.check(&answer));
        trace_ids.extend(answer.header("x-trace-id").map(str::to_owned));
    }

    // The Function URL endpoint: plain HTTP in and out.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(INVOKE_TIMEOUT)
        .build()
        .expect("client");
    let url = |path: &str| format!("http://{addr}/lambda-url/{FUNCTION_NAME}{path}");
    for (path, status, content_type, needle) in [
        ("/health", 200, "application/json", "Service is healthy"),
        (
            "/health?probe=1",
            200,
            "application/json",
            "Service is healthy",
        ),
        ("/nope", 404, "application/problem+json", r#""status":404"#),
        (
            "/config/providers",
            401,
            "application/problem+json",
            "missing_credentials",
        ),
    ] {
        let response = client
            .get(url(path))
            .header("x-amzn-trace-id", fixtures::FIXTURE_TRACE_HEADER)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} via the Function URL: {e}\n{}", watch.log()));
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (got_status, got_type, trace) = (
            response.status().as_u16(),
            header("content-type"),
            header("x-trace-id"),
        );
        let body = response.text().await.expect("Function URL body");
        if got_status != status {
            failures.push(format!(
                "[url {path}] status {got_status} != {status}: {body}"
            ));
        }
        if got_type.as_deref() != Some(content_type) {
            failures.push(format!("[url {path}] content-type {got_type:?}"));
        }
        if !body.contains(needle) {
            failures.push(format!("[url {path}] body lacks {needle}: {body}"));
        }
        match trace {
            Some(t) if is_trace_id(&t) => trace_ids.push(t),
            other => failures.push(format!("[url {path}] x-trace-id {other:?}")),
        }
    }

    for trace_id in &trace_ids {
        if !logged_with_xray_trace(&watch, trace_id) {
            failures.push(format!(
                "X-Trace-ID {trace_id} is not the X-Ray trace id of any logged invocation"
            ));
        }
    }
    let log = watch.log();
    if log.contains("Compiling ") && source_stamp(&manifest_dir) != sources_before {
        println!(
            "NOTE: the sources changed during the test, so cargo run inside the watch rebuilt"
        );
    } else if log.contains("Compiling ") {
        failures.push(
            "cargo run inside cargo lambda watch compiled crates: its profile, features, target \
             directory or environment differ from `cargo build --bin apuntador-lambda`"
                .into(),
        );
    }
    assert!(
        failures.is_empty(),
        "{}\nwatch log:\n{log}",
        failures.join("\n")
    );
    drop(watch);
    println!(
        "cargo-lambda part: {:?} in all; pre-build {build_time:?}, first invoke (cargo run) {:?}",
        started.elapsed(),
        first_invoke.unwrap_or_default()
    );
}
