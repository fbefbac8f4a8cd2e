//! Prometheus metrics under Argo Events' names and labels.

/// An event an EventSource published.
pub const EVENTS_SENT: &str = "argo_events_events_sent_total";
/// An event an EventSource failed to publish.
pub const EVENTS_FAILED: &str = "argo_events_events_processing_failed_total";
/// A trigger a sensor carried out.
pub const ACTION_TRIGGERED: &str = "argo_events_action_triggered_total";
/// A trigger a sensor failed to carry out (each failed attempt).
pub const ACTION_FAILED: &str = "argo_events_action_failed_total";
/// How long carrying out a trigger took.
pub const ACTION_DURATION: &str = "argo_events_action_duration_milliseconds";

pub(crate) fn event_sent(source: &str, event: &str) {
    metrics::counter!(EVENTS_SENT, "event_source_name" => source.to_owned(), "event_name" => event.to_owned())
        .increment(1);
}

pub(crate) fn event_failed(source: &str, event: &str) {
    metrics::counter!(EVENTS_FAILED, "event_source_name" => source.to_owned(), "event_name" => event.to_owned())
        .increment(1);
}

pub(crate) fn action_triggered(sensor: &str, trigger: &str, millis: f64) {
    metrics::counter!(ACTION_TRIGGERED, "sensor_name" => sensor.to_owned(), "trigger_name" => trigger.to_owned())
        .increment(1);
    metrics::histogram!(ACTION_DURATION, "sensor_name" => sensor.to_owned(), "trigger_name" => trigger.to_owned())
        .record(millis);
}

pub(crate) fn action_failed(sensor: &str, trigger: &str) {
    metrics::counter!(ACTION_FAILED, "sensor_name" => sensor.to_owned(), "trigger_name" => trigger.to_owned())
        .increment(1);
}
