//! The controller's Prometheus metrics, under Argo Workflows' names where Argo has one:
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `argo_workflows_gauge{phase}` | gauge | runs in each phase (every stored run, finished ones included) |
//! | `argo_workflows_total_count{phase}` | counter | runs that entered each phase since start |
//! | `argo_workflows_pods_gauge{phase="Running"}` | gauge | steps running now |
//! | `argo_workflows_queue_depth_gauge{queue_name="workflow_queue"}` | gauge | messages waiting for run actors |
//! | `argo_workflows_operation_duration_seconds` | histogram | time to apply one batch of messages to a run |
//! | `argo_workflows_cronworkflows_triggered_total{name,namespace,phase}` | counter | runs started by CronWorkflows |
//! | `switchyard_step_duration_seconds{result}` | histogram | wall time of each step, by `succeeded`/`failed`/`stopped` |

use std::time::Duration;

use switchyard_engine::{StepResult, WorkflowPhase};

pub const WORKFLOWS_GAUGE: &str = "argo_workflows_gauge";
pub const WORKFLOWS_TOTAL: &str = "argo_workflows_total_count";
pub const PODS_GAUGE: &str = "argo_workflows_pods_gauge";
pub const QUEUE_DEPTH: &str = "argo_workflows_queue_depth_gauge";
pub const OPERATION_DURATION: &str = "argo_workflows_operation_duration_seconds";
pub const CRON_TRIGGERED: &str = "argo_workflows_cronworkflows_triggered_total";
pub const STEP_DURATION: &str = "switchyard_step_duration_seconds";

const QUEUE: &str = "workflow_queue";

/// A run moved from `from` (None: it is new to this process) to `to`.
pub fn phase_changed(from: Option<WorkflowPhase>, to: WorkflowPhase) {
    if let Some(from) = from {
        metrics::gauge!(WORKFLOWS_GAUGE, "phase" => from.as_str()).decrement(1.0);
    }
    metrics::gauge!(WORKFLOWS_GAUGE, "phase" => to.as_str()).increment(1.0);
    metrics::counter!(WORKFLOWS_TOTAL, "phase" => to.as_str()).increment(1);
}

/// A stored run counted at start-up (not a transition).
pub fn run_loaded(phase: WorkflowPhase) {
    metrics::gauge!(WORKFLOWS_GAUGE, "phase" => phase.as_str()).increment(1.0);
}

/// A run was deleted.
pub fn run_removed(phase: WorkflowPhase) {
    metrics::gauge!(WORKFLOWS_GAUGE, "phase" => phase.as_str()).decrement(1.0);
}

pub fn step_started() {
    metrics::gauge!(PODS_GAUGE, "phase" => "Running").increment(1.0);
}

pub fn step_finished(result: Option<&StepResult>) {
    metrics::gauge!(PODS_GAUGE, "phase" => "Running").decrement(1.0);
    if let Some(r) = result {
        let outcome = if r.stopped.is_some() {
            "stopped"
        } else if r.exit_code == Some(0) {
            "succeeded"
        } else {
            "failed"
        };
        metrics::histogram!(STEP_DURATION, "result" => outcome).record(crate::run::step_seconds(r));
    }
}

pub fn enqueued() {
    metrics::gauge!(QUEUE_DEPTH, "queue_name" => QUEUE).increment(1.0);
}

pub fn dequeued(n: usize) {
    metrics::gauge!(QUEUE_DEPTH, "queue_name" => QUEUE).decrement(n as f64);
}

pub fn operation(d: Duration) {
    metrics::histogram!(OPERATION_DURATION).record(d.as_secs_f64());
}

pub fn cron_triggered(namespace: &str, name: &str) {
    metrics::counter!(CRON_TRIGGERED, "namespace" => namespace.to_string(), "name" => name.to_string())
        .increment(1);
}
