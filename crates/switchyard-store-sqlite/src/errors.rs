//! How SQLite's failures map onto the port's error classes.
//!
//! The rule: what a retry can cure (disk full, I/O errors, a busy or locked database, a file
//! that cannot be opened right now) is [`StoreError::Unavailable`]; a damaged file is
//! [`StoreError::Corrupt`]; anything else is a bug, [`StoreError::Internal`].

use rusqlite::ErrorCode;
use switchyard_store::StoreError;

/// Maps a rusqlite error; `doing` completes "SQLite failed while ...".
pub(crate) fn map(e: rusqlite::Error, doing: &str) -> StoreError {
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    };
    match code {
        Some(ErrorCode::DiskFull) => StoreError::Unavailable {
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
        ) => StoreError::Unavailable {
            reason: format!("SQLite failed while {doing}: {e}"),
        },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
            what: format!("SQLite failed while {doing}: {e}"),
        },
        _ => StoreError::Internal {
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
        for (code, retryable, class) in [
            (ffi::SQLITE_FULL, true, "unavailable"),
            (ffi::SQLITE_IOERR, true, "unavailable"),
            (ffi::SQLITE_IOERR_FSYNC, true, "unavailable"),
            (ffi::SQLITE_BUSY, true, "unavailable"),
            (ffi::SQLITE_CORRUPT, false, "corrupt"),
            (ffi::SQLITE_NOTADB, false, "corrupt"),
            (ffi::SQLITE_CONSTRAINT, false, "internal"),
        ] {
            let err = map(failure(code), "testing");
            let got = match err {
                StoreError::Unavailable { .. } => "unavailable",
                StoreError::Corrupt { .. } => "corrupt",
                StoreError::Internal { .. } => "internal",
                _ => "other",
            };
            assert_eq!((got, err.is_retryable()), (class, retryable), "code {code}");
        }
        assert_eq!(
            map(failure(rusqlite::ffi::SQLITE_FULL), "committing").to_string(),
            "store unavailable: the disk is full while committing (what SQLite said); retry later"
        );
    }
}
