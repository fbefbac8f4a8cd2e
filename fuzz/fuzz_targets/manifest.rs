//! Manifests as `switchyard apply` and `switchyard lint` check them: YAML/JSON text → located
//! tree → typed model → semantic validation → each Sensor's rules compiled
//! (`switchyard_server::apply::check`, the one function both commands run).
//!
//! Input: the text of one manifest file (any number of documents).
//!
//! Checked: every diagnostic is located in the file; an accepted object's JSON reads back, as
//! the store reads it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_manifest::{Limits, Source};

/// The bundled SQLite (linked through the server's store) defines a few same-sized globals
/// twice, which AddressSanitizer's strictest ODR check reports at start; keep the check for
/// globals whose sizes differ.
#[unsafe(no_mangle)]
pub extern "C" fn __asan_default_options() -> *const std::ffi::c_char {
    c"detect_odr_violation=1".as_ptr()
}

fuzz_target!(|data: &[u8]| {
    switchyard_fuzz::contain_engine_panics();
    let Some(text) = switchyard_fuzz::text(data) else {
        return;
    };
    let sources = [Source::new("fuzz.yaml", text)];
    let checked =
        switchyard_server::apply::check(&sources, &Limits::default(), None, &|_, _, _| true);
    // Every finding about the input names it and says where.
    for d in &checked.diagnostics {
        assert_eq!(d.file.as_deref(), Some("fuzz.yaml"), "{d:?}");
    }
    // What apply accepts, the store can read back: it stores each object's JSON text.
    if !checked.has_errors() {
        for object in &checked.objects {
            let text = object.resource.to_value().to_string();
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
                panic!("an accepted object does not read back: {e}\n{text}");
            }
        }
    }
});
