//! The resource model: every kind a user can apply, with Argo's exact field names and defaults.
//!
//! This crate is pure data. It knows nothing about YAML, storage or HTTP. The manifest loader
//! (`switchyard-manifest`) deserializes into these types and consults [`field_policy`] for
//! fields that are known but unsupported or ignored on one machine.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod core;
pub mod diag;
pub mod events;
pub mod kind;
pub mod logic;
pub mod meta;
pub mod platform;
pub mod policy;
pub mod value;
pub mod workflow;

pub use diag::{Diagnostic, Severity};
pub use kind::{Kind, Resource};
pub use meta::ObjectMeta;
pub use policy::{FieldPolicy, field_policy};
pub use value::IntOrString;

/// Argo's API version, used by every Argo kind.
pub const ARGO_API_VERSION: &str = "argoproj.io/v1alpha1";
/// Argo's API group.
pub const ARGO_GROUP: &str = "argoproj.io";
/// Switchyard's own API group: the offering catalog and platform settings live here.
pub const SWITCHYARD_GROUP: &str = "switchyard.dev";
/// The API version of Switchyard's own kinds.
pub const SWITCHYARD_API_VERSION: &str = "switchyard.dev/v1alpha1";
/// Kubernetes core API version (`Secret`, `ConfigMap`).
pub const CORE_API_VERSION: &str = "v1";
/// The namespace used when a manifest names none.
pub const DEFAULT_NAMESPACE: &str = "default";
