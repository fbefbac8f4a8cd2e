//! Go's template builtins: `not`, `len`, `index`, the printers, the escapers and the comparisons.
//! (`and` and `or` short-circuit, so the executor evaluates them; `call` is not offered; `slice` is
//! sprig's in Argo Events.)

use super::{Ctx, arg, codec, str_arg};
use crate::gofmt::{self, Buf};
use crate::value::{Elem, Kind, Value};

type R = Result<Value, String>;

pub(super) fn not(_: &mut Ctx, a: &[Value]) -> R {
    Ok(Value::Bool(!arg(a, 0)?.truth()))
}

/// `len`: bytes of a string, elements of a list or map.
pub(super) fn len(_: &mut Ctx, a: &[Value]) -> R {
    let n = match arg(a, 0)? {
        Value::Str(s) => s.len(),
        Value::List(l) => l.items.len(),
        Value::Map(m) => m.entries.len(),
        Value::Nil => return Err("len of nil pointer".to_string()),
        other => return Err(format!("len of type {}", other.type_name())),
    };
    Ok(Value::Int(n as i64))
}

/// An index into a string or list of length `len` (Go's `indexArg` plus `reflect`'s bounds).
fn index_arg(index: &Value, len: usize, what: &str) -> Result<usize, String> {
    let x: i128 = match index {
        Value::Int(i) | Value::Int64(i) => i128::from(*i),
        Value::Byte(b) => i128::from(*b),
        Value::Nil => return Err("cannot index slice/array with nil".to_string()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x > len as i128 {
        return Err(format!("index out of range: {x}"));
    }
    if x == len as i128 {
        // Go's bounds check lets this through to reflect, which panics.
        return Err(format!("reflect: {what} index out of range"));
    }
    Ok(x as usize)
}

/// `index x 1 2 3` is `x[1][2][3]`; a missing map key gives the element type's zero value.
pub(super) fn index(_: &mut Ctx, a: &[Value]) -> R {
    let mut item = arg(a, 0)?.clone();
    if matches!(item, Value::Nil) {
        return Err("index of untyped nil".to_string());
    }
    for idx in &a[1..] {
        item = match &item {
            Value::Nil => return Err("index of nil pointer".to_string()),
            Value::List(l) => l.items[index_arg(idx, l.items.len(), "slice")?].clone(),
            Value::Str(s) => Value::Byte(s.as_bytes()[index_arg(idx, s.len(), "string")?]),
            Value::Map(m) => {
                let key = match idx {
                    Value::Str(k) => k.to_string(),
                    Value::Nil => {
                        return Err("value is nil; should be of type string".to_string());
                    }
                    other => {
                        return Err(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        ));
                    }
                };
                match (m.entries.get(&key), m.elem) {
                    (Some(v), _) => v.clone(),
                    (None, Elem::Any) => Value::Nil,
                    (None, Elem::Str) => Value::str(""),
                }
            }
            other => {
                return Err(format!("can't index item of type {}", other.type_name()));
            }
        };
    }
    Ok(item)
}

fn finish(buf: Buf, ctx: &Ctx) -> R {
    if buf.overflowed() {
        return Err(format!("result exceeds {} bytes", ctx.max_bytes));
    }
    Ok(Value::str(buf.into_string()))
}

pub(super) fn print(ctx: &mut Ctx, a: &[Value]) -> R {
    let mut buf = Buf::new(ctx.max_bytes);
    gofmt::sprint(&mut buf, a);
    finish(buf, ctx)
}

pub(super) fn printf(ctx: &mut Ctx, a: &[Value]) -> R {
    let mut buf = Buf::new(ctx.max_bytes);
    gofmt::sprintf(&mut buf, str_arg(a, 0)?, &a[1..]);
    finish(buf, ctx)
}

pub(super) fn println(ctx: &mut Ctx, a: &[Value]) -> R {
    let mut buf = Buf::new(ctx.max_bytes);
    gofmt::sprintln(&mut buf, a);
    finish(buf, ctx)
}

/// The text the escapers work on: a single string as is; otherwise `fmt.Sprint` of the
/// arguments, with nil printed as `<no value>`.
fn escaper_text(ctx: &Ctx, a: &[Value]) -> Result<String, String> {
    if let [Value::Str(s)] = a {
        return Ok(s.to_string());
    }
    let args: Vec<Value> = a
        .iter()
        .map(|v| match v {
            Value::Nil => Value::str("<no value>"),
            v => v.clone(),
        })
        .collect();
    let mut buf = Buf::new(ctx.max_bytes);
    gofmt::sprint(&mut buf, &args);
    if buf.overflowed() {
        return Err(format!("result exceeds {} bytes", ctx.max_bytes));
    }
    Ok(buf.into_string())
}

fn escaped(ctx: &Ctx, s: String) -> R {
    ctx.check_size(s.len())?;
    Ok(Value::str(s))
}

pub(super) fn html(ctx: &mut Ctx, a: &[Value]) -> R {
    escaped(ctx, codec::html_escape(&escaper_text(ctx, a)?))
}

pub(super) fn js(ctx: &mut Ctx, a: &[Value]) -> R {
    escaped(ctx, codec::js_escape(&escaper_text(ctx, a)?))
}

pub(super) fn urlquery(ctx: &mut Ctx, a: &[Value]) -> R {
    escaped(ctx, codec::query_escape(&escaper_text(ctx, a)?))
}

/// Go's comparison classes: only basic kinds compare with `lt`; `eq` also handles nil.
fn basic(v: &Value) -> Kind {
    match v.kind() {
        k @ (Kind::Bool | Kind::Int | Kind::Uint | Kind::Float | Kind::String) => k,
        _ => Kind::Invalid,
    }
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        _ => 0,
    }
}

fn uint_of(v: &Value) -> u64 {
    match v {
        Value::Byte(b) => u64::from(*b),
        _ => 0,
    }
}

fn float_of(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

fn str_of(v: &Value) -> &str {
    match v {
        Value::Str(s) => s,
        _ => "",
    }
}

fn format_verb(v: &Value, verb: &str) -> String {
    let mut buf = Buf::new(4096);
    gofmt::sprintf(&mut buf, verb, std::slice::from_ref(v));
    buf.into_string()
}

/// `eq a b c ...` is `a == b || a == c || ...`.
fn equal(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".to_string());
    }
    let k1 = basic(a);
    for b in others {
        let k2 = basic(b);
        let truth = if k1 != k2 {
            match (k1, k2) {
                // Integers compare regardless of sign.
                (Kind::Int, Kind::Uint) => int_of(a) >= 0 && int_of(a) as u64 == uint_of(b),
                (Kind::Uint, Kind::Int) => int_of(b) >= 0 && uint_of(a) == int_of(b) as u64,
                _ => {
                    if !matches!(a, Value::Nil) && !matches!(b, Value::Nil) {
                        return Err(format!(
                            "incompatible types for comparison: {} and {}",
                            a.type_name(),
                            b.type_name()
                        ));
                    }
                    false
                }
            }
        } else {
            match k1 {
                Kind::Bool => matches!((a, b), (Value::Bool(x), Value::Bool(y)) if x == y),
                Kind::Int => int_of(a) == int_of(b),
                Kind::Uint => uint_of(a) == uint_of(b),
                Kind::Float => float_of(a) == float_of(b),
                Kind::String => str_of(a) == str_of(b),
                _ => {
                    // Nil, lists and maps: same kind or one nil, and only nil compares.
                    let (ka, kb) = (a.kind(), b.kind());
                    if ka != kb && ka != Kind::Invalid && kb != Kind::Invalid {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            format_verb(a, "%s"),
                            a.type_name(),
                            b.type_name(),
                            format_verb(b, "%v")
                        ));
                    }
                    let (na, nb) = (matches!(a, Value::Nil), matches!(b, Value::Nil));
                    if na || nb {
                        na == nb
                    } else {
                        return Err(format!(
                            "non-comparable type {}: {}",
                            format_verb(b, "%s"),
                            b.type_name()
                        ));
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn less(a: &Value, b: &Value) -> Result<bool, String> {
    let (k1, k2) = (basic(a), basic(b));
    if k1 == Kind::Invalid || k2 == Kind::Invalid {
        return Err("invalid type for comparison".to_string());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Kind::Int, Kind::Uint) => Ok(int_of(a) < 0 || (int_of(a) as u64) < uint_of(b)),
            (Kind::Uint, Kind::Int) => Ok(int_of(b) >= 0 && uint_of(a) < int_of(b) as u64),
            _ => Err(format!(
                "incompatible types for comparison: {} and {}",
                a.type_name(),
                b.type_name()
            )),
        };
    }
    Ok(match k1 {
        Kind::Int => int_of(a) < int_of(b),
        Kind::Uint => uint_of(a) < uint_of(b),
        Kind::Float => float_of(a) < float_of(b),
        Kind::String => str_of(a) < str_of(b),
        _ => return Err("invalid type for comparison".to_string()),
    })
}

pub(super) fn eq(_: &mut Ctx, a: &[Value]) -> R {
    equal(arg(a, 0)?, &a[1..]).map(Value::Bool)
}

pub(super) fn ne(_: &mut Ctx, a: &[Value]) -> R {
    equal(arg(a, 0)?, &a[1..2]).map(|e| Value::Bool(!e))
}

pub(super) fn lt(_: &mut Ctx, a: &[Value]) -> R {
    less(arg(a, 0)?, arg(a, 1)?).map(Value::Bool)
}

/// `le` is `lt || eq`.
pub(super) fn le(_: &mut Ctx, a: &[Value]) -> R {
    let (x, y) = (arg(a, 0)?, arg(a, 1)?);
    if less(x, y)? {
        return Ok(Value::Bool(true));
    }
    equal(x, std::slice::from_ref(y)).map(Value::Bool)
}

pub(super) fn gt(ctx: &mut Ctx, a: &[Value]) -> R {
    let le = le(ctx, a)?;
    Ok(Value::Bool(!le.truth()))
}

pub(super) fn ge(_: &mut Ctx, a: &[Value]) -> R {
    less(arg(a, 0)?, arg(a, 1)?).map(|l| Value::Bool(!l))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(f: fn(&mut Ctx, &[Value]) -> R, args: &[Value]) -> Result<String, String> {
        let mut c = Ctx::new(1 << 20, 1_000_000);
        f(&mut c, args).map(|v| gofmt::to_string(&v, 1 << 20).unwrap())
    }

    #[test]
    fn comparisons_follow_go() {
        let one = Value::Int(1);
        let onef = Value::Float(1.0);
        assert_eq!(call(eq, &[one.clone(), Value::Int64(1)]), Ok("true".into()));
        assert_eq!(call(eq, &[one.clone(), Value::Byte(1)]), Ok("true".into()));
        assert_eq!(
            call(eq, &[onef.clone(), one.clone()]),
            Err("incompatible types for comparison: float64 and int".into())
        );
        assert_eq!(call(eq, &[Value::Nil, Value::Nil]), Ok("true".into()));
        assert_eq!(call(eq, &[Value::Nil, Value::str("a")]), Ok("false".into()));
        assert_eq!(
            call(eq, &[Value::str("a"), Value::str("b"), Value::str("a")]),
            Ok("true".into())
        );
        assert_eq!(
            call(eq, std::slice::from_ref(&one)),
            Err("missing argument for comparison".into())
        );
        let list = Value::list(vec![Value::Int(1)], Elem::Any).unwrap();
        assert_eq!(
            call(eq, &[list.clone(), list.clone()]),
            Err("non-comparable type [%!s(int=1)]: []interface {}".into())
        );
        assert_eq!(call(eq, &[Value::Nil, list.clone()]), Ok("false".into()));
        assert_eq!(
            call(lt, &[Value::str("a"), Value::str("b")]),
            Ok("true".into())
        );
        assert_eq!(
            call(lt, &[Value::Nil, one.clone()]),
            Err("invalid type for comparison".into())
        );
        assert_eq!(
            call(lt, &[Value::Bool(true), Value::Bool(false)]),
            Err("invalid type for comparison".into())
        );
        assert_eq!(call(le, &[onef.clone(), onef.clone()]), Ok("true".into()));
        assert_eq!(
            call(gt, &[Value::Float(2.0), onef.clone()]),
            Ok("true".into())
        );
        assert_eq!(
            call(ge, &[Value::Int(-1), Value::Byte(0)]),
            Ok("false".into())
        );
        // NaN: neither less nor equal, so "greater".
        assert_eq!(call(gt, &[Value::Float(f64::NAN), onef]), Ok("true".into()));
    }

    #[test]
    fn index_and_len_follow_go() {
        let list = Value::list(vec![Value::str("a"), Value::Nil], Elem::Any).unwrap();
        assert_eq!(call(index, &[list.clone(), Value::Int(0)]), Ok("a".into()));
        assert_eq!(
            call(index, &[list.clone(), Value::Int(5)]),
            Err("index out of range: 5".into())
        );
        assert_eq!(
            call(index, &[list.clone(), Value::Int(2)]),
            Err("reflect: slice index out of range".into())
        );
        assert_eq!(
            call(index, &[list.clone(), Value::Int(1), Value::Int(0)]),
            Err("index of nil pointer".into())
        );
        assert_eq!(
            call(index, &[list.clone(), Value::Float(0.0)]),
            Err("cannot index slice/array with type float64".into())
        );
        assert_eq!(
            call(index, &[Value::str("hi"), Value::Int(1)]),
            Ok("105".into())
        );
        assert_eq!(
            call(index, &[Value::Nil, Value::Int(1)]),
            Err("index of untyped nil".into())
        );
        assert_eq!(
            call(index, &[Value::Float(1.0), Value::Int(1)]),
            Err("can't index item of type float64".into())
        );
        assert_eq!(call(len, &[Value::str("héllo")]), Ok("6".into()));
        assert_eq!(call(len, &[list]), Ok("2".into()));
        assert_eq!(
            call(len, &[Value::Float(1.0)]),
            Err("len of type float64".into())
        );
    }

    #[test]
    fn escapers_take_arguments_like_sprint() {
        assert_eq!(call(html, &[Value::str("<a>")]), Ok("&lt;a&gt;".into()));
        assert_eq!(call(html, &[Value::Nil]), Ok("&lt;no value&gt;".into()));
        assert_eq!(
            call(urlquery, &[Value::Int(1), Value::Int(2)]),
            Ok("1+2".into())
        );
        assert_eq!(call(js, &[Value::str("a'b")]), Ok("a\\'b".into()));
    }
}
