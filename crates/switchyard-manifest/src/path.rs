//! Object paths inside a document, as diagnostics show them:
//! `spec.templates[2].dag.tasks[0].depends`, `metadata.labels["app.kubernetes.io/name"]`.
//!
//! A map key that is an identifier (a letter or `_`, then letters, digits, `_` or `-`) is written
//! after a dot; any other key is written as a JSON string in brackets. List items are `[n]`,
//! where `n` is the item's position as written in the file.

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Whether `key` can be written after a dot.
pub fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `parent.key` or `parent["key"]`.
pub fn join_key(parent: &str, key: &str) -> String {
    let mut out = String::with_capacity(parent.len() + key.len() + 4);
    out.push_str(parent);
    if is_identifier(key) {
        if !parent.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        out.push('[');
        // Serializing a string to JSON cannot fail.
        out.push_str(&serde_json::to_string(key).unwrap_or_default());
        out.push(']');
    }
    out
}

/// `parent[index]`.
pub fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Joins two paths: `prefix` then `path` (either may be empty).
pub fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        path.to_owned()
    } else if path.is_empty() {
        prefix.to_owned()
    } else if path.starts_with('[') {
        format!("{prefix}{path}")
    } else {
        format!("{prefix}.{path}")
    }
}

/// Splits a path into segments, each with the byte length of the path up to and including it.
/// Returns `None` for text that is not a path in the format above.
pub fn parse(path: &str) -> Option<Vec<(Segment, usize)>> {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'[' => {
                if bytes.get(i + 1) == Some(&b'"') {
                    // A JSON string: find its closing quote, skipping escapes.
                    let start = i + 1;
                    let mut j = start + 1;
                    loop {
                        match bytes.get(j)? {
                            b'\\' => j += 2,
                            b'"' => break,
                            _ => j += 1,
                        }
                    }
                    let key: String = serde_json::from_str(path.get(start..=j)?).ok()?;
                    if bytes.get(j + 1) != Some(&b']') {
                        return None;
                    }
                    i = j + 2;
                    out.push((Segment::Key(key), i));
                } else {
                    let end = i + path.get(i..)?.find(']')?;
                    let index = path.get(i + 1..end)?.parse().ok()?;
                    i = end + 1;
                    out.push((Segment::Index(index), i));
                }
            }
            b'.' => {
                if out.is_empty() || matches!(bytes.get(i + 1), None | Some(b'.' | b'[')) {
                    return None;
                }
                i += 1;
            }
            _ => {
                if !out.is_empty() && bytes[i - 1] != b'.' {
                    return None;
                }
                let end = path[i..]
                    .find(['.', '['])
                    .map_or(path.len(), |offset| i + offset);
                let key = &path[i..end];
                if key.contains([']', '"']) {
                    return None;
                }
                out.push((Segment::Key(key.to_owned()), end));
                i = end;
            }
        }
    }
    Some(out)
}

/// The segments of a path (see [`parse`]).
pub fn segments(path: &str) -> Option<Vec<Segment>> {
    parse(path).map(|v| v.into_iter().map(|(s, _)| s).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_paths() {
        let cases: &[(&[Segment], &str)] = &[
            (&[], ""),
            (&[Segment::Key("spec".into())], "spec"),
            (
                &[
                    Segment::Key("spec".into()),
                    Segment::Key("templates".into()),
                    Segment::Index(2),
                    Segment::Key("dag".into()),
                ],
                "spec.templates[2].dag",
            ),
            (
                &[
                    Segment::Key("metadata".into()),
                    Segment::Key("labels".into()),
                    Segment::Key("app.kubernetes.io/name".into()),
                ],
                r#"metadata.labels["app.kubernetes.io/name"]"#,
            ),
            (&[Segment::Index(0), Segment::Index(1)], "[0][1]"),
            (
                &[Segment::Key("a \"q\"]".into()), Segment::Key("b-c".into())],
                r#"["a \"q\"]"].b-c"#,
            ),
            (&[Segment::Key("200".into())], r#"["200"]"#),
        ];
        for (segs, text) in cases {
            let mut built = String::new();
            for s in *segs {
                built = match s {
                    Segment::Key(k) => join_key(&built, k),
                    Segment::Index(i) => join_index(&built, *i),
                };
            }
            assert_eq!(&built, text);
            assert_eq!(segments(text).as_deref(), Some(*segs), "{text}");
        }
        for bad in [
            ".a",
            "a..b",
            "a.",
            "a.[0]",
            "a[x]",
            "a[\"x\"",
            "a]b",
            "a[\"x\"]b",
        ] {
            assert_eq!(segments(bad), None, "{bad}");
        }
        assert_eq!(join("items[2]", "spec.x"), "items[2].spec.x");
        assert_eq!(join("items[2]", "[0]"), "items[2][0]");
        assert_eq!(join("", "spec"), "spec");
        assert_eq!(join("items[1]", ""), "items[1]");
    }
}
