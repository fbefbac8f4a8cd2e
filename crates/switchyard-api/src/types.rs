//! Request and response bodies of the control API.

use serde::{Deserialize, Serialize};
use std::fmt;
use switchyard_model::{Diagnostic, Kind};

/// One manifest file (or stdin) as the client read it. The server parses it, so diagnostics
/// carry the client's file name and the line and column inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceText {
    /// A file path as the user typed it, or `<stdin>`.
    pub name: String,
    pub content: String,
}

/// `POST /api/v1/apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyRequest {
    pub sources: Vec<SourceText>,
    /// The namespace for namespaced objects that name none (`-n`); `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Validate and report what would change, without changing anything.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// What `apply` did (or, in a dry run, would do) to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Created,
    Configured,
    Unchanged,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome for one object of an apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyResult {
    /// The `kind:` name, e.g. `Sensor`.
    #[serde(with = "kind_name")]
    pub kind: Kind,
    /// Absent for cluster-scoped kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub action: Action,
}

impl ApplyResult {
    /// `sensor.argoproj.io/webhook`, as kubectl names an object.
    pub fn object_ref(&self) -> String {
        crate::routes::object_ref(self.kind, &self.name)
    }
}

/// `200` answer to an apply: one result per object, in input order, plus any warnings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyResponse {
    pub results: Vec<ApplyResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// A list of objects, shaped like Kubernetes' `kind: List`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectList {
    pub api_version: String,
    pub kind: String,
    /// Present on a page that has a next one.
    #[serde(default, skip_serializing_if = "ListMeta::is_empty")]
    pub metadata: ListMeta,
    pub items: Vec<serde_json::Value>,
}

/// A list's `metadata`, as Kubernetes has it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    /// Ask with `?continue=` this for the next page; absent on the last page.
    #[serde(default, rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}

impl ListMeta {
    pub fn is_empty(&self) -> bool {
        self.continue_token.is_none()
    }
}

impl ObjectList {
    pub fn new(items: Vec<serde_json::Value>) -> Self {
        ObjectList {
            api_version: "v1".to_owned(),
            kind: "List".to_owned(),
            metadata: ListMeta::default(),
            items,
        }
    }

    /// A page of a list: `next` is the token that asks for the page after it.
    pub fn page(items: Vec<serde_json::Value>, next: Option<String>) -> Self {
        ObjectList {
            metadata: ListMeta {
                continue_token: next,
            },
            ..ObjectList::new(items)
        }
    }
}

/// Serializes a [`Kind`] as its `kind:` name (`Sensor`) and reads it back strictly.
pub mod kind_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use switchyard_model::Kind;

    pub fn serialize<S: Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let name = String::deserialize(d)?;
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown kind `{name}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apply_request_wire_shape() {
        let cases = [
            (
                json!({"sources": [{"name": "a.yaml", "content": "x: 1"}]}),
                ApplyRequest {
                    sources: vec![SourceText {
                        name: "a.yaml".into(),
                        content: "x: 1".into(),
                    }],
                    namespace: None,
                    dry_run: false,
                },
            ),
            (
                json!({"sources": [], "namespace": "team-a", "dryRun": true}),
                ApplyRequest {
                    sources: vec![],
                    namespace: Some("team-a".into()),
                    dry_run: true,
                },
            ),
        ];
        for (wire, want) in cases {
            let got: ApplyRequest = serde_json::from_value(wire.clone()).unwrap();
            assert_eq!(got, want);
            assert_eq!(serde_json::to_value(&got).unwrap(), wire);
        }
    }

    #[test]
    fn apply_result_wire_shape() {
        let cases = [
            (
                ApplyResult {
                    kind: Kind::Sensor,
                    namespace: Some("default".into()),
                    name: "webhook".into(),
                    action: Action::Created,
                },
                json!({"kind": "Sensor", "namespace": "default", "name": "webhook", "action": "created"}),
                "sensor.argoproj.io/webhook",
            ),
            (
                ApplyResult {
                    kind: Kind::ClusterWorkflowTemplate,
                    namespace: None,
                    name: "build".into(),
                    action: Action::Unchanged,
                },
                json!({"kind": "ClusterWorkflowTemplate", "name": "build", "action": "unchanged"}),
                "clusterworkflowtemplate.argoproj.io/build",
            ),
            (
                ApplyResult {
                    kind: Kind::Secret,
                    namespace: Some("ops".into()),
                    name: "token".into(),
                    action: Action::Configured,
                },
                json!({"kind": "Secret", "namespace": "ops", "name": "token", "action": "configured"}),
                "secret/token",
            ),
        ];
        for (result, wire, reference) in cases {
            assert_eq!(serde_json::to_value(&result).unwrap(), wire);
            let back: ApplyResult = serde_json::from_value(wire).unwrap();
            assert_eq!(back, result);
            assert_eq!(result.object_ref(), reference);
        }
    }

    #[test]
    fn unknown_kind_is_rejected_with_its_name() {
        let err = serde_json::from_value::<ApplyResult>(
            json!({"kind": "Pod", "name": "x", "action": "created"}),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "unknown kind `Pod`");
    }

    #[test]
    fn object_list_is_a_kubernetes_list() {
        let list = ObjectList::new(vec![json!({"kind": "Sensor"})]);
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            json!({"apiVersion": "v1", "kind": "List", "items": [{"kind": "Sensor"}]})
        );
    }
}
