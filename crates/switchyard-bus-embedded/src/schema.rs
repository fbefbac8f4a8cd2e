//! Opening a connection the way the bus needs it, and bringing the schema up to date.
//!
//! Migrations run at open, all pending steps in one `BEGIN IMMEDIATE` transaction, each
//! recorded in the `migrations` table; a crash midway leaves the database as it was. A
//! database that records a step this build does not know was written by a newer Switchyard
//! and is refused rather than guessed at.

use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;
use std::time::Duration;
use switchyard_bus::BusError;

use crate::errors::map;
use crate::sql::{self, MIGRATIONS};

/// How long a statement waits for a lock before failing as busy. Only the bus itself opens
/// the file (a lock file keeps other processes out), so waits are short: a checkpoint.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the read-write connection: WAL, `synchronous=FULL`, busy timeout.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, BusError> {
    let doing = format!("opening {}", path.display());
    let conn = Connection::open(path).map_err(|e| map(e, &doing))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| map(e, &doing))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| map(e, &format!("switching {} to WAL mode", path.display())))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(BusError::Unavailable {
            reason: format!(
                "{} cannot use write-ahead logging (journal mode is `{mode}`); put the bus on a local file system",
                path.display()
            ),
        });
    }
    // FULL: every commit fsyncs the WAL, so a publish or ack that returned is on disk.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| map(e, &doing))?;
    Ok(conn)
}

/// Opens a read-only connection for the reader pool.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, BusError> {
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
pub(crate) fn migrate(conn: &Connection, path: &Path, now_nanos: i64) -> Result<usize, BusError> {
    let doing = format!("migrating {}", path.display());
    conn.execute_batch(sql::BEGIN).map_err(|e| map(e, &doing))?;
    let result = apply_pending(conn, path, &doing, now_nanos);
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

fn apply_pending(
    conn: &Connection,
    path: &Path,
    doing: &str,
    now_nanos: i64,
) -> Result<usize, BusError> {
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
        return Err(BusError::Corrupt {
            what: format!(
                "{} has bus schema version {newest}, but this build of Switchyard knows versions up to {known}; \
                 run a newer Switchyard, or restore a backup taken with this version",
                path.display()
            ),
        });
    }
    let expected: Vec<i64> = (1..=applied.len() as i64).collect();
    if applied != expected {
        return Err(BusError::Corrupt {
            what: format!(
                "{} records bus schema versions {applied:?}; expected 1 to {} without gaps",
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
        conn.execute(sql::INSERT_MIGRATION, params![m.version, m.name, now_nanos])
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
