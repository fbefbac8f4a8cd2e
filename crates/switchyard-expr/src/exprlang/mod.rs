//! `{{= ... }}` expressions: the expr-lang language with Argo's functions.
//!
//! Variables come in as one nested JSON object (`{"inputs": {"parameters": {"x": "1"}}}`), so
//! `inputs.parameters.x`, `inputs.parameters['x-y']`, `steps.a.outputs.result`, `item` and
//! `workflow.name` read as in Argo. Argo's additions are available: `asInt`, `asFloat`,
//! `toJson`, `jsonpath(json, path)` (the subset described in the `jsonpath` module), and the
//! sprig functions of [`SPRIG_ALLOWED`] as `sprig.<name>(...)`. sprig's date formatting
//! ([`SPRIG_DATES`]: `sprig.date('2006', x)`) is offered by [`eval_expr_at`], which is given
//! the time those functions call "now" (see the `dates` module): the result depends only on
//! the expression, the variables and that time.
//!
//! Refused before running, with [`Error::NotAllowed`] naming the function: `env`,
//! `expandenv`, `sprig.env`, `sprig.expandenv`, any sprig function outside the allowlist, the
//! sprig date functions when no time is given, the time functions (`now`, `date`,
//! `duration`, `timezone`, sprig's `now`, `toDate`, ...: the crate reads no clock and has no
//! time values), `reduce` and `let` (both can grow values exponentially), and ranges `a..b`
//! unless both ends are integer literals and the range has fewer than 10 000 elements.
//!
//! Limits, so that no input can exhaust the stack or memory: [`MAX_EXPRESSION_BYTES`],
//! [`MAX_DEPTH`] nested brackets, [`MAX_OPERATORS`] operators and [`MAX_CONDITIONALS`]
//! `?`/`??` (expr-lang parses and evaluates recursively), [`MAX_VARIABLE_REFERENCES`], and a
//! per-evaluation budget on predicate functions and built strings (see `budget`). The largest
//! accepted input runs within 512 KiB of stack in a debug build. Parsing is bounded too: the
//! parser backtracks, and some short texts (brackets nested under the depth limit, a few dozen
//! bytes) made it try exponentially many alternatives, seconds to minutes of CPU; at most
//! [`MAX_PARSER_STEPS`] steps are allowed per parse (about 10 ms), ten times what the largest
//! accepted expressions need.
//!
//! Around expr-lang 2.1's own defects, the text is rewritten before parsing (see `scan`): map
//! literals become calls of an internal `dict` function (expr-lang keeps only literal values:
//! `{a: 1 + 1}` would be `{a: 1}` and `{a: x}` would panic), and root identifiers that start
//! with a keyword (`nothing`, `trueish`, `nil_count`) are renamed (expr-lang reads `nothing` as
//! `not hing`). A panic inside the engine becomes an error. Known differences from Go's expr
//! that remain: `\u` escapes in string literals are not decoded, a predicate that is not the
//! last argument needs braces (`sortBy(xs, {#}, 'desc')`), and inside a predicate an unknown
//! name falls back to a field of `#` (Go's expr would reject it).
//!
//! Results are JSON; a float with no fractional part comes back as an integer (as Go's JSON
//! encoding writes it), NaN and infinities are an error.

mod budget;
mod convert;
mod dates;
mod functions;
mod jsonpath;
mod predicates;
mod scan;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use expr::{Context, Environment};
use serde_json::Value as Json;

use crate::Error;

pub use budget::{MAX_PREDICATE_RUNS, MAX_PRODUCED_BYTES};
pub use dates::SPRIG_DATES;
pub use functions::{MAX_STRING_BYTES, SPRIG_ALLOWED};
pub(crate) use scan::Reference;

/// Longest expression accepted, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 16 * 1024;
/// Deepest bracket nesting (`(`, `[`, `{`) accepted.
pub const MAX_DEPTH: usize = 32;
/// Most operators in one expression (each one is a level of recursion when evaluating).
pub const MAX_OPERATORS: usize = 256;
/// Most variable references in one expression (each can copy a whole value).
pub const MAX_VARIABLE_REFERENCES: usize = 256;
/// Most `?` / `??` in one expression (the parser recurses on each).
pub const MAX_CONDITIONALS: usize = 64;
/// Most parser steps (pest's counted calls) one parse may take. A 16 KiB string literal, or
/// an expression at the operator limit, takes under 100,000.
pub const MAX_PARSER_STEPS: usize = 1_000_000;

/// Bounds the parser's work. pest's limit is process-wide and only expr-lang parses with pest
/// in Switchyard; it is set before the first parse.
fn limit_parser_steps() {
    static LIMIT: std::sync::Once = std::sync::Once::new();
    LIMIT.call_once(|| pest::set_call_limit(std::num::NonZeroUsize::new(MAX_PARSER_STEPS)));
}

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(functions::environment);

fn expr_error(expression: &str, e: &expr::Error) -> Error {
    let text = e.to_string();
    if text.contains("call limit reached") {
        return Error::Expr {
            expression: expression.to_string(),
            message: format!(
                "the expression is too hard to parse (more than {MAX_PARSER_STEPS} parser steps, \
                 usually from brackets that are not closed); check its brackets"
            ),
        };
    }
    // pest writes a multi-line report; keep its location and its last line.
    let message = match (
        text.lines().find_map(|l| l.trim().strip_prefix("--> ")),
        text.lines().rev().find_map(|l| l.trim().strip_prefix("= ")),
    ) {
        (Some(location), Some(detail)) => format!("syntax error at {location}: {detail}"),
        _ => text.lines().map(str::trim).collect::<Vec<_>>().join(" "),
    };
    Error::Expr {
        expression: expression.to_string(),
        message,
    }
}

/// Checks and compiles an expression; `clock` says whether the date functions may run.
fn prepare(expression: &str, clock: bool) -> Result<Prepared, Error> {
    if expression.len() > MAX_EXPRESSION_BYTES {
        return Err(Error::TooLong {
            what: "expression",
            length: expression.len(),
            max: MAX_EXPRESSION_BYTES,
        });
    }
    let tokens = scan::scan(expression);
    scan::check_depth(expression, &tokens, MAX_DEPTH)?;
    scan::check_ranges(&tokens)?;
    let conditionals = tokens
        .iter()
        .filter(|t| matches!(t.tok, scan::Tok::Punct("?" | "??")))
        .count();
    if conditionals > MAX_CONDITIONALS {
        return Err(Error::Expr {
            expression: expression.to_string(),
            message: format!("more than {MAX_CONDITIONALS} conditionals ('?' and '??')"),
        });
    }
    let mut operators = 0usize;
    let mut references = 0usize;
    for (i, t) in tokens.iter().enumerate() {
        match &t.tok {
            scan::Tok::Ident(name) => {
                let called = matches!(
                    tokens.get(i + 1).map(|s| &s.tok),
                    Some(scan::Tok::Punct("("))
                );
                let member = i > 0
                    && matches!(
                        tokens.get(i - 1).map(|s| &s.tok),
                        Some(scan::Tok::Punct("." | "?."))
                    );
                let keyword = matches!(
                    name.as_str(),
                    "true"
                        | "false"
                        | "nil"
                        | "and"
                        | "or"
                        | "not"
                        | "in"
                        | "matches"
                        | "contains"
                        | "startsWith"
                        | "endsWith"
                        | "if"
                        | "else"
                );
                if !member && !keyword {
                    if called && let Some(reason) = functions::refused_function(name) {
                        return Err(Error::NotAllowed {
                            function: name.clone(),
                            reason: reason.to_string(),
                        });
                    }
                    if name == "let" {
                        return Err(Error::NotAllowed {
                            function: "let".to_string(),
                            reason: "bindings can multiply the size of values without bound"
                                .to_string(),
                        });
                    }
                    if !called {
                        references += 1;
                    }
                }
                if matches!(
                    name.as_str(),
                    "and"
                        | "or"
                        | "not"
                        | "in"
                        | "matches"
                        | "contains"
                        | "startsWith"
                        | "endsWith"
                ) {
                    operators += 1;
                }
            }
            scan::Tok::Punct(p) if !matches!(*p, "(" | ")" | "[" | "]" | "{" | "}" | "," | "#") => {
                operators += 1;
            }
            _ => {}
        }
    }
    if operators > MAX_OPERATORS {
        return Err(Error::Expr {
            expression: expression.to_string(),
            message: format!("more than {MAX_OPERATORS} operators"),
        });
    }
    if references > MAX_VARIABLE_REFERENCES {
        return Err(Error::Expr {
            expression: expression.to_string(),
            message: format!("more than {MAX_VARIABLE_REFERENCES} variable references"),
        });
    }
    let mut edits = scan::sprig_edits(
        &tokens,
        functions::SPRIG_PREFIX,
        &|name| SPRIG_ALLOWED.contains(&name) || (clock && SPRIG_DATES.contains(&name)),
        &functions::sprig_refusal,
    )?;
    edits.extend(scan::map_literal_edits(&tokens, functions::DICT));
    let (alias_edits, aliases) = scan::keyword_prefixed_identifiers(&tokens, ALIAS_PREFIX);
    edits.extend(alias_edits);
    let rewritten = scan::apply_edits(expression, edits);
    limit_parser_steps();
    let program = guarded(expression, || expr::compile(&rewritten))?;
    Ok(Prepared { program, aliases })
}

/// Identifiers that start with a keyword (`nothing`, `trueValue`) are renamed with this prefix
/// before parsing, because expr-lang 2.1 reads `nothing` as `not hing`.
const ALIAS_PREFIX: &str = "__switchyard_id_";

/// A compiled expression and the identifiers it reads under an alias.
struct Prepared {
    program: expr::Program,
    aliases: Vec<String>,
}

/// Runs an expr-lang step, turning a panic inside the engine into an error: expr-lang 2.1 has
/// `unwrap`s and `unreachable!`s that malformed input might still reach.
fn guarded<T>(expression: &str, step: impl FnOnce() -> expr::Result<T>) -> Result<T, Error> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(expr_error(expression, &e)),
        Err(_) => Err(Error::Expr {
            expression: expression.to_string(),
            message: "the expression engine failed on this input".to_string(),
        }),
    }
}

fn context(expression: &str, env: &Json) -> Result<Context, Error> {
    match env {
        Json::Object(map) => Ok(map
            .iter()
            .map(|(k, v)| (k.clone(), convert::json_to_expr(v)))
            .collect()),
        Json::Null => Ok(Context::default()),
        other => Err(Error::Expr {
            expression: expression.to_string(),
            message: format!(
                "the variables must be a JSON object, got {}",
                crate::gofmt::json(other)
            ),
        }),
    }
}

/// Evaluates `expression` with the variables in `env` (a JSON object, or null for none). The
/// sprig date functions are refused; see [`eval_expr_at`].
pub fn eval_expr(expression: &str, env: &Json) -> Result<Json, Error> {
    eval(expression, env, None)
}

/// Like [`eval_expr`], with `now` as the time that the sprig date functions format when they
/// are not given a Unix time (sprig would read the clock). `None` refuses them.
pub fn eval_expr_at(
    expression: &str,
    env: &Json,
    now: Option<DateTime<Utc>>,
) -> Result<Json, Error> {
    eval(expression, env, now)
}

fn eval(expression: &str, env: &Json, now: Option<DateTime<Utc>>) -> Result<Json, Error> {
    let prepared = prepare(expression, now.is_some())?;
    let mut context = context(expression, env)?;
    for name in &prepared.aliases {
        if let Some(value) = context.get(name).cloned() {
            context.insert(format!("{ALIAS_PREFIX}{name}"), value);
        }
    }
    let _budget = budget::Guard::new();
    let _clock = dates::Clock::set(now);
    let value = guarded(expression, || ENVIRONMENT.run(&prepared.program, &context))?;
    let json = convert::expr_to_json(&value).map_err(|_| Error::NotJson {
        expression: expression.to_string(),
        got: convert::go_v(&value),
    })?;
    Ok(integral_floats_as_integers(json))
}

/// Checks an expression without running it: limits, refusals (the sprig date functions
/// included, as for [`eval_expr`]), syntax.
pub fn check(expression: &str) -> Result<(), Error> {
    prepare(expression, false).map(|_| ())
}

/// The variable paths an expression reads, dotted (`inputs.parameters.x`, and
/// `inputs.parameters.x-y` for `inputs.parameters['x-y']`), in order of first use.
pub fn variables(expression: &str) -> Vec<String> {
    references(expression)
        .into_iter()
        .map(|r| r.path.join("."))
        .collect()
}

/// The variable references of an expression, with whether each is optional (`a?.b`, or left
/// of `??`).
pub(crate) fn references(expression: &str) -> Vec<Reference> {
    scan::variable_paths(&scan::scan(expression))
}

fn integral_floats_as_integers(json: Json) -> Json {
    match json {
        Json::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                Json::from(f as i64)
            }
            _ => Json::Number(n),
        },
        Json::Array(items) => {
            Json::Array(items.into_iter().map(integral_floats_as_integers).collect())
        }
        Json::Object(map) => Json::Object(
            map.into_iter()
                .map(|(k, v)| (k, integral_floats_as_integers(v)))
                .collect(),
        ),
        other => other,
    }
}
