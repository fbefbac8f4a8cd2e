//! Helpers shared by the integration tests: sensors from YAML through the manifest loader,
//! events of the webhook's shape, and fixed instants.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchyard_manifest::{Limits, Resource, Source, load};
use switchyard_model::events::Sensor;
use switchyard_sensor::{
    CompiledSensor, EventContext, EventInput, EventOutcome, Firing, Problem, SensorState, Verdict,
};

/// The Sensor in `yaml`, loaded as `switchyard apply` loads it (no errors allowed).
pub fn model(yaml: &str) -> Sensor {
    let out = load(&[Source::new("sensor.yaml", yaml)], &Limits::default());
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    match out.objects.into_iter().next().map(|o| o.resource) {
        Some(Resource::Sensor(s)) => *s,
        other => panic!("not a sensor: {other:?}"),
    }
}

/// The Sensor in `yaml`, compiled.
pub fn sensor(yaml: &str) -> CompiledSensor {
    CompiledSensor::compile(&model(yaml)).unwrap_or_else(|p| panic!("{p:#?}"))
}

/// The problems compiling the Sensor in `yaml` gives.
pub fn problems(yaml: &str) -> Vec<Problem> {
    match CompiledSensor::compile(&model(yaml)) {
        Ok(_) => panic!("compiled, but problems were expected"),
        Err(p) => p,
    }
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// An event of EventSource `source`, event `subject`, with JSON `data`.
pub fn event(source: &str, subject: &str, id: &str, data: Value) -> EventInput {
    event_at(source, subject, id, data, "2026-11-21T10:00:00Z")
}

pub fn event_at(source: &str, subject: &str, id: &str, data: Value, time: &str) -> EventInput {
    EventInput::json(
        EventContext {
            id: id.to_owned(),
            source: source.to_owned(),
            specversion: "1.0".to_owned(),
            type_: "webhook".to_owned(),
            subject: subject.to_owned(),
            time: at(time),
            datacontenttype: String::new(),
        },
        &data,
    )
}

/// A webhook event: `{"header": .., "body": body, "metadata": {}}`.
pub fn webhook(source: &str, subject: &str, id: &str, body: Value) -> EventInput {
    event(
        source,
        subject,
        id,
        json!({"header": {"Content-Type": ["application/json"]}, "body": body, "metadata": {}}),
    )
}

/// Feeds `event` at the default time.
pub fn feed(sensor: &CompiledSensor, state: &mut SensorState, event: &EventInput) -> EventOutcome {
    sensor.on_event(state, event, at("2026-11-21T10:00:00Z"))
}

/// The names of the triggers that fired.
pub fn fired(outcome: &EventOutcome) -> Vec<&str> {
    outcome.firings.iter().map(|f| f.trigger.as_str()).collect()
}

/// The verdict of the only dependency the event was offered to.
pub fn verdict(outcome: &EventOutcome) -> &Verdict {
    assert_eq!(outcome.dependencies.len(), 1, "{outcome:#?}");
    &outcome.dependencies[0].verdict
}

/// The ids of the events a firing consumed, by dependency.
pub fn ids(firing: &Firing) -> Vec<(String, String)> {
    firing
        .events
        .iter()
        .map(|(d, e)| (d.clone(), e.context.id.clone()))
        .collect()
}
