//! From a firing to what the shell does: trigger parameters applied, as in Argo Events'
//! `sensors/triggers/params.go` and the trigger kinds' `FetchResource` /
//! `ApplyResourceParameters` / `Execute`.
//!
//! Order, as in Argo's `triggerOne`: the trigger's own `parameters` are applied to the JSON of
//! its `template` (so they can change the URL of an HTTP trigger, or the Workflow itself); then
//! the kind's `parameters` are applied to the object it sends (`argoWorkflow`/`k8s`: the
//! resource; `http`: the HTTP trigger itself), then an HTTP trigger builds its body from
//! `payload` and its `dynamicHeaders`.
//!
//! A parameter's value (Argo's `ResolveParamValue`): when the firing has no event for
//! `src.dependencyName`, `value` if set, else the parameter is skipped (that happens with `||`
//! conditions). Otherwise, with neither a key nor a template, `value`, else the whole event as
//! Argo serializes it. With `dataKey`/`dataTemplate` (these win over the context ones) the
//! payload is the event data (JSON), else the context; the template is tried first (rendered
//! over `{"Input": payload}`; empty output or `<no value>` counts as failure), then the key
//! (GJSON), then `value`; if none gives a value, the firing fails. A key's value is written as a
//! string (objects and arrays as their JSON text), or as the JSON value itself with
//! `useRawData`; `append`/`prepend` concatenate with the string form of what `dest` holds.
//!
//! Only inline objects (`source.resource`) are read: other artifact locations (S3, files, URLs,
//! Git, ConfigMaps, inline text) are refused when the sensor is compiled, so nothing here does
//! I/O. Secrets (HTTP `secureHeaders`, `basicAuth`, TLS) are returned as references for the
//! shell to resolve.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchyard_model::events::{
    ArgoWorkflowOperation, EventTlsConfig, HttpTrigger, K8sTriggerOperation, SecureHeader,
    SensorTrigger, TriggerBasicAuth, TriggerParameter, TriggerParameterOperation,
    TriggerParameterSource, TriggerPolicy, TriggerRateLimit, TriggerRetryBackoff, TriggerTemplate,
};
use switchyard_paths::Operation;

use crate::event::{EventInput, JSON_CONTENT_TYPE, argo_event_json};
use crate::problem::{Problem, Problems, index, key};
use crate::template::Tpl;

/// Label Argo puts on what a trigger creates: the sensor's name.
pub const LABEL_SENSOR: &str = "events.argoproj.io/sensor";
/// Label Argo puts on what a trigger creates: the trigger's name.
pub const LABEL_TRIGGER: &str = "events.argoproj.io/trigger";
/// Label Argo puts on what a trigger creates: when, in Unix milliseconds.
pub const LABEL_ACTION_TIMESTAMP: &str = "events.argoproj.io/action-timestamp";

/// Why a firing could not be turned into an action. The same events always give the same error,
/// so retrying does not help: the shell records it (or runs the `dlqTrigger`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TriggerError {
    /// The field of the Sensor the error is about, such as
    /// `spec.triggers[0].template.argoWorkflow.parameters[2]`.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl TriggerError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        TriggerError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<Problem> for TriggerError {
    fn from(p: Problem) -> Self {
        TriggerError::new(p.path, p.message)
    }
}

/// A trigger ready to be carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedTrigger {
    /// The trigger's name in the Sensor.
    pub trigger: String,
    /// What to do.
    pub action: TriggerAction,
    /// How to do it (retries, rate limit, success policy).
    pub settings: TriggerSettings,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TriggerAction {
    /// An `argoWorkflow` trigger: for `submit`, `resource` is the Workflow to create (labelled
    /// with the sensor, trigger and time as Argo labels it); for `submit-from`, the
    /// `WorkflowTemplate` or `CronWorkflow` to submit from; for the other operations, the
    /// workflow named in `resource.metadata.name`.
    ArgoWorkflow {
        /// `submit` unless the trigger says otherwise.
        operation: ArgoWorkflowOperation,
        /// `metadata.namespace` of the resource, defaulting to the sensor's (also written there).
        namespace: String,
        /// The object, with every parameter applied.
        resource: Value,
    },
    /// A `k8s` trigger: `resource` to create, update, patch or delete. Switchyard starts only
    /// Workflows; the shell refuses other kinds.
    K8s {
        /// `create` unless the trigger says otherwise (labelled as Argo labels it).
        operation: K8sTriggerOperation,
        /// `metadata.namespace` of the resource, defaulting to the sensor's (also written there).
        namespace: String,
        /// The object, with every parameter applied.
        resource: Value,
        /// The patch content type for `patch` (Argo's default `application/merge-patch+json`).
        patch_strategy: String,
        /// For `update`: start from the live object rather than the one given.
        live_object: bool,
    },
    /// An `http` trigger.
    Http(Box<HttpRequest>),
    /// A `log` trigger: log the firing's events (data, dependency name, context), at most once
    /// per `interval`.
    Log {
        /// `intervalSeconds`; zero logs every firing.
        interval: Duration,
    },
}

/// An HTTP request to send. Secrets are references: the shell reads them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// After `http.parameters`.
    pub url: String,
    /// `POST` unless set.
    pub method: String,
    /// The body built from `payload` (JSON), or empty.
    pub payload: Vec<u8>,
    /// `headers`, then `dynamicHeaders` (which win).
    pub headers: BTreeMap<String, String>,
    /// Headers whose values the shell reads from Secrets or ConfigMaps.
    pub secure_headers: Vec<SecureHeader>,
    /// Username and password, as Secret references.
    pub basic_auth: Option<TriggerBasicAuth>,
    /// Client TLS settings, with Secret references.
    pub tls: Option<EventTlsConfig>,
    /// The `Host` header.
    pub host: Option<String>,
    /// `timeout` (60 s unless set).
    pub timeout: Duration,
    /// Statuses that count as success (`policy.status.allow`); `None`: any response does, as in
    /// Argo without a status policy.
    pub allowed_statuses: Option<Vec<i32>>,
}

/// How the shell runs a trigger: the Sensor's settings, unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerSettings {
    /// `retryStrategy`; `None` means one attempt.
    pub retry_strategy: Option<TriggerRetryBackoff>,
    /// Total attempts (1 without a retry strategy, as in Argo).
    pub attempts: u32,
    /// `rateLimit`: at most so many runs per unit of time.
    pub rate_limit: Option<TriggerRateLimit>,
    /// `atLeastOnce`: in Argo, the event is acknowledged only after the trigger ran. Switchyard
    /// records the firing before acting on it in every case.
    pub at_least_once: bool,
    /// `policy`: what counts as success (HTTP statuses, labels of the created object).
    pub policy: Option<TriggerPolicy>,
    /// Whether a `dlqTrigger` is set (resolve it with `CompiledSensor::resolve_dlq`).
    pub has_dlq_trigger: bool,
}

impl TriggerSettings {
    fn of(spec: &SensorTrigger) -> Self {
        TriggerSettings {
            retry_strategy: spec.retry_strategy.clone(),
            attempts: spec.attempts(),
            rate_limit: spec.rate_limit.clone(),
            at_least_once: spec.at_least_once.unwrap_or(false),
            policy: spec.policy.clone(),
            has_dlq_trigger: spec.dlq_trigger.is_some(),
        }
    }
}

/// What the sensor is, for labels and namespaces.
#[derive(Debug, Clone)]
pub(crate) struct SensorMeta {
    pub(crate) namespace: String,
    pub(crate) name: String,
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/// How a parameter list uses `dest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    /// An SJSON path into a document.
    Path,
    /// An SJSON path into the HTTP body; empty means "the value is the whole body".
    Payload,
    /// A header name.
    Header,
}

/// A parameter with its templates parsed.
#[derive(Debug)]
pub(crate) struct CompiledParam {
    path: String,
    src: TriggerParameterSource,
    data_template: Option<Tpl>,
    context_template: Option<Tpl>,
    dest: String,
    operation: Operation,
}

/// A resolved parameter value: its string form, and what `overwrite` writes.
struct ParamValue {
    text: String,
    write: Value,
}

impl ParamValue {
    fn text(text: String) -> Self {
        ParamValue {
            write: Value::String(text.clone()),
            text,
        }
    }
}

fn compile_params(
    params: &[TriggerParameter],
    path: &str,
    deps: &[String],
    dest_rule: Dest,
    problems: &mut Problems,
) -> Vec<CompiledParam> {
    let mut out = Vec::with_capacity(params.len());
    for (i, p) in params.iter().enumerate() {
        let ppath = index(path, i);
        let spath = key(&ppath, "src");
        if !deps.contains(&p.src.dependency_name) {
            problems.error(
                key(&spath, "dependencyName"),
                format!(
                    "`{}` is not a dependency of this sensor",
                    p.src.dependency_name
                ),
            );
        }
        match dest_rule {
            Dest::Path => {
                if let Err(e) = switchyard_paths::parse_set_path(&p.dest) {
                    problems.error(key(&ppath, "dest"), e.to_string());
                }
            }
            Dest::Payload => {
                if !p.dest.is_empty()
                    && let Err(e) = switchyard_paths::parse_set_path(&p.dest)
                {
                    problems.error(key(&ppath, "dest"), e.to_string());
                }
            }
            Dest::Header => {
                if p.dest.trim().is_empty() {
                    problems.error(key(&ppath, "dest"), "must name the header to set");
                }
            }
        }
        for (field, text) in [
            ("dataKey", &p.src.data_key),
            ("contextKey", &p.src.context_key),
        ] {
            if let Some(text) = text
                && let Err(e) = switchyard_paths::check_get_path(text)
            {
                problems.error(key(&spath, field), e.to_string());
            }
        }
        let mut template = |field: &str, text: &Option<String>| {
            let text = text.as_deref().filter(|t| !t.is_empty())?;
            match Tpl::parse(text) {
                Ok(t) => Some(t),
                Err(e) => {
                    problems.error(key(&spath, field), format!("is not a valid template: {e}"));
                    None
                }
            }
        };
        let data_template = template("dataTemplate", &p.src.data_template);
        let context_template = template("contextTemplate", &p.src.context_template);
        out.push(CompiledParam {
            path: ppath,
            src: p.src.clone(),
            data_template,
            context_template,
            dest: p.dest.clone(),
            operation: match p.operation() {
                TriggerParameterOperation::Overwrite => Operation::Overwrite,
                TriggerParameterOperation::Append => Operation::Append,
                TriggerParameterOperation::Prepend => Operation::Prepend,
            },
        });
    }
    out
}

/// Non-empty text of an optional field.
fn set(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.is_empty())
}

impl CompiledParam {
    /// Argo's `ResolveParamValue`; `Ok(None)` means "skip this parameter".
    fn resolve(&self, events: &BTreeMap<String, EventInput>) -> Result<Option<ParamValue>, String> {
        let src = &self.src;
        let default = || src.value.clone().map(ParamValue::text);
        let Some(event) = events.get(&src.dependency_name) else {
            return Ok(default());
        };
        let (key, template, payload) =
            if set(&src.data_key).is_some() || set(&src.data_template).is_some() {
                (set(&src.data_key), &self.data_template, data_payload(event))
            } else if set(&src.context_key).is_some() || set(&src.context_template).is_some() {
                (
                    set(&src.context_key),
                    &self.context_template,
                    Ok(event.context.to_argo_json().to_string()),
                )
            } else {
                return Ok(Some(default().unwrap_or_else(|| {
                    ParamValue::text(argo_event_json(event).to_string())
                })));
            };
        let payload = match payload {
            Ok(p) => p,
            Err(e) => return default().map(Some).ok_or(e),
        };
        if let Some(template) = template
            && let Ok(input) = serde_json::from_str::<Value>(&payload)
            && let Ok(out) = template.render_input(input)
        {
            return Ok(Some(ParamValue::text(out)));
        }
        if let Some(key) = key
            && let Some(found) = switchyard_paths::get(&payload, key)
        {
            let write = found
                .param_value(src.use_raw_data.unwrap_or(false))
                .map_err(|e| e.to_string())?;
            return Ok(Some(ParamValue {
                text: found.argo_string(),
                write,
            }));
        }
        match default() {
            Some(v) => Ok(Some(v)),
            None => Err(format!(
                "unable to resolve '{}' parameter value: {}",
                src.dependency_name,
                match (key, template) {
                    (Some(k), _) => format!("`{k}` is not in the event"),
                    (None, _) => "the template produced nothing".to_owned(),
                }
            )),
        }
    }
}

/// The event data as JSON text, as Argo's `renderEventDataAsJSON` requires it.
fn data_payload(event: &EventInput) -> Result<String, String> {
    match event.context.datacontenttype.as_str() {
        JSON_CONTENT_TYPE => match event.data_text() {
            Some(text) if switchyard_paths::is_valid_json(text) => Ok(text.to_owned()),
            _ => Err("event data is not valid JSON".to_owned()),
        },
        "application/yaml" => Err(
            "event data of content type application/yaml cannot be read by dataKey or dataTemplate: Switchyard's event sources send JSON"
                .to_owned(),
        ),
        other => Err(format!("unsupported event content type: {other}")),
    }
}

/// Argo's `ApplyParams`: each parameter's value written at its `dest` of `doc`.
fn apply_params(
    doc: &mut Value,
    params: &[CompiledParam],
    events: &BTreeMap<String, EventInput>,
) -> Result<(), TriggerError> {
    for p in params {
        let Some(value) = p
            .resolve(events)
            .map_err(|e| TriggerError::new(&p.path, e))?
        else {
            continue;
        };
        switchyard_paths::apply_operation(doc, &p.dest, value.write, p.operation)
            .map_err(|e| TriggerError::new(key(&p.path, "dest"), e.to_string()))?;
    }
    Ok(())
}

/// Argo's `ConstructPayload`: the HTTP body.
fn construct_payload(
    params: &[CompiledParam],
    events: &BTreeMap<String, EventInput>,
) -> Result<Vec<u8>, TriggerError> {
    let mut payload: Option<Value> = None;
    for p in params {
        let Some(value) = p
            .resolve(events)
            .map_err(|e| TriggerError::new(&p.path, e))?
        else {
            continue;
        };
        if p.dest.is_empty() {
            // An empty `dest` makes this value the whole body, and ends the list, as in Argo.
            return Ok(value.text.into_bytes());
        }
        switchyard_paths::set(payload.get_or_insert(Value::Null), &p.dest, value.write)
            .map_err(|e| TriggerError::new(key(&p.path, "dest"), e.to_string()))?;
    }
    Ok(payload
        .map(|p| p.to_string().into_bytes())
        .unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Trigger kinds
// ---------------------------------------------------------------------------------------------

/// A trigger template's kind, compiled.
#[derive(Debug)]
enum Kind {
    ArgoWorkflow {
        operation: ArgoWorkflowOperation,
        resource: Value,
        params: Vec<CompiledParam>,
    },
    K8s {
        operation: K8sTriggerOperation,
        resource: Value,
        params: Vec<CompiledParam>,
        patch_strategy: String,
        live_object: bool,
    },
    Http {
        trigger: Box<HttpTrigger>,
        params: Vec<CompiledParam>,
        payload: Vec<CompiledParam>,
        dynamic_headers: Vec<CompiledParam>,
    },
    Log {
        interval: Duration,
    },
}

/// A trigger (or a `dlqTrigger`) compiled for resolution.
#[derive(Debug)]
pub(crate) struct Action {
    path: String,
    spec: SensorTrigger,
    template_params: Vec<CompiledParam>,
    kind: Option<Kind>,
    deps: Vec<String>,
}

impl Action {
    /// Compiles the trigger at `path` (`spec.triggers[0]`); `deps` are the sensor's dependency
    /// names. Problems are reported; `None` when there were any.
    pub(crate) fn compile(
        spec: &SensorTrigger,
        path: &str,
        deps: &[String],
        problems: &mut Problems,
    ) -> Option<Action> {
        let before = problems.errors.len();
        let template_params = compile_params(
            &spec.parameters,
            &key(path, "parameters"),
            deps,
            Dest::Path,
            problems,
        );
        let kind = compile_kind(&spec.template, &key(path, "template"), deps, problems);
        if let Some(retry) = &spec.retry_strategy
            && let Err(e) = retry.initial_duration()
        {
            problems.error(key(&key(path, "retryStrategy"), "duration"), e);
        }
        if let Some(limit) = &spec.rate_limit
            && limit.requests_per_unit.is_some_and(|n| n <= 0)
        {
            problems.error(
                key(&key(path, "rateLimit"), "requestsPerUnit"),
                "must be a positive number of requests",
            );
        }
        (problems.errors.len() == before).then(|| Action {
            path: path.to_owned(),
            spec: spec.clone(),
            template_params,
            kind,
            deps: deps.to_vec(),
        })
    }

    pub(crate) fn settings(&self) -> TriggerSettings {
        TriggerSettings::of(&self.spec)
    }

    /// Resolves this trigger for `events`.
    pub(crate) fn resolve(
        &self,
        sensor: &SensorMeta,
        events: &BTreeMap<String, EventInput>,
        now: DateTime<Utc>,
    ) -> Result<ResolvedTrigger, TriggerError> {
        let tpath = key(&self.path, "template");
        // The trigger's own parameters rewrite its template; the kind is compiled again only
        // when they changed it.
        let fresh;
        let (template, kind) = if self.template_params.is_empty() {
            (&self.spec.template, self.kind.as_ref())
        } else {
            let mut doc = serde_json::to_value(&self.spec.template)
                .map_err(|e| TriggerError::new(&tpath, e.to_string()))?;
            apply_params(&mut doc, &self.template_params, events)?;
            let template: TriggerTemplate = serde_json::from_value(doc).map_err(|e| {
                TriggerError::new(
                    &tpath,
                    format!("is not a valid trigger template once its parameters are applied: {e}"),
                )
            })?;
            if template == self.spec.template {
                fresh = (template, None);
                (&fresh.0, self.kind.as_ref())
            } else {
                let mut problems = Problems::default();
                let kind = compile_kind(&template, &tpath, &self.deps, &mut problems);
                if let Some(p) = problems.errors.into_iter().next() {
                    return Err(p.into());
                }
                fresh = (template, kind);
                (&fresh.0, fresh.1.as_ref())
            }
        };
        let Some(kind) = kind else {
            return Err(TriggerError::new(
                tpath,
                "the trigger has no kind Switchyard runs (argoWorkflow, k8s, http or log)",
            ));
        };
        let action = match kind {
            Kind::ArgoWorkflow {
                operation,
                resource,
                params,
            } => {
                let mut resource = resource.clone();
                apply_params(&mut resource, params, events)?;
                let rpath = key(&key(&tpath, "argoWorkflow"), "source.resource");
                let namespace = set_namespace(&mut resource, &sensor.namespace, &rpath)?;
                check_workflow_operation(*operation, &resource, &rpath)?;
                if *operation == ArgoWorkflowOperation::Submit {
                    label(&mut resource, sensor, &template.name, now, &rpath)?;
                }
                TriggerAction::ArgoWorkflow {
                    operation: *operation,
                    namespace,
                    resource,
                }
            }
            Kind::K8s {
                operation,
                resource,
                params,
                patch_strategy,
                live_object,
            } => {
                let mut resource = resource.clone();
                apply_params(&mut resource, params, events)?;
                let rpath = key(&key(&tpath, "k8s"), "source.resource");
                let namespace = set_namespace(&mut resource, &sensor.namespace, &rpath)?;
                if *operation == K8sTriggerOperation::Create {
                    label(&mut resource, sensor, &template.name, now, &rpath)?;
                }
                TriggerAction::K8s {
                    operation: *operation,
                    namespace,
                    resource,
                    patch_strategy: patch_strategy.clone(),
                    live_object: *live_object,
                }
            }
            Kind::Http {
                trigger,
                params,
                payload,
                dynamic_headers,
            } => {
                let hpath = key(&tpath, "http");
                TriggerAction::Http(Box::new(self.http(
                    trigger,
                    params,
                    payload,
                    dynamic_headers,
                    events,
                    &hpath,
                )?))
            }
            Kind::Log { interval } => TriggerAction::Log {
                interval: *interval,
            },
        };
        Ok(ResolvedTrigger {
            trigger: self.spec.template.name.clone(),
            action,
            settings: self.settings(),
        })
    }

    fn http(
        &self,
        trigger: &HttpTrigger,
        params: &[CompiledParam],
        payload: &[CompiledParam],
        dynamic_headers: &[CompiledParam],
        events: &BTreeMap<String, EventInput>,
        hpath: &str,
    ) -> Result<HttpRequest, TriggerError> {
        // `http.parameters` rewrite the HTTP trigger itself (its URL, say).
        let fresh;
        let (trigger, payload, dynamic_headers) = if params.is_empty() {
            (trigger, payload, dynamic_headers)
        } else {
            let mut doc = serde_json::to_value(trigger)
                .map_err(|e| TriggerError::new(hpath, e.to_string()))?;
            apply_params(&mut doc, params, events)?;
            let updated: HttpTrigger = serde_json::from_value(doc).map_err(|e| {
                TriggerError::new(
                    hpath,
                    format!("is not a valid HTTP trigger once its parameters are applied: {e}"),
                )
            })?;
            let mut problems = Problems::default();
            let new_payload = if updated.payload == trigger.payload {
                None
            } else {
                Some(compile_params(
                    &updated.payload,
                    &key(hpath, "payload"),
                    &self.deps,
                    Dest::Payload,
                    &mut problems,
                ))
            };
            let new_headers = if updated.dynamic_headers == trigger.dynamic_headers {
                None
            } else {
                Some(compile_params(
                    &updated.dynamic_headers,
                    &key(hpath, "dynamicHeaders"),
                    &self.deps,
                    Dest::Header,
                    &mut problems,
                ))
            };
            if let Some(p) = problems.errors.into_iter().next() {
                return Err(p.into());
            }
            fresh = (updated, new_payload, new_headers);
            (
                &fresh.0,
                fresh.1.as_deref().unwrap_or(payload),
                fresh.2.as_deref().unwrap_or(dynamic_headers),
            )
        };
        let body = construct_payload(payload, events)?;
        let mut headers = trigger.headers.clone();
        for p in dynamic_headers {
            if let Some(value) = p
                .resolve(events)
                .map_err(|e| TriggerError::new(&p.path, e))?
            {
                headers.insert(p.dest.clone(), value.text);
            }
        }
        Ok(HttpRequest {
            url: trigger.url.clone(),
            method: trigger.method().to_owned(),
            payload: body,
            headers,
            secure_headers: trigger.secure_headers.clone(),
            basic_auth: trigger.basic_auth.clone(),
            tls: trigger.tls.clone(),
            host: trigger.host.clone().filter(|h| !h.is_empty()),
            timeout: trigger.timeout(),
            allowed_statuses: self
                .spec
                .policy
                .as_ref()
                .and_then(|p| p.status.as_ref())
                .filter(|s| !s.allow.is_empty())
                .map(|s| s.allow.clone()),
        })
    }
}

/// Compiles the kind of `template` (at `path`, `spec.triggers[0].template`).
fn compile_kind(
    template: &TriggerTemplate,
    path: &str,
    deps: &[String],
    problems: &mut Problems,
) -> Option<Kind> {
    if template.name.is_empty() {
        problems.error(key(path, "name"), "a trigger needs a `name`");
    }
    for (name, value) in template.unsupported_triggers() {
        if value.is_some() {
            problems.error(
                key(path, name),
                format!(
                    "the `{name}` trigger is not supported; Switchyard runs argoWorkflow, k8s, http and log triggers"
                ),
            );
        }
    }
    let types = template.trigger_types();
    if types.is_empty() {
        problems.error(
            path,
            "a trigger needs one of `argoWorkflow`, `k8s`, `http` or `log`",
        );
        return None;
    }
    if types.len() > 1 {
        problems.error(
            path,
            format!(
                "sets {}; a trigger has exactly one kind",
                types
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        return None;
    }
    if let Some(wf) = &template.argo_workflow {
        let wpath = key(path, "argoWorkflow");
        if wf.args.is_some() {
            problems.error(
                key(&wpath, "args"),
                "(arguments for the `argo` command-line tool) is not supported: set the equivalent fields in `source.resource` or use `parameters`",
            );
        }
        let resource = inline_resource(wf.source.as_ref(), &wpath, problems);
        let params = compile_params(
            &wf.parameters,
            &key(&wpath, "parameters"),
            deps,
            Dest::Path,
            problems,
        );
        return Some(Kind::ArgoWorkflow {
            operation: wf.operation(),
            resource: resource?,
            params,
        });
    }
    if let Some(k8s) = &template.k8s {
        let kpath = key(path, "k8s");
        let resource = inline_resource(k8s.source.as_ref(), &kpath, problems);
        let params = compile_params(
            &k8s.parameters,
            &key(&kpath, "parameters"),
            deps,
            Dest::Path,
            problems,
        );
        return Some(Kind::K8s {
            operation: k8s.operation(),
            resource: resource?,
            params,
            patch_strategy: k8s
                .patch_strategy
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "application/merge-patch+json".to_owned()),
            live_object: k8s.live_object.unwrap_or(false),
        });
    }
    if let Some(http) = &template.http {
        let hpath = key(path, "http");
        if http.url.trim().is_empty() {
            problems.error(key(&hpath, "url"), "an HTTP trigger needs a `url`");
        }
        let params = compile_params(
            &http.parameters,
            &key(&hpath, "parameters"),
            deps,
            Dest::Path,
            problems,
        );
        let payload = compile_params(
            &http.payload,
            &key(&hpath, "payload"),
            deps,
            Dest::Payload,
            problems,
        );
        let dynamic_headers = compile_params(
            &http.dynamic_headers,
            &key(&hpath, "dynamicHeaders"),
            deps,
            Dest::Header,
            problems,
        );
        for (i, h) in http.secure_headers.iter().enumerate() {
            let spath = index(&key(&hpath, "secureHeaders"), i);
            if h.name.as_deref().is_none_or(str::is_empty) {
                problems.error(key(&spath, "name"), "a secure header needs a `name`");
            }
            let from = h.value_from.as_ref();
            if from.is_none_or(|f| f.secret_key_ref.is_none() && f.config_map_key_ref.is_none()) {
                problems.error(
                    key(&spath, "valueFrom"),
                    "needs `secretKeyRef` or `configMapKeyRef`",
                );
            }
        }
        return Some(Kind::Http {
            trigger: Box::new(http.clone()),
            params,
            payload,
            dynamic_headers,
        });
    }
    template.log.as_ref().map(|log| Kind::Log {
        interval: log.interval(),
    })
}

/// The object under `source.resource`; every other location is refused.
fn inline_resource(
    source: Option<&switchyard_model::events::TriggerArtifactLocation>,
    path: &str,
    problems: &mut Problems,
) -> Option<Value> {
    let spath = key(path, "source");
    let Some(source) = source else {
        problems.error(
            spath,
            "needs `resource`: the object to create, written inline",
        );
        return None;
    };
    for location in source.locations() {
        if location != "resource" {
            problems.error(
                key(&spath, location),
                format!(
                    "reading the trigger's object from `{location}` is not supported; put the object itself under `source.resource`"
                ),
            );
        }
    }
    match &source.resource {
        Some(Value::Object(map)) => Some(Value::Object(map.clone())),
        Some(_) => {
            problems.error(key(&spath, "resource"), "must be an object");
            None
        }
        None => {
            if source.locations().is_empty() {
                problems.error(
                    spath,
                    "needs `resource`: the object to create, written inline",
                );
            }
            None
        }
    }
}

/// `metadata` of a resource, created when missing.
fn metadata<'a>(
    resource: &'a mut Value,
    path: &str,
) -> Result<&'a mut Map<String, Value>, TriggerError> {
    let Value::Object(object) = resource else {
        return Err(TriggerError::new(path, "the resource is not an object"));
    };
    let meta = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    match meta {
        Value::Object(meta) => Ok(meta),
        _ => Err(TriggerError::new(
            key(path, "metadata"),
            "must be an object",
        )),
    }
}

fn text_field<'a>(meta: &'a Map<String, Value>, name: &str) -> &'a str {
    meta.get(name).and_then(Value::as_str).unwrap_or("")
}

/// The resource's namespace, defaulting to the sensor's (and written there, as Argo does).
fn set_namespace(resource: &mut Value, default: &str, path: &str) -> Result<String, TriggerError> {
    let meta = metadata(resource, path)?;
    let namespace = match text_field(meta, "namespace") {
        "" => default.to_owned(),
        ns => ns.to_owned(),
    };
    meta.insert("namespace".into(), Value::String(namespace.clone()));
    Ok(namespace)
}

/// Argo's checks before running an `argo` command.
fn check_workflow_operation(
    operation: ArgoWorkflowOperation,
    resource: &Value,
    path: &str,
) -> Result<(), TriggerError> {
    let meta = resource.get("metadata").and_then(Value::as_object);
    let field = |name: &str| meta.map_or("", |m| text_field(m, name));
    let name = field("name");
    let op = serde_json::to_value(operation)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    if name.is_empty() {
        if operation != ArgoWorkflowOperation::Submit {
            return Err(TriggerError::new(
                key(path, "metadata.name"),
                format!("failed to execute the workflow {op} operation, no name is given"),
            ));
        }
        if field("generateName").is_empty() {
            return Err(TriggerError::new(
                key(path, "metadata"),
                "failed to trigger the workflow, neither name nor generateName is given",
            ));
        }
    }
    if operation == ArgoWorkflowOperation::SubmitFrom {
        let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
        if !matches!(
            kind.to_ascii_lowercase().as_str(),
            "cronworkflow" | "workflowtemplate"
        ) {
            return Err(TriggerError::new(
                key(path, "kind"),
                format!(
                    "invalid kind {kind}: submit-from takes a WorkflowTemplate or a CronWorkflow"
                ),
            ));
        }
    }
    Ok(())
}

/// Argo's labels on what a trigger creates.
fn label(
    resource: &mut Value,
    sensor: &SensorMeta,
    trigger: &str,
    now: DateTime<Utc>,
    path: &str,
) -> Result<(), TriggerError> {
    let meta = metadata(resource, path)?;
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(labels) = labels else {
        return Err(TriggerError::new(
            key(path, "metadata.labels"),
            "must be an object",
        ));
    };
    labels.insert(LABEL_SENSOR.into(), Value::String(sensor.name.clone()));
    labels.insert(LABEL_TRIGGER.into(), Value::String(trigger.to_owned()));
    labels.insert(
        LABEL_ACTION_TIMESTAMP.into(),
        Value::String(now.timestamp_millis().to_string()),
    );
    Ok(())
}
