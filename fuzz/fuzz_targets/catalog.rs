//! The offering catalog: an Offering's `spec` checked (`Offering::from_manifest`, which parses
//! the input's JSON Schema subset), and an order checked against it as the platform API and
//! the CLI do: request bytes → JSON (`parse_body`) → `validate`, `key=value` fields
//! (`validate_fields`, `validate_fields_over`), the 422 `detail`, and the OpenAPI document.
//!
//! Input: `knobs \0 spec \0 body \0 fields`. Knobs pick the offering: one of the bundled
//! platform's (examples/platform/offerings.yaml) or the fuzzed `spec` (JSON). Fields are
//! `key=value` lines.
//!
//! Checked: a body that validates gives a body that validates to itself (defaults filled in
//! once, integers written as integers once).

#![no_main]

use std::sync::OnceLock;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use switchyard_catalog::{ApiInfo, Offering, detail, openapi, parse_body, route_conflicts};
use switchyard_manifest::{Limits, Resource, Source, load};

fn bundled() -> &'static [Value] {
    static SPECS: OnceLock<Vec<Value>> = OnceLock::new();
    SPECS.get_or_init(|| {
        let text = include_str!("../../examples/platform/offerings.yaml");
        let out = load(&[Source::new("offerings.yaml", text)], &Limits::default());
        let specs: Vec<Value> = out
            .objects
            .into_iter()
            .filter_map(|o| match o.resource {
                Resource::Offering(offering) => Some(offering.spec),
                _ => None,
            })
            .collect();
        assert!(!specs.is_empty(), "the bundled platform has offerings");
        specs
    })
}

fuzz_target!(|data: &[u8]| {
    let [knobs, spec, body, fields] = switchyard_fuzz::parts(data);
    let mut u = Unstructured::new(knobs);
    let specs = bundled();
    let fuzzed;
    let spec = match u.int_in_range(0..=specs.len()).unwrap_or(0) {
        0 => {
            let Some(spec) =
                switchyard_fuzz::text(spec).and_then(|t| serde_json::from_str::<Value>(t).ok())
            else {
                return;
            };
            fuzzed = spec;
            &fuzzed
        }
        i => &specs[i - 1],
    };
    let Ok(offering) = Offering::from_manifest("argo-events", "fuzz", spec) else {
        return;
    };

    match parse_body(body) {
        Ok(value) => match offering.input.validate(&value) {
            Ok(valid) => {
                let again = offering.input.validate(&valid);
                assert_eq!(again.as_ref().ok(), Some(&valid), "{again:?}");
            }
            Err(errors) => {
                let _ = detail(&errors);
            }
        },
        Err(error) => {
            let _ = detail(&[error]);
        }
    }

    let fields: Vec<(String, String)> = String::from_utf8_lossy(fields)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if !fields.is_empty() {
        if let Err(errors) = offering.input.validate_fields(&fields) {
            let _ = detail(&errors);
        }
        let base = parse_body(body).unwrap_or(Value::Null);
        if let Err(errors) = offering.input.validate_fields_over(&base, &fields) {
            let _ = detail(&errors);
        }
    }

    let _ = offering.input.effective_json();
    let _ = offering.input.property_names();
    let _ = route_conflicts(std::slice::from_ref(&offering));
    let info = ApiInfo {
        title: "Platform".to_owned(),
        version: "1".to_owned(),
        description: String::new(),
    };
    let _ = openapi(std::slice::from_ref(&offering), info, json!({}));
});
