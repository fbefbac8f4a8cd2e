//! SJSON writes (a trigger parameter's `dest`) with a fuzzed path and value over a fuzzed
//! document: `overwrite`, `append`, `prepend` (`apply_operation`) and `delete`.
//!
//! Input: `knobs \0 document \0 dest \0 value`. Knobs pick the operation and whether the value
//! is raw JSON (`useRawData`) or a string. An empty document is `null`, as in Argo.
//!
//! Checked: a failed write leaves the document as it was; an `overwrite` that succeeds puts the
//! value where the path says.

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchyard_paths::{Operation, Segment, apply_operation, delete, parse_set_path};

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Write(Operation),
    Delete,
}

fuzz_target!(|data: &[u8]| {
    let [knobs, document, dest, value] = switchyard_fuzz::parts(data);
    let (Some(document), Some(dest), Some(value)) = (
        switchyard_fuzz::text(document),
        switchyard_fuzz::text(dest),
        switchyard_fuzz::text(value),
    ) else {
        return;
    };
    let mut u = Unstructured::new(knobs);
    let op = *u
        .choose(&[
            Op::Write(Operation::Overwrite),
            Op::Write(Operation::Append),
            Op::Write(Operation::Prepend),
            Op::Delete,
        ])
        .unwrap_or(&Op::Write(Operation::Overwrite));
    let raw: bool = u.arbitrary().unwrap_or(false);

    let mut doc = if document.trim().is_empty() {
        Value::Null
    } else {
        match serde_json::from_str::<Value>(document) {
            Ok(doc) => doc,
            Err(_) => return,
        }
    };
    let value = if raw {
        serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()))
    } else {
        Value::String(value.to_owned())
    };
    let before = doc.clone();
    let segments = parse_set_path(dest);
    match op {
        Op::Delete => match delete(&mut doc, dest) {
            Ok(Some(_)) => assert!(segments.is_ok()),
            Ok(None) | Err(_) => assert_eq!(
                doc, before,
                "a delete that removed nothing changed the document"
            ),
        },
        Op::Write(operation) => match apply_operation(&mut doc, dest, value.clone(), operation) {
            Err(_) => assert_eq!(doc, before, "a failed write changed the document"),
            Ok(()) => {
                let segments =
                    segments.unwrap_or_else(|e| panic!("written through a refused path: {e}"));
                if operation == Operation::Overwrite {
                    assert_eq!(
                        walk(&doc, &segments),
                        Some(&value),
                        "not where the path says"
                    );
                }
                // The document is still JSON a sensor can hand on.
                let text = doc.to_string();
                assert!(serde_json::from_str::<Value>(&text).is_ok());
            }
        },
    }
});

/// Where an SJSON path points: object keys; array indexes (digits, even after a forcing `:`)
/// and `-1`, which names the element a write appended (the last).
fn walk<'a>(mut node: &'a Value, segments: &[Segment]) -> Option<&'a Value> {
    for segment in segments {
        node = match node {
            Value::Object(map) => map.get(&segment.key)?,
            Value::Array(items) if !segment.force_key && segment.key == "-1" => items.last()?,
            Value::Array(items) if segment.key.bytes().all(|b| b.is_ascii_digit()) => {
                items.get(segment.key.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(node)
}
