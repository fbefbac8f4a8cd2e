//! YAML (and JSON, a subset of YAML 1.2) text to located trees, one per document, with the
//! safety caps: input size, nesting depth, node count after alias expansion and document
//! count. Duplicate keys are errors, and so is the one key `serde_json` reserves
//! ([`switchyard_paths::RESERVED_KEY`]); `<<` merge keys are applied.
//!
//! The builder is iterative: it keeps an explicit stack of open collections, so hostile
//! nesting cannot overflow the call stack, and it refuses to go deeper than
//! [`Limits::max_depth`], which bounds every later recursive walk over the tree.

use granit_parser::{ErrorKind, Event, Marker, Options, Parser, ScalarStyle, ScanError, Span, Tag};
use std::collections::HashMap;
use switchyard_model::Diagnostic;

use crate::Limits;
use crate::path::{join_index, join_key};
use crate::tree::{Entry, Node, NodeKind, excerpt, resolve_plain};

/// One document of a YAML stream that produced a tree.
#[derive(Debug, Clone)]
pub struct Document {
    /// 0-based position of the document in its source.
    pub index: usize,
    pub root: Node,
    /// What building the tree found (duplicate keys, tags, ...). With errors, the tree is
    /// still usable for finding more errors, but must not be accepted.
    pub diagnostics: Vec<Diagnostic>,
}

impl Document {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The result of parsing one source: its documents, and the findings that belong to no
/// document (syntax errors, limits), without a file name (the caller adds it).
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub documents: Vec<Document>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Expanding aliases may make a document's scalar text at most this many times
/// [`Limits::max_bytes`] (the node cap alone would let a few large strings multiply).
pub const EXPANDED_TEXT_FACTOR: usize = 4;

/// The text that starts a YAML comment by mistake, and the hint we give for it.
const SLASH_HINT: &str = "`//` is not a comment in YAML: comments start with `#`";

/// The hint for a scalar that contains `//` where a comment was probably meant, if it does.
pub(crate) fn slash_comment_hint(text: &str) -> Option<&'static str> {
    (text.starts_with("//") || text.contains(" //")).then_some(SLASH_HINT)
}

/// Parses every document of `text`. Documents that fail to parse are reported and skipped;
/// parsing resumes at the next `---`.
pub fn parse(text: &str, limits: &Limits) -> Parsed {
    let mut out = Parsed::default();
    if text.len() > limits.max_bytes {
        out.diagnostics.push(Diagnostic::error(
            "",
            format!(
                "the input is {} bytes, more than the limit of {} bytes",
                text.len(),
                limits.max_bytes
            ),
        ));
        return out;
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    let mut options = Options::default();
    options.emit_anchor_events = true;
    options.set_emit_comments(false);
    // Our own depth check must fire first, with our message; the parser's is a backstop.
    let nesting = limits.max_depth.saturating_add(2);
    options.flow_nesting_limit = nesting;
    options.block_nesting_limit = nesting;
    let mut parser = Parser::new_from_str_with_options(text, options);

    let mut builder = Builder::new(limits);
    let mut documents = 0usize;
    let mut in_document = false;
    // First line of the current document, where the search for a `//` line starts.
    let mut document_line = 1u32;
    while let Some(next) = parser.next() {
        let failure = match next {
            Ok((Event::StreamStart | Event::StreamEnd, _)) => None,
            Ok((Event::DocumentStart(..), span)) => {
                documents += 1;
                in_document = true;
                document_line = line_of(span.start);
                builder.reset();
                if documents > limits.max_documents {
                    out.diagnostics.push(
                        Diagnostic::error(
                            "",
                            format!(
                                "more than {} documents in one input; split it into several files",
                                limits.max_documents
                            ),
                        )
                        .at(document_line, column_of(span.start)),
                    );
                    break;
                }
                None
            }
            Ok((Event::DocumentEnd, span)) => {
                in_document = false;
                document_line = line_of(span.end);
                let diagnostics = std::mem::take(&mut builder.diagnostics);
                match builder.root.take() {
                    Some(root) => out.documents.push(Document {
                        index: documents.saturating_sub(1),
                        root,
                        diagnostics,
                    }),
                    None => out.diagnostics.extend(diagnostics),
                }
                builder.reset();
                None
            }
            Ok((event, span)) => builder.event(event, span).err(),
            Err(error) => {
                if !in_document {
                    documents += 1;
                }
                Some(scan_error(
                    text,
                    &error,
                    document_line,
                    &builder.text_spans,
                    limits,
                ))
            }
        };
        if let Some(diagnostic) = failure {
            out.diagnostics.append(&mut builder.diagnostics);
            out.diagnostics.push(diagnostic);
            in_document = false;
            builder.reset();
            match parser.proceed_next_document() {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    out.diagnostics
                        .push(scan_error(text, &error, document_line, &[], limits));
                    break;
                }
            }
        }
    }
    out.diagnostics.append(&mut builder.diagnostics);
    out.diagnostics
        .sort_by_key(|d| (d.line.unwrap_or(0), d.column.unwrap_or(0)));
    out
}

fn line_of(m: Marker) -> u32 {
    u32::try_from(m.line()).unwrap_or(u32::MAX)
}

fn column_of(m: Marker) -> u32 {
    u32::try_from(m.col().saturating_add(1)).unwrap_or(u32::MAX)
}

/// A parser error as a diagnostic. If a line between the document's start and the error
/// starts with `//`, that line is almost certainly the cause: the error points there.
fn scan_error(
    text: &str,
    error: &ScanError,
    from_line: u32,
    spans: &[TextSpan],
    limits: &Limits,
) -> Diagnostic {
    let line = line_of(*error.marker());
    let column = column_of(*error.marker());
    if matches!(error.kind(), ErrorKind::RecursionLimitExceeded) {
        // The parser's own nesting limit (set just above ours) fired while reading ahead.
        return depth_error(limits.max_depth, line, column);
    }
    let info = error.info();
    match find_slash_line(text, from_line, line, spans) {
        Some((slash_line, slash_column, found)) => Diagnostic::error(
            "",
            format!(
                "{SLASH_HINT} (found `{}`); the YAML parser then failed at line {line}, column {column}: {info}",
                excerpt(found)
            ),
        )
        .at(slash_line, slash_column),
        None => Diagnostic::error("", format!("invalid YAML: {info}")).at(line, column),
    }
}

/// The first line in `from..=to` whose first non-blank characters are `//` and that is not
/// inside a quoted or block scalar: (line, column, trimmed text).
fn find_slash_line<'t>(
    text: &'t str,
    from: u32,
    to: u32,
    spans: &[TextSpan],
) -> Option<(u32, u32, &'t str)> {
    let from = from.max(1);
    for (number, line) in (1u32..).zip(text.lines()) {
        if number > to {
            break;
        }
        if number < from {
            continue;
        }
        let trimmed = line.trim_start_matches([' ', '\t']);
        if !trimmed.starts_with("//") {
            continue;
        }
        let indent = u32::try_from(line.chars().count() - trimmed.chars().count()).ok()?;
        if spans.iter().any(|s| s.contains(number, indent)) {
            continue;
        }
        return Some((number, indent + 1, trimmed.trim_end()));
    }
    None
}

/// Where a quoted or block scalar lies (line 1-based, column 0-based, end exclusive).
#[derive(Debug, Clone, Copy)]
struct TextSpan {
    start: (u32, u32),
    end: (u32, u32),
}

impl TextSpan {
    fn contains(&self, line: u32, column0: u32) -> bool {
        (line, column0) >= self.start && (line, column0) < self.end
    }
}

/// An anchored node, ready to be copied wherever an alias names it.
struct Anchored {
    node: Node,
    /// Number of nodes in it, aliases expanded.
    size: usize,
    /// Levels of collections in it (0 for a scalar).
    height: usize,
    /// Bytes of scalar text in it, aliases expanded.
    bytes: usize,
}

enum Body {
    Seq(Vec<Node>),
    Map(MapBody),
}

#[derive(Default)]
struct MapBody {
    entries: Vec<Entry>,
    /// Key text to the line it was first defined on.
    seen: HashMap<String, u32>,
    /// Values of `<<` keys, applied when the mapping ends.
    merges: Vec<Node>,
    /// A key waiting for its value.
    key: Option<Node>,
    /// The pending key was unusable (a collection); drop its value.
    skip_value: bool,
}

struct Frame {
    line: u32,
    column: u32,
    path: String,
    anchor: usize,
    /// The node count before this collection was opened.
    nodes_before: usize,
    /// The text byte count before this collection was opened.
    bytes_before: usize,
    /// The largest height among the children.
    height: usize,
    body: Body,
}

/// Builds the tree of one document from parser events.
struct Builder<'l> {
    limits: &'l Limits,
    /// Findings that do not stop the document.
    diagnostics: Vec<Diagnostic>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    anchor_names: HashMap<usize, String>,
    nodes: usize,
    /// Bytes of scalar text so far, aliases expanded.
    bytes: usize,
    root: Option<Node>,
    text_spans: Vec<TextSpan>,
}

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits) -> Self {
        Builder {
            limits,
            diagnostics: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            anchor_names: HashMap::new(),
            nodes: 0,
            bytes: 0,
            root: None,
            text_spans: Vec::new(),
        }
    }

    /// Forgets the current document (after it ended or failed).
    fn reset(&mut self) {
        self.stack.clear();
        self.anchors.clear();
        self.anchor_names.clear();
        self.nodes = 0;
        self.bytes = 0;
        self.root = None;
        self.text_spans.clear();
    }

    fn error(&mut self, path: String, message: String, line: u32, column: u32) {
        self.diagnostics
            .push(Diagnostic::error(path, message).at(line, column));
    }

    /// Handles one node event. An `Err` abandons the document.
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        let line = line_of(span.start);
        let column = column_of(span.start);
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                if style != ScalarStyle::Plain {
                    self.text_spans.push(TextSpan {
                        start: (line, column - 1),
                        end: (line_of(span.end), column_of(span.end) - 1),
                    });
                }
                self.count(1, line, column)?;
                self.bytes += value.len();
                let kind = self.resolve(&value, style, tag.as_deref(), line, column);
                let node = Node {
                    kind,
                    text: value.into_owned(),
                    line,
                    column,
                    index: 0,
                };
                if anchor != 0 {
                    let anchored = Anchored {
                        bytes: node.text.len(),
                        node: node.clone(),
                        size: 1,
                        height: 0,
                    };
                    self.anchors.insert(anchor, anchored);
                }
                self.add(node, 0);
                Ok(())
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "seq", line, column);
                self.open(Body::Seq(Vec::new()), anchor, line, column)
            }
            Event::MappingStart(_, anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "map", line, column);
                self.open(Body::Map(MapBody::default()), anchor, line, column)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.close();
                Ok(())
            }
            Event::Anchor(id, name) => {
                self.anchor_names.insert(id, name.into_owned());
                Ok(())
            }
            Event::Alias(id) => self.alias(id, line, column),
            Event::UnresolvedAlias(name) => Err(Diagnostic::error(
                self.child_path(),
                format!("alias `*{name}` names no anchor defined before it"),
            )
            .at(line, column)),
            _ => Ok(()),
        }
    }

    fn count(&mut self, n: usize, line: u32, column: u32) -> Result<(), Diagnostic> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(Diagnostic::error(
                "",
                format!(
                    "the document has more than {} nodes; it is too large",
                    self.limits.max_nodes
                ),
            )
            .at(line, column));
        }
        Ok(())
    }

    fn open(
        &mut self,
        body: Body,
        anchor: usize,
        line: u32,
        column: u32,
    ) -> Result<(), Diagnostic> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(depth_error(self.limits.max_depth, line, column));
        }
        let nodes_before = self.nodes;
        let bytes_before = self.bytes;
        self.count(1, line, column)?;
        let path = self.child_path();
        self.stack.push(Frame {
            line,
            column,
            path,
            anchor,
            nodes_before,
            bytes_before,
            height: 0,
            body,
        });
        Ok(())
    }

    fn close(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let size = self.nodes - frame.nodes_before;
        let bytes = self.bytes - frame.bytes_before;
        let height = frame.height + 1;
        let kind = match frame.body {
            Body::Seq(items) => NodeKind::Seq(items),
            Body::Map(map) => NodeKind::Map(merge(map)),
        };
        let node = Node {
            kind,
            text: String::new(),
            line: frame.line,
            column: frame.column,
            index: 0,
        };
        if frame.anchor != 0 {
            let anchored = Anchored {
                node: node.clone(),
                size,
                height,
                bytes,
            };
            self.anchors.insert(frame.anchor, anchored);
        }
        self.add(node, height);
    }

    fn alias(&mut self, id: usize, line: u32, column: u32) -> Result<(), Diagnostic> {
        let name = self
            .anchor_names
            .get(&id)
            .map_or_else(|| id.to_string(), Clone::clone);
        let Some(anchored) = self.anchors.get(&id) else {
            return Err(Diagnostic::error(
                self.child_path(),
                format!("alias `*{name}` refers to a node that contains it; recursive aliases are not supported"),
            )
            .at(line, column));
        };
        if self.stack.len() + anchored.height > self.limits.max_depth {
            return Err(depth_error(self.limits.max_depth, line, column));
        }
        if self.nodes.saturating_add(anchored.size) > self.limits.max_nodes {
            return Err(Diagnostic::error(
                "",
                format!(
                    "expanding alias `*{name}` would make the document larger than {} nodes; aliases that multiply like this are refused",
                    self.limits.max_nodes
                ),
            )
            .at(line, column));
        }
        let max_text = self.limits.max_bytes.saturating_mul(EXPANDED_TEXT_FACTOR);
        if self.bytes.saturating_add(anchored.bytes) > max_text {
            return Err(Diagnostic::error(
                "",
                format!(
                    "expanding alias `*{name}` would make the document's text larger than {max_text} bytes; aliases that multiply like this are refused"
                ),
            )
            .at(line, column));
        }
        self.nodes += anchored.size;
        self.bytes += anchored.bytes;
        let height = anchored.height;
        let mut node = anchored.node.clone();
        node.line = line;
        node.column = column;
        self.add(node, height);
        Ok(())
    }

    /// The path of the node that comes next.
    fn child_path(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(frame) => match &frame.body {
                Body::Seq(items) => join_index(&frame.path, items.len()),
                Body::Map(map) => match &map.key {
                    Some(key) => join_key(&frame.path, &key.text),
                    None => frame.path.clone(),
                },
            },
        }
    }

    /// Attaches a finished node to its parent (or makes it the root).
    fn add(&mut self, mut node: Node, height: usize) {
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(node);
            return;
        };
        frame.height = frame.height.max(height);
        let map = match &mut frame.body {
            Body::Seq(items) => {
                node.index = items.len();
                items.push(node);
                return;
            }
            Body::Map(map) => map,
        };
        let Some(key) = map.key.take() else {
            if !node.is_scalar() {
                let path = frame.path.clone();
                map.skip_value = true;
                map.key = Some(node.clone());
                let message = format!("a mapping key must be a string, found {}", node.describe());
                self.error(path, message, node.line, node.column);
            } else {
                map.key = Some(node);
            }
            return;
        };
        if std::mem::take(&mut map.skip_value) {
            return;
        }
        let path = join_key(&frame.path, &key.text);
        if key.text == "<<" && key.kind == (NodeKind::Str { plain: true }) {
            let ok = match &node.kind {
                NodeKind::Map(_) => true,
                NodeKind::Seq(items) => items.iter().all(|i| matches!(i.kind, NodeKind::Map(_))),
                _ => false,
            };
            if ok {
                map.merges.push(node);
            } else {
                let message = format!(
                    "the merge key `<<` needs a mapping or a list of mappings, found {}",
                    node.describe()
                );
                self.error(path, message, node.line, node.column);
            }
            return;
        }
        if let Some(first) = map.seen.get(&key.text) {
            let message = format!(
                "duplicate key `{}`; it is first defined on line {first}",
                excerpt(&key.text)
            );
            self.error(path, message, key.line, key.column);
            return;
        }
        map.seen.insert(key.text.clone(), key.line);
        if key.text == switchyard_paths::RESERVED_KEY {
            let message = format!(
                "the key `{}` is reserved by the JSON library objects are stored with: an object \
                 holding it could not be read back; rename it",
                key.text
            );
            self.error(path, message, key.line, key.column);
            return;
        }
        map.entries.push(Entry { key, value: node });
    }

    /// The node kind of a scalar, honouring core-schema tags (`!!str`, `!!int`, ...).
    fn resolve(
        &mut self,
        value: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        line: u32,
        column: u32,
    ) -> NodeKind {
        let plain = style == ScalarStyle::Plain;
        let untagged = || {
            if plain {
                resolve_plain(value)
            } else {
                NodeKind::Str { plain: false }
            }
        };
        let Some(tag) = tag else {
            return untagged();
        };
        if tag.handle().is_empty() && tag.suffix() == "!" {
            // The non-specific tag `!`: a string.
            return NodeKind::Str { plain };
        }
        let name = format!("{}{}", tag.original_handle(), tag.suffix());
        let core = tag.core_suffix().or_else(|| {
            match tag.suffix_in_namespace("tag:yaml.org,2002:").as_deref() {
                Some("binary" | "timestamp") => Some("str"),
                _ => None,
            }
        });
        let resolved = resolve_plain(value);
        let (kind, wanted) = match core {
            Some("str") => return NodeKind::Str { plain },
            Some("null") => (
                matches!(resolved, NodeKind::Null).then_some(NodeKind::Null),
                "null",
            ),
            Some("bool") => (
                matches!(resolved, NodeKind::Bool(_)).then_some(resolved),
                "`true` or `false`",
            ),
            Some("int") => (
                matches!(resolved, NodeKind::Int(_)).then_some(resolved),
                "an integer",
            ),
            Some("float") => (
                match resolved {
                    NodeKind::Int(i) => Some(NodeKind::Float(i as f64)),
                    NodeKind::Float(_) => Some(resolved),
                    _ => None,
                },
                "a number",
            ),
            Some(other) => {
                let message = format!(
                    "tag `{name}` cannot be used on a scalar (it means a {})",
                    if other == "map" { "mapping" } else { "list" }
                );
                self.error(self.child_path(), message, line, column);
                return untagged();
            }
            None => {
                self.diagnostics.push(
                    Diagnostic::warning(
                        self.child_path(),
                        format!("tag `{name}` is not supported and is ignored"),
                    )
                    .at(line, column),
                );
                return untagged();
            }
        };
        kind.unwrap_or_else(|| {
            let message = format!("`{name}` value `{}` is not {wanted}", excerpt(value));
            self.error(self.child_path(), message, line, column);
            NodeKind::Str { plain }
        })
    }

    /// Warns about tags on collections that we do not understand.
    fn check_collection_tag(&mut self, tag: Option<&Tag>, expected: &str, line: u32, column: u32) {
        let Some(tag) = tag else {
            return;
        };
        let name = format!("{}{}", tag.original_handle(), tag.suffix());
        match tag.core_suffix() {
            Some(core) if core == expected => {}
            Some(_) => {
                let message = format!(
                    "tag `{name}` does not fit a {}",
                    if expected == "map" { "mapping" } else { "list" }
                );
                self.error(self.child_path(), message, line, column);
            }
            None => self.diagnostics.push(
                Diagnostic::warning(
                    self.child_path(),
                    format!("tag `{name}` is not supported and is ignored"),
                )
                .at(line, column),
            ),
        }
    }
}

fn depth_error(max_depth: usize, line: u32, column: u32) -> Diagnostic {
    Diagnostic::error(
        "",
        format!("the document is nested more than {max_depth} levels deep; this is not supported"),
    )
    .at(line, column)
}

/// Applies `<<` merge keys: entries of the merged mappings (earlier ones first) are added
/// unless the mapping already has the key.
fn merge(mut map: MapBody) -> Vec<Entry> {
    for source in std::mem::take(&mut map.merges) {
        let sources = match source.kind {
            NodeKind::Map(entries) => vec![entries],
            NodeKind::Seq(items) => items
                .into_iter()
                .filter_map(|i| match i.kind {
                    NodeKind::Map(entries) => Some(entries),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for entry in sources.into_iter().flatten() {
            if !map.seen.contains_key(&entry.key.text) {
                map.seen.insert(entry.key.text.clone(), entry.key.line);
                map.entries.push(entry);
            }
        }
    }
    map.entries
}
