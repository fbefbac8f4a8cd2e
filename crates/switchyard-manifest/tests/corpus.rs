//! Argo's own example manifests, our compatibility test data: every file loads and validates
//! to one of three outcomes, and the test fails on any other.
//!
//! - accepted: no errors (warnings allowed);
//! - unsupported: every error names a feature Switchyard does not support (an artifact
//!   repository, a Kubernetes-only template, a cloud event source, a Kubernetes kind);
//! - a known defect of the example itself, listed below with the exact diagnostics.
//!
//! Skips with a message when `../shared/corpus` is absent (a user's fresh clone).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use switchyard_manifest::{Limits, load, read_sources, validate};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

/// Files that are wrong in Argo's corpus itself, with the errors Switchyard gives for them.
const KNOWN_DEFECTS: &[(&str, &[&str])] = &[
    (
        // `annotations` appears twice under `metadata`.
        "argo-workflows/examples/k8s-patch-json-workflow.yaml",
        &[
            "13:3: error: metadata.annotations: duplicate key `annotations`; it is first defined on line 6",
            "20:7: error: spec.templates[0].resource: field `resource` (a Kubernetes resource template) is not supported by the local executor: there is no Kubernetes cluster to act on",
        ],
    ),
    (
        // `generateName` is indented into `labels`, so the Workflow has no name.
        "argo-workflows/examples/fun-with-gifs.yaml",
        &[
            "18:3: error: spec.volumeClaimTemplates: field `volumeClaimTemplates` (persistent volumes shared between steps) is not supported by the local executor; each step gets its own scratch directory",
            "110:7: error: spec.templates[8].outputs.artifacts: field `artifacts` needs an artifact repository, which Switchyard does not support yet",
            "12:1: error: metadata: needs `name` (or `generateName`, to have a unique name generated)",
        ],
    ),
    (
        // `name` is indented into an annotation's text, and the template is a `resource`.
        "argo-workflows/examples/k8s-jobs.yaml",
        &[
            "22:5: error: spec.templates[0].resource: field `resource` (a Kubernetes resource template) is not supported by the local executor: there is no Kubernetes cluster to act on",
            "8:1: error: metadata: needs `name` (or `generateName`, to have a unique name generated)",
        ],
    ),
    (
        // The trigger type is spelled `openwhisk`; Argo's field is `openWhisk`.
        "argo-events/examples/sensors/trigger-openwhisk.yaml",
        &[
            "11:7: error: spec.triggers[0].template: a trigger needs one of `argoWorkflow`, `k8s`, `http` or `log`",
        ],
    ),
    (
        // A Grafana dashboard, not a manifest.
        "argo-workflows/examples/grafana-dashboard.json",
        &[
            "1:1: error: missing `apiVersion`; every manifest needs `apiVersion` and `kind`",
            "1:1: error: missing `kind`; every manifest needs `apiVersion` and `kind`",
        ],
    ),
    (
        // The template declares `message` but uses `message1` and `message2`.
        "argo-events/examples/sensors/multi-dependencies.yaml",
        &[
            "46:25: error: spec.triggers[0].template.k8s.source.resource.spec.templates[0].container.args[0]: `{{inputs.parameters.message1}}` refers to an input parameter that template `print-message` does not declare; known: `message`",
            "47:25: error: spec.triggers[0].template.k8s.source.resource.spec.templates[0].container.args[1]: `{{inputs.parameters.message2}}` refers to an input parameter that template `print-message` does not declare; known: `message`",
        ],
    ),
    (
        // A tutorial placeholder the reader is meant to replace.
        "argo-events/examples/tutorials/02-parameterization/sensor-05.yaml",
        &[
            "41:33: error: spec.triggers[0].template.argoWorkflow.parameters[0].src.dependencyName: dependency `THIS_WILL_BE_REPLACED` does not exist; known: `test-dep`",
        ],
    ),
    (
        // Written for Argo Events before v1.0, when the http trigger's `url` was `serverURL`.
        "argo-events/examples/tutorials/09-http-trigger/sensor-01.yaml",
        &["13:9: error: spec.triggers[0].template.http: missing required field `url`"],
    ),
    (
        "argo-events/examples/tutorials/09-http-trigger/sensor-02.yaml",
        &["13:9: error: spec.triggers[0].template.http: missing required field `url`"],
    ),
];

/// Whether an error names a feature Switchyard does not support.
fn names_unsupported_feature(message: &str) -> bool {
    message.contains("not supported")
        || message.contains("does not support")
        || message.starts_with("unknown kind `")
}

#[test]
fn every_argo_example_is_accepted_or_refused_for_an_unsupported_feature() {
    let corpus = PathBuf::from(CORPUS);
    let dirs = ["argo-workflows/examples", "argo-events/examples"].map(|d| corpus.join(d));
    if !dirs.iter().all(|d| d.is_dir()) {
        eprintln!("skipping: the Argo example corpus is not at {CORPUS}");
        return;
    }
    let limits = Limits::default();
    let sources = read_sources(&dirs, &limits).unwrap_or_else(|errors| {
        panic!("reading the corpus failed: {errors:#?}");
    });
    assert!(sources.len() > 300, "only {} files found", sources.len());

    let (mut accepted, mut unsupported, mut defects, mut warnings) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    let mut known_seen = Vec::new();
    for source in &sources {
        let name = source
            .name
            .strip_prefix(CORPUS)
            .unwrap_or(&source.name)
            .trim_start_matches('/')
            .to_owned();
        let out = load(std::slice::from_ref(source), &limits);
        let mut diagnostics = out.diagnostics.clone();
        diagnostics.extend(validate(&out.objects, &|_, _, _| false));
        warnings += diagnostics.iter().filter(|d| !d.is_error()).count();
        let errors: Vec<String> = diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| {
                let mut d = d.clone();
                d.file = None;
                d.to_string()
            })
            .collect();
        if let Some((_, expected)) = KNOWN_DEFECTS.iter().find(|(f, _)| *f == name) {
            known_seen.push(name.clone());
            if errors != *expected {
                failures.push(format!("{name}: expected {expected:#?}\nfound {errors:#?}"));
            }
            defects += 1;
        } else if errors.is_empty() {
            accepted += 1;
        } else if diagnostics
            .iter()
            .filter(|d| d.is_error())
            .all(|d| names_unsupported_feature(&d.message))
        {
            unsupported += 1;
        } else {
            failures.push(format!("{name}:\n  {}", errors.join("\n  ")));
        }
    }
    println!(
        "{} files: {accepted} accepted, {unsupported} refused for an unsupported feature, \
         {defects} known defects of the examples; {warnings} warnings",
        sources.len()
    );
    assert!(
        failures.is_empty(),
        "unexpected outcomes:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        known_seen.len(),
        KNOWN_DEFECTS.len(),
        "a known defect file is missing"
    );
    assert!(accepted > 150, "only {accepted} files accepted");
}
