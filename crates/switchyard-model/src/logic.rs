//! The small boolean language of DAG `depends` (`a.Succeeded && (b || !c.Failed)`) and Sensor
//! trigger `conditions` (`(d1 && d2) || d3`): names, an optional `.Result` suffix, `!`, `&&`,
//! `||` and parentheses.
//!
//! Parsing is shared by the validator (which checks that every name exists), the workflow
//! engine (which evaluates `depends`) and the sensor rules (which evaluate `conditions`).
//! Hand-written because it is tiny and no crate speaks exactly this grammar; `&&` binds
//! tighter than `||`, as in Go and in Argo's evaluators.

use std::fmt;

/// A parsed boolean expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoolExpr {
    /// A name, with the `.Result` suffix if one was written (`a.Succeeded` → `Some("Succeeded")`).
    Operand {
        name: String,
        result: Option<String>,
        /// 0-based byte offset of the name in the input.
        offset: usize,
    },
    Not(Box<BoolExpr>),
    And(Box<BoolExpr>, Box<BoolExpr>),
    Or(Box<BoolExpr>, Box<BoolExpr>),
}

/// A syntax error, with the 0-based byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for LogicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

/// Nesting cap: deeper input is rejected rather than risking the stack.
const MAX_DEPTH: usize = 64;

impl BoolExpr {
    /// Parses `input`. Names are letters, digits, `-` and `_`; a suffix is `.` and a word.
    pub fn parse(input: &str) -> Result<BoolExpr, LogicError> {
        let mut p = Parser {
            src: input,
            pos: 0,
            depth: 0,
        };
        p.skip_ws();
        if p.pos >= input.len() {
            return Err(p.error("the expression is empty"));
        }
        let expr = p.or()?;
        p.skip_ws();
        if p.pos < input.len() {
            return Err(p.error(format!("unexpected `{}`", p.rest_token())));
        }
        Ok(expr)
    }

    /// Every operand, in order of appearance.
    pub fn operands(&self) -> Vec<(&str, Option<&str>, usize)> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                BoolExpr::Operand {
                    name,
                    result,
                    offset,
                } => out.push((name.as_str(), result.as_deref(), *offset)),
                BoolExpr::Not(x) => stack.push(x),
                BoolExpr::And(a, b) | BoolExpr::Or(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
            }
        }
        out
    }

    /// Evaluates with `value` giving each operand's truth.
    pub fn eval(&self, value: &mut dyn FnMut(&str, Option<&str>) -> bool) -> bool {
        match self {
            BoolExpr::Operand { name, result, .. } => value(name, result.as_deref()),
            BoolExpr::Not(x) => !x.eval(value),
            BoolExpr::And(a, b) => a.eval(value) && b.eval(value),
            BoolExpr::Or(a, b) => a.eval(value) || b.eval(value),
        }
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> LogicError {
        LogicError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn rest_token(&self) -> &str {
        let rest = &self.src[self.pos..];
        let end = rest
            .char_indices()
            .find(|(_, c)| c.is_whitespace())
            .map_or(rest.len(), |(i, _)| i);
        &rest[..end]
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.src[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.src[self.pos..].starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<BoolExpr, LogicError> {
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = BoolExpr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<BoolExpr, LogicError> {
        let mut left = self.unary()?;
        while self.eat("&&") {
            let right = self.unary()?;
            left = BoolExpr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<BoolExpr, LogicError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("nested more than {MAX_DEPTH} levels deep")));
        }
        let out = self.unary_inner();
        self.depth -= 1;
        out
    }

    fn unary_inner(&mut self) -> Result<BoolExpr, LogicError> {
        if self.eat("!") {
            return Ok(BoolExpr::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let inner = self.or()?;
            if !self.eat(")") {
                return Err(self.error("expected `)`"));
            }
            return Ok(inner);
        }
        self.skip_ws();
        let start = self.pos;
        let name = self.word(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if name.is_empty() {
            return Err(if self.pos >= self.src.len() {
                self.error("the expression ends where a name was expected")
            } else {
                self.error(format!("expected a name, found `{}`", self.rest_token()))
            });
        }
        let mut result = None;
        if self.src[self.pos..].starts_with('.') {
            self.pos += 1;
            let suffix = self.word(|c| c.is_ascii_alphanumeric());
            if suffix.is_empty() {
                return Err(self.error(format!("expected a result after `{name}.`")));
            }
            result = Some(suffix);
        }
        Ok(BoolExpr::Operand {
            name,
            result,
            offset: start,
        })
    }

    fn word(&mut self, allowed: impl Fn(char) -> bool) -> String {
        let rest = &self.src[self.pos..];
        let end = rest
            .char_indices()
            .find(|(_, c)| !allowed(*c))
            .map_or(rest.len(), |(i, _)| i);
        self.pos += end;
        rest[..end].to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(e: &BoolExpr) -> String {
        match e {
            BoolExpr::Operand { name, result, .. } => match result {
                Some(r) => format!("{name}.{r}"),
                None => name.clone(),
            },
            BoolExpr::Not(x) => format!("!{}", render(x)),
            BoolExpr::And(a, b) => format!("({} && {})", render(a), render(b)),
            BoolExpr::Or(a, b) => format!("({} || {})", render(a), render(b)),
        }
    }

    #[test]
    fn parses_with_precedence() {
        for (input, want) in [
            ("a", "a"),
            ("a && b || c", "((a && b) || c)"),
            ("a || b && c", "(a || (b && c))"),
            ("(d1 && d2) || d3", "((d1 && d2) || d3)"),
            ("A.Succeeded && !B.Failed", "(A.Succeeded && !B.Failed)"),
            (
                "  task-1.AnySucceeded||task_2 ",
                "(task-1.AnySucceeded || task_2)",
            ),
            ("!(a || b)", "!(a || b)"),
        ] {
            let e = BoolExpr::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(render(&e), want, "{input}");
        }
    }

    #[test]
    fn reports_errors_with_offsets() {
        for (input, offset, message) in [
            ("", 0, "the expression is empty"),
            ("a &&", 4, "the expression ends where a name was expected"),
            ("(a || b", 7, "expected `)`"),
            ("a b", 2, "unexpected `b`"),
            ("a. && b", 2, "expected a result after `a.`"),
            ("a & b", 2, "unexpected `&`"),
            ("a && ) ", 5, "expected a name, found `)`"),
        ] {
            let e = BoolExpr::parse(input).unwrap_err();
            assert_eq!((e.offset, e.message.as_str()), (offset, message), "{input}");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(
            BoolExpr::parse(&deep)
                .unwrap_err()
                .message
                .contains("nested")
        );
    }

    #[test]
    fn lists_operands_and_evaluates() {
        let e = BoolExpr::parse("(d1 && d2) || d3.Failed").unwrap();
        let ops: Vec<_> = e.operands().into_iter().map(|(n, r, _)| (n, r)).collect();
        assert_eq!(ops, [("d1", None), ("d2", None), ("d3", Some("Failed"))]);
        let truth = |set: &[&str]| e.eval(&mut |name, _| set.contains(&name));
        assert!(truth(&["d1", "d2"]));
        assert!(truth(&["d3"]));
        assert!(!truth(&["d1"]));
        assert!(!truth(&[]));
    }
}
