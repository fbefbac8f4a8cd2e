//! Property tests with a small deterministic generator (no external crates, no clock): random GJSON paths over
//! random (and corrupted) JSON never panic and give self-consistent results; random SJSON writes either fail
//! leaving the document as it was, or put the value where both our own walk and GJSON read it back.

#![allow(clippy::unwrap_used)]

use serde_json::{Map, Value, json};
use switchyard_paths::{JsonKind, Operation, apply_operation, delete, get, is_valid_json, set};

/// SplitMix64: tiny, deterministic, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const KEYS: &[&str] = &[
    "a", "b", "c", "0", "1", "2", "-1", "a.b", "x y", "é", "", "#", "*", "@", ":0", "\\",
];

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    let leaf = depth == 0 || rng.chance(35);
    if leaf {
        return match rng.below(7) {
            0 => Value::Null,
            1 => Value::Bool(rng.chance(50)),
            2 => json!(rng.below(1000) as i64 - 500),
            3 => json!(rng.below(1000) as f64 / 8.0),
            4 => json!(*rng.pick(&["", "a", "Murphy", "D*", "line\nbreak", "q\"uote", "ünï"])),
            5 => json!(rng.next()),
            _ => json!(*rng.pick(KEYS)),
        };
    }
    if rng.chance(50) {
        let len = rng.below(5);
        Value::Array((0..len).map(|_| random_value(rng, depth - 1)).collect())
    } else {
        let mut map = Map::new();
        for _ in 0..rng.below(5) {
            map.insert((*rng.pick(KEYS)).to_owned(), random_value(rng, depth - 1));
        }
        Value::Object(map)
    }
}

/// Compact or pretty text, sometimes corrupted (cut short, a byte changed, garbage appended).
fn random_text(rng: &mut Rng, value: &Value) -> String {
    let mut text = if rng.chance(50) {
        value.to_string()
    } else {
        serde_json::to_string_pretty(value).unwrap()
    };
    if rng.chance(30) {
        let mut chars: Vec<char> = text.chars().collect();
        match rng.below(3) {
            0 => chars.truncate(rng.below(chars.len() + 1)),
            1 if !chars.is_empty() => {
                let at = rng.below(chars.len());
                chars[at] = *rng.pick(&[
                    '{', '}', '[', ']', '"', ',', ':', '\\', 'x', '1', ' ', '\u{0}',
                ]);
            }
            _ => chars.extend("}]\"\\,:".chars().take(rng.below(6))),
        }
        text = chars.into_iter().collect();
    }
    text
}

const PATH_PIECES: &[&str] = &[
    "a",
    "b",
    "c",
    "0",
    "1",
    "2",
    "-1",
    "é",
    "#",
    "*",
    "?",
    "a*",
    "?b",
    "\\.",
    "\\",
    ":",
    "|",
    ".",
    "..",
    "@reverse",
    "@this",
    "@pretty",
    "@ugly",
    "@valid",
    "@flatten",
    "@join",
    "@keys",
    "@pretty:{\"sortKeys\":true}",
    "#(a==1)",
    "#(a==1)#",
    "#(b%\"*\")#",
    "#(b!%\"M*\")",
    "#(a>1)",
    "#(==\"a\")",
    "#(a)",
    "#(",
    ")",
    "(",
    "[",
    "]",
    "{",
    "}",
    ",",
    "!",
    "!true",
    "\"a\"",
    "~true",
    "%",
    "=",
    "<",
    ">",
    "{a,b}",
    "[a,b]",
    "{k:a}",
];

fn random_path(rng: &mut Rng) -> String {
    let mut path = String::new();
    for i in 0..1 + rng.below(5) {
        if i > 0 {
            let separator = *rng.pick::<&str>(&[".", ".", ".", "|"]);
            path.push_str(separator);
        }
        let piece = *rng.pick::<&str>(PATH_PIECES);
        path.push_str(piece);
    }
    path
}

#[test]
fn random_reads_never_panic_and_are_consistent() {
    let mut rng = Rng(0x5EED_0001);
    let mut found_count = 0;
    for case in 0..20_000 {
        let value = random_value(&mut rng, 4);
        let text = random_text(&mut rng, &value);
        let path = random_path(&mut rng);
        let Some(found) = get(&text, &path) else {
            continue;
        };
        found_count += 1;
        // every accessor is total
        let _ = (
            found.argo_string(),
            found.gjson_string(),
            found.gjson_bool(),
            found.gjson_float(),
        );
        let _ = (
            found.to_value(),
            found.param_value(true),
            found.param_value(false),
            found.as_str(),
        );
        if !is_valid_json(&text) {
            continue;
        }
        let raw = found.raw();
        let first = raw.trim_start().chars().next();
        let expected = match first {
            Some('{') => JsonKind::Object,
            Some('[') => JsonKind::Array,
            Some('"') => JsonKind::String,
            Some('t' | 'f') => JsonKind::Bool,
            Some('n') => JsonKind::Null,
            _ => JsonKind::Number,
        };
        assert_eq!(
            found.kind(),
            expected,
            "case {case}: {path:?} on {text}: raw {raw:?}"
        );
        // from a valid document, what GJSON finds is valid JSON and reads back as the same kind
        let typed = found
            .to_value()
            .unwrap_or_else(|e| panic!("case {case}: {path:?} on {text}: raw {raw:?}: {e}"));
        if found.kind() == JsonKind::String {
            assert_eq!(typed.as_str(), found.as_str(), "case {case}");
        }
    }
    // the generator must actually find things, or the checks above test nothing
    assert!(
        found_count > 2_000,
        "only {found_count} reads found a value"
    );
}

/// Our reading of an SJSON path after a write: keys in objects, digits in arrays, `-1` the last element.
fn walk<'a>(doc: &'a Value, segments: &[(&str, bool)]) -> Option<&'a Value> {
    let mut node = doc;
    for &(key, forced) in segments {
        node = match node {
            Value::Object(map) => map.get(key)?,
            Value::Array(items) if key == "-1" && !forced => items.last()?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

#[test]
fn random_writes_land_where_they_are_read() {
    // (as written in the path, the key, forced)
    const SEGMENTS: &[(&str, &str, bool)] = &[
        ("a", "a", false),
        ("b", "b", false),
        ("0", "0", false),
        ("1", "1", false),
        ("3", "3", false),
        ("-1", "-1", false),
        (":0", "0", true),
        (":a", "a", true),
        ("x\\.y", "x.y", false),
        ("é", "é", false),
    ];
    let mut rng = Rng(0x5EED_0002);
    let (mut written, mut refused, mut cross_checked) = (0, 0, 0);
    for case in 0..20_000 {
        let mut doc = random_value(&mut rng, 3);
        let chosen: Vec<&(&str, &str, bool)> =
            (0..1 + rng.below(4)).map(|_| rng.pick(SEGMENTS)).collect();
        let path = chosen.iter().map(|s| s.0).collect::<Vec<_>>().join(".");
        let marker = json!({"marker": case});
        let before = doc.clone();
        match set(&mut doc, &path, marker.clone()) {
            Err(_) => {
                refused += 1;
                assert_eq!(
                    doc, before,
                    "case {case}: {path} changed the document on error"
                );
            }
            Ok(()) => {
                written += 1;
                let segments: Vec<(&str, bool)> = chosen.iter().map(|s| (s.1, s.2)).collect();
                assert_eq!(
                    walk(&doc, &segments),
                    Some(&marker),
                    "case {case}: {path} on {before} gave {doc}"
                );
                // GJSON reads the same path the same way when it has no SJSON-only syntax
                if chosen.iter().all(|s| s.0 != "-1" && !s.2) {
                    cross_checked += 1;
                    let text = doc.to_string();
                    let read = get(&text, &path).map(|f| f.to_value().unwrap());
                    assert_eq!(
                        read,
                        Some(marker.clone()),
                        "case {case}: {path} on {before} gave {doc}"
                    );
                }
            }
        }
        // operations and deletes on the result: no panics, errors change nothing
        let op = *rng.pick(&[Operation::Overwrite, Operation::Append, Operation::Prepend]);
        let before = doc.clone();
        if apply_operation(&mut doc, &path, json!("s"), op).is_err() {
            assert_eq!(doc, before, "case {case}: {op} {path}");
        }
        let before = doc.clone();
        if let Ok(None) = delete(&mut doc, &path) {
            assert_eq!(
                doc, before,
                "case {case}: delete {path} found nothing but changed the document"
            );
        }
    }
    assert!(
        written > 5_000 && refused > 500 && cross_checked > 2_000,
        "{written} {refused} {cross_checked}"
    );
}
