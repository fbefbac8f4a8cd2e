//! The crate's error type.

use switchyard_bus::BusError;
use switchyard_store::StoreError;

/// What setting up a queue runner or a worker can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    /// The configuration is wrong; every problem is listed.
    #[error("invalid {what} configuration: {problems}")]
    Config {
        what: &'static str,
        problems: String,
    },
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug.
    #[error("internal worker error: {reason}")]
    Internal { reason: String },
}

impl WorkerError {
    /// True when the same call may succeed later (the bus or the store is unavailable).
    pub fn is_retryable(&self) -> bool {
        match self {
            WorkerError::Bus(e) => e.is_retryable(),
            WorkerError::Store(e) => e.is_retryable(),
            WorkerError::Config { .. } | WorkerError::Internal { .. } => false,
        }
    }
}
