//! A Sensor's rules over events anyone can send: dependency filters (data, exprs, context,
//! time, Lua script, data templates), transforms (jq, Lua), trigger conditions with pending
//! state, and trigger parameters resolved into Workflows, Kubernetes objects, HTTP requests
//! and dead-letter triggers (`CompiledSensor::on_event`, `resolve`, `resolve_dlq`).
//!
//! The sensors are fixed (the bundled platform's and a set below that uses every filter,
//! transform and parameter form; a Sensor's own text is fuzzed by the `manifest` target). The
//! events are fuzzed.
//!
//! Input: `knobs \0 data \0 second data`. Knobs pick the sensor, the dependency each of the two
//! events is for, and their content type and time. The data is the event's bytes as sent (for
//! a webhook event, the JSON `{"header": .., "body": .., "metadata": ..}`).
//!
//! Checked: the state a sensor keeps between events serializes and reads back unchanged; a
//! resolved Workflow or object reads back from its JSON text, as the store reads it.

#![no_main]

use std::sync::OnceLock;

use arbitrary::Unstructured;
use chrono::TimeDelta;
use libfuzzer_sys::fuzz_target;
use switchyard_manifest::{Limits, Resource, Source, load};
use switchyard_sensor::{CompiledSensor, EventContext, EventInput, SensorState, TriggerAction};

const SENSORS: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: filters, namespace: argo-events}
spec:
  dependencies:
    - name: data
      eventSourceName: webhook
      eventName: data
      filters:
        data:
          - {path: body.region, type: string, value: ["eu-.*", "us"]}
          - {path: body.size, type: number, value: ["2"], comparator: ">="}
          - {path: body.ok, type: bool, value: ["true"]}
          - {path: "body.tags.#", type: number, value: ["0"], comparator: "!="}
          - {path: body.name, type: string, value: ["x"], template: "{{ .Input | upper }}"}
        dataLogicalOperator: or
    - name: exprs
      eventSourceName: webhook
      eventName: exprs
      filters:
        exprLogicalOperator: and
        exprs:
          - expr: 'size > 2 && env == "prod"'
            fields: [{name: size, path: body.size}, {name: env, path: body.env}]
          - expr: 'region =~ "^eu-" || (tags in ("a", "b"))'
            fields: [{name: region, path: body.region}, {name: tags, path: "body.tags.0"}]
    - name: context
      eventSourceName: webhook
      eventName: context
      filtersLogicalOperator: or
      filters:
        context: {type: webhook, source: webhook}
        time: {start: "08:00:00", stop: "17:00:00", timezone: Europe/Paris}
        script: |
          if event.body ~= nil and event.body.size ~= nil and event.body.size > 2 then
            return true
          end
          return false
    - name: jq
      eventSourceName: webhook
      eventName: jq
      transform:
        jq: '.body.region |= ascii_upcase | .body.count = ((.body.tags // []) | length)'
      filters:
        data: [{path: body.count, type: number, value: ["1"], comparator: ">="}]
    - name: lua
      eventSourceName: webhook
      eventName: lua
      transform:
        script: 'if event.body then event.body.seen = true end; return event'
  triggers:
    - template:
        name: workflow
        conditions: "data || exprs || (context && jq)"
        conditionsReset:
          - byTime: {cron: "0 0 * * *", timezone: UTC}
        argoWorkflow:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata: {generateName: order-}
              spec:
                entrypoint: main
                arguments:
                  parameters: [{name: region, value: unset}, {name: count}]
                templates:
                  - name: main
                    container: {image: alpine, command: ["true"]}
          parameters:
            - src: {dependencyName: data, dataKey: body.region, value: eastus2}
              dest: spec.arguments.parameters.0.value
            - src: {dependencyName: exprs, dataTemplate: "{{ .Input.body.size | default 1 }}", value: "1"}
              dest: spec.arguments.parameters.1.value
            - src: {dependencyName: data, contextKey: id}
              dest: metadata.labels.event
              operation: append
            - src: {dependencyName: jq, dataKey: body, useRawData: true, value: "{}"}
              dest: spec.arguments.parameters.-1
            - src: {dependencyName: context, contextTemplate: "{{ .Input.source }}/{{ .Input.subject }}", value: x}
              dest: metadata.annotations.from
              operation: prepend
      dlqTrigger:
        template: {name: dead-letter, log: {}}
    - template:
        name: hook
        conditions: "lua"
        http:
          url: https://example.com/unset
          method: POST
          payload:
            - src: {dependencyName: lua, dataKey: body.region, value: none}
              dest: region
            - src: {dependencyName: lua, dataKey: body, useRawData: true}
              dest: order.body
            - src: {dependencyName: lua, dataTemplate: '{{ toJson .Input.header }}', value: "{}"}
              dest: headers
          dynamicHeaders:
            - src: {dependencyName: lua, contextKey: id}
              dest: X-Event
          parameters:
            - src: {dependencyName: lua, dataTemplate: "https://example.com/{{ .Input.body.region }}", value: "https://example.com/"}
              dest: url
    - template:
        name: object
        conditions: "lua && data"
        k8s:
          operation: create
          source:
            resource:
              apiVersion: v1
              kind: ConfigMap
              metadata: {generateName: order-}
              data: {region: unset}
          parameters:
            - src: {dependencyName: data, dataKey: body.region}
              dest: data.region
            - src: {dependencyName: lua, dataKey: "body.tags.#", value: "0"}
              dest: data.tags
    - template:
        name: log
        log: {}
"#;

struct Fixture {
    sensor: CompiledSensor,
    /// `(eventSourceName, eventName)` of each dependency.
    events: Vec<(String, String)>,
}

fn fixtures() -> &'static [Fixture] {
    static FIXTURES: OnceLock<Vec<Fixture>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let sources = [
            Source::new("fuzz.yaml", SENSORS),
            Source::new(
                "sensors.yaml",
                include_str!("../../examples/platform/sensors.yaml"),
            ),
        ];
        let out = load(&sources, &Limits::default());
        assert!(!out.has_errors(), "{:#?}", out.diagnostics);
        let fixtures: Vec<Fixture> = out
            .objects
            .into_iter()
            .filter_map(|o| match o.resource {
                Resource::Sensor(sensor) => Some(sensor),
                _ => None,
            })
            .map(|model| Fixture {
                events: model
                    .spec
                    .dependencies
                    .iter()
                    .map(|d| (d.event_source_name.clone(), d.event_name.clone()))
                    .collect(),
                sensor: CompiledSensor::compile(&model).unwrap_or_else(|p| panic!("{p:#?}")),
            })
            .collect();
        assert!(fixtures.len() >= 4, "every fixture sensor loads");
        fixtures
    })
}

fn event(u: &mut Unstructured<'_>, fixture: &Fixture, id: &str, data: &[u8]) -> EventInput {
    let (source, subject) = u
        .choose(&fixture.events)
        .cloned()
        .unwrap_or_else(|_| fixture.events[0].clone());
    let minutes: u16 = u.arbitrary().unwrap_or(0);
    let datacontenttype = if u.arbitrary().unwrap_or(true) {
        "application/json"
    } else {
        "text/plain"
    };
    EventInput {
        context: EventContext {
            id: id.to_owned(),
            source,
            specversion: "1.0".to_owned(),
            type_: "webhook".to_owned(),
            subject,
            time: switchyard_fuzz::now() + TimeDelta::minutes(i64::from(minutes)),
            datacontenttype: datacontenttype.to_owned(),
        },
        data: data.to_vec(),
    }
}

/// A resolved Workflow or object is stored as JSON text: it must read back.
fn check_readable(action: &TriggerAction) {
    if let TriggerAction::ArgoWorkflow { resource, .. } | TriggerAction::K8s { resource, .. } =
        action
    {
        let text = resource.to_string();
        if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
            panic!("a resolved resource does not read back: {e}\n{text}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    switchyard_fuzz::contain_engine_panics();
    let [knobs, first, second] = switchyard_fuzz::parts(data);
    let mut u = Unstructured::new(knobs);
    let fixtures = fixtures();
    let Ok(fixture) = u.choose(fixtures) else {
        return;
    };
    let sensor = &fixture.sensor;
    let now = switchyard_fuzz::now();
    let mut state = SensorState::default();
    for (id, data) in [("e1", first), ("e2", second)] {
        let event = event(&mut u, fixture, id, data);
        let outcome = sensor.on_event(&mut state, &event, event.context.time);
        for firing in &outcome.firings {
            if let Ok(resolved) = sensor.resolve(firing, now) {
                check_readable(&resolved.action);
            }
            if let Ok(Some(resolved)) = sensor.resolve_dlq(firing, now) {
                check_readable(&resolved.action);
            }
        }
        let saved = serde_json::to_string(&state).expect("the state serializes");
        let back: SensorState = serde_json::from_str(&saved).expect("the state reads back");
        assert_eq!(back, state);
    }
    let _ = sensor.next_reset(&state, now);
    let _ = sensor.reset_due(&mut state, now + TimeDelta::days(1));
});
