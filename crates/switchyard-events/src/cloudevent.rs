//! Events as they travel on the bus: CloudEvents 1.0 in structured JSON form, one subject per
//! EventSource event.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The CloudEvents version every event carries.
pub const SPEC_VERSION: &str = "1.0";

/// The first token of every event subject on the bus.
pub const SUBJECT_PREFIX: &str = "events";

/// One event, with the attributes Argo Events sets: `source` is the EventSource's name,
/// `subject` the event's name within it (the key under `spec.webhook`, say), `type` the kind
/// of source (`webhook`, `calendar`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    pub time: DateTime<Utc>,
    pub datacontenttype: String,
    /// The `source` the sender gave, when it sent a CloudEvent itself (our `source` stays the
    /// EventSource's name, which is what sensors match on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originsource: Option<String>,
    /// The event's data; JSON for every source we run.
    pub data: Json,
}

impl CloudEvent {
    /// The event's context as sensors see it (`contextKey`, context filters): every attribute
    /// but `data`.
    pub fn context(&self) -> Json {
        let mut context = serde_json::json!({
            "id": self.id,
            "source": self.source,
            "specversion": self.specversion,
            "type": self.kind,
            "subject": self.subject,
            "time": self.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            "datacontenttype": self.datacontenttype,
        });
        if let (Some(origin), Some(map)) = (&self.originsource, context.as_object_mut()) {
            map.insert("originsource".into(), Json::String(origin.clone()));
        }
        context
    }

    /// The event as bytes on the bus (structured mode).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing owned strings, a time and a `Value` cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An event read back from the bus.
    pub fn from_bytes(bytes: &[u8]) -> Result<CloudEvent, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The bus subject of this event.
    pub fn bus_subject(&self, namespace: &str) -> String {
        subject(namespace, &self.source, &self.subject)
    }
}

/// The bus subject of the events named `event` of EventSource `source` in `namespace`:
/// `events.<namespace>.<source>.<event>`, each name escaped into one subject token.
pub fn subject(namespace: &str, source: &str, event: &str) -> String {
    let mut out = String::from(SUBJECT_PREFIX);
    for name in [namespace, source, event] {
        out.push('.');
        escape_token(name, &mut out);
    }
    out
}

/// The subject filter for every event of EventSource `source` in `namespace`.
pub fn source_filter(namespace: &str, source: &str) -> String {
    let mut out = String::from(SUBJECT_PREFIX);
    for name in [namespace, source] {
        out.push('.');
        escape_token(name, &mut out);
    }
    out.push_str(".>");
    out
}

/// A name as one subject token: letters, digits, `-` and `_` stay; every other byte (`.`,
/// `*`, `>`, spaces, `%`) becomes `%XX`, so names can never split or widen a subject. An
/// empty name is `%`, which no escaped name can be.
fn escape_token(name: &str, out: &mut String) {
    if name.is_empty() {
        out.push('%');
        return;
    }
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_escape_names_into_single_tokens() {
        assert_eq!(
            subject("default", "webhook", "environments"),
            "events.default.webhook.environments"
        );
        assert_eq!(
            subject("team.a", "my hook", "x>*%"),
            "events.team%2Ea.my%20hook.x%3E%2A%25"
        );
        assert_eq!(subject("", "s", "e"), "events.%.s.e");
        assert_eq!(
            source_filter("default", "webhook"),
            "events.default.webhook.>"
        );
    }

    #[test]
    fn events_round_trip_through_bytes_and_show_their_context() {
        let event = CloudEvent {
            specversion: SPEC_VERSION.into(),
            id: "0193".into(),
            source: "webhook".into(),
            kind: "webhook".into(),
            subject: "environments".into(),
            time: DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            datacontenttype: "application/json".into(),
            originsource: None,
            data: serde_json::json!({"body": {"region": "eastus2"}}),
        };
        let back = CloudEvent::from_bytes(&event.to_bytes()).unwrap();
        assert_eq!(back, event);
        assert_eq!(
            event.context(),
            serde_json::json!({
                "id": "0193", "source": "webhook", "specversion": "1.0", "type": "webhook",
                "subject": "environments", "time": "2026-11-21T10:00:00Z",
                "datacontenttype": "application/json"
            })
        );
        assert_eq!(
            event.bus_subject("default"),
            "events.default.webhook.environments"
        );
    }
}
