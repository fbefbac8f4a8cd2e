//! The [`EventBus`] port on local disk: the embedded, single-process backend.
//!
//! # Design
//!
//! - **Files.** A bus lives in one directory: `bus.db` (SQLite, WAL mode, `synchronous=FULL`:
//!   every commit fsyncs the WAL) and `bus.lock`, locked while the bus is open so a second
//!   process (or a second [`EmbeddedBus`] in this one) cannot open the same directory.
//! - **Schema.** `messages` (one row per message, keyed by sequence; a partial index on the
//!   dedup id), `stream` (last sequence, last publish time, retained bytes), `consumers` (the
//!   declaration and ack floor of each durable consumer) and `consumer_acks` (acked sequences
//!   above a floor). All SQL lives in `sql.rs`; migrations run at [`EmbeddedBus::open`], and a
//!   database written by a newer build is refused.
//! - **One writer, group commit.** A dedicated thread owns the only read-write connection.
//!   Publishes, acks and consumer changes are jobs on its queue; it takes every job already
//!   queued (up to [`MAX_BATCH`]), runs them in ONE transaction, enforces the count and byte
//!   limits, commits once, and only then answers each job. Under load many publishes and acks
//!   share one fsync; alone, each costs one. After a batch of several jobs the writer lingers
//!   up to 1 ms for their callers' next jobs: without it, batches alternate between full and
//!   nearly empty (callers answered together publish again just after the next batch began),
//!   which cost about a third of the throughput with 32 publishers here. The queue is bounded by bytes
//!   ([`QUEUE_BYTES`]): publishers wait when it is full, so memory stays bounded when the disk
//!   is slow.
//! - **Sequences and dedup.** The writer assigns sequences (never SQLite), and keeps the last
//!   one in `stream`, so none is reused after retention removed every message. A dedup id is
//!   looked up through its index in the same transaction as the insert, so concurrent
//!   publishes of one id store it once. Publish times never go backwards.
//! - **Consumers.** Each consumer's delivery state (read-ahead, pending deliveries and their
//!   deadlines) is in memory, shared by its handles; its ack floor and out-of-order acks are
//!   durable (see `consumer.rs`). A waiting [`Consumer::next`] sleeps until a commit announces
//!   a new sequence (a `watch` channel), an ack or nak changes its state, a deadline comes,
//!   or a 1 s fallback poll; it never busy-polls. Messages are read in batches through a pool
//!   of read-only connections on tokio's blocking threads; a filter's literal prefix narrows
//!   the scan to a range of subjects in SQL and the exact match happens in Rust.
//! - **Retention.** `max_messages` and `max_bytes` are enforced in each write batch, `max_age`
//!   by a timer in the writer thread (a tenth of `max_age`, between 10 ms and 1 s). Removal
//!   is oldest first, by sequence range, whatever consumers have acked (see "Retention" in the
//!   port's contract).
//! - **Failures.** Disk full and I/O errors are [`BusError::Unavailable`] (retryable). A batch
//!   that fails is rolled back and every job in it gets the error; the writer carries on.
//! - **Closing.** [`EventBus::close`] (or dropping the bus) stops accepting calls, lets the
//!   writer answer every job already queued, waits for it to stop, and releases the lock.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod consumer;
mod errors;
mod readers;
mod schema;
mod sql;
mod writer;

use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, mpsc};
use switchyard_bus::{
    BusError, BusInfo, Consumer, ConsumerInfo, ConsumerSpec, EventBus, Limits, Message,
    OutgoingMessage, Published, SubjectFilter, validate_consumer_name, validate_read_limit,
};
use tokio::sync::{Semaphore, oneshot, watch};

use consumer::{Handle, Shared};
use readers::{FilterQuery, Readers};
use writer::{Job, Op, Output, Writer};

pub use writer::MAX_BATCH;

/// Bytes of queued payloads (in KiB, at least 1 per job) the writer's queue holds before
/// publishers wait.
pub const QUEUE_BYTES: usize = 64 * 1024 * 1024;
const QUEUE_PERMITS: usize = QUEUE_BYTES / 1024;
/// Most payload bytes one `read` returns (at least one message).
const READ_BYTES: usize = 16 * 1024 * 1024;

/// The database file in a bus directory.
pub const DB_FILE: &str = "bus.db";
/// The lock file in a bus directory.
pub const LOCK_FILE: &str = "bus.lock";

/// The embedded bus. Share it behind an `Arc`; closing or dropping it stops it.
pub struct EmbeddedBus {
    inner: Arc<Inner>,
    writer: tokio::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What the bus and its consumer handles share.
pub(crate) struct Inner {
    dir: PathBuf,
    limits: Limits,
    jobs: RwLock<Option<mpsc::Sender<Job>>>,
    queue: Arc<Semaphore>,
    pub(crate) readers: Arc<Readers>,
    /// The last committed sequence, announced by the writer after each commit.
    pub(crate) committed: watch::Receiver<u64>,
    pub(crate) closed: watch::Sender<bool>,
    consumers: tokio::sync::Mutex<HashMap<String, Arc<Shared>>>,
}

impl fmt::Debug for EmbeddedBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedBus")
            .field("dir", &self.inner.dir)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl EmbeddedBus {
    /// Opens (creating if needed) the bus in directory `dir` with these limits, applies
    /// pending migrations and starts the writer thread. Fails with
    /// [`BusError::Unavailable`] when another bus has the directory open.
    pub fn open(dir: &Path, limits: Limits) -> Result<EmbeddedBus, BusError> {
        limits.validate()?;
        std::fs::create_dir_all(dir).map_err(|e| BusError::Unavailable {
            reason: format!("cannot create the bus directory {}: {e}", dir.display()),
        })?;
        let lock = lock(dir)?;
        let path = dir.join(DB_FILE);
        let conn = schema::open_writer(&path)?;
        let applied = schema::migrate(&conn, &path, writer::now_nanos())?;
        if applied > 0 {
            tracing::info!(path = %path.display(), migrations = applied, "bus schema updated");
        }
        let (writer, committed) = Writer::load(conn, limits.clone(), lock)?;
        let (jobs, receiver) = mpsc::channel();
        let handle = writer.spawn(receiver).map_err(|e| BusError::Unavailable {
            reason: format!("cannot start the bus writer thread: {e}"),
        })?;
        Ok(EmbeddedBus {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                limits,
                jobs: RwLock::new(Some(jobs)),
                queue: Arc::new(Semaphore::new(QUEUE_PERMITS)),
                readers: Arc::new(Readers::new(path)),
                committed,
                closed: watch::Sender::new(false),
                consumers: tokio::sync::Mutex::new(HashMap::new()),
            }),
            writer: tokio::sync::Mutex::new(Some(handle)),
        })
    }

    /// The bus directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    #[cfg(test)]
    async fn exec(&self, sql: &str) -> Result<(), BusError> {
        self.inner
            .write(Op::Exec(sql.to_owned()), 1)
            .await
            .map(|_| ())
    }

    #[cfg(test)]
    async fn panic_in_writer(&self) -> Result<(), BusError> {
        self.inner.write(Op::Panic, 1).await.map(|_| ())
    }
}

/// Takes the directory's lock file, or says who holds it.
fn lock(dir: &Path) -> Result<File, BusError> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| BusError::Unavailable {
            reason: format!("cannot open the bus lock file {}: {e}", path.display()),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(BusError::Unavailable {
            reason: format!(
                "the event bus in {} is already open (in this process or another); close it first",
                dir.display()
            ),
        }),
        Err(TryLockError::Error(e)) => Err(BusError::Unavailable {
            reason: format!("cannot lock {}: {e}", path.display()),
        }),
    }
}

impl Inner {
    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    fn check_open(&self) -> Result<(), BusError> {
        if self.is_closed() {
            Err(BusError::Closed)
        } else {
            Ok(())
        }
    }

    /// Queues a job for the writer and waits for its answer. `cost` is its share of the
    /// queue's budget, in KiB.
    pub(crate) async fn write(&self, op: Op, cost: usize) -> Result<Output, BusError> {
        let permits = u32::try_from(cost.clamp(1, QUEUE_PERMITS)).unwrap_or(1);
        let permit = Arc::clone(&self.queue)
            .acquire_many_owned(permits)
            .await
            .map_err(|_| BusError::Closed)?;
        let (reply, answer) = oneshot::channel();
        {
            let jobs = self.jobs.read().unwrap_or_else(PoisonError::into_inner);
            let sender = jobs.as_ref().ok_or(BusError::Closed)?;
            sender
                .send(Job {
                    op,
                    reply,
                    _permit: permit,
                })
                .map_err(|_| BusError::Closed)?;
        }
        answer.await.map_err(|_| BusError::Internal {
            reason: format!(
                "the bus writer for {} dropped a write (see the log for a panic)",
                self.dir.display()
            ),
        })?
    }

    /// Stops accepting work; the writer stops once it has answered what is queued.
    fn shut(&self) {
        self.closed.send_replace(true);
        self.queue.close();
        self.jobs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.readers.close();
    }
}

impl Drop for EmbeddedBus {
    fn drop(&mut self) {
        self.inner.shut();
        if let Some(writer) = self.writer.get_mut().take()
            && writer.join().is_err()
        {
            tracing::error!(dir = %self.inner.dir.display(), "the bus writer thread panicked");
        }
    }
}

/// A writer answer of the wrong shape.
pub(crate) fn unexpected(output: Output) -> BusError {
    BusError::Internal {
        reason: format!("the bus writer answered {output:?}, which does not match the request"),
    }
}

#[async_trait]
impl EventBus for EmbeddedBus {
    async fn publish(&self, msg: OutgoingMessage) -> Result<Published, BusError> {
        self.inner.check_open()?;
        msg.validate(&self.inner.limits)?;
        let cost = 1 + msg.payload.len() / 1024;
        match self.inner.write(Op::Publish(msg), cost).await? {
            Output::Published(published) => Ok(published),
            other => Err(unexpected(other)),
        }
    }

    async fn consumer(&self, spec: ConsumerSpec) -> Result<Box<dyn Consumer>, BusError> {
        spec.validate()?;
        self.inner.check_open()?;
        let mut consumers = self.inner.consumers.lock().await;
        let shared = match consumers.get(&spec.name) {
            Some(shared) => Arc::clone(shared),
            None => {
                let name = spec.name.clone();
                let stored = self
                    .inner
                    .readers
                    .run(move |conn| readers::consumer(conn, &name))
                    .await?;
                let stored = match stored {
                    Some(stored) => stored,
                    None => match self
                        .inner
                        .write(Op::CreateConsumer(spec.clone()), 1)
                        .await?
                    {
                        Output::Consumer(created) => created,
                        other => return Err(unexpected(other)),
                    },
                };
                let shared = Arc::new(Shared::new(stored));
                consumers.insert(spec.name.clone(), Arc::clone(&shared));
                shared
            }
        };
        shared.reconfigure(&self.inner, &spec).await?;
        Ok(Box::new(Handle {
            bus: Arc::clone(&self.inner),
            shared,
        }))
    }

    async fn delete_consumer(&self, name: &str) -> Result<bool, BusError> {
        validate_consumer_name(name)?;
        self.inner.check_open()?;
        let mut consumers = self.inner.consumers.lock().await;
        let existed = match self
            .inner
            .write(Op::DeleteConsumer(name.to_owned()), 1)
            .await?
        {
            Output::Deleted(existed) => existed,
            other => return Err(unexpected(other)),
        };
        if let Some(shared) = consumers.remove(name) {
            shared.mark_deleted().await;
        }
        Ok(existed)
    }

    async fn consumer_info(&self, name: &str) -> Result<Option<ConsumerInfo>, BusError> {
        validate_consumer_name(name)?;
        self.inner.check_open()?;
        let loaded = self.inner.consumers.lock().await.get(name).cloned();
        if let Some(shared) = loaded {
            return Ok(Some(shared.info().await));
        }
        let name = name.to_owned();
        let stored = self
            .inner
            .readers
            .run(move |conn| readers::consumer(conn, &name))
            .await?;
        Ok(stored.map(consumer::stored_info))
    }

    async fn read(
        &self,
        from_seq: u64,
        limit: usize,
        filter: &SubjectFilter,
    ) -> Result<Vec<Message>, BusError> {
        validate_read_limit(limit)?;
        self.inner.check_open()?;
        let upto = *self.inner.committed.borrow();
        let query = FilterQuery::new(std::slice::from_ref(filter));
        self.inner
            .readers
            .run(move |conn| {
                let mut found: Vec<Message> = Vec::new();
                let mut after = from_seq.saturating_sub(1);
                let mut bytes = 0;
                // A scan may stop early on subjects that only look like matches: go on
                // until the limit, the byte budget or the end.
                while found.len() < limit
                    && after < upto
                    && (found.is_empty() || bytes < READ_BYTES)
                {
                    let budget = READ_BYTES.saturating_sub(bytes);
                    let scanned =
                        readers::scan(conn, &query, after, upto, limit - found.len(), budget)?;
                    bytes += scanned
                        .messages
                        .iter()
                        .map(|m| m.payload.len())
                        .sum::<usize>();
                    found.extend(scanned.messages);
                    after = scanned.scanned_to;
                }
                Ok(found)
            })
            .await
    }

    async fn info(&self) -> Result<BusInfo, BusError> {
        self.inner.check_open()?;
        self.inner.readers.run(readers::info).await
    }

    async fn close(&self) -> Result<(), BusError> {
        self.inner.shut();
        let mut writer = self.writer.lock().await;
        if let Some(handle) = writer.take() {
            let joined = tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| BusError::Internal {
                    reason: format!("waiting for the bus writer failed: {e}"),
                })?;
            if joined.is_err() {
                return Err(BusError::Internal {
                    reason: "the bus writer thread panicked".to_owned(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
