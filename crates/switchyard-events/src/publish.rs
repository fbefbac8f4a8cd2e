//! Publishing EventSource events on the bus.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value as Json};
use switchyard_bus::{EventBus, OutgoingMessage, Subject};

use crate::backlog::Backlog;
use crate::cloudevent::CloudEvent;
use crate::metrics;
use crate::webhook::{Dispatch, DispatchError, Dispatched, WebhookRoute};

/// Filters events with their source's `filter.expression` and publishes them on the bus.
pub struct BusDispatch {
    bus: Arc<dyn EventBus>,
    backlog: Option<Arc<Backlog>>,
}

impl BusDispatch {
    pub fn new(bus: Arc<dyn EventBus>) -> Self {
        BusDispatch { bus, backlog: None }
    }

    /// Refuses webhook events (not calendar ticks) while `backlog` is at its limit.
    pub fn with_backlog(mut self, backlog: Arc<Backlog>) -> Self {
        self.backlog = Some(backlog);
        self
    }

    /// Publishes `event` of an EventSource in `namespace`: durable when this returns `Ok`.
    pub async fn publish(
        &self,
        namespace: &str,
        event: &CloudEvent,
        dedup: Option<String>,
    ) -> Result<Dispatched, DispatchError> {
        let subject = Subject::new(event.bus_subject(namespace)).map_err(|e| {
            DispatchError::Rejected(format!(
                "the EventSource and event names do not make a bus subject: {e}"
            ))
        })?;
        let mut message = OutgoingMessage::new(subject, event.to_bytes());
        if let Some(dedup) = dedup {
            message = message.with_dedup_id(dedup);
        }
        match self.bus.publish(message).await {
            Ok(published) if published.duplicate => Ok(Dispatched::Duplicate),
            Ok(_) => {
                metrics::event_sent(&event.source, &event.subject);
                Ok(Dispatched::Recorded)
            }
            Err(err) => {
                metrics::event_failed(&event.source, &event.subject);
                if err.is_retryable() {
                    Err(DispatchError::Unavailable(err.to_string()))
                } else {
                    Err(DispatchError::Rejected(err.to_string()))
                }
            }
        }
    }
}

#[async_trait]
impl Dispatch for BusDispatch {
    async fn dispatch(
        &self,
        route: &WebhookRoute,
        event: CloudEvent,
        dedup: Option<String>,
    ) -> Result<Dispatched, DispatchError> {
        if let Some(expression) = &route.filter {
            match passes_filter(expression, &event.data) {
                Ok(true) => {}
                Ok(false) => return Ok(Dispatched::FilteredOut),
                Err(reason) => {
                    metrics::event_failed(&event.source, &event.subject);
                    return Err(DispatchError::Rejected(format!(
                        "filter.expression of EventSource {} event `{}`: {reason}",
                        route.source, route.event
                    )));
                }
            }
        }
        if let Some(reason) = self.backlog.as_ref().and_then(|b| b.refusal()) {
            return Err(DispatchError::Busy(reason));
        }
        self.publish(&route.namespace, &event, dedup).await
    }
}

/// Argo Events' EventSource filter: the expression sees the event data's top-level fields,
/// with `-` in their names replaced by `_`, and must give a boolean.
pub fn passes_filter(expression: &str, data: &Json) -> Result<bool, String> {
    let env: Map<String, Json> = data
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .map(|(k, v)| (k.replace('-', "_"), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    match switchyard_expr::eval_expr(expression, &Json::Object(env)) {
        Ok(Json::Bool(pass)) => Ok(pass),
        Ok(other) => Err(format!("the expression gave {other}, not a boolean")),
        Err(err) => Err(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_see_top_level_fields_with_dashes_as_underscores() {
        let data = json!({"body": {"size": 3}, "header": {}, "x-kind": "a"});
        assert_eq!(passes_filter("body.size > 2", &data), Ok(true));
        assert_eq!(passes_filter("x_kind == 'b'", &data), Ok(false));
        assert!(
            passes_filter("body.size", &data)
                .unwrap_err()
                .contains("not a boolean")
        );
        assert!(passes_filter("body.size >", &data).is_err());
    }
}
