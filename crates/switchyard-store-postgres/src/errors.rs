//! How PostgreSQL's failures map onto the port's error classes, and which of them the pool
//! may retry by itself.
//!
//! The rule, as for SQLite: what a retry can cure (a lost connection, a server shutting down
//! or starting, too many connections, a full disk, a serialization failure) is
//! [`StoreError::Unavailable`]; damaged data, or tables changed behind the store's back, is
//! [`StoreError::Corrupt`]; anything else is a bug, [`StoreError::Internal`].

use std::error::Error as _;
use switchyard_store::StoreError;
use tokio_postgres::error::SqlState;

/// A failed step of a store call: the error the caller will see, and what the pool may do
/// about it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: StoreError,
    pub cause: Cause,
}

/// Why a step failed, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// Anything else: the caller hears of it.
    Final,
    /// The connection broke (or was never made). Whatever the transaction did is gone, unless
    /// the break came while committing; the connection must not be reused.
    Lost,
    /// The server rolled the transaction back to resolve a serialization failure or a
    /// deadlock; running it again from the start is safe.
    Rolled,
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure {
            error,
            cause: Cause::Final,
        }
    }
}

/// Maps a tokio-postgres error; `doing` completes "PostgreSQL failed while ...".
pub(crate) fn map(e: tokio_postgres::Error, doing: &str) -> Failure {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        let text = format!(
            "PostgreSQL failed while {doing}: {db} (SQLSTATE {})",
            code.code()
        );
        return classify_code(code, text);
    }
    let text = match e.source() {
        Some(source) => format!("PostgreSQL failed while {doing}: {e}: {source}"),
        None => format!("PostgreSQL failed while {doing}: {e}"),
    };
    if connection_broke(&e) {
        return Failure {
            error: StoreError::Unavailable { reason: text },
            cause: Cause::Lost,
        };
    }
    if e.to_string() == "authentication error" {
        return Failure {
            error: StoreError::Unavailable { reason: text },
            cause: Cause::Final,
        };
    }
    Failure {
        error: StoreError::Internal { reason: text },
        cause: Cause::Final,
    }
}

/// True when the error says the connection itself failed (closed, I/O, timed out, or the
/// protocol went astray), rather than a statement.
fn connection_broke(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let mut source = e.source();
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    // These kinds carry no I/O error to recognise them by; tokio-postgres names them only in
    // its messages.
    matches!(
        e.to_string().as_str(),
        "timeout waiting for server"
            | "unexpected message from server"
            | "error performing TLS handshake"
            | "error connecting to server"
            | "error communicating with the server"
    )
}

fn classify_code(code: &SqlState, text: String) -> Failure {
    let unavailable = |cause| Failure {
        error: StoreError::Unavailable {
            reason: text.clone(),
        },
        cause,
    };
    let class = &code.code()[..2.min(code.code().len())];
    if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        return unavailable(Cause::Rolled);
    }
    // The session is over: a connection exception, the server shutting down or not yet
    // accepting (a restart), an administrator's pg_terminate_backend, or a timeout that ended
    // the session.
    if class == "08"
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
        || *code == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT
        || *code == SqlState::IDLE_SESSION_TIMEOUT
    {
        return unavailable(Cause::Lost);
    }
    // Resources (disk full, out of memory, too many connections), system I/O errors, a
    // cancelled or lock-timed-out statement, a read-only server (a standby, or one in
    // recovery), a database that does not exist yet, credentials refused: a retry later may
    // succeed, no retry now will.
    if class == "53"
        || class == "58"
        || class == "28"
        || *code == SqlState::QUERY_CANCELED
        || *code == SqlState::LOCK_NOT_AVAILABLE
        || *code == SqlState::READ_ONLY_SQL_TRANSACTION
        || *code == SqlState::INVALID_CATALOG_NAME
    {
        return unavailable(Cause::Final);
    }
    if *code == SqlState::DATA_CORRUPTED || *code == SqlState::INDEX_CORRUPTED {
        return Failure {
            error: StoreError::Corrupt { what: text },
            cause: Cause::Final,
        };
    }
    // A table, column or schema this build relies on is missing: someone changed the
    // schema behind the store's back.
    if *code == SqlState::UNDEFINED_TABLE
        || *code == SqlState::UNDEFINED_COLUMN
        || *code == SqlState::INVALID_SCHEMA_NAME
    {
        return Failure {
            error: StoreError::Corrupt {
                what: format!(
                    "{text}; the store's tables were changed or dropped outside Switchyard"
                ),
            },
            cause: Cause::Final,
        };
    }
    Failure {
        error: StoreError::Internal { reason: text },
        cause: Cause::Final,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for (code, class, cause) in [
            (
                SqlState::T_R_SERIALIZATION_FAILURE,
                "unavailable",
                Cause::Rolled,
            ),
            (
                SqlState::T_R_DEADLOCK_DETECTED,
                "unavailable",
                Cause::Rolled,
            ),
            (SqlState::ADMIN_SHUTDOWN, "unavailable", Cause::Lost),
            (SqlState::CANNOT_CONNECT_NOW, "unavailable", Cause::Lost),
            (SqlState::CONNECTION_FAILURE, "unavailable", Cause::Lost),
            (SqlState::DISK_FULL, "unavailable", Cause::Final),
            (SqlState::TOO_MANY_CONNECTIONS, "unavailable", Cause::Final),
            (
                SqlState::READ_ONLY_SQL_TRANSACTION,
                "unavailable",
                Cause::Final,
            ),
            (SqlState::INVALID_PASSWORD, "unavailable", Cause::Final),
            (SqlState::DATA_CORRUPTED, "corrupt", Cause::Final),
            (SqlState::UNDEFINED_TABLE, "corrupt", Cause::Final),
            (SqlState::UNIQUE_VIOLATION, "internal", Cause::Final),
            (SqlState::SYNTAX_ERROR, "internal", Cause::Final),
        ] {
            let failure = classify_code(&code, "what PostgreSQL said".to_owned());
            let got = match failure.error {
                StoreError::Unavailable { .. } => "unavailable",
                StoreError::Corrupt { .. } => "corrupt",
                StoreError::Internal { .. } => "internal",
                _ => "other",
            };
            assert_eq!(
                (got, failure.cause, failure.error.is_retryable()),
                (class, cause, class == "unavailable"),
                "{}",
                code.code()
            );
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_lost_connection() {
        // Nothing listens on port 1: the connection is refused at once.
        let Err(e) = tokio_postgres::connect(
            "host=127.0.0.1 port=1 user=x connect_timeout=5",
            tokio_postgres::NoTls,
        )
        .await
        else {
            panic!("a connection to port 1 must fail");
        };
        let failure = map(e, "connecting");
        assert_eq!(failure.cause, Cause::Lost);
        assert!(failure.error.is_retryable());
        let text = failure.error.to_string();
        assert!(
            text.starts_with("store unavailable: PostgreSQL failed while connecting: error connecting to server: "),
            "{text}"
        );
    }
}
