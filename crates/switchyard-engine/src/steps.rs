//! Steps templates (Argo's `executeSteps` and `executeStepGroup`), and what steps and DAG
//! tasks share: resolving a call's references, expanding `withItems`/`withParam`/
//! `withSequence` loops, `when`, exit handlers and lifecycle hooks of a step or task.

use serde_json::Value as Json;
use switchyard_expr::govaluate::evaluate_when;
use switchyard_model::workflow::{
    Arguments, ContinueOn, EXIT_HOOK, Inputs, LifecycleHook, LifecycleHooks, Outputs, Parameter,
    Sequence, Template, TemplateCall, WorkflowStep,
};

use crate::dag::needs_scope;
use crate::exec::{ExecErr, Op, Opts};
use crate::naming;
use crate::resolve::{self, Call, Scope};
use crate::state::{Node, NodeFlag, NodePhase, NodeType};
use crate::vars::{self, Vars};

/// A step or task after its references were resolved: one call, or the iterations of a loop
/// (each with its generated name), or a loop over nothing.
pub(crate) enum Resolved {
    Single(Json),
    Expanded(Vec<Json>),
}

/// Argo's `ContinuesOn`.
pub(crate) fn continues_on(c: ContinueOn, phase: NodePhase) -> bool {
    (c.error == Some(true) && phase == NodePhase::Error)
        || (c.failed == Some(true) && phase == NodePhase::Failed)
}

impl Op<'_> {
    /// A steps template: its step groups run one after the other.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn execute_steps(
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
            crate::state::NodeType::Steps,
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
        let mut scope_vars = self.globals.clone();
        vars::input_vars(Some(inputs), &mut scope_vars);
        let groups = tmpl.step_groups();
        // In a template where nothing reads the scope, a leading group that succeeded does
        // nothing on a pass but add to the scope: those groups are passed over (see
        // `static_steps`). Their number is kept in the memo.
        let settled_key = call
            .template_key(inner_scope)
            .filter(|key| self.generation == 0 && self.static_steps(key, tmpl));
        let number = self.index().number(&id);
        let mut settled = match settled_key {
            Some(_) => self
                .index()
                .settled_groups
                .get(&number)
                .copied()
                .unwrap_or(0),
            None => 0,
        };
        for (i, group) in groups.iter().enumerate().skip(settled) {
            // Global outputs published by earlier groups in this pass are visible too.
            scope_vars.extend(self.globals.clone());
            let sg_name = format!("{name}[{i}]");
            match self.node_named(&sg_name).cloned() {
                None => {
                    let sg_opts = Opts {
                        boundary: Some(id.clone()),
                        on_exit: opts.on_exit,
                        ..Opts::default()
                    };
                    self.init_node(
                        &sg_name,
                        NodeType::StepGroup,
                        NodePhase::Running,
                        None,
                        inner_scope,
                        &sg_opts,
                        None,
                    );
                }
                Some(n) if !n.fulfilled() => self.mark(&n.id, NodePhase::Running, None),
                Some(_) => {}
            }
            if i == 0 {
                self.add_child(name, &sg_name);
            } else {
                let prev = format!("{name}[{}]", i - 1);
                let prev_children = self
                    .node_named(&prev)
                    .map(|n| n.children.clone())
                    .unwrap_or_default();
                if prev_children.is_empty() {
                    self.add_child(&prev, &sg_name);
                } else {
                    let sg_id = self.id_of(&sg_name);
                    for child in prev_children {
                        for out in self.outbound_nodes(&child) {
                            self.add_child_id(&out, &sg_id);
                        }
                    }
                }
            }
            let ctx = GroupCtx {
                boundary: id.clone(),
                inner_scope: inner_scope.clone(),
                fail_fast: tmpl.fail_fast == Some(true),
                parallelism: tmpl.parallelism,
                on_exit: opts.on_exit,
            };
            let sg_id = self.id_of(&sg_name);
            if let Err(message) = self.execute_step_group(group, &sg_name, &ctx, &mut scope_vars) {
                self.mark_error(&sg_id, &message);
                return Ok(());
            }
            let Some(sg) = self.node(&sg_id).cloned() else {
                return Ok(());
            };
            if !sg.fulfilled() {
                return Ok(());
            }
            if sg.phase.failed_or_error() {
                self.update_steps_outbound(name, groups.len());
                self.mark(
                    &id,
                    NodePhase::Failed,
                    Some(sg.message.as_deref().unwrap_or("")),
                );
                return Ok(());
            }
            if settled_key.is_some() && i == settled {
                settled += 1;
                self.index().settled_groups.insert(number, settled);
                continue;
            }
            // Make the outputs of this group's steps visible to the next groups.
            for step in group {
                let step_name = step.call_name();
                let child_name = format!("{sg_name}.{step_name}");
                match self.node_named(&child_name).cloned() {
                    Some(child) => {
                        self.add_call_vars("steps", step_name, &child, &mut scope_vars);
                        self.add_skipped_outputs(
                            "steps",
                            step_name,
                            &child,
                            &Call::of_step(step),
                            inner_scope,
                            &mut scope_vars,
                        );
                    }
                    None => {
                        let prefix = format!("{child_name}(");
                        let iterations: Vec<Node> = self
                            .nodes()
                            .values()
                            .filter(|n| {
                                n.boundary_id.as_deref() == Some(id.as_str())
                                    && n.name.starts_with(&prefix)
                            })
                            .cloned()
                            .collect();
                        if !iterations.is_empty() {
                            let refs: Vec<&Node> = iterations.iter().collect();
                            vars::aggregate_vars("steps", step_name, &refs, &mut scope_vars);
                        }
                        vars::node_vars("steps", step_name, &sg, &mut scope_vars);
                    }
                }
            }
        }
        self.update_steps_outbound(name, groups.len());
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
        self.mark(&id, NodePhase::Succeeded, None);
        Ok(())
    }

    /// Whether nothing in a steps template reads the scope its groups build: no template
    /// outputs, and steps without `{{...}}` tags, hooks or exit handlers. A group of such a
    /// template that succeeded then does nothing on a later pass: its steps resolve as
    /// before, their nodes are fulfilled, and what it adds to the scope is never read.
    /// Remembered per template.
    fn static_steps(&mut self, key: &(Option<String>, String), tmpl: &Template) -> bool {
        if let Some(known) = self.known_static_steps(key) {
            return known;
        }
        let args = &self.run.spec.arguments;
        let simple = tmpl.outputs.parameters.is_empty()
            && tmpl.step_groups().iter().flatten().all(|step| {
                step.hooks.is_empty() && step.exit_hook(args).is_none() && !needs_scope(step)
            });
        self.keep_static_steps(key.clone(), simple);
        simple
    }

    /// The outbound nodes of a steps node: those of the children of its last step group.
    fn update_steps_outbound(&mut self, name: &str, groups: usize) {
        let last = (0..groups)
            .rev()
            .find_map(|i| self.node_named(&format!("{name}[{i}]")).cloned());
        let Some(last) = last else { return };
        let mut outbound = Vec::new();
        for child in &last.children {
            outbound.extend(self.outbound_nodes(child));
        }
        let id = self.id_of(name);
        if let Some(n) = self.node_mut(&id) {
            n.outbound_nodes = outbound;
        }
    }

    /// One group of parallel steps (Argo's `executeStepGroup`). An `Err` errors the group.
    fn execute_step_group(
        &mut self,
        group: &[WorkflowStep],
        sg_name: &str,
        ctx: &GroupCtx,
        scope_vars: &mut Vars,
    ) -> Result<(), String> {
        self.stats().step_groups += 1;
        let sg_id = self.id_of(sg_name);
        if self.node(&sg_id).is_some_and(Node::fulfilled) && self.children_fulfilled(&sg_id) {
            return Ok(());
        }
        // Resolve references and expand loops.
        let mut calls: Vec<WorkflowStep> = Vec::new();
        for step in group {
            let resolved = self
                .resolve_call(step, &ctx.inner_scope, scope_vars)
                .map_err(|e| format!("failed to resolve references: {e}"))?;
            match resolved {
                Resolved::Single(json) => calls.push(restore_step(json, step)?),
                Resolved::Expanded(items) => {
                    if items.is_empty() {
                        let child = format!("{sg_name}.{}", step.call_name());
                        if self.node_named(&child).is_none() {
                            let opts = Opts {
                                boundary: Some(ctx.boundary.clone()),
                                on_exit: ctx.on_exit,
                                ..Opts::default()
                            };
                            self.init_node(
                                &child,
                                NodeType::Skipped,
                                NodePhase::Skipped,
                                Some(&Call::of_step(step)),
                                &ctx.inner_scope,
                                &opts,
                                Some("Skipped, empty params".into()),
                            );
                            self.add_child(sg_name, &child);
                        }
                    }
                    for json in items {
                        calls.push(restore_step(json, step)?);
                    }
                }
            }
        }
        let mut called: Vec<(String, WorkflowStep)> = Vec::new();
        for step in &calls {
            let step_name = step.call_name().to_string();
            let child = format!("{sg_name}.{step_name}");
            let when = step.when.clone().unwrap_or_default();
            match evaluate_when(&when) {
                Err(e) => {
                    let message = e.to_string();
                    if self.node_named(&child).is_none() {
                        let opts = Opts {
                            boundary: Some(ctx.boundary.clone()),
                            on_exit: ctx.on_exit,
                            ..Opts::default()
                        };
                        self.init_node(
                            &child,
                            NodeType::Skipped,
                            NodePhase::Error,
                            Some(&Call::of_step(step)),
                            &ctx.inner_scope,
                            &opts,
                            Some(message.clone()),
                        );
                    }
                    self.add_child(sg_name, &child);
                    return Err(message);
                }
                Ok(false) => {
                    if self.node_named(&child).is_none() {
                        let opts = Opts {
                            boundary: Some(ctx.boundary.clone()),
                            on_exit: ctx.on_exit,
                            ..Opts::default()
                        };
                        self.init_node(
                            &child,
                            NodeType::Skipped,
                            NodePhase::Skipped,
                            Some(&Call::of_step(step)),
                            &ctx.inner_scope,
                            &opts,
                            Some(format!("when '{when}' evaluated false")),
                        );
                        self.add_child(sg_name, &child);
                    }
                    continue;
                }
                Ok(true) => {}
            }
            let opts = Opts {
                boundary: Some(ctx.boundary.clone()),
                on_exit: ctx.on_exit,
                boundary_fail_fast: ctx.fail_fast,
                boundary_parallelism: ctx.parallelism,
                boundary_is_steps: true,
                step_name: Some(("steps", step_name.clone())),
                ..Opts::default()
            };
            match self.execute_template(
                &child,
                &Call::of_step(step),
                &ctx.inner_scope,
                &step.arguments,
                &opts,
            ) {
                Ok(_) => {
                    called.push((child.clone(), step.clone()));
                    self.add_child(sg_name, &child);
                }
                Err(ExecErr::Parallelism) => {
                    if self.node_named(&child).is_some() {
                        called.push((child.clone(), step.clone()));
                        self.add_child(sg_name, &child);
                    }
                }
                Err(ExecErr::Fail(message)) => {
                    self.add_child(sg_name, &child);
                    self.mark_error(
                        &sg_id,
                        &format!("step group deemed errored due to child {child} error: {message}"),
                    );
                    return Ok(());
                }
            }
        }
        // Is every child (and its exit handler) done?
        let children = self
            .node(&sg_id)
            .map(|n| n.children.clone())
            .unwrap_or_default();
        let mut completed = true;
        for child_id in &children {
            let Some(child) = self.node(child_id).cloned() else {
                continue;
            };
            let step = called
                .iter()
                .find(|(n, _)| *n == child.name)
                .map(|(_, s)| s.clone())
                .unwrap_or_default();
            scope_vars.insert(
                format!("steps.{}.status", child.display_name),
                child.phase.as_str().into(),
            );
            let step_name = step.call_name().to_string();
            let hooks_done = self.run_lifecycle_hooks(
                &step.hooks,
                &child,
                &ctx.boundary,
                &ctx.inner_scope,
                "steps",
                &step_name,
                scope_vars,
                ctx.on_exit,
            )?;
            if !hooks_done {
                return Ok(());
            }
            if !child.fulfilled() {
                completed = false;
            } else if child.phase.completed() {
                let hook = step.exit_hook(&self.run.spec.arguments);
                let (has, exit_node) = self.run_on_exit(
                    hook.as_ref(),
                    &child,
                    &ctx.boundary,
                    &ctx.inner_scope,
                    "steps",
                    &step_name,
                    scope_vars,
                )?;
                if has && exit_node.is_none_or(|id| !self.node(&id).is_some_and(Node::fulfilled)) {
                    completed = false;
                }
            }
        }
        if !completed {
            if self.node(&sg_id).is_some_and(Node::fulfilled) {
                self.mark(&sg_id, NodePhase::Running, None);
            }
            return Ok(());
        }
        for child_id in &children {
            let Some(child) = self.node(child_id).cloned() else {
                continue;
            };
            let continue_on = called
                .iter()
                .find(|(n, _)| *n == child.name)
                .map(|(_, s)| s.continue_on())
                .unwrap_or_default();
            if child.phase.failed_or_error() && !continues_on(continue_on, child.phase) {
                self.mark(
                    &sg_id,
                    NodePhase::Failed,
                    Some(&format!("child '{child_id}' failed")),
                );
                return Ok(());
            }
        }
        self.mark(&sg_id, NodePhase::Succeeded, None);
        Ok(())
    }

    /// Adds what a finished step or task exposes (for a Retry node, its last attempt's).
    pub(crate) fn add_call_vars(&self, prefix: &str, name: &str, node: &Node, into: &mut Vars) {
        let effective = self.last_attempt_ref(node).unwrap_or(node);
        vars::node_vars(prefix, name, effective, into);
    }

    /// For a skipped or omitted call without outputs, the declared defaults of its template's
    /// outputs (Argo's `addSkippedNodeOutputsToScope`).
    pub(crate) fn add_skipped_outputs(
        &self,
        prefix: &str,
        name: &str,
        node: &Node,
        call: &Call,
        scope: &Scope,
        into: &mut Vars,
    ) {
        if node.outputs.is_some() || !matches!(node.phase, NodePhase::Skipped | NodePhase::Omitted)
        {
            return;
        }
        if let Ok((_, t)) = resolve::resolve(self.run.spec, self.run.library, scope, call) {
            vars::skipped_output_vars(&format!("{prefix}.{name}"), &t.outputs, into);
        }
    }

    /// Resolves a step's or task's references and expands its loop (Argo's
    /// `resolveReferences` + `expandStep`/`expandTask`), in one substitution per field: values
    /// are never substituted twice. `scope` is where the call's template is looked up.
    pub(crate) fn resolve_call<T: serde::Serialize + TemplateCall>(
        &self,
        call: &T,
        scope: &Scope,
        scope_vars: &Vars,
    ) -> Result<Resolved, String> {
        let mut json = serde_json::to_value(call).map_err(|e| e.to_string())?;
        if let Json::Object(map) = &mut json {
            map.remove("hooks");
            map.remove("withItems");
            map.remove("withParam");
            map.remove("withSequence");
        }
        let dropped =
            self.absent_arguments(call.arguments(), &Call::of_call(call), scope, scope_vars);
        if let Some(Json::Array(params)) = json.pointer_mut("/arguments/parameters") {
            params.retain(|p| {
                !p.get("name")
                    .and_then(Json::as_str)
                    .is_some_and(|name| dropped.iter().any(|d| d == name))
            });
        }
        let mode = vars::reference_mode();
        let when = call.when().unwrap_or("");
        let Some(expansion_items) = self.loop_items(call, scope_vars)? else {
            if !when.is_empty() {
                let resolved_when = vars::subst(when, scope_vars, &mode)?;
                if evaluate_when(&resolved_when) == Ok(false) {
                    if let Json::Object(map) = &mut json {
                        map.insert("when".into(), Json::String(resolved_when));
                    }
                    return Ok(Resolved::Single(json));
                }
            }
            vars::subst_json(&mut json, scope_vars, &mode)?;
            return Ok(Resolved::Single(json));
        };
        let mut out = Vec::with_capacity(expansion_items.len());
        for (i, item) in expansion_items.iter().enumerate() {
            let mut v = scope_vars.clone();
            vars::item_vars(item, &mut v);
            let mut each = json.clone();
            let lenient = !when.is_empty()
                && vars::subst(when, &v, &switchyard_expr::Mode::Lenient)
                    .is_ok_and(|w| evaluate_when(&w) == Ok(false));
            if lenient {
                // The iteration never runs: absent optionals in it stay unresolved instead of
                // failing the loop (as Argo's `expandItem`).
                vars::subst_json(
                    &mut each,
                    &v.without_absent(),
                    &switchyard_expr::Mode::Lenient,
                )?;
            } else {
                vars::subst_json(&mut each, &v, &mode)?;
            }
            if let Json::Object(map) = &mut each {
                map.insert(
                    "name".into(),
                    Json::String(naming::loop_node_name(
                        call.call_name(),
                        i,
                        &naming::item_description(item),
                    )),
                );
            }
            out.push(each);
        }
        Ok(Resolved::Expanded(out))
    }

    /// Argo's handling of an argument that is only a reference to an absent optional (such
    /// as `{{tasks.x.outputs.parameters.y}}` of a skipped task that declared no default):
    /// when the called template's input has its own `value`, `default` or `valueFrom`, the
    /// argument is dropped so that applies. Otherwise it stays, and substituting it fails
    /// with the cause. A template that cannot be resolved yet (a reference to `{{item}}`)
    /// keeps its arguments. Returns the names of the arguments to drop.
    fn absent_arguments(
        &self,
        args: &Arguments,
        call: &Call,
        scope: &Scope,
        v: &Vars,
    ) -> Vec<String> {
        let candidates: Vec<&str> = args
            .parameters
            .iter()
            .filter(|p| {
                p.value
                    .as_ref()
                    .is_some_and(|value| is_absent_reference(value.as_str(), v))
            })
            .map(|p| p.name.as_str())
            .collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        let Ok((_, tmpl)) = resolve::resolve(self.run.spec, self.run.library, scope, call) else {
            return Vec::new();
        };
        let tmpl = resolve::apply_defaults(self.run.spec.template_defaults.as_deref(), tmpl);
        candidates
            .into_iter()
            .filter(|name| {
                tmpl.inputs.parameters.iter().any(|input| {
                    input.name == *name
                        && (input.value.is_some()
                            || input.default.is_some()
                            || input.value_from.is_some())
                })
            })
            .map(str::to_string)
            .collect()
    }

    /// The arguments of an exit handler or lifecycle hook, substituted, without those that
    /// only name an absent optional the hook's template has its own value for.
    fn hook_arguments(
        &self,
        hook: &LifecycleHook,
        scope: &Scope,
        v: &Vars,
    ) -> Result<Arguments, String> {
        let dropped = self.absent_arguments(&hook.arguments, &Call::of_hook(hook), scope, v);
        if dropped.is_empty() {
            return resolve_args(&hook.arguments, v);
        }
        let mut args = hook.arguments.clone();
        args.parameters.retain(|p| !dropped.contains(&p.name));
        resolve_args(&args, v)
    }

    /// The items of a call's loop, or `None` when it has none.
    fn loop_items<T: TemplateCall>(&self, call: &T, v: &Vars) -> Result<Option<Vec<Json>>, String> {
        let mode = vars::reference_mode();
        if !call.with_items().is_empty() {
            let mut items = Json::Array(call.with_items().to_vec());
            vars::subst_json(&mut items, v, &mode)?;
            return Ok(Some(match items {
                Json::Array(a) => a,
                other => vec![other],
            }));
        }
        if let Some(param) = call.with_param().filter(|p| !p.is_empty()) {
            let text = vars::subst(param, v, &mode)?;
            return match serde_json::from_str::<Json>(&text) {
                Ok(Json::Array(items)) => Ok(Some(items)),
                Ok(_) => Err(format!(
                    "withParam value could not be parsed as a JSON list: {}: it is not a list",
                    text.trim()
                )),
                Err(e) => Err(format!(
                    "withParam value could not be parsed as a JSON list: {}: {e}",
                    text.trim()
                )),
            };
        }
        if let Some(seq) = call.with_sequence() {
            let mut json = serde_json::to_value(seq).map_err(|e| e.to_string())?;
            vars::subst_json(&mut json, v, &mode)?;
            let seq: Sequence = serde_json::from_value(json).map_err(|e| e.to_string())?;
            return expand_sequence(&seq).map(Some);
        }
        Ok(None)
    }

    /// Runs the exit handler of a finished step or task (Argo's `runOnExitNode`): node
    /// `<parent>.onExit`. Returns whether there is one, and its node.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_on_exit(
        &mut self,
        hook: Option<&LifecycleHook>,
        parent: &Node,
        boundary: &str,
        scope: &Scope,
        prefix: &str,
        name: &str,
        scope_vars: &Vars,
    ) -> Result<(bool, Option<String>), String> {
        let Some(hook) = hook else {
            return Ok((false, None));
        };
        if !self.should_execute(true) {
            return Ok((false, None));
        }
        let mut v = scope_vars.clone();
        let effective = self.last_attempt(parent).unwrap_or_else(|| parent.clone());
        vars::node_vars(prefix, name, &effective, &mut v);
        if let Some(expression) = hook.expression.as_deref().filter(|e| !e.is_empty())
            && !vars::eval_bool(expression, &v)?
        {
            return Ok((false, None));
        }
        let exit_name = format!("{}.onExit", parent.name);
        let args = self.hook_arguments(hook, scope, &v)?;
        let opts = Opts {
            boundary: Some(boundary.to_string()),
            on_exit: true,
            flag: Some(NodeFlag {
                hooked: true,
                retried: false,
            }),
            ..Opts::default()
        };
        let result = self.execute_template(&exit_name, &Call::of_hook(hook), scope, &args, &opts);
        self.add_child(&parent.name, &exit_name);
        match result {
            Ok(id) => Ok((true, Some(id))),
            Err(ExecErr::Parallelism) => {
                Ok((true, self.node_named(&exit_name).map(|n| n.id.clone())))
            }
            Err(ExecErr::Fail(_)) => Ok((true, self.node_named(&exit_name).map(|n| n.id.clone()))),
        }
    }

    /// Runs the lifecycle hooks (other than `exit`) of a step or task whose expression is
    /// true (Argo's `executeTmplLifeCycleHook`): node `<parent>.hooks.<name>`. Returns whether
    /// every hook that ran is done.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_lifecycle_hooks(
        &mut self,
        hooks: &LifecycleHooks,
        parent: &Node,
        boundary: &str,
        scope: &Scope,
        prefix: &str,
        name: &str,
        scope_vars: &Vars,
        on_exit: bool,
    ) -> Result<bool, String> {
        let mut all_done = true;
        for (hook_name, hook) in hooks {
            if hook_name == EXIT_HOOK {
                continue;
            }
            let node_name = format!("{}.hooks.{hook_name}", parent.name);
            let expression = hook.expression.as_deref().unwrap_or("");
            if expression.is_empty() {
                return Err(format!("Expression required for hook {node_name}"));
            }
            let mut v = scope_vars.clone();
            v.insert(
                format!("{prefix}.{name}.status"),
                parent.phase.as_str().into(),
            );
            let run = vars::eval_bool(expression, &v)?;
            if !run && self.node_named(&node_name).is_none() {
                continue;
            }
            let effective = self.last_attempt(parent).unwrap_or_else(|| parent.clone());
            vars::node_vars(prefix, name, &effective, &mut v);
            let args = self.hook_arguments(hook, scope, &v)?;
            let opts = Opts {
                boundary: Some(boundary.to_string()),
                on_exit,
                flag: Some(NodeFlag {
                    hooked: true,
                    retried: false,
                }),
                ..Opts::default()
            };
            let result =
                self.execute_template(&node_name, &Call::of_hook(hook), scope, &args, &opts);
            if let Err(ExecErr::Fail(message)) = result {
                return Err(message);
            }
            self.add_child(&parent.name, &node_name);
            if !self.node_named(&node_name).is_some_and(Node::fulfilled) {
                all_done = false;
            }
        }
        Ok(all_done)
    }

    /// A steps or DAG template's outputs from its children (Argo's
    /// `getTemplateOutputsFromScope`).
    pub(crate) fn template_outputs(
        &self,
        tmpl: &Template,
        v: &Vars,
    ) -> Result<Option<Outputs>, String> {
        if tmpl.outputs.parameters.is_empty() {
            return Ok(None);
        }
        let mut out = Outputs::default();
        for p in &tmpl.outputs.parameters {
            let Some(from) = &p.value_from else {
                return Err(format!(
                    "output parameter `{}`: output parameters must have a valueFrom specified",
                    p.name
                ));
            };
            let resolved = if let Some(expression) =
                from.expression.as_deref().filter(|e| !e.is_empty())
            {
                vars::eval_string(expression, v)
            } else if let Some(reference) = from.parameter.as_deref().filter(|r| !r.is_empty()) {
                resolve_reference(reference, v)
            } else {
                Ok(String::new())
            };
            let value = match (resolved, &from.default) {
                (Ok(value), _) => value,
                (Err(_), Some(default)) => default.0.clone(),
                (Err(e), None) => return Err(format!("output parameter `{}`: {e}", p.name)),
            };
            out.parameters.push(Parameter {
                name: p.name.clone(),
                value: Some(value.into()),
                global_name: p.global_name.clone(),
                description: p.description.clone(),
                ..Parameter::default()
            });
        }
        Ok(Some(out))
    }
}

/// The settings a step group passes to its steps.
struct GroupCtx {
    boundary: String,
    inner_scope: Scope,
    fail_fast: bool,
    parallelism: Option<i64>,
    on_exit: bool,
}

/// A resolved step: the substituted JSON, with the fields Argo keeps as written (`template`,
/// `hooks`).
fn restore_step(json: Json, original: &WorkflowStep) -> Result<WorkflowStep, String> {
    let mut step: WorkflowStep = serde_json::from_value(json).map_err(|e| e.to_string())?;
    step.template = original.template.clone();
    step.hooks = original.hooks.clone();
    Ok(step)
}

/// Resolves `{{steps.x.outputs.parameters.y}}` (Argo's `ResolveVar`): the whole text is one
/// tag, looked up as a name.
fn resolve_reference(reference: &str, v: &Vars) -> Result<String, String> {
    let trimmed = reference.trim();
    match trimmed
        .strip_prefix("{{")
        .and_then(|r| r.strip_suffix("}}"))
    {
        Some(inner) if !inner.contains("{{") => {
            let inner = inner.trim();
            if let Some(expression) = inner.strip_prefix('=') {
                return vars::eval_string(expression, v);
            }
            if v.is_absent(inner) {
                return Err(format!(
                    "`{reference}` is an absent optional (skipped/omitted node output with no default)"
                ));
            }
            v.get(inner)
                .cloned()
                .ok_or_else(|| format!("unable to resolve: {reference}"))
        }
        _ => vars::subst(reference, v, &switchyard_expr::Mode::Strict),
    }
}

/// Whether `value` is exactly one simple tag naming an absent optional (`{{name}}`, spaces
/// inside the braces allowed), as Argo's `absentOptionalRef`.
fn is_absent_reference(value: &str, v: &Vars) -> bool {
    value
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
        .filter(|inner| !inner.contains("{{") && !inner.contains("}}"))
        .is_some_and(|inner| v.is_absent(inner.trim()))
}

/// Substitutes the arguments of an exit handler or hook (nothing is strict there).
pub(crate) fn resolve_args(args: &Arguments, v: &Vars) -> Result<Arguments, String> {
    if args.is_empty() {
        return Ok(args.clone());
    }
    let mut json = serde_json::to_value(args).map_err(|e| e.to_string())?;
    vars::subst_json(&mut json, v, &switchyard_expr::Mode::Lenient)?;
    serde_json::from_value(json).map_err(|e| e.to_string())
}

/// Argo's `expandSequence`: numbers from `start` (default 0) to `end`, or `count` numbers,
/// formatted with `format` (default `%d`); counting down when `end` < `start`.
pub(crate) fn expand_sequence(seq: &Sequence) -> Result<Vec<Json>, String> {
    let int = |v: &switchyard_model::IntOrString, field: &str| {
        v.as_i64()
            .ok_or_else(|| format!("withSequence.{field}: `{v}` is not an integer"))
    };
    let start = match &seq.start {
        Some(s) => int(s, "start")?,
        None => 0,
    };
    let end = match (&seq.end, &seq.count) {
        (Some(e), _) => int(e, "end")?,
        (None, Some(c)) => {
            let count = int(c, "count")?;
            if count <= 0 {
                return Ok(Vec::new());
            }
            start + count - 1
        }
        (None, None) => return Err("neither end nor count was specified in withSequence".into()),
    };
    const MAX_ITEMS: i64 = 100_000;
    if (end - start).abs() >= MAX_ITEMS {
        return Err(format!(
            "withSequence would make more than {MAX_ITEMS} items"
        ));
    }
    let format = seq
        .format
        .as_deref()
        .filter(|f| !f.is_empty())
        .unwrap_or("%d");
    let numbers: Vec<i64> = if start <= end {
        (start..=end).collect()
    } else {
        (end..=start).rev().collect()
    };
    Ok(numbers
        .into_iter()
        .map(|n| Json::String(naming::go_printf_int(format, n)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sequences() {
        let cases = [
            (json!({"count": "3"}), Ok(vec!["0", "1", "2"])),
            (json!({"count": 2, "start": 5}), Ok(vec!["5", "6"])),
            (json!({"start": 3, "end": 1}), Ok(vec!["3", "2", "1"])),
            (
                json!({"start": "1", "end": "3", "format": "n%02d"}),
                Ok(vec!["n01", "n02", "n03"]),
            ),
            (json!({"count": 0}), Ok(vec![])),
            (
                json!({"start": 1}),
                Err("neither end nor count was specified in withSequence"),
            ),
            (
                json!({"count": "x"}),
                Err("withSequence.count: `x` is not an integer"),
            ),
        ];
        for (seq, want) in cases {
            let s: Sequence = serde_json::from_value(seq.clone()).unwrap();
            let got = expand_sequence(&s).map(|items| {
                items
                    .into_iter()
                    .map(|i| i.as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            });
            let want = want
                .map(|v| v.into_iter().map(str::to_string).collect::<Vec<_>>())
                .map_err(str::to_string);
            assert_eq!(got, want, "{seq}");
        }
    }

    #[test]
    fn references_resolve_as_single_tags() {
        let v: Vars = [("steps.a.outputs.result".to_string(), "x".to_string())].into();
        assert_eq!(
            resolve_reference("{{steps.a.outputs.result}}", &v),
            Ok("x".into())
        );
        assert_eq!(
            resolve_reference(" {{ steps.a.outputs.result }} ", &v),
            Ok("x".into())
        );
        assert!(resolve_reference("{{steps.b.outputs.result}}", &v).is_err());
    }

    #[test]
    fn continue_on_matches_phase() {
        let c = ContinueOn {
            error: None,
            failed: Some(true),
        };
        assert!(continues_on(c, NodePhase::Failed));
        assert!(!continues_on(c, NodePhase::Error));
        assert!(!continues_on(ContinueOn::default(), NodePhase::Failed));
    }
}
