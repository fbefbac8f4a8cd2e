//! The status the platform shows for EventSources and Sensors: what the event pipeline knows
//! about them now (which webhook events are not served and why, a sensor's pending
//! dependencies, why a sensor is not running). Computed on read, never stored.

use serde_json::{Map, Value, json};
use switchyard_model::Kind;
use switchyard_sensor::SensorState;
use switchyard_store::StoredObject;
use switchyard_store::ledger::SensorId;

use crate::state::AppState;

/// Fills in `status` of an EventSource or Sensor body as read from the store.
pub async fn overlay(state: &AppState, object: &StoredObject, body: &mut Value) {
    let status = match object.kind {
        Kind::EventSource => event_source_status(state, object),
        Kind::Sensor => sensor_status(state, object).await,
        _ => return,
    };
    if let Some(body) = body.as_object_mut() {
        body.insert("status".into(), Value::Object(status));
    }
}

fn event_source_status(state: &AppState, object: &StoredObject) -> Map<String, Value> {
    let problems: Vec<Value> = state
        .pipeline()
        .route_problems()
        .into_iter()
        .filter(|p| p.namespace == object.namespace && p.source == object.name)
        .map(|p| json!({"event": p.event, "message": p.message}))
        .collect();
    let mut status = Map::new();
    status.insert(
        "phase".into(),
        json!(if problems.is_empty() {
            "Running"
        } else {
            "Degraded"
        }),
    );
    if !problems.is_empty() {
        status.insert("problems".into(), Value::Array(problems));
    }
    status
}

async fn sensor_status(state: &AppState, object: &StoredObject) -> Map<String, Value> {
    let mut status = Map::new();
    match state
        .pipeline()
        .sensor_problem(&object.namespace, &object.name)
        .await
    {
        Some(problem) => {
            status.insert("phase".into(), json!("Failed"));
            status.insert("message".into(), json!(problem));
        }
        None => {
            status.insert("phase".into(), json!("Running"));
        }
    }
    let id = SensorId {
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        uid: object.uid.clone(),
    };
    let stored = match state.ledger().sensor_state(&id).await {
        Ok(stored) => stored,
        Err(err) => {
            status.insert(
                "message".into(),
                json!(format!("pending dependencies cannot be read: {err}")),
            );
            return status;
        }
    };
    let sensor_state: SensorState = stored
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut pending = Map::new();
    for (trigger, events) in sensor_state.pending_by_trigger() {
        let list: Vec<Value> = events
            .iter()
            .map(|(dependency, pending)| {
                json!({
                    "dependency": dependency,
                    "eventId": pending.event.context.id,
                    "since": pending.saved_at,
                })
            })
            .collect();
        pending.insert(trigger.to_owned(), Value::Array(list));
    }
    status.insert("pendingDependencies".into(), Value::Object(pending));
    status
}
