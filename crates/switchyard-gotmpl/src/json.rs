//! Go's `encoding/json` over [`Value`]s: what sprig's `toJson`, `toPrettyJson` and `toRawJson`
//! produce, and `fromJson`'s decoding.
//!
//! Encoding matches `json.Marshal`: object keys sorted, `<`, `>`, `&`, U+2028 and U+2029
//! escaped (the raw form keeps `<>&`), `\b` and `\f` written short (Go 1.22 and later), floats
//! in `%f` form between 1e-6 and 1e21 and in short exponent form (`1e-7`, `1e+21`) outside.
//! NaN and infinities cannot be encoded.

use crate::gofmt::{Buf, format_float};
use crate::value::{Value, from_json};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// `json.Marshal`.
    Compact,
    /// `json.MarshalIndent(v, "", "  ")`.
    Pretty,
    /// An encoder with `SetEscapeHTML(false)`.
    Raw,
}

/// Encodes `v`; fails on NaN or infinities (Go's `UnsupportedValueError`) or when the text would
/// exceed `limit` bytes.
pub(crate) fn encode(v: &Value, style: Style, limit: usize) -> Result<String, String> {
    let mut buf = Buf::new(limit);
    write_value(v, style, 0, &mut buf)?;
    if buf.overflowed() {
        return Err(format!("result exceeds {limit} bytes"));
    }
    Ok(buf.into_string())
}

fn newline(buf: &mut Buf, level: usize) {
    buf.push('\n');
    for _ in 0..level {
        buf.push_str("  ");
    }
}

fn write_value(v: &Value, style: Style, level: usize, buf: &mut Buf) -> Result<(), String> {
    if buf.overflowed() {
        return Ok(());
    }
    match v {
        Value::Nil => buf.push_str("null"),
        Value::Bool(b) => buf.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => buf.push_str(&i.to_string()),
        Value::Byte(b) => buf.push_str(&b.to_string()),
        Value::Float(f) => buf.push_str(&float(*f)?),
        Value::Str(s) => write_string(s, style != Style::Raw, buf),
        Value::List(l) => {
            buf.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    buf.push(',');
                }
                if style == Style::Pretty {
                    newline(buf, level + 1);
                }
                write_value(item, style, level + 1, buf)?;
            }
            if style == Style::Pretty && !l.items.is_empty() {
                newline(buf, level);
            }
            buf.push(']');
        }
        Value::Map(m) => {
            buf.push('{');
            for (i, (k, item)) in m.entries.iter().enumerate() {
                if i > 0 {
                    buf.push(',');
                }
                if style == Style::Pretty {
                    newline(buf, level + 1);
                }
                write_string(k, style != Style::Raw, buf);
                buf.push(':');
                if style == Style::Pretty {
                    buf.push(' ');
                }
                write_value(item, style, level + 1, buf)?;
            }
            if style == Style::Pretty && !m.entries.is_empty() {
                newline(buf, level);
            }
            buf.push('}');
        }
    }
    Ok(())
}

/// A float64 as Go's encoder writes it.
fn float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            format_float(f, 'g', -1)
        ));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let mut s = format_float(f, 'e', -1);
        // Go trims "e-07" to "e-7" (only negative exponents).
        if let Some(i) = s.find("e-0") {
            s.remove(i + 2);
        }
        Ok(s)
    } else {
        Ok(format_float(f, 'f', -1))
    }
}

fn write_string(s: &str, escape_html: bool, buf: &mut Buf) {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if escape_html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    buf.push_str(&out);
}

/// Decodes JSON text into Go values (`json.Unmarshal` into `interface{}`): numbers are
/// `float64`. The error text is the decoder's own, not Go's.
pub(crate) fn decode(text: &str) -> Result<Value, String> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    from_json(&json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(j: serde_json::Value, style: Style) -> String {
        encode(&from_json(&j).unwrap(), style, 1 << 20).unwrap()
    }

    #[test]
    fn compact_matches_go_marshal() {
        assert_eq!(
            enc(
                json!({"b": [1, 2.5, null, true], "a": "x<y>&z\u{2028}\n\u{8}\u{1}"}),
                Style::Compact
            ),
            r#"{"a":"x\u003cy\u003e\u0026z\u2028\n\b\u0001","b":[1,2.5,null,true]}"#
        );
        assert_eq!(
            enc(json!([1e21, 1e20, 1e-7, 0.000001, -0.0]), Style::Compact),
            "[1e+21,100000000000000000000,1e-7,0.000001,-0]"
        );
        assert_eq!(enc(json!("a<b"), Style::Raw), r#""a<b""#);
    }

    #[test]
    fn pretty_matches_go_marshal_indent() {
        assert_eq!(
            enc(
                json!({"a": [1, {}], "b": [], "c": {"d": null}}),
                Style::Pretty
            ),
            "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": [],\n  \"c\": {\n    \"d\": null\n  }\n}"
        );
    }

    #[test]
    fn nan_cannot_be_encoded() {
        assert_eq!(
            encode(&Value::Float(f64::NAN), Style::Compact, 100).unwrap_err(),
            "json: unsupported value: NaN"
        );
        assert_eq!(
            encode(&Value::Float(f64::INFINITY), Style::Compact, 100).unwrap_err(),
            "json: unsupported value: +Inf"
        );
    }

    #[test]
    fn decoding_gives_float64_numbers() {
        let v = decode(r#"{"n": 3, "l": [1, "a"]}"#).unwrap();
        assert_eq!(v.type_name(), "map[string]interface {}");
        assert!(decode("{").is_err());
        assert!(decode("1 2").is_err());
    }
}
