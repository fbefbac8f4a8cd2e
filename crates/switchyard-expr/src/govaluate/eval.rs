//! govaluate's evaluation stages: type checks, short circuits and operators, with its messages.
//!
//! Rules kept from govaluate: no coercion (`'1' == 1` is false; `'a' < 1` is an error); `+`
//! concatenates as soon as one side is a string, printing the other side with Go's `%v`;
//! comparisons of two strings are lexical (byte order), of two numbers numeric; `&&` and `||`
//! stop at `false` / `true` before checking the right side; `a ? b` is `b` when `a` is true and
//! nil otherwise, and `x : y` / `x ?? y` are `x` unless it is nil; `in` wants a list on its
//! right (`x in ('a', 'b')`); bitwise operators work on the int64 of the number.

use super::Value;
use super::parser::{BinOp, Link, Node, PrefixOp};
use crate::{Error, compile_regex, one_line};

/// A value during evaluation: a plain value, or a regex compiled from a literal after `=~`.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Plain(Value),
    Pattern(regex::Regex, String),
}

impl Val {
    const NIL: Val = Val::Plain(Value::Null);

    fn go_v(&self) -> String {
        match self {
            Val::Plain(v) => v.go_v(),
            Val::Pattern(_, source) => source.clone(),
        }
    }

    fn is_nil(&self) -> bool {
        matches!(self, Val::Plain(Value::Null))
    }

    fn bool(&self) -> Option<bool> {
        match self {
            Val::Plain(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Val::Plain(Value::Number(n)) => Some(*n),
            _ => None,
        }
    }

    fn string(&self) -> Option<&str> {
        match self {
            Val::Plain(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            Val::Plain(v) => v,
            Val::Pattern(_, source) => Value::String(source),
        }
    }
}

pub(crate) type Params<'a> = &'a dyn Fn(&str) -> Option<Value>;

const LOGICAL: &str = "Value '{}' cannot be used with the logical operator '{}', it is not a bool";
const MODIFIER: &str = "Value '{}' cannot be used with the modifier '{}', it is not a number";
const COMPARATOR: &str = "Value '{}' cannot be used with the comparator '{}', it is not a number";
const TERNARY: &str = "Value '{}' cannot be used with the ternary operator '{}', it is not a bool";
const PREFIX: &str = "Value '{}' cannot be used with the prefix '{}'";

fn type_error(format: &str, value: &Val, symbol: &str, position: usize) -> Error {
    let message = format
        .replacen("{}", &value.go_v(), 1)
        .replacen("{}", symbol, 1);
    Error::eval(message, Some(position))
}

pub(crate) fn eval(node: &Node, params: Params<'_>) -> Result<Val, Error> {
    match node {
        Node::Literal(v) => Ok(v.clone()),
        Node::Param { name, position } => params(name)
            .map(Val::Plain)
            .ok_or_else(|| Error::eval(format!("No parameter '{name}' found."), Some(*position))),
        Node::Accessor {
            parts,
            args,
            position,
        } => {
            if let Some(args) = args {
                eval(args, params)?;
            }
            let root = parts.first().map(String::as_str).unwrap_or_default();
            if params(root).is_none() {
                return Err(Error::eval(
                    format!("No parameter '{root}' found."),
                    Some(*position),
                ));
            }
            // govaluate reads fields and methods of Go structs; parameters here are JSON-like
            // values, which are never structs.
            let field = parts.get(1).map(String::as_str).unwrap_or_default();
            Err(Error::eval(
                format!("Unable to access '{field}', '{root}' is not a struct"),
                Some(*position),
            ))
        }
        Node::Group(inner) => eval_opt(inner.as_deref(), params),
        Node::Prefix {
            op,
            operand,
            position,
        } => {
            let value = eval_opt(operand.as_deref(), params)?;
            prefix(*op, &value, *position)
        }
        Node::Chain { first, rest } => {
            let mut acc = eval_opt(first.as_deref(), params)?;
            for link in rest {
                acc = apply(link, acc, params)?;
            }
            Ok(acc)
        }
    }
}

fn eval_opt(node: Option<&Node>, params: Params<'_>) -> Result<Val, Error> {
    match node {
        Some(node) => eval(node, params),
        None => Ok(Val::NIL),
    }
}

fn prefix(op: PrefixOp, value: &Val, position: usize) -> Result<Val, Error> {
    let result = match op {
        PrefixOp::Negate => value.number().map(|n| Value::Number(-n)),
        PrefixOp::Invert => value.bool().map(|b| Value::Bool(!b)),
        PrefixOp::BitNot => value.number().map(|n| Value::Number(!(n as i64) as f64)),
    };
    result
        .map(Val::Plain)
        .ok_or_else(|| type_error(PREFIX, value, op.symbol(), position))
}

fn apply(link: &Link, left: Val, params: Params<'_>) -> Result<Val, Error> {
    let op = link.op;
    let position = link.position;
    let right = || eval_opt(link.right.as_ref(), params);
    let symbol = op.symbol();

    // Short circuits, before any type check (as govaluate does).
    match op {
        BinOp::And if left.bool() == Some(false) => return Ok(Val::Plain(Value::Bool(false))),
        BinOp::Or if left.bool() == Some(true) => return Ok(Val::Plain(Value::Bool(true))),
        BinOp::Coalesce | BinOp::TernaryFalse if !left.is_nil() => return Ok(left),
        BinOp::TernaryTrue if left.bool() == Some(false) => return Ok(Val::NIL),
        _ => {}
    }

    let right = right()?;
    let plain = |v: Value| Ok(Val::Plain(v));
    match op {
        BinOp::Separate => {
            let right = right.into_value();
            match left.into_value() {
                Value::Array(mut items) => {
                    items.push(right);
                    plain(Value::Array(items))
                }
                other => plain(Value::Array(vec![other, right])),
            }
        }
        BinOp::TernaryTrue => match left.bool() {
            Some(true) => Ok(right),
            Some(false) => Ok(Val::NIL),
            None => Err(type_error(TERNARY, &left, symbol, position)),
        },
        BinOp::TernaryFalse | BinOp::Coalesce => Ok(right),
        BinOp::And | BinOp::Or => {
            let l = left
                .bool()
                .ok_or_else(|| type_error(LOGICAL, &left, symbol, position))?;
            let r = right
                .bool()
                .ok_or_else(|| type_error(LOGICAL, &right, symbol, position))?;
            plain(Value::Bool(if op == BinOp::And { l && r } else { l || r }))
        }
        BinOp::Eq => plain(Value::Bool(deep_equal(&left, &right))),
        BinOp::Neq => plain(Value::Bool(!deep_equal(&left, &right))),
        BinOp::Gt | BinOp::Gte | BinOp::Lt | BinOp::Lte => {
            let ordering = match (&left, &right) {
                (Val::Plain(Value::Number(a)), Val::Plain(Value::Number(b))) => a.partial_cmp(b),
                (Val::Plain(Value::String(a)), Val::Plain(Value::String(b))) => Some(a.cmp(b)),
                _ => return Err(type_error(COMPARATOR, &left, symbol, position)),
            };
            use std::cmp::Ordering::*;
            let result = match (op, ordering) {
                (_, None) => false, // NaN compares false, as in Go
                (BinOp::Gt, Some(o)) => o == Greater,
                (BinOp::Gte, Some(o)) => o != Less,
                (BinOp::Lt, Some(o)) => o == Less,
                (_, Some(o)) => o != Greater,
            };
            plain(Value::Bool(result))
        }
        BinOp::Req | BinOp::Nreq => {
            let subject = left
                .string()
                .ok_or_else(|| type_error(COMPARATOR, &left, symbol, position))?;
            let matched = match &right {
                Val::Pattern(re, _) => re.is_match(subject),
                Val::Plain(Value::String(source)) => match compile_regex(source) {
                    Ok(re) => re.is_match(subject),
                    Err(e) => {
                        return Err(Error::eval(
                            format!(
                                "Unable to compile regexp pattern '{source}': {}",
                                one_line(&e)
                            ),
                            Some(position),
                        ));
                    }
                },
                _ => return Err(type_error(COMPARATOR, &right, symbol, position)),
            };
            plain(Value::Bool(matched == (op == BinOp::Req)))
        }
        BinOp::In => {
            let Val::Plain(Value::Array(items)) = &right else {
                return Err(type_error(COMPARATOR, &right, symbol, position));
            };
            let needle = left.into_value();
            for item in items {
                if go_interface_equal(&needle, item, position)? {
                    return plain(Value::Bool(true));
                }
            }
            plain(Value::Bool(false))
        }
        BinOp::Plus => match (&left, &right) {
            (Val::Plain(Value::Number(a)), Val::Plain(Value::Number(b))) => {
                plain(Value::Number(a + b))
            }
            _ if left.string().is_some() || right.string().is_some() => {
                plain(Value::String(format!("{}{}", left.go_v(), right.go_v())))
            }
            _ => Err(type_error(MODIFIER, &left, symbol, position)),
        },
        _ => {
            let a = left
                .number()
                .ok_or_else(|| type_error(MODIFIER, &left, symbol, position))?;
            let b = right
                .number()
                .ok_or_else(|| type_error(MODIFIER, &right, symbol, position))?;
            let n = match op {
                BinOp::Minus => a - b,
                BinOp::Multiply => a * b,
                BinOp::Divide => a / b,
                BinOp::Modulus => a % b,
                BinOp::Exponent => a.powf(b),
                BinOp::BitAnd => ((a as i64) & (b as i64)) as f64,
                BinOp::BitOr => ((a as i64) | (b as i64)) as f64,
                BinOp::BitXor => ((a as i64) ^ (b as i64)) as f64,
                BinOp::Shl => shift(a, b, u64::checked_shl),
                _ => shift(a, b, u64::checked_shr),
            };
            plain(Value::Number(n))
        }
    }
}

/// `uint64(a) << uint64(b)`: Go yields 0 for shift counts of 64 and more.
fn shift(a: f64, b: f64, op: fn(u64, u32) -> Option<u64>) -> f64 {
    let value = a as i64 as u64;
    let count = b as i64 as u64;
    let result = u32::try_from(count)
        .ok()
        .and_then(|c| op(value, c))
        .unwrap_or(0);
    result as f64
}

/// Go's `reflect.DeepEqual` on decoded values.
fn deep_equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Plain(a), Val::Plain(b)) => a == b,
        _ => false,
    }
}

/// Go's `==` on two `interface{}` values: lists and maps of the same type cannot be compared.
fn go_interface_equal(a: &Value, b: &Value, position: usize) -> Result<bool, Error> {
    match (a, b) {
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => {
            Err(Error::eval(
                "runtime error: comparing uncomparable type (a list or map with 'in')",
                Some(position),
            ))
        }
        _ => Ok(a == b),
    }
}
