//! Submitting a workflow: merging it over its `workflowTemplateRef`, and checking what can
//! only be checked against the library it will run with (references, template types the
//! local executor does not run, arguments and their allowed values). Every problem is
//! reported, each with the path of the field it is about.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use switchyard_model::workflow::{
    AnyString, Arguments, Parameter, Template, TemplateCall, TemplateKind, TemplateRef, Workflow,
    WorkflowSpec,
};

use crate::error::{EngineError, Problem, SubmitError};
use crate::exec::{is_supported, template_label, unsupported_message};
use crate::resolve::{self, Scope};
use crate::schedule;
use crate::state::{Library, LibraryRef, RunState, RunStatus, WorkflowPhase};
use crate::stepspec;

/// Creates the state of a new run of `workflow` (phase Pending; apply
/// [`crate::Command::Submit`] to start it). `library` holds the (Cluster)WorkflowTemplates and
/// ConfigMaps it refers to (see [`library_refs`]), and the host commands for the images of
/// containers without a `command` ([`Library::image_entrypoints`]).
pub fn submit(
    name: &str,
    namespace: &str,
    uid: &str,
    workflow: &Workflow,
    library: Library,
    now: DateTime<Utc>,
) -> Result<RunState, SubmitError> {
    let mut problems = Vec::new();
    let spec = match &workflow.spec.workflow_template_ref {
        Some(r) => {
            let ref_name = r.name.clone().unwrap_or_default();
            let found = if r.is_cluster_scope() {
                library.cluster_workflow_templates.get(&ref_name)
            } else {
                library.workflow_templates.get(&ref_name)
            };
            match found {
                Some(template_spec) => resolve::join_specs(&workflow.spec, template_spec),
                None => {
                    let kind = if r.is_cluster_scope() {
                        "ClusterWorkflowTemplate"
                    } else {
                        "WorkflowTemplate"
                    };
                    problems.push(Problem::new(
                        "spec.workflowTemplateRef.name",
                        format!("{kind} `{ref_name}` not found"),
                    ));
                    return Err(EngineError::Invalid { problems });
                }
            }
        }
        None => workflow.spec.clone(),
    };
    check_templates(&spec, &library, &mut problems);
    if spec.synchronization.is_some() {
        problems.push(Problem::new(
            "spec.synchronization",
            "synchronization (semaphores and mutexes) is not supported yet: runs would not wait for the lock",
        ));
    }
    if !spec.arguments.artifacts.is_empty() {
        problems.push(Problem::new(
            "spec.arguments.artifacts",
            "artifacts need an artifact repository, which Switchyard does not support yet",
        ));
    }
    let entry = spec.entrypoint.clone().unwrap_or_default();
    let entry_index = spec.templates.iter().position(|t| t.name() == entry);
    if entry.is_empty() {
        problems.push(Problem::new(
            "spec.entrypoint",
            "the workflow has no entrypoint",
        ));
    } else if entry_index.is_none() {
        problems.push(Problem::new(
            "spec.entrypoint",
            format!("template `{entry}` not found"),
        ));
    }
    if let Some(hook) = spec.exit_hook() {
        let path = if spec.on_exit.is_some() {
            "spec.onExit"
        } else {
            "spec.hooks.exit"
        };
        check_call(
            &spec,
            &library,
            &Scope::Local,
            hook.template.as_deref(),
            hook.template_ref.as_ref(),
            path,
            &mut problems,
        );
    }
    let arguments = resolve_arguments(&spec.arguments, &library, &mut problems);
    if let Some(i) = entry_index {
        let t = &spec.templates[i];
        for (j, p) in t.inputs.parameters.iter().enumerate() {
            let path = format!("spec.templates[{i}].inputs.parameters[{j}]");
            let supplied = arguments.parameter(&p.name).and_then(|a| a.value.as_ref());
            match (supplied, p.value_or_default()) {
                (Some(v), _) => check_enum(p, v.as_str(), &format!("{path}.enum"), &mut problems),
                (None, Some(_)) => {}
                (None, None) if p.value_from.is_some() => {}
                (None, None) => problems.push(Problem::new(
                    path,
                    format!(
                        "inputs.parameters.{} was not supplied: the entrypoint's inputs come from spec.arguments.parameters",
                        p.name
                    ),
                )),
            }
        }
    }
    if !problems.is_empty() {
        return Err(EngineError::Invalid { problems });
    }
    Ok(RunState {
        name: name.to_string(),
        namespace: namespace.to_string(),
        uid: uid.to_string(),
        labels: workflow.metadata.labels.clone(),
        annotations: workflow.metadata.annotations.clone(),
        creation_timestamp: now,
        spec,
        library,
        arguments,
        status: RunStatus {
            phase: WorkflowPhase::Pending,
            started_at: None,
            finished_at: None,
            message: None,
            progress: "0/0".into(),
            outputs: None,
            nodes: Default::default(),
            memo: Default::default(),
        },
        timers: Vec::new(),
        wake_at: None,
        suspended: false,
        shutdown: None,
        generation: 0,
    })
}

/// What `workflow` refers to that `library` does not hold yet: its `workflowTemplateRef`,
/// every `templateRef` of its templates and of the library's templates, and the ConfigMaps
/// read by `configMapKeyRef` and `envFrom`. Fetch these and call again until it is empty.
pub fn library_refs(workflow: &Workflow, library: &Library) -> BTreeSet<LibraryRef> {
    let mut refs = BTreeSet::new();
    if let Some(r) = &workflow.spec.workflow_template_ref {
        refs.insert(template_ref_key(r.name.as_deref(), r.is_cluster_scope()));
    }
    let mut specs: Vec<&WorkflowSpec> = vec![&workflow.spec];
    specs.extend(library.workflow_templates.values());
    specs.extend(library.cluster_workflow_templates.values());
    for spec in specs {
        for p in &spec.arguments.parameters {
            if let Some(cm) = p
                .value_from
                .as_ref()
                .and_then(|f| f.config_map_key_ref.as_ref())
            {
                refs.insert(LibraryRef::ConfigMap(cm.name.clone()));
            }
        }
        let mut templates: Vec<&Template> = spec.templates.iter().collect();
        if let Some(d) = &spec.template_defaults {
            templates.push(d);
        }
        while let Some(t) = templates.pop() {
            collect_template_refs(t, &mut refs, &mut templates);
        }
        for hook in spec.hooks.values() {
            if let Some(r) = &hook.template_ref {
                refs.insert(template_ref_key(r.name.as_deref(), r.is_cluster_scope()));
            }
        }
    }
    refs.retain(|r| match r {
        LibraryRef::WorkflowTemplate(n) => !library.workflow_templates.contains_key(n),
        LibraryRef::ClusterWorkflowTemplate(n) => {
            !library.cluster_workflow_templates.contains_key(n)
        }
        LibraryRef::ConfigMap(n) => !library.config_maps.contains_key(n),
    });
    refs
}

fn template_ref_key(name: Option<&str>, cluster: bool) -> LibraryRef {
    let name = name.unwrap_or("").to_string();
    if cluster {
        LibraryRef::ClusterWorkflowTemplate(name)
    } else {
        LibraryRef::WorkflowTemplate(name)
    }
}

fn collect_template_refs<'a>(
    t: &'a Template,
    refs: &mut BTreeSet<LibraryRef>,
    more: &mut Vec<&'a Template>,
) {
    let mut add = |r: Option<&TemplateRef>| {
        if let Some(r) = r {
            refs.insert(template_ref_key(r.name.as_deref(), r.is_cluster_scope()));
        }
    };
    for group in t.step_groups() {
        for s in group {
            add(s.template_ref.as_ref());
            for h in s.hooks.values() {
                add(h.template_ref.as_ref());
            }
            if let Some(i) = &s.inline {
                more.push(i);
            }
        }
    }
    for task in t.dag_tasks() {
        add(task.template_ref.as_ref());
        for h in task.hooks.values() {
            add(h.template_ref.as_ref());
        }
        if let Some(i) = &task.inline {
            more.push(i);
        }
    }
    for p in &t.inputs.parameters {
        if let Some(cm) = p
            .value_from
            .as_ref()
            .and_then(|f| f.config_map_key_ref.as_ref())
        {
            refs.insert(LibraryRef::ConfigMap(cm.name.clone()));
        }
    }
    if let Some(c) = t.main_container() {
        for e in &c.env {
            if let Some(cm) = e
                .value_from
                .as_ref()
                .and_then(|f| f.config_map_key_ref.as_ref())
            {
                refs.insert(LibraryRef::ConfigMap(cm.name.clone()));
            }
        }
        for e in &c.env_from {
            if let Some(cm) = &e.config_map_ref {
                refs.insert(LibraryRef::ConfigMap(cm.name.clone()));
            }
        }
    }
}

/// The workflow parameters with their values: `value`, else `default`, else a ConfigMap's.
fn resolve_arguments(
    args: &Arguments,
    library: &Library,
    problems: &mut Vec<Problem>,
) -> Arguments {
    let mut out = Arguments {
        parameters: Vec::new(),
        artifacts: Vec::new(),
    };
    for (i, p) in args.parameters.iter().enumerate() {
        let path = format!("spec.arguments.parameters[{i}]");
        let mut resolved = p.clone();
        let value: Option<String> = match p.value_or_default() {
            Some(v) => Some(v.to_string()),
            None => match p
                .value_from
                .as_ref()
                .and_then(|f| f.config_map_key_ref.as_ref())
            {
                Some(cm) => match library
                    .config_maps
                    .get(&cm.name)
                    .and_then(|d| d.get(&cm.key))
                {
                    Some(v) => Some(v.clone()),
                    None => match p.value_from.as_ref().and_then(|f| f.default.as_ref()) {
                        Some(d) => Some(d.0.clone()),
                        None => {
                            problems.push(Problem::new(
                                format!("{path}.valueFrom.configMapKeyRef"),
                                format!(
                                    "failed to set global parameter {} from configmap with name {} and key {}: not found",
                                    p.name, cm.name, cm.key
                                ),
                            ));
                            continue;
                        }
                    },
                },
                None => {
                    problems.push(Problem::new(
                        path,
                        format!(
                            "parameter `{}` has no value: give it one in the workflow's spec.arguments.parameters",
                            p.name
                        ),
                    ));
                    continue;
                }
            },
        };
        if let Some(v) = &value {
            check_enum(p, v, &format!("{path}.value"), problems);
        }
        resolved.value = value.map(AnyString);
        out.parameters.push(resolved);
    }
    out
}

fn check_enum(p: &Parameter, value: &str, path: &str, problems: &mut Vec<Problem>) {
    if !p.enum_.is_empty() && !p.enum_.iter().any(|e| e.as_str() == value) {
        let allowed: Vec<String> = p
            .enum_
            .iter()
            .map(|e| format!("`{}`", e.as_str()))
            .collect();
        problems.push(Problem::new(
            path,
            format!(
                "value `{value}` of parameter `{}` is not one of the allowed values: {}",
                p.name,
                allowed.join(", ")
            ),
        ));
    }
}

/// Checks every template of the spec, and the library templates it reaches.
fn check_templates(spec: &WorkflowSpec, library: &Library, problems: &mut Vec<Problem>) {
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, t) in spec.templates.iter().enumerate() {
        check_template(
            spec,
            library,
            &Scope::Local,
            t,
            &format!("spec.templates[{i}]"),
            problems,
            &mut seen,
            0,
        );
    }
}

/// Why a container cannot be run for want of a `command`: `None` when it has one, when its
/// image is mapped to a host command, or when its image is only known once the run
/// substitutes it (`{{...}}`; the step is checked when it starts).
fn missing_command(library: &Library, command: &[String], image: Option<&str>) -> Option<String> {
    if !command.is_empty()
        || (!library.image_entrypoints.is_empty() && image.is_some_and(|i| i.contains("{{")))
    {
        return None;
    }
    stepspec::image_entrypoint(library, image).err()
}

#[allow(clippy::too_many_arguments)]
fn check_template(
    own: &WorkflowSpec,
    library: &Library,
    scope: &Scope,
    t: &Template,
    path: &str,
    problems: &mut Vec<Problem>,
    seen: &mut BTreeSet<(String, String)>,
    depth: usize,
) {
    if depth > 50 {
        return;
    }
    let Some(kind) = t.kind() else {
        problems.push(Problem::new(
            path,
            format!(
                "{} has no type: set one of container, script, containerSet, steps, dag or suspend",
                template_label(t.name())
            ),
        ));
        return;
    };
    if !is_supported(kind) {
        problems.push(Problem::new(
            format!("{path}.{}", kind.field()),
            unsupported_message(t.name(), kind),
        ));
        return;
    }
    let refused: [(&str, bool, &str); 5] = [
        (
            "daemon",
            t.is_daemon(),
            "daemon templates (steps left running in the background) are not supported by the local executor",
        ),
        (
            "memoize",
            t.memoize.is_some(),
            "memoization (caching a template's outputs in a ConfigMap) is not supported yet: the step would run every time",
        ),
        (
            "synchronization",
            t.synchronization.is_some(),
            "synchronization (semaphores and mutexes) is not supported yet: runs would not wait for the lock",
        ),
        (
            "inputs.artifacts",
            !t.inputs.artifacts.is_empty(),
            "artifacts need an artifact repository, which Switchyard does not support yet",
        ),
        (
            "outputs.artifacts",
            !t.outputs.artifacts.is_empty(),
            "artifacts need an artifact repository, which Switchyard does not support yet",
        ),
    ];
    for (field, present, reason) in refused {
        if present {
            problems.push(Problem::new(
                format!("{path}.{field}"),
                format!("{}: {reason}", template_label(t.name())),
            ));
        }
    }
    // A pod the node can never take never runs: what it would run does not matter.
    let never_runs = schedule::static_selector(own.template_defaults.as_deref(), t)
        .is_some_and(|s| !schedule::fits(&s, &library.node_labels));
    match kind {
        TemplateKind::Container | TemplateKind::Script if !never_runs => {
            if let Some(c) = t.main_container()
                && let Some(why) = missing_command(library, &c.command, c.image.as_deref())
            {
                problems.push(Problem::new(
                    format!("{path}.{}.command", kind.field()),
                    format!("{}: {why}", template_label(t.name())),
                ));
            }
        }
        TemplateKind::ContainerSet => {
            if let Some(set) = &t.container_set {
                if set.retry_strategy.is_some() {
                    problems.push(Problem::new(
                        format!("{path}.containerSet.retryStrategy"),
                        "retrying containers inside a container set is not supported yet; use the template's retryStrategy",
                    ));
                }
                for (k, c) in set.containers.iter().enumerate().filter(|_| !never_runs) {
                    if let Some(why) = missing_command(library, &c.command, c.image.as_deref()) {
                        problems.push(Problem::new(
                            format!("{path}.containerSet.containers[{k}].command"),
                            format!("container `{}`: {why}", c.name),
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    // Steps and DAG tasks call templates alike: check both through `TemplateCall`.
    let steps = t.step_groups().iter().enumerate().flat_map(|(g, group)| {
        group
            .iter()
            .enumerate()
            .map(move |(s, step)| (format!("{path}.steps[{g}][{s}]"), step as &dyn TemplateCall))
    });
    let tasks = t
        .dag_tasks()
        .iter()
        .enumerate()
        .map(|(k, task)| (format!("{path}.dag.tasks[{k}]"), task as &dyn TemplateCall));
    for (p, call) in steps.chain(tasks) {
        check_reached(
            own,
            library,
            scope,
            call.template_name(),
            call.template_ref(),
            call.inline(),
            &p,
            problems,
            seen,
            depth,
        );
        for (hname, hook) in call.hooks() {
            check_call(
                own,
                library,
                scope,
                hook.template.as_deref(),
                hook.template_ref.as_ref(),
                &format!("{p}.hooks.{hname}"),
                problems,
            );
        }
        if let Some(on_exit) = call.on_exit() {
            check_call(
                own,
                library,
                scope,
                Some(on_exit),
                None,
                &format!("{p}.onExit"),
                problems,
            );
        }
    }
}

/// Checks a call's target exists, and the templates it reaches in the library (once each).
#[allow(clippy::too_many_arguments)]
fn check_reached(
    own: &WorkflowSpec,
    library: &Library,
    scope: &Scope,
    template: Option<&str>,
    template_ref: Option<&TemplateRef>,
    inline: Option<&Template>,
    path: &str,
    problems: &mut Vec<Problem>,
    seen: &mut BTreeSet<(String, String)>,
    depth: usize,
) {
    if let Some(i) = inline {
        check_template(
            own,
            library,
            scope,
            i,
            &format!("{path}.inline"),
            problems,
            seen,
            depth + 1,
        );
        return;
    }
    let call = resolve::Call {
        template: template.map(str::to_string),
        template_ref: template_ref.cloned(),
        inline: None,
    };
    match resolve::resolve(own, library, scope, &call) {
        Err(message) => {
            let field = if template_ref.is_some() {
                "templateRef"
            } else {
                "template"
            };
            problems.push(Problem::new(format!("{path}.{field}"), message));
        }
        Ok((target, t)) => {
            // Templates of the workflow itself are checked on their own; library templates
            // are checked where they are first reached.
            if target != Scope::Local || *scope != Scope::Local {
                let key = (target.encode().unwrap_or_default(), t.name().to_string());
                if seen.insert(key.clone()) {
                    let p = format!(
                        "{path} -> {} `{}` template `{}`",
                        scope_kind(&target),
                        key.0.split('/').nth(1).unwrap_or(""),
                        t.name()
                    );
                    check_template(own, library, &target, &t, &p, problems, seen, depth + 1);
                }
            }
        }
    }
}

fn scope_kind(s: &Scope) -> &'static str {
    match s {
        Scope::Local => "workflow",
        Scope::Namespaced(_) => "WorkflowTemplate",
        Scope::Cluster(_) => "ClusterWorkflowTemplate",
    }
}

fn check_call(
    own: &WorkflowSpec,
    library: &Library,
    scope: &Scope,
    template: Option<&str>,
    template_ref: Option<&TemplateRef>,
    path: &str,
    problems: &mut Vec<Problem>,
) {
    let call = resolve::Call {
        template: template.map(str::to_string),
        template_ref: template_ref.cloned(),
        inline: None,
    };
    if let Err(message) = resolve::resolve(own, library, scope, &call) {
        problems.push(Problem::new(path, message));
    } else if let Ok((_, t)) = resolve::resolve(own, library, scope, &call)
        && let Some(kind) = t.kind().filter(|k| !is_supported(*k))
    {
        problems.push(Problem::new(path, unsupported_message(t.name(), kind)));
    }
}
