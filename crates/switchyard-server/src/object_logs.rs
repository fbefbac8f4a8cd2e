//! What sensors and EventSources logged, kept per object for `switchyard logs sensor/NAME`.
//!
//! A tracing layer picks every log event that names a sensor (field `sensor = "ns/name"`) or
//! an EventSource (field `event_source = "ns/name"`) and keeps its last lines in memory, per
//! object, numbered so a follower asks only for what is new. They are this process's lines
//! since it started (the full log is the server's own output); memory is bounded.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Lines kept per object.
const LINES_PER_OBJECT: usize = 500;
/// Objects kept; the one logged to least recently goes first.
const MAX_OBJECTS: usize = 2000;

/// Which kind of object a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Sensor,
    EventSource,
}

/// One kept line.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// Increases by one per kept line, across objects.
    pub seq: u64,
    pub time: String,
    pub level: String,
    pub message: String,
    /// The event's other fields, `key=value` in the order logged.
    pub fields: String,
}

#[derive(Default)]
struct Kept {
    next_seq: u64,
    /// Each object's lines and the sequence number of its last line (its recency).
    lines: HashMap<(ObjectKind, String), (u64, VecDeque<LogLine>)>,
}

/// The kept lines of every object. One per process, shared by the layer and the API.
#[derive(Default)]
pub struct ObjectLogs {
    kept: Mutex<Kept>,
}

impl ObjectLogs {
    /// The process-wide instance.
    pub fn global() -> Arc<ObjectLogs> {
        static GLOBAL: OnceLock<Arc<ObjectLogs>> = OnceLock::new();
        GLOBAL.get_or_init(Arc::default).clone()
    }

    fn push(
        &self,
        key: (ObjectKind, String),
        time: DateTime<Utc>,
        level: &str,
        message: String,
        fields: String,
    ) {
        let mut kept = match self.kept.lock() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        kept.next_seq += 1;
        let line = LogLine {
            seq: kept.next_seq,
            time: time.to_rfc3339_opts(SecondsFormat::Millis, true),
            level: level.to_owned(),
            message,
            fields,
        };
        let seq = line.seq;
        let is_new = !kept.lines.contains_key(&key);
        if is_new && kept.lines.len() >= MAX_OBJECTS {
            // Only when a new object would pass the cap: drop the one written to least
            // recently (a scan, but once per new object, not per line).
            let oldest = kept
                .lines
                .iter()
                .min_by_key(|(_, (last, _))| *last)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                kept.lines.remove(&oldest);
            }
        }
        let (last, lines) = kept.lines.entry(key).or_default();
        *last = seq;
        lines.push_back(line);
        while lines.len() > LINES_PER_OBJECT {
            lines.pop_front();
        }
    }

    /// The kept lines of one object with `seq > after`, oldest first.
    pub fn lines(&self, kind: ObjectKind, namespace: &str, name: &str, after: u64) -> Vec<LogLine> {
        let kept = match self.kept.lock() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        kept.lines
            .get(&(kind, format!("{namespace}/{name}")))
            .map(|(_, lines)| lines.iter().filter(|l| l.seq > after).cloned().collect())
            .unwrap_or_default()
    }
}

/// The tracing layer feeding [`ObjectLogs::global`].
pub struct ObjectLogsLayer {
    logs: Arc<ObjectLogs>,
}

impl ObjectLogsLayer {
    pub fn new() -> Self {
        ObjectLogsLayer {
            logs: ObjectLogs::global(),
        }
    }
}

impl Default for ObjectLogsLayer {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    sensor: Option<String>,
    event_source: Option<String>,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field.name(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field.name(), format!("{value:?}"));
    }
}

impl Fields {
    fn record(&mut self, name: &str, value: String) {
        match name {
            "message" => self.message = value,
            "sensor" => self.sensor = Some(value),
            "event_source" => self.event_source = Some(value),
            _ => {
                if !self.rest.is_empty() {
                    self.rest.push(' ');
                }
                let _ = write!(self.rest, "{name}={value}");
            }
        }
    }
}

impl<S: Subscriber> Layer<S> for ObjectLogsLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let key = match (fields.sensor, fields.event_source) {
            (Some(sensor), _) => (ObjectKind::Sensor, sensor),
            (None, Some(source)) => (ObjectKind::EventSource, source),
            (None, None) => return,
        };
        let level = event.metadata().level().as_str();
        self.logs
            .push(key, Utc::now(), level, fields.message, fields.rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn lines_are_kept_per_object_and_numbered() {
        let layer = ObjectLogsLayer {
            logs: Arc::default(),
        };
        let logs = layer.logs.clone();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(sensor = "ns/a", event_id = "e1", "event consumed");
            tracing::warn!(
                event_source = "ns/web",
                event = "orders",
                "webhook event not served"
            );
            tracing::info!(sensor = "ns/b", "sensor started");
            tracing::info!(other = 1, "not about an object");
            tracing::info!(sensor = "ns/a", "sensor stopped");
        });
        let a = logs.lines(ObjectKind::Sensor, "ns", "a", 0);
        let messages: Vec<&str> = a.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(messages, ["event consumed", "sensor stopped"]);
        assert_eq!(a[0].fields, "event_id=e1");
        assert_eq!(a[0].level, "INFO");
        let after = logs.lines(ObjectKind::Sensor, "ns", "a", a[0].seq);
        assert_eq!(after.len(), 1);
        let web = logs.lines(ObjectKind::EventSource, "ns", "web", 0);
        assert_eq!(web[0].level, "WARN");
        assert_eq!(web[0].fields, "event=orders");
        assert!(logs.lines(ObjectKind::Sensor, "ns", "web", 0).is_empty());
    }

    #[test]
    fn memory_is_bounded() {
        let logs = ObjectLogs::default();
        for i in 0..(LINES_PER_OBJECT + 10) {
            logs.push(
                (ObjectKind::Sensor, "ns/a".into()),
                Utc::now(),
                "INFO",
                format!("{i}"),
                String::new(),
            );
        }
        let lines = logs.lines(ObjectKind::Sensor, "ns", "a", 0);
        assert_eq!(lines.len(), LINES_PER_OBJECT);
        assert_eq!(lines[0].message, "10");
        for i in 0..(MAX_OBJECTS + 5) {
            logs.push(
                (ObjectKind::EventSource, format!("ns/s{i}")),
                Utc::now(),
                "INFO",
                String::new(),
                String::new(),
            );
        }
        assert!(logs.lines(ObjectKind::Sensor, "ns", "a", 0).is_empty());
        assert_eq!(logs.lines(ObjectKind::EventSource, "ns", "s10", 0).len(), 1);
    }
}
