//! Writing JSON with SJSON paths (a trigger parameter's `dest`), over a [`serde_json::Value`].
//!
//! No mature SJSON crate exists, so this follows `tidwall/sjson`'s `sjson.go` (`parsePath`, `appendRawPaths`,
//! `appendBuild`) rule by rule:
//!
//! - A path is keys separated by `.`; `\` makes the next character literal (`fav\.movie`). A segment that starts
//!   with `:` is forced to be an object key (`users.:2313`) when something has to be created.
//! - Looking a segment up: in an object, the key; in an array, a segment of digits is an index (even a forced one:
//!   SJSON looks up with GJSON, which ignores the `:`); in anything else, nothing.
//! - Found, and more segments follow: descend. Found, last segment: replace.
//! - Not found, in an object: add the key. In an array: a numeric segment pads with `null` up to the index and
//!   puts the value there; `-1` appends; any other key is an error. In a scalar (or `null`, the empty document):
//!   the scalar is replaced by `[]` when the segment is numeric and by `{}` otherwise, then as above — so `-1`
//!   there makes an object key `"-1"`, as in SJSON.
//! - Containers built below a created key are chosen by the next segment: numeric → an array padded with `null`s
//!   up to that index, `-1` → an array, anything else → an object.
//!
//! Deliberate differences, each an error where SJSON would do something surprising: an empty path or segment, a
//! trailing lone `\`, the one key `serde_json` reserves ([`RESERVED_KEY`]), and unescaped GJSON query characters
//! (`|#@*?`, with which SJSON only replaces values a GJSON query already finds, silently doing nothing otherwise).
//! Padding stops at [`MAX_PAD_INDEX`] (per index, and in all for the arrays one write creates) and a path has at
//! most [`MAX_PATH_PARTS`] segments. Every other character of a key is literal (SJSON passes a key to GJSON for
//! the lookup, so a key starting with `[`, `{` or `!` can be misread there and duplicated; not here).

use crate::PathError;
use crate::read::{MAX_PATH_PARTS, path_parts};
use serde_json::{Map, Value};

/// The object key `serde_json` reserves for its raw values (`serde_json::value::RawValue`). With that feature on
/// (the web framework turns it on), reading `{"$serde_json::private::RawValue": ...}` as a `Value` does not give
/// back an object with that key: it fails, or gives the value the string holds. A write never creates it.
pub const RESERVED_KEY: &str = "$serde_json::private::RawValue";

/// The largest array index a write may pad up to with `null`s (SJSON has no limit; one huge index in a `dest`
/// would otherwise allocate without bound). Replacing an existing element has no limit. The arrays one write
/// creates below a missing key hold at most this many padding `null`s in all, so that a path of many large
/// indexes cannot multiply it.
pub const MAX_PAD_INDEX: usize = 100_000;

/// One segment of an SJSON path, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The key, with escapes removed and without the `:` prefix.
    pub key: String,
    /// Whether the segment started with `:` (always an object key when created).
    pub force_key: bool,
}

impl Segment {
    /// The index this segment names when it is all digits and not forced to be a key (SJSON's `atoui`).
    /// `Some(None)` when the digits are too many for a `usize`.
    fn index(&self) -> Option<Option<usize>> {
        if self.force_key {
            return None;
        }
        parse_digits(&self.key)
    }

    /// Whether this is the `-1` append segment.
    fn is_append(&self) -> bool {
        !self.force_key && self.key == "-1"
    }
}

/// Digits only → `Some(Some(n))`, or `Some(None)` on overflow; anything else (or empty) → `None`.
fn parse_digits(key: &str) -> Option<Option<usize>> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(key.parse::<usize>().ok())
}

/// Splits an SJSON path into segments, refusing what [`set`] refuses for the path alone (an empty path or segment,
/// a dangling `\`, a GJSON query character, more than [`MAX_PATH_PARTS`] parts). Useful to check a trigger parameter's `dest` before any event comes.
pub fn parse_set_path(path: &str) -> Result<Vec<Segment>, PathError> {
    if path.is_empty() {
        return Err(PathError::EmptyPath);
    }
    let parts = path_parts(path);
    if parts > MAX_PATH_PARTS {
        return Err(PathError::PathTooLong {
            parts,
            max: MAX_PATH_PARTS,
        });
    }
    let mut segments = Vec::new();
    // The segment being read: its text as written, and its key with escapes removed.
    let mut written = String::new();
    let mut key = String::new();
    let mut chars = path.chars();
    loop {
        let c = chars.next();
        match c {
            Some('\\') => {
                let Some(next) = chars.next() else {
                    return Err(PathError::DanglingEscape {
                        path: path.to_owned(),
                    });
                };
                written.push('\\');
                written.push(next);
                key.push(next);
            }
            Some(q @ ('|' | '#' | '@' | '*' | '?')) => {
                let rest: String = chars.take_while(|&c| c != '.').collect();
                return Err(PathError::QueryCharacter {
                    path: path.to_owned(),
                    segment: segments.len() + 1,
                    key: format!("{written}{q}{rest}"),
                    character: q,
                });
            }
            Some('.') | None => {
                // only an unescaped leading `:` forces a key; `\:` is a literal colon
                let force_key = written.starts_with(':');
                if force_key {
                    key.remove(0);
                }
                if key.is_empty() {
                    return Err(PathError::EmptySegment {
                        path: path.to_owned(),
                        segment: segments.len() + 1,
                    });
                }
                if key == RESERVED_KEY {
                    return Err(PathError::ReservedKey {
                        path: path.to_owned(),
                        segment: segments.len() + 1,
                        key,
                    });
                }
                segments.push(Segment {
                    key: std::mem::take(&mut key),
                    force_key,
                });
                written.clear();
                if c.is_none() {
                    return Ok(segments);
                }
            }
            Some(other) => {
                written.push(other);
                key.push(other);
            }
        }
    }
}

/// Where a segment points in a container, found without holding a borrow.
enum Slot {
    Key,
    Index(usize),
}

/// SJSON's lookup of one segment (a GJSON `Get` of the plain key): object key, or array index of digits.
fn find(node: &Value, segment: &Segment) -> Option<Slot> {
    match node {
        Value::Object(map) => map.contains_key(&segment.key).then_some(Slot::Key),
        // GJSON ignores SJSON's `:`, so a forced key still finds an existing element
        Value::Array(items) => match parse_digits(&segment.key) {
            Some(Some(i)) if i < items.len() => Some(Slot::Index(i)),
            _ => None,
        },
        _ => None,
    }
}

/// Sets `value` at the SJSON `path` in `doc`, creating what is missing as SJSON does (see the module docs).
/// On error `doc` is unchanged.
pub fn set(doc: &mut Value, path: &str, value: Value) -> Result<(), PathError> {
    let segments = parse_set_path(path)?;
    let Some((last, parents)) = segments.split_last() else {
        return Err(PathError::EmptyPath);
    };
    let mut node = doc;
    for (position, segment) in parents.iter().enumerate() {
        match find(node, segment) {
            Some(slot) => node = child(node, segment, slot),
            None => {
                let built = build(path, &segments, position + 1, value)?;
                return insert(node, path, position, segment, built);
            }
        }
    }
    match find(node, last) {
        Some(slot) => {
            *child(node, last, slot) = value;
            Ok(())
        }
        None => insert(node, path, parents.len(), last, value),
    }
}

/// The child `find` located. Indexing cannot panic: `find` saw the key in the object, or the index in the array.
fn child<'a>(node: &'a mut Value, segment: &Segment, slot: Slot) -> &'a mut Value {
    match slot {
        Slot::Key => &mut node[segment.key.as_str()],
        Slot::Index(index) => &mut node[index],
    }
}

/// SJSON's `appendBuild`: the value to put under `segments[from - 1]`, wrapping `value` in the containers that
/// `segments[from..]` name.
fn build(path: &str, segments: &[Segment], from: usize, value: Value) -> Result<Value, PathError> {
    let mut padded = 0usize;
    for (offset, segment) in segments.iter().enumerate().skip(from) {
        if let Some(index) = segment.index() {
            padded = padded.saturating_add(checked_pad(path, offset, segment, index)?);
            if padded > MAX_PAD_INDEX {
                return Err(PathError::PaddingTooLarge {
                    path: path.to_owned(),
                    segment: offset + 1,
                    key: segment.key.clone(),
                    max: MAX_PAD_INDEX,
                });
            }
        }
    }
    let mut built = value;
    for (offset, segment) in segments.iter().enumerate().skip(from).rev() {
        built = if let Some(index) = segment.index() {
            let index = checked_pad(path, offset, segment, index)?;
            let mut items = vec![Value::Null; index];
            items.push(built);
            Value::Array(items)
        } else if segment.is_append() {
            Value::Array(vec![built])
        } else {
            let mut map = Map::new();
            map.insert(segment.key.clone(), built);
            Value::Object(map)
        };
    }
    Ok(built)
}

/// Puts `built` for a segment that `node` does not have (SJSON's not-found branch of `appendRawPaths`).
fn insert(
    node: &mut Value,
    path: &str,
    position: usize,
    segment: &Segment,
    built: Value,
) -> Result<(), PathError> {
    // Check the index before touching `node`, so that an error leaves the document unchanged.
    let pad_to = match segment.index() {
        Some(index) => Some(checked_pad(path, position, segment, index)?),
        None => None,
    };
    match node {
        Value::Object(map) => {
            map.insert(segment.key.clone(), built);
            Ok(())
        }
        Value::Array(items) => {
            if let Some(index) = pad_to {
                // not found, so `index >= items.len()`
                items.resize(index, Value::Null);
                items.push(built);
                Ok(())
            } else if segment.is_append() {
                items.push(built);
                Ok(())
            } else {
                Err(PathError::NotAnIndex {
                    path: path.to_owned(),
                    segment: position + 1,
                    key: segment.key.clone(),
                })
            }
        }
        // A scalar (or null, the empty document) gives way to `[]` for a numeric segment, `{}` otherwise.
        scalar => {
            *scalar = match pad_to {
                Some(index) => {
                    let mut items = vec![Value::Null; index];
                    items.push(built);
                    Value::Array(items)
                }
                None => {
                    let mut map = Map::new();
                    map.insert(segment.key.clone(), built);
                    Value::Object(map)
                }
            };
            Ok(())
        }
    }
}

fn checked_pad(
    path: &str,
    position: usize,
    segment: &Segment,
    index: Option<usize>,
) -> Result<usize, PathError> {
    match index {
        Some(index) if index <= MAX_PAD_INDEX => Ok(index),
        _ => Err(PathError::IndexTooLarge {
            path: path.to_owned(),
            segment: position + 1,
            key: segment.key.clone(),
            max: MAX_PAD_INDEX,
        }),
    }
}

/// Deletes the value at the SJSON `path` and returns it; `Ok(None)` when nothing is there (SJSON leaves the document
/// as it is). As in SJSON's `Delete`, `-1` names the last element of an array, at any depth.
pub fn delete(doc: &mut Value, path: &str) -> Result<Option<Value>, PathError> {
    let segments = parse_set_path(path)?;
    let Some((last, parents)) = segments.split_last() else {
        return Err(PathError::EmptyPath);
    };
    let mut node = doc;
    for segment in parents {
        match find_for_delete(node, segment) {
            Some(slot) => node = child(node, segment, slot),
            None => return Ok(None),
        }
    }
    let slot = find_for_delete(node, last);
    Ok(match (node, slot) {
        (Value::Object(map), Some(Slot::Key)) => map.shift_remove(&last.key),
        (Value::Array(items), Some(Slot::Index(index))) => Some(items.remove(index)),
        _ => None,
    })
}

/// `find`, except that `-1` names an array's last element.
fn find_for_delete(node: &Value, segment: &Segment) -> Option<Slot> {
    match node {
        Value::Array(items) if segment.is_append() => items.len().checked_sub(1).map(Slot::Index),
        _ => find(node, segment),
    }
}
