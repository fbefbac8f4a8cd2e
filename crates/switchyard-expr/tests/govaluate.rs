//! govaluate: the sensor form (parameters), Argo's `when` form, errors and caps.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use switchyard_expr::govaluate::{self, Expression, Value};
use switchyard_expr::{Error, Mode, substitute};

fn params(name: &str) -> Option<Value> {
    let v = match name {
        "a" => Value::from("b"),
        "c" => Value::from(10.0),
        "e" => Value::from(false),
        "n" => Value::from(3.0),
        "name" => Value::from("my-app"),
        "action" => Value::from("restart"),
        "bad-regex" => Value::from("("),
        "dash-name" => Value::from("x"),
        "nul" => Value::Null,
        "list" => Value::Array(vec![Value::from(1.0), Value::from(2.0)]),
        "obj" => Value::Object(BTreeMap::from([("k".to_string(), Value::from("v"))])),
        _ => return None,
    };
    Some(v)
}

fn s(text: &str) -> Value {
    Value::from(text)
}

fn num(n: f64) -> Value {
    Value::Number(n)
}

fn b(v: bool) -> Value {
    Value::Bool(v)
}

#[test]
fn evaluates_like_govaluate() {
    let cases: Vec<(&str, Value)> = vec![
        // The argo-events documentation's examples.
        (r#"a == "b" || c != 10"#, b(true)),
        ("e == false", b(true)),
        (r#"action =~ "start""#, b(true)),
        (r#"action =~ "start" || (e == true && n == 2)"#, b(true)),
        // Arithmetic and precedence (same-precedence chains run left to right).
        ("1 + 2 * 3", num(7.0)),
        ("(1 + 2) * 3", num(9.0)),
        ("10 - 4 - 3", num(3.0)),
        ("100 / 10 / 5", num(2.0)),
        ("2 ** 3 ** 2", num(64.0)),
        ("-2 ** 2", num(4.0)),
        ("7 % 4", num(3.0)),
        ("-7 % 4", num(-3.0)),
        ("-c", num(-10.0)),
        ("1 / 0", num(f64::INFINITY)),
        ("0x1F", num(31.0)),
        (".5 + 1.", num(1.5)),
        // Bitwise operators work on int64 and bind tighter than comparators.
        ("1 & 3", num(1.0)),
        ("1 | 2", num(3.0)),
        ("5 ^ 1", num(4.0)),
        ("1 << 4", num(16.0)),
        ("256 >> 4", num(16.0)),
        ("1 << 64", num(0.0)),
        ("~0", num(-1.0)),
        ("1 | 2 == 3", b(true)),
        // Comparisons: strings lexically, numbers numerically, never across types.
        ("'abc' < 'abd'", b(true)),
        ("'10' < '9'", b(true)),
        ("10 < 9", b(false)),
        ("c >= 10 && c <= 10", b(true)),
        ("'1' == 1", b(false)),
        ("a != 'b'", b(false)),
        ("obj == obj", b(true)),
        ("nul == nul", b(true)),
        // `+` concatenates as soon as one side is a string, printing numbers like Go.
        ("'a' + 1", s("a1")),
        ("1 + 'a'", s("1a")),
        ("'x' + 1.5", s("x1.5")),
        ("'n' + 1000000", s("n1e+06")),
        ("'t' + true", s("ttrue")),
        ("name + '-' + n", s("my-app-3")),
        // Logic, short circuits, ternaries, coalescing.
        ("true && false || true", b(true)),
        ("!e", b(true)),
        ("false && a", b(false)),
        ("true || a", b(true)),
        ("c > 5 ? 'big' : 'small'", s("big")),
        ("c > 50 ? 'big' : 'small'", s("small")),
        ("true ? 1", num(1.0)),
        ("false ? 1", Value::Null),
        ("nul ?? 'default'", s("default")),
        ("a ?? 'default'", s("b")),
        // `in` with lists built by `,`.
        ("name in ('my-app', 'other')", b(true)),
        ("c in (1, 10)", b(true)),
        ("'z' IN ('a', 'b')", b(false)),
        ("1 in list", b(true)),
        ("1, 2, 3", Value::Array(vec![num(1.0), num(2.0), num(3.0)])),
        // Bracketed parameter names may contain anything.
        ("[dash-name] == 'x'", b(true)),
        // A quoted date is a number of seconds.
        ("'2024-01-02' > '2024-01-01'", b(true)),
        ("'2024-01-01' == 1704067200", b(true)),
        ("'2024-01-01T01:00:00+01:00' == '2024-01-01'", b(true)),
        // govaluate's planner quirks: the rest after a complete group is ignored; `()` is nil.
        ("(1) 2", num(1.0)),
        ("()", Value::Null),
    ];
    for (expression, want) in cases {
        let got = govaluate::evaluate(expression, &params);
        assert_eq!(got, Ok(want), "{expression}");
    }
}

#[test]
fn errors_carry_govaluate_messages_and_positions() {
    let cases: &[(&str, &str)] = &[
        (
            "missing == 1",
            "No parameter 'missing' found. (at character 1)",
        ),
        (
            "c == 10 && other",
            "No parameter 'other' found. (at character 12)",
        ),
        (
            "a.b == 1",
            "Unable to access unexported field 'b' in token 'a.b' (at character 1)",
        ),
        (
            "a.B == 1",
            "Unable to access 'B', 'a' is not a struct (at character 1)",
        ),
        (
            "Missing.B",
            "No parameter 'Missing' found. (at character 1)",
        ),
        ("a.", "Hanging accessor on token 'a.' (at character 1)"),
        (
            "c > 'x'",
            "Value '10' cannot be used with the comparator '>', it is not a number (at character 3)",
        ),
        (
            "c + true",
            "Value '10' cannot be used with the modifier '+', it is not a number (at character 3)",
        ),
        (
            "true - 1",
            "Value 'true' cannot be used with the modifier '-', it is not a number (at character 6)",
        ),
        (
            "a && true",
            "Value 'b' cannot be used with the logical operator '&&', it is not a bool (at character 3)",
        ),
        (
            "true && a",
            "Value 'b' cannot be used with the logical operator '&&', it is not a bool (at character 6)",
        ),
        (
            "c ? 1 : 2",
            "Value '10' cannot be used with the ternary operator '?', it is not a bool (at character 3)",
        ),
        (
            "-a",
            "Value 'b' cannot be used with the prefix '-' (at character 1)",
        ),
        (
            "!c",
            "Value '10' cannot be used with the prefix '!' (at character 1)",
        ),
        (
            "c =~ 'x'",
            "Value '10' cannot be used with the comparator '=~', it is not a number (at character 3)",
        ),
        (
            "'z' in ('a')",
            "Value 'a' cannot be used with the comparator 'in', it is not a number (at character 5)",
        ),
        (
            "a =~ [bad-regex]",
            "Unable to compile regexp pattern '(': unclosed group (at character 3)",
        ),
        (
            "a =~ '('",
            "error parsing regexp '(': unclosed group (at character 6)",
        ),
        ("1 +", "Unexpected end of expression (at character 3)"),
        ("", "Unexpected end of expression"),
        (
            "a b",
            "Cannot transition token types from VARIABLE [a] to VARIABLE [b] (at character 3)",
        ),
        ("(1) (", "Unbalanced parenthesis"),
        (
            ")(",
            "Cannot transition token types from UNKNOWN [<nil>] to CLAUSE_CLOSE [41] (at character 1)",
        ),
        ("foo(1)", "Undefined function foo (at character 1)"),
        ("'abc", "Unclosed string literal (at character 1)"),
        // A string opened with `"` ends at the next quote of either kind.
        (r#""it's""#, "Unclosed string literal (at character 6)"),
        ("[abc", "Unclosed parameter bracket (at character 1)"),
        ("a ==-1", "Invalid token: '==-' (at character 3)"),
        (
            "1.2.3",
            "Unable to parse numeric value '1.2.3' to float64 (at character 1)",
        ),
        (
            "1 + , 2",
            "Cannot transition token types from MODIFIER [+] to SEPARATOR [,] (at character 5)",
        ),
        (
            "true ? , 1",
            "Unable to plan token kind: 'SEPARATOR', value: ',' (at character 8)",
        ),
    ];
    for (expression, want) in cases {
        let got = govaluate::evaluate(expression, &params).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{expression}");
    }
}

#[test]
fn evaluate_bool_requires_a_boolean() {
    assert_eq!(govaluate::evaluate_bool("c == 10", &params), Ok(true));
    let err = govaluate::evaluate_bool("c + 1", &params).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Expected boolean evaluation for 'c + 1'. Got 11"
    );
}

#[test]
fn a_parsed_expression_is_reusable() {
    let expression = Expression::parse("count > 2").unwrap();
    assert_eq!(expression.source(), "count > 2");
    let with = |n: f64| move |name: &str| (name == "count").then_some(Value::Number(n));
    assert_eq!(expression.evaluate_bool(&with(3.0)), Ok(true));
    assert_eq!(expression.evaluate_bool(&with(1.0)), Ok(false));
}

#[test]
fn when_turns_bare_words_into_strings() {
    let cases: &[(&str, bool)] = &[
        ("", true),
        ("true", true),
        ("false", false),
        ("heads == heads", true),
        ("tails == heads", false),
        ("heads == 'heads'", true),
        ("heads != tails", true),
        ("true == true", true),
        ("false == true", false),
        ("False == false", false),
        ("5 < 10", true),
        ("3 != 1 && 3 != 2", true),
        ("tails =~ tai", true),
        ("heads =~ tai", false),
        ("heads !~ tai", true),
        ("[my value] == 'my value'", true),
        ("Succeeded in (Succeeded, Failed)", true),
        (
            "(\n  heads == heads &&\n  tails == tails\n) ||\n( tails == heads )",
            true,
        ),
        // Unquoted, a date is arithmetic: 2024 - 1 - 1.
        ("2024-01-01 == 2022", true),
    ];
    for (when, want) in cases {
        assert_eq!(govaluate::evaluate_when(when), Ok(*want), "{when:?}");
    }
}

#[test]
fn when_errors_use_argo_wording() {
    let cases: &[(&str, &str)] = &[
        (
            "hello world == hello world",
            "Invalid 'when' expression 'hello world == hello world': Cannot transition token types \
             from VARIABLE [hello] to VARIABLE [world] (at character 7)",
        ),
        (
            "a === b",
            "Invalid 'when' expression 'a === b': Invalid token: '===' (at character 3) (hint: try \
             wrapping the affected expression in quotes (\"))",
        ),
        (
            "a.b == c",
            "Invalid 'when' expression 'a.b == c': Unable to access unexported field 'b' in token \
             'a.b' (at character 1)",
        ),
        (
            "!heads",
            "Failed to parse 'when' expression '!heads': Cannot transition token types from PREFIX \
             [!] to STRING [heads] (at character 2)",
        ),
        (
            "x =~ 'a' ? true : false",
            "Failed to parse 'when' expression 'x =~ 'a' ? true : false': Cannot transition token \
             types from PATTERN [a] to TERNARY [?] (at character 10)",
        ),
        (
            "my-value == my-value",
            "Failed to evaluate 'when' expresion 'my-value == my-value': Value 'my' cannot be used \
             with the modifier '-', it is not a number (at character 3)",
        ),
        (
            "Status.Phase == Succeeded",
            "Failed to evaluate 'when' expresion 'Status.Phase == Succeeded': No parameter \
             'Status' found. (at character 1)",
        ),
        (
            "heads",
            "Expected boolean evaluation for 'heads'. Got heads",
        ),
        ("1 + 1", "Expected boolean evaluation for '1 + 1'. Got 2"),
        (
            " ",
            "Invalid 'when' expression ' ': Unexpected end of expression",
        ),
    ];
    for (when, want) in cases {
        let got = govaluate::evaluate_when(when).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{when:?}");
    }
}

/// The shapes of the corpus's conditional examples: tags substituted first, then `when`.
#[test]
fn when_after_substitution_like_the_corpus() {
    let values: BTreeMap<&str, &str> = BTreeMap::from([
        ("steps.flip-coin.outputs.result", "heads"),
        ("steps.flip-again.outputs.result", "tails"),
        ("inputs.parameters.should-print", "true"),
        ("steps.flakey-container.status", "Succeeded"),
        ("steps.iterate-counter.outputs.result", "3"),
        ("inputs.parameters.limit", "10"),
        ("inputs.parameters.num", "5"),
        ("item.evenness", "odd"),
        ("steps.approval.outputs.parameters.approve", "YES"),
    ]);
    let lookup = |name: &str| values.get(name).map(|v| v.to_string());
    let cases: &[(&str, bool)] = &[
        ("{{steps.flip-coin.outputs.result}} == heads", true),
        ("{{steps.flip-coin.outputs.result}} == tails", false),
        ("{{steps.flip-again.outputs.result}} =~ tai", true),
        ("{{steps.flip-again.outputs.result}} =~ hea", false),
        (
            "( {{steps.flip-coin.outputs.result}} == heads &&\n  \
             {{steps.flip-again.outputs.result}} == tails\n) ||\n\
             ( {{steps.flip-coin.outputs.result}} == tails &&\n  \
             {{steps.flip-again.outputs.result}} == tails )",
            true,
        ),
        ("{{inputs.parameters.should-print}} == true", true),
        ("{{steps.flakey-container.status}} == Succeeded", true),
        ("{{steps.flakey-container.status}} == Failed", false),
        (
            "{{steps.iterate-counter.outputs.result}} < {{inputs.parameters.limit}}",
            true,
        ),
        (
            "{{inputs.parameters.num}} != 1 && {{inputs.parameters.num}} != 2",
            true,
        ),
        ("{{item.evenness}} == even", false),
        ("{{steps.approval.outputs.parameters.approve}} == YES", true),
        ("{{= inputs.parameters['should-print'] == 'true'}}", true),
    ];
    for (when, want) in cases {
        let text = substitute(when, &lookup, &Mode::Strict).unwrap();
        assert_eq!(
            govaluate::evaluate_when(&text),
            Ok(*want),
            "{when:?} -> {text:?}"
        );
    }
}

#[test]
fn deep_nesting_is_rejected_before_parsing() {
    // 100 000 parentheses: over the length cap, rejected without recursion.
    let huge = "(".repeat(100_000);
    assert_eq!(
        govaluate::evaluate(&huge, &params),
        Err(Error::TooLong {
            what: "expression",
            length: 100_000,
            max: govaluate::MAX_EXPRESSION_BYTES,
        })
    );
    // Within the length cap but deeper than the nesting cap.
    let deep = format!("{}1{}", "(".repeat(5_000), ")".repeat(5_000));
    let err = govaluate::evaluate(&deep, &params).unwrap_err();
    assert_eq!(
        err.to_string(),
        "brackets nest deeper than 100 levels at character 101"
    );
    assert_eq!(
        govaluate::evaluate_when(&deep).unwrap_err().to_string(),
        "Invalid 'when' expression '".to_string()
            + &deep
            + "': brackets nest deeper than 100 levels at character 101"
    );
}

#[test]
fn the_deepest_accepted_input_fits_a_small_stack() {
    let nested = format!(
        "{}c == 10 && !e{}",
        "(".repeat(govaluate::MAX_DEPTH),
        ")".repeat(govaluate::MAX_DEPTH)
    );
    let long_chain = vec!["1"; 10_000].join(" + ");
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            (
                govaluate::evaluate(&nested, &params),
                govaluate::evaluate(&long_chain, &params),
            )
        })
        .unwrap();
    let (nested, chain) = handle.join().unwrap();
    assert_eq!(nested, Ok(Value::Bool(true)));
    assert_eq!(chain, Ok(Value::Number(10_000.0)));
}

#[test]
fn values_convert_to_and_from_json() {
    let json = serde_json::json!({"a": [1, "x", null, true], "b": 2.5});
    let value = Value::from(&json);
    assert_eq!(value.to_json(), Some(json));
    assert_eq!(value.go_v(), "map[a:[1 x <nil> true] b:2.5]");
    assert_eq!(Value::Number(f64::NAN).to_json(), None);
}
