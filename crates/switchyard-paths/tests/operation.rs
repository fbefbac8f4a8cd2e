//! Trigger parameter operations: a table with the answers of Argo Events' `ApplyParams`
//! (`pkg/sensors/triggers/params.go`, and the cases of its `params_test.go`).

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use switchyard_paths::{Operation, PathError, apply_operation, get, to_argo_string};

use Operation::{Append, Overwrite, Prepend};

/// `(document, dest, value, operation, expected document)`, compared as compact JSON text.
#[test]
fn operations() {
    let cases: &[(&str, &str, Value, Operation, &str)] = &[
        // params_test.go: prepend/append/overwrite "fake" on {"name": "faker"}
        (
            r#"{"name":"faker"}"#,
            "name",
            json!("fake"),
            Prepend,
            r#"{"name":"fakefaker"}"#,
        ),
        (
            r#"{"name":"faker"}"#,
            "name",
            json!("fake"),
            Append,
            r#"{"name":"fakerfake"}"#,
        ),
        (
            r#"{"name":"faker"}"#,
            "name",
            json!("fake"),
            Overwrite,
            r#"{"name":"fake"}"#,
        ),
        // params_test.go: append a raw number to "Years: "; append a raw array where nothing is: written as is
        (
            r#"{"ageWithYears":"Years: "}"#,
            "ageWithYears",
            json!(100),
            Append,
            r#"{"ageWithYears":"Years: 100"}"#,
        ),
        (
            r#"{"age":"x"}"#,
            "countries",
            json!(["ca", "us", "mx"]),
            Append,
            r#"{"age":"x","countries":["ca","us","mx"]}"#,
        ),
        // nothing at dest: the value keeps its type, as with overwrite
        ("{}", "n", json!(5), Prepend, r#"{"n":5}"#),
        ("{}", "a.b", json!("x"), Append, r#"{"a":{"b":"x"}}"#),
        // existing non-strings: GJSON's String() of them, and the result is always a JSON string
        (
            r#"{"n":5}"#,
            "n",
            json!("-suffix"),
            Append,
            r#"{"n":"5-suffix"}"#,
        ),
        (r#"{"n":5}"#, "n", json!(6), Append, r#"{"n":"56"}"#),
        (r#"{"n":1.50}"#, "n", json!("x"), Append, r#"{"n":"1.5x"}"#),
        (r#"{"b":true}"#, "b", json!("!"), Append, r#"{"b":"true!"}"#),
        (r#"{"z":null}"#, "z", json!("v"), Append, r#"{"z":"v"}"#),
        (r#"{"z":null}"#, "z", json!(null), Append, r#"{"z":"null"}"#),
        (
            r#"{"o":{"k":1}}"#,
            "o",
            json!("!"),
            Append,
            r#"{"o":"{\"k\":1}!"}"#,
        ),
        (
            r#"{"l":[1,2]}"#,
            "l",
            json!("<"),
            Prepend,
            r#"{"l":"<[1,2]"}"#,
        ),
        (
            r#"{"s":"b"}"#,
            "s",
            json!({"k": "v"}),
            Prepend,
            r#"{"s":"{\"k\":\"v\"}b"}"#,
        ),
        (r#"{"s":"b"}"#, "s", json!(1.0), Prepend, r#"{"s":"1b"}"#),
        (
            r#"{"s":"b"}"#,
            "s",
            json!(false),
            Append,
            r#"{"s":"bfalse"}"#,
        ),
        // a Workflow parameter
        (
            r#"{"spec":{"arguments":{"parameters":[{"name":"m","value":"hello "}]}}}"#,
            "spec.arguments.parameters.0.value",
            json!("world"),
            Append,
            r#"{"spec":{"arguments":{"parameters":[{"name":"m","value":"hello world"}]}}}"#,
        ),
        // dest is read as a GJSON path: `-1` finds nothing there, so append simply appends the value
        (
            r#"{"l":["a"]}"#,
            "l.-1",
            json!("b"),
            Append,
            r#"{"l":["a","b"]}"#,
        ),
        // an escaped dot reads and writes the same key
        (
            r#"{"a.b":"x"}"#,
            r"a\.b",
            json!("y"),
            Append,
            r#"{"a.b":"xy"}"#,
        ),
    ];
    let mut failures = Vec::new();
    for (doc, dest, value, op, expected) in cases {
        let mut doc: Value = serde_json::from_str(doc).unwrap();
        match apply_operation(&mut doc, dest, value.clone(), *op) {
            Ok(()) if doc.to_string().as_str() == *expected => {}
            Ok(()) => failures.push(format!("{op} {dest:?}: expected {expected}, got {doc}")),
            Err(e) => failures.push(format!("{op} {dest:?}: error {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// From an event to a trigger: read with GJSON, then write with the operation, as a Sensor does.
#[test]
fn event_to_resource() {
    let event = r#"{"header":{"X-Request-Id":["abc-123"]},"body":{"region":"us-east-1","count":2,"tags":["a"]}}"#;
    // (dataKey, useRawData, dest, operation, expected document); the document starts as {"spec":{"msg":"id="}}
    let cases = [
        (
            "header.X-Request-Id.0",
            false,
            "spec.msg",
            Append,
            r#"{"spec":{"msg":"id=abc-123"}}"#,
        ),
        (
            "body.count",
            true,
            "spec.n",
            Overwrite,
            r#"{"spec":{"msg":"id=","n":2}}"#,
        ),
        (
            "body.count",
            false,
            "spec.n",
            Overwrite,
            r#"{"spec":{"msg":"id=","n":"2"}}"#,
        ),
        (
            "body.tags",
            true,
            "spec.tags",
            Overwrite,
            r#"{"spec":{"msg":"id=","tags":["a"]}}"#,
        ),
        (
            "body.tags",
            false,
            "spec.tags",
            Overwrite,
            r#"{"spec":{"msg":"id=","tags":"[\"a\"]"}}"#,
        ),
        (
            "body.count",
            true,
            "spec.msg",
            Append,
            r#"{"spec":{"msg":"id=2"}}"#,
        ),
        (
            "body.region",
            true,
            "spec.msg",
            Prepend,
            r#"{"spec":{"msg":"us-east-1id="}}"#,
        ),
    ];
    for (key, raw, dest, op, expected) in cases {
        let mut doc = json!({"spec": {"msg": "id="}});
        let value = get(event, key).unwrap().param_value(raw).unwrap();
        apply_operation(&mut doc, dest, value, op).unwrap();
        assert_eq!(doc.to_string(), expected, "{key} -> {dest} ({op})");
    }
}

#[test]
fn parsing_operations() {
    let cases = [
        ("", Ok(Overwrite)),
        ("overwrite", Ok(Overwrite)),
        ("append", Ok(Append)),
        ("prepend", Ok(Prepend)),
        (
            "Append",
            Err(PathError::UnsupportedOperation {
                operation: "Append".to_owned(),
            }),
        ),
        (
            "replace",
            Err(PathError::UnsupportedOperation {
                operation: "replace".to_owned(),
            }),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(text.parse::<Operation>(), expected, "{text:?}");
    }
    for op in [Overwrite, Append, Prepend] {
        assert_eq!(op.to_string().parse::<Operation>(), Ok(op));
    }
    assert_eq!(Operation::default(), Overwrite);
    assert_eq!(
        "replace".parse::<Operation>().unwrap_err().to_string(),
        "unsupported trigger parameter operation `replace`: expected `overwrite`, `append` or `prepend`"
    );
}

#[test]
fn errors_leave_the_document_unchanged() {
    let mut doc = json!({"l": [1], "s": "x"});
    let before = doc.clone();
    for (dest, op) in [("l.k", Append), ("s.#", Prepend), ("a..b", Overwrite)] {
        assert!(
            apply_operation(&mut doc, dest, json!("v"), op).is_err(),
            "{dest}"
        );
        assert_eq!(doc, before, "{dest}");
    }
}

#[test]
fn argo_string_of_values() {
    let cases = [
        (json!("plain"), "plain"),
        (json!(42), "42"),
        (json!(-42), "-42"),
        (json!(18446744073709551615u64), "18446744073709551615"),
        (json!(1.5), "1.5"),
        (json!(1.0), "1"),
        (json!(1e21), "1000000000000000000000"),
        (json!(1.5e-7), "0.00000015"),
        (json!(true), "true"),
        (json!(null), "null"),
        (json!([1, "a"]), r#"[1,"a"]"#),
        (json!({"k": [true]}), r#"{"k":[true]}"#),
    ];
    for (value, expected) in cases {
        assert_eq!(to_argo_string(&value), expected, "{value}");
    }
}
