//! Reading a run's step logs: finished steps from the store, running steps from the runner,
//! and, when following, new lines as they come until the selected steps or the run end.

use std::collections::HashMap;
use std::time::Duration;

use switchyard_engine::{LogLine, Node, NodeType, RunState};
use switchyard_store::ObjectKey;
use tokio::sync::mpsc;

use crate::controller::Controller;
use crate::error::ControllerError;
use crate::record;
use crate::run::decode_log;

/// How often a follower looks for new lines.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(200);

/// One log line of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLogLine {
    pub node_id: String,
    pub node_name: String,
    pub line: LogLine,
}

/// Which logs to read.
#[derive(Debug, Clone, Default)]
pub struct LogSelect {
    /// A node id, node name or display name; `None` = every step.
    pub step: Option<String>,
    pub follow: bool,
}

impl Controller {
    /// Checks that the run (and the step, if one is named) exists, so a bad request fails
    /// before streaming starts.
    pub async fn check_log_request(
        &self,
        key: &ObjectKey,
        select: &LogSelect,
    ) -> Result<(), ControllerError> {
        let state = self.load(key).await?;
        if let Some(step) = &select.step
            && !state.status.nodes.values().any(|n| matches_step(n, step))
        {
            return Err(ControllerError::NoSuchNode {
                run: key.name.clone(),
                node: step.clone(),
            });
        }
        Ok(())
    }

    /// Sends the selected log lines to `sink`, in step start order; with `follow`, keeps
    /// sending until the selected steps (or the run) have ended or the receiver is gone.
    pub async fn read_logs(
        &self,
        key: &ObjectKey,
        select: LogSelect,
        sink: mpsc::Sender<StepLogLine>,
    ) -> Result<(), ControllerError> {
        let mut sent: HashMap<String, usize> = HashMap::new();
        loop {
            let state = self.load(key).await?;
            let mut steps: Vec<&Node> = state
                .status
                .nodes
                .values()
                .filter(|n| n.step.is_some())
                .filter(|n| select.step.as_ref().is_none_or(|s| selected(&state, n, s)))
                .collect();
            steps.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
            let mut all_done = true;
            for n in steps {
                let Some(step) = &n.step else { continue };
                let Some(handle) = &step.handle else {
                    all_done &= n.fulfilled();
                    continue;
                };
                let from = sent.get(&n.id).copied().unwrap_or(0);
                let lines = if n.fulfilled() {
                    match self.store().step_log(key, &handle.id).await? {
                        Some(text) => decode_log(&text),
                        // Not written yet (or lost): what the runner still has.
                        None => self.runner().logs(handle, 0).await.unwrap_or_default(),
                    }
                } else {
                    all_done = false;
                    self.runner().logs(handle, 0).await.unwrap_or_default()
                };
                for line in lines.into_iter().skip(from) {
                    let entry = StepLogLine {
                        node_id: n.id.clone(),
                        node_name: n.name.clone(),
                        line,
                    };
                    if sink.send(entry).await.is_err() {
                        return Ok(());
                    }
                    *sent.entry(n.id.clone()).or_default() += 1;
                }
            }
            let finished = state.status.phase.is_finished();
            if !select.follow || (all_done && (finished || select.step.is_some())) {
                return Ok(());
            }
            tokio::time::sleep(FOLLOW_INTERVAL).await;
            if sink.is_closed() {
                return Ok(());
            }
        }
    }

    async fn load(&self, key: &ObjectKey) -> Result<RunState, ControllerError> {
        Ok(record::from_object(&self.stored(key).await?)?)
    }
}

fn matches_step(n: &Node, step: &str) -> bool {
    n.id == step || n.name == step || n.display_name == step
}

/// A step node is selected by its own name, or by the name of a node above it (a retry
/// parent, a step group, a DAG task with its loop children).
fn selected(state: &RunState, n: &Node, step: &str) -> bool {
    if matches_step(n, step) {
        return true;
    }
    state
        .status
        .nodes
        .values()
        .filter(|p| matches_step(p, step))
        .any(|p| descends(state, p, &n.id, 0))
}

fn descends(state: &RunState, from: &Node, target: &str, depth: usize) -> bool {
    // Only groups contain steps; a step's own `children` are the tasks that run after it.
    let group = matches!(
        from.node_type,
        NodeType::Retry
            | NodeType::StepGroup
            | NodeType::TaskGroup
            | NodeType::Steps
            | NodeType::Dag
    );
    if depth > 64 || !group {
        return false;
    }
    from.children.iter().any(|c| {
        c == target
            || state
                .status
                .nodes
                .get(c)
                .is_some_and(|child| descends(state, child, target, depth + 1))
    })
}
