//! Dependency filters and transforms, case by case, with Argo Events' semantics
//! (`sensors/dependencies/filter.go`, `transform.go`).

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use switchyard_sensor::{CompiledSensor, EventInput, SensorState, Verdict};

/// A sensor with one dependency `d` on webhook/e, extended with `extra` (filters, transform),
/// and one log trigger.
fn dep_sensor(extra: Value) -> CompiledSensor {
    sensor(&doc(extra).to_string())
}

fn doc(extra: Value) -> Value {
    let mut dep = json!({"name": "d", "eventSourceName": "webhook", "eventName": "e"});
    if let (Some(dep), Value::Object(extra)) = (dep.as_object_mut(), extra) {
        dep.extend(extra);
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "filters"},
        "spec": {"dependencies": [dep], "triggers": [{"template": {"name": "t", "log": {}}}]}
    })
}

fn run(s: &CompiledSensor, event: &EventInput) -> Verdict {
    let mut state = SensorState::default();
    let o = feed(s, &mut state, event);
    let v = verdict(&o).clone();
    assert_eq!(
        matches!(v, Verdict::Matched { .. }),
        o.firings.len() == 1,
        "a match fires the single-dependency trigger"
    );
    v
}

fn body(data: Value) -> EventInput {
    webhook("webhook", "e", "1", data)
}

/// `Some(true)` matched, `Some(false)` filtered out, `None` failed.
fn outcome(v: &Verdict) -> Option<bool> {
    match v {
        Verdict::Matched { .. } => Some(true),
        Verdict::FilteredOut { .. } => Some(false),
        Verdict::Failed { .. } => None,
    }
}

fn data_filter(filter: Value, data: Value) -> Option<bool> {
    let s = dep_sensor(json!({"filters": {"data": [filter]}}));
    outcome(&run(&s, &body(data)))
}

#[test]
fn data_filters_of_every_type_and_comparator() {
    let cases: &[(Value, Value, Option<bool>)] = &[
        // Strings are unanchored regular expressions; several values are alternatives.
        (
            json!({"path": "body.region", "type": "string", "value": ["eu-.*"]}),
            json!({"region": "xeu-west"}),
            Some(true),
        ),
        (
            json!({"path": "body.region", "type": "string", "value": ["^eu-"]}),
            json!({"region": "xeu-west"}),
            Some(false),
        ),
        (
            json!({"path": "body.region", "type": "string", "value": ["us", "eu"]}),
            json!({"region": "eu-west"}),
            Some(true),
        ),
        (
            json!({"path": "body.env", "type": "string", "value": ["prod"], "comparator": "!="}),
            json!({"env": "dev"}),
            Some(true),
        ),
        (
            json!({"path": "body.env", "type": "string", "value": ["prod"], "comparator": "!="}),
            json!({"env": "production"}),
            Some(false),
        ),
        (
            json!({"path": "body.env", "type": "string", "value": ["prod"], "comparator": "="}),
            json!({"env": "prod"}),
            Some(true),
        ),
        // Argo: other comparators never match a string.
        (
            json!({"path": "body.env", "type": "string", "value": ["a"], "comparator": ">"}),
            json!({"env": "b"}),
            Some(false),
        ),
        // A number read as a string is its text.
        (
            json!({"path": "body.n", "type": "string", "value": ["^1\\.5$"]}),
            json!({"n": 1.50}),
            Some(true),
        ),
        // Numbers, every comparator.
        (
            json!({"path": "body.n", "type": "number", "value": ["5"], "comparator": ">="}),
            json!({"n": 5}),
            Some(true),
        ),
        (
            json!({"path": "body.n", "type": "number", "value": ["5"], "comparator": ">"}),
            json!({"n": 5}),
            Some(false),
        ),
        (
            json!({"path": "body.n", "type": "number", "value": ["6"], "comparator": "<"}),
            json!({"n": 5}),
            Some(true),
        ),
        (
            json!({"path": "body.n", "type": "number", "value": ["4"], "comparator": "<="}),
            json!({"n": 5}),
            Some(false),
        ),
        (
            json!({"path": "body.n", "type": "number", "value": ["5"], "comparator": "!="}),
            json!({"n": 5}),
            Some(false),
        ),
        (
            json!({"path": "body.n", "type": "number", "value": ["5.0"], "comparator": "="}),
            json!({"n": 5}),
            Some(true),
        ),
        (
            json!({"path": "body.n", "type": "number", "value": ["5.0"]}),
            json!({"n": 5}),
            Some(true),
        ),
        (
            json!({"path": "body.n", "type": "number", "value": ["1", "7"]}),
            json!({"n": "7"}),
            Some(true),
        ),
        (
            json!({"path": "body.n", "type": "number", "value": ["0"]}),
            json!({"n": "seven"}),
            Some(true),
        ),
        // Booleans compare for equality, whatever the comparator.
        (
            json!({"path": "body.ok", "type": "bool", "value": ["true"]}),
            json!({"ok": true}),
            Some(true),
        ),
        (
            json!({"path": "body.ok", "type": "bool", "value": ["false"]}),
            json!({"ok": true}),
            Some(false),
        ),
        (
            json!({"path": "body.ok", "type": "bool", "value": ["1"]}),
            json!({"ok": "True"}),
            Some(true),
        ),
        (
            json!({"path": "body.ok", "type": "bool", "value": ["T"], "comparator": "!="}),
            json!({"ok": true}),
            Some(true),
        ),
        // GJSON paths.
        (
            json!({"path": "body.items.#", "type": "number", "value": ["2"]}),
            json!({"items": [1, 2]}),
            Some(true),
        ),
        (
            json!({"path": "body.items.1.name", "type": "string", "value": ["b"]}),
            json!({"items": [{"name": "a"}, {"name": "b"}]}),
            Some(true),
        ),
        // A path that finds nothing is an error.
        (
            json!({"path": "body.missing", "type": "string", "value": ["x"]}),
            json!({}),
            None,
        ),
        // A template sees the value as `.Input`.
        (
            json!({"path": "body.env", "type": "string", "value": ["^PROD$"], "template": "{{ upper .Input }}"}),
            json!({"env": "prod"}),
            Some(true),
        ),
        (
            json!({"path": "body.n", "type": "number", "value": ["10"], "template": "{{ .Input }}0"}),
            json!({"n": 1}),
            Some(true),
        ),
        (
            json!({"path": "body.env", "type": "string", "value": ["x"], "template": "{{ if false }}x{{ end }}"}),
            json!({"env": "prod"}),
            None,
        ),
    ];
    for (filter, data, want) in cases {
        assert_eq!(
            data_filter(filter.clone(), data.clone()),
            *want,
            "{filter} on {data}"
        );
    }
}

#[test]
fn data_logical_operator() {
    let filters = |op: &str, second: Value| {
        dep_sensor(json!({"filters": {
            "dataLogicalOperator": op,
            "data": [{"path": "body.a", "type": "string", "value": ["yes"]}, second]
        }}))
    };
    let pass_b = json!({"path": "body.b", "type": "string", "value": ["yes"]});
    let missing = json!({"path": "body.zzz", "type": "string", "value": ["yes"]});
    let data = json!({"a": "no", "b": "yes"});
    assert_eq!(
        outcome(&run(&filters("or", pass_b.clone()), &body(data.clone()))),
        Some(true)
    );
    assert_eq!(
        outcome(&run(&filters("and", pass_b), &body(data.clone()))),
        Some(false)
    );
    // `or` collects errors; it fails with them when nothing passed.
    let v = run(&filters("or", missing.clone()), &body(data.clone()));
    assert_eq!(
        v,
        Verdict::Failed {
            error: "data filter errors [path 'body.zzz' does not exist]".into()
        }
    );
    let v = run(&filters("or", missing), &body(json!({"a": "yes"})));
    assert_eq!(outcome(&v), Some(true));
    // `and` stops at the first failing filter.
    let v = run(
        &filters(
            "and",
            json!({"path": "body.zzz", "type": "string", "value": ["x"]}),
        ),
        &body(data),
    );
    assert_eq!(
        v,
        Verdict::FilteredOut {
            reason: r#"filters.data[0]: `body.a` is `"no"`, which matches none of ["yes"]"#.into()
        }
    );
}

#[test]
fn data_without_json_or_without_data() {
    let s =
        dep_sensor(json!({"filters": {"data": [{"path": "a", "type": "string", "value": ["x"]}]}}));
    let mut bad = body(json!({}));
    bad.data = b"{not json".to_vec();
    assert_eq!(
        run(&s, &bad),
        Verdict::Failed {
            error: "data filter error (event data not valid JSON)".into()
        }
    );
    let mut empty = body(json!({}));
    empty.data.clear();
    assert_eq!(
        outcome(&run(&s, &empty)),
        Some(true),
        "Argo passes an event without data"
    );
}

#[test]
fn filter_values_are_checked_when_compiling() {
    let p = problems(
        &doc(json!({"filters": {"data": [
            {"path": "body.a", "type": "string", "value": ["ok", "(unclosed"]},
            {"path": "body.n", "type": "number", "value": ["ten"]},
            {"path": "body.b", "type": "bool", "value": ["yes"]},
            {"path": "body.c", "type": "string", "value": []},
            {"path": "body.d", "type": "string", "value": ["x"], "template": "{{ .Input"}
        ]}}))
        .to_string(),
    );
    let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.dependencies[0].filters.data[0].value[1]",
            "spec.dependencies[0].filters.data[1].value[0]",
            "spec.dependencies[0].filters.data[2].value[0]",
            "spec.dependencies[0].filters.data[3].value",
            "spec.dependencies[0].filters.data[4].template",
        ]
    );
    assert!(
        p[0].message
            .starts_with("`(unclosed` is not a valid regular expression"),
        "{}",
        p[0]
    );
    assert_eq!(p[1].message, "`ten` is not a number");
    let s = dep_sensor(
        json!({"filters": {"data": [{"path": "a", "type": "string", "value": ["x"], "comparator": "<"}]}}),
    );
    assert_eq!(s.warnings().len(), 1);
    assert_eq!(
        s.warnings()[0].path,
        "spec.dependencies[0].filters.data[0].comparator"
    );
}

#[test]
fn expression_filters() {
    let s = |op: &str| {
        dep_sensor(json!({"filters": {"exprLogicalOperator": op, "exprs": [
            {"expr": "size > 2 && env == \"prod\"", "fields": [
                {"name": "size", "path": "body.size"}, {"name": "env", "path": "body.env"}]},
            {"expr": "region =~ \"^eu-\"", "fields": [{"name": "region", "path": "body.region"}]}
        ]}}))
    };
    let and = s("and");
    let or = s("or");
    let all = json!({"size": 3, "env": "prod", "region": "eu-west"});
    let first_only = json!({"size": 3, "env": "prod", "region": "us-east"});
    assert_eq!(outcome(&run(&and, &body(all.clone()))), Some(true));
    assert_eq!(
        run(&and, &body(first_only.clone())),
        Verdict::FilteredOut {
            reason: "filters.exprs[1] `region =~ \"^eu-\"` is false".into()
        }
    );
    assert_eq!(outcome(&run(&or, &body(first_only))), Some(true));
    // A missing field is an error.
    let v = run(&and, &body(json!({"size": 3, "env": "prod"})));
    assert_eq!(
        v,
        Verdict::Failed {
            error: "expr filter error (path 'body.region' does not exist)".into()
        }
    );
    // A filter without fields is skipped.
    let skip = dep_sensor(json!({"filters": {"exprs": [{"expr": "false", "fields": []}]}}));
    assert_eq!(outcome(&run(&skip, &body(json!({})))), Some(true));
    let p = problems(&doc(json!({"filters": {"exprs": [{"expr": "a >", "fields": [{"name": "a", "path": "a"}]}]}})).to_string());
    assert_eq!(p[0].path, "spec.dependencies[0].filters.exprs[0].expr");
}

#[test]
fn verdicts_serialize_for_the_events_command() {
    let v = Verdict::FilteredOut {
        reason: "why".into(),
    };
    assert_eq!(
        serde_json::to_value(&v).unwrap(),
        json!({"verdict": "filteredOut", "reason": "why"})
    );
    let m = Verdict::Matched { warnings: vec![] };
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        json!({"verdict": "matched", "warnings": []})
    );
}

#[test]
fn context_filters() {
    let s = dep_sensor(
        json!({"filters": {"context": {"type": "webhook", "source": "webhook", "subject": "e"}}}),
    );
    assert_eq!(outcome(&run(&s, &body(json!({})))), Some(true));
    let s = dep_sensor(json!({"filters": {"context": {"type": "calendar"}}}));
    assert_eq!(
        run(&s, &body(json!({}))),
        Verdict::FilteredOut {
            reason: "filters.context: `type` is `webhook`, the filter wants `calendar`".into()
        }
    );
    // Empty fields are not compared.
    let s = dep_sensor(
        json!({"filters": {"context": {"type": "", "datacontenttype": "application/json"}}}),
    );
    assert_eq!(outcome(&run(&s, &body(json!({})))), Some(true));
}

fn at_time(s: &CompiledSensor, time: &str) -> Option<bool> {
    let e = event_at("webhook", "e", "1", json!({}), time);
    outcome(&run(s, &e))
}

#[test]
fn time_filters() {
    let day = dep_sensor(json!({"filters": {"time": {"start": "08:00:00", "stop": "17:00:00"}}}));
    assert_eq!(
        at_time(&day, "2026-11-21T08:00:00Z"),
        Some(true),
        "start is inclusive"
    );
    assert_eq!(at_time(&day, "2026-11-21T16:59:59Z"), Some(true));
    assert_eq!(
        at_time(&day, "2026-11-21T17:00:00Z"),
        Some(false),
        "stop is exclusive"
    );
    assert_eq!(at_time(&day, "2026-11-21T03:00:00Z"), Some(false));

    let night = dep_sensor(json!({"filters": {"time": {"start": "22:00:00", "stop": "02:00:00"}}}));
    assert_eq!(at_time(&night, "2026-11-21T23:30:00Z"), Some(true));
    assert_eq!(at_time(&night, "2026-11-21T01:00:00Z"), Some(true));
    assert_eq!(at_time(&night, "2026-11-21T12:00:00Z"), Some(false));

    // In Paris (UTC+1 in November), 09:00-10:00 local is 08:00-09:00 UTC.
    let paris = dep_sensor(
        json!({"filters": {"time": {"start": "09:00:00", "stop": "10:00:00", "timezone": "Europe/Paris"}}}),
    );
    assert_eq!(at_time(&paris, "2026-11-21T08:30:00Z"), Some(true));
    assert_eq!(at_time(&paris, "2026-11-21T09:30:00Z"), Some(false));
    let v = {
        let e = event_at("webhook", "e", "1", json!({}), "2026-11-21T09:30:00Z");
        run(&paris, &e)
    };
    assert_eq!(
        v,
        Verdict::FilteredOut {
            reason: "filters.time: the event's time 2026-11-21T09:30:00Z is outside 09:00:00 to 10:00:00 (Europe/Paris)".into()
        }
    );

    let always =
        dep_sensor(json!({"filters": {"time": {"start": "10:00:00", "stop": "10:00:00"}}}));
    assert_eq!(at_time(&always, "2026-11-21T03:00:00Z"), Some(true));

    let p = problems(&doc(json!({"filters": {"time": {"start": "8am", "stop": "17:00:00", "timezone": "Moon/Base"}}})).to_string());
    let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.dependencies[0].filters.time.start",
            "spec.dependencies[0].filters.time.timezone"
        ]
    );
}

#[test]
fn filters_logical_operator_combines_kinds() {
    let both = |op: &str| {
        dep_sensor(json!({
            "filtersLogicalOperator": op,
            "filters": {
                "time": {"start": "08:00:00", "stop": "09:00:00"},
                "data": [{"path": "body.a", "type": "string", "value": ["yes"]}]
            }
        }))
    };
    // 10:00 is outside the window; the data matches.
    let e = body(json!({"a": "yes"}));
    assert_eq!(outcome(&run(&both("or"), &e)), Some(true));
    assert_eq!(
        run(&both("and"), &e),
        Verdict::FilteredOut {
            reason: "filters.time: the event's time 2026-11-21T10:00:00Z is outside 08:00:00 to 09:00:00 (UTC)".into()
        }
    );
    // With `or`, an error of one kind is a warning when another kind passes.
    let e = body(json!({"b": 1}));
    let s = dep_sensor(json!({
        "filtersLogicalOperator": "or",
        "filters": {
            "context": {"type": "webhook"},
            "data": [{"path": "body.a", "type": "string", "value": ["yes"]}]
        }
    }));
    assert_eq!(
        run(&s, &e),
        Verdict::Matched {
            warnings: vec!["data filter error (path 'body.a' does not exist)".into()]
        }
    );
}

#[test]
fn lua_script_filters() {
    let s = dep_sensor(
        json!({"filters": {"script": "if event.body.size > 2 then return true else return false end"}}),
    );
    assert_eq!(outcome(&run(&s, &body(json!({"size": 3})))), Some(true));
    assert_eq!(
        run(&s, &body(json!({"size": 1}))),
        Verdict::FilteredOut {
            reason: "filters.script did not return true".into()
        }
    );
    // A script error discards the event, even with `or` and another kind passing (as in Argo).
    let s = dep_sensor(json!({
        "filtersLogicalOperator": "or",
        "filters": {"context": {"type": "webhook"}, "script": "return event.nope.x"}
    }));
    match run(&s, &body(json!({}))) {
        Verdict::Failed { error } => assert!(error.starts_with("script filter error ("), "{error}"),
        other => panic!("{other:?}"),
    }
    let p = problems(&doc(json!({"filters": {"script": "return ("}})).to_string());
    assert_eq!(p[0].path, "spec.dependencies[0].filters.script");
}

#[test]
fn jq_transform_runs_before_filters() {
    let s = dep_sensor(json!({
        "transform": {"jq": ".body.region |= ascii_upcase | .body.tag = \"seen\""},
        "filters": {"data": [{"path": "body.region", "type": "string", "value": ["^EU-"]}]}
    }));
    let mut state = SensorState::default();
    let o = feed(&s, &mut state, &body(json!({"region": "eu-west"})));
    assert_eq!(o.firings.len(), 1);
    let fired = &o.firings[0].events["d"];
    assert_eq!(fired.context.datacontenttype, "application/json");
    let data: Value = serde_json::from_slice(&fired.data).unwrap();
    assert_eq!(data["body"], json!({"region": "EU-WEST", "tag": "seen"}));
    // Go writes the output with sorted keys.
    assert!(
        fired
            .data_text()
            .unwrap()
            .starts_with(r#"{"body":{"region":"EU-WEST","tag":"seen"},"header":"#)
    );

    let not_object = dep_sensor(json!({"transform": {"jq": ".body.region"}}));
    assert_eq!(
        run(&not_object, &body(json!({"region": "x"}))),
        Verdict::Failed {
            error: "transform: jq transformation output must be a JSON object".into()
        }
    );
    let p = problems(&doc(json!({"transform": {"jq": ".a |"}})).to_string());
    assert_eq!(p[0].path, "spec.dependencies[0].transform.jq");
    let p = problems(&doc(json!({"transform": {"jq": "{t: now}"}})).to_string());
    assert!(p[0].message.contains("`now` is not available"), "{}", p[0]);
}

#[test]
fn lua_transform() {
    let s = dep_sensor(json!({
        "transform": {"script": "event.body.n = event.body.n * 2; event.body.name = nil; return event"},
        "filters": {"data": [{"path": "body.n", "type": "number", "value": ["6"]}]}
    }));
    let mut state = SensorState::default();
    let o = feed(&s, &mut state, &body(json!({"n": 3, "name": "x"})));
    assert_eq!(o.firings.len(), 1);
    let data: Value = serde_json::from_slice(&o.firings[0].events["d"].data).unwrap();
    assert_eq!(data["body"], json!({"n": 6}));
    // With both, only jq runs (and the script is flagged).
    let both = dep_sensor(json!({"transform": {"jq": ".", "script": "return 1"}}));
    assert_eq!(
        both.warnings()[0].path,
        "spec.dependencies[0].transform.script"
    );
    assert_eq!(outcome(&run(&both, &body(json!({})))), Some(true));
}
