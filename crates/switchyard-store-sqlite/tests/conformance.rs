//! The Store conformance suite, run against a SQLite store in a temporary directory.

#![allow(clippy::unwrap_used)]

use switchyard_store::SecretSealer;
use switchyard_store_sqlite::SqliteStore;

switchyard_store::store_conformance_tests!(async {
    let dir = tempfile::tempdir().unwrap();
    let sealer = SecretSealer::load_or_create(dir.path()).unwrap();
    let store = SqliteStore::open(&dir.path().join("state").join("switchyard.db"), sealer).unwrap();
    (store, dir)
});

switchyard_store::ledger_conformance_tests!(async {
    let dir = tempfile::tempdir().unwrap();
    let sealer = SecretSealer::load_or_create(dir.path()).unwrap();
    let store = SqliteStore::open(&dir.path().join("switchyard.db"), sealer).unwrap();
    (store, dir)
});
