//! Values as a Go template sees them.
//!
//! Go's behaviour depends on dynamic types, not only on JSON shapes: `eq 1 1.0` fails because `int`
//! and `float64` differ, sprig's `add` returns `int64` which `repeat` (expecting `int`) refuses, and
//! error messages name types (`wrong type for value; expected string; got float64`). So a value keeps
//! the Go type it would have: JSON numbers are `float64` (Argo decodes event data with gjson, whose
//! numbers are all `float64`), number literals are `int` or `float64`, sprig arithmetic gives `int64`.
//!
//! Containers are shared (`Rc`) and carry their nesting depth and a weight (a rough count of the
//! work it takes to walk them), computed once when they are built. The depth is capped so that
//! printing, JSON encoding and dropping a value cannot exhaust the stack; the weight lets the
//! executor charge deep operations to the work budget in constant time.

use std::collections::BTreeMap;
use std::rc::Rc;

/// The deepest container nesting a value may have.
pub(crate) const MAX_VALUE_DEPTH: u32 = 128;

/// The element type of a container: Go's `interface{}` or `string`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    Any,
    Str,
}

#[derive(Debug)]
pub(crate) struct List {
    pub items: Vec<Value>,
    pub elem: Elem,
    depth: u32,
    weight: u64,
}

#[derive(Debug)]
pub(crate) struct Map {
    pub entries: BTreeMap<String, Value>,
    pub elem: Elem,
    depth: u32,
    weight: u64,
}

/// A Go value: `nil`, `bool`, `int`, `int64`, `uint8`, `float64`, `string`, `[]interface{}`,
/// `[]string`, `map[string]interface{}` or `map[string]string`.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// No value: a missing map key, an untyped `nil`, a `nil` interface.
    Nil,
    Bool(bool),
    Int(i64),
    Int64(i64),
    /// A byte, as `index` of a string returns.
    Byte(u8),
    Float(f64),
    Str(Rc<str>),
    List(Rc<List>),
    Map(Rc<Map>),
}

/// Go's basic kinds, as the comparison functions classify values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    String,
    Slice,
    Map,
}

impl Value {
    pub fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }

    /// A list; fails when it would nest deeper than [`MAX_VALUE_DEPTH`].
    pub fn list(items: Vec<Value>, elem: Elem) -> Result<Value, String> {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        if depth > MAX_VALUE_DEPTH {
            return Err(format!(
                "value nesting deeper than {MAX_VALUE_DEPTH} levels"
            ));
        }
        let weight = items.iter().fold(1u64, |w, v| w.saturating_add(v.weight()));
        Ok(Value::List(Rc::new(List {
            items,
            elem,
            depth,
            weight,
        })))
    }

    /// A list of strings (`[]string`).
    pub fn strings(items: impl IntoIterator<Item = String>) -> Value {
        let items: Vec<Value> = items.into_iter().map(Value::str).collect();
        let weight = items.iter().fold(1u64, |w, v| w.saturating_add(v.weight()));
        Value::List(Rc::new(List {
            items,
            elem: Elem::Str,
            depth: 1,
            weight,
        }))
    }

    /// A map; fails when it would nest deeper than [`MAX_VALUE_DEPTH`].
    pub fn map(entries: BTreeMap<String, Value>, elem: Elem) -> Result<Value, String> {
        let depth = 1 + entries.values().map(Value::depth).max().unwrap_or(0);
        if depth > MAX_VALUE_DEPTH {
            return Err(format!(
                "value nesting deeper than {MAX_VALUE_DEPTH} levels"
            ));
        }
        let weight = entries.iter().fold(1u64, |w, (k, v)| {
            w.saturating_add(1 + k.len() as u64 / 64)
                .saturating_add(v.weight())
        });
        Ok(Value::Map(Rc::new(Map {
            entries,
            elem,
            depth,
            weight,
        })))
    }

    /// Nesting depth: 0 for scalars, 1 for a flat container.
    pub fn depth(&self) -> u32 {
        match self {
            Value::List(l) => l.depth,
            Value::Map(m) => m.depth,
            _ => 0,
        }
    }

    /// Roughly how much work walking the whole value takes (1 per node, strings by length).
    pub fn weight(&self) -> u64 {
        match self {
            Value::Str(s) => 1 + s.len() as u64 / 64,
            Value::List(l) => l.weight,
            Value::Map(m) => m.weight,
            _ => 1,
        }
    }

    /// Work to copy the top level of the value (what a function building a new container does).
    pub fn shallow_weight(&self) -> u64 {
        match self {
            Value::Str(s) => 1 + s.len() as u64 / 64,
            Value::List(l) => 1 + l.items.len() as u64 / 8,
            Value::Map(m) => 1 + m.entries.len() as u64 / 8,
            _ => 1,
        }
    }

    /// Go's name of the dynamic type, as `%T` prints it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Byte(_) => "uint8",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(l) => match l.elem {
                Elem::Any => "[]interface {}",
                Elem::Str => "[]string",
            },
            Value::Map(m) => match m.elem {
                Elem::Any => "map[string]interface {}",
                Elem::Str => "map[string]string",
            },
        }
    }

    /// Go's reflect kind.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Nil => Kind::Invalid,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) | Value::Int64(_) => Kind::Int,
            Value::Byte(_) => Kind::Uint,
            Value::Float(_) => Kind::Float,
            Value::Str(_) => Kind::String,
            Value::List(_) => Kind::Slice,
            Value::Map(_) => Kind::Map,
        }
    }

    /// The name of the reflect kind (`reflect.Kind.String()`), as sprig's `kindOf` and its error
    /// messages print it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Byte(_) => "uint8",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
        }
    }

    /// Go's truth: false, 0, nil, and empty strings, slices and maps are false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Byte(b) => *b != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.items.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
        }
    }

    /// `reflect.DeepEqual`: same dynamic types all the way down, and equal contents.
    pub fn deep_equal(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) | (Value::Int64(a), Value::Int64(b)) => a == b,
            (Value::Byte(a), Value::Byte(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                a.elem == b.elem
                    && a.items.len() == b.items.len()
                    && a.items.iter().zip(&b.items).all(|(x, y)| x.deep_equal(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.elem == b.elem
                    && a.entries.len() == b.entries.len()
                    && a.entries
                        .iter()
                        .zip(&b.entries)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.deep_equal(vb))
            }
            _ => false,
        }
    }
}

/// Converts decoded JSON into Go values the way gjson's `Value()` does: objects become
/// `map[string]interface{}`, arrays `[]interface{}`, every number a `float64`.
pub(crate) fn from_json(json: &serde_json::Value) -> Result<Value, String> {
    from_json_at(json, 0)
}

fn from_json_at(json: &serde_json::Value, depth: u32) -> Result<Value, String> {
    use serde_json::Value as J;
    // Check before descending, so a document deeper than the cap fails without recursing further.
    if depth > MAX_VALUE_DEPTH {
        return Err(format!("data nesting deeper than {MAX_VALUE_DEPTH} levels"));
    }
    Ok(match json {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => Value::str(s.as_str()),
        J::Array(items) => {
            let items = items
                .iter()
                .map(|v| from_json_at(v, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Value::list(items, Elem::Any)?
        }
        J::Object(map) => {
            let mut entries = BTreeMap::new();
            for (k, v) in map {
                entries.insert(k.clone(), from_json_at(v, depth + 1)?);
            }
            Value::map(entries, Elem::Any)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_numbers_are_float64_and_containers_are_interface_typed() {
        let v = from_json(&json!({"a": [1, "x", null, true]})).unwrap();
        assert_eq!(v.type_name(), "map[string]interface {}");
        let Value::Map(m) = &v else { panic!() };
        let list = &m.entries["a"];
        assert_eq!(list.type_name(), "[]interface {}");
        let Value::List(list) = list else { panic!() };
        let items = &list.items;
        assert_eq!(items[0].type_name(), "float64");
        assert!(matches!(items[2], Value::Nil));
        assert_eq!(v.depth(), 2);
    }

    #[test]
    fn nesting_is_capped() {
        let mut j = json!(1);
        for _ in 0..(MAX_VALUE_DEPTH + 5) {
            j = json!([j]);
        }
        assert!(from_json(&j).unwrap_err().contains("nesting"));
        let mut v = Value::Int(1);
        let mut failed = false;
        for _ in 0..(MAX_VALUE_DEPTH + 5) {
            match Value::list(vec![v.clone()], Elem::Any) {
                Ok(next) => v = next,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed);
    }

    #[test]
    fn truth_follows_go() {
        assert!(!Value::Nil.truth());
        assert!(!Value::Float(0.0).truth());
        assert!(Value::Float(f64::NAN).truth());
        assert!(!Value::str("").truth());
        assert!(Value::str("0").truth());
        assert!(!Value::list(vec![], Elem::Any).unwrap().truth());
    }

    #[test]
    fn deep_equal_compares_types() {
        assert!(!Value::Int(1).deep_equal(&Value::Int64(1)));
        assert!(Value::Nil.deep_equal(&Value::Nil));
        let a = Value::strings(["x".to_string()]);
        let b = Value::list(vec![Value::str("x")], Elem::Any).unwrap();
        assert!(!a.deep_equal(&b));
        assert!(a.deep_equal(&Value::strings(["x".to_string()])));
    }
}
