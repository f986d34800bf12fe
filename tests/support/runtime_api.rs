//! An in-repo emulator of the AWS Lambda Runtime API (the `2018-06-01` interface a custom runtime such
//! as `lambda_runtime` polls), plus [`LambdaProcess`], which runs the real `apuntador-lambda` binary
//! against it.
//!
//! The emulator is an HTTP/1.1 server on `127.0.0.1:0` serving the four routes a runtime uses:
//!
//! * `GET /2018-06-01/runtime/invocation/next` waits for a queued event and answers it with the
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn` and (unless disabled) `Lambda-Runtime-Trace-Id` headers;
//! * `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error` complete an invocation;
//! * `POST /2018-06-01/runtime/init/error` records an initialisation failure ([`RuntimeApi::init_errors`]).
//!
//! [`RuntimeApi::invoke`] queues an event and awaits what the function posts back, like a synchronous
//! `Invoke` call. Invocations are served in order, one at a time per polling runtime.
//!
//! The `Lambda-Runtime-Trace-Id` header matters: `lambda_http` copies it over the request's
//! `X-Amzn-Trace-Id` header, so it decides the answer's `X-Trace-ID`. [`RuntimeApi::invoke`]
//! sends the event's own `x-amzn-trace-id` header value (as X-Ray does when the front door is traced),
//! or a fresh random one when the event has none; [`RuntimeApi::invoke_traced`] chooses it explicitly.
//!
//! The file is self-contained (axum, hyper, hyper-util, tokio, serde_json, rand and tempfile only) so
//! benches can include it with `#[path = "../tests/support/runtime_api.rs"] mod runtime_api;`.
//! Loopback only; nothing here talks to AWS.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

/// The function name every helper here uses (`AWS_LAMBDA_FUNCTION_NAME`, the ARN).
pub const FUNCTION_NAME: &str = "apuntador-lambda";

/// The ARN sent as `Lambda-Runtime-Invoked-Function-Arn`.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:apuntador-lambda";

/// Largest request or response payload Lambda accepts (6 MB), plus headroom for the emulator.
const PAYLOAD_LIMIT: usize = 7 * 1024 * 1024;

/// Why [`RuntimeApi::invoke`] produced no response.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeError {
    /// Nothing was posted back within the timeout (the event may still be queued or running).
    Timeout(Duration),
    /// The runtime posted to `/invocation/{id}/error`.
    Function(RuntimeError),
    /// The runtime posted to `/init/error` while this invocation was pending.
    Init(RuntimeError),
    /// The runtime posted a response that is not JSON.
    NotJson(String),
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::Timeout(t) => write!(f, "no response within {t:?}"),
            InvokeError::Function(e) => write!(f, "function error: {e}"),
            InvokeError::Init(e) => write!(f, "init error: {e}"),
            InvokeError::NotJson(body) => write!(f, "response is not JSON: {body:?}"),
        }
    }
}

impl std::error::Error for InvokeError {}

/// An error document a runtime posted (`/invocation/{id}/error` or `/init/error`).
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeError {
    /// The `Lambda-Runtime-Function-Error-Type` header, when sent.
    pub error_type: Option<String>,
    /// The posted body: JSON when it parses (`{"errorType":…,"errorMessage":…}`), else a string.
    pub body: Value,
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            self.error_type.as_deref().unwrap_or("(no error type)"),
            self.body
        )
    }
}

/// How an invocation ended, as posted by the runtime.
enum Outcome {
    Response(Bytes),
    Error(RuntimeError),
    Init(RuntimeError),
}

/// An event waiting for `GET /invocation/next`.
#[derive(Clone)]
struct Queued {
    request_id: String,
    deadline_ms: u128,
    trace_id: Option<String>,
    event: Bytes,
}

struct Shared {
    queue_tx: mpsc::UnboundedSender<Queued>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_errors: Mutex<Vec<RuntimeError>>,
    init_error_posted: Notify,
    next_polls: AtomicUsize,
    /// Bumped by every `/next` poll: a runtime polls again only after answering, so a newer poll means
    /// the older poller is gone (its process was killed) and must let go of the queue.
    poll_generation: AtomicUsize,
    new_poller: Notify,
    /// The event delivered last and not yet answered; redelivered to the next poller, since a new poll
    /// while it is unanswered means the process it went to died.
    in_flight: Mutex<Option<Queued>>,
    delivered: AtomicUsize,
    responses: AtomicUsize,
    errors: AtomicUsize,
}

/// A running Runtime API emulator; stops (and drops its connections) when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts the emulator on an ephemeral loopback port. Must run inside a Tokio runtime.
    pub async fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API emulator on 127.0.0.1");
        let addr = listener.local_addr().expect("emulator address");
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            waiting: Mutex::new(HashMap::new()),
            init_errors: Mutex::new(Vec::new()),
            init_error_posted: Notify::new(),
            next_polls: AtomicUsize::new(0),
            poll_generation: AtomicUsize::new(0),
            new_poller: Notify::new(),
            in_flight: Mutex::new(None),
            delivered: AtomicUsize::new(0),
            responses: AtomicUsize::new(0),
            errors: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(post_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(post_error),
            )
            .route("/2018-06-01/runtime/init/error", post(post_init_error))
            .layer(DefaultBodyLimit::max(PAYLOAD_LIMIT))
            .with_state(shared.clone());
        let server = tokio::spawn(accept_loop(listener, app));
        RuntimeApi {
            addr,
            shared,
            server,
        }
    }

    /// Where the emulator listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`host:port`, no scheme).
    pub fn runtime_api_env(&self) -> String {
        self.addr.to_string()
    }

    /// Queues `event` and waits up to `timeout` for the function's response, parsed as JSON.
    ///
    /// `Lambda-Runtime-Trace-Id` carries the event's `x-amzn-trace-id` header (from `headers` or
    /// `multiValueHeaders`), or a fresh random X-Ray header when the event has none.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Result<Value, InvokeError> {
        let trace_id = event_trace_header(&event).unwrap_or_else(random_trace_header);
        self.invoke_traced(event, Some(trace_id), timeout).await
    }

    /// Like [`RuntimeApi::invoke`], with an explicit `Lambda-Runtime-Trace-Id` (`None`: no header).
    pub async fn invoke_traced(
        &self,
        event: Value,
        trace_id: Option<String>,
        timeout: Duration,
    ) -> Result<Value, InvokeError> {
        let body = self
            .invoke_raw(
                Bytes::from(serde_json::to_vec(&event).expect("event serialises")),
                trace_id,
                timeout,
            )
            .await?;
        serde_json::from_slice(&body)
            .map_err(|_| InvokeError::NotJson(String::from_utf8_lossy(&body).into_owned()))
    }

    /// Queues raw payload bytes and returns the raw response bytes.
    pub async fn invoke_raw(
        &self,
        event: Bytes,
        trace_id: Option<String>,
        timeout: Duration,
    ) -> Result<Bytes, InvokeError> {
        let request_id = random_request_id();
        let deadline_ms = now_ms() + timeout.as_millis();
        let (done_tx, done_rx) = oneshot::channel();
        lock(&self.shared.waiting).insert(request_id.clone(), done_tx);
        let queued = Queued {
            request_id: request_id.clone(),
            deadline_ms,
            trace_id,
            event,
        };
        self.shared
            .queue_tx
            .send(queued)
            .expect("the emulator owns its queue");
        let outcome = tokio::time::timeout(timeout, done_rx).await;
        lock(&self.shared.waiting).remove(&request_id);
        match outcome {
            Ok(Ok(Outcome::Response(body))) => Ok(body),
            Ok(Ok(Outcome::Error(e))) => Err(InvokeError::Function(e)),
            Ok(Ok(Outcome::Init(e))) => Err(InvokeError::Init(e)),
            Ok(Err(_)) | Err(_) => Err(InvokeError::Timeout(timeout)),
        }
    }

    /// Every `/init/error` posted so far, oldest first.
    pub fn init_errors(&self) -> Vec<RuntimeError> {
        lock(&self.shared.init_errors).clone()
    }

    /// Waits up to `timeout` for at least one `/init/error` and returns the first.
    pub async fn wait_for_init_error(&self, timeout: Duration) -> Option<RuntimeError> {
        let give_up = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.init_error_posted.notified();
            if let Some(first) = lock(&self.shared.init_errors).first() {
                return Some(first.clone());
            }
            if tokio::time::timeout_at(give_up, notified).await.is_err() {
                return None;
            }
        }
    }

    /// How many `GET /invocation/next` requests arrived (a sequential runtime polls once more than
    /// the invocations it has completed: it is waiting for the next one).
    pub fn next_polls(&self) -> usize {
        self.shared.next_polls.load(Ordering::SeqCst)
    }

    /// How many events were handed to a runtime.
    pub fn delivered(&self) -> usize {
        self.shared.delivered.load(Ordering::SeqCst)
    }

    /// How many `/invocation/{id}/response` posts were accepted.
    pub fn responses(&self) -> usize {
        self.shared.responses.load(Ordering::SeqCst)
    }

    /// How many `/invocation/{id}/error` posts were accepted.
    pub fn function_errors(&self) -> usize {
        self.shared.errors.load(Ordering::SeqCst)
    }

    /// Waits until a runtime is polling `/invocation/next` (its init phase is over), up to `timeout`.
    pub async fn wait_for_poll(&self, timeout: Duration) -> bool {
        let give_up = tokio::time::Instant::now() + timeout;
        while self.next_polls() == 0 {
            if tokio::time::Instant::now() >= give_up {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection task.
        self.server.abort();
    }
}

async fn accept_loop(listener: TcpListener, app: Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let service = TowerToHyperService::new(app.clone());
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.next_polls.fetch_add(1, Ordering::SeqCst);
    let me = shared.poll_generation.fetch_add(1, Ordering::SeqCst) + 1;
    shared.new_poller.notify_waiters();
    let redelivery = lock(&shared.in_flight)
        .take()
        .filter(|q| lock(&shared.waiting).contains_key(&q.request_id));
    let queued = match redelivery {
        Some(q) => Some(q),
        None => {
            let mut queue = shared.queue_rx.lock().await;
            loop {
                let superseded = shared.new_poller.notified();
                tokio::pin!(superseded);
                superseded.as_mut().enable();
                if shared.poll_generation.load(Ordering::SeqCst) != me {
                    // A newer poll exists, so this poller's process is gone: let go of the queue.
                    return StatusCode::GONE.into_response();
                }
                tokio::select! {
                    q = queue.recv() => match q {
                        // Skip events whose caller gave up (timed out) before any runtime asked.
                        Some(q) if !lock(&shared.waiting).contains_key(&q.request_id) => continue,
                        other => break other,
                    },
                    () = &mut superseded => continue,
                }
            }
        }
    };
    let Some(queued) = queued else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    *lock(&shared.in_flight) = Some(queued.clone());
    shared.delivered.fetch_add(1, Ordering::SeqCst);
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put("content-type", "application/json");
    put("lambda-runtime-aws-request-id", &queued.request_id);
    put(
        "lambda-runtime-deadline-ms",
        &queued.deadline_ms.to_string(),
    );
    put("lambda-runtime-invoked-function-arn", FUNCTION_ARN);
    if let Some(trace) = &queued.trace_id {
        put("lambda-runtime-trace-id", trace);
    }
    (StatusCode::OK, headers, queued.event).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn unknown_request(id: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "errorType": "InvalidRequestID",
            "errorMessage": format!("no pending invocation {id}"),
        })),
    )
        .into_response()
}

fn runtime_error(headers: &HeaderMap, body: &Bytes) -> RuntimeError {
    RuntimeError {
        error_type: headers
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(body).into_owned())),
    }
}

async fn post_response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let Some(done) = lock(&shared.waiting).remove(&id) else {
        return unknown_request(&id);
    };
    shared.responses.fetch_add(1, Ordering::SeqCst);
    let _ = done.send(Outcome::Response(body));
    accepted()
}

async fn post_error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(done) = lock(&shared.waiting).remove(&id) else {
        return unknown_request(&id);
    };
    shared.errors.fetch_add(1, Ordering::SeqCst);
    let _ = done.send(Outcome::Error(runtime_error(&headers, &body)));
    accepted()
}

async fn post_init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error = runtime_error(&headers, &body);
    lock(&shared.init_errors).push(error.clone());
    // Like Lambda, a failed init fails every pending invocation.
    let pending: Vec<_> = lock(&shared.waiting).drain().collect();
    for (_, done) in pending {
        let _ = done.send(Outcome::Init(error.clone()));
    }
    shared.init_error_posted.notify_waiters();
    accepted()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

fn random_request_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "{}-{}-{}-{}-{}",
        h(0..4),
        h(4..6),
        h(6..8),
        h(8..10),
        h(10..16)
    )
}

/// A fresh X-Ray trace header: `Root=1-<epoch seconds, 8 hex>-<24 random hex>;Sampled=0`.
pub fn random_trace_header() -> String {
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random: [u8; 12] = rand::random();
    let hex: String = random.iter().map(|x| format!("{x:02x}")).collect();
    format!("Root=1-{:08x}-{hex};Sampled=0", epoch as u32)
}

/// The `x-amzn-trace-id` header of an API Gateway / ALB / Function URL event, any letter case, from
/// `headers` or else `multiValueHeaders` (last value, as the single-value maps keep).
pub fn event_trace_header(event: &Value) -> Option<String> {
    let find = |map: &Value| {
        map.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-trace-id"))
            .map(|(_, v)| v.clone())
    };
    if let Some(Value::String(v)) = event.get("headers").and_then(find) {
        return Some(v);
    }
    match event.get("multiValueHeaders").and_then(find) {
        Some(Value::Array(values)) => values.last()?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The 32-hex `X-Trace-ID` the service derives from an X-Ray header `Root=1-<8 hex>-<24 hex>`.
pub fn xray_trace_id(header: &str) -> Option<String> {
    let root = header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root=1-"))?;
    let (time, id) = root.split_once('-')?;
    Some(format!("{time}{id}"))
}

/// Environment variables passed through to the spawned binary; everything else is cleared so a
/// developer's shell (e.g. `ENVIRONMENT=production`) cannot change the outcome of a test.
const PASSED_THROUGH: [&str; 6] = [
    "PATH",
    "HOME",
    "TMPDIR",
    "RUST_BACKTRACE",
    "LLVM_PROFILE_FILE",
    "CARGO_LLVM_COV_TARGET_DIR",
];

/// The real `apuntador-lambda` binary running against a [`RuntimeApi`]; killed when dropped.
///
/// It gets `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`,
/// `AWS_LAMBDA_FUNCTION_VERSION`, a temporary `DATA_DIR`, `LOG_LEVEL=warn` and the caller's extra
/// variables (which win). Its stdout and stderr go to files read by [`LambdaProcess::stdout`] and
/// [`LambdaProcess::stderr`].
pub struct LambdaProcess {
    child: Child,
    exit: Option<ExitStatus>,
    dir: tempfile::TempDir,
}

impl LambdaProcess {
    /// Spawns `apuntador-lambda` (as built by Cargo for this test or bench) against `api`.
    pub fn spawn(api: &RuntimeApi, extra_env: &[(&str, &str)]) -> LambdaProcess {
        LambdaProcess::spawn_binary(
            Path::new(env!("CARGO_BIN_EXE_apuntador-lambda")),
            &api.runtime_api_env(),
            extra_env,
        )
    }

    /// Spawns any Lambda binary against the Runtime API at `runtime_api` (`host:port`).
    pub fn spawn_binary(
        binary: &Path,
        runtime_api: &str,
        extra_env: &[(&str, &str)],
    ) -> LambdaProcess {
        LambdaProcess::spawn_program(binary, &[], runtime_api, extra_env)
    }

    /// Spawns `program args…` with the environment of [`LambdaProcess::spawn_binary`]: a Lambda binary
    /// run through a wrapper such as `strace`, whose last argument is then the binary.
    pub fn spawn_program(
        program: &Path,
        args: &[&std::ffi::OsStr],
        runtime_api: &str,
        extra_env: &[(&str, &str)],
    ) -> LambdaProcess {
        let binary = program;
        let dir = tempfile::Builder::new()
            .prefix("apuntador-lambda-")
            .tempdir()
            .expect("temporary directory");
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("create DATA_DIR");
        let stdout = std::fs::File::create(dir.path().join("stdout.log")).expect("stdout file");
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr file");
        let mut command = Command::new(binary);
        command
            .args(args)
            .env_clear()
            .envs(
                PASSED_THROUGH
                    .iter()
                    .filter_map(|name| Some((name, std::env::var_os(name)?))),
            )
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("DATA_DIR", &data_dir)
            .env("LOG_LEVEL", "warn")
            .envs(extra_env.iter().copied())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        LambdaProcess {
            child,
            exit: None,
            dir,
        }
    }

    /// The operating-system process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The process's `DATA_DIR`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The exit status, if the process has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("poll the child process");
        }
        self.exit
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.try_exit().is_none()
    }

    /// Waits up to `timeout` for the process to exit (without killing it).
    pub async fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let give_up = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            if tokio::time::Instant::now() >= give_up {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// For a binary spawned through a wrapper ([`LambdaProcess::spawn_program`] with `strace`): kills
    /// the wrapper's child processes by their pids (the wrapper then exits on its own, and `strace`
    /// writes out its log), and waits at most 10 s for the wrapper to exit.
    pub fn kill_traced(&mut self) -> Option<ExitStatus> {
        let pid = self.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for child in children.split_whitespace() {
            let _ = Command::new("kill")
                .args(["-KILL", child])
                .stderr(Stdio::null())
                .status();
        }
        let give_up = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < give_up {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Everything the process wrote to stdout so far (its JSON log lines).
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
