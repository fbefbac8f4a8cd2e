//! Field policy: fields the model knows but that Switchyard does not support (an error that
//! says why) or that have no effect on one machine (a warning that says so).
//!
//! The loader asks [`field_policy`] for every field it sees, keyed by the serde name of the
//! struct being deserialized and the field's wire name. Keeping this as data next to the
//! model means a user never gets silently different behaviour: every field is either
//! implemented, refused with a reason, or flagged as having no effect.

use crate::diag::Severity;

/// What to say about a known field that is present in a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldPolicy {
    pub severity: Severity,
    /// Completes the sentence "field `x` ...", e.g. "needs an artifact repository, which
    /// Switchyard does not support yet".
    pub reason: &'static str,
}

impl FieldPolicy {
    pub const fn error(reason: &'static str) -> Self {
        FieldPolicy {
            severity: Severity::Error,
            reason,
        }
    }

    pub const fn warning(reason: &'static str) -> Self {
        FieldPolicy {
            severity: Severity::Warning,
            reason,
        }
    }
}

/// The policy for field `field` (wire name) of the struct whose serde name is `type_name`.
pub fn field_policy(type_name: &str, field: &str) -> Option<FieldPolicy> {
    crate::meta::policy(type_name, field)
        .or_else(|| crate::workflow::policy(type_name, field))
        .or_else(|| crate::events::policy(type_name, field))
        .or_else(|| crate::core::policy(type_name, field))
}
