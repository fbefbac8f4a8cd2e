//! The EventBus conformance suite, run against an embedded bus in a temporary directory.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use switchyard_bus::conformance::BusHarness;
use switchyard_bus::{BusError, EventBus, Limits};
use switchyard_bus_embedded::EmbeddedBus;

/// A bus directory; each `open` opens (or reopens) the bus in it.
struct Dir(tempfile::TempDir);

#[async_trait::async_trait]
impl BusHarness for Dir {
    async fn open(&self, limits: Limits) -> Result<Arc<dyn EventBus>, BusError> {
        Ok(Arc::new(EmbeddedBus::open(
            &self.0.path().join("bus"),
            limits,
        )?))
    }
}

switchyard_bus::bus_conformance_tests!(async { Dir(tempfile::tempdir().unwrap()) });
