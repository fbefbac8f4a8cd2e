//! The allowlisted sprig functions, with sprig's semantics: argument order built for pipelines
//! (`"foobar" | contains "foo"`), silent zero on failed number conversions (`int "abc"` is 0),
//! byte-based `substr`/`trunc` (a cut inside a UTF-8 character becomes U+FFFD), panics reported
//! as errors with Go's runtime messages.
//!
//! Where sprig's result depends on Go's random map order (`keys`, `values`), the order here is
//! sorted, which is one of the orders sprig can produce.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256, Sha512};

use super::{Ctx, arg, codec, int_arg, str_arg};
use crate::gofmt::{self, Buf};
use crate::json::{self, Style};
use crate::num;
use crate::value::{Elem, List, Value};

type R = Result<Value, String>;

/// Go's message when sprig calls `reflect.TypeOf(nil).Kind()`.
const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

fn text(ctx: &Ctx, s: String) -> R {
    ctx.check_size(s.len())?;
    Ok(Value::str(s))
}

/// Bytes cut out of a string the way Go slices it; a cut inside a character becomes U+FFFD.
fn bytes_to_string(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---- conversions (spf13/cast, as sprig uses it) ----

/// sprig's `strval`: a string as itself, anything else in `%v` form.
pub(super) fn strval(ctx: &Ctx, v: &Value) -> Result<String, String> {
    gofmt::to_string(v, ctx.max_bytes)
}

/// cast's `trimZeroDecimal`: "3.00" reads as "3".
fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    for i in (1..=b.len()).rev() {
        match b[i - 1] {
            b'.' => {
                if found_zero {
                    return &s[..i - 1];
                }
            }
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// Go's `int64(f)` on amd64: out of range and NaN give the minimum.
fn f64_to_i64(f: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-TWO_63..TWO_63).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// cast's `ToInt64`: 0 when the value does not convert.
pub(super) fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Nil => 0,
        Value::Bool(b) => i64::from(*b),
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Byte(b) => i64::from(*b),
        Value::Float(f) => f64_to_i64(*f),
        Value::Str(s) => num::parse_int(trim_zero_decimal(s), 0).unwrap_or(0),
        Value::List(_) | Value::Map(_) => 0,
    }
}

/// cast's `ToFloat64`: 0 when the value does not convert.
fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Nil => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Byte(b) => f64::from(*b),
        Value::Float(f) => *f,
        Value::Str(s) => num::parse_float(s).unwrap_or(0.0),
        Value::List(_) | Value::Map(_) => 0.0,
    }
}

pub(super) fn atoi(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Int(num::atoi(str_arg(a, 0)?).unwrap_or(0)))
}

pub(super) fn to_int(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Int(to_i64(arg(a, 0)?)))
}

pub(super) fn to_int64(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Int64(to_i64(arg(a, 0)?)))
}

pub(super) fn to_float64(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Float(to_f64(arg(a, 0)?)))
}

/// `toDecimal`: the value's text read as an octal number (Unix modes), 0 if it is not one.
pub(super) fn to_decimal(ctx: &mut Ctx, a: &[Value]) -> R {
    let s = strval(ctx, arg(a, 0)?)?;
    Ok(Value::Int64(num::parse_int(&s, 8).unwrap_or(0)))
}

// ---- arithmetic (int64, wrapping like Go) ----

pub(super) fn add(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Int64(
        a.iter().fold(0i64, |acc, v| acc.wrapping_add(to_i64(v))),
    ))
}

pub(super) fn add1(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Int64(to_i64(arg(a, 0)?).wrapping_add(1)))
}

pub(super) fn sub(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Int64(
        to_i64(arg(a, 0)?).wrapping_sub(to_i64(arg(a, 1)?)),
    ))
}

pub(super) fn mul(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Int64(
        a.iter()
            .skip(1)
            .fold(to_i64(arg(a, 0)?), |acc, v| acc.wrapping_mul(to_i64(v))),
    ))
}

pub(super) fn div(_: &mut Ctx, a: &[Value]) -> R {
    let d = to_i64(arg(a, 1)?);
    if d == 0 {
        return Err("runtime error: integer divide by zero".to_string());
    }
    Ok(Value::Int64(to_i64(arg(a, 0)?).wrapping_div(d)))
}

pub(super) fn modulo(_: &mut Ctx, a: &[Value]) -> R {
    let d = to_i64(arg(a, 1)?);
    if d == 0 {
        return Err("runtime error: integer divide by zero".to_string());
    }
    Ok(Value::Int64(to_i64(arg(a, 0)?).wrapping_rem(d)))
}

pub(super) fn max(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Int64(
        a.iter()
            .skip(1)
            .fold(to_i64(arg(a, 0)?), |m, v| m.max(to_i64(v))),
    ))
}

pub(super) fn min(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Int64(
        a.iter()
            .skip(1)
            .fold(to_i64(arg(a, 0)?), |m, v| m.min(to_i64(v))),
    ))
}

/// Go's `math.Max`: +Inf wins, then NaN, and +0 beats -0.
fn go_max(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x > 0.0 || y.is_infinite() && y > 0.0 {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

/// Go's `math.Min`: -Inf wins, then NaN, and -0 beats +0.
fn go_min(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x < 0.0 || y.is_infinite() && y < 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

pub(super) fn maxf(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Float(
        a.iter()
            .skip(1)
            .fold(to_f64(arg(a, 0)?), |m, v| go_max(m, to_f64(v))),
    ))
}

pub(super) fn minf(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Float(
        a.iter()
            .skip(1)
            .fold(to_f64(arg(a, 0)?), |m, v| go_min(m, to_f64(v))),
    ))
}

pub(super) fn floor(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Float(to_f64(arg(a, 0)?).floor()))
}

pub(super) fn ceil(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Float(to_f64(arg(a, 0)?).ceil()))
}

/// sprig's `round value places [roundOn]`: away from the lower neighbour when the fraction is at
/// least `roundOn` (0.5 by default).
pub(super) fn round(_: &mut Ctx, a: &[Value]) -> R {
    let val = to_f64(arg(a, 0)?);
    let places = int_arg(a, 1)? as f64;
    let round_on = match a.get(2) {
        Some(Value::Float(f)) => *f,
        _ => 0.5,
    };
    let pow = 10f64.powf(places);
    let digit = pow * val;
    let frac = digit - digit.trunc();
    let r = if frac >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    Ok(Value::Float(r / pow))
}

// ---- strings ----

/// Go maps case one character to one character; where Unicode's full mapping gives several
/// (ß → SS), Go keeps the character.
fn map_chars(s: &str, f: impl Fn(char) -> Option<char>) -> String {
    s.chars().map(|c| f(c).unwrap_or(c)).collect()
}

fn single<I: Iterator<Item = char>>(mut it: I) -> Option<char> {
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

pub(super) fn upper(ctx: &mut Ctx, a: &[Value]) -> R {
    text(ctx, map_chars(str_arg(a, 0)?, |c| single(c.to_uppercase())))
}

pub(super) fn lower(ctx: &mut Ctx, a: &[Value]) -> R {
    text(ctx, map_chars(str_arg(a, 0)?, |c| single(c.to_lowercase())))
}

/// Go's `strings.Title`: upper-case the first letter of each word; words are separated by
/// anything but ASCII letters, digits and `_`, and non-ASCII letters, digits and non-spaces.
pub(super) fn title(ctx: &mut Ctx, a: &[Value]) -> R {
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphabetic() || c.is_numeric() {
            return false;
        }
        c.is_whitespace()
    }
    let mut prev = ' ';
    let mut out = String::new();
    for c in str_arg(a, 0)?.chars() {
        if is_separator(prev) {
            out.push(single(c.to_uppercase()).unwrap_or(c));
        } else {
            out.push(c);
        }
        prev = c;
    }
    text(ctx, out)
}

pub(super) fn trim(ctx: &mut Ctx, a: &[Value]) -> R {
    text(ctx, str_arg(a, 0)?.trim().to_string())
}

pub(super) fn trim_all(ctx: &mut Ctx, a: &[Value]) -> R {
    let cutset = str_arg(a, 0)?;
    text(
        ctx,
        str_arg(a, 1)?
            .trim_matches(|c| cutset.contains(c))
            .to_string(),
    )
}

pub(super) fn trim_prefix(ctx: &mut Ctx, a: &[Value]) -> R {
    let s = str_arg(a, 1)?;
    text(ctx, s.strip_prefix(str_arg(a, 0)?).unwrap_or(s).to_string())
}

pub(super) fn trim_suffix(ctx: &mut Ctx, a: &[Value]) -> R {
    let s = str_arg(a, 1)?;
    text(ctx, s.strip_suffix(str_arg(a, 0)?).unwrap_or(s).to_string())
}

/// `replace old new src`: every occurrence; an empty `old` matches around every character.
pub(super) fn replace(ctx: &mut Ctx, a: &[Value]) -> R {
    let (old, new, src) = (str_arg(a, 0)?, str_arg(a, 1)?, str_arg(a, 2)?);
    let count = if old.is_empty() {
        src.chars().count() + 1
    } else {
        src.matches(old).count()
    };
    let len = (src.len() - count * old.len()).saturating_add(count.saturating_mul(new.len()));
    ctx.check_size(len)?;
    text(ctx, src.replace(old, new))
}

pub(super) fn contains(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Bool(str_arg(a, 1)?.contains(str_arg(a, 0)?)))
}

pub(super) fn has_prefix(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Bool(str_arg(a, 1)?.starts_with(str_arg(a, 0)?)))
}

pub(super) fn has_suffix(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Bool(str_arg(a, 1)?.ends_with(str_arg(a, 0)?)))
}

/// Formats each non-nil argument and joins them with spaces.
fn join_formatted(
    ctx: &Ctx,
    a: &[Value],
    each: impl Fn(&mut Buf, &Value) -> Result<(), String>,
) -> R {
    let mut buf = Buf::new(ctx.max_bytes);
    let mut first = true;
    for v in a.iter().filter(|v| !matches!(v, Value::Nil)) {
        if !first {
            buf.push(' ');
        }
        first = false;
        each(&mut buf, v)?;
    }
    if buf.overflowed() {
        return Err(format!("result exceeds {} bytes", ctx.max_bytes));
    }
    Ok(Value::str(buf.into_string()))
}

pub(super) fn quote(ctx: &mut Ctx, a: &[Value]) -> R {
    let c = &*ctx;
    join_formatted(c, a, |buf, v| {
        buf.push_str(&gofmt::quote(&strval(c, v)?));
        Ok(())
    })
}

pub(super) fn squote(ctx: &mut Ctx, a: &[Value]) -> R {
    join_formatted(ctx, a, |buf, v| {
        buf.push('\'');
        gofmt::sprint(buf, std::slice::from_ref(v));
        buf.push('\'');
        Ok(())
    })
}

pub(super) fn cat(ctx: &mut Ctx, a: &[Value]) -> R {
    join_formatted(ctx, a, |buf, v| {
        gofmt::sprint(buf, std::slice::from_ref(v));
        Ok(())
    })
}

fn indent_text(ctx: &Ctx, spaces: i64, s: &str) -> Result<String, String> {
    let spaces =
        usize::try_from(spaces).map_err(|_| "strings: negative Repeat count".to_string())?;
    let lines = s.matches('\n').count() + 1;
    ctx.check_size(s.len().saturating_add(lines.saturating_mul(spaces)))?;
    let pad = " ".repeat(spaces);
    Ok(format!("{pad}{}", s.replace('\n', &format!("\n{pad}"))))
}

pub(super) fn indent(ctx: &mut Ctx, a: &[Value]) -> R {
    text(ctx, indent_text(ctx, int_arg(a, 0)?, str_arg(a, 1)?)?)
}

pub(super) fn nindent(ctx: &mut Ctx, a: &[Value]) -> R {
    let s = indent_text(ctx, int_arg(a, 0)?, str_arg(a, 1)?)?;
    text(ctx, format!("\n{s}"))
}

pub(super) fn nospace(ctx: &mut Ctx, a: &[Value]) -> R {
    text(
        ctx,
        str_arg(a, 0)?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
    )
}

pub(super) fn repeat(ctx: &mut Ctx, a: &[Value]) -> R {
    let (count, s) = (int_arg(a, 0)?, str_arg(a, 1)?);
    let count = usize::try_from(count).map_err(|_| "strings: negative Repeat count".to_string())?;
    ctx.check_size(s.len().saturating_mul(count))?;
    text(ctx, s.repeat(count))
}

/// `substr start end s`, by bytes, with Go's slice-bounds panics as errors.
pub(super) fn substr(ctx: &mut Ctx, a: &[Value]) -> R {
    let (start, end, s) = (int_arg(a, 0)?, int_arg(a, 1)?, str_arg(a, 2)?);
    let b = s.as_bytes();
    let len = b.len() as i64;
    let out = if start < 0 {
        // s[:end]
        if end < 0 {
            return Err(format!("runtime error: slice bounds out of range [:{end}]"));
        }
        if end > len {
            return Err(format!(
                "runtime error: slice bounds out of range [:{end}] with length {len}"
            ));
        }
        &b[..end as usize]
    } else if end < 0 || end > len {
        // s[start:]
        if start > len {
            return Err(format!(
                "runtime error: slice bounds out of range [{start}:{len}]"
            ));
        }
        &b[start as usize..]
    } else {
        if start > end {
            return Err(format!(
                "runtime error: slice bounds out of range [{start}:{end}]"
            ));
        }
        &b[start as usize..end as usize]
    };
    text(ctx, bytes_to_string(out))
}

/// `trunc n s`: the first n bytes, or the last -n bytes for negative n.
pub(super) fn trunc(ctx: &mut Ctx, a: &[Value]) -> R {
    let (c, s) = (int_arg(a, 0)?, str_arg(a, 1)?);
    let b = s.as_bytes();
    let len = b.len() as i64;
    let out = if c < 0 && len + c > 0 {
        &b[(len + c) as usize..]
    } else if c >= 0 && len > c {
        &b[..c as usize]
    } else {
        b
    };
    text(ctx, bytes_to_string(out))
}

/// `abbrev width s`: at most `width` bytes, ending in "..." when cut.
pub(super) fn abbrev(ctx: &mut Ctx, a: &[Value]) -> R {
    let (width, s) = (int_arg(a, 0)?, str_arg(a, 1)?);
    if width < 4 || s.len() as i64 <= width {
        return text(ctx, s.to_string());
    }
    let cut = bytes_to_string(&s.as_bytes()[..(width - 3) as usize]);
    text(ctx, format!("{cut}..."))
}

pub(super) fn plural(_: &mut Ctx, a: &[Value]) -> R {
    let (one, many, count) = (str_arg(a, 0)?, str_arg(a, 1)?, int_arg(a, 2)?);
    Ok(Value::str(if count == 1 { one } else { many }))
}

/// Go's `strings.SplitN` (`n < 0` for all): an empty separator splits into characters.
fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<char> = s.chars().collect();
        let limit = if n < 0 || n as usize > chars.len() {
            chars.len()
        } else {
            n as usize
        };
        let mut parts: Vec<String> = chars[..limit.saturating_sub(1)]
            .iter()
            .map(|c| c.to_string())
            .collect();
        if limit > 0 {
            parts.push(chars[limit - 1..].iter().collect());
        }
        return parts;
    }
    if n < 0 {
        s.split(sep).map(str::to_string).collect()
    } else {
        s.splitn(n as usize, sep).map(str::to_string).collect()
    }
}

fn numbered(parts: Vec<String>) -> R {
    let entries: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::str(p)))
        .collect();
    Value::map(entries, Elem::Str)
}

pub(super) fn split(_: &mut Ctx, a: &[Value]) -> R {
    numbered(go_split(str_arg(a, 1)?, str_arg(a, 0)?, -1))
}

pub(super) fn splitn(_: &mut Ctx, a: &[Value]) -> R {
    numbered(go_split(str_arg(a, 2)?, str_arg(a, 0)?, int_arg(a, 1)?))
}

pub(super) fn split_list(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::strings(go_split(str_arg(a, 1)?, str_arg(a, 0)?, -1)))
}

/// sprig's `strslice`: a list's non-nil elements as strings; nil is empty; anything else is a
/// one-element list.
fn strslice(ctx: &Ctx, v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::List(l) => l
            .items
            .iter()
            .filter(|x| !matches!(x, Value::Nil))
            .map(|x| strval(ctx, x))
            .collect(),
        Value::Nil => Ok(Vec::new()),
        other => Ok(vec![strval(ctx, other)?]),
    }
}

pub(super) fn join(ctx: &mut Ctx, a: &[Value]) -> R {
    let sep = str_arg(a, 0)?;
    let parts = strslice(ctx, arg(a, 1)?)?;
    let len =
        parts.iter().map(String::len).sum::<usize>() + sep.len() * parts.len().saturating_sub(1);
    ctx.check_size(len)?;
    text(ctx, parts.join(sep))
}

pub(super) fn to_string(ctx: &mut Ctx, a: &[Value]) -> R {
    let s = strval(ctx, arg(a, 0)?)?;
    text(ctx, s)
}

pub(super) fn to_strings(ctx: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::strings(strslice(ctx, arg(a, 0)?)?))
}

pub(super) fn sort_alpha(ctx: &mut Ctx, a: &[Value]) -> R {
    let v = arg(a, 0)?;
    let mut parts = match v {
        Value::List(_) => strslice(ctx, v)?,
        other => vec![strval(ctx, other)?],
    };
    parts.sort();
    Ok(Value::strings(parts))
}

// ---- encodings and hashes ----

pub(super) fn b64enc(ctx: &mut Ctx, a: &[Value]) -> R {
    text(ctx, codec::b64_encode(str_arg(a, 0)?.as_bytes()))
}

/// `b64dec`: the decoded text, or, as sprig does, the decoding error's message.
pub(super) fn b64dec(ctx: &mut Ctx, a: &[Value]) -> R {
    match codec::b64_decode(str_arg(a, 0)?.as_bytes()) {
        Ok(bytes) => text(ctx, bytes_to_string(&bytes)),
        Err(message) => text(ctx, message),
    }
}

pub(super) fn sha1sum(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::str(codec::hex(&codec::sha1(
        str_arg(a, 0)?.as_bytes(),
    ))))
}

pub(super) fn sha256sum(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::str(codec::hex(&Sha256::digest(
        str_arg(a, 0)?.as_bytes(),
    ))))
}

pub(super) fn sha512sum(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::str(codec::hex(&Sha512::digest(
        str_arg(a, 0)?.as_bytes(),
    ))))
}

pub(super) fn adler32sum(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::str(
        codec::adler32(str_arg(a, 0)?.as_bytes()).to_string(),
    ))
}

// ---- defaults, JSON, reflection ----

pub(super) fn default(_: &mut Ctx, a: &[Value]) -> R {
    match a.get(1) {
        Some(given) if given.truth() => Ok(given.clone()),
        _ => Ok(arg(a, 0)?.clone()),
    }
}

pub(super) fn empty(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Bool(!arg(a, 0)?.truth()))
}

pub(super) fn coalesce(_: &mut Ctx, a: &[Value]) -> R {
    Ok(a.iter().find(|v| v.truth()).cloned().unwrap_or(Value::Nil))
}

pub(super) fn all(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Bool(a.iter().all(Value::truth)))
}

pub(super) fn any(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Bool(a.iter().any(Value::truth)))
}

pub(super) fn ternary(_: &mut Ctx, a: &[Value]) -> R {
    let cond = matches!(a.get(2), Some(Value::Bool(true)));
    Ok(arg(a, if cond { 0 } else { 1 })?.clone())
}

/// `fromJson`: the decoded value, or nil when the text is not JSON (sprig ignores the error;
/// `mustFromJson` reports it).
pub(super) fn from_json(ctx: &mut Ctx, a: &[Value]) -> R {
    let s = str_arg(a, 0)?;
    ctx.charge(s.len() as u64 / 64)?;
    Ok(json::decode(s).unwrap_or(Value::Nil))
}

pub(super) fn must_from_json(ctx: &mut Ctx, a: &[Value]) -> R {
    let s = str_arg(a, 0)?;
    ctx.charge(s.len() as u64 / 64)?;
    json::decode(s)
}

/// `toJson`: compact JSON, or "" when the value cannot be encoded (sprig ignores the error).
pub(super) fn to_json(ctx: &mut Ctx, a: &[Value]) -> R {
    match json::encode(arg(a, 0)?, Style::Compact, ctx.max_bytes) {
        Ok(s) => Ok(Value::str(s)),
        Err(e) if e.starts_with("result exceeds") => Err(e),
        Err(_) => Ok(Value::str("")),
    }
}

pub(super) fn must_to_json(ctx: &mut Ctx, a: &[Value]) -> R {
    json::encode(arg(a, 0)?, Style::Compact, ctx.max_bytes).map(Value::str)
}

pub(super) fn to_pretty_json(ctx: &mut Ctx, a: &[Value]) -> R {
    match json::encode(arg(a, 0)?, Style::Pretty, ctx.max_bytes) {
        Ok(s) => Ok(Value::str(s)),
        Err(e) if e.starts_with("result exceeds") => Err(e),
        Err(_) => Ok(Value::str("")),
    }
}

pub(super) fn must_to_pretty_json(ctx: &mut Ctx, a: &[Value]) -> R {
    json::encode(arg(a, 0)?, Style::Pretty, ctx.max_bytes).map(Value::str)
}

/// `toRawJson` and `mustToRawJson`: JSON without HTML escaping; both fail on NaN (sprig's
/// `toRawJson` panics).
pub(super) fn to_raw_json(ctx: &mut Ctx, a: &[Value]) -> R {
    json::encode(arg(a, 0)?, Style::Raw, ctx.max_bytes).map(Value::str)
}

pub(super) fn type_of(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::str(arg(a, 0)?.type_name()))
}

pub(super) fn type_is(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Bool(str_arg(a, 0)? == arg(a, 1)?.type_name()))
}

pub(super) fn kind_of(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::str(arg(a, 0)?.kind_name()))
}

pub(super) fn kind_is(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Bool(str_arg(a, 0)? == arg(a, 1)?.kind_name()))
}

pub(super) fn deep_equal(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Bool(arg(a, 0)?.deep_equal(arg(a, 1)?)))
}

pub(super) fn fail(_: &mut Ctx, a: &[Value]) -> R {
    Err(str_arg(a, 0)?.to_string())
}

// ---- paths (Go's `path` package) ----

/// Go's `path.Clean`: the shortest equivalent path, purely lexically.
fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

pub(super) fn path_clean(ctx: &mut Ctx, a: &[Value]) -> R {
    text(ctx, clean(str_arg(a, 0)?))
}

pub(super) fn path_base(ctx: &mut Ctx, a: &[Value]) -> R {
    let p = str_arg(a, 0)?;
    if p.is_empty() {
        return Ok(Value::str("."));
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(Value::str("/"));
    }
    let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
    text(ctx, base.to_string())
}

pub(super) fn path_dir(ctx: &mut Ctx, a: &[Value]) -> R {
    let p = str_arg(a, 0)?;
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    text(ctx, clean(dir))
}

pub(super) fn path_ext(ctx: &mut Ctx, a: &[Value]) -> R {
    let p = str_arg(a, 0)?;
    let last = p.rsplit('/').next().unwrap_or(p);
    let ext = last.rfind('.').map_or("", |i| &last[i..]);
    text(ctx, ext.to_string())
}

pub(super) fn path_is_abs(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Bool(str_arg(a, 0)?.starts_with('/')))
}

// ---- lists ----

/// The list behind a slice argument, or sprig's error for anything else.
fn slice_arg(v: &Value, err: impl FnOnce(&str) -> String) -> Result<&List, String> {
    match v {
        Value::List(l) => Ok(l),
        Value::Nil => Err(NIL_DEREF.to_string()),
        other => Err(err(other.kind_name())),
    }
}

fn any_list(items: Vec<Value>) -> R {
    Value::list(items, Elem::Any)
}

pub(super) fn list(_: &mut Ctx, a: &[Value]) -> R {
    any_list(a.to_vec())
}

pub(super) fn first(_: &mut Ctx, a: &[Value]) -> R {
    let l = slice_arg(arg(a, 0)?, |k| format!("Cannot find first on type {k}"))?;
    Ok(l.items.first().cloned().unwrap_or(Value::Nil))
}

pub(super) fn last(_: &mut Ctx, a: &[Value]) -> R {
    let l = slice_arg(arg(a, 0)?, |k| format!("Cannot find last on type {k}"))?;
    Ok(l.items.last().cloned().unwrap_or(Value::Nil))
}

pub(super) fn rest(_: &mut Ctx, a: &[Value]) -> R {
    let l = slice_arg(arg(a, 0)?, |k| format!("Cannot find rest on type {k}"))?;
    any_list(l.items.iter().skip(1).cloned().collect())
}

pub(super) fn initial(_: &mut Ctx, a: &[Value]) -> R {
    let l = slice_arg(arg(a, 0)?, |k| format!("Cannot find initial on type {k}"))?;
    let n = l.items.len().saturating_sub(1);
    any_list(l.items[..n].to_vec())
}

pub(super) fn push(_: &mut Ctx, a: &[Value]) -> R {
    let l = slice_arg(arg(a, 0)?, |k| format!("Cannot push on type {k}"))?;
    let mut items = l.items.clone();
    items.push(arg(a, 1)?.clone());
    any_list(items)
}

pub(super) fn prepend(_: &mut Ctx, a: &[Value]) -> R {
    let l = slice_arg(arg(a, 0)?, |k| format!("Cannot prepend on type {k}"))?;
    let mut items = Vec::with_capacity(l.items.len() + 1);
    items.push(arg(a, 1)?.clone());
    items.extend(l.items.iter().cloned());
    any_list(items)
}

pub(super) fn concat(ctx: &mut Ctx, a: &[Value]) -> R {
    let mut items = Vec::new();
    for v in a {
        let l = slice_arg(v, |k| format!("Cannot concat type {k} as list"))?;
        ctx.charge(l.items.len() as u64 / 8)?;
        items.extend(l.items.iter().cloned());
    }
    any_list(items)
}

pub(super) fn reverse(_: &mut Ctx, a: &[Value]) -> R {
    let l = slice_arg(arg(a, 0)?, |k| format!("Cannot find reverse on type {k}"))?;
    any_list(l.items.iter().rev().cloned().collect())
}

/// `uniq`: first occurrences, compared with `reflect.DeepEqual` (quadratic, as in sprig, and
/// charged as such).
pub(super) fn uniq(ctx: &mut Ctx, a: &[Value]) -> R {
    let l = slice_arg(arg(a, 0)?, |k| format!("Cannot find uniq on type {k}"))?;
    let mut out: Vec<Value> = Vec::new();
    for item in &l.items {
        ctx.charge(1 + out.len() as u64 / 8)?;
        if !out.iter().any(|o| o.deep_equal(item)) {
            out.push(item.clone());
        }
    }
    any_list(out)
}

pub(super) fn compact(_: &mut Ctx, a: &[Value]) -> R {
    let l = slice_arg(arg(a, 0)?, |k| format!("Cannot compact on type {k}"))?;
    any_list(l.items.iter().filter(|v| v.truth()).cloned().collect())
}

pub(super) fn without(ctx: &mut Ctx, a: &[Value]) -> R {
    let l = slice_arg(arg(a, 0)?, |k| format!("Cannot find without on type {k}"))?;
    let omit = &a[1..];
    let mut out = Vec::new();
    for item in &l.items {
        ctx.charge(1 + omit.len() as u64 / 8)?;
        if !omit.iter().any(|o| o.deep_equal(item)) {
            out.push(item.clone());
        }
    }
    any_list(out)
}

pub(super) fn has(_: &mut Ctx, a: &[Value]) -> R {
    let (needle, haystack) = (arg(a, 0)?, arg(a, 1)?);
    if matches!(haystack, Value::Nil) {
        return Ok(Value::Bool(false));
    }
    let l = slice_arg(haystack, |k| format!("Cannot find has on type {k}"))?;
    Ok(Value::Bool(l.items.iter().any(|x| x.deep_equal(needle))))
}

/// sprig's `slice list [start [end]]`; unlike Go's builtin it takes only lists, and reports
/// bounds like `reflect.Value.Slice`.
pub(super) fn slice(_: &mut Ctx, a: &[Value]) -> R {
    let l = slice_arg(arg(a, 0)?, |k| {
        format!("list should be type of slice or array but {k}")
    })?;
    let len = l.items.len() as i64;
    if len == 0 {
        return Ok(Value::Nil);
    }
    let start = a.get(1).map_or(0, to_i64);
    let end = a.get(2).map_or(len, to_i64);
    if start < 0 || end < start || end > len {
        return Err("reflect.Value.Slice: slice index out of bounds".to_string());
    }
    Value::list(l.items[start as usize..end as usize].to_vec(), l.elem)
}

// ---- dictionaries ----

fn map_arg(v: &Value) -> Option<&BTreeMap<String, Value>> {
    match v {
        Value::Map(m) => Some(&m.entries),
        _ => None,
    }
}

/// `dict k1 v1 k2 v2 ...`: keys in `%v` form; a key without a value maps to "".
pub(super) fn dict(ctx: &mut Ctx, a: &[Value]) -> R {
    let mut entries = BTreeMap::new();
    for pair in a.chunks(2) {
        let key = strval(ctx, &pair[0])?;
        let value = pair.get(1).cloned().unwrap_or_else(|| Value::str(""));
        entries.insert(key, value);
    }
    Value::map(entries, Elem::Any)
}

pub(super) fn get(_: &mut Ctx, a: &[Value]) -> R {
    let key = str_arg(a, 1)?;
    Ok(map_arg(arg(a, 0)?)
        .and_then(|m| m.get(key))
        .cloned()
        .unwrap_or_else(|| Value::str("")))
}

pub(super) fn has_key(_: &mut Ctx, a: &[Value]) -> R {
    let key = str_arg(a, 1)?;
    Ok(Value::Bool(
        map_arg(arg(a, 0)?).is_some_and(|m| m.contains_key(key)),
    ))
}

/// `keys`: the keys of every dict given, sorted (sprig's order is Go's random map order).
pub(super) fn keys(ctx: &mut Ctx, a: &[Value]) -> R {
    let mut out: Vec<String> = Vec::new();
    for m in a.iter().filter_map(map_arg) {
        ctx.charge(m.len() as u64 / 8)?;
        out.extend(m.keys().cloned());
    }
    out.sort();
    Ok(Value::strings(out))
}

/// `values`: in key order (sprig's order is Go's random map order).
pub(super) fn values(_: &mut Ctx, a: &[Value]) -> R {
    let items = map_arg(arg(a, 0)?)
        .map(|m| m.values().cloned().collect())
        .unwrap_or_default();
    any_list(items)
}

pub(super) fn pick(_: &mut Ctx, a: &[Value]) -> R {
    let src = map_arg(arg(a, 0)?);
    let mut entries = BTreeMap::new();
    for k in &a[1..] {
        if let Value::Str(k) = k
            && let Some(v) = src.and_then(|m| m.get(&**k))
        {
            entries.insert(k.to_string(), v.clone());
        }
    }
    Value::map(entries, Elem::Any)
}

pub(super) fn omit(_: &mut Ctx, a: &[Value]) -> R {
    let omitted: Vec<&str> = a[1..]
        .iter()
        .filter_map(|k| match k {
            Value::Str(s) => Some(&**s),
            _ => None,
        })
        .collect();
    let entries = map_arg(arg(a, 0)?)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !omitted.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Value::map(entries, Elem::Any)
}

pub(super) fn pluck(_: &mut Ctx, a: &[Value]) -> R {
    let key = str_arg(a, 0)?;
    let items = a[1..]
        .iter()
        .filter_map(map_arg)
        .filter_map(|m| m.get(key).cloned())
        .collect();
    any_list(items)
}

/// A Go type assertion to `map[string]interface{}`.
fn as_dict(v: &Value) -> Result<&BTreeMap<String, Value>, String> {
    match v {
        Value::Map(m) if m.elem == Elem::Any => Ok(&m.entries),
        other => Err(format!(
            "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
            if matches!(other, Value::Nil) {
                "nil"
            } else {
                other.type_name()
            }
        )),
    }
}

/// `dig "a" "b" default dict`: the value at a key path, or the default where a key is missing.
pub(super) fn dig(_: &mut Ctx, a: &[Value]) -> R {
    if a.len() < 3 {
        return Err("dig needs at least three arguments".to_string());
    }
    let mut dict = as_dict(&a[a.len() - 1])?;
    let default = &a[a.len() - 2];
    let keys = &a[..a.len() - 2];
    let mut names = Vec::with_capacity(keys.len());
    for k in keys {
        match k {
            Value::Str(s) => names.push(&**s),
            other => {
                return Err(format!(
                    "interface conversion: interface {{}} is {}, not string",
                    if matches!(other, Value::Nil) {
                        "nil"
                    } else {
                        other.type_name()
                    }
                ));
            }
        }
    }
    for (i, name) in names.iter().enumerate() {
        let Some(step) = dict.get(*name) else {
            return Ok(default.clone());
        };
        if i == names.len() - 1 {
            return Ok(step.clone());
        }
        dict = as_dict(step)?;
    }
    Ok(default.clone())
}

// ---- regular expressions ----

/// Match positions as Go's `FindAll` family reports them: an empty match right after the
/// previous match is skipped, and at most `n` matches are taken (`n < 0` for all).
fn go_matches(
    ctx: &mut Ctx,
    re: &regex::Regex,
    s: &str,
    n: i64,
) -> Result<Vec<(usize, usize)>, String> {
    let mut out = Vec::new();
    if n == 0 {
        return Ok(out);
    }
    let mut pos = 0;
    let mut prev_end: Option<usize> = None;
    while pos <= s.len() {
        let Some(m) = re.find_at(s, pos) else {
            break;
        };
        ctx.charge(1 + (m.end() - pos) as u64 / 64)?;
        let mut accept = true;
        if m.end() == pos {
            // An empty match: not right after another match; then move on one character.
            if Some(m.start()) == prev_end {
                accept = false;
            }
            pos += s[pos..].chars().next().map_or(1, char::len_utf8);
        } else {
            pos = m.end();
        }
        prev_end = Some(m.end());
        if accept {
            out.push((m.start(), m.end()));
            if n > 0 && out.len() as i64 >= n {
                break;
            }
        }
    }
    Ok(out)
}

pub(super) fn regex_match(ctx: &mut Ctx, a: &[Value]) -> R {
    let s = str_arg(a, 1)?;
    Ok(Value::Bool(
        ctx.regex(str_arg(a, 0)?).is_ok_and(|re| re.is_match(s)),
    ))
}

pub(super) fn must_regex_match(ctx: &mut Ctx, a: &[Value]) -> R {
    let re = ctx.regex(str_arg(a, 0)?)?;
    Ok(Value::Bool(re.is_match(str_arg(a, 1)?)))
}

pub(super) fn regex_find(ctx: &mut Ctx, a: &[Value]) -> R {
    let re = ctx.regex(str_arg(a, 0)?)?;
    let s = str_arg(a, 1)?;
    Ok(Value::str(re.find(s).map_or("", |m| m.as_str())))
}

pub(super) fn regex_find_all(ctx: &mut Ctx, a: &[Value]) -> R {
    let re = ctx.regex(str_arg(a, 0)?)?;
    let s = str_arg(a, 1)?;
    let found = go_matches(ctx, &re, s, int_arg(a, 2)?)?;
    Ok(Value::strings(
        found.into_iter().map(|(b, e)| s[b..e].to_string()),
    ))
}

/// Go's `ReplaceAllString` (`$1`/`${name}` expanded) or `ReplaceAllLiteralString`, with Go's
/// empty-match rule and the size cap checked as the result grows.
fn replace_all(ctx: &mut Ctx, a: &[Value], literal: bool) -> R {
    let re = ctx.regex(str_arg(a, 0)?)?;
    let (src, repl) = (str_arg(a, 1)?, str_arg(a, 2)?);
    let mut out = String::new();
    let mut last_end = 0;
    let mut search = 0;
    while search <= src.len() {
        let Some(caps) = re.captures_at(src, search) else {
            break;
        };
        let Some(m) = caps.get(0) else {
            break;
        };
        ctx.charge(1 + (m.end() - search) as u64 / 64)?;
        out.push_str(&src[last_end..m.start()]);
        // No replacement for an empty match right after another match.
        if m.end() > last_end || m.start() == 0 {
            if literal {
                out.push_str(repl);
            } else {
                caps.expand(repl, &mut out);
            }
        }
        ctx.check_size(out.len())?;
        last_end = m.end();
        let width = src[search..].chars().next().map_or(0, char::len_utf8);
        if search + width > m.end() {
            search += width;
        } else if search + 1 > m.end() {
            search += 1;
        } else {
            search = m.end();
        }
    }
    out.push_str(&src[last_end..]);
    text(ctx, out)
}

pub(super) fn regex_replace_all(ctx: &mut Ctx, a: &[Value]) -> R {
    replace_all(ctx, a, false)
}

pub(super) fn regex_replace_all_literal(ctx: &mut Ctx, a: &[Value]) -> R {
    replace_all(ctx, a, true)
}

/// Go's `Regexp.Split(s, n)`.
pub(super) fn regex_split(ctx: &mut Ctx, a: &[Value]) -> R {
    let re = ctx.regex(str_arg(a, 0)?)?;
    let (s, n) = (str_arg(a, 1)?, int_arg(a, 2)?);
    if n == 0 {
        return Ok(Value::strings(Vec::new()));
    }
    if !re.as_str().is_empty() && s.is_empty() {
        return Ok(Value::strings([String::new()]));
    }
    let matches = go_matches(ctx, &re, s, n)?;
    let mut parts: Vec<String> = Vec::new();
    let (mut beg, mut end) = (0, 0);
    for (m0, m1) in matches {
        if n > 0 && parts.len() as i64 == n - 1 {
            break;
        }
        end = m0;
        if m1 != 0 {
            parts.push(s[beg..end].to_string());
        }
        beg = m1;
    }
    if end != s.len() {
        parts.push(s[beg..].to_string());
    }
    Ok(Value::strings(parts))
}

/// Go's `regexp.QuoteMeta`: escapes exactly ``\.+*?()|[]{}^$``.
pub(super) fn regex_quote_meta(ctx: &mut Ctx, a: &[Value]) -> R {
    let mut out = String::new();
    for c in str_arg(a, 0)?.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    text(ctx, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx::new(1 << 20, 1_000_000)
    }

    fn s(x: &str) -> Value {
        Value::str(x)
    }

    fn as_string(v: &Value) -> String {
        gofmt::to_string(v, 1 << 20).unwrap()
    }

    #[test]
    fn conversions_follow_cast() {
        assert_eq!(to_i64(&s("42")), 42);
        assert_eq!(to_i64(&s("3.00")), 3);
        assert_eq!(to_i64(&s("3.5")), 0);
        assert_eq!(to_i64(&s("0x10")), 16);
        assert_eq!(to_i64(&s("abc")), 0);
        assert_eq!(to_i64(&Value::Float(-3.9)), -3);
        assert_eq!(to_i64(&Value::Float(f64::NAN)), i64::MIN);
        assert_eq!(to_i64(&Value::Bool(true)), 1);
        assert_eq!(to_f64(&s("1.5")), 1.5);
        assert_eq!(to_f64(&s("x")), 0.0);
    }

    #[test]
    fn go_split_matches_strings_split() {
        assert_eq!(go_split("a,b,,c", ",", -1), vec!["a", "b", "", "c"]);
        assert_eq!(go_split("", ",", -1), vec![""]);
        assert_eq!(go_split("abc", "", -1), vec!["a", "b", "c"]);
        assert_eq!(go_split("", "", -1), Vec::<String>::new());
        assert_eq!(go_split("abc", "", 2), vec!["a", "bc"]);
        assert_eq!(go_split("a,b,c", ",", 2), vec!["a", "b,c"]);
        assert_eq!(go_split("a,b", ",", 0), Vec::<String>::new());
    }

    #[test]
    fn regex_iteration_follows_go() {
        let mut c = ctx();
        let re = regex::Regex::new("a*").unwrap();
        let found: Vec<(usize, usize)> = go_matches(&mut c, &re, "baaab", -1).unwrap();
        assert_eq!(found, vec![(0, 0), (1, 4), (5, 5)]);
        let out = replace_all(&mut c, &[s("a*"), s("baaab"), s("X")], false).unwrap();
        assert_eq!(as_string(&out), "XbXbX");
        let out = regex_split(&mut c, &[s(","), s("a,b,c"), Value::Int(-1)]).unwrap();
        assert_eq!(as_string(&out), "[a b c]");
        let out = regex_split(&mut c, &[s(""), s("abc"), Value::Int(-1)]).unwrap();
        assert_eq!(as_string(&out), "[a b c]");
        let out = replace_all(
            &mut c,
            &[s("(\\w+)@(\\w+)"), s("me@host"), s("${2}:$1$$")],
            false,
        )
        .unwrap();
        assert_eq!(as_string(&out), "host:me$");
    }

    #[test]
    fn paths_follow_go_path() {
        for (p, want) in [
            ("", "."),
            ("a/b/../c/./d/", "a/c/d"),
            ("/../a", "/a"),
            ("../../a", "../../a"),
            ("a/..", "."),
            ("//a//b", "/a/b"),
        ] {
            assert_eq!(clean(p), want, "{p}");
        }
        let mut c = ctx();
        assert_eq!(
            as_string(&path_base(&mut c, &[s("/a/b.txt/")]).unwrap()),
            "b.txt"
        );
        assert_eq!(as_string(&path_base(&mut c, &[s("///")]).unwrap()), "/");
        assert_eq!(as_string(&path_dir(&mut c, &[s("a/b/c")]).unwrap()), "a/b");
        assert_eq!(as_string(&path_dir(&mut c, &[s("c")]).unwrap()), ".");
        assert_eq!(
            as_string(&path_ext(&mut c, &[s("a.b/c.tar.gz")]).unwrap()),
            ".gz"
        );
        assert_eq!(as_string(&path_ext(&mut c, &[s("a.b/c")]).unwrap()), "");
    }

    #[test]
    fn size_caps_apply_before_building() {
        let mut c = Ctx::new(100, 1_000_000);
        assert!(repeat(&mut c, &[Value::Int(101), s("x")]).is_err());
        assert!(repeat(&mut c, &[Value::Int(100), s("x")]).is_ok());
        assert!(indent(&mut c, &[Value::Int(60), s("a\nb")]).is_err());
        assert!(replace(&mut c, &[s("a"), s("0123456789"), s("aaaaaaaaaaa")]).is_err());
        assert!(
            replace_all(
                &mut c,
                &[
                    s(""),
                    s("0123456789abcdefghijklmnopqrstuvwxyz"),
                    s("XXXXXXXXXX")
                ],
                false
            )
            .is_err()
        );
    }
}
