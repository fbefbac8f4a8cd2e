//! A test harness: drives `apply` with commands at chosen times and describes the actions and
//! nodes as short strings for exact assertions. No processes, no clock.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value as Json;
use switchyard_engine::{
    Action, Command, Library, NodePhase, Reattach, RunState, StepHandle, StepResult, StopReason,
    apply, submit,
};
use switchyard_model::workflow::Workflow;

/// Seconds after 2024-01-01T00:00:00Z.
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

pub fn workflow(spec: Json) -> Workflow {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "wf", "labels": {"team": "platform"}},
        "spec": spec
    }))
    .unwrap()
}

pub struct Run {
    pub st: RunState,
    /// Every action so far, described.
    pub log: Vec<String>,
}

impl Run {
    /// Submits `spec` as workflow `wf` at t(0) and applies `Submit`.
    pub fn start(spec: Json) -> (Run, Vec<String>) {
        Self::start_with(spec, Library::default())
    }

    pub fn start_with(spec: Json, library: Library) -> (Run, Vec<String>) {
        let st = submit("wf", "default", "uid-1", &workflow(spec), library, t(0)).unwrap();
        let mut run = Run {
            st,
            log: Vec::new(),
        };
        let a = run.cmd(Command::Submit, 0);
        (run, a)
    }

    /// Applies a command at t(secs) and returns the actions, described.
    pub fn cmd(&mut self, cmd: Command, secs: i64) -> Vec<String> {
        let actions = apply(&mut self.st, cmd, t(secs)).unwrap();
        let described: Vec<String> = actions.iter().map(|a| self.describe(a)).collect();
        self.log.extend(described.clone());
        described
    }

    pub fn try_cmd(&mut self, cmd: Command, secs: i64) -> Result<Vec<String>, String> {
        apply(&mut self.st, cmd, t(secs))
            .map(|actions| actions.iter().map(|a| self.describe(a)).collect())
            .map_err(|e| e.to_string())
    }

    pub fn describe(&self, a: &Action) -> String {
        match a {
            Action::StartStep(spec) => {
                let node = self.st.node_of_step(&spec.id).map(|n| n.name.clone());
                format!("start {}", node.unwrap_or_else(|| format!("?{}", spec.id)))
            }
            Action::StopStep { node, reason } => {
                format!("stop {} {reason:?}", self.name(node))
            }
            Action::CleanupStep { node, .. } => format!("cleanup {}", self.name(node)),
            Action::Reattach { node, .. } => format!("reattach {}", self.name(node)),
            Action::WakeAt(at) => format!("wake {}", (*at - t(0)).num_seconds()),
            Action::Finished { phase } => format!("finished {phase:?}"),
        }
    }

    pub fn name(&self, id: &str) -> String {
        self.st
            .status
            .nodes
            .get(id)
            .map(|n| n.name.clone())
            .unwrap_or_else(|| format!("?{id}"))
    }

    pub fn id(&self, name: &str) -> String {
        self.st
            .node_by_name(name)
            .unwrap_or_else(|| panic!("no node {name}: {:#?}", self.nodes()))
            .id
            .clone()
    }

    pub fn handle(&self, name: &str, secs: i64) -> StepHandle {
        let node = self.st.node_by_name(name).unwrap();
        let spec = &node.step.as_ref().unwrap().spec;
        StepHandle {
            id: spec.id.clone(),
            pid: 1000,
            pid_start_time: 7,
            dir: PathBuf::from(format!("/tmp/steps/{}", spec.id)),
            started_at: t(secs),
        }
    }

    /// Reports the step of node `name` started at t(secs).
    pub fn started(&mut self, name: &str, secs: i64) -> Vec<String> {
        let handle = self.handle(name, secs);
        let node = self.id(name);
        self.cmd(Command::StepStarted { node, handle }, secs)
    }

    /// Reports the step of node `name` exited at t(secs).
    pub fn exited(&mut self, name: &str, code: i32, stdout: &str, secs: i64) -> Vec<String> {
        let result = result(code, stdout, secs);
        let node = self.id(name);
        self.cmd(Command::StepExited { node, result }, secs)
    }

    /// Reports the step exited with output parameter files.
    pub fn exited_with(
        &mut self,
        name: &str,
        code: i32,
        stdout: &str,
        outputs: &[(&str, Result<&str, &str>)],
        secs: i64,
    ) -> Vec<String> {
        let mut result = result(code, stdout, secs);
        result.outputs = outputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string).map_err(str::to_string)))
            .collect();
        let node = self.id(name);
        self.cmd(Command::StepExited { node, result }, secs)
    }

    /// Started then exited at the same time; returns the actions of the exit.
    pub fn run(&mut self, name: &str, code: i32, stdout: &str, secs: i64) -> Vec<String> {
        let a = self.started(name, secs);
        assert_eq!(a, Vec::<String>::new(), "starting {name}");
        self.exited(name, code, stdout, secs)
    }

    pub fn stopped(&mut self, name: &str, reason: StopReason, secs: i64) -> Vec<String> {
        let mut result = result(143, "", secs);
        result.exit_code = None;
        result.stopped = Some(reason);
        let node = self.id(name);
        self.cmd(Command::StepExited { node, result }, secs)
    }

    pub fn recovered(&mut self, name: &str, outcome: Reattach, secs: i64) -> Vec<String> {
        let node = self.id(name);
        self.cmd(Command::Recovered { node, outcome }, secs)
    }

    pub fn tick(&mut self, secs: i64) -> Vec<String> {
        self.cmd(Command::Tick, secs)
    }

    /// Every node as `name type phase [message]`, by name.
    pub fn nodes(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .st
            .status
            .nodes
            .values()
            .map(|n| {
                let ty = serde_json::to_value(n.node_type).unwrap();
                let mut s = format!("{} {} {:?}", n.name, ty.as_str().unwrap(), n.phase);
                if let Some(m) = &n.message {
                    s.push_str(&format!(" ({m})"));
                }
                s
            })
            .collect();
        out.sort();
        out
    }

    pub fn phase(&self, name: &str) -> NodePhase {
        self.st.node_by_name(name).unwrap().phase
    }

    pub fn message(&self, name: &str) -> Option<String> {
        self.st.node_by_name(name).unwrap().message.clone()
    }

    /// The children of a node, by name.
    pub fn children(&self, name: &str) -> Vec<String> {
        let n = self.st.node_by_name(name).unwrap();
        n.children.iter().map(|c| self.name(c)).collect()
    }

    /// The StartStep spec of a node.
    pub fn spec(&self, name: &str) -> &switchyard_engine::StepSpec {
        &self
            .st
            .node_by_name(name)
            .unwrap()
            .step
            .as_ref()
            .unwrap()
            .spec
    }

    pub fn env(&self, name: &str, var: &str) -> Option<String> {
        self.spec(name)
            .env
            .iter()
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.clone())
    }

    pub fn wf_phase(&self) -> String {
        format!("{:?}", self.st.status.phase)
    }
}

pub fn result(code: i32, stdout: &str, secs: i64) -> StepResult {
    StepResult {
        exit_code: Some(code),
        result: stdout.to_string(),
        outputs: BTreeMap::new(),
        stopped: None,
        message: if code == 0 {
            String::new()
        } else {
            format!("exit code {code}")
        },
        started_at: t(secs),
        finished_at: t(secs),
    }
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
