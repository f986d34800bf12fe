//! Cold start of both binaries against their floors: spawn → first answer, and peak RSS,
//! repeated, every variant alternated within each round so a noisy neighbour's burst spreads over all.
//!
//! - `apuntador-server`: spawn → first `200` on `GET /health` over 127.0.0.1 (the client polls the port
//!   every millisecond), with a fresh temporary `DATA_DIR` and working directory each time; its floor is
//!   the `bare-axum` example (benches/bare_axum.rs), measured the same way;
//! - `apuntador-lambda`: spawn → the response to its first event (one HTTP API v2 `GET /health`) through
//!   the in-repo Rust Lambda Runtime API emulator (tests/support/runtime_api.rs), a fresh emulator and
//!   `DATA_DIR` each time, in local mode (SQLite) and in **AWS mode** (`INFRASTRUCTURE_PROVIDER=aws`
//!   against a moto server the bench starts, which is what deployments run); its floor is the
//!   `bare-lambda` example (benches/bare_lambda.rs, a `lambda_http` hello-world);
//! - `apuntador-lambda` with OpenTelemetry (`OTEL_ENABLED=true`, OTLP/HTTP to a live in-bench receiver
//!   on loopback): the same, so the difference is what telemetry adds to a cold start (building the
//!   exporter and the batch thread during INIT, and the first invocation's flush).
//!
//! Every figure is reported as a median with its spread (min, p25, p75, max) and as a ratio to its floor
//! (the ratio of the medians). Peak RSS is `VmHWM` from `/proc/<pid>/status` read right after the first
//! answer. Every process is killed by its own PID (the child handle) after each repetition.
//!
//! `cargo bench --bench cold_start` measures the server and `bare-axum` release binaries in
//! `target/release` (or `$APUNTADOR_RELEASE_DIR`; `cargo build --release --bins --example bare-axum`) and
//! the Lambda function and `bare-lambda` as deployed, built with the `lambda-release` profile that
//! `scripts/package-lambda` ships, in `target/lambda-release` (or `$APUNTADOR_LAMBDA_DIR`; `cargo build
//! --profile lambda-release --bin apuntador-lambda --example bare-lambda`), `$COLD_START_REPETITIONS`
//! times (default 20, at least 20 for a report). AWS mode uses `$AWS_ENDPOINT_URL` when it is set
//! (`scripts/with-moto` sets it), else the bench installs moto if needed (through `scripts/with-moto`)
//! and starts its own server on a free loopback port. It prints the figures and writes
//! `target/measurements/results-<unix time>.json`: the machine, the commit, every figure, and a
//! `measurements` object for `apuntador-cost --measurements` (`lambda_init_ms` and `lambda_peak_rss_mb`
//! of AWS mode, and `lambda_handler_ms` from criterion's `lambda_handler/http_v2/*` estimates when they
//! exist; the server throughput and mean response size are merged in by `scripts/bench`).
//!
//! Without `--bench` (that is, under `cargo test --benches`), it runs one repetition of each against the
//! debug binaries Cargo built for this bench (`CARGO_BIN_EXE_*`, and the floors in
//! `target/debug/examples` when they were built) as a smoke test and writes nothing; AWS mode runs when
//! `$AWS_ENDPOINT_URL` names an emulator.

#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use runtime_api::{LambdaProcess, RuntimeApi};
use serde_json::{Value, json};

/// How long one start may take before the bench gives up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One cold start: milliseconds to the first answer and peak RSS in KiB.
#[derive(Clone, Copy)]
struct Sample {
    ms: f64,
    peak_rss_kib: u64,
}

/// One measured variant: its name in the report and results file, and its floor's.
struct Variant {
    key: &'static str,
    label: &'static str,
    floor: Option<&'static str>,
    samples: Vec<Sample>,
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let (dir, lambda_dir, repetitions) = if bench_mode {
        let dir = std::env::var_os("APUNTADOR_RELEASE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| target_dir().join("release"));
        let lambda_dir = std::env::var_os("APUNTADOR_LAMBDA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| target_dir().join("lambda-release"));
        let repetitions = std::env::var("COLD_START_REPETITIONS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(20)
            .max(1);
        (dir, lambda_dir, repetitions)
    } else {
        println!(
            "cold_start: test mode (no --bench): one repetition against the debug binaries, no results file"
        );
        (target_dir().join("debug"), target_dir().join("debug"), 1)
    };
    let (server, lambda) = if bench_mode {
        (
            dir.join("apuntador-server"),
            lambda_dir.join("apuntador-lambda"),
        )
    } else {
        (
            PathBuf::from(env!("CARGO_BIN_EXE_apuntador-server")),
            PathBuf::from(env!("CARGO_BIN_EXE_apuntador-lambda")),
        )
    };
    let bare_axum = dir.join("examples/bare-axum");
    let bare_lambda = lambda_dir.join("examples/bare-lambda");
    for binary in [&server, &lambda, &bare_axum, &bare_lambda] {
        if !binary.is_file() {
            if bench_mode {
                eprintln!(
                    "cold_start: {} is not built; run `cargo build --release --bins --example bare-axum` \
                     and `cargo build --profile lambda-release --bin apuntador-lambda --example \
                     bare-lambda` first (or set APUNTADOR_RELEASE_DIR and APUNTADOR_LAMBDA_DIR)",
                    binary.display()
                );
                std::process::exit(2);
            }
            println!(
                "cold_start: {} is not built (cargo test builds the examples with --all-targets); \
                 its figures are skipped",
                binary.display()
            );
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let receiver = rt.block_on(otlp_receiver());
    let otel_env = [
        ("OTEL_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.as_str()),
    ];
    let moto = Moto::start(bench_mode);
    let aws_env: Vec<(&str, String)> = match &moto {
        Some(moto) => vec![
            ("INFRASTRUCTURE_PROVIDER", "aws".to_owned()),
            ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ],
        None => Vec::new(),
    };
    let aws_env: Vec<(&str, &str)> = aws_env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let mut variants = vec![
        Variant {
            key: "server",
            label: "apuntador-server spawn → first 200",
            floor: Some("bare_axum"),
            samples: Vec::new(),
        },
        Variant {
            key: "bare_axum",
            label: "bare-axum (floor) spawn → first 200",
            floor: None,
            samples: Vec::new(),
        },
        Variant {
            key: "lambda",
            label: "apuntador-lambda local mode → first response",
            floor: Some("bare_lambda"),
            samples: Vec::new(),
        },
        Variant {
            key: "lambda_aws",
            label: "apuntador-lambda AWS mode → first response",
            floor: Some("bare_lambda"),
            samples: Vec::new(),
        },
        Variant {
            key: "bare_lambda",
            label: "bare-lambda (floor) → first response",
            floor: None,
            samples: Vec::new(),
        },
        Variant {
            key: "lambda_otel",
            label: "apuntador-lambda local, OTel on → first response",
            floor: Some("bare_lambda"),
            samples: Vec::new(),
        },
    ];
    for round in 0..repetitions {
        for variant in &mut variants {
            let sample = match variant.key {
                "server" => Some(server_cold_start(&server)),
                "bare_axum" => bare_axum.is_file().then(|| server_cold_start(&bare_axum)),
                "lambda" => Some(rt.block_on(lambda_cold_start(&lambda, &[]))),
                "lambda_aws" => {
                    (!aws_env.is_empty()).then(|| rt.block_on(lambda_cold_start(&lambda, &aws_env)))
                }
                "bare_lambda" => bare_lambda
                    .is_file()
                    .then(|| rt.block_on(lambda_cold_start(&bare_lambda, &[]))),
                "lambda_otel" => Some(rt.block_on(lambda_cold_start(&lambda, &otel_env))),
                _ => None,
            };
            variant.samples.extend(sample);
        }
        if bench_mode {
            eprint!("\rcold_start: {}/{repetitions}", round + 1);
        }
    }
    if bench_mode {
        eprintln!();
    }
    drop(moto);

    // Per variant: time and peak RSS with spread, and the ratios of the medians to the floor's.
    let mut figures = serde_json::Map::new();
    for variant in &variants {
        if variant.samples.is_empty() {
            continue;
        }
        let ms = stats(variant.samples.iter().map(|s| s.ms).collect());
        let rss = stats(
            variant
                .samples
                .iter()
                .map(|s| s.peak_rss_kib as f64 / 1024.0)
                .collect(),
        );
        figures.insert(
            variant.key.to_owned(),
            json!({"label": variant.label, "ms": ms, "peak_rss_mib": rss, "floor": variant.floor}),
        );
    }
    let median = |key: &str, what: &str| figures.get(key).and_then(|f| f[what]["median"].as_f64());
    println!(
        "{:<50} {:>8} {:>8} {:>8} {:>8} {:>8}  {:>6} {:>9}  {:>7}",
        "cold start (ms)", "median", "min", "p25", "p75", "max", "ratio", "RSS MiB", "ratio"
    );
    for variant in &variants {
        let Some(figure) = figures.get(variant.key) else {
            continue;
        };
        let ratio = |what: &str| {
            let floor = median(variant.floor?, what)?;
            Some(median(variant.key, what)? / floor)
        };
        let show = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{r:.2}"));
        let ms = &figure["ms"];
        println!(
            "{:<50} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {:>6} {:>9.2}  {:>7}   (n = {})",
            variant.label,
            ms["median"].as_f64().unwrap_or_default(),
            ms["min"].as_f64().unwrap_or_default(),
            ms["p25"].as_f64().unwrap_or_default(),
            ms["p75"].as_f64().unwrap_or_default(),
            ms["max"].as_f64().unwrap_or_default(),
            show(ratio("ms")),
            figure["peak_rss_mib"]["median"]
                .as_f64()
                .unwrap_or_default(),
            show(ratio("peak_rss_mib")),
            ms["n"],
        );
    }
    println!("(ratio = median over the median of the variant's floor in this run)");
    if !bench_mode {
        return;
    }

    let mut ratios = serde_json::Map::new();
    for variant in &variants {
        if let Some(floor) = variant.floor {
            for what in ["ms", "peak_rss_mib"] {
                if let (Some(a), Some(b)) = (median(variant.key, what), median(floor, what)) {
                    ratios.insert(format!("{}_{what}_over_{floor}", variant.key), json!(a / b));
                }
            }
        }
    }
    let machine = machine();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    // The cost model takes AWS mode, what deployments run (local mode when no emulator was available).
    let lambda_key = if figures.contains_key("lambda_aws") {
        "lambda_aws"
    } else {
        "lambda"
    };
    let mode = if lambda_key == "lambda_aws" {
        "AWS mode (INFRASTRUCTURE_PROVIDER=aws against moto)"
    } else {
        "local mode (no emulator was available)"
    };
    let mut measurements = json!({
        "sample": false,
        "lambda_init_ms": median(lambda_key, "ms"),
        "lambda_peak_rss_mb": median(lambda_key, "peak_rss_mib"),
        "machine": format!("{} cores, {}", machine["cores"], machine["cpu_model"].as_str().unwrap_or("unknown")),
        "commit": machine["git_commit"],
        "sources": {
            "lambda_init_ms": format!(
                "COLD_START_REPETITIONS={repetitions} cargo bench --bench cold_start: the median of \
                 apuntador-lambda in {mode}, spawn to the response to its first HTTP API v2 GET /health event"
            ),
            "lambda_peak_rss_mb": format!(
                "the same run: the median VmHWM of apuntador-lambda in {mode} right after its first response"
            ),
        },
    });
    if let Some(handler_ms) = criterion_lambda_handler_ms() {
        measurements["lambda_handler_ms"] = json!(handler_ms);
        measurements["sources"]["lambda_handler_ms"] = json!(
            "cargo bench --bench latency: the mean over the endpoints of the medians of criterion's \
             lambda_handler/http_v2/*"
        );
    }
    let document = json!({
        "schema": "apuntador-bench-results/1",
        "created_unix": now,
        "machine": machine,
        "binaries": {
            "server": server.display().to_string(),
            "lambda": lambda.display().to_string(),
            "bare_axum": bare_axum.display().to_string(),
            "bare_lambda": bare_lambda.display().to_string(),
        },
        "measurements": measurements,
        "cold_start": {
            "repetitions": repetitions,
            "what": "server variants: spawn to first 200 on GET /health over 127.0.0.1; lambda variants: spawn to the response of one HTTP API v2 GET /health event via the Rust Runtime API emulator; lambda_aws: INFRASTRUCTURE_PROVIDER=aws against moto; lambda_otel: OTEL_ENABLED=true exporting OTLP/HTTP to a live receiver on 127.0.0.1 (the first invocation's flush included); peak RSS is VmHWM after the first answer",
            "figures": figures,
            "ratios_of_medians": ratios,
        },
    });
    let out_dir = target_dir().join("measurements");
    std::fs::create_dir_all(&out_dir).expect("create target/measurements");
    let out = out_dir.join(format!("results-{now}.json"));
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&document).expect("JSON") + "\n",
    )
    .expect("write the results file");
    println!("cold_start: wrote {}", out.display());
}

/// The moto server AWS mode runs against: the caller's (`$AWS_ENDPOINT_URL`) or one started here.
struct Moto {
    endpoint: String,
    child: Option<std::process::Child>,
}

impl Moto {
    /// `None` (AWS mode skipped) only in test mode without an emulator.
    fn start(bench_mode: bool) -> Option<Moto> {
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL")
            && !endpoint.is_empty()
        {
            return Some(Moto {
                endpoint,
                child: None,
            });
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let server = root.join("target/tools/moto/bin/moto_server");
        if !server.is_file() {
            if !bench_mode {
                println!("cold_start: no AWS_ENDPOINT_URL and no moto installed: AWS mode skipped");
                return None;
            }
            // scripts/with-moto installs the pinned moto (and runs `true` against it).
            let status = Command::new("bash")
                .arg(root.join("scripts/with-moto"))
                .arg("true")
                .status()
                .expect("run scripts/with-moto");
            assert!(status.success(), "scripts/with-moto could not install moto");
        }
        let port = free_port();
        let log = std::fs::File::create(target_dir().join(format!("moto-cold-start-{port}.log")))
            .expect("moto log file");
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start moto_server");
        let mut moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while http_status(addr, "/moto-api/") != Some(200) {
            if let Some(child) = moto.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("moto_server exited during start-up ({status})");
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "moto_server did not answer within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `$CARGO_TARGET_DIR`, or `target` under the package.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The free loopback port the server is told to use.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("address").port()
}

/// One `GET /health` on a fresh connection; the status code, if the server answered.
fn health_status(addr: SocketAddr) -> Option<u16> {
    http_status(addr, "/health")
}

/// One `GET path` on a fresh connection; the status code, if the server answered.
fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()?;
    stream.set_nodelay(true).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// `VmHWM` of `pid` in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn server_cold_start(binary: &Path) -> Sample {
    let dir = tempfile::Builder::new()
        .prefix("apuntador-cold-start-")
        .tempdir()
        .expect("temporary directory");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("create DATA_DIR");
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("DATA_DIR", &data_dir)
        .env("LOG_LEVEL", "warn")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
    let elapsed = loop {
        if health_status(addr) == Some(200) {
            break started.elapsed();
        }
        if let Some(status) = child.try_wait().expect("poll the server") {
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            panic!(
                "{} exited ({status}) before answering:\n{log}",
                binary.display()
            );
        }
        if started.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} did not answer 200 on /health within {START_TIMEOUT:?}",
                binary.display()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let peak = peak_rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    Sample {
        ms: elapsed.as_secs_f64() * 1000.0,
        peak_rss_kib: peak,
    }
}

/// The HTTP API (payload 2.0) `GET /health` event.
fn health_event() -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/health",
        "rawQueryString": "",
        "headers": {"host": "apuntador.test", "accept": "application/json", "user-agent": "apuntador-bench/1"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api",
            "domainName": "api.example.execute-api.us-east-1.amazonaws.com", "domainPrefix": "api",
            "http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.1", "userAgent": "apuntador-bench/1"},
            "requestId": "MIZRNhJtIAMEMDw=", "routeKey": "$default", "stage": "$default",
            "time": "28/Nov/2026:06:37:46 +0000", "timeEpoch": 1795848000000i64
        },
        "isBase64Encoded": false
    })
}

/// A live OTLP/HTTP receiver on loopback that accepts every export (`200`, empty response message);
/// returns its endpoint.
async fn otlp_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the OTLP receiver");
    let addr = listener.local_addr().expect("receiver address");
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(|body: axum::body::Bytes| async move {
            std::hint::black_box(body.len());
            (
                [("content-type", "application/x-protobuf")],
                Vec::<u8>::new(),
            )
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn lambda_cold_start(binary: &Path, extra_env: &[(&str, &str)]) -> Sample {
    let api = RuntimeApi::start().await;
    let event = health_event();
    let started = Instant::now();
    let process = LambdaProcess::spawn_binary(binary, &api.runtime_api_env(), extra_env);
    let answer = api.invoke(event, START_TIMEOUT).await;
    let elapsed = started.elapsed();
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => panic!(
            "{} gave no response: {error:?}\nstderr:\n{}",
            binary.display(),
            process.stderr()
        ),
    };
    assert_eq!(
        answer["statusCode"],
        200,
        "{} answered {answer}",
        binary.display()
    );
    let peak = peak_rss_kib(process.id());
    drop(process);
    Sample {
        ms: elapsed.as_secs_f64() * 1000.0,
        peak_rss_kib: peak,
    }
}

/// Linear-interpolated quantile of sorted `values`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// Median and spread of `values`, plus the raw samples in run order.
fn stats(values: Vec<f64>) -> Value {
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    json!({
        "n": values.len(),
        "median": quantile(&sorted, 0.5),
        "min": sorted[0],
        "p25": quantile(&sorted, 0.25),
        "p75": quantile(&sorted, 0.75),
        "max": sorted[sorted.len() - 1],
        "samples": values,
    })
}

/// Cores, CPU model, kernel and commit.
fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown".to_owned(), |(_, model)| model.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    let dirty = git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    json!({
        "cores": cores,
        "cpu_model": cpu_model,
        "kernel": kernel,
        "git_commit": commit,
        "git_dirty": dirty,
    })
}

/// Mean of criterion's median estimates for `lambda_handler/http_v2/*` (the request mix), in ms.
/// Criterion stores `group/a/b` as `target/criterion/group/a_b`.
fn criterion_lambda_handler_ms() -> Option<f64> {
    let dir = target_dir().join("criterion/lambda_handler");
    let mut medians = Vec::new();
    for entry in std::fs::read_dir(dir).ok()? {
        let entry = entry.ok()?;
        if !entry.file_name().to_string_lossy().starts_with("http_v2_") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path().join("new/estimates.json")) else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).ok()?;
        if let Some(ns) = value["median"]["point_estimate"].as_f64() {
            medians.push(ns / 1e6);
        }
    }
    (!medians.is_empty()).then(|| medians.iter().sum::<f64>() / medians.len() as f64)
}
