//! The scenarios on one machine's backends: the embedded bus and the SQLite store, shared by
//! the controller and the workers of the test (one process, as in `switchyard up`).

#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use std::sync::Arc;
use switchyard_bus::{EventBus, Limits};
use switchyard_bus_embedded::EmbeddedBus;
use switchyard_store::Store;
use switchyard_store_sqlite::SqliteStore;

struct Embedded {
    bus: Arc<EmbeddedBus>,
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

impl Embedded {
    async fn open() -> Option<Embedded> {
        let dir = tempfile::tempdir().unwrap();
        let bus = EmbeddedBus::open(&dir.path().join("bus"), Limits::default()).unwrap();
        let store = SqliteStore::open(&dir.path().join("state.db"), common::sealer()).unwrap();
        Some(Embedded {
            bus: Arc::new(bus),
            store: Arc::new(store),
            _dir: dir,
        })
    }
}

#[async_trait]
impl common::Platform for Embedded {
    async fn bus(&self) -> Arc<dyn EventBus> {
        self.bus.clone()
    }

    async fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }
}

scenarios!(Embedded::open());
