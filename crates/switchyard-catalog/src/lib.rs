//! The offering catalog's rules: what an `Offering` (API group `switchyard.dev/v1alpha1`) may say, how an
//! order's input is checked against it, and the OpenAPI document the catalog publishes.
//!
//! - [`Offering::from_manifest`] checks an offering's `spec` (route, event, access, and the input written in
//!   the supported JSON Schema subset) and reports every [`Problem`] with its path; [`route_conflicts`] finds
//!   routes that more than one offering claims.
//! - [`InputSchema::validate`] checks an order body and fills in defaults. Its errors have the shape of
//!   FastAPI's 422 answers ([`FieldError`], [`detail`]); [`parse_body`] turns request bytes into JSON or a
//!   `json_invalid` error; [`InputSchema::validate_fields`] does the same for `key=value` text from the CLI.
//! - [`openapi`] builds the OpenAPI 3.1 document: one operation per offering, the generic order endpoints, and
//!   whatever control endpoints the server adds.
//!
//! **Invariant:** this crate is pure: no I/O, no clock, no environment. Every message is a function of its
//! input alone, so answers and documents are byte-for-byte stable. Recursion is bounded: schemas nest at most
//! [`MAX_SCHEMA_DEPTH`] levels, and validation only descends where the schema does.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod format;
mod number;
mod offering;
mod openapi;
mod path;
mod schema;
mod validate;

pub use error::{FieldError, LocPart, detail, parse_body};
pub use format::Format;
pub use offering::{
    ADMIN_ROLE, Access, DEFAULT_APPROVE_ROLE, DEFAULT_ORDER_ROLE, EventRef, Offering, Problem,
    RESERVED_ROUTES, route_conflicts,
};
pub use openapi::{ApiInfo, ERROR_SCHEMA_REF, ORDER_SCHEMA_REF, openapi};
pub use schema::{InputSchema, JsonType, MAX_SCHEMA_DEPTH};
