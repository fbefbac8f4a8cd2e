//! Argo Workflows kinds: `Workflow`, `WorkflowTemplate`, `ClusterWorkflowTemplate`, `CronWorkflow`.
//!
//! The types follow Argo's `pkg/apis/workflow/v1alpha1` (v3.5 to v4.x) field for field, with
//! Argo's wire names, so that every field of a valid Argo manifest is known here. What a field
//! means for Switchyard is decided in [`policy`]: fields of features the local executor does not
//! run (artifacts, resource/HTTP/data/plugin templates, synchronization, memoization, metrics,
//! daemons, volume claims) are errors that say why; Kubernetes-only fields that have no effect on
//! one machine are warnings that say so. Such fields are kept opaque (`serde_json::Value`).
//!
//! Argo's "one of" shapes (a template's type, a step's template reference, a loop's source) are
//! structs of optional fields, as on the wire; helpers such as [`Template::kind`],
//! [`TemplateCall::target`] and [`TemplateCall::expansion`] read them, and the validator checks
//! that exactly one is set.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

use crate::core::{ConfigMapKeySelector, SecretKeySelector};
use crate::meta::ObjectMeta;
use crate::policy::FieldPolicy;
use crate::value::IntOrString;

type Json = serde_json::Value;
type StringMap = BTreeMap<String, String>;

// ---------------------------------------------------------------------------------------------
// Kinds
// ---------------------------------------------------------------------------------------------

/// `kind: Workflow`: one run of a workflow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: WorkflowSpec,
    /// Written by the engine; never read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Json>,
}

/// `kind: WorkflowTemplate`: a namespaced library of templates and a workflow spec to submit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowTemplate {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: WorkflowSpec,
}

/// `kind: ClusterWorkflowTemplate`: a [`WorkflowTemplate`] visible from every namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterWorkflowTemplate {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: WorkflowSpec,
}

/// `kind: CronWorkflow`: submits a workflow on a schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronWorkflow {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: CronWorkflowSpec,
    /// Written by the scheduler; never read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Json>,
}

// ---------------------------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------------------------

/// The spec of a `Workflow`, `WorkflowTemplate` and `ClusterWorkflowTemplate`
/// (Argo's `WorkflowSpec`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<Template>,
    /// The template the workflow starts with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    /// Workflow parameters, visible to templates as `{{workflow.parameters.NAME}}`.
    #[serde(default, skip_serializing_if = "Arguments::is_empty")]
    pub arguments: Arguments,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_claim_templates: Option<Json>,
    /// How many leaf steps of this workflow may run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_repository_ref: Option<Json>,
    /// Suspends the whole workflow: no further steps start until it is resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: StringMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_network: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_config: Option<Json>,
    /// Deprecated exit handler: the template run when the workflow ends, whatever its result.
    /// Same as `hooks.exit.template`; wins over it when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_strategy: Option<TtlStrategy>,
    /// Seconds the workflow may run before it is failed (plain integer at workflow level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "podGC")]
    pub pod_gc: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_priority_class_name: Option<String>,
    /// Removed in Argo v3.6 (use `podPriorityClassName`); still accepted from v3.5 manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_priority: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_aliases: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_spec_patch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Json>,
    /// Set on a running workflow to stop it: `Terminate` (no exit handlers) or `Stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<ShutdownStrategy>,
    /// Takes the spec from a `WorkflowTemplate` (or `ClusterWorkflowTemplate`); fields set
    /// here override it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_template_ref: Option<WorkflowTemplateRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchronization: Option<Json>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "volumeClaimGC"
    )]
    pub volume_claim_gc: Option<Json>,
    /// The retry strategy of every template that has none of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<RetryStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_metadata: Option<Json>,
    /// Default values for every template's fields, overridden by the template's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_defaults: Option<Box<Template>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_logs: Option<bool>,
    /// Workflow-level lifecycle hooks: `exit` runs when the workflow ends; any other name
    /// runs its template when its `expression` first becomes true.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hooks: LifecycleHooks,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_metadata: Option<Json>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "artifactGC"
    )]
    pub artifact_gc: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_plugins: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_resources: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_claims: Option<Json>,
}

impl WorkflowSpec {
    /// The template named `name`, defined in this spec.
    pub fn template(&self, name: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.name() == name)
    }

    /// The workflow's exit handler: `onExit` (with the workflow's arguments) or `hooks.exit`.
    pub fn exit_hook(&self) -> Option<LifecycleHook> {
        exit_hook(self.on_exit.as_deref(), &self.hooks, &self.arguments)
    }

    /// Whether `suspend: true` is set.
    pub fn is_suspended(&self) -> bool {
        self.suspend == Some(true)
    }
}

/// `ttlStrategy`: how long a finished workflow is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TtlStrategy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_after_completion: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_after_success: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_after_failure: Option<i32>,
}

/// `shutdown`: how a running workflow is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShutdownStrategy {
    /// Stop at once; exit handlers do not run.
    Terminate,
    /// Stop at once; exit handlers still run.
    Stop,
}

/// The spec of a `CronWorkflow`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronWorkflowSpec {
    /// The spec of every workflow this submits.
    #[serde(default)]
    pub workflow_spec: WorkflowSpec,
    /// A cron schedule (Argo v3.5; deprecated in v3.6 for `schedules`, removed in v4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Cron schedules (Argo v3.6+); a run starts at each time any of them names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<String>,
    /// What happens when a run is due while the previous one still runs (default `Allow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_policy: Option<ConcurrencyPolicy>,
    /// Stops new runs from being scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// How late a missed run may still start, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    /// How many succeeded workflows to keep (Argo's default is 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_jobs_history_limit: Option<i32>,
    /// How many failed workflows to keep (Argo's default is 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_jobs_history_limit: Option<i32>,
    /// IANA time zone of the schedules, e.g. `Europe/Paris`; default the machine's local time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Labels and annotations copied onto every workflow this submits (as in Argo, its other
    /// metadata, such as a name, is not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_metadata: Option<ObjectMeta>,
    /// Stops scheduling for good once its expression is true (Argo v3.6+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_strategy: Option<StopStrategy>,
    /// A run is only submitted when this expression is true (Argo v3.6+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

impl CronWorkflowSpec {
    /// Every schedule: the v3.5 `schedule` first, then `schedules`.
    pub fn all_schedules(&self) -> Vec<&str> {
        self.schedule
            .iter()
            .chain(&self.schedules)
            .map(String::as_str)
            .collect()
    }
}

/// `concurrencyPolicy` of a `CronWorkflow`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConcurrencyPolicy {
    /// Runs may overlap.
    #[default]
    Allow,
    /// A due run is skipped while the previous one still runs.
    Forbid,
    /// The previous run is stopped and the due run starts.
    Replace,
}

/// `stopStrategy` of a `CronWorkflow`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopStrategy {
    /// Uses `cronworkflow.failed` and `cronworkflow.succeeded`, e.g. `cronworkflow.failed >= 3`.
    pub expression: String,
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

/// A template: a unit of work (container, script, ...) or an orchestration of other templates
/// (steps, DAG). Exactly one of the template types should be set; see [`Template::kind`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Inputs::is_empty")]
    pub inputs: Inputs,
    #[serde(default, skip_serializing_if = "Outputs::is_empty")]
    pub outputs: Outputs,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: StringMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Json>,
    /// Labels and annotations of the template's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<bool>,
    /// Groups of steps: the groups run one after another, the steps of a group in parallel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<ParallelSteps>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_set: Option<ContainerSetTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<ScriptTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dag: Option<DagTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<SuspendTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpTemplate>,
    /// An executor plugin call: one key, the plugin's name, with the plugin's own settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Json>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<UserContainer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<UserContainer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_location: Option<Json>,
    /// Seconds the template may run before it is failed: `30` or `"30"` or `"{{...}}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<RetryStrategy>,
    /// How many children of a steps or DAG template may run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i64>,
    /// Fail the template as soon as one of its children (e.g. of a `withItems` loop) fails,
    /// instead of waiting for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_fast: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Removed in Argo v3.6; still accepted from v3.5 manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_aliases: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_spec_patch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchronization: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memoize: Option<Json>,
    /// Total time the node may take, e.g. `"10m"`; leaf templates only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: StringMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_resources: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_claims: Option<Json>,
}

/// One group of steps that run in parallel: a YAML list inside the `steps` list.
pub type ParallelSteps = Vec<WorkflowStep>;

/// Which template type a [`Template`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TemplateKind {
    Container,
    ContainerSet,
    Steps,
    Dag,
    Script,
    Resource,
    Data,
    Suspend,
    Http,
    Plugin,
}

impl TemplateKind {
    /// Every kind, in the order Argo picks one when several are set.
    pub const ALL: &'static [TemplateKind] = &[
        TemplateKind::Container,
        TemplateKind::ContainerSet,
        TemplateKind::Steps,
        TemplateKind::Dag,
        TemplateKind::Script,
        TemplateKind::Resource,
        TemplateKind::Data,
        TemplateKind::Suspend,
        TemplateKind::Http,
        TemplateKind::Plugin,
    ];

    /// The template field that selects this kind, e.g. `containerSet`.
    pub fn field(self) -> &'static str {
        match self {
            TemplateKind::Container => "container",
            TemplateKind::ContainerSet => "containerSet",
            TemplateKind::Steps => "steps",
            TemplateKind::Dag => "dag",
            TemplateKind::Script => "script",
            TemplateKind::Resource => "resource",
            TemplateKind::Data => "data",
            TemplateKind::Suspend => "suspend",
            TemplateKind::Http => "http",
            TemplateKind::Plugin => "plugin",
        }
    }

    /// Leaf templates do work themselves; steps, DAG and suspend templates do not.
    pub fn is_leaf(self) -> bool {
        !matches!(
            self,
            TemplateKind::Steps | TemplateKind::Dag | TemplateKind::Suspend
        )
    }

    /// Whether the template runs processes of its own: container, container set or script.
    pub fn runs_process(self) -> bool {
        matches!(
            self,
            TemplateKind::Container | TemplateKind::ContainerSet | TemplateKind::Script
        )
    }
}

impl fmt::Display for TemplateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.field())
    }
}

impl Template {
    /// The template's name, empty when it has none (inline templates, `templateDefaults`).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// The template's type, picked in Argo's order when several are set; `None` when none is.
    pub fn kind(&self) -> Option<TemplateKind> {
        self.kinds().into_iter().next()
    }

    /// Every template type that is set, in Argo's order. A valid template has exactly one.
    pub fn kinds(&self) -> Vec<TemplateKind> {
        TemplateKind::ALL
            .iter()
            .copied()
            .filter(|k| self.has_kind(*k))
            .collect()
    }

    fn has_kind(&self, kind: TemplateKind) -> bool {
        match kind {
            TemplateKind::Container => self.container.is_some(),
            TemplateKind::ContainerSet => self.container_set.is_some(),
            TemplateKind::Steps => self.steps.is_some(),
            TemplateKind::Dag => self.dag.is_some(),
            TemplateKind::Script => self.script.is_some(),
            TemplateKind::Resource => self.resource.is_some(),
            TemplateKind::Data => self.data.is_some(),
            TemplateKind::Suspend => self.suspend.is_some(),
            TemplateKind::Http => self.http.is_some(),
            TemplateKind::Plugin => self.plugin.is_some(),
        }
    }

    /// The step groups of a steps template (empty for other kinds).
    pub fn step_groups(&self) -> &[ParallelSteps] {
        self.steps.as_deref().unwrap_or(&[])
    }

    /// The tasks of a DAG template (empty for other kinds).
    pub fn dag_tasks(&self) -> &[DagTask] {
        self.dag.as_ref().map_or(&[], |d| d.tasks.as_slice())
    }

    /// The main container of a container or script template, as a plain [`Container`].
    pub fn main_container(&self) -> Option<Container> {
        match (&self.container, &self.script) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(s)) => Some(s.to_container()),
            (None, None) => None,
        }
    }

    /// Whether `daemon: true` is set.
    pub fn is_daemon(&self) -> bool {
        self.daemon == Some(true)
    }
}

/// `inputs` of a template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
}

impl Inputs {
    pub fn is_empty(&self) -> bool {
        self.parameters.is_empty() && self.artifacts.is_empty()
    }

    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        find_parameter(&self.parameters, name)
    }
}

/// `outputs` of a template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    /// Standard output of a script (or container) step; set by the executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Exit code of the main process; set by the executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<String>,
}

impl Outputs {
    pub fn is_empty(&self) -> bool {
        self.parameters.is_empty()
            && self.artifacts.is_empty()
            && self.result.is_none()
            && self.exit_code.is_none()
    }

    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        find_parameter(&self.parameters, name)
    }
}

/// `arguments` of a workflow, step, task or hook.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arguments {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
}

impl Arguments {
    pub fn is_empty(&self) -> bool {
        self.parameters.is_empty() && self.artifacts.is_empty()
    }

    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        find_parameter(&self.parameters, name)
    }
}

fn find_parameter<'a>(parameters: &'a [Parameter], name: &str) -> Option<&'a Parameter> {
    parameters.iter().find(|p| p.name == name)
}

/// A parameter of inputs, outputs or arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    pub name: String,
    /// Used when no value is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<AnyString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<AnyString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueFrom>,
    /// Also publish an output parameter as `{{workflow.outputs.parameters.GLOBAL}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_name: Option<String>,
    /// The values this parameter may take.
    #[serde(default, rename = "enum", skip_serializing_if = "Vec::is_empty")]
    pub enum_: Vec<AnyString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<AnyString>,
}

impl Parameter {
    /// `value`, else `default`, as Argo's `GetValue` (without `valueFrom`).
    pub fn value_or_default(&self) -> Option<&str> {
        self.value
            .as_ref()
            .or(self.default.as_ref())
            .map(AnyString::as_str)
    }
}

/// `valueFrom` of a parameter: where its value comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueFrom {
    /// Output parameters of container and script templates: a file the step wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Output parameters of resource templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    /// Output parameters of resource templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jq_filter: Option<String>,
    /// Workflow arguments submitted by a `WorkflowEventBinding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Output parameters of steps and DAG templates: a child's output, e.g.
    /// `{{steps.generate.outputs.parameters.x}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// Suspend template inputs: the value is supplied when the workflow is resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplied: Option<SuppliedValueFrom>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<ConfigMapKeySelector>,
    /// Used when the value cannot be obtained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<AnyString>,
    /// Output parameters of steps and DAG templates: an expression over the children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// `supplied: {}`: a placeholder with no fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppliedValueFrom {}

/// An input, output or argument artifact. Artifacts need an artifact repository, which is not
/// supported yet, so everything but the name and path is kept opaque; the fields are listed so
/// that a valid artifact produces no unknown-field warnings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_logs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifactory: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdfs: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oss: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurse_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_expression: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "artifactGC"
    )]
    pub artifact_gc: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Steps, DAGs and the calls they make
// ---------------------------------------------------------------------------------------------

/// One step of a steps template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<Box<Template>>,
    #[serde(default, skip_serializing_if = "Arguments::is_empty")]
    pub arguments: Arguments,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ref: Option<TemplateRef>,
    /// Runs the step once per item; items are any JSON (scalars, lists, maps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with_items: Vec<Json>,
    /// Runs the step once per element of a JSON list given as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_sequence: Option<Sequence>,
    /// Runs the step only when this condition is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_on: Option<ContinueOn>,
    /// Deprecated: use `hooks.exit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exit: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hooks: LifecycleHooks,
}

/// `dag` of a template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DagTemplate {
    /// Space-separated names of the tasks to run (with their dependencies); default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub tasks: Vec<DagTask>,
    /// Stop scheduling new tasks once one has failed (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_fast: Option<bool>,
}

impl DagTemplate {
    pub fn task(&self, name: &str) -> Option<&DagTask> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

/// One task of a DAG template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DagTask {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<Box<Template>>,
    #[serde(default, skip_serializing_if = "Arguments::is_empty")]
    pub arguments: Arguments,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ref: Option<TemplateRef>,
    /// Names of the tasks that must succeed first (the older form of `depends`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with_items: Vec<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_sequence: Option<Sequence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_on: Option<ContinueOn>,
    /// Deprecated: use `hooks.exit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exit: Option<String>,
    /// A boolean expression over other tasks' results, e.g. `a.Succeeded && (b || c.Failed)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hooks: LifecycleHooks,
}

/// `templateRef`: a template of a `WorkflowTemplate` or `ClusterWorkflowTemplate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRef {
    /// The name of the `WorkflowTemplate` (or `ClusterWorkflowTemplate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The name of the template inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Refers to a `ClusterWorkflowTemplate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_scope: Option<bool>,
}

impl TemplateRef {
    pub fn is_cluster_scope(&self) -> bool {
        self.cluster_scope == Some(true)
    }
}

/// `workflowTemplateRef`: a whole `WorkflowTemplate` (or `ClusterWorkflowTemplate`) to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowTemplateRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_scope: Option<bool>,
}

impl WorkflowTemplateRef {
    pub fn is_cluster_scope(&self) -> bool {
        self.cluster_scope == Some(true)
    }
}

/// Lifecycle hooks by event name; `exit` is the exit handler.
pub type LifecycleHooks = BTreeMap<String, LifecycleHook>;

/// The hook name that runs when its node (or the workflow) ends.
pub const EXIT_HOOK: &str = "exit";

/// A lifecycle hook: a template to run on exit, or when `expression` becomes true.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleHook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default, skip_serializing_if = "Arguments::is_empty")]
    pub arguments: Arguments,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ref: Option<TemplateRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// Argo's exit-hook rule: `onExit` wins and gets `args`; otherwise `hooks.exit`, which gets
/// `args` only when it has no arguments of its own.
fn exit_hook(
    on_exit: Option<&str>,
    hooks: &LifecycleHooks,
    args: &Arguments,
) -> Option<LifecycleHook> {
    if let Some(template) = on_exit.filter(|t| !t.is_empty()) {
        return Some(LifecycleHook {
            template: Some(template.to_owned()),
            arguments: args.clone(),
            ..LifecycleHook::default()
        });
    }
    let mut hook = hooks.get(EXIT_HOOK)?.clone();
    if hook.arguments.is_empty() {
        hook.arguments = args.clone();
    }
    Some(hook)
}

/// `withSequence`: a numeric loop. Each bound may be a number or a `{{...}}` string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sequence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<IntOrString>,
    /// Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<IntOrString>,
    /// A printf-style format for each number, e.g. `"2020-05-%02X"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// `continueOn`: carry on with the following steps even if this one errors or fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContinueOn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<bool>,
}

/// What a step or task runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TemplateTarget<'a> {
    /// `template: NAME`: a template of the same workflow.
    Name(&'a str),
    /// `templateRef`: a template of a `WorkflowTemplate` or `ClusterWorkflowTemplate`.
    Ref(&'a TemplateRef),
    /// `inline`: a template written in place.
    Inline(&'a Template),
}

/// How a step or task is repeated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expansion<'a> {
    Items(&'a [Json]),
    Param(&'a str),
    Sequence(&'a Sequence),
}

/// What steps ([`WorkflowStep`]) and DAG tasks ([`DagTask`]) have in common: both call a
/// template, perhaps in a loop, perhaps conditionally. Lets the engine and the validator treat
/// them alike.
pub trait TemplateCall {
    /// The step's or task's name (empty when a step has none).
    fn call_name(&self) -> &str;
    fn template_name(&self) -> Option<&str>;
    fn template_ref(&self) -> Option<&TemplateRef>;
    fn inline(&self) -> Option<&Template>;
    fn arguments(&self) -> &Arguments;
    fn with_items(&self) -> &[Json];
    fn with_param(&self) -> Option<&str>;
    fn with_sequence(&self) -> Option<&Sequence>;
    fn when(&self) -> Option<&str>;
    fn continue_on(&self) -> ContinueOn;
    fn on_exit(&self) -> Option<&str>;
    fn hooks(&self) -> &LifecycleHooks;

    /// Every template target that is set (`templateRef`, `inline`, `template`). A valid call
    /// has exactly one.
    fn targets(&self) -> Vec<TemplateTarget<'_>> {
        let mut out = Vec::new();
        if let Some(r) = self.template_ref() {
            out.push(TemplateTarget::Ref(r));
        }
        if let Some(t) = self.inline() {
            out.push(TemplateTarget::Inline(t));
        }
        if let Some(n) = self.template_name().filter(|n| !n.is_empty()) {
            out.push(TemplateTarget::Name(n));
        }
        out
    }

    /// The template this calls, in Argo's order of precedence when several are set.
    fn target(&self) -> Option<TemplateTarget<'_>> {
        self.targets().into_iter().next()
    }

    /// Every loop source that is set (`withItems`, `withParam`, `withSequence`). A valid call
    /// has at most one.
    fn expansions(&self) -> Vec<Expansion<'_>> {
        let mut out = Vec::new();
        if !self.with_items().is_empty() {
            out.push(Expansion::Items(self.with_items()));
        }
        if let Some(p) = self.with_param().filter(|p| !p.is_empty()) {
            out.push(Expansion::Param(p));
        }
        if let Some(s) = self.with_sequence() {
            out.push(Expansion::Sequence(s));
        }
        out
    }

    /// How the call is repeated, if it is.
    fn expansion(&self) -> Option<Expansion<'_>> {
        self.expansions().into_iter().next()
    }

    /// The exit handler of this call (`onExit` or `hooks.exit`), with `args` as Argo passes
    /// them.
    fn exit_hook(&self, args: &Arguments) -> Option<LifecycleHook> {
        exit_hook(self.on_exit(), self.hooks(), args)
    }

    /// Hooks other than `exit`: run when their expression becomes true.
    fn expression_hooks(&self) -> Vec<(&str, &LifecycleHook)> {
        self.hooks()
            .iter()
            .filter(|(name, _)| name.as_str() != EXIT_HOOK)
            .map(|(name, hook)| (name.as_str(), hook))
            .collect()
    }
}

macro_rules! impl_template_call {
    ($ty:ty, |$s:ident| $name:expr) => {
        impl TemplateCall for $ty {
            fn call_name(&self) -> &str {
                let $s = self;
                $name
            }
            fn template_name(&self) -> Option<&str> {
                self.template.as_deref()
            }
            fn template_ref(&self) -> Option<&TemplateRef> {
                self.template_ref.as_ref()
            }
            fn inline(&self) -> Option<&Template> {
                self.inline.as_deref()
            }
            fn arguments(&self) -> &Arguments {
                &self.arguments
            }
            fn with_items(&self) -> &[Json] {
                &self.with_items
            }
            fn with_param(&self) -> Option<&str> {
                self.with_param.as_deref()
            }
            fn with_sequence(&self) -> Option<&Sequence> {
                self.with_sequence.as_ref()
            }
            fn when(&self) -> Option<&str> {
                self.when.as_deref()
            }
            fn continue_on(&self) -> ContinueOn {
                self.continue_on.unwrap_or_default()
            }
            fn on_exit(&self) -> Option<&str> {
                self.on_exit.as_deref()
            }
            fn hooks(&self) -> &LifecycleHooks {
                &self.hooks
            }
        }
    };
}

impl_template_call!(WorkflowStep, |s| s.name.as_deref().unwrap_or(""));
impl_template_call!(DagTask, |s| s.name.as_str());

impl DagTask {
    /// Whether the task says what it waits for with `depends` (rather than `dependencies`).
    pub fn uses_depends(&self) -> bool {
        self.depends
            .as_deref()
            .is_some_and(|d| !d.trim().is_empty())
    }
}

// ---------------------------------------------------------------------------------------------
// Retries, suspend
// ---------------------------------------------------------------------------------------------

/// `retryStrategy` of a template (or of the whole workflow).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    /// Retries after the first attempt: `3`, `"3"` or `"{{...}}"`. Unset means no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<RetryBackoff>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Json>,
    /// Retry only when this expression is true (it sees `lastRetry.exitCode`, `.status`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

impl RetryStrategy {
    /// The policy in effect, as Argo decides it: the one given; else `Always` when an
    /// expression is given (the expression alone decides); else `OnFailure`.
    pub fn effective_policy(&self) -> RetryPolicy {
        match (self.retry_policy, &self.expression) {
            (Some(p), _) => p,
            (None, Some(e)) if !e.is_empty() => RetryPolicy::Always,
            _ => RetryPolicy::OnFailure,
        }
    }
}

/// `retryPolicy`: which outcomes are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RetryPolicy {
    /// Failures and errors.
    Always,
    /// Failures (non-zero exit) only.
    OnFailure,
    /// Errors (the executor could not run the step) only.
    OnError,
    /// Transient errors only.
    OnTransientError,
}

/// `backoff` of a retry strategy (Argo's `Backoff`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryBackoff {
    /// Base delay: seconds (`"10"`) or a duration (`"2m"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Multiplies the delay after each retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<IntOrString>,
    /// Give up retrying once this long has passed since the first attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
    /// Upper bound of one delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<String>,
}

/// `suspend` template: waits to be resumed, or for `duration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuspendTemplate {
    /// Seconds (`"20"`) or a duration (`"2m"`); unset waits until resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------------------------

fn named(name: &str) -> Option<String> {
    Some(name.to_owned())
}

/// Defines a struct with every field of Kubernetes' `Container`, plus `$extra` fields, and a
/// `to_container` conversion. Argo inlines `Container` into several types; serde's `flatten`
/// is not used (the loader needs each struct's own field list), so the fields are repeated by
/// this macro, in one place.
macro_rules! container_struct {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $(#[$name_attr:meta])*
            name: $name_ty:ty => $to_name:path,
            $($extra:tt)*
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(#[$name_attr])*
            pub name: $name_ty,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub image: Option<String>,
            /// Replaces the image's entrypoint.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub command: Vec<String>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub args: Vec<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub working_dir: Option<String>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub ports: Vec<ContainerPort>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub env_from: Vec<EnvFromSource>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub env: Vec<EnvVar>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub resources: Option<Json>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub resize_policy: Option<Json>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub restart_policy: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub restart_policy_rules: Option<Json>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub volume_mounts: Vec<VolumeMount>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub volume_devices: Option<Json>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub liveness_probe: Option<Json>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub readiness_probe: Option<Json>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub startup_probe: Option<Json>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub lifecycle: Option<Json>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub termination_message_path: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub termination_message_policy: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub image_pull_policy: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub security_context: Option<Json>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub stdin: Option<bool>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub stdin_once: Option<bool>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub tty: Option<bool>,
            $($extra)*
        }

        impl $name {
            /// The Kubernetes `Container` fields of this value, without its own extras.
            pub fn to_container(&self) -> Container {
                Container {
                    name: $to_name(&self.name),
                    image: self.image.clone(),
                    command: self.command.clone(),
                    args: self.args.clone(),
                    working_dir: self.working_dir.clone(),
                    ports: self.ports.clone(),
                    env_from: self.env_from.clone(),
                    env: self.env.clone(),
                    resources: self.resources.clone(),
                    resize_policy: self.resize_policy.clone(),
                    restart_policy: self.restart_policy.clone(),
                    restart_policy_rules: self.restart_policy_rules.clone(),
                    volume_mounts: self.volume_mounts.clone(),
                    volume_devices: self.volume_devices.clone(),
                    liveness_probe: self.liveness_probe.clone(),
                    readiness_probe: self.readiness_probe.clone(),
                    startup_probe: self.startup_probe.clone(),
                    lifecycle: self.lifecycle.clone(),
                    termination_message_path: self.termination_message_path.clone(),
                    termination_message_policy: self.termination_message_policy.clone(),
                    image_pull_policy: self.image_pull_policy.clone(),
                    security_context: self.security_context.clone(),
                    stdin: self.stdin,
                    stdin_once: self.stdin_once,
                    tty: self.tty,
                }
            }
        }
    };
}

container_struct! {
    /// Kubernetes' `Container`: the `container` of a template. Argo names it `main` when it
    /// has no name.
    pub struct Container {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String> => Clone::clone,
    }
}

container_struct! {
    /// `script` of a template: a container whose `source` is written to a file and run with
    /// the container's `command` (e.g. `[python]`).
    pub struct ScriptTemplate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String> => Clone::clone,
        /// The script's text.
        #[serde(default)]
        pub source: String,
    }
}

container_struct! {
    /// One container of a `containerSet`.
    pub struct ContainerNode {
        name: String => named,
        /// Names of the containers of the set that must finish first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub dependencies: Vec<String>,
    }
}

container_struct! {
    /// A sidecar or init container (Argo's `UserContainer`).
    pub struct UserContainer {
        name: String => named,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mirror_volume_mounts: Option<bool>,
    }
}

/// `containerSet` of a template: several containers in one pod, ordered by `dependencies`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSetTemplate {
    pub containers: Vec<ContainerNode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<ContainerSetRetryStrategy>,
}

/// `retryStrategy` of a container set: retries each container in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSetRetryStrategy {
    /// Delay between retries, e.g. `"300ms"`, `"5m"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Retries after the first attempt.
    pub retries: IntOrString,
}

/// An environment variable of a container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

/// `valueFrom` of an environment variable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<ConfigMapKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_field_ref: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_key_ref: Option<Json>,
}

/// `envFrom` of a container: every key of a ConfigMap or Secret as a variable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvFromSource {
    /// Prepended to every key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapEnvSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretEnvSource>,
}

/// `envFrom[].configMapRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapEnvSource {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// `envFrom[].secretRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretEnvSource {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// A port a container listens on (informational, as in Kubernetes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<i32>,
    pub container_port: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "hostIP")]
    pub host_ip: Option<String>,
}

/// A volume mounted into a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive_read_only: Option<String>,
    pub mount_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_propagation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path_expr: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Template types the local executor does not run
// ---------------------------------------------------------------------------------------------

/// `resource` template: acts on a Kubernetes resource with kubectl.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTemplate {
    /// `get`, `create`, `apply`, `delete`, `replace` or `patch`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_from: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_owner_reference: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_condition: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// `http` template: one HTTP request (Argo's `HTTP`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpTemplate {
    /// Default `GET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HttpHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_from: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

/// A header of an `http` template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpHeader {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<HttpHeaderSource>,
}

/// `valueFrom` of an `http` header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpHeaderSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
}

/// `data` template: transforms a list of artifact paths (Argo's `Data`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataTemplate {
    pub source: Json,
    pub transformation: Vec<TransformationStep>,
}

/// One step of a `data` template's `transformation`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransformationStep {
    pub expression: String,
}

// ---------------------------------------------------------------------------------------------
// AnyString
// ---------------------------------------------------------------------------------------------

/// Argo's `AnyString`: parameter values may be written as strings, numbers or booleans
/// (`value: 3`, `value: true`) and are strings from then on. Numbers keep their written
/// form for integers and the shortest exact form for decimals (`1.50` becomes `"1.5"`), as
/// Argo's Go code formats them; `null` inside a list becomes `""`. Lists and maps are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnyString(pub String);

impl AnyString {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AnyString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for AnyString {
    fn from(s: &str) -> Self {
        AnyString(s.to_owned())
    }
}

impl From<String> for AnyString {
    fn from(s: String) -> Self {
        AnyString(s)
    }
}

impl Serialize for AnyString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AnyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = AnyString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AnyString, E> {
                Ok(AnyString(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<AnyString, E> {
                Ok(AnyString(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<AnyString, E> {
                Ok(AnyString(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<AnyString, E> {
                Ok(AnyString(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<AnyString, E> {
                // Rust's `Display` for f64 is the shortest exact form without an exponent,
                // which is what Go's `FormatFloat(v, 'f', -1, 64)` prints.
                Ok(AnyString(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<AnyString, E> {
                Ok(AnyString(v.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<AnyString, E> {
                Ok(AnyString::default())
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Field policy
// ---------------------------------------------------------------------------------------------

const ARTIFACTS: FieldPolicy =
    FieldPolicy::error("needs an artifact repository, which Switchyard does not support yet");
const VOLUMES: FieldPolicy = FieldPolicy::warning(
    "has no effect: Kubernetes volumes are not mounted by the local executor; each step gets \
     its own scratch directory",
);
const SCHEDULING: FieldPolicy = FieldPolicy::warning(
    "has no effect: every step runs on this machine, without Kubernetes scheduling",
);
const PRIORITY: FieldPolicy = FieldPolicy::warning(
    "has no effect: there is no Kubernetes scheduler to order pods by priority",
);
const IDENTITY: FieldPolicy = FieldPolicy::warning(
    "has no effect: local steps run as the Switchyard process's user, without a Kubernetes \
     service account",
);
const SECURITY_CONTEXT: FieldPolicy = FieldPolicy::warning(
    "has no effect: local steps run as the Switchyard process's user, without a Kubernetes \
     security context",
);
const POD_SPEC_PATCH: FieldPolicy =
    FieldPolicy::warning("has no effect: local steps create no pods to patch");
const POD_METADATA: FieldPolicy =
    FieldPolicy::warning("has no effect: local steps create no pods to label or annotate");
const HOST_ALIASES: FieldPolicy =
    FieldPolicy::warning("has no effect: local steps use this machine's /etc/hosts");
const DNS: FieldPolicy =
    FieldPolicy::warning("has no effect: local steps use this machine's DNS settings");
const RESOURCES: FieldPolicy =
    FieldPolicy::warning("has no effect: the local executor does not limit CPU or memory");
const RESOURCE_CLAIMS: FieldPolicy = FieldPolicy::warning(
    "has no effect: local steps cannot claim Kubernetes devices (dynamic resource allocation)",
);
const IMAGE_PULL: FieldPolicy =
    FieldPolicy::warning("has no effect: the local executor does not pull images");
const PROBES: FieldPolicy =
    FieldPolicy::warning("has no effect: the local executor does not probe steps");
const SYNCHRONIZATION: FieldPolicy = FieldPolicy::error(
    "(semaphores and mutexes) is not supported yet: runs would not wait for the lock",
);
const METRICS: FieldPolicy =
    FieldPolicy::error("(Prometheus metrics emitted by workflows) is not supported yet");
const MEMOIZE: FieldPolicy = FieldPolicy::error(
    "(caching a template's outputs in a ConfigMap) is not supported yet: the step would run \
     every time",
);

/// The policy for field `field` (wire name) of the workflow-model struct named `type_name`.
pub(crate) fn policy(type_name: &str, field: &str) -> Option<FieldPolicy> {
    let p = match (type_name, field) {
        ("Workflow" | "CronWorkflow", "status") => {
            FieldPolicy::warning("is written by Switchyard; the value in the manifest is ignored")
        }

        // Artifacts and what only exists for them.
        ("Inputs" | "Outputs" | "Arguments", "artifacts") => ARTIFACTS,
        ("WorkflowSpec", "artifactRepositoryRef") | ("Template", "archiveLocation") => ARTIFACTS,
        ("WorkflowSpec", "artifactGC") => FieldPolicy::error(
            "deletes artifacts from an artifact repository, which Switchyard does not support yet",
        ),
        ("WorkflowSpec", "archiveLogs") => FieldPolicy::warning(
            "has no effect: Switchyard keeps every step's log itself, without an artifact \
             repository",
        ),

        // Template types the local executor does not run.
        ("Template", "resource") => FieldPolicy::error(
            "(a Kubernetes resource template) is not supported by the local executor: there is \
             no Kubernetes cluster to act on",
        ),
        ("Template", "http") => FieldPolicy::error(
            "(an HTTP template) is not supported by the local executor yet; run curl in a \
             script template instead",
        ),
        ("Template", "data") => FieldPolicy::error(
            "(a data template) is not supported by the local executor: it transforms \
             artifacts, and artifacts are not supported yet",
        ),
        ("Template", "plugin") => FieldPolicy::error(
            "(an executor plugin template) is not supported by the local executor",
        ),
        ("Template", "daemon") => FieldPolicy::error(
            "(a step kept running in the background while later steps use it) is not \
             supported by the local executor yet",
        ),

        // Features not supported yet.
        ("WorkflowSpec" | "Template", "synchronization") => SYNCHRONIZATION,
        ("WorkflowSpec" | "Template", "metrics") => METRICS,
        ("Template", "memoize") => MEMOIZE,
        ("WorkflowSpec", "volumeClaimTemplates") => FieldPolicy::error(
            "(persistent volumes shared between steps) is not supported by the local executor; \
             each step gets its own scratch directory",
        ),
        ("ValueFrom", "event") => FieldPolicy::error(
            "is only set by a WorkflowEventBinding, which Switchyard does not support; pass \
             event data with a Sensor trigger parameter instead",
        ),
        ("EnvVarSource", "fieldRef") => FieldPolicy::error(
            "reads a field of the step's Kubernetes pod, and local steps have no pod",
        ),
        ("EnvVarSource", "resourceFieldRef") => FieldPolicy::error(
            "reads the container's Kubernetes resource limits, and local steps have none",
        ),
        ("EnvVarSource", "fileKeyRef") => FieldPolicy::error(
            "reads a file in a Kubernetes volume, and the local executor mounts no volumes",
        ),

        // Kubernetes-only fields of the workflow and of templates.
        // `nodeSelector` is matched against this machine's labels (a pod that does not fit
        // waits in Pending, as Kubernetes leaves it); affinity and tolerations are not.
        ("WorkflowSpec" | "Template", "affinity" | "tolerations") => SCHEDULING,
        ("WorkflowSpec" | "Template", "schedulerName") => FieldPolicy::warning(
            "has no effect: there is no Kubernetes scheduler; every step runs on this machine",
        ),
        ("WorkflowSpec", "podPriorityClassName" | "podPriority")
        | ("Template", "priorityClassName" | "priority") => PRIORITY,
        (
            "WorkflowSpec" | "Template",
            "serviceAccountName" | "automountServiceAccountToken" | "executor",
        ) => IDENTITY,
        ("WorkflowSpec" | "Template", "securityContext") => SECURITY_CONTEXT,
        ("WorkflowSpec" | "Template", "podSpecPatch") => POD_SPEC_PATCH,
        ("WorkflowSpec" | "Template", "hostAliases") => HOST_ALIASES,
        ("WorkflowSpec" | "Template", "volumes") => VOLUMES,
        ("WorkflowSpec" | "Template", "podResources") => RESOURCES,
        ("WorkflowSpec" | "Template", "resourceClaims") => RESOURCE_CLAIMS,
        ("WorkflowSpec", "podMetadata") | ("Template", "metadata") => POD_METADATA,
        ("WorkflowSpec", "imagePullSecrets") => IMAGE_PULL,
        ("WorkflowSpec", "dnsPolicy" | "dnsConfig") => DNS,
        ("WorkflowSpec", "hostNetwork") => {
            FieldPolicy::warning("has no effect: local steps always use this machine's network")
        }
        ("WorkflowSpec", "podGC") => {
            FieldPolicy::warning("has no effect: local steps leave no pods to delete")
        }
        ("WorkflowSpec", "volumeClaimGC") => {
            FieldPolicy::warning("has no effect: there are no persistent volume claims to delete")
        }
        ("WorkflowSpec", "podDisruptionBudget") => FieldPolicy::warning(
            "has no effect: there are no pods to protect from eviction; local steps stop only \
             when their workflow is stopped or Switchyard shuts down",
        ),
        ("WorkflowSpec", "workflowMetadata") => FieldPolicy::warning(
            "has no effect yet: its labels and annotations are not copied onto the workflow; \
             set them in the workflow's own metadata",
        ),
        ("WorkflowSpec", "priority") => FieldPolicy::warning(
            "has no effect: Switchyard does not order waiting workflows by priority",
        ),
        ("WorkflowSpec", "executorPlugins") => FieldPolicy::warning(
            "has no effect: plugin templates are not supported by the local executor",
        ),
        ("Template", "initContainers") => FieldPolicy::warning(
            "are not started by the local executor: only the template's main command runs",
        ),
        ("Template", "sidecars") => FieldPolicy::warning(
            "are not started by the local executor: only the template's main command runs",
        ),
        ("Template", "annotations") => FieldPolicy::warning(
            "has no effect yet: template annotations (such as the display name) are not applied",
        ),
        ("RetryStrategy", "affinity") => FieldPolicy::warning(
            "has no effect: retries run on this machine; there are no other nodes to move to",
        ),

        // Kubernetes-only fields of the containers that run. Sidecars and init containers
        // (`UserContainer`) are already reported as not started.
        ("Container" | "ScriptTemplate" | "ContainerNode", field) => container_policy(field)?,
        ("ContainerSetTemplate", "volumeMounts") => VOLUMES,

        _ => return None,
    };
    Some(p)
}

fn container_policy(field: &str) -> Option<FieldPolicy> {
    Some(match field {
        "resources" | "resizePolicy" => RESOURCES,
        "volumeMounts" | "volumeDevices" => VOLUMES,
        "livenessProbe" | "readinessProbe" | "startupProbe" => PROBES,
        "imagePullPolicy" => IMAGE_PULL,
        "securityContext" => SECURITY_CONTEXT,
        "lifecycle" => FieldPolicy::warning(
            "has no effect: the local executor does not run postStart or preStop hooks",
        ),
        "restartPolicy" | "restartPolicyRules" => FieldPolicy::warning(
            "has no effect: the local executor does not restart containers; use retryStrategy",
        ),
        "terminationMessagePath" | "terminationMessagePolicy" => FieldPolicy::warning(
            "has no effect: the local executor does not read termination messages",
        ),
        "stdin" | "stdinOnce" => {
            FieldPolicy::warning("has no effect: a local step's standard input is always empty")
        }
        "tty" => FieldPolicy::warning("has no effect: local steps run without a terminal"),
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::diag::Severity;
    use serde_json::json;
    use std::cell::Cell;

    fn template(v: Json) -> Template {
        serde_json::from_value(v).unwrap()
    }

    // --- Round trips: every wire name is exact -----------------------------------------------

    /// A workflow that sets (nearly) every field this module models, in canonical form, so
    /// that serializing what was read gives back exactly the input: a misspelt wire name
    /// would drop the field and fail the comparison.
    fn full_workflow() -> Json {
        serde_json::from_str(
            r#"{
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"generateName": "order-", "namespace": "platform", "labels": {"team": "infra"}},
            "spec": {
                "entrypoint": "main",
                "arguments": {
                    "parameters": [
                        {"name": "region", "value": "eu-west-1"},
                        {"name": "size", "default": "small", "enum": ["small", "large"], "description": "how big"},
                        {"name": "owner", "valueFrom": {"configMapKeyRef": {"name": "owners", "key": "default"}}},
                        {"name": "from-event", "valueFrom": {"event": "payload.owner"}}
                    ],
                    "artifacts": [{"name": "seed", "raw": {"data": "hello"}}]
                },
                "serviceAccountName": "runner",
                "automountServiceAccountToken": false,
                "executor": {"serviceAccountName": "exec"},
                "volumes": [{"name": "work", "emptyDir": {}}],
                "volumeClaimTemplates": [{"metadata": {"name": "shared"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
                "parallelism": 4,
                "artifactRepositoryRef": {"configMap": "repos", "key": "minio"},
                "suspend": false,
                "nodeSelector": {"disk": "ssd"},
                "affinity": {"nodeAffinity": {}},
                "tolerations": [{"key": "spot", "operator": "Exists"}],
                "imagePullSecrets": [{"name": "registry"}],
                "hostNetwork": false,
                "dnsPolicy": "ClusterFirst",
                "dnsConfig": {"nameservers": ["10.0.0.2"]},
                "onExit": "cleanup",
                "ttlStrategy": {"secondsAfterCompletion": 60, "secondsAfterSuccess": 30, "secondsAfterFailure": 600},
                "activeDeadlineSeconds": 3600,
                "priority": 5,
                "schedulerName": "custom",
                "podGC": {"strategy": "OnPodSuccess", "deleteDelayDuration": "30s"},
                "podPriorityClassName": "high",
                "podPriority": 10,
                "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db"]}],
                "securityContext": {"runAsNonRoot": true},
                "podSpecPatch": "{}",
                "podDisruptionBudget": {"minAvailable": 1},
                "metrics": {"prometheus": [{"name": "runs", "help": "runs", "counter": {"value": "1"}}]},
                "shutdown": "Stop",
                "workflowTemplateRef": {"name": "base", "clusterScope": true},
                "synchronization": {"mutexes": [{"name": "one-at-a-time"}]},
                "volumeClaimGC": {"strategy": "OnWorkflowCompletion"},
                "retryStrategy": {"limit": 2},
                "podMetadata": {"labels": {"a": "b"}},
                "templateDefaults": {"timeout": "1h"},
                "archiveLogs": true,
                "hooks": {
                    "exit": {"template": "cleanup"},
                    "running": {"expression": "workflow.status == \"Running\"", "templateRef": {"name": "lib", "template": "notify"}}
                },
                "workflowMetadata": {"labels": {"x": "y"}, "labelsFrom": {"z": {"expression": "workflow.name"}}},
                "artifactGC": {"strategy": "OnWorkflowDeletion"},
                "executorPlugins": [{"metadata": {"name": "p"}, "spec": {"sidecar": {"container": {"name": "p"}}}}],
                "podResources": {"limits": {"cpu": "1"}},
                "resourceClaims": [{"name": "gpu"}],
                "templates": [
                    {
                        "name": "main",
                        "failFast": false,
                        "parallelism": 2,
                        "steps": [
                            [{"name": "plan", "template": "plan", "arguments": {"parameters": [{"name": "region", "value": "{{workflow.parameters.region}}"}]}}],
                            [
                                {"name": "fan", "template": "echo", "withItems": ["a", 1, true, {"env": "dev", "n": 2}, ["x"]]},
                                {"name": "seq", "template": "echo", "withSequence": {"count": "3", "start": 1, "format": "n%d"}},
                                {"name": "maybe", "templateRef": {"name": "lib", "template": "notify", "clusterScope": true}, "when": "{{steps.plan.outputs.result}} == yes", "continueOn": {"failed": true, "error": false}, "onExit": "cleanup", "hooks": {"exit": {"template": "cleanup", "arguments": {"parameters": [{"name": "m", "value": "x"}]}}}},
                                {"name": "inline", "inline": {"suspend": {"duration": "10s"}}, "withParam": "{{steps.plan.outputs.parameters.list}}"}
                            ]
                        ]
                    },
                    {
                        "name": "graph",
                        "dag": {
                            "target": "b c",
                            "failFast": true,
                            "tasks": [
                                {"name": "a", "template": "echo"},
                                {"name": "b", "template": "echo", "dependencies": ["a"], "withItems": [{"k": "v"}]},
                                {"name": "c", "depends": "a.Succeeded || b.Failed", "inline": {"container": {"image": "alpine", "command": ["true"]}}, "withSequence": {"end": 5}},
                                {"name": "d", "templateRef": {"name": "lib", "template": "notify"}, "depends": "c", "withParam": "[1,2]", "when": "true", "continueOn": {"error": true}, "onExit": "cleanup", "hooks": {"exit": {"template": "cleanup"}}, "arguments": {"parameters": [{"name": "p", "value": "1"}]}}
                            ]
                        }
                    },
                    {
                        "name": "plan",
                        "inputs": {
                            "parameters": [{"name": "region"}],
                            "artifacts": [{"name": "src", "path": "/src", "git": {"repo": "https://example.invalid/x.git"}}]
                        },
                        "outputs": {
                            "parameters": [
                                {"name": "list", "valueFrom": {"path": "/tmp/list.json", "default": "[]"}, "globalName": "plan-list"},
                                {"name": "kind", "valueFrom": {"jsonPath": "{.kind}"}},
                                {"name": "jq", "valueFrom": {"jqFilter": ".kind"}},
                                {"name": "expr", "valueFrom": {"expression": "1 + 1"}},
                                {"name": "child", "valueFrom": {"parameter": "{{steps.a.outputs.result}}"}}
                            ],
                            "artifacts": [{"name": "plan", "path": "/tmp/plan", "archive": {"none": {}}, "s3": {"key": "plan"}, "optional": true}]
                        },
                        "metadata": {"annotations": {"note": "x"}},
                        "activeDeadlineSeconds": "{{inputs.parameters.deadline}}",
                        "retryStrategy": {
                            "limit": "3",
                            "retryPolicy": "OnTransientError",
                            "backoff": {"duration": "5s", "factor": 2, "maxDuration": "1m", "cap": "30s"},
                            "affinity": {"nodeAntiAffinity": {}},
                            "expression": "lastRetry.exitCode != 2"
                        },
                        "timeout": "10m",
                        "pendingTimeout": "1m",
                        "annotations": {"workflows.argoproj.io/display-name": "Plan"},
                        "nodeSelector": {"disk": "ssd"},
                        "affinity": {},
                        "tolerations": [],
                        "schedulerName": "custom",
                        "priorityClassName": "high",
                        "priority": 1,
                        "serviceAccountName": "runner",
                        "automountServiceAccountToken": true,
                        "executor": {"serviceAccountName": "exec"},
                        "hostAliases": [],
                        "securityContext": {"runAsUser": 1000},
                        "podSpecPatch": "{}",
                        "metrics": {"prometheus": []},
                        "synchronization": {"semaphores": [{"configMapKeyRef": {"name": "limits", "key": "plan"}}]},
                        "memoize": {"key": "k", "maxAge": "1h", "cache": {"configMap": {"name": "cache"}}},
                        "archiveLocation": {"archiveLogs": true},
                        "volumes": [{"name": "v", "emptyDir": {}}],
                        "initContainers": [{"name": "init", "image": "busybox", "mirrorVolumeMounts": true}],
                        "sidecars": [{"name": "db", "image": "postgres", "env": [{"name": "PGDATA", "value": "/data"}]}],
                        "daemon": false,
                        "podResources": {},
                        "resourceClaims": [],
                        "container": {
                            "name": "main",
                            "image": "hashicorp/terraform:1.9",
                            "command": ["terraform"],
                            "args": ["plan", "-out=/tmp/plan"],
                            "workingDir": "/src",
                            "ports": [{"name": "http", "containerPort": 8080, "hostPort": 80, "protocol": "TCP", "hostIP": "127.0.0.1"}],
                            "envFrom": [
                                {"prefix": "CFG_", "configMapRef": {"name": "settings", "optional": true}},
                                {"secretRef": {"name": "creds"}}
                            ],
                            "env": [
                                {"name": "PLAIN", "value": "1"},
                                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
                                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode", "optional": true}}},
                                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                                {"name": "FILE", "valueFrom": {"fileKeyRef": {"volumeName": "v", "path": "a.env", "key": "A"}}}
                            ],
                            "resources": {"requests": {"memory": "64Mi"}},
                            "resizePolicy": [],
                            "restartPolicy": "Always",
                            "restartPolicyRules": [],
                            "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": true, "subPath": "s", "mountPropagation": "None", "recursiveReadOnly": "Disabled"}],
                            "volumeDevices": [],
                            "livenessProbe": {"exec": {"command": ["true"]}},
                            "readinessProbe": {"periodSeconds": 5},
                            "startupProbe": {"periodSeconds": 1},
                            "lifecycle": {"preStop": {"exec": {"command": ["true"]}}},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                            "imagePullPolicy": "IfNotPresent",
                            "securityContext": {"privileged": false},
                            "stdin": false,
                            "stdinOnce": false,
                            "tty": false
                        }
                    },
                    {
                        "name": "echo",
                        "inputs": {"parameters": [{"name": "item", "default": "none"}]},
                        "outputs": {"result": "ignored", "exitCode": "0"},
                        "script": {"image": "python:3.12", "command": ["python"], "source": "print('{{inputs.parameters.item}}')", "env": [{"name": "A", "value": "b"}]}
                    },
                    {
                        "name": "set",
                        "containerSet": {
                            "volumeMounts": [{"name": "w", "mountPath": "/w"}],
                            "retryStrategy": {"retries": "2", "duration": "1s"},
                            "containers": [
                                {"name": "a", "image": "alpine", "command": ["sh", "-c", "echo a"]},
                                {"name": "b", "image": "alpine", "dependencies": ["a"], "args": ["b"]}
                            ]
                        }
                    },
                    {"name": "approve", "inputs": {"parameters": [{"name": "ok", "valueFrom": {"supplied": {}}}]}, "suspend": {}},
                    {"name": "kube", "resource": {"action": "create", "manifest": "kind: ConfigMap", "successCondition": "status.ok", "failureCondition": "status.bad", "setOwnerReference": true, "mergeStrategy": "merge", "flags": ["--validate=false"], "manifestFrom": {"artifact": {"name": "m"}}}},
                    {"name": "call", "http": {"url": "https://example.invalid", "method": "POST", "timeoutSeconds": 5, "body": "{}", "successCondition": "response.statusCode == 200", "insecureSkipVerify": false, "headers": [{"name": "A", "value": "b"}, {"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "t"}}}], "bodyFrom": {"bytes": "e30="}}},
                    {"name": "filter", "data": {"source": {"artifactPaths": {"name": "p", "s3": {"bucket": "b"}}}, "transformation": [{"expression": "filter(data, {# endsWith '.csv'})"}]}},
                    {"name": "plug", "plugin": {"hello": {"text": "hi"}}},
                    {"name": "cleanup", "container": {"image": "alpine", "command": ["echo", "bye"]}}
                ]
            }
        }"#,
        )
        .unwrap()
    }

    #[test]
    fn workflow_round_trip_keeps_every_field() {
        let input = full_workflow();
        let wf: Workflow = serde_json::from_value(input.clone()).unwrap();
        let output = serde_json::to_value(&wf).unwrap();
        assert_eq!(output, input);
        let again: Workflow = serde_json::from_value(output).unwrap();
        assert_eq!(again, wf);
        // Through the crate's entry points too.
        let r = crate::Resource::from_value(crate::Kind::Workflow, input.clone()).unwrap();
        assert_eq!(r.to_value(), input);
    }

    #[test]
    fn cron_workflow_round_trip_and_schedules() {
        let input = json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "CronWorkflow",
            "metadata": {"name": "nightly"},
            "spec": {
                "schedule": "0 1 * * *",
                "schedules": ["30 2 * * 1-5", "@hourly"],
                "timezone": "Europe/Paris",
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 120,
                "successfulJobsHistoryLimit": 5,
                "failedJobsHistoryLimit": 2,
                "suspend": true,
                "workflowMetadata": {"labels": {"from": "cron"}, "annotations": {"a": "b"}},
                "stopStrategy": {"expression": "cronworkflow.failed >= 3"},
                "when": "{{= cronworkflow.lastScheduledTime == nil }}",
                "workflowSpec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {"duration": "5"}}]}
            }
        });
        let cron: CronWorkflow = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(serde_json::to_value(&cron).unwrap(), input);
        assert_eq!(
            cron.spec.all_schedules(),
            ["0 1 * * *", "30 2 * * 1-5", "@hourly"]
        );
        assert_eq!(
            cron.spec.concurrency_policy,
            Some(ConcurrencyPolicy::Forbid)
        );
        assert_eq!(
            cron.spec.workflow_spec.template("main").unwrap().kind(),
            Some(TemplateKind::Suspend)
        );
        let only_list: CronWorkflowSpec =
            serde_json::from_value(json!({"schedules": ["@daily"], "workflowSpec": {}})).unwrap();
        assert_eq!(only_list.all_schedules(), ["@daily"]);
        assert_eq!(
            CronWorkflowSpec::default().all_schedules(),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn template_kinds_round_trip() {
        for (kind, body) in [
            (
                "WorkflowTemplate",
                json!({"templates": [{"name": "t", "container": {"image": "a"}}]}),
            ),
            ("ClusterWorkflowTemplate", json!({"entrypoint": "t"})),
        ] {
            let input = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": kind, "metadata": {"name": "lib"}, "spec": body});
            let k = crate::Kind::from_manifest("argoproj.io/v1alpha1", kind).unwrap();
            let r = crate::Resource::from_value(k, input.clone()).unwrap();
            assert_eq!(r.kind(), k);
            assert_eq!(r.to_value(), input, "{kind}");
        }
    }

    // --- Template types ----------------------------------------------------------------------

    #[test]
    fn each_template_type_is_recognised() {
        let cases: Vec<(Json, Vec<TemplateKind>)> = vec![
            (
                json!({"container": {"image": "alpine"}}),
                vec![TemplateKind::Container],
            ),
            (
                json!({"script": {"image": "python", "source": "print(1)"}}),
                vec![TemplateKind::Script],
            ),
            (
                json!({"containerSet": {"containers": [{"name": "a"}]}}),
                vec![TemplateKind::ContainerSet],
            ),
            (
                json!({"steps": [[{"name": "a", "template": "x"}]]}),
                vec![TemplateKind::Steps],
            ),
            (json!({"steps": []}), vec![TemplateKind::Steps]),
            (
                json!({"dag": {"tasks": [{"name": "a", "template": "x"}]}}),
                vec![TemplateKind::Dag],
            ),
            (json!({"suspend": {}}), vec![TemplateKind::Suspend]),
            (
                json!({"resource": {"action": "get", "manifest": "x"}}),
                vec![TemplateKind::Resource],
            ),
            (
                json!({"http": {"url": "http://x"}}),
                vec![TemplateKind::Http],
            ),
            (
                json!({"data": {"source": {}, "transformation": []}}),
                vec![TemplateKind::Data],
            ),
            (
                json!({"plugin": {"slack": {"text": "x"}}}),
                vec![TemplateKind::Plugin],
            ),
            (json!({"name": "empty"}), vec![]),
            // Several set: all are reported, the first in Argo's order wins.
            (
                json!({"suspend": {}, "script": {"image": "a", "source": ""}, "container": {"image": "a"}}),
                vec![
                    TemplateKind::Container,
                    TemplateKind::Script,
                    TemplateKind::Suspend,
                ],
            ),
            (
                json!({"dag": {"tasks": []}, "steps": [[]]}),
                vec![TemplateKind::Steps, TemplateKind::Dag],
            ),
        ];
        for (input, want) in cases {
            let t = template(input.clone());
            assert_eq!(t.kinds(), want, "{input}");
            assert_eq!(t.kind(), want.first().copied(), "{input}");
        }
    }

    #[test]
    fn template_kind_facts() {
        // (kind, field, leaf, runs a process)
        let cases = [
            (TemplateKind::Container, "container", true, true),
            (TemplateKind::ContainerSet, "containerSet", true, true),
            (TemplateKind::Steps, "steps", false, false),
            (TemplateKind::Dag, "dag", false, false),
            (TemplateKind::Script, "script", true, true),
            (TemplateKind::Resource, "resource", true, false),
            (TemplateKind::Data, "data", true, false),
            (TemplateKind::Suspend, "suspend", false, false),
            (TemplateKind::Http, "http", true, false),
            (TemplateKind::Plugin, "plugin", true, false),
        ];
        assert_eq!(cases.len(), TemplateKind::ALL.len());
        for (kind, field, leaf, process) in cases {
            assert_eq!(kind.field(), field);
            assert_eq!(kind.to_string(), field);
            assert_eq!(kind.is_leaf(), leaf, "{kind}");
            assert_eq!(kind.runs_process(), process, "{kind}");
        }
    }

    #[test]
    fn steps_are_a_list_of_parallel_lists() {
        let t = template(json!({
            "name": "s",
            "steps": [
                [{"name": "one", "template": "a"}],
                [{"name": "two", "template": "b"}, {"name": "three", "template": "c"}],
                []
            ]
        }));
        let names: Vec<Vec<&str>> = t
            .step_groups()
            .iter()
            .map(|g| g.iter().map(TemplateCall::call_name).collect())
            .collect();
        assert_eq!(names, vec![vec!["one"], vec!["two", "three"], vec![]]);
        assert_eq!(t.dag_tasks(), &[] as &[DagTask]);

        // A flat list of steps is not Argo's shape: it is rejected, not guessed at.
        let flat = serde_json::from_value::<Template>(json!({"steps": [{"name": "a"}]}));
        let e = flat.unwrap_err().to_string();
        assert!(e.contains("expected a sequence"), "{e}");
    }

    #[test]
    fn with_items_keeps_any_json() {
        let step: WorkflowStep = serde_json::from_value(json!({
            "name": "loop",
            "template": "t",
            "withItems": ["a", 2, 2.5, false, null, {"os": "linux", "arch": ["amd64"]}, [1, 2]]
        }))
        .unwrap();
        let items = match step.expansion() {
            Some(Expansion::Items(items)) => items,
            other => panic!("expected items, got {other:?}"),
        };
        assert_eq!(
            items,
            &[
                json!("a"),
                json!(2),
                json!(2.5),
                json!(false),
                Json::Null,
                json!({"os": "linux", "arch": ["amd64"]}),
                json!([1, 2])
            ]
        );
    }

    // --- Value shapes ------------------------------------------------------------------------

    #[test]
    fn int_or_string_fields_accept_both_forms() {
        let int = |i| Some(IntOrString::Int(i));
        let text = |s: &str| Some(IntOrString::String(s.to_owned()));
        let t = template(json!({"activeDeadlineSeconds": 30}));
        assert_eq!(t.active_deadline_seconds, int(30));
        let t = template(json!({"activeDeadlineSeconds": "{{inputs.parameters.d}}"}));
        assert_eq!(t.active_deadline_seconds, text("{{inputs.parameters.d}}"));

        let r: RetryStrategy =
            serde_json::from_value(json!({"limit": 3, "backoff": {"factor": "2"}})).unwrap();
        assert_eq!(r.limit, int(3));
        assert_eq!(r.backoff.unwrap().factor, text("2"));
        let r: RetryStrategy =
            serde_json::from_value(json!({"limit": "3", "backoff": {"factor": 2}})).unwrap();
        assert_eq!(r.limit, text("3"));
        assert_eq!(r.limit.unwrap().as_i64(), Some(3));
        assert_eq!(r.backoff.unwrap().factor, int(2));

        let s: Sequence =
            serde_json::from_value(json!({"count": "5", "start": 1, "end": "{{x}}"})).unwrap();
        assert_eq!(
            (s.count, s.start, s.end),
            (text("5"), int(1), text("{{x}}"))
        );

        let c: ContainerSetRetryStrategy = serde_json::from_value(json!({"retries": 2})).unwrap();
        assert_eq!(c.retries, IntOrString::Int(2));
        let c: ContainerSetRetryStrategy = serde_json::from_value(json!({"retries": "2"})).unwrap();
        assert_eq!(c.retries, IntOrString::String("2".into()));

        let e = serde_json::from_value::<RetryStrategy>(json!({"limit": [1]})).unwrap_err();
        assert!(e.to_string().contains("an integer or a string"), "{e}");
    }

    #[test]
    fn parameter_values_are_any_string() {
        // (value as written, value as Argo reads it)
        let cases = [
            (json!("text"), "text"),
            (json!(""), ""),
            (json!(42), "42"),
            (json!(-7), "-7"),
            (json!(18446744073709551615u64), "18446744073709551615"),
            (json!(1.5), "1.5"),
            (json!(0.1), "0.1"),
            (json!(1e21), "1000000000000000000000"),
            (json!(true), "true"),
            (json!(false), "false"),
        ];
        for (written, want) in cases {
            let p: Parameter = serde_json::from_value(
                json!({"name": "p", "value": written, "default": written, "enum": [written], "description": written}),
            )
            .unwrap();
            let want = AnyString::from(want);
            assert_eq!(p.value.as_ref(), Some(&want), "{written}");
            assert_eq!(p.default.as_ref(), Some(&want), "{written}");
            assert_eq!(p.description.as_ref(), Some(&want), "{written}");
            assert_eq!(p.enum_.as_slice(), std::slice::from_ref(&want), "{written}");
            // Always written back as a string.
            let back = serde_json::to_value(&p).unwrap();
            assert_eq!(back["value"], json!(want.as_str()));
        }
        // `null` is "not set" for a field and "" inside a list, as in Argo.
        let p: Parameter =
            serde_json::from_value(json!({"name": "p", "value": null, "enum": [null, "a"]}))
                .unwrap();
        assert_eq!(p.value, None);
        assert_eq!(p.enum_, vec![AnyString::from(""), AnyString::from("a")]);
        // Lists and maps are not strings.
        for bad in [json!([1]), json!({"a": 1})] {
            let e = serde_json::from_value::<Parameter>(json!({"name": "p", "value": bad}))
                .unwrap_err();
            assert!(
                e.to_string().contains("a string, a number or a boolean"),
                "{e}"
            );
        }
    }

    #[test]
    fn required_fields_and_closed_sets_are_enforced() {
        // (type, input, expected error fragment)
        type Check = fn(Json) -> Result<(), serde_json::Error>;
        fn check<T: for<'de> Deserialize<'de>>(v: Json) -> Result<(), serde_json::Error> {
            serde_json::from_value::<T>(v).map(|_| ())
        }
        let cases: &[(Check, Json, &str)] = &[
            (
                check::<Parameter>,
                json!({"value": "x"}),
                "missing field `name`",
            ),
            (
                check::<Artifact>,
                json!({"path": "/x"}),
                "missing field `name`",
            ),
            (
                check::<DagTask>,
                json!({"template": "x"}),
                "missing field `name`",
            ),
            (
                check::<DagTemplate>,
                json!({"target": "a"}),
                "missing field `tasks`",
            ),
            (
                check::<ContainerSetRetryStrategy>,
                json!({"duration": "1s"}),
                "missing field `retries`",
            ),
            (
                check::<ContainerNode>,
                json!({"image": "a"}),
                "missing field `name`",
            ),
            (
                check::<EnvVar>,
                json!({"value": "a"}),
                "missing field `name`",
            ),
            (
                check::<VolumeMount>,
                json!({"name": "a"}),
                "missing field `mountPath`",
            ),
            (
                check::<HttpTemplate>,
                json!({"method": "GET"}),
                "missing field `url`",
            ),
            (
                check::<ResourceTemplate>,
                json!({"manifest": "x"}),
                "missing field `action`",
            ),
            (
                check::<StopStrategy>,
                json!({}),
                "missing field `expression`",
            ),
            (
                check::<RetryStrategy>,
                json!({"retryPolicy": "Sometimes"}),
                "unknown variant `Sometimes`, expected one of `Always`, `OnFailure`, `OnError`, `OnTransientError`",
            ),
            (
                check::<CronWorkflowSpec>,
                json!({"concurrencyPolicy": "forbid"}),
                "unknown variant `forbid`, expected one of `Allow`, `Forbid`, `Replace`",
            ),
            (
                check::<WorkflowSpec>,
                json!({"shutdown": "Now"}),
                "unknown variant `Now`, expected `Terminate` or `Stop`",
            ),
            (
                check::<SuspendTemplate>,
                json!({"duration": 20}),
                "expected a string",
            ),
        ];
        for (check, input, want) in cases {
            let e = check(input.clone()).unwrap_err().to_string();
            assert!(e.contains(want), "{input}: {e}");
        }
    }

    // --- Helpers -----------------------------------------------------------------------------

    #[test]
    fn spec_finds_templates_by_name() {
        let spec: WorkflowSpec = serde_json::from_value(json!({
            "templates": [{"name": "a", "container": {"image": "x"}}, {"name": "b", "suspend": {}}]
        }))
        .unwrap();
        assert_eq!(
            spec.template("b").map(Template::kind),
            Some(Some(TemplateKind::Suspend))
        );
        assert_eq!(spec.template("a").map(Template::name), Some("a"));
        assert!(spec.template("c").is_none());
        assert!(spec.template("").is_none());
    }

    #[test]
    fn exit_hooks_follow_argo() {
        let args = Arguments {
            parameters: vec![Parameter {
                name: "p".into(),
                value: Some("outer".into()),
                ..Parameter::default()
            }],
            ..Arguments::default()
        };
        let own = json!({"parameters": [{"name": "p", "value": "own"}]});
        // (onExit, hooks, expected template, expected value of p)
        let cases = [
            (json!(null), json!({}), None, None),
            (json!("bye"), json!({}), Some("bye"), Some("outer")),
            (
                json!("bye"),
                json!({"exit": {"template": "hook"}}),
                Some("bye"),
                Some("outer"),
            ),
            (
                json!(null),
                json!({"exit": {"template": "hook"}}),
                Some("hook"),
                Some("outer"),
            ),
            (
                json!(null),
                json!({"exit": {"template": "hook", "arguments": own}}),
                Some("hook"),
                Some("own"),
            ),
            (
                json!(null),
                json!({"running": {"template": "r", "expression": "true"}}),
                None,
                None,
            ),
        ];
        for (on_exit, hooks, want_template, want_p) in cases {
            let step: WorkflowStep = serde_json::from_value(
                json!({"name": "s", "template": "t", "onExit": on_exit, "hooks": hooks}),
            )
            .unwrap();
            let task: DagTask = serde_json::from_value(
                json!({"name": "s", "template": "t", "onExit": on_exit, "hooks": hooks}),
            )
            .unwrap();
            let spec: WorkflowSpec = serde_json::from_value(
                json!({"onExit": on_exit, "hooks": hooks, "arguments": {"parameters": [{"name": "p", "value": "outer"}]}}),
            )
            .unwrap();
            for hook in [
                step.exit_hook(&args),
                task.exit_hook(&args),
                spec.exit_hook(),
            ] {
                assert_eq!(
                    hook.as_ref().and_then(|h| h.template.as_deref()),
                    want_template,
                    "{on_exit} {hooks}"
                );
                let p = hook
                    .as_ref()
                    .and_then(|h| h.arguments.parameter("p"))
                    .and_then(Parameter::value_or_default);
                assert_eq!(p, want_p, "{on_exit} {hooks}");
            }
        }
        let step: WorkflowStep = serde_json::from_value(json!({
            "hooks": {"exit": {"template": "e"}, "running": {"template": "r", "expression": "x"}}
        }))
        .unwrap();
        let names: Vec<&str> = step
            .expression_hooks()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["running"]);
    }

    #[test]
    fn calls_report_their_target_and_loop() {
        let tref = TemplateRef {
            name: Some("lib".into()),
            template: Some("t".into()),
            cluster_scope: None,
        };
        let inline = template(json!({"suspend": {}}));
        let seq = Sequence {
            count: Some(IntOrString::Int(2)),
            ..Sequence::default()
        };
        let items = [json!(1)];
        // (call, targets, expansions)
        let cases: Vec<(Json, Vec<TemplateTarget<'_>>, Vec<Expansion<'_>>)> = vec![
            (
                json!({"template": "a"}),
                vec![TemplateTarget::Name("a")],
                vec![],
            ),
            (json!({"template": ""}), vec![], vec![]),
            (
                json!({"templateRef": {"name": "lib", "template": "t"}}),
                vec![TemplateTarget::Ref(&tref)],
                vec![],
            ),
            (
                json!({"inline": {"suspend": {}}}),
                vec![TemplateTarget::Inline(&inline)],
                vec![],
            ),
            (
                json!({"template": "a", "templateRef": {"name": "lib", "template": "t"}, "inline": {"suspend": {}}}),
                vec![
                    TemplateTarget::Ref(&tref),
                    TemplateTarget::Inline(&inline),
                    TemplateTarget::Name("a"),
                ],
                vec![],
            ),
            (
                json!({"template": "a", "withItems": [1]}),
                vec![TemplateTarget::Name("a")],
                vec![Expansion::Items(&items)],
            ),
            (
                json!({"template": "a", "withParam": "[1]"}),
                vec![TemplateTarget::Name("a")],
                vec![Expansion::Param("[1]")],
            ),
            (
                json!({"template": "a", "withParam": ""}),
                vec![TemplateTarget::Name("a")],
                vec![],
            ),
            (
                json!({"template": "a", "withSequence": {"count": 2}}),
                vec![TemplateTarget::Name("a")],
                vec![Expansion::Sequence(&seq)],
            ),
            (
                json!({"template": "a", "withItems": [1], "withParam": "[1]", "withSequence": {"count": 2}}),
                vec![TemplateTarget::Name("a")],
                vec![
                    Expansion::Items(&items),
                    Expansion::Param("[1]"),
                    Expansion::Sequence(&seq),
                ],
            ),
        ];
        for (call, targets, expansions) in cases {
            let mut task_json = call.clone();
            task_json["name"] = json!("x");
            let step: WorkflowStep = serde_json::from_value(call.clone()).unwrap();
            let task: DagTask = serde_json::from_value(task_json).unwrap();
            for c in [&step as &dyn TemplateCall, &task as &dyn TemplateCall] {
                assert_eq!(c.targets(), targets, "{call}");
                assert_eq!(c.target(), targets.first().copied(), "{call}");
                assert_eq!(c.expansions(), expansions, "{call}");
                assert_eq!(c.expansion(), expansions.first().copied(), "{call}");
            }
        }
    }

    #[test]
    fn call_accessors() {
        let task: DagTask = serde_json::from_value(json!({
            "name": "deploy", "template": "t", "when": "a == b",
            "continueOn": {"failed": true}, "dependencies": ["a"], "depends": " "
        }))
        .unwrap();
        assert_eq!(task.call_name(), "deploy");
        assert_eq!(task.when(), Some("a == b"));
        assert_eq!(
            task.continue_on(),
            ContinueOn {
                error: None,
                failed: Some(true)
            }
        );
        assert!(!task.uses_depends());
        let task: DagTask =
            serde_json::from_value(json!({"name": "d", "depends": "a.Succeeded"})).unwrap();
        assert!(task.uses_depends());
        assert_eq!(task.continue_on(), ContinueOn::default());
        let step = WorkflowStep::default();
        assert_eq!(step.call_name(), "");
        let dag: DagTemplate =
            serde_json::from_value(json!({"tasks": [{"name": "a"}, {"name": "b"}]})).unwrap();
        assert_eq!(dag.task("b").map(|t| t.name.as_str()), Some("b"));
        assert!(dag.task("c").is_none());
    }

    #[test]
    fn retry_policy_in_effect() {
        // (retryPolicy, expression, policy in effect)
        let cases = [
            (None, None, RetryPolicy::OnFailure),
            (None, Some(""), RetryPolicy::OnFailure),
            (None, Some("lastRetry.exitCode == 1"), RetryPolicy::Always),
            (Some(RetryPolicy::OnError), Some("x"), RetryPolicy::OnError),
            (
                Some(RetryPolicy::OnTransientError),
                None,
                RetryPolicy::OnTransientError,
            ),
        ];
        for (policy, expression, want) in cases {
            let r = RetryStrategy {
                retry_policy: policy,
                expression: expression.map(str::to_owned),
                ..RetryStrategy::default()
            };
            assert_eq!(r.effective_policy(), want, "{policy:?} {expression:?}");
        }
    }

    #[test]
    fn containers_convert_to_plain_containers() {
        let t = template(json!({
            "script": {"name": "s", "image": "python", "command": ["python"], "source": "print(1)",
                       "env": [{"name": "A", "value": "1"}], "workingDir": "/w", "tty": true}
        }));
        let c = t.main_container().unwrap();
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"name": "s", "image": "python", "command": ["python"],
                   "env": [{"name": "A", "value": "1"}], "workingDir": "/w", "tty": true})
        );
        let t = template(json!({"container": {"image": "alpine", "args": ["x"]}}));
        assert_eq!(t.main_container().unwrap().args, ["x"]);
        assert!(template(json!({"suspend": {}})).main_container().is_none());
        let node: ContainerNode =
            serde_json::from_value(json!({"name": "a", "image": "i", "dependencies": ["b"]}))
                .unwrap();
        assert_eq!(
            serde_json::to_value(node.to_container()).unwrap(),
            json!({"name": "a", "image": "i"})
        );
        let side: UserContainer =
            serde_json::from_value(json!({"name": "db", "mirrorVolumeMounts": true})).unwrap();
        assert_eq!(side.to_container().name.as_deref(), Some("db"));
    }

    // --- Field policy ------------------------------------------------------------------------

    /// A deserializer that records the serde name and wire field names of the struct that
    /// asks for it, then stops: the same facts the loader sees.
    struct Probe<'a>(&'a Cell<Option<(&'static str, &'static [&'static str])>>);

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = serde_json::Error;
        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _: V,
        ) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.set(Some((name, fields)));
            Err(serde::de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    fn probe<T: for<'de> Deserialize<'de>>() -> (&'static str, &'static [&'static str]) {
        let cell = Cell::new(None);
        let _ = T::deserialize(Probe(&cell));
        cell.get().unwrap()
    }

    /// Every struct of this module, as the loader sees it.
    fn structs() -> Vec<(&'static str, &'static [&'static str])> {
        vec![
            probe::<Workflow>(),
            probe::<WorkflowTemplate>(),
            probe::<ClusterWorkflowTemplate>(),
            probe::<CronWorkflow>(),
            probe::<WorkflowSpec>(),
            probe::<TtlStrategy>(),
            probe::<CronWorkflowSpec>(),
            probe::<StopStrategy>(),
            probe::<Template>(),
            probe::<Inputs>(),
            probe::<Outputs>(),
            probe::<Arguments>(),
            probe::<Parameter>(),
            probe::<ValueFrom>(),
            probe::<SuppliedValueFrom>(),
            probe::<Artifact>(),
            probe::<WorkflowStep>(),
            probe::<DagTemplate>(),
            probe::<DagTask>(),
            probe::<TemplateRef>(),
            probe::<WorkflowTemplateRef>(),
            probe::<LifecycleHook>(),
            probe::<Sequence>(),
            probe::<ContinueOn>(),
            probe::<RetryStrategy>(),
            probe::<RetryBackoff>(),
            probe::<SuspendTemplate>(),
            probe::<Container>(),
            probe::<ScriptTemplate>(),
            probe::<ContainerNode>(),
            probe::<UserContainer>(),
            probe::<ContainerSetTemplate>(),
            probe::<ContainerSetRetryStrategy>(),
            probe::<EnvVar>(),
            probe::<EnvVarSource>(),
            probe::<EnvFromSource>(),
            probe::<ConfigMapEnvSource>(),
            probe::<SecretEnvSource>(),
            probe::<ContainerPort>(),
            probe::<VolumeMount>(),
            probe::<ResourceTemplate>(),
            probe::<HttpTemplate>(),
            probe::<HttpHeader>(),
            probe::<HttpHeaderSource>(),
            probe::<DataTemplate>(),
            probe::<TransformationStep>(),
        ]
    }

    /// Names declared with `pub struct NAME` in a module's source (macro invocations included).
    fn declared_structs(source: &str) -> Vec<&str> {
        source
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub struct "))
            .filter_map(|rest| {
                rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
            })
            .filter(|name| !name.is_empty())
            .collect()
    }

    #[test]
    fn every_struct_is_probed_once() {
        let mut probed: Vec<&str> = structs().into_iter().map(|(n, _)| n).collect();
        probed.sort_unstable();
        let before = probed.len();
        probed.dedup();
        assert_eq!(probed.len(), before, "two structs share a serde name");
        let mut declared = declared_structs(include_str!("workflow.rs"));
        declared.retain(|n| *n != "AnyString"); // a newtype, not a struct with fields
        declared.sort_unstable();
        assert_eq!(probed, declared);
    }

    #[test]
    fn serde_struct_names_are_unique_across_the_crate() {
        // Field policy is keyed by struct name, so two modules must never share one.
        let modules = [
            ("workflow.rs", include_str!("workflow.rs")),
            ("events.rs", include_str!("events.rs")),
            ("core.rs", include_str!("core.rs")),
            ("meta.rs", include_str!("meta.rs")),
            ("diag.rs", include_str!("diag.rs")),
            ("kind.rs", include_str!("kind.rs")),
            ("value.rs", include_str!("value.rs")),
            ("policy.rs", include_str!("policy.rs")),
        ];
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        let mut clashes = Vec::new();
        for (file, source) in modules {
            for name in declared_structs(source) {
                if let Some(other) = seen.insert(name, file)
                    && other != file
                {
                    clashes.push(format!("{name} in {other} and {file}"));
                }
            }
        }
        assert_eq!(clashes, Vec::<String>::new());
    }

    const E: Severity = Severity::Error;
    const W: Severity = Severity::Warning;

    /// The whole field policy of this module: (struct, field, severity).
    const EXPECTED_POLICY: &[(&str, &str, Severity)] = &[
        ("Workflow", "status", W),
        ("CronWorkflow", "status", W),
        ("WorkflowSpec", "volumes", W),
        ("WorkflowSpec", "serviceAccountName", W),
        ("WorkflowSpec", "automountServiceAccountToken", W),
        ("WorkflowSpec", "executor", W),
        ("WorkflowSpec", "volumeClaimTemplates", E),
        ("WorkflowSpec", "artifactRepositoryRef", E),
        ("WorkflowSpec", "affinity", W),
        ("WorkflowSpec", "tolerations", W),
        ("WorkflowSpec", "imagePullSecrets", W),
        ("WorkflowSpec", "hostNetwork", W),
        ("WorkflowSpec", "dnsPolicy", W),
        ("WorkflowSpec", "dnsConfig", W),
        ("WorkflowSpec", "priority", W),
        ("WorkflowSpec", "schedulerName", W),
        ("WorkflowSpec", "podGC", W),
        ("WorkflowSpec", "podPriorityClassName", W),
        ("WorkflowSpec", "podPriority", W),
        ("WorkflowSpec", "hostAliases", W),
        ("WorkflowSpec", "securityContext", W),
        ("WorkflowSpec", "podSpecPatch", W),
        ("WorkflowSpec", "podDisruptionBudget", W),
        ("WorkflowSpec", "metrics", E),
        ("WorkflowSpec", "synchronization", E),
        ("WorkflowSpec", "volumeClaimGC", W),
        ("WorkflowSpec", "podMetadata", W),
        ("WorkflowSpec", "archiveLogs", W),
        ("WorkflowSpec", "workflowMetadata", W),
        ("WorkflowSpec", "artifactGC", E),
        ("WorkflowSpec", "executorPlugins", W),
        ("WorkflowSpec", "podResources", W),
        ("WorkflowSpec", "resourceClaims", W),
        ("Template", "affinity", W),
        ("Template", "metadata", W),
        ("Template", "daemon", E),
        ("Template", "resource", E),
        ("Template", "data", E),
        ("Template", "http", E),
        ("Template", "plugin", E),
        ("Template", "volumes", W),
        ("Template", "initContainers", W),
        ("Template", "sidecars", W),
        ("Template", "archiveLocation", E),
        ("Template", "tolerations", W),
        ("Template", "schedulerName", W),
        ("Template", "priorityClassName", W),
        ("Template", "priority", W),
        ("Template", "serviceAccountName", W),
        ("Template", "automountServiceAccountToken", W),
        ("Template", "executor", W),
        ("Template", "hostAliases", W),
        ("Template", "securityContext", W),
        ("Template", "podSpecPatch", W),
        ("Template", "metrics", E),
        ("Template", "synchronization", E),
        ("Template", "memoize", E),
        ("Template", "annotations", W),
        ("Template", "podResources", W),
        ("Template", "resourceClaims", W),
        ("Inputs", "artifacts", E),
        ("Outputs", "artifacts", E),
        ("Arguments", "artifacts", E),
        ("ValueFrom", "event", E),
        ("RetryStrategy", "affinity", W),
        ("ContainerSetTemplate", "volumeMounts", W),
        ("EnvVarSource", "fieldRef", E),
        ("EnvVarSource", "resourceFieldRef", E),
        ("EnvVarSource", "fileKeyRef", E),
    ];

    /// Kubernetes-only fields of Container, ScriptTemplate and ContainerNode: all warnings.
    const CONTAINER_WARNINGS: &[&str] = &[
        "resources",
        "resizePolicy",
        "restartPolicy",
        "restartPolicyRules",
        "volumeMounts",
        "volumeDevices",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "lifecycle",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "imagePullPolicy",
        "securityContext",
        "stdin",
        "stdinOnce",
        "tty",
    ];

    #[test]
    fn field_policy_is_exactly_as_listed() {
        let mut want: Vec<(&str, &str, Severity)> = EXPECTED_POLICY.to_vec();
        for ty in ["Container", "ScriptTemplate", "ContainerNode"] {
            want.extend(CONTAINER_WARNINGS.iter().map(|f| (ty, *f, W)));
        }
        want.sort_unstable();

        let mut got = Vec::new();
        for (ty, fields) in structs() {
            for field in fields {
                if let Some(p) = policy(ty, field) {
                    got.push((ty, *field, p.severity));
                    // Reasons complete "field `x` ...": no capital, no full stop, not empty.
                    assert!(
                        p.reason
                            .starts_with(|c: char| c.is_ascii_lowercase() || c == '('),
                        "{ty}.{field}: {}",
                        p.reason
                    );
                    assert!(!p.reason.ends_with('.'), "{ty}.{field}: {}", p.reason);
                    assert!(!p.reason.contains("  "), "{ty}.{field}: {}", p.reason);
                }
            }
        }
        got.sort_unstable();
        assert_eq!(got, want);

        // Through the crate's entry point, and nothing for fields we run or do not know.
        assert_eq!(
            crate::field_policy("Inputs", "artifacts").map(|p| p.reason),
            Some("needs an artifact repository, which Switchyard does not support yet")
        );
        assert_eq!(
            crate::field_policy("Template", "volumes").map(|p| p.reason),
            Some(
                "has no effect: Kubernetes volumes are not mounted by the local executor; each \
                 step gets its own scratch directory"
            )
        );
        for (ty, field) in [
            ("Template", "container"),
            ("Template", "steps"),
            ("Template", "retryStrategy"),
            ("WorkflowSpec", "entrypoint"),
            ("UserContainer", "resources"),
            ("Template", "noSuchField"),
        ] {
            assert_eq!(crate::field_policy(ty, field), None, "{ty}.{field}");
        }
    }

    #[test]
    fn unsupported_template_types_name_themselves() {
        // (field, fragment the reason must contain)
        let cases = [
            ("resource", "Kubernetes resource template"),
            ("http", "HTTP template"),
            ("data", "data template"),
            ("plugin", "executor plugin template"),
            ("synchronization", "semaphores and mutexes"),
            ("memoize", "not supported yet"),
            ("metrics", "not supported yet"),
            ("daemon", "background"),
            ("sidecars", "not started"),
            ("initContainers", "not started"),
        ];
        for (field, fragment) in cases {
            let p = policy("Template", field).unwrap();
            assert!(p.reason.contains(fragment), "{field}: {}", p.reason);
        }
    }
}
