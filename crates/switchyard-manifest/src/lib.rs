//! Manifest loading: multi-document YAML and JSON into the typed model, with precise, located
//! diagnostics and safety caps.
//!
//! The pipeline is: [`read_sources`] (files, directories, stdin) → [`parse`] (YAML events to a
//! located tree per document, capped in size, depth and alias expansion) → deserialization
//! into [`Resource`] through a serde deserializer that knows every node's path and position
//! → [`validate`] (semantic rules across objects).
//!
//! Every finding is a [`Diagnostic`] with file, line, column and object path, and all of them
//! are reported at once: a user fixes a manifest in one round, not one error per round.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod de;
mod document;
mod error;
pub mod parse;
pub mod path;
mod read;
pub mod tree;
pub mod validate;

use std::collections::HashMap;

pub use error::{Error, Location};
pub use parse::parse;
pub use read::{read_sources, read_sources_with_stdin};
pub use switchyard_model::{Diagnostic, Kind, Resource, Severity};
pub use validate::validate;

/// One input: a file's text and the name diagnostics use for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file path as given, or `<stdin>`.
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// The name used for standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// Safety caps for hostile or mistaken input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, per source.
    pub max_bytes: usize,
    /// Deepest nesting of lists and mappings. This also bounds recursion in everything that
    /// walks the tree, so keep it modest.
    pub max_depth: usize,
    /// Most nodes in one document, counted after aliases are expanded. Expanding aliases
    /// may also not make a document's scalar text larger than
    /// [`parse::EXPANDED_TEXT_FACTOR`] × `max_bytes`.
    pub max_nodes: usize,
    /// Most documents in one source.
    pub max_documents: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 4 * 1024 * 1024,
            max_depth: 100,
            max_nodes: 200_000,
            max_documents: 1_000,
        }
    }
}

/// A typed object and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub resource: Resource,
    /// The [`Source::name`] it was read from.
    pub source: String,
    /// 0-based position of its document in the source.
    pub document: usize,
    /// Path of the object inside its document: empty, or `items[3]` inside a `kind: List`.
    prefix: String,
    /// Line and column of every node, by path relative to the object.
    locations: HashMap<String, (u32, u32)>,
}

impl Loaded {
    /// Line and column (1-based) of the node at `path` (relative to the object, e.g.
    /// `spec.templates[2].dag.tasks[0].depends`), or of its nearest existing ancestor.
    /// Scalars are located at their value, collections at the key that introduces them.
    pub fn locate(&self, path: &str) -> (u32, u32) {
        if let Some(at) = self.locations.get(path) {
            return *at;
        }
        if let Some(segments) = path::parse(path) {
            for (_, end) in segments.iter().rev() {
                if let Some(at) = path.get(..*end).and_then(|p| self.locations.get(p)) {
                    return *at;
                }
            }
        }
        self.locations.get("").copied().unwrap_or((1, 1))
    }

    /// A diagnostic about the node at `path` (relative to the object), with file, line and
    /// column filled in and the path as the user sees it in the document.
    pub fn diagnostic(
        &self,
        severity: Severity,
        path: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = self.locate(path);
        Diagnostic::new(severity, path::join(&self.prefix, path), message)
            .at(line, column)
            .in_file(&self.source)
    }

    /// The object's path inside its document (`items[3]` in a `kind: List`, else empty).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// Everything loaded from a set of sources.
#[derive(Debug, Clone, Default)]
pub struct LoadOutput {
    /// Objects that deserialized. A document with errors of its own that still produced a
    /// typed object (e.g. an unsupported field) is included so that [`validate`] can report
    /// more; never act on the output when [`LoadOutput::has_errors`].
    pub objects: Vec<Loaded>,
    /// Errors and warnings, by source, then by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadOutput {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Deserializes every document of `source` as a `T`, with the same located, complete
/// diagnostics as [`load`] but without the `apiVersion`/`kind` header (for configuration
/// files and tests). Empty documents are skipped; documents with errors produce no value.
pub fn load_as<T: serde::de::DeserializeOwned>(
    source: &Source,
    limits: &Limits,
) -> (Vec<T>, Vec<Diagnostic>) {
    let parsed = parse(&source.text, limits);
    let mut diagnostics = parsed.diagnostics;
    let mut values = Vec::new();
    for mut document in parsed.documents {
        if matches!(document.root.kind, tree::NodeKind::Null) {
            continue;
        }
        let explained = document::explained_paths(&document.diagnostics);
        let has_errors = !explained.is_empty();
        let (value, found) = document::deserialize_all(&mut document.root, |de| T::deserialize(de));
        diagnostics.append(&mut document.diagnostics);
        diagnostics.extend(document::unexplained(found, "", &explained));
        if let Some(value) = value
            && !has_errors
        {
            values.push(value);
        }
    }
    diagnostics.sort_by_key(|d| (d.line.unwrap_or(0), d.column.unwrap_or(0)));
    let diagnostics = diagnostics
        .into_iter()
        .map(|d| d.in_file(&source.name))
        .collect();
    (values, diagnostics)
}

/// Loads every document of every source.
pub fn load(sources: &[Source], limits: &Limits) -> LoadOutput {
    let mut out = LoadOutput::default();
    for source in sources {
        let parsed = parse(&source.text, limits);
        let mut diagnostics = parsed.diagnostics;
        for document in parsed.documents {
            document::load_document(&source.name, document, &mut out.objects, &mut diagnostics);
        }
        diagnostics.sort_by_key(|d| (d.line.unwrap_or(0), d.column.unwrap_or(0)));
        out.diagnostics
            .extend(diagnostics.into_iter().map(|d| d.in_file(&source.name)));
    }
    out
}
