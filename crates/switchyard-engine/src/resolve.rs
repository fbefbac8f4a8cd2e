//! Finding templates: by name in the workflow (or in the (Cluster)WorkflowTemplate a template
//! came from), by `templateRef` in the [`Library`], or inline; `templateDefaults`; and merging a
//! workflow over its `workflowTemplateRef` as Argo does.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value as Json;
use switchyard_model::workflow::{
    DagTask, LifecycleHook, Template, TemplateCall, TemplateKind, TemplateRef, WorkflowSpec,
    WorkflowStep,
};

use crate::state::Library;

/// Where a template's own `template: NAME` references are looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The workflow's own templates.
    Local,
    /// A `WorkflowTemplate` of the run's namespace.
    Namespaced(String),
    /// A `ClusterWorkflowTemplate`.
    Cluster(String),
}

impl Scope {
    /// Argo's `templateScope` text: `namespaced/NAME`, `cluster/NAME`; `None` for local.
    pub(crate) fn encode(&self) -> Option<String> {
        match self {
            Scope::Local => None,
            Scope::Namespaced(n) => Some(format!("namespaced/{n}")),
            Scope::Cluster(n) => Some(format!("cluster/{n}")),
        }
    }

    /// The scope [`Scope::encode`] gave this text for (a node's `templateScope`).
    pub(crate) fn decode(text: Option<&str>) -> Scope {
        match text.and_then(|t| t.split_once('/')) {
            Some(("namespaced", n)) => Scope::Namespaced(n.to_string()),
            Some(("cluster", n)) => Scope::Cluster(n.to_string()),
            _ => Scope::Local,
        }
    }
}

/// What a step, task, hook or the entrypoint calls: a template by name, by reference, or
/// inline.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Call {
    pub template: Option<String>,
    pub template_ref: Option<TemplateRef>,
    pub inline: Option<Box<Template>>,
}

impl Call {
    pub(crate) fn named(name: &str) -> Call {
        Call {
            template: Some(name.to_string()),
            ..Call::default()
        }
    }

    pub(crate) fn of_step(step: &WorkflowStep) -> Call {
        Call {
            template: step.template.clone(),
            template_ref: step.template_ref.clone(),
            inline: step.inline.clone(),
        }
    }

    pub(crate) fn of_task(task: &DagTask) -> Call {
        Call {
            template: task.template.clone(),
            template_ref: task.template_ref.clone(),
            inline: task.inline.clone(),
        }
    }

    /// What a step or task calls, through the trait both implement.
    pub(crate) fn of_call(call: &dyn TemplateCall) -> Call {
        Call {
            template: call.template_name().map(str::to_string),
            template_ref: call.template_ref().cloned(),
            inline: call.inline().map(|t| Box::new(t.clone())),
        }
    }

    pub(crate) fn of_hook(hook: &LifecycleHook) -> Call {
        Call {
            template: hook.template.clone(),
            template_ref: hook.template_ref.clone(),
            inline: None,
        }
    }

    /// What names the template this call resolves to, found in `inner_scope` (the scope the
    /// resolution returned): the same key always means the same template, since a run's spec
    /// and library never change. `None` for an inline template, which has no name to go by.
    pub(crate) fn template_key(&self, inner_scope: &Scope) -> Option<(Option<String>, String)> {
        match (&self.inline, &self.template_ref, &self.template) {
            (None, Some(r), _) => {
                Some((inner_scope.encode(), r.template.clone().unwrap_or_default()))
            }
            (None, None, Some(t)) => Some((inner_scope.encode(), t.clone())),
            _ => None,
        }
    }

    /// The template name recorded on the node (`templateName`).
    pub(crate) fn node_template_name(&self) -> Option<String> {
        if self.inline.is_some() || self.template_ref.is_some() {
            return None;
        }
        self.template.clone().filter(|t| !t.is_empty())
    }
}

/// The spec of `scope`: the run's own, or a library entry.
pub(crate) fn spec_of<'a>(
    own: &'a WorkflowSpec,
    library: &'a Library,
    scope: &Scope,
) -> Option<&'a WorkflowSpec> {
    match scope {
        Scope::Local => Some(own),
        Scope::Namespaced(n) => library.workflow_templates.get(n),
        Scope::Cluster(n) => library.cluster_workflow_templates.get(n),
    }
}

/// Resolves `call` from `scope` to a template and the scope its own references use. A
/// template of the spec or the library is borrowed; an inline one is copied.
pub(crate) fn resolve<'a>(
    own: &'a WorkflowSpec,
    library: &'a Library,
    scope: &Scope,
    call: &Call,
) -> Result<(Scope, Cow<'a, Template>), String> {
    if let Some(inline) = &call.inline {
        return Ok((scope.clone(), Cow::Owned((**inline).clone())));
    }
    if let Some(r) = &call.template_ref {
        let name = r.name.as_deref().unwrap_or("");
        let template = r.template.as_deref().unwrap_or("");
        let (target, kind) = if r.is_cluster_scope() {
            (Scope::Cluster(name.to_string()), "ClusterWorkflowTemplate")
        } else {
            (Scope::Namespaced(name.to_string()), "WorkflowTemplate")
        };
        let spec =
            spec_of(own, library, &target).ok_or_else(|| format!("{kind} `{name}` not found"))?;
        let t = spec
            .template(template)
            .ok_or_else(|| format!("template `{template}` not found in {kind} `{name}`"))?;
        return Ok((target, Cow::Borrowed(t)));
    }
    let name = call.template.as_deref().unwrap_or("");
    if name.is_empty() {
        return Err("no template given (set `template`, `templateRef` or `inline`)".into());
    }
    let spec = spec_of(own, library, scope).ok_or_else(|| match scope {
        Scope::Namespaced(n) => format!("WorkflowTemplate `{n}` not found"),
        Scope::Cluster(n) => format!("ClusterWorkflowTemplate `{n}` not found"),
        Scope::Local => "workflow spec not found".to_string(),
    })?;
    let t = spec
        .template(name)
        .ok_or_else(|| format!("template `{name}` not found"))?;
    Ok((scope.clone(), Cow::Borrowed(t)))
}

/// Applies `templateDefaults` (Argo's `mergedTemplateDefaultsInto`): the template's own fields
/// win; maps merge key by key; lists are replaced; template-type fields of the defaults apply
/// only to templates of that type. Without defaults the template is returned as it is.
pub(crate) fn apply_defaults<'a>(
    defaults: Option<&Template>,
    template: Cow<'a, Template>,
) -> Cow<'a, Template> {
    let Some(defaults) = defaults else {
        return template;
    };
    let kind = template.kind();
    let Ok(mut base) = serde_json::to_value(defaults) else {
        return Cow::Owned(template.into_owned());
    };
    if let Json::Object(map) = &mut base {
        for k in TemplateKind::ALL {
            if Some(*k) != kind {
                map.remove(k.field());
            }
        }
        map.remove("name");
    }
    let Ok(overlay) = serde_json::to_value(&*template) else {
        return Cow::Owned(template.into_owned());
    };
    merge_json(&mut base, overlay);
    Cow::Owned(serde_json::from_value(base).unwrap_or_else(|_| template.into_owned()))
}

/// Whether a string anywhere in `value` (as JSON) holds a `{{...}}` tag, that is `{{`: in JSON
/// text two braces in a row can only come from inside a string, since an object's first
/// member is a quoted key. Nothing is allocated.
pub(crate) fn has_tags<T: Serialize + ?Sized>(value: &T) -> bool {
    let mut scan = TagScan::default();
    // Writing to `TagScan` never fails; an error from the value's own `Serialize` would
    // stop the scan early, so it counts as a tag (the caller then substitutes as before).
    serde_json::to_writer(&mut scan, value).is_err() || scan.found
}

/// An [`std::io::Write`] that only looks for `{{`.
#[derive(Default)]
struct TagScan {
    last_was_brace: bool,
    found: bool,
}

impl std::io::Write for TagScan {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.found {
            for &b in buf {
                if b == b'{' && self.last_was_brace {
                    self.found = true;
                    break;
                }
                self.last_was_brace = b == b'{';
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Deep merge: objects key by key (overlay wins), anything else replaced.
pub(crate) fn merge_json(base: &mut Json, overlay: Json) {
    match (base, overlay) {
        (Json::Object(b), Json::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge_json(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Merges a workflow's spec over the spec of its `workflowTemplateRef` (Argo's
/// `JoinWorkflowSpec`): the workflow's fields win; templates are merged by name (the
/// workflow's replace the template's); argument parameters are merged by name (the workflow's
/// values win, the template's others are kept, in order).
pub(crate) fn join_specs(workflow: &WorkflowSpec, template: &WorkflowSpec) -> WorkflowSpec {
    let mut merged_templates = template.templates.clone();
    for t in &workflow.templates {
        match merged_templates.iter_mut().find(|m| m.name() == t.name()) {
            Some(existing) => *existing = t.clone(),
            None => merged_templates.push(t.clone()),
        }
    }
    let mut params = template.arguments.parameters.clone();
    for p in &workflow.arguments.parameters {
        match params.iter_mut().find(|m| m.name == p.name) {
            Some(existing) => {
                if p.value.is_some() {
                    existing.value = p.value.clone();
                }
                if p.value_from.is_some() {
                    existing.value_from = p.value_from.clone();
                }
            }
            None => params.push(p.clone()),
        }
    }
    let (Ok(mut base), Ok(mut overlay)) = (
        serde_json::to_value(template),
        serde_json::to_value(workflow),
    ) else {
        return workflow.clone();
    };
    if let Json::Object(o) = &mut overlay {
        o.remove("templates");
        o.remove("arguments");
        o.remove("workflowTemplateRef");
    }
    merge_json(&mut base, overlay);
    let mut spec: WorkflowSpec = serde_json::from_value(base).unwrap_or_else(|_| workflow.clone());
    spec.templates = merged_templates;
    spec.arguments.parameters = params;
    spec.arguments.artifacts = workflow.arguments.artifacts.clone();
    spec.workflow_template_ref = workflow.workflow_template_ref.clone();
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Json) -> WorkflowSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn workflow_fields_win_over_the_template() {
        let wft = spec(json!({
            "entrypoint": "main",
            "parallelism": 3,
            "arguments": {"parameters": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]},
            "templates": [{"name": "main", "container": {"image": "x"}}, {"name": "other", "suspend": {}}]
        }));
        let wf = spec(json!({
            "workflowTemplateRef": {"name": "lib"},
            "parallelism": 1,
            "arguments": {"parameters": [{"name": "b", "value": "20"}, {"name": "c", "value": "3"}]},
            "templates": [{"name": "other", "container": {"image": "y"}}]
        }));
        let joined = join_specs(&wf, &wft);
        assert_eq!(joined.entrypoint.as_deref(), Some("main"));
        assert_eq!(joined.parallelism, Some(1));
        let params: Vec<(String, String)> = joined
            .arguments
            .parameters
            .iter()
            .map(|p| (p.name.clone(), p.value.as_ref().unwrap().0.clone()))
            .collect();
        assert_eq!(
            params,
            [("a", "1"), ("b", "20"), ("c", "3")].map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(
            joined.template("other").unwrap().kind(),
            Some(TemplateKind::Container)
        );
        assert_eq!(joined.templates.len(), 2);
    }

    #[test]
    fn defaults_fill_what_the_template_leaves_out() {
        let defaults: Template = serde_json::from_value(json!({
            "timeout": "1m",
            "retryStrategy": {"limit": 2},
            "container": {"env": [{"name": "D", "value": "1"}], "image": "default"},
            "suspend": {"duration": "5"}
        }))
        .unwrap();
        let t: Template = serde_json::from_value(json!({
            "name": "t", "timeout": "5m", "container": {"image": "alpine", "command": ["true"]}
        }))
        .unwrap();
        let merged = apply_defaults(Some(&defaults), Cow::Borrowed(&t)).into_owned();
        assert_eq!(merged.timeout.as_deref(), Some("5m"));
        assert_eq!(merged.name(), "t");
        assert!(merged.retry_strategy.is_some());
        assert!(merged.suspend.is_none());
        let c = merged.container.unwrap();
        assert_eq!(c.image.as_deref(), Some("alpine"));
        assert_eq!(c.env.len(), 1);
    }

    #[test]
    fn scopes_encode_like_argo() {
        assert_eq!(Scope::Local.encode(), None);
        assert_eq!(
            Scope::Namespaced("a".into()).encode().as_deref(),
            Some("namespaced/a")
        );
        assert_eq!(
            Scope::Cluster("b".into()).encode().as_deref(),
            Some("cluster/b")
        );
    }
}
