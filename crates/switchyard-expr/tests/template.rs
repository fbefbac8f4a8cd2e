//! `{{...}}` substitution: simple tags, expression tags, modes, the single-pass rule.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::json;
use switchyard_expr::template::{self, Tag, TagKind, expand};
use switchyard_expr::{Error, Mode, Var, substitute, substitute_at, substitute_with_env};

fn vars() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("inputs.parameters.message", "hello world"),
        ("inputs.parameters.n", "4"),
        ("inputs.parameters.should-print", "true"),
        ("inputs.parameters.s", "  padded  "),
        ("inputs.parameters.evil", "{{workflow.name}}"),
        (
            "inputs.parameters.json",
            r#"[{"value":"true"},{"value":"false"}]"#,
        ),
        ("workflow.name", "wf-1"),
        ("item", "x"),
        ("steps.flip.outputs.result", "heads"),
    ])
}

fn lookup(name: &str) -> Option<String> {
    vars().get(name).map(|v| v.to_string())
}

#[test]
fn substitutes_in_every_mode() {
    let strict = Mode::Strict;
    let lenient = Mode::Lenient;
    let inputs_only = Mode::StrictPrefixes(vec!["inputs".to_string()]);
    let cases: Vec<(&str, &Mode, Result<&str, &str>)> = vec![
        (
            "echo {{inputs.parameters.message}}",
            &strict,
            Ok("echo hello world"),
        ),
        (
            "{{ inputs.parameters.message }}!",
            &strict,
            Ok("hello world!"),
        ),
        ("no tags at all", &strict, Ok("no tags at all")),
        ("{{item}}-{{item}}", &strict, Ok("x-x")),
        ("a {{b}}} c", &lenient, Ok("a {{b}}} c")),
        ("{{item}}}", &strict, Ok("x}")),
        // `{{ {{x}}`: the outer braces are literal, the inner tag resolves.
        ("{{ {{item}}", &strict, Ok("{{ x")),
        // Unresolved tags: listed in strict mode, left in lenient mode.
        (
            "{{inputs.parameters.nope}} and {{ other }} and {{ other }}",
            &strict,
            Err("failed to resolve {{inputs.parameters.nope}}, {{ other }}"),
        ),
        (
            "{{item}} {{tasks.a.outputs.result}}",
            &lenient,
            Ok("x {{tasks.a.outputs.result}}"),
        ),
        // Strict prefixes: only `inputs...` must resolve; artifacts may stay.
        (
            "{{inputs.parameters.nope}}",
            &inputs_only,
            Err("failed to resolve {{inputs.parameters.nope}}"),
        ),
        (
            "{{inputsx}} {{pod.name}}",
            &inputs_only,
            Ok("{{inputsx}} {{pod.name}}"),
        ),
        (
            "{{inputs.outputs.artifacts.a}}",
            &inputs_only,
            Ok("{{inputs.outputs.artifacts.a}}"),
        ),
        // `{{ =x }}` is a simple tag named `=x`, as in Argo.
        ("{{ =1 }}", &strict, Err("failed to resolve {{ =1 }}")),
        // An unterminated tag.
        (
            "a {{b",
            &strict,
            Err("cannot find end tag \"}}\" for the tag starting at character 3"),
        ),
        ("a {{b", &lenient, Ok("a {{b")),
        ("é{{item}} {{b", &lenient, Ok("éx {{b")),
    ];
    for (text, mode, want) in cases {
        let got = substitute(text, &lookup, mode).map_err(|e| e.to_string());
        assert_eq!(
            got,
            want.map(str::to_string).map_err(str::to_string),
            "{text:?} {mode:?}"
        );
    }
}

#[test]
fn substituted_text_is_never_scanned_again() {
    // A parameter whose value looks like a tag stays literal.
    let got = substitute("{{inputs.parameters.evil}}", &lookup, &Mode::Strict).unwrap();
    assert_eq!(got, "{{workflow.name}}");
    // Also when the value and the rest of the text would form a tag together.
    let split = |name: &str| match name {
        "open" => Some("{{".to_string()),
        "close" => Some("}}".to_string()),
        _ => lookup(name),
    };
    let got = substitute("{{open}}workflow.name{{close}}", &split, &Mode::Strict).unwrap();
    assert_eq!(got, "{{workflow.name}}");
    // Expression results are not scanned either.
    let got = substitute(
        "{{= '{' + '{workflow.name}' + '}' }}",
        &lookup,
        &Mode::Strict,
    )
    .unwrap();
    assert_eq!(got, "{{workflow.name}}");
    // A tag ends at the first `}}`, even inside quotes (as in Argo), so this is the literal
    // `{{= '` followed by the tag `{{workflow.name}}`.
    let got = substitute("{{= '{{workflow.name}}' }}", &lookup, &Mode::Strict).unwrap();
    assert_eq!(got, "{{= 'wf-1' }}");
    let got = substitute(
        "{{= inputs.parameters.evil + '!' }}",
        &lookup,
        &Mode::Strict,
    )
    .unwrap();
    assert_eq!(got, "{{workflow.name}}!");
}

#[test]
fn expression_tags() {
    let strict = Mode::Strict;
    let lenient = Mode::Lenient;
    let cases: Vec<(&str, &Mode, Result<&str, &str>)> = vec![
        ("{{= 1 + 2 }}", &strict, Ok("3")),
        ("{{=1.5 * 2}}", &strict, Ok("3")),
        ("{{= 7 / 2 }}", &strict, Ok("3.5")),
        ("{{= 1 == 1 }}", &strict, Ok("true")),
        (
            "hello {{=asInt(inputs.parameters.n) * 10}} @ {{workflow.name}}",
            &strict,
            Ok("hello 40 @ wf-1"),
        ),
        (
            "{{= inputs.parameters[\"should-print\"] == 'true'}}",
            &strict,
            Ok("true"),
        ),
        (
            "{{= inputs.parameters['should-print'] }}",
            &strict,
            Ok("true"),
        ),
        (
            "[{{= sprig.trim(inputs.parameters.s) }}]",
            &strict,
            Ok("[padded]"),
        ),
        ("{{=toJson(filter([1, 3], {# > 1}))}}", &strict, Ok("[3]")),
        ("{{= [1, 'a', nil] }}", &strict, Ok(r#"[1,"a",null]"#)),
        (
            "{{= {b: 1, a: '<x>'} }}",
            &strict,
            Ok(r#"{"a":"\u003cx\u003e","b":1}"#),
        ),
        ("{{=item}}", &strict, Ok("x")),
        (
            "{{=jsonpath(inputs.parameters.json, '$[0].value') == 'true'}}",
            &strict,
            Ok("true"),
        ),
        ("{{= steps.flip.outputs.result }}", &strict, Ok("heads")),
        // `??` and `?.` make a missing value optional.
        (
            "{{= steps.producer.outputs.parameters.msg ?? 'fallback' }}",
            &strict,
            Ok("fallback"),
        ),
        (
            "{{= steps.flip.outputs.result ?? 'fallback' }}",
            &strict,
            Ok("heads"),
        ),
        // Missing variables: an error in strict mode, the tag stays in lenient mode.
        (
            "{{= inputs.parameters.nope }}",
            &strict,
            Err("failed to evaluate expression: inputs.parameters.nope is missing"),
        ),
        (
            "{{= tasks.a.outputs.result }}",
            &strict,
            Err("failed to evaluate expression: tasks.a.outputs.result is missing"),
        ),
        (
            "a {{= tasks.a.outputs.result }} b",
            &lenient,
            Ok("a {{= tasks.a.outputs.result }} b"),
        ),
        // A nil result.
        (
            "{{= nil }}",
            &strict,
            Err("failed to evaluate expression \" nil \": the result is nil"),
        ),
        ("{{= nil }}", &lenient, Ok("{{= nil }}")),
        // Evaluation errors.
        (
            "{{= 1 + }}",
            &strict,
            Err(
                "failed to evaluate expression ' 1 + ': syntax error at 1:6: expected conditional_if, negation_op, sign_op, value, array, map, or ident",
            ),
        ),
        ("{{= 1 + }}", &lenient, Ok("{{= 1 + }}")),
        // Refused functions fail in every mode.
        (
            "{{= sprig.env('HOME') }}",
            &lenient,
            Err("'sprig.env' is not allowed: it would read the server's environment variables"),
        ),
        (
            "{{= env('HOME') }}",
            &lenient,
            Err("'env' is not allowed: it would read the server's environment variables"),
        ),
    ];
    for (text, mode, want) in cases {
        let got = substitute(text, &lookup, mode).map_err(|e| e.to_string());
        assert_eq!(
            got,
            want.map(str::to_string).map_err(str::to_string),
            "{text:?} {mode:?}"
        );
    }
}

#[test]
fn expression_tags_with_an_explicit_env() {
    let flat: BTreeMap<String, serde_json::Value> = vars()
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .chain([("tasks.skipped.outputs.result".to_string(), json!(null))])
        .collect();
    let env = expand(&flat);
    let cases: Vec<(&str, Result<&str, &str>)> = vec![
        ("{{= inputs.parameters.message }}", Ok("hello world")),
        ("{{= len(inputs.parameters) }}", Ok("6")),
        // A declared-but-absent output is nil, so `??` fires.
        ("{{= tasks.skipped.outputs.result ?? 'd' }}", Ok("d")),
        (
            "{{= tasks.skipped.outputs.result }}",
            Err(
                "failed to evaluate expression \" tasks.skipped.outputs.result \": the result is nil",
            ),
        ),
        (
            "{{= inputs.parameters.nope }}",
            Err("failed to evaluate expression: inputs.parameters.nope is missing"),
        ),
    ];
    for (text, want) in cases {
        let got =
            substitute_with_env(text, &lookup, &env, &Mode::Strict).map_err(|e| e.to_string());
        assert_eq!(
            got,
            want.map(str::to_string).map_err(str::to_string),
            "{text:?}"
        );
    }
}

#[test]
fn expand_nests_dotted_names_and_prefers_children() {
    let flat: BTreeMap<String, serde_json::Value> = [
        ("a.b", json!(1)),
        ("a.c.d", json!(2)),
        ("a", json!(3)),
        ("ab", json!(4)),
        ("a-b", json!(5)),
        ("x", json!("y")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(
        expand(&flat),
        json!({"a": {"b": 1, "c": {"d": 2}}, "ab": 4, "a-b": 5, "x": "y"})
    );
}

#[test]
fn tags_are_listed_with_positions() {
    let (tags, unterminated) = template::tags("é {{ a }} {{=b}} {{ {{c}} {{d");
    assert_eq!(
        tags,
        vec![
            Tag {
                raw: " a ".to_string(),
                kind: TagKind::Simple("a".to_string()),
                position: 3,
                span: 3..10,
            },
            Tag {
                raw: "=b".to_string(),
                kind: TagKind::Expression("b".to_string()),
                position: 11,
                span: 11..17,
            },
            Tag {
                raw: "c".to_string(),
                kind: TagKind::Simple("c".to_string()),
                position: 21,
                span: 21..26,
            },
        ]
    );
    assert_eq!(unterminated, Some(27));
}

#[test]
fn output_is_capped() {
    let big = "x".repeat(1 << 20);
    let lookup = |_: &str| Some(big.clone());
    let text = "{{a}}".repeat(17);
    assert_eq!(
        substitute(&text, &lookup, &Mode::Strict),
        Err(Error::TooLong {
            what: "substituted text",
            length: 17 << 20,
            max: template::MAX_OUTPUT_BYTES,
        })
    );
}

#[test]
fn absent_optionals_are_nil_to_expressions_and_errors_to_simple_tags() {
    let lookup = |name: &str| match name {
        "tasks.producer.outputs.parameters.msg" => Some(Var::Absent),
        "tasks.producer.status" => Some(Var::Text("Skipped".to_string())),
        _ => None,
    };
    let absent = Error::AbsentOptional {
        name: "tasks.producer.outputs.parameters.msg".to_string(),
    };
    for mode in [Mode::Strict, Mode::Lenient] {
        assert_eq!(
            substitute_at(
                "{{=tasks.producer.outputs.parameters.msg ?? 'fallback'}} after {{tasks.producer.status}}",
                &lookup,
                &mode,
                None
            ),
            Ok("fallback after Skipped".to_string()),
            "{mode:?}"
        );
        assert_eq!(
            substitute_at(
                "got {{ tasks.producer.outputs.parameters.msg }}",
                &lookup,
                &mode,
                None
            ),
            Err(absent.clone()),
            "{mode:?}"
        );
    }
    assert_eq!(
        absent.to_string(),
        "unable to substitute {{tasks.producer.outputs.parameters.msg}}: output is an absent optional (skipped/omitted node with no default); give the output a `valueFrom.default`, the input a `default`, or read it in an expression tag with `??`"
    );
    // Read without `??`, the expression is nil: an error where tags must resolve.
    assert_eq!(
        substitute_at(
            "{{=tasks.producer.outputs.parameters.msg}}",
            &lookup,
            &Mode::Strict,
            None
        ),
        Err(Error::NilResult {
            expression: "tasks.producer.outputs.parameters.msg".to_string()
        })
    );
}

#[test]
fn expression_tags_format_dates_with_the_given_time() {
    let now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2030, 2, 3, 4, 5, 6).unwrap();
    let lookup = |name: &str| {
        (name == "workflow.creationTimestamp")
            .then(|| Var::Text("2021-05-06T07:08:09Z".to_string()))
    };
    let text = "@ {{=sprig.date('2006', workflow.creationTimestamp)}}";
    assert_eq!(
        substitute_at(text, &lookup, &Mode::Strict, Some(now)),
        Ok("@ 2030".to_string())
    );
    assert!(matches!(
        substitute_at(text, &lookup, &Mode::Lenient, None),
        Err(Error::NotAllowed { .. })
    ));
}
