//! [`QueueRunner`]: the controller's side. A [`StepRunner`] that does not run steps: it
//! enqueues them on `steps.run` and reads the results workers record in the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use switchyard_bus::{BusError, Consumer, ConsumerSpec, EventBus, StartPosition};
use switchyard_engine::{
    LogLine, Reattach, RunnerError, StepHandle, StepResult, StepRunner, StepSpec, StopReason,
};
use switchyard_store::{SecretSealer, Store, StoreError};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::WorkerError;
use crate::protocol::{
    DONE_SUBJECT, DoneNotice, LiveLog, Outcome, ResultRecord, StepKeys, StopRecord, consumer_name,
    filter, millis, read_record, run_message, stop_message, synthetic_result, validate_instance,
    write_record,
};
use crate::retry::{Backoff, GaveUp, Stopping, Until, retry};

/// How often `wait` reads the store when no `steps.done` notification came.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How long `start`, `stop` and `cleanup` retry while the bus or the store is unavailable.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(300);
/// The prefix of the queue runner's `steps.done` consumer; the instance follows.
pub const DONE_CONSUMER_PREFIX: &str = "steps-done";

/// How a [`QueueRunner`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// This controller process's name (unique among the platform's processes, stable across
    /// its restarts): names its durable `steps.done` consumer and the records it writes.
    pub instance: String,
    /// See [`DEFAULT_POLL_INTERVAL`].
    pub poll_interval: Duration,
    /// See [`DEFAULT_RETRY_FOR`].
    pub retry_for: Duration,
}

impl QueueConfig {
    pub fn new(instance: impl Into<String>) -> Self {
        QueueConfig {
            instance: instance.into(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            retry_for: DEFAULT_RETRY_FOR,
        }
    }

    /// Checks every field and reports every problem at once.
    pub fn validate(&self) -> Result<(), WorkerError> {
        let mut problems = Vec::new();
        if let Err(e) = validate_instance(&self.instance) {
            problems.push(e);
        }
        if self.poll_interval.is_zero() {
            problems.push("the poll interval must be longer than zero".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(WorkerError::Config {
                what: "step queue",
                problems: problems.join("; "),
            })
        }
    }
}

/// The controller's [`StepRunner`] in distributed mode; see the crate docs for the protocol.
///
/// Handles it returns have pid 0 and a `dir` of `queued:steps.run/<step key>`
/// ([`crate::QUEUED_DIR_PREFIX`]): the step runs on some worker, not here. Only the handle's
/// `id` is used by the other calls, so handles stored before a restart keep working.
///
/// - `stop` with [`StopReason::Shutdown`] does nothing: the controller shutting down does not
///   stop steps that workers run (the next controller re-attaches to them).
/// - `logs` returns nothing until the step's result is recorded (workers do not flush logs
///   while a step runs), then the whole log.
/// - `cleanup` removes the claim and stop records and replaces the result by a small
///   tombstone (see the crate docs: it keeps a late duplicate request from running the step).
pub struct QueueRunner {
    inner: Arc<Inner>,
}

struct Inner {
    bus: Arc<dyn EventBus>,
    store: Arc<dyn Store>,
    sealer: SecretSealer,
    config: QueueConfig,
    /// Callers of `wait`, by step id: woken by `steps.done`.
    waiters: Mutex<HashMap<String, Waiter>>,
    listener: Mutex<Option<JoinHandle<()>>>,
    stop_tx: watch::Sender<bool>,
    stopping: Stopping,
}

struct Waiter {
    notify: Arc<Notify>,
    count: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.stop_tx.send(true);
        if let Some(listener) = lock(&self.listener).take() {
            listener.abort();
        }
    }
}

impl QueueRunner {
    /// A runner on these ports. Call [`QueueRunner::listen`] before use so that `wait` is
    /// woken by `steps.done` notifications; without it `wait` only polls the store.
    pub fn new(
        bus: Arc<dyn EventBus>,
        store: Arc<dyn Store>,
        sealer: SecretSealer,
        config: QueueConfig,
    ) -> Result<Self, WorkerError> {
        config.validate()?;
        let (stop_tx, stopping) = Stopping::new();
        Ok(QueueRunner {
            inner: Arc::new(Inner {
                bus,
                store,
                sealer,
                config,
                waiters: Mutex::new(HashMap::new()),
                listener: Mutex::new(None),
                stop_tx,
                stopping,
            }),
        })
    }

    /// The name of this runner's durable consumer on `steps.done`.
    pub fn done_consumer(&self) -> String {
        consumer_name(DONE_CONSUMER_PREFIX, &self.inner.config.instance)
    }

    /// Creates (or resumes) this instance's `steps.done` consumer, starting at new messages,
    /// and follows it in a background task until the runner is dropped. Fails when the bus
    /// refuses the consumer; call it again to retry.
    pub async fn listen(&self) -> Result<(), WorkerError> {
        let spec = ConsumerSpec::new(self.done_consumer(), vec![filter(DONE_SUBJECT)])
            .with_start(StartPosition::New);
        let consumer = self.inner.bus.consumer(spec.clone()).await?;
        let task = tokio::spawn(listen_loop(
            Arc::downgrade(&self.inner),
            self.inner.bus.clone(),
            spec,
            consumer,
        ));
        if let Some(old) = lock(&self.inner.listener).replace(task) {
            old.abort();
        }
        Ok(())
    }
}

/// Follows `steps.done`, waking the callers of `wait` for each step named.
async fn listen_loop(
    inner: Weak<Inner>,
    bus: Arc<dyn EventBus>,
    spec: ConsumerSpec,
    mut consumer: Box<dyn Consumer>,
) {
    let mut backoff = Backoff::new();
    loop {
        match consumer.next().await {
            Ok(delivery) => {
                backoff = Backoff::new();
                match serde_json::from_slice::<DoneNotice>(&delivery.message.payload) {
                    Ok(notice) => {
                        let Some(inner) = inner.upgrade() else {
                            return;
                        };
                        inner.wake(&notice.step);
                    }
                    Err(e) => warn!(
                        seq = delivery.seq(),
                        "a notification on steps.done cannot be read ({e}); ignored"
                    ),
                }
                // A notification that comes again only wakes a waiter once more.
                if let Err(e) = consumer.ack(&delivery).await {
                    debug!(error = %e, "cannot acknowledge a steps.done notification");
                }
            }
            Err(BusError::Closed) => {
                info!("the event bus closed; steps.done notifications stop (wait polls the store)");
                return;
            }
            Err(e) => {
                let pause = backoff.next_pause();
                warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "cannot read steps.done notifications; wait polls the store meanwhile");
                tokio::time::sleep(pause).await;
                if matches!(e, BusError::ConsumerNotFound { .. }) {
                    match bus.consumer(spec.clone()).await {
                        Ok(c) => consumer = c,
                        Err(e) => warn!(error = %e, "cannot create the steps.done consumer again"),
                    }
                }
            }
        }
    }
}

impl Inner {
    fn wake(&self, step: &str) {
        if let Some(w) = lock(&self.waiters).get(step) {
            w.notify.notify_waiters();
        }
    }

    fn register(&self, step: &str) -> WaiterGuard<'_> {
        let notify = {
            let mut waiters = lock(&self.waiters);
            let w = waiters.entry(step.to_owned()).or_insert_with(|| Waiter {
                notify: Arc::new(Notify::new()),
                count: 0,
            });
            w.count += 1;
            w.notify.clone()
        };
        WaiterGuard {
            inner: self,
            step: step.to_owned(),
            notify,
        }
    }

    /// Retries for at most `retry_for`.
    fn until(&self) -> Until<'_> {
        Until {
            stopping: &self.stopping,
            deadline: Some(Instant::now() + self.config.retry_for),
            finish_on_stop: false,
        }
    }

    async fn read_result(&self, keys: &StepKeys) -> Result<Option<ResultRecord>, String> {
        let key = keys.result();
        retry(
            &format!("reading the result of step `{}`", keys.id),
            self.until(),
            || read_record::<ResultRecord>(&*self.store, &key),
        )
        .await
        .map_err(|e| e.describe())
    }
}

struct WaiterGuard<'a> {
    inner: &'a Inner,
    step: String,
    notify: Arc<Notify>,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        let mut waiters = lock(&self.inner.waiters);
        if let Some(w) = waiters.get_mut(&self.step) {
            w.count -= 1;
            if w.count == 0 {
                waiters.remove(&self.step);
            }
        }
    }
}

/// What `wait` returns for a record.
fn ended(record: ResultRecord) -> Result<StepResult, RunnerError> {
    match record.outcome {
        Outcome::Exited { result } | Outcome::Lost { result } => Ok(result),
        Outcome::Failed { error } => Err(error.into()),
        Outcome::CleanedUp => Err(RunnerError::Internal(format!(
            "the result of step `{}` was collected before and its records were cleaned up",
            record.step
        ))),
    }
}

#[async_trait]
impl StepRunner for QueueRunner {
    /// Enqueues the step (sealed, dedup id from the step id) and returns once the request is
    /// durable; a step whose result is recorded is not enqueued again.
    async fn start(&self, step: &StepSpec) -> Result<StepHandle, RunnerError> {
        let inner = &self.inner;
        let keys = StepKeys::new(&step.id);
        match inner.read_result(&keys).await {
            Ok(Some(_)) => {
                debug!(step = %keys.id, "the step's result is recorded; not enqueued again");
                return Ok(keys.queued_handle());
            }
            Ok(None) => {}
            Err(e) => {
                return Err(RunnerError::Internal(format!(
                    "cannot check whether step `{}` already ran: {e}",
                    keys.id
                )));
            }
        }
        let message = run_message(&inner.sealer, &keys, &inner.config.instance, step)
            .map_err(|e| RunnerError::Internal(e.to_string()))?;
        let published = retry(
            &format!("enqueueing step `{}`", keys.id),
            inner.until(),
            || inner.bus.publish(message.clone()),
        )
        .await;
        match published {
            Ok(_) => Ok(keys.queued_handle()),
            Err(GaveUp::Failed(BusError::PayloadTooLarge { size, max })) => {
                Err(RunnerError::Start(format!(
                    "step `{}` cannot be queued: its sealed request is {size} bytes and the event bus \
                     accepts at most {max} (large scripts, files or environment values); raise the \
                     bus's payload limit or make the step smaller",
                    keys.id
                )))
            }
            Err(e) => Err(RunnerError::Internal(format!(
                "cannot enqueue step `{}` on steps.run: {}",
                keys.id,
                e.describe()
            ))),
        }
    }

    /// Returns the recorded result, woken by `steps.done` and polling the store.
    async fn wait(&self, handle: &StepHandle) -> Result<StepResult, RunnerError> {
        let inner = &self.inner;
        let keys = StepKeys::new(&handle.id);
        let key = keys.result();
        let waiter = inner.register(&keys.id);
        let mut failures = 0u32;
        loop {
            let notified = waiter.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match read_record::<ResultRecord>(&*inner.store, &key).await {
                Ok(Some(record)) => return ended(record),
                Ok(None) => failures = 0,
                Err(e) if e.is_retryable() => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(30) {
                        warn!(step = %keys.id, error = %e, "cannot read the step's result; polling on");
                    }
                }
                Err(e) => {
                    return Err(RunnerError::Internal(format!(
                        "cannot read the result of step `{}`: {e}",
                        keys.id
                    )));
                }
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(inner.config.poll_interval) => {}
            }
        }
    }

    /// Records a stop marker (a worker that has not started the step records a stopped result
    /// instead) and tells the workers on `steps.stop`.
    async fn stop(&self, handle: &StepHandle, reason: StopReason, grace: Duration) {
        if reason == StopReason::Shutdown {
            debug!(step = %handle.id, "the controller is shutting down; the step goes on on its worker");
            return;
        }
        let inner = &self.inner;
        let keys = StepKeys::new(&handle.id);
        if let Ok(Some(_)) = inner.read_result(&keys).await {
            return;
        }
        let marker = StopRecord {
            step: keys.id.clone(),
            reason,
            grace_ms: millis(grace),
            requested_by: inner.config.instance.clone(),
            requested_at: Utc::now(),
        };
        let key = keys.stop();
        let recorded: Result<(), GaveUp<StoreError>> = retry(
            &format!("recording the stop of step `{}`", keys.id),
            inner.until(),
            || write_record(&*inner.store, &key, &marker),
        )
        .await;
        if let Err(e) = recorded {
            error!(step = %keys.id, "cannot record the stop request ({}); a worker that has not started the step yet may still run it", e.describe());
        }
        let message = stop_message(&keys, reason, grace);
        let told = retry(
            &format!("asking the workers to stop step `{}`", keys.id),
            inner.until(),
            || inner.bus.publish(message.clone()),
        )
        .await;
        if let Err(e) = told {
            error!(step = %keys.id, "cannot publish the stop request on steps.stop ({}); the worker running the step is not told", e.describe());
        }
    }

    /// A recorded result is `Finished` (or `Lost` when its worker died); no result yet is
    /// `Running`: the request is still queued or on a worker.
    async fn reattach(&self, handle: &StepHandle) -> Reattach {
        let keys = StepKeys::new(&handle.id);
        match self.inner.read_result(&keys).await {
            Ok(None) => Reattach::Running,
            Ok(Some(record)) => match record.outcome {
                Outcome::Exited { result } => Reattach::Finished(result),
                Outcome::Lost { result } => Reattach::Lost(result.message),
                Outcome::Failed { error } => {
                    Reattach::Finished(synthetic_result(RunnerError::from(error).to_string(), None))
                }
                Outcome::CleanedUp => Reattach::Lost(format!(
                    "the records of step `{}` were already cleaned up, so its result is gone",
                    keys.id
                )),
            },
            Err(e) => {
                warn!(step = %keys.id, "cannot read the step's result ({e}); taking it as still running");
                Reattach::Running
            }
        }
    }

    /// The recorded log from line `from`; nothing before the step's result is recorded.
    async fn logs(&self, handle: &StepHandle, from: usize) -> Result<Vec<LogLine>, RunnerError> {
        let keys = StepKeys::new(&handle.id);
        match self.inner.read_result(&keys).await {
            Ok(Some(record)) => Ok(record.logs.into_iter().skip(from).collect()),
            // Still running: what its worker shared so far (lines numbered as in the whole log).
            Ok(None) => match read_record::<LiveLog>(&*self.inner.store, &keys.live()).await {
                Ok(live) => Ok(live
                    .map(|l| l.lines.into_iter().skip(from).collect())
                    .unwrap_or_default()),
                Err(e) => Err(RunnerError::Internal(format!(
                    "cannot read the log of running step `{}`: {e}",
                    keys.id
                ))),
            },
            Err(e) => Err(RunnerError::Internal(format!(
                "cannot read the log of step `{}`: {e}",
                keys.id
            ))),
        }
    }

    /// Replaces the result by a tombstone and removes the claim and the stop marker.
    async fn cleanup(&self, handle: &StepHandle) {
        let inner = &self.inner;
        let keys = StepKeys::new(&handle.id);
        let tombstone = ResultRecord::new(
            &keys,
            &inner.config.instance,
            Outcome::CleanedUp,
            Vec::new(),
        );
        let result_key = keys.result();
        let written: Result<(), GaveUp<StoreError>> = retry(
            &format!("cleaning up step `{}`", keys.id),
            inner.until(),
            || write_record(&*inner.store, &result_key, &tombstone),
        )
        .await;
        if let Err(e) = written {
            error!(step = %keys.id, "cannot clean up the step's result record: {}", e.describe());
        }
        for key in [keys.claim(), keys.stop(), keys.live()] {
            let removed: Result<(), GaveUp<StoreError>> = retry(
                &format!("cleaning up step `{}`", keys.id),
                inner.until(),
                || inner.store.delete_meta(&key),
            )
            .await;
            if let Err(e) = removed {
                error!(step = %keys.id, "cannot remove the step record `{key}`: {}", e.describe());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_problems_are_reported_together() {
        assert_eq!(QueueConfig::new("controller-1").validate(), Ok(()));
        let mut config = QueueConfig::new("a\nb");
        config.poll_interval = Duration::ZERO;
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("invalid step queue configuration: the instance name `a\\nb`"),
            "{err}"
        );
        assert!(
            err.contains("the poll interval must be longer than zero"),
            "{err}"
        );
    }
}
