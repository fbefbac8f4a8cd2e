//! Argo's expression layer, pure: no I/O, no clock, no environment.
//!
//! - [`govaluate`]: the language of workflow `when` and sensor `filters.exprs[].expr`.
//! - [`template`]: `{{...}}` substitution, single pass (substituted text is never re-scanned).
//! - [`exprlang`]: `{{= ... }}` expressions on the expr-lang engine with Argo's extra functions
//!   and an allowlisted sprig subset; sprig's date formatting reads a time the caller gives,
//!   never the clock.
//! - [`stringify()`]: how a result is written into a template, as Argo writes it.
//!
//! Every entry point caps its input (length, nesting, work) so that no text can exhaust the
//! stack or memory.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
pub mod exprlang;
pub mod gofmt;
pub mod govaluate;
pub mod template;

pub use error::{Error, ExprError, TemplateError};
pub use exprlang::{eval_expr, eval_expr_at};
pub use gofmt::stringify;
pub use template::{Mode, Var, substitute, substitute_at, substitute_with_env};

/// The largest compiled program accepted for a user-supplied regex, in bytes.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a user-supplied regex with a size cap (the regex crate guarantees linear-time
/// matching; the cap bounds memory).
pub(crate) fn compile_regex(source: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(source)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// The regex crate's messages span several lines; the last one says what is wrong.
pub(crate) fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map_or(text.clone(), |l| {
            l.trim().trim_start_matches("error: ").to_string()
        })
}
