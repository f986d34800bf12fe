//! A closed-loop HTTP/1.1 load generator that times every answer and keeps the latencies of accepted
//! (2xx) and shed (503) answers apart — the figure `scripts/bench-overload` needs and wrk cannot give,
//! since wrk keeps one latency histogram for every answer.
//!
//! Like `wrk -t<threads> -c<connections> -d<duration>`: each thread runs its share of the connections
//! on its own single-threaded runtime; every connection sends one request, reads the whole answer, and
//! sends the next at once (a client that ignores `Retry-After`, the worst case for the server). A
//! connection the server closes (or answers with `Connection: close`) is opened again. Only the
//! answers that complete within the duration count.
//!
//! ```text
//! overload-client --addr 127.0.0.1:8080 --path /oauth/authorize/googledrive --connections 500 \
//!     --threads 2 --duration 10 --body '{"...": "..."}' --header 'Accept: application/json'
//! ```
//!
//! Prints one line, `overload: requests=… accepted=… shed_503=… other=… socket_errors=… duration_us=…
//! p50_all_us=… p99_all_us=… p50_accepted_us=… p99_accepted_us=… p99_shed_us=…`. Loopback only: the
//! address must be a 127.0.0.0/8 one.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What one connection measured.
#[derive(Default)]
struct Tally {
    accepted: Vec<u32>,
    shed: Vec<u32>,
    other: Vec<u32>,
    socket_errors: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.accepted.extend(other.accepted);
        self.shed.extend(other.shed);
        self.other.extend(other.other);
        self.socket_errors += other.socket_errors;
    }
}

/// How long after the duration an unanswered request is waited for.
const GRACE: Duration = Duration::from_secs(30);

struct Options {
    addr: SocketAddr,
    request: Vec<u8>,
    connections: usize,
    threads: usize,
    duration: Duration,
}

fn main() {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("overload-client: {message}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let deadline = started + options.duration;
    let request: &'static [u8] = Vec::leak(options.request);
    let mut handles = Vec::new();
    for thread in 0..options.threads {
        // Spread the connections over the threads as evenly as they divide.
        let share = options.connections / options.threads
            + usize::from(thread < options.connections % options.threads);
        let addr = options.addr;
        handles.push(std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a single-threaded runtime");
            runtime.block_on(async move {
                let tasks: Vec<_> = (0..share)
                    .map(|_| tokio::spawn(connection(addr, request, deadline)))
                    .collect();
                let mut tally = Tally::default();
                // A connection ends with the first answer after the deadline; one the server never
                // answers is given up GRACE after it (and its unanswered request not counted).
                let give_up = tokio::time::Instant::from_std(deadline + GRACE);
                for task in tasks {
                    match tokio::time::timeout_at(give_up, task).await {
                        Ok(Ok(t)) => tally.merge(t),
                        Ok(Err(_)) => {}
                        Err(_) => tally.socket_errors += 1,
                    }
                }
                tally
            })
        }));
    }
    let mut tally = Tally::default();
    for handle in handles {
        if let Ok(t) = handle.join() {
            tally.merge(t);
        }
    }
    // Only answers received before the deadline count, so the duration is the counting window.
    report(tally, options.duration);
}

/// One connection's closed loop until `deadline`. No timer per request (it would cost the load
/// generator more CPU than the request itself): an answer that arrives after the deadline ends the
/// loop and is not counted.
async fn connection(addr: SocketAddr, request: &'static [u8], deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut buf = Vec::with_capacity(4096);
    'connect: while Instant::now() < deadline {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            tally.socket_errors += 1;
            // A refused connection is retried after a pause rather than in a tight loop.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        loop {
            let sent = Instant::now();
            if sent >= deadline {
                break 'connect;
            }
            let exchange = async {
                stream.write_all(request).await?;
                read_answer(&mut stream, &mut buf).await
            };
            match exchange.await {
                Err(_) => {
                    tally.socket_errors += 1;
                    continue 'connect;
                }
                Ok((status, close)) => {
                    let received = Instant::now();
                    if received > deadline {
                        break 'connect;
                    }
                    let micros = u32::try_from((received - sent).as_micros()).unwrap_or(u32::MAX);
                    match status {
                        200..=299 => tally.accepted.push(micros),
                        503 => tally.shed.push(micros),
                        _ => tally.other.push(micros),
                    }
                    if close {
                        continue 'connect;
                    }
                }
            }
        }
    }
    tally
}

/// Reads one answer: its status and whether the server closes the connection after it. The body is
/// read by `Content-Length` (the service always sends one for these routes).
async fn read_answer(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<(u16, bool)> {
    buf.clear();
    let head_end = loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            break end + 4;
        }
        read_more(stream, buf).await?;
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(invalid)?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let mut length = 0usize;
    let mut close = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().map_err(invalid)?;
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid("chunked answers are not supported"));
        }
    }
    while buf.len() < head_end + length {
        read_more(stream, buf).await?;
    }
    Ok((status, close))
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(error: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, error.to_string())
}

/// The `q` quantile (0–1) of sorted latencies, nearest rank; 0 when there are none.
fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(mut tally: Tally, elapsed: Duration) {
    tally.accepted.sort_unstable();
    tally.shed.sort_unstable();
    let mut all: Vec<u32> = tally
        .accepted
        .iter()
        .chain(&tally.shed)
        .chain(&tally.other)
        .copied()
        .collect();
    all.sort_unstable();
    println!(
        "overload: requests={} accepted={} shed_503={} other={} socket_errors={} duration_us={} \
         p50_all_us={} p99_all_us={} p50_accepted_us={} p99_accepted_us={} p99_shed_us={}",
        all.len(),
        tally.accepted.len(),
        tally.shed.len(),
        tally.other.len(),
        tally.socket_errors,
        elapsed.as_micros(),
        quantile(&all, 0.50),
        quantile(&all, 0.99),
        quantile(&tally.accepted, 0.50),
        quantile(&tally.accepted, 0.99),
        quantile(&tally.shed, 0.99),
    );
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut addr = None;
    let mut path = "/".to_owned();
    let mut method = "GET".to_owned();
    let mut body = None::<String>;
    let mut headers = Vec::new();
    let mut connections = 50usize;
    let mut threads = 2usize;
    let mut duration = Duration::from_secs(10);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => {
                let a: SocketAddr = value()?.parse().map_err(|e| format!("--addr: {e}"))?;
                let loopback = match a.ip() {
                    std::net::IpAddr::V4(ip) => ip.is_loopback(),
                    std::net::IpAddr::V6(ip) => ip.is_loopback(),
                };
                if !loopback {
                    return Err("--addr must be a loopback address".into());
                }
                addr = Some(a);
            }
            "--path" => path = value()?,
            "--method" => method = value()?,
            "--body" => body = Some(value()?),
            "--header" => headers.push(value()?),
            "--connections" => connections = number(&flag, &value()?)?,
            "--threads" => threads = number(&flag, &value()?)?,
            "--duration" => duration = Duration::from_secs(number(&flag, &value()?)? as u64),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let addr = addr.ok_or("--addr is required")?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for header in &headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    if let Some(body) = &body {
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    } else {
        request.push_str("\r\n");
    }
    if connections == 0 || threads == 0 {
        return Err("--connections and --threads must be at least 1".into());
    }
    Ok(Options {
        addr,
        request: request.into_bytes(),
        connections,
        threads: threads.min(connections),
        duration,
    })
}

fn number(flag: &str, value: &str) -> Result<usize, String> {
    value
        .parse()
        .map_err(|e| format!("{flag}: {value:?} is not a number ({e})"))
}
