//! The persisted state of one workflow run: its identity, the resolved spec, the library of
//! referenced templates taken at submit, and Argo's status model (workflow phase, the node
//! tree, outputs, progress), plus the timers the engine waits on.
//!
//! [`RunState`] is plain data (serde, JSON): the shell writes it after every transition, and a
//! run continues from it after a restart exactly as it would have without one. Field names
//! follow Argo's `WorkflowStatus` and `NodeStatus` wire names where Argo has the field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_model::workflow::{
    Arguments, Inputs, Outputs, Parameter, ShutdownStrategy, TemplateRef, WorkflowSpec,
};

use crate::memo::Memo;
use crate::step::{StepHandle, StepSpec, StopReason};

/// A node id: `<workflow name>-<FNV-1a 32-bit hash of the node name, decimal>`, or the
/// workflow name itself for the root node (as Argo forms them).
pub type NodeId = String;

/// The phase of the whole run (Argo's `WorkflowPhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WorkflowPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Error,
}

impl WorkflowPhase {
    /// Whether the run has ended.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            WorkflowPhase::Succeeded | WorkflowPhase::Failed | WorkflowPhase::Error
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowPhase::Pending => "Pending",
            WorkflowPhase::Running => "Running",
            WorkflowPhase::Succeeded => "Succeeded",
            WorkflowPhase::Failed => "Failed",
            WorkflowPhase::Error => "Error",
        }
    }
}

/// The phase of one node (Argo's `NodePhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodePhase {
    Pending,
    Running,
    Succeeded,
    /// The node was not run because its `when` was false (or its loop was empty).
    Skipped,
    Failed,
    Error,
    /// A DAG task that was not run because its `depends` was not met.
    Omitted,
}

impl NodePhase {
    /// Succeeded, Failed or Error (Skipped and Omitted are not "completed", as in Argo).
    pub fn completed(self) -> bool {
        self.failed_or_error() || self == NodePhase::Succeeded
    }

    /// Completed, Skipped or Omitted: nothing more will happen to the node.
    pub fn fulfilled(self) -> bool {
        self.completed() || self == NodePhase::Skipped || self == NodePhase::Omitted
    }

    pub fn failed_or_error(self) -> bool {
        matches!(self, NodePhase::Failed | NodePhase::Error)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NodePhase::Pending => "Pending",
            NodePhase::Running => "Running",
            NodePhase::Succeeded => "Succeeded",
            NodePhase::Skipped => "Skipped",
            NodePhase::Failed => "Failed",
            NodePhase::Error => "Error",
            NodePhase::Omitted => "Omitted",
        }
    }
}

/// What a node stands for (Argo's `NodeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeType {
    /// A container or script template: one process.
    Pod,
    /// One container of a `containerSet`.
    Container,
    Steps,
    StepGroup,
    #[serde(rename = "DAG")]
    Dag,
    /// The node of a DAG task that was expanded by a loop.
    TaskGroup,
    /// The parent of the attempts of a template with a `retryStrategy`.
    Retry,
    /// A node that never ran: skipped, omitted, or failed before it could start.
    Skipped,
    Suspend,
}

/// Argo's `NodeFlag`: whether a node is a hook (exit handler, lifecycle hook) or an attempt of
/// a retried template.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeFlag {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hooked: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retried: bool,
}

/// A reference to one key of a Secret that the shell adds to a step's environment when it
/// starts the step (secret values are never written into the run state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretEnvRef {
    /// The variable name; for a whole-Secret reference (`envFrom.secretRef`), the prefix
    /// prepended to every key (possibly empty).
    pub name: String,
    /// The Secret's name (in the run's namespace).
    pub secret: String,
    /// The key; `None` for `envFrom.secretRef` (every key becomes a variable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A missing Secret or key is not an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// The runner side of a Pod or Container node: what was asked for and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    /// The step as the engine asked for it ([`StepSpec::id`] is unique per node and run
    /// generation, so a re-run after `retry` never finds an older step's directory).
    pub spec: StepSpec,
    /// Environment variables to fill from Secrets when starting the step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<SecretEnvRef>,
    /// Set once the runner reported the process started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<StepHandle>,
    /// Why the engine wants the step stopped, once it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopReason>,
    /// Whether a `StopStep` action was emitted for `stop`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_sent: bool,
    /// The template's output parameters (names, paths, defaults, `globalName`), read when the
    /// step ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declared_outputs: Vec<Parameter>,
}

/// One node of the run's node tree (Argo's `NodeStatus`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub id: NodeId,
    /// `wf`, `wf[0].step`, `wf.task`, `wf.task(0:item)`, `wf.task(1)`, `wf.onExit`, ...
    pub name: String,
    pub display_name: String,
    #[serde(rename = "type")]
    pub node_type: NodeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ref: Option<TemplateRef>,
    /// Where the node's template was found: absent for the workflow's own templates,
    /// `namespaced/<name>` or `cluster/<name>` for a (Cluster)WorkflowTemplate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_scope: Option<String>,
    pub phase: NodePhase,
    /// The id of the steps/DAG node this node belongs to.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "boundaryID"
    )]
    pub boundary_id: Option<NodeId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<NodeId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbound_nodes: Vec<NodeId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Inputs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Outputs>,
    /// `N/M`: finished and total leaf steps under this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_flag: Option<NodeFlag>,
    /// Set on every node created by an exit handler (they keep running under `Stop`, and the
    /// workflow deadline does not apply to them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exit_handler: bool,
    /// Pod and Container nodes: the step asked of the runner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepRecord>,
    /// When the engine must act on this node: a step's `timeout` (or
    /// `activeDeadlineSeconds`) runs out, a suspend's `duration` ends, a retry's backoff ends,
    /// a pod the node cannot take reaches its `timeout` or `pendingTimeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// Suspend nodes: who resumed it, and what they said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_message: Option<String>,
}

impl Node {
    pub fn fulfilled(&self) -> bool {
        self.phase.fulfilled()
    }

    pub fn hooked(&self) -> bool {
        self.node_flag.is_some_and(|f| f.hooked)
    }

    pub fn retried(&self) -> bool {
        self.node_flag.is_some_and(|f| f.retried)
    }

    /// The handle of the started step, if any.
    pub fn handle(&self) -> Option<&StepHandle> {
        self.step.as_ref().and_then(|s| s.handle.as_ref())
    }

    /// A suspend node that is still waiting.
    pub fn is_active_suspend(&self) -> bool {
        self.node_type == NodeType::Suspend && !self.fulfilled()
    }
}

/// The status of the run (Argo's `WorkflowStatus`, the parts a local engine has).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    pub phase: WorkflowPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `N/M` over the run's leaf steps.
    pub progress: String,
    /// Global outputs: output parameters published with `globalName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Outputs>,
    #[serde(default)]
    pub nodes: BTreeMap<NodeId, Node>,
    /// What the engine keeps in memory about the run between commands; never stored, and
    /// left out of comparisons.
    #[serde(skip)]
    pub(crate) memo: Memo,
}

/// Specs of the (Cluster)WorkflowTemplates a run refers to, the ConfigMap data it reads, and
/// the host commands that stand in for image entrypoints, copied when the run is submitted so
/// that a later change to them does not change a run in flight (and a restart replays the
/// same run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Library {
    /// `WorkflowTemplate`s of the run's namespace, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workflow_templates: BTreeMap<String, WorkflowSpec>,
    /// `ClusterWorkflowTemplate`s, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cluster_workflow_templates: BTreeMap<String, WorkflowSpec>,
    /// `ConfigMap` data of the run's namespace, by ConfigMap name (for `configMapKeyRef`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config_maps: BTreeMap<String, BTreeMap<String, String>>,
    /// Host commands that stand in for image entrypoints, by image reference
    /// (`argoproj/argosay`, `argoproj/argosay:v2`): a container without a `command` runs the
    /// command of its image followed by its `args`, as Kubernetes runs an image's entrypoint.
    /// See [`Library::image_entrypoint`] for how an image finds its entry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub image_entrypoints: BTreeMap<String, Vec<String>>,
    /// The labels of the one node steps run on (this machine), as a kubelet sets them
    /// (`kubernetes.io/arch`, `kubernetes.io/os`, `kubernetes.io/hostname`, ...) plus the
    /// operator's own. A pod whose `nodeSelector` asks for a label this node lacks is never
    /// started: it waits in `Pending`, as Kubernetes' scheduler leaves it, until the run ends
    /// it (its deadline, a template `timeout`, stop, terminate, delete). The shell gives them
    /// (the engine never looks at the host); they are kept with the run like the rest of the
    /// library, so a restart decides as the first start did.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_labels: BTreeMap<String, String>,
}

impl Library {
    /// The host command standing in for the entrypoint of `image`, from
    /// [`Library::image_entrypoints`]: an entry for exactly `image` first; then one naming the
    /// same repository and tag or digest, Docker Hub's `docker.io/` and `library/` prefixes
    /// aside (`docker.io/library/alpine:3` is `alpine:3`); then an entry without a tag or
    /// digest for the image's repository (`argoproj/argosay` serves `argoproj/argosay:v2`).
    pub fn image_entrypoint(&self, image: &str) -> Option<&[String]> {
        if let Some(command) = self.image_entrypoints.get(image) {
            return Some(command);
        }
        let (repository, version) = image_parts(image);
        let mut untagged = None;
        for (key, command) in &self.image_entrypoints {
            let (key_repository, key_version) = image_parts(key);
            if key_repository != repository {
                continue;
            }
            if key_version == version {
                return Some(command);
            }
            if key_version.is_empty() && untagged.is_none() {
                untagged = Some(command.as_slice());
            }
        }
        untagged
    }
}

/// An image reference split into its repository, without Docker Hub's `docker.io/` (or
/// `index.docker.io/`) and `library/` prefixes, and the rest: its `:tag`, `@digest`, both, or
/// nothing.
pub fn image_parts(image: &str) -> (&str, &str) {
    let image = image.trim();
    let name_end = image.find('@').unwrap_or(image.len());
    // A `:` after the last `/` starts the tag; one before it belongs to a registry's port.
    let last_slash = image[..name_end].rfind('/').map_or(0, |i| i + 1);
    let repository_end = image[last_slash..name_end]
        .find(':')
        .map_or(name_end, |i| last_slash + i);
    let mut repository = &image[..repository_end];
    for registry in ["docker.io/", "index.docker.io/"] {
        if let Some(rest) = repository.strip_prefix(registry) {
            repository = rest;
        }
    }
    let repository = repository.strip_prefix("library/").unwrap_or(repository);
    (repository, &image[repository_end..])
}

/// A reference from a run to something the [`Library`] must hold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LibraryRef {
    WorkflowTemplate(String),
    ClusterWorkflowTemplate(String),
    ConfigMap(String),
}

/// What a timer is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimerKind {
    /// A retry waits out its backoff.
    Backoff,
    /// A suspend template with a `duration`.
    Suspend,
    /// The workflow's `activeDeadlineSeconds`.
    WorkflowDeadline,
    /// A step's `timeout` / `activeDeadlineSeconds`; for a pod the node cannot take, its
    /// template's `timeout` / `pendingTimeout`.
    StepTimeout,
}

/// A point in time the engine must be woken at (with [`crate::Command::Tick`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timer {
    pub at: DateTime<Utc>,
    pub kind: TimerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
}

/// A requested shutdown (`stop` or `terminate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shutdown {
    pub strategy: ShutdownStrategy,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Everything about one run. See the module doc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunState {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub creation_timestamp: DateTime<Utc>,
    /// The spec the run executes: the workflow's own, merged over its `workflowTemplateRef`.
    pub spec: WorkflowSpec,
    pub library: Library,
    /// The workflow parameters with their values resolved at submit (what
    /// `{{workflow.parameters.NAME}}` reads).
    pub arguments: Arguments,
    pub status: RunStatus,
    /// What the engine waits for, soonest first (recomputed after every transition).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timers: Vec<Timer>,
    /// The time of the last `WakeAt` action emitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<DateTime<Utc>>,
    /// The whole workflow is suspended (`spec.suspend`, `switchyard suspend`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspended: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<Shutdown>,
    /// Incremented by every `RetryFailed`; part of each step id.
    #[serde(default)]
    pub generation: u32,
}

impl RunState {
    /// An empty run, standing in for one that is being worked on elsewhere.
    pub(crate) fn placeholder() -> RunState {
        RunState {
            name: String::new(),
            namespace: String::new(),
            uid: String::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            creation_timestamp: DateTime::<Utc>::MIN_UTC,
            spec: WorkflowSpec::default(),
            library: Library::default(),
            arguments: Arguments::default(),
            status: RunStatus {
                phase: WorkflowPhase::Pending,
                started_at: None,
                finished_at: None,
                message: None,
                progress: String::new(),
                outputs: None,
                nodes: BTreeMap::new(),
                memo: Memo::default(),
            },
            timers: Vec::new(),
            wake_at: None,
            suspended: false,
            shutdown: None,
            generation: 0,
        }
    }

    /// The node with this name, if it exists.
    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.status
            .nodes
            .get(&crate::naming::node_id(&self.name, name))
    }

    /// The node a step (by [`StepSpec::id`]) belongs to.
    pub fn node_of_step(&self, step_id: &str) -> Option<&Node> {
        let is_step = |n: &&Node| n.step.as_ref().is_some_and(|s| s.spec.id == step_id);
        // A step id is its node's id, followed by `-<generation>` after a retry: look there
        // first, and only then through every node.
        let by_id = step_id
            .strip_suffix(&format!("-{}", self.generation))
            .filter(|_| self.generation > 0)
            .unwrap_or(step_id);
        self.status
            .nodes
            .get(by_id)
            .filter(is_step)
            .or_else(|| self.status.nodes.values().find(is_step))
    }

    /// The Secret-backed environment variables of a step node, for the shell to fill in when
    /// it starts the step.
    pub fn secret_env(&self, node: &str) -> &[SecretEnvRef] {
        self.status
            .nodes
            .get(node)
            .and_then(|n| n.step.as_ref())
            .map_or(&[], |s| s.secret_env.as_slice())
    }

    /// The root node (named after the workflow), once it exists.
    pub fn root(&self) -> Option<&Node> {
        self.status.nodes.get(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_find_their_entrypoint_exactly_then_by_repository() {
        let library = Library {
            image_entrypoints: [
                ("argoproj/argosay", "say"),
                ("argoproj/argosay:v1", "cowsay"),
                ("docker.io/library/alpine:3.19", "busybox-3.19"),
                ("localhost:5000/tools", "local-tools"),
                ("ghcr.io/org/tool@sha256:abc", "pinned"),
                ("python:3.12", "exact-python"),
            ]
            .into_iter()
            .map(|(image, command)| (image.to_string(), vec![command.to_string()]))
            .collect(),
            ..Library::default()
        };
        let cases = [
            ("argoproj/argosay:v2", Some("say")),
            ("argoproj/argosay", Some("say")),
            ("argoproj/argosay:v1", Some("cowsay")),
            ("docker.io/argoproj/argosay:v1", Some("cowsay")),
            ("index.docker.io/argoproj/argosay@sha256:0123", Some("say")),
            ("alpine:3.19", Some("busybox-3.19")),
            ("library/alpine:3.19", Some("busybox-3.19")),
            ("alpine:3.20", None),
            ("alpine", None),
            ("localhost:5000/tools:1.0", Some("local-tools")),
            ("localhost:5001/tools:1.0", None),
            ("tools", None),
            ("ghcr.io/org/tool@sha256:abc", Some("pinned")),
            ("ghcr.io/org/tool@sha256:def", None),
            ("ghcr.io/org/tool", None),
            ("python:3.12", Some("exact-python")),
            ("python", None),
            ("other/argosay:v2", None),
        ];
        for (image, want) in cases {
            assert_eq!(
                library
                    .image_entrypoint(image)
                    .map(|c| c.concat())
                    .as_deref(),
                want,
                "{image}"
            );
        }
    }

    #[test]
    fn image_entrypoints_are_left_out_of_the_json_when_empty() {
        let json = serde_json::to_value(Library::default()).unwrap();
        assert_eq!(json, serde_json::json!({}));
        let mut library = Library::default();
        library
            .image_entrypoints
            .insert("argoproj/argosay".into(), vec!["say".into()]);
        let json = serde_json::to_value(&library).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"imageEntrypoints": {"argoproj/argosay": ["say"]}})
        );
        assert_eq!(serde_json::from_value::<Library>(json).unwrap(), library);
    }
}
