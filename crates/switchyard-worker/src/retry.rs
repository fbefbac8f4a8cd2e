//! Retrying calls to the bus and the store while they are unavailable: exponential backoff,
//! until the call succeeds, fails for good, a deadline passes, or the process stops.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;
use switchyard_bus::BusError;
use switchyard_store::StoreError;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::warn;

/// First pause after a retryable failure.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// Longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Errors that say whether a later attempt may succeed.
pub(crate) trait Transient: Display {
    fn transient(&self) -> bool;
}

impl Transient for StoreError {
    fn transient(&self) -> bool {
        self.is_retryable()
    }
}

impl Transient for BusError {
    fn transient(&self) -> bool {
        self.is_retryable()
    }
}

/// Doubling pauses, capped.
#[derive(Debug)]
pub(crate) struct Backoff {
    pause: Duration,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff { pause: FIRST_PAUSE }
    }

    pub fn next_pause(&mut self) -> Duration {
        let pause = self.pause;
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        pause
    }
}

/// A stop signal shared by a worker's tasks.
#[derive(Debug, Clone)]
pub(crate) struct Stopping(watch::Receiver<bool>);

impl Stopping {
    pub fn new() -> (watch::Sender<bool>, Stopping) {
        let (tx, rx) = watch::channel(false);
        (tx, Stopping(rx))
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once the signal fires (or its sender is gone).
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Why [`retry`] gave up.
#[derive(Debug)]
pub(crate) enum GaveUp<E> {
    /// A failure that will not go away by itself, or the last retryable one at the deadline.
    Failed(E),
    /// The stop signal fired.
    Stopped,
}

impl<E: Display> GaveUp<E> {
    pub fn describe(&self) -> String {
        match self {
            GaveUp::Failed(e) => e.to_string(),
            GaveUp::Stopped => "the worker is stopping".to_owned(),
        }
    }
}

/// How long to keep trying.
#[derive(Debug, Clone)]
pub(crate) struct Until<'a> {
    pub stopping: &'a Stopping,
    pub deadline: Option<Instant>,
    /// A write that must not be cut short by the stop signal (it records something already
    /// done): attempts are not cancelled, and once the signal fires retrying goes on for at
    /// most [`FINISH_AFTER_STOP`].
    pub finish_on_stop: bool,
}

/// How long a write that must finish keeps retrying once the worker stops.
pub(crate) const FINISH_AFTER_STOP: Duration = Duration::from_secs(30);

/// Calls `attempt` until it succeeds or fails for good; retryable failures are logged
/// (naming `what`) and tried again after a backoff.
pub(crate) async fn retry<T, E, F, Fut>(
    what: &str,
    until: Until<'_>,
    mut attempt: F,
) -> Result<T, GaveUp<E>>
where
    E: Transient,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = Backoff::new();
    let mut failures = 0u32;
    let mut deadline = until.deadline;
    loop {
        let outcome = if until.finish_on_stop {
            attempt().await
        } else {
            if until.stopping.is_set() {
                return Err(GaveUp::Stopped);
            }
            tokio::select! {
                outcome = attempt() => outcome,
                () = until.stopping.wait() => return Err(GaveUp::Stopped),
            }
        };
        match outcome {
            Ok(v) => return Ok(v),
            Err(e) if !e.transient() => return Err(GaveUp::Failed(e)),
            Err(e) => {
                let pause = backoff.next_pause();
                if until.finish_on_stop && until.stopping.is_set() && deadline.is_none() {
                    deadline = Some(Instant::now() + FINISH_AFTER_STOP);
                }
                if deadline.is_some_and(|deadline| Instant::now() + pause > deadline) {
                    return Err(GaveUp::Failed(e));
                }
                failures += 1;
                // The first failures of an outage are routine; say it once it lasts.
                if failures == 1 || failures.is_multiple_of(10) {
                    warn!(error = %e, failures, retry_in_ms = pause.as_millis() as u64, "{what}: retrying");
                }
                if until.finish_on_stop {
                    tokio::time::sleep(pause).await;
                } else {
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = until.stopping.wait() => return Err(GaveUp::Stopped),
                    }
                }
            }
        }
    }
}
