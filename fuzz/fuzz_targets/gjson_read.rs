//! GJSON reads (`dataKey`, `contextKey`, a data filter's `path`) with a fuzzed path over a
//! fuzzed document, and every conversion a sensor makes of what was found.
//!
//! Input: `path \0 document`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_paths::{JsonKind, check_get_path, get, is_valid_json};

fuzz_target!(|data: &[u8]| {
    let [path, document] = switchyard_fuzz::parts(data);
    let (Some(path), Some(document)) =
        (switchyard_fuzz::text(path), switchyard_fuzz::text(document))
    else {
        return;
    };
    let checked = check_get_path(path);
    let _ = is_valid_json(document);
    let Some(found) = get(document, path) else {
        return;
    };
    assert!(
        checked.is_ok(),
        "a path refused by check_get_path found something"
    );
    assert_eq!(found.as_str().is_some(), found.kind() == JsonKind::String);
    let _ = found.raw();
    let _ = found.argo_string();
    let _ = found.gjson_string();
    let _ = found.gjson_bool();
    let _ = found.gjson_float();
    let _ = found.to_value();
    let _ = found.param_value(true);
    let _ = found.param_value(false);
});
