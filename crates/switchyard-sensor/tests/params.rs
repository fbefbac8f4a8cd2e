//! Trigger resolution: parameters with every `src` form, `dest` and `operation`, the seed's
//! sensor, HTTP and Kubernetes triggers, template-level parameters and DLQ triggers
//! (Argo Events' `sensors/triggers/params.go` and the trigger kinds).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use switchyard_model::events::{ArgoWorkflowOperation, K8sTriggerOperation};
use switchyard_sensor::{
    CompiledSensor, EventInput, Firing, ResolvedTrigger, SensorState, TriggerAction,
};

const NOW: &str = "2026-11-21T10:00:00Z";

/// A sensor with dependencies `order` (webhook/environments) and `other` (webhook/other), and
/// the given triggers.
fn doc(triggers: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "environments", "namespace": "argo-events"},
        "spec": {
            "dependencies": [
                {"name": "order", "eventSourceName": "webhook", "eventName": "environments"},
                {"name": "other", "eventSourceName": "webhook", "eventName": "other"}
            ],
            "triggers": triggers
        }
    })
}

fn workflow() -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "env-"},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "region", "value": "unset"}]},
            "templates": [{"name": "main", "container": {"image": "alpine", "command": ["true"]}}]
        }
    })
}

/// A trigger `wf` submitting [`workflow`] with `params`, on `order || other`.
fn wf_sensor(params: Value) -> CompiledSensor {
    sensor(
        &doc(json!([{"template": {
            "name": "wf",
            "conditions": "order || other",
            "argoWorkflow": {"operation": "submit", "source": {"resource": workflow()}, "parameters": params}
        }}]))
        .to_string(),
    )
}

fn order(body: Value) -> EventInput {
    webhook("webhook", "environments", "evt-1", body)
}

fn fire(s: &CompiledSensor, event: &EventInput) -> Firing {
    let mut state = SensorState::default();
    let mut o = feed(s, &mut state, event);
    assert_eq!(o.firings.len(), 1, "{o:#?}");
    o.firings.remove(0)
}

fn resolve(s: &CompiledSensor, event: &EventInput) -> ResolvedTrigger {
    s.resolve(&fire(s, event), at(NOW))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn resource(r: &ResolvedTrigger) -> &Value {
    match &r.action {
        TriggerAction::ArgoWorkflow { resource, .. } | TriggerAction::K8s { resource, .. } => {
            resource
        }
        other => panic!("{other:?}"),
    }
}

/// The value at `dest` after one parameter `src` is applied to the workflow.
fn param(src: Value, dest: &str, body: Value) -> Value {
    let s = wf_sensor(json!([{"src": src, "dest": dest}]));
    let r = resolve(&s, &order(body));
    let mut at = resource(&r).clone();
    for key in dest.split('.') {
        at = match key.parse::<usize>() {
            Ok(i) => at[i].clone(),
            Err(_) => at[key].clone(),
        };
    }
    at
}

const BODY: &str = r#"{"region": "eu-west", "count": 3, "ok": true, "tags": ["a", "b"], "spec": {"size": "s"}, "none": null}"#;

fn body() -> Value {
    serde_json::from_str(BODY).unwrap()
}

#[test]
fn every_source_form() {
    let dest = "spec.arguments.parameters.0.value";
    let cases: &[(Value, Value)] = &[
        // dataKey: strings, numbers and booleans as text, objects and arrays as JSON text.
        (
            json!({"dependencyName": "order", "dataKey": "body.region"}),
            json!("eu-west"),
        ),
        (
            json!({"dependencyName": "order", "dataKey": "body.count"}),
            json!("3"),
        ),
        (
            json!({"dependencyName": "order", "dataKey": "body.ok"}),
            json!("true"),
        ),
        (
            json!({"dependencyName": "order", "dataKey": "body.spec"}),
            json!(r#"{"size":"s"}"#),
        ),
        (
            json!({"dependencyName": "order", "dataKey": "body.none"}),
            json!("null"),
        ),
        // useRawData keeps the JSON type.
        (
            json!({"dependencyName": "order", "dataKey": "body.count", "useRawData": true}),
            json!(3),
        ),
        (
            json!({"dependencyName": "order", "dataKey": "body.spec", "useRawData": true}),
            json!({"size": "s"}),
        ),
        (
            json!({"dependencyName": "order", "dataKey": "body.tags", "useRawData": true}),
            json!(["a", "b"]),
        ),
        (
            json!({"dependencyName": "order", "dataKey": "body.region", "useRawData": true}),
            json!("eu-west"),
        ),
        // GJSON paths.
        (
            json!({"dependencyName": "order", "dataKey": "body.tags.#"}),
            json!("2"),
        ),
        (
            json!({"dependencyName": "order", "dataKey": "body.tags.1"}),
            json!("b"),
        ),
        // A key that finds nothing falls back to `value`.
        (
            json!({"dependencyName": "order", "dataKey": "body.nope", "value": "default"}),
            json!("default"),
        ),
        // Templates see the payload as `.Input`; they win over the key.
        (
            json!({"dependencyName": "order", "dataTemplate": "{{ .Input.body.region | upper }}"}),
            json!("EU-WEST"),
        ),
        (
            json!({"dependencyName": "order", "dataTemplate": "{{ .Input.body.region }}", "dataKey": "body.count"}),
            json!("eu-west"),
        ),
        // A template that renders nothing falls back to the key, then to `value`.
        (
            json!({"dependencyName": "order", "dataTemplate": "{{ .Input.body.nope }}", "dataKey": "body.count"}),
            json!("3"),
        ),
        (
            json!({"dependencyName": "order", "dataTemplate": "{{ .Input.body.nope }}", "value": "v"}),
            json!("v"),
        ),
        // The context.
        (
            json!({"dependencyName": "order", "contextKey": "id"}),
            json!("evt-1"),
        ),
        (
            json!({"dependencyName": "order", "contextKey": "source"}),
            json!("webhook"),
        ),
        (
            json!({"dependencyName": "order", "contextKey": "subject"}),
            json!("environments"),
        ),
        (
            json!({"dependencyName": "order", "contextKey": "time"}),
            json!("2026-11-21T10:00:00Z"),
        ),
        (
            json!({"dependencyName": "order", "contextTemplate": "{{ .Input.source }}/{{ .Input.subject }}"}),
            json!("webhook/environments"),
        ),
        // Data keys win over context keys.
        (
            json!({"dependencyName": "order", "contextKey": "id", "dataKey": "body.region"}),
            json!("eu-west"),
        ),
        // `value` alone.
        (
            json!({"dependencyName": "order", "value": "fixed"}),
            json!("fixed"),
        ),
        // A dependency not in this firing (`||`): its `value`.
        (
            json!({"dependencyName": "other", "dataKey": "body.region", "value": "absent"}),
            json!("absent"),
        ),
        // ... or nothing is written.
        (
            json!({"dependencyName": "other", "dataKey": "body.region"}),
            json!("unset"),
        ),
    ];
    for (src, want) in cases {
        assert_eq!(param(src.clone(), dest, body()), *want, "{src}");
    }
}

#[test]
fn the_whole_event_when_nothing_is_selected() {
    let whole = param(
        json!({"dependencyName": "order"}),
        "spec.arguments.parameters.0.value",
        json!({"a": 1}),
    );
    let whole: Value = serde_json::from_str(whole.as_str().unwrap()).unwrap();
    assert_eq!(whole["context"]["id"], "evt-1");
    assert_eq!(whole["context"]["datacontenttype"], "application/json");
    // `data` is base64, as Go encodes bytes.
    let data = whole["data"].as_str().unwrap();
    assert!(data.starts_with("eyJ"), "{data}");
}

#[test]
fn dest_and_operations() {
    // Append and prepend concatenate with what is there.
    let s = wf_sensor(json!([
        {"src": {"dependencyName": "order", "dataKey": "body.region"}, "dest": "metadata.generateName", "operation": "append"},
        {"src": {"dependencyName": "order", "value": "team-"}, "dest": "metadata.generateName", "operation": "prepend"},
        {"src": {"dependencyName": "order", "dataKey": "body.count"}, "dest": "metadata.labels.count", "operation": "append"},
        {"src": {"dependencyName": "order", "dataKey": "body.spec", "useRawData": true}, "dest": "spec.arguments.parameters.-1"},
        {"src": {"dependencyName": "order", "dataKey": "body.region"}, "dest": "spec.arguments.parameters.5.value"}
    ]));
    let r = resolve(&s, &order(body()));
    let wf = resource(&r);
    assert_eq!(wf["metadata"]["generateName"], "team-env-eu-west");
    // Nothing there: append writes the value as it is.
    assert_eq!(wf["metadata"]["labels"]["count"], "3");
    let params = wf["spec"]["arguments"]["parameters"].as_array().unwrap();
    // `-1` appends; index 5 pads with nulls, as SJSON does.
    assert_eq!(params[1], json!({"size": "s"}));
    assert_eq!(params[2], Value::Null);
    assert_eq!(params[5]["value"], "eu-west");
}

#[test]
fn resolution_errors_name_the_parameter() {
    let s = wf_sensor(
        json!([{"src": {"dependencyName": "order", "dataKey": "body.nope"}, "dest": "spec.x"}]),
    );
    let e = s.resolve(&fire(&s, &order(body())), at(NOW)).unwrap_err();
    assert_eq!(
        e.path,
        "spec.triggers[0].template.argoWorkflow.parameters[0]"
    );
    assert_eq!(
        e.message,
        "unable to resolve 'order' parameter value: `body.nope` is not in the event"
    );

    let p = problems(
        &doc(json!([{"template": {"name": "wf", "argoWorkflow": {"source": {"resource": workflow()}, "parameters": [
            {"src": {"dependencyName": "nope", "dataKey": "a"}, "dest": "spec.x"},
            {"src": {"dependencyName": "order", "dataTemplate": "{{ .Input"}, "dest": "spec.x"}
        ]}}}]))
        .to_string(),
    );
    let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.triggers[0].template.argoWorkflow.parameters[0].src.dependencyName",
            "spec.triggers[0].template.argoWorkflow.parameters[1].src.dataTemplate",
        ]
    );
}

/// The seed's sensor: six `body.*` parameters into the Workflow's arguments.
#[test]
fn the_seed_sensor() {
    const KEYS: [&str; 6] = [
        "region",
        "cloud_provider",
        "resource_type",
        "environment",
        "requester_name",
        "requester_email",
    ];
    let arguments: Vec<Value> = KEYS.iter().map(|k| json!({"name": k})).collect();
    let params: Vec<Value> = KEYS
        .iter()
        .enumerate()
        .map(|(i, k)| {
            json!({"src": {"dependencyName": "environment-order", "dataKey": format!("body.{k}")},
                   "dest": format!("spec.arguments.parameters.{i}.value")})
        })
        .collect();
    let s = sensor(
        &json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Sensor",
            "metadata": {"name": "environments", "namespace": "argo-events"},
            "spec": {
                "eventBusName": "eventbus",
                "template": {"serviceAccountName": "operate-workflow-sa"},
                "dependencies": [{"name": "environment-order", "eventSourceName": "webhook", "eventName": "environments"}],
                "triggers": [{"template": {"name": "provision-environment", "argoWorkflow": {
                    "operation": "submit",
                    "source": {"resource": {
                        "apiVersion": "argoproj.io/v1alpha1",
                        "kind": "Workflow",
                        "metadata": {"generateName": "provision-environment-"},
                        "spec": {"workflowTemplateRef": {"name": "terraform-environment"}, "arguments": {"parameters": arguments}}
                    }},
                    "parameters": params
                }}}]
            }
        })
        .to_string(),
    );
    let order = webhook(
        "webhook",
        "environments",
        "0193",
        json!({
            "region": "eastus2", "cloud_provider": "azure", "resource_type": "aks",
            "environment": "dev", "requester_name": "Ada", "requester_email": "ada@example.com"
        }),
    );
    let r = resolve(&s, &order);
    assert_eq!(r.trigger, "provision-environment");
    let TriggerAction::ArgoWorkflow {
        operation,
        namespace,
        resource,
    } = &r.action
    else {
        panic!("{r:?}");
    };
    assert_eq!(*operation, ArgoWorkflowOperation::Submit);
    assert_eq!(namespace, "argo-events");
    assert_eq!(
        resource["spec"]["arguments"]["parameters"],
        json!([
            {"name": "region", "value": "eastus2"},
            {"name": "cloud_provider", "value": "azure"},
            {"name": "resource_type", "value": "aks"},
            {"name": "environment", "value": "dev"},
            {"name": "requester_name", "value": "Ada"},
            {"name": "requester_email", "value": "ada@example.com"}
        ])
    );
    assert_eq!(
        resource["metadata"],
        json!({
            "generateName": "provision-environment-",
            "namespace": "argo-events",
            "labels": {
                "events.argoproj.io/sensor": "environments",
                "events.argoproj.io/trigger": "provision-environment",
                "events.argoproj.io/action-timestamp": "1795255200000"
            }
        })
    );
    assert_eq!(r.settings.attempts, 1);
    assert!(!r.settings.has_dlq_trigger);
}

#[test]
fn workflow_operations_need_names() {
    let s = |op: &str, metadata: Value| {
        let mut wf = workflow();
        wf["metadata"] = metadata;
        sensor(
            &doc(json!([{"template": {"name": "wf", "conditions": "order", "argoWorkflow": {"operation": op, "source": {"resource": wf}}}}]))
                .to_string(),
        )
    };
    let s1 = s("suspend", json!({"generateName": "x-"}));
    let e = s1.resolve(&fire(&s1, &order(body())), at(NOW)).unwrap_err();
    assert!(
        e.message.contains("suspend operation, no name is given"),
        "{e}"
    );
    let s2 = s("submit", json!({}));
    let e = s2.resolve(&fire(&s2, &order(body())), at(NOW)).unwrap_err();
    assert!(e.message.contains("neither name nor generateName"), "{e}");
    let s3 = s("resume", json!({"name": "run-1", "namespace": "team"}));
    let r = resolve(&s3, &order(body()));
    let TriggerAction::ArgoWorkflow {
        operation,
        namespace,
        resource,
    } = &r.action
    else {
        panic!()
    };
    assert_eq!(
        (*operation, namespace.as_str()),
        (ArgoWorkflowOperation::Resume, "team")
    );
    assert!(
        resource["metadata"].get("labels").is_none(),
        "only submit labels"
    );
}

#[test]
fn template_parameters_rewrite_the_trigger() {
    let s = sensor(
        &doc(json!([{
            "template": {"name": "wf", "conditions": "order", "argoWorkflow": {"source": {"resource": workflow()}, "parameters": [
                {"src": {"dependencyName": "order", "dataKey": "body.region"}, "dest": "spec.arguments.parameters.0.value"}
            ]}},
            "parameters": [
                {"src": {"dependencyName": "order", "dataKey": "body.entry"}, "dest": "argoWorkflow.source.resource.spec.entrypoint"},
                {"src": {"dependencyName": "order", "value": "body.tier"}, "dest": "argoWorkflow.parameters.0.src.dataKey"}
            ]
        }]))
        .to_string(),
    );
    let r = resolve(
        &s,
        &order(json!({"entry": "other", "region": "eu", "tier": "gold"})),
    );
    let wf = resource(&r);
    assert_eq!(wf["spec"]["entrypoint"], "other");
    // The kind's parameters are those of the rewritten template.
    assert_eq!(wf["spec"]["arguments"]["parameters"][0]["value"], "gold");
}

#[test]
fn http_triggers() {
    let s = sensor(
        &doc(json!([{
            "template": {"name": "hook", "conditions": "order", "http": {
                "url": "https://example.com/unset",
                "headers": {"X-Team": "platform"},
                "secureHeaders": [{"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "hook", "key": "token"}}}],
                "payload": [
                    {"src": {"dependencyName": "order", "dataKey": "body.region"}, "dest": "region"},
                    {"src": {"dependencyName": "order", "dataKey": "body.spec", "useRawData": true}, "dest": "order.spec"},
                    {"src": {"dependencyName": "order", "dataKey": "body.count", "useRawData": true}, "dest": "count"}
                ],
                "dynamicHeaders": [{"src": {"dependencyName": "order", "contextKey": "id"}, "dest": "X-Event"}],
                "parameters": [{"src": {"dependencyName": "order", "dataTemplate": "https://example.com/{{ .Input.body.region }}"}, "dest": "url"}],
                "timeout": 10
            }},
            "policy": {"status": {"allow": [200, 201]}},
            "retryStrategy": {"steps": 3, "duration": "2s"},
            "rateLimit": {"unit": "Minute", "requestsPerUnit": 20},
            "atLeastOnce": true
        }]))
        .to_string(),
    );
    let r = resolve(&s, &order(body()));
    let TriggerAction::Http(req) = &r.action else {
        panic!("{r:?}")
    };
    assert_eq!(req.url, "https://example.com/eu-west");
    assert_eq!(req.method, "POST");
    assert_eq!(
        serde_json::from_slice::<Value>(&req.payload).unwrap(),
        json!({"region": "eu-west", "order": {"spec": {"size": "s"}}, "count": 3})
    );
    assert_eq!(req.headers["X-Team"], "platform");
    assert_eq!(req.headers["X-Event"], "evt-1");
    assert_eq!(req.secure_headers.len(), 1);
    assert_eq!(req.timeout, Duration::from_secs(10));
    assert_eq!(req.allowed_statuses, Some(vec![200, 201]));
    assert_eq!(r.settings.attempts, 3);
    assert!(r.settings.at_least_once);
    assert_eq!(
        r.settings.rate_limit.as_ref().unwrap().requests_per_unit,
        Some(20)
    );
    assert_eq!(s.trigger_settings("hook"), Some(r.settings.clone()));

    // An empty `dest` makes one value the whole body.
    let raw = sensor(
        &doc(json!([{"template": {"name": "hook", "conditions": "order", "http": {"url": "https://x", "method": "PUT", "payload": [
            {"src": {"dependencyName": "order", "dataKey": "body.spec"}, "dest": ""}
        ]}}}]))
        .to_string(),
    );
    let r = resolve(&raw, &order(body()));
    let TriggerAction::Http(req) = &r.action else {
        panic!()
    };
    assert_eq!(req.method, "PUT");
    assert_eq!(req.payload, br#"{"size":"s"}"#);
    assert_eq!(req.allowed_statuses, None);
    assert_eq!(req.timeout, Duration::from_secs(60));
}

#[test]
fn k8s_log_and_dlq_triggers() {
    let s = sensor(
        &doc(json!([
            {
                "template": {"name": "create", "k8s": {"operation": "create", "source": {"resource": workflow()}, "parameters": [
                    {"src": {"dependencyName": "order", "dataKey": "body.region"}, "dest": "metadata.labels.region"}
                ]}},
                "dlqTrigger": {"template": {"name": "dead-letter", "log": {"intervalSeconds": 5}}}
            },
            {"template": {"name": "log", "log": {}}}
        ]))
        .to_string(),
    );
    let mut state = SensorState::default();
    let o = feed(
        &s,
        &mut state,
        &webhook("webhook", "other", "o1", json!({})),
    );
    assert!(
        o.firings.is_empty(),
        "both triggers wait for order && other"
    );
    let o = feed(&s, &mut state, &order(body()));
    assert_eq!(fired(&o), ["create", "log"]);

    let r = s.resolve(&o.firings[0], at(NOW)).unwrap();
    let TriggerAction::K8s {
        operation,
        namespace,
        resource,
        patch_strategy,
        ..
    } = &r.action
    else {
        panic!("{r:?}")
    };
    assert_eq!(*operation, K8sTriggerOperation::Create);
    assert_eq!(namespace, "argo-events");
    assert_eq!(patch_strategy, "application/merge-patch+json");
    assert_eq!(resource["metadata"]["labels"]["region"], "eu-west");
    assert_eq!(
        resource["metadata"]["labels"]["events.argoproj.io/trigger"],
        "create"
    );
    assert!(r.settings.has_dlq_trigger);

    let dlq = s.resolve_dlq(&o.firings[0], at(NOW)).unwrap().unwrap();
    assert_eq!(dlq.trigger, "dead-letter");
    assert_eq!(
        dlq.action,
        TriggerAction::Log {
            interval: Duration::from_secs(5)
        }
    );
    assert_eq!(s.resolve_dlq(&o.firings[1], at(NOW)).unwrap(), None);

    let r = s.resolve(&o.firings[1], at(NOW)).unwrap();
    assert_eq!(
        r.action,
        TriggerAction::Log {
            interval: Duration::ZERO
        }
    );

    // Resolved triggers serialize for the shell's records.
    let text = serde_json::to_string(&dlq).unwrap();
    assert_eq!(serde_json::from_str::<ResolvedTrigger>(&text).unwrap(), dlq);
}

/// The manifest loader refuses these with a policy error already; the compiler refuses them
/// too, for sensors that reach it another way.
#[test]
fn unsupported_triggers_and_sources_are_refused() {
    let text = doc(json!([
        {"template": {"name": "lambda", "awsLambda": {"functionName": "f", "region": "us-east-1"}}},
        {"template": {"name": "cm", "argoWorkflow": {"source": {"configmap": {"name": "wf", "key": "wf.yaml"}}}}}
    ]))
    .to_string();
    let model: switchyard_model::events::Sensor = serde_json::from_str(&text).unwrap();
    let p = CompiledSensor::compile(&model).err().unwrap();
    assert_eq!(p[0].path, "spec.triggers[0].template.awsLambda");
    assert!(
        p[0].message
            .contains("`awsLambda` trigger is not supported"),
        "{}",
        p[0]
    );
    assert_eq!(
        p[1].path,
        "spec.triggers[1].template.argoWorkflow.source.configmap"
    );
    assert!(p[1].message.contains("not supported"), "{}", p[1]);
}
