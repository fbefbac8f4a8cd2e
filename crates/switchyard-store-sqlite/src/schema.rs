//! Opening a connection the way the store needs it, and bringing the schema up to date.
//!
//! Migrations run at open, all pending steps in one `BEGIN IMMEDIATE` transaction, each
//! recorded in the `migrations` table; a crash midway leaves the database as it was. A
//! database that records a step this build does not know was written by a newer Switchyard
//! and is refused rather than guessed at.

use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;
use std::time::Duration;
use switchyard_store::StoreError;
use switchyard_store::rules;

use crate::errors::map;
use crate::sql::{self, MIGRATIONS};

/// How long a statement waits for another process's lock before failing as busy.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the read-write connection: WAL, `synchronous=FULL`, foreign keys, busy timeout.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let doing = format!("opening {}", path.display());
    let conn = Connection::open(path).map_err(|e| map(e, &doing))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| map(e, &doing))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| map(e, &format!("switching {} to WAL mode", path.display())))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable {
            reason: format!(
                "{} cannot use write-ahead logging (journal mode is `{mode}`); put the database on a local file system",
                path.display()
            ),
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| map(e, &doing))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| map(e, &doing))?;
    Ok(conn)
}

/// Opens a read-only connection for the reader pool.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let doing = format!("opening {} for reading", path.display());
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| map(e, &doing))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| map(e, &doing))?;
    Ok(conn)
}

/// Applies every pending migration in one transaction; returns how many were applied.
pub(crate) fn migrate(conn: &Connection, path: &Path) -> Result<usize, StoreError> {
    let doing = format!("migrating {}", path.display());
    conn.execute_batch(sql::BEGIN).map_err(|e| map(e, &doing))?;
    let result = apply_pending(conn, path, &doing);
    let finish = match &result {
        Ok(_) => conn.execute_batch(sql::COMMIT),
        Err(_) => conn.execute_batch(sql::ROLLBACK),
    };
    match (result, finish) {
        (Ok(n), Ok(())) => Ok(n),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(map(e, &doing)),
    }
}

fn apply_pending(conn: &Connection, path: &Path, doing: &str) -> Result<usize, StoreError> {
    conn.execute_batch(sql::CREATE_MIGRATIONS_TABLE)
        .map_err(|e| map(e, doing))?;
    let applied: Vec<i64> = {
        let mut stmt = conn
            .prepare(sql::SELECT_MIGRATIONS)
            .map_err(|e| map(e, doing))?;
        let rows = stmt
            .query_map([], |row| row.get(0))
            .map_err(|e| map(e, doing))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| map(e, doing))?
    };
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(&newest) = applied.last()
        && newest > known
    {
        return Err(StoreError::Corrupt {
            what: format!(
                "{} has schema version {newest}, but this build of Switchyard knows versions up to {known}; \
                 run a newer Switchyard, or restore a backup taken with this version",
                path.display()
            ),
        });
    }
    let expected: Vec<i64> = (1..=applied.len() as i64).collect();
    if applied != expected {
        return Err(StoreError::Corrupt {
            what: format!(
                "{} records schema versions {applied:?}; expected 1 to {} without gaps",
                path.display(),
                applied.len()
            ),
        });
    }
    let pending = MIGRATIONS.get(applied.len()..).unwrap_or(&[]);
    for m in pending {
        let doing = format!(
            "applying migration {} ({}) to {}",
            m.version,
            m.name,
            path.display()
        );
        conn.execute_batch(m.sql).map_err(|e| map(e, &doing))?;
        conn.execute(
            sql::INSERT_MIGRATION,
            params![m.version, m.name, rules::format_timestamp(&rules::now())],
        )
        .map_err(|e| map(e, &doing))?;
    }
    Ok(pending.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
    }
}
