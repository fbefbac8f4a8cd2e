//! Go's formatting rules, where Argo's output depends on them.
//!
//! Argo is written in Go, so values reach users through `fmt`'s `%v` (govaluate's messages and
//! string concatenation, sprig's `toString`), `strconv.Quote` (sprig's `quote`) and
//! `encoding/json` (expression results in templates, `toJson`). This module reproduces those
//! three formats so that a value prints here exactly as it prints in Argo:
//!
//! - `%v` of a float64 is the shortest representation in `%g` style with exponent threshold 6:
//!   `3`, `2.5`, `1e+06`, `1.5e-07`;
//! - JSON numbers switch to exponent form only below 1e-6 or from 1e21 (`1e+21`, `1e-7`);
//! - JSON strings escape `<`, `>`, `&`, U+2028 and U+2029 (Go's HTML-safe default) and objects
//!   list their keys sorted.

use serde_json::Value as Json;

/// The shortest decimal digits of a finite, non-zero `f` and the position of the decimal point
/// (`dp`): the value is `0.DIGITS × 10^dp`.
fn decimal(f: f64) -> (String, i32) {
    // `{:e}` prints the shortest round-trip digits as `d.ddde<exp>`.
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

fn format_e(neg: bool, digits: &str, dp: i32, min_exp_digits: usize) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let mut chars = digits.chars();
    if let Some(first) = chars.next() {
        out.push(first);
    }
    let rest: String = chars.collect();
    if !rest.is_empty() {
        out.push('.');
        out.push_str(&rest);
    }
    let exp = dp - 1;
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let magnitude = exp.unsigned_abs().to_string();
    for _ in magnitude.len()..min_exp_digits {
        out.push('0');
    }
    out.push_str(&magnitude);
    out
}

fn format_f(neg: bool, digits: &str, dp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let len = digits.len() as i32;
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..(-dp) {
            out.push('0');
        }
        out.push_str(digits);
    } else if dp >= len {
        out.push_str(digits);
        for _ in 0..(dp - len) {
            out.push('0');
        }
    } else {
        let (int, frac) = digits.split_at(dp as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
    out
}

fn special(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".to_string())
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" }.to_string())
    } else if f == 0.0 {
        Some(if f.is_sign_negative() { "-0" } else { "0" }.to_string())
    } else {
        None
    }
}

/// Go's `fmt.Sprintf("%v", f)` for a float64.
pub fn float_v(f: f64) -> String {
    if let Some(s) = special(f) {
        return s;
    }
    let (digits, dp) = decimal(f);
    let exp = dp - 1;
    if !(-4..6).contains(&exp) {
        format_e(f < 0.0, &digits, dp, 2)
    } else {
        format_f(f < 0.0, &digits, dp)
    }
}

/// Go's `encoding/json` text for a float64; `None` for NaN and infinities (Go refuses them).
pub fn float_json(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    if f == 0.0 {
        return Some(if f.is_sign_negative() { "-0" } else { "0" }.to_string());
    }
    let (digits, dp) = decimal(f);
    let abs = f.abs();
    if !(1e-6..1e21).contains(&abs) {
        // Go writes `1e-07` and then trims it to `1e-7`: one exponent digit minimum.
        Some(format_e(f < 0.0, &digits, dp, 1))
    } else {
        Some(format_f(f < 0.0, &digits, dp))
    }
}

/// Go's `strconv.Quote`: a double-quoted string with Go escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `json.Marshal` of a decoded JSON value: compact, keys sorted, HTML-safe escapes.
/// Fails only for numbers that cannot be written (never for values parsed from JSON text).
pub fn json(value: &Json) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                out.push_str(&float_json(f).unwrap_or_else(|| "null".to_string()));
            }
        }
        Json::String(s) => write_json_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_json(v, out);
                }
            }
            out.push('}');
        }
    }
}

/// A JSON string literal as Go's `encoding/json` writes it.
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// How Argo writes an expression result into a template: a string as itself, anything else as
/// the compact JSON Go's `json.Marshal` produces (integral numbers without `.0`, `true`/`false`,
/// `null`, lists and objects compact with sorted keys).
pub fn stringify(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => json(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_go_percent_v() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (3.0, "3"),
            (-3.0, "-3"),
            (2.5, "2.5"),
            (0.1, "0.1"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (123456789.0, "1.23456789e+08"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e100, "1e+100"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(float_v(*f), *want, "{f}");
        }
    }

    #[test]
    fn floats_print_like_go_json() {
        let cases: &[(f64, Option<&str>)] = &[
            (3.0, Some("3")),
            (2.5, Some("2.5")),
            (1e6, Some("1000000")),
            (1e20, Some("100000000000000000000")),
            (1e21, Some("1e+21")),
            (1e-6, Some("0.000001")),
            (1e-7, Some("1e-7")),
            (-1.25e-10, Some("-1.25e-10")),
            (f64::NAN, None),
            (f64::INFINITY, None),
        ];
        for (f, want) in cases {
            assert_eq!(float_json(*f).as_deref(), *want, "{f}");
        }
    }

    #[test]
    fn json_matches_go_marshal() {
        let cases = [
            (json!(null), "null"),
            (json!(true), "true"),
            (json!(42), "42"),
            (json!(2.0), "2"),
            (json!("a<b>&c"), r#""a\u003cb\u003e\u0026c""#),
            (json!({"b": 1, "a": [1, "x"]}), r#"{"a":[1,"x"],"b":1}"#),
            (json!("line\nbreak\u{1}"), r#""line\nbreak\u0001""#),
        ];
        for (value, want) in cases {
            assert_eq!(json(&value), want, "{value}");
        }
    }

    #[test]
    fn stringify_matches_argo_template_output() {
        let cases = [
            (json!("plain"), "plain"),
            (json!(3), "3"),
            (json!(3.0), "3"),
            (json!(0.5), "0.5"),
            (json!(true), "true"),
            (json!(null), "null"),
            (json!([1, 2]), "[1,2]"),
            (json!({"z": "<", "a": 1}), r#"{"a":1,"z":"\u003c"}"#),
        ];
        for (value, want) in cases {
            assert_eq!(stringify(&value), want, "{value}");
        }
    }

    #[test]
    fn quote_matches_strconv_quote() {
        let cases = [
            ("plain", r#""plain""#),
            ("say \"hi\"", r#""say \"hi\"""#),
            ("tab\there\n", r#""tab\there\n""#),
            ("back\\slash", r#""back\\slash""#),
            ("\u{1}\u{7f}", r#""\x01\x7f""#),
            ("héllo", r#""héllo""#),
        ];
        for (input, want) in cases {
            assert_eq!(quote(input), want, "{input}");
        }
    }
}
