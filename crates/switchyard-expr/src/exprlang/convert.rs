//! Conversions between JSON and expr-lang values, and Go's `%v` of an expr-lang value.

use base64::Engine as _;
use expr::Value as V;
use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::gofmt;

/// JSON to an expr-lang value: integers stay integers, other numbers are floats.
pub(crate) fn json_to_expr(json: &Json) -> V {
    match json {
        Json::Null => V::Nil,
        Json::Bool(b) => V::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => V::Integer(i),
            None => V::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => V::String(s.clone()),
        Json::Array(items) => V::Array(items.iter().map(json_to_expr).collect()),
        Json::Object(map) => V::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), json_to_expr(v)))
                .collect::<IndexMap<_, _>>(),
        ),
    }
}

/// An expr-lang value as Go's `json.Marshal` would see it: bytes become base64, NaN and
/// infinities are refused (with Go's message), maps with non-string keys are refused.
pub(crate) fn expr_to_json(value: &V) -> Result<Json, String> {
    Ok(match value {
        V::Nil => Json::Null,
        V::Bool(b) => Json::Bool(*b),
        V::Integer(i) => Json::from(*i),
        V::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None => return Err(format!("json: unsupported value: {}", gofmt::float_v(*f))),
        },
        V::String(s) => Json::String(s.clone()),
        V::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        V::Array(items) => Json::Array(
            items
                .iter()
                .map(expr_to_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        V::Map(map) => Json::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), expr_to_json(v)?)))
                .collect::<Result<serde_json::Map<_, _>, String>>()?,
        ),
        V::KeyedMap(_) => {
            return Err("json: unsupported type: map[interface {}]interface {}".to_string());
        }
        // Time values exist only when another crate enables expr-lang's `temporal` feature.
        #[allow(unreachable_patterns)]
        other => Json::String(other.to_string()),
    })
}

/// Go's `%v` of an expr-lang value.
pub(crate) fn go_v(value: &V) -> String {
    match value {
        V::Nil => "<nil>".to_string(),
        V::Bool(b) => b.to_string(),
        V::Integer(i) => i.to_string(),
        V::Float(f) => gofmt::float_v(*f),
        V::String(s) => s.clone(),
        V::Bytes(b) => {
            let parts: Vec<String> = b.iter().map(u8::to_string).collect();
            format!("[{}]", parts.join(" "))
        }
        V::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_v).collect();
            format!("[{}]", parts.join(" "))
        }
        V::Map(map) => {
            let mut entries: Vec<(&String, &V)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_v(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        V::KeyedMap(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", go_v(k), go_v(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        #[allow(unreachable_patterns)]
        other => other.to_string(),
    }
}
