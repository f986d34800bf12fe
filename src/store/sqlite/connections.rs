//! The connections of the SQLite store: one writer thread that owns the only write connection and
//! commits queued writes in groups, and a small pool of read connections (WAL lets them read while the
//! writer writes).
//!
//! Group commit: a write is a closure queued on a bounded channel. The writer thread takes the first
//! waiting write and every write queued behind it (at most [`MAX_BATCH`]), runs them in order inside
//! one `BEGIN IMMEDIATE` transaction — each inside its own savepoint — commits once, and only then
//! answers each caller through its oneshot channel. One commit (one WAL sync) serves the whole group,
//! so the number of writes per second no longer falls as callers pile up: the more callers wait, the
//! larger the group. Each write still sees the writes queued before it, exactly as if they had run one
//! by one.
//!
//! Nothing is half stored, and no write fails because of another: a write that returns an error (or
//! panics) is rolled back to its savepoint and answered with its error while the others of its group
//! commit. Should SQLite roll back the whole transaction itself (an I/O error, a full disk), every write
//! of the group that had succeeded is answered with an error, since none of them is stored; the writes
//! after it start a new transaction. A caller is told "done" only after the commit that holds its write.
//!
//! The queue is bounded ([`WRITE_QUEUE`]): when it is full the store is saturated, and a write is
//! refused at once with [`StoreError::Busy`] (answered 503 with `Retry-After`) instead of waiting behind
//! hundreds of others — under overload the accepted writes keep their latency. The writes waiting are
//! also counted ([`WriteBacklog`]), so that the server can refuse a write before reading its body.
//!
//! Checkpoints: in WAL mode a commit appends pages to the `-wal` file, and a checkpoint copies them
//! back into the database file. SQLite's default runs that copy on the committing connection every
//! 1,000 pages, so the writer thread stopped committing while it copied: about a quarter of its time
//! under sustained writes, and a pause for every write waiting behind it. Here a checkpointer thread,
//! with its own connection, copies the committed pages in parallel with the next commits; a passive
//! checkpoint never blocks the writer or a reader. The writer signals it each time the log has grown
//! by [`CHECKPOINT_EVERY_PAGES`] (SQLite's WAL hook reports the log's length after every commit), and
//! it makes at most one pass per [`CHECKPOINT_PAUSE`]: under sustained writes nearly every group
//! signals, while writes that come one at a time share a pass instead of each paying for one. The
//! writer keeps SQLite's automatic checkpoint at [`WRITER_CHECKPOINT_PAGES`] as the bound on the log:
//! when it comes due, the checkpointer has already copied all but the last pages (at most
//! [`CHECKPOINT_EVERY_PAGES`]), so the writer copies only those, and the log starts over from its
//! beginning at the next commit.
//!
//! This module must not depend on axum, on HTTP or on the AWS backend.

use std::cell::Cell;
use std::ffi::c_int;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use rusqlite::hooks::Wal;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, oneshot};

use super::{BUSY_TIMEOUT, PURGE_INTERVAL, purge_expired, sql_error};
use crate::store::{StoreError, StoreResult, WriteBacklog};

/// Writes that may wait for the writer thread; beyond this a write is refused with [`StoreError::Busy`].
///
/// A full queue is one group of work ahead of a new write, besides the group being committed: a few
/// milliseconds. Under overload the requests admitted by load shedding (`MAX_CONCURRENT_REQUESTS`, 256
/// by default) would otherwise all wait here, and an accepted write would wait for all of them; 64
/// keeps groups large, and is above the writes that 50 busy clients can have waiting at once.
pub(super) const WRITE_QUEUE: usize = 64;

/// The most writes committed in one transaction.
pub(super) const MAX_BATCH: usize = 64;

/// The shortest time between two checkpoint passes: under sustained writes a pass copies what the
/// groups committed during the pause, so the database file is synced about 200 times a second at most.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(5);

/// How much the log must have grown, in pages, since the writer last signalled the checkpointer
/// before it signals again (1 MiB). Writes that come one at a time then share a pass and its sync of
/// the database file, and a page they all change (an index's root) is copied once per pass rather
/// than once per commit; under sustained writes a group or two fills it, so nearly every group still
/// signals. When the writer's own checkpoint comes due, at most this much is left for it to copy.
const CHECKPOINT_EVERY_PAGES: c_int = 256;

/// The log's length, in pages, at which the writer checkpoints by itself: SQLite's default automatic
/// checkpoint, which the writer's WAL hook replaces. It bounds the log should the checkpointer fall
/// behind.
const WRITER_CHECKPOINT_PAGES: c_int = 1000;

/// Read connections open at once (reads beyond this wait for one to be free).
const MAX_READERS: usize = 4;

/// The savepoint each write runs in.
const SAVEPOINT: &str = "SAVEPOINT store_write";
const RELEASE: &str = "RELEASE store_write";
const ROLLBACK_TO: &str = "ROLLBACK TO store_write";

/// The writer thread's queue and the pool of read connections.
pub(super) struct Connections {
    writes: SyncSender<Box<dyn QueuedWrite>>,
    /// The writes in `writes`, counted for callers that want to know before they queue one.
    backlog: WriteBacklog,
    writer_alive: Arc<AtomicBool>,
    readers: Arc<Readers>,
}

impl Connections {
    /// Starts the writer thread on `writer` (an open, migrated connection to `path`); read connections
    /// to `path` are opened when first needed.
    pub(super) fn start(writer: Connection, path: &Path) -> StoreResult<Connections> {
        let (writes, queue) = std::sync::mpsc::sync_channel(WRITE_QUEUE);
        let backlog = WriteBacklog::new(WRITE_QUEUE);
        let taken = backlog.clone();
        let writer_alive = Arc::new(AtomicBool::new(true));
        let alive = Arc::clone(&writer_alive);
        // One pending signal is enough: a pass copies everything committed before it starts.
        let (committed, signals) = std::sync::mpsc::sync_channel(1);
        let checkpointer = open_checkpointer(path)?;
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run_checkpointer(&checkpointer, &signals))
            .map_err(|error| {
                StoreError::Internal(format!("starting the database checkpoint thread: {error}"))
            })?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let _alive = AliveFlag(alive);
                run_writer(&writer, &queue, &taken, &committed);
            })
            .map_err(|error| {
                StoreError::Internal(format!("starting the database writer thread: {error}"))
            })?;
        Ok(Connections {
            writes,
            backlog,
            writer_alive,
            readers: Arc::new(Readers {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(MAX_READERS)),
            }),
        })
    }

    /// The writes waiting for the writer thread, against [`WRITE_QUEUE`].
    pub(super) fn backlog(&self) -> WriteBacklog {
        self.backlog.clone()
    }

    /// Queues `op` for the writer thread and waits until its group is committed.
    ///
    /// `op` runs inside a savepoint of the group's transaction: when it returns an error, whatever it
    /// wrote is rolled back and the error is returned; when it succeeds, its result is returned once
    /// the transaction is committed (or the commit's error, and then nothing of it is stored).
    /// [`StoreError::Busy`] at once when [`WRITE_QUEUE`] writes are already waiting.
    pub(super) async fn write<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            op: Some(op),
            result: None,
            reply,
        };
        // Counted before it is sent, so that the writer never takes a write not yet counted.
        self.backlog.enqueue();
        match self.writes.try_send(Box::new(pending)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.backlog.dequeue();
                return Err(StoreError::Busy("the database write queue is full".into()));
            }
            Err(TrySendError::Disconnected(_)) => {
                self.backlog.dequeue();
                return Err(StoreError::Internal(
                    "the database writer thread has stopped".into(),
                ));
            }
        }
        answer.await.map_err(|_| {
            StoreError::Internal("the database writer dropped a write unanswered".into())
        })?
    }

    /// Runs `op` on a read connection on the blocking pool (never on the async workers).
    pub(super) async fn read<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        // The semaphore is never closed, so acquiring only waits.
        let permit = Arc::clone(&self.readers.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Internal("the read connections are closed".into()))?;
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            readers.with_connection(op)
        })
        .await
        .map_err(|_| StoreError::Internal("the store task failed".into()))?
    }

    /// Whether the writer thread is still running.
    pub(super) fn writer_alive(&self) -> bool {
        self.writer_alive.load(Ordering::Acquire)
    }
}

/// Clears the writer's liveness flag when the writer thread ends, however it ends.
struct AliveFlag(Arc<AtomicBool>);

impl Drop for AliveFlag {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

// ---------------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------------

/// Idle read connections, opened on demand, at most [`MAX_READERS`] in use at once.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    /// Runs `op` on an idle read connection (opening one when none is idle) and puts it back.
    fn with_connection<T>(&self, op: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        // A read runs no explicit transaction, so whatever `op` does (or a panic in it) leaves the
        // connection clean; a panic still drops it rather than reuse it.
        let result = op(&conn);
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
        result
    }
}

/// Opens a read connection: the same file, the same busy timeout, and `query_only` so that no
/// statement on it can write.
fn open_reader(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_error("opening a read connection"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sql_error("setting the busy timeout"))?;
    conn.pragma_update(None, "query_only", true)
        .map_err(sql_error("making a read connection read-only"))?;
    Ok(conn)
}

// ---------------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------------

/// A queued write, type-erased so writes of every result type share one queue.
trait QueuedWrite: Send {
    /// Runs the write on `conn` (inside the caller's savepoint) and keeps its result until the fate
    /// of the transaction is known; returns whether it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: its own error when it failed, else its result once `committed` is `Ok`.
    fn answer(self: Box<Self>, committed: StoreResult<()>);
    /// Answers the caller with `error` without running the write.
    fn fail(self: Box<Self>, error: StoreError);
}

/// A write operation, its result once it has run, and the channel its caller waits on.
struct Pending<T, F> {
    op: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> QueuedWrite for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(op) = self.op.take() else {
            return false;
        };
        // A panicking write is that write's failure, not the writer thread's: it is rolled back and
        // answered as an internal error, and the group carries on.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| op(conn))).unwrap_or_else(|_| {
            Err(StoreError::Internal(
                "a database write panicked and was rolled back".into(),
            ))
        });
        let succeeded = result.is_ok();
        self.result = Some(result);
        succeeded
    }

    fn answer(self: Box<Self>, committed: StoreResult<()>) {
        let answer = match (self.result, committed) {
            (Some(Err(error)), _) | (Some(Ok(_)), Err(error)) => Err(error),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, _) => Err(StoreError::Internal(
                "a database write was answered before it ran".into(),
            )),
        };
        // The caller may have given up (request timeout); the write stands either way.
        let _ = self.reply.send(answer);
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// The writer thread: waits for a write, takes the ones queued behind it, commits them as one group,
/// and tells the checkpointer when the log has grown enough; purges expired rows first when due.
/// Ends when every [`Connections`] is dropped, and the checkpointer with it.
fn run_writer(
    conn: &Connection,
    queue: &Receiver<Box<dyn QueuedWrite>>,
    backlog: &WriteBacklog,
    committed: &SyncSender<()>,
) {
    conn.wal_hook(Some(after_commit));
    // The log's length when the checkpointer was last signalled.
    let mut signalled_at: c_int = 0;
    let mut last_purge = Instant::now();
    let mut group: Vec<Box<dyn QueuedWrite>> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = queue.recv() {
        if last_purge.elapsed() >= PURGE_INTERVAL {
            last_purge = Instant::now();
            if let Err(error) = purge_expired(conn, Utc::now()) {
                tracing::warn!(error = %error, "Purging expired store rows failed");
            }
        }
        backlog.dequeue();
        group.push(first);
        while group.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => {
                    backlog.dequeue();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        commit_group(conn, group.drain(..));
        let pages = LOG_PAGES.get();
        if pages < signalled_at {
            // The log has started over from its beginning.
            signalled_at = 0;
        }
        if pages - signalled_at >= CHECKPOINT_EVERY_PAGES {
            signalled_at = pages;
            // Full: a pass is already due and will copy these pages too.
            let _ = committed.try_send(());
        }
    }
}

thread_local! {
    /// The log's length in pages after the last commit of the writer's connection, as its WAL hook
    /// reported it (the hook runs on the writer thread, inside the commit).
    static LOG_PAGES: Cell<c_int> = const { Cell::new(0) };
}

/// The writer connection's WAL hook, called by SQLite after each commit with the log's length: keeps
/// the length for [`run_writer`], and checkpoints when the log reaches [`WRITER_CHECKPOINT_PAGES`],
/// as SQLite's automatic checkpoint would (passive, and its failure is not the commit's).
fn after_commit(wal: &Wal, pages: c_int) -> rusqlite::Result<()> {
    LOG_PAGES.set(pages);
    if pages >= WRITER_CHECKPOINT_PAGES {
        let _ = wal.checkpoint();
    }
    Ok(())
}

/// The checkpointer thread: at each signal of the writer, one passive checkpoint (it copies what it
/// can without waiting for the writer or a reader), then a [`CHECKPOINT_PAUSE`]. Ends when the writer
/// thread does.
fn run_checkpointer(conn: &Connection, committed: &Receiver<()>) {
    // A failure is logged once, not once per pass, until a pass succeeds again.
    let mut failing = false;
    while committed.recv().is_ok() {
        // The pragma answers (busy, pages in the log, pages copied); nothing here needs them.
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            Ok(()) => failing = false,
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(
                    error = %error,
                    "A database checkpoint failed; the writer still checkpoints when its log is due"
                );
            }
            Err(_) => {}
        }
        std::thread::sleep(CHECKPOINT_PAUSE);
    }
}

/// Opens the checkpointer's connection to `path` (which the writer has already created and migrated).
fn open_checkpointer(path: &Path) -> StoreResult<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_error("opening the checkpoint connection"))
}

/// Runs `group` in one transaction (a new one when SQLite rolls back the current one), each write in
/// its own savepoint, then commits and answers every caller.
fn commit_group(conn: &Connection, group: impl Iterator<Item = Box<dyn QueuedWrite>>) {
    // Writes that succeeded in the open transaction, waiting for its commit.
    let mut uncommitted: Vec<Box<dyn QueuedWrite>> = Vec::new();
    let mut open = false;
    let mut group = group.peekable();
    while let Some(mut write) = group.next() {
        if !open {
            if let Err(error) = execute(conn, "BEGIN IMMEDIATE") {
                // Another process holds the write lock past the busy timeout: nothing can be written.
                let error = sql_error("starting a transaction")(error);
                write.fail(error.clone());
                for write in group {
                    write.fail(error.clone());
                }
                return;
            }
            open = true;
        }
        if let Err(error) = execute(conn, SAVEPOINT) {
            let error = sql_error("starting a write")(error);
            abandon(conn, &mut uncommitted, &error);
            open = false;
            write.fail(error);
            continue;
        }
        let succeeded = write.run(conn);
        if conn.is_autocommit() {
            // SQLite rolled back the whole transaction itself: none of this group's writes so far is
            // stored.
            let error = StoreError::Internal(
                "a database write failed and its transaction was rolled back".into(),
            );
            abandon(conn, &mut uncommitted, &error);
            open = false;
            write.answer(Err(error));
            continue;
        }
        let ended = if succeeded {
            execute(conn, RELEASE)
        } else {
            execute(conn, ROLLBACK_TO).and_then(|()| execute(conn, RELEASE))
        };
        match ended {
            Ok(()) if succeeded => uncommitted.push(write),
            // The write's own error; its changes are rolled back, the others' are untouched.
            Ok(()) => write.answer(Ok(())),
            Err(error) => {
                let error = sql_error("ending a write")(error);
                abandon(conn, &mut uncommitted, &error);
                open = false;
                write.answer(Err(error));
            }
        }
    }
    if open {
        let committed = execute(conn, "COMMIT").map_err(sql_error("committing a transaction"));
        if committed.is_err() && !conn.is_autocommit() {
            let _ = execute(conn, "ROLLBACK");
        }
        for write in uncommitted {
            write.answer(committed.clone());
        }
    }
}

/// Rolls back the open transaction (when SQLite has not already) and answers every write that had
/// succeeded in it with `error`: none of them is stored.
fn abandon(conn: &Connection, uncommitted: &mut Vec<Box<dyn QueuedWrite>>, error: &StoreError) {
    if !conn.is_autocommit() {
        let _ = execute(conn, "ROLLBACK");
    }
    for write in uncommitted.drain(..) {
        write.answer(Err(error.clone()));
    }
}

/// Runs one statement without parameters through the statement cache.
fn execute(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn open(dir: &Path) -> (Connections, PathBuf) {
        let path = dir.join("test.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY NOT NULL, v INTEGER NOT NULL)")
            .unwrap();
        (Connections::start(conn, &path).unwrap(), path)
    }

    fn insert(conn: &Connection, k: &str, v: i64) -> StoreResult<()> {
        conn.execute(
            "INSERT INTO t (k, v) VALUES (?1, ?2)",
            rusqlite::params![k, v],
        )
        .map(drop)
        .map_err(|e| StoreError::Conflict(e.to_string()))
    }

    /// Occupies the writer thread with a write that waits until the returned sender sends (or 10 s),
    /// so that writes queued meanwhile wait behind it; the handle answers that write.
    async fn hold_writer(
        connections: &Arc<Connections>,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<StoreResult<()>>,
    ) {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let holder = {
            let connections = Arc::clone(connections);
            tokio::spawn(async move {
                connections
                    .write(move |_| {
                        let _ = wait.recv_timeout(Duration::from_secs(10));
                        Ok(())
                    })
                    .await
            })
        };
        // Give the writer thread time to take the holding write.
        tokio::time::sleep(Duration::from_millis(50)).await;
        (release, holder)
    }

    /// The number `sql` selects, read through a read connection.
    async fn read_number(connections: &Connections, sql: &'static str) -> i64 {
        connections
            .read(move |conn| {
                conn.query_row(sql, [], |row| row.get(0))
                    .map_err(|e| StoreError::Internal(e.to_string()))
            })
            .await
            .unwrap()
    }

    /// Opens the store in a new directory, notes the database file's length, then commits `rows`
    /// rows of about 4,000 bytes (a page each), one write at a time. Returns the directory (to keep
    /// it), the connections, the database file and its length before the writes.
    async fn commit_pages(rows: i64) -> (tempfile::TempDir, Connections, PathBuf, u64) {
        let dir = tempfile::tempdir().unwrap();
        let (connections, path) = open(dir.path());
        let before = std::fs::metadata(&path).unwrap().len();
        for i in 0..rows {
            connections
                .write(move |conn| {
                    conn.execute(
                        "INSERT INTO t (k, v) VALUES (?1, printf('%.4000c', 'x'))",
                        [i.to_string()],
                    )
                    .map(drop)
                    .map_err(|e| StoreError::Internal(e.to_string()))
                })
                .await
                .unwrap();
        }
        (dir, connections, path, before)
    }

    fn count(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_in_a_group_rolls_back_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (connections, path) = open(dir.path());
        let connections = Arc::new(connections);
        // Hold the writer so that the next writes queue up and commit as one group.
        let (release, holder) = hold_writer(&connections).await;
        let mut writes = Vec::new();
        for i in 0..10_i64 {
            let connections = Arc::clone(&connections);
            writes.push(tokio::spawn(async move {
                connections
                    .write(move |conn| {
                        insert(conn, &format!("k{i}"), i)?;
                        if i % 3 == 0 {
                            // Half written, then failing: the savepoint must undo the first insert.
                            insert(conn, &format!("k{i}"), i)?;
                        }
                        Ok(i)
                    })
                    .await
            }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let panicking = {
            let connections = Arc::clone(&connections);
            tokio::spawn(async move {
                connections
                    .write(|conn| -> StoreResult<()> {
                        insert(conn, "panicked", 0)?;
                        panic!("a write that panics");
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        let mut ok = 0;
        for (i, write) in writes.into_iter().enumerate() {
            let result = write.await.unwrap();
            if i % 3 == 0 {
                assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
            } else {
                assert_eq!(result.unwrap(), i as i64);
                ok += 1;
            }
        }
        assert!(matches!(
            panicking.await.unwrap(),
            Err(StoreError::Internal(_))
        ));
        assert_eq!(count(&path), ok);
        // The writer survived the panic.
        assert!(connections.writer_alive());
        connections
            .write(|conn| insert(conn, "after", 1))
            .await
            .unwrap();
        assert_eq!(count(&path), ok + 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_beyond_a_full_queue_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (connections, _path) = open(dir.path());
        let connections = Arc::new(connections);
        let backlog = connections.backlog();
        let (release, holder) = hold_writer(&connections).await;
        assert!(
            !backlog.is_full(),
            "the write being committed is not waiting"
        );
        let queued: Vec<_> = (0..WRITE_QUEUE)
            .map(|i| {
                let connections = Arc::clone(&connections);
                tokio::spawn(async move {
                    connections
                        .write(move |conn| insert(conn, &format!("q{i}"), 1))
                        .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            backlog.is_full(),
            "what the server reads before a write's body"
        );
        let started = Instant::now();
        let refused = connections.write(|conn| insert(conn, "over", 1)).await;
        assert!(matches!(refused, Err(StoreError::Busy(_))), "{refused:?}");
        assert!(started.elapsed() < Duration::from_millis(50));
        assert!(backlog.is_full(), "a refused write is not counted");
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        for write in queued {
            write.await.unwrap().unwrap();
        }
        assert!(!backlog.is_full());
        // The count never falls below zero.
        let filler = WriteBacklog::new(1);
        filler.enqueue();
        filler.dequeue();
        filler.dequeue();
        assert!(!filler.is_full(), "never counts below zero");
        filler.enqueue();
        assert!(filler.is_full());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_see_every_answered_write_and_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let (connections, _path) = open(dir.path());
        connections
            .write(|conn| insert(conn, "a", 7))
            .await
            .unwrap();
        assert_eq!(
            read_number(&connections, "SELECT v FROM t WHERE k = 'a'").await,
            7
        );
        let write_on_reader = connections.read(|conn| insert(conn, "b", 1)).await;
        assert!(write_on_reader.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn committed_writes_are_checkpointed_into_the_database_file_before_the_log_is_due() {
        // Each commit adds about four pages to the log (the row's page, the key index's page, the
        // pages above them): about 800, below the 1,000 at which the writer would checkpoint itself,
        // so only the checkpointer can have copied the rows into the database file. It is signalled
        // every CHECKPOINT_EVERY_PAGES, so the last few dozen rows may still wait in the log.
        let (_dir, connections, path, before) = commit_pages(200).await;
        let grown = 120 * 4000;
        let waited = Instant::now();
        while std::fs::metadata(&path).unwrap().len() < before + grown {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "the database file stayed at {} bytes (it held {before} before the writes)",
                std::fs::metadata(&path).unwrap().len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The log was copied, not replaced: every row is readable.
        assert_eq!(
            read_number(&connections, "SELECT count(*) FROM t").await,
            200
        );
    }

    #[test]
    fn the_writer_checkpoints_by_itself_when_its_log_reaches_the_bound() {
        // The writer's WAL hook replaces SQLite's automatic checkpoint, so it must bound the log on
        // its own, without the checkpointer: one commit of 1,100 pages, and nothing else running.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.wal_hook(Some(after_commit));
        conn.execute_batch(
            "CREATE TABLE t (k TEXT PRIMARY KEY NOT NULL, v INTEGER NOT NULL);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1100)
             INSERT INTO t SELECT i || printf('%.4000c', 'x'), i FROM n;",
        )
        .unwrap();
        let copied = std::fs::metadata(&path).unwrap().len();
        assert!(
            copied >= 1100 * 4000,
            "the database file holds {copied} bytes: the log was not checkpointed"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_few_small_commits_wait_in_the_log_for_a_pass_they_share() {
        // Twenty commits of about four pages of log each: below CHECKPOINT_EVERY_PAGES.
        let (_dir, connections, path, before) = commit_pages(20).await;
        // A pass would have copied them into the database file within milliseconds.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(std::fs::metadata(&path).unwrap().len(), before);
        assert_eq!(
            read_number(&connections, "SELECT count(*) FROM t").await,
            20
        );
    }
}
