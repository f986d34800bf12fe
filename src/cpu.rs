//! CPU-heavy work off the async workers, with a bound on how much of it runs or waits at once.
//!
//! Signature checks of CSRs and client certificates, certificate signing and attestation verification
//! take from a fraction of a millisecond to tens of milliseconds of CPU each. Run on the async workers,
//! a handful of such requests would stall every other request on the same worker — `/health`
//! included. [`CpuPool::run`] moves a job to tokio's blocking threads, lets at most `MAX_CPU_JOBS` of
//! them run at once (by default one fewer than the cores, so one core is always left for the async
//! workers) and lets at most `MAX_QUEUED_CPU_JOBS` more wait; beyond that the job is refused at once
//! with [`CpuBusy`], which the HTTP layer answers 503 with `Retry-After`. A refused job costs nothing.
//!
//! A job keeps its slot until it finishes, even when the request that asked for it has given up
//! (timeout, closed connection): the CPU is busy until then. A panicking job resumes its panic in the
//! request, which the middleware turns into a 500 problem. No I/O and no axum here.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// The pool is full: `MAX_CPU_JOBS` jobs are running and `MAX_QUEUED_CPU_JOBS` are waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too much CPU-heavy work is running or waiting")]
pub struct CpuBusy;

/// Runs CPU-heavy jobs on blocking threads, at most `running` at once and `running + queued` admitted.
#[derive(Debug, Clone)]
pub struct CpuPool {
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
}

impl CpuPool {
    /// A pool that runs at most `running` jobs at once (at least 1) and lets `queued` more wait.
    pub fn new(running: usize, queued: usize) -> CpuPool {
        let running = running.max(1);
        CpuPool {
            running: Arc::new(Semaphore::new(running)),
            admitted: Arc::new(Semaphore::new(running.saturating_add(queued))),
        }
    }

    /// Runs `job` on a blocking thread once a slot is free; [`CpuBusy`] at once when the pool is full.
    ///
    /// # Panics
    ///
    /// Resumes the panic of a panicking `job`.
    pub async fn run<T, F>(&self, job: F) -> Result<T, CpuBusy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admission = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| CpuBusy)?;
        // The semaphore is never closed, so acquiring only waits.
        let slot = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| CpuBusy)?;
        let handle = tokio::task::spawn_blocking(move || {
            let _held = (admission, slot);
            job()
        });
        match handle.await {
            Ok(value) => Ok(value),
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            // Only a runtime shutting down cancels a blocking task.
            Err(_) => Err(CpuBusy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_beyond_the_running_and_queued_bound_are_refused_at_once() {
        let pool = CpuPool::new(1, 1);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        let first = {
            let pool = pool.clone();
            let wait = wait.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = wait.lock().unwrap().recv_timeout(Duration::from_secs(10));
                    1
                })
                .await
            })
        };
        // Let the first job take the running slot; the second then waits in the queue.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let second = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|| 2).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        assert_eq!(pool.run(|| 3).await, Err(CpuBusy));
        assert!(started.elapsed() < Duration::from_millis(50));
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(1));
        assert_eq!(second.await.unwrap(), Ok(2));
        assert_eq!(pool.run(|| 4).await, Ok(4));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_the_running_bound_execute_at_once() {
        let pool = CpuPool::new(2, 16);
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs: Vec<_> = (0..12)
            .map(|_| {
                let (pool, now, peak) = (pool.clone(), now.clone(), peak.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(10));
                        now.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for job in jobs {
            assert_eq!(job.await.unwrap(), Ok(()));
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_panicking_job_panics_in_the_caller_and_frees_its_slot() {
        let pool = CpuPool::new(1, 0);
        let caught = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| panic!("job failed")).await }
        })
        .await;
        assert!(caught.unwrap_err().is_panic());
        assert_eq!(pool.run(|| 5).await, Ok(5));
    }
}
