//! The deserializer's behaviour, with small structs of our own: strings keep their text,
//! nothing is coerced, every error is reported with path and position, unknown fields warn.

#![allow(clippy::unwrap_used)]

use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use switchyard_manifest::{Limits, Source, load_as};

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct App {
    name: String,
    #[serde(default)]
    replicas: Option<i32>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    port: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    ratio: Option<f64>,
    #[serde(default)]
    small: Option<u8>,
    #[serde(default)]
    mode: Option<Mode>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    steps: Vec<Step>,
    #[serde(default)]
    extra: Option<serde_json::Value>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Step {
    name: String,
    #[serde(default)]
    tasks: Vec<Task>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Task {
    name: String,
    #[serde(default)]
    retries: Option<u32>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Fast,
    Slow,
}

fn run(input: &str) -> (Vec<App>, Vec<String>) {
    let (values, diagnostics) = load_as::<App>(&Source::new("a.yaml", input), &Limits::default());
    (
        values,
        diagnostics.iter().map(ToString::to_string).collect(),
    )
}

/// Cases that fail: (name, input, expected diagnostics).
#[test]
fn errors_are_complete_and_located() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "a type error deep in a list, and one in a later item",
            "\
name: app
steps:
- name: a
  tasks:
  - name: t1
  - name: t2
    retries: many
- name: b
  tasks:
  - name: t3
    retries: -1
",
            &[
                "a.yaml:7:14: error: steps[0].tasks[1].retries: expected an integer, found string `many`",
                "a.yaml:11:14: error: steps[1].tasks[0].retries: integer `-1` is out of range: expected 0 to 4294967295",
            ],
        ),
        (
            "a removed list item keeps the positions of the next ones",
            "name: app\nsteps:\n- tasks: []\n- name: b\n  tasks: [{name: x, retries: x}]\n",
            &[
                "a.yaml:3:3: error: steps[0]: missing required field `name`",
                "a.yaml:5:30: error: steps[1].tasks[0].retries: expected an integer, found string `x`",
            ],
        ),
        (
            "no coercion from strings",
            "name: app\nreplicas: \"3\"\nenabled: yes\nratio: abc\nsmall: 300\n",
            &[
                "a.yaml:2:11: error: replicas: expected an integer, found string `3`",
                "a.yaml:3:10: error: enabled: expected `true` or `false`, found string `yes`",
                "a.yaml:4:8: error: ratio: expected a number, found string `abc`",
                "a.yaml:5:8: error: small: integer `300` is out of range: expected 0 to 255",
            ],
        ),
        (
            "a float is not an integer",
            "name: app\nreplicas: 2.5\n",
            &["a.yaml:2:11: error: replicas: expected an integer, found number `2.5`"],
        ),
        (
            "`//` inside a value that fails to convert",
            "name: app\nreplicas: 3 // three of them\n",
            &[
                "a.yaml:2:11: error: replicas: expected an integer, found string `3 // three of them`; `//` is not a comment in YAML: comments start with `#`",
            ],
        ),
        (
            "enums list their values",
            "name: app\nmode: turbo\n---\nname: app\nmode: [fast]\n",
            &[
                "a.yaml:2:7: error: mode: unknown value `turbo`; expected `fast` or `slow`",
                "a.yaml:5:1: error: mode: expected `fast` or `slow`, found a list",
            ],
        ),
        (
            "a required field: missing, null, and the wrong type (its consequence is not repeated)",
            "replicas: 1\n---\nname:\n---\nname: {first: a}\nreplicas: x\n",
            &[
                "a.yaml:1:1: error: missing required field `name`",
                "a.yaml:3:5: error: name: expected a string, found null",
                "a.yaml:5:1: error: name: expected a string, found a mapping",
                "a.yaml:6:11: error: replicas: expected an integer, found string `x`",
            ],
        ),
        (
            "a mapping where a list belongs, and a list where a mapping belongs",
            "name: app\nsteps: {name: a}\nlabels: [a]\n",
            &[
                "a.yaml:2:1: error: steps: expected a list, found a mapping",
                "a.yaml:3:1: error: labels: expected a mapping, found a list",
            ],
        ),
        (
            "tags: `!!int` must be an integer, unknown tags are ignored with a warning",
            "name: app\nreplicas: !!int x\nversion: !custom 1.0\n",
            &[
                "a.yaml:2:17: error: replicas: `!!int` value `x` is not an integer",
                "a.yaml:3:18: warning: version: tag `!custom` is not supported and is ignored",
            ],
        ),
        (
            "the merge key needs mappings",
            "name: app\nlabels:\n  <<: 3\n",
            &[
                "a.yaml:3:7: error: labels[\"<<\"]: the merge key `<<` needs a mapping or a list of mappings, found integer `3`",
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (name, input, expected) in cases {
        let (values, got) = run(input);
        if got != *expected || !values.is_empty() {
            failures.push(format!("case `{name}`: {} values\n{got:#?}", values.len()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Cases that load: (name, input, expected value as JSON-ish assertions).
#[test]
fn values_keep_their_text_and_resolve_yaml() {
    let (values, diagnostics) = run("\
name: app
port: 12000
version: 1.10
ratio: 2
small: 0x1F
enabled: True
mode: slow
labels:
  app.kubernetes.io/name: web
  quoted: \"007\"
  empty: ''
extra:
  port: 12000
  version: 1.10
  float: 1e3
  octal: 0o17
  none: ~
  yes: yes
  list: [a, 'b', !!str 3]
");
    assert_eq!(diagnostics, Vec::<String>::new());
    let app = &values[0];
    assert_eq!(app.port.as_deref(), Some("12000"));
    assert_eq!(app.version.as_deref(), Some("1.10"));
    assert_eq!(app.ratio, Some(2.0));
    assert_eq!(app.small, Some(31));
    assert_eq!(app.enabled, Some(true));
    assert_eq!(app.mode, Some(Mode::Slow));
    assert_eq!(
        app.labels,
        BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), "web".to_owned()),
            ("quoted".to_owned(), "007".to_owned()),
            ("empty".to_owned(), String::new()),
        ])
    );
    assert_eq!(
        app.extra,
        Some(
            json!({"port": 12000, "version": 1.1, "float": 1000.0, "octal": 15, "none": null,
                    "yes": "yes", "list": ["a", "b", "3"]})
        )
    );
}

#[test]
fn unknown_fields_warn_at_the_key_and_the_value_still_loads() {
    let (values, diagnostics) = run("name: app\nreplica: 3\nsteps:\n- name: a\n  colour: red\n");
    assert_eq!(values.len(), 1);
    assert_eq!(
        diagnostics,
        [
            "a.yaml:2:1: warning: replica: unknown field `replica` in App; it is ignored (did you mean `replicas`?)",
            "a.yaml:5:3: warning: steps[0].colour: unknown field `colour` in Step; it is ignored",
        ]
    );
}

#[test]
fn aliases_and_merge_keys_expand() {
    let (values, diagnostics) = run("\
name: app
steps:
- &base
  name: a
  tasks: [{name: t, retries: 1}]
- *base
- <<: *base
  name: b
labels:
  <<: [{a: one, b: two}, {b: three, c: four}]
  c: own
");
    assert_eq!(diagnostics, Vec::<String>::new());
    let app = &values[0];
    let names: Vec<&str> = app.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "a", "b"]);
    assert_eq!(app.steps[2].tasks, app.steps[0].tasks);
    assert_eq!(
        app.labels,
        BTreeMap::from([
            ("a".to_owned(), "one".to_owned()),
            ("b".to_owned(), "two".to_owned()),
            ("c".to_owned(), "own".to_owned()),
        ])
    );
}

#[test]
fn duplicate_keys_after_a_merge_are_errors_only_when_explicit() {
    let (values, diagnostics) = run("name: app\nlabels:\n  <<: {a: x}\n  a: y\n  b: z\n  b: w\n");
    assert!(values.is_empty());
    assert_eq!(
        diagnostics,
        ["a.yaml:6:3: error: labels.b: duplicate key `b`; it is first defined on line 5"]
    );
}

#[test]
fn at_most_a_hundred_errors_are_reported() {
    let mut input = String::from("name: app\nsteps:\n");
    for i in 0..150 {
        input.push_str(&format!(
            "- {{name: s{i}, tasks: [{{name: t, retries: bad}}]}}\n"
        ));
    }
    let (values, diagnostics) = run(&input);
    assert!(values.is_empty());
    assert_eq!(diagnostics.len(), 101);
    assert_eq!(
        diagnostics[0],
        "a.yaml:3:41: error: steps[0].tasks[0].retries: expected an integer, found string `bad`"
    );
    assert_eq!(
        diagnostics[99],
        "a.yaml:102:42: error: steps[99].tasks[0].retries: expected an integer, found string `bad`"
    );
    assert_eq!(
        diagnostics[100],
        "a.yaml:102:42: error: stopped after 100 errors in this object"
    );
}

#[test]
fn the_deepest_accepted_document_deserializes_without_overflowing_the_stack() {
    // 100 levels is the default limit: one mapping plus 99 nested lists.
    let depth = Limits::default().max_depth;
    let input = format!("a: {}1{}\n", "[".repeat(depth - 1), "]".repeat(depth - 1));
    let (values, diagnostics) =
        load_as::<serde_json::Value>(&Source::new("deep.yaml", input), &Limits::default());
    assert_eq!(diagnostics, []);
    let mut value = &values[0]["a"];
    for _ in 0..depth - 2 {
        value = &value[0];
    }
    assert_eq!(value, &json!([1]));

    let input = format!("a: {}1{}\n", "[".repeat(depth), "]".repeat(depth));
    let (values, diagnostics) =
        load_as::<serde_json::Value>(&Source::new("deep.yaml", input), &Limits::default());
    assert!(values.is_empty());
    assert_eq!(
        diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "deep.yaml:1:103: error: the document is nested more than 100 levels deep; this is not supported"
        ]
    );
}
