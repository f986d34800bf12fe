//! Where log lines go: stdout, written at once ([`LogWriter::Stdout`], the Lambda binary: every
//! line must be out before the invocation's response is returned, because the environment may
//! freeze right after), or through a queue drained by a background thread ([`LogWriter::buffered`],
//! the server binary).
//!
//! The server's writer keeps request threads off the `write(2)` path: a completion event
//! ([`super::completion::NAME`]) is appended to an in-memory queue and the writer thread empties the
//! queue into stdout in one write per batch, a few milliseconds after the first queued line. Every other
//! line (start-up, warnings, errors, panics, "stopped") is written at once, after whatever is queued, so
//! the order of lines on stdout is the order in which they were logged and nothing important waits.
//! [`flush`] empties the queue (the server calls it at shutdown through
//! [`super::otel::shutdown`]). The queue has no loss mode: above [`QUEUE_LIMIT`] bytes the logging
//! thread writes the queue itself.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer thread lets lines gather after the first one before writing them.
const BATCH_DELAY: Duration = Duration::from_millis(5);

/// Queued bytes above which the logging thread writes the queue itself instead of waiting.
const QUEUE_LIMIT: usize = 1 << 20;

/// The writer every log line of the process goes through.
#[derive(Clone, Debug)]
pub enum LogWriter {
    /// Straight to stdout, line by line.
    Stdout,
    /// Completion events queued for the background writer thread; other lines at once.
    Buffered(Arc<Queue>),
}

/// The process-wide queue, once [`LogWriter::buffered`] has created it.
static GLOBAL: OnceLock<Arc<Queue>> = OnceLock::new();

impl LogWriter {
    /// The process's queued writer to stdout, with its writer thread (created on the first call).
    pub fn buffered() -> LogWriter {
        let queue = GLOBAL.get_or_init(|| Queue::start(Box::new(io::stdout())));
        LogWriter::Buffered(queue.clone())
    }
}

/// Writes every queued line to stdout now (a no-op without a queued writer).
pub fn flush() {
    if let Some(queue) = GLOBAL.get() {
        queue.write_pending(&[]);
    }
}

/// The lines waiting for the writer thread, and where they go.
pub struct Queue {
    state: Mutex<State>,
    /// Signalled when the first line is queued while the writer thread waits.
    wake: Condvar,
    /// The output (stdout); held while writing, so batches and direct lines never interleave.
    sink: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct State {
    pending: Vec<u8>,
    thread_waiting: bool,
    no_thread: bool,
}

impl Queue {
    /// A queue writing to `sink`, with its writer thread.
    fn start(sink: Box<dyn Write + Send>) -> Arc<Queue> {
        let queue = Arc::new(Queue {
            state: Mutex::default(),
            wake: Condvar::new(),
            sink: Mutex::new(sink),
        });
        let drained = queue.clone();
        let spawned = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || drained.run());
        if spawned.is_err() {
            // Without a writer thread every line is written at once (see `push`).
            queue.lock().no_thread = true;
        }
        queue
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `line`; wakes the writer thread when it waits, or writes here when the queue is full.
    fn push(&self, line: &[u8]) {
        let mut state = self.lock();
        if state.no_thread || state.pending.len() + line.len() > QUEUE_LIMIT {
            drop(state);
            self.write_pending(line);
            return;
        }
        state.pending.extend_from_slice(line);
        if state.thread_waiting {
            state.thread_waiting = false;
            self.wake.notify_one();
        }
    }

    /// Writes the queue, then `line`, to the sink, in one call.
    fn write_pending(&self, line: &[u8]) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch = std::mem::take(&mut self.lock().pending);
        batch.extend_from_slice(line);
        if !batch.is_empty() {
            // A closed or full stdout cannot be reported anywhere; the lines are dropped.
            let _ = sink.write_all(&batch).and_then(|()| sink.flush());
        }
    }

    /// The writer thread: waits for a first line, lets more gather for [`BATCH_DELAY`], writes them all.
    fn run(&self) {
        loop {
            {
                let mut state = self.lock();
                while state.pending.is_empty() {
                    state.thread_waiting = true;
                    state = self
                        .wake
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
            std::thread::sleep(BATCH_DELAY);
            self.write_pending(&[]);
        }
    }
}

/// One line on its way out, as `tracing_subscriber` hands it over (one `write_all` per event).
#[derive(Debug)]
pub enum Line<'a> {
    /// Written to stdout at once.
    Stdout(io::Stdout),
    /// Queued for the writer thread.
    Queued(&'a Queue),
    /// Written at once, after the queued lines.
    AfterQueue(&'a Queue),
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Line::Stdout(stdout) => stdout.write(buf),
            Line::Queued(queue) => {
                queue.push(buf);
                Ok(buf.len())
            }
            Line::AfterQueue(queue) => {
                queue.write_pending(buf);
                Ok(buf.len())
            }
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Line::Stdout(stdout) => stdout.write_all(buf),
            _ => self.write(buf).map(|_| ()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Line::Stdout(stdout) => stdout.flush(),
            _ => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        match self {
            LogWriter::Stdout => Line::Stdout(io::stdout()),
            LogWriter::Buffered(queue) => Line::AfterQueue(queue),
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line<'a> {
        match self {
            LogWriter::Stdout => Line::Stdout(io::stdout()),
            LogWriter::Buffered(queue) if super::completion::is_completion(meta) => {
                Line::Queued(queue)
            }
            LogWriter::Buffered(queue) => Line::AfterQueue(queue),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A sink that keeps what it is given and counts the writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut inner = self.0.lock().unwrap();
            inner.0.extend_from_slice(buf);
            inner.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }
        fn writes(&self) -> usize {
            self.0.lock().unwrap().1
        }
    }

    #[test]
    fn queued_lines_come_out_before_a_direct_line_in_the_order_logged() {
        let sink = Sink::default();
        let queue = Queue::start(Box::new(sink.clone()));
        Line::Queued(&queue).write_all(b"one\n").unwrap();
        Line::Queued(&queue).write_all(b"two\n").unwrap();
        Line::AfterQueue(&queue).write_all(b"direct\n").unwrap();
        assert_eq!(sink.text(), "one\ntwo\ndirect\n");
        // One write for the three lines.
        assert_eq!(sink.writes(), 1);
    }

    #[test]
    fn the_writer_thread_writes_a_batch_of_queued_lines_in_one_write() {
        let sink = Sink::default();
        let queue = Queue::start(Box::new(sink.clone()));
        for n in 0..100 {
            Line::Queued(&queue)
                .write_all(format!("line {n}\n").as_bytes())
                .unwrap();
        }
        let started = Instant::now();
        while sink.text().lines().count() < 100 && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let text = sink.text();
        let expected: String = (0..100).map(|n| format!("line {n}\n")).collect();
        assert_eq!(text, expected);
        assert!(
            sink.writes() < 100,
            "{} writes for 100 lines",
            sink.writes()
        );
    }

    #[test]
    fn nothing_is_lost_when_the_queue_overflows() {
        let sink = Sink::default();
        let queue = Queue::start(Box::new(sink.clone()));
        let line = vec![b'x'; QUEUE_LIMIT / 2 + 1];
        Line::Queued(&queue).write_all(&line).unwrap();
        Line::Queued(&queue).write_all(&line).unwrap();
        let started = Instant::now();
        while sink.text().len() < 2 * line.len() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sink.text().len(), 2 * line.len());
    }
}
