//! Opening a connection the way the bus needs it, and bringing the schema up to date
//! (`switchyard-sqlite` holds the rules; the bus adds its migrations).

use rusqlite::Connection;
use std::path::Path;
use switchyard_bus::BusError;
use switchyard_sqlite::WriterOptions;

use crate::errors::lift;
use crate::sql::MIGRATIONS;

/// Opens the read-write connection: WAL, `synchronous=FULL` (a publish or ack that returned
/// is on disk), busy timeout. Only the bus itself opens the file (a lock file keeps other
/// processes out), so lock waits are short: a checkpoint.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, BusError> {
    let options = WriterOptions {
        foreign_keys: false,
        what: "the bus",
    };
    switchyard_sqlite::open_writer(path, options).map_err(lift)
}

/// Opens a read-only connection for the reader pool.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, BusError> {
    switchyard_sqlite::open_reader(path).map_err(lift)
}

/// Applies every pending migration in one transaction; returns how many were applied.
pub(crate) fn migrate(conn: &Connection, path: &Path, now_nanos: i64) -> Result<usize, BusError> {
    switchyard_sqlite::migrate(conn, path, MIGRATIONS, "bus schema", &now_nanos).map_err(lift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        switchyard_sqlite::check_numbering(MIGRATIONS).unwrap();
    }
}
