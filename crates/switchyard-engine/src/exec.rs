//! Executing one template at one node name: Argo's `executeTemplate`, with its helpers
//! (inputs from arguments, parallelism, retries) and the leaf templates (container, script,
//! container set, suspend). Steps and DAG templates are in [`crate::steps`] and
//! [`crate::dag`]; the walk from the entrypoint and the end of the run in
//! [`crate::reconcile`].
//!
//! Everything here is a pure function of the run state and `now`: it creates and updates
//! nodes and appends [`Action`]s; it never does I/O.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use switchyard_expr::Mode;
use switchyard_model::workflow::{
    AnyString, Arguments, Inputs, Outputs, Parameter, RetryPolicy, RetryStrategy, ShutdownStrategy,
    Template, TemplateKind, WorkflowSpec,
};

use crate::apply::Action;
use crate::journal::Journal;
use crate::memo::{Index, Memo, Stats};
use crate::naming;
use crate::resolve::{self, Call, Scope};
use crate::state::{
    Library, Node, NodeFlag, NodeId, NodePhase, NodeType, RunState, RunStatus, Shutdown,
    StepRecord, Timer, WorkflowPhase,
};
use crate::stepspec;
use crate::vars::{self, Vars};

/// Deepest nesting of templates (Argo's default `maxStackDepth`).
pub(crate) const MAX_DEPTH: usize = 150;

/// The message of steps failed or stopped by the workflow deadline or a step timeout.
pub(crate) const DEADLINE_MESSAGE: &str = "Step exceeded its deadline";

/// Why `execute_template` did not (fully) execute.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExecErr {
    /// A parallelism limit (or failFast) holds the node back; try again later.
    Parallelism,
    /// The node errored with this message (it is recorded on the node).
    Fail(String),
}

/// How a template is executed, passed down from the caller (Argo's `executeTemplateOpts`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Opts {
    /// The steps/DAG node the new node belongs to.
    pub boundary: Option<NodeId>,
    /// Part of an exit handler.
    pub on_exit: bool,
    pub flag: Option<NodeFlag>,
    /// A retry's `backoff.maxDuration` ends here.
    pub execution_deadline: Option<DateTime<Utc>>,
    /// The boundary template's `failFast` and `parallelism`, for its children.
    pub boundary_fail_fast: bool,
    pub boundary_parallelism: Option<i64>,
    /// The boundary template is a steps template (failFast marks its last step group too).
    pub boundary_is_steps: bool,
    /// `steps.name` / `tasks.name` of the caller.
    pub step_name: Option<(&'static str, String)>,
}

/// What a run is and executes. None of it changes while the run goes on, so it is borrowed
/// apart from the status: a template found in the spec stays borrowed while nodes change.
#[derive(Clone, Copy)]
pub(crate) struct Fixed<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub uid: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    pub creation_timestamp: DateTime<Utc>,
    pub spec: &'a WorkflowSpec,
    pub library: &'a Library,
    pub arguments: &'a Arguments,
}

/// One reconcile pass over a run (or one command's change to it).
pub(crate) struct Op<'a> {
    pub run: Fixed<'a>,
    /// The requested shutdown and whether the workflow is suspended: commands change them,
    /// passes only read them.
    pub shutdown: Option<&'a Shutdown>,
    pub suspended: bool,
    /// `RetryFailed`s so far (part of each step id).
    pub generation: u32,
    /// The status of the run, other than its nodes.
    pub phase: &'a mut WorkflowPhase,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: &'a mut Option<DateTime<Utc>>,
    pub message: &'a mut Option<String>,
    pub progress: &'a mut String,
    pub outputs: &'a mut Option<Outputs>,
    pub timers: &'a mut Vec<Timer>,
    pub wake_at: &'a mut Option<DateTime<Utc>>,
    /// The nodes. They change only through [`Op::node_mut`] and [`Op::init_node`], which
    /// keep them in the journal first.
    nodes: &'a mut BTreeMap<NodeId, Node>,
    memo: &'a mut Memo,
    journal: &'a mut Journal,
    pub now: DateTime<Utc>,
    pub actions: Vec<Action>,
    pub globals: Vars,
    depth: usize,
}

impl<'a> Op<'a> {
    pub(crate) fn new(st: &'a mut RunState, journal: &'a mut Journal, now: DateTime<Utc>) -> Self {
        let RunState {
            name,
            namespace,
            uid,
            labels,
            annotations,
            creation_timestamp,
            spec,
            library,
            arguments,
            status,
            timers,
            wake_at,
            suspended,
            shutdown,
            generation,
        } = st;
        let RunStatus {
            phase,
            started_at,
            finished_at,
            message,
            progress,
            outputs,
            nodes,
            memo,
        } = status;
        let run = Fixed {
            name,
            namespace,
            uid,
            labels,
            annotations,
            creation_timestamp: *creation_timestamp,
            spec,
            library,
            arguments,
        };
        let fixed = memo
            .fixed_globals
            .get_or_insert_with(|| vars::fixed_globals(run));
        let globals = vars::globals(fixed, outputs.as_ref(), *started_at, *finished_at, now);
        Op {
            run,
            shutdown: shutdown.as_ref(),
            suspended: *suspended,
            generation: *generation,
            phase,
            started_at: *started_at,
            finished_at,
            message,
            progress,
            outputs,
            timers,
            wake_at,
            nodes,
            memo,
            journal,
            now,
            actions: Vec::new(),
            globals,
            depth: 0,
        }
    }

    /// Recomputes the `workflow.*` variables (after global outputs changed).
    pub(crate) fn refresh_globals(&mut self) {
        let status = self.globals.get("workflow.status").cloned();
        let failures = self.globals.get("workflow.failures").cloned();
        let run = self.run;
        let fixed = self
            .memo
            .fixed_globals
            .get_or_insert_with(|| vars::fixed_globals(run));
        self.globals = vars::globals(
            fixed,
            self.outputs.as_ref(),
            self.started_at,
            *self.finished_at,
            self.now,
        );
        if let Some(s) = status {
            self.globals.insert("workflow.status".into(), s);
        }
        if let Some(f) = failures {
            self.globals.insert("workflow.failures".into(), f);
        }
    }

    // --- nodes ---------------------------------------------------------------------------

    pub(crate) fn id_of(&self, name: &str) -> NodeId {
        naming::node_id(self.run.name, name)
    }

    /// Every node, by id.
    pub(crate) fn nodes(&self) -> &BTreeMap<NodeId, Node> {
        self.nodes
    }

    pub(crate) fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.get(id)
    }

    pub(crate) fn node_named(&self, name: &str) -> Option<&Node> {
        self.nodes.get(&self.id_of(name))
    }

    /// A node, to change it (it is journaled first).
    pub(crate) fn node_mut(&mut self, id: &str) -> Option<&mut Node> {
        self.journal.node_mut(self.nodes, self.memo, id)
    }

    /// Sets a node's progress (see [`Journal::set_progress`]).
    pub(crate) fn set_progress(&mut self, id: &str, progress: String) {
        self.journal.set_progress(self.nodes, id, progress);
    }

    /// The ids of the nodes this command touched so far, for the progress; `None` for all of
    /// them (the command touched them all, or the progress was never checked since the memo
    /// was made).
    pub(crate) fn touched_since_progress(&mut self) -> Option<Vec<NodeId>> {
        if !std::mem::replace(&mut self.memo.progress_checked, true) {
            return None;
        }
        self.journal
            .touched()
            .map(|ids| ids.map(str::to_string).collect())
    }

    /// The index, up to date, and the nodes.
    pub(crate) fn indexed(&mut self) -> (&mut Index, &BTreeMap<NodeId, Node>) {
        (self.memo.index(self.nodes), self.nodes)
    }

    /// The progress texts that differ from the nodes' (see [`Index::progress_changes`]).
    pub(crate) fn progress_changes(
        &mut self,
        touched: Option<&[NodeId]>,
    ) -> (Vec<(NodeId, String)>, String) {
        self.memo.progress(self.nodes, touched)
    }

    /// The node called `name`, or a new one (with `tmpl`'s inputs recorded) when it does not
    /// exist yet; the flag says whether it was created by this call.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn node_or_init(
        &mut self,
        name: &str,
        node_type: NodeType,
        phase: NodePhase,
        call: &Call,
        scope: &Scope,
        opts: &Opts,
        tmpl: &Template,
        inputs: &Inputs,
    ) -> (NodeId, bool) {
        if let Some(n) = self.node_named(name) {
            return (n.id.clone(), false);
        }
        let id = self.init_node(name, node_type, phase, Some(call), scope, opts, None);
        self.set_inputs(&id, tmpl, inputs);
        (id, true)
    }

    /// Creates a node (Argo's `initializeNode`). The node must not exist yet.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn init_node(
        &mut self,
        name: &str,
        node_type: NodeType,
        phase: NodePhase,
        call: Option<&Call>,
        scope: &Scope,
        opts: &Opts,
        message: Option<String>,
    ) -> NodeId {
        let id = self.id_of(name);
        let boundary_name = opts
            .boundary
            .as_ref()
            .and_then(|b| self.node(b))
            .map(|b| b.name.clone());
        let node = Node {
            id: id.clone(),
            name: name.to_string(),
            display_name: naming::display_name(name, boundary_name.as_deref()),
            node_type,
            template_name: call.and_then(Call::node_template_name),
            template_ref: call.and_then(|c| c.template_ref.clone()),
            template_scope: scope.encode(),
            phase,
            boundary_id: opts.boundary.clone(),
            message: message.filter(|m| !m.is_empty()),
            started_at: self.now,
            finished_at: phase.fulfilled().then_some(self.now),
            children: Vec::new(),
            outbound_nodes: Vec::new(),
            inputs: None,
            outputs: None,
            progress: None,
            node_flag: opts.flag.filter(|f| f.hooked || f.retried),
            exit_handler: opts.on_exit,
            step: None,
            deadline: None,
            resumed_by: None,
            resume_message: None,
        };
        self.journal.touch(self.nodes, self.memo, &id);
        self.nodes.insert(id.clone(), node);
        id
    }

    /// Sets a node's phase (and message, when given; an empty message clears it), and its
    /// finish time when it becomes fulfilled (Argo's `markNodePhase`).
    pub(crate) fn mark(&mut self, id: &str, phase: NodePhase, message: Option<&str>) {
        let now = self.now;
        // Most marks confirm what the node already is: those change nothing.
        let same = self.node(id).is_none_or(|n| {
            n.phase == phase
                && message.is_none_or(|m| n.message.as_deref() == (!m.is_empty()).then_some(m))
                && (!phase.fulfilled() || n.finished_at.is_some())
        });
        if same {
            return;
        }
        if let Some(n) = self.node_mut(id) {
            n.phase = phase;
            if let Some(m) = message {
                n.message = (!m.is_empty()).then(|| m.to_string());
            }
            if n.phase.fulfilled() && n.finished_at.is_none() {
                n.finished_at = Some(now);
            }
        }
    }

    pub(crate) fn mark_error(&mut self, id: &str, message: &str) {
        self.mark(id, NodePhase::Error, Some(message));
    }

    /// Adds `child` (by name) to the children of `parent` (by name), once.
    pub(crate) fn add_child(&mut self, parent: &str, child: &str) {
        let parent_id = self.id_of(parent);
        let child_id = self.id_of(child);
        self.add_child_id(&parent_id, &child_id);
    }

    pub(crate) fn add_child_id(&mut self, parent_id: &str, child_id: &str) {
        let known = self
            .node(parent_id)
            .is_none_or(|p| p.children.iter().any(|c| c == child_id));
        if !known && let Some(p) = self.node_mut(parent_id) {
            p.children.push(child_id.to_string());
        }
    }

    /// Creates an errored node (type Skipped) or marks the existing one errored
    /// (Argo's `initializeNodeOrMarkError`).
    pub(crate) fn init_or_mark_error(
        &mut self,
        existing: Option<&str>,
        name: &str,
        call: &Call,
        scope: &Scope,
        opts: &Opts,
        message: &str,
    ) -> NodeId {
        match existing {
            Some(id) => {
                self.mark_error(id, message);
                id.to_string()
            }
            None => self.init_node(
                name,
                NodeType::Skipped,
                NodePhase::Error,
                Some(call),
                scope,
                opts,
                Some(message.to_string()),
            ),
        }
    }

    /// Whether every child of `node` is fulfilled (Argo's `childrenFulfilled`, recursive).
    pub(crate) fn children_fulfilled(&self, id: &str) -> bool {
        let mut stack = vec![id.to_string()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(current) = stack.pop() {
            if !seen.insert(current.clone()) {
                continue;
            }
            let Some(n) = self.node(&current) else {
                continue;
            };
            for c in &n.children {
                match self.node(c) {
                    Some(child) if child.fulfilled() => stack.push(c.clone()),
                    Some(_) => return false,
                    None => {}
                }
            }
        }
        true
    }

    /// The index of the nodes, up to date.
    pub(crate) fn index(&mut self) -> &mut Index {
        self.memo.index(self.nodes)
    }

    /// A compiled DAG template kept in the memo.
    pub(crate) fn compiled_dag(
        &self,
        key: &(Option<String>, String),
    ) -> Option<std::sync::Arc<crate::dag::CompiledDag>> {
        self.memo.compiled_dag(key)
    }

    pub(crate) fn keep_compiled_dag(
        &mut self,
        key: (Option<String>, String),
        dag: std::sync::Arc<crate::dag::CompiledDag>,
    ) {
        self.memo.keep_compiled_dag(key, dag);
    }

    pub(crate) fn known_static_steps(&self, key: &(Option<String>, String)) -> Option<bool> {
        self.memo.static_steps(key)
    }

    pub(crate) fn keep_static_steps(&mut self, key: (Option<String>, String), value: bool) {
        self.memo.keep_static_steps(key, value);
    }

    /// Lets the memo go if no step is running (see [`Memo::release_if_idle`]).
    pub(crate) fn release_memo_if_idle(&mut self) {
        self.memo.release_if_idle(self.nodes);
    }

    /// What the engine did so far (see [`crate::memo::Stats`]).
    pub(crate) fn stats(&mut self) -> &mut Stats {
        &mut self.memo.stats
    }

    /// Active (Pending or Running) Pod nodes, all of them or those of one boundary.
    pub(crate) fn active_pods(&mut self, boundary: Option<&str>) -> i64 {
        let index = self.index();
        match boundary {
            None => index.active_pods(),
            Some(b) => index.counts(b).active_pods,
        }
    }

    /// Active Pod, Steps and DAG nodes of a boundary.
    pub(crate) fn active_children(&mut self, boundary: &str) -> i64 {
        self.index().counts(boundary).active_children
    }

    /// Failed or errored Pod, Steps and DAG nodes of a boundary.
    pub(crate) fn unsuccessful_children(&mut self, boundary: &str) -> i64 {
        self.index().counts(boundary).unsuccessful_children
    }

    /// Whether a step under `boundary` (at any depth) has not ended yet.
    pub(crate) fn has_live_steps_under(&self, boundary: &str) -> bool {
        self.nodes.values().any(|n| {
            if n.fulfilled() || n.step.is_none() {
                return false;
            }
            let mut current = n.boundary_id.clone();
            let mut guard = 0;
            while let Some(b) = current {
                if b == boundary {
                    return true;
                }
                guard += 1;
                if guard > MAX_DEPTH * 4 {
                    break;
                }
                current = self.node(&b).and_then(|x| x.boundary_id.clone());
            }
            false
        })
    }

    /// The last leaf node of `node_type` under `id` in a depth-first walk.
    fn last_of_type(&self, id: &str, node_type: NodeType) -> Option<NodeId> {
        let mut found = None;
        let mut stack = vec![id.to_string()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(current) = stack.pop() {
            if !seen.insert(current.clone()) {
                continue;
            }
            let Some(n) = self.node(&current) else {
                continue;
            };
            if n.node_type == node_type {
                found = Some(n.id.clone());
            }
            for c in n.children.iter().rev() {
                stack.push(c.clone());
            }
        }
        found
    }

    /// The attempts of a Retry node (hooks left out) and the last one.
    pub(crate) fn retry_attempts(&self, retry: &Node) -> Vec<Node> {
        retry
            .children
            .iter()
            .filter_map(|c| self.node(c))
            .filter(|c| !c.hooked())
            .cloned()
            .collect()
    }

    /// For a Retry node, its last attempt; otherwise `None` (Argo's
    /// `possiblyGetRetryChildNode`).
    pub(crate) fn last_attempt(&self, node: &Node) -> Option<Node> {
        self.last_attempt_ref(node).cloned()
    }

    /// [`Op::last_attempt`], borrowed.
    pub(crate) fn last_attempt_ref(&self, node: &Node) -> Option<&Node> {
        if node.node_type != NodeType::Retry {
            return None;
        }
        node.children
            .iter()
            .filter_map(|c| self.node(c))
            .rfind(|c| !c.hooked())
    }

    // --- shutdown and deadline -----------------------------------------------------------

    /// Argo's `ShutdownStrategy.ShouldExecute`.
    pub(crate) fn should_execute(&self, on_exit: bool) -> bool {
        match self.shutdown.map(|s| s.strategy) {
            None => true,
            Some(ShutdownStrategy::Stop) => on_exit,
            Some(ShutdownStrategy::Terminate) => false,
        }
    }

    pub(crate) fn shutdown_message(&self) -> Option<String> {
        self.shutdown
            .map(|s| format!("Stopped with strategy '{}'", strategy_name(s.strategy)))
    }

    /// The workflow deadline (`startedAt`, to the second, plus `activeDeadlineSeconds`).
    pub(crate) fn workflow_deadline(&self) -> Option<DateTime<Utc>> {
        let secs = self.run.spec.active_deadline_seconds?;
        let started = self.started_at?;
        let started =
            started - chrono::Duration::nanoseconds(i64::from(started.timestamp_subsec_nanos()));
        Some(started + chrono::Duration::seconds(secs))
    }

    pub(crate) fn deadline_passed(&self) -> bool {
        self.workflow_deadline().is_some_and(|d| self.now >= d)
    }

    /// Records when a node must be woken up (a suspend's duration, a retry's backoff): the
    /// time is kept on the node, so it survives restarts and passes that do not reach it.
    pub(crate) fn set_wake(&mut self, id: &str, at: Option<DateTime<Utc>>) {
        if let Some(n) = self.node_mut(id) {
            n.deadline = at;
        }
    }

    // --- executeTemplate -----------------------------------------------------------------

    /// Executes `call` as node `name` (Argo's `executeTemplate`). Returns the node's id, or
    /// `Err(Parallelism)` when a limit holds a new node back.
    pub(crate) fn execute_template(
        &mut self,
        name: &str,
        call: &Call,
        scope: &Scope,
        args: &Arguments,
        opts: &Opts,
    ) -> Result<NodeId, ExecErr> {
        self.depth += 1;
        let result = if self.depth >= MAX_DEPTH {
            let existing = self.node_named(name).map(|n| n.id.clone());
            let message = format!(
                "Maximum recursion depth exceeded: templates nest deeper than {MAX_DEPTH} levels"
            );
            self.init_or_mark_error(existing.as_deref(), name, call, scope, opts, &message);
            Err(ExecErr::Fail(message))
        } else {
            self.execute_template_inner(name, call, scope, args, opts)
        };
        self.depth -= 1;
        result
    }

    fn execute_template_inner(
        &mut self,
        name: &str,
        call: &Call,
        scope: &Scope,
        args: &Arguments,
        opts: &Opts,
    ) -> Result<NodeId, ExecErr> {
        // The node as it was when the template was reached.
        let existing = self.node_named(name).map(|n| (n.id.clone(), n.phase));
        if let Some((id, phase)) = &existing
            && phase.fulfilled()
        {
            return Ok(id.clone());
        }
        let existing_id = existing.as_ref().map(|(id, _)| id.as_str());
        let run = self.run;
        let resolved = resolve::resolve(run.spec, run.library, scope, call).map(|(s, t)| {
            (
                s,
                resolve::apply_defaults(run.spec.template_defaults.as_deref(), t),
            )
        });
        let (inner_scope, tmpl) = match resolved {
            Ok(r) => r,
            Err(message) => {
                self.init_or_mark_error(existing_id, name, call, scope, opts, &message);
                return Err(ExecErr::Fail(message));
            }
        };
        if let Some(kind) = tmpl.kind().filter(|k| !is_supported(*k)) {
            let message = unsupported_message(tmpl.name(), kind);
            self.init_or_mark_error(existing_id, name, call, scope, opts, &message);
            return Err(ExecErr::Fail(message));
        }
        let mut locals = Vars::new();
        locals.insert("node.name".into(), name.to_string());
        if let Some((prefix, step)) = &opts.step_name {
            locals.insert(format!("{prefix}.name"), step.clone());
        }
        let inputs = match self.process_inputs(&tmpl, args, &locals) {
            Ok(i) => i,
            Err(message) => {
                self.init_or_mark_error(existing_id, name, call, scope, opts, &message);
                return Err(ExecErr::Fail(message));
            }
        };
        let header_vars = || {
            let mut v = self.globals.clone();
            v.extend(locals.clone());
            vars::input_vars(Some(&inputs), &mut v);
            v
        };
        let tmpl = match substitute_header(tmpl, header_vars) {
            Ok(t) => t,
            Err(message) => {
                self.init_or_mark_error(existing_id, name, call, scope, opts, &message);
                return Err(ExecErr::Fail(message));
            }
        };

        self.check_parallelism(&tmpl, existing.as_ref(), opts)?;

        let mut exec_name = name.to_string();
        let mut attempt_opts = opts.clone();
        let retry = self.retry_strategy(&tmpl);
        if let Some(strategy) = &retry {
            let retry_id = match &existing {
                Some((id, _)) => id.clone(),
                None => {
                    let id = self.init_node(
                        name,
                        NodeType::Retry,
                        NodePhase::Running,
                        Some(call),
                        scope,
                        opts,
                        None,
                    );
                    self.set_inputs(&id, &tmpl, &inputs);
                    id
                }
            };
            let mut flag = opts.flag.unwrap_or_default();
            flag.retried = true;
            attempt_opts.flag = Some(flag);
            match self.process_retries(&retry_id, strategy, &mut attempt_opts) {
                Err(message) => {
                    self.mark_error(&retry_id, &message);
                    return Err(ExecErr::Fail(message));
                }
                Ok(false) => return Ok(retry_id),
                Ok(true) => {}
            }
            let Some(retry_node) = self.node(&retry_id).cloned() else {
                return Ok(retry_id);
            };
            let attempts = self.retry_attempts(&retry_node);
            let last = attempts.last().cloned();
            if retry_node.fulfilled() && self.children_fulfilled(&retry_id) {
                if let Some(last) = &last {
                    let outputs = last.outputs.clone();
                    if let Some(n) = self.node_mut(&retry_id) {
                        n.outputs = outputs;
                    }
                }
                return Ok(retry_id);
            }
            let retry_num = match &last {
                Some(l) if !l.fulfilled() => {
                    exec_name = l.name.clone();
                    attempts.len() - 1
                }
                _ => {
                    exec_name = format!("{name}({})", attempts.len());
                    self.add_child(name, &exec_name);
                    attempts.len()
                }
            };
            locals.insert("retries".into(), retry_num.to_string());
            let (code, status, duration, message) = match &last {
                Some(l) => (
                    l.outputs
                        .as_ref()
                        .and_then(|o| o.exit_code.clone())
                        .unwrap_or_else(|| "0".into()),
                    l.phase.as_str().to_string(),
                    duration_seconds(l),
                    l.message.clone().unwrap_or_default(),
                ),
                None => ("0".into(), String::new(), "0".into(), String::new()),
            };
            locals.insert("lastRetry.exitCode".into(), code);
            locals.insert("lastRetry.status".into(), status);
            locals.insert("lastRetry.duration".into(), duration);
            locals.insert("lastRetry.message".into(), message);
        }
        let kind = tmpl.kind();
        if matches!(
            kind,
            Some(TemplateKind::Container | TemplateKind::Script | TemplateKind::ContainerSet)
        ) {
            locals.insert(
                "pod.name".into(),
                naming::pod_name(self.run.name, &exec_name, tmpl.name()),
            );
        }
        let result = match kind {
            Some(TemplateKind::Container | TemplateKind::Script) => self.execute_pod(
                &exec_name,
                &tmpl,
                call,
                scope,
                &inputs,
                &locals,
                &attempt_opts,
            ),
            Some(TemplateKind::ContainerSet) => self.execute_container_set(
                &exec_name,
                &tmpl,
                call,
                scope,
                &inputs,
                &locals,
                &attempt_opts,
            ),
            Some(TemplateKind::Steps) => self.execute_steps(
                &exec_name,
                &tmpl,
                call,
                scope,
                &inner_scope,
                &inputs,
                &attempt_opts,
            ),
            Some(TemplateKind::Dag) => self.execute_dag(
                &exec_name,
                &tmpl,
                call,
                scope,
                &inner_scope,
                &inputs,
                &attempt_opts,
            ),
            Some(TemplateKind::Suspend) => {
                self.execute_suspend(&exec_name, &tmpl, call, scope, &inputs, &attempt_opts)
            }
            _ => Err(format!("template `{}` missing specification", tmpl.name())),
        };
        if let Err(message) = result {
            let existing_exec = self.node_named(&exec_name).map(|n| n.id.clone());
            self.init_or_mark_error(
                existing_exec.as_deref(),
                &exec_name,
                call,
                scope,
                &attempt_opts,
                &message,
            );
            let retries_errors = retry.as_ref().is_some_and(|r| {
                matches!(
                    r.effective_policy(),
                    RetryPolicy::Always | RetryPolicy::OnError | RetryPolicy::OnTransientError
                )
            });
            if !retries_errors {
                return Err(ExecErr::Fail(message));
            }
        }
        if retry.is_some() {
            let retry_id = self.id_of(name);
            let retry_done = self.node(&retry_id).is_none_or(Node::fulfilled);
            let attempt_done = self.node_named(&exec_name).is_some_and(Node::fulfilled);
            if !retry_done && attempt_done {
                return self.execute_template(name, call, scope, args, opts);
            }
            return Ok(retry_id);
        }
        Ok(self.id_of(&exec_name))
    }

    /// The retry strategy of a template, else the workflow's.
    fn retry_strategy(&self, tmpl: &Template) -> Option<RetryStrategy> {
        tmpl.retry_strategy
            .clone()
            .or_else(|| self.run.spec.retry_strategy.clone())
    }

    /// Records the processed inputs on a node.
    pub(crate) fn set_inputs(&mut self, id: &str, tmpl: &Template, inputs: &Inputs) {
        if tmpl.inputs.is_empty() {
            return;
        }
        if let Some(n) = self.node_mut(id) {
            n.inputs = Some(inputs.clone());
        }
    }

    /// Argo's `ProcessArgs`: each input takes the argument's value, else its own `value` or
    /// `default`, else a ConfigMap's; a value from an argument is data and is not substituted
    /// again; the template's own values are substituted with the global variables.
    fn process_inputs(
        &self,
        tmpl: &Template,
        args: &Arguments,
        locals: &Vars,
    ) -> Result<Inputs, String> {
        // Only a value with a tag reads the variables.
        let mut own_vars = Vars::new();
        if inputs_have_tags(tmpl) {
            own_vars = self.globals.clone();
            own_vars.extend(locals.clone());
        }
        let mut out = Inputs::default();
        for p in &tmpl.inputs.parameters {
            let mut param = p.clone();
            let mut value: Option<String> = match p.value.as_ref().or(p.default.as_ref()) {
                Some(v) => Some(vars::subst(v.as_str(), &own_vars, &Mode::Lenient)?),
                None => None,
            };
            let mut from = p.value_from.clone();
            if let Some(arg) = args.parameter(&p.name) {
                if let Some(v) = &arg.value {
                    value = Some(v.0.clone());
                    from = None;
                } else if arg.value_from.is_some() {
                    from = arg.value_from.clone();
                    value = None;
                }
            }
            if value.is_none()
                && let Some(cm) = from.as_ref().and_then(|f| f.config_map_key_ref.as_ref())
            {
                match self
                    .run
                    .library
                    .config_maps
                    .get(&cm.name)
                    .and_then(|d| d.get(&cm.key))
                {
                    Some(v) => value = Some(v.clone()),
                    None => match from.as_ref().and_then(|f| f.default.as_ref()) {
                        Some(d) => value = Some(d.0.clone()),
                        None => {
                            return Err(format!(
                                "unable to retrieve inputs.parameters.{} from ConfigMap: key `{}` of ConfigMap `{}` not found",
                                p.name, cm.key, cm.name
                            ));
                        }
                    },
                }
            }
            let supplied = from.as_ref().is_some_and(|f| f.supplied.is_some());
            match value {
                Some(v) => {
                    if !p.enum_.is_empty() && !p.enum_.iter().any(|e| e.0 == v) {
                        return Err(format!(
                            "inputs.parameters.{}: value `{v}` is not one of the allowed values: {}",
                            p.name,
                            enum_list(&p.enum_)
                        ));
                    }
                    param.value = Some(AnyString(v));
                }
                None if supplied => {}
                None => return Err(format!("inputs.parameters.{} was not supplied", p.name)),
            }
            out.parameters.push(param);
        }
        Ok(out)
    }

    /// Argo's `checkParallelism`.
    fn check_parallelism(
        &mut self,
        tmpl: &Template,
        node: Option<&(NodeId, NodePhase)>,
        opts: &Opts,
    ) -> Result<(), ExecErr> {
        if let Some(p) = self.run.spec.parallelism.filter(|p| *p > 0)
            && self.active_pods(None) >= p
        {
            return Err(ExecErr::Parallelism);
        }
        let message = "template has failed or errored children and failFast enabled";
        if let Some((id, _)) = node
            && matches!(tmpl.kind(), Some(TemplateKind::Steps | TemplateKind::Dag))
        {
            if tmpl.fail_fast == Some(true) && self.unsuccessful_children(id) > 0 {
                if self.active_pods(Some(id)) == 0 {
                    if tmpl.kind() == Some(TemplateKind::Steps)
                        && let Some(sg) = self.last_of_type(id, NodeType::StepGroup)
                    {
                        self.mark(&sg, NodePhase::Failed, Some(message));
                    }
                    self.mark(id, NodePhase::Failed, Some(message));
                }
                return Err(ExecErr::Parallelism);
            }
            if let Some(p) = tmpl.parallelism.filter(|p| *p > 0)
                && self.active_pods(Some(id)) >= p
            {
                return Err(ExecErr::Parallelism);
            }
        }
        if let Some(boundary) = &opts.boundary
            && node
                .is_none_or(|(_, phase)| !matches!(phase, NodePhase::Pending | NodePhase::Running))
        {
            if opts.boundary_fail_fast && self.unsuccessful_children(boundary) > 0 {
                if self.active_pods(Some(boundary)) == 0 {
                    if opts.boundary_is_steps
                        && let Some(sg) = self.last_of_type(boundary, NodeType::StepGroup)
                    {
                        self.mark(&sg, NodePhase::Failed, Some(message));
                    }
                    let b = boundary.clone();
                    self.mark(&b, NodePhase::Failed, Some(message));
                }
                return Err(ExecErr::Parallelism);
            }
            if let Some(p) = opts.boundary_parallelism.filter(|p| *p > 0)
                && self.active_children(boundary) >= p
            {
                return Err(ExecErr::Parallelism);
            }
        }
        Ok(())
    }

    /// Argo's `processNodeRetries`: decides whether a retried template is done, waits out a
    /// backoff (`Ok(false)`), or may start another attempt (`Ok(true)`).
    fn process_retries(
        &mut self,
        retry_id: &str,
        strategy: &RetryStrategy,
        opts: &mut Opts,
    ) -> Result<bool, String> {
        let Some(node) = self.node(retry_id).cloned() else {
            return Ok(true);
        };
        if node.fulfilled() {
            return Ok(true);
        }
        let attempts = self.retry_attempts(&node);
        let Some(last) = attempts.last().cloned() else {
            return Ok(true);
        };
        if !last.fulfilled() {
            return Ok(true);
        }
        if !last.phase.failed_or_error() {
            let outputs = last.outputs.clone();
            if let Some(n) = self.node_mut(retry_id) {
                n.outputs = outputs;
            }
            self.mark(retry_id, NodePhase::Succeeded, None);
            return Ok(true);
        }
        if self.shutdown.is_some() || self.deadline_passed() {
            let message = match (self.shutdown_message(), self.workflow_deadline()) {
                (Some(m), _) => m,
                (None, Some(d)) => {
                    format!("retry exceeded workflow deadline {}", naming::rfc3339(d))
                }
                (None, None) => String::new(),
            };
            self.mark(retry_id, last.phase, Some(&message));
            return Ok(true);
        }
        if let Some(backoff) = &strategy.backoff {
            let mut max_deadline = None;
            if let Some(max) = backoff.max_duration.as_deref().filter(|m| !m.is_empty()) {
                let max = naming::parse_duration(max)?;
                let first_start = attempts.first().map_or(last.started_at, |a| a.started_at);
                let d = first_start + to_chrono(max);
                if self.now >= d {
                    self.mark(retry_id, last.phase, Some("Max duration limit exceeded"));
                    return Ok(true);
                }
                max_deadline = Some(d);
            }
            let base = backoff
                .duration
                .as_deref()
                .filter(|d| !d.is_empty())
                .ok_or("no base duration specified for retryStrategy")?;
            let base = naming::parse_duration(base)?;
            let mut wait = base;
            if let Some(factor) = &backoff.factor {
                let f = factor
                    .as_i64()
                    .ok_or_else(|| format!("backoff factor `{factor}` is not an integer"))?;
                if f > 0 {
                    let exponent =
                        i32::try_from(attempts.len().saturating_sub(1)).unwrap_or(i32::MAX);
                    let multiplier = (f as f64).powi(exponent);
                    let secs = base.as_secs_f64() * multiplier;
                    wait = if secs.is_finite() && secs < 1e15 {
                        Duration::from_secs_f64(secs)
                    } else {
                        Duration::from_secs(1_000_000_000_000)
                    };
                }
            }
            if let Some(cap) = backoff.cap.as_deref().filter(|c| !c.is_empty()) {
                wait = wait.min(naming::parse_duration(cap)?);
            }
            let finished = last.finished_at.unwrap_or(self.now);
            let waiting_deadline = finished + to_chrono(wait);
            if let Some(max) = max_deadline
                && waiting_deadline > max
            {
                self.mark(
                    retry_id,
                    last.phase,
                    Some("Backoff would exceed max duration limit"),
                );
                return Ok(true);
            }
            let limit = strategy.limit.as_ref().and_then(|l| l.as_i64());
            if self.now < waiting_deadline && limit.is_some_and(|l| attempts.len() as i64 <= l) {
                let message = format!("Backoff for {}", naming::humanize(wait));
                self.mark(retry_id, node.phase, Some(&message));
                self.set_wake(retry_id, Some(waiting_deadline));
                return Ok(false);
            }
            opts.execution_deadline = max_deadline;
            self.mark(retry_id, node.phase, Some(""));
            self.set_wake(retry_id, None);
        }
        let (on_failed, on_error) = match strategy.effective_policy() {
            RetryPolicy::Always => (true, true),
            RetryPolicy::OnError => (false, true),
            RetryPolicy::OnFailure => (true, false),
            RetryPolicy::OnTransientError => {
                let transient = last.message.as_deref().is_some_and(is_transient);
                (transient, transient)
            }
        };
        if (last.phase == NodePhase::Failed && !on_failed)
            || (last.phase == NodePhase::Error && !on_error)
        {
            self.mark(
                retry_id,
                last.phase,
                Some(last.message.as_deref().unwrap_or("")),
            );
            return Ok(true);
        }
        if let Some(limit) = &strategy.limit {
            let l = limit
                .as_i64()
                .ok_or_else(|| format!("retryStrategy.limit `{limit}` is not an integer"))?;
            if attempts.len() as i64 > l {
                self.mark(retry_id, last.phase, Some("No more retries left"));
                return Ok(true);
            }
        }
        if let Some(expression) = strategy.expression.as_deref().filter(|e| !e.is_empty()) {
            let mut v = self.globals.clone();
            v.insert("retries".into(), (attempts.len() - 1).to_string());
            v.insert(
                "lastRetry.exitCode".into(),
                last.outputs
                    .as_ref()
                    .and_then(|o| o.exit_code.clone())
                    .unwrap_or_else(|| "-1".into()),
            );
            v.insert("lastRetry.status".into(), last.phase.as_str().into());
            v.insert("lastRetry.duration".into(), duration_seconds(&last));
            v.insert(
                "lastRetry.message".into(),
                last.message.clone().unwrap_or_default(),
            );
            if !vars::eval_bool(expression, &v)? {
                self.mark(
                    retry_id,
                    last.phase,
                    Some("retryStrategy.expression evaluated to false"),
                );
                return Ok(true);
            }
        }
        Ok(true)
    }

    // --- leaf templates ------------------------------------------------------------------

    /// A container or script template: a Pod node and a `StartStep` action.
    #[allow(clippy::too_many_arguments)]
    fn execute_pod(
        &mut self,
        name: &str,
        tmpl: &Template,
        call: &Call,
        scope: &Scope,
        inputs: &Inputs,
        locals: &Vars,
        opts: &Opts,
    ) -> Result<(), String> {
        if self.node_named(name).is_some() {
            return Ok(());
        }
        let id = self.init_node(
            name,
            NodeType::Pod,
            NodePhase::Pending,
            Some(call),
            scope,
            opts,
            None,
        );
        self.set_inputs(&id, tmpl, inputs);
        if !self.should_execute(opts.on_exit) {
            let message = self.shutdown_message().unwrap_or_default();
            self.mark(&id, NodePhase::Failed, Some(&message));
            return Ok(());
        }
        if !opts.on_exit && self.deadline_passed() {
            self.mark(&id, NodePhase::Failed, Some(DEADLINE_MESSAGE));
            return Ok(());
        }
        // A pod the node cannot take is never started, so its body is not needed (nor
        // checked: a command this machine could not run does not matter).
        if self.hold_unschedulable(&id, tmpl, opts)? {
            return Ok(());
        }
        let body = self.substitute_body(tmpl, inputs, locals)?;
        let Some(container) = body.main_container() else {
            return Err(format!("template `{}` has no container", tmpl.name()));
        };
        self.start_step(&id, &body, &container, inputs, opts)
    }

    /// Builds the step of a Pod or Container node and asks for it to start.
    fn start_step(
        &mut self,
        id: &str,
        body: &Template,
        container: &switchyard_model::workflow::Container,
        inputs: &Inputs,
        opts: &Opts,
    ) -> Result<(), String> {
        let started = self.node(id).map_or(self.now, |n| n.started_at);
        let mut deadline = opts.execution_deadline;
        let mut tighten = |d: DateTime<Utc>| {
            deadline = Some(deadline.map_or(d, |x| x.min(d)));
        };
        if let Some(t) = body.timeout.as_deref().filter(|t| !t.is_empty()) {
            let t = naming::parse_duration(t).map_err(|e| format!("invalid timeout: {e}"))?;
            tighten(started + to_chrono(t));
        }
        if let Some(ads) = &body.active_deadline_seconds {
            let secs = ads
                .as_i64()
                .ok_or_else(|| format!("activeDeadlineSeconds `{ads}` is not an integer"))?;
            tighten(started + chrono::Duration::seconds(secs));
        }
        let mut limit = deadline;
        if !opts.on_exit
            && let Some(w) = self.workflow_deadline()
        {
            limit = Some(limit.map_or(w, |x| x.min(w)));
        }
        let timeout = limit.map(|l| (l - self.now).to_std().unwrap_or(Duration::ZERO));
        let step_id = if self.generation == 0 {
            id.to_string()
        } else {
            format!("{id}-{}", self.generation)
        };
        let built = stepspec::build(stepspec::Request {
            step_id,
            // The uid, when the shell gave one: a run deleted and submitted again under the
            // same name must never find the old run's step directories.
            run: if self.run.uid.is_empty() {
                self.run.name
            } else {
                self.run.uid
            },
            template: body,
            container,
            inputs,
            timeout,
            library: self.run.library,
        })?;
        if let Some(n) = self.node_mut(id) {
            n.deadline = deadline;
            n.step = Some(StepRecord {
                spec: built.spec.clone(),
                secret_env: built.secret_env,
                handle: None,
                stop: None,
                stop_sent: false,
                declared_outputs: body.outputs.parameters.clone(),
            });
        }
        self.actions.push(Action::StartStep(built.spec));
        Ok(())
    }

    /// Substitutes a leaf template's body (container, script, container set, outputs) with
    /// every variable it may use.
    fn substitute_body(
        &self,
        tmpl: &Template,
        inputs: &Inputs,
        locals: &Vars,
    ) -> Result<Template, String> {
        // Without a tag in those parts, substituting gives the template back.
        if !resolve::has_tags(&(
            &tmpl.container,
            &tmpl.script,
            &tmpl.container_set,
            &tmpl.outputs,
        )) {
            return Ok(tmpl.clone());
        }
        let mut v = self.globals.clone();
        v.extend(locals.clone());
        vars::input_vars(Some(inputs), &mut v);
        for p in &tmpl.outputs.parameters {
            if let Some(path) = p.value_from.as_ref().and_then(|f| f.path.as_ref()) {
                v.insert(format!("outputs.parameters.{}.path", p.name), path.clone());
            }
        }
        let mut json = serde_json::to_value(tmpl).map_err(|e| e.to_string())?;
        if let Json::Object(map) = &mut json {
            for key in ["container", "script", "containerSet", "outputs"] {
                if let Some(part) = map.get_mut(key) {
                    vars::subst_json(part, &v, &Mode::Lenient)?;
                }
            }
        }
        serde_json::from_value(json).map_err(|e| format!("template `{}`: {e}", tmpl.name()))
    }

    /// A container set: a Pod node with one Container node per container, each run as its
    /// own step once the containers it depends on succeeded.
    #[allow(clippy::too_many_arguments)]
    fn execute_container_set(
        &mut self,
        name: &str,
        tmpl: &Template,
        call: &Call,
        scope: &Scope,
        inputs: &Inputs,
        locals: &Vars,
        opts: &Opts,
    ) -> Result<(), String> {
        let (pod_id, created) = self.node_or_init(
            name,
            NodeType::Pod,
            NodePhase::Pending,
            call,
            scope,
            opts,
            tmpl,
            inputs,
        );
        if created {
            if !self.should_execute(opts.on_exit) {
                let message = self.shutdown_message().unwrap_or_default();
                self.mark(&pod_id, NodePhase::Failed, Some(&message));
                return Ok(());
            }
            if !opts.on_exit && self.deadline_passed() {
                self.mark(&pod_id, NodePhase::Failed, Some(DEADLINE_MESSAGE));
                return Ok(());
            }
        }
        if self.node(&pod_id).is_some_and(Node::fulfilled) {
            return Ok(());
        }
        // Until it has container nodes, the pod may be one the node cannot take: then it
        // waits alone, without them (nothing of it ever runs).
        let taken = self.node(&pod_id).is_none_or(|n| {
            n.phase != NodePhase::Pending
                || n.children.iter().any(|c| {
                    self.node(c)
                        .is_some_and(|c| c.node_type == NodeType::Container)
                })
        });
        if !taken && self.hold_unschedulable(&pod_id, tmpl, opts)? {
            return Ok(());
        }
        let body = self.substitute_body(tmpl, inputs, locals)?;
        let Some(set) = &body.container_set else {
            return Err(format!("template `{}` has no containerSet", tmpl.name()));
        };
        let child_opts = Opts {
            boundary: Some(pod_id.clone()),
            on_exit: opts.on_exit,
            flag: opts.flag,
            execution_deadline: opts.execution_deadline,
            ..Opts::default()
        };
        // Create the container nodes and their graph once.
        for c in &set.containers {
            let cname = format!("{name}.{}", c.name);
            if self.node_named(&cname).is_none() {
                self.init_node(
                    &cname,
                    NodeType::Container,
                    NodePhase::Pending,
                    Some(call),
                    scope,
                    &child_opts,
                    None,
                );
            }
        }
        for c in &set.containers {
            let cname = format!("{name}.{}", c.name);
            if c.dependencies.is_empty() {
                self.add_child(name, &cname);
            }
            for d in &c.dependencies {
                self.add_child(&format!("{name}.{d}"), &cname);
            }
        }
        // Start the containers whose dependencies succeeded; omit those that cannot run.
        let mut all_done = true;
        let mut failure: Option<(NodePhase, String)> = None;
        for c in &set.containers {
            let cname = format!("{name}.{}", c.name);
            let Some(node) = self.node_named(&cname).cloned() else {
                continue;
            };
            if node.fulfilled() {
                if node.phase.failed_or_error() && failure.is_none() {
                    failure = Some((node.phase, node.message.clone().unwrap_or_default()));
                }
                continue;
            }
            all_done = false;
            if node.step.is_some() {
                continue;
            }
            let mut ready = true;
            let mut blocked = None;
            for d in &c.dependencies {
                match self.node_named(&format!("{name}.{d}")) {
                    Some(dn) if dn.phase == NodePhase::Succeeded => {}
                    Some(dn) if dn.fulfilled() => blocked = Some(d.clone()),
                    _ => ready = false,
                }
            }
            if let Some(d) = blocked {
                self.mark(
                    &node.id,
                    NodePhase::Omitted,
                    Some(&format!("omitted: container `{d}` did not succeed")),
                );
                continue;
            }
            if !ready {
                continue;
            }
            if !self.should_execute(opts.on_exit) {
                let message = self.shutdown_message().unwrap_or_default();
                self.mark(&node.id, NodePhase::Failed, Some(&message));
                continue;
            }
            let container = c.to_container();
            let mut single = body.clone();
            single.container_set = None;
            if c.name != "main" {
                single.outputs = Outputs::default();
            }
            self.start_step(&node.id, &single, &container, inputs, &child_opts)?;
            if let Some(p) = self.node_mut(&pod_id)
                && p.phase == NodePhase::Pending
            {
                p.phase = NodePhase::Running;
            }
        }
        if all_done {
            let main = self
                .node_named(&format!("{name}.main"))
                .and_then(|m| m.outputs.clone());
            if let Some(p) = self.node_mut(&pod_id) {
                p.outputs = main;
            }
            match failure {
                Some((phase, message)) => self.mark(&pod_id, phase, Some(&message)),
                None => self.mark(&pod_id, NodePhase::Succeeded, None),
            }
            if self
                .node(&pod_id)
                .is_some_and(|n| n.phase == NodePhase::Succeeded)
            {
                let outputs = self.node(&pod_id).and_then(|n| n.outputs.clone());
                self.publish_global_outputs(outputs.as_ref());
            }
        }
        Ok(())
    }

    /// A suspend template: waits to be resumed, or for its `duration`.
    fn execute_suspend(
        &mut self,
        name: &str,
        tmpl: &Template,
        call: &Call,
        scope: &Scope,
        inputs: &Inputs,
        opts: &Opts,
    ) -> Result<(), String> {
        let (id, created) = self.node_or_init(
            name,
            NodeType::Suspend,
            NodePhase::Pending,
            call,
            scope,
            opts,
            tmpl,
            inputs,
        );
        if created {
            let supplied: Vec<Parameter> = tmpl
                .outputs
                .parameters
                .iter()
                .filter(|p| p.value_from.as_ref().is_some_and(|f| f.supplied.is_some()))
                .map(|p| {
                    let mut p = p.clone();
                    if let Some(vf) = &mut p.value_from
                        && vf.default.is_none()
                    {
                        vf.default = tmpl
                            .inputs
                            .parameters
                            .iter()
                            .find(|i| i.name == p.name)
                            .and_then(|i| i.default.clone());
                    }
                    p
                })
                .collect();
            if !supplied.is_empty()
                && let Some(n) = self.node_mut(&id)
            {
                n.outputs = Some(Outputs {
                    parameters: supplied,
                    ..Outputs::default()
                });
            }
        }
        if self.node(&id).is_some_and(Node::fulfilled) {
            return Ok(());
        }
        if let Some(d) = tmpl
            .suspend
            .as_ref()
            .and_then(|s| s.duration.as_deref())
            .filter(|d| !d.is_empty())
        {
            let d = naming::parse_duration(d)?;
            let started = self.node(&id).map_or(self.now, |n| n.started_at);
            let wake = started + to_chrono(d);
            if self.now >= wake {
                self.fill_supplied_defaults(&id);
                self.mark(&id, NodePhase::Succeeded, None);
                let outputs = self.node(&id).and_then(|n| n.outputs.clone());
                self.publish_global_outputs(outputs.as_ref());
                return Ok(());
            }
            self.set_wake(&id, Some(wake));
        }
        if self
            .node(&id)
            .is_some_and(|n| n.phase == NodePhase::Pending)
        {
            self.mark(&id, NodePhase::Running, None);
        }
        Ok(())
    }

    /// Gives supplied output parameters without a value their default (Argo's
    /// `OverrideOutputParametersWithDefault`).
    pub(crate) fn fill_supplied_defaults(&mut self, id: &str) {
        if let Some(n) = self.node_mut(id)
            && let Some(outputs) = &mut n.outputs
        {
            for p in &mut outputs.parameters {
                if p.value.is_none()
                    && let Some(d) = p.value_from.as_ref().and_then(|f| f.default.clone())
                {
                    p.value = Some(d);
                }
            }
        }
    }

    /// Publishes output parameters with a `globalName` as workflow outputs.
    pub(crate) fn publish_global_outputs(&mut self, outputs: Option<&Outputs>) {
        let Some(outputs) = outputs else { return };
        let mut changed = false;
        for p in &outputs.parameters {
            let (Some(global), Some(value)) = (p.global_name.as_ref(), p.value.as_ref()) else {
                continue;
            };
            let wf_outputs = self.outputs.get_or_insert_with(Outputs::default);
            match wf_outputs.parameters.iter_mut().find(|g| &g.name == global) {
                Some(existing) => {
                    if existing.value.as_ref() != Some(value) {
                        existing.value = Some(value.clone());
                        changed = true;
                    }
                }
                None => {
                    wf_outputs.parameters.push(Parameter {
                        name: global.clone(),
                        value: Some(value.clone()),
                        ..Parameter::default()
                    });
                    changed = true;
                }
            }
        }
        if changed {
            self.refresh_globals();
        }
    }
}

/// Whether the local executor runs this template type.
pub(crate) fn is_supported(kind: TemplateKind) -> bool {
    matches!(
        kind,
        TemplateKind::Container
            | TemplateKind::Script
            | TemplateKind::ContainerSet
            | TemplateKind::Steps
            | TemplateKind::Dag
            | TemplateKind::Suspend
    )
}

/// The message for a template type the local executor does not run.
pub(crate) fn unsupported_message(template: &str, kind: TemplateKind) -> String {
    let article = match kind {
        TemplateKind::Http => "an",
        _ => "a",
    };
    format!(
        "{} is {article} `{}` template, which is not supported by the local executor",
        template_label(template),
        kind.field()
    )
}

/// How messages name a template: "template `x`", or "an inline template" when it has no
/// name.
pub(crate) fn template_label(name: &str) -> String {
    if name.is_empty() {
        "an inline template".to_string()
    } else {
        format!("template `{name}`")
    }
}

pub(crate) fn strategy_name(s: ShutdownStrategy) -> &'static str {
    match s {
        ShutdownStrategy::Stop => "Stop",
        ShutdownStrategy::Terminate => "Terminate",
    }
}

fn enum_list(values: &[AnyString]) -> String {
    values
        .iter()
        .map(|v| format!("`{}`", v.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Errors the engine considers transient (for `retryPolicy: OnTransientError`): a step whose
/// process was lost, or a failure of the runner itself.
pub(crate) fn is_transient(message: &str) -> bool {
    message.starts_with(crate::apply::LOST_PREFIX) || message.starts_with("step runner failed")
}

pub(crate) fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A node's run time in seconds (`lastRetry.duration`), as Argo computes it: the difference of
/// its start and finish times as the status stores them, with whole seconds (Kubernetes'
/// `metav1.Time`), so always a whole number (`asInt(lastRetry.duration)` works); 0 while the
/// node has not finished.
fn duration_seconds(n: &Node) -> String {
    let Some(end) = n.finished_at else {
        return "0".to_string();
    };
    (end.timestamp() - n.started_at.timestamp()).to_string()
}

/// Substitutes the parts of a template that do not depend on its children or its attempt:
/// everything except `inputs`, `outputs`, the leaf bodies and the steps/tasks lists. A
/// template whose header holds no `{{...}}` tag is returned as it is, without building the
/// variables.
fn substitute_header<'a>(
    tmpl: Cow<'a, Template>,
    vars: impl FnOnce() -> Vars,
) -> Result<Cow<'a, Template>, String> {
    if !header_has_tags(&tmpl) {
        return Ok(tmpl);
    }
    let v = vars();
    let mut json = serde_json::to_value(&*tmpl).map_err(|e| e.to_string())?;
    let mut kept: BTreeMap<String, Json> = BTreeMap::new();
    let mut tasks = None;
    if let Json::Object(map) = &mut json {
        for key in [
            "inputs",
            "outputs",
            "steps",
            "container",
            "script",
            "containerSet",
        ] {
            if let Some(part) = map.remove(key) {
                kept.insert(key.to_string(), part);
            }
        }
        if let Some(Json::Object(dag)) = map.get_mut("dag") {
            tasks = dag.remove("tasks");
        }
    }
    vars::subst_json(&mut json, &v, &Mode::Lenient)?;
    if let Json::Object(map) = &mut json {
        for (k, part) in kept {
            map.insert(k, part);
        }
        if let (Some(t), Some(Json::Object(dag))) = (tasks, map.get_mut("dag")) {
            dag.insert("tasks".into(), t);
        }
    }
    serde_json::from_value(json)
        .map(Cow::Owned)
        .map_err(|e| format!("template `{}`: {e}", tmpl.name()))
}

/// Whether a template's own input values (or defaults) hold a `{{...}}` tag.
pub(crate) fn inputs_have_tags(tmpl: &Template) -> bool {
    tmpl.inputs.parameters.iter().any(|p| {
        p.value
            .as_ref()
            .or(p.default.as_ref())
            .is_some_and(|v| v.as_str().contains("{{"))
    })
}

/// Whether the part of a template [`substitute_header`] substitutes holds a `{{...}}` tag.
/// Every field is named, so that a field added to [`Template`] must be placed here.
pub(crate) fn header_has_tags(tmpl: &Template) -> bool {
    let Template {
        name,
        inputs: _,
        outputs: _,
        node_selector,
        affinity,
        metadata,
        daemon: _,
        steps: _,
        container: _,
        container_set: _,
        script: _,
        resource,
        dag,
        suspend,
        data,
        http,
        plugin,
        volumes,
        init_containers,
        sidecars,
        archive_location,
        active_deadline_seconds,
        retry_strategy,
        parallelism: _,
        fail_fast: _,
        tolerations,
        scheduler_name,
        priority_class_name,
        priority: _,
        service_account_name,
        automount_service_account_token: _,
        executor,
        host_aliases,
        security_context,
        pod_spec_patch,
        metrics,
        synchronization,
        memoize,
        timeout,
        annotations,
        pending_timeout,
        pod_resources,
        resource_claims,
    } = tmpl;
    let dag_header = dag.as_ref().map(|d| {
        let switchyard_model::workflow::DagTemplate {
            target,
            tasks: _,
            fail_fast: _,
        } = d;
        target
    });
    resolve::has_tags(&(
        name,
        node_selector,
        affinity,
        metadata,
        resource,
        dag_header,
        suspend,
        data,
        http,
        plugin,
        volumes,
        init_containers,
    )) || resolve::has_tags(&(
        sidecars,
        archive_location,
        active_deadline_seconds,
        retry_strategy,
        tolerations,
        scheduler_name,
        priority_class_name,
        service_account_name,
        executor,
        host_aliases,
        security_context,
        pod_spec_patch,
    )) || resolve::has_tags(&(
        metrics,
        synchronization,
        memoize,
        timeout,
        annotations,
        pending_timeout,
        pod_resources,
        resource_claims,
    ))
}
