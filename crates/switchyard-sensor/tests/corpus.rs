//! Every Sensor of Argo Events' examples, loaded as `switchyard apply` loads it and compiled:
//! each compiles, or fails only with problems that name a feature Switchyard does not support
//! (a trigger kind, an artifact location), or is a known defect of the example itself.
//!
//! Skips with a message when `../shared/corpus` is absent (a user's fresh clone).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use switchyard_manifest::{Limits, Resource, load, read_sources};
use switchyard_sensor::CompiledSensor;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/argo-events/examples/sensors"
);

/// Examples that are wrong in Argo's corpus itself, with the problems they give.
const KNOWN_DEFECTS: &[(&str, &[&str])] = &[(
    // The trigger kind is spelled `openwhisk`; Argo's field is `openWhisk`.
    "trigger-openwhisk.yaml",
    &["spec.triggers[0].template: a trigger needs one of `argoWorkflow`, `k8s`, `http` or `log`"],
)];

#[test]
fn every_argo_example_sensor_compiles_or_names_what_is_unsupported() {
    let dir = PathBuf::from(CORPUS);
    if !dir.is_dir() {
        eprintln!("skipping: the Argo Events example sensors are not at {CORPUS}");
        return;
    }
    let limits = Limits::default();
    let sources = read_sources(&[dir], &limits).unwrap();
    assert!(sources.len() > 50, "only {} files found", sources.len());
    let (mut compiled, mut unsupported, mut defects) = (0, 0, 0);
    let mut failures = Vec::new();
    for source in &sources {
        let name = source
            .name
            .rsplit('/')
            .next()
            .unwrap_or(&source.name)
            .to_owned();
        let out = load(std::slice::from_ref(source), &limits);
        for object in &out.objects {
            let Resource::Sensor(sensor) = &object.resource else {
                continue;
            };
            let problems: Vec<String> = match CompiledSensor::compile(sensor) {
                Ok(_) => {
                    compiled += 1;
                    continue;
                }
                Err(p) => p.iter().map(ToString::to_string).collect(),
            };
            if let Some((_, expected)) = KNOWN_DEFECTS.iter().find(|(f, _)| *f == name) {
                defects += 1;
                if problems != *expected {
                    failures.push(format!(
                        "{name}: expected {expected:#?}\nfound {problems:#?}"
                    ));
                }
            } else if problems.iter().all(|p| p.contains("not supported")) {
                unsupported += 1;
            } else {
                failures.push(format!("{name}: {problems:#?}"));
            }
        }
    }
    eprintln!("compiled {compiled}, unsupported {unsupported}, known defects {defects}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(compiled >= 20, "only {compiled} example sensors compiled");
    assert_eq!(defects, KNOWN_DEFECTS.len());
}

/// A few examples run on the events their comments describe.
#[test]
fn example_sensors_behave_as_their_comments_say() {
    use serde_json::{Value, json};
    use switchyard_sensor::{EventContext, EventInput, SensorState, Verdict};

    let dir = PathBuf::from(CORPUS);
    if !dir.is_dir() {
        eprintln!("skipping: the Argo Events example sensors are not at {CORPUS}");
        return;
    }
    let compile = |file: &str| {
        let source = switchyard_manifest::Source::new(
            file,
            std::fs::read_to_string(dir.join(file)).unwrap(),
        );
        let out = load(&[source], &Limits::default());
        let Some(Resource::Sensor(sensor)) = out.objects.first().map(|o| &o.resource) else {
            panic!("{file}: no sensor");
        };
        CompiledSensor::compile(sensor).unwrap()
    };
    let event = |subject: &str, data: Value| {
        EventInput::json(
            EventContext {
                id: "1".into(),
                source: "webhook".into(),
                specversion: "1.0".into(),
                type_: "webhook".into(),
                subject: subject.into(),
                time: chrono::DateTime::UNIX_EPOCH,
                datacontenttype: String::new(),
            },
            &data,
        )
    };
    let run = |s: &CompiledSensor, e: &EventInput| {
        let mut state = SensorState::default();
        s.on_event(&mut state, e, chrono::DateTime::UNIX_EPOCH)
    };

    let s = compile("filter-with-expressions.yaml");
    let pass =
        json!({"a": "b", "a-longer-name": 10, "nested": {"path": {"can-get": {"longer": false}}}});
    assert_eq!(run(&s, &event("example", pass)).firings.len(), 1);
    let fail =
        json!({"a": "x", "a-longer-name": 5, "nested": {"path": {"can-get": {"longer": false}}}});
    assert!(run(&s, &event("example", fail)).firings.is_empty());

    let s = compile("filter-with-data-advanced.yaml");
    // The example's own number, as text (it is not meant as π).
    let pass: Value =
        serde_json::from_str(r#"{"a": true, "b": {"c": 3.14, "d": "hello, world"}}"#).unwrap();
    assert_eq!(run(&s, &event("example", pass)).firings.len(), 1);

    let s = compile("filter-script.yaml");
    let pass = json!({"body": {"a": "b", "d": {"e": "z"}}});
    assert_eq!(run(&s, &event("example", pass)).firings.len(), 1);
    let fail = json!({"body": {"a": "b", "d": {"e": "y"}}});
    let o = run(&s, &event("example", fail));
    assert!(matches!(
        o.dependencies[0].verdict,
        Verdict::FilteredOut { .. }
    ));

    let s = compile("transform.yaml");
    let o = run(
        &s,
        &event("example-foo", json!({"body": {"message": "hi"}})),
    );
    let data: Value = serde_json::from_slice(&o.firings[0].events["test-dep-foo"].data).unwrap();
    assert_eq!(
        data["body"]["message"], "hihi",
        "jq repeats a string times a number"
    );
    let o = run(&s, &event("example", json!({"body": {"message": "hi"}})));
    let data: Value = serde_json::from_slice(&o.firings[0].events["test-dep"].data).unwrap();
    assert_eq!(data["body"]["message"], "updated");
}
