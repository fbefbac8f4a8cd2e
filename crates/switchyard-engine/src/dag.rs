//! DAG templates (Argo's `executeDAG`, `executeDAGTask`, `assessDAGPhase`): dependencies
//! (`dependencies` and enhanced `depends`), Omitted tasks, `dag.target`, `failFast`, loops as
//! TaskGroups, and the outputs of the DAG.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use switchyard_expr::govaluate::evaluate_when;
use switchyard_model::logic::BoolExpr;
use switchyard_model::workflow::{DagTask, Inputs, Template, TemplateCall};

use crate::exec::{ExecErr, Op, Opts};
use crate::resolve::{Call, Scope};
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

/// The dependencies of a task, in order of first mention, and its logic.
fn task_logic(task: &DagTask, tasks: &[DagTask]) -> Result<(Vec<String>, Logic), String> {
    if task.uses_depends() {
        let text = task.depends.as_deref().unwrap_or("");
        let expr = BoolExpr::parse(text)
            .map_err(|e| format!("task `{}`: invalid depends `{text}`: {e}", task.name))?;
        let mut deps: Vec<String> = Vec::new();
        for (name, result, _) in expr.operands() {
            if !tasks.iter().any(|t| t.name == name) {
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
        if !tasks.iter().any(|t| &t.name == d) {
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

/// What one pass over a DAG knows.
struct DagCtx {
    name: String,
    id: String,
    tasks: Vec<DagTask>,
    deps: BTreeMap<String, Vec<String>>,
    logic: BTreeMap<String, Logic>,
    visited: BTreeSet<String>,
    inner_scope: Scope,
    inputs: Inputs,
    fail_fast_tmpl: bool,
    parallelism: Option<i64>,
    on_exit: bool,
}

impl DagCtx {
    fn task(&self, name: &str) -> Option<&DagTask> {
        self.tasks.iter().find(|t| t.name == name)
    }

    fn task_node_name(&self, task: &str) -> String {
        format!("{}.{task}", self.name)
    }

    /// Every task `task` depends on, directly or not.
    fn ancestors(&self, task: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut stack: Vec<String> = self.deps.get(task).cloned().unwrap_or_default();
        while let Some(t) = stack.pop() {
            if out.contains(&t) {
                continue;
            }
            stack.extend(self.deps.get(&t).cloned().unwrap_or_default());
            out.push(t);
        }
        out
    }
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
        let mut deps = BTreeMap::new();
        let mut logic = BTreeMap::new();
        for task in &dag.tasks {
            let (d, l) = task_logic(task, &dag.tasks)?;
            deps.insert(task.name.clone(), d);
            logic.insert(task.name.clone(), l);
        }
        let mut ctx = DagCtx {
            name: name.to_string(),
            id: id.clone(),
            tasks: dag.tasks.clone(),
            deps,
            logic,
            visited: BTreeSet::new(),
            inner_scope: inner_scope.clone(),
            inputs: inputs.clone(),
            fail_fast_tmpl: tmpl.fail_fast == Some(true),
            parallelism: tmpl.parallelism,
            on_exit: opts.on_exit,
        };
        let targets: Vec<String> = match dag
            .target
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(t) => t
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            None => {
                let depended: BTreeSet<&String> = ctx.deps.values().flatten().collect();
                let mut leaves: Vec<String> = dag
                    .tasks
                    .iter()
                    .map(|t| t.name.clone())
                    .filter(|n| !depended.contains(n))
                    .collect();
                leaves.sort();
                leaves.dedup();
                leaves
            }
        };
        for t in &targets {
            if ctx.task(t).is_none() {
                return Err(format!("target `{t}` is not a task of this DAG"));
            }
        }
        let mut exit_done = true;
        for t in &targets {
            self.execute_dag_task(&mut ctx, t)?;
            let task_node_name = ctx.task_node_name(t);
            if let Some(node) = self.node_named(&task_node_name).cloned() {
                let scope_vars = self.task_scope(&ctx, t);
                let hooks = ctx
                    .task(t)
                    .map(|task| task.hooks.clone())
                    .unwrap_or_default();
                self.run_lifecycle_hooks(
                    &hooks,
                    &node,
                    &ctx.id,
                    &ctx.inner_scope,
                    "tasks",
                    t,
                    &scope_vars,
                    ctx.on_exit,
                )?;
                if node.phase.completed()
                    && let Some(exit) = self.node_named(&format!("{}.onExit", node.name))
                    && !exit.fulfilled()
                {
                    exit_done = false;
                }
            }
        }
        let shutdown = self.st.shutdown.is_some()
            && exit_done
            && !ctx.on_exit
            && !self.has_live_steps_under(&ctx.id);
        let phase = self.assess_dag(&ctx, &targets, shutdown, dag.fail_fast != Some(false));
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
        for task in &ctx.tasks {
            let Some(node) = self.node_named(&ctx.task_node_name(&task.name)).cloned() else {
                continue;
            };
            if node.node_type == NodeType::TaskGroup {
                let children: Vec<Node> = node
                    .children
                    .iter()
                    .filter_map(|c| self.node(c))
                    .cloned()
                    .collect();
                let refs: Vec<&Node> = children.iter().collect();
                vars::aggregate_vars("tasks", &task.name, &refs, &mut scope_vars);
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

    fn update_dag_outbound(&mut self, ctx: &DagCtx, targets: &[String]) {
        let mut outbound = Vec::new();
        for t in targets {
            if let Some(n) = self.node_named(&ctx.task_node_name(t)) {
                let id = n.id.clone();
                outbound.extend(self.outbound_nodes(&id));
            }
        }
        if let Some(n) = self.node_mut(&ctx.id) {
            n.outbound_nodes = outbound;
        }
    }

    /// The variables a task sees: the DAG's inputs and everything its ancestors expose.
    fn task_scope(&self, ctx: &DagCtx, task: &str) -> Vars {
        let mut v = self.globals.clone();
        vars::input_vars(Some(&ctx.inputs), &mut v);
        for ancestor in ctx.ancestors(task) {
            let Some(node) = self.node_named(&ctx.task_node_name(&ancestor)).cloned() else {
                continue;
            };
            if node.node_type == NodeType::TaskGroup {
                let prefix = format!("{}(", node.name);
                let iterations: Vec<Node> = self
                    .st
                    .status
                    .nodes
                    .values()
                    .filter(|n| {
                        n.boundary_id.as_deref() == Some(ctx.id.as_str())
                            && n.name.starts_with(&prefix)
                    })
                    .cloned()
                    .collect();
                let refs: Vec<&Node> = iterations.iter().collect();
                vars::aggregate_vars("tasks", &ancestor, &refs, &mut v);
            }
            self.add_call_vars("tasks", &ancestor, &node, &mut v);
            if let Some(t) = ctx.task(&ancestor) {
                self.add_skipped_outputs(
                    "tasks",
                    &ancestor,
                    &node,
                    &Call::of_task(t),
                    &ctx.inner_scope,
                    &mut v,
                );
            }
        }
        v
    }

    /// Evaluates a task's dependencies: `None` while one is not done, else whether it runs.
    fn evaluate_depends(&self, ctx: &DagCtx, task: &str) -> Option<bool> {
        let deps = ctx.deps.get(task).cloned().unwrap_or_default();
        let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
        for d in &deps {
            let node = self.node_named(&ctx.task_node_name(d))?;
            if !node.fulfilled() || !self.hooks_fulfilled(node) {
                return None;
            }
            nodes.insert(d.clone(), node.clone());
        }
        let satisfied = |name: &str, result: Option<&str>| -> bool {
            let Some(node) = nodes.get(name) else {
                return false;
            };
            let phase = node.phase;
            match result {
                None => {
                    let continue_on = ctx
                        .task(name)
                        .map(TemplateCall::continue_on)
                        .unwrap_or_default();
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
        let logic = ctx.logic.get(task).cloned().unwrap_or(Logic::None);
        Some(match logic {
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
    fn execute_dag_task(&mut self, ctx: &mut DagCtx, task_name: &str) -> Result<(), String> {
        if !ctx.visited.insert(task_name.to_string()) {
            return Ok(());
        }
        let Some(task) = ctx.task(task_name).cloned() else {
            return Err(format!("target `{task_name}` is not a task of this DAG"));
        };
        let node_name = ctx.task_node_name(task_name);
        let existing = self.node_named(&node_name).cloned();
        if let Some(node) = &existing
            && (node.fulfilled() || node.phase == NodePhase::Running)
        {
            let scope_vars = self.task_scope(ctx, task_name);
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
        if let Some(node) = &existing
            && node.fulfilled()
        {
            if node.phase.completed() {
                let scope_vars = self.task_scope(ctx, task_name);
                let hook = task.exit_hook(&self.st.spec.arguments);
                self.run_on_exit(
                    hook.as_ref(),
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
        let deps = ctx.deps.get(task_name).cloned().unwrap_or_default();
        let task_group = existing
            .clone()
            .filter(|n| n.node_type == NodeType::TaskGroup);
        let node_opts = Opts {
            boundary: Some(ctx.id.clone()),
            on_exit: ctx.on_exit,
            ..Opts::default()
        };
        if !deps.is_empty() {
            for d in &deps {
                self.execute_dag_task(ctx, d)?;
            }
            match self.evaluate_depends(ctx, task_name) {
                None => return Ok(()),
                Some(false) => {
                    if existing.is_none() {
                        self.init_node(
                            &node_name,
                            NodeType::Skipped,
                            NodePhase::Omitted,
                            Some(&Call::of_task(&task)),
                            &ctx.inner_scope,
                            &node_opts,
                            Some("omitted: depends condition not met".into()),
                        );
                        self.connect_task(ctx, task_name, &node_name, task_group.as_ref());
                    }
                    return Ok(());
                }
                Some(true) => {}
            }
        }
        let scope_vars = self.task_scope(ctx, task_name);
        let resolved = match self.resolve_call(&task, &ctx.inner_scope, &scope_vars) {
            Ok(r) => r,
            Err(message) => {
                if existing.is_none() {
                    self.init_node(
                        &node_name,
                        NodeType::Skipped,
                        NodePhase::Error,
                        Some(&Call::of_task(&task)),
                        &ctx.inner_scope,
                        &node_opts,
                        Some(message),
                    );
                    self.connect_task(ctx, task_name, &node_name, task_group.as_ref());
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
                        Some(&Call::of_task(&task)),
                        &ctx.inner_scope,
                        &node_opts,
                        Some("Skipped, empty params".into()),
                    );
                    self.connect_task(ctx, task_name, &node_name, None);
                }
                return Ok(());
            }
            if group.is_none() {
                self.connect_task(ctx, task_name, &node_name, None);
                let gid = self.init_node(
                    &node_name,
                    NodeType::TaskGroup,
                    NodePhase::Running,
                    Some(&Call::of_task(&task)),
                    &ctx.inner_scope,
                    &node_opts,
                    None,
                );
                group = self.node(&gid).cloned();
            }
        }
        for t in &calls {
            let child_name = ctx.task_node_name(&t.name);
            if self.node_named(&child_name).is_none() {
                self.connect_task(ctx, task_name, &child_name, group.as_ref());
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
            let Some(node) = self.node_named(&child_name).cloned() else {
                return Ok(());
            };
            if node.phase.completed() {
                let mut v = self.task_scope(ctx, task_name);
                v.insert(
                    format!("tasks.{task_name}.status"),
                    node.phase.as_str().into(),
                );
                let hook = t.exit_hook(&self.st.spec.arguments);
                let (has, exit) = self.run_on_exit(
                    hook.as_ref(),
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
                match self.node_named(&ctx.task_node_name(&t.name)) {
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
    fn connect_task(&mut self, ctx: &DagCtx, task: &str, node_name: &str, group: Option<&Node>) {
        let deps = ctx.deps.get(task).cloned().unwrap_or_default();
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
        for d in deps {
            let Some(dep) = self.node_named(&ctx.task_node_name(&d)).cloned() else {
                continue;
            };
            for out in self.outbound_nodes(&dep.id) {
                self.add_child_id(&out, &child_id);
            }
        }
    }

    /// The phase of a DAG from its tasks (Argo's `assessDAGPhase`).
    fn assess_dag(
        &self,
        ctx: &DagCtx,
        targets: &[String],
        shutdown: bool,
        fail_fast: bool,
    ) -> NodePhase {
        if shutdown {
            return NodePhase::Failed;
        }
        let target_ids: BTreeMap<String, String> = targets
            .iter()
            .map(|t| (self.id_of(&ctx.task_node_name(t)), t.clone()))
            .collect();
        let mut target_phases: BTreeMap<String, Option<NodePhase>> =
            target_ids.keys().map(|id| (id.clone(), None)).collect();
        let Some(boundary) = self.node(&ctx.id) else {
            return NodePhase::Running;
        };
        let mut queue: VecDeque<(String, NodePhase)> = VecDeque::new();
        let mut seen: BTreeSet<(String, &'static str)> = BTreeSet::new();
        let mut push = |queue: &mut VecDeque<(String, NodePhase)>, id: String, phase: NodePhase| {
            if seen.insert((id.clone(), phase.as_str())) {
                queue.push_back((id, phase));
            }
        };
        for c in &boundary.children {
            push(&mut queue, c.clone(), NodePhase::Succeeded);
        }
        while let Some((id, branch)) = queue.pop_front() {
            let Some(node) = self.node(&id) else {
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
            if let Some(previous) = target_phases.get_mut(&node.id)
                && !previous.is_some_and(NodePhase::failed_or_error)
            {
                *previous = Some(branch_phase);
            }
            let next: Vec<String> = if node.node_type == NodeType::Retry {
                self.retry_children_ids(node)
            } else {
                node.children.clone()
            };
            for c in next {
                push(&mut queue, c, branch_phase);
            }
        }
        let mut result = NodePhase::Succeeded;
        for t in targets {
            let id = self.id_of(&ctx.task_node_name(t));
            match target_phases.get(&id).copied().flatten() {
                None => {
                    result = NodePhase::Running;
                    if !fail_fast {
                        break;
                    }
                }
                Some(p) if p.failed_or_error() => {
                    let continue_on = ctx
                        .task(t)
                        .map(TemplateCall::continue_on)
                        .unwrap_or_default();
                    if continues_on(continue_on, p) {
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
    fn retry_children_ids(&self, node: &Node) -> Vec<String> {
        let mut out = Vec::new();
        for c in node.children.iter().rev() {
            let Some(child) = self.node(c) else { continue };
            if child.hooked() {
                out.push(child.id.clone());
            } else {
                out.extend(child.children.iter().cloned());
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
