//! A light scanner over expr-lang source, used before the real parser runs.
//!
//! It knows enough of the surface syntax (strings, comments, numbers, identifiers,
//! punctuation) to: reject deep nesting before the recursive parser sees it; rewrite
//! `sprig.fn(` to an internal function name (expr-lang has no dotted function names) and refuse
//! functions outside the allowlist; bound `a..b` ranges; and list the variable paths an
//! expression reads (`inputs.parameters.x`, `steps.a.outputs.result`,
//! `inputs.parameters['x-y']` as `inputs.parameters.x-y`), which is how Argo decides that an
//! expression tag refers to something missing.

use std::collections::BTreeSet;

use crate::Error;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Punct(&'static str),
    Other(char),
}

#[derive(Debug, Clone)]
pub(crate) struct Spanned {
    pub(crate) tok: Tok,
    /// Byte range in the source.
    pub(crate) start: usize,
    pub(crate) end: usize,
}

const PUNCT2: &[&str] = &["?.", "??", "..", "==", "!=", "<=", ">=", "&&", "||", "**"];
const PUNCT1: &[&str] = &[
    ".", "[", "]", "(", ")", "{", "}", ",", ":", "?", "#", "+", "-", "*", "/", "%", "<", ">", "!",
    "|", "^", "=", ";",
];

/// Splits `source` into tokens. Unterminated strings and comments end the scan; the real parser
/// reports them.
pub(crate) fn scan(source: &str) -> Vec<Spanned> {
    let chars: Vec<(usize, char)> = source.char_indices().collect();
    let byte_at = |i: usize| chars.get(i).map_or(source.len(), |(b, _)| *b);
    let char_at = |i: usize| chars.get(i).map(|(_, c)| *c);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = char_at(i) {
        let start = byte_at(i);
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && char_at(i + 1) == Some('/') {
            while let Some(c) = char_at(i) {
                if c == '\n' {
                    break;
                }
                i += 1;
            }
            continue;
        }
        if c == '/' && char_at(i + 1) == Some('*') {
            i += 2;
            loop {
                match char_at(i) {
                    None => return out,
                    Some('*') if char_at(i + 1) == Some('/') => {
                        i += 2;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            let quote = c;
            let mut text = String::new();
            i += 1;
            loop {
                match char_at(i) {
                    None => return out,
                    Some('\\') if quote != '`' => {
                        let escaped = char_at(i + 1);
                        i += 2;
                        match escaped {
                            Some('n') => text.push('\n'),
                            Some('t') => text.push('\t'),
                            Some('r') => text.push('\r'),
                            Some('b') => text.push('\u{8}'),
                            Some('f') => text.push('\u{c}'),
                            Some('u') => {
                                let hex: String = (0..4).filter_map(|k| char_at(i + k)).collect();
                                if let Some(ch) =
                                    u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                                {
                                    text.push(ch);
                                    i += 4;
                                }
                            }
                            Some(other) => text.push(other),
                            None => return out,
                        }
                    }
                    Some(ch) if ch == quote => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        text.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Spanned {
                tok: Tok::Str(text),
                start,
                end: byte_at(i),
            });
            continue;
        }
        let starts_number =
            c.is_ascii_digit() || (c == '.' && char_at(i + 1).is_some_and(|d| d.is_ascii_digit()));
        if starts_number {
            let mut text = String::new();
            while let Some(ch) = char_at(i) {
                let exponent_sign = (ch == '+' || ch == '-')
                    && text.ends_with(['e', 'E'])
                    && !text.starts_with("0x")
                    && !text.starts_with("0X");
                let decimal_point = ch == '.' && char_at(i + 1) != Some('.');
                if ch.is_ascii_alphanumeric() || ch == '_' || decimal_point || exponent_sign {
                    text.push(ch);
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Spanned {
                tok: Tok::Num(text),
                start,
                end: byte_at(i),
            });
            continue;
        }
        if c == '$' || c == '_' || c.is_ascii_alphabetic() {
            let mut text = String::new();
            while let Some(ch) = char_at(i) {
                if ch.is_ascii_alphanumeric() || ch == '_' || (ch == '$' && text.is_empty()) {
                    text.push(ch);
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Spanned {
                tok: Tok::Ident(text),
                start,
                end: byte_at(i),
            });
            continue;
        }
        let two: String = [Some(c), char_at(i + 1)].into_iter().flatten().collect();
        if let Some(p) = PUNCT2.iter().find(|p| **p == two) {
            i += 2;
            out.push(Spanned {
                tok: Tok::Punct(p),
                start,
                end: byte_at(i),
            });
            continue;
        }
        let one = c.to_string();
        let tok = match PUNCT1.iter().find(|p| **p == one) {
            Some(p) => Tok::Punct(p),
            None => Tok::Other(c),
        };
        i += 1;
        out.push(Spanned {
            tok,
            start,
            end: byte_at(i),
        });
    }
    out
}

/// Rejects bracket nesting deeper than `max`.
pub(crate) fn check_depth(source: &str, tokens: &[Spanned], max: usize) -> Result<(), Error> {
    let mut depth = 0usize;
    for t in tokens {
        match t.tok {
            Tok::Punct("(" | "[" | "{") => {
                depth += 1;
                if depth > max {
                    return Err(Error::TooDeep {
                        max,
                        position: source[..t.start].chars().count() + 1,
                    });
                }
            }
            Tok::Punct(")" | "]" | "}") => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The largest range `a..b` accepted (number of elements).
pub(crate) const MAX_RANGE: i64 = 10_000;

/// Ranges allocate every element, so both ends must be integer literals and the range small.
pub(crate) fn check_ranges(tokens: &[Spanned]) -> Result<(), Error> {
    for (i, t) in tokens.iter().enumerate() {
        if t.tok != Tok::Punct("..") {
            continue;
        }
        let literal = |k: Option<&Spanned>| match k.map(|s| &s.tok) {
            Some(Tok::Num(n)) => n.replace('_', "").parse::<i64>().ok(),
            _ => None,
        };
        let start = i
            .checked_sub(1)
            .and_then(|k| literal(tokens.get(k)))
            .map(|n| {
                // A `-` before the start may be a sign: assume it is (the larger range).
                let signed = i.checked_sub(2).and_then(|k| tokens.get(k)).map(|s| &s.tok)
                    == Some(&Tok::Punct("-"));
                if signed { -n } else { n }
            });
        let negative_end = tokens.get(i + 1).map(|s| &s.tok) == Some(&Tok::Punct("-"));
        let end = if negative_end {
            literal(tokens.get(i + 2)).map(|n| -n)
        } else {
            literal(tokens.get(i + 1))
        };
        let ok = match (start, end) {
            (Some(a), Some(b)) => b.saturating_sub(a) < MAX_RANGE,
            _ => false,
        };
        if !ok {
            return Err(Error::NotAllowed {
                function: "..".to_string(),
                reason: format!(
                    "a range needs integer literals at both ends and fewer than {MAX_RANGE} \
                     elements (ranges allocate every element)"
                ),
            });
        }
    }
    Ok(())
}

/// Edits `sprig.name(` to `<prefix>name(` for allowed names; any other name is refused.
pub(crate) fn sprig_edits(
    tokens: &[Spanned],
    prefix: &str,
    allowed: &dyn Fn(&str) -> bool,
    refuse: &dyn Fn(&str) -> Error,
) -> Result<Vec<Edit>, Error> {
    let mut edits = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if t.tok != Tok::Ident("sprig".to_string()) || is_member(tokens, i) {
            continue;
        }
        let (Some(dot), Some(name)) = (tokens.get(i + 1), tokens.get(i + 2)) else {
            continue;
        };
        let Tok::Ident(function) = &name.tok else {
            continue;
        };
        if dot.tok != Tok::Punct(".") {
            continue;
        }
        if !allowed(function) {
            return Err(refuse(function));
        }
        edits.push(Edit {
            start: t.start,
            end: name.end,
            text: format!("{prefix}{function}"),
        });
    }
    Ok(edits)
}

fn is_member(tokens: &[Spanned], i: usize) -> bool {
    i.checked_sub(1)
        .and_then(|k| tokens.get(k))
        .is_some_and(|p| matches!(p.tok, Tok::Punct("." | "?.")))
}

/// A replacement of `source[start..end]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Edit {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) text: String,
}

/// Applies non-overlapping edits.
pub(crate) fn apply_edits(source: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| e.start);
    let mut out = String::with_capacity(source.len() + 16 * edits.len());
    let mut copied = 0;
    for edit in edits {
        if edit.start < copied {
            continue;
        }
        out.push_str(&source[copied..edit.start]);
        out.push_str(&edit.text);
        copied = edit.end;
    }
    out.push_str(&source[copied..]);
    out
}

/// expr-lang 2.1 builds map literals at parse time from literal values only: `{a: 1 + 1}`
/// silently becomes `{a: 1}` and `{a: x}` panics. Every map literal is therefore rewritten to
/// a call of the internal function `dict` names (`{a: x, 'b': 1}` becomes
/// `dict("a", x, "b", 1)`), which evaluates its values like any other arguments.
pub(crate) fn map_literal_edits(tokens: &[Spanned], dict: &str) -> Vec<Edit> {
    let mut edits = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if t.tok != Tok::Punct("{") {
            continue;
        }
        let is_map = matches!(
            (
                tokens.get(i + 1).map(|s| &s.tok),
                tokens.get(i + 2).map(|s| &s.tok),
            ),
            (Some(Tok::Punct("}")), _) | (Some(Tok::Ident(_) | Tok::Str(_)), Some(Tok::Punct(":")))
        );
        if !is_map {
            continue;
        }
        let mut local = vec![Edit {
            start: t.start,
            end: t.end,
            text: format!("{dict}("),
        }];
        let mut depth = 0usize;
        let mut entry_start = true;
        let mut j = i + 1;
        let mut closed = false;
        while let Some(token) = tokens.get(j) {
            match &token.tok {
                Tok::Punct("(" | "[" | "{") => depth += 1,
                Tok::Punct(")" | "]") => depth = depth.saturating_sub(1),
                Tok::Punct("}") if depth > 0 => depth -= 1,
                Tok::Punct("}") => {
                    local.push(Edit {
                        start: token.start,
                        end: token.end,
                        text: ")".to_string(),
                    });
                    closed = true;
                    break;
                }
                Tok::Punct(",") if depth == 0 => {
                    if tokens.get(j + 1).map(|s| &s.tok) == Some(&Tok::Punct("}")) {
                        // A trailing comma: function calls do not accept one.
                        local.push(Edit {
                            start: token.start,
                            end: token.end,
                            text: String::new(),
                        });
                    }
                    entry_start = true;
                    j += 1;
                    continue;
                }
                _ => {}
            }
            if entry_start && depth == 0 {
                let key = match &token.tok {
                    Tok::Ident(k) | Tok::Str(k) => Some(k),
                    _ => None,
                };
                let colon = tokens.get(j + 1);
                if let (Some(key), Some(colon)) = (key, colon)
                    && colon.tok == Tok::Punct(":")
                {
                    let literal = format!(
                        "\"{}\"",
                        key.replace('\\', "\\\\")
                            .replace('"', "\\\"")
                            .replace('\n', "\\n")
                            .replace('\r', "\\r")
                            .replace('\t', "\\t")
                    );
                    local.push(Edit {
                        start: token.start,
                        end: colon.end,
                        text: format!("{literal},"),
                    });
                    j += 2;
                    entry_start = false;
                    continue;
                }
            }
            entry_start = false;
            j += 1;
        }
        if closed {
            edits.extend(local);
        }
    }
    edits
}

/// Renames root identifiers that merely start with a keyword the parser would split off
/// (`nothing` is read as `not hing`, `trueish` and `nil_count` fail to parse): returns the edits
/// and the original names.
pub(crate) fn keyword_prefixed_identifiers(
    tokens: &[Spanned],
    prefix: &str,
) -> (Vec<Edit>, Vec<String>) {
    let mut edits = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let Tok::Ident(name) = &t.tok else {
            continue;
        };
        let clashes = ["not", "true", "false", "nil"]
            .iter()
            .any(|k| name.starts_with(k) && name != k);
        let map_key = matches!(tokens.get(i + 1).map(|s| &s.tok), Some(Tok::Punct(":")))
            && i.checked_sub(1)
                .and_then(|k| tokens.get(k))
                .is_some_and(|p| matches!(p.tok, Tok::Punct("{" | ",")));
        if !clashes || is_member(tokens, i) || map_key {
            continue;
        }
        edits.push(Edit {
            start: t.start,
            end: t.end,
            text: format!("{prefix}{name}"),
        });
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    (edits, names)
}

const KEYWORDS: &[&str] = &[
    "true",
    "false",
    "nil",
    "not",
    "and",
    "or",
    "in",
    "matches",
    "contains",
    "startsWith",
    "endsWith",
    "let",
    "if",
    "else",
];

/// A variable an expression reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reference {
    /// The path, one part per member (`['x-y']` gives the part `x-y`).
    pub(crate) path: Vec<String>,
    /// Read through `?.` or left of `??`: Argo does not require it to exist.
    pub(crate) guarded: bool,
}

/// The variables `source` reads, in order, without duplicates.
pub(crate) fn variable_paths(tokens: &[Spanned]) -> Vec<Reference> {
    let mut bound: BTreeSet<String> = BTreeSet::new();
    for w in tokens.windows(2) {
        if w[0].tok == Tok::Ident("let".to_string())
            && let Tok::Ident(name) = &w[1].tok
        {
            bound.insert(name.clone());
        }
    }
    let mut brackets: Vec<&'static str> = Vec::new();
    let mut paths: Vec<Reference> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        match &t.tok {
            Tok::Punct(p @ ("(" | "[" | "{")) => brackets.push(p),
            Tok::Punct(")" | "]" | "}") => {
                brackets.pop();
            }
            _ => {}
        }
        let Tok::Ident(root) = &t.tok else {
            i += 1;
            continue;
        };
        let previous = i.checked_sub(1).and_then(|k| tokens.get(k)).map(|s| &s.tok);
        let next = tokens.get(i + 1).map(|s| &s.tok);
        let skip = is_member(tokens, i)
            || root.starts_with('$')
            || KEYWORDS.contains(&root.as_str())
            || bound.contains(root)
            || previous == Some(&Tok::Punct("#"))
            || matches!(next, Some(Tok::Punct("(")))
            || (matches!(root.as_str(), "b" | "B") && matches!(next, Some(Tok::Str(_))))
            || (brackets.last() == Some(&"{")
                && matches!(next, Some(Tok::Punct(":")))
                && matches!(previous, Some(Tok::Punct("{" | ","))));
        if skip {
            i += 1;
            continue;
        }
        let mut parts = vec![root.clone()];
        let mut guarded = false;
        let mut j = i + 1;
        loop {
            match (
                tokens.get(j).map(|s| &s.tok),
                tokens.get(j + 1).map(|s| &s.tok),
                tokens.get(j + 2).map(|s| &s.tok),
            ) {
                (Some(Tok::Punct(".")), Some(Tok::Ident(name)), _) => {
                    parts.push(name.clone());
                    j += 2;
                }
                (Some(Tok::Punct("[")), Some(Tok::Str(key)), Some(Tok::Punct("]"))) => {
                    parts.push(key.clone());
                    j += 3;
                }
                (Some(Tok::Punct("?.")), Some(Tok::Ident(name)), _) => {
                    guarded = true;
                    parts.push(name.clone());
                    j += 2;
                }
                (Some(Tok::Punct("?.")), _, _) => {
                    guarded = true;
                    break;
                }
                _ => break,
            }
        }
        // `x.Method()`: the last part is a method, not a field; `sprig.fn()` is a function.
        if parts.len() > 1 && matches!(tokens.get(j).map(|s| &s.tok), Some(Tok::Punct("("))) {
            parts.pop();
            if parts.len() == 1 && parts[0] == "sprig" {
                i = j;
                continue;
            }
        }
        if matches!(tokens.get(j).map(|s| &s.tok), Some(Tok::Punct("??"))) {
            guarded = true;
        }
        let reference = Reference {
            path: parts,
            guarded,
        };
        if !paths.contains(&reference) {
            paths.push(reference);
        }
        i = j.max(i + 1);
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_paths_table() {
        let cases: &[(&str, &[&str])] = &[
            ("inputs.parameters.x", &["inputs.parameters.x"]),
            (
                "asInt(inputs.parameters['my-int']) * 10",
                &["inputs.parameters.my-int"],
            ),
            ("inputs.parameters[\"a\"] == 'b'", &["inputs.parameters.a"]),
            (
                "steps.a.outputs.result ?? 'x'",
                &["steps.a.outputs.result?"],
            ),
            ("a?.b.c", &["a.b.c?"]),
            ("filter([1, 2], {# > 1})", &[]),
            ("{a: item, 'b': 2}", &["item"]),
            ("x ? y : z", &["x", "y", "z"]),
            ("let n = 3; n + m", &["m"]),
            ("sprig.trim(x)", &["x"]),
            ("'inputs.parameters.x' + \"y\"", &[]),
            ("x.Seconds() > 3", &["x"]),
            ("item.a + item.a", &["item.a"]),
            ("b'bytes' + a", &["a"]),
            ("$env.x", &[]),
            ("items[0].name", &["items"]),
            ("true && nil == not_there // comment me\n", &["not_there"]),
        ];
        for (source, want) in cases {
            let got: Vec<String> = variable_paths(&scan(source))
                .into_iter()
                .map(|r| {
                    let path = r.path.join(".");
                    if r.guarded { format!("{path}?") } else { path }
                })
                .collect();
            assert_eq!(got, want.to_vec(), "{source}");
        }
    }

    #[test]
    fn map_literals_become_calls() {
        let cases: &[(&str, &str)] = &[
            ("{a: 1}", r#"D("a", 1)"#),
            ("{}", "D()"),
            (
                "{'x-y': 1 + 1, b: c ? 1 : 2,}",
                r#"D("x-y", 1 + 1, "b", c ? 1 : 2)"#,
            ),
            ("{a: {b: [x, {c: 1}]}}", r#"D("a", D("b", [x, D("c", 1)]))"#),
            ("filter(xs, {# > 1})", "filter(xs, {# > 1})"),
            ("if x { 1 } else { 2 }", "if x { 1 } else { 2 }"),
            ("'{a: 1}'", "'{a: 1}'"),
            ("x[1:2]", "x[1:2]"),
        ];
        for (source, want) in cases {
            let tokens = scan(source);
            let got = apply_edits(source, map_literal_edits(&tokens, "D"));
            assert_eq!(got, *want, "{source}");
        }
    }

    #[test]
    fn depth_is_checked_before_parsing() {
        let deep = "(".repeat(100_000);
        let err = check_depth(&deep, &scan(&deep), 64).unwrap_err();
        assert_eq!(
            err.to_string(),
            "brackets nest deeper than 64 levels at character 65"
        );
        let fine = format!("{}1{}", "[".repeat(10), "]".repeat(10));
        assert!(check_depth(&fine, &scan(&fine), 64).is_ok());
    }

    #[test]
    fn ranges_need_small_literal_bounds() {
        let cases: &[(&str, bool)] = &[
            ("1..3", true),
            ("map(1..10, # * 2)", true),
            ("0..9999", true),
            ("0..10000", false),
            ("1..n", false),
            ("-5..-1", true),
            ("-9999..1", false),
            ("10-5..7", true),
            ("1.5 + 2", true),
        ];
        for (source, ok) in cases {
            assert_eq!(check_ranges(&scan(source)).is_ok(), *ok, "{source}");
        }
    }
}
