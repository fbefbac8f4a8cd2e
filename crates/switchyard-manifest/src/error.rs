//! The crate's error type: a value that does not fit the model, with the place it was found.
//!
//! It is the error of the serde deserializer over the located tree. Serde's derive code creates
//! errors without knowing where they happened; the deserializer attaches the object path and
//! line/column of the node it was working on as the error passes through it.

use serde::de::{Expected, Unexpected};
use std::fmt;

/// Where an [`Error`] happened: object path and 1-based line/column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: String,
    pub line: u32,
    pub column: u32,
}

/// A value that does not fit the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub message: String,
    /// `None` until the deserializer that saw the failing node attaches it.
    pub location: Option<Location>,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            location: None,
        }
    }
}

/// Serde's description of an unexpected value, worded for people who wrote YAML.
fn unexpected(u: &Unexpected<'_>) -> String {
    match u {
        Unexpected::Bool(b) => format!("boolean `{b}`"),
        Unexpected::Unsigned(n) => format!("integer `{n}`"),
        Unexpected::Signed(n) => format!("integer `{n}`"),
        Unexpected::Float(f) => format!("number `{f}`"),
        Unexpected::Char(c) => format!("character `{c}`"),
        Unexpected::Str(s) => format!("string `{}`", crate::tree::excerpt(s)),
        Unexpected::Bytes(_) => "bytes".to_owned(),
        Unexpected::Unit => "null".to_owned(),
        Unexpected::Option => "an optional value".to_owned(),
        Unexpected::NewtypeStruct => "a single value".to_owned(),
        Unexpected::Seq => "a list".to_owned(),
        Unexpected::Map => "a mapping".to_owned(),
        Unexpected::Enum => "a tagged value".to_owned(),
        Unexpected::UnitVariant => "a name".to_owned(),
        Unexpected::NewtypeVariant | Unexpected::TupleVariant | Unexpected::StructVariant => {
            "a tagged value".to_owned()
        }
        Unexpected::Other(s) => (*s).to_owned(),
    }
}

/// `` `a`, `b` or `c` ``.
pub(crate) fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => "nothing".to_owned(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(msg.to_string())
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Error::new(format!("expected {exp}, found {}", unexpected(&unexp)))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Error::new(format!(
            "invalid value: expected {exp}, found {}",
            unexpected(&unexp)
        ))
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        Error::new(format!("expected {exp}, found {len} items"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error::new(format!(
            "unknown value `{}`; expected {}",
            crate::tree::excerpt(variant),
            one_of(expected)
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error::new(format!(
            "unknown field `{field}`; expected {}",
            one_of(expected)
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        Error::new(format!("missing required field `{field}`"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        Error::new(format!("field `{field}` is given twice"))
    }
}
