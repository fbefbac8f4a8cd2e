//! SJSON writes: tables of `(document, path, value) → document or error`, with the answers `tidwall/sjson` gives
//! (its README examples, `sjson_test.go`, and its `appendRawPaths`/`appendBuild` rules), compared as compact JSON
//! text so that key order counts (SJSON appends a new key at the end of its object).

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use switchyard_paths::{
    MAX_PAD_INDEX, MAX_PATH_PARTS, PathError, RESERVED_KEY, Segment, delete, parse_set_path, set,
};

/// `(document, path, value, expected document)`; `""` as the document is SJSON's empty document (`null` here).
fn check_set(cases: &[(&str, &str, &str, &str)]) {
    let mut failures = Vec::new();
    for (doc, path, value, expected) in cases {
        let mut doc: Value = if doc.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(doc).unwrap()
        };
        let value: Value = serde_json::from_str(value).unwrap();
        match set(&mut doc, path, value) {
            Ok(()) if doc.to_string().as_str() == *expected => {}
            Ok(()) => failures.push(format!("{path:?}: expected {expected}, got {doc}")),
            Err(e) => failures.push(format!("{path:?}: expected {expected}, got error {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn readme_examples() {
    check_set(&[
        (
            r#"{"name":{"first":"Janet","last":"Prichard"},"age":47}"#,
            "name.last",
            r#""Anderson""#,
            r#"{"name":{"first":"Janet","last":"Anderson"},"age":47}"#,
        ),
        ("", "name", r#""Tom""#, r#"{"name":"Tom"}"#),
        (
            "",
            "name.last",
            r#""Anderson""#,
            r#"{"name":{"last":"Anderson"}}"#,
        ),
        // a new key goes at the end of its object (the README prints it sorted)
        (
            r#"{"name":{"last":"Anderson"}}"#,
            "name.first",
            r#""Sara""#,
            r#"{"name":{"last":"Anderson","first":"Sara"}}"#,
        ),
        (
            r#"{"name":{"last":"Anderson"}}"#,
            "name.last",
            r#""Smith""#,
            r#"{"name":{"last":"Smith"}}"#,
        ),
        (
            r#"{"friends":["Andy","Carol"]}"#,
            "friends.2",
            r#""Sara""#,
            r#"{"friends":["Andy","Carol","Sara"]}"#,
        ),
        (
            r#"{"friends":["Andy","Carol"]}"#,
            "friends.-1",
            r#""Sara""#,
            r#"{"friends":["Andy","Carol","Sara"]}"#,
        ),
        (
            r#"{"friends":["Andy","Carol"]}"#,
            "friends.4",
            r#""Sara""#,
            r#"{"friends":["Andy","Carol",null,null,"Sara"]}"#,
        ),
        (
            r#"{"users":{"2313":{"name":"Sara"},"7839":{"name":"Andy"}}}"#,
            "users.:2313.name",
            r#""Sue""#,
            r#"{"users":{"2313":{"name":"Sue"},"7839":{"name":"Andy"}}}"#,
        ),
        (r#"{"key":true}"#, "key", "null", r#"{"key":null}"#),
        (
            r#"{"key":true}"#,
            "key",
            r#"["hello","world"]"#,
            r#"{"key":["hello","world"]}"#,
        ),
        (
            r#"{"key":true}"#,
            "key",
            r#"{"hello":"world"}"#,
            r#"{"key":{"hello":"world"}}"#,
        ),
    ]);
}

/// The cases of `sjson_test.go`'s `TestBasic` that are plain paths.
#[test]
fn sjson_test_basic() {
    check_set(&[
        (
            r#"[{"hi":"world"}]"#,
            "0.hiw",
            r#""planet""#,
            r#"[{"hi":"world","hiw":"planet"}]"#,
        ),
        ("", "0", "true", "[true]"),
        ("", "1", "true", "[null,true]"),
        ("[1]", "2", "true", "[1,null,true]"),
        ("[1,null,false]", "1", "true", "[1,true,false]"),
        (
            r#"[1,{"hello":"when","this":[0,1,2]},false]"#,
            "1.this.1",
            "null",
            r#"[1,{"hello":"when","this":[0,null,2]},false]"#,
        ),
        (
            r#"{"a":1,"b":{"hello":"when","this":[0,null,2]},"c":false}"#,
            "b.this.4",
            "4",
            r#"{"a":1,"b":{"hello":"when","this":[0,null,2,null,4]},"c":false}"#,
        ),
        (
            "",
            "b.this.4",
            "4",
            r#"{"b":{"this":[null,null,null,null,4]}}"#,
        ),
        (
            "",
            "1.this.4",
            "4",
            r#"[null,{"this":[null,null,null,null,4]}]"#,
        ),
        (
            "",
            ":1.this.4",
            "4",
            r#"{"1":{"this":[null,null,null,null,4]}}"#,
        ),
        (
            "",
            r"\:1.this.4",
            "4",
            r#"{":1":{"this":[null,null,null,null,4]}}"#,
        ),
        (
            "",
            r"\:\\1.this.4.\.HI",
            "4",
            r#"{":\\1":{"this":[null,null,null,null,{".HI":4}]}}"#,
        ),
        (
            r#"{"app.token":"abc"}"#,
            r"app\.token",
            r#""cde""#,
            r#"{"app.token":"cde"}"#,
        ),
        ("", "b.this.😇", r#""""#, r#"{"b":{"this":{"😇":""}}}"#),
        ("[1,2]", "-1", "3", "[1,2,3]"),
        (r#"{"arr":[1]}"#, "arr.-1", "1", r#"{"arr":[1,1]}"#),
        (
            r#"{"a":"x"}"#,
            "a",
            r#""C:\\Windows\\System32""#,
            r#"{"a":"C:\\Windows\\System32"}"#,
        ),
    ]);
}

/// How SJSON creates what is missing, and replaces scalars in the way.
#[test]
fn creating_containers() {
    check_set(&[
        // below a created key, the next segment chooses: digits → array padded with nulls, -1 → array, else object
        ("{}", "a.0", "1", r#"{"a":[1]}"#),
        ("{}", "a.2", "1", r#"{"a":[null,null,1]}"#),
        ("{}", "a.-1", "1", r#"{"a":[1]}"#),
        ("{}", "a.-1.b", "1", r#"{"a":[{"b":1}]}"#),
        ("{}", "a.0.b.1", "1", r#"{"a":[{"b":[null,1]}]}"#),
        ("{}", "a.:0", "1", r#"{"a":{"0":1}}"#),
        ("{}", "a.b", "1", r#"{"a":{"b":1}}"#),
        // digits on an object are a key
        (r#"{"a":{}}"#, "a.0", "1", r#"{"a":{"0":1}}"#),
        (r#"{"a":{"0":5}}"#, "a.0", "1", r#"{"a":{"0":1}}"#),
        // -1 on an object is a key too
        (r#"{"a":{}}"#, "a.-1", "1", r#"{"a":{"-1":1}}"#),
        // the empty document: digits make an array, anything else (even -1) an object
        ("", "0", "1", "[1]"),
        ("", "-1", "1", r#"{"-1":1}"#),
        ("", "-1.a", "1", r#"{"-1":{"a":1}}"#),
        // a scalar in the way gives way to a container, chosen the same way
        (r#"{"a":1}"#, "a.b", "2", r#"{"a":{"b":2}}"#),
        (r#"{"a":"x"}"#, "a.1", "2", r#"{"a":[null,2]}"#),
        (r#"{"a":null}"#, "a.-1", "2", r#"{"a":{"-1":2}}"#),
        (r#"{"a":true}"#, "a.b.c", "2", r#"{"a":{"b":{"c":2}}}"#),
        ("7", "a", "2", r#"{"a":2}"#),
        // an existing element: replaced; an existing array element reached through a forced key: replaced too
        // (SJSON looks up with GJSON, which ignores the `:`)
        (r#"{"a":[1,2]}"#, "a.:0", "9", r#"{"a":[9,2]}"#),
        (r#"{"a":[1,2]}"#, "a.01", "9", r#"{"a":[1,9]}"#),
        // appending, then descending into what was appended
        (
            r#"{"a":[{"b":1}]}"#,
            "a.-1.b",
            "2",
            r#"{"a":[{"b":1},{"b":2}]}"#,
        ),
        // escapes: any escaped character is literal, including query characters
        ("{}", r"a\*b", "1", r#"{"a*b":1}"#),
        ("{}", r"a\#.b\|c", "1", r#"{"a#":{"b|c":1}}"#),
        ("{}", r"x\\", "1", r#"{"x\\":1}"#),
        ("{}", "a:b", "1", r#"{"a:b":1}"#),
    ]);
}

/// `dest` paths as Argo Sensors use them, on the objects they target.
#[test]
fn argo_dest_paths() {
    let workflow = r#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"generateName":"hello-"},"spec":{"entrypoint":"main","arguments":{"parameters":[{"name":"message","value":"hello"}]}}}"#;
    check_set(&[
        (
            workflow,
            "spec.arguments.parameters.0.value",
            r#""from-event""#,
            r#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"generateName":"hello-"},"spec":{"entrypoint":"main","arguments":{"parameters":[{"name":"message","value":"from-event"}]}}}"#,
        ),
        (
            workflow,
            "spec.arguments.parameters.1.value",
            r#""second""#,
            r#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"generateName":"hello-"},"spec":{"entrypoint":"main","arguments":{"parameters":[{"name":"message","value":"hello"},{"value":"second"}]}}}"#,
        ),
        (
            workflow,
            "metadata.labels.app",
            r#""web""#,
            r#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"generateName":"hello-","labels":{"app":"web"}},"spec":{"entrypoint":"main","arguments":{"parameters":[{"name":"message","value":"hello"}]}}}"#,
        ),
        (
            r#"{"metadata":{"name":"x"}}"#,
            "metadata.name",
            r#""y""#,
            r#"{"metadata":{"name":"y"}}"#,
        ),
        // an HTTP trigger payload built from nothing (Argo's ConstructPayload starts from an empty document)
        (
            "",
            "event.region",
            r#""us-east-1""#,
            r#"{"event":{"region":"us-east-1"}}"#,
        ),
        (
            r#"{"event":{"region":"us-east-1"}}"#,
            "event.count",
            "2",
            r#"{"event":{"region":"us-east-1","count":2}}"#,
        ),
    ]);
}

fn err_of(doc: &str, path: &str) -> PathError {
    let mut doc: Value = serde_json::from_str(doc).unwrap();
    let before = doc.clone();
    let err = set(&mut doc, path, Value::Bool(true)).unwrap_err();
    assert_eq!(doc, before, "{path}: the document changed on error");
    err
}

#[test]
fn errors_name_the_segment() {
    let p = |s: &str| s.to_owned();
    let cases: Vec<(&str, &str, PathError)> = vec![
        ("{}", "", PathError::EmptyPath),
        (
            "{}",
            "a..b",
            PathError::EmptySegment {
                path: p("a..b"),
                segment: 2,
            },
        ),
        (
            "{}",
            ".a",
            PathError::EmptySegment {
                path: p(".a"),
                segment: 1,
            },
        ),
        (
            "{}",
            "a.",
            PathError::EmptySegment {
                path: p("a."),
                segment: 2,
            },
        ),
        (
            "{}",
            "a.:",
            PathError::EmptySegment {
                path: p("a.:"),
                segment: 2,
            },
        ),
        ("{}", r"a\", PathError::DanglingEscape { path: p(r"a\") }),
        (
            "{}",
            "a.#.b",
            PathError::QueryCharacter {
                path: p("a.#.b"),
                segment: 2,
                key: p("#"),
                character: '#',
            },
        ),
        (
            "{}",
            r#"friends.#(last=="x").first"#,
            PathError::QueryCharacter {
                path: p(r#"friends.#(last=="x").first"#),
                segment: 2,
                key: p(r#"#(last=="x")"#),
                character: '#',
            },
        ),
        (
            "{}",
            "ch*ld",
            PathError::QueryCharacter {
                path: p("ch*ld"),
                segment: 1,
                key: p("ch*ld"),
                character: '*',
            },
        ),
        (
            "{}",
            "a|b",
            PathError::QueryCharacter {
                path: p("a|b"),
                segment: 1,
                key: p("a|b"),
                character: '|',
            },
        ),
        (
            "{}",
            r"x\..@reverse",
            PathError::QueryCharacter {
                path: p(r"x\..@reverse"),
                segment: 2,
                key: p("@reverse"),
                character: '@',
            },
        ),
        (
            "{}",
            "c?",
            PathError::QueryCharacter {
                path: p("c?"),
                segment: 1,
                key: p("c?"),
                character: '?',
            },
        ),
        // SJSON: "cannot set array element for non-numeric key"
        (
            r#"{"a":[1]}"#,
            "a.b",
            PathError::NotAnIndex {
                path: p("a.b"),
                segment: 2,
                key: p("b"),
            },
        ),
        (
            "[1,2]",
            "x",
            PathError::NotAnIndex {
                path: p("x"),
                segment: 1,
                key: p("x"),
            },
        ),
        (
            r#"{"a":[1]}"#,
            "a.:5",
            PathError::NotAnIndex {
                path: p("a.:5"),
                segment: 2,
                key: p("5"),
            },
        ),
        (
            r#"{"a":[1]}"#,
            "a.:-1",
            PathError::NotAnIndex {
                path: p("a.:-1"),
                segment: 2,
                key: p("-1"),
            },
        ),
        (
            r#"{"a":[1]}"#,
            "a.-2",
            PathError::NotAnIndex {
                path: p("a.-2"),
                segment: 2,
                key: p("-2"),
            },
        ),
        // a missing element on the way: created, then its key refused when the next level is an array
        (
            r#"{"a":[[1]]}"#,
            "a.0.x.y",
            PathError::NotAnIndex {
                path: p("a.0.x.y"),
                segment: 3,
                key: p("x"),
            },
        ),
    ];
    let mut failures = Vec::new();
    for (doc, path, expected) in cases {
        let got = err_of(doc, path);
        if got != expected {
            failures.push(format!("{path:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn padding_is_capped() {
    let too_far = (MAX_PAD_INDEX + 1).to_string();
    let cases = [
        ("{}", format!("a.{too_far}"), 2),
        (r#"{"a":[]}"#, format!("a.{too_far}"), 2),
        ("{}", format!("a.{too_far}.b"), 2),
        ("{}", format!("a.b.{too_far}"), 3),
        ("{}", "a.99999999999999999999999999".to_owned(), 2),
    ];
    for (doc, path, segment) in cases {
        let key = path.split('.').nth(segment - 1).unwrap().to_owned();
        let expected = PathError::IndexTooLarge {
            path: path.clone(),
            segment,
            key,
            max: MAX_PAD_INDEX,
        };
        assert_eq!(err_of(doc, &path), expected, "{path}");
    }
    // the limit itself is allowed, and replacing an existing element is never limited
    let mut doc = Value::Null;
    set(&mut doc, &format!("a.{MAX_PAD_INDEX}"), Value::Bool(true)).unwrap();
    assert_eq!(doc["a"].as_array().unwrap().len(), MAX_PAD_INDEX + 1);
    assert_eq!(doc["a"][MAX_PAD_INDEX], Value::Bool(true));
    assert_eq!(doc["a"][MAX_PAD_INDEX - 1], Value::Null);
}

#[test]
fn long_paths_are_refused() {
    let longest = vec!["a"; MAX_PATH_PARTS].join(".");
    let mut doc = Value::Null;
    set(&mut doc, &longest, Value::Bool(true)).unwrap();
    assert_eq!(parse_set_path(&longest).unwrap().len(), MAX_PATH_PARTS);
    let too_long = format!("{longest}.a");
    let expected = PathError::PathTooLong {
        parts: MAX_PATH_PARTS + 1,
        max: MAX_PATH_PARTS,
    };
    assert_eq!(err_of("{}", &too_long), expected);
    assert_eq!(delete(&mut doc, &too_long), Err(expected));
}

#[test]
fn error_messages_are_actionable() {
    let cases = [
        (
            err_of(r#"{"a":[1]}"#, "a.b"),
            "path `a.b`: segment 2 (`b`) is not an array index, but the value there is an array; use a number, or -1 to append",
        ),
        (
            err_of("{}", "a..b"),
            r"path `a..b`: segment 2 is empty; remove the extra `.` (write `\.` for a literal dot in a key)",
        ),
        (
            err_of("{}", "a.#.b"),
            r"path `a.#.b`: segment 2 (`#`) contains `#`, which only GJSON queries use; a write path takes plain keys and indexes: escape it as `\#` if it is part of the key",
        ),
    ];
    for (err, message) in cases {
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn parsing_dest_paths() {
    let seg = |key: &str, force_key: bool| Segment {
        key: key.to_owned(),
        force_key,
    };
    let cases = [
        (
            "spec.arguments.parameters.0.value",
            vec![
                seg("spec", false),
                seg("arguments", false),
                seg("parameters", false),
                seg("0", false),
                seg("value", false),
            ],
        ),
        (r"fav\.movie", vec![seg("fav.movie", false)]),
        (
            "users.:2313.name",
            vec![seg("users", false), seg("2313", true), seg("name", false)],
        ),
        (r"\:2313", vec![seg(":2313", false)]),
        ("::x", vec![seg(":x", true)]),
        ("a:b", vec![seg("a:b", false)]),
        ("-1", vec![seg("-1", false)]),
        (r"a\\.b", vec![seg(r"a\", false), seg("b", false)]),
        ("é.ü", vec![seg("é", false), seg("ü", false)]),
    ];
    for (path, expected) in cases {
        assert_eq!(parse_set_path(path).unwrap(), expected, "{path}");
    }
}

/// `(document, path, expected document, expected removed value)`.
#[test]
fn deleting() {
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        // README
        (
            r#"{"name":{"first":"Sara","last":"Anderson"}}"#,
            "name.first",
            r#"{"name":{"last":"Anderson"}}"#,
            Some(r#""Sara""#),
        ),
        (
            r#"{"friends":["Andy","Carol"]}"#,
            "friends.1",
            r#"{"friends":["Andy"]}"#,
            Some(r#""Carol""#),
        ),
        (
            r#"{"friends":["Andy","Carol"]}"#,
            "friends.-1",
            r#"{"friends":["Andy"]}"#,
            Some(r#""Carol""#),
        ),
        // sjson_test.go TestDelete
        ("[123,456]", "0", "[456]", Some("123")),
        ("[123,456,789]", "1", "[123,789]", Some("456")),
        ("[123,456,789]", "-1", "[123,456]", Some("789")),
        (
            r#"{"a":[123,456,789]}"#,
            "a.-1",
            r#"{"a":[123,456]}"#,
            Some("789"),
        ),
        (
            r#"{"this":"that","and":"another"}"#,
            "this",
            r#"{"and":"another"}"#,
            Some(r#""that""#),
        ),
        (
            r#"{"this":"that","and":"another"}"#,
            "and",
            r#"{"this":"that"}"#,
            Some(r#""another""#),
        ),
        (r#"{"and":"another"}"#, "and", "{}", Some(r#""another""#)),
        (r#"{"1":"2"}"#, "3", r#"{"1":"2"}"#, None),
        (
            r#"{"data":{"key1":"value1","key2.something":"value2"}}"#,
            r"data.key2\.something",
            r#"{"data":{"key1":"value1"}}"#,
            Some(r#""value2""#),
        ),
        // -1 names the last element at any depth; on an object it is a key
        (
            r#"{"a":[{"b":1},{"b":2}]}"#,
            "a.-1.b",
            r#"{"a":[{"b":1},{}]}"#,
            Some("2"),
        ),
        (r#"{"-1":1,"x":2}"#, "-1", r#"{"x":2}"#, Some("1")),
        (r#"{"a":[]}"#, "a.-1", r#"{"a":[]}"#, None),
        // nothing there: unchanged
        (r#"{"a":[1]}"#, "a.5", r#"{"a":[1]}"#, None),
        (r#"{"a":1}"#, "a.b", r#"{"a":1}"#, None),
        (r#"{"a":1}"#, "x.y.z", r#"{"a":1}"#, None),
        (r#"{"a":[1,2]}"#, "a.:0", r#"{"a":[2]}"#, Some("1")),
    ];
    let mut failures = Vec::new();
    for (doc, path, expected, removed) in cases {
        let mut doc: Value = serde_json::from_str(doc).unwrap();
        let removed: Option<Value> = removed.map(|r| serde_json::from_str(r).unwrap());
        match delete(&mut doc, path) {
            Ok(got) if doc.to_string().as_str() == *expected && got == removed => {}
            Ok(got) => failures.push(format!(
                "{path:?}: expected {expected} {removed:?}, got {doc} {got:?}"
            )),
            Err(e) => failures.push(format!("{path:?}: error {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let mut doc = Value::Null;
    assert_eq!(
        delete(&mut doc, "a.*"),
        Err(PathError::QueryCharacter {
            path: "a.*".to_owned(),
            segment: 2,
            key: "*".to_owned(),
            character: '*',
        })
    );
}

/// Found by the `sjson_write` fuzz target (`fuzz/`): a `dest` naming `serde_json`'s reserved key wrote a document
/// that could not be read back as JSON, so the resolved trigger resource could not be stored. The input is the
/// fuzzer's, as it found it: `knobs \0 document \0 dest \0 value`.
#[test]
fn the_key_serde_json_reserves_is_refused() {
    let input = include_bytes!("fuzz/sjson-reserved-key.bin");
    let mut parts = input.splitn(4, |&b| b == 0).skip(1);
    let mut part = || std::str::from_utf8(parts.next().unwrap()).unwrap();
    let (document, dest, value) = (part(), part(), part());
    assert_eq!(dest, "spec.$serde_json::private::RawValue");

    let mut doc: Value = serde_json::from_str(document).unwrap();
    let before = doc.clone();
    let err = set(&mut doc, dest, Value::String(value.to_owned())).unwrap_err();
    assert_eq!(
        err,
        PathError::ReservedKey {
            path: dest.to_owned(),
            segment: 2,
            key: RESERVED_KEY.to_owned(),
        }
    );
    assert_eq!(doc, before);
    assert_eq!(
        err.to_string(),
        "path `spec.$serde_json::private::RawValue`: segment 2 is `$serde_json::private::RawValue`, a key reserved \
         by the JSON library: a document holding it cannot be read back; use another key"
    );
    // Forced keys and escapes name the same key; `parse_set_path` (manifest validation) refuses them too.
    for dest in [
        "a.:$serde_json::private::RawValue",
        r"$serde_json::private::Raw\Value.b",
    ] {
        assert!(
            matches!(parse_set_path(dest), Err(PathError::ReservedKey { .. })),
            "{dest}"
        );
    }
    // Any other key that merely looks like it is written.
    let mut doc = Value::Null;
    set(
        &mut doc,
        "$serde_json::private::RawValues",
        Value::Bool(true),
    )
    .unwrap();
}

/// Each index was under the limit, but the arrays one write created were padded with up to 128 × 100,000 `null`s:
/// a 900-byte `dest` took 2 GiB in the `sjson_write` fuzz target (reported as out-of-memory at `-rss_limit_mb=2048`)
/// and about 1 GiB in a release build.
#[test]
fn padding_is_capped_in_all_for_one_write() {
    let max = MAX_PAD_INDEX.to_string();
    let dest = vec![max.as_str(); MAX_PATH_PARTS].join(".");
    let mut doc = Value::Null;
    let err = set(&mut doc, &dest, Value::String("x".into())).unwrap_err();
    // The first segment pads the array that replaces `null` (each index is capped on its own); the arrays built
    // below it share the limit.
    assert_eq!(
        err,
        PathError::PaddingTooLarge {
            path: dest.clone(),
            segment: 3,
            key: max.clone(),
            max: MAX_PAD_INDEX,
        }
    );
    assert_eq!(doc, Value::Null);
    assert!(
        err.to_string().ends_with(&format!(
            "segment 3 (`{max}`), would be padded with more than {MAX_PAD_INDEX} nulls in all; use smaller \
             indexes, or -1 to append"
        )),
        "{err}"
    );
    // Up to the limit in all is written, however it is split.
    let half = (MAX_PAD_INDEX / 2).to_string();
    let mut doc = Value::Null;
    set(&mut doc, &format!("a.{half}.{half}"), Value::Bool(true)).unwrap();
    assert_eq!(
        doc["a"][MAX_PAD_INDEX / 2][MAX_PAD_INDEX / 2],
        Value::Bool(true)
    );
}
