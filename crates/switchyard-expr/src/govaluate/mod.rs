//! govaluate expressions, as Argo uses them: workflow `when` and sensor `filters.exprs[].expr`.
//!
//! A hand-written port of the semantics of github.com/Knetic/govaluate (the version Argo pins,
//! identical in both Argo projects): the same lexer quirks, grammar, precedence, type rules and
//! messages. There are no functions (Argo registers none).
//!
//! Two entry points matter:
//!
//! - [`evaluate_when`] is Argo's `shouldExecute` (workflow/controller/steps.go): the `when` text
//!   has already had its `{{...}}` tags substituted; it is parsed, then every bare word
//!   (govaluate's VARIABLE token, e.g. `heads` or `[my-value]`) is turned into a string
//!   literal, and the result is evaluated with no parameters. That is why
//!   `"{{steps.flip.outputs.result}} == heads"` works unquoted. Dotted words are *not*
//!   converted (they are govaluate accessors): `a.b` is a parse error ("Unable to access
//!   unexported field 'b' in token 'a.b'"). `true` / `false` stay booleans.
//! - [`evaluate`] / [`Expression`] is the sensor form (argo-events
//!   pkg/sensors/dependencies/filter.go): bare words are parameters looked up by name;
//!   an unknown one is the error "No parameter 'x' found.". The sensor passes a filter when the
//!   result equals `true` (`evaluate(..)? == Value::Bool(true)`); [`evaluate_bool`] is the
//!   stricter form that calls any other result an error.
//!
//! Inputs are capped: [`MAX_EXPRESSION_BYTES`] long and [`MAX_DEPTH`] nested parentheses,
//! checked while lexing, before anything recursive runs.

mod eval;
mod lexer;
mod parser;
mod time;

use std::collections::BTreeMap;

use crate::Error;
use crate::gofmt;

/// Longest expression accepted, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 64 * 1024;
/// Deepest parenthesis nesting accepted.
pub const MAX_DEPTH: usize = 100;

/// A govaluate value. Numbers are float64, as in govaluate.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// JSON `null` (Go's nil).
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (always a float64 in govaluate).
    Number(f64),
    /// A string.
    String(String),
    /// A list (what `(a, b)` builds; `in` searches one).
    Array(Vec<Value>),
    /// A map (from JSON parameters; govaluate cannot read into it).
    Object(BTreeMap<String, Value>),
}

impl Value {
    /// Go's `%v` of the value, as govaluate prints it in messages and concatenations.
    pub fn go_v(&self) -> String {
        match self {
            Value::Null => "<nil>".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => gofmt::float_v(*n),
            Value::String(s) => s.clone(),
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().map(Value::go_v).collect();
                format!("[{}]", parts.join(" "))
            }
            Value::Object(map) => {
                let parts: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", v.go_v()))
                    .collect();
                format!("map[{}]", parts.join(" "))
            }
        }
    }

    /// The value as JSON (integral numbers as integers); `None` when a number is NaN or
    /// infinite.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            // Integral numbers come out as JSON integers, as Go's JSON encoding writes them.
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => {
                serde_json::Value::from(*n as i64)
            }
            Value::Number(n) => serde_json::Value::Number(serde_json::Number::from_f64(*n)?),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(Value::to_json)
                    .collect::<Option<Vec<_>>>()?,
            ),
            Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect::<Option<serde_json::Map<_, _>>>()?,
            ),
        })
    }
}

impl From<&serde_json::Value> for Value {
    fn from(json: &serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Self {
        Value::from(&json)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// A parsed govaluate expression (govaluate's `EvaluableExpression`), reusable across events.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    root: Option<parser::Node>,
}

impl Expression {
    /// Parses `expression` as `govaluate.NewEvaluableExpression` does.
    pub fn parse(expression: &str) -> Result<Self, Error> {
        let tokens = tokens(expression)?;
        let root = parser::plan(&tokens)?;
        Ok(Expression {
            source: expression.to_string(),
            root,
        })
    }

    /// The text this expression was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates with `params` resolving bare words and `[bracketed names]`. An empty
    /// expression plan (such as `()`) evaluates to [`Value::Null`], as in govaluate.
    pub fn evaluate(&self, params: &dyn Fn(&str) -> Option<Value>) -> Result<Value, Error> {
        match &self.root {
            Some(root) => Ok(eval::eval(root, params)?.into_value()),
            None => Ok(Value::Null),
        }
    }

    /// Evaluates and requires a boolean result.
    pub fn evaluate_bool(&self, params: &dyn Fn(&str) -> Option<Value>) -> Result<bool, Error> {
        match self.evaluate(params)? {
            Value::Bool(b) => Ok(b),
            other => Err(Error::NotBoolean {
                expression: self.source.clone(),
                got: other.go_v(),
            }),
        }
    }
}

/// Lexes, checks the grammar and compiles regex literals: govaluate's parse steps before
/// planning.
fn tokens(expression: &str) -> Result<Vec<lexer::Token>, Error> {
    if expression.len() > MAX_EXPRESSION_BYTES {
        return Err(Error::TooLong {
            what: "expression",
            length: expression.len(),
            max: MAX_EXPRESSION_BYTES,
        });
    }
    let mut tokens = lexer::lex(expression, MAX_DEPTH)?;
    lexer::check_syntax(&tokens)?;
    lexer::compile_patterns(&mut tokens)?;
    Ok(tokens)
}

/// Parses and evaluates `expression` with `params` (the sensor form; see the module doc).
pub fn evaluate(expression: &str, params: &dyn Fn(&str) -> Option<Value>) -> Result<Value, Error> {
    Expression::parse(expression)?.evaluate(params)
}

/// Like [`evaluate`], but the result must be a boolean.
pub fn evaluate_bool(
    expression: &str,
    params: &dyn Fn(&str) -> Option<Value>,
) -> Result<bool, Error> {
    Expression::parse(expression)?.evaluate_bool(params)
}

/// Argo's `when`: decides whether a step or task runs. `when` is the text after `{{...}}`
/// substitution; empty means run. Bare words are strings (see the module doc). Errors carry
/// Argo's wording: "Invalid 'when' expression ...", "Failed to parse 'when' expression ...",
/// "Failed to evaluate 'when' expresion ..." (sic), "Expected boolean evaluation for ...".
pub fn evaluate_when(when: &str) -> Result<bool, Error> {
    if when.is_empty() {
        return Ok(true);
    }
    let invalid = |source: Error| Error::WhenInvalid {
        expression: when.to_string(),
        source: Box::new(source),
    };
    let mut tokens = tokens(when).map_err(invalid)?;
    parser::plan(&tokens).map_err(invalid)?;

    // Argo rewrites every VARIABLE token into a STRING and parses the tokens again.
    for token in &mut tokens {
        if token.kind == lexer::Kind::Variable {
            token.kind = lexer::Kind::String;
        }
    }
    let reparse = |source: Error| Error::WhenParse {
        expression: when.to_string(),
        source: Box::new(source),
    };
    lexer::check_syntax(&tokens).map_err(reparse)?;
    lexer::compile_patterns(&mut tokens).map_err(reparse)?;
    let root = parser::plan(&tokens).map_err(reparse)?;

    let result = match &root {
        Some(root) => eval::eval(root, &|_| None)
            .map_err(|source| Error::WhenEval {
                expression: when.to_string(),
                source: Box::new(source),
            })?
            .into_value(),
        None => Value::Null,
    };
    match result {
        Value::Bool(b) => Ok(b),
        other => Err(Error::NotBoolean {
            expression: when.to_string(),
            got: other.go_v(),
        }),
    }
}
