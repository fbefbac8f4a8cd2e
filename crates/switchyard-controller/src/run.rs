//! One run's actor: the thin shell around the engine's pure core.
//!
//! Each live run has one task that owns its [`RunState`]. It takes every message waiting in
//! its mailbox (step results, user commands, its timer), applies them to the state with
//! [`switchyard_engine::apply`], writes the new status **once** for the whole batch (with the
//! logs of the steps that ended), and only then carries out the actions. Many steps ending
//! together therefore cost one commit, and no effect is ever visible before the state that
//! caused it is durable.
//!
//! Batches that only record that steps started are not written at once: a crash before the
//! next write loses nothing, because after a restart the engine asks to start those steps
//! again and the runner hands back the step it already started (a step id runs once).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchyard_engine::{
    Action, Command, LogLine, NodeId, Reattach, RunState, StepHandle, StepResult, StepSpec,
    StopReason, WorkflowPhase, apply,
};
use switchyard_store::{ObjectKey, Precondition, StatusUpdate, StepLog, StoreError};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::controller::Shared;
use crate::error::ControllerError;
use crate::metrics;
use crate::record;
use crate::secrets;

/// How long a batch that only recorded step starts may wait before it is written anyway.
const LAZY_WRITE_DELAY: Duration = Duration::from_millis(250);
/// The most messages applied before one write.
const MAX_BATCH: usize = 512;
/// Retries of a write the store calls retryable (it is unavailable), with a growing pause.
const WRITE_RETRY_MAX_PAUSE: Duration = Duration::from_secs(5);

pub(crate) type Reply = oneshot::Sender<Result<(), ControllerError>>;

/// What reaches a run's mailbox.
#[allow(clippy::large_enum_variant)] // almost every message is an `Apply`
pub(crate) enum Msg {
    /// A command for the engine; `log` travels with a step's end and is written with it.
    Apply {
        cmd: Command,
        log: Option<StepLog>,
        /// Whether this message ends a step task (its last message).
        last_of_task: bool,
        reply: Option<Reply>,
    },
    /// The run's object was deleted: stop its steps and end without writing.
    Deleted { reply: oneshot::Sender<()> },
}

impl Msg {
    pub(crate) fn command(cmd: Command, reply: Option<Reply>) -> Msg {
        Msg::Apply {
            cmd,
            log: None,
            last_of_task: false,
            reply,
        }
    }
}

pub(crate) struct RunActor {
    key: ObjectKey,
    state: RunState,
    resource_version: u64,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Msg>,
    tx: mpsc::UnboundedSender<Msg>,
    wake_at: Option<DateTime<Utc>>,
    /// Step tasks that will still send a message.
    outstanding: usize,
    /// Applied but not yet written (step starts only).
    unwritten_since: Option<tokio::time::Instant>,
    phase: WorkflowPhase,
    /// The controller's generation this actor belongs to; a newer one means the process
    /// stood down and the run must be let go.
    generation: u64,
    generations: watch::Receiver<u64>,
}

/// How a batch went.
struct Batch {
    actions: Vec<Action>,
    replies: Vec<(Reply, Result<(), ControllerError>)>,
    logs: Vec<StepLog>,
    must_write: bool,
    changed: bool,
}

impl RunActor {
    pub(crate) fn new(
        state: RunState,
        resource_version: u64,
        shared: Arc<Shared>,
        rx: mpsc::UnboundedReceiver<Msg>,
        tx: mpsc::UnboundedSender<Msg>,
    ) -> Self {
        let key = ObjectKey::new(
            switchyard_model::Kind::Workflow,
            state.namespace.clone(),
            state.name.clone(),
        );
        let phase = state.status.phase;
        let generations = shared.generation.subscribe();
        let generation = *generations.borrow();
        RunActor {
            key,
            state,
            resource_version,
            shared,
            rx,
            tx,
            wake_at: None,
            outstanding: 0,
            unwritten_since: None,
            phase,
            generation,
            generations,
        }
    }

    /// Whether the process stood down since this actor started (it must let the run go).
    fn stood_down(&self) -> bool {
        *self.generations.borrow() != self.generation
    }

    /// Runs the actor until the run has ended and nothing is outstanding, or it is dormant. `initial` are the
    /// actions to carry out first (after a restart: re-attach, start, wake up).
    pub(crate) async fn run(mut self, initial: Vec<Action>) {
        let span = info_span!("run", run = %self.key.name, namespace = %self.key.namespace, uid = %self.state.uid);
        async move {
            self.carry_out(initial);
            loop {
                if !self.serve().await {
                    return;
                }
                // Ended or dormant: leave, unless a message arrived meanwhile (then serve it).
                if self.shared.leave(&self.key, &self.tx, &self.rx) {
                    return;
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Serves messages until the run has ended with nothing outstanding or is dormant (true),
    /// or the actor must stop for good (false: the run was deleted, or its status cannot be
    /// written).
    async fn serve(&mut self) -> bool {
        loop {
            if self.stood_down() {
                self.let_go();
                return false;
            }
            if (self.finished() || self.dormant()) && self.rx.is_empty() {
                if self.unwritten_since.is_some()
                    && let Err(e) = self.write(Vec::new()).await
                {
                    self.fail(e).await;
                    return false;
                }
                return true;
            }
            let Some(first) = self.next_message().await else {
                if self.wake_due() {
                    self.wake_at = None;
                    if !self
                        .handle_batch(vec![Msg::command(Command::Tick, None)])
                        .await
                    {
                        return false;
                    }
                } else if self.unwritten_since.is_some()
                    && let Err(e) = self.write(Vec::new()).await
                {
                    self.fail(e).await;
                    return false;
                }
                continue;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            metrics::dequeued(batch.len());
            if let Some(reply) = self.take_deleted(&mut batch) {
                self.stop_everything(StopReason::Terminated).await;
                self.shared.remove(&self.key, &self.tx);
                let _ = reply.send(());
                return false;
            }
            if !self.handle_batch(batch).await {
                return false;
            }
        }
    }

    fn finished(&self) -> bool {
        self.state.status.phase.is_finished() && self.outstanding == 0
    }

    /// Running with nothing to wait for here: no step task, no timer. A run waiting for an
    /// approval is the common case. Its actor leaves (after writing what is unwritten) and
    /// its state leaves memory; the next command starts an actor from the stored run (see
    /// `Controller::mailbox`). A Pending run is never dormant: its `Submit` is on its way.
    fn dormant(&self) -> bool {
        self.state.status.phase == WorkflowPhase::Running
            && self.outstanding == 0
            && self.wake_at.is_none()
    }

    fn wake_due(&self) -> bool {
        self.wake_at.is_some_and(|t| t <= Utc::now())
    }

    /// The next message, or `None` when the timer or the lazy write is due.
    async fn next_message(&mut self) -> Option<Msg> {
        let timer = self.wake_at.map(|t| {
            (t - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(Duration::from_secs(24 * 3600))
        });
        let lazy = self.unwritten_since.map(|since| {
            (since + LAZY_WRITE_DELAY).saturating_duration_since(tokio::time::Instant::now())
        });
        let wait = match (timer, lazy) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let generation = self.generation;
        let mut generations = self.generations.clone();
        // Wakes the actor when the process stands down (then `serve` lets the run go).
        let stood_down = async move {
            let _ = generations.wait_for(|g| *g != generation).await;
        };
        match wait {
            Some(d) => tokio::select! {
                m = self.rx.recv() => m,
                () = tokio::time::sleep(d) => None,
                () = stood_down => None,
            },
            // The actor holds a sender itself, so `recv` never returns None unless stood down.
            None => tokio::select! {
                m = self.rx.recv() => m,
                () = stood_down => None,
            },
        }
    }

    fn take_deleted(&mut self, batch: &mut Vec<Msg>) -> Option<oneshot::Sender<()>> {
        let i = batch
            .iter()
            .position(|m| matches!(m, Msg::Deleted { .. }))?;
        match batch.swap_remove(i) {
            Msg::Deleted { reply } => Some(reply),
            Msg::Apply { .. } => None,
        }
    }

    /// Applies a batch, writes it, answers the callers and carries out the actions. Returns
    /// false when the actor must end (its status can no longer be written).
    async fn handle_batch(&mut self, batch: Vec<Msg>) -> bool {
        let started = std::time::Instant::now();
        let mut b = Batch {
            actions: Vec::new(),
            replies: Vec::new(),
            logs: Vec::new(),
            must_write: false,
            changed: false,
        };
        let now = Utc::now();
        for msg in batch {
            let Msg::Apply {
                cmd,
                log,
                last_of_task,
                reply,
            } = msg
            else {
                continue;
            };
            if last_of_task {
                self.outstanding = self.outstanding.saturating_sub(1);
            }
            let lazy = matches!(
                cmd,
                Command::StepStarted { .. }
                    | Command::Recovered {
                        outcome: Reattach::Running,
                        ..
                    }
            );
            let tick = matches!(cmd, Command::Tick);
            let before_wake = self.state.wake_at;
            match apply(&mut self.state, cmd, now) {
                Ok(actions) => {
                    b.changed |= !tick || !actions.is_empty();
                    if !actions.is_empty()
                        || (!lazy && !tick)
                        || reply.is_some()
                        || self.state.wake_at != before_wake
                    {
                        b.must_write = true;
                    }
                    b.actions.extend(actions);
                    if let Some(r) = reply {
                        b.replies.push((r, Ok(())));
                    }
                }
                Err(e) => {
                    warn!(error = %e, "command refused");
                    if let Some(r) = reply {
                        b.replies.push((r, Err(e.into())));
                    }
                }
            }
            b.logs.extend(log);
        }
        metrics::operation(started.elapsed());
        if !b.logs.is_empty() {
            b.must_write = true;
        }
        if b.must_write {
            if let Err(e) = self.write(std::mem::take(&mut b.logs)).await {
                for (r, _) in b.replies {
                    let _ = r.send(Err(e.clone().into()));
                }
                self.fail(e).await;
                return false;
            }
        } else if b.changed && self.unwritten_since.is_none() {
            self.unwritten_since = Some(tokio::time::Instant::now());
        }
        for (r, result) in b.replies {
            let _ = r.send(result);
        }
        self.carry_out(b.actions);
        true
    }

    /// Writes the status (and the logs), retrying while the store is unavailable.
    async fn write(&mut self, logs: Vec<StepLog>) -> Result<(), StoreError> {
        let mut pause = Duration::from_millis(50);
        // Whether an earlier attempt failed in a way that may have committed it all the same.
        let mut maybe_written = false;
        loop {
            if self.stood_down() {
                return Err(StoreError::Unavailable {
                    reason: "this process stood down; another drives the run".to_owned(),
                });
            }
            let status = record::status_of(&self.state).map_err(|e| StoreError::Internal {
                reason: format!("cannot serialize the run's status: {e}"),
            })?;
            let update = StatusUpdate {
                key: self.key.clone(),
                status,
                precondition: Precondition::ResourceVersion(self.resource_version),
                logs: logs.clone(),
            };
            let fence = self.shared.fence();
            let written = match &fence {
                Some(fence) => self.shared.store.put_status_fenced(update, fence).await,
                None => self.shared.store.put_status(update).await,
            };
            match written {
                Ok(object) => {
                    self.written(object.resource_version);
                    return Ok(());
                }
                Err(e) if e.is_retryable() => {
                    warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "cannot write the run's status; retrying");
                    maybe_written = true;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(WRITE_RETRY_MAX_PAUSE);
                }
                Err(conflict @ StoreError::Conflict { .. }) if maybe_written => {
                    // The earlier attempt was committed after all (the connection broke while
                    // committing) when the stored status is the one written; anything else
                    // means another writer.
                    let status = record::status_of(&self.state).ok();
                    match self.shared.store.get(&self.key).await {
                        Ok(Some(stored))
                            if status.is_some() && stored.body.get("status") == status.as_ref() =>
                        {
                            info!("the status write that seemed to fail had been committed");
                            self.written(stored.resource_version);
                            return Ok(());
                        }
                        Ok(Some(_)) => return Err(conflict),
                        Ok(None) => {
                            return Err(StoreError::NotFound {
                                key: self.key.clone(),
                            });
                        }
                        Err(e) if e.is_retryable() => {
                            tokio::time::sleep(pause).await;
                            pause = (pause * 2).min(WRITE_RETRY_MAX_PAUSE);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The status as it is now was stored with `resource_version`.
    fn written(&mut self, resource_version: u64) {
        self.resource_version = resource_version;
        self.unwritten_since = None;
        let phase = self.state.status.phase;
        if phase != self.phase {
            metrics::phase_changed(Some(self.phase), phase);
            if phase.is_finished() {
                info!(
                    phase = phase.as_str(),
                    message = self.state.status.message.as_deref().unwrap_or(""),
                    "run finished"
                );
                if let Some(at) =
                    switchyard_engine::ttl::expires_at(&self.state.spec, &self.state.status)
                {
                    crate::controller::Controller::of(self.shared.clone())
                        .expire_at(self.key.clone(), at);
                }
            }
            self.phase = phase;
        }
    }

    /// The status cannot be written any more (the run was deleted or another process owns
    /// it): stop acting on it.
    async fn fail(&mut self, e: StoreError) {
        if self.stood_down() {
            self.let_go();
            return;
        }
        match &e {
            StoreError::NotFound { .. } => {
                info!("the run was deleted; stopping its steps");
                self.stop_everything(StopReason::Terminated).await;
            }
            StoreError::Fenced { .. } => {
                warn!(error = %e, "another process holds the controller lease; the run is left to it (its steps go on)")
            }
            _ => {
                error!(error = %e, "cannot write the run's status; the run is no longer driven by this process")
            }
        }
        self.shared.remove(&self.key, &self.tx);
    }

    /// The process stood down: leave the run (its steps too) to the next driver.
    fn let_go(&mut self) {
        info!("this process stood down; the run is left to the process that drives the runs now");
        self.shared.remove(&self.key, &self.tx);
    }

    async fn stop_everything(&mut self, reason: StopReason) {
        for n in self.state.status.nodes.values() {
            if !n.fulfilled()
                && let Some(h) = n.handle()
            {
                self.shared
                    .runner
                    .stop(h, reason, self.shared.config.stop_grace)
                    .await;
            }
        }
    }

    /// Carries out actions whose state is durable.
    fn carry_out(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::StartStep(spec) => self.start_step(spec),
                Action::StopStep { node, reason } => {
                    let Some(handle) = self
                        .state
                        .status
                        .nodes
                        .get(&node)
                        .and_then(|n| n.handle().cloned())
                    else {
                        continue;
                    };
                    let runner = self.shared.runner.clone();
                    let grace = self.shared.config.stop_grace;
                    tokio::spawn(async move { runner.stop(&handle, reason, grace).await });
                }
                Action::CleanupStep { handle, .. } => {
                    let runner = self.shared.runner.clone();
                    tokio::spawn(async move { runner.cleanup(&handle).await });
                }
                Action::Reattach { node, handle } => self.reattach(node, handle),
                Action::WakeAt(t) => self.wake_at = Some(t),
                Action::Finished { phase } => {
                    debug!(phase = phase.as_str(), "run ended");
                }
            }
        }
    }

    fn start_step(&mut self, mut spec: StepSpec) {
        let Some(node) = self.state.node_of_step(&spec.id).map(|n| n.id.clone()) else {
            warn!(step = %spec.id, "the engine asked to start a step of no node");
            return;
        };
        let secret_env = self.state.secret_env(&node).to_vec();
        self.outstanding += 1;
        let tx = self.tx.clone();
        let shared = self.shared.clone();
        let namespace = self.state.namespace.clone();
        let span = info_span!("step", step = %spec.id, node = %node);
        tokio::spawn(
            self.until_stood_down(async move {
                if !secret_env.is_empty() {
                    match secrets::resolve(shared.store.as_ref(), &namespace, &secret_env).await {
                        Ok(vars) => spec.env.extend(vars),
                        Err(message) => {
                            start_failed(&tx, node, message);
                            return;
                        }
                    }
                }
                let handle = match shared.runner.start(&spec).await {
                    Ok(h) => h,
                    Err(e) => {
                        start_failed(&tx, node, e.to_string());
                        return;
                    }
                };
                metrics::step_started();
                send(
                    &tx,
                    Command::StepStarted {
                        node: node.clone(),
                        handle: handle.clone(),
                    },
                    None,
                    false,
                );
                wait_for(&shared, &tx, node, handle).await;
            })
            .instrument(span),
        );
    }

    /// Wraps a step task so that it ends when the process stands down: the step itself goes
    /// on, and the process that drives the runs next re-attaches to it.
    fn until_stood_down<F>(&self, task: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let generation = self.generation;
        let mut generations = self.generations.clone();
        async move {
            tokio::select! {
                () = task => {}
                _ = generations.wait_for(|g| *g != generation) => {}
            }
        }
    }

    fn reattach(&mut self, node: NodeId, handle: StepHandle) {
        self.outstanding += 1;
        let tx = self.tx.clone();
        let shared = self.shared.clone();
        let span = info_span!("step", step = %handle.id, node = %node);
        tokio::spawn(
            self.until_stood_down(async move {
                match shared.runner.reattach(&handle).await {
                    Reattach::Running => {
                        info!("re-attached to a running step");
                        metrics::step_started();
                        send(
                            &tx,
                            Command::Recovered {
                                node: node.clone(),
                                outcome: Reattach::Running,
                            },
                            None,
                            false,
                        );
                        wait_for(&shared, &tx, node, handle).await;
                    }
                    Reattach::Finished(result) => {
                        info!("the step finished while Switchyard was down");
                        let log = collect_log(&shared, &handle).await;
                        send(
                            &tx,
                            Command::Recovered {
                                node,
                                outcome: Reattach::Finished(result),
                            },
                            log,
                            true,
                        );
                    }
                    Reattach::Lost(reason) => {
                        warn!(%reason, "the step's process was lost");
                        send(
                            &tx,
                            Command::Recovered {
                                node,
                                outcome: Reattach::Lost(reason),
                            },
                            None,
                            true,
                        );
                    }
                }
            })
            .instrument(span),
        );
    }
}

/// The step task's last message when the step could not be started or waited for.
fn start_failed(tx: &mpsc::UnboundedSender<Msg>, node: NodeId, error: String) {
    send(tx, Command::StartFailed { node, error }, None, true);
}

fn send(tx: &mpsc::UnboundedSender<Msg>, cmd: Command, log: Option<StepLog>, last_of_task: bool) {
    metrics::enqueued();
    let _ = tx.send(Msg::Apply {
        cmd,
        log,
        last_of_task,
        reply: None,
    });
}

async fn wait_for(
    shared: &Arc<Shared>,
    tx: &mpsc::UnboundedSender<Msg>,
    node: NodeId,
    handle: StepHandle,
) {
    let result = match shared.runner.wait(&handle).await {
        Ok(r) => r,
        Err(e) => {
            metrics::step_finished(None);
            start_failed(tx, node, e.to_string());
            return;
        }
    };
    metrics::step_finished(Some(&result));
    let log = collect_log(shared, &handle).await;
    send(tx, Command::StepExited { node, result }, log, true);
}

/// The step's whole log, in the stored format: one JSON [`LogLine`] per line.
async fn collect_log(shared: &Shared, handle: &StepHandle) -> Option<StepLog> {
    match shared.runner.logs(handle, 0).await {
        Ok(lines) => Some(StepLog {
            step: handle.id.clone(),
            text: encode_log(&lines),
        }),
        Err(e) => {
            warn!(error = %e, "cannot read the step's log");
            None
        }
    }
}

/// Stored log text: one JSON [`LogLine`] per line.
pub(crate) fn encode_log(lines: &[LogLine]) -> String {
    let mut out = String::new();
    for line in lines {
        if let Ok(json) = serde_json::to_string(line) {
            out.push_str(&json);
            out.push('\n');
        }
    }
    out
}

/// Reads stored log text back; lines that do not parse are skipped.
pub(crate) fn decode_log(text: &str) -> Vec<LogLine> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// For [`StepResult`]s in metrics.
pub(crate) fn step_seconds(result: &StepResult) -> f64 {
    (result.finished_at - result.started_at)
        .to_std()
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
