//! The JSONPath subset behind Argo's `jsonpath(json, path)` expression function.
//!
//! Argo uses github.com/evilmonkeyinc/jsonpath; this is a subset with its result rules:
//!
//! - `$` root; `.name` and `['name']` / `["name"]` children; `[n]` indexes (negative counts
//!   from the end); `.length` (the length of a list or string, unless a map has a `length` key);
//! - `*` / `[*]` wildcards, `[a,b]` unions of indexes or keys, `[start:end:step]` slices,
//!   `..name` recursive descent, and `[?( ... )]` filters with `@` (the element) and `$`
//!   paths, literals (numbers, quoted strings, `true`, `false`, `null`), `== != < <= > >=`,
//!   `&& || !` and parentheses; a bare path in a filter tests that the value is present and not
//!   `false`, `null` or `""`.
//! - A path of plain children and indexes returns the value itself and fails when a key or
//!   index is missing. As soon as a wildcard, union, slice, filter or recursive step appears,
//!   the result is a list: the rest of the path is applied to each element, and elements where
//!   it fails are left out. Map members are visited in key order.
//!
//! Not supported: script expressions `[(@.length-1)]`, regex matching in filters, and
//! functions.

use serde_json::Value as Json;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(i64),
    Length,
    Wildcard,
    Union(Vec<Selector>),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Filter(Filter),
    Recursive(Box<Step>),
}

#[derive(Debug, Clone, PartialEq)]
enum Selector {
    Key(String),
    Index(i64),
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Or(Box<Filter>, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare(Operand, &'static str, Operand),
    Truthy(Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Current(Vec<Step>),
    Root(Vec<Step>),
    Literal(Json),
}

/// Cap on filter nesting, so a hostile path cannot exhaust the stack.
const MAX_FILTER_DEPTH: usize = 32;

/// Queries `document` with `path`.
pub(crate) fn query(document: &Json, path: &str) -> Result<Json, String> {
    let steps = parse(path)?;
    apply(&steps, document, document)
}

fn parse(path: &str) -> Result<Vec<Step>, String> {
    let mut p = Parser {
        chars: path.chars().collect(),
        i: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.peek() != Some('$') {
        return Err(format!("invalid JSONPath '{path}': it must start with '$'"));
    }
    p.i += 1;
    let steps = p.steps(false)?;
    p.skip_ws();
    if p.i < p.chars.len() {
        return Err(format!(
            "invalid JSONPath '{path}': unexpected '{}' at character {}",
            p.chars[p.i],
            p.i + 1
        ));
    }
    Ok(steps)
}

struct Parser {
    chars: Vec<char>,
    i: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    fn err(&self, what: &str) -> String {
        let path: String = self.chars.iter().collect();
        format!(
            "invalid JSONPath '{path}': {what} at character {}",
            self.i + 1
        )
    }

    /// Steps until the end, or (inside a filter) until a character that cannot continue a path.
    fn steps(&mut self, in_filter: bool) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Some('.') if self.peek_at(1) == Some('.') => {
                    self.i += 2;
                    let inner = if self.peek() == Some('[') {
                        self.bracket()?
                    } else {
                        self.dotted()?
                    };
                    steps.push(Step::Recursive(Box::new(inner)));
                }
                Some('.') => {
                    self.i += 1;
                    steps.push(self.dotted()?);
                }
                Some('[') => steps.push(self.bracket()?),
                Some(c) if in_filter || c.is_whitespace() => return Ok(steps),
                Some(_) => return Err(self.err("expected '.' or '['")),
                None => return Ok(steps),
            }
        }
    }

    fn dotted(&mut self) -> Result<Step, String> {
        if self.peek() == Some('*') {
            self.i += 1;
            return Ok(Step::Wildcard);
        }
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '$')
        {
            self.i += 1;
        }
        if start == self.i {
            return Err(self.err("expected a name"));
        }
        let name: String = self.chars[start..self.i].iter().collect();
        Ok(if name == "length" {
            Step::Length
        } else {
            Step::Key(name)
        })
    }

    fn quoted(&mut self) -> Result<String, String> {
        let Some(quote) = self.peek() else {
            return Err(self.err("expected a quoted name"));
        };
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some('\\') => {
                    if let Some(c) = self.peek_at(1) {
                        out.push(c);
                    }
                    self.i += 2;
                }
                Some(c) if c == quote => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn integer(&mut self) -> Option<i64> {
        self.skip_ws();
        let start = self.i;
        if self.peek() == Some('-') {
            self.i += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let text: String = self.chars[start..self.i].iter().collect();
        let n = text.parse().ok();
        if n.is_none() {
            self.i = start;
        }
        self.skip_ws();
        n
    }

    fn bracket(&mut self) -> Result<Step, String> {
        self.i += 1; // '['
        self.skip_ws();
        let step = match self.peek() {
            Some('*') => {
                self.i += 1;
                Step::Wildcard
            }
            Some('?') => {
                self.i += 1;
                self.skip_ws();
                if self.peek() != Some('(') {
                    return Err(self.err("expected '(' after '?'"));
                }
                self.i += 1;
                let filter = self.filter_or()?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.err("expected ')' to close the filter"));
                }
                self.i += 1;
                Step::Filter(filter)
            }
            Some('(') => return Err(self.err("script expressions are not supported")),
            _ => {
                let mut selectors = Vec::new();
                let mut slice = None;
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some('\'' | '"') => selectors.push(Selector::Key(self.quoted()?)),
                        Some(':') => {}
                        _ => match self.integer() {
                            Some(n) => selectors.push(Selector::Index(n)),
                            None if self.peek() == Some(':') => {}
                            None => return Err(self.err("expected an index, a name or '*'")),
                        },
                    }
                    self.skip_ws();
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some(':') if slice.is_none() && selectors.len() <= 1 => {
                            slice = Some(self.slice(&selectors)?);
                            break;
                        }
                        _ => break,
                    }
                }
                match slice {
                    Some(step) => step,
                    None if selectors.len() == 1 => match selectors.remove(0) {
                        Selector::Key(k) => Step::Key(k),
                        Selector::Index(n) => Step::Index(n),
                    },
                    None => Step::Union(selectors),
                }
            }
        };
        self.skip_ws();
        if self.peek() != Some(']') {
            return Err(self.err("expected ']'"));
        }
        self.i += 1;
        Ok(step)
    }

    fn slice(&mut self, before: &[Selector]) -> Result<Step, String> {
        let start = match before.first() {
            Some(Selector::Index(n)) => Some(*n),
            Some(Selector::Key(_)) => return Err(self.err("a slice needs integer bounds")),
            None => None,
        };
        self.i += 1; // ':'
        let end = self.integer();
        let step = if self.peek() == Some(':') {
            self.i += 1;
            self.integer()
        } else {
            None
        };
        if step == Some(0) {
            return Err(self.err("a slice step cannot be 0"));
        }
        Ok(Step::Slice(start, end, step))
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(self.err("filter nests too deeply"));
        }
        Ok(())
    }

    fn filter_or(&mut self) -> Result<Filter, String> {
        self.enter()?;
        let mut left = self.filter_and()?;
        loop {
            self.skip_ws();
            if self.peek() == Some('|') && self.peek_at(1) == Some('|') {
                self.i += 2;
                let right = self.filter_and()?;
                left = Filter::Or(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(left)
    }

    fn filter_and(&mut self) -> Result<Filter, String> {
        let mut left = self.filter_not()?;
        loop {
            self.skip_ws();
            if self.peek() == Some('&') && self.peek_at(1) == Some('&') {
                self.i += 2;
                let right = self.filter_not()?;
                left = Filter::And(Box::new(left), Box::new(right));
            } else {
                break;
            }
        }
        Ok(left)
    }

    fn filter_not(&mut self) -> Result<Filter, String> {
        self.skip_ws();
        if self.peek() == Some('!') && self.peek_at(1) != Some('=') {
            self.i += 1;
            self.enter()?;
            let inner = self.filter_not()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some('(') {
            self.i += 1;
            let inner = self.filter_or()?;
            self.skip_ws();
            if self.peek() != Some(')') {
                return Err(self.err("expected ')'"));
            }
            self.i += 1;
            return Ok(inner);
        }
        let left = self.operand()?;
        self.skip_ws();
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            let matches = op
                .chars()
                .enumerate()
                .all(|(k, c)| self.peek_at(k) == Some(c));
            if matches {
                self.i += op.len();
                let right = self.operand()?;
                return Ok(Filter::Compare(left, op, right));
            }
        }
        Ok(Filter::Truthy(left))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.skip_ws();
        match self.peek() {
            Some('@') => {
                self.i += 1;
                Ok(Operand::Current(self.steps(true)?))
            }
            Some('$') => {
                self.i += 1;
                Ok(Operand::Root(self.steps(true)?))
            }
            Some('\'' | '"') => Ok(Operand::Literal(Json::String(self.quoted()?))),
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let start = self.i;
                self.i += 1;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+'))
                {
                    self.i += 1;
                }
                let text: String = self.chars[start..self.i].iter().collect();
                let json: Json = serde_json::from_str(&text)
                    .map_err(|_| self.err(&format!("invalid number '{text}'")))?;
                Ok(Operand::Literal(json))
            }
            _ => {
                for (word, value) in [
                    ("true", Json::Bool(true)),
                    ("false", Json::Bool(false)),
                    ("null", Json::Null),
                ] {
                    let matches = word
                        .chars()
                        .enumerate()
                        .all(|(k, c)| self.peek_at(k) == Some(c));
                    if matches {
                        self.i += word.len();
                        return Ok(Operand::Literal(value));
                    }
                }
                Err(self.err("expected '@', '$' or a literal in the filter"))
            }
        }
    }
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "nil",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "slice",
        Json::Object(_) => "map",
    }
}

fn apply(steps: &[Step], current: &Json, root: &Json) -> Result<Json, String> {
    let Some((step, rest)) = steps.split_first() else {
        return Ok(current.clone());
    };
    match step {
        Step::Key(key) => match current {
            Json::Object(map) => match map.get(key) {
                Some(value) => apply(rest, value, root),
                None => Err(format!("key '{key}' not found")),
            },
            other => Err(format!("key '{key}': expected a map, got {}", kind(other))),
        },
        Step::Index(n) => match current {
            Json::Array(items) => match resolve_index(*n, items.len()) {
                Some(i) => apply(rest, &items[i], root),
                None => Err(format!("index {n} out of range")),
            },
            other => Err(format!("index {n}: expected a slice, got {}", kind(other))),
        },
        Step::Length => match current {
            Json::Object(map) if map.contains_key("length") => apply(rest, &map["length"], root),
            Json::Array(items) => apply(rest, &Json::from(items.len()), root),
            Json::String(s) => apply(rest, &Json::from(s.len()), root),
            Json::Object(map) => apply(rest, &Json::from(map.len()), root),
            other => Err(format!(
                "length: expected a slice, map or string, got {}",
                kind(other)
            )),
        },
        Step::Recursive(inner) => {
            let mut nodes = Vec::new();
            descendants(current, &mut nodes);
            let mut chained = vec![(**inner).clone()];
            chained.extend_from_slice(rest);
            Ok(collect(nodes.into_iter(), &chained, root))
        }
        Step::Wildcard => Ok(collect(members(current)?.into_iter(), rest, root)),
        Step::Union(selectors) => {
            let mut picked = Vec::new();
            for selector in selectors {
                match (selector, current) {
                    (Selector::Index(n), Json::Array(items)) => {
                        if let Some(i) = resolve_index(*n, items.len()) {
                            picked.push(&items[i]);
                        }
                    }
                    (Selector::Key(k), Json::Object(map)) => {
                        if let Some(v) = map.get(k) {
                            picked.push(v);
                        }
                    }
                    (_, other) => {
                        return Err(format!("union: unexpected target {}", kind(other)));
                    }
                }
            }
            Ok(collect(picked.into_iter(), rest, root))
        }
        Step::Slice(start, end, step) => {
            let Json::Array(items) = current else {
                return Err(format!("range: expected a slice, got {}", kind(current)));
            };
            let len = items.len() as i64;
            let clamp = |n: i64| if n < 0 { (len + n).max(0) } else { n.min(len) };
            let from = clamp(start.unwrap_or(0));
            let to = clamp(end.unwrap_or(len));
            let stride = step.unwrap_or(1);
            let mut picked: Vec<&Json> = (from..to.max(from))
                .step_by(stride.unsigned_abs() as usize)
                .filter_map(|i| items.get(i as usize))
                .collect();
            if stride < 0 {
                picked.reverse();
            }
            Ok(collect(picked.into_iter(), rest, root))
        }
        Step::Filter(filter) => {
            let candidates = members(current)?;
            let mut kept = Vec::new();
            for candidate in candidates {
                if test(filter, candidate, root) {
                    kept.push(candidate);
                }
            }
            Ok(collect(kept.into_iter(), rest, root))
        }
    }
}

fn resolve_index(n: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if n < 0 { len + n } else { n };
    (0..len).contains(&i).then_some(i as usize)
}

/// The members of a list, or the values of a map in key order.
fn members(current: &Json) -> Result<Vec<&Json>, String> {
    match current {
        Json::Array(items) => Ok(items.iter().collect()),
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Ok(keys.into_iter().filter_map(|k| map.get(k)).collect())
        }
        other => Err(format!("expected a slice or map, got {}", kind(other))),
    }
}

fn descendants<'a>(node: &'a Json, out: &mut Vec<&'a Json>) {
    out.push(node);
    if let Ok(children) = members(node) {
        for child in children {
            descendants(child, out);
        }
    }
}

/// Applies `rest` to every element, keeping the results that succeed and are not null.
fn collect<'a>(elements: impl Iterator<Item = &'a Json>, rest: &[Step], root: &Json) -> Json {
    Json::Array(
        elements
            .filter_map(|e| apply(rest, e, root).ok())
            .filter(|v| !v.is_null())
            .collect(),
    )
}

fn resolve(operand: &Operand, current: &Json, root: &Json) -> Json {
    match operand {
        Operand::Current(steps) => apply(steps, current, root).unwrap_or(Json::Null),
        Operand::Root(steps) => apply(steps, root, root).unwrap_or(Json::Null),
        Operand::Literal(value) => value.clone(),
    }
}

fn test(filter: &Filter, current: &Json, root: &Json) -> bool {
    match filter {
        Filter::Or(a, b) => test(a, current, root) || test(b, current, root),
        Filter::And(a, b) => test(a, current, root) && test(b, current, root),
        Filter::Not(inner) => !test(inner, current, root),
        Filter::Truthy(operand) => match resolve(operand, current, root) {
            Json::Null | Json::Bool(false) => false,
            Json::String(s) => !s.is_empty(),
            _ => true,
        },
        Filter::Compare(left, op, right) => {
            let a = resolve(left, current, root);
            let b = resolve(right, current, root);
            let ordering = match (&a, &b) {
                (Json::Number(x), Json::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()),
                (Json::String(x), Json::String(y)) => Some(x.cmp(y)),
                _ => None,
            };
            use std::cmp::Ordering::*;
            match *op {
                "==" => ordering.map_or(a == b, |o| o == Equal),
                "!=" => ordering.map_or(a != b, |o| o != Equal),
                "<" => ordering == Some(Less),
                "<=" => matches!(ordering, Some(Less | Equal)),
                ">" => ordering == Some(Greater),
                _ => matches!(ordering, Some(Greater | Equal)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::query;
    use serde_json::json;

    #[test]
    fn queries() {
        let doc = json!({
            "a": 1,
            "b": "two",
            "c": {"d": [10, 20, 30]},
            "employees": [
                {"name": "Ana", "age": 43, "tags": ["x"]},
                {"name": "Baris", "age": 40},
                {"name": "Chen", "age": 50, "tags": []}
            ],
            "weird key": true
        });
        let cases: &[(&str, Result<serde_json::Value, &str>)] = &[
            ("$.a", Ok(json!(1))),
            ("$.b", Ok(json!("two"))),
            ("$['weird key']", Ok(json!(true))),
            ("$.c.d[1]", Ok(json!(20))),
            ("$.c.d[-1]", Ok(json!(30))),
            ("$.c.d.length", Ok(json!(3))),
            ("$.employees[*].name", Ok(json!(["Ana", "Baris", "Chen"]))),
            ("$.employees[0:2].name", Ok(json!(["Ana", "Baris"]))),
            ("$.employees[::-1].age", Ok(json!([50, 40, 43]))),
            ("$.employees[0,2].name", Ok(json!(["Ana", "Chen"]))),
            ("$.employees[?(@.name==\"Baris\")].age", Ok(json!([40]))),
            ("$.employees[?(@.age>42 && @.age<44)].age", Ok(json!([43]))),
            ("$.employees[?(@.tags)].name", Ok(json!(["Ana", "Chen"]))),
            ("$.employees[?(!(@.age >= 43))].name", Ok(json!(["Baris"]))),
            ("$.employees[?(@.age > $.a)].age", Ok(json!([43, 40, 50]))),
            ("$..d", Ok(json!([[10, 20, 30]]))),
            ("$.employees[*].tags[0]", Ok(json!(["x"]))),
            ("$.c.*", Ok(json!([[10, 20, 30]]))),
            ("$.missing", Err("key 'missing' not found")),
            ("$.c.d[5]", Err("index 5 out of range")),
            ("$.a.b", Err("key 'b': expected a map, got number")),
            ("a.b", Err("invalid JSONPath 'a.b': it must start with '$'")),
            (
                "$[(@.length-1)]",
                Err(
                    "invalid JSONPath '$[(@.length-1)]': script expressions are not supported at character 3",
                ),
            ),
            (
                "$.a[",
                Err("invalid JSONPath '$.a[': expected an index, a name or '*' at character 5"),
            ),
        ];
        for (path, want) in cases {
            let got = query(&doc, path);
            match want {
                Ok(v) => assert_eq!(got.as_ref(), Ok(v), "{path}"),
                Err(e) => assert_eq!(got.as_ref().map_err(String::as_str), Err(*e), "{path}"),
            }
        }
    }

    #[test]
    fn deep_filters_are_refused() {
        let path = format!("$[?({}@.a{})]", "(".repeat(100), ")".repeat(100));
        assert!(
            query(&json!([]), &path)
                .unwrap_err()
                .contains("filter nests too deeply")
        );
    }
}
