//! The header-read timer of one connection ([`ConnectionTimer`]), given to hyper for its
//! header-read timeout.
//!
//! hyper starts a header-read timer each time it begins reading a request head, and on a keep-alive
//! connection it begins as soon as the previous answer is written. With tokio's timer each of these
//! is registered in the runtime's timer wheel when hyper first finds no head to read and removed
//! again when the head arrives, usually microseconds later: on `GET /health` that was about 2.5 % of the
//! instructions of a request. A [`ConnectionTimer`] keeps one tokio sleep per connection instead.
//! The sleep stays armed for the earliest deadline it was asked for; a later head read only compares
//! deadlines. When the sleep fires before the deadline of the head being read, it is re-armed for
//! that deadline, so a head still times out exactly at its own deadline. Deadlines only move forward
//! (each is "now + the same timeout"), so re-arming happens at most once per timeout period.
//!
//! Depends on hyper's `Timer` trait and tokio's timer only.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// The timer of one connection: give each connection its own (`http1::Builder::timer`).
#[derive(Debug, Clone, Default)]
pub struct ConnectionTimer {
    /// The connection's sleep, made when a head read first has to wait.
    armed: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
}

impl ConnectionTimer {
    /// A timer with nothing armed.
    pub fn new() -> ConnectionTimer {
        ConnectionTimer::default()
    }
}

impl Timer for ConnectionTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(Deadline {
            armed: Arc::clone(&self.armed),
            deadline: tokio::time::Instant::from_std(deadline),
        })
    }
}

/// One deadline of a connection: completes once `deadline` has passed.
struct Deadline {
    armed: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
    deadline: tokio::time::Instant,
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        // Only the connection's own task polls its deadlines, so the lock is never contended.
        let mut armed = self.armed.lock().unwrap_or_else(PoisonError::into_inner);
        let sleep = armed.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() > deadline {
            // Not the case with one timeout per connection; kept exact for any other use.
            sleep.as_mut().reset(deadline);
        }
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if sleep.deadline() >= deadline {
                return Poll::Ready(());
            }
            // An earlier head's deadline passed; this head's is later.
            sleep.as_mut().reset(deadline);
        }
    }
}

impl Sleep for Deadline {}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: Duration = Duration::from_millis(60);

    /// Polls `sleep` once: whether it completed.
    async fn poll_once(sleep: &mut Pin<Box<dyn Sleep>>) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx).is_ready())).await
    }

    #[tokio::test]
    async fn a_deadline_completes_when_it_has_passed_not_before() {
        let timer = ConnectionTimer::new();
        let start = Instant::now();
        timer.sleep(STEP).await;
        assert!(start.elapsed() >= STEP);
    }

    #[tokio::test]
    async fn a_later_deadline_is_not_cut_short_by_the_earlier_one_still_armed() {
        let timer = ConnectionTimer::new();
        let start = Instant::now();
        // The first head read waits (arming the sleep for start + STEP), then its head arrives.
        let mut first = timer.sleep_until(start + STEP);
        assert!(!poll_once(&mut first).await);
        drop(first);
        // The next head read starts later; its deadline is start + 3 STEP.
        timer.sleep_until(start + 3 * STEP).await;
        assert!(start.elapsed() >= 3 * STEP, "{:?}", start.elapsed());
    }

    #[tokio::test]
    async fn an_earlier_deadline_than_the_armed_one_completes_on_time() {
        let timer = ConnectionTimer::new();
        let start = Instant::now();
        let mut long = timer.sleep_until(start + Duration::from_secs(30));
        assert!(!poll_once(&mut long).await);
        drop(long);
        tokio::time::timeout(Duration::from_secs(5), timer.sleep_until(start + STEP))
            .await
            .expect("the earlier deadline completes, not the armed 30 s one");
        assert!(start.elapsed() >= STEP);
    }

    #[tokio::test]
    async fn connections_do_not_share_their_sleep() {
        let (a, b) = (ConnectionTimer::new(), ConnectionTimer::new());
        let start = Instant::now();
        let mut long = a.sleep_until(start + Duration::from_secs(30));
        assert!(!poll_once(&mut long).await);
        tokio::time::timeout(Duration::from_secs(5), b.sleep_until(start + STEP))
            .await
            .expect("the other connection's deadline is its own");
        assert!(!poll_once(&mut long).await);
    }
}
