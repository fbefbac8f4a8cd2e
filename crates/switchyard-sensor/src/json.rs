//! JSON helpers shared by transforms and parameters: event data as an object, and output
//! normalized the way Argo's Go code writes it.

use serde_json::{Map, Number, Value};

/// Deepest nesting accepted when converting values produced by scripts (a Lua table can refer
/// to itself; this turns that into an error instead of endless recursion). Matches the depth
/// `serde_json` accepts when it parses event data.
pub(crate) const MAX_DEPTH: usize = 128;

/// The event data as a JSON object, as Argo's transforms and script filters require (they
/// unmarshal it into a Go `map[string]interface{}`).
pub(crate) fn data_object(data: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "event data is {}, not a JSON object",
            kind_name(&other)
        )),
        Err(e) => Err(format!("event data is not valid JSON: {e}")),
    }
}

/// "a string", "an array", ... for messages.
pub(crate) fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A float as Go's `encoding/json` writes a `float64`: integral values without a fraction
/// (`3`, not `3.0`); NaN and infinities are an error, as in Go.
pub(crate) fn go_number(f: f64) -> Result<Value, String> {
    if !f.is_finite() {
        return Err(format!("json: unsupported value: {f}"));
    }
    // Below 2^53 every integral float is exactly an i64.
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation)]
        return Ok(Value::Number(Number::from(f as i64)));
    }
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("json: unsupported value: {f}"))
}

/// `value` as Go writes a `map[string]interface{}` it decoded: object keys sorted, numbers as
/// `float64` (so `1.0` becomes `1`). Argo's transforms produce their output this way.
pub(crate) fn go_normalize(value: Value, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("the output nests deeper than {MAX_DEPTH} levels"));
    }
    Ok(match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if !(n.is_i64() || n.is_u64()) => go_number(f)?,
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| go_normalize(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Map::new();
            for (k, v) in entries {
                out.insert(k, go_normalize(v, depth + 1)?);
            }
            Value::Object(out)
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalizes_like_go() {
        let v = json!({"b": 1.0, "a": [2.5, {"d": 3, "c": null}]});
        let out = go_normalize(v, 0).unwrap();
        assert_eq!(out.to_string(), r#"{"a":[2.5,{"c":null,"d":3}],"b":1}"#);
        assert!(go_number(f64::NAN).is_err());
        assert_eq!(go_number(1e300).unwrap(), serde_json::Value::from(1e300));
        assert_eq!(
            data_object(b"[1]").unwrap_err(),
            "event data is an array, not a JSON object"
        );
        assert!(
            data_object(b"{")
                .unwrap_err()
                .starts_with("event data is not valid JSON")
        );
    }
}
