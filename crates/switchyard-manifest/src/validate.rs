//! Semantic validation: the rules a manifest must keep beyond its types, Argo's plus what
//! Argo misses. Names are well-formed and unique where Argo requires it; every template,
//! task, dependency and referenced object exists; DAGs have no cycles (the cycle is named);
//! `{{inputs.parameters.x}}` refers to a declared input; sensor conditions name existing
//! dependencies; the Workflow inside a sensor trigger is validated like any Workflow.
//!
//! Objects of the same request are checked against each other in full; objects already
//! applied are known only by existence, through the `exists` callback. A reference to an
//! object that is not applied yet is a warning (it may be applied next), never silence.

use std::collections::{BTreeMap, HashMap, HashSet};

use switchyard_model::events::{
    EventSource, Sensor, SensorTrigger, TriggerArtifactLocation, TriggerParameter,
};
use switchyard_model::logic::BoolExpr;
use switchyard_model::workflow::{
    Arguments, DagTask, Template, TemplateCall, TemplateRef, TemplateTarget, WorkflowSpec,
};
use switchyard_model::{DEFAULT_NAMESPACE, Diagnostic, Kind, Resource, Severity};

use crate::Loaded;
use crate::path::{join_index, join_key};

/// Checks `objects` against each other and against what `exists(kind, namespace, name)` says
/// is already applied. Objects without a namespace are taken to be in `default`.
pub fn validate(objects: &[Loaded], exists: &dyn Fn(Kind, &str, &str) -> bool) -> Vec<Diagnostic> {
    let batch = Batch::new(objects);
    let mut out = Vec::new();
    let mut seen: HashMap<(Kind, String, String), usize> = HashMap::new();
    for (index, loaded) in objects.iter().enumerate() {
        let mut v = Validator {
            loaded,
            batch: &batch,
            exists,
            out: &mut out,
        };
        v.metadata();
        let resource = &loaded.resource;
        if let Some(name) = &resource.meta().name {
            let key = (
                resource.kind(),
                namespace_of(resource).to_owned(),
                name.clone(),
            );
            if let Some(first) = seen.insert(key, index) {
                let other = &objects[first];
                v.error(
                    "metadata.name",
                    format!(
                        "{} `{name}` is defined twice in this request (first in {} document {})",
                        resource.kind(),
                        other.source,
                        other.document + 1
                    ),
                );
            }
        }
        match resource {
            Resource::Workflow(wf) => v.workflow_spec("spec", &wf.spec, SpecRole::Workflow),
            Resource::WorkflowTemplate(t) => v.workflow_spec("spec", &t.spec, SpecRole::Template),
            Resource::ClusterWorkflowTemplate(t) => {
                v.workflow_spec("spec", &t.spec, SpecRole::Template)
            }
            Resource::CronWorkflow(c) => {
                if c.spec.all_schedules().is_empty() {
                    v.error(
                        "spec.schedule",
                        "a CronWorkflow needs `schedule` or `schedules`",
                    );
                }
                if let Some(d) = c.spec.starting_deadline_seconds
                    && d < 0
                {
                    v.error(
                        "spec.startingDeadlineSeconds",
                        format!("must not be negative, found {d}"),
                    );
                }
                v.workflow_spec(
                    "spec.workflowSpec",
                    &c.spec.workflow_spec,
                    SpecRole::Workflow,
                )
            }
            Resource::Sensor(s) => v.sensor(s),
            Resource::EventSource(es) => v.event_source(es),
            Resource::EventBus(bus) => {
                let kinds = bus.spec.bus_kinds();
                if kinds.is_empty() {
                    v.error(
                        "spec",
                        "an EventBus needs one of `nats`, `jetstream` or `jetstreamExotic`",
                    );
                } else if kinds.len() > 1 {
                    v.error(
                        "spec",
                        format!(
                            "sets {}; an EventBus has exactly one kind",
                            backticked(&kinds)
                        ),
                    );
                }
            }
            Resource::Secret(secret) => {
                if let Err(e) = secret.decoded_values() {
                    v.error("data", e);
                }
            }
            Resource::ConfigMap(cm) => {
                if let Err(e) = cm.values() {
                    v.error("data", e);
                }
            }
            Resource::Offering(offering) => {
                let name = offering.metadata.name.as_deref().unwrap_or_default();
                let namespace = v.namespace().to_owned();
                if let Err(problems) =
                    switchyard_catalog::Offering::from_manifest(&namespace, name, &offering.spec)
                {
                    for p in problems {
                        v.error(&p.path, p.message);
                    }
                }
            }
            Resource::Order(_) => v.error(
                "kind",
                "an Order is placed through the platform API (POST to its offering's route, or \
                 POST /api/v1/orders), not applied",
            ),
        }
    }
    out
}

fn namespace_of(resource: &Resource) -> &str {
    if resource.kind().namespaced() {
        resource
            .meta()
            .namespace
            .as_deref()
            .unwrap_or(DEFAULT_NAMESPACE)
    } else {
        ""
    }
}

fn backticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The objects of one request, by kind, namespace and name.
struct Batch<'a> {
    by_key: HashMap<(Kind, &'a str, &'a str), &'a Resource>,
}

impl<'a> Batch<'a> {
    fn new(objects: &'a [Loaded]) -> Self {
        let mut by_key = HashMap::new();
        for o in objects {
            if let Some(name) = o.resource.meta().name.as_deref() {
                by_key.insert(
                    (o.resource.kind(), namespace_of(&o.resource), name),
                    &o.resource,
                );
            }
        }
        Batch { by_key }
    }

    fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&'a Resource> {
        self.by_key.get(&(kind, namespace, name)).copied()
    }
}

/// What a lookup of a referenced object found.
enum Found<'a> {
    /// In this request: its content can be checked too.
    InBatch(&'a Resource),
    /// Already applied.
    Applied,
    Missing,
}

#[derive(Clone, Copy, PartialEq)]
enum SpecRole {
    /// A Workflow or the workflowSpec of a CronWorkflow: needs an entrypoint.
    Workflow,
    /// A (Cluster)WorkflowTemplate: the entrypoint is optional.
    Template,
}

struct Validator<'a, 'b> {
    loaded: &'a Loaded,
    batch: &'a Batch<'a>,
    exists: &'a dyn Fn(Kind, &str, &str) -> bool,
    out: &'b mut Vec<Diagnostic>,
}

impl Validator<'_, '_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        let d = self.loaded.diagnostic(Severity::Error, path, message);
        self.out.push(d);
    }

    fn warning(&mut self, path: &str, message: impl Into<String>) {
        let d = self.loaded.diagnostic(Severity::Warning, path, message);
        self.out.push(d);
    }

    fn namespace(&self) -> &str {
        namespace_of(&self.loaded.resource)
    }

    fn find(&self, kind: Kind, name: &str) -> Found<'_> {
        let ns = if kind.namespaced() {
            self.namespace()
        } else {
            ""
        };
        if let Some(r) = self.batch.get(kind, ns, name) {
            Found::InBatch(r)
        } else if (self.exists)(kind, ns, name) {
            Found::Applied
        } else {
            Found::Missing
        }
    }

    // -----------------------------------------------------------------------------------
    // Metadata
    // -----------------------------------------------------------------------------------

    fn metadata(&mut self) {
        let meta = self.loaded.resource.meta().clone();
        match (&meta.name, &meta.generate_name) {
            (Some(name), _) => {
                if let Err(e) = check_dns_subdomain(name) {
                    self.error(
                        "metadata.name",
                        format!("`{name}` is not a valid name: {e}"),
                    );
                }
            }
            (None, Some(prefix)) => {
                let probe = format!("{prefix}x");
                if let Err(e) = check_dns_subdomain(&probe) {
                    self.error(
                        "metadata.generateName",
                        format!("`{prefix}` is not a valid name prefix: {e}"),
                    );
                }
            }
            (None, None) => self.error(
                "metadata",
                "needs `name` (or `generateName`, to have a unique name generated)",
            ),
        }
        if let Some(ns) = &meta.namespace {
            if !self.loaded.resource.kind().namespaced() {
                self.warning(
                    "metadata.namespace",
                    format!(
                        "{} is cluster-scoped; the namespace is ignored",
                        self.loaded.resource.kind()
                    ),
                );
            } else if let Err(e) = check_dns_label(ns) {
                self.error(
                    "metadata.namespace",
                    format!("`{ns}` is not a valid namespace: {e}"),
                );
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Workflows
    // -----------------------------------------------------------------------------------

    fn workflow_spec(&mut self, base: &str, spec: &WorkflowSpec, role: SpecRole) {
        let templates_path = join_key(base, "templates");
        // Names of local templates, with their index, first definition wins.
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, t) in spec.templates.iter().enumerate() {
            let path = join_index(&templates_path, i);
            let name = t.name();
            if name.is_empty() {
                self.error(&path, "a template needs a `name`");
                continue;
            }
            if let Err(e) = check_field_name(name) {
                self.error(&join_key(&path, "name"), format!("`{name}` {e}"));
            }
            if let Some(first) = names.get(name) {
                self.error(
                    &join_key(&path, "name"),
                    format!(
                        "template name `{name}` is already used by {templates_path}[{first}]; template names must be unique"
                    ),
                );
            } else {
                names.insert(name, i);
            }
        }

        let scope = Scope {
            local: names.keys().copied().collect(),
            spec,
        };

        if let Some(wt) = &spec.workflow_template_ref {
            let path = join_key(base, "workflowTemplateRef");
            if !spec.templates.is_empty() {
                self.error(
                    &templates_path,
                    "a workflow with `workflowTemplateRef` takes its templates from the referenced template; remove `templates`",
                );
            }
            match wt.name.as_deref().filter(|n| !n.is_empty()) {
                None => self.error(&path, "needs `name`"),
                Some(name) => {
                    let kind = if wt.is_cluster_scope() {
                        Kind::ClusterWorkflowTemplate
                    } else {
                        Kind::WorkflowTemplate
                    };
                    self.referenced_object(&join_key(&path, "name"), kind, name);
                }
            }
        } else {
            match spec.entrypoint.as_deref().filter(|e| !e.is_empty()) {
                Some(entry) if !scope.local.contains(entry) => {
                    self.error(
                        &join_key(base, "entrypoint"),
                        missing_template_message(entry, &scope.local),
                    );
                }
                Some(_) => {}
                None if role == SpecRole::Workflow => self.error(
                    base,
                    "needs `entrypoint`: the name of the template to run first",
                ),
                None => {}
            }
        }

        if let Some(on_exit) = spec.on_exit.as_deref().filter(|e| !e.is_empty())
            && !scope.local.contains(on_exit)
            && spec.workflow_template_ref.is_none()
        {
            self.error(
                &join_key(base, "onExit"),
                missing_template_message(on_exit, &scope.local),
            );
        }
        for (name, hook) in &spec.hooks {
            let path = join_key(&join_key(base, "hooks"), name);
            self.hook_target(
                &path,
                hook.template.as_deref(),
                hook.template_ref.as_ref(),
                &scope,
            );
        }
        self.unique_parameters(&join_key(base, "arguments"), &spec.arguments);

        for (i, t) in spec.templates.iter().enumerate() {
            self.template(&join_index(&templates_path, i), t, &scope);
        }
    }

    fn unique_parameters(&mut self, base: &str, args: &Arguments) {
        let mut seen = HashSet::new();
        for (i, p) in args.parameters.iter().enumerate() {
            if !seen.insert(p.name.as_str()) {
                self.error(
                    &join_key(&join_index(&join_key(base, "parameters"), i), "name"),
                    format!("parameter `{}` is given twice", p.name),
                );
            }
        }
    }

    fn template(&mut self, path: &str, t: &Template, scope: &Scope<'_>) {
        let kinds = t.kinds();
        match kinds.len() {
            0 => self.error(
                path,
                format!(
                    "template `{}` has no type: set one of `container`, `script`, `steps`, `dag`, `suspend` or `containerSet`",
                    t.name()
                ),
            ),
            1 => {}
            _ => {
                let fields: Vec<&str> = kinds.iter().map(|k| k.field()).collect();
                self.error(
                    path,
                    format!(
                        "template `{}` sets {}; a template has exactly one type",
                        t.name(),
                        backticked(&fields)
                    ),
                );
            }
        }

        // Input parameters: enum membership and references.
        let inputs_path = join_key(&join_key(path, "inputs"), "parameters");
        let mut declared = HashSet::new();
        for (i, p) in t.inputs.parameters.iter().enumerate() {
            let ppath = join_index(&inputs_path, i);
            if !declared.insert(p.name.as_str()) {
                self.error(
                    &join_key(&ppath, "name"),
                    format!("input parameter `{}` is declared twice", p.name),
                );
            }
            if !p.enum_.is_empty()
                && let Some(v) = p.value_or_default()
                && !v.contains("{{")
                && !p.enum_.iter().any(|e| e.as_str() == v)
            {
                let allowed: Vec<&str> = p.enum_.iter().map(|e| e.as_str()).collect();
                self.error(
                    &ppath,
                    format!(
                        "value `{v}` of parameter `{}` is not one of its enum: {}",
                        p.name,
                        backticked(&allowed)
                    ),
                );
            }
        }
        self.parameter_references(path, t, &declared);

        if let Some(groups) = &t.steps {
            let steps_path = join_key(path, "steps");
            let mut step_names: HashMap<&str, (usize, usize)> = HashMap::new();
            for (g, group) in groups.iter().enumerate() {
                for (s, step) in group.iter().enumerate() {
                    let spath = join_index(&join_index(&steps_path, g), s);
                    let name = step.call_name();
                    if name.is_empty() {
                        self.error(&spath, "a step needs a `name`");
                    } else {
                        if let Err(e) = check_field_name(name) {
                            self.error(&join_key(&spath, "name"), format!("`{name}` {e}"));
                        }
                        if let Some((fg, fs)) = step_names.insert(name, (g, s)) {
                            self.error(
                                &join_key(&spath, "name"),
                                format!(
                                    "step name `{name}` is already used by {steps_path}[{fg}][{fs}]; step names must be unique within a template"
                                ),
                            );
                        }
                    }
                    self.call(&spath, step, scope);
                }
            }
            self.sibling_references(path, t, "steps", &step_names.keys().copied().collect());
        }

        if let Some(dag) = &t.dag {
            self.dag(
                &join_key(path, "dag"),
                &dag.tasks,
                dag.target.as_deref(),
                scope,
            );
            let names: HashSet<&str> = dag.tasks.iter().map(|t| t.name.as_str()).collect();
            self.sibling_references(path, t, "tasks", &names);
        }

        if let Some(r) = &t.retry_strategy
            && let Some(limit) = &r.limit
            && limit.as_i64().is_none()
            && !limit.to_string().contains("{{")
        {
            self.error(
                &join_key(&join_key(path, "retryStrategy"), "limit"),
                format!("`{limit}` is not a number"),
            );
        }
        if let Some(timeout) = &t.timeout
            && kinds.first().is_some_and(|k| !k.is_leaf())
        {
            self.error(
                &join_key(path, "timeout"),
                format!(
                    "`timeout: {timeout}` applies to leaf templates only, not to `{}` templates",
                    kinds.first().map_or("", |k| k.field())
                ),
            );
        }
    }

    fn dag(&mut self, path: &str, tasks: &[DagTask], target: Option<&str>, scope: &Scope<'_>) {
        let tasks_path = join_key(path, "tasks");
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, task) in tasks.iter().enumerate() {
            let tpath = join_index(&tasks_path, i);
            if task.name.is_empty() {
                self.error(&tpath, "a task needs a `name`");
                continue;
            }
            if let Err(e) = check_field_name(&task.name) {
                self.error(&join_key(&tpath, "name"), format!("`{}` {e}", task.name));
            }
            if let Some(first) = index.insert(task.name.as_str(), i) {
                index.insert(task.name.as_str(), first);
                self.error(
                    &join_key(&tpath, "name"),
                    format!(
                        "task name `{}` is already used by {tasks_path}[{first}]; task names must be unique within a DAG",
                        task.name
                    ),
                );
            }
        }

        // Edges: task -> the tasks it waits for.
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
        for (i, task) in tasks.iter().enumerate() {
            let tpath = join_index(&tasks_path, i);
            self.call(&tpath, task, scope);
            if task.uses_depends() && !task.dependencies.is_empty() {
                self.error(
                    &join_key(&tpath, "depends"),
                    "set either `depends` or `dependencies`, not both",
                );
            }
            for (d, dep) in task.dependencies.iter().enumerate() {
                let dpath = join_index(&join_key(&tpath, "dependencies"), d);
                match index.get(dep.as_str()) {
                    Some(j) => edges[i].push(*j),
                    None => self.error(&dpath, missing_task_message(dep, &index)),
                }
            }
            if let Some(depends) = task.depends.as_deref().filter(|_| task.uses_depends()) {
                let dpath = join_key(&tpath, "depends");
                match BoolExpr::parse(depends) {
                    Err(e) => self.error(&dpath, format!("cannot parse `{depends}`: {e}")),
                    Ok(expr) => {
                        for (name, result, _) in expr.operands() {
                            match index.get(name) {
                                Some(j) => edges[i].push(*j),
                                None => self.error(&dpath, missing_task_message(name, &index)),
                            }
                            if let Some(r) = result
                                && !DEPENDS_RESULTS.contains(&r)
                            {
                                self.error(
                                    &dpath,
                                    format!(
                                        "`{name}.{r}` is not a task result; use one of {}",
                                        backticked(DEPENDS_RESULTS)
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }

        if let Some(cycle) = find_cycle(&edges) {
            let names: Vec<&str> = cycle.iter().map(|i| tasks[*i].name.as_str()).collect();
            let first = cycle.first().copied().unwrap_or(0);
            self.error(
                &join_index(&tasks_path, first),
                format!("dependency cycle: {}", names.join(" -> ")),
            );
        }

        if let Some(target) = target {
            for name in target.split_whitespace() {
                if !index.contains_key(name) && !name.contains("{{") {
                    self.error(
                        &join_key(path, "target"),
                        missing_task_message(name, &index),
                    );
                }
            }
        }
    }

    /// A step or task: exactly one template target that exists, at most one loop.
    fn call(&mut self, path: &str, call: &dyn TemplateCall, scope: &Scope<'_>) {
        let targets = call.targets();
        match targets.as_slice() {
            [] => self.error(
                path,
                format!(
                    "`{}` needs `template`, `templateRef` or `inline`",
                    call.call_name()
                ),
            ),
            [one] => match one {
                TemplateTarget::Name(name) => {
                    if !scope.local.contains(name) && !name.contains("{{") {
                        self.error(
                            &join_key(path, "template"),
                            missing_template_message(name, &scope.local),
                        );
                    }
                }
                TemplateTarget::Ref(r) => self.template_ref(&join_key(path, "templateRef"), r),
                TemplateTarget::Inline(t) => self.template(&join_key(path, "inline"), t, scope),
            },
            _ => self.error(
                path,
                "set only one of `template`, `templateRef` and `inline`",
            ),
        }
        if call.expansions().len() > 1 {
            self.error(
                path,
                "set only one of `withItems`, `withParam` and `withSequence`",
            );
        }
        if let Some(on_exit) = call.on_exit().filter(|e| !e.is_empty())
            && !scope.local.contains(on_exit)
        {
            self.error(
                &join_key(path, "onExit"),
                missing_template_message(on_exit, &scope.local),
            );
        }
        for (name, hook) in call.hooks() {
            let hpath = join_key(&join_key(path, "hooks"), name);
            self.hook_target(
                &hpath,
                hook.template.as_deref(),
                hook.template_ref.as_ref(),
                scope,
            );
        }
        self.unique_parameters(&join_key(path, "arguments"), call.arguments());
    }

    fn hook_target(
        &mut self,
        path: &str,
        template: Option<&str>,
        template_ref: Option<&TemplateRef>,
        scope: &Scope<'_>,
    ) {
        match (template.filter(|t| !t.is_empty()), template_ref) {
            (Some(name), None) => {
                if !scope.local.contains(name) && scope.spec.workflow_template_ref.is_none() {
                    self.error(
                        &join_key(path, "template"),
                        missing_template_message(name, &scope.local),
                    );
                }
            }
            (None, Some(r)) => self.template_ref(&join_key(path, "templateRef"), r),
            (None, None) => self.error(path, "a hook needs `template` or `templateRef`"),
            (Some(_), Some(_)) => self.error(path, "set either `template` or `templateRef`"),
        }
    }

    fn template_ref(&mut self, path: &str, r: &TemplateRef) {
        let (Some(name), Some(template)) = (
            r.name.as_deref().filter(|n| !n.is_empty()),
            r.template.as_deref().filter(|t| !t.is_empty()),
        ) else {
            self.error(path, "needs `name` (the WorkflowTemplate) and `template`");
            return;
        };
        let kind = if r.is_cluster_scope() {
            Kind::ClusterWorkflowTemplate
        } else {
            Kind::WorkflowTemplate
        };
        if let Some(spec) = self.referenced_object(&join_key(path, "name"), kind, name)
            && spec.template(template).is_none()
        {
            let local: HashSet<&str> = spec.templates.iter().map(|t| t.name()).collect();
            self.error(
                &join_key(path, "template"),
                format!(
                    "{kind} `{name}` has no template `{template}`{}",
                    known_list(&local)
                ),
            );
        }
    }

    /// Looks up a referenced WorkflowTemplate or ClusterWorkflowTemplate; warns when it is
    /// not applied yet. Returns its spec when it is in this request.
    fn referenced_object(&mut self, path: &str, kind: Kind, name: &str) -> Option<WorkflowSpec> {
        if name.contains("{{") {
            return None;
        }
        match self.find(kind, name) {
            Found::InBatch(Resource::WorkflowTemplate(t)) => Some(t.spec.clone()),
            Found::InBatch(Resource::ClusterWorkflowTemplate(t)) => Some(t.spec.clone()),
            Found::InBatch(_) | Found::Applied => None,
            Found::Missing => {
                let where_ = if kind.namespaced() {
                    format!(" in namespace `{}`", self.namespace())
                } else {
                    String::new()
                };
                self.warning(
                    path,
                    format!(
                        "{kind} `{name}` is not applied yet{where_}; runs that use it fail until it is"
                    ),
                );
                None
            }
        }
    }

    /// `{{inputs.parameters.x}}` must name a declared input of the same template. Nested
    /// `inline` templates are checked on their own.
    fn parameter_references(&mut self, path: &str, t: &Template, declared: &HashSet<&str>) {
        let mut own = t.clone();
        strip_inline(&mut own);
        let value = serde_json::to_value(&own).unwrap_or_default();
        let mut reported = HashSet::new();
        for_each_string(&value, path, &mut |spath, s| {
            for name in references(s, "inputs.parameters.") {
                if !declared.contains(name.as_str()) && reported.insert(name.clone()) {
                    let declared_list: HashSet<&str> = declared.iter().copied().collect();
                    self.error(
                        spath,
                        format!(
                            "`{{{{inputs.parameters.{name}}}}}` refers to an input parameter that template `{}` does not declare{}",
                            t.name(),
                            known_list(&declared_list)
                        ),
                    );
                }
            }
        });
    }

    /// `{{steps.X.…}}` / `{{tasks.X.…}}` must name a step or task of the same template.
    fn sibling_references(&mut self, path: &str, t: &Template, word: &str, names: &HashSet<&str>) {
        let mut own = t.clone();
        strip_inline(&mut own);
        let value = serde_json::to_value(&own).unwrap_or_default();
        let prefix = format!("{word}.");
        let mut reported = HashSet::new();
        for_each_string(&value, path, &mut |spath, s| {
            for name in references(s, &prefix) {
                // `{{steps.name}}` / `{{tasks.name}}` is the current step's own name.
                if name == "name" {
                    continue;
                }
                if !names.contains(name.as_str()) && reported.insert(name.clone()) {
                    self.error(
                        spath,
                        format!(
                            "`{word}.{name}` refers to a {} that template `{}` does not have{}",
                            word.trim_end_matches('s'),
                            t.name(),
                            known_list(names)
                        ),
                    );
                }
            }
        });
    }

    // -----------------------------------------------------------------------------------
    // Events
    // -----------------------------------------------------------------------------------

    fn sensor(&mut self, sensor: &Sensor) {
        let deps_path = "spec.dependencies";
        if sensor.spec.dependencies.is_empty() {
            self.error(
                "spec",
                "a Sensor needs at least one entry in `dependencies`",
            );
        }
        let mut deps: HashMap<&str, usize> = HashMap::new();
        for (i, dep) in sensor.spec.dependencies.iter().enumerate() {
            let path = join_index(deps_path, i);
            if dep.name.is_empty() {
                self.error(&join_key(&path, "name"), "a dependency needs a `name`");
                continue;
            }
            if let Some(first) = deps.insert(dep.name.as_str(), i) {
                deps.insert(dep.name.as_str(), first);
                self.error(
                    &join_key(&path, "name"),
                    format!(
                        "dependency name `{}` is already used by {deps_path}[{first}]",
                        dep.name
                    ),
                );
            }
            if dep.event_source_name.is_empty() {
                self.error(&join_key(&path, "eventSourceName"), "must not be empty");
                continue;
            }
            match self.find(Kind::EventSource, &dep.event_source_name) {
                Found::InBatch(Resource::EventSource(es)) => {
                    if !es.spec.has_event(&dep.event_name) {
                        let events: HashSet<&str> =
                            es.spec.events().into_iter().map(|(_, name)| name).collect();
                        self.error(
                            &join_key(&path, "eventName"),
                            format!(
                                "EventSource `{}` has no event `{}`{}",
                                dep.event_source_name,
                                dep.event_name,
                                known_list(&events)
                            ),
                        );
                    }
                }
                Found::InBatch(_) | Found::Applied => {}
                Found::Missing => self.warning(
                    &join_key(&path, "eventSourceName"),
                    format!(
                        "EventSource `{}` is not applied yet in namespace `{}`; the sensor waits for it",
                        dep.event_source_name,
                        self.namespace()
                    ),
                ),
            }
        }

        let mut trigger_names: HashMap<&str, usize> = HashMap::new();
        for (i, trigger) in sensor.spec.triggers.iter().enumerate() {
            let path = join_index("spec.triggers", i);
            let name = trigger.template.name.as_str();
            if !name.is_empty()
                && let Some(first) = trigger_names.insert(name, i)
            {
                trigger_names.insert(name, first);
                self.error(
                    &join_key(&join_key(&path, "template"), "name"),
                    format!("trigger name `{name}` is already used by spec.triggers[{first}]"),
                );
            }
            self.trigger(&path, trigger, &deps);
        }
        if sensor.spec.triggers.is_empty() {
            self.error("spec", "a Sensor needs at least one entry in `triggers`");
        }
    }

    fn trigger(&mut self, path: &str, trigger: &SensorTrigger, deps: &HashMap<&str, usize>) {
        let tpath = join_key(path, "template");
        let template = &trigger.template;
        if template.name.is_empty() {
            self.error(&join_key(&tpath, "name"), "a trigger needs a `name`");
        }
        let types = template.trigger_types();
        let unsupported = template
            .unsupported_triggers()
            .iter()
            .any(|(_, v)| v.is_some());
        if types.is_empty() && !unsupported {
            self.error(
                &tpath,
                "a trigger needs one of `argoWorkflow`, `k8s`, `http` or `log`",
            );
        } else if types.len() > 1 {
            self.error(
                &tpath,
                format!(
                    "sets {}; a trigger has exactly one type",
                    backticked(&types)
                ),
            );
        }
        if let Some(conditions) = template
            .conditions
            .as_deref()
            .filter(|c| !c.trim().is_empty())
        {
            let cpath = join_key(&tpath, "conditions");
            match BoolExpr::parse(conditions) {
                Err(e) => self.error(&cpath, format!("cannot parse `{conditions}`: {e}")),
                Ok(expr) => {
                    for (name, result, _) in expr.operands() {
                        if result.is_some() {
                            self.error(
                                &cpath,
                                format!(
                                    "conditions name dependencies; `{name}.{}` has a suffix",
                                    result.unwrap_or_default()
                                ),
                            );
                        } else if !deps.contains_key(name) {
                            self.error(&cpath, missing_dependency_message(name, deps));
                        }
                    }
                }
            }
        }
        self.trigger_parameters(&join_key(path, "parameters"), &trigger.parameters, deps);
        if let Some(wf) = &template.argo_workflow {
            let wpath = join_key(&tpath, "argoWorkflow");
            self.trigger_parameters(&join_key(&wpath, "parameters"), &wf.parameters, deps);
            self.trigger_workflow(&wpath, wf.source.as_ref());
        }
        if let Some(k8s) = &template.k8s {
            let kpath = join_key(&tpath, "k8s");
            self.trigger_parameters(&join_key(&kpath, "parameters"), &k8s.parameters, deps);
            self.trigger_workflow(&kpath, k8s.source.as_ref());
        }
        if let Some(http) = &template.http {
            let hpath = join_key(&tpath, "http");
            self.trigger_parameters(&join_key(&hpath, "parameters"), &http.parameters, deps);
            self.trigger_parameters(&join_key(&hpath, "payload"), &http.payload, deps);
        }
        if let Some(dlq) = &trigger.dlq_trigger {
            self.trigger(&join_key(path, "dlqTrigger"), dlq, deps);
        }
    }

    fn trigger_parameters(
        &mut self,
        path: &str,
        params: &[TriggerParameter],
        deps: &HashMap<&str, usize>,
    ) {
        for (i, p) in params.iter().enumerate() {
            let ppath = join_index(path, i);
            let dep = p.src.dependency_name.as_str();
            if !deps.contains_key(dep) {
                self.error(
                    &join_key(&join_key(&ppath, "src"), "dependencyName"),
                    missing_dependency_message(dep, deps),
                );
            }
            if p.dest.trim().is_empty() {
                self.error(&join_key(&ppath, "dest"), "must not be empty");
            }
        }
    }

    /// The object a workflow-creating trigger submits: it must be a Workflow, validated like
    /// one applied on its own.
    fn trigger_workflow(&mut self, path: &str, source: Option<&TriggerArtifactLocation>) {
        let spath = join_key(&join_key(path, "source"), "resource");
        let Some(resource) = source.and_then(|s| s.resource.as_ref()) else {
            // Other locations are refused by the field policy already.
            if source.is_some_and(|s| !s.locations().is_empty()) {
                return;
            }
            self.error(
                &join_key(path, "source"),
                "needs `resource`: the Workflow to create, written inline",
            );
            return;
        };
        let kind = resource.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        let api = resource
            .get("apiVersion")
            .and_then(|k| k.as_str())
            .unwrap_or("");
        if kind != "Workflow" || api != switchyard_model::ARGO_API_VERSION {
            self.error(
                &spath,
                format!(
                    "creating a `{kind}` (apiVersion `{api}`) from a trigger is not supported: triggers create Argo Workflows (apiVersion `{}`, kind `Workflow`)",
                    switchyard_model::ARGO_API_VERSION
                ),
            );
            return;
        }
        match Resource::from_value(Kind::Workflow, resource.clone()) {
            Err(e) => self.error(&spath, format!("is not a valid Workflow: {e}")),
            Ok(Resource::Workflow(wf)) => {
                self.workflow_spec(&join_key(&spath, "spec"), &wf.spec, SpecRole::Workflow)
            }
            Ok(_) => {}
        }
    }

    fn event_source(&mut self, es: &EventSource) {
        if es.spec.events().is_empty() {
            self.error(
                "spec",
                "an EventSource needs at least one event, e.g. under `webhook` or `calendar`",
            );
        }
        let mut endpoints: HashMap<(String, String), String> = HashMap::new();
        for (name, hook) in es.webhooks() {
            let path = join_key("spec.webhook", name);
            let port = match hook.port_number() {
                Ok(p) => Some(p.to_string()),
                Err(e) => {
                    self.error(&join_key(&path, "port"), e);
                    None
                }
            };
            if !hook.endpoint.starts_with('/') {
                self.error(
                    &join_key(&path, "endpoint"),
                    format!("`{}` must start with `/`", hook.endpoint),
                );
            }
            if !HTTP_METHODS.contains(&hook.method.to_ascii_uppercase().as_str()) {
                self.error(
                    &join_key(&path, "method"),
                    format!(
                        "`{}` is not an HTTP method; use one of {}",
                        hook.method,
                        backticked(HTTP_METHODS)
                    ),
                );
            }
            let Some(port) = port else { continue };
            let key = (port.clone(), hook.endpoint.clone());
            if let Some(first) = endpoints.insert(key, name.to_owned()) {
                self.error(
                    &join_key(&path, "endpoint"),
                    format!(
                        "port {port} endpoint `{}` is already served by event `{first}`",
                        hook.endpoint
                    ),
                );
            }
        }
        for (name, cal) in es.calendars() {
            let path = join_key("spec.calendar", name);
            match (&cal.schedule, &cal.interval) {
                (None, None) => self.error(&path, "a calendar needs `schedule` or `interval`"),
                (None, Some(interval)) => {
                    if let Err(e) = switchyard_model::events::parse_go_duration(interval) {
                        self.error(&join_key(&path, "interval"), e);
                    }
                }
                _ => {}
            }
        }
    }
}

/// What is visible to the templates of one workflow spec.
struct Scope<'a> {
    local: HashSet<&'a str>,
    spec: &'a WorkflowSpec,
}

const DEPENDS_RESULTS: &[&str] = &[
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
];

const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

fn known_list(names: &HashSet<&str>) -> String {
    if names.is_empty() {
        return String::new();
    }
    let mut sorted: Vec<&str> = names.iter().copied().collect();
    sorted.sort_unstable();
    format!("; known: {}", backticked(&sorted))
}

fn missing_template_message(name: &str, local: &HashSet<&str>) -> String {
    format!("template `{name}` does not exist{}", known_list(local))
}

fn missing_task_message(name: &str, index: &HashMap<&str, usize>) -> String {
    let names: HashSet<&str> = index.keys().copied().collect();
    format!("task `{name}` does not exist{}", known_list(&names))
}

fn missing_dependency_message(name: &str, deps: &HashMap<&str, usize>) -> String {
    let names: HashSet<&str> = deps.keys().copied().collect();
    format!("dependency `{name}` does not exist{}", known_list(&names))
}

/// Removes nested inline templates so that checks of one template do not see another's text.
fn strip_inline(t: &mut Template) {
    if let Some(groups) = &mut t.steps {
        for step in groups.iter_mut().flatten() {
            step.inline = None;
        }
    }
    if let Some(dag) = &mut t.dag {
        for task in &mut dag.tasks {
            task.inline = None;
        }
    }
}

/// Calls `f(path, text)` for every string in `value`, with `base` as the path of `value`.
/// Iterative: serialized templates are bounded by the loader's depth cap anyway.
fn for_each_string(value: &serde_json::Value, base: &str, f: &mut dyn FnMut(&str, &str)) {
    let mut stack = vec![(value, base.to_owned())];
    while let Some((v, path)) = stack.pop() {
        match v {
            serde_json::Value::String(s) => f(&path, s),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate().rev() {
                    stack.push((item, join_index(&path, i)));
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map.iter().rev() {
                    stack.push((item, join_key(&path, k)));
                }
            }
            _ => {}
        }
    }
}

/// Names referenced as `PREFIX NAME` inside `{{ }}` tags (plain and `{{= }}` expression tags),
/// e.g. `inputs.parameters.message` → `message`.
fn references(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        let tag = &after[..close];
        let mut search = tag;
        while let Some(at) = search.find(prefix) {
            // Must not be the tail of a longer name (`xinputs.parameters.`).
            let before = search[..at].chars().last();
            let tail = &search[at + prefix.len()..];
            search = tail;
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
        rest = &after[close + 2..];
    }
    out
}

/// Argo's rule for template, step and task names.
fn check_field_name(name: &str) -> Result<(), String> {
    if name.len() > 128 {
        return Err("is longer than 128 characters".to_owned());
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(
            "is not a valid name: use letters, digits and `-`, starting with a letter or digit"
                .to_owned(),
        );
    }
    Ok(())
}

/// Kubernetes object names: a DNS subdomain (RFC 1123), at most 253 characters.
fn check_dns_subdomain(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".to_owned());
    }
    if name.len() > 253 {
        return Err("it is longer than 253 characters".to_owned());
    }
    for label in name.split('.') {
        check_label_chars(label)?;
    }
    Ok(())
}

/// Namespaces: a DNS label (RFC 1123), at most 63 characters.
fn check_dns_label(name: &str) -> Result<(), String> {
    if name.len() > 63 {
        return Err("it is longer than 63 characters".to_owned());
    }
    check_label_chars(name)
}

fn check_label_chars(label: &str) -> Result<(), String> {
    let ok_chars = label
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ok_ends = label
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && label
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok_chars && ok_ends {
        Ok(())
    } else {
        Err(
            "use lowercase letters, digits and `-`, starting and ending with a letter or digit"
                .to_owned(),
        )
    }
}

/// Finds one cycle in a graph given as adjacency lists; returns it as a closed walk
/// (`a, b, a`). Iterative depth-first search with colours.
fn find_cycle(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour = vec![Colour::White; edges.len()];
    let mut parent = vec![usize::MAX; edges.len()];
    for start in 0..edges.len() {
        if colour[start] != Colour::White {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        colour[start] = Colour::Grey;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&to) = edges[node].get(*next) {
                *next += 1;
                match colour[to] {
                    Colour::White => {
                        colour[to] = Colour::Grey;
                        parent[to] = node;
                        stack.push((to, 0));
                    }
                    Colour::Grey => {
                        // Walk back from `node` to `to` along parents.
                        let mut cycle = vec![to];
                        let mut at = node;
                        while at != to {
                            cycle.push(at);
                            at = parent[at];
                        }
                        cycle.push(to);
                        cycle.reverse();
                        // Present it in dependency order: a waits for b: a -> b.
                        return Some(cycle);
                    }
                    Colour::Black => {}
                }
            } else {
                colour[node] = Colour::Black;
                stack.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_names_cycles() {
        // 0 -> 1 -> 2 -> 0
        let edges = vec![vec![1], vec![2], vec![0]];
        let cycle = find_cycle(&edges).unwrap();
        assert_eq!(cycle.len(), 4);
        assert_eq!(cycle.first(), cycle.last());
        assert!(find_cycle(&[vec![1], vec![2], vec![]]).is_none());
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0, 0]));
    }

    #[test]
    fn finds_references_in_tags() {
        assert_eq!(
            references(
                "echo {{inputs.parameters.message}} {{ inputs.parameters.x-y }}",
                "inputs.parameters."
            ),
            ["message", "x-y"]
        );
        assert_eq!(
            references(
                "{{=inputs.parameters.a + inputs.parameters.b}}",
                "inputs.parameters."
            ),
            ["a", "b"]
        );
        assert!(references("inputs.parameters.outside", "inputs.parameters.").is_empty());
        assert!(references("{{workflow.inputs.parameters.x}}", "inputs.parameters.").is_empty());
    }

    #[test]
    fn checks_names() {
        assert!(check_dns_subdomain("webhook.v2").is_ok());
        assert!(check_dns_subdomain("Webhook").is_err());
        assert!(check_dns_label("argo-events").is_ok());
        assert!(check_dns_label("-x").is_err());
        assert!(check_field_name("print-message").is_ok());
        assert!(check_field_name("print_message").is_err());
    }
}
