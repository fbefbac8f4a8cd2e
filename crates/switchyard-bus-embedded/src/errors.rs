//! How SQLite's failures map onto the port's error classes.
//!
//! The rule: what a retry can cure (disk full, I/O errors, a busy or locked database, a file
//! that cannot be opened right now) is [`BusError::Unavailable`]; a damaged file is
//! [`BusError::Corrupt`]; anything else is a bug, [`BusError::Internal`].

use rusqlite::ErrorCode;
use switchyard_bus::BusError;

/// Maps a rusqlite error; `doing` completes "SQLite failed while ...".
pub(crate) fn map(e: rusqlite::Error, doing: &str) -> BusError {
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    };
    match code {
        Some(ErrorCode::DiskFull) => BusError::Unavailable {
            reason: format!("the disk is full while {doing} ({e})"),
        },
        Some(
            ErrorCode::SystemIoFailure
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied,
        ) => BusError::Unavailable {
            reason: format!("SQLite failed while {doing}: {e}"),
        },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => BusError::Corrupt {
            what: format!("SQLite failed while {doing}: {e}"),
        },
        _ => BusError::Internal {
            reason: format!("SQLite failed while {doing}: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            Some("what SQLite said".to_owned()),
        )
    }

    #[test]
    fn classes() {
        use rusqlite::ffi;
        for (code, class) in [
            (ffi::SQLITE_FULL, "unavailable"),
            (ffi::SQLITE_IOERR, "unavailable"),
            (ffi::SQLITE_IOERR_FSYNC, "unavailable"),
            (ffi::SQLITE_BUSY, "unavailable"),
            (ffi::SQLITE_CORRUPT, "corrupt"),
            (ffi::SQLITE_NOTADB, "corrupt"),
            (ffi::SQLITE_CONSTRAINT, "internal"),
        ] {
            let err = map(failure(code), "testing");
            let got = match err {
                BusError::Unavailable { .. } => "unavailable",
                BusError::Corrupt { .. } => "corrupt",
                BusError::Internal { .. } => "internal",
                _ => "other",
            };
            assert_eq!(got, class, "code {code}");
            assert_eq!(err.is_retryable(), class == "unavailable", "code {code}");
        }
        assert_eq!(
            map(failure(ffi::SQLITE_FULL), "committing").to_string(),
            "event bus unavailable: the disk is full while committing (what SQLite said); retry later"
        );
    }
}
