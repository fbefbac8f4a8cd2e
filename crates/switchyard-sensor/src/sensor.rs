//! The compiled sensor and what it does with an event: match dependencies, transform, filter,
//! and fire triggers whose conditions hold, keeping pending events in [`SensorState`].
//!
//! The rules are those of Argo Events' JetStream sensor (`eventbus/jetstream/sensor`):
//!
//! - Each trigger listens to the dependencies its conditions name. An event is offered to every
//!   dependency with its EventSource name (`source`) and event name (`subject`), in the order
//!   the conditions name them; one event can satisfy several dependencies.
//! - For each dependency the event passes (after the dependency's transform and filters), the
//!   conditions are evaluated with the trigger's pending dependencies and this one. If they
//!   hold, the trigger fires with *every* pending event of the trigger plus this one, and all
//!   its pending events are cleared. Otherwise this event becomes the dependency's pending event
//!   (replacing an older one). With `||` only, every passing event fires on its own.
//! - An event already processed (same `source` and `id`, among the last
//!   [`crate::RECENT_EVENTS`]) is dropped, as Argo drops redeliveries.
//! - When the spec changes, pending events are purged: all of a trigger's when its conditions
//!   change or it is removed, and a dependency's in every trigger when its definition changes or
//!   it is removed ([`CompiledSensor::reconcile`]).
//! - `conditionsReset.byTime` forgets a trigger's pending events at each cron tick
//!   ([`CompiledSensor::reset_due`]).
//!
//! Each firing has a [`Firing::key`] derived from the sensor, the trigger and the consumed
//! events, so the shell can make "record the firing" idempotent: a redelivered event that fires
//! the same trigger with the same events yields the same key.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_model::events::{EventDependency, Sensor};

use crate::conditions::Conditions;
use crate::event::{EventInput, JSON_CONTENT_TYPE};
use crate::filter::{FilterOutcome, Filters};
use crate::jq::Program;
use crate::json::data_object;
use crate::lua::Script;
use crate::problem::{Problem, Problems, index, key};
use crate::reset::CronSchedule;
use crate::resolve::{Action, ResolvedTrigger, SensorMeta, TriggerError, TriggerSettings};
use crate::state::{PendingEvent, SensorState, TriggerState, digest, event_key};

/// A Sensor, compiled: every expression, script, program, template and schedule parsed once.
#[derive(Debug)]
pub struct CompiledSensor {
    meta: SensorMeta,
    dependencies: Vec<Dependency>,
    /// `(eventSourceName, eventName)` → indexes into `dependencies`.
    by_event: HashMap<(String, String), Vec<usize>>,
    triggers: Vec<Trigger>,
    warnings: Vec<Problem>,
}

#[derive(Debug)]
struct Dependency {
    name: String,
    fingerprint: String,
    transform: Option<Transform>,
    filters: Option<Filters>,
}

#[derive(Debug)]
enum Transform {
    Jq(Program),
    Lua(Script),
}

#[derive(Debug)]
struct Trigger {
    name: String,
    conditions: Conditions,
    /// Indexes into `CompiledSensor::dependencies`, in the order the conditions name them.
    dependencies: Vec<usize>,
    resets: Vec<CronSchedule>,
    action: Action,
    dlq: Option<Action>,
}

/// What became of one event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventOutcome {
    /// The event was processed before (same `source` and `id`) and was ignored.
    pub duplicate: bool,
    /// The dependencies the event was offered to (those with its EventSource and event name),
    /// in declaration order.
    pub dependencies: Vec<DependencyResult>,
    /// The triggers that fire, in the order they fired.
    pub firings: Vec<Firing>,
    /// Pending events dropped before the event was processed (spec changes, resets).
    pub cleared: Vec<Cleared>,
}

/// What one dependency made of the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyResult {
    /// The dependency's name.
    pub dependency: String,
    /// What it made of the event.
    pub verdict: Verdict,
}

/// A dependency's verdict on an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "verdict")]
pub enum Verdict {
    /// The event passed.
    Matched {
        /// Errors of filters that did not decide (with `filtersLogicalOperator: or`).
        warnings: Vec<String>,
    },
    /// A filter did not pass.
    FilteredOut {
        /// Which filter, and why.
        reason: String,
    },
    /// The transform or a filter could not be evaluated on this event; it is discarded for this
    /// dependency, as in Argo.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// A trigger whose conditions hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firing {
    /// The trigger's name.
    pub trigger: String,
    /// A deterministic id of this firing: a digest of the sensor's namespace and name, the
    /// trigger and, per dependency, the consumed event's `source` and `id`. Record the firing
    /// under this unique key and it starts at most one run, even when events are redelivered.
    pub key: String,
    /// The consumed events (after their transforms), by dependency name.
    pub events: BTreeMap<String, EventInput>,
}

/// A pending event that was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cleared {
    /// The trigger it was pending for.
    pub trigger: String,
    /// The dependency it satisfied.
    pub dependency: String,
    /// The dropped event's id.
    pub event_id: String,
    /// Why it was dropped.
    pub reason: ClearReason,
}

/// Why a pending event was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "reason")]
pub enum ClearReason {
    /// The state belonged to another sensor.
    OtherSensor,
    /// The trigger is no longer in the sensor.
    TriggerRemoved,
    /// The trigger's conditions changed.
    ConditionsChanged,
    /// The dependency's definition changed.
    DependencyChanged,
    /// The dependency is no longer in the sensor.
    DependencyRemoved,
    /// A `conditionsReset.byTime` tick passed after the event was saved.
    ConditionsReset {
        /// The tick.
        at: DateTime<Utc>,
    },
}

impl CompiledSensor {
    /// Compiles a Sensor; every problem is reported, each with its path.
    pub fn compile(sensor: &Sensor) -> Result<CompiledSensor, Vec<Problem>> {
        let mut problems = Problems::default();
        let name = sensor.metadata.name.clone().unwrap_or_default();
        if name.is_empty() {
            problems.error("metadata.name", "a Sensor needs a name");
        }
        let namespace = sensor
            .metadata
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| switchyard_model::DEFAULT_NAMESPACE.to_owned());

        let spec = &sensor.spec;
        if spec.dependencies.is_empty() {
            problems.error(
                "spec.dependencies",
                "a Sensor needs at least one dependency",
            );
        }
        let mut dependencies = Vec::with_capacity(spec.dependencies.len());
        let mut by_event: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, dep) in spec.dependencies.iter().enumerate() {
            let path = index("spec.dependencies", i);
            if dep.name.is_empty() {
                problems.error(key(&path, "name"), "a dependency needs a `name`");
            } else if let Some(first) = spec.dependencies[..i]
                .iter()
                .position(|d| d.name == dep.name)
            {
                problems.error(
                    key(&path, "name"),
                    format!(
                        "dependency name `{}` is already used by spec.dependencies[{first}]",
                        dep.name
                    ),
                );
            }
            for (field, value) in [
                ("eventSourceName", &dep.event_source_name),
                ("eventName", &dep.event_name),
            ] {
                if value.is_empty() {
                    problems.error(key(&path, field), "must not be empty");
                }
            }
            by_event
                .entry((dep.event_source_name.clone(), dep.event_name.clone()))
                .or_default()
                .push(i);
            dependencies.push(compile_dependency(dep, &path, &mut problems));
        }
        let names: Vec<String> = spec.dependencies.iter().map(|d| d.name.clone()).collect();

        if spec.triggers.is_empty() {
            problems.error("spec.triggers", "a Sensor needs at least one trigger");
        }
        let mut triggers = Vec::with_capacity(spec.triggers.len());
        for (i, t) in spec.triggers.iter().enumerate() {
            let path = index("spec.triggers", i);
            let tpath = key(&path, "template");
            let tname = &t.template.name;
            if !tname.is_empty()
                && let Some(first) = spec.triggers[..i]
                    .iter()
                    .position(|o| &o.template.name == tname)
            {
                problems.error(
                    key(&tpath, "name"),
                    format!("trigger name `{tname}` is already used by spec.triggers[{first}]"),
                );
            }
            let conditions = Conditions::compile(
                t.template.conditions.as_deref(),
                &names,
                &key(&tpath, "conditions"),
                &mut problems,
            );
            let mut resets = Vec::new();
            for (j, criterion) in t.template.conditions_reset.iter().enumerate() {
                let rpath = index(&key(&tpath, "conditionsReset"), j);
                let Some(by_time) = &criterion.by_time else {
                    continue;
                };
                let bpath = key(&rpath, "byTime");
                match by_time.cron.as_deref().filter(|c| !c.trim().is_empty()) {
                    None => problems.error(key(&bpath, "cron"), "needs a cron schedule"),
                    Some(cron) => match CronSchedule::parse(cron, by_time.timezone.as_deref()) {
                        Ok(s) => resets.push(s),
                        Err(e) => problems.error(key(&bpath, "cron"), e),
                    },
                }
            }
            let action = Action::compile(t, &path, &names, &mut problems);
            // Argo runs a dlqTrigger's own dlqTrigger never, so it is not compiled.
            let dlq = t
                .dlq_trigger
                .as_deref()
                .and_then(|d| Action::compile(d, &key(&path, "dlqTrigger"), &names, &mut problems));
            if let (Some(conditions), Some(action)) = (conditions, action) {
                let deps = conditions
                    .dependencies
                    .iter()
                    .filter_map(|n| names.iter().position(|d| d == n))
                    .collect();
                triggers.push(Trigger {
                    name: tname.clone(),
                    conditions,
                    dependencies: deps,
                    resets,
                    action,
                    dlq,
                });
            }
        }
        if !problems.errors.is_empty() {
            return Err(problems.errors);
        }
        Ok(CompiledSensor {
            meta: SensorMeta { namespace, name },
            dependencies,
            by_event,
            triggers,
            warnings: problems.warnings,
        })
    }

    /// Things in the Sensor that compile but that a user should know about (a comparator with no
    /// effect, a string filter that can never match, a script ignored next to `jq`).
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// `namespace/name` of the sensor.
    pub fn id(&self) -> String {
        format!("{}/{}", self.meta.namespace, self.meta.name)
    }

    /// The trigger names, in spec order.
    pub fn trigger_names(&self) -> impl Iterator<Item = &str> {
        self.triggers.iter().map(|t| t.name.as_str())
    }

    /// How the shell runs the named trigger (retries, rate limit, policy, DLQ).
    pub fn trigger_settings(&self, trigger: &str) -> Option<TriggerSettings> {
        self.trigger(trigger).map(|t| t.action.settings())
    }

    fn trigger(&self, name: &str) -> Option<&Trigger> {
        self.triggers.iter().find(|t| t.name == name)
    }

    /// Brings `state` in line with this spec, as Argo does when a sensor starts: pending events
    /// of removed triggers, of triggers whose conditions changed, and of dependencies whose
    /// definition changed or that were removed are dropped; fingerprints are updated. Cheap when
    /// nothing changed; [`CompiledSensor::on_event`] calls it first.
    pub fn reconcile(&self, state: &mut SensorState) -> Vec<Cleared> {
        let mut cleared = Vec::new();
        let id = self.id();
        if state.sensor != id {
            if !state.sensor.is_empty() {
                drain_all(state, ClearReason::OtherSensor, &mut cleared);
                state.dependencies.clear();
                state.recent.clear();
            }
            state.sensor = id;
        }
        // Triggers removed or with new conditions.
        let names: Vec<String> = state.triggers.keys().cloned().collect();
        for name in names {
            let reason = match self.trigger(&name) {
                None => Some(ClearReason::TriggerRemoved),
                Some(t) => state
                    .triggers
                    .get(&name)
                    .is_some_and(|old| old.conditions != t.conditions.canonical)
                    .then_some(ClearReason::ConditionsChanged),
            };
            if let Some(reason) = reason
                && let Some(old) = state.triggers.remove(&name)
            {
                for (dep, p) in old.pending {
                    cleared.push(Cleared {
                        trigger: name.clone(),
                        dependency: dep,
                        event_id: p.event.context.id,
                        reason: reason.clone(),
                    });
                }
            }
        }
        // Dependencies changed or removed.
        let stale: Vec<(String, ClearReason)> = state
            .dependencies
            .iter()
            .filter_map(|(name, fingerprint)| {
                match self.dependencies.iter().find(|d| &d.name == name) {
                    None => Some((name.clone(), ClearReason::DependencyRemoved)),
                    Some(d) if &d.fingerprint != fingerprint => {
                        Some((name.clone(), ClearReason::DependencyChanged))
                    }
                    Some(_) => None,
                }
            })
            .collect();
        for (dep, reason) in stale {
            for (trigger, t) in state.triggers.iter_mut() {
                if let Some(p) = t.pending.remove(&dep) {
                    cleared.push(Cleared {
                        trigger: trigger.clone(),
                        dependency: dep.clone(),
                        event_id: p.event.context.id,
                        reason: reason.clone(),
                    });
                }
            }
        }
        state.dependencies = self
            .dependencies
            .iter()
            .map(|d| (d.name.clone(), d.fingerprint.clone()))
            .collect();
        for t in &self.triggers {
            state
                .triggers
                .entry(t.name.clone())
                .or_insert_with(|| TriggerState {
                    conditions: t.conditions.canonical.clone(),
                    pending: BTreeMap::new(),
                });
        }
        cleared
    }

    /// The next moment a `conditionsReset.byTime` tick would drop pending events, over the
    /// triggers that have some: arm a timer for it and call [`CompiledSensor::reset_due`].
    pub fn next_reset(&self, state: &SensorState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.triggers
            .iter()
            .filter(|t| state.pending(&t.name).is_some_and(|p| !p.is_empty()))
            .flat_map(|t| t.resets.iter().filter_map(|r| r.next_after(now)))
            .min()
    }

    /// Drops the pending events saved before the latest `conditionsReset.byTime` tick at or
    /// before `now` of their trigger. Call it when the timer from
    /// [`CompiledSensor::next_reset`] fires (and after a restart; [`CompiledSensor::on_event`]
    /// calls it first too).
    pub fn reset_due(&self, state: &mut SensorState, now: DateTime<Utc>) -> Vec<Cleared> {
        let mut cleared = Vec::new();
        for t in &self.triggers {
            let Some(ts) = state.triggers.get_mut(&t.name) else {
                continue;
            };
            if ts.pending.is_empty() || t.resets.is_empty() {
                continue;
            }
            let Some(tick) = t
                .resets
                .iter()
                .filter_map(|r| r.latest_at_or_before(now))
                .max()
            else {
                continue;
            };
            ts.pending.retain(|dep, p| {
                let keep = p.saved_at >= tick;
                if !keep {
                    cleared.push(Cleared {
                        trigger: t.name.clone(),
                        dependency: dep.clone(),
                        event_id: p.event.context.id.clone(),
                        reason: ClearReason::ConditionsReset { at: tick },
                    });
                }
                keep
            });
        }
        cleared
    }

    /// Processes one event at `now`: see the module documentation. `state` is updated in place;
    /// persist it together with the firings.
    pub fn on_event(
        &self,
        state: &mut SensorState,
        event: &EventInput,
        now: DateTime<Utc>,
    ) -> EventOutcome {
        let mut outcome = EventOutcome {
            cleared: self.reconcile(state),
            ..EventOutcome::default()
        };
        outcome.cleared.extend(self.reset_due(state, now));
        let lookup = (event.context.source.clone(), event.context.subject.clone());
        let Some(candidates) = self.by_event.get(&lookup) else {
            return outcome;
        };
        let key = event_key(event);
        if state.seen(&key) {
            outcome.duplicate = true;
            return outcome;
        }
        state.remember(key);

        // Each dependency's verdict, computed once and shared by the triggers.
        let mut passed: BTreeMap<usize, EventInput> = BTreeMap::new();
        for &i in candidates {
            let dep = &self.dependencies[i];
            let (verdict, transformed) = dep.evaluate(event);
            if let Some(e) = transformed {
                passed.insert(i, e);
            }
            outcome.dependencies.push(DependencyResult {
                dependency: dep.name.clone(),
                verdict,
            });
        }

        for trigger in &self.triggers {
            let ts = state
                .triggers
                .entry(trigger.name.clone())
                .or_insert_with(|| TriggerState {
                    conditions: trigger.conditions.canonical.clone(),
                    pending: BTreeMap::new(),
                });
            for &i in &trigger.dependencies {
                let Some(current) = passed.get(&i) else {
                    continue;
                };
                let name = &self.dependencies[i].name;
                let holds = trigger
                    .conditions
                    .holds(&|d| d == name || ts.pending.contains_key(d));
                if holds {
                    let mut events: BTreeMap<String, EventInput> = std::mem::take(&mut ts.pending)
                        .into_iter()
                        .map(|(d, p)| (d, p.event))
                        .collect();
                    events.insert(name.clone(), current.clone());
                    outcome.firings.push(Firing {
                        key: self.firing_key(&trigger.name, &events),
                        trigger: trigger.name.clone(),
                        events,
                    });
                } else {
                    ts.pending.insert(
                        name.clone(),
                        PendingEvent {
                            event: current.clone(),
                            saved_at: now,
                        },
                    );
                }
            }
        }
        outcome
    }

    /// The unique key of a firing (see [`Firing::key`]).
    fn firing_key(&self, trigger: &str, events: &BTreeMap<String, EventInput>) -> String {
        let mut parts: Vec<&str> = vec!["firing", &self.meta.namespace, &self.meta.name, trigger];
        for (dep, event) in events {
            let (source, id) = event.identity();
            parts.extend([dep.as_str(), source, id]);
        }
        digest(&parts)
    }

    /// What the shell does for `firing`: the trigger's parameters applied to its template and
    /// to the object or request it sends. `now` sets Argo's action-timestamp label.
    pub fn resolve(
        &self,
        firing: &Firing,
        now: DateTime<Utc>,
    ) -> Result<ResolvedTrigger, TriggerError> {
        let trigger = self
            .trigger(&firing.trigger)
            .ok_or_else(|| unknown(&firing.trigger))?;
        trigger.action.resolve(&self.meta, &firing.events, now)
    }

    /// The trigger's `dlqTrigger`, resolved for the same events: what the shell runs when the
    /// trigger's attempts are exhausted. `Ok(None)` when it has none.
    pub fn resolve_dlq(
        &self,
        firing: &Firing,
        now: DateTime<Utc>,
    ) -> Result<Option<ResolvedTrigger>, TriggerError> {
        let trigger = self
            .trigger(&firing.trigger)
            .ok_or_else(|| unknown(&firing.trigger))?;
        trigger
            .dlq
            .as_ref()
            .map(|d| d.resolve(&self.meta, &firing.events, now))
            .transpose()
    }
}

fn unknown(trigger: &str) -> TriggerError {
    TriggerError {
        path: "spec.triggers".into(),
        message: format!("the sensor has no trigger named `{trigger}`"),
    }
}

fn drain_all(state: &mut SensorState, reason: ClearReason, cleared: &mut Vec<Cleared>) {
    for (trigger, t) in std::mem::take(&mut state.triggers) {
        for (dep, p) in t.pending {
            cleared.push(Cleared {
                trigger: trigger.clone(),
                dependency: dep,
                event_id: p.event.context.id,
                reason: reason.clone(),
            });
        }
    }
}

fn compile_dependency(dep: &EventDependency, path: &str, problems: &mut Problems) -> Dependency {
    // Argo hashes the whole dependency definition; any change purges its pending events.
    let definition = serde_json::to_string(dep).unwrap_or_default();
    let fingerprint = digest(&["dependency", &definition]);
    let transform = dep.transform.as_ref().and_then(|t| {
        let tpath = key(path, "transform");
        let jq = t.jq.as_deref().filter(|s| !s.trim().is_empty());
        let script = t.script.as_deref().filter(|s| !s.trim().is_empty());
        match (jq, script) {
            (Some(jq), script) => {
                if script.is_some() {
                    problems.warning(
                        key(&tpath, "script"),
                        "is ignored: with both `jq` and `script`, only `jq` runs (as in Argo Events)",
                    );
                }
                match Program::compile(jq) {
                    Ok(p) => Some(Transform::Jq(p)),
                    Err(e) => {
                        problems.error(key(&tpath, "jq"), format!("is not a valid jq program: {e}"));
                        None
                    }
                }
            }
            (None, Some(script)) => match Script::compile(script) {
                Ok(s) => Some(Transform::Lua(s)),
                Err(e) => {
                    problems.error(key(&tpath, "script"), format!("is not valid Lua: {e}"));
                    None
                }
            },
            (None, None) => None,
        }
    });
    let filters = dep
        .filters
        .as_ref()
        .map(|f| Filters::compile(f, dep.filters_logical_operator, path, problems));
    Dependency {
        name: dep.name.clone(),
        fingerprint,
        transform,
        filters,
    }
}

impl Dependency {
    /// Transform, then filters (Argo's `processDependency`): the verdict, and the transformed
    /// event when it passed.
    fn evaluate(&self, event: &EventInput) -> (Verdict, Option<EventInput>) {
        let transformed = match self.apply_transform(event) {
            Ok(e) => e,
            Err(error) => {
                return (
                    Verdict::Failed {
                        error: format!("transform: {error}"),
                    },
                    None,
                );
            }
        };
        let Some(filters) = &self.filters else {
            return (Verdict::Matched { warnings: vec![] }, Some(transformed));
        };
        match filters.evaluate(&transformed) {
            FilterOutcome::Pass(warnings) => (Verdict::Matched { warnings }, Some(transformed)),
            FilterOutcome::Fail(reason) => (Verdict::FilteredOut { reason }, None),
            FilterOutcome::Error(error) => (Verdict::Failed { error }, None),
        }
    }

    /// Argo's `ApplyTransform`: the data (a JSON object) replaced by the program's output, with
    /// content type `application/json`. An event without data is left as it is.
    fn apply_transform(&self, event: &EventInput) -> Result<EventInput, String> {
        let Some(transform) = &self.transform else {
            return Ok(event.clone());
        };
        if !event.has_data() {
            return Ok(event.clone());
        }
        let data = data_object(&event.data)?;
        let out = match transform {
            Transform::Jq(p) => p.transform(&data)?,
            Transform::Lua(s) => s.transform(&data)?,
        };
        let mut transformed = event.clone();
        transformed.context.datacontenttype = JSON_CONTENT_TYPE.to_owned();
        transformed.data = out.to_string().into_bytes();
        Ok(transformed)
    }
}

#[cfg(test)]
mod tests {
    /// The shell shares one compiled sensor between tasks.
    #[test]
    fn compiled_sensors_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::CompiledSensor>();
        assert_send_sync::<crate::SensorState>();
    }
}
