//! Expressions: govaluate as a sensor's `filters.exprs[].expr` (bare words are parameters) and
//! as a workflow's `when` (bare words are strings), and expr-lang as `{{= }}` and an
//! EventSource's `filter.expression` (compile, evaluate, the variables it reads).
//!
//! Input: `expression \0 variables`. The variables, when they are a JSON object, are what
//! expr-lang sees; otherwise a small fixed environment of the shapes workflows and events have.

#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value as Json, json};
use switchyard_expr::exprlang;
use switchyard_expr::govaluate::{self, Expression, Value};

fn params(name: &str) -> Option<Value> {
    Some(match name {
        "a" => Value::from("b"),
        "n" => Value::from(3.0),
        "size" => Value::from(42.0),
        "env" => Value::from("prod"),
        "region" => Value::from("eu-west"),
        "ok" => Value::from(true),
        "nul" => Value::Null,
        "list" => Value::Array(vec![Value::from(1.0), Value::from("x")]),
        "obj" => Value::Object(BTreeMap::from([("k".to_owned(), Value::from("v"))])),
        _ => return None,
    })
}

fn fixed_env() -> &'static Json {
    static ENV: OnceLock<Json> = OnceLock::new();
    ENV.get_or_init(|| {
        json!({
            "inputs": {"parameters": {"n": "4", "s": "text", "json": "{\"a\":[1,2]}"}},
            "workflow": {"name": "wf-1", "parameters": {"region": "eastus2"}},
            "steps": {"a": {"outputs": {"result": "heads"}}},
            "item": {"n": 3, "name": "x"},
            "body": {"size": 3, "tags": ["a", "b"], "nested": {"k": null}},
            "header": {"Content-Type": ["application/json"]},
            "list": [3, 1, 2],
            "nothing": null,
            "f": 1.5,
        })
    })
}

fuzz_target!(|data: &[u8]| {
    switchyard_fuzz::contain_engine_panics();
    let [expression, variables] = switchyard_fuzz::parts(data);
    let Some(expression) = switchyard_fuzz::text(expression) else {
        return;
    };

    // govaluate, the sensor form, once parsed and reused as a sensor does.
    if let Ok(parsed) = Expression::parse(expression) {
        let _ = parsed.evaluate(&params);
        let _ = parsed.evaluate_bool(&params);
        let _ = parsed.evaluate(&|_| None);
    }
    let _ = govaluate::evaluate(expression, &params);
    // govaluate, the `when` form.
    let _ = govaluate::evaluate_when(expression);

    // expr-lang.
    let fuzzed = switchyard_fuzz::text(variables)
        .and_then(|t| serde_json::from_str::<Json>(t).ok())
        .filter(Json::is_object);
    let env = fuzzed.as_ref().unwrap_or_else(|| fixed_env());
    let checked = exprlang::check(expression);
    let _ = exprlang::variables(expression);
    if exprlang::eval_expr(expression, env).is_ok() {
        assert!(checked.is_ok(), "evaluated, yet refused by check");
    }
    if let Ok(value) = exprlang::eval_expr_at(expression, env, Some(switchyard_fuzz::now())) {
        let _ = switchyard_expr::stringify(&value);
    }
});
