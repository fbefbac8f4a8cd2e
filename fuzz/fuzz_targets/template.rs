//! Argo's `{{...}}` substitution, single pass, in every mode: simple tags looked up in a fixed
//! set of parameters (one an absent optional, some whose values look like tags themselves),
//! and `{{= }}` expression tags over the same variables or over a fuzzed environment.
//!
//! Input: `knobs \0 text \0 environment`. Knobs pick the mode; the environment, when it is a
//! JSON object, is what expression tags see in `substitute_with_env`.

#![no_main]

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;
use switchyard_expr::template::{self, MAX_OUTPUT_BYTES};
use switchyard_expr::{Mode, Var, substitute, substitute_at, substitute_with_env};

fn lookup(name: &str) -> Option<String> {
    Some(
        match name {
            "workflow.name" => "wf-1",
            "workflow.namespace" => "argo",
            "inputs.parameters.message" => "hello {{workflow.name}}",
            "inputs.parameters.n" => "4",
            "inputs.parameters.json" => "{\"a\":[1,2,{\"b\":\"{{x}}\"}]}",
            "steps.flip.outputs.result" => "heads",
            "tasks.a.outputs.parameters.out" => "{{=inputs.parameters.n}}",
            "item" => "{\"name\":\"x\",\"n\":3}",
            "item.name" => "x",
            "empty" => "",
            _ => return None,
        }
        .to_owned(),
    )
}

fn lookup_var(name: &str) -> Option<Var> {
    if name == "tasks.skipped.outputs.parameters.out" {
        return Some(Var::Absent);
    }
    lookup(name).map(Var::Text)
}

fuzz_target!(|data: &[u8]| {
    switchyard_fuzz::contain_engine_panics();
    let [knobs, text, env] = switchyard_fuzz::parts(data);
    let Some(text) = switchyard_fuzz::text(text) else {
        return;
    };
    let mut u = Unstructured::new(knobs);
    let mode = match u.int_in_range(0..=2u8).unwrap_or(0) {
        0 => Mode::Strict,
        1 => Mode::Lenient,
        _ => Mode::StrictPrefixes(vec!["inputs".to_owned(), "workflow".to_owned()]),
    };

    let _ = template::tags(text);
    for out in [
        substitute(text, &lookup, &mode),
        substitute_at(text, &lookup_var, &mode, Some(switchyard_fuzz::now())),
    ]
    .into_iter()
    .flatten()
    {
        assert!(out.len() <= MAX_OUTPUT_BYTES);
    }
    let env = switchyard_fuzz::text(env)
        .and_then(|t| serde_json::from_str::<Json>(t).ok())
        .filter(Json::is_object)
        .unwrap_or_else(|| {
            let flat: BTreeMap<String, Json> = [
                "workflow.name",
                "inputs.parameters.message",
                "inputs.parameters.n",
                "item",
            ]
            .into_iter()
            .filter_map(|n| Some((n.to_owned(), Json::String(lookup(n)?))))
            .collect();
            template::expand(&flat)
        });
    if let Ok(out) = substitute_with_env(text, &lookup, &env, &mode) {
        assert!(out.len() <= MAX_OUTPUT_BYTES);
    }
});
