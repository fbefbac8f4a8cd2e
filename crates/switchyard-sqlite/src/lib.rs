//! The SQLite plumbing shared by the store and the embedded bus.
//!
//! Both keep their data in SQLite files they own: WAL journal, `synchronous=FULL` (a commit
//! that returned is on disk), numbered migrations applied at open in one transaction, and the
//! same rule for classifying SQLite's failures. Each backend maps a [`Failure`] onto its own
//! port's error type, so the ports stay independent of SQLite.
//!
//! Migrations: all pending steps run in one `BEGIN IMMEDIATE` transaction, each recorded in a
//! `migrations` table; a crash midway leaves the file as it was. A file that records a step
//! this build does not know was written by a newer Switchyard and is refused rather than
//! guessed at.

#![cfg_attr(test, allow(clippy::unwrap_used))]

use rusqlite::{Connection, ErrorCode, OpenFlags, ToSql, params};
use std::fmt;
use std::path::Path;
use std::time::Duration;

pub const BEGIN: &str = "BEGIN IMMEDIATE";
pub const COMMIT: &str = "COMMIT";
pub const ROLLBACK: &str = "ROLLBACK";

/// How long a statement waits for another connection's lock before failing as busy.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What a failure means to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// A retry can cure it: disk full, I/O error, busy or locked, cannot open right now.
    Unavailable,
    /// The file is damaged, or was written by a newer Switchyard.
    Corrupt,
    /// Anything else: a bug.
    Internal,
}

/// A classified SQLite failure with a sentence saying what was being done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: FailureClass,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Classifies a rusqlite error; `doing` completes "SQLite failed while ...".
pub fn classify(e: &rusqlite::Error, doing: &str) -> Failure {
    let code = match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    };
    let (class, message) = match code {
        Some(ErrorCode::DiskFull) => (
            FailureClass::Unavailable,
            format!("the disk is full while {doing} ({e})"),
        ),
        Some(
            ErrorCode::SystemIoFailure
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied,
        ) => (
            FailureClass::Unavailable,
            format!("SQLite failed while {doing}: {e}"),
        ),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => (
            FailureClass::Corrupt,
            format!("SQLite failed while {doing}: {e}"),
        ),
        _ => (
            FailureClass::Internal,
            format!("SQLite failed while {doing}: {e}"),
        ),
    };
    Failure { class, message }
}

/// Options for [`open_writer`].
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Enforce foreign keys (`PRAGMA foreign_keys=ON`).
    pub foreign_keys: bool,
    /// What the file is, for messages: "the database", "the bus".
    pub what: &'static str,
}

/// Opens the read-write connection: WAL, `synchronous=FULL`, busy timeout, and foreign keys
/// when asked. FULL: every commit fsyncs the WAL, so a write that returned is on disk.
pub fn open_writer(path: &Path, options: WriterOptions) -> Result<Connection, Failure> {
    let doing = format!("opening {}", path.display());
    let conn = Connection::open(path).map_err(|e| classify(&e, &doing))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| classify(&e, &doing))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| classify(&e, &format!("switching {} to WAL mode", path.display())))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Failure {
            class: FailureClass::Unavailable,
            message: format!(
                "{} cannot use write-ahead logging (journal mode is `{mode}`); put {} on a local file system",
                path.display(),
                options.what
            ),
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| classify(&e, &doing))?;
    if options.foreign_keys {
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| classify(&e, &doing))?;
    }
    Ok(conn)
}

/// Opens a read-only connection for a reader pool.
pub fn open_reader(path: &Path) -> Result<Connection, Failure> {
    let doing = format!("opening {} for reading", path.display());
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| classify(&e, &doing))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| classify(&e, &doing))?;
    Ok(conn)
}

/// One schema step. Versions are 1, 2, 3, ... with no gaps; a step is never edited once
/// released: change the schema by adding a step.
#[derive(Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

const CREATE_MIGRATIONS_TABLE: &str = "
    CREATE TABLE IF NOT EXISTS migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT    NOT NULL,
        applied_at         NOT NULL
    )";
const SELECT_MIGRATIONS: &str = "SELECT version FROM migrations ORDER BY version";
const INSERT_MIGRATION: &str =
    "INSERT INTO migrations (version, name, applied_at) VALUES (?1, ?2, ?3)";

/// Applies every pending step of `migrations` in one transaction and returns how many were
/// applied. `schema` names the schema in messages ("schema", "bus schema"); `applied_at` is
/// recorded with each step in the owner's time format.
pub fn migrate(
    conn: &Connection,
    path: &Path,
    migrations: &[Migration],
    schema: &str,
    applied_at: &dyn ToSql,
) -> Result<usize, Failure> {
    let doing = format!("migrating {}", path.display());
    conn.execute_batch(BEGIN)
        .map_err(|e| classify(&e, &doing))?;
    let result = apply_pending(conn, path, migrations, schema, applied_at, &doing);
    let finish = match &result {
        Ok(_) => conn.execute_batch(COMMIT),
        Err(_) => conn.execute_batch(ROLLBACK),
    };
    match (result, finish) {
        (Ok(n), Ok(())) => Ok(n),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(classify(&e, &doing)),
    }
}

fn apply_pending(
    conn: &Connection,
    path: &Path,
    migrations: &[Migration],
    schema: &str,
    applied_at: &dyn ToSql,
    doing: &str,
) -> Result<usize, Failure> {
    conn.execute_batch(CREATE_MIGRATIONS_TABLE)
        .map_err(|e| classify(&e, doing))?;
    let applied: Vec<i64> = {
        let mut stmt = conn
            .prepare(SELECT_MIGRATIONS)
            .map_err(|e| classify(&e, doing))?;
        let rows = stmt
            .query_map([], |row| row.get(0))
            .map_err(|e| classify(&e, doing))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| classify(&e, doing))?
    };
    let known = migrations.last().map_or(0, |m| m.version);
    if let Some(&newest) = applied.last()
        && newest > known
    {
        return Err(Failure {
            class: FailureClass::Corrupt,
            message: format!(
                "{} has {schema} version {newest}, but this build of Switchyard knows versions up to {known}; \
                 run a newer Switchyard, or restore a backup taken with this version",
                path.display()
            ),
        });
    }
    let expected: Vec<i64> = (1..=applied.len() as i64).collect();
    if applied != expected {
        return Err(Failure {
            class: FailureClass::Corrupt,
            message: format!(
                "{} records {schema} versions {applied:?}; expected 1 to {} without gaps",
                path.display(),
                applied.len()
            ),
        });
    }
    let pending = migrations.get(applied.len()..).unwrap_or(&[]);
    for m in pending {
        let doing = format!(
            "applying migration {} ({}) to {}",
            m.version,
            m.name,
            path.display()
        );
        conn.execute_batch(m.sql)
            .map_err(|e| classify(&e, &doing))?;
        conn.execute(INSERT_MIGRATION, params![m.version, m.name, applied_at])
            .map_err(|e| classify(&e, &doing))?;
    }
    Ok(pending.len())
}

/// Checks that a backend's steps are numbered 1, 2, 3, ... (for its unit tests).
pub fn check_numbering(migrations: &[Migration]) -> Result<(), String> {
    for (i, m) in migrations.iter().enumerate() {
        if m.version != i as i64 + 1 {
            return Err(format!(
                "migration `{}` has version {}; expected {}",
                m.name,
                m.version,
                i + 1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some("what SQLite said".to_owned()))
    }

    #[test]
    fn classes() {
        for (code, class) in [
            (ffi::SQLITE_FULL, FailureClass::Unavailable),
            (ffi::SQLITE_IOERR, FailureClass::Unavailable),
            (ffi::SQLITE_IOERR_FSYNC, FailureClass::Unavailable),
            (ffi::SQLITE_BUSY, FailureClass::Unavailable),
            (ffi::SQLITE_CORRUPT, FailureClass::Corrupt),
            (ffi::SQLITE_NOTADB, FailureClass::Corrupt),
            (ffi::SQLITE_CONSTRAINT, FailureClass::Internal),
        ] {
            assert_eq!(
                classify(&failure(code), "testing").class,
                class,
                "code {code}"
            );
        }
        assert_eq!(
            classify(&failure(ffi::SQLITE_FULL), "committing").message,
            "the disk is full while committing (what SQLite said)"
        );
    }

    const STEPS: &[Migration] = &[
        Migration {
            version: 1,
            name: "one table",
            sql: "CREATE TABLE a (x INTEGER)",
        },
        Migration {
            version: 2,
            name: "another",
            sql: "CREATE TABLE b (y INTEGER)",
        },
    ];

    fn open(dir: &tempfile::TempDir) -> (Connection, std::path::PathBuf) {
        let path = dir.path().join("t.db");
        let options = WriterOptions {
            foreign_keys: true,
            what: "the test file",
        };
        (open_writer(&path, options).unwrap(), path)
    }

    #[test]
    fn migrations_apply_once_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, path) = open(&dir);
        assert_eq!(migrate(&conn, &path, &STEPS[..1], "schema", &0).unwrap(), 1);
        assert_eq!(migrate(&conn, &path, STEPS, "schema", &0).unwrap(), 1);
        assert_eq!(migrate(&conn, &path, STEPS, "schema", &0).unwrap(), 0);
        conn.execute("INSERT INTO b (y) VALUES (1)", []).unwrap();
        check_numbering(STEPS).unwrap();
    }

    #[test]
    fn a_newer_file_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, path) = open(&dir);
        migrate(&conn, &path, STEPS, "bus schema", &0).unwrap();
        let err = migrate(&conn, &path, &STEPS[..1], "bus schema", &0).unwrap_err();
        assert_eq!(err.class, FailureClass::Corrupt);
        assert!(
            err.message.contains("has bus schema version 2")
                && err.message.contains("knows versions up to 1"),
            "{err}"
        );
    }

    #[test]
    fn a_failing_step_rolls_back_every_pending_step() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, path) = open(&dir);
        let broken = [
            Migration {
                version: 1,
                name: "fine",
                sql: "CREATE TABLE a (x INTEGER)",
            },
            Migration {
                version: 2,
                name: "broken",
                sql: "CREATE TABLE a (x INTEGER)",
            },
        ];
        let err = migrate(&conn, &path, &broken, "schema", &0).unwrap_err();
        assert!(
            err.message.contains("applying migration 2 (broken)"),
            "{err}"
        );
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('a', 'migrations')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0);
    }

    #[test]
    fn misnumbered_steps_are_found() {
        let steps = [Migration {
            version: 2,
            name: "first",
            sql: "",
        }];
        assert!(check_numbering(&steps).unwrap_err().contains("expected 1"));
    }
}
