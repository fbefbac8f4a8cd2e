//! How a run is stored: a `Workflow` object whose `spec` is what was submitted and whose
//! `status` is the engine's [`RunState`] in Argo's shape.
//!
//! `status` holds Argo's fields (`phase`, `startedAt`, `finishedAt`, `message`, `progress`,
//! `outputs`, `nodes`), Argo's `storedWorkflowTemplateSpec` (the spec the run executes, merged
//! over its `workflowTemplateRef`), and under `switchyard` what the engine needs to continue
//! after a restart (the library copied at submit, resolved arguments, timers, suspension,
//! shutdown, retry generation). [`from_object`] reverses [`status_of`] exactly.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_engine::{Library, RunState, RunStatus, Shutdown, Timer, WorkflowPhase};
use switchyard_model::workflow::{Arguments, WorkflowSpec};
use switchyard_store::StoredObject;

/// The engine's part of `status`, under `status.switchyard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EngineRecord {
    #[serde(default)]
    library: Library,
    #[serde(default)]
    arguments: Arguments,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    timers: Vec<Timer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wake_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    suspended: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shutdown: Option<Shutdown>,
    #[serde(default)]
    generation: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusOut<'a> {
    #[serde(flatten)]
    status: &'a RunStatus,
    stored_workflow_template_spec: &'a WorkflowSpec,
    switchyard: EngineRecordRef<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EngineRecordRef<'a> {
    library: &'a Library,
    arguments: &'a Arguments,
    #[serde(skip_serializing_if = "<[Timer]>::is_empty")]
    timers: &'a [Timer],
    #[serde(skip_serializing_if = "Option::is_none")]
    wake_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    suspended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    shutdown: Option<&'a Shutdown>,
    generation: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusIn {
    #[serde(flatten)]
    status: RunStatus,
    stored_workflow_template_spec: WorkflowSpec,
    switchyard: EngineRecord,
}

/// Whether the stored run's spec (as it runs) has a `ttlStrategy`: read without decoding
/// the whole run.
pub fn has_ttl(object: &StoredObject) -> bool {
    object
        .body
        .pointer("/status/storedWorkflowTemplateSpec/ttlStrategy")
        .is_some_and(|v| !v.is_null())
}

/// The `status` value of a run.
pub fn status_of(state: &RunState) -> Result<Value, serde_json::Error> {
    serde_json::to_value(StatusOut {
        status: &state.status,
        stored_workflow_template_spec: &state.spec,
        switchyard: EngineRecordRef {
            library: &state.library,
            arguments: &state.arguments,
            timers: &state.timers,
            wake_at: state.wake_at,
            suspended: state.suspended,
            shutdown: state.shutdown.as_ref(),
            generation: state.generation,
        },
    })
}

/// The whole object of a new run: `submitted` is the Workflow's `spec` as the user wrote it.
pub fn new_object(state: &RunState, submitted: &WorkflowSpec) -> Result<Value, serde_json::Error> {
    Ok(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": state.name,
            "namespace": state.namespace,
            "labels": state.labels,
            "annotations": state.annotations,
        },
        "spec": submitted,
        "status": status_of(state)?,
    }))
}

/// Why a stored Workflow is not a run this controller can continue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workflow {namespace}/{name} has no readable run state: {reason}")]
pub struct NotARun {
    pub namespace: String,
    pub name: String,
    pub reason: String,
}

/// Reads the run back from its stored object.
pub fn from_object(object: &StoredObject) -> Result<RunState, NotARun> {
    let fail = |reason: String| NotARun {
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        reason,
    };
    let status = object
        .body
        .get("status")
        .ok_or_else(|| fail("it has no `status`".into()))?;
    let parsed: StatusIn =
        serde_json::from_value(status.clone()).map_err(|e| fail(format!("status: {e}")))?;
    let meta = object.body.get("metadata");
    let map = |field: &str| -> BTreeMap<String, String> {
        meta.and_then(|m| m.get(field))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    };
    let labels = map("labels");
    let e = parsed.switchyard;
    Ok(RunState {
        name: object.name.clone(),
        namespace: object.namespace.clone(),
        uid: object.uid.clone(),
        labels,
        annotations: map("annotations"),
        creation_timestamp: object.created_at,
        spec: parsed.stored_workflow_template_spec,
        library: e.library,
        arguments: e.arguments,
        status: parsed.status,
        timers: e.timers,
        wake_at: e.wake_at,
        suspended: e.suspended,
        shutdown: e.shutdown,
        generation: e.generation,
    })
}

/// The run's phase as stored, without reading the whole state.
pub fn stored_phase(object: &StoredObject) -> Option<WorkflowPhase> {
    object
        .body
        .pointer("/status/phase")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_engine::{Command, apply, submit};
    use switchyard_model::Kind;
    use switchyard_model::workflow::Workflow;

    fn workflow() -> Workflow {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"generateName": "hello-", "labels": {"team": "a"}},
            "spec": {
                "entrypoint": "main",
                "arguments": {"parameters": [{"name": "who", "value": "world"}]},
                "templates": [{"name": "main", "inputs": {"parameters": [{"name": "who"}]},
                  "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.who}}"]}}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_run_round_trips_through_its_object() {
        let wf = workflow();
        let now = Utc::now();
        let mut state =
            submit("hello-x", "default", "uid-1", &wf, Library::default(), now).unwrap();
        apply(&mut state, Command::Submit, now).unwrap();
        let body = new_object(&state, &wf.spec).unwrap();
        assert_eq!(body["metadata"]["labels"]["team"], "a");
        assert_eq!(body["status"]["phase"], "Running");
        assert_eq!(body["status"]["progress"], "0/1");
        let object = StoredObject {
            kind: Kind::Workflow,
            namespace: "default".into(),
            name: "hello-x".into(),
            uid: "uid-1".into(),
            resource_version: 3,
            created_at: state.creation_timestamp,
            body,
        };
        let back = from_object(&object).unwrap();
        assert_eq!(back, state);
        assert_eq!(stored_phase(&object), Some(WorkflowPhase::Running));
    }

    #[test]
    fn an_object_without_run_state_is_named_in_the_error() {
        let object = StoredObject {
            kind: Kind::Workflow,
            namespace: "default".into(),
            name: "plain".into(),
            uid: "u".into(),
            resource_version: 1,
            created_at: Utc::now(),
            body: json!({"spec": {}}),
        };
        let err = from_object(&object).unwrap_err();
        assert_eq!(
            err.to_string(),
            "workflow default/plain has no readable run state: it has no `status`"
        );
    }
}
