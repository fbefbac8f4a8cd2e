//! Group commit for object writes.
//!
//! Every object write must hold the resource version lock until its commit (see the crate
//! docs), so writes commit one after another and each pays a WAL flush of its own. To share
//! flushes, a writer task per store takes each write from a queue together with every write
//! already waiting behind it (up to [`MAX_BATCH`]) and runs them all in ONE transaction:
//! the lock is taken once, each write runs inside its own `SAVEPOINT` (a write that fails
//! rolls back only itself and gets its own error), and one `COMMIT` makes the whole batch
//! durable. Only after it succeeds does any write hear `Ok`. Alone, a write runs with no
//! savepoint and costs what a plain transaction costs.
//!
//! If the batch cannot commit (the server rolled it back, the connection broke), the pool
//! runs it again from the start or, when that is not possible, every write in it gets the
//! error. A panic in a batch fails that batch's writes and not the writer. The writer stops
//! when the store is dropped (the queue closes).

use std::sync::Arc;
use switchyard_store::{
    Fence, ObjectKey, Precondition, PutOutcome, PutRequest, SecretSealer, StatusUpdate, StoreError,
    StoredObject,
};
use tokio::sync::{mpsc, oneshot};

use crate::errors::{Cause, Failure, map};
use crate::ops::{self, ResourceVersions};
use crate::pool::Pool;

/// Most writes committed together. PostgreSQL keeps the ids of 64 subtransactions per
/// transaction in shared memory; beyond that every snapshot taken on the server, by anyone,
/// gets slower. One savepoint per write keeps a batch within that.
pub const MAX_BATCH: usize = 64;
/// Writes that may wait in the queue before callers wait (backpressure).
pub(crate) const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// An object write.
pub(crate) enum Op {
    Put(Vec<PutRequest>),
    Delete(ObjectKey, Precondition),
    PutStatus(StatusUpdate, Option<Fence>),
}

/// What a successful [`Op`] returns.
pub(crate) enum Output {
    Put(Vec<PutOutcome>),
    Delete(Option<StoredObject>),
    Status(StoredObject),
}

type Reply = oneshot::Sender<Result<Output, StoreError>>;

pub(crate) struct Job {
    op: Op,
    reply: Reply,
}

pub(crate) struct Writer {
    pub(crate) jobs: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

/// What the writer task and its batches share.
pub(crate) struct Shared {
    pool: Arc<Pool>,
    sealer: Arc<SecretSealer>,
    /// Batches committed (tests: writes queued together share one commit).
    #[cfg(test)]
    pub(crate) commits: std::sync::atomic::AtomicUsize,
}

impl Writer {
    /// Starts the writer task on the current runtime; it runs until the writer is dropped.
    pub(crate) fn spawn(pool: Arc<Pool>, sealer: Arc<SecretSealer>) -> Writer {
        let (jobs, rx) = mpsc::channel(QUEUE_CAPACITY);
        let shared = Arc::new(Shared {
            pool,
            sealer,
            #[cfg(test)]
            commits: std::sync::atomic::AtomicUsize::new(0),
        });
        tokio::spawn(run(rx, Arc::clone(&shared)));
        Writer { jobs, shared }
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Queues a write and waits for its commit.
    pub(crate) async fn write(&self, op: Op) -> Result<Output, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Internal {
            reason: format!(
                "the writer for {} stopped before answering; see the log",
                self.shared.pool.server
            ),
        };
        self.jobs
            .send(Job { op, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(mut rx: mpsc::Receiver<Job>, shared: Arc<Shared>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = rx.recv().await {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let jobs = std::mem::take(&mut batch);
        // A batch runs as a task of its own so that a bug in it (a panic) fails only its
        // writes: their reply channels close, the callers hear of it, the writer goes on.
        let size = jobs.len();
        let batch = tokio::spawn(commit(Arc::clone(&shared), jobs));
        if let Err(e) = batch.await {
            tracing::error!(jobs = size, error = %e, "a write batch failed; its writes got an error and the writer goes on");
        }
    }
    tracing::debug!(server = %shared.pool.server, "PostgreSQL writer stopping: the store was closed");
}

/// Runs one batch and answers each of its writes.
async fn commit(shared: Arc<Shared>, jobs: Vec<Job>) {
    let (ops, replies): (Vec<Op>, Vec<Reply>) = jobs.into_iter().map(|j| (j.op, j.reply)).unzip();
    let doing = describe(&ops);
    let (ops_ref, sealer) = (ops.as_slice(), &*shared.sealer);
    let result = shared
        .pool
        .transact(&doing, move |tx, _| {
            Box::pin(apply_all(tx, sealer, ops_ref))
        })
        .await;
    match result {
        Ok(results) => {
            #[cfg(test)]
            shared
                .commits
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(err) => {
            if replies.len() > 1 {
                tracing::warn!(writes = replies.len(), error = %err, "a write batch failed; every write in it gets the error");
            }
            for reply in replies {
                let _ = reply.send(Err(err.clone()));
            }
        }
    }
}

/// What a batch does, for messages: one write named, or how many.
fn describe(ops: &[Op]) -> String {
    match ops {
        [Op::Put(reqs)] => match reqs.as_slice() {
            [one] => format!("writing {} {:?}", one.kind.qualified(), one.name),
            many => format!("writing {} objects", many.len()),
        },
        [Op::Delete(key, _)] => format!("deleting {key}"),
        [Op::PutStatus(update, _)] => format!("writing the status of {}", update.key),
        many => format!("writing a batch of {} writes", many.len()),
    }
}

/// Runs the batch inside the pool's transaction: its result per write, or the failure that
/// stops the whole batch (the transaction is then not committed).
async fn apply_all(
    tx: &deadpool_postgres::Transaction<'_>,
    sealer: &SecretSealer,
    ops: &[Op],
) -> Result<Vec<Result<Output, StoreError>>, Failure> {
    let mut versions = ResourceVersions::lock(tx).await?;
    if let [op] = ops {
        // Alone, a write needs no savepoint: if it fails, nothing is committed.
        let output = apply(tx, sealer, &mut versions, op).await?;
        versions.record(tx).await?;
        return Ok(vec![Ok(output)]);
    }
    let mut results = Vec::with_capacity(ops.len());
    savepoint(tx, "SAVEPOINT job").await?;
    for (i, op) in ops.iter().enumerate() {
        let last = i + 1 == ops.len();
        match apply(tx, sealer, &mut versions, op).await {
            Ok(output) => {
                results.push(Ok(output));
                if !last {
                    savepoint(tx, "RELEASE SAVEPOINT job; SAVEPOINT job").await?;
                }
            }
            // The write's own error (a precondition, a bad request, a statement the server
            // refused): undo the write alone. The savepoint stays for the next one.
            Err(Failure {
                error,
                cause: Cause::Final,
            }) => {
                results.push(Err(error));
                savepoint(tx, "ROLLBACK TO SAVEPOINT job").await?;
            }
            // The transaction itself is lost or rolled back: the batch starts over or fails.
            Err(failure) => return Err(failure),
        }
    }
    versions.record(tx).await?;
    Ok(results)
}

async fn savepoint(tx: &deadpool_postgres::Transaction<'_>, sql: &str) -> Result<(), Failure> {
    tx.batch_execute(sql)
        .await
        .map_err(|e| map(e, "managing the savepoint of a write in a batch"))
}

async fn apply(
    tx: &deadpool_postgres::Transaction<'_>,
    sealer: &SecretSealer,
    versions: &mut ResourceVersions,
    op: &Op,
) -> Result<Output, Failure> {
    match op {
        Op::Put(reqs) => ops::put_all(tx, sealer, versions, reqs)
            .await
            .map(Output::Put),
        Op::Delete(key, precondition) => ops::delete(tx, sealer, versions, key, *precondition)
            .await
            .map(Output::Delete),
        Op::PutStatus(update, fence) => {
            ops::put_status(tx, sealer, versions, update, fence.as_ref())
                .await
                .map(Output::Status)
        }
    }
}
