//! The scenarios on the distributed backends: NATS JetStream (a stream and subject prefix of
//! the test's own, deleted afterwards) and PostgreSQL (a schema of the test's own, dropped
//! afterwards). Every worker and controller opens its own connections, as separate processes
//! would.
//!
//! The servers are `nats://127.0.0.1:4222` and `postgres://postgres@127.0.0.1:5432/test`
//! unless `SWITCHYARD_TEST_NATS_URL` / `SWITCHYARD_TEST_POSTGRES_URL` say otherwise. When one
//! cannot be reached each test says it was skipped, except with `CI=true`, where it fails.

#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;
use switchyard_bus::{EventBus, Limits};
use switchyard_bus_jetstream::{JetStreamBus, JetStreamConfig};
use switchyard_store::Store;
use switchyard_store_postgres::{PostgresConfig, PostgresStore};

const NATS_ENV: &str = "SWITCHYARD_TEST_NATS_URL";
const NATS_DEFAULT: &str = "nats://127.0.0.1:4222";
const POSTGRES_ENV: &str = "SWITCHYARD_TEST_POSTGRES_URL";
const POSTGRES_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Says a test was skipped (on the process's stderr, which the test runner does not
/// capture), or fails it on CI.
fn unreachable(what: &str, url: &str, why: &str, env: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a distributed worker test")
        .to_owned();
    if in_ci() {
        panic!(
            "{what} at {url} is unreachable ({why}), and CI=true requires it: start it, or set {env}"
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: {what} at {url} is unreachable ({why}); set {env}, or CI=true to fail instead"
    );
}

async fn probe_nats(url: &str) -> Result<(), String> {
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

async fn probe_postgres(url: &str) -> Result<tokio_postgres::Client, String> {
    let connect = tokio_postgres::connect(url, tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| "no answer within 5 s".to_owned())?
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(client)
}

struct Distributed {
    nats: String,
    stream: String,
    prefix: String,
    postgres: String,
    schema: String,
}

impl Distributed {
    async fn open() -> Option<Distributed> {
        let nats = std::env::var(NATS_ENV).unwrap_or_else(|_| NATS_DEFAULT.to_owned());
        let postgres = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| POSTGRES_DEFAULT.to_owned());
        if let Err(why) = probe_nats(&nats).await {
            unreachable("NATS", &nats, &why, NATS_ENV);
            return None;
        }
        if let Err(why) = probe_postgres(&postgres).await {
            unreachable("PostgreSQL", &postgres, &why, POSTGRES_ENV);
            return None;
        }
        let suffix = format!("{:016x}", rand::random::<u64>());
        Some(Distributed {
            nats,
            stream: format!("SYWORKER_{suffix}"),
            prefix: format!("syworker.{suffix}"),
            postgres,
            schema: format!("sy_worker_{suffix}"),
        })
    }

    async fn clean_up(nats: String, stream: String, postgres: String, schema: String) {
        if let Ok(client) = async_nats::connect(nats.as_str()).await
            && let Err(e) = async_nats::jetstream::new(client)
                .delete_stream(&stream)
                .await
        {
            eprintln!("could not delete test stream {stream}: {e}");
        }
        match probe_postgres(&postgres).await {
            Ok(client) => {
                if let Err(e) = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
                {
                    eprintln!("could not drop test schema {schema}: {e}");
                }
            }
            Err(e) => eprintln!("could not drop test schema {schema}: {e}"),
        }
    }
}

impl Drop for Distributed {
    fn drop(&mut self) {
        let work = Self::clean_up(
            self.nats.clone(),
            self.stream.clone(),
            self.postgres.clone(),
            self.schema.clone(),
        );
        // Dropped inside the test's runtime, which cannot be blocked on: a thread with a
        // runtime of its own does the work.
        let done = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(work);
            }
        })
        .join();
        if done.is_err() {
            eprintln!("cleaning up test stream {} panicked", self.stream);
        }
    }
}

#[async_trait]
impl common::Platform for Distributed {
    async fn bus(&self) -> Arc<dyn EventBus> {
        let config = JetStreamConfig::new(self.nats.clone(), self.stream.clone())
            .with_subject_prefix(self.prefix.clone());
        Arc::new(
            JetStreamBus::connect(config, Limits::default())
                .await
                .unwrap(),
        )
    }

    async fn store(&self) -> Arc<dyn Store> {
        let mut config = PostgresConfig::new(self.postgres.clone(), self.schema.clone());
        config.max_connections = 3;
        match PostgresStore::connect(&config, common::sealer()).await {
            Ok(store) => Arc::new(store),
            Err(e) => panic!("connecting to PostgreSQL, schema {}: {e}", self.schema),
        }
    }
}

scenarios!(Distributed::open());
