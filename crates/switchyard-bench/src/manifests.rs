//! The manifests B1, B2, B4 and B5 apply or submit: a webhook EventSource, Sensors that
//! start a one-step Workflow per event, and a Workflow that waits at an approval gate. All
//! in namespace `default`, written as JSON (which the loader reads as YAML).

use serde_json::json;

/// The EventSource's name and its one webhook event.
pub const EVENT_SOURCE: &str = "bench";
pub const EVENT_NAME: &str = "events";
/// The webhook's endpoint.
pub const ENDPOINT: &str = "/events";

/// A webhook EventSource with one POST endpoint, [`ENDPOINT`], on `port`.
pub fn event_source(port: u16) -> String {
    let manifest = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": EVENT_SOURCE},
        "spec": {
            "webhook": {
                EVENT_NAME: {
                    "port": port.to_string(),
                    "endpoint": ENDPOINT,
                    "method": "POST",
                },
            },
        },
    });
    format!("{manifest:#}")
}

/// How a Sensor names the runs it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunName {
    /// From the event's `body.name` (the sender knows each run's name).
    FromBody,
    /// `generateName` plus a suffix derived from the event (the server's default).
    Generated,
}

/// A Sensor named `name` that starts, for every event of the EventSource, a Workflow whose
/// only step runs `command` (no shell).
pub fn sensor(name: &str, command: &[&str], run_name: RunName) -> String {
    let mut trigger = json!({
        "operation": "submit",
        "source": {
            "resource": {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Workflow",
                "metadata": {"generateName": format!("{name}-")},
                "spec": {
                    "entrypoint": "main",
                    "templates": [{
                        "name": "main",
                        "container": {"image": "alpine:3.20", "command": command},
                    }],
                },
            },
        },
    });
    if run_name == RunName::FromBody {
        trigger["parameters"] = json!([{
            "src": {"dependencyName": "event", "dataKey": "body.name"},
            "dest": "metadata.name",
        }]);
    }
    let manifest = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": name},
        "spec": {
            "dependencies": [{
                "name": "event",
                "eventSourceName": EVENT_SOURCE,
                "eventName": EVENT_NAME,
            }],
            "triggers": [{"template": {"name": "run", "argoWorkflow": trigger}}],
        },
    });
    format!("{manifest:#}")
}

/// A Workflow whose entrypoint is an approval gate (`suspend: {}`): it waits until resumed.
pub fn suspended_workflow() -> String {
    let manifest = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "b5-"},
        "spec": {
            "entrypoint": "approve",
            "templates": [{"name": "approve", "suspend": {}}],
        },
    });
    format!("{manifest:#}")
}

/// The JSON body of a webhook event naming its run.
pub fn named_event(name: &str) -> String {
    json!({ "name": name }).to_string()
}

/// The JSON body of B1's and B4's events.
pub fn plain_event() -> String {
    json!({"source": "switchyard-bench", "kind": "benchmark"}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use switchyard_manifest::{Limits, Severity, Source, load, validate};

    fn check(name: &str, manifests: &[String]) {
        let sources: Vec<Source> = manifests
            .iter()
            .enumerate()
            .map(|(i, m)| Source::new(format!("{name}-{i}.json"), m.clone()))
            .collect();
        let loaded = load(&sources, &Limits::default());
        assert!(
            loaded.diagnostics.is_empty(),
            "{name}: {:?}",
            loaded.diagnostics
        );
        assert_eq!(loaded.objects.len(), manifests.len());
        let findings = validate(&loaded.objects, &|_, _, _| false);
        assert!(
            !findings.iter().any(|d| d.severity == Severity::Error),
            "{name}: {findings:?}"
        );
    }

    fn parse(manifest: &str) -> Option<Value> {
        serde_json::from_str(manifest).ok()
    }

    #[test]
    fn every_manifest_loads_and_validates() {
        check(
            "trigger",
            &[
                event_source(12345),
                sensor("b2", &["date", "+%s%N"], RunName::FromBody),
            ],
        );
        check(
            "e2e",
            &[event_source(1), sensor("b4", &["true"], RunName::Generated)],
        );
        check("gate", &[suspended_workflow()]);
    }

    #[test]
    fn runs_are_named_from_the_body_only_when_asked() {
        let named = parse(&sensor("s", &["true"], RunName::FromBody)).unwrap();
        let trigger = &named["spec"]["triggers"][0]["template"]["argoWorkflow"];
        assert_eq!(trigger["parameters"][0]["dest"], "metadata.name");
        assert_eq!(trigger["parameters"][0]["src"]["dataKey"], "body.name");
        let generated = parse(&sensor("s", &["true"], RunName::Generated)).unwrap();
        assert!(
            generated["spec"]["triggers"][0]["template"]["argoWorkflow"]
                .get("parameters")
                .is_none()
        );
        assert_eq!(named_event("b2-00001"), r#"{"name":"b2-00001"}"#);
        let source = parse(&event_source(4711)).unwrap();
        assert_eq!(source["spec"]["webhook"]["events"]["port"], "4711");
    }
}
