//! Numbers as JSON Schema compares them: by value, so `1`, `1.0` and `1e0` are the same number.
//!
//! serde_json keeps integers that fit 64 bits exactly and everything else as `f64`; comparisons stay exact
//! between integers and fall back to `f64` only when one side is fractional or huge.

use std::cmp::Ordering;

use serde_json::{Number, Value};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    pub(crate) fn of(n: &Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::Int(i128::from(i))
        } else if let Some(u) = n.as_u64() {
            Num::Int(i128::from(u))
        } else {
            Num::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            // Precision loss only for magnitudes beyond 2^53, where f64 comparison is all JSON numbers offer.
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The integer this number equals, when it equals one that fits 64 bits.
    pub(crate) fn as_integer(self) -> Option<i128> {
        match self {
            Num::Int(i) => Some(i),
            Num::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18 => {
                Some(f as i128)
            }
            Num::Float(_) => None,
        }
    }
}

/// `a` compared with `b` by value (`None` only for NaN, which JSON cannot carry).
pub(crate) fn compare(a: &Number, b: &Number) -> Option<Ordering> {
    match (Num::of(a), Num::of(b)) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (x, y) => x.as_f64().partial_cmp(&y.as_f64()),
    }
}

/// Whether `value` is an integer multiple of `step` (`step > 0`). Fractional steps allow for binary rounding:
/// `0.3` is a multiple of `0.1` even though `0.3 / 0.1` is `2.9999999999999996`.
pub(crate) fn is_multiple_of(value: &Number, step: &Number) -> bool {
    match (Num::of(value), Num::of(step)) {
        (Num::Int(v), Num::Int(s)) => s != 0 && v % s == 0,
        (v, s) => {
            let (v, s) = (v.as_f64(), s.as_f64());
            if s == 0.0 || !v.is_finite() {
                return false;
            }
            let q = v / s;
            (q - q.round()).abs() <= 1e-9 * q.abs().max(1.0)
        }
    }
}

/// JSON equality with numbers compared by value, as JSON Schema's `enum`, `const` and `uniqueItems` require.
pub(crate) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// A text that is equal for two values exactly when [`json_equal`] holds (object keys sorted, integral numbers
/// written as integers), so duplicates can be found with a hash set instead of comparing every pair.
pub(crate) fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Number(n) => match Num::of(n) {
            Num::Int(i) => out.push_str(&i.to_string()),
            Num::Float(f) => match Num::Float(f).as_integer() {
                Some(i) => out.push_str(&i.to_string()),
                None => out.push_str(&format!("{f:e}")),
            },
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(k.as_str()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n(v: Value) -> Number {
        match v {
            Value::Number(n) => n,
            other => panic!("not a number: {other}"),
        }
    }

    #[test]
    fn comparisons_by_value() {
        assert_eq!(compare(&n(json!(1)), &n(json!(1.0))), Some(Ordering::Equal));
        assert_eq!(
            compare(&n(json!(2)), &n(json!(1.5))),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&n(json!(u64::MAX)), &n(json!(-1))),
            Some(Ordering::Greater)
        );
        assert!(json_equal(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!json_equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!json_equal(&json!("1"), &json!(1)));
        assert_eq!(
            canonical(&json!({"b": 2.0, "a": [1, "x"]})),
            canonical(&json!({"a": [1.0, "x"], "b": 2}))
        );
        assert_ne!(canonical(&json!(1.5)), canonical(&json!(1)));
    }

    #[test]
    fn multiples() {
        assert!(is_multiple_of(&n(json!(10)), &n(json!(5))));
        assert!(!is_multiple_of(&n(json!(11)), &n(json!(5))));
        assert!(is_multiple_of(&n(json!(0.3)), &n(json!(0.1))));
        assert!(is_multiple_of(&n(json!(4.0)), &n(json!(2))));
        assert!(!is_multiple_of(&n(json!(0.35)), &n(json!(0.1))));
        assert!(is_multiple_of(&n(json!(-6)), &n(json!(3))));
    }
}
