//! The [`Store`] and [`EventLedger`](switchyard_store::ledger::EventLedger) ports on
//! PostgreSQL: the backend for several Switchyard processes sharing one database.
//!
//! # Design
//!
//! - **Where.** A server URL and a schema ([`PostgresConfig`]). Every table lives in the
//!   schema, which is each connection's `search_path`, so several platforms or tests share a
//!   database without meeting. [`PostgresStore::connect`] creates the schema when absent.
//! - **Schema.** The SQLite store's tables, statement for statement (`sql.rs` says where they
//!   differ): `objects` (JSON bodies in `BYTEA`, sealed for Secrets), `step_logs` (cascading
//!   from `objects.uid`), `counters` (the global resource version), `meta`, and the ledger's
//!   `sensor_states`, `consumptions` and `firings`. Names sort with `COLLATE "C"`, byte order
//!   like SQLite.
//! - **Migrations.** Numbered steps recorded in `migrations`, applied at connect in one
//!   transaction under an advisory lock keyed by the schema, so processes that start together
//!   migrate once; a schema written by a newer build is refused.
//! - **Connections.** A small deadpool-postgres pool over tokio-postgres (no TLS). A call that
//!   loses its connection drops it and the pool opens another, so the store recovers by
//!   itself when the server restarts; the failures a retry can cure are
//!   [`StoreError::Unavailable`] (see `pool.rs` for which the store retries itself).
//!
//! # Concurrency between processes
//!
//! Transactions run at READ COMMITTED, made exact by where they lock, not by SERIALIZABLE:
//!
//! - **Object writes** (put, put_many, delete, put_status) begin by locking the one row of the
//!   resource version counter (`SELECT ... FOR UPDATE`). Only then do they read the object,
//!   check the precondition and write. Every write of every process therefore runs alone from
//!   that lock to its commit, exactly like SQLite's single writer: a precondition cannot be
//!   invalidated before the commit, two creators of one name cannot both succeed, and
//!   resource versions are handed out in commit order (a sequence would give unique numbers,
//!   but could commit 8 before 7, and a reader that saw 8 would miss 7). SERIALIZABLE would
//!   not help: every write touches the counter, so concurrent writers would abort and retry
//!   where now they simply wait. The cost is that object writes, across all processes, commit
//!   one after another, each batch with its own WAL flush.
//! - **Group commit.** So that concurrent writes in one process share that flush, they go
//!   through a writer task that runs every write already queued (up to [`MAX_BATCH`]) in one
//!   transaction, each in its own savepoint, and answers them after the one commit
//!   (`writer.rs`, as the SQLite store's writer thread does).
//! - **Ledger writes** are single statements whose correctness rests on unique indexes: the
//!   `(sensor_uid, event_key)` of a consumption (a concurrent consume of the same event waits
//!   for the first and then records nothing: [`Consumed::Before`]), and the firing key
//!   (`ON CONFLICT DO NOTHING`). Unique indexes are exact under READ COMMITTED, so ledger
//!   writes of different sensors and events run in parallel.
//! - **Reads** are single statements; each sees one committed snapshot.
//! - Should the server still roll a transaction back to break a deadlock or a serialization
//!   failure, the pool runs it again from the start (the transaction had no effect).
//!
//! [`Consumed::Before`]: switchyard_store::ledger::Consumed::Before
//!
//! The put semantics themselves (preconditions, Unchanged, metadata, generateName, sealing)
//! come from [`switchyard_store::rules`] and are shared with every backend.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod errors;
mod ledger;
mod ops;
mod pool;
mod schema;
mod sql;
mod writer;

use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;
use switchyard_model::Kind;
use switchyard_store::rules;
use switchyard_store::{
    Fence, ObjectKey, Page, PageRequest, Precondition, PutOutcome, PutRequest, SecretSealer,
    StatusUpdate, Store, StoreError, StoredObject,
};

use pool::{Call, Pool};
use writer::{Op, Output, Writer};

pub use config::{MAX_SCHEMA_LEN, PostgresConfig};
pub use writer::MAX_BATCH;

/// The PostgreSQL store. Share it behind an `Arc`; dropping it closes its connections.
pub struct PostgresStore {
    pool: Arc<Pool>,
    writer: Writer,
    schema: String,
    sealer: Arc<SecretSealer>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("server", &self.pool.server)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the server, creates the schema when absent, applies pending migrations
    /// and starts the writer task. Secret bodies are sealed with `sealer`. Call it inside the
    /// tokio runtime that will use the store: its connections and writer run there.
    ///
    /// Fails with [`StoreError::Invalid`] for a configuration that cannot work (a bad URL or
    /// schema name, TLS required, a database not in UTF-8), [`StoreError::Unavailable`] when
    /// the server cannot be reached or refuses the credentials, and [`StoreError::Corrupt`]
    /// when the schema was written by a newer Switchyard.
    pub async fn connect(
        config: &PostgresConfig,
        sealer: SecretSealer,
    ) -> Result<Self, StoreError> {
        let pg = config::connection_config(config)?;
        let server = format!("{}, schema {}", config::describe(&pg), config.schema);
        let pool = Pool::new(pg, config, server.clone())?;
        let schema = config.schema.clone();
        let doing = format!("migrating {server}");
        let applied = pool
            .transact(&doing, |tx, _| {
                Box::pin(schema::migrate(tx, &schema, &server))
            })
            .await?;
        if applied > 0 {
            tracing::info!(server = %server, migrations = applied, "database schema updated");
        }
        let (pool, sealer) = (Arc::new(pool), Arc::new(sealer));
        Ok(PostgresStore {
            writer: Writer::spawn(Arc::clone(&pool), Arc::clone(&sealer)),
            pool,
            schema,
            sealer,
        })
    }

    /// The schema holding this store's tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

/// A writer answer of the wrong shape; names only the variant (bodies may hold secrets).
fn unexpected(output: &Output) -> StoreError {
    let shape = match output {
        Output::Put(outcomes) => format!("{} put outcomes", outcomes.len()),
        Output::Delete(_) => "a delete result".to_owned(),
        Output::Status(_) => "a status write result".to_owned(),
    };
    StoreError::Internal {
        reason: format!(
            "the PostgreSQL writer answered with {shape}, which does not match the request"
        ),
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn put(&self, req: PutRequest) -> Result<PutOutcome, StoreError> {
        let mut outcomes = self.put_many(vec![req]).await?;
        match (outcomes.pop(), outcomes.is_empty()) {
            (Some(outcome), true) => Ok(outcome),
            _ => Err(StoreError::Internal {
                reason: "a put did not return exactly one outcome".to_owned(),
            }),
        }
    }

    async fn put_many(&self, reqs: Vec<PutRequest>) -> Result<Vec<PutOutcome>, StoreError> {
        if reqs.is_empty() {
            return Ok(Vec::new());
        }
        let count = reqs.len();
        match self.writer.write(Op::Put(reqs)).await? {
            Output::Put(outcomes) if outcomes.len() == count => Ok(outcomes),
            other => Err(unexpected(&other)),
        }
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<StoredObject>, StoreError> {
        rules::validate_key(key)?;
        let sealer = &*self.sealer;
        self.pool
            .run(Call::Read, &format!("reading {key}"), move |c, _| {
                Box::pin(ops::get(c, sealer, key))
            })
            .await
    }

    async fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
    ) -> Result<Vec<StoredObject>, StoreError> {
        rules::validate_list(kind, namespace)?;
        let sealer = &*self.sealer;
        self.pool
            .run(
                Call::Read,
                &format!("listing {}", kind.qualified()),
                move |c, _| Box::pin(ops::list(c, sealer, kind, namespace)),
            )
            .await
    }

    async fn list_page(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        rules::validate_page(kind, namespace, page)?;
        let sealer = &*self.sealer;
        self.pool
            .run(
                Call::Read,
                &format!("listing {}", kind.qualified()),
                move |c, _| Box::pin(ops::list_page(c, sealer, kind, namespace, page)),
            )
            .await
    }

    async fn delete(
        &self,
        key: &ObjectKey,
        precondition: Precondition,
    ) -> Result<Option<StoredObject>, StoreError> {
        rules::validate_key(key)?;
        match self
            .writer
            .write(Op::Delete(key.clone(), precondition))
            .await?
        {
            Output::Delete(deleted) => Ok(deleted),
            other => Err(unexpected(&other)),
        }
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.pool
            .run(
                Call::Read,
                &format!("reading setting `{key}`"),
                move |c, _| Box::pin(ops::get_meta(c, key)),
            )
            .await
    }

    async fn put_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.pool
            .run(
                Call::Write,
                &format!("writing setting `{key}`"),
                move |c, _| Box::pin(ops::put_meta(c, key, value)),
            )
            .await
    }

    async fn delete_meta(&self, key: &str) -> Result<(), StoreError> {
        self.pool
            .run(
                Call::Write,
                &format!("removing setting `{key}`"),
                move |c, _| Box::pin(ops::delete_meta(c, key)),
            )
            .await
    }

    async fn put_status(&self, update: StatusUpdate) -> Result<StoredObject, StoreError> {
        rules::validate_key(&update.key)?;
        match self.writer.write(Op::PutStatus(update, None)).await? {
            Output::Status(object) => Ok(object),
            other => Err(unexpected(&other)),
        }
    }

    async fn put_status_fenced(
        &self,
        update: StatusUpdate,
        fence: &Fence,
    ) -> Result<StoredObject, StoreError> {
        rules::validate_key(&update.key)?;
        match self
            .writer
            .write(Op::PutStatus(update, Some(fence.clone())))
            .await?
        {
            Output::Status(object) => Ok(object),
            other => Err(unexpected(&other)),
        }
    }

    async fn step_log(&self, key: &ObjectKey, step: &str) -> Result<Option<String>, StoreError> {
        rules::validate_key(key)?;
        self.pool
            .run(
                Call::Read,
                &format!("reading the log of step `{step}` of {key}"),
                move |c, _| Box::pin(ops::step_log(c, key, step)),
            )
            .await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<Result<switchyard_store::Lease, switchyard_store::Lease>, StoreError> {
        switchyard_store::check_lease_request(name, holder, ttl)?;
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let doing = &format!("taking the lease `{name}`");
        self.pool
            .run(Call::Write, doing, move |c, _| {
                Box::pin(async move {
                    let lease = |row: &tokio_postgres::Row| -> Result<switchyard_store::Lease, errors::Failure> {
                        let token: i64 = pool::column(row, 1, doing)?;
                        Ok(switchyard_store::Lease {
                            name: name.to_owned(),
                            holder: pool::column(row, 0, doing)?,
                            token: u64::try_from(token).unwrap_or(0),
                            expires_at: pool::column(row, 2, doing)?,
                        })
                    };
                    if let Some(row) =
                        pool::query_opt(c, sql::ACQUIRE_LEASE, &[&name, &holder, &ttl_ms], doing)
                            .await?
                    {
                        return Ok(Ok(lease(&row)?));
                    }
                    match pool::query_opt(c, sql::SELECT_LEASE, &[&name], doing).await? {
                        Some(row) => Ok(Err(lease(&row)?)),
                        // Deleted in between (never by Switchyard): try again.
                        None => Err(errors::Failure {
                            error: StoreError::Unavailable {
                                reason: format!("the lease `{name}` vanished while being taken"),
                            },
                            cause: errors::Cause::Rolled,
                        }),
                    }
                })
            })
            .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let doing = &format!("releasing the lease `{name}`");
        self.pool
            .run(Call::Write, doing, move |c, _| {
                Box::pin(async move {
                    pool::execute(c, sql::RELEASE_LEASE, &[&name, &holder], doing).await?;
                    Ok(())
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests;
