//! The pure part of `apply`: load manifests, give namespaced objects their namespace, run the
//! semantic validation (which also checks names and duplicates across the set), and turn the
//! result into store requests. No I/O here; the handler supplies `exists` and talks to the store.
//!
//! `switchyard lint` runs [`check`] too, so the CLI and the server cannot disagree about
//! what is valid.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use switchyard_api::REDACTED;
use switchyard_manifest::{Limits, LoadOutput, Loaded, Source, load, validate};
use switchyard_model::{DEFAULT_NAMESPACE, Diagnostic, Kind, Severity};
use switchyard_store::{ObjectName, Precondition, PutRequest};

/// Loaded objects (namespaces filled in) and every diagnostic about them, in source order.
pub struct Checked {
    pub objects: Vec<Loaded>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }
}

/// Loads `sources` and checks them as one apply set.
///
/// `namespace` is the namespace asked for on the command line (`-n`): namespaced objects
/// without one get it (or `default`), and an object naming a different one is an error.
/// `exists(kind, namespace, name)` answers for objects outside the set (the store, or
/// "assume yes" when linting offline); objects inside the set are found without asking.
/// Cluster-scoped kinds are looked up with an empty namespace.
pub fn check(
    sources: &[Source],
    limits: &Limits,
    namespace: Option<&str>,
    exists: &dyn Fn(Kind, &str, &str) -> bool,
) -> Checked {
    let LoadOutput {
        mut objects,
        mut diagnostics,
    } = load(sources, limits);
    diagnostics.extend(assign_namespaces(&mut objects, namespace));

    let in_set: HashSet<(Kind, String, String)> = objects
        .iter()
        .filter_map(|o| {
            let meta = o.resource.meta();
            let name = meta.name.clone()?;
            let kind = o.resource.kind();
            Some((kind, store_namespace(kind, meta.namespace.as_deref()), name))
        })
        .collect();
    let exists_anywhere = |kind: Kind, ns: &str, name: &str| {
        let ns = if kind.namespaced() { ns } else { "" };
        in_set.contains(&(kind, ns.to_owned(), name.to_owned())) || exists(kind, ns, name)
    };
    diagnostics.extend(validate(&objects, &exists_anywhere));
    diagnostics.extend(sensor_rules(&objects, &diagnostics));
    // `validate` has warned about namespaces on cluster-scoped objects; drop them now.
    for object in &mut objects {
        if !object.resource.kind().namespaced() {
            object.resource.meta_mut().namespace = None;
        }
    }

    sort_by_location(&mut diagnostics, sources);
    Checked {
        objects,
        diagnostics,
    }
}

/// What compiling each Sensor's rules finds (regexes, expressions, scripts, templates,
/// trigger sources) beyond the manifest checks, located in its file; a problem at a path
/// already reported is left out.
fn sensor_rules(objects: &[Loaded], reported: &[Diagnostic]) -> Vec<Diagnostic> {
    let seen: HashSet<(Option<&str>, &str)> = reported
        .iter()
        .map(|d| (d.file.as_deref(), d.path.as_str()))
        .collect();
    let mut out = Vec::new();
    for loaded in objects {
        let switchyard_model::Resource::Sensor(sensor) = &loaded.resource else {
            continue;
        };
        let (errors, warnings) = match switchyard_sensor::CompiledSensor::compile(sensor) {
            Ok(compiled) => (Vec::new(), compiled.warnings().to_vec()),
            Err(problems) => (problems, Vec::new()),
        };
        let located = errors
            .iter()
            .map(|p| loaded.diagnostic(Severity::Error, &p.path, p.message.clone()))
            .chain(
                warnings
                    .iter()
                    .map(|p| loaded.diagnostic(Severity::Warning, &p.path, p.message.clone())),
            );
        for diagnostic in located {
            if !seen.contains(&(diagnostic.file.as_deref(), diagnostic.path.as_str())) {
                out.push(diagnostic);
            }
        }
    }
    out
}

/// Orders diagnostics by source (in the order given), then line and column; diagnostics
/// without a file come last. The sort is stable, so equal locations keep their order.
fn sort_by_location(diagnostics: &mut [Diagnostic], sources: &[Source]) {
    let order: HashMap<&str, usize> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    diagnostics.sort_by_key(|d| {
        (
            d.file
                .as_deref()
                .and_then(|f| order.get(f).copied())
                .unwrap_or(usize::MAX),
            d.line.unwrap_or(u32::MAX),
            d.column.unwrap_or(u32::MAX),
        )
    });
}

/// Fills in namespaces: namespaced objects without one get `requested` or `default`; an
/// object whose namespace differs from an explicit `requested` is an error (as in kubectl).
/// Cluster-scoped objects are left alone here.
fn assign_namespaces(objects: &mut [Loaded], requested: Option<&str>) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for object in objects.iter_mut() {
        if !object.resource.kind().namespaced() {
            continue;
        }
        match (object.resource.meta().namespace.clone(), requested) {
            (None, _) => {
                object.resource.meta_mut().namespace =
                    Some(requested.unwrap_or(DEFAULT_NAMESPACE).to_owned());
            }
            (Some(own), Some(requested)) if own != requested => {
                diagnostics.push(object.diagnostic(
                    Severity::Error,
                    "metadata.namespace",
                    format!(
                        "the object is in namespace `{own}` but the request is for namespace `{requested}`; \
                         drop `-n {requested}` or change the manifest"
                    ),
                ));
            }
            (Some(_), _) => {}
        }
    }
    diagnostics
}

/// The store request for a checked object: create or update unconditionally, by name or
/// with a generated name.
pub fn put_request(object: &Loaded) -> PutRequest {
    let kind = object.resource.kind();
    let meta = object.resource.meta();
    let present = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let name = match (present(&meta.name), present(&meta.generate_name)) {
        (Some(name), _) => ObjectName::Exact(name),
        (None, Some(prefix)) => ObjectName::Generate(prefix),
        // `check` rejects objects with neither; the store refuses the empty name regardless.
        (None, None) => ObjectName::Exact(String::new()),
    };
    PutRequest {
        kind,
        namespace: store_namespace(kind, meta.namespace.as_deref()),
        name,
        body: object.resource.to_value(),
        precondition: Precondition::None,
    }
}

/// The store's namespace for an object: empty for cluster-scoped kinds.
pub fn store_namespace(kind: Kind, namespace: Option<&str>) -> String {
    if kind.namespaced() {
        namespace.unwrap_or(DEFAULT_NAMESPACE).to_owned()
    } else {
        String::new()
    }
}

/// Replaces every value under a Secret's `data` and `stringData` with `<redacted>`.
pub fn redact_secret(body: &mut Value) {
    for field in ["data", "stringData"] {
        if let Some(map) = body.get_mut(field).and_then(Value::as_object_mut) {
            for value in map.values_mut() {
                *value = Value::String(REDACTED.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redaction_covers_data_and_string_data_only() {
        let mut secret = json!({
            "kind": "Secret",
            "metadata": {"name": "s"},
            "type": "Opaque",
            "data": {"password": "aHVudGVyMg=="},
            "stringData": {"token": "plain"}
        });
        redact_secret(&mut secret);
        assert_eq!(
            secret,
            json!({
                "kind": "Secret",
                "metadata": {"name": "s"},
                "type": "Opaque",
                "data": {"password": "<redacted>"},
                "stringData": {"token": "<redacted>"}
            })
        );
    }

    #[test]
    fn store_namespaces() {
        let cases = [
            (Kind::Sensor, Some("team"), "team"),
            (Kind::Sensor, None, "default"),
            (Kind::ClusterWorkflowTemplate, Some("team"), ""),
            (Kind::ClusterWorkflowTemplate, None, ""),
        ];
        for (kind, ns, want) in cases {
            assert_eq!(store_namespace(kind, ns), want);
        }
    }
}
