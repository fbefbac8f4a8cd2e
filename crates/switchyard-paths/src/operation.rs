//! A trigger parameter's `operation` on its `dest`: `overwrite` (the default), `append`, `prepend`.
//!
//! Follows Argo Events' `ApplyParams` (`pkg/sensors/triggers/params.go`): for `append`/`prepend`, the current value
//! is read with GJSON at `dest` (the SJSON path read as a GJSON path, as Argo does); when something is there, its
//! `Result.String()` (a string unquoted, `null` as the empty string, an object or array as its JSON text, a number
//! or boolean as text) is concatenated with the new value's string form — current first for `append`, new first for
//! `prepend` — and the result is written as a JSON string, whatever the types were. When nothing is there, the new
//! value is written as it is, exactly as `overwrite` would.

use crate::read::{self, go_format_float};
use crate::{PathError, set};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// What a trigger parameter does with the value already at its `dest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Operation {
    /// Replace it (`overwrite`, and Argo's default when `operation` is empty).
    #[default]
    Overwrite,
    /// Existing string form, then the new value.
    Append,
    /// The new value, then the existing string form.
    Prepend,
}

impl Operation {
    /// The name as written in a Sensor manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Overwrite => "overwrite",
            Operation::Append => "append",
            Operation::Prepend => "prepend",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operation {
    type Err = PathError;

    /// Argo's names; the empty string is `overwrite` (Argo's `TriggerParameterOpNone`). Case-sensitive, as in Argo.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "overwrite" => Ok(Operation::Overwrite),
            "append" => Ok(Operation::Append),
            "prepend" => Ok(Operation::Prepend),
            other => Err(PathError::UnsupportedOperation {
                operation: other.to_owned(),
            }),
        }
    }
}

/// Writes `value` at the SJSON path `dest` of `doc` with the given operation (see the module docs).
///
/// `value` is what `overwrite` would write: a JSON string for a string parameter, the typed value for a
/// `useRawData` one (see [`crate::Found::param_value`]). On error `doc` is unchanged.
pub fn apply_operation(
    doc: &mut Value,
    dest: &str,
    value: Value,
    op: Operation,
) -> Result<(), PathError> {
    let value = match op {
        Operation::Overwrite => value,
        Operation::Append | Operation::Prepend => {
            let text = doc.to_string();
            match read::get(&text, dest) {
                None => value,
                Some(current) => {
                    let current = current.gjson_string();
                    let new = to_argo_string(&value);
                    Value::String(if op == Operation::Append {
                        current + &new
                    } else {
                        new + &current
                    })
                }
            }
        }
    };
    set(doc, dest, value)
}

/// The string form Argo gives a resolved parameter value: a string as it is, `null`, an object or an array as
/// compact JSON, a boolean as `true`/`false`, a number as GJSON's `Result.String()` would give it (integers as
/// written, others like Go's `strconv.FormatFloat(f, 'f', -1, 64)`: `1.0` → `1`, `1e3` → `1000`).
pub fn to_argo_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                n.to_string()
            } else {
                n.as_f64().map_or_else(|| n.to_string(), go_format_float)
            }
        }
        other => other.to_string(),
    }
}
