//! The crate's error type: failures of the runner's own file and process handling, which the
//! engine sees as [`RunnerError::Internal`] (retryable) or [`RunnerError::Start`].

use std::io;
use std::path::PathBuf;

use switchyard_engine::RunnerError;

#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// A file or directory of the runner's own could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The supervisor program could not be started.
    #[error("cannot start the step supervisor `{}`: {source}", program.display())]
    Supervisor {
        program: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The step description cannot be run as given (the step fails with this).
    #[error("{0}")]
    Invalid(String),
}

impl ExecutorError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| ExecutorError::Io {
            action,
            path,
            source,
        }
    }
}

impl From<ExecutorError> for RunnerError {
    fn from(err: ExecutorError) -> Self {
        match err {
            ExecutorError::Invalid(message) => RunnerError::Start(message),
            other => RunnerError::Internal(other.to_string()),
        }
    }
}
