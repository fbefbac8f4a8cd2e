//! The single writer thread: group commit, sequence numbers, dedup, retention.
//!
//! The thread owns the only read-write connection and the stream's state (last sequence,
//! last publish time, retained bytes, first retained sequence). It waits for a job, takes
//! every job already queued (up to [`MAX_BATCH`]; after a batch of several jobs it lingers up
//! to 1 ms for their callers' next ones, see [`gather`]), runs them all in ONE `BEGIN IMMEDIATE`
//! transaction, enforces `max_messages` and `max_bytes`, and commits once: one fsync of the
//! WAL for the whole batch. Only after the commit succeeds does any job hear `Ok`, and only
//! then is the new last sequence announced to consumers.
//!
//! Every job's statements either succeed or mean the database cannot be written (disk full,
//! I/O error): a failure rolls the whole batch back and answers every job in it with the
//! error, and the in-memory state is left as it was before the batch. A panic in a batch is
//! caught the same way (its callers see an internal error). The thread never stops on an
//! error; it stops when the bus closes the queue, after answering every job still in it.
//!
//! With `max_age` set, the thread also wakes on a timer (a tenth of `max_age`, between 10 ms
//! and 1 s) and removes expired messages. Publish times never go backwards (a clock step back
//! reuses the last time), so the expired messages are always the oldest ones.

use rusqlite::{Connection, params};
use std::fs::File;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use switchyard_bus::{BusError, ConsumerSpec, Limits, OutgoingMessage, Published, StartPosition};
use tokio::sync::{OwnedSemaphorePermit, oneshot, watch};

use crate::errors::map;
use crate::readers::{self, StoredConsumer, encode_filters, to_i64};
use crate::sql;

/// Most jobs committed together.
pub const MAX_BATCH: usize = 512;
/// Longest a batch waits for more jobs after the first (see [`gather`]).
const LINGER: Duration = Duration::from_millis(1);
/// Rows retention looks at per query while looking for where to cut.
const RETENTION_CHUNK: i64 = 1024;
/// Most rows one age sweep looks at; the next sweep carries on.
const SWEEP_MAX_ROWS: u64 = 64 * 1024;

/// A mutation for the writer.
pub(crate) enum Op {
    Publish(OutgoingMessage),
    /// Returns the consumer as stored: new, or the existing one of that name.
    CreateConsumer(ConsumerSpec),
    UpdateConsumer {
        id: i64,
        spec: ConsumerSpec,
    },
    /// Records an ack and raises the stored floor to `floor` (see `consumer::Tracker`).
    Ack {
        consumer_id: i64,
        seq: u64,
        floor: u64,
    },
    DeleteConsumer(String),
    /// Runs raw SQL (tests: shrink the database to simulate a full disk).
    #[cfg(test)]
    Exec(String),
    /// Panics inside the batch (tests: the writer must survive a bug).
    #[cfg(test)]
    Panic,
}

/// What a successful [`Op`] returns.
#[derive(Debug)]
pub(crate) enum Output {
    Published(Published),
    Consumer(StoredConsumer),
    Deleted(bool),
    Done,
}

pub(crate) type Reply = oneshot::Sender<Result<Output, BusError>>;

pub(crate) struct Job {
    pub op: Op,
    pub reply: Reply,
    /// Its share of the queue's byte budget (backpressure), given back once the job is
    /// taken apart in a batch.
    pub _permit: OwnedSemaphorePermit,
}

/// The stream's state, as of the last commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stream {
    last_seq: u64,
    /// Nanoseconds since the epoch.
    last_published_at: i64,
    /// Bytes of the retained messages, as `max_bytes` counts them.
    bytes: u64,
    /// The oldest retained message; `last_seq + 1` when there is none.
    first_seq: u64,
}

pub(crate) struct Writer {
    conn: Connection,
    limits: Limits,
    stream: Stream,
    committed: watch::Sender<u64>,
    /// Held while the thread runs: keeps other processes off this bus directory.
    _lock: File,
}

impl Writer {
    /// Reads the stream's state from a migrated database.
    pub(crate) fn load(
        conn: Connection,
        limits: Limits,
        lock: File,
    ) -> Result<(Writer, watch::Receiver<u64>), BusError> {
        const DOING: &str = "reading the stream state";
        let (last_seq, last_published_at, bytes): (i64, i64, i64) = conn
            .query_row(sql::SELECT_STREAM, [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .map_err(|e| map(e, DOING))?;
        let first: Option<i64> = conn
            .query_row(sql::FIRST_SEQ, [], |row| row.get(0))
            .map_or_else(
                |e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(map(e, DOING)),
                },
                |v| Ok(Some(v)),
            )?;
        let corrupt = |what: &str| BusError::Corrupt {
            what: format!("the stream state is damaged: {what}"),
        };
        let last_seq = u64::try_from(last_seq).map_err(|_| corrupt("negative last sequence"))?;
        let bytes = u64::try_from(bytes).map_err(|_| corrupt("negative byte count"))?;
        let first_seq = match first {
            None => last_seq + 1,
            Some(f) => match u64::try_from(f) {
                Ok(f) if f <= last_seq => f,
                _ => return Err(corrupt("a message is numbered after the last sequence")),
            },
        };
        let (committed, receiver) = watch::channel(last_seq);
        let writer = Writer {
            conn,
            limits,
            stream: Stream {
                last_seq,
                last_published_at,
                bytes,
                first_seq,
            },
            committed,
            _lock: lock,
        };
        Ok((writer, receiver))
    }

    /// Starts the writer thread; it runs until every sender of `jobs` is dropped.
    pub(crate) fn spawn(
        self,
        jobs: mpsc::Receiver<Job>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("switchyard-bus-writer".to_owned())
            .spawn(move || self.run(&jobs))
    }

    fn run(mut self, jobs: &mpsc::Receiver<Job>) {
        let every = self.limits.max_age.map(sweep_interval);
        let mut next_sweep = every.map(|d| Instant::now() + d);
        let mut previous = 0;
        loop {
            let first = match next_sweep {
                None => match jobs.recv() {
                    Ok(job) => Some(job),
                    Err(mpsc::RecvError) => break,
                },
                Some(at) => match jobs.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(job) => Some(job),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                },
            };
            if let Some(job) = first {
                let batch = gather(jobs, job, previous);
                previous = batch.len();
                // A bug in a job must not stop the writer: the batch's callers see their
                // reply channel close (an internal error) and the next batch starts clean.
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.run_batch(batch);
                }));
                if caught.is_err() {
                    tracing::error!(
                        "a bus write batch panicked; its jobs failed and the writer goes on"
                    );
                }
            }
            if let (Some(at), Some(every)) = (next_sweep, every)
                && Instant::now() >= at
            {
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.sweep();
                }));
                if caught.is_err() {
                    tracing::error!("a bus retention sweep panicked; the writer goes on");
                }
                next_sweep = Some(Instant::now() + every);
            }
        }
        tracing::debug!("bus writer stopping: the bus was closed");
    }

    fn run_batch(&mut self, batch: Vec<Job>) {
        let size = batch.len();
        // A batch that panicked may have left its transaction open.
        self.rollback();
        let mut stream = self.stream;
        let mut done = Vec::with_capacity(size);
        let mut failure = self
            .conn
            .execute_batch(sql::BEGIN)
            .map_err(|e| map(e, "starting a write transaction"))
            .err();
        let mut jobs = batch.into_iter();
        if failure.is_none() {
            for job in jobs.by_ref() {
                match self.apply(&mut stream, job.op) {
                    Ok(output) => done.push((job.reply, Ok(output))),
                    Err(e) => {
                        done.push((job.reply, Err(e.clone())));
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        if failure.is_none() {
            failure = self
                .enforce_count_and_bytes(&mut stream)
                .and_then(|()| self.store_stream(&stream))
                .and_then(|()| {
                    self.conn
                        .execute_batch(sql::COMMIT)
                        .map_err(|e| map(e, "committing"))
                })
                .err();
        }
        match failure {
            None => {
                tracing::trace!(
                    jobs = size,
                    last_seq = stream.last_seq,
                    "bus batch committed"
                );
                self.commit_state(stream);
                for (reply, result) in done {
                    let _ = reply.send(result);
                }
            }
            Some(err) => {
                self.rollback();
                tracing::warn!(jobs = size, error = %err, "bus write batch failed; every job in it gets an error");
                for (reply, result) in done {
                    let _ = reply.send(result.and(Err(err.clone())));
                }
                for job in jobs {
                    let _ = job.reply.send(Err(err.clone()));
                }
            }
        }
    }

    fn commit_state(&mut self, stream: Stream) {
        let announce = stream.last_seq != self.stream.last_seq;
        self.stream = stream;
        if announce {
            self.committed.send_replace(stream.last_seq);
        }
    }

    fn apply(&self, stream: &mut Stream, op: Op) -> Result<Output, BusError> {
        match op {
            Op::Publish(msg) => self.publish(stream, msg).map(Output::Published),
            Op::CreateConsumer(spec) => self.create_consumer(stream, &spec).map(Output::Consumer),
            Op::UpdateConsumer { id, spec } => {
                let doing = format!("updating consumer `{}`", spec.name);
                self.conn
                    .prepare_cached(sql::UPDATE_CONSUMER)
                    .and_then(|mut stmt| {
                        stmt.execute(params![
                            id,
                            encode_filters(&spec.filters),
                            nanos(spec.ack_wait),
                            to_i64(spec.max_ack_pending as u64)
                        ])
                    })
                    .map_err(|e| map(e, &doing))?;
                Ok(Output::Done)
            }
            Op::Ack {
                consumer_id,
                seq,
                floor,
            } => self.ack(consumer_id, seq, floor).map(|()| Output::Done),
            Op::DeleteConsumer(name) => self.delete_consumer(&name).map(Output::Deleted),
            #[cfg(test)]
            Op::Exec(sql) => self
                .conn
                .execute_batch(&sql)
                .map(|()| Output::Done)
                .map_err(|e| map(e, "running test SQL")),
            #[cfg(test)]
            Op::Panic => panic!("a test job panicked on purpose"),
        }
    }

    fn publish(&self, stream: &mut Stream, msg: OutgoingMessage) -> Result<Published, BusError> {
        const DOING: &str = "storing a message";
        let now = now_nanos().max(stream.last_published_at);
        if let Some(id) = &msg.dedup_id {
            let found: Option<(i64, i64)> = self
                .conn
                .prepare_cached(sql::FIND_DEDUP_ID)
                .and_then(|mut stmt| {
                    let mut rows = stmt.query(params![id])?;
                    match rows.next()? {
                        Some(row) => Ok(Some((row.get(0)?, row.get(1)?))),
                        None => Ok(None),
                    }
                })
                .map_err(|e| map(e, "looking up a dedup id"))?;
            if let Some((seq, at)) = found
                && i128::from(now) - i128::from(at) < self.limits.dedup_window.as_nanos() as i128
            {
                return Ok(Published {
                    seq: u64::try_from(seq).unwrap_or(0),
                    duplicate: true,
                });
            }
        }
        let headers = if msg.headers.is_empty() {
            None
        } else {
            Some(
                serde_json::to_string(&msg.headers).map_err(|e| BusError::Internal {
                    reason: format!("cannot encode message headers: {e}"),
                })?,
            )
        };
        let size = (msg.subject.as_str().len()
            + headers.as_ref().map_or(0, String::len)
            + msg.payload.len()) as u64;
        let seq = stream.last_seq + 1;
        self.conn
            .prepare_cached(sql::INSERT_MESSAGE)
            .and_then(|mut stmt| {
                stmt.execute(params![
                    to_i64(seq),
                    now,
                    msg.subject.as_str(),
                    msg.dedup_id,
                    to_i64(size),
                    headers,
                    msg.payload
                ])
            })
            .map_err(|e| map(e, DOING))?;
        stream.last_seq = seq;
        stream.last_published_at = now;
        stream.bytes += size;
        Ok(Published {
            seq,
            duplicate: false,
        })
    }

    fn create_consumer(
        &self,
        stream: &Stream,
        spec: &ConsumerSpec,
    ) -> Result<StoredConsumer, BusError> {
        if let Some(existing) = readers::consumer(&self.conn, &spec.name)? {
            return Ok(existing);
        }
        let floor = match spec.start {
            StartPosition::All => 0,
            StartPosition::New => stream.last_seq,
            StartPosition::AtSequence(seq) => seq.saturating_sub(1),
        };
        let doing = format!("creating consumer `{}`", spec.name);
        self.conn
            .prepare_cached(sql::INSERT_CONSUMER)
            .and_then(|mut stmt| {
                stmt.execute(params![
                    spec.name,
                    encode_filters(&spec.filters),
                    nanos(spec.ack_wait),
                    to_i64(spec.max_ack_pending as u64),
                    to_i64(floor),
                    now_nanos()
                ])
            })
            .map_err(|e| map(e, &doing))?;
        Ok(StoredConsumer {
            id: self.conn.last_insert_rowid(),
            name: spec.name.clone(),
            filters: spec.filters.clone(),
            ack_wait: spec.ack_wait,
            max_ack_pending: spec.max_ack_pending,
            ack_floor: floor,
            acked: Vec::new(),
        })
    }

    fn ack(&self, consumer_id: i64, seq: u64, floor: u64) -> Result<(), BusError> {
        const DOING: &str = "recording an ack";
        let conn = &self.conn;
        let raised = conn
            .prepare_cached(sql::RAISE_ACK_FLOOR)
            .and_then(|mut stmt| stmt.execute(params![consumer_id, to_i64(floor)]))
            .map_err(|e| map(e, DOING))?;
        if raised == 0 {
            // The consumer was deleted meanwhile: there is nothing to record.
            return Ok(());
        }
        if seq > floor {
            conn.prepare_cached(sql::INSERT_ACK)
                .and_then(|mut stmt| stmt.execute(params![consumer_id, to_i64(seq)]))
                .map_err(|e| map(e, DOING))?;
        }
        conn.prepare_cached(sql::PRUNE_ACKS)
            .and_then(|mut stmt| stmt.execute(params![consumer_id, to_i64(floor)]))
            .map_err(|e| map(e, DOING))?;
        Ok(())
    }

    fn delete_consumer(&self, name: &str) -> Result<bool, BusError> {
        let Some(existing) = readers::consumer(&self.conn, name)? else {
            return Ok(false);
        };
        let doing = format!("deleting consumer `{name}`");
        self.conn
            .execute(sql::DELETE_CONSUMER_ACKS, params![existing.id])
            .and_then(|_| {
                self.conn
                    .execute(sql::DELETE_CONSUMER, params![existing.id])
            })
            .map_err(|e| map(e, &doing))?;
        Ok(true)
    }

    // ---- retention -----------------------------------------------------------------------

    /// Removes the oldest messages past `max_messages` and `max_bytes`, never the newest.
    fn enforce_count_and_bytes(&self, stream: &mut Stream) -> Result<(), BusError> {
        if let Some(max) = self.limits.max_messages {
            let count = stream.last_seq + 1 - stream.first_seq;
            if count > max {
                self.remove_before(stream, stream.last_seq + 1 - max)?;
            }
        }
        if let Some(max) = self.limits.max_bytes
            && stream.bytes > max
        {
            let mut cut = stream.first_seq;
            let mut freed = 0;
            'walk: while cut <= stream.last_seq {
                for (seq, _, size) in self.oldest(cut)? {
                    if stream.bytes - freed <= max || seq == stream.last_seq {
                        cut = seq;
                        break 'walk;
                    }
                    freed += size;
                    cut = seq + 1;
                }
            }
            self.remove_before(stream, cut.min(stream.last_seq))?;
        }
        Ok(())
    }

    /// Up to [`RETENTION_CHUNK`] of the oldest messages from `from`: (seq, published_at, size).
    fn oldest(&self, from: u64) -> Result<Vec<(u64, i64, u64)>, BusError> {
        const DOING: &str = "reading the oldest messages";
        let mut stmt = self
            .conn
            .prepare_cached(sql::OLDEST_MESSAGES)
            .map_err(|e| map(e, DOING))?;
        let rows = stmt
            .query_map(params![to_i64(from), RETENTION_CHUNK], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
            .map_err(|e| map(e, DOING))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, at, size) = row.map_err(|e| map(e, DOING))?;
            out.push((
                u64::try_from(seq).unwrap_or(0),
                at,
                u64::try_from(size).unwrap_or(0),
            ));
        }
        if out.is_empty() {
            return Err(BusError::Corrupt {
                what: format!(
                    "messages from {from} should be retained but none were found; the stream state is damaged"
                ),
            });
        }
        Ok(out)
    }

    /// Deletes every message before `cut` and updates the count of retained bytes.
    fn remove_before(&self, stream: &mut Stream, cut: u64) -> Result<(), BusError> {
        if cut <= stream.first_seq {
            return Ok(());
        }
        const DOING: &str = "removing old messages";
        let (_, bytes): (i64, i64) = self
            .conn
            .prepare_cached(sql::SIZE_BEFORE)
            .and_then(|mut stmt| {
                stmt.query_row(params![to_i64(cut)], |row| Ok((row.get(0)?, row.get(1)?)))
            })
            .map_err(|e| map(e, DOING))?;
        self.conn
            .prepare_cached(sql::DELETE_BEFORE)
            .and_then(|mut stmt| stmt.execute(params![to_i64(cut)]))
            .map_err(|e| map(e, DOING))?;
        stream.bytes = stream
            .bytes
            .saturating_sub(u64::try_from(bytes).unwrap_or(0));
        stream.first_seq = cut;
        Ok(())
    }

    fn store_stream(&self, stream: &Stream) -> Result<(), BusError> {
        self.conn
            .prepare_cached(sql::UPDATE_STREAM)
            .and_then(|mut stmt| {
                stmt.execute(params![
                    to_i64(stream.last_seq),
                    stream.last_published_at,
                    to_i64(stream.bytes)
                ])
            })
            .map(|_| ())
            .map_err(|e| map(e, "updating the stream state"))
    }

    /// Removes messages older than `max_age`, in its own transaction (only when some are).
    fn sweep(&mut self) {
        let Some(max_age) = self.limits.max_age else {
            return;
        };
        let cutoff = i128::from(now_nanos()) - max_age.as_nanos() as i128;
        let mut stream = self.stream;
        let mut cut = stream.first_seq;
        let result: Result<bool, BusError> = (|| {
            'walk: while cut <= stream.last_seq && cut - stream.first_seq < SWEEP_MAX_ROWS {
                for (seq, at, _) in self.oldest(cut)? {
                    if i128::from(at) >= cutoff {
                        break 'walk;
                    }
                    cut = seq + 1;
                }
            }
            if cut == stream.first_seq {
                return Ok(false);
            }
            self.rollback();
            self.conn
                .execute_batch(sql::BEGIN)
                .map_err(|e| map(e, "starting a retention transaction"))?;
            self.remove_before(&mut stream, cut)?;
            self.store_stream(&stream)?;
            self.conn
                .execute_batch(sql::COMMIT)
                .map_err(|e| map(e, "committing a retention sweep"))?;
            Ok(true)
        })();
        match result {
            Ok(true) => {
                tracing::debug!(removed_before = cut, "expired bus messages removed");
                self.commit_state(stream);
            }
            Ok(false) => {}
            Err(e) => {
                self.rollback();
                tracing::warn!(error = %e, "removing expired bus messages failed; the next sweep tries again");
            }
        }
    }

    fn rollback(&self) {
        if !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch(sql::ROLLBACK)
        {
            tracing::warn!(error = %e, "rolling back a failed bus write failed");
        }
    }
}

/// Takes `first` and every job already queued (up to [`MAX_BATCH`]). When the previous batch
/// had several jobs, their callers are likely to send more right after their answer, so it
/// waits up to [`LINGER`] for about as many: a little latency buys far fewer fsyncs. A lone
/// publisher (previous batch of one) never waits.
fn gather(jobs: &mpsc::Receiver<Job>, first: Job, previous: usize) -> Vec<Job> {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    batch.push(first);
    let want = previous.min(MAX_BATCH);
    let until = Instant::now() + LINGER;
    while batch.len() < MAX_BATCH {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) if batch.len() < want => {
                match jobs.recv_timeout(until.saturating_duration_since(Instant::now())) {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            Err(_) => break,
        }
    }
    batch
}

/// How often expired messages are looked for: a tenth of `max_age`, between 10 ms and 1 s.
fn sweep_interval(max_age: Duration) -> Duration {
    (max_age / 10).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

pub(crate) fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
