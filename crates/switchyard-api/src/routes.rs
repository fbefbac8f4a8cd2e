//! The URL layout of the control API, in one place so the server's router and the CLI's
//! client cannot disagree.
//!
//! ```text
//! GET    /healthz
//! GET    /metrics
//! POST   /api/v1/apply
//! GET    /api/v1/{plural}                           every namespace (or cluster-scoped kinds)
//! GET    /api/v1/namespaces/{ns}/{plural}
//!        lists take ?limit=N&continue=TOKEN: a page, and `metadata.continue` names the next
//! GET    /api/v1/namespaces/{ns}/{plural}/{name}    also DELETE
//! GET    /api/v1/{plural}/{name}                    cluster-scoped kinds; also DELETE
//! ```

use switchyard_model::Kind;

pub const HEALTHZ_PATH: &str = "/healthz";
pub const METRICS_PATH: &str = "/metrics";
pub const API_PREFIX: &str = "/api/v1";
pub const APPLY_PATH: &str = "/api/v1/apply";

/// The query parameter that asks for Secret values in clear (`?reveal=true`).
pub const REVEAL_PARAM: &str = "reveal";

/// The query parameter that asks a list for one page of at most this many objects
/// (`?limit=N`; Argo's `listOptions.limit` is taken too; 0 or absent: every object).
pub const LIMIT_PARAM: &str = "limit";
/// The query parameter that asks for the page after the one whose `metadata.continue` this is
/// (`?continue=TOKEN`; Argo's `listOptions.continue` is taken too).
pub const CONTINUE_PARAM: &str = "continue";

/// The collection of `kind`: in `namespace`, or across every namespace when `None`.
/// Cluster-scoped kinds ignore the namespace.
pub fn list_path(kind: Kind, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if kind.namespaced() => {
            format!(
                "{API_PREFIX}/namespaces/{}/{}",
                encode_segment(ns),
                kind.plural()
            )
        }
        _ => format!("{API_PREFIX}/{}", kind.plural()),
    }
}

/// One object. `namespace` is ignored for cluster-scoped kinds.
pub fn object_path(kind: Kind, namespace: &str, name: &str) -> String {
    if kind.namespaced() {
        format!(
            "{API_PREFIX}/namespaces/{}/{}/{}",
            encode_segment(namespace),
            kind.plural(),
            encode_segment(name)
        )
    } else {
        format!("{API_PREFIX}/{}/{}", kind.plural(), encode_segment(name))
    }
}

/// The kind whose URL plural is exactly `plural` (`sensors`).
pub fn kind_from_plural(plural: &str) -> Option<Kind> {
    Kind::ALL.iter().copied().find(|k| k.plural() == plural)
}

/// `sensor.argoproj.io/webhook`: how kubectl names an object in messages.
pub fn object_ref(kind: Kind, name: &str) -> String {
    format!("{}/{}", kind.qualified(), name)
}

/// Percent-encodes everything in a path segment except RFC 3986 unreserved characters, so a
/// name with `/`, `?` or `%` in it can never change which route is hit.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let cases: &[(String, &str)] = &[
            (
                list_path(Kind::Sensor, Some("default")),
                "/api/v1/namespaces/default/sensors",
            ),
            (list_path(Kind::Sensor, None), "/api/v1/sensors"),
            (
                list_path(Kind::ClusterWorkflowTemplate, Some("default")),
                "/api/v1/clusterworkflowtemplates",
            ),
            (
                object_path(Kind::Sensor, "default", "webhook"),
                "/api/v1/namespaces/default/sensors/webhook",
            ),
            (
                object_path(Kind::ClusterWorkflowTemplate, "ignored", "build"),
                "/api/v1/clusterworkflowtemplates/build",
            ),
            (
                object_path(Kind::ConfigMap, "a b", "../x?y%"),
                "/api/v1/namespaces/a%20b/configmaps/..%2Fx%3Fy%25",
            ),
            (
                object_ref(Kind::Sensor, "webhook"),
                "sensor.argoproj.io/webhook",
            ),
            (
                object_ref(Kind::ConfigMap, "settings"),
                "configmap/settings",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn every_kind_resolves_from_its_plural() {
        for kind in Kind::ALL {
            assert_eq!(kind_from_plural(kind.plural()), Some(*kind));
        }
        assert_eq!(kind_from_plural("sensor"), None);
        assert_eq!(kind_from_plural("apply"), None);
        assert_eq!(kind_from_plural("namespaces"), None);
    }
}
