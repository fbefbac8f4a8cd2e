//! The controller's error: what the API turns into 4xx and 5xx answers.

use switchyard_engine::{EngineError, Problem};
use switchyard_store::StoreError;

use crate::record::NotARun;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControllerError {
    /// The workflow cannot run; every problem is listed with the path of its field.
    #[error("{}", problems_text(.problems))]
    Invalid { problems: Vec<Problem> },

    #[error("workflow {namespace}/{name} not found")]
    NotFound { namespace: String, name: String },

    /// A request names a node the run does not have.
    #[error("run `{run}` has no node `{node}` (give a node id, name or display name)")]
    NoSuchNode { run: String, node: String },

    /// The engine refused the command (wrong phase, nothing to resume, a bad node filter).
    #[error(transparent)]
    Engine(EngineError),

    #[error(transparent)]
    Store(#[from] StoreError),

    #[error(transparent)]
    Corrupt(#[from] NotARun),

    /// The controller is stopping; retry against the next process.
    #[error("the workflow controller is shutting down; retry shortly")]
    ShuttingDown,

    /// The process driving the runs cannot be reached now; retry shortly.
    #[error("{0}")]
    Unavailable(String),

    /// The process driving the run refused the command (see [`crate::RunInbox`]).
    #[error("{message}")]
    Forwarded {
        class: crate::inbox::FailureClass,
        message: String,
    },
}

impl From<EngineError> for ControllerError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid { problems } => ControllerError::Invalid { problems },
            other => ControllerError::Engine(other),
        }
    }
}

impl ControllerError {
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ControllerError::Invalid {
            problems: vec![Problem::new(path, message)],
        }
    }
}

fn problems_text(problems: &[Problem]) -> String {
    let list: Vec<String> = problems.iter().map(Problem::to_string).collect();
    format!("the workflow cannot be submitted: {}", list.join("; "))
}
