//! A serde `Deserializer` over the located tree.
//!
//! It tracks the object path of every node, so errors carry path, line and column. For
//! structs it warns about unknown fields (and does not pass them on) and applies the model's
//! field policy. Plain scalars deserialized as strings keep their text (`port: 12000` gives
//! `"12000"`); booleans and numbers are never coerced from strings.

use serde::de::{self, DeserializeSeed, Visitor};
use std::cell::RefCell;
use std::collections::HashSet;
use switchyard_model::{Diagnostic, field_policy};

use crate::error::{Error, Location};
use crate::parse::slash_comment_hint;
use crate::path::{join_index, join_key};
use crate::tree::{Entry, Node, NodeKind};

/// Findings made while deserializing that are not failures: unknown fields and field
/// policy. Deduplicated, because a document may be deserialized several times.
#[derive(Default)]
pub(crate) struct Findings {
    pub(crate) diagnostics: Vec<Diagnostic>,
    seen: HashSet<(String, String)>,
}

impl Findings {
    fn add(&mut self, d: Diagnostic) {
        if self.seen.insert((d.path.clone(), d.message.clone())) {
            self.diagnostics.push(d);
        }
    }
}

/// Deserializes one node. `line`/`column` are where errors about the node point: the value
/// itself for scalars, the key that introduces it for collections.
pub(crate) struct De<'a> {
    node: &'a Node,
    path: String,
    line: u32,
    column: u32,
    findings: &'a RefCell<Findings>,
}

/// Where errors about the value of `entry` point: the value for scalars, else the key.
pub(crate) fn value_location(entry: &Entry) -> (u32, u32) {
    if entry.value.is_scalar() {
        (entry.value.line, entry.value.column)
    } else {
        (entry.key.line, entry.key.column)
    }
}

impl<'a> De<'a> {
    pub(crate) fn root(node: &'a Node, findings: &'a RefCell<Findings>) -> Self {
        De {
            node,
            path: String::new(),
            line: node.line,
            column: node.column,
            findings,
        }
    }

    fn child(&self, node: &'a Node, path: String, (line, column): (u32, u32)) -> De<'a> {
        De {
            node,
            path,
            line,
            column,
            findings: self.findings,
        }
    }

    /// Attaches this node's location to an error that has none yet.
    fn locate(&self, mut error: Error) -> Error {
        if error.location.is_none() {
            if self.node.is_scalar()
                && let Some(hint) = slash_comment_hint(&self.node.text)
            {
                error.message = format!("{}; {hint}", error.message);
            }
            error.location = Some(Location {
                path: self.path.clone(),
                line: self.line,
                column: self.column,
            });
        }
        error
    }

    fn mismatch(&self, expected: &str) -> Error {
        self.locate(Error::new(format!(
            "expected {expected}, found {}",
            self.node.describe()
        )))
    }

    fn integer(&self) -> Result<i128, Error> {
        match self.node.kind {
            NodeKind::Int(i) => Ok(i),
            _ => Err(self.mismatch("an integer")),
        }
    }

    fn float(&self) -> Result<f64, Error> {
        match self.node.kind {
            NodeKind::Int(i) => Ok(i as f64),
            NodeKind::Float(f) => Ok(f),
            _ => Err(self.mismatch("a number")),
        }
    }

    /// The text of any scalar except null.
    fn text(&self) -> Result<&'a str, Error> {
        match self.node.kind {
            NodeKind::Seq(_) | NodeKind::Map(_) | NodeKind::Null => Err(self.mismatch("a string")),
            _ => Ok(&self.node.text),
        }
    }

    fn entries(&self, expected: &str) -> Result<&'a [Entry], Error> {
        match &self.node.kind {
            NodeKind::Map(entries) => Ok(entries),
            // Kubernetes treats an empty value like an absent one.
            NodeKind::Null => Ok(&[]),
            _ => Err(self.mismatch(expected)),
        }
    }

    fn items(&self) -> Result<&'a [Node], Error> {
        match &self.node.kind {
            NodeKind::Seq(items) => Ok(items),
            NodeKind::Null => Ok(&[]),
            _ => Err(self.mismatch("a list")),
        }
    }

    fn map_access(&self, entries: Vec<&'a Entry>) -> MapDe<'a> {
        MapDe {
            entries: entries.into_iter(),
            value: None,
            path: self.path.clone(),
            findings: self.findings,
        }
    }
}

macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident as $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let value = self.integer()?;
            let value = <$ty>::try_from(value).map_err(|_| {
                self.locate(Error::new(format!(
                    "integer `{}` is out of range: expected {} to {}",
                    self.node.text,
                    <$ty>::MIN,
                    <$ty>::MAX
                )))
            })?;
            visitor.$visit(value).map_err(|e| self.locate(e))
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for De<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Bool(b) => visitor.visit_bool(*b),
            NodeKind::Int(i) => {
                if let Ok(v) = i64::try_from(*i) {
                    visitor.visit_i64(v)
                } else if let Ok(v) = u64::try_from(*i) {
                    visitor.visit_u64(v)
                } else {
                    visitor.visit_i128(*i)
                }
            }
            NodeKind::Float(f) => visitor.visit_f64(*f),
            NodeKind::Str { .. } => visitor.visit_str(&self.node.text),
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe::new(&self, items)),
            NodeKind::Map(entries) => visitor.visit_map(self.map_access(entries.iter().collect())),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.kind {
            NodeKind::Bool(b) => visitor.visit_bool(b).map_err(|e| self.locate(e)),
            _ => Err(self.mismatch("`true` or `false`")),
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8 as i8,
        deserialize_i16 => visit_i16 as i16,
        deserialize_i32 => visit_i32 as i32,
        deserialize_i64 => visit_i64 as i64,
        deserialize_i128 => visit_i128 as i128,
        deserialize_u8 => visit_u8 as u8,
        deserialize_u16 => visit_u16 as u16,
        deserialize_u32 => visit_u32 as u32,
        deserialize_u64 => visit_u64 as u64,
        deserialize_u128 => visit_u128 as u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let value = self.float()?;
        visitor.visit_f64(value).map_err(|e| self.locate(e))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.text()?;
        visitor.visit_str(text).map_err(|e| self.locate(e))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.text()?;
        visitor
            .visit_bytes(text.as_bytes())
            .map_err(|e| self.locate(e))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if matches!(self.node.kind, NodeKind::Null) {
            visitor.visit_none().map_err(|e| self.locate(e))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.kind {
            NodeKind::Null => visitor.visit_unit().map_err(|e| self.locate(e)),
            _ => Err(self.mismatch("null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let items = self.items()?;
        visitor
            .visit_seq(SeqDe::new(&self, items))
            .map_err(|e| self.locate(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let entries = self.entries("a mapping")?;
        visitor
            .visit_map(self.map_access(entries.iter().collect()))
            .map_err(|e| self.locate(e))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let entries = self.entries("a mapping")?;
        let mut known = Vec::with_capacity(entries.len());
        {
            let mut findings = self.findings.borrow_mut();
            for entry in entries {
                let key = entry.key.text.as_str();
                let path = join_key(&self.path, key);
                let at = (entry.key.line, entry.key.column);
                if !fields.contains(&key) {
                    let suggestion = closest(key, fields)
                        .map(|f| format!(" (did you mean `{f}`?)"))
                        .unwrap_or_default();
                    findings.add(
                        Diagnostic::warning(
                            path,
                            format!("unknown field `{key}` in {name}; it is ignored{suggestion}"),
                        )
                        .at(at.0, at.1),
                    );
                    continue;
                }
                if let Some(policy) = field_policy(name, key) {
                    findings.add(
                        Diagnostic::new(
                            policy.severity,
                            path,
                            format!("field `{key}` {}", policy.reason),
                        )
                        .at(at.0, at.1),
                    );
                }
                known.push(entry);
            }
        }
        visitor
            .visit_map(self.map_access(known))
            .map_err(|e| self.locate(e))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Map(entries) if entries.len() == 1 => {
                let entry = &entries[0];
                let path = join_key(&self.path, &entry.key.text);
                let access = EnumDe {
                    variant: self.child(
                        &entry.key,
                        path.clone(),
                        (entry.key.line, entry.key.column),
                    ),
                    value: Some(self.child(&entry.value, path, value_location(entry))),
                };
                visitor.visit_enum(access).map_err(|e| self.locate(e))
            }
            NodeKind::Seq(_) | NodeKind::Map(_) | NodeKind::Null => {
                Err(self.mismatch(&crate::error::one_of(variants)))
            }
            _ => {
                let access = EnumDe {
                    variant: self.child(self.node, self.path.clone(), (self.line, self.column)),
                    value: None,
                };
                visitor.visit_enum(access).map_err(|e| self.locate(e))
            }
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// The field name closest to `key` (a typo or a case slip), if one is close enough.
fn closest(key: &str, fields: &[&'static str]) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    fields
        .iter()
        .map(|f| (edit_distance(&lower, &f.to_ascii_lowercase()), *f))
        .filter(|(d, f)| *d <= if f.len() <= 3 { 1 } else { 2 })
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
    path: String,
    findings: &'a RefCell<Findings>,
}

impl<'a> SeqDe<'a> {
    fn new(parent: &De<'a>, items: &'a [Node]) -> Self {
        SeqDe {
            items: items.iter(),
            path: parent.path.clone(),
            findings: parent.findings,
        }
    }
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let de = De {
            node: item,
            path: join_index(&self.path, item.index),
            line: item.line,
            column: item.column,
            findings: self.findings,
        };
        seed.deserialize(de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a> {
    entries: std::vec::IntoIter<&'a Entry>,
    value: Option<&'a Entry>,
    path: String,
    findings: &'a RefCell<Findings>,
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        let de = De {
            node: &entry.key,
            path: join_key(&self.path, &entry.key.text),
            line: entry.key.line,
            column: entry.key.column,
            findings: self.findings,
        };
        seed.deserialize(de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some(entry) = self.value.take() else {
            return Err(Error::new("a mapping value was requested before its key"));
        };
        let (line, column) = value_location(entry);
        let de = De {
            node: &entry.value,
            path: join_key(&self.path, &entry.key.text),
            line,
            column,
            findings: self.findings,
        };
        seed.deserialize(de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumDe<'a> {
    variant: De<'a>,
    value: Option<De<'a>>,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumDe<'a> {
    type Error = Error;
    type Variant = VariantDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDe<'a>), Error> {
        let name = self.variant;
        let variant =
            seed.deserialize(name.child(name.node, name.path.clone(), (name.line, name.column)))?;
        Ok((
            variant,
            VariantDe {
                name,
                value: self.value,
            },
        ))
    }
}

struct VariantDe<'a> {
    /// The variant's name, for errors.
    name: De<'a>,
    value: Option<De<'a>>,
}

impl VariantDe<'_> {
    fn needs_value(&self) -> Error {
        self.name.locate(Error::new(format!(
            "`{}` needs a value: write it as `{}: ...`",
            self.name.node.text, self.name.node.text
        )))
    }
}

impl<'de> de::VariantAccess<'de> for VariantDe<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            None => Ok(()),
            Some(value) => match value.node.kind {
                NodeKind::Null => Ok(()),
                _ => Err(value.locate(Error::new(format!(
                    "`{}` takes no value, found {}",
                    self.name.node.text,
                    value.node.describe()
                )))),
            },
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.value {
            Some(value) => seed.deserialize(value),
            None => Err(self.needs_value()),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Some(value) => de::Deserializer::deserialize_seq(value, visitor),
            None => Err(self.needs_value()),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Some(value) => {
                de::Deserializer::deserialize_struct(value, "this variant", fields, visitor)
            }
            None => Err(self.needs_value()),
        }
    }
}
