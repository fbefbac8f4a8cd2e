//! Semantic validation, data-driven: each case is a manifest (in `tests/cases/`) and the exact
//! diagnostics it must produce, rendered `file:line:column: severity: path: message`.
//! A case file with `# expect: ` lines lists its expected output; one with none must be clean.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use switchyard_manifest::{Limits, Source, load, validate};
use switchyard_model::Kind;

/// Objects that count as already applied in these tests.
fn applied(kind: Kind, namespace: &str, name: &str) -> bool {
    matches!(
        (kind, namespace, name),
        (Kind::WorkflowTemplate, "default", "applied-template")
            | (Kind::EventSource, "default", "applied-source")
    )
}

/// Returns a report when the diagnostics differ from the expected ones.
fn check(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let expected: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|l| format!("{name}:{l}"))
        .collect();
    let out = load(&[Source::new(&name, &text)], &Limits::default());
    let mut found: Vec<String> = out.diagnostics.iter().map(|d| d.to_string()).collect();
    found.extend(
        validate(&out.objects, &applied)
            .iter()
            .map(|d| d.to_string()),
    );
    (found != expected).then(|| {
        let lines: Vec<&str> = found
            .iter()
            .map(|f| f.strip_prefix(&format!("{name}:")).unwrap_or(f))
            .collect();
        format!(
            "{name}: diagnostics differ\nexpected:\n{}\nfound:\n# expect: {}\n",
            expected.join("\n"),
            lines.join("\n# expect: ")
        )
    })
}

#[test]
fn validation_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "cases missing in {}", dir.display());
    let failures: Vec<String> = files.iter().filter_map(|f| check(f)).collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
