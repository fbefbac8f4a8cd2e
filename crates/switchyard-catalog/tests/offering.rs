//! Offering specs: what is accepted, and every problem located by its path.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use switchyard_catalog::{Access, Offering, Problem, route_conflicts};

/// (what is changed, its new value, the expected `(path, message)` problems)
type Case<P> = (&'static str, Value, Vec<(P, &'static str)>);

fn spec() -> Value {
    json!({
        "route": "/environments",
        "title": "Environment",
        "description": "A new cloud environment, planned, approved, then applied.",
        "event": {"eventSourceName": "webhook", "eventName": "environments"},
        "access": {"order": ["orderer"], "approve": ["approver"]},
        "input": {
            "type": "object",
            "required": ["region"],
            "properties": {
                "region": {"type": "string", "title": "Region", "description": "Where the environment lives.", "enum": ["eastus2", "westeurope"], "default": "eastus2", "examples": ["eastus2"]},
                "requester_email": {"type": "string", "format": "email"},
                "environment": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,30}$", "minLength": 2, "maxLength": 31},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10}
            }
        }
    })
}

/// `(path, message)` of every problem with `spec`.
fn problems(spec: &Value) -> Vec<(String, String)> {
    match Offering::from_manifest("argo-events", "environments", spec) {
        Ok(o) => panic!("accepted: {o:?}"),
        Err(problems) => problems.into_iter().map(|p| (p.path, p.message)).collect(),
    }
}

/// `spec` with `value` set at the dotted `path` (or removed when `value` is null).
fn with(path: &str, value: Value) -> Value {
    let mut spec = spec();
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    let mut at = &mut spec;
    for p in parts {
        at = &mut at[p];
    }
    if value.is_null() {
        at.as_object_mut().unwrap().remove(last);
    } else {
        at[last] = value;
    }
    spec
}

#[test]
fn the_contract_example_is_accepted() {
    let o = Offering::from_manifest("argo-events", "environments", &spec()).unwrap();
    assert_eq!(o.name, "environments");
    assert_eq!(o.namespace, "argo-events");
    assert_eq!(o.route, "/environments");
    assert_eq!(o.title, "Environment");
    assert_eq!(o.event.event_source_name, "webhook");
    assert_eq!(o.event.event_name, "environments");
    assert_eq!(o.access.order, ["orderer"]);
    assert_eq!(
        o.input.property_names(),
        ["region", "requester_email", "environment", "replicas"]
    );
    assert_eq!(o.qualified_name(), "argo-events/environments");
    let wire = serde_json::to_value(&o).unwrap();
    assert_eq!(
        wire["event"],
        json!({"eventSourceName": "webhook", "eventName": "environments"})
    );
    assert_eq!(wire["input"], spec()["input"]);
}

#[test]
fn defaults_of_the_spec() {
    let minimal =
        json!({"route": "/envs/dev", "event": {"eventSourceName": "webhook", "eventName": "e"}});
    let o = Offering::from_manifest("ns", "dev-envs", &minimal).unwrap();
    assert_eq!(o.title, "dev-envs");
    assert_eq!(o.description, "");
    assert_eq!(o.access, Access::default());
    assert_eq!(o.access.approve, ["approver"]);
    assert_eq!(o.input.json(), &json!({"type": "object"}));
    assert_eq!(o.input.validate(&json!({})).unwrap(), json!({}));
    assert_eq!(
        o.input.validate(&json!({"x": 1})).unwrap_err()[0].kind,
        "extra_forbidden"
    );
}

#[test]
fn access_roles_and_admin() {
    let a = Access::default();
    assert!(a.may_order(&["orderer"]));
    assert!(!a.may_order(&["approver"]));
    assert!(a.may_approve(&["viewer", "approver"]));
    assert!(a.may_order(&["admin"]) && a.may_approve(&["admin"]));
    let none: [&str; 0] = [];
    assert!(!a.may_order(&none));
    let o = Offering::from_manifest("ns", "x", &with("access", json!({"order": []}))).unwrap();
    assert!(o.access.order.is_empty());
    assert_eq!(o.access.approve, ["approver"]);
    assert!(!o.access.may_order(&["orderer"]));
    assert!(o.access.may_order(&["admin"]));
}

/// (what is changed, the value, expected problems)
#[test]
fn spec_problems_are_located() {
    let cases: Vec<Case<&str>> = vec![
        (
            "route",
            json!("environments"),
            vec![("spec.route", "must start with `/`, like `/environments`")],
        ),
        (
            "route",
            json!("/"),
            vec![(
                "spec.route",
                "must name at least one segment after `/`, like `/environments`",
            )],
        ),
        (
            "route",
            json!("/envs/"),
            vec![("spec.route", "must not end with `/`")],
        ),
        (
            "route",
            json!("/envs//dev"),
            vec![("spec.route", "has an empty segment (`//`)")],
        ),
        (
            "route",
            json!("/Envs"),
            vec![(
                "spec.route",
                "segment `Envs` contains 'E': segments are lowercase letters, digits and `-`",
            )],
        ),
        (
            "route",
            json!("/env_s"),
            vec![(
                "spec.route",
                "segment `env_s` contains '_': segments are lowercase letters, digits and `-`",
            )],
        ),
        (
            "route",
            json!("/api/envs"),
            vec![(
                "spec.route",
                "`/api` is reserved for the platform's own endpoints (reserved: /api, /docs, /openapi.json, /healthz, /metrics, /orders, /ui)",
            )],
        ),
        (
            "route",
            json!("/orders"),
            vec![(
                "spec.route",
                "`/orders` is reserved for the platform's own endpoints (reserved: /api, /docs, /openapi.json, /healthz, /metrics, /orders, /ui)",
            )],
        ),
        (
            "route",
            json!("/healthz"),
            vec![(
                "spec.route",
                "`/healthz` is reserved for the platform's own endpoints (reserved: /api, /docs, /openapi.json, /healthz, /metrics, /orders, /ui)",
            )],
        ),
        (
            "route",
            json!(7),
            vec![("spec.route", "must be a string, like `/environments`")],
        ),
        (
            "route",
            json!(null),
            vec![(
                "spec.route",
                "required: the path the offering is ordered at, like `/environments`",
            )],
        ),
        (
            "title",
            json!(" "),
            vec![(
                "spec.title",
                "must not be empty (leave it out to use the name)",
            )],
        ),
        (
            "description",
            json!(["x"]),
            vec![("spec.description", "must be a string")],
        ),
        (
            "event",
            json!(null),
            vec![(
                "spec.event",
                "required: the webhook event an order is raised as (`eventSourceName` and `eventName`)",
            )],
        ),
        (
            "event",
            json!({"eventSourceName": "Web_Hook", "name": "x"}),
            vec![
                (
                    "spec.event.name",
                    "unknown field `name` (an event has eventSourceName and eventName)",
                ),
                (
                    "spec.event.eventName",
                    "required: the event of that EventSource an order is raised as",
                ),
                (
                    "spec.event.eventSourceName",
                    "`Web_Hook` is not a valid EventSource name (lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)",
                ),
            ],
        ),
        (
            "access",
            json!({"order": ["orderer", "orderer", ""], "approve": "approver", "view": []}),
            vec![
                (
                    "spec.access.view",
                    "unknown field `view` (access has order and approve)",
                ),
                ("spec.access.order[1]", "`orderer` is already listed at [0]"),
                ("spec.access.order[2]", "a role name must not be empty"),
                ("spec.access.approve", "must be a list of role names"),
            ],
        ),
        (
            "routes",
            json!("/x"),
            vec![(
                "spec.routes",
                "unknown field `routes` (an Offering's spec has route, title, description, event, access, input)",
            )],
        ),
    ];
    for (field, value, want) in cases {
        let got = problems(&with(field, value.clone()));
        let want: Vec<(String, String)> = want
            .into_iter()
            .map(|(p, m)| (p.to_owned(), m.to_owned()))
            .collect();
        assert_eq!(got, want, "{field} = {value}");
    }
    assert_eq!(
        Offering::from_manifest("ns", "x", &json!(null)).unwrap_err(),
        vec![Problem {
            path: "spec".into(),
            message: "must be a mapping with route, event and input (and optionally title, description and access)".into()
        }]
    );
}

/// (path under spec.input, value, expected problems)
#[test]
fn schema_problems_are_located() {
    let p = "spec.input.properties";
    let cases: Vec<Case<String>> = vec![
        (
            "input.type",
            json!("array"),
            vec![(
                "spec.input.type".into(),
                "the input must be `type: object`, not \"array\"",
            )],
        ),
        (
            "input.type",
            json!(null),
            vec![(
                "spec.input".into(),
                "the input must be `type: object`, with the order's fields under `properties`",
            )],
        ),
        (
            "input.additionalProperties",
            json!(true),
            vec![(
                "spec.input.additionalProperties".into(),
                "`additionalProperties: true` is not supported: undeclared fields are always rejected",
            )],
        ),
        (
            "input.default",
            json!({}),
            vec![(
                "spec.input.default".into(),
                "a default for the whole input is not supported: give defaults to its properties",
            )],
        ),
        (
            "input.required",
            json!(["region", "zone", "region"]),
            vec![
                (
                    "spec.input.required[1]".to_owned(),
                    "`zone` is not declared under `properties`",
                ),
                (
                    "spec.input.required[2]".into(),
                    "`region` is already listed at [0]",
                ),
            ],
        ),
        (
            "input.properties.region.pattern",
            json!("[a-"),
            vec![(
                format!("{p}.region.pattern"),
                "the pattern does not compile: unclosed character class",
            )],
        ),
        (
            "input.properties.region.nullable",
            json!(true),
            vec![(
                format!("{p}.region.nullable"),
                "`nullable` is not supported: leave the property out of `required` to make it optional",
            )],
        ),
        (
            "input.properties.region.oneOf",
            json!([]),
            vec![(
                format!("{p}.region.oneOf"),
                "`oneOf` is not a supported schema keyword (supported: type, enum, const, default, examples, title, description, pattern, minLength, maxLength, minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, format, properties, required, additionalProperties, items, minItems, maxItems, uniqueItems)",
            )],
        ),
        (
            "input.properties.region.type",
            json!(["string", "null"]),
            vec![(
                format!("{p}.region.type"),
                "a list of types is not supported: give one type",
            )],
        ),
        (
            "input.properties.region.type",
            json!("text"),
            vec![(
                format!("{p}.region.type"),
                "unknown type `text` (expected string, integer, number, boolean, object or array)",
            )],
        ),
        (
            "input.properties.region.enum",
            json!([]),
            vec![(format!("{p}.region.enum"), "must list at least one value")],
        ),
        (
            "input.properties.region.enum",
            json!(["eastus2", 5, "eastus2"]),
            vec![
                (
                    format!("{p}.region.enum[1]"),
                    "invalid enum value: Input should be a valid string",
                ),
                (format!("{p}.region.enum[2]"), "repeats enum[0]"),
            ],
        ),
        (
            "input.properties.region.default",
            json!("northpole"),
            vec![(
                format!("{p}.region.default"),
                "invalid default: Input should be 'eastus2' or 'westeurope'",
            )],
        ),
        (
            "input.properties.region.examples",
            json!(["eastus2", "x"]),
            vec![(
                format!("{p}.region.examples[1]"),
                "invalid example: Input should be 'eastus2' or 'westeurope'",
            )],
        ),
        (
            "input.properties.region.examples",
            json!("eastus2"),
            vec![(
                format!("{p}.region.examples"),
                "must be a list of values (draft 2020-12 `examples`)",
            )],
        ),
        (
            "input.properties.region.minimum",
            json!(1),
            vec![(
                format!("{p}.region.minimum"),
                "`minimum` applies only to `type: integer` or `type: number`",
            )],
        ),
        (
            "input.properties.requester_email.format",
            json!("phone"),
            vec![(
                format!("{p}.requester_email.format"),
                "unknown format `phone` (supported: email, uri, date, date-time, uuid, hostname)",
            )],
        ),
        (
            "input.properties.environment.minLength",
            json!(40),
            vec![(
                format!("{p}.environment.minLength"),
                "minLength (40) is greater than maxLength (31)",
            )],
        ),
        (
            "input.properties.environment.maxLength",
            json!(-1),
            vec![(
                format!("{p}.environment.maxLength"),
                "must be a non-negative integer",
            )],
        ),
        (
            "input.properties.replicas.minimum",
            json!(11),
            vec![(
                format!("{p}.replicas.minimum"),
                "minimum (11) is greater than maximum (10)",
            )],
        ),
        (
            "input.properties.replicas.exclusiveMinimum",
            json!(true),
            vec![(
                format!("{p}.replicas.exclusiveMinimum"),
                "must be a number: the bound itself (draft 2020-12), not a flag on `minimum`",
            )],
        ),
        (
            "input.properties.replicas.exclusiveMinimum",
            json!(10),
            vec![(
                format!("{p}.replicas.exclusiveMinimum"),
                "exclusiveMinimum (10) equals maximum (10): no number satisfies both",
            )],
        ),
        (
            "input.properties.replicas.multipleOf",
            json!(0),
            vec![(format!("{p}.replicas.multipleOf"), "must be greater than 0")],
        ),
        (
            "input.properties.replicas.default",
            json!(2.5),
            vec![(
                format!("{p}.replicas.default"),
                "invalid default: Input should be a valid integer, got a number with a fractional part",
            )],
        ),
        (
            "input.properties.replicas.items",
            json!({"type": "string"}),
            vec![(
                format!("{p}.replicas.items"),
                "`items` applies only to `type: array`",
            )],
        ),
        (
            "input.properties.tags",
            json!({"type": "array", "items": [{"type": "string"}], "uniqueItems": "yes"}),
            vec![
                (
                    format!("{p}.tags.items"),
                    "a list of item schemas is not supported: give one schema for every item",
                ),
                (format!("{p}.tags.uniqueItems"), "must be true or false"),
            ],
        ),
        (
            "input.properties.net",
            json!({"type": "object", "properties": {"cidr": {"type": "string", "pattern": "("}}, "default": {"cidr": 1}}),
            vec![
                (
                    format!("{p}.net.properties.cidr.pattern"),
                    "the pattern does not compile: unclosed group",
                ),
                (
                    format!("{p}.net.default.cidr"),
                    "invalid default: Input should be a valid string",
                ),
            ],
        ),
        (
            "input.properties.odd",
            json!(true),
            vec![(
                format!("{p}.odd"),
                "a schema must be a mapping of keywords, like `{type: string}`",
            )],
        ),
    ];
    for (field, value, want) in cases {
        let got = problems(&with(field, value.clone()));
        let want: Vec<(String, String)> =
            want.into_iter().map(|(p, m)| (p, m.to_owned())).collect();
        assert_eq!(got, want, "{field} = {value}");
    }
}

#[test]
fn odd_property_names_are_quoted_in_paths() {
    let spec = with(
        "input.properties",
        json!({"app.kubernetes.io/name": {"type": "string", "minLength": "x"}}),
    );
    assert_eq!(
        problems(&with_required_cleared(spec)),
        vec![(
            "spec.input.properties[\"app.kubernetes.io/name\"].minLength".to_owned(),
            "must be a non-negative integer".to_owned()
        )]
    );
}

fn with_required_cleared(mut spec: Value) -> Value {
    spec["input"].as_object_mut().unwrap().remove("required");
    spec
}

#[test]
fn nesting_is_bounded() {
    let mut schema = json!({"type": "string"});
    for _ in 0..20 {
        schema = json!({"type": "object", "properties": {"a": schema}});
    }
    let got = problems(&with("input", schema));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].0.starts_with("spec.input.properties.a.properties.a"),
        "{got:?}"
    );
    assert_eq!(got[0].1, "schemas may nest at most 16 levels deep");
}

#[test]
fn conflicting_routes() {
    let make = |ns: &str, name: &str, route: &str| {
        Offering::from_manifest(ns, name, &with("route", json!(route))).unwrap()
    };
    let offerings = [
        make("b", "envs", "/environments"),
        make("a", "apps", "/applications"),
        make("a", "envs", "/environments"),
        make("c", "cfg", "/configuration"),
        make("c", "cfg2", "/configuration"),
        make("z", "other", "/other"),
    ];
    assert_eq!(
        route_conflicts(&offerings),
        vec![
            (
                "/configuration".to_owned(),
                vec!["c/cfg".to_owned(), "c/cfg2".to_owned()]
            ),
            (
                "/environments".to_owned(),
                vec!["a/envs".to_owned(), "b/envs".to_owned()]
            ),
        ]
    );
    assert!(route_conflicts(&offerings[..2]).is_empty());
}

/// Every keyword with every kind of value is either accepted or refused with a problem under `spec.input`, and
/// whatever is accepted validates every kind of body without panicking.
#[test]
fn every_keyword_with_every_kind_of_value() {
    let values = [
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(2),
        json!(1.5),
        json!(""),
        json!("x"),
        json!("^(a|b)+$"),
        json!("date-time"),
        json!("string"),
        json!([]),
        json!(["x"]),
        json!([1, 1]),
        json!({}),
        json!({"type": "string"}),
        json!({"a": {"type": "integer"}}),
    ];
    let keywords = [
        "type",
        "enum",
        "const",
        "default",
        "examples",
        "title",
        "description",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "format",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "$ref",
    ];
    let types = ["string", "integer", "number", "boolean", "object", "array"];
    let mut accepted = 0;
    for ty in types {
        for keyword in keywords {
            for value in &values {
                let mut property = json!({"type": ty});
                property[keyword] = value.clone();
                let input = json!({"type": "object", "properties": {"p": property}});
                let spec = with("input", input);
                match Offering::from_manifest("ns", "o", &spec) {
                    Ok(o) => {
                        accepted += 1;
                        for body in &values {
                            let _ = o.input.validate(&json!({ "p": body }));
                            let text = body.to_string();
                            let _ = o.input.validate_fields(&[("p".to_owned(), text)]);
                        }
                    }
                    Err(problems) => {
                        assert!(!problems.is_empty());
                        for p in problems {
                            assert!(
                                p.path.starts_with("spec.input.properties.p"),
                                "{keyword}={value}: {p}"
                            );
                            assert!(!p.message.is_empty());
                        }
                    }
                }
            }
        }
    }
    // The table is not vacuous: a fair share of combinations is valid.
    assert!(accepted > 100, "{accepted}");
}
