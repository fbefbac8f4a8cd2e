//! From a document's tree to typed objects: the `apiVersion`/`kind` header, `kind: List`
//! expansion, and deserialization that reports every error, not just the first.
//!
//! Serde's derive code stops at the first error, so errors are collected by
//! remove-and-retry: deserialize; on an error at path P, record it, delete the node at P and
//! try again. An error whose path is an ancestor of one already reported (a missing field
//! we just deleted, say) is a consequence and is not reported.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use switchyard_model::{Diagnostic, Kind, Resource};

use crate::Loaded;
use crate::de::{De, Findings, value_location};
use crate::parse::Document;
use crate::path::{self, Segment, join_index, join_key};
use crate::tree::{Node, NodeKind};

/// At most this many errors are reported per object.
pub(crate) const MAX_ERRORS: usize = 100;
/// At most this many deserialization attempts per object (errors plus their consequences).
const MAX_PASSES: usize = 500;

/// Loads one document (a single object, or a `List` of them) from `source`.
pub(crate) fn load_document(
    source: &str,
    document: Document,
    objects: &mut Vec<Loaded>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let root = document.root;
    let explained = explained_paths(&document.diagnostics);
    let has_errors = !explained.is_empty();
    diagnostics.extend(document.diagnostics);
    match &root.kind {
        NodeKind::Null => return,
        NodeKind::Map(_) => {}
        _ => {
            diagnostics.push(
                Diagnostic::error(
                    "",
                    format!(
                        "a manifest must be a mapping with `apiVersion` and `kind`, found {}",
                        root.describe()
                    ),
                )
                .at(root.line, root.column),
            );
            return;
        }
    }
    let is_list = root.get("kind").and_then(|e| e.value.as_str()) == Some("List");
    if !is_list {
        let context = Context {
            source,
            document: document.index,
            has_errors,
            explained: &explained,
        };
        load_object(&context, root, String::new(), objects, diagnostics);
        return;
    }
    // `kind: List` (as `kubectl get -o yaml` writes): each item is an object.
    let Some(items) = root.get("items") else {
        return;
    };
    let (line, column) = value_location(items);
    let items = match &items.value.kind {
        NodeKind::Seq(items) => items.clone(),
        NodeKind::Null => return,
        _ => {
            diagnostics.push(
                Diagnostic::error(
                    "items",
                    format!(
                        "`items` of a List must be a list, found {}",
                        items.value.describe()
                    ),
                )
                .at(line, column),
            );
            return;
        }
    };
    for item in items {
        let prefix = join_index("items", item.index);
        if !matches!(item.kind, NodeKind::Map(_)) {
            diagnostics.push(
                Diagnostic::error(
                    prefix,
                    format!(
                        "a List item must be a mapping with `apiVersion` and `kind`, found {}",
                        item.describe()
                    ),
                )
                .at(item.line, item.column),
            );
            continue;
        }
        let context = Context {
            source,
            document: document.index,
            has_errors,
            explained: &explained,
        };
        load_object(&context, item, prefix, objects, diagnostics);
    }
}

/// A string field of the header (`apiVersion`, `kind`) with where its value is.
fn header_field(
    node: &Node,
    name: &str,
    prefix: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(String, (u32, u32))> {
    let path = path::join(prefix, name);
    let Some(entry) = node.get(name) else {
        diagnostics.push(
            Diagnostic::error(
                prefix,
                format!("missing `{name}`; every manifest needs `apiVersion` and `kind`"),
            )
            .at(node.line, node.column),
        );
        return None;
    };
    let at = value_location(entry);
    match (&entry.value.kind, entry.value.as_str()) {
        (NodeKind::Str { .. }, Some(text)) => Some((text.to_owned(), at)),
        _ => {
            diagnostics.push(
                Diagnostic::error(
                    path,
                    format!(
                        "`{name}` must be a string, found {}",
                        entry.value.describe()
                    ),
                )
                .at(at.0, at.1),
            );
            None
        }
    }
}

/// What an object's loading needs to know about its document.
struct Context<'a> {
    source: &'a str,
    document: usize,
    /// The document had parse-level errors: nothing from it is accepted.
    has_errors: bool,
    /// Paths with parse-level errors.
    explained: &'a HashSet<String>,
}

fn load_object(
    context: &Context<'_>,
    mut node: Node,
    prefix: String,
    objects: &mut Vec<Loaded>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let api_version = header_field(&node, "apiVersion", &prefix, diagnostics);
    let kind_name = header_field(&node, "kind", &prefix, diagnostics);
    let (Some((api_version, api_at)), Some((kind_name, kind_at))) = (api_version, kind_name) else {
        return;
    };
    if kind_name == "List" {
        diagnostics.push(
            Diagnostic::error(
                path::join(&prefix, "kind"),
                "a List cannot contain another List",
            )
            .at(kind_at.0, kind_at.1),
        );
        return;
    }
    let kind = match Kind::from_manifest(&api_version, &kind_name) {
        Ok(kind) => kind,
        Err(message) => {
            // A known kind with the wrong apiVersion: point at the apiVersion.
            let (field, at) = if Kind::ALL.iter().any(|k| k.name() == kind_name) {
                ("apiVersion", api_at)
            } else {
                ("kind", kind_at)
            };
            diagnostics.push(Diagnostic::error(path::join(&prefix, field), message).at(at.0, at.1));
            return;
        }
    };
    let locations = index_locations(&node);
    let (resource, found) = deserialize_all(&mut node, |de| Resource::deserialize_kind(kind, de));
    diagnostics.extend(unexplained(found, &prefix, context.explained));
    if let Some(resource) = resource
        && !context.has_errors
    {
        objects.push(Loaded {
            resource,
            source: context.source.to_owned(),
            document: context.document,
            prefix,
            locations,
        });
    }
}

/// Paths with parse-level errors (a `!!int` tag on text, say). A type error at the same path
/// would only repeat them.
pub(crate) fn explained_paths(parse_diagnostics: &[Diagnostic]) -> HashSet<String> {
    parse_diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.path.clone())
        .collect()
}

/// `found` with `prefix` added to every path, without errors at `explained` paths.
pub(crate) fn unexplained<'a>(
    found: Vec<Diagnostic>,
    prefix: &'a str,
    explained: &'a HashSet<String>,
) -> impl Iterator<Item = Diagnostic> + 'a {
    found.into_iter().filter_map(move |mut d| {
        d.path = path::join(prefix, &d.path);
        (!(d.is_error() && explained.contains(&d.path))).then_some(d)
    })
}

/// Deserializes `node` with `deserialize`, reporting every error. Returns the value only when
/// there was no deserialization error; the findings (unknown fields, field policy) come
/// either way.
pub(crate) fn deserialize_all<T>(
    node: &mut Node,
    deserialize: impl Fn(De<'_>) -> Result<T, crate::Error>,
) -> (Option<T>, Vec<Diagnostic>) {
    let findings = RefCell::new(Findings::default());
    let mut errors: Vec<Diagnostic> = Vec::new();
    let mut reported: Vec<Vec<Segment>> = Vec::new();
    let mut passes = 0;
    let value = loop {
        let error = match deserialize(De::root(node, &findings)) {
            Ok(value) => break errors.is_empty().then_some(value),
            Err(error) => error,
        };
        let (path, line, column) = match error.location {
            Some(l) => (l.path, l.line, l.column),
            None => (String::new(), node.line, node.column),
        };
        let segments = path::segments(&path).unwrap_or_default();
        let consequence = reported.iter().any(|r| r.starts_with(&segments));
        if !consequence {
            errors.push(Diagnostic::error(path, error.message).at(line, column));
            reported.push(segments.clone());
            if errors.len() >= MAX_ERRORS {
                errors.push(
                    Diagnostic::error(
                        "",
                        format!("stopped after {MAX_ERRORS} errors in this object"),
                    )
                    .at(line, column),
                );
                break None;
            }
        }
        passes += 1;
        if segments.is_empty() || passes >= MAX_PASSES || !remove(node, &segments) {
            break None;
        }
    };
    let mut diagnostics = findings.into_inner().diagnostics;
    diagnostics.append(&mut errors);
    (value, diagnostics)
}

/// Deletes the node at `segments` (its map entry or list item). False if there is none.
fn remove(root: &mut Node, segments: &[Segment]) -> bool {
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut current = root;
    for segment in parents {
        let next = match (segment, &mut current.kind) {
            (Segment::Key(k), NodeKind::Map(entries)) => entries
                .iter_mut()
                .find(|e| e.key.text == *k)
                .map(|e| &mut e.value),
            (Segment::Index(i), NodeKind::Seq(items)) => items.iter_mut().find(|n| n.index == *i),
            _ => None,
        };
        let Some(next) = next else {
            return false;
        };
        current = next;
    }
    match (last, &mut current.kind) {
        (Segment::Key(k), NodeKind::Map(entries)) => {
            let before = entries.len();
            entries.retain(|e| e.key.text != *k);
            entries.len() < before
        }
        (Segment::Index(i), NodeKind::Seq(items)) => {
            let before = items.len();
            items.retain(|n| n.index != *i);
            items.len() < before
        }
        _ => false,
    }
}

/// The location of every node by path (without walking recursively).
fn index_locations(root: &Node) -> HashMap<String, (u32, u32)> {
    let mut index = HashMap::new();
    let mut stack: Vec<(&Node, String, (u32, u32))> =
        vec![(root, String::new(), (root.line, root.column))];
    while let Some((node, path, at)) = stack.pop() {
        match &node.kind {
            NodeKind::Map(entries) => {
                for entry in entries {
                    stack.push((
                        &entry.value,
                        join_key(&path, &entry.key.text),
                        value_location(entry),
                    ));
                }
            }
            NodeKind::Seq(items) => {
                for item in items {
                    stack.push((
                        item,
                        join_index(&path, item.index),
                        (item.line, item.column),
                    ));
                }
            }
            _ => {}
        }
        index.insert(path, at);
    }
    index
}
