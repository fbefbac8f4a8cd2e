//! Reading event JSON with GJSON paths (`dataKey`, `contextKey`, data filter `path`).
//!
//! The path language is the `gjson` crate's, the Go author's own port, so nested keys, `#`, `#(...)` queries,
//! `%` patterns, wildcards, escapes, modifiers and multipaths behave as in Argo Events. What this module adds is an
//! owned [`Found`] and the string and number conversions of Go's `gjson.Result`, which Argo relies on:
//! `Result.String()` formats non-integer numbers with `strconv.FormatFloat(f, 'f', -1, 64)`, not as written.

use crate::PathError;
use serde_json::Value;

/// The kind of a JSON value found by [`get`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonKind {
    /// `null`
    Null,
    /// `true` or `false`
    Bool,
    /// a number
    Number,
    /// a string
    String,
    /// an array (Argo's type name: `JSON`)
    Array,
    /// an object (Argo's type name: `JSON`)
    Object,
}

/// A value found by [`get`]: its raw JSON text (as it appears in the document, whitespace kept, or as a modifier
/// or multipath built it) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    kind: JsonKind,
    raw: String,
    /// The unescaped text when `kind` is `String`; empty otherwise.
    text: String,
}

/// The most parts a path may have, counting each `.`, `|`, `@`, `(`, `[` and `{` as starting one (escaped or not).
/// The `gjson` crate walks a path recursively; on a 2 MiB thread stack a path of about 800 parts exhausts it.
/// SJSON write paths have the same limit, which also bounds how deep one write can nest a document.
pub const MAX_PATH_PARTS: usize = 128;

/// The deepest nesting of arrays and objects a document may have to be read or validated. GJSON's validator
/// recurses once per level and exhausts a 2 MiB thread stack somewhere past 10,000 levels.
pub const MAX_JSON_DEPTH: usize = 1_000;

/// Reads `json` at a GJSON `path`; `None` when nothing is there (a missing key, an index out of range, a query with
/// no match, an unknown modifier such as `@keys`, which the Rust port lacks), and also when the path has more than
/// [`MAX_PATH_PARTS`] parts (see [`check_get_path`]) or the document nests deeper than [`MAX_JSON_DEPTH`].
///
/// `json` should be valid JSON (Argo checks event data first; see [`is_valid_json`]). Invalid input does not
/// panic, but what it returns is unspecified, as with GJSON itself.
pub fn get(json: &str, path: &str) -> Option<Found> {
    if check_get_path(path).is_err() || deeper_than(json, MAX_JSON_DEPTH) {
        return None;
    }
    let value = gjson::get(json, path);
    if !value.exists() {
        return None;
    }
    let kind = match value.kind() {
        gjson::Kind::Null => JsonKind::Null,
        gjson::Kind::True | gjson::Kind::False => JsonKind::Bool,
        gjson::Kind::Number => JsonKind::Number,
        gjson::Kind::String => JsonKind::String,
        gjson::Kind::Array => JsonKind::Array,
        gjson::Kind::Object => JsonKind::Object,
    };
    let text = if kind == JsonKind::String {
        value.str().to_owned()
    } else {
        String::new()
    };
    Some(Found {
        kind,
        raw: value.json().to_owned(),
        text,
    })
}

/// Checks what [`get`] checks of a path before reading: no more than [`MAX_PATH_PARTS`] parts. (GJSON has no
/// syntax errors: any other text is a path, which may find nothing.)
pub fn check_get_path(path: &str) -> Result<(), PathError> {
    let parts = path_parts(path);
    if parts > MAX_PATH_PARTS {
        return Err(PathError::PathTooLong {
            parts,
            max: MAX_PATH_PARTS,
        });
    }
    Ok(())
}

/// How many parts a path has for [`MAX_PATH_PARTS`]: one, plus one per character that starts or nests a part.
pub(crate) fn path_parts(path: &str) -> usize {
    1 + path
        .bytes()
        .filter(|b| matches!(b, b'.' | b'|' | b'@' | b'(' | b'[' | b'{'))
        .count()
}

/// Whether `json` is one valid JSON document (GJSON's `Valid`, which Argo's data filters check first). A document
/// nested deeper than [`MAX_JSON_DEPTH`] is reported invalid.
pub fn is_valid_json(json: &str) -> bool {
    !deeper_than(json, MAX_JSON_DEPTH) && gjson::valid(json)
}

/// Whether the arrays and objects of `json` nest deeper than `max`, brackets inside strings aside. A single pass
/// with no recursion; it does not validate.
fn deeper_than(json: &str, max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for b in json.bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

impl Found {
    /// The kind of the value.
    pub fn kind(&self) -> JsonKind {
        self.kind
    }

    /// The raw JSON text: a string keeps its quotes and escapes.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The unescaped string, when the value is a string.
    pub fn as_str(&self) -> Option<&str> {
        (self.kind == JsonKind::String).then_some(self.text.as_str())
    }

    /// Argo's string form of a parameter value (`getValueByKey`): a string unquoted, an object, array or `null` as
    /// raw JSON, a boolean as `true`/`false`, a number as GJSON's `Result.String()` gives it.
    pub fn argo_string(&self) -> String {
        match self.kind {
            JsonKind::Null => self.raw.clone(),
            _ => self.gjson_string(),
        }
    }

    /// GJSON's `Result.String()`: like [`Found::argo_string`] except that `null` gives the empty string. This is
    /// what Argo concatenates for `append`/`prepend` and matches data filters of type `string` against.
    pub fn gjson_string(&self) -> String {
        match self.kind {
            JsonKind::Null => String::new(),
            JsonKind::Bool => if self.raw.starts_with('t') {
                "true"
            } else {
                "false"
            }
            .to_owned(),
            JsonKind::Number => go_number_string(&self.raw),
            JsonKind::String => self.text.clone(),
            JsonKind::Array | JsonKind::Object => self.raw.clone(),
        }
    }

    /// GJSON's `Result.Bool()` (data filters of type `bool`): `true`; a string that Go's `strconv.ParseBool` reads
    /// as true once lower-cased (`1`, `t`, `true`); a non-zero number. Anything else is false.
    pub fn gjson_bool(&self) -> bool {
        match self.kind {
            JsonKind::Bool => self.raw.starts_with('t'),
            JsonKind::String => matches!(self.text.to_lowercase().as_str(), "1" | "t" | "true"),
            JsonKind::Number => parse_go_float(&self.raw) != 0.0,
            JsonKind::Null | JsonKind::Array | JsonKind::Object => false,
        }
    }

    /// GJSON's `Result.Float()` (data filters of type `number`): a number's value, `true` as 1, a string parsed as a
    /// float (0 when it is not one), anything else 0.
    pub fn gjson_float(&self) -> f64 {
        match self.kind {
            JsonKind::Bool => {
                if self.raw.starts_with('t') {
                    1.0
                } else {
                    0.0
                }
            }
            JsonKind::Number => parse_go_float(&self.raw),
            JsonKind::String => parse_go_float(&self.text),
            JsonKind::Null | JsonKind::Array | JsonKind::Object => 0.0,
        }
    }

    /// The typed value. Numbers go through `serde_json` (a non-integer becomes an `f64`).
    pub fn to_value(&self) -> Result<Value, PathError> {
        if self.kind == JsonKind::String {
            return Ok(Value::String(self.text.clone()));
        }
        serde_json::from_str(&self.raw).map_err(|e| PathError::InvalidJson {
            reason: e.to_string(),
        })
    }

    /// The value Argo writes at a trigger parameter's `dest`: with `useRawData` and a non-string value, the typed
    /// value (SJSON `SetRaw`); otherwise the string form, as a JSON string (SJSON `Set` with a Go string).
    pub fn param_value(&self, use_raw_data: bool) -> Result<Value, PathError> {
        if use_raw_data && self.kind != JsonKind::String {
            self.to_value()
        } else {
            Ok(Value::String(self.argo_string()))
        }
    }
}

/// Go's `strconv.ParseFloat(s, 64)` with the error ignored, as GJSON does: out-of-range values become infinities,
/// anything unparsable 0. (Go's hexadecimal float syntax is not accepted here.)
pub(crate) fn parse_go_float(s: &str) -> f64 {
    s.parse::<f64>().unwrap_or(0.0)
}

/// GJSON's `Result.String()` of a number given as raw JSON: an optional `-` and digits only stay as written;
/// anything else is parsed and formatted like Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub(crate) fn go_number_string(raw: &str) -> String {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        return raw.to_owned();
    }
    go_format_float(parse_go_float(raw))
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that reads back as `f`, never with an exponent.
/// Rust's `Display` for `f64` has the same contract; only the infinities and NaN are spelled differently.
pub(crate) fn go_format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{f}")
    }
}
