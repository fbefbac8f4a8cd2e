//! Kubernetes object metadata, as every manifest carries it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::policy::FieldPolicy;

/// Standard object metadata (`metadata:`). `uid`, `resourceVersion`, `creationTimestamp` and
/// `generation` are set by the server; values in a manifest are ignored on apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// Kubernetes garbage-collection links; recorded, no effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_references: Option<serde_json::Value>,
    /// Kubernetes finalizers; recorded, no effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalizers: Option<serde_json::Value>,
    /// Server-side-apply bookkeeping from `kubectl get -o yaml`; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_fields: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
}

pub(crate) fn policy(type_name: &str, field: &str) -> Option<FieldPolicy> {
    match (type_name, field) {
        ("ObjectMeta", "uid" | "resourceVersion" | "creationTimestamp" | "generation") => Some(
            FieldPolicy::warning("is set by the server; the value in the manifest is ignored"),
        ),
        (
            "ObjectMeta",
            "ownerReferences" | "finalizers" | "managedFields" | "deletionTimestamp",
        ) => Some(FieldPolicy::warning(
            "is Kubernetes bookkeeping and has no effect in Switchyard",
        )),
        _ => None,
    }
}
