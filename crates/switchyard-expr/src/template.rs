//! Argo's `{{...}}` template substitution (util/template in Argo).
//!
//! A tag runs from `{{` to the first `}}` after it. `{{name}}` (spaces around the name allowed)
//! is a simple tag, replaced by the looked-up value. A tag whose text starts with `=`
//! right after the braces (`{{= expr }}`, `{{=expr}}`; not `{{ =expr }}`, which is a simple
//! tag named `=expr`, as in Argo) is an expression tag, evaluated with [`crate::exprlang`] and
//! written with [`crate::stringify`]. Text like `{{ {{x}}` is a literal `{{ ` followed by the
//! tag `{{x}}` (Argo's nested-tag rule).
//!
//! **Substitution is single pass**: text that comes from a substituted value is copied to the
//! output and never scanned again, so a parameter whose value is `{{workflow.name}}` stays
//! literally `{{workflow.name}}` and cannot reach other variables.
//!
//! A lookup may also answer that a name is an absent optional ([`Var::Absent`], Argo's nil:
//! the output of a skipped or omitted node that declared no default). Expression tags see it
//! as nil, so `x ?? 'fallback'` and `x?.y` work; a simple tag naming it fails in every mode
//! ([`Error::AbsentOptional`]).
//!
//! Unresolved tags depend on the [`Mode`]: [`Mode::Strict`] fails listing every unresolved
//! simple tag (Argo: "failed to resolve {{x}}"), and fails on the first expression tag that
//! reads a missing variable ("failed to evaluate expression: x is missing") or cannot be
//! evaluated; [`Mode::Lenient`] leaves such tags as they are, for a later stage to resolve (as
//! Argo does when `{{item}}` is resolved before the rest); [`Mode::StrictPrefixes`] is
//! Argo's `ReplaceStrict`: only tags under the given prefixes must resolve, except output
//! artifacts (`.outputs.artifacts.`), which may stay unresolved. Expression tags that are
//! refused outright (a function that is not allowed, a limit) fail in every mode.
//!
//! Argo substitutes into the JSON text of a whole object and escapes values for JSON; this
//! module substitutes into one string, which is the same once that string is decoded.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::exprlang;
use crate::{Error, stringify};

/// Longest template text accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 4 << 20;
/// Longest substituted result, in bytes (values can be larger than the tags they replace).
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;

/// What to do with tags that do not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Every tag must resolve.
    Strict,
    /// Unresolved tags are left as written.
    Lenient,
    /// Tags whose name is one of these prefixes, or starts with one followed by `.`, must
    /// resolve; others are left. Tags naming output artifacts are always allowed to stay.
    StrictPrefixes(Vec<String>),
}

impl Mode {
    fn is_strict(&self, name: &str) -> bool {
        match self {
            Mode::Strict => true,
            Mode::Lenient => false,
            Mode::StrictPrefixes(prefixes) => prefixes.iter().any(|p| {
                name.strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
            }),
        }
    }

    /// Whether any missing variable may leave the tag in place (Argo's `allowUnresolved`).
    fn tolerates_unresolved(&self) -> bool {
        !matches!(self, Mode::Strict)
    }
}

/// What a name resolves to, for [`substitute_at`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    /// A value (Argo's variables are all strings).
    Text(String),
    /// An absent optional: an output that a skipped or omitted node declared without a
    /// default. Expression tags see nil; a simple tag naming it is an error.
    Absent,
}

/// What a tag is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagKind {
    /// `{{ name }}`: the trimmed name.
    Simple(String),
    /// `{{= expression }}`: the expression text after `=`.
    Expression(String),
}

/// A tag found in template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The text between the braces, as written.
    pub raw: String,
    /// What it is.
    pub kind: TagKind,
    /// 1-based character offset of its `{{`.
    pub position: usize,
    /// Byte range of the whole tag, braces included.
    pub span: std::ops::Range<usize>,
}

/// The tags in `text`, in order, and the position of an unterminated `{{` if there is one.
pub fn tags(text: &str) -> (Vec<Tag>, Option<usize>) {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("{{") {
        let open = from + found;
        let Some(close) = text[open + 2..].find("}}").map(|c| open + 2 + c) else {
            return (out, Some(char_position(text, open)));
        };
        let mut start = open;
        let mut raw = &text[open + 2..close];
        // `{{ {{x}}`: the tag is the innermost one; the outer braces are literal text.
        if let Some(inner) = raw.rfind("{{") {
            start = open + 2 + inner;
            raw = &raw[inner + 2..];
        }
        let kind = match raw.strip_prefix('=') {
            Some(expression) => TagKind::Expression(expression.to_string()),
            None => TagKind::Simple(raw.trim().to_string()),
        };
        out.push(Tag {
            raw: raw.to_string(),
            kind,
            position: char_position(text, start),
            span: start..close + 2,
        });
        from = close + 2;
    }
    (out, None)
}

fn char_position(text: &str, byte: usize) -> usize {
    text[..byte].chars().count() + 1
}

/// Substitutes the tags of `text`. Simple tags are looked up with `lookup`; expression tags
/// see the variables they name, each looked up with `lookup` by its dotted path (all values
/// are strings, as Argo's parameters are). See the module doc for `mode`.
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    mode: &Mode,
) -> Result<String, Error> {
    let lookup = |name: &str| lookup(name).map(Var::Text);
    run(text, &lookup, None, mode, None)
}

/// Like [`substitute`], with a lookup that can answer [`Var::Absent`], and `now`, the time the
/// sprig date functions of expression tags format (see [`crate::exprlang::eval_expr_at`];
/// `None` refuses them).
pub fn substitute_at(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<Var>,
    mode: &Mode,
    now: Option<DateTime<Utc>>,
) -> Result<String, Error> {
    run(text, lookup, None, mode, now)
}

/// Like [`substitute`], but expression tags see `env`, a nested JSON object of variables
/// (build one from Argo-style dotted names with [`expand`]).
pub fn substitute_with_env(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    env: &Json,
    mode: &Mode,
) -> Result<String, Error> {
    let lookup = |name: &str| lookup(name).map(Var::Text);
    run(text, &lookup, Some(env), mode, None)
}

fn run(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<Var>,
    env: Option<&Json>,
    mode: &Mode,
    now: Option<DateTime<Utc>>,
) -> Result<String, Error> {
    if text.len() > MAX_TEMPLATE_BYTES {
        return Err(Error::TooLong {
            what: "template text",
            length: text.len(),
            max: MAX_TEMPLATE_BYTES,
        });
    }
    let (found, unterminated) = tags(text);
    if let Some(position) = unterminated
        && *mode == Mode::Strict
    {
        return Err(Error::UnterminatedTag { position });
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut unresolved: Vec<String> = Vec::new();
    for tag in &found {
        out.push_str(&text[copied..tag.span.start]);
        copied = tag.span.end;
        let whole = &text[tag.span.clone()];
        match &tag.kind {
            TagKind::Simple(name) => match lookup(name) {
                Some(Var::Text(value)) => out.push_str(&value),
                Some(Var::Absent) => {
                    return Err(Error::AbsentOptional { name: name.clone() });
                }
                None => {
                    let artifact = matches!(mode, Mode::StrictPrefixes(_))
                        && name.contains(".outputs.artifacts.");
                    if mode.is_strict(name) && !artifact && !unresolved.contains(&tag.raw) {
                        unresolved.push(tag.raw.clone());
                    }
                    out.push_str(whole);
                }
            },
            TagKind::Expression(expression) => {
                match expression_tag(expression, lookup, env, mode, now)? {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(whole),
                }
            }
        }
        if out.len() > MAX_OUTPUT_BYTES {
            return Err(Error::TooLong {
                what: "substituted text",
                length: out.len(),
                max: MAX_OUTPUT_BYTES,
            });
        }
    }
    out.push_str(&text[copied..]);
    if !unresolved.is_empty() {
        return Err(Error::Unresolved { tags: unresolved });
    }
    if out.len() > MAX_OUTPUT_BYTES {
        return Err(Error::TooLong {
            what: "substituted text",
            length: out.len(),
            max: MAX_OUTPUT_BYTES,
        });
    }
    Ok(out)
}

/// Evaluates one expression tag: `Some(text)` to write, `None` to leave the tag.
fn expression_tag(
    expression: &str,
    lookup: &dyn Fn(&str) -> Option<Var>,
    env: Option<&Json>,
    mode: &Mode,
    now: Option<DateTime<Utc>>,
) -> Result<Option<String>, Error> {
    let references = exprlang::references(expression);
    let mut missing = Vec::new();
    let built;
    let env = match env {
        Some(env) => {
            for reference in &references {
                let checked = if reference.guarded {
                    &reference.path[..1]
                } else {
                    &reference.path[..]
                };
                if let Some(name) = first_missing(env, checked)
                    && !missing.contains(&name)
                {
                    missing.push(name);
                }
            }
            env
        }
        None => {
            let (env, unresolved) = env_from_lookup(&references, lookup);
            missing = unresolved;
            built = env;
            &built
        }
    };
    if let Some(name) = missing.iter().find(|name| mode.is_strict(name)) {
        return Err(Error::MissingVariable { name: name.clone() });
    }
    let tolerate = !missing.is_empty() || mode.tolerates_unresolved();
    match exprlang::eval_expr_at(expression, env, now) {
        Ok(Json::Null) if tolerate => Ok(None),
        Ok(Json::Null) => Err(Error::NilResult {
            expression: expression.to_string(),
        }),
        Ok(value) => Ok(Some(stringify(&value))),
        // Refusals and limits are properties of the text: they fail whatever the mode.
        Err(e @ (Error::NotAllowed { .. } | Error::TooLong { .. } | Error::TooDeep { .. })) => {
            Err(e)
        }
        Err(_) if tolerate => Ok(None),
        Err(e) => Err(e),
    }
}

/// Builds the variables of an expression from lookups: each path (or its longest prefix that
/// resolves) becomes a string in the nested object, or null for an absent optional. Optional
/// paths that do not resolve are set to null, so that `??` and `?.` see nil as in Argo; the
/// other paths that do not resolve are returned, dotted.
fn env_from_lookup(
    references: &[exprlang::Reference],
    lookup: &dyn Fn(&str) -> Option<Var>,
) -> (Json, Vec<String>) {
    let mut missing = Vec::new();
    let mut flat: BTreeMap<String, Json> = BTreeMap::new();
    for reference in references {
        let resolved = (1..=reference.path.len()).rev().find_map(|n| {
            let name = reference.path[..n].join(".");
            lookup(&name).map(|value| (name, value))
        });
        match resolved {
            Some((name, Var::Text(value))) => {
                flat.insert(name, Json::String(value));
            }
            Some((name, Var::Absent)) => {
                flat.insert(name, Json::Null);
            }
            None if reference.guarded => {
                flat.entry(reference.path.join(".")).or_insert(Json::Null);
            }
            None => missing.push(reference.path.join(".")),
        }
    }
    (expand(&flat), missing)
}

/// The shortest prefix of `path` that does not exist in `env`, dotted; `None` if it all exists.
/// Mirrors Argo's `hasVarInEnv`: a flat key holding dots counts too.
fn first_missing(env: &Json, path: &[String]) -> Option<String> {
    (1..=path.len()).find_map(|n| {
        let prefix = &path[..n];
        (!has_var(env, prefix)).then(|| prefix.join("."))
    })
}

fn has_var(env: &Json, path: &[String]) -> bool {
    let Json::Object(root) = env else {
        return false;
    };
    // The longest dotted prefix that is a key of its own, then member by member.
    let (mut current, rest) = (1..=path.len())
        .rev()
        .find_map(|n| root.get(&path[..n].join(".")).map(|v| (v, &path[n..])))
        .unwrap_or((env, path));
    for part in rest {
        match current {
            Json::Object(map) => match map.get(part) {
                Some(next) => current = next,
                None => return false,
            },
            _ => return false,
        }
    }
    true
}

/// Argo's `expand.Expand`: turns dotted names (`inputs.parameters.x`) into a nested object.
/// A name that also has children (`a` and `a.b`) is dropped in favour of the children.
pub fn expand(flat: &BTreeMap<String, Json>) -> Json {
    let mut root = serde_json::Map::new();
    for (name, value) in flat {
        let has_children = flat
            .range::<str, _>((
                std::ops::Bound::Excluded(name.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(name.as_str()))
            .any(|(k, _)| k[name.len()..].starts_with('.'));
        if has_children {
            continue;
        }
        let parts: Vec<&str> = name.split('.').collect();
        insert(&mut root, &parts, value.clone());
    }
    Json::Object(root)
}

fn insert(map: &mut serde_json::Map<String, Json>, parts: &[&str], value: Json) {
    match parts {
        [] => {}
        [last] => {
            map.insert((*last).to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = map
                .entry((*first).to_string())
                .or_insert_with(|| Json::Object(serde_json::Map::new()));
            if !entry.is_object() {
                *entry = Json::Object(serde_json::Map::new());
            }
            if let Json::Object(child) = entry {
                insert(child, rest, value);
            }
        }
    }
}
