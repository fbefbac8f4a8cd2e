//! Order input checked against an [`InputSchema`]: every error, in a stable order (each object's properties in
//! document order, then its undeclared fields in the order they were sent), each in Pydantic v2's words.
//!
//! Like Pydantic, one value gets at most one error (its first failed check: type, `const`, `enum`, then the
//! type's own constraints), while objects and lists report every bad member. Unlike Pydantic's lax mode, types
//! follow JSON Schema: `"3"` is not an integer and `true` is not a number, but `3.0` is the integer `3`.

use std::collections::HashMap;

use serde_json::{Map, Number, Value, json};

use crate::error::{FieldError, LocPart};
use crate::format;
use crate::number::{self, canonical, json_equal};
use crate::schema::{InputSchema, JsonType, Schema};

/// Whether strings are still to be read as the type their schema declares (`key=value` text from a command
/// line) or are already JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Json,
    Text,
}

impl InputSchema {
    /// Validates an order body (parsed JSON; `null` is a missing body). Returns the body as the order carries
    /// it: declared fields in document order, defaults filled in, integral numbers of integer fields written as
    /// integers.
    pub fn validate(&self, body: &Value) -> Result<Value, Vec<FieldError>> {
        let loc = vec![LocPart::Str("body".to_owned())];
        if body.is_null() {
            return Err(vec![FieldError::new(
                "missing",
                &loc,
                "Field required",
                body,
            )]);
        }
        run(self.root(), body, Mode::Json, loc)
    }

    /// Validates `key=value` pairs (a command line's `--set region=eastus2`): each value is read as the type
    /// its property declares (integer, number and boolean text as Pydantic reads them, objects and arrays as
    /// JSON text), then the result is validated like a body. A dotted key (`network.cidr`) reaches into an
    /// object property when no property has the dotted name itself. A key given twice keeps its last value.
    pub fn validate_fields(&self, fields: &[(String, String)]) -> Result<Value, Vec<FieldError>> {
        let mut body = Map::new();
        for (key, text) in fields {
            insert(&mut body, &resolve(self.root(), key), text);
        }
        run(
            self.root(),
            &Value::Object(body),
            Mode::Text,
            vec![LocPart::Str("body".to_owned())],
        )
    }
}

impl InputSchema {
    /// Like [`InputSchema::validate_fields`], on top of a body that already has fields (a file given with the
    /// `key=value` pairs): each pair is read as its property's type and set into `base` (replacing what is
    /// there), then the whole is validated like a body. Values in `base` are JSON and are not re-read.
    ///
    /// Errors reading the pairs come first, in the order the pairs were given; then the body's errors, in
    /// document order, leaving out those about a pair that could not be read.
    pub fn validate_fields_over(
        &self,
        base: &Value,
        fields: &[(String, String)],
    ) -> Result<Value, Vec<FieldError>> {
        let Value::Object(base_map) = base else {
            return self.validate(base);
        };
        let mut body = base_map.clone();
        let mut unread: Vec<FieldError> = Vec::new();
        for (key, text) in fields {
            let segments = resolve(self.root(), key);
            let mut loc = vec![LocPart::Str("body".to_owned())];
            loc.extend(segments.iter().map(|s| LocPart::Str(s.clone())));
            // A later pair for the same key replaces an earlier one, and so does its error.
            unread.retain(|u| u.loc != loc);
            let target = segments
                .iter()
                .try_fold(self.root(), |s, seg| s.property(seg).map(|p| &p.schema));
            let value = match target {
                // Undeclared: set as written, so validation reports it where it is.
                None => Value::String(text.clone()),
                Some(schema) => match coerce(schema, text) {
                    Ok(v) => v,
                    Err(e) => {
                        unread.push(e.into_error(&loc, &Value::String(text.clone())));
                        remove(&mut body, &segments);
                        continue;
                    }
                },
            };
            set(&mut body, &segments, value);
        }
        match self.validate(&Value::Object(body)) {
            Ok(v) if unread.is_empty() => Ok(v),
            Ok(_) => Err(unread),
            Err(errors) => {
                let about_unread =
                    |e: &FieldError| unread.iter().any(|u| e.loc.starts_with(&u.loc));
                let rest: Vec<FieldError> =
                    errors.into_iter().filter(|e| !about_unread(e)).collect();
                unread.extend(rest);
                Err(unread)
            }
        }
    }
}

/// Sets `value` at `segments`, making objects on the way (replacing anything else there).
fn set(body: &mut Map<String, Value>, segments: &[String], value: Value) {
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut map = body;
    for segment in parents {
        let entry = map
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        map = match entry {
            Value::Object(m) => m,
            _ => return,
        };
    }
    map.insert(last.clone(), value);
}

/// Removes the value at `segments`, if there is one.
fn remove(body: &mut Map<String, Value>, segments: &[String]) {
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut map = body;
    for segment in parents {
        map = match map.get_mut(segment) {
            Some(Value::Object(m)) => m,
            _ => return,
        };
    }
    map.remove(last);
}

/// Validates a value written in a schema (`default`, `enum`, `examples`) against that schema; locations are
/// relative to the value.
pub(crate) fn check_value(schema: &Schema, value: &Value) -> Result<Value, Vec<FieldError>> {
    run(schema, value, Mode::Json, Vec::new())
}

fn run(
    schema: &Schema,
    value: &Value,
    mode: Mode,
    mut loc: Vec<LocPart>,
) -> Result<Value, Vec<FieldError>> {
    let mut errors = Vec::new();
    match check(schema, value, mode, &mut loc, &mut errors) {
        Some(v) if errors.is_empty() => Ok(v),
        _ => Err(errors),
    }
}

/// The path segments a `--set` key names: the key itself when it is a declared property, otherwise the longest
/// declared object property it starts with (`name.`) and the rest resolved inside that property. An unresolved
/// key stays whole, so it is reported as one undeclared field.
fn resolve(schema: &Schema, key: &str) -> Vec<String> {
    if schema.property(key).is_some() {
        return vec![key.to_owned()];
    }
    let inside = schema
        .properties
        .iter()
        .filter(|p| p.schema.ty == Some(JsonType::Object))
        .filter(|p| {
            key.strip_prefix(p.name.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|rest| !rest.is_empty())
        })
        .max_by_key(|p| p.name.len());
    match inside {
        Some(p) => {
            let mut out = vec![p.name.clone()];
            out.extend(resolve(&p.schema, &key[p.name.len() + 1..]));
            out
        }
        None => vec![key.to_owned()],
    }
}

fn insert(body: &mut Map<String, Value>, segments: &[String], text: &str) {
    // An earlier `key=value` that set a whole object gives way to a later, more specific key.
    set(body, segments, Value::String(text.to_owned()));
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// How Pydantic quotes an expected value: strings in single quotes, everything else as JSON.
fn repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`.
fn expected(values: &[Value]) -> String {
    let shown: Vec<String> = values.iter().map(repr).collect();
    match shown.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

fn check(
    s: &Schema,
    value: &Value,
    mode: Mode,
    loc: &mut Vec<LocPart>,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let coerced;
    let (value, mode) = match (mode, value) {
        (Mode::Text, Value::String(text)) => match coerce(s, text) {
            Ok(v) => {
                coerced = v;
                (&coerced, Mode::Json)
            }
            Err(e) => {
                errors.push(e.into_error(loc, value));
                return None;
            }
        },
        _ => (value, mode),
    };
    let fail = |errors: &mut Vec<FieldError>, kind: &str, msg: String, ctx: Option<Value>| {
        let mut e = FieldError::new(kind, loc, msg, value);
        e.ctx = ctx;
        errors.push(e);
        None
    };
    let normalized = match (s.ty, value) {
        (None, _)
        | (Some(JsonType::String), Value::String(_))
        | (Some(JsonType::Number), Value::Number(_))
        | (Some(JsonType::Boolean), Value::Bool(_))
        | (Some(JsonType::Object), Value::Object(_))
        | (Some(JsonType::Array), Value::Array(_)) => None,
        (Some(JsonType::Integer), Value::Number(n)) => match integer(n) {
            Some(v) => Some(v),
            None => {
                return fail(
                    errors,
                    "int_from_float",
                    "Input should be a valid integer, got a number with a fractional part"
                        .to_owned(),
                    None,
                );
            }
        },
        (Some(ty), _) => {
            let (kind, msg) = match ty {
                JsonType::String => ("string_type", "Input should be a valid string"),
                JsonType::Integer => ("int_type", "Input should be a valid integer"),
                JsonType::Number => ("float_type", "Input should be a valid number"),
                JsonType::Boolean => ("bool_type", "Input should be a valid boolean"),
                JsonType::Object => (
                    "model_attributes_type",
                    "Input should be a valid dictionary or object to extract fields from",
                ),
                JsonType::Array => ("list_type", "Input should be a valid list"),
            };
            return fail(errors, kind, msg.to_owned(), None);
        }
    };
    if let Some(c) = &s.constant
        && !json_equal(value, c)
    {
        let want = repr(c);
        return fail(
            errors,
            "literal_error",
            format!("Input should be {want}"),
            Some(json!({ "expected": want })),
        );
    }
    if let Some(choices) = &s.choices
        && !choices.iter().any(|c| json_equal(value, c))
    {
        let want = expected(choices);
        return fail(
            errors,
            "enum",
            format!("Input should be {want}"),
            Some(json!({ "expected": want })),
        );
    }
    match value {
        Value::String(text) if s.ty == Some(JsonType::String) => {
            if let Some(refusal) = string_rules(s, text) {
                return fail(errors, refusal.kind, refusal.msg, refusal.ctx);
            }
        }
        Value::Number(n) if matches!(s.ty, Some(JsonType::Integer | JsonType::Number)) => {
            if let Some((kind, msg, ctx)) = number_rules(s, n) {
                return fail(errors, kind, msg, Some(ctx));
            }
        }
        Value::Object(map) if s.ty == Some(JsonType::Object) => {
            return object(s, map, value, mode, loc, errors);
        }
        Value::Array(items) if s.ty == Some(JsonType::Array) => {
            return array(s, items, value, mode, loc, errors);
        }
        _ => {}
    }
    Some(normalized.unwrap_or_else(|| value.clone()))
}

/// An integer field's value: integers as they are, integral floats (`3.0`) as integers; `None` for a number with
/// a fractional part.
fn integer(n: &Number) -> Option<Value> {
    if n.is_i64() || n.is_u64() {
        return Some(Value::Number(n.clone()));
    }
    let f = n.as_f64()?;
    if !f.is_finite() || f.fract() != 0.0 {
        return None;
    }
    match i64::try_from(f as i128) {
        Ok(i) => Some(Value::from(i)),
        // Integral but beyond 64 bits: still an integer, kept as written.
        Err(_) => Some(Value::Number(n.clone())),
    }
}

fn string_rules(s: &Schema, text: &str) -> Option<format::Refusal> {
    let refusal = |kind, msg, ctx| {
        Some(format::Refusal {
            kind,
            msg,
            ctx: Some(ctx),
        })
    };
    let chars = text.chars().count() as u64;
    if let Some(min) = s.min_length
        && chars < min
    {
        return refusal(
            "string_too_short",
            format!("String should have at least {min} character{}", plural(min)),
            json!({ "min_length": min }),
        );
    }
    if let Some(max) = s.max_length
        && chars > max
    {
        return refusal(
            "string_too_long",
            format!("String should have at most {max} character{}", plural(max)),
            json!({ "max_length": max }),
        );
    }
    if let Some(p) = &s.pattern
        && !p.regex.is_match(text)
    {
        return refusal(
            "string_pattern_mismatch",
            format!("String should match pattern '{}'", p.source),
            json!({ "pattern": p.source }),
        );
    }
    if let Some(f) = s.format {
        return format::check(f, text).err();
    }
    None
}

/// Pydantic's order: `multiple_of`, then the upper bounds, then the lower ones.
fn number_rules(s: &Schema, n: &Number) -> Option<(&'static str, String, Value)> {
    if let Some(m) = &s.multiple_of
        && !number::is_multiple_of(n, m)
    {
        return Some((
            "multiple_of",
            format!("Input should be a multiple of {m}"),
            json!({ "multiple_of": m }),
        ));
    }
    let bounds = [
        (
            &s.maximum,
            "le",
            "less_than_equal",
            "less than or equal to",
            false,
        ),
        (&s.exclusive_maximum, "lt", "less_than", "less than", true),
        (
            &s.minimum,
            "ge",
            "greater_than_equal",
            "greater than or equal to",
            false,
        ),
        (
            &s.exclusive_minimum,
            "gt",
            "greater_than",
            "greater than",
            true,
        ),
    ];
    for (bound, key, kind, words, strict) in bounds {
        let Some(bound) = bound else {
            continue;
        };
        let Some(order) = number::compare(n, bound) else {
            continue;
        };
        let upper = key.starts_with('l');
        let bad = match (upper, strict) {
            (true, false) => order.is_gt(),
            (true, true) => order.is_ge(),
            (false, false) => order.is_lt(),
            (false, true) => order.is_le(),
        };
        if bad {
            return Some((
                kind,
                format!("Input should be {words} {bound}"),
                json!({ key: bound }),
            ));
        }
    }
    None
}

fn object(
    s: &Schema,
    map: &Map<String, Value>,
    whole: &Value,
    mode: Mode,
    loc: &mut Vec<LocPart>,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let before = errors.len();
    let mut out = Map::new();
    for p in &s.properties {
        loc.push(LocPart::Str(p.name.clone()));
        match map.get(&p.name) {
            Some(v) => {
                if let Some(v) = check(&p.schema, v, mode, loc, errors) {
                    out.insert(p.name.clone(), v);
                }
            }
            None => {
                if let Some(d) = &p.schema.default {
                    out.insert(p.name.clone(), d.clone());
                } else if p.required {
                    // Pydantic shows the object the field is missing from.
                    errors.push(FieldError::new("missing", loc, "Field required", whole));
                }
            }
        }
        loc.pop();
    }
    for (k, v) in map {
        if s.property(k).is_none() {
            loc.push(LocPart::Str(k.clone()));
            errors.push(FieldError::new(
                "extra_forbidden",
                loc,
                "Extra inputs are not permitted",
                v,
            ));
            loc.pop();
        }
    }
    (errors.len() == before).then_some(Value::Object(out))
}

fn array(
    s: &Schema,
    items: &[Value],
    whole: &Value,
    mode: Mode,
    loc: &mut Vec<LocPart>,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let before = errors.len();
    let n = items.len() as u64;
    if let Some(min) = s.min_items
        && n < min
    {
        let mut e = FieldError::new(
            "too_short",
            loc,
            format!(
                "List should have at least {min} item{} after validation, not {n}",
                plural(min)
            ),
            whole,
        );
        e.ctx = Some(json!({"field_type": "List", "min_length": min, "actual_length": n}));
        errors.push(e);
    }
    if let Some(max) = s.max_items
        && n > max
    {
        let mut e = FieldError::new(
            "too_long",
            loc,
            format!(
                "List should have at most {max} item{} after validation, not {n}",
                plural(max)
            ),
            whole,
        );
        e.ctx = Some(json!({"field_type": "List", "max_length": max, "actual_length": n}));
        errors.push(e);
    }
    let mut out = Vec::with_capacity(items.len());
    let mut items_ok = true;
    for (i, item) in items.iter().enumerate() {
        match &s.items {
            Some(item_schema) => {
                loc.push(LocPart::Index(i));
                match check(item_schema, item, mode, loc, errors) {
                    Some(v) => out.push(v),
                    None => items_ok = false,
                }
                loc.pop();
            }
            None => out.push(item.clone()),
        }
    }
    // Duplicates are judged on the items as validated (so `3` and `3.0` are one value), hence only when every
    // item is valid.
    if s.unique_items && items_ok {
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(out.len());
        for (i, v) in out.iter().enumerate() {
            match seen.get(&canonical(v)) {
                Some(first) => {
                    let reason =
                        format!("List should have unique items, this item repeats item {first}");
                    loc.push(LocPart::Index(i));
                    errors.push(
                        FieldError::new("value_error", loc, format!("Value error, {reason}"), v)
                            .with_ctx(json!({ "error": reason })),
                    );
                    loc.pop();
                }
                None => {
                    seen.insert(canonical(v), i);
                }
            }
        }
    }
    (errors.len() == before).then_some(Value::Array(out))
}

/// Why text could not be read as its declared type.
struct Unreadable {
    kind: &'static str,
    msg: String,
    ctx: Option<Value>,
}

impl Unreadable {
    fn into_error(self, loc: &[LocPart], input: &Value) -> FieldError {
        let mut e = FieldError::new(self.kind, loc, self.msg, input);
        e.ctx = self.ctx;
        e
    }
}

/// Reads command-line text as the type `s` declares.
fn coerce(s: &Schema, text: &str) -> Result<Value, Unreadable> {
    match s.ty {
        Some(JsonType::String) => Ok(Value::String(text.to_owned())),
        Some(JsonType::Integer) => read_integer(text).ok_or_else(|| Unreadable {
            kind: "int_parsing",
            msg: "Input should be a valid integer, unable to parse string as an integer".to_owned(),
            ctx: None,
        }),
        Some(JsonType::Number) => read_number(text),
        Some(JsonType::Boolean) => read_bool(text).ok_or_else(|| Unreadable {
            kind: "bool_parsing",
            msg: "Input should be a valid boolean, unable to interpret input".to_owned(),
            ctx: None,
        }),
        Some(JsonType::Object | JsonType::Array) => {
            serde_json::from_str(text).map_err(|e| Unreadable {
                kind: "json_invalid",
                msg: format!("Invalid JSON: {e}"),
                ctx: Some(json!({ "error": e.to_string() })),
            })
        }
        None => Ok(untyped(s, text)),
    }
}

/// A property without a type: the text itself if `const`/`enum` accept it, else the text as JSON if that parses
/// (and is accepted, when there is a `const`/`enum`), else the text.
fn untyped(s: &Schema, text: &str) -> Value {
    let raw = Value::String(text.to_owned());
    let accepts = |v: &Value| {
        s.constant.as_ref().is_none_or(|c| json_equal(v, c))
            && s.choices
                .as_ref()
                .is_none_or(|cs| cs.iter().any(|c| json_equal(v, c)))
    };
    let restricted = s.constant.is_some() || s.choices.is_some();
    if restricted && accepts(&raw) {
        return raw;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v) if !restricted || accepts(&v) => v,
        _ => raw,
    }
}

/// Integer text as Pydantic reads it: optional sign, digits (leading zeros allowed), optionally `.0…`.
fn read_integer(text: &str) -> Option<Value> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits = match digits.split_once('.') {
        Some((whole, fraction)) if fraction.bytes().all(|b| b == b'0') => whole,
        Some(_) => return None,
        None => digits,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.trim_start_matches('0');
    if magnitude.len() > 30 {
        // Beyond any 64-bit integer; kept as a float like serde_json keeps such literals.
        let f: f64 = t.parse().ok()?;
        return Number::from_f64(f).map(Value::Number);
    }
    let n: i128 = if magnitude.is_empty() {
        0
    } else {
        magnitude.parse().ok()?
    };
    let n = if negative { -n } else { n };
    if let Ok(i) = i64::try_from(n) {
        Some(Value::from(i))
    } else if let Ok(u) = u64::try_from(n) {
        Some(Value::from(u))
    } else {
        Number::from_f64(n as f64).map(Value::Number)
    }
}

fn read_number(text: &str) -> Result<Value, Unreadable> {
    if let Some(v) = read_integer(text).filter(|_| !text.contains('.')) {
        return Ok(v);
    }
    let f: f64 = text.trim().parse().map_err(|_| Unreadable {
        kind: "float_parsing",
        msg: "Input should be a valid number, unable to parse string as a number".to_owned(),
        ctx: None,
    })?;
    Number::from_f64(f).map(Value::Number).ok_or(Unreadable {
        // JSON has no infinities or NaN, so the order could not carry one.
        kind: "finite_number",
        msg: "Input should be a finite number".to_owned(),
        ctx: None,
    })
}

/// The words Pydantic accepts for booleans.
fn read_bool(text: &str) -> Option<Value> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(Value::Bool(true)),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(Value::Bool(false)),
        _ => None,
    }
}
