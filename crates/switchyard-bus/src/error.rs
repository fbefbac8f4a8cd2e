//! The one error type of the port, and its classes.

/// Everything a bus call can fail with. See "Errors" in the crate docs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The request itself is wrong: a bad subject, filter, header, dedup id, consumer
    /// declaration or limit. Nothing changed.
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
    /// The payload is larger than the bus accepts. Nothing changed.
    #[error("the payload is {size} bytes; this bus accepts at most {max}")]
    PayloadTooLarge { size: usize, max: usize },
    /// The durable consumer does not exist (any more): it was deleted, possibly while this
    /// handle was in use.
    #[error("consumer `{name}` does not exist (it may have been deleted)")]
    ConsumerNotFound { name: String },
    /// The bus cannot serve now (I/O error, disk full, server unreachable). Retryable; a
    /// publish that fails this way may or may not have been stored (publish again with the
    /// same dedup id to find out without storing it twice).
    #[error("event bus unavailable: {reason}; retry later")]
    Unavailable { reason: String },
    /// The bus was closed (shutdown).
    #[error("the event bus is closed")]
    Closed,
    /// Stored data cannot be read by this build: damaged, or written by a newer version.
    /// Needs an operator.
    #[error("stored bus data cannot be read: {what}")]
    Corrupt { what: String },
    /// A bug in the bus.
    #[error("internal event bus error: {reason}")]
    Internal { reason: String },
}

impl BusError {
    /// True when the same call may succeed if made again later, unchanged. Only
    /// [`BusError::Unavailable`] is.
    pub fn is_retryable(&self) -> bool {
        matches!(self, BusError::Unavailable { .. })
    }

    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        BusError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// The reason alone for `Invalid`, the whole message otherwise.
    pub(crate) fn reason(&self) -> String {
        match self {
            BusError::Invalid { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_is_retryable() {
        for (err, want) in [
            (BusError::invalid("subject `x`", "bad"), false),
            (BusError::PayloadTooLarge { size: 2, max: 1 }, false),
            (BusError::ConsumerNotFound { name: "c".into() }, false),
            (
                BusError::Unavailable {
                    reason: "disk full".into(),
                },
                true,
            ),
            (BusError::Closed, false),
            (BusError::Corrupt { what: "x".into() }, false),
            (BusError::Internal { reason: "x".into() }, false),
        ] {
            assert_eq!(err.is_retryable(), want, "{err}");
        }
    }
}
