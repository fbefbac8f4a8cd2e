//! The test harness: a store in a schema of its own (a random name), dropped when the test
//! ends, on the server named by `SWITCHYARD_TEST_POSTGRES_URL`.
//!
//! When the server cannot be reached, a test prints that it was skipped and passes, unless
//! `CI=true`: then it fails, so a CI run without PostgreSQL cannot pass by testing nothing.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write as _;
use switchyard_store::SecretSealer;
use switchyard_store_postgres::{PostgresConfig, PostgresStore};
use tokio::sync::OnceCell;

pub const URL_ENV: &str = "SWITCHYARD_TEST_POSTGRES_URL";
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn url() -> String {
    std::env::var(URL_ENV).unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Whether the server answered, asked once per test binary.
static REACHABLE: OnceCell<Result<(), String>> = OnceCell::const_new();

async fn probe(url: &str) -> Result<(), String> {
    let connect = tokio_postgres::connect(url, tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(std::time::Duration::from_secs(5), connect)
        .await
        .map_err(|_| "no answer within 5 s".to_owned())?
        .map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            format!("{e}{cause}")
        })?;
    tokio::spawn(connection);
    client
        .simple_query("SELECT 1")
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The server's URL, or `None` (having said so) when the test must be skipped.
pub async fn server() -> Option<String> {
    let url = url();
    let reachable = REACHABLE.get_or_init(|| probe(&url)).await;
    match reachable {
        Ok(()) => Some(url),
        Err(why) if in_ci() => panic!(
            "PostgreSQL at {url} is unreachable ({why}), and CI=true requires it: start it, or point \
             {URL_ENV} at one"
        ),
        Err(why) => {
            let test = std::thread::current()
                .name()
                .unwrap_or("a PostgreSQL test")
                .to_owned();
            // Written to the process's stderr, not through `eprintln!`, which the test runner
            // captures and shows only for failing tests: a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: PostgreSQL at {url} is unreachable ({why}); set {URL_ENV}, or CI=true to fail instead"
            );
            None
        }
    }
}

/// A fresh, unused schema name.
pub fn schema_name() -> String {
    format!("sy_test_{:016x}", rand::random::<u64>())
}

pub fn sealer() -> SecretSealer {
    SecretSealer::from_key([7; 32])
}

/// Drops its schema, and everything in it, when dropped.
pub struct SchemaGuard {
    pub url: String,
    pub schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread with a
        // runtime of its own does the work.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let client = raw(&url).await;
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.schema),
            Err(_) => eprintln!(
                "could not drop test schema {}: the thread panicked",
                self.schema
            ),
        }
    }
}

/// A plain connection to the server, outside any store (its connection task runs on the
/// current runtime).
pub async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// A store in a new schema, with the guard that drops the schema; `None` when skipped.
pub async fn store() -> Option<(PostgresStore, SchemaGuard)> {
    let url = server().await?;
    let schema = schema_name();
    let guard = SchemaGuard {
        url: url.clone(),
        schema: schema.clone(),
    };
    let store = connect(&url, &schema).await;
    Some((store, guard))
}

/// Another store on an existing schema (as another process would open it).
pub async fn connect(url: &str, schema: &str) -> PostgresStore {
    match PostgresStore::connect(&PostgresConfig::new(url, schema), sealer()).await {
        Ok(store) => store,
        Err(e) => panic!("connecting to {url}, schema {schema}: {e}"),
    }
}

/// `url` with one more connection parameter, in whichever form the URL has.
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{name}={value}")
    } else {
        format!("{url} {name}={value}")
    }
}
