//! Order input validation: one table of bodies against one schema, with the exact 422 entries each must produce.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use switchyard_catalog::{InputSchema, detail, parse_body};

/// An input schema with one property of every kind the subset supports.
fn schema() -> InputSchema {
    InputSchema::parse(
        &json!({
            "type": "object",
            "required": ["region", "environment"],
            "properties": {
                "region": {"type": "string", "title": "Region", "enum": ["eastus2", "westeurope"], "default": "eastus2", "examples": ["eastus2"]},
                "requester_email": {"type": "string", "format": "email"},
                "environment": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,30}$", "minLength": 2, "maxLength": 31},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "step": {"type": "integer", "multipleOf": 5},
                "tier": {"const": "gold"},
                "dry_run": {"type": "boolean", "default": false},
                "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "maxItems": 3, "uniqueItems": true},
                "network": {
                    "type": "object",
                    "required": ["cidr"],
                    "properties": {
                        "cidr": {"type": "string"},
                        "public": {"type": "boolean", "default": true}
                    }
                },
                "size": {"enum": ["s", "m", "l"]},
                "when": {"type": "string", "format": "date"}
            }
        }),
        "spec.input",
    )
    .unwrap()
}

/// The body must be accepted as `want` (what the order carries).
fn accepts(body: Value, want: Value) {
    match schema().validate(&body) {
        Ok(got) => assert_eq!(got, want, "body {body}"),
        Err(errors) => panic!("body {body} refused: {}", detail(&errors)),
    }
}

/// The body must be refused with exactly these `detail` entries.
fn refuses(body: Value, want: Value) {
    match schema().validate(&body) {
        Ok(got) => panic!("body {body} accepted as {got}"),
        Err(errors) => assert_eq!(detail(&errors)["detail"], want, "body {body}"),
    }
}

#[test]
fn good_bodies_get_defaults_in_document_order() {
    accepts(
        json!({"environment": "dev-1"}),
        json!({"region": "eastus2", "environment": "dev-1", "dry_run": false}),
    );
    accepts(
        json!({
            "tags": ["a", "b"], "environment": "prod", "region": "westeurope", "replicas": 3.0,
            "ratio": 0.5, "step": 15, "tier": "gold", "network": {"cidr": "10.0.0.0/16"},
            "size": "m", "requester_email": "dev@example.com", "when": "2024-02-29"
        }),
        json!({
            "region": "westeurope", "requester_email": "dev@example.com", "environment": "prod",
            "replicas": 3, "ratio": 0.5, "step": 15, "tier": "gold", "dry_run": false, "tags": ["a", "b"],
            "network": {"cidr": "10.0.0.0/16", "public": true}, "size": "m", "when": "2024-02-29"
        }),
    );
}

#[test]
fn the_body_itself() {
    let cases = [
        (
            json!(null),
            json!([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}]),
        ),
        (
            json!([1]),
            json!([{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary or object to extract fields from", "input": [1]}]),
        ),
        (
            json!("{"),
            json!([{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary or object to extract fields from", "input": "{"}]),
        ),
    ];
    for (body, want) in cases {
        refuses(body, want);
    }
    // A body that is not JSON never reaches validation.
    let e = parse_body(b"{\"environment\": }").unwrap_err();
    assert_eq!(
        detail(&[e]),
        json!({"detail": [{"type": "json_invalid", "loc": ["body", 16], "msg": "JSON decode error", "input": {}, "ctx": {"error": "Expecting value"}}]})
    );
}

#[test]
fn every_error_in_document_order_then_extras() {
    let body = json!({
        "zzz": 1,
        "replicas": 11,
        "region": "mars",
        "requester_email": "nobody",
        "tags": [],
        "aaa": {"x": 1}
    });
    refuses(
        body.clone(),
        json!([
            {"type": "enum", "loc": ["body", "region"], "msg": "Input should be 'eastus2' or 'westeurope'", "input": "mars", "ctx": {"expected": "'eastus2' or 'westeurope'"}},
            {"type": "value_error", "loc": ["body", "requester_email"], "msg": "value is not a valid email address: An email address must have an @-sign.", "input": "nobody", "ctx": {"reason": "An email address must have an @-sign."}},
            {"type": "missing", "loc": ["body", "environment"], "msg": "Field required", "input": body},
            {"type": "less_than_equal", "loc": ["body", "replicas"], "msg": "Input should be less than or equal to 10", "input": 11, "ctx": {"le": 10}},
            {"type": "too_short", "loc": ["body", "tags"], "msg": "List should have at least 1 item after validation, not 0", "input": [], "ctx": {"field_type": "List", "min_length": 1, "actual_length": 0}},
            {"type": "extra_forbidden", "loc": ["body", "zzz"], "msg": "Extra inputs are not permitted", "input": 1},
            {"type": "extra_forbidden", "loc": ["body", "aaa"], "msg": "Extra inputs are not permitted", "input": {"x": 1}}
        ]),
    );
}

/// One bad field at a time, next to a valid `environment`: (field, value, the one error expected).
#[test]
fn table_of_single_field_errors() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "region",
            json!(1),
            json!({"type": "string_type", "msg": "Input should be a valid string"}),
        ),
        (
            "environment",
            json!("a"),
            json!({"type": "string_too_short", "msg": "String should have at least 2 characters", "ctx": {"min_length": 2}}),
        ),
        (
            "environment",
            json!("a".repeat(32)),
            json!({"type": "string_too_long", "msg": "String should have at most 31 characters", "ctx": {"max_length": 31}}),
        ),
        (
            "environment",
            json!("Prod"),
            json!({"type": "string_pattern_mismatch", "msg": "String should match pattern '^[a-z][a-z0-9-]{1,30}$'", "ctx": {"pattern": "^[a-z][a-z0-9-]{1,30}$"}}),
        ),
        (
            "environment",
            json!(null),
            json!({"type": "string_type", "msg": "Input should be a valid string"}),
        ),
        (
            "replicas",
            json!(2.5),
            json!({"type": "int_from_float", "msg": "Input should be a valid integer, got a number with a fractional part"}),
        ),
        (
            "replicas",
            json!(true),
            json!({"type": "int_type", "msg": "Input should be a valid integer"}),
        ),
        (
            "replicas",
            json!("3"),
            json!({"type": "int_type", "msg": "Input should be a valid integer"}),
        ),
        (
            "replicas",
            json!(0),
            json!({"type": "greater_than_equal", "msg": "Input should be greater than or equal to 1", "ctx": {"ge": 1}}),
        ),
        (
            "ratio",
            json!(false),
            json!({"type": "float_type", "msg": "Input should be a valid number"}),
        ),
        (
            "ratio",
            json!(0),
            json!({"type": "greater_than", "msg": "Input should be greater than 0", "ctx": {"gt": 0}}),
        ),
        (
            "ratio",
            json!(1),
            json!({"type": "less_than", "msg": "Input should be less than 1", "ctx": {"lt": 1}}),
        ),
        (
            "step",
            json!(12),
            json!({"type": "multiple_of", "msg": "Input should be a multiple of 5", "ctx": {"multiple_of": 5}}),
        ),
        (
            "tier",
            json!("silver"),
            json!({"type": "literal_error", "msg": "Input should be 'gold'", "ctx": {"expected": "'gold'"}}),
        ),
        (
            "dry_run",
            json!("yes"),
            json!({"type": "bool_type", "msg": "Input should be a valid boolean"}),
        ),
        (
            "dry_run",
            json!(0),
            json!({"type": "bool_type", "msg": "Input should be a valid boolean"}),
        ),
        (
            "tags",
            json!("a"),
            json!({"type": "list_type", "msg": "Input should be a valid list"}),
        ),
        (
            "tags",
            json!(["a", "b", "c", "d"]),
            json!({"type": "too_long", "msg": "List should have at most 3 items after validation, not 4", "ctx": {"field_type": "List", "max_length": 3, "actual_length": 4}}),
        ),
        (
            "network",
            json!("10.0.0.0/8"),
            json!({"type": "model_attributes_type", "msg": "Input should be a valid dictionary or object to extract fields from"}),
        ),
        (
            "size",
            json!("xl"),
            json!({"type": "enum", "msg": "Input should be 's', 'm' or 'l'", "ctx": {"expected": "'s', 'm' or 'l'"}}),
        ),
        (
            "when",
            json!("2023-02-29"),
            json!({"type": "date_parsing", "msg": "Input should be a valid date in the format YYYY-MM-DD, day value is outside expected range", "ctx": {"error": "day value is outside expected range"}}),
        ),
    ];
    for (field, value, want) in cases {
        let mut body = json!({"environment": "dev"});
        body[field] = value.clone();
        let mut want = want;
        want["loc"] = json!(["body", field]);
        want["input"] = value;
        let errors = schema().validate(&body).unwrap_err();
        assert_eq!(errors.len(), 1, "{field}: {}", detail(&errors));
        let got = serde_json::to_value(&errors[0]).unwrap();
        assert_eq!(got, want, "{field}");
    }
}

#[test]
fn nested_errors_are_located() {
    refuses(
        json!({"environment": "dev", "tags": ["a", "", 7, "a"], "network": {"public": "no", "x": 1}}),
        // A list's own errors (its length) come before its items'.
        json!([
            {"type": "too_long", "loc": ["body", "tags"], "msg": "List should have at most 3 items after validation, not 4", "input": ["a", "", 7, "a"], "ctx": {"field_type": "List", "max_length": 3, "actual_length": 4}},
            {"type": "string_too_short", "loc": ["body", "tags", 1], "msg": "String should have at least 1 character", "input": "", "ctx": {"min_length": 1}},
            {"type": "string_type", "loc": ["body", "tags", 2], "msg": "Input should be a valid string", "input": 7},
            {"type": "missing", "loc": ["body", "network", "cidr"], "msg": "Field required", "input": {"public": "no", "x": 1}},
            {"type": "bool_type", "loc": ["body", "network", "public"], "msg": "Input should be a valid boolean", "input": "no"},
            {"type": "extra_forbidden", "loc": ["body", "network", "x"], "msg": "Extra inputs are not permitted", "input": 1}
        ]),
    );
    refuses(
        json!({"environment": "dev", "tags": ["a", "b", "a"]}),
        json!([{"type": "value_error", "loc": ["body", "tags", 2], "msg": "Value error, List should have unique items, this item repeats item 0", "input": "a", "ctx": {"error": "List should have unique items, this item repeats item 0"}}]),
    );
}

#[test]
fn command_line_fields_are_read_as_their_types() {
    let s = schema();
    let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let got = s
        .validate_fields(&fields(&[
            ("environment", "dev"),
            ("replicas", " 3 "),
            ("ratio", "0.25"),
            ("dry_run", "yes"),
            ("tags", r#"["x","y"]"#),
            ("network.cidr", "10.0.0.0/8"),
            ("size", "l"),
            ("tier", "gold"),
            ("step", "10.0"),
        ]))
        .unwrap();
    assert_eq!(
        got,
        json!({
            "region": "eastus2", "environment": "dev", "replicas": 3, "ratio": 0.25, "step": 10,
            "tier": "gold", "dry_run": true, "tags": ["x", "y"], "network": {"cidr": "10.0.0.0/8", "public": true},
            "size": "l"
        })
    );

    let errors = s
        .validate_fields(&fields(&[
            ("environment", "dev"),
            ("replicas", "3.5"),
            ("ratio", "x"),
            ("dry_run", "maybe"),
            ("tags", "[x"),
            ("network.cidr", "10.0.0.0/8"),
            ("network.mtu", "9000"),
            ("step", "7"),
            ("colour", "red"),
            ("ratio", "inf"),
        ]))
        .unwrap_err();
    assert_eq!(
        detail(&errors)["detail"],
        json!([
            {"type": "int_parsing", "loc": ["body", "replicas"], "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "3.5"},
            {"type": "finite_number", "loc": ["body", "ratio"], "msg": "Input should be a finite number", "input": "inf"},
            {"type": "multiple_of", "loc": ["body", "step"], "msg": "Input should be a multiple of 5", "input": 7, "ctx": {"multiple_of": 5}},
            {"type": "bool_parsing", "loc": ["body", "dry_run"], "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe"},
            {"type": "json_invalid", "loc": ["body", "tags"], "msg": "Invalid JSON: expected value at line 1 column 2", "input": "[x", "ctx": {"error": "expected value at line 1 column 2"}},
            {"type": "extra_forbidden", "loc": ["body", "network", "mtu"], "msg": "Extra inputs are not permitted", "input": "9000"},
            {"type": "extra_forbidden", "loc": ["body", "colour"], "msg": "Extra inputs are not permitted", "input": "red"}
        ])
    );

    let errors = s.validate_fields(&fields(&[("ratio", "x")])).unwrap_err();
    assert_eq!(
        detail(&errors)["detail"],
        json!([
            {"type": "missing", "loc": ["body", "environment"], "msg": "Field required", "input": {"ratio": "x"}},
            {"type": "float_parsing", "loc": ["body", "ratio"], "msg": "Input should be a valid number, unable to parse string as a number", "input": "x"}
        ])
    );
}

#[test]
fn untyped_properties_read_text_by_their_values() {
    let s = InputSchema::parse(
        &json!({"type": "object", "properties": {
            "level": {"enum": [1, 2, "max"]},
            "note": {"description": "anything"}
        }}),
        "spec.input",
    )
    .unwrap();
    let set = |k: &str, v: &str| s.validate_fields(&[(k.to_owned(), v.to_owned())]);
    assert_eq!(set("level", "2").unwrap(), json!({"level": 2}));
    assert_eq!(set("level", "max").unwrap(), json!({"level": "max"}));
    assert_eq!(set("note", "{\"a\":1}").unwrap(), json!({"note": {"a": 1}}));
    assert_eq!(set("note", "hello").unwrap(), json!({"note": "hello"}));
    let e = set("level", "3").unwrap_err();
    assert_eq!(e[0].msg, "Input should be 1, 2 or 'max'");
    assert_eq!(e[0].input, json!("3"));
}

#[test]
fn validation_is_deterministic() {
    let body = json!({"b": 1, "replicas": "x", "a": 2, "tags": [1, 2]});
    let first = detail(&schema().validate(&body).unwrap_err()).to_string();
    for _ in 0..5 {
        assert_eq!(
            detail(&schema().validate(&body).unwrap_err()).to_string(),
            first
        );
    }
}

#[test]
fn command_line_fields_over_a_file() {
    let s = schema();
    let base = json!({"environment": "dev", "replicas": 2, "network": {"cidr": "10.0.0.0/8"}});
    let set = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert_eq!(
        s.validate_fields_over(&base, &set(&[("replicas", "4"), ("network.public", "no")]))
            .unwrap(),
        json!({
            "region": "eastus2", "environment": "dev", "replicas": 4, "dry_run": false,
            "network": {"cidr": "10.0.0.0/8", "public": false}
        })
    );
    // The pairs' own errors first; the body's next, without a second error about a pair that could not be read.
    let errors = s
        .validate_fields_over(
            &json!({"replicas": 2, "extra": true}),
            &set(&[
                ("replicas", "many"),
                ("dry_run", "x"),
                ("dry_run", "on"),
                ("ratio", "2"),
            ]),
        )
        .unwrap_err();
    assert_eq!(
        detail(&errors)["detail"],
        json!([
            {"type": "int_parsing", "loc": ["body", "replicas"], "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "many"},
            {"type": "missing", "loc": ["body", "environment"], "msg": "Field required", "input": {"extra": true, "dry_run": true, "ratio": 2}},
            {"type": "less_than", "loc": ["body", "ratio"], "msg": "Input should be less than 1", "input": 2, "ctx": {"lt": 1}},
            {"type": "extra_forbidden", "loc": ["body", "extra"], "msg": "Extra inputs are not permitted", "input": true}
        ])
    );
    // A base that is not an object is refused as a body would be.
    assert_eq!(
        s.validate_fields_over(&json!([1]), &[]).unwrap_err()[0].kind,
        "model_attributes_type"
    );
}
