//! How SQLite's failures map onto the port's error classes (`switchyard-sqlite` classifies
//! them): what a retry can cure is [`StoreError::Unavailable`]; a damaged file is
//! [`StoreError::Corrupt`]; anything else is a bug, [`StoreError::Internal`].

use switchyard_sqlite::{Failure, FailureClass};
use switchyard_store::StoreError;

/// Maps a rusqlite error; `doing` completes "SQLite failed while ...".
pub(crate) fn map(e: rusqlite::Error, doing: &str) -> StoreError {
    lift(switchyard_sqlite::classify(&e, doing))
}

/// Maps a classified failure onto the port's error.
pub(crate) fn lift(f: Failure) -> StoreError {
    match f.class {
        FailureClass::Unavailable => StoreError::Unavailable { reason: f.message },
        FailureClass::Corrupt => StoreError::Corrupt { what: f.message },
        FailureClass::Internal => StoreError::Internal { reason: f.message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_is_retryable() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("what SQLite said".to_owned()),
        );
        let err = map(full, "committing");
        assert!(err.is_retryable());
        assert_eq!(
            err.to_string(),
            "store unavailable: the disk is full while committing (what SQLite said); retry later"
        );
        let corrupt = lift(Failure {
            class: FailureClass::Corrupt,
            message: "damaged".into(),
        });
        assert!(matches!(corrupt, StoreError::Corrupt { .. }) && !corrupt.is_retryable());
    }
}
