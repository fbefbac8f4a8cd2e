//! The located tree: one YAML document as nodes that remember their line and column.
//!
//! Plain scalars are resolved with the YAML 1.2 core schema (null, booleans, integers,
//! floats); quoted and block scalars are strings. Every scalar keeps its text as written
//! (after YAML's escape processing and line folding), so a field typed as a string gets
//! `12000` or `1.10` exactly as the user typed it.
//!
//! The tree's depth is capped by the builder (see [`crate::Limits::max_depth`]), which is what
//! makes the recursive walks over it (serde, `Clone`, `Drop`) safe.

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// A string; `plain` is false for quoted and block scalars.
    Str {
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One key/value pair of a mapping. Keys are always scalars.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

/// A node with its position in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    /// The scalar's text as written (after escapes and folding); empty for collections.
    pub text: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The node's position in its parent list as written; kept when earlier items are
    /// removed, so paths keep pointing at what the user wrote.
    pub index: usize,
}

impl Node {
    pub fn is_scalar(&self) -> bool {
        !matches!(self.kind, NodeKind::Seq(_) | NodeKind::Map(_))
    }

    /// The text of a scalar, `None` for collections and null.
    pub fn as_str(&self) -> Option<&str> {
        match self.kind {
            NodeKind::Seq(_) | NodeKind::Map(_) | NodeKind::Null => None,
            _ => Some(&self.text),
        }
    }

    /// The value for `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|e| e.key.text == key),
            _ => None,
        }
    }

    /// What the node is, for messages: ``string `abc` ``, `a list`, `null`.
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Null => "null".to_owned(),
            NodeKind::Bool(_) => format!("boolean `{}`", self.text),
            NodeKind::Int(_) => format!("integer `{}`", self.text),
            NodeKind::Float(_) => format!("number `{}`", self.text),
            NodeKind::Str { .. } => format!("string `{}`", excerpt(&self.text)),
            NodeKind::Seq(_) => "a list".to_owned(),
            NodeKind::Map(_) => "a mapping".to_owned(),
        }
    }
}

/// The first line of `text`, shortened to 60 characters, for quoting in a message.
pub fn excerpt(text: &str) -> String {
    const MAX: usize = 60;
    let first = text.lines().next().unwrap_or("");
    let mut out: String = first.chars().take(MAX).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Resolves a plain scalar with the YAML 1.2 core schema.
pub fn resolve_plain(text: &str) -> NodeKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return NodeKind::Float(f64::NAN),
        _ => {}
    }
    if let Some(kind) = resolve_int(text) {
        return kind;
    }
    let (sign, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return NodeKind::Float(sign * f64::INFINITY);
    }
    if is_core_float(unsigned) {
        // The grammar checked above is a subset of what Rust's parser accepts.
        if let Ok(f) = unsigned.parse::<f64>() {
            return NodeKind::Float(sign * f);
        }
    }
    NodeKind::Str { plain: true }
}

/// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`. Integers too large for 128 bits become floats.
fn resolve_int(text: &str) -> Option<NodeKind> {
    let radix = |prefix: &str, radix: u32, digit: fn(&u8) -> bool| {
        text.strip_prefix(prefix)
            .filter(|d| !d.is_empty() && d.as_bytes().iter().all(digit))
            .map(|d| i128::from_str_radix(d, radix))
    };
    let parsed = if let Some(r) = radix("0x", 16, u8::is_ascii_hexdigit) {
        r
    } else if let Some(r) = radix("0o", 8, |b| (b'0'..=b'7').contains(b)) {
        r
    } else {
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse::<i128>()
    };
    Some(match parsed {
        Ok(i) => NodeKind::Int(i),
        Err(_) => NodeKind::Float(text.parse::<f64>().ok()?),
    })
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` (the sign is already removed).
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int_digits = digits(&mut i);
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac_digits = digits(&mut i);
    } else if int_digits == 0 {
        return false;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_plain_scalars_with_the_core_schema() {
        let s = NodeKind::Str { plain: true };
        let cases: &[(&str, NodeKind)] = &[
            ("", NodeKind::Null),
            ("~", NodeKind::Null),
            ("null", NodeKind::Null),
            ("NULL", NodeKind::Null),
            ("nil", s.clone()),
            ("true", NodeKind::Bool(true)),
            ("True", NodeKind::Bool(true)),
            ("FALSE", NodeKind::Bool(false)),
            ("yes", s.clone()),
            ("on", s.clone()),
            ("tRUE", s.clone()),
            ("0", NodeKind::Int(0)),
            ("-17", NodeKind::Int(-17)),
            ("+3", NodeKind::Int(3)),
            ("012", NodeKind::Int(12)),
            ("0x1F", NodeKind::Int(31)),
            ("0o17", NodeKind::Int(15)),
            ("0x", s.clone()),
            ("0o9", s.clone()),
            ("1_000", s.clone()),
            ("12000", NodeKind::Int(12000)),
            ("1.10", NodeKind::Float(1.1)),
            ("-.5", NodeKind::Float(-0.5)),
            ("1.", NodeKind::Float(1.0)),
            ("1e3", NodeKind::Float(1000.0)),
            ("2.5E-1", NodeKind::Float(0.25)),
            ("1e", s.clone()),
            (".", s.clone()),
            ("-", s.clone()),
            (".inf", NodeKind::Float(f64::INFINITY)),
            ("-.Inf", NodeKind::Float(f64::NEG_INFINITY)),
            ("inf", s.clone()),
            ("NaN", s.clone()),
            ("1.2.3", s.clone()),
            ("3 // three", s.clone()),
            (
                "170141183460469231731687303715884105728",
                NodeKind::Float(1.7014118346046923e38),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&resolve_plain(text), want, "{text:?}");
        }
        assert!(matches!(resolve_plain(".NaN"), NodeKind::Float(f) if f.is_nan()));
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(excerpt("abc"), "abc");
        assert_eq!(excerpt("a\nb"), "a…");
        assert_eq!(excerpt(&"x".repeat(70)), format!("{}…", "x".repeat(60)));
    }
}
