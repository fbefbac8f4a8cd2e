//! DAG templates (Argo's `executeDAG`, `executeDAGTask`, `assessDAGPhase`): dependencies
//! (`dependencies` and enhanced `depends`), Omitted tasks, `dag.target`, `failFast`, loops as
//! TaskGroups, and the outputs of the DAG.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use switchyard_expr::govaluate::evaluate_when;
use switchyard_model::logic::BoolExpr;
use switchyard_model::workflow::{DagTask, Inputs, Template, TemplateCall, TemplateKind};

use crate::exec::{ExecErr, Op, Opts};
use crate::exec::{header_has_tags, inputs_have_tags};
use crate::memo::Facts;
use crate::resolve::{self, Call, Scope};
use crate::state::{Node, NodePhase, NodeType};
use crate::steps::{Resolved, continues_on};
use crate::vars::{self, Vars};

/// How a task decides whether it runs, from its dependencies' results.
#[derive(Debug, Clone)]
enum Logic {
    /// No dependencies: a root task.
    None,
    /// `dependencies: [a, b]`: each must have succeeded (or been skipped, or failed/errored
    /// when it continues on that).
    All(Vec<String>),
    /// `depends: "a.Succeeded || b"`.
    Expr(BoolExpr),
}

const RESULTS: &[&str] = &[
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
];

/// The dependencies of a task, in order of first mention, and its logic; `is_task` tells the
/// names of the DAG's tasks.
fn task_logic(
    task: &DagTask,
    is_task: &dyn Fn(&str) -> bool,
) -> Result<(Vec<String>, Logic), String> {
    if task.uses_depends() {
        let text = task.depends.as_deref().unwrap_or("");
        let expr = BoolExpr::parse(text)
            .map_err(|e| format!("task `{}`: invalid depends `{text}`: {e}", task.name))?;
        let mut deps: Vec<String> = Vec::new();
        for (name, result, _) in expr.operands() {
            if !is_task(name) {
                return Err(format!(
                    "task `{}` depends on `{name}`, which is not a task of this DAG",
                    task.name
                ));
            }
            if let Some(r) = result
                && !RESULTS.contains(&r)
            {
                return Err(format!("task result '{r}' for task '{name}' is invalid"));
            }
            if !deps.iter().any(|d| d == name) {
                deps.push(name.to_string());
            }
        }
        return Ok((deps, Logic::Expr(expr)));
    }
    if task.dependencies.is_empty() {
        return Ok((Vec::new(), Logic::None));
    }
    let mut deps: Vec<String> = Vec::new();
    for d in &task.dependencies {
        if !is_task(d) {
            return Err(format!(
                "task `{}` depends on `{d}`, which is not a task of this DAG",
                task.name
            ));
        }
        if !deps.contains(d) {
            deps.push(d.clone());
        }
    }
    Ok((deps.clone(), Logic::All(deps)))
}

/// A DAG's tasks, compiled once: names, dependencies and how each task decides to run.
///
/// Tasks are named by a *slot*: the index of their name among the distinct names, in order of
/// first appearance. Where a name is used twice (the loader refuses it; a stored run may not
/// have been loaded), a lookup by name finds the first task, and its dependencies are the
/// last one's, as a map by name keeps them.
#[derive(Debug)]
pub(crate) struct CompiledDag {
    names: Vec<String>,
    slot_of: HashMap<String, usize>,
    /// The index in the template's task list of the first task of each slot.
    first: Vec<usize>,
    /// Each slot's dependencies (slots, in order of first mention) and logic.
    deps: Vec<Vec<usize>>,
    logic: Vec<Logic>,
    /// The slots no task depends on, by name.
    leaves: Vec<usize>,
    /// The slots that depend on each slot.
    dependents: Vec<Vec<usize>>,
    /// Whether the DAG is simple enough to be followed incrementally (see [`DagRun`]), and
    /// which of its tasks are fixed: resolving them reads no variable.
    simple: bool,
    fixed: Vec<bool>,
}

impl CompiledDag {
    /// Compiles `tasks`; the first task whose dependencies are invalid is the error.
    pub(crate) fn new(tasks: &[DagTask]) -> Result<CompiledDag, String> {
        let mut names: Vec<String> = Vec::new();
        let mut slot_of: HashMap<String, usize> = HashMap::new();
        let mut first = Vec::new();
        for (i, t) in tasks.iter().enumerate() {
            if !slot_of.contains_key(&t.name) {
                slot_of.insert(t.name.clone(), names.len());
                names.push(t.name.clone());
                first.push(i);
            }
        }
        let mut deps = vec![Vec::new(); names.len()];
        let mut logic = vec![Logic::None; names.len()];
        for task in tasks {
            let (d, l) = task_logic(task, &|name| slot_of.contains_key(name))?;
            let slot = slot_of[&task.name];
            deps[slot] = d.iter().map(|name| slot_of[name]).collect();
            logic[slot] = l;
        }
        let mut depended = vec![false; names.len()];
        for d in deps.iter().flatten() {
            depended[*d] = true;
        }
        let mut leaves: Vec<usize> = (0..names.len()).filter(|s| !depended[*s]).collect();
        leaves.sort_by(|a, b| names[*a].cmp(&names[*b]));
        let mut dependents = vec![Vec::new(); names.len()];
        for (slot, ds) in deps.iter().enumerate() {
            for d in ds {
                dependents[*d].push(slot);
            }
        }
        Ok(CompiledDag {
            names,
            slot_of,
            first,
            deps,
            logic,
            leaves,
            dependents,
            simple: false,
            fixed: Vec::new(),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    fn slot(&self, name: &str) -> Option<usize> {
        self.slot_of.get(name).copied()
    }

    /// Every slot `slot` depends on, directly or not, in the order the scope of a task adds
    /// them (a depth-first walk from its last dependency).
    fn ancestors(&self, slot: usize) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        let mut seen = vec![false; self.names.len()];
        let mut stack: Vec<usize> = self.deps[slot].clone();
        while let Some(t) = stack.pop() {
            if seen[t] {
                continue;
            }
            seen[t] = true;
            stack.extend_from_slice(&self.deps[t]);
            out.push(t);
        }
        out
    }
}

/// What one pass over a DAG knows.
struct DagCtx<'t> {
    name: String,
    id: String,
    tasks: &'t [DagTask],
    dag: &'t CompiledDag,
    visited: Vec<bool>,
    inner_scope: Scope,
    inputs: &'t Inputs,
    fail_fast_tmpl: bool,
    parallelism: Option<i64>,
    on_exit: bool,
}

impl<'t> DagCtx<'t> {
    /// The (first) task of a slot.
    fn task(&self, slot: usize) -> &'t DagTask {
        &self.tasks[self.dag.first[slot]]
    }

    fn task_name(&self, slot: usize) -> &'t str {
        &self.dag.names[slot]
    }

    fn task_node_name(&self, slot: usize) -> String {
        format!("{}.{}", self.name, self.dag.names[slot])
    }
}

/// Where a task of a simple DAG stands, from its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskState {
    /// No node yet.
    Waiting,
    /// A node that is not fulfilled.
    Active,
    /// A fulfilled node.
    Settled,
}

/// A simple DAG followed from one command to the next, so that a pass looks only at the tasks
/// that can move instead of walking the whole DAG.
///
/// A DAG is simple when no task has a loop, hooks or an exit handler, and every task calls,
/// by a name or reference without `{{...}}` tags, a container or script template without
/// retries, and the run was never retried. A task is *fixed* when, besides, nothing in it
/// (arguments, `when`) nor in its template's header and inputs holds a tag: it then resolves
/// the same on every pass. In the walk Argo makes from the targets (`executeDAGTask`, depth
/// first, each task after its dependencies), which only acts after a task's dependencies:
/// - a task whose node is fulfilled does nothing;
/// - a fixed task whose node runs does nothing (it resolves as when it started, and its node
///   exists); another one resolves again (what it reads may have changed);
/// - a task without a node whose dependencies are not all fulfilled does nothing;
/// - a task without a node whose dependencies are fulfilled is *ready*: it starts, or is
///   omitted, skipped or errored, or a parallelism limit holds it back. A fixed task held
///   back a second time does nothing at all, since everything before the limit is the same.
///
/// So a pass only needs the ready tasks and the running tasks that are not fixed, in the
/// order the walk reaches them (its post-order, computed once), skipping the fixed tasks
/// already held back while the limit is reached. Tasks that become ready during the pass
/// further in that order are reached in the same pass, as in the walk. A DAG is running while
/// one of its tasks has a node that is not fulfilled: every task node hangs under the DAG or
/// under its dependencies' nodes, so Argo's assessment reaches it.
#[derive(Debug)]
pub(crate) struct DagRun {
    /// The template and `dag.target` this was made for.
    key: ((Option<String>, String), Option<String>),
    /// The index epoch this was made in (its node numbers are that index's).
    epoch: u64,
    compiled: Arc<CompiledDag>,
    /// The index number of each slot's task node.
    numbers: Vec<u32>,
    /// Each slot's position in the walk's post-order (`u32::MAX`: the walk never reaches it).
    rank: Vec<u32>,
    /// The slot at each position.
    order: Vec<usize>,
    state: Vec<TaskState>,
    /// Dependencies not yet settled.
    waiting_on: Vec<u32>,
    /// Whether each task was looked at while ready.
    seen: Vec<bool>,
    /// By position: ready tasks never looked at; fixed ready tasks held back before; tasks
    /// to look at on every pass (ready or running, not fixed).
    fresh: BTreeSet<u32>,
    held: BTreeSet<u32>,
    again: BTreeSet<u32>,
    /// Tasks with an active node.
    active: usize,
}

impl DagRun {
    fn state_of(facts: Option<Facts>) -> TaskState {
        match facts {
            None => TaskState::Waiting,
            Some(f) if f.phase.fulfilled() => TaskState::Settled,
            Some(_) => TaskState::Active,
        }
    }

    fn ready(&self, slot: usize) -> bool {
        self.state[slot] == TaskState::Waiting
            && self.waiting_on[slot] == 0
            && self.rank[slot] != u32::MAX
    }

    /// Puts a task in the set it belongs to now (see the fields).
    fn place(&mut self, slot: usize) {
        let rank = self.rank[slot];
        self.fresh.remove(&rank);
        self.held.remove(&rank);
        self.again.remove(&rank);
        let fixed = self.compiled.fixed[slot];
        let set = match self.state[slot] {
            TaskState::Waiting if !self.ready(slot) => return,
            TaskState::Waiting if !self.seen[slot] => &mut self.fresh,
            TaskState::Waiting if fixed => &mut self.held,
            TaskState::Active if !fixed && rank != u32::MAX => &mut self.again,
            TaskState::Waiting => &mut self.again,
            _ => return,
        };
        set.insert(rank);
    }

    /// Slot `slot`'s node is now `new`. `false` when that cannot happen (a node went back):
    /// the run must be made again.
    fn moved(&mut self, slot: usize, new: TaskState) -> bool {
        let old = self.state[slot];
        if old == new {
            return true;
        }
        match (old, new) {
            (TaskState::Waiting, TaskState::Active) => self.active += 1,
            (TaskState::Waiting, TaskState::Settled) => {}
            (TaskState::Active, TaskState::Settled) => self.active -= 1,
            _ => return false,
        }
        self.state[slot] = new;
        self.place(slot);
        if new == TaskState::Settled {
            let compiled = self.compiled.clone();
            for &d in &compiled.dependents[slot] {
                self.waiting_on[d] = self.waiting_on[d].saturating_sub(1);
                self.place(d);
            }
        }
        true
    }
}

/// Whether a task has lifecycle hooks other than `exit` (only those need its scope before it
/// runs).
fn has_expression_hooks(task: &DagTask) -> bool {
    task.hooks
        .keys()
        .any(|k| k != switchyard_model::workflow::EXIT_HOOK)
}

/// Whether resolving a step or task can read any variable: only a `{{...}}` tag can,
/// anywhere in it (its arguments, loop, `when`, an inline template).
pub(crate) fn needs_scope<T: serde::Serialize>(call: &T) -> bool {
    resolve::has_tags(call)
}

impl Op<'_> {
    /// A DAG template.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn execute_dag(
        &mut self,
        name: &str,
        tmpl: &Template,
        call: &Call,
        scope: &Scope,
        inner_scope: &Scope,
        inputs: &Inputs,
        opts: &Opts,
    ) -> Result<(), String> {
        let (id, _) = self.node_or_init(
            name,
            NodeType::Dag,
            NodePhase::Running,
            call,
            scope,
            opts,
            tmpl,
            inputs,
        );
        if self.node(&id).is_some_and(Node::fulfilled) {
            return Ok(());
        }
        let Some(dag) = &tmpl.dag else {
            return Err(format!("template `{}` has no dag", tmpl.name()));
        };
        // A template found by name is the same template every time: its compiled tasks are
        // kept (an inline one is compiled on each pass).
        let key = call.template_key(inner_scope);
        let compiled = match key.as_ref().and_then(|k| self.compiled_dag(k)) {
            Some(c) => c,
            None => {
                let mut c = CompiledDag::new(&dag.tasks)?;
                if key.is_some()
                    && let Some(fixed) = self.simple_dag(&dag.tasks, &c, inner_scope)
                {
                    c.simple = true;
                    c.fixed = fixed;
                }
                let c = Arc::new(c);
                if let Some(k) = &key {
                    self.keep_compiled_dag(k.clone(), c.clone());
                }
                c
            }
        };
        let mut ctx = DagCtx {
            name: name.to_string(),
            id: id.clone(),
            tasks: &dag.tasks,
            dag: &compiled,
            visited: vec![false; compiled.len()],
            inner_scope: inner_scope.clone(),
            inputs,
            fail_fast_tmpl: tmpl.fail_fast == Some(true),
            parallelism: tmpl.parallelism,
            on_exit: opts.on_exit,
        };
        let targets: Vec<usize> = match dag
            .target
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(t) => t
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(|t| {
                    compiled
                        .slot(t)
                        .ok_or_else(|| format!("target `{t}` is not a task of this DAG"))
                })
                .collect::<Result<_, _>>()?,
            None => compiled.leaves.clone(),
        };
        let mut exit_done = true;
        // Tasks with an active node, when the DAG is followed incrementally.
        let mut active = None;
        match key {
            Some(key) if compiled.simple && self.generation == 0 => {
                let run_key = (key, dag.target.clone());
                active = Some(self.run_simple_dag(&mut ctx, &compiled, run_key, &targets)?);
            }
            _ => {
                for &t in &targets {
                    self.execute_dag_task(&mut ctx, t)?;
                    let task_node_name = ctx.task_node_name(t);
                    let Some(node) = self.node_named(&task_node_name) else {
                        continue;
                    };
                    let completed = node.phase.completed();
                    let exit_name = format!("{}.onExit", node.name);
                    let task = ctx.task(t);
                    if has_expression_hooks(task) {
                        let node = node.clone();
                        let scope_vars = self.task_scope(&ctx, t);
                        self.run_lifecycle_hooks(
                            &task.hooks,
                            &node,
                            &ctx.id,
                            &ctx.inner_scope,
                            "tasks",
                            ctx.task_name(t),
                            &scope_vars,
                            ctx.on_exit,
                        )?;
                    }
                    if completed
                        && let Some(exit) = self.node_named(&exit_name)
                        && !exit.fulfilled()
                    {
                        exit_done = false;
                    }
                }
            }
        }
        let shutdown = self.shutdown.is_some()
            && exit_done
            && !ctx.on_exit
            && !self.has_live_steps_under(&ctx.id);
        let phase = match active {
            // Argo's assessment would reach the active task node and stop there.
            Some(n) if n > 0 && !shutdown => NodePhase::Running,
            _ => self.assess_dag(&ctx, &targets, shutdown, dag.fail_fast != Some(false)),
        };
        match phase {
            NodePhase::Running => return Ok(()),
            NodePhase::Failed | NodePhase::Error => {
                self.update_dag_outbound(&ctx, &targets);
                self.mark(&id, phase, None);
                return Ok(());
            }
            _ => {}
        }
        let mut scope_vars = self.globals.clone();
        vars::input_vars(Some(inputs), &mut scope_vars);
        for task in ctx.tasks {
            let Some(node) = self
                .node_named(&format!("{}.{}", ctx.name, task.name))
                .cloned()
            else {
                continue;
            };
            if node.node_type == NodeType::TaskGroup {
                let children: Vec<&Node> =
                    node.children.iter().filter_map(|c| self.node(c)).collect();
                vars::aggregate_vars("tasks", &task.name, &children, &mut scope_vars);
            }
            self.add_call_vars("tasks", &task.name, &node, &mut scope_vars);
            self.add_skipped_outputs(
                "tasks",
                &task.name,
                &node,
                &Call::of_task(task),
                &ctx.inner_scope,
                &mut scope_vars,
            );
            let outputs = self.last_attempt(&node).unwrap_or(node).outputs;
            self.publish_global_outputs(outputs.as_ref());
        }
        let outputs = match self.template_outputs(tmpl, &scope_vars) {
            Ok(o) => o,
            Err(message) => {
                self.mark_error(&id, &message);
                return Ok(());
            }
        };
        if let Some(outputs) = outputs {
            if let Some(n) = self.node_mut(&id) {
                n.outputs = Some(outputs.clone());
            }
            self.publish_global_outputs(Some(&outputs));
        }
        self.update_dag_outbound(&ctx, &targets);
        self.mark(&id, NodePhase::Succeeded, None);
        Ok(())
    }

    fn update_dag_outbound(&mut self, ctx: &DagCtx<'_>, targets: &[usize]) {
        let mut outbound = Vec::new();
        for &t in targets {
            if let Some(n) = self.node_named(&ctx.task_node_name(t)) {
                let id = n.id.clone();
                outbound.extend(self.outbound_nodes(&id));
            }
        }
        if let Some(n) = self.node_mut(&ctx.id) {
            n.outbound_nodes = outbound;
        }
    }

    /// One pass over a simple DAG (see [`DagRun`]): the ready tasks, in the order of the walk.
    /// Returns how many tasks have an active node.
    fn run_simple_dag(
        &mut self,
        ctx: &mut DagCtx<'_>,
        compiled: &Arc<CompiledDag>,
        key: ((Option<String>, String), Option<String>),
        targets: &[usize],
    ) -> Result<usize, String> {
        let number = self.index().number(&ctx.id);
        let epoch = self.index().epoch;
        // The run is taken out of the index while tasks execute, and put back after.
        let kept = self.index().dags.remove(&number);
        let mut run = match kept {
            Some(run) if run.key == key && run.epoch == epoch => run,
            _ => self.new_dag_run(ctx, compiled, key.clone(), targets, number),
        };
        let mut position = 0u32;
        let result = loop {
            if !self.refresh_dag_run(&mut run, number) {
                run = self.new_dag_run(ctx, compiled, key.clone(), targets, number);
            }
            let held = if self.dag_saturated(ctx) {
                None
            } else {
                run.held.range(position..).next().copied()
            };
            let next = [
                run.fresh.range(position..).next().copied(),
                run.again.range(position..).next().copied(),
                held,
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else {
                break Ok(());
            };
            position = next + 1;
            let slot = run.order[next as usize];
            if let Err(e) = self.execute_dag_task(ctx, slot) {
                break Err(e);
            }
            // Looked at while ready: if it is still without a node, a limit held it back
            // (the next refresh sees a node it got).
            if !run.seen[slot] {
                run.seen[slot] = true;
                run.place(slot);
            }
        };
        if !self.refresh_dag_run(&mut run, number) {
            run = self.new_dag_run(ctx, compiled, key, targets, number);
        }
        let active = run.active;
        self.index().dags.insert(number, run);
        result.map(|()| active)
    }

    /// Brings a simple DAG's run up to date with the task nodes that changed; `false` when it
    /// must be made again.
    fn refresh_dag_run(&mut self, run: &mut DagRun, number: u32) -> bool {
        let index = self.index();
        if index.epoch != run.epoch {
            return false;
        }
        let Some(stale) = index.stale.remove(&number) else {
            return true;
        };
        for slot in stale {
            let facts = index.entries[run.numbers[slot as usize] as usize].facts;
            if !run.moved(slot as usize, DagRun::state_of(facts)) {
                return false;
            }
        }
        true
    }

    /// Makes the run of a simple DAG from its nodes.
    fn new_dag_run(
        &mut self,
        ctx: &DagCtx<'_>,
        compiled: &Arc<CompiledDag>,
        key: ((Option<String>, String), Option<String>),
        targets: &[usize],
        number: u32,
    ) -> DagRun {
        let n = compiled.len();
        let ids: Vec<String> = (0..n).map(|s| self.id_of(&ctx.task_node_name(s))).collect();
        let index = self.index();
        let mut numbers = Vec::with_capacity(n);
        for (slot, id) in ids.iter().enumerate() {
            let k = index.number(id);
            index.entries[k as usize].owner = Some((number, slot as u32));
            numbers.push(k);
        }
        index.stale.remove(&number);
        let state: Vec<TaskState> = numbers
            .iter()
            .map(|k| DagRun::state_of(index.entries[*k as usize].facts))
            .collect();
        // The post-order of the walk from the targets (`executeDAGTask` recursing into the
        // dependencies first).
        let mut rank = vec![u32::MAX; n];
        let mut order = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        for &t in targets {
            if seen[t] {
                continue;
            }
            seen[t] = true;
            let mut stack: Vec<(usize, usize)> = vec![(t, 0)];
            while let Some((slot, next)) = stack.last_mut() {
                if let Some(&d) = compiled.deps[*slot].get(*next) {
                    *next += 1;
                    if !seen[d] {
                        seen[d] = true;
                        stack.push((d, 0));
                    }
                } else {
                    rank[*slot] = u32::try_from(order.len()).unwrap_or(u32::MAX);
                    order.push(*slot);
                    stack.pop();
                }
            }
        }
        let waiting_on: Vec<u32> = (0..n)
            .map(|s| {
                let open = compiled.deps[s]
                    .iter()
                    .filter(|d| state[**d] != TaskState::Settled)
                    .count();
                u32::try_from(open).unwrap_or(u32::MAX)
            })
            .collect();
        let mut run = DagRun {
            key,
            epoch: index.epoch,
            compiled: compiled.clone(),
            numbers,
            rank,
            order,
            active: state.iter().filter(|s| **s == TaskState::Active).count(),
            state,
            waiting_on,
            seen: vec![false; n],
            fresh: BTreeSet::new(),
            held: BTreeSet::new(),
            again: BTreeSet::new(),
        };
        for slot in 0..n {
            run.place(slot);
        }
        run
    }

    /// Whether a parallelism limit holds a new task of this DAG back without doing anything
    /// else (Argo's `checkParallelism` for a node that does not exist yet).
    fn dag_saturated(&mut self, ctx: &DagCtx<'_>) -> bool {
        if let Some(p) = self.run.spec.parallelism.filter(|p| *p > 0)
            && self.active_pods(None) >= p
        {
            return true;
        }
        if ctx.fail_fast_tmpl && self.unsuccessful_children(&ctx.id) > 0 {
            // With no active pod, failFast fails the DAG instead: that is not "nothing".
            return self.active_pods(Some(&ctx.id)) > 0;
        }
        ctx.parallelism
            .filter(|p| *p > 0)
            .is_some_and(|p| self.active_children(&ctx.id) >= p)
    }

    /// Whether a DAG is simple (see [`DagRun`]), given where its tasks find their templates,
    /// and which of its tasks are fixed.
    fn simple_dag(
        &self,
        tasks: &[DagTask],
        compiled: &CompiledDag,
        inner_scope: &Scope,
    ) -> Option<Vec<bool>> {
        let run = self.run;
        if compiled.len() != tasks.len() || run.spec.retry_strategy.is_some() {
            return None;
        }
        let mut fixed = vec![false; compiled.len()];
        for t in tasks {
            let plain_call = t.hooks.is_empty()
                && t.exit_hook(&run.spec.arguments).is_none()
                && t.with_items.is_empty()
                && t.with_param.is_none()
                && t.with_sequence.is_none()
                && !needs_scope(&(&t.template, &t.template_ref))
                && compiled.slot(&format!("{}.onExit", t.name)).is_none();
            if !plain_call {
                return None;
            }
            let (_, tmpl) =
                resolve::resolve(run.spec, run.library, inner_scope, &Call::of_task(t)).ok()?;
            let tmpl = resolve::apply_defaults(run.spec.template_defaults.as_deref(), tmpl);
            let leaf = matches!(
                tmpl.kind(),
                Some(TemplateKind::Container | TemplateKind::Script)
            ) && tmpl.retry_strategy.is_none();
            if !leaf {
                return None;
            }
            fixed[compiled.slot(&t.name)?] =
                !needs_scope(t) && !header_has_tags(&tmpl) && !inputs_have_tags(&tmpl);
        }
        Some(fixed)
    }

    /// The variables a task sees: the DAG's inputs and everything its ancestors expose.
    fn task_scope(&mut self, ctx: &DagCtx<'_>, slot: usize) -> Vars {
        self.stats().scopes += 1;
        let mut v = self.globals.clone();
        vars::input_vars(Some(ctx.inputs), &mut v);
        let dag = self.index().number(&ctx.id);
        for ancestor in ctx.dag.ancestors(slot) {
            // What a fulfilled task exposes no longer changes (until a retry, which makes a
            // new index): it is made once and shared by the scopes of every later task.
            let key = (dag, ancestor as u32);
            if let Some(part) = self.index().scope_parts.get(&key) {
                let part = part.clone();
                v.push_layer(part);
                continue;
            }
            let Some(node) = self.node_named(&ctx.task_node_name(ancestor)) else {
                continue;
            };
            let name = ctx.task_name(ancestor);
            let mut part = Vars::new();
            if node.node_type == NodeType::TaskGroup {
                let prefix = format!("{}(", node.name);
                let iterations: Vec<&Node> = self
                    .nodes()
                    .values()
                    .filter(|n| {
                        n.boundary_id.as_deref() == Some(ctx.id.as_str())
                            && n.name.starts_with(&prefix)
                    })
                    .collect();
                vars::aggregate_vars("tasks", name, &iterations, &mut part);
            }
            self.add_call_vars("tasks", name, node, &mut part);
            self.add_skipped_outputs(
                "tasks",
                name,
                node,
                &Call::of_task(ctx.task(ancestor)),
                &ctx.inner_scope,
                &mut part,
            );
            let fulfilled = node.fulfilled();
            let part = part.into_layer();
            if fulfilled {
                self.index().scope_parts.insert(key, part.clone());
            }
            v.push_layer(part);
        }
        v
    }

    /// Evaluates a task's dependencies: `None` while one is not done, else whether it runs.
    fn evaluate_depends(&self, ctx: &DagCtx<'_>, slot: usize) -> Option<bool> {
        let deps = &ctx.dag.deps[slot];
        let mut nodes: Vec<(usize, &Node)> = Vec::with_capacity(deps.len());
        for &d in deps {
            let node = self.node_named(&ctx.task_node_name(d))?;
            if !node.fulfilled() || !self.hooks_fulfilled(node) {
                return None;
            }
            nodes.push((d, node));
        }
        let satisfied = |name: &str, result: Option<&str>| -> bool {
            let Some(slot) = ctx.dag.slot(name) else {
                return false;
            };
            let Some((_, node)) = nodes.iter().find(|(d, _)| *d == slot) else {
                return false;
            };
            let phase = node.phase;
            match result {
                None => {
                    let continue_on = ctx.task(slot).continue_on();
                    matches!(phase, NodePhase::Succeeded | NodePhase::Skipped)
                        || continues_on(continue_on, phase)
                }
                Some("Succeeded") => phase == NodePhase::Succeeded,
                Some("Failed") => phase == NodePhase::Failed,
                Some("Errored") => phase == NodePhase::Error,
                Some("Skipped") => phase == NodePhase::Skipped,
                Some("Omitted") => phase == NodePhase::Omitted,
                Some("AnySucceeded" | "AllFailed") => {
                    let phases: Vec<NodePhase> = if node.node_type == NodeType::TaskGroup {
                        node.children
                            .iter()
                            .filter_map(|c| self.node(c))
                            .map(|c| c.phase)
                            .collect()
                    } else {
                        Vec::new()
                    };
                    if result == Some("AnySucceeded") {
                        phases.contains(&NodePhase::Succeeded)
                    } else {
                        !phases.is_empty() && phases.iter().all(|p| *p == NodePhase::Failed)
                    }
                }
                _ => false,
            }
        };
        Some(match &ctx.dag.logic[slot] {
            Logic::None => true,
            Logic::All(list) => list.iter().all(|d| satisfied(d, None)),
            Logic::Expr(expr) => expr.eval(&mut |name, result| satisfied(name, result)),
        })
    }

    /// Whether every hook child of a node is fulfilled (Argo's `CheckAllHooksFullfilled`).
    fn hooks_fulfilled(&self, node: &Node) -> bool {
        node.children
            .iter()
            .filter_map(|c| self.node(c))
            .all(|c| !c.hooked() || c.fulfilled())
    }

    /// Executes a task after its dependencies (Argo's `executeDAGTask`).
    fn execute_dag_task(&mut self, ctx: &mut DagCtx<'_>, slot: usize) -> Result<(), String> {
        if ctx.visited[slot] {
            return Ok(());
        }
        self.stats().dag_tasks += 1;
        ctx.visited[slot] = true;
        let task = ctx.task(slot);
        let task_name = ctx.task_name(slot);
        let node_name = ctx.task_node_name(slot);
        // What the task's node was when the task was reached; whole when hooks or a task
        // group need it.
        let existing = self
            .node_named(&node_name)
            .map(|n| (n.phase, n.node_type == NodeType::TaskGroup));
        let exit_hook = task.exit_hook(&self.run.spec.arguments);
        let snapshot = match existing {
            Some((_, group)) if group || has_expression_hooks(task) || exit_hook.is_some() => {
                self.node_named(&node_name).cloned()
            }
            _ => None,
        };
        if let Some(node) = &snapshot
            && (node.fulfilled() || node.phase == NodePhase::Running)
            && has_expression_hooks(task)
        {
            let scope_vars = self.task_scope(ctx, slot);
            let done = self.run_lifecycle_hooks(
                &task.hooks,
                node,
                &ctx.id,
                &ctx.inner_scope,
                "tasks",
                task_name,
                &scope_vars,
                ctx.on_exit,
            )?;
            if !done {
                return Ok(());
            }
        }
        if let Some((phase, _)) = existing
            && phase.fulfilled()
        {
            if phase.completed()
                && let (Some(hook), Some(node)) = (&exit_hook, &snapshot)
            {
                let scope_vars = self.task_scope(ctx, slot);
                self.run_on_exit(
                    Some(hook),
                    node,
                    &ctx.id,
                    &ctx.inner_scope,
                    "tasks",
                    task_name,
                    &scope_vars,
                )?;
            }
            return Ok(());
        }
        let task_group = snapshot.filter(|n| n.node_type == NodeType::TaskGroup);
        let node_opts = Opts {
            boundary: Some(ctx.id.clone()),
            on_exit: ctx.on_exit,
            ..Opts::default()
        };
        if !ctx.dag.deps[slot].is_empty() {
            for i in 0..ctx.dag.deps[slot].len() {
                self.execute_dag_task(ctx, ctx.dag.deps[slot][i])?;
            }
            match self.evaluate_depends(ctx, slot) {
                None => return Ok(()),
                Some(false) => {
                    if existing.is_none() {
                        self.init_node(
                            &node_name,
                            NodeType::Skipped,
                            NodePhase::Omitted,
                            Some(&Call::of_task(task)),
                            &ctx.inner_scope,
                            &node_opts,
                            Some("omitted: depends condition not met".into()),
                        );
                        self.connect_task(ctx, slot, &node_name, task_group.as_ref());
                    }
                    return Ok(());
                }
                Some(true) => {}
            }
        }
        // A call without `{{` resolves the same whatever the scope: it is built only when
        // something can read it.
        let scope_vars = if needs_scope(task) {
            self.task_scope(ctx, slot)
        } else {
            Vars::new()
        };
        let resolved = match self.resolve_call(task, &ctx.inner_scope, &scope_vars) {
            Ok(r) => r,
            Err(message) => {
                if existing.is_none() {
                    self.init_node(
                        &node_name,
                        NodeType::Skipped,
                        NodePhase::Error,
                        Some(&Call::of_task(task)),
                        &ctx.inner_scope,
                        &node_opts,
                        Some(message),
                    );
                    self.connect_task(ctx, slot, &node_name, task_group.as_ref());
                }
                return Ok(());
            }
        };
        let (expanded, is_loop) = match resolved {
            Resolved::Single(json) => (vec![json], false),
            Resolved::Expanded(items) => (items, true),
        };
        let mut calls: Vec<DagTask> = Vec::new();
        for json in expanded {
            let mut t: DagTask = serde_json::from_value(json).map_err(|e| e.to_string())?;
            t.template = task.template.clone();
            t.hooks = task.hooks.clone();
            calls.push(t);
        }
        let mut group = task_group;
        if is_loop {
            if calls.is_empty() {
                if existing.is_none() {
                    self.init_node(
                        &node_name,
                        NodeType::Skipped,
                        NodePhase::Skipped,
                        Some(&Call::of_task(task)),
                        &ctx.inner_scope,
                        &node_opts,
                        Some("Skipped, empty params".into()),
                    );
                    self.connect_task(ctx, slot, &node_name, None);
                }
                return Ok(());
            }
            if group.is_none() {
                self.connect_task(ctx, slot, &node_name, None);
                let gid = self.init_node(
                    &node_name,
                    NodeType::TaskGroup,
                    NodePhase::Running,
                    Some(&Call::of_task(task)),
                    &ctx.inner_scope,
                    &node_opts,
                    None,
                );
                group = self.node(&gid).cloned();
            }
        }
        for t in &calls {
            let child_name = format!("{}.{}", ctx.name, t.name);
            if self.node_named(&child_name).is_none() {
                self.connect_task(ctx, slot, &child_name, group.as_ref());
                let when = t.when.clone().unwrap_or_default();
                match evaluate_when(&when) {
                    Err(e) => {
                        self.init_node(
                            &child_name,
                            NodeType::Skipped,
                            NodePhase::Error,
                            Some(&Call::of_task(t)),
                            &ctx.inner_scope,
                            &node_opts,
                            Some(e.to_string()),
                        );
                        continue;
                    }
                    Ok(false) => {
                        self.init_node(
                            &child_name,
                            NodeType::Skipped,
                            NodePhase::Skipped,
                            Some(&Call::of_task(t)),
                            &ctx.inner_scope,
                            &node_opts,
                            Some(format!("when '{when}' evaluated false")),
                        );
                        continue;
                    }
                    Ok(true) => {}
                }
            }
            let opts = Opts {
                boundary: Some(ctx.id.clone()),
                on_exit: ctx.on_exit,
                boundary_fail_fast: ctx.fail_fast_tmpl,
                boundary_parallelism: ctx.parallelism,
                step_name: Some(("tasks", t.name.clone())),
                ..Opts::default()
            };
            match self.execute_template(
                &child_name,
                &Call::of_task(t),
                &ctx.inner_scope,
                &t.arguments,
                &opts,
            ) {
                Ok(_) | Err(ExecErr::Parallelism) => {}
                Err(ExecErr::Fail(message)) => {
                    let id = self.id_of(&child_name);
                    self.mark_error(&id, &format!("task '{child_name}' errored: {message}"));
                    return Ok(());
                }
            }
            let Some(node) = self.node_named(&child_name) else {
                return Ok(());
            };
            if node.phase.completed()
                && let Some(hook) = t.exit_hook(&self.run.spec.arguments)
            {
                let node = node.clone();
                let mut v = self.task_scope(ctx, slot);
                v.insert(
                    format!("tasks.{task_name}.status"),
                    node.phase.as_str().into(),
                );
                let (has, exit) = self.run_on_exit(
                    Some(&hook),
                    &node,
                    &ctx.id,
                    &ctx.inner_scope,
                    "tasks",
                    task_name,
                    &v,
                )?;
                if has && exit.is_none_or(|id| !self.node(&id).is_some_and(Node::fulfilled)) {
                    return Ok(());
                }
            }
        }
        if let Some(g) = group {
            let mut phase = NodePhase::Succeeded;
            for t in &calls {
                match self.node_named(&format!("{}.{}", ctx.name, t.name)) {
                    Some(n) if n.fulfilled() => {
                        if n.phase.failed_or_error() {
                            phase = n.phase;
                        }
                    }
                    _ => return Ok(()),
                }
            }
            self.mark(&g.id, phase, None);
        }
        Ok(())
    }

    /// Links a task's node into the graph: under the DAG (root tasks) or its TaskGroup, or
    /// under the outbound nodes of its dependencies.
    fn connect_task(
        &mut self,
        ctx: &DagCtx<'_>,
        slot: usize,
        node_name: &str,
        group: Option<&Node>,
    ) {
        let deps = &ctx.dag.deps[slot];
        if deps.is_empty() || group.is_some() {
            match group {
                Some(g) => {
                    let gname = g.name.clone();
                    self.add_child(&gname, node_name);
                }
                None => {
                    let dag_name = ctx.name.clone();
                    self.add_child(&dag_name, node_name);
                }
            }
            return;
        }
        let child_id = self.id_of(node_name);
        for &d in deps {
            let Some(dep) = self.node_named(&ctx.task_node_name(d)) else {
                continue;
            };
            let dep_id = dep.id.clone();
            for out in self.outbound_nodes(&dep_id) {
                self.add_child_id(&out, &child_id);
            }
        }
    }

    /// The phase of a DAG from its tasks (Argo's `assessDAGPhase`).
    fn assess_dag(
        &self,
        ctx: &DagCtx<'_>,
        targets: &[usize],
        shutdown: bool,
        fail_fast: bool,
    ) -> NodePhase {
        if shutdown {
            return NodePhase::Failed;
        }
        let target_ids: Vec<String> = targets
            .iter()
            .map(|t| self.id_of(&ctx.task_node_name(*t)))
            .collect();
        let mut target_phases: HashMap<&str, Option<NodePhase>> =
            target_ids.iter().map(|id| (id.as_str(), None)).collect();
        let Some(boundary) = self.node(&ctx.id) else {
            return NodePhase::Running;
        };
        let mut queue: VecDeque<(&str, NodePhase)> = VecDeque::new();
        let mut seen: HashSet<(&str, NodePhase)> = HashSet::new();
        fn push<'n>(
            queue: &mut VecDeque<(&'n str, NodePhase)>,
            seen: &mut HashSet<(&'n str, NodePhase)>,
            id: &'n str,
            phase: NodePhase,
        ) {
            if seen.insert((id, phase)) {
                queue.push_back((id, phase));
            }
        }
        for c in &boundary.children {
            push(&mut queue, &mut seen, c, NodePhase::Succeeded);
        }
        while let Some((id, branch)) = queue.pop_front() {
            let Some(node) = self.node(id) else {
                return NodePhase::Running;
            };
            let mut branch_phase = branch;
            if !node.fulfilled() {
                // A TaskGroup whose iterations are all done counts as done.
                let group_done = node.node_type == NodeType::TaskGroup
                    && !node.children.is_empty()
                    && node
                        .children
                        .iter()
                        .all(|c| self.node(c).is_some_and(Node::fulfilled));
                if !group_done {
                    return NodePhase::Running;
                }
                branch_phase = node
                    .children
                    .iter()
                    .filter_map(|c| self.node(c))
                    .filter(|c| c.phase.failed_or_error())
                    .map(|c| c.phase)
                    .next_back()
                    .unwrap_or(NodePhase::Succeeded);
            } else if node.phase.completed() {
                branch_phase = node.phase;
            }
            if let Some(previous) = target_phases.get_mut(node.id.as_str())
                && !previous.is_some_and(NodePhase::failed_or_error)
            {
                *previous = Some(branch_phase);
            }
            if node.node_type == NodeType::Retry {
                for c in self.retry_children_ids(node) {
                    push(&mut queue, &mut seen, c, branch_phase);
                }
            } else {
                for c in &node.children {
                    push(&mut queue, &mut seen, c, branch_phase);
                }
            }
        }
        let mut result = NodePhase::Succeeded;
        for (t, id) in targets.iter().zip(&target_ids) {
            match target_phases.get(id.as_str()).copied().flatten() {
                None => {
                    result = NodePhase::Running;
                    if !fail_fast {
                        break;
                    }
                }
                Some(p) if p.failed_or_error() => {
                    if continues_on(ctx.task(*t).continue_on(), p) {
                        continue;
                    }
                    result = p;
                    if fail_fast {
                        break;
                    }
                }
                Some(_) => {}
            }
        }
        result
    }

    /// The nodes after a Retry node in a graph walk: its hooks, and the children of its
    /// attempts (Argo's `getRetryNodeChildrenIds`).
    fn retry_children_ids<'s>(&'s self, node: &'s Node) -> Vec<&'s str> {
        let mut out = Vec::new();
        for c in node.children.iter().rev() {
            let Some(child) = self.node(c) else { continue };
            if child.hooked() {
                out.push(child.id.as_str());
            } else {
                out.extend(child.children.iter().map(String::as_str));
            }
        }
        out
    }

    /// The nodes a following step or task hangs under (Argo's `getOutboundNodes`).
    pub(crate) fn outbound_nodes(&self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_outbound(id, &mut out, 0);
        out
    }

    fn collect_outbound(&self, id: &str, out: &mut Vec<String>, depth: usize) {
        if depth > crate::exec::MAX_DEPTH * 4 {
            return;
        }
        let Some(node) = self.node(id) else {
            return;
        };
        match node.node_type {
            NodeType::Skipped | NodeType::Suspend => out.push(node.id.clone()),
            NodeType::Pod
                if !node.children.iter().any(|c| {
                    self.node(c)
                        .is_some_and(|n| n.node_type == NodeType::Container)
                }) =>
            {
                out.push(node.id.clone());
            }
            NodeType::Pod | NodeType::Container | NodeType::TaskGroup => {
                if node.children.is_empty() {
                    out.push(node.id.clone());
                    return;
                }
                for c in &node.children {
                    let Some(child) = self.node(c) else { continue };
                    if node.node_type == NodeType::Container
                        && node.boundary_id != child.boundary_id
                    {
                        out.push(node.id.clone());
                    } else {
                        self.collect_outbound(c, out, depth + 1);
                    }
                }
            }
            NodeType::Retry => {
                if let Some(last) = node.children.last() {
                    out.push(last.clone());
                }
            }
            NodeType::Steps | NodeType::Dag | NodeType::StepGroup => {
                for o in &node.outbound_nodes {
                    self.collect_outbound(o, out, depth + 1);
                }
            }
        }
    }
}
