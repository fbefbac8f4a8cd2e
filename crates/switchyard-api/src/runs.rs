//! Wire types and URLs of workflow runs: submit, act on a run, read its logs.
//!
//! ```text
//! POST   /api/v1/namespaces/{ns}/workflows                   submit ([`SubmitRequest`] → [`SubmitResponse`])
//! GET    /api/v1/namespaces/{ns}/workflows[/{name}]          list / get (the generic object routes)
//! DELETE /api/v1/namespaces/{ns}/workflows/{name}            stops the run's steps, then deletes it and its logs
//! PUT    /api/v1/namespaces/{ns}/workflows/{name}/{action}   [`RunAction`] with a [`RunActionRequest`] → the Workflow
//! GET    /api/v1/namespaces/{ns}/workflows/{name}/log        NDJSON [`LogEntry`] lines; `?step=&follow=true`
//! ```
//!
//! A run is a `Workflow` object: `spec` as submitted, `status` as Argo shapes it (`phase`,
//! `startedAt`, `finishedAt`, `progress`, `message`, `nodes`, `outputs`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use switchyard_model::{Diagnostic, Kind};

use crate::routes::{list_path, object_path};
use crate::types::SourceText;

/// `POST /api/v1/namespaces/{ns}/workflows`: submit Workflows from a manifest, or one run of a
/// (Cluster)WorkflowTemplate or CronWorkflow. Exactly one of `source` and `from`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitRequest {
    /// A manifest holding one or more `Workflow` documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceText>,
    /// `workflowtemplate/NAME`, `clusterworkflowtemplate/NAME` or `cronworkflow/NAME`
    /// (short forms `wftmpl`, `cwft`, `cwf` too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `-p name=value`: workflow parameters, overriding the manifest's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<String>,
    /// Run this template instead of the spec's entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    /// The run's name; otherwise the manifest's `name`, or `generateName` plus five random
    /// characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    /// Labels added to the run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Check everything and return what would be created, creating nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// The answer to a submit: the created `Workflow` objects, in order, and any warnings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitResponse {
    pub items: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// What can be done to a run, as the last segment of its action URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunAction {
    /// Nothing new starts until `resume`; running steps go on.
    Suspend,
    /// Resume a suspended run, or its suspend nodes (the approval gate); records who.
    Resume,
    /// Stop running steps; exit handlers still run.
    Stop,
    /// Stop everything; exit handlers do not run.
    Terminate,
    /// Run a failed run again from its failed nodes.
    Retry,
    /// Submit a new run with the same spec and parameters (overridable).
    Resubmit,
    /// Set output parameters of suspend nodes (`valueFrom.supplied`), then usually resume.
    Set,
}

impl RunAction {
    pub const ALL: &'static [RunAction] = &[
        RunAction::Suspend,
        RunAction::Resume,
        RunAction::Stop,
        RunAction::Terminate,
        RunAction::Retry,
        RunAction::Resubmit,
        RunAction::Set,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunAction::Suspend => "suspend",
            RunAction::Resume => "resume",
            RunAction::Stop => "stop",
            RunAction::Terminate => "terminate",
            RunAction::Retry => "retry",
            RunAction::Resubmit => "resubmit",
            RunAction::Set => "set",
        }
    }
}

impl fmt::Display for RunAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunAction::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = RunAction::ALL.iter().map(|a| a.as_str()).collect();
                format!("unknown action `{s}`; expected one of {}", known.join(", "))
            })
    }
}

/// The body of `PUT .../workflows/{name}/{action}`. Which fields apply depends on the action.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunActionRequest {
    /// `resume`, `retry`, `set`: which nodes, as Argo's `--node-field-selector`
    /// (`displayName=approve`, `templateName=gate,phase=Running`, `id!=x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_field_selector: Option<String>,
    /// `resume`, `stop`, `terminate`, `set`: a message recorded on the run or node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `retry`: also re-run succeeded nodes matching the selector.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restart_successful: bool,
    /// `resubmit`: `name=value` workflow parameters overriding the old run's.
    /// `set`: `name=value` output parameters of the selected suspend nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<String>,
}

/// One line of a step's log, as `GET .../log` streams it (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// The node id and its name (`hello-x7k2p.build(0:a)`), as in the run's status.
    pub node_id: String,
    pub node_name: String,
    /// RFC 3339 with nanoseconds.
    pub time: String,
    /// `stdout`, `stderr`, or `system` (a line the runner wrote: truncation, stop reason).
    pub stream: String,
    pub text: String,
}

/// Query of `GET .../log`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogQuery {
    /// A node id, node name or display name; absent = every step, in start order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Keep the stream open until the selected steps (or the run) end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follow: bool,
}

/// The collection URL of the runs of `namespace` (submit, list).
pub fn workflows_path(namespace: &str) -> String {
    list_path(Kind::Workflow, Some(namespace))
}

/// The URL of one action on a run.
pub fn run_action_path(namespace: &str, name: &str, action: RunAction) -> String {
    format!(
        "{}/{}",
        object_path(Kind::Workflow, namespace, name),
        action.as_str()
    )
}

/// The URL of a run's logs (add [`LogQuery`] as the query string).
pub fn run_log_path(namespace: &str, name: &str) -> String {
    format!("{}/log", object_path(Kind::Workflow, namespace, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        assert_eq!(
            workflows_path("team-a"),
            "/api/v1/namespaces/team-a/workflows"
        );
        assert_eq!(
            run_action_path("default", "hello-abcde", RunAction::Resume),
            "/api/v1/namespaces/default/workflows/hello-abcde/resume"
        );
        assert_eq!(
            run_log_path("default", "a/b"),
            "/api/v1/namespaces/default/workflows/a%2Fb/log"
        );
    }

    #[test]
    fn actions_round_trip_and_reject_unknown() {
        for a in RunAction::ALL {
            assert_eq!(a.as_str().parse::<RunAction>(), Ok(*a));
            assert_eq!(serde_json::to_value(a).unwrap(), json!(a.as_str()));
        }
        let err = "approve".parse::<RunAction>().unwrap_err();
        assert!(err.contains("unknown action `approve`"), "{err}");
        assert!(err.contains("resume"), "{err}");
    }

    #[test]
    fn submit_request_wire_shape() {
        let req = SubmitRequest {
            from: Some("workflowtemplate/env".into()),
            parameters: vec!["env=dev".into()],
            dry_run: true,
            ..Default::default()
        };
        let wire =
            json!({"from": "workflowtemplate/env", "parameters": ["env=dev"], "dryRun": true});
        assert_eq!(serde_json::to_value(&req).unwrap(), wire);
        assert_eq!(serde_json::from_value::<SubmitRequest>(wire).unwrap(), req);
    }

    #[test]
    fn action_request_wire_shape() {
        let req = RunActionRequest {
            node_field_selector: Some("displayName=approve".into()),
            message: Some("looks good".into()),
            ..Default::default()
        };
        let wire = json!({"nodeFieldSelector": "displayName=approve", "message": "looks good"});
        assert_eq!(serde_json::to_value(&req).unwrap(), wire);
        assert_eq!(
            serde_json::from_value::<RunActionRequest>(json!({})).unwrap(),
            RunActionRequest::default()
        );
    }
}
