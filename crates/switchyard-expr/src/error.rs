//! The crate's one error type.
//!
//! Messages of govaluate and template errors repeat Argo's own wording (so a user who searches
//! for an Argo message finds the same thing here), with the position added where we know it.
//! Positions are 1-based character (not byte) offsets into the text that was parsed.

use std::fmt;

/// Errors from parsing, evaluating and substituting expressions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A govaluate expression could not be parsed (lexing, grammar, regex literals).
    #[error("{message}{}", at(*.position))]
    Syntax {
        /// What is wrong, in govaluate's words.
        message: String,
        /// 1-based character offset of the offending token, when known.
        position: Option<usize>,
    },

    /// A govaluate expression parsed but failed while evaluating (types, missing parameters).
    #[error("{message}{}", at(*.position))]
    Eval {
        /// What is wrong, in govaluate's words.
        message: String,
        /// 1-based character offset of the operator or parameter involved, when known.
        position: Option<usize>,
    },

    /// An expression, template or tag is longer than the cap.
    #[error("{what} is {length} bytes long; the limit is {max} bytes")]
    TooLong {
        /// What was too long ("expression", "template text").
        what: &'static str,
        /// Its length in bytes.
        length: usize,
        /// The cap.
        max: usize,
    },

    /// Brackets nest deeper than the cap (rejected before parsing, so no stack overflow).
    #[error("brackets nest deeper than {max} levels at character {position}")]
    TooDeep {
        /// The cap.
        max: usize,
        /// 1-based character offset of the bracket that went over the cap.
        position: usize,
    },

    /// Argo's `when`: the text is not a valid govaluate expression.
    #[error(
        "Invalid 'when' expression '{expression}': {source}{}",
        when_hint(source)
    )]
    WhenInvalid {
        /// The `when` text after substitution.
        expression: String,
        /// The parse error.
        source: Box<Error>,
    },

    /// Argo's `when`: after bare words were turned into strings the expression no longer parses.
    #[error("Failed to parse 'when' expression '{expression}': {source}")]
    WhenParse {
        /// The `when` text after substitution.
        expression: String,
        /// The parse error.
        source: Box<Error>,
    },

    /// Argo's `when`: evaluation failed.
    #[error("Failed to evaluate 'when' expresion '{expression}': {source}")]
    WhenEval {
        /// The `when` text after substitution.
        expression: String,
        /// The evaluation error.
        source: Box<Error>,
    },

    /// An expression that must decide yes or no produced something else.
    #[error("Expected boolean evaluation for '{expression}'. Got {got}")]
    NotBoolean {
        /// The expression text.
        expression: String,
        /// The value it produced, formatted as Go's `%v` would.
        got: String,
    },

    /// An expr-lang (`{{= }}`) expression failed to compile or run.
    #[error("failed to evaluate expression '{expression}': {message}")]
    Expr {
        /// The expression text as written (before internal rewrites).
        expression: String,
        /// The engine's message.
        message: String,
    },

    /// An expression uses a function or construct that Switchyard deliberately does not offer.
    #[error("'{function}' is not allowed: {reason}")]
    NotAllowed {
        /// The function or construct as written (`env`, `sprig.env`, `let`, `..`).
        function: String,
        /// Why, and what to use instead.
        reason: String,
    },

    /// An expression result cannot be represented as JSON (NaN, infinity).
    #[error("expression '{expression}' produced {got}, which has no JSON representation")]
    NotJson {
        /// The expression text.
        expression: String,
        /// The value, formatted as Go's `%v` would.
        got: String,
    },

    /// Template text has `{{` with no closing `}}` (strict mode only).
    #[error("cannot find end tag \"}}}}\" for the tag starting at character {position}")]
    UnterminatedTag {
        /// 1-based character offset of the `{{`.
        position: usize,
    },

    /// Strict substitution met tags nothing resolves; every one is listed, in order.
    #[error("failed to resolve {}", list_tags(.tags))]
    Unresolved {
        /// The tags as written between the braces (untrimmed), without duplicates.
        tags: Vec<String>,
    },

    /// Strict substitution: an expression tag names a variable that does not exist.
    #[error("failed to evaluate expression: {name} is missing")]
    MissingVariable {
        /// The dotted path of the missing variable.
        name: String,
    },

    /// A simple tag names an absent optional: the output of a skipped or omitted node that
    /// declared no default (Argo's wording, with what to do).
    #[error(
        "unable to substitute {{{{{name}}}}}: output is an absent optional (skipped/omitted node with no default); give the output a `valueFrom.default`, the input a `default`, or read it in an expression tag with `??`"
    )]
    AbsentOptional {
        /// The name in the tag.
        name: String,
    },

    /// An expression tag evaluated to nil (Argo: "failed to evaluate expression").
    #[error("failed to evaluate expression {expression:?}: the result is nil")]
    NilResult {
        /// The expression text.
        expression: String,
    },
}

/// The error of the govaluate and expr-lang modules (the same type: one error type per crate).
pub type ExprError = Error;
/// The error of the template module (the same type: one error type per crate).
pub type TemplateError = Error;

fn at(position: Option<usize>) -> String {
    match position {
        Some(p) => format!(" (at character {p})"),
        None => String::new(),
    }
}

fn when_hint(source: &Error) -> &'static str {
    if source.to_string().contains("Invalid token") {
        " (hint: try wrapping the affected expression in quotes (\"))"
    } else {
        ""
    }
}

fn list_tags(tags: &[String]) -> String {
    struct Tags<'a>(&'a [String]);
    impl fmt::Display for Tags<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, tag) in self.0.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{{{{{tag}}}}}")?;
            }
            Ok(())
        }
    }
    Tags(tags).to_string()
}

impl Error {
    pub(crate) fn syntax(message: impl Into<String>, position: Option<usize>) -> Self {
        Error::Syntax {
            message: message.into(),
            position,
        }
    }

    pub(crate) fn eval(message: impl Into<String>, position: Option<usize>) -> Self {
        Error::Eval {
            message: message.into(),
            position,
        }
    }

    /// The 1-based character position the error points at, if any.
    pub fn position(&self) -> Option<usize> {
        match self {
            Error::Syntax { position, .. } | Error::Eval { position, .. } => *position,
            Error::TooDeep { position, .. } | Error::UnterminatedTag { position } => {
                Some(*position)
            }
            Error::WhenInvalid { source, .. }
            | Error::WhenParse { source, .. }
            | Error::WhenEval { source, .. } => source.position(),
            _ => None,
        }
    }
}
