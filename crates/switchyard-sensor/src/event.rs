//! The events a sensor reads: a CloudEvent's context and its data bytes, and the JSON views of
//! them that parameters and templates use (Argo Events' `Event` and `EventContext`).

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The content type Argo's event sources set, and the one transforms set on their output.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// The CloudEvent attributes a sensor sees. `source` is the EventSource's name and `subject`
/// the event's name within it (the key under `spec.webhook`, say): dependencies match on
/// those two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventContext {
    /// Unique per `source` (a redelivery carries the same id).
    pub id: String,
    /// The EventSource's name.
    pub source: String,
    /// The CloudEvents version, `1.0`.
    pub specversion: String,
    /// The kind of source: `webhook`, `calendar`, ...
    #[serde(rename = "type")]
    pub type_: String,
    /// The event's name within its EventSource.
    pub subject: String,
    /// When the event happened (time filters read this).
    pub time: DateTime<Utc>,
    /// The content type of `data`; `application/json` for every source Switchyard runs.
    pub datacontenttype: String,
}

/// One event as it arrives from the bus: context and data bytes (for a webhook, the JSON
/// object `{"header": .., "body": .., "metadata": ..}`).
///
/// Serialized (in [`crate::SensorState`] and [`crate::Firing`]) with `data` in base64, as
/// Go's `[]byte` is, so any bytes round-trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInput {
    /// The CloudEvent attributes.
    pub context: EventContext,
    /// The data, as sent (JSON text for JSON events).
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

impl EventInput {
    /// An event whose data is the JSON text of `data`, with content type `application/json`.
    pub fn json(mut context: EventContext, data: &Value) -> Self {
        context.datacontenttype = JSON_CONTENT_TYPE.to_owned();
        EventInput {
            context,
            data: data.to_string().into_bytes(),
        }
    }

    /// The data as text when it is UTF-8.
    pub fn data_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }

    /// Whether the event has data at all (Argo's filters pass an event without data).
    pub(crate) fn has_data(&self) -> bool {
        !self.data.is_empty()
    }

    /// `(source, id)`: what makes an event unique, per the CloudEvents specification.
    pub fn identity(&self) -> (&str, &str) {
        (&self.context.source, &self.context.id)
    }
}

impl EventContext {
    /// The context as Argo serializes its `EventContext` for `contextKey` and
    /// `contextTemplate`: every attribute, `time` in RFC 3339 with whole seconds in UTC (a
    /// Kubernetes `metav1.Time`).
    pub fn to_argo_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("id".into(), Value::String(self.id.clone()));
        map.insert("source".into(), Value::String(self.source.clone()));
        map.insert(
            "specversion".into(),
            Value::String(self.specversion.clone()),
        );
        map.insert("type".into(), Value::String(self.type_.clone()));
        map.insert(
            "datacontenttype".into(),
            Value::String(self.datacontenttype.clone()),
        );
        map.insert("subject".into(), Value::String(self.subject.clone()));
        map.insert(
            "time".into(),
            Value::String(self.time.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
        Value::Object(map)
    }
}

/// The whole event as Argo serializes its `Event` (a parameter source with no key, template or
/// default): `{"context": {..}, "data": "<base64>"}`.
pub(crate) fn argo_event_json(event: &EventInput) -> Value {
    let mut map = Map::new();
    map.insert("context".into(), event.context.to_argo_json());
    map.insert(
        "data".into(),
        Value::String(base64::engine::general_purpose::STANDARD.encode(&event.data)),
    );
    Value::Object(map)
}

/// Serde for bytes as a base64 string.
mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> EventContext {
        EventContext {
            id: "42".into(),
            source: "webhook".into(),
            specversion: "1.0".into(),
            type_: "webhook".into(),
            subject: "environments".into(),
            time: DateTime::parse_from_rfc3339("2026-11-21T10:00:00.123Z")
                .unwrap()
                .with_timezone(&Utc),
            datacontenttype: String::new(),
        }
    }

    #[test]
    fn json_views_follow_argo() {
        let event = EventInput::json(context(), &serde_json::json!({"body": {"a": 1}}));
        assert_eq!(event.context.datacontenttype, "application/json");
        assert_eq!(
            event.context.to_argo_json().to_string(),
            r#"{"id":"42","source":"webhook","specversion":"1.0","type":"webhook","datacontenttype":"application/json","subject":"environments","time":"2026-11-21T10:00:00Z"}"#
        );
        let whole = argo_event_json(&event);
        assert_eq!(whole["data"], "eyJib2R5Ijp7ImEiOjF9fQ==");
        let back: EventInput =
            serde_json::from_str(&serde_json::to_string(&event).unwrap()).unwrap();
        assert_eq!(back, event);
        assert_eq!(event.identity(), ("webhook", "42"));
    }
}
