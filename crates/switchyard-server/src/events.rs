//! The event pipeline's read API: what sensors consumed and what that triggered.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_store::ledger::EventQuery;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// Most events one request lists.
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    namespace: Option<String>,
    /// Only events of this EventSource.
    source: Option<String>,
    /// Only events consumed by this sensor.
    sensor: Option<String>,
    /// Only the event with this id.
    event: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/events`: recent events as sensors consumed them, newest first, each with
/// what it did to the sensor and the triggers it fired (and how they ended).
pub async fn list(
    State(state): State<AppState>,
    _principal: Principal,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}, not {limit}"
        )));
    }
    let records = state
        .ledger()
        .recent_events(&EventQuery {
            namespace: query.namespace,
            event_source: query.source,
            sensor: query.sensor,
            event_id: query.event,
            limit,
        })
        .await?;
    Ok(Json(json!({ "items": records })))
}
