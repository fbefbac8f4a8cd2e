//! The reconcile loop (Argo's `operate`): enforce shutdown, deadlines and step timeouts; walk
//! from the entrypoint; run the workflow's lifecycle hooks and exit handler; decide the run's
//! phase; compute progress and the timers to wake up for.
//!
//! A pass may leave work that only the next pass sees (Argo requeues the workflow); passes
//! are repeated until one changes nothing, so one command reaches the same state Argo would
//! after its requeues.

use chrono::{DateTime, Utc};
use switchyard_model::workflow::{Arguments, ShutdownStrategy};

use crate::apply::Action;
use crate::exec::{DEADLINE_MESSAGE, ExecErr, Op, Opts, strategy_name};
use crate::naming::{self, go_json_string, go_quote};
use crate::resolve::{Call, Scope};
use crate::state::{NodeFlag, NodePhase, NodeType, RunState, Timer, TimerKind, WorkflowPhase};
use crate::step::StopReason;

/// Most passes per command; each pass that changes something brings the run closer to a
/// fixed point, so this is a guard, not a limit reached in practice.
const MAX_PASSES: usize = 64;

/// Stack for a reconcile: templates nest up to [`crate::exec::MAX_DEPTH`] levels and each level
/// is a few recursive calls; an unoptimized build needs about 6 MiB for the deepest run.
const RECONCILE_STACK: usize = 64 << 20;

/// Reconciles the run at `now` and returns the actions to carry out. The work runs on a
/// helper thread with a stack large enough for the deepest template nesting, so the
/// caller's stack size does not matter (falling back to the caller's thread if no thread
/// can be made). A panic (a bug) comes back as `Err` with its message.
pub(crate) fn reconcile(st: &mut RunState, now: DateTime<Utc>) -> Result<Vec<Action>, String> {
    let outcome = std::thread::scope(|scope| {
        let run = &mut *st;
        std::thread::Builder::new()
            .name("switchyard-reconcile".into())
            .stack_size(RECONCILE_STACK)
            .spawn_scoped(scope, move || reconcile_here(run, now))
            .ok()
            .map(|handle| handle.join())
    });
    let result = match outcome {
        Some(r) => r,
        None => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reconcile_here(st, now))),
    };
    result.map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".to_string())
    })
}

fn reconcile_here(st: &mut RunState, now: DateTime<Utc>) -> Vec<Action> {
    let mut actions = Vec::new();
    for _ in 0..MAX_PASSES {
        let before = (st.status.clone(), st.shutdown.clone());
        let mut op = Op::new(st, now);
        op.pass();
        actions.append(&mut op.actions);
        if st.status == before.0 && st.shutdown == before.1 {
            break;
        }
    }
    let mut op = Op::new(st, now);
    op.update_progress();
    op.finish_timers(&mut actions);
    actions
}

impl Op<'_> {
    /// One pass.
    fn pass(&mut self) {
        if self.st.status.phase != WorkflowPhase::Running {
            return;
        }
        self.enforce();
        if self.st.suspended {
            return;
        }
        let entry = self.st.spec.entrypoint.clone().unwrap_or_default();
        let wf = self.st.name.clone();
        let args: Arguments = self.st.arguments.clone();
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
            .st
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
        if let Some(hook) = self.st.spec.exit_hook() {
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
        let message = match (&self.st.shutdown, root_node.phase.failed_or_error()) {
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
        if self.st.status.phase.is_finished() {
            return;
        }
        self.st.status.phase = phase;
        self.st.status.message = (!message.is_empty()).then(|| message.to_string());
        self.st.status.finished_at = Some(self.now);
        if phase == WorkflowPhase::Error
            && let Some(root) = self.st.status.nodes.get_mut(&self.st.name)
            && root.phase == NodePhase::Running
        {
            root.phase = NodePhase::Error;
            root.message = Some("Workflow operation error".into());
            root.finished_at = Some(self.now);
        }
        self.actions.push(Action::Finished { phase });
    }

    /// Stops what must stop: everything but exit handlers on `stop`, everything on
    /// `terminate`, what is past the workflow deadline, steps past their own timeout.
    fn enforce(&mut self) {
        let deadline_passed = self.deadline_passed();
        let shutdown = self.st.shutdown.as_ref().map(|s| s.strategy);
        let ids: Vec<String> = self
            .st
            .status
            .nodes
            .values()
            .filter(|n| !n.fulfilled())
            .map(|n| n.id.clone())
            .collect();
        for id in ids {
            let Some(node) = self.node(&id).cloned() else {
                continue;
            };
            if let Some(strategy) = shutdown
                && !self.should_execute(node.exit_handler)
            {
                let message = format!("Stopped with strategy '{}'", strategy_name(strategy));
                if node.step.is_some() {
                    let reason = match strategy {
                        ShutdownStrategy::Stop => StopReason::Stopped,
                        ShutdownStrategy::Terminate => StopReason::Terminated,
                    };
                    self.request_stop(&id, reason);
                } else if node.node_type == NodeType::Suspend
                    || (matches!(node.node_type, NodeType::Container | NodeType::Pod)
                        && node.phase == NodePhase::Pending
                        && !node
                            .children
                            .iter()
                            .any(|c| self.node(c).is_some_and(|n| !n.fulfilled())))
                    || (node.node_type == NodeType::Retry && self.children_fulfilled(&id))
                {
                    self.mark(&id, NodePhase::Failed, Some(&message));
                }
                continue;
            }
            if deadline_passed && !node.exit_handler {
                if node.step.is_some() {
                    self.request_stop(&id, StopReason::Deadline);
                } else if node.node_type == NodeType::Suspend
                    || (node.node_type == NodeType::Container && node.phase == NodePhase::Pending)
                {
                    self.mark(&id, NodePhase::Failed, Some(DEADLINE_MESSAGE));
                }
                continue;
            }
            if node.step.is_some() && node.deadline.is_some_and(|d| self.now >= d) {
                self.request_stop(&id, StopReason::Timeout);
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
    fn failures_json(&self) -> String {
        let mut items = Vec::new();
        for n in self.st.status.nodes.values() {
            if !n.phase.failed_or_error() {
                continue;
            }
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
                go_json_string(&naming::pod_name(&self.st.name, &n.name, &template)),
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
        let executable =
            |t: NodeType| matches!(t, NodeType::Pod | NodeType::Container | NodeType::Suspend);
        let mut total = (0u64, 0u64);
        let ids: Vec<String> = self.st.status.nodes.keys().cloned().collect();
        for id in &ids {
            if let Some(n) = self.st.status.nodes.get_mut(id)
                && executable(n.node_type)
            {
                let done = matches!(
                    n.phase,
                    NodePhase::Succeeded | NodePhase::Skipped | NodePhase::Omitted
                );
                n.progress = Some(if done { "1/1" } else { "0/1" }.to_string());
                total.0 += u64::from(done);
                total.1 += 1;
            }
        }
        for id in &ids {
            let Some(node) = self.node(id) else { continue };
            if executable(node.node_type) {
                continue;
            }
            let mut sum = (0u64, 0u64);
            let mut seen = std::collections::BTreeSet::new();
            let mut stack: Vec<String> = node.children.clone();
            while let Some(c) = stack.pop() {
                if !seen.insert(c.clone()) {
                    continue;
                }
                let Some(child) = self.node(&c) else { continue };
                if executable(child.node_type) {
                    let done = matches!(
                        child.phase,
                        NodePhase::Succeeded | NodePhase::Skipped | NodePhase::Omitted
                    );
                    sum.0 += u64::from(done);
                    sum.1 += 1;
                }
                stack.extend(child.children.iter().cloned());
            }
            let text = format!("{}/{}", sum.0, sum.1);
            if let Some(n) = self.st.status.nodes.get_mut(id) {
                n.progress = Some(text);
            }
        }
        self.st.status.progress = format!("{}/{}", total.0, total.1);
    }

    /// Collects the timers (the workflow deadline, and the wake-up times kept on nodes: step
    /// timeouts, suspend durations, retry backoffs) and emits `WakeAt` when the soonest one
    /// changed.
    fn finish_timers(&mut self, actions: &mut Vec<Action>) {
        let mut timers = Vec::new();
        if self.st.status.phase != WorkflowPhase::Running {
            self.st.timers.clear();
            self.st.wake_at = None;
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
        for n in self.st.status.nodes.values() {
            let Some(at) = n.deadline.filter(|d| *d > self.now && !n.fulfilled()) else {
                continue;
            };
            let kind = match (&n.step, n.node_type) {
                (Some(step), _) if step.stop.is_none() => TimerKind::StepTimeout,
                (Some(_), _) => continue,
                (None, NodeType::Suspend) => TimerKind::Suspend,
                (None, NodeType::Retry) => TimerKind::Backoff,
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
        self.st.timers = timers;
        if next != self.st.wake_at {
            self.st.wake_at = next;
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
