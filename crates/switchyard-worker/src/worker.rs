//! [`Worker`]: the worker's side. Pulls step requests from `steps.run`, runs each under a
//! store lease with the process's local [`StepRunner`], records the result in the store and
//! says so on `steps.done`; follows `steps.stop` to stop the steps it runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::Utc;
use switchyard_bus::{
    BusError, Consumer, ConsumerSpec, DEFAULT_MAX_ACK_PENDING, Delivery, EventBus, MAX_WAIT,
    StartPosition,
};
use switchyard_engine::{LogLine, Reattach, StepHandle, StepRunner, StepSpec, StopReason};
use switchyard_store::{Lease, SecretSealer, Store, StoreError};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::WorkerError;
use crate::protocol::{
    ClaimRecord, LIVE_LOG_EVERY, LIVE_LOG_MAX_BYTES, LiveLog, Outcome, RUN_SUBJECT, ResultRecord,
    STOP_SUBJECT, StepKeys, StopNotice, StopRecord, WORKERS_CONSUMER, consumer_name, done_message,
    filter, open_request, read_record, reason_name, synthetic_result, validate_instance,
    write_record,
};
use crate::retry::{Backoff, GaveUp, Stopping, Until, retry};

/// Default number of steps one worker runs at once.
pub const DEFAULT_PARALLEL: usize = 4;
/// Default time a step request may stay unacknowledged before the bus offers it again.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
/// Default time to live of a step's lease (renewed every third of it while the step runs).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);
/// Default time a shut-down worker keeps the leases of its running steps, so that the same
/// instance, restarted, re-attaches to them before another worker declares them lost.
pub const DEFAULT_RESTART_GRACE: Duration = Duration::from_secs(60);
/// Default grace between SIGTERM and SIGKILL when a worker stops a step on its own (it lost
/// the step's lease).
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);
/// The prefix of a worker's `steps.stop` consumer; the instance follows.
pub const STOP_CONSUMER_PREFIX: &str = "steps-stop";
/// Longest lease time to live the store accepts.
const MAX_LEASE_TTL: Duration = Duration::from_secs(3600);
/// Shortest lease time to live: it is renewed every third of it.
const MIN_LEASE_TTL: Duration = Duration::from_millis(300);
/// How long a request this worker cannot read waits before it is offered again (another
/// worker, with the right key or a newer version, may read it).
const UNREADABLE_DELAY: Duration = Duration::from_secs(60);
/// How long a request waits after a failure that needs an operator (a record that cannot be
/// read, a store that refuses a request).
const ERROR_DELAY: Duration = Duration::from_secs(30);
/// How long a worker retries notifications, nak and lease releases (the protocol does not
/// depend on them: the controller polls, ack_wait redelivers, leases expire).
const BEST_EFFORT_RETRY: Duration = Duration::from_secs(30);

/// How a [`Worker`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// This worker process's name: unique among the platform's processes and the same after a
    /// restart (a restarted instance re-attaches to the steps it was running). It holds the
    /// step leases and names its `steps.stop` consumer.
    pub instance: String,
    /// Steps run at once; the worker pulls a request only when a slot is free.
    pub parallel: usize,
    /// The `ack_wait` of the shared `workers` consumer. Give every worker the same value (the
    /// consumer has one declaration; the last worker to start sets it).
    pub ack_wait: Duration,
    /// See [`DEFAULT_LEASE_TTL`].
    pub lease_ttl: Duration,
    /// See [`DEFAULT_RESTART_GRACE`].
    pub restart_grace: Duration,
    /// See [`DEFAULT_STOP_GRACE`].
    pub stop_grace: Duration,
}

impl WorkerConfig {
    pub fn new(instance: impl Into<String>) -> Self {
        WorkerConfig {
            instance: instance.into(),
            parallel: DEFAULT_PARALLEL,
            ack_wait: DEFAULT_ACK_WAIT,
            lease_ttl: DEFAULT_LEASE_TTL,
            restart_grace: DEFAULT_RESTART_GRACE,
            stop_grace: DEFAULT_STOP_GRACE,
        }
    }

    /// Checks every field and reports every problem at once.
    pub fn validate(&self) -> Result<(), WorkerError> {
        let mut problems = Vec::new();
        if let Err(e) = validate_instance(&self.instance) {
            problems.push(e);
        }
        if self.parallel == 0 || self.parallel > Semaphore::MAX_PERMITS {
            problems.push(format!(
                "parallel is {}; it must be at least 1",
                self.parallel
            ));
        }
        if self.ack_wait.is_zero() || self.ack_wait > MAX_WAIT {
            problems.push(format!(
                "ack_wait is {:?}; it must be longer than zero and at most {MAX_WAIT:?}",
                self.ack_wait
            ));
        }
        for (what, value) in [
            ("lease_ttl", self.lease_ttl),
            ("restart_grace", self.restart_grace),
        ] {
            if value < MIN_LEASE_TTL || value > MAX_LEASE_TTL {
                problems.push(format!(
                    "{what} is {value:?}; it must be between {MIN_LEASE_TTL:?} and {MAX_LEASE_TTL:?}"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(WorkerError::Config {
                what: "worker",
                problems: problems.join("; "),
            })
        }
    }
}

/// Starts workers; see [`Worker::start`].
pub struct Worker;

impl Worker {
    /// Creates (or resumes) the shared `workers` consumer on `steps.run` (from the oldest
    /// request) and this instance's consumer on `steps.stop` (from new messages), then pulls
    /// requests in the background until [`WorkerHandle::shutdown`]. While the bus is
    /// unavailable it retries; other bus errors are returned.
    ///
    /// `local` runs the steps; its `start` must be idempotent by step id (a step id it already
    /// started gives back that step, as the local runner does), because a worker that stopped
    /// between starting a step and recording its handle starts it again after a restart.
    pub async fn start(
        config: WorkerConfig,
        bus: Arc<dyn EventBus>,
        store: Arc<dyn Store>,
        sealer: SecretSealer,
        local: Arc<dyn StepRunner>,
    ) -> Result<WorkerHandle, WorkerError> {
        config.validate()?;
        let (stop_tx, stopping) = Stopping::new();
        let runs_spec = ConsumerSpec::new(WORKERS_CONSUMER, vec![filter(RUN_SUBJECT)])
            .with_ack_wait(config.ack_wait)
            .with_max_ack_pending(DEFAULT_MAX_ACK_PENDING)
            .with_start(StartPosition::All);
        let stops_spec = ConsumerSpec::new(
            consumer_name(STOP_CONSUMER_PREFIX, &config.instance),
            vec![filter(STOP_SUBJECT)],
        )
        .with_start(StartPosition::New);
        let shared = Arc::new(Shared {
            config,
            bus,
            store,
            sealer,
            local,
            running: Mutex::new(HashMap::new()),
            stopping,
        });
        // The stop consumer first: a stop published once a step is pulled must reach us.
        let stops = shared.open_consumer(&stops_spec).await?;
        let runs = shared.open_consumer(&runs_spec).await?;
        info!(instance = %shared.config.instance, parallel = shared.config.parallel, "worker started");
        let stops = tokio::spawn(stop_loop(shared.clone(), stops_spec, stops));
        let pull = tokio::spawn(pull_loop(shared.clone(), runs_spec, runs));
        Ok(WorkerHandle {
            shared,
            stop_tx,
            pull: Some(pull),
            stops: Some(stops),
        })
    }
}

/// A running worker. [`WorkerHandle::shutdown`] stops it gracefully; dropping the handle
/// without it stops every task at once, as a crash would (the steps' leases then expire and
/// another worker records them as lost, unless this instance comes back first).
pub struct WorkerHandle {
    shared: Arc<Shared>,
    stop_tx: watch::Sender<bool>,
    pull: Option<JoinHandle<()>>,
    stops: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    pub fn instance(&self) -> &str {
        &self.shared.config.instance
    }

    /// Step requests this worker is handling now.
    pub fn in_flight(&self) -> usize {
        lock(&self.shared.running).len()
    }

    /// Stops pulling requests and returns once every task of the worker has ended. Running
    /// steps are NOT stopped: their local processes go on, their leases are extended by
    /// `restart_grace`, and their requests stay unacknowledged, so the same instance,
    /// started again, re-attaches to them through the local runner's `reattach`. Requests
    /// not started yet are left for the next delivery.
    pub async fn shutdown(mut self) {
        let _ = self.stop_tx.send(true);
        if let Some(pull) = self.pull.take()
            && let Err(e) = pull.await
            && e.is_panic()
        {
            error!("the worker's pull loop panicked");
        }
        if let Some(stops) = self.stops.take() {
            let _ = stops.await;
        }
        info!(instance = %self.shared.config.instance, "worker stopped");
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        for task in [self.pull.take(), self.stops.take()].into_iter().flatten() {
            task.abort();
        }
    }
}

/// What a worker's tasks share.
struct Shared {
    config: WorkerConfig,
    bus: Arc<dyn EventBus>,
    store: Arc<dyn Store>,
    sealer: SecretSealer,
    local: Arc<dyn StepRunner>,
    /// The steps whose requests this worker is handling, by step id.
    running: Mutex<HashMap<String, Running>>,
    stopping: Stopping,
}

#[derive(Debug, Default)]
struct Running {
    /// The local handle, once the local runner started (or re-attached to) the step.
    handle: Option<StepHandle>,
    /// A stop that came before the handle was known.
    pending_stop: Option<(StopReason, Duration)>,
    /// Whether the local step was told to stop already.
    stopped: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes a step from [`Shared::running`] when its handling ends.
struct Entry {
    shared: Arc<Shared>,
    step: String,
}

impl Drop for Entry {
    fn drop(&mut self) {
        lock(&self.shared.running).remove(&self.step);
    }
}

impl Shared {
    fn forever(&self) -> Until<'_> {
        Until {
            stopping: &self.stopping,
            deadline: None,
            finish_on_stop: false,
        }
    }

    /// For a record of something already done (a started step's handle).
    fn to_the_end(&self) -> Until<'_> {
        Until {
            stopping: &self.stopping,
            deadline: None,
            finish_on_stop: true,
        }
    }

    fn briefly(&self) -> Until<'_> {
        Until {
            stopping: &self.stopping,
            deadline: Some(Instant::now() + BEST_EFFORT_RETRY),
            finish_on_stop: false,
        }
    }

    async fn open_consumer(&self, spec: &ConsumerSpec) -> Result<Box<dyn Consumer>, WorkerError> {
        retry(
            &format!("creating the consumer `{}`", spec.name),
            self.forever(),
            || self.bus.consumer(spec.clone()),
        )
        .await
        .map_err(|e| match e {
            GaveUp::Failed(e) => WorkerError::Bus(e),
            GaveUp::Stopped => WorkerError::Bus(BusError::Closed),
        })
    }

    /// Takes the step for this worker, unless this worker handles it already.
    fn register(self: &Arc<Self>, step: &str) -> Option<Entry> {
        let mut running = lock(&self.running);
        if running.contains_key(step) {
            return None;
        }
        running.insert(step.to_owned(), Running::default());
        Some(Entry {
            shared: self.clone(),
            step: step.to_owned(),
        })
    }

    /// Records the local handle; returns a stop that came before it, to carry out now.
    fn attach(&self, step: &str, handle: &StepHandle) -> Option<(StopReason, Duration)> {
        let mut running = lock(&self.running);
        let entry = running.get_mut(step)?;
        entry.handle = Some(handle.clone());
        let pending = entry.pending_stop.take();
        if pending.is_some() {
            entry.stopped = true;
        }
        pending
    }

    /// A stop request for `step`: the handle to stop now, or none (not ours, not started yet:
    /// kept for [`Shared::attach`], or stopped already).
    fn stop_requested(
        &self,
        step: &str,
        reason: StopReason,
        grace: Duration,
    ) -> Option<StepHandle> {
        let mut running = lock(&self.running);
        let entry = running.get_mut(step)?;
        match &entry.handle {
            Some(handle) if !entry.stopped => {
                entry.stopped = true;
                Some(handle.clone())
            }
            Some(_) => None,
            None => {
                entry.pending_stop = Some((reason, grace));
                None
            }
        }
    }

    /// The local handle, if the step is to be stopped now (marks it stopped).
    fn take_for_stop(&self, step: &str) -> Option<StepHandle> {
        let mut running = lock(&self.running);
        let entry = running.get_mut(step)?;
        if entry.stopped {
            return None;
        }
        let handle = entry.handle.clone()?;
        entry.stopped = true;
        Some(handle)
    }
}

/// Pulls requests while a slot is free and hands each to a task.
async fn pull_loop(shared: Arc<Shared>, spec: ConsumerSpec, consumer: Box<dyn Consumer>) {
    let slots = Arc::new(Semaphore::new(shared.config.parallel));
    let mut consumer: Arc<dyn Consumer> = Arc::from(consumer);
    let mut tasks = JoinSet::new();
    let mut backoff = Backoff::new();
    loop {
        while let Some(done) = tasks.try_join_next() {
            report_panic(done);
        }
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = shared.stopping.wait() => break,
        };
        let next = tokio::select! {
            next = consumer.next() => next,
            () = shared.stopping.wait() => break,
        };
        match next {
            Ok(delivery) => {
                backoff = Backoff::new();
                let shared = shared.clone();
                let consumer = consumer.clone();
                tasks.spawn(async move {
                    handle_delivery(&shared, &*consumer, delivery).await;
                    drop(slot);
                });
            }
            Err(BusError::Closed) => {
                info!("the event bus closed; this worker takes no more steps");
                break;
            }
            Err(e) => {
                drop(slot);
                let pause = backoff.next_pause();
                warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "cannot pull step requests");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = shared.stopping.wait() => break,
                }
                if matches!(e, BusError::ConsumerNotFound { .. }) {
                    match shared.open_consumer(&spec).await {
                        Ok(c) => consumer = Arc::from(c),
                        Err(e) => warn!(error = %e, "cannot create the workers consumer again"),
                    }
                }
            }
        }
    }
    // Every task ends at its next waiting point once the worker stops.
    while let Some(done) = tasks.join_next().await {
        report_panic(done);
    }
}

fn report_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        error!("a step task panicked; its request is offered again after ack_wait");
    }
}

/// Follows `steps.stop`: stops the local steps named there that this worker runs.
async fn stop_loop(shared: Arc<Shared>, spec: ConsumerSpec, consumer: Box<dyn Consumer>) {
    let mut consumer = consumer;
    let mut stops = JoinSet::new();
    let mut backoff = Backoff::new();
    loop {
        while stops.try_join_next().is_some() {}
        let next = tokio::select! {
            next = consumer.next() => next,
            () = shared.stopping.wait() => break,
        };
        match next {
            Ok(delivery) => {
                backoff = Backoff::new();
                match serde_json::from_slice::<StopNotice>(&delivery.message.payload) {
                    Ok(notice) => {
                        if let Some(handle) =
                            shared.stop_requested(&notice.step, notice.reason, notice.grace())
                        {
                            info!(step = %notice.step, reason = reason_name(notice.reason), "stopping the step as asked");
                            let shared = shared.clone();
                            stops.spawn(async move {
                                shared
                                    .local
                                    .stop(&handle, notice.reason, notice.grace())
                                    .await;
                            });
                        }
                    }
                    Err(e) => warn!(
                        seq = delivery.seq(),
                        "a request on steps.stop cannot be read ({e}); ignored"
                    ),
                }
                let acked = retry("acknowledging a stop request", shared.briefly(), || {
                    consumer.ack(&delivery)
                })
                .await;
                if let Err(GaveUp::Failed(e)) = acked {
                    warn!(error = %e, "cannot acknowledge a stop request; it comes again");
                }
            }
            Err(BusError::Closed) => break,
            Err(e) => {
                let pause = backoff.next_pause();
                warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "cannot read stop requests");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = shared.stopping.wait() => break,
                }
                if matches!(e, BusError::ConsumerNotFound { .. }) {
                    match shared.open_consumer(&spec).await {
                        Ok(c) => consumer = c,
                        Err(e) => warn!(error = %e, "cannot create the stop consumer again"),
                    }
                }
            }
        }
    }
    // Stops under way finish (SIGTERM, grace, SIGKILL) rather than stopping half-way.
    while stops.join_next().await.is_some() {}
}

/// Handles one delivery of a step request, from unsealing it to its ack (or nak, or leaving
/// it for a later delivery).
async fn handle_delivery(shared: &Arc<Shared>, consumer: &dyn Consumer, delivery: Delivery) {
    let request = match open_request(&shared.sealer, &delivery.message.payload) {
        Ok(request) => request,
        Err(why) => {
            error!(
                seq = delivery.seq(),
                "a step request on steps.run cannot be read: {why}; it is offered again in {}s",
                UNREADABLE_DELAY.as_secs()
            );
            nak(shared, consumer, &delivery, UNREADABLE_DELAY).await;
            return;
        }
    };
    let keys = StepKeys::new(&request.spec.id);
    let span =
        info_span!("step", step = %keys.id, seq = delivery.seq(), delivered = delivery.delivered);
    async {
        let Some(_entry) = shared.register(&keys.id) else {
            // The bus offered it again while this worker runs it (ack_wait passed): that run
            // acknowledges it when the step ends.
            debug!("offered again while this worker handles it");
            nak(shared, consumer, &delivery, shared.config.ack_wait).await;
            return;
        };
        let job = Job {
            shared,
            consumer,
            delivery: &delivery,
            keys: &keys,
        };
        match job.run(&request.spec).await {
            Ok(()) => {}
            Err(GaveUp::Stopped) => debug!("left for a later delivery: the worker is stopping"),
            Err(GaveUp::Failed(e)) => {
                error!(error = %e, "cannot settle the step request; it is offered again in {}s", ERROR_DELAY.as_secs());
                nak(shared, consumer, &delivery, ERROR_DELAY).await;
            }
        }
    }
    .instrument(span)
    .await;
}

async fn nak(shared: &Shared, consumer: &dyn Consumer, delivery: &Delivery, delay: Duration) {
    let naked = retry("returning a step request", shared.briefly(), || {
        consumer.nak(delivery, delay)
    })
    .await;
    if let Err(GaveUp::Failed(e)) = naked {
        // Without the nak the request comes again after ack_wait.
        debug!(error = %e, "cannot return a step request to the queue");
    }
}

/// Why a step's lease stopped being ours while the step ran.
#[derive(Debug)]
enum LeaseLost {
    /// Another worker holds it now.
    TakenBy(String),
    /// It is ours again, but another worker held it in between (its token changed).
    Interrupted,
}

/// One delivery of one step request.
struct Job<'a> {
    shared: &'a Arc<Shared>,
    consumer: &'a dyn Consumer,
    delivery: &'a Delivery,
    keys: &'a StepKeys,
}

type Step<T = ()> = Result<T, GaveUp<StoreError>>;

impl Job<'_> {
    fn instance(&self) -> &str {
        &self.shared.config.instance
    }

    async fn read<T: serde::de::DeserializeOwned>(&self, key: String) -> Step<Option<T>> {
        self.read_until(key, self.shared.forever()).await
    }

    async fn read_until<T: serde::de::DeserializeOwned>(
        &self,
        key: String,
        until: Until<'_>,
    ) -> Step<Option<T>> {
        let store = &*self.shared.store;
        retry(&format!("reading the step record `{key}`"), until, || {
            read_record::<T>(store, &key)
        })
        .await
    }

    async fn write<T: serde::Serialize>(&self, key: String, record: &T, until: Until<'_>) -> Step {
        let store = &*self.shared.store;
        retry(&format!("writing the step record `{key}`"), until, || {
            write_record(store, &key, record)
        })
        .await
    }

    async fn acquire(&self, ttl: Duration, until: Until<'_>) -> Step<Result<Lease, Lease>> {
        let lease = self.keys.lease();
        let store = &*self.shared.store;
        retry(&format!("taking the lease `{lease}`"), until, || {
            store.acquire_lease(&lease, self.instance(), ttl)
        })
        .await
    }

    async fn run(&self, spec: &StepSpec) -> Step {
        // Settled before (a redelivery after the result was recorded): just finish.
        if self
            .read::<ResultRecord>(self.keys.result())
            .await?
            .is_some()
        {
            self.finish(false).await;
            return Ok(());
        }
        let lease = match self
            .acquire(self.shared.config.lease_ttl, self.shared.forever())
            .await?
        {
            Ok(lease) => lease,
            Err(other) => {
                // Its holder runs it; look again once that lease could have expired.
                let remaining = (other.expires_at - Utc::now()).to_std().unwrap_or_default();
                let delay = (remaining + Duration::from_millis(250))
                    .max(self.shared.config.ack_wait)
                    .min(MAX_WAIT);
                debug!(holder = %other.holder, delay_ms = delay.as_millis() as u64, "another worker holds the step's lease");
                nak(self.shared, self.consumer, self.delivery, delay).await;
                return Ok(());
            }
        };
        let token = lease.token;
        let lost = tokio::select! {
            done = self.under_lease(spec, token) => return done,
            lost = self.keep_lease(token) => lost,
        };
        self.lease_lost(lost).await;
        Ok(())
    }

    /// Renews the lease every third of its time to live; returns when it is no longer ours.
    async fn keep_lease(&self, token: u64) -> LeaseLost {
        let ttl = self.shared.config.lease_ttl;
        let every = ttl / 3;
        let mut pause = every;
        let lease = self.keys.lease();
        loop {
            tokio::time::sleep(pause).await;
            match self
                .shared
                .store
                .acquire_lease(&lease, self.instance(), ttl)
                .await
            {
                Ok(Ok(l)) if l.token == token => pause = every,
                Ok(Ok(_)) => return LeaseLost::Interrupted,
                Ok(Err(other)) => return LeaseLost::TakenBy(other.holder),
                Err(e) => {
                    warn!(error = %e, "cannot renew the step's lease; trying again");
                    pause = (every / 3).max(Duration::from_millis(100));
                }
            }
        }
    }

    /// Another worker took over the step (this one could not renew its lease in time): it has
    /// recorded the step as lost, so the local step must not go on.
    async fn lease_lost(&self, lost: LeaseLost) {
        match &lost {
            LeaseLost::TakenBy(holder) => {
                warn!(%holder, "the step's lease was taken over; stopping the step here, its result is recorded by the worker that took over")
            }
            LeaseLost::Interrupted => warn!(
                "another worker held the step's lease meanwhile; stopping the step here, its result is recorded by that worker"
            ),
        }
        if let Some(handle) = self.shared.take_for_stop(&self.keys.id) {
            self.shared
                .local
                .stop(
                    &handle,
                    StopReason::Terminated,
                    self.shared.config.stop_grace,
                )
                .await;
            self.shared.local.cleanup(&handle).await;
        }
        if matches!(lost, LeaseLost::Interrupted) {
            self.release().await;
        }
        // The request is left: its next delivery finds the other worker's record.
    }

    /// Whether the lease is still ours, unbroken since it was taken with `token`; checked
    /// before each write that must not race another worker.
    async fn still_ours(&self, token: u64, until: Until<'_>) -> Step<bool> {
        match self.acquire(self.shared.config.lease_ttl, until).await? {
            Ok(lease) if lease.token == token => Ok(true),
            Ok(_) => {
                warn!("another worker held the step's lease meanwhile; leaving the step to it");
                self.release().await;
                Ok(false)
            }
            Err(other) => {
                warn!(holder = %other.holder, "another worker holds the step's lease now; leaving the step to it");
                Ok(false)
            }
        }
    }

    async fn under_lease(&self, spec: &StepSpec, token: u64) -> Step {
        // Settled while the lease was someone else's?
        if self
            .read::<ResultRecord>(self.keys.result())
            .await?
            .is_some()
        {
            self.release().await;
            self.finish(false).await;
            return Ok(());
        }
        match self.read::<ClaimRecord>(self.keys.claim()).await? {
            Some(claim) if claim.worker == self.instance() => self.resume(spec, claim, token).await,
            Some(claim) => {
                let message = format!(
                    "the outcome of step `{}` is unknown: worker `{}` took it but stopped renewing \
                     its lease (the worker stopped, or lost its connection to the store)",
                    self.keys.id, claim.worker
                );
                warn!(worker = %claim.worker, "the step's worker is gone; recording it as lost");
                let outcome = Outcome::Lost {
                    result: synthetic_result(message, None),
                };
                self.settle(outcome, Vec::new(), None, token).await
            }
            None => self.fresh(spec, token).await,
        }
    }

    /// Nobody ran the step yet.
    async fn fresh(&self, spec: &StepSpec, token: u64) -> Step {
        if let Some(stop) = self.read::<StopRecord>(self.keys.stop()).await? {
            return self.stopped_before_start(&stop, token).await;
        }
        if self.shared.stopping.is_set() {
            return Err(GaveUp::Stopped);
        }
        self.write_claim(None, token).await?;
        if !self.still_ours(token, self.shared.forever()).await? {
            return Ok(());
        }
        self.start_and_wait(spec, token).await
    }

    async fn stopped_before_start(&self, stop: &StopRecord, token: u64) -> Step {
        info!(
            reason = reason_name(stop.reason),
            "the step was stopped before it started; not running it"
        );
        let message = format!(
            "stopped before it started ({}, asked by `{}`)",
            reason_name(stop.reason),
            stop.requested_by
        );
        let outcome = Outcome::Exited {
            result: synthetic_result(message, Some(stop.reason)),
        };
        self.settle(outcome, Vec::new(), None, token).await
    }

    /// This instance claimed the step before (it was restarted).
    async fn resume(&self, spec: &StepSpec, claim: ClaimRecord, token: u64) -> Step {
        let Some(handle) = claim.handle else {
            // It stopped between claiming the step and recording the local handle. The local
            // runner's start gives back a step it already started, so this does not run twice.
            if let Some(stop) = self.read::<StopRecord>(self.keys.stop()).await? {
                return self.stopped_before_start(&stop, token).await;
            }
            info!("claimed by this worker before a restart; starting it (or finding it started)");
            return self.start_and_wait(spec, token).await;
        };
        match self.shared.local.reattach(&handle).await {
            Reattach::Running => {
                info!("re-attached to the step this worker started before a restart");
                self.attach(handle, token).await
            }
            Reattach::Finished(result) => {
                info!("the step finished while this worker was down");
                let logs = self.local_logs(&handle).await;
                self.settle(Outcome::Exited { result }, logs, Some(&handle), token)
                    .await
            }
            Reattach::Lost(message) => {
                warn!(%message, "the step this worker started before a restart is lost");
                let outcome = Outcome::Lost {
                    result: synthetic_result(message, None),
                };
                self.settle(outcome, Vec::new(), Some(&handle), token).await
            }
        }
    }

    async fn write_claim(&self, handle: Option<StepHandle>, token: u64) -> Step {
        // Once the step runs, its handle must be recorded even if the worker is stopping: it
        // is how this instance finds the step again.
        let until = match handle {
            Some(_) => self.shared.to_the_end(),
            None => self.shared.forever(),
        };
        let claim = ClaimRecord {
            step: self.keys.id.clone(),
            worker: self.instance().to_owned(),
            token,
            handle,
            claimed_at: Utc::now(),
        };
        self.write(self.keys.claim(), &claim, until).await
    }

    async fn start_and_wait(&self, spec: &StepSpec, token: u64) -> Step {
        let handle = match self.shared.local.start(spec).await {
            Ok(handle) => handle,
            Err(e) => {
                warn!(error = %e, "the local runner cannot start the step");
                let outcome = Outcome::Failed { error: e.into() };
                return self.settle(outcome, Vec::new(), None, token).await;
            }
        };
        if let Err(e) = self.write_claim(Some(handle.clone()), token).await {
            // The step runs on: leave it as if the worker were stopping, so this instance
            // re-attaches (its start gives the step back) when the request comes again.
            self.hand_over().await;
            return Err(e);
        }
        self.attach(handle, token).await
    }

    /// The step runs locally: carry out stops, wait for it, record how it ended.
    async fn attach(&self, handle: StepHandle, token: u64) -> Step {
        let local = &self.shared.local;
        if let Some((reason, grace)) = self.shared.attach(&self.keys.id, &handle) {
            info!(reason = reason_name(reason), "stopping the step as asked");
            local.stop(&handle, reason, grace).await;
        } else {
            // A stop asked before this worker followed steps.stop (or while it was down).
            // Best effort: the steps.stop message reaches the step too.
            let marker = read_record::<StopRecord>(&*self.shared.store, &self.keys.stop()).await;
            match marker {
                Ok(Some(stop)) if self.shared.take_for_stop(&self.keys.id).is_some() => {
                    info!(
                        reason = reason_name(stop.reason),
                        "stopping the step as asked"
                    );
                    local.stop(&handle, stop.reason, stop.grace()).await;
                }
                Ok(_) => {}
                Err(e) => debug!(error = %e, "cannot read the step's stop marker"),
            }
        }
        let ended = tokio::select! {
            ended = local.wait(&handle) => ended,
            never = self.share_live_log(&handle) => match never {},
            () = self.shared.stopping.wait() => {
                self.hand_over().await;
                return Err(GaveUp::Stopped);
            }
        };
        let logs = self.local_logs(&handle).await;
        let outcome = match ended {
            Ok(result) => Outcome::Exited { result },
            Err(e) => Outcome::Failed { error: e.into() },
        };
        self.settle(outcome, logs, Some(&handle), token).await
    }

    /// While the step runs: every [`LIVE_LOG_EVERY`], its new log lines go to the store (the
    /// [`LiveLog`] record), up to [`LIVE_LOG_MAX_BYTES`] of text, so `logs -f` elsewhere
    /// shows them before the step ends. Best effort: a failed write is tried at the next
    /// tick. Never returns (the caller stops it when the step ends).
    async fn share_live_log(&self, handle: &StepHandle) -> std::convert::Infallible {
        let key = self.keys.live();
        let mut live = LiveLog::default();
        let mut bytes = 0usize;
        let mut full = false;
        let mut shared = 0usize;
        loop {
            tokio::time::sleep(LIVE_LOG_EVERY).await;
            if !full {
                match self.shared.local.logs(handle, live.lines.len()).await {
                    Ok(new) => {
                        for line in new {
                            if bytes + line.text.len() > LIVE_LOG_MAX_BYTES {
                                full = true;
                                break;
                            }
                            bytes += line.text.len();
                            live.lines.push(line);
                        }
                    }
                    Err(e) => debug!(error = %e, "cannot read the running step's log"),
                }
            }
            if live.lines.len() > shared {
                match write_record(&*self.shared.store, &key, &live).await {
                    Ok(()) => shared = live.lines.len(),
                    Err(e) => debug!(error = %e, "cannot share the running step's log"),
                }
            }
        }
    }

    async fn local_logs(&self, handle: &StepHandle) -> Vec<LogLine> {
        match self.shared.local.logs(handle, 0).await {
            Ok(lines) => lines,
            Err(e) => {
                warn!(error = %e, "cannot read the step's log; recording the result without it");
                Vec::new()
            }
        }
    }

    /// The worker stops while the step runs: keep the lease long enough for this instance to
    /// come back and re-attach.
    async fn hand_over(&self) {
        let grace = self.shared.config.restart_grace;
        match self
            .shared
            .store
            .acquire_lease(&self.keys.lease(), self.instance(), grace)
            .await
        {
            Ok(Ok(_)) => info!(
                grace_s = grace.as_secs(),
                "worker stopping; the step goes on and its lease is kept for a restart"
            ),
            Ok(Err(_)) | Err(_) => {
                warn!(
                    "worker stopping; cannot extend the step's lease, another worker may record it as lost"
                )
            }
        }
    }

    /// Records how the step ended (unless the lease was lost or a record exists), then
    /// finishes the request.
    async fn settle(
        &self,
        outcome: Outcome,
        logs: Vec<LogLine>,
        handle: Option<&StepHandle>,
        token: u64,
    ) -> Step {
        // The step has ended: record it even if the worker is stopping meanwhile.
        if !self.still_ours(token, self.shared.to_the_end()).await? {
            if let Some(handle) = handle {
                self.shared.local.cleanup(handle).await;
            }
            return Ok(());
        }
        // Never replace a record: the controller's tombstone, or (after a lost lease) the
        // record of the worker that took over.
        if self
            .read_until::<ResultRecord>(self.keys.result(), self.shared.to_the_end())
            .await?
            .is_none()
        {
            let record = ResultRecord::new(self.keys, self.instance(), outcome, logs);
            self.write(self.keys.result(), &record, self.shared.to_the_end())
                .await?;
            debug!("result recorded");
        }
        // The result holds the whole log now. Best effort: the controller's clean-up removes
        // the live log too.
        if let Err(e) = self.shared.store.delete_meta(&self.keys.live()).await {
            debug!(error = %e, "cannot remove the step's live log");
        }
        self.notify_done().await;
        if let Some(handle) = handle {
            self.shared.local.cleanup(handle).await;
        }
        self.release().await;
        self.finish(true).await;
        Ok(())
    }

    /// The result is recorded: say so (unless `notified`) and acknowledge the request.
    async fn finish(&self, notified: bool) {
        if !notified {
            self.notify_done().await;
        }
        let acked = retry(
            "acknowledging the step request",
            self.shared.forever(),
            || self.consumer.ack(self.delivery),
        )
        .await;
        if let Err(GaveUp::Failed(e)) = acked {
            warn!(error = %e, "cannot acknowledge the step request; its next delivery finds the result");
        }
    }

    async fn notify_done(&self) {
        let message = done_message(self.keys);
        let sent = retry("publishing steps.done", self.shared.briefly(), || {
            self.shared.bus.publish(message.clone())
        })
        .await;
        if let Err(GaveUp::Failed(e)) = sent {
            warn!(error = %e, "cannot publish on steps.done; the controller finds the result by polling");
        }
    }

    async fn release(&self) {
        let lease = self.keys.lease();
        let store = &*self.shared.store;
        let released = retry(
            &format!("releasing the lease `{lease}`"),
            self.shared.briefly(),
            || store.release_lease(&lease, self.instance()),
        )
        .await;
        if let Err(GaveUp::Failed(e)) = released {
            debug!(error = %e, "cannot release the step's lease; it expires by itself");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(WorkerConfig::new("worker-1").validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let config = WorkerConfig {
            instance: String::new(),
            parallel: 0,
            ack_wait: Duration::ZERO,
            lease_ttl: Duration::from_millis(10),
            restart_grace: Duration::from_secs(7200),
            stop_grace: Duration::ZERO,
        };
        let err = config.validate().unwrap_err().to_string();
        for want in [
            "invalid worker configuration: ",
            "the instance name `` must be 1 to 253 characters",
            "parallel is 0",
            "ack_wait is 0ns",
            "lease_ttl is 10ms",
            "restart_grace is 7200s",
        ] {
            assert!(err.contains(want), "{want}: {err}");
        }
    }
}
