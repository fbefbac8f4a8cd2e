//! A NATS server for the integration tests: each harness gets a stream and subject prefix of
//! its own (a random suffix), reopens the same stream on every `open`, and deletes the stream
//! when dropped.
//!
//! The server is `nats://127.0.0.1:4222` unless `SWITCHYARD_TEST_NATS_URL` says otherwise.
//! When it cannot be reached a test is skipped (it says so and returns), except on CI
//! (`CI=true`), where the test fails: there the server is part of the environment.

#![allow(clippy::unwrap_used, dead_code)]

use std::sync::Arc;
use std::time::Duration;
use switchyard_bus::conformance::BusHarness;
use switchyard_bus::{BusError, EventBus, Limits};
use switchyard_bus_jetstream::{JetStreamBus, JetStreamConfig};

pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

pub fn nats_url() -> String {
    std::env::var("SWITCHYARD_TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

pub struct NatsHarness {
    url: String,
    stream: String,
    prefix: String,
}

impl NatsHarness {
    /// A harness on a fresh stream, or `None` (after saying why) when NATS is unreachable
    /// outside CI. On CI an unreachable server fails the test.
    pub async fn start() -> Option<NatsHarness> {
        // libtest names each test's thread after the test; `block_on` runs the test there.
        let current = std::thread::current();
        let test = current.name().unwrap_or("this test");
        let url = nats_url();
        let probe = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .connect(url.as_str())
            .await;
        match probe {
            Ok(client) => drop(client),
            Err(e) if on_ci() => {
                panic!("NATS at {url} is unreachable on CI (CI=true), so {test} cannot run: {e}")
            }
            Err(e) => {
                println!(
                    "skipped {test}: NATS at {url} is unreachable ({e}); start nats-server with \
                     JetStream (`nats-server -js`) or set SWITCHYARD_TEST_NATS_URL"
                );
                return None;
            }
        }
        let suffix = format!("{:016x}", rand::random::<u64>());
        Some(NatsHarness {
            url,
            stream: format!("SYTEST_{suffix}"),
            prefix: format!("sytest.{suffix}"),
        })
    }

    pub fn config(&self) -> JetStreamConfig {
        JetStreamConfig::new(self.url.clone(), self.stream.clone())
            .with_subject_prefix(self.prefix.clone())
    }

    pub async fn connect(&self, limits: Limits) -> Result<JetStreamBus, BusError> {
        JetStreamBus::connect(self.config(), limits).await
    }

    async fn delete_stream(url: String, stream: String) {
        let Ok(client) = async_nats::connect(url.as_str()).await else {
            return;
        };
        let js = async_nats::jetstream::new(client);
        if let Err(e) = js.delete_stream(&stream).await {
            eprintln!("could not delete test stream {stream}: {e}");
        }
    }
}

#[async_trait::async_trait]
impl BusHarness for NatsHarness {
    async fn open(&self, limits: Limits) -> Result<Arc<dyn EventBus>, BusError> {
        Ok(Arc::new(self.connect(limits).await?))
    }
}

impl Drop for NatsHarness {
    fn drop(&mut self) {
        let cleanup = Self::delete_stream(self.url.clone(), self.stream.clone());
        // Dropped at the end of an async test: block this worker for the clean-up when the
        // runtime allows it, else use a runtime of its own on another thread.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| handle.block_on(cleanup));
            }
            _ => {
                let worker = std::thread::spawn(move || {
                    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        runtime.block_on(cleanup);
                    }
                });
                let _ = worker.join();
            }
        }
    }
}
