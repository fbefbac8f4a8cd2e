//! How SQLite's failures map onto the port's error classes (`switchyard-sqlite` classifies
//! them): what a retry can cure is [`BusError::Unavailable`]; a damaged file is
//! [`BusError::Corrupt`]; anything else is a bug, [`BusError::Internal`].

use switchyard_bus::BusError;
use switchyard_sqlite::{Failure, FailureClass};

/// Maps a rusqlite error; `doing` completes "SQLite failed while ...".
pub(crate) fn map(e: rusqlite::Error, doing: &str) -> BusError {
    lift(switchyard_sqlite::classify(&e, doing))
}

/// Maps a classified failure onto the port's error.
pub(crate) fn lift(f: Failure) -> BusError {
    match f.class {
        FailureClass::Unavailable => BusError::Unavailable { reason: f.message },
        FailureClass::Corrupt => BusError::Corrupt { what: f.message },
        FailureClass::Internal => BusError::Internal { reason: f.message },
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
            "event bus unavailable: the disk is full while committing (what SQLite said); retry later"
        );
        let corrupt = lift(Failure {
            class: FailureClass::Corrupt,
            message: "damaged".into(),
        });
        assert!(matches!(corrupt, BusError::Corrupt { .. }) && !corrupt.is_retryable());
    }
}
