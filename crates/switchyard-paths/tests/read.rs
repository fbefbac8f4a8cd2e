//! GJSON reads: a table of paths with the answers GJSON's SYNTAX.md documents, plus Argo's event shape and the
//! string/number conversions Argo takes from Go's `gjson.Result`.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use switchyard_paths::{
    Found, JsonKind, MAX_JSON_DEPTH, MAX_PATH_PARTS, PathError, check_get_path, get, is_valid_json,
};

/// The example document of GJSON's SYNTAX.md.
const SYNTAX_DOC: &str = r#"{
  "name": {"first": "Tom", "last": "Anderson"},
  "age":37,
  "children": ["Sara","Alex","Jack"],
  "fav.movie": "Deer Hunter",
  "friends": [
    {"first": "Dale", "last": "Murphy", "age": 44, "nets": ["ig", "fb", "tw"]},
    {"first": "Roger", "last": "Craig", "age": 68, "nets": ["fb", "tw"]},
    {"first": "Jane", "last": "Murphy", "age": 47, "nets": ["ig", "tw"]}
  ]
}"#;

const DALE: &str = r#"{"first": "Dale", "last": "Murphy", "age": 44, "nets": ["ig", "fb", "tw"]}"#;
const ROGER: &str = r#"{"first": "Roger", "last": "Craig", "age": 68, "nets": ["fb", "tw"]}"#;

use JsonKind::{Array, Bool, Null, Number, Object, String as Str};

/// Checks each `(path, expected kind and raw JSON, or None)` against `doc`.
/// What a path should find: its kind and raw JSON, or nothing.
type Expected<'a> = Option<(JsonKind, &'a str)>;

fn check(doc: &str, cases: &[(&str, Expected<'_>)]) {
    let mut failures = Vec::new();
    for (path, expected) in cases {
        let got = get(doc, path).map(|f| (f.kind(), f.raw().to_owned()));
        let expected = expected.map(|(k, raw)| (k, raw.to_owned()));
        if got != expected {
            failures.push(format!("path {path:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn syntax_doc_basic_wildcards_escapes() {
    check(
        SYNTAX_DOC,
        &[
            ("name.last", Some((Str, r#""Anderson""#))),
            ("name.first", Some((Str, r#""Tom""#))),
            ("age", Some((Number, "37"))),
            ("children", Some((Array, r#"["Sara","Alex","Jack"]"#))),
            ("children.0", Some((Str, r#""Sara""#))),
            ("children.1", Some((Str, r#""Alex""#))),
            ("friends.1", Some((Object, ROGER))),
            ("friends.1.first", Some((Str, r#""Roger""#))),
            ("child*.2", Some((Str, r#""Jack""#))),
            ("c?ildren.0", Some((Str, r#""Sara""#))),
            (r"fav\.movie", Some((Str, r#""Deer Hunter""#))),
            // without the escape, `fav` does not exist
            ("fav.movie", None),
            (
                "name",
                Some((Object, r#"{"first": "Tom", "last": "Anderson"}"#)),
            ),
        ],
    );
}

#[test]
fn syntax_doc_arrays_and_queries() {
    check(
        SYNTAX_DOC,
        &[
            ("friends.#", Some((Number, "3"))),
            ("friends.#.age", Some((Array, "[44,68,47]"))),
            (
                "friends.#.first",
                Some((Array, r#"["Dale","Roger","Jane"]"#)),
            ),
            (
                r#"friends.#(last=="Murphy").first"#,
                Some((Str, r#""Dale""#)),
            ),
            (
                r#"friends.#(last=="Murphy")#.first"#,
                Some((Array, r#"["Dale","Jane"]"#)),
            ),
            (
                "friends.#(age>45)#.last",
                Some((Array, r#"["Craig","Murphy"]"#)),
            ),
            (
                "friends.#(age>=47)#.first",
                Some((Array, r#"["Roger","Jane"]"#)),
            ),
            ("friends.#(age<45).first", Some((Str, r#""Dale""#))),
            (
                "friends.#(age!=44)#.first",
                Some((Array, r#"["Roger","Jane"]"#)),
            ),
            (r#"friends.#(first%"D*").last"#, Some((Str, r#""Murphy""#))),
            (r#"friends.#(first!%"D*").last"#, Some((Str, r#""Craig""#))),
            (r#"children.#(!%"*a*")"#, Some((Str, r#""Alex""#))),
            (
                r#"children.#(%"*a*")#"#,
                Some((Array, r#"["Sara","Jack"]"#)),
            ),
            (
                r#"friends.#(nets.#(=="fb"))#.first"#,
                Some((Array, r#"["Dale","Roger"]"#)),
            ),
            // no match: `#(...)` finds nothing, `#(...)#` finds an empty array
            (r#"friends.#(last=="Nobody").first"#, None),
            (r#"friends.#(last=="Nobody")#"#, Some((Array, "[]"))),
        ],
    );
}

#[test]
fn syntax_doc_dot_vs_pipe() {
    let murphys = format!(
        "[{DALE},{}]",
        r#"{"first": "Jane", "last": "Murphy", "age": 47, "nets": ["ig", "tw"]}"#
    );
    check(
        SYNTAX_DOC,
        &[
            ("friends.0.first", Some((Str, r#""Dale""#))),
            ("friends|0.first", Some((Str, r#""Dale""#))),
            ("friends.0|first", Some((Str, r#""Dale""#))),
            ("friends|0|first", Some((Str, r#""Dale""#))),
            ("friends|#", Some((Number, "3"))),
            (r#"friends.#(last="Murphy")#"#, Some((Array, &murphys))),
            (
                r#"friends.#(last="Murphy")#.first"#,
                Some((Array, r#"["Dale","Jane"]"#)),
            ),
            (r#"friends.#(last="Murphy")#|first"#, None),
            (r#"friends.#(last="Murphy")#.0"#, Some((Array, "[]"))),
            (r#"friends.#(last="Murphy")#|0"#, Some((Object, DALE))),
            (r#"friends.#(last="Murphy")#.#"#, Some((Array, "[]"))),
            (r#"friends.#(last="Murphy")#|#"#, Some((Number, "2"))),
        ],
    );
}

#[test]
fn syntax_doc_modifiers() {
    check(
        SYNTAX_DOC,
        &[
            (
                "children.@reverse",
                Some((Array, r#"["Jack","Alex","Sara"]"#)),
            ),
            ("children.@reverse.0", Some((Str, r#""Jack""#))),
            (
                "name.@this",
                Some((Object, r#"{"first": "Tom", "last": "Anderson"}"#)),
            ),
            ("@this.age", Some((Number, "37"))),
            (
                "name.@ugly",
                Some((Object, r#"{"first":"Tom","last":"Anderson"}"#)),
            ),
            (
                "name.@pretty",
                Some((
                    Object,
                    "{\n  \"first\": \"Tom\",\n  \"last\": \"Anderson\"\n}\n",
                )),
            ),
            (
                r#"friends.1.@pretty:{"sortKeys":true}"#,
                Some((
                    Object,
                    "{\n  \"age\": 68,\n  \"first\": \"Roger\",\n  \"last\": \"Craig\",\n  \"nets\": [\"fb\", \"tw\"]\n}\n",
                )),
            ),
            // after `#`, a `.` applies the rest to each element, a `|` to the result (SYNTAX.md, "Dot vs Pipe")
            // @flatten splices each inner array's text, spaces and all (Go's `modFlatten` does the same)
            (
                "friends.#.nets|@flatten",
                Some((Array, r#"["ig", "fb", "tw","fb", "tw","ig", "tw"]"#)),
            ),
            (
                "friends.#.nets.@flatten",
                Some((Array, r#"[["ig","fb","tw"],["fb","tw"],["ig","tw"]]"#)),
            ),
            ("friends.#.age|@reverse", Some((Array, "[47,68,44]"))),
            ("name.@valid.first", Some((Str, r#""Tom""#))),
            ("name.@nosuchmodifier", None),
        ],
    );
}

#[test]
fn syntax_doc_multipaths() {
    check(
        SYNTAX_DOC,
        &[
            (
                "{name.first,age}",
                Some((Object, r#"{"first":"Tom","age":37}"#)),
            ),
            // an unquoted key names a member
            (
                r#"{name.first,age,murphys:friends.#(last="Murphy")#.first}"#,
                Some((
                    Object,
                    r#"{"first":"Tom","age":37,"murphys":["Dale","Jane"]}"#,
                )),
            ),
            ("[name.first,age]", Some((Array, r#"["Tom",37]"#))),
            ("[name.first,nope]", Some((Array, r#"["Tom"]"#))),
        ],
    );
}

/// The Rust port (gjson 0.8.1) differs from Go's GJSON, whose answers SYNTAX.md documents, on these paths. The
/// tests pin what the port does, so that an upgrade that changes it is noticed; `documented` is Go's answer.
#[test]
fn known_differences_from_go_gjson() {
    const VALS: &str = r#"{"vals":[{"a":1,"b":"data"},{"a":2,"b":true},{"a":3,"b":false},{"a":4,"b":"0"},
{"a":5,"b":0},{"a":6,"b":"1"},{"a":7,"b":1},{"a":8,"b":"true"},{"a":9,"b":false},{"a":10,"b":null},{"a":11}]}"#;
    // (doc, path, documented, what the port gives)
    let cases: &[(&str, &str, &str, Expected<'_>)] = &[
        // a quoted multipath key keeps its quotes
        (
            SYNTAX_DOC,
            r#"{name.first,"the_murphys":friends.#(last="Murphy")#.first}"#,
            r#"{"first":"Tom","the_murphys":["Dale","Jane"]}"#,
            Some((
                Object,
                r#"{"first":"Tom","\"the_murphys\"":["Dale","Jane"]}"#,
            )),
        ),
        // JSON literals (`!`) are dropped
        (
            SYNTAX_DOC,
            r#"{name.first,"company":!"Happysoft","employed":!true}"#,
            r#"{"first":"Tom","company":"Happysoft","employed":true}"#,
            Some((Object, r#"{"first":"Tom"}"#)),
        ),
        // tilde comparisons: `~true` agrees, the others do not
        (
            VALS,
            "vals.#(b==~true)#.a",
            "[2,6,7,8]",
            Some((Array, "[2,6,7,8]")),
        ),
        (
            VALS,
            "vals.#(b==~false)#.a",
            "[3,4,5,9,10,11]",
            Some((Array, "[1,3,4,5,9,10,11]")),
        ),
        (VALS, "vals.#(b==~null)#.a", "[10,11]", Some((Array, "[]"))),
        (
            VALS,
            "vals.#(b==~*)#.a",
            "[1,2,3,4,5,6,7,8,9,10]",
            Some((Array, "[]")),
        ),
        (
            VALS,
            "vals.#(b!=~*)#.a",
            "[11]",
            Some((Array, "[1,2,3,4,5,6,7,8,9,10,11]")),
        ),
        // modifiers the port lacks give nothing
        (SYNTAX_DOC, "name|@keys", r#"["first","last"]"#, None),
        (SYNTAX_DOC, "name|@values", r#"["Tom","Anderson"]"#, None),
        (SYNTAX_DOC, "name.first|@tostr", r#""\"Tom\"""#, None),
        (
            SYNTAX_DOC,
            "@dig:first",
            r#"["Tom","Dale","Roger","Jane"]"#,
            None,
        ),
    ];
    let mut failures = Vec::new();
    for (doc, path, documented, port) in cases {
        let got = get(doc, path).map(|f| (f.kind(), f.raw().to_owned()));
        let port = port.map(|(k, raw)| (k, raw.to_owned()));
        if got != port {
            failures.push(format!(
                "path {path:?}: the port gave {port:?} (Go documents {documented}), now {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_paths_are_none() {
    check(
        SYNTAX_DOC,
        &[
            ("nope", None),
            ("name.middle", None),
            ("name.first.x", None),
            ("children.3", None),
            ("children.-1", None),
            ("friends.9.first", None),
            ("age.0", None),
            ("", None),
        ],
    );
    // a scalar document has no children
    check("42", &[("a", None), ("0", None)]);
    check("", &[("a", None)]);
}

/// A webhook event's data as Argo Events builds it: `{"header": {...}, "body": ...}`; header values are lists.
const EVENT: &str = r#"{"header":{"Content-Type":["application/json"],"X-Request-Id":["abc-123","def-456"]},
"body":{"region":"us-east-1","count":2,"neg":-7,"ratio":1.50,"big":1e3,"ok":true,"off":false,"none":null,
"tags":["a","b"],"nested":{"k": "v"},"esc":"line\nnext \"q\" \u00e9","dotted.key":"d","huge":123456789012345678901234567890}}"#;

#[test]
fn argo_event_shape() {
    check(
        EVENT,
        &[
            ("body.region", Some((Str, r#""us-east-1""#))),
            ("header.X-Request-Id.0", Some((Str, r#""abc-123""#))),
            ("header.X-Request-Id.1", Some((Str, r#""def-456""#))),
            ("header.X-Request-Id.#", Some((Number, "2"))),
            (
                "header.Content-Type.0",
                Some((Str, r#""application/json""#)),
            ),
            ("body.count", Some((Number, "2"))),
            ("body.ok", Some((Bool, "true"))),
            ("body.none", Some((Null, "null"))),
            ("body.nested", Some((Object, r#"{"k": "v"}"#))),
            (r"body.dotted\.key", Some((Str, r#""d""#))),
            ("body.missing", None),
            ("header.X-Request-Id.2", None),
        ],
    );
}

/// `(path, argo_string, gjson_string, gjson_bool, gjson_float)` on [`EVENT`].
#[test]
fn argo_and_go_conversions() {
    let cases: &[(&str, &str, &str, bool, f64)] = &[
        ("body.region", "us-east-1", "us-east-1", false, 0.0),
        ("body.count", "2", "2", true, 2.0),
        ("body.neg", "-7", "-7", true, -7.0),
        // Go's Result.String() reformats non-integers: strconv.FormatFloat(f, 'f', -1, 64)
        ("body.ratio", "1.5", "1.5", true, 1.5),
        ("body.big", "1000", "1000", true, 1000.0),
        // an integer stays as written, however long
        (
            "body.huge",
            "123456789012345678901234567890",
            "123456789012345678901234567890",
            true,
            1.2345678901234568e29,
        ),
        ("body.ok", "true", "true", true, 1.0),
        ("body.off", "false", "false", false, 0.0),
        // Argo's getValueByKey returns raw `null`; Result.String() gives ""
        ("body.none", "null", "", false, 0.0),
        ("body.tags", r#"["a","b"]"#, r#"["a","b"]"#, false, 0.0),
        ("body.nested", r#"{"k": "v"}"#, r#"{"k": "v"}"#, false, 0.0),
        (
            "body.esc",
            "line\nnext \"q\" é",
            "line\nnext \"q\" é",
            false,
            0.0,
        ),
        ("header.X-Request-Id.0", "abc-123", "abc-123", false, 0.0),
    ];
    let mut failures = Vec::new();
    for &(path, argo, gjson, b, f) in cases {
        let Some(found) = get(EVENT, path) else {
            failures.push(format!("{path}: not found"));
            continue;
        };
        let got = (
            found.argo_string(),
            found.gjson_string(),
            found.gjson_bool(),
            found.gjson_float(),
        );
        if got != (argo.to_owned(), gjson.to_owned(), b, f) {
            failures.push(format!(
                "{path}: expected {:?}, got {got:?}",
                (argo, gjson, b, f)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Go's `Result.Bool()` and `Result.Float()` on strings (data filters of type bool and number).
#[test]
fn go_bool_and_float_of_strings() {
    let cases: &[(&str, bool, f64)] = &[
        (r#""true""#, true, 0.0),
        (r#""TRUE""#, true, 0.0),
        (r#""t""#, true, 0.0),
        (r#""1""#, true, 1.0),
        (r#""yes""#, false, 0.0),
        (r#""false""#, false, 0.0),
        (r#""0""#, false, 0.0),
        (r#""2.5""#, false, 2.5),
        (r#""-1e2""#, false, -100.0),
        (r#""""#, false, 0.0),
        ("0", false, 0.0),
        ("0.0", false, 0.0),
        ("-0.5", true, -0.5),
    ];
    for &(raw, b, f) in cases {
        let doc = format!(r#"{{"v":{raw}}}"#);
        let found = get(&doc, "v").unwrap();
        assert_eq!(
            (found.gjson_bool(), found.gjson_float()),
            (b, f),
            "value {raw}"
        );
    }
}

#[test]
fn typed_values_and_use_raw_data() {
    // (path, to_value, param_value(useRawData=false), param_value(useRawData=true))
    let cases = [
        (
            "body.region",
            json!("us-east-1"),
            json!("us-east-1"),
            json!("us-east-1"),
        ),
        ("body.count", json!(2), json!("2"), json!(2)),
        ("body.ratio", json!(1.5), json!("1.5"), json!(1.5)),
        ("body.ok", json!(true), json!("true"), json!(true)),
        ("body.none", json!(null), json!("null"), json!(null)),
        (
            "body.tags",
            json!(["a", "b"]),
            json!(r#"["a","b"]"#),
            json!(["a", "b"]),
        ),
        (
            "body.nested",
            json!({"k": "v"}),
            json!(r#"{"k": "v"}"#),
            json!({"k": "v"}),
        ),
        (
            "body.esc",
            json!("line\nnext \"q\" é"),
            json!("line\nnext \"q\" é"),
            json!("line\nnext \"q\" é"),
        ),
    ];
    for (path, value, as_string, raw) in cases {
        let found: Found = get(EVENT, path).unwrap();
        assert_eq!(found.to_value().unwrap(), value, "{path}: to_value");
        assert_eq!(
            found.param_value(false).unwrap(),
            as_string,
            "{path}: string"
        );
        assert_eq!(found.param_value(true).unwrap(), raw, "{path}: raw");
    }
    let esc = get(EVENT, "body.esc").unwrap();
    assert_eq!(esc.as_str(), Some("line\nnext \"q\" é"));
    assert_eq!(esc.raw(), r#""line\nnext \"q\" \u00e9""#);
    assert_eq!(get(EVENT, "body.count").unwrap().as_str(), None);
}

#[test]
fn validity() {
    assert!(is_valid_json(EVENT));
    assert!(is_valid_json(SYNTAX_DOC));
    assert!(is_valid_json("null"));
    assert!(!is_valid_json(r#"{"a":}"#));
    assert!(!is_valid_json(r#"{"a":1} x"#));
    assert!(!is_valid_json(""));
}

/// The stack guards: paths of more than MAX_PATH_PARTS parts and documents deeper than MAX_JSON_DEPTH read
/// nothing (the `gjson` crate recurses per path part and, when validating, per level).
#[test]
fn limits() {
    let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let at_limit = nested(MAX_JSON_DEPTH);
    assert!(is_valid_json(&at_limit));
    assert_eq!(get(&at_limit, "0.0.0").map(|f| f.kind()), Some(Array));
    assert_eq!(
        get(&at_limit, "@valid|#").map(|f| f.raw().to_owned()),
        Some("1".to_owned())
    );
    let too_deep = nested(MAX_JSON_DEPTH + 1);
    assert!(!is_valid_json(&too_deep));
    assert_eq!(get(&too_deep, "0"), None);
    // brackets inside strings do not count, escaped quotes do not end the string
    let in_string = format!(r#"{{"s":"\"{}","t":1}}"#, "[{".repeat(MAX_JSON_DEPTH));
    assert!(is_valid_json(&in_string));
    assert_eq!(
        get(&in_string, "t").map(|f| f.raw().to_owned()),
        Some("1".to_owned())
    );

    let doc = r#"{"a":{"a":1}}"#;
    let longest = vec!["a"; MAX_PATH_PARTS].join("|");
    assert_eq!(check_get_path(&longest), Ok(()));
    assert_eq!(get(doc, &longest), None);
    let too_long = vec!["a"; MAX_PATH_PARTS + 1].join(".");
    assert_eq!(
        check_get_path(&too_long),
        Err(PathError::PathTooLong {
            parts: MAX_PATH_PARTS + 1,
            max: MAX_PATH_PARTS
        })
    );
    assert_eq!(get(doc, &too_long), None);
    // every part-starting character counts
    let nested_queries = format!("a.{}", "#(".repeat(MAX_PATH_PARTS));
    assert_eq!(
        check_get_path(&nested_queries),
        Err(PathError::PathTooLong {
            parts: 2 + MAX_PATH_PARTS,
            max: MAX_PATH_PARTS
        })
    );
    assert!(check_get_path(&"{".repeat(MAX_PATH_PARTS)).is_err());
    assert!(check_get_path(&"@this".repeat(MAX_PATH_PARTS)).is_err());
    assert!(check_get_path(&"[a,".repeat(MAX_PATH_PARTS / 2)).is_ok());
}
