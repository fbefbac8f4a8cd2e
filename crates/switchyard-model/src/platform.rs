//! Switchyard's own kinds (API group `switchyard.dev`): the offering catalog and the orders
//! placed against it.
//!
//! Both keep their `spec` as JSON here: an Offering's rules (route, input schema, access) are
//! checked by `switchyard-catalog`, which owns them; an Order is written only by the server.

use serde::{Deserialize, Serialize};

use crate::meta::ObjectMeta;

/// `kind: Offering`: one orderable thing in the platform's catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offering {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: serde_json::Value,
}

/// `kind: Order`: what a developer ordered, who ordered it, and (in `status`) where it went.
/// Created by the API when an order is accepted; never applied from a manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}
