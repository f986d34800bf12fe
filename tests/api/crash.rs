//! Crash consistency of issue-and-supersede: the real `apuntador-server` binary on a temporary
//! `DATA_DIR` takes bursts of concurrent enrolments and renewals for the same few devices and is killed
//! with SIGKILL at a random instant of each burst, then restarted, for many rounds; each round also
//! races enrolments of two devices that have no certificate yet. After every restart
//! the SQLite database is read directly: no device may have two active certificates, and every
//! certificate whose 201/200 reached the client must be stored, active or superseded.
//!
//! Rounds alternate at random between the default re-enrolment policy (a second enrolment is 409
//! `device_already_enrolled`) and `ENROLLMENT_REPLACE_ACTIVE=true` (enrolment supersedes), so both the
//! enrolment and the renewal paths supersede under fire. The randomness is seeded; the seed is printed
//! and `CRASH_TEST_SEED=<n>` repeats the same choices (the kill instants are then the same, the
//! scheduling of course not). Bounded: at most [`MAX_ROUNDS`] rounds and about [`BUDGET`] of wall time.

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const SERVER: &str = env!("CARGO_BIN_EXE_apuntador-server");

/// How many devices the bursts share.
const DEVICES: usize = 4;
/// Requests per burst.
const BURST: usize = 16;
/// At most this many kill-and-restart rounds...
const MAX_ROUNDS: usize = 100;
/// ...and no new round once this much time has passed.
const BUDGET: Duration = Duration::from_secs(40);
/// Fewer completed rounds than this means the test did not exercise anything worth trusting.
const MIN_ROUNDS: usize = 8;

/// A running server and its base URL.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Never leave a server behind, even when an assertion fails mid-round.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// Starts the server on `data_dir` and waits until `/health` answers.
async fn start(data_dir: &Path, work_dir: &Path, replace_active: bool) -> Server {
    let port = free_port();
    let child = Command::new(SERVER)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("DATA_DIR", data_dir)
        .env("LOG_LEVEL", "error")
        .env("CLIENT_CERT_SOURCES", "header")
        .env("ENROLLMENT_REPLACE_ACTIVE", replace_active.to_string())
        .current_dir(work_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let started = Instant::now();
    loop {
        if let Ok(answer) = client.get(format!("{}/health", server.base)).send().await
            && answer.status() == 200
        {
            return server;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not answer /health within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the invariant check found.
#[derive(Debug, Default)]
struct Census {
    records: usize,
    active: usize,
    devices: usize,
}

/// Reads the database directly and asserts the invariants; `acked` = every (device, serial) whose
/// success answer reached the client.
fn check(db: &Path, acked: &[(String, String)], round: usize) -> Census {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    let mut doubles = conn
        .prepare(
            "SELECT device_id, COUNT(*) FROM certificates WHERE revoked = 0
             GROUP BY device_id HAVING COUNT(*) > 1",
        )
        .expect("prepare");
    let doubles: Vec<(String, i64)> = doubles
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        doubles.is_empty(),
        "round {round}: devices with several active certificates: {doubles:?}"
    );
    for (device, serial) in acked {
        let row: Option<(bool, Option<String>)> = conn
            .query_row(
                "SELECT revoked, revocation_reason FROM certificates
                 WHERE device_id = ?1 AND serial = ?2",
                [device, serial],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .ok();
        match row {
            Some((false, _)) => {}
            Some((true, Some(reason))) if reason == "superseded" => {}
            other => panic!(
                "round {round}: certificate {serial} of {device} was answered to the client but is \
                 stored as {other:?}"
            ),
        }
    }
    let count = |sql: &str| -> usize {
        conn.query_row(sql, [], |row| row.get::<_, i64>(0))
            .map(|n| usize::try_from(n).unwrap_or(0))
            .expect("count")
    };
    Census {
        records: count("SELECT COUNT(*) FROM certificates"),
        active: count("SELECT COUNT(*) FROM certificates WHERE revoked = 0"),
        devices: count("SELECT COUNT(DISTINCT device_id) FROM certificates"),
    }
}

/// One request of a burst and how it ended.
enum Outcome {
    /// A certificate reached the client: (device, serial, PEM).
    Issued(String, String, String),
    /// An error answer: (status, error code).
    Refused(u16, String),
    /// The connection died with the server.
    Interrupted,
}

/// Sends one enrolment (no certificate) or renewal (with `current` in `X-Client-Cert`).
async fn send(
    client: reqwest::Client,
    base: String,
    device: String,
    csr: String,
    current: Option<(String, String)>,
    delay: Duration,
) -> Outcome {
    tokio::time::sleep(delay).await;
    let request = match &current {
        None => client
            .post(format!("{base}/device/enroll"))
            .json(&json!({"csr": csr, "device_id": device, "platform": "android"})),
        Some((pem, serial)) => client
            .post(format!("{base}/device/renew"))
            .header(
                "x-client-cert",
                percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC)
                    .to_string(),
            )
            .json(&json!({"csr": csr, "device_id": device, "old_serial": serial})),
    };
    let Ok(answer) = request.send().await else {
        return Outcome::Interrupted;
    };
    let status = answer.status().as_u16();
    let Ok(body) = answer.json::<Value>().await else {
        return Outcome::Interrupted;
    };
    if status == 200 || status == 201 {
        let serial = body["serial"].as_str().expect("serial").to_owned();
        let pem = body["certificate"]
            .as_str()
            .expect("certificate")
            .to_owned();
        Outcome::Issued(device, serial, pem)
    } else {
        let code = body["error"].as_str().unwrap_or_default().to_owned();
        Outcome::Refused(status, code)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_concurrent_enrolments_and_renewals_never_leaves_two_active_certificates() {
    let seed = std::env::var("CRASH_TEST_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test: seed {seed} (CRASH_TEST_SEED={seed} repeats the choices)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir: PathBuf = dir.path().join("data");
    let db = data_dir.join("apuntador.db");
    let csr = crate::openssl_csr::p256_csr();
    let devices: Vec<String> = (0..DEVICES).map(|i| format!("crash-device-{i}")).collect();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    // The last certificate each device was given, for renewals.
    let mut current: HashMap<String, (String, String)> = HashMap::new();
    let mut acked: Vec<(String, String)> = Vec::new();
    let mut requests = 0;
    let mut interrupted = 0;
    let mut refused: HashMap<(u16, String), usize> = HashMap::new();
    let started = Instant::now();
    let mut rounds = 0;
    while rounds < MAX_ROUNDS && started.elapsed() < BUDGET {
        rounds += 1;
        let replace_active = rng.random_bool(0.5);
        let server = start(&data_dir, dir.path(), replace_active).await;
        if rounds > 1 {
            check(&db, &acked, rounds);
        }
        let kill_after = Duration::from_millis(rng.random_range(0..120));
        // Two devices new in this round, enrolled concurrently from nothing, beside the shared ones.
        let fresh = [
            format!("crash-round-{rounds}-a"),
            format!("crash-round-{rounds}-b"),
        ];
        let tasks: Vec<_> = (0..BURST)
            .map(|i| {
                let device = if i % 3 == 0 {
                    fresh[rng.random_range(0..fresh.len())].clone()
                } else {
                    devices[rng.random_range(0..DEVICES)].clone()
                };
                let renewal = current
                    .get(&device)
                    .filter(|_| rng.random_bool(0.6))
                    .cloned();
                let delay = Duration::from_millis(rng.random_range(0..100));
                tokio::spawn(send(
                    client.clone(),
                    server.base.clone(),
                    device,
                    csr.clone(),
                    renewal,
                    delay,
                ))
            })
            .collect();
        tokio::time::sleep(kill_after).await;
        let mut server = server;
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reaped");
        drop(server);
        for task in tasks {
            requests += 1;
            match task.await.expect("task") {
                Outcome::Issued(device, serial, pem) => {
                    acked.push((device.clone(), serial.clone()));
                    current.insert(device, (pem, serial));
                }
                Outcome::Refused(status, code) => {
                    let expected = matches!(
                        (status, code.as_str()),
                        (
                            409,
                            "device_already_enrolled"
                                | "enrollment_conflict"
                                | "certificate_superseded"
                        ) | (403, "certificate_revoked")
                            | (503, "store_unavailable")
                    );
                    assert!(
                        expected,
                        "round {rounds}: unexpected answer {status} {code:?} (seed {seed})"
                    );
                    *refused.entry((status, code)).or_default() += 1;
                }
                Outcome::Interrupted => interrupted += 1,
            }
        }
    }
    // One more restart: the state the last kill left behind must hold the invariants too.
    let server = start(&data_dir, dir.path(), false).await;
    let census = check(&db, &acked, rounds + 1);
    drop(server);

    let mut refused: Vec<_> = refused.into_iter().collect();
    refused.sort();
    eprintln!(
        "crash test: seed {seed}, {rounds} rounds (SIGKILL + restart each) in {:.1} s, {requests} \
         requests: {} certificates answered, {interrupted} cut off by the kill, refused {refused:?}; \
         after the last restart {} records, {} active over {} devices; invariants held after every \
         restart",
        started.elapsed().as_secs_f64(),
        acked.len(),
        census.records,
        census.active,
        census.devices,
    );
    assert!(
        rounds >= MIN_ROUNDS,
        "only {rounds} rounds ran within the budget"
    );
    assert!(!acked.is_empty(), "no request ever succeeded");
    assert!(interrupted > 0, "no kill ever landed during a burst");
    assert!(census.active <= census.devices);
}
