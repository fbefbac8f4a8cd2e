//! Opening a connection the way the store needs it, and bringing the schema up to date
//! (`switchyard-sqlite` holds the rules; the store adds foreign keys and its migrations).

use rusqlite::Connection;
use std::path::Path;
use switchyard_sqlite::WriterOptions;
use switchyard_store::StoreError;
use switchyard_store::rules;

use crate::errors::lift;
use crate::sql::MIGRATIONS;

/// Opens the read-write connection: WAL, `synchronous=FULL`, foreign keys, busy timeout.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let options = WriterOptions {
        foreign_keys: true,
        what: "the database",
    };
    switchyard_sqlite::open_writer(path, options).map_err(lift)
}

/// Opens a read-only connection for the reader pool.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    switchyard_sqlite::open_reader(path).map_err(lift)
}

/// Applies every pending migration in one transaction; returns how many were applied.
pub(crate) fn migrate(conn: &Connection, path: &Path) -> Result<usize, StoreError> {
    let applied_at = rules::format_timestamp(&rules::now());
    switchyard_sqlite::migrate(conn, path, MIGRATIONS, "schema", &applied_at).map_err(lift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        switchyard_sqlite::check_numbering(MIGRATIONS).unwrap();
    }
}
