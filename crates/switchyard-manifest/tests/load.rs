//! Loading manifests into the model: every case is (input, expected objects, expected
//! diagnostics rendered as `file:line:col: severity: path: message`).

#![allow(clippy::unwrap_used)]

use switchyard_manifest::{Kind, Limits, Source, load};

struct Case {
    name: &'static str,
    input: &'static str,
    /// Names of the objects that load.
    objects: &'static [&'static str],
    diagnostics: &'static [&'static str],
}

fn check(cases: &[Case], limits: &Limits) {
    let mut failures = Vec::new();
    for case in cases {
        let out = load(&[Source::new("m.yaml", case.input)], limits);
        let names: Vec<String> = out
            .objects
            .iter()
            .map(|o| o.resource.meta().name.clone().unwrap_or_default())
            .collect();
        let diagnostics: Vec<String> = out.diagnostics.iter().map(ToString::to_string).collect();
        if names != case.objects || diagnostics != case.diagnostics {
            failures.push(format!(
                "case `{}`:\n  objects: {names:?}\n  diagnostics:\n{}",
                case.name,
                diagnostics
                    .iter()
                    .map(|d| format!("    {d:?},"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        assert_eq!(
            out.has_errors(),
            case.diagnostics.iter().any(|d| d.contains(": error: ")),
            "case `{}`",
            case.name
        );
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The shape of the EventBus in the acceptance story's seed, with its `//` comments.
const SEED_EVENT_BUS: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata:
  name: eventbus
  namespace: argo-events
spec:
  nats:
    native:
      // Optional, defaults to 3. If it is < 3, set it to 3.
      replicas: 3
      // Optional, authen strategy, \"none\" or \"token\", defaults to \"none\"
      auth: token
";

/// The seed's EventSource: a `// Defines ...` line under `webhook:`.
const SEED_EVENT_SOURCE: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata:
  name: webhook
  namespace: argo-events
spec:
  eventBusName: eventbus
  service:
    ports:
      - port: 12000
        targetPort: 12000
  webhook:
    // Defines the endpoints that will trigger events
    environments:
      port: \"12000\"
      endpoint: /environments
      method: POST
";

#[test]
fn slash_comments_point_at_the_first_slash_line() {
    check(
        &[
            Case {
                name: "seed EventBus",
                input: SEED_EVENT_BUS,
                objects: &[],
                diagnostics: &[
                    "m.yaml:9:7: error: `//` is not a comment in YAML: comments start with `#` (found `// Optional, defaults to 3. If it is < 3, set it to 3.`); the YAML parser then failed at line 10, column 15: mapping values are not allowed in this context",
                ],
            },
            Case {
                name: "seed EventSource",
                input: SEED_EVENT_SOURCE,
                objects: &[],
                diagnostics: &[
                    "m.yaml:13:5: error: `//` is not a comment in YAML: comments start with `#` (found `// Defines the endpoints that will trigger events`); the YAML parser then failed at line 14, column 17: mapping values are not allowed in this context",
                ],
            },
            Case {
                name: "a `//` line inside a block scalar is text; the error is elsewhere",
                input: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  script: |\n    // fine here\n  b: [\n",
                objects: &[],
                diagnostics: &["m.yaml:8:6: error: invalid YAML: unclosed bracket '['"],
            },
            Case {
                name: "a `//` line in an earlier document is not blamed",
                input: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: |\n    // text\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b\n",
                objects: &["a"],
                diagnostics: &["m.yaml:11:11: error: invalid YAML: unclosed bracket '{'"],
            },
        ],
        &Limits::default(),
    );
}

#[test]
fn structural_and_safety_errors() {
    let deep_list = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_map = format!("a: {}1{}", "{a: ".repeat(10_000), "}".repeat(10_000));
    let cases = [
        Case {
            name: "duplicate keys",
            input: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\ndata:\n  x: \"1\"\n  y: \"2\"\n  x: \"3\"\n",
            objects: &[],
            diagnostics: &[
                "m.yaml:5:3: error: metadata.name: duplicate key `name`; it is first defined on line 4",
                "m.yaml:9:3: error: data.x: duplicate key `x`; it is first defined on line 7",
            ],
        },
        Case {
            name: "alias bomb",
            input: "\
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
",
            objects: &[],
            diagnostics: &[
                "m.yaml:6:12: error: expanding alias `*e` would make the document larger than 200000 nodes; aliases that multiply like this are refused",
            ],
        },
        Case {
            name: "recursive alias",
            input: "a: &x [1, *x]\n",
            objects: &[],
            diagnostics: &[
                "m.yaml:1:11: error: a[1]: alias `*x` refers to a node that contains it; recursive aliases are not supported",
            ],
        },
        Case {
            name: "unknown alias",
            input: "a: *nope\n",
            objects: &[],
            diagnostics: &[
                "m.yaml:1:4: error: invalid YAML: while parsing node, found unknown anchor",
            ],
        },
        Case {
            name: "a list nested 10,000 deep",
            input: Box::leak(deep_list.into_boxed_str()),
            objects: &[],
            diagnostics: &[
                "m.yaml:1:103: error: the document is nested more than 100 levels deep; this is not supported",
            ],
        },
        Case {
            name: "a mapping nested 10,000 deep",
            input: Box::leak(deep_map.into_boxed_str()),
            objects: &[],
            diagnostics: &[
                "m.yaml:1:400: error: the document is nested more than 100 levels deep; this is not supported",
            ],
        },
        Case {
            name: "a mapping key that is a list",
            input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n? [x]\n: 1\n",
            objects: &[],
            diagnostics: &["m.yaml:4:3: error: a mapping key must be a string, found a list"],
        },
        Case {
            name: "a document that is not a mapping",
            input: "- a\n- b\n",
            objects: &[],
            diagnostics: &[
                "m.yaml:1:1: error: a manifest must be a mapping with `apiVersion` and `kind`, found a list",
            ],
        },
        Case {
            name: "empty documents and comments are skipped",
            input: "# nothing\n---\n---\n# still nothing\n---\n...\n",
            objects: &[],
            diagnostics: &[],
        },
        Case {
            name: "empty input",
            input: "",
            objects: &[],
            diagnostics: &[],
        },
    ];
    check(&cases, &Limits::default());
}

/// Found with the `manifest` fuzz target's check that an accepted object reads back as the store
/// reads it (`fuzz/`): the one key `serde_json` reserves was accepted, and the stored object then
/// failed to read back ("expected value at line 1 column 1": the library parses the key's value as
/// JSON text). It is refused wherever it appears, with its place.
#[test]
fn the_key_serde_json_reserves_is_refused() {
    let cases = [
        Case {
            name: "a ConfigMap key",
            input: include_str!("fuzz/reserved-key.yaml"),
            objects: &[],
            diagnostics: &[
                "m.yaml:6:3: error: data[\"$serde_json::private::RawValue\"]: the key `$serde_json::private::RawValue` \
                 is reserved by the JSON library objects are stored with: an object holding it could not be read \
                 back; rename it",
            ],
        },
        Case {
            name: "deep in JSON, next to a key that only looks like it",
            input: r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c",
  "labels": {"$serde_json::private::RawValues": "x"},
  "annotations": {"a": "b", "$serde_json::private::RawValue": "{}"}}}"#,
            objects: &[],
            diagnostics: &[
                "m.yaml:3:29: error: metadata.annotations[\"$serde_json::private::RawValue\"]: the key \
                 `$serde_json::private::RawValue` is reserved by the JSON library objects are stored with: an \
                 object holding it could not be read back; rename it",
            ],
        },
    ];
    check(&cases, &Limits::default());
}

#[test]
fn kinds_and_documents() {
    check(
        &[
            Case {
                name: "unknown kind",
                input: "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: x}\n",
                objects: &[],
                diagnostics: &[
                    "m.yaml:2:7: error: kind: unknown kind `Rollout`; Switchyard accepts EventBus, EventSource, Sensor, Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow, Secret, ConfigMap, Offering, Order",
                ],
            },
            Case {
                name: "kind in the wrong case",
                input: "apiVersion: argoproj.io/v1alpha1\nkind: sensor\n",
                objects: &[],
                diagnostics: &[
                    "m.yaml:2:7: error: kind: unknown kind `sensor` (did you mean `Sensor`? kinds are case-sensitive); Switchyard accepts EventBus, EventSource, Sensor, Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow, Secret, ConfigMap, Offering, Order",
                ],
            },
            Case {
                name: "wrong apiVersion",
                input: "apiVersion: v1\nkind: Sensor\nmetadata: {name: x}\n",
                objects: &[],
                diagnostics: &[
                    "m.yaml:1:13: error: apiVersion: kind `Sensor` has apiVersion `argoproj.io/v1alpha1`, not `v1`",
                ],
            },
            Case {
                name: "missing header fields",
                input: "metadata: {name: x}\n---\napiVersion: 1\nkind: [ConfigMap]\n",
                objects: &[],
                diagnostics: &[
                    "m.yaml:1:1: error: missing `apiVersion`; every manifest needs `apiVersion` and `kind`",
                    "m.yaml:1:1: error: missing `kind`; every manifest needs `apiVersion` and `kind`",
                    "m.yaml:3:13: error: apiVersion: `apiVersion` must be a string, found integer `1`",
                    "m.yaml:4:1: error: kind: `kind` must be a string, found a list",
                ],
            },
            Case {
                name: "one bad and one good document",
                input: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata: [1]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\ndata:\n  a: b\n",
                objects: &["good"],
                diagnostics: &["m.yaml:5:1: error: data: expected a mapping, found a list"],
            },
            Case {
                name: "a YAML error in one document does not hide the next",
                input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
                objects: &["b"],
                diagnostics: &["m.yaml:3:11: error: invalid YAML: unclosed bracket '{'"],
            },
            Case {
                name: "JSON",
                input: "{\"apiVersion\": \"argoproj.io/v1alpha1\", \"kind\": \"Workflow\",\n \"metadata\": {\"generateName\": \"hello-\", \"labels\": {\"app.kubernetes.io/name\": 1}},\n \"spec\": {\"entrypoint\": \"main\", \"entryPoint\": \"x\"}}\n",
                objects: &[""],
                diagnostics: &[
                    "m.yaml:3:33: warning: spec.entryPoint: unknown field `entryPoint` in WorkflowSpec; it is ignored (did you mean `entrypoint`?)",
                ],
            },
            Case {
                name: "kind: List",
                input: "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: one}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: two, uid: 3}
  data: {a: [1]}
- apiVersion: v1
  kind: Secret
  metadata: {name: three}
- apiVersion: v1
  kind: List
- 7
",
                objects: &["one", "three"],
                diagnostics: &[
                    "m.yaml:9:25: warning: items[1].metadata.uid: field `uid` is set by the server; the value in the manifest is ignored",
                    "m.yaml:10:10: error: items[1].data.a: expected a string, found a list",
                    "m.yaml:15:9: error: items[3].kind: a List cannot contain another List",
                    "m.yaml:16:3: error: items[4]: a List item must be a mapping with `apiVersion` and `kind`, found integer `7`",
                ],
            },
        ],
        &Limits::default(),
    );
}

#[test]
fn every_type_error_and_warning_is_reported_with_its_place() {
    check(
        &[Case {
            name: "two type errors, a policy warning, an unknown field",
            input: "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: [x]
  labels:
    app.kubernetes.io/name: {a: 1}
  uid: abc
  nmae: typo
data:
  port: 12000
  version: 1.10
",
            objects: &[],
            diagnostics: &[
                "m.yaml:4:3: error: metadata.name: expected a string, found a list",
                "m.yaml:6:5: error: metadata.labels[\"app.kubernetes.io/name\"]: expected a string, found a mapping",
                "m.yaml:7:3: warning: metadata.uid: field `uid` is set by the server; the value in the manifest is ignored",
                "m.yaml:8:3: warning: metadata.nmae: unknown field `nmae` in ObjectMeta; it is ignored (did you mean `name`?)",
            ],
        }],
        &Limits::default(),
    );
}

#[test]
fn limits_are_enforced() {
    let small = Limits {
        max_bytes: 64,
        max_depth: 3,
        max_nodes: 12,
        max_documents: 2,
    };
    check(
        &[
            Case {
                name: "over-size input",
                input: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a-rather-long-name-for-this\n",
                objects: &[],
                diagnostics: &[
                    "m.yaml: error: the input is 77 bytes, more than the limit of 64 bytes",
                ],
            },
            Case {
                name: "too deep",
                input: "a:\n  b:\n    c:\n      d: 1\n",
                objects: &[],
                diagnostics: &[
                    "m.yaml:4:7: error: the document is nested more than 3 levels deep; this is not supported",
                ],
            },
            Case {
                name: "too many nodes",
                input: "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]",
                objects: &[],
                diagnostics: &[
                    "m.yaml:1:37: error: the document has more than 12 nodes; it is too large",
                ],
            },
            Case {
                name: "too many documents",
                input: "a: 1\n---\nb: 2\n---\nc: 3\n",
                objects: &[],
                diagnostics: &[
                    "m.yaml:1:1: error: missing `apiVersion`; every manifest needs `apiVersion` and `kind`",
                    "m.yaml:1:1: error: missing `kind`; every manifest needs `apiVersion` and `kind`",
                    "m.yaml:3:1: error: missing `apiVersion`; every manifest needs `apiVersion` and `kind`",
                    "m.yaml:3:1: error: missing `kind`; every manifest needs `apiVersion` and `kind`",
                    "m.yaml:4:1: error: more than 2 documents in one input; split it into several files",
                ],
            },
        ],
        &small,
    );
}

#[test]
fn expanded_text_is_capped_too() {
    // Few nodes, but each alias copies a long string: 4 × 2,000 bytes of text is the cap.
    let input = format!("a: &a {}\nb: [*a, *a, *a, *a, *a]\n", "x".repeat(1_500));
    let limits = Limits {
        max_bytes: 2_000,
        ..Limits::default()
    };
    let out = load(&[Source::new("m.yaml", input)], &limits);
    let rendered: Vec<String> = out.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        [
            "m.yaml:2:21: error: expanding alias `*a` would make the document's text larger than 8000 bytes; aliases that multiply like this are refused"
        ]
    );
}

#[test]
fn located_objects_answer_paths() {
    let input = "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: one
    labels:
      app.kubernetes.io/name: web
  data:
    a: b
";
    let out = load(&[Source::new("list.yaml", input)], &Limits::default());
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let [object] = out.objects.as_slice() else {
        panic!("one object expected, got {}", out.objects.len());
    };
    assert_eq!(object.resource.kind(), Kind::ConfigMap);
    assert_eq!(
        (object.source.as_str(), object.document, object.prefix()),
        ("list.yaml", 0, "items[0]")
    );
    for (path, want) in [
        ("", (4, 3)),
        ("metadata", (6, 3)),
        ("metadata.name", (7, 11)),
        ("metadata.labels[\"app.kubernetes.io/name\"]", (9, 31)),
        ("data.a", (11, 8)),
        ("data.missing", (10, 3)),
        ("data.a.deeper[3]", (11, 8)),
        ("spec.templates[2]", (4, 3)),
        ("not a path..", (4, 3)),
    ] {
        assert_eq!(object.locate(path), want, "{path}");
    }
    let d = object.diagnostic(switchyard_manifest::Severity::Error, "data.a", "bad value");
    assert_eq!(
        d.to_string(),
        "list.yaml:11:8: error: items[0].data.a: bad value"
    );
}
