//! The reconcile loop (Argo's `operate`): enforce shutdown, deadlines and step timeouts; walk
//! from the entrypoint; run the workflow's lifecycle hooks and exit handler; decide the run's
//! phase; compute progress and the timers to wake up for.
//!
//! A pass may leave work that only the next pass sees (Argo requeues the workflow); passes
//! are repeated until one changes nothing, so one command reaches the same state Argo would
//! after its requeues. Whether a pass changed something is told by the nodes it touched (the
//! journal) and the run's own status fields.

use chrono::{DateTime, Utc};
use switchyard_model::workflow::{Arguments, ShutdownStrategy};

use crate::apply::Action;
use crate::exec::{DEADLINE_MESSAGE, ExecErr, Op, Opts, strategy_name};
use crate::journal::{Journal, StatusFields};
use crate::naming::{self, go_json_string, go_quote};
use crate::resolve::{Call, Scope};
use crate::schedule::PENDING_TIMEOUT_MESSAGE;
use crate::state::{NodeFlag, NodePhase, NodeType, RunState, Timer, TimerKind, WorkflowPhase};
use crate::step::StopReason;

/// Most passes per command; each pass that changes something brings the run closer to a
/// fixed point, so this is a guard, not a limit reached in practice.
const MAX_PASSES: usize = 64;

/// Reconciles the run at `now` and returns the actions to carry out. Every change goes
/// through `journal`.
pub(crate) fn reconcile(
    st: &mut RunState,
    journal: &mut Journal,
    now: DateTime<Utc>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    for _ in 0..MAX_PASSES {
        let before = StatusFields::of(&st.status);
        journal.begin_pass();
        let mut op = Op::new(st, journal, now);
        op.pass();
        actions.append(&mut op.actions);
        // What a pass can change: nodes (all journaled) and the run's own status fields.
        if !journal.pass_changed(&st.status.nodes) && StatusFields::of(&st.status) == before {
            break;
        }
    }
    let mut op = Op::new(st, journal, now);
    op.update_progress();
    op.finish_timers(&mut actions);
    op.release_memo_if_idle();
    actions
}

impl Op<'_> {
    /// One pass.
    fn pass(&mut self) {
        if *self.phase != WorkflowPhase::Running {
            return;
        }
        self.enforce();
        if self.suspended {
            return;
        }
        let entry = self.run.spec.entrypoint.clone().unwrap_or_default();
        let wf = self.run.name.to_string();
        let args: Arguments = self.run.arguments.clone();
        let root = match self.execute_template(
            &wf,
            &Call::named(&entry),
            &Scope::Local,
            &args,
            &Opts::default(),
        ) {
            Ok(id) => id,
            Err(ExecErr::Parallelism) => return,
            Err(ExecErr::Fail(message)) => {
                self.finish(
                    WorkflowPhase::Error,
                    &format!("error in entry template execution: {message}"),
                );
                return;
            }
        };
        let Some(root_node) = self.node(&root).cloned() else {
            return;
        };
        let status = workflow_phase_of(root_node.phase);
        self.globals
            .insert("workflow.status".into(), status.as_str().to_string());
        let failures = self.failures_json();
        self.globals.insert("workflow.failures".into(), failures);

        // Workflow-level lifecycle hooks other than `exit`.
        let mut hooks_done = true;
        let hooks: Vec<(String, switchyard_model::workflow::LifecycleHook)> = self
            .run
            .spec
            .hooks
            .iter()
            .filter(|(n, _)| n.as_str() != switchyard_model::workflow::EXIT_HOOK)
            .map(|(n, h)| (n.clone(), h.clone()))
            .collect();
        for (hook_name, hook) in hooks {
            let node_name = format!("{wf}.hooks.{hook_name}");
            let expression = hook.expression.clone().unwrap_or_default();
            if expression.is_empty() {
                let id = root.clone();
                self.mark_error(&id, &format!("Expression required for hook {node_name}"));
                continue;
            }
            let run = match crate::vars::eval_bool(&expression, &self.globals) {
                Ok(b) => b,
                Err(message) => {
                    let id = root.clone();
                    self.mark_error(&id, &message);
                    continue;
                }
            };
            if !run && self.node_named(&node_name).is_none() {
                continue;
            }
            let opts = Opts {
                flag: Some(NodeFlag {
                    hooked: true,
                    retried: false,
                }),
                ..Opts::default()
            };
            let _ = self.execute_template(
                &node_name,
                &Call::of_hook(&hook),
                &Scope::Local,
                &hook.arguments,
                &opts,
            );
            self.add_child(&wf, &node_name);
            if !self.node_named(&node_name).is_some_and(|n| n.fulfilled()) {
                hooks_done = false;
            }
        }
        if !hooks_done || !root_node.fulfilled() {
            return;
        }

        // The exit handler.
        let mut exit_node = None;
        if let Some(hook) = self.run.spec.exit_hook() {
            let name = format!("{wf}.onExit");
            if self.node_named(&name).is_some() || self.should_execute(true) {
                let opts = Opts {
                    on_exit: true,
                    flag: Some(NodeFlag {
                        hooked: true,
                        retried: false,
                    }),
                    ..Opts::default()
                };
                match self.execute_template(
                    &name,
                    &Call::of_hook(&hook),
                    &Scope::Local,
                    &hook.arguments,
                    &opts,
                ) {
                    Ok(id) => exit_node = self.node(&id).cloned(),
                    Err(ExecErr::Parallelism) => return,
                    Err(ExecErr::Fail(message)) => {
                        self.finish(
                            WorkflowPhase::Error,
                            &format!("error in exit template execution : {message}"),
                        );
                        return;
                    }
                }
                if !exit_node.as_ref().is_some_and(|n| n.fulfilled()) {
                    return;
                }
            }
        }
        let message = match (self.shutdown, root_node.phase.failed_or_error()) {
            (Some(s), true) => format!("Stopped with strategy '{}'", strategy_name(s.strategy)),
            _ => root_node.message.clone().unwrap_or_default(),
        };
        match status {
            WorkflowPhase::Succeeded => match exit_node.filter(|n| n.phase.failed_or_error()) {
                Some(n) => {
                    let phase = if n.phase == NodePhase::Failed {
                        WorkflowPhase::Failed
                    } else {
                        WorkflowPhase::Error
                    };
                    self.finish(phase, n.message.as_deref().unwrap_or(""));
                }
                None => self.finish(WorkflowPhase::Succeeded, ""),
            },
            WorkflowPhase::Failed | WorkflowPhase::Error => self.finish(status, &message),
            _ => {}
        }
    }

    /// Ends the run.
    pub(crate) fn finish(&mut self, phase: WorkflowPhase, message: &str) {
        if self.phase.is_finished() {
            return;
        }
        *self.phase = phase;
        *self.message = (!message.is_empty()).then(|| message.to_string());
        *self.finished_at = Some(self.now);
        let now = self.now;
        if phase == WorkflowPhase::Error
            && let Some(root) = self.node_mut(self.run.name)
            && root.phase == NodePhase::Running
        {
            root.phase = NodePhase::Error;
            root.message = Some("Workflow operation error".into());
            root.finished_at = Some(now);
        }
        self.actions.push(Action::Finished { phase });
    }

    /// Stops what must stop: everything but exit handlers on `stop`, everything on
    /// `terminate`, what is past the workflow deadline, steps past their own timeout.
    fn enforce(&mut self) {
        let deadline_passed = self.deadline_passed();
        let shutdown = self.shutdown.map(|s| s.strategy);
        // Without a shutdown or a passed workflow deadline, only steps with a timeout can
        // have anything to do.
        let index = self.index();
        let ids: Vec<String> = if shutdown.is_none() && !deadline_passed {
            index.deadlines.iter().cloned().collect()
        } else {
            index.unfulfilled.iter().cloned().collect()
        };
        for id in ids {
            let Some(node) = self.node(&id) else {
                continue;
            };
            let is_step = node.step.is_some();
            let exit_handler = node.exit_handler;
            let node_type = node.node_type;
            let pending = node.phase == NodePhase::Pending;
            let timed_out = node.deadline.is_some_and(|d| self.now >= d);
            // A pod left Pending because the node cannot take it (see `schedule`): nothing of
            // it runs, so it is failed where a started one would be stopped. (A container set
            // that has container nodes was taken; its containers are handled one by one.)
            let unscheduled = node_type == NodeType::Pod
                && pending
                && !is_step
                && !node.children.iter().any(|c| {
                    self.node(c)
                        .is_some_and(|n| n.node_type == NodeType::Container)
                });
            if let Some(strategy) = shutdown
                && !self.should_execute(exit_handler)
            {
                let message = format!("Stopped with strategy '{}'", strategy_name(strategy));
                if is_step {
                    let reason = match strategy {
                        ShutdownStrategy::Stop => StopReason::Stopped,
                        ShutdownStrategy::Terminate => StopReason::Terminated,
                    };
                    self.request_stop(&id, reason);
                } else if node_type == NodeType::Suspend
                    || (matches!(node_type, NodeType::Container | NodeType::Pod)
                        && pending
                        && !node
                            .children
                            .iter()
                            .any(|c| self.node(c).is_some_and(|n| !n.fulfilled())))
                    || (node_type == NodeType::Retry && self.children_fulfilled(&id))
                {
                    self.mark(&id, NodePhase::Failed, Some(&message));
                }
                continue;
            }
            if deadline_passed && !exit_handler {
                if is_step {
                    self.request_stop(&id, StopReason::Deadline);
                } else if node_type == NodeType::Suspend
                    || (node_type == NodeType::Container && pending)
                    || unscheduled
                {
                    self.mark(&id, NodePhase::Failed, Some(DEADLINE_MESSAGE));
                }
                continue;
            }
            if is_step && timed_out {
                self.request_stop(&id, StopReason::Timeout);
            } else if unscheduled && timed_out {
                self.mark(&id, NodePhase::Failed, Some(PENDING_TIMEOUT_MESSAGE));
            }
        }
    }

    /// Asks for a step to be stopped (once); the `StopStep` action goes out as soon as the
    /// step has a handle.
    pub(crate) fn request_stop(&mut self, id: &str, reason: StopReason) {
        let mut action = None;
        if let Some(n) = self.node_mut(id)
            && let Some(step) = &mut n.step
        {
            if step.stop.is_none() {
                step.stop = Some(reason);
            }
            if step.handle.is_some() && !step.stop_sent {
                step.stop_sent = true;
                action = Some(Action::StopStep {
                    node: id.to_string(),
                    reason: step.stop.unwrap_or(reason),
                });
            }
        }
        if let Some(a) = action {
            self.actions.push(a);
        }
    }

    /// `workflow.failures`: the failed and errored nodes as a JSON list, Go-quoted as Argo
    /// passes it (`"null"` when there are none).
    fn failures_json(&mut self) -> String {
        let workflow = self.run.name;
        let mut items = Vec::new();
        let (index, nodes) = self.indexed();
        for n in index.failed.iter().filter_map(|id| nodes.get(id)) {
            let template = n
                .template_name
                .clone()
                .or_else(|| n.template_ref.as_ref().and_then(|r| r.template.clone()))
                .unwrap_or_default();
            let finished = match n.finished_at {
                Some(t) => go_json_string(&naming::rfc3339(t)),
                None => "null".to_string(),
            };
            items.push(format!(
                "{{\"displayName\":{},\"message\":{},\"templateName\":{},\"phase\":{},\"podName\":{},\"finishedAt\":{}}}",
                go_json_string(&n.display_name),
                go_json_string(n.message.as_deref().unwrap_or("")),
                go_json_string(&template),
                go_json_string(n.phase.as_str()),
                go_json_string(&naming::pod_name(workflow, &n.name, &template)),
                finished
            ));
        }
        let json = if items.is_empty() {
            "null".to_string()
        } else {
            format!("[{}]", items.join(","))
        };
        go_quote(&json)
    }

    /// Argo's progress: leaf steps (Pod, Container, Suspend nodes) count `0/1`, or `1/1`
    /// once succeeded; every other node sums the leaf steps under it.
    fn update_progress(&mut self) {
        // A leaf step's progress changes with its phase, so only the nodes this command
        // touched can need a new one (all of them the first time the memo looks).
        let touched = self.touched_since_progress();
        let (changed, total) = self.progress_changes(touched.as_deref());
        for (id, text) in changed {
            self.set_progress(&id, text);
        }
        *self.progress = total;
    }

    /// Collects the timers (the workflow deadline, and the wake-up times kept on nodes: step
    /// timeouts, suspend durations, retry backoffs) and emits `WakeAt` when the soonest one
    /// changed.
    fn finish_timers(&mut self, actions: &mut Vec<Action>) {
        let mut timers = Vec::new();
        if *self.phase != WorkflowPhase::Running {
            self.timers.clear();
            *self.wake_at = None;
            return;
        }
        if let Some(d) = self.workflow_deadline()
            && d > self.now
        {
            timers.push(Timer {
                at: d,
                kind: TimerKind::WorkflowDeadline,
                node: None,
            });
        }
        let now = self.now;
        let (index, nodes) = self.indexed();
        for n in index.deadlines.iter().filter_map(|id| nodes.get(id)) {
            let Some(at) = n.deadline.filter(|d| *d > now && !n.fulfilled()) else {
                continue;
            };
            let kind = match (&n.step, n.node_type) {
                (Some(step), _) if step.stop.is_none() => TimerKind::StepTimeout,
                (Some(_), _) => continue,
                (None, NodeType::Suspend) => TimerKind::Suspend,
                (None, NodeType::Retry) => TimerKind::Backoff,
                // A pod left Pending by the scheduler, until its `timeout`/`pendingTimeout`.
                (None, NodeType::Pod) => TimerKind::StepTimeout,
                (None, _) => continue,
            };
            timers.push(Timer {
                at,
                kind,
                node: Some(n.id.clone()),
            });
        }
        timers.sort_by(|a, b| (a.at, &a.node).cmp(&(b.at, &b.node)));
        timers.dedup();
        let next = timers.first().map(|t| t.at);
        *self.timers = timers;
        if next != *self.wake_at {
            *self.wake_at = next;
            if let Some(at) = next {
                actions.push(Action::WakeAt(at));
            }
        }
    }
}

/// The workflow phase a root node phase stands for.
pub(crate) fn workflow_phase_of(phase: NodePhase) -> WorkflowPhase {
    match phase {
        NodePhase::Pending => WorkflowPhase::Pending,
        NodePhase::Running => WorkflowPhase::Running,
        NodePhase::Succeeded | NodePhase::Skipped | NodePhase::Omitted => WorkflowPhase::Succeeded,
        NodePhase::Failed => WorkflowPhase::Failed,
        NodePhase::Error => WorkflowPhase::Error,
    }
}
