//! Paths inside a manifest, written the way the manifest loader writes them in diagnostics:
//! `spec.input.properties.region.pattern`, `spec.access.order[1]`, `spec.input.properties["app.kubernetes.io"]`.
//!
//! A key that is an identifier (a letter or `_`, then letters, digits, `_` or `-`) follows a dot; any other key is
//! a JSON string in brackets, so a property named `a.b` cannot be mistaken for two levels.

use crate::error::LocPart;

/// Whether `key` can be written after a dot.
fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `parent.key`, or `parent["key"]` for a key that is not an identifier.
pub(crate) fn key(parent: &str, key: &str) -> String {
    let mut out = String::with_capacity(parent.len() + key.len() + 4);
    out.push_str(parent);
    if is_identifier(key) {
        if !parent.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        out.push('[');
        out.push_str(&serde_json::Value::from(key).to_string());
        out.push(']');
    }
    out
}

/// `parent[index]`.
pub(crate) fn index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// `parent` followed by a validation location (object keys and list positions).
pub(crate) fn with_loc(parent: &str, loc: &[LocPart]) -> String {
    let mut out = parent.to_owned();
    for part in loc {
        out = match part {
            LocPart::Str(k) => key(&out, k),
            LocPart::Index(i) => index(&out, *i),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_indexes() {
        assert_eq!(key("spec", "route"), "spec.route");
        assert_eq!(key("", "spec"), "spec");
        assert_eq!(
            key("spec.input.properties", "a.b"),
            "spec.input.properties[\"a.b\"]"
        );
        assert_eq!(key("p", "2x"), "p[\"2x\"]");
        assert_eq!(key("p", "requester_email"), "p.requester_email");
        assert_eq!(index("spec.access.order", 2), "spec.access.order[2]");
        let loc = [
            LocPart::Str("tags".into()),
            LocPart::Index(1),
            LocPart::Str("x y".into()),
        ];
        assert_eq!(with_loc("d", &loc), "d.tags[1][\"x y\"]");
    }
}
