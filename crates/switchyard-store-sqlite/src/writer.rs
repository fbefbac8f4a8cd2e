//! The single writer thread and its group commit.
//!
//! The thread owns the only read-write connection. It waits for a job, then takes every job
//! already queued (up to [`MAX_BATCH`]) and runs them all in ONE `BEGIN IMMEDIATE`
//! transaction, each inside its own `SAVEPOINT`: a job that fails rolls back only its
//! savepoint and gets its own error, the others go on. One `COMMIT` (one fsync of the WAL)
//! then makes the whole batch durable, and only after it succeeds does any job hear `Ok`.
//!
//! Failures that break the transaction (the commit fails, or SQLite rolls the transaction
//! back by itself after an I/O error or a full disk) roll everything back and answer every
//! job of the batch with an error: its own if it had failed anyway, [`StoreError::Unavailable`]
//! otherwise. The thread then waits for the next job as before; it never stops on an error.
//! It stops when the store is dropped (the job channel closes).

use rusqlite::Connection;
use std::sync::Arc;
use switchyard_store::{
    Fence, ObjectKey, Precondition, PutOutcome, PutRequest, SecretSealer, StatusUpdate, StoreError,
    StoredObject,
};
use tokio::sync::{mpsc, oneshot};

use crate::errors::map;
use crate::{ops, sql};

/// Most jobs committed together.
pub const MAX_BATCH: usize = 256;
/// Jobs that may wait in the queue before senders wait (backpressure).
pub(crate) const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// A mutation for the writer.
pub(crate) enum Op {
    Put(Vec<PutRequest>),
    Delete(ObjectKey, Precondition),
    PutMeta(String, String),
    DeleteMeta(String),
    PutStatus(StatusUpdate, Option<Fence>),
    Ledger(crate::ledger::LedgerOp),
    /// Take or renew a lease at `now` (the application's clock: one machine).
    AcquireLease {
        name: String,
        holder: String,
        ttl: chrono::Duration,
        now: chrono::DateTime<chrono::Utc>,
    },
    ReleaseLease {
        name: String,
        holder: String,
        now: chrono::DateTime<chrono::Utc>,
    },
    /// Runs raw SQL on the write connection (tests: shrink the database to simulate a full disk).
    #[cfg(test)]
    Exec(String),
    /// Panics inside the batch (tests: the writer must survive a bug).
    #[cfg(test)]
    Panic,
    /// Says it started, then holds the writer until released (tests: queue jobs behind it).
    #[cfg(test)]
    Hold {
        started: std::sync::mpsc::Sender<()>,
        release: std::sync::mpsc::Receiver<()>,
    },
}

/// What a successful [`Op`] returns.
pub(crate) enum Output {
    Put(Vec<PutOutcome>),
    Delete(Option<StoredObject>),
    Status(StoredObject),
    Consumed(switchyard_store::ledger::Consumed),
    Lease(Result<switchyard_store::Lease, switchyard_store::Lease>),
    Done,
}

pub(crate) type Reply = oneshot::Sender<Result<Output, StoreError>>;

pub(crate) struct Job {
    pub op: Op,
    pub reply: Reply,
}

/// Starts the writer thread; it runs until every sender is dropped.
pub(crate) fn spawn(
    conn: Connection,
    sealer: Arc<SecretSealer>,
) -> std::io::Result<(mpsc::Sender<Job>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    let handle = std::thread::Builder::new()
        .name("switchyard-sqlite-writer".to_owned())
        .spawn(move || run(&conn, &sealer, rx))?;
    Ok((tx, handle))
}

fn run(conn: &Connection, sealer: &SecretSealer, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = rx.blocking_recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let jobs = std::mem::take(&mut batch);
        // A bug in a job must not stop the writer: the batch's callers see their reply
        // channel close (an Internal error) and the next batch starts clean.
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_batch(conn, sealer, jobs);
        }));
        if caught.is_err() {
            tracing::error!("a write batch panicked; its jobs failed and the writer goes on");
        }
    }
    tracing::debug!("SQLite writer stopping: the store was closed");
}

fn run_batch(conn: &Connection, sealer: &SecretSealer, batch: Vec<Job>) {
    let size = batch.len();
    // A previous batch that panicked may have left its transaction open.
    rollback(conn);
    if let Err(e) = conn.execute_batch(sql::BEGIN) {
        let err = map(e, "starting a write transaction");
        tracing::warn!(jobs = size, error = %err, "write batch not started");
        for job in batch {
            let _ = job.reply.send(Err(err.clone()));
        }
        return;
    }
    let mut done: Vec<(Reply, Result<Output, StoreError>)> = Vec::with_capacity(size);
    let mut jobs = batch.into_iter();
    let mut broken = None;
    for job in jobs.by_ref() {
        let (result, broke) = run_job(conn, sealer, job.op);
        if let Some(cause) = broke {
            done.push((job.reply, result));
            broken = Some(cause);
            break;
        }
        done.push((job.reply, result));
    }
    let failure = match broken {
        Some(cause) => {
            rollback(conn);
            Some(StoreError::Unavailable {
                reason: format!(
                    "the write was rolled back with its batch after a failure: {cause}"
                ),
            })
        }
        None => match conn.execute_batch(sql::COMMIT) {
            Ok(()) => None,
            Err(e) => {
                rollback(conn);
                Some(map(e, "committing"))
            }
        },
    };
    match failure {
        None => {
            tracing::trace!(jobs = size, "write batch committed");
            for (reply, result) in done {
                let _ = reply.send(result);
            }
        }
        Some(err) => {
            tracing::warn!(jobs = size, error = %err, "write batch failed; every job in it gets an error");
            for (reply, result) in done {
                let _ = reply.send(result.and(Err(err.clone())));
            }
            for job in jobs {
                let _ = job.reply.send(Err(err.clone()));
            }
        }
    }
}

/// Runs one job in its own savepoint. The second value is set when the enclosing
/// transaction can no longer be committed.
fn run_job(
    conn: &Connection,
    sealer: &SecretSealer,
    op: Op,
) -> (Result<Output, StoreError>, Option<StoreError>) {
    if let Err(e) = conn.execute_batch(sql::SAVEPOINT) {
        let err = map(e, "opening a savepoint");
        return (Err(err.clone()), Some(err));
    }
    let result = match op {
        Op::Put(reqs) => ops::put_all(conn, sealer, reqs).map(Output::Put),
        Op::Delete(key, precondition) => {
            ops::delete(conn, sealer, &key, precondition).map(Output::Delete)
        }
        Op::PutMeta(key, value) => ops::put_meta(conn, &key, &value).map(|()| Output::Done),
        Op::DeleteMeta(key) => ops::delete_meta(conn, &key).map(|()| Output::Done),
        Op::PutStatus(update, fence) => {
            ops::put_status(conn, sealer, update, fence.as_ref()).map(Output::Status)
        }
        Op::Ledger(op) => crate::ledger::run(conn, op),
        Op::AcquireLease {
            name,
            holder,
            ttl,
            now,
        } => ops::acquire_lease(conn, &name, &holder, ttl, now).map(Output::Lease),
        Op::ReleaseLease { name, holder, now } => {
            ops::release_lease(conn, &name, &holder, now).map(|()| Output::Done)
        }
        #[cfg(test)]
        Op::Exec(sql) => conn
            .execute_batch(&sql)
            .map(|()| Output::Done)
            .map_err(|e| map(e, "running test SQL")),
        #[cfg(test)]
        Op::Panic => panic!("a test job panicked on purpose"),
        #[cfg(test)]
        Op::Hold { started, release } => {
            let _ = started.send(());
            let _ = release.recv();
            Ok(Output::Done)
        }
    };
    if conn.is_autocommit() {
        // SQLite rolled the whole transaction back by itself (I/O error, full disk).
        let cause = match &result {
            Err(e) => e.clone(),
            Ok(_) => StoreError::Internal {
                reason: "the write transaction ended unexpectedly".to_owned(),
            },
        };
        return (result.and(Err(cause.clone())), Some(cause));
    }
    let closed = match &result {
        Ok(_) => conn.execute_batch(sql::RELEASE),
        Err(_) => conn
            .execute_batch(sql::ROLLBACK_TO)
            .and_then(|()| conn.execute_batch(sql::RELEASE)),
    };
    match closed {
        Ok(()) => (result, None),
        Err(e) => {
            // The job's changes may still be in the transaction: the batch must not commit.
            let err = map(e, "closing a savepoint");
            (result.and(Err(err.clone())), Some(err))
        }
    }
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(e) = conn.execute_batch(sql::ROLLBACK)
    {
        tracing::warn!(error = %e, "rolling back a failed write batch failed");
    }
}
