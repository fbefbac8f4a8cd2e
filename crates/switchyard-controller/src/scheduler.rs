//! The CronWorkflow scheduler: the thin shell around [`crate::cron`].
//!
//! Every second it looks at each CronWorkflow: it asks the schedule which tick is due and,
//! when a tick is due or a run is still active, brings `status.active` up to date from the
//! runs labelled with the CronWorkflow's name, decides with the CronWorkflow's rules, creates
//! the run and prunes the history; then it writes the status if it changed.
//!
//! A tick fires at most once, across restarts too: the run of a tick has a fixed name
//! (`<cron>-<unix seconds>`) and is created only if no object has that name, so a crash
//! between creating the run and writing `lastScheduledTime` cannot create a second one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchyard_engine::WorkflowPhase;
use switchyard_model::Kind;
use switchyard_model::workflow::CronWorkflow;
use switchyard_store::{ObjectKey, Precondition, StatusUpdate, StoreError, StoredObject};
use tracing::{info, warn};

use crate::controller::{Controller, SubmitOptions};
use crate::cron::{
    self, CronSchedule, CronStatus, CronVariables, Decision, Due, FinishedRun, RunRef, SkipReason,
    ZoneLookup,
};
use crate::error::ControllerError;
use crate::metrics;
use crate::record;

/// How often CronWorkflows are looked at.
pub const SCHEDULER_INTERVAL: Duration = Duration::from_secs(1);

/// Runs the scheduler until the task is dropped.
pub async fn run_scheduler(controller: Controller, zones: Arc<dyn ZoneLookup + Send + Sync>) {
    let mut tick = tokio::time::interval(SCHEDULER_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = schedule_all(&controller, zones.as_ref(), Utc::now()).await {
            warn!(error = %e, "the CronWorkflow scheduler could not run; retrying");
        }
    }
}

/// One pass over every CronWorkflow at `now`.
pub async fn schedule_all(
    controller: &Controller,
    zones: &(dyn ZoneLookup + Send + Sync),
    now: DateTime<Utc>,
) -> Result<(), ControllerError> {
    let crons = controller.store().list(Kind::CronWorkflow, None).await?;
    for object in crons {
        if let Err(e) = schedule_one(controller, zones, &object, now).await {
            warn!(cron_workflow = %object.key(), error = %e, "cannot schedule");
        }
    }
    Ok(())
}

async fn schedule_one(
    controller: &Controller,
    zones: &(dyn ZoneLookup + Send + Sync),
    object: &StoredObject,
    now: DateTime<Utc>,
) -> Result<(), ControllerError> {
    let mut cron: CronWorkflow =
        serde_json::from_value(object.body.clone()).map_err(|e| StoreError::Corrupt {
            what: format!("{}: {e}", object.key()),
        })?;
    cron.metadata.namespace = Some(object.namespace.clone());
    cron.metadata.name = Some(object.name.clone());
    let before: CronStatus = object
        .body
        .get("status")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_default();
    let mut status = before.clone();

    let due = match CronSchedule::parse(&cron.spec, zones) {
        Err(problems) => {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            status.record_error(cron::ConditionKind::SpecError, text.join("; "));
            None
        }
        Ok(schedule) => {
            status.clear_condition(cron::ConditionKind::SpecError);
            match schedule.due(status.last_scheduled_time, object.created_at, now) {
                Due::Run { scheduled, .. } => Some(scheduled),
                Due::Nothing | Due::Expired { .. } => None,
            }
        }
    };
    // The runs are read only when something depends on them: a run still listed as active,
    // or a tick to decide. An idle CronWorkflow costs no listing.
    if !status.active.is_empty() || due.is_some() {
        let runs = own_runs(controller, object).await?;
        // Bring `active` up to date: finished runs leave it (and are counted once),
        // unfinished runs with our label join it (the status write of a run created just
        // before a crash may have been lost).
        for (name, phase, _) in &runs {
            if phase.is_finished() {
                status.record_finished(name, *phase);
            } else if !status.active.iter().any(|r| &r.name == name) {
                status.active.push(RunRef {
                    kind: "Workflow".into(),
                    api_version: "argoproj.io/v1alpha1".into(),
                    name: name.clone(),
                    namespace: Some(object.namespace.clone()),
                    uid: None,
                });
            }
        }
        status.active.retain(|r| {
            runs.iter()
                .any(|(n, p, _)| n == &r.name && !p.is_finished())
        });
        if let Some(scheduled) = due {
            tick(controller, &cron, &mut status, scheduled).await;
        }
        let finished: Vec<FinishedRun> = runs
            .iter()
            .map(|(name, phase, finished_at)| FinishedRun {
                name: name.clone(),
                phase: *phase,
                finished_at: *finished_at,
            })
            .collect();
        for name in cron::history_to_delete(&cron.spec, &finished) {
            let key = ObjectKey::new(Kind::Workflow, object.namespace.clone(), name);
            controller.delete(&key).await?;
        }
    }

    if status != before {
        let value = serde_json::to_value(&status).map_err(|e| StoreError::Internal {
            reason: format!("cannot serialize a CronWorkflow status: {e}"),
        })?;
        controller
            .store()
            .put_status(StatusUpdate {
                key: object.key(),
                status: value,
                precondition: Precondition::ResourceVersion(object.resource_version),
                logs: Vec::new(),
            })
            .await?;
    }
    Ok(())
}

/// Decides about the due tick `scheduled` and creates its run.
async fn tick(
    controller: &Controller,
    cron: &CronWorkflow,
    status: &mut CronStatus,
    scheduled: DateTime<chrono::FixedOffset>,
) {
    let namespace = cron.metadata.namespace.clone().unwrap_or_default();
    let name = cron.metadata.name.clone().unwrap_or_default();
    let vars = CronVariables::new(&cron.metadata, status);
    let decision = match cron::decide(&cron.spec, status, &vars) {
        Ok(d) => d,
        Err(e) => {
            status.record_error(e.condition(), e.to_string());
            return;
        }
    };
    match decision {
        Decision::Skip(SkipReason::StopReached) => {
            status.mark_stopped();
            return;
        }
        Decision::Skip(_) => return,
        Decision::ReplaceThenRun(names) => {
            for run in names {
                let key = ObjectKey::new(Kind::Workflow, namespace.clone(), run);
                let cmd = switchyard_engine::Command::Terminate {
                    by: format!("cronworkflow/{name}"),
                    message: Some(
                        "replaced by the next scheduled run (concurrencyPolicy: Replace)".into(),
                    ),
                };
                if let Err(e) = controller.command(&key, cmd).await {
                    warn!(error = %e, "cannot terminate a run to replace it");
                }
            }
        }
        Decision::Run => {}
    }
    let run = cron::new_run(cron, &scheduled);
    let run_name = cron::run_name(&name, &scheduled);
    let options = SubmitOptions {
        name: Some(run_name.clone()),
        ..Default::default()
    };
    match controller.submit(&namespace, run.clone(), options).await {
        Ok(_) => {
            info!(cron_workflow = %name, %namespace, run = %run_name, scheduled = %scheduled, "scheduled run created");
            metrics::cron_triggered(&namespace, &name);
        }
        // Created before a crash that lost the status write: this tick has run.
        Err(ControllerError::Store(StoreError::AlreadyExists { .. })) => {}
        Err(e) => {
            status.record_error(cron::ConditionKind::SubmissionError, e.to_string());
            return;
        }
    }
    let mut reference = RunRef::to(&run);
    reference.namespace = Some(namespace);
    status.record_run(reference, scheduled.with_timezone(&Utc));
}

/// The runs created by a CronWorkflow: (name, phase, finish time).
async fn own_runs(
    controller: &Controller,
    cron: &StoredObject,
) -> Result<Vec<(String, WorkflowPhase, Option<DateTime<Utc>>)>, ControllerError> {
    let runs = controller
        .store()
        .list(Kind::Workflow, Some(&cron.namespace))
        .await?;
    let mut out = Vec::new();
    for run in runs {
        let labels: BTreeMap<String, String> = run
            .body
            .pointer("/metadata/labels")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        if labels.get(cron::LABEL_CRON_WORKFLOW) != Some(&cron.name) {
            continue;
        }
        let Some(phase) = record::stored_phase(&run) else {
            continue;
        };
        let finished_at = run
            .body
            .pointer("/status/finishedAt")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        out.push((run.name.clone(), phase, finished_at));
    }
    Ok(out)
}
