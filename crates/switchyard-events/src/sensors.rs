//! Sensor runners: one task per stored Sensor, feeding its events to the sensor rules and
//! recording what they decide.
//!
//! A runner has a durable bus consumer named after the sensor's uid, subscribed to the
//! subjects of its dependencies, with one delivery in flight at a time (events reach the
//! rules in bus order). For each delivery: the rules compute the new state and the triggers
//! that fire; the triggers are resolved (parameters applied) at once; then the ledger records
//! the consumption, the state and the firings in ONE transaction, and only then is the
//! delivery acknowledged. A redelivery after a crash finds the consumption recorded and is
//! acknowledged without effect, so a satisfied dependency set starts one run.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value as Json, json};
use switchyard_bus::{Consumer, ConsumerSpec, Delivery, EventBus, StartPosition, SubjectFilter};
use switchyard_model::events::{
    ArgoWorkflowOperation, K8sTriggerOperation, Sensor, TriggerRateLimitUnit,
};
use switchyard_sensor::{
    CompiledSensor, EventContext, EventInput, EventOutcome, Firing, ResolvedTrigger, SensorState,
    TriggerAction, Verdict,
};
use switchyard_store::StoredObject;
use switchyard_store::ledger::{Consumed, Consumption, EventLedger, NewFiring, SensorId};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::backlog::RunGate;
use crate::cloudevent::{CloudEvent, subject};
use crate::triggers::{Action, FiringPayload, RateLimit, Retry};

/// How long a delivery may wait for its ack before the bus sends it again.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// The wait before an event the ledger could not record is delivered again.
const RETRY_DELAY: Duration = Duration::from_secs(1);

struct Runner {
    uid: String,
    generation: u64,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// A sensor that cannot run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorProblem {
    pub namespace: String,
    pub name: String,
    pub message: String,
}

/// Every sensor runner, reconciled to the stored Sensors.
pub struct Sensors {
    ledger: Arc<dyn EventLedger>,
    bus: Arc<dyn EventBus>,
    outbox: Arc<Notify>,
    shared: bool,
    run_gate: Arc<RunGate>,
    runners: HashMap<(String, String), Runner>,
    problems: Vec<SensorProblem>,
}

impl Sensors {
    /// `shared`: other processes run replicas of the same sensors (see
    /// [`crate::pipeline::PipelineConfig::shared`]). Sensors with a trigger that starts runs
    /// wait at `run_gate` before each event.
    pub fn new(
        ledger: Arc<dyn EventLedger>,
        bus: Arc<dyn EventBus>,
        outbox: Arc<Notify>,
        shared: bool,
        run_gate: Arc<RunGate>,
    ) -> Self {
        Sensors {
            ledger,
            bus,
            outbox,
            shared,
            run_gate,
            runners: HashMap::new(),
            problems: Vec::new(),
        }
    }

    /// Sensors that could not start at the last reconcile.
    pub fn problems(&self) -> &[SensorProblem] {
        &self.problems
    }

    /// Runs exactly the given Sensors: a changed one (new generation) is restarted with its
    /// state kept, a re-created one (new uid) starts afresh, a deleted one is stopped and its
    /// state and bus consumer dropped.
    pub async fn reconcile(&mut self, objects: &[StoredObject]) {
        let mut problems = Vec::new();
        let wanted: BTreeSet<(String, String)> = objects
            .iter()
            .map(|o| (o.namespace.clone(), o.name.clone()))
            .collect();
        let gone: Vec<(String, String)> = self
            .runners
            .keys()
            .filter(|k| !wanted.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(runner) = self.runners.remove(&key) {
                self.retire(&key, runner, true).await;
            }
        }
        for object in objects {
            let key = (object.namespace.clone(), object.name.clone());
            let generation = object.generation();
            if let Some(runner) = self.runners.get(&key) {
                if runner.uid == object.uid && runner.generation == generation {
                    continue;
                }
                let recreated = runner.uid != object.uid;
                if let Some(runner) = self.runners.remove(&key) {
                    self.retire(&key, runner, recreated).await;
                }
            }
            match self.start(object).await {
                Ok(runner) => {
                    self.runners.insert(key, runner);
                }
                Err(message) => {
                    tracing::warn!(
                        sensor = %format_args!("{}/{}", object.namespace, object.name), problem = %message,
                        "sensor not started"
                    );
                    problems.push(SensorProblem {
                        namespace: object.namespace.clone(),
                        name: object.name.clone(),
                        message,
                    });
                }
            }
        }
        self.problems = problems;
    }

    /// Stops every runner (shutdown), keeping their state.
    pub async fn stop_all(&mut self) {
        for (key, runner) in std::mem::take(&mut self.runners) {
            self.retire(&key, runner, false).await;
        }
    }

    async fn retire(&self, key: &(String, String), runner: Runner, forget: bool) {
        let _ = runner.stop.send(true);
        let _ = runner.task.await;
        if forget {
            let id = SensorId {
                namespace: key.0.clone(),
                name: key.1.clone(),
                uid: runner.uid.clone(),
            };
            if let Err(err) = self.ledger.forget_sensor(&id).await {
                tracing::warn!(sensor = %id.path(), error = %err, "cannot forget a deleted sensor's state");
            }
            if let Err(err) = self.bus.delete_consumer(&consumer_name(&runner.uid)).await {
                tracing::warn!(sensor = %id.path(), error = %err, "cannot delete a deleted sensor's consumer");
            }
        }
    }

    async fn start(&self, object: &StoredObject) -> Result<Runner, String> {
        let sensor: Sensor = serde_json::from_value(object.body.clone())
            .map_err(|e| format!("the stored Sensor cannot be read: {e}"))?;
        let rules = CompiledSensor::compile(&sensor).map_err(|problems| {
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let mut filters = Vec::new();
        let subjects: BTreeSet<String> = sensor
            .spec
            .dependencies
            .iter()
            .map(|d| subject(&object.namespace, &d.event_source_name, &d.event_name))
            .collect();
        for s in subjects {
            filters.push(SubjectFilter::new(s).map_err(|e| e.to_string())?);
        }
        if filters.is_empty() {
            return Err("the sensor has no dependencies".to_owned());
        }
        let spec = ConsumerSpec::new(consumer_name(&object.uid), filters)
            .with_ack_wait(ACK_WAIT)
            .with_max_ack_pending(1)
            .with_start(StartPosition::New);
        let consumer = self
            .bus
            .consumer(spec)
            .await
            .map_err(|e| format!("cannot subscribe to the event bus: {e}"))?;
        let id = SensorId {
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            uid: object.uid.clone(),
        };
        let mut state = match self.ledger.sensor_state(&id).await {
            Ok(Some(state)) => serde_json::from_value(state).unwrap_or_else(|err| {
                tracing::warn!(sensor = %id.path(), error = %err, "the stored sensor state cannot be read; starting afresh");
                SensorState::default()
            }),
            Ok(None) => SensorState::default(),
            Err(err) => return Err(format!("cannot read the sensor's state: {err}")),
        };
        // A changed sensor drops the pending events its new spec no longer waits for.
        let cleared = rules.reconcile(&mut state);
        if !cleared.is_empty() {
            tracing::info!(sensor = %id.path(), cleared = cleared.len(), "pending events dropped: the sensor changed");
            let value = serde_json::to_value(&state).unwrap_or(Json::Null);
            self.ledger
                .put_sensor_state(&id, value)
                .await
                .map_err(|e| format!("cannot write the sensor's state: {e}"))?;
        }
        let (stop, stopped) = watch::channel(false);
        let run = SensorRun {
            id,
            rules,
            state,
            consumer,
            ledger: self.ledger.clone(),
            outbox: self.outbox.clone(),
            shared: self.shared,
            run_gate: starts_runs(&sensor).then(|| self.run_gate.clone()),
        };
        let task = tokio::spawn(run.run(stopped));
        Ok(Runner {
            uid: object.uid.clone(),
            generation: object.generation(),
            stop,
            task,
        })
    }
}

/// The bus consumer of a sensor incarnation.
pub(crate) fn consumer_name(uid: &str) -> String {
    let safe: String = uid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("sensor-{safe}")
}

struct SensorRun {
    id: SensorId,
    rules: CompiledSensor,
    state: SensorState,
    consumer: Box<dyn Consumer>,
    ledger: Arc<dyn EventLedger>,
    outbox: Arc<Notify>,
    /// Replicas in other processes consume from the same durable consumer (one delivery in
    /// flight across all of them), so the state kept here may be behind the ledger's.
    shared: bool,
    /// Set when a trigger starts runs: no event is taken while the gate is full.
    run_gate: Option<Arc<RunGate>>,
}

/// Whether a trigger of `sensor` may start a run: an `argoWorkflow` trigger, or a `k8s`
/// trigger (its resource may be a Workflow, known only once resolved).
fn starts_runs(sensor: &Sensor) -> bool {
    sensor
        .spec
        .triggers
        .iter()
        .any(|trigger| trigger.template.argo_workflow.is_some() || trigger.template.k8s.is_some())
}

impl SensorRun {
    async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        tracing::info!(sensor = %self.id.path(), "sensor started");
        loop {
            if let Some(gate) = self.run_gate.clone()
                && let Some(reason) = gate.refusal()
            {
                tracing::warn!(sensor = %self.id.path(), "{reason}: the sensor takes no event until runs finish");
                tokio::select! {
                    () = gate.room() => {}
                    _ = stopped.changed() => break,
                }
                tracing::info!(sensor = %self.id.path(), "runs finished: the sensor takes events again");
            }
            // `conditionsReset`: wake at the next reset time while events are pending.
            let reset = self
                .rules
                .next_reset(&self.state, Utc::now())
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(24 * 3600));
            let delivery = tokio::select! {
                delivery = self.consumer.next() => delivery,
                () = tokio::time::sleep(reset) => {
                    self.reset().await;
                    continue;
                }
                _ = stopped.changed() => break,
            };
            match delivery {
                Ok(delivery) => self.handle(&delivery).await,
                Err(err) => {
                    tracing::warn!(sensor = %self.id.path(), error = %err, "cannot read events; trying again");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY_DELAY) => {}
                        _ = stopped.changed() => break,
                    }
                }
            }
        }
        tracing::info!(sensor = %self.id.path(), "sensor stopped");
    }

    /// Drops pending events whose `conditionsReset` time has come, durably.
    async fn reset(&mut self) {
        let mut state = self.state.clone();
        let cleared = self.rules.reset_due(&mut state, Utc::now());
        if cleared.is_empty() {
            return;
        }
        let value = serde_json::to_value(&state).unwrap_or(Json::Null);
        match self.ledger.put_sensor_state(&self.id, value).await {
            Ok(()) => {
                tracing::info!(sensor = %self.id.path(), cleared = cleared.len(), "pending events reset by time");
                self.state = state;
            }
            Err(err) => {
                tracing::warn!(sensor = %self.id.path(), error = %err, "cannot reset pending events; trying again");
            }
        }
    }

    async fn handle(&mut self, delivery: &Delivery) {
        let event = match CloudEvent::from_bytes(&delivery.message.payload) {
            Ok(event) => event,
            Err(err) => {
                tracing::warn!(sensor = %self.id.path(), seq = delivery.seq(), error = %err, "not an event; skipped");
                self.ack(delivery).await;
                return;
            }
        };
        if self.shared {
            match self.ledger.sensor_state(&self.id).await {
                Ok(Some(state)) => match serde_json::from_value(state) {
                    Ok(state) => self.state = state,
                    Err(err) => {
                        tracing::warn!(sensor = %self.id.path(), error = %err, "the stored sensor state cannot be read; keeping this replica's");
                    }
                },
                Ok(None) => {}
                Err(err) => {
                    // Without the current state the event could be judged wrongly: leave it
                    // for a redelivery.
                    tracing::warn!(sensor = %self.id.path(), error = %err, "cannot read the sensor's state; the event will be delivered again");
                    self.nak(delivery).await;
                    return;
                }
            }
        }
        let now = Utc::now();
        let input = EventInput::json(
            EventContext {
                id: event.id.clone(),
                source: event.source.clone(),
                specversion: event.specversion.clone(),
                type_: event.kind.clone(),
                subject: event.subject.clone(),
                time: event.time,
                datacontenttype: event.datacontenttype.clone(),
            },
            &event.data,
        );
        let mut state = self.state.clone();
        let outcome = self.rules.on_event(&mut state, &input, now);
        let firings: Vec<NewFiring> = outcome
            .firings
            .iter()
            .map(|firing| new_firing(&self.rules, &self.id.namespace, firing, now))
            .collect();
        let fired = !firings.is_empty();
        let consumption = Consumption {
            sensor: self.id.clone(),
            event_key: format!("{}/{}/{}", event.source, event.subject, event.id),
            event_id: event.id.clone(),
            event_source: event.source.clone(),
            event_name: event.subject.clone(),
            at: now,
            state: serde_json::to_value(&state).unwrap_or(Json::Null),
            outcome: report(&outcome),
            firings,
        };
        match self.ledger.consume(consumption).await {
            Ok(Consumed::Now) => {
                self.state = state;
                tracing::info!(
                    sensor = %self.id.path(), event_id = %event.id, source = %event.source,
                    event = %event.subject, fired, "event consumed"
                );
                if fired {
                    self.outbox.notify_one();
                }
                self.ack(delivery).await;
            }
            Ok(Consumed::Before) => {
                tracing::debug!(sensor = %self.id.path(), event_id = %event.id, "event consumed before; acknowledged again");
                self.ack(delivery).await;
            }
            Err(err) => {
                tracing::warn!(sensor = %self.id.path(), event_id = %event.id, error = %err, "event not recorded; it will be delivered again");
                self.nak(delivery).await;
            }
        }
    }

    async fn nak(&self, delivery: &Delivery) {
        if let Err(err) = self.consumer.nak(delivery, RETRY_DELAY).await {
            tracing::warn!(sensor = %self.id.path(), error = %err, "cannot return an event to the bus");
        }
    }

    async fn ack(&self, delivery: &Delivery) {
        if let Err(err) = self.consumer.ack(delivery).await {
            tracing::warn!(sensor = %self.id.path(), seq = delivery.seq(), error = %err, "cannot acknowledge an event; it will come again and be recognised");
        }
    }
}

/// A firing as the outbox keeps it: the trigger resolved now (parameters applied), with its
/// retry strategy.
fn new_firing(
    rules: &CompiledSensor,
    namespace: &str,
    firing: &Firing,
    now: chrono::DateTime<Utc>,
) -> NewFiring {
    let (action, retry, rate_limit) = match rules.resolve(firing, now) {
        Ok(resolved) => {
            let retry = retry_of(&resolved);
            let rate_limit = rate_limit_of(&resolved);
            (action_of(resolved, firing, namespace), retry, rate_limit)
        }
        Err(err) => (
            Action::Refused {
                reason: format!("trigger `{}` cannot be resolved: {err}", firing.trigger),
            },
            Retry::default(),
            None,
        ),
    };
    // The dead-letter trigger is resolved now too, for the same events.
    let dlq = match rules.resolve_dlq(firing, now) {
        Ok(Some(resolved)) => Some(action_of(resolved, firing, namespace)),
        Ok(None) => None,
        Err(err) => Some(Action::Refused {
            reason: format!("the dlqTrigger cannot be resolved: {err}"),
        }),
    };
    let payload = FiringPayload {
        action,
        retry,
        rate_limit,
        dlq,
        events: firing
            .events
            .values()
            .map(|e| e.context.id.clone())
            .collect(),
    };
    NewFiring {
        key: firing.key.clone(),
        trigger: firing.trigger.clone(),
        payload: serde_json::to_value(&payload).unwrap_or(Json::Null),
    }
}

/// The trigger's `rateLimit` as the outbox applies it.
fn rate_limit_of(resolved: &ResolvedTrigger) -> Option<RateLimit> {
    let limit = resolved.settings.rate_limit.as_ref()?;
    let per = match limit.unit() {
        TriggerRateLimitUnit::Second => 1,
        TriggerRateLimitUnit::Minute => 60,
        TriggerRateLimitUnit::Hour => 3600,
    };
    let requests = u32::try_from(limit.requests_per_unit.unwrap_or(1))
        .unwrap_or(1)
        .max(1);
    Some(RateLimit {
        requests,
        per_seconds: per,
    })
}

/// The trigger's `retryStrategy` as the outbox applies it.
fn retry_of(resolved: &ResolvedTrigger) -> Retry {
    let Some(backoff) = &resolved.settings.retry_strategy else {
        return Retry::default();
    };
    Retry {
        steps: resolved.settings.attempts.max(1),
        duration_ms: backoff
            .initial_duration()
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(1000),
        factor: backoff.factor(),
    }
}

/// The action a resolved trigger asks for.
fn action_of(resolved: ResolvedTrigger, firing: &Firing, firing_namespace: &str) -> Action {
    match resolved.action {
        TriggerAction::ArgoWorkflow {
            operation: ArgoWorkflowOperation::Submit,
            namespace,
            resource,
        }
        | TriggerAction::K8s {
            operation: K8sTriggerOperation::Create,
            namespace,
            resource,
            ..
        } if is_workflow(&resource) => Action::StartWorkflow {
            namespace,
            workflow: resource,
        },
        TriggerAction::ArgoWorkflow { operation, .. } => Action::Refused {
            reason: format!(
                "argoWorkflow operation `{}` is not carried out by this platform yet; `submit` is",
                serde_json::to_value(operation)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        },
        TriggerAction::K8s { resource, .. } => Action::Refused {
            reason: format!(
                "k8s triggers start Workflows here (operation create); this one is a {} {}",
                resource["kind"]
                    .as_str()
                    .unwrap_or("resource without a kind"),
                "or not a create"
            ),
        },
        TriggerAction::Http(request) => Action::Http {
            namespace: firing_namespace.to_owned(),
            request,
        },
        TriggerAction::Log { .. } => Action::Log {
            message: log_message(firing),
        },
    }
}

fn is_workflow(resource: &Json) -> bool {
    resource["kind"] == "Workflow"
        && resource["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("argoproj.io/"))
}

/// What a `log` trigger writes: each dependency's event, its context and data.
fn log_message(firing: &Firing) -> String {
    let events: serde_json::Map<String, Json> = firing
        .events
        .iter()
        .map(|(dependency, event)| {
            let data = event
                .data_text()
                .and_then(|t| serde_json::from_str::<Json>(t).ok())
                .unwrap_or(Json::Null);
            (
                dependency.clone(),
                json!({"context": event.context, "data": data}),
            )
        })
        .collect();
    format!(
        "log trigger `{}` fired: {}",
        firing.trigger,
        Json::Object(events)
    )
}

/// What the event did to each dependency, for `switchyard events`.
fn report(outcome: &EventOutcome) -> Json {
    let dependencies: Vec<Json> = outcome
        .dependencies
        .iter()
        .map(|d| {
            let (result, reason) = match &d.verdict {
                Verdict::Matched { warnings } => ("matched", warnings.join("; ")),
                Verdict::FilteredOut { reason } => ("filtered", reason.clone()),
                Verdict::Failed { error } => ("failed", error.clone()),
            };
            json!({"name": d.dependency, "result": result, "reason": reason})
        })
        .collect();
    json!({"dependencies": dependencies, "duplicate": outcome.duplicate})
}
