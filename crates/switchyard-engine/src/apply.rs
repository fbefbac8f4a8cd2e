//! The state machine's interface: [`Command`]s in, [`Action`]s out, through [`apply`].
//!
//! Contract with the shell that runs the actions:
//! - `apply` is pure: no I/O, no clock (time comes in `now`), no randomness; the same state,
//!   command and `now` give the same new state and the same actions, in the same order.
//! - The shell persists the new state **before** it carries out the actions, so every effect
//!   has been recorded first. After a crash it reloads the state and calls
//!   [`restart_actions`], which asks again for what may not have happened: starting steps
//!   whose start was not acknowledged, re-attaching to steps that were running, the next
//!   wake-up.
//! - `Tick` is idempotent: applying it twice with the same `now` starts nothing new.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use switchyard_model::workflow::Outputs;

use crate::error::EngineError;
use crate::exec::{DEADLINE_MESSAGE, Op, strategy_name};
use crate::journal::Journal;
use crate::reconcile::reconcile;
use crate::state::{Node, NodeId, NodePhase, NodeType, RunState, Shutdown, WorkflowPhase};
use crate::step::{Reattach, StepHandle, StepResult, StepSpec, StopReason};
use switchyard_model::workflow::ShutdownStrategy;

/// The start of the message of a step whose process was lost while Switchyard was down.
pub const LOST_PREFIX: &str = "the step's process was lost while Switchyard was down";

/// What happened, as told to the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start the run (the state comes from [`crate::submit`]).
    Submit,
    /// The runner started a step: its handle is now known.
    StepStarted { node: NodeId, handle: StepHandle },
    /// A step ended.
    StepExited { node: NodeId, result: StepResult },
    /// A step could not be started (the node errors with this message).
    StartFailed { node: NodeId, error: String },
    /// After a restart, what the runner found of a step that was running.
    Recovered { node: NodeId, outcome: Reattach },
    /// Time passed: timers due at `now` fire.
    Tick,
    /// Resume the suspended workflow and its suspend nodes, or the suspend nodes matching
    /// the filter (see [`NodeFilter`]).
    Resume {
        node_filter: Option<String>,
        by: String,
        message: Option<String>,
    },
    /// Suspend the workflow: running steps go on, nothing new starts until `Resume`.
    Suspend,
    /// Stop: running steps are stopped, exit handlers still run.
    Stop { by: String, message: Option<String> },
    /// Terminate: everything is stopped, exit handlers do not run.
    Terminate { by: String, message: Option<String> },
    /// Run a failed run again from where it failed: failed steps (and, with
    /// `restart_successful`, the succeeded steps matching `node_filter`) run again; steps that
    /// succeeded are kept.
    RetryFailed {
        by: String,
        restart_successful: bool,
        node_filter: Option<String>,
    },
    /// Set output parameters of suspend nodes (Argo's `argo node set`), e.g. values of
    /// `valueFrom.supplied` outputs, before resuming them.
    SetOutputs {
        node_filter: String,
        parameters: Vec<(String, String)>,
        message: Option<String>,
    },
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start a step; report `StepStarted` (or `StartFailed`), then `StepExited`. The node is
    /// [`RunState::node_of_step`] of `spec.id`; add [`RunState::secret_env`] of that node to
    /// the environment.
    StartStep(StepSpec),
    /// Stop a started step (its handle is on the node); `StepExited` follows.
    StopStep { node: NodeId, reason: StopReason },
    /// The step's result is recorded: its scratch directory may go.
    CleanupStep { node: NodeId, handle: StepHandle },
    /// After a restart: find this step again and report `Recovered`.
    Reattach { node: NodeId, handle: StepHandle },
    /// Apply `Tick` at this time (replaces any earlier `WakeAt`).
    WakeAt(DateTime<Utc>),
    /// The run ended.
    Finished { phase: WorkflowPhase },
}

/// Applies a command to a run at time `now`. On error the state is unchanged (an internal
/// error, which is a bug, is reported rather than unwinding into the caller).
///
/// The work runs on an engine thread (see `stack`), whose stack is deep enough for the
/// deepest template nesting whatever the caller's stack is.
pub fn apply(
    state: &mut RunState,
    cmd: Command,
    now: DateTime<Utc>,
) -> Result<Vec<Action>, EngineError> {
    let owned = std::mem::replace(state, RunState::placeholder());
    let (owned, result) = crate::stack::run(move || {
        let mut owned = owned;
        let result = apply_here(&mut owned, cmd, now);
        (owned, result)
    });
    *state = owned;
    result
}

/// [`apply`] on the current thread: a command that fails, or panics, is undone.
fn apply_here(
    state: &mut RunState,
    cmd: Command,
    now: DateTime<Utc>,
) -> Result<Vec<Action>, EngineError> {
    let mut journal = Journal::new(state);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        apply_inner(state, &mut journal, cmd, now)
    }));
    let error = match outcome {
        Ok(Ok(actions)) => return Ok(actions),
        Ok(Err(e)) => e,
        Err(panic) => EngineError::Internal {
            run: state.name.clone(),
            message: panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string()),
        },
    };
    journal.undo(state);
    Err(error)
}

fn apply_inner(
    state: &mut RunState,
    journal: &mut Journal,
    cmd: Command,
    now: DateTime<Utc>,
) -> Result<Vec<Action>, EngineError> {
    let mut pre = Vec::new();
    match cmd {
        Command::Submit => {
            if state.status.phase == WorkflowPhase::Pending {
                state.status.phase = WorkflowPhase::Running;
                state.status.started_at = Some(now);
                if state.spec.is_suspended() {
                    state.suspended = true;
                }
            }
        }
        Command::Tick => {}
        Command::StepStarted { node, handle } => {
            let n = step_node(state, &node)?;
            if n.handle().is_some_and(|h| *h != handle) {
                // A second, different process for the same step: keep the first, stop this one.
                return Ok(vec![Action::StopStep {
                    node,
                    reason: StopReason::Terminated,
                }]);
            }
            let fulfilled = n.fulfilled();
            let Some(n) = journal.node_mut(&mut state.status.nodes, &mut state.status.memo, &node)
            else {
                return Err(unknown(state, &node));
            };
            if let Some(step) = &mut n.step {
                step.handle = Some(handle);
                if fulfilled && step.stop.is_none() {
                    step.stop = Some(StopReason::Terminated);
                }
                if step.stop.is_some() && !step.stop_sent {
                    step.stop_sent = true;
                    pre.push(Action::StopStep {
                        node: node.clone(),
                        reason: step.stop.unwrap_or(StopReason::Stopped),
                    });
                }
            }
            if !fulfilled && n.phase == NodePhase::Pending {
                n.phase = NodePhase::Running;
            }
        }
        Command::StepExited { node, result } => {
            step_node(state, &node)?;
            record_exit(state, journal, &node, &result, now, &mut pre);
        }
        Command::StartFailed { node, error } => {
            let n = step_node(state, &node)?;
            if !n.fulfilled() {
                let stop = n.step.as_ref().and_then(|s| s.stop);
                let mut op = Op::new(state, journal, now);
                match stop {
                    Some(reason) => op.mark(&node, NodePhase::Failed, Some(&stop_message(reason))),
                    None => op.mark_error(&node, &error),
                }
            }
        }
        Command::Recovered { node, outcome } => {
            step_node(state, &node)?;
            match outcome {
                Reattach::Running => {}
                Reattach::Finished(result) => {
                    record_exit(state, journal, &node, &result, now, &mut pre)
                }
                Reattach::Lost(reason) => {
                    if state
                        .status
                        .nodes
                        .get(&node)
                        .is_some_and(|n| !n.fulfilled())
                    {
                        let mut op = Op::new(state, journal, now);
                        op.mark_error(&node, &format!("{LOST_PREFIX}: {reason}"));
                    }
                }
            }
        }
        Command::Resume {
            node_filter,
            by,
            message,
        } => resume(state, journal, node_filter, &by, message, now)?,
        Command::Suspend => {
            require_unfinished(state, "it cannot be suspended")?;
            state.suspended = true;
        }
        Command::Stop { by, message } => {
            require_unfinished(state, "it cannot be stopped")?;
            if state.shutdown.is_none() {
                state.shutdown = Some(Shutdown {
                    strategy: ShutdownStrategy::Stop,
                    by,
                    message,
                });
            }
            // A suspended run must still end: the shutdown lifts the suspension.
            state.suspended = false;
            start_if_pending(state, now);
        }
        Command::Terminate { by, message } => {
            require_unfinished(state, "it cannot be terminated")?;
            state.shutdown = Some(Shutdown {
                strategy: ShutdownStrategy::Terminate,
                by,
                message,
            });
            state.suspended = false;
            start_if_pending(state, now);
        }
        Command::RetryFailed {
            by: _,
            restart_successful,
            node_filter,
        } => retry_failed(state, journal, restart_successful, node_filter.as_deref())?,
        Command::SetOutputs {
            node_filter,
            parameters,
            message,
        } => set_outputs(state, journal, &node_filter, &parameters, message)?,
    }
    let mut actions = pre;
    actions.extend(reconcile(state, journal, now));
    Ok(actions)
}

/// What to ask the shell for after a restart, without changing the state: start the steps
/// whose start was never acknowledged, re-attach to the steps that were started, and the
/// pending wake-up.
pub fn restart_actions(state: &RunState) -> Vec<Action> {
    let mut actions = Vec::new();
    for n in state.status.nodes.values() {
        let Some(step) = &n.step else { continue };
        match (&step.handle, n.fulfilled()) {
            (Some(handle), false) => actions.push(Action::Reattach {
                node: n.id.clone(),
                handle: handle.clone(),
            }),
            (None, false) => actions.push(Action::StartStep(step.spec.clone())),
            _ => {}
        }
    }
    if let Some(at) = state.wake_at {
        actions.push(Action::WakeAt(at));
    }
    actions
}

fn unknown(state: &RunState, node: &str) -> EngineError {
    EngineError::UnknownNode {
        run: state.name.clone(),
        node: node.to_string(),
    }
}

fn step_node<'a>(state: &'a RunState, node: &str) -> Result<&'a Node, EngineError> {
    let n = state
        .status
        .nodes
        .get(node)
        .ok_or_else(|| unknown(state, node))?;
    if n.step.is_none() {
        return Err(EngineError::NotAStep {
            run: state.name.clone(),
            node: node.to_string(),
        });
    }
    Ok(n)
}

fn require_unfinished(state: &RunState, reason: &str) -> Result<(), EngineError> {
    if state.status.phase.is_finished() {
        return Err(EngineError::WrongPhase {
            run: state.name.clone(),
            phase: state.status.phase.as_str(),
            reason: reason.to_string(),
        });
    }
    Ok(())
}

/// A run stopped before it was submitted ends at once.
fn start_if_pending(state: &mut RunState, now: DateTime<Utc>) {
    if state.status.phase == WorkflowPhase::Pending {
        state.status.phase = WorkflowPhase::Running;
        state.status.started_at = Some(now);
    }
}

/// The node message of a step the engine stopped.
pub(crate) fn stop_message(reason: StopReason) -> String {
    match reason {
        StopReason::Timeout | StopReason::Deadline => DEADLINE_MESSAGE.to_string(),
        StopReason::Stopped => format!(
            "workflow shutdown with strategy:  {}",
            strategy_name(ShutdownStrategy::Stop)
        ),
        StopReason::Terminated => format!(
            "workflow shutdown with strategy:  {}",
            strategy_name(ShutdownStrategy::Terminate)
        ),
        StopReason::Shutdown => "the step was stopped because Switchyard shut down".to_string(),
    }
}

/// Records how a step ended on its node: phase, message, outputs, global outputs.
fn record_exit(
    state: &mut RunState,
    journal: &mut Journal,
    node: &str,
    result: &StepResult,
    now: DateTime<Utc>,
    actions: &mut Vec<Action>,
) {
    let Some(n) = state.status.nodes.get(node).cloned() else {
        return;
    };
    let Some(step) = &n.step else { return };
    if let Some(handle) = &step.handle {
        actions.push(Action::CleanupStep {
            node: node.to_string(),
            handle: handle.clone(),
        });
    }
    if n.fulfilled() {
        return;
    }
    // The runner knows whether it stopped the step; a step that exited 0 by itself while a
    // stop was on its way succeeded.
    let stop = result
        .stopped
        .or(step.stop.filter(|_| result.exit_code != Some(0)));
    let (mut phase, mut message) = match (stop, result.exit_code) {
        (Some(StopReason::Shutdown), _) => (NodePhase::Error, stop_message(StopReason::Shutdown)),
        (Some(reason), _) => (NodePhase::Failed, stop_message(reason)),
        (None, Some(0)) => (NodePhase::Succeeded, String::new()),
        (None, Some(code)) => (NodePhase::Failed, format!("Error (exit code {code})")),
        (None, None) => (
            NodePhase::Failed,
            if result.message.is_empty() {
                "the process was killed by a signal".to_string()
            } else {
                result.message.clone()
            },
        ),
    };
    let mut outputs = Outputs {
        result: Some(result.result.clone()),
        exit_code: result.exit_code.map(|c| c.to_string()),
        ..Outputs::default()
    };
    for declared in &step.declared_outputs {
        let mut p = declared.clone();
        let value = match result.outputs.get(&p.name) {
            Some(Ok(v)) => Some(v.clone()),
            other => {
                let default = p
                    .value_from
                    .as_ref()
                    .and_then(|f| f.default.as_ref())
                    .map(|d| d.0.clone());
                if default.is_none() && phase == NodePhase::Succeeded {
                    let reason = match other {
                        Some(Err(e)) => e.clone(),
                        _ => "the step did not write it".to_string(),
                    };
                    phase = NodePhase::Error;
                    message = format!("output parameter `{}`: {reason}", p.name);
                }
                default
            }
        };
        if let Some(v) = value {
            p.value = Some(v.into());
        }
        if let Some(from) = &mut p.value_from {
            from.default = None;
        }
        p.value_from = None;
        outputs.parameters.push(p);
    }
    let started = n.started_at;
    let finished = if result.finished_at < started {
        now.max(started)
    } else {
        result.finished_at
    };
    let mut op = Op::new(state, journal, now);
    if let Some(node_mut) = op.node_mut(node) {
        node_mut.outputs = Some(outputs.clone());
        node_mut.finished_at = Some(finished);
    }
    op.mark(node, phase, Some(&message));
    if phase == NodePhase::Succeeded {
        op.publish_global_outputs(Some(&outputs));
    }
}

/// A node filter: comma-separated `key=value` or `key!=value` terms, all of which must hold;
/// keys are `id`, `name`, `displayName`, `templateName`, `phase`. A term without `=` matches
/// a node whose id, name or display name is that text.
pub struct NodeFilter {
    terms: Vec<(Option<String>, bool, String)>,
}

impl NodeFilter {
    pub fn parse(text: &str) -> Result<NodeFilter, EngineError> {
        let bad = |reason: &str| EngineError::BadFilter {
            filter: text.to_string(),
            reason: reason.to_string(),
        };
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if let Some((k, v)) = term.split_once("!=") {
                terms.push((Some(k.trim().to_string()), false, v.trim().to_string()));
            } else if let Some((k, v)) = term.split_once('=') {
                let v = v.strip_prefix('=').unwrap_or(v);
                terms.push((Some(k.trim().to_string()), true, v.trim().to_string()));
            } else {
                terms.push((None, true, term.to_string()));
            }
        }
        if terms.is_empty() {
            return Err(bad("it is empty"));
        }
        for (k, _, _) in &terms {
            if let Some(k) = k
                && !["id", "name", "displayName", "templateName", "phase"].contains(&k.as_str())
            {
                return Err(bad(&format!(
                    "unknown field `{k}` (use id, name, displayName, templateName or phase)"
                )));
            }
        }
        Ok(NodeFilter { terms })
    }

    pub fn matches(&self, n: &Node) -> bool {
        self.terms.iter().all(|(k, eq, v)| {
            let hit = match k.as_deref() {
                None => n.id == *v || n.name == *v || n.display_name == *v,
                Some("id") => n.id == *v,
                Some("name") => n.name == *v,
                Some("displayName") => n.display_name == *v,
                Some("templateName") => n.template_name.as_deref() == Some(v.as_str()),
                Some("phase") => n.phase.as_str() == v,
                Some(_) => false,
            };
            hit == *eq
        })
    }
}

fn resume(
    state: &mut RunState,
    journal: &mut Journal,
    filter: Option<String>,
    by: &str,
    message: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    require_unfinished(state, "it cannot be resumed")?;
    let parsed = filter.as_deref().map(NodeFilter::parse).transpose()?;
    let targets: Vec<NodeId> = state
        .status
        .nodes
        .values()
        .filter(|n| n.is_active_suspend())
        .filter(|n| parsed.as_ref().is_none_or(|f| f.matches(n)))
        .map(|n| n.id.clone())
        .collect();
    let unsuspend = filter.is_none() && state.suspended;
    if targets.is_empty() && !unsuspend {
        return Err(EngineError::NothingToResume {
            run: state.name.clone(),
            filter,
        });
    }
    if unsuspend {
        state.suspended = false;
    }
    let mut op = Op::new(state, journal, now);
    for id in targets {
        op.fill_supplied_defaults(&id);
        if let Some(n) = op.node_mut(&id) {
            n.resumed_by = Some(by.to_string());
            n.resume_message = message.clone();
        }
        op.mark(&id, NodePhase::Succeeded, None);
        let outputs = op.node(&id).and_then(|n| n.outputs.clone());
        op.publish_global_outputs(outputs.as_ref());
    }
    Ok(())
}

fn set_outputs(
    state: &mut RunState,
    journal: &mut Journal,
    filter: &str,
    parameters: &[(String, String)],
    message: Option<String>,
) -> Result<(), EngineError> {
    require_unfinished(state, "its nodes cannot be changed")?;
    let parsed = NodeFilter::parse(filter)?;
    let targets: Vec<NodeId> = state
        .status
        .nodes
        .values()
        .filter(|n| n.is_active_suspend() && parsed.matches(n))
        .map(|n| n.id.clone())
        .collect();
    if targets.is_empty() {
        return Err(EngineError::NothingToResume {
            run: state.name.clone(),
            filter: Some(filter.to_string()),
        });
    }
    // A parameter the node does not declare fails the command, which undoes what was set.
    for id in targets {
        let Some(n) = journal.node_mut(&mut state.status.nodes, &mut state.status.memo, &id) else {
            continue;
        };
        let outputs = n.outputs.get_or_insert_with(Outputs::default);
        for (name, value) in parameters {
            match outputs.parameters.iter_mut().find(|p| &p.name == name) {
                Some(p) => p.value = Some(value.clone().into()),
                None => {
                    return Err(EngineError::UnknownOutput {
                        node: n.name.clone(),
                        parameter: name.clone(),
                    });
                }
            }
        }
        if let Some(m) = &message {
            n.message = Some(m.clone());
        }
    }
    Ok(())
}

/// Argo's `retry`: removes the failed steps (and what depends on them) so that the next
/// reconcile runs them again; the nodes above them go back to Running.
fn retry_failed(
    state: &mut RunState,
    journal: &mut Journal,
    restart_successful: bool,
    filter: Option<&str>,
) -> Result<(), EngineError> {
    if !matches!(
        state.status.phase,
        WorkflowPhase::Failed | WorkflowPhase::Error
    ) {
        return Err(EngineError::WrongPhase {
            run: state.name.clone(),
            phase: state.status.phase.as_str(),
            reason: "only a failed run can be retried".into(),
        });
    }
    let parsed = filter.map(NodeFilter::parse).transpose()?;
    let leaf = |t: NodeType| {
        matches!(
            t,
            NodeType::Pod | NodeType::Container | NodeType::Suspend | NodeType::Skipped
        )
    };
    let mut delete: BTreeSet<NodeId> = BTreeSet::new();
    for n in state.status.nodes.values() {
        let failed_leaf = leaf(n.node_type) && n.phase.failed_or_error();
        let restart = restart_successful
            && leaf(n.node_type)
            && n.phase == NodePhase::Succeeded
            && parsed.as_ref().is_none_or(|f| f.matches(n));
        if failed_leaf || restart || n.phase == NodePhase::Omitted || n.exit_handler || n.hooked() {
            delete.insert(n.id.clone());
        }
    }
    // What belongs to a deleted node goes with it.
    loop {
        let more: Vec<NodeId> = state
            .status
            .nodes
            .values()
            .filter(|n| !delete.contains(&n.id))
            .filter(|n| n.boundary_id.as_ref().is_some_and(|b| delete.contains(b)))
            .map(|n| n.id.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        delete.extend(more);
    }
    // Everything above a deleted node runs again.
    let mut reset: BTreeSet<NodeId> = BTreeSet::new();
    let mut frontier: Vec<NodeId> = delete.iter().cloned().collect();
    while let Some(id) = frontier.pop() {
        let parents: Vec<NodeId> = state
            .status
            .nodes
            .values()
            .filter(|p| !delete.contains(&p.id))
            .filter(|p| {
                (p.children.contains(&id)
                    && matches!(
                        p.node_type,
                        NodeType::StepGroup | NodeType::TaskGroup | NodeType::Retry
                    ))
                    || state
                        .status
                        .nodes
                        .get(&id)
                        .and_then(|n| n.boundary_id.as_ref())
                        == Some(&p.id)
            })
            .map(|p| p.id.clone())
            .collect();
        for p in parents {
            if reset.insert(p.clone()) {
                frontier.push(p);
            }
        }
    }
    if let Some(root) = state.status.nodes.get(&state.name)
        && !delete.contains(&root.id)
    {
        reset.insert(root.id.clone());
    }
    // The retry rewrites the tree: the journal keeps all of it.
    journal.touch_all(&state.status.nodes, &mut state.status.memo);
    for id in &delete {
        state.status.nodes.remove(id);
    }
    for n in state.status.nodes.values_mut() {
        n.children.retain(|c| !delete.contains(c));
        n.outbound_nodes.retain(|c| !delete.contains(c));
        if reset.contains(&n.id) {
            n.phase = NodePhase::Running;
            n.finished_at = None;
            n.message = None;
            if n.node_type != NodeType::Pod {
                n.outputs = None;
            }
            n.outbound_nodes.clear();
        }
    }
    state.generation += 1;
    state.status.phase = WorkflowPhase::Running;
    state.status.finished_at = None;
    state.status.message = None;
    state.shutdown = None;
    state.suspended = false;
    Ok(())
}
