//! Go `text/template` as a Sensor's `dataTemplate` / `contextTemplate` and a data filter's
//! `template` run it: a fuzzed template parsed, then rendered over a fuzzed event payload
//! (as `{"Input": payload}`) or over an event of the webhook's shape.
//!
//! Input: `template \0 payload`. The payload is used when it is JSON.
//!
//! Checked: the output never exceeds the rendering limit.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use switchyard_gotmpl::{Limits, Template, input_root};

fn webhook_root() -> &'static Value {
    static ROOT: OnceLock<Value> = OnceLock::new();
    ROOT.get_or_init(|| {
        input_root(json!({
            "header": {"Content-Type": ["application/json"], "X-Request-Id": ["r-1"]},
            "body": {
                "name": "shop", "count": 1000000, "ratio": 0.25, "ok": true, "none": null,
                "tags": ["a", "b", "c"], "nested": {"k": "v", "n": [1, 2, {"x": "y"}]},
                "text": "line one\nline \"two\" <b>&amp;</b>"
            },
            "metadata": {"team": "platform"}
        }))
    })
}

fuzz_target!(|data: &[u8]| {
    let [template, payload] = switchyard_fuzz::parts(data);
    let Some(template) = switchyard_fuzz::text(template) else {
        return;
    };
    let Ok(parsed) = Template::parse(template) else {
        return;
    };
    let limits = Limits::default();
    let fuzzed = switchyard_fuzz::text(payload)
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .map(input_root);
    let root = fuzzed.as_ref().unwrap_or_else(|| webhook_root());
    if let Ok(out) = parsed.render_with(root, &limits) {
        assert!(out.len() <= limits.max_output_bytes, "{} bytes", out.len());
    }
    // A data filter's root: the text found at the filter's path, as a string.
    let as_text = input_root(Value::String(String::from_utf8_lossy(payload).into_owned()));
    if let Ok(out) = parsed.render_with(&as_text, &limits) {
        assert!(out.len() <= limits.max_output_bytes, "{} bytes", out.len());
    }
});
