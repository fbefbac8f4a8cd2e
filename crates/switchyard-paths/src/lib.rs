//! How Argo Events sensors read and write event JSON.
//!
//! - [`get`] reads with GJSON path syntax (a dependency's `dataKey` and `contextKey`, a data filter's `path`) and
//!   returns a [`Found`] that keeps the raw JSON text and its kind, so a caller can take Argo's string form
//!   ([`Found::argo_string`]) or the typed value (`useRawData`, [`Found::param_value`]).
//! - [`set`] and [`delete`] write with SJSON path syntax (a trigger parameter's `dest`) over a
//!   [`serde_json::Value`]; [`parse_set_path`] checks a `dest` without a document, for manifest validation.
//! - [`apply_operation`] carries out a trigger parameter's `operation` (`overwrite`, `append`, `prepend`) the way
//!   Argo Events' `ApplyParams` does.
//!
//! **Invariant:** this crate is pure: no I/O, no environment, no clock. Nothing here can exhaust the stack or
//! allocate without bound because of a path: paths have at most [`MAX_PATH_PARTS`] parts, documents read are at
//! most [`MAX_JSON_DEPTH`] deep, and writes refuse to pad an array past [`MAX_PAD_INDEX`].

mod error;
mod operation;
mod read;
mod write;

pub use error::PathError;
pub use operation::{Operation, apply_operation, to_argo_string};
pub use read::{
    Found, JsonKind, MAX_JSON_DEPTH, MAX_PATH_PARTS, check_get_path, get, is_valid_json,
};
pub use write::{MAX_PAD_INDEX, RESERVED_KEY, Segment, delete, parse_set_path, set};
