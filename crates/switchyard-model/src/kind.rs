//! The kinds Switchyard accepts, their names as users type them, and the [`Resource`] sum type.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

use crate::meta::ObjectMeta;
use crate::{core, events, platform, workflow};

/// Every kind a manifest may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    EventBus,
    EventSource,
    Sensor,
    Workflow,
    WorkflowTemplate,
    ClusterWorkflowTemplate,
    CronWorkflow,
    Secret,
    ConfigMap,
    Offering,
    Order,
}

/// Static facts about a kind: its API version, the names users type, and its scope.
struct KindInfo {
    kind: Kind,
    name: &'static str,
    api_version: &'static str,
    plural: &'static str,
    short_names: &'static [&'static str],
    namespaced: bool,
}

const KINDS: &[KindInfo] = &[
    KindInfo {
        kind: Kind::EventBus,
        name: "EventBus",
        api_version: crate::ARGO_API_VERSION,
        plural: "eventbus",
        short_names: &["eb", "eventbuses"],
        namespaced: true,
    },
    KindInfo {
        kind: Kind::EventSource,
        name: "EventSource",
        api_version: crate::ARGO_API_VERSION,
        plural: "eventsources",
        short_names: &["es"],
        namespaced: true,
    },
    KindInfo {
        kind: Kind::Sensor,
        name: "Sensor",
        api_version: crate::ARGO_API_VERSION,
        plural: "sensors",
        short_names: &["sn"],
        namespaced: true,
    },
    KindInfo {
        kind: Kind::Workflow,
        name: "Workflow",
        api_version: crate::ARGO_API_VERSION,
        plural: "workflows",
        short_names: &["wf"],
        namespaced: true,
    },
    KindInfo {
        kind: Kind::WorkflowTemplate,
        name: "WorkflowTemplate",
        api_version: crate::ARGO_API_VERSION,
        plural: "workflowtemplates",
        short_names: &["wftmpl"],
        namespaced: true,
    },
    KindInfo {
        kind: Kind::ClusterWorkflowTemplate,
        name: "ClusterWorkflowTemplate",
        api_version: crate::ARGO_API_VERSION,
        plural: "clusterworkflowtemplates",
        short_names: &["clusterwftmpl", "cwft"],
        namespaced: false,
    },
    KindInfo {
        kind: Kind::CronWorkflow,
        name: "CronWorkflow",
        api_version: crate::ARGO_API_VERSION,
        plural: "cronworkflows",
        short_names: &["cwf", "cronwf"],
        namespaced: true,
    },
    KindInfo {
        kind: Kind::Secret,
        name: "Secret",
        api_version: crate::CORE_API_VERSION,
        plural: "secrets",
        short_names: &[],
        namespaced: true,
    },
    KindInfo {
        kind: Kind::ConfigMap,
        name: "ConfigMap",
        api_version: crate::CORE_API_VERSION,
        plural: "configmaps",
        short_names: &["cm"],
        namespaced: true,
    },
    KindInfo {
        kind: Kind::Offering,
        name: "Offering",
        api_version: crate::SWITCHYARD_API_VERSION,
        plural: "offerings",
        short_names: &[],
        namespaced: true,
    },
    KindInfo {
        kind: Kind::Order,
        name: "Order",
        api_version: crate::SWITCHYARD_API_VERSION,
        plural: "orders",
        short_names: &[],
        namespaced: true,
    },
];

impl Kind {
    pub const ALL: &'static [Kind] = &[
        Kind::EventBus,
        Kind::EventSource,
        Kind::Sensor,
        Kind::Workflow,
        Kind::WorkflowTemplate,
        Kind::ClusterWorkflowTemplate,
        Kind::CronWorkflow,
        Kind::Secret,
        Kind::ConfigMap,
        Kind::Offering,
        Kind::Order,
    ];

    fn info(self) -> &'static KindInfo {
        // KINDS lists every variant in declaration order.
        &KINDS[self as usize]
    }

    /// The `kind:` value, e.g. `Sensor`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The `apiVersion:` value, e.g. `argoproj.io/v1alpha1`.
    pub fn api_version(self) -> &'static str {
        self.info().api_version
    }

    /// The API group (`argoproj.io`), empty for Kubernetes core kinds.
    pub fn group(self) -> &'static str {
        self.api_version().rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// The lowercase plural used in URLs and `get`, e.g. `sensors`.
    pub fn plural(self) -> &'static str {
        self.info().plural
    }

    pub fn short_names(self) -> &'static [&'static str] {
        self.info().short_names
    }

    /// False for cluster-scoped kinds (`ClusterWorkflowTemplate`).
    pub fn namespaced(self) -> bool {
        self.info().namespaced
    }

    /// `sensor.argoproj.io`, as `apply` prints it; core kinds print without a group.
    pub fn qualified(self) -> String {
        let group = self.group();
        if group.is_empty() {
            self.name().to_ascii_lowercase()
        } else {
            format!("{}.{}", self.name().to_ascii_lowercase(), group)
        }
    }

    /// Resolves a manifest's `apiVersion` and `kind`, with a message that says what is wrong.
    pub fn from_manifest(api_version: &str, kind: &str) -> Result<Kind, String> {
        let Some(info) = KINDS.iter().find(|k| k.name == kind) else {
            let known: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
            let hint = KINDS
                .iter()
                .find(|k| k.name.eq_ignore_ascii_case(kind))
                .map(|k| format!(" (did you mean `{}`? kinds are case-sensitive)", k.name))
                .unwrap_or_default();
            return Err(format!(
                "unknown kind `{kind}`{hint}; Switchyard accepts {}",
                known.join(", ")
            ));
        };
        if info.api_version != api_version {
            return Err(format!(
                "kind `{kind}` has apiVersion `{}`, not `{api_version}`",
                info.api_version
            ));
        }
        Ok(info.kind)
    }

    /// Parses a kind as users type it on the command line: `sensors`, `sensor`, `Sensor`,
    /// `sn`, `sensor.argoproj.io`, `sensors.argoproj.io`.
    pub fn parse(input: &str) -> Option<Kind> {
        let lower = input.to_ascii_lowercase();
        let (name, group) = match lower.split_once('.') {
            Some((n, g)) => (n.to_owned(), Some(g.to_owned())),
            None => (lower.clone(), None),
        };
        KINDS
            .iter()
            .find(|k| {
                let group_ok = group.as_deref().is_none_or(|g| g == k.kind.group());
                group_ok
                    && (k.name.eq_ignore_ascii_case(&name)
                        || k.plural == name
                        || k.short_names.contains(&name.as_str()))
            })
            .map(|k| k.kind)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A typed object of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    EventBus(Box<events::EventBus>),
    EventSource(Box<events::EventSource>),
    Sensor(Box<events::Sensor>),
    Workflow(Box<workflow::Workflow>),
    WorkflowTemplate(Box<workflow::WorkflowTemplate>),
    ClusterWorkflowTemplate(Box<workflow::ClusterWorkflowTemplate>),
    CronWorkflow(Box<workflow::CronWorkflow>),
    Secret(Box<core::Secret>),
    ConfigMap(Box<core::ConfigMap>),
    Offering(Box<platform::Offering>),
    Order(Box<platform::Order>),
}

/// Applies `$body` to the object inside any [`Resource`] variant, bound as `$o`.
macro_rules! each_resource {
    ($self:expr, $o:ident => $body:expr) => {
        match $self {
            Resource::EventBus($o) => $body,
            Resource::EventSource($o) => $body,
            Resource::Sensor($o) => $body,
            Resource::Workflow($o) => $body,
            Resource::WorkflowTemplate($o) => $body,
            Resource::ClusterWorkflowTemplate($o) => $body,
            Resource::CronWorkflow($o) => $body,
            Resource::Secret($o) => $body,
            Resource::ConfigMap($o) => $body,
            Resource::Offering($o) => $body,
            Resource::Order($o) => $body,
        }
    };
}

impl Resource {
    pub fn kind(&self) -> Kind {
        match self {
            Resource::EventBus(_) => Kind::EventBus,
            Resource::EventSource(_) => Kind::EventSource,
            Resource::Sensor(_) => Kind::Sensor,
            Resource::Workflow(_) => Kind::Workflow,
            Resource::WorkflowTemplate(_) => Kind::WorkflowTemplate,
            Resource::ClusterWorkflowTemplate(_) => Kind::ClusterWorkflowTemplate,
            Resource::CronWorkflow(_) => Kind::CronWorkflow,
            Resource::Secret(_) => Kind::Secret,
            Resource::ConfigMap(_) => Kind::ConfigMap,
            Resource::Offering(_) => Kind::Offering,
            Resource::Order(_) => Kind::Order,
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        each_resource!(self, o => &o.metadata)
    }

    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        each_resource!(self, o => &mut o.metadata)
    }

    /// The object as JSON, with Argo's field names.
    pub fn to_value(&self) -> serde_json::Value {
        let v = each_resource!(self, o => serde_json::to_value(o));
        // Serializing plain data structs with string keys cannot fail.
        v.unwrap_or(serde_json::Value::Null)
    }

    /// Deserializes an object of a known kind from any serde deserializer.
    pub fn deserialize_kind<'de, D: Deserializer<'de>>(
        kind: Kind,
        d: D,
    ) -> Result<Resource, D::Error> {
        Ok(match kind {
            Kind::EventBus => Resource::EventBus(Box::new(Deserialize::deserialize(d)?)),
            Kind::EventSource => Resource::EventSource(Box::new(Deserialize::deserialize(d)?)),
            Kind::Sensor => Resource::Sensor(Box::new(Deserialize::deserialize(d)?)),
            Kind::Workflow => Resource::Workflow(Box::new(Deserialize::deserialize(d)?)),
            Kind::WorkflowTemplate => {
                Resource::WorkflowTemplate(Box::new(Deserialize::deserialize(d)?))
            }
            Kind::ClusterWorkflowTemplate => {
                Resource::ClusterWorkflowTemplate(Box::new(Deserialize::deserialize(d)?))
            }
            Kind::CronWorkflow => Resource::CronWorkflow(Box::new(Deserialize::deserialize(d)?)),
            Kind::Secret => Resource::Secret(Box::new(Deserialize::deserialize(d)?)),
            Kind::ConfigMap => Resource::ConfigMap(Box::new(Deserialize::deserialize(d)?)),
            Kind::Offering => Resource::Offering(Box::new(Deserialize::deserialize(d)?)),
            Kind::Order => Resource::Order(Box::new(Deserialize::deserialize(d)?)),
        })
    }

    /// Deserializes from JSON (e.g. a stored object).
    pub fn from_value(kind: Kind, value: serde_json::Value) -> Result<Resource, serde_json::Error> {
        Resource::deserialize_kind(kind, value)
    }
}

impl Serialize for Resource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        each_resource!(self, o => o.serialize(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_table_is_in_declaration_order() {
        for (i, k) in Kind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
            assert_eq!(KINDS[i].kind, *k);
        }
    }

    #[test]
    fn parses_cli_spellings() {
        for (input, want) in [
            ("sensors", Kind::Sensor),
            ("Sensor", Kind::Sensor),
            ("sn", Kind::Sensor),
            ("sensor.argoproj.io", Kind::Sensor),
            ("wf", Kind::Workflow),
            ("cwft", Kind::ClusterWorkflowTemplate),
            ("cm", Kind::ConfigMap),
            ("secret", Kind::Secret),
            ("eventbus", Kind::EventBus),
        ] {
            assert_eq!(Kind::parse(input), Some(want), "{input}");
        }
        assert_eq!(Kind::parse("pods"), None);
        assert_eq!(Kind::parse("sensor.example.com"), None);
    }

    #[test]
    fn manifest_kind_errors_name_the_problem() {
        let e = Kind::from_manifest("argoproj.io/v1alpha1", "Rollout").unwrap_err();
        assert!(e.starts_with("unknown kind `Rollout`"), "{e}");
        let e = Kind::from_manifest("argoproj.io/v1alpha1", "sensor").unwrap_err();
        assert!(e.contains("did you mean `Sensor`"), "{e}");
        let e = Kind::from_manifest("v1", "Sensor").unwrap_err();
        assert!(e.contains("apiVersion `argoproj.io/v1alpha1`"), "{e}");
        assert_eq!(Kind::qualified(Kind::Sensor), "sensor.argoproj.io");
        assert_eq!(Kind::qualified(Kind::Secret), "secret");
    }
}
