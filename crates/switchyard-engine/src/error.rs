//! The crate's error type: what `submit` refuses (every problem, each with the field path it
//! is about) and commands `apply` cannot take.

use std::fmt;

/// One reason a workflow cannot be submitted, with the path of the field it is about
/// (e.g. `spec.templates[2].resource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Errors of the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The workflow cannot run; every problem found is listed (a user error).
    #[error("the workflow cannot be submitted: {}", list(.problems))]
    Invalid { problems: Vec<Problem> },

    /// A command names a node the run does not have.
    #[error("run `{run}` has no node `{node}`")]
    UnknownNode { run: String, node: String },

    /// A step command for a node that is not a step (not a Pod or Container node).
    #[error("node `{node}` of run `{run}` is not a step")]
    NotAStep { run: String, node: String },

    /// The command does not apply to the run in its current phase.
    #[error("run `{run}` is {phase}: {reason}")]
    WrongPhase {
        run: String,
        phase: &'static str,
        reason: String,
    },

    /// `resume` found nothing to resume.
    #[error("run `{run}` has nothing to resume{}", filter_text(.filter))]
    NothingToResume { run: String, filter: Option<String> },

    /// A node filter could not be understood.
    #[error("invalid node filter `{filter}`: {reason}")]
    BadFilter { filter: String, reason: String },

    /// `SetOutputs` names an output parameter the node does not declare.
    #[error("node `{node}` has no output parameter `{parameter}`")]
    UnknownOutput { node: String, parameter: String },

    /// The engine itself failed (a bug); the run's state was left as it was.
    #[error("internal error of the workflow engine on run `{run}`: {message}")]
    Internal { run: String, message: String },
}

fn filter_text(filter: &Option<String>) -> String {
    match filter {
        Some(f) => format!(" matching `{f}`"),
        None => String::new(),
    }
}

/// What [`crate::submit`] returns on failure (the crate's one error type).
pub type SubmitError = EngineError;

impl EngineError {
    /// Whether the error is the caller's (bad workflow, command out of place) rather than the
    /// engine's own.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, EngineError::Internal { .. })
    }

    /// The problems of an [`EngineError::Invalid`] (empty for other variants).
    pub fn problems(&self) -> &[Problem] {
        match self {
            EngineError::Invalid { problems } => problems,
            _ => &[],
        }
    }
}
