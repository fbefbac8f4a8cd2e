//! Orders: the platform API's front door.
//!
//! An order is accepted in three durable steps, each safe to repeat:
//! 1. the `Order` object is created (its id is new, or derived from the caller's
//!    `Idempotency-Key`, so a retry finds the first order again);
//! 2. its event is raised on the offering's webhook route, exactly as a POST to that route
//!    would raise it, with the order id as the event id (the bus records it once);
//! 3. the order is marked published, and the caller gets 202 with the order's id.
//!
//! If step 2 fails the order is deleted again and the caller gets 503 (nothing accepted).
//! If the process dies between 1 and 3, [`republish_pending`] raises the event at the next
//! start. A run started by a sensor carries the ids of its events (see
//! `events.switchyard.dev/events`); [`link_run`] adds it to the order it came from. An
//! order's phase is derived from its runs each time it is read.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchyard_api::ErrorCode;
use switchyard_catalog::{FieldError, Offering};
use switchyard_controller::ControllerError;
use switchyard_engine::Command;
use switchyard_events::pipeline::RaiseError;
use switchyard_events::webhook::Dispatched;
use switchyard_model::{Kind, SWITCHYARD_API_VERSION};
use switchyard_store::{
    ObjectKey, Precondition, PutRequest, StatusUpdate, Store, StoreError, StoredObject, rules,
};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::{check_name, json_rejection};
use crate::state::AppState;

/// The meta entry that says which namespace an order lives in, by id.
const NAMESPACE_META: &str = "order.namespace.";
/// Most orders one list answers with.
const MAX_LIST: usize = 500;
/// How often a live order stream looks for changes.
const STREAM_POLL: Duration = Duration::from_millis(400);
/// Longest comment kept with an approval or rejection.
const MAX_COMMENT: usize = 4096;
/// How often a status update is retried when another writer got there first.
const STATUS_RETRIES: usize = 8;

/// Phases an order goes through.
pub mod phase {
    pub const ACCEPTED: &str = "Accepted";
    pub const RUNNING: &str = "Running";
    pub const WAITING: &str = "WaitingForApproval";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const FAILED: &str = "Failed";
}

fn is_terminal(phase: &str) -> bool {
    phase == phase::SUCCEEDED || phase == phase::FAILED
}

/// A 422 in FastAPI's shape: `{"detail": [...]}`.
fn unprocessable(errors: &[FieldError]) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(switchyard_catalog::detail(errors)),
    )
        .into_response()
}

/// `POST <route>` for every offering: the server's fallback for POSTs that match no fixed
/// route. Authenticates like every API route.
pub async fn place_at_route(
    state: &AppState,
    route: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let catalog = state.catalog();
    let Some(offering) = catalog.by_route(route) else {
        return ApiError::not_found(format!(
            "no offering is ordered at {route}; GET /api/v1/catalog lists the catalog"
        ))
        .into_response();
    };
    let principal = match crate::auth::principal_of(state, headers).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let input = match switchyard_catalog::parse_body(&body) {
        Ok(v) => v,
        Err(e) => return unprocessable(&[e]),
    };
    place(state, &principal, offering, headers, input).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericOrder {
    /// `name` or `namespace/name`.
    pub offering: String,
    #[serde(default)]
    pub input: Value,
}

/// `POST /api/v1/orders`: `{"offering": "...", "input": {...}}`.
pub async fn place_generic(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Json<GenericOrder>, JsonRejection>,
) -> Response {
    let Json(order) = match body {
        Ok(b) => b,
        Err(e) => return json_rejection(e).into_response(),
    };
    let catalog = state.catalog();
    let offering = match catalog.by_name(&order.offering) {
        Ok(o) => o,
        Err(message) => return ApiError::not_found(message).into_response(),
    };
    place(&state, &principal, offering, &headers, order.input).await
}

/// Validates, records and raises one order.
async fn place(
    state: &AppState,
    principal: &Principal,
    offering: &Offering,
    headers: &HeaderMap,
    input: Value,
) -> Response {
    if !principal.has_any_role(&offering.access.order) {
        return ApiError::forbidden(format!(
            "`{}` may not order {}: it needs one of the roles {}",
            principal.name,
            offering.name,
            offering.access.order.join(", ")
        ))
        .into_response();
    }
    let input = match offering.input.validate(&input) {
        Ok(v) => v,
        Err(errors) => return unprocessable(&errors),
    };
    let idempotency_key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => Some(k.to_owned()),
        Some(_) => {
            return ApiError::bad_request(
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .into_response();
        }
    };
    let request_hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&json!([offering.namespace, offering.name, input])).unwrap_or_default(),
    ));
    let id = match &idempotency_key {
        Some(key) => derived_id(&principal.name, offering, key),
        None => uuid::Uuid::now_v7().to_string(),
    };
    match accept(
        state,
        principal,
        offering,
        headers,
        input,
        &id,
        idempotency_key,
        &request_hash,
    )
    .await
    {
        Ok(view) => {
            let location = format!("/api/v1/orders/{id}");
            let mut response = (StatusCode::ACCEPTED, Json(view)).into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

/// An order id derived from the caller, the offering and their `Idempotency-Key`: the same
/// three give the same id, so a retried request finds the first order.
fn derived_id(requester: &str, offering: &Offering, key: &str) -> String {
    let digest = Sha256::digest(
        format!(
            "{requester}\u{0}{}\u{0}{}\u{0}{key}",
            offering.namespace, offering.name
        )
        .as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // Version 8 (custom) and the RFC 4122 variant: a well-formed UUID that says it is derived.
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[allow(clippy::too_many_arguments)]
async fn accept(
    state: &AppState,
    principal: &Principal,
    offering: &Offering,
    headers: &HeaderMap,
    input: Value,
    id: &str,
    idempotency_key: Option<String>,
    request_hash: &str,
) -> Result<Value, ApiError> {
    let store = state.store().as_ref();
    let key = ObjectKey::new(Kind::Order, offering.namespace.clone(), id.to_owned());
    store
        .put_meta(&format!("{NAMESPACE_META}{id}"), &offering.namespace)
        .await?;
    let now = rules::format_timestamp(&rules::now());
    let mut spec = json!({
        "offering": offering.name,
        "route": offering.route,
        "input": input,
        "requester": principal.name,
        "event": {
            "eventSourceName": offering.event.event_source_name,
            "eventName": offering.event.event_name,
        },
        "requestHash": request_hash,
    });
    if let Some(k) = &idempotency_key {
        spec["idempotencyKey"] = json!(k);
    }
    let body = json!({
        "apiVersion": SWITCHYARD_API_VERSION,
        "kind": "Order",
        "metadata": { "name": id, "namespace": offering.namespace },
        "spec": spec,
        "status": { "published": false, "acceptedAt": now },
    });
    let created = store
        .put(
            PutRequest::new(Kind::Order, offering.namespace.clone(), id, body)
                .with_precondition(Precondition::MustNotExist),
        )
        .await;
    let (object, new) = match created {
        Ok(outcome) => (outcome.into_object(), true),
        Err(StoreError::AlreadyExists { .. }) => {
            let Some(existing) = store.get(&key).await? else {
                return Err(ApiError::unavailable(
                    "the order was deleted while being read; retry",
                ));
            };
            let same = existing.body["spec"]["requestHash"].as_str() == Some(request_hash)
                && existing.body["spec"]["requester"].as_str() == Some(&principal.name);
            if !same {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::Conflict,
                    "this Idempotency-Key was used for a different order; use a new key for a new order",
                ));
            }
            (existing, false)
        }
        Err(e) => return Err(e.into()),
    };
    if object.body["status"]["published"].as_bool() != Some(true) {
        if let Err(e) = publish(state, &object, headers).await {
            if new && let Err(del) = store.delete(&key, Precondition::None).await {
                tracing::warn!(order = %id, error = %del, "an order that could not be raised was not deleted; it is raised again at the next start");
            }
            return Err(e);
        }
        tracing::info!(order = %id, offering = %offering.name, requester = %principal.name, "order accepted");
    }
    let object = store.get(&key).await?.unwrap_or(object);
    Ok(view(state, &object).await)
}

/// Raises the order's event and marks the order published.
async fn publish(
    state: &AppState,
    order: &StoredObject,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let spec = &order.body["spec"];
    let source = spec["event"]["eventSourceName"]
        .as_str()
        .unwrap_or_default();
    let event = spec["event"]["eventName"].as_str().unwrap_or_default();
    let mut headers = event_headers(headers);
    if let Ok(v) = HeaderValue::from_str(&order.name) {
        headers.insert("x-switchyard-order", v);
    }
    if let Some(Ok(v)) = spec["requester"].as_str().map(HeaderValue::from_str) {
        headers.insert("x-switchyard-requester", v);
    }
    let raised = state
        .pipeline()
        .raise(
            &order.namespace,
            source,
            event,
            &headers,
            spec["input"].clone(),
            &order.name,
        )
        .await;
    let outcome = match raised {
        Ok(outcome) => outcome,
        Err(RaiseError::Unavailable(m)) => {
            return Err(ApiError::unavailable(format!(
                "the order could not be recorded on the event bus: {m}"
            )));
        }
        Err(RaiseError::Busy(m)) => {
            let mut err = ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                switchyard_api::ErrorCode::Unavailable,
                format!("the order was not taken: {m}"),
            );
            err.retry_after = Some(1);
            return Err(err);
        }
        Err(RaiseError::NoRoute(m)) => {
            return Err(ApiError::unavailable(format!(
                "offering {} raises its orders on a webhook that is not served: {m}",
                spec["offering"].as_str().unwrap_or_default()
            )));
        }
        Err(RaiseError::Rejected(m)) => {
            return Err(ApiError::bad_request(format!(
                "the EventSource refused the order's event: {m}"
            )));
        }
    };
    let published_at = rules::format_timestamp(&rules::now());
    let filtered = outcome == Dispatched::FilteredOut;
    update_status(state.store().as_ref(), &order.key(), |status| {
        status["published"] = json!(true);
        status["publishedAt"] = json!(published_at);
        status["eventId"] = json!(order.name);
        if filtered {
            status["message"] =
                json!("the EventSource's filter dropped the order's event: no sensor will see it");
        }
    })
    .await?;
    Ok(())
}

/// The request headers an order's event carries, as a webhook request's would; credentials
/// and the idempotency key stay out.
fn event_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let skip = matches!(
            name.as_str(),
            "authorization" | "cookie" | "idempotency-key" | "content-length" | "connection"
        );
        if !skip {
            out.append(name.clone(), value.clone());
        }
    }
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    out
}

/// Read-modify-write of an object's status, retried when another writer got there first.
async fn update_status(
    store: &dyn Store,
    key: &ObjectKey,
    change: impl Fn(&mut Value),
) -> Result<StoredObject, StoreError> {
    let mut last = None;
    for _ in 0..STATUS_RETRIES {
        let Some(object) = store.get(key).await? else {
            return Err(StoreError::NotFound { key: key.clone() });
        };
        let mut status = object.body["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        change(&mut status);
        let update = StatusUpdate {
            key: key.clone(),
            status,
            precondition: Precondition::ResourceVersion(object.resource_version),
            logs: Vec::new(),
        };
        match store.put_status(update).await {
            Ok(updated) => return Ok(updated),
            Err(e @ StoreError::Conflict { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| StoreError::Internal {
        reason: format!("status update of {key} did not converge"),
    }))
}

/// Adds a run to the orders whose events started it (`events` is the run's
/// `events.switchyard.dev/events` annotation). Events that are not orders are skipped.
pub async fn link_run(store: &dyn Store, events: &str, namespace: &str, run: &str) {
    for id in events.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let ns = match store.get_meta(&format!("{NAMESPACE_META}{id}")).await {
            Ok(Some(ns)) => ns,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(order = %id, error = %e, "cannot look up the order of a run");
                continue;
            }
        };
        let key = ObjectKey::new(Kind::Order, ns, id.to_owned());
        let entry = json!({ "namespace": namespace, "name": run });
        let linked = update_status(store, &key, |status| {
            let runs = status
                .as_object_mut()
                .map(|s| s.entry("runs").or_insert_with(|| json!([])));
            if let Some(Value::Array(runs)) = runs
                && !runs.contains(&entry)
            {
                runs.push(entry.clone());
            }
        })
        .await;
        match linked {
            Ok(_) => tracing::info!(order = %id, run = %run, "order linked to its run"),
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => {
                tracing::warn!(order = %id, run = %run, error = %e, "order not linked to its run")
            }
        }
    }
}

/// Raises the events of orders accepted but not yet published (the process stopped between
/// recording an order and answering). The bus records each event once, so raising again
/// is safe.
pub async fn republish_pending(state: &AppState) {
    let orders = match state.store().list(Kind::Order, None).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list orders to raise the pending ones");
            return;
        }
    };
    for order in orders {
        if order.body["status"]["published"].as_bool() == Some(true) {
            continue;
        }
        match publish(state, &order, &HeaderMap::new()).await {
            Ok(()) => tracing::info!(order = %order.name, "pending order raised"),
            Err(e) => {
                tracing::warn!(order = %order.name, error = %e.body.message, "pending order not raised yet")
            }
        }
    }
}

/// Finds an order by id.
async fn find(state: &AppState, id: &str) -> Result<StoredObject, ApiError> {
    check_name(id)?;
    let store = state.store().as_ref();
    let not_found = || ApiError::not_found(format!("no order `{id}`"));
    let Some(ns) = store.get_meta(&format!("{NAMESPACE_META}{id}")).await? else {
        return Err(not_found());
    };
    store
        .get(&ObjectKey::new(Kind::Order, ns, id.to_owned()))
        .await?
        .ok_or_else(not_found)
}

/// What a run looks like from its order.
fn run_view(run: &Value, namespace: &str, name: &str) -> (Value, &'static str) {
    let status = &run["status"];
    let wf_phase = status["phase"].as_str().unwrap_or("Pending");
    let mut steps = Vec::new();
    let mut waiting = Vec::new();
    if let Some(nodes) = status["nodes"].as_object() {
        let mut nodes: Vec<(&String, &Value)> = nodes.iter().collect();
        nodes.sort_by(|a, b| {
            let t = |n: &Value| n["startedAt"].as_str().unwrap_or("").to_owned();
            t(a.1).cmp(&t(b.1)).then(a.0.cmp(b.0))
        });
        for (id, node) in nodes {
            let kind = node["type"].as_str().unwrap_or_default();
            let node_phase = node["phase"].as_str().unwrap_or_default();
            if kind == "Suspend" && node_phase == "Running" {
                waiting.push(node["displayName"].clone());
            }
            if !matches!(kind, "Pod" | "Suspend" | "Container") {
                continue;
            }
            let mut step = json!({
                "id": id,
                "name": node["displayName"],
                "type": kind,
                "phase": node_phase,
                "startedAt": node["startedAt"],
                "finishedAt": node["finishedAt"],
            });
            for field in ["message", "outputs", "inputs"] {
                if !node[field].is_null() {
                    step[field] = node[field].clone();
                }
            }
            if kind != "Suspend" {
                step["log"] = json!(format!(
                    "/api/v1/namespaces/{namespace}/workflows/{name}/log?step={id}"
                ));
            }
            steps.push(step);
        }
    }
    let order_phase = match wf_phase {
        "Succeeded" => phase::SUCCEEDED,
        "Failed" | "Error" => phase::FAILED,
        _ if !waiting.is_empty() => phase::WAITING,
        _ => phase::RUNNING,
    };
    let mut view = json!({
        "namespace": namespace,
        "name": name,
        "phase": wf_phase,
        "progress": status["progress"],
        "startedAt": status["startedAt"],
        "finishedAt": status["finishedAt"],
        "steps": steps,
        "links": {
            "self": format!("/api/v1/namespaces/{namespace}/workflows/{name}"),
            "log": format!("/api/v1/namespaces/{namespace}/workflows/{name}/log"),
        },
    });
    if !waiting.is_empty() {
        view["waitingAt"] = Value::Array(waiting);
    }
    if let Some(m) = status["message"].as_str() {
        view["message"] = json!(m);
    }
    (view, order_phase)
}

/// The order as the API shows it: what was ordered, by whom, its phase, and its runs with
/// their steps.
async fn view(state: &AppState, order: &StoredObject) -> Value {
    let spec = &order.body["spec"];
    let status = &order.body["status"];
    let store = state.store().as_ref();
    let mut runs = Vec::new();
    let mut phases = Vec::new();
    for run in status["runs"].as_array().into_iter().flatten() {
        let (Some(ns), Some(name)) = (run["namespace"].as_str(), run["name"].as_str()) else {
            continue;
        };
        let key = ObjectKey::new(Kind::Workflow, ns, name);
        match store.get(&key).await {
            Ok(Some(object)) => {
                let (v, p) = run_view(&object.body, ns, name);
                runs.push(v);
                phases.push(p);
            }
            Ok(None) => {
                runs.push(json!({"namespace": ns, "name": name, "phase": "Deleted"}));
            }
            Err(e) => {
                runs.push(json!({"namespace": ns, "name": name, "error": e.to_string()}));
                phases.push(phase::RUNNING);
            }
        }
    }
    let published = status["published"].as_bool() == Some(true);
    // Before any run: what the sensors did with the order's event, so a trigger that gave
    // up (or a filter that turned the event away) shows here rather than a silent wait.
    let mut sensed = None;
    if published && phases.is_empty() {
        sensed = Some(what_sensors_did(state, order).await);
    }
    let gave_up = sensed.as_ref().and_then(|s| s.gave_up.clone());
    let order_phase = if gave_up.is_some() {
        phase::FAILED
    } else if !published || phases.is_empty() {
        phase::ACCEPTED
    } else if phases.contains(&phase::FAILED) {
        phase::FAILED
    } else if phases.iter().all(|p| *p == phase::SUCCEEDED) {
        phase::SUCCEEDED
    } else if phases.contains(&phase::WAITING) {
        phase::WAITING
    } else {
        phase::RUNNING
    };
    let id = &order.name;
    let mut message = status["message"].as_str().map(str::to_owned);
    if let Some(s) = &sensed {
        message = gave_up.or(message).or_else(|| s.note.clone());
    }
    if let Some(rejection) = status["approvals"]
        .as_array()
        .and_then(|a| a.iter().rev().find(|x| x["decision"] == "rejected"))
    {
        message = Some(format!(
            "rejected by {}: {}",
            rejection["by"].as_str().unwrap_or_default(),
            rejection["comment"].as_str().unwrap_or_default()
        ));
    }
    let mut out = json!({
        "id": id,
        "offering": spec["offering"],
        "namespace": order.namespace,
        "route": spec["route"],
        "phase": order_phase,
        "requester": spec["requester"],
        "input": spec["input"],
        "createdAt": rules::format_timestamp(&order.created_at),
        "event": {
            "source": spec["event"]["eventSourceName"],
            "name": spec["event"]["eventName"],
            "id": id,
            "published": published,
            "publishedAt": status["publishedAt"],
        },
        "runs": runs,
        "approvals": status["approvals"].as_array().cloned().unwrap_or_default(),
        "links": {
            "self": format!("/api/v1/orders/{id}"),
            "events": format!("/api/v1/orders/{id}/events"),
            "approve": format!("/api/v1/orders/{id}/approve"),
            "reject": format!("/api/v1/orders/{id}/reject"),
        },
    });
    if let Some(m) = message {
        out["message"] = json!(m);
    }
    out
}

/// What sensors did with an order's event, from the event ledger.
struct Sensed {
    /// A trigger the event fired that was given up: the order failed, and why.
    gave_up: Option<String>,
    /// Otherwise, why nothing runs yet (a trigger being retried, a filter, a wait).
    note: Option<String>,
}

async fn what_sensors_did(state: &AppState, order: &StoredObject) -> Sensed {
    let query = switchyard_store::ledger::EventQuery {
        namespace: Some(order.namespace.clone()),
        event_id: Some(order.name.clone()),
        limit: 20,
        ..Default::default()
    };
    let records = match state.ledger().recent_events(&query).await {
        Ok(r) => r,
        Err(e) => {
            return Sensed {
                gave_up: None,
                note: Some(format!("cannot read what sensors did with the order: {e}")),
            };
        }
    };
    let mut notes = Vec::new();
    for record in &records {
        let sensor = &record.sensor.name;
        for firing in &record.firings {
            match firing.status {
                switchyard_store::ledger::FiringStatus::Dead => {
                    return Sensed {
                        gave_up: Some(format!(
                            "trigger {} of sensor {sensor} gave up: {}",
                            firing.trigger, firing.detail
                        )),
                        note: None,
                    };
                }
                switchyard_store::ledger::FiringStatus::Pending if !firing.detail.is_empty() => {
                    notes.push(format!(
                        "trigger {} of sensor {sensor} is retried: {}",
                        firing.trigger, firing.detail
                    ));
                }
                _ => {}
            }
        }
        if record.firings.is_empty() {
            let why: Vec<String> = record.outcome["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| {
                    let name = d["name"].as_str().unwrap_or_default();
                    match d["reason"].as_str() {
                        Some(reason) => format!("{name}: {reason}"),
                        None => format!("{name} {}", d["result"].as_str().unwrap_or_default()),
                    }
                })
                .collect();
            notes.push(format!(
                "sensor {sensor} took the event and fired nothing yet ({})",
                why.join("; ")
            ));
        }
    }
    if records.is_empty() {
        notes.push("waiting for a sensor to take the order's event".to_owned());
    }
    Sensed {
        gave_up: None,
        note: Some(notes.join("; ")),
    }
}

/// `GET /api/v1/orders/{id}`.
pub async fn get(
    State(state): State<AppState>,
    _principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let order = find(&state, &id).await?;
    Ok(Json(view(&state, &order).await))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    offering: Option<String>,
    phase: Option<String>,
    requester: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/orders?offering=&phase=&requester=&limit=`: newest first.
pub async fn list(
    State(state): State<AppState>,
    _principal: Principal,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_LIST {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIST}, not {limit}"
        )));
    }
    let mut orders = state.store().list(Kind::Order, None).await?;
    orders.retain(|o| {
        let spec = &o.body["spec"];
        query
            .offering
            .as_deref()
            .is_none_or(|f| spec["offering"] == f)
            && query
                .requester
                .as_deref()
                .is_none_or(|r| spec["requester"] == r)
    });
    orders.sort_by(|a, b| (b.created_at, &b.name).cmp(&(a.created_at, &a.name)));
    let mut items = Vec::new();
    for order in &orders {
        if items.len() == limit {
            break;
        }
        let v = view(&state, order).await;
        if query.phase.as_deref().is_none_or(|p| v["phase"] == p) {
            items.push(v);
        }
    }
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    #[serde(default)]
    comment: String,
}

/// `POST /api/v1/orders/{id}/approve`.
pub async fn approve(
    state: State<AppState>,
    principal: Principal,
    id: Path<String>,
    body: Result<Json<Decision>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    decide(state, principal, id, body, true).await
}

/// `POST /api/v1/orders/{id}/reject`.
pub async fn reject(
    state: State<AppState>,
    principal: Principal,
    id: Path<String>,
    body: Result<Json<Decision>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    decide(state, principal, id, body, false).await
}

async fn decide(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<Decision>, JsonRejection>,
    approve: bool,
) -> Result<Json<Value>, ApiError> {
    let Json(decision) = body.map_err(json_rejection)?;
    let verb = if approve { "approve" } else { "reject" };
    let comment = decision.comment.trim().to_owned();
    if comment.is_empty() {
        return Err(ApiError::bad_request(format!(
            "a comment is required to {verb} an order: say why"
        )));
    }
    if comment.len() > MAX_COMMENT {
        return Err(ApiError::bad_request(format!(
            "the comment is {} bytes; at most {MAX_COMMENT}",
            comment.len()
        )));
    }
    let order = find(&state, &id).await?;
    let spec = &order.body["spec"];
    let offering_name = spec["offering"].as_str().unwrap_or_default();
    let approvers = state
        .catalog()
        .by_name(&format!("{}/{offering_name}", order.namespace))
        .map(|o| o.access.approve.clone())
        .unwrap_or_else(|_| vec![crate::auth::roles::APPROVER.to_owned()]);
    if !principal.has_any_role(&approvers) {
        return Err(ApiError::forbidden(format!(
            "`{}` may not {verb} orders of {offering_name}: it needs one of the roles {}",
            principal.name,
            approvers.join(", ")
        )));
    }
    if spec["requester"].as_str() == Some(principal.name.as_str()) {
        return Err(ApiError::forbidden(format!(
            "`{}` placed this order and may not {verb} it: someone else with one of the roles {} must",
            principal.name,
            approvers.join(", ")
        )));
    }
    let current = view(&state, &order).await;
    if current["phase"] != phase::WAITING {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            format!(
                "order {id} is not waiting for approval (it is {})",
                current["phase"].as_str().unwrap_or("unknown")
            ),
        ));
    }
    let message = format!(
        "{} by {}: {comment}",
        if approve { "approved" } else { "rejected" },
        principal.name
    );
    for run in current["runs"].as_array().into_iter().flatten() {
        if run["waitingAt"].is_null() {
            continue;
        }
        let (Some(ns), Some(name)) = (run["namespace"].as_str(), run["name"].as_str()) else {
            continue;
        };
        let key = ObjectKey::new(Kind::Workflow, ns, name);
        let cmd = if approve {
            Command::Resume {
                node_filter: None,
                by: principal.name.clone(),
                message: Some(message.clone()),
            }
        } else {
            Command::Stop {
                by: principal.name.clone(),
                message: Some(message.clone()),
            }
        };
        match state.controller().command(&key, cmd).await {
            Ok(_) => {}
            Err(ControllerError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(crate::runs::api_error(e)),
        }
    }
    let at = rules::format_timestamp(&rules::now());
    let record = json!({
        "by": principal.name,
        "decision": if approve { "approved" } else { "rejected" },
        "comment": comment,
        "at": at,
    });
    let updated = update_status(state.store().as_ref(), &order.key(), |status| {
        let list = status
            .as_object_mut()
            .map(|s| s.entry("approvals").or_insert_with(|| json!([])));
        if let Some(Value::Array(list)) = list {
            list.push(record.clone());
        }
    })
    .await?;
    tracing::info!(order = %id, by = %principal.name, decision = verb, "order decided");
    Ok(Json(view(&state, &updated).await))
}

/// `GET /api/v1/orders/{id}/events`: server-sent events, one `order` event with the whole
/// order each time it changes, ending after the order finishes.
pub async fn events(
    State(state): State<AppState>,
    _principal: Principal,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let first = find(&state, &id).await?;
    let key = first.key();
    let stream = async_stream(state, key);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn async_stream(state: AppState, key: ObjectKey) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(
        (state, key, None::<Value>, false),
        |(state, key, last, done)| async move {
            if done {
                return None;
            }
            loop {
                let current = match state.store().get(&key).await {
                    Ok(Some(order)) => view(&state, &order).await,
                    Ok(None) => {
                        let gone = Event::default()
                            .event("deleted")
                            .data(json!({"id": key.name}).to_string());
                        return Some((Ok(gone), (state, key, last, true)));
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "order stream: store read failed; retrying");
                        tokio::time::sleep(STREAM_POLL).await;
                        continue;
                    }
                };
                if last.as_ref() != Some(&current) {
                    let finished = current["phase"].as_str().is_some_and(is_terminal);
                    let event = Event::default().event("order").data(current.to_string());
                    return Some((Ok(event), (state, key, Some(current), finished)));
                }
                tokio::time::sleep(STREAM_POLL).await;
            }
        },
    )
}

/// `GET /api/v1/catalog`: the catalog as callers see it.
pub async fn offerings(State(state): State<AppState>, principal: Principal) -> Json<Value> {
    let catalog = state.catalog();
    let items: Vec<Value> = catalog
        .offerings()
        .iter()
        .map(|o| {
            json!({
                "name": o.name,
                "namespace": o.namespace,
                "route": o.route,
                "title": o.title,
                "description": o.description,
                "event": {"eventSourceName": o.event.event_source_name, "eventName": o.event.event_name},
                "access": {"order": o.access.order, "approve": o.access.approve},
                "mayOrder": principal.has_any_role(&o.access.order),
                "mayApprove": principal.has_any_role(&o.access.approve),
                "input": o.input.json(),
            })
        })
        .collect();
    Json(json!({ "items": items }))
}
