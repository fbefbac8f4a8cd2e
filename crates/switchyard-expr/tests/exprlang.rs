//! `{{= }}` expressions: Argo's functions, the sprig allowlist, refusals, limits.

#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use switchyard_expr::exprlang::{self, eval_expr, eval_expr_at, variables};
use switchyard_expr::{Error, stringify};

fn env() -> Value {
    json!({
        "inputs": {"parameters": {
            "n": "4",
            "f": "1.5",
            "my-int-param": "7",
            "s": "  padded  ",
            "json": r#"{"employees":[{"name":"Ana","age":43},{"name":"Baris","age":40}]}"#,
        }},
        "workflow": {
            "name": "wf-1",
            "parameters": {
                "json": r#"[{"value":"true"}]"#,
                "weather": r#"{"weekWeather": "eyJ0ZW1wcyI6IFszNCwgMjcsIDE1LCA1NywgNDZdfQo="}"#,
            }
        },
        "steps": {"a": {"outputs": {"result": "heads"}}},
        "item": {"evenness": "odd", "n": 3},
        "list": [3, 1, 2],
        "nothing": null,
        "notes": "n",
        "trueish": {"x": 1},
        "nil_count": 0,
    })
}

fn check(cases: &[(&str, Result<Value, &str>)]) {
    let env = env();
    for (expression, want) in cases {
        let got = eval_expr(expression, &env).map_err(|e| e.to_string());
        let want = want.clone().map_err(str::to_string);
        assert_eq!(got, want, "{expression}");
    }
}

#[test]
fn argo_functions_and_variables() {
    check(&[
        ("asInt(inputs.parameters.n) * 10", Ok(json!(40))),
        ("asInt(inputs.parameters['my-int-param'])", Ok(json!(7))),
        ("asFloat(inputs.parameters.f) * 2", Ok(json!(3))),
        ("asFloat(inputs.parameters.f) + 1", Ok(json!(2.5))),
        ("string(1)", Ok(json!("1"))),
        ("toJson([1, 2])", Ok(json!("[1,2]"))),
        (
            "toJson({b: 1.0, a: 'x<y'})",
            Ok(json!(r#"{"a":"x\u003cy","b":1}"#)),
        ),
        (
            "jsonpath(workflow.parameters.json, '$[0].value') == 'true'",
            Ok(json!(true)),
        ),
        (
            r#"jsonpath(inputs.parameters.json, '$.employees[?(@.name=="Baris")].age')"#,
            Ok(json!([40])),
        ),
        (
            "jsonpath(inputs.parameters.json, '$.employees[*].name')",
            Ok(json!(["Ana", "Baris"])),
        ),
        (
            "jsonpath(inputs.parameters.json, '$.employees[0:1]')",
            Ok(json!([{"name": "Ana", "age": 43}])),
        ),
        ("steps.a.outputs.result == 'heads'", Ok(json!(true))),
        ("steps['a'].outputs.result", Ok(json!("heads"))),
        ("item.evenness", Ok(json!("odd"))),
        ("item.n % 2 == 1 ? 'odd' : 'even'", Ok(json!("odd"))),
        ("workflow.name + '-x'", Ok(json!("wf-1-x"))),
        ("nothing ?? 'fallback'", Ok(json!("fallback"))),
        // expr-lang alone reads `nothing` as `not hing` and fails on `trueish`.
        (
            "[nothing, notes, trueish.x, nil_count]",
            Ok(json!([null, "n", 1, 0])),
        ),
        ("filter([1, 2, 3], {# > 1})", Ok(json!([2, 3]))),
        ("map([1, 2], {# * 2})", Ok(json!([2, 4]))),
        ("map(list, # + #index)", Ok(json!([3, 2, 4]))),
        ("sortBy(list, #)", Ok(json!([1, 2, 3]))),
        ("sortBy(list, {#}, 'desc')", Ok(json!([3, 2, 1]))),
        (
            "all(list, # > 0) && any(list, # == 2) && one(list, # == 3) && none(list, # > 5)",
            Ok(json!(true)),
        ),
        ("find(list, # < 3)", Ok(json!(1))),
        ("findIndex(list, # == 2)", Ok(json!(2))),
        ("findLast(list, # > 1)", Ok(json!(2))),
        ("findLastIndex(list, # > 5)", Ok(json!(-1))),
        ("count(list, # > 1)", Ok(json!(2))),
        ("sum(list)", Ok(json!(6))),
        ("sum(list, # * 2)", Ok(json!(12))),
        ("list | map(# * 10) | sum()", Ok(json!(60))),
        ("map(1..3, # * #)", Ok(json!([1, 4, 9]))),
        (
            "{a: 1 + 1, b: {c: [item.n]}, 'd-e': nil}",
            Ok(json!({"a": 2, "b": {"c": [3]}, "d-e": null})),
        ),
        ("7 / 2", Ok(json!(3.5))),
        ("1.5 * 2", Ok(json!(3))),
        ("'abc' matches '^a' and 'b' in ['a', 'b']", Ok(json!(true))),
        ("upper(trim(inputs.parameters.s))", Ok(json!("PADDED"))),
        ("nil", Ok(json!(null))),
        (
            "missing_var",
            Err("failed to evaluate expression 'missing_var': unknown variable: missing_var"),
        ),
        (
            "1 / 0",
            Err("expression '1 / 0' produced +Inf, which has no JSON representation"),
        ),
        (
            "asInt('x')",
            Err("failed to evaluate expression 'asInt('x')': invalid operation: int(x)"),
        ),
        (
            "jsonpath('nope', '$.a')",
            Err(
                "failed to evaluate expression 'jsonpath('nope', '$.a')': jsonpath: the document is not JSON: expected ident at line 1 column 2",
            ),
        ),
        (
            "jsonpath(inputs.parameters.json, '$.boss')",
            Err(
                "failed to evaluate expression 'jsonpath(inputs.parameters.json, '$.boss')': jsonpath: key 'boss' not found",
            ),
        ),
    ]);
}

/// The corpus's `expression-reusing-verbose-snippets` expression: a map literal with computed
/// values inside a predicate (expr-lang 2.1 alone gets this wrong; see `scan`).
#[test]
fn map_literals_with_computed_values() {
    let expression = "
        map([
            jsonpath(sprig.b64dec(jsonpath(workflow.parameters.weather, '$.weekWeather')), '$.temps')
          ], {
            toJson({
              avg: sprig.add(#[0], #[1], #[2], #[3], #[4]) / 5,
              min: sprig.min(#[0], #[1], #[2], #[3], #[4]),
              max: sprig.max(#[0], #[1], #[2], #[3], #[4])
            })
        })[0]";
    assert_eq!(
        eval_expr(expression, &env()),
        Ok(json!(r#"{"avg":35.8,"max":57,"min":15}"#))
    );
}

#[test]
fn sprig_allowlist() {
    check(&[
        ("sprig.trim('  a b  ')", Ok(json!("a b"))),
        ("sprig.upper('abc')", Ok(json!("ABC"))),
        ("sprig.lower('ABC')", Ok(json!("abc"))),
        ("sprig.replace('a', 'o', 'banana')", Ok(json!("bonono"))),
        ("sprig.contains('nan', 'banana')", Ok(json!(true))),
        ("sprig.hasPrefix('ba', 'banana')", Ok(json!(true))),
        ("sprig.hasSuffix('x', 'banana')", Ok(json!(false))),
        ("sprig.default('d', '')", Ok(json!("d"))),
        ("sprig.default('d', 'given')", Ok(json!("given"))),
        ("sprig.default('d', nothing)", Ok(json!("d"))),
        (
            "sprig.empty(0) && sprig.empty('') && sprig.empty([]) && sprig.empty(nil)",
            Ok(json!(true)),
        ),
        ("sprig.empty('x')", Ok(json!(false))),
        (
            "sprig.toString(1.0) + sprig.toString(2.5) + sprig.toString(true)",
            Ok(json!("12.5true")),
        ),
        ("sprig.toString([1, 'a'])", Ok(json!("[1 a]"))),
        ("sprig.atoi('42')", Ok(json!(42))),
        ("sprig.atoi('4x')", Ok(json!(0))),
        (
            "sprig.int('0x1F') + sprig.int('3.00') + sprig.int('bad') + sprig.int(2.9)",
            Ok(json!(36)),
        ),
        ("sprig.float64('2.5')", Ok(json!(2.5))),
        ("sprig.add(1, '2', 3.9)", Ok(json!(6))),
        ("sprig.sub(10, 3)", Ok(json!(7))),
        ("sprig.mul(2, 3, 4)", Ok(json!(24))),
        ("sprig.div(7, 2)", Ok(json!(3))),
        ("sprig.max(1, 5, 3)", Ok(json!(5))),
        ("sprig.min(4, '2', 3)", Ok(json!(2))),
        ("sprig.list(1, 'a', nil)", Ok(json!([1, "a", null]))),
        ("sprig.join('-', [1, nil, 'a'])", Ok(json!("1-a"))),
        ("sprig.join(',', 'solo')", Ok(json!("solo"))),
        (
            "sprig.splitList(',', 'a,b,,c')",
            Ok(json!(["a", "b", "", "c"])),
        ),
        ("sprig.b64enc('hello')", Ok(json!("aGVsbG8="))),
        ("sprig.b64dec('aGVsbG8=')", Ok(json!("hello"))),
        (
            "sprig.b64dec('!!')",
            Ok(json!("illegal base64 data at input byte 0")),
        ),
        ("sprig.quote('a\"b', 1, nil)", Ok(json!(r#""a\"b" "1""#))),
        ("sprig.squote('a', 2)", Ok(json!("'a' '2'"))),
        ("sprig.nospace(' a \tb ')", Ok(json!("ab"))),
        ("sprig.trunc(3, 'hello')", Ok(json!("hel"))),
        ("sprig.trunc(-2, 'hello')", Ok(json!("lo"))),
        ("sprig.trunc(10, 'hello')", Ok(json!("hello"))),
        ("sprig.repeat(3, 'ab')", Ok(json!("ababab"))),
        ("sprig.substr(1, 3, 'hello')", Ok(json!("el"))),
        ("sprig.substr(-1, 2, 'hello')", Ok(json!("he"))),
        ("sprig.substr(2, 99, 'hello')", Ok(json!("llo"))),
        (
            "sprig.sha256sum('abc')",
            Ok(json!(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            )),
        ),
        (
            "sprig.toJson(sprig.dict('b', 1, 'a', [true]))",
            Ok(json!(r#"{"a":[true],"b":1}"#)),
        ),
        ("sprig.fromJson('{\"a\": [1, 2]}').a[1]", Ok(json!(2))),
        ("sprig.fromJson('not json')", Ok(json!(null))),
        ("sprig.dict('a', 1, 'odd')", Ok(json!({"a": 1, "odd": ""}))),
        ("sprig.get(sprig.dict('a', 1), 'a')", Ok(json!(1))),
        ("sprig.get(sprig.dict('a', 1), 'b')", Ok(json!(""))),
        ("sprig.hasKey(sprig.dict('a', 1), 'a')", Ok(json!(true))),
        (
            "sprig.keys(sprig.dict('b', 1, 'a', 2), sprig.dict('c', 3))",
            Ok(json!(["a", "b", "c"])),
        ),
        ("sprig.ternary('yes', 'no', 1 > 2)", Ok(json!("no"))),
        ("sprig.coalesce(nil, '', 0, 'x', 'y')", Ok(json!("x"))),
        ("sprig.regexMatch('^[a-z]+$', 'abc')", Ok(json!(true))),
        ("sprig.regexMatch('(', 'abc')", Ok(json!(false))),
        (
            "sprig.regexReplaceAll('a(x*)b', '-ab-axxb-', '${1}W')",
            Ok(json!("-W-xxW-")),
        ),
        // Wrong argument types and counts are errors, as Go's typed calls are.
        (
            "sprig.trim(1)",
            Err(
                "failed to evaluate expression 'sprig.trim(1)': sprig.trim: argument 1 must be a string, got int",
            ),
        ),
        (
            "sprig.upper('a', 'b')",
            Err(
                "failed to evaluate expression 'sprig.upper('a', 'b')': sprig.upper: expected 1 argument(s), got 2",
            ),
        ),
        (
            "sprig.div(1, 0)",
            Err(
                "failed to evaluate expression 'sprig.div(1, 0)': sprig.div: integer divide by zero",
            ),
        ),
        (
            "sprig.substr(3, 1, 'hello')",
            Err(
                "failed to evaluate expression 'sprig.substr(3, 1, 'hello')': sprig.substr: slice bounds out of range [3:1] with length 5",
            ),
        ),
        (
            "sprig.ternary(1, 2, 'x')",
            Err(
                "failed to evaluate expression 'sprig.ternary(1, 2, 'x')': sprig.ternary: argument 3 must be a bool, got string",
            ),
        ),
    ]);
}

#[test]
fn refused_functions_name_themselves() {
    let cases: &[(&str, &str)] = &[
        (
            "env('HOME')",
            "'env' is not allowed: it would read the server's environment variables",
        ),
        (
            "expandenv('$HOME')",
            "'expandenv' is not allowed: it would read the server's environment variables",
        ),
        (
            "sprig.env('HOME')",
            "'sprig.env' is not allowed: it would read the server's environment variables",
        ),
        (
            "sprig.expandenv('$HOME')",
            "'sprig.expandenv' is not allowed: it would read the server's environment variables",
        ),
        (
            "'x' + sprig.getHostByName('example.com')",
            "'sprig.getHostByName' is not allowed: it would make a network request",
        ),
        (
            "sprig.date('2006', workflow.name)",
            "'sprig.date' is not allowed: it formats the current time, which is not given to expressions evaluated here",
        ),
        (
            "sprig.now()",
            "'sprig.now' is not allowed: time values are not supported; `sprig.date(layout, x)` formats the current time",
        ),
        (
            "now()",
            "'now' is not allowed: it reads the clock; expressions here are pure, so pass the time in as a variable",
        ),
        (
            "'x' | env()",
            "'env' is not allowed: it would read the server's environment variables",
        ),
        (
            "reduce([1, 2], #acc + #)",
            "'reduce' is not allowed: its accumulator can grow without bound; use map, filter or sum",
        ),
        (
            "let x = 1; x",
            "'let' is not allowed: bindings can multiply the size of values without bound",
        ),
        (
            "1..n",
            "'..' is not allowed: a range needs integer literals at both ends and fewer than 10000 elements (ranges allocate every element)",
        ),
        (
            "0..100000",
            "'..' is not allowed: a range needs integer literals at both ends and fewer than 10000 elements (ranges allocate every element)",
        ),
    ];
    for (expression, want) in cases {
        let got = eval_expr(expression, &env()).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{expression}");
    }
    // Not-allowed sprig functions are named, with the allowlist.
    let err = eval_expr("sprig.title('a')", &env()).unwrap_err();
    let Error::NotAllowed { function, reason } = err else {
        panic!("expected NotAllowed, got {err:?}");
    };
    assert_eq!(function, "sprig.title");
    assert!(
        reason.starts_with("it is not in Switchyard's sprig allowlist (add, atoi, "),
        "{reason}"
    );
    // The words alone, as strings or members, are fine.
    check(&[
        ("'env' + '.now()'", Ok(json!("env.now()"))),
        ("{env: 1}.env", Ok(json!(1))),
    ]);
}

#[test]
fn limits_and_budgets() {
    let cases: Vec<(String, String)> = vec![
        (
            "(".repeat(100_000),
            format!("expression is 100000 bytes long; the limit is {} bytes", exprlang::MAX_EXPRESSION_BYTES),
        ),
        (
            format!("{}1{}", "(".repeat(40), ")".repeat(40)),
            "brackets nest deeper than 32 levels at character 33".to_string(),
        ),
        (
            vec!["1"; 300].join(" + "),
            format!("failed to evaluate expression '{}': more than 256 operators", vec!["1"; 300].join(" + ")),
        ),
        (
            format!("{}1", "nil ?? ".repeat(65)),
            format!("failed to evaluate expression '{}1': more than 64 conditionals ('?' and '??')", "nil ?? ".repeat(65)),
        ),
        (
            "map(1..9999, {map(1..9999, #)})".to_string(),
            "failed to evaluate expression 'map(1..9999, {map(1..9999, #)})': the expression ran predicates more than 1000000 times".to_string(),
        ),
        (
            "map(1..9000, {repeat('x', 10000)})".to_string(),
            "failed to evaluate expression 'map(1..9000, {repeat('x', 10000)})': the expression built more than 67108864 bytes of values".to_string(),
        ),
        (
            "repeat('ab', 1000000)".to_string(),
            "failed to evaluate expression 'repeat('ab', 1000000)': the result would exceed 1048576 bytes".to_string(),
        ),
        (
            "sprig.repeat(1000000, 'ab')".to_string(),
            "failed to evaluate expression 'sprig.repeat(1000000, 'ab')': sprig.repeat: the result would exceed 1048576 bytes".to_string(),
        ),
    ];
    for (expression, want) in cases {
        let got = eval_expr(&expression, &env()).map_err(|e| e.to_string());
        assert_eq!(
            got,
            Err(want),
            "{}",
            &expression[..expression.len().min(60)]
        );
    }
}

#[test]
fn the_largest_accepted_inputs_fit_a_small_stack() {
    let depth = exprlang::MAX_DEPTH;
    let expressions = [
        format!(
            "{}{}{}",
            "(".repeat(depth - 1),
            vec!["1"; 200].join(" + "),
            ")".repeat(depth - 1)
        ),
        format!("{}1{}", "-(".repeat(depth), ")".repeat(depth)),
        format!("{}1", "nil ?? ".repeat(exprlang::MAX_CONDITIONALS)),
        format!(
            "{}1{}",
            "map([1], {".repeat(depth / 2),
            "})".repeat(depth / 2)
        ),
        format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth)),
        vec!["true"; exprlang::MAX_OPERATORS].join(" && "),
    ];
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            expressions
                .iter()
                .map(|e| eval_expr(e, &json!({})).is_ok())
                .collect::<Vec<_>>()
        })
        .unwrap();
    assert_eq!(handle.join().unwrap(), vec![true; 6]);
}

#[test]
fn variables_lists_what_an_expression_reads() {
    let cases: &[(&str, &[&str])] = &[
        ("asInt(inputs.parameters.n) * 10", &["inputs.parameters.n"]),
        (
            "inputs.parameters['my-int-param'] + steps.a.outputs.result",
            &["inputs.parameters.my-int-param", "steps.a.outputs.result"],
        ),
        (
            "sprig.trim(workflow.name) ?? item",
            &["workflow.name", "item"],
        ),
        ("filter(list, {# > x})", &["list", "x"]),
        ("'inputs.parameters.n'", &[]),
    ];
    for (expression, want) in cases {
        assert_eq!(variables(expression), want.to_vec(), "{expression}");
    }
}

#[test]
fn check_reports_problems_without_running() {
    assert_eq!(exprlang::check("inputs.parameters.x + 1"), Ok(()));
    assert_eq!(
        exprlang::check("1 +").map_err(|e| e.to_string()),
        Err("failed to evaluate expression '1 +': syntax error at 1:4: expected conditional_if, negation_op, sign_op, value, array, map, or ident".to_string())
    );
}

#[test]
fn stringify_writes_results_like_argo() {
    let cases = [
        (json!("text"), "text"),
        (json!(40), "40"),
        (json!(3.0), "3"),
        (json!(3.5), "3.5"),
        (json!(1e21), "1e+21"),
        (json!(true), "true"),
        (json!(false), "false"),
        (json!(null), "null"),
        (json!([1, "a"]), r#"[1,"a"]"#),
        (
            json!({"b": 1, "a": {"c": "<"}}),
            r#"{"a":{"c":"\u003c"},"b":1}"#,
        ),
    ];
    for (value, want) in cases {
        assert_eq!(stringify(&value), want, "{value}");
    }
}

#[test]
fn sprig_dates_format_the_given_time() {
    let now = Utc.with_ymd_and_hms(2031, 7, 4, 9, 30, 5).unwrap();
    let env = json!({"workflow": {"creationTimestamp": "2021-01-01T00:00:00Z"}});
    let cases = [
        // As in sprig, a string is not a time: it formats "now".
        (
            "sprig.date('2006', workflow.creationTimestamp)",
            json!("2031"),
        ),
        (
            "sprig.date('2006-01-02T15:04:05Z07:00', 0)",
            json!("1970-01-01T00:00:00Z"),
        ),
        ("sprig.htmlDate(nil)", json!("2031-07-04")),
        (
            "sprig.dateInZone('Jan _2 3:04PM', 'x', 'UTC')",
            json!("Jul  4 9:30AM"),
        ),
        ("'v' + sprig.date('06.01', 1)", json!("v70.01")),
    ];
    for (expression, want) in cases {
        assert_eq!(
            eval_expr_at(expression, &env, Some(now)),
            Ok(want),
            "{expression}"
        );
    }
    // The same expression and time give the same text.
    let first = eval_expr_at("sprig.date('15:04:05.000', '')", &env, Some(now));
    assert_eq!(first, Ok(json!("09:30:05.000")));
    assert_eq!(
        eval_expr_at("sprig.date('15:04:05.000', '')", &env, Some(now)),
        first
    );
    // Without a time they are refused before running, even with a Unix time.
    let refused = eval_expr_at("sprig.htmlDate(0)", &env, None).unwrap_err();
    assert!(
        matches!(refused, Error::NotAllowed { ref function, .. } if function == "sprig.htmlDate"),
        "{refused:?}"
    );
    // A zone other than UTC is an error, not a silent fallback.
    assert_eq!(
        eval_expr_at("sprig.dateInZone('15', 0, 'Asia/Tokyo')", &env, Some(now)).map_err(|e| e.to_string()),
        Err("failed to evaluate expression 'sprig.dateInZone('15', 0, 'Asia/Tokyo')': sprig.dateInZone: time zone `Asia/Tokyo` is not supported: times are formatted in UTC (use \"UTC\")".to_string())
    );
    // The environment stays out of reach with a time too.
    assert!(matches!(
        eval_expr_at("sprig.env('HOME')", &env, Some(now)),
        Err(Error::NotAllowed { .. })
    ));
}

/// Found by the `expr` fuzz target (`fuzz/`; reported as a timeout): 53 bytes of brackets and
/// digits, nested less deep than the limit, made expr-lang's parser backtrack through
/// exponentially many alternatives (12 s under the fuzzer's sanitizer, 0.2 s in a release
/// build, and each added bracket pair multiplies it). The parse is now bounded by a step count
/// and the expression refused with a reason. The input is the fuzzer's, as it found it.
#[test]
fn an_expression_that_makes_the_parser_backtrack_is_refused() {
    let input = include_str!("fuzz/exprlang-backtracking.bin");
    assert_eq!(
        input,
        "000[[1[[[1[[1[0[[1[[1[[10[[1[[1[0[[[00[[-coi[1[[[[s0["
    );
    let err = exprlang::check(input).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "failed to evaluate expression '{input}': the expression is too hard to parse (more than \
             {} parser steps, usually from brackets that are not closed); check its brackets",
            exprlang::MAX_PARSER_STEPS
        )
    );
    assert!(eval_expr(input, &env()).is_err());
    // The largest expressions the other limits accept stay well inside the step budget.
    let long_string = format!(
        "body.x == '{}'",
        "a".repeat(exprlang::MAX_EXPRESSION_BYTES - 20)
    );
    exprlang::check(&long_string).unwrap();
    let many_operators = (0..80)
        .map(|i| format!("body.f{i} == 'v{i}'"))
        .collect::<Vec<_>>()
        .join(" && ");
    exprlang::check(&many_operators).unwrap();
    let deep = format!(
        "{}1{}",
        "[".repeat(exprlang::MAX_DEPTH),
        "]".repeat(exprlang::MAX_DEPTH)
    );
    exprlang::check(&deep).unwrap();
}
