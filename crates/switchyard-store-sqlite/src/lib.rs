//! The [`Store`] port on SQLite: the embedded, single-machine backend.
//!
//! # Design
//!
//! - **File and settings.** One database file (parent directories are created), in WAL mode
//!   with `synchronous=FULL` (every commit fsyncs the WAL, so `Ok` means durable),
//!   `foreign_keys=ON` and a 5 s busy timeout.
//! - **Schema.** `objects` (one row per object, keyed by kind/namespace/name, the JSON body
//!   in a BLOB, sealed for Secrets), `step_logs` (one row per step log, keyed by the owning
//!   object's uid and the step id, the text in clear; `ON DELETE CASCADE` from `objects.uid`
//!   deletes an object's logs with it, through the key's index), `counters` (the global
//!   resource version), `meta` (settings) and `migrations` (applied schema steps). All SQL
//!   lives in `sql.rs`; the event ledger's tables (`sensor_states`, `consumptions`,
//!   `firings`, see [`switchyard_store::ledger`]) live in the same file; migrations run in one transaction at [`SqliteStore::open`], and a
//!   database written by a newer build is refused.
//! - **Status writes.** [`Store::put_status`] is a writer job like any other write. It decodes
//!   the stored body with the new status in place of the old one (the old status, most of a
//!   Workflow's body, is skipped rather than built), encodes it once, updates the row and
//!   upserts the logs in the job's savepoint. [`Store::step_log`] reads through the reader
//!   pool, joining on the current object's uid, so a re-created object has no logs.
//! - **One writer, group commit.** A dedicated thread owns the only read-write connection and
//!   receives jobs over a bounded channel. It takes every job already queued (up to 256),
//!   runs them in ONE `BEGIN IMMEDIATE` transaction with a `SAVEPOINT` per job (a failing job
//!   rolls back only itself), commits once, and only then answers each job through its own
//!   oneshot channel. Under load many writes share one fsync; alone, a write costs one.
//!   Serialising writers also makes preconditions exact: the check and the write happen in
//!   the same transaction with no other writer in between.
//! - **Failures.** Disk full and I/O errors are [`StoreError::Unavailable`] (retryable). If
//!   the commit fails, or SQLite abandons the transaction, the batch is rolled back, every job
//!   in it gets an error, and the writer carries on with the next batch. A panic in a job is
//!   caught; its batch fails and the writer carries on.
//! - **Reads.** A small pool of read-only connections on tokio's blocking threads; WAL lets
//!   them run while the writer writes, and each sees the latest commit.
//! - **Closing.** Dropping the store closes the queue; the writer finishes the batch in hand
//!   and the drop waits for it, so the file is closed when the drop returns.
//!
//! The put semantics themselves (preconditions, Unchanged, metadata, generateName, sealing)
//! come from [`switchyard_store::rules`] and are shared with every backend.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod errors;
mod ledger;
mod ops;
mod readers;
mod schema;
mod sql;
mod writer;

use async_trait::async_trait;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchyard_model::Kind;
use switchyard_store::rules;
use switchyard_store::{
    Fence, ObjectKey, Page, PageRequest, Precondition, PutOutcome, PutRequest, SecretSealer,
    StatusUpdate, Store, StoreError, StoredObject,
};
use tokio::sync::{mpsc, oneshot};

use readers::Readers;
use writer::{Job, Op, Output};

pub use writer::MAX_BATCH;

/// The SQLite store. Share it behind an `Arc`; dropping it closes the database.
pub struct SqliteStore {
    path: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
    readers: Arc<Readers>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applies pending migrations and
    /// starts the writer thread. Secret bodies are sealed with `sealer`.
    pub fn open(path: &Path, sealer: SecretSealer) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Unavailable {
                reason: format!("cannot create directory {}: {e}", parent.display()),
            })?;
        }
        let conn = schema::open_writer(path)?;
        let applied = schema::migrate(&conn, path)?;
        if applied > 0 {
            tracing::info!(path = %path.display(), migrations = applied, "database schema updated");
        }
        let sealer = Arc::new(sealer);
        let (jobs, writer) =
            writer::spawn(conn, Arc::clone(&sealer)).map_err(|e| StoreError::Unavailable {
                reason: format!("cannot start the SQLite writer thread: {e}"),
            })?;
        Ok(SqliteStore {
            path: path.to_owned(),
            jobs: Some(jobs),
            writer: Some(writer),
            readers: Arc::new(Readers::new(path.to_owned(), sealer)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write(&self, op: Op) -> Result<Output, StoreError> {
        let stopped = || StoreError::Internal {
            reason: format!(
                "the SQLite writer for {} has stopped; restart Switchyard",
                self.path.display()
            ),
        };
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        let (reply, answer) = oneshot::channel();
        jobs.send(Job { op, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "the SQLite writer thread panicked");
        }
    }
}

/// A writer answer of the wrong shape; names only the variant (bodies may hold secrets).
fn unexpected(output: Output) -> StoreError {
    let shape = match output {
        Output::Put(outcomes) => format!("{} put outcomes", outcomes.len()),
        Output::Delete(_) => "a delete result".to_owned(),
        Output::Status(_) => "a status write result".to_owned(),
        Output::Consumed(_) => "a ledger consumption".to_owned(),
        Output::Lease(_) => "a lease".to_owned(),
        Output::Done => "a bare acknowledgement".to_owned(),
    };
    StoreError::Internal {
        reason: format!(
            "the SQLite writer answered with {shape}, which does not match the request"
        ),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn put(&self, req: PutRequest) -> Result<PutOutcome, StoreError> {
        match self.write(Op::Put(vec![req])).await? {
            Output::Put(outcomes) if outcomes.len() == 1 => {
                outcomes
                    .into_iter()
                    .next()
                    .ok_or_else(|| StoreError::Internal {
                        reason: "a put returned no outcome".to_owned(),
                    })
            }
            other => Err(unexpected(other)),
        }
    }

    async fn put_many(&self, reqs: Vec<PutRequest>) -> Result<Vec<PutOutcome>, StoreError> {
        if reqs.is_empty() {
            return Ok(Vec::new());
        }
        let count = reqs.len();
        match self.write(Op::Put(reqs)).await? {
            Output::Put(outcomes) if outcomes.len() == count => Ok(outcomes),
            other => Err(unexpected(other)),
        }
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<StoredObject>, StoreError> {
        rules::validate_key(key)?;
        let key = key.clone();
        self.readers
            .run(move |conn, sealer| ops::get(conn, sealer, &key))
            .await
    }

    async fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
    ) -> Result<Vec<StoredObject>, StoreError> {
        rules::validate_list(kind, namespace)?;
        let namespace = namespace.map(str::to_owned);
        self.readers
            .run(move |conn, sealer| ops::list(conn, sealer, kind, namespace.as_deref()))
            .await
    }

    async fn list_page(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        rules::validate_page(kind, namespace, page)?;
        let namespace = namespace.map(str::to_owned);
        let page = page.clone();
        self.readers
            .run(move |conn, sealer| {
                ops::list_page(conn, sealer, kind, namespace.as_deref(), &page)
            })
            .await
    }

    async fn delete(
        &self,
        key: &ObjectKey,
        precondition: Precondition,
    ) -> Result<Option<StoredObject>, StoreError> {
        match self.write(Op::Delete(key.clone(), precondition)).await? {
            Output::Delete(deleted) => Ok(deleted),
            other => Err(unexpected(other)),
        }
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.readers
            .run(move |conn, _| ops::get_meta(conn, &key))
            .await
    }

    async fn put_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        match self
            .write(Op::PutMeta(key.to_owned(), value.to_owned()))
            .await?
        {
            Output::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    async fn delete_meta(&self, key: &str) -> Result<(), StoreError> {
        match self.write(Op::DeleteMeta(key.to_owned())).await? {
            Output::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    async fn put_status(&self, update: StatusUpdate) -> Result<StoredObject, StoreError> {
        match self.write(Op::PutStatus(update, None)).await? {
            Output::Status(object) => Ok(object),
            other => Err(unexpected(other)),
        }
    }

    async fn put_status_fenced(
        &self,
        update: StatusUpdate,
        fence: &Fence,
    ) -> Result<StoredObject, StoreError> {
        match self
            .write(Op::PutStatus(update, Some(fence.clone())))
            .await?
        {
            Output::Status(object) => Ok(object),
            other => Err(unexpected(other)),
        }
    }

    async fn step_log(&self, key: &ObjectKey, step: &str) -> Result<Option<String>, StoreError> {
        rules::validate_key(key)?;
        let key = key.clone();
        let step = step.to_owned();
        self.readers
            .run(move |conn, _| ops::step_log(conn, &key, &step))
            .await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<Result<switchyard_store::Lease, switchyard_store::Lease>, StoreError> {
        switchyard_store::check_lease_request(name, holder, ttl)?;
        let op = Op::AcquireLease {
            name: name.to_owned(),
            holder: holder.to_owned(),
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
            now: chrono::Utc::now(),
        };
        match self.write(op).await? {
            Output::Lease(lease) => Ok(lease),
            other => Err(unexpected(other)),
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let op = Op::ReleaseLease {
            name: name.to_owned(),
            holder: holder.to_owned(),
            now: chrono::Utc::now(),
        };
        match self.write(op).await? {
            Output::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}

#[cfg(test)]
mod tests;
