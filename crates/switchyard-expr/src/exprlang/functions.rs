//! The functions Argo adds to expr-lang, the sprig allowlist, and the refusals.
//!
//! Argo (util/expr/env/env.go) adds `asInt` and `asFloat` (aliases of expr's `int` and
//! `float`), `jsonpath`, `toJson` (compact JSON), and the whole sprig function map under the
//! name `sprig` minus `env` and `expandenv`. Here sprig is an allowlist ([`SPRIG_ALLOWED`]),
//! with sprig's own semantics (argument order, silent zero on bad numbers, Go formatting);
//! `sprig.fn(` is rewritten to an internal name before parsing because expr-lang has no dotted
//! function names. sprig's date formatting ([`SPRIG_DATES`]) is offered when the caller gives
//! the current time. Functions that would read the environment or the clock are refused with
//! [`crate::Error::NotAllowed`] before the expression runs.

use base64::Engine as _;
use expr::{Environment, Value as V};
use indexmap::IndexMap;
use sha2::Digest as _;

use super::convert::{expr_to_json, go_v, json_to_expr};
use super::dates::{self, SPRIG_DATES};
use super::{budget, jsonpath};
use crate::gofmt;

/// Internal prefix that `sprig.` is rewritten to.
pub(crate) const SPRIG_PREFIX: &str = "__switchyard_sprig_";
/// Internal function that map literals are rewritten to (see `scan::map_literal_edits`).
pub(crate) const DICT: &str = "__switchyard_dict";

/// The sprig functions offered, as `sprig.<name>`.
pub const SPRIG_ALLOWED: &[&str] = &[
    "add",
    "atoi",
    "b64dec",
    "b64enc",
    "coalesce",
    "contains",
    "default",
    "dict",
    "div",
    "empty",
    "float64",
    "fromJson",
    "get",
    "hasKey",
    "hasPrefix",
    "hasSuffix",
    "int",
    "join",
    "keys",
    "list",
    "lower",
    "max",
    "min",
    "mul",
    "nospace",
    "quote",
    "regexMatch",
    "regexReplaceAll",
    "repeat",
    "replace",
    "sha256sum",
    "splitList",
    "squote",
    "sub",
    "substr",
    "ternary",
    "toJson",
    "toString",
    "trim",
    "trunc",
    "upper",
];

/// The longest string a function may build (`repeat`), in bytes.
pub const MAX_STRING_BYTES: usize = 1 << 20;

/// Why a bare function (not `sprig.`) is refused, if it is.
pub(crate) fn refused_function(name: &str) -> Option<&'static str> {
    Some(match name {
        "env" | "expandenv" => "it would read the server's environment variables",
        "now" => "it reads the clock; expressions here are pure, so pass the time in as a variable",
        "date" | "duration" | "timezone" => {
            "time values are not supported; compare timestamps as RFC 3339 strings"
        }
        "reduce" => "its accumulator can grow without bound; use map, filter or sum",
        _ => return None,
    })
}

/// Why `sprig.<name>` is refused (it always is when this is called).
pub(crate) fn sprig_refusal(name: &str) -> crate::Error {
    let reason = match name {
        "env" | "expandenv" => "it would read the server's environment variables".to_string(),
        "getHostByName" => "it would make a network request".to_string(),
        "date" | "dateInZone" | "date_in_zone" | "htmlDate" | "htmlDateInZone" => {
            "it formats the current time, which is not given to expressions evaluated here"
                .to_string()
        }
        "now" | "ago" | "unixEpoch" | "toDate" | "mustToDate" | "dateModify" | "mustDateModify"
        | "date_modify" | "must_date_modify" => {
            "time values are not supported; `sprig.date(layout, x)` formats the current time"
                .to_string()
        }
        _ => format!(
            "it is not in Switchyard's sprig allowlist ({})",
            SPRIG_ALLOWED.join(", ")
        ),
    };
    crate::Error::NotAllowed {
        function: format!("sprig.{name}"),
        reason,
    }
}

fn fail(message: impl Into<String>) -> expr::Error {
    expr::Error::ExprError(message.into())
}

/// Builds the expr-lang environment: builtins, Argo's functions, the sprig allowlist, budgeted
/// predicate functions and refusals.
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();

    env.add_function("asInt", |c| c.env.eval_func(c.ctx, "int", c.args, None));
    env.add_function("asFloat", |c| c.env.eval_func(c.ctx, "float", c.args, None));
    env.add_function("toJson", |c| {
        let [value] = exact::<1>("toJson", c.args)?;
        let json = expr_to_json(&value).map_err(fail)?;
        Ok(V::String(gofmt::json(&json)))
    });
    env.add_function("jsonpath", |c| {
        let [document, path] = exact::<2>("jsonpath", c.args)?;
        let (V::String(document), V::String(path)) = (document, path) else {
            return Err(fail("jsonpath(json, path) takes two strings"));
        };
        let document: serde_json::Value = serde_json::from_str(&document)
            .map_err(|e| fail(format!("jsonpath: the document is not JSON: {e}")))?;
        let found =
            jsonpath::query(&document, &path).map_err(|e| fail(format!("jsonpath: {e}")))?;
        Ok(json_to_expr(&found))
    });
    env.add_function("repeat", |c| {
        let [s, count] = exact::<2>("repeat", c.args)?;
        let (V::String(s), V::Integer(count)) = (s, count) else {
            return Err(fail("repeat() takes a string and an integer"));
        };
        repeat(&s, count).map(V::String)
    });
    for name in [
        "env",
        "expandenv",
        "now",
        "date",
        "duration",
        "timezone",
        "reduce",
    ] {
        env.add_function(name, move |_c| {
            Err(fail(format!(
                "{name}() is not allowed: {}",
                refused_function(name).unwrap_or_default()
            )))
        });
    }
    env.add_function(DICT, |c| {
        let mut map = IndexMap::new();
        let mut args = c.args.into_iter();
        while let Some(key) = args.next() {
            let V::String(key) = key else {
                return Err(fail("map keys must be strings"));
            };
            map.insert(key, args.next().unwrap_or(V::Nil));
        }
        Ok(V::Map(map))
    });
    super::predicates::register(&mut env);
    for name in SPRIG_ALLOWED {
        let name: &'static str = name;
        env.add_function(&format!("{SPRIG_PREFIX}{name}"), move |c| {
            sprig(name, c.args).map_err(|e| fail(format!("sprig.{name}: {e}")))
        });
    }
    for name in SPRIG_DATES {
        let name: &'static str = name;
        env.add_function(&format!("{SPRIG_PREFIX}{name}"), move |c| {
            dates::sprig_date(name, &c.args).map_err(|e| fail(format!("sprig.{name}: {e}")))
        });
    }
    env
}

fn exact<const N: usize>(name: &str, args: Vec<V>) -> Result<[V; N], expr::Error> {
    let got = args.len();
    args.try_into()
        .map_err(|_| fail(format!("{name}() takes {N} argument(s), got {got}")))
}

fn repeat(s: &str, count: i64) -> Result<String, expr::Error> {
    let count = usize::try_from(count).map_err(|_| fail("negative Repeat count"))?;
    match s.len().checked_mul(count) {
        Some(total) if total <= MAX_STRING_BYTES => {
            budget::charge_bytes(total as u64)?;
            Ok(s.repeat(count))
        }
        _ => Err(fail(format!(
            "the result would exceed {MAX_STRING_BYTES} bytes"
        ))),
    }
}

fn type_name(v: &V) -> &'static str {
    match v {
        V::Integer(_) => "int",
        V::Float(_) => "float64",
        V::Bool(_) => "bool",
        V::Nil => "nil",
        V::String(_) => "string",
        V::Array(_) => "list",
        V::Map(_) | V::KeyedMap(_) => "map",
        V::Bytes(_) => "bytes",
        #[allow(unreachable_patterns)]
        _ => "value",
    }
}

/// Arguments with their expected count, for messages that say which argument was wrong.
struct Args {
    args: Vec<V>,
}

impl Args {
    fn count(&self, n: usize) -> Result<(), String> {
        if self.args.len() != n {
            return Err(format!("expected {n} argument(s), got {}", self.args.len()));
        }
        Ok(())
    }

    fn at_least(&self, n: usize) -> Result<(), String> {
        if self.args.len() < n {
            return Err(format!(
                "expected at least {n} argument(s), got {}",
                self.args.len()
            ));
        }
        Ok(())
    }

    fn get(&self, i: usize) -> &V {
        self.args.get(i).unwrap_or(&V::Nil)
    }

    fn string(&self, i: usize) -> Result<&str, String> {
        match self.get(i) {
            V::String(s) => Ok(s),
            other => Err(format!(
                "argument {} must be a string, got {}",
                i + 1,
                type_name(other)
            )),
        }
    }

    fn int(&self, i: usize) -> Result<i64, String> {
        match self.get(i) {
            V::Integer(n) => Ok(*n),
            V::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
            other => Err(format!(
                "argument {} must be an int, got {}",
                i + 1,
                type_name(other)
            )),
        }
    }

    fn map(&self, i: usize) -> Result<&IndexMap<String, V>, String> {
        match self.get(i) {
            V::Map(m) => Ok(m),
            other => Err(format!(
                "argument {} must be a map, got {}",
                i + 1,
                type_name(other)
            )),
        }
    }
}

/// sprig's `strval`: strings as they are, anything else with Go's `%v`.
fn strval(v: &V) -> String {
    match v {
        V::String(s) => s.clone(),
        V::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => go_v(other),
    }
}

/// sprig's `empty`: nil, zero numbers, false, and empty strings, lists and maps.
fn is_empty(v: &V) -> bool {
    match v {
        V::Nil => true,
        V::Bool(b) => !b,
        V::Integer(n) => *n == 0,
        V::Float(f) => *f == 0.0,
        V::String(s) => s.is_empty(),
        V::Bytes(b) => b.is_empty(),
        V::Array(a) => a.is_empty(),
        V::Map(m) => m.is_empty(),
        V::KeyedMap(m) => m.is_empty(),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` after cast's `trimZeroDecimal` (`"3.00"` is 3).
fn parse_go_int(s: &str) -> Option<i64> {
    let trimmed = trim_zero_decimal(s);
    let (negative, body) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let lower = body.to_ascii_lowercase();
    let (digits, radix, prefixed) = if let Some(rest) = lower.strip_prefix("0x") {
        (rest.to_string(), 16, true)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (rest.to_string(), 8, true)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (rest.to_string(), 2, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (lower[1..].to_string(), 8, true)
    } else {
        (lower.clone(), 10, false)
    };
    let digits = if prefixed {
        digits.replace('_', "")
    } else {
        digits
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from_str_radix(&digits, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

fn trim_zero_decimal(s: &str) -> &str {
    let mut found_zero = false;
    for (i, c) in s.char_indices().rev() {
        match c {
            '.' if found_zero => return &s[..i],
            '.' => return s,
            '0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// cast's `ToInt64`: numbers truncated, booleans 1/0, strings parsed, anything else 0.
fn to_int64(v: &V) -> i64 {
    match v {
        V::Integer(n) => *n,
        V::Float(f) => *f as i64,
        V::Bool(b) => i64::from(*b),
        V::String(s) => parse_go_int(s).unwrap_or(0),
        _ => 0,
    }
}

/// cast's `ToFloat64`: numbers, booleans 1/0, strings parsed, anything else 0.
fn to_float64(v: &V) -> f64 {
    match v {
        V::Integer(n) => *n as f64,
        V::Float(f) => *f,
        V::Bool(b) => f64::from(u8::from(*b)),
        V::String(s) => s.trim().parse::<f64>().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// sprig's `strslice`: a list's non-nil members as strings, or a single value as one string.
fn strslice(v: &V) -> Vec<String> {
    match v {
        V::Array(items) => items
            .iter()
            .filter(|i| !matches!(i, V::Nil))
            .map(strval)
            .collect(),
        V::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

/// Go's byte-slicing of a string: out-of-range bounds are an error (Go panics), and a cut in
/// the middle of a character leaves a replacement character (Go leaves invalid bytes).
fn byte_slice(s: &str, start: i64, end: i64) -> Result<String, String> {
    let len = s.len() as i64;
    if start < 0 || end < start || end > len {
        return Err(format!(
            "slice bounds out of range [{start}:{end}] with length {len}"
        ));
    }
    Ok(String::from_utf8_lossy(&s.as_bytes()[start as usize..end as usize]).into_owned())
}

fn base64_error(e: &base64::DecodeError) -> String {
    let offset = match e {
        base64::DecodeError::InvalidByte(offset, _)
        | base64::DecodeError::InvalidLastSymbol(offset, _) => *offset,
        base64::DecodeError::InvalidLength(len) => *len,
        base64::DecodeError::InvalidPadding => 0,
    };
    format!("illegal base64 data at input byte {offset}")
}

fn sprig(name: &str, args: Vec<V>) -> Result<V, String> {
    let a = Args { args };
    let string = |s: String| Ok(V::String(s));
    match name {
        "trim" => {
            a.count(1)?;
            string(a.string(0)?.trim().to_string())
        }
        "upper" => {
            a.count(1)?;
            string(a.string(0)?.to_uppercase())
        }
        "lower" => {
            a.count(1)?;
            string(a.string(0)?.to_lowercase())
        }
        "replace" => {
            a.count(3)?;
            string(a.string(2)?.replace(a.string(0)?, a.string(1)?))
        }
        "contains" => {
            a.count(2)?;
            Ok(V::Bool(a.string(1)?.contains(a.string(0)?)))
        }
        "hasPrefix" => {
            a.count(2)?;
            Ok(V::Bool(a.string(1)?.starts_with(a.string(0)?)))
        }
        "hasSuffix" => {
            a.count(2)?;
            Ok(V::Bool(a.string(1)?.ends_with(a.string(0)?)))
        }
        "default" => {
            a.at_least(1)?;
            match a.args.get(1) {
                Some(given) if !is_empty(given) => Ok(given.clone()),
                _ => Ok(a.get(0).clone()),
            }
        }
        "empty" => {
            a.count(1)?;
            Ok(V::Bool(is_empty(a.get(0))))
        }
        "toString" => {
            a.count(1)?;
            string(strval(a.get(0)))
        }
        "atoi" => {
            a.count(1)?;
            let s = a.string(0)?;
            let decimal = s.strip_prefix(['+', '-']).unwrap_or(s);
            let parsed = if decimal.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<i64>().unwrap_or(0)
            } else {
                0
            };
            Ok(V::Integer(parsed))
        }
        "int" => {
            a.count(1)?;
            Ok(V::Integer(to_int64(a.get(0))))
        }
        "float64" => {
            a.count(1)?;
            Ok(V::Float(to_float64(a.get(0))))
        }
        "add" => Ok(V::Integer(
            a.args.iter().map(to_int64).fold(0i64, i64::wrapping_add),
        )),
        "sub" => {
            a.count(2)?;
            Ok(V::Integer(
                to_int64(a.get(0)).wrapping_sub(to_int64(a.get(1))),
            ))
        }
        "mul" => {
            a.at_least(1)?;
            Ok(V::Integer(
                a.args.iter().map(to_int64).fold(1i64, i64::wrapping_mul),
            ))
        }
        "div" => {
            a.count(2)?;
            let divisor = to_int64(a.get(1));
            if divisor == 0 {
                return Err("integer divide by zero".to_string());
            }
            Ok(V::Integer(to_int64(a.get(0)).wrapping_div(divisor)))
        }
        "max" | "min" => {
            a.at_least(1)?;
            let values = a.args.iter().map(to_int64);
            let result = if name == "max" {
                values.max()
            } else {
                values.min()
            };
            Ok(V::Integer(result.unwrap_or(0)))
        }
        "list" => Ok(V::Array(a.args)),
        "join" => {
            a.count(2)?;
            string(strslice(a.get(1)).join(a.string(0)?))
        }
        "splitList" => {
            a.count(2)?;
            let (sep, orig) = (a.string(0)?, a.string(1)?);
            let parts: Vec<V> = if sep.is_empty() {
                orig.chars().map(|c| V::String(c.to_string())).collect()
            } else {
                orig.split(sep).map(|p| V::String(p.to_string())).collect()
            };
            Ok(V::Array(parts))
        }
        "b64enc" => {
            a.count(1)?;
            string(base64::engine::general_purpose::STANDARD.encode(a.string(0)?))
        }
        "b64dec" => {
            a.count(1)?;
            // sprig returns the error text as the result instead of failing.
            string(
                match base64::engine::general_purpose::STANDARD.decode(a.string(0)?) {
                    Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    Err(e) => base64_error(&e),
                },
            )
        }
        "quote" => string(
            a.args
                .iter()
                .filter(|v| !matches!(v, V::Nil))
                .map(|v| gofmt::quote(&strval(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "squote" => string(
            a.args
                .iter()
                .filter(|v| !matches!(v, V::Nil))
                .map(|v| format!("'{}'", strval(v)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "nospace" => {
            a.count(1)?;
            string(
                a.string(0)?
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect(),
            )
        }
        "trunc" => {
            a.count(2)?;
            let (c, s) = (a.int(0)?, a.string(1)?);
            let len = s.len() as i64;
            if c < 0 && len + c > 0 {
                string(byte_slice(s, len + c, len)?)
            } else if c >= 0 && len > c {
                string(byte_slice(s, 0, c)?)
            } else {
                string(s.to_string())
            }
        }
        "repeat" => {
            a.count(2)?;
            let (count, s) = (a.int(0)?, a.string(1)?);
            repeat(s, count).map(V::String).map_err(|e| e.to_string())
        }
        "substr" => {
            a.count(3)?;
            let (start, end, s) = (a.int(0)?, a.int(1)?, a.string(2)?);
            let len = s.len() as i64;
            let result = if start < 0 {
                byte_slice(s, 0, end)?
            } else if end < 0 || end > len {
                byte_slice(s, start, len)?
            } else {
                byte_slice(s, start, end)?
            };
            string(result)
        }
        "sha256sum" => {
            a.count(1)?;
            string(hex::encode(sha2::Sha256::digest(a.string(0)?.as_bytes())))
        }
        "toJson" => {
            a.count(1)?;
            // sprig swallows the error and returns an empty string.
            string(
                expr_to_json(a.get(0))
                    .map(|j| gofmt::json(&j))
                    .unwrap_or_default(),
            )
        }
        "fromJson" => {
            a.count(1)?;
            Ok(serde_json::from_str::<serde_json::Value>(a.string(0)?)
                .map(|j| json_to_expr(&j))
                .unwrap_or(V::Nil))
        }
        "dict" => {
            let mut map = IndexMap::new();
            for pair in a.args.chunks(2) {
                let key = strval(&pair[0]);
                let value = pair.get(1).cloned().unwrap_or(V::String(String::new()));
                map.insert(key, value);
            }
            Ok(V::Map(map))
        }
        "get" => {
            a.count(2)?;
            let (map, key) = (a.map(0)?, a.string(1)?);
            Ok(map.get(key).cloned().unwrap_or(V::String(String::new())))
        }
        "hasKey" => {
            a.count(2)?;
            Ok(V::Bool(a.map(0)?.contains_key(a.string(1)?)))
        }
        "keys" => {
            let mut out = Vec::new();
            for i in 0..a.args.len() {
                let mut keys: Vec<&String> = a.map(i)?.keys().collect();
                keys.sort();
                out.extend(keys.into_iter().map(|k| V::String(k.clone())));
            }
            Ok(V::Array(out))
        }
        "ternary" => {
            a.count(3)?;
            match a.get(2) {
                V::Bool(true) => Ok(a.get(0).clone()),
                V::Bool(false) => Ok(a.get(1).clone()),
                other => Err(format!(
                    "argument 3 must be a bool, got {}",
                    type_name(other)
                )),
            }
        }
        "coalesce" => Ok(a
            .args
            .iter()
            .find(|v| !is_empty(v))
            .cloned()
            .unwrap_or(V::Nil)),
        "regexMatch" => {
            a.count(2)?;
            let matched = crate::compile_regex(a.string(0)?)
                .map(|re| re.is_match(a.string(1).unwrap_or_default()))
                .unwrap_or(false);
            Ok(V::Bool(matched))
        }
        "regexReplaceAll" => {
            a.count(3)?;
            let re = crate::compile_regex(a.string(0)?)
                .map_err(|e| format!("invalid regex: {}", crate::one_line(&e)))?;
            let replaced = re.replace_all(a.string(1)?, a.string(2)?).into_owned();
            budget::charge_bytes(replaced.len() as u64).map_err(|e| e.to_string())?;
            string(replaced)
        }
        other => Err(format!("{other} is not implemented")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_int_parsing() {
        let cases: &[(&str, Option<i64>)] = &[
            ("42", Some(42)),
            ("-7", Some(-7)),
            ("+7", Some(7)),
            ("3.00", Some(3)),
            ("3.5", None),
            ("3.", None),
            ("0x1F", Some(31)),
            ("0b101", Some(5)),
            ("0o17", Some(15)),
            ("017", Some(15)),
            ("0", Some(0)),
            ("1_000", None),
            ("0x1_0", Some(16)),
            ("", None),
            ("abc", None),
            ("9223372036854775808", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_go_int(input), *want, "{input}");
        }
    }

    #[test]
    fn every_allowed_sprig_function_is_implemented() {
        for name in SPRIG_ALLOWED {
            let result = sprig(name, Vec::new());
            if let Err(e) = result {
                assert!(!e.contains("not implemented"), "{name}: {e}");
            }
        }
    }
}
